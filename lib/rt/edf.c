/*
 * edf.c: the edf policy: periodic and sporadic tasks with runtime C,
 * relative deadline D and period (or minimum inter-arrival) T; admission by
 * the density bound sum(C / min(D, T)) <= edf_util_max; a ready heap ordered
 * by absolute deadline; budget overruns detected at every switch-out (yield
 * points) and counted; deadline misses counted when a job finishes late.
 * Also myco_rt_set_deadline() (SCHED_DEADLINE for the calling thread), and
 * the same counts published to the executive through the partition's
 * control region (myco__rt_timing, lib/part/part_abi.h) for `myco ps`.
 * Not for: preemption (coroutines are cooperative: an overrun is noticed at
 * the job's next yield point, not enforced in between).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "part_abi.h"
#include "rt_int.h"

/* The partition's timing counters in its control region (lib/part/part_abi.h),
 * set by myco_init() inside a system; NULL otherwise. */
struct myco__part_timing *myco__rt_timing;

struct myco__edf {
	myco_edf_params_t p;
	uint64_t D;
	double util;
	uint64_t release;       /* current (or next) job release            */
	uint64_t deadline;      /* absolute deadline of the current job     */
	uint64_t last_release;
	uint64_t job_cpu;       /* CPU time of the current job so far        */
	size_t heap_idx;
	bool in_job, overrun_counted, throttled, sporadic, release_pending;
	bool ever_released;
	myco__wait_t *relwait;  /* set while parked in myco_edf_next         */
	myco__tnode_t reltn;    /* release timer                             */
	myco_co_t *co;
	int pub;                /* slot in myco__rt_timing->task[], or -1 */
};

/* ---- counters for the executive ---------------------------------------- */

enum pub_what { PUB_JOB, PUB_MISS, PUB_OVERRUN };

/* Add one event to the partition's totals and the task's slot (relaxed:
 * plain counters, each written by this loop's thread only per slot). */
static void pub_add(const myco__edf_t *e, enum pub_what w)
{
	struct myco__part_timing *t = myco__rt_timing;
	MYCO_TP(MYCO_TRACE_SCHED, w == PUB_JOB ? MYCO_EV_EDF_RELEASE : w == PUB_MISS ?
		MYCO_EV_EDF_MISS : MYCO_EV_EDF_OVERRUN, (uintptr_t)e->co, e->co->st.jobs, e->deadline);
	if (!t)
		return;
	uint64_t *tot = w == PUB_JOB ? &t->edf_jobs :
			w == PUB_MISS ? &t->deadline_misses : &t->overruns;
	__atomic_fetch_add(tot, 1, __ATOMIC_RELAXED);
	if (e->pub < 0)
		return;
	struct myco__part_task *k = &t->task[e->pub];
	uint64_t *one = w == PUB_JOB ? &k->jobs :
			w == PUB_MISS ? &k->deadline_misses : &k->overruns;
	__atomic_fetch_add(one, 1, __ATOMIC_RELAXED);
}

/* Claim a task slot named after the coroutine (or "edf<N>"). */
static int pub_claim(const myco_co_t *co)
{
	struct myco__part_timing *t = myco__rt_timing;
	if (!t)
		return -1;
	uint32_t i = __atomic_fetch_add(&t->ntasks, 1, __ATOMIC_RELAXED);
	if (i >= MYCO__PART_TASKS) {
		__atomic_fetch_add(&t->tasks_dropped, 1, __ATOMIC_RELAXED);
		return -1;
	}
	struct myco__part_task *k = &t->task[i];
	if (co->name[0])
		snprintf(k->name, sizeof(k->name), "%s", co->name);
	else
		snprintf(k->name, sizeof(k->name), "edf%u", i);
	__atomic_store_n(&k->used, 1u, __ATOMIC_RELEASE);
	return (int)i;
}

/* ---- heap ---------------------------------------------------------------- */

static bool before(const myco_co_t *a, const myco_co_t *b)
{
	if (a->edf->deadline != b->edf->deadline)
		return a->edf->deadline < b->edf->deadline;
	return a->edf->release < b->edf->release;
}

static void heap_set(myco_loop_t *l, size_t i, myco_co_t *co)
{
	l->eh[i] = co;
	co->edf->heap_idx = i;
}

static void sift_up(myco_loop_t *l, size_t i)
{
	myco_co_t *co = l->eh[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(co, l->eh[p]))
			break;
		heap_set(l, i, l->eh[p]);
		i = p;
	}
	heap_set(l, i, co);
}

static void sift_down(myco_loop_t *l, size_t i)
{
	myco_co_t *co = l->eh[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->eh_len)
			break;
		if (c + 1 < l->eh_len && before(l->eh[c + 1], l->eh[c]))
			c++;
		if (!before(l->eh[c], co))
			break;
		heap_set(l, i, l->eh[c]);
		i = c;
	}
	heap_set(l, i, co);
}

