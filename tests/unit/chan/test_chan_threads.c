/*
 * test_chan_threads.c: lib/chan with real concurrency inside one process
 * (threads), so that TSan sees every shared access: SPSC and MPSC with
 * futex sleeping, call with several clients, sample readers racing the
 * writer (never torn), loans, and an epoll loop using arm/disarm.
 * Multi-process stress and crash tests are in tests/integration/chan.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"

#ifdef MYCO_SANITIZED
#define SCALE 20u
#else
#define SCALE 1u
#endif

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t idx,
                       uint32_t spin, myco_chan_t **out)
{
	myco_chan_attach_opts_t opts = { .spin = spin, .flags = 0 };
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, idx, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	return myco_chan_attach(fds, (size_t)n, role, idx, &opts, out);
}

struct prod_arg {
	myco_chan_t *ch;
	uint64_t n;
	uint32_t lane;
	int batch;
	int rc;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

static void *producer(void *p)
{
	struct prod_arg *a = p;
	uint64_t i, msg[3];

	a->rc = 0;
	for (i = 0; i < a->n;) {
		if (a->batch && a->n - i >= 8) {
			uint64_t m[8][3];
			struct iovec iov[8];
			int k, r;

			for (k = 0; k < 8; k++) {
				m[k][0] = a->lane;
				m[k][1] = i + (uint64_t)k;
				m[k][2] = mix(m[k][1] ^ a->lane);
				iov[k].iov_base = m[k];
				iov[k].iov_len = sizeof(m[k]);
			}
			r = myco_chan_send_batch(a->ch, iov, 8);
			if (r < 0) {
				a->rc = r;
				return NULL;
			}
			i += (uint64_t)r;
			continue;
		}
		msg[0] = a->lane;
		msg[1] = i;
		msg[2] = mix(i ^ a->lane);
		a->rc = myco_chan_send(a->ch, msg, sizeof(msg));
		if (a->rc)
			return NULL;
		i++;
	}
	return NULL;
}

static void run_queue(uint32_t producers, uint64_t per, int batch, uint32_t spin)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *q, *p[8];
	pthread_t t[8];
	struct prod_arg a[8];
	uint64_t next[8] = {0}, total = 0;
	myco_chan_msg_t ms[32];
	uint32_t k;

	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = 24;
	c.depth = 64;
	c.producers = producers;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, spin, &q), 0);
	for (k = 0; k < producers; k++) {
		assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, k, spin, &p[k]), 0);
		a[k] = (struct prod_arg){ .ch = p[k], .n = per, .lane = k, .batch = batch };
		assert_int_equal(pthread_create(&t[k], NULL, producer, &a[k]), 0);
	}
	while (total < per * producers) {
		int n = myco_chan_recv_batch(q, ms, batch ? 32 : 1, 5000000000LL);
		int i;

		assert_true(n > 0);
		for (i = 0; i < n; i++) {
			uint64_t v[3];

			assert_int_equal(ms[i].len, sizeof(v));
			memcpy(v, ms[i].data, sizeof(v));
			assert_int_equal(v[0], ms[i].lane);
			assert_int_equal(v[1], next[ms[i].lane]);
			assert_int_equal(ms[i].seq, v[1] + 1);
			assert_int_equal(v[2], mix(v[1] ^ v[0]));
			next[ms[i].lane]++;
		}
		assert_int_equal(myco_chan_done_all(q), 0);
		total += (uint64_t)n;
	}
	for (k = 0; k < producers; k++) {
		pthread_join(t[k], NULL);
		assert_int_equal(a[k].rc, 0);
		assert_int_equal(next[k], per);
		myco_chan_close(p[k]);
	}
	assert_int_equal(myco_chan_recv(q, ms, 0), -EAGAIN);
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

static void test_spsc_spin(void **state)
{
	(void)state;
	run_queue(1, 1000000u / SCALE, 0, 1000);
}

static void test_spsc_futex(void **state)
{
	(void)state;
	run_queue(1, 200000u / SCALE, 0, 0);   /* sleep at once: every wait is a futex */
}

static void test_mpsc_batch(void **state)
{
	(void)state;
	run_queue(4, 250000u / SCALE, 1, 200);
}

/* ---- call ---- */

struct srv_arg {
	myco_chan_t *ch;
	uint64_t expect;
	int rc;
};

