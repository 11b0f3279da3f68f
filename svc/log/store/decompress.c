/*
 * decompress.c: bounded streaming decompression of a RecordBatch v2
 * records section (gzip through zlib, lz4 frames through liblz4's LZ4F API,
 * zstd through libzstd's streaming API), handing the output to a callback
 * one fixed-size chunk at a time so memory stays bounded whatever the
 * compressed data claims.  Works on untrusted bytes.  Not for: snappy
 * (pass-through, see docs/log-storage.md), record parsing (batch.c).
 */
#include <errno.h>
#include <stdlib.h>

#include "store_int.h"

#ifdef MYCO_LOGSTORE_ZLIB
#include <zlib.h>
#endif
#ifdef MYCO_LOGSTORE_LZ4
#include <lz4frame.h>
#endif
#ifdef MYCO_LOGSTORE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

/* Output chunk handed to the callback; one malloc per batch. */
#define MLS_DECOMP_CHUNK (64u << 10)

typedef struct dz {
	mls__out_fn out;
	void *arg;
	uint64_t total;          /* bytes produced so far */
} dz;

/* Pass n produced bytes on; refuses output beyond the cap (a bomb). */
static int emit(dz *d, const uint8_t *p, size_t n)
{
	d->total += n;
	if (d->total > MLS_MAX_RECORDS_BYTES)
		return -MYCO_ELOG_CORRUPT;
	return d->out(d->arg, p, n);
}

bool myco__codec_supported(int codec)
{
	switch (codec) {
	case MLS_CODEC_NONE:
		return true;
#ifdef MYCO_LOGSTORE_ZLIB
	case MLS_CODEC_GZIP:
		return true;
#endif
#ifdef MYCO_LOGSTORE_LZ4
	case MLS_CODEC_LZ4:
		return true;
#endif
#ifdef MYCO_LOGSTORE_ZSTD
	case MLS_CODEC_ZSTD:
		return true;
#endif
	default:
		return false;
	}
}

#ifdef MYCO_LOGSTORE_ZLIB
/* gzip (RFC 1952) as Java's GZIPInputStream reads it: one or more members
 * back to back, nothing after the last one. */
static int gunzip(const uint8_t *in, size_t n, uint8_t *chunk, dz *d)
{
	z_stream z = { 0 };
	int rc;

	if (n > UINT32_MAX)
		return -MYCO_ELOG_CORRUPT;
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	for (;;) {
		z.next_out = chunk;
		z.avail_out = MLS_DECOMP_CHUNK;
		int zr = inflate(&z, Z_NO_FLUSH);
		size_t got = MLS_DECOMP_CHUNK - z.avail_out;
		if (got && (rc = emit(d, chunk, got)) != 0)
			goto out;
		if (zr == Z_STREAM_END) {
			if (z.avail_in == 0) {
				rc = 0;
				goto out;
			}
			if (inflateReset(&z) != Z_OK) {
				rc = -MYCO_ELOG_CORRUPT;
				goto out;
			}
			continue;
		}
		if (zr == Z_OK)
			continue;
		/* Z_BUF_ERROR here = input ended inside the stream */
		rc = zr == Z_MEM_ERROR ? -ENOMEM : -MYCO_ELOG_CORRUPT;
		goto out;
	}
out:
	inflateEnd(&z);
	return rc;
}
#endif

#ifdef MYCO_LOGSTORE_LZ4
/* LZ4 frame format (KIP-57: what Kafka clients send for magic >= 1),
 * one or more frames back to back. */
static int unlz4(const uint8_t *in, size_t n, uint8_t *chunk, dz *d)
{
	LZ4F_dctx *x = NULL;
	size_t ip = 0;
	int rc;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&x, LZ4F_VERSION)))
		return -ENOMEM;
	for (;;) {
		size_t dst = MLS_DECOMP_CHUNK, src = n - ip;
		size_t h = LZ4F_decompress(x, chunk, &dst, in + ip, &src, NULL);
		if (LZ4F_isError(h)) {
			rc = -MYCO_ELOG_CORRUPT;
			goto out;
		}
		ip += src;
		if (dst && (rc = emit(d, chunk, dst)) != 0)
			goto out;
		if (h == 0 && ip == n) {   /* frame decoded and flushed */
			rc = 0;
			goto out;
		}
		if (src == 0 && dst == 0) { /* input ended inside a frame */
			rc = -MYCO_ELOG_CORRUPT;
			goto out;
		}
	}
out:
	LZ4F_freeDecompressionContext(x);
	return rc;
}
#endif

#ifdef MYCO_LOGSTORE_ZSTD
/* zstd frames (and skippable frames) back to back; the window a frame may
 * ask for is capped so a hostile header cannot make us allocate much. */
static int unzstd(const uint8_t *in, size_t n, uint8_t *chunk, dz *d)
{
	ZSTD_DCtx *x = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, n, 0 };
	int rc;

	if (!x)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(x, ZSTD_d_windowLogMax,
	                                        MLS_ZSTD_WINDOW_LOG_MAX))) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ZSTD_outBuffer ob = { chunk, MLS_DECOMP_CHUNK, 0 };
		size_t r = ZSTD_decompressStream(x, &ob, &ib);
		if (ZSTD_isError(r)) {
			rc = ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation
			     ? -ENOMEM : -MYCO_ELOG_CORRUPT;
			goto out;
		}
		if (ob.pos && (rc = emit(d, chunk, ob.pos)) != 0)
			goto out;
		if (r == 0 && ib.pos == ib.size) { /* frame done and flushed */
			rc = 0;
			goto out;
		}
		if (ib.pos == ib.size && ob.pos < ob.size) { /* truncated */
			rc = -MYCO_ELOG_CORRUPT;
			goto out;
		}
	}
out:
	ZSTD_freeDCtx(x);
	return rc;
}
#endif

int myco__decompress(int codec, const uint8_t *in, size_t n, mls__out_fn out,
                     void *arg)
{
	dz d = { out, arg, 0 };
	uint8_t *chunk = NULL;   /* ours, freed below */
	int rc = -EOPNOTSUPP;

	(void)in; (void)n;   /* unused when no codec library was found */
	if (!myco__codec_supported(codec) || codec == MLS_CODEC_NONE)
		goto out;
	chunk = malloc(MLS_DECOMP_CHUNK);
	if (!chunk) {
		rc = -ENOMEM;
		goto out;
	}
	switch (codec) {
#ifdef MYCO_LOGSTORE_ZLIB
	case MLS_CODEC_GZIP:
		rc = gunzip(in, n, chunk, &d);
		break;
#endif
#ifdef MYCO_LOGSTORE_LZ4
	case MLS_CODEC_LZ4:
		rc = unlz4(in, n, chunk, &d);
		break;
#endif
#ifdef MYCO_LOGSTORE_ZSTD
	case MLS_CODEC_ZSTD:
		rc = unzstd(in, n, chunk, &d);
		break;
#endif
	default:
		break;
	}
out:
	free(chunk);
	return rc;
}
