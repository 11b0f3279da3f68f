/*
 * test_loans.c: the executive's core-loan arbiter (exec/loans.c).
 * Admission with loans (reserved cores, elastic minimums, the pool), the
 * decision round against signals written by hand (pressure grants, the
 * pool bounds grants, an idle partition returns its core only after the
 * hold time, a scribbled region is refused), and end to end with a real
 * elastic group and the arbiter thread: a flood of work gets the second
 * core, and when the work is done the core is revoked and its loop parks.
 * The region is hostile input: the corpus of the fuzz harness
 * (tests/fuzz/exec/fuzz_loans.c, corpus_loans/) runs through it, refused
 * regions are refused, and a region granting more than the pool covers is
 * cut back to the pool when added.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/rt.h"
#include "loans.h"

#define WAIT_FOR(cond) do { \
	for (long _i = 0; !(cond); _i++) { \
		assert_true(_i < 3000000); \
		if (_i > 1000) usleep(20); else sched_yield(); \
	} \
} while (0)

static void test_admit(void **state)
{
	(void)state;
	char why[160];
	unsigned mn[2] = { 1, 2 }, mx[2] = { 3, 2 };
	/* 8 cores, 2 reserved, elastic minimums 1 + 2: pool 3 */
	assert_int_equal(myco__loans_admit(8, 2, mn, mx, 2, why, sizeof why), 3);
	assert_string_equal(why, "");
	/* minimums over the machine */
	assert_int_equal(myco__loans_admit(4, 2, mn, mx, 2, why, sizeof why),
			 -MYCO_EADMISSION);
	assert_non_null(strstr(why, "elastic minimums 3"));
	/* a partition that may borrow more than the pool: admitted, with a
	 * word (the arbiter never lends more than the pool) */
	mx[0] = 6;
	assert_int_equal(myco__loans_admit(8, 2, mn, mx, 2, why, sizeof why), 3);
	assert_non_null(strstr(why, "the pool has 3"));
	assert_non_null(strstr(why, "at most 4"));
	/* an empty range */
	unsigned bad_mn[1] = { 0 }, bad_mx[1] = { 2 };
	assert_int_equal(myco__loans_admit(8, 0, bad_mn, bad_mx, 1, why,
					   sizeof why), -MYCO_EADMISSION);
	/* no elastic partition: the pool is what is not reserved */
	assert_int_equal(myco__loans_admit(8, 5, NULL, NULL, 0, why, sizeof why), 3);
}

static myco_rt_loans_t ra, rb;

static void press(myco_rt_loans_t *r, unsigned i, uint64_t now)
{
	r->core[i].queued = 10;
	r->core[i].oldest_ns = 200000;
	r->core[i].updated_ns = now;
}

static void calm(myco_rt_loans_t *r, unsigned i, uint64_t now)
{
	r->core[i].queued = 0;
	r->core[i].oldest_ns = 0;
	r->core[i].updated_ns = now;
}

