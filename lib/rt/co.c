/*
 * co.c: stackful coroutines: stacks with guard pages (and a per-loop cache
 * of default-size stacks), spawn, the entry trampoline, switching in and
 * out of the scheduler with the sanitizer fiber annotations, join, detach,
 * cancel, names, per-coroutine counters.
 * Not for: the scheduler itself (loop.c) or the register save/restore
 * (ctx_*.S, ctx_ucontext.c).
 *
 * Switching is asymmetric: a coroutine always switches back to its loop's
 * scheduler context, never directly to another coroutine.  That keeps the
 * ASan/TSan fiber bookkeeping to two well-known places (switch in, switch
 * out) and makes the scheduler the only place that frees stacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt_int.h"

#ifdef MYCO_RT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef MYCO_RT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static size_t page_size(void)
{
	static _Atomic size_t ps; /* loops on several threads may race here */
	size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
	if (!v) {
		long s = sysconf(_SC_PAGESIZE);
		v = s > 0 ? (size_t)s : 4096;
		atomic_store_explicit(&ps, v, memory_order_relaxed);
	}
	return v;
}

/* ---- stacks --------------------------------------------------------------- */

/* Map a stack of size bytes (multiple of the page size) plus one PROT_NONE
 * guard page below it.  Returns the mapping base or NULL. */
static void *stack_map(size_t size)
{
	size_t ps = page_size();
	void *m = mmap(NULL, size + ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		       -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m, ps, PROT_NONE) != 0) {
		munmap(m, size + ps);
		return NULL;
	}
	return m;
}

static void stack_unmap(void *m, size_t size)
{
#ifdef MYCO_RT_ASAN
	ASAN_UNPOISON_MEMORY_REGION((char *)m + page_size(), size);
#endif
	munmap(m, size + page_size());
}

static size_t round_stack(size_t sz)
{
	size_t ps = page_size();
	if (sz < 4 * ps)
		sz = 4 * ps;
	return (sz + ps - 1) & ~(ps - 1);
}

void myco__stack_cache_free(myco_loop_t *l)
{
	size_t sz = round_stack(l->stack_size);
	while (l->nstack_cache)
		stack_unmap(l->stack_cache[--l->nstack_cache], sz);
}

static void stack_release(myco_loop_t *l, myco_co_t *co)
{
	if (!co->map)
		return;
	if (co->stack_size == round_stack(l->stack_size) &&
	    l->nstack_cache < MYCO__STACK_CACHE) {
#ifdef MYCO_RT_ASAN
		ASAN_UNPOISON_MEMORY_REGION(co->stack_lo, co->stack_size);
#endif
		l->stack_cache[l->nstack_cache++] = co->map;
	} else {
		stack_unmap(co->map, co->stack_size);
	}
	co->map = NULL;
}

/* ---- switching ------------------------------------------------------------ */

static void co_entry(void);

void myco__co_yield_to_loop(myco_loop_t *l, myco_co_t *co)
{
#ifdef MYCO_RT_ASAN
	__sanitizer_start_switch_fiber(&co->asan_fake, l->asan_main_bottom,
				       l->asan_main_size);
#endif
#ifdef MYCO_RT_TSAN
	__tsan_switch_to_fiber(l->tsan_main, 0);
#endif
	myco__ctx_swap(&co->ctx, &l->main_ctx);
#ifdef MYCO_RT_ASAN
	__sanitizer_finish_switch_fiber(co->asan_fake, NULL, NULL);
#endif
}

static void finish(myco_loop_t *l, myco_co_t *co)
{
	l->live--;
	MYCO__ST_ADD(l, finished, 1);
	if (co->aco_cls >= 0 && l->aco)
		myco__aco_finish(l, co);
	if (co->edf)
		myco__edf_task_end(l, co);
	if (co->joiner) {
		myco_co_t *j = co->joiner;
		co->joiner = NULL;
		if (j->wait)
			myco__wake(j->wait, MYCO__WAKE_SIGNAL);
	}
	stack_release(l, co);
#ifdef MYCO_RT_TSAN
	if (co->tsan_fiber) {
		__tsan_destroy_fiber(co->tsan_fiber);
		co->tsan_fiber = NULL;
	}
#endif
	if (co->detached)
		myco__co_free(co);
}

