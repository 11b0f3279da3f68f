/*
 * bench_replay.c: myco-bench-replay, the cost of record and replay
 * (docs/replay.md).  Two processes on two channels (the bench-ipc shapes,
 * 16-byte messages): a stream (throughput) and a ping-pong (round trip),
 * each with recording off and on, interleaved A B A B.  With recording on
 * both processes record into their own ring and a drain thread of this
 * process copies the rings into real logs on a 10 ms tick, as the
 * executive does.  Then the stream consumer's log is replayed in a fresh
 * process (replay speed against the original consumer), and the log bytes
 * per message are reported.  rr: whether `rr record` works on this host.
 * And the hook's own cost in one thread (send + receive + done, recording
 * off and on; the executive's 8 MiB ring).  Human table on stdout; --json one JSON object per figure;
 * --quick a short run; --hook only the hook's cost.  Not a test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco_int.h"
#include "replay.h"
#include "rlog.h"

static int json, hook_only;
static uint64_t N_STREAM = 2000000, N_RT = 200000;
static char dir[256];

struct res {
	uint64_t ns;            /* consumer's loop time */
	uint64_t p50;           /* round trip */
	uint64_t overruns;      /* records the rings refused (both sides) */
};

/* The record ring of each side: larger than the executive's 8 MiB so that
 * a drain thread starved by a loaded machine does not make the stream run
 * lose records (their count is reported). */
#define RING_BYTES (64u << 20)

static volatile int draining;
static struct myco__ring_rd *rds[2];
static struct myco__rlog_w *ws[2];

static int to_log(void *arg, uint16_t type, uint16_t chan, const uint8_t *b, uint32_t len)
{
	return myco__rlog_append(arg, type, chan, b, len);
}

static void *drainer(void *arg)
{
	(void)arg;
	while (draining) {
		for (int i = 0; i < 2; i++)
			if (rds[i]) {
				myco__ring_drain(rds[i], 0, to_log, ws[i]);
				myco__rlog_flush(ws[i]);
			}
		usleep(10000);
	}
	for (int i = 0; i < 2; i++)
		if (rds[i]) {
			myco__ring_drain(rds[i], 1, to_log, ws[i]);
			myco__rlog_flush(ws[i]);
		}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void open_end(myco_chan_owner_t *o, myco_chan_role_t role, const char *name, int rec,
		     myco_chan_t **ch)
{
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, 0, fds, MYCO_CHAN_MAX_FDS);
	if (n < 0 || myco_chan_attach(fds, (size_t)n, role, 0, NULL, ch) < 0)
		exit(2);
	myco_chan_set_spin(*ch, 1u << 30);      /* bench-ipc's myco-spin shape */
	if (rec)
		myco__rec_opened(name, 0, *ch);
}

