/*
 * cmd_keys.c: string commands (GET, SET and its options, the INCR family,
 * APPEND, ranges) and generic key commands (DEL, EXISTS, the EXPIRE family,
 * TTL, TYPE, RENAME, KEYS, SCAN, RANDOMKEY).  Semantics and error texts are
 * Redis 7.0's.  Commands whose effect depends on the clock log an absolute
 * rewrite (PEXPIREAT, SET ... PXAT) so that WAL replay is deterministic.
 * Not for: locking (the dispatcher holds the key shards' locks here).
 */
#include "kv_int.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kobj_t *new_string(const void *p, size_t n)
{
	kobj_t *o = malloc(sizeof(*o));
	if (!o)
		return NULL;
	o->type = T_STRING;
	atomic_init(&o->refs, 1);
	o->expire = -1;
	o->s = ks_new(p, n);   /* one allocation for the bytes */
	if (!o->s) {
		free(o);
		return NULL;
	}
	return o;
}

static void oom(kv_client_t *c)
{
	r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
}

static void set_expire(kv_client_t *c, const kv_arg_t *key, kobj_t *o, int64_t when)
{
	if (o->expire < 0 && when >= 0)
		kv_expires_add(c, c->db, key->p, key->len, 1);
	else if (o->expire >= 0 && when < 0)
		kv_expires_add(c, c->db, key->p, key->len, -1);
	o->expire = when;
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

KV_CMD(cmd_get);
KV_CMD(cmd_get)
{
	bool wrong;
	kobj_t *o = db_get_type(c, &argv[1], T_STRING, &wrong);
	(void)argc;
	if (wrong)
		return;
	if (!o) {
		atomic_fetch_add(&c->srv->stat_keyspace_misses, 1);
		r_null(c);
		return;
	}
	atomic_fetch_add(&c->srv->stat_keyspace_hits, 1);
	r_bulk(c, o->s->d, o->s->len);
}

enum { SET_NX = 1, SET_XX = 2, SET_GET = 4, SET_KEEPTTL = 8 };

/* The common body of SET/SETNX/SETEX/PSETEX.  expire_at -1 = none.
 * Replies (unless quiet).  Returns 1 if set, 0 if not, -1 on error. */
static int do_set(kv_client_t *c, const kv_arg_t *key, const kv_arg_t *val, int flags,
		  int64_t expire_at, bool reply_get)
{
	kobj_t *old = db_get(c, key), *o;
	int64_t keep = -1;

	if (reply_get && old && old->type != T_STRING) {
		r_wrongtype(c);
		return -1;
	}
	if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
		if (reply_get) {
			if (old)
				r_bulk(c, old->s->d, old->s->len);
			else
				r_null(c);
		} else {
			r_null(c);
		}
		return 0;
	}
	if (reply_get) {
		if (old)
			r_bulk(c, old->s->d, old->s->len);
		else
			r_null(c);
	}
	if ((flags & SET_KEEPTTL) && old)
		keep = old->expire;
	o = new_string(val->p, val->len);
	if (!o) {
		if (!reply_get)
			oom(c);
		return -1;
	}
	o->expire = expire_at >= 0 ? expire_at : keep;
	if (db_set(c, key, o) < 0) {
		obj_free(o);
		if (!reply_get)
			oom(c);
		return -1;
	}
	if (o->expire >= 0)
		kv_log_cmd(c, "SET %s %s PXAT %d", key, val, (long long)o->expire);
	else
		kv_log_cmd(c, "SET %s %s", key, val);
	return 1;
}

static bool expire_from(kv_client_t *c, const kv_arg_t *a, int unit_ms, bool absolute,
			const char *cmdname, int64_t *out)
{
	long long v;
	if (arg_ll(a, &v) < 0) {
		r_notint(c);
		return false;
	}
	if (v <= 0 || (unit_ms == 1000 && (v > LLONG_MAX / 1000))) {
		r_err(c, "ERR invalid expire time in '%s' command", cmdname);
		return false;
	}
	v *= unit_ms;
	if (!absolute) {
		if (v > LLONG_MAX - kv_mstime()) {
			r_err(c, "ERR invalid expire time in '%s' command", cmdname);
			return false;
		}
		v += kv_mstime();
	}
	*out = v;
	return true;
}

