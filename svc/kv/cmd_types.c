/*
 * cmd_types.c: the container types' commands: lists (with the blocking
 * BLPOP/BRPOP), hashes, sets and sorted sets, with Redis 7.0's replies and
 * error texts.  An emptied container is deleted, as in Redis.  Random picks
 * (SPOP, SRANDMEMBER) and blocking pops log what they did (SREM, LPOP) so
 * that WAL replay is deterministic.  Not for: strings and keys
 * (cmd_keys.c).
 */
#include "kv_int.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kv_parse_ld(const char *p, size_t len, long double *out);
int kv_fmt_ld(char *buf, size_t cap, long double v);

static void oom(kv_client_t *c)
{
	r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
}

/* The container at key, created if absent and create is set; NULL with a
 * reply already sent on WRONGTYPE or OOM, NULL without a reply if absent. */
static kobj_t *get_or_make(kv_client_t *c, const kv_arg_t *key, int type, bool create,
			   bool *err)
{
	bool wrong;
	kobj_t *o = db_get_type(c, key, type, &wrong);
	*err = wrong;
	if (wrong || o || !create)
		return o;
	o = obj_new(type);
	if (!o || db_set(c, key, o) < 0) {
		obj_free(o);
		oom(c);
		*err = true;
		return NULL;
	}
	c->dirty--;   /* creation alone is not a change; the caller counts */
	return o;
}

static bool obj_empty(const kobj_t *o)
{
	switch (o->type) {
	case T_LIST: return o->l->len == 0;
	case T_HASH: return o->h->n == 0;
	case T_SET: return o->set->n == 0;
	case T_ZSET: return o->z->n == 0;
	}
	return false;
}

static void drop_if_empty(kv_client_t *c, const kv_arg_t *key, kobj_t *o)
{
	if (o && obj_empty(o)) {
		long d = c->dirty;
		db_del(c, key);
		c->dirty = d;
	}
}

/* Normalise a [start, stop] range over len elements; false if empty. */
static bool norm_range(long long *s, long long *e, long long len)
{
	if (*s < 0)
		*s += len;
	if (*e < 0)
		*e += len;
	if (*s < 0)
		*s = 0;
	if (*s > *e || *s >= len)
		return false;
	if (*e >= len)
		*e = len - 1;
	return true;
}

/* ------------------------------------------------------------------ */
/* Lists                                                               */
/* ------------------------------------------------------------------ */

KV_CMD(cmd_push);
KV_CMD(cmd_push)
{
	bool left = (argv[0].p[0] | 32) == 'l';
	bool onlyx = argv[0].len == 6;   /* LPUSHX/RPUSHX */
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_LIST, !onlyx, &err);
	int i;

	if (err)
		return;
	if (!o) {
		r_int(c, 0);
		return;
	}
	for (i = 2; i < argc; i++) {
		ks_t *s = ks_new(argv[i].p, argv[i].len);
		if (!s || list_push(o->l, s, left) < 0) {
			ks_free(s);
			oom(c);
			drop_if_empty(c, &argv[1], o);
			return;
		}
	}
	kv_modified(c, &argv[1]);
	kv_wake_blocked(c->srv);
	r_int(c, (long long)o->l->len);
}

KV_CMD(cmd_pop);
KV_CMD(cmd_pop)
{
	bool left = (argv[0].p[0] | 32) == 'l';
	bool err;
	long long count = 1, i;
	kobj_t *o;

	if (argc > 3) {
		r_arity(c, left ? "lpop" : "rpop");
		return;
	}
	if (argc == 3) {
		if (arg_ll(&argv[2], &count) < 0 || count < 0) {
			r_err(c, "ERR value is out of range, must be positive");
			return;
		}
	}
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o) {
		if (argc == 3)
			r_nullarr(c);
		else
			r_null(c);
		return;
	}
	if (argc == 3) {
		if ((size_t)count > o->l->len)
			count = (long long)o->l->len;
		r_arr(c, (long)count);
	}
	for (i = 0; i < count; i++) {
		ks_t *s = list_pop(o->l, left);
		r_bulk(c, s->d, s->len);
		ks_free(s);
	}
	if (count)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
}

KV_CMD(cmd_llen);
KV_CMD(cmd_llen)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_LIST, false, &err);
	(void)argc;
	if (!err)
		r_int(c, o ? (long long)o->l->len : 0);
}

KV_CMD(cmd_lrange);
KV_CMD(cmd_lrange)
{
	long long s, e, i;
	bool err;
	kobj_t *o;

	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &s) < 0 || arg_ll_or_reply(c, &argv[3], &e) < 0)
		return;
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o || !norm_range(&s, &e, (long long)o->l->len)) {
		r_arr(c, 0);
		return;
	}
	r_arr(c, (long)(e - s + 1));
	for (i = s; i <= e; i++) {
		ks_t *x = list_at(o->l, (size_t)i);
		r_bulk(c, x->d, x->len);
	}
}

KV_CMD(cmd_lindex);
KV_CMD(cmd_lindex)
{
	long long i;
	bool err;
	kobj_t *o;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &i) < 0)
		return;
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (o && i < 0)
		i += (long long)o->l->len;
	if (!o || i < 0 || i >= (long long)o->l->len) {
		r_null(c);
		return;
	}
	r_bulk(c, list_at(o->l, (size_t)i)->d, list_at(o->l, (size_t)i)->len);
}

KV_CMD(cmd_lset);
KV_CMD(cmd_lset)
{
	long long i;
	bool err;
	kobj_t *o;
	ks_t *s;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &i) < 0)
		return;
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o) {
		r_err(c, "ERR no such key");
		return;
	}
	if (i < 0)
		i += (long long)o->l->len;
	if (i < 0 || i >= (long long)o->l->len) {
		r_err(c, "ERR index out of range");
		return;
	}
	s = ks_new(argv[3].p, argv[3].len);
	if (!s) {
		oom(c);
		return;
	}
	ks_free(list_at(o->l, (size_t)i));
	list_set(o->l, (size_t)i, s);
	kv_modified(c, &argv[1]);
	r_ok(c);
}

static bool eq(const ks_t *s, const kv_arg_t *a)
{
	return s->len == a->len && memcmp(s->d, a->p, a->len) == 0;
}

