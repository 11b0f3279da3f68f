/*
 * h2.c: HTTP/2 towards clients through libnghttp2: over TLS when ALPN
 * selects "h2", in clear text with prior knowledge (a connection that
 * starts with the HTTP/2 preface), and in clear text after an HTTP/1.1
 * `Upgrade: h2c` request (RFC 7540 3.2, as curl --http2 and nghttp -u send
 * it).  nghttp2 does the framing, HPACK, flow control and stream states.
 *
 * Streams run concurrently.  A connection is three kinds of coroutines on
 * its loop: the reader (socket -> nghttp2_session_mem_recv), workers that
 * run complete requests (a pool that grows while every worker is busy, up
 * to the stream limit; each runs the stream's handler: the same handler as
 * HTTP/1.1, given the request translated to an HTTP/1.1 message parsed by
 * http1.c, so every rule of that parser applies to HTTP/2 requests too; its
 * answer is captured), and the writer, the connection's own coroutine,
 * which submits finished answers and sends whatever nghttp2 has to send,
 * interleaving DATA frames of every stream as the flow-control windows
 * allow.  They meet in a myco_event; all nghttp2 calls happen on the loop's
 * thread between yields, so the session needs no lock.  A slow stream (a
 * proxied request waiting on its upstream) holds only its own coroutine.
 * Not for: HTTP/2 towards upstreams (the proxy speaks HTTP/1.1 to them).
 */
#include "gate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#define H2_MAX_HEAD 16384
#define H2_MAX_STREAMS 128

typedef struct h2 h2_t;

typedef struct stream {
	int32_t id;
	h2_t *h;
	myco__gbuf_t method, path, authority, hdrs, body;
	myco__gbuf_t req;            /* the HTTP/1.1 request handed to the handler */
	unsigned bad;                /* refuse with this status (400, 413) */
	bool ready;                  /* END_STREAM seen: a coroutine answers it */
	bool done;                   /* the handler finished: answer in out */
	bool submitted;              /* the answer went to nghttp2 */
	bool closed;                 /* nghttp2 closed the stream */
	bool queued;                 /* waiting for a worker */
	bool running;                /* a worker runs its handler */
	struct worker *w;            /* that worker */
	struct stream *qnext;        /* the run queue */
	struct stream *anext, *aprev;   /* every stream of the connection */
	/* the captured HTTP/1.1 answer; while submitted, the DATA source */
	char *out;
	size_t out_len, resp_off, resp_len;
} stream_t;

/* A worker: a coroutine of the connection that runs stream handlers one
 * after the other (a pool, so that a stream costs no coroutine stack of its
 * own); workers are added while every one is busy, up to the stream limit. */
typedef struct worker {
	myco_co_t *co;
	h2_t *h;
	bool exited;                 /* cancelled (its stream was reset): reap */
} worker_t;

struct h2 {
	nghttp2_session *s;
	myco__gate_conn_t *c;
	stream_t *all;
	size_t max_body;
	uint64_t idle_ns;
	myco_event_t *ev;            /* reader or a stream -> writer */
	bool dead;                   /* the reader stopped: EOF, error, timeout */
	int err;                     /* why (0 at a clean EOF) */
	stream_t *qhead, *qtail;     /* complete requests waiting for a worker */
	myco_event_t *wev;           /* work queued -> idle workers */
	worker_t *workers[H2_MAX_STREAMS];
	unsigned nworkers, nidle;
};

static void stream_free(stream_t *st)
{
	free(st->method.p);
	free(st->path.p);
	free(st->authority.p);
	free(st->hdrs.p);
	free(st->body.p);
	free(st->req.p);
	free(st->out);
	free(st);
}

static void stream_unlink(h2_t *h, stream_t *st)
{
	if (st->aprev)
		st->aprev->anext = st->anext;
	else
		h->all = st->anext;
	if (st->anext)
		st->anext->aprev = st->aprev;
	st->anext = st->aprev = NULL;
}