static void *server(void *p)
{
	struct srv_arg *a = p;
	uint64_t handled = 0;

	while (handled < a->expect) {
		myco_chan_msg_t m;
		uint64_t v, r;
		int rc = myco_chan_recv(a->ch, &m, 5000000000LL);

		if (rc) {
			a->rc = rc;
			return NULL;
		}
		memcpy(&v, m.data, sizeof(v));
		r = v * 3 + m.lane;
		rc = myco_chan_reply(a->ch, &m, &r, sizeof(r));
		if (rc) {
			a->rc = rc;
			return NULL;
		}
		myco_chan_done(a->ch, &m);
		handled++;
	}
	a->rc = 0;
	return NULL;
}

struct cli_arg {
	myco_chan_t *ch;
	uint64_t n;
	int rc;
};

static void *client(void *p)
{
	struct cli_arg *a = p;
	uint64_t i;

	for (i = 0; i < a->n; i++) {
		uint64_t v = i * 11, r = 0;
		size_t rl = 0;
		int rc = myco_chan_call(a->ch, &v, sizeof(v), &r, sizeof(r), &rl, 5000000000LL);

		if (rc || rl != sizeof(r) || r != v * 3 + myco_chan_index(a->ch)) {
			a->rc = rc ? rc : -EBADMSG;
			return NULL;
		}
	}
	a->rc = 0;
	return NULL;
}

static void test_call_threads(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *s, *cl[3];
	pthread_t ts, tc[3];
	struct srv_arg sa;
	struct cli_arg ca[3];
	uint64_t per = 5000u / SCALE;
	int k;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_CALL);
	c.clients = 3;
	c.depth = 4;
	c.msg_size = 16;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_SERVER, 0, 100, &s), 0);
	sa = (struct srv_arg){ .ch = s, .expect = per * 3 };
	assert_int_equal(pthread_create(&ts, NULL, server, &sa), 0);
	for (k = 0; k < 3; k++) {
		assert_int_equal(attach_role(o, MYCO_CHAN_CLIENT, (uint32_t)k, 100, &cl[k]), 0);
		ca[k] = (struct cli_arg){ .ch = cl[k], .n = per };
		assert_int_equal(pthread_create(&tc[k], NULL, client, &ca[k]), 0);
	}
	for (k = 0; k < 3; k++) {
		pthread_join(tc[k], NULL);
		assert_int_equal(ca[k].rc, 0);
		myco_chan_close(cl[k]);
	}
	pthread_join(ts, NULL);
	assert_int_equal(sa.rc, 0);
	myco_chan_close(s);
	myco_chan_owner_close(o);
}

/* ---- sample ---- */

struct rd_arg {
	myco_chan_t *ch;
	_Atomic int *stop;
	uint64_t reads;
	int rc;
};

static void *reader(void *p)
{
	struct rd_arg *a = p;
	uint64_t last = 0;

	a->rc = 0;
	while (!atomic_load(a->stop)) {
		myco_chan_sample_info_t info;
		uint64_t v[8];
		int rc, i;

		rc = myco_chan_sample_read(a->ch, v, sizeof(v), &info);
		if (rc == -ENODATA || rc == -EBUSY)
			continue;
		if (rc) {
			a->rc = rc;
			return NULL;
		}
		for (i = 1; i < 8; i++)
			if (v[i] != v[0]) {
				a->rc = -EBADMSG;    /* torn */
				return NULL;
			}
		if (v[0] != info.seq || info.seq < last) {
			a->rc = -ERANGE;
			return NULL;
		}
		last = info.seq;
		a->reads++;
		if ((a->reads & 63) == 0)
			myco_chan_sample_wait(a->ch, last, 1000000);
	}
	return NULL;
}

