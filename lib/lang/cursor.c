/*
 * cursor.c: how the checker reads statements.  The argument cursor (cur_t)
 * reads one statement's arguments against its production and reports what
 * it expected, with the statement's usage as the hint; the block walker
 * dispatches each statement of a block through the statement table
 * (stmts.c): unknown words (E010, with "did you mean"), statements given
 * twice (E022), then the entry's handler.  Not for: what any one statement
 * means (its handler does that).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A "did you mean `x`?" hint in the parse arena, or fallback. */
const char *myco__mean(ctx_t *c, const char *w, const char *const *cands, size_t n,
		       const char *fallback)
{
	if (c->d->stopped)
		return fallback;   /* nothing is printed any more */
	const char *best = myco__closest(w, cands, n);
	if (!best)
		return fallback;
	char buf[300];
	snprintf(buf, sizeof(buf), "did you mean `%s`?", best);
	const char *r = myco__arena_strdup(&c->pa, buf);
	return r ? r : fallback;
}

const char *myco__astr(ctx_t *c, const char *s)
{
	char *r = myco__arena_strdup(&c->ma, s);
	if (!r)
		c->oom = true;
	return r ? r : "";
}

/* ------------------------------------------------------------ arg cursor */

cur_t myco__cur_of(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	cur_t k = { c, s, 1, false, usage };
	return k;
}

static const char *arg_desc(const myco__arg_t *a, char *buf, size_t n)
{
	switch (a->kind) {
	case MYCO__A_IDENT: snprintf(buf, n, "`%s`", a->text); break;
	case MYCO__A_NUM: snprintf(buf, n, "number `%s`", a->text); break;
	case MYCO__A_QTY: snprintf(buf, n, "`%s %s`", a->text, a->unit); break;
	case MYCO__A_STR: snprintf(buf, n, "a string"); break;
	default: snprintf(buf, n, "`%c`", a->punct); break;
	}
	return buf;
}

static char hintbuf_dummy;

static const char *usage_hint(cur_t *k)
{
	if (!k->usage)
		return NULL;
	char buf[300];
	snprintf(buf, sizeof(buf), "write it as: %s", k->usage);
	const char *r = myco__arena_strdup(&k->c->pa, buf);
	return r ? r : &hintbuf_dummy;
}

/* Report "expected X" at the current argument or at the statement end. */
void myco__expected(cur_t *k, const char *what)
{
	char buf[160];
	if (k->failed)
		return;
	k->failed = true;
	if (k->s->bad)
		return;   /* the statement had a syntax error, already reported */
	if (k->i < k->s->nargs) {
		myco__arg_t *a = &k->s->args[k->i];
		ERR(k->c, "E011", a->pos, a->len, usage_hint(k), "expected %s, found %s",
		    what, arg_desc(a, buf, sizeof(buf)));
	} else {
		myco_pos_t p = k->s->end;
		if (!k->s->block && k->s->nargs) {
			myco__arg_t *a = &k->s->args[k->s->nargs - 1];
			p = a->pos;
			p.col += a->len;
		}
		ERR(k->c, "E011", p, 1, usage_hint(k), "expected %s", what);
	}
}

myco__arg_t *myco__peek(cur_t *k)
{
	return k->i < k->s->nargs ? &k->s->args[k->i] : NULL;
}

bool myco__at_punct(cur_t *k, char ch)
{
	myco__arg_t *a = myco__peek(k);
	return a && a->kind == MYCO__A_PUNCT && a->punct == ch;
}

bool myco__want_punct(cur_t *k, char ch)
{
	if (k->failed)
		return false;
	if (myco__at_punct(k, ch)) {
		k->i++;
		return true;
	}
	char w[8] = { '`', ch, '`', 0 };
	myco__expected(k, w);
	return false;
}

myco__arg_t *myco__want_ident(cur_t *k, const char *what)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = myco__peek(k);
	if (a && a->kind == MYCO__A_IDENT) {
		k->i++;
		return a;
	}
	myco__expected(k, what);
	return NULL;
}

