/*
 * bench_trace.c: myco-bench-trace, Myco's trace rings against what a user
 * would otherwise use, in one run, alternating (A B C ... A B C ...):
 *   1. cost per event, one thread: Myco tracepoint enabled and disabled,
 *      an LTTng-UST tracepoint enabled (session in snapshot/overwrite mode,
 *      the flight-recorder set-up that matches a Myco overwrite ring) and
 *      disabled, a buffered fprintf() of the same fields with a
 *      CLOCK_MONOTONIC stamp, and syslog() (to a receiver the benchmark
 *      binds at /dev/log when no syslog daemon runs); median, min and max of
 *      the rounds in ns and TSC cycles per event, the empty loop subtracted;
 *   2. channel throughput (bench-ipc's 64-byte SPSC stream, two threads on
 *      two cores) with every channel and runtime tracepoint on against off;
 *   3. the collector's CPU: one thread writes 1 M events/s, a reader drains
 *      the ring every millisecond; CPU time of the reader thread as a share
 *      of one core.
 * Human table on stdout; --json prints one JSON object per figure
 * (shared benchmark format); --quick runs a short version.  Not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "myco/chan.h"
#include "myco/trace.h"
#include "myco_int.h"

#ifdef HAVE_LTTNG
#include "lttng_tp.h"
#endif

static int opt_json, opt_quick;
static const char *opt_only;
static double tsc_ghz;
static int lttng_on;                /* a session records myco_bench:ev */

static int want(const char *s) { return !opt_only || !strcmp(opt_only, s); }

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opt_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void json(const char *bench, const char *sys, const char *metric,
		 double value, const char *unit, const char *extra)
{
	if (!opt_json)
		return;
	printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\",\"value\":%.3f,"
	       "\"unit\":\"%s\"%s%s}\n", bench, sys, metric, value, unit,
	       extra && *extra ? "," : "", extra ? extra : "");
	fflush(stdout);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof s, &s);
}

static void calibrate(void)
{
	uint64_t t0 = myco_now(), c0 = __rdtsc(), t1;

	do
		t1 = myco_now();
	while (t1 - t0 < 100000000u);
	tsc_ghz = (double)(__rdtsc() - c0) / (double)(t1 - t0);
}

/* ------------------------------------------------------------------ */
/* 1. cost per event                                                   */
/* ------------------------------------------------------------------ */

enum sys { S_LOOP, S_MYCO_ON, S_MYCO_OFF, S_LTTNG_ON, S_LTTNG_OFF, S_FPRINTF,
	   S_SYSLOG, S_N };
static const char *const sys_name[S_N] = {
	"loop", "myco", "myco-disabled", "lttng-ust", "lttng-ust-disabled",
	"fprintf", "syslog",
};
static FILE *fp_out;
static int syslog_ok;

/* N events of SYS; returns elapsed TSC cycles. */
static __attribute__((noinline)) uint64_t run_events(enum sys s, uint64_t n)
{
	uint64_t c0 = __rdtsc();

	switch (s) {
	case S_LOOP:
		for (uint64_t i = 0; i < n; i++)
			__asm__ volatile("" ::"r"(i) : "memory");
		break;
	case S_MYCO_ON:
	case S_MYCO_OFF:
		for (uint64_t i = 0; i < n; i++) {
			MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_SEND, 3, i, 64);
			__asm__ volatile("" ::"r"(i) : "memory");
		}
		break;
#ifdef HAVE_LTTNG
	case S_LTTNG_ON:
		for (uint64_t i = 0; i < n; i++) {
			lttng_ust_tracepoint(myco_bench, ev, 3, i, 64);
			__asm__ volatile("" ::"r"(i) : "memory");
		}
		break;
	case S_LTTNG_OFF:
		for (uint64_t i = 0; i < n; i++) {
			lttng_ust_tracepoint(myco_bench, off, 3, i, 64);
			__asm__ volatile("" ::"r"(i) : "memory");
		}
		break;
#endif
	case S_FPRINTF:
		for (uint64_t i = 0; i < n; i++)
			fprintf(fp_out, "%" PRIu64 " chan.send %d %" PRIu64 " %d\n",
				myco_now(), 3, i, 64);
		break;
	case S_SYSLOG:
		for (uint64_t i = 0; i < n; i++)
			syslog(LOG_INFO, "chan.send %d %" PRIu64 " %d", 3, i, 64);
		break;
	default:
		break;
	}
	return __rdtsc() - c0;
}

