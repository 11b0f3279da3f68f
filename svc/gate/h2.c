/*
 * h2.c: HTTP/2 towards clients through libnghttp2: over TLS when ALPN
 * selects "h2", and in clear text with prior knowledge (a connection that
 * starts with the HTTP/2 preface).  nghttp2 does the framing, HPACK, flow
 * control and stream states; each complete request is handed to the same
 * handler as HTTP/1.1 (translated to an HTTP/1.1 head parsed by http1.c, so
 * every rule of that parser applies to HTTP/2 requests too), its answer is
 * captured, and submitted as an HTTP/2 response.  Streams of a connection
 * are answered one after the other by the connection's coroutine.
 * Not for: HTTP/2 towards upstreams (the proxy speaks HTTP/1.1 to them).
 */
#include "gate_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#define H2_MAX_HEAD 16384

typedef struct stream {
	int32_t id;
	myco__gbuf_t method, path, authority, hdrs, body;
	bool bad;                    /* a header nghttp2 let through we refuse */
	bool ready;                  /* END_STREAM seen: answer it */
	struct stream *next;         /* ready queue */
	struct stream *anext, *aprev;   /* every open stream */
	/* the answer */
	char *resp;
	size_t resp_len, resp_off;
} stream_t;

typedef struct h2 {
	nghttp2_session *s;
	myco__gate_conn_t *c;
	stream_t *rhead, *rtail;
	stream_t *all;
	size_t max_body;
} h2_t;

static void stream_free(stream_t *st)
{
	free(st->method.p);
	free(st->path.p);
	free(st->authority.p);
	free(st->hdrs.p);
	free(st->body.p);
	free(st->resp);
	free(st);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	h2_t *h = ud;
	stream_t *st;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->id = f->hd.stream_id;
	st->anext = h->all;
	if (h->all)
		h->all->aprev = st;
	h->all = st;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	(void)flags;
	(void)ud;
	if (!st)
		return 0;
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
	if (st->hdrs.n > H2_MAX_HEAD)
		st->bad = true;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		   void *ud)
{
	h2_t *h = ud;
	stream_t *st = nghttp2_session_get_stream_user_data(s, id);

	(void)flags;
	if (!st)
		return 0;
	if (st->body.n + len > h->max_body)
		st->bad = true;
	else
		myco__gbuf_add(&st->body, data, len);
	return 0;
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
	st->ready = true;
	if (h->rtail)
		h->rtail->next = st;
	else
		h->rhead = st;
	h->rtail = st;
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	h2_t *h = ud;
	stream_t *st = nghttp2_session_get_stream_user_data(s, id), **pp;

	(void)code;
	if (!st)
		return 0;
	/* out of the ready queue if it never got answered */
	for (pp = &h->rhead; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			if (h->rtail == st) {
				stream_t *x = h->rhead;
				while (x && x->next)
					x = x->next;
				h->rtail = x;
			}
			break;
		}
	if (st->aprev)
		st->aprev->anext = st->anext;
	else
		h->all = st->anext;
	if (st->anext)
		st->anext->aprev = st->aprev;
	nghttp2_session_set_stream_user_data(s, id, NULL);
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
	memcpy(out, st->resp + st->resp_off, n);
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

/* Answer one stream: HTTP/1.1 request in, captured HTTP/1.1 answer out,
 * submitted as HTTP/2. */
static int answer(h2_t *h, stream_t *st)
{
	myco__gbuf_t req = { 0 };
	char *out = NULL, status[4];
	size_t out_len = 0, i, nnv = 0;
	myco__h1_msg_t *m = malloc(sizeof(*m));
	nghttp2_nv nv[MYCO__H1_MAX_HEADERS + 1];
	ssize_t hl;
	int rc;
	bool head;

	if (!m)
		return -ENOMEM;
	if (st->bad || !st->method.n || !st->path.n) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		out = strdup(bad);
		out_len = out ? sizeof(bad) - 1 : 0;
		head = false;
	} else {
		char cl[48];
		myco__gbuf_add(&req, st->method.p, st->method.n);
		myco__gbuf_add(&req, " ", 1);
		myco__gbuf_add(&req, st->path.p, st->path.n);
		myco__gbuf_add(&req, " HTTP/1.1\r\nHost: ", 17);
		myco__gbuf_add(&req, st->authority.n ? st->authority.p : "localhost",
		     st->authority.n ? st->authority.n : 9);
		myco__gbuf_add(&req, "\r\n", 2);
		myco__gbuf_add(&req, st->hdrs.p ? st->hdrs.p : "", st->hdrs.n);
		if (st->body.n || !(st->method.n == 3 && memcmp(st->method.p, "GET", 3) == 0)) {
			int k = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", st->body.n);
			myco__gbuf_add(&req, cl, (size_t)k);
		}
		myco__gbuf_add(&req, "\r\n", 2);
		myco__gbuf_add(&req, st->body.p ? st->body.p : "", st->body.n);
		if (req.oom) {
			free(req.p);
			free(m);
			return -ENOMEM;
		}
		head = st->method.n == 4 && memcmp(st->method.p, "HEAD", 4) == 0;
		rc = myco__gate_run_captured(h->c, req.p, req.n, &out, &out_len);
		free(req.p);
		if (rc < 0) {
			free(m);
			return rc;
		}
	}
	/* the captured HTTP/1.1 answer: status, fields, body */
	hl = myco__h1_parse_response(out, out_len, 1 << 20, m);
	if (hl <= 0) {
		free(out);
		free(m);
		return -EPROTO;
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
		char *b = out + hl;
		size_t blen = out_len - (size_t)hl;
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
		/* the fields stay where they are until nghttp2 copied them */
		st->resp = out;
		st->resp_off = (size_t)(b - out);
		st->resp_len = st->resp_off + blen;
	}
	if (st->resp_len > st->resp_off) {
		nghttp2_data_provider dp = { .source = { .ptr = st }, .read_callback = read_body };
		rc = nghttp2_submit_response(h->s, st->id, nv, nnv, &dp);
	} else {
		rc = nghttp2_submit_response(h->s, st->id, nv, nnv, NULL);
	}
	free(m);
	return rc == 0 ? 0 : -EPROTO;
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
	}
	return myco__gate_flush(h->c);
}

