/*
 * ipart.c: partition program for the immune tests and `make bench-heal`:
 * a numbered load and the slow failures the health model must catch.
 * Chosen by the environment:
 *   XMODE=src     send numbered messages (u64 seq) on channel `q` at
 *                 XRATE per second, times the current step of XSTEPS
 *                 ("1,5,1": each step lasts XSTEP_MS ms, default 1000,
 *                 the last one stays); heartbeat; prints "STEP k xN".
 *   XMODE=sink    receive on `q`, handle each message (XWORK_US of CPU),
 *                 record its latency in the histogram `latency_seconds`,
 *                 count `requests_total`, check sequence numbers: a gap is
 *                 a lost message, an old number a redelivery.
 *   XMODE=server  the same on the call channel `svc` (request u64 seq,
 *                 reply u64 seq | 1 << 63 for an error answer).
 *   XMODE=alone   the sink without a system: its source is a thread
 *                 feeding an in-process queue, liveness is sd_notify
 *                 WATCHDOG=1 (for the systemd comparison of bench/heal);
 *                 XFAULT_MARK names a file that says the fault was played.
 *   XMODE=client  call `svc` with numbered requests at XRATE per second;
 *                 counts replies, error answers and timeouts.  XPIPE=n
 *                 keeps n calls in flight (split form): a call answered
 *                 -ECONNRESET (the executive failed it at a switch) is
 *                 counted and not sent again ("RESET seq" printed); an
 *                 answer that is not the call's own is counted as bad.
 *   XFAULT=...    (sink, server) after XFAULT_AFTER_MS of handling, once
 *                 per system run (the metrics region survives restarts,
 *                 so a replacement sees the fault was played and stays
 *                 clean):
 *       leak      allocate and touch XLEAK_KIB every 100 ms
 *       livelock  stop handling messages but keep heartbeating
 *       creep     handling time grows by XCREEP_US per second
 *       stuck     handle at half the arrival rate (the queue grows),
 *                 unless told to shed load (myco_shedding(): the slow
 *                 path is skipped, the queue drains)
 *       errors    error answers ramp up by XERR_PCT per second
 *       hold      (server) receive requests but never answer them, keep
 *                 heartbeating: calls stay in flight until it is healed
 *   Every line printed: "FAULT <class> <mono ns>" when the fault starts,
 *   "STAT recv=N lost=N dup=N errors=N" once a second (sink/server),
 *   "CSTAT calls=N ok=N errors=N timeouts=N resets=N bad=N" (client),
 *   "FIRST <pid> <seq>" at the first message an instance handles (the pid
 *   in its PID namespace).
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/common.h"
#include "myco/part.h"
#include "myco/trace.h"

static long env_l(const char *n, long d)
{
	const char *v = getenv(n);
	return v && *v ? strtol(v, NULL, 10) : d;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

static void spin_us(uint64_t us)
{
	uint64_t end = myco_now() + us * 1000u;
	while (myco_now() < end)
		;
}

static myco_metric_t m_lat, m_req, m_err, m_fault, m_last, m_lost, m_dup;

static uint64_t cell(const myco_metric_t *m)
{
	return __atomic_load_n(&m->m_cells[0], __ATOMIC_RELAXED);
}

static int src(void)
{
	myco_chan_t *out;
	if (myco_chan_open("q", &out) < 0)
		return 1;
	long rate = env_l("XRATE", 200), step_ms = env_l("XSTEP_MS", 1000);
	const char *steps = getenv("XSTEPS");
	long mult[64] = { 1 };
	int nsteps = 1;
	if (steps && *steps) {
		char buf[256];
		snprintf(buf, sizeof buf, "%s", steps);
		nsteps = 0;
		for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t && nsteps < 64;
		     t = strtok_r(NULL, ",", &sv))
			mult[nsteps++] = strtol(t, NULL, 10);
	}
	myco_ready();
	/* the next number continues across restarts of the source */
	myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "src_last_seq", NULL, &m_last);
	uint64_t seq = cell(&m_last);
	uint64_t t0 = myco_now(), next = t0;
	int cur = -1;
	for (;;) {
		uint64_t now = myco_now();
		int k = (int)((now - t0) / ((uint64_t)step_ms * 1000000u));
		if (k >= nsteps)
			k = nsteps - 1;
		if (k != cur) {
			cur = k;
			printf("STEP %d x%ld\n", k, mult[k]);
			fflush(stdout);
		}
		uint64_t gap = 1000000000ull / (uint64_t)(rate * mult[k]);
		if (now < next) {
			sleep_ns(next - now);
			continue;
		}
		next += gap;
		if (next + 100000000ull < now)
			next = now;               /* never burst more than 100 ms behind */
		seq++;
		int rc = myco_chan_send_timeout(out, &seq, sizeof seq, 50000000);
		if (rc < 0) {
			seq--;
			myco_heartbeat();
			continue;
		}
		myco_gauge_set(&m_last, (int64_t)seq);
		myco_heartbeat();
	}
}

