/*
 * clock.c: myco_now(), the project's one monotonic clock, and
 * myco_random() (myco/common.h); myco__now_raw(), the same clock without
 * the chaos toolkit's skew and never recorded, for libmyco's own use.
 * In a partition whose experiment skews its clock (docs/chaos.md),
 * libmyco points myco__clock_skew at the skew word of its control region
 * (lib/part/part_abi.h); everywhere else it points at a constant zero.
 * When a partition is recorded or replayed (docs/replay.md) both public
 * functions pass their value through lib/replay's hooks (one predictable
 * branch otherwise).
 * Not for: wall-clock time (event logs stamp CLOCK_REALTIME themselves).
 */
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

#include "myco/common.h"
#include "myco_int.h"

static const int64_t no_skew;
const int64_t *myco__clock_skew = &no_skew;
uint64_t (*myco__clock_hook)(uint64_t raw);
uint64_t (*myco__random_hook)(uint64_t raw);

uint64_t myco__now_raw(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t myco__now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t myco__now_unrec(void)
{
	return myco__now_raw() +
	       (uint64_t)__atomic_load_n(myco__clock_skew, __ATOMIC_RELAXED);
}

uint64_t myco_now(void)
{
	uint64_t t = myco__now_raw() +
		     (uint64_t)__atomic_load_n(myco__clock_skew, __ATOMIC_RELAXED);

	if (__builtin_expect(myco__clock_hook != NULL, 0))
		return myco__clock_hook(t);
	return t;
}

/* splitmix64: one add and a few multiplies per draw; seeded per thread. */
uint64_t myco_random(void)
{
	static _Thread_local uint64_t state;
	uint64_t z;

	if (__builtin_expect(state == 0, 0)) {
		if (getrandom(&state, sizeof state, 0) != (ssize_t)sizeof state)
			state = myco__now_raw() ^ (uint64_t)(uintptr_t)&state;
		state |= 1;
	}
	z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	if (__builtin_expect(myco__random_hook != NULL, 0))
		return myco__random_hook(z);
	return z;
}
