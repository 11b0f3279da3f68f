/*
 * group.c: groups of loops, one thread per loop, each pinned to its core;
 * the loops pass work (myco_post from a sibling) through one lock-free SPSC
 * ring per ordered pair of loops.
 * Not for: posts from threads outside the group (locked queue, loop.c).
 *
 * Why our own SPSC ring and not lib/chan's: lib/chan rings live in shared
 * memory regions (memfd + eventfds, validated as untrusted input, byte
 * messages with sequence numbers for restart).  Here both sides are threads
 * of one process passing a (function, argument) pair, so a 16-byte slot
 * ring with two indices is all that is needed, with no validation and no
 * fds per pair.
 *
 * Ring protocol: the producer (source loop thread) writes the slot, then
 * publishes tail with a release store; the consumer (target loop thread)
 * reads tail with acquire, reads the slot, then publishes head with a
 * release store so the producer may reuse it.  Each side caches the other's
 * index to avoid touching its cache line on every operation.  When a ring
 * is full, the producer keeps further posts in a private overflow list
 * (source thread only, no lock) and moves them into the ring at its next
 * loop iteration, so order per (source, target) pair is kept.  After
 * publishing, the producer bumps the target's post_len (seq_cst) and wakes
 * it if it sleeps (the Dekker pair with the target's "sleeping" flag).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"
#include "../replay/replay.h"

typedef struct {
	void (*fn)(void *);
	void *arg;
} slot_t;

struct myco__spsc {
	_Alignas(64) atomic_size_t tail;  /* written by the producer */
	size_t head_cache;                /* producer's copy of head */
	_Alignas(64) atomic_size_t head;  /* written by the consumer */
	size_t tail_cache;                /* consumer's copy of tail */
	_Alignas(64) size_t mask;
	slot_t slots[];
};

typedef struct {
	myco__spsc_t *ring;
	myco__post_t *ovf_head, *ovf_tail; /* source thread only */
	atomic_bool want_space;            /* source has overflow waiting */
} pair_t;

struct myco_group {
	unsigned n;
	myco_loop_t **loops;
	pthread_t *threads;
	int *cpus;
	bool pin, started, joined;
	pair_t *pairs;                     /* n*n, [src * n + dst] */
	void (*init)(myco_loop_t *, unsigned, void *);
	void *init_arg;
	int first_err;
	pthread_mutex_t mu;
	myco__aco_t *aco;                  /* policy adaptive: pheromones  */
};

static bool spsc_push(myco__spsc_t *r, void (*fn)(void *), void *arg)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t - r->head_cache > r->mask) {
		r->head_cache = atomic_load_explicit(&r->head,
						     memory_order_acquire);
		if (t - r->head_cache > r->mask)
			return false;
	}
	r->slots[t & r->mask] = (slot_t){ fn, arg };
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

static bool spsc_pop(myco__spsc_t *r, slot_t *out)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (h == r->tail_cache) {
		r->tail_cache = atomic_load_explicit(&r->tail,
						     memory_order_acquire);
		if (h == r->tail_cache)
			return false;
	}
	*out = r->slots[h & r->mask];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

static void signal_target(myco_loop_t *to, size_t n)
{
	atomic_fetch_add(&to->post_len, n);
	myco__wakeup_thread(to);
}