KV_CMD(cmd_set);
KV_CMD(cmd_set)
{
	int flags = 0, i, unit = 0;
	bool absolute = false;
	int64_t when = -1;
	const kv_arg_t *ex = NULL;

	for (i = 3; i < argc; i++) {
		const kv_arg_t *a = &argv[i];
		bool more = i + 1 < argc;
		if (arg_is(a, "NX") && !(flags & SET_XX)) {
			flags |= SET_NX;
		} else if (arg_is(a, "XX") && !(flags & SET_NX)) {
			flags |= SET_XX;
		} else if (arg_is(a, "GET")) {
			flags |= SET_GET;
		} else if (arg_is(a, "KEEPTTL") && !ex) {
			flags |= SET_KEEPTTL;
		} else if ((arg_is(a, "EX") || arg_is(a, "PX") || arg_is(a, "EXAT") ||
			    arg_is(a, "PXAT")) && !ex && !(flags & SET_KEEPTTL) && more) {
			unit = (a->p[0] | 32) == 'e' ? 1000 : 1;
			absolute = a->len == 4;
			ex = &argv[++i];
		} else {
			r_syntax(c);
			return;
		}
	}
	if (ex && !expire_from(c, ex, unit, absolute, "set", &when))
		return;
	if (flags & SET_GET) {
		do_set(c, &argv[1], &argv[2], flags, when, true);
		return;
	}
	if (do_set(c, &argv[1], &argv[2], flags, when, false) == 1)
		r_ok(c);
}

KV_CMD(cmd_setnx);
KV_CMD(cmd_setnx)
{
	bool wrong;
	(void)argc;
	(void)wrong;
	if (db_get(c, &argv[1])) {
		r_int(c, 0);
		return;
	}
	if (do_set(c, &argv[1], &argv[2], SET_NX, -1, false) == 1)
		r_int(c, 1);
}

KV_CMD(cmd_setex);
KV_CMD(cmd_setex)
{
	int64_t when;
	bool ms = argv[0].len == 6;   /* PSETEX */
	(void)argc;
	if (!expire_from(c, &argv[2], ms ? 1 : 1000, false, ms ? "psetex" : "setex", &when))
		return;
	if (do_set(c, &argv[1], &argv[3], 0, when, false) == 1)
		r_ok(c);
}

KV_CMD(cmd_getset);
KV_CMD(cmd_getset)
{
	(void)argc;
	do_set(c, &argv[1], &argv[2], 0, -1, true);
}

KV_CMD(cmd_getdel);
KV_CMD(cmd_getdel)
{
	bool wrong;
	kobj_t *o = db_get_type(c, &argv[1], T_STRING, &wrong);
	(void)argc;
	if (wrong)
		return;
	if (!o) {
		r_null(c);
		return;
	}
	r_bulk(c, o->s->d, o->s->len);
	db_del(c, &argv[1]);
	kv_log_cmd(c, "DEL %s", &argv[1]);
}

KV_CMD(cmd_getex);
KV_CMD(cmd_getex)
{
	bool wrong, persist = false;
	kobj_t *o;
	int64_t when = -1;
	int i;

	for (i = 2; i < argc; i++) {
		const kv_arg_t *a = &argv[i];
		if ((arg_is(a, "EX") || arg_is(a, "PX") || arg_is(a, "EXAT") ||
		     arg_is(a, "PXAT")) && when < 0 && !persist && i + 1 < argc) {
			int unit = (a->p[0] | 32) == 'e' ? 1000 : 1;
			if (!expire_from(c, &argv[i + 1], unit, a->len == 4, "getex", &when))
				return;
			i++;
		} else if (arg_is(a, "PERSIST") && when < 0 && !persist) {
			persist = true;
		} else {
			r_syntax(c);
			return;
		}
	}
	o = db_get_type(c, &argv[1], T_STRING, &wrong);
	if (wrong)
		return;
	if (!o) {
		r_null(c);
		return;
	}
	r_bulk(c, o->s->d, o->s->len);
	if (when >= 0 && when <= kv_mstime()) {
		db_del(c, &argv[1]);
		kv_log_cmd(c, "DEL %s", &argv[1]);
	} else if (when >= 0) {
		set_expire(c, &argv[1], o, when);
		kv_modified(c, &argv[1]);
		kv_log_cmd(c, "PEXPIREAT %s %d", &argv[1], (long long)when);
	} else if (persist && o->expire >= 0) {
		set_expire(c, &argv[1], o, -1);
		kv_modified(c, &argv[1]);
		kv_log_cmd(c, "PERSIST %s", &argv[1]);
	}
}

