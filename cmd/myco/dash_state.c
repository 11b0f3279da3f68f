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
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
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

static int slots_init(struct dash_state *st);

int myco__dash_state_init(struct dash_state *st, const myco_system_t *model, json_t *ps)
{
	memset(st, 0, sizeof(*st));
	st->stat = model ? static_from_model(model) : static_from_ps(ps);
	st->events = json_array();
	st->new_events = json_array();
	if (!st->stat || !st->events || !st->new_events ||
	    slots_init(st) < 0) {
		myco__dash_state_free(st);
		return -ENOMEM;
	}
	return 0;
}

void myco__dash_state_free(struct dash_state *st)
{
	json_decref(st->stat);
	json_decref(st->events);
	json_decref(st->new_events);
	json_decref(st->ps_seen);
	for (size_t i = 0; st->part && i < st->nparts; i++) {
		free(st->part[i].name);
		free(st->part[i].qname);
		for (size_t k = 0; k < sizeof(st->part[i].pj) / sizeof(st->part[i].pj[0]); k++)
			json_decref(st->part[i].pj[k]);
	}
	for (size_t i = 0; st->chan && i < st->nchans; i++) {
		free(st->chan[i].name);
		free(st->chan[i].qname);
		json_decref(st->chan[i].pj[0]);
		json_decref(st->chan[i].pj[1]);
	}
	free(st->part);
	free(st->chan);
	memset(st, 0, sizeof(*st));
}

/* -------------------------------------------------------------- the live part */

/* The hot path runs ten times a second over every partition and channel:
 * the figures of the previous poll are kept in plain arrays (struct
 * dash_part, struct dash_chan), compared as numbers, and only a field that
 * changed touches a JSON object (the page's state and the delta).  What
 * comes from `ps` (isolation, last exit, standby, done, broken) is folded
 * only when a new `ps` reply arrives. */

/* One decimal is what the page shows; rounding keeps noise out of deltas. */
static double round1(double v)
{
	return round(v * 10.0) / 10.0;
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

/* The delta's text, written as it is found (a growing buffer). */
struct dbuf {
	char *b;
	size_t len, cap;
	int err;
};

static void db_add(struct dbuf *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t nc = (o->cap + n + 1) * 2;
		char *nb = realloc(o->b, nc);
		if (!nb) {
			o->err = -ENOMEM;
			return;
		}
		o->b = nb;
		o->cap = nc;
	}
	memcpy(o->b + o->len, s, n);
	o->len += n;
	o->b[o->len] = 0;
}

static void db_str(struct dbuf *o, const char *s)
{
	db_add(o, s, strlen(s));
}

/* Any JSON value, compact (strings escaped by jansson). */
static void db_json(struct dbuf *o, json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!t) {
		o->err = -ENOMEM;
		return;
	}
	db_str(o, t);
	free(t);
}

/* Where the changes of one partition or channel go: the delta's entry for
 * it ("NAME":{...}), opened at the first changed field. */
struct dash_put {
	struct dbuf *o;
	const char *qname;  /* the name as a JSON string */
	bool open;
};

static void put_key(struct dash_put *p, const char *key)
{
	if (!p->open) {
		if (p->o->len && p->o->b[p->o->len - 1] != '{')
			db_add(p->o, ",", 1);
		db_str(p->o, p->qname);
		db_add(p->o, ":{", 2);
		p->open = true;
	} else {
		db_add(p->o, ",", 1);
	}
	db_add(p->o, "\"", 1);
	db_str(p->o, key);
	db_add(p->o, "\":", 2);
}

static void put_int(struct dash_put *p, const char *key, uint64_t bit, uint64_t *have,
		    int64_t *old, int64_t v)
{
	if ((*have & bit) && *old == v)
		return;
	*have |= bit;
	*old = v;
	char t[24];
	int n = snprintf(t, sizeof(t), "%" PRId64, v);
	put_key(p, key);
	db_add(p->o, t, (size_t)n);
}

/* A real as JSON: the shortest of 15 or 17 digits that reads back the
 * same, always with a point (a real for the page and for jansson). */
