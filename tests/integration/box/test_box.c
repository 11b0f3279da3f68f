/*
 * tests/integration/box/test_box.c: the partition box, end to end.  Spawns
 * real boxed processes (box_probe, given as argv[1]) and checks each
 * mechanism from outside (/proc/<pid>/ns, cgroup accounting, wait status)
 * and from inside (the probe's report of /proc/self/status, hostname,
 * mount view, fds).  CPU budgets and frame windows are measured from CPU
 * time accounting against elapsed time with wide margins (only an upper
 * bound is asserted: a loaded machine can only lower the ratio).
 * Root-only cases skip (with the reason) when not root; the non-root case
 * re-runs this binary under setpriv as uid 65534 and checks that every
 * mechanism it cannot apply is reported degraded.
 * Not for: the executive's supervision (tests/integration/exec).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "box.h"
#include "myco/common.h"

static const char *probe;       /* path of box_probe */
static const char *self_path;   /* this test binary */
static const char *probe_shared;/* needs a library via its run path */
static char sysname[32];        /* unique per run: cgroups myco/<sysname> */

struct run {
	pid_t pid;
	int pidfd;
	int out;                    /* read end of the probe's stdout */
	myco__box_report_t r;
	char part[32];
	char violations[256];       /* names, comma separated */
};


static void spec_for(myco__box_spec_t *s, const char *part,
		     const char *const *argv)
{
	myco__box_spec_init(s);
	s->system = sysname;
	s->partition = part;
	s->path = probe;
	s->argv = argv;
}

/* Spawn the probe with stdout (and stderr) on a pipe. */
static int start(struct run *run, myco__box_spec_t *s)
{
	int p[2], rc;
	struct myco__box_fd fds[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fds[0] = (struct myco__box_fd){ .fd = p[1], .target = 1 };
	fds[1] = (struct myco__box_fd){ .fd = p[1], .target = 2 };
	s->fds = fds;
	s->nfds = 2;
	snprintf(run->part, sizeof(run->part), "%s", s->partition);
	run->violations[0] = '\0';
	rc = myco__box_spawn(s, &run->r, &run->pid, &run->pidfd);
	close(p[1]);
	s->fds = NULL;
	s->nfds = 0;
	if (rc < 0) {
		close(p[0]);
		run->out = -1;
		return rc;
	}
	run->out = p[0];
	return 0;
}

/* Read the probe's output until EOF (or timeout), answering seccomp
 * violations with DENY(deny_err) (or KILL when deny_err < 0). */
static size_t collect(struct run *run, char *buf, size_t cap, int deny_err)
{
	size_t len = 0;
	uint64_t end = myco_now() + 10ull * 1000000000ull;

	buf[0] = '\0';
	while (myco_now() < end) {
		struct pollfd p[2] = {
			{ .fd = run->out, .events = POLLIN },
			{ .fd = run->r.seccomp_fd, .events = POLLIN },
		};
		int n = poll(p, run->r.seccomp_fd >= 0 ? 2 : 1, 200);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (run->r.seccomp_fd >= 0 && (p[1].revents & POLLIN)) {
			struct myco__box_violation v;

			if (myco__box_violation_read(run->r.seccomp_fd, &v) == 0) {
				strncat(run->violations, v.name,
					sizeof(run->violations) -
					strlen(run->violations) - 2);
				strcat(run->violations, ",");
				myco__box_violation_respond(run->r.seccomp_fd, &v,
					deny_err < 0 ? MYCO__BOX_KILL : MYCO__BOX_DENY,
					deny_err < 0 ? 0 : deny_err);
			}
		}
		if (p[0].revents) {
			ssize_t k = read(run->out, buf + len, cap - len - 1);

			if (k <= 0)
				break;
			len += (size_t)k;
			buf[len] = '\0';
		}
	}
	return len;
}

static int finish(struct run *run)
{
	int st = -1;

	if (run->pid > 0) {
		waitpid(run->pid, &st, 0);
		run->pid = 0;
	}
	if (run->out >= 0)
		close(run->out);
	if (run->pidfd >= 0)
		close(run->pidfd);
	if (run->r.seccomp_fd >= 0)
		close(run->r.seccomp_fd);
	run->out = run->pidfd = run->r.seccomp_fd = -1;
	myco__box_destroy(sysname, run->part, NULL);
	return st;
}

static void kill_finish(struct run *run)
{
	if (run->pid > 0)
		kill(run->pid, SIGKILL);
	finish(run);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int is_root(void)
{
	return geteuid() == 0;
}

#define NEED_ROOT()                                                        \
	do {                                                               \
		if (!is_root()) {                                          \
			print_message("skipped: needs root\n");            \
			skip();                                            \
		}                                                          \
	} while (0)

static void ns_link(pid_t pid, const char *ns, char *out, size_t cap)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	n = readlink(path, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

static const char *line_val(const char *buf, const char *key, char *out,
			    size_t cap)
{
	size_t kl = strlen(key);

	for (const char *p = buf; p && *p; ) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *e = strchr(p, '\n');
			size_t n = e ? (size_t)(e - p - kl - 1) : strlen(p + kl + 1);

			if (n >= cap)
				n = cap - 1;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return out;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	out[0] = '\0';
	return NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_namespaces_and_privs(void **state)
{
	const char *argv[] = { "box_probe", "wait", NULL };
	static const char *const nss[] = { "pid", "mnt", "ipc", "uts", "net" };
	myco__box_spec_t s;
	struct run run;
	char buf[4096], a[128], b[128], v[64];
	int p[2];
	struct myco__box_fd fds[3];

	(void)state;
	NEED_ROOT();
	spec_for(&s, "ns", argv);
	/* stdin is a pipe we hold, so the probe waits */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	{
		int o[2];

		assert_int_equal(pipe2(o, O_CLOEXEC), 0);
		fds[0] = (struct myco__box_fd){ .fd = p[0], .target = 0 };
		fds[1] = (struct myco__box_fd){ .fd = o[1], .target = 1 };
		fds[2] = (struct myco__box_fd){ .fd = o[1], .target = 2 };
		s.fds = fds;
		s.nfds = 3;
		snprintf(run.part, sizeof(run.part), "ns");
		assert_int_equal(myco__box_spawn(&s, &run.r, &run.pid,
						 &run.pidfd), 0);
		close(o[1]);
		close(p[0]);
		run.out = o[0];
	}
	/* from outside: every namespace differs from ours */
	for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
		ns_link(getpid(), nss[i], a, sizeof(a));
		ns_link(run.pid, nss[i], b, sizeof(b));
		assert_true(a[0] && b[0]);
		if (!strcmp(a, b))
			fail_msg("namespace %s not separate: %s", nss[i], a);
		assert_int_equal(run.r.m[MYCO__BOX_PIDNS + i].state,
				 MYCO__BOX_APPLIED);
	}
	/* from /proc/<pid>/status: seccomp mode 2, no_new_privs, no caps */
	{
		char path[64], line[256];
		FILE *f;
		int seen = 0;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)run.pid);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Seccomp:", 8)) {
				assert_non_null(strstr(line, "2"));
				seen++;
			} else if (!strncmp(line, "NoNewPrivs:", 11)) {
				assert_non_null(strstr(line, "1"));
				seen++;
			} else if (!strncmp(line, "CapBnd:", 7)) {
				assert_non_null(strstr(line, "0000000000000000"));
				seen++;
			}
		}
		fclose(f);
		assert_int_equal(seen, 3);
	}
	close(p[1]);            /* EOF: the probe exits */
	collect(&run, buf, sizeof(buf), EPERM);
	assert_non_null(strstr(buf, "waiting"));
	assert_int_equal(finish(&run), 0);
	for (int m = 0; m < MYCO__BOX_MECH_COUNT; m++)
		if (run.r.m[m].state == MYCO__BOX_DEGRADED)
			fail_msg("%s degraded as root: %s",
				 myco__box_mech_name((enum myco__box_mech)m),
				 run.r.m[m].detail);
	(void)v;
}

