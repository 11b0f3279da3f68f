/*
 * events.c: the executive's memory: a bounded ring of supervision and
 * health events (what `myco events` shows) and one bounded byte ring per
 * partition holding its stdout/stderr (what `myco logs` shows).  Each
 * partition also keeps its own last EX_PART_EVENTS events, so one that
 * floods the ring cannot push out another's history.  Rings are
 * overwritten oldest-first; readers keep a position (event sequence number
 * or byte offset) and are told when they fell behind.
 * Not for: deciding anything (supervise.c) or talking to clients (control.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "exec_int.h"
#include "collect.h"

uint64_t myco__ex_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct ex_event *myco__ex_event(struct ex_system *s, struct ex_part *p,
		    const char *kind, int64_t c2r, int64_t c2f,
		    const char *fmt, ...)
{
	struct ex_event *e = &s->ev[s->ev_seq % EX_EVENT_RING];
	va_list ap;

	memset(e, 0, sizeof(*e));
	e->seq = s->ev_seq++;
	e->t_real_ns = myco__ex_real();
	e->t_mono_ns = myco_now();
	snprintf(e->part, sizeof(e->part), "%s", p ? p->name : "");
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	e->c2r_ns = c2r;
	e->c2f_ns = c2f;
	e->c2a_ns = -1;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	if (p && (p->pev || (p->pev = calloc(EX_PART_EVENTS, sizeof(*p->pev)))))
		p->pev[p->pev_n++ % EX_PART_EVENTS] = *e;       /* ENOMEM: global only */
	myco__ex_collect_event(s, p, kind, c2r);
	if (!s->opt.quiet) {
		time_t t = (time_t)(e->t_real_ns / 1000000000ull);
		struct tm tm;
		char ts[32];
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		fprintf(stderr, "myco: %s.%03u %-10s %-12s %s\n", ts,
			(unsigned)(e->t_real_ns / 1000000u % 1000u),
			e->part[0] ? e->part : "-", e->kind, e->detail);
	}
	return e;
}

void myco__ex_event_sync(struct ex_part *p, const struct ex_event *e)
{
	if (!p || !p->pev)
		return;
	for (uint64_t i = 0; i < EX_PART_EVENTS && i < p->pev_n; i++) {
		struct ex_event *c = &p->pev[(p->pev_n - 1 - i) % EX_PART_EVENTS];
		if (c->seq == e->seq) {
			*c = *e;
			return;
		}
	}
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = (*(const struct ex_event *const *)a)->seq;
	uint64_t y = (*(const struct ex_event *const *)b)->seq;
	return x < y ? -1 : x > y;
}

const struct ex_event **myco__ex_events_all(struct ex_system *s, size_t *n)
{
	uint64_t from = s->ev_seq > EX_EVENT_RING ? s->ev_seq - EX_EVENT_RING : 0;
	size_t cap = (size_t)(s->ev_seq - from) + s->nparts * EX_PART_EVENTS;
	const struct ex_event **a = malloc((cap ? cap : 1) * sizeof(*a));
	size_t k = 0;
	*n = 0;
	if (!a)
		return NULL;
	for (size_t i = 0; i < s->nparts; i++) {
		const struct ex_part *p = &s->parts[i];
		uint64_t pf = p->pev_n > EX_PART_EVENTS ? p->pev_n - EX_PART_EVENTS : 0;
		for (uint64_t q = pf; p->pev && q < p->pev_n; q++)
			if (p->pev[q % EX_PART_EVENTS].seq < from)    /* evicted there */
				a[k++] = &p->pev[q % EX_PART_EVENTS];
	}
	for (uint64_t q = from; q < s->ev_seq; q++)
		a[k++] = &s->ev[q % EX_EVENT_RING];
	qsort(a, k, sizeof(*a), by_seq);
	*n = k;
	return a;
}

json_t *myco__ex_event_json(const struct ex_event *e)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "time_ns", json_integer((json_int_t)e->t_real_ns));
	json_object_set_new(o, "mono_ns", json_integer((json_int_t)e->t_mono_ns));
	json_object_set_new(o, "partition", json_string(e->part));
	json_object_set_new(o, "kind", json_string(e->kind));
	json_object_set_new(o, "detail", json_string(e->detail));
	if (e->c2r_ns >= 0)
		json_object_set_new(o, "crash_to_running_ns", json_integer(e->c2r_ns));
	if (e->c2a_ns >= 0)
		json_object_set_new(o, "crash_to_activate_ns", json_integer(e->c2a_ns));
	if (e->c2f_ns >= 0)
		json_object_set_new(o, "crash_to_first_ns", json_integer(e->c2f_ns));
	if (e->evd.set) {
		const struct ex_evidence *v = &e->evd;
		json_t *x = json_object();
		if (x) {
			json_object_set_new(x, "signal", json_string(v->signal));
			json_object_set_new(x, "value", v->has_value ? json_real(v->value) : json_null());
			json_object_set_new(x, "baseline", v->has_base ? json_real(v->baseline) : json_null());
			json_object_set_new(x, "threshold", json_real(v->threshold));
			json_object_set_new(x, "unit", json_string(v->unit));
			json_object_set_new(x, "verdict", json_string(v->verdict));
			if (v->action[0])
				json_object_set_new(x, "action", json_string(v->action));
			if (v->has_predict)
				json_object_set_new(x, "predict_s", json_real(v->predict_s));
			if (v->slo[0])
				json_object_set_new(x, "slo", json_string(v->slo));
			json_object_set_new(o, "evidence", x);
		}
	}
	return o;
}

void myco__ex_log_append(struct ex_part *p, const char *buf, size_t n)
{
	if (!p->log && !(p->log = calloc(1, EX_LOG_RING)))
		return;                 /* allocated on first output; ENOMEM drops it */
	if (n > EX_LOG_RING) {          /* only the tail fits */
		p->log_total += n - EX_LOG_RING;
		buf += n - EX_LOG_RING;
		n = EX_LOG_RING;
	}
	size_t at = (size_t)(p->log_total % EX_LOG_RING);
	size_t first = EX_LOG_RING - at < n ? EX_LOG_RING - at : n;
	memcpy(p->log + at, buf, first);
	memcpy(p->log, buf + first, n - first);
	p->log_total += n;
}

size_t myco__ex_log_read(const struct ex_part *p, uint64_t pos, char *out,
			 size_t cap, uint64_t *next)
{
	uint64_t oldest = p->log_total > EX_LOG_RING ? p->log_total - EX_LOG_RING : 0;
	size_t n = 0;

	if (pos < oldest)
		pos = oldest;
	if (pos > p->log_total)
		pos = p->log_total;
	while (pos < p->log_total && n < cap && p->log) {
		out[n++] = p->log[pos % EX_LOG_RING];
		pos++;
	}
	*next = pos;
	return n;
}
