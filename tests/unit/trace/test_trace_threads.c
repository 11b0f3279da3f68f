/*
 * test_trace_threads.c: many writer threads and one reader thread on one
 * trace region (runs under TSan, suite "tsan").  Two rings: one owned by
 * the first thread that claims it, one shared by the others (multi-writer).
 * Checks: per writer, the events arrive in the order written, nothing is
 * corrupt, and with drop-newest every written event is delivered or
 * accounted for (dropped or lost; a slot a writer could not take counts in
 * both, so the sum may exceed what was written).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "myco/trace.h"

#define WRITERS 4
#ifdef MYCO_SANITIZED
#define PER_WRITER 20000
#else
#define PER_WRITER 200000
#endif

static _Atomic int writers_done;

static void *writer(void *arg)
{
	uint64_t me = (uint64_t)(uintptr_t)arg;

	for (uint64_t i = 0; i < PER_WRITER; i++) {
		if (i % 64 == 63)
			MYCO_LOG_INFO("writer %u at %u: a log record long enough to span two events",
				      (unsigned)me, (unsigned)i);
		else
			myco_trace_emit(MYCO_EV_USER, me, i, 0, "w");
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

static void run(myco_trace_policy_t pol)
{
	myco_trace_config_t cfg = { .nrings = 2, .depth = 1024, .policy = pol,
		.enable = MYCO_TRACE_ALL | (MYCO_LOG_INFO << MYCO_TRACE_LEVEL_SHIFT) };
	int fd;
	myco_trace_reader_t *r;
	static myco_trace_event_t ev[512];
	pthread_t th[WRITERS];
	uint64_t next[WRITERS] = { 0 }, got = 0, logs = 0;

	atomic_store(&writers_done, 0);
	assert_int_equal(myco_trace_create(&cfg, &fd), 0);
	assert_int_equal(myco_trace_attach(fd), 0);
	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)i), 0);
	for (;;) {
		int done = atomic_load(&writers_done) == WRITERS;
		size_t n = myco_trace_read(r, ev, 512);
		for (size_t i = 0; i < n; i++) {
			if (ev[i].id == MYCO_EV_LOG) {
				assert_non_null(strstr(ev[i].str, "long enough to span two"));
				logs++;
				continue;
			}
			assert_int_equal(ev[i].id, MYCO_EV_USER);
			assert_string_equal(ev[i].str, "w");
			uint64_t w = ev[i].a[0], seq = ev[i].a[1];
			assert_true(w < WRITERS);
			assert_true(seq >= next[w]);     /* per-writer order */
			next[w] = seq + 1;
			got++;
		}
		if (done && n == 0) {
			/* one more pass lets a stalled shared slot be given up */
			if (myco_trace_read(r, ev, 512) == 0)
				break;
		}
		if (n == 0)
			sched_yield();
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	myco_trace_stats_t st;
	myco_trace_reader_stats(r, &st);
	assert_int_equal(st.corrupt, 0);
	if (pol == MYCO_TRACE_DROP_NEW) {
		/* log records are 2 events each */
		uint64_t written_events = (uint64_t)WRITERS * PER_WRITER +
					  (uint64_t)WRITERS * (PER_WRITER / 64);
		assert_true(got + 2 * logs + st.dropped + st.lost >= written_events);
		assert_true(got + 2 * logs <= written_events);
	}
	assert_true(got > 0);
	myco_trace_reader_close(r);
	close(fd);
}

static void test_overwrite(void **s) { (void)s; run(MYCO_TRACE_OVERWRITE); }
static void test_drop_newest(void **s) { (void)s; run(MYCO_TRACE_DROP_NEW); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overwrite),
		cmocka_unit_test(test_drop_newest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
