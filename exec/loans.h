/*
 * loans.h: the core-loan arbiter of the executive (exec/loans.c).  Cores
 * that no budget or frame partition reserves form a pool; each elastic
 * partition (`cores MIN..MAX elastic;`) always holds MIN loops and borrows
 * up to MAX - MIN more from the pool while its runtime signals pressure.
 * The arbiter reads the signals from each partition's loan region
 * (myco_rt_loans_t, myco/rt.h) with plain atomic loads, no syscall, and
 * grants or revokes with myco_rt_loans_grant().  The running system's side
 * (a region per elastic partition, the arbiter thread, events and
 * figures) is declared in exec_int.h (myco__ex_loans_*).
 * Not for: the runtime side (lib/rt/loans.c).
 */
#ifndef MYCO_EXEC_LOANS_H
#define MYCO_EXEC_LOANS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/rt.h"

#define MYCO__LOANS_PARTS 32

typedef struct myco__loans_cfg {
	uint64_t grow_delay_ns; /* grant when a running loop has work that
	                           waited longer than this (default 50 us)  */
	double shrink_util;     /* revoke when the partition's cores would
	                           stay below this busy fraction without one
	                           (default 0.5)                             */
	uint64_t hold_ns;       /* no revoke sooner than this after any
	                           change of the partition (default 5 ms)    */
	uint64_t period_ns;     /* arbiter thread's polling period
	                           (default 20 us)                           */
} myco__loans_cfg_t;

typedef struct myco__loans_part {
	const char *name;
	myco_rt_loans_t *r;     /* the partition's region (validated)       */
	unsigned min, max;      /* from the region, clamped                 */
	/* arbiter state */
	uint64_t prev_busy[MYCO_RT_LOANS_MAX];
	uint64_t prev_ns, last_change_ns;
	double util;            /* busy fraction of granted cores, last step */
	bool pressure;          /* last step saw waiting work               */
	/* read by other threads with __atomic loads (myco__ex_loans_*) */
	uint64_t grants, revokes;
	uint32_t util_pm;       /* util in 1/1000                            */
} myco__loans_part_t;

typedef struct myco__loans {
	myco__loans_cfg_t cfg;
	unsigned pool;          /* cores free to lend (not reserved)         */
	unsigned lent;          /* cores lent now (atomic for readers)       */
	unsigned nparts;
	myco__loans_part_t parts[MYCO__LOANS_PARTS];
	uint64_t steps;
	uint64_t step_ns_max;   /* longest decision round                    */
	/* thread */
	pthread_t th;
	bool running;
	atomic_bool stop;
} myco__loans_t;

/* Admission with loans: budget and frame partitions reserve `reserved`
 * cores, elastic partitions their minimum; what is left of machine_cores
 * is the pool.  The minimums must fit (else -MYCO_EADMISSION, why[] says
 * which term failed).  A MAX - MIN beyond the pool is admitted (the
 * arbiter never lends more than the pool) with why[] saying so.  Returns
 * the pool size (>= 0); why[] is "" when there is nothing to say. */
int myco__loans_admit(unsigned machine_cores, unsigned reserved,
		      const unsigned *min, const unsigned *max, unsigned n,
		      char *why, size_t why_cap);

/* Initialise with cfg (NULL = defaults) and the pool size. */
void myco__loans_init(myco__loans_t *a, const myco__loans_cfg_t *cfg,
		      unsigned pool);
/* Add an elastic partition's region (validated with
 * myco_rt_loans_check); returns its index or -EINVAL / -ENOSPC. */
int myco__loans_add(myco__loans_t *a, const char *name, myco_rt_loans_t *r,
		    size_t size);
/* One decision round at time now: revoke from idle partitions, then grant
 * to pressed ones while the pool has cores.  Returns the number of grant
 * changes made.  Single-threaded: the arbiter thread or the caller. */
int myco__loans_step(myco__loans_t *a, uint64_t now);
/* Run myco__loans_step every cfg.period_ns on a thread of its own (timer
 * slack 1 ns).  Returns 0 or -errno. */
int myco__loans_start(myco__loans_t *a);
void myco__loans_stop(myco__loans_t *a);

#endif /* MYCO_EXEC_LOANS_H */
