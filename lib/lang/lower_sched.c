/*
 * lower_sched.c: the scheduling statements of a partition beyond its
 * reservation (docs/scheduling.md): the market's `bid CLASS N [income N]
 * [deadline TIME];` (bids need `scheduler market;`; the executive hands
 * them to the runtime in MYCO_BIDS) and core loans, `cores MIN..MAX
 * elastic;`, with the system's admission with loans: the cores budget and
 * frame partitions reserve (myco_lang_reserved_cores) plus every elastic
 * minimum must fit the machine block's cores (E135), a maximum beyond
 * what the pool can lend is a warning (W003).
 * Not for: the auction (lib/rt/market.c), the arbiter (exec/loans.c).
 */
#include <stdio.h>
#include <string.h>

#include "check.h"

void myco__lower_part_bid(myco__lower_t *l)
{
	ctx_t *c = l->c;
	cur_t *k = &l->k;
	myco_partition_t *p = &l->bp->p;
	myco_bid_decl_t b = { .pos = l->x->pos };
	myco__arg_t *a = myco__want_ident(k, "a task class (the coroutine name)");
	if (!a)
		return;
	if (strlen(a->text) > 31) {
		ERR(c, "E132", a->pos, a->len, "task class names are at most 31 bytes",
		    "task class `%s` is too long", a->text);
		return;
	}
	uint64_t v;
	if (!myco__want_uint(k, "the bid per period", 1, 1000000000, &v))
		return;
	b.bid = v;
	b.income = v;
	while (!k->failed && myco__peek(k)) {
		myco__arg_t *w = myco__peek(k);
		if (w->kind == MYCO__A_IDENT && !strcmp(w->text, "income")) {
			k->i++;
			if (!myco__want_uint(k, "the income per period", 1, 1000000000, &v))
				return;
			b.income = v;
		} else if (w->kind == MYCO__A_IDENT && !strcmp(w->text, "deadline")) {
			k->i++;
			if (!myco__want_qty(k, true, "the relative deadline", &v))
				return;
			if (v == 0) {
				ERR(c, "E132", w->pos, w->len, "give a deadline above zero",
				    "a zero deadline");
				return;
			}
			b.deadline_ns = v;
		} else {
			break;
		}
	}
	if (!myco__want_end(k))
		return;
	for (size_t i = 0; i < p->nbids; i++)
		if (!strcmp(p->bids[i].task_class, a->text)) {
			ERR(c, "E021", a->pos, a->len, "one bid per task class",
			    "task class `%s` already bids (line %u)", a->text,
			    p->bids[i].pos.line);
			return;
		}
	if (p->nbids >= MYCO_LANG_BIDS_MAX) {
		ERR(c, "E132", a->pos, a->len, "a market loop has at most 16 task classes",
		    "too many bids");
		return;
	}
	b.task_class = myco__astr(c, a->text);
	myco_bid_decl_t *nv = myco__arena_alloc(&c->ma, (p->nbids + 1) * sizeof(*nv));
	if (!nv || !b.task_class) {
		c->oom = true;
		return;
	}
	if (p->nbids)
		memcpy(nv, p->bids, p->nbids * sizeof(*nv));
	nv[p->nbids] = b;
	p->bids = nv;
	p->nbids++;
}

void myco__lower_part_sched_done(ctx_t *c, myco_partition_t *p)
{
	if (p->nbids && (!p->scheduler || strcmp(p->scheduler, "market")))
		ERR(c, "E132", p->bids[0].pos, 3, "add `scheduler market;` to the partition",
		    "`bid` without the market scheduler (the scheduler is %s)",
		    p->scheduler ? p->scheduler : "the default");
}

