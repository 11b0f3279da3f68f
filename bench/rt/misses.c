/*
 * misses.c: deadline misses per 10,000 periods of a 1 kHz task whose jobs
 * burn 50 %, 80 % and 100 % of its admitted budget (500 us of a 500 us /
 * 1 ms reservation), with a CPU hog on every core, alternated:
 *   myco-edf-dl   myco edf task in a SCHED_DEADLINE reservation 500/1000 us
 *                 (set after the loop's set-up), floating over the CPUs;
 *   sched-fifo    clock_nanosleep loop in SCHED_FIFO 80 pinned to the
 *                 measured CPU, the same work per job, no budget.
 * A miss is a job that ends after its release + 1 ms.  Then the same with
 * the measured CPU shielded (exec/box/shield.c: other tasks, IRQs, work
 * queues off it; the hog that was on it runs on another CPU, as the
 * shield would move it).  Each (level, system) pair runs 5 times; median and worst.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "box.h"
#include "myco/common.h"
#include "myco/rt.h"

#define PERIOD 1000000ull
#define BUDGET 500000ull  /* the edf task's admitted runtime per job */
#define RESV   560000ull  /* its thread's reservation: + the loop's own work */
#define RUNS 5

static atomic_int g_stop;

static void *hog(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	if (cpu >= 0)
		pin_cpu(cpu);
	volatile uint64_t x = 0;
	while (!atomic_load_explicit(&g_stop, memory_order_relaxed))
		x++;
	return NULL;
}

static uint64_t thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void burn(uint64_t ns)
{
	uint64_t end = thread_cpu() + ns;
	while (thread_cpu() < end)
		;
}

typedef struct {
	long n;
	uint64_t burn_ns;
	uint64_t misses;
	int err;
} mrun_t;

static int job(void *arg)
{
	mrun_t *r = arg;
	for (long k = 0; k < r->n; k++) {
		burn(r->burn_ns);
		if (myco_edf_next() != 0)
			break;
	}
	myco_co_stats_t st;
	myco_co_stats(myco_self(), &st);
	r->misses = st.deadline_misses;
	return 0;
}

static void *edf_thread(void *arg)
{
	mrun_t *r = arg;
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy = MYCO_POLICY_EDF };
	int rc = myco_loop_create(&l, &o);
	if (rc < 0) {
		r->err = rc;
		return NULL;
	}
	myco_edf_params_t p = { .runtime_ns = BUDGET, .period_ns = PERIOD,
				.start_ns = myco_now() + 2 * PERIOD };
	rc = myco_spawn_edf(l, NULL, job, r, &p, NULL);
	if (rc == 0)
		rc = myco_rt_set_deadline(RESV, PERIOD, PERIOD);
	if (rc == 0)
		rc = myco_loop_run(l);
	if (rc < 0)
		r->err = rc;
	myco_loop_destroy(l);
	return NULL;
}

static void *fifo_thread(void *arg)
{
	mrun_t *r = arg;
	pin_cpu(g_opt.cpu_b);
	struct sched_param sp = { .sched_priority = 80 };
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
		r->err = -errno;
		return NULL;
	}
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long k = 0; k < r->n; k++) {
		next.tv_nsec += PERIOD;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		burn(r->burn_ns);
		uint64_t rel = (uint64_t)next.tv_sec * 1000000000ull + (uint64_t)next.tv_nsec;
		if (myco_now() > rel + PERIOD)
			r->misses++;
	}
	return NULL;
}

static const int g_levels[3] = { 50, 80, 100 };
static const char *g_sys[2] = { "myco-edf-dl", "sched-fifo" };

