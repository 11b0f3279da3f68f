/*
 * conf.c: myco-gate's configuration language: a tokenizer (words, quoted
 * strings, ';', '{', '}', '#' and '//' comments) and the parser of the
 * settings described in docs/gate.md into a myco__gate_conf_t, plus its
 * reference counting (a reload publishes a new generation; requests in
 * flight finish on the one they started with).  Every error names its
 * line.  Not for: applying the configuration (gate.c, proxy.c).
 */
#include "gate_int.h"
#include "myco/lang.h"
#include "myco_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK_MAX 1024

typedef struct lex {
	const char *s, *end;
	unsigned line;
	char tok[TOK_MAX];
	size_t toklen;
	int kind;                        /* 'w' word, 's' string, ';', '{', '}', 0 eof */
	char *err;
	size_t errlen;
} lex_t;

static int errf(lex_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int errf(lex_t *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->err && l->errlen) {
		n = snprintf(l->err, l->errlen, "line %u: ", l->line);
		if (n > 0 && (size_t)n < l->errlen) {
			va_start(ap, fmt);
			vsnprintf(l->err + n, l->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -MYCO_ESYNTAX;
}

static int next(lex_t *l)
{
	for (;;) {
		while (l->s < l->end && isspace((unsigned char)*l->s)) {
			if (*l->s == '\n')
				l->line++;
			l->s++;
		}
		if (l->s < l->end && (*l->s == '#' ||
				      (*l->s == '/' && l->s + 1 < l->end && l->s[1] == '/'))) {
			while (l->s < l->end && *l->s != '\n')
				l->s++;
			continue;
		}
		break;
	}
	l->toklen = 0;
	l->tok[0] = '\0';
	if (l->s >= l->end) {
		l->kind = 0;
		return 0;
	}
	if (*l->s == ';' || *l->s == '{' || *l->s == '}') {
		l->kind = *l->s++;
		l->tok[0] = (char)l->kind;
		l->tok[1] = '\0';
		return 0;
	}
	if (*l->s == '"') {
		l->s++;
		for (;;) {
			char c;
			if (l->s >= l->end || *l->s == '\n')
				return errf(l, "unterminated string");
			c = *l->s++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (l->s >= l->end)
					return errf(l, "unterminated string");
				c = *l->s++;
				if (c == 'n')
					c = '\n';
				else if (c == 't')
					c = '\t';
				else if (c != '"' && c != '\\')
					return errf(l, "unknown escape \\%c", c);
			} else if ((unsigned char)c < 0x20 && c != '\t') {
				return errf(l, "control character in string");
			}
			if (l->toklen + 1 >= TOK_MAX)
				return errf(l, "string too long");
			l->tok[l->toklen++] = c;
		}
		l->tok[l->toklen] = '\0';
		l->kind = 's';
		return 0;
	}
	while (l->s < l->end && !isspace((unsigned char)*l->s) && *l->s != ';' && *l->s != '{' &&
	       *l->s != '}' && *l->s != '"') {
		if ((unsigned char)*l->s < 0x20 || (unsigned char)*l->s >= 0x7f)
			return errf(l, "unexpected character 0x%02x", (unsigned char)*l->s);
		if (l->toklen + 1 >= TOK_MAX)
			return errf(l, "word too long");
		l->tok[l->toklen++] = *l->s++;
	}
	l->tok[l->toklen] = '\0';
	l->kind = 'w';
	return 0;
}

static int expect(lex_t *l, int kind, const char *what)
{
	int rc = next(l);

	if (rc < 0)
		return rc;
	if (l->kind != kind && !(kind == 'w' && l->kind == 's'))
		return errf(l, "expected %s, found %s", what,
			    l->kind ? l->tok : "end of file");
	return 0;
}

static int end_stmt(lex_t *l)
{
	return expect(l, ';', "';'");
}

static int parse_uint(lex_t *l, const char *s, uint64_t max, uint64_t *out)
{
	char *e;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return errf(l, "expected a number, found '%s'", s);
	errno = 0;
	v = strtoull(s, &e, 10);
	if (*e || errno || v > max)
		return errf(l, "bad number '%s' (0..%llu)", s, (unsigned long long)max);
	*out = v;
	return 0;
}

static int parse_dur(lex_t *l, const char *s, uint64_t *ns)
{
	char *e;
	double v;
	uint64_t mul;

	if (!isdigit((unsigned char)s[0]))
		return errf(l, "expected a duration like 500ms, found '%s'", s);
	v = strtod(s, &e);
	if (strcmp(e, "us") == 0)
		mul = 1000;
	else if (strcmp(e, "ms") == 0)
		mul = 1000000;
	else if (strcmp(e, "s") == 0)
		mul = 1000000000;
	else if (strcmp(e, "m") == 0)
		mul = 60000000000ull;
	else
		return errf(l, "duration '%s' needs a unit (us, ms, s, m)", s);
	if (!(v >= 0) || v * (double)mul > 1e18)
		return errf(l, "duration '%s' out of range", s);
	*ns = (uint64_t)(v * (double)mul);
	return 0;
}

static int parse_size(lex_t *l, const char *s, uint64_t *out)
{
	char *e;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)s[0]))
		return errf(l, "expected a size like 64MiB, found '%s'", s);
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno)
		return errf(l, "bad size '%s'", s);
	if (*e == '\0' || strcmp(e, "B") == 0)
		mul = 1;
	else if (strcmp(e, "KiB") == 0)
		mul = 1ull << 10;
	else if (strcmp(e, "MiB") == 0)
		mul = 1ull << 20;
	else if (strcmp(e, "GiB") == 0)
		mul = 1ull << 30;
	else
		return errf(l, "size '%s': unit must be B, KiB, MiB or GiB", s);
	if (v > (1ull << 40) / mul)
		return errf(l, "size '%s' too large", s);
	*out = v * mul;
	return 0;
}

