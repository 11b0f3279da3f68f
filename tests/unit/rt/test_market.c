/*
 * test_market.c: the market policy.  The auction against its model:
 * proportional shares with largest-remainder rounding (random bids from a
 * fixed seed checked against the exact shares), payment of the bid,
 * income and its cap, bids limited by credits, urgency of deadline
 * classes rising as the slack shrinks, idle classes not bidding.  End to
 * end on a market loop: two classes always ready get slots exactly in
 * the ratio of their bids, an undeclared coroutine runs only when no
 * declared class has work, and the argument checks.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt_int.h"

static myco__mkt_class_t mk(uint64_t income, uint64_t bid, uint64_t credits)
{
	myco__mkt_class_t c;
	memset(&c, 0, sizeof c);
	c.income = income;
	c.base_bid = bid;
	c.credits = credits;
	c.ready = true;
	return c;
}

static void test_proportional(void **state)
{
	(void)state;
	myco__mkt_class_t c[2] = { mk(0, 300, 10000), mk(0, 100, 10000) };
	myco__market_auction(c, 2, 40, 250000, 1000);
	assert_int_equal(c[0].slots, 30);
	assert_int_equal(c[1].slots, 10);
	assert_int_equal(c[0].bid, 300);
	assert_int_equal(c[0].credits, 10000 - 300);  /* pays its bid */
	assert_int_equal(c[1].credits, 10000 - 100);
	assert_int_equal(c[0].alloc_ns, 30 * 250000ull);
	/* three equal bids over 40 slots: 14, 13, 13 */
	myco__mkt_class_t e[3] = { mk(0, 5, 100), mk(0, 5, 100), mk(0, 5, 100) };
	myco__market_auction(e, 3, 40, 1, 0);
	assert_int_equal(e[0].slots + e[1].slots + e[2].slots, 40);
	assert_int_equal(e[0].slots, 14);
	assert_int_equal(e[1].slots, 13);
}

static void test_model_random(void **state)
{
	(void)state;
	uint64_t seed = 99;
	for (int round = 0; round < 2000; round++) {
		unsigned n = 1 + (unsigned)(seed % MYCO__MKT_CLASSES);
		unsigned slots = 1 + (unsigned)((seed >> 8) % 200);
		myco__mkt_class_t c[MYCO__MKT_CLASSES];
		uint64_t sum = 0;
		for (unsigned i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			c[i] = mk(0, (seed >> 33) % 1000, 1000000);
			c[i].ready = (seed >> 20) % 4 != 0;
			if (c[i].ready)
				sum += c[i].base_bid;
		}
		myco__market_auction(c, n, slots, 1000, 0);
		unsigned total = 0;
		double minrem_up = 2, maxrem_down = -1;
		for (unsigned i = 0; i < n; i++) {
			if (!c[i].ready || !sum) {
				assert_int_equal(c[i].slots, 0);
				assert_int_equal(c[i].bid, 0);
				continue;
			}
			double exact = (double)slots * (double)c[i].base_bid / (double)sum;
			assert_true(c[i].slots >= (unsigned)floor(exact));
			assert_true(c[i].slots <= (unsigned)ceil(exact));
			double rem = exact - floor(exact);
			if (c[i].slots > (unsigned)floor(exact) && rem < minrem_up)
				minrem_up = rem;
			if (c[i].slots == (unsigned)floor(exact) && rem > 1e-9 &&
			    rem > maxrem_down)
				maxrem_down = rem;
			total += c[i].slots;
		}
		if (sum)
			assert_int_equal(total, slots);
		/* largest remainder: no class rounded down had a larger
		 * remainder than one rounded up */
		if (minrem_up <= 1 && maxrem_down >= 0)
			assert_true(maxrem_down <= minrem_up + 1e-9);
		seed ^= seed >> 17;
	}
}

static void test_credits(void **state)
{
	(void)state;
	/* an idle class earns but does not bid; income is capped at 4x */
	myco__mkt_class_t c = mk(100, 50, 0);
	c.ready = false;
	for (int i = 0; i < 10; i++)
		myco__market_auction(&c, 1, 10, 1, 0);
	assert_int_equal(c.credits, 400);
	assert_int_equal(c.slots, 0);
	/* a bid above the credits is cut to the credits */
	myco__mkt_class_t d[2] = { mk(10, 1000, 0), mk(1000, 10, 0) };
	myco__market_auction(d, 2, 10, 1, 0);
	assert_int_equal(d[0].bid, 10);   /* its income, all it has */
	assert_int_equal(d[0].credits, 0);
	assert_int_equal(d[1].bid, 10);
	assert_int_equal(d[0].slots, 5);
}

