/*
 * gate.c: myco-gate's request handler and configuration life cycle: picks
 * the route (longest prefix, optional Host), applies its rate limit,
 * answers from the response cache or a fixed answer, or proxies; reloads
 * the configuration on SIGHUP without stopping anything (each loop moves
 * to the new generation between requests; requests in flight finish on
 * the one they started with); runs the active health checks on loop 0.
 * Not for: HTTP framing (server.c), upstream I/O (proxy.c).
 */
#include "gate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The configuration a loop uses: a loop-local holder counts the requests
 * of this loop that use it (no atomics on the request path); the loop's
 * one shared reference is dropped when the holder is stale and unused. */
typedef struct lconf {
	myco__gate_conf_t *cf;
	uint64_t gen;
	unsigned users;
	bool stale;
} lconf_t;

static __thread lconf_t *tl_conf;
static pthread_key_t conf_key;
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;

/* When a loop thread ends, its reference goes (requests are over then). */
static void conf_drop(void *unused)
{
	(void)unused;
	if (tl_conf && tl_conf->users == 0) {
		myco__conf_put(tl_conf->cf);
		free(tl_conf);
	}
	tl_conf = NULL;
}

static void conf_key_init(void)
{
	pthread_key_create(&conf_key, conf_drop);
}

static void lconf_release(lconf_t *lc)
{
	if (--lc->users == 0 && lc->stale) {
		myco__conf_put(lc->cf);
		free(lc);
	}
}

static lconf_t *lconf_acquire(myco__gate_t *g)
{
	uint64_t gen = atomic_load_explicit(&g->generation, memory_order_acquire);
	lconf_t *lc = tl_conf;

	if (!lc || lc->gen != gen) {
		lconf_t *n = calloc(1, sizeof(*n));
		if (!n) {
			if (!lc)
				return NULL;
		} else {
			pthread_mutex_lock(&g->lock);
			n->cf = g->conf;
			atomic_fetch_add(&n->cf->refs, 1);
			n->gen = atomic_load(&g->generation);
			pthread_mutex_unlock(&g->lock);
			if (lc) {
				lc->stale = true;
				if (lc->users == 0) {
					myco__conf_put(lc->cf);
					free(lc);
				}
			}
			tl_conf = lc = n;
			pthread_once(&conf_once, conf_key_init);
			pthread_setspecific(conf_key, (void *)1);
		}
	}
	lc->users++;
	return lc;
}

/* ------------------------------------------------------------- routing */

static const myco__route_t *find_route(const myco__gate_conf_t *cf, const myco__gate_req_t *r)
{
	const myco__route_t *best = NULL;
	size_t hl = 0, i;

	if (r->m->host) {
		const char *colon = memchr(r->m->host, ':', r->m->hostlen);
		hl = colon && r->m->host[0] != '[' ? (size_t)(colon - r->m->host) : r->m->hostlen;
	}
	for (i = 0; i < cf->nroutes; i++) {
		const myco__route_t *rt = &cf->routes[i];
		if (r->path_len < rt->plen || memcmp(r->path, rt->prefix, rt->plen) != 0)
			continue;
		if (r->path_len > rt->plen && rt->prefix[rt->plen - 1] != '/' &&
		    r->path[rt->plen] != '/')
			continue;                 /* /api matches /api/x, not /apix */
		if (rt->host[0] && !(r->m->host && myco__h1_eq(r->m->host, hl, rt->host)))
			continue;
		if (!best || rt->plen > best->plen || (rt->plen == best->plen && rt->host[0] &&
						       !best->host[0]))
			best = rt;
	}
	return best;
}