KV_CMD(cmd_lrem);
KV_CMD(cmd_lrem)
{
	long long cnt, removed = 0;
	bool err;
	kobj_t *o;
	size_t i;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &cnt) < 0)
		return;
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o) {
		r_int(c, 0);
		return;
	}
	if (cnt >= 0) {
		for (i = 0; i < o->l->len;) {
			ks_t *s = list_at(o->l, i);
			if (eq(s, &argv[3]) && (cnt == 0 || removed < cnt)) {
				ks_free(s);
				list_remove(o->l, i);
				removed++;
			} else {
				i++;
			}
		}
	} else {
		for (i = o->l->len; i-- > 0;) {
			ks_t *s = list_at(o->l, i);
			if (eq(s, &argv[3]) && removed < -cnt) {
				ks_free(s);
				list_remove(o->l, i);
				removed++;
			}
		}
	}
	if (removed)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_int(c, removed);
}

KV_CMD(cmd_ltrim);
KV_CMD(cmd_ltrim)
{
	long long s, e, len;
	bool err;
	kobj_t *o;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &s) < 0 || arg_ll_or_reply(c, &argv[3], &e) < 0)
		return;
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o) {
		r_ok(c);
		return;
	}
	len = (long long)o->l->len;
	if (!norm_range(&s, &e, len)) {
		s = len;
		e = len - 1;
	}
	while ((long long)o->l->len > e + 1)
		ks_free(list_pop(o->l, false));
	while (s-- > 0)
		ks_free(list_pop(o->l, true));
	kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_ok(c);
}

KV_CMD(cmd_linsert);
KV_CMD(cmd_linsert)
{
	bool before, err;
	kobj_t *o;
	size_t i;
	(void)argc;
	if (arg_is(&argv[2], "BEFORE"))
		before = true;
	else if (arg_is(&argv[2], "AFTER"))
		before = false;
	else {
		r_syntax(c);
		return;
	}
	o = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!o) {
		r_int(c, 0);
		return;
	}
	for (i = 0; i < o->l->len; i++) {
		if (eq(list_at(o->l, i), &argv[3])) {
			ks_t *s = ks_new(argv[4].p, argv[4].len);
			if (!s || list_insert(o->l, before ? i : i + 1, s) < 0) {
				ks_free(s);
				oom(c);
				return;
			}
			kv_modified(c, &argv[1]);
			r_int(c, (long long)o->l->len);
			return;
		}
	}
	r_int(c, -1);
}

/* LMOVE src dst LEFT|RIGHT LEFT|RIGHT, RPOPLPUSH src dst. */
KV_CMD(cmd_lmove);
KV_CMD(cmd_lmove)
{
	bool from_left = false, to_left = true, err;
	kobj_t *s, *d;
	ks_t *v;

	if (argc == 5) {
		if (arg_is(&argv[3], "LEFT"))
			from_left = true;
		else if (!arg_is(&argv[3], "RIGHT")) {
			r_syntax(c);
			return;
		}
		if (arg_is(&argv[4], "RIGHT"))
			to_left = false;
		else if (!arg_is(&argv[4], "LEFT")) {
			r_syntax(c);
			return;
		}
	}
	s = get_or_make(c, &argv[1], T_LIST, false, &err);
	if (err)
		return;
	if (!s) {
		r_null(c);
		return;
	}
	d = get_or_make(c, &argv[2], T_LIST, false, &err);
	if (err)
		return;
	if (!d) {
		d = get_or_make(c, &argv[2], T_LIST, true, &err);
		if (err)
			return;
	}
	/* d may be s (same key): pop first, then push. */
	v = list_pop(s->l, from_left);
	r_bulk(c, v->d, v->len);
	if (list_push(d->l, v, to_left) < 0) {
		ks_free(v);
	}
	kv_modified(c, &argv[1]);
	kv_modified(c, &argv[2]);
	kv_wake_blocked(c->srv);
	drop_if_empty(c, &argv[1], s);
	if (argc == 3)
		kv_log_cmd(c, "LMOVE %s %s RIGHT LEFT", &argv[1], &argv[2]);
}

/* BLPOP/BRPOP key... timeout.  Blocks through c->want_block: the network
 * layer waits for a push (or the timeout) and runs the command again. */
KV_CMD(cmd_bpop);
KV_CMD(cmd_bpop)
{
	bool left = (argv[0].p[1] | 32) == 'l';
	double t;
	int i;
	char *end, tmp[64];

	if (argv[argc - 1].len >= sizeof(tmp)) {
		r_err(c, "ERR timeout is not a float or out of range");
		return;
	}
	memcpy(tmp, argv[argc - 1].p, argv[argc - 1].len);
	tmp[argv[argc - 1].len] = 0;
	t = strtod(tmp, &end);
	if (*end || end == tmp || isnan(t) || isinf(t)) {
		r_err(c, "ERR timeout is not a float or out of range");
		return;
	}
	if (t < 0) {
		r_err(c, "ERR timeout is negative");
		return;
	}
	for (i = 1; i < argc - 1; i++) {
		bool err;
		kobj_t *o = get_or_make(c, &argv[i], T_LIST, false, &err);
		ks_t *v;
		if (err)
			return;
		if (!o)
			continue;
		v = list_pop(o->l, left);
		r_arr(c, 2);
		r_bulk(c, argv[i].p, argv[i].len);
		r_bulk(c, v->d, v->len);
		ks_free(v);
		kv_modified(c, &argv[i]);
		kv_log_cmd(c, left ? "LPOP %s" : "RPOP %s", &argv[i]);
		drop_if_empty(c, &argv[i], o);
		c->want_block = false;
		return;
	}
	if (c->in_exec || kv_replaying(c)) {
		r_nullarr(c);
		return;
	}
	c->want_block = true;
	c->block_timeout = t;
}

/* ------------------------------------------------------------------ */
/* Hashes                                                              */
/* ------------------------------------------------------------------ */

static int hset1(kobj_t *o, const kv_arg_t *f, const kv_arg_t *v, bool *added)
{
	bool isnew;
	de_t *e = dict_upsert(o->h, f->p, f->len, &isnew);
	ks_t *s;
	if (!e)
		return -ENOMEM;
	s = ks_new(v->p, v->len);
	if (!s) {
		if (isnew) {
			e = dict_unlink(o->h, f->p, f->len);
			dict_free_entry(e);
		}
		return -ENOMEM;
	}
	if (!isnew)
		ks_free(e->v);
	e->v = s;
	*added = isnew;
	return 0;
}

