/*
 * test_chansrc.c: channel endpoints (lib/chan) as coroutine event sources:
 * messages already queued are received without arming or polling (counted
 * in src_fast, src_polls stays 0); an empty channel parks the coroutine
 * (other coroutines keep running) until a producer thread sends; receive
 * timeouts; a coroutine producer blocked on a full ring resumes when a
 * consumer thread drains it.  Threaded: suite tsan too.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"
#include "myco/rt.h"

#define MS 1000000ll
#define SEC 1000000000ll
#ifdef MYCO_SANITIZED
#define NMSG 500
#else
#define NMSG 5000
#endif

typedef struct {
	myco_chan_owner_t *own;
	myco_chan_t *prod, *cons;
	atomic_int ticks;
	atomic_int stop_ticker;
	int received;
	int errors;
	myco_loop_t *loop;
} ctx_t;

static void open_chan(ctx_t *c, uint32_t depth)
{
	myco_chan_config_t cfg;
	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = 16;
	cfg.depth = depth;
	assert_int_equal(myco_chan_create(&cfg, &c->own), 0);
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(c->own, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
	assert_true(n > 0);
	assert_int_equal(myco_chan_attach(fds, (size_t)n, MYCO_CHAN_PRODUCER, 0,
					  NULL, &c->prod), 0);
	n = myco_chan_cap_fds(c->own, MYCO_CHAN_CONSUMER, 0, fds, MYCO_CHAN_MAX_FDS);
	assert_true(n > 0);
	assert_int_equal(myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0,
					  NULL, &c->cons), 0);
}

static void close_chan(ctx_t *c)
{
	myco_chan_close(c->prod);
	myco_chan_close(c->cons);
	myco_chan_owner_close(c->own);
}

/* ---- already queued: no syscall path ------------------------------- */

static int drain_queued(void *arg)
{
	ctx_t *c = arg;
	for (int i = 0; i < 5; i++) {
		myco_chan_msg_t m;
		int r = myco_co_chan_recv(c->cons, &m, SEC);
		if (r != 0 || m.len != sizeof(int) ||
		    *(const int *)m.data != i)
			c->errors++;
		myco_chan_done(c->cons, &m);
		c->received++;
	}
	/* now empty: timeout 0 and a short timeout */
	myco_chan_msg_t m;
	if (myco_co_chan_recv(c->cons, &m, 0) != -ETIMEDOUT)
		c->errors++;
	if (myco_co_chan_recv(c->cons, &m, 2 * MS) != -ETIMEDOUT)
		c->errors++;
	return 0;
}

static void test_queued_fast_path(void **state)
{
	(void)state;
	ctx_t c;
	memset(&c, 0, sizeof(c));
	open_chan(&c, 8);
	for (int i = 0; i < 5; i++)
		assert_int_equal(myco_chan_send(c.prod, &i, sizeof(i)), 0);
	myco_loop_t *l;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, drain_queued, &c, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.received, 5);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.src_fast, 5);
	assert_int_equal(st.src_polls, 1); /* only the 2 ms timeout waited */
	myco_loop_destroy(l);
	close_chan(&c);
}

/* ---- empty: park until a thread sends ------------------------------- */

static void *producer_thread(void *arg)
{
	ctx_t *c = arg;
	/* Send nothing until the consumer has parked on the empty channel
	 * (armed + polled) and the ticker has run meanwhile: proof that a
	 * coroutine waiting on a channel does not block its loop. */
	uint64_t end = myco_now() + 20 * SEC;
	for (;;) {
		myco_loop_stats_t st;
		myco_loop_stats(c->loop, &st);
		if (st.src_polls > 0 && atomic_load(&c->ticks) > 1)
			break;
		if (myco_now() > end)
			return (void *)2;
		usleep(200);
	}
	for (int i = 0; i < NMSG; i++) {
		if (myco_chan_send_timeout(c->prod, &i, sizeof(i), 10 * SEC) != 0)
			return (void *)1;
		if (i % 500 == 0)
			usleep(1000); /* let the consumer run dry and park */
	}
	return NULL;
}

