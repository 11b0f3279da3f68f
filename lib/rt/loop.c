/*
 * loop.c: the event loop: create/run/stop/destroy, the scheduler (edf
 * class first, then the FIFO class), parking and waking coroutines, the
 * io_uring completion dispatch, cross-thread posts and wake-ups.
 * Not for: coroutine stacks and switching (co.c), I/O operations
 * (uring.c), policies' internals (edf.c, steal.c), groups (group.c).
 *
 * One iteration: advance the timer wheel, run posted callbacks, start
 * queued spawns (steal), run a batch of ready coroutines (those ready when
 * the batch began; edf jobs first), reap completions; if coroutines are
 * ready, submit their SQEs and go on; when nothing is ready, submit and
 * block in one io_uring_submit_and_wait_timeout() until a completion or
 * the next timer.  Other threads wake a sleeping loop through an eventfd
 * whose read is kept armed in the ring; "sleeping" and "post_len" form a
 * Dekker pair (both seq_cst) so no wake-up is lost.
 *
 * Record and replay (docs/replay.md): recording, every wake-up from outside
 * the program (a completion, an expired timer) is written as a WAKE record
 * with the number of switch-ins so far; replaying, the loop neither reads
 * the clock for its timers nor sleeps: it performs the log's WAKE records
 * at the same points (rp_wakes) and stops the replay when it stalls.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rt_int.h"
#include "../replay/replay.h"
#include "../replay/rec_abi.h"

#ifdef MYCO_RT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

__thread myco_loop_t *myco__tls_loop;

#define UD_IGNORE 0u
#define UD_EFD    1u

int myco_policy_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (!strcmp(name, "fifo"))
		return MYCO_POLICY_FIFO;
	if (!strcmp(name, "edf"))
		return MYCO_POLICY_EDF;
	if (!strcmp(name, "steal"))
		return MYCO_POLICY_STEAL;
	if (!strcmp(name, "adaptive"))
		return MYCO_POLICY_ADAPTIVE;
	if (!strcmp(name, "market"))
		return MYCO_POLICY_MARKET;
	return -EINVAL;
}

const char *myco_policy_name(myco_policy_t p)
{
	switch (p) {
	case MYCO_POLICY_FIFO:  return "fifo";
	case MYCO_POLICY_EDF:   return "edf";
	case MYCO_POLICY_STEAL: return "steal";
	case MYCO_POLICY_ADAPTIVE: return "adaptive";
	case MYCO_POLICY_MARKET: return "market";
	case MYCO_POLICY_DEFAULT: return "default";
	}
	return "?";
}

static int resolve_policy(const myco_loop_opts_t *o)
{
	if (o->policy_name)
		return myco_policy_from_name(o->policy_name);
	if (o->policy != MYCO_POLICY_DEFAULT) {
		if (o->policy < MYCO_POLICY_FIFO || o->policy > MYCO_POLICY_MARKET)
			return -EINVAL;
		return o->policy;
	}
	const char *env = getenv("MYCO_POLICY");
	if (env && *env)
		return myco_policy_from_name(env);
	return MYCO_POLICY_FIFO;
}

/* ---- replay ---------------------------------------------------------- */

static atomic_int rp_loops; /* live loops in a replay */

/* Replay serves one loop of the fifo policy: the others decide by time
 * or across threads, which the log does not hold. */
static void rp_check_loop(myco_policy_t p)
{
	if (p != MYCO_POLICY_FIFO)
		myco__rec_refuse("the program runs a loop of policy %s, which schedules by "
				 "time; replay serves loops of policy fifo", myco_policy_name(p));
	if (atomic_fetch_add(&rp_loops, 1) >= 1)
		myco__rec_refuse("the program runs more than one loop at a time; the order "
				 "between loop threads is not recorded (replay serves one loop)");
}

static myco_co_t *co_by_serial(myco_loop_t *l, uint32_t serial)
{
	for (myco_co_t *co = l->all; co; co = co->all_next)
		if (co->rec_serial == serial)
			return co;
	return NULL;
}

/* Perform the log's WAKE records that the recorded loop performed at this
 * point: those at the head whose switch-in count is the loop's. */
