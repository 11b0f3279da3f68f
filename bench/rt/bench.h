/*
 * bench.h: what the parts of myco-bench-rt share: options, sample sets
 * with percentiles, and the two output forms (table on stdout, or one JSON
 * object per figure with --json, as docs/benchmarks.md (Method) describes).
 * Not for: measuring anything (switch.c, jitter.c, tcp.c do that).
 */
#ifndef MYCO_BENCH_RT_H
#define MYCO_BENCH_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

typedef struct {
	bool json;
	bool quick;
	bool no_cyclictest;
	int cpu_a, cpu_b;     /* server / measured CPU and client CPU */
	const char *tcp_system; /* --system: run only this TCP server (profiling) */
	double tcp_rate;      /* --rate: fixed offered rate (req/s), 0 = half
	                         the slowest median maximum */
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
uint64_t samples_max(samples_t *s);

/* Emit one figure.  extra is a JSON fragment (",\"k\":v ...") or "". */
void emit(const char *bench, const char *system, const char *metric,
	  double value, const char *unit, const char *extra);
/* Table helpers (no-ops with --json). */
void table_title(const char *title);
void table_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void pin_cpu(int cpu);
double median_d(double *v, size_t n);

int bench_switch(void);
int bench_jitter(void);
int bench_misses(void);
int bench_frames(void);
int bench_tcp(void);

#endif