/* syslog receiver: bind /dev/log when nothing does, drain it in a thread. */
static int syslog_fd = -1;
static _Atomic int syslog_stop;
static void *syslog_drain(void *arg)
{
	char buf[2048];

	(void)arg;
	while (!atomic_load(&syslog_stop))
		if (recv(syslog_fd, buf, sizeof buf, 0) < 0 && errno != EINTR &&
		    errno != EAGAIN)
			break;
	return NULL;
}
static pthread_t syslog_th;
static int syslog_setup(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	struct stat st;

	if (stat("/dev/log", &st) == 0)
		return 1;                    /* a syslog daemon is there */
	syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (syslog_fd < 0 || bind(syslog_fd, (struct sockaddr *)&a, sizeof a) < 0)
		return 0;
	struct timeval tv = { 0, 100000 };
	setsockopt(syslog_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int big = 4 << 20;
	setsockopt(syslog_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	pthread_create(&syslog_th, NULL, syslog_drain, NULL);
	return 2;
}
static void syslog_teardown(void)
{
	if (syslog_fd < 0)
		return;
	atomic_store(&syslog_stop, 1);
	pthread_join(syslog_th, NULL);
	close(syslog_fd);
	unlink("/dev/log");
}

static void bench_events(void)
{
	uint64_t n = opt_quick ? 100000 : 400000;
	int rounds = opt_quick ? 5 : 11;
	static double ns[S_N][64];
	myco_trace_config_t cfg = { .nrings = 4, .depth = 1u << 16,
				    .policy = MYCO_TRACE_OVERWRITE, .enable = MYCO_TRACE_ALL };
	char tmpl[] = "/tmp/myco-bench-trace-XXXXXX";
	int fd, tfd;

	if (myco_trace_create(&cfg, &tfd) < 0 || myco_trace_attach(tfd) < 0) {
		fprintf(stderr, "trace region: failed\n");
		exit(1);
	}
	fd = mkstemp(tmpl);
	fp_out = fdopen(fd, "w");
	setvbuf(fp_out, NULL, _IOFBF, 1 << 20);
	int sl = syslog_setup();
	syslog_ok = sl != 0;
	openlog("myco-bench-trace", LOG_NDELAY, LOG_USER);
	say("\n1. cost per event (%" PRIu64 " events x %d rounds, one thread on cpu 0)\n"
	    "   myco: overwrite ring of 65536 events, TSC stamps; lttng-ust %s;\n"
	    "   fprintf: 1 MiB stdio buffer to a file in /tmp; syslog: %s\n",
	    n, rounds,
	    lttng_on ? "2.13, snapshot session (overwrite), per-UID buffers"
		     : "not measured (no session daemon or not built)",
	    sl == 2 ? "to a receiver bound at /dev/log by the benchmark"
		    : sl == 1 ? "to the running syslog daemon" : "not measured");
	pin(0);
	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < S_N; s++) {
			if ((s == S_LTTNG_ON || s == S_LTTNG_OFF) && !lttng_on)
				continue;
			if (s == S_SYSLOG && !syslog_ok)
				continue;
			myco_trace_set_enable(tfd, s == S_MYCO_OFF ? 0 : MYCO_TRACE_ALL);
			uint64_t m = s == S_SYSLOG ? n / 20 : n;
			uint64_t c = run_events((enum sys)s, m);
			ns[s][r] = (double)c / tsc_ghz / (double)m;
		}
	}
	fflush(fp_out);
	say("   %-20s %10s %10s %10s %12s %10s\n", "system", "ns p50", "ns min",
	    "ns max", "cycles p50", "vs myco");
	for (int s = 0; s < S_N; s++)
		qsort(ns[s], (size_t)rounds, sizeof(double), cmp_d);
	double loop = ns[S_LOOP][rounds / 2];
	double myco_p50 = ns[S_MYCO_ON][rounds / 2] - loop;
	for (int s = 1; s < S_N; s++) {
		if ((s == S_LTTNG_ON || s == S_LTTNG_OFF) && !lttng_on)
			continue;
		if (s == S_SYSLOG && !syslog_ok)
			continue;
		double p50 = ns[s][rounds / 2] - loop, mn = ns[s][0] - loop,
		       mx = ns[s][rounds - 1] - loop;
		if (p50 < 0)
			p50 = 0;
		if (mn < 0)
			mn = 0;
		say("   %-20s %10.2f %10.2f %10.2f %12.1f %9.2fx\n", sys_name[s], p50, mn,
		    mx, p50 * tsc_ghz, myco_p50 > 0 ? p50 / myco_p50 : 0);
		json("trace.event", sys_name[s], "p50", p50, "ns", "\"args\":3");
		json("trace.event", sys_name[s], "min", mn, "ns", "\"args\":3");
		json("trace.event", sys_name[s], "max", mx, "ns", "\"args\":3");
		json("trace.event", sys_name[s], "p50_cycles", p50 * tsc_ghz, "cycles",
		     "\"args\":3");
	}
	say("   (empty loop %.2f ns/iteration subtracted)\n", loop);
	syslog_teardown();
	closelog();
	fclose(fp_out);
	unlink(tmpl);
	myco_trace_set_enable(tfd, 0);
	close(tfd);
}

