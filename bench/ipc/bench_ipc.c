/*
 * bench_ipc.c: myco-bench-ipc, Myco channels against the IPC a user would
 * otherwise pick, in one run, alternating (A B C ... A B C ...), the two
 * sides pinned to two different cores:
 *   1. round trip of 64-byte messages: raw cache-line ping-pong (hardware
 *      minimum), myco spin, myco futex, pipe, socketpair, eventfd + shm,
 *      POSIX mq, iceoryx (C binding, polling and waitset); p50/p99/p99.9/max
 *      in ns and TSC cycles;
 *   2. round trip with zero-copy payloads of 4 KiB / 64 KiB / 1 MiB (myco
 *      loans vs iceoryx chunks; the sender writes a 64-byte header);
 *   3. throughput of 64-byte messages, single and batched (myco with
 *      1024 and 256 slots, pipe, and a hand-written ring as the minimum);
 *   4. zero-copy loans at 4 KiB / 64 KiB / 1 MiB against copying them
 *      (myco copy send, and plain memcpy bandwidth on one core).
 * Human table on stdout; --json prints one JSON object per figure
 * (docs/benchmarks.md, Method); --quick runs a short version.  Not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "myco/chan.h"
#include "myco_int.h"

#ifdef HAVE_ICEORYX
#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"
#endif

#define WARMUP 2000u
#define MAXSIZE (1u << 20)

static int opt_json, opt_quick;
static const char *opt_only;   /* --only rt|zc|tp|loan (development) */

static int want(const char *sec)
{
	return !opt_only || !strcmp(opt_only, sec);
}
static double tsc_ghz;
static int cpu_a = 0, cpu_b = 1;

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */


static inline uint64_t tsc(void)
{
	unsigned aux;
	return __rdtscp(&aux);
}

static void calibrate_tsc(void)
{
	uint64_t t0 = myco_now(), c0 = tsc(), t1, c1;

	do {
		t1 = myco_now();
	} while (t1 - t0 < 200000000u);
	c1 = tsc();
	tsc_ghz = (double)(c1 - c0) / (double)(t1 - t0);
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void json(const char *bench, const char *sys, const char *metric, double value,
                 const char *unit, const char *extra)
{
	if (!opt_json)
		return;
	printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\",\"value\":%.1f,"
	       "\"unit\":\"%s\"%s%s}\n", bench, sys, metric, value, unit,
	       extra && *extra ? "," : "", extra ? extra : "");
}

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

/* Samples come back from the ping child through shared memory. */
struct shm_res {
	_Atomic uint64_t ready;   /* pong side set up (iceoryx discovery) */
	_Atomic uint64_t go;
	uint64_t n;
	int err;
	char why[200];
	uint64_t v[];
};

static struct shm_res *res_alloc(size_t n)
{
	struct shm_res *r = mmap(NULL, sizeof(*r) + n * 8, PROT_READ | PROT_WRITE,
	                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* round-trip systems                                                  */
/* ------------------------------------------------------------------ */

struct rt_sys {
	const char *name;
	/* setup in the parent (before fork); ping/pong in pinned children */
	int (*setup)(struct rt_sys *s, size_t size);
	void (*ping)(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r);
	void (*pong)(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r);
	void (*teardown)(struct rt_sys *s);
	int fd[4];
	void *p;
	myco_chan_owner_t *o[2];
	uint32_t spin;
	int slow;         /* blocking system: a quarter of the samples */
	int unavailable;
	char why[200];
};

/* raw cache-line ping-pong: the minimum */
struct raw_lines {
	_Alignas(64) _Atomic uint64_t a;
	_Alignas(64) _Atomic uint64_t b;
};

static int raw_setup(struct rt_sys *s, size_t size)
{
	(void)size;
	s->p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return s->p == MAP_FAILED ? -errno : 0;
}

static void raw_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	struct raw_lines *l = s->p;
	uint64_t i;

	(void)size;
	for (i = 1; i <= n + WARMUP; i++) {
		uint64_t t0 = tsc();
		atomic_store_explicit(&l->a, i, memory_order_release);
		while (atomic_load_explicit(&l->b, memory_order_acquire) != i)
			_mm_pause();
		if (i > WARMUP)
			r->v[i - WARMUP - 1] = tsc() - t0;
	}
	r->n = n;
}

static void raw_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	struct raw_lines *l = s->p;
	uint64_t i;

	(void)size;
	(void)r;
	for (i = 1; i <= n + WARMUP; i++) {
		while (atomic_load_explicit(&l->a, memory_order_acquire) != i)
			_mm_pause();
		atomic_store_explicit(&l->b, i, memory_order_release);
	}
}

static void raw_teardown(struct rt_sys *s)
{
	munmap(s->p, 4096);
}

/* myco: two queue channels; spin or futex; copy send for 64 B, loans
 * for larger sizes */