static void rp_wakes(myco_loop_t *l)
{
	struct myco__rb_wake w;

	while (myco__rec_rt_peek(&w)) {
		if (w.picks != l->rec_picks || w.loop != l->index) {
			if (w.picks > l->rec_picks && w.loop == l->index)
				return;      /* later: after more switch-ins */
			myco__rec_rt_stalled(l->index, l->rec_picks);
		}
		myco__rec_rt_take_wake();   /* refuses I/O and cross-thread wakes */
		if (w.kind == MYCO__RTW_TIMER) {
			if (myco__timer_fire_serial(l, w.serial) < 0)
				myco__rec_rt_stalled(l->index, l->rec_picks);
			continue;
		}
		myco_co_t *co = co_by_serial(l, w.serial);
		if (!co || co->state != MYCO__CO_WAITING || !co->wait)
			myco__rec_rt_stalled(l->index, l->rec_picks);
		myco__wake(co->wait, w.kind == MYCO__RTW_TIMEOUT ? MYCO__WAKE_TIMER
								  : MYCO__WAKE_IO);
	}
}

int myco_loop_create(myco_loop_t **out, const myco_loop_opts_t *opts)
{
	int rc;
	myco_loop_t *l = NULL;
	myco_loop_opts_t o = {0};

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (opts)
		o = *opts;
	rc = resolve_policy(&o);
	if (rc < 0)
		goto out;
	if (o.edf_util_max == 0)
		o.edf_util_max = 1.0;
	if (!(o.edf_util_max > 0 && o.edf_util_max <= 1.0)) {
		rc = -EINVAL;
		goto out;
	}
	if (!o.uring_entries)
		o.uring_entries = 256;
	if (!o.post_ring_slots)
		o.post_ring_slots = 1024;
	if (o.post_ring_slots & (o.post_ring_slots - 1)) {
		rc = -EINVAL;
		goto out;
	}
	if (myco__rec_rt == 2)
		rp_check_loop((myco_policy_t)rc);
	l = calloc(1, sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto out;
	}
	l->efd = -1;
	l->policy = (myco_policy_t)rc;
	o.policy = l->policy;
	o.policy_name = NULL; /* not kept: the caller's string */
	l->opts = o;
	l->stack_size = o.stack_size ? o.stack_size : MYCO_RT_DEFAULT_STACK;
	rc = pthread_mutex_init(&l->post_mu, NULL);
	if (rc) {
		rc = -rc;
		free(l);
		l = NULL;
		goto out;
	}
	l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->efd < 0) {
		rc = -errno;
		goto out;
	}
	rc = myco__rt_ring_init(&l->ring, o.uring_entries);
	if (rc < 0)
		goto out;
	l->ring_ok = true;
	myco__wheel_init(&l->wheel, myco__now_unrec());
	if (l->policy == MYCO_POLICY_STEAL || l->policy == MYCO_POLICY_ADAPTIVE) {
		/* adaptive: the colony chooses the deque, idle loops steal */
		rc = myco__deque_new(&l->deque, 4096);
		if (rc < 0)
			goto out;
	}
	if (l->policy == MYCO_POLICY_MARKET) {
		rc = myco__market_new(l);
		if (rc == 0)
			rc = myco__market_env(l); /* bids of the system file */
		if (rc < 0)
			goto out;
	}
	*out = l;
	l = NULL;
	rc = 0;
out:
	if (l)
		myco_loop_destroy(l);
	return rc;
}

myco_loop_t *myco_loop_current(void)
{
	return myco__tls_loop;
}

unsigned myco_loop_index(const myco_loop_t *loop)
{
	return loop ? loop->index : 0;
}

myco_policy_t myco_loop_policy(const myco_loop_t *loop)
{
	return loop->policy;
}

myco_group_t *myco_loop_group(const myco_loop_t *loop)
{
	return loop ? loop->group : NULL;
}

/* ---- ready queues ----------------------------------------------------- */

void myco__make_ready(myco_loop_t *l, myco_co_t *co, uint64_t since_ns)
{
	co->state = MYCO__CO_READY;
	co->ready_ns = since_ns;
	if (co->edf && myco__edf_runs_as_edf(co)) {
		myco__edf_push(l, co);
		return;
	}
	if (l->policy == MYCO_POLICY_MARKET) {
		myco__market_push(l, co);
		l->rq_len++;
		return;
	}
	co->rq_next = NULL;
	if (l->rq_tail)
		l->rq_tail->rq_next = co;
	else
		l->rq_head = co;
	l->rq_tail = co;
	l->rq_len++;
}