static void db_real(struct dbuf *o, double v)
{
	char t[40];
	if (!isfinite(v))
		v = 0;
	int n = snprintf(t, sizeof(t), "%.15g", v);
	if (strtod(t, NULL) != v)
		n = snprintf(t, sizeof(t), "%.17g", v);
	if (!strpbrk(t, ".eE"))
		t[n++] = '.', t[n++] = '0', t[n] = 0;
	db_add(o, t, (size_t)n);
}

static void put_real(struct dash_put *p, const char *key, uint64_t bit, uint64_t *have,
		     double *old, double v)
{
	if ((*have & bit) && *old == v)
		return;
	*have |= bit;
	*old = v;
	put_key(p, key);
	db_real(p->o, v);
}

static void put_str(struct dash_put *p, const char *key, uint64_t bit, uint64_t *have,
		    char *old, size_t cap, const char *v)
{
	if (!v)
		v = "";
	if ((*have & bit) && !strncmp(old, v, cap))
		return;
	*have |= bit;
	snprintf(old, cap, "%s", v);
	json_t *js = json_string(v);
	put_key(p, key);
	if (js)
		db_json(p->o, js);
	else
		p->o->err = -ENOMEM;
	json_decref(js);
}

/* A field of ps as it is (any JSON), kept in *KEPT, sent when it differs. */
static void put_json(struct dash_put *p, const char *key, json_t **kept, json_t *v)
{
	if (!v)
		v = json_null();
	if (*kept && json_equal(*kept, v))
		return;
	json_decref(*kept);
	*kept = json_incref(v);
	put_key(p, key);
	db_json(p->o, v);
}

/* The name as a JSON string, written once. */
static char *quoted(const char *name)
{
	json_t *js = json_string(name ? name : "");
	char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
	json_decref(js);
	return q;
}

static int slots_init(struct dash_state *st)
{
	json_t *order = json_object_get(st->stat, "order");
	json_t *corder = json_object_get(st->stat, "chan_order");
	st->nparts = json_array_size(order);
	st->nchans = json_array_size(corder);
	st->part = calloc(st->nparts ? st->nparts : 1, sizeof(*st->part));
	st->chan = calloc(st->nchans ? st->nchans : 1, sizeof(*st->chan));
	if (!st->part || !st->chan)
		return -ENOMEM;
	for (size_t i = 0; i < st->nparts; i++)
		if (!(st->part[i].name = strdup(json_string_value(json_array_get(order, i)))) ||
		    !(st->part[i].qname = quoted(st->part[i].name)))
			return -ENOMEM;
	for (size_t i = 0; i < st->nchans; i++)
		if (!(st->chan[i].name = strdup(json_string_value(json_array_get(corder, i)))) ||
		    !(st->chan[i].qname = quoted(st->chan[i].name)))
			return -ENOMEM;
	return 0;
}

enum {
	PB_STATE = 1u << 0, PB_HEALTH = 1u << 1, PB_PID = 1u << 2, PB_RESTARTS = 1u << 3,
	PB_CPU = 1u << 4, PB_BUSE = 1u << 5, PB_RSS = 1u << 6, PB_MSGS = 1u << 7,
	PB_MISSES = 1u << 8,
	CB_SENT = 1u << 0, CB_PENDING = 1u << 1, CB_RATE = 1u << 2, CB_OVF = 1u << 3,
	CB_LAT = 1u << 4,
};