static int myco_setup(struct rt_sys *s, size_t size)
{
	myco_chan_config_t c;
	int i, rc;

	for (i = 0; i < 2; i++) {
		myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
		c.msg_size = 64;
		c.depth = 64;
		c.spin = s->spin;
		if (size > 64) {
			c.loan_block_size = (uint32_t)size;
			c.loan_blocks = 4;
		}
		rc = myco_chan_create(&c, &s->o[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static myco_chan_t *myco_att(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t spin)
{
	myco_chan_attach_opts_t opts = { .spin = spin, .flags = 0 };
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, 0, fds, MYCO_CHAN_MAX_FDS);
	myco_chan_t *ch = NULL;

	if (n < 0 || myco_chan_attach(fds, (size_t)n, role, 0, &opts, &ch)) {
		fprintf(stderr, "myco attach failed\n");
		_exit(3);
	}
	return ch;
}

static void myco_send_one(myco_chan_t *tx, size_t size, const char *msg)
{
	if (size <= 64) {
		if (myco_chan_send(tx, msg, 64))
			_exit(4);
	} else {
		myco_chan_loan_t l;
		while (myco_chan_loan(tx, size, &l) == -ENOBUFS)
			_mm_pause();
		memcpy(l.data, msg, 64);    /* header only: zero-copy payload */
		if (myco_chan_loan_send(tx, &l, size))
			_exit(4);
	}
}

static void myco_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	myco_chan_t *tx = myco_att(s->o[0], MYCO_CHAN_PRODUCER, s->spin);
	myco_chan_t *rx = myco_att(s->o[1], MYCO_CHAN_CONSUMER, s->spin);
	char msg[64] = "ping";
	uint64_t i;

	for (i = 0; i < n + WARMUP; i++) {
		myco_chan_msg_t m;
		uint64_t t0 = tsc();

		myco_send_one(tx, size, msg);
		if (myco_chan_recv(rx, &m, -1))
			_exit(5);
		memcpy(msg, m.data, 8);
		myco_chan_done(rx, &m);
		if (i >= WARMUP)
			r->v[i - WARMUP] = tsc() - t0;
	}
	r->n = n;
}

static void myco_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	myco_chan_t *rx = myco_att(s->o[0], MYCO_CHAN_CONSUMER, s->spin);
	myco_chan_t *tx = myco_att(s->o[1], MYCO_CHAN_PRODUCER, s->spin);
	char msg[64] = "pong";
	uint64_t i;

	(void)r;
	for (i = 0; i < n + WARMUP; i++) {
		myco_chan_msg_t m;

		if (myco_chan_recv(rx, &m, -1))
			_exit(5);
		memcpy(msg, m.data, 8);
		myco_chan_done(rx, &m);
		myco_send_one(tx, size, msg);
	}
}

static void myco_teardown(struct rt_sys *s)
{
	myco_chan_owner_close(s->o[0]);
	myco_chan_owner_close(s->o[1]);
}

/* pipe / socketpair: fd[0],fd[1] ping->pong; fd[2],fd[3] pong->ping */
static int pipe_setup(struct rt_sys *s, size_t size)
{
	(void)size;
	if (pipe(s->fd) || pipe(s->fd + 2))
		return -errno;
	return 0;
}

static int sock_setup(struct rt_sys *s, size_t size)
{
	int a[2], b[2];

	(void)size;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b))
		return -errno;
	s->fd[0] = a[0];
	s->fd[1] = a[1];
	s->fd[2] = b[0];
	s->fd[3] = b[1];
	return 0;
}

static void fd_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64] = "ping";
	uint64_t i;

	(void)size;
	for (i = 0; i < n + WARMUP; i++) {
		uint64_t t0 = tsc();
		if (myco__write_full(s->fd[1], msg, 64) || myco__read_full(s->fd[2], msg, 64))
			_exit(4);
		if (i >= WARMUP)
			r->v[i - WARMUP] = tsc() - t0;
	}
	r->n = n;
}

static void fd_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64];
	uint64_t i;

	(void)size;
	(void)r;
	for (i = 0; i < n + WARMUP; i++)
		if (myco__read_full(s->fd[0], msg, 64) || myco__write_full(s->fd[3], msg, 64))
			_exit(4);
}

static void fd_teardown(struct rt_sys *s)
{
	int i;

	for (i = 0; i < 4; i++)
		close(s->fd[i]);
}

/* eventfd + shared memory: payload in shm, blocking eventfd as doorbell */
static int efd_setup(struct rt_sys *s, size_t size)
{
	(void)size;
	s->fd[0] = eventfd(0, 0);
	s->fd[1] = eventfd(0, 0);
	s->p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->fd[0] < 0 || s->fd[1] < 0 || s->p == MAP_FAILED)
		return -errno;
	return 0;
}

static void efd_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64] = "ping";
	char *shm = s->p;
	uint64_t i, one = 1, v;

	(void)size;
	for (i = 0; i < n + WARMUP; i++) {
		uint64_t t0 = tsc();
		memcpy(shm, msg, 64);
		if (write(s->fd[0], &one, 8) != 8 || read(s->fd[1], &v, 8) != 8)
			_exit(4);
		memcpy(msg, shm + 64, 64);
		if (i >= WARMUP)
			r->v[i - WARMUP] = tsc() - t0;
	}
	r->n = n;
}

static void efd_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64];
	char *shm = s->p;
	uint64_t i, one = 1, v;

	(void)size;
	(void)r;
	for (i = 0; i < n + WARMUP; i++) {
		if (read(s->fd[0], &v, 8) != 8)
			_exit(4);
		memcpy(msg, shm, 64);
		memcpy(shm + 64, msg, 64);
		if (write(s->fd[1], &one, 8) != 8)
			_exit(4);
	}
}

