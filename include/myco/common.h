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

/* Log store (svc/log/store), reserved 10520-10539. */
enum {
	MYCO_ELOG_CORRUPT = MYCO_ERR_BASE + 520,      /* batch CRC/length/magic bad */
	MYCO_ELOG_INVALID_RECORD = MYCO_ERR_BASE + 521, /* record framing/count bad */
	MYCO_ELOG_TOO_LARGE = MYCO_ERR_BASE + 522,    /* batch over max.message.bytes */
	MYCO_ELOG_OUT_OF_ORDER = MYCO_ERR_BASE + 523, /* producer sequence gap */
	MYCO_ELOG_FENCED = MYCO_ERR_BASE + 524,       /* stale producer epoch */
	MYCO_ELOG_OFFSET_RANGE = MYCO_ERR_BASE + 525, /* offset outside the log */
	MYCO_ELOG_NO_TOPIC = MYCO_ERR_BASE + 526,     /* unknown topic/partition */
	MYCO_ELOG_TOPIC_EXISTS = MYCO_ERR_BASE + 527, /* topic already exists */
	MYCO_ELOG_BAD_TOPIC = MYCO_ERR_BASE + 528,    /* invalid topic name */
};

/* Describe a negative errno or a negated MYCO_E* code.  Returns a static
 * string, never NULL. */
const char *myco_strerror(int err);

/* Library version as "MAJOR.MINOR.PATCH"; static string. */
const char *myco_version(void);

/* The project's one clock: CLOCK_MONOTONIC in nanoseconds (the same clock
 * in every process and pid namespace of the machine).  Any thread. */
uint64_t myco_now(void);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_COMMON_H */
