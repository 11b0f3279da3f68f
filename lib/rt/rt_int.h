/*
 * rt_int.h: what the modules of lib/rt share: the loop, coroutine, wait and
 * timer structures, the context-switch interface and small helpers.
 * Not for: anything public (include/myco/rt.h is the contract).
 *
 * Threading model: every field of a loop or coroutine is owned by the loop
 * thread unless marked "atomic" (then other threads may touch it, and the
 * comment says how).  Coroutines never migrate once started.
 */
#ifndef MYCO_RT_INT_H
#define MYCO_RT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "myco/rt.h"
#include "myco_int.h"
#include "myco/trace.h"

#ifdef MYCO_RT_CTX_UCONTEXT
#include <ucontext.h>
#endif

/* ---- sanitizer detection -------------------------------------------- */
#if defined(__SANITIZE_ADDRESS__)
#define MYCO_RT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MYCO_RT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MYCO_RT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MYCO_RT_TSAN 1
#endif
#endif

#if defined(MYCO_RT_ASAN) || defined(MYCO_RT_TSAN)
#define MYCO_RT_DEFAULT_STACK (512u * 1024u)
#else
#define MYCO_RT_DEFAULT_STACK (128u * 1024u)
#endif

/* ---- context switch (ctx_*.S / ctx_ucontext.c, ctx.c) ---------------- */
typedef struct myco__ctx {
#ifdef MYCO_RT_CTX_UCONTEXT
	ucontext_t uc;
#else
	void *sp;           /* saved stack pointer (callee-saved regs on it) */
#endif
} myco__ctx_t;

/* Prepare ctx to start entry() on the stack [lo, lo + size) at its first
 * switch-in.  entry must never return. */
void myco__ctx_make(myco__ctx_t *ctx, void *lo, size_t size,
		    void (*entry)(void));
/* Save the current context into from and resume to. */
void myco__ctx_swap(myco__ctx_t *from, myco__ctx_t *to);

/* ---- timer wheel (wheel.c) ------------------------------------------- */
#define MYCO__WHEEL_LEVELS 8
#define MYCO__WHEEL_SLOTS 64
#define MYCO__WHEEL_SHIFT 10 /* one tick = 1024 ns */

typedef struct myco__tnode myco__tnode_t;
struct myco__tnode {
	myco__tnode_t *next, *prev; /* slot list (NULL when not armed)      */
	uint64_t expire_ns;         /* absolute monotonic expiry            */
	void (*fire)(myco__tnode_t *n);
	bool armed;
	uint8_t level, slot;        /* where: level 0xff due, 0xfe far list  */
};

typedef struct myco__wheel {
	uint64_t now_tick;
	uint64_t count;             /* armed nodes                           */
	uint64_t occupied[MYCO__WHEEL_LEVELS];
	myco__tnode_t *slots[MYCO__WHEEL_LEVELS][MYCO__WHEEL_SLOTS];
	myco__tnode_t *due;         /* expiry <= now at insertion            */
	myco__tnode_t *far;         /* beyond the current top-level span     */
} myco__wheel_t;

void myco__wheel_init(myco__wheel_t *w, uint64_t now_ns);
void myco__wheel_add(myco__wheel_t *w, myco__tnode_t *n, uint64_t expire_ns);
void myco__wheel_del(myco__wheel_t *w, myco__tnode_t *n);
/* Fire (n->fire) every node with expire_ns <= now_ns; returns how many. */
unsigned myco__wheel_advance(myco__wheel_t *w, uint64_t now_ns);
/* Lower bound (ns) of the next expiry, UINT64_MAX if none. */
uint64_t myco__wheel_next_ns(const myco__wheel_t *w);

/* ---- waits ------------------------------------------------------------- */
enum {
	MYCO__WAKE_NONE = 0,
	MYCO__WAKE_IO,      /* CQE arrived                                  */
	MYCO__WAKE_TIMER,   /* timeout / sleep expired                      */
	MYCO__WAKE_SIGNAL,  /* event notified, joinee finished, release ... */
	MYCO__WAKE_CANCEL,  /* myco_cancel                                  */
};
enum {
	MYCO__WAIT_PLAIN = 0, /* wakes from timer/signal/cancel             */
	MYCO__WAIT_IO,        /* waits for a CQE; cancel = async cancel     */
};