static myco_co_t *pick(myco_loop_t *l)
{
	myco_co_t *co = l->eh_len ? myco__edf_pop(l) : NULL;
	if (co)
		return co;
	if (l->policy == MYCO_POLICY_MARKET) {
		co = myco__market_pop(l, myco__now_unrec());
		if (co)
			l->rq_len--;
		return co;
	}
	co = l->rq_head;
	if (!co)
		return NULL;
	l->rq_head = co->rq_next;
	if (!l->rq_head)
		l->rq_tail = NULL;
	co->rq_next = NULL;
	l->rq_len--;
	return co;
}

/* ---- parking ------------------------------------------------------------ */

static void wait_timer_fire(myco__tnode_t *tn)
{
	myco__wait_t *w = (myco__wait_t *)((char *)tn - offsetof(myco__wait_t, tn));
	myco__wake(w, MYCO__WAKE_TIMER);
}

void myco__wake(myco__wait_t *w, int reason)
{
	myco_co_t *co = w->co;
	if (!co || co->state != MYCO__CO_WAITING || co->wait != w)
		return;
	if (w->kind == MYCO__WAIT_IO && reason != MYCO__WAKE_IO)
		return;
	if (w->reason == MYCO__WAKE_NONE)
		w->reason = reason;
	/* outside wake-ups only: a completion we cancelled answers the
	 * program's own myco_cancel, which a replay makes again */
	if (__builtin_expect(myco__rec_rt == 1, 0) &&
	    ((reason == MYCO__WAKE_IO && !w->cancel_req) || reason == MYCO__WAKE_TIMER))
		myco__rec_rt_wake(reason == MYCO__WAKE_TIMER ? MYCO__RTW_TIMEOUT
			  : co->rec_chan_wait ? MYCO__RTW_CHAN : MYCO__RTW_IO,
			  co->loop->index, co->rec_serial, co->loop->rec_picks);
	MYCO_TP(MYCO_TRACE_RT, MYCO_EV_RT_WAKE, co->loop->index, (uintptr_t)co, reason);
	myco__make_ready(co->loop, co, myco__now_unrec());
}

int myco__park(myco__wait_t *w, int64_t timeout_ns)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l->cur;

	w->co = co;
	w->reason = MYCO__WAKE_NONE;
	if (timeout_ns >= 0 && w->kind == MYCO__WAIT_PLAIN) {
		w->tn.fire = wait_timer_fire;
		myco__wheel_add(&l->wheel, &w->tn,
				myco__now_unrec() + (uint64_t)timeout_ns);
	}
	co->wait = w;
	co->state = MYCO__CO_WAITING;
	MYCO_TP(MYCO_TRACE_RT, MYCO_EV_RT_PARK, l->index, (uintptr_t)co, w->kind);
	myco__co_yield_to_loop(l, co);
	co->wait = NULL;
	if (w->tn.armed)
		myco__wheel_del(&l->wheel, &w->tn);
	return w->reason;
}

int myco_yield(void)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l ? l->cur : NULL;
	if (!co)
		return -EPERM;
	if (co->cancelled)
		return -ECANCELED;
	myco__make_ready(l, co, myco__now_unrec());
	myco__co_yield_to_loop(l, co);
	return co->cancelled ? -ECANCELED : 0;
}

int myco_sleep_until(uint64_t abs_ns)
{
	myco_co_t *co = myco__cur();
	if (!co)
		return -EPERM;
	if (co->cancelled)
		return -ECANCELED;
	uint64_t now = myco_now();
	if (abs_ns <= now)
		return myco_yield();
	myco__wait_t w = { .kind = MYCO__WAIT_PLAIN };
	int r = myco__park(&w, (int64_t)(abs_ns - now));
	return r == MYCO__WAKE_CANCEL ? -ECANCELED : 0;
}

int myco_sleep_ns(uint64_t ns)
{
	if (ns == 0)
		return myco_yield();
	if (ns > (uint64_t)INT64_MAX)
		ns = (uint64_t)INT64_MAX;
	return myco_sleep_until(myco_now() + ns);
}

/* ---- submission ------------------------------------------------------- */

struct io_uring_sqe *myco__sqe(myco_loop_t *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

/* ---- completions ------------------------------------------------------ */

static unsigned reap(myco_loop_t *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		n++;
		if (ud == UD_IGNORE)
			continue;
		if (ud == UD_EFD) {
			l->efd_armed = false;
			continue;
		}
		myco__wait_t *w = (myco__wait_t *)(uintptr_t)ud;
		w->res = cqe->res;
		w->cqe_done = true;
		l->io_pending--;
		myco__wake(w, MYCO__WAKE_IO);
	}
	if (n)
		io_uring_cq_advance(&l->ring, n);
	return n;
}

/* ---- posts ------------------------------------------------------------ */