uint64_t myco__co_switch_in(myco_loop_t *l, myco_co_t *co, uint64_t now)
{
	myco__lat_record(l, now > co->ready_ns ? now - co->ready_ns : 0);
	MYCO_TP(MYCO_TRACE_RT, MYCO_EV_RT_SWITCH, l->index, (uintptr_t)co,
		now > co->ready_ns ? now - co->ready_ns : 0);
	if (co->edf)
		MYCO_TP(MYCO_TRACE_SCHED, MYCO_EV_EDF_START, (uintptr_t)co, co->st.jobs, 0);
	co->state = MYCO__CO_RUNNING;
	co->run_ns = now;
	co->st.switches++;
	MYCO__ST_ADD(l, switches, 1);
	l->cur = co;
#ifdef MYCO_RT_ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, co->stack_lo, co->stack_size);
#endif
#ifdef MYCO_RT_TSAN
	__tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
	myco__ctx_swap(&l->main_ctx, &co->ctx);
#ifdef MYCO_RT_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	l->cur = NULL;
	uint64_t end = myco__now_unrec();
	uint64_t ran = end > co->run_ns ? end - co->run_ns : 0;
	co->st.cpu_ns += ran;
	if (co->edf)
		myco__edf_account(l, co, ran);
	if (co->state == MYCO__CO_DONE)
		finish(l, co);
	return end;
}

static void co_entry(void)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l->cur;
#ifdef MYCO_RT_ASAN
	__sanitizer_finish_switch_fiber(NULL, &l->asan_main_bottom,
					&l->asan_main_size);
#endif
	co->started = true;
	if (co->cancelled)
		co->result = -ECANCELED;
	else
		co->result = co->fn(co->arg);
	/* The loop may differ from l only if ... it cannot: coroutines never
	 * migrate.  Re-read anyway: l is the thread's loop. */
	l = myco__tls_loop;
	co->state = MYCO__CO_DONE;
#ifdef MYCO_RT_ASAN
	__sanitizer_start_switch_fiber(NULL, l->asan_main_bottom,
				       l->asan_main_size);
#endif
#ifdef MYCO_RT_TSAN
	__tsan_switch_to_fiber(l->tsan_main, 0);
#endif
	myco__ctx_swap(&co->ctx, &l->main_ctx);
	abort(); /* a finished coroutine is never resumed */
}

/* ---- spawn ------------------------------------------------------------ */

int myco__co_new(myco_loop_t *l, myco_co_t **out, myco_co_fn_t fn, void *arg,
		 const myco_co_opts_t *opts)
{
	int rc;
	myco_co_t *co = NULL;
	size_t want = round_stack(opts && opts->stack_size ? opts->stack_size
					 : l->stack_size);
	size_t def = round_stack(l->stack_size);

	if (!fn)
		return -EINVAL;
	co = calloc(1, sizeof(*co));
	if (!co) {
		rc = -ENOMEM;
		goto out;
	}
	if (want == def && l->nstack_cache)
		co->map = l->stack_cache[--l->nstack_cache];
	else
		co->map = stack_map(want);
	if (!co->map) {
		rc = -ENOMEM;
		goto out;
	}
	co->stack_size = want;
	co->stack_lo = (char *)co->map + page_size();
#ifdef MYCO_RT_TSAN
	co->tsan_fiber = __tsan_create_fiber(0);
#endif
	co->loop = l;
	co->fn = fn;
	co->arg = arg;
	co->state = MYCO__CO_NEW;
	if (opts && opts->name)
		snprintf(co->name, sizeof(co->name), "%s", opts->name);
	co->aco_cls = -1;
	co->mkt_cls = -2;
	co->rec_serial = ++l->rec_nco;
	myco__ctx_make(&co->ctx, co->stack_lo, co->stack_size, co_entry);
	co->all_next = l->all;
	if (l->all)
		l->all->all_prev = co;
	l->all = co;
	l->live++;
	MYCO__ST_ADD(l, spawned, 1);
	*out = co;
	co = NULL;
	rc = 0;
out:
	free(co);
	return rc;
}

/* Unlink and free a coroutine's memory (stack if still held, struct). */
void myco__co_free(myco_co_t *co)
{
	myco_loop_t *l = co->loop;
	if (co->all_prev)
		co->all_prev->all_next = co->all_next;
	else if (l->all == co)
		l->all = co->all_next;
	if (co->all_next)
		co->all_next->all_prev = co->all_prev;
	if (co->state == MYCO__CO_WAITING && co->wait && co->wait->on_abandon)
		co->wait->on_abandon(co->wait);
	if (co->state != MYCO__CO_DONE && co->edf)
		myco__edf_task_end(l, co);
	stack_release(l, co);
#ifdef MYCO_RT_TSAN
	if (co->tsan_fiber)
		__tsan_destroy_fiber(co->tsan_fiber);
#endif
	free(co);
}