typedef struct myco__wait {
	myco_co_t *co;
	int kind;           /* MYCO__WAIT_*                                  */
	int reason;         /* MYCO__WAKE_* of the first wake                */
	int res;            /* CQE result (IO)                               */
	bool cqe_done;      /* IO: CQE received                              */
	bool cancel_req;    /* IO: async cancel submitted                    */
	myco__tnode_t tn;   /* timeout timer (PLAIN waits)                   */
	/* Called when the parked coroutine is freed without resuming
	 * (myco_loop_destroy): unlink the record from anything outside the
	 * loop that still points at it (event.c).  May be NULL. */
	void (*on_abandon)(struct myco__wait *w);
} myco__wait_t;

/* ---- coroutines ---------------------------------------------------------- */
enum {
	MYCO__CO_NEW = 0, MYCO__CO_READY, MYCO__CO_RUNNING, MYCO__CO_WAITING,
	MYCO__CO_DONE,
};

typedef struct myco__edf myco__edf_t;

struct myco_co {
	myco__ctx_t ctx;
	myco_loop_t *loop;
	myco_co_fn_t fn;
	void *arg;
	void *map;              /* stack mapping (guard page first)          */
	size_t map_size;
	void *stack_lo;         /* usable stack [stack_lo, this struct)       */
	size_t stack_size;
	int state;              /* MYCO__CO_*                                 */
	int result;
	bool detached, cancelled, started;
	myco_co_t *joiner;      /* coroutine blocked in myco_join on us       */
	myco_co_t *rq_next;     /* ready FIFO link                            */
	myco_co_t *all_prev, *all_next;
	myco__wait_t *wait;     /* current wait record while WAITING          */
	uint64_t ready_ns;      /* when it became ready (latency)             */
	uint64_t run_ns;        /* when it was switched in                    */
	myco_co_stats_t st;
	myco__edf_t *edf;       /* NULL unless an edf task                    */
	int aco_cls;            /* adaptive: task class, -1 = not placed      */
	int mkt_cls;            /* market: class index, -1 none, -2 unknown   */
	uint64_t spawn_ns;      /* adaptive: when it was spawned              */
	char name[32];
	uint32_t rec_serial;    /* record/replay: creation order on the loop */
	bool rec_chan_wait;     /* record: parked in myco_co_chan_wait       */
#ifdef MYCO_RT_ASAN
	void *asan_fake;
#endif
#ifdef MYCO_RT_TSAN
	void *tsan_fiber;
#endif
};

/* ---- loops ------------------------------------------------------------- */
typedef struct myco__post {
	struct myco__post *next;
	void (*fn)(void *);
	void *arg;
} myco__post_t;

typedef struct myco__spsc myco__spsc_t;     /* group.c */
typedef struct myco__deque myco__deque_t;   /* steal.c */

typedef struct myco__pipe {
	int rfd, wfd;
	size_t cap;
} myco__pipe_t;

#define MYCO__PIPE_POOL 8
#define MYCO__STACK_CACHE 64

/* Stats: written by the loop thread with relaxed atomic stores (one
 * writer), read by anyone with relaxed loads. */
#define MYCO__ST_ADD(l, f, v) \
	__atomic_store_n(&(l)->st.f, (l)->st.f + (v), __ATOMIC_RELAXED)
#define MYCO__ST_SET(l, f, v) __atomic_store_n(&(l)->st.f, (v), __ATOMIC_RELAXED)

struct myco_loop {
	struct io_uring ring;
	bool ring_ok;
	myco__ctx_t main_ctx;
	myco_co_t *cur;                 /* running coroutine or NULL         */
	myco_loop_opts_t opts;
	myco_policy_t policy;
	size_t stack_size;

	/* ready FIFO (background class for edf) */
	myco_co_t *rq_head, *rq_tail;
	size_t rq_len;
	/* edf ready heap, ordered by absolute deadline (edf.c) */
	myco_co_t **eh;
	size_t eh_len, eh_cap;
	double edf_util;

