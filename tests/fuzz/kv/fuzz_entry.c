/*
 * fuzz_entry.c: libFuzzer harness for what myco-kv takes from raft peers:
 * a log entry ([u64 nonce] then a WAL record, zero-padded to 8 bytes;
 * kv_raft_entry_apply) and a snapshot (kv_snapshot_load), both applied to
 * an in-memory server with 2 shards as the raft thread does.  The first
 * byte picks which; a damaged input must be refused (-EBADMSG, -MYCO_*),
 * never crash.  The server is flushed every 64 inputs to bound memory.
 * Seed corpus: corpus_entry/ (entries and snapshots of every type).
 */
#include <errno.h>
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
	kv_client_t *c;
	int rc;

	if (!inited) {
		if (kv_srv_init(&srv, 2) < 0)
			abort();
		inited = 1;
	}
	if (size < 1 || size > (1u << 20))
		return 0;
	c = kv_client_new(&srv);
	if (!c)
		return 0;
	c->replay = true;
	if (data[0] & 1) {
		rc = kv_snapshot_load(&srv, c, (const char *)data + 1, size - 1);
		if (rc > 0)
			abort();
	} else {
		/* nonce 1 is "ours": such entries must be skipped untouched */
		rc = kv_raft_entry_apply(&srv, c, data + 1, size - 1, 1);
		if (rc != 0 && rc != 1 && rc != -EBADMSG)
			abort();
	}
	kv_client_free(c);
	if (++runs % 64 == 0) {
		kv_client_t *f = kv_client_new(&srv);
		f->replay = true;
		kv_exec(f, 1, &(kv_arg_t){ "FLUSHALL", 8 });
		kv_client_free(f);
	}
	return 0;
}
