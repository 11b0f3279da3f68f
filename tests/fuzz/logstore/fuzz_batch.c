/*
 * fuzz_batch.c: libFuzzer harness: arbitrary bytes as a produced batch:
 * validation (header, CRC, count, record framing, decompression of
 * compressed batches) and, when valid, an append to a real partition (with
 * idempotent-producer checks) and a timestamp lookup.  The first input
 * byte is a flag byte: bit 0 fixes up the CRC first so that the record
 * parser and the decompressors see the mutated bytes; bit 1 (with bits 2-3
 * choosing gzip, lz4 or zstd) compresses an uncompressed input's records
 * with the real library first and checks that the compressed batch is
 * valid exactly when the uncompressed one is; bits 4-7 choose the piece
 * size in which the streaming record parser, fed the uncompressed records,
 * must agree with the in-place parser.  Never a crash.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"
#include "mkzbatch.h"

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
	uint8_t flags = data[0];
	bool fix = flags & 1;
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
	if (size > 61 && (tb_get(b + 21, 2) & 7) == 0) {
		mls_batch_header hb;
		int ref = myco__batch_check(b, size, &hb);
		static const size_t pieces[] = { 1, 2, 3, 5, 7, 11, 16, 31, 64,
		                                 100, 255, 1000, 4096, 65536,
		                                 1 << 20, 3 };
		int sp = myco__batch_records_pieces(b, size, pieces[flags >> 4]);
		if (ref == 0 && sp != 0)
			abort();   /* the streaming parser refused a valid batch */
		if (ref == -MYCO_ELOG_INVALID_RECORD &&
		    hb.count > 0 && (int64_t)hb.last_delta + 1 == hb.count &&
		    sp == 0)
			abort();   /* ... or accepted records the in-place one refused */
		if ((flags & 2) && fix && (b[22] & 0x30) == 0 &&
		    (uint64_t)(uint32_t)hb.length + 12 == size) {
			static const int codec[4] = { 1, 3, 4, 1 };
			size_t cap = size + size / 64 + 4096;
			uint8_t *z = malloc(cap);   /* ours, freed below */
			if (z) {
				size_t zn = tz_compress(b, size, codec[(flags >> 2) & 3],
				                        z, cap);
				if (zn > 61 && ((mls_batch_validate(z, zn) == 0) != (v == 0)))
					abort(); /* compressed and plain disagree */
				free(z);
			}
		}
	}
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