KV_CMD(cmd_hset);
KV_CMD(cmd_hset)
{
	bool err, hmset = argv[0].len == 5;
	kobj_t *o;
	long long added = 0;
	int i;

	if (argc % 2) {
		r_arity(c, hmset ? "hmset" : "hset");
		return;
	}
	o = get_or_make(c, &argv[1], T_HASH, true, &err);
	if (err)
		return;
	for (i = 2; i < argc; i += 2) {
		bool a;
		if (hset1(o, &argv[i], &argv[i + 1], &a) < 0) {
			oom(c);
			drop_if_empty(c, &argv[1], o);
			return;
		}
		added += a;
	}
	kv_modified(c, &argv[1]);
	if (hmset)
		r_ok(c);
	else
		r_int(c, added);
}

KV_CMD(cmd_hsetnx);
KV_CMD(cmd_hsetnx)
{
	bool err, a;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, true, &err);
	(void)argc;
	if (err)
		return;
	if (dict_find(o->h, argv[2].p, argv[2].len)) {
		r_int(c, 0);
		return;
	}
	if (hset1(o, &argv[2], &argv[3], &a) < 0) {
		oom(c);
		drop_if_empty(c, &argv[1], o);
		return;
	}
	kv_modified(c, &argv[1]);
	r_int(c, 1);
}

KV_CMD(cmd_hget);
KV_CMD(cmd_hget)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	de_t *e;
	(void)argc;
	if (err)
		return;
	e = o ? dict_find(o->h, argv[2].p, argv[2].len) : NULL;
	if (!e)
		r_null(c);
	else
		r_bulk(c, ((ks_t *)e->v)->d, ((ks_t *)e->v)->len);
}

KV_CMD(cmd_hmget);
KV_CMD(cmd_hmget)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	int i;
	if (err)
		return;
	r_arr(c, argc - 2);
	for (i = 2; i < argc; i++) {
		de_t *e = o ? dict_find(o->h, argv[i].p, argv[i].len) : NULL;
		if (!e)
			r_null(c);
		else
			r_bulk(c, ((ks_t *)e->v)->d, ((ks_t *)e->v)->len);
	}
}

KV_CMD(cmd_hdel);
KV_CMD(cmd_hdel)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	long long n = 0;
	int i;
	if (err)
		return;
	for (i = 2; o && i < argc; i++) {
		de_t *e = dict_unlink(o->h, argv[i].p, argv[i].len);
		if (e) {
			ks_free(e->v);
			dict_free_entry(e);
			n++;
		}
	}
	if (n)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_int(c, n);
}

KV_CMD(cmd_hlen);
KV_CMD(cmd_hlen)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	(void)argc;
	if (!err)
		r_int(c, o ? (long long)o->h->n : 0);
}

KV_CMD(cmd_hexists);
KV_CMD(cmd_hexists)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	(void)argc;
	if (!err)
		r_int(c, o && dict_find(o->h, argv[2].p, argv[2].len) ? 1 : 0);
}

KV_CMD(cmd_hstrlen);
KV_CMD(cmd_hstrlen)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	de_t *e;
	(void)argc;
	if (err)
		return;
	e = o ? dict_find(o->h, argv[2].p, argv[2].len) : NULL;
	r_int(c, e ? (long long)((ks_t *)e->v)->len : 0);
}

struct hall {
	kv_client_t *c;
	int what;   /* 1 keys, 2 values, 3 both */
};

static void hall_one(de_t *e, void *arg)
{
	struct hall *h = arg;
	if (h->what & 1)
		r_bulk(h->c, e->key->d, e->key->len);
	if (h->what & 2)
		r_bulk(h->c, ((ks_t *)e->v)->d, ((ks_t *)e->v)->len);
}

KV_CMD(cmd_hgetall);
KV_CMD(cmd_hgetall)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_HASH, false, &err);
	struct hall h = { c, 3 };
	uint64_t cur = 0;
	(void)argc;
	if (err)
		return;
	if (argv[0].len == 5)
		h.what = (argv[0].p[1] | 32) == 'k' ? 1 : 2;   /* HKEYS / HVALS */
	if (!o) {
		if (h.what == 3)
			r_map(c, 0);
		else
			r_arr(c, 0);
		return;
	}
	if (h.what == 3)
		r_map(c, (long)o->h->n);
	else
		r_arr(c, (long)o->h->n);
	do {
		cur = dict_scan(o->h, cur, hall_one, &h);
	} while (cur);
}

KV_CMD(cmd_hincrby);
KV_CMD(cmd_hincrby)
{
	bool err, a;
	kobj_t *o;
	long long by, v = 0;
	de_t *e;
	char tmp[32];
	kv_arg_t nv;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[3], &by) < 0)
		return;
	o = get_or_make(c, &argv[1], T_HASH, true, &err);
	if (err)
		return;
	e = dict_find(o->h, argv[2].p, argv[2].len);
	if (e) {
		kv_arg_t cur = arg_of(e->v);
		if (arg_ll(&cur, &v) < 0) {
			r_err(c, "ERR hash value is not an integer");
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		r_err(c, "ERR increment or decrement would overflow");
		drop_if_empty(c, &argv[1], o);
		return;
	}
	v += by;
	nv.len = (size_t)snprintf(tmp, sizeof(tmp), "%lld", v);
	nv.p = tmp;
	if (hset1(o, &argv[2], &nv, &a) < 0) {
		oom(c);
		drop_if_empty(c, &argv[1], o);
		return;
	}
	kv_modified(c, &argv[1]);
	r_int(c, v);
}

KV_CMD(cmd_hincrbyfloat);
KV_CMD(cmd_hincrbyfloat)
{
	bool err, a;
	kobj_t *o;
	long double by, v = 0;
	de_t *e;
	char tmp[5200];
	int n;
	kv_arg_t nv;
	(void)argc;
	if (kv_parse_ld(argv[3].p, argv[3].len, &by) < 0) {
		r_notfloat(c);
		return;
	}
	o = get_or_make(c, &argv[1], T_HASH, true, &err);
	if (err)
		return;
	e = dict_find(o->h, argv[2].p, argv[2].len);
	if (e && kv_parse_ld(((ks_t *)e->v)->d, ((ks_t *)e->v)->len, &v) < 0) {
		r_err(c, "ERR hash value is not a float");
		return;
	}
	v += by;
	if (isnan(v) || isinf(v) || (n = kv_fmt_ld(tmp, sizeof(tmp), v)) < 0) {
		r_err(c, "ERR increment would produce NaN or Infinity");
		drop_if_empty(c, &argv[1], o);
		return;
	}
	nv.p = tmp;
	nv.len = (size_t)n;
	if (hset1(o, &argv[2], &nv, &a) < 0) {
		oom(c);
		drop_if_empty(c, &argv[1], o);
		return;
	}
	kv_modified(c, &argv[1]);
	kv_log_cmd(c, "HSET %s %s %s", &argv[1], &argv[2], &nv);
	r_bulk(c, tmp, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Sets                                                                */
/* ------------------------------------------------------------------ */

KV_CMD(cmd_sadd);
KV_CMD(cmd_sadd)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_SET, true, &err);
	long long n = 0;
	int i;
	if (err)
		return;
	for (i = 2; i < argc; i++) {
		bool isnew;
		if (!dict_upsert(o->set, argv[i].p, argv[i].len, &isnew)) {
			oom(c);
			drop_if_empty(c, &argv[1], o);
			return;
		}
		n += isnew;
	}
	if (n)
		kv_modified(c, &argv[1]);
	r_int(c, n);
}