static stream_t *stream_new(h2_t *h, int32_t id)
{
	stream_t *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->id = id;
	st->h = h;
	st->anext = h->all;
	if (h->all)
		h->all->aprev = st;
	h->all = st;
	return st;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	h2_t *h = ud;
	stream_t *st;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = stream_new(h, f->hd.stream_id);
	if (!st)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags;
	(void)ud;
	if (!st || st->ready)
		return 0;                          /* trailers: not forwarded */
	if (nl == 7 && memcmp(name, ":method", 7) == 0)
		myco__gbuf_add(&st->method, value, vl);
	else if (nl == 5 && memcmp(name, ":path", 5) == 0)
		myco__gbuf_add(&st->path, value, vl);
	else if (nl == 10 && memcmp(name, ":authority", 10) == 0)
		myco__gbuf_add(&st->authority, value, vl);
	else if (name[0] == ':')
		return 0;                          /* :scheme, :protocol */
	else if (nl == 4 && memcmp(name, "host", 4) == 0 && !st->authority.n)
		myco__gbuf_add(&st->authority, value, vl);
	else if (!(nl == 4 && memcmp(name, "host", 4) == 0) &&
		 !(nl == 14 && memcmp(name, "content-length", 14) == 0)) {
		myco__gbuf_add(&st->hdrs, name, nl);
		myco__gbuf_add(&st->hdrs, ": ", 2);
		myco__gbuf_add(&st->hdrs, value, vl);
		myco__gbuf_add(&st->hdrs, "\r\n", 2);
	}
	if (st->hdrs.n > H2_MAX_HEAD && !st->bad)
		st->bad = 431;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	h2_t *h = ud;
	stream_t *st = nghttp2_session_get_stream_user_data(s, id);

	(void)flags;
	if (!st || st->bad)
		return 0;
	if (st->body.n + len > h->max_body)
		st->bad = 413;
	else
		myco__gbuf_add(&st->body, data, len);
	return 0;
}

/* The stream's HTTP/1.1 request: request line, Host, the fields, a
 * Content-Length, the body. */
static void build_req(stream_t *st)
{
	myco__gbuf_t *q = &st->req;
	char cl[48];

	myco__gbuf_add(q, st->method.p, st->method.n);
	myco__gbuf_add(q, " ", 1);
	myco__gbuf_add(q, st->path.p, st->path.n);
	myco__gbuf_add(q, " HTTP/1.1\r\nHost: ", 17);
	myco__gbuf_add(q, st->authority.n ? st->authority.p : "localhost",
		       st->authority.n ? st->authority.n : 9);
	myco__gbuf_add(q, "\r\n", 2);
	myco__gbuf_add(q, st->hdrs.p, st->hdrs.n);
	if (st->body.n || !(st->method.n == 3 && memcmp(st->method.p, "GET", 3) == 0)) {
		int k = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", st->body.n);
		myco__gbuf_add(q, cl, (size_t)k);
	}
	myco__gbuf_add(q, "\r\n", 2);
	myco__gbuf_add(q, st->body.p, st->body.n);
}

/* A worker: take the next complete request, run the handler on it, capture
 * the answer, tell the writer; wait when there is none.  Ends when
 * cancelled (the connection ends, or the stream it runs was reset). */
static int worker_main(void *arg)
{
	worker_t *w = arg;
	h2_t *h = w->h;

	while (!myco_cancelled()) {
		stream_t *st = h->qhead;
		if (!st) {
			uint64_t seen = myco_event_seq(h->wev);
			if (h->qhead)
				continue;
			h->nidle++;
			int rc = myco_event_wait(h->wev, seen, MYCO_FOREVER);
			h->nidle--;
			if (rc == -ECANCELED)
				break;
			continue;
		}
		h->qhead = st->qnext;
		if (!h->qhead)
			h->qtail = NULL;
		st->qnext = NULL;
		st->queued = false;
		st->running = true;
		st->w = w;
		if (myco__gate_run_captured(h->c, st->req.p, st->req.n, &st->out,
					    &st->out_len) < 0) {
			free(st->out);
			st->out = NULL;
			st->out_len = 0;
		}
		st->running = false;
		st->w = NULL;
		st->done = true;
		myco_event_notify(h->ev);
	}
	w->exited = true;
	myco_event_notify(h->ev);
	return 0;
}

/* A complete request: queue it for a worker (or answer a refused one at
 * once). */
