/*
 * fuzz_bids.c: libFuzzer harness for the MYCO_BIDS parser of the market
 * policy (lib/rt/market.c, myco__market_parse_bids).  Any input: it
 * returns 0 or -EINVAL, never reads outside the input, and what it
 * accepts is valid (at most 16 classes, names 1..31 of [A-Za-z0-9_.-] and
 * unique, bid and income 1..1e9) and survives a round trip: printed back
 * in the same grammar and parsed again, it gives the same classes.
 * Not for: the auction (tests/unit/rt/test_market.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco__bid_parsed_t b[MYCO__MKT_CLASSES], c[MYCO__MKT_CLASSES];
	unsigned n = 0, m = 0;
	/* a copy of exactly size bytes: ASan sees any read past the end */
	char *in = malloc(size ? size : 1);
	if (!in)
		return 0;
	memcpy(in, data, size);
	int rc = myco__market_parse_bids(in, size, b, &n);
	free(in);
	check(rc == 0 || rc == -EINVAL);
	if (rc < 0)
		return 0;
	check(n <= MYCO__MKT_CLASSES);
	char out[MYCO__MKT_CLASSES * 96 + 1];
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t k = strlen(b[i].name);
		check(k >= 1 && k <= 31);
		check(b[i].bid >= 1 && b[i].bid <= 1000000000);
		check(b[i].income >= 1 && b[i].income <= 1000000000);
		for (unsigned j = 0; j < i; j++)
			check(strcmp(b[i].name, b[j].name) != 0);
		off += (size_t)snprintf(out + off, sizeof out - off, "%s%s:%llu:%llu:%llu",
					i ? "," : "", b[i].name,
					(unsigned long long)b[i].bid,
					(unsigned long long)b[i].income,
					(unsigned long long)b[i].deadline_ns);
	}
	check(myco__market_parse_bids(out, off, c, &m) == 0 && m == n);
	for (unsigned i = 0; i < n; i++)
		check(!strcmp(b[i].name, c[i].name) && b[i].bid == c[i].bid &&
		      b[i].income == c[i].income && b[i].deadline_ns == c[i].deadline_ns);
	return 0;
}
