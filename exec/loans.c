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
 *
 * The running system (myco__ex_loans_*): `myco run` gives every elastic
 * partition a region (a sealed memfd, `loans/region` in its manifest;
 * lib/part hands it to lib/rt, whose first group attaches), admits the
 * elastic minimums against the machine (the `machine` block's cores, else
 * the CPUs the executive may use) less the cores budget and frame
 * partitions reserve, and runs the arbiter thread over the pool that is
 * left.  The region outlives the partition's processes: a restarted
 * instance's group attaches to the same region and finds its grants.  The
 * executive's tick turns the arbiter's counters into `loan` events (at most
 * one a second per partition, summing the changes).
 * Not for: the runtime's reaction (lib/rt/loans.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "myco_int.h"
#include "exec_int.h"
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
					 "elastic partition %u may borrow %u cores, the pool has %u: "
					 "it will hold at most %u",
					 i, max[i] - min[i], pool, min[i] + pool);
			break;
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
			__atomic_store_n(&a->lent, a->lent + 1, __ATOMIC_RELAXED);
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
		__atomic_store_n(&p->util_pm, (uint32_t)(p->util * 1000 + 0.5), __ATOMIC_RELAXED);
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
					__atomic_store_n(&p->revokes, p->revokes + 1, __ATOMIC_RELAXED);
					p->last_change_ns = now;
					if (a->lent)
						__atomic_store_n(&a->lent, a->lent - 1,
								 __ATOMIC_RELAXED);
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
					__atomic_store_n(&p->grants, p->grants + 1, __ATOMIC_RELAXED);
					p->last_change_ns = now;
					__atomic_store_n(&a->lent, a->lent + 1, __ATOMIC_RELAXED);
					changes++;
				}
				break;
			}
		}
	}
	__atomic_store_n(&a->steps, a->steps + 1, __ATOMIC_RELAXED);
	return changes;
}

static bool any_queued(const myco__loans_part_t *p)
{
	for (unsigned i = 0; i < p->max; i++)
		if (LDR(&p->r->core[i].queued))
			return true;
	return false;
}

static void *arbiter(void *arg)
{
	myco__loans_t *a = arg;
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	unsigned idle = 0;
	while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
		uint64_t t0 = myco_now();
		myco__loans_step(a, t0);
		uint64_t t1 = myco_now();
		if (t1 - t0 > a->step_ns_max)
			__atomic_store_n(&a->step_ns_max, t1 - t0, __ATOMIC_RELAXED);
		/* nothing lent and no partition busy or queued: poll less
		 * often, up to 32 periods apart; the round that sees work
		 * queued goes back to every period */
		bool quiet = a->lent == 0;
		for (unsigned k = 0; k < a->nparts && quiet; k++)
			if (a->parts[k].pressure || a->parts[k].util > 0.05 ||
			    any_queued(&a->parts[k]))
				quiet = false;
		idle = quiet ? (idle < 5 ? idle + 1 : 5) : 0;
		struct timespec ts = { 0, (long)(a->cfg.period_ns << idle) };
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

/* ---- the running system ------------------------------------------------ */

struct ex_loans {
	myco__loans_t arb;
	unsigned machine, reserved, pool;
	struct lo_part {
		int fd;                 /* -1: not elastic */
		myco_rt_loans_t *r;
		int idx;                /* in arb.parts */
		uint64_t grants_seen, revokes_seen;
		uint64_t event_ns;      /* last `loan` event */
	} *pt;
};

static unsigned usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return (unsigned)CPU_COUNT(&set);
}

/* The region of one elastic partition, appended to its manifest. */
static int region_create(struct ex_part *p, struct lo_part *lp)
{
	const myco_partition_t *m = p->m;
	char name[96];
	snprintf(name, sizeof name, "myco-loans-%s", p->name);
	int rc, f = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0)
		return -errno;
	void *map = MAP_FAILED;
	if (ftruncate(f, sizeof(myco_rt_loans_t)) < 0 ||
	    (map = mmap(NULL, sizeof(myco_rt_loans_t), PROT_READ | PROT_WRITE,
			MAP_SHARED, f, 0)) == MAP_FAILED ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = myco_rt_loans_init(map, m->elastic_max, m->elastic_min, m->elastic_max);
	if (rc < 0)
		goto fail;
	struct myco__cap cap = { .kind = MYCO__CAP_LOANS, .fds = { f }, .nfds = 1 };
	rc = -E2BIG;
	if (p->nfds + 1 > EX_MAX_FDS || myco__caps_append(p->caps, sizeof(p->caps), &cap) < 0)
		goto fail;
	p->fds[p->nfds++] = f;
	lp->fd = f;
	lp->r = map;
	return 0;
fail:
	if (map != MAP_FAILED)
		munmap(map, sizeof(myco_rt_loans_t));
	close(f);
	return rc;
}

