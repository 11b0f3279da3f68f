/*
 * tests/unit/box/test_box_unit.c: the box's pure parts and its argument
 * checking: report names, text and JSON (checked with jansson), CFS quota
 * arithmetic, cpuset lists, the seccomp program builder and syscall names,
 * spawn spec validation (no process may be created for a bad spec), frame
 * schedule validation and a start/stop of the frame thread.
 * Not for: real boxed processes (tests/integration/box).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "box_int.h"

static char sysname[32];
static const char *rpath_exe;   /* argv[1]: built with a known run path */

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < MYCO__BOX_MECH_COUNT; i++) {
		const char *a = myco__box_mech_name((enum myco__box_mech)i);

		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a,
				myco__box_mech_name((enum myco__box_mech)j));
	}
	assert_string_equal(myco__box_mech_name(MYCO__BOX_MECH_COUNT), "unknown");
	assert_string_equal(myco__box_state_name(MYCO__BOX_APPLIED), "applied");
	assert_string_equal(myco__box_state_name(MYCO__BOX_DEGRADED), "degraded");
	assert_string_equal(myco__box_state_name(MYCO__BOX_NOT_REQUESTED),
			    "not-requested");
}

static void test_spec_defaults(void **state)
{
	myco__box_spec_t s;

	(void)state;
	memset(&s, 0x5a, sizeof(s));
	myco__box_spec_init(&s);
	assert_int_equal(s.want, MYCO__BOX_WANT_ALL);
	assert_int_equal(s.view, MYCO__BOX_VIEW_MINIMAL);
	assert_int_equal(s.seccomp_action, MYCO__BOX_SECCOMP_NOTIFY);
	assert_int_equal(s.uid, (uid_t)-1);
	assert_int_equal(s.gid, (gid_t)-1);
	assert_null(s.argv);
	assert_int_equal(s.memory_max, 0);
	assert_false(s.net);
}

