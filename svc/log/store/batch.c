/*
 * batch.c: RecordBatch v2 header decoding and validation (magic, length,
 * CRC-32C, record count, record framing: in place for uncompressed
 * batches, through a streaming parser fed by decompress.c for compressed
 * ones), and the record-level timestamp search used by ListOffsets.  Works
 * on untrusted bytes: every length is checked before use.  Not for: record
 * contents (the broker does that).
 */
#include <errno.h>
#include <string.h>

#include "store_int.h"

int myco__batch_header(const uint8_t *p, size_t avail, mls_batch_header *b)
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

static int records_each(const uint8_t *p, size_t len, const mls_batch_header *b,
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

/* ---- streaming record parser (compressed batches) ----------------------
 * The same framing rules as records_each()/record_walk(), applied to bytes
 * that arrive in pieces of any size: fixed state, no allocation, nothing
 * buffered (a varint is accumulated byte by byte, key/value/header bytes
 * are skipped by count). */
enum rs_state {
	RS_LEN, RS_ATTR, RS_TS, RS_OFF, RS_KEYLEN, RS_VALLEN, RS_HCNT,
	RS_HKLEN, RS_HVLEN, RS_SKIP,
	RS_HDONE                /* a header value ended (never reads a byte) */
};

typedef struct rs {
	const mls_batch_header *b;
	int err;                /* first framing error (stream keeps going) */
	record_fn fn;
	void *arg;
	int32_t idx;            /* records completed */
	uint8_t st;             /* enum rs_state */
	uint8_t after_skip;     /* state after RS_SKIP */
	uint8_t vbytes;         /* bytes of the varint being read */
	uint64_t vacc;
	uint64_t rem;           /* bytes left in the current record */
	uint64_t skip;
	int64_t ts_delta, off_delta, hdr_left;
} rs;

static const uint8_t rs_maxb[] = {
	[RS_LEN] = 5, [RS_TS] = 10, [RS_OFF] = 5, [RS_KEYLEN] = 5,
	[RS_VALLEN] = 5, [RS_HCNT] = 5, [RS_HKLEN] = 5, [RS_HVLEN] = 5,
};

/* The record is complete when rem reached 0 right after its last field. */
static int rs_record_end(rs *s)
{
	if (s->rem != 0 || s->off_delta != s->idx || s->idx >= s->b->count)
		return -MYCO_ELOG_INVALID_RECORD;
	if (s->fn) {
		int r = s->fn(s->arg, s->idx, (int64_t)((uint64_t)s->b->base_ts +
		                                        (uint64_t)s->ts_delta));
		if (r)
			return r;
	}
	s->idx++;
	s->st = RS_LEN;
	return 0;
}

/* After the header count or a header value: next header or record end. */
static int rs_next_header(rs *s)
{
	if (s->hdr_left > 0) {
		s->hdr_left--;
		s->st = RS_HKLEN;
		return 0;
	}
	return rs_record_end(s);
}

/* A length field v (-1 = null when allow_null) followed by v bytes. */
static int rs_length(rs *s, int64_t v, bool allow_null, uint8_t next)
{
	if (v < (allow_null ? -1 : 0) || (v > 0 && (uint64_t)v > s->rem))
		return -MYCO_ELOG_INVALID_RECORD;
	if (v > 0) {
		s->skip = (uint64_t)v;
		s->after_skip = next;
		s->st = RS_SKIP;
	} else {
		s->st = next;
	}
	return 0;
}

/* A state's work once its value (a byte or a complete varint) is known. */
static int rs_value(rs *s, uint64_t u)
{
	int64_t v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);

	switch (s->st) {
	case RS_LEN:
		if (v < 1)
			return -MYCO_ELOG_INVALID_RECORD;
		s->rem = (uint64_t)v;
		s->st = RS_ATTR;
		return 0;
	case RS_ATTR:
		s->st = RS_TS;
		return 0;
	case RS_TS:
		s->ts_delta = v;
		s->st = RS_OFF;
		return 0;
	case RS_OFF:
		s->off_delta = v;
		s->st = RS_KEYLEN;
		return 0;
	case RS_KEYLEN:
		return rs_length(s, v, true, RS_VALLEN);
	case RS_VALLEN:
		return rs_length(s, v, true, RS_HCNT);
	case RS_HCNT:
		if (v < 0)
			return -MYCO_ELOG_INVALID_RECORD;
		s->hdr_left = v;
		return rs_next_header(s);
	case RS_HKLEN:
		return rs_length(s, v, false, RS_HVLEN);
	case RS_HVLEN: {
		int r = rs_length(s, v, true, RS_HDONE);
		if (r == 0 && s->st == RS_HDONE)
			r = rs_next_header(s);
		return r;
	}
	default:
		return -MYCO_ELOG_INVALID_RECORD;
	}
}

/* mls__out_fn: parse the next n bytes.  0, -MYCO_ELOG_INVALID_RECORD, or
 * the callback's nonzero value. */
