/*
 * chaos_part.c: the partitions of the chaos soak (tests/integration/chaos,
 * `make soak`), one program in three roles (CHAOS_ROLE), each surviving
 * its own kill -9 with what it keeps in CHAOS_DIR (a declared rw path);
 * CHAOS_IN and CHAOS_OUT name its channels (default `in`, `out`):
 *
 *   src    sends {seq, seq * K} on `out` with seq = 1, 2, ... up to
 *          CHAOS_COUNT, at most CHAOS_RATE a second (0 = as fast as the
 *          channel takes them), with CHAOS_GATE=1 only once the file `go`
 *          exists in CHAOS_DIR; after each send it stores the next seq in
 *          src.seq, so a replacement resumes there (a kill between the
 *          send and the store re-sends one: a duplicate the sink absorbs).
 *   relay  forwards `in` to `out`: recv, send, then done (at-least-once).
 *   sink   the receiving partition that counts: it accepts each seq once,
 *          appending it to sink.log (one 8-byte write: a kill never tears
 *          it) BEFORE it marks the message done; a replacement rebuilds
 *          its set of seen seqs from that log.  A seq seen again is a
 *          duplicate it absorbs (counted), a payload whose check fails is
 *          corrupt (counted, not accepted).  It keeps sink.sum current
 *          (accepted, duplicates absorbed, corrupt, highest seq, missing
 *          below the highest) and the same as metrics (seq_accepted, seq_absorbed, seq_corrupt, seq_lost,
 *          seq_duplicated: what the verdict of `myco chaos run` reads).
 *
 *   sys    no channels: a loop of its own system calls, made directly
 *          with syscall(2) (not through libmyco): write one byte to a
 *          pipe it made, read it back, nanosleep 10 ms.  It counts the
 *          calls of each kind that took at least CHAOS_SLOW_MS (what a
 *          `slowsys` fault of that delay must make every slowed call take)
 *          and keeps them in sys.stat ("n=N write=N read=N nanosleep=N").
 *   answer serves the call channel `svc` (a request {v, v*K} is answered
 *          {v, v*K}) and writes {n, n*K} to the sample channel `st` every
 *          10 ms.
 *   ask    calls `svc` (timeout 100 ms) and reads `st` in a loop, and
 *          keeps ask.stat: calls, ok, timeouts, bad (an answer whose check
 *          fails: corrupted), samples, sbad (a value whose check fails),
 *          still (the longest time in ms from the first read of a write
 *          to the first read of a newer one).
 *
 * The test reads sink.log and src.seq after the run: every seq the source
 * sent must be in the log exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "myco/trace.h"

#define K 0x9e3779b97f4a7c15ull

struct msg {
	uint64_t seq;
	uint64_t check;
};

static const char *dir;

static int open_in_dir(const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags | O_CLOEXEC, 0644);
}

static uint64_t env_u64(const char *k, uint64_t dflt)
{
	const char *v = getenv(k);

	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static int src(void)
{
	myco_chan_t *out;
	uint64_t next = 1, count = env_u64("CHAOS_COUNT", 0), rate = env_u64("CHAOS_RATE", 0);
	uint64_t t0, sent = 0;
	bool gate;
	int fd = open_in_dir("src.seq", O_RDWR | O_CREAT);

	if (fd < 0 || myco_chan_open(getenv("CHAOS_OUT") ? getenv("CHAOS_OUT") : "out", &out) < 0) {
		fprintf(stderr, "src: %s\n", fd < 0 ? strerror(errno) : myco_part_errmsg());
		return 1;
	}
	if (pread(fd, &next, sizeof(next), 0) != (ssize_t)sizeof(next) || next == 0)
		next = 1;
	gate = getenv("CHAOS_GATE") && !strcmp(getenv("CHAOS_GATE"), "1");
	printf("src: starting at seq %" PRIu64 "\n", next);
	fflush(stdout);
	myco_ready();
	t0 = myco_now();
	for (;;) {
		myco_heartbeat();
		if (count && next > count) {
			usleep(20000);
			continue;
		}
		if (gate) {
			/* CHAOS_GATE=1: nothing is sent before the test creates
			 * the file `go` (after its experiment started) */
			int g = open_in_dir("go", O_RDONLY);

			if (g < 0) {
				usleep(10000);
				t0 = myco_now();
				continue;
			}
			close(g);
			gate = false;
		}
		if (rate && sent * 1000000000ull / rate > myco_now() - t0) {
			usleep(1000);
			continue;
		}
		struct msg m = { next, next * K };
		int rc = myco_chan_send_timeout(out, &m, sizeof(m), 50000000);

		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "src: send: %s\n", myco_strerror(rc));
			return 1;
		}
		next++;
		sent++;
		if (pwrite(fd, &next, sizeof(next), 0) != (ssize_t)sizeof(next)) {
			fprintf(stderr, "src: store: %s\n", strerror(errno));
			return 1;
		}
	}
}