static void test_inside_view(void **state)
{
	const char *argv[] = { "box_probe", "info", NULL };
	const struct myco__box_rlimit rl[1] = { { RLIMIT_NOFILE, 64, 128 } };
	myco__box_spec_t s;
	struct run run;
	char buf[4096], v[128];

	(void)state;
	NEED_ROOT();
	int fds_before = count_fds();

	spec_for(&s, "inside", argv);
	s.rlimits = rl;
	s.nrlimits = 1;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	/* the executive keeps no fd from a finished spawn */
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(run.r.m[MYCO__BOX_RLIMITS].state, MYCO__BOX_APPLIED);
	assert_string_equal(line_val(buf, "nofile", v, sizeof(v)), "64/128");
	assert_string_equal(line_val(buf, "cwd", v, sizeof(v)), "/");
	assert_string_equal(line_val(buf, "pid", v, sizeof(v)), "1");
	assert_string_equal(line_val(buf, "host", v, sizeof(v)), "inside");
	assert_string_equal(line_val(buf, "Seccomp", v, sizeof(v)), "2");
	assert_string_equal(line_val(buf, "NoNewPrivs", v, sizeof(v)), "1");
	assert_string_equal(line_val(buf, "CapBnd", v, sizeof(v)),
			    "0000000000000000");
	assert_string_equal(line_val(buf, "CapEff", v, sizeof(v)),
			    "0000000000000000");
}

static void test_net_declared(void **state)
{
	const char *argv[] = { "box_probe", "socket", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024], a[128], b[128];

	(void)state;
	NEED_ROOT();
	spec_for(&s, "net", argv);
	s.net = true;
	assert_int_equal(start(&run, &s), 0);
	ns_link(getpid(), "net", a, sizeof(a));
	ns_link(run.pid, "net", b, sizeof(b));
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	/* the socket is allowed: no violation, socket() worked */
	assert_string_equal(run.violations, "");
	assert_non_null(strstr(buf, "errno=0"));
	assert_int_equal(run.r.m[MYCO__BOX_NETNS].state, MYCO__BOX_NOT_REQUESTED);
	if (b[0])
		assert_string_equal(a, b);
}

static void test_seccomp_violation_named(void **state)
{
	const char *argv[] = { "box_probe", "socket", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];

	(void)state;
	spec_for(&s, "seccomp", argv);
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(run.r.m[MYCO__BOX_SECCOMP].state, MYCO__BOX_APPLIED);
	assert_true(run.r.seccomp_fd >= 0);
	collect(&run, buf, sizeof(buf), EACCES);
	assert_int_equal(finish(&run), 0);
	/* reported with its name, denied with the errno we chose */
	assert_string_equal(run.violations, "socket,");
	assert_non_null(strstr(buf, "socket=-1 errno=13"));
}

static void test_seccomp_fork_killed(void **state)
{
	const char *argv[] = { "box_probe", "fork", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];
	int st;

	(void)state;
	spec_for(&s, "fork", argv);
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), -1);     /* verdict KILL */
	st = finish(&run);
	assert_string_equal(run.violations, "clone,");
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
}

static void test_seccomp_kill_action(void **state)
{
	const char *argv[] = { "box_probe", "socket", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];
	int st;

	(void)state;
	spec_for(&s, "sigsys", argv);
	s.seccomp_action = MYCO__BOX_SECCOMP_KILL;
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(run.r.seccomp_fd, -1);
	collect(&run, buf, sizeof(buf), EPERM);
	st = finish(&run);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_extra_syscall_name(void **state)
{
	const char *argv[] = { "box_probe", "info", NULL };
	const char *bad[] = { "no_such_syscall" };
	const char *good[] = { "socket" };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];

	(void)state;
	spec_for(&s, "extra", argv);
	s.allow_syscalls = bad;
	s.nallow_syscalls = 1;
	assert_int_equal(start(&run, &s), -EINVAL);
	assert_int_equal(run.r.failed_step, MYCO__BOX_SECCOMP);
	assert_int_equal(run.pid, 0);

	argv[1] = "socket";
	s.allow_syscalls = good;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_string_equal(run.violations, "");
}