static void stream_start(h2_t *h, stream_t *st)
{
	st->ready = true;
	if (!st->bad && (!st->method.n || !st->path.n))
		st->bad = 400;
	if (!st->bad && !st->req.n)
		build_req(st);
	if (!st->bad && st->req.oom)
		st->bad = 503;
	if (st->bad) {
		st->done = true;                   /* the writer answers st->bad */
		myco_event_notify(h->ev);
		return;
	}
	st->queued = true;
	if (h->qtail)
		h->qtail->qnext = st;
	else
		h->qhead = st;
	h->qtail = st;
	if (h->nidle == 0 && h->nworkers < H2_MAX_STREAMS) {
		worker_t *w = calloc(1, sizeof(*w));
		unsigned i;
		for (i = 0; i < H2_MAX_STREAMS && h->workers[i]; i++)
			;
		if (w && i < H2_MAX_STREAMS) {
			w->h = h;
			if (myco_spawn(myco_loop_current(), &w->co, worker_main, w,
				       &(myco_co_opts_t){ .name = "gate-h2-stream" }) == 0) {
				h->workers[i] = w;
				h->nworkers++;
				w = NULL;
			}
		}
		free(w);
	}
	myco_event_notify(h->wev);
	if (!h->nworkers) {                        /* no worker could start */
		h->qhead = h->qtail = NULL;
		st->queued = false;
		st->bad = 503;
		st->done = true;
		myco_event_notify(h->ev);
	}
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	h2_t *h = ud;
	stream_t *st;

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (!st || st->ready)
		return 0;
	stream_start(h, st);
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	h2_t *h = ud;
	stream_t *st = nghttp2_session_get_stream_user_data(s, id);

	(void)code;
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	st->closed = true;
	if (st->queued) {
		/* reset before a worker took it: out of the queue */
		stream_t **pp;
		for (pp = &h->qhead; *pp; pp = &(*pp)->qnext)
			if (*pp == st) {
				*pp = st->qnext;
				break;
			}
		h->qtail = NULL;
		for (stream_t *x = h->qhead; x; x = x->qnext)
			h->qtail = x;
		st->queued = false;
	}
	if (st->running) {
		/* reset while its handler runs: stop it (its worker ends);
		 * the writer frees the stream once it is done */
		myco_cancel(st->w->co);
		return 0;
	}
	stream_unlink(h, st);
	stream_free(st);
	return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *out, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	stream_t *st = src->ptr;
	size_t n = st->resp_len - st->resp_off;

	(void)s;
	(void)id;
	(void)ud;
	if (n > len)
		n = len;
	memcpy(out, st->out + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static bool hop(const char *n, size_t l)
{
	return myco__h1_eq(n, l, "connection") || myco__h1_eq(n, l, "keep-alive") ||
	       myco__h1_eq(n, l, "transfer-encoding") || myco__h1_eq(n, l, "upgrade") ||
	       myco__h1_eq(n, l, "proxy-connection");
}

/* Submit a finished stream's answer (the captured HTTP/1.1 message) as
 * HTTP/2: status, fields, body.  Returns 0 or -errno. */
static int submit(h2_t *h, stream_t *st)
{
	myco__h1_msg_t *m;
	nghttp2_nv nv[MYCO__H1_MAX_HEADERS + 1];
	char status[12];
	size_t i, nnv = 0;
	ssize_t hl;
	bool head = st->method.n == 4 && memcmp(st->method.p, "HEAD", 4) == 0;
	int rc;

	if (st->bad || !st->out) {
		unsigned code = st->bad ? st->bad : 502;
		snprintf(status, sizeof(status), "%03u", code);
		nv[0] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3,
				      NGHTTP2_NV_FLAG_NONE };
		nv[1] = (nghttp2_nv){ (uint8_t *)"content-length", (uint8_t *)"0", 14, 1,
				      NGHTTP2_NV_FLAG_NONE };
		myco__gm_answered(code);
		return nghttp2_submit_response(h->s, st->id, nv, 2, NULL) == 0 ? 0 : -EPROTO;
	}
	m = myco__h1_msg_get();
	if (!m)
		return -ENOMEM;
	hl = myco__h1_parse_response(st->out, st->out_len, 1 << 20, m);
	if (hl <= 0) {
		myco__h1_msg_put(m);
		free(st->out);
		st->out = NULL;
		return submit(h, st);                  /* 502 */
	}
	snprintf(status, sizeof(status), "%03u", m->status);
	nv[nnv++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, 3,
				  NGHTTP2_NV_FLAG_NONE };
	for (i = 0; i < m->nhdrs; i++) {
		myco__h1_hdr_t *x = &m->hdrs[i];
		if (hop(x->name, x->nlen))
			continue;
		for (uint32_t k = 0; k < x->nlen; k++)     /* HTTP/2 names are lower case */
			if (x->name[k] >= 'A' && x->name[k] <= 'Z')
				((char *)x->name)[k] = (char)(x->name[k] + 32);
		nv[nnv++] = (nghttp2_nv){ (uint8_t *)x->name, (uint8_t *)x->value, x->nlen, x->vlen,
					  NGHTTP2_NV_FLAG_NONE };
	}
	/* body: Content-Length bytes, or chunked (decoded in place) */
	{
		char *b = st->out + hl;
		size_t blen = st->out_len - (size_t)hl;
		if (m->chunked) {
			myco__h1_chunked_t ck;
			size_t dec = 0;
			memset(&ck, 0, sizeof(ck));
			if (myco__h1_chunked_decode(&ck, b, blen, &dec) < 0)
				dec = 0;
			blen = dec;
		} else if (m->content_length >= 0 && (size_t)m->content_length < blen) {
			blen = (size_t)m->content_length;
		}
		if (head || !myco__h1_resp_has_body(m->status, false))
			blen = 0;
		/* the fields stay in out: nghttp2 copies them at submit */
		st->resp_off = (size_t)(b - st->out);
		st->resp_len = st->resp_off + blen;
	}
	if (st->resp_len > st->resp_off) {
		nghttp2_data_provider dp = { .source = { .ptr = st }, .read_callback = read_body };
		rc = nghttp2_submit_response(h->s, st->id, nv, nnv, &dp);
	} else {
		rc = nghttp2_submit_response(h->s, st->id, nv, nnv, NULL);
	}
	myco__h1_msg_put(m);
	return rc == 0 ? 0 : -EPROTO;
}

/* Join the streams whose handlers finished and submit their answers. */
static void reap(h2_t *h)
{
	stream_t *st, *nx;

	for (st = h->all; st; st = nx) {
		nx = st->anext;
		if (!st->done || st->submitted)
			continue;
		st->submitted = true;
		if (st->closed) {
			stream_unlink(h, st);
			stream_free(st);
			continue;
		}
		if (submit(h, st) < 0)
			nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, st->id,
						  NGHTTP2_INTERNAL_ERROR);
	}
}

