/*
 * adaptive.c: the adaptive policy: ant-colony placement of detached spawns
 * onto the loops of a group.  A task's class is its coroutine name (hashed
 * into MYCO__ACO_CLASSES slots; unnamed tasks share class 0).  Each loop
 * owns one column of a pheromone table tau[class][loop]:
 *   - when a task of class c finishes on loop j it deposits
 *     MYCO__ACO_Q / (sojourn_us + MYCO__ACO_Q0) on tau[c][j], where the
 *     sojourn is spawn -> finished (so a loop where class c waits and runs
 *     quickly gathers more), capped at MYCO__ACO_MAX;
 *   - at most once per millisecond loop j evaporates its column by 1/8
 *     (tau = tau - tau / 8), floored at MYCO__ACO_MIN so every loop keeps
 *     a chance (max-min ant system);
 *   - a spawn of class c picks loop j with probability proportional to
 *     tau[c][j] / (1 + queue_j)^2, queue_j being loop j's ready, post
 *     and queued-spawn queues (relaxed reads of its gauges): the pheromone is what was
 *     learnt, the queue is the ants' "visibility".
 * The placed spawn goes into the chosen loop's work-stealing deque (steal.c;
 * on another loop through the group's SPSC ring, a post that queues it
 * there), so a loop that runs dry still steals queued spawns from its
 * siblings: the colony decides where work starts, stealing corrects it
 * when a loop idles while another has a queue.  A request carries its class
 * and spawn time, and the loop that finally runs it deposits.  Columns are written only by their loop (single writer, relaxed
 * atomics), read by every spawner.  A standalone adaptive loop behaves
 * like fifo.
 * Not for: moving started coroutines (they never migrate).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

struct myco__aco {
	unsigned n;
	myco__aco_col_t *col; /* n columns */
};

int myco__aco_new(myco__aco_t **out, unsigned nloops)
{
	myco__aco_t *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->n = nloops;
	a->col = aligned_alloc(64, ((sizeof(*a->col) * nloops) + 63) & ~(size_t)63);
	if (!a->col) {
		free(a);
		return -ENOMEM;
	}
	memset(a->col, 0, sizeof(*a->col) * nloops);
	for (unsigned j = 0; j < nloops; j++)
		for (unsigned c = 0; c < MYCO__ACO_CLASSES; c++)
			a->col[j].tau[c] = MYCO__ACO_INIT;
	*out = a;
	return 0;
}

void myco__aco_free(myco__aco_t *a)
{
	if (!a)
		return;
	free(a->col);
	free(a);
}

myco__aco_col_t *myco__aco_col(myco__aco_t *a, unsigned j)
{
	return j < a->n ? &a->col[j] : NULL;
}

unsigned myco__aco_class(const char *name)
{
	if (!name || !*name)
		return 0;
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return 1 + h % (MYCO__ACO_CLASSES - 1);
}

uint32_t myco__aco_deposit_amount(uint64_t sojourn_ns)
{
	return (uint32_t)(MYCO__ACO_Q / (sojourn_ns / 1000 + MYCO__ACO_Q0));
}

void myco__aco_deposit(myco__aco_col_t *col, unsigned cls, uint64_t sojourn_ns,
		       uint64_t now)
{
	uint32_t t = __atomic_load_n(&col->tau[cls], __ATOMIC_RELAXED);
	uint64_t v = (uint64_t)t + myco__aco_deposit_amount(sojourn_ns);
	if (v > MYCO__ACO_MAX)
		v = MYCO__ACO_MAX;
	__atomic_store_n(&col->tau[cls], (uint32_t)v, __ATOMIC_RELAXED);
	if (now - col->last_evap >= 1000000) {
		/* elapsed periods beyond the first are folded into one step:
		 * an idle loop's pheromone is not the problem to fix */
		col->last_evap = now;
		for (unsigned c = 0; c < MYCO__ACO_CLASSES; c++) {
			uint32_t x = __atomic_load_n(&col->tau[c], __ATOMIC_RELAXED);
			x -= x / 8;
			if (x < MYCO__ACO_MIN)
				x = MYCO__ACO_MIN;
			__atomic_store_n(&col->tau[c], x, __ATOMIC_RELAXED);
		}
	}
}