static void test_cpu_pinning(void **state)
{
	const char *argv[] = { "box_probe", "affinity", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[2048], v[64];

	(void)state;
	NEED_ROOT();
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		print_message("skipped: needs 2 CPUs to pin to a subset\n");
		skip();
	}
	spec_for(&s, "pin", argv);
	s.cpu_mask = 1;                     /* CPU 0 only */
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_int_equal(run.r.m[MYCO__BOX_CPU_PIN].state, MYCO__BOX_APPLIED);
	/* widening is allowed by seccomp but bounded by the cpuset */
	assert_string_equal(run.violations, "");
	assert_string_equal(line_val(buf, "Cpus_allowed_list", v, sizeof(v)),
			    "0");
}

static void test_io_uring_policy(void **state)
{
	const char *argv[] = { "box_probe", "uring", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];

	(void)state;
	/* a partition never creates a ring of its own (seccomp cannot see
	 * what it would do): the executive hands restricted ones over */
	spec_for(&s, "uring", argv);
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_string_equal(run.violations, "io_uring_setup,");
	assert_non_null(strstr(buf, "uring=-1 errno=1"));
	s.flags |= MYCO__BOX_F_NO_IO_URING;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_string_equal(run.violations, "io_uring_setup,");
	assert_non_null(strstr(buf, "uring=-1 errno=1"));
}

static void test_memory_oom(void **state)
{
	const char *argv[] = { "box_probe", "alloc", "256", NULL };
	myco__box_spec_t s;
	struct run run;
	struct myco__box_stats st;
	char buf[1024];
	int status;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "oom", argv);
	s.memory_max = 32ull << 20;
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(run.r.m[MYCO__BOX_CG_MEMORY].state, MYCO__BOX_APPLIED);
	collect(&run, buf, sizeof(buf), EPERM);
	waitpid(run.pid, &status, 0);
	run.pid = 0;
	assert_null(strstr(buf, "alloc=done"));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* the executive tells an OOM kill from another SIGKILL by this */
	assert_int_equal(myco__box_stats(sysname, "oom", "main", &st), 0);
	assert_true(st.oom_kills >= 1);
	finish(&run);
}

static void test_memory_within_limit(void **state)
{
	const char *argv[] = { "box_probe", "alloc", "8", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];

	(void)state;
	NEED_ROOT();
	spec_for(&s, "mem-ok", argv);
	s.memory_max = 64ull << 20;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_non_null(strstr(buf, "alloc=done"));
}

/* CPU used by a spinning probe over ~1 s, as a fraction of elapsed time,
 * from the cgroup's CPU accounting (falls back to /proc/<pid>/stat). */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &stime) != 2)
		return 0;
	return (ut + stime) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

static double cpu_share(struct run *run, double seconds)
{
	struct myco__box_stats a, b;
	uint64_t t0, t1, p0, p1;
	struct timespec ts = { (time_t)seconds,
			       (long)((seconds - (double)(time_t)seconds) * 1e9) };
	bool cg;

	/* let it start spinning */
	nanosleep(&(struct timespec){ 0, 200000000 }, NULL);
	cg = myco__box_stats(sysname, run->part, NULL, &a) == 0 && a.cpu_ns;
	p0 = proc_cpu_ns(run->pid);
	t0 = myco_now();
	nanosleep(&ts, NULL);
	t1 = myco_now();
	p1 = proc_cpu_ns(run->pid);
	if (cg && myco__box_stats(sysname, run->part, NULL, &b) == 0) {
		print_message("cpu share %s: cgroup %.3f, /proc %.3f\n", run->part,
			      (double)(b.cpu_ns - a.cpu_ns) / (double)(t1 - t0),
			      (double)(p1 - p0) / (double)(t1 - t0));
		return (double)(b.cpu_ns - a.cpu_ns) / (double)(t1 - t0);
	}
	print_message("cpu share %s: /proc %.3f\n", run->part,
		      (double)(p1 - p0) / (double)(t1 - t0));
	return (double)(p1 - p0) / (double)(t1 - t0);
}

static void test_budget_deadline(void **state)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	struct run run;
	double share;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "budget-dl", argv);
	s.time_mode = MYCO__BOX_TIME_BUDGET;
	s.runtime_ns = 20 * 1000000ull;
	s.period_ns = 100 * 1000000ull;
	assert_int_equal(start(&run, &s), 0);
	if (run.r.m[MYCO__BOX_DEADLINE].state != MYCO__BOX_APPLIED) {
		print_message("sched-deadline not applied: %s\n",
			      run.r.m[MYCO__BOX_DEADLINE].detail);
	}
	assert_int_equal(run.r.m[MYCO__BOX_CG_CPU].state, MYCO__BOX_APPLIED);
	share = cpu_share(&run, 1.0);
	kill_finish(&run);
	/* budget 0.20; generous margin; an unbounded spinner shows ~1.0 */
	assert_true(share < 0.35);
}

static void test_budget_quota_only(void **state)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	struct run run;
	double share;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "budget-q", argv);
	s.want &= ~MYCO__BOX_WANT(MYCO__BOX_DEADLINE);
	s.time_mode = MYCO__BOX_TIME_BUDGET;
	s.runtime_ns = 20 * 1000000ull;
	s.period_ns = 100 * 1000000ull;
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(run.r.m[MYCO__BOX_DEADLINE].state,
			 MYCO__BOX_NOT_REQUESTED);
	assert_int_equal(run.r.m[MYCO__BOX_CG_CPU].state, MYCO__BOX_APPLIED);
	share = cpu_share(&run, 1.0);
	kill_finish(&run);
	assert_true(share < 0.35);
}

static void test_deadline_threads(void **state)
{
	const char *argv[] = { "box_probe", "threads", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024], v[64];

	(void)state;
	NEED_ROOT();
	spec_for(&s, "dl-thr", argv);
	s.time_mode = MYCO__BOX_TIME_BUDGET;
	s.runtime_ns = 10 * 1000000ull;
	s.period_ns = 100 * 1000000ull;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	if (run.r.m[MYCO__BOX_DEADLINE].state != MYCO__BOX_APPLIED) {
		print_message("skipped: sched-deadline not applied here: %s\n",
			      run.r.m[MYCO__BOX_DEADLINE].detail);
		skip();
	}
	/* main thread: SCHED_DEADLINE | SCHED_RESET_ON_FORK (0x40000006);
	 * a thread created later: SCHED_OTHER (documented), create works */
	assert_string_equal(line_val(buf, "main_policy", v, sizeof(v)) ? v : "",
			    "1073741830 create=0");
	assert_string_equal(line_val(buf, "thread_policy", v, sizeof(v)), "0");
}