static int relay(void)
{
	myco_chan_t *in, *out;

	if (myco_chan_open(getenv("CHAOS_IN") ? getenv("CHAOS_IN") : "in", &in) < 0 ||
	    myco_chan_open(getenv("CHAOS_OUT") ? getenv("CHAOS_OUT") : "out", &out) < 0) {
		fprintf(stderr, "relay: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	for (;;) {
		myco_chan_msg_t m;
		int rc;

		myco_heartbeat();
		rc = myco_chan_recv(in, &m, 50000000);
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "relay: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		do {
			myco_heartbeat();
			rc = myco_chan_send_timeout(out, m.data, m.len, 50000000);
		} while (rc == -ETIMEDOUT || rc == -EAGAIN);
		if (rc < 0) {
			fprintf(stderr, "relay: send: %s\n", myco_strerror(rc));
			return 1;
		}
		rc = myco_chan_done(in, &m);
		if (rc < 0) {
			fprintf(stderr, "relay: done: %s\n", myco_strerror(rc));
			return 1;
		}
	}
}

struct sink {
	uint8_t *seen;          /* bitmap */
	uint64_t cap;           /* bits */
	uint64_t accepted, dups, corrupt, max;
	uint64_t twice;         /* seqs the log holds twice: a real duplicate */
};

static int seen_set(struct sink *k, uint64_t seq)
{
	if (seq >= k->cap) {
		uint64_t ncap = k->cap ? k->cap : 1u << 20;
		uint8_t *n;

		while (ncap <= seq)
			ncap *= 2;
		n = realloc(k->seen, ncap / 8);
		if (!n)
			return -ENOMEM;
		memset(n + k->cap / 8, 0, (ncap - k->cap) / 8);
		k->seen = n;
		k->cap = ncap;
	}
	if (k->seen[seq / 8] & (1u << (seq % 8)))
		return 1;
	k->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return 0;
}

static void sink_summary(const struct sink *k, myco_metric_t *mx)
{
	char line[256];
	int fd, n;

	n = snprintf(line, sizeof(line),
		     "accepted %" PRIu64 " absorbed %" PRIu64 " corrupt %" PRIu64
		     " max %" PRIu64 " missing %" PRIu64 " duplicated %" PRIu64 "\n",
		     k->accepted, k->dups, k->corrupt, k->max, k->max - k->accepted, k->twice);
	fd = open_in_dir("sink.sum.tmp", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) == n) {
			char a[4096], b[4096];

			snprintf(a, sizeof(a), "%s/sink.sum.tmp", dir);
			snprintf(b, sizeof(b), "%s/sink.sum", dir);
			rename(a, b);
		}
		close(fd);
	}
	if (mx) {
		myco_gauge_set(&mx[0], (int64_t)k->accepted);
		myco_gauge_set(&mx[1], (int64_t)k->dups);
		myco_gauge_set(&mx[2], (int64_t)k->corrupt);
		myco_gauge_set(&mx[3], (int64_t)(k->max - k->accepted));
		myco_gauge_set(&mx[4], (int64_t)k->twice);
	}
}

