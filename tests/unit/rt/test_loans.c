/*
 * test_loans.c: core loans in an elastic group (suite tsan): the signal
 * region's validation; a revoked loop parks and a grant resumes it (its
 * counters and timestamps say so); a post to a parked loop runs on that
 * loop; and, with grants toggled at random by another thread while tasks
 * are spawned on every loop (revoked ones included) and spawn children of
 * their own, every task runs exactly once: a revoked core's work is never
 * lost.  A grant that reaches a loop still awake (draining) is counted.
 * Stopping a group with parked loops returns.
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

#ifdef MYCO_SANITIZED
#define NTASK 3000
#else
#define NTASK 20000
#endif
#define NLOOPS 3

/* Wait for a condition, yielding; generous bound so a loaded machine only
 * slows the test down (the bound catches a hang, it measures nothing). */
#define WAIT_FOR(cond) do { \
	for (long _i = 0; !(cond); _i++) { \
		assert_true(_i < 6000000); \
		if (_i > 1000) usleep(20); else sched_yield(); \
	} \
} while (0)

static uint32_t ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static uint64_t ld64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void test_region_validation(void **state)
{
	(void)state;
	static myco_rt_loans_t r;
	assert_int_equal(myco_rt_loans_init(&r, 0, 1, 1), -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, 4, 0, 2), -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, 4, 3, 2), -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, 4, 1, 5), -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, MYCO_RT_LOANS_MAX + 1, 1, 1),
			 -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, 4, 1, 3), 0);
	assert_int_equal(myco_rt_loans_check(&r, sizeof r), 0);
	assert_int_equal(myco_rt_loans_check(&r, sizeof r - 1), -EPROTO);
	assert_int_equal(myco_rt_loans_granted(&r), 1);
	assert_int_equal(myco_rt_loans_grant(&r, 4, true), -EINVAL);
	assert_int_equal(myco_rt_loans_grant(&r, 2, true), 1);
	assert_int_equal(myco_rt_loans_grant(&r, 2, true), 0);
	assert_int_equal(myco_rt_loans_granted(&r), 2);
	assert_int_equal(r.core[2].grant_seq, 1);
	assert_true(r.core[2].grant_ns > 0);
	/* a region scribbled on by its other side is refused */
	r.nloops = 1000;
	assert_int_equal(myco_rt_loans_check(&r, sizeof r), -EINVAL);
	r.nloops = 4;
	r.max_active = 0;
	assert_int_equal(myco_rt_loans_check(&r, sizeof r), -EINVAL);
	r.max_active = 3;
	r.magic ^= 1;
	assert_int_equal(myco_rt_loans_check(&r, sizeof r), -EINVAL);
	/* a group refuses a bad region or one too small for it */
	myco_group_t *g = NULL;
	myco_group_opts_t go = { .nloops = 2, .no_pin = true, .loans = &r };
	assert_int_equal(myco_group_create(&g, &go), -EINVAL);
	assert_int_equal(myco_rt_loans_init(&r, 2, 1, 2), 0);
	go.nloops = 3;
	assert_int_equal(myco_group_create(&g, &go), -EINVAL);
}

/* ---- park, grant, post to a parked loop -------------------------------- */

static myco_rt_loans_t g_reg;
static atomic_int g_post_ran;
static myco_loop_t *g_post_target;

static void on_post(void *arg)
{
	(void)arg;
	if (myco_loop_current() == g_post_target)
		atomic_fetch_add(&g_post_ran, 1);
}

