/*
 * exec/box/sched.c: CPU time mechanisms that are not cgroup files:
 * SCHED_DEADLINE reservations (myco__sched_setattr, reset-on-fork) and the
 * online CPU mask used to decide whether a pinned partition can still be a
 * deadline task.  Async-signal-safe: the spawned child calls
 * myco__box_sched_deadline() before exec.
 * Also the admission arithmetic of a whole system's reservations
 * (myco__box_dl_admit), so that a set the kernel would refuse one by one is
 * refused before anything starts, with the sums shown.
 * Not for: CFS quota and cpusets (cgroup.c), frame windows (frame.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "myco/common.h"
#include "box_int.h"
#include "myco_int.h"

int myco__box_sched_deadline(pid_t tid, uint64_t runtime_ns,
			     uint64_t deadline_ns, uint64_t period_ns)
{
	struct myco__sched_attr a = {
		.sched_policy = SCHED_DEADLINE,
		.sched_flags = SCHED_FLAG_RESET_ON_FORK,
		.sched_runtime = runtime_ns,
		.sched_deadline = deadline_ns,
		.sched_period = period_ns,
	};

	return myco__sched_setattr(tid, &a, 0);
}

int myco__box_deadline_drop(pid_t tid)
{
	struct myco__sched_attr a = { .sched_policy = SCHED_OTHER };

	if (tid <= 0)
		return -EINVAL;
	return myco__sched_setattr(tid, &a, 0);
}

int myco__box_threads(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	long n;
	int fd, rc;
	ssize_t got;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, sizeof(buf) - 1);
	rc = got < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	buf[got] = 0;
	/* "pid (comm) state ..." : comm may hold spaces and parentheses, so
	 * count fields from the last ')'; num_threads is field 20 */
	p = strrchr(buf, ')');
	if (!p)
		return -EPROTO;
	for (int field = 2; field < 20; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EPROTO;
	}
	n = strtol(p + 1, NULL, 10);
	return n > 0 && n < INT32_MAX ? (int)n : -EPROTO;
}

int myco__box_deadline_apply(pid_t tid, uint64_t runtime_ns,
			     uint64_t period_ns)
{
	if (tid <= 0 || !runtime_ns || runtime_ns > period_ns)
		return -EINVAL;
	return myco__box_sched_deadline(tid, runtime_ns, period_ns, period_ns);
}

uint64_t myco__box_online_mask(void)
{
	cpu_set_t set;
	uint64_t m = 0;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* The online CPUs as the caller may use them: its own affinity. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int i = 0; i < 64; i++)
			if (CPU_ISSET(i, &set))
				m |= 1ull << i;
		return m;
	}
	for (long i = 0; i < n && i < 64; i++)
		m |= 1ull << i;
	return m;
}

/* ---- admission ------------------------------------------------------- */

static long read_long(const char *path, long dflt)
{
	char b[64];
	FILE *f = fopen(path, "re");
	if (!f)
		return dflt;
	long v = fgets(b, sizeof(b), f) ? strtol(b, NULL, 10) : dflt;
	fclose(f);
	return v;
}

int myco__box_dl_host(struct myco__box_dl_host *h)
{
	h->rt_runtime_us = read_long("/proc/sys/kernel/sched_rt_runtime_us", 950000);
	h->rt_period_us = read_long("/proc/sys/kernel/sched_rt_period_us", 1000000);
	h->online_mask = myco__box_online_mask();
	h->ncpus = (unsigned)__builtin_popcountll(h->online_mask);
	if (!h->ncpus)
		h->ncpus = 1;
	return 0;
}

__attribute__((format(printf, 4, 5)))
static void cat(char *msg, size_t cap, size_t *len, const char *fmt, ...)
{
	if (*len >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
	if (*len >= cap)
		*len = cap - 1;
}

/* "500 us", "6.5 ms", "1 s" */
static void fmt_dur(char *b, size_t cap, uint64_t ns)
{
	if (ns >= 1000000000ull && ns % 100000000ull == 0)
		snprintf(b, cap, "%g s", (double)ns / 1e9);
	else if (ns >= 1000000ull && ns % 1000ull == 0)
		snprintf(b, cap, "%g ms", (double)ns / 1e6);
	else if (ns % 1000ull == 0)
		snprintf(b, cap, "%g us", (double)ns / 1e3);
	else
		snprintf(b, cap, "%llu ns", (unsigned long long)ns);
}

int myco__box_dl_admit(const struct myco__box_resv *r, size_t n,
		       const struct myco__box_dl_host *h, char *msg, size_t cap)
{
	size_t len = 0;
	double sum = 0;

	if (!cap)
		return -EINVAL;
	msg[0] = 0;
	for (size_t i = 0; i < n; i++) {
		char rt[32], per[32];
		double u = r[i].period_ns ? (double)r[i].runtime_ns / (double)r[i].period_ns : 0;
		fmt_dur(rt, sizeof(rt), r[i].runtime_ns);
		fmt_dur(per, sizeof(per), r[i].period_ns);
		cat(msg, cap, &len, "  %-16s %10s / %-10s = %.3f\n", r[i].name, rt, per, u);
		sum += u;
	}
	if (h->rt_runtime_us < 0) {
		cat(msg, cap, &len, "  %-16s %25s = %.3f (kernel.sched_rt_runtime_us -1: "
		    "no limit)\n", "sum", "", sum);
		return 0;
	}
	double per_cpu = h->rt_period_us > 0 ? (double)h->rt_runtime_us / (double)h->rt_period_us : 0;
	double limit = per_cpu * h->ncpus;
	bool ok = sum <= limit + 1e-9;
	cat(msg, cap, &len, "  %-16s %25s = %.3f %s %.3f x %u CPU%s = %.3f "
	    "(kernel.sched_rt_runtime_us %ld / sched_rt_period_us %ld)\n",
	    "sum", "", sum, ok ? "<=" : ">", per_cpu, h->ncpus, h->ncpus == 1 ? "" : "s",
	    limit, h->rt_runtime_us, h->rt_period_us);
	return ok ? 0 : -MYCO_EADMISSION;
}
