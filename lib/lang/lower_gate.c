/*
 * lower_gate.c: a partition's `gateway { }` section, the configuration of
 * myco-gate written in the system file:
 *
 *     partition edge {
 *         program "./myco-gate";
 *         args "--system", "app.myco";
 *         listen 8080;
 *         net;
 *         gateway {
 *             listen 8080;
 *             cache 64 MiB hyperbolic;
 *             upstream app {
 *                 server "10.0.0.1:9000" weight 3;
 *                 balance least_conn;
 *                 retries 1 budget 20 %;
 *             }
 *             route "/api/" { proxy app; strip_prefix; cache 30 s; }
 *             route "/healthz" { respond 200 "ok"; }
 *         }
 *     }
 *
 * Every statement is checked here (shapes, units, ranges, choices: the
 * cursor's E011/E012/E030..E032; a route proxying to an unknown upstream:
 * E120; an upstream or route given twice: E121; values myco-gate would
 * refuse: E122) and lowered to myco-gate's own configuration text
 * (docs/gate.md), kept in myco_partition_t.gateway: settings first, then
 * upstreams, then routes, so the order in the section is free.  myco-gate
 * reads it with `--system FILE` and parses it with its configuration parser
 * (svc/gate/conf.c), at start and at every SIGHUP.
 * Not for: serving HTTP (svc/gate).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct gtext {
	char *p;
	size_t n, cap;
} gtext_t;

typedef struct gname {
	const char *name;
	myco__arg_t *a;
} gname_t;

struct gw_acc {
	gtext_t top, ups, routes;
	gtext_t *cur;                 /* where the statement being lowered goes */
	gname_t *upn;                 /* upstream names */
	size_t nupn, cupn;
	gname_t *refs;                /* `proxy NAME` references */
	size_t nrefs, crefs;
	gname_t *rkeys;               /* route "prefix host" keys */
	size_t nrkeys, crkeys;
	unsigned nservers;            /* of the upstream being lowered */
	unsigned nreq, nresp;         /* header rewrites of the route */
	bool action;                  /* the route has proxy or respond */
	bool cache;                   /* `cache SIZE` given */
	bool tls;                     /* a default `tls cert` given */
	myco__arg_t *route_cache;     /* the first route `cache T` */
	myco__stmt_t *sni;            /* the first `tls sni` */
	bool oom;
};

typedef struct gw_acc gw_t;