static int from_cache(myco__gate_conf_t *cf, const myco__route_t *rt, myco__gate_conn_t *c,
		      myco__gate_req_t *r)
{
	char key[1024], *val = NULL, head[256];
	size_t vlen, dl;
	uint32_t fl;
	int kn, n, rc;
	const char *date;

	(void)rt;
	kn = snprintf(key, sizeof(key), "%.*s%.*s?%.*s", (int)(r->m->host ? r->m->hostlen : 0),
		      r->m->host ? r->m->host : "", (int)r->path_len, r->path, (int)r->query_len,
		      r->query ? r->query : "");
	if (kn <= 0 || (size_t)kn >= sizeof(key))
		return 1;
	if (myco__cache_get(cf->cache, key, (size_t)kn, &val, &vlen, myco_now()) < 0) {
		myco_counter_add(&myco__gm.cache_misses, 1);
		return 1;
	}
	myco_counter_add(&myco__gm.cache_hits, 1);
	memcpy(&fl, val, 4);
	if (4 + (size_t)fl > vlen) {
		free(val);
		return 1;
	}
	date = myco__gate_date(&dl);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\nServer: myco-gate\r\n%.*sX-Cache: HIT\r\n"
		     "Content-Length: %zu\r\nX-Request-Id: %s\r\n%s",
		     (int)dl, date, vlen - 4 - fl, r->request_id,
		     r->keep_alive ? "" : "Connection: close\r\n");
	r->status = 200;
	rc = myco__gate_out(c, head, (size_t)n);
	if (!rc)
		rc = myco__gate_out(c, val + 4, fl);
	if (!rc)
		rc = myco__gate_out(c, "\r\n", 2);
	if (!rc && !r->head)
		rc = myco__gate_out(c, val + 4 + fl, vlen - 4 - fl);
	free(val);
	return rc;
}

int myco__gate_handle(void *ctx, myco__gate_conn_t *c, myco__gate_req_t *r)
{
	myco__gate_t *g = ctx;
	lconf_t *lc = lconf_acquire(g);
	myco__gate_conf_t *cf;
	const myco__route_t *rt;
	int rc;

	if (!lc)
		return myco__gate_respond_error(c, r, 503, "out of memory");
	cf = lc->cf;
	rt = find_route(cf, r);
	if (!rt) {
		rc = myco__gate_respond_error(c, r, 404, "no route for this path");
		goto out;
	}
	if (r->body_len > cf->max_body) {
		r->keep_alive = false;
		rc = myco__gate_respond_error(c, r, 413, "request body too large");
		goto out;
	}
	if (rt->rl) {
		const char *k = c->peer;
		size_t kl = strlen(c->peer);
		uint64_t wait = 0;
		if (rt->rl_key == MYCO__HASH_HEADER) {
			const myco__h1_hdr_t *h = myco__h1_find(r->m, rt->rl_header);
			if (h) {
				k = h->value;
				kl = h->vlen;
			}
		}
		if (!myco__rl_take(rt->rl, k, kl, myco_now(), &wait)) {
			char ra[48];
			myco_counter_add(&myco__gm.rate_limited, 1);
			int n = snprintf(ra, sizeof(ra), "Retry-After: %llu\r\n",
					 (unsigned long long)((wait + 999999999ull) / 1000000000ull));
			rc = myco__gate_respond(c, r, 429, "application/json", ra, (size_t)n,
						"{\"error\":\"Too Many Requests\",\"detail\":\"rate limit\"}\n",
						53);
			goto out;
		}
	}
	if (rt->cache_ttl_ns && cf->cache && rt->pool &&
	    ((r->m->mlen == 3 && memcmp(r->m->method, "GET", 3) == 0) || r->head)) {
		rc = from_cache(cf, rt, c, r);
		if (rc <= 0)
			goto out;
	}
	if (rt->fixed_status) {
		char hdrs[2048];
		size_t hn = 0, i;
		for (i = 0; i < rt->nresp_ops; i++)
			if (rt->resp_ops[i].op != 2) {
				int k = snprintf(hdrs + hn, sizeof(hdrs) - hn, "%s: %s\r\n",
						 rt->resp_ops[i].name, rt->resp_ops[i].value);
				if (k > 0 && hn + (size_t)k < sizeof(hdrs))
					hn += (size_t)k;
			}
		rc = myco__gate_respond(c, r, rt->fixed_status, rt->fixed_type, hdrs, hn,
					rt->fixed_body ? rt->fixed_body : "", rt->fixed_len);
		goto out;
	}
	rc = myco__proxy(g, cf, rt, c, r);
out:
	if (cf->access_log) {
		double ms = (double)(myco_now() - r->t_start) / 1e6;
		fprintf(stdout, "%s \"%.*s %.*s\" %u %.3fms %s\n", c->peer, (int)r->m->mlen,
			r->m->method, (int)r->m->tlen, r->m->target, r->status, ms, r->request_id);
		/* and into the trace rings (inside a system, "log" category on) */
		MYCO_LOG_INFO("access %s \"%.*s %.*s\" %u %.3fms %s", c->peer, (int)r->m->mlen,
			      r->m->method, (int)r->m->tlen, r->m->target, r->status, ms,
			      r->request_id);
	}
	lconf_release(lc);
	return rc;
}

