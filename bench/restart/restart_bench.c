/*
 * restart_bench.c: myco-bench-restart.  Measures how long a crashed
 * partition takes to come back, two ways, alternating in one run:
 *   myco          `myco run` of a one-partition system; the bench sends
 *                 `kill victim` over the control socket; the executive
 *                 activates the parked standby; times from the executive's
 *                 "restarted" event.
 *   fork+exec     the bench itself is a plain supervisor: SIGKILL the
 *                 child, wait for SIGCHLD (signalfd), fork+exec the same
 *                 program again.
 * Both measure from just before the SIGKILL to (a) myco_init() returning in
 * the replacement (crash-to-running) and (b) its first myco call after that
 * (crash-to-first-call), read from the same control-region fields
 * (CLOCK_MONOTONIC).  --json prints one JSON line per figure
 * (docs/benchmarks.md, Method); --quick does 50 crashes instead of 250.
 * Not for: anything in the test suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "myco/common.h"
#include "myco/part.h"
#include "part_abi.h"



static void die(const char *msg)
{
	fprintf(stderr, "myco-bench-restart: %s\n", msg);
	exit(1);
}

static int ctl_connect(const char *rt_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", rt_dir) >= (int)sizeof(sa.sun_path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read one line (blocking) into a malloc'd string; NULL at EOF. */
static char *read_line(int fd)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	while (b) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0) {
			free(b);
			return NULL;
		}
		if (c == '\n') {
			b[n] = 0;
			return b;
		}
		if (n + 1 >= cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb)
				break;
			b = nb;
		}
		b[n++] = c;
	}
	free(b);
	return NULL;
}

static json_t *request(const char *rt_dir, const char *req)
{
	int fd = ctl_connect(rt_dir);
	if (fd < 0)
		return NULL;
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	char *l = read_line(fd);
	close(fd);
	json_t *o = l ? json_loads(l, 0, NULL) : NULL;
	free(l);
	return o;
}

/* Is the victim running, and (want_standby) is its standby parked? */
static bool victim_ready(const char *rt_dir, bool want_standby)
{
	json_t *o = request(rt_dir, "{\"cmd\":\"ps\"}");
	bool ok = false;
	if (o) {
		json_t *p = json_array_get(json_object_get(o, "partitions"), 0);
		const char *st = json_string_value(json_object_get(p, "state"));
		ok = want_standby ? json_is_true(json_object_get(p, "standby_parked")) :
		     (st && !strcmp(st, "running") && json_integer_value(json_object_get(p, "heartbeats")) > 0);
		json_decref(o);
	}
	return ok;
}

/* ----------------------------------------------------------- baseline */

struct base {
	pid_t pid;
	int ctl_fd;
	struct myco__part_ctl *ctl;
};

static void base_spawn(struct base *b)
{
	b->ctl_fd = memfd_create("bench-ctl", 0);
	if (b->ctl_fd < 0 || ftruncate(b->ctl_fd, MYCO__PART_CTL_SIZE) < 0)
		die("memfd");
	b->ctl = mmap(NULL, MYCO__PART_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b->ctl_fd, 0);
	if (b->ctl == MAP_FAILED)
		die("mmap");
	b->ctl->magic = MYCO__PART_CTL_MAGIC;
	b->ctl->version = MYCO__PART_CTL_VERSION;
	b->ctl->size = MYCO__PART_CTL_SIZE;
	b->ctl->state = MYCO__CTL_ACTIVE;
	char env_ctl[32];
	snprintf(env_ctl, sizeof(env_ctl), "MYCO_CTL=%d", b->ctl_fd);
	char *envp[] = { env_ctl, (char *)"MYCO_PARTITION=victim", NULL };
	char *argv[] = { (char *)VICTIM_BIN, NULL };
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(VICTIM_BIN, argv, envp);
		_exit(127);
	}
	b->pid = pid;
	close(b->ctl_fd);
	b->ctl_fd = -1;
}