void myco__wakeup_thread(myco_loop_t *l)
{
	if (atomic_load(&l->sleeping)) {
		uint64_t one = 1;
		ssize_t r = write(l->efd, &one, sizeof(one));
		(void)r; /* EAGAIN: counter saturated, a wake-up is pending */
	}
	if (l->sig)
		myco__loans_kick(l); /* parked on its core-loan futex */
}

/* Queue an already allocated post node (no allocation: used for event
 * deliveries that must not fail).  Any thread. */
void myco__post_node(myco_loop_t *l, myco__post_t *p)
{
	p->next = NULL;
	if (myco__rec_rt && myco__tls_loop != l && atomic_load(&l->running))
		atomic_fetch_add(&l->rec_foreign, 1);
	pthread_mutex_lock(&l->post_mu);
	if (l->post_tail)
		l->post_tail->next = p;
	else
		l->post_head = p;
	l->post_tail = p;
	pthread_mutex_unlock(&l->post_mu);
	atomic_fetch_add(&l->post_len, 1);
	myco__wakeup_thread(l);
}

/* Post nodes allocated by myco_post carry this marker in .next of a
 * wrapper so drain knows to free them. */
typedef struct {
	myco__post_t p;
	void (*fn)(void *);
	void *arg;
} heap_post_t;

static void heap_post_run(void *arg)
{
	heap_post_t *hp = arg;
	void (*fn)(void *) = hp->fn;
	void *a = hp->arg;
	free(hp);
	fn(a);
}

int myco_post(myco_loop_t *loop, void (*fn)(void *arg), void *arg)
{
	myco_loop_t *cur = myco__tls_loop;
	if (!loop || !fn)
		return -EINVAL;
	if (cur && cur != loop && cur->group && cur->group == loop->group)
		return myco__group_post(cur, loop, fn, arg);
	heap_post_t *hp = malloc(sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	hp->fn = fn;
	hp->arg = arg;
	hp->p.fn = heap_post_run;
	hp->p.arg = hp;
	myco__post_node(loop, &hp->p);
	return 0;
}

static void drain_posts(myco_loop_t *l)
{
	if (!atomic_load_explicit(&l->post_len, memory_order_relaxed))
		return;
	myco__post_t *p;
	if (myco__rec_rt && atomic_exchange(&l->rec_foreign, 0)) {
		if (myco__rec_rt == 2)
			myco__rec_refuse("the program's loop ran work posted by another thread "
					 "(myco_post, myco_event_notify): the order of threads is "
					 "not recorded");
		myco__rec_rt_wake(MYCO__RTW_POST, l->index, 0, l->rec_picks);
	}
	pthread_mutex_lock(&l->post_mu);
	p = l->post_head;
	l->post_head = l->post_tail = NULL;
	pthread_mutex_unlock(&l->post_mu);
	while (p) {
		myco__post_t *next = p->next;
		atomic_fetch_sub(&l->post_len, 1);
		MYCO__ST_ADD(l, posts_in, 1);
		p->fn(p->arg); /* may free p */
		p = next;
	}
	if (l->group)
		myco__group_drain(l);
}

void myco_loop_stop(myco_loop_t *loop)
{
	if (!loop)
		return;
	atomic_store(&loop->stop_req, true);
	myco__wakeup_thread(loop);
}

/* ---- the loop --------------------------------------------------------- */

static void run_batch(myco_loop_t *l)
{
	size_t n = l->rq_len + l->eh_len;
	uint64_t now = n ? myco__now_unrec() : 0;
	while (n-- > 0) {
		myco_co_t *co = pick(l);
		if (!co)
			break;
		l->rec_picks++;
		if (l->mkt) {
			int cls = co->mkt_cls; /* co may be freed by the switch */
			uint64_t t = now;
			now = myco__co_switch_in(l, co, now);
			myco__market_charge(l, cls, now - t);
			continue;
		}
		now = myco__co_switch_in(l, co, now);
	}
}

static bool idle_done(myco_loop_t *l)
{
	return !l->group && !l->opts.keepalive && l->live == 0 &&
	       l->wheel.count == 0 && l->io_pending == 0 &&
	       atomic_load(&l->post_len) == 0 &&
	       (!l->deque || myco__deque_len(l->deque) == 0);
}

static void update_gauges(myco_loop_t *l)
{
	MYCO__ST_SET(l, live, l->live);
	MYCO__ST_SET(l, ready_len, l->rq_len + l->eh_len);
	MYCO__ST_SET(l, edf_ready_len, l->eh_len);
	MYCO__ST_SET(l, steal_queue_len,
		     l->deque ? myco__deque_len(l->deque) : 0);
	MYCO__ST_SET(l, timers_armed, l->wheel.count);
	MYCO__ST_SET(l, io_pending, l->io_pending);
	MYCO__ST_SET(l, post_queue_len, atomic_load_explicit(&l->post_len,
			memory_order_relaxed));
	if (l->sig)
		myco__loans_publish(l);
}

static void arm_efd(myco_loop_t *l)
{
	if (l->efd_armed)
		return;
	struct io_uring_sqe *sqe = myco__sqe(l);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, l->efd, &l->efd_buf, sizeof(l->efd_buf), 0);
	sqe->user_data = UD_EFD;
	l->efd_armed = true;
}

