/*
 * market.c (bench): one loop on CPU 0 under contention, three schedulers
 * in alternated rounds of the same run:
 *   edf     policy edf: the deadline task is an edf periodic task
 *           (C 300 us, D = T = 2 ms), best effort runs in the background
 *   fair    policy fifo: every coroutine takes its turn (round robin at
 *           each yield), the deadline task sleeps until its release
 *   market  policy market, 1 ms periods of 20 slots: class "rt" (bid 100,
 *           deadline 2 ms), "be1" (bid 20) and "be2" (bid 10), income
 *           1000 each per period
 * Load: the deadline task releases a job every 2 ms that needs 300 us of
 * CPU in 3 chunks (a yield between them) and must finish within 2 ms;
 * 8 best-effort coroutines (4 "be1", 4 "be2") run 200 us chunks back to
 * back.  Figures: share of deadlines met, best-effort chunks per second
 * and the be1 : be2 split, and for the market the auction's cost per
 * period (mean and max, measured around each auction in the loop).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "myco/rt.h"

#define T_NS 2000000ull
#define CHUNK_RT 100000ull
#define CHUNK_BE 200000ull
#define NBE 8

static int mode; /* 0 edf, 1 fair, 2 market */
static uint64_t t_end, t_start;
static uint64_t jobs, met;
static uint64_t be_chunks[2];
static int be_live;

static int rt_edf(void *arg)
{
	(void)arg;
	uint64_t k = 0;
	while (myco_now() < t_end) {
		uint64_t rel = t_start + k * T_NS;
		for (int c = 0; c < 3; c++) {
			spin_ns(CHUNK_RT);
			myco_yield();
		}
		jobs++;
		if (myco_now() <= rel + T_NS)
			met++;
		k++;
		if (myco_edf_next() < 0)
			break;
	}
	return 0;
}

static int rt_plain(void *arg)
{
	(void)arg;
	for (uint64_t k = 0;; k++) {
		uint64_t rel = t_start + k * T_NS;
		if (rel >= t_end)
			break;
		myco_sleep_until(rel);
		for (int c = 0; c < 3; c++) {
			spin_ns(CHUNK_RT);
			myco_yield();
		}
		jobs++;
		if (myco_now() <= rel + T_NS)
			met++;
	}
	return 0;
}

static int be(void *arg)
{
	int cls = (int)(intptr_t)arg;
	while (myco_now() < t_end) {
		spin_ns(CHUNK_BE);
		be_chunks[cls]++;
		myco_yield();
	}
	be_live--;
	return 0;
}

typedef struct {
	uint64_t jobs, met, be[2];
	double secs;
	uint64_t auctions, auction_ns_mean_sum, auction_ns_max;
	unsigned nround;
} res_t;

static int run_round(int m, uint64_t dur_ns, res_t *r)
{
	mode = m;
	myco_loop_opts_t o = {
		.policy = m == 0 ? MYCO_POLICY_EDF : m == 1 ? MYCO_POLICY_FIFO :
		          MYCO_POLICY_MARKET,
		.cpu = 0, .pin = true,
		.market_period_ns = 1000000, .market_slot_ns = 50000,
	};
	myco_loop_t *l;
	int rc = myco_loop_create(&l, &o);
	if (rc < 0)
		return rc;
	if (m == 2) {
		myco_market_bid(l, &(myco_bid_t){ "rt", 1000, 100, T_NS });
		myco_market_bid(l, &(myco_bid_t){ "be1", 1000, 20, 0 });
		myco_market_bid(l, &(myco_bid_t){ "be2", 1000, 10, 0 });
	}
	jobs = met = 0;
	be_chunks[0] = be_chunks[1] = 0;
	t_start = myco_now() + 5000000;
	t_end = t_start + dur_ns;
	if (m == 0) {
		myco_edf_params_t p = { .runtime_ns = 3 * CHUNK_RT + 50000,
					.deadline_ns = T_NS, .period_ns = T_NS,
					.start_ns = t_start };
		rc = myco_spawn_edf(l, NULL, rt_edf, NULL, &p,
				    &(myco_co_opts_t){ .name = "rt" });
	} else {
		rc = myco_spawn(l, NULL, rt_plain, NULL,
				&(myco_co_opts_t){ .name = "rt" });
	}
	if (rc < 0)
		return rc;
	be_live = NBE;
	for (int i = 0; i < NBE; i++)
		myco_spawn(l, NULL, be, (void *)(intptr_t)(i % 2),
			   &(myco_co_opts_t){ .name = i % 2 ? "be2" : "be1" });
	rc = myco_loop_run(l);
	r->jobs += jobs;
	r->met += met;
	r->be[0] += be_chunks[0];
	r->be[1] += be_chunks[1];
	r->secs += dur_ns / 1e9;
	if (m == 2) {
		myco_market_stats_t st;
		myco_market_stats(l, &st);
		r->auctions += st.auctions;
		r->auction_ns_mean_sum += st.auction_ns_mean;
		if (st.auction_ns_max > r->auction_ns_max)
			r->auction_ns_max = st.auction_ns_max;
	}
	r->nround++;
	myco_loop_destroy(l);
	return rc;
}