int myco_spawn(myco_loop_t *loop, myco_co_t **out, myco_co_fn_t fn,
	       void *arg, const myco_co_opts_t *opts)
{
	myco_co_t *co;
	int rc;

	if (!loop || !fn)
		return -EINVAL;
	if (out)
		*out = NULL;
	if (!out && loop->aco && !(opts && (opts->flags & MYCO_CO_PINNED)))
		return myco__aco_spawn(loop, fn, arg, opts);
	if (!out && loop->deque && !(opts && (opts->flags & MYCO_CO_PINNED)))
		return myco__steal_spawn(loop, fn, arg, opts);
	rc = myco__co_new(loop, &co, fn, arg, opts);
	if (rc < 0)
		return rc;
	co->detached = out == NULL;
	myco__make_ready(loop, co, myco__now_unrec());
	if (out)
		*out = co;
	return 0;
}

typedef struct {
	myco_co_fn_t fn;
	void *arg;
	myco_co_opts_t opts;
	char name[32];
} spawn_on_t;

static void spawn_on_run(void *p)
{
	spawn_on_t *s = p;
	myco_loop_t *l = myco__tls_loop;
	if (myco_spawn(l, NULL, s->fn, s->arg, &s->opts) < 0)
		MYCO__ST_ADD(l, spawn_failed, 1);
	free(s);
}

int myco_spawn_on(myco_loop_t *loop, myco_co_fn_t fn, void *arg,
		  const myco_co_opts_t *opts)
{
	if (!loop || !fn)
		return -EINVAL;
	spawn_on_t *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fn = fn;
	s->arg = arg;
	if (opts) {
		s->opts = *opts;
		if (opts->name) {
			snprintf(s->name, sizeof(s->name), "%s", opts->name);
			s->opts.name = s->name;
		}
	}
	int rc = myco_post(loop, spawn_on_run, s);
	if (rc < 0)
		free(s);
	return rc;
}

myco_co_t *myco_self(void)
{
	return myco__cur();
}

/* ---- join / detach / cancel ------------------------------------------- */

static int collect(myco_co_t *co, int *result)
{
	if (result)
		*result = co->result;
	myco__co_free(co);
	return 0;
}

int myco_join(myco_co_t *co, int *result, int64_t timeout_ns)
{
	if (!co)
		return -EINVAL;
	myco_co_t *self = myco__cur();
	if (co->state == MYCO__CO_DONE) {
		myco_loop_t *tl = myco__tls_loop;
		if (tl && tl != co->loop)
			return -EINVAL;
		return collect(co, result);
	}
	if (!self)
		return -EPERM;
	if (co == self || co->loop != self->loop || co->detached)
		return -EINVAL;
	if (co->joiner && co->joiner != self)
		return -EBUSY;
	if (self->cancelled)
		return -ECANCELED;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	myco__wait_t w = { .kind = MYCO__WAIT_PLAIN };
	co->joiner = self;
	int r = myco__park(&w, timeout_ns);
	if (co->state == MYCO__CO_DONE)
		return collect(co, result);
	co->joiner = NULL;
	return r == MYCO__WAKE_CANCEL ? -ECANCELED : -ETIMEDOUT;
}

void myco_co_detach(myco_co_t *co)
{
	if (!co)
		return;
	if (co->state == MYCO__CO_DONE) {
		myco__co_free(co);
		return;
	}
	co->detached = true;
}

int myco_cancel(myco_co_t *co)
{
	if (!co || co->state == MYCO__CO_DONE)
		return -EINVAL;
	co->cancelled = true;
	if (co->state == MYCO__CO_WAITING && co->wait) {
		myco__wait_t *w = co->wait;
		if (w->kind == MYCO__WAIT_IO) {
			if (!w->cancel_req && !w->cqe_done)
				myco__uring_cancel_wait(co->loop, w);
		} else {
			myco__wake(w, MYCO__WAKE_CANCEL);
		}
	} else if (co->state == MYCO__CO_NEW && co->edf) {
		/* An edf task waiting for its first release: start it now so
		 * it observes the cancellation (fn is not run). */
		myco__edf_cancel_unstarted(co->loop, co);
	}
	return 0;
}

bool myco_cancelled(void)
{
	myco_co_t *co = myco__cur();
	return co ? co->cancelled : false;
}

const char *myco_co_name(const myco_co_t *co)
{
	return co ? co->name : "";
}

int myco_co_stats(const myco_co_t *co, myco_co_stats_t *st)
{
	if (!co || !st)
		return -EINVAL;
	*st = co->st;
	return 0;
}

void myco_loop_foreach_co(myco_loop_t *loop,
			  void (*fn)(myco_co_t *co, void *arg), void *arg)
{
	for (myco_co_t *co = loop->all; co; ) {
		myco_co_t *next = co->all_next;
		if (co->state != MYCO__CO_DONE)
			fn(co, arg);
		co = next;
	}
}
