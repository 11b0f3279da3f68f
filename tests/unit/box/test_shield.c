/*
 * test_shield.c: shielded cores (exec/box/shield.c): CPU list and state
 * record parsing (good and bad input), then apply and restore for real on
 * processes of a session of our own (sched_setaffinity on real threads)
 * with the IRQ, work-queue and sysctl files in a fake tree: what moved is
 * put back, what someone else changed meanwhile is left alone, and a
 * shield whose owner was killed with SIGKILL is restored from its state
 * file.  Needs 2 or more CPUs (else skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "box_int.h"

static void test_cpulist(void **state)
{
	(void)state;
	uint64_t m;
	char b[64];
	assert_int_equal(myco__box_cpulist_parse_mask("0-2,5,7-8", &m), 0);
	assert_int_equal(m, 0x1a7);
	myco__box_cpulist_format(m, b, sizeof(b));
	assert_string_equal(b, "0-2,5,7-8");
	assert_int_equal(myco__box_cpulist_parse_mask("", &m), 0);
	assert_int_equal(m, 0);
	const char *bad[] = { "a", "1-", "3-1", "1,,2", "64", "0-99", "1 2", "-1", ",", NULL };
	for (int i = 0; bad[i]; i++)
		assert_true(myco__box_cpulist_parse_mask(bad[i], &m) < 0);
	myco__box_cpulist_format(0, b, sizeof(b));
	assert_string_equal(b, "");
	char tiny[3];
	myco__box_cpulist_format(0x1a7, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_records(void **state)
{
	(void)state;
	struct myco__box_shield_rec r;
	assert_int_equal(myco__box_shield_parse_line("myco-shield 1 2", &r), 0);
	assert_int_equal(r.kind, MYCO__SHIELD_REC_HEADER);
	assert_int_equal(r.orig, 2);
	assert_int_equal(myco__box_shield_parse_line("task 42 123456 3 1", &r), 0);
	assert_int_equal(r.kind, MYCO__SHIELD_REC_TASK);
	assert_int_equal(r.n, 42);
	assert_int_equal(r.start, 123456);
	assert_int_equal(r.orig, 3);
	assert_int_equal(r.set, 1);
	assert_int_equal(myco__box_shield_parse_line("irq 24 0-3", &r), 0);
	assert_int_equal(r.orig, 0xf);
	assert_int_equal(myco__box_shield_parse_line("wq ff", &r), 0);
	assert_int_equal(r.orig, 0xff);
	assert_int_equal(myco__box_shield_parse_line("timer_migration 1", &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(myco__box_shield_parse_line("myco-shield 2 2", &r), -EPROTO);
	const char *bad[] = { "", "task", "task 0 1 3 1", "task -5 1 3 1", "task 1 1 0 1",
			      "task 1 1 3 0", "task 1 x 3 1", "task 1 1 3 1 9", "irq 1 ",
			      "irq 1 0-99", "irq 99999999 1", "wq 0", "wq zz",
			      "timer_migration 7", "bogus 1", "myco-shield 1 2g", NULL };
	for (int i = 0; bad[i]; i++)
		assert_true(myco__box_shield_parse_line(bad[i], &r) < 0);
	char longl[400];
	memset(longl, 'a', sizeof(longl) - 1);
	longl[sizeof(longl) - 1] = 0;
	assert_true(myco__box_shield_parse_line(longl, &r) < 0);
}

/* ---- apply / restore ---------------------------------------------------- */

static char g_root[128];
static char g_state[192];
static uint64_t g_online, g_shield;

static void wfile(const char *rel, const char *v)
{
	char p[512];
	snprintf(p, sizeof(p), "%s%s", g_root, rel);
	for (char *q = p + strlen(g_root) + 1; *q; q++)
		if (*q == '/') {
			*q = 0;
			mkdir(p, 0755);
			*q = '/';
		}
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(v, f);
	fclose(f);
}

static void rfile(const char *rel, char *out, size_t cap)
{
	char p[512];
	snprintf(p, sizeof(p), "%s%s", g_root, rel);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	if (!fgets(out, (int)cap, f))
		out[0] = 0;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
}

static uint64_t affinity(pid_t pid)
{
	cpu_set_t s;
	uint64_t m = 0;
	if (sched_getaffinity(pid, sizeof(s), &s) < 0)
		return 0;
	for (int i = 0; i < 64; i++)
		if (CPU_ISSET(i, &s))
			m |= 1ull << i;
	return m;
}

static void set_affinity(pid_t pid, uint64_t m)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	for (int i = 0; i < 64; i++)
		if (m & (1ull << i))
			CPU_SET(i, &s);
	assert_int_equal(sched_setaffinity(pid, sizeof(s), &s), 0);
}

/* The processes a test made, killed after every test, failed or not. */
static pid_t g_victims[3];

static int kill_victims(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		if (g_victims[i] > 0)
			kill(g_victims[i], SIGKILL);
	if (g_victims[0] > 0)
		waitpid(g_victims[0], NULL, 0);
	memset(g_victims, 0, sizeof(g_victims));
	return 0;
}

