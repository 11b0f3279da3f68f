/*
 * fuzz_loans.c: libFuzzer harness for the core-loan arbiter's side of the
 * loan region (exec/loans.c over a myco_rt_loans_t, myco/rt.h): the region
 * is shared memory the partition writes, so the arbiter must survive any
 * content.  Input: the region image (its first sizeof(myco_rt_loans_t)
 * bytes; a shorter input is zero-padded), then a script of 11-byte steps
 * {core index, field, value (8 bytes, little-endian), time step}: each
 * overwrites one loop-written field of one core entry (index and field
 * taken modulo their ranges) as a hostile partition would, then runs one
 * decision round.  A region myco_rt_loans_check() refuses is done with;
 * an accepted one is added to an arbiter with a pool from the header's
 * padding, and after every round: lent <= pool, and no `grant` word at or
 * beyond the region's declared maximum (nor of another entry than the
 * arbiter's own lent range) was ever changed.  Also driven, over its
 * corpus, by the unit test tests/unit/exec/test_loans.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static myco_rt_loans_t r;
	static myco__loans_t a;
	static uint32_t before[MYCO_RT_LOANS_MAX];
	size_t n = size < sizeof(r) ? size : sizeof(r);

	memset(&r, 0, sizeof(r));
	memcpy(&r, data, n);
	if (myco_rt_loans_check(&r, sizeof(r)) < 0)
		return 0;
	unsigned lo = r.min_active, hi = r.max_active;
	myco__loans_init(&a, NULL, r.pad[0] % 8u);
	if (myco__loans_add(&a, "fuzz", &r, sizeof(r)) != 0)
		abort();        /* a region that passed the check is taken */
	if (a.parts[0].min != lo || a.parts[0].max != hi || a.lent > a.pool)
		abort();
	for (unsigned i = 0; i < MYCO_RT_LOANS_MAX; i++)
		before[i] = r.core[i].grant;
	const uint8_t *p = data + n;
	size_t left = size - n;
	uint64_t now = 1000000;
	for (unsigned round = 0; round < 256; round++) {
		if (left >= 11) {
			myco_rt_core_sig_t *c = &r.core[p[0] % MYCO_RT_LOANS_MAX];
			uint64_t v = le64(p + 2);
			switch (p[1] % 10) {
			case 0: c->state = (uint32_t)v; break;
			case 1: c->cpu = (int32_t)v; break;
			case 2: c->seen_seq = v; break;
			case 3: c->qdelay_ns = v; break;
			case 4: c->oldest_ns = v; break;
			case 5: c->queued = v; break;
			case 6: c->busy_ns = v; break;
			case 7: c->updated_ns = v; break;
			case 8: c->grants = v; break;
			default: c->migrated = v; break;
			}
			now += (uint64_t)p[10] * 100000;   /* up to 25.5 ms a round */
			p += 11;
			left -= 11;
		} else if (round >= 8) {
			break;
		} else {
			now += 6000000;                     /* past the hold time */
		}
		int ch = myco__loans_step(&a, now);
		if (ch < 0 || a.lent > a.pool)
			abort();
		for (unsigned i = 0; i < MYCO_RT_LOANS_MAX; i++)
			if ((i < lo || i >= hi) && r.core[i].grant != before[i])
				abort();        /* only lendable cores change */
	}
	return 0;
}
