/*
 * test_exec_unit.c: unit tests of the executive core's pure parts: restart
 * intensity (when to escalate), the event ring (overwrite, JSON form) and
 * the per-partition log ring (wrap-around, readers that fell behind).
 * Processes and sockets are covered by tests/integration/exec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "exec_int.h"

#define SEC 1000000000ull

static void test_intensity(void **state)
{
	(void)state;
	uint64_t hist[4];
	struct ex_group g = { .max_restarts = 3, .within_ns = 10 * SEC, .hist = hist };
	/* three restarts within the period are allowed, the fourth is not */
	assert_false(myco__ex_intensity_record(&g, 1 * SEC));
	assert_false(myco__ex_intensity_record(&g, 2 * SEC));
	assert_false(myco__ex_intensity_record(&g, 3 * SEC));
	assert_true(myco__ex_intensity_record(&g, 4 * SEC));
}

static void test_intensity_window_slides(void **state)
{
	(void)state;
	uint64_t hist[3];
	struct ex_group g = { .max_restarts = 2, .within_ns = 5 * SEC, .hist = hist };
	/* restarts spaced wider than the period never escalate */
	for (uint64_t t = 1; t < 40; t += 3)
		assert_false(myco__ex_intensity_record(&g, t * SEC));
	/* then three in a burst do */
	assert_false(myco__ex_intensity_record(&g, 100 * SEC));
	assert_false(myco__ex_intensity_record(&g, 100 * SEC + 1));
	assert_true(myco__ex_intensity_record(&g, 100 * SEC + 2));
}

static void test_intensity_zero(void **state)
{
	(void)state;
	uint64_t hist[1];
	struct ex_group g = { .max_restarts = 0, .within_ns = SEC, .hist = hist };
	assert_true(myco__ex_intensity_record(&g, 5 * SEC));
}

static void test_event_ring(void **state)
{
	(void)state;
	struct ex_system s;
	memset(&s, 0, sizeof(s));
	s.opt.quiet = true;
	s.ev = calloc(EX_EVENT_RING, sizeof(*s.ev));
	assert_non_null(s.ev);
	struct ex_part p;
	memset(&p, 0, sizeof(p));
	strcpy(p.name, "filter");
	for (unsigned i = 0; i < EX_EVENT_RING + 10; i++)
		myco__ex_event(&s, &p, "exit", -1, -1, "n=%u", i);
	assert_int_equal(s.ev_seq, EX_EVENT_RING + 10);
	/* the oldest kept is number 10 */
	const struct ex_event *oldest = &s.ev[(s.ev_seq - EX_EVENT_RING) % EX_EVENT_RING];
	assert_int_equal(oldest->seq, 10);
	assert_string_equal(oldest->detail, "n=10");
	struct ex_event *e = myco__ex_event(&s, &p, "restarted", 1500, 2000, "x");
	e->c2a_ns = 700;
	json_t *o = myco__ex_event_json(e);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "partition")), "filter");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "restarted");
	assert_int_equal(json_integer_value(json_object_get(o, "crash_to_running_ns")), 1500);
	assert_int_equal(json_integer_value(json_object_get(o, "crash_to_first_ns")), 2000);
	assert_int_equal(json_integer_value(json_object_get(o, "crash_to_activate_ns")), 700);
	json_decref(o);
	/* non-restart events carry no timing keys */
	o = myco__ex_event_json(&s.ev[(s.ev_seq - 2) % EX_EVENT_RING]);
	assert_null(json_object_get(o, "crash_to_running_ns"));
	json_decref(o);
	free(s.ev);
	free(p.pev);
}

/* One partition's flood does not push another's events out of what
 * `myco events` shows: each keeps its own last EX_PART_EVENTS. */
