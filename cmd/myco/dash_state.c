/*
 * dash_state.c: the dashboard's view of a running system.  The static part
 * (partitions with their cores, budgets and memory limits, channels as
 * edges between partitions, the frame schedule) comes from the checked
 * model once; the live part (state, pid, restarts, health, isolation, CPU,
 * memory, messages/s, queue depth) from the executive's `top` reply at
 * every poll and its `ps` reply (isolation, standby, last exit, channel
 * done/broken), which the caller refreshes less often.  Each poll yields a delta: only the fields that
 * changed, plus the events that arrived since the previous one.  A page
 * gets the full state once, then deltas.
 * Not for: talking to the executive or to browsers (dash_cmds.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "myco/lang.h"
#include "dash_int.h"

/* ------------------------------------------------------------ the static part */

static json_t *idx_names(const myco_system_t *m, const uint32_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (v[i] < m->npartitions)
			json_array_append_new(a, json_string(m->partitions[v[i]].name));
	return a;
}

static json_t *static_from_model(const myco_system_t *m)
{
	json_t *parts = json_object(), *chans = json_object(), *order = json_array(),
	       *corder = json_array(), *wins = json_array();

	for (size_t i = 0; i < m->npartitions; i++) {
		const myco_partition_t *p = &m->partitions[i];
		json_t *cores = json_array();
		for (size_t k = 0; cores && k < p->ncores; k++)
			json_array_append_new(cores, json_integer(p->cores[k]));
		double budget = p->mode == MYCO_MODE_BUDGET && p->period_ns ?
			(double)p->runtime_ns * 100.0 / (double)p->period_ns : 0;
		json_object_set_new(parts, p->name, json_pack("{s:o,s:s,s:f,s:I,s:I,s:I,s:s,s:s}",
			"cores", cores ? cores : json_array(), "mode", myco_mode_name(p->mode),
			"budget_pct", budget, "runtime_ns", (json_int_t)p->runtime_ns,
			"period_ns", (json_int_t)p->period_ns,
			"memory_limit", (json_int_t)p->memory_bytes,
			"group", p->group < m->ngroups ? m->groups[p->group].name : "",
			"restart", myco_restart_name(p->restart)));
		json_array_append_new(order, json_string(p->name));
	}
	for (size_t i = 0; i < m->nchannels; i++) {
		const myco_channel_t *c = &m->channels[i];
		json_t *from, *to;
		if (c->kind == MYCO_LANG_CALL) {
			from = idx_names(m, c->clients, c->nclients);
			to = idx_names(m, &c->server, c->server < m->npartitions ? 1 : 0);
		} else {
			from = idx_names(m, c->senders, c->nsenders);
			to = idx_names(m, c->receivers, c->nreceivers);
		}
		json_object_set_new(chans, c->name, json_pack("{s:s,s:o,s:o,s:i}",
			"kind", myco_lang_chan_kind_name(c->kind),
			"from", from ? from : json_array(), "to", to ? to : json_array(),
			"depth_max", c->kind == MYCO_LANG_QUEUE ? (int)c->depth : 0));
		json_array_append_new(corder, json_string(c->name));
	}
	for (size_t k = 0; k < m->schedule.ncores; k++) {
		const myco_core_sched_t *cs = &m->schedule.cores[k];
		for (size_t w = 0; w < cs->nwindows; w++) {
			const myco_window_t *win = &cs->windows[w];
			json_array_append_new(wins, json_pack("{s:i,s:s,s:I,s:I}",
				"core", (int)cs->core,
				"part", win->partition < m->npartitions ?
					m->partitions[win->partition].name : "",
				"off_ns", (json_int_t)win->offset_ns,
				"dur_ns", (json_int_t)win->duration_ns));
		}
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	return json_pack("{s:s,s:i,s:I,s:o,s:o,s:o,s:o,s:{s:I,s:o},s:b}",
		"system", m->name,
		"cores", m->machine_cores ? (int)m->machine_cores : (int)(ncpu > 0 ? ncpu : 1),
		"memory", (json_int_t)m->machine_memory,
		"parts", parts, "chans", chans, "order", order, "chan_order", corder,
		"schedule", "major_ns", (json_int_t)m->schedule.major_ns, "windows", wins,
		"model", 1);
}

/* Without the system file: what `ps` says (no edges, no budgets). */
static json_t *static_from_ps(json_t *ps)
{
	json_t *parts = json_object(), *chans = json_object(), *order = json_array(),
	       *corder = json_array(), *v;
	size_t i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	json_array_foreach(json_object_get(ps, "partitions"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name)
			continue;
		json_object_set_new(parts, name, json_pack("{s:[],s:O,s:f,s:I,s:I,s:I,s:O,s:O}",
			"cores", "mode", json_object_get(v, "mode"), "budget_pct", 0.0,
			"runtime_ns", (json_int_t)0, "period_ns", (json_int_t)0,
			"memory_limit", (json_int_t)0, "group", json_object_get(v, "group"),
			"restart", json_object_get(v, "restart")));
		json_array_append_new(order, json_string(name));
	}
	json_array_foreach(json_object_get(ps, "channels"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name)
			continue;
		json_object_set_new(chans, name, json_pack("{s:O,s:[],s:[],s:i}",
			"kind", json_object_get(v, "kind"), "from", "to", "depth_max", 0));
		json_array_append_new(corder, json_string(name));
	}
	const char *sys = json_string_value(json_object_get(ps, "system"));
	return json_pack("{s:s,s:i,s:I,s:o,s:o,s:o,s:o,s:{s:I,s:[]},s:b}",
		"system", sys ? sys : "?", "cores", (int)(ncpu > 0 ? ncpu : 1),
		"memory", (json_int_t)0, "parts", parts, "chans", chans, "order", order,
		"chan_order", corder, "schedule", "major_ns", (json_int_t)0, "windows",
		"model", 0);
}

int myco__dash_state_init(struct dash_state *st, const myco_system_t *model, json_t *ps)
{
	memset(st, 0, sizeof(*st));
	st->stat = model ? static_from_model(model) : static_from_ps(ps);
	st->parts = json_object();
	st->chans = json_object();
	st->events = json_array();
	st->new_events = json_array();
	st->prev_sent = json_object();
	if (!st->stat || !st->parts || !st->chans || !st->events || !st->new_events ||
	    !st->prev_sent) {
		myco__dash_state_free(st);
		return -ENOMEM;
	}
	return 0;
}

void myco__dash_state_free(struct dash_state *st)
{
	json_decref(st->stat);
	json_decref(st->parts);
	json_decref(st->chans);
	json_decref(st->events);
	json_decref(st->new_events);
	json_decref(st->prev_sent);
	memset(st, 0, sizeof(*st));
}

/* -------------------------------------------------------------- the live part */

/* One decimal is what the page shows; rounding keeps noise out of deltas. */
static json_t *round1(double v)
{
	return json_real(round(v * 10.0) / 10.0);
}

/* "applied 6/8" and the list, from ps's isolation array. */
static json_t *iso_summary(json_t *iso)
{
	size_t i, n = 0, applied = 0, degraded = 0;
	json_t *v;
	char buf[64];
	json_array_foreach(iso, i, v) {
		const char *s = json_string_value(json_object_get(v, "status"));
		if (!s || !strcmp(s, "not-requested"))
			continue;
		n++;
		if (!strcmp(s, "applied"))
			applied++;
		else
			degraded++;
	}
	snprintf(buf, sizeof(buf), "%zu/%zu applied%s", applied, n, degraded ? ", degraded" : "");
	return json_string(buf);
}

static json_t *part_live(json_t *p, json_t *top)
{
	json_t *o = json_object(), *lr = json_object_get(p, "last_restart");
	if (!o)
		return NULL;
	/* "record": the partition's record/replay state from ps (null when
	 * the executive records nothing: docs/replay.md) */
	static const char *const copy[] = { "state", "pid", "restarts", "health", "last_exit",
					    "standby_parked", "isolation", "record" };
	for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
		json_t *v = json_object_get(p, copy[i]);
		json_object_set(o, copy[i], v ? v : json_null());
	}
	json_object_set_new(o, "iso", iso_summary(json_object_get(p, "isolation")));
	json_object_set_new(o, "c2r_ns", json_integer(
		lr ? json_integer_value(json_object_get(lr, "crash_to_running_ns")) : 0));
	if (top) {
		/* top is fresh at every poll, ps may be up to a second old */
		static const char *const fresh[] = { "state", "pid", "restarts", "health" };
		for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
			json_t *v = json_object_get(top, fresh[i]);
			if (v)
				json_object_set(o, fresh[i], v);
		}
		json_object_set_new(o, "cpu_pct", round1(json_number_value(json_object_get(top, "cpu_pct"))));
		json_object_set_new(o, "budget_use_pct",
				    round1(json_number_value(json_object_get(top, "budget_use_pct"))));
		json_object_set_new(o, "rss", json_integer(json_integer_value(json_object_get(top, "rss_bytes"))));
		json_object_set_new(o, "msgs_per_s", round1(json_number_value(json_object_get(top, "msgs_per_s"))));
		json_object_set_new(o, "deadline_misses",
				    json_integer(json_integer_value(json_object_get(top, "deadline_misses"))));
	}
	return o;
}

