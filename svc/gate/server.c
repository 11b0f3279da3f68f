/*
 * server.c: myco-gate's HTTP/1.1 server core on the Myco runtime: a group of
 * lib/rt loops, one per core, each accepting on its own SO_REUSEPORT
 * listener (or on the listening socket a system handed over), one coroutine
 * per connection reading heads and bodies, answering in order (keep-alive,
 * pipelining, 100-continue), with a deadline on every client phase: the
 * whole head (slowloris), the whole body, idle time between requests, and
 * each response write.  Not for: what is answered (handlers in gate.c,
 * api.c, proxy.c).
 */
#include "gate_int.h"
#include "myco_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct srv {
	myco__gate_srv_opts_t o;
	myco_group_t *group;
	int lfds[MYCO__GATE_MAX_LOOPS];
	unsigned nloops;
	_Atomic bool stopping;
	_Atomic int live;                /* connections still open */
	myco__gate_conn_t *conns[MYCO__GATE_MAX_LOOPS];   /* per loop */
} srv_t;

#define IN_INIT 16384
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* ---------------------------------------------------------- helpers */

static __thread char date_line[64];
static __thread time_t date_sec;
static __thread size_t date_len;

const char *myco__gate_date(size_t *len)
{
	time_t now = time(NULL);

	if (now != date_sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		date_len = strftime(date_line, sizeof(date_line),
				    "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		date_sec = now;
	}
	*len = date_len;
	return date_line;
}

static _Atomic uint64_t reqid_seq;
static uint32_t reqid_salt;

void myco__gate_request_id(const myco__h1_msg_t *m, unsigned loop, char out[48])
{
	const myco__h1_hdr_t *h = myco__h1_find(m, "x-request-id");
	uint64_t n;

	if (h && h->vlen >= 1 && h->vlen <= 40) {
		size_t i;
		for (i = 0; i < h->vlen; i++) {
			char ch = h->value[i];
			if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.'))
				break;
		}
		if (i == h->vlen) {
			memcpy(out, h->value, h->vlen);
			out[h->vlen] = '\0';
			return;
		}
	}
	n = atomic_fetch_add_explicit(&reqid_seq, 1, memory_order_relaxed);
	/* "%08x-%02x-%012llx" without printf (it showed in profiles) */
	{
		static const char hx[] = "0123456789abcdef";
		int i;
		for (i = 0; i < 8; i++)
			out[i] = hx[(reqid_salt >> (28 - 4 * i)) & 0xf];
		out[8] = '-';
		out[9] = hx[(loop >> 4) & 0xf];
		out[10] = hx[loop & 0xf];
		out[11] = '-';
		for (i = 0; i < 12; i++)
			out[12 + i] = hx[(n >> (44 - 4 * i)) & 0xf];
		out[24] = '\0';
		if (n >> 48) {               /* past 12 digits: the long form */
			snprintf(out, 48, "%08x-%02x-%012llx", reqid_salt, loop & 0xff,
				 (unsigned long long)n);
		}
	}
}

ssize_t myco__gate_conn_recv(myco__gate_conn_t *c, void *buf, size_t len, int64_t timeout_ns)
{
	ssize_t n = c->ssl ? myco__tls_recv(c, buf, len, timeout_ns)
			   : myco_recv(c->fd, buf, len, 0, timeout_ns);

	if (n > 0)
		myco_counter_add(&myco__gm.rx, (uint64_t)n);
	return n;
}

int myco__gate_conn_write(myco__gate_conn_t *c, const void *buf, size_t len, int64_t timeout_ns)
{
	ssize_t n;

	/* counted before the write: a client that has read the answer
	 * then finds it counted */
	myco_counter_add(&myco__gm.tx, len);
	if (c->ssl)
		return myco__tls_write(c, buf, len, timeout_ns);
	n = myco_write_all(c->fd, buf, len, timeout_ns);
	return n < 0 ? (int)n : 0;
}

uint64_t myco__gate_write_timeout(const myco__gate_conn_t *c)
{
	return ((const srv_t *)c->srv)->o.write_timeout_ns;
}

static int reserve(char **buf, size_t *cap, size_t need)
{
	size_t nc;
	char *nb;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	nb = realloc(*buf, nc);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = nc;
	return 0;
}

void myco__gbuf_add(myco__gbuf_t *b, const void *d, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (reserve(&b->p, &b->cap, b->n + n) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

int myco__gate_out(myco__gate_conn_t *c, const void *p, size_t n)
{
	if (reserve(&c->out, &c->out_cap, c->out_len + n) < 0)
		return -ENOMEM;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

int myco__gate_flush(myco__gate_conn_t *c)
{
	srv_t *s = c->srv;
	size_t pos = 0;
	ssize_t n;

	if (!c->out_len || c->capture)
		return 0;
	myco_counter_add(&myco__gm.tx, c->out_len);   /* before: see myco__gate_conn_write */
	if (c->ssl) {
		int rc = myco__tls_write(c, c->out, c->out_len, (int64_t)s->o.write_timeout_ns);
		if (rc < 0)
			return rc;
		c->out_len = 0;
		return 0;
	}
	/* Most answers fit the socket buffer: one non-blocking send first. */
	n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -errno;
	if (n > 0)
		pos = (size_t)n;
	if (pos < c->out_len) {
		n = myco_write_all(c->fd, c->out + pos, c->out_len - pos,
				   (int64_t)s->o.write_timeout_ns);
		if (n < 0)
			return (int)n;
	}
	c->out_len = 0;
	if (c->out_cap > (1u << 20)) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

/* Append helpers for the answer head (no printf on the request path). */
static char *put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put_dec(char *p, uint64_t v)
{
	char t[24];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

int myco__gate_respond(myco__gate_conn_t *c, myco__gate_req_t *r,
		       unsigned status, const char *ctype, const char *hdrs,
		       size_t hdrs_len, const void *body, size_t len)
{
	char head[512], *p = head;
	size_t dl, reasonl, ctl = ctype ? strlen(ctype) : 0, idl = strlen(r->request_id);
	const char *date = myco__gate_date(&dl), *reason = myco__h1_reason(status);
	int n;

	reasonl = strlen(reason);
	/* the fixed parts, the reason, the date, the type, the id, numbers */
	if (status > 999 || 17 + reasonl + 19 + dl + 16 + ctl + 40 + 16 + idl + 21 > sizeof(head))
		return -EOVERFLOW;
	p = put_mem(p, "HTTP/1.1 ", 9);
	p = put_dec(p, status);
	*p++ = ' ';
	p = put_mem(p, reason, reasonl);
	p = put_mem(p, "\r\nServer: myco-gate\r\n", 21);
	p = put_mem(p, date, dl);
	if (ctype) {
		p = put_mem(p, "Content-Type: ", 14);
		p = put_mem(p, ctype, ctl);
		p = put_mem(p, "\r\n", 2);
	}
	if (status >= 200 && status != 204 && status != 304) {
		p = put_mem(p, "Content-Length: ", 16);
		p = put_dec(p, len);
		p = put_mem(p, "\r\n", 2);
	}
	if (idl) {
		p = put_mem(p, "X-Request-Id: ", 14);
		p = put_mem(p, r->request_id, idl);
		p = put_mem(p, "\r\n", 2);
	}
	if (!r->keep_alive)
		p = put_mem(p, "Connection: close\r\n", 19);
	n = (int)(p - head);
	r->status = status;
	if (myco__gate_out(c, head, (size_t)n) < 0 ||
	    (hdrs_len && myco__gate_out(c, hdrs, hdrs_len) < 0) ||
	    myco__gate_out(c, "\r\n", 2) < 0)
		return -ENOMEM;
	if (r->head || status < 200 || status == 204 || status == 304)
		return 0;
	if (len > 65536 && !c->capture) {
		/* large body: send what is buffered, then the body itself */
		int rc = myco__gate_flush(c);
		if (rc < 0)
			return rc;
		return myco__gate_conn_write(c, body, len,
					     (int64_t)((srv_t *)c->srv)->o.write_timeout_ns);
	}
	return myco__gate_out(c, body, len);
}

/* JSON-escape src into dst (bounded); returns the length written. */
static size_t json_esc(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for (; *src && o + 7 < cap; src++) {
		unsigned char ch = (unsigned char)*src;
		if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", ch);
		} else {
			dst[o++] = (char)ch;
		}
	}
	dst[o] = '\0';
	return o;
}

int myco__gate_respond_error(myco__gate_conn_t *c, myco__gate_req_t *r,
			     unsigned status, const char *detail)
{
	char body[1200], esc[1024];
	int n;

	json_esc(esc, sizeof(esc), detail ? detail : "");
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}\n",
		     myco__h1_reason(status), esc);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	return myco__gate_respond(c, r, status, "application/json", NULL, 0, body,
				  (size_t)n);
}

/* ----------------------------------------------------- connections */

static void split_target(myco__gate_req_t *r)
{
	const char *t = r->m->target, *q;
	size_t n = r->m->tlen;

	/* absolute-form: keep only the path */
	if (n > 7 && (memcmp(t, "http://", 7) == 0 || memcmp(t, "https://", 8) == 0)) {
		const char *p = memchr(t + 8, '/', n - 8);
		if (p) {
			n -= (size_t)(p - t);
			t = p;
		} else {
			t = "/";
			n = 1;
		}
	}
	q = memchr(t, '?', n);
	r->path = t;
	r->path_len = q ? (size_t)(q - t) : n;
	r->query = q ? q + 1 : NULL;
	r->query_len = q ? n - r->path_len - 1 : 0;
}

static int64_t left(uint64_t deadline)
{
	uint64_t now = myco_now();
	return now >= deadline ? 0 : (int64_t)(deadline - now);
}

/* Read more bytes into c->in; grows the buffer up to limit.  Returns bytes
 * read, 0 at EOF, -ETIMEDOUT, -E2BIG (would exceed limit), -errno. */
static ssize_t fill(myco__gate_conn_t *c, size_t limit, int64_t timeout)
{
	ssize_t n;

	if (c->in_len == c->in_cap) {
		if (c->in_cap >= limit)
			return -E2BIG;
		if (reserve(&c->in, &c->in_cap, c->in_cap * 2 > limit ? limit : c->in_cap * 2) < 0)
			return -ENOMEM;
	}
	if (timeout == 0)
		return -ETIMEDOUT;
	n = myco__gate_conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len, timeout);
	if (n > 0)
		c->in_len += (size_t)n;
	return n;
}

static void early_error(myco__gate_conn_t *c, unsigned status, const char *why)
{
	myco__gate_req_t r;
	myco__h1_msg_t m;

	memset(&r, 0, sizeof(r));
	memset(&m, 0, offsetof(myco__h1_msg_t, hdrs));
	r.m = &m;
	r.keep_alive = false;
	if (myco__gate_respond_error(c, &r, status, why) == 0)
		myco__gate_flush(c);
}

/* h2c by Upgrade (RFC 7540 3.2): answer 101, then serve HTTP/2 with the
 * request as stream 1.  consumed: bytes of c->in that were the request. */
static int h2c_upgrade(myco__gate_conn_t *c, const myco__h1_msg_t *m, const myco__gate_req_t *r,
		       const uint8_t *set, size_t sl, size_t consumed)
{
	static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\n"
				 "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
	const srv_t *s = c->srv;
	myco__gbuf_t q = { 0 };
	myco__h2_upgrade_t up;
	char cl[48];
	size_t i;
	int rc;

	myco__gbuf_add(&q, m->method, m->mlen);
	myco__gbuf_add(&q, " ", 1);
	myco__gbuf_add(&q, m->target, m->tlen);
	myco__gbuf_add(&q, " HTTP/1.1\r\n", 11);
	for (i = 0; i < m->nhdrs; i++) {
		const myco__h1_hdr_t *x = &m->hdrs[i];
		if (myco__h1_eq(x->name, x->nlen, "connection") ||
		    myco__h1_eq(x->name, x->nlen, "upgrade") ||
		    myco__h1_eq(x->name, x->nlen, "http2-settings") ||
		    myco__h1_eq(x->name, x->nlen, "keep-alive") ||
		    myco__h1_eq(x->name, x->nlen, "transfer-encoding") ||
		    myco__h1_eq(x->name, x->nlen, "content-length"))
			continue;
		myco__gbuf_add(&q, x->name, x->nlen);
		myco__gbuf_add(&q, ": ", 2);
		myco__gbuf_add(&q, x->value, x->vlen);
		myco__gbuf_add(&q, "\r\n", 2);
	}
	if (r->body_len || !(m->mlen == 3 && memcmp(m->method, "GET", 3) == 0)) {
		int k = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", r->body_len);
		myco__gbuf_add(&q, cl, (size_t)k);
	}
	myco__gbuf_add(&q, "\r\n", 2);
	myco__gbuf_add(&q, r->body, r->body_len);
	if (q.oom) {
		free(q.p);
		early_error(c, 503, "out of memory");
		return -ENOMEM;
	}
	up = (myco__h2_upgrade_t){ .settings = set, .settings_len = sl, .req = q.p,
				   .req_len = q.n, .head = r->head };
	/* what followed the request (the client preface, maybe) stays */
	memmove(c->in, c->in + consumed, c->in_len - consumed);
	c->in_len -= consumed;
	rc = myco__gate_out(c, sw, sizeof(sw) - 1);
	if (rc == 0)
		rc = myco__gate_flush(c);
	if (rc == 0)
		rc = myco__h2_serve(c, s->o.max_body, s->o.idle_timeout_ns, &up);
	free(q.p);
	return rc;
}

/* One connection, one coroutine: head, body, answer, repeat. */
static int conn_main(void *arg)
{
	myco__gate_conn_t *c = arg;
	srv_t *s = c->srv;
	const myco__gate_srv_opts_t *o = &s->o;
	myco__h1_msg_t *m = malloc(sizeof(*m));
	bool first = true;

	if (!m || reserve(&c->in, &c->in_cap, IN_INIT) < 0)
		goto out;
	if (o->tls_get) {
		void *ctx = o->tls_get(o->ctx);
		int rc = ctx ? myco__tls_accept(c, ctx, (int64_t)o->header_timeout_ns) : 0;
		if (ctx)
			myco__tls_ctx_put(ctx);
		if (rc < 0)
			goto out;
	}
	while (!atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
		myco__gate_req_t r;
		uint64_t deadline;
		ssize_t hl, n;
		size_t consumed;
		int rc;

		/* Head.  The idle timer runs until the first byte; from then the
		 * whole head must arrive within header_timeout. */
		deadline = 0;
		for (;;) {
			/* HTTP/2: chosen by ALPN, or the preface in clear text */
			if (first && (myco__tls_alpn_h2(c) ||
				      (c->in_len >= sizeof(H2_PREFACE) - 1 &&
				       memcmp(c->in, H2_PREFACE, sizeof(H2_PREFACE) - 1) == 0))) {
				myco__h2_serve(c, o->max_body, o->idle_timeout_ns, NULL);
				goto out;
			}
			if (first && c->in_len && c->in_len < sizeof(H2_PREFACE) - 1 &&
			    memcmp(c->in, H2_PREFACE, c->in_len) == 0)
				hl = 0;             /* maybe the preface: read on */
			else
				hl = c->in_len ? myco__h1_parse_request(c->in, c->in_len, o->max_head, m) : 0;
			if (hl != 0)
				break;
			if (c->in_len && !deadline)
				deadline = myco_now() + o->header_timeout_ns;
			/* flush pipelined answers before waiting for more input */
			if (myco__gate_flush(c) < 0)
				goto out;
			n = fill(c, o->max_head + 1, c->in_len ? left(deadline)
				 : (int64_t)(first ? o->header_timeout_ns : o->idle_timeout_ns));
			if (n == -ETIMEDOUT && c->in_len) {
				early_error(c, 408, "request head not received in time");
				goto out;
			}
			if (n <= 0)
				goto out;
		}
		first = false;
		if (hl < 0) {
			early_error(c, m->err_status, m->err);
			goto out;
		}
		memset(&r, 0, sizeof(r));
		r.t_start = myco_now();

		/* Body. */
		deadline = myco_now() + o->body_timeout_ns;
		if (m->chunked || m->content_length > 0) {
			bool need_more = m->chunked ? true
				: c->in_len < (size_t)hl + (size_t)m->content_length;
			if (!m->chunked && (uint64_t)m->content_length > o->max_body) {
				early_error(c, 413, "request body too large");
				goto out;
			}
			if (m->expect_continue && need_more && c->in_len == (size_t)hl) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				if (myco__gate_out(c, cont, sizeof(cont) - 1) < 0 ||
				    myco__gate_flush(c) < 0)
					goto out;
			}
		}
		if (m->chunked) {
			myco__h1_chunked_t ck;
			size_t dend = (size_t)hl, rpos = (size_t)hl;
			memset(&ck, 0, sizeof(ck));
			for (;;) {
				size_t dec = 0;
				ssize_t used = myco__h1_chunked_decode(&ck, c->in + rpos,
								       c->in_len - rpos, &dec);
				if (used < 0) {
					early_error(c, 400, ck.err);
					goto out;
				}
				memmove(c->in + dend, c->in + rpos, dec);
				dend += dec;
				rpos += (size_t)used;
				if (dend - (size_t)hl > o->max_body) {
					early_error(c, 413, "request body too large");
					goto out;
				}
				if (ck.done)
					break;
				/* compact: drop consumed raw bytes behind the data */
				memmove(c->in + dend, c->in + rpos, c->in_len - rpos);
				c->in_len -= rpos - dend;
				rpos = dend;
				n = fill(c, (size_t)hl + o->max_body + 65536, left(deadline));
				if (n == -ETIMEDOUT) {
					early_error(c, 408, "request body not received in time");
					goto out;
				}
				if (n <= 0)
					goto out;
				/* the buffer may have moved: parse the head again */
				if (myco__h1_parse_request(c->in, c->in_len, o->max_head, m) != hl)
					goto out;
			}
			r.body = c->in + hl;
			r.body_len = dend - (size_t)hl;
			consumed = rpos;
		} else {
			size_t need = (size_t)hl + (size_t)(m->content_length > 0 ? m->content_length : 0);
			if (reserve(&c->in, &c->in_cap, need) < 0)
				goto out;
			if (myco__h1_parse_request(c->in, c->in_len, o->max_head, m) != hl)
				goto out;
			while (c->in_len < need) {
				n = myco__gate_conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len,
							 left(deadline) ? left(deadline) : 1);
				if (n == -ETIMEDOUT) {
					early_error(c, 408, "request body not received in time");
					goto out;
				}
				if (n <= 0)
					goto out;
				c->in_len += (size_t)n;
			}
			r.body = c->in + hl;
			r.body_len = need - (size_t)hl;
			consumed = need;
		}

		/* the buffer may have grown while the body came: everything that
		 * points into it is taken from the head parsed last */
		r.m = m;
		r.keep_alive = m->keep_alive && !m->upgrade;
		r.head = m->mlen == 4 && memcmp(m->method, "HEAD", 4) == 0;
		split_target(&r);
		myco__gate_request_id(m, c->loop, r.request_id);
		if (m->upgrade && !c->ssl) {
			uint8_t set[512];
			size_t sl;
			if (myco__h2_upgrade_check(m, set, sizeof(set), &sl) == 0) {
				h2c_upgrade(c, m, &r, set, sl, consumed);
				goto out;
			}
		}
		rc = o->handle(o->ctx, c, &r);
		myco__gm_answered(r.status);
		if (rc < 0 || c->upgraded)
			goto out;
		/* keep the rest (pipelined requests) */
		memmove(c->in, c->in + consumed, c->in_len - consumed);
		c->in_len -= consumed;
		if (c->in_cap > 4 * IN_INIT && c->in_len < IN_INIT) {
			char *nb = realloc(c->in, IN_INIT);
			if (nb) {
				c->in = nb;
				c->in_cap = IN_INIT;
			}
		}
		if (!r.keep_alive) {
			myco__gate_flush(c);
			goto out;
		}
		/* answers of pipelined requests go out together */
		if (!c->in_len || c->out_len > 65536)
			if (myco__gate_flush(c) < 0)
				goto out;
	}
out:
	if (!c->upgraded)
		myco__gate_flush(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns[c->loop] = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&s->live, 1);
	myco__tls_close(c);
	close(c->fd);
	free(m);
	free(c->in);
	free(c->out);
	free(c);
	return 0;
}