/* The keyword `word` (e.g. `per` in `budget 2 ms per 10 ms`); what names it
 * in the diagnostic. */
bool myco__want_word(cur_t *k, const char *word, const char *what)
{
	if (k->failed)
		return false;
	myco__arg_t *a = myco__peek(k);
	if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, word)) {
		k->i++;
		return true;
	}
	myco__expected(k, what);
	return false;
}

myco__arg_t *myco__want_str(cur_t *k, const char *what)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = myco__peek(k);
	if (a && a->kind == MYCO__A_STR) {
		k->i++;
		return a;
	}
	myco__expected(k, what);
	return NULL;
}

myco__arg_t *myco__want_number(cur_t *k, const char *what, double *out)
{
	if (k->failed)
		return NULL;
	myco__arg_t *a = myco__peek(k);
	char *end;
	double v;
	if (!a || a->kind != MYCO__A_NUM) {
		myco__expected(k, what);
		return NULL;
	}
	v = strtod(a->text, &end);
	if (*end || !isfinite(v)) {
		myco__expected(k, what);
		return NULL;
	}
	k->i++;
	*out = v;
	return a;
}

/* A bare whole number in [lo, hi]. */
bool myco__want_uint(cur_t *k, const char *what, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (k->failed)
		return false;
	myco__arg_t *a = myco__peek(k);
	if (!a || a->kind != MYCO__A_NUM) {
		if (a && a->kind == MYCO__A_QTY) {
			k->failed = true;
			ERR(k->c, "E030", a->pos, a->len, "write a plain number here",
			    "%s takes no unit", what);
			return false;
		}
		myco__expected(k, what);
		return false;
	}
	k->i++;
	uint64_t v;
	int rc = myco__num_scale(a->text, 1, &v);
	if (rc == -EDOM) {
		k->failed = true;
		ERR(k->c, "E032", a->pos, a->len, "write a whole number", "%s must be a whole number", what);
		return false;
	}
	if (rc || v < lo || v > hi) {
		k->failed = true;
		char h[96];
		snprintf(h, sizeof(h), "allowed range is %llu to %llu",
			 (unsigned long long)lo, (unsigned long long)hi);
		const char *w = what;
		if (!strncmp(w, "a ", 2))
			w += 2;
		else if (!strncmp(w, "the ", 4))
			w += 4;
		ERR(k->c, rc ? "E031" : "E032", a->pos, a->len, myco__arena_strdup(&k->c->pa, h),
		    "%s %s is out of range", w, a->text);
		return false;
	}
	*out = v;
	return true;
}

/* A quantity with a time (is_time) or size unit, converted. */
bool myco__want_qty(cur_t *k, bool is_time, const char *what, uint64_t *out)
{
	if (k->failed)
		return false;
	myco__arg_t *a = myco__peek(k);
	const char *hint = is_time ? "time units are ns, us, ms and s"
				   : "size units are B, KiB, MiB and GiB";
	if (a && a->kind == MYCO__A_NUM) {
		myco__arg_t *u = k->i + 1 < k->s->nargs ? &k->s->args[k->i + 1] : NULL;
		k->failed = true;
		if (u && u->kind == MYCO__A_IDENT && u->pos.line == a->pos.line) {
			static const char *const tu[] = { "ns", "us", "ms", "s" };
			static const char *const su[] = { "B", "KiB", "MiB", "GiB" };
			ERR(k->c, "E030", u->pos, u->len,
			    myco__mean(k->c, u->text, is_time ? tu : su, 4, hint), "unknown unit `%s`", u->text);
			return false;
		}
		ERR(k->c, "E030", a->pos, a->len, hint, "%s needs a unit", what);
		return false;
	}
	if (!a || a->kind != MYCO__A_QTY) {
		if (a && a->kind == MYCO__A_IDENT) {
			static const char *const units[] = { "ns", "us", "ms", "s", "B", "KiB",
							     "MiB", "GiB" };
			const char *b = myco__closest(a->text, units, 8);
			if (b) {
				k->failed = true;
				ERR(k->c, "E030", a->pos, a->len, hint, "unknown unit `%s`", a->text);
				return false;
			}
		}
		myco__expected(k, is_time ? "a time such as `10 ms`" : "a size such as `64 MiB`");
		return false;
	}
	uint64_t mul;
	bool ok = is_time ? myco__is_time_unit(a->unit, &mul) : myco__is_size_unit(a->unit, &mul);
	if (!ok) {
		k->failed = true;
		ERR(k->c, "E030", a->pos, a->len, hint, "%s must be a %s, not a %s", what,
		    is_time ? "time" : "size", is_time ? "size" : "time");
		return false;
	}
	k->i++;
	int rc = myco__num_scale(a->text, mul, out);
	if (rc == -ERANGE) {
		k->failed = true;
		ERR(k->c, "E031", a->pos, a->len, "values must fit in 64 bits after conversion",
		    "%s %s %s overflows", what, a->text, a->unit);
		return false;
	}
	if (rc) {
		k->failed = true;
		ERR(k->c, "E031", a->pos, a->len,
		    is_time ? "use a smaller unit, e.g. `1500 us` for 1.5 ms"
			    : "use a smaller unit so the value is whole bytes",
		    "%s %s %s is not a whole number of %s", what, a->text, a->unit,
		    is_time ? "nanoseconds" : "bytes");
		return false;
	}
	return true;
}