/* One run: side 0 consumer/echo, side 1 producer/pinger. */
static struct res run(int rt, int rec, int keep_log, char *logdir, size_t cap)
{
	myco_chan_config_t cfg;
	myco_chan_owner_t *a, *b;
	int rfd[2] = { -1, -1 };
	struct res *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = 16;
	cfg.depth = 1024;
	if (myco_chan_create(&cfg, &a) < 0 || myco_chan_create(&cfg, &b) < 0)
		exit(2);
	if (rec) {
		for (int i = 0; i < 2; i++) {
			char d[300];
			snprintf(d, sizeof d, "%s/side%d", logdir, i);
			struct myco__rlog_cfg lc = { .dir = d, .partition = "bench",
						     .max_bytes = 1ull << 30 };
			if (myco__ring_create(RING_BYTES, "bench-rec", &rfd[i]) < 0 ||
			    myco__ring_open(rfd[i], &rds[i]) < 0 || myco__rlog_open(&lc, &ws[i]) < 0)
				exit(2);
			myco__ring_enable(rds[i], 1);
		}
	}
	pthread_t th;
	draining = 1;
	pthread_create(&th, NULL, drainer, NULL);
	pid_t pid[2];
	for (int side = 0; side < 2; side++) {
		pid[side] = fork();
		if (pid[side])
			continue;
		myco_chan_t *in, *out;
		if (rec && myco__rec_attach(rfd[side]) < 0)
			_exit(3);
		if (side == 0) {
			open_end(a, MYCO_CHAN_CONSUMER, "ping", rec, &in);
			open_end(b, MYCO_CHAN_PRODUCER, "pong", rec, &out);
		} else {
			open_end(a, MYCO_CHAN_PRODUCER, "ping", rec, &out);
			open_end(b, MYCO_CHAN_CONSUMER, "pong", rec, &in);
		}
		uint64_t n = rt ? N_RT : N_STREAM, t0 = 0;
		uint64_t *lat = side == 1 && rt ? malloc(n * sizeof *lat) : NULL;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t m[2] = { i + 1, 0 };
			myco_chan_msg_t msg;
			if (side == 0) {
				while (myco_chan_recv(in, &msg, 1000000000ll) < 0)
					;
				if (i == 0)
					t0 = myco__now_raw();
				memcpy(m, msg.data, sizeof m);
				myco_chan_done(in, &msg);
				if (rt)
					while (myco_chan_send(out, m, sizeof m) < 0)
						;
			} else {
				uint64_t s = myco__now_raw();
				while (myco_chan_send(out, m, sizeof m) < 0)
					;
				if (rt) {
					while (myco_chan_recv(in, &msg, 1000000000ll) < 0)
						;
					myco_chan_done(in, &msg);
					lat[i] = myco__now_raw() - s;
				}
			}
		}
		if (side == 0)
			shared->ns = myco__now_raw() - t0;
		if (lat) {
			qsort(lat, n, sizeof *lat, cmp_u64);
			shared->p50 = lat[n / 2];
		}
		_exit(0);
	}
	for (int side = 0; side < 2; side++)
		waitpid(pid[side], NULL, 0);
	draining = 0;
	pthread_join(th, NULL);
	struct res r = *shared;
	for (int i = 0; i < 2; i++) {
		if (rds[i]) {
			struct myco__ring_counts c;
			myco__ring_counts(rds[i], &c);
			r.overruns += c.overruns;
		}
		if (ws[i])
			myco__rlog_close(ws[i], !keep_log);
		if (rds[i])
			myco__ring_close(rds[i]);
		if (rfd[i] >= 0)
			close(rfd[i]);
		ws[i] = NULL;
		rds[i] = NULL;
	}
	(void)cap;
	myco_chan_owner_close(a);
	myco_chan_owner_close(b);
	munmap(shared, 4096);
	return r;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The hook's own cost, one thread (no cross-core traffic to hide it): a
 * process sends, receives and marks done on one channel, recording off or
 * on, in blocks of 1000; the median block (a loaded machine preempts some
 * blocks; the median is the hook, not the scheduler).  The ring (64 MiB)
 * holds every record of the run, so no drain thread competes for a core
 * while it runs; it is drained into a real log afterwards.  Returns ns per
 * send + receive + done. */
