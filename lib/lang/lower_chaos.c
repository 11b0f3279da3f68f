/*
 * lower_chaos.c: `chaos NAME { ... }` experiments in a system (docs/chaos.md):
 * the declaration (pass 1: the name), `seed`, `duration` and one handler for
 * every fault statement (pass 2, once channels and partitions are known,
 * so targets are checked with a "did you mean").  Fault statements share
 * one shape:
 *
 *     KIND TARGET [MAIN ARGUMENTS] [at T] [for T] [every T]
 *                 [probability N %] [seed N];
 *
 * where the main arguments depend on the kind (delay 2 ms jitter 1 ms,
 * corrupt flip 3, bandwidth 64 KiB, hog 50 %, skew 500 ms behind, ...).
 * The model is myco_chaos_t (myco/lang.h); the executive runs it
 * (exec/chaos.c).  Errors: E130 (unknown target), E131 (invalid fault).
 * Not for: running experiments (exec/), the control request's JSON form.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"

void myco__lower_chaos_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco__arg_t *a = myco__decl_open(l);
	if (!a || !myco__decl_block(l))
		return;
	for (size_t i = 0; i < c->nchaos; i++)
		if (!strcmp(c->chaos[i].x.name, a->text)) {
			char h[200];
			snprintf(h, sizeof(h), "the first is on line %u; give each a name of its own",
				 c->chaos[i].x.pos.line);
			ERR(c, "E021", a->pos, a->len, myco__arena_strdup(&c->pa, h),
			    "chaos experiment `%s` declared twice", a->text);
			return;
		}
	bchaos_t b = { 0 };
	b.st = x;
	b.bad = x->bad;
	b.x.name = myco__astr(c, a->text);
	b.x.pos = a->pos;
	if (MYCO__PUSH(c->chaos, c->nchaos, c->cchaos, b))
		c->oom = true;
}

void myco__lower_chaos_seed(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_uint(&l->k, "a seed (a whole number)", 0, UINT64_MAX, &v) &&
	    myco__want_end(&l->k))
		l->bx->x.seed = v;
}

void myco__lower_chaos_duration(myco__lower_t *l)
{
	uint64_t v;
	myco__arg_t *a = myco__peek(&l->k);
	if (!myco__want_qty(&l->k, true, "the duration", &v) || !myco__want_end(&l->k))
		return;
	if (v == 0) {
		ERR(l->c, "E131", a->pos, a->len, "give a duration above 0, or leave it out",
		    "chaos duration 0");
		return;
	}
	l->bx->x.duration_ns = v;
}

enum tgt { T_CHAN, T_PART, T_PART_ANY };

static const struct fk {
	const char *word;
	enum tgt t;
} fks[] = {
	{ "drop", T_CHAN }, { "delay", T_CHAN }, { "duplicate", T_CHAN },
	{ "reorder", T_CHAN }, { "corrupt", T_CHAN }, { "bandwidth", T_CHAN },
	{ "stall", T_CHAN }, { "slow", T_PART_ANY }, { "fdleak", T_PART_ANY },
	{ "kill", T_PART_ANY }, { "hang", T_PART_ANY }, { "hog", T_PART },
	{ "leak", T_PART }, { "skew", T_PART }, { "starve", T_PART },
	{ "slowsys", T_PART },
};

/* The system calls `slowsys` can slow (arg2: bit i = the i-th): ones a
 * partition may call without conditions (exec/box/seccomp.c), so trapping
 * them changes nothing but their timing. */
static const char *const slow_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "nanosleep",
	"clock_nanosleep", "openat", "close", "fsync", "fdatasync", "ppoll",
	"poll", "epoll_wait", "epoll_pwait", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "getpid", "sched_yield",
};
#define NSLOW (sizeof(slow_calls) / sizeof(slow_calls[0]))

const char *myco_chaos_syscall_name(unsigned i)
{
	return i < NSLOW ? slow_calls[i] : NULL;
}

static bool bad_fault(ctx_t *c, myco__arg_t *a, const char *hint, const char *msg,
		      const char *kind)
{
	ERR(c, "E131", a->pos, a->len, hint, msg, kind);
	return false;
}