static void test_event_history_per_partition(void **state)
{
	(void)state;
	struct ex_system s;
	struct ex_part parts[2];
	memset(&s, 0, sizeof(s));
	memset(parts, 0, sizeof(parts));
	s.opt.quiet = true;
	s.ev = calloc(EX_EVENT_RING, sizeof(*s.ev));
	assert_non_null(s.ev);
	s.parts = parts;
	s.nparts = 2;
	strcpy(parts[0].name, "quiet");
	strcpy(parts[1].name, "noisy");
	for (unsigned i = 0; i < EX_PART_EVENTS + 5; i++)
		myco__ex_event(&s, &parts[0], "exit", -1, -1, "q%u", i);
	struct ex_event *e = myco__ex_event(&s, &parts[0], "restarted", 10, 20, "x");
	e->c2a_ns = 5;
	myco__ex_event_sync(&parts[0], e);
	for (unsigned i = 0; i < 3 * EX_EVENT_RING; i++)
		myco__ex_event(&s, &parts[1], "seccomp", -1, -1, "n%u", i);
	myco__ex_event(&s, NULL, "system-stop", -1, -1, "end");
	size_t n;
	const struct ex_event **all = myco__ex_events_all(&s, &n);
	assert_non_null(all);
	/* the global ring, plus the quiet one's last EX_PART_EVENTS */
	assert_int_equal(n, EX_EVENT_RING + EX_PART_EVENTS);
	for (size_t i = 1; i < n; i++)
		assert_true(all[i - 1]->seq < all[i]->seq);
	assert_string_equal(all[0]->part, "quiet");
	assert_string_equal(all[0]->detail, "q6");
	assert_string_equal(all[EX_PART_EVENTS - 1]->kind, "restarted");
	assert_int_equal(all[EX_PART_EVENTS - 1]->c2a_ns, 5);
	assert_string_equal(all[n - 1]->kind, "system-stop");
	free(all);
	free(parts[0].pev);
	free(parts[1].pev);
	free(s.ev);
}

static void test_log_ring(void **state)
{
	(void)state;
	struct ex_part p;
	memset(&p, 0, sizeof(p));
	p.log = calloc(1, EX_LOG_RING);
	assert_non_null(p.log);
	char buf[256], out[EX_LOG_RING];
	uint64_t next;
	myco__ex_log_append(&p, "hello\n", 6);
	assert_int_equal(myco__ex_log_read(&p, 0, out, sizeof(out), &next), 6);
	assert_memory_equal(out, "hello\n", 6);
	assert_int_equal(next, 6);
	/* fill past the end: the ring keeps the newest EX_LOG_RING bytes */
	for (unsigned i = 0; i < EX_LOG_RING / 99 + 5; i++) {
		int n = snprintf(buf, sizeof(buf), "%099u", i);
		myco__ex_log_append(&p, buf, (size_t)n);
	}
	uint64_t total = p.log_total;
	assert_true(total > EX_LOG_RING);
	size_t n = myco__ex_log_read(&p, 0, out, sizeof(out), &next);
	assert_int_equal(n, EX_LOG_RING);       /* reader behind: clamped to the oldest kept */
	assert_int_equal(next, total);
	/* the last 99 bytes are the last record */
	snprintf(buf, sizeof(buf), "%099u", EX_LOG_RING / 99 + 4);
	assert_memory_equal(out + n - 99, buf, 99);
	/* a reader at the end gets nothing */
	assert_int_equal(myco__ex_log_read(&p, total, out, sizeof(out), &next), 0);
	/* a huge append keeps only its tail */
	char *big = malloc(EX_LOG_RING * 2);
	memset(big, 'a', EX_LOG_RING * 2);
	big[EX_LOG_RING * 2 - 1] = 'z';
	myco__ex_log_append(&p, big, EX_LOG_RING * 2);
	n = myco__ex_log_read(&p, 0, out, sizeof(out), &next);
	assert_int_equal(n, EX_LOG_RING);
	assert_int_equal(out[n - 1], 'z');
	free(big);
	free(p.log);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(myco__ex_state_name(EX_RUNNING), "running");
	assert_string_equal(myco__ex_state_name(EX_RESTARTING), "restarting");
	assert_string_equal(myco__ex_state_name((enum ex_state)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intensity),
		cmocka_unit_test(test_intensity_window_slides),
		cmocka_unit_test(test_intensity_zero),
		cmocka_unit_test(test_event_ring),
		cmocka_unit_test(test_event_history_per_partition),
		cmocka_unit_test(test_log_ring),
		cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