int myco__group_post(myco_loop_t *from, myco_loop_t *to,
		     void (*fn)(void *), void *arg)
{
	myco_group_t *g = from->group;
	pair_t *p = &g->pairs[from->index * g->n + to->index];
	if (!p->ovf_head && spsc_push(p->ring, fn, arg)) {
		signal_target(to, 1);
		return 0;
	}
	myco__post_t *node = malloc(sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->fn = fn;
	node->arg = arg;
	node->next = NULL;
	if (p->ovf_tail)
		p->ovf_tail->next = node;
	else
		p->ovf_head = node;
	p->ovf_tail = node;
	atomic_store(&p->want_space, true);
	return 0;
}

void myco__group_flush(myco_loop_t *l)
{
	myco_group_t *g = l->group;
	for (unsigned d = 0; d < g->n; d++) {
		pair_t *p = &g->pairs[l->index * g->n + d];
		size_t moved = 0;
		while (p->ovf_head &&
		       spsc_push(p->ring, p->ovf_head->fn, p->ovf_head->arg)) {
			myco__post_t *x = p->ovf_head;
			p->ovf_head = x->next;
			if (!p->ovf_head)
				p->ovf_tail = NULL;
			free(x);
			moved++;
		}
		if (moved)
			signal_target(g->loops[d], moved);
		if (!p->ovf_head && atomic_load_explicit(&p->want_space,
							 memory_order_relaxed))
			atomic_store(&p->want_space, false);
	}
}

bool myco__group_can_flush(myco_loop_t *l)
{
	myco_group_t *g = l->group;
	for (unsigned d = 0; d < g->n; d++) {
		pair_t *p = &g->pairs[l->index * g->n + d];
		if (!p->ovf_head)
			continue;
		myco__spsc_t *r = p->ring;
		size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
		if (t - atomic_load(&r->head) <= r->mask)
			return true;
	}
	return false;
}

void myco__group_drain(myco_loop_t *l)
{
	myco_group_t *g = l->group;
	for (unsigned s = 0; s < g->n; s++) {
		if (s == l->index)
			continue;
		myco__spsc_t *r = g->pairs[s * g->n + l->index].ring;
		slot_t sl;
		/* bounded: what is there now, so a chatty sibling cannot
		 * starve this loop's own coroutines */
		pair_t *p = &g->pairs[s * g->n + l->index];
		size_t max = r->mask + 1, got = 0;
		while (max-- && spsc_pop(r, &sl)) {
			atomic_fetch_sub(&l->post_len, 1);
			MYCO__ST_ADD(l, posts_in, 1);
			sl.fn(sl.arg);
			got++;
		}
		/* The source has posts waiting for room: our head store and
		 * its "sleeping" flag form a Dekker pair with its pre-sleep
		 * myco__group_can_flush() check. */
		if (got && atomic_load(&p->want_space)) {
			atomic_thread_fence(memory_order_seq_cst);
			myco__wakeup_thread(g->loops[s]);
		}
	}
}

bool myco__group_has_input(myco_loop_t *l)
{
	return atomic_load(&l->post_len) != 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static int affinity_cpus(int *cpus, unsigned max, unsigned *n)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	unsigned k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < max; c++)
		if (CPU_ISSET(c, &set))
			cpus[k++] = c;
	*n = k;
	return k ? 0 : -ENODEV;
}

int myco_group_create(myco_group_t **out, const myco_group_opts_t *opts)
{
	int rc;
	myco_group_t *g = NULL;
	myco_group_opts_t o = {0};
	int aff[CPU_SETSIZE];
	unsigned naff = 0;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	myco_rt_loans_t *taken = NULL;
	if (!o.loans && (taken = myco__rt_loans_take())) {
		/* an elastic partition (`cores MIN..MAX elastic;`): one loop
		 * per core it may hold; the executive lends a count of cores,
		 * so the kernel places the running loops within the
		 * partition's CPUs (no pinning) */
		o.loans = taken;
		o.nloops = taken->nloops;
		o.cpus = NULL;
		o.no_pin = true;
	}
	if (myco__rec_rt == 2)
		myco__rec_refuse("the program runs a group of %u loops: the order between "
				 "loop threads and their cross-loop posts is not recorded "
				 "(replay serves one loop)", o.nloops);
	rc = affinity_cpus(aff, CPU_SETSIZE, &naff);
	if (rc < 0)
		goto out;
	unsigned n = o.nloops ? o.nloops : naff;
	rc = -EINVAL;
	if (n > 256)
		goto out;
	if (o.loans && (myco_rt_loans_check(o.loans, sizeof(*o.loans)) < 0 ||
			n > o.loans->nloops))
		goto out;
	rc = -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		goto out;
	g->n = n;
	g->pin = !o.no_pin;
	g->loops = calloc(n, sizeof(*g->loops));
	g->threads = calloc(n, sizeof(*g->threads));
	g->cpus = calloc(n, sizeof(*g->cpus));
	g->pairs = calloc((size_t)n * n, sizeof(*g->pairs));
	if (!g->loops || !g->threads || !g->cpus || !g->pairs) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&g->mu, NULL);
	for (unsigned i = 0; i < n; i++)
		g->cpus[i] = o.cpus ? o.cpus[i] : aff[i % naff];
	myco_loop_opts_t lo = o.loop;
	lo.pin = false;
	lo.cpu = -1;
	if (!lo.post_ring_slots)
		lo.post_ring_slots = 1024;
	if (lo.post_ring_slots & (lo.post_ring_slots - 1)) {
		rc = -EINVAL;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		rc = myco_loop_create(&g->loops[i], &lo);
		if (rc < 0)
			goto out;
		g->loops[i]->group = g;
		g->loops[i]->index = i;
		if (o.loans) {
			/* elastic: queued spawns are what a revoked loop
			 * hands over, so every loop keeps a deque */
			myco_loop_t *l = g->loops[i];
			if (!l->deque) {
				rc = myco__deque_new(&l->deque, 4096);
				if (rc < 0)
					goto out;
			}
			l->loans = o.loans;
			l->sig = &o.loans->core[i];
			__atomic_store_n(&l->sig->cpu, g->pin ? g->cpus[i] : -1,
					 __ATOMIC_RELAXED);
		}
	}
	if (g->loops[0]->policy == MYCO_POLICY_ADAPTIVE) {
		rc = myco__aco_new(&g->aco, n);
		if (rc < 0)
			goto out;
		for (unsigned i = 0; i < n; i++) {
			g->loops[i]->aco = g->aco;
			g->loops[i]->aco_rng = 0x9e3779b97f4a7c15ull * (i + 1);
		}
	}
	for (unsigned s = 0; s < n; s++) {
		for (unsigned d = 0; d < n; d++) {
			if (s == d)
				continue;
			size_t sz = sizeof(myco__spsc_t) +
				    lo.post_ring_slots * sizeof(slot_t);
			myco__spsc_t *r = aligned_alloc(64, (sz + 63) & ~(size_t)63);
			if (!r) {
				rc = -ENOMEM;
				goto out;
			}
			memset(r, 0, sz);
			r->mask = lo.post_ring_slots - 1;
			g->pairs[s * n + d].ring = r;
		}
	}
	*out = g;
	g = NULL;
	rc = 0;
