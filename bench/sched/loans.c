/*
 * loans.c (bench): core loans.
 *  1. Grant latency, decision -> loop running: a revoked loop of an
 *     elastic group is parked; myco_rt_loans_grant() stamps grant_ns, the
 *     loop stamps running_ns when it is back in its scheduler.
 *  2. Grant latency, work arrival -> borrowed loop running: the arbiter
 *     thread (exec/loans.c, 20 us period, 50 us delay threshold) sees the
 *     queue of loop 0 grow and grants loop 1.
 *  3. Bursty load (a burst of short CPU tasks every 10 ms, arriving on
 *     loop 0) on static 1 core, static 2 cores (steal policy) and elastic
 *     1..2 cores with the arbiter, rounds alternated: task latency p50/p99
 *     (arrival -> finished), CPU time of the loop threads, and cores held
 *     (what the partition keeps from others: 1 or 2 for the static ones,
 *     1 + the time-average of the lent core for the elastic one).
 * Not for: the decision rule itself (tests/unit/exec/test_loans.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "loans.h"
#include "myco/rt.h"

static myco_rt_loans_t reg;

static void nop(void *arg)
{
	(void)arg;
}

static uint32_t st_of(unsigned i)
{
	return __atomic_load_n(&reg.core[i].state, __ATOMIC_ACQUIRE);
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int cpus2[2] = { 0, 1 };

static int make_group(myco_group_t **g, unsigned n, bool elastic)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	myco_group_opts_t go = {
		.nloops = n, .cpus = ncpu >= 2 ? cpus2 : NULL,
		.no_pin = ncpu < 2, .loop.policy = MYCO_POLICY_STEAL,
	};
	if (elastic) {
		int rc = myco_rt_loans_init(&reg, n, 1, n);
		if (rc < 0)
			return rc;
		go.loans = &reg;
	}
	return myco_group_create(g, &go);
}

/* Make loop 1 revoked and parked (a post lets it notice the revoke). */
static void park_loop1(myco_group_t *g)
{
	myco_rt_loans_grant(&reg, 1, false);
	while (st_of(1) != MYCO_RT_CORE_PARKED) {
		myco_post(myco_group_loop(g, 1), nop, NULL);
		usleep(50);
	}
}

static void report(const char *name, const char *what, samples_t *s)
{
	uint64_t p50 = samples_pct(s, 0.5), p99 = samples_pct(s, 0.99),
		 mx = samples_pct(s, 1.0);
	table_line("| %-34s | %7zu | %8.1f | %8.1f | %8.1f |\n", what, s->n,
		   p50 / 1e3, p99 / 1e3, mx / 1e3);
	char extra[160];
	snprintf(extra, sizeof extra, ",\"n\":%zu,\"p99_us\":%.1f,\"max_us\":%.1f",
		 s->n, p99 / 1e3, mx / 1e3);
	emit("sched.loans", "myco", name, p50 / 1e3, "us_p50", extra);
}

/* ---- 1 + 2: grant latency ----------------------------------------------- */

static atomic_int burst_left;

static int burst_task(void *arg)
{
	(void)arg;
	spin_ns(100000);
	atomic_fetch_sub(&burst_left, 1);
	return 0;
}

static int burst(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++)
		myco_spawn(myco_loop_current(), NULL, burst_task, NULL, NULL);
	return 0;
}

