/*
 * test_codec.c: unit tests of compressed-batch validation in the log store:
 * gzip, lz4 and zstd batches built here with the real libraries are opened
 * and their records checked; corrupt inner data (bit flips with a fixed-up
 * CRC), truncated streams, trailing bytes and a decompression bomb are
 * refused; the streaming record parser agrees with the in-place one on
 * mutated batches fed in pieces of any size; ListOffsets by timestamp is
 * record-exact on compressed batches, also after reopen; the per-thread
 * decompression contexts survive abandoned frames and threads.  rdkafka-zstd.batch
 * is a batch librdkafka 2.0.2 (kcat -z zstd) sent to myco-log, as stored.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "store.h"
#include "store_int.h"
#include "mkzbatch.h"

static const int codecs[] = { 1, 3, 4 };
#define NCODECS 3

#ifdef MYCO_SANITIZED
#define MUTATIONS 600
#else
#define MUTATIONS 4000
#endif

static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}

static void rmtree(char *d)
{
	nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static uint8_t raw[1 << 20], zb[1 << 20];

static void t_valid_each_codec(void **state)
{
	(void)state;
	for (int c = 0; c < NCODECS; c++)
		for (int nrec = 1; nrec <= 300; nrec += 37) {
			size_t n = tz_build_rich(raw, nrec, 5000, (unsigned)nrec);
			assert_int_equal(mls_batch_validate(raw, n), 0);
			size_t z = tz_compress(raw, n, codecs[c], zb, sizeof(zb));
			assert_true(z > 61);
			assert_int_equal(mls_batch_validate(zb, z), 0);
			/* every timestamp found record-exact in the batch */
			for (int k = 0; k < nrec; k += 5) {
				int64_t fts;
				assert_int_equal(myco__batch_find_ts(zb, z, 5000 + k, &fts), k);
				assert_int_equal(fts, 5000 + k);
			}
			int64_t fts;
			assert_int_equal(myco__batch_find_ts(zb, z, 5000 + nrec, &fts), -1);
		}
	/* snappy is stored as sent (not opened) */
	size_t n = tz_build_rich(raw, 3, 5000, 1);
	tb_be(raw + 21, 2, 2);
	tz_seal(raw, n);
	assert_false(myco__codec_supported(MLS_CODEC_SNAPPY));
	assert_int_equal(mls_batch_validate(raw, n), 0);
	/* codecs 5..7 do not exist */
	for (int a = 5; a <= 7; a++) {
		tb_be(raw + 21, (uint64_t)a, 2);
		tz_seal(raw, n);
		assert_int_equal(mls_batch_validate(raw, n), -MYCO_ELOG_INVALID_RECORD);
	}
}

static void t_corrupt_streams(void **state)
{
	(void)state;
	size_t n = tz_build_rich(raw, 80, 5000, 7);
	for (int c = 0; c < NCODECS; c++) {
		size_t z = tz_compress(raw, n, codecs[c], zb, sizeof(zb));
		assert_true(z > 100);
		static uint8_t t[1 << 20];
		/* a bit flipped anywhere in the compressed data (CRC fixed) */
		int bad = 0, flips = 0;
		for (size_t i = 61; i < z; i += 1 + (z - 61) / 97) {
			memcpy(t, zb, z);
			t[i] ^= (uint8_t)(1u << (i % 8));
			tz_seal(t, z);
			int r = mls_batch_validate(t, z);
			assert_true(r == 0 || r == -MYCO_ELOG_CORRUPT ||
			            r == -MYCO_ELOG_INVALID_RECORD);
			bad += r != 0;
			flips++;
		}
		/* content checksums are on: every flip is caught */
		assert_int_equal(bad, flips);
		/* flips in the middle of the data: a bad stream */
		memcpy(t, zb, z);
		t[61 + (z - 61) / 2] ^= 0x10;
		tz_seal(t, z);
		assert_int_equal(mls_batch_validate(t, z), -MYCO_ELOG_CORRUPT);
		/* truncated streams */
		for (size_t cut = 1; cut < z - 61; cut += 1 + cut / 2) {
			memcpy(t, zb, z - cut);
			tz_seal(t, z - cut);
			assert_int_equal(mls_batch_validate(t, z - cut), -MYCO_ELOG_CORRUPT);
		}
		/* bytes after the stream */
		memcpy(t, zb, z);
		memcpy(t + z, "\x01\x02\x03", 3);
		tz_seal(t, z + 3);
		assert_int_equal(mls_batch_validate(t, z + 3), -MYCO_ELOG_CORRUPT);
		/* a valid stream of bad records: count says one more record */
		memcpy(t, zb, z);
		tb_be(t + 23, 80, 4);
		tb_be(t + 57, 81, 4);
		tz_seal(t, z);
		assert_int_equal(mls_batch_validate(t, z), -MYCO_ELOG_INVALID_RECORD);
		/* and one fewer: the last record is data after the end */
		tb_be(t + 23, 78, 4);
		tb_be(t + 57, 79, 4);
		tz_seal(t, z);
		assert_int_equal(mls_batch_validate(t, z), -MYCO_ELOG_INVALID_RECORD);
		/* an uncompressed records section labelled with the codec */
		memcpy(t, raw, n);
		tb_be(t + 21, (uint64_t)codecs[c], 2);
		tz_seal(t, n);
		assert_int_equal(mls_batch_validate(t, n), -MYCO_ELOG_CORRUPT);
	}
}