KV_CMD(cmd_srem);
KV_CMD(cmd_srem)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_SET, false, &err);
	long long n = 0;
	int i;
	if (err)
		return;
	for (i = 2; o && i < argc; i++) {
		de_t *e = dict_unlink(o->set, argv[i].p, argv[i].len);
		if (e) {
			dict_free_entry(e);
			n++;
		}
	}
	if (n)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_int(c, n);
}

KV_CMD(cmd_sismember);
KV_CMD(cmd_sismember)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_SET, false, &err);
	int i;
	if (err)
		return;
	if (argv[0].len == 10) {   /* SMISMEMBER */
		r_arr(c, argc - 2);
		for (i = 2; i < argc; i++)
			r_int(c, o && dict_find(o->set, argv[i].p, argv[i].len) ? 1 : 0);
		return;
	}
	r_int(c, o && dict_find(o->set, argv[2].p, argv[2].len) ? 1 : 0);
}

KV_CMD(cmd_scard);
KV_CMD(cmd_scard)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_SET, false, &err);
	(void)argc;
	if (!err)
		r_int(c, o ? (long long)o->set->n : 0);
}

static void set_one(de_t *e, void *arg)
{
	r_bulk(arg, e->key->d, e->key->len);
}

KV_CMD(cmd_smembers);
KV_CMD(cmd_smembers)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_SET, false, &err);
	uint64_t cur = 0;
	(void)argc;
	if (err)
		return;
	if (!o) {
		r_set(c, 0);
		return;
	}
	r_set(c, (long)o->set->n);
	do {
		cur = dict_scan(o->set, cur, set_one, c);
	} while (cur);
}

KV_CMD(cmd_spop);
KV_CMD(cmd_spop)
{
	bool err;
	kobj_t *o;
	long long count = 1, i;

	if (argc > 3) {
		r_syntax(c);
		return;
	}
	if (argc == 3 && (arg_ll(&argv[2], &count) < 0 || count < 0)) {
		r_err(c, "ERR value is out of range, must be positive");
		return;
	}
	o = get_or_make(c, &argv[1], T_SET, false, &err);
	if (err)
		return;
	if (!o) {
		if (argc == 3)
			r_set(c, 0);
		else
			r_null(c);
		return;
	}
	if ((size_t)count > o->set->n)
		count = (long long)o->set->n;
	if (argc == 3)
		r_set(c, (long)count);
	for (i = 0; i < count; i++) {
		de_t *e = dict_random(o->set);
		kv_arg_t m;
		e = dict_unlink(o->set, e->key->d, e->key->len);
		r_bulk(c, e->key->d, e->key->len);
		m = arg_of(e->key);
		kv_log_cmd(c, "SREM %s %s", &argv[1], &m);
		dict_free_entry(e);
	}
	if (count)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
}

KV_CMD(cmd_srandmember);
KV_CMD(cmd_srandmember)
{
	bool err;
	kobj_t *o;
	long long count = 1, i;

	if (argc > 3) {
		r_syntax(c);
		return;
	}
	if (argc == 3 && arg_ll_or_reply(c, &argv[2], &count) < 0)
		return;
	o = get_or_make(c, &argv[1], T_SET, false, &err);
	if (err)
		return;
	if (!o) {
		if (argc == 3)
			r_arr(c, 0);
		else
			r_null(c);
		return;
	}
	if (argc == 2) {
		de_t *e = dict_random(o->set);
		r_bulk(c, e->key->d, e->key->len);
		return;
	}
	if (count >= 0) {
		/* distinct members: the first count of a full walk */
		uint64_t cur = 0;
		ks_t **all = malloc(o->set->n * sizeof(*all));
		size_t n = 0, k;
		if (!all) {
			oom(c);
			return;
		}
		if (o->set->t)
			for (cur = 0; cur <= o->set->mask; cur++)
				for (de_t *e = o->set->t[cur]; e; e = e->next)
					all[n++] = e->key;
		for (k = n; k > 1; k--) {
			size_t j = (size_t)random() % k;
			ks_t *t = all[k - 1];
			all[k - 1] = all[j];
			all[j] = t;
		}
		if ((size_t)count > n)
			count = (long long)n;
		r_arr(c, (long)count);
		for (i = 0; i < count; i++)
			r_bulk(c, all[i]->d, all[i]->len);
		free(all);
		return;
	}
	if (count < -((long long)LONG_MAX / 2)) {
		r_err(c, "ERR value is out of range");
		return;
	}
	r_arr(c, (long)-count);
	for (i = 0; i < -count; i++) {
		de_t *e = dict_random(o->set);
		r_bulk(c, e->key->d, e->key->len);
	}
}

KV_CMD(cmd_smove);
KV_CMD(cmd_smove)
{
	bool isnew;
	kobj_t *s = db_get(c, &argv[1]), *d = db_get(c, &argv[2]);
	de_t *e;
	(void)argc;
	if (!s) {
		r_int(c, 0);
		return;
	}
	if (s->type != T_SET || (d && d->type != T_SET)) {
		r_wrongtype(c);
		return;
	}
	if (s == d) {
		r_int(c, dict_find(s->set, argv[3].p, argv[3].len) ? 1 : 0);
		return;
	}
	e = dict_unlink(s->set, argv[3].p, argv[3].len);
	if (!e) {
		r_int(c, 0);
		return;
	}
	dict_free_entry(e);
	kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], s);
	if (!d) {
		bool err;
		d = get_or_make(c, &argv[2], T_SET, true, &err);
		if (!d)
			return;
	}
	if (!dict_upsert(d->set, argv[3].p, argv[3].len, &isnew)) {
		oom(c);
		return;
	}
	kv_modified(c, &argv[2]);
	r_int(c, 1);
}

