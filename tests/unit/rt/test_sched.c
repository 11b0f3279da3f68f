/*
 * test_sched.c: scheduling on one loop: FIFO order of spawn/yield, sleep,
 * join (with timeout), cancellation (not started, sleeping, blocked in I/O,
 * in join, in an event wait), callback timers (one-shot, periodic, stop,
 * destroy from the callback), events notified from another thread, the
 * loop ending when idle and myco_loop_stop from another thread, posts,
 * policies by name and from MYCO_POLICY, EDF order, the admission test,
 * budget overruns and deadline misses, sporadic releases, metrics.
 * No timing thresholds: only orderings and counts are checked.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/rt.h"

#define MS 1000000ll

static myco_loop_t *mkloop(myco_policy_t p)
{
	myco_loop_t *l = NULL;
	myco_loop_opts_t o = { .policy = p };
	assert_int_equal(myco_loop_create(&l, &o), 0);
	return l;
}

/* ---- order ------------------------------------------------------------ */

static int g_log[256];
static int g_nlog;

static void logv(int v)
{
	if (g_nlog < 256)
		g_log[g_nlog++] = v;
}

static int order_co(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 3; i++) {
		logv(id * 10 + i);
		assert_int_equal(myco_yield(), 0);
	}
	return id;
}

static void test_fifo_order(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	g_nlog = 0;
	for (int i = 1; i <= 3; i++)
		assert_int_equal(myco_spawn(l, NULL, order_co,
					    (void *)(intptr_t)i, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int want[] = { 10, 20, 30, 11, 21, 31, 12, 22, 32 };
	assert_int_equal(g_nlog, 9);
	for (int i = 0; i < 9; i++)
		assert_int_equal(g_log[i], want[i]);
	myco_loop_stats_t st;
	assert_int_equal(myco_loop_stats(l, &st), 0);
	assert_int_equal(st.spawned, 3);
	assert_int_equal(st.finished, 3);
	assert_int_equal(st.live, 0);
	assert_true(st.switches >= 12);
	assert_true(st.sched_lat_count >= 12);
	myco_loop_destroy(l);
}

/* ---- sleep / join --------------------------------------------------------- */

static int sleeper(void *arg)
{
	int ms = (int)(intptr_t)arg;
	uint64_t t0 = myco_now();
	assert_int_equal(myco_sleep_ns((uint64_t)ms * MS), 0);
	assert_true(myco_now() - t0 >= (uint64_t)ms * MS); /* never early */
	logv(ms);
	return ms;
}

static int join_all(void *arg)
{
	(void)arg;
	myco_loop_t *l = myco_loop_current();
	myco_co_t *c[3];
	int ms[3] = { 30, 10, 20 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(myco_spawn(l, &c[i], sleeper,
					    (void *)(intptr_t)ms[i], NULL), 0);
	int r;
	/* join with a timeout shorter than the sleep: -ETIMEDOUT, handle kept */
	assert_int_equal(myco_join(c[0], &r, 1 * MS), -ETIMEDOUT);
	assert_int_equal(myco_join(c[0], &r, 0), -ETIMEDOUT);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(myco_join(c[i], &r, MYCO_FOREVER), 0);
		assert_int_equal(r, ms[i]);
	}
	assert_int_equal(myco_join(myco_self(), &r, 0), -EINVAL);
	return 0;
}

static void test_sleep_join(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	g_nlog = 0;
	assert_int_equal(myco_spawn(l, NULL, join_all, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(g_nlog, 3);
	assert_int_equal(g_log[0], 10);
	assert_int_equal(g_log[1], 20);
	assert_int_equal(g_log[2], 30);
	myco_loop_destroy(l);
}

static void test_outside_coroutine(void **state)
{
	(void)state;
	char b;
	assert_int_equal(myco_yield(), -EPERM);
	assert_int_equal(myco_sleep_ns(1), -EPERM);
	assert_int_equal(myco_read(0, &b, 1, 0), -EPERM);
	assert_null(myco_self());
	assert_false(myco_cancelled());
	assert_null(myco_loop_current());
}

/* ---- cancellation --------------------------------------------------------- */

static int g_fn_ran;
static int never_fn(void *arg)
{
	(void)arg;
	g_fn_ran = 1;
	return 0;
}

static int sleep_forever(void *arg)
{
	(void)arg;
	int r = myco_sleep_ns(3600ull * 1000 * MS);
	/* sticky: every later wait fails too */
	assert_int_equal(myco_yield(), -ECANCELED);
	assert_int_equal(myco_sleep_ns(1), -ECANCELED);
	assert_true(myco_cancelled());
	return r;
}

static int read_forever(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8];
	return (int)myco_read(fd, buf, sizeof(buf), MYCO_FOREVER);
}

static int join_forever(void *arg)
{
	myco_co_t *other = arg;
	int r;
	int rc = myco_join(other, &r, MYCO_FOREVER);
	return rc;
}

static myco_event_t *g_ev;
static int event_forever(void *arg)
{
	(void)arg;
	return myco_event_wait(g_ev, myco_event_seq(g_ev), MYCO_FOREVER);
}

static int canceller(void *arg)
{
	int *pfd = arg;
	myco_loop_t *l = myco_loop_current();
	myco_co_t *notstarted, *sl, *rd, *jn, *ev;
	assert_int_equal(myco_spawn(l, &notstarted, never_fn, NULL, NULL), 0);
	assert_int_equal(myco_cancel(notstarted), 0);
	assert_int_equal(myco_spawn(l, &sl, sleep_forever, NULL, NULL), 0);
	assert_int_equal(myco_spawn(l, &rd, read_forever,
				    (void *)(intptr_t)pfd[0], NULL), 0);
	assert_int_equal(myco_spawn(l, &jn, join_forever, sl, NULL), 0);
	assert_int_equal(myco_spawn(l, &ev, event_forever, NULL, NULL), 0);
	/* let them all block */
	for (int i = 0; i < 5; i++)
		myco_yield();
	int r;
	assert_int_equal(myco_join(notstarted, &r, 0), 0);
	assert_int_equal(r, -ECANCELED);
	assert_int_equal(g_fn_ran, 0);

	assert_int_equal(myco_cancel(rd), 0);
	assert_int_equal(myco_join(rd, &r, MYCO_FOREVER), 0);
	assert_int_equal(r, -ECANCELED);

	assert_int_equal(myco_cancel(jn), 0);
	assert_int_equal(myco_join(jn, &r, MYCO_FOREVER), 0);
	assert_int_equal(r, -ECANCELED);

	assert_int_equal(myco_cancel(ev), 0);
	assert_int_equal(myco_join(ev, &r, MYCO_FOREVER), 0);
	assert_int_equal(r, -ECANCELED);

	assert_int_equal(myco_cancel(sl), 0);
	assert_int_equal(myco_join(sl, &r, MYCO_FOREVER), 0);
	assert_int_equal(r, -ECANCELED);
	return 0;
}

static void test_cancel(void **state)
{
	(void)state;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(myco_event_create(&g_ev), 0);
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	myco_co_t *c;
	g_fn_ran = 0;
	assert_int_equal(myco_spawn(l, &c, canceller, pfd, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -1;
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	/* the pipe is still usable: the cancelled read took nothing */
	assert_int_equal(write(pfd[1], "x", 1), 1);
	char b;
	assert_int_equal(read(pfd[0], &b, 1), 1);
	myco_loop_destroy(l);
	myco_event_destroy(g_ev);
	close(pfd[0]);
	close(pfd[1]);
}

/* ---- timers ------------------------------------------------------------- */

static int g_fires;
static myco_timer_t *g_t1;

static void periodic_cb(myco_timer_t *t, void *arg)
{
	(void)arg;
	g_fires++;
	logv(100 + g_fires);
	if (g_fires == 5)
		myco_timer_stop(t);
}

static void oneshot_cb(myco_timer_t *t, void *arg)
{
	(void)t;
	logv((int)(intptr_t)arg);
}

static void self_destroy_cb(myco_timer_t *t, void *arg)
{
	(void)arg;
	logv(999);
	myco_timer_destroy(t);
}

static void test_timers(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	myco_timer_t *p, *a, *b, *d, *never;
	g_nlog = 0;
	g_fires = 0;
	assert_int_equal(myco_timer_create(l, &p, periodic_cb, NULL), 0);
	assert_int_equal(myco_timer_create(l, &a, oneshot_cb, (void *)1), 0);
	assert_int_equal(myco_timer_create(l, &b, oneshot_cb, (void *)2), 0);
	assert_int_equal(myco_timer_create(l, &never, oneshot_cb, (void *)3), 0);
	assert_int_equal(myco_timer_create(l, &d, self_destroy_cb, NULL), 0);
	assert_int_equal(myco_timer_start(p, 2 * MS, 2 * MS), 0);
	assert_int_equal(myco_timer_start(b, 20 * MS, 0), 0);
	assert_int_equal(myco_timer_start(a, 15 * MS, 0), 0);
	assert_int_equal(myco_timer_start(never, 1 * MS, 0), 0);
	assert_int_equal(myco_timer_start(d, 25 * MS, 0), 0);
	assert_true(myco_timer_active(never));
	myco_timer_stop(never);
	assert_false(myco_timer_active(never));
	g_t1 = p;
	assert_int_equal(myco_loop_run(l), 0); /* ends when no timer is armed */
	assert_int_equal(g_fires, 5);
	/* 101..105 (periodic every 2 ms, done by 10 ms), then 1, 2, 999 */
	assert_int_equal(g_nlog, 8);
	for (int i = 0; i < 5; i++)
		assert_int_equal(g_log[i], 101 + i);
	assert_int_equal(g_log[5], 1);
	assert_int_equal(g_log[6], 2);
	assert_int_equal(g_log[7], 999);
	myco_timer_destroy(p);
	myco_timer_destroy(a);
	myco_timer_destroy(b);
	/* "never" is left to myco_loop_destroy (LeakSanitizer checks it) */
	myco_timer_t *armed;
	assert_int_equal(myco_timer_create(l, &armed, oneshot_cb, NULL), 0);
	assert_int_equal(myco_timer_start(armed, 3600ull * 1000 * MS, 0), 0);
	(void)never;
	myco_loop_destroy(l);
}

/* ---- events and cross-thread wake-ups ------------------------------------- */

static atomic_int g_flag;

static int event_waiter(void *arg)
{
	myco_event_t *ev = arg;
	for (;;) {
		uint64_t s = myco_event_seq(ev);
		if (atomic_load(&g_flag) == 100)
			return 0;
		int r = myco_event_wait(ev, s, MYCO_FOREVER);
		if (r != 0)
			return r;
	}
}

static void *notifier(void *arg)
{
	myco_event_t *ev = arg;
	for (int i = 0; i < 100; i++) {
		atomic_fetch_add(&g_flag, 1);
		myco_event_notify(ev);
		if (i % 10 == 0)
			usleep(200);
	}
	return NULL;
}

static int event_timeout(void *arg)
{
	myco_event_t *ev = arg;
	/* a private event nobody notifies: times out */
	myco_event_t *quiet;
	assert_int_equal(myco_event_create(&quiet), 0);
	assert_int_equal(myco_event_wait(quiet, myco_event_seq(quiet), 2 * MS),
			 -ETIMEDOUT);
	assert_int_equal(myco_event_wait(quiet, myco_event_seq(quiet), 0),
			 -ETIMEDOUT);
	/* a stale seq returns at once */
	assert_int_equal(myco_event_wait(quiet, myco_event_seq(quiet) + 1,
					 MYCO_FOREVER), 0);
	myco_event_destroy(quiet);
	(void)ev;
	return 0;
}

static void test_event_cross_thread(void **state)
{
	(void)state;
	myco_event_t *ev;
	assert_int_equal(myco_event_create(&ev), 0);
	atomic_store(&g_flag, 0);
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	myco_co_t *w[4], *t;
	for (int i = 0; i < 4; i++)
		assert_int_equal(myco_spawn(l, &w[i], event_waiter, ev, NULL), 0);
	assert_int_equal(myco_spawn(l, &t, event_timeout, ev, NULL), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, notifier, ev), 0);
	assert_int_equal(myco_loop_run(l), 0);
	pthread_join(th, NULL);
	for (int i = 0; i < 4; i++) {
		int r = -1;
		assert_int_equal(myco_join(w[i], &r, 0), 0);
		assert_int_equal(r, 0);
	}
	int r = -1;
	assert_int_equal(myco_join(t, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
	myco_event_destroy(ev);
}

/* ---- stop and posts from another thread ----------------------------------- */

static atomic_int g_posted;

static void post_fn(void *arg)
{
	atomic_fetch_add(&g_posted, (int)(intptr_t)arg);
}

static void *stopper(void *arg)
{
	myco_loop_t *l = arg;
	for (int i = 1; i <= 100; i++)
		assert_int_equal(myco_post(l, post_fn, (void *)(intptr_t)i), 0);
	while (atomic_load(&g_posted) != 5050)
		usleep(100);
	myco_loop_stop(l);
	return NULL;
}

static void test_keepalive_stop_post(void **state)
{
	(void)state;
	myco_loop_opts_t o = { .keepalive = true };
	myco_loop_t *l;
	assert_int_equal(myco_loop_create(&l, &o), 0);
	atomic_store(&g_posted, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stopper, l), 0);
	assert_int_equal(myco_loop_run(l), 0);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&g_posted), 5050);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.posts_in, 100);
	/* stop before run: consumed, run returns at once */
	myco_loop_stop(l);
	assert_int_equal(myco_loop_run(l), -MYCO_ESTOPPED);
	myco_loop_destroy(l);
}

/* ---- policies ------------------------------------------------------------ */

static void test_policy_names(void **state)
{
	(void)state;
	assert_int_equal(myco_policy_from_name("fifo"), MYCO_POLICY_FIFO);
	assert_int_equal(myco_policy_from_name("edf"), MYCO_POLICY_EDF);
	assert_int_equal(myco_policy_from_name("steal"), MYCO_POLICY_STEAL);
	assert_int_equal(myco_policy_from_name("rr"), -EINVAL);
	assert_string_equal(myco_policy_name(MYCO_POLICY_EDF), "edf");
	myco_loop_t *l;
	myco_loop_opts_t o = { .policy_name = "edf" };
	assert_int_equal(myco_loop_create(&l, &o), 0);
	assert_int_equal(myco_loop_policy(l), MYCO_POLICY_EDF);
	myco_loop_destroy(l);
	o.policy_name = "bogus";
	assert_int_equal(myco_loop_create(&l, &o), -EINVAL);
	setenv("MYCO_POLICY", "steal", 1);
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_loop_policy(l), MYCO_POLICY_STEAL);
	myco_loop_destroy(l);
	/* the API wins over the environment */
	myco_loop_opts_t f = { .policy = MYCO_POLICY_FIFO };
	assert_int_equal(myco_loop_create(&l, &f), 0);
	assert_int_equal(myco_loop_policy(l), MYCO_POLICY_FIFO);
	myco_loop_destroy(l);
	unsetenv("MYCO_POLICY");
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_loop_policy(l), MYCO_POLICY_FIFO);
	myco_loop_destroy(l);
}