/* ------------------------------------------------------- configuration */

static int attach_cache(myco__gate_t *g, myco__gate_conf_t *cf)
{
	size_t i;
	int rc;

	if (!cf->cache_bytes)
		return 0;
	for (i = 0; i < g->ncaches; i++)
		if (g->cache_bytes[i] == cf->cache_bytes && g->cache_pol[i] == (int)cf->cache_policy) {
			cf->cache = g->caches[i];
			return 0;
		}
	if (g->ncaches == 8)
		return -ENOSPC;
	rc = myco__cache_create(&g->caches[g->ncaches], cf->cache_bytes, cf->cache_policy, 64);
	if (rc < 0)
		return rc;
	g->cache_bytes[g->ncaches] = cf->cache_bytes;
	g->cache_pol[g->ncaches] = (int)cf->cache_policy;
	cf->cache = g->caches[g->ncaches++];
	return 0;
}

/* Health verdicts and ejections survive a reload for servers that stay. */
static void carry_state(const myco__gate_conf_t *old, myco__gate_conf_t *cf)
{
	size_t i, j, k, l;

	for (i = 0; i < cf->npools; i++)
		for (j = 0; j < old->npools; j++) {
			if (strcmp(cf->pools[i].name, old->pools[j].name) != 0)
				continue;
			for (k = 0; k < cf->pools[i].nservers; k++)
				for (l = 0; l < old->pools[j].nservers; l++) {
					myco__server_t *n = &cf->pools[i].servers[k];
					myco__server_t *o = &old->pools[j].servers[l];
					if (strcmp(n->host, o->host) || n->port != o->port)
						continue;
					atomic_store(&n->healthy, atomic_load(&o->healthy));
					atomic_store(&n->ejected_until, atomic_load(&o->ejected_until));
				}
		}
}

static int conf_read(myco__gate_t *g, myco__gate_conf_t **out, char *err, size_t errlen)
{
	if (g->part[0])
		return myco__conf_load_system(g->path, g->part, out, err, errlen);
	return myco__conf_load(g->path, out, err, errlen);
}

int myco__gate_init(myco__gate_t *g, const char *path, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_init(&g->lock, NULL);
	snprintf(g->path, sizeof(g->path), "%s", path);
	rc = conf_read(g, &g->conf, err, errlen);
	if (rc < 0)
		return rc;
	rc = attach_cache(g, g->conf);
	if (rc < 0) {
		snprintf(err, errlen, "cache: %s", myco_strerror(rc));
		return rc;
	}
	rc = myco__tls_build(g->conf, err, errlen);
	if (rc < 0)
		return rc;
	atomic_store(&g->generation, 1);
	return 0;
}

void myco__gate_fini(myco__gate_t *g)
{
	size_t i;

	myco__conf_put(g->conf);
	g->conf = NULL;
	for (i = 0; i < g->ncaches; i++)
		myco__cache_destroy(g->caches[i]);
	g->ncaches = 0;
	pthread_mutex_destroy(&g->lock);
}

void myco__gate_reload(void *ctx)
{
	myco__gate_t *g = ctx;
	myco__gate_conf_t *cf, *old;
	char err[512];
	int rc;

	rc = conf_read(g, &cf, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "myco-gate: reload failed, keeping the running configuration: %s\n",
			err);
		return;
	}
	rc = attach_cache(g, cf);
	if (rc < 0) {
		fprintf(stderr, "myco-gate: reload failed (cache: %s)\n", myco_strerror(rc));
		myco__conf_put(cf);
		return;
	}
	rc = myco__tls_build(cf, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "myco-gate: reload failed, keeping the running configuration: %s\n",
			err);
		myco__conf_put(cf);
		return;
	}
	if (!cf->tls != !g->conf->tls)
		fprintf(stderr, "myco-gate: reload: turning TLS on or off applies at the next start\n");
	pthread_mutex_lock(&g->lock);
	old = g->conf;
	if (strcmp(old->listen_host, cf->listen_host) || old->listen_port != cf->listen_port ||
	    old->loops != cf->loops)
		fprintf(stderr, "myco-gate: reload: listen and loops apply at the next start\n");
	carry_state(old, cf);
	g->conf = cf;
	atomic_fetch_add_explicit(&g->generation, 1, memory_order_release);
	pthread_mutex_unlock(&g->lock);
	myco__conf_put(old);
	fprintf(stderr, "myco-gate: configuration reloaded (generation %llu)\n",
		(unsigned long long)atomic_load(&g->generation));
}