static void efd_teardown(struct rt_sys *s)
{
	close(s->fd[0]);
	close(s->fd[1]);
	munmap(s->p, 4096);
}

/* POSIX message queues */
static int mq_setup(struct rt_sys *s, size_t size)
{
	struct mq_attr at = { .mq_maxmsg = 8, .mq_msgsize = 64 };
	char name[64];
	int i;

	(void)size;
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "/myco-bench-%d-%d", (int)getpid(), i);
		s->fd[i] = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &at);
		if (s->fd[i] < 0)
			return -errno;
		mq_unlink(name);     /* nothing left behind */
	}
	return 0;
}

static void mq_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64] = "ping";
	uint64_t i;

	(void)size;
	for (i = 0; i < n + WARMUP; i++) {
		uint64_t t0 = tsc();
		if (mq_send(s->fd[0], msg, 64, 0) || mq_receive(s->fd[1], msg, 64, NULL) != 64)
			_exit(4);
		if (i >= WARMUP)
			r->v[i - WARMUP] = tsc() - t0;
	}
	r->n = n;
}

static void mq_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	char msg[64];
	uint64_t i;

	(void)size;
	(void)r;
	for (i = 0; i < n + WARMUP; i++)
		if (mq_receive(s->fd[0], msg, 64, NULL) != 64 || mq_send(s->fd[1], msg, 64, 0))
			_exit(4);
}

static void mq_teardown(struct rt_sys *s)
{
	mq_close(s->fd[0]);
	mq_close(s->fd[1]);
}

#ifdef HAVE_ICEORYX
/* iceoryx via its C binding; RouDi is started by main().  s->spin != 0:
 * busy polling; 0: block in a waitset. */
static int iox_serial;

static int iox_setup(struct rt_sys *s, size_t size)
{
	(void)s;
	(void)size;
	iox_serial++;
	return 0;
}

static int iox_connect(iox_pub_t pub, iox_sub_t sub)
{
	uint64_t t0 = myco_now();

	while (!iox_pub_has_subscribers(pub) ||
	       iox_sub_get_subscription_state(sub) != SubscribeState_SUBSCRIBED) {
		if (myco_now() - t0 > 5000000000u)
			return -1;
		usleep(1000);
	}
	return 0;
}

static void iox_side(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r, int is_ping)
{
	iox_pub_storage_t ps;
	iox_sub_storage_t ss;
	iox_ws_storage_t ws_st;
	iox_pub_options_t po;
	iox_sub_options_t so;
	iox_ws_t ws = NULL;
	iox_pub_t pub;
	iox_sub_t sub;
	char name[64], ev_out[32], ev_in[32];
	uint64_t i;

	snprintf(name, sizeof(name), "myco-bench-%s-%d-%d", is_ping ? "ping" : "pong",
	         (int)getppid(), iox_serial);
	snprintf(ev_out, sizeof(ev_out), "%s%d", is_ping ? "req" : "rep", iox_serial);
	snprintf(ev_in, sizeof(ev_in), "%s%d", is_ping ? "rep" : "req", iox_serial);
	iox_set_loglevel(Iceoryx_LogLevel_Off);
	iox_runtime_init(name);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	pub = iox_pub_init(&ps, "myco-bench", "rt", ev_out, &po);
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.historyRequest = 0;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	sub = iox_sub_init(&ss, "myco-bench", "rt", ev_in, &so);
	if (iox_connect(pub, sub)) {
		r->err = 1;
		snprintf(r->why, sizeof(r->why), "iceoryx: no connection within 5 s");
		_exit(6);
	}
	if (!s->spin) {
		ws = iox_ws_init(&ws_st);
		iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL);
	}
	if (!is_ping)
		atomic_store(&r->ready, 1);
	else
		while (!atomic_load(&r->ready))
			usleep(100);
	for (i = 0; i < n + WARMUP; i++) {
		const void *in;
		void *out;
		uint64_t t0 = tsc();

		if (is_ping) {
			while (iox_pub_loan_chunk(pub, &out, (uint32_t)size) != AllocationResult_SUCCESS)
				_mm_pause();
			memcpy(out, "ping", 5);
			iox_pub_publish_chunk(pub, out);
		}
		for (;;) {
			if (iox_sub_take_chunk(sub, &in) == ChunkReceiveResult_SUCCESS)
				break;
			if (ws) {
				iox_notification_info_t info[2];
				uint64_t missed;
				iox_ws_wait(ws, info, 2, &missed);
			} else {
				_mm_pause();
			}
		}
		if (!is_ping) {
			while (iox_pub_loan_chunk(pub, &out, (uint32_t)size) != AllocationResult_SUCCESS)
				_mm_pause();
			memcpy(out, in, 5);
			iox_sub_release_chunk(sub, in);
			iox_pub_publish_chunk(pub, out);
		} else {
			iox_sub_release_chunk(sub, in);
			if (i >= WARMUP)
				r->v[i - WARMUP] = tsc() - t0;
		}
	}
	if (is_ping)
		r->n = n;
	else
		usleep(20000);   /* let ping release its last chunk first */
	if (ws)
		iox_ws_deinit(ws);
	iox_sub_deinit(sub);
	iox_pub_deinit(pub);
	iox_runtime_shutdown();
}

