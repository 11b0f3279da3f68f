/*
 * reply.c: writing replies in RESP2 or RESP3 (per client, chosen by HELLO),
 * Redis's error texts that many commands share, and argument parsing with
 * Redis's number rules.  Not for: requests (resp.c).
 */
#include "kv_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void kbuf_put(kbuf_t *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		char *np;
		while (nc < b->len + n)
			nc *= 2;
		np = realloc(b->p, nc);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void kbuf_free(kbuf_t *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void put_hdr(kv_client_t *c, char t, long long n)
{
	char tmp[32];
	int l = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", t, n);
	kbuf_put(&c->r, tmp, (size_t)l);
}

void r_ok(kv_client_t *c)
{
	kbuf_put(&c->r, "+OK\r\n", 5);
}

void r_simple(kv_client_t *c, const char *s)
{
	kbuf_put(&c->r, "+", 1);
	kbuf_put(&c->r, s, strlen(s));
	kbuf_put(&c->r, "\r\n", 2);
}

void r_err(kv_client_t *c, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;
	size_t i;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	for (i = 0; i < (size_t)n; i++)   /* an error is one line */
		if (tmp[i] == '\r' || tmp[i] == '\n')
			tmp[i] = ' ';
	kbuf_put(&c->r, "-", 1);
	kbuf_put(&c->r, tmp, (size_t)n);
	kbuf_put(&c->r, "\r\n", 2);
}

void r_int(kv_client_t *c, long long v)
{
	put_hdr(c, ':', v);
}

void r_bulk(kv_client_t *c, const void *p, size_t n)
{
	put_hdr(c, '$', (long long)n);
	kbuf_put(&c->r, p, n);
	kbuf_put(&c->r, "\r\n", 2);
}

void r_cstr(kv_client_t *c, const char *s)
{
	r_bulk(c, s, strlen(s));
}

void r_null(kv_client_t *c)
{
	if (c->resp == 3)
		kbuf_put(&c->r, "_\r\n", 3);
	else
		kbuf_put(&c->r, "$-1\r\n", 5);
}

void r_nullarr(kv_client_t *c)
{
	if (c->resp == 3)
		kbuf_put(&c->r, "_\r\n", 3);
	else
		kbuf_put(&c->r, "*-1\r\n", 5);
}

void r_arr(kv_client_t *c, long n)
{
	put_hdr(c, '*', n);
}

void r_map(kv_client_t *c, long n)
{
	if (c->resp == 3)
		put_hdr(c, '%', n);
	else
		put_hdr(c, '*', 2 * n);
}

void r_set(kv_client_t *c, long n)
{
	put_hdr(c, c->resp == 3 ? '~' : '*', n);
}

void r_push(kv_client_t *c, long n)
{
	put_hdr(c, c->resp == 3 ? '>' : '*', n);
}

void fmt_double(char *buf, size_t cap, double d)
{
	if (isinf(d))
		snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
	else
		snprintf(buf, cap, "%.17g", d);
}

void r_double(kv_client_t *c, double d)
{
	char tmp[64];
	fmt_double(tmp, sizeof(tmp), d);
	if (c->resp == 3) {
		kbuf_put(&c->r, ",", 1);
		kbuf_put(&c->r, tmp, strlen(tmp));
		kbuf_put(&c->r, "\r\n", 2);
	} else {
		r_cstr(c, tmp);
	}
}

void r_verbatim(kv_client_t *c, const char *s, size_t n)
{
	if (c->resp == 3) {
		put_hdr(c, '=', (long long)n + 4);
		kbuf_put(&c->r, "txt:", 4);
		kbuf_put(&c->r, s, n);
		kbuf_put(&c->r, "\r\n", 2);
	} else {
		r_bulk(c, s, n);
	}
}

void r_bool(kv_client_t *c, bool b)
{
	if (c->resp == 3)
		kbuf_put(&c->r, b ? "#t\r\n" : "#f\r\n", 4);
	else
		r_int(c, b);
}

void r_wrongtype(kv_client_t *c)
{
	r_err(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void r_syntax(kv_client_t *c)
{
	r_err(c, "ERR syntax error");
}

void r_notint(kv_client_t *c)
{
	r_err(c, "ERR value is not an integer or out of range");
}

void r_notfloat(kv_client_t *c)
{
	r_err(c, "ERR value is not a valid float");
}

void r_arity(kv_client_t *c, const char *name)
{
	r_err(c, "ERR wrong number of arguments for '%s' command", name);
}

/* ------------------------------------------------------------------ */

int arg_ll(const kv_arg_t *a, long long *v)
{
	return resp_ll(a->p, a->len, v);
}

int arg_double(const kv_arg_t *a, double *v)
{
	char tmp[128], *end;
	double d;

	if (a->len == 0 || a->len >= sizeof(tmp) || memchr(a->p, 0, a->len))
		return -EINVAL;
	memcpy(tmp, a->p, a->len);
	tmp[a->len] = 0;
	if (tmp[0] == ' ' || tmp[0] == '\t' || tmp[a->len - 1] == ' ')
		return -EINVAL;
	errno = 0;
	d = strtod(tmp, &end);
	if (*end || isnan(d) || (errno == ERANGE && !isinf(d) && d != 0 && fabs(d) > 1))
		return -EINVAL;
	*v = d;
	return 0;
}

bool arg_is(const kv_arg_t *a, const char *lit)
{
	size_t l = strlen(lit);
	return a->len == l && strncasecmp(a->p, lit, l) == 0;
}

int arg_ll_or_reply(kv_client_t *c, const kv_arg_t *a, long long *v)
{
	if (arg_ll(a, v) < 0) {
		r_notint(c);
		return -EINVAL;
	}
	return 0;
}

int arg_double_or_reply(kv_client_t *c, const kv_arg_t *a, double *v)
{
	if (arg_double(a, v) < 0) {
		r_notfloat(c);
		return -EINVAL;
	}
	return 0;
}

kv_arg_t arg_of(const ks_t *s)
{
	kv_arg_t a = { s->d, s->len };
	return a;
}
