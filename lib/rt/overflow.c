/*
 * overflow.c: the opt-in coroutine stack overflow report
 * (myco_rt_report_overflow): a SIGSEGV handler, run on a per-thread
 * alternate signal stack, that recognises a fault in the running
 * coroutine's guard page, says which coroutine overflowed, and hands the
 * signal on to the previous disposition.
 * Not for: recovering from the overflow (the stack is gone; the process
 * dies as it would have).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_int.h"

static struct sigaction g_prev;
static atomic_bool g_installed;
static long g_page = 4096;

#define ALTSTACK_SIZE (64 * 1024)

/* Give the calling (loop) thread an alternate signal stack if it has none.
 * The memory is never freed: it must outlive any signal on the thread. */
void myco__overflow_thread_setup(void)
{
	if (!atomic_load_explicit(&g_installed, memory_order_acquire))
		return;
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
		return;
	void *mem = malloc(ALTSTACK_SIZE);
	if (!mem)
		return;
	stack_t ss = { .ss_sp = mem, .ss_size = ALTSTACK_SIZE };
	if (sigaltstack(&ss, NULL) != 0)
		free(mem);
}

static void put(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void put_u(unsigned long v)
{
	char b[24];
	int i = (int)sizeof(b);
	b[--i] = 0;
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	put(b + i);
}

static void handler(int sig, siginfo_t *si, void *uc)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l ? l->cur : NULL;
	if (co && co->map) {
		char *a = si->si_addr, *g = co->map;
		if (a >= g && a < g + g_page) {
			put("myco: coroutine '");
			put(co->name);
			put("' overflowed its ");
			put_u((unsigned long)(co->stack_size / 1024));
			put(" KiB stack (guard page hit); give it a larger "
			    "myco_co_opts_t.stack_size\n");
		}
	}
	/* hand on to the previous disposition */
	if (g_prev.sa_flags & SA_SIGINFO) {
		if (g_prev.sa_sigaction) {
			g_prev.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (g_prev.sa_handler != SIG_DFL &&
		   g_prev.sa_handler != SIG_IGN) {
		g_prev.sa_handler(sig);
		return;
	}
	/* default: die of the same signal (the fault repeats on return) */
	signal(sig, SIG_DFL);
}

int myco_rt_report_overflow(void)
{
	bool f = false;
	if (!atomic_compare_exchange_strong(&g_installed, &f, true))
		return 0;
	long ps = sysconf(_SC_PAGESIZE);
	if (ps > 0)
		g_page = ps;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &g_prev) != 0) {
		atomic_store(&g_installed, false);
		return -errno;
	}
	myco__overflow_thread_setup();
	return 0;
}