static void iox_ping(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	iox_side(s, size, n, r, 1);
}

static void iox_pong(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	iox_side(s, size, n, r, 0);
}

static void iox_teardown(struct rt_sys *s)
{
	(void)s;
}
#endif

/* Run one measurement: fork pong (cpu_b) and ping (cpu_a). */
static int rt_run(struct rt_sys *s, size_t size, uint64_t n, struct shm_res *r)
{
	pid_t a, b;
	int st_a, st_b, rc;

	memset(r, 0, sizeof(*r));
	rc = s->setup(s, size);
	if (rc) {
		snprintf(s->why, sizeof(s->why), "setup failed: %s", strerror(-rc));
		return rc;
	}
	b = fork();
	if (b == 0) {
		pin(cpu_b);
		s->pong(s, size, n, r);
		_exit(0);
	}
	a = fork();
	if (a == 0) {
		pin(cpu_a);
		s->ping(s, size, n, r);
		_exit(0);
	}
	waitpid(a, &st_a, 0);
	if (!WIFEXITED(st_a) || WEXITSTATUS(st_a) != 0) {
		kill(b, SIGKILL);
	}
	waitpid(b, &st_b, 0);
	s->teardown(s);
	if (!WIFEXITED(st_a) || WEXITSTATUS(st_a) != 0 || r->n != n) {
		snprintf(s->why, sizeof(s->why), "%s", r->why[0] ? r->why : "ping side failed");
		return -EIO;
	}
	return 0;
}

struct rt_result {
	uint64_t *v;
	size_t n;
};

static void rt_report(const char *bench, const char *sys, size_t size, struct rt_result *x,
                      double base_p50, double pipe_p50)
{
	char extra[96];
	double p50, p99, p999, mx;

	if (x->n == 0)
		return;
	qsort(x->v, x->n, sizeof(uint64_t), cmp_u64);
	p50 = (double)pct(x->v, x->n, 0.50);
	p99 = (double)pct(x->v, x->n, 0.99);
	p999 = (double)pct(x->v, x->n, 0.999);
	mx = (double)x->v[x->n - 1];
	say("  %-16s %8zu %9.0f %9.0f %9.0f %10.0f %9.0f", sys, x->n,
	    p50 / tsc_ghz, p99 / tsc_ghz, p999 / tsc_ghz, mx / tsc_ghz, p50);
	if (base_p50 > 0 && pipe_p50 > 0)
		say(" %8.2f %8.1f", p50 / base_p50, pipe_p50 / p50);
	say("\n");
	snprintf(extra, sizeof(extra), "\"size\":%zu,\"samples\":%zu", size, x->n);
	json(bench, sys, "p50", p50 / tsc_ghz, "ns", extra);
	json(bench, sys, "p99", p99 / tsc_ghz, "ns", extra);
	json(bench, sys, "p999", p999 / tsc_ghz, "ns", extra);
	json(bench, sys, "max", mx / tsc_ghz, "ns", extra);
	json(bench, sys, "p50", p50, "cycles", extra);
	json(bench, sys, "p99", p99, "cycles", extra);
}

static double rt_p50(struct rt_result *x)
{
	if (!x->n)
		return 0;
	qsort(x->v, x->n, sizeof(uint64_t), cmp_u64);
	return (double)pct(x->v, x->n, 0.5);
}

static void bench_rt(struct rt_sys *sys, int nsys, size_t size, uint64_t per, int rounds,
                     const char *bench)
{
	struct rt_result res[16];
	struct shm_res *r = res_alloc(per);
	double base_p50 = 0, pipe_p50 = 0;
	int i, k;

	for (i = 0; i < nsys; i++) {
		res[i].v = calloc((size_t)per * (size_t)rounds, 8);
		res[i].n = 0;
	}
	for (k = 0; k < rounds; k++) {
		for (i = 0; i < nsys; i++) {
			uint64_t n = sys[i].slow ? per / 4 : per;

			if (sys[i].unavailable)
				continue;
			if (rt_run(&sys[i], size, n, r) == 0) {
				memcpy(res[i].v + res[i].n, r->v, n * 8);
				res[i].n += n;
			} else if (k == 0) {
				sys[i].unavailable = 1;
			}
		}
	}
	for (i = 0; i < nsys; i++) {
		if (!strcmp(sys[i].name, "raw-cacheline"))
			base_p50 = rt_p50(&res[i]);
		if (!strcmp(sys[i].name, "pipe"))
			pipe_p50 = rt_p50(&res[i]);
	}
	say("\n%s, %zu-byte messages, %d alternating rounds of %llu round trips (%llu for blocking IPC)\n",
	    bench, size, rounds, (unsigned long long)per, (unsigned long long)per / 4);
	say("  %-16s %8s %9s %9s %9s %10s %9s %8s %8s\n", "system", "samples", "p50 ns",
	    "p99 ns", "p99.9 ns", "max ns", "p50 cyc", "x hwmin", "pipe/x");
	for (i = 0; i < nsys; i++) {
		if (sys[i].unavailable) {
			say("  %-16s unavailable: %s\n", sys[i].name, sys[i].why);
			if (opt_json)
				printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"unavailable\","
				       "\"value\":0,\"unit\":\"\",\"why\":\"%s\"}\n", bench,
				       sys[i].name, sys[i].why);
			continue;
		}
		rt_report(bench, sys[i].name, size, &res[i], base_p50, pipe_p50);
		free(res[i].v);
	}
	munmap(r, sizeof(*r) + per * 8);
}