static void test_report_text_json(void **state)
{
	myco__box_report_t r;
	char buf[4096];
	json_t *j, *it;
	json_error_t err;
	int n;

	(void)state;
	memset(&r, 0, sizeof(r));
	myco__box_item_set(&r, MYCO__BOX_PIDNS, MYCO__BOX_APPLIED, 0, NULL);
	myco__box_item_set(&r, MYCO__BOX_CG_MEMORY, MYCO__BOX_DEGRADED, -EACCES,
			   "cgroup v1 memory: \"%s\"\n", "EACCES");
	assert_int_equal(myco__box_report_degraded(&r), 1);

	n = myco__box_report_format(&r, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_non_null(strstr(buf, "pid-ns            applied"));
	assert_non_null(strstr(buf, "cgroup-memory     degraded      cgroup v1"));
	assert_non_null(strstr(buf, "seccomp           not-requested"));

	n = myco__box_report_json(&r, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	j = json_loads(buf, 0, &err);
	if (!j)
		fail_msg("bad JSON: %s: %s", err.text, buf);
	assert_int_equal(json_object_size(j), MYCO__BOX_MECH_COUNT);
	it = json_object_get(j, "cgroup-memory");
	assert_string_equal(json_string_value(json_object_get(it, "state")),
			    "degraded");
	assert_string_equal(json_string_value(json_object_get(it, "detail")),
			    "cgroup v1 memory: \"EACCES\"\n");
	json_decref(j);
}

static void test_report_truncates(void **state)
{
	myco__box_report_t r;
	char small[16], big[4096];
	int need;

	(void)state;
	memset(&r, 0, sizeof(r));
	need = myco__box_report_format(&r, big, sizeof(big));
	assert_int_equal(myco__box_report_format(&r, small, sizeof(small)), need);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	need = myco__box_report_json(&r, big, sizeof(big));
	assert_int_equal(myco__box_report_json(&r, small, sizeof(small)), need);
	assert_int_equal(myco__box_report_json(&r, NULL, 0), need);
}

static void test_quota(void **state)
{
	uint64_t q, p;

	(void)state;
	myco__cg_quota(20000000, 100000000, &q, &p);      /* 20 ms / 100 ms */
	assert_int_equal(q, 20000);
	assert_int_equal(p, 100000);
	myco__cg_quota(500000, 1000000, &q, &p);          /* 0.5 / 1 ms */
	assert_int_equal(p, 2000);                        /* scaled up */
	assert_int_equal(q, 1000);
	myco__cg_quota(100000, 200000, &q, &p);           /* period < 1 ms */
	assert_int_equal(p, 2000);
	assert_int_equal(q, 1000);
	myco__cg_quota(2000000000, 4000000000, &q, &p);   /* period > 1 s */
	assert_int_equal(p, 1000000);
	assert_int_equal(q, 500000);
	myco__cg_quota(1000000, 10000000000ull, &q, &p);  /* tiny share */
	assert_int_equal(p, 1000000);
	assert_int_equal(q, 1000);                        /* kernel minimum */
}

static void test_cpulist(void **state)
{
	char b[64];

	(void)state;
	assert_int_equal(myco__cg_cpulist(0xb, b, sizeof(b)), 5);
	assert_string_equal(b, "0-1,3");
	assert_int_equal(myco__cg_cpulist(0, b, sizeof(b)), 0);
	assert_string_equal(b, "");
	myco__cg_cpulist(1ull << 63, b, sizeof(b));
	assert_string_equal(b, "63");
	myco__cg_cpulist(0x5555555555555555ull, b, sizeof(b));
	assert_int_equal(strncmp(b, "0,2,4", 5), 0);
	assert_int_equal(myco__cg_cpulist(0x5555555555555555ull, b, 8),
			 -ENAMETOOLONG);
}

static void test_cgroup_dir(void **state)
{
	char d[MYCO__CG_PATH_MAX], small[8];
	int n;

	(void)state;
	n = myco__cg_dir(MYCO__CG_FREEZER, NULL, "myco/s/p/i", d, sizeof(d));
	if (n == -ENOENT) {
		print_message("skipped: no freezer hierarchy\n");
		skip();
	}
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(d));
	assert_int_equal(strncmp(d, "/sys/fs/cgroup", 14), 0);
	assert_non_null(strstr(d, "/myco/s/p/i"));
	assert_int_not_equal(d[n - 1], '/');
	assert_int_equal(myco__cg_dir(MYCO__CG_FREEZER, "/", "x", d, sizeof(d)) > 0,
			 1);
	assert_non_null(strstr(d, "/x"));
	assert_int_equal(myco__cg_dir(MYCO__CG_FREEZER, NULL, "myco/s", small,
				      sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(myco__cg_dir(MYCO__CG_NCTL, NULL, "x", d, sizeof(d)),
			 -ENOENT);
}

static void test_seccomp_build(void **state)
{
	myco__box_spec_t s;
	struct sock_fprog base, net, rw;
	struct myco__box_path paths[1] = { { "/tmp", true } };
	const char *bad[] = { "socket", "not_a_syscall" };
	char name[64] = "";

	(void)state;
	myco__box_spec_init(&s);
	assert_int_equal(myco__box_seccomp_build(&s, 0, &base, NULL, 0), 0);
	assert_true(base.len > 50);
	s.net = true;
	assert_int_equal(myco__box_seccomp_build(&s, 0, &net, NULL, 0), 0);
	assert_true(net.len > base.len);
	myco__box_seccomp_free(&net);
	assert_int_equal(myco__box_seccomp_build(&s, MYCO__SC_AFFINITY, &net,
						 NULL, 0), 0);
	myco__box_seccomp_free(&net);
	s.net = false;
	s.flags |= MYCO__BOX_F_NO_IO_URING;
	assert_int_equal(myco__box_seccomp_build(&s, 0, &net, NULL, 0), 0);
	assert_true(net.len < base.len);
	myco__box_seccomp_free(&net);
	s.flags = 0;
	s.paths = paths;
	s.npaths = 1;
	assert_int_equal(myco__box_seccomp_build(&s, 0, &rw, NULL, 0), 0);
	assert_true(rw.len > base.len);
	s.allow_syscalls = bad;
	s.nallow_syscalls = 2;
	assert_int_equal(myco__box_seccomp_build(&s, 0, &net, name, sizeof(name)),
			 -EINVAL);
	assert_string_equal(name, "not_a_syscall");
	assert_null(net.filter);
	myco__box_seccomp_free(&base);
	myco__box_seccomp_free(&rw);
	myco__box_seccomp_free(&net);
}

static void test_syscall_names(void **state)
{
	(void)state;
	assert_string_equal(myco__box_syscall_name(SYS_socket), "socket");
	assert_string_equal(myco__box_syscall_name(SYS_ptrace), "ptrace");
	assert_null(myco__box_syscall_name(100000));
	assert_string_equal(myco__errname(-EPERM), "EPERM");
	assert_string_equal(myco__errname(EACCES), "EACCES");
	assert_string_equal(myco__errname(-9999), "error");
}

static void test_strings(void **state)
{
	char b[8];

	(void)state;
	assert_int_equal(myco__s_cpy(b, sizeof(b), "abcdefghij"), 7);
	assert_string_equal(b, "abcdefg");
	myco__s_cpy(b, sizeof(b), "ab");
	myco__s_cat(b, sizeof(b), "cd");
	assert_string_equal(b, "abcd");
	myco__s_catu(b, sizeof(b), 123);
	assert_string_equal(b, "abcd123");
	myco__s_catu(b, sizeof(b), 9);          /* full: unchanged */
	assert_string_equal(b, "abcd123");
	myco__s_cpy(b, sizeof(b), "");
	myco__s_catu(b, sizeof(b), 0);
	assert_string_equal(b, "0");
}

static void test_spawn_rejects_bad_spec(void **state)
{
	const char *argv[] = { "true", NULL };
	struct myco__box_fd dup_fds[2] = { { 1, 5 }, { 2, 5 } };
	struct myco__box_fd closed_fd[1] = { { 900, -1 } };
	myco__box_spec_t s;
	myco__box_report_t r;
	pid_t pid = 123;
	int pidfd = 123;

	(void)state;
	myco__box_spec_init(&s);
	s.system = sysname;
	s.partition = "p";
	s.path = "/bin/true";
	s.argv = argv;

	s.partition = "a/b";
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	assert_int_equal(pid, 0);
	assert_int_equal(pidfd, -1);
	assert_int_equal(r.seccomp_fd, -1);
	s.partition = "..";
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	s.partition = "p";

	s.path = "bin/true";                     /* not absolute */
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	s.path = "/bin/true";

	s.fds = dup_fds;                         /* two fds on one target */
	s.nfds = 2;
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	s.fds = closed_fd;                       /* not open */
	s.nfds = 1;
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EBADF);
	s.fds = NULL;
	s.nfds = 0;

	s.time_mode = MYCO__BOX_TIME_BUDGET;     /* runtime > period */
	s.runtime_ns = 2;
	s.period_ns = 1;
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	s.time_mode = MYCO__BOX_TIME_NONE;

	s.cgroup_base = "/";                     /* reserved */
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	s.cgroup_base = NULL;

	s.argv = NULL;
	assert_int_equal(myco__box_spawn(&s, &r, &pid, &pidfd), -EINVAL);
	assert_int_equal(pid, 0);

	assert_int_equal(myco__box_deadline_apply(0, 1, 2), -EINVAL);
	assert_int_equal(myco__box_deadline_apply(1, 3, 2), -EINVAL);
	assert_int_equal(myco__box_destroy("a/b", "p", NULL), -EINVAL);
	assert_int_equal(myco__box_cleanup_stale(""), -EINVAL);
}

static void test_frame_validation(void **state)
{
	myco__box_frame_t *fr = NULL;
	struct myco__box_frame_stats st;
	int a, b;

	(void)state;
	assert_int_equal(myco__box_frame_new(sysname, 0, &fr), -EINVAL);
	assert_null(fr);
	assert_int_equal(myco__box_frame_new("x/y", 1000, &fr), -EINVAL);
	assert_int_equal(myco__box_frame_new(sysname, 10000000, &fr), 0);
	assert_int_equal(myco__box_frame_add(fr, "fa", 0, &a), 0);
	assert_int_equal(myco__box_frame_add(fr, "fb", 0, &b), 0);
	assert_int_equal(myco__box_frame_add(fr, "", 0, &b), -EINVAL);
	assert_int_equal(myco__box_frame_window(fr, a, 0, 0, 4000000), 0);
	/* overlap on the same core: refused; on another core: fine */
	assert_int_equal(myco__box_frame_window(fr, b, 0, 3000000, 2000000),
			 -EINVAL);
	assert_int_equal(myco__box_frame_window(fr, b, 1, 3000000, 2000000), 0);
	assert_int_equal(myco__box_frame_window(fr, b, 0, 4000000, 6000000), 0);
	/* outside the major frame, empty, bad index */
	assert_int_equal(myco__box_frame_window(fr, a, 2, 9000000, 2000000),
			 -EINVAL);
	assert_int_equal(myco__box_frame_window(fr, a, 2, 0, 0), -EINVAL);
	assert_int_equal(myco__box_frame_window(fr, 7, 2, 0, 1000), -EINVAL);
	assert_int_equal(myco__box_frame_set_pid(fr, 7, 1), -EINVAL);
	assert_int_equal(myco__box_frame_stats(fr, -1, &st), -EINVAL);

	/* the thread runs frames and stops on request */
	assert_int_equal(myco__box_frame_start(fr), 0);
	assert_int_equal(myco__box_frame_start(fr), -EALREADY);
	assert_int_equal(myco__box_frame_add(fr, "fc", 0, &b), -EBUSY);
	nanosleep(&(struct timespec){ 0, 60 * 1000000 }, NULL);
	assert_int_equal(myco__box_frame_stop(fr), 0);
	assert_int_equal(myco__box_frame_stop(fr), 0);
	assert_int_equal(myco__box_frame_stats(fr, a, &st), 0);
	assert_true(st.frames >= 1);
	assert_true(st.windows >= 1);
	myco__box_frame_free(fr);
	myco__box_frame_free(NULL);
}

static void test_elf_runpath(void **state)
{
	char rp[1024];

	(void)state;
	if (!rpath_exe) {
		print_message("skipped: no run-path test program given\n");
		skip();
	}
	assert_true(myco__box_elf_runpath(rpath_exe, rp, sizeof(rp)) > 0);
	assert_non_null(strstr(rp, "/opt/myco-box-rpath-test"));
	assert_non_null(strstr(rp, "$ORIGIN/../box-lib"));
	/* not ELF, missing */
	assert_int_equal(myco__box_elf_runpath("/etc/hostname", rp, sizeof(rp)), 0);
	assert_string_equal(rp, "");
	assert_int_equal(myco__box_elf_runpath("/nonexistent/x", rp, sizeof(rp)),
			 -ENOENT);
}

static int teardown(void **state)
{
	(void)state;
	myco__box_cleanup_stale(sysname);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_spec_defaults),
		cmocka_unit_test(test_report_text_json),
		cmocka_unit_test(test_report_truncates),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_cgroup_dir),
		cmocka_unit_test(test_seccomp_build),
		cmocka_unit_test(test_syscall_names),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_spawn_rejects_bad_spec),
		cmocka_unit_test(test_frame_validation),
		cmocka_unit_test(test_elf_runpath),
	};

	if (argc > 1)
		rpath_exe = argv[1];
	snprintf(sysname, sizeof(sysname), "boxunit%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, teardown);
}