static void put(gw_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gw_t *g, const char *fmt, ...)
{
	gtext_t *t = g->cur;
	va_list ap;
	int n;

	if (g->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || myco__grow((void **)&t->p, &t->cap, t->n + (size_t)n + 1, 1)) {
		g->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->p + t->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->n += (size_t)n;
}

/* A string for myco-gate's lexer: quoted, `"` and `\` escaped, newline and
 * tab as \n and \t; false (E122 reported) for other control bytes, which
 * the gateway refuses everywhere. */
static bool put_str(ctx_t *c, gw_t *g, const myco__arg_t *a)
{
	for (uint32_t i = 0; i < a->textlen; i++) {
		unsigned char ch = (unsigned char)a->text[i];
		if (ch < 0x20 && ch != '\n' && ch != '\t') {
			ERR(c, "E122", a->pos, a->len, "the gateway takes no control characters in strings",
			    "control character 0x%02x in a gateway string", ch);
			return false;
		}
	}
	put(g, " \"");
	for (uint32_t i = 0; i < a->textlen; i++) {
		char ch = a->text[i];
		if (ch == '"' || ch == '\\')
			put(g, "\\%c", ch);
		else if (ch == '\n')
			put(g, "\\n");
		else if (ch == '\t')
			put(g, "\\t");
		else
			put(g, "%c", ch);
	}
	put(g, "\"");
	return true;
}

/* A duration in the gateway's units (s, ms, or whole microseconds rounded
 * up). */
static void put_dur(gw_t *g, uint64_t ns)
{
	if (ns % 1000000000u == 0)
		put(g, " %llus", (unsigned long long)(ns / 1000000000u));
	else if (ns % 1000000u == 0)
		put(g, " %llums", (unsigned long long)(ns / 1000000u));
	else
		put(g, " %lluus", (unsigned long long)((ns + 999) / 1000));
}

static bool want_time(cur_t *k, const char *what, uint64_t lo_ns, uint64_t *ns)
{
	myco__arg_t *a = myco__peek(k);
	if (!myco__want_qty(k, true, what, ns))
		return false;
	if (*ns < lo_ns || *ns > 1000000000000000000ull) {
		k->failed = true;
		ERR(k->c, "E032", a->pos, a->len,
		    lo_ns > 1 ? "allowed range is 1 ms and up" : "allowed range is above zero",
		    "%s %s %s is out of range", what, a->text, a->unit);
		return false;
	}
	return true;
}

static bool want_size(cur_t *k, const char *what, uint64_t *bytes)
{
	myco__arg_t *a = myco__peek(k);
	if (!myco__want_qty(k, false, what, bytes))
		return false;
	if (*bytes > (1ull << 40)) {
		k->failed = true;
		ERR(k->c, "E032", a->pos, a->len, "allowed range is up to 1024 GiB",
		    "%s %s %s is out of range", what, a->text, a->unit);
		return false;
	}
	return true;
}

/* "host:port" (a name, an IPv4 address or [IPv6]) with a port 1..65535. */
static bool hostport_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || colon == s || colon - s > 63)
		return false;
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || *end || port < 1 || port > 65535)
		return false;
	for (const char *p = s; p < colon; p++)
		if (*p <= ' ' || *p == '"' || *p == '/' || *p == '\\' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* A header name: an RFC 9110 token of at most 63 characters. */
static bool token_ok(const char *s, size_t n)
{
	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("!#$%&'*+-.^_`|~", s[i])))
			return false;
	return true;
}

static myco__arg_t *want_header_name(cur_t *k)
{
	myco__arg_t *a = myco__want_str(k, "a header name such as \"X-User\"");
	if (a && !token_ok(a->text, a->textlen)) {
		k->failed = true;
		ERR(k->c, "E122", a->pos, a->len, "a header name is 1 to 63 token characters",
		    "\"%s\" is not a header name", a->text);
		return NULL;
	}
	return a;
}

static const char *const onoff[] = { "on", "off" };

/* ------------------------------------------------------------ the section */

void myco__lower_part_gateway(myco__lower_t *l)
{
	ctx_t *c = l->c;
	bpart_t *b = l->bp;
	gw_t g;
	myco__lower_t proto = *l;

	if (!myco__args_done(&l->k) || !myco__want_block(c, l->x, l->def->usage))
		return;
	memset(&g, 0, sizeof(g));
	g.cur = &g.top;
	proto.gw = &g;
	memset(proto.seen, 0, sizeof(proto.seen));
	myco__lower_block(&proto, l->x, MYCO__B_GATEWAY, NULL, NULL);
	if (g.route_cache && !g.cache)
		ERR(c, "E122", g.route_cache->pos, g.route_cache->len,
		    "give the gateway a cache: `cache 64 MiB;`", "a route caches but the gateway has no cache");
	if (g.sni && !g.tls)
		ERR(c, "E122", g.sni->pos, 3, "add `tls cert \"FILE\" key \"FILE\";` for other names",
		    "`tls sni` without a default certificate");
	/* every `proxy NAME` names an upstream of this gateway */
	for (size_t i = 0; i < g.nrefs; i++) {
		bool found = false;
		const char *cands[64];
		size_t nc = 0;
		for (size_t j = 0; j < g.nupn; j++) {
			found |= !strcmp(g.upn[j].name, g.refs[i].name);
			if (nc < 64)
				cands[nc++] = g.upn[j].name;
		}
		if (!found)
			ERR(c, "E120", g.refs[i].a->pos, g.refs[i].a->len,
			    myco__mean(c, g.refs[i].name, cands, nc,
				       nc ? "declare it with `upstream NAME { server ...; }` in this gateway"
					  : "this gateway declares no upstream"),
			    "route proxies to unknown upstream `%s`", g.refs[i].name);
	}
	if (!g.oom) {
		size_t n = g.top.n + g.ups.n + g.routes.n;
		char *txt = myco__arena_alloc(&c->ma, n + 1);
		if (!txt) {
			c->oom = true;
		} else {
			memcpy(txt, g.top.p ? g.top.p : "", g.top.n);
			memcpy(txt + g.top.n, g.ups.p ? g.ups.p : "", g.ups.n);
			memcpy(txt + g.top.n + g.ups.n, g.routes.p ? g.routes.p : "", g.routes.n);
			txt[n] = '\0';
			b->p.gateway = txt;
			b->p.gateway_pos = l->x->pos;
		}
	} else {
		c->oom = true;
	}
	free(g.top.p);
	free(g.ups.p);
	free(g.routes.p);
	free(g.upn);
	free(g.refs);
	free(g.rkeys);
}