static void test_frame_windows(void **state)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	struct run run;
	myco__box_frame_t *fr = NULL;
	struct myco__box_frame_stats fst;
	double share;
	int idx;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "frame", argv);
	s.time_mode = MYCO__BOX_TIME_FRAME;
	/* frame before spawn: the process starts frozen outside its window */
	assert_int_equal(myco__box_frame_new(sysname, 100 * 1000000ull, &fr), 0);
	assert_int_equal(myco__box_frame_add(fr, "frame", 0, &idx), 0);
	assert_int_equal(myco__box_frame_window(fr, idx, 0, 0, 20 * 1000000ull), 0);
	/* overlap on the same core is refused */
	assert_int_equal(myco__box_frame_window(fr, idx, 0, 10 * 1000000ull,
						20 * 1000000ull), -EINVAL);
	assert_int_equal(myco__box_frame_start(fr), 0);
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(run.r.m[MYCO__BOX_FRAME].state, MYCO__BOX_APPLIED);
	myco__box_frame_set_pid(fr, idx, run.pid);
	share = cpu_share(&run, 1.0);
	assert_int_equal(myco__box_frame_stats(fr, idx, &fst), 0);
	print_message("frame: %" PRIu64 " frames, %" PRIu64 " windows, %" PRIu64
		      " late, max late %" PRIu64 " us, freezer %d\n",
		      fst.frames, fst.windows, fst.late, fst.max_late_ns / 1000,
		      fst.freezer);
	assert_true(fst.freezer);
	assert_true(fst.windows >= 5);
	assert_int_equal(myco__box_frame_stop(fr), 0);
	myco__box_frame_free(fr);
	kill_finish(&run);
	/* window 20 ms of 100 ms: 0.20; outside it the partition is frozen */
	assert_true(share < 0.35);
}

static void test_fds_passed(void **state)
{
	const char *argv[] = { "box_probe", "fds", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024], v[128];
	int o[2], extra[2];
	struct myco__box_fd fds[4];

	(void)state;
	spec_for(&s, "fds", argv);
	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe(extra), 0);          /* NOT cloexec: must be closed anyway */
	assert_int_equal(dup2(extra[1], 40), 40);  /* passed at the same number */
	fds[0] = (struct myco__box_fd){ .fd = o[1], .target = 1 };
	fds[1] = (struct myco__box_fd){ .fd = o[1], .target = 2 };
	fds[2] = (struct myco__box_fd){ .fd = extra[0], .target = 7 };
	fds[3] = (struct myco__box_fd){ .fd = 40, .target = -1 };
	s.fds = fds;
	s.nfds = 4;
	snprintf(run.part, sizeof(run.part), "fds");
	assert_int_equal(myco__box_spawn(&s, &run.r, &run.pid, &run.pidfd), 0);
	close(o[1]);
	run.out = o[0];
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	/* exactly the passed fds, at their numbers (readdir order is numeric) */
	assert_string_equal(line_val(buf, "fds", v, sizeof(v)), "1,2,7,40,");
	close(40);
	close(extra[0]);
	close(extra[1]);
}

static void test_mount_view(void **state)
{
	char dir[] = "/tmp/myco-box-rw-XXXXXX";
	const char *argv[] = { "box_probe", "view", dir, NULL };
	struct myco__box_path paths[1];
	myco__box_spec_t s;
	struct run run;
	char buf[2048], v[64], f[128];

	(void)state;
	NEED_ROOT();
	assert_non_null(mkdtemp(dir));
	paths[0] = (struct myco__box_path){ .path = dir, .rw = true };
	spec_for(&s, "view", argv);
	s.paths = paths;
	s.npaths = 1;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_int_equal(run.r.m[MYCO__BOX_MOUNT_VIEW].state, MYCO__BOX_APPLIED);
	/* /root and the build tree's parents are not there; /usr is */
	assert_string_equal(line_val(buf, "root_home", v, sizeof(v)), "2");
	assert_string_equal(line_val(buf, "usr", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "etc_write", v, sizeof(v)), "30");
	assert_string_equal(line_val(buf, "rw_write", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "tmp_write", v, sizeof(v)), "0");
	/* uid 0 without capabilities: kernel-global /proc entries read-only,
	 * root-only files of /etc not in the view */
	assert_string_equal(line_val(buf, "sysctl_write", v, sizeof(v)), "30");
	/* EROFS, or ENOENT where the kernel has no magic SysRq */
	assert_string_not_equal(line_val(buf, "sysrq_write", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "shadow", v, sizeof(v)), "2");
	assert_string_equal(line_val(buf, "passwd", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "dev_entries", v, sizeof(v)), "5");
	/* the declared rw path is the host's: the file is there */
	snprintf(f, sizeof(f), "%s/probe-file", dir);
	assert_int_equal(access(f, F_OK), 0);
	unlink(f);
	rmdir(dir);
}

static void test_runpath_bound(void **state)
{
	const char *argv[] = { "box_probe_shared", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];

	(void)state;
	NEED_ROOT();
	if (!probe_shared) {
		print_message("skipped: no shared-library probe given\n");
		skip();
	}
	spec_for(&s, "rpath", argv);
	s.path = probe_shared;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_int_equal(run.r.m[MYCO__BOX_MOUNT_VIEW].state, MYCO__BOX_APPLIED);
	assert_non_null(strstr(buf, "answer=42"));
}