/* An index name -> element of an array of {"name":...} objects (a new
 * object; NULL for no array).  One hash lookup per partition and channel
 * instead of a scan: 1,000 channels were a million compares a poll. */
static json_t *by_name(json_t *arr)
{
	size_t i;
	json_t *v, *idx = arr ? json_object() : NULL;
	json_array_foreach(arr, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && idx)
			json_object_set(idx, n, v);
	}
	return idx;
}

static json_t *chan_live(struct dash_state *st, json_t *c, json_t *top, const char *name,
			 uint64_t now_ns)
{
	/* top's counters are fresh at every poll, ps's may be a second old */
	json_t *tm = top ? json_object_get(top, "messages") : NULL;
	json_t *td = top ? json_object_get(top, "depth") : NULL;
	json_int_t sent = json_integer_value(tm ? tm : json_object_get(c, "sent"));
	json_t *o = json_pack("{s:I,s:I,s:I,s:O}", "sent", sent,
			      "done", json_integer_value(json_object_get(c, "done")),
			      "pending", json_integer_value(td ? td : json_object_get(c, "pending")),
			      "broken", json_object_get(c, "broken") ? json_object_get(c, "broken")
								      : json_false());
	if (!o)
		return NULL;
	double rate = 0;
	json_t *tr = top ? json_object_get(top, "msgs_per_s") : NULL;
	json_t *prev = json_object_get(st->prev_sent, name);
	if (tr) {
		rate = json_number_value(tr);
	} else if (prev) {
		/* no collector: our own rate over the poll interval */
		json_int_t ps = json_integer_value(json_array_get(prev, 0));
		json_int_t pt = json_integer_value(json_array_get(prev, 1));
		if ((uint64_t)pt < now_ns && sent >= ps)
			rate = (double)(sent - ps) * 1e9 / (double)(now_ns - (uint64_t)pt);
	}
	json_object_set_new(st->prev_sent, name, json_pack("[I,I]", sent, (json_int_t)now_ns));
	json_object_set_new(o, "rate", json_real(round(rate)));
	if (top) {
		json_object_set_new(o, "overflows", json_integer(json_integer_value(json_object_get(top, "overflows"))));
		json_object_set_new(o, "lat_p99_ns", json_integer(json_integer_value(json_object_get(top, "latency_p99_ns"))));
	}
	return o;
}

