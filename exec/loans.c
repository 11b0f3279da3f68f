/*
 * loans.c: the executive's core-loan arbiter (exec/loans.h).  Every
 * period (20 us by default) it reads each elastic partition's signal
 * region: per loop the age of the oldest ready coroutine, the queue
 * length, the time of the last update and the busy time.  A partition
 * whose running loops have work that waited longer than grow_delay_ns (or
 * a loop that has not come back to its scheduler for that long with work
 * queued, or queued spawns sitting on a revoked loop) is "pressed" and
 * gets one more core from the pool; a partition whose granted cores were
 * busy less than shrink_util of the time its remaining cores would give
 * returns one, at most once per hold_ns.  Revokes come first, so a core
 * an idle partition returns can go to a pressed one in the same round.
 * Everything read from a region is untrusted: counts are clamped and no
 * value read there is used as an index.
 * Not for: the runtime's reaction (lib/rt/loans.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "myco_int.h"
#include "loans.h"

#define LDR(p) __atomic_load_n((p), __ATOMIC_RELAXED)

int myco__loans_admit(unsigned machine_cores, unsigned reserved,
		      const unsigned *min, const unsigned *max, unsigned n,
		      char *why, size_t why_cap)
{
	unsigned need = reserved;
	if (why && why_cap)
		why[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		if (min[i] == 0 || min[i] > max[i]) {
			if (why)
				snprintf(why, why_cap,
					 "elastic partition %u: cores %u..%u is not a range of at least one core",
					 i, min[i], max[i]);
			return -MYCO_EADMISSION;
		}
		need += min[i];
	}
	if (need > machine_cores) {
		if (why)
			snprintf(why, why_cap,
				 "reserved cores %u + elastic minimums %u = %u > %u cores",
				 reserved, need - reserved, need, machine_cores);
		return -MYCO_EADMISSION;
	}
	unsigned pool = machine_cores - need;
	for (unsigned i = 0; i < n; i++) {
		if (max[i] - min[i] > pool) {
			if (why)
				snprintf(why, why_cap,
					 "elastic partition %u may borrow %u cores, the pool has %u",
					 i, max[i] - min[i], pool);
			return -MYCO_EADMISSION;
		}
	}
	return (int)pool;
}

void myco__loans_init(myco__loans_t *a, const myco__loans_cfg_t *cfg,
		      unsigned pool)
{
	memset(a, 0, sizeof(*a));
	if (cfg)
		a->cfg = *cfg;
	if (!a->cfg.grow_delay_ns)
		a->cfg.grow_delay_ns = 50000;
	if (!(a->cfg.shrink_util > 0 && a->cfg.shrink_util < 1))
		a->cfg.shrink_util = 0.5;
	if (!a->cfg.hold_ns)
		a->cfg.hold_ns = 5000000;
	if (!a->cfg.period_ns)
		a->cfg.period_ns = 20000;
	a->pool = pool;
	atomic_init(&a->stop, false);
}

static unsigned granted_count(const myco__loans_part_t *p)
{
	unsigned k = 0;
	for (unsigned i = 0; i < p->max; i++)
		if (i < p->min || LDR(&p->r->core[i].grant))
			k++;
	return k;
}

int myco__loans_add(myco__loans_t *a, const char *name, myco_rt_loans_t *r,
		    size_t size)
{
	if (myco_rt_loans_check(r, size) < 0)
		return -EINVAL;
	if (a->nparts >= MYCO__LOANS_PARTS)
		return -ENOSPC;
	myco__loans_part_t *p = &a->parts[a->nparts];
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->r = r;
	p->min = LDR(&r->min_active);
	p->max = LDR(&r->max_active);
	/* cores it holds beyond its minimum come out of the pool; what the
	 * pool cannot cover is revoked */
	for (unsigned i = p->min; i < p->max; i++) {
		if (!LDR(&r->core[i].grant))
			continue;
		if (a->lent < a->pool)
			a->lent++;
		else
			myco_rt_loans_grant(r, i, false);
	}
	return (int)a->nparts++;
}