	myco_co_t *all;                 /* every live coroutine              */
	uint64_t live;                  /* not yet finished                  */
	uint64_t io_pending;            /* user CQEs we still wait for       */
	uint64_t internal_pending;      /* CQEs of cancel / eventfd ops      */
	myco__wheel_t wheel;
	myco_timer_t *timers;           /* every myco_timer_t of the loop     */

	/* cross-thread */
	atomic_bool stop_req;
	atomic_int sleeping;            /* 1 while blocked in the kernel     */
	atomic_bool running;
	int efd;                        /* eventfd to wake us                */
	uint64_t efd_buf;
	bool efd_armed;
	pthread_mutex_t post_mu;
	myco__post_t *post_head, *post_tail;  /* under post_mu               */
	atomic_size_t post_len;         /* locked queue + rings, approx       */

	/* group */
	myco_group_t *group;
	unsigned index;
	myco__deque_t *deque;           /* steal policy                      */
	unsigned steal_rr;

	/* market policy (market.c): classes, per-class ready queues */
	struct myco__market *mkt;

	/* adaptive policy (adaptive.c): the group's pheromone table */
	struct myco__aco *aco;
	uint64_t aco_rng;

	/* core loans (loans.c): NULL unless the group is elastic */
	myco_rt_core_sig_t *sig;        /* this loop's entry of the region    */
	myco_rt_loans_t *loans;
	bool revoked;                   /* DRAINING or PARKED (loop thread)   */
	atomic_int parked;              /* 1 while in FUTEX_WAIT on sig->wake */
	uint64_t busy_since;            /* start of the current busy stretch  */

	/* resources */
	void *stack_cache[MYCO__STACK_CACHE];
	unsigned nstack_cache;
	myco__pipe_t pipes[MYCO__PIPE_POOL];
	unsigned npipes;

	myco_loop_stats_t st;
	/* record and replay (lib/replay; docs/replay.md) */
	uint64_t rec_picks;             /* coroutines switched in so far     */
	uint32_t rec_nco, rec_ntimer;   /* serials handed out                */
	atomic_uint rec_foreign;        /* posts from other threads (atomic) */
#ifdef MYCO_RT_ASAN
	const void *asan_main_bottom;
	size_t asan_main_size;
#endif
#ifdef MYCO_RT_TSAN
	void *tsan_main;
#endif
};

/* ---- shared internal functions ------------------------------------------ */
extern __thread myco_loop_t *myco__tls_loop;

static inline myco_co_t *myco__cur(void)
{
	myco_loop_t *l = myco__tls_loop;
	return l ? l->cur : NULL;
}

/* loop.c */
void myco__make_ready(myco_loop_t *l, myco_co_t *co, uint64_t since_ns);
/* Park the running coroutine in w until woken; returns w->reason.
 * timeout_ns >= 0 arms w->tn (PLAIN waits only). */
int myco__park(myco__wait_t *w, int64_t timeout_ns);
/* Wake a coroutine parked in w with reason (ignored if not parked there). */
void myco__wake(myco__wait_t *w, int reason);
/* Get an SQE (submitting to make room when full); NULL only on failure. */
struct io_uring_sqe *myco__sqe(myco_loop_t *l);
void myco__wakeup_thread(myco_loop_t *l);
/* Queue a caller-allocated post node (never fails).  Any thread. */
void myco__post_node(myco_loop_t *l, myco__post_t *p);

/* timer.c: fire the timer with this serial as its expiry would (replay);
 * 0 or -ENOENT (no such armed timer). */
int myco__timer_fire_serial(myco_loop_t *l, uint32_t serial);
/* co.c */
int myco__co_new(myco_loop_t *l, myco_co_t **out, myco_co_fn_t fn, void *arg,
		 const myco_co_opts_t *opts);
void myco__co_free(myco_co_t *co);
/* Run co until it switches out; now is the current time (the caller's
 * last reading), returns the time at switch-out (one clock read per
 * switch). */
uint64_t myco__co_switch_in(myco_loop_t *l, myco_co_t *co, uint64_t now);
/* From inside co: switch back to the scheduler until co is resumed. */
void myco__co_yield_to_loop(myco_loop_t *l, myco_co_t *co);
void myco__stack_cache_free(myco_loop_t *l);

