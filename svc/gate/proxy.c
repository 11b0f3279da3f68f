/*
 * proxy.c: myco-gate's reverse proxy: choosing an upstream server (smooth
 * weighted round robin, least connections, consistent hashing on the client
 * address, a header or the path), keep-alive upstream connections per loop,
 * forwarding a request with hop-by-hop headers removed and rewrites
 * applied, retries within a budget, passive outlier ejection, a deadline
 * on every upstream phase (connect, write, response head, each read),
 * streaming the answer back (re-chunked when needed), filling the response
 * cache, WebSocket pass-through after a 101, and the active health checks.
 * Not for: choosing the route or answering from the cache (gate.c).
 */
#include "gate_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UP_BUF 65536
#define CACHE_MAX_OBJ (1u << 20)

/* ------------------------------------------------------------ choosing */

static bool available(myco__server_t *s, uint64_t now)
{
	return atomic_load_explicit(&s->healthy, memory_order_relaxed) &&
	       atomic_load_explicit(&s->ejected_until, memory_order_relaxed) <= now;
}

static uint32_t hash_key(const myco__pool_t *p, const myco__gate_conn_t *c,
			 const myco__gate_req_t *r)
{
	if (p->hash_on == MYCO__HASH_HEADER) {
		const myco__h1_hdr_t *h = myco__h1_find(r->m, p->hash_header);
		if (h)
			return myco__hash32(h->value, h->vlen);
	} else if (p->hash_on == MYCO__HASH_PATH) {
		return myco__hash32(r->path, r->path_len);
	}
	return myco__hash32(c->peer, strlen(c->peer));
}

/* Index of the server to try, -1 when none is available.  tried: bit mask
 * of servers already tried by this request. */
static int pick(myco__pool_t *p, const myco__gate_conn_t *c, const myco__gate_req_t *r,
		uint64_t tried, uint64_t now)
{
	size_t i, n = p->nservers;

	if (p->balance == MYCO__LB_HASH) {
		uint32_t h = hash_key(p, c, r);
		size_t lo = 0, hi = p->nring;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (p->ring_hash[mid] < h)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (i = 0; i < p->nring; i++) {
			unsigned s = p->ring[(lo + i) % p->nring];
			if (!(tried & (1ull << (s & 63))) && available(&p->servers[s], now))
				return (int)s;
		}
		return -1;
	}
	if (p->balance == MYCO__LB_LEAST) {
		int best = -1;
		double bl = 0;
		unsigned start = atomic_fetch_add_explicit(&p->rr, 1, memory_order_relaxed);
		for (i = 0; i < n; i++) {
			size_t s = (start + i) % n;
			double load;
			if ((tried & (1ull << (s & 63))) || !available(&p->servers[s], now))
				continue;
			load = (double)atomic_load_explicit(&p->servers[s].active,
							    memory_order_relaxed) /
			       p->servers[s].weight;
			if (best < 0 || load < bl) {
				best = (int)s;
				bl = load;
			}
		}
		return best;
	}
	{
		unsigned start = atomic_fetch_add_explicit(&p->rr, 1, memory_order_relaxed);
		for (i = 0; i < p->nwrr; i++) {
			unsigned s = p->wrr[(start + i) % p->nwrr];
			if (!(tried & (1ull << (s & 63))) && available(&p->servers[s], now))
				return (int)s;
		}
	}
	return -1;
}