static void test_step(void **state)
{
	(void)state;
	myco__loans_t a;
	myco__loans_cfg_t cfg = { .hold_ns = 1000000 };
	myco__loans_init(&a, &cfg, 1); /* one core to lend */
	assert_int_equal(myco_rt_loans_init(&ra, 3, 1, 3), 0);
	assert_int_equal(myco_rt_loans_init(&rb, 2, 1, 2), 0);
	assert_int_equal(myco__loans_add(&a, "a", &ra, sizeof ra), 0);
	assert_int_equal(myco__loans_add(&a, "b", &rb, sizeof rb), 1);
	uint64_t t = 1000000000;
	/* nothing waits: nothing changes */
	calm(&ra, 0, t);
	calm(&rb, 0, t);
	assert_int_equal(myco__loans_step(&a, t), 0);
	/* both pressed, the pool has one core: the first gets it */
	t += 1000000;
	press(&ra, 0, t);
	press(&rb, 0, t);
	assert_int_equal(myco__loans_step(&a, t), 1);
	assert_int_equal(ra.core[1].grant, 1);
	assert_int_equal(rb.core[1].grant, 0);
	assert_int_equal(a.lent, 1);
	/* a loop that has not come back to its scheduler for longer than
	 * the delay, with work queued, is pressure as well */
	t += 10000;
	calm(&ra, 0, t);
	ra.core[0].queued = 1;
	ra.core[0].updated_ns = t - 100000;
	assert_int_equal(myco__loans_step(&a, t), 0); /* pool empty */
	assert_true(a.parts[0].pressure);
	/* a calms down and is idle: within the hold time it keeps the core */
	calm(&ra, 0, t);
	calm(&ra, 1, t);
	assert_int_equal(myco__loans_step(&a, t + 1000), 0);
	/* after it the core goes back, and b (still pressed) gets it in the
	 * same round */
	t += 2000000;
	press(&rb, 0, t);
	assert_int_equal(myco__loans_step(&a, t), 2);
	assert_int_equal(ra.core[1].grant, 0);
	assert_int_equal(rb.core[1].grant, 1);
	assert_int_equal(a.parts[0].revokes, 1);
	assert_int_equal(a.parts[1].grants, 1);
	assert_int_equal(a.lent, 1);
	/* a busy partition (utilisation near 1) keeps its loan */
	t += 2000000;
	calm(&rb, 0, t);
	calm(&rb, 1, t);
	rb.core[0].busy_ns += 2000000;
	rb.core[1].busy_ns += 2000000;
	assert_int_equal(myco__loans_step(&a, t), 0);
	assert_int_equal(rb.core[1].grant, 1);
	/* a scribbled region is refused */
	myco_rt_loans_t bad = ra;
	bad.max_active = 70;
	assert_int_equal(myco__loans_add(&a, "bad", &bad, sizeof bad), -EINVAL);
}

/* ---- end to end --------------------------------------------------------- */

static myco_rt_loans_t e_reg;
static atomic_int e_done, e_spawned;

/* 200 us of CPU.  Until the arbiter has granted the borrowed core once,
 * each finished task queues another (up to 200,000): on a loaded machine
 * the arbiter thread may get no CPU while a fixed flood runs, and the test
 * must wait for the grant, not race it. */
static int spin(void *arg)
{
	(void)arg;
	uint64_t end = myco_now() + 200000;
	while (myco_now() < end)
		;
	if (arg == NULL && __atomic_load_n(&e_reg.core[1].grant_seq, __ATOMIC_ACQUIRE) == 0 &&
	    atomic_fetch_add(&e_spawned, 1) < 200000)
		myco_spawn(myco_loop_current(), NULL, spin, NULL, NULL);
	atomic_fetch_add(&e_done, 1);
	return 0;
}

static void nop(void *arg)
{
	(void)arg;
}

static int flood(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++)
		myco_spawn(myco_loop_current(), NULL, spin, NULL, NULL);
	return 0;
}