/* Parsed-message buffers (2.5 KiB each) kept per thread: an HTTP/2 stream
 * takes one while its handler runs, and malloc/free per stream showed in
 * profiles. */
#define MSG_CACHE 64
static __thread myco__h1_msg_t *msg_cache[MSG_CACHE];
static __thread unsigned nmsg_cache;
static pthread_key_t msg_key;
static pthread_once_t msg_once = PTHREAD_ONCE_INIT;

/* When a loop thread ends, its kept buffers go with it. */
static void msg_drop(void *unused)
{
	(void)unused;
	while (nmsg_cache)
		free(msg_cache[--nmsg_cache]);
}

static void msg_key_init(void)
{
	pthread_key_create(&msg_key, msg_drop);
}

myco__h1_msg_t *myco__h1_msg_get(void)
{
	return nmsg_cache ? msg_cache[--nmsg_cache] : malloc(sizeof(myco__h1_msg_t));
}

void myco__h1_msg_put(myco__h1_msg_t *m)
{
	if (m && nmsg_cache < MSG_CACHE) {
		pthread_once(&msg_once, msg_key_init);
		pthread_setspecific(msg_key, (void *)1);
		msg_cache[nmsg_cache++] = m;
	} else {
		free(m);
	}
}

int myco__gate_run_captured(myco__gate_conn_t *c, char *req, size_t len, char **out,
			    size_t *out_len)
{
	srv_t *s = c->srv;
	myco__gate_conn_t cc = *c;
	myco__gate_req_t r;
	myco__h1_msg_t *m = myco__h1_msg_get();
	ssize_t hl;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!m)
		return -ENOMEM;
	cc.capture = true;
	cc.out = NULL;
	cc.out_len = cc.out_cap = 0;
	cc.in = req;                       /* in place: the caller's buffer */
	cc.in_len = cc.in_cap = len;
	memset(&r, 0, sizeof(r));
	r.t_start = myco_now();
	hl = myco__h1_parse_request(cc.in, len, s->o.max_head, m);
	r.m = m;
	r.keep_alive = true;
	if (hl <= 0) {
		rc = myco__gate_respond_error(&cc, &r, hl < 0 ? m->err_status : 400,
					      hl < 0 ? m->err : "incomplete request");
	} else {
		r.head = m->mlen == 4 && memcmp(m->method, "HEAD", 4) == 0;
		r.body = cc.in + hl;
		r.body_len = len - (size_t)hl;
		split_target(&r);
		myco__gate_request_id(m, c->loop, r.request_id);
		rc = s->o.handle(s->o.ctx, &cc, &r);
		myco__gm_answered(r.status);
	}
	myco__h1_msg_put(m);
	if (rc < 0 && !cc.out_len) {
		free(cc.out);
		return rc;
	}
	*out = cc.out;
	*out_len = cc.out_len;
	return 0;
}

