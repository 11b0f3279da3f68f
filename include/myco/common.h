/*
 * myco/common.h: what every Myco library shares: error codes, version and
 * the monotonic clock.
 *
 * Convention: functions return 0 (or a count) on success and a negative errno
 * on failure.  Project-specific conditions use codes in the reserved range
 * below (-MYCO_ERR_BASE and beyond), which myco_strerror() also describes.
 * Not for: logging, allocation or anything with state.
 */
#ifndef MYCO_COMMON_H
#define MYCO_COMMON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYCO_VERSION_MAJOR 0
#define MYCO_VERSION_MINOR 1
#define MYCO_VERSION_PATCH 0

/* Project error codes, returned negated like errno values.  Ranges:
 *   10000-10099 common, 10100 lang, 10200 chan, 10300 exec, 10400 rt,
 *   10500 services.  Prefer a standard errno when one fits. */
#define MYCO_ERR_BASE 10000
enum {
	MYCO_EBROKEN  = MYCO_ERR_BASE + 1,   /* peer corrupted a shared region */
	MYCO_ESYNTAX  = MYCO_ERR_BASE + 2,   /* input failed to parse/check */
	MYCO_ENOTGRANTED = MYCO_ERR_BASE + 3,/* capability not granted to us */
	MYCO_EVERSION = MYCO_ERR_BASE + 4,   /* incompatible format version */
	/* rt (10400..10499) */
	MYCO_EADMISSION = MYCO_ERR_BASE + 401, /* edf admission test failed */
	MYCO_ESTOPPED = MYCO_ERR_BASE + 402,   /* loop or group stopped */
};

/* 10520-10539: the log store's codes, MYCO_ELOG_* in svc/log/store/store.h. */

/* Describe a negative errno or a negated MYCO_E* code.  Returns a static
 * string, never NULL. */
const char *myco_strerror(int err);

/* Library version as "MAJOR.MINOR.PATCH"; static string. */
const char *myco_version(void);

/* The project's one clock: CLOCK_MONOTONIC in nanoseconds (the same clock
 * in every process and pid namespace of the machine).  Any thread. */
uint64_t myco_now(void);

/* A 64-bit pseudo-random number (per-thread generator seeded from the
 * kernel; not for cryptography).  Any thread.  Drawn through libmyco so
 * that a recorded partition's draws are replayed (docs/replay.md), as
 * myco_now()'s readings are. */
uint64_t myco_random(void);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_COMMON_H */
