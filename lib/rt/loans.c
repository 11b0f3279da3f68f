/*
 * loans.c: core loans, the runtime side.  A loop of an elastic group
 * follows its `grant` word in the shared signal region (myco/rt.h,
 * "Core loans"): revoked, it stops starting queued spawns (its siblings
 * steal them, steal.c), finishes what already started, and parks in
 * FUTEX_WAIT on its `wake` word; granted again, it resumes within one
 * futex wake-up.  It also publishes the signals an arbiter reads without
 * a syscall: queueing delay, oldest ready age, queue length, busy time.
 * Inside an elastic partition the executive hands its region over
 * (lib/part calls myco__rt_loans_give) and the first group created without
 * a region of its own takes it (myco__rt_loans_take, group.c).
 * Not for: the decision who gets a core (exec/loans.c), ring creation.
 *
 * Ordering: the parked flag and post_len / stop_req / grant form Dekker
 * pairs (all seq_cst): the loop stores parked = 1, reads `wake`, then
 * checks its conditions and waits while `wake` is unchanged; a poster or
 * the arbiter changes its condition first, then bumps `wake` and wakes.
 * Region fields are read and written with __atomic builtins because the
 * region may be shared with another process.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "rt_int.h"

_Static_assert(sizeof(myco_rt_core_sig_t) == 192, "core entry: 64 + 128");
_Static_assert(offsetof(myco_rt_core_sig_t, state) == 64,
	       "loop-written fields start on their own cache line");
_Static_assert(offsetof(myco_rt_loans_t, core) == 64, "header is 64 bytes");

#define LD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LDR(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STR(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STREL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int myco_rt_loans_init(myco_rt_loans_t *r, unsigned nloops,
		       unsigned min_active, unsigned max_active)
{
	if (!r || nloops == 0 || nloops > MYCO_RT_LOANS_MAX ||
	    min_active == 0 || min_active > max_active || max_active > nloops)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->version = MYCO_RT_LOANS_VERSION;
	r->nloops = nloops;
	r->min_active = min_active;
	r->max_active = max_active;
	for (unsigned i = 0; i < MYCO_RT_LOANS_MAX; i++) {
		r->core[i].grant = i < min_active;
		r->core[i].cpu = -1;
		r->core[i].state = MYCO_RT_CORE_PARKED;
	}
	__atomic_store_n(&r->magic, MYCO_RT_LOANS_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int myco_rt_loans_check(const myco_rt_loans_t *r, size_t size)
{
	if (!r)
		return -EINVAL;
	if (size < sizeof(*r))
		return -EPROTO;
	uint32_t n = LD(&r->nloops), lo = LD(&r->min_active),
		 hi = LD(&r->max_active);
	if (LD(&r->magic) != MYCO_RT_LOANS_MAGIC ||
	    LD(&r->version) != MYCO_RT_LOANS_VERSION || n == 0 ||
	    n > MYCO_RT_LOANS_MAX || lo == 0 || lo > hi || hi > n)
		return -EINVAL;
	return 0;
}

int myco_rt_loans_grant(myco_rt_loans_t *r, unsigned i, bool on)
{
	if (!r || i >= LDR(&r->nloops) || i >= MYCO_RT_LOANS_MAX)
		return -EINVAL;
	myco_rt_core_sig_t *c = &r->core[i];
	uint32_t want = on ? 1u : 0u;
	if (LDR(&c->grant) == want)
		return 0;
	STR(&c->grant_ns, myco_now());
	__atomic_fetch_add(&c->grant_seq, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->grant, want, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&c->wake, 1, __ATOMIC_SEQ_CST);
	if (on)
		(void)myco__futex_wake(&c->wake, INT_MAX);
	return 1;
}

unsigned myco_rt_loans_granted(const myco_rt_loans_t *r)
{
	if (!r)
		return 0;
	unsigned n = LDR(&r->nloops), lo = LDR(&r->min_active), k = 0;
	if (n > MYCO_RT_LOANS_MAX)
		n = MYCO_RT_LOANS_MAX;
	for (unsigned i = 0; i < n; i++)
		if (i < lo || LDR(&r->core[i].grant))
			k++;
	return k;
}

int myco_rt_loans_stats(const myco_group_t *g, myco_rt_loans_stats_t *st)
{
	if (!g || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	myco_loop_t *l0 = myco_group_loop(g, 0);
	if (!l0 || !l0->loans)
		return -ENOENT;
	const myco_rt_loans_t *r = l0->loans;
	st->nloops = myco_group_size(g);
	st->min_active = LDR(&r->min_active);
	st->max_active = LDR(&r->max_active);
	st->granted = myco_rt_loans_granted(r);
	for (unsigned i = 0; i < st->nloops; i++) {
		const myco_rt_core_sig_t *c = &r->core[i];
		st->running += LDR(&c->state) == MYCO_RT_CORE_RUNNING;
		st->loop_grants += LDR(&c->grants);
		st->revokes += LDR(&c->revokes);
		st->migrated += LDR(&c->migrated);
	}
	return 0;
}

/* ---- the executive's region ------------------------------------------ */

static myco_rt_loans_t *given;  /* exchanged atomically: one taker */

