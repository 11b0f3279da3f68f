/*
 * caps.c: the capability manifest (MYCO_CAPS): its one writer, used by the
 * executive (exec/chans.c for channel ends, exec/ports.c for listening
 * sockets, exec/collect.c for trace regions, exec/spawn.c for io_uring
 * rings), and its one parser, used by libmyco (lib/part/part.c).  The
 * grammar is in part_abi.h and docs/part-abi.md.  Stateless: no globals,
 * no allocation.  Not for: deciding what a partition gets (exec/chans.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "part_abi.h"

#define TRACE_RING    "trace/ring"
#define TRACE_METRICS "trace/metrics"
#define URING_RINGS   "uring/rings"
#define RECORD_RING   "record/ring"
#define LOANS_REGION  "loans/region"

static int name_ok(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len < MYCO__CAP_NAME_MAX && !strpbrk(n, ":;,/");
}

int myco__caps_append(char *buf, size_t cap, const struct myco__cap *c)
{
	size_t used = strnlen(buf, cap);
	size_t at = used;
	int w;

	if (used >= cap)
		return -EINVAL;
	if (c->nfds < 1 ||
	    c->nfds > (c->kind == MYCO__CAP_CHAN ? MYCO_CHAN_MAX_FDS :
		       c->kind == MYCO__CAP_URING ? MYCO__URING_MAX : 1u))
		return -EINVAL;
	for (size_t i = 0; i < c->nfds; i++)
		if (c->fds[i] < 0)
			return -EINVAL;
	if (c->kind == MYCO__CAP_CHAN) {
		if (!name_ok(c->name) || c->role < MYCO_CHAN_PRODUCER ||
		    c->role > MYCO_CHAN_SERVER)
			return -EINVAL;
		w = snprintf(buf + at, cap - at, "%s%s:%d:%u:", used ? ";" : "",
			     c->name, (int)c->role, c->index);
	} else if (c->kind == MYCO__CAP_PORT && c->port) {
		w = snprintf(buf + at, cap - at, "%stcp/%u:", used ? ";" : "",
			     (unsigned)c->port);
	} else if (c->kind == MYCO__CAP_TRACE_RING ||
		   c->kind == MYCO__CAP_TRACE_METRICS || c->kind == MYCO__CAP_RECORD_RING) {
		w = snprintf(buf + at, cap - at, "%s%s:", used ? ";" : "",
			     c->kind == MYCO__CAP_TRACE_RING ? TRACE_RING :
			     c->kind == MYCO__CAP_RECORD_RING ? RECORD_RING : TRACE_METRICS);
	} else if (c->kind == MYCO__CAP_LOANS) {
		w = snprintf(buf + at, cap - at, "%s" LOANS_REGION ":", used ? ";" : "");
	} else if (c->kind == MYCO__CAP_URING) {
		w = snprintf(buf + at, cap - at, "%s" URING_RINGS ":", used ? ";" : "");
	} else {
		return -EINVAL;
	}
	if (w < 0 || (size_t)w >= cap - at)
		goto big;
	at += (size_t)w;
	for (size_t i = 0; i < c->nfds; i++) {
		w = snprintf(buf + at, cap - at, "%s%d", i ? "," : "", c->fds[i]);
		if (w < 0 || (size_t)w >= cap - at)
			goto big;
		at += (size_t)w;
	}
	return 0;
big:
	buf[used] = 0;
	return -E2BIG;
}

/* A plain decimal number in [0, max]: digits only.  Returns the position
 * after it, or NULL. */
static const char *number(const char *s, unsigned long long max,
			  unsigned long long *v)
{
	unsigned long long x = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		x = x * 10 + (unsigned)(*p - '0');
		if (x > max)
			return NULL;
		p++;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

/* Parse one entry at s into c; returns the position after it or NULL. */
static const char *entry(const char *s, struct myco__cap *c)
{
	unsigned long long v;

	memset(c, 0, sizeof(*c));
	if (!strncmp(s, TRACE_RING ":", sizeof(TRACE_RING)) ||
	    !strncmp(s, TRACE_METRICS ":", sizeof(TRACE_METRICS)) ||
	    !strncmp(s, RECORD_RING ":", sizeof(RECORD_RING))) {
		c->kind = s[0] == 'r' ? MYCO__CAP_RECORD_RING :
			  s[6] == 'r' ? MYCO__CAP_TRACE_RING : MYCO__CAP_TRACE_METRICS;
		s = strchr(s, ':') + 1;
		if (!(s = number(s, INT_MAX, &v)))
			return NULL;
		c->fds[c->nfds++] = (int)v;
		return s;
	}
	if (!strncmp(s, LOANS_REGION ":", sizeof(LOANS_REGION))) {
		c->kind = MYCO__CAP_LOANS;
		if (!(s = number(s + sizeof(LOANS_REGION), INT_MAX, &v)))
			return NULL;
		c->fds[c->nfds++] = (int)v;
		return s;
	}
	if (!strncmp(s, URING_RINGS ":", sizeof(URING_RINGS))) {
		c->kind = MYCO__CAP_URING;
		s += sizeof(URING_RINGS);
		for (;;) {
			if (c->nfds >= MYCO__URING_MAX || !(s = number(s, INT_MAX, &v)))
				return NULL;
			c->fds[c->nfds++] = (int)v;
			if (*s != ',')
				return s;
			s++;
		}
	}
	if (!strncmp(s, "tcp/", 4)) {
		c->kind = MYCO__CAP_PORT;
		if (!(s = number(s + 4, 65535, &v)) || v == 0 || *s != ':')
			return NULL;
		c->port = (uint16_t)v;
		if (!(s = number(s + 1, INT_MAX, &v)))
			return NULL;
		c->fds[c->nfds++] = (int)v;
		return s;
	}
	c->kind = MYCO__CAP_CHAN;
	size_t len = strcspn(s, ":;,/");
	if (len == 0 || len >= sizeof(c->name) || s[len] != ':')
		return NULL;
	memcpy(c->name, s, len);
	s += len + 1;
	if (!(s = number(s, MYCO_CHAN_SERVER, &v)) || v < MYCO_CHAN_PRODUCER ||
	    *s != ':')
		return NULL;
	c->role = (myco_chan_role_t)v;
	if (!(s = number(s + 1, UINT32_MAX, &v)) || *s != ':')
		return NULL;
	c->index = (uint32_t)v;
	s++;
	for (;;) {
		if (c->nfds >= MYCO_CHAN_MAX_FDS || !(s = number(s, INT_MAX, &v)))
			return NULL;
		c->fds[c->nfds++] = (int)v;
		if (*s != ',')
			return s;
		s++;
	}
}

int myco__caps_parse(const char *s,
		     int (*each)(const struct myco__cap *c, void *arg), void *arg)
{
	struct myco__cap c;
	int n = 0, rc;

	while (s && *s) {
		if (!(s = entry(s, &c)))
			return -EINVAL;
		if (*s == ';')
			s++;
		else if (*s)
			return -EINVAL;
		if ((rc = each(&c, arg)) != 0)
			return rc;
		n++;
	}
	return n;
}
