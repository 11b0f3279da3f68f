/*
 * exec/box/shield.c: shielded cores while a system runs: every other task
 * (user processes and the kernel threads that may move) gets the shielded
 * CPUs removed from its affinity, device interrupts are steered off them
 * (/proc/irq/N/smp_affinity_list), unbound kernel work queues too
 * (/sys/devices/virtual/workqueue/cpumask), and timers stay on the CPU that
 * armed them (kernel.timer_migration 0).  Everything changed is first
 * written to a state file, so that a restore after a clean stop, or after
 * kill -9 of the executive at its next start, puts each thing back, but
 * only where nobody changed it since.  What cannot be done at run time
 * (the scheduler tick, RCU callbacks, per-CPU kernel threads) is reported
 * with the boot parameters that would do it.
 * Also cache allocation through resctrl for a partition's processes.
 * Not for: pinning the partitions themselves onto shielded cores (spawn.c,
 * cgroup.c do that from `cores N`).
 *
 * State file (text, one record per line; parsed by
 * myco__box_shield_parse_line, fuzzed):
 *   myco-shield 1 <mask hex>
 *   task <pid> <starttime> <orig mask hex> <set mask hex>
 *   irq <n> <orig list>
 *   wq <orig mask>
 *   timer_migration <orig value>
 */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "myco/common.h"
#include "box_int.h"

#define ROOT_MAX 256

/* Tests point the /proc and /sys paths of IRQs, work queues and sysctl at
 * a fake tree; tasks are always the real ones. */
static char g_root[ROOT_MAX] = "";

static pid_t g_scope_sid;

void myco__box_shield_set_root(const char *root, pid_t scope_sid)
{
	snprintf(g_root, sizeof(g_root), "%s", root ? root : "");
	g_scope_sid = scope_sid;
}

static int path_of(char *out, size_t cap, const char *rel)
{
	int n = snprintf(out, cap, "%s%s", g_root, rel);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = 0;
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return (int)n;
}

static int write_small(const char *path, const char *s)
{
	/* O_TRUNC: nothing to procfs and sysfs, needed for a test's files */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

/* ---- CPU lists and masks (CPUs 0-63) ----------------------------------- */

int myco__box_cpulist_parse_mask(const char *s, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = s;
	if (!s)
		return -EINVAL;
	while (*p == ' ')
		p++;
	if (!*p) {
		*mask = 0;
		return 0;
	}
	for (;;) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		unsigned long a = strtoul(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > b || b > 63)
			return -ERANGE;
		for (unsigned long i = a; i <= b; i++)
			m |= 1ull << i;
		if (!*p)
			break;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	*mask = m;
	return 0;
}

void myco__box_cpulist_format(uint64_t m, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < 64 && len < cap;) {
		if (!(m & (1ull << i))) {
			i++;
			continue;
		}
		int j = i;
		while (j + 1 < 64 && (m & (1ull << (j + 1))))
			j++;
		int n = j > i ? snprintf(out + len, cap - len, "%s%d-%d", len ? "," : "", i, j)
			      : snprintf(out + len, cap - len, "%s%d", len ? "," : "", i);
		if (n < 0)
			break;
		len += (size_t)n;
		i = j + 1;
	}
	if (len >= cap && cap)
		out[cap - 1] = 0;
}

/* ---- state file records --------------------------------------------------- */