/* rings.c: the loop's ring, created or taken from the executive's
 * (0 or -errno); put back (idle: nothing of ours in flight) or closed. */
int myco__rt_ring_init(struct io_uring *ring, unsigned entries);
void myco__rt_ring_exit(struct io_uring *ring, bool idle);

/* uring.c */
void myco__uring_cqe(myco_loop_t *l, struct io_uring_cqe *cqe);
void myco__uring_cancel_wait(myco_loop_t *l, myco__wait_t *w);
void myco__uring_pipes_free(myco_loop_t *l);

/* edf.c */
void myco__edf_push(myco_loop_t *l, myco_co_t *co);
myco_co_t *myco__edf_pop(myco_loop_t *l);
bool myco__edf_runs_as_edf(const myco_co_t *co);
void myco__edf_account(myco_loop_t *l, myco_co_t *co, uint64_t ran_ns);
void myco__edf_task_end(myco_loop_t *l, myco_co_t *co);
void myco__edf_cancel_unstarted(myco_loop_t *l, myco_co_t *co);

/* group.c */
void myco__group_drain(myco_loop_t *l);
void myco__group_flush(myco_loop_t *l);
bool myco__group_has_input(myco_loop_t *l);
/* True if an overflow list of l could move into its ring now. */
bool myco__group_can_flush(myco_loop_t *l);
int myco__group_post(myco_loop_t *from, myco_loop_t *to,
		     void (*fn)(void *), void *arg);

/* steal.c */
int myco__deque_new(myco__deque_t **out, unsigned cap);
void myco__deque_free(myco__deque_t *d);
size_t myco__deque_len(myco__deque_t *d);
int myco__steal_spawn(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		      const myco_co_opts_t *opts);
/* The same, for a spawn the adaptive policy placed on l (l's own thread):
 * the request carries its task class and spawn time, so whichever loop
 * starts it (l, or a sibling that stole it) deposits for it. */
int myco__steal_spawn_placed(myco_loop_t *l, myco_co_fn_t fn, void *arg,
			     const myco_co_opts_t *opts, int aco_cls, uint64_t spawn_ns);
/* Start up to max queued spawns of our own deque; returns how many. */
unsigned myco__steal_run_own(myco_loop_t *l, unsigned max);
/* Try to steal spawns from siblings; returns how many were started. */
unsigned myco__steal_from_siblings(myco_loop_t *l, unsigned max);
/* Elastic groups: take queued spawns from revoked siblings (any time, not
 * only when idle); returns how many were started. */
unsigned myco__steal_from_revoked(myco_loop_t *l, unsigned max);
void myco__steal_drain_free(myco_loop_t *l);

/* adaptive.c (policy adaptive) */
#define MYCO__ACO_CLASSES 32      /* task classes (hash of the name)      */
#define MYCO__ACO_MAXLOOPS 256
#define MYCO__ACO_INIT 1000u      /* pheromone at start                   */
#define MYCO__ACO_MIN 50u         /* floor after evaporation              */
#define MYCO__ACO_MAX 100000u     /* cap                                  */
#define MYCO__ACO_Q 100000u       /* deposit = Q / (sojourn_us + Q0)      */
#define MYCO__ACO_Q0 10u
typedef struct myco__aco myco__aco_t;
typedef struct myco__aco_col {
	_Alignas(64) uint32_t tau[MYCO__ACO_CLASSES]; /* written by its loop */
	uint64_t last_evap;                           /* its loop only      */
} myco__aco_col_t;
int myco__aco_new(myco__aco_t **out, unsigned nloops);
void myco__aco_free(myco__aco_t *a);
myco__aco_col_t *myco__aco_col(myco__aco_t *a, unsigned j);
unsigned myco__aco_class(const char *name);
uint32_t myco__aco_deposit_amount(uint64_t sojourn_ns);
void myco__aco_deposit(myco__aco_col_t *col, unsigned cls, uint64_t sojourn_ns,
		       uint64_t now);
/* Weighted random choice: j with probability tau[j] / (1 + queue[j])^2,
 * normalised; rng is a xorshift state. */
unsigned myco__aco_pick(const uint32_t *tau, const uint64_t *queue,
			unsigned n, uint64_t *rng);