static int consumer_co(void *arg)
{
	ctx_t *c = arg;
	for (int i = 0; i < NMSG; i++) {
		int v = -1;
		int r = myco_co_chan_recv_copy(c->cons, &v, sizeof(v), NULL, 10 * SEC);
		if (r != (int)sizeof(v) || v != i)
			c->errors++;
		c->received++;
	}
	atomic_store(&c->stop_ticker, 1);
	return 0;
}

static int ticker_co(void *arg)
{
	ctx_t *c = arg;
	while (!atomic_load(&c->stop_ticker)) {
		atomic_fetch_add(&c->ticks, 1);
		myco_sleep_ns(100000);
	}
	return 0;
}

static void test_park_and_wake(void **state)
{
	(void)state;
	ctx_t c;
	memset(&c, 0, sizeof(c));
	open_chan(&c, 64);
	myco_loop_t *l;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	c.loop = l;
	assert_int_equal(myco_spawn(l, NULL, consumer_co, &c, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, ticker_co, &c, NULL), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, producer_thread, &c), 0);
	assert_int_equal(myco_loop_run(l), 0);
	void *tr;
	pthread_join(th, &tr);
	assert_null(tr);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.received, NMSG);
	assert_true(atomic_load(&c.ticks) > 0); /* the loop was not blocked */
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_true(st.src_polls > 0);
	myco_loop_destroy(l);
	close_chan(&c);
}

/* ---- full ring: the coroutine producer parks -------------------------- */

static void *consumer_thread(void *arg)
{
	ctx_t *c = arg;
	for (int i = 0; i < NMSG; i++) {
		int v = -1;
		int r = myco_chan_recv_copy(c->cons, &v, sizeof(v), NULL, 10 * SEC);
		if (r != (int)sizeof(v) || v != i)
			return (void *)1;
		if (i % 500 == 0)
			usleep(1000); /* let the ring fill up */
	}
	return NULL;
}

static int producer_co(void *arg)
{
	ctx_t *c = arg;
	for (int i = 0; i < NMSG; i++)
		if (myco_co_chan_send(c->prod, &i, sizeof(i), 10 * SEC) != 0)
			c->errors++;
	return 0;
}

static void test_send_full(void **state)
{
	(void)state;
	ctx_t c;
	memset(&c, 0, sizeof(c));
	open_chan(&c, 8);
	myco_loop_t *l;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, producer_co, &c, NULL), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, consumer_thread, &c), 0);
	assert_int_equal(myco_loop_run(l), 0);
	void *tr;
	pthread_join(th, &tr);
	assert_null(tr);
	assert_int_equal(c.errors, 0);
	myco_loop_destroy(l);
	close_chan(&c);
}

/* ---- both ends coroutines, on two loops of a group --------------------- */

static ctx_t g_gc;
static myco_group_t *g_grp;

static int grp_consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < NMSG; i++) {
		int v = -1;
		int r = myco_co_chan_recv_copy(g_gc.cons, &v, sizeof(v), NULL, 10 * SEC);
		if (r != (int)sizeof(v) || v != i)
			g_gc.errors++;
		g_gc.received++;
	}
	myco_group_stop(g_grp);
	return 0;
}

static int grp_producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < NMSG; i++)
		if (myco_co_chan_send(g_gc.prod, &i, sizeof(i), 10 * SEC) != 0)
			atomic_fetch_add(&g_gc.ticks, 1); /* counts send errors */
	return 0;
}

static void grp_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)arg;
	myco_spawn(l, NULL, idx == 0 ? grp_producer : grp_consumer, NULL, NULL);
}

static void test_group_both_ends(void **state)
{
	(void)state;
	memset(&g_gc, 0, sizeof(g_gc));
	open_chan(&g_gc, 16);
	myco_group_opts_t o = { .nloops = 2 };
	assert_int_equal(myco_group_create(&g_grp, &o), 0);
	assert_int_equal(myco_group_run(g_grp, grp_init, NULL), 0);
	assert_int_equal(g_gc.errors, 0);
	assert_int_equal(g_gc.received, NMSG);
	assert_int_equal(atomic_load(&g_gc.ticks), 0);
	myco_group_destroy(g_grp);
	close_chan(&g_gc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_fast_path),
		cmocka_unit_test(test_park_and_wake),
		cmocka_unit_test(test_send_full),
		cmocka_unit_test(test_group_both_ends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