/* SINTER/SUNION/SDIFF and their STORE forms. */
KV_CMD(cmd_setop);
KV_CMD(cmd_setop)
{
	int op = (argv[0].p[1] | 32) == 'i' ? 0 : (argv[0].p[1] | 32) == 'u' ? 1 : 2;
	bool store = argv[0].len > 6;
	int first = store ? 2 : 1, i;
	dict_t res = { 0 };
	kobj_t **objs = calloc((size_t)argc, sizeof(*objs));
	uint64_t b;

	if (!objs) {
		oom(c);
		return;
	}
	for (i = first; i < argc; i++) {
		bool err;
		objs[i] = get_or_make(c, &argv[i], T_SET, false, &err);
		if (err) {
			free(objs);
			return;
		}
	}
	if (op == 0) {
		bool any_missing = false;
		for (i = first; i < argc; i++)
			if (!objs[i])
				any_missing = true;
		if (!any_missing && objs[first]->set->t) {
			for (b = 0; b <= objs[first]->set->mask; b++) {
				for (de_t *e = objs[first]->set->t[b]; e; e = e->next) {
					bool all = true, isnew;
					for (i = first + 1; i < argc && all; i++)
						if (!dict_find(objs[i]->set, e->key->d, e->key->len))
							all = false;
					if (all)
						dict_upsert(&res, e->key->d, e->key->len, &isnew);
				}
			}
		}
	} else {
		for (i = first; i < argc; i++) {
			if (!objs[i] || !objs[i]->set->t) {
				if (op == 2 && i == first)
					break;
				continue;
			}
			for (b = 0; b <= objs[i]->set->mask; b++) {
				for (de_t *e = objs[i]->set->t[b]; e; e = e->next) {
					bool isnew;
					if (op == 1 || i == first) {
						dict_upsert(&res, e->key->d, e->key->len, &isnew);
					} else {
						de_t *x = dict_unlink(&res, e->key->d, e->key->len);
						if (x)
							dict_free_entry(x);
					}
				}
			}
		}
	}
	free(objs);
	if (!store) {
		uint64_t cur = 0;
		r_set(c, (long)res.n);
		if (res.n)
			do {
				cur = dict_scan(&res, cur, set_one, c);
			} while (cur);
		dict_clear(&res, NULL);
		return;
	}
	{
		long long n = (long long)res.n;
		bool existed = db_del(c, &argv[1]);
		if (n) {
			kobj_t *o = obj_new(T_SET);
			if (!o) {
				dict_clear(&res, NULL);
				oom(c);
				return;
			}
			free(o->set);
			o->set = malloc(sizeof(*o->set));
			if (!o->set) {
				o->type = T_STRING;
				o->s = NULL;
				obj_free(o);
				dict_clear(&res, NULL);
				oom(c);
				return;
			}
			*o->set = res;
			db_set(c, &argv[1], o);
		} else {
			dict_clear(&res, NULL);
			if (!existed)
				c->dirty++;   /* logged anyway, as Redis propagates it */
		}
		r_int(c, n);
	}
}

/* ------------------------------------------------------------------ */
/* Sorted sets                                                         */
/* ------------------------------------------------------------------ */

/* Set member's score (adding it if new).  0 or -ENOMEM. */
static int zset_set(kzset_t *z, const kv_arg_t *m, double score, bool *added)
{
	bool isnew;
	de_t *e = dict_upsert(&z->d, m->p, m->len, &isnew);
	if (!e)
		return -ENOMEM;
	if (!isnew) {
		size_t r = zset_rank(z, e->d, e->key);
		if (e->d == score) {
			*added = false;
			return 0;
		}
		zset_remove_at(z, r);
	}
	e->d = score;
	if (zset_insert(z, score, e->key) < 0) {
		e = dict_unlink(&z->d, m->p, m->len);
		dict_free_entry(e);
		return -ENOMEM;
	}
	*added = isnew;
	return 0;
}

static bool zset_del(kzset_t *z, const kv_arg_t *m)
{
	de_t *e = dict_find(&z->d, m->p, m->len);
	if (!e)
		return false;
	zset_remove_at(z, zset_rank(z, e->d, e->key));
	e = dict_unlink(&z->d, m->p, m->len);
	dict_free_entry(e);
	return true;
}

