/*
 * test_adaptive.c: the adaptive policy (suite tsan).  The pieces against
 * their model: task classes from names, the deposit rule (a shorter
 * spawn -> finish time deposits more), evaporation (1/8 per millisecond,
 * floored), and the weighted random choice (frequencies match
 * tau / (1 + queue)^2 over many draws from a fixed seed).  End to end: a
 * group of adaptive loops runs every task spawned from a loop exactly
 * once, places some on each loop, and learns (pheromone moves); and the
 * spawns placed on a loop whose thread stays busy are stolen by the idle
 * one (adaptive falls back to stealing: without it they never ran).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_int.h"

#ifdef MYCO_SANITIZED
#define NTASK 2000
#else
#define NTASK 20000
#endif

static void test_names_classes(void **state)
{
	(void)state;
	assert_int_equal(myco_policy_from_name("adaptive"), MYCO_POLICY_ADAPTIVE);
	assert_string_equal(myco_policy_name(MYCO_POLICY_ADAPTIVE), "adaptive");
	assert_int_equal(myco__aco_class(NULL), 0);
	assert_int_equal(myco__aco_class(""), 0);
	unsigned a = myco__aco_class("parse"), b = myco__aco_class("parse");
	assert_int_equal(a, b);
	assert_true(a > 0 && a < MYCO__ACO_CLASSES);
}

static void test_deposit_evaporate(void **state)
{
	(void)state;
	/* the deposit falls with the sojourn time */
	uint32_t prev = UINT32_MAX;
	for (uint64_t us = 0; us < 100000; us = us * 2 + 1) {
		uint32_t d = myco__aco_deposit_amount(us * 1000);
		assert_true(d <= prev);
		prev = d;
	}
	assert_int_equal(myco__aco_deposit_amount(0), MYCO__ACO_Q / MYCO__ACO_Q0);
	assert_int_equal(myco__aco_deposit_amount(90000), MYCO__ACO_Q / 100);

	myco__aco_t *a;
	assert_int_equal(myco__aco_new(&a, 2), 0);
	myco__aco_col_t *c = myco__aco_col(a, 1);
	assert_non_null(c);
	assert_null(myco__aco_col(a, 2));
	uint64_t t = 500000; /* within the first millisecond: no evaporation */
	c->last_evap = 0;
	myco__aco_deposit(c, 3, 0, t);
	assert_int_equal(c->tau[3], MYCO__ACO_INIT + MYCO__ACO_Q / MYCO__ACO_Q0);
	assert_int_equal(c->tau[4], MYCO__ACO_INIT);
	/* a millisecond later every class of the column loses 1/8 (after the
	 * deposit of this completion) */
	t = 1000000;
	uint32_t before3 = c->tau[3];
	myco__aco_deposit(c, 3, 90000, t);
	uint32_t want3 = before3 + MYCO__ACO_Q / 100;
	assert_int_equal(c->tau[3], want3 - want3 / 8);
	assert_int_equal(c->tau[4], MYCO__ACO_INIT - MYCO__ACO_INIT / 8);
	/* repeated evaporation stops at the floor */
	for (int k = 0; k < 200; k++) {
		t += 1000000;
		myco__aco_deposit(c, 5, UINT64_MAX / 2, t);
	}
	assert_int_equal(c->tau[4], MYCO__ACO_MIN);
	/* the cap */
	for (int k = 0; k < 200; k++)
		myco__aco_deposit(c, 6, 0, t);
	assert_int_equal(c->tau[6], MYCO__ACO_MAX);
	/* the other column is untouched */
	assert_int_equal(myco__aco_col(a, 0)->tau[4], MYCO__ACO_INIT);
	myco__aco_free(a);
}

static void test_pick_model(void **state)
{
	(void)state;
	uint64_t rng = 42;
	const unsigned N = 200000;
	uint32_t tau[3] = { 3000, 1000, 0 };
	uint64_t q[3] = { 0, 0, 0 };
	unsigned hits[3] = { 0 };
	for (unsigned k = 0; k < N; k++)
		hits[myco__aco_pick(tau, q, 3, &rng)]++;
	/* expected 0.75 / 0.25 / 0: the seed is fixed, so this is exact
	 * arithmetic on a known sequence, with a tolerance for the model */
	assert_int_equal(hits[2], 0);
	assert_true(hits[0] > N * 0.74 && hits[0] < N * 0.76);
	/* a queue of 2 on loop 0 divides its weight by 9: 1/4 of 4000 */
	q[0] = 2;
	memset(hits, 0, sizeof hits);
	for (unsigned k = 0; k < N; k++)
		hits[myco__aco_pick(tau, q, 3, &rng)]++;
	assert_true(hits[0] > N * 0.24 && hits[0] < N * 0.26);
	/* all weights zero: the last loop (never out of range) */
	uint32_t z[2] = { 0, 0 };
	assert_int_equal(myco__aco_pick(z, q, 2, &rng), 1);
}