/* Join the workers that ended (cancelled with their reset stream). */
static void reap_workers(h2_t *h)
{
	for (unsigned i = 0; i < H2_MAX_STREAMS; i++) {
		worker_t *w = h->workers[i];
		if (w && w->exited) {
			myco_join(w->co, NULL, 0);         /* ended: never waits */
			free(w);
			h->workers[i] = NULL;
			h->nworkers--;
		}
	}
}

static bool streams_open(const h2_t *h)
{
	return h->all != NULL;
}

/* The reader: socket bytes into the session until EOF, an error, or idle
 * time without any open stream. */
static int reader_main(void *arg)
{
	h2_t *h = arg;
	myco__gate_conn_t *c = h->c;

	for (;;) {
		ssize_t n = myco__gate_conn_recv(c, c->in, c->in_cap, (int64_t)h->idle_ns);
		if (n == -ETIMEDOUT && streams_open(h))
			continue;
		if (n <= 0) {
			h->err = (int)n;
			break;
		}
		n = nghttp2_session_mem_recv(h->s, (uint8_t *)c->in, (size_t)n);
		if (n < 0) {
			h->err = -EPROTO;          /* nghttp2 queued a GOAWAY */
			break;
		}
		myco_event_notify(h->ev);
	}
	h->dead = true;
	myco_event_notify(h->ev);
	return 0;
}

/* Everything nghttp2 wants to send, into the output buffer, then out. */
static int pump(h2_t *h)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h->s, &data);
		if (n < 0)
			return -EPROTO;
		if (n == 0)
			break;
		if (myco__gate_out(h->c, data, (size_t)n) < 0)
			return -ENOMEM;
		if (h->c->out_len >= 65536) {
			int rc = myco__gate_flush(h->c);
			if (rc < 0)
				return rc;
		}
	}
	return myco__gate_flush(h->c);
}