/* ------------------------------------------------------------------ */
/* 2. channel throughput with tracepoints on / off                      */
/* ------------------------------------------------------------------ */

struct tp_arg { myco_chan_owner_t *o; uint64_t dur_ns; uint64_t count; _Atomic int *go; };

static void *tp_consumer(void *p)
{
	struct tp_arg *a = p;
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(a->o, MYCO_CHAN_CONSUMER, 0, fds, MYCO_CHAN_MAX_FDS);
	myco_chan_t *rx;
	myco_chan_msg_t m[64];
	uint64_t got = 0;

	pin(1);
	if (n < 0 || myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0, NULL, &rx))
		exit(3);
	atomic_store(a->go, 1);
	for (;;) {
		int k = myco_chan_recv_batch(rx, m, 64, 200000000);
		if (k == -ETIMEDOUT || k == -EAGAIN)
			continue;       /* the producer was descheduled (loaded machine) */
		if (k <= 0)
			break;
		if (((const uint64_t *)m[k - 1].data)[0] == UINT64_MAX) {
			got += (uint64_t)k - 1;
			myco_chan_done(rx, &m[k - 1]);
			break;
		}
		got += (uint64_t)k;
		myco_chan_done(rx, &m[k - 1]);
	}
	a->count = got;
	myco_chan_close(rx);
	return NULL;
}

/* Messages per second through one SPSC channel for DUR_NS. */
static double tp_run(uint64_t dur_ns)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	_Atomic int go = 0;
	struct tp_arg a = { .dur_ns = dur_ns, .go = &go };
	pthread_t th;
	int fds[MYCO_CHAN_MAX_FDS];
	myco_chan_t *tx;
	char msg[64] = { 0 };
	uint64_t sent = 0, t0, t1;

	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = 64;
	c.depth = 1024;
	if (myco_chan_create(&c, &o))
		exit(3);
	a.o = o;
	pthread_create(&th, NULL, tp_consumer, &a);
	int n = myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
	if (n < 0 || myco_chan_attach(fds, (size_t)n, MYCO_CHAN_PRODUCER, 0, NULL, &tx))
		exit(3);
	while (!atomic_load(&go))
		sched_yield();
	t0 = myco_now();
	do {
		for (int i = 0; i < 256; i++) {
			memcpy(msg, &sent, 8);
			if (myco_chan_send(tx, msg, 64))
				exit(4);
			sent++;
		}
		t1 = myco_now();
	} while (t1 - t0 < dur_ns);
	uint64_t end = UINT64_MAX;
	memcpy(msg, &end, 8);
	myco_chan_send(tx, msg, 64);
	pthread_join(th, NULL);
	myco_chan_close(tx);
	myco_chan_owner_close(o);
	return (double)a.count / ((double)(t1 - t0) / 1e9);
}

