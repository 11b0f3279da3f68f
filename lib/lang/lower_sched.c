/*
 * lower_sched.c: the market statement of a partition, `bid CLASS N
 * [income N] [deadline TIME];` (docs/scheduling.md), and its check after
 * the partition's block: bids need `scheduler market;`.  The executive
 * hands the bids to the partition's runtime in MYCO_BIDS.
 * Not for: the auction (lib/rt/market.c).
 */
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