int bench_market(void)
{
	uint64_t dur = g_opt.quick ? 1000000000ull : 3000000000ull;
	unsigned rounds = 2;
	res_t r[3];
	memset(r, 0, sizeof r);
	for (unsigned k = 0; k < rounds; k++)
		for (int m = 0; m < 3; m++) {
			int rc = run_round(m, dur, &r[m]);
			if (rc < 0) {
				fprintf(stderr, "market: %s\n", myco_strerror(rc));
				return 1;
			}
		}
	static const char *names[3] = { "EDF (policy edf)", "fair share (fifo)",
					"market (proportional share)" };
	static const char *keys[3] = { "edf", "fair", "market" };
	table_title("Market: deadlines and best effort under contention (1 loop, CPU 0)");
	table_line("A deadline task: a job every 2 ms needing 300 us (3 chunks), "
		   "deadline 2 ms; 8 best-effort coroutines (4 be1, 4 be2) "
		   "running 200 us chunks back to back.  Market: 1 ms periods, "
		   "20 slots, bids rt 100 (deadline 2 ms), be1 20, be2 10.  "
		   "%u rounds of %.0f s alternated.\n\n", rounds, dur / 1e9);
	table_line("| %-28s | %7s | %10s | %12s | %10s |\n", "scheduler",
		   "jobs", "met %", "BE chunks/s", "be1 : be2");
	table_line("|---|---:|---:|---:|---:|\n");
	for (int m = 0; m < 3; m++) {
		double metp = r[m].jobs ? 100.0 * r[m].met / r[m].jobs : 0;
		double bps = (r[m].be[0] + r[m].be[1]) / r[m].secs;
		double split = r[m].be[1] ? (double)r[m].be[0] / r[m].be[1] : 0;
		table_line("| %-28s | %7llu | %10.1f | %12.0f | %10.2f |\n",
			   names[m], (unsigned long long)r[m].jobs, metp, bps,
			   split);
		char extra[200];
		snprintf(extra, sizeof extra,
			 ",\"jobs\":%llu,\"be_chunks_per_s\":%.0f,\"be1_over_be2\":%.2f",
			 (unsigned long long)r[m].jobs, bps, split);
		emit("sched.market", keys[m], "deadlines_met", metp, "percent",
		     extra);
	}
	double mean = r[2].nround ? r[2].auction_ns_mean_sum / (double)r[2].nround : 0;
	table_line("\nAuction cost per period (3 classes): mean %.2f us, max "
		   "%.2f us over %llu auctions.\n", mean / 1e3,
		   r[2].auction_ns_max / 1e3, (unsigned long long)r[2].auctions);
	char extra[120];
	snprintf(extra, sizeof extra, ",\"max_us\":%.2f,\"auctions\":%llu",
		 r[2].auction_ns_max / 1e3, (unsigned long long)r[2].auctions);
	emit("sched.market", "market", "auction_cost", mean / 1e3, "us_mean",
	     extra);
	return 0;
}