/* XPIPE calls in flight: send while fewer are outstanding, wait for the
 * oldest.  Every call ends once: its answer, an error answer, or
 * -ECONNRESET; a timeout is counted and the call waited for again (the
 * channel's timeout is long: a timeout is a hang). */
static int client_pipe(myco_chan_t *c, long rate, long pipe)
{
	uint64_t corr[64], seqs[64], head = 0, tail = 0, next = 1;
	uint64_t calls = 0, ok = 0, errs = 0, tmo = 0, resets = 0, bad = 0, t_stat = myco_now();

	if (pipe > 64)
		pipe = 64;
	for (;;) {
		while (tail - head < (uint64_t)pipe) {
			uint64_t seq = next;
			if (myco_chan_call_send(c, &seq, sizeof seq, &corr[tail % 64]) < 0)
				break;
			seqs[tail % 64] = seq;
			tail++;
			next++;
			calls++;
		}
		if (head < tail) {
			uint64_t rep = 0, seq = seqs[head % 64];
			size_t rl = 0;
			int rc = myco_chan_call_wait(c, corr[head % 64], &rep, sizeof rep, &rl, -1);
			if (rc == -ETIMEDOUT) {
				tmo++;
			} else {
				head++;
				if (rc == -ECONNRESET) {
					resets++;
					printf("RESET %llu\n", (unsigned long long)seq);
				} else if (rc == 0 && rl == sizeof rep && (rep & ~(1ull << 63)) == seq) {
					(rep >> 63) ? errs++ : ok++;
				} else {
					bad++;
					printf("BAD %llu rc=%d rep=%llu\n", (unsigned long long)seq, rc,
					       (unsigned long long)rep);
				}
			}
		}
		myco_heartbeat();
		uint64_t now = myco_now();
		if (now - t_stat >= 1000000000ull) {
			t_stat = now;
			printf("CSTAT calls=%llu ok=%llu errors=%llu timeouts=%llu resets=%llu bad=%llu\n",
			       (unsigned long long)calls, (unsigned long long)ok,
			       (unsigned long long)errs, (unsigned long long)tmo,
			       (unsigned long long)resets, (unsigned long long)bad);
			fflush(stdout);
		}
		sleep_ns(1000000000ull / (uint64_t)rate);
	}
	return 0;
}

static int client(void)
{
	myco_chan_t *c;
	if (myco_chan_open("svc", &c) < 0)
		return 1;
	long rate = env_l("XRATE", 200), pipe = env_l("XPIPE", 1);
	uint64_t calls = 0, ok = 0, errs = 0, tmo = 0, t_stat = myco_now();
	myco_ready();
	if (pipe > 1)
		return client_pipe(c, rate, pipe);
	for (uint64_t seq = 1;; seq++) {
		uint64_t rep = 0;
		size_t rl = 0;
		int rc;
		calls++;
		/* a call that times out is sent again under the same number:
		 * it counts as lost only if it never gets an answer */
		while ((rc = myco_chan_call(c, &seq, sizeof seq, &rep, sizeof rep, &rl, -1)) == -ETIMEDOUT ||
		       rc == -EAGAIN) {
			tmo++;
			myco_heartbeat();
		}
		if (rc == 0 && (rep & ~(1ull << 63)) == seq)
			(rep >> 63) ? errs++ : ok++;
		myco_heartbeat();
		uint64_t now = myco_now();
		if (now - t_stat >= 1000000000ull) {
			t_stat = now;
			printf("CSTAT calls=%llu ok=%llu errors=%llu timeouts=%llu\n",
			       (unsigned long long)calls, (unsigned long long)ok,
			       (unsigned long long)errs, (unsigned long long)tmo);
			fflush(stdout);
		}
		sleep_ns(1000000000ull / (uint64_t)rate);
	}
}

