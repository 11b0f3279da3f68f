/*
 * itest.h: small helpers for the log store's integration tests: CHECK
 * that prints where it failed and exits, temporary directories, and
 * reading a partition back batch by batch.  Test code only.
 */
#ifndef MYCO_ITEST_LOGSTORE_H
#define MYCO_ITEST_LOGSTORE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "../../support/log/mkbatch.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", \
	__FILE__, __LINE__, #c); exit(1); } } while (0)
#define CHECK_RC(e, want) do { int rc_ = (e); if (rc_ != (want)) { \
	fprintf(stderr, "%s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, \
	#e, rc_, myco_strerror(rc_), (want)); exit(1); } } while (0)

static int it_rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}

static inline void it_rmtree(const char *d)
{
	nftw(d, it_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Visit every stored batch from offset 0 (or log start): checks each is
 * valid and offsets are contiguous; fn(arg, base, bytes, len) per batch.
 * Returns the next offset after the last batch. */
typedef void (*it_batch_fn)(void *arg, int64_t base, const uint8_t *b, size_t len);

static inline int64_t it_walk(mls_partition_t *p, it_batch_fn fn, void *arg)
{
	size_t cap = 4 << 20, len;
	uint8_t *buf = malloc(cap);
	mls_offsets o;
	CHECK(buf);
	mls_partition_offsets(p, &o);
	int64_t from = o.log_start, next = -1, hw;
	for (;;) {
		CHECK_RC(mls_read_copy(p, from, cap, buf, cap, &len, &hw), 0);
		if (len == 0)
			break;
		for (size_t pos = 0; pos < len;) {
			uint32_t bl = (uint32_t)tb_get(buf + pos + 8, 4);
			int64_t base = (int64_t)tb_get(buf + pos, 8);
			CHECK(pos + bl + 12 <= len);
			CHECK_RC(mls_batch_validate(buf + pos, bl + 12), 0);
			if (next >= 0)
				CHECK(base == next);
			if (fn)
				fn(arg, base, buf + pos, bl + 12);
			next = base + (int64_t)tb_get(buf + pos + 57, 4);
			pos += bl + 12;
		}
		from = next;
	}
	CHECK(from == hw);
	free(buf);
	return from;
}

#endif