/* One partition: ps's entry P (its row in ps), top's row R (NULL: none). */
static void part_fold(struct dash_part *sp, struct dash_put *pu, json_t *p, json_t *r,
		      bool ps_new)
{
	if (ps_new) {
		/* "record": the partition's record/replay state from ps (null
		 * when the executive records nothing: docs/replay.md) */
		static const char *const copy[] = { "last_exit", "standby_parked", "isolation",
						    "record" };
		json_t *lr = json_object_get(p, "last_restart");
		for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
			put_json(pu, copy[i], &sp->pj[i], json_object_get(p, copy[i]));
		json_t *iso = iso_summary(json_object_get(p, "isolation"));
		json_t *c2r = json_integer(lr ? json_integer_value(
			json_object_get(lr, "crash_to_running_ns")) : 0);
		if (iso && c2r) {
			put_json(pu, "iso", &sp->pj[4], iso);
			put_json(pu, "c2r_ns", &sp->pj[5], c2r);
		} else {
			pu->o->err = -ENOMEM;
		}
		json_decref(iso);
		json_decref(c2r);
	}
	/* top is fresh at every poll, ps may be up to a second old */
	const char *state = r ? json_string_value(json_array_get(r, 0)) : NULL;
	const char *health = r ? json_string_value(json_array_get(r, 1)) : NULL;
	put_str(pu, "state", PB_STATE, &sp->have, sp->state, sizeof(sp->state),
		state ? state : json_string_value(json_object_get(p, "state")));
	put_str(pu, "health", PB_HEALTH, &sp->have, sp->health, sizeof(sp->health),
		health ? health : json_string_value(json_object_get(p, "health")));
	put_int(pu, "pid", PB_PID, &sp->have, &sp->pid, json_integer_value(
		r ? json_array_get(r, 2) : json_object_get(p, "pid")));
	put_int(pu, "restarts", PB_RESTARTS, &sp->have, &sp->restarts, json_integer_value(
		r ? json_array_get(r, 6) : json_object_get(p, "restarts")));
	if (!r)
		return;
	put_real(pu, "cpu_pct", PB_CPU, &sp->have, &sp->cpu,
		 round1(json_number_value(json_array_get(r, 3))));
	put_real(pu, "budget_use_pct", PB_BUSE, &sp->have, &sp->buse,
		 round1(json_number_value(json_array_get(r, 4))));
	put_int(pu, "rss", PB_RSS, &sp->have, &sp->rss, json_integer_value(json_array_get(r, 5)));
	put_real(pu, "msgs_per_s", PB_MSGS, &sp->have, &sp->msgs,
		 round1(json_number_value(json_array_get(r, 7))));
	put_int(pu, "deadline_misses", PB_MISSES, &sp->have, &sp->misses,
		json_integer_value(json_array_get(r, 8)));
}

/* One channel: ps's entry C, top's row R (NULL: none), at NOW_NS. */
static void chan_fold(struct dash_chan *sc, struct dash_put *pu, json_t *c, json_t *r,
		      bool ps_new, uint64_t now_ns)
{
	if (ps_new) {
		json_t *done = json_integer(json_integer_value(json_object_get(c, "done")));
		if (done)
			put_json(pu, "done", &sc->pj[0], done);
		else
			pu->o->err = -ENOMEM;
		json_decref(done);
		json_t *br = json_object_get(c, "broken");
		put_json(pu, "broken", &sc->pj[1], br ? br : json_false());
	}
	/* top's counters are fresh at every poll, ps's may be a second old */
	int64_t sent = json_integer_value(r ? json_array_get(r, 0) : json_object_get(c, "sent"));
	double rate = 0;
	if (r) {
		rate = json_number_value(json_array_get(r, 1));
	} else if (sc->prev_t) {
		/* no collector: our own rate over the poll interval */
		if (sc->prev_t < now_ns && sent >= sc->prev_sent)
			rate = (double)(sent - sc->prev_sent) * 1e9 / (double)(now_ns - sc->prev_t);
	}
	sc->prev_sent = sent;
	sc->prev_t = now_ns;
	put_int(pu, "sent", CB_SENT, &sc->have, &sc->sent, sent);
	put_int(pu, "pending", CB_PENDING, &sc->have, &sc->pending, json_integer_value(
		r ? json_array_get(r, 2) : json_object_get(c, "pending")));
	put_real(pu, "rate", CB_RATE, &sc->have, &sc->rate, round(rate));
	if (!r)
		return;
	put_int(pu, "overflows", CB_OVF, &sc->have, &sc->ovf, json_integer_value(json_array_get(r, 3)));
	put_int(pu, "lat_p99_ns", CB_LAT, &sc->have, &sc->lat, json_integer_value(json_array_get(r, 4)));
}