static void base_release(struct base *b)
{
	if (b->ctl && b->ctl != MAP_FAILED)
		munmap(b->ctl, MYCO__PART_CTL_SIZE);
	b->ctl = NULL;
}

static uint64_t load64(const uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_acquire);
}

/* One crash of the fork+exec supervisor; returns 0 and the two times. */
static int base_crash(struct base *b, int sfd, uint64_t *c2r, uint64_t *c2f, uint64_t *c2d)
{
	/* wait until the current child runs (its first call happened) */
	uint64_t end = myco_now() + 5000000000ull;
	while (!load64(&b->ctl->t_first_ns))
		if (myco_now() > end)
			return -ETIMEDOUT;
		else
			usleep(200);
	uint64_t t0 = myco_now();
	kill(b->pid, SIGKILL);
	/* supervisor: SIGCHLD -> reap -> fork+exec */
	struct signalfd_siginfo si;
	for (;;) {
		if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		int st;
		if (waitpid(b->pid, &st, WNOHANG) == b->pid)
			break;
	}
	*c2d = myco_now() - t0;
	base_release(b);
	base_spawn(b);
	end = myco_now() + 5000000000ull;
	while (!load64(&b->ctl->t_first_ns))
		if (myco_now() > end)
			return -ETIMEDOUT;
	*c2r = load64(&b->ctl->t_running_ns) - t0;
	*c2f = load64(&b->ctl->t_first_ns) - t0;
	return 0;
}

/* --------------------------------------------------------------- stats */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	if (!n)
		return NAN;
	size_t i = (size_t)ceil(p / 100.0 * (double)n);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return (double)v[i - 1];
}

struct series {
	const char *system, *metric;
	uint64_t *v;
	size_t n;
};

static void report(struct series *s, size_t ns, bool json, size_t crashes)
{
	const char *pn[] = { "p50", "p99", "max" };
	const double pv[] = { 50, 99, 100 };
	if (!json)
		printf("\n%-12s %-20s %8s %12s %12s %12s\n", "system", "metric", "samples",
		       "p50 (us)", "p99 (us)", "max (us)");
	for (size_t i = 0; i < ns; i++) {
		qsort(s[i].v, s[i].n, sizeof(uint64_t), cmp_u64);
		if (json) {
			for (int k = 0; k < 3; k++)
				printf("{\"bench\":\"restart.%s\",\"system\":\"%s\",\"metric\":\"%s\","
				       "\"value\":%.1f,\"unit\":\"ns\",\"samples\":%zu,\"crashes\":%zu}\n",
				       s[i].metric, s[i].system, pn[k], pct(s[i].v, s[i].n, pv[k]),
				       s[i].n, crashes);
		} else {
			printf("%-12s %-20s %8zu %12.1f %12.1f %12.1f\n", s[i].system, s[i].metric,
			       s[i].n, pct(s[i].v, s[i].n, 50) / 1e3, pct(s[i].v, s[i].n, 99) / 1e3,
			       pct(s[i].v, s[i].n, 100) / 1e3);
		}
	}
	if (!json) {
		/* ratios of p50: each metric of the others against myco (s[0..2]) */
		for (size_t j = 3; j < ns; j++) {
			double m = pct(s[j % 3].v, s[j % 3].n, 50), o = pct(s[j].v, s[j].n, 50);
			printf("p50 %-20s %s / myco = %.1fx\n", s[j].metric, s[j].system, o / m);
		}
	}
}

