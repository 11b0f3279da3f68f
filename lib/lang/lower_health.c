/*
 * lower_health.c: the health statements of a partition: `slo` (a service
 * level objective on one of the health model's signals) and `heal` (what
 * the executive does with a sick partition: the action, how far ahead of
 * a predicted breach it acts, and its rate limit).  One handler each,
 * dispatched through the statement table; the executive's health model is
 * exec/health.c, the healing exec/heal.c (docs/immune.md).
 * Not for: other partition statements (lower_part.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const sig_names[MYCO_SIG_COUNT] = {
	"heartbeat", "latency", "queue", "stall", "memory", "cpu", "errors", "restarts",
};
static const char *const heal_names[] = {
	"restart", "quarantine", "shed", "escalate", "observe",
};

/* A plain number (whole or decimal) > 0; the arg or NULL (reported). */
static myco__arg_t *want_number(cur_t *k, const char *what, double *out)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = myco__peek(k);
	if (!a || a->kind != MYCO__A_NUM) {
		myco__expected(k, what);
		return NULL;
	}
	k->i++;
	char *end;
	double v = strtod(a->text, &end);
	if (*end || !isfinite(v)) {
		k->failed = true;
		ERR(k->c, "E110", a->pos, a->len, "write a number such as 80 or 2.5",
		    "%s `%s` is not a number", what, a->text);
		return NULL;
	}
	*out = v;
	return a;
}

static bool want_percent(cur_t *k, myco_slo_t *o, double max)
{
	double v;
	myco__arg_t *a = want_number(k, "a percentage", &v);
	if (!a || !myco__want_punct(k, '%'))
		return false;
	if (!(v > 0) || v > max) {
		k->failed = true;
		char h[64];
		snprintf(h, sizeof h, "a percentage above 0 and at most %.0f", max);
		ERR(k->c, "E110", a->pos, a->len, myco__arena_strdup(&k->c->pa, h),
		    "slo %s < %s %% is out of range", sig_names[o->signal], a->text);
		return false;
	}
	o->limit = v;
	o->percent = true;
	return true;
}

void myco__lower_part_slo(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco_partition_t *p = &l->bp->p;
	myco_slo_t o = { .pos = l->x->pos };
	int sig = myco__want_choice(k, "signal", sig_names, MYCO_SIG_COUNT);
	if (sig < 0)
		return;
	o.signal = (myco_signal_t)sig;
	myco__arg_t *q = myco__peek(k);
	if (q && q->kind == MYCO__A_IDENT && q->text[0] == 'p' && q->text[1] >= '0' &&
	    q->text[1] <= '9') {
		k->i++;
		char *end;
		unsigned long v = strtoul(q->text + 1, &end, 10);
		/* p50, p90, p99: per cent; p999: per mille */
		uint32_t pm = strlen(q->text + 1) == 3 ? (uint32_t)v : (uint32_t)v * 10u;
		if (*end || v == 0 || pm >= 1000 || strlen(q->text + 1) > 3) {
			ERR(l->c, "E110", q->pos, q->len, "write p50, p90, p99 or p999",
			    "`%s` is not a quantile", q->text);
			return;
		}
		if (o.signal != MYCO_SIG_LATENCY) {
			ERR(l->c, "E110", q->pos, q->len, "only `slo latency` takes a quantile",
			    "slo %s takes no quantile", sig_names[sig]);
			return;
		}
		o.quantile = pm;
	} else if (o.signal == MYCO_SIG_LATENCY) {
		o.quantile = 990;               /* p99 unless told */
	}
	if (!myco__want_punct(k, '<'))
		return;
	myco__arg_t *a = myco__peek(k);
	uint64_t u;
	switch (o.signal) {
	case MYCO_SIG_HEARTBEAT:
	case MYCO_SIG_LATENCY:
	case MYCO_SIG_STALL:
		if (!myco__want_qty(k, true, "a time", &u))
			return;
		if (u == 0) {
			ERR(l->c, "E110", a->pos, a->len, "an objective below 0 can never hold",
			    "slo %s < 0 is impossible", sig_names[sig]);
			return;
		}
		o.limit = (double)u;
		break;
	case MYCO_SIG_MEMORY:
		if (a && a->kind == MYCO__A_QTY) {
			if (!myco__want_qty(k, false, "a size or a percentage", &u))
				return;
			o.limit = (double)u;
			if (u == 0) {
				ERR(l->c, "E110", a->pos, a->len, "an objective below 0 can never hold",
				    "slo memory < 0 is impossible");
				return;
			}
		} else if (!want_percent(k, &o, 100)) {
			return;
		}
		break;
	case MYCO_SIG_CPU:
		if (!want_percent(k, &o, 6400))
			return;
		break;
	case MYCO_SIG_ERRORS:
		if (!want_percent(k, &o, 100))
			return;
		break;
	case MYCO_SIG_QUEUE:
	case MYCO_SIG_RESTARTS:
		if (!myco__want_uint(k, "a count", 1, 1u << 30, &u))
			return;
		o.limit = (double)u;
		break;
	}
	if (!myco__want_end(k))
		return;
	for (size_t i = 0; i < p->nslos; i++)
		if (p->slos[i].signal == o.signal) {
			ERR(l->c, "E110", o.pos, 3, "one objective per signal: keep the stricter one",
			    "a second slo on %s (the first is on line %u)", sig_names[sig],
			    p->slos[i].pos.line);
			return;
		}
	myco_slo_t *v = myco__arena_alloc(&l->c->ma, (p->nslos + 1) * sizeof(*v));
	if (!v) {
		l->c->oom = true;
		return;
	}
	if (p->nslos)
		memcpy(v, p->slos, p->nslos * sizeof(*v));
	v[p->nslos] = o;
	p->slos = v;
	p->nslos++;
}

