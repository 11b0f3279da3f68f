/*
 * switch.c: coroutine switch cost.  Three systems, alternated, 5 repetitions
 * each: myco-ctx (the bare hand-written context switch, one direction),
 * myco-yield (myco_yield between two coroutines: switch to the scheduler,
 * ready-queue push/pop, latency accounting, switch back in), and ucontext
 * (glibc swapcontext, one direction).  Reported per switch, with cycles
 * from rdtsc on x86-64.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "bench.h"
#include "rt_int.h"

#if defined(__x86_64__)
#include <x86intrin.h>
static uint64_t cycles(void) { return __rdtsc(); }
#define HAVE_CYCLES 1
#else
static uint64_t cycles(void) { return 0; }
#endif

static long g_n;

/* ---- bare myco context switch ------------------------------------------ */

static myco__ctx_t g_main, g_co;

static void ctx_entry(void)
{
	for (;;)
		myco__ctx_swap(&g_co, &g_main);
}

static void run_ctx(double *ns, double *cyc)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	myco__ctx_make(&g_co, stack, sizeof(stack), ctx_entry);
	myco__ctx_swap(&g_main, &g_co); /* warm */
	uint64_t t0 = myco_now(), c0 = cycles();
	for (long i = 0; i < g_n; i++)
		myco__ctx_swap(&g_main, &g_co);
	uint64_t c1 = cycles(), t1 = myco_now();
	*ns = (double)(t1 - t0) / (2.0 * (double)g_n);
	*cyc = (double)(c1 - c0) / (2.0 * (double)g_n);
}

/* ---- ucontext ---------------------------------------------------------- */

static ucontext_t u_main, u_co;

static void u_entry(void)
{
	for (;;)
		swapcontext(&u_co, &u_main);
}

static void run_ucontext(double *ns, double *cyc)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	getcontext(&u_co);
	u_co.uc_stack.ss_sp = stack;
	u_co.uc_stack.ss_size = sizeof(stack);
	u_co.uc_link = NULL;
	makecontext(&u_co, u_entry, 0);
	swapcontext(&u_main, &u_co);
	uint64_t t0 = myco_now(), c0 = cycles();
	for (long i = 0; i < g_n; i++)
		swapcontext(&u_main, &u_co);
	uint64_t c1 = cycles(), t1 = myco_now();
	*ns = (double)(t1 - t0) / (2.0 * (double)g_n);
	*cyc = (double)(c1 - c0) / (2.0 * (double)g_n);
}

/* ---- myco_yield between two coroutines ----------------------------------- */

static int yielder(void *arg)
{
	(void)arg;
	for (long i = 0; i < g_n; i++)
		myco_yield();
	return 0;
}

static void run_yield(double *ns, double *cyc)
{
	myco_loop_t *l;
	if (myco_loop_create(&l, NULL) != 0) {
		*ns = *cyc = 0;
		return;
	}
	myco_spawn(l, NULL, yielder, NULL, NULL);
	myco_spawn(l, NULL, yielder, NULL, NULL);
	uint64_t t0 = myco_now(), c0 = cycles();
	myco_loop_run(l);
	uint64_t c1 = cycles(), t1 = myco_now();
	/* 2 coroutines x g_n yields; each yield = out + in = 2 switches */
	*ns = (double)(t1 - t0) / (4.0 * (double)g_n);
	*cyc = (double)(c1 - c0) / (4.0 * (double)g_n);
	myco_loop_destroy(l);
}

int bench_switch(void)
{
	enum { REPS = 5 };
	const char *names[3] = { "myco-ctx", "myco-yield", "ucontext" };
	void (*fns[3])(double *, double *) = { run_ctx, run_yield, run_ucontext };
	double ns[3][REPS], cy[3][REPS];
	g_n = g_opt.quick ? 200000 : 2000000;
	pin_cpu(g_opt.cpu_a);
	for (int r = 0; r < REPS; r++)
		for (int s = 0; s < 3; s++)
			fns[s](&ns[s][r], &cy[s][r]);
	table_title("Coroutine switch cost (per switch, one direction)");
	table_line("%ld switches x %d repetitions, alternated, pinned to CPU %d\n\n",
		   2 * g_n, REPS, g_opt.cpu_a);
	table_line("| system | median ns | min ns | max ns | median cycles |\n");
	table_line("| --- | ---: | ---: | ---: | ---: |\n");
	double med_ns[3];
	for (int s = 0; s < 3; s++) {
		double mn = ns[s][0], mx = ns[s][0];
		for (int r = 1; r < REPS; r++) {
			if (ns[s][r] < mn) mn = ns[s][r];
			if (ns[s][r] > mx) mx = ns[s][r];
		}
		med_ns[s] = median_d(ns[s], REPS);
		double mc = median_d(cy[s], REPS);
		table_line("| %s | %.1f | %.1f | %.1f | %.0f |\n", names[s],
			   med_ns[s], mn, mx, mc);
		char extra[128];
		snprintf(extra, sizeof(extra), ",\"reps\":%d,\"switches\":%ld", REPS, 2 * g_n);
		emit("rt.switch", names[s], "p50", med_ns[s], "ns", extra);
		emit("rt.switch", names[s], "min", mn, "ns", extra);
		emit("rt.switch", names[s], "max", mx, "ns", extra);
#ifdef HAVE_CYCLES
		emit("rt.switch", names[s], "cycles", mc, "cycles", extra);
#endif
	}
	table_line("\nucontext / myco-ctx = %.1fx; ucontext / myco-yield = %.1fx\n",
		   med_ns[2] / med_ns[0], med_ns[2] / med_ns[1]);
	cpu_set_t all;
	CPU_ZERO(&all);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
	return 0;
}