int myco__aco_spawn(myco_loop_t *l, myco_co_fn_t fn, void *arg,
		    const myco_co_opts_t *opts);
void myco__aco_finish(myco_loop_t *l, myco_co_t *co);

/* market.c (policy market) */
#define MYCO__MKT_CLASSES MYCO_MARKET_MAX_CLASSES
typedef struct myco__market myco__market_t;
typedef struct myco__mkt_class {
	char name[32];
	uint64_t income;        /* credits per period                     */
	uint64_t base_bid;      /* bid per period at urgency 1            */
	uint64_t deadline_ns;   /* 0 = best effort                        */
	uint64_t credits;
	/* inputs of one auction */
	bool ready;             /* has ready work                         */
	uint64_t oldest_ready_ns;
	/* results of the last auction */
	uint64_t bid;           /* what it bid and paid                   */
	unsigned slots;
	uint64_t alloc_ns, used_ns;
	/* totals */
	uint64_t total_slots, total_paid, total_ran_ns;
} myco__mkt_class_t;
/* One auction over n classes (inputs: income, base_bid, deadline_ns,
 * credits, ready, oldest_ready_ns; outputs: bid, slots, alloc_ns, credits;
 * used_ns reset).  Pure: the model the tests check. */
void myco__market_auction(myco__mkt_class_t *c, unsigned n, unsigned slots,
			  uint64_t slot_ns, uint64_t now);
/* The loop's market table (myco_loop_create of a market loop). */
int myco__market_new(myco_loop_t *l);
void myco__market_push(myco_loop_t *l, myco_co_t *co);
myco_co_t *myco__market_pop(myco_loop_t *l, uint64_t now);
void myco__market_charge(myco_loop_t *l, int cls, uint64_t ran_ns);
void myco__market_free(myco_loop_t *l);
/* MYCO_BIDS (set by the executive from the system file's `bid`s):
 * "CLASS:BID:INCOME:DEADLINE_NS" entries separated by ','; CLASS 1..31 of
 * [A-Za-z0-9_.-], BID and INCOME 1..1e9, DEADLINE_NS 0 = best effort; at
 * most MYCO__MKT_CLASSES, no class twice.  All or nothing: -EINVAL and
 * *n undefined on any error. */
typedef struct {
	char name[32];
	uint64_t bid, income, deadline_ns;
} myco__bid_parsed_t;
int myco__market_parse_bids(const char *s, size_t len, myco__bid_parsed_t *out,
			    unsigned *n);
/* Declare the classes of MYCO_BIDS on a market loop (none: 0). */
int myco__market_env(myco_loop_t *l);

/* loans.c (elastic groups) */
/* Top of every iteration: follow sig->grant (RUNNING <-> DRAINING). */
void myco__loans_iter(myco_loop_t *l);
/* In the sleep path of a revoked loop with nothing ready and no kernel
 * operation in flight: publish PARKED and FUTEX_WAIT on sig->wake until
 * granted, posted to, stopped or the next timer (next_ns, UINT64_MAX =
 * none).  Returns true if it waited (the caller restarts its iteration). */
bool myco__loans_park(myco_loop_t *l, uint64_t next_ns);
/* Wake a parked loop (posts, stop). */
void myco__loans_kick(myco_loop_t *l);
/* Signals after an iteration (queued, oldest ready, busy time). */
void myco__loans_publish(myco_loop_t *l);
/* Busy time accounting around a kernel sleep. */
void myco__loans_sleep_begin(myco_loop_t *l);
void myco__loans_sleep_end(myco_loop_t *l);
/* The executive's region for this process (lib/part gives it after
 * myco_init's activation; 0 or -EINVAL when it fails validation); the
 * first group created without a region takes it (NULL: none or taken). */
int myco__rt_loans_give(void *region, size_t size);
myco_rt_loans_t *myco__rt_loans_take(void);

/* timer.c */
void myco__timers_free(myco_loop_t *l);

/* overflow.c */
void myco__overflow_thread_setup(void);

/* stats.c */
void myco__lat_record(myco_loop_t *l, uint64_t ns);

#endif /* MYCO_RT_INT_H */