void myco__edf_push(myco_loop_t *l, myco_co_t *co)
{
	if (l->eh_len == l->eh_cap) {
		size_t cap = l->eh_cap ? l->eh_cap * 2 : 16;
		myco_co_t **n = realloc(l->eh, cap * sizeof(*n));
		if (!n) {
			/* Out of memory: run it in the background class
			 * rather than lose it. */
			co->edf->throttled = true;
			myco__make_ready(l, co, co->ready_ns);
			return;
		}
		l->eh = n;
		l->eh_cap = cap;
	}
	l->eh[l->eh_len++] = co;
	sift_up(l, l->eh_len - 1);
}

myco_co_t *myco__edf_pop(myco_loop_t *l)
{
	if (!l->eh_len)
		return NULL;
	myco_co_t *top = l->eh[0];
	l->eh_len--;
	if (l->eh_len) {
		heap_set(l, 0, l->eh[l->eh_len]);
		sift_down(l, 0);
	}
	top->edf->heap_idx = (size_t)-1;
	return top;
}

/* Remove co from the ready heap if it is there; true if it was. */
static bool heap_remove(myco_loop_t *l, myco_co_t *co)
{
	myco__edf_t *e = co->edf;
	if (e->heap_idx == (size_t)-1 || e->heap_idx >= l->eh_len ||
	    l->eh[e->heap_idx] != co)
		return false;
	size_t i = e->heap_idx;
	l->eh_len--;
	if (i < l->eh_len) {
		myco_co_t *m = l->eh[l->eh_len];
		heap_set(l, i, m);
		sift_down(l, i);
		sift_up(l, m->edf->heap_idx);
	}
	e->heap_idx = (size_t)-1;
	return true;
}

bool myco__edf_runs_as_edf(const myco_co_t *co)
{
	return co->edf && co->edf->in_job && !co->edf->throttled;
}

/* ---- jobs -------------------------------------------------------------- */

static void begin_job(myco_loop_t *l, myco__edf_t *e, uint64_t rel)
{
	e->release = rel;
	e->last_release = rel;
	e->ever_released = true;
	e->deadline = rel + e->D;
	e->job_cpu = 0;
	e->in_job = true;
	e->overrun_counted = false;
	e->throttled = false;
	e->co->st.jobs++;
	MYCO__ST_ADD(l, edf_jobs, 1);
	pub_add(e, PUB_JOB);
}

/* Release the job at time rel (now or in the past) and make the task
 * runnable if it is waiting for it. */
static void do_release(myco_loop_t *l, myco__edf_t *e, uint64_t rel)
{
	myco_co_t *co = e->co;
	begin_job(l, e, rel);
	if (co->state == MYCO__CO_NEW) {
		myco__make_ready(l, co, rel);
	} else if (e->relwait && co->state == MYCO__CO_WAITING &&
		   co->wait == e->relwait) {
		if (e->relwait->reason == MYCO__WAKE_NONE)
			e->relwait->reason = MYCO__WAKE_SIGNAL;
		myco__make_ready(l, co, rel);
	}
}

static void release_fire(myco__tnode_t *tn)
{
	myco__edf_t *e = (myco__edf_t *)((char *)tn -
					 offsetof(myco__edf_t, reltn));
	do_release(e->co->loop, e, tn->expire_ns);
}

static void schedule_release(myco_loop_t *l, myco__edf_t *e, uint64_t rel)
{
	uint64_t now = myco_now();
	if (rel <= now) {
		do_release(l, e, rel);
		return;
	}
	e->reltn.fire = release_fire;
	myco__wheel_add(&l->wheel, &e->reltn, rel);
}

void myco__edf_account(myco_loop_t *l, myco_co_t *co, uint64_t ran_ns)
{
	myco__edf_t *e = co->edf;
	if (!e->in_job)
		return;
	e->job_cpu += ran_ns;
	if (e->job_cpu > e->p.runtime_ns && !e->overrun_counted) {
		e->overrun_counted = true;
		co->st.overruns++;
		MYCO__ST_ADD(l, overruns, 1);
		pub_add(e, PUB_OVERRUN);
		if (e->p.flags & MYCO_EDF_THROTTLE) {
			e->throttled = true;
			/* it queued itself as an edf job before switching out
			 * (myco_yield): move it to the background class */
			if (co->state == MYCO__CO_READY && heap_remove(l, co))
				myco__make_ready(l, co, co->ready_ns);
		}
	}
}

void myco__edf_task_end(myco_loop_t *l, myco_co_t *co)
{
	myco__edf_t *e = co->edf;
	if (!e)
		return;
	if (e->reltn.armed)
		myco__wheel_del(&l->wheel, &e->reltn);
	heap_remove(l, co);
	l->edf_util -= e->util;
	if (l->edf_util < 1e-12)
		l->edf_util = 0;
	co->edf = NULL;
	free(e);
}

void myco__edf_cancel_unstarted(myco_loop_t *l, myco_co_t *co)
{
	myco__edf_t *e = co->edf;
	if (e->reltn.armed)
		myco__wheel_del(&l->wheel, &e->reltn);
	myco__make_ready(l, co, myco_now());
}

