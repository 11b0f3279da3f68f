/*
 * layout.c: message types and enums.  Registers `message` and `enum`
 * declarations (file and system level), lowers their bodies (fields
 * `name: type[N] = ordinal;`, values `name = value;`), and computes each
 * message's fixed little-endian layout: fields in ordinal order at their
 * natural alignment, nested messages laid out first (depth-bounded, cycles
 * are errors), the size rounded up to the alignment.  Not for: channels and
 * partitions (lower.c).
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"


/* A type named like a built-in one (E021, reported). */
static bool builtin_name(ctx_t *c, const myco__arg_t *a)
{
	for (size_t t = 0; t < 13; t++)
		if (!strcmp(a->text, myco__ftype_names[t])) {
			ERR(c, "E021", a->pos, a->len, "pick a name that is not a field type",
			    "`%s` is a built-in type", a->text);
			return true;
		}
	return false;
}

/* `message Name { ... }`: register the name (the body: lower_fields). */
void myco__lower_message_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *s = l->x;
	myco__arg_t *a = myco__decl_name(c, s, "message Name { field: type = 1; ... }");
	if (!a)
		return;
	if (builtin_name(c, a))
		return;
	l->k.i = 2;
	if (!myco__args_done(&l->k))
		return;
	if (!s->block) {
		myco__want_block(c, s, "message Name { field: type = 1; ... }");
		return;
	}
	if (myco__htab_get(&c->henum, a->text) != MYCO_LANG_NONE) {
		ERR(c, "E021", a->pos, a->len, "messages and enums share one name space; rename one",
		    "`%s` is already an enum", a->text);
		return;
	}
	bmsg_t m = { 0 };
	m.st = s;
	m.m.name = myco__astr(c, a->text);
	m.m.pos = a->pos;
	m.bad = s->bad;
	if (myco__reg_name(c, &c->hmsg, c->nmsgs, a, "message type"))
		return;
	if (MYCO__PUSH(c->msgs, c->nmsgs, c->cmsgs, m))
		c->oom = true;
}

static const char *const enum_bases[] = { "u8", "u16", "u32" };

/* `enum Name: base { ... }`: register the name (the body: lower_enum). */
void myco__lower_enum_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *s = l->x;
	const char *usage = l->def->usage;
	myco__arg_t *a = myco__decl_name(c, s, usage);
	if (!a)
		return;
	cur_t *k = &l->k;
	k->i = 2;
	if (!myco__want_punct(k, ':'))
		return;
	int base = myco__want_choice(k, "enum base type", enum_bases, 3);
	if (base < 0 || !myco__args_done(k) || !myco__want_block(c, s, usage))
		return;
	if (builtin_name(c, a))
		return;
	if (myco__htab_get(&c->hmsg, a->text) != MYCO_LANG_NONE) {
		ERR(c, "E021", a->pos, a->len, "messages and enums share one name space; rename one",
		    "`%s` is already a message type", a->text);
		return;
	}
	benum_t e = { 0 };
	e.st = s;
	e.bad = s->bad;
	e.e.name = myco__astr(c, a->text);
	e.e.pos = a->pos;
	e.e.base = base == 0 ? MYCO_FT_U8 : base == 1 ? MYCO_FT_U16 : MYCO_FT_U32;
	e.e.size = base == 0 ? 1 : base == 1 ? 2 : 4;
	if (myco__reg_name(c, &c->henum, c->nenums, a, "enum"))
		return;
	if (MYCO__PUSH(c->enums, c->nenums, c->cenums, e))
		c->oom = true;
}