unsigned myco__aco_pick(const uint32_t *tau, const uint64_t *queue,
			unsigned n, uint64_t *rng)
{
	double w[MYCO__ACO_MAXLOOPS], sum = 0;
	if (n > MYCO__ACO_MAXLOOPS)
		n = MYCO__ACO_MAXLOOPS;
	for (unsigned j = 0; j < n; j++) {
		double v = 1.0 + (double)queue[j];
		w[j] = (double)tau[j] / (v * v);
		sum += w[j];
	}
	/* xorshift64* */
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	double u = (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
	double r = u * sum, acc = 0;
	for (unsigned j = 0; j < n; j++) {
		acc += w[j];
		if (r < acc)
			return j;
	}
	return n - 1;
}

typedef struct {
	myco_co_fn_t fn;
	void *arg;
	myco_co_opts_t opts;
	char name[32];
	unsigned cls;
	uint64_t spawn_ns;
} aco_req_t;

static int start_here(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		      const myco_co_opts_t *opts, unsigned cls,
		      uint64_t spawn_ns)
{
	myco_co_t *co;
	int rc = myco__co_new(l, &co, fn, arg, opts);
	if (rc < 0) {
		MYCO__ST_ADD(l, spawn_failed, 1);
		return rc;
	}
	co->detached = true;
	co->aco_cls = (int)cls;
	co->spawn_ns = spawn_ns;
	myco__make_ready(l, co, myco_now());
	return 0;
}

/* Queue on l's own deque (idle siblings may steal it); a loop without
 * one (not in a group) starts it. */
static int queue_here(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		      const myco_co_opts_t *opts, unsigned cls, uint64_t spawn_ns)
{
	if (l->deque && myco__tls_loop == l)
		return myco__steal_spawn_placed(l, fn, arg, opts, (int)cls, spawn_ns);
	return start_here(l, fn, arg, opts, cls, spawn_ns);
}

static void remote_start(void *p)
{
	aco_req_t *r = p;
	myco_loop_t *l = myco__tls_loop;
	r->opts.name = r->name[0] ? r->name : NULL;
	(void)queue_here(l, r->fn, r->arg, &r->opts, r->cls, r->spawn_ns);
	free(r);
}

int myco__aco_spawn(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		    const myco_co_opts_t *opts)
{
	unsigned cls = myco__aco_class(opts ? opts->name : NULL);
	uint64_t now = myco_now();
	myco_group_t *g = l->group;
	unsigned n = myco_group_size(g);
	if (myco__tls_loop != l || n < 2)
		return start_here(l, fn, arg, opts, cls, now);
	uint32_t tau[MYCO__ACO_MAXLOOPS];
	uint64_t q[MYCO__ACO_MAXLOOPS];
	if (n > MYCO__ACO_MAXLOOPS)
		n = MYCO__ACO_MAXLOOPS;
	for (unsigned j = 0; j < n; j++) {
		myco_loop_t *t = myco_group_loop(g, j);
		tau[j] = __atomic_load_n(&l->aco->col[j].tau[cls], __ATOMIC_RELAXED);
		if (t == l)
			q[j] = l->rq_len + l->eh_len;
		else
			q[j] = __atomic_load_n(&t->st.ready_len, __ATOMIC_RELAXED) +
			       atomic_load_explicit(&t->post_len, memory_order_relaxed);
		if (t->deque)
			q[j] += myco__deque_len(t->deque);   /* queued spawns */
	}
	unsigned j = myco__aco_pick(tau, q, n, &l->aco_rng);
	myco_loop_t *t = myco_group_loop(g, j);
	if (t == l)
		return queue_here(l, fn, arg, opts, cls, now);
	aco_req_t *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fn = fn;
	r->arg = arg;
	if (opts) {
		r->opts = *opts;
		if (opts->name)
			snprintf(r->name, sizeof r->name, "%s", opts->name);
	}
	r->cls = cls;
	r->spawn_ns = now;
	int rc = myco__group_post(l, t, remote_start, r);
	if (rc < 0)
		free(r);
	return rc;
}

void myco__aco_finish(myco_loop_t *l, myco_co_t *co)
{
	uint64_t now = myco_now();
	myco__aco_deposit(&l->aco->col[l->index], (unsigned)co->aco_cls,
			  now > co->spawn_ns ? now - co->spawn_ns : 0, now);
}

int myco_aco_pheromone(const myco_loop_t *loop, const char *task_class,
		       unsigned j, uint32_t *out)
{
	if (!loop || !out || !loop->aco || j >= loop->aco->n)
		return -EINVAL;
	*out = __atomic_load_n(&loop->aco->col[j].tau[myco__aco_class(task_class)],
			       __ATOMIC_RELAXED);
	return 0;
}