void myco__lower_part_heal(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco_partition_t *p = &l->bp->p;
	int act = myco__want_choice(k, "healing action", heal_names, 5);
	if (act < 0)
		return;
	uint64_t ahead = 0, within = 0, max = 0;
	for (;;) {
		myco__arg_t *w = myco__peek(k);
		if (!w || k->failed)
			break;
		if (w->kind == MYCO__A_IDENT && !strcmp(w->text, "ahead") && !ahead) {
			k->i++;
			myco__arg_t *t = myco__peek(k);
			if (!myco__want_qty(k, true, "a time", &ahead))
				return;
			if (!ahead) {
				ERR(l->c, "E111", t->pos, t->len, "leave `ahead` out for the default (10 s)",
				    "`ahead 0` would never act before a breach");
				return;
			}
		} else if (w->kind == MYCO__A_IDENT && !strcmp(w->text, "limit") && !max) {
			k->i++;
			if (!myco__want_uint(k, "heals", 1, 1000, &max) ||
			    !myco__want_word(k, "per", "`per`"))
				return;
			myco__arg_t *t = myco__peek(k);
			if (!myco__want_qty(k, true, "a time", &within))
				return;
			if (!within) {
				ERR(l->c, "E111", t->pos, t->len, "a period greater than zero",
				    "`limit %llu per 0` is empty", (unsigned long long)max);
				return;
			}
		} else {
			break;
		}
	}
	if (!myco__want_end(k))
		return;
	p->heal = (myco_heal_t)act;
	if (ahead)
		p->heal_ahead_ns = ahead;
	if (max) {
		p->heal_max = (uint32_t)max;
		p->heal_within_ns = within;
	}
	p->heal_pos = l->x->pos;
}

/* After the partition's block: defaults, and what needs another statement. */
void myco__lower_part_health_done(ctx_t *c, myco_partition_t *p)
{
	if (!p->heal_ahead_ns)
		p->heal_ahead_ns = 10ull * 1000000000ull;
	if (!p->heal_max) {
		p->heal_max = 3;
		p->heal_within_ns = 60ull * 1000000000ull;
	}
	for (size_t i = 0; i < p->nslos; i++) {
		const myco_slo_t *o = &p->slos[i];
		if (o->signal == MYCO_SIG_MEMORY && o->percent && !p->memory_bytes)
			ERR(c, "E111", o->pos, 3, "add `memory 64 MiB;` or give a size: `slo memory < 48 MiB;`",
			    "`slo memory < %g %%` but the partition has no `memory` limit", o->limit);
		if (o->signal == MYCO_SIG_MEMORY && !o->percent && p->memory_bytes &&
		    o->limit > (double)p->memory_bytes)
			ERR(c, "E111", o->pos, 3, "an objective above the limit never breaks first",
			    "`slo memory` is above the partition's memory limit");
		if (o->signal == MYCO_SIG_HEARTBEAT && !p->heartbeat_ns)
			ERR(c, "E111", o->pos, 3, "add `heartbeat 100 ms;`",
			    "`slo heartbeat` without a `heartbeat`");
	}
}
