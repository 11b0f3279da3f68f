/*
 * loanpart.c: an elastic partition for test_loans.py.  It creates a
 * lib/rt group without a region of its own, so the group takes the core-loan
 * region the executive handed over (`cores MIN..MAX elastic;`), and runs
 * LOANPART_BURSTS bursts (default 4) of LOANPART_TASKS tasks (default
 * 300), each spinning LOANPART_WORK_US of wall-clock time (default 300),
 * with LOANPART_IDLE_MS of idleness after each burst (default 150) so the
 * arbiter takes lent cores back.  With LOANPART_SPREAD=1 it goes on with
 * more bursts (at most 200 in all) until a task ran on a loop other than
 * loop 0 and its loops acted on a grant: a loaded machine makes that take
 * longer, never fail.  Every task marks its own slot: at the end it prints
 *   DONE tasks=N once=N dup=D missing=M loops=L loop_grants=G off0=K
 * (once: slots run exactly once; loop_grants: grants its loops acted on,
 * from the region; off0: tasks that ran on loops other than 0) and keeps
 * running until stopped.  The first line is
 * "LOOPS L" (the group's size: the declared maximum when it attached).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco/part.h"
#include "myco/rt.h"

#define MAX_BURSTS 200
static long ntasks = 300, nbursts = 4, work_us = 300, idle_ms = 150, spread;
static atomic_uchar *ran;
static atomic_long done, off0;
static myco_group_t *grp;

static long env_num(const char *name, long dflt)
{
	const char *e = getenv(name);
	return e && *e ? atol(e) : dflt;
}

static int task(void *arg)
{
	long id = (long)(intptr_t)arg;
	uint64_t end = myco_now() + (uint64_t)work_us * 1000u;
	while (myco_now() < end)
		;
	atomic_fetch_add(&ran[id], 1);
	if (myco_loop_current() != myco_group_loop(grp, 0))
		atomic_fetch_add(&off0, 1);
	atomic_fetch_add(&done, 1);
	return 0;
}

static int driver(void *arg)
{
	(void)arg;
	myco_loop_t *self = myco_loop_current();
	myco_co_opts_t o = { .name = "task" };
	long b;
	for (b = 0; b < MAX_BURSTS; b++) {
		myco_rt_loans_stats_t st;
		if (b >= nbursts &&
		    (!spread || (atomic_load(&off0) > 0 && myco_rt_loans_stats(grp, &st) == 0 &&
				 st.loop_grants > 0)))
			break;
		for (long i = 0; i < ntasks; i++) {
			long id = b * ntasks + i;
			if (myco_spawn(self, NULL, task, (void *)(intptr_t)id, &o) < 0) {
				fprintf(stderr, "spawn failed\n");
				return 1;
			}
		}
		while (atomic_load(&done) < (b + 1) * ntasks)
			myco_sleep_ns(1000000);
		myco_sleep_ns((uint64_t)idle_ms * 1000000u);
	}
	long once = 0, dup = 0, missing = 0;
	for (long i = 0; i < b * ntasks; i++) {
		unsigned v = atomic_load(&ran[i]);
		once += v == 1;
		dup += v > 1;
		missing += v == 0;
	}
	/* grants the loops acted on: the region's loop-written counters */
	uint64_t lg = 0;
	myco_rt_loans_stats_t st;
	if (myco_rt_loans_stats(grp, &st) == 0)
		lg = st.loop_grants;
	printf("DONE tasks=%ld once=%ld dup=%ld missing=%ld loops=%u loop_grants=%llu "
	       "off0=%ld\n", b * ntasks, once, dup, missing, myco_group_size(grp),
	       (unsigned long long)lg, atomic_load(&off0));
	fflush(stdout);
	for (;;)
		myco_sleep_ns(1000000000ull);
	return 0;
}

static void init(myco_loop_t *loop, unsigned index, void *arg)
{
	(void)arg;
	if (index == 0) {
		myco_co_opts_t o = { .name = "driver", .flags = MYCO_CO_PINNED };
		if (myco_spawn(loop, NULL, driver, NULL, &o) < 0)
			abort();
	}
}

int main(void)
{
	int rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "myco_init: %d %s\n", rc, myco_part_errmsg());
		return 1;
	}
	ntasks = env_num("LOANPART_TASKS", ntasks);
	nbursts = env_num("LOANPART_BURSTS", nbursts);
	work_us = env_num("LOANPART_WORK_US", work_us);
	idle_ms = env_num("LOANPART_IDLE_MS", idle_ms);
	spread = env_num("LOANPART_SPREAD", 0);
	if (ntasks < 1 || nbursts < 1 || nbursts > MAX_BURSTS)
		return 2;
	ran = calloc((size_t)(ntasks * MAX_BURSTS), sizeof(*ran));
	if (!ran)
		return 1;
	rc = myco_group_create(&grp, NULL);
	if (rc < 0) {
		fprintf(stderr, "myco_group_create: %d\n", rc);
		return 1;
	}
	printf("LOOPS %u\n", myco_group_size(grp));
	fflush(stdout);
	myco_ready();
	rc = myco_group_start(grp, init, NULL);
	if (rc < 0)
		return 1;
	return myco_group_join(grp) < 0;
}