void myco__lower_gw_listen(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *a = myco__peek(k);
	uint64_t port;

	if (a && a->kind == MYCO__A_STR) {
		k->i++;
		if (!hostport_ok(a->text)) {
			ERR(l->c, "E122", a->pos, a->len, "write it as \"HOST:PORT\", e.g. \"0.0.0.0:8080\"",
			    "\"%s\" is not an address and port", a->text);
			return;
		}
		if (myco__want_end(k)) {
			put(l->gw, "listen");
			put_str(l->c, l->gw, a);
			put(l->gw, ";\n");
		}
		return;
	}
	if (myco__want_uint(k, "a port number", 1, 65535, &port) && myco__want_end(k))
		put(l->gw, "listen 0.0.0.0:%llu;\n", (unsigned long long)port);
}

void myco__lower_gw_loops(myco__lower_t *l)
{
	uint64_t v;

	if (myco__want_uint(&l->k, "a number of loops", 1, 64, &v) && myco__want_end(&l->k))
		put(l->gw, "loops %llu;\n", (unsigned long long)v);
}

/* max_body SIZE; splice SIZE | off; */
void myco__lower_gw_size(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *a = myco__peek(k);
	const char *w = l->def->word;
	uint64_t v;

	if (!strcmp(w, "splice") && a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "off")) {
		k->i++;
		if (myco__want_end(k))
			put(l->gw, "splice off;\n");
		return;
	}
	if (want_size(k, !strcmp(w, "splice") ? "the splice threshold" : "the body limit", &v) &&
	    myco__want_end(k))
		put(l->gw, "%s %lluB;\n", w, (unsigned long long)v);
}

/* timeout header|body|idle T (gateway), connect|write|header|read T (upstream) */
void myco__lower_gw_timeout(myco__lower_t *l)
{
	static const char *const gw[] = { "header", "body", "idle" };
	static const char *const up[] = { "connect", "write", "header", "read" };
	cur_t *k = &l->k;
	bool in_up = l->def->param == 1;
	int i = myco__want_choice(k, "timeout", in_up ? up : gw, in_up ? 4 : 3);
	uint64_t ns;

	if (i < 0 || !want_time(k, "the timeout", 1, &ns) || !myco__want_end(k))
		return;
	put(l->gw, "%stimeout %s", in_up ? "    " : "", in_up ? up[i] : gw[i]);
	put_dur(l->gw, ns);
	put(l->gw, ";\n");
}

void myco__lower_gw_cache(myco__lower_t *l)
{
	static const char *const pol[] = { "hyperbolic", "lru" };
	cur_t *k = &l->k;
	uint64_t v;
	int p = 0;

	if (!want_size(k, "the cache size", &v))
		return;
	if (myco__peek(k) && (p = myco__want_choice(k, "cache policy", pol, 2)) < 0)
		return;
	if (!myco__want_end(k))
		return;
	l->gw->cache = v > 0;
	put(l->gw, "cache %lluB %s;\n", (unsigned long long)v, pol[p]);
}