/* Pressure and utilisation of one partition since the last round. */
static void observe(myco__loans_t *a, myco__loans_part_t *p, uint64_t now)
{
	uint64_t busy = 0;
	unsigned running = 0;
	bool pressed = false;
	for (unsigned i = 0; i < p->max; i++) {
		const myco_rt_core_sig_t *c = &p->r->core[i];
		uint64_t b = LDR(&c->busy_ns);
		uint64_t d = b >= p->prev_busy[i] ? b - p->prev_busy[i] : 0;
		p->prev_busy[i] = b;
		bool g = i < p->min || LDR(&c->grant);
		uint64_t queued = LDR(&c->queued);
		if (!g) {
			/* queued spawns left on a revoked loop wait for the
			 * others: that is pressure too */
			if (queued && LDR(&c->state) == MYCO_RT_CORE_PARKED)
				pressed = true;
			continue;
		}
		running++;
		busy += d;
		if (!queued)
			continue;
		uint64_t upd = LDR(&c->updated_ns);
		uint64_t stale = now > upd ? now - upd : 0;
		if (LDR(&c->oldest_ns) > a->cfg.grow_delay_ns ||
		    stale > a->cfg.grow_delay_ns)
			pressed = true;
	}
	uint64_t dt = p->prev_ns && now > p->prev_ns ? now - p->prev_ns : 0;
	p->prev_ns = now;
	p->pressure = pressed;
	if (dt && running) {
		double u = (double)busy / ((double)dt * running);
		p->util = u > 1 ? 1 : u;
	}
}

int myco__loans_step(myco__loans_t *a, uint64_t now)
{
	int changes = 0;
	for (unsigned k = 0; k < a->nparts; k++)
		observe(a, &a->parts[k], now);
	/* revoke: a partition that would stay under shrink_util with one core
	 * fewer returns its highest lent core */
	for (unsigned k = 0; k < a->nparts; k++) {
		myco__loans_part_t *p = &a->parts[k];
		unsigned g = granted_count(p);
		if (g <= p->min || p->pressure ||
		    now - p->last_change_ns < a->cfg.hold_ns)
			continue;
		if (p->util * g >= a->cfg.shrink_util * (g - 1))
			continue;
		for (unsigned i = p->max; i-- > p->min;) {
			if (LDR(&p->r->core[i].grant)) {
				if (myco_rt_loans_grant(p->r, i, false) == 1) {
					p->revokes++;
					p->last_change_ns = now;
					if (a->lent)
						a->lent--;
					changes++;
				}
				break;
			}
		}
	}
	/* grant: one core per pressed partition per round, while the pool
	 * has one */
	for (unsigned k = 0; k < a->nparts && a->lent < a->pool; k++) {
		myco__loans_part_t *p = &a->parts[k];
		if (!p->pressure)
			continue;
		for (unsigned i = p->min; i < p->max; i++) {
			if (!LDR(&p->r->core[i].grant)) {
				if (myco_rt_loans_grant(p->r, i, true) == 1) {
					p->grants++;
					p->last_change_ns = now;
					a->lent++;
					changes++;
				}
				break;
			}
		}
	}
	a->steps++;
	return changes;
}

static void *arbiter(void *arg)
{
	myco__loans_t *a = arg;
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
		uint64_t t0 = myco_now();
		myco__loans_step(a, t0);
		uint64_t t1 = myco_now();
		if (t1 - t0 > a->step_ns_max)
			a->step_ns_max = t1 - t0;
		struct timespec ts = { 0, (long)a->cfg.period_ns };
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
	return NULL;
}

int myco__loans_start(myco__loans_t *a)
{
	atomic_store(&a->stop, false);
	int rc = pthread_create(&a->th, NULL, arbiter, a);
	if (rc)
		return -rc;
	a->running = true;
	return 0;
}

void myco__loans_stop(myco__loans_t *a)
{
	if (!a->running)
		return;
	atomic_store(&a->stop, true);
	pthread_join(a->th, NULL);
	a->running = false;
}
