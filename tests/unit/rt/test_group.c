/*
 * test_group.c: groups of loops on their own threads (suite tsan): posts
 * between sibling loops through the SPSC rings, including ring overflow and
 * per-pair FIFO order; myco_spawn_on; the steal policy (an idle sibling
 * steals queued spawns from a busy loop); an event waited on in one loop and
 * notified from another; group stop from a loop thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/rt.h"

#define SEC 1000000000ll

#ifdef MYCO_SANITIZED
#define NPING 2000
#define NBURST 3000
#else
#define NPING 20000
#define NBURST 20000
#endif

/* ---- ping-pong and burst ------------------------------------------------ */

typedef struct {
	myco_group_t *g;
	atomic_int pings, pongs;
	int next_expected; /* loop 1 thread only */
	int order_errors;  /* loop 1 thread only */
	atomic_int burst_done;
} pp_t;

static pp_t g_pp;

static void on_pong(void *arg);

static void on_ping(void *arg)
{
	/* runs on loop 1 */
	int v = (int)(intptr_t)arg;
	atomic_fetch_add(&g_pp.pings, 1);
	myco_post(myco_group_loop(g_pp.g, 0), on_pong, (void *)(intptr_t)(v + 1));
}

static void on_pong(void *arg)
{
	/* runs on loop 0 */
	int v = (int)(intptr_t)arg;
	atomic_fetch_add(&g_pp.pongs, 1);
	if (v < NPING * 2)
		myco_post(myco_group_loop(g_pp.g, 1), on_ping,
			  (void *)(intptr_t)(v + 1));
	else
		myco_group_stop(g_pp.g);
}

static void on_burst(void *arg)
{
	int v = (int)(intptr_t)arg;
	if (v != g_pp.next_expected)
		g_pp.order_errors++;
	g_pp.next_expected = v + 1;
	if (v == NBURST - 1)
		atomic_store(&g_pp.burst_done, 1);
}

static void pp_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)arg;
	assert_int_equal(myco_loop_index(l), idx);
	if (idx != 0)
		return;
	/* a burst far larger than the 64-slot ring: overflow path */
	myco_loop_t *to = myco_group_loop(g_pp.g, 1);
	for (int i = 0; i < NBURST; i++)
		assert_int_equal(myco_post(to, on_burst, (void *)(intptr_t)i), 0);
	assert_int_equal(myco_post(to, on_ping, (void *)(intptr_t)0), 0);
}

static void test_ping_pong(void **state)
{
	(void)state;
	myco_group_opts_t o = { .nloops = 2 };
	o.loop.post_ring_slots = 64;
	memset(&g_pp, 0, sizeof(g_pp));
	assert_int_equal(myco_group_create(&g_pp.g, &o), 0);
	assert_int_equal(myco_group_size(g_pp.g), 2);
	assert_null(myco_group_loop(g_pp.g, 2));
	assert_ptr_equal(myco_loop_group(myco_group_loop(g_pp.g, 1)), g_pp.g);
	assert_int_equal(myco_group_run(g_pp.g, pp_init, NULL), 0);
	assert_int_equal(atomic_load(&g_pp.pings), NPING + 1);
	assert_int_equal(atomic_load(&g_pp.pongs), NPING + 1);
	assert_int_equal(atomic_load(&g_pp.burst_done), 1);
	assert_int_equal(g_pp.order_errors, 0);
	myco_loop_stats_t st;
	myco_loop_stats(myco_group_loop(g_pp.g, 1), &st);
	assert_int_equal(st.posts_in, NBURST + NPING + 1);
	myco_group_destroy(g_pp.g);
}

/* ---- spawn_on + event across loops -------------------------------------- */

typedef struct {
	myco_group_t *g;
	myco_event_t *ev;
	atomic_int stage;
	atomic_int woke;
	atomic_int ran_on[2];
} ev_t;

static ev_t g_ev;

static int waiter_co(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_ev.ran_on[myco_loop_index(myco_loop_current())], 1);
	for (;;) {
		uint64_t s = myco_event_seq(g_ev.ev);
		if (atomic_load(&g_ev.stage) == 1)
			break;
		int r = myco_event_wait(g_ev.ev, s, 10 * SEC);
		if (r != 0)
			return r;
	}
	atomic_fetch_add(&g_ev.woke, 1);
	if (atomic_load(&g_ev.woke) == 3)
		myco_group_stop(g_ev.g);
	return 0;
}