/* No arguments left (a block may follow). */
bool myco__args_done(cur_t *k)
{
	if (k->failed)
		return false;
	if (k->i < k->s->nargs) {
		char buf[160];
		myco__arg_t *a = &k->s->args[k->i];
		k->failed = true;
		ERR(k->c, "E012", a->pos, a->len, usage_hint(k), "unexpected %s",
		    arg_desc(a, buf, sizeof(buf)));
		return false;
	}
	return true;
}

/* No arguments left and no block: a simple statement is complete. */
bool myco__want_end(cur_t *k)
{
	if (!myco__args_done(k))
		return false;
	if (k->s->block) {
		k->failed = true;
		ERR(k->c, "E013", k->s->pos, (uint32_t)strlen(k->s->args[0].text), usage_hint(k),
		    "`%s` takes no { } block", k->s->args[0].text);
		return false;
	}
	return true;
}

bool myco__want_block(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	if (s->block)
		return true;
	char buf[300];
	snprintf(buf, sizeof(buf), "write it as: %s", usage);
	ERR(c, "E013", s->pos, (uint32_t)strlen(s->args[0].text),
	    myco__arena_strdup(&c->pa, buf), "`%s` needs a { } block", s->args[0].text);
	return false;
}

/* An identifier from a fixed set; index or -1 (reported). */
int myco__want_choice(cur_t *k, const char *what, const char *const *set, size_t n)
{
	myco__arg_t *a = myco__want_ident(k, what);
	if (!a)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a->text, set[i]))
			return (int)i;
	char buf[256] = "one of:";
	for (size_t i = 0; i < n; i++) {
		strncat(buf, " ", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, set[i], sizeof(buf) - strlen(buf) - 1);
	}
	k->failed = true;
	ERR(k->c, "E011", a->pos, a->len, myco__mean(k->c, a->text, set, n, myco__arena_strdup(&k->c->pa, buf)),
	    "unknown %s `%s`", what, a->text);
	return -1;
}

/* Unknown statement word in a block. */
void myco__unknown_stmt(ctx_t *c, myco__stmt_t *s, myco__blk_t blk)
{
	const char *kw[64];
	size_t n = myco__stmt_words(blk, kw, 64);
	const char *where = myco__blk_name(blk);
	char buf[300] = "";
	if (n > 64)
		n = 64;
	if (n) {
		snprintf(buf, sizeof(buf), "%s allows:", where);
		for (size_t i = 0; i < n; i++) {
			strncat(buf, " ", sizeof(buf) - strlen(buf) - 1);
			strncat(buf, kw[i], sizeof(buf) - strlen(buf) - 1);
		}
	}
	const char *hint = n ? myco__arena_strdup(&c->pa, buf) : NULL;
	const char *best = c->d->stopped ? NULL : myco__stmt_suggest(blk, s->args[0].text);
	if (best) {
		snprintf(buf, sizeof(buf), "did you mean `%s`?", best);
		const char *r = myco__arena_strdup(&c->pa, buf);
		if (r)
			hint = r;
	}
	ERR(c, "E010", s->pos, (uint32_t)strlen(s->args[0].text), hint,
	    "unknown statement `%s` in %s", s->args[0].text, where);
}