/* access_log on|off (gateway), websocket on|off (route) */
void myco__lower_gw_onoff(myco__lower_t *l)
{
	int i = myco__want_choice(&l->k, "setting", onoff, 2);

	if (i >= 0 && myco__want_end(&l->k))
		put(l->gw, "%s%s %s;\n", l->gw->cur == &l->gw->routes ? "    " : "", l->def->word,
		    onoff[i]);
}

void myco__lower_gw_tls(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *name = NULL, *cert, *key;
	myco__arg_t *a = myco__peek(k);

	if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "sni")) {
		k->i++;
		if (!(name = myco__want_str(k, "the server name, e.g. \"api.example.com\"")))
			return;
	}
	if (!myco__want_word(k, "cert", "`cert`") ||
	    !(cert = myco__want_str(k, "the certificate file")) ||
	    !myco__want_word(k, "key", "`key`") || !(key = myco__want_str(k, "the key file")) ||
	    !myco__want_end(k))
		return;
	if (name && !l->gw->sni)
		l->gw->sni = l->x;
	if (!name)
		l->gw->tls = true;
	put(l->gw, "tls");
	if (name) {
		put(l->gw, " sni");
		if (!put_str(l->c, l->gw, name))
			return;
	}
	put(l->gw, " cert");
	put_str(l->c, l->gw, cert);
	put(l->gw, " key");
	put_str(l->c, l->gw, key);
	put(l->gw, ";\n");
}

void myco__lower_gw_upstream(myco__lower_t *l)
{
	ctx_t *c = l->c;
	gw_t *g = l->gw;
	myco__arg_t *a = myco__want_ident(&l->k, "the upstream's name");
	myco__lower_t proto = *l;

	if (!a || !myco__args_done(&l->k) || !myco__want_block(c, l->x, l->def->usage))
		return;
	for (size_t i = 0; i < g->nupn; i++)
		if (!strcmp(g->upn[i].name, a->text)) {
			ERR(c, "E121", a->pos, a->len, "give each upstream of a gateway its own name",
			    "upstream `%s` declared twice in this gateway", a->text);
			return;
		}
	if (MYCO__PUSH(g->upn, g->nupn, g->cupn, ((gname_t){ a->text, a })))
		g->oom = true;
	g->cur = &g->ups;
	g->nservers = 0;
	put(g, "upstream %s {\n", a->text);
	memset(proto.seen, 0, sizeof(proto.seen));
	myco__lower_block(&proto, l->x, MYCO__B_GUPSTREAM, NULL, NULL);
	put(g, "}\n");
	if (!g->nservers && !l->x->bad)
		ERR(c, "E122", a->pos, a->len, "add `server \"HOST:PORT\";` to it",
		    "upstream `%s` has no server", a->text);
	g->cur = &g->top;
}

void myco__lower_gw_route(myco__lower_t *l)
{
	ctx_t *c = l->c;
	gw_t *g = l->gw;
	cur_t *k = &l->k;
	myco__arg_t *pre = myco__want_str(k, "the path prefix, e.g. \"/api/\""), *host = NULL;
	myco__lower_t proto = *l;
	char key[512];

	if (!pre)
		return;
	if (myco__peek(k) && myco__want_word(k, "host", "`host` or a { } block") &&
	    !(host = myco__want_str(k, "the host name")))
		return;
	if (!myco__args_done(k) || !myco__want_block(c, l->x, l->def->usage))
		return;
	if (pre->text[0] != '/' || pre->textlen > 255 || memchr(pre->text, ' ', pre->textlen)) {
		ERR(c, "E122", pre->pos, pre->len, "a prefix starts with `/`, has no spaces, at most 255 bytes",
		    "invalid route prefix \"%s\"", pre->text);
		return;
	}
	if (host && (!host->textlen || host->textlen > 127 || memchr(host->text, ' ', host->textlen))) {
		ERR(c, "E122", host->pos, host->len, "a host name is 1 to 127 bytes without spaces",
		    "invalid route host \"%s\"", host->text);
		return;
	}
	snprintf(key, sizeof(key), "%s %s", pre->text, host ? host->text : "");
	for (size_t i = 0; i < g->nrkeys; i++)
		if (!strcmp(g->rkeys[i].name, key)) {
			ERR(c, "E121", pre->pos, pre->len, "merge the two routes",
			    "route \"%s\"%s%s given twice in this gateway", pre->text,
			    host ? " for host " : "", host ? host->text : "");
			return;
		}
	{
		const char *kc = myco__arena_strdup(&c->pa, key);
		if (!kc || MYCO__PUSH(g->rkeys, g->nrkeys, g->crkeys, ((gname_t){ kc, pre })))
			g->oom = true;
	}
	g->cur = &g->routes;
	g->action = false;
	g->nreq = g->nresp = 0;
	put(g, "route");
	put_str(c, g, pre);
	if (host) {
		put(g, " host");
		put_str(c, g, host);
	}
	put(g, " {\n");
	memset(proto.seen, 0, sizeof(proto.seen));
	myco__lower_block(&proto, l->x, MYCO__B_GROUTE, NULL, NULL);
	put(g, "}\n");
	if (!g->action && !l->x->bad)
		ERR(c, "E122", pre->pos, pre->len, "add `proxy UPSTREAM;` or `respond STATUS \"body\";`",
		    "route \"%s\" has no action", pre->text);
	g->cur = &g->top;
}

