/*
 * tpart.c: the partition of the trace integration test that exercises what
 * the demo programs do not: the runtime (an edf loop whose "late" task
 * misses every deadline and overruns its budget, a "steady" task that
 * heartbeats, coroutines that sleep), a work-stealing group of two loops,
 * user events (MYCO_TRACE), the levelled log, user metrics (a counter, a
 * gauge and a histogram), and bursts on the channel "bursts" (a small
 * drop-oldest queue whose receiver never reads: overflows).  Runs until
 * stopped.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "myco/rt.h"
#include "myco/trace.h"

static myco_metric_t m_jobs, m_work, m_queue;
static myco_chan_t *bursts;

static void spin_ms(uint64_t ms)
{
	uint64_t end = myco_now() + ms * 1000000ull;
	while (myco_now() < end)
		;
}

/* 3 ms of work against a 1 ms deadline and a 500 us budget: every job
 * misses and overruns, however the machine is loaded. */
static int late(void *arg)
{
	(void)arg;
	for (uint64_t k = 0;; k++) {
		uint64_t t0 = myco_now();
		spin_ms(3);
		myco_counter_add(&m_jobs, 1);
		myco_hist_observe(&m_work, myco_now() - t0);
		MYCO_TRACE("late-job", k);
		MYCO_LOG_INFO("late job %llu done", (unsigned long long)k);
		if (myco_edf_next() != 0)
			return 0;
	}
}

static int steady(void *arg)
{
	(void)arg;
	for (;;) {
		myco_heartbeat();
		if (myco_edf_next() != 0)
			return 0;
	}
}

/* A plain coroutine that sleeps (park / timer wake) and sends bursts. */
static int sender(void *arg)
{
	(void)arg;
	uint64_t v[2] = { 0, 0 };
	for (;;) {
		for (int i = 0; bursts && i < 16; i++) {
			v[0]++;
			myco_chan_send_timeout(bursts, v, sizeof v, 0);
		}
		myco_gauge_set(&m_queue, (int64_t)(v[0] % 100));
		MYCO_LOG_WARN("burst of 16 sent, %llu so far", (unsigned long long)v[0]);
		if (myco_sleep_ns(100 * 1000 * 1000) < 0)
			return 0;
	}
}

/* ---- the stealing group ---- */

static myco_group_t *grp;

static int small(void *arg)
{
	(void)arg;
	myco_yield();
	return 0;
}

/* Loop 0 spawns stealable work and keeps its thread busy for a moment, so
 * that loop 1 takes some of it. */
static int feeder(void *arg)
{
	myco_loop_t *l = arg;
	for (;;) {
		for (int i = 0; i < 32; i++)
			myco_spawn(l, NULL, small, NULL, NULL);
		spin_ms(2);
		if (myco_sleep_ns(50 * 1000 * 1000) < 0)
			return 0;
	}
}

static void grp_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)arg;
	myco_co_opts_t pin = { .flags = MYCO_CO_PINNED, .name = "feeder" };
	if (idx == 0)
		myco_spawn(l, NULL, feeder, l, &pin);
}

int main(void)
{
	int rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "myco_init: %d %s\n", rc, myco_part_errmsg());
		return 1;
	}
	if (myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "tpart_jobs_total",
				 "task=\"late\"", &m_jobs) < 0 ||
	    myco_metric_register(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS, "tpart_work_seconds",
				 NULL, &m_work) < 0 ||
	    myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "tpart_queue", NULL,
				 &m_queue) < 0) {
		fprintf(stderr, "metrics: registration failed\n");
		return 1;
	}
	if ((rc = myco_chan_open("bursts", &bursts)) < 0)
		fprintf(stderr, "bursts: %d %s\n", rc, myco_part_errmsg());
	myco_group_opts_t go = { .nloops = 2, .no_pin = true };
	go.loop.policy = MYCO_POLICY_STEAL;
	if (myco_group_create(&grp, &go) < 0 || myco_group_start(grp, grp_init, NULL) < 0) {
		fprintf(stderr, "group: failed\n");
		return 1;
	}
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy = MYCO_POLICY_EDF };
	if (myco_loop_create(&l, &o) < 0)
		return 1;
	myco_edf_params_t pl = { .runtime_ns = 500000, .deadline_ns = 1000000,
				 .period_ns = 20000000 };
	myco_edf_params_t ps = { .runtime_ns = 100000, .period_ns = 10000000 };
	myco_co_opts_t nl = { .name = "late" }, ns = { .name = "steady" }, nsd = { .name = "sender" };
	if (myco_spawn_edf(l, NULL, late, NULL, &pl, &nl) < 0 ||
	    myco_spawn_edf(l, NULL, steady, NULL, &ps, &ns) < 0 ||
	    myco_spawn(l, NULL, sender, NULL, &nsd) < 0)
		return 1;
	myco_ready();
	return myco_loop_run(l) < 0;
}
