/*
 * adaptive.c (bench): placement of spawned tasks on a group of 2 loops
 * (CPUs 0 and 1) by round robin, work stealing (policy steal) and
 * ant-colony placement (policy adaptive), rounds alternated in one run.
 * Load: every 5 ms a burst of 32 tasks arrives on loop 0 (one post whose
 * callback spawns them); 4 task classes, the "hot" class makes 70 % of a
 * burst and costs 60 us of CPU, the others 15 us; the hot class moves to
 * the next class every 250 ms.  A noisy neighbour thread pinned to CPU 1
 * spins 2 ms out of every 4 ms, so the loops are not equal.  Figures:
 * task latency (arrival -> finished) p50/p99, and throughput when 20000
 * tasks arrive at once (tasks per second until the last finishes).
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
#include "myco/rt.h"

#define PER_BURST 32
#define NCLASS 4

typedef struct {
	uint64_t arrive, lat;
	uint64_t cost;
	unsigned cls;
} job_t;

typedef struct {
	job_t *jobs;
	unsigned n;
} burst_t;

static const char *cls_name[NCLASS] = { "a", "b", "c", "d" };
static atomic_uint done_n;
static int placement; /* 0 rr, 1 steal, 2 adaptive */
static myco_group_t *grp;
static unsigned rr_next;
static atomic_bool hog_stop;

static int job_run(void *arg)
{
	job_t *j = arg;
	spin_ns(j->cost);
	j->lat = myco_now() - j->arrive;
	atomic_fetch_add_explicit(&done_n, 1, memory_order_release);
	return 0;
}

static void on_burst(void *arg)
{
	burst_t *b = arg;
	myco_loop_t *l = myco_loop_current();
	for (unsigned i = 0; i < b->n; i++) {
		job_t *j = &b->jobs[i];
		myco_co_opts_t o = { .name = cls_name[j->cls] };
		if (placement == 0) {
			myco_loop_t *t = myco_group_loop(grp, rr_next++ % 2);
			o.flags = MYCO_CO_PINNED;
			if (t == l)
				myco_spawn(l, NULL, job_run, j, &o);
			else
				myco_spawn_on(t, job_run, j, &o);
		} else {
			myco_spawn(l, NULL, job_run, j, &o);
		}
	}
	free(b);
}

static void *hog(void *arg)
{
	(void)arg;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 1 : 0, &s);
	pthread_setaffinity_np(pthread_self(), sizeof s, &s);
	while (!atomic_load(&hog_stop)) {
		spin_ns(2000000);
		struct timespec ts = { 0, 2000000 };
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
	return NULL;
}

typedef struct {
	samples_t lat;
	double tput;
	unsigned tput_n;
} res_t;