/* --------------------------------------------------------------- upstream */

void myco__lower_gu_server(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *a;
	uint64_t w = 1;

	l->gw->nservers++;                /* even a wrong one: no cascade */
	if (!(a = myco__want_str(k, "the server's \"HOST:PORT\"")))
		return;
	if (!hostport_ok(a->text)) {
		k->failed = true;
		ERR(l->c, "E122", a->pos, a->len, "write it as \"HOST:PORT\", e.g. \"10.0.0.1:9000\"",
		    "\"%s\" is not an address and port", a->text);
		return;
	}
	if (myco__peek(k) && (!myco__want_word(k, "weight", "`weight`") ||
			      !myco__want_uint(k, "a weight", 1, 100, &w)))
		return;
	if (!myco__want_end(k))
		return;
	put(l->gw, "    server");
	put_str(l->c, l->gw, a);
	put(l->gw, " weight %llu;\n", (unsigned long long)w);
}

void myco__lower_gu_balance(myco__lower_t *l)
{
	static const char *const how[] = { "round_robin", "least_conn", "hash" };
	static const char *const on[] = { "ip", "path", "header" };
	cur_t *k = &l->k;
	myco__arg_t *h = NULL;
	int i = myco__want_choice(k, "balancing method", how, 3), o = 0;

	if (i < 0)
		return;
	if (i == 2) {
		if ((o = myco__want_choice(k, "hash key", on, 3)) < 0)
			return;
		if (o == 2 && !(h = want_header_name(k)))
			return;
	}
	if (!myco__want_end(k))
		return;
	put(l->gw, "    balance %s", how[i]);
	if (i == 2) {
		put(l->gw, " %s", on[o]);
		if (h)
			put_str(l->c, l->gw, h);
	}
	put(l->gw, ";\n");
}

void myco__lower_gu_keepalive(myco__lower_t *l)
{
	cur_t *k = &l->k;
	uint64_t n, ns = 0;

	if (!myco__want_uint(k, "a number of idle connections", 0, 10000, &n))
		return;
	if (myco__peek(k) && (!myco__want_word(k, "idle", "`idle`") ||
			      !want_time(k, "the idle time", 1, &ns)))
		return;
	if (!myco__want_end(k))
		return;
	put(l->gw, "    keepalive %llu", (unsigned long long)n);
	if (ns) {
		put(l->gw, " idle");
		put_dur(l->gw, ns);
	}
	put(l->gw, ";\n");
}

