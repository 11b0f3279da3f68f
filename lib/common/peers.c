/*
 * peers.c: parse a replication peer list (syntax in myco_peers.h).  Strict: every byte
 * is accounted for, numbers are decimal without sign or leading zeros and
 * in range, and the message says which peer and what is wrong.  Not for:
 * resolving names (raft's transport does that) or raft itself.
 */
#include "myco_peers.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Decimal in [lo, hi], no sign, no leading zero, no spaces. */
static bool num(const char *p, size_t n, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && p[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		unsigned d;
		if (p[i] < '0' || p[i] > '9')
			return false;
		d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool host_ok(const char *p, size_t n)
{
	size_t i;
	if (n == 0 || n > MYCO__PEER_HOST_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static int parse_one(const char *p, size_t n, unsigned idx, myco__peer_t *o, char *err,
		     size_t errlen)
{
	const char *eq, *c1, *c2, *end = p + n;
	uint64_t v;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end)
		return fail(err, errlen, "peer %u: empty (want ID=HOST:PORT:RAFTPORT)", idx);
	eq = memchr(p, '=', (size_t)(end - p));
	if (!eq)
		return fail(err, errlen, "peer %u: '%.*s' has no '=' (want ID=HOST:PORT:RAFTPORT)",
			    idx, (int)(end - p > 80 ? 80 : end - p), p);
	if (!num(p, (size_t)(eq - p), 1, INT64_MAX, &v))
		return fail(err, errlen, "peer %u: id '%.*s' is not a number 1..%lld", idx,
			    (int)(eq - p > 40 ? 40 : eq - p), p, (long long)INT64_MAX);
	o->id = v;
	p = eq + 1;
	c1 = memchr(p, ':', (size_t)(end - p));
	c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	if (!c1 || !c2 || memchr(c2 + 1, ':', (size_t)(end - c2 - 1)))
		return fail(err, errlen, "peer %u: '%.*s' is not HOST:PORT:RAFTPORT", idx,
			    (int)(end - p > 80 ? 80 : end - p), p);
	if (!host_ok(p, (size_t)(c1 - p)))
		return fail(err, errlen, "peer %u: bad host '%.*s' (IPv4 address or name, "
			    "at most %d bytes)", idx, (int)(c1 - p > 80 ? 80 : c1 - p), p,
			    MYCO__PEER_HOST_MAX);
	memcpy(o->host, p, (size_t)(c1 - p));
	o->host[c1 - p] = 0;
	if (!num(c1 + 1, (size_t)(c2 - c1 - 1), 1, 65535, &v))
		return fail(err, errlen, "peer %u: port '%.*s' is not 1..65535", idx,
			    (int)(c2 - c1 - 1 > 40 ? 40 : c2 - c1 - 1), c1 + 1);
	o->port = (unsigned)v;
	if (!num(c2 + 1, (size_t)(end - c2 - 1), 1, 65535, &v))
		return fail(err, errlen, "peer %u: raft port '%.*s' is not 1..65535", idx,
			    (int)(end - c2 - 1 > 40 ? 40 : end - c2 - 1), c2 + 1);
	o->raft_port = (unsigned)v;
	snprintf(o->raft_addr, sizeof(o->raft_addr), "%s:%u", o->host, o->raft_port);
	snprintf(o->client_addr, sizeof(o->client_addr), "%s:%u", o->host, o->port);
	return 0;
}

int myco__peers_parse(const char *s, myco__peer_t *out, size_t *n, char *err, size_t errlen)
{
	size_t cnt = 0, i;
	const char *p = s;
	int rc;

	*n = 0;
	if (!s || !*s)
		return fail(err, errlen, "empty peer list (want ID=HOST:PORT:RAFTPORT,...)");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (cnt == MYCO__PEERS_MAX)
			return fail(err, errlen, "more than %d peers", MYCO__PEERS_MAX);
		memset(&out[cnt], 0, sizeof(out[cnt]));
		if ((rc = parse_one(p, len, (unsigned)cnt + 1, &out[cnt], err, errlen)) < 0)
			return rc;
		for (i = 0; i < cnt; i++) {
			if (out[i].id == out[cnt].id)
				return fail(err, errlen, "peer %zu: id %llu given twice", cnt + 1,
					    (unsigned long long)out[cnt].id);
			if (!strcmp(out[i].raft_addr, out[cnt].raft_addr))
				return fail(err, errlen, "peer %zu: raft address %s given twice",
					    cnt + 1, out[cnt].raft_addr);
		}
		cnt++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*n = cnt;
	return 0;
}