/* top's rows of one kind when they match ps's entries one to one. */
static json_t *rows_of(json_t *top, const char *key, json_t *ps_arr)
{
	json_t *rows = top ? json_object_get(top, key) : NULL;
	return json_is_array(rows) && json_array_size(rows) == json_array_size(ps_arr) ? rows : NULL;
}

/* The row of index I, NULL when it is not an array (untrusted: a reply). */
static json_t *row_at(json_t *rows, size_t i)
{
	json_t *r = rows ? json_array_get(rows, i) : NULL;
	return json_is_array(r) ? r : NULL;
}

/* The slot of ps's entry I named NAME among N slots (ps's order is the
 * model's: slot I nearly always); -1 when there is none. */
static ssize_t slot_at(const char *name, size_t i, size_t n, const char *(*nm)(void *, size_t),
		       void *arr)
{
	if (!name)
		return -1;
	if (i < n && !strcmp(nm(arr, i), name))
		return (ssize_t)i;
	for (size_t j = 0; j < n; j++)
		if (!strcmp(nm(arr, j), name))
			return (ssize_t)j;
	return -1;
}

static const char *part_name(void *a, size_t i)
{
	return ((struct dash_part *)a)[i].name;
}

static const char *chan_name(void *a, size_t i)
{
	return ((struct dash_chan *)a)[i].name;
}