int myco__rt_loans_give(void *region, size_t size)
{
	if (myco_rt_loans_check(region, size) < 0)
		return -EINVAL;
	__atomic_store_n(&given, (myco_rt_loans_t *)region, __ATOMIC_RELEASE);
	return 0;
}

myco_rt_loans_t *myco__rt_loans_take(void)
{
	return __atomic_exchange_n(&given, NULL, __ATOMIC_ACQ_REL);
}

/* ---- loop side -------------------------------------------------------- */

static bool granted(const myco_loop_t *l)
{
	return l->index < LDR(&l->loans->min_active) ||
	       __atomic_load_n(&l->sig->grant, __ATOMIC_SEQ_CST) != 0;
}

/* Wake one running sibling that sleeps so it takes our queued spawns. */
static void wake_heir(myco_loop_t *l)
{
	myco_group_t *g = l->group;
	unsigned n = myco_group_size(g);
	for (unsigned k = 1; k < n; k++) {
		myco_loop_t *s = myco_group_loop(g, (l->index + k) % n);
		if (LDR(&s->sig->state) == MYCO_RT_CORE_RUNNING &&
		    atomic_load(&s->sleeping)) {
			myco__wakeup_thread(s);
			return;
		}
	}
}

void myco__loans_iter(myco_loop_t *l)
{
	myco_rt_core_sig_t *c = l->sig;
	bool g = granted(l);
	STR(&c->seen_seq, LDR(&c->grant_seq));
	if (g && l->revoked) {
		/* re-granted while draining (awake, no park happened): a
		 * grant all the same */
		l->revoked = false;
		STR(&c->grants, LDR(&c->grants) + 1);
		STREL(&c->state, (uint32_t)MYCO_RT_CORE_RUNNING);
		STR(&c->running_ns, myco_now());
	} else if (!g && !l->revoked) {
		l->revoked = true;
		STR(&c->revokes, LDR(&c->revokes) + 1);
		STREL(&c->state, (uint32_t)MYCO_RT_CORE_DRAINING);
		if (l->deque && myco__deque_len(l->deque))
			wake_heir(l);
	} else if (g && LDR(&c->state) != MYCO_RT_CORE_RUNNING) {
		STREL(&c->state, (uint32_t)MYCO_RT_CORE_RUNNING); /* first run */
	}
}

void myco__loans_sleep_begin(myco_loop_t *l)
{
	uint64_t now = myco_now();
	if (l->busy_since && now > l->busy_since)
		STR(&l->sig->busy_ns, LDR(&l->sig->busy_ns) +
				      (now - l->busy_since));
	l->busy_since = 0;
}

void myco__loans_sleep_end(myco_loop_t *l)
{
	l->busy_since = myco_now();
}

bool myco__loans_park(myco_loop_t *l, uint64_t next_ns)
{
	myco_rt_core_sig_t *c = l->sig;
	if (!l->revoked || l->io_pending || l->rq_len || l->eh_len)
		return false;
	atomic_store(&l->parked, 1);
	uint32_t seq = __atomic_load_n(&c->wake, __ATOMIC_SEQ_CST);
	if (atomic_load(&l->post_len) || atomic_load(&l->stop_req) ||
	    granted(l)) {
		atomic_store(&l->parked, 0);
		return false;
	}
	myco__loans_sleep_begin(l);
	STREL(&c->state, (uint32_t)MYCO_RT_CORE_PARKED);
	uint64_t t = MYCO__FOREVER_NS;
	if (next_ns != UINT64_MAX) {
		uint64_t now = myco_now();
		t = next_ns > now ? next_ns - now : 0;
	}
	if (t)
		(void)myco__futex_wait(&c->wake, seq, t);
	atomic_store(&l->parked, 0);
	myco__loans_sleep_end(l);
	if (granted(l)) {
		l->revoked = false;
		STR(&c->running_ns, l->busy_since);
		STR(&c->grants, LDR(&c->grants) + 1);
		STR(&c->seen_seq, LDR(&c->grant_seq));
		STREL(&c->state, (uint32_t)MYCO_RT_CORE_RUNNING);
	} else {
		STREL(&c->state, (uint32_t)MYCO_RT_CORE_DRAINING);
	}
	return true;
}

void myco__loans_kick(myco_loop_t *l)
{
	if (atomic_load(&l->parked)) {
		__atomic_fetch_add(&l->sig->wake, 1, __ATOMIC_SEQ_CST);
		(void)myco__futex_wake(&l->sig->wake, INT_MAX);
	}
}

void myco__loans_publish(myco_loop_t *l)
{
	myco_rt_core_sig_t *c = l->sig;
	uint64_t q = l->rq_len + l->eh_len +
		     atomic_load_explicit(&l->post_len, memory_order_relaxed) +
		     (l->deque ? myco__deque_len(l->deque) : 0);
	STR(&c->queued, q);
	uint64_t now = myco_now();
	uint64_t oldest = 0;
	if (l->rq_head && now > l->rq_head->ready_ns)
		oldest = now - l->rq_head->ready_ns;
	STR(&c->oldest_ns, oldest);
	if (l->busy_since && now > l->busy_since) {
		STR(&c->busy_ns, LDR(&c->busy_ns) + (now - l->busy_since));
		l->busy_since = now;
	}
	STR(&c->updated_ns, now);
}