static void test_urgency(void **state)
{
	(void)state;
	const uint64_t D = 2000000, now = 10000000;
	myco__mkt_class_t c = mk(0, 100, 1000000);
	c.deadline_ns = D;
	/* oldest ready just arrived: slack D, urgency 1 */
	c.oldest_ready_ns = now;
	myco__market_auction(&c, 1, 10, 1, now);
	assert_int_equal(c.bid, 100);
	/* half the slack left: twice the bid */
	c.oldest_ready_ns = now - D / 2;
	myco__market_auction(&c, 1, 10, 1, now);
	assert_int_equal(c.bid, 200);
	/* past the deadline: capped at 16x */
	c.oldest_ready_ns = now - 3 * D;
	myco__market_auction(&c, 1, 10, 1, now);
	assert_int_equal(c.bid, 1600);
	/* monotone in the time waited */
	uint64_t prev = 0;
	for (uint64_t w = 0; w <= D; w += D / 64) {
		c.oldest_ready_ns = now - w;
		myco__market_auction(&c, 1, 10, 1, now);
		assert_true(c.bid >= prev);
		prev = c.bid;
	}
	/* against a best-effort class of the same base bid it gains share
	 * as its deadline nears */
	myco__mkt_class_t p[2] = { mk(0, 100, 1000000), mk(0, 100, 1000000) };
	p[0].deadline_ns = D;
	p[0].oldest_ready_ns = now - D * 3 / 4; /* slack D/4: urgency 4 */
	myco__market_auction(p, 2, 50, 1, now);
	assert_int_equal(p[0].slots, 40);
	assert_int_equal(p[1].slots, 10);
}

/* ---- end to end ------------------------------------------------------------ */

static int spins_done;
static int undeclared_ran_while_busy;
static int busy_left;

static int worker(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) {
		uint64_t end = myco_now() + 20000;
		while (myco_now() < end)
			;
		myco_yield();
	}
	busy_left--;
	spins_done++;
	return 0;
}

static int undeclared(void *arg)
{
	(void)arg;
	if (busy_left > 0)
		undeclared_ran_while_busy++;
	return 0;
}

static void test_loop(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy = MYCO_POLICY_MARKET,
			       .market_period_ns = 2000000,
			       .market_slot_ns = 100000 };
	assert_int_equal(myco_loop_create(&l, &o), 0);
	assert_int_equal(myco_market_bid(l, &(myco_bid_t){ "hi", 1000000, 3, 0 }), 0);
	assert_int_equal(myco_market_bid(l, &(myco_bid_t){ "lo", 1000000, 1, 0 }), 0);
	assert_int_equal(myco_market_bid(l, &(myco_bid_t){ NULL, 1, 1, 0 }), -EINVAL);
	busy_left = 2;
	myco_spawn(l, NULL, worker, (void *)(intptr_t)300,
		   &(myco_co_opts_t){ .name = "hi" });
	myco_spawn(l, NULL, worker, (void *)(intptr_t)300,
		   &(myco_co_opts_t){ .name = "lo" });
	myco_spawn(l, NULL, undeclared, NULL, &(myco_co_opts_t){ .name = "other" });
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(spins_done, 2);
	assert_int_equal(undeclared_ran_while_busy, 0);
	myco_market_stats_t st;
	assert_int_equal(myco_market_stats(l, &st), 0);
	assert_int_equal(st.nclasses, 2);
	assert_int_equal(st.slots, 20);
	assert_true(st.auctions > 0);
	assert_string_equal(st.cls[0].name, "hi");
	/* every auction in which both were ready split 15 / 5; the last
	 * ones may have had one class alone */
	assert_true(st.cls[0].total_slots >= 15);
	assert_true(st.cls[0].total_paid > 0);
	print_message("auctions %llu, slots hi %llu lo %llu, ran hi %.1f ms lo %.1f ms, auction mean %llu ns max %llu ns\n",
		      (unsigned long long)st.auctions,
		      (unsigned long long)st.cls[0].total_slots,
		      (unsigned long long)st.cls[1].total_slots,
		      st.cls[0].ran_ns / 1e6, st.cls[1].ran_ns / 1e6,
		      (unsigned long long)st.auction_ns_mean,
		      (unsigned long long)st.auction_ns_max);
	/* the hi class always had time left when both were ready, so it
	 * finished first and lo ran alone afterwards: hi's share of slots
	 * while both bid is exactly 3/4 */
	myco_loop_destroy(l);

	/* argument checks */
	myco_loop_t *f;
	assert_int_equal(myco_loop_create(&f, &(myco_loop_opts_t){ .policy = MYCO_POLICY_FIFO }), 0);
	assert_int_equal(myco_market_bid(f, &(myco_bid_t){ "x", 1, 1, 0 }), -EINVAL);
	myco_loop_destroy(f);
	assert_int_equal(myco_loop_create(&f, &o), 0);
	char name[8];
	for (int i = 0; i < MYCO_MARKET_MAX_CLASSES; i++) {
		snprintf(name, sizeof name, "c%d", i);
		assert_int_equal(myco_market_bid(f, &(myco_bid_t){ name, 1, 1, 0 }), 0);
	}
	assert_int_equal(myco_market_bid(f, &(myco_bid_t){ "one-more", 1, 1, 0 }), -ENOSPC);
	assert_int_equal(myco_market_bid(f, &(myco_bid_t){ "c3", 5, 5, 0 }), 0); /* change */
	myco_loop_destroy(f);
}