/* A percentage N % in (0, max]; *out = N. */
static bool want_pct(cur_t *k, const char *kind, double max, double *out)
{
	myco__arg_t *a = myco__want_number(k, "a percentage such as 50 %", out);
	if (!a || !myco__want_punct(k, '%'))
		return false;
	if (!(*out > 0) || *out > max) {
		k->failed = true;
		char h[80];
		snprintf(h, sizeof(h), "a percentage above 0 and at most %.0f", max);
		return bad_fault(k->c, a, myco__arena_strdup(&k->c->pa, h),
				 "%s: percentage out of range", kind);
	}
	return true;
}

/* The main arguments of kind (after the target). */
static bool main_args(cur_t *k, const char *kind, myco_chaos_fault_t *f)
{
	ctx_t *c = k->c;
	myco__arg_t *a = myco__peek(k);
	uint64_t u;
	double d;

	if (!strcmp(kind, "delay")) {
		if (!myco__want_qty(k, true, "the delay", &u))
			return false;
		f->arg = (int64_t)u;
		a = myco__peek(k);
		if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "jitter")) {
			k->i++;
			if (!myco__want_qty(k, true, "the jitter", &f->arg2))
				return false;
		}
		if (!f->arg && !f->arg2)
			return bad_fault(c, a ? a : &k->s->args[0], "give a delay above 0",
					 "%s of 0", kind);
	} else if (!strcmp(kind, "hang")) {
		if (a && a->kind == MYCO__A_QTY) {
			if (!myco__want_qty(k, true, "how long it hangs", &u))
				return false;
			f->arg = (int64_t)u;
		}
	} else if (!strcmp(kind, "corrupt")) {
		f->arg = 1;
		if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "flip")) {
			k->i++;
			if (!myco__want_uint(k, "bits flipped per message (1..64)", 1, 64, &u))
				return false;
			f->arg = (int64_t)u;
		}
	} else if (!strcmp(kind, "bandwidth") || !strcmp(kind, "leak")) {
		if (!myco__want_qty(k, false, "bytes a second", &u))
			return false;
		if (!u || u > (uint64_t)INT64_MAX)
			return bad_fault(c, a, "give a rate above 0 bytes a second",
					 "%s rate out of range", kind);
		f->arg = (int64_t)u;
	} else if (!strcmp(kind, "slow")) {
		if (!myco__want_qty(k, true, "how long each call waits", &u))
			return false;
		if (!u)
			return bad_fault(c, a, "give a time above 0", "%s of 0", kind);
		f->arg = (int64_t)u;
	} else if (!strcmp(kind, "slowsys")) {
		if (!myco__want_qty(k, true, "how long each call waits", &u))
			return false;
		if (!u || u > 10000000000ull)
			return bad_fault(c, a, "give a time above 0 and at most 10 s",
					 "%s delay out of range", kind);
		f->arg = (int64_t)u;
		a = myco__peek(k);
		if (!a || a->kind != MYCO__A_IDENT || strcmp(a->text, "calls"))
			return bad_fault(c, a ? a : &k->s->args[0],
					 "name them: `calls read, write, nanosleep`",
					 "%s needs the system calls it slows", kind);
		k->i++;
		do {
			myco__arg_t *n = myco__want_ident(k, "a system call name");
			size_t i;
			if (!n)
				return false;
			for (i = 0; i < NSLOW && strcmp(slow_calls[i], n->text); i++)
				;
			if (i == NSLOW) {
				char h[400] = "one of:";
				for (size_t j = 0; j < NSLOW; j++) {
					strncat(h, " ", sizeof(h) - strlen(h) - 1);
					strncat(h, slow_calls[j], sizeof(h) - strlen(h) - 1);
				}
				k->failed = true;
				return bad_fault(c, n, myco__arena_strdup(&c->pa, h),
						 "%s: system call not slowed by chaos", kind);
			}
			f->arg2 |= UINT64_C(1) << i;
			if (!myco__at_punct(k, ','))
				break;
			k->i++;
		} while (true);
	} else if (!strcmp(kind, "fdleak")) {
		if (!myco__want_uint(k, "fds a second", 1, 1000000, &u))
			return false;
		f->arg = (int64_t)u;
	} else if (!strcmp(kind, "hog") || !strcmp(kind, "starve")) {
		if (!want_pct(k, kind, !strcmp(kind, "hog") ? 100 : 99, &d))
			return false;
		f->arg = (int64_t)d;
		if ((double)f->arg < d)
			f->arg++;      /* 2.5 % -> 3 %: whole percents */
	} else if (!strcmp(kind, "skew")) {
		if (!myco__want_qty(k, true, "the clock offset", &u))
			return false;
		if (u > (uint64_t)INT64_MAX)
			return bad_fault(c, a, "at most 292 years", "%s out of range", kind);
		f->arg = (int64_t)u;
		a = myco__peek(k);
		if (a && a->kind == MYCO__A_IDENT &&
		    (!strcmp(a->text, "behind") || !strcmp(a->text, "ahead"))) {
			k->i++;
			if (!strcmp(a->text, "behind"))
				f->arg = -f->arg;
		}
	}
	return true;
}

