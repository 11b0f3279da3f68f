/*
 * resp.h: the request side of the Redis protocol (RESP2/RESP3 clients send
 * the same thing): arrays of bulk strings, and inline commands as typed in
 * telnet.  Pure functions over a byte buffer, no allocation beyond the
 * argument vector, so the fuzz harness drives exactly what the server runs.
 * Not for: replies (reply.c), or reading replies (the tests use real
 * clients for that).
 */
#ifndef MYCO_KV_RESP_H
#define MYCO_KV_RESP_H

#include <stddef.h>
#include <stdint.h>

typedef struct kv_arg {
	const char *p;          /* points into the parsed buffer */
	size_t len;
} kv_arg_t;

typedef struct kv_req {
	kv_arg_t *argv;         /* grown by resp_parse; free with resp_req_free */
	int argc, cap;
	char *inl;              /* inline commands: unescaped copy of the args */
	size_t inl_cap;
} kv_req_t;

#define RESP_BULK_MAX (512ll << 20)     /* proto-max-bulk-len */
#define RESP_INLINE_MAX (64u << 10)     /* PROTO_INLINE_MAX_SIZE */

/* Parse one request at buf[0..len).  Returns the number of bytes consumed
 * (> 0) with req->argv/argc set (argc may be 0 for an empty line or "*0",
 * which the server skips), 0 when more bytes are needed, or -EPROTO with
 * *err set to Redis's exact error text (without "-" and CRLF; static
 * string), after which the connection must be closed, or -ENOMEM.
 * argv entries point into buf (or into req->inl for inline commands) and
 * stay valid until buf changes or the next call. */
int resp_parse(const char *buf, size_t len, kv_req_t *req, const char **err);
void resp_req_free(kv_req_t *req);

/* Strict integer parse with Redis's rules (string2ll): optional '-', no
 * '+', no leading zeros, no spaces, fits in long long.  0 or -EINVAL. */
int resp_ll(const char *p, size_t len, long long *out);

#endif /* MYCO_KV_RESP_H */
