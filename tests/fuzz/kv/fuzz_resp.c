/*
 * fuzz_resp.c: libFuzzer harness for myco-kv's request parser and command
 * dispatcher.  Each input is a byte stream as a client would send it: it is
 * parsed request by request (resp_parse, as net.c does) and every request is
 * run through kv_exec on an in-memory server with 2 shards, so both the
 * parser and every command's argument handling see hostile bytes.  The
 * server is flushed every 64 inputs to bound memory.  The seed corpus
 * (corpus_resp/) holds valid commands of every type and the bad-input
 * corpus of tests/unit/kv/bad/.  Not for: sockets (tests/integration/kv).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kv_srv_t srv;
static int inited;
static unsigned runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kv_req_t req = { 0 };
	kv_client_t *c;
	size_t off = 0;
	int n, steps = 0;
	const char *err;

	if (!inited) {
		if (kv_srv_init(&srv, 2) < 0)
			abort();
		inited = 1;
	}
	c = kv_client_new(&srv);
	if (!c)
		return 0;
	while (off < size && steps++ < 256) {
		n = resp_parse((const char *)data + off, size - off, &req, &err);
		if (n <= 0)
			break;
		off += (size_t)n;
		if (req.argc) {
			kv_exec(c, req.argc, req.argv);
			c->want_block = false;   /* no network layer to block in */
			c->r.len = 0;
			c->r.oom = false;
		}
		if (c->close_after)
			break;
	}
	if (n < 0 && err && strncmp(err, "ERR Protocol error: ", 20))
		abort();   /* every protocol error has Redis's prefix */
	resp_req_free(&req);
	kv_client_free(c);
	if (++runs % 64 == 0) {
		kv_client_t *f = kv_client_new(&srv);
		kv_exec(f, 1, &(kv_arg_t){ "FLUSHALL", 8 });
		kv_client_free(f);
	}
	return 0;
}