static int rs_feed(void *arg, const uint8_t *p, size_t n)
{
	rs *s = arg;
	int r;

	while (n) {
		if (s->st == RS_SKIP) {
			size_t k = s->skip < n ? (size_t)s->skip : n;
			p += k;
			n -= k;
			s->skip -= k;
			s->rem -= k;
			if (s->skip == 0) {
				s->st = s->after_skip;
				if (s->st == RS_HDONE && (r = rs_next_header(s)) != 0)
					return r;
			}
			continue;
		}
		uint8_t c = *p++;
		n--;
		if (s->st == RS_LEN) {
			if (s->vbytes == 0 && s->idx >= s->b->count)
				return -MYCO_ELOG_INVALID_RECORD; /* data after last */
		} else {
			if (s->rem == 0)
				return -MYCO_ELOG_INVALID_RECORD;
			s->rem--;
		}
		if (s->st == RS_ATTR) {
			if ((r = rs_value(s, c)) != 0)
				return r;
			continue;
		}
		s->vacc |= (uint64_t)(c & 0x7f) << (7 * s->vbytes);
		s->vbytes++;
		if (c & 0x80) {
			if (s->vbytes >= rs_maxb[s->st])
				return -MYCO_ELOG_INVALID_RECORD;
			continue;
		}
		uint64_t u = s->vacc;
		s->vacc = 0;
		s->vbytes = 0;
		if ((r = rs_value(s, u)) != 0)
			return r;
	}
	return 0;
}

/* mls__out_fn for compressed batches: after a framing error the rest of
 * the stream is still decompressed (bounded by the cap, as for any batch)
 * so that a damaged stream is reported as corrupt, not as bad records. */
static int rs_feed_z(void *arg, const uint8_t *p, size_t n)
{
	rs *s = arg;
	if (s->err)
		return 0;
	int r = rs_feed(s, p, n);
	if (r < 0) {
		s->err = r;
		r = 0;
	}
	return r;
}

static void rs_init(rs *s, const mls_batch_header *b, record_fn fn, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->b = b;
	s->fn = fn;
	s->arg = arg;
	s->st = RS_LEN;
}

/* All bytes seen: between records, and as many as the header says. */
static int rs_finish(const rs *s)
{
	if (s->st != RS_LEN || s->vbytes || s->idx != s->b->count)
		return -MYCO_ELOG_INVALID_RECORD;
	return 0;
}

/* Visit every record of a compressed batch (same contract as records_each,
 * but errors are -MYCO_ELOG_CORRUPT for a bad stream (that wins over bad
 * records), -MYCO_ELOG_INVALID_RECORD for bad records in a good stream,
 * -ENOMEM, -EOPNOTSUPP when the codec is not built in). */
static int records_each_z(const uint8_t *p, size_t len, const mls_batch_header *b,
                          record_fn fn, void *arg)
{
	rs s;
	rs_init(&s, b, fn, arg);
	int rc = myco__decompress(b->attributes & MLS_ATTR_COMPRESSION,
	                          p + MLS_BATCH_HDR, len - MLS_BATCH_HDR,
	                          rs_feed_z, &s);
	if (rc == 0)
		rc = s.err ? s.err : rs_finish(&s);
	return rc;
}

int myco__batch_records_pieces(const uint8_t *p, size_t len, size_t piece)
{
	mls_batch_header b;
	rs s;
	int rc;

	if (myco__batch_header(p, len, &b) < 0 || piece == 0)
		return -MYCO_ELOG_INVALID_RECORD;
	rs_init(&s, &b, NULL, NULL);
	for (size_t i = MLS_BATCH_HDR; i < len; i += piece) {
		size_t k = len - i < piece ? len - i : piece;
		if ((rc = rs_feed(&s, p + i, k)) != 0)
			return rc;
	}
	return rs_finish(&s);
}

int myco__batch_check(const uint8_t *p, size_t len, mls_batch_header *b)
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
	} else {
		/* a codec this build cannot open is stored as sent (snappy) */
		int zr = records_each_z(p, len, b, NULL, NULL);
		if (zr < 0 && zr != -EOPNOTSUPP)
			return zr;
	}
	return 0;
}

int myco__batch_accept(const uint8_t *p, size_t len, mls_batch_header *b)
{
	int rc = myco__batch_check(p, len, b);
	if (rc == 0 && (b->attributes & MLS_ATTR_CONTROL))
		rc = -MYCO_ELOG_INVALID_RECORD;
	return rc;
}

int mls_batch_validate(const void *batch, size_t len)
{
	mls_batch_header b;
	return myco__batch_accept(batch, len, &b);
}

long mls_batch_size(const void *batch, size_t avail)
{
	const uint8_t *p = batch;
	uint32_t blen;

	if (avail < MLS_LOG_OVERHEAD)
		return -MYCO_ELOG_CORRUPT;
	blen = mls__be32(p + MLS_OFF_LENGTH);
	if (blen > INT32_MAX || blen < MLS_BATCH_HDR - MLS_LOG_OVERHEAD)
		return -MYCO_ELOG_CORRUPT;
	return (long)blen + MLS_LOG_OVERHEAD;
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
	mls_batch_header b;
	struct find_ts f = { ts, -1, -1 };

	if (myco__batch_header(p, len, &b) < 0)
		return -1;
	*found_ts = b.max_ts;
	if (b.attributes & MLS_ATTR_LOG_APPEND_TIME)
		return b.max_ts >= ts ? 0 : -1;
	if ((b.attributes & MLS_ATTR_COMPRESSION) != 0) {
		if ((size_t)b.length + MLS_LOG_OVERHEAD != len ||
		    len <= MLS_BATCH_HDR ||
		    records_each_z(p, len, &b, find_ts_cb, &f) < 0)
			return b.max_ts >= ts ? 0 : -1;
	} else if (records_each(p, len, &b, find_ts_cb, &f) < 0 && f.found < 0) {
		return b.max_ts >= ts ? 0 : -1;
	}
	if (f.found >= 0)
		*found_ts = f.found_ts;
	return f.found;
}

int mls_batch_peek(const void *p, size_t avail, mls_batch_header *out)
{
	return myco__batch_header(p, avail, out);
}
