/*
 * market.c (bench): placeholder replaced below.
 */
#include "bench.h"
int bench_market(void) { return 0; }