void myco__lower_gu_health(myco__lower_t *l)
{
	static const char *const opts[] = { "interval", "timeout", "fails", "passes" };
	cur_t *k = &l->k;
	myco__arg_t *p = myco__want_str(k, "the health path, e.g. \"/healthz\"");
	gtext_t save;

	if (!p)
		return;
	if (p->text[0] != '/' || p->textlen > 127 || memchr(p->text, ' ', p->textlen)) {
		ERR(l->c, "E122", p->pos, p->len, "a path starts with `/`, has no spaces, at most 127 bytes",
		    "invalid health path \"%s\"", p->text);
		return;
	}
	save = *l->gw->cur;
	put(l->gw, "    health");
	put_str(l->c, l->gw, p);
	while (myco__peek(k)) {
		int o = myco__want_choice(k, "health option", opts, 4);
		uint64_t v;
		if (o < 0)
			break;
		if (o < 2) {
			if (!want_time(k, o ? "the health timeout" : "the health interval",
				       1000000, &v))
				break;
			put(l->gw, " %s", opts[o]);
			put_dur(l->gw, v);
		} else {
			if (!myco__want_uint(k, "a count", 1, 100, &v))
				break;
			put(l->gw, " %s %llu", opts[o], (unsigned long long)v);
		}
	}
	if (k->failed || !myco__want_end(k)) {
		l->gw->cur->n = save.n;                /* nothing of it goes out */
		return;
	}
	put(l->gw, ";\n");
}

void myco__lower_gu_eject(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *a = myco__peek(k);
	uint64_t n, ns;

	if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "off")) {
		k->i++;
		if (myco__want_end(k))
			put(l->gw, "    eject off;\n");
		return;
	}
	if (!myco__want_word(k, "after", "`after` or `off`") ||
	    !myco__want_uint(k, "a number of failures", 1, 1000, &n) ||
	    !myco__want_word(k, "for", "`for`") || !want_time(k, "the ejection time", 1, &ns) ||
	    !myco__want_end(k))
		return;
	put(l->gw, "    eject after %llu for", (unsigned long long)n);
	put_dur(l->gw, ns);
	put(l->gw, ";\n");
}

void myco__lower_gu_retries(myco__lower_t *l)
{
	cur_t *k = &l->k;
	uint64_t n, pct = 0;
	bool budget = false;

	if (!myco__want_uint(k, "a number of retries", 0, 10, &n))
		return;
	if (myco__peek(k)) {
		if (!myco__want_word(k, "budget", "`budget`") ||
		    !myco__want_uint(k, "a percentage", 0, 100, &pct) || !myco__want_punct(k, '%'))
			return;
		budget = true;
	}
	if (!myco__want_end(k))
		return;
	put(l->gw, "    retries %llu", (unsigned long long)n);
	if (budget)
		put(l->gw, " budget %llu%%", (unsigned long long)pct);
	put(l->gw, ";\n");
}

/* ------------------------------------------------------------------ route */

static bool one_action(myco__lower_t *l)
{
	if (l->gw->action) {
		ERR(l->c, "E122", l->x->pos, (uint32_t)strlen(l->def->word),
		    "a route either proxies or responds", "route has a second action `%s`",
		    l->def->word);
		return false;
	}
	l->gw->action = true;
	return true;
}

void myco__lower_gr_proxy(myco__lower_t *l)
{
	gw_t *g = l->gw;
	myco__arg_t *a = myco__want_ident(&l->k, "the upstream's name");

	if (!a || !myco__want_end(&l->k) || !one_action(l))
		return;
	if (MYCO__PUSH(g->refs, g->nrefs, g->crefs, ((gname_t){ a->text, a })))
		g->oom = true;
	put(g, "    proxy %s;\n", a->text);
}

void myco__lower_gr_respond(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *body = NULL, *type = NULL;
	uint64_t st;

	if (!myco__want_uint(k, "a status", 200, 599, &st))
		return;
	if (myco__peek(k) && !(body = myco__want_str(k, "the body")))
		return;
	if (body && myco__peek(k) && (!myco__want_word(k, "type", "`type`") ||
				      !(type = myco__want_str(k, "the content type"))))
		return;
	if (!myco__want_end(k) || !one_action(l))
		return;
	if (body && body->textlen > 65536) {
		ERR(l->c, "E122", body->pos, body->len, "serve large bodies from an upstream",
		    "a fixed answer is at most 64 KiB");
		return;
	}
	if (type && (!type->textlen || type->textlen > 63)) {
		ERR(l->c, "E122", type->pos, type->len, "a content type is 1 to 63 bytes",
		    "invalid content type");
		return;
	}
	put(l->gw, "    respond %llu", (unsigned long long)st);
	if (body && !put_str(l->c, l->gw, body))
		return;
	if (type) {
		put(l->gw, " type");
		put_str(l->c, l->gw, type);
	}
	put(l->gw, ";\n");
}

