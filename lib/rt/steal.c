/*
 * steal.c: the steal policy: detached spawns go into the spawning loop's
 * Chase-Lev work-stealing deque (fixed capacity) as small "spawn requests";
 * the owner starts them from the bottom, idle sibling loops of the group
 * steal from the top and start them on their own thread.  Only requests
 * that have not started are stolen: a started coroutine never migrates
 * (its pending io_uring operations belong to its loop's ring).
 * The adaptive policy uses the same deques: the colony picks the loop
 * whose deque a spawn goes to, idle siblings still steal it (a request
 * carries its task class and spawn time for the pheromone deposit).
 * Not for: spawns with a handle (joinable) or MYCO_CO_PINNED: those stay.
 *
 * Memory ordering: every access to top/bottom and the slots is seq_cst
 * (instead of the fences of Le et al. 2013) so ThreadSanitizer, which does
 * not model stand-alone fences, sees the happens-before edges; the cost is
 * one locked instruction per push/pop on x86, negligible next to a spawn.
 * The request a slot points to is written before the seq_cst store of
 * bottom that publishes it and read after the seq_cst CAS of top that
 * claims it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

typedef struct {
	myco_co_fn_t fn;
	void *arg;
	myco_co_opts_t opts;
	char name[32];
	int aco_cls;            /* adaptive: task class, -1 = none */
	uint64_t spawn_ns;
} req_t;

struct myco__deque {
	_Alignas(64) atomic_llong top;
	_Alignas(64) atomic_llong bottom;
	_Alignas(64) long long mask;
	_Atomic(req_t *) *buf;
};

int myco__deque_new(myco__deque_t **out, unsigned cap)
{
	myco__deque_t *d = aligned_alloc(64, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->buf = calloc(cap, sizeof(*d->buf));
	if (!d->buf) {
		free(d);
		return -ENOMEM;
	}
	d->mask = (long long)cap - 1;
	atomic_init(&d->top, 0);
	atomic_init(&d->bottom, 0);
	*out = d;
	return 0;
}

void myco__deque_free(myco__deque_t *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d);
}

size_t myco__deque_len(myco__deque_t *d)
{
	long long b = atomic_load(&d->bottom), t = atomic_load(&d->top);
	return b > t ? (size_t)(b - t) : 0;
}

static bool push(myco__deque_t *d, req_t *r)
{
	long long b = atomic_load(&d->bottom);
	long long t = atomic_load(&d->top);
	if (b - t > d->mask)
		return false;
	atomic_store(&d->buf[b & d->mask], r);
	atomic_store(&d->bottom, b + 1);
	return true;
}

static req_t *pop(myco__deque_t *d)
{
	long long b = atomic_load(&d->bottom) - 1;
	atomic_store(&d->bottom, b);
	long long t = atomic_load(&d->top);
	req_t *r = NULL;
	if (t <= b) {
		r = atomic_load(&d->buf[b & d->mask]);
		if (t == b) {
			if (!atomic_compare_exchange_strong(&d->top, &t, t + 1))
				r = NULL;
			atomic_store(&d->bottom, b + 1);
		}
	} else {
		atomic_store(&d->bottom, b + 1);
	}
	return r;
}

static req_t *steal(myco__deque_t *d)
{
	long long t = atomic_load(&d->top);
	long long b = atomic_load(&d->bottom);
	if (t >= b)
		return NULL;
	req_t *r = atomic_load(&d->buf[t & d->mask]);
	if (!atomic_compare_exchange_strong(&d->top, &t, t + 1))
		return NULL; /* lost the race; caller may retry elsewhere */
	return r;
}

static int start_req(myco_loop_t *l, req_t *r)
{
	myco_co_t *co;
	r->opts.name = r->name[0] ? r->name : NULL;
	r->opts.flags |= MYCO_CO_PINNED;
	int rc = myco__co_new(l, &co, r->fn, r->arg, &r->opts);
	if (rc == 0) {
		co->detached = true;
		if (r->aco_cls >= 0 && l->aco) {
			co->aco_cls = r->aco_cls;
			co->spawn_ns = r->spawn_ns;
		}
		myco__make_ready(l, co, myco_now());
	} else {
		MYCO__ST_ADD(l, spawn_failed, 1);
	}
	free(r);
	return rc;
}