/* ---- EDF ------------------------------------------------------------------ */

typedef struct {
	int id;
	int jobs;
} edf_arg_t;

static int edf_task(void *arg)
{
	edf_arg_t *a = arg;
	for (int j = 0; j < a->jobs; j++) {
		logv(a->id);
		if (myco_edf_next() != 0)
			return -1;
	}
	return 0;
}

static int bg_task(void *arg)
{
	(void)arg;
	logv(0);
	return 0;
}

static void test_edf_order(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_EDF);
	g_nlog = 0;
	/* three tasks released at the same instant (now), and a background
	 * coroutine spawned after them: jobs run by absolute deadline, all
	 * before the background coroutine */
	uint64_t start = myco_now();
	edf_arg_t a[3] = { { 1, 1 }, { 2, 1 }, { 3, 1 } };
	uint64_t dl[3] = { 30 * MS, 10 * MS, 20 * MS };
	for (int i = 0; i < 3; i++) {
		myco_edf_params_t p = { .runtime_ns = 1 * MS,
					.deadline_ns = dl[i],
					.period_ns = 40 * MS,
					.start_ns = start };
		assert_int_equal(myco_spawn_edf(l, NULL, edf_task, &a[i], &p,
						NULL), 0);
	}
	assert_int_equal(myco_spawn(l, NULL, bg_task, NULL, NULL), 0);
	/* C/D = 0.1 + 0.05 + 0.0333 */
	assert_true(myco_edf_utilisation(l) > 0.18);
	assert_true(myco_edf_utilisation(l) < 0.19);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(g_nlog, 4);
	assert_int_equal(g_log[0], 2);
	assert_int_equal(g_log[1], 3);
	assert_int_equal(g_log[2], 1);
	assert_int_equal(g_log[3], 0);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	/* each task: job 1, myco_edf_next, job 2 released, returns */
	assert_int_equal(st.edf_jobs, 6);
	assert_true(myco_edf_utilisation(l) < 1e-9); /* all given back */
	myco_loop_destroy(l);
}