/* A single record whose value is larger than the decompression cap. */
static void t_bomb(void **state)
{
	(void)state;
	size_t vlen = MLS_MAX_RECORDS_BYTES + 1024;
	size_t cap = vlen + 128;
	uint8_t *big = calloc(1, cap);
	assert_non_null(big);
	size_t pos = 61;
	uint8_t body[32];
	size_t b = 0;
	body[b++] = 0;
	b += tb_varint(body + b, 0);
	b += tb_varint(body + b, 0);
	b += tb_varint(body + b, -1);
	b += tb_varint(body + b, (int64_t)vlen);
	pos += tb_varint(big + pos, (int64_t)(b + vlen + 1));
	memcpy(big + pos, body, b);
	pos += b + vlen;                          /* zeros */
	pos += tb_varint(big + pos, 0);
	big[16] = 2;
	tb_be(big + 57, 1, 4);
	tz_seal(big, pos);
	assert_int_equal(mls_batch_validate(big, pos), 0); /* valid uncompressed */
	size_t zcap = cap + cap / 64 + (1 << 16);  /* >= LZ4F's bound */
	uint8_t *zbig = malloc(zcap);
	assert_non_null(zbig);
	for (int c = 0; c < NCODECS; c++) {
		size_t z = tz_compress(big, pos, codecs[c], zbig, zcap);
		assert_true(z > 61 && z < (1u << 20)); /* small on the wire */
		assert_int_equal(mls_batch_validate(zbig, z), -MYCO_ELOG_CORRUPT);
	}
	/* zeros only: bad records in a good stream */
	memset(big + 61, 0, 1 << 24);
	tz_seal(big, 61 + (1 << 24));
	for (int c = 0; c < NCODECS; c++) {
		size_t z = tz_compress(big, 61 + (1 << 24), codecs[c], zbig, zcap);
		assert_true(z > 61);
		assert_int_equal(mls_batch_validate(zbig, z), -MYCO_ELOG_INVALID_RECORD);
	}
	free(zbig);
	free(big);
}

/* The streaming parser (pieces of any size) and compressed validation agree
 * with the in-place parser of uncompressed batches on mutated records. */
static void t_stream_parser_agrees(void **state)
{
	(void)state;
	static const size_t pieces[] = { 1, 2, 3, 5, 13, 4096 };
	unsigned seed = 12345;
	int valid = 0;
	static uint8_t m[1 << 16];
	for (int it = 0; it < MUTATIONS; it++) {
		seed = seed * 1103515245u + 12345u;
		int nrec = 1 + (int)((seed >> 16) % 12);
		size_t n = tz_build_rich(m, nrec, 1000, seed);
		int muts = (int)((seed >> 8) % 3);  /* 0: the valid batch */
		for (int k = 0; k < muts; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = 61 + (seed >> 4) % (n - 61);
			m[at] = (seed >> 24) & 1 ? (uint8_t)(seed >> 12)
			                         : (uint8_t)(m[at] ^ (1u << ((seed >> 9) % 8)));
		}
		if ((seed >> 20) % 5 == 0 && n > 62)
			n -= 1 + (seed >> 5) % 3;      /* cut the end */
		tz_seal(m, n);
		mls_batch_header b;
		int ref = myco__batch_check(m, n, &b);
		assert_true(ref == 0 || ref == -MYCO_ELOG_INVALID_RECORD);
		valid += ref == 0;
		for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++)
			assert_int_equal(myco__batch_records_pieces(m, n, pieces[p]), ref);
		size_t z = tz_compress(m, n, codecs[it % NCODECS], zb, sizeof(zb));
		assert_true(z > 61);
		assert_int_equal(mls_batch_validate(zb, z), ref);
	}
	assert_true(valid > MUTATIONS / 4 && valid < MUTATIONS);
}

