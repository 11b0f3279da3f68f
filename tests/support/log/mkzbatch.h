/*
 * mkzbatch.h: turns an uncompressed RecordBatch v2 (from mkbatch.h) into a
 * compressed one with the real codec libraries (gzip via zlib, LZ4 frame,
 * zstd; content checksums on), and builds batches with keys and headers.
 * Test and benchmark code only; needs zlib, liblz4, libzstd.
 */
#ifndef MYCO_TEST_LOGSTORE_MKZBATCH_H
#define MYCO_TEST_LOGSTORE_MKZBATCH_H

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "mkbatch.h"

/* Rewrite batchLength and the CRC of the n-byte batch at b. */
static inline void tz_seal(uint8_t *b, size_t n)
{
	tb_be(b + 8, n - 12, 4);
	tb_be(b + 17, mls_crc32c(0, b + 21, n - 21), 4);
}

/* Compress the records of the n-byte batch src with codec (1 gzip, 3 lz4,
 * 4 zstd) into dst (cap bytes).  Returns the new length, 0 on failure. */
static inline size_t tz_compress(const uint8_t *src, size_t n, int codec,
                                 uint8_t *dst, size_t cap)
{
	size_t in = n - 61, c = 0;
	if (cap < 61)
		return 0;
	if (codec == 1) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8,
		                 Z_DEFAULT_STRATEGY) != Z_OK)
			return 0;
		z.next_in = (Bytef *)(uintptr_t)(src + 61);
		z.avail_in = (uInt)in;
		z.next_out = dst + 61;
		z.avail_out = (uInt)(cap - 61);
		int r = deflate(&z, Z_FINISH);
		c = (size_t)z.total_out;
		deflateEnd(&z);
		if (r != Z_STREAM_END)
			return 0;
	} else if (codec == 3) {
		LZ4F_preferences_t pr;
		memset(&pr, 0, sizeof(pr));
		pr.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
		if (LZ4F_compressFrameBound(in, &pr) > cap - 61)
			return 0;
		c = LZ4F_compressFrame(dst + 61, cap - 61, src + 61, in, &pr);
		if (LZ4F_isError(c))
			return 0;
	} else if (codec == 4) {
		ZSTD_CCtx *x = ZSTD_createCCtx();
		if (!x)
			return 0;
		ZSTD_CCtx_setParameter(x, ZSTD_c_checksumFlag, 1);
		c = ZSTD_compress2(x, dst + 61, cap - 61, src + 61, in);
		ZSTD_freeCCtx(x);
		if (ZSTD_isError(c))
			return 0;
	} else {
		return 0;
	}
	memcpy(dst, src, 61);
	tb_be(dst + 21, (tb_get(src + 21, 2) & ~7u) | (unsigned)codec, 2);
	tz_seal(dst, 61 + c);
	return 61 + c;
}

/* A batch of nrec records with keys (some null), values of varied size and
 * 0-3 headers, timestamps base_ts + i, into buf (>= 61 + nrec * 400). */
static inline size_t tz_build_rich(uint8_t *buf, int nrec, int64_t base_ts,
                                   unsigned seed)
{
	size_t pos = 61;
	for (int i = 0; i < nrec; i++) {
		uint8_t body[400];
		size_t b = 0;
		seed = seed * 1103515245u + 12345u;
		int klen = (seed >> 8) % 3 == 0 ? -1 : (int)((seed >> 10) % 20);
		int vlen = (int)((seed >> 14) % 200);
		int nh = (int)((seed >> 22) % 4);
		body[b++] = 0;
		b += tb_varint(body + b, i);
		b += tb_varint(body + b, i);
		b += tb_varint(body + b, klen);
		for (int k = 0; k < klen; k++)
			body[b++] = (uint8_t)('k' + k);
		b += tb_varint(body + b, vlen);
		for (int k = 0; k < vlen; k++)
			body[b++] = (uint8_t)(i + k);
		b += tb_varint(body + b, nh);
		for (int h = 0; h < nh; h++) {
			b += tb_varint(body + b, 2);
			body[b++] = 'h';
			body[b++] = (uint8_t)('0' + h);
			int hv = h == 2 ? -1 : h * 3;
			b += tb_varint(body + b, hv);
			for (int k = 0; k < hv; k++)
				body[b++] = 'v';
		}
		pos += tb_varint(buf + pos, (int64_t)b);
		memcpy(buf + pos, body, b);
		pos += b;
	}
	tb_be(buf, 0, 8);
	tb_be(buf + 12, (uint64_t)-1, 4);
	buf[16] = 2;
	tb_be(buf + 21, 0, 2);
	tb_be(buf + 23, (uint64_t)(nrec - 1), 4);
	tb_be(buf + 27, (uint64_t)base_ts, 8);
	tb_be(buf + 35, (uint64_t)(base_ts + nrec - 1), 8);
	tb_be(buf + 43, (uint64_t)-1, 8);
	tb_be(buf + 51, (uint64_t)-1, 2);
	tb_be(buf + 53, (uint64_t)-1, 4);
	tb_be(buf + 57, (uint64_t)nrec, 4);
	tz_seal(buf, pos);
	return pos;
}

#endif
