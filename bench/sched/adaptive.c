/*
 * adaptive.c (bench): placeholder replaced below.
 */
#include "bench.h"
int bench_adaptive(void) { return 0; }