int myco__box_shield_parse_line(const char *line, struct myco__box_shield_rec *r)
{
	char kind[24], a[80], b[80], c[80], d[80], extra[8];
	memset(r, 0, sizeof(*r));
	if (strnlen(line, 201) > 200)
		return -EINVAL;
	int n = sscanf(line, "%23s %79s %79s %79s %79s %7s", kind, a, b, c, d, extra);
	if (n < 2 || n > 5)
		return -EINVAL;
	char *end;
	errno = 0;
	if (!strcmp(kind, "myco-shield") && n == 3) {
		r->kind = MYCO__SHIELD_REC_HEADER;
		r->n = strtoul(a, &end, 10);
		if (*end || r->n != 1)
			return -EPROTO;
		r->orig = strtoull(b, &end, 16);
		return *end || errno ? -EINVAL : 0;
	}
	if (!strcmp(kind, "task") && n == 5) {
		r->kind = MYCO__SHIELD_REC_TASK;
		long pid = strtol(a, &end, 10);
		if (*end || pid <= 0 || pid > 0x3fffffff)
			return -EINVAL;
		r->n = (unsigned long)pid;
		r->start = strtoull(b, &end, 10);
		if (*end || errno)
			return -EINVAL;
		r->orig = strtoull(c, &end, 16);
		if (*end || errno || !r->orig)
			return -EINVAL;
		r->set = strtoull(d, &end, 16);
		return *end || errno || !r->set ? -EINVAL : 0;
	}
	if (!strcmp(kind, "irq") && n == 3) {
		r->kind = MYCO__SHIELD_REC_IRQ;
		r->n = strtoul(a, &end, 10);
		if (*end || errno || r->n > 65535)
			return -EINVAL;
		uint64_t m;
		if (myco__box_cpulist_parse_mask(b, &m) < 0 || !m)
			return -EINVAL;
		r->orig = m;
		return 0;
	}
	if (!strcmp(kind, "wq") && n == 2) {
		r->kind = MYCO__SHIELD_REC_WQ;
		r->orig = strtoull(a, &end, 16);
		return *end || errno || !r->orig ? -EINVAL : 0;
	}
	if (!strcmp(kind, "timer_migration") && n == 2) {
		r->kind = MYCO__SHIELD_REC_TIMER;
		r->n = strtoul(a, &end, 10);
		return *end || r->n > 1 ? -EINVAL : 0;
	}
	return -EINVAL;
}

/* ---- report --------------------------------------------------------------- */

static void item(struct myco__box_shield_report *rep, const char *name,
		 enum myco__box_state st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void item(struct myco__box_shield_report *rep, const char *name,
		 enum myco__box_state st, const char *fmt, ...)
{
	if (!rep || rep->n >= MYCO__SHIELD_ITEMS)
		return;
	struct myco__box_shield_item *it = &rep->items[rep->n++];
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->state = st;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
}

/* ---- tasks ------------------------------------------------------------------ */

/* Field `want` (22: starttime, 6: session) of /proc/pid/stat; 0 if gone. */
static unsigned long long stat_field(pid_t pid, int want)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long v = 0;
	/* after ") ": state is field 3; starttime is field 22 */
	int field = 2;
	for (char *q = p + 1; *q; q++) {
		if (*q == ' ') {
			field++;
			if (field == want) {
				v = strtoull(q + 1, NULL, 10);
				break;
			}
		}
	}
	return v;
}

static unsigned long long start_time(pid_t pid)
{
	return stat_field(pid, 22);
}

static uint64_t set_to_mask(const cpu_set_t *s)
{
	uint64_t m = 0;
	for (int i = 0; i < 64; i++)
		if (CPU_ISSET(i, s))
			m |= 1ull << i;
	return m;
}

static void mask_to_set(uint64_t m, cpu_set_t *s)
{
	CPU_ZERO(s);
	for (int i = 0; i < 64; i++)
		if (m & (1ull << i))
			CPU_SET(i, s);
}

static bool keep_pid(const pid_t *keep, size_t nkeep, pid_t pid)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == pid)
			return true;
	return false;
}