KV_CMD(cmd_zadd);
KV_CMD(cmd_zadd)
{
	bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
	bool err;
	int i, npairs;
	double *scores;
	kobj_t *o;
	long long added = 0, changed = 0;
	bool incr_replied = false;

	for (i = 2; i < argc; i++) {
		if (arg_is(&argv[i], "NX"))
			nx = true;
		else if (arg_is(&argv[i], "XX"))
			xx = true;
		else if (arg_is(&argv[i], "GT"))
			gt = true;
		else if (arg_is(&argv[i], "LT"))
			lt = true;
		else if (arg_is(&argv[i], "CH"))
			ch = true;
		else if (arg_is(&argv[i], "INCR"))
			incr = true;
		else
			break;
	}
	npairs = argc - i;
	if (npairs <= 0 || npairs % 2) {
		r_syntax(c);
		return;
	}
	npairs /= 2;
	if (nx && xx) {
		r_err(c, "ERR XX and NX options at the same time are not compatible");
		return;
	}
	if ((gt && nx) || (lt && nx) || (gt && lt)) {
		r_err(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
		return;
	}
	if (incr && npairs > 1) {
		r_err(c, "ERR INCR option supports a single increment-element pair");
		return;
	}
	scores = malloc((size_t)npairs * sizeof(*scores));
	if (!scores) {
		oom(c);
		return;
	}
	for (int j = 0; j < npairs; j++) {
		if (arg_double(&argv[i + 2 * j], &scores[j]) < 0) {
			free(scores);
			r_notfloat(c);
			return;
		}
	}
	o = get_or_make(c, &argv[1], T_ZSET, !xx, &err);
	if (err) {
		free(scores);
		return;
	}
	if (!o) {
		free(scores);
		if (incr)
			r_null(c);
		else
			r_int(c, 0);
		return;
	}
	for (int j = 0; j < npairs; j++) {
		const kv_arg_t *m = &argv[i + 2 * j + 1];
		de_t *e = dict_find(&o->z->d, m->p, m->len);
		double s = scores[j];
		bool a;
		if (e) {
			if (nx) {
				if (incr) {
					r_null(c);
					incr_replied = true;
				}
				continue;
			}
			if (incr) {
				s = e->d + s;
				if (isnan(s)) {
					r_err(c, "ERR resulting score is not a number (NaN)");
					free(scores);
					return;
				}
			}
			if ((gt && s <= e->d) || (lt && s >= e->d)) {
				if (incr) {
					r_null(c);
					incr_replied = true;
				}
				continue;
			}
			if (s != e->d) {
				zset_set(o->z, m, s, &a);
				changed++;
			}
			if (incr) {
				r_double(c, s);
				incr_replied = true;
			}
		} else {
			if (xx) {
				if (incr) {
					r_null(c);
					incr_replied = true;
				}
				continue;
			}
			if (zset_set(o->z, m, s, &a) < 0) {
				free(scores);
				oom(c);
				drop_if_empty(c, &argv[1], o);
				return;
			}
			added++;
			if (incr) {
				r_double(c, s);
				incr_replied = true;
			}
		}
	}
	free(scores);
	if (added || changed)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	if (!incr)
		r_int(c, ch ? added + changed : added);
	else if (!incr_replied)
		r_null(c);
}

KV_CMD(cmd_zincrby);
KV_CMD(cmd_zincrby)
{
	bool err, a;
	double by, s;
	kobj_t *o;
	de_t *e;
	(void)argc;
	if (arg_double_or_reply(c, &argv[2], &by) < 0)
		return;
	o = get_or_make(c, &argv[1], T_ZSET, true, &err);
	if (err)
		return;
	e = dict_find(&o->z->d, argv[3].p, argv[3].len);
	s = e ? e->d + by : by;
	if (isnan(s)) {
		r_err(c, "ERR resulting score is not a number (NaN)");
		drop_if_empty(c, &argv[1], o);
		return;
	}
	if (zset_set(o->z, &argv[3], s, &a) < 0) {
		oom(c);
		drop_if_empty(c, &argv[1], o);
		return;
	}
	kv_modified(c, &argv[1]);
	r_double(c, s);
}

KV_CMD(cmd_zscore);
KV_CMD(cmd_zscore)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	de_t *e;
	int i;
	if (err)
		return;
	if (argv[0].len == 7) {   /* ZMSCORE */
		r_arr(c, argc - 2);
		for (i = 2; i < argc; i++) {
			e = o ? dict_find(&o->z->d, argv[i].p, argv[i].len) : NULL;
			if (e)
				r_double(c, e->d);
			else
				r_null(c);
		}
		return;
	}
	e = o ? dict_find(&o->z->d, argv[2].p, argv[2].len) : NULL;
	if (e)
		r_double(c, e->d);
	else
		r_null(c);
}

KV_CMD(cmd_zcard);
KV_CMD(cmd_zcard)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	(void)argc;
	if (!err)
		r_int(c, o ? (long long)o->z->n : 0);
}

KV_CMD(cmd_zrank);
KV_CMD(cmd_zrank)
{
	bool err, rev = argv[0].len > 4 && !strncasecmp(argv[0].p + 1, "rev", 3);
	kobj_t *o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	de_t *e;
	size_t r;
	(void)argc;
	if (err)
		return;
	e = o ? dict_find(&o->z->d, argv[2].p, argv[2].len) : NULL;
	if (!e) {
		r_null(c);
		return;
	}
	r = zset_rank(o->z, e->d, e->key);
	r_int(c, (long long)(rev ? o->z->n - 1 - r : r));
}

KV_CMD(cmd_zrem);
KV_CMD(cmd_zrem)
{
	bool err;
	kobj_t *o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	long long n = 0;
	int i;
	if (err)
		return;
	for (i = 2; o && i < argc; i++)
		n += zset_del(o->z, &argv[i]);
	if (n)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_int(c, n);
}

typedef struct zbound {
	double v;
	bool excl;
} zbound_t;

static int parse_zbound(const kv_arg_t *a, zbound_t *b)
{
	kv_arg_t x = *a;
	b->excl = false;
	if (x.len && x.p[0] == '(') {
		b->excl = true;
		x.p++;
		x.len--;
	}
	if (x.len == 4 && !strncasecmp(x.p, "+inf", 4)) {
		b->v = INFINITY;
		return 0;
	}
	if (x.len == 4 && !strncasecmp(x.p, "-inf", 4)) {
		b->v = -INFINITY;
		return 0;
	}
	return arg_double(&x, &b->v);
}

typedef struct lexbound {
	const char *p;
	size_t len;
	int kind;   /* 0 value, 1 -inf ('-'), 2 +inf ('+') */
	bool excl;
} lexbound_t;

static int parse_lex(const kv_arg_t *a, lexbound_t *b)
{
	b->excl = false;
	b->p = NULL;
	b->len = 0;
	if (a->len == 1 && a->p[0] == '-') {
		b->kind = 1;
		return 0;
	}
	if (a->len == 1 && a->p[0] == '+') {
		b->kind = 2;
		return 0;
	}
	if (a->len >= 1 && (a->p[0] == '(' || a->p[0] == '[')) {
		b->kind = 0;
		b->excl = a->p[0] == '(';
		b->p = a->p + 1;
		b->len = a->len - 1;
		return 0;
	}
	return -EINVAL;
}

static int lexcmp(const ks_t *m, const lexbound_t *b)
{
	int r;
	if (b->kind == 1)
		return 1;
	if (b->kind == 2)
		return -1;
	r = memcmp(m->d, b->p, m->len < b->len ? m->len : b->len);
	if (r)
		return r;
	return m->len < b->len ? -1 : m->len > b->len ? 1 : 0;
}

static bool lex_gte_min(const ks_t *m, const lexbound_t *min)
{
	int r = lexcmp(m, min);
	return min->excl ? r > 0 : r >= 0;
}

static bool lex_lte_max(const ks_t *m, const lexbound_t *max)
{
	int r = lexcmp(m, max);
	return max->excl ? r < 0 : r <= 0;
}

static bool score_gte_min(double s, const zbound_t *b)
{
	return b->excl ? s > b->v : s >= b->v;
}

static bool score_lte_max(double s, const zbound_t *b)
{
	return b->excl ? s < b->v : s <= b->v;
}

enum { ZR_RANK, ZR_SCORE, ZR_LEX };