static bool have_steal_work(myco_loop_t *l);

static void pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int myco_loop_run(myco_loop_t *l)
{
	bool f = false;
	if (!l)
		return -EINVAL;
	if (!atomic_compare_exchange_strong(&l->running, &f, true))
		return -EBUSY;
	if (atomic_exchange(&l->stop_req, false)) {
		atomic_store(&l->running, false);
		return -MYCO_ESTOPPED;
	}
	myco_loop_t *prev = myco__tls_loop;
	myco__tls_loop = l;
#ifdef MYCO_RT_TSAN
	l->tsan_main = __tsan_get_current_fiber();
#endif
#ifdef MYCO_RT_ASAN
	/* the scheduler's stack, which coroutines switch back to (a loop
	 * may run on another thread than last time) */
	pthread_attr_t pa;
	if (pthread_getattr_np(pthread_self(), &pa) == 0) {
		void *lo;
		size_t sz;
		if (pthread_attr_getstack(&pa, &lo, &sz) == 0) {
			l->asan_main_bottom = lo;
			l->asan_main_size = sz;
		}
		pthread_attr_destroy(&pa);
	}
#endif
	if (l->opts.pin && l->opts.cpu >= 0)
		pin_self(l->opts.cpu);
	myco__overflow_thread_setup();
	if (l->sig)
		myco__loans_sleep_end(l); /* busy from here */

	for (;;) {
		MYCO__ST_ADD(l, iterations, 1);
		MYCO_TP(MYCO_TRACE_RT, MYCO_EV_RT_LOOP, l->index, l->rq_len + l->eh_len, l->io_pending);
		if (l->sig)
			myco__loans_iter(l);
		if (__builtin_expect(myco__rec_rt == 2, 0))
			rp_wakes(l); /* the log's timers, not the clock's */
		else if (l->wheel.count)
			myco__wheel_advance(&l->wheel, myco__now_unrec());
		drain_posts(l);
		if (l->deque && !l->revoked)
			myco__steal_run_own(l, 8);
		if (l->loans && !l->revoked)
			myco__steal_from_revoked(l, 8);
		run_batch(l);
		if (l->group)
			myco__group_flush(l);
		reap(l); /* completions already posted: no syscall */
		if (__builtin_expect(myco__rec_rt == 2, 0))
			rp_wakes(l);
		bool ready = l->rq_len || l->eh_len;
		if (ready) {
			/* more to run: hand the kernel what the batch queued
			 * now, so it works while we run the next batch */
			if (io_uring_sq_ready(&l->ring))
				io_uring_submit(&l->ring);
			else if (IO_URING_READ_ONCE(*l->ring.sq.kflags) &
				 IORING_SQ_TASKRUN)
				io_uring_get_events(&l->ring); /* COOP_TASKRUN */
			reap(l);
		}
		update_gauges(l);
		if (atomic_load_explicit(&l->stop_req, memory_order_relaxed))
			break;
		if (ready)
			continue;
		if (l->deque && l->group && !l->revoked &&
		    myco__steal_from_siblings(l, 4) > 0)
			continue;
		if (idle_done(l))
			break;
		if (__builtin_expect(myco__rec_rt == 2, 0)) {
			/* a replay never sleeps: what would wake the loop
			 * is in the log, and rp_wakes found none */
			if (atomic_load(&l->post_len))
				continue;
			myco__rec_rt_stalled(l->index, l->rec_picks);
		}
		/* Nothing to run: submit what the batch queued and sleep
		 * until a completion, a wake-up or the next timer, in one
		 * syscall (an operation that completes at submission makes
		 * the wait return at once). */
		uint64_t next = myco__wheel_next_ns(&l->wheel);
		if (l->sig && myco__loans_park(l, next))
			continue; /* was parked: its core was lent out */
		if (l->revoked) {
			/* draining with kernel operations in flight: look at
			 * the grant word at least every millisecond */
			uint64_t cap = myco__now_unrec() + 1000000u;
			if (next > cap)
				next = cap;
		}
		arm_efd(l);
		atomic_store(&l->sleeping, 1);
		if (atomic_load(&l->post_len) || atomic_load(&l->stop_req) ||
		    have_steal_work(l) ||
		    (l->group && myco__group_can_flush(l))) {
			atomic_store(&l->sleeping, 0);
			continue;
		}
		struct io_uring_cqe *cqe = NULL;
		struct __kernel_timespec ts, *tsp = NULL;
		if (next != UINT64_MAX) {
			uint64_t now = myco__now_unrec();
			uint64_t d = next > now ? next - now : 0;
			ts.tv_sec = (long long)(d / 1000000000ull);
			ts.tv_nsec = (long long)(d % 1000000000ull);
			tsp = &ts;
		}
		if (!tsp || ts.tv_sec || ts.tv_nsec) {
			MYCO__ST_ADD(l, sleeps, 1);
			if (l->sig)
				myco__loans_sleep_begin(l);
			(void)io_uring_submit_and_wait_timeout(&l->ring, &cqe,
							       1, tsp, NULL);
			if (l->sig)
				myco__loans_sleep_end(l);
		} else if (io_uring_sq_ready(&l->ring)) {
			io_uring_submit(&l->ring); /* a timer is due now */
		}
		atomic_store(&l->sleeping, 0);
		reap(l);
	}
	atomic_store(&l->stop_req, false);
	update_gauges(l);
	myco__tls_loop = prev;
	atomic_store(&l->running, false);
	return 0;
}