static int accept_main(void *arg)
{
	srv_t *s = arg;
	myco_loop_t *loop = myco_loop_current();
	unsigned idx = myco_loop_index(loop);
	int lfd = s->lfds[idx];

	while (!atomic_load(&s->stopping)) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		myco__gate_conn_t *c;
		int fd, one = 1;

		/* TLS runs OpenSSL on the socket itself: non-blocking, waits
		 * go through myco_poll() */
		fd = myco_accept(lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC | (s->o.tls_get ? SOCK_NONBLOCK : 0), MYCO_FOREVER);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
				myco_sleep_ns(10 * 1000 * 1000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->loop = idx;
		c->srv = s;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer,
				  sizeof(c->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer,
				  sizeof(c->peer));
		if (myco_spawn(loop, NULL, conn_main, c,
			       &(myco_co_opts_t){ .name = "gate-conn" }) < 0) {
			close(fd);
			free(c);
			continue;
		}
		atomic_fetch_add(&s->live, 1);
		c->next = s->conns[idx];
		if (c->next)
			c->next->prev = c;
		s->conns[idx] = c;
	}
	return 0;
}

/* On the loop's thread at stop: wake every connection coroutine (their
 * reads end), so they unwind and free what they hold. */
typedef struct stop_arg {
	srv_t *s;
	unsigned idx;
} stop_arg_t;

