/*
 * lttng_tp.h: the LTTng-UST tracepoint provider myco-bench-trace compares
 * against: one event with the same payload as a Myco trace event (three
 * 64-bit integers), and a second one that stays disabled.
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER myco_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./lttng_tp.h"

#if !defined(MYCO_BENCH_LTTNG_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MYCO_BENCH_LTTNG_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(myco_bench, ev,
	LTTNG_UST_TP_ARGS(uint64_t, a0, uint64_t, a1, uint64_t, a2),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, a0, a0)
		lttng_ust_field_integer(uint64_t, a1, a1)
		lttng_ust_field_integer(uint64_t, a2, a2)))

LTTNG_UST_TRACEPOINT_EVENT(myco_bench, off,
	LTTNG_UST_TP_ARGS(uint64_t, a0, uint64_t, a1, uint64_t, a2),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(uint64_t, a0, a0)
		lttng_ust_field_integer(uint64_t, a1, a1)
		lttng_ust_field_integer(uint64_t, a2, a2)))

#endif

#include <lttng/tracepoint-event.h>