static void setup_info(FILE *f)
{
	char line[256], model[256] = "?";
	FILE *c = fopen("/proc/cpuinfo", "r");
	while (c && fgets(line, sizeof(line), c))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');
			snprintf(model, sizeof(model), "%s", p ? p + 2 : line);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	if (c)
		fclose(c);
	struct utsname u;
	uname(&u);
	fprintf(f, "cpu: %s, %ld online; kernel %s %s; myco %s; no pinning; machine shared and noisy\n",
		model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, myco_version());
	fprintf(f, "victim: %s (myco_init, myco_ready, heartbeat every 1 ms); myco and myco-spawn "
		"box it (namespaces, cgroups, seccomp where available); myco activates a parked "
		"standby, myco-spawn (--no-standby) spawns after the crash; fork+exec: the bench as "
		"a plain supervisor, fork+exec on SIGCHLD, unboxed\n", VICTIM_BIN);
}

/* One executive under test: `myco run` of a one-victim system. */
struct mexec {
	const char *label;      /* system name in the results */
	bool standby;
	char rt[600], file[600], log[600];
	pid_t pid;
	int evfd;
	size_t misses;          /* restarts that did not use a parked standby */
};

static void mexec_start(struct mexec *m, const char *dir, const char *sysname)
{
	snprintf(m->rt, sizeof(m->rt), "%s/rt-%s", dir, sysname);
	snprintf(m->file, sizeof(m->file), "%s/%s.myco", dir, sysname);
	snprintf(m->log, sizeof(m->log), "%s/%s.log", dir, sysname);
	FILE *f = fopen(m->file, "w");
	if (!f)
		die("system file");
	fprintf(f, "system %s {\n"
		"    partition victim {\n        program \"%s\";\n        restart permanent;\n    }\n"
		"    group g {\n        strategy one_for_one;\n        restarts 1000000 within 1 s;\n"
		"        members victim;\n    }\n}\n", sysname, VICTIM_BIN);
	fclose(f);
	m->pid = fork();
	if (m->pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int lf = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (lf >= 0) {
			dup2(lf, 1);
			dup2(lf, 2);
		}
		if (m->standby)
			execl(MYCO_BIN, MYCO_BIN, "run", m->file, "--runtime-dir", m->rt, "--quiet",
			      (char *)NULL);
		else
			execl(MYCO_BIN, MYCO_BIN, "run", m->file, "--runtime-dir", m->rt, "--quiet",
			      "--no-standby", (char *)NULL);
		_exit(127);
	}
	uint64_t end = myco_now() + 20000000000ull;
	while (!victim_ready(m->rt, m->standby)) {
		if (myco_now() > end) {
			kill(m->pid, SIGKILL);
			fprintf(stderr, "see %s\n", m->log);
			die("an executive did not come up");
		}
		usleep(10000);
	}
	m->evfd = ctl_connect(m->rt);
	const char *freq = "{\"cmd\":\"events\",\"follow\":true}\n";
	if (m->evfd < 0 || write(m->evfd, freq, strlen(freq)) < 0)
		die("events");
	free(read_line(m->evfd));
}

/* One crash: kill the victim, wait for its "restarted" record. */
static void mexec_crash(struct mexec *m, struct series *run, struct series *first,
			struct series *d2r)
{
	uint64_t end = myco_now() + 10000000000ull;
	while (!victim_ready(m->rt, m->standby))
		if (myco_now() > end)
			die("victim not ready (or no parked standby) after 10 s");
		else
			usleep(2000);
	json_t *r = request(m->rt, "{\"cmd\":\"kill\",\"name\":\"victim\"}");
	if (!r || !json_is_true(json_object_get(r, "ok")))
		die("kill request failed");
	json_decref(r);
	for (;;) {
		char *l = read_line(m->evfd);
		if (!l)
			die("events stream ended");
		json_t *o = json_loads(l, 0, NULL);
		free(l);
		json_t *e = json_object_get(o, "event");
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *det = json_string_value(json_object_get(e, "detail"));
		if (kind && !strcmp(kind, "restart") && det && !strstr(det, "standby activated"))
			m->misses++;
		if (kind && !strcmp(kind, "restarted")) {
			json_t *c2r = json_object_get(e, "crash_to_running_ns");
			json_t *c2f = json_object_get(e, "crash_to_first_ns");
			json_t *c2a = json_object_get(e, "crash_to_activate_ns");
			if (c2r && c2a)
				d2r->v[d2r->n++] = (uint64_t)(json_integer_value(c2r) -
							      json_integer_value(c2a));
			if (c2r)
				run->v[run->n++] = (uint64_t)json_integer_value(c2r);
			if (c2f)
				first->v[first->n++] = (uint64_t)json_integer_value(c2f);
			json_decref(o);
			break;
		}
		json_decref(o);
	}
}