static void stop_cb(myco_timer_t *t, void *arg)
{
	(void)t;
	myco_loop_stop(arg);
}

static int dummy(void *arg)
{
	(void)arg;
	return 0;
}

static void test_admission(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_EDF);
	myco_edf_params_t p = { .runtime_ns = 3 * MS, .period_ns = 10 * MS,
				.flags = MYCO_EDF_SPORADIC };
	myco_co_t *c[4];
	assert_int_equal(myco_spawn_edf(l, &c[0], dummy, NULL, &p, NULL), 0);
	assert_int_equal(myco_spawn_edf(l, &c[1], dummy, NULL, &p, NULL), 0);
	assert_int_equal(myco_spawn_edf(l, &c[2], dummy, NULL, &p, NULL), 0);
	/* 0.9 admitted; 0.3 more would exceed 1.0 */
	assert_int_equal(myco_spawn_edf(l, NULL, dummy, NULL, &p, NULL),
			 -MYCO_EADMISSION);
	/* density C / min(D, T): D = 5 ms gives 0.2, 1.1 in all */
	myco_edf_params_t q = { .runtime_ns = 1 * MS, .deadline_ns = 5 * MS,
				.period_ns = 100 * MS, .flags = MYCO_EDF_SPORADIC };
	assert_int_equal(myco_spawn_edf(l, NULL, dummy, NULL, &q, NULL),
			 -MYCO_EADMISSION);
	q.deadline_ns = 10 * MS; /* 0.1: fits exactly */
	assert_int_equal(myco_spawn_edf(l, &c[3], dummy, NULL, &q, NULL), 0);
	/* invalid parameters */
	myco_edf_params_t bad = { .runtime_ns = 5 * MS, .deadline_ns = 2 * MS,
				  .period_ns = 10 * MS };
	assert_int_equal(myco_spawn_edf(l, NULL, dummy, NULL, &bad, NULL), -EINVAL);
	bad = (myco_edf_params_t){ .runtime_ns = 0, .period_ns = 10 };
	assert_int_equal(myco_spawn_edf(l, NULL, dummy, NULL, &bad, NULL), -EINVAL);
	bad = (myco_edf_params_t){ .runtime_ns = 1, .deadline_ns = 20,
				   .period_ns = 10 };
	assert_int_equal(myco_spawn_edf(l, NULL, dummy, NULL, &bad, NULL), -EINVAL);
	/* a finished task gives its utilisation back: release c[0] (runs and
	 * returns), cancel the unreleased others (they end without running) */
	assert_int_equal(myco_edf_release(c[0]), 0);
	for (int i = 1; i < 4; i++)
		assert_int_equal(myco_cancel(c[i]), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r;
	assert_int_equal(myco_join(c[0], &r, 0), 0);
	assert_int_equal(r, 0);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(myco_join(c[i], &r, 0), 0);
		assert_int_equal(r, -ECANCELED);
	}
	assert_true(myco_edf_utilisation(l) < 1e-9);
	assert_int_equal(myco_spawn_edf(l, &c[0], dummy, NULL, &p, NULL), 0);
	/* fifo loops refuse edf tasks */
	myco_loop_t *f = mkloop(MYCO_POLICY_FIFO);
	assert_int_equal(myco_spawn_edf(f, NULL, dummy, NULL, &p, NULL), -ENOTSUP);
	myco_loop_destroy(f);
	myco_loop_destroy(l); /* frees the unstarted sporadic task */
}

