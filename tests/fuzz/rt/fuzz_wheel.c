/*
 * fuzz_wheel.c: libFuzzer harness for the timer wheel (lib/rt/wheel.c),
 * checked against a plain model.  The input is a program of operations on
 * up to 64 timers: add with a delay (from nanoseconds to beyond the
 * wheel's 2^58 ns span), delete, re-add from inside a callback, and time
 * advances of any size.  After every advance: every timer whose expiry is
 * due (rounded up to a 1024 ns tick) has fired exactly once, none fired
 * early, the armed count matches, and the next-expiry bound is neither
 * later than the earliest armed timer's tick nor in the past.
 * Not for: the loop around the wheel (tests/unit/rt/test_sched.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

#define NT 64

typedef struct {
	myco__tnode_t tn;   /* first member */
	int idx;
	uint64_t exp;       /* model: expiry while armed */
	bool armed;         /* model */
	int fired;          /* times fired since armed */
	uint64_t rearm;     /* if nonzero, re-add itself with this delay */
} ft_t;

static ft_t g_t[NT];
static myco__wheel_t g_w;
static uint64_t g_now;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint64_t tick_up(uint64_t ns)
{
	return (ns >> 10) + ((ns & 1023) != 0);
}

static void fire(myco__tnode_t *n)
{
	ft_t *t = (ft_t *)n;
	check(t->armed);               /* only armed timers fire */
	check(t->exp <= g_now);        /* never early */
	t->fired++;
	t->armed = false;
	if (t->rearm) {
		uint64_t d = t->rearm;
		t->rearm = 0;
		t->exp = g_now + d;
		t->armed = true;
		t->fired = 0;
		myco__wheel_add(&g_w, &t->tn, t->exp);
	}
}

static uint64_t rd(const uint8_t **p, size_t *n, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
		v |= (uint64_t)**p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(g_t, 0, sizeof(g_t));
	g_now = rd(&data, &size, 5);             /* arbitrary start time */
	myco__wheel_init(&g_w, g_now);
	for (int i = 0; i < NT; i++) {
		g_t[i].tn.fire = fire;
		g_t[i].idx = i;
	}
	while (size > 0) {
		uint8_t op = (uint8_t)rd(&data, &size, 1);
		ft_t *t = &g_t[op & (NT - 1)];
		switch (op >> 6) {
		case 0: { /* add: delay = mantissa << shift, up to ~2^62 */
			uint64_t m = rd(&data, &size, 2);
			unsigned sh = (unsigned)rd(&data, &size, 1) % 47;
			uint64_t d = m << sh;
			t->exp = g_now + d;
			t->armed = true;
			t->fired = 0;
			myco__wheel_add(&g_w, &t->tn, t->exp);
			break;
		}
		case 1: /* delete */
			myco__wheel_del(&g_w, &t->tn);
			t->armed = false;
			break;
		case 2: /* arrange a re-add from the callback */
			t->rearm = rd(&data, &size, 3) + 1;
			break;
		case 3: { /* advance */
			uint64_t m = rd(&data, &size, 2);
			unsigned sh = (unsigned)rd(&data, &size, 1) % 50;
			uint64_t d = m << sh;
			/* monotonic time stays far below 2^64 (centuries) */
			if (d > (1ull << 62) || g_now + d > (1ull << 63))
				d = 1ull << 20;
			g_now += d;
			myco__wheel_advance(&g_w, g_now);
			uint64_t now_tick = g_now >> 10, armed = 0;
			uint64_t min_tick = UINT64_MAX;
			for (int i = 0; i < NT; i++) {
				ft_t *x = &g_t[i];
				check(x->fired <= 1);
				if (!x->armed)
					continue;
				armed++;
				check(x->tn.armed);
				/* due timers must have fired */
				check(tick_up(x->exp) > now_tick);
				if (tick_up(x->exp) < min_tick)
					min_tick = tick_up(x->exp);
			}
			check(armed == g_w.count);
			uint64_t nx = myco__wheel_next_ns(&g_w);
			if (armed) {
				check(nx != UINT64_MAX);
				check(nx <= min_tick << 10);
				check(nx > g_now - (g_now & 1023) || nx == 0);
			} else {
				check(nx == UINT64_MAX);
			}
			break;
		}
		}
	}
	return 0;
}
