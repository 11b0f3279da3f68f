/*
 * test_ctx.c: the coroutine context switch: callee-saved integer registers
 * (x86-64: rbx, rbp, r12-r15, set and checked from assembly around a
 * yield while another coroutine clobbers them), floating-point control
 * state per coroutine (rounding mode), FP values live across switches,
 * deep stacks, and the guard page: a coroutine that overflows its stack
 * dies with SIGSEGV at the guard page (checked in a forked child).
 * Built twice: with the hand-written switch and with the ucontext fallback.
 */
#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_int.h"

#if defined(__x86_64__)
/* uint64_t regs_probe(uint64_t *out, uint64_t magic):
 * loads rbx, rbp, r12-r15 with magic+0..5, calls myco_yield(), stores what
 * the registers hold afterwards into out[0..5]; restores the caller's. */
uint64_t regs_probe(uint64_t *out, uint64_t magic);
__asm__(
	".text\n"
	".globl regs_probe\n"
	".type regs_probe, @function\n"
	"regs_probe:\n"
	"  pushq %rbx\n  pushq %rbp\n  pushq %r12\n  pushq %r13\n"
	"  pushq %r14\n  pushq %r15\n  pushq %rdi\n"
	"  movq %rsi, %rbx\n"
	"  leaq 1(%rsi), %rbp\n"
	"  leaq 2(%rsi), %r12\n"
	"  leaq 3(%rsi), %r13\n"
	"  leaq 4(%rsi), %r14\n"
	"  leaq 5(%rsi), %r15\n"
	"  call myco_yield@PLT\n"
	"  popq %rdi\n"
	"  movq %rbx, 0(%rdi)\n  movq %rbp, 8(%rdi)\n  movq %r12, 16(%rdi)\n"
	"  movq %r13, 24(%rdi)\n  movq %r14, 32(%rdi)\n  movq %r15, 40(%rdi)\n"
	"  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n"
	"  popq %rbp\n  popq %rbx\n"
	"  ret\n"
	".size regs_probe, .-regs_probe\n");
#define HAVE_PROBE 1
#endif

#ifdef HAVE_PROBE
static int probe_co(void *arg)
{
	uint64_t magic = (uint64_t)(uintptr_t)arg;
	uint64_t out[6];
	for (int round = 0; round < 50; round++) {
		memset(out, 0, sizeof(out));
		regs_probe(out, magic + (uint64_t)round * 16);
		for (int i = 0; i < 6; i++)
			if (out[i] != magic + (uint64_t)round * 16 + (uint64_t)i)
				return -1;
	}
	return 0;
}
#endif

static void test_callee_saved(void **state)
{
	(void)state;
#ifdef HAVE_PROBE
	myco_loop_t *l;
	myco_co_t *a, *b, *c;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &a, probe_co, (void *)0x1000, NULL), 0);
	assert_int_equal(myco_spawn(l, &b, probe_co, (void *)0x7777000, NULL), 0);
	assert_int_equal(myco_spawn(l, &c, probe_co, (void *)0xabcd00000, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r;
	assert_int_equal(myco_join(a, &r, 0), 0);
	assert_int_equal(r, 0);
	assert_int_equal(myco_join(b, &r, 0), 0);
	assert_int_equal(r, 0);
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
#else
	skip();
#endif
}

/* Each coroutine keeps its own rounding mode and FP values. */
static int fp_co(void *arg)
{
	int mode = (int)(intptr_t)arg;
	if (fesetround(mode) != 0)
		return -2;
	volatile double one = 1.0, three = 3.0;
	double acc = 0.5;
	for (int i = 0; i < 100; i++) {
		double q = one / three; /* rounding depends on the mode */
		acc = acc * 1.0000001 + q;
		myco_yield();
		if (fegetround() != mode)
			return -1;
		double q2 = one / three;
		if (q2 != q)
			return -3;
	}
	return acc > 0 ? 0 : -4;
}

static void test_fp_state(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_co_t *co[3];
	int modes[3] = { FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO };
	int before = fegetround();
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(myco_spawn(l, &co[i], fp_co,
					    (void *)(intptr_t)modes[i], NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	for (int i = 0; i < 3; i++) {
		int r;
		assert_int_equal(myco_join(co[i], &r, 0), 0);
		assert_int_equal(r, 0);
	}
	/* the scheduler's own mode is untouched */
	assert_int_equal(fegetround(), before);
	myco_loop_destroy(l);
}

static int depth_sum(int n)
{
	volatile char pad[256];
	pad[0] = (char)n;
	if (n == 0)
		return pad[0];
	return depth_sum(n - 1) + 1 + pad[0] * 0;
}

static int deep_co(void *arg)
{
	(void)arg;
	/* ~200 frames of >256 bytes: fits the default stack */
	return depth_sum(200);
}

static void test_deep_stack(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_co_t *co;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &co, deep_co, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -1;
	assert_int_equal(myco_join(co, &r, 0), 0);
	assert_int_equal(r, 200);
	myco_loop_destroy(l);
}

/* ---- guard page ------------------------------------------------------- */

static char *g_guard_lo, *g_guard_hi;

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char *a = si->si_addr;
	_exit(a >= g_guard_lo && a < g_guard_hi ? 42 : 43);
}

static volatile int g_limit = 1 << 30; /* never reached: the guard is */

static int overflow(int n)
{
	volatile char pad[512];
	pad[0] = (char)n;
	pad[511] = (char)n;
	if (n >= g_limit)
		return pad[0];
	return overflow(n + 1) + pad[0] + pad[511];
}

static int overflow_co(void *arg)
{
	(void)arg;
	return overflow(0);
}

static void test_guard_page(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		myco_loop_t *l;
		myco_co_t *co;
		myco_co_opts_t o = { .stack_size = 64 * 1024 };
		if (myco_loop_create(&l, NULL) != 0)
			_exit(2);
		if (myco_spawn(l, &co, overflow_co, NULL, &o) != 0)
			_exit(3);
		long ps = sysconf(_SC_PAGESIZE);
		g_guard_lo = co->map;
		g_guard_hi = (char *)co->map + ps;
		static char alt[64 * 1024];
		stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
		sigaltstack(&ss, NULL);
		struct sigaction sa = { 0 };
		sa.sa_sigaction = segv_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigaction(SIGSEGV, &sa, NULL);
		myco_loop_run(l);
		_exit(4); /* overflow must not return */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 42);
}

/* myco_rt_report_overflow: the dying child names the coroutine on stderr
 * and still dies of SIGSEGV. */
static void test_overflow_report(void **state)
{
	(void)state;
#ifdef MYCO_SANITIZED
	skip(); /* the sanitizer's own SIGSEGV handler reports overflows */
#else
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 2);
		signal(SIGSEGV, SIG_DFL); /* not cmocka's handler */
		if (myco_rt_report_overflow() != 0)
			_exit(2);
		myco_loop_t *l;
		myco_co_opts_t o = { .stack_size = 64 * 1024, .name = "deep" };
		if (myco_loop_create(&l, NULL) != 0 ||
		    myco_spawn(l, NULL, overflow_co, NULL, &o) != 0)
			_exit(3);
		myco_loop_run(l);
		_exit(4);
	}
	close(pfd[1]);
	char buf[512] = { 0 };
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(buf) - 1 &&
	       (n = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(pfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	assert_non_null(strstr(buf, "coroutine 'deep' overflowed its 64 KiB stack"));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callee_saved),
		cmocka_unit_test(test_fp_state),
		cmocka_unit_test(test_deep_stack),
		cmocka_unit_test(test_guard_page),
		cmocka_unit_test(test_overflow_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