static void note_result(myco__pool_t *p, myco__server_t *s, bool ok, uint64_t now)
{
	atomic_fetch_add_explicit(&s->requests, 1, memory_order_relaxed);
	if (ok) {
		atomic_store_explicit(&s->consec_fail, 0, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&s->failures, 1, memory_order_relaxed);
	if (p->eject_after &&
	    atomic_fetch_add_explicit(&s->consec_fail, 1, memory_order_relaxed) + 1 >=
		    (int)p->eject_after) {
		atomic_store(&s->consec_fail, 0);
		atomic_store(&s->ejected_until, now + p->eject_ns);
		fprintf(stderr, "myco-gate: upstream %s server %s:%u ejected for %.1f s\n", p->name,
			s->host, s->port, (double)p->eject_ns / 1e9);
	}
}

/* Upstream read buffers: a few per loop thread are kept for reuse (one per
 * request in flight; coroutines of a loop share its thread). */
static __thread char *buf_free[8];
static __thread unsigned nbuf_free;

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

/* When a loop thread ends, its kept buffers go with it. */
static void buf_drop(void *unused)
{
	(void)unused;
	while (nbuf_free)
		free(buf_free[--nbuf_free]);
}

static void buf_key_init(void)
{
	pthread_key_create(&buf_key, buf_drop);
}

static char *buf_get(void)
{
	return nbuf_free ? buf_free[--nbuf_free] : malloc(UP_BUF);
}

static void buf_put(char *b)
{
	if (b && nbuf_free < 8) {
		pthread_once(&buf_once, buf_key_init);
		pthread_setspecific(buf_key, (void *)1);
		buf_free[nbuf_free++] = b;
	} else {
		free(b);
	}
}

/* ---------------------------------------------------------- connections */

static int up_get(myco__pool_t *p, myco__server_t *s, unsigned loop, bool *reused)
{
	uint64_t now = myco_now();

	while (s->idle[loop]) {
		myco__pconn_t *pc = s->idle[loop];
		char b;
		ssize_t n;
		int fd = pc->fd;
		s->idle[loop] = pc->next;
		s->nidle[loop]--;
		uint64_t idle = now - pc->idle_since;
		free(pc);
		/* Recently used connections are taken as they are (a close that
		 * races with the request is retried once, see myco__proxy);
		 * older ones are checked: one the server closed reads EOF. */
		if (idle < 1000000000ull) {
			*reused = true;
			return fd;
		}
		n = idle < p->idle_timeout_ns ? recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*reused = true;
			return fd;
		}
		close(fd);
	}
	*reused = false;
	return myco_tcp_connect(s->host, s->port, (int64_t)p->connect_timeout_ns);
}

static void up_put(myco__pool_t *p, myco__server_t *s, unsigned loop, int fd)
{
	myco__pconn_t *pc;

	if (s->nidle[loop] >= p->keepalive || !(pc = malloc(sizeof(*pc)))) {
		close(fd);
		return;
	}
	pc->fd = fd;
	pc->idle_since = myco_now();
	pc->next = s->idle[loop];
	s->idle[loop] = pc;
	s->nidle[loop]++;
}

/* ----------------------------------------------------------- the request */

static bool hop_by_hop(const char *n, size_t l, const myco__h1_msg_t *m)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding",
		"upgrade", "trailer", "content-length", "expect", "x-request-id",
	};
	const myco__h1_hdr_t *conn;
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (myco__h1_eq(n, l, hop[i]))
			return true;
	/* fields named in Connection are hop-by-hop too */
	conn = myco__h1_find(m, "connection");
	if (conn) {
		char tok[64];
		if (l < sizeof(tok)) {
			memcpy(tok, n, l);
			tok[l] = '\0';
			return myco__h1_has_token(conn->value, conn->vlen, tok);
		}
	}
	return false;
}

static bool op_touches(const myco__hdr_op_t *ops, size_t nops, const char *n, size_t l)
{
	size_t i;

	for (i = 0; i < nops; i++)
		if (ops[i].op != 1 && myco__h1_eq(n, l, ops[i].name))
			return true;
	return false;
}

typedef myco__gbuf_t sbuf_t;
#define sb_add myco__gbuf_add