/* Wake one sleeping sibling so it can steal. */
static void wake_thief(myco_loop_t *l)
{
	myco_group_t *g = l->group;
	if (!g)
		return;
	unsigned n = myco_group_size(g);
	for (unsigned k = 1; k < n; k++) {
		myco_loop_t *s = myco_group_loop(g, (l->index + k) % n);
		if (s->deque && atomic_load(&s->sleeping) &&
		    (!s->sig || __atomic_load_n(&s->sig->state, __ATOMIC_RELAXED) ==
				MYCO_RT_CORE_RUNNING)) {
			myco__wakeup_thread(s);
			return;
		}
	}
}

int myco__steal_spawn(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		      const myco_co_opts_t *opts)
{
	return myco__steal_spawn_placed(l, fn, arg, opts, -1, 0);
}

int myco__steal_spawn_placed(myco_loop_t *l, myco_co_fn_t fn, void *arg,
			     const myco_co_opts_t *opts, int aco_cls, uint64_t spawn_ns)
{
	req_t *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->arg = arg;
	r->aco_cls = aco_cls;
	r->spawn_ns = spawn_ns;
	if (opts) {
		r->opts = *opts;
		if (opts->name)
			snprintf(r->name, sizeof(r->name), "%s", opts->name);
	}
	/* Only the loop's own thread may push (single owner); before the
	 * loop runs, or from elsewhere, start it locally. */
	if (myco__tls_loop != l || !push(l->deque, r))
		return start_req(l, r);
	if (l->sig)
		myco__loans_publish(l); /* the arbiter sees the queue now */
	wake_thief(l);
	return 0;
}

unsigned myco__steal_run_own(myco_loop_t *l, unsigned max)
{
	unsigned n = 0;
	req_t *r;
	while (n < max && (r = pop(l->deque)) != NULL) {
		start_req(l, r);
		n++;
	}
	return n;
}

unsigned myco__steal_from_siblings(myco_loop_t *l, unsigned max)
{
	myco_group_t *g = l->group;
	unsigned n = myco_group_size(g), got = 0;
	for (unsigned k = 1; k < n && got < max; k++) {
		myco_loop_t *s = myco_group_loop(g, (l->steal_rr + k) % n);
		if (s == l || !s->deque)
			continue;
		req_t *r;
		while (got < max && (r = steal(s->deque)) != NULL) {
			__atomic_fetch_add(&s->st.stolen_out, 1, __ATOMIC_RELAXED);
			MYCO__ST_ADD(l, stolen_in, 1);
			MYCO_TP(MYCO_TRACE_RT, MYCO_EV_RT_STEAL, l->index, s->index, got + 1);
			start_req(l, r);
			got++;
		}
	}
	l->steal_rr++;
	return got;
}

unsigned myco__steal_from_revoked(myco_loop_t *l, unsigned max)
{
	myco_group_t *g = l->group;
	unsigned n = myco_group_size(g), got = 0;
	for (unsigned k = 1; k < n && got < max; k++) {
		myco_loop_t *s = myco_group_loop(g, (l->index + k) % n);
		if (!s->sig || __atomic_load_n(&s->sig->state, __ATOMIC_RELAXED) ==
				       MYCO_RT_CORE_RUNNING)
			continue;
		req_t *r;
		while (got < max && (r = steal(s->deque)) != NULL) {
			__atomic_fetch_add(&s->st.stolen_out, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&s->sig->migrated, 1, __ATOMIC_RELAXED);
			MYCO__ST_ADD(l, stolen_in, 1);
			start_req(l, r);
			got++;
		}
	}
	return got;
}

void myco__steal_drain_free(myco_loop_t *l)
{
	req_t *r;
	while ((r = pop(l->deque)) != NULL)
		free(r);
}