void myco__lower_chaos_fault(myco__lower_t *l)
{
	ctx_t *c = l->c;
	cur_t *k = &l->k;
	const char *kind = l->x->args[0].text;
	const struct fk *fk = NULL;
	myco_chaos_fault_t f = { .pos = l->x->pos, .probability = 1.0 };
	bool seen[5] = { false };
	static const char *const mods[] = { "at", "for", "every", "probability", "seed" };

	for (size_t i = 0; i < sizeof(fks) / sizeof(fks[0]); i++)
		if (!strcmp(fks[i].word, kind))
			fk = &fks[i];
	if (!fk)
		return;                 /* the table and this list agree */
	f.kind = myco__astr(c, kind);
	myco__arg_t *t = myco__want_ident(k, fk->t == T_CHAN ? "a channel name"
						: "a partition name or `any`");
	if (!t)
		return;
	if (fk->t == T_CHAN) {
		uint32_t ci = myco__htab_get(&c->hchan, t->text);
		if (ci == MYCO_LANG_NONE) {
			ERR(c, "E130", t->pos, t->len,
			    myco__mean(c, t->text, c->nchan, c->nchans, "name a declared channel"),
			    "unknown channel `%s` in chaos experiment `%s`", t->text, l->bx->x.name);
			l->bx->bad = true;
			return;
		}
		bool basic = !strcmp(kind, "drop") || !strcmp(kind, "corrupt") ||
			     !strcmp(kind, "stall");
		if (c->chans[ci].c.kind == MYCO_LANG_SAMPLE && !basic) {
			ERR(c, "E131", t->pos, t->len,
			    "a sample channel takes drop, corrupt and stall (at its readers)",
			    "`%s` is a sample channel: %s does not apply", t->text, kind);
			l->bx->bad = true;
			return;
		}
		f.target = c->chans[ci].c.name;
		myco__arg_t *rp = myco__peek(k);
		if (rp && rp->kind == MYCO__A_IDENT && !strcmp(rp->text, "replies")) {
			if (c->chans[ci].c.kind != MYCO_LANG_CALL ||
			    (!basic && strcmp(kind, "delay"))) {
				ERR(c, "E131", rp->pos, rp->len,
				    "`replies` follows a call channel, for drop, delay, corrupt and stall",
				    "%s: `replies` does not apply here", kind);
				l->bx->bad = true;
				return;
			}
			k->i++;
			f.replies = true;
		}
	} else if (!strcmp(t->text, "any")) {
		if (fk->t != T_PART_ANY) {
			ERR(c, "E131", t->pos, t->len, "name the partition",
			    "%s needs one partition, not `any`", kind);
			l->bx->bad = true;
			return;
		}
		f.target = "*";
	} else {
		uint32_t pi = myco__htab_get(&c->hpart, t->text);
		if (pi == MYCO_LANG_NONE) {
			ERR(c, "E130", t->pos, t->len,
			    myco__mean(c, t->text, c->npart, c->nparts,
				       fk->t == T_PART_ANY ? "name a declared partition, or `any`"
							   : "name a declared partition"),
			    "unknown partition `%s` in chaos experiment `%s`", t->text,
			    l->bx->x.name);
			l->bx->bad = true;
			return;
		}
		f.target = c->parts[pi].p.name;
	}
	if (!main_args(k, kind, &f)) {
		l->bx->bad = true;
		return;
	}
	while (!k->failed && k->i < k->s->nargs) {
		int m = myco__want_choice(k, "at, for, every, probability or seed", mods, 5);
		myco__arg_t *a = myco__peek(k);
		uint64_t u;
		double d;

		if (m < 0)
			break;
		if (seen[m]) {
			ERR(c, "E131", k->s->args[k->i - 1].pos, k->s->args[k->i - 1].len,
			    "give it once", "`%s` given twice", mods[m]);
			l->bx->bad = true;
			return;
		}
		seen[m] = true;
		switch (m) {
		case 0:
			if (!myco__want_qty(k, true, "the start", &f.at_ns))
				break;
			break;
		case 1:
			if (!myco__want_qty(k, true, "the duration", &f.for_ns))
				break;
			if (!f.for_ns) {
				bad_fault(c, a, "give a duration above 0, or leave `for` out",
					  "%s for 0", kind);
				l->bx->bad = true;
				return;
			}
			break;
		case 2:
			if (!myco__want_qty(k, true, "the period", &f.every_ns))
				break;
			if (strcmp(kind, "kill") && strcmp(kind, "hang")) {
				bad_fault(c, &k->s->args[k->i - 2],
					  "only kill and hang repeat; the others last from `at` for `for`",
					  "%s does not take `every`", kind);
				l->bx->bad = true;
				return;
			}
			if (f.every_ns < 10000000ull) {
				bad_fault(c, a, "the executive fires faults on its 10 ms tick",
					  "%s every less than 10 ms", kind);
				l->bx->bad = true;
				return;
			}
			break;
		case 3:
			if (!want_pct(k, kind, 100, &d))
				break;
			f.probability = d / 100.0;
			break;
		case 4:
			if (!myco__want_uint(k, "a seed (a whole number)", 0, UINT64_MAX, &u))
				break;
			f.seed = u;
			break;
		}
	}
	if (k->failed || !myco__want_end(k)) {
		l->bx->bad = true;
		return;
	}
	if (MYCO__PUSH(l->bx->f, l->bx->nf, l->bx->cf, f))
		c->oom = true;
}