KV_CMD(cmd_mget);
KV_CMD(cmd_mget)
{
	int i;
	r_arr(c, argc - 1);
	for (i = 1; i < argc; i++) {
		kobj_t *o = db_get(c, &argv[i]);
		if (o && o->type == T_STRING)
			r_bulk(c, o->s->d, o->s->len);
		else
			r_null(c);
	}
}

KV_CMD(cmd_mset);
KV_CMD(cmd_mset)
{
	bool nx = argv[0].len == 6;   /* MSETNX */
	int i;

	if (argc % 2 == 0) {
		r_arity(c, nx ? "msetnx" : "mset");
		return;
	}
	if (nx) {
		for (i = 1; i < argc; i += 2) {
			if (db_get(c, &argv[i])) {
				r_int(c, 0);
				return;
			}
		}
	}
	for (i = 1; i < argc; i += 2) {
		kobj_t *o = new_string(argv[i + 1].p, argv[i + 1].len);
		if (!o || db_set(c, &argv[i], o) < 0) {
			obj_free(o);
			oom(c);
			return;
		}
	}
	if (nx)
		r_int(c, 1);
	else
		r_ok(c);
}

static void incr_by(kv_client_t *c, const kv_arg_t *key, long long by)
{
	bool wrong;
	kobj_t *o = db_get_type(c, key, T_STRING, &wrong);
	long long v = 0;
	char tmp[32];
	int n;

	if (wrong)
		return;
	if (o) {
		kv_arg_t a = arg_of(o->s);
		if (arg_ll(&a, &v) < 0) {
			r_notint(c);
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) || (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		r_err(c, "ERR increment or decrement would overflow");
		return;
	}
	v += by;
	n = snprintf(tmp, sizeof(tmp), "%lld", v);
	if (o) {
		ks_t *s = ks_grow(o->s, (size_t)n);
		if (!s) {
			oom(c);
			return;
		}
		memcpy(s->d, tmp, (size_t)n + 1);
		s->len = (size_t)n;
		o->s = s;
		kv_modified(c, key);
	} else {
		o = new_string(tmp, (size_t)n);
		if (!o || db_set(c, key, o) < 0) {
			obj_free(o);
			oom(c);
			return;
		}
	}
	r_int(c, v);
}

KV_CMD(cmd_incr);
KV_CMD(cmd_incr)
{
	(void)argc;
	incr_by(c, &argv[1], (argv[0].p[0] | 32) == 'd' ? -1 : 1);
}

KV_CMD(cmd_incrby);
KV_CMD(cmd_incrby)
{
	long long by;
	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &by) < 0)
		return;
	if ((argv[0].p[0] | 32) == 'd') {
		if (by == LLONG_MIN) {
			r_err(c, "ERR decrement would overflow");
			return;
		}
		by = -by;
	}
	incr_by(c, &argv[1], by);
}

/* Redis's long double formatting (ld2string, human mode). */
static int fmt_ld(char *buf, size_t cap, long double v)
{
	int n;
	if (isinf(v))
		return -1;
	n = snprintf(buf, cap, "%.17Lf", v);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (strchr(buf, '.')) {
		while (n > 0 && buf[n - 1] == '0')
			n--;
		if (n > 0 && buf[n - 1] == '.')
			n--;
		buf[n] = 0;
	}
	if (n == 2 && !strcmp(buf, "-0")) {
		strcpy(buf, "0");
		n = 1;
	}
	return n;
}