/* ------------------------------------------------------------------ */
/* throughput                                                          */
/* ------------------------------------------------------------------ */

enum tp_kind { TP_MYCO, TP_MYCO_BATCH, TP_MYCO_BATCH_D256, TP_RAW_BATCH, TP_PIPE, TP_PIPE_BATCH,
               TP_MYCO_LOAN, TP_MYCO_COPY };

/* The software minimum for batched throughput: a hand-written SPSC ring with
 * myco's slot geometry (1024 slots of 128 bytes: a 32-byte header with the
 * sequence number, then the 64-byte payload) and one index store per batch
 * of 32 each way, but nothing a channel adds: no validation, no policy, no
 * sleeping (both sides spin with pause).  It shows what the cores and the
 * cache-line traffic allow on this machine at the moment of the run. */
#define RAW_DEPTH 1024u
#define RAW_STRIDE 128u
struct raw_ring {
	_Alignas(64) _Atomic uint64_t tail;
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) uint8_t slots[RAW_DEPTH * RAW_STRIDE];
};

static void raw_produce(struct raw_ring *rr, struct shm_res *r, const char *buf)
{
	uint64_t t = 0, hc = 0;
	uint32_t k;

	while (!atomic_load_explicit(&r->go, memory_order_relaxed)) {
		if (t + 32 - hc > RAW_DEPTH) {
			hc = atomic_load_explicit(&rr->head, memory_order_acquire);
			if (t + 32 - hc > RAW_DEPTH) {
				_mm_pause();
				continue;
			}
		}
		for (k = 0; k < 32; k++) {
			uint8_t *sl = rr->slots + ((t + k) & (RAW_DEPTH - 1)) * RAW_STRIDE;

			memcpy(sl + 32, buf + k * 64, 64);
			memcpy(sl, &(uint64_t){ t + k + 1 }, 8);
		}
		t += 32;
		atomic_store_explicit(&rr->tail, t, memory_order_release);
	}
}

/* Take one batch (everything published) and return the new head; with the
 * ring empty, spin until there is more, or return the head unchanged once
 * the producer is gone (r->ready).  h: the head so far (the consumer's own
 * count).  *bad counts wrong sequence numbers. */
static uint64_t raw_consume(struct raw_ring *rr, struct shm_res *r, uint64_t h, char *buf,
                            uint64_t *bad)
{
	for (;;) {
		uint64_t t = atomic_load_explicit(&rr->tail, memory_order_acquire), seq;

		if (t == h) {
			if (atomic_load(&r->ready))
				return h;
			_mm_pause();
			continue;
		}
		for (; h < t; h++) {
			const uint8_t *sl = rr->slots + (h & (RAW_DEPTH - 1)) * RAW_STRIDE;

			memcpy(&seq, sl, 8);
			*bad += seq != h + 1;
			memcpy(buf, sl + 32, 64);
		}
		__asm__ volatile("" : : "r"(buf) : "memory");
		atomic_store_explicit(&rr->head, h, memory_order_release);
		return h;
	}
}

/* One run: the producer (cpu_b) sends messages of `size` as fast as it can;
 * the consumer (cpu_a) counts what it receives during `dur_ns` from its
 * first message, then raises `go` (stop) and drains until the producer is
 * gone.  Returns messages/s.  Both sides use the channel's default spin
 * (2000 pause iterations, then futex), i.e. the configuration a partition
 * gets; a pure spin-forever setting loses badly when the cores are shared. */
