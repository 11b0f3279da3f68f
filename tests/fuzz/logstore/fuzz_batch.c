/*
 * fuzz_batch.c: libFuzzer harness: arbitrary bytes as a produced batch:
 * validation (header, CRC, count, record framing) and, when valid, an
 * append to a real partition (with idempotent-producer checks) and a
 * timestamp lookup.  The first input byte selects whether the CRC is
 * fixed up first so that the record parser is reached.  Never a crash.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "../../unit/logstore/mkbatch.h"

static mls_store_t *st;
static mls_partition_t *part;
static unsigned long iters;


static char rm_dir[256];
static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}
static void cleanup(void)
{
	nftw(rm_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[256];
	(void)argc; (void)argv;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/myco-fuzz-logbatch-%d", base, (int)getpid());
	snprintf(rm_dir, sizeof(rm_dir), "%s", dir);
	atexit(cleanup);
	mls_config c;
	mls_config_init(&c);
	c.fsync_policy = MLS_FSYNC_NEVER;
	c.retention_check_ms = 0;
	if (mls_open(dir, &c, &st) != 0)
		abort();
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 256 << 10;
	tc.retention_bytes = 1 << 20;
	if (mls_topic_create(st, "b", 1, &tc) != 0 &&
	    mls_partition_get(st, "b", 0, &part) != 0)
		abort();
	if (!part && mls_partition_get(st, "b", 0, &part) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool fix = data[0] & 1;
	data++, size--;
	uint8_t *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	memcpy(b, data, size);
	if (fix && size >= 61) {
		uint32_t c = mls_crc32c(0, b + 21, size - 21);
		b[17] = (uint8_t)(c >> 24); b[18] = (uint8_t)(c >> 16);
		b[19] = (uint8_t)(c >> 8); b[20] = (uint8_t)c;
	}
	int v = mls_batch_validate(b, size);
	mls_append_result r;
	int a = mls_append(part, b, size, &r);
	if (v != 0 && a == 0)
		abort();   /* an invalid batch must never be stored */
	if (a == 0) {
		int64_t off, ts;
		int64_t t0 = (int64_t)tb_get(b + 27, 8);
		mls_list_offset(part, t0, &off, &ts);
	}
	free(b);
	if (++iters % 2000 == 0)
		mls_retention_run(st, -1);
	return 0;
}
