/*
 * clock.c: myco_now(), the project's one monotonic clock (myco/common.h),
 * and myco__now_raw(), the same clock without the chaos toolkit's skew.
 * In a partition whose experiment skews its clock (docs/chaos.md),
 * libmyco points myco__clock_skew at the skew word of its control region
 * (lib/part/part_abi.h); everywhere else it points at a constant zero, so
 * myco_now() costs one load more than clock_gettime.
 * Not for: wall-clock time (event logs stamp CLOCK_REALTIME themselves).
 */
#include <stdint.h>
#include <time.h>

#include "myco/common.h"
#include "myco_int.h"

static const int64_t no_skew;
const int64_t *myco__clock_skew = &no_skew;

uint64_t myco__now_raw(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t myco_now(void)
{
	return myco__now_raw() +
	       (uint64_t)__atomic_load_n(myco__clock_skew, __ATOMIC_RELAXED);
}