/* Duplicate-statement guard: one bit per table entry. */
static bool once(myco__lower_t *l, myco__stmt_t *s, size_t bit)
{
	if (l->seen[bit / 64] & (1ull << (bit % 64))) {
		ERR(l->c, "E022", s->pos, (uint32_t)strlen(s->args[0].text), "keep only one of them",
		    "`%s` is given more than once", s->args[0].text);
		return false;
	}
	l->seen[bit / 64] |= 1ull << (bit % 64);
	return true;
}

void myco__lower_block(myco__lower_t *proto, myco__stmt_t *s, myco__blk_t blk,
		       bool (*admit)(myco__lower_t *l), bool *bad)
{
	ctx_t *c = proto->c;
	memset(proto->seen, 0, sizeof(proto->seen));
	for (size_t i = 0; i < s->nkids && !c->oom && !c->d->stopped; i++) {
		myco__stmt_t *x = s->kids[i];
		const myco__stmt_def_t *def = myco__stmt_find(blk, x->args[0].text);
		if (x->bad && !(def && (def->flags & MYCO__S_EVEN_BAD))) {
			if (bad)
				*bad = true;
			continue;
		}
		if (!def) {
			myco__unknown_stmt(c, x, blk);
			if (bad)
				*bad = true;
			continue;
		}
		if (!(def->flags & MYCO__S_REPEAT) && !once(proto, x, myco__stmt_index(def)))
			continue;
		myco__lower_t l = *proto;
		l.x = x;
		l.def = def;
		l.k = myco__cur_of(c, x, def->usage);
		if (admit && !admit(&l)) {
			if (bad)
				*bad = true;
			continue;
		}
		def->lower(&l);
	}
}

/* `word name ... { ... }`: the name, with the cursor left after it for the
 * arguments in between; NULL (reported) when it is missing. */
myco__arg_t *myco__decl_open(myco__lower_t *l)
{
	myco__arg_t *a = myco__decl_name(l->c, l->x, l->def->usage);
	l->k.i = 2;
	return a;
}

/* ... then no more arguments, and the block. */
bool myco__decl_block(myco__lower_t *l)
{
	return myco__args_done(&l->k) && myco__want_block(l->c, l->x, l->def->usage);
}

/* Name of a declaration (args[1]); reports and returns NULL when missing. */
myco__arg_t *myco__decl_name(ctx_t *c, myco__stmt_t *s, const char *usage)
{
	cur_t k = myco__cur_of(c, s, usage);
	char what[64];
	snprintf(what, sizeof(what), "a name for the %s", s->args[0].text);
	myco__arg_t *a = myco__want_ident(&k, what);
	if (a && myco__is_c_keyword(a->text)) {
		ERR(c, "E045", a->pos, a->len, "names become C identifiers in generated code; pick another",
		    "`%s` is a reserved word", a->text);
	}
	return a;
}

/* -------------------------------------------------------------- registries */

int myco__reg_name(ctx_t *c, myco__htab_t *h, size_t idx, myco__arg_t *a, const char *kind)
{
	uint32_t old;
	int rc = myco__htab_put(h, a->text, (uint32_t)idx, &old);
	if (rc == -EEXIST) {
		ERR(c, "E021", a->pos, a->len, "rename one of them", "duplicate %s `%s`", kind, a->text);
		return -EEXIST;
	}
	if (rc)
		c->oom = true;
	return rc;
}
