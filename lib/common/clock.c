/*
 * clock.c: myco_now(), the project's one monotonic clock (myco/common.h).
 * Not for: wall-clock time (event logs stamp CLOCK_REALTIME themselves).
 */
#include <stdint.h>
#include <time.h>

#include "myco/common.h"

uint64_t myco_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
