/*
 * batch.c: RecordBatch v2 header decoding and validation (magic, length,
 * CRC-32C, record count, record framing of uncompressed batches), and the
 * record-level timestamp search used by ListOffsets.  Works on untrusted
 * bytes: every length is checked before use.  Not for: decompression or
 * record contents (the broker does that).
 */
#include <errno.h>
#include <string.h>

#include "store_int.h"

int myco__batch_header(const uint8_t *p, size_t avail, mls__batch *b)
{
	if (avail < MLS_BATCH_HDR)
		return -EAGAIN;
	b->base_offset = (int64_t)mls__be64(p);
	b->length = (int32_t)mls__be32(p + MLS_OFF_LENGTH);
	if (p[MLS_OFF_MAGIC] != 2)
		return -MYCO_ELOG_CORRUPT;
	if (b->length < MLS_BATCH_HDR - MLS_LOG_OVERHEAD)
		return -MYCO_ELOG_CORRUPT;
	b->crc = mls__be32(p + MLS_OFF_CRC);
	b->attributes = (int16_t)mls__be16(p + MLS_OFF_ATTR);
	b->last_delta = (int32_t)mls__be32(p + MLS_OFF_LAST_DELTA);
	b->base_ts = (int64_t)mls__be64(p + MLS_OFF_BASE_TS);
	b->max_ts = (int64_t)mls__be64(p + MLS_OFF_MAX_TS);
	b->producer_id = (int64_t)mls__be64(p + MLS_OFF_PID);
	b->producer_epoch = (int16_t)mls__be16(p + MLS_OFF_PEPOCH);
	b->base_seq = (int32_t)mls__be32(p + MLS_OFF_BASE_SEQ);
	b->count = (int32_t)mls__be32(p + MLS_OFF_COUNT);
	if (b->last_delta < 0)
		return -MYCO_ELOG_CORRUPT;
	return 0;
}

/* Unsigned varint of at most maxb bytes; returns bytes used or -1. */
static int uvarint(const uint8_t *p, size_t n, int maxb, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < maxb && (size_t)i < n; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return -1;
}

static int svarint(const uint8_t *p, size_t n, int maxb, int64_t *out)
{
	uint64_t u;
	int r = uvarint(p, n, maxb, &u);
	if (r > 0)
		*out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return r;
}

/* Walk one record body [p, p+n): fills its timestamp delta and offset
 * delta.  Returns 0 or -1 when the framing is wrong. */
static int record_walk(const uint8_t *p, size_t n, int64_t *ts_delta,
                       int64_t *off_delta)
{
	size_t i = 0;
	int r;
	int64_t v, cnt;

	if (n < 1)
		return -1;
	i = 1; /* attributes */
	if ((r = svarint(p + i, n - i, 10, ts_delta)) < 0)
		return -1;
	i += (size_t)r;
	if ((r = svarint(p + i, n - i, 5, off_delta)) < 0)
		return -1;
	i += (size_t)r;
	for (int k = 0; k < 2; k++) { /* key, value: -1 = null */
		if ((r = svarint(p + i, n - i, 5, &v)) < 0)
			return -1;
		i += (size_t)r;
		if (v < -1 || (v > 0 && (uint64_t)v > n - i))
			return -1;
		if (v > 0)
			i += (size_t)v;
	}
	if ((r = svarint(p + i, n - i, 5, &cnt)) < 0 || cnt < 0)
		return -1;
	i += (size_t)r;
	for (int64_t h = 0; h < cnt; h++) {
		for (int k = 0; k < 2; k++) { /* header key (>= 0), value */
			if ((r = svarint(p + i, n - i, 5, &v)) < 0)
				return -1;
			i += (size_t)r;
			if (v < (k == 0 ? 0 : -1) ||
			    (v > 0 && (uint64_t)v > n - i))
				return -1;
			if (v > 0)
				i += (size_t)v;
		}
	}
	return i == n ? 0 : -1;
}

/* Visit every record of an uncompressed batch; stop early when fn returns
 * nonzero (that value is returned).  -1 on bad framing or count. */