static void bench_throughput(void)
{
	int rounds = opt_quick ? 5 : 9;
	uint64_t dur = opt_quick ? 200000000u : 500000000u;
	double on[32], off[32];
	myco_trace_config_t cfg = { .nrings = 4, .depth = 1u << 16,
				    .policy = MYCO_TRACE_OVERWRITE, .enable = 0 };
	int tfd;

	if (myco_trace_create(&cfg, &tfd) < 0 || myco_trace_attach(tfd) < 0)
		exit(1);
	say("\n2. channel throughput, 64-byte messages, SPSC depth 1024, producer cpu 0,"
	    " consumer cpu 1, %d rounds of %.1f s\n", rounds, (double)dur / 1e9);
	pin(0);
	for (int r = 0; r < rounds; r++) {
		myco_trace_set_enable(tfd, 0);
		off[r] = tp_run(dur);
		myco_trace_set_enable(tfd, MYCO_TRACE_CHAN | MYCO_TRACE_RT | MYCO_TRACE_SCHED);
		on[r] = tp_run(dur);
	}
	myco_trace_set_enable(tfd, 0);
	qsort(on, (size_t)rounds, sizeof(double), cmp_d);
	qsort(off, (size_t)rounds, sizeof(double), cmp_d);
	double mon = on[rounds / 2], moff = off[rounds / 2];
	say("   %-22s %12s %12s %12s\n", "tracepoints", "msg/s p50", "min", "max");
	say("   %-22s %12.0f %12.0f %12.0f\n", "off", moff, off[0], off[rounds - 1]);
	say("   %-22s %12.0f %12.0f %12.0f\n", "chan+rt+sched on", mon, on[0], on[rounds - 1]);
	say("   lost with tracing on: %.1f%%\n", (1 - mon / moff) * 100);
	json("trace.ipc_throughput", "myco-trace-off", "throughput", moff, "msg/s", "\"size\":64");
	json("trace.ipc_throughput", "myco-trace-on", "throughput", mon, "msg/s", "\"size\":64");
	json("trace.ipc_throughput", "myco-trace-on", "loss", (1 - mon / moff) * 100, "%",
	     "\"size\":64");
	close(tfd);
}

/* ------------------------------------------------------------------ */
/* 3. collector CPU at 1 M events/s                                     */
/* ------------------------------------------------------------------ */

static _Atomic int coll_stop;
static void *coll_writer(void *arg)
{
	uint64_t rate = (uint64_t)(uintptr_t)arg, i = 0;
	uint64_t t0 = myco_now();

	pin(0);
	while (!atomic_load(&coll_stop)) {
		/* bursts of 100 every 100 us = 1 M/s */
		uint64_t due = (myco_now() - t0) * rate / 1000000000u;
		while (i < due) {
			myco_trace_emit(MYCO_EV_CHAN_SEND, 3, i, 64, NULL);
			i++;
		}
		struct timespec d = { 0, 100000 };
		nanosleep(&d, NULL);
	}
	return (void *)(uintptr_t)i;
}