static void test_view_host_ro(void **state)
{
	char dir[] = "/tmp/myco-box-ro-XXXXXX";
	const char *argv[] = { "box_probe", "view", dir, NULL };
	struct myco__box_path paths[1];
	myco__box_spec_t s;
	struct run run;
	char buf[2048], v[64], f[128];

	(void)state;
	NEED_ROOT();
	assert_non_null(mkdtemp(dir));
	paths[0] = (struct myco__box_path){ .path = dir, .rw = true };
	spec_for(&s, "hostro", argv);
	s.view = MYCO__BOX_VIEW_HOST_RO;
	s.paths = paths;
	s.npaths = 1;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_int_equal(run.r.m[MYCO__BOX_MOUNT_VIEW].state, MYCO__BOX_APPLIED);
	/* the host tree is there but read-only; the rw path is writable */
	assert_string_equal(line_val(buf, "root_home", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "etc_write", v, sizeof(v)), "30");
	assert_string_equal(line_val(buf, "rw_write", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "tmp_write", v, sizeof(v)), "0");
	assert_string_equal(line_val(buf, "sysctl_write", v, sizeof(v)), "30");
	/* EROFS, or ENOENT where the kernel has no magic SysRq */
	assert_string_not_equal(line_val(buf, "sysrq_write", v, sizeof(v)), "0");
	/* no host device nodes, no host daemons' sockets */
	assert_string_equal(line_val(buf, "dev_entries", v, sizeof(v)), "5");
	assert_string_equal(line_val(buf, "run", v, sizeof(v)), "2");
	snprintf(f, sizeof(f), "%s/probe-file", dir);
	assert_int_equal(access(f, F_OK), 0);
	unlink(f);
	rmdir(dir);
}

static void test_run_as(void **state)
{
	const char *argv[] = { "box_probe", "info", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[2048], v[64];

	(void)state;
	NEED_ROOT();
	spec_for(&s, "runas", argv);
	s.uid = 65534;
	s.gid = 65534;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	assert_int_equal(finish(&run), 0);
	assert_string_equal(line_val(buf, "uid", v, sizeof(v)), "65534 gid=65534");
	assert_string_equal(line_val(buf, "CapEff", v, sizeof(v)),
			    "0000000000000000");
	assert_string_equal(line_val(buf, "Seccomp", v, sizeof(v)), "2");
}

static void test_init_flag(void **state)
{
	const char *argv[] = { "box_probe", "raise", "11", NULL };
	myco__box_spec_t s;
	struct run run;
	char buf[1024];
	int st;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "init", argv);
	s.flags |= MYCO__BOX_F_INIT;
	assert_int_equal(start(&run, &s), 0);
	collect(&run, buf, sizeof(buf), EPERM);
	st = finish(&run);
	/* the init mirrors a signal death as 128 + N */
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSEGV);
}

static void test_pid1_kill_kills_partition(void **state)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	struct run run;
	int st;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "kill9", argv);
	assert_int_equal(start(&run, &s), 0);
	/* SIGTERM without a handler does not reach a namespace init ... */
	kill(run.pid, SIGTERM);
	nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	assert_int_equal(waitpid(run.pid, &st, WNOHANG), 0);
	/* ... SIGKILL always does */
	kill(run.pid, SIGKILL);
	st = finish(&run);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
}

static void test_destroy_kills_and_removes(void **state)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	struct run run;
	struct myco__box_stats st;
	int status;

	(void)state;
	NEED_ROOT();
	spec_for(&s, "destroy", argv);
	s.memory_max = 64ull << 20;
	assert_int_equal(start(&run, &s), 0);
	assert_int_equal(myco__box_stats(sysname, "destroy", NULL, &st), 0);
	assert_int_equal(myco__box_destroy(sysname, "destroy", NULL), 0);
	assert_int_equal(waitpid(run.pid, &status, 0), run.pid);
	run.pid = 0;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(myco__box_stats(sysname, "destroy", NULL, &st), -ENOENT);
	finish(&run);
}