out:
	if (g)
		myco_group_destroy(g);
	if (rc < 0 && taken)
		(void)myco__rt_loans_give(taken, sizeof(*taken)); /* for a retry */
	return rc;
}

unsigned myco_group_size(const myco_group_t *g)
{
	return g ? g->n : 0;
}

myco_loop_t *myco_group_loop(const myco_group_t *g, unsigned i)
{
	return g && i < g->n ? g->loops[i] : NULL;
}

typedef struct {
	myco_group_t *g;
	unsigned i;
} tharg_t;

static void *group_thread(void *p)
{
	tharg_t *a = p;
	myco_group_t *g = a->g;
	unsigned i = a->i;
	free(a);
	myco_loop_t *l = g->loops[i];
	if (g->pin) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(g->cpus[i], &set);
		(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	if (g->init) {
		/* init runs with the loop as the thread's current loop so it
		 * may use myco_post to siblings through the rings. */
		myco__tls_loop = l;
		g->init(l, i, g->init_arg);
		myco__tls_loop = NULL;
	}
	int rc = myco_loop_run(l);
	if (rc < 0 && rc != -MYCO_ESTOPPED) {
		pthread_mutex_lock(&g->mu);
		if (!g->first_err)
			g->first_err = rc;
		pthread_mutex_unlock(&g->mu);
	}
	return NULL;
}

int myco_group_start(myco_group_t *g,
		     void (*init)(myco_loop_t *loop, unsigned index, void *arg),
		     void *arg)
{
	if (!g || g->started)
		return -EINVAL;
	g->init = init;
	g->init_arg = arg;
	g->started = true;
	for (unsigned i = 0; i < g->n; i++) {
		tharg_t *a = malloc(sizeof(*a));
		int rc = a ? 0 : ENOMEM;
		if (a) {
			a->g = g;
			a->i = i;
			rc = pthread_create(&g->threads[i], NULL, group_thread, a);
			if (rc)
				free(a);
		}
		if (rc) {
			for (unsigned k = 0; k < i; k++)
				myco_loop_stop(g->loops[k]);
			for (unsigned k = 0; k < i; k++)
				pthread_join(g->threads[k], NULL);
			g->joined = true;
			return -rc;
		}
	}
	return 0;
}

void myco_group_stop(myco_group_t *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++)
		myco_loop_stop(g->loops[i]);
}

int myco_group_join(myco_group_t *g)
{
	if (!g || !g->started)
		return -EINVAL;
	if (g->joined)
		return g->first_err;
	for (unsigned i = 0; i < g->n; i++)
		pthread_join(g->threads[i], NULL);
	g->joined = true;
	return g->first_err;
}

int myco_group_run(myco_group_t *g,
		   void (*init)(myco_loop_t *loop, unsigned index, void *arg),
		   void *arg)
{
	int rc = myco_group_start(g, init, arg);
	if (rc < 0)
		return rc;
	return myco_group_join(g);
}

void myco_group_destroy(myco_group_t *g)
{
	if (!g)
		return;
	if (g->started && !g->joined)
		return; /* contract violation: threads still run */
	if (g->pairs) {
		for (size_t k = 0; k < (size_t)g->n * g->n; k++) {
			myco__post_t *p = g->pairs[k].ovf_head;
			while (p) {
				myco__post_t *x = p->next;
				free(p);
				p = x;
			}
			free(g->pairs[k].ring);
		}
	}
	if (g->loops)
		for (unsigned i = 0; i < g->n; i++)
			myco_loop_destroy(g->loops[i]);
	pthread_mutex_destroy(&g->mu);
	myco__aco_free(g->aco);
	free(g->pairs);
	free(g->loops);
	free(g->threads);
	free(g->cpus);
	free(g);
}