static void test_end_to_end(void **state)
{
	(void)state;
	myco__loans_t a;
	myco__loans_init(&a, &(myco__loans_cfg_t){ .hold_ns = 2000000 }, 1);
	assert_int_equal(myco_rt_loans_init(&e_reg, 2, 1, 2), 0);
	myco_group_opts_t go = { .nloops = 2, .no_pin = true, .loans = &e_reg };
	myco_group_t *g;
	assert_int_equal(myco_group_create(&g, &go), 0);
	assert_int_equal(myco__loans_add(&a, "e", &e_reg, sizeof e_reg), 0);
	assert_int_equal(myco_group_start(g, NULL, NULL), 0);
	assert_int_equal(myco__loans_start(&a), 0);
	WAIT_FOR(__atomic_load_n(&e_reg.core[1].state, __ATOMIC_ACQUIRE) ==
		 MYCO_RT_CORE_PARKED);
	/* a flood: 2000 tasks of 200 us queued on loop 0 */
	int n = 2000;
	atomic_store(&e_spawned, n);
	assert_int_equal(myco_spawn_on(myco_group_loop(g, 0), flood,
				       (void *)(intptr_t)n, NULL), 0);
	/* the arbiter's decision (grant_seq), not the loop's own count of the
	 * grants it woke up to: a grant that reaches an awake loop is not in
	 * that count */
	WAIT_FOR(__atomic_load_n(&e_reg.core[1].grant_seq, __ATOMIC_ACQUIRE) >= 1);
	WAIT_FOR(atomic_load(&e_done) == atomic_load(&e_spawned));
	n = atomic_load(&e_spawned);
	/* the borrowed loop took part of the flood */
	myco_loop_stats_t st;
	assert_int_equal(myco_loop_stats(myco_group_loop(g, 1), &st), 0);
	assert_true(st.stolen_in > 0);
	/* idle again: the core goes back and the loop parks (a revoke is
	 * seen at the loop's next wake-up: a post gives it one) */
	WAIT_FOR(__atomic_load_n(&e_reg.core[1].grant, __ATOMIC_ACQUIRE) == 0);
	myco_spawn_on(myco_group_loop(g, 1), spin, (void *)1, NULL);
	WAIT_FOR(atomic_load(&e_done) == n + 1);
	/* the queued spawn may have made the arbiter lend the core once
	 * more and take it back while the loop slept: keep poking */
	for (long i = 0; __atomic_load_n(&e_reg.core[1].state, __ATOMIC_ACQUIRE) !=
			 MYCO_RT_CORE_PARKED; i++) {
		assert_true(i < 600000);
		if (__atomic_load_n(&e_reg.core[1].grant, __ATOMIC_ACQUIRE) == 0)
			myco_post(myco_group_loop(g, 1), nop, NULL);
		usleep(100);
	}
	myco__loans_stop(&a);
	assert_true(a.parts[0].grants >= 1 && a.parts[0].revokes >= 1);
	myco_group_stop(g);
	assert_int_equal(myco_group_join(g), 0);
	myco_group_destroy(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static const char *corpus;

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", corpus, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t len = fread(buf, 1, cap, f);
	fclose(f);
	return len;
}

static void test_hostile_region(void **state)
{
	(void)state;
	static uint8_t buf[65536];
	static myco_rt_loans_t r;
	static myco__loans_t a;
	/* refused: bad magic, a maximum beyond nloops */
	const char *bad[] = { "bad_magic", "bad_counts" };
	for (unsigned i = 0; i < 2; i++) {
		size_t n = load(bad[i], buf, sizeof(buf));
		assert_true(n >= sizeof(r));
		memcpy(&r, buf, sizeof(r));
		assert_int_equal(myco_rt_loans_check(&r, sizeof(r)), -EINVAL);
		myco__loans_init(&a, NULL, 2);
		assert_int_equal(myco__loans_add(&a, "x", &r, sizeof(r)), -EINVAL);
	}
	/* five lent cores against a pool of one: one stays, four revoked */
	assert_true(load("over_pool", buf, sizeof(buf)) >= sizeof(r));
	memcpy(&r, buf, sizeof(r));
	myco__loans_init(&a, NULL, 1);
	assert_int_equal(myco__loans_add(&a, "x", &r, sizeof(r)), 0);
	assert_int_equal(a.lent, 1);
	assert_int_equal(myco_rt_loans_granted(&r), 2);
}

/* The fuzz harness over every corpus file: no abort. */
static void test_fuzz_corpus(void **state)
{
	(void)state;
	static uint8_t buf[65536];
	DIR *d = opendir(corpus);
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		size_t len = load(de->d_name, buf, sizeof(buf));
		LLVMFuzzerTestOneInput(buf, len);
		n++;
	}
	closedir(d);
	assert_true(n >= 6);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_end_to_end),
		cmocka_unit_test(test_hostile_region),
		cmocka_unit_test(test_fuzz_corpus),
	};
	if (argc < 2) {
		fprintf(stderr, "usage: test_exec_loans CORPUS_DIR\n");
		return 2;
	}
	corpus = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