static void test_sample_threads(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *w, *r[2];
	pthread_t t[2];
	struct rd_arg ra[2];
	_Atomic int stop = 0;
	uint64_t i, v[8], n = 200000u / SCALE;
	int k;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_SAMPLE);
	c.msg_size = sizeof(v);
	c.readers = 2;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_WRITER, 0, 0, &w), 0);
	for (k = 0; k < 2; k++) {
		assert_int_equal(attach_role(o, MYCO_CHAN_READER, (uint32_t)k, 50, &r[k]), 0);
		ra[k] = (struct rd_arg){ .ch = r[k], .stop = &stop };
		assert_int_equal(pthread_create(&t[k], NULL, reader, &ra[k]), 0);
	}
	for (i = 1; i <= n; i++) {
		for (k = 0; k < 8; k++)
			v[k] = i;
		assert_int_equal(myco_chan_sample_write(w, v, sizeof(v)), 0);
	}
	usleep(10000);
	atomic_store(&stop, 1);
	for (k = 0; k < 2; k++) {
		pthread_join(t[k], NULL);
		assert_int_equal(ra[k].rc, 0);
		assert_true(ra[k].reads > 0);
		myco_chan_close(r[k]);
	}
	myco_chan_close(w);
	myco_chan_owner_close(o);
}

/* ---- loans ---- */

struct loan_arg {
	myco_chan_t *ch;
	uint64_t n;
	int rc;
};

static void *loan_producer(void *p)
{
	struct loan_arg *a = p;
	uint64_t i;

	for (i = 0; i < a->n; i++) {
		myco_chan_loan_t l;
		size_t len = 1000 + (size_t)(i % 7) * 9000;
		int rc;

		while ((rc = myco_chan_loan(a->ch, len, &l)) == -ENOBUFS)
			sched_yield();
		if (rc) {
			a->rc = rc;
			return NULL;
		}
		memset(l.data, (int)(i & 0xff), len);
		rc = myco_chan_loan_send(a->ch, &l, len);
		if (rc) {
			a->rc = rc;
			return NULL;
		}
	}
	a->rc = 0;
	return NULL;
}

static void test_loan_threads(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *p, *q;
	myco_chan_stats_t st;
	pthread_t t;
	struct loan_arg la;
	uint64_t i, n = 20000u / SCALE;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.loan_block_size = 4096;
	c.loan_blocks = 64;
	c.depth = 16;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, 100, &q), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, 100, &p), 0);
	la = (struct loan_arg){ .ch = p, .n = n };
	assert_int_equal(pthread_create(&t, NULL, loan_producer, &la), 0);
	for (i = 0; i < n; i++) {
		myco_chan_msg_t m;
		const unsigned char *d;

		assert_int_equal(myco_chan_recv(q, &m, 5000000000LL), 0);
		assert_true(m.flags & MYCO_CHAN_MSG_LOAN);
		assert_int_equal(m.len, 1000 + (i % 7) * 9000);
		d = m.data;
		assert_int_equal(d[0], i & 0xff);
		assert_int_equal(d[m.len - 1], i & 0xff);
		assert_int_equal(myco_chan_loan_release(q, &m), 0);
	}
	pthread_join(t, NULL);
	assert_int_equal(la.rc, 0);
	myco_chan_owner_stats(o, &st);
	assert_int_equal(st.loans_in_use, 0);
	myco_chan_close(p);
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

/* ---- epoll loop with arm/disarm ---- */

static void test_epoll_loop(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *p, *q;
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_t t;
	struct prod_arg a;
	uint64_t got = 0, n = 100000u / SCALE, sleeps = 0;
	int ep;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = 24;
	c.depth = 32;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, 0, &q), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, 50, &p), 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, myco_chan_fd(q), &ev), 0);
	a = (struct prod_arg){ .ch = p, .n = n, .lane = 0 };
	assert_int_equal(pthread_create(&t, NULL, producer, &a), 0);
	while (got < n) {
		myco_chan_msg_t m;

		if (myco_chan_recv(q, &m, 0) == 0) {
			uint64_t v[3];
			memcpy(v, m.data, sizeof(v));
			assert_int_equal(v[1], got);
			assert_int_equal(myco_chan_done(q, &m), 0);
			got++;
			continue;
		}
		if (myco_chan_arm(q) == 0) {
			struct epoll_event out;
			assert_int_equal(epoll_wait(ep, &out, 1, 5000), 1);
			sleeps++;
		}
		myco_chan_disarm(q);
	}
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	close(ep);
	myco_chan_close(p);
	myco_chan_close(q);
	myco_chan_owner_close(o);
	(void)sleeps;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spsc_spin),
		cmocka_unit_test(test_spsc_futex),
		cmocka_unit_test(test_mpsc_batch),
		cmocka_unit_test(test_call_threads),
		cmocka_unit_test(test_sample_threads),
		cmocka_unit_test(test_loan_threads),
		cmocka_unit_test(test_epoll_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