void myco__lower_enum(ctx_t *c, benum_t *e)
{
	myco__htab_t names = { 0 }, vals = { 0 };
	const char *usage = "name = value;   e.g. `idle = 1;`";
	uint64_t max = e->e.size == 1 ? 0xff : e->e.size == 2 ? 0xffff : 0xffffffffu;
	char key[24];
	for (size_t i = 0; i < e->st->nkids; i++) {
		myco__stmt_t *s = e->st->kids[i];
		if (s->bad) {
			e->bad = true;
			continue;
		}
		cur_t k = myco__cur_of(c, s, usage);
		myco__arg_t *n = &s->args[0];
		uint64_t v;
		if (myco__is_c_keyword(n->text)) {
			ERR(c, "E045", n->pos, n->len,
			    "names become C identifiers in generated code; pick another",
			    "`%s` is a reserved word", n->text);
			e->bad = true;
			continue;
		}
		if (!myco__want_punct(&k, '='))
			continue;
		myco__arg_t *va = myco__peek(&k);
		if (!myco__want_uint(&k, "the enum value", 0, max, &v) || !myco__want_end(&k)) {
			e->bad = true;
			continue;
		}
		uint32_t old;
		if (myco__htab_put(&names, n->text, (uint32_t)e->nv, &old) == -EEXIST) {
			ERR(c, "E021", n->pos, n->len, "rename one of them",
			    "duplicate value name `%s` in enum `%s`", n->text, e->e.name);
			e->bad = true;
			continue;
		}
		snprintf(key, sizeof(key), "%llu", (unsigned long long)v);
		const char *kk = myco__arena_strdup(&c->pa, key);
		if (kk && myco__htab_put(&vals, kk, (uint32_t)e->nv, &old) == -EEXIST) {
			char h[200];
			snprintf(h, sizeof(h), "`%s` already has value %llu", e->v[old].name,
				 (unsigned long long)v);
			ERR(c, "E046", va->pos, va->len, myco__arena_strdup(&c->pa, h),
			    "duplicate value %llu in enum `%s`", (unsigned long long)v, e->e.name);
			e->bad = true;
			continue;
		}
		myco_enum_value_t ev = { myco__astr(c, n->text), v, n->pos };
		if (MYCO__PUSH(e->v, e->nv, e->vcap, ev)) {
			c->oom = true;
			break;
		}
	}
	if (!e->nv && !e->bad) {
		ERR(c, "E044", e->e.pos, (uint32_t)strlen(e->e.name), "add at least one value",
		    "enum `%s` has no values", e->e.name);
		e->bad = true;
	}
	myco__htab_free(&names);
	myco__htab_free(&vals);
}

/* A number for `min` / `max` (non-negative: the language has no minus). */
static bool want_bound(cur_t *k, double *out, myco__arg_t **at)
{
	myco__arg_t *a = myco__peek(k);
	if (!a || a->kind != MYCO__A_NUM) {
		myco__expected(k, "a number");
		return false;
	}
	k->i++;
	*out = strtod(a->text, NULL);
	*at = a;
	return true;
}

/* JSON constraints after a field's ordinal: `required`, `nullable`,
 * `min N`, `max N`, `min_len N`, `pattern "re"`, in any order, each once.
 * Stops at the first other word (want_end then reports it).  Whether a
 * constraint fits the field's type is checked here too (E077). */
static bool field_constraints(ctx_t *c, cur_t *k, myco_field_t *f)
{
	static const char *const words[] = { "required", "nullable", "min", "max", "min_len",
					     "pattern" };
	static const uint32_t bits[] = { MYCO_FIELD_REQUIRED, MYCO_FIELD_NULLABLE, MYCO_FIELD_MIN,
					 MYCO_FIELD_MAX, MYCO_FIELD_MIN_LEN, MYCO_FIELD_PATTERN };
	myco__arg_t *mina = NULL, *maxa = NULL;
	for (;;) {
		myco__arg_t *w = myco__peek(k);
		size_t i = 0;
		if (!w || w->kind != MYCO__A_IDENT)
			break;
		while (i < 6 && strcmp(w->text, words[i]))
			i++;
		if (i == 6)
			break;
		k->i++;
		if (f->json & bits[i]) {
			k->failed = true;
			ERR(c, "E022", w->pos, w->len, "keep only one of them",
			    "`%s` is given more than once", w->text);
			return false;
		}
		f->json |= bits[i];
		bool num = f->type <= MYCO_FT_F64;
		bool text = f->type == MYCO_FT_STRING;
		bool fits = true;
		const char *kind = f->type == MYCO_FT_MSG ? "message" : f->type == MYCO_FT_ENUM ? "enum"
								   : myco_ftype_name(f->type);
		if (bits[i] == MYCO_FIELD_MIN || bits[i] == MYCO_FIELD_MAX) {
			double v;
			myco__arg_t *va;
			if (!want_bound(k, &v, &va))
				return false;
			if (bits[i] == MYCO_FIELD_MIN) {
				f->min = v;
				mina = va;
			} else {
				f->max = v;
				maxa = va;
			}
			fits = num;
			if (fits && f->type < MYCO_FT_F32 && strchr(va->text, '.')) {
				k->failed = true;
				ERR(c, "E077", va->pos, va->len, "bounds of integer fields are whole numbers",
				    "`%s %s` on integer field `%s`", w->text, va->text, f->name);
				return false;
			}
		} else if (bits[i] == MYCO_FIELD_MIN_LEN) {
			uint64_t v;
			if (!myco__want_uint(k, "min_len", 0, MYCO__MAX_MSG_SIZE, &v))
				return false;
			f->min_len = (uint32_t)v;
			fits = text || f->type == MYCO_FT_BYTES || f->array_len;
		} else if (bits[i] == MYCO_FIELD_PATTERN) {
			myco__arg_t *p = myco__want_str(k, "a regular expression in quotes");
			if (!p)
				return false;
			fits = text;
			if (fits) {
				regex_t re;
				int rc = regcomp(&re, p->text, REG_EXTENDED | REG_NOSUB);
				if (rc) {
					char e[160], h[200];
					regerror(rc, &re, e, sizeof(e));
					snprintf(h, sizeof(h), "POSIX extended regular expression: %s", e);
					k->failed = true;
					ERR(c, "E077", p->pos, p->len, myco__arena_strdup(&c->pa, h),
					    "invalid pattern for field `%s`", f->name);
					return false;
				}
				regfree(&re);
				f->pattern = myco__astr(c, p->text);
			}
		}
		if (!fits) {
			k->failed = true;
			ERR(c, "E077", w->pos, w->len,
			    "min and max bound numbers; min_len strings, bytes and arrays; pattern strings",
			    "`%s` does not apply to %s field `%s`", w->text, kind, f->name);
			return false;
		}
	}
	if (mina && maxa && f->min > f->max) {
		k->failed = true;
		ERR(c, "E077", maxa->pos, maxa->len, "the smallest allowed value comes first",
		    "max %s is below min %s in field `%s`", maxa->text, mina->text, f->name);
		return false;
	}
	return true;
}

