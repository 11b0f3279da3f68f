/*
 * main.c: myco-bench-sched: the adaptive scheduling comparisons in one
 * run, each against its baselines in the same process and run, rounds
 * alternated (A B A B) so a loaded machine hurts every side alike:
 *   loans     core-loan grant latency (decision -> loop running, and work
 *             arrival -> borrowed loop running), bursty load on an elastic
 *             group 1..2 against static 1 and static 2 cores
 *   adaptive  ant-colony placement against round robin and work stealing
 *             under a hotspot that moves between task classes
 *   market    the per-period auction against EDF and fair share under
 *             contention
 *   myco-bench-sched [--json] [--quick] [--only loans|adaptive|market]
 * Not a test: figures go to docs/benchmarks.md by hand, with the load.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

bopts_t g_opt;

int samples_add(samples_t *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? s->cap * 2 : 4096;
		uint64_t *n = realloc(s->v, c * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->v = n;
		s->cap = c;
	}
	s->v[s->n++] = v;
	return 0;
}

void samples_free(samples_t *s)
{
	free(s->v);
	*s = (samples_t){0};
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t samples_pct(samples_t *s, double q)
{
	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

void spin_ns(uint64_t ns)
{
	uint64_t end = myco_now() + ns;
	while (myco_now() < end)
		;
}

void emit(const char *bench, const char *system, const char *metric,
	  double value, const char *unit, const char *extra)
{
	if (!g_opt.json)
		return;
	printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\","
	       "\"value\":%.2f,\"unit\":\"%s\"%s}\n",
	       bench, system, metric, value, unit, extra ? extra : "");
	fflush(stdout);
}

void table_title(const char *title)
{
	if (!g_opt.json)
		printf("\n### %s\n\n", title);
}

void table_line(const char *fmt, ...)
{
	if (g_opt.json)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void print_setup(void)
{
	struct utsname u;
	uname(&u);
	double la[3] = { 0 };
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
			la[0] = la[1] = la[2] = 0;
		fclose(f);
	}
	char extra[512];
	snprintf(extra, sizeof extra,
		 ",\"cpus\":%ld,\"kernel\":\"%s\",\"load1\":%.2f,\"quick\":%s",
		 sysconf(_SC_NPROCESSORS_ONLN), u.release, la[0],
		 g_opt.quick ? "true" : "false");
	emit("sched.setup", "machine", "info", 0, "", extra);
	table_line("# myco-bench-sched\n\n");
	table_line("%ld CPUs online, kernel %s, load average %.2f %.2f %.2f "
		   "at start%s.\nShared noisy VM: read the ratios between "
		   "columns of one run.\n", sysconf(_SC_NPROCESSORS_ONLN),
		   u.release, la[0], la[1], la[2],
		   g_opt.quick ? ", --quick" : "");
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			g_opt.json = true;
		else if (!strcmp(argv[i], "--quick"))
			g_opt.quick = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--json] [--quick] "
				"[--only loans|adaptive|market]\n", argv[0]);
			return 2;
		}
	}
	print_setup();
	int rc = 0;
	if (!only || !strcmp(only, "loans"))
		rc |= bench_loans();
	if (!only || !strcmp(only, "adaptive"))
		rc |= bench_adaptive();
	if (!only || !strcmp(only, "market"))
		rc |= bench_market();
	return rc ? 1 : 0;
}
