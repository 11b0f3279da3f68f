/*
 * test_wheel.c: unit tests of the hierarchical timing wheel (lib/rt/wheel.c)
 * on simulated time: near timers, far timers that cascade through several
 * levels, ordering, deletion, re-arming from a callback, never firing early.
 * Not for: loop integration (test_sched.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rt_int.h"

typedef struct {
	myco__tnode_t tn;
	int id;
	uint64_t fired_at;
	int fired;
} tt_t;

static uint64_t g_now;
static int g_order[4096];
static int g_norder;

static void fire(myco__tnode_t *n)
{
	tt_t *t = (tt_t *)n;
	t->fired++;
	t->fired_at = g_now;
	if (g_norder < 4096)
		g_order[g_norder++] = t->id;
}

static void test_near(void **state)
{
	(void)state;
	myco__wheel_t w;
	g_now = 1000000;
	g_norder = 0;
	myco__wheel_init(&w, g_now);
	tt_t a = { .tn.fire = fire, .id = 1 }, b = { .tn.fire = fire, .id = 2 };
	myco__wheel_add(&w, &b.tn, g_now + 5000);
	myco__wheel_add(&w, &a.tn, g_now + 3000);
	assert_int_equal(w.count, 2);
	uint64_t nx = myco__wheel_next_ns(&w);
	assert_true(nx <= g_now + 3000 + 1024);
	assert_true(nx >= g_now);
	g_now += 2999;
	assert_int_equal(myco__wheel_advance(&w, g_now), 0);
	/* due at +3000, fired at the next tick boundary (<= 1024 ns late) */
	g_now += 1 + 1024;
	assert_int_equal(myco__wheel_advance(&w, g_now), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 0);
	g_now += 10000;
	assert_int_equal(myco__wheel_advance(&w, g_now), 1);
	assert_int_equal(b.fired, 1);
	assert_int_equal(w.count, 0);
	assert_int_equal(myco__wheel_next_ns(&w), UINT64_MAX);
}

/* Timers spread from 1 us to ~days, advanced in irregular steps: each
 * fires exactly once, never before its expiry, and in expiry order. */
static void test_far_and_cascade(void **state)
{
	(void)state;
	enum { N = 2000 };
	tt_t *t = calloc(N, sizeof(*t));
	assert_non_null(t);
	myco__wheel_t w;
	g_now = 123456789;
	g_norder = 0;
	myco__wheel_init(&w, g_now);
	uint64_t base = g_now;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < N; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		unsigned shift = (unsigned)(x % 48); /* up to 2^47 ns ~ 39 h */
		uint64_t d = (x >> 8) & (((uint64_t)1 << shift) - 1);
		t[i].tn.fire = fire;
		t[i].id = i;
		myco__wheel_add(&w, &t[i].tn, base + d + 1);
	}
	assert_int_equal(w.count, N);
	uint64_t step = 777;
	while (w.count) {
		uint64_t nx = myco__wheel_next_ns(&w);
		assert_true(nx != UINT64_MAX);
		/* jump either to the next bound or by a growing step */
		g_now = nx > g_now + step ? g_now + step : nx;
		if (g_now < nx)
			g_now = nx;
		myco__wheel_advance(&w, g_now);
		step = step * 3 / 2 + 1;
		if (step > (1ull << 40))
			step = 1ull << 40;
	}
	assert_int_equal(g_norder, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t[i].fired, 1);
		assert_true(t[i].fired_at >= t[i].tn.expire_ns);
	}
	/* fired in non-decreasing expiry order, modulo the 1024 ns tick */
	for (int i = 1; i < N; i++) {
		uint64_t p = t[g_order[i - 1]].tn.expire_ns;
		uint64_t c = t[g_order[i]].tn.expire_ns;
		assert_true(c + 1024 >= p);
	}
	free(t);
}

/* A single very far timer (years away) is clamped into the top level and
 * still fires, at or after its time, after repeated cascades. */
static void test_very_far(void **state)
{
	(void)state;
	myco__wheel_t w;
	g_now = 5;
	g_norder = 0;
	myco__wheel_init(&w, g_now);
	tt_t a = { .tn.fire = fire, .id = 7 };
	uint64_t exp = g_now + (1ull << 62);
	myco__wheel_add(&w, &a.tn, exp);
	int rounds = 0;
	while (!a.fired && rounds < 1000) {
		uint64_t nx = myco__wheel_next_ns(&w);
		assert_true(nx != UINT64_MAX);
		assert_true(nx <= exp + 1024); /* tick rounding */
		g_now = nx;
		myco__wheel_advance(&w, g_now);
		rounds++;
	}
	assert_int_equal(a.fired, 1);
	assert_true(a.fired_at >= exp);
}