static int sink(void)
{
	struct sink k = { 0 };
	myco_chan_t *in;
	myco_metric_t mx[5], *mxp = mx;
	uint64_t seq, t_sum = 0;
	int fd = open_in_dir("sink.log", O_RDWR | O_CREAT | O_APPEND);

	if (fd < 0 || myco_chan_open(getenv("CHAOS_IN") ? getenv("CHAOS_IN") : "in", &in) < 0) {
		fprintf(stderr, "sink: %s\n", fd < 0 ? strerror(errno) : myco_part_errmsg());
		return 1;
	}
	/* what the dead ones accepted */
	for (off_t off = 0; pread(fd, &seq, sizeof(seq), off) == (ssize_t)sizeof(seq);
	     off += (off_t)sizeof(seq)) {
		if (seen_set(&k, seq) == 0) {
			k.accepted++;
			if (seq > k.max)
				k.max = seq;
		} else {
			k.twice++;    /* must not happen: the log has each seq once */
		}
	}
	/* accepted once; duplicates absorbed and corrupt payloads (this
	 * instance); missing below the highest; accepted twice (never) */
	if (myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "seq_accepted",
				 NULL, &mx[0]) < 0 ||
	    myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "seq_absorbed",
				 NULL, &mx[1]) < 0 ||
	    myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "seq_corrupt",
				 NULL, &mx[2]) < 0 ||
	    myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "seq_lost",
				 NULL, &mx[3]) < 0 ||
	    myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "seq_duplicated",
				 NULL, &mx[4]) < 0)
		mxp = NULL;
	printf("sink: resuming with %" PRIu64 " accepted, highest %" PRIu64 "\n", k.accepted, k.max);
	fflush(stdout);
	myco_ready();
	for (;;) {
		myco_chan_msg_t m;
		struct msg v;
		int rc;

		myco_heartbeat();
		rc = myco_chan_recv(in, &m, 50000000);
		if (rc == 0) {
			if (m.len != sizeof(v)) {
				k.corrupt++;
			} else {
				memcpy(&v, m.data, sizeof(v));
				if (v.check != v.seq * K || v.seq == 0) {
					k.corrupt++;
				} else if ((rc = seen_set(&k, v.seq)) == 1) {
					k.dups++;
				} else if (rc < 0) {
					fprintf(stderr, "sink: out of memory\n");
					return 1;
				} else if (write(fd, &v.seq, sizeof(v.seq)) != (ssize_t)sizeof(v.seq)) {
					fprintf(stderr, "sink: log: %s\n", strerror(errno));
					return 1;
				} else {
					k.accepted++;
					if (v.seq > k.max)
						k.max = v.seq;
				}
			}
			rc = myco_chan_done(in, &m);
			if (rc < 0) {
				fprintf(stderr, "sink: done: %s\n", myco_strerror(rc));
				return 1;
			}
		} else if (rc != -ETIMEDOUT && rc != -EAGAIN) {
			fprintf(stderr, "sink: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		if (myco_now() - t_sum > 100000000ull) {
			t_sum = myco_now();
			sink_summary(&k, mxp);
		}
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);   /* the vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int sys_loop(void)
{
	const char *e = getenv("CHAOS_SLOW_MS");
	uint64_t slow = (uint64_t)(e ? strtoull(e, NULL, 10) : 20) * 1000000ull;
	uint64_t n = 0, nw = 0, nr = 0, ns = 0, t_stat = 0;
	int pfd[2];
	char b = 'x';

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 1;
	myco_ready();
	for (;;) {
		struct timespec ts = { 0, 10000000 };
		uint64_t t0 = mono_ns();

		if (syscall(SYS_write, pfd[1], &b, 1) != 1)
			return 1;
		uint64_t t1 = mono_ns();
		if (syscall(SYS_read, pfd[0], &b, 1) != 1)
			return 1;
		uint64_t t2 = mono_ns();
		syscall(SYS_nanosleep, &ts, NULL);
		uint64_t t3 = mono_ns();
		n++;
		nw += t1 - t0 >= slow;
		nr += t2 - t1 >= slow;
		ns += t3 - t2 >= slow + 10000000ull;
		myco_heartbeat();
		if (t3 - t_stat >= 100000000ull) {
			char line[160];
			int fd = open_in_dir("sys.stat.tmp", O_WRONLY | O_CREAT | O_TRUNC);
			int len = snprintf(line, sizeof(line),
					   "n=%" PRIu64 " write=%" PRIu64 " read=%" PRIu64
					   " nanosleep=%" PRIu64 "\n", n, nw, nr, ns);

			t_stat = t3;
			if (fd >= 0) {
				if (write(fd, line, (size_t)len) == len) {
					char a[512], c[512];
					snprintf(a, sizeof(a), "%s/sys.stat.tmp", dir);
					snprintf(c, sizeof(c), "%s/sys.stat", dir);
					rename(a, c);
				}
				close(fd);
			}
		}
	}
}

static int answer(void)
{
	myco_chan_t *sv, *st;
	uint64_t n = 0, t_w = 0;

	if (myco_chan_open("svc", &sv) < 0 || myco_chan_open("st", &st) < 0)
		return 1;
	myco_ready();
	for (;;) {
		myco_chan_msg_t m;
		uint64_t now = mono_ns();

		if (now - t_w >= 10000000ull) {
			struct msg v = { ++n, n * K };
			myco_chan_sample_write(st, &v, sizeof v);
			t_w = now;
		}
		if (myco_chan_recv(sv, &m, 5000000) == 0) {
			struct msg q = { 0, 0 };
			memcpy(&q, m.data, m.len < sizeof q ? m.len : sizeof q);
			myco_chan_reply(sv, &m, &q, sizeof q);
			myco_chan_done(sv, &m);
		}
		myco_heartbeat();
	}
}

static int ask(void)
{
	myco_chan_t *cl, *st;
	uint64_t calls = 0, ok = 0, tmo = 0, bad = 0, samples = 0, sbad = 0;
	uint64_t last_seq = 0, t_seen = 0, still = 0, t_stat = 0;

	if (myco_chan_open("svc", &cl) < 0 || myco_chan_open("st", &st) < 0)
		return 1;
	myco_ready();
	for (;;) {
		struct msg q = { ++calls, calls * K }, r = { 0, 0 }, v;
		myco_chan_sample_info_t in;
		size_t rl = 0;
		int rc = myco_chan_call(cl, &q, sizeof q, &r, sizeof r, &rl, 100000000);
		uint64_t now;

		if (rc == -ETIMEDOUT)
			tmo++;
		else if (rc == 0 && r.seq == q.seq && r.check == q.check)
			ok++;
		else if (rc == 0)
			bad++;
		if (myco_chan_sample_read(st, &v, sizeof v, &in) == 0) {
			now = mono_ns();
			samples++;
			if (v.check != v.seq * K)
				sbad++;
			/* from the first read of a write to the first read of a
			 * newer one: a stall of T keeps them at least T apart */
			if (in.seq != last_seq) {
				if (t_seen && (now - t_seen) / 1000000u > still)
					still = (now - t_seen) / 1000000u;
				last_seq = in.seq;
				t_seen = now;
			}
		}
		myco_heartbeat();
		now = mono_ns();
		if (now - t_stat >= 100000000ull) {
			char line[200];
			int fd = open_in_dir("ask.stat.tmp", O_WRONLY | O_CREAT | O_TRUNC);
			int len = snprintf(line, sizeof(line),
					   "calls=%" PRIu64 " ok=%" PRIu64 " timeouts=%" PRIu64
					   " bad=%" PRIu64 " samples=%" PRIu64 " sbad=%" PRIu64
					   " still=%" PRIu64 "\n", calls, ok, tmo, bad, samples, sbad, still);
			t_stat = now;
			if (fd >= 0) {
				if (write(fd, line, (size_t)len) == len) {
					char a[512], c[512];
					snprintf(a, sizeof(a), "%s/ask.stat.tmp", dir);
					snprintf(c, sizeof(c), "%s/ask.stat", dir);
					rename(a, c);
				}
				close(fd);
			}
		}
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
}

int main(void)
{
	const char *role = getenv("CHAOS_ROLE");

	dir = getenv("CHAOS_DIR");
	if (!role || !dir) {
		fprintf(stderr, "chaos_part: CHAOS_ROLE and CHAOS_DIR must be set\n");
		return 2;
	}
	if (myco_init() < 0) {
		fprintf(stderr, "chaos_part: %s\n", myco_part_errmsg());
		return 1;
	}
	if (!strcmp(role, "src"))
		return src();
	if (!strcmp(role, "relay"))
		return relay();
	if (!strcmp(role, "sink"))
		return sink();
	if (!strcmp(role, "sys"))
		return sys_loop();
	if (!strcmp(role, "answer"))
		return answer();
	if (!strcmp(role, "ask"))
		return ask();
	fprintf(stderr, "chaos_part: unknown role '%s'\n", role);
	return 2;
}