/* Fields of NEW that differ from OLD (all of NEW when OLD is NULL). */
static json_t *diff_fields(json_t *old, json_t *new)
{
	json_t *d = NULL, *v;
	const char *k;
	json_object_foreach(new, k, v) {
		if (old && json_equal(json_object_get(old, k), v))
			continue;
		if (!d && !(d = json_object()))
			return NULL;
		json_object_set(d, k, v);
	}
	return d;
}

json_t *myco__dash_state_update(struct dash_state *st, json_t *ps, json_t *top,
				uint64_t now_ns, int *err)
{
	json_t *dparts = json_object(), *dchans = json_object(), *v, *dframe = NULL;
	json_t *tparts = by_name(top ? json_object_get(top, "partitions") : NULL);
	json_t *tchans = by_name(top ? json_object_get(top, "channels") : NULL);
	size_t i;
	*err = 0;
	st->t_ms = now_ns / 1000000;
	if (!dparts || !dchans)
		goto oom;
	/* the frame clock (ps "frame"): sent when it starts or changes */
	json_t *fr = json_object_get(ps, "frame");
	if (json_is_object(fr)) {
		json_t *clk = json_pack("{s:O,s:O}", "origin_ns", json_object_get(fr, "origin_ns"),
					"major_ns", json_object_get(fr, "major_ns"));
		if (clk && !json_equal(clk, json_object_get(st->stat, "frame_clock"))) {
			json_object_set(st->stat, "frame_clock", clk);
			dframe = clk;
		} else {
			json_decref(clk);
		}
	}
	json_array_foreach(json_object_get(ps, "partitions"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name)
			continue;
		json_t *live = part_live(v, tparts ? json_object_get(tparts, name) : NULL);
		if (!live)
			goto oom;
		json_t *d = diff_fields(json_object_get(st->parts, name), live);
		if (d)
			json_object_set_new(dparts, name, d);
		json_object_set_new(st->parts, name, live);
	}
	json_array_foreach(json_object_get(ps, "channels"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name)
			continue;
		json_t *live = chan_live(st, v, tchans ? json_object_get(tchans, name) : NULL, name, now_ns);
		if (!live)
			goto oom;
		json_t *d = diff_fields(json_object_get(st->chans, name), live);
		if (d)
			json_object_set_new(dchans, name, d);
		json_object_set_new(st->chans, name, live);
	}
	json_decref(tparts);
	json_decref(tchans);
	tparts = tchans = NULL;
	if (!json_object_size(dparts) && !json_object_size(dchans) &&
	    !json_array_size(st->new_events) && !dframe) {
		json_decref(dparts);
		json_decref(dchans);
		return NULL;
	}
	json_t *fresh = json_array();
	if (!fresh)
		goto oom;
	st->tick++;
	/* the delta takes the queued events; a fresh queue starts */
	json_t *delta = json_pack("{s:I,s:I,s:o,s:o,s:o}", "t", (json_int_t)(now_ns / 1000000),
				  "tick", (json_int_t)st->tick, "parts", dparts, "chans", dchans,
				  "events", st->new_events);
	st->new_events = fresh;
	if (!delta) {
		json_decref(dframe);
		*err = -ENOMEM;
		return NULL;
	}
	if (dframe)
		json_object_set_new(delta, "frame_clock", dframe);
	return delta;
oom:
	json_decref(dparts);
	json_decref(dchans);
	json_decref(tparts);
	json_decref(tchans);
	json_decref(dframe);
	*err = -ENOMEM;
	return NULL;
}

void myco__dash_state_event(struct dash_state *st, json_t *ev)
{
	if (!json_is_object(ev))
		return;
	json_array_append(st->events, ev);
	json_array_append(st->new_events, ev);
	while (json_array_size(st->events) > DASH_EVENTS_KEPT)
		json_array_remove(st->events, 0);
	while (json_array_size(st->new_events) > DASH_EVENTS_KEPT)
		json_array_remove(st->new_events, 0);
}

json_t *myco__dash_state_full(const struct dash_state *st)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:I,s:I}", "static", st->stat, "parts", st->parts,
			 "chans", st->chans, "events", st->events, "tick", (json_int_t)st->tick,
			 "t", (json_int_t)st->t_ms);
}