void myco__lower_part_elastic(myco__lower_t *l)
{
	ctx_t *c = l->c;
	cur_t *k = &l->k;
	myco_partition_t *p = &l->bp->p;
	uint64_t lo, hi;
	myco__arg_t *la = myco__peek(k);
	if (!myco__want_uint(k, "the minimum number of cores", 0, UINT32_MAX, &lo))
		return;
	k->i++;                                 /* `..` */
	myco__arg_t *ha = myco__peek(k);
	if (!myco__want_uint(k, "the maximum number of cores", 0, UINT32_MAX, &hi))
		return;
	myco__arg_t *w = myco__peek(k);
	if (!w) {
		ERR(c, "E133", la->pos, ha->pos.col + ha->len - la->pos.col,
		    "a range of cores is a count for an elastic partition: add `elastic` "
		    "(or list core numbers: `cores 0, 1;`)",
		    "core range without `elastic`");
		return;
	}
	if (!myco__want_word(k, "elastic", "`elastic`") || !myco__want_end(k))
		return;
	if (lo == 0 || lo > hi || hi > MYCO_LANG_ELASTIC_MAX) {
		myco__arg_t *bad = lo == 0 || lo > hi ? la : ha;
		ERR(c, "E133", bad->pos, bad->len,
		    lo == 0 ? "an elastic partition always holds at least one core: `cores 1..N elastic;`"
		    : lo > hi ? "write the smaller number first"
			      : "an elastic partition has at most 64 cores",
		    "invalid elastic range %llu..%llu", (unsigned long long)lo,
		    (unsigned long long)hi);
		return;
	}
	p->elastic_min = (uint32_t)lo;
	p->elastic_max = (uint32_t)hi;
	p->elastic_pos = l->x->pos;
}

/* The cores budget and frame partitions reserve, over partitions laid out
 * `stride` bytes apart (the checker's and the model's arrays). */
static unsigned reserved_cores(const myco_partition_t *first, size_t stride, size_t n,
			       const myco_schedule_t *sc)
{
	uint64_t mask = 0;
	double free_util = 0;
	for (size_t i = 0; i < sc->ncores; i++)
		if (sc->cores[i].core < 64 && sc->cores[i].nwindows)
			mask |= 1ull << sc->cores[i].core;
	for (size_t i = 0; i < n; i++) {
		const myco_partition_t *p = (const myco_partition_t *)
			((const char *)first + i * stride);
		if (p->mode == MYCO_MODE_NONE)
			continue;
		if (p->ncores)
			mask |= p->core_mask;
		else if (p->mode == MYCO_MODE_BUDGET && p->period_ns)
			free_util += (double)p->runtime_ns / (double)p->period_ns;
	}
	unsigned whole = (unsigned)free_util;
	if (free_util - whole > 1e-9)
		whole++;                        /* rounded up */
	return (unsigned)__builtin_popcountll(mask) + whole;
}

unsigned myco_lang_reserved_cores(const myco_system_t *sys)
{
	if (!sys)
		return 0;
	return reserved_cores(sys->partitions, sizeof(*sys->partitions), sys->npartitions,
			      &sys->schedule);
}

void myco__check_elastic(ctx_t *c)
{
	const myco_system_t *sys = c->sys;
	uint64_t mins = 0;
	size_t nel = 0;
	for (size_t i = 0; i < c->nparts; i++) {
		const myco_partition_t *p = &c->parts[i].p;
		if (!p->elastic_max)
			continue;
		nel++;
		mins += p->elastic_min;
		if (p->mode != MYCO_MODE_NONE)
			ERR(c, "E134", p->elastic_pos, 5,
			    "an elastic partition borrows from the pool the reservations leave: "
			    "drop `budget`/`frame`, or the elastic range",
			    "partition `%s` is elastic and has a %s reservation", p->name,
			    myco_mode_name(p->mode));
	}
	if (!nel || !sys->machine_cores)
		return;
	unsigned reserved = reserved_cores(&c->parts[0].p, sizeof(c->parts[0]), c->nparts,
					   &c->sched);
	if (reserved + mins > sys->machine_cores) {
		const myco_partition_t *p = NULL;
		for (size_t i = 0; i < c->nparts && !p; i++)
			if (c->parts[i].p.elastic_max)
				p = &c->parts[i].p;
		ERR(c, "E135", p->elastic_pos, 5,
		    "lower the elastic minimums or the reservations, or declare more cores",
		    "the reservations (%u cores) and the elastic minimums (%llu) exceed the "
		    "machine's %u cores", reserved, (unsigned long long)mins, sys->machine_cores);
		return;
	}
	unsigned pool = sys->machine_cores - reserved - (unsigned)mins;
	for (size_t i = 0; i < c->nparts; i++) {
		const myco_partition_t *p = &c->parts[i].p;
		if (p->elastic_max && p->elastic_max - p->elastic_min > pool) {
			char h[200];
			snprintf(h, sizeof h, "the arbiter lends it at most %u; lower the maximum "
				 "to %u, or declare more cores", pool, p->elastic_min + pool);
			WARN(c, "W003", p->elastic_pos, 5, myco__arena_strdup(&c->pa, h),
			     "partition `%s` may borrow %u cores, the pool has %u", p->name,
			     p->elastic_max - p->elastic_min, pool);
		}
	}
}
