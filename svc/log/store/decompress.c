/*
 * decompress.c: bounded streaming decompression of a RecordBatch v2
 * records section (gzip through zlib, lz4 frames through liblz4's LZ4F API,
 * zstd through libzstd's streaming API), handing the output to a callback
 * one fixed-size chunk at a time so memory stays bounded whatever the
 * compressed data claims.  The chunk and the lz4/zstd contexts are kept
 * per thread between batches (freed at thread exit; a context is kept only
 * after a fully decoded input, and a zstd one only while below 1 MiB).  Works on untrusted bytes.  Not for: snappy
 * (pass-through, see docs/log-storage.md), record parsing (batch.c).
 */
#include <errno.h>
#include <pthread.h>
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

/* Output chunk handed to the callback. */
#define MLS_DECOMP_CHUNK (64u << 10)
/* A cached zstd context larger than this is freed after use. */
#define MLS_DECOMP_KEEP (1u << 20)

/* Per-thread reusable state; owned by the thread's key value, freed by
 * cache_free at thread exit. */
typedef struct dz_cache {
	uint8_t *chunk;
#ifdef MYCO_LOGSTORE_LZ4
	LZ4F_dctx *lz4;
#endif
#ifdef MYCO_LOGSTORE_ZSTD
	ZSTD_DCtx *zstd;
#endif
} dz_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_ok;

static void cache_free(void *arg)
{
	dz_cache *c = arg;
	if (!c)
		return;
	free(c->chunk);
#ifdef MYCO_LOGSTORE_LZ4
	LZ4F_freeDecompressionContext(c->lz4);
#endif
#ifdef MYCO_LOGSTORE_ZSTD
	ZSTD_freeDCtx(c->zstd);
#endif
	free(c);
}

static void cache_init(void)
{
	cache_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

/* This thread's cache, created on first use; NULL without memory. */
static dz_cache *cache_get(void)
{
	dz_cache *c;
	pthread_once(&cache_once, cache_init);
	if (!cache_ok)
		return NULL;
	c = pthread_getspecific(cache_key);
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->chunk = malloc(MLS_DECOMP_CHUNK);
	if (!c->chunk || pthread_setspecific(cache_key, c) != 0) {
		free(c->chunk);
		free(c);
		return NULL;
	}
	return c;
}

typedef struct dz {
	mls__out_fn out;
	void *arg;
	uint64_t total;          /* bytes produced so far */
} dz;

/* Pass n produced bytes on; refuses output beyond the cap (a bomb). */
__attribute__((unused)) /* when no codec library was found */
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
static int unlz4(const uint8_t *in, size_t n, uint8_t *chunk, dz *d,
                 dz_cache *c)
{
	LZ4F_dctx *x = c ? c->lz4 : NULL;
	size_t ip = 0;
	int rc;

	if (x) {
		c->lz4 = NULL;           /* ours until handed back below */
		LZ4F_resetDecompressionContext(x);
	} else if (LZ4F_isError(LZ4F_createDecompressionContext(&x,
	                                                        LZ4F_VERSION))) {
		return -ENOMEM;
	}
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
	/* Reused only after complete frames: LZ4F_resetDecompressionContext
	 * (liblz4 1.9.4) leaves a stale content size behind after a frame
	 * was abandoned, failing the next good frame (found by the fuzzer). */
	if (c && rc == 0)
		c->lz4 = x;
	else
		LZ4F_freeDecompressionContext(x);
	return rc;
}
#endif

#ifdef MYCO_LOGSTORE_ZSTD
/* zstd frames (and skippable frames) back to back; the window a frame may
 * ask for is capped so a hostile header cannot make us allocate much. */
static int unzstd(const uint8_t *in, size_t n, uint8_t *chunk, dz *d,
                  dz_cache *c)
{
	ZSTD_DCtx *x = c ? c->zstd : NULL;
	ZSTD_inBuffer ib = { in, n, 0 };
	int rc;

	if (x) {
		c->zstd = NULL;          /* ours until handed back below */
		ZSTD_DCtx_reset(x, ZSTD_reset_session_only);
	} else if (!(x = ZSTD_createDCtx())) {
		return -ENOMEM;
	}
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
	if (c && rc == 0 && ZSTD_sizeof_DCtx(x) <= MLS_DECOMP_KEEP)
		c->zstd = x;
	else
		ZSTD_freeDCtx(x);
	return rc;
}
#endif

int myco__decompress(int codec, const uint8_t *in, size_t n, mls__out_fn out,
                     void *arg)
{
	dz d = { out, arg, 0 };
	dz_cache *c = NULL;
	uint8_t *chunk = NULL;
	uint8_t *own = NULL;     /* ours when there is no cache, freed below */
	int rc = -EOPNOTSUPP;

	(void)in; (void)n; (void)d; /* unused when no codec library was found */
	if (!myco__codec_supported(codec) || codec == MLS_CODEC_NONE)
		goto out;
	c = cache_get();
	if (c) {
		chunk = c->chunk;
	} else {
		chunk = own = malloc(MLS_DECOMP_CHUNK);
		if (!chunk) {
			rc = -ENOMEM;
			goto out;
		}
	}
	switch (codec) {
#ifdef MYCO_LOGSTORE_ZLIB
	case MLS_CODEC_GZIP:
		rc = gunzip(in, n, chunk, &d);
		break;
#endif
#ifdef MYCO_LOGSTORE_LZ4
	case MLS_CODEC_LZ4:
		rc = unlz4(in, n, chunk, &d, c);
		break;
#endif
#ifdef MYCO_LOGSTORE_ZSTD
	case MLS_CODEC_ZSTD:
		rc = unzstd(in, n, chunk, &d, c);
		break;
#endif
	default:
		break;
	}
out:
	free(own);
	return rc;
}