int myco_spawn_edf(myco_loop_t *loop, myco_co_t **out, myco_co_fn_t fn,
		   void *arg, const myco_edf_params_t *params,
		   const myco_co_opts_t *opts)
{
	int rc;
	myco__edf_t *e = NULL;
	myco_co_t *co = NULL;

	if (out)
		*out = NULL;
	if (!loop || !fn || !params)
		return -EINVAL;
	if (loop->policy != MYCO_POLICY_EDF)
		return -ENOTSUP;
	uint64_t C = params->runtime_ns, T = params->period_ns;
	uint64_t D = params->deadline_ns ? params->deadline_ns : T;
	if (!C || !T || D > T || C > D)
		return -EINVAL;
	double u = (double)C / (double)D; /* D <= T, so min(D, T) = D */
	if (loop->edf_util + u > loop->opts.edf_util_max + 1e-9)
		return -MYCO_EADMISSION;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->p = *params;
	e->D = D;
	e->util = u;
	e->heap_idx = (size_t)-1;
	e->sporadic = (params->flags & MYCO_EDF_SPORADIC) != 0;
	myco_co_opts_t o = opts ? *opts : (myco_co_opts_t){0};
	o.flags |= MYCO_CO_PINNED;
	rc = myco__co_new(loop, &co, fn, arg, &o);
	if (rc < 0)
		goto out;
	e->co = co;
	e->pub = pub_claim(co);
	co->edf = e;
	co->detached = out == NULL;
	loop->edf_util += u;
	e = NULL;
	if (!co->edf->sporadic) {
		uint64_t start = params->start_ns ? params->start_ns
						  : myco_now();
		schedule_release(loop, co->edf, start);
	}
	if (out)
		*out = co;
	rc = 0;
out:
	free(e);
	return rc;
}

int myco_edf_next(void)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l ? l->cur : NULL;
	if (!co)
		return -EPERM;
	myco__edf_t *e = co->edf;
	if (!e)
		return -EINVAL;
	uint64_t now = myco_now();
	MYCO_TP(MYCO_TRACE_SCHED, MYCO_EV_EDF_END, (uintptr_t)co, co->st.jobs, e->deadline);
	if (e->in_job) {
		uint64_t job = e->job_cpu + (now > co->run_ns ? now - co->run_ns : 0);
		if (job > e->p.runtime_ns && !e->overrun_counted) {
			e->overrun_counted = true;
			co->st.overruns++;
			MYCO__ST_ADD(l, overruns, 1);
			pub_add(e, PUB_OVERRUN);
		}
		if (job > co->st.max_job_ns)
			co->st.max_job_ns = job;
		if (now > e->deadline) {
			co->st.deadline_misses++;
			MYCO__ST_ADD(l, deadline_misses, 1);
			pub_add(e, PUB_MISS);
		}
		/* what ran so far belongs to the finished job */
		co->st.cpu_ns += now - co->run_ns;
		co->run_ns = now;
		e->in_job = false;
		e->throttled = false;
		e->job_cpu = 0;
	}
	if (co->cancelled)
		return -ECANCELED;
	if (!e->sporadic) {
		schedule_release(l, e, e->release + e->p.period_ns);
	} else if (e->release_pending) {
		e->release_pending = false;
		uint64_t rel = e->last_release + e->p.period_ns;
		schedule_release(l, e, rel > now ? rel : now);
	}
	myco__wait_t w = { .kind = MYCO__WAIT_PLAIN };
	int r;
	if (e->in_job) {
		/* released already (late): compete by deadline at once */
		myco__make_ready(l, co, e->release);
		myco__co_yield_to_loop(l, co);
		return co->cancelled ? -ECANCELED : 0;
	}
	e->relwait = &w;
	r = myco__park(&w, -1);
	e->relwait = NULL;
	if (r == MYCO__WAKE_CANCEL) {
		if (e->reltn.armed)
			myco__wheel_del(&l->wheel, &e->reltn);
		return -ECANCELED;
	}
	return 0;
}

int myco_edf_release(myco_co_t *co)
{
	if (!co || !co->edf || !co->edf->sporadic ||
	    co->state == MYCO__CO_DONE)
		return -EINVAL;
	myco_loop_t *l = co->loop;
	myco__edf_t *e = co->edf;
	if (e->in_job || e->reltn.armed) {
		if (e->release_pending)
			co->st.jobs_merged++;
		e->release_pending = true;
		return 0;
	}
	uint64_t now = myco_now();
	uint64_t rel = now;
	if (e->ever_released && e->last_release + e->p.period_ns > now)
		rel = e->last_release + e->p.period_ns;
	schedule_release(l, e, rel);
	return 0;
}

double myco_edf_utilisation(const myco_loop_t *loop)
{
	return loop ? loop->edf_util : 0;
}

/* ---- SCHED_DEADLINE -------------------------------------------------- */

int myco_rt_set_deadline(uint64_t runtime_ns, uint64_t deadline_ns,
			 uint64_t period_ns)
{
	struct myco__sched_attr a = {
		.sched_policy = SCHED_DEADLINE,
		.sched_runtime = runtime_ns,
		.sched_deadline = deadline_ns ? deadline_ns : period_ns,
		.sched_period = period_ns,
	};

	return myco__sched_setattr(0, &a, 0);
}