static void one_setting(bool shield, long n)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t hogs[64];
	struct myco__box_shield_report rep;
	char state[128];
	bool shielded = false;
	int shrc = 0;

	if (shield) {
		snprintf(state, sizeof(state), "/tmp/myco-bench-rt-%d.shield", (int)getpid());
		/* not this process: the deadline thread must span all CPUs
		 * (the kernel refuses SCHED_DEADLINE on a narrower affinity);
		 * its hogs are placed off the shielded CPU below instead */
		pid_t self = getpid();
		shrc = myco__box_shield_apply(state, 1ull << g_opt.cpu_b, &self, 1, &rep);
		shielded = shrc == 0;
		if (!shielded) {
			table_line("\nshield of CPU %d not possible: %s\n", g_opt.cpu_b,
				   myco_strerror(shrc));
			return;
		}
	}
	atomic_store(&g_stop, 0);
	for (long i = 0; i < ncpu && i < 64; i++)
		pthread_create(&hogs[i], NULL, hog, (void *)(intptr_t)(
			!shield || i != g_opt.cpu_b ? i : (g_opt.cpu_b ? 0 : 1)));
	usleep(100000);
	double per10k[3][2][RUNS];
	int err[2] = { 0, 0 };
	for (int run = 0; run < RUNS; run++)
		for (int lv = 0; lv < 3; lv++)
			for (int k = 0; k < 2; k++) {
				mrun_t r = { .n = n, .burn_ns = BUDGET * (uint64_t)g_levels[lv] / 100 };
				pthread_t th;
				pthread_create(&th, NULL, k == 0 ? edf_thread : fifo_thread, &r);
				pthread_join(th, NULL);
				if (r.err)
					err[k] = r.err;
				per10k[lv][k][run] = (double)r.misses * 10000.0 / (double)n;
			}
	atomic_store(&g_stop, 1);
	for (long i = 0; i < ncpu && i < 64; i++)
		pthread_join(hogs[i], NULL);
	if (shielded) {
		struct myco__box_shield_report back;
		myco__box_shield_restore(state, &back);
	}

	table_title(shield ? "Deadline misses per 10,000 periods, measured CPU shielded"
			   : "Deadline misses per 10,000 periods, CPU hog on every core");
	table_line("1 kHz task, jobs burn 50/80/100 %% of the admitted 500 us edf budget "
		   "(myco: reservation 560 us / 1 ms); %ld periods per run, %d runs, systems "
		   "alternated; hogs %s\n\n", n, RUNS,
		   shield ? "one per CPU, the shielded CPU's moved to another"
			  : "pinned, one per CPU");
	if (shielded) {
		table_line("shield of CPU %d:", g_opt.cpu_b);
		for (size_t i = 0; i < rep.n; i++)
			table_line(" %s %s;", rep.items[i].name,
				   rep.items[i].state == MYCO__BOX_APPLIED ? "applied" : "degraded");
		table_line("\n\n");
	}
	table_line("| load | system | median | worst | runs |\n| ---: | --- | ---: | ---: | --- |\n");
	for (int lv = 0; lv < 3; lv++)
		for (int k = 0; k < 2; k++) {
			if (err[k]) {
				table_line("| %d %% | %s | skipped: %s | | |\n", g_levels[lv], g_sys[k],
					   myco_strerror(err[k]));
				continue;
			}
			double v[RUNS], w = 0;
			char all[96] = "";
			size_t len = 0;
			for (int r = 0; r < RUNS; r++) {
				v[r] = per10k[lv][k][r];
				if (v[r] > w)
					w = v[r];
				len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%.0f",
							r ? " " : "", v[r]);
				if (len >= sizeof(all))
					len = sizeof(all) - 1;
			}
			double med = median_d(v, RUNS);
			table_line("| %d %% | %s | %.1f | %.1f | %s |\n", g_levels[lv], g_sys[k],
				   med, w, all);
			char extra[96];
			snprintf(extra, sizeof(extra), ",\"load_pct\":%d,\"shield\":%s,\"periods\":%ld",
				 g_levels[lv], shield ? "true" : "false", n);
			emit("rt.misses", g_sys[k], "per10k_median", med, "count", extra);
			emit("rt.misses", g_sys[k], "per10k_worst", w, "count", extra);
		}
}

int bench_misses(void)
{
	long n = g_opt.quick ? 1000 : 10000;
	bool locked = mlockall(MCL_CURRENT | MCL_FUTURE) == 0;
	one_setting(false, n);
	one_setting(true, n);
	if (locked)
		munlockall();
	return 0;
}