static void test_stale_cleanup(void **state)
{
	const char *argv[] = { "box_probe", "wait", NULL };
	char stale[40];
	int hold[2], rep[2], status;
	pid_t exec_pid, pid = 0;
	struct myco__box_stats st;

	(void)state;
	NEED_ROOT();
	snprintf(stale, sizeof(stale), "%s-stale", sysname);
	/* the boxed process becomes our child when its executive dies */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	exec_pid = fork();
	assert_true(exec_pid >= 0);
	if (exec_pid == 0) {
		/* a stand-in executive: spawn, report the pid, wait to die */
		myco__box_spec_t s;
		myco__box_report_t r;
		struct myco__box_fd fds[1] = { { .fd = hold[0], .target = 0 } };
		pid_t p = 0;
		int pfd;

		myco__box_spec_init(&s);
		s.system = stale;
		s.partition = "orphan";
		s.path = probe;
		s.argv = argv;
		s.fds = fds;
		s.nfds = 1;
		s.memory_max = 64ull << 20;
		if (myco__box_spawn(&s, &r, &p, &pfd) < 0)
			p = -1;
		(void)!write(rep[1], &p, sizeof(p));
		for (;;)
			pause();
	}
	close(hold[0]);
	close(rep[1]);
	if (read(rep[0], &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		pid = -1;
	close(rep[0]);
	kill(exec_pid, SIGKILL);                 /* kill -9 of the executive */
	waitpid(exec_pid, NULL, 0);
	assert_true(pid > 0);
	/* the partition outlived it, in its cgroup */
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(myco__box_stats(stale, "orphan", NULL, &st), 0);
	/* the next run cleans up: processes killed, cgroups gone */
	assert_true(myco__box_cleanup_stale(stale) >= 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_int_equal(myco__box_stats(stale, "orphan", NULL, &st), -ENOENT);
	close(hold[1]);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* ---------------------------------------------------------- not root */

/* Frame mode without a writable freezer: reported degraded, and the
 * SIGSTOP/SIGCONT fallback still holds a spinner to its window. */
static int nonroot_frame(void)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	myco__box_frame_t *fr = NULL;
	struct myco__box_frame_stats fst;
	struct run run;
	double share;
	int idx, bad = 0;

	spec_for(&s, "nr-frame", argv);
	s.time_mode = MYCO__BOX_TIME_FRAME;
	if (myco__box_frame_new(sysname, 100 * 1000000ull, &fr) < 0 ||
	    myco__box_frame_add(fr, "nr-frame", 0, &idx) < 0 ||
	    myco__box_frame_window(fr, idx, 0, 0, 20 * 1000000ull) < 0 ||
	    start(&run, &s) < 0) {
		printf("FAIL: frame setup\n");
		return 1;
	}
	myco__box_frame_set_pid(fr, idx, run.pid);
	myco__box_frame_start(fr);
	share = cpu_share(&run, 1.0);
	myco__box_frame_stats(fr, idx, &fst);
	myco__box_frame_free(fr);
	kill_finish(&run);
	printf("frame fallback: share %.3f, windows %llu, freezer %d, report: %s\n",
	       share, (unsigned long long)fst.windows, fst.freezer,
	       run.r.m[MYCO__BOX_FRAME].detail);
	if (run.r.m[MYCO__BOX_FRAME].state != MYCO__BOX_DEGRADED ||
	    !strstr(run.r.m[MYCO__BOX_FRAME].detail, "SIGSTOP")) {
		printf("FAIL: frame-windows not reported degraded\n");
		bad++;
	}
	if (fst.freezer || fst.windows < 5 || share >= 0.35) {
		printf("FAIL: SIGSTOP fallback did not hold the window\n");
		bad++;
	}
	return bad;
}

/* Run with MYCO_BOX_CGROUP2=<cgroup2 mount>: the one-hierarchy code paths
 * (subtree_control, cgroup.freeze, cgroup.events, cpu.stat, cgroup.kill,
 * the parent moving the child at exec time).  On a hybrid machine the
 * hierarchy has no controllers: memory must then be reported degraded. */
static int v2_child(void)
{
	const char *argv[] = { "box_probe", "spin", NULL };
	myco__box_spec_t s;
	myco__box_frame_t *fr = NULL;
	struct myco__box_frame_stats fst;
	struct myco__box_stats st;
	struct run run;
	double share;
	int idx, bad = 0, status;
	char rep[4096];

	snprintf(sysname, sizeof(sysname), "boxv2%d", (int)getpid());
	spec_for(&s, "v2", argv);
	s.time_mode = MYCO__BOX_TIME_FRAME;
	s.memory_max = 64ull << 20;
	if (myco__box_frame_new(sysname, 100 * 1000000ull, &fr) < 0 ||
	    myco__box_frame_add(fr, "v2", 0, &idx) < 0 ||
	    myco__box_frame_window(fr, idx, 0, 0, 20 * 1000000ull) < 0 ||
	    myco__box_frame_start(fr) < 0 || start(&run, &s) < 0) {
		printf("FAIL: setup\n");
		return 1;
	}
	myco__box_report_format(&run.r, rep, sizeof(rep));
	printf("%s", rep);
	share = cpu_share(&run, 1.0);
	myco__box_frame_stats(fr, idx, &fst);
	printf("v2: cgroup %s, share %.3f, windows %llu, freezer %d\n",
	       run.r.cgroup, share, (unsigned long long)fst.windows, fst.freezer);
	if (!run.r.cgroup_v2 || run.r.m[MYCO__BOX_FRAME].state != MYCO__BOX_APPLIED ||
	    !strstr(run.r.m[MYCO__BOX_FRAME].detail, "v2")) {
		printf("FAIL: not in the v2 freezer\n");
		bad++;
	}
	if (run.r.m[MYCO__BOX_CG_MEMORY].state == MYCO__BOX_NOT_REQUESTED) {
		printf("FAIL: memory silently skipped\n");
		bad++;
	}
	if (!fst.freezer || fst.windows < 5 || share >= 0.35) {
		printf("FAIL: v2 freezer did not hold the window\n");
		bad++;
	}
	if (myco__box_stats(sysname, "v2", NULL, &st) < 0 || !st.cpu_ns) {
		printf("FAIL: no v2 accounting\n");
		bad++;
	}
	myco__box_frame_free(fr);
	/* destroy: cgroup.kill, then the groups are gone */
	if (myco__box_destroy(sysname, "v2", NULL) < 0 ||
	    waitpid(run.pid, &status, 0) != run.pid || !WIFSIGNALED(status) ||
	    myco__box_stats(sysname, "v2", NULL, &st) != -ENOENT) {
		printf("FAIL: v2 destroy\n");
		bad++;
	}
	run.pid = 0;
	finish(&run);
	myco__box_cleanup_stale(sysname);
	return bad ? 1 : 0;
}

/* Run with MYCO_BOX_CGROUP_BASE=/: the memory cgroup lands at the root of
 * the memory hierarchy, not under our own cgroup, and stats, destroy and
 * cleanup find it there. */
static int base_child(void)
{
	const char *argv[] = { "box_probe", "info", NULL };
	myco__box_spec_t s;
	struct myco__box_stats st;
	struct run run;
	char path[256], buf[2048];
	int bad = 0;

	snprintf(sysname, sizeof(sysname), "boxbase%d", (int)getpid());
	spec_for(&s, "base", argv);
	s.memory_max = 64ull << 20;
	if (start(&run, &s) < 0) {
		printf("FAIL: spawn\n");
		return 1;
	}
	collect(&run, buf, sizeof(buf), EPERM);
	waitpid(run.pid, NULL, 0);
	run.pid = 0;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/myco/%s/base/main",
		 sysname);
	if (access(path, F_OK) < 0) {
		printf("FAIL: %s missing\n", path);
		bad++;
	}
	if (myco__box_stats(sysname, "base", NULL, &st) < 0) {
		printf("FAIL: stats\n");
		bad++;
	}
	finish(&run);
	myco__box_cleanup_stale(sysname);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/myco/%s", sysname);
	if (access(path, F_OK) == 0) {
		printf("FAIL: %s left behind\n", path);
		bad++;
	}
	printf("base: memory cgroup at the hierarchy root, %s\n",
	       bad ? "FAILED" : "removed");
	return bad ? 1 : 0;
}

static void test_spawn_many(void **state)
{
	const char *argv[] = { "box_probe", "info", NULL };
	myco__box_spec_t s;
	struct run runs[16];
	struct myco__box_stats st;
	char buf[2048], inst[16];
	int fds_before, n = (int)(sizeof(runs) / sizeof(runs[0]));

	(void)state;
	NEED_ROOT();
	fds_before = count_fds();
	/* instances side by side in one partition, like active + standbys */
	for (int i = 0; i < n; i++) {
		spec_for(&s, "many", argv);
		snprintf(inst, sizeof(inst), "i%d", i);
		s.instance = inst;
		s.memory_max = 32ull << 20;
		s.time_mode = MYCO__BOX_TIME_BUDGET;
		s.runtime_ns = 1000000;
		s.period_ns = 100 * 1000000ull;
		s.want &= ~MYCO__BOX_WANT(MYCO__BOX_DEADLINE);
		assert_int_equal(start(&runs[i], &s), 0);
		assert_string_equal(runs[i].r.cgroup + strlen(runs[i].r.cgroup) -
				    strlen(inst), inst);
	}
	for (int i = 0; i < n; i++) {
		int status;

		collect(&runs[i], buf, sizeof(buf), EPERM);
		assert_non_null(strstr(buf, "Seccomp=2"));
		assert_int_equal(waitpid(runs[i].pid, &status, 0), runs[i].pid);
		assert_int_equal(status, 0);
		runs[i].pid = 0;
		close(runs[i].out);
		close(runs[i].pidfd);
		close(runs[i].r.seccomp_fd);
		snprintf(inst, sizeof(inst), "i%d", i);
		assert_int_equal(myco__box_destroy(sysname, "many", inst), 0);
	}
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(myco__box_destroy(sysname, "many", NULL), 0);
	assert_int_equal(myco__box_stats(sysname, "many", NULL, &st), -ENOENT);
}

static void test_cgroup_base_env(void **state)
{
	char cmd[4096], out[4096];
	size_t len;
	FILE *f;
	int st;

	(void)state;
	NEED_ROOT();
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) < 0) {
		print_message("skipped: no cgroup v1 memory hierarchy\n");
		skip();
	}
	snprintf(cmd, sizeof(cmd), "MYCO_BOX_CGROUP_BASE=/ '%s' --base '%s' 2>&1",
		 self_path, probe);
	f = popen(cmd, "r");
	assert_non_null(f);
	len = fread(out, 1, sizeof(out) - 1, f);
	out[len] = '\0';
	st = pclose(f);
	fwrite(out, 1, len, stdout);
	fflush(stdout);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_cgroup2_mode(void **state)
{
	static const char *const mounts[] = { "/sys/fs/cgroup/unified",
					      "/sys/fs/cgroup" };
	char cmd[4096], out[8192];
	const char *root = NULL;
	struct statfs sf;
	size_t len = 0;
	FILE *f;
	int st;

	(void)state;
	NEED_ROOT();
	for (size_t i = 0; i < 2 && !root; i++)
		if (statfs(mounts[i], &sf) == 0 &&
		    (unsigned long)sf.f_type == 0x63677270 /* cgroup2 */)
			root = mounts[i];
	if (!root) {
		print_message("skipped: no cgroup2 mount\n");
		skip();
	}
	snprintf(cmd, sizeof(cmd), "MYCO_BOX_CGROUP2=%s '%s' --v2 '%s' 2>&1",
		 root, self_path, probe);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (len < sizeof(out) - 1) {
		size_t k = fread(out + len, 1, sizeof(out) - 1 - len, f);

		if (!k)
			break;
		len += k;
	}
	out[len] = '\0';
	st = pclose(f);
	fwrite(out, 1, len, stdout);
	fflush(stdout);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Run inside setpriv as uid 65534: spawn, print the report, check it. */
static int nonroot_child(bool no_userns)
{
	const char *argv[] = { "box_probe", "info", NULL };
	static const enum myco__box_mech wanted[] = {
		MYCO__BOX_PIDNS, MYCO__BOX_MOUNTNS, MYCO__BOX_IPCNS,
		MYCO__BOX_UTSNS, MYCO__BOX_NETNS, MYCO__BOX_NO_NEW_PRIVS,
		MYCO__BOX_CAPS, MYCO__BOX_SECCOMP, MYCO__BOX_CG_MEMORY,
		MYCO__BOX_CG_CPU, MYCO__BOX_DEADLINE, MYCO__BOX_CG_PIDS,
		MYCO__BOX_MOUNT_VIEW, MYCO__BOX_CPU_PIN, MYCO__BOX_RLIMITS,
	};
	const struct myco__box_rlimit rl[1] = { { RLIMIT_NOFILE, 64, 128 } };
	myco__box_spec_t s;
	struct run run;
	char buf[4096], rep[4096];
	int bad = 0;

	snprintf(sysname, sizeof(sysname), "boxnr%d", (int)getpid());
	spec_for(&s, "nonroot", argv);
	s.memory_max = 64ull << 20;
	s.pids_max = 64;
	s.time_mode = MYCO__BOX_TIME_BUDGET;
	s.runtime_ns = 10 * 1000000ull;
	s.period_ns = 100 * 1000000ull;
	s.cpu_mask = 1;
	s.rlimits = rl;
	s.nrlimits = 1;
	if (no_userns)
		s.flags |= MYCO__BOX_F_NO_USERNS;
	if (start(&run, &s) < 0) {
		printf("spawn failed\n");
		return 1;
	}
	collect(&run, buf, sizeof(buf), EPERM);
	finish(&run);
	myco__box_report_format(&run.r, rep, sizeof(rep));
	printf("%s---\n%s", rep, buf);
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		if (run.r.m[wanted[i]].state == MYCO__BOX_NOT_REQUESTED) {
			printf("FAIL: %s silently skipped\n",
			       myco__box_mech_name(wanted[i]));
			bad++;
		}
	}
	/* what uid 65534 cannot have on this machine */
	if (run.r.m[MYCO__BOX_CG_MEMORY].state != MYCO__BOX_DEGRADED ||
	    run.r.m[MYCO__BOX_CG_CPU].state != MYCO__BOX_DEGRADED ||
	    run.r.m[MYCO__BOX_DEADLINE].state != MYCO__BOX_DEGRADED) {
		printf("FAIL: cgroup/deadline not reported degraded\n");
		bad++;
	}
	if (run.r.m[MYCO__BOX_USERNS].state == MYCO__BOX_APPLIED &&
	    (run.r.m[MYCO__BOX_PIDNS].state != MYCO__BOX_APPLIED ||
	     run.r.m[MYCO__BOX_MOUNT_VIEW].state != MYCO__BOX_APPLIED ||
	     !strstr(buf, "pid=1\n"))) {
		printf("FAIL: user namespace used but pid-ns/mount-view not in force\n");
		bad++;
	}
	if (no_userns && run.r.m[MYCO__BOX_PIDNS].state != MYCO__BOX_DEGRADED) {
		printf("FAIL: pid-ns not degraded without user namespaces\n");
		bad++;
	}
	if (run.r.m[MYCO__BOX_SECCOMP].state != MYCO__BOX_APPLIED ||
	    !strstr(buf, "Seccomp=2") || !strstr(buf, "NoNewPrivs=1")) {
		printf("FAIL: seccomp/no_new_privs not in force\n");
		bad++;
	}
	/* pinning without a cpuset: affinity only, still applied */
	if (run.r.m[MYCO__BOX_CPU_PIN].state != MYCO__BOX_APPLIED ||
	    !strstr(run.r.m[MYCO__BOX_CPU_PIN].detail, "affinity only") ||
	    !strstr(buf, "Cpus_allowed_list=0\n")) {
		printf("FAIL: pinning: %s\n", run.r.m[MYCO__BOX_CPU_PIN].detail);
		bad++;
	}
	if (run.r.m[MYCO__BOX_RLIMITS].state != MYCO__BOX_APPLIED ||
	    !strstr(buf, "nofile=64/128")) {
		printf("FAIL: rlimits not applied\n");
		bad++;
	}
	bad += nonroot_frame();
	return bad ? 1 : 0;
}

static void run_nonroot(bool no_userns)
{
	char cmd[4096], out[8192];
	size_t len = 0;
	FILE *f;
	int st;

	NEED_ROOT();
	if (access("/usr/bin/setpriv", X_OK) < 0) {
		print_message("skipped: setpriv (util-linux) not installed\n");
		skip();
	}
	snprintf(cmd, sizeof(cmd),
		 "setpriv --reuid 65534 --regid 65534 --clear-groups "
		 "'%s' --nonroot '%s'%s 2>&1", self_path, probe,
		 no_userns ? " nouserns" : "");
	f = popen(cmd, "r");
	assert_non_null(f);
	while (len < sizeof(out) - 1) {
		size_t k = fread(out + len, 1, sizeof(out) - 1 - len, f);

		if (!k)
			break;
		len += k;
	}
	out[len] = '\0';
	st = pclose(f);
	fwrite(out, 1, len, stdout);     /* print_message() truncates */
	fflush(stdout);
	if (strstr(out, "Permission denied") && strstr(out, "exec")) {
		print_message("skipped: uid 65534 cannot run the build tree\n");
		skip();
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* degrading is never silent: one warning line per degraded mechanism */
	assert_non_null(strstr(out, "warning: cgroup-memory degraded"));
}

static void test_nonroot_degrades(void **state)
{
	(void)state;
	run_nonroot(false);
}

static void test_nonroot_no_userns(void **state)
{
	(void)state;
	run_nonroot(true);
}

static int group_teardown(void **state)
{
	(void)state;
	myco__box_cleanup_stale(sysname);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_namespaces_and_privs),
		cmocka_unit_test(test_inside_view),
		cmocka_unit_test(test_net_declared),
		cmocka_unit_test(test_seccomp_violation_named),
		cmocka_unit_test(test_seccomp_fork_killed),
		cmocka_unit_test(test_seccomp_kill_action),
		cmocka_unit_test(test_extra_syscall_name),
		cmocka_unit_test(test_cpu_pinning),
		cmocka_unit_test(test_io_uring_policy),
		cmocka_unit_test(test_memory_oom),
		cmocka_unit_test(test_memory_within_limit),
		cmocka_unit_test(test_budget_deadline),
		cmocka_unit_test(test_budget_quota_only),
		cmocka_unit_test(test_deadline_threads),
		cmocka_unit_test(test_frame_windows),
		cmocka_unit_test(test_fds_passed),
		cmocka_unit_test(test_mount_view),
		cmocka_unit_test(test_runpath_bound),
		cmocka_unit_test(test_view_host_ro),
		cmocka_unit_test(test_run_as),
		cmocka_unit_test(test_init_flag),
		cmocka_unit_test(test_pid1_kill_kills_partition),
		cmocka_unit_test(test_destroy_kills_and_removes),
		cmocka_unit_test(test_stale_cleanup),
		cmocka_unit_test(test_spawn_many),
		cmocka_unit_test(test_cgroup2_mode),
		cmocka_unit_test(test_cgroup_base_env),
		cmocka_unit_test(test_nonroot_degrades),
		cmocka_unit_test(test_nonroot_no_userns),
	};
	static char self[PATH_MAX], probe_abs[PATH_MAX], shared_abs[PATH_MAX];

	if (argc > 2 && !strcmp(argv[1], "--base")) {
		if (!realpath(argv[2], probe_abs))
			return 2;
		probe = probe_abs;
		return base_child();
	}
	if (argc > 2 && !strcmp(argv[1], "--v2")) {
		if (!realpath(argv[2], probe_abs))
			return 2;
		probe = probe_abs;
		return v2_child();
	}
	if (argc > 2 && !strcmp(argv[1], "--nonroot")) {
		probe = argv[2];
		return nonroot_child(argc > 3 && !strcmp(argv[3], "nouserns"));
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s BOX_PROBE\n", argv[0]);
		return 2;
	}
	if (!realpath(argv[1], probe_abs) || !realpath("/proc/self/exe", self))
		return 2;
	probe = probe_abs;
	if (argc > 2 && realpath(argv[2], shared_abs))
		probe_shared = shared_abs;
	self_path = self;
	snprintf(sysname, sizeof(sysname), "boxit%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, group_teardown);
}