int myco__h2_serve(myco__gate_conn_t *c, size_t max_body, uint64_t idle_ns)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEAD },
	};
	h2_t h = { .c = c, .max_body = max_body };
	int rc;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	rc = nghttp2_session_server_new(&h.s, cb, &h);
	nghttp2_session_callbacks_del(cb);
	if (rc != 0)
		return -ENOMEM;
	nghttp2_submit_settings(h.s, NGHTTP2_FLAG_NONE, iv, 2);
	/* bytes already read (the preface, maybe more) */
	rc = 0;
	if (c->in_len) {
		ssize_t n = nghttp2_session_mem_recv(h.s, (uint8_t *)c->in, c->in_len);
		c->in_len = 0;
		if (n < 0)
			rc = -EPROTO;
	}
	while (rc == 0) {
		while (h.rhead && rc == 0) {
			stream_t *st = h.rhead;
			h.rhead = st->next;
			if (!h.rhead)
				h.rtail = NULL;
			st->next = NULL;
			rc = answer(&h, st);
		}
		if (rc == 0)
			rc = pump(&h);
		if (rc < 0 || (!nghttp2_session_want_read(h.s) && !nghttp2_session_want_write(h.s)))
			break;
		{
			ssize_t n = myco__gate_conn_recv(c, c->in, c->in_cap, (int64_t)idle_ns);
			if (n <= 0)
				break;
			n = nghttp2_session_mem_recv(h.s, (uint8_t *)c->in, (size_t)n);
			if (n < 0) {
				pump(&h);              /* GOAWAY with the error */
				rc = -EPROTO;
			}
		}
	}
	nghttp2_session_del(h.s);
	while (h.all) {
		stream_t *st = h.all;
		h.all = st->anext;
		stream_free(st);
	}
	return rc;
}
