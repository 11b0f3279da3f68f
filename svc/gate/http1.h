/*
 * http1.h: myco-gate's HTTP/1.1 message parser (RFC 9112), shared by the
 * server side (requests from clients), the proxy (responses from
 * upstreams), the unit tests and the fuzz harness.  Pure functions over a
 * caller's buffer: no I/O, no allocation.  Not for: routing, proxying.
 *
 * The parser is deliberately strict where laxness enables request
 * smuggling: bare CR or bare LF as a line end, obs-fold, whitespace before
 * a colon, Content-Length together with Transfer-Encoding, more than one
 * Content-Length, a Transfer-Encoding whose last coding is not chunked,
 * control characters in a field value, and malformed chunk sizes are all
 * errors (400, or 501 for an unknown transfer coding).
 */
#ifndef MYCO_GATE_HTTP1_H
#define MYCO_GATE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MYCO__H1_MAX_HEADERS 96

typedef struct myco__h1_hdr {
	const char *name;
	const char *value;
	uint32_t nlen, vlen;
} myco__h1_hdr_t;

/* A parsed message head.  Every pointer points into the parsed buffer and
 * is valid as long as it. */
typedef struct myco__h1_msg {
	/* request line (requests) */
	const char *method, *target;
	uint32_t mlen, tlen;
	/* status line (responses) */
	unsigned status;
	const char *reason;
	uint32_t rlen;
	unsigned minor;              /* HTTP/1.minor: 0 or 1 */
	size_t nhdrs;
	myco__h1_hdr_t hdrs[MYCO__H1_MAX_HEADERS];
	/* what the headers mean */
	int64_t content_length;      /* -1 when absent */
	bool chunked;                /* Transfer-Encoding: chunked */
	bool keep_alive;             /* persistent after this message */
	bool expect_continue;        /* Expect: 100-continue */
	bool upgrade;                /* Connection: upgrade + Upgrade header */
	const char *host;            /* Host value (requests), or NULL */
	uint32_t hostlen;
	size_t head_len;             /* bytes of the head, CRLFCRLF included */
	/* on error */
	unsigned err_status;         /* 400, 414, 417, 431, 501, 505 */
	const char *err;             /* static reason, for the log and body */
} myco__h1_msg_t;

/* Parse a request head at buf[0..len).  Returns head_len (> 0) when the
 * head is complete, 0 when more bytes are needed (and len is still under
 * max_head), or -EPROTO with m->err_status/m->err set.  Empty lines
 * before the request line are skipped (RFC 9112 2.2) and counted in
 * head_len. */
ssize_t myco__h1_parse_request(const char *buf, size_t len, size_t max_head,
			       myco__h1_msg_t *m);

/* Parse a response head; same contract.  keep_alive, content_length and
 * chunked describe the response body framing; the caller decides "no body"
 * for HEAD requests, 1xx, 204 and 304 (myco__h1_resp_has_body). */
ssize_t myco__h1_parse_response(const char *buf, size_t len, size_t max_head,
				myco__h1_msg_t *m);

bool myco__h1_resp_has_body(unsigned status, bool head_request);

/* Find a header (case-insensitive name); NULL when absent. */
const myco__h1_hdr_t *myco__h1_find(const myco__h1_msg_t *m, const char *name);

/* Case-insensitive comparison of a counted string with a C string. */
bool myco__h1_eq(const char *s, size_t n, const char *lit);
/* True when comma-separated list value v contains token tok. */
bool myco__h1_has_token(const char *v, size_t n, const char *tok);

/* Incremental chunked-body decoder (RFC 9112 7.1).  Zero-initialise. */
typedef struct myco__h1_chunked {
	int state;
	uint64_t remaining;          /* bytes left in the current chunk */
	unsigned digits;             /* hex digits read of the size */
	size_t trailer_bytes;        /* bytes of trailer section so far */
	size_t ext_bytes;            /* bytes of chunk extensions so far */
	bool done;                   /* last chunk and trailers consumed */
	const char *err;
} myco__h1_chunked_t;

/* Decode in place: consumes input from buf[0..len), moves the decoded data
 * to the front of buf and stores its length in *out.  Returns the number
 * of input bytes consumed (all of len unless the body ended first: st->done
 * is then set and what follows belongs to the next message), or -EPROTO
 * with st->err set (bad chunk size, missing CRLF, oversized extension or
 * trailers). */
ssize_t myco__h1_chunked_decode(myco__h1_chunked_t *st, char *buf, size_t len,
				size_t *out);

/* Reason phrase of a status code ("OK"), "Unknown" otherwise. */
const char *myco__h1_reason(unsigned status);

#endif /* MYCO_GATE_HTTP1_H */