static double tp_run(enum tp_kind kind, size_t size, uint64_t dur_ns)
{
	myco_chan_owner_t *o = NULL;
	myco_chan_config_t c;
	struct shm_res *r = res_alloc(1);
	int pfd[2] = { -1, -1 };
	struct raw_ring *rr = NULL;
	pid_t a, b;
	double rate = 0;
	int st;

	memset(r, 0, sizeof(*r));
	if (kind == TP_PIPE || kind == TP_PIPE_BATCH) {
		if (pipe(pfd))
			return 0;
	} else if (kind == TP_RAW_BATCH) {
		rr = mmap(NULL, sizeof(*rr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (rr == MAP_FAILED)
			return 0;
	} else {
		myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
		c.msg_size = kind == TP_MYCO_COPY ? (uint32_t)size : 64;
		c.depth = kind == TP_MYCO_COPY || kind == TP_MYCO_LOAN ? 16 :
		          kind == TP_MYCO_BATCH_D256 ? 256 : 1024;
		c.block_timeout_ns = 20000000;   /* lets the producer notice `stop` */
		if (kind == TP_MYCO_LOAN) {
			c.loan_block_size = (uint32_t)size;
			c.loan_blocks = 16;
		}
		if (myco_chan_create(&c, &o))
			return 0;
	}
	b = fork();
	if (b == 0) {
		static char buf[MAXSIZE];
		uint64_t i = 0;

		pin(cpu_b);
		memset(buf, 7, sizeof(buf));
		if (o) {
			myco_chan_t *p = myco_att(o, MYCO_CHAN_PRODUCER, UINT32_MAX);
			while (!atomic_load_explicit(&r->go, memory_order_relaxed)) {
				int rc;

				if (kind == TP_MYCO_BATCH || kind == TP_MYCO_BATCH_D256) {
					struct iovec iov[32];
					int k;
					for (k = 0; k < 32; k++) {
						iov[k].iov_base = buf + k * 64;
						iov[k].iov_len = 64;
					}
					rc = myco_chan_send_batch(p, iov, 32);
					rc = rc > 0 ? 0 : rc;
				} else if (kind == TP_MYCO_LOAN) {
					myco_chan_loan_t l;
					rc = myco_chan_loan(p, size, &l);
					if (rc == -ENOBUFS)
						continue;
					memcpy(l.data, &i, 8);       /* header only */
					rc = myco_chan_loan_send(p, &l, size);
					if (rc)
						myco_chan_loan_cancel(p, &l);
				} else {
					rc = myco_chan_send(p, buf, kind == TP_MYCO_COPY ? size : 64);
				}
				if (rc && rc != -ETIMEDOUT)
					_exit(4);
				i++;
			}
			myco_chan_close(p);
		} else if (rr) {
			raw_produce(rr, r, buf);
		} else {
			size_t chunk = kind == TP_PIPE_BATCH ? 32 * 64 : 64;

			close(pfd[0]);
			while (!atomic_load_explicit(&r->go, memory_order_relaxed))
				if (myco__write_full(pfd[1], buf, chunk))
					_exit(4);
			close(pfd[1]);
		}
		atomic_store(&r->ready, 1);     /* producer done */
		_exit(0);
	}
	a = fork();
	if (a == 0) {
		static char buf[MAXSIZE];
		uint64_t got = 0, t0 = 0, t1 = 0;

		pin(cpu_a);
		if (o) {
			myco_chan_t *q = myco_att(o, MYCO_CHAN_CONSUMER, UINT32_MAX);
			myco_chan_msg_t ms[64];

			for (;;) {
				int k = myco_chan_recv_batch(q, ms, kind == TP_MYCO ? 1 : 64,
				                             10000000), j;
				if (k == -ETIMEDOUT && atomic_load(&r->ready))
					break;
				if (k == -ETIMEDOUT)
					continue;
				if (k <= 0)
					_exit(5);
				if (!t0)
					t0 = myco_now();
				/* copy each payload out, as the pipe reader does (a
				 * loan's payload stays in place: its header only) */
				for (j = 0; j < k; j++)
					memcpy(buf, ms[j].data, kind == TP_MYCO_LOAN ? 8 : ms[j].len);
				__asm__ volatile("" : : "r"(buf) : "memory");
				myco_chan_done_all(q);
				if (!t1) {
					got += (uint64_t)k;
					if (myco_now() - t0 >= dur_ns) {
						t1 = myco_now();
						atomic_store(&r->go, 1);
					}
				}
			}
		} else if (rr) {
			uint64_t h = 0, h0 = 0, bad = 0;

			for (;;) {
				uint64_t nh = raw_consume(rr, r, h, buf, &bad);

				if (nh == h && atomic_load(&r->ready))
					break;
				if (!t0) {
					t0 = myco_now();
					h0 = h;
				}
				h = nh;
				if (!t1 && myco_now() - t0 >= dur_ns) {
					t1 = myco_now();
					got = h - h0;
					atomic_store(&r->go, 1);
				}
			}
			if (bad)
				_exit(6);
		} else {
			close(pfd[1]);
			for (;;) {
				ssize_t k = read(pfd[0], buf, kind == TP_PIPE_BATCH ? 32 * 64 : 64);
				if (k == 0)
					break;
				if (k < 0)
					_exit(5);
				if (!t0)
					t0 = myco_now();
				if (!t1) {
					got += (uint64_t)k / 64;
					if (myco_now() - t0 >= dur_ns) {
						t1 = myco_now();
						atomic_store(&r->go, 1);
					}
				}
			}
		}
		r->v[0] = t1 - t0;
		r->n = got;
		_exit(0);
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	waitpid(a, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && r->v[0])
		rate = (double)r->n / ((double)r->v[0] / 1e9);
	else
		kill(b, SIGKILL);
	waitpid(b, &st, 0);
	myco_chan_owner_close(o);
	if (rr)
		munmap(rr, sizeof(*rr));
	munmap(r, sizeof(*r) + 8);
	return rate;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct tp_case {
	const char *sys;
	enum tp_kind kind;
	double v[16];
};

static uint64_t tp_dur_ns = 300000000u;

static void bench_tp(const char *bench, struct tp_case *cs, int ncs, size_t size, int reps,
                     const char *unit_note)
{
	int i, k;

	for (k = 0; k < reps; k++)
		for (i = 0; i < ncs; i++)
			cs[i].v[k] = tp_run(cs[i].kind, size, tp_dur_ns);
	say("\n%s, %zu-byte messages, median of %d alternating runs of %.1f s%s\n", bench, size,
	    reps, (double)tp_dur_ns / 1e9, unit_note);
	say("  %-18s %14s %14s %14s %12s\n", "system", "median msg/s", "min", "max", "GB/s (med)");
	for (i = 0; i < ncs; i++) {
		char extra[64];
		double med, mn, mx;

		qsort(cs[i].v, (size_t)reps, sizeof(double), cmp_d);
		med = cs[i].v[reps / 2];
		mn = cs[i].v[0];
		mx = cs[i].v[reps - 1];
		say("  %-18s %14.0f %14.0f %14.0f %12.2f\n", cs[i].sys, med, mn, mx,
		    med * (double)size / 1e9);
		snprintf(extra, sizeof(extra), "\"size\":%zu,\"runs\":%d", size, reps);
		json(bench, cs[i].sys, "throughput", med, "msg/s", extra);
		json(bench, cs[i].sys, "min", mn, "msg/s", extra);
		json(bench, cs[i].sys, "max", mx, "msg/s", extra);
		json(bench, cs[i].sys, "bandwidth", med * (double)size / 1e9, "GB/s", extra);
	}
}

static double memcpy_gbs(size_t size, int reps)
{
	char *a = malloc(size), *b = malloc(size);
	double v[16], med;
	int k;

	memset(a, 1, size);
	memset(b, 2, size);
	for (k = 0; k < reps; k++) {
		uint64_t t0 = myco_now(), bytes = 0;
		while (bytes < (uint64_t)512 << 20) {
			memcpy(b, a, size);
			__asm__ __volatile__("" : : "r"(b) : "memory");
			bytes += size;
		}
		v[k] = (double)bytes / (double)(myco_now() - t0);
	}
	qsort(v, (size_t)reps, sizeof(double), cmp_d);
	med = v[reps / 2];
	free(a);
	free(b);
	return med;
}

/* ------------------------------------------------------------------ */
/* RouDi                                                               */
/* ------------------------------------------------------------------ */

static pid_t roudi_pid = -1;

static const char *roudi_start(void)
{
#ifdef HAVE_ICEORYX
	static char why[160];
	pid_t p;

	if (access("/usr/bin/iox-roudi", X_OK) != 0)
		return "iox-roudi not installed (Debian package iceoryx)";
	p = fork();
	if (p < 0)
		return "fork failed";
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		pin(cpu_a);
		execl("/usr/bin/iox-roudi", "iox-roudi", "-l", "off", "-m", "off", (char *)NULL);
		_exit(127);
	}
	usleep(700000);
	if (waitpid(p, NULL, WNOHANG) == p) {
		snprintf(why, sizeof(why),
		         "iox-roudi exited at start (another RouDi running, or no /dev/shm?)");
		return why;
	}
	roudi_pid = p;
	return NULL;
#else
	return "built without the iceoryx C binding (libiceoryx-binding-c-dev)";
#endif
}

static void roudi_stop(void)
{
	if (roudi_pid > 0) {
		struct passwd *pw = getpwuid(getuid());
		char path[300];

		kill(roudi_pid, SIGTERM);
		waitpid(roudi_pid, NULL, 0);
		roudi_pid = -1;
		/* RouDi 2.0 leaves its segments in /dev/shm after SIGTERM; it
		 * was ours (it could only start if no other RouDi ran), so
		 * leave nothing behind */
		unlink("/dev/shm/iceoryx_mgmt");
		if (pw) {
			snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
			unlink(path);
		}
	}
}

static void on_signal(int sig)
{
	roudi_stop();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ------------------------------------------------------------------ */

static void print_setup(void)
{
	char model[256] = "unknown", line[512];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	FILE *v;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "model name", 10)) {
				char *c = strchr(line, ':');
				if (c) {
					snprintf(model, sizeof(model), "%s", c + 2);
					model[strcspn(model, "\n")] = 0;
				}
				break;
			}
		fclose(f);
	}
	uname(&u);
	say("myco-bench-ipc: Myco channels vs. other IPC, one run, alternating\n");
	say("  cpu: %s, %ld online, TSC %.3f GHz\n", model, sysconf(_SC_NPROCESSORS_ONLN), tsc_ghz);
	say("  kernel: %s %s; pinning: ping/consumer on cpu %d, pong/producer on cpu %d\n",
	    u.sysname, u.release, cpu_a, cpu_b);
	say("  myco %s (lib/chan, region ABI v1); ", myco_version());
	v = popen("dpkg-query -W -f='${Version}' iceoryx libc6 2>/dev/null", "r");
	if (v) {
		if (fgets(line, sizeof(line), v))
			say("iceoryx/libc %s", line);
		pclose(v);
	}
	say("\n  durability: none (all in memory); the machine is shared and noisy: read ratios\n");
	if (opt_json)
		printf("{\"bench\":\"ipc.setup\",\"system\":\"host\",\"metric\":\"tsc_ghz\","
		       "\"value\":%.3f,\"unit\":\"GHz\",\"cpu\":\"%s\",\"kernel\":\"%s\"}\n",
		       tsc_ghz, model, u.release);
}

int main(int argc, char **argv)
{
	const char *iox_why;
	int i, rounds, reps;
	uint64_t per;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt_json = 1;
		else if (!strcmp(argv[i], "--quick"))
			opt_quick = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			opt_only = argv[++i];
		else {
			fprintf(stderr, "usage: myco-bench-ipc [--json] [--quick] [--only rt|zc|tp|loan]\n");
			return 2;
		}
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		cpu_b = 0;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	calibrate_tsc();
	print_setup();
	rounds = opt_quick ? 2 : 5;
	per = opt_quick ? 4000 : 20000;
	reps = opt_quick ? 3 : 5;
	tp_dur_ns = opt_quick ? 100000000u : 300000000u;

	iox_why = want("rt") || want("zc") ? roudi_start() : "not run";
	{
		struct rt_sys sys[] = {
			{ .name = "raw-cacheline", .setup = raw_setup, .ping = raw_ping, .pong = raw_pong, .teardown = raw_teardown },
			{ .name = "myco-spin", .setup = myco_setup, .ping = myco_ping, .pong = myco_pong, .teardown = myco_teardown, .spin = 1u << 30 },
			{ .name = "myco-futex", .setup = myco_setup, .ping = myco_ping, .pong = myco_pong, .teardown = myco_teardown, .spin = 0 , .slow = 1 },
			{ .name = "pipe", .setup = pipe_setup, .ping = fd_ping, .pong = fd_pong, .teardown = fd_teardown , .slow = 1 },
			{ .name = "socketpair", .setup = sock_setup, .ping = fd_ping, .pong = fd_pong, .teardown = fd_teardown , .slow = 1 },
			{ .name = "eventfd+shm", .setup = efd_setup, .ping = efd_ping, .pong = efd_pong, .teardown = efd_teardown , .slow = 1 },
			{ .name = "posix-mq", .setup = mq_setup, .ping = mq_ping, .pong = mq_pong, .teardown = mq_teardown , .slow = 1 },
#ifdef HAVE_ICEORYX
			{ .name = "iceoryx-poll", .setup = iox_setup, .ping = iox_ping, .pong = iox_pong, .teardown = iox_teardown, .spin = 1 },
			{ .name = "iceoryx-waitset", .setup = iox_setup, .ping = iox_ping, .pong = iox_pong, .teardown = iox_teardown, .spin = 0 , .slow = 1 },
#endif
		};
		int nsys = (int)(sizeof(sys) / sizeof(sys[0]));
		static const size_t sizes[] = { 4096, 65536, 1 << 20 };
		int z;

		for (i = 0; i < nsys; i++)
			if (!strncmp(sys[i].name, "iceoryx", 7) && iox_why) {
				sys[i].unavailable = 1;
				snprintf(sys[i].why, sizeof(sys[i].why), "%s", iox_why);
			}
		if (want("rt"))
			bench_rt(sys, nsys, 64, per, rounds, "ipc.roundtrip");
#ifndef HAVE_ICEORYX
		say("  iceoryx          unavailable: %s\n", iox_why);
#endif
		/* zero-copy round trip at larger sizes: myco loans vs iceoryx */
		for (z = 0; z < 3 && want("zc"); z++) {
			struct rt_sys zs[] = {
				{ .name = "myco-spin-loan", .setup = myco_setup, .ping = myco_ping, .pong = myco_pong, .teardown = myco_teardown, .spin = 1u << 30 },
#ifdef HAVE_ICEORYX
				{ .name = "iceoryx-poll", .setup = iox_setup, .ping = iox_ping, .pong = iox_pong, .teardown = iox_teardown, .spin = 1 },
#endif
			};
			int nz = (int)(sizeof(zs) / sizeof(zs[0])), j;

			for (j = 0; j < nz; j++)
				if (!strncmp(zs[j].name, "iceoryx", 7) && iox_why) {
					zs[j].unavailable = 1;
					snprintf(zs[j].why, sizeof(zs[j].why), "%s", iox_why);
				}
			bench_rt(zs, nz, sizes[z], per / 4, rounds, "ipc.roundtrip_zerocopy");
		}
	}
	roudi_stop();

	if (want("tp")) {
		struct tp_case tc[] = {
			{ .sys = "myco", .kind = TP_MYCO },
			{ .sys = "myco-batch32", .kind = TP_MYCO_BATCH },
			{ .sys = "myco-batch32-d256", .kind = TP_MYCO_BATCH_D256 },
			{ .sys = "pipe", .kind = TP_PIPE },
			{ .sys = "pipe-batch32", .kind = TP_PIPE_BATCH },
			{ .sys = "raw-ring-batch32", .kind = TP_RAW_BATCH },
		};
		bench_tp("ipc.throughput", tc, (int)(sizeof(tc) / sizeof(tc[0])), 64, reps, "");
	}
	{
		static const size_t sizes[] = { 4096, 65536, 1 << 20 };
		int z;

		for (z = 0; z < 3 && want("loan"); z++) {
			struct tp_case tc[] = {
				{ .sys = "myco-loan", .kind = TP_MYCO_LOAN },
				{ .sys = "myco-copy", .kind = TP_MYCO_COPY },
			};
			double gbs;
			char extra[48];

			bench_tp("ipc.zerocopy", tc, 2, sizes[z], reps, "");
			gbs = memcpy_gbs(sizes[z], reps);
			say("  %-18s %14s %14s %14s %12.2f   (one core, %zu-byte memcpy)\n", "memcpy", "-",
			    "-", "-", gbs, sizes[z]);
			snprintf(extra, sizeof(extra), "\"size\":%zu", sizes[z]);
			json("ipc.zerocopy", "memcpy", "bandwidth", gbs, "GB/s", extra);
		}
	}
	return 0;
}