static void t_list_offsets_compressed(void **state)
{
	(void)state;
	char *d = strdup("/tmp/myco-logcodec-XXXXXX");
	assert_non_null(mkdtemp(d));
	mls_config c;
	mls_config_init(&c);
	c.fsync_policy = MLS_FSYNC_NEVER;
	mls_store_t *st;
	assert_int_equal(mls_open(d, &c, &st), 0);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 8192;
	tc.index_interval_bytes = 500;
	assert_int_equal(mls_topic_create(st, "z", 1, &tc), 0);
	mls_partition_t *p;
	assert_int_equal(mls_partition_get(st, "z", 0, &p), 0);
	/* batch i: 10 records, timestamps 100000 + 100 i + 2 k */
	for (int i = 0; i < 60; i++) {
		tb_opts o = tb_default();
		o.nrec = 10;
		o.value_len = 40;
		o.base_ts = 0;
		size_t n = tb_build(raw, &o);
		/* spread timestamps: rewrite the deltas (1 byte each here) */
		size_t pos = 61;
		for (int k = 0; k < 10; k++) {
			raw[pos + 2] = (uint8_t)(4 * k);   /* zigzag(2 k) */
			pos += 1 + raw[pos] / 2;
		}
		tb_be(raw + 27, (uint64_t)(100000 + 100 * i), 8);
		tb_be(raw + 35, (uint64_t)(100000 + 100 * i + 18), 8);
		tz_seal(raw, n);
		size_t z = tz_compress(raw, n, codecs[i % NCODECS], zb, sizeof(zb));
		assert_true(z > 61);
		mls_append_result r;
		assert_int_equal(mls_append(p, zb, z, &r), 0);
		assert_int_equal(r.base_offset, 10 * i);
	}
	for (int pass = 0; pass < 2; pass++) {
		int64_t off, ts;
		for (int i = 0; i < 60; i += 7)
			for (int k = 0; k < 10; k++) {
				assert_int_equal(mls_list_offset(p, 100000 + 100 * i + 2 * k,
				                                 &off, &ts), 0);
				assert_int_equal(off, 10 * i + k);
				assert_int_equal(ts, 100000 + 100 * i + 2 * k);
				/* between two records: the next one */
				if (k < 9) {
					assert_int_equal(mls_list_offset(p, 100000 + 100 * i + 2 * k + 1,
					                                 &off, &ts), 0);
					assert_int_equal(off, 10 * i + k + 1);
				}
			}
		/* after the last record of a batch: the next batch's first */
		assert_int_equal(mls_list_offset(p, 100000 + 100 * 3 + 19, &off, &ts), 0);
		assert_int_equal(off, 40);
		assert_int_equal(ts, 100000 + 100 * 4);
		mls_partition_put(p);
		mls_close(st);
		/* reopen: recovery scans (and reopens) the compressed batches */
		assert_int_equal(mls_open(d, &c, &st), 0);
		assert_int_equal(mls_partition_get(st, "z", 0, &p), 0);
		mls_offsets o;
		mls_partition_offsets(p, &o);
		assert_int_equal(o.log_end, 600);
	}
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

/* The per-thread decompression contexts: an abandoned frame (truncated,
 * with a declared content size, as kafka-python's lz4 sends) or a lookup
 * that stopped early must not spoil the next good batch. */
static void t_context_reuse(void **state)
{
	(void)state;
	size_t n = tz_build_rich(raw, 40, 5000, 3);
	for (int c = 0; c < NCODECS; c++) {
		size_t z;
		if (codecs[c] == 3) {       /* lz4 with the content size set */
			LZ4F_preferences_t pr;
			memset(&pr, 0, sizeof(pr));
			pr.frameInfo.contentSize = n - 61;
			z = LZ4F_compressFrame(zb + 61, sizeof(zb) - 61, raw + 61,
			                       n - 61, &pr);
			assert_false(LZ4F_isError(z));
			memcpy(zb, raw, 61);
			tb_be(zb + 21, 3, 2);
			z += 61;
			tz_seal(zb, z);
		} else {
			z = tz_compress(raw, n, codecs[c], zb, sizeof(zb));
		}
		assert_int_equal(mls_batch_validate(zb, z), 0);
		static uint8_t good[1 << 16];
		size_t g = tz_compress(raw, n, codecs[c], good, sizeof(good));
		for (int round = 0; round < 3; round++) {
			/* abandoned half way */
			tz_seal(zb, z - (z - 61) / 2);
			assert_int_equal(mls_batch_validate(zb, z - (z - 61) / 2),
			                 -MYCO_ELOG_CORRUPT);
			assert_int_equal(mls_batch_validate(good, g), 0);
			/* a lookup that stops at the first record */
			int64_t fts;
			tz_seal(zb, z);
			assert_int_equal(myco__batch_find_ts(zb, z, 0, &fts), 0);
			assert_int_equal(mls_batch_validate(good, g), 0);
			assert_int_equal(mls_batch_validate(zb, z), 0);
		}
	}
}

/* Threads validating at once, each with its own decompression state (the
 * thread exits free it); run under TSan too. */
struct vthread { uint8_t *b[NCODECS]; size_t n[NCODECS]; int bad; };

static void *validate_thread(void *arg)
{
	struct vthread *t = arg;
	for (int i = 0; i < 150; i++)
		for (int c = 0; c < NCODECS; c++) {
			int64_t fts;
			if (mls_batch_validate(t->b[c], t->n[c]) != 0 ||
			    myco__batch_find_ts(t->b[c], t->n[c], 5000 + i % 30,
			                        &fts) != i % 30)
				t->bad++;
		}
	return NULL;
}

static void t_threads(void **state)
{
	(void)state;
	struct vthread t = { .bad = 0 };
	size_t n = tz_build_rich(raw, 30, 5000, 11);
	for (int c = 0; c < NCODECS; c++) {
		t.b[c] = malloc(1 << 16);
		assert_non_null(t.b[c]);
		t.n[c] = tz_compress(raw, n, codecs[c], t.b[c], 1 << 16);
		assert_true(t.n[c] > 61);
	}
	struct vthread ts[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		ts[i] = t;
		assert_int_equal(pthread_create(&th[i], NULL, validate_thread, &ts[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ts[i].bad, 0);
	}
	for (int c = 0; c < NCODECS; c++)
		free(t.b[c]);
}

/* A zstd batch as librdkafka 2.0.2 produced it (279 log lines). */
static void t_librdkafka_zstd(void **state)
{
	(void)state;
	FILE *f = fopen(LOGSTORE_TEST_DIR "/rdkafka-zstd.batch", "rb");
	assert_non_null(f);
	size_t n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	assert_true(n > 61);
	assert_int_equal(tb_get(raw + 21, 2) & 7, 4);
	assert_int_equal(tb_get(raw + 57, 4), 279);
	assert_int_equal(mls_batch_validate(raw, n), 0);
	int64_t t0 = (int64_t)tb_get(raw + 27, 8), fts;
	assert_int_equal(myco__batch_find_ts(raw, n, t0, &fts), 0);
	assert_int_equal(fts, t0);
	assert_int_equal(myco__batch_find_ts(raw, n, (int64_t)tb_get(raw + 35, 8) + 1,
	                                     &fts), -1);
	/* one record fewer claimed: refused */
	memcpy(zb, raw, n);
	tb_be(zb + 23, 277, 4);
	tb_be(zb + 57, 278, 4);
	tz_seal(zb, n);
	assert_int_equal(mls_batch_validate(zb, n), -MYCO_ELOG_INVALID_RECORD);
	/* inner damage: librdkafka writes no zstd checksum, so this flip
	 * decodes to records whose framing is wrong */
	memcpy(zb, raw, n);
	zb[61 + (n - 61) / 3] ^= 0xff;
	tz_seal(zb, n);
	int r = mls_batch_validate(zb, n);
	assert_int_equal(r, -MYCO_ELOG_INVALID_RECORD);
	memcpy(zb, raw, n - 5);
	tz_seal(zb, n - 5);
	assert_int_equal(mls_batch_validate(zb, n - 5), -MYCO_ELOG_CORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_valid_each_codec),
		cmocka_unit_test(t_corrupt_streams),
		cmocka_unit_test(t_bomb),
		cmocka_unit_test(t_stream_parser_agrees),
		cmocka_unit_test(t_list_offsets_compressed),
		cmocka_unit_test(t_librdkafka_zstd),
		cmocka_unit_test(t_context_reuse),
		cmocka_unit_test(t_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