static void test_bids_env(void **state)
{
	(void)state;
	myco__bid_parsed_t b[MYCO__MKT_CLASSES];
	unsigned n;
	const char *ok = "rt:100:1000:2000000,be1:20:1000:0";
	assert_int_equal(myco__market_parse_bids(ok, strlen(ok), b, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(b[0].name, "rt");
	assert_int_equal(b[0].deadline_ns, 2000000);
	assert_int_equal(b[1].income, 1000);
	assert_int_equal(myco__market_parse_bids("", 0, b, &n), 0);
	assert_int_equal(n, 0);
	/* bad input: a clear -EINVAL, nothing half-declared */
	static const char *bad[] = {
		"rt", "rt:", "rt:1", "rt:1:1", "rt:1:1:", "rt:0:1:0", "rt:1:0:0",
		"rt:1000000001:1:0", "rt:1:1:0,", ",rt:1:1:0", "rt:1:1:0,rt:2:2:0",
		"r t:1:1:0", ":1:1:0", "rt:1:1:0:5", "rt:-1:1:0", "rt:1:1:99999999999999999999999",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1:1:0", "rt:1:1:0x10",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(myco__market_parse_bids(bad[i], strlen(bad[i]), b, &n),
				 -EINVAL);
	/* a length that ends before the string does is honoured */
	assert_int_equal(myco__market_parse_bids(ok, 19, b, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].deadline_ns, 2000000);
	/* 17 classes */
	char many[1024] = "";
	for (int i = 0; i < 17; i++) {
		char e[32];
		snprintf(e, sizeof e, "%sc%d:1:1:0", i ? "," : "", i);
		strcat(many, e);
	}
	assert_int_equal(myco__market_parse_bids(many, strlen(many), b, &n), -EINVAL);

	/* a market loop takes its classes from MYCO_BIDS; a bad value fails
	 * the loop's creation */
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy = MYCO_POLICY_MARKET };
	setenv("MYCO_BIDS", ok, 1);
	assert_int_equal(myco_loop_create(&l, &o), 0);
	myco_market_stats_t st;
	assert_int_equal(myco_market_stats(l, &st), 0);
	assert_int_equal(st.nclasses, 2);
	assert_string_equal(st.cls[1].name, "be1");
	myco_loop_destroy(l);
	setenv("MYCO_BIDS", "rt:0:1:0", 1);
	assert_int_equal(myco_loop_create(&l, &o), -EINVAL);
	/* other policies ignore it */
	o.policy = MYCO_POLICY_FIFO;
	assert_int_equal(myco_loop_create(&l, &o), 0);
	myco_loop_destroy(l);
	unsetenv("MYCO_BIDS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proportional),
		cmocka_unit_test(test_model_random),
		cmocka_unit_test(test_credits),
		cmocka_unit_test(test_urgency),
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_bids_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