static void bench_collector(void)
{
	uint64_t dur = opt_quick ? 1000000000u : 3000000000u, rate = 1000000;
	myco_trace_config_t cfg = { .nrings = 2, .depth = 1u << 14,
				    .policy = MYCO_TRACE_OVERWRITE, .enable = MYCO_TRACE_ALL };
	static myco_trace_event_t ev[1024];
	myco_trace_reader_t *r;
	struct timespec c0, c1;
	pthread_t th;
	uint64_t got = 0;
	int tfd;

	if (myco_trace_create(&cfg, &tfd) < 0 || myco_trace_attach(tfd) < 0 ||
	    myco_trace_reader_open(tfd, &r) < 0)
		exit(1);
	say("\n3. collector: one writer at %" PRIu64 " events/s (cpu 0), the reader drains "
	    "every 1 ms (cpu 1) for %.0f s\n", rate, (double)dur / 1e9);
	pin(1);
	atomic_store(&coll_stop, 0);
	pthread_create(&th, NULL, coll_writer, (void *)(uintptr_t)rate);
	uint64_t t0 = myco_now();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	while (myco_now() - t0 < dur) {
		size_t n;
		while ((n = myco_trace_read(r, ev, 1024)) > 0)
			got += n;
		struct timespec d = { 0, 1000000 };
		nanosleep(&d, NULL);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	uint64_t wall = myco_now() - t0;
	atomic_store(&coll_stop, 1);
	void *wr;
	pthread_join(th, &wr);
	myco_trace_stats_t st;
	myco_trace_reader_stats(r, &st);
	double cpu = (double)((c1.tv_sec - c0.tv_sec) * 1000000000ll + (c1.tv_nsec - c0.tv_nsec));
	double share = cpu / (double)wall * 100;
	say("   events read %" PRIu64 " (%.2f M/s), lost %" PRIu64 ", written %" PRIu64 "\n",
	    got, (double)got / ((double)wall / 1e9) / 1e6, st.lost, (uint64_t)(uintptr_t)wr);
	say("   collector CPU: %.2f%% of one core (%.1f ns per event)\n", share,
	    got ? cpu / (double)got : 0);
	json("trace.collector", "myco", "cpu", share, "%", "\"rate\":1000000");
	json("trace.collector", "myco", "ns_per_event", got ? cpu / (double)got : 0, "ns",
	     "\"rate\":1000000");
	myco_trace_reader_close(r);
	close(tfd);
}

/* ------------------------------------------------------------------ */
/* LTTng session control (lttng-tools), when installed                  */
/* ------------------------------------------------------------------ */

static char lttng_home[64];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Start a private session daemon and a snapshot session recording
 * myco_bench:ev, then re-exec ourselves so that lttng-ust registers with
 * it at start-up.  Returns only in the child (or when LTTng is missing). */
static void lttng_start(char **argv)
{
#ifdef HAVE_LTTNG
	if (getenv("MYCO_BENCH_LTTNG_CHILD")) {
		lttng_on = atoi(getenv("MYCO_BENCH_LTTNG_CHILD"));
		return;
	}
	if (sh("command -v lttng-sessiond >/dev/null 2>&1 && command -v lttng >/dev/null 2>&1")) {
		setenv("MYCO_BENCH_LTTNG_CHILD", "0", 1);
		return;
	}
	strcpy(lttng_home, "/tmp/myco-bench-lttng-XXXXXX");
	if (!mkdtemp(lttng_home)) {
		setenv("MYCO_BENCH_LTTNG_CHILD", "0", 1);
		return;
	}
	setenv("LTTNG_HOME", lttng_home, 1);
	int ok = sh("lttng-sessiond --daemonize --no-kernel --pidfile=%s/sessiond.pid "
		    ">/dev/null 2>&1", lttng_home) == 0 &&
		 sh("lttng create myco-bench --snapshot --output=%s/out >/dev/null 2>&1",
		    lttng_home) == 0 &&
		 sh("lttng enable-event -u -s myco-bench 'myco_bench:ev' >/dev/null 2>&1") == 0 &&
		 sh("lttng start myco-bench >/dev/null 2>&1") == 0;
	setenv("MYCO_BENCH_LTTNG_CHILD", ok ? "1" : "0", 1);
	pid_t pid = fork();
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int st = 1;
	waitpid(pid, &st, 0);
	sh("lttng destroy myco-bench >/dev/null 2>&1");
	/* stop the session daemon we started, by its pid */
	char pf[128];
	snprintf(pf, sizeof pf, "%s/sessiond.pid", lttng_home);
	FILE *f = fopen(pf, "r");
	int spid = 0;
	if (f) {
		if (fscanf(f, "%d", &spid) != 1)
			spid = 0;
		fclose(f);
	}
	if (spid > 1) {
		kill(spid, SIGTERM);
		for (int i = 0; i < 50 && kill(spid, 0) == 0; i++)
			usleep(100000);
	}
	sh("rm -rf %s", lttng_home);
	exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
#else
	(void)argv;
#endif
}

int main(int argc, char **argv)
{
	struct utsname u;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt_json = 1;
		else if (!strcmp(argv[i], "--quick"))
			opt_quick = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			opt_only = argv[++i];
		else {
			fprintf(stderr, "usage: myco-bench-trace [--json] [--quick] "
				"[--only event|ipc|collector]\n");
			return 2;
		}
	}
	lttng_start(argv);
	calibrate();
	uname(&u);
	say("myco-bench-trace: %s %s, %ld cpus, TSC %.3f GHz\n", u.sysname, u.release,
	    sysconf(_SC_NPROCESSORS_ONLN), tsc_ghz);
	if (want("event"))
		bench_events();
	if (want("ipc"))
		bench_throughput();
	if (want("collector"))
		bench_collector();
	return 0;
}