/* A job that burns more than its budget before yielding: overrun counted
 * once per job; a job finishing after its deadline: miss counted. */
static void burn(uint64_t ns)
{
	uint64_t t0 = myco_now();
	while (myco_now() - t0 < ns)
		;
}

static int overrunner(void *arg)
{
	(void)arg;
	for (int j = 0; j < 3; j++) {
		burn(3 * MS);          /* budget 1 ms */
		myco_yield();          /* detection point */
		burn(3 * MS);
		myco_yield();
		if (myco_edf_next() != 0)
			return -1;
	}
	return 0;
}

static int good_task(void *arg)
{
	(void)arg;
	for (int j = 0; j < 3; j++)
		if (myco_edf_next() != 0)
			return -1;
	return 0;
}

static void test_overrun_and_miss(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_EDF);
	/* D = 2 ms and every job burns >= 6 ms: it also misses its deadline */
	myco_edf_params_t p = { .runtime_ns = 1 * MS, .deadline_ns = 2 * MS,
				.period_ns = 20 * MS };
	/* a generous budget: its jobs are a few microseconds, even a long
	 * preemption of the test thread must not count as an overrun */
	myco_edf_params_t g = { .runtime_ns = 100 * MS, .period_ns = 500 * MS };
	myco_co_t *c, *gc;
	assert_int_equal(myco_spawn_edf(l, &c, overrunner, NULL, &p, NULL), 0);
	assert_int_equal(myco_spawn_edf(l, &gc, good_task, NULL, &g, NULL), 0);
	/* good_task's 3 jobs take 3 periods of 500 ms... too slow: cancel it
	 * once the overrunner is done */
	int r;
	myco_loop_t *lp = l;
	(void)lp;
	/* run until the overrunner ends */
	while (1) {
		myco_timer_t *stop;
		assert_int_equal(myco_timer_create(l, &stop, stop_cb, l), 0);
		myco_timer_start(stop, 5 * MS, 0);
		assert_int_equal(myco_loop_run(l), 0);
		myco_timer_destroy(stop);
		myco_co_stats_t cs;
		myco_co_stats(c, &cs);
		if (cs.jobs >= 3 && myco_join(c, &r, 0) == 0)
			break;
	}
	assert_int_equal(r, 0);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.overruns, 3);
	assert_int_equal(st.deadline_misses, 3);
	myco_co_stats_t gs;
	myco_co_stats(gc, &gs);
	assert_int_equal(gs.overruns, 0);
	assert_int_equal(gs.deadline_misses, 0);
	myco_cancel(gc);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(myco_join(gc, &r, 0), 0);
	assert_int_equal(r, -1); /* edf_next returned -ECANCELED */
	myco_loop_destroy(l);
}