static bool have_steal_work(myco_loop_t *l)
{
	if (!l->deque || l->revoked)
		return false; /* a revoked loop leaves queued spawns to others */
	if (myco__deque_len(l->deque))
		return true;
	if (!l->group)
		return false;
	myco_group_t *g = l->group;
	unsigned n = myco_group_size(g);
	for (unsigned i = 0; i < n; i++) {
		myco_loop_t *s = myco_group_loop(g, i);
		if (s != l && s->deque && myco__deque_len(s->deque))
			return true;
	}
	return false;
}

void myco_loop_destroy(myco_loop_t *l)
{
	if (!l)
		return;
	if (atomic_load(&l->running))
		return; /* contract violation; leaking beats a crash */
	if (myco__rec_rt == 2)
		atomic_fetch_sub(&rp_loops, 1);
	if (l->ring_ok) {
		/* Cancel every operation still in flight so the kernel stops
		 * touching coroutine stacks before they are unmapped. */
		if (l->io_pending || l->efd_armed) {
			struct io_uring_sqe *sqe = myco__sqe(l);
			if (sqe) {
				io_uring_prep_cancel64(sqe, 0,
						       IORING_ASYNC_CANCEL_ANY);
				sqe->user_data = UD_IGNORE;
			}
			io_uring_submit(&l->ring);
			uint64_t end = myco__now_unrec() + 1000000000ull;
			while ((l->io_pending || l->efd_armed) &&
			       myco__now_unrec() < end) {
				struct io_uring_cqe *cqe;
				struct __kernel_timespec ts = { 0, 10000000 };
				if (io_uring_wait_cqe_timeout(&l->ring, &cqe,
							      &ts) < 0)
					continue;
				uint64_t ud = cqe->user_data;
				if (ud == UD_EFD)
					l->efd_armed = false;
				else if (ud != UD_IGNORE)
					l->io_pending--;
				io_uring_cqe_seen(&l->ring, cqe);
			}
		}
		myco__rt_ring_exit(&l->ring, !l->io_pending && !l->efd_armed);
	}
	while (l->all) {
		myco_co_t *co = l->all;
		myco__co_free(co);
	}
	myco__post_t *p = l->post_head;
	while (p) {
		myco__post_t *next = p->next;
		if (p->fn == heap_post_run)
			free(p->arg);
		p = next;
	}
	if (l->deque) {
		myco__steal_drain_free(l);
		myco__deque_free(l->deque);
	}
	myco__timers_free(l);
	myco__uring_pipes_free(l);
	myco__stack_cache_free(l);
	free(l->eh);
	myco__market_free(l);
	if (l->efd >= 0)
		close(l->efd);
	pthread_mutex_destroy(&l->post_mu);
	free(l);
}