int kv_parse_ld(const char *p, size_t len, long double *out);
int kv_parse_ld(const char *p, size_t len, long double *out)
{
	char tmp[5120], *end;
	long double v;
	if (len == 0 || len >= sizeof(tmp) || memchr(p, 0, len))
		return -EINVAL;
	memcpy(tmp, p, len);
	tmp[len] = 0;
	if (tmp[0] == ' ' || tmp[len - 1] == ' ' || tmp[0] == '\t')
		return -EINVAL;
	errno = 0;
	v = strtold(tmp, &end);
	if (*end || isnan(v) || errno == ERANGE)
		return -EINVAL;
	*out = v;
	return 0;
}

int kv_fmt_ld(char *buf, size_t cap, long double v);
int kv_fmt_ld(char *buf, size_t cap, long double v)
{
	return fmt_ld(buf, cap, v);
}

KV_CMD(cmd_incrbyfloat);
KV_CMD(cmd_incrbyfloat)
{
	bool wrong;
	kobj_t *o = db_get_type(c, &argv[1], T_STRING, &wrong);
	long double v = 0, by;
	char tmp[5200];
	int n;
	kv_arg_t nv;

	(void)argc;
	if (wrong)
		return;
	if (o && kv_parse_ld(o->s->d, o->s->len, &v) < 0) {
		r_notfloat(c);
		return;
	}
	if (kv_parse_ld(argv[2].p, argv[2].len, &by) < 0) {
		r_notfloat(c);
		return;
	}
	v += by;
	if (isnan(v) || isinf(v) || (n = fmt_ld(tmp, sizeof(tmp), v)) < 0) {
		r_err(c, "ERR increment would produce NaN or Infinity");
		return;
	}
	if (o) {
		ks_t *s = ks_grow(o->s, (size_t)n);
		if (!s) {
			oom(c);
			return;
		}
		memcpy(s->d, tmp, (size_t)n + 1);
		s->len = (size_t)n;
		o->s = s;
		kv_modified(c, &argv[1]);
	} else {
		o = new_string(tmp, (size_t)n);
		if (!o || db_set(c, &argv[1], o) < 0) {
			obj_free(o);
			oom(c);
			return;
		}
	}
	nv.p = tmp;
	nv.len = (size_t)n;
	kv_log_cmd(c, "SET %s %s KEEPTTL", &argv[1], &nv);
	r_bulk(c, tmp, (size_t)n);
}

KV_CMD(cmd_append);
KV_CMD(cmd_append)
{
	bool wrong;
	kobj_t *o = db_get_type(c, &argv[1], T_STRING, &wrong);
	(void)argc;
	if (wrong)
		return;
	if (!o) {
		o = new_string(argv[2].p, argv[2].len);
		if (!o || db_set(c, &argv[1], o) < 0) {
			obj_free(o);
			oom(c);
			return;
		}
	} else {
		ks_t *s;
		if (o->s->len + argv[2].len > (size_t)RESP_BULK_MAX) {
			r_err(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
			return;
		}
		s = ks_grow(o->s, o->s->len + argv[2].len);
		if (!s) {
			oom(c);
			return;
		}
		memcpy(s->d + s->len, argv[2].p, argv[2].len);
		s->len += argv[2].len;
		s->d[s->len] = 0;
		o->s = s;
		kv_modified(c, &argv[1]);
	}
	r_int(c, (long long)o->s->len);
}

KV_CMD(cmd_strlen);
KV_CMD(cmd_strlen)
{
	bool wrong;
	kobj_t *o = db_get_type(c, &argv[1], T_STRING, &wrong);
	(void)argc;
	if (!wrong)
		r_int(c, o ? (long long)o->s->len : 0);
}

KV_CMD(cmd_getrange);
KV_CMD(cmd_getrange)
{
	long long s, e, len;
	bool wrong;
	kobj_t *o;

	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &s) < 0 || arg_ll_or_reply(c, &argv[3], &e) < 0)
		return;
	o = db_get_type(c, &argv[1], T_STRING, &wrong);
	if (wrong)
		return;
	if (!o) {
		r_bulk(c, "", 0);
		return;
	}
	len = (long long)o->s->len;
	if (s < 0 && e < 0 && s > e) {
		r_bulk(c, "", 0);
		return;
	}
	if (s < 0)
		s += len;
	if (e < 0)
		e += len;
	if (s < 0)
		s = 0;
	if (e < 0)
		e = 0;
	if (e >= len)
		e = len - 1;
	if (s > e || len == 0) {
		r_bulk(c, "", 0);
		return;
	}
	r_bulk(c, o->s->d + s, (size_t)(e - s + 1));
}

