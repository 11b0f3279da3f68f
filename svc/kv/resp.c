/*
 * resp.c: parse one Redis request (multibulk or inline) from a buffer.
 * Hand-written because it is small (about 200 lines), must give Redis's
 * exact protocol error texts, and must point into the connection's buffer
 * without copying; hiredis's reader parses replies, not requests.
 * Not for: replies (reply.c).
 */
#include "resp.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int resp_ll(const char *p, size_t len, long long *out)
{
	unsigned long long v = 0, lim;
	bool neg = false;
	size_t i = 0;

	if (len == 0 || len > 20)
		return -EINVAL;
	if (len == 1 && p[0] == '0') {
		*out = 0;
		return 0;
	}
	if (p[0] == '-') {
		neg = true;
		i = 1;
		if (len == 1)
			return -EINVAL;
	}
	if (p[i] < '1' || p[i] > '9')
		return -EINVAL;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; i < len; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		d = (unsigned)(p[i] - '0');
		if (v > (lim - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

static int push_arg(kv_req_t *r, const char *p, size_t len)
{
	if (r->argc == r->cap) {
		int nc = r->cap ? r->cap * 2 : 16;
		kv_arg_t *na = realloc(r->argv, (size_t)nc * sizeof(*na));
		if (!na)
			return -ENOMEM;
		r->argv = na;
		r->cap = nc;
	}
	r->argv[r->argc].p = p;
	r->argv[r->argc].len = len;
	r->argc++;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

/* Split an inline line as Redis's sdssplitargs does: words, "double quoted
 * with \n \r \t \b \a \xHH escapes", 'single quoted with \''.  A closing
 * quote must be followed by a space or the end.  Arguments are unescaped
 * into req->inl; argv points there.  -EPROTO on unbalanced quotes. */
static int split_inline(kv_req_t *r, const char *s, size_t n)
{
	size_t i = 0, o = 0;
	struct { size_t off, len; } tmp;
	int rc;

	if (r->inl_cap < n + 1) {
		char *ni = realloc(r->inl, n + 1);
		if (!ni)
			return -ENOMEM;
		r->inl = ni;
		r->inl_cap = n + 1;
	}
	for (;;) {
		int inq = 0;   /* 1 double, 2 single */
		bool done = false;
		while (i < n && is_space(s[i]))
			i++;
		if (i >= n)
			break;
		tmp.off = o;
		while (!done) {
			if (inq == 1) {
				if (i >= n)
					return -EPROTO;
				if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' &&
				    hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
					r->inl[o++] = (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
					i += 4;
				} else if (s[i] == '\\' && i + 1 < n) {
					char c;
					i++;
					switch (s[i]) {
					case 'n': c = '\n'; break;
					case 'r': c = '\r'; break;
					case 't': c = '\t'; break;
					case 'b': c = '\b'; break;
					case 'a': c = '\a'; break;
					default: c = s[i]; break;
					}
					r->inl[o++] = c;
					i++;
				} else if (s[i] == '"') {
					if (i + 1 < n && !is_space(s[i + 1]))
						return -EPROTO;
					done = true;
					i++;
				} else {
					r->inl[o++] = s[i++];
				}
			} else if (inq == 2) {
				if (i >= n)
					return -EPROTO;
				if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
					r->inl[o++] = '\'';
					i += 2;
				} else if (s[i] == '\'') {
					if (i + 1 < n && !is_space(s[i + 1]))
						return -EPROTO;
					done = true;
					i++;
				} else {
					r->inl[o++] = s[i++];
				}
			} else {
				if (i >= n || is_space(s[i])) {
					done = true;
				} else if (s[i] == '"') {
					inq = 1;
					i++;
				} else if (s[i] == '\'') {
					inq = 2;
					i++;
				} else {
					r->inl[o++] = s[i++];
				}
			}
		}
		tmp.len = o - tmp.off;
		/* r->inl does not move from here on: argv may point into it. */
		if ((rc = push_arg(r, r->inl + tmp.off, tmp.len)) < 0)
			return rc;
	}
	return 0;
}

static int parse_inline(const char *buf, size_t len, kv_req_t *req, const char **err)
{
	const char *nl = memchr(buf, '\n', len < RESP_INLINE_MAX ? len : RESP_INLINE_MAX);
	size_t ll;
	int rc;

	if (!nl) {
		if (len >= RESP_INLINE_MAX) {
			*err = "ERR Protocol error: too big inline request";
			return -EPROTO;
		}
		return 0;
	}
	ll = (size_t)(nl - buf);
	if (ll && buf[ll - 1] == '\r')
		ll--;
	rc = split_inline(req, buf, ll);
	if (rc == -EPROTO) {
		req->argc = 0;
		*err = "ERR Protocol error: unbalanced quotes in request";
		return rc;
	}
	if (rc < 0)
		return rc;
	return (int)(nl - buf + 1);
}

/* Find CRLF at or after p (within end); NULL if not there yet. */
static const char *find_crlf(const char *p, const char *end)
{
	const char *q = p;
	while (q < end) {
		const char *r = memchr(q, '\r', (size_t)(end - q));
		if (!r || r + 1 >= end)
			return NULL;
		if (r[1] == '\n')
			return r;
		q = r + 1;
	}
	return NULL;
}

int resp_parse(const char *buf, size_t len, kv_req_t *req, const char **err)
{
	const char *p = buf, *end = buf + len, *cr;
	long long n, bl, i;

	req->argc = 0;
	*err = NULL;
	if (len == 0)
		return 0;
	if (buf[0] != '*')
		return parse_inline(buf, len, req, err);
	cr = find_crlf(p + 1, end);
	if (!cr) {
		if (len > RESP_INLINE_MAX) {
			*err = "ERR Protocol error: too big mbulk count string";
			return -EPROTO;
		}
		return 0;
	}
	if (resp_ll(p + 1, (size_t)(cr - p - 1), &n) < 0 || n > INT_MAX) {
		*err = "ERR Protocol error: invalid multibulk length";
		return -EPROTO;
	}
	p = cr + 2;
	if (n <= 0)
		return (int)(p - buf);
	for (i = 0; i < n; i++) {
		int rc;
		if (p >= end)
			return 0;
		if (*p != '$') {
			static _Thread_local char msg[64];  /* one byte varies */
			static const char pre[] = "ERR Protocol error: expected '$', got '";
			memcpy(msg, pre, sizeof(pre) - 1);
			msg[sizeof(pre) - 1] = *p;
			msg[sizeof(pre)] = '\'';
			msg[sizeof(pre) + 1] = 0;
			*err = msg;
			req->argc = 0;
			return -EPROTO;
		}
		cr = find_crlf(p + 1, end);
		if (!cr) {
			if ((size_t)(end - p) > RESP_INLINE_MAX) {
				*err = "ERR Protocol error: too big bulk count string";
				req->argc = 0;
				return -EPROTO;
			}
			return 0;
		}
		if (resp_ll(p + 1, (size_t)(cr - p - 1), &bl) < 0 || bl < 0 ||
		    bl > RESP_BULK_MAX) {
			*err = "ERR Protocol error: invalid bulk length";
			req->argc = 0;
			return -EPROTO;
		}
		p = cr + 2;
		if ((long long)(end - p) < bl + 2)
			return 0;
		/* As Redis: the two bytes after the payload are skipped unread. */
		if ((rc = push_arg(req, p, (size_t)bl)) < 0)
			return rc;
		p += bl + 2;
	}
	if (p - buf > INT_MAX)
		return -EPROTO;
	return (int)(p - buf);
}

void resp_req_free(kv_req_t *req)
{
	free(req->argv);
	free(req->inl);
	req->argv = NULL;
	req->inl = NULL;
	req->argc = req->cap = 0;
	req->inl_cap = 0;
}