void myco__lower_fields(ctx_t *c, bmsg_t *m)
{
	myco__htab_t names = { 0 }, ords = { 0 };
	char ordbuf[24];
	const char *usage = "name: type = ordinal;   e.g. `temp: f32 = 1;`, `tag: string[16] = 2;`";
	for (size_t i = 0; i < m->st->nkids; i++) {
		myco__stmt_t *s = m->st->kids[i];
		if (s->bad) {
			m->bad = true;
			continue;
		}
		cur_t k = myco__cur_of(c, s, usage);
		myco__arg_t *fname = &s->args[0];
		myco_field_t f = { 0 };
		f.name = myco__astr(c, fname->text);
		f.pos = fname->pos;
		f.msg = MYCO_LANG_NONE;
		if (myco__is_c_keyword(fname->text) || !strncmp(fname->text, "myco_pad", 8)) {
			ERR(c, "E045", fname->pos, fname->len,
			    "names become C identifiers in generated code; pick another",
			    "`%s` is a reserved word", fname->text);
			m->bad = true;
			continue;
		}
		if (!myco__want_punct(&k, ':')) {
			m->bad = true;
			continue;
		}
		myco__arg_t *ta = myco__want_ident(&k, "a field type");
		if (!ta) {
			m->bad = true;
			continue;
		}
		int t = -1;
		for (size_t j = 0; j < 13; j++)
			if (!strcmp(ta->text, myco__ftype_names[j]))
				t = (int)j;
		uint64_t n1 = 0, n2 = 0;
		f.enum_type = MYCO_LANG_NONE;
		uint32_t ei = t < 0 ? myco__htab_get(&c->henum, ta->text) : MYCO_LANG_NONE;
		if (ei != MYCO_LANG_NONE) {
			if (c->enums[ei].bad) {
				m->bad = true;
				continue;
			}
			f.type = MYCO_FT_ENUM;
			f.enum_type = ei;
			f.elem_size = c->enums[ei].e.size;
			f.align = c->enums[ei].e.size;
		} else if (t < 0) {
			uint32_t mi = myco__htab_get(&c->hmsg, ta->text);
			if (mi == MYCO_LANG_NONE) {
				const char *best = myco__closest(ta->text, myco__ftype_names, 13);
				if (!best)
					best = myco__closest(ta->text, c->ntype, c->nmsgs + c->nenums);
				char h[200];
				if (best)
					snprintf(h, sizeof(h), "did you mean `%s`?", best);
				else
					snprintf(h, sizeof(h), "types are u8..u64, i8..i64, f32, f64, bool, bytes[N], string[N], a message type or an enum");
				ERR(c, "E040", ta->pos, ta->len, myco__arena_strdup(&c->pa, h),
				    "unknown type `%s`", ta->text);
				m->bad = true;
				continue;
			}
			f.type = MYCO_FT_MSG;
			f.msg = mi;
		} else {
			f.type = (myco_ftype_t)t;
			f.elem_size = myco__ftype_size[t];
			f.align = myco__ftype_size[t];
		}
		if (f.type == MYCO_FT_BYTES || f.type == MYCO_FT_STRING) {
			if (!myco__at_punct(&k, '[')) {
				k.failed = true;
				ERR(c, "E040", ta->pos, ta->len, "give the length, e.g. `string[32]`",
				    "`%s` needs a length", ta->text);
				m->bad = true;
				continue;
			}
			k.i++;
			if (!myco__want_uint(&k, "the length", 1, MYCO__MAX_MSG_SIZE, &n1) || !myco__want_punct(&k, ']')) {
				m->bad = true;
				continue;
			}
			f.length = (uint32_t)n1;
			f.elem_size = (uint32_t)n1;
			f.align = 1;
		}
		if (myco__at_punct(&k, '[')) {
			k.i++;
			if (!myco__want_uint(&k, "the array length", 1, MYCO__MAX_MSG_SIZE, &n2) ||
			    !myco__want_punct(&k, ']')) {
				m->bad = true;
				continue;
			}
			f.array_len = (uint32_t)n2;
		}
		if (!myco__want_punct(&k, '=')) {
			m->bad = true;
			continue;
		}
		myco__arg_t *oa = myco__peek(&k);
		uint64_t ord;
		if (!myco__want_uint(&k, "the field's ordinal", 1, 65535, &ord) ||
		    !field_constraints(c, &k, &f) || !myco__want_end(&k)) {
			m->bad = true;
			continue;
		}
		f.ordinal = (uint32_t)ord;
		uint32_t old;
		if (myco__htab_put(&names, f.name, (uint32_t)m->nf, &old) == -EEXIST) {
			ERR(c, "E021", fname->pos, fname->len, "rename one of them",
			    "duplicate field `%s` in message `%s`", f.name, m->m.name);
			m->bad = true;
			continue;
		}
		snprintf(ordbuf, sizeof(ordbuf), "%u", f.ordinal);
		const char *okey = myco__arena_strdup(&c->pa, ordbuf);
		if (okey && myco__htab_put(&ords, okey, (uint32_t)m->nf, &old) == -EEXIST) {
			char h[200];
			snprintf(h, sizeof(h), "field `%s` already has ordinal %u; ordinals are unique",
				 m->f[old].name, f.ordinal);
			ERR(c, "E041", oa->pos, oa->len, myco__arena_strdup(&c->pa, h),
			    "duplicate ordinal %u in message `%s`", f.ordinal, m->m.name);
			m->bad = true;
			continue;
		}
		if (MYCO__PUSH(m->f, m->nf, m->fcap, f)) {
			c->oom = true;
			break;
		}
	}
	if (m->nf == 0 && !m->bad) {
		ERR(c, "E044", m->m.pos, (uint32_t)strlen(m->m.name), "add at least one field",
		    "message `%s` has no fields", m->m.name);
		m->bad = true;
	}
	myco__htab_free(&names);
	myco__htab_free(&ords);
}