#define HOOK_BLOCK 1000u
#define HOOK_BLOCKS 400u        /* 800 000 records of 64 bytes: inside the ring */
static double hook_cost(int rec, const char *logdir)
{
	myco_chan_config_t cfg;
	myco_chan_owner_t *a;
	int rfd = -1;
	double *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = 16;
	cfg.depth = 1024;
	if (myco_chan_create(&cfg, &a) < 0)
		exit(2);
	if (rec) {
		struct myco__rlog_cfg lc = { .dir = logdir, .partition = "bench",
					     .max_bytes = 1ull << 30 };
		if (myco__ring_create(RING_BYTES, "bench-rec", &rfd) < 0 ||
		    myco__ring_open(rfd, &rds[0]) < 0 || myco__rlog_open(&lc, &ws[0]) < 0)
			exit(2);
		myco__ring_enable(rds[0], 1);
	}
	pid_t pid = fork();
	if (pid == 0) {
		myco_chan_t *in, *out;
		if (rec && myco__rec_attach(rfd) < 0)
			_exit(3);
		open_end(a, MYCO_CHAN_PRODUCER, "tx", rec, &out);
		open_end(a, MYCO_CHAN_CONSUMER, "rx", rec, &in);
		static double blk[HOOK_BLOCKS];
		for (uint64_t b = 0; b < HOOK_BLOCKS + 10; b++) {  /* 10 to warm up */
			uint64_t t0 = myco__now_raw();
			for (uint64_t i = 0; i < HOOK_BLOCK; i++) {
				uint64_t m[2] = { i + 1, 0 };
				myco_chan_msg_t msg;
				if (myco_chan_send(out, m, sizeof m) < 0 ||
				    myco_chan_recv(in, &msg, 0) < 0)
					_exit(4);
				myco_chan_done(in, &msg);
			}
			if (b >= 10)
				blk[b - 10] = (double)(myco__now_raw() - t0) / HOOK_BLOCK;
		}
		qsort(blk, HOOK_BLOCKS, sizeof blk[0], cmp_dbl);
		*shared = blk[HOOK_BLOCKS / 2];
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	draining = 1;          /* the drain thread's last pass only */
	pthread_t th;
	pthread_create(&th, NULL, drainer, NULL);
	draining = 0;
	pthread_join(th, NULL);
	double r = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? *shared : -1;
	if (ws[0])
		myco__rlog_close(ws[0], 1);
	if (rds[0])
		myco__ring_close(rds[0]);
	if (rfd >= 0)
		close(rfd);
	ws[0] = NULL;
	rds[0] = NULL;
	myco_chan_owner_close(a);
	munmap(shared, 4096);
	return r;
}

/* Replay side 0 of a stream log in a fresh process: its loop time. */
static uint64_t replay(const char *log)
{
	uint64_t *t = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t p = fork();
	if (p == 0) {
		char err[256];
		myco_chan_t *in, *out;
		if (myco__rec_replay_init(log, err, sizeof err) < 0) {
			fprintf(stderr, "replay: %s\n", err);
			_exit(3);
		}
		if (myco__rec_replay_open("ping", &in) < 0 || myco__rec_replay_open("pong", &out) < 0)
			_exit(3);
		uint64_t t0 = 0;
		for (uint64_t i = 0; i < N_STREAM; i++) {
			myco_chan_msg_t msg;
			uint64_t m[2];
			while (myco_chan_recv(in, &msg, 1000000000ll) < 0)
				;
			if (i == 0)
				t0 = myco__now_raw();
			memcpy(m, msg.data, sizeof m);
			myco_chan_done(in, &msg);
		}
		*t = myco__now_raw() - t0;
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	uint64_t r = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? *t : 0;
	munmap(t, 4096);
	return r;
}

static uint64_t dir_bytes(const char *d)
{
	char cmd[512], buf[64] = "0";
	snprintf(cmd, sizeof cmd, "du -sb %s | cut -f1", d);
	FILE *f = popen(cmd, "r");
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		pclose(f);
	}
	return strtoull(buf, NULL, 10);
}

static void fig(const char *name, double v, const char *unit)
{
	if (json)
		printf("{\"bench\":\"replay\",\"figure\":\"%s\",\"value\":%.3f,\"unit\":\"%s\"}\n",
		       name, v, unit);
	else
		printf("  %-44s %12.3f %s\n", name, v, unit);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--hook"))
			hook_only = 1;
		else if (!strcmp(argv[i], "--quick")) {
			N_STREAM = 200000;
			N_RT = 20000;
		} else {
			fprintf(stderr, "usage: myco-bench-replay [--json] [--quick] [--hook]\n");
			return 2;
		}
	}
	snprintf(dir, sizeof dir, "/tmp/myco-bench-replay-%d", (int)getpid());
	mkdir(dir, 0700);
	if (!json)
		printf("myco-bench-replay: 2 processes, queue depth 1024, 16-byte messages, spinning receivers (bench-ipc's myco-spin); "
		       "stream %llu msgs, round trip %llu; record ring 64 MiB per side, drained every 10 ms "
		       "into a log in %s; order off on off on\n",
		       (unsigned long long)N_STREAM, (unsigned long long)N_RT, dir);
	double tp[2] = { 0, 0 }, p50[2] = { 0, 0 };
	int reps = hook_only ? 0 : 2;
	char keep[400] = "";
	uint64_t orig_ns = 0, lost = 0, lost_keep = 0;
	for (int k = 0; k < reps; k++)
		for (int rec = 0; rec < 2; rec++) {
			char d[300];
			snprintf(d, sizeof d, "%s/run%d%d", dir, k, rec);
			mkdir(d, 0700);
			int last = rec && k == reps - 1;
			struct res s = run(0, rec, last, d, 0);
			lost += s.overruns;
			if (last)
				lost_keep = s.overruns;
			tp[rec] += (double)N_STREAM / ((double)s.ns / 1e9) / reps;
			if (last) {
				snprintf(keep, sizeof keep, "%s/side0", d);
				orig_ns = s.ns;
			}
			struct res r = run(1, rec, 0, d, 0);
			p50[rec] += (double)r.p50 / reps;
			lost += r.overruns;
		}
	if (hook_only)
		goto hook;
	fig("stream throughput, recording off", tp[0] / 1e6, "Mmsg/s");
	fig("stream throughput, recording on", tp[1] / 1e6, "Mmsg/s");
	fig("throughput lost to recording", 100.0 * (1 - tp[1] / tp[0]), "%");
	fig("round trip p50, recording off", p50[0], "ns");
	fig("round trip p50, recording on", p50[1], "ns");
	fig("round trip p50 added by recording", p50[1] - p50[0], "ns");
	fig("records lost to ring overruns (all runs)", (double)lost, "records");
	uint64_t bytes = dir_bytes(keep);
	fig("log bytes per message (consumer side)", (double)bytes / (double)N_STREAM, "B");
	uint64_t rp = lost_keep ? 0 : replay(keep);
	if (rp) {
		fig("consumer loop, original run (recording on)", (double)orig_ns / 1e6, "ms");
		fig("consumer loop, replay", (double)rp / 1e6, "ms");
		fig("replay speed / original", (double)orig_ns / (double)rp, "x");
	} else {
		fig(lost_keep ? "replay not run: the kept log lost records" : "replay failed", 0, "-");
	}
hook:;
	/* the hook alone: the median of 5 runs per side, interleaved */
	double hk[2], hv[2][5];
	for (int k = 0; k < 5; k++)
		for (int rec = 0; rec < 2; rec++) {
			char d[300];
			snprintf(d, sizeof d, "%s/hook%d%d", dir, k, rec);
			hv[rec][k] = hook_cost(rec, d);
		}
	for (int rec = 0; rec < 2; rec++) {
		qsort(hv[rec], 5, sizeof hv[rec][0], cmp_dbl);
		hk[rec] = hv[rec][2];
	}
	fig("one thread: send+recv+done, recording off", hk[0], "ns");
	fig("one thread: send+recv+done, recording on", hk[1], "ns");
	fig("one thread: added by recording (2 records)", hk[1] - hk[0], "ns");
	if (hook_only)
		return 0;
	int rr = system("rr record -o /tmp/myco-bench-rr-probe /bin/true >/dev/null 2>&1");
	if (json)
		printf("{\"bench\":\"replay\",\"figure\":\"rr record works\",\"value\":%d,\"unit\":\"bool\"}\n",
		       rr == 0);
	else
		printf("  rr record on this host: %s\n", rr == 0 ? "works" :
		       "does not run (no hardware performance counters: perf_event_open fails)");
	char cmd[320];
	snprintf(cmd, sizeof cmd, "rm -rf %s /tmp/myco-bench-rr-probe", dir);
	if (system(cmd) != 0) {
		/* left behind: harmless */
	}
	return 0;
}
