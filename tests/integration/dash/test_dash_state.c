/*
 * test_dash_state.c: the dashboard's state builder (cmd/myco/dash_state.c)
 * on its own: the static part from a checked model (edges, budgets, the
 * frame schedule), deltas that carry only what changed, events handed to
 * exactly one delta and kept for new pages, rates from `top` or from the
 * counters, top's compact "rows" form with exact deltas, rows that do not
 * match ps, and the fallback without a model.
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

/* One poll; the delta text is what a page receives: it must be JSON. */
static json_t *upd(struct dash_state *st, json_t *ps, json_t *top, uint64_t now, int *err)
{
	size_t len = 0;
	char *txt = myco__dash_state_update(st, ps, top, now, &len, err);
	if (!txt)
		return NULL;
	assert_int_equal(strlen(txt), len);
	json_error_t je;
	json_t *d = json_loads(txt, 0, &je);
	if (!d)
		fail_msg("delta is not JSON: %s: %s", je.text, txt);
	free(txt);
	return d;
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
	json_t *d = upd(&st, ps, NULL, 1000000000ull, &err);
	assert_non_null(d);
	assert_non_null(json_object_get(json_object_get(json_object_get(d, "parts"), "a"), "isolation"));
	json_decref(d);
	/* the same poll again: nothing changed, no delta */
	assert_null(upd(&st, ps, NULL, 1100000000ull, &err));
	assert_int_equal(err, 0);
	json_decref(ps);

	/* b restarts, q moves 50 messages in 0.1 s: only those fields travel */
	ps = ps_of("restarting", 1, 150);
	json_t *ev = json_pack("{s:i,s:s,s:s,s:s}", "seq", 7, "partition", "b", "kind", "kill",
			       "detail", "SIGKILL");
	myco__dash_state_event(&st, ev);
	json_decref(ev);
	d = upd(&st, ps, NULL, 1200000000ull, &err);
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
	d = upd(&st, ps, NULL, 1300000000ull, &err);
	assert_non_null(d);                                       /* the rate fell to 0 */
	assert_int_equal(json_array_size(json_object_get(d, "events")), 0);
	json_decref(d);
	json_t *full = myco__dash_state_full(&st);
	assert_int_equal(json_array_size(json_object_get(full, "events")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_object_get(full, "parts"), "b"), "state")), "restarting");
	json_decref(full);

	/* top's figures (the compact "rows" form, ps's order) win over ps's
	 * older ones; the delta carries exactly the fields that changed */
	json_t *top = json_pack("{s:b,s:s,s:[[s,s,i,f,f,I,I,f,I],[s,s,i,f,f,I,I,f,I]],"
				"s:[[I,f,I,I,I]]}", "ok", 1, "form", "rows", "parts",
		"running", "ok", 10, 0.0, 0.0, (json_int_t)1024, (json_int_t)0, 0.0, (json_int_t)0,
		"running", "ok", 11, 12.34, 0.0, (json_int_t)4096, (json_int_t)1, 0.0, (json_int_t)0,
		"chans", (json_int_t)999, 42.4, (json_int_t)3, (json_int_t)0, (json_int_t)5000);
	d = upd(&st, ps, top, 1400000000ull, &err);
	json_t *want = json_pack("{s:I,s:I,s:{s:{s:f,s:f,s:I,s:f,s:I},s:{s:s,s:f,s:f,s:I,s:f,s:I}},"
				 "s:{s:{s:I,s:I,s:f,s:I,s:I}},s:[]}",
		"t", (json_int_t)1400, "tick", (json_int_t)4, "parts",
		"a", "cpu_pct", 0.0, "budget_use_pct", 0.0, "rss", (json_int_t)1024,
		"msgs_per_s", 0.0, "deadline_misses", (json_int_t)0,
		"b", "state", "running", "cpu_pct", 12.3, "budget_use_pct", 0.0,
		"rss", (json_int_t)4096, "msgs_per_s", 0.0, "deadline_misses", (json_int_t)0,
		"chans", "q", "sent", (json_int_t)999, "pending", (json_int_t)3, "rate", 42.0,
		"overflows", (json_int_t)0, "lat_p99_ns", (json_int_t)5000, "events");
	assert_true(json_equal(d, want));
	json_decref(want);
	json_decref(d);

	/* the next poll: only b's CPU and q's counter moved */
	json_decref(top);
	top = json_pack("{s:b,s:s,s:[[s,s,i,f,f,I,I,f,I],[s,s,i,f,f,I,I,f,I]],"
			"s:[[I,f,I,I,I]]}", "ok", 1, "form", "rows", "parts",
		"running", "ok", 10, 0.01, 0.0, (json_int_t)1024, (json_int_t)0, 0.0, (json_int_t)0,
		"running", "ok", 11, 50.0, 0.0, (json_int_t)4096, (json_int_t)1, 0.0, (json_int_t)0,
		"chans", (json_int_t)1000, 42.4, (json_int_t)3, (json_int_t)0, (json_int_t)5000);
	d = upd(&st, ps, top, 1500000000ull, &err);
	want = json_pack("{s:I,s:I,s:{s:{s:f}},s:{s:{s:I}},s:[]}", "t", (json_int_t)1500,
			 "tick", (json_int_t)5, "parts", "b", "cpu_pct", 50.0,
			 "chans", "q", "sent", (json_int_t)1000, "events");
	assert_true(json_equal(d, want));
	json_decref(want);
	json_decref(d);
	/* the same figures again: nothing to send (0.01 % rounds to 0.0) */
	assert_null(upd(&st, ps, top, 1600000000ull, &err));
	assert_int_equal(err, 0);
	/* the page connecting now sees top's figures in the full state */
	full = myco__dash_state_full(&st);
	json_t *fq = json_object_get(json_object_get(full, "chans"), "q");
	assert_int_equal(json_integer_value(json_object_get(fq, "sent")), 1000);
	assert_int_equal(json_integer_value(json_object_get(fq, "done")), 150);
	assert_int_equal(json_integer_value(json_object_get(fq, "lat_p99_ns")), 5000);
	json_decref(full);
	json_decref(top);

	/* rows that do not match ps (a reply from another system, a short or
	 * malformed one) are not used: ps's figures stand, nothing breaks */
	top = json_pack("{s:b,s:s,s:[[s]],s:[i,[s]]}", "ok", 1, "form", "rows", "parts",
			"running", "chans", 7, "x");
	d = upd(&st, ps, top, 1700000000ull, &err);
	assert_int_equal(err, 0);
	dq = json_object_get(json_object_get(d, "chans"), "q");
	assert_int_equal(json_integer_value(json_object_get(dq, "sent")), 150);  /* ps's */
	db = json_object_get(json_object_get(d, "parts"), "b");
	assert_string_equal(json_string_value(json_object_get(db, "state")), "restarting");
	assert_null(json_object_get(db, "cpu_pct"));              /* kept, not resent */
	json_decref(d);
	json_decref(top);
	top = json_pack("{s:[s,[i]],s:[{}]}", "parts", "junk", 3, "chans");
	d = upd(&st, ps, top, 1800000000ull, &err);
	assert_int_equal(err, 0);
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

	/* names that need escaping (from ps: no model to vouch for them) come
	 * out as the same names in valid JSON */
	ps = json_pack("{s:[{s:s,s:s,s:i}],s:[{s:s,s:I}]}", "partitions", "name", "we\"ird\n\\",
		       "state", "run\"ning", "pid", 3, "channels", "name", "c\t1", "sent", (json_int_t)4);
	assert_int_equal(myco__dash_state_init(&st, NULL, ps), 0);
	int err;
	json_t *d = upd(&st, ps, NULL, 1000000000ull, &err);
	json_t *dp = json_object_get(json_object_get(d, "parts"), "we\"ird\n\\");
	assert_string_equal(json_string_value(json_object_get(dp, "state")), "run\"ning");
	assert_int_equal(json_integer_value(json_object_get(dp, "pid")), 3);
	json_t *dc = json_object_get(json_object_get(d, "chans"), "c\t1");
	assert_int_equal(json_integer_value(json_object_get(dc, "sent")), 4);
	json_decref(d);
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