typedef int (*record_fn)(void *arg, int32_t idx, int64_t ts);

static int records_each(const uint8_t *p, size_t len, const mls__batch *b,
                        record_fn fn, void *arg)
{
	size_t i = MLS_BATCH_HDR;
	int32_t idx = 0;

	while (i < len) {
		int64_t rlen, tsd, offd;
		int r = svarint(p + i, len - i, 5, &rlen);
		if (r < 0 || rlen < 1 || (uint64_t)rlen > len - i - (size_t)r)
			return -1;
		i += (size_t)r;
		if (record_walk(p + i, (size_t)rlen, &tsd, &offd) < 0)
			return -1;
		if (offd != idx || idx >= b->count)
			return -1;
		if (fn) {
			int s = fn(arg, idx, (int64_t)((uint64_t)b->base_ts +
			                               (uint64_t)tsd));
			if (s)
				return s;
		}
		i += (size_t)rlen;
		idx++;
	}
	return idx == b->count ? 0 : -1;
}

int myco__batch_check(const uint8_t *p, size_t len, mls__batch *b)
{
	int rc = myco__batch_header(p, len, b);
	if (rc == -EAGAIN)
		return -MYCO_ELOG_CORRUPT;
	if (rc < 0)
		return rc;
	if ((uint64_t)b->length + MLS_LOG_OVERHEAD != len)
		return -MYCO_ELOG_CORRUPT;
	if (mls_crc32c(0, p + MLS_BATCH_CRC_START, len - MLS_BATCH_CRC_START)
	    != b->crc)
		return -MYCO_ELOG_CORRUPT;
	if (b->count <= 0 || (int64_t)b->last_delta + 1 != b->count)
		return -MYCO_ELOG_INVALID_RECORD;
	if ((b->attributes & MLS_ATTR_COMPRESSION) > 4)
		return -MYCO_ELOG_INVALID_RECORD;
	if ((b->attributes & MLS_ATTR_COMPRESSION) == 0) {
		/* each record needs at least 7 bytes: cheap bound first */
		if ((uint64_t)b->count * 7 > len - MLS_BATCH_HDR)
			return -MYCO_ELOG_INVALID_RECORD;
		if (records_each(p, len, b, NULL, NULL) < 0)
			return -MYCO_ELOG_INVALID_RECORD;
	} else if (len == MLS_BATCH_HDR) {
		return -MYCO_ELOG_INVALID_RECORD;
	}
	return 0;
}

int mls_batch_validate(const void *batch, size_t len)
{
	mls__batch b;
	int rc = myco__batch_check(batch, len, &b);
	if (rc == 0 && (b.attributes & MLS_ATTR_TRANSACTIONAL))
		rc = -EOPNOTSUPP;
	if (rc == 0 && (b.attributes & MLS_ATTR_CONTROL))
		rc = -MYCO_ELOG_INVALID_RECORD;
	return rc;
}

struct find_ts { int64_t ts; int32_t found; int64_t found_ts; };

static int find_ts_cb(void *arg, int32_t idx, int64_t ts)
{
	struct find_ts *f = arg;
	if (ts >= f->ts) {
		f->found = idx;
		f->found_ts = ts;
		return 1;
	}
	return 0;
}

int32_t myco__batch_find_ts(const uint8_t *p, size_t len, int64_t ts,
                            int64_t *found_ts)
{
	mls__batch b;
	struct find_ts f = { ts, -1, -1 };

	if (myco__batch_header(p, len, &b) < 0)
		return -1;
	*found_ts = b.max_ts;
	if ((b.attributes & MLS_ATTR_LOG_APPEND_TIME) ||
	    (b.attributes & MLS_ATTR_COMPRESSION) != 0)
		return b.max_ts >= ts ? 0 : -1;
	if (records_each(p, len, &b, find_ts_cb, &f) < 0 && f.found < 0)
		return b.max_ts >= ts ? 0 : -1;
	if (f.found >= 0)
		*found_ts = f.found_ts;
	return f.found;
}
