/*
 * ctx_ucontext.c: portable coroutine context switch on makecontext /
 * swapcontext, for CPUs without a hand-written switch (and to test the
 * fallback on x86-64: tests build a second copy of lib/rt with it).
 * Slower: swapcontext also saves and restores the signal mask (a syscall).
 * Not for: x86-64 / aarch64 production builds (ctx_*.S).
 */
#include <stddef.h>

#include "rt_int.h"

#ifdef MYCO_RT_CTX_UCONTEXT
void myco__ctx_make(myco__ctx_t *ctx, void *lo, size_t size,
		    void (*entry)(void))
{
	getcontext(&ctx->uc);
	ctx->uc.uc_stack.ss_sp = lo;
	ctx->uc.uc_stack.ss_size = size;
	ctx->uc.uc_link = NULL;
	makecontext(&ctx->uc, entry, 0);
}

void myco__ctx_swap(myco__ctx_t *from, myco__ctx_t *to)
{
	swapcontext(&from->uc, &to->uc);
}
#endif
