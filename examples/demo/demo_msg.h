/*
 * demo_msg.h: the one message type of the demo system (`Num` in
 * system.myco: seq u64, value u64, little-endian, 16 bytes) and small
 * helpers shared by the demo's partition programs.
 */
#ifndef MYCO_DEMO_MSG_H
#define MYCO_DEMO_MSG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "myco/common.h"

struct demo_num {
	uint64_t seq;       /* 1, 2, 3 ... numbered by the producer */
	uint64_t value;
};
_Static_assert(sizeof(struct demo_num) == 16, "Num layout");

static inline uint64_t demo_env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 10) : dflt;
}

static inline void demo_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	nanosleep(&ts, NULL);
}

#endif