static void sb_str(sbuf_t *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_hdr(sbuf_t *b, const char *n, size_t nl, const char *v, size_t vl)
{
	sb_add(b, n, nl);
	sb_add(b, ": ", 2);
	sb_add(b, v, vl);
	sb_add(b, "\r\n", 2);
}

static void apply_ops(sbuf_t *b, const myco__hdr_op_t *ops, size_t nops)
{
	size_t i;

	for (i = 0; i < nops; i++)
		if (ops[i].op != 2)
			sb_hdr(b, ops[i].name, strlen(ops[i].name), ops[i].value, strlen(ops[i].value));
}

static void build_request(sbuf_t *b, const myco__route_t *rt, const myco__gate_conn_t *c,
			  const myco__gate_req_t *r, bool ws)
{
	const myco__h1_msg_t *m = r->m;
	const myco__h1_hdr_t *xff = NULL;
	const char *path = r->path;
	size_t plen = r->path_len, i;
	char num[32];

	if (rt->strip_prefix && rt->plen > 1 && plen >= rt->plen) {
		size_t cut = rt->prefix[rt->plen - 1] == '/' ? rt->plen - 1 : rt->plen;
		path += cut;
		plen -= cut;
		if (plen == 0) {
			path = "/";
			plen = 1;
		}
	}
	sb_add(b, m->method, m->mlen);
	sb_add(b, " ", 1);
	sb_add(b, path, plen);
	if (r->query) {
		sb_add(b, "?", 1);
		sb_add(b, r->query, r->query_len);
	}
	sb_str(b, " HTTP/1.1\r\n");
	for (i = 0; i < m->nhdrs; i++) {
		const myco__h1_hdr_t *h = &m->hdrs[i];
		if (hop_by_hop(h->name, h->nlen, m) || op_touches(rt->req_ops, rt->nreq_ops, h->name, h->nlen))
			continue;
		if (myco__h1_eq(h->name, h->nlen, "x-forwarded-for")) {
			xff = h;
			continue;
		}
		sb_hdr(b, h->name, h->nlen, h->value, h->vlen);
	}
	if (m->minor == 0 && !m->host)
		sb_str(b, "Host: localhost\r\n");
	if (xff) {
		sb_str(b, "X-Forwarded-For: ");
		sb_add(b, xff->value, xff->vlen);
		sb_str(b, ", ");
		sb_str(b, c->peer);
		sb_str(b, "\r\n");
	} else {
		sb_hdr(b, "X-Forwarded-For", 15, c->peer, strlen(c->peer));
	}
	if (!op_touches(rt->req_ops, rt->nreq_ops, "x-forwarded-proto", 17))
		sb_str(b, "X-Forwarded-Proto: http\r\n");
	sb_hdr(b, "X-Request-Id", 12, r->request_id, strlen(r->request_id));
	apply_ops(b, rt->req_ops, rt->nreq_ops);
	if (ws) {
		const myco__h1_hdr_t *u = myco__h1_find(m, "upgrade");
		sb_str(b, "Connection: upgrade\r\n");
		if (u)
			sb_hdr(b, "Upgrade", 7, u->value, u->vlen);
	}
	if (r->body_len || m->content_length >= 0 || m->chunked) {
		int n = snprintf(num, sizeof(num), "%zu", r->body_len);
		sb_hdr(b, "Content-Length", 14, num, (size_t)n);
	}
	sb_add(b, "\r\n", 2);
}

/* Copy bytes both ways until either side ends (WebSocket after 101); the
 * client side may be TLS, the upstream side is plain. */
typedef struct pipe_arg {
	myco__gate_conn_t *c;
	int ufd;
	bool to_client;
	uint64_t idle_ns;
} pipe_arg_t;

static int pipe_main(void *arg)
{
	pipe_arg_t *a = arg;
	char buf[16384];

	for (;;) {
		ssize_t n;
		if (a->to_client) {
			n = myco_recv(a->ufd, buf, sizeof(buf), 0, (int64_t)a->idle_ns);
			if (n <= 0 || myco__gate_conn_write(a->c, buf, (size_t)n, (int64_t)a->idle_ns) < 0)
				break;
		} else {
			n = myco__gate_conn_recv(a->c, buf, sizeof(buf), (int64_t)a->idle_ns);
			if (n <= 0 || myco_write_all(a->ufd, buf, (size_t)n, (int64_t)a->idle_ns) < 0)
				break;
		}
	}
	shutdown(a->c->fd, SHUT_RDWR);
	shutdown(a->ufd, SHUT_RDWR);
	return 0;
}

static int bridge(myco__gate_conn_t *c, int ufd, const char *pre, size_t prelen,
		  uint64_t idle_ns)
{
	pipe_arg_t up = { c, ufd, false, idle_ns }, down = { c, ufd, true, idle_ns };
	myco_co_t *co;
	int rc;

	if (prelen && myco__gate_conn_write(c, pre, prelen, (int64_t)idle_ns) < 0)
		return -EIO;
	rc = myco_spawn(myco_loop_current(), &co, pipe_main, &down,
			&(myco_co_opts_t){ .name = "gate-ws" });
	if (rc < 0)
		return rc;
	pipe_main(&up);
	myco_join(co, NULL, MYCO_FOREVER);
	return 0;
}

/* Response header block for the client: upstream fields minus hop-by-hop,
 * with rewrites; into b (no status line, no final CRLF). */
static void resp_fields(sbuf_t *b, const myco__route_t *rt, const myco__h1_msg_t *um)
{
	size_t i;

	for (i = 0; i < um->nhdrs; i++) {
		const myco__h1_hdr_t *h = &um->hdrs[i];
		if (hop_by_hop(h->name, h->nlen, um) ||
		    op_touches(rt->resp_ops, rt->nresp_ops, h->name, h->nlen) ||
		    myco__h1_eq(h->name, h->nlen, "date") || myco__h1_eq(h->name, h->nlen, "server"))
			continue;
		sb_hdr(b, h->name, h->nlen, h->value, h->vlen);
	}
	apply_ops(b, rt->resp_ops, rt->nresp_ops);
}

static bool cacheable(const myco__h1_msg_t *um)
{
	const myco__h1_hdr_t *cc = myco__h1_find(um, "cache-control");

	if (um->status != 200 || myco__h1_find(um, "set-cookie") || myco__h1_find(um, "vary"))
		return false;
	if (cc && (myco__h1_has_token(cc->value, cc->vlen, "no-store") ||
		   myco__h1_has_token(cc->value, cc->vlen, "private") ||
		   myco__h1_has_token(cc->value, cc->vlen, "no-cache")))
		return false;
	return true;
}

static bool idempotent(const myco__h1_msg_t *m)
{
	static const char *const ok[] = { "GET", "HEAD", "PUT", "DELETE", "OPTIONS" };
	size_t i;

	for (i = 0; i < 5; i++)
		if (strlen(ok[i]) == m->mlen && memcmp(m->method, ok[i], m->mlen) == 0)
			return true;
	return false;
}

/* The result of one attempt. */
enum { A_DONE, A_RETRY, A_FAIL };

typedef struct attempt {
	int fd;
	bool reused;
	char *buf;                       /* upstream input buffer */
	size_t len, cap;
	myco__h1_msg_t um;
	ssize_t hl;
	unsigned fail_status;            /* 502 or 504 when nothing was sent */
	const char *fail_why;
} attempt_t;

/* Send the request and read the response head. */
static int send_and_head(myco__pool_t *p, myco__server_t *s, unsigned loop, attempt_t *a,
			 const sbuf_t *req, const myco__gate_req_t *r)
{
	uint64_t deadline;
	struct iovec iov[2] = { { req->p, req->n }, { r->body, r->body_len } };
	ssize_t n;

	a->fd = up_get(p, s, loop, &a->reused);
	if (a->fd < 0) {
		a->fail_status = a->fd == -ETIMEDOUT ? 504 : 502;
		a->fail_why = a->fd == -ETIMEDOUT ? "upstream connect timed out"
						   : "upstream connect failed";
		return a->fd;
	}
	/* most requests fit the socket buffer: one non-blocking send first */
	{
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = r->body_len ? 2 : 1 };
		size_t total = req->n + r->body_len;
		n = sendmsg(a->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			n = -errno;
		else if (n < 0)
			n = 0;
		if (n >= 0 && (size_t)n < total) {
			size_t done = (size_t)n;
			if (done < req->n) {
				iov[0].iov_base = (char *)req->p + done;
				iov[0].iov_len = req->n - done;
			} else {
				iov[0].iov_base = r->body + (done - req->n);
				iov[0].iov_len = total - done;
				iov[1].iov_len = 0;
			}
			n = myco_writev_all(a->fd, iov, iov[1].iov_len ? 2 : 1,
					    (int64_t)p->write_timeout_ns);
		}
	}
	if (n < 0) {
		a->fail_status = n == -ETIMEDOUT ? 504 : 502;
		a->fail_why = "upstream write failed";
		return (int)n;
	}
	deadline = myco_now() + p->header_timeout_ns;
	a->len = 0;
	for (;;) {
		uint64_t now;
		if (a->len) {
			a->hl = myco__h1_parse_response(a->buf, a->len, 16384, &a->um);
			if (a->hl < 0) {
				a->fail_status = 502;
				a->fail_why = a->um.err;
				return -EPROTO;
			}
			if (a->hl > 0) {
				/* skip interim 1xx answers (not 101) */
				if (a->um.status >= 100 && a->um.status < 200 && a->um.status != 101) {
					memmove(a->buf, a->buf + a->hl, a->len - (size_t)a->hl);
					a->len -= (size_t)a->hl;
					continue;
				}
				return 0;
			}
		}
		if (a->len == a->cap) {
			a->fail_status = 502;
			a->fail_why = "upstream response head too large";
			return -E2BIG;
		}
		now = myco_now();
		n = myco_recv(a->fd, a->buf + a->len, a->cap - a->len, 0,
			      now >= deadline ? 1 : (int64_t)(deadline - now));
		if (n <= 0) {
			a->fail_status = n == -ETIMEDOUT ? 504 : 502;
			a->fail_why = n == -ETIMEDOUT ? "upstream response timed out"
						      : "upstream closed the connection";
			return n == 0 ? -ECONNRESET : (int)n;
		}
		a->len += (size_t)n;
	}
}

/* A large body of known length on a plain connection: what was read with
 * the head goes out from the buffer, the rest from the upstream socket to
 * the client's through a pipe (splice(2) by io_uring), never entering user
 * space.  Each step of at most 1 MiB is bounded by the upstream's read
 * timeout. */
static int splice_body(myco__pool_t *p, myco__gate_conn_t *c, attempt_t *a, int64_t remaining)
{
	size_t first = a->len < (size_t)remaining ? a->len : (size_t)remaining;
	int rc;

	if (first && myco__gate_out(c, a->buf, first) < 0)
		return -ENOMEM;
	remaining -= (int64_t)first;
	rc = myco__gate_flush(c);
	if (rc < 0)
		return rc;
	while (remaining > 0) {
		size_t want = remaining > (1 << 20) ? (1 << 20) : (size_t)remaining;
		ssize_t n = myco_sendfile(c->fd, a->fd, NULL, want, (int64_t)p->read_timeout_ns);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;        /* the upstream ended early */
		myco_counter_add(&myco__gm.tx, (uint64_t)n);
		myco_counter_add(&myco__gm.spliced, (uint64_t)n);
		remaining -= n;
	}
	return 0;
}

static int stream_body(myco__pool_t *p, myco__gate_conn_t *c, myco__gate_req_t *r,
		       attempt_t *a, bool chunk_out, sbuf_t *cache, bool *up_reusable,
		       size_t splice_min)
{
	const myco__h1_msg_t *um = &a->um;
	size_t have = a->len - (size_t)a->hl;
	char *data = a->buf + a->hl;
	uint64_t wt = myco__gate_write_timeout(c);
	myco__h1_chunked_t ck;
	int64_t remaining = um->content_length;
	bool until_close = !um->chunked && um->content_length < 0;

	(void)r;
	memset(&ck, 0, sizeof(ck));
	*up_reusable = um->keep_alive && !until_close;
	memmove(a->buf, data, have);
	a->len = have;
	if (splice_min && !um->chunked && !until_close && !chunk_out && !cache && !c->ssl &&
	    !c->capture && remaining >= (int64_t)splice_min) {
		if (a->len > (size_t)remaining)
			*up_reusable = false;             /* junk after the body */
		return splice_body(p, c, a, remaining);
	}
	for (;;) {
		size_t out = a->len;
		bool end = false;
		ssize_t n;
		if (um->chunked) {
			ssize_t used = myco__h1_chunked_decode(&ck, a->buf, a->len, &out);
			if (used < 0)
				return -EPROTO;
			if ((size_t)used < a->len)
				*up_reusable = false;     /* junk after the body */
			end = ck.done;
		} else if (!until_close) {
			if ((int64_t)out > remaining) {
				out = (size_t)remaining;
				*up_reusable = false;
			}
			remaining -= (int64_t)out;
			end = remaining == 0;
		}
		if (out) {
			if (cache && !cache->oom) {
				if (cache->n + out > CACHE_MAX_OBJ)
					cache->oom = true;
				else
					sb_add(cache, a->buf, out);
			}
			if (chunk_out) {
				char hx[24];
				int hn = snprintf(hx, sizeof(hx), "%zx\r\n", out);
				if (myco__gate_out(c, hx, (size_t)hn) < 0 ||
				    myco__gate_out(c, a->buf, out) < 0 ||
				    myco__gate_out(c, "\r\n", 2) < 0)
					return -ENOMEM;
			} else if (myco__gate_out(c, a->buf, out) < 0) {
				return -ENOMEM;
			}
			if (c->out_len >= 65536 && myco__gate_flush(c) < 0)
				return -EPIPE;
		}
		if (end)
			break;
		a->len = 0;
		n = myco_recv(a->fd, a->buf, a->cap, 0, (int64_t)p->read_timeout_ns);
		if (n == 0 && until_close)
			break;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		a->len = (size_t)n;
	}
	if (chunk_out && myco__gate_out(c, "0\r\n\r\n", 5) < 0)
		return -ENOMEM;
	(void)wt;
	return 0;
}

int myco__proxy(myco__gate_t *g, myco__gate_conf_t *cf, const myco__route_t *rt,
		myco__gate_conn_t *c, myco__gate_req_t *r)
{
	myco__pool_t *p = rt->pool;
	bool ws = r->m->upgrade && rt->websocket;
	unsigned tries = 1 + p->retries, t;
	uint64_t tried = 0;
	sbuf_t req = { 0 };
	attempt_t a;
	int rc = 0, si = -1;
	bool stale_retry_used = false;

	(void)g;
	memset(&a, 0, sizeof(a));
	a.fd = -1;
	a.cap = UP_BUF;
	a.buf = buf_get();
	build_request(&req, rt, c, r, ws);
	if (!a.buf || req.oom) {
		rc = myco__gate_respond_error(c, r, 500, "out of memory");
		goto out;
	}
	atomic_fetch_add_explicit(&p->n_requests, 1, memory_order_relaxed);
	for (t = 0; t < tries; t++) {
		uint64_t now = myco_now();
		myco__server_t *s;
		if (t > 0) {
			/* retry budget: retries stay under budget * requests */
			uint64_t nr = atomic_load(&p->n_retries), nq = atomic_load(&p->n_requests);
			if ((double)nr >= p->retry_budget * (double)nq + 3.0)
				break;
			atomic_fetch_add(&p->n_retries, 1);
		}
		si = pick(p, c, r, tried, now);
		if (si < 0)
			break;
		s = &p->servers[si];
		tried |= 1ull << (si & 63);
		atomic_fetch_add_explicit(&s->active, 1, memory_order_relaxed);
		now = myco_now();
		rc = send_and_head(p, s, c->loop, &a, &req, r);
		if (rc >= 0)
			myco_hist_observe(&myco__gm.upstream_lat, myco_now() - now);
		if (rc < 0) {
			atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
			if (a.fd >= 0)
				close(a.fd);
			a.fd = -1;
			/* a pooled connection the server had just closed: not the
			 * server's fault, try once more without counting */
			if (a.reused && rc == -ECONNRESET && !stale_retry_used) {
				stale_retry_used = true;
				tried &= ~(1ull << (si & 63));
				t--;
				continue;
			}
			note_result(p, s, false, myco_now());
			if (!idempotent(r->m) && a.fail_why &&
			    strcmp(a.fail_why, "upstream connect failed") != 0 &&
			    strcmp(a.fail_why, "upstream connect timed out") != 0)
				break;       /* the request may have been processed */
			continue;
		}
		/* a 502/503/504 from the upstream: an outlier signal; retried for
		 * idempotent requests while tries remain */
		if ((a.um.status == 502 || a.um.status == 503 || a.um.status == 504) &&
		    idempotent(r->m) && t + 1 < tries) {
			note_result(p, s, false, myco_now());
			atomic_fetch_sub_explicit(&s->active, 1, memory_order_relaxed);
			close(a.fd);
			a.fd = -1;
			continue;
		}
		note_result(p, s, a.um.status < 500, myco_now());
		/* answer */
		{
			sbuf_t h = { 0 }, cache = { 0 };
			bool has_body = myco__h1_resp_has_body(a.um.status, r->head);
			bool chunk_out = false, reusable = false;
			char line[128];
			size_t dl;
			const char *date = myco__gate_date(&dl);
			if (a.um.status == 101) {
				if (!ws) {
					atomic_fetch_sub(&s->active, 1);
					rc = myco__gate_respond_error(c, r, 502, "unexpected 101 from upstream");
					goto out;
				}
				snprintf(line, sizeof(line), "HTTP/1.1 101 %s\r\n", myco__h1_reason(101));
				sb_str(&h, line);
				for (size_t i = 0; i < a.um.nhdrs; i++)
					sb_hdr(&h, a.um.hdrs[i].name, a.um.hdrs[i].nlen, a.um.hdrs[i].value,
					       a.um.hdrs[i].vlen);
				sb_add(&h, "\r\n", 2);
				r->status = 101;
				rc = myco__gate_out(c, h.p, h.n);
				free(h.p);
				if (rc == 0)
					rc = myco__gate_flush(c);
				if (rc == 0) {
					/* bytes after the upstream's head go to the client,
					 * bytes after the client's request to the upstream */
					size_t rest = a.len - (size_t)a.hl;
					size_t used = (size_t)(r->body + r->body_len - c->in);
					if (c->in_len > used)
						myco_write_all(a.fd, c->in + used, c->in_len - used,
							       (int64_t)p->write_timeout_ns);
					c->upgraded = true;
					bridge(c, a.fd, a.buf + a.hl, rest, p->read_timeout_ns);
				}
				atomic_fetch_sub(&s->active, 1);
				close(a.fd);
				a.fd = -1;
				rc = -ECONNRESET;
				goto out;
			}
			snprintf(line, sizeof(line), "HTTP/1.1 %u %s\r\n", a.um.status,
				 myco__h1_reason(a.um.status));
			sb_str(&h, line);
			sb_str(&h, "Server: myco-gate\r\n");
			sb_add(&h, date, dl);
			resp_fields(&h, rt, &a.um);
			sb_hdr(&h, "X-Request-Id", 12, r->request_id, strlen(r->request_id));
			if (has_body) {
				if (a.um.content_length >= 0 && !a.um.chunked) {
					char num[32];
					int nn = snprintf(num, sizeof(num), "%lld",
							  (long long)a.um.content_length);
					sb_hdr(&h, "Content-Length", 14, num, (size_t)nn);
				} else if (r->m->minor >= 1) {
					chunk_out = true;
					sb_str(&h, "Transfer-Encoding: chunked\r\n");
				} else {
					r->keep_alive = false;
				}
			} else if (a.um.content_length >= 0) {
				char num[32];
				int nn = snprintf(num, sizeof(num), "%lld", (long long)a.um.content_length);
				sb_hdr(&h, "Content-Length", 14, num, (size_t)nn);
			}
			if (!r->keep_alive)
				sb_str(&h, "Connection: close\r\n");
			r->status = a.um.status;
			if (h.oom) {
				free(h.p);
				atomic_fetch_sub(&s->active, 1);
				rc = -ENOMEM;
				goto out;
			}
			/* what the cache keeps: the fields and the body */
			bool want_cache = rt->cache_ttl_ns && cf->cache && has_body &&
					  r->m->mlen == 3 && memcmp(r->m->method, "GET", 3) == 0 &&
					  cacheable(&a.um);
			rc = myco__gate_out(c, h.p, h.n);
			if (rc == 0)
				rc = myco__gate_out(c, "\r\n", 2);
			if (rc == 0 && has_body)
				rc = stream_body(p, c, r, &a, chunk_out, want_cache ? &cache : NULL,
						 &reusable, cf->splice_min);
			else
				reusable = a.um.keep_alive && a.len == (size_t)a.hl;
			atomic_fetch_sub(&s->active, 1);
			if (rc == 0 && want_cache && !cache.oom) {
				/* value: u32 length of the field block, fields, body */
				sbuf_t fields = { 0 }, val = { 0 };
				uint32_t fl;
				char key[1024];
				int kn = snprintf(key, sizeof(key), "%.*s%.*s?%.*s",
						  (int)(r->m->host ? r->m->hostlen : 0),
						  r->m->host ? r->m->host : "", (int)r->path_len, r->path,
						  (int)r->query_len, r->query ? r->query : "");
				resp_fields(&fields, rt, &a.um);
				fl = (uint32_t)fields.n;
				sb_add(&val, &fl, 4);
				sb_add(&val, fields.p, fields.n);
				sb_add(&val, cache.p, cache.n);
				if (!val.oom && kn > 0 && (size_t)kn < sizeof(key))
					myco__cache_put(cf->cache, key, (size_t)kn, val.p, val.n, myco_now(),
							rt->cache_ttl_ns);
				free(fields.p);
				free(val.p);
			}
			free(cache.p);
			free(h.p);
			if (rc == 0 && reusable)
				up_put(p, s, c->loop, a.fd);
			else
				close(a.fd);
			a.fd = -1;
			if (rc < 0) {
				/* the answer is half sent: the client connection must go */
				r->keep_alive = false;
				rc = -EPIPE;
			}
			goto out;
		}
	}
	/* every try failed (or none was possible) */
	if (si < 0 && !a.fail_why)
		rc = myco__gate_respond_error(c, r, 503, "no healthy upstream server");
	else
		rc = myco__gate_respond_error(c, r, a.fail_status ? a.fail_status : 502,
					      a.fail_why ? a.fail_why : "upstream failed");
out:
	if (a.fd >= 0)
		close(a.fd);
	buf_put(a.buf);
	free(req.p);
	return rc;
}

/* ------------------------------------------------------- health checks */

int myco__proxy_hc_one(void *arg)
{
	myco__hc_arg_t *h = arg;
	myco__pool_t *p = h->p;
	myco__server_t *s = h->s;
	uint64_t deadline = myco_now() + p->health_timeout_ns;
	char req[300], buf[512];
	myco__h1_msg_t *m = malloc(sizeof(*m));
	size_t len = 0;
	bool ok = false;
	int fd, n;

	fd = myco_tcp_connect(s->host, s->port, (int64_t)p->health_timeout_ns);
	if (fd >= 0 && m) {
		n = snprintf(req, sizeof(req),
			     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: myco-gate-health\r\n"
			     "Connection: close\r\n\r\n", p->health_path, s->host, s->port);
		if (myco_write_all(fd, req, (size_t)n, (int64_t)p->health_timeout_ns) == n) {
			for (;;) {
				uint64_t now = myco_now();
				ssize_t k;
				if (now >= deadline || len == sizeof(buf))
					break;
				k = myco_recv(fd, buf + len, sizeof(buf) - len, 0,
					      (int64_t)(deadline - now));
				if (k <= 0)
					break;
				len += (size_t)k;
				if (myco__h1_parse_response(buf, len, sizeof(buf), m) != 0 ||
				    memchr(buf, '\n', len))
					break;
			}
			/* the status line is enough */
			if (len >= 12 && memcmp(buf, "HTTP/1.", 7) == 0 && (buf[9] == '2' || buf[9] == '3'))
				ok = true;
		}
	}
	if (fd >= 0)
		close(fd);
	free(m);
	if (myco_cancelled())            /* the gateway is stopping: no verdict */
		return 0;
	if (ok) {
		atomic_store(&s->hc_fail, 0);
		if (!atomic_load(&s->healthy) &&
		    atomic_fetch_add(&s->hc_pass, 1) + 1 >= (int)p->health_passes) {
			atomic_store(&s->healthy, 1);
			atomic_store(&s->hc_pass, 0);
			fprintf(stderr, "myco-gate: upstream %s server %s:%u is healthy\n", p->name,
				s->host, s->port);
		}
	} else {
		atomic_store(&s->hc_pass, 0);
		if (atomic_load(&s->healthy) &&
		    atomic_fetch_add(&s->hc_fail, 1) + 1 >= (int)p->health_fails) {
			atomic_store(&s->healthy, 0);
			atomic_store(&s->hc_fail, 0);
			fprintf(stderr, "myco-gate: upstream %s server %s:%u failed its health check\n",
				p->name, s->host, s->port);
		}
	}
	return 0;
}