int myco__ex_loans_open(struct ex_system *s)
{
	size_t nel = 0;
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i].m->elastic_max)
			nel++;
	if (!nel)
		return 0;
	struct ex_loans *L = calloc(1, sizeof(*L));
	unsigned *mins = calloc(nel, sizeof(*mins)), *maxs = calloc(nel, sizeof(*maxs));
	int rc = -ENOMEM;
	if (!L || !mins || !maxs || !(L->pt = calloc(s->nparts, sizeof(*L->pt)))) {
		if (L)
			free(L->pt);
		free(L);
		goto out;
	}
	s->loans = L;
	for (size_t i = 0; i < s->nparts; i++)
		L->pt[i].fd = L->pt[i].idx = -1;
	L->machine = s->model->machine_cores ? s->model->machine_cores : usable_cpus();
	L->reserved = myco_lang_reserved_cores(s->model);
	size_t k = 0;
	for (size_t i = 0; i < s->nparts; i++) {
		const myco_partition_t *m = s->parts[i].m;
		if (m->elastic_max) {
			mins[k] = m->elastic_min;
			maxs[k++] = m->elastic_max;
		}
	}
	char why[256];
	rc = myco__loans_admit(L->machine, L->reserved, mins, maxs, (unsigned)nel, why,
			       sizeof why);
	if (rc < 0) {
		fprintf(stderr, "myco run: admission refused: core loans: %s (%s cores); "
			"nothing was started\n", why,
			s->model->machine_cores ? "the machine block's" : "usable");
		goto out;
	}
	L->pool = (unsigned)rc;
	uint64_t minsum = 0;
	for (size_t i = 0; i < nel; i++)
		minsum += mins[i];
	myco__ex_event(s, NULL, "admission", -1, -1,
		       "core loans: %u cores (%s), %u reserved by budget and frame partitions, "
		       "elastic minimums %llu, pool %u", L->machine,
		       s->model->machine_cores ? "machine block" : "usable CPUs", L->reserved,
		       (unsigned long long)minsum, L->pool);
	myco__loans_init(&L->arb, NULL, L->pool);
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		if (!p->m->elastic_max)
			continue;
		if (p->m->elastic_max - p->m->elastic_min > L->pool)
			myco__ex_event(s, p, "admission", -1, -1,
				       "core loans: %s may borrow %u cores, the pool has %u: it will "
				       "hold at most %u", p->name,
				       p->m->elastic_max - p->m->elastic_min, L->pool,
				       p->m->elastic_min + L->pool);
		rc = region_create(p, &L->pt[i]);
		if (rc == 0)
			rc = myco__loans_add(&L->arb, p->name, L->pt[i].r, sizeof(myco_rt_loans_t));
		if (rc < 0) {
			myco__ex_event(s, p, "error", -1, -1, "core loans: region: %s",
				       myco_strerror(rc));
			goto out;
		}
		L->pt[i].idx = rc;
	}
	rc = myco__loans_start(&L->arb);
	if (rc < 0)
		myco__ex_event(s, NULL, "error", -1, -1, "core loans: arbiter thread: %s",
			       myco_strerror(rc));
out:
	free(mins);
	free(maxs);
	return rc < 0 ? rc : 0;
}

void myco__ex_loans_close(struct ex_system *s)
{
	struct ex_loans *L = s->loans;
	if (!L)
		return;
	myco__loans_stop(&L->arb);
	for (size_t i = 0; i < s->nparts; i++) {
		if (L->pt[i].r)
			munmap(L->pt[i].r, sizeof(myco_rt_loans_t));
		if (L->pt[i].fd >= 0)
			close(L->pt[i].fd);     /* ours, as collect.c's regions */
	}
	free(L->pt);
	free(L);
	s->loans = NULL;
}

int myco__ex_loans_stat(struct ex_system *s, const struct ex_part *p, struct ex_loan_stat *st)
{
	struct ex_loans *L = s->loans;
	memset(st, 0, sizeof(*st));
	if (!L || p->idx >= s->nparts || L->pt[p->idx].idx < 0)
		return -ENOENT;
	const myco__loans_part_t *ap = &L->arb.parts[L->pt[p->idx].idx];
	st->min = ap->min;
	st->max = ap->max;
	st->granted = myco_rt_loans_granted(ap->r);
	st->grants = __atomic_load_n(&ap->grants, __ATOMIC_RELAXED);
	st->revokes = __atomic_load_n(&ap->revokes, __ATOMIC_RELAXED);
	st->util = __atomic_load_n(&ap->util_pm, __ATOMIC_RELAXED) / 1000.0;
	for (unsigned i = 0; i < ap->max; i++) {
		const myco_rt_core_sig_t *c = &ap->r->core[i];
		if (__atomic_load_n(&c->state, __ATOMIC_RELAXED) == MYCO_RT_CORE_RUNNING)
			st->running++;
		st->loop_grants += __atomic_load_n(&c->grants, __ATOMIC_RELAXED);
		st->migrated += __atomic_load_n(&c->migrated, __ATOMIC_RELAXED);
	}
	st->pool = L->pool;
	st->lent = __atomic_load_n(&L->arb.lent, __ATOMIC_RELAXED);
	return 0;
}

/* At most one `loan` event per partition per second (a busy system may
 * change grants every round): it sums the changes since the last one. */
#define LOAN_EVENT_NS 1000000000ull

void myco__ex_loans_tick(struct ex_system *s)
{
	struct ex_loans *L = s->loans;
	if (!L)
		return;
	uint64_t now = myco_now();
	for (size_t i = 0; i < s->nparts; i++) {
		struct lo_part *lp = &L->pt[i];
		struct ex_loan_stat st;
		if (lp->idx < 0 || myco__ex_loans_stat(s, &s->parts[i], &st) < 0)
			continue;
		if (st.grants == lp->grants_seen && st.revokes == lp->revokes_seen)
			continue;
		if (lp->event_ns && now - lp->event_ns < LOAN_EVENT_NS)
			continue;
		lp->event_ns = now;
		myco__ex_event(s, &s->parts[i], "loan", -1, -1,
			       "%s holds %u of %u..%u cores: +%llu granted, -%llu revoked "
			       "(%llu and %llu in all), pool %u, lent %u", s->parts[i].name,
			       st.granted, st.min, st.max,
			       (unsigned long long)(st.grants - lp->grants_seen),
			       (unsigned long long)(st.revokes - lp->revokes_seen),
			       (unsigned long long)st.grants, (unsigned long long)st.revokes,
			       st.pool, st.lent);
		lp->grants_seen = st.grants;
		lp->revokes_seen = st.revokes;
	}
}