static char *volatile keep;

/* ---- standalone (XMODE=alone): the same sink with its producer as a
 * thread and an in-process queue, for a plain service manager; liveness
 * by sd_notify WATCHDOG=1 where myco_heartbeat() is called */
#define AQ 65536u
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t q[AQ];
	uint64_t head, tail, produced;
} aq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0 };
static bool alone;
static int notify_fd = -1;
static struct sockaddr_un notify_sa;
static socklen_t notify_len;
static uint64_t t_notify;

static void sd_notify_msg(const char *m)
{
	if (notify_fd >= 0)
		sendto(notify_fd, m, strlen(m), MSG_NOSIGNAL, (struct sockaddr *)&notify_sa, notify_len);
}

static void beat(void)
{
	myco_heartbeat();
	if (alone) {
		uint64_t now = myco_now();
		if (now - t_notify >= 100000000ull) {
			t_notify = now;
			sd_notify_msg("WATCHDOG=1");
		}
	}
}

static void *alone_src(void *arg)
{
	(void)arg;
	long rate = env_l("XRATE", 200);
	uint64_t next = myco_now();
	for (;;) {
		uint64_t now = myco_now();
		if (now < next) {
			sleep_ns(next - now);
			continue;
		}
		next += 1000000000ull / (uint64_t)rate;
		pthread_mutex_lock(&aq.mu);
		if (aq.tail - aq.head < AQ) {
			aq.q[aq.tail++ % AQ] = ++aq.produced;
			pthread_cond_signal(&aq.cv);
		}
		pthread_mutex_unlock(&aq.mu);
	}
	return NULL;
}

static int alone_recv(uint64_t *seq)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&aq.mu);
	while (aq.head == aq.tail)
		if (pthread_cond_timedwait(&aq.cv, &aq.mu, &ts)) {
			pthread_mutex_unlock(&aq.mu);
			return -ETIMEDOUT;
		}
	*seq = aq.q[aq.head++ % AQ];
	pthread_mutex_unlock(&aq.mu);
	return 0;
}

static void alone_start(void)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	alone = true;
	if (ns && (ns[0] == '/' || ns[0] == '@') && strlen(ns) < sizeof notify_sa.sun_path) {
		notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		notify_sa.sun_family = AF_UNIX;
		memcpy(notify_sa.sun_path, ns, strlen(ns));
		if (ns[0] == '@')
			notify_sa.sun_path[0] = 0;
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));
	}
	pthread_t t;
	pthread_create(&t, NULL, alone_src, NULL);
	printf("START %llu\n", (unsigned long long)myco_now());
	sd_notify_msg("READY=1");
}