static void mexec_stop(struct mexec *m)
{
	json_decref(request(m->rt, "{\"cmd\":\"stop\",\"all\":true}"));
	close(m->evfd);
	int st;
	waitpid(m->pid, &st, 0);
	unlink(m->file);
	unlink(m->log);
}

int main(int argc, char **argv)
{
	bool json = false;
	size_t crashes = 250;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--quick"))
			crashes = 50;
		else if (!strcmp(argv[i], "--crashes") && i + 1 < argc)
			crashes = (size_t)atol(argv[++i]);
		else {
			fprintf(stderr, "usage: myco-bench-restart [--json] [--quick] [--crashes N]\n");
			return 2;
		}
	}
	setup_info(json ? stderr : stdout);

	char tmpl[] = "/tmp/myco-bench-restart-XXXXXX";
	if (!mkdtemp(tmpl))
		die("mkdtemp");
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC);

	/* myco with standbys; myco --no-standby (same boxing, the replacement is
	 * spawned after the crash); the plain fork+exec supervisor. */
	struct mexec ms = { .label = "myco", .standby = true };
	struct mexec mn = { .label = "myco-spawn", .standby = false };
	mexec_start(&ms, tmpl, "benchrestart");
	mexec_start(&mn, tmpl, "benchrestartspawn");
	struct base b = { 0 };
	base_spawn(&b);

	/* detect_to_running: from the supervisor acting on the death (standby
	 * activation / spawn / fork) to the replacement running: the part a
	 * standby saves; crash-to-detect is the kernel tearing the dead
	 * process down. */
	struct series s[9] = {
		{ "myco", "crash_to_running", calloc(crashes, 8), 0 },
		{ "myco", "crash_to_first_call", calloc(crashes, 8), 0 },
		{ "myco", "detect_to_running", calloc(crashes, 8), 0 },
		{ "myco-spawn", "crash_to_running", calloc(crashes, 8), 0 },
		{ "myco-spawn", "crash_to_first_call", calloc(crashes, 8), 0 },
		{ "myco-spawn", "detect_to_running", calloc(crashes, 8), 0 },
		{ "fork+exec", "crash_to_running", calloc(crashes, 8), 0 },
		{ "fork+exec", "crash_to_first_call", calloc(crashes, 8), 0 },
		{ "fork+exec", "detect_to_running", calloc(crashes, 8), 0 },
	};
	for (size_t i = 0; i < crashes; i++) {
		mexec_crash(&ms, &s[0], &s[1], &s[2]);
		mexec_crash(&mn, &s[3], &s[4], &s[5]);
		uint64_t c2r, c2f, c2d;
		if (base_crash(&b, sfd, &c2r, &c2f, &c2d) == 0) {
			s[6].v[s[6].n++] = c2r;
			s[7].v[s[7].n++] = c2f;
			s[8].v[s[8].n++] = c2r - c2d;
		}
	}
	mexec_stop(&ms);
	mexec_stop(&mn);
	kill(b.pid, SIGKILL);
	int st;
	waitpid(b.pid, &st, 0);
	base_release(&b);
	if (!json)
		printf("crashes: %zu per system, alternating myco / myco-spawn / fork+exec; "
		       "myco restarts without a parked standby: %zu\n", crashes, ms.misses);
	report(s, 9, json, crashes);
	rmdir(tmpl);
	for (int i = 0; i < 9; i++)
		free(s[i].v);
	return 0;
}