/* Every thread of every process: narrow its affinity by `mask`. */
static void shield_tasks(FILE *st, uint64_t mask, const pid_t *keep, size_t nkeep,
			 struct myco__box_shield_report *rep)
{
	unsigned moved = 0, pinned = 0, failed = 0, gone = 0;
	DIR *d = opendir("/proc");
	if (!d) {
		item(rep, "tasks", MYCO__BOX_DEGRADED, "cannot list /proc: %s", strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t tgid = (pid_t)atoi(e->d_name);
		if (keep_pid(keep, nkeep, tgid))
			continue;
		if (g_scope_sid && stat_field(tgid, 6) != (unsigned long long)g_scope_sid)
			continue;
		char tp[64];
		snprintf(tp, sizeof(tp), "/proc/%d/task", (int)tgid);
		DIR *td = opendir(tp);
		if (!td)
			continue;
		struct dirent *t;
		while ((t = readdir(td))) {
			if (!isdigit((unsigned char)t->d_name[0]))
				continue;
			pid_t tid = (pid_t)atoi(t->d_name);
			cpu_set_t cs;
			if (sched_getaffinity(tid, sizeof(cs), &cs) < 0) {
				gone++;
				continue;
			}
			uint64_t orig = set_to_mask(&cs);
			if (!(orig & mask))
				continue;
			uint64_t want = orig & ~mask;
			if (!want) {
				pinned++; /* lives only on shielded CPUs: leave it */
				continue;
			}
			unsigned long long stt = start_time(tid);
			/* record first: a crash between the two leaves a record
			 * whose "set" mask does not match, which restore skips */
			fprintf(st, "task %d %llu %llx %llx\n", (int)tid, stt,
				(unsigned long long)orig, (unsigned long long)want);
			fflush(st);
			mask_to_set(want, &cs);
			if (sched_setaffinity(tid, sizeof(cs), &cs) == 0)
				moved++;
			else if (errno == ESRCH)
				gone++;
			else
				failed++; /* per-CPU kernel threads: EINVAL */
		}
		closedir(td);
	}
	closedir(d);
	item(rep, "tasks", failed ? MYCO__BOX_DEGRADED : MYCO__BOX_APPLIED,
	     "%u threads moved off; %u could not move (per-CPU kernel threads: boot "
	     "isolcpus=domain,managed_irq,<cpus>); %u left (allowed only there)",
	     moved, failed, pinned);
	(void)gone;
}

/* ---- IRQs --------------------------------------------------------------------- */

static void shield_irqs(FILE *st, uint64_t mask, struct myco__box_shield_report *rep)
{
	char p[512];
	unsigned moved = 0, failed = 0;
	path_of(p, sizeof(p), "/proc/irq");
	DIR *d = opendir(p);
	if (!d) {
		item(rep, "irqs", MYCO__BOX_DEGRADED, "cannot list /proc/irq: %s", strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char f[800], cur[128], want[128];
		snprintf(f, sizeof(f), "%s/%s/smp_affinity_list", p, e->d_name);
		uint64_t m;
		if (read_small(f, cur, sizeof(cur)) <= 0 ||
		    myco__box_cpulist_parse_mask(cur, &m) < 0 || !(m & mask))
			continue;
		if (!(m & ~mask))
			continue; /* only allowed on shielded CPUs: leave it */
		fprintf(st, "irq %s %s\n", e->d_name, cur);
		fflush(st);
		myco__box_cpulist_format(m & ~mask, want, sizeof(want));
		if (write_small(f, want) == 0)
			moved++;
		else
			failed++; /* managed or per-CPU interrupts: EIO */
	}
	closedir(d);
	item(rep, "irqs", failed ? MYCO__BOX_DEGRADED : MYCO__BOX_APPLIED,
	     "%u interrupts steered off; %u refused (managed or per-CPU: boot "
	     "irqaffinity=<housekeeping cpus> isolcpus=managed_irq,<cpus>)", moved, failed);
}

/* ---- unbound work queues, timers -------------------------------------------- */

static void shield_wq(FILE *st, uint64_t mask, struct myco__box_shield_report *rep)
{
	char f[512], cur[64], want[64];
	path_of(f, sizeof(f), "/sys/devices/virtual/workqueue/cpumask");
	if (read_small(f, cur, sizeof(cur)) <= 0) {
		item(rep, "workqueues", MYCO__BOX_DEGRADED, "no %s", f);
		return;
	}
	char *end;
	uint64_t m = strtoull(cur, &end, 16);
	if (*end || !(m & ~mask)) {
		item(rep, "workqueues", MYCO__BOX_DEGRADED, "unusable cpumask '%s'", cur);
		return;
	}
	if (!(m & mask)) {
		item(rep, "workqueues", MYCO__BOX_APPLIED, "already off the shielded CPUs");
		return;
	}
	fprintf(st, "wq %llx\n", (unsigned long long)m);
	fflush(st);
	snprintf(want, sizeof(want), "%llx", (unsigned long long)(m & ~mask));
	int rc = write_small(f, want);
	if (rc)
		item(rep, "workqueues", MYCO__BOX_DEGRADED, "write %s: %s", want, strerror(-rc));
	else
		item(rep, "workqueues", MYCO__BOX_APPLIED, "unbound work queues on mask %s", want);
}

static void shield_timers(FILE *st, struct myco__box_shield_report *rep)
{
	char f[512], cur[16];
	path_of(f, sizeof(f), "/proc/sys/kernel/timer_migration");
	if (read_small(f, cur, sizeof(cur)) <= 0) {
		item(rep, "timers", MYCO__BOX_DEGRADED, "no kernel.timer_migration");
		return;
	}
	if (!strcmp(cur, "0")) {
		item(rep, "timers", MYCO__BOX_APPLIED, "timer_migration already 0");
		return;
	}
	fprintf(st, "timer_migration %s\n", cur);
	fflush(st);
	int rc = write_small(f, "0");
	if (rc)
		item(rep, "timers", MYCO__BOX_DEGRADED, "timer_migration: %s", strerror(-rc));
	else
		item(rep, "timers", MYCO__BOX_APPLIED, "timer_migration 0 (timers stay where armed)");
}

/* What only the boot command line can do, given what it already did. */
static void boot_advice(uint64_t mask, struct myco__box_shield_report *rep)
{
	char list[128], cmd[4096] = "", p[512], v[256];
	myco__box_cpulist_format(mask, list, sizeof(list));
	path_of(p, sizeof(p), "/proc/cmdline");
	read_small(p, cmd, sizeof(cmd));
	uint64_t m;
	path_of(p, sizeof(p), "/sys/devices/system/cpu/nohz_full");
	bool nohz = read_small(p, v, sizeof(v)) > 0 &&
		    myco__box_cpulist_parse_mask(v, &m) == 0 && (m & mask) == mask;
	bool rcu = strstr(cmd, "rcu_nocbs=") != NULL;
	item(rep, "tick", nohz ? MYCO__BOX_APPLIED : MYCO__BOX_DEGRADED,
	     nohz ? "nohz_full covers the shielded CPUs" :
	     "the scheduler tick still runs there: boot nohz_full=%s", list);
	item(rep, "rcu", rcu ? MYCO__BOX_APPLIED : MYCO__BOX_DEGRADED,
	     rcu ? "rcu_nocbs given at boot" :
	     "RCU callbacks still run there: boot rcu_nocbs=%s (cannot change at run time)", list);
}

int myco__box_shield_apply(const char *state_path, uint64_t mask, const pid_t *keep,
			   size_t nkeep, struct myco__box_shield_report *rep)
{
	if (rep)
		memset(rep, 0, sizeof(*rep));
	uint64_t online = myco__box_online_mask();
	if (!mask || !state_path)
		return -EINVAL;
	if ((mask & online) != mask)
		return -ERANGE;
	if (!(online & ~mask))
		return -EDOM; /* nothing left for housekeeping */
	int fd = open(state_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno; /* -EEXIST: restore the previous shield first */
	FILE *st = fdopen(fd, "w");
	if (!st) {
		int e = errno;
		close(fd);
		unlink(state_path);
		return -e;
	}
	fprintf(st, "myco-shield 1 %llx\n", (unsigned long long)mask);
	fflush(st);
	shield_tasks(st, mask, keep, nkeep, rep);
	shield_irqs(st, mask, rep);
	shield_wq(st, mask, rep);
	shield_timers(st, rep);
	boot_advice(mask, rep);
	fsync(fileno(st));
	fclose(st);
	return 0;
}

int myco__box_shield_restore(const char *state_path, struct myco__box_shield_report *rep)
{
	if (rep)
		memset(rep, 0, sizeof(*rep));
	FILE *st = fopen(state_path, "re");
	if (!st)
		return -errno;
	char line[256];
	unsigned tasks = 0, tasks_skipped = 0, irqs = 0, irqs_failed = 0, bad = 0;
	bool header = false;
	while (fgets(line, sizeof(line), st)) {
		struct myco__box_shield_rec r;
		line[strcspn(line, "\n")] = 0;
		if (myco__box_shield_parse_line(line, &r) < 0 ||
		    (!header && r.kind != MYCO__SHIELD_REC_HEADER)) {
			bad++;
			continue;
		}
		char p[512], buf[128];
		cpu_set_t cs;
		switch (r.kind) {
		case MYCO__SHIELD_REC_HEADER:
			header = true;
			break;
		case MYCO__SHIELD_REC_TASK:
			/* only the same thread, still as we left it */
			if (start_time((pid_t)r.n) != r.start ||
			    sched_getaffinity((pid_t)r.n, sizeof(cs), &cs) < 0 ||
			    set_to_mask(&cs) != r.set) {
				tasks_skipped++;
				break;
			}
			mask_to_set(r.orig, &cs);
			if (sched_setaffinity((pid_t)r.n, sizeof(cs), &cs) == 0)
				tasks++;
			else
				tasks_skipped++;
			break;
		case MYCO__SHIELD_REC_IRQ:
			snprintf(buf, sizeof(buf), "%lu", r.n);
			path_of(p, sizeof(p), "/proc/irq/");
			strncat(p, buf, sizeof(p) - strlen(p) - 1);
			strncat(p, "/smp_affinity_list", sizeof(p) - strlen(p) - 1);
			myco__box_cpulist_format(r.orig, buf, sizeof(buf));
			char cur[128];
			uint64_t m;
			/* refused when shielding (managed): already as it was */
			if ((read_small(p, cur, sizeof(cur)) > 0 &&
			     myco__box_cpulist_parse_mask(cur, &m) == 0 && m == r.orig) ||
			    write_small(p, buf) == 0)
				irqs++;
			else
				irqs_failed++;
			break;
		case MYCO__SHIELD_REC_WQ:
			path_of(p, sizeof(p), "/sys/devices/virtual/workqueue/cpumask");
			snprintf(buf, sizeof(buf), "%llx", (unsigned long long)r.orig);
			item(rep, "workqueues", write_small(p, buf) == 0 ? MYCO__BOX_APPLIED
									: MYCO__BOX_DEGRADED,
			     "cpumask %s restored", buf);
			break;
		case MYCO__SHIELD_REC_TIMER:
			path_of(p, sizeof(p), "/proc/sys/kernel/timer_migration");
			snprintf(buf, sizeof(buf), "%lu", r.n);
			item(rep, "timers", write_small(p, buf) == 0 ? MYCO__BOX_APPLIED
								 : MYCO__BOX_DEGRADED,
			     "timer_migration %s restored", buf);
			break;
		}
	}
	fclose(st);
	item(rep, "tasks", MYCO__BOX_APPLIED,
	     "%u threads given their affinity back; %u gone or changed since (left as they are)",
	     tasks, tasks_skipped);
	item(rep, "irqs", irqs_failed ? MYCO__BOX_DEGRADED : MYCO__BOX_APPLIED,
	     "%u interrupts restored, %u refused", irqs, irqs_failed);
	if (bad)
		item(rep, "state", MYCO__BOX_DEGRADED, "%u unreadable lines skipped", bad);
	if (!header)
		return -EPROTO;
	if (unlink(state_path) < 0)
		return -errno;
	return 0;
}

/* ---- cache allocation (resctrl) ---------------------------------------------- */

int myco__box_cache_ways(const char *system, const char *part, unsigned ways,
			 const pid_t *pids, size_t npids, char *detail, size_t cap)
{
	char p[512], cbm[64];
	path_of(p, sizeof(p), "/sys/fs/resctrl/info/L3/cbm_mask");
	if (read_small(p, cbm, sizeof(cbm)) <= 0) {
		snprintf(detail, cap, "no resctrl cache allocation here (CPU without CAT, or "
			 "resctrl not mounted): the partition shares the last-level cache");
		return -ENOTSUP;
	}
	char *end;
	unsigned long long full = strtoull(cbm, &end, 16);
	unsigned have = (unsigned)__builtin_popcountll(full);
	if (*end || !full || !ways || ways > have) {
		snprintf(detail, cap, "cache ways %u: this cache has %u", ways, have);
		return -ERANGE;
	}
	/* the lowest `ways` ways; partitions of one system overlap unless the
	 * system file gives them disjoint counts that fit (checked there) */
	unsigned long long want = ((1ull << ways) - 1) << __builtin_ctzll(full);
	char dir[512], grp[160];
	snprintf(grp, sizeof(grp), "/sys/fs/resctrl/myco-%s-%s", system, part);
	path_of(dir, sizeof(dir), grp);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(detail, cap, "mkdir %s: %s", dir, strerror(errno));
		return -errno;
	}
	char f[600], v[96];
	snprintf(f, sizeof(f), "%s/schemata", dir);
	snprintf(v, sizeof(v), "L3:0=%llx\n", want);
	int rc = write_small(f, v);
	for (size_t i = 0; rc == 0 && i < npids; i++) {
		snprintf(f, sizeof(f), "%s/tasks", dir);
		snprintf(v, sizeof(v), "%d", (int)pids[i]);
		rc = write_small(f, v);
	}
	if (rc)
		snprintf(detail, cap, "resctrl %s: %s", dir, strerror(-rc));
	else
		snprintf(detail, cap, "%u of %u cache ways (L3 mask %llx)", ways, have, want);
	return rc;
}
