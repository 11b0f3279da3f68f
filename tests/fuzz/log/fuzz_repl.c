/*
 * fuzz_repl.c: libFuzzer harness for the entry format brokers exchange
 * through raft in myco-log's cluster mode (svc/log/repl.h).  Each input
 * is one raft entry as a follower would receive it: decoded; a decoded
 * entry must encode back to exactly the same bytes; records entries are
 * applied to a real store (temp dir, fsync never, topic "t" with 2
 * partitions, removed at exit) as every replica applies them.  The seed
 * corpus (corpus_repl/) holds entries made from batches kcat produced.
 * Not for: raft's own messages (libraft's transport and its tests).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl.h"

static mls_store_t *st;
static char dir[] = "/tmp/fuzz-log-repl-XXXXXX";

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	if (st)
		mls_close(st);
	st = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	mls_config cfg;

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	mls_config_init(&cfg);
	cfg.fsync_policy = MLS_FSYNC_NEVER;
	cfg.retention_check_ms = 0;
	cfg.topic_defaults.segment_bytes = 1 << 20;
	if (mls_open(dir, &cfg, &st) < 0 || mls_topic_create(st, "t", 2, NULL) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco__lrepl_entry_t e;
	myco__lrepl_res_t res;
	uint8_t *again;
	size_t n;

	if (myco__lrepl_entry_decode(data, size, &e) < 0)
		return 0;
	n = myco__lrepl_entry_size(&e);
	if (n != size || !(again = malloc(n)))
		abort();
	myco__lrepl_entry_encode(&e, again);
	if (memcmp(again, data, n))
		abort();                   /* decode and encode disagree */
	free(again);
	if (e.type == LREPL_RECORDS) {
		myco__lrepl_apply_records(st, &e, &res);
		if (res.rc == 0 && res.nbatches < 1)
			abort();
	}
	return 0;
}