char *myco__dash_state_update(struct dash_state *st, json_t *ps, json_t *top,
			      uint64_t now_ns, size_t *len, int *err)
{
	json_t *pps = json_object_get(ps, "partitions"), *pch = json_object_get(ps, "channels");
	json_t *tparts = rows_of(top, "parts", pps), *tchans = rows_of(top, "chans", pch);
	json_t *v, *dframe = NULL;
	bool ps_new = ps != st->ps_seen;
	struct dbuf o = { 0 };
	size_t i, changed = 0;
	char t[80];
	*err = 0;
	st->t_ms = now_ns / 1000000;
	if (ps_new) {
		/* held, so that a new reply can never have the old one's address */
		json_decref(st->ps_seen);
		st->ps_seen = json_incref(ps);
	}
	/* the frame clock (ps "frame"): sent when it starts or changes */
	json_t *fr = json_object_get(ps, "frame");
	if (ps_new && json_is_object(fr)) {
		json_t *clk = json_pack("{s:O,s:O}", "origin_ns", json_object_get(fr, "origin_ns"),
					"major_ns", json_object_get(fr, "major_ns"));
		if (clk && !json_equal(clk, json_object_get(st->stat, "frame_clock"))) {
			json_object_set(st->stat, "frame_clock", clk);
			dframe = clk;
		} else {
			json_decref(clk);
		}
	}
	st->tick++;   /* taken back when nothing changed */
	int n = snprintf(t, sizeof(t), "{\"t\":%" PRIu64 ",\"tick\":%" PRIu64 ",\"parts\":{",
			 now_ns / 1000000, st->tick);
	db_add(&o, t, (size_t)n);
	json_array_foreach(pps, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		ssize_t k = slot_at(name, i, st->nparts, part_name, st->part);
		if (k < 0)
			continue;
		struct dash_part *sp = &st->part[k];
		struct dash_put pu = { .o = &o, .qname = sp->qname };
		part_fold(sp, &pu, v, row_at(tparts, i), ps_new || !sp->folded);
		sp->folded = true;
		if (pu.open)
			db_add(&o, "}", 1), changed++;
	}
	db_str(&o, "},\"chans\":{");
	json_array_foreach(pch, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		ssize_t k = slot_at(name, i, st->nchans, chan_name, st->chan);
		if (k < 0)
			continue;
		struct dash_chan *sc = &st->chan[k];
		struct dash_put pu = { .o = &o, .qname = sc->qname };
		chan_fold(sc, &pu, v, row_at(tchans, i), ps_new || !sc->folded, now_ns);
		sc->folded = true;
		if (pu.open)
			db_add(&o, "}", 1), changed++;
	}
	if (!changed && !json_array_size(st->new_events) && !dframe) {
		st->tick--;
		free(o.b);
		*err = o.err;
		return NULL;
	}
	/* the delta takes the queued events; a fresh queue starts */
	db_str(&o, "},\"events\":");
	db_json(&o, st->new_events);
	if (dframe) {
		db_str(&o, ",\"frame_clock\":");
		db_json(&o, dframe);
		json_decref(dframe);
	}
	db_add(&o, "}", 1);
	if (o.err) {
		free(o.b);
		*err = o.err;
		return NULL;
	}
	json_array_clear(st->new_events);
	if (len)
		*len = o.len;
	return o.b;
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

/* The live object of one partition or channel, from its kept figures. */
static json_t *part_obj(const struct dash_part *sp)
{
	static const char *const pk[] = { "last_exit", "standby_parked", "isolation", "record",
					  "iso", "c2r_ns" };
	json_t *o = json_object();
	for (size_t i = 0; o && i < sizeof(pk) / sizeof(pk[0]); i++)
		if (sp->pj[i])
			json_object_set(o, pk[i], sp->pj[i]);
	if (o && (sp->have & PB_STATE))
		json_object_set_new(o, "state", json_string(sp->state));
	if (o && (sp->have & PB_HEALTH))
		json_object_set_new(o, "health", json_string(sp->health));
	if (o && (sp->have & PB_PID))
		json_object_set_new(o, "pid", json_integer(sp->pid));
	if (o && (sp->have & PB_RESTARTS))
		json_object_set_new(o, "restarts", json_integer(sp->restarts));
	if (o && (sp->have & PB_CPU))
		json_object_set_new(o, "cpu_pct", json_real(sp->cpu));
	if (o && (sp->have & PB_BUSE))
		json_object_set_new(o, "budget_use_pct", json_real(sp->buse));
	if (o && (sp->have & PB_RSS))
		json_object_set_new(o, "rss", json_integer(sp->rss));
	if (o && (sp->have & PB_MSGS))
		json_object_set_new(o, "msgs_per_s", json_real(sp->msgs));
	if (o && (sp->have & PB_MISSES))
		json_object_set_new(o, "deadline_misses", json_integer(sp->misses));
	return o;
}

static json_t *chan_obj(const struct dash_chan *sc)
{
	json_t *o = json_object();
	if (o && sc->pj[0])
		json_object_set(o, "done", sc->pj[0]);
	if (o && sc->pj[1])
		json_object_set(o, "broken", sc->pj[1]);
	if (o && (sc->have & CB_SENT))
		json_object_set_new(o, "sent", json_integer(sc->sent));
	if (o && (sc->have & CB_PENDING))
		json_object_set_new(o, "pending", json_integer(sc->pending));
	if (o && (sc->have & CB_RATE))
		json_object_set_new(o, "rate", json_real(sc->rate));
	if (o && (sc->have & CB_OVF))
		json_object_set_new(o, "overflows", json_integer(sc->ovf));
	if (o && (sc->have & CB_LAT))
		json_object_set_new(o, "lat_p99_ns", json_integer(sc->lat));
	return o;
}

json_t *myco__dash_state_full(const struct dash_state *st)
{
	json_t *parts = json_object(), *chans = json_object();
	for (size_t i = 0; parts && i < st->nparts; i++)
		if (st->part[i].folded)
			json_object_set_new(parts, st->part[i].name, part_obj(&st->part[i]));
	for (size_t i = 0; chans && i < st->nchans; i++)
		if (st->chan[i].folded)
			json_object_set_new(chans, st->chan[i].name, chan_obj(&st->chan[i]));
	if (!parts || !chans) {
		json_decref(parts);
		json_decref(chans);
		return NULL;
	}
	return json_pack("{s:O,s:o,s:o,s:O,s:I,s:I}", "static", st->stat, "parts", parts,
			 "chans", chans, "events", st->events, "tick", (json_int_t)st->tick,
			 "t", (json_int_t)st->t_ms);
}