static int grant_latency(void)
{
	myco_group_t *g;
	int rc = make_group(&g, 2, true);
	if (rc < 0)
		return rc;
	myco_group_start(g, NULL, NULL);
	unsigned n = g_opt.quick ? 200 : 1000;
	samples_t dec = {0}, arr = {0};
	for (unsigned k = 0; k < n; k++) {
		park_loop1(g);
		usleep(200 + (k * 37) % 500);
		uint64_t grants = ld(&reg.core[1].grants);
		myco_rt_loans_grant(&reg, 1, true);
		while (ld(&reg.core[1].grants) == grants)
			sched_yield();
		samples_add(&dec, ld(&reg.core[1].running_ns) -
				  ld(&reg.core[1].grant_ns));
	}
	/* with the arbiter deciding */
	myco__loans_t a;
	myco__loans_init(&a, &(myco__loans_cfg_t){ .hold_ns = 1000000 }, 1);
	myco__loans_add(&a, "bench", &reg, sizeof reg);
	park_loop1(g);
	a.lent = 0;
	myco__loans_start(&a);
	unsigned m = g_opt.quick ? 100 : 400;
	for (unsigned k = 0; k < m; k++) {
		/* wait until the arbiter took the core back and it parked */
		while (__atomic_load_n(&reg.core[1].grant, __ATOMIC_ACQUIRE))
			usleep(100);
		while (st_of(1) != MYCO_RT_CORE_PARKED) {
			myco_post(myco_group_loop(g, 1), nop, NULL);
			usleep(50);
		}
		usleep(200 + (k * 37) % 500);
		uint64_t grants = ld(&reg.core[1].grants);
		atomic_store(&burst_left, 16);
		uint64_t t0 = myco_now();
		myco_spawn_on(myco_group_loop(g, 0), burst, (void *)(intptr_t)16,
			      NULL);
		while (ld(&reg.core[1].grants) == grants &&
		       atomic_load(&burst_left) > 0)
			sched_yield();
		if (ld(&reg.core[1].grants) != grants)
			samples_add(&arr, ld(&reg.core[1].running_ns) - t0);
		while (atomic_load(&burst_left) > 0)
			usleep(100);
	}
	myco__loans_stop(&a);
	myco_group_stop(g);
	myco_group_join(g);
	myco_group_destroy(g);

	table_title("Core loans: grant latency (2 loops pinned to CPUs 0 and 1)");
	table_line("| %-34s | %7s | %8s | %8s | %8s |\n", "from -> to", "n",
		   "p50 us", "p99 us", "max us");
	table_line("|---|---:|---:|---:|---:|\n");
	report("grant_decision_to_running", "grant decision -> loop running", &dec);
	report("work_arrival_to_running",
	       "work arrival -> borrowed loop running", &arr);
	table_line("\nArrival -> running includes the arbiter noticing the "
		   "queue (%u of %u bursts got a grant before they finished; "
		   "arbiter period 20 us, delay threshold 50 us, longest "
		   "decision round %.1f us).\n", (unsigned)arr.n, m,
		   a.step_ns_max / 1e3);
	samples_free(&dec);
	samples_free(&arr);
	return 0;
}

/* ---- 3: bursty load ------------------------------------------------------ */

typedef struct {
	uint64_t arrive;
	uint64_t lat;
} job_t;

static job_t *jobs;
static atomic_uint jobs_done;
static clockid_t loop_clk[2];
static atomic_uint clk_ready;
static uint64_t task_ns = 40000;

static int job_run(void *arg)
{
	job_t *j = arg;
	spin_ns(task_ns);
	j->lat = myco_now() - j->arrive;
	atomic_fetch_add_explicit(&jobs_done, 1, memory_order_release);
	return 0;
}

static void init_clk(myco_loop_t *l, unsigned i, void *arg)
{
	(void)l;
	(void)arg;
	if (i < 2)
		pthread_getcpuclockid(pthread_self(), &loop_clk[i]);
	atomic_fetch_add(&clk_ready, 1);
}