/* ---- end to end ---------------------------------------------------------- */

static atomic_uchar ran[NTASK];
static atomic_int done_n, dup_n;
static atomic_int on_loop[2];

static int task(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	myco_yield();
	atomic_fetch_add(&on_loop[myco_loop_index(myco_loop_current())], 1);
	if (atomic_fetch_add(&ran[id], 1) != 0)
		atomic_fetch_add(&dup_n, 1);
	atomic_fetch_add(&done_n, 1);
	return 0;
}

static int spawner(void *arg)
{
	(void)arg;
	for (unsigned id = 0; id < NTASK; id++) {
		myco_co_opts_t o = { .name = id % 2 ? "odd" : "even" };
		if (myco_spawn(myco_loop_current(), NULL, task,
			       (void *)(uintptr_t)id, &o) != 0)
			return -1;
		if (id % 16 == 0)
			myco_yield();
	}
	return 0;
}

static void init(myco_loop_t *l, unsigned i, void *arg)
{
	(void)arg;
	if (i == 0)
		myco_spawn(l, NULL, spawner, NULL,
			   &(myco_co_opts_t){ .flags = MYCO_CO_PINNED });
}

static void test_group(void **state)
{
	(void)state;
	myco_group_t *g;
	myco_group_opts_t go = { .nloops = 2, .no_pin = true,
				 .loop.policy = MYCO_POLICY_ADAPTIVE };
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco_group_start(g, init, NULL), 0);
	for (long i = 0; atomic_load(&done_n) < NTASK; i++) {
		assert_true(i < 3000000);
		usleep(20);
	}
	assert_int_equal(atomic_load(&dup_n), 0);
	for (unsigned i = 0; i < NTASK; i++)
		assert_int_equal(atomic_load(&ran[i]), 1);
	/* placement used both loops (initial pheromone is equal, so the
	 * first choices are even odds) */
	assert_true(atomic_load(&on_loop[0]) > 0);
	assert_true(atomic_load(&on_loop[1]) > 0);
	/* completions deposited */
	uint32_t t0, t1;
	myco_loop_t *l0 = myco_group_loop(g, 0);
	assert_int_equal(myco_aco_pheromone(l0, "odd", 0, &t0), 0);
	assert_int_equal(myco_aco_pheromone(l0, "odd", 1, &t1), 0);
	assert_true(t0 != MYCO__ACO_INIT || t1 != MYCO__ACO_INIT);
	assert_int_equal(myco_aco_pheromone(l0, "odd", 2, &t1), -EINVAL);
	print_message("on loop 0: %d, loop 1: %d; pheromone 'odd' %u / %u\n",
		      atomic_load(&on_loop[0]), atomic_load(&on_loop[1]), t0, t1);
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

/* ---- a busy loop's queued spawns are stolen ---------------------------- */

#define NBUSY 200
static atomic_int busy_done;
static atomic_uchar busy_ran[NBUSY];

static int busy_task(void *arg)
{
	atomic_fetch_add(&busy_ran[(uintptr_t)arg], 1);
	atomic_fetch_add(&busy_done, 1);
	return 0;
}

/* Places NBUSY tasks, then keeps its loop's thread (no yield) until all
 * ran: those the colony put on this loop can only run if the other loop
 * steals them. */
static int busy_spawner(void *arg)
{
	(void)arg;
	myco_loop_t *l = myco_loop_current();
	for (uintptr_t i = 0; i < NBUSY; i++)
		assert_int_equal(myco_spawn(l, NULL, busy_task, (void *)i,
					    &(myco_co_opts_t){ .name = "busy" }), 0);
	while (atomic_load(&busy_done) < NBUSY)
		sched_yield();
	return 0;
}

static void busy_init(myco_loop_t *l, unsigned i, void *arg)
{
	(void)arg;
	if (i == 0)
		myco_spawn(l, NULL, busy_spawner, NULL,
			   &(myco_co_opts_t){ .flags = MYCO_CO_PINNED });
}

static void test_busy_loop_stolen_from(void **state)
{
	(void)state;
	myco_group_t *g;
	myco_group_opts_t go = { .nloops = 2, .no_pin = true,
				 .loop.policy = MYCO_POLICY_ADAPTIVE };
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco_group_start(g, busy_init, NULL), 0);
	for (long i = 0; atomic_load(&busy_done) < NBUSY; i++) {
		assert_true(i < 3000000);
		usleep(20);
	}
	for (unsigned i = 0; i < NBUSY; i++)
		assert_int_equal(atomic_load(&busy_ran[i]), 1);
	myco_loop_stats_t st;
	assert_int_equal(myco_loop_stats(myco_group_loop(g, 1), &st), 0);
	print_message("loop 1 stole %llu of %d\n", (unsigned long long)st.stolen_in, NBUSY);
	assert_true(st.stolen_in > 0);
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_classes),
		cmocka_unit_test(test_deposit_evaporate),
		cmocka_unit_test(test_pick_model),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_busy_loop_stolen_from),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
