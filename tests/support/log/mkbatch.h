/*
 * mkbatch.h: builds Kafka RecordBatch v2 byte strings for the log store's
 * tests (unit, integration, fuzz seeds) and myco-logstore-bench: uncompressed records with null
 * keys and a value of a chosen size and fill byte.  Test and benchmark
 * code only (tests/support/: helpers shared by tests and benchmarks).
 */
#ifndef MYCO_TEST_LOGSTORE_MKBATCH_H
#define MYCO_TEST_LOGSTORE_MKBATCH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static inline size_t tb_varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;
	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

static inline void tb_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

typedef struct tb_opts {
	int nrec;            /* records, >= 1 */
	int64_t base_ts;     /* record i has timestamp base_ts + i */
	int64_t pid;         /* -1 = not idempotent */
	int16_t epoch;
	int32_t seq;
	size_t value_len;
	uint8_t fill;
	int16_t attributes;
} tb_opts;

static inline tb_opts tb_default(void)
{
	tb_opts o = { 1, 1000, -1, -1, -1, 16, 'a', 0 };
	return o;
}

/* Size a batch built with o needs (upper bound). */
static inline size_t tb_size(const tb_opts *o)
{
	return 61 + (size_t)o->nrec * (o->value_len + 32);
}

/* Build into buf (tb_size bytes); returns the exact length. */
static inline size_t tb_build(uint8_t *buf, const tb_opts *o)
{
	size_t pos = 61;
	for (int i = 0; i < o->nrec; i++) {
		uint8_t body[64];
		size_t b = 0;
		body[b++] = 0;                           /* attributes */
		b += tb_varint(body + b, i);             /* timestamp delta */
		b += tb_varint(body + b, i);             /* offset delta */
		b += tb_varint(body + b, -1);            /* null key */
		b += tb_varint(body + b, (int64_t)o->value_len);
		size_t rlen = b + o->value_len + 1;      /* + headers count */
		pos += tb_varint(buf + pos, (int64_t)rlen);
		memcpy(buf + pos, body, b);
		pos += b;
		memset(buf + pos, o->fill, o->value_len);
		if (o->value_len >= 4) {                 /* record index inside */
			buf[pos] = (uint8_t)(i >> 8);
			buf[pos + 1] = (uint8_t)i;
		}
		pos += o->value_len;
		pos += tb_varint(buf + pos, 0);          /* no headers */
	}
	tb_be(buf, 0, 8);
	tb_be(buf + 8, pos - 12, 4);
	tb_be(buf + 12, (uint64_t)-1, 4);
	buf[16] = 2;
	tb_be(buf + 21, (uint16_t)o->attributes, 2);
	tb_be(buf + 23, (uint64_t)(o->nrec - 1), 4);
	tb_be(buf + 27, (uint64_t)o->base_ts, 8);
	tb_be(buf + 35, (uint64_t)(o->base_ts + o->nrec - 1), 8);
	tb_be(buf + 43, (uint64_t)o->pid, 8);
	tb_be(buf + 51, (uint16_t)o->epoch, 2);
	tb_be(buf + 53, (uint64_t)o->seq, 4);
	tb_be(buf + 57, (uint64_t)o->nrec, 4);
	tb_be(buf + 17, mls_crc32c(0, buf + 21, pos - 21), 4);
	return pos;
}

static inline uint64_t tb_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif
