/*
 * stats.c: loop metrics: the scheduling-latency histogram (log2 buckets)
 * and snapshots of the loop counters for other threads.
 * Not for: exporting (lib/trace will read these through the API).
 */
#include <errno.h>
#include <string.h>

#include "rt_int.h"

void myco__lat_record(myco_loop_t *l, uint64_t ns)
{
	unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
	if (b >= MYCO_RT_HIST_BUCKETS)
		b = MYCO_RT_HIST_BUCKETS - 1;
	MYCO__ST_ADD(l, sched_lat_hist[b], 1);
	MYCO__ST_ADD(l, sched_lat_count, 1);
	if (ns > l->st.sched_lat_max_ns)
		MYCO__ST_SET(l, sched_lat_max_ns, ns);
	if (l->sig) { /* core-loan signal: EWMA, weight 1/8 */
		uint64_t q = __atomic_load_n(&l->sig->qdelay_ns, __ATOMIC_RELAXED);
		__atomic_store_n(&l->sig->qdelay_ns, q - q / 8 + ns / 8,
				 __ATOMIC_RELAXED);
	}
}

#define LD(f) st->f = __atomic_load_n(&l->st.f, __ATOMIC_RELAXED)

int myco_loop_stats(const myco_loop_t *l, myco_loop_stats_t *st)
{
	if (!l || !st)
		return -EINVAL;
	LD(iterations); LD(switches); LD(spawned); LD(finished);
	LD(spawn_failed); LD(live); LD(ready_len); LD(edf_ready_len);
	LD(steal_queue_len); LD(timers_armed); LD(io_pending); LD(posts_in);
	LD(post_queue_len); LD(stolen_in); LD(stolen_out); LD(sleeps);
	LD(deadline_misses); LD(overruns); LD(edf_jobs); LD(sched_lat_count);
	LD(sched_lat_max_ns); LD(src_fast); LD(src_polls);
	for (unsigned i = 0; i < MYCO_RT_HIST_BUCKETS; i++)
		LD(sched_lat_hist[i]);
	return 0;
}

void myco_loop_stats_reset_latency(myco_loop_t *l)
{
	for (unsigned i = 0; i < MYCO_RT_HIST_BUCKETS; i++)
		MYCO__ST_SET(l, sched_lat_hist[i], 0);
	MYCO__ST_SET(l, sched_lat_count, 0);
	MYCO__ST_SET(l, sched_lat_max_ns, 0);
}

uint64_t myco_rt_hist_quantile(const uint64_t hist[MYCO_RT_HIST_BUCKETS],
			       double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < MYCO_RT_HIST_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t want = (uint64_t)(q * (double)total);
	if (want == 0)
		want = 1;
	uint64_t acc = 0;
	for (unsigned i = 0; i < MYCO_RT_HIST_BUCKETS; i++) {
		acc += hist[i];
		if (acc >= want)
			return i + 1 >= 64 ? UINT64_MAX : ((uint64_t)1 << (i + 1)) - 1;
	}
	return UINT64_MAX;
}
