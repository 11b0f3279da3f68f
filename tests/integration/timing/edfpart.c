/*
 * edfpart.c: a partition for the timing tests: an edf loop with two
 * periodic tasks.  "late" runs EDFPART_JOBS jobs (default 20), each
 * spinning 3 ms of wall-clock time against a 1 ms relative deadline and a
 * 500 us budget, so every one of its jobs misses its deadline and overruns
 * its budget, however loaded the machine (the test counts, never times);
 * "steady" is a light 10 ms task that keeps running.  Prints
 * "LATE_DONE <jobs> <misses> <overruns>" from the task's own statistics
 * once "late" has finished, then keeps running until stopped.
 * With EDFPART_BEAT=1 it instead calls myco_heartbeat() every 100 us
 * forever (a frame-mode partition noting each window start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "myco/part.h"
#include "myco/rt.h"

static long g_jobs = 20;

static void spin_ms(uint64_t ms)
{
	uint64_t end = myco_now() + ms * 1000000ull;
	while (myco_now() < end)
		;
}

static int late(void *arg)
{
	(void)arg;
	for (long k = 0; k < g_jobs; k++) {
		spin_ms(3);
		if (myco_edf_next() != 0)
			return 1;
	}
	myco_co_stats_t st;
	myco_co_stats(myco_self(), &st);
	printf("LATE_DONE %llu %llu %llu\n", (unsigned long long)st.jobs,
	       (unsigned long long)st.deadline_misses, (unsigned long long)st.overruns);
	fflush(stdout);
	return 0;
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

int main(void)
{
	int rc = myco_init();
	if (rc < 0) {
		fprintf(stderr, "myco_init: %d %s\n", rc, myco_part_errmsg());
		return 1;
	}
	const char *b = getenv("EDFPART_BEAT");
	if (b && !strcmp(b, "1")) {
		struct timespec ts = { .tv_nsec = 100000 };
		myco_ready();
		for (;;) {
			myco_heartbeat();
			nanosleep(&ts, NULL);
		}
	}
	const char *e = getenv("EDFPART_JOBS");
	if (e)
		g_jobs = atol(e);
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy = MYCO_POLICY_EDF };
	if ((rc = myco_loop_create(&l, &o)) < 0)
		return 1;
	myco_edf_params_t pl = { .runtime_ns = 500000, .deadline_ns = 1000000,
				 .period_ns = 20000000 };
	myco_edf_params_t ps = { .runtime_ns = 100000, .period_ns = 10000000 };
	myco_co_opts_t nl = { .name = "late" }, ns = { .name = "steady" };
	if (myco_spawn_edf(l, NULL, late, NULL, &pl, &nl) < 0 ||
	    myco_spawn_edf(l, NULL, steady, NULL, &ps, &ns) < 0)
		return 1;
	myco_ready();
	return myco_loop_run(l) < 0;
}
