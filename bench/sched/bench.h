/*
 * bench.h: what the parts of myco-bench-sched share: options, sample sets
 * with percentiles, spinning for a given CPU time, the two output forms
 * (a table on stdout, or one JSON object per figure with --json).
 * Not for: measuring (loans.c, adaptive.c, market.c do that).
 */
#ifndef MYCO_BENCH_SCHED_H
#define MYCO_BENCH_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

typedef struct {
	bool json;
	bool quick;
} bopts_t;

extern bopts_t g_opt;

typedef struct {
	uint64_t *v;
	size_t n, cap;
} samples_t;

int samples_add(samples_t *s, uint64_t v);
void samples_free(samples_t *s);
/* Sorts in place; q in [0, 1]. */
uint64_t samples_pct(samples_t *s, double q);

/* Busy-wait until ns of monotonic time have passed. */
void spin_ns(uint64_t ns);

/* Emit one figure (JSON mode).  extra is ",\"k\":v..." or "". */
void emit(const char *bench, const char *system, const char *metric,
	  double value, const char *unit, const char *extra);
void table_title(const char *title);
void table_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int bench_loans(void);
int bench_adaptive(void);
int bench_market(void);

#endif