/* A session leader with two sleeping children; returns the leader's pid
 * and the children's through kids[]. */
static pid_t victims(pid_t kids[2])
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t leader = fork();
	assert_true(leader >= 0);
	if (leader == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setsid();
		pid_t k[2];
		for (int i = 0; i < 2; i++) {
			k[i] = fork();
			if (k[i] == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
		}
		(void)!write(p[1], k, sizeof(k));
		for (;;)
			pause();
	}
	close(p[1]);
	g_victims[0] = leader;
	assert_int_equal(read(p[0], kids, 2 * sizeof(pid_t)), (ssize_t)(2 * sizeof(pid_t)));
	g_victims[1] = kids[0];
	g_victims[2] = kids[1];
	close(p[0]);
	/* wait until the leader's setsid() is visible */
	for (int i = 0; i < 1000 && getsid(leader) != leader; i++)
		usleep(1000);
	assert_int_equal(getsid(leader), leader);
	return leader;
}

static void fake_tree(void)
{
	char v[64];
	snprintf(g_root, sizeof(g_root), "/tmp/myco-shield-test-%d", (int)getpid());
	mkdir(g_root, 0755);
	snprintf(g_state, sizeof(g_state), "%s/shield.state", g_root);
	unlink(g_state);
	myco__box_cpulist_format(g_online, v, sizeof(v));
	wfile("/proc/irq/5/smp_affinity_list", v);        /* everywhere: moves */
	myco__box_cpulist_format(g_shield, v, sizeof(v));
	wfile("/proc/irq/6/smp_affinity_list", v);        /* only there: stays */
	snprintf(v, sizeof(v), "%llx", (unsigned long long)g_online);
	wfile("/sys/devices/virtual/workqueue/cpumask", v);
	wfile("/proc/sys/kernel/timer_migration", "1\n");
	wfile("/proc/cmdline", "root=/dev/vda\n");
	wfile("/sys/devices/system/cpu/nohz_full", "(null)\n");
}

static int setup(void **state)
{
	(void)state;
	g_online = affinity(0);
	if (__builtin_popcountll(g_online) < 2)
		return 0;
	g_shield = 1ull << (63 - __builtin_clzll(g_online)); /* highest CPU */
	fake_tree();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	myco__box_shield_set_root(NULL, 0);
	if (g_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", g_root);
		(void)!system(cmd);
	}
	return 0;
}

static const struct myco__box_shield_item *find(const struct myco__box_shield_report *r,
						const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->items[i].name, name))
			return &r->items[i];
	return NULL;
}

static void kill_all(pid_t leader, pid_t kids[2])
{
	kill(kids[0], SIGKILL);
	kill(kids[1], SIGKILL);
	kill(leader, SIGKILL);
	waitpid(leader, NULL, 0);
}

static void test_apply_restore(void **state)
{
	(void)state;
	if (__builtin_popcountll(g_online) < 2)
		skip();
	pid_t kids[2], leader = victims(kids);
	myco__box_shield_set_root(g_root, leader);
	set_affinity(kids[1], g_shield); /* allowed only there: must stay */
	struct myco__box_shield_report rep;
	assert_int_equal(myco__box_shield_apply(g_state, g_shield, NULL, 0, &rep), 0);
	assert_int_equal(affinity(leader), g_online & ~g_shield);
	assert_int_equal(affinity(kids[0]), g_online & ~g_shield);
	assert_int_equal(affinity(kids[1]), g_shield);
	assert_int_equal(affinity(0), g_online); /* not in the session */
	char v[64], w[64];
	rfile("/proc/irq/5/smp_affinity_list", v, sizeof(v));
	myco__box_cpulist_format(g_online & ~g_shield, w, sizeof(w));
	assert_string_equal(v, w);
	rfile("/proc/irq/6/smp_affinity_list", v, sizeof(v));
	myco__box_cpulist_format(g_shield, w, sizeof(w));
	assert_string_equal(v, w);
	rfile("/sys/devices/virtual/workqueue/cpumask", v, sizeof(v));
	snprintf(w, sizeof(w), "%llx", (unsigned long long)(g_online & ~g_shield));
	assert_string_equal(v, w);
	rfile("/proc/sys/kernel/timer_migration", v, sizeof(v));
	assert_string_equal(v, "0");
	/* the report: what was done, and the boot parameters for the rest */
	const struct myco__box_shield_item *it = find(&rep, "tasks");
	assert_non_null(it);
	assert_non_null(strstr(it->detail, "2 threads moved off"));
	assert_non_null(strstr(it->detail, "1 left"));
	assert_non_null((it = find(&rep, "irqs")));
	assert_non_null(strstr(it->detail, "1 interrupts steered off"));
	assert_non_null((it = find(&rep, "tick")));
	assert_int_equal(it->state, MYCO__BOX_DEGRADED);
	myco__box_cpulist_format(g_shield, w, sizeof(w));
	char want[96];
	snprintf(want, sizeof(want), "nohz_full=%s", w);
	assert_non_null(strstr(it->detail, want));
	assert_non_null((it = find(&rep, "rcu")));
	snprintf(want, sizeof(want), "rcu_nocbs=%s", w);
	assert_non_null(strstr(it->detail, want));
	/* a second shield over an unrestored one is refused */
	assert_int_equal(myco__box_shield_apply(g_state, g_shield, NULL, 0, &rep), -EEXIST);

	/* someone else changes kids[0] meanwhile: restore leaves it alone */
	set_affinity(kids[0], g_shield);
	assert_int_equal(myco__box_shield_restore(g_state, &rep), 0);
	assert_int_equal(affinity(leader), g_online);
	assert_int_equal(affinity(kids[0]), g_shield);
	assert_int_equal(affinity(kids[1]), g_shield);
	rfile("/proc/irq/5/smp_affinity_list", v, sizeof(v));
	myco__box_cpulist_format(g_online, w, sizeof(w));
	assert_string_equal(v, w);
	rfile("/sys/devices/virtual/workqueue/cpumask", v, sizeof(v));
	snprintf(w, sizeof(w), "%llx", (unsigned long long)g_online);
	assert_string_equal(v, w);
	rfile("/proc/sys/kernel/timer_migration", v, sizeof(v));
	assert_string_equal(v, "1");
	assert_non_null((it = find(&rep, "tasks")));
	assert_non_null(strstr(it->detail, "1 threads given their affinity back; 1 gone or changed"));
	assert_int_equal(access(g_state, F_OK), -1);
	assert_int_equal(myco__box_shield_restore(g_state, &rep), -ENOENT);
	kill_all(leader, kids);
}