static void shut_conns(void *arg)
{
	stop_arg_t *a = arg;
	myco__gate_conn_t *c;

	if (a->s->o.loop_fini)
		a->s->o.loop_fini(myco_group_loop(a->s->group, a->idx), a->idx, a->s->o.ctx);
	for (c = a->s->conns[a->idx]; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
}

static void loop_init(myco_loop_t *loop, unsigned idx, void *arg)
{
	srv_t *s = arg;

	myco_spawn(loop, NULL, accept_main, s, &(myco_co_opts_t){ .name = "gate-accept" });
	if (s->o.loop_init)
		s->o.loop_init(loop, idx, s->o.ctx);
}

int myco__gate_serve(const myco__gate_srv_opts_t *opts)
{
	srv_t s;
	stop_arg_t sa[MYCO__GATE_MAX_LOOPS];   /* posted to the loops at stop */
	sigset_t ss;
	unsigned i;
	int rc = 0, sfd = -1;
	uint16_t port = opts->port;

	memset(&s, 0, sizeof(s));
	s.o = *opts;
	if (!s.o.max_head)
		s.o.max_head = 16384;
	if (!s.o.max_body)
		s.o.max_body = 1u << 20;
	if (!s.o.header_timeout_ns)
		s.o.header_timeout_ns = 10ull * 1000000000u;
	if (!s.o.body_timeout_ns)
		s.o.body_timeout_ns = 30ull * 1000000000u;
	if (!s.o.idle_timeout_ns)
		s.o.idle_timeout_ns = 60ull * 1000000000u;
	if (!s.o.write_timeout_ns)
		s.o.write_timeout_ns = 30ull * 1000000000u;
	reqid_salt = (uint32_t)(myco_now() ^ ((uint64_t)getpid() << 16));
	for (i = 0; i < MYCO__GATE_MAX_LOOPS; i++)
		s.lfds[i] = -1;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);   /* loop threads inherit it */
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;

	rc = myco_group_create(&s.group, &(myco_group_opts_t){
		.nloops = s.o.nloops > MYCO__GATE_MAX_LOOPS ? MYCO__GATE_MAX_LOOPS : s.o.nloops,
		.no_pin = !s.o.pin,
		.loop = { .keepalive = true, .cpu = -1 } });
	if (rc < 0)
		goto out;
	s.nloops = myco_group_size(s.group);
	for (i = 0; i < s.nloops; i++) {
		if (s.o.lfd >= 0) {
			s.lfds[i] = s.o.lfd;
			continue;
		}
		/* One SO_REUSEPORT listener per loop: the kernel spreads
		 * connections over the loops.  Port 0: the first bind picks it. */
		rc = myco_tcp_listen(s.o.host, port, 1024, true);
		if (rc < 0)
			goto out;
		s.lfds[i] = rc;
		if (port == 0) {
			struct sockaddr_storage a;
			socklen_t al = sizeof(a);
			getsockname(rc, (struct sockaddr *)&a, &al);
			port = ntohs(a.ss_family == AF_INET6
				     ? ((struct sockaddr_in6 *)&a)->sin6_port
				     : ((struct sockaddr_in *)&a)->sin_port);
		}
	}
	if (s.o.lfd >= 0) {
		struct sockaddr_storage a;
		socklen_t al = sizeof(a);
		if (getsockname(s.o.lfd, (struct sockaddr *)&a, &al) == 0)
			port = ntohs(a.ss_family == AF_INET6
				     ? ((struct sockaddr_in6 *)&a)->sin6_port
				     : ((struct sockaddr_in *)&a)->sin_port);
	}
	rc = myco_group_start(s.group, loop_init, &s);
	if (rc < 0)
		goto out;
	if (!s.o.quiet)
		fprintf(stderr, "myco-gate: listening on %s:%u with %u loops\n",
			s.o.host && *s.o.host ? s.o.host : "0.0.0.0", port, s.nloops);
	if (s.o.ready)
		s.o.ready(s.o.ctx, port);
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof(si));
		if (n != (ssize_t)sizeof(si)) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		if (si.ssi_signo == SIGHUP) {
			if (s.o.reload)
				s.o.reload(s.o.ctx);
			continue;
		}
		break;
	}
	/* Stop: no new requests; open connections are shut down and get up
	 * to 3 s to unwind (a proxied request waits for its upstream). */
	atomic_store(&s.stopping, true);
	{
		uint64_t end = myco_now() + 3000000000ull;
		for (i = 0; i < s.nloops; i++) {
			sa[i] = (stop_arg_t){ &s, i };
			myco_post(myco_group_loop(s.group, i), shut_conns, &sa[i]);
		}
		while ((atomic_load(&s.live) > 0 || (s.o.busy && s.o.busy(s.o.ctx))) &&
		       myco_now() < end)
			usleep(5000);
	}
	myco_group_stop(s.group);
	myco_group_join(s.group);
out:
	if (s.group)
		myco_group_destroy(s.group);
	for (i = 0; i < MYCO__GATE_MAX_LOOPS; i++)
		if (s.lfds[i] >= 0 && s.lfds[i] != s.o.lfd)
			close(s.lfds[i]);
	close(sfd);
	return rc;
}
