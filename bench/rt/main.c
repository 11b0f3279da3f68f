/*
 * main.c: myco-bench-rt: runs the runtime benchmarks in one go (coroutine
 * switch cost, 1 kHz wake-up jitter under a CPU hog, TCP request/response
 * on loopback) and prints the setup (CPU, kernel, baseline versions) first.
 *   myco-bench-rt [--json] [--quick] [--no-cyclictest] [--only NAME]
 *                 [--system myco|epoll|libuv]   (TCP: one server only, for
 *                                                profiling with perf/strace)
 *                 [--rate REQ_PER_S]            (TCP: fixed offered rate)
 * NAME: switch, jitter, misses (deadline misses at 50/80/100 % load, with
 * and without a shielded CPU), tcp.  Must run as root for SCHED_DEADLINE and
 * SCHED_FIFO; without, those rows are reported as skipped.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"
#include "myco/common.h"

bopts_t g_opt = { .cpu_a = 0, .cpu_b = 1 };


void pin_cpu(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

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

uint64_t samples_max(samples_t *s)
{
	uint64_t m = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double median_d(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void emit(const char *bench, const char *system, const char *metric,
	  double value, const char *unit, const char *extra)
{
	if (!g_opt.json)
		return;
	printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\","
	       "\"value\":%.1f,\"unit\":\"%s\"%s}\n",
	       bench, system, metric, value, unit, extra ? extra : "");
	fflush(stdout);
}

void table_title(const char *title)
{
	if (g_opt.json)
		return;
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
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "model name", 10)) {
				char *p = strchr(line, ':');
				if (p) {
					snprintf(model, sizeof(model), "%s", p + 2);
					model[strcspn(model, "\n")] = 0;
				}
				break;
			}
		}
		fclose(f);
	}
	struct utsname u;
	uname(&u);
	char ct[128] = "not found";
	FILE *p = popen("cyclictest --help 2>&1 | head -1", "r");
	if (p) {
		if (fgets(ct, sizeof(ct), p))
			ct[strcspn(ct, "\n")] = 0;
		pclose(p);
	}
	char extra[1024];
	snprintf(extra, sizeof(extra),
		 ",\"cpu\":\"%s\",\"cpus\":%ld,\"kernel\":\"%s\",\"myco\":\"%s\","
		 "\"libuv\":\"%s\",\"liburing\":\"2.3 (Debian 12)\","
		 "\"cyclictest\":\"%s\",\"quick\":%s",
		 model, sysconf(_SC_NPROCESSORS_ONLN), u.release, myco_version(),
		 uv_version_string(), ct, g_opt.quick ? "true" : "false");
	emit("rt.setup", "machine", "info", 0, "", extra);
	table_line("# myco-bench-rt\n\n");
	table_line("CPU: %s (%ld online), kernel %s, euid %d\n", model,
		   sysconf(_SC_NPROCESSORS_ONLN), u.release, (int)geteuid());
	table_line("myco %s, liburing 2.3, libuv %s, %s\n", myco_version(),
		   uv_version_string(), ct);
	table_line("Pinning: measured/server thread on CPU %d, client/hog "
		   "placement per section.  Shared noisy VM: read ratios.\n",
		   g_opt.cpu_a);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			g_opt.json = true;
		else if (!strcmp(argv[i], "--quick"))
			g_opt.quick = true;
		else if (!strcmp(argv[i], "--no-cyclictest"))
			g_opt.no_cyclictest = true;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--system") && i + 1 < argc)
			g_opt.tcp_system = argv[++i];
		else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
			g_opt.tcp_rate = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--json] [--quick] "
				"[--no-cyclictest] [--only switch|jitter|misses|frames|tcp] "
				"[--system myco|epoll|libuv] [--rate REQ_PER_S]\n",
				argv[0]);
			return 2;
		}
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2)
		g_opt.cpu_b = 0;
	print_setup();
	int rc = 0;
	if (!only || !strcmp(only, "switch"))
		rc |= bench_switch();
	if (!only || !strcmp(only, "jitter"))
		rc |= bench_jitter();
	if (!only || !strcmp(only, "misses"))
		rc |= bench_misses();
	if (!only || !strcmp(only, "frames"))
		rc |= bench_frames();
	if (!only || !strcmp(only, "tcp"))
		rc |= bench_tcp();
	return rc ? 1 : 0;
}