/* The owner of a shield dies by SIGKILL: its state file brings it all back
 * at the next start. */
static void test_restore_after_kill9(void **state)
{
	(void)state;
	if (__builtin_popcountll(g_online) < 2)
		skip();
	fake_tree();
	pid_t kids[2], leader = victims(kids);
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t owner = fork();
	assert_true(owner >= 0);
	if (owner == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct myco__box_shield_report rep;
		myco__box_shield_set_root(g_root, leader);
		int rc = myco__box_shield_apply(g_state, g_shield, NULL, 0, &rep);
		(void)!write(p[1], &rc, sizeof(rc));
		for (;;)
			pause();
	}
	int rc = -1;
	assert_int_equal(read(p[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
	assert_int_equal(rc, 0);
	kill(owner, SIGKILL);
	waitpid(owner, NULL, 0);
	assert_int_equal(affinity(kids[0]), g_online & ~g_shield);
	char v[64];
	rfile("/proc/sys/kernel/timer_migration", v, sizeof(v));
	assert_string_equal(v, "0");
	struct myco__box_shield_report rep;
	myco__box_shield_set_root(g_root, leader);
	assert_int_equal(myco__box_shield_restore(g_state, &rep), 0);
	assert_int_equal(affinity(kids[0]), g_online);
	assert_int_equal(affinity(kids[1]), g_online);
	assert_int_equal(affinity(leader), g_online);
	rfile("/proc/sys/kernel/timer_migration", v, sizeof(v));
	assert_string_equal(v, "1");
	kill_all(leader, kids);
	close(p[0]);
	close(p[1]);
}

static void test_bad_state_and_masks(void **state)
{
	(void)state;
	struct myco__box_shield_report rep;
	if (__builtin_popcountll(g_online) < 2)
		skip();
	fake_tree();
	assert_int_equal(myco__box_shield_apply(g_state, 0, NULL, 0, &rep), -EINVAL);
	assert_int_equal(myco__box_shield_apply(g_state, g_online, NULL, 0, &rep), -EDOM);
	assert_int_equal(myco__box_shield_apply(g_state, 1ull << 63, NULL, 0, &rep), -ERANGE);
	/* a state file without its header: nothing is done, the file kept */
	FILE *f = fopen(g_state, "w");
	assert_non_null(f);
	fprintf(f, "timer_migration 1\ngarbage\n");
	fclose(f);
	wfile("/proc/sys/kernel/timer_migration", "0\n");
	assert_int_equal(myco__box_shield_restore(g_state, &rep), -EPROTO);
	char v[8];
	rfile("/proc/sys/kernel/timer_migration", v, sizeof(v));
	assert_string_equal(v, "0");
	assert_int_equal(access(g_state, F_OK), 0);
	unlink(g_state);
}

static void test_cache_ways_absent(void **state)
{
	(void)state;
	char d[256];
	myco__box_shield_set_root(g_root[0] ? g_root : "/nonexistent", 0);
	assert_int_equal(myco__box_cache_ways("sys", "p", 4, NULL, 0, d, sizeof(d)), -ENOTSUP);
	assert_non_null(strstr(d, "shares the last-level cache"));
	myco__box_shield_set_root(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_records),
		cmocka_unit_test_teardown(test_apply_restore, kill_victims),
		cmocka_unit_test_teardown(test_restore_after_kill9, kill_victims),
		cmocka_unit_test(test_bad_state_and_masks),
		cmocka_unit_test(test_cache_ways_absent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