static int handler(bool server)
{
	myco_chan_t *ch = NULL;
	if (!alone && myco_chan_open(server ? "svc" : "q", &ch) < 0)
		return 1;
	myco_metric_register(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS, "latency_seconds", NULL, &m_lat);
	myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "requests_total", NULL, &m_req);
	myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "errors_total", NULL, &m_err);
	myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "fault_played_total", NULL, &m_fault);
	myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "sink_last_seq", NULL, &m_last);
	myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "lost_total", NULL, &m_lost);
	myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "dup_total", NULL, &m_dup);
	const char *fault = getenv("XFAULT");
	bool armed = fault && *fault && cell(&m_fault) == 0;
	/* standalone: the metrics are the process's own, so a marker file says
	 * the fault was played (the replacement stays clean) */
	const char *mark = getenv("XFAULT_MARK");
	if (alone && mark && access(mark, F_OK) == 0)
		armed = false;
	long after_ms = env_l("XFAULT_AFTER_MS", 6000), work = env_l("XWORK_US", 100);
	long leak_kib = env_l("XLEAK_KIB", 1024), creep = env_l("XCREEP_US", 400);
	long err_pct = env_l("XERR_PCT", 5);
	uint64_t t0 = myco_now(), t_fault = 0, t_stat = t0, t_leak = 0, n = 0;
	bool on = false, first = true;
	myco_ready();
	for (;;) {
		uint64_t now = myco_now();
		if (armed && !on && now - t0 >= (uint64_t)after_ms * 1000000u) {
			on = true;
			t_fault = now;
			myco_counter_add(&m_fault, 1);
			if (alone && mark) {
				FILE *mf = fopen(mark, "w");
				if (mf)
					fclose(mf);
			}
			printf("FAULT %s %llu\n", fault, (unsigned long long)now);
			fflush(stdout);
		}
		if (now - t_stat >= (alone ? 100000000ull : 1000000000ull)) {
			t_stat = now;
			printf("STAT recv=%llu lost=%llu dup=%llu errors=%llu last=%llu queued=%llu\n",
			       (unsigned long long)cell(&m_req), (unsigned long long)cell(&m_lost),
			       (unsigned long long)cell(&m_dup), (unsigned long long)cell(&m_err),
			       (unsigned long long)cell(&m_last),
			       (unsigned long long)(alone ? aq.tail - aq.head : 0));
			fflush(stdout);
		}
		double fs = on ? (double)(now - t_fault) / 1e9 : 0;
		if (on && !strcmp(fault, "leak") && now - t_leak >= 100000000ull) {
			t_leak = now;
			char *b = malloc((size_t)leak_kib * 1024u);
			if (b) {
				memset(b, 0x5a, (size_t)leak_kib * 1024u);
				keep = b;          /* never freed */
			}
		}
		if (on && !strcmp(fault, "hold")) {
			myco_chan_msg_t hm;
			beat();                    /* alive; requests received, never answered */
			if (myco_chan_recv(ch, &hm, 20000000) < 0)
				sleep_ns(1000000);
			continue;
		}
		if (on && !strcmp(fault, "livelock")) {
			beat();                    /* alive, but no progress */
			sleep_ns(1000000);
			continue;
		}
		myco_chan_msg_t m;
		uint64_t seq = 0;
		int rc = alone ? alone_recv(&seq) : myco_chan_recv(ch, &m, 20000000);
		beat();
		if (rc < 0)
			continue;
		uint64_t t_in = myco_now();
		if (!alone && m.len >= sizeof seq)
			memcpy(&seq, m.data, sizeof seq);
		if (first) {
			first = false;
			printf("FIRST %d %llu\n", (int)getpid(), (unsigned long long)seq);
			fflush(stdout);
		}
		uint64_t w = (uint64_t)work;
		if (on && !strcmp(fault, "creep"))
			w += (uint64_t)(creep * fs);
		spin_us(w);
		bool err = false;
		if (on && !strcmp(fault, "errors")) {
			double p = err_pct * fs;            /* % of answers */
			err = (double)((n * 2654435761u) % 1000u) < p * 10.0;
		}
		if (server) {
			uint64_t rep = seq | (err ? 1ull << 63 : 0);
			myco_chan_reply(ch, &m, &rep, sizeof rep);
		} else if (seq) {
			uint64_t last = cell(&m_last);
			if (seq > last + 1 && last)
				myco_counter_add(&m_lost, seq - last - 1);
			if (seq <= last)
				myco_counter_add(&m_dup, 1);
			else
				myco_gauge_set(&m_last, (int64_t)seq);
		}
		if (!alone)
			myco_chan_done(ch, &m);
		n++;
		myco_counter_add(&m_req, 1);
		if (err)
			myco_counter_add(&m_err, 1);
		myco_hist_observe(&m_lat, myco_now() - t_in);
		if (on && !strcmp(fault, "stuck") && !myco_shedding()) {
			long rate = env_l("XRATE", 200);
			sleep_ns(2000000000ull / (uint64_t)rate);   /* half the arrival rate */
		}
	}
}

int main(void)
{
	if (myco_init() < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = getenv("XMODE");
	if (!mode)
		return 2;
	if (!strcmp(mode, "src"))
		return src();
	if (!strcmp(mode, "client"))
		return client();
	if (!strcmp(mode, "sink"))
		return handler(false);
	if (!strcmp(mode, "server"))
		return handler(true);
	if (!strcmp(mode, "alone")) {
		alone_start();
		return handler(false);
	}
	return 2;
}
