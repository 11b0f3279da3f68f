/*
 * test_dash_state.c: the dashboard's state builder (cmd/myco/dash_state.c)
 * on its own: the static part from a checked model (edges, budgets, the
 * frame schedule), deltas that carry only what changed, events handed to
 * exactly one delta and kept for new pages, rates from `top` or from the
 * counters, and the fallback without a model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "myco/lang.h"
#include "dash_int.h"

static const char sys_src[] =
	"system t {\n"
	"  message M { v: u64 = 1; }\n"
	"  channel q queue { type M; depth 8; }\n"
	"  partition a { program \"a\"; send q; budget 1 ms per 10 ms; memory 8 MiB; }\n"
	"  partition b { program \"b\"; recv q; frame; }\n"
	"  schedule { major_frame 10 ms; core 0 { window b at 2 ms for 3 ms; } }\n"
	"}\n";

static json_t *ps_of(const char *state_b, int restarts_b, long sent)
{
	return json_pack("{s:b,s:s,s:[{s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:b,s:[{s:s,s:s,s:s}]},"
			 "{s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:b,s:[]}],s:[{s:s,s:s,s:I,s:I,s:I,s:b}]}",
		"ok", 1, "system", "t", "partitions",
		"name", "a", "state", "running", "pid", 10, "restarts", 0, "health", "ok",
		"last_exit", "", "mode", "budget", "standby_parked", 1, "isolation",
		"mechanism", "pid-ns", "status", "applied", "reason", "",
		"name", "b", "state", state_b, "pid", 11, "restarts", restarts_b, "health", "ok",
		"last_exit", "", "mode", "frame", "standby_parked", 0, "isolation",
		"channels", "name", "q", "kind", "queue", "sent", (json_int_t)sent,
		"done", (json_int_t)sent, "pending", (json_int_t)0, "broken", 0);
}

static void test_model_and_deltas(void **state)
{
	(void)state;
	myco_system_t *m = NULL;
	assert_int_equal(myco_lang_load_buffer("t.myco", sys_src, strlen(sys_src), &m, NULL), 0);
	struct dash_state st;
	json_t *ps = ps_of("running", 0, 100);
	assert_int_equal(myco__dash_state_init(&st, m, ps), 0);

	/* static: edges, budget, schedule */
	json_t *q = json_object_get(json_object_get(st.stat, "chans"), "q");
	assert_string_equal(json_string_value(json_array_get(json_object_get(q, "from"), 0)), "a");
	assert_string_equal(json_string_value(json_array_get(json_object_get(q, "to"), 0)), "b");
	assert_int_equal(json_integer_value(json_object_get(q, "depth_max")), 8);
	json_t *a = json_object_get(json_object_get(st.stat, "parts"), "a");
	assert_true(json_real_value(json_object_get(a, "budget_pct")) == 10.0);
	json_t *sch = json_object_get(st.stat, "schedule");
	assert_int_equal(json_integer_value(json_object_get(sch, "major_ns")), 10000000);
	json_t *w = json_array_get(json_object_get(sch, "windows"), 0);
	assert_string_equal(json_string_value(json_object_get(w, "part")), "b");
	assert_int_equal(json_integer_value(json_object_get(w, "off_ns")), 2000000);

	/* the first poll: everything is new */
	int err;
	json_t *d = myco__dash_state_update(&st, ps, NULL, 1000000000ull, &err);
	assert_non_null(d);
	assert_non_null(json_object_get(json_object_get(json_object_get(d, "parts"), "a"), "isolation"));
	json_decref(d);
	/* the same poll again: nothing changed, no delta */
	assert_null(myco__dash_state_update(&st, ps, NULL, 1100000000ull, &err));
	assert_int_equal(err, 0);
	json_decref(ps);

	/* b restarts, q moves 50 messages in 0.1 s: only those fields travel */
	ps = ps_of("restarting", 1, 150);
	json_t *ev = json_pack("{s:i,s:s,s:s,s:s}", "seq", 7, "partition", "b", "kind", "kill",
			       "detail", "SIGKILL");
	myco__dash_state_event(&st, ev);
	json_decref(ev);
	d = myco__dash_state_update(&st, ps, NULL, 1200000000ull, &err);
	assert_non_null(d);
	json_t *db = json_object_get(json_object_get(d, "parts"), "b");
	assert_string_equal(json_string_value(json_object_get(db, "state")), "restarting");
	assert_int_equal(json_integer_value(json_object_get(db, "restarts")), 1);
	assert_null(json_object_get(db, "isolation"));            /* unchanged */
	assert_null(json_object_get(json_object_get(d, "parts"), "a"));
	json_t *dq = json_object_get(json_object_get(d, "chans"), "q");
	assert_int_equal(json_integer_value(json_object_get(dq, "sent")), 150);
	assert_true(json_real_value(json_object_get(dq, "rate")) == 500.0);   /* 50 in 0.1 s */
	assert_int_equal(json_array_size(json_object_get(d, "events")), 1);
	json_decref(d);

	/* the event went out once, and stays for a page that connects now */
	d = myco__dash_state_update(&st, ps, NULL, 1300000000ull, &err);
	assert_non_null(d);                                       /* the rate fell to 0 */
	assert_int_equal(json_array_size(json_object_get(d, "events")), 0);
	json_decref(d);
	json_t *full = myco__dash_state_full(&st);
	assert_int_equal(json_array_size(json_object_get(full, "events")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_object_get(full, "parts"), "b"), "state")), "restarting");
	json_decref(full);

	/* top's figures win over ps's older ones */
	json_t *top = json_pack("{s:[{s:s,s:s,s:i,s:f,s:I,s:f}],s:[{s:s,s:I,s:I,s:f}]}",
		"partitions", "name", "b", "state", "running", "restarts", 1, "cpu_pct", 12.34,
		"rss_bytes", (json_int_t)4096, "msgs_per_s", 0.0,
		"channels", "name", "q", "messages", (json_int_t)999, "depth", (json_int_t)3,
		"msgs_per_s", 42.4);
	d = myco__dash_state_update(&st, ps, top, 1400000000ull, &err);
	db = json_object_get(json_object_get(d, "parts"), "b");
	assert_string_equal(json_string_value(json_object_get(db, "state")), "running");
	assert_true(json_real_value(json_object_get(db, "cpu_pct")) == 12.3);
	dq = json_object_get(json_object_get(d, "chans"), "q");
	assert_int_equal(json_integer_value(json_object_get(dq, "sent")), 999);
	assert_int_equal(json_integer_value(json_object_get(dq, "pending")), 3);
	assert_true(json_real_value(json_object_get(dq, "rate")) == 42.0);
	json_decref(d);
	json_decref(top);
	json_decref(ps);
	myco__dash_state_free(&st);
	myco_system_free(m);
}

static void test_without_model(void **state)
{
	(void)state;
	struct dash_state st;
	json_t *ps = ps_of("running", 0, 1);
	assert_int_equal(myco__dash_state_init(&st, NULL, ps), 0);
	assert_false(json_is_true(json_object_get(st.stat, "model")));
	json_t *q = json_object_get(json_object_get(st.stat, "chans"), "q");
	assert_int_equal(json_array_size(json_object_get(q, "from")), 0);   /* no edges */
	assert_int_equal(json_array_size(json_object_get(st.stat, "order")), 2);
	/* events beyond what is kept: the oldest go */
	for (int i = 0; i < (int)DASH_EVENTS_KEPT + 5; i++) {
		json_t *e = json_pack("{s:i}", "seq", i);
		myco__dash_state_event(&st, e);
		json_decref(e);
	}
	json_t *junk = json_string("not an event");
	myco__dash_state_event(&st, junk);                          /* ignored */
	json_decref(junk);
	assert_int_equal(json_array_size(st.events), DASH_EVENTS_KEPT);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(st.events, 0), "seq")), 5);
	json_decref(ps);
	myco__dash_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_and_deltas),
		cmocka_unit_test(test_without_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