static int notifier_co(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_ev.ran_on[myco_loop_index(myco_loop_current())], 1);
	/* give the waiters time to block (not required for correctness) */
	myco_sleep_ns(2000000);
	atomic_store(&g_ev.stage, 1);
	myco_event_notify(g_ev.ev);
	return 0;
}

static void ev_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)arg;
	if (idx == 0) {
		/* three waiters on loop 1, the notifier here */
		myco_loop_t *o = myco_group_loop(g_ev.g, 1);
		for (int i = 0; i < 3; i++)
			assert_int_equal(myco_spawn_on(o, waiter_co, NULL, NULL), 0);
		myco_co_opts_t pin = { .flags = MYCO_CO_PINNED, .name = "notifier" };
		assert_int_equal(myco_spawn(l, NULL, notifier_co, NULL, &pin), 0);
	}
}

static void test_spawn_on_event(void **state)
{
	(void)state;
	memset(&g_ev, 0, sizeof(g_ev));
	assert_int_equal(myco_event_create(&g_ev.ev), 0);
	myco_group_opts_t o = { .nloops = 2 };
	assert_int_equal(myco_group_create(&g_ev.g, &o), 0);
	assert_int_equal(myco_group_run(g_ev.g, ev_init, NULL), 0);
	assert_int_equal(atomic_load(&g_ev.woke), 3);
	assert_int_equal(atomic_load(&g_ev.ran_on[1]), 3);
	assert_int_equal(atomic_load(&g_ev.ran_on[0]), 1);
	myco_group_destroy(g_ev.g);
	myco_event_destroy(g_ev.ev);
}

/* ---- steal ---------------------------------------------------------------- */

#define NTASKS 200

typedef struct {
	myco_group_t *g;
	atomic_int done;
	atomic_int ran_on[2];
} st_t;

static st_t g_st;

static int small_task(void *arg)
{
	(void)arg;
	unsigned i = myco_loop_index(myco_loop_current());
	atomic_fetch_add(&g_st.ran_on[i], 1);
	myco_yield();
	if (atomic_fetch_add(&g_st.done, 1) + 1 == NTASKS)
		myco_group_stop(g_st.g);
	return 0;
}

/* Keeps loop 0's thread busy until loop 1 has run a task: loop 1 can only
 * get one by stealing. */
static int hog(void *arg)
{
	(void)arg;
	uint64_t end = myco_now() + 20 * SEC;
	while (atomic_load(&g_st.ran_on[1]) == 0 && myco_now() < end)
		sched_yield();
	return 0;
}

static void st_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)arg;
	if (idx != 0)
		return;
	myco_co_opts_t pin = { .flags = MYCO_CO_PINNED };
	assert_int_equal(myco_spawn(l, NULL, hog, NULL, &pin), 0);
	for (int i = 0; i < NTASKS; i++)
		assert_int_equal(myco_spawn(l, NULL, small_task, NULL, NULL), 0);
}

static void test_steal(void **state)
{
	(void)state;
	memset(&g_st, 0, sizeof(g_st));
	myco_group_opts_t o = { .nloops = 2 };
	o.loop.policy = MYCO_POLICY_STEAL;
	assert_int_equal(myco_group_create(&g_st.g, &o), 0);
	assert_int_equal(myco_group_run(g_st.g, st_init, NULL), 0);
	assert_int_equal(atomic_load(&g_st.done), NTASKS);
	assert_true(atomic_load(&g_st.ran_on[1]) > 0);
	myco_loop_stats_t s0, s1;
	myco_loop_stats(myco_group_loop(g_st.g, 0), &s0);
	myco_loop_stats(myco_group_loop(g_st.g, 1), &s1);
	assert_true(s1.stolen_in > 0);
	assert_int_equal(s1.stolen_in, s0.stolen_out);
	assert_int_equal(s0.spawned + s1.spawned, NTASKS + 1);
	myco_group_destroy(g_st.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_spawn_on_event),
		cmocka_unit_test(test_steal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