void myco__lower_gr_flag(myco__lower_t *l)
{
	if (myco__want_end(&l->k))
		put(l->gw, "    %s;\n", l->def->word);
}

void myco__lower_gr_header(myco__lower_t *l)
{
	static const char *const ops[] = { "set", "add", "remove" };
	cur_t *k = &l->k;
	gw_t *g = l->gw;
	myco__arg_t *n, *v = NULL;
	int op = myco__want_choice(k, "header operation", ops, 3);
	unsigned *count = l->def->param ? &g->nresp : &g->nreq;

	if (op < 0 || !(n = want_header_name(k)))
		return;
	if (op != 2 && !(v = myco__want_str(k, "the value")))
		return;
	if (!myco__want_end(k))
		return;
	if (v && v->textlen > 255) {
		ERR(l->c, "E122", v->pos, v->len, "a header value is at most 255 bytes here",
		    "header value too long");
		return;
	}
	if (v && (memchr(v->text, '\n', v->textlen) || memchr(v->text, '\t', v->textlen))) {
		ERR(l->c, "E122", v->pos, v->len, "a header value is one line",
		    "control character in a header value");
		return;
	}
	if (++*count > 16) {
		ERR(l->c, "E122", l->x->pos, (uint32_t)strlen(l->def->word),
		    "at most 16 rewrites per direction", "too many %s rewrites", l->def->word);
		return;
	}
	put(g, "    %s %s", l->def->word, ops[op]);
	put_str(l->c, g, n);
	if (v)
		put_str(l->c, g, v);
	put(g, ";\n");
}

void myco__lower_gr_rate(myco__lower_t *l)
{
	static const char *const keys[] = { "ip", "header" };
	cur_t *k = &l->k;
	myco__arg_t *h = NULL;
	uint64_t rate, burst = 0;
	int key = -1;

	if (!myco__want_uint(k, "a rate", 1, 10000000, &rate) ||
	    !myco__want_word(k, "per", "`per s`") || !myco__want_word(k, "s", "`s` (requests per second)"))
		return;
	while (myco__peek(k)) {
		myco__arg_t *a = myco__peek(k);
		if (a->kind == MYCO__A_IDENT && !strcmp(a->text, "burst") && !burst) {
			k->i++;
			if (!myco__want_uint(k, "a burst", 1, 100000000, &burst))
				return;
		} else if (a->kind == MYCO__A_IDENT && !strcmp(a->text, "key") && key < 0) {
			k->i++;
			if ((key = myco__want_choice(k, "rate-limit key", keys, 2)) < 0)
				return;
			if (key == 1 && !(h = want_header_name(k)))
				return;
		} else {
			myco__expected(k, "`burst N`, `key ip` or `key header \"NAME\"`");
			return;
		}
	}
	if (!myco__want_end(k))
		return;
	put(l->gw, "    rate_limit %llu/s", (unsigned long long)rate);
	if (burst)
		put(l->gw, " burst %llu", (unsigned long long)burst);
	if (key == 0)
		put(l->gw, " key ip");
	else if (key == 1) {
		put(l->gw, " key header");
		put_str(l->c, l->gw, h);
	}
	put(l->gw, ";\n");
}

void myco__lower_gr_cache(myco__lower_t *l)
{
	myco__arg_t *a = myco__peek(&l->k);
	uint64_t ns;

	if (!want_time(&l->k, "the cache time", 1000000, &ns) || !myco__want_end(&l->k))
		return;
	if (!l->gw->route_cache)
		l->gw->route_cache = a;
	put(l->gw, "    cache");
	put_dur(l->gw, ns);
	put(l->gw, ";\n");
}