/* Sporadic: releases closer than T are deferred; extra ones merged. */
static int sporadic_task(void *arg)
{
	uint64_t *rel = arg;
	int n = 0;
	while (n < 2) {
		rel[n++] = myco_now();
		if (myco_edf_next() != 0)
			break;
	}
	return n;
}

static uint64_t g_first_release_before;

static int releaser(void *arg)
{
	myco_co_t *s = arg;
	g_first_release_before = myco_now();
	assert_int_equal(myco_edf_release(s), 0);
	myco_yield();
	myco_yield();
	/* second release right away: deferred to first + T */
	assert_int_equal(myco_edf_release(s), 0);
	assert_int_equal(myco_edf_release(s), 0); /* merged */
	return 0;
}

static void test_sporadic(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_EDF);
	uint64_t rel[2] = { 0, 0 };
	myco_edf_params_t p = { .runtime_ns = 1 * MS, .period_ns = 10 * MS,
				.flags = MYCO_EDF_SPORADIC };
	myco_co_t *s;
	assert_int_equal(myco_spawn_edf(l, &s, sporadic_task, rel, &p, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, releaser, s, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r;
	assert_int_equal(myco_join(s, &r, 0), 0);
	assert_int_equal(r, 2);
	/* the second job was released no earlier than first release + T
	 * (the first job itself may have started late) */
	assert_true(rel[1] >= g_first_release_before + (uint64_t)10 * MS);
	assert_true(rel[1] > rel[0]);
	myco_loop_destroy(l);
}

static void test_hist_quantile(void **state)
{
	(void)state;
	uint64_t h[MYCO_RT_HIST_BUCKETS] = { 0 };
	assert_int_equal(myco_rt_hist_quantile(h, 0.5), 0);
	h[3] = 90;  /* [8, 16) */
	h[10] = 10; /* [1024, 2048) */
	assert_int_equal(myco_rt_hist_quantile(h, 0.5), 15);
	assert_int_equal(myco_rt_hist_quantile(h, 0.9), 15);
	assert_int_equal(myco_rt_hist_quantile(h, 0.95), 2047);
	assert_int_equal(myco_rt_hist_quantile(h, 1.0), 2047);
}

/* ---- throttle, steal on a standalone loop, names, foreach ------------- */

static int throttled_task(void *arg)
{
	(void)arg;
	burn(3 * MS);           /* budget 1 ms: overrun seen at the yield */
	logv(1);
	myco_yield();           /* demoted: background coroutine runs first */
	logv(3);
	return myco_edf_next() == -ECANCELED ? 0 : 0;
}

static int bg_logger(void *arg)
{
	logv((int)(intptr_t)arg);
	return 0;
}

static void run_throttle_case(unsigned flags, const int *want)
{
	myco_loop_t *l = mkloop(MYCO_POLICY_EDF);
	g_nlog = 0;
	myco_edf_params_t p = { .runtime_ns = 1 * MS, .period_ns = 1000 * MS,
				.flags = flags };
	myco_co_t *t;
	assert_int_equal(myco_spawn_edf(l, &t, throttled_task, NULL, &p, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, bg_logger, (void *)2, NULL), 0);
	/* stop once both logged three values; then cancel the task's wait */
	myco_timer_t *stop;
	assert_int_equal(myco_timer_create(l, &stop, stop_cb, l), 0);
	while (g_nlog < 3) {
		myco_timer_start(stop, 2 * MS, 0);
		assert_int_equal(myco_loop_run(l), 0);
	}
	myco_timer_destroy(stop);
	myco_cancel(t);
	assert_int_equal(myco_loop_run(l), 0);
	int r;
	assert_int_equal(myco_join(t, &r, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(g_log[i], want[i]);
	myco_co_stats_t cs;
	(void)cs;
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.overruns, 1);
	myco_loop_destroy(l);
}

static void test_edf_throttle(void **state)
{
	(void)state;
	/* without THROTTLE the overrunning job keeps its edf priority */
	int keep[3] = { 1, 3, 2 };
	run_throttle_case(0, keep);
	/* with THROTTLE it drops behind the background coroutine */
	int demote[3] = { 1, 2, 3 };
	run_throttle_case(MYCO_EDF_THROTTLE, demote);
}

static int count_task(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	myco_yield();
	return 0;
}

static void test_steal_standalone(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_STEAL);
	static atomic_int n;
	atomic_store(&n, 0);
	/* more than the 8 started per iteration: the loop must not end
	 * while spawns are still queued */
	for (int i = 0; i < 100; i++)
		assert_int_equal(myco_spawn(l, NULL, count_task, &n, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(atomic_load(&n), 100);
	myco_loop_destroy(l);
}

static int named_sleeper(void *arg)
{
	(void)arg;
	return myco_sleep_ns(1 * MS);
}

static void count_named(myco_co_t *co, void *arg)
{
	if (!strcmp(myco_co_name(co), "sleeper"))
		(*(int *)arg)++;
}

static int inspector(void *arg)
{
	(void)arg;
	int n = 0;
	myco_loop_foreach_co(myco_loop_current(), count_named, &n);
	return n;
}

static void test_names_foreach_stats(void **state)
{
	(void)state;
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	myco_co_opts_t o = { .name = "sleeper-with-a-name-longer-than-31-bytes" };
	myco_co_opts_t o2 = { .name = "sleeper" };
	myco_co_t *a, *b, *i;
	assert_int_equal(myco_spawn(l, &a, named_sleeper, NULL, &o), 0);
	assert_int_equal(myco_spawn(l, &b, named_sleeper, NULL, &o2), 0);
	assert_int_equal(myco_spawn(l, &i, inspector, NULL, NULL), 0);
	assert_int_equal(strlen(myco_co_name(a)), 31);
	assert_string_equal(myco_co_name(b), "sleeper");
	assert_int_equal(myco_loop_run(l), 0);
	int r;
	assert_int_equal(myco_join(i, &r, 0), 0);
	assert_int_equal(r, 1);
	myco_co_stats_t cs;
	assert_int_equal(myco_co_stats(a, &cs), 0);
	assert_int_equal(cs.switches, 2); /* start, wake from sleep */
	assert_int_equal(myco_join(a, &r, 0), 0);
	assert_int_equal(myco_join(b, &r, 0), 0);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	uint64_t sum = 0;
	for (int k = 0; k < MYCO_RT_HIST_BUCKETS; k++)
		sum += st.sched_lat_hist[k];
	assert_int_equal(sum, st.sched_lat_count);
	assert_int_equal(st.sched_lat_count, st.switches);
	myco_loop_stats_reset_latency(l);
	myco_loop_stats(l, &st);
	assert_int_equal(st.sched_lat_count, 0);
	assert_int_equal(st.sched_lat_max_ns, 0);
	myco_loop_destroy(l);
}

/* ---- pinning, SCHED_DEADLINE ------------------------------------------ */

static int where_co(void *arg)
{
	(void)arg;
	return sched_getcpu();
}

static void *pinned_thread(void *arg)
{
	(void)arg;
	myco_loop_opts_t o = { .pin = true, .cpu = 0 };
	myco_loop_t *l;
	myco_co_t *c;
	intptr_t cpu = -1;
	if (myco_loop_create(&l, &o) == 0) {
		int r = -1;
		if (myco_spawn(l, &c, where_co, NULL, NULL) == 0 &&
		    myco_loop_run(l) == 0 && myco_join(c, &r, 0) == 0)
			cpu = r;
		myco_loop_destroy(l);
	}
	return (void *)cpu;
}

static int dl_job(void *arg)
{
	int *jobs = arg;
	while (*jobs < 3) {
		(*jobs)++;
		if (myco_edf_next() != 0)
			return -1;
	}
	return 0;
}

static void *dl_thread(void *arg)
{
	int *out = arg;
	/* invalid: runtime > deadline */
	if (myco_rt_set_deadline(2 * MS, 1 * MS, 1 * MS) != -EINVAL) {
		out[0] = -100;
		return NULL;
	}
	int rc = myco_rt_set_deadline(100000, 1 * MS, 1 * MS);
	out[0] = rc;
	if (rc != 0)
		return NULL; /* not permitted here, or kernel admission busy */
	out[1] = sched_getscheduler(0);
	myco_loop_opts_t o = { .policy = MYCO_POLICY_EDF };
	myco_loop_t *l;
	myco_co_t *c;
	int jobs = 0, r = -1;
	myco_edf_params_t p = { .runtime_ns = 100000, .period_ns = 1 * MS };
	if (myco_loop_create(&l, &o) == 0) {
		if (myco_spawn_edf(l, &c, dl_job, &jobs, &p, NULL) == 0 &&
		    myco_loop_run(l) == 0)
			myco_join(c, &r, 0);
		myco_loop_destroy(l);
	}
	out[2] = jobs;
	out[3] = r;
	return NULL;
}

static void test_pin_and_deadline(void **state)
{
	(void)state;
	pthread_t th;
	void *cpu;
	assert_int_equal(pthread_create(&th, NULL, pinned_thread, NULL), 0);
	pthread_join(th, &cpu);
	assert_int_equal((intptr_t)cpu, 0);

	int out[4] = { 1, -1, -1, -1 };
	assert_int_equal(pthread_create(&th, NULL, dl_thread, out), 0);
	pthread_join(th, NULL);
	assert_int_not_equal(out[0], -100);
	if (out[0] == -EPERM || out[0] == -EBUSY) {
		skip(); /* no SCHED_DEADLINE here: degrade, do not fail */
		return;
	}
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 6 /* SCHED_DEADLINE */);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 0);
}

/* A loop destroyed while a coroutine waits on an event that outlives it:
 * later notifications must not touch the freed waiter (ASan checks). */
static int ev_wait_forever(void *arg)
{
	myco_event_t *ev = arg;
	return myco_event_wait(ev, myco_event_seq(ev), MYCO_FOREVER);
}

static void test_destroy_with_event_waiter(void **state)
{
	(void)state;
	myco_event_t *ev;
	assert_int_equal(myco_event_create(&ev), 0);
	myco_loop_t *l = mkloop(MYCO_POLICY_FIFO);
	for (int i = 0; i < 3; i++)
		assert_int_equal(myco_spawn(l, NULL, ev_wait_forever, ev, NULL), 0);
	myco_timer_t *stop;
	assert_int_equal(myco_timer_create(l, &stop, stop_cb, l), 0);
	myco_timer_start(stop, 1 * MS, 0);
	assert_int_equal(myco_loop_run(l), 0);
	myco_timer_destroy(stop);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.live, 3);
	myco_loop_destroy(l);
	myco_event_notify(ev);
	myco_event_notify(ev);
	myco_event_destroy(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_sleep_join),
		cmocka_unit_test(test_outside_coroutine),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_event_cross_thread),
		cmocka_unit_test(test_keepalive_stop_post),
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test(test_edf_order),
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_overrun_and_miss),
		cmocka_unit_test(test_sporadic),
		cmocka_unit_test(test_hist_quantile),
		cmocka_unit_test(test_edf_throttle),
		cmocka_unit_test(test_steal_standalone),
		cmocka_unit_test(test_names_foreach_stats),
		cmocka_unit_test(test_pin_and_deadline),
		cmocka_unit_test(test_destroy_with_event_waiter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