/* Indexes [lo, hi) of z's array inside the given range. */
static void zrange_bounds(const kzset_t *z, int by, const zbound_t *smin, const zbound_t *smax,
			  const lexbound_t *lmin, const lexbound_t *lmax, size_t *lo, size_t *hi)
{
	size_t a = 0, b = z->n;
	if (by == ZR_SCORE) {
		while (a < z->n && !score_gte_min(z->a[a].score, smin))
			a++;
		b = a;
		while (b < z->n && score_lte_max(z->a[b].score, smax))
			b++;
	} else {
		while (a < z->n && !lex_gte_min(z->a[a].member, lmin))
			a++;
		b = a;
		while (b < z->n && lex_lte_max(z->a[b].member, lmax))
			b++;
	}
	*lo = a;
	*hi = b;
}

/* The generic ZRANGE (Redis 7 form and the old ZRANGEBYSCORE & co.). */
static void zrange_generic(kv_client_t *c, int argc, const kv_arg_t *argv, int by, bool rev,
			   int optstart, bool allow_limit_opts)
{
	bool withscores = false, err, has_limit = false;
	long long off = 0, lim = -1;
	int i;
	kobj_t *o;
	zbound_t smin, smax;
	lexbound_t lmin, lmax;
	const kv_arg_t *amin = &argv[2], *amax = &argv[3];

	for (i = optstart; i < argc; i++) {
		if (arg_is(&argv[i], "WITHSCORES")) {
			withscores = true;
		} else if (arg_is(&argv[i], "LIMIT") && i + 2 < argc && allow_limit_opts) {
			if (arg_ll_or_reply(c, &argv[i + 1], &off) < 0 ||
			    arg_ll_or_reply(c, &argv[i + 2], &lim) < 0)
				return;
			has_limit = true;
			i += 2;
		} else {
			r_syntax(c);
			return;
		}
	}
	if (has_limit && by == ZR_RANK) {
		r_err(c, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
		return;
	}
	if (withscores && by == ZR_LEX) {
		r_err(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
		return;
	}
	if (rev && by != ZR_RANK) {
		amin = &argv[3];
		amax = &argv[2];
	}
	if (by == ZR_SCORE && (parse_zbound(amin, &smin) < 0 || parse_zbound(amax, &smax) < 0)) {
		r_err(c, "ERR min or max is not a float");
		return;
	}
	if (by == ZR_LEX && (parse_lex(amin, &lmin) < 0 || parse_lex(amax, &lmax) < 0)) {
		r_err(c, "ERR min or max not valid string range item");
		return;
	}
	if (by == ZR_RANK) {
		long long s, e;
		if (arg_ll_or_reply(c, &argv[2], &s) < 0 || arg_ll_or_reply(c, &argv[3], &e) < 0)
			return;
		o = get_or_make(c, &argv[1], T_ZSET, false, &err);
		if (err)
			return;
		if (!o || !norm_range(&s, &e, (long long)o->z->n)) {
			r_arr(c, 0);
			return;
		}
		if (withscores && c->resp == 3)
			r_arr(c, (long)(e - s + 1));
		else
			r_arr(c, (long)((e - s + 1) * (withscores ? 2 : 1)));
		for (long long k = s; k <= e; k++) {
			const zent_t *z = &o->z->a[rev ? (long long)o->z->n - 1 - k : k];
			if (withscores && c->resp == 3)
				r_arr(c, 2);
			r_bulk(c, z->member->d, z->member->len);
			if (withscores)
				r_double(c, z->score);
		}
		return;
	}
	o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	if (err)
		return;
	if (!o) {
		r_arr(c, 0);
		return;
	}
	{
		size_t lo, hi, n, k;
		zrange_bounds(o->z, by, &smin, &smax, &lmin, &lmax, &lo, &hi);
		n = hi - lo;
		if (off < 0 || (size_t)off >= n) {
			r_arr(c, 0);
			return;
		}
		n -= (size_t)off;
		if (lim >= 0 && (size_t)lim < n)
			n = (size_t)lim;
		if (withscores && c->resp == 3)
			r_arr(c, (long)n);
		else
			r_arr(c, (long)(n * (withscores ? 2 : 1)));
		for (k = 0; k < n; k++) {
			size_t idx = rev ? hi - 1 - (size_t)off - k : lo + (size_t)off + k;
			const zent_t *z = &o->z->a[idx];
			if (withscores && c->resp == 3)
				r_arr(c, 2);
			r_bulk(c, z->member->d, z->member->len);
			if (withscores)
				r_double(c, z->score);
		}
	}
}

KV_CMD(cmd_zrange);
KV_CMD(cmd_zrange)
{
	int by = ZR_RANK, i, j = 4;
	bool rev = false;
	kv_arg_t av[64];
	int n = 0;

	/* ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES] */
	if (argc > 64) {
		r_syntax(c);
		return;
	}
	for (i = 0; i < 4; i++)
		av[n++] = argv[i];
	for (i = 4; i < argc; i++) {
		if (arg_is(&argv[i], "BYSCORE"))
			by = ZR_SCORE;
		else if (arg_is(&argv[i], "BYLEX"))
			by = ZR_LEX;
		else if (arg_is(&argv[i], "REV"))
			rev = true;
		else
			av[n++] = argv[i];
	}
	(void)j;
	zrange_generic(c, n, av, by, rev, 4, true);
}

KV_CMD(cmd_zrangeold);
KV_CMD(cmd_zrangeold)
{
	/* ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX */
	bool rev = !strncasecmp(argv[0].p + 1, "rev", 3);
	int by = ZR_RANK;
	if (argv[0].len > 9 && (argv[0].p[argv[0].len - 1] | 32) == 'e')
		by = ZR_SCORE;
	else if (argv[0].len > 9)
		by = ZR_LEX;
	if (by == ZR_RANK) {
		/* ZREVRANGE key start stop [WITHSCORES] */
		zrange_generic(c, argc, argv, by, rev, 4, false);
		return;
	}
	zrange_generic(c, argc, argv, by, rev, 4, true);
}

KV_CMD(cmd_zcount);
KV_CMD(cmd_zcount)
{
	bool lex = (argv[0].p[1] | 32) == 'l', err;
	zbound_t smin, smax;
	lexbound_t lmin, lmax;
	kobj_t *o;
	size_t lo, hi;
	(void)argc;
	if (!lex && (parse_zbound(&argv[2], &smin) < 0 || parse_zbound(&argv[3], &smax) < 0)) {
		r_err(c, "ERR min or max is not a float");
		return;
	}
	if (lex && (parse_lex(&argv[2], &lmin) < 0 || parse_lex(&argv[3], &lmax) < 0)) {
		r_err(c, "ERR min or max not valid string range item");
		return;
	}
	o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	if (err)
		return;
	if (!o) {
		r_int(c, 0);
		return;
	}
	zrange_bounds(o->z, lex ? ZR_LEX : ZR_SCORE, &smin, &smax, &lmin, &lmax, &lo, &hi);
	r_int(c, (long long)(hi - lo));
}

/* ZREMRANGEBYRANK / BYSCORE / BYLEX */
KV_CMD(cmd_zremrange);
KV_CMD(cmd_zremrange)
{
	char k = (char)(argv[0].p[argv[0].len - 1] | 32);   /* k(rank) e(score) x(lex) */
	bool err;
	kobj_t *o;
	size_t lo = 0, hi = 0, i;
	zbound_t smin, smax;
	lexbound_t lmin, lmax;
	long long s = 0, e = 0;
	(void)argc;

	if (k == 'k') {
		if (arg_ll_or_reply(c, &argv[2], &s) < 0 || arg_ll_or_reply(c, &argv[3], &e) < 0)
			return;
	} else if (k == 'e') {
		if (parse_zbound(&argv[2], &smin) < 0 || parse_zbound(&argv[3], &smax) < 0) {
			r_err(c, "ERR min or max is not a float");
			return;
		}
	} else if (parse_lex(&argv[2], &lmin) < 0 || parse_lex(&argv[3], &lmax) < 0) {
		r_err(c, "ERR min or max not valid string range item");
		return;
	}
	o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	if (err)
		return;
	if (!o) {
		r_int(c, 0);
		return;
	}
	if (k == 'k') {
		if (norm_range(&s, &e, (long long)o->z->n)) {
			lo = (size_t)s;
			hi = (size_t)e + 1;
		}
	} else {
		zrange_bounds(o->z, k == 'e' ? ZR_SCORE : ZR_LEX, &smin, &smax, &lmin, &lmax, &lo, &hi);
	}
	for (i = lo; i < hi; i++) {
		de_t *x = dict_unlink(&o->z->d, o->z->a[i].member->d, o->z->a[i].member->len);
		dict_free_entry(x);
	}
	memmove(&o->z->a[lo], &o->z->a[hi], (o->z->n - hi) * sizeof(*o->z->a));
	o->z->n -= hi - lo;
	if (hi > lo)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
	r_int(c, (long long)(hi - lo));
}

KV_CMD(cmd_zpop);
KV_CMD(cmd_zpop)
{
	bool max = (argv[0].p[argv[0].len - 2] | 32) == 'a', err;
	long long count = 1, i;
	kobj_t *o;

	if (argc > 3) {
		r_syntax(c);
		return;
	}
	if (argc == 3) {
		if (arg_ll(&argv[2], &count) < 0 || count < 0) {
			r_err(c, "ERR value is out of range, must be positive");
			return;
		}
	}
	o = get_or_make(c, &argv[1], T_ZSET, false, &err);
	if (err)
		return;
	if (!o) {
		r_arr(c, 0);
		return;
	}
	if ((size_t)count > o->z->n)
		count = (long long)o->z->n;
	if (c->resp == 3 && argc == 3)
		r_arr(c, (long)count);
	else
		r_arr(c, (long)count * 2);
	for (i = 0; i < count; i++) {
		size_t idx = max ? o->z->n - 1 : 0;
		zent_t z = o->z->a[idx];
		de_t *x;
		if (c->resp == 3 && argc == 3)
			r_arr(c, 2);
		r_bulk(c, z.member->d, z.member->len);
		r_double(c, z.score);
		zset_remove_at(o->z, idx);
		x = dict_unlink(&o->z->d, z.member->d, z.member->len);
		dict_free_entry(x);
	}
	if (count)
		kv_modified(c, &argv[1]);
	drop_if_empty(c, &argv[1], o);
}

/* HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n]: one dict_scan pass
 * over the container. */
struct cscan {
	kv_client_t *c;
	kbuf_t out;
	long n;
	int type;
	const kv_arg_t *pat;
	kv_client_t tmp;
};

static void cscan_one(de_t *e, void *arg)
{
	struct cscan *s = arg;
	char num[64];
	if (s->pat && !kv_match(s->pat->p, s->pat->len, e->key->d, e->key->len, false))
		return;
	s->tmp.r = s->out;
	r_bulk(&s->tmp, e->key->d, e->key->len);
	if (s->type == T_HASH) {
		r_bulk(&s->tmp, ((ks_t *)e->v)->d, ((ks_t *)e->v)->len);
		s->n++;
	} else if (s->type == T_ZSET) {
		fmt_double(num, sizeof(num), e->d);
		r_cstr(&s->tmp, num);
		s->n++;
	}
	s->out = s->tmp.r;
	s->n++;
}

KV_CMD(cmd_cscan);
KV_CMD(cmd_cscan)
{
	int type = (argv[0].p[0] | 32) == 'h' ? T_HASH : (argv[0].p[0] | 32) == 's' ? T_SET : T_ZSET;
	struct cscan s;
	long long count = 10, cur;
	bool err;
	kobj_t *o;
	dict_t *d;
	int i;
	char tmp[32];
	uint64_t uc;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.type = type;
	s.tmp.resp = 2;
	if (resp_ll(argv[2].p, argv[2].len, &cur) < 0) {
		r_err(c, "ERR invalid cursor");
		return;
	}
	for (i = 3; i < argc; i++) {
		if (arg_is(&argv[i], "MATCH") && i + 1 < argc) {
			s.pat = &argv[++i];
		} else if (arg_is(&argv[i], "COUNT") && i + 1 < argc) {
			if (arg_ll_or_reply(c, &argv[++i], &count) < 0)
				return;
			if (count < 1) {
				r_syntax(c);
				return;
			}
		} else {
			r_syntax(c);
			return;
		}
	}
	o = get_or_make(c, &argv[1], type, false, &err);
	if (err)
		return;
	if (!o) {
		r_arr(c, 2);
		r_cstr(c, "0");
		r_arr(c, 0);
		return;
	}
	d = type == T_HASH ? o->h : type == T_SET ? o->set : &o->z->d;
	uc = (uint64_t)cur;
	do {
		uc = dict_scan(d, uc, cscan_one, &s);
	} while (uc && s.n < count);
	r_arr(c, 2);
	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)uc);
	r_cstr(c, tmp);
	r_arr(c, s.n);
	kbuf_put(&c->r, s.out.p, s.out.len);
	kbuf_free(&s.out);
}