int myco__h2_serve(myco__gate_conn_t *c, size_t max_body, uint64_t idle_ns,
		   const myco__h2_upgrade_t *up)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEAD },
	};
	h2_t h = { .c = c, .max_body = max_body, .idle_ns = idle_ns };
	myco_co_t *reader = NULL;
	int rc;

	if (myco_event_create(&h.ev) < 0)
		return -ENOMEM;
	if (myco_event_create(&h.wev) < 0) {
		myco_event_destroy(h.ev);
		return -ENOMEM;
	}
	if (nghttp2_session_callbacks_new(&cb) != 0) {
		myco_event_destroy(h.ev);
		myco_event_destroy(h.wev);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	rc = nghttp2_session_server_new(&h.s, cb, &h);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0) {
		myco_event_destroy(h.ev);
		myco_event_destroy(h.wev);
		return -ENOMEM;
	}
	rc = 0;
	if (up) {
		/* h2c upgrade: the HTTP/1.1 request becomes stream 1, half
		 * closed (its body came with it) */
		stream_t *st = stream_new(&h, 1);
		if (!st)
			rc = -ENOMEM;
		else {
			myco__gbuf_add(&st->req, up->req, up->req_len);
			myco__gbuf_add(&st->method, up->head ? "HEAD" : "GET", up->head ? 4 : 3);
			myco__gbuf_add(&st->path, "/", 1);
			if (nghttp2_session_upgrade2(h.s, up->settings, up->settings_len, up->head,
						     st) != 0)
				rc = -EPROTO;
			else
				stream_start(&h, st);
		}
	}
	nghttp2_submit_settings(h.s, NGHTTP2_FLAG_NONE, iv, 2);
	/* bytes already read (the preface, maybe more) */
	if (rc == 0 && c->in_len) {
		ssize_t n = nghttp2_session_mem_recv(h.s, (uint8_t *)c->in, c->in_len);
		c->in_len = 0;
		if (n < 0) {
			h.dead = true;
			h.err = -EPROTO;
		}
	}
	if (rc == 0 && !h.dead &&
	    myco_spawn(myco_loop_current(), &reader, reader_main, &h,
		       &(myco_co_opts_t){ .name = "gate-h2-read" }) < 0)
		rc = -ENOMEM;
	/* the writer */
	while (rc == 0) {
		uint64_t seq = myco_event_seq(h.ev);
		reap_workers(&h);
		reap(&h);
		rc = pump(&h);
		if (rc < 0 || h.dead ||
		    (!nghttp2_session_want_read(h.s) && !nghttp2_session_want_write(h.s)))
			break;
		if (myco_event_wait(h.ev, seq, MYCO_FOREVER) == -ECANCELED)
			break;
		/* let the streams that are ready finish first: their answers
		 * then leave in one write instead of one each */
		myco_yield();
	}
	if (!rc)
		rc = h.err;
	/* stop the reader and every handler still running, then free */
	if (reader) {
		myco_cancel(reader);
		myco_join(reader, NULL, MYCO_FOREVER);
	}
	for (unsigned i = 0; i < H2_MAX_STREAMS; i++) {
		worker_t *w = h.workers[i];
		if (w) {
			myco_cancel(w->co);
			myco_join(w->co, NULL, MYCO_FOREVER);
			free(w);
		}
	}
	nghttp2_session_del(h.s);
	while (h.all) {
		stream_t *st = h.all;
		h.all = st->anext;
		stream_free(st);
	}
	myco_event_destroy(h.ev);
	myco_event_destroy(h.wev);
	return rc;
}

/* ---------------------------------------------------- h2c upgrade */

/* base64url (RFC 4648 5) without padding, as HTTP2-Settings carries it;
 * trailing '=' are tolerated.  Returns the decoded length or -EINVAL. */
static ssize_t b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0, i;

	while (n && s[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		unsigned v;
		if (ch >= 'A' && ch <= 'Z')
			v = (unsigned)(ch - 'A');
		else if (ch >= 'a' && ch <= 'z')
			v = (unsigned)(ch - 'a' + 26);
		else if (ch >= '0' && ch <= '9')
			v = (unsigned)(ch - '0' + 52);
		else if (ch == '-')
			v = 62;
		else if (ch == '_')
			v = 63;
		else
			return -EINVAL;
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits >= 6 || (acc & ((1u << bits) - 1)))   /* a lone char, stray bits */
		return -EINVAL;
	return (ssize_t)o;
}

int myco__h2_upgrade_check(const myco__h1_msg_t *m, uint8_t *settings, size_t cap,
			   size_t *len)
{
	const myco__h1_hdr_t *up = NULL, *hs = NULL, *conn = NULL;
	bool conn_hs = false;
	ssize_t n;
	size_t i;

	if (!m->upgrade || m->minor != 1)
		return -ENOENT;
	for (i = 0; i < m->nhdrs; i++) {
		const myco__h1_hdr_t *x = &m->hdrs[i];
		if (myco__h1_eq(x->name, x->nlen, "upgrade")) {
			if (up)
				return -EINVAL;
			up = x;
		} else if (myco__h1_eq(x->name, x->nlen, "http2-settings")) {
			if (hs)
				return -EINVAL;        /* RFC 7540 3.2.1: exactly one */
			hs = x;
		} else if (myco__h1_eq(x->name, x->nlen, "connection")) {
			conn = x;
			conn_hs |= myco__h1_has_token(x->value, x->vlen, "http2-settings");
		}
	}
	if (!up || !conn || !myco__h1_has_token(up->value, up->vlen, "h2c"))
		return -ENOENT;
	if (!hs || !conn_hs)
		return -EINVAL;
	n = b64url_decode(hs->value, hs->vlen, settings, cap);
	if (n < 0 || n % 6 != 0)
		return -EINVAL;
	*len = (size_t)n;
	return 0;
}