static int parse_hostport(lex_t *l, const char *s, char *host, size_t hcap, uint16_t *port)
{
	const char *c = strrchr(s, ':');
	uint64_t p;
	size_t hl;

	if (!c)
		return errf(l, "expected HOST:PORT, found '%s'", s);
	hl = (size_t)(c - s);
	if (hl >= hcap)
		return errf(l, "host too long");
	if (parse_uint(l, c + 1, 65535, &p) < 0)
		return -MYCO_ESYNTAX;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	*port = (uint16_t)p;
	return 0;
}

static int copy_word(lex_t *l, char *dst, size_t cap, const char *what)
{
	if (l->toklen >= cap)
		return errf(l, "%s too long (at most %zu bytes)", what, cap - 1);
	memcpy(dst, l->tok, l->toklen + 1);
	return 0;
}

static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* ------------------------------------------------------------ upstream */

static int parse_upstream(lex_t *l, myco__gate_conf_t *cf)
{
	myco__pool_t *p, *np;
	int rc;

	np = realloc(cf->pools, (cf->npools + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	cf->pools = np;
	p = &cf->pools[cf->npools++];
	memset(p, 0, sizeof(*p));
	p->keepalive = 32;
	p->idle_timeout_ns = 60ull * 1000000000u;
	p->connect_timeout_ns = 1ull * 1000000000u;
	p->write_timeout_ns = 10ull * 1000000000u;
	p->header_timeout_ns = 30ull * 1000000000u;
	p->read_timeout_ns = 30ull * 1000000000u;
	p->health_interval_ns = 1000000000u;
	p->health_timeout_ns = 1000000000u;
	p->health_fails = 2;
	p->health_passes = 2;
	p->retries = 1;
	p->retry_budget = 0.2;
	p->eject_ns = 10ull * 1000000000u;
	if ((rc = expect(l, 'w', "an upstream name")) < 0 ||
	    (rc = copy_word(l, p->name, sizeof(p->name), "upstream name")) < 0)
		return rc;
	for (size_t i = 0; i + 1 < cf->npools; i++)
		if (strcmp(cf->pools[i].name, p->name) == 0)
			return errf(l, "upstream %s defined twice", p->name);
	if ((rc = expect(l, '{', "'{'")) < 0)
		return rc;
	for (;;) {
		char kw[64];
		if ((rc = next(l)) < 0)
			return rc;
		if (l->kind == '}')
			break;
		if (l->kind != 'w')
			return errf(l, "expected a setting, found %s", l->kind ? l->tok : "end of file");
		snprintf(kw, sizeof(kw), "%.63s", l->tok);
		if (strcmp(kw, "server") == 0) {
			myco__server_t *s, *ns;
			uint64_t w;
			ns = realloc(p->servers, (p->nservers + 1) * sizeof(*ns));
			if (!ns)
				return -ENOMEM;
			p->servers = ns;
			s = &p->servers[p->nservers++];
			memset(s, 0, sizeof(*s));
			s->weight = 1;
			atomic_init(&s->healthy, 1);
			if ((rc = expect(l, 'w', "HOST:PORT")) < 0 ||
			    (rc = parse_hostport(l, l->tok, s->host, sizeof(s->host), &s->port)) < 0)
				return rc;
			if ((rc = next(l)) < 0)
				return rc;
			if (l->kind == 'w' && strcmp(l->tok, "weight") == 0) {
				if ((rc = expect(l, 'w', "a weight")) < 0 ||
				    (rc = parse_uint(l, l->tok, 100, &w)) < 0)
					return rc;
				if (w == 0)
					return errf(l, "weight must be 1..100");
				s->weight = (unsigned)w;
				if ((rc = next(l)) < 0)
					return rc;
			}
			if (l->kind != ';')
				return errf(l, "expected ';' after server");
			continue;
		} else if (strcmp(kw, "balance") == 0) {
			if ((rc = expect(l, 'w', "a balancing method")) < 0)
				return rc;
			if (strcmp(l->tok, "round_robin") == 0) {
				p->balance = MYCO__LB_RR;
			} else if (strcmp(l->tok, "least_conn") == 0) {
				p->balance = MYCO__LB_LEAST;
			} else if (strcmp(l->tok, "hash") == 0) {
				p->balance = MYCO__LB_HASH;
				if ((rc = expect(l, 'w', "ip, path or header")) < 0)
					return rc;
				if (strcmp(l->tok, "ip") == 0) {
					p->hash_on = MYCO__HASH_IP;
				} else if (strcmp(l->tok, "path") == 0) {
					p->hash_on = MYCO__HASH_PATH;
				} else if (strcmp(l->tok, "header") == 0) {
					p->hash_on = MYCO__HASH_HEADER;
					if ((rc = expect(l, 'w', "a header name")) < 0 ||
					    (rc = copy_word(l, p->hash_header, sizeof(p->hash_header),
							    "header name")) < 0)
						return rc;
				} else {
					return errf(l, "hash on ip, path or header NAME, not '%s'", l->tok);
				}
			} else {
				return errf(l, "unknown balancing method '%s' (round_robin, least_conn, hash)",
					    l->tok);
			}
		} else if (strcmp(kw, "keepalive") == 0) {
			uint64_t v;
			if ((rc = expect(l, 'w', "a count")) < 0 ||
			    (rc = parse_uint(l, l->tok, 10000, &v)) < 0)
				return rc;
			p->keepalive = (unsigned)v;
			if ((rc = next(l)) < 0)
				return rc;
			if (l->kind == 'w' && strcmp(l->tok, "idle") == 0) {
				if ((rc = expect(l, 'w', "a duration")) < 0 ||
				    (rc = parse_dur(l, l->tok, &p->idle_timeout_ns)) < 0)
					return rc;
				if ((rc = next(l)) < 0)
					return rc;
			}
			if (l->kind != ';')
				return errf(l, "expected ';'");
			continue;
		} else if (strcmp(kw, "timeout") == 0) {
			uint64_t *t;
			if ((rc = expect(l, 'w', "connect, write, header or read")) < 0)
				return rc;
			if (strcmp(l->tok, "connect") == 0)
				t = &p->connect_timeout_ns;
			else if (strcmp(l->tok, "write") == 0)
				t = &p->write_timeout_ns;
			else if (strcmp(l->tok, "header") == 0)
				t = &p->header_timeout_ns;
			else if (strcmp(l->tok, "read") == 0)
				t = &p->read_timeout_ns;
			else
				return errf(l, "unknown upstream timeout '%s'", l->tok);
			if ((rc = expect(l, 'w', "a duration")) < 0 || (rc = parse_dur(l, l->tok, t)) < 0)
				return rc;
			if (*t == 0)
				return errf(l, "a timeout must be above zero");
		} else if (strcmp(kw, "health") == 0) {
			if ((rc = expect(l, 'w', "a path")) < 0 ||
			    (rc = copy_word(l, p->health_path, sizeof(p->health_path), "path")) < 0)
				return rc;
			if (p->health_path[0] != '/')
				return errf(l, "health path must start with '/'");
			for (;;) {
				uint64_t v;
				if ((rc = next(l)) < 0)
					return rc;
				if (l->kind == ';')
					break;
				if (l->kind != 'w')
					return errf(l, "expected ';'");
				if (strcmp(l->tok, "interval") == 0) {
					if ((rc = expect(l, 'w', "a duration")) < 0 ||
					    (rc = parse_dur(l, l->tok, &p->health_interval_ns)) < 0)
						return rc;
					if (p->health_interval_ns < 1000000)
						return errf(l, "health interval below 1ms");
				} else if (strcmp(l->tok, "timeout") == 0) {
					if ((rc = expect(l, 'w', "a duration")) < 0 ||
					    (rc = parse_dur(l, l->tok, &p->health_timeout_ns)) < 0)
						return rc;
				} else if (strcmp(l->tok, "fails") == 0 || strcmp(l->tok, "passes") == 0) {
					bool f = l->tok[0] == 'f';
					if ((rc = expect(l, 'w', "a count")) < 0 ||
					    (rc = parse_uint(l, l->tok, 100, &v)) < 0)
						return rc;
					if (!v)
						return errf(l, "count must be 1..100");
					*(f ? &p->health_fails : &p->health_passes) = (unsigned)v;
				} else {
					return errf(l, "unknown health option '%s'", l->tok);
				}
			}
			continue;
		} else if (strcmp(kw, "eject") == 0) {
			uint64_t v;
			if ((rc = expect(l, 'w', "'after'")) < 0)
				return rc;
			if (strcmp(l->tok, "off") == 0) {
				p->eject_after = 0;
			} else {
				if (strcmp(l->tok, "after") != 0)
					return errf(l, "expected eject after N for DURATION");
				if ((rc = expect(l, 'w', "a count")) < 0 ||
				    (rc = parse_uint(l, l->tok, 1000, &v)) < 0)
					return rc;
				p->eject_after = (unsigned)v;
				if ((rc = expect(l, 'w', "'for'")) < 0)
					return rc;
				if (strcmp(l->tok, "for") != 0)
					return errf(l, "expected 'for'");
				if ((rc = expect(l, 'w', "a duration")) < 0 ||
				    (rc = parse_dur(l, l->tok, &p->eject_ns)) < 0)
					return rc;
			}
		} else if (strcmp(kw, "retries") == 0) {
			uint64_t v;
			if ((rc = expect(l, 'w', "a count")) < 0 ||
			    (rc = parse_uint(l, l->tok, 10, &v)) < 0)
				return rc;
			p->retries = (unsigned)v;
			if ((rc = next(l)) < 0)
				return rc;
			if (l->kind == 'w' && strcmp(l->tok, "budget") == 0) {
				size_t n;
				if ((rc = expect(l, 'w', "a percentage")) < 0)
					return rc;
				n = strlen(l->tok);
				if (n < 2 || l->tok[n - 1] != '%')
					return errf(l, "budget is a percentage like 20%%");
				l->tok[n - 1] = '\0';
				if ((rc = parse_uint(l, l->tok, 100, &v)) < 0)
					return rc;
				p->retry_budget = (double)v / 100.0;
				if ((rc = next(l)) < 0)
					return rc;
			}
			if (l->kind != ';')
				return errf(l, "expected ';'");
			continue;
		} else {
			return errf(l, "unknown upstream setting '%s'", kw);
		}
		if ((rc = end_stmt(l)) < 0)
			return rc;
	}
	if (!p->nservers)
		return errf(l, "upstream %s has no server", p->name);
	return 0;
}

/* Weighted round robin order (smooth, as nginx does it) and the hash ring. */
static int pool_finish(myco__pool_t *p)
{
	size_t i, total = 0, k;
	long *cur;

	for (i = 0; i < p->nservers; i++)
		total += p->servers[i].weight;
	p->wrr = calloc(total, sizeof(*p->wrr));
	cur = calloc(p->nservers, sizeof(*cur));
	if (!p->wrr || !cur) {
		free(cur);
		return -ENOMEM;
	}
	for (k = 0; k < total; k++) {
		size_t best = 0;
		for (i = 0; i < p->nservers; i++) {
			cur[i] += p->servers[i].weight;
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= (long)total;
		p->wrr[k] = (unsigned)best;
	}
	free(cur);
	p->nwrr = total;
	/* consistent hashing: 100 virtual nodes per unit of weight */
	p->nring = total * 100;
	p->ring = calloc(p->nring, sizeof(*p->ring));
	p->ring_hash = calloc(p->nring, sizeof(*p->ring_hash));
	if (!p->ring || !p->ring_hash)
		return -ENOMEM;
	k = 0;
	for (i = 0; i < p->nservers; i++) {
		unsigned v;
		for (v = 0; v < p->servers[i].weight * 100; v++) {
			char key[96];
			int n = snprintf(key, sizeof(key), "%s:%u#%u", p->servers[i].host,
					 p->servers[i].port, v);
			p->ring_hash[k] = myco__hash32(key, (size_t)n);
			p->ring[k++] = (unsigned)i;
		}
	}
	/* sort by hash (insertion sort is fine for these sizes? use shell) */
	for (size_t gap = p->nring / 2; gap > 0; gap /= 2)
		for (i = gap; i < p->nring; i++) {
			uint32_t h = p->ring_hash[i];
			unsigned s = p->ring[i];
			size_t j = i;
			while (j >= gap && p->ring_hash[j - gap] > h) {
				p->ring_hash[j] = p->ring_hash[j - gap];
				p->ring[j] = p->ring[j - gap];
				j -= gap;
			}
			p->ring_hash[j] = h;
			p->ring[j] = s;
		}
	return 0;
}

/* --------------------------------------------------------------- route */

static int parse_hdr_op(lex_t *l, myco__hdr_op_t *ops, size_t *n)
{
	myco__hdr_op_t *op;
	int rc;

	if (*n == 16)
		return errf(l, "at most 16 header rewrites per direction");
	op = &ops[(*n)++];
	memset(op, 0, sizeof(*op));
	if ((rc = expect(l, 'w', "set, add or remove")) < 0)
		return rc;
	if (strcmp(l->tok, "set") == 0)
		op->op = 0;
	else if (strcmp(l->tok, "add") == 0)
		op->op = 1;
	else if (strcmp(l->tok, "remove") == 0)
		op->op = 2;
	else
		return errf(l, "expected set, add or remove, found '%s'", l->tok);
	if ((rc = expect(l, 'w', "a header name")) < 0 ||
	    (rc = copy_word(l, op->name, sizeof(op->name), "header name")) < 0)
		return rc;
	if (!header_name_ok(op->name))
		return errf(l, "'%s' is not a valid header name", op->name);
	if (op->op != 2) {
		size_t i;
		if ((rc = expect(l, 'w', "a value")) < 0 ||
		    (rc = copy_word(l, op->value, sizeof(op->value), "header value")) < 0)
			return rc;
		for (i = 0; op->value[i]; i++)
			if ((unsigned char)op->value[i] < 0x20 && op->value[i] != '\t')
				return errf(l, "control character in header value");
	}
	return end_stmt(l);
}

static int parse_route(lex_t *l, myco__gate_conf_t *cf)
{
	myco__route_t *r, *nr;
	char proxy_name[64] = "";
	bool has_action = false;
	int rc;

	nr = realloc(cf->routes, (cf->nroutes + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	cf->routes = nr;
	r = &cf->routes[cf->nroutes++];
	memset(r, 0, sizeof(*r));
	if ((rc = expect(l, 'w', "a path prefix")) < 0 ||
	    (rc = copy_word(l, r->prefix, sizeof(r->prefix), "prefix")) < 0)
		return rc;
	if (r->prefix[0] != '/')
		return errf(l, "a route prefix starts with '/'");
	r->plen = strlen(r->prefix);
	if ((rc = next(l)) < 0)
		return rc;
	if (l->kind == 'w' && strcmp(l->tok, "host") == 0) {
		if ((rc = expect(l, 'w', "a host name")) < 0 ||
		    (rc = copy_word(l, r->host, sizeof(r->host), "host")) < 0)
			return rc;
		if ((rc = next(l)) < 0)
			return rc;
	}
	if (l->kind != '{')
		return errf(l, "expected '{'");
	for (;;) {
		char kw[64];
		if ((rc = next(l)) < 0)
			return rc;
		if (l->kind == '}')
			break;
		if (l->kind != 'w')
			return errf(l, "expected a setting, found %s", l->kind ? l->tok : "end of file");
		snprintf(kw, sizeof(kw), "%.63s", l->tok);
		if (strcmp(kw, "proxy") == 0) {
			if (has_action)
				return errf(l, "a route has one action (proxy or respond)");
			has_action = true;
			if ((rc = expect(l, 'w', "an upstream name")) < 0 ||
			    (rc = copy_word(l, proxy_name, sizeof(proxy_name), "name")) < 0)
				return rc;
		} else if (strcmp(kw, "respond") == 0) {
			uint64_t st;
			if (has_action)
				return errf(l, "a route has one action (proxy or respond)");
			has_action = true;
			if ((rc = expect(l, 'w', "a status")) < 0 ||
			    (rc = parse_uint(l, l->tok, 599, &st)) < 0)
				return rc;
			if (st < 200)
				return errf(l, "status must be 200..599");
			r->fixed_status = (unsigned)st;
			snprintf(r->fixed_type, sizeof(r->fixed_type), "text/plain");
			if ((rc = next(l)) < 0)
				return rc;
			if (l->kind == 's' || l->kind == 'w') {
				r->fixed_body = strdup(l->tok);
				if (!r->fixed_body)
					return -ENOMEM;
				r->fixed_len = l->toklen;
				if ((rc = next(l)) < 0)
					return rc;
				if (l->kind == 'w' && strcmp(l->tok, "type") == 0) {
					if ((rc = expect(l, 'w', "a content type")) < 0 ||
					    (rc = copy_word(l, r->fixed_type, sizeof(r->fixed_type),
							    "content type")) < 0)
						return rc;
					if ((rc = next(l)) < 0)
						return rc;
				}
			}
			if (l->kind != ';')
				return errf(l, "expected ';'");
			continue;
		} else if (strcmp(kw, "strip_prefix") == 0) {
			r->strip_prefix = true;
		} else if (strcmp(kw, "websocket") == 0) {
			if ((rc = expect(l, 'w', "on or off")) < 0)
				return rc;
			r->websocket = strcmp(l->tok, "on") == 0;
			if (!r->websocket && strcmp(l->tok, "off") != 0)
				return errf(l, "websocket on or off");
		} else if (strcmp(kw, "request_header") == 0) {
			if ((rc = parse_hdr_op(l, r->req_ops, &r->nreq_ops)) < 0)
				return rc;
			continue;
		} else if (strcmp(kw, "response_header") == 0) {
			if ((rc = parse_hdr_op(l, r->resp_ops, &r->nresp_ops)) < 0)
				return rc;
			continue;
		} else if (strcmp(kw, "cache") == 0) {
			if ((rc = expect(l, 'w', "a time to live")) < 0 ||
			    (rc = parse_dur(l, l->tok, &r->cache_ttl_ns)) < 0)
				return rc;
		} else if (strcmp(kw, "rate_limit") == 0) {
			uint64_t rate, burst = 0;
			char *slash;
			if ((rc = expect(l, 'w', "RATE/s")) < 0)
				return rc;
			slash = strchr(l->tok, '/');
			if (!slash || strcmp(slash, "/s") != 0)
				return errf(l, "rate is N/s");
			*slash = '\0';
			if ((rc = parse_uint(l, l->tok, 10000000, &rate)) < 0)
				return rc;
			if (!rate)
				return errf(l, "rate must be above zero");
			r->rl_key = MYCO__HASH_IP;
			for (;;) {
				if ((rc = next(l)) < 0)
					return rc;
				if (l->kind == ';')
					break;
				if (l->kind == 'w' && strcmp(l->tok, "burst") == 0) {
					if ((rc = expect(l, 'w', "a count")) < 0 ||
					    (rc = parse_uint(l, l->tok, 100000000, &burst)) < 0)
						return rc;
				} else if (l->kind == 'w' && strcmp(l->tok, "key") == 0) {
					if ((rc = expect(l, 'w', "ip or header")) < 0)
						return rc;
					if (strcmp(l->tok, "ip") == 0) {
						r->rl_key = MYCO__HASH_IP;
					} else if (strcmp(l->tok, "header") == 0) {
						r->rl_key = MYCO__HASH_HEADER;
						if ((rc = expect(l, 'w', "a header name")) < 0 ||
						    (rc = copy_word(l, r->rl_header, sizeof(r->rl_header),
								    "header")) < 0)
							return rc;
					} else {
						return errf(l, "key ip or key header NAME");
					}
				} else {
					return errf(l, "unknown rate_limit option '%s'", l->tok);
				}
			}
			if (r->rl)
				return errf(l, "rate_limit given twice");
			rc = myco__rl_create(&r->rl, (double)rate, (double)(burst ? burst : rate),
					     65536);
			if (rc < 0)
				return rc;
			continue;
		} else {
			return errf(l, "unknown route setting '%s'", kw);
		}
		if ((rc = end_stmt(l)) < 0)
			return rc;
	}
	if (!has_action)
		return errf(l, "route %s has no action (proxy NAME or respond STATUS)", r->prefix);
	if (proxy_name[0]) {
		size_t i;
		for (i = 0; i < cf->npools; i++)
			if (strcmp(cf->pools[i].name, proxy_name) == 0)
				break;
		if (i == cf->npools)
			return errf(l, "unknown upstream '%s' (declare upstreams before routes)",
				    proxy_name);
		/* index now, pointer after all pools are parsed */
		r->pool = (myco__pool_t *)(uintptr_t)(i + 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- top */

int myco__conf_parse(const char *text, size_t len, myco__gate_conf_t **out, char *err,
		     size_t errlen)
{
	lex_t l = { .s = text, .end = text + len, .line = 1, .err = err, .errlen = errlen };
	myco__gate_conf_t *cf = calloc(1, sizeof(*cf));
	size_t i;
	int rc;

	*out = NULL;
	if (!cf)
		return -ENOMEM;
	atomic_init(&cf->refs, 1);
	snprintf(cf->listen_host, sizeof(cf->listen_host), "0.0.0.0");
	cf->listen_port = 8080;
	cf->max_body = 8u << 20;
	cf->splice_min = 256u << 10;
	cf->header_timeout_ns = 10ull * 1000000000u;
	cf->body_timeout_ns = 30ull * 1000000000u;
	cf->idle_timeout_ns = 60ull * 1000000000u;
	cf->cache_policy = MYCO__CACHE_HYPERBOLIC;
	if (err && errlen)
		err[0] = '\0';
	for (;;) {
		char kw[64];
		if ((rc = next(&l)) < 0)
			goto fail;
		if (l.kind == 0)
			break;
		if (l.kind != 'w') {
			rc = errf(&l, "expected a setting, found '%s'", l.tok);
			goto fail;
		}
		snprintf(kw, sizeof(kw), "%.63s", l.tok);
		if (strcmp(kw, "upstream") == 0) {
			if ((rc = parse_upstream(&l, cf)) < 0)
				goto fail;
			continue;
		}
		if (strcmp(kw, "route") == 0) {
			if ((rc = parse_route(&l, cf)) < 0)
				goto fail;
			continue;
		}
		if (strcmp(kw, "listen") == 0) {
			if ((rc = expect(&l, 'w', "HOST:PORT")) < 0 ||
			    (rc = parse_hostport(&l, l.tok, cf->listen_host, sizeof(cf->listen_host),
						 &cf->listen_port)) < 0)
				goto fail;
		} else if (strcmp(kw, "loops") == 0) {
			uint64_t v;
			if ((rc = expect(&l, 'w', "a count")) < 0 ||
			    (rc = parse_uint(&l, l.tok, MYCO__GATE_MAX_LOOPS, &v)) < 0)
				goto fail;
			cf->loops = (unsigned)v;
		} else if (strcmp(kw, "max_body") == 0) {
			uint64_t v;
			if ((rc = expect(&l, 'w', "a size")) < 0 || (rc = parse_size(&l, l.tok, &v)) < 0)
				goto fail;
			cf->max_body = (size_t)v;
		} else if (strcmp(kw, "splice") == 0) {
			uint64_t v;
			if ((rc = expect(&l, 'w', "a size or off")) < 0)
				goto fail;
			if (strcmp(l.tok, "off") == 0)
				v = 0;
			else if ((rc = parse_size(&l, l.tok, &v)) < 0)
				goto fail;
			cf->splice_min = (size_t)v;
		} else if (strcmp(kw, "timeout") == 0) {
			uint64_t *t;
			if ((rc = expect(&l, 'w', "header, body or idle")) < 0)
				goto fail;
			if (strcmp(l.tok, "header") == 0)
				t = &cf->header_timeout_ns;
			else if (strcmp(l.tok, "body") == 0)
				t = &cf->body_timeout_ns;
			else if (strcmp(l.tok, "idle") == 0)
				t = &cf->idle_timeout_ns;
			else {
				rc = errf(&l, "unknown timeout '%s' (header, body, idle)", l.tok);
				goto fail;
			}
			if ((rc = expect(&l, 'w', "a duration")) < 0 || (rc = parse_dur(&l, l.tok, t)) < 0)
				goto fail;
			if (*t == 0) {
				rc = errf(&l, "a timeout must be above zero");
				goto fail;
			}
		} else if (strcmp(kw, "cache") == 0) {
			uint64_t v;
			if ((rc = expect(&l, 'w', "a size")) < 0 || (rc = parse_size(&l, l.tok, &v)) < 0)
				goto fail;
			cf->cache_bytes = (size_t)v;
			if ((rc = next(&l)) < 0)
				goto fail;
			if (l.kind == 'w') {
				if (strcmp(l.tok, "hyperbolic") == 0)
					cf->cache_policy = MYCO__CACHE_HYPERBOLIC;
				else if (strcmp(l.tok, "lru") == 0)
					cf->cache_policy = MYCO__CACHE_LRU;
				else {
					rc = errf(&l, "cache policy hyperbolic or lru, not '%s'", l.tok);
					goto fail;
				}
				if ((rc = next(&l)) < 0)
					goto fail;
			}
			if (l.kind != ';') {
				rc = errf(&l, "expected ';'");
				goto fail;
			}
			continue;
		} else if (strcmp(kw, "tls") == 0) {
			char *cert, *key, name[128] = "";
			if ((rc = next(&l)) < 0)
				goto fail;
			if (l.kind == 'w' && strcmp(l.tok, "sni") == 0) {
				if (cf->nsni == 16) {
					rc = errf(&l, "at most 16 sni certificates");
					goto fail;
				}
				if ((rc = expect(&l, 'w', "a server name")) < 0 ||
				    (rc = copy_word(&l, name, sizeof(name), "server name")) < 0)
					goto fail;
				if ((rc = next(&l)) < 0)
					goto fail;
				cert = cf->sni[cf->nsni].cert;
				key = cf->sni[cf->nsni].key;
				memcpy(cf->sni[cf->nsni].name, name, sizeof(name));
				cf->nsni++;
			} else {
				cert = cf->tls_cert;
				key = cf->tls_key;
			}
			if (l.kind != 'w' || strcmp(l.tok, "cert") != 0) {
				rc = errf(&l, "expected tls [sni NAME] cert FILE key FILE;");
				goto fail;
			}
			if ((rc = expect(&l, 'w', "a certificate file")) < 0 ||
			    (rc = copy_word(&l, cert, 512, "certificate path")) < 0 ||
			    (rc = expect(&l, 'w', "'key'")) < 0)
				goto fail;
			if (strcmp(l.tok, "key") != 0) {
				rc = errf(&l, "expected 'key FILE' after the certificate");
				goto fail;
			}
			if ((rc = expect(&l, 'w', "a key file")) < 0 ||
			    (rc = copy_word(&l, key, 512, "key path")) < 0)
				goto fail;
		} else if (strcmp(kw, "access_log") == 0) {
			if ((rc = expect(&l, 'w', "on or off")) < 0)
				goto fail;
			cf->access_log = strcmp(l.tok, "on") == 0;
		} else {
			rc = errf(&l, "unknown setting '%s'", kw);
			goto fail;
		}
		if ((rc = end_stmt(&l)) < 0)
			goto fail;
	}
	if (cf->nsni && !cf->tls_cert[0]) {
		rc = errf(&l, "tls sni needs a default 'tls cert FILE key FILE;' too");
		goto fail;
	}
	for (i = 0; i < cf->npools; i++)
		if ((rc = pool_finish(&cf->pools[i])) < 0)
			goto fail;
	for (i = 0; i < cf->nroutes; i++) {
		myco__route_t *r = &cf->routes[i];
		if (r->pool)
			r->pool = &cf->pools[(uintptr_t)r->pool - 1];
		if (r->cache_ttl_ns && !cf->cache_bytes) {
			l.line = 0;
			rc = errf(&l, "route %s caches but no 'cache SIZE;' is set", r->prefix);
			goto fail;
		}
	}
	*out = cf;
	return 0;
fail:
	/* routes' pool fields may still hold indices: clear before freeing */
	for (i = 0; i < cf->nroutes; i++)
		cf->routes[i].pool = NULL;
	myco__conf_put(cf);
	return rc;
}

int myco__conf_load(const char *path, myco__gate_conf_t **out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	int rc;

	*out = NULL;
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, myco_strerror(rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || st.st_size > (1 << 20)) {
		close(fd);
		snprintf(err, errlen, "%s: not a readable file under 1 MiB", path);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	rc = myco__read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	if (rc < 0) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, myco_strerror(rc));
		return rc;
	}
	{
		char sub[400];
		rc = myco__conf_parse(buf, (size_t)st.st_size, out, sub, sizeof(sub));
		if (rc < 0)
			snprintf(err, errlen, "%s: %s", path, sub);
	}
	free(buf);
	return rc;
}

void myco__conf_put(myco__gate_conf_t *cf)
{
	size_t i, j, k;

	if (!cf || atomic_fetch_sub(&cf->refs, 1) != 1)
		return;
	for (i = 0; i < cf->npools; i++) {
		myco__pool_t *p = &cf->pools[i];
		for (j = 0; j < p->nservers; j++)
			for (k = 0; k < MYCO__GATE_MAX_LOOPS; k++) {
				myco__pconn_t *c = p->servers[j].idle[k], *n;
				for (; c; c = n) {
					n = c->next;
					close(c->fd);
					free(c);
				}
			}
		free(p->servers);
		free(p->wrr);
		free(p->ring);
		free(p->ring_hash);
	}
	for (i = 0; i < cf->nroutes; i++) {
		free(cf->routes[i].fixed_body);
		myco__rl_destroy(cf->routes[i].rl);
	}
	if (cf->tls && cf->tls_free)
		cf->tls_free(cf->tls);
	free(cf->pools);
	free(cf->routes);
	free(cf);
}

int myco__conf_load_system(const char *path, const char *part, myco__gate_conf_t **out,
			   char *err, size_t errlen)
{
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	const myco_partition_t *p = NULL;
	int rc;

	*out = NULL;
	rc = myco_lang_load_file(path, &sys, &d);
	if (rc < 0) {
		const myco_diag_t *x = NULL;
		for (size_t i = 0; d && i < myco_diags_count(d); i++)
			if ((x = myco_diags_get(d, i))->severity == MYCO_SEV_ERROR)
				break;
		if (x && x->severity == MYCO_SEV_ERROR)
			snprintf(err, errlen, "%s:%u:%u: error[%s]: %s", path, x->pos.line, x->pos.col,
				 x->code, x->message);
		else
			snprintf(err, errlen, "%s: %s", path, myco_strerror(rc));
		myco_diags_free(d);
		return rc;
	}
	myco_diags_free(d);
	for (size_t i = 0; i < sys->npartitions; i++)
		if (!strcmp(sys->partitions[i].name, part))
			p = &sys->partitions[i];
	if (!p || !p->gateway) {
		snprintf(err, errlen, "%s: %s %s", path, p ? "partition has no gateway section:" :
			 "no partition named", part);
		myco_system_free(sys);
		return -ENOENT;
	}
	rc = myco__conf_parse(p->gateway, strlen(p->gateway), out, err, errlen);
	if (rc < 0) {
		/* the checker lets through only what the parser takes: a
		 * mismatch between the two is a bug; say where it is */
		char e2[400];
		snprintf(e2, sizeof(e2), "%s", err);
		snprintf(err, errlen, "%s: partition %s: gateway section (lowered): %s", path, part, e2);
	}
	myco_system_free(sys);
	return rc;
}