KV_CMD(cmd_setrange);
KV_CMD(cmd_setrange)
{
	long long off;
	bool wrong;
	kobj_t *o;

	(void)argc;
	if (arg_ll_or_reply(c, &argv[2], &off) < 0)
		return;
	if (off < 0) {
		r_err(c, "ERR offset is out of range");
		return;
	}
	o = db_get_type(c, &argv[1], T_STRING, &wrong);
	if (wrong)
		return;
	if (!o && argv[3].len == 0) {
		r_int(c, 0);
		return;
	}
	if (argv[3].len && (unsigned long long)off + argv[3].len > (unsigned long long)RESP_BULK_MAX) {
		r_err(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
		return;
	}
	if (!o) {
		o = new_string("", 0);
		if (!o || db_set(c, &argv[1], o) < 0) {
			obj_free(o);
			oom(c);
			return;
		}
	}
	if (argv[3].len) {
		size_t need = (size_t)off + argv[3].len;
		ks_t *s = o->s;
		if (need > s->len) {
			s = ks_grow(s, need);
			if (!s) {
				oom(c);
				return;
			}
			memset(s->d + s->len, 0, need - s->len);
			s->len = need;
			s->d[need] = 0;
			o->s = s;
		}
		memcpy(s->d + off, argv[3].p, argv[3].len);
		kv_modified(c, &argv[1]);
	}
	r_int(c, (long long)o->s->len);
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

KV_CMD(cmd_del);
KV_CMD(cmd_del)
{
	long long n = 0;
	int i;
	for (i = 1; i < argc; i++)
		if (db_del(c, &argv[i]))
			n++;
	r_int(c, n);
}

KV_CMD(cmd_exists);
KV_CMD(cmd_exists)
{
	long long n = 0;
	int i;
	for (i = 1; i < argc; i++)
		if (db_get(c, &argv[i]))
			n++;
	r_int(c, n);
}

KV_CMD(cmd_type);
KV_CMD(cmd_type)
{
	kobj_t *o = db_get(c, &argv[1]);
	(void)argc;
	r_simple(c, o ? obj_type_name(o->type) : "none");
}

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX/XX/GT/LT. */
KV_CMD(cmd_expire);
KV_CMD(cmd_expire)
{
	const char *name = argv[0].len == 6 ? "expire" : argv[0].len == 7 ? "pexpire" :
			   argv[0].len == 8 ? "expireat" : "pexpireat";
	bool ms = (argv[0].p[0] | 32) == 'p';
	bool at = argv[0].len >= 8;
	int flags = 0, i;
	long long v;
	int64_t when;
	kobj_t *o;

	for (i = 3; i < argc; i++) {
		if (arg_is(&argv[i], "NX"))
			flags |= 1;
		else if (arg_is(&argv[i], "XX"))
			flags |= 2;
		else if (arg_is(&argv[i], "GT"))
			flags |= 4;
		else if (arg_is(&argv[i], "LT"))
			flags |= 8;
		else {
			r_err(c, "ERR Unsupported option %.*s", (int)argv[i].len, argv[i].p);
			return;
		}
	}
	if ((flags & 1) && (flags & 14)) {
		r_err(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
		return;
	}
	if ((flags & 4) && (flags & 8)) {
		r_err(c, "ERR GT and LT options at the same time are not compatible");
		return;
	}
	if (arg_ll_or_reply(c, &argv[2], &v) < 0)
		return;
	if (!ms && (v > LLONG_MAX / 1000 || v < LLONG_MIN / 1000)) {
		r_err(c, "ERR invalid expire time in '%s' command", name);
		return;
	}
	if (!ms)
		v *= 1000;
	if (!at) {
		int64_t now = kv_mstime();
		if ((v > 0 && v > LLONG_MAX - now) || (v < 0 && v < LLONG_MIN + now)) {
			r_err(c, "ERR invalid expire time in '%s' command", name);
			return;
		}
		v += now;
	}
	when = v;
	o = db_get(c, &argv[1]);
	if (!o) {
		r_int(c, 0);
		return;
	}
	if (flags) {
		int64_t cur = o->expire;
		if ((flags & 1) && cur >= 0) {
			r_int(c, 0);
			return;
		}
		if ((flags & 2) && cur < 0) {
			r_int(c, 0);
			return;
		}
		if ((flags & 4) && (cur < 0 || when <= cur)) {
			r_int(c, 0);
			return;
		}
		if ((flags & 8) && cur >= 0 && when >= cur) {
			r_int(c, 0);
			return;
		}
	}
	if (when <= kv_mstime() && !kv_replaying(c)) {
		db_del(c, &argv[1]);
		kv_log_cmd(c, "DEL %s", &argv[1]);
	} else {
		set_expire(c, &argv[1], o, when);
		kv_modified(c, &argv[1]);
		kv_log_cmd(c, "PEXPIREAT %s %d", &argv[1], (long long)when);
	}
	r_int(c, 1);
}

KV_CMD(cmd_ttl);
KV_CMD(cmd_ttl)
{
	kobj_t *o = db_get(c, &argv[1]);
	bool ms = (argv[0].p[0] | 32) == 'p';
	bool abs = argv[0].len >= 10;   /* (P)EXPIRETIME */
	int64_t left;
	(void)argc;
	if (!o) {
		r_int(c, -2);
		return;
	}
	if (o->expire < 0) {
		r_int(c, -1);
		return;
	}
	if (abs) {
		r_int(c, ms ? o->expire : (o->expire + 500) / 1000);
		return;
	}
	left = o->expire - kv_mstime();
	if (left < 0)
		left = 0;
	r_int(c, ms ? left : (left + 500) / 1000);
}

KV_CMD(cmd_persist);
KV_CMD(cmd_persist)
{
	kobj_t *o = db_get(c, &argv[1]);
	(void)argc;
	if (!o || o->expire < 0) {
		r_int(c, 0);
		return;
	}
	set_expire(c, &argv[1], o, -1);
	kv_modified(c, &argv[1]);
	r_int(c, 1);
}

KV_CMD(cmd_rename);
KV_CMD(cmd_rename)
{
	bool nx = argv[0].len == 8;
	kobj_t *o = db_get(c, &argv[1]), *n;
	dict_t *d;
	de_t *e;

	(void)argc;
	if (!o) {
		r_err(c, "ERR no such key");
		return;
	}
	if (argv[1].len == argv[2].len && !memcmp(argv[1].p, argv[2].p, argv[1].len)) {
		if (nx)
			r_int(c, 0);
		else
			r_ok(c);
		return;
	}
	if (nx && db_get(c, &argv[2])) {
		r_int(c, 0);
		return;
	}
	/* Move the object itself: unlink from the old key, set at the new. */
	d = db_dict(c, c->db, argv[1].p, argv[1].len);
	e = dict_unlink(d, argv[1].p, argv[1].len);
	n = e->v;
	dict_free_entry(e);
	if (n->expire >= 0)
		kv_expires_add(c, c->db, argv[1].p, argv[1].len, -1);
	kv_modified(c, &argv[1]);
	if (db_set(c, &argv[2], n) < 0) {
		obj_free(n);
		oom(c);
		return;
	}
	if (nx)
		r_int(c, 1);
	else
		r_ok(c);
}

struct scan_ctx {
	kv_client_t *c;
	ks_t **keys;
	size_t n, cap;
	const kv_arg_t *pat;
	int type;
	int64_t now;
};

static void scan_collect(de_t *e, void *arg)
{
	struct scan_ctx *s = arg;
	kobj_t *o = e->v;
	if (o->expire >= 0 && o->expire <= s->now)
		return;
	if (s->type >= 0 && o->type != s->type)
		return;
	if (s->pat && !kv_match(s->pat->p, s->pat->len, e->key->d, e->key->len, false))
		return;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		ks_t **nk = realloc(s->keys, nc * sizeof(*nk));
		if (!nk)
			return;
		s->keys = nk;
		s->cap = nc;
	}
	s->keys[s->n++] = e->key;
}

KV_CMD(cmd_keys);
KV_CMD(cmd_keys)
{
	struct scan_ctx s = { .c = c, .pat = &argv[1], .type = -1, .now = kv_mstime() };
	unsigned i;
	size_t j;

	(void)argc;
	if (argv[1].len == 1 && argv[1].p[0] == '*')
		s.pat = NULL;
	for (i = 0; i < c->srv->nshards; i++) {
		dict_t *d = &c->srv->shards[i].db[c->db];
		uint64_t cur = 0;
		do {
			cur = dict_scan(d, cur, scan_collect, &s);
		} while (cur);
	}
	r_arr(c, (long)s.n);
	for (j = 0; j < s.n; j++)
		r_bulk(c, s.keys[j]->d, s.keys[j]->len);
	free(s.keys);
}

static int type_of_name(const kv_arg_t *a)
{
	static const char *n[] = { "string", "list", "hash", "set", "zset" };
	int i;
	for (i = 0; i < 5; i++)
		if (arg_is(a, n[i]))
			return i;
	return 99;   /* unknown type: matches nothing, as Redis */
}

/* SCAN cursor: shard index in the low 6 bits, that shard's dict cursor
 * above; one call visits buckets until COUNT keys are collected. */
KV_CMD(cmd_scan);
KV_CMD(cmd_scan)
{
	struct scan_ctx s = { .c = c, .type = -1, .now = kv_mstime() };
	unsigned long long cur;
	long long count = 10;
	unsigned shard;
	uint64_t dc;
	int i;
	size_t j;
	char tmp[32];

	if (resp_ll(argv[1].p, argv[1].len, (long long *)&cur) < 0 &&
	    sscanf(argv[1].p, "%llu", &cur) != 1) {
		r_err(c, "ERR invalid cursor");
		return;
	}
	for (i = 2; i < argc; i++) {
		if (arg_is(&argv[i], "MATCH") && i + 1 < argc) {
			s.pat = &argv[++i];
			if (s.pat->len == 1 && s.pat->p[0] == '*')
				s.pat = NULL;
		} else if (arg_is(&argv[i], "COUNT") && i + 1 < argc) {
			if (arg_ll_or_reply(c, &argv[++i], &count) < 0)
				return;
			if (count < 1) {
				r_syntax(c);
				return;
			}
		} else if (arg_is(&argv[i], "TYPE") && i + 1 < argc) {
			s.type = type_of_name(&argv[++i]);
		} else {
			r_syntax(c);
			return;
		}
	}
	shard = (unsigned)(cur & 63);
	dc = cur >> 6;
	while (shard < c->srv->nshards) {
		dict_t *d = &c->srv->shards[shard].db[c->db];
		long steps = 0;
		do {
			dc = dict_scan(d, dc, scan_collect, &s);
			steps++;
		} while (dc && (long long)s.n < count && steps < count * 10);
		if (dc)
			break;
		shard++;
		if ((long long)s.n >= count)
			break;
	}
	cur = shard >= c->srv->nshards ? 0 : ((unsigned long long)dc << 6) | shard;
	r_arr(c, 2);
	snprintf(tmp, sizeof(tmp), "%llu", cur);
	r_cstr(c, tmp);
	r_arr(c, (long)s.n);
	for (j = 0; j < s.n; j++)
		r_bulk(c, s.keys[j]->d, s.keys[j]->len);
	free(s.keys);
}

KV_CMD(cmd_randomkey);
KV_CMD(cmd_randomkey)
{
	unsigned i, start = (unsigned)random();
	(void)argc;
	(void)argv;
	for (i = 0; i < c->srv->nshards; i++) {
		dict_t *d = &c->srv->shards[(start + i) % c->srv->nshards].db[c->db];
		de_t *e = dict_random(d);
		if (e) {
			r_bulk(c, e->key->d, e->key->len);
			return;
		}
	}
	r_null(c);
}

KV_CMD(cmd_dbsize);
KV_CMD(cmd_dbsize)
{
	unsigned i;
	long long n = 0;
	(void)argc;
	(void)argv;
	for (i = 0; i < c->srv->nshards; i++)
		n += (long long)c->srv->shards[i].db[c->db].n;
	r_int(c, n);
}

/* Touch every watched key that exists in db (as FLUSHDB does). */
static void flush_db(kv_client_t *c, int db)
{
	unsigned i;
	size_t b;
	for (i = 0; i < c->srv->nshards; i++) {
		kv_shard_t *sh = &c->srv->shards[i];
		if (sh->watch[db].n && sh->watch[db].t) {
			for (b = 0; b <= sh->watch[db].mask; b++) {
				de_t *e;
				for (e = sh->watch[db].t[b]; e; e = e->next) {
					watcher_t *w;
					if (!dict_find(&sh->db[db], e->key->d, e->key->len))
						continue;
					for (w = e->v; w; w = w->next)
						atomic_store(&w->c->dirty_cas, true);
				}
			}
		}
		c->dirty += (long)sh->db[db].n;
		if (sh->db[db].n)
			kv_bump_all(sh);
		dict_clear(&sh->db[db], obj_free);
		sh->nexpires[db] = 0;
		sh->exp_cursor[db] = 0;
	}
}

KV_CMD(cmd_flushdb);
KV_CMD(cmd_flushdb)
{
	bool all = argv[0].len == 8;
	int d;
	if (argc > 2 || (argc == 2 && !arg_is(&argv[1], "ASYNC") && !arg_is(&argv[1], "SYNC"))) {
		r_syntax(c);
		return;
	}
	if (all)
		for (d = 0; d < KV_DBS; d++)
			flush_db(c, d);
	else
		flush_db(c, c->db);
	c->dirty++;
	kv_log_cmd(c, all ? "FLUSHALL" : "FLUSHDB");
	r_ok(c);
}

/* Active expiry: sample a shard's keys with expiries, a bounded step. */
struct exp_ctx {
	ks_t *dead[64];
	int n;
	int64_t now;
};

static void exp_collect(de_t *e, void *arg)
{
	struct exp_ctx *x = arg;
	kobj_t *o = e->v;
	if (x->n < 64 && o->expire >= 0 && o->expire <= x->now)
		x->dead[x->n++] = ks_new(e->key->d, e->key->len);
}

void kv_active_expire(kv_srv_t *srv, unsigned shard, int budget)
{
	kv_shard_t *sh = &srv->shards[shard];
	kv_client_t *c;
	int db, i;

	if (srv->wal_error || (srv->raft && !kv_raft_may_expire(srv)))
		return;
	c = kv_client_new(srv);
	if (!c)
		return;
	atomic_fetch_sub(&srv->nclients, 1);   /* not a connection */
	for (db = 0; db < KV_DBS; db++) {
		struct exp_ctx x = { .n = 0 };
		int steps = 0;
		pthread_mutex_lock(&sh->mu);
		c->shard_locked[shard] = true;
		if (!sh->nexpires[db] || !sh->db[db].n) {
			c->shard_locked[shard] = false;
			pthread_mutex_unlock(&sh->mu);
			continue;
		}
		x.now = kv_mstime();
		do {
			sh->exp_cursor[db] = dict_scan(&sh->db[db], sh->exp_cursor[db], exp_collect, &x);
		} while (sh->exp_cursor[db] && ++steps < budget && x.n < 64);
		c->db = db;
		for (i = 0; i < x.n; i++) {
			kv_arg_t k = arg_of(x.dead[i]);
			db_get(c, &k);           /* deletes, logs DEL, touches */
			ks_free(x.dead[i]);
		}
		if (c->txlog_n && srv->wal)
			kv_wal_append(srv, c->txlog.p, c->txlog.len, c->txlog_n);
		else if (c->txlog_n && srv->raft)
			kv_raft_append(srv, c->txlog.p, c->txlog.len, c->txlog_n);
		c->txlog.len = 0;
		c->txlog_n = 0;
		c->shard_locked[shard] = false;
		pthread_mutex_unlock(&sh->mu);
	}
	atomic_fetch_add(&srv->nclients, 1);
	kv_client_free(c);
}
