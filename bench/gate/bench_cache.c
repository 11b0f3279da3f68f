/*
 * bench_cache.c: myco-bench-gate-cache: the response cache's two eviction
 * policies (hyperbolic and LRU, svc/gate/cache.c) on the same skewed
 * trace: keys drawn from a Zipf distribution (alpha given), each object of
 * a size drawn once per key (1..8 KiB), cache capacities of 1%, 5% and 10%
 * of the key space's bytes; a miss inserts.  Prints the hit ratio of each
 * policy per capacity (one JSON object per line with --json).
 * usage: myco-bench-gate-cache [--json] [--quick]
 */
#include "gate_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static uint64_t xr(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	bool json = false, quick = false;
	const size_t nkeys = 100000;
	size_t nreq, i, k;
	double *cdf, sum = 0;
	uint32_t *trace, *size;
	uint64_t total_bytes = 0;
	const double alphas[] = { 0.8, 1.0 };
	const double fracs[] = { 0.01, 0.05, 0.10 };
	char val[8192];

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	}
	nreq = quick ? 500000 : 2000000;
	cdf = malloc(nkeys * sizeof(*cdf));
	trace = malloc(nreq * sizeof(*trace));
	size = malloc(nkeys * sizeof(*size));
	if (!cdf || !trace || !size)
		return 1;
	memset(val, 'x', sizeof(val));
	for (k = 0; k < nkeys; k++) {
		size[k] = 1024 + (uint32_t)(xr() % 7169);
		total_bytes += size[k] + 80 + 8;
	}
	if (!json)
		printf("cache: Zipf trace, %zu keys, %zu requests, objects 1-8 KiB, "
		       "hyperbolic sample 64\n", nkeys, nreq);
	for (size_t a = 0; a < 2; a++) {
		sum = 0;
		for (k = 0; k < nkeys; k++)
			sum += 1.0 / pow((double)(k + 1), alphas[a]);
		{
			double acc = 0;
			for (k = 0; k < nkeys; k++) {
				acc += 1.0 / pow((double)(k + 1), alphas[a]) / sum;
				cdf[k] = acc;
			}
		}
		for (i = 0; i < nreq; i++) {
			double u = (double)(xr() >> 11) / 9007199254740992.0;
			size_t lo = 0, hi = nkeys - 1;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			/* scatter popularity over key ids */
			trace[i] = (uint32_t)((lo * 2654435761u) % nkeys);
		}
		for (size_t f = 0; f < 3; f++) {
			double ratio[2];
			for (int pol = 0; pol < 2; pol++) {
				myco__cache_t *c;
				uint64_t hits, misses;
				size_t cap = (size_t)((double)total_bytes * fracs[f]);
				if (myco__cache_create(&c, cap, pol == 0 ? MYCO__CACHE_HYPERBOLIC
									 : MYCO__CACHE_LRU, 64) < 0)
					return 1;
				/* from 16 MiB on the cache has 16 shards, for both
				 * policies alike */
				for (i = 0; i < nreq; i++) {
					char key[16];
					int kl = snprintf(key, sizeof(key), "k%u", trace[i]);
					if (myco__cache_get(c, key, (size_t)kl, NULL, NULL, i + 1) < 0)
						myco__cache_put(c, key, (size_t)kl, val, size[trace[i]], i + 1,
								UINT64_MAX / 4);
				}
				myco__cache_stats(c, &hits, &misses, NULL, NULL, NULL);
				ratio[pol] = (double)hits / (double)(hits + misses);
				myco__cache_destroy(c);
			}
			if (json) {
				for (int pol = 0; pol < 2; pol++)
					printf("{\"bench\":\"gate.cache.zipf\",\"system\":\"%s\",\"metric\":"
					       "\"hit_ratio\",\"value\":%.4f,\"unit\":\"ratio\",\"alpha\":%.1f,"
					       "\"capacity\":%.2f,\"requests\":%zu}\n",
					       pol == 0 ? "myco-hyperbolic" : "myco-lru", ratio[pol], alphas[a],
					       fracs[f], nreq);
			} else {
				printf("  alpha %.1f capacity %4.0f%%: hyperbolic %.4f  lru %.4f  (%+.2f points)\n",
				       alphas[a], fracs[f] * 100, ratio[0], ratio[1],
				       (ratio[0] - ratio[1]) * 100);
			}
		}
	}
	free(cdf);
	free(trace);
	free(size);
	return 0;
}