static void test_park_grant(void **state)
{
	(void)state;
	myco_group_t *g;
	assert_int_equal(myco_rt_loans_init(&g_reg, NLOOPS, 1, NLOOPS), 0);
	myco_group_opts_t go = { .nloops = NLOOPS, .no_pin = true,
				 .loans = &g_reg };
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco_group_start(g, NULL, NULL), 0);

	/* loops 1 and 2 start revoked: they park */
	WAIT_FOR(ld32(&g_reg.core[1].state) == MYCO_RT_CORE_PARKED &&
		 ld64(&g_reg.core[1].updated_ns) != 0);
	WAIT_FOR(ld32(&g_reg.core[2].state) == MYCO_RT_CORE_PARKED &&
		 ld64(&g_reg.core[2].updated_ns) != 0);
	WAIT_FOR(ld32(&g_reg.core[0].state) == MYCO_RT_CORE_RUNNING);

	/* a post to a parked loop runs there, and it parks again */
	g_post_target = myco_group_loop(g, 2);
	assert_int_equal(myco_post(g_post_target, on_post, NULL), 0);
	WAIT_FOR(atomic_load(&g_post_ran) == 1);
	WAIT_FOR(ld32(&g_reg.core[2].state) == MYCO_RT_CORE_PARKED);

	/* grant loop 2: it resumes, counted, after the grant's time stamp */
	assert_int_equal(myco_rt_loans_grant(&g_reg, 2, true), 1);
	WAIT_FOR(ld32(&g_reg.core[2].state) == MYCO_RT_CORE_RUNNING);
	assert_true(ld64(&g_reg.core[2].grants) >= 1);
	assert_true(ld64(&g_reg.core[2].running_ns) >=
		    ld64(&g_reg.core[2].grant_ns));
	assert_int_equal(ld64(&g_reg.core[2].seen_seq),
			 ld64(&g_reg.core[2].grant_seq));

	/* revoke it again: an idle loop asleep in the kernel sees that at
	 * its next wake-up (here a post), then parks; loop 0 (min_active)
	 * ignores a revoke */
	assert_int_equal(myco_rt_loans_grant(&g_reg, 2, false), 1);
	g_post_target = myco_group_loop(g, 2);
	assert_int_equal(myco_post(g_post_target, on_post, NULL), 0);
	WAIT_FOR(atomic_load(&g_post_ran) == 2);
	WAIT_FOR(ld32(&g_reg.core[2].state) == MYCO_RT_CORE_PARKED);
	assert_true(ld64(&g_reg.core[2].revokes) >= 2);
	assert_int_equal(myco_rt_loans_grant(&g_reg, 0, false), 1);
	g_post_target = myco_group_loop(g, 0);
	assert_int_equal(myco_post(g_post_target, on_post, NULL), 0);
	WAIT_FOR(atomic_load(&g_post_ran) == 3);
	assert_int_equal(ld32(&g_reg.core[0].state), MYCO_RT_CORE_RUNNING);

	/* stop with two loops parked */
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

/* ---- a grant that reaches an awake loop is counted --------------------- */

static myco_rt_loans_t a_reg;
static atomic_bool a_started, a_release;

/* Keeps its loop awake (always ready) until released: a revoke finds the
 * loop DRAINING, never PARKED. */
static int holder(void *arg)
{
	(void)arg;
	atomic_store(&a_started, true);
	while (!atomic_load(&a_release))
		myco_yield();
	return 0;
}

static void test_grant_reaches_awake_loop(void **state)
{
	(void)state;
	myco_group_t *g;
	assert_int_equal(myco_rt_loans_init(&a_reg, NLOOPS, 1, NLOOPS), 0);
	assert_int_equal(myco_rt_loans_grant(&a_reg, 2, true), 1);
	myco_group_opts_t go = { .nloops = NLOOPS, .no_pin = true, .loans = &a_reg };
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco_group_start(g, NULL, NULL), 0);
	myco_co_opts_t o = { .name = "holder", .flags = MYCO_CO_PINNED };
	assert_int_equal(myco_spawn_on(myco_group_loop(g, 2), holder, NULL, &o), 0);
	WAIT_FOR(atomic_load(&a_started) &&
		 ld32(&a_reg.core[2].state) == MYCO_RT_CORE_RUNNING);
	uint64_t g0 = ld64(&a_reg.core[2].grants);
	/* revoked while its coroutine runs: it drains, awake */
	assert_int_equal(myco_rt_loans_grant(&a_reg, 2, false), 1);
	WAIT_FOR(ld32(&a_reg.core[2].state) == MYCO_RT_CORE_DRAINING);
	/* granted again before it could park: running, and counted */
	assert_int_equal(myco_rt_loans_grant(&a_reg, 2, true), 1);
	WAIT_FOR(ld32(&a_reg.core[2].state) == MYCO_RT_CORE_RUNNING);
	assert_int_equal(ld64(&a_reg.core[2].grants), g0 + 1);
	assert_int_equal(ld64(&a_reg.core[2].revokes), 1);
	atomic_store(&a_release, true);
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