static int round_one(int pl, unsigned nbursts, res_t *res)
{
	static int cpus[2] = { 0, 1 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	placement = pl;
	myco_group_opts_t go = {
		.nloops = 2, .cpus = ncpu >= 2 ? cpus : NULL, .no_pin = ncpu < 2,
		.loop.policy = pl == 2 ? MYCO_POLICY_ADAPTIVE :
			       pl == 1 ? MYCO_POLICY_STEAL : MYCO_POLICY_FIFO,
	};
	int rc = myco_group_create(&grp, &go);
	if (rc < 0)
		return rc;
	myco_group_start(grp, NULL, NULL);
	size_t total = (size_t)nbursts * PER_BURST;
	job_t *jobs = calloc(total, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	atomic_store(&done_n, 0);
	unsigned seed = 7;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	myco_loop_t *l0 = myco_group_loop(grp, 0);
	for (unsigned b = 0; b < nbursts; b++) {
		unsigned hot = (b / 50) % NCLASS; /* 50 bursts = 250 ms */
		burst_t *bu = malloc(sizeof(*bu));
		bu->jobs = &jobs[(size_t)b * PER_BURST];
		bu->n = PER_BURST;
		uint64_t now = myco_now();
		for (unsigned i = 0; i < PER_BURST; i++) {
			seed = seed * 1103515245u + 12345u;
			job_t *j = &bu->jobs[i];
			j->cls = ((seed >> 16) % 100) < 70 ? hot :
				 (hot + 1 + (seed >> 8) % (NCLASS - 1)) % NCLASS;
			j->cost = j->cls == hot ? 60000 : 15000;
			j->arrive = now;
		}
		myco_post(l0, on_burst, bu);
		next.tv_nsec += 5000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	while (atomic_load_explicit(&done_n, memory_order_acquire) < total)
		usleep(1000);
	for (size_t i = 0; i < total; i++)
		samples_add(&res->lat, jobs[i].lat);
	free(jobs);

	/* throughput: a backlog arriving at once, same class mix */
	unsigned nt = g_opt.quick ? 5000 : 20000;
	jobs = calloc(nt, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	atomic_store(&done_n, 0);
	uint64_t t0 = myco_now();
	for (unsigned k = 0; k < nt; k += PER_BURST) {
		burst_t *bu = malloc(sizeof(*bu));
		bu->jobs = &jobs[k];
		bu->n = nt - k < PER_BURST ? nt - k : PER_BURST;
		unsigned hot = (k / 2000) % NCLASS;
		for (unsigned i = 0; i < bu->n; i++) {
			seed = seed * 1103515245u + 12345u;
			job_t *j = &bu->jobs[i];
			j->cls = ((seed >> 16) % 100) < 70 ? hot :
				 (hot + 1 + (seed >> 8) % (NCLASS - 1)) % NCLASS;
			j->cost = j->cls == hot ? 60000 : 15000;
			j->arrive = t0;
		}
		myco_post(l0, on_burst, bu);
	}
	while (atomic_load_explicit(&done_n, memory_order_acquire) < nt)
		usleep(1000);
	uint64_t t1 = myco_now();
	free(jobs);
	res->tput += nt / ((t1 - t0) / 1e9);
	res->tput_n++;
	myco_group_stop(grp);
	myco_group_join(grp);
	myco_group_destroy(grp);
	return 0;
}

int bench_adaptive(void)
{
	unsigned nbursts = g_opt.quick ? 200 : 600, rounds = 2;
	res_t r[3];
	memset(r, 0, sizeof r);
	atomic_store(&hog_stop, false);
	pthread_t th;
	pthread_create(&th, NULL, hog, NULL);
	int rc = 0;
	for (unsigned k = 0; k < rounds && rc == 0; k++)
		for (int pl = 0; pl < 3 && rc == 0; pl++)
			rc = round_one(pl, nbursts, &r[pl]);
	atomic_store(&hog_stop, true);
	pthread_join(th, NULL);
	if (rc < 0) {
		fprintf(stderr, "adaptive: %s\n", myco_strerror(rc));
		return 1;
	}
	static const char *names[3] = { "round robin", "work stealing",
					"adaptive (ant colony)" };
	static const char *keys[3] = { "rr", "steal", "adaptive" };
	table_title("Adaptive placement: moving hotspot, 2 loops, noisy neighbour on CPU 1");
	table_line("Every 5 ms a burst of %d tasks arrives on loop 0; the hot "
		   "class (70 %%, 60 us) moves every 250 ms, the rest cost "
		   "15 us; %u bursts per round, %u rounds alternated.  "
		   "Throughput: %u tasks arriving at once.\n\n", PER_BURST,
		   nbursts, rounds, g_opt.quick ? 5000 : 20000);
	table_line("| %-22s | %8s | %8s | %12s |\n", "placement", "p50 us",
		   "p99 us", "tasks/s");
	table_line("|---|---:|---:|---:|\n");
	double p99[3], tp[3];
	for (int c = 0; c < 3; c++) {
		uint64_t p50 = samples_pct(&r[c].lat, 0.5);
		p99[c] = (double)samples_pct(&r[c].lat, 0.99);
		tp[c] = r[c].tput / r[c].tput_n;
		table_line("| %-22s | %8.1f | %8.1f | %12.0f |\n", names[c],
			   p50 / 1e3, p99[c] / 1e3, tp[c]);
		char extra[160];
		snprintf(extra, sizeof extra,
			 ",\"p99_us\":%.1f,\"tasks_per_s\":%.0f,\"n\":%zu",
			 p99[c] / 1e3, tp[c], r[c].lat.n);
		emit("sched.adaptive", keys[c], "latency", p50 / 1e3, "us_p50",
		     extra);
		samples_free(&r[c].lat);
	}
	table_line("\nadaptive / round robin: p99 %.2fx, throughput %.2fx; "
		   "adaptive / stealing: p99 %.2fx, throughput %.2fx\n",
		   p99[2] / p99[0], tp[2] / tp[0], p99[2] / p99[1],
		   tp[2] / tp[1]);
	return 0;
}