static void lower_one(ctx_t *c, bchaos_t *b)
{
	myco__lower_t l = { .c = c, .bx = b };
	myco__lower_block(&l, b->st, MYCO__B_CHAOS, NULL, &b->bad);
	if (!b->nf && !b->bad)
		ERR(c, "E131", b->x.pos, (uint32_t)strlen(b->x.name),
		    "add a fault, e.g. `kill any every 100 ms;`",
		    "chaos experiment `%s` has no faults", b->x.name);
	myco_chaos_fault_t *fv = myco__arena_alloc(&c->ma, b->nf * sizeof(*fv) + 1);
	if (!fv)
		c->oom = true;
	else if (b->nf)
		memcpy(fv, b->f, b->nf * sizeof(*fv));
	b->x.faults = fv;
	b->x.nfaults = fv ? b->nf : 0;
	free(b->f);
	b->f = NULL;
}

void myco__lower_chaos_all(ctx_t *c)
{
	myco_chaos_t *xv;

	if (!c->nchaos)
		return;
	for (size_t i = 0; i < c->nchaos; i++)
		lower_one(c, &c->chaos[i]);
	xv = myco__arena_alloc(&c->ma, c->nchaos * sizeof(*xv));
	if (!xv) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < c->nchaos; i++)
		xv[i] = c->chaos[i].x;
	c->sys->chaos = xv;
	c->sys->nchaos = c->nchaos;
}