/* ---- churn: nothing is lost ------------------------------------------- */

static myco_rt_loans_t c_reg;
static atomic_uchar c_ran[2 * NTASK];
static atomic_int c_done, c_dup;
static atomic_bool c_stop_churn;

static int child(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	if (atomic_fetch_add(&c_ran[id], 1) != 0)
		atomic_fetch_add(&c_dup, 1);
	atomic_fetch_add(&c_done, 1);
	return 0;
}

static int task(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	/* a few scheduling points: a revoke may arrive in between */
	myco_yield();
	if (id % 7 == 0)
		myco_sleep_ns(20000);
	myco_yield();
	/* a child spawned from here goes to this loop's deque: if the loop
	 * is revoked, a sibling must take it */
	myco_co_opts_t o = { .name = "child" };
	if (myco_spawn(myco_loop_current(), NULL, child,
		       (void *)(uintptr_t)(NTASK + id), &o) != 0)
		return -1;
	if (atomic_fetch_add(&c_ran[id], 1) != 0)
		atomic_fetch_add(&c_dup, 1);
	atomic_fetch_add(&c_done, 1);
	return 0;
}

static void nop(void *arg)
{
	(void)arg;
}

static void *churn(void *arg)
{
	myco_group_t *g = arg;
	unsigned seed = 12345;
	while (!atomic_load(&c_stop_churn)) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = 1 + (seed >> 16) % (NLOOPS - 1);
		bool on = (seed >> 8) & 1;
		/* a revoke is seen at the loop's next wake-up: give it one */
		if (myco_rt_loans_grant(&c_reg, i, on) == 1 && !on)
			myco_post(myco_group_loop(g, i), nop, NULL);
		for (int k = 0; k < 50; k++)
			sched_yield();
	}
	return NULL;
}

static void test_churn_nothing_lost(void **state)
{
	(void)state;
	myco_group_t *g;
	assert_int_equal(myco_rt_loans_init(&c_reg, NLOOPS, 1, NLOOPS), 0);
	myco_group_opts_t go = { .nloops = NLOOPS, .no_pin = true,
				 .loans = &c_reg };
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco_group_start(g, NULL, NULL), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, churn, g), 0);
	myco_co_opts_t o = { .name = "task" };
	for (unsigned id = 0; id < NTASK; id++) {
		myco_loop_t *l = myco_group_loop(g, id % NLOOPS);
		assert_int_equal(myco_spawn_on(l, task, (void *)(uintptr_t)id,
					       &o), 0);
		if (id % 64 == 0)
			sched_yield();
	}
	WAIT_FOR(atomic_load(&c_done) == 2 * NTASK);
	atomic_store(&c_stop_churn, true);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&c_dup), 0);
	for (unsigned i = 0; i < 2 * NTASK; i++)
		assert_int_equal(atomic_load(&c_ran[i]), 1);
	uint64_t revokes = 0, migrated = 0;
	for (unsigned i = 1; i < NLOOPS; i++) {
		revokes += ld64(&c_reg.core[i].revokes);
		migrated += ld64(&c_reg.core[i].migrated);
	}
	/* the churn really revoked loops while work was queued on them */
	assert_true(revokes > 0);
	print_message("revokes %llu, spawns migrated from revoked loops %llu\n",
		      (unsigned long long)revokes,
		      (unsigned long long)migrated);
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_validation),
		cmocka_unit_test(test_park_grant),
		cmocka_unit_test(test_grant_reaches_awake_loop),
		cmocka_unit_test(test_churn_nothing_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