static int field_ord_cmp(const void *a, const void *b)
{
	const myco_field_t *x = a, *y = b;
	return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* Compute the layout of message mi (and the messages it nests, depth-bounded). */
bool myco__layout(ctx_t *c, uint32_t mi, unsigned depth)
{
	bmsg_t *m = &c->msgs[mi];
	if (m->state == 2)
		return true;
	if (m->state == 3)
		return false;
	if (m->state == 1) {
		ERR(c, "E042", m->m.pos, (uint32_t)strlen(m->m.name),
		    "a message cannot contain itself, directly or through other messages",
		    "message `%s` contains itself", m->m.name);
		m->state = 3;
		return false;
	}
	if (depth > MYCO__MAX_MSG_NEST) {
		ERR(c, "E042", m->m.pos, (uint32_t)strlen(m->m.name), "nest messages at most 64 deep",
		    "messages nested too deeply");
		m->state = 3;
		return false;
	}
	if (m->bad) {
		m->state = 3;
		return false;
	}
	m->state = 1;
	if (m->nf)
		qsort(m->f, m->nf, sizeof(*m->f), field_ord_cmp);
	uint64_t off = 0, align = 1;
	bool ok = true;
	for (size_t i = 0; i < m->nf; i++) {
		myco_field_t *f = &m->f[i];
		if (f->type == MYCO_FT_MSG) {
			if (!myco__layout(c, f->msg, depth + 1)) {
				ok = false;
				continue;
			}
			f->elem_size = c->msgs[f->msg].m.size;
			f->align = c->msgs[f->msg].m.align;
		}
		uint64_t total = (uint64_t)f->elem_size * (f->array_len ? f->array_len : 1);
		off = (off + f->align - 1) / f->align * f->align;
		if (total > MYCO__MAX_MSG_SIZE || off + total > MYCO__MAX_MSG_SIZE) {
			ERR(c, "E043", f->pos, (uint32_t)strlen(f->name), "messages are at most 16 MiB",
			    "message `%s` is too large", m->m.name);
			ok = false;
			break;
		}
		f->offset = (uint32_t)off;
		f->size = (uint32_t)total;
		off += total;
		if (f->align > align)
			align = f->align;
	}
	if (!ok) {
		if (m->state == 1)
			m->state = 3;
		return false;
	}
	if (m->state == 3)
		return false;
	off = (off + align - 1) / align * align;
	m->m.size = (uint32_t)off;
	m->m.align = (uint32_t)align;
	m->state = 2;
	return true;
}