static uint64_t clk_ns(clockid_t c)
{
	struct timespec ts;
	if (clock_gettime(c, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct {
	samples_t lat;
	double cpu_s, held_core_s, wall_s;
} run_t;

/* cfg: 1 = static 1 core, 2 = static 2 cores, 3 = elastic 1..2 */
static int bursty_round(int cfg, unsigned bursts, unsigned per, run_t *out)
{
	myco_group_t *g;
	unsigned n = cfg == 1 ? 1 : 2;
	int rc = make_group(&g, n, cfg == 3);
	if (rc < 0)
		return rc;
	memset(loop_clk, 0, sizeof loop_clk);
	atomic_store(&clk_ready, 0);
	myco_group_start(g, init_clk, NULL);
	while (atomic_load(&clk_ready) < n)
		usleep(1000);
	myco__loans_t a;
	if (cfg == 3) {
		myco__loans_init(&a, &(myco__loans_cfg_t){ .hold_ns = 2000000 }, 1);
		myco__loans_add(&a, "bench", &reg, sizeof reg);
		myco__loans_start(&a);
	}
	usleep(20000);
	size_t total = (size_t)bursts * per;
	jobs = calloc(total, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	atomic_store(&jobs_done, 0);
	uint64_t cpu0 = 0;
	for (unsigned i = 0; i < n; i++)
		cpu0 += clk_ns(loop_clk[i]);
	uint64_t t0 = myco_now(), held = 0, last = t0;
	unsigned held_now = n;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	myco_loop_t *l0 = myco_group_loop(g, 0);
	for (unsigned b = 0; b < bursts; b++) {
		for (unsigned k = 0; k < per; k++) {
			job_t *j = &jobs[(size_t)b * per + k];
			j->arrive = myco_now();
			myco_spawn_on(l0, job_run, j, NULL);
		}
		next.tv_nsec += 10000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		/* sample the cores held every 0.5 ms until the next burst */
		for (;;) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > next.tv_sec ||
			    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec))
				break;
			uint64_t t = myco_now();
			held += (uint64_t)held_now * (t - last);
			last = t;
			if (cfg == 3)
				held_now = myco_rt_loans_granted(&reg);
			struct timespec hs = { 0, 500000 };
			clock_nanosleep(CLOCK_MONOTONIC, 0, &hs, NULL);
		}
	}
	while (atomic_load_explicit(&jobs_done, memory_order_acquire) < total)
		usleep(1000);
	uint64_t t1 = myco_now();
	held += (uint64_t)held_now * (t1 - last);
	uint64_t cpu1 = 0;
	for (unsigned i = 0; i < n; i++)
		cpu1 += clk_ns(loop_clk[i]);
	if (cfg == 3)
		myco__loans_stop(&a);
	myco_group_stop(g);
	myco_group_join(g);
	myco_group_destroy(g);
	for (size_t i = 0; i < total; i++)
		samples_add(&out->lat, jobs[i].lat);
	free(jobs);
	out->cpu_s += (cpu1 - cpu0) / 1e9;
	out->held_core_s += held / 1e9;
	out->wall_s += (t1 - t0) / 1e9;
	return 0;
}

static int bursty(void)
{
	unsigned bursts = g_opt.quick ? 100 : 300, per = 48, rounds = 2;
	run_t r[3];
	memset(r, 0, sizeof r);
	for (unsigned k = 0; k < rounds; k++)
		for (int c = 1; c <= 3; c++) {
			int rc = bursty_round(c, bursts, per, &r[c - 1]);
			if (rc < 0) {
				fprintf(stderr, "bursty: %s\n", myco_strerror(rc));
				return rc;
			}
		}
	static const char *names[3] = { "static 1 core", "static 2 cores",
					"elastic 1..2 cores" };
	static const char *keys[3] = { "static1", "static2", "elastic" };
	table_title("Core loans: bursty load");
	table_line("A burst of %u tasks of %llu us CPU every 10 ms, arriving "
		   "on loop 0 (steal policy: idle loops take queued tasks); "
		   "%u bursts per round, %u rounds alternated.\n\n", per,
		   (unsigned long long)(task_ns / 1000), bursts, rounds);
	table_line("| %-20s | %8s | %8s | %10s | %12s |\n", "allocation",
		   "p50 us", "p99 us", "CPU s", "cores held");
	table_line("|---|---:|---:|---:|---:|\n");
	double p99[3];
	for (int c = 0; c < 3; c++) {
		uint64_t p50 = samples_pct(&r[c].lat, 0.5);
		p99[c] = (double)samples_pct(&r[c].lat, 0.99);
		double held = r[c].held_core_s / r[c].wall_s;
		table_line("| %-20s | %8.1f | %8.1f | %10.3f | %12.2f |\n",
			   names[c], p50 / 1e3, p99[c] / 1e3, r[c].cpu_s, held);
		char extra[200];
		snprintf(extra, sizeof extra,
			 ",\"p99_us\":%.1f,\"cpu_s\":%.3f,\"cores_held\":%.2f,\"n\":%zu",
			 p99[c] / 1e3, r[c].cpu_s, held, r[c].lat.n);
		emit("sched.loans.bursty", keys[c], "latency", p50 / 1e3,
		     "us_p50", extra);
	}
	table_line("\np99 elastic / static 2: %.2fx, elastic / static 1: "
		   "%.2fx; cores held elastic / static 2: %.2fx\n",
		   p99[2] / p99[1], p99[2] / p99[0],
		   (r[2].held_core_s / r[2].wall_s) / (r[1].held_core_s / r[1].wall_s));
	for (int c = 0; c < 3; c++)
		samples_free(&r[c].lat);
	return 0;
}

int bench_loans(void)
{
	int rc = grant_latency();
	if (rc < 0) {
		fprintf(stderr, "loans: %s\n", myco_strerror(rc));
		return 1;
	}
	return bursty() < 0;
}