static void test_delete_and_due(void **state)
{
	(void)state;
	myco__wheel_t w;
	g_now = 1ull << 30;
	g_norder = 0;
	myco__wheel_init(&w, g_now);
	tt_t a = { .tn.fire = fire, .id = 1 }, b = { .tn.fire = fire, .id = 2 },
	     c = { .tn.fire = fire, .id = 3 };
	myco__wheel_add(&w, &a.tn, g_now + 100000000);  /* level >0 */
	myco__wheel_add(&w, &b.tn, g_now - 5);           /* already due */
	myco__wheel_add(&w, &c.tn, g_now + 70000);
	assert_int_equal(myco__wheel_next_ns(&w), 0);
	myco__wheel_del(&w, &a.tn);
	myco__wheel_del(&w, &a.tn); /* idempotent */
	assert_false(a.tn.armed);
	assert_int_equal(myco__wheel_advance(&w, g_now), 1);
	assert_int_equal(b.fired, 1);
	/* re-add c further away: moves, does not fire at the old time */
	myco__wheel_add(&w, &c.tn, g_now + 900000);
	g_now += 200000;
	assert_int_equal(myco__wheel_advance(&w, g_now), 0);
	g_now += 800000;
	assert_int_equal(myco__wheel_advance(&w, g_now), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(a.fired, 0);
	assert_int_equal(w.count, 0);
}

static tt_t g_rearm;
static void fire_rearm(myco__tnode_t *n);
static myco__wheel_t *g_w;
static void fire_rearm(myco__tnode_t *n)
{
	tt_t *t = (tt_t *)n;
	t->fired++;
	if (t->fired < 100)
		myco__wheel_add(g_w, n, n->expire_ns + 1000000);
}

static void test_rearm_in_callback(void **state)
{
	(void)state;
	myco__wheel_t w;
	g_w = &w;
	g_now = 999;
	myco__wheel_init(&w, g_now);
	g_rearm = (tt_t){ .tn.fire = fire_rearm };
	myco__wheel_add(&w, &g_rearm.tn, g_now + 1000000);
	/* one big jump: every period passes inside a single advance */
	g_now += 1000000ull * 200;
	myco__wheel_advance(&w, g_now);
	assert_int_equal(g_rearm.fired, 100);
	assert_int_equal(w.count, 0);
}

/* A 1 ms timer sits above level 0: the next expiry the loop sleeps to
 * is the timer's own tick, not the start of its 65 us slot, so a
 * periodic task costs one wake-up per period; advancing to exactly that
 * time fires it. */
static void test_next_is_exact(void **state)
{
	(void)state;
	myco__wheel_t w;
	g_now = 987654321;
	g_norder = 0;
	myco__wheel_init(&w, g_now);
	tt_t a = { .tn.fire = fire, .id = 1 }, b = { .tn.fire = fire, .id = 2 };
	uint64_t ea = g_now + 1000000, eb = g_now + 1030000;
	myco__wheel_add(&w, &b.tn, eb);
	myco__wheel_add(&w, &a.tn, ea);
	uint64_t tick = (ea + 1023) / 1024 * 1024;
	assert_int_equal(myco__wheel_next_ns(&w), tick);
	g_now = tick;
	assert_int_equal(myco__wheel_advance(&w, g_now), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(myco__wheel_next_ns(&w), (eb + 1023) / 1024 * 1024);
	/* more than the walk limit in one slot: a lower bound, never late */
	tt_t many[40];
	for (int i = 0; i < 40; i++) {
		many[i] = (tt_t){ .tn.fire = fire, .id = 10 + i };
		myco__wheel_add(&w, &many[i].tn, g_now + 2000000 + 1000 * i);
	}
	myco__wheel_del(&w, &b.tn);
	uint64_t nx = myco__wheel_next_ns(&w);
	assert_true(nx <= g_now + 2000000 + 1024);
	assert_true(nx > g_now);
	while (w.count) {
		g_now = myco__wheel_next_ns(&w);
		myco__wheel_advance(&w, g_now);
	}
	for (int i = 0; i < 40; i++)
		assert_true(many[i].fired_at >= many[i].tn.expire_ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_near),
		cmocka_unit_test(test_next_is_exact),
		cmocka_unit_test(test_far_and_cascade),
		cmocka_unit_test(test_very_far),
		cmocka_unit_test(test_delete_and_due),
		cmocka_unit_test(test_rearm_in_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