/* --------------------------------------------------------- health loop */

static int health_main(void *arg)
{
	myco__gate_t *g = arg;
	uint64_t due[256] = { 0 }, gen = 0;

	for (;;) {
		lconf_t *lc = lconf_acquire(g);
		myco__gate_conf_t *cf;
		uint64_t now = myco_now(), sleep_ns = 100000000;   /* 100 ms */
		myco_co_t *cos[256];
		myco__hc_arg_t args[256];
		size_t i, j, n = 0;

		if (g->heartbeat)
			g->heartbeat();
		if (!lc) {
			if (g->health_stop || myco_sleep_ns(sleep_ns) == -ECANCELED)
				break;
			continue;
		}
		cf = lc->cf;
		if (lc->gen != gen) {
			memset(due, 0, sizeof(due));
			gen = lc->gen;
		}
		for (i = 0; i < cf->npools && i < 256; i++) {
			myco__pool_t *p = &cf->pools[i];
			if (!p->health_path[0])
				continue;
			if (now >= due[i]) {
				due[i] = now + p->health_interval_ns;
				for (j = 0; j < p->nservers && n < 256; j++) {
					args[n] = (myco__hc_arg_t){ p, &p->servers[j] };
					if (myco_spawn(myco_loop_current(), &cos[n], myco__proxy_hc_one,
						       &args[n], &(myco_co_opts_t){ .name = "gate-health" }) == 0)
						n++;
				}
			}
			if (due[i] - now < sleep_ns)
				sleep_ns = due[i] > now ? due[i] - now : 1000000;
		}
		/* loop_fini cancels these (never this coroutine) while they run */
		g->hc_cos = cos;
		g->hc_n = n;
		for (i = 0; i < n; i++)
			while (myco_join(cos[i], NULL, MYCO_FOREVER) == -ETIMEDOUT)
				;
		g->hc_n = 0;
		g->hc_cos = NULL;
		lconf_release(lc);
		if (g->health_stop || myco_sleep_ns(sleep_ns) == -ECANCELED)
			break;
	}
	atomic_store(&g->health_running, false);
	return 0;
}

void *myco__gate_tls_get(void *ctx)
{
	lconf_t *lc = lconf_acquire(ctx);
	void *t;

	if (!lc)
		return NULL;
	t = myco__tls_ctx_get(lc->cf);
	lconf_release(lc);
	return t;
}

void myco__gate_loop_init(myco_loop_t *loop, unsigned idx, void *ctx)
{
	myco__gate_t *g = ctx;

	if (idx != 0)
		return;
	atomic_store(&g->health_running, true);
	if (myco_spawn(loop, &g->health_co, health_main, ctx,
		       &(myco_co_opts_t){ .name = "gate-health" }) == 0)
		myco_co_detach(g->health_co);
	else
		atomic_store(&g->health_running, false);
}

/* At stop, on loop 0's thread: the checks in flight are cancelled (they
 * unwind, free their buffers and leave the servers' state alone) and the
 * checker returns after joining them, releasing its configuration; if it
 * sleeps, the sleep is cancelled.  Without this the loop would stop with
 * the checker suspended and what it holds never freed. */
void myco__gate_loop_fini(myco_loop_t *loop, unsigned idx, void *ctx)
{
	myco__gate_t *g = ctx;

	(void)loop;
	if (idx != 0 || !atomic_load(&g->health_running))
		return;
	g->health_stop = true;
	if (g->hc_n)
		for (size_t i = 0; i < g->hc_n; i++)
			myco_cancel(g->hc_cos[i]);
	else
		myco_cancel(g->health_co);
}

bool myco__gate_busy(void *ctx)
{
	myco__gate_t *g = ctx;

	return atomic_load(&g->health_running);
}
