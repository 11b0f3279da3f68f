/*
 * myco/rt.h: the Myco runtime.  Thread-per-core event loops on io_uring,
 * stackful coroutines with blocking-style I/O, a hierarchical timer wheel,
 * per-loop scheduling policies (fifo, edf, steal), groups of pinned loops
 * that pass work through lock-free SPSC rings, and metrics.
 *
 * Not for: shared-memory channels themselves (myco/chan.h), partitions and
 * their CPU reservations (the executive), tracing export (lib/trace).
 *
 * Conventions for the whole header
 * --------------------------------
 * - Functions return 0 (or a byte count / fd) on success and a negative
 *   errno or negated MYCO_E* code on failure (myco_strerror() describes it).
 * - "Loop thread": the thread running myco_loop_run() for that loop.  Before
 *   the loop runs, the thread that created it may configure it and spawn on
 *   it.  Functions marked "any thread" are safe from any thread.
 * - "Coroutine only": must be called from inside a coroutine running on a
 *   loop; from elsewhere it returns -EPERM and does nothing.
 * - Timeouts are relative, in nanoseconds, of type int64_t:
 *   MYCO_FOREVER (< 0) waits without limit, 0 does not wait (returns
 *   -ETIMEDOUT at once if the operation cannot complete immediately; for
 *   io_uring operations it means "give up as soon as the kernel would
 *   block").  A multi-step call (myco_write_all, myco_sendfile,
 *   myco_tcp_connect) applies its timeout to the whole call.
 *   Expiry returns -ETIMEDOUT.
 * - Cancellation is cooperative and sticky: after myco_cancel(co), the wait
 *   co is blocked in (if any) returns -ECANCELED, and so does every later
 *   blocking call made by co, so it unwinds through its normal error paths.
 *   Pending kernel I/O of a cancelled coroutine is cancelled in the kernel
 *   before the call returns, so buffers may be freed right after.
 * - Memory: every handle a create/spawn call returns is owned by the caller
 *   until the matching destroy/join/detach; nothing here aborts on OOM.
 */
#ifndef MYCO_RT_H
#define MYCO_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runtime error codes MYCO_EADMISSION (edf admission test failed) and
 * MYCO_ESTOPPED (loop or group stopped) are in myco/common.h. */

#define MYCO_FOREVER ((int64_t)-1)

typedef struct myco_loop  myco_loop_t;   /* one event loop, one thread    */
typedef struct myco_co    myco_co_t;     /* one stackful coroutine        */
typedef struct myco_group myco_group_t;  /* N loops, one thread per core  */
typedef struct myco_timer myco_timer_t;  /* a callback timer on a loop    */
typedef struct myco_event myco_event_t;  /* cross-thread wake-up counter  */

/* Coroutine body.  The return value is handed to myco_join(). */
typedef int (*myco_co_fn_t)(void *arg);

/* ------------------------------------------------------------------ */
/* Policies                                                            */
/* ------------------------------------------------------------------ */

typedef enum myco_policy {
	MYCO_POLICY_DEFAULT = 0, /* MYCO_POLICY from the environment, else fifo */
	MYCO_POLICY_FIFO,        /* run to completion, cooperative, FIFO order  */
	MYCO_POLICY_EDF,         /* earliest deadline first for edf tasks;
	                            other coroutines run in the background      */
	MYCO_POLICY_STEAL,       /* detached spawns may be stolen by sibling
	                            loops of the same group before they start   */
	MYCO_POLICY_ADAPTIVE,    /* detached spawns are placed on a loop of the
	                            group by ant-colony placement: pheromone per
	                            (task class = coroutine name, loop) from
	                            observed spawn -> finish times, evaporating,
	                            weighted random choice (docs/scheduling.md) */
	MYCO_POLICY_MARKET,      /* task classes declared with myco_market_bid()
	                            bid credits for the time slots of each
	                            period; proportional share
	                            (docs/scheduling.md)                        */
} myco_policy_t;

/* Parse a policy name ("fifo", "edf", "steal", "adaptive", "market";
 * case-sensitive).
 * Returns the policy or -EINVAL.  Any thread. */
int myco_policy_from_name(const char *name);

/* Name of a policy as a static string ("fifo"...), "?" if unknown. */
const char *myco_policy_name(myco_policy_t p);

/* Policy adaptive: the pheromone of task_class (a coroutine name, NULL =
 * unnamed) on loop j of loop's group, in the policy's fixed-point units
 * (docs/scheduling.md).  0 or -EINVAL (not an adaptive group loop, j out
 * of range).  Any thread (relaxed read). */
int myco_aco_pheromone(const myco_loop_t *loop, const char *task_class,
		       unsigned j, uint32_t *out);

/* ------------------------------------------------------------------ */
/* Loops                                                               */
/* ------------------------------------------------------------------ */

/* Loop options.  Zero-initialise and set what you need; every zero field
 * means "the default".  Fields are only ever added at the end. */
typedef struct myco_loop_opts {
	myco_policy_t policy;     /* default: $MYCO_POLICY, else fifo        */
	const char *policy_name;  /* if non-NULL, overrides .policy by name  */
	unsigned uring_entries;   /* SQ size, default 256                    */
	size_t stack_size;        /* default coroutine stack, default 128 KiB
	                             (512 KiB in sanitizer builds); rounded up
	                             to pages; a guard page is added below    */
	int cpu;                  /* pin the loop thread to this CPU when it
	                             starts running; -1 = do not pin.  NOTE:
	                             zero means CPU 0 only if .pin is true     */
	bool pin;                 /* honour .cpu                              */
	bool keepalive;           /* run until myco_loop_stop() even when
	                             there is nothing left to do              */
	double edf_util_max;      /* edf admission bound on sum(C/min(D,T)),
	                             default 1.0, must be in (0, 1]          */
	unsigned post_ring_slots; /* per-sibling SPSC ring size (groups),
	                             power of two, default 1024               */
	uint64_t market_period_ns; /* market: auction period, default 10 ms  */
	uint64_t market_slot_ns;   /* market: slot length, default 250 us     */
} myco_loop_opts_t;

/* Create a loop.  opts may be NULL (all defaults).  On success *out is a
 * new loop owned by the caller (free with myco_loop_destroy).  Errors:
 * -EINVAL bad option or unknown policy name (also an unknown name in
 * $MYCO_POLICY when the options leave the policy to it), -ENOMEM, or
 * io_uring setup errors (-ENOSYS, -EPERM when io_uring is disabled).
 * Any thread. */
int myco_loop_create(myco_loop_t **out, const myco_loop_opts_t *opts);

/* Run the loop on the calling thread until myco_loop_stop() is called or,
 * unless keepalive is set or the loop belongs to a group, until no
 * coroutine, armed timer, pending post or kernel operation is left.
 * Returns 0, -EBUSY if the loop is already running, -MYCO_ESTOPPED if
 * it was stopped before it started (the stop request is then consumed).
 * May be called again after it returns.  Pins the thread if opts asked. */
int myco_loop_run(myco_loop_t *loop);

/* Ask the loop to return from myco_loop_run() at its next iteration;
 * coroutines that are still blocked stay blocked (they can be resumed by a
 * later myco_loop_run or are freed by myco_loop_destroy).  Any thread;
 * never blocks; idempotent. */
void myco_loop_stop(myco_loop_t *loop);

/* Destroy a loop that is not running.  Unfinished coroutines are freed
 * without running further (their stacks are unmapped; nothing on them is
 * cleaned up); their handles and the loop's timers (myco_timer_t, freed
 * here too) become invalid.  Must not be called while the loop runs; NULL
 * is ignored. */
void myco_loop_destroy(myco_loop_t *loop);

/* The loop the calling thread is running, or NULL.  Any thread. */
myco_loop_t *myco_loop_current(void);

/* Index of the loop in its group (0..n-1), 0 for a standalone loop. */
unsigned myco_loop_index(const myco_loop_t *loop);

/* The loop's policy (never MYCO_POLICY_DEFAULT).  Any thread. */
myco_policy_t myco_loop_policy(const myco_loop_t *loop);

/* Run fn(arg) on the loop's thread, outside any coroutine (fn must not
 * block; it may spawn).  Order is FIFO per posting thread.  From a sibling
 * loop of the same group this goes through a lock-free SPSC ring (no lock,
 * no syscall unless the target sleeps); from any other thread through a
 * locked queue.  Keeps a standalone target loop running until fn has run.
 * A post to a loop that is not running waits until it runs again;
 * myco_loop_destroy drops posts that never ran (without calling fn).
 * Returns 0, -EINVAL, -ENOMEM.  Any thread.  fn/arg ownership: arg
 * belongs to fn once this returns 0. */
int myco_post(myco_loop_t *loop, void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------ */
/* Coroutines                                                          */
/* ------------------------------------------------------------------ */

enum {
	MYCO_CO_PINNED = 1u << 0, /* never stolen under the steal policy     */
};

typedef struct myco_co_opts {
	size_t stack_size;   /* 0 = the loop's default                     */
	const char *name;    /* copied (up to 31 bytes); shown in metrics   */
	unsigned flags;      /* MYCO_CO_*                                   */
} myco_co_opts_t;

/* Spawn a coroutine running fn(arg) on loop.  It first runs at a later
 * scheduling point (never inside this call).  If out is NULL the coroutine
 * is detached: it frees itself when fn returns.  Otherwise *out is a handle
 * the caller must pass exactly once to myco_join() or myco_co_detach().
 * Under the steal policy a detached coroutine without MYCO_CO_PINNED may
 * start on a sibling loop of the group instead.  opts may be NULL.
 * Errors: -ENOMEM (no memory or stack mmap failed), -EINVAL.
 * Loop thread (or the creating thread before the loop runs); to spawn on
 * another loop use myco_spawn_on(). */
int myco_spawn(myco_loop_t *loop, myco_co_t **out, myco_co_fn_t fn,
	       void *arg, const myco_co_opts_t *opts);

/* Spawn a detached coroutine on loop from any thread (through myco_post;
 * opts are copied).  Returns 0 when queued; a later spawn failure on the
 * target (out of memory) is counted in its stats as spawn_failed. */
int myco_spawn_on(myco_loop_t *loop, myco_co_fn_t fn, void *arg,
		  const myco_co_opts_t *opts);

/* The running coroutine, or NULL outside coroutines.  Any thread. */
myco_co_t *myco_self(void);

/* Let other ready coroutines run; returns 0, or -ECANCELED if cancelled.
 * Under edf this is also where budget overruns are detected.
 * Coroutine only. */
int myco_yield(void);

/* Sleep for ns nanoseconds (0 behaves like myco_yield).  Returns 0 or
 * -ECANCELED.  Coroutine only. */
int myco_sleep_ns(uint64_t ns);

/* Sleep until the absolute CLOCK_MONOTONIC time abs_ns.  Returns 0 or
 * -ECANCELED.  Coroutine only. */
int myco_sleep_until(uint64_t abs_ns);

/* Wait for co to finish and free it.  *result (if non-NULL) gets fn's
 * return value (-ECANCELED if it was cancelled before it started).
 * On 0 the handle is gone.  -ETIMEDOUT or -ECANCELED (the caller was
 * cancelled): the handle stays valid, join again or detach.  -EINVAL if co
 * is the caller, detached, or belongs to another loop; -EBUSY if another
 * coroutine is already joining it.  Called from a coroutine on
 * co's loop; also from the loop's thread outside coroutines (e.g. after
 * myco_loop_run returned) if co has already finished, else -EPERM. */
int myco_join(myco_co_t *co, int *result, int64_t timeout_ns);

/* Give up the handle: the coroutine frees itself when it ends (at once if
 * it already has).  Loop thread. */
void myco_co_detach(myco_co_t *co);

/* Request cancellation of co (see conventions).  A coroutine that has not
 * started yet never runs fn; its result is -ECANCELED.  Cancelling
 * yourself makes your next wait return -ECANCELED.  Returns 0 or -EINVAL
 * (finished already: nothing done).  Loop thread of co. */
int myco_cancel(myco_co_t *co);

/* True if the running coroutine has been cancelled.  Coroutine only
 * (false elsewhere). */
bool myco_cancelled(void);

/* Name given at spawn ("" if none); valid as long as the handle. */
const char *myco_co_name(const myco_co_t *co);

/* ------------------------------------------------------------------ */
/* Blocking-style I/O inside coroutines (io_uring)                     */
/* ------------------------------------------------------------------ */
/* All coroutine only.  The coroutine yields to its loop until the kernel
 * completes the operation; buffers must stay valid until the call returns
 * (they are not touched after it returns, even on timeout/cancel).  fds may
 * be blocking or non-blocking.  Do not close an fd while another coroutine
 * waits on it: cancel that coroutine first.  Results and errors are those
 * of the matching syscall, plus -ETIMEDOUT, -ECANCELED, -EPERM, and -EBUSY
 * if no submission queue entry could be had (the kernel's queue full even
 * after submitting). */

ssize_t myco_read(int fd, void *buf, size_t len, int64_t timeout_ns);
ssize_t myco_write(int fd, const void *buf, size_t len, int64_t timeout_ns);
ssize_t myco_readv(int fd, const struct iovec *iov, int iovcnt,
		   int64_t timeout_ns);
ssize_t myco_writev(int fd, const struct iovec *iov, int iovcnt,
		    int64_t timeout_ns);
/* Positional file I/O (offset as in pread(2)/pwrite(2)). */
ssize_t myco_pread(int fd, void *buf, size_t len, off_t off,
		   int64_t timeout_ns);
ssize_t myco_pwrite(int fd, const void *buf, size_t len, off_t off,
		    int64_t timeout_ns);
/* fsync(2) (datasync false) or fdatasync(2) (datasync true) through the
 * ring: the coroutine waits, the loop keeps running others. */
int myco_fsync(int fd, bool datasync, int64_t timeout_ns);
/* Sockets: flags as in recv(2)/send(2).  myco_send, myco_sendv and
 * myco_write_all add MSG_NOSIGNAL (no SIGPIPE; -EPIPE instead).  Plain
 * myco_write/myco_writev on a socket whose peer has gone may raise SIGPIPE
 * like write(2) does. */
ssize_t myco_recv(int fd, void *buf, size_t len, int flags,
		  int64_t timeout_ns);
ssize_t myco_send(int fd, const void *buf, size_t len, int flags,
		  int64_t timeout_ns);
/* sendmsg(2) of an iovec with MSG_NOSIGNAL. */
ssize_t myco_sendv(int fd, const struct iovec *iov, int iovcnt,
		   int64_t timeout_ns);

/* Write all len bytes (looping over short writes; uses send with
 * MSG_NOSIGNAL on sockets, write otherwise).  Returns len, or a negative
 * error; on error some bytes may have been written already. */
ssize_t myco_write_all(int fd, const void *buf, size_t len,
		       int64_t timeout_ns);
/* Same for an iovec array; the array is copied, the caller's is not
 * modified.  At most 64 entries (-EINVAL beyond). */
ssize_t myco_writev_all(int fd, const struct iovec *iov, int iovcnt,
			int64_t timeout_ns);

/* Accept a connection: returns the new fd (flags: SOCK_NONBLOCK |
 * SOCK_CLOEXEC as for accept4(2)); addr/alen may be NULL. */
int myco_accept(int lfd, struct sockaddr *addr, socklen_t *alen, int flags,
		int64_t timeout_ns);
/* Connect fd (a stream socket).  0 when connected. */
int myco_connect(int fd, const struct sockaddr *addr, socklen_t alen,
		 int64_t timeout_ns);

/* Zero-copy file -> socket (or any fd): moves up to count bytes from
 * in_fd starting at *offset (or the file position when offset is NULL)
 * to out_fd through a kernel pipe with splice(2), without copying through
 * user space.  Loops until count bytes are sent or in_fd hits EOF.
 * Returns the number of bytes sent (and advances *offset by that much);
 * on error after a partial transfer returns the error (bytes may have been
 * sent; *offset is advanced by what was).  Pipes come from a per-loop pool. */
ssize_t myco_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
		      int64_t timeout_ns);
/* One splice(2) through io_uring (one of the fds must be a pipe).
 * off_in/off_out: -1 for "no offset" (use/advance the file position). */
ssize_t myco_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out,
		    size_t len, unsigned flags, int64_t timeout_ns);

/* Wait until fd is ready for events (POLLIN, POLLOUT ...).  Returns the
 * revents mask (> 0), or an error. */
int myco_poll(int fd, short events, int64_t timeout_ns);

/* Generic event source: wait until ready(obj) is true.  ready() is called
 * first without any syscall; only if it is false is arm(obj) called and fd
 * polled for POLLIN through io_uring; after each wake-up ready() is checked
 * again (spurious wake-ups are absorbed) and disarm(obj) is called before
 * returning (if arm was called).  arm/disarm may be NULL.  arm returns 0
 * (armed, not ready), > 0 (ready already: return at once) or a negative
 * error, which is returned.  Returns 0 when ready, -ETIMEDOUT,
 * -ECANCELED.  For channel endpoints use myco_co_chan_* below. */
int myco_wait_source(bool (*ready)(void *obj), int (*arm)(void *obj),
		     void (*disarm)(void *obj), void *obj, int fd,
		     int64_t timeout_ns);

/* Channel endpoints (myco/chan.h) as event sources.  Each checks the ring
 * first with myco_chan_ready() (no syscall); only when it would block does
 * it myco_chan_arm() the endpoint and wait on myco_chan_fd() through
 * io_uring, yielding to the loop; it disarms before returning.  The handle
 * must be used by this coroutine only while the call runs.  Coroutine only;
 * timeout 0 = do not wait (-ETIMEDOUT); errors as the myco_chan_* call.
 *   myco_co_chan_wait: wait until myco_chan_ready(ch) (any role).
 *   myco_co_chan_recv: consumer/server: myco_chan_recv() without blocking
 *       the thread (msg as in chan.h, held until myco_chan_done()).
 *   myco_co_chan_recv_copy: as myco_chan_recv_copy(); returns the length.
 *   myco_co_chan_send: producer/client: myco_chan_send_timeout() that
 *       yields while the ring is full, up to the timeout, whatever the
 *       channel's overflow policy (timeout 0: -EAGAIN at once, as REJECT;
 *       expiry: -ETIMEDOUT). */
struct myco_chan;
struct myco_chan_msg;
int myco_co_chan_wait(struct myco_chan *ch, int64_t timeout_ns);
int myco_co_chan_recv(struct myco_chan *ch, struct myco_chan_msg *msg,
		      int64_t timeout_ns);
int myco_co_chan_recv_copy(struct myco_chan *ch, void *buf, size_t cap,
			   struct myco_chan_msg *info, int64_t timeout_ns);
int myco_co_chan_send(struct myco_chan *ch, const void *buf, size_t len,
		      int64_t timeout_ns);

/* TCP helpers.  myco_tcp_listen: socket+bind+listen on host:port (host
 * NULL or "" = any IPv4 address; numeric IPv4/IPv6 or a name resolved with
 * getaddrinfo, which may block, so call it before the loop runs);
 * reuseport sets SO_REUSEPORT (for one listener per loop).  Returns the
 * listening fd (SOCK_CLOEXEC) owned by the caller.  Any thread.
 * port 0 picks a free port: read it back with getsockname(). */
int myco_tcp_listen(const char *host, uint16_t port, int backlog,
		    bool reuseport);
/* Connect to a numeric IPv4/IPv6 host and port; returns a connected
 * socket fd (SOCK_CLOEXEC, TCP_NODELAY set) owned by the caller.
 * Coroutine only. */
int myco_tcp_connect(const char *host, uint16_t port, int64_t timeout_ns);

/* ------------------------------------------------------------------ */
/* Timers (hierarchical timing wheel, callbacks on the loop thread)    */
/* ------------------------------------------------------------------ */

typedef void (*myco_timer_cb_t)(myco_timer_t *timer, void *arg);

/* Create a stopped timer on loop.  cb runs on the loop thread outside
 * coroutines and must not block (it may spawn, post, start/stop timers,
 * destroy this timer).  Free with myco_timer_destroy.  Loop thread. */
int myco_timer_create(myco_loop_t *loop, myco_timer_t **out,
		      myco_timer_cb_t cb, void *arg);
/* (Re)arm: fire after after_ns, then every repeat_ns if repeat_ns > 0
 * (periodic timers do not drift: each expiry is the previous plus
 * repeat_ns).  An armed timer keeps a standalone loop running.
 * Resolution ~1 us; a timer never fires early.  Loop thread. */
int myco_timer_start(myco_timer_t *timer, uint64_t after_ns,
		     uint64_t repeat_ns);
/* Disarm (no-op if not armed).  Loop thread. */
void myco_timer_stop(myco_timer_t *timer);
/* Stop and free; NULL ignored.  Loop thread (or after myco_loop_run
 * returned, but before myco_loop_destroy, which frees remaining timers). */
void myco_timer_destroy(myco_timer_t *timer);
/* True while armed. */
bool myco_timer_active(const myco_timer_t *timer);

/* ------------------------------------------------------------------ */
/* Events: wake coroutines from any thread (like a futex word)         */
/* ------------------------------------------------------------------ */

/* Create an event; free with myco_event_destroy when nobody waits. */
int myco_event_create(myco_event_t **out);
void myco_event_destroy(myco_event_t *ev);
/* Current sequence number (acquire).  Any thread. */
uint64_t myco_event_seq(const myco_event_t *ev);
/* Wait until the sequence number differs from seen (returns 0 at once if
 * it already does).  Usage: s = seq(); check condition; if not met,
 * myco_event_wait(ev, s, t).  No lost wake-ups.  Returns 0, -ETIMEDOUT,
 * -ECANCELED.  Coroutine only, waiters may be on different loops. */
int myco_event_wait(myco_event_t *ev, uint64_t seen, int64_t timeout_ns);
/* Bump the sequence number and wake every waiter.  Any thread. */
void myco_event_notify(myco_event_t *ev);

/* ------------------------------------------------------------------ */
/* EDF tasks (policy edf)                                              */
/* ------------------------------------------------------------------ */

enum {
	MYCO_EDF_SPORADIC = 1u << 0, /* jobs released by myco_edf_release, at
	                                least period_ns apart              */
	MYCO_EDF_THROTTLE = 1u << 1, /* on a detected overrun, demote the job
	                                to background until its next release */
};

typedef struct myco_edf_params {
	uint64_t runtime_ns;  /* budget C per job (> 0)                     */
	uint64_t deadline_ns; /* relative deadline D, 0 = period           */
	uint64_t period_ns;   /* period T, or minimum inter-arrival (> 0)   */
	uint64_t start_ns;    /* first release, absolute monotonic ns;
	                         0 = now (periodic).  Ignored for sporadic. */
	unsigned flags;       /* MYCO_EDF_*                                 */
} myco_edf_params_t;

/* Spawn an edf task: admission test sum(C/min(D,T)) <= edf_util_max over
 * the loop's live edf tasks (-MYCO_EADMISSION if it would fail; nothing
 * spawned).  A periodic task's first job is released at start_ns; fn runs
 * the job and calls myco_edf_next() to finish it and wait for the next
 * release.  Ready edf jobs run before background coroutines, earliest
 * absolute deadline first.  The task's utilisation is given back when fn
 * returns.  -ENOTSUP if the loop policy is not edf; -EINVAL if C > D or
 * C, T are 0 or D > T.  out as for myco_spawn.  Loop thread. */
int myco_spawn_edf(myco_loop_t *loop, myco_co_t **out, myco_co_fn_t fn,
		   void *arg, const myco_edf_params_t *params,
		   const myco_co_opts_t *opts);

/* End the current job (a job finishing after its absolute deadline is
 * counted as a deadline miss) and sleep until the next release (periodic:
 * previous release + T; if that time has passed already, the job is
 * released at once, keeping its deadline previous release + T + D, so a
 * task that fell behind catches up and its misses are counted; sporadic:
 * the next myco_edf_release).  Returns 0, or -ECANCELED.  -EINVAL if the
 * caller is not an edf task.  Coroutine only. */
int myco_edf_next(void);

/* Release a job of a sporadic edf task; if less than T has passed since
 * its previous release, the release is deferred to previous + T.  Extra
 * releases while one is pending are merged (counted as jobs_merged).
 * Loop thread of co.  -EINVAL if co is not a sporadic edf task. */
int myco_edf_release(myco_co_t *co);

/* Utilisation admitted on the loop so far (sum C/min(D,T)).  Loop thread. */
double myco_edf_utilisation(const myco_loop_t *loop);

/* Put the calling thread into SCHED_DEADLINE with this reservation (what a
 * partition gets from the executive in budget mode; useful for a loop
 * thread that runs edf tasks).  Returns 0, or -EPERM / -EBUSY (kernel
 * admission failed) / -EINVAL.  Note: the kernel refuses SCHED_DEADLINE
 * for a thread whose CPU affinity is narrower than its root domain, so do
 * not pin such a loop (or use an exclusive cpuset).  Any thread, for
 * itself. */
int myco_rt_set_deadline(uint64_t runtime_ns, uint64_t deadline_ns,
			 uint64_t period_ns);

/* Opt-in stack overflow report.  A coroutine that overflows its stack
 * touches its guard page and the process dies of SIGSEGV.  After this call
 * (once, any thread, before or after loops start) that SIGSEGV first writes
 * "myco: coroutine '<name>' overflowed its <N> KiB stack ..." to stderr,
 * then the signal's previous disposition runs (default: the process dies of
 * SIGSEGV, so core dumps and exit status are unchanged).  Every loop thread
 * gets an alternate signal stack when its loop runs (needed to handle a
 * fault on an exhausted stack).  Faults elsewhere are passed on untouched.
 * Returns 0 or -errno from sigaction.  Not for sanitizer builds (their own
 * SIGSEGV handler reports overflows). */
int myco_rt_report_overflow(void);

/* ------------------------------------------------------------------ */
/* Groups: one loop per core, pinned, work passed by SPSC rings        */
/* ------------------------------------------------------------------ */

typedef struct myco_group_opts {
	unsigned nloops;        /* 0 = one per CPU in the caller's affinity */
	const int *cpus;        /* CPU for loop i (nloops entries), or NULL
	                           = the i-th CPU of the affinity mask     */
	bool no_pin;            /* do not pin the threads                  */
	myco_loop_opts_t loop;  /* options for every loop (cpu/pin ignored) */
	struct myco_rt_loans *loans; /* elastic group: the core-loan signal
	                           region (below), initialised with
	                           myco_rt_loans_init() for at least nloops
	                           loops; it must outlive the group.  NULL =
	                           the executive's region when this process
	                           is an elastic partition (`cores MIN..MAX
	                           elastic;`) and no group took it yet: then
	                           nloops is the region's, cpus is ignored
	                           and loops are not pinned; otherwise every
	                           loop always runs.  Makes every loop
	                           keep a steal deque (queued spawns are what
	                           a revoked loop hands to its siblings). */
} myco_group_opts_t;

/* Create nloops loops (not yet running).  On success *out is owned by the
 * caller (myco_group_destroy).  Any thread. */
int myco_group_create(myco_group_t **out, const myco_group_opts_t *opts);

unsigned myco_group_size(const myco_group_t *g);
/* Loop i (NULL if out of range).  Valid until myco_group_destroy. */
myco_loop_t *myco_group_loop(const myco_group_t *g, unsigned i);
/* The group of a loop, NULL for a standalone loop. */
myco_group_t *myco_loop_group(const myco_loop_t *loop);

/* Start one thread per loop; each pins itself, then (if init is non-NULL)
 * calls init(loop, index, arg) on its own thread before running its loop
 * (init typically spawns the loop's coroutines), then runs the loop until
 * myco_group_stop.  Returns 0 or an error (threads already started are
 * stopped and joined again).  Call once.  Any thread. */
int myco_group_start(myco_group_t *g,
		     void (*init)(myco_loop_t *loop, unsigned index, void *arg),
		     void *arg);
/* Ask every loop of the group to stop.  Any thread, also a loop thread. */
void myco_group_stop(myco_group_t *g);
/* Wait until all loop threads have returned.  Not from a loop thread of g.
 * Returns 0 or the first non-zero myco_loop_run result. */
int myco_group_join(myco_group_t *g);
/* start + join on the calling thread. */
int myco_group_run(myco_group_t *g,
		   void (*init)(myco_loop_t *loop, unsigned index, void *arg),
		   void *arg);
/* Destroy a group whose threads have been joined (or never started);
 * frees every loop (see myco_loop_destroy).  NULL ignored. */
void myco_group_destroy(myco_group_t *g);

/* ------------------------------------------------------------------ */
/* Market policy                                                       */
/* ------------------------------------------------------------------ */

#define MYCO_MARKET_MAX_CLASSES 16

/* A task class of a market loop: the coroutines whose name is task_class
 * earn `income` credits per period (kept up to 4 periods' worth) and bid
 * `bid` per period, raised up to 16x as the oldest ready coroutine of the
 * class nears its deadline (ready time + deadline_ns; 0 = best effort).
 * Coroutines of undeclared names run only when no declared class has
 * ready work. */
typedef struct myco_bid {
	const char *task_class; /* copied (up to 31 bytes)                */
	uint64_t income;        /* credits per period                     */
	uint64_t bid;           /* base bid per period                    */
	uint64_t deadline_ns;   /* relative deadline, 0 = best effort     */
} myco_bid_t;

/* A market loop created inside a partition declares the classes of the
 * system file's `bid` statements first (the executive passes them in
 * MYCO_BIDS; a malformed value makes myco_loop_create fail with -EINVAL).
 * Declare or change a class.  0, -EINVAL (not a market loop, bad name),
 * -ENOSPC (more than MYCO_MARKET_MAX_CLASSES), -ENOMEM.  Loop thread (or
 * before the loop runs). */
int myco_market_bid(myco_loop_t *loop, const myco_bid_t *b);

typedef struct myco_market_stats {
	uint64_t period_ns;
	unsigned slots;           /* per period                              */
	uint64_t auctions;
	uint64_t auction_ns_mean; /* cost of one auction                     */
	uint64_t auction_ns_max;
	uint64_t price;           /* sum of bids / slots, last auction       */
	unsigned nclasses;
	struct {
		char name[32];
		uint64_t credits, bid;    /* now / last auction              */
		unsigned slots;           /* last auction                    */
		uint64_t total_slots, total_paid;
		uint64_t ran_ns;          /* time its coroutines ran         */
	} cls[MYCO_MARKET_MAX_CLASSES];
} myco_market_stats_t;

/* Snapshot of a market loop's auction.  Loop thread (or after the loop
 * stopped). */
int myco_market_stats(const myco_loop_t *loop, myco_market_stats_t *st);

/* ------------------------------------------------------------------ */
/* Core loans: elastic groups and their shared-memory signal region    */
/* ------------------------------------------------------------------ */

/*
 * An elastic group has one loop per core it may ever use; an arbiter
 * outside the group (the executive's exec/loans.c, or any thread or
 * process that maps the region) decides which of them run.  The region is
 * plain shared memory (a memfd mapped by both sides, or ordinary memory
 * within one process); every field is accessed with relaxed or
 * acquire/release atomics, so reading the signals costs no syscall.
 *
 * Per loop, the arbiter writes `grant` (1 = the loop may run, 0 = give the
 * core back) and then calls myco_rt_loans_grant(), which bumps `grant_seq`
 * and the futex word `wake` and wakes the loop.  A revoked loop stops
 * starting queued spawns (its siblings steal them: they scan revoked
 * siblings' deques every iteration), runs what already started on it
 * (coroutines never migrate), and once it has nothing left (no live
 * coroutine, no kernel operation, no queued spawn, no post) it parks in
 * FUTEX_WAIT on `wake`: state DRAINING, then PARKED.  A post or spawn_on
 * addressed to a parked loop bumps `wake` and wakes it; it runs the post
 * (spawns go to its deque, for the siblings) and parks again.  Nothing
 * queued on a revoked loop is lost.  Loops [0, min_active) are never
 * parked, whatever `grant` says, so a group always has a running loop.
 * A revoke does not interrupt a loop asleep in the kernel (it uses no CPU
 * there): it acts on it at its next wake-up (a completion, post or timer).
 * A draining loop with kernel operations in flight looks at `grant` at
 * least every millisecond.
 *
 * Cache lines: the first 64 bytes of a core entry are the arbiter's, the
 * next 128 the loop's; the arbiter never writes the loop's lines.  An
 * arbiter in another process must treat every loop-written field as
 * untrusted (clamp, never index with it).
 */
#define MYCO_RT_LOANS_MAGIC   0x4e414f4cu /* "LOAN" little-endian */
#define MYCO_RT_LOANS_VERSION 1u
#define MYCO_RT_LOANS_MAX     64u

enum myco_rt_core_state {
	MYCO_RT_CORE_PARKED   = 0, /* thread asleep on `wake`, core free     */
	MYCO_RT_CORE_RUNNING  = 1, /* granted and running                    */
	MYCO_RT_CORE_DRAINING = 2, /* revoked; finishing started coroutines  */
};

typedef struct myco_rt_core_sig {
	/* ---- written by the arbiter (64 bytes) ---- */
	uint32_t grant;       /* 1 = granted, 0 = revoked                    */
	uint32_t wake;        /* futex word of the parked loop (bumped by the
	                         arbiter and by whoever posts to the loop)   */
	uint64_t grant_seq;   /* +1 per grant change                         */
	uint64_t grant_ns;    /* myco_now() of the last grant change         */
	uint8_t  pad_a[40];
	/* ---- written by the loop (128 bytes) ---- */
	uint32_t state;       /* enum myco_rt_core_state                     */
	int32_t  cpu;         /* CPU the loop is pinned to, -1 = unpinned    */
	uint64_t seen_seq;    /* grant_seq the loop last acted on            */
	uint64_t running_ns;  /* myco_now() when it resumed after a grant    */
	uint64_t qdelay_ns;   /* EWMA (weight 1/8) of ready -> running       */
	uint64_t oldest_ns;   /* age of the oldest ready coroutine, last
	                         iteration (0 when none is ready)            */
	uint64_t queued;      /* ready coroutines + queued spawns + posts    */
	uint64_t busy_ns;     /* total time neither blocked in the kernel nor
	                         parked, since the loop first ran            */
	uint64_t updated_ns;  /* myco_now() of the last update               */
	uint64_t grants;      /* times resumed from PARKED                   */
	uint64_t revokes;     /* times it entered DRAINING                   */
	uint64_t migrated;    /* queued spawns siblings took while revoked
	                         (added to by the siblings, atomically)     */
	uint8_t  pad_b[40];
} myco_rt_core_sig_t;

typedef struct myco_rt_loans {
	uint32_t magic;       /* MYCO_RT_LOANS_MAGIC                         */
	uint32_t version;     /* MYCO_RT_LOANS_VERSION                       */
	uint32_t nloops;      /* entries of core[] in use (<= LOANS_MAX)     */
	uint32_t min_active;  /* loops that never park (>= 1)                */
	uint32_t max_active;  /* the arbiter grants at most this many        */
	uint8_t  pad[44];
	myco_rt_core_sig_t core[MYCO_RT_LOANS_MAX];
} myco_rt_loans_t;

/* Initialise a region for nloops loops: loops [0, min_active) granted,
 * the rest revoked (they park as soon as they run).  1 <= min_active <=
 * max_active <= nloops <= MYCO_RT_LOANS_MAX, else -EINVAL.  Before the
 * group exists.  Any thread. */
int myco_rt_loans_init(myco_rt_loans_t *r, unsigned nloops,
		       unsigned min_active, unsigned max_active);
/* Validate a region mapped from elsewhere (size in bytes): 0 or -EINVAL
 * (bad magic, version, counts) / -EPROTO (size too small). */
int myco_rt_loans_check(const myco_rt_loans_t *r, size_t size);
/* Grant (on) or revoke loop i's core: store grant with release, bump
 * grant_seq and wake, record grant_ns, FUTEX_WAKE the loop.  Returns 1 if
 * the grant changed, 0 if it already was so, -EINVAL.  Any thread or
 * process that maps the region (the futex is shared). */
int myco_rt_loans_grant(myco_rt_loans_t *r, unsigned i, bool on);
/* Loops currently granted (grant == 1 or below min_active). */
unsigned myco_rt_loans_granted(const myco_rt_loans_t *r);

/* An elastic group's figures, summed over its loops from its region. */
typedef struct myco_rt_loans_stats {
	unsigned nloops, min_active, max_active;
	unsigned granted;         /* loops granted now                      */
	unsigned running;         /* loops in state RUNNING now             */
	uint64_t loop_grants;     /* grants the loops acted on (resumed from
	                             PARKED, or re-granted while DRAINING)   */
	uint64_t revokes;         /* times a loop entered DRAINING          */
	uint64_t migrated;        /* queued spawns siblings took from
	                             revoked loops                          */
} myco_rt_loans_stats_t;
/* 0, or -ENOENT when g is not elastic (-EINVAL for NULL).  Any thread. */
int myco_rt_loans_stats(const myco_group_t *g, myco_rt_loans_stats_t *st);

/* ------------------------------------------------------------------ */
/* Metrics                                                             */
/* ------------------------------------------------------------------ */

/* Scheduling latency (ready -> running) histogram: bucket i counts
 * latencies in [2^i, 2^(i+1)) ns, bucket 0 also counts 0 ns, the last one
 * everything above. */
#define MYCO_RT_HIST_BUCKETS 40

typedef struct myco_loop_stats {
	uint64_t iterations;      /* loop iterations                       */
	uint64_t switches;        /* coroutine switches in                 */
	uint64_t spawned;         /* coroutines created here               */
	uint64_t finished;        /* coroutines that returned              */
	uint64_t spawn_failed;    /* myco_spawn_on that failed on arrival  */
	uint64_t live;            /* coroutines alive now                  */
	uint64_t ready_len;       /* ready queue length now (all classes)  */
	uint64_t edf_ready_len;   /* of which edf jobs                     */
	uint64_t steal_queue_len; /* stealable spawns queued now           */
	uint64_t timers_armed;    /* armed timers now (incl. sleeps)       */
	uint64_t io_pending;      /* kernel operations in flight now       */
	uint64_t posts_in;        /* myco_post callbacks run               */
	uint64_t post_queue_len;  /* posts waiting now                     */
	uint64_t stolen_in;       /* spawns this loop stole from siblings  */
	uint64_t stolen_out;      /* spawns siblings stole from this loop  */
	uint64_t sleeps;          /* times the loop blocked in the kernel  */
	uint64_t deadline_misses; /* edf jobs finished after deadline      */
	uint64_t overruns;        /* edf jobs that exceeded their budget   */
	uint64_t edf_jobs;        /* edf jobs released                     */
	uint64_t sched_lat_count;
	uint64_t sched_lat_max_ns;
	uint64_t sched_lat_hist[MYCO_RT_HIST_BUCKETS];
	uint64_t src_fast;        /* source waits satisfied without syscall */
	uint64_t src_polls;       /* source waits that armed and polled     */
} myco_loop_stats_t;

/* Snapshot the loop's counters.  Any thread; counters are read without
 * locks (relaxed), so a snapshot taken from another thread is not
 * atomic as a whole. */
int myco_loop_stats(const myco_loop_t *loop, myco_loop_stats_t *st);
/* Reset the counters of the latency histogram.  Loop thread. */
void myco_loop_stats_reset_latency(myco_loop_t *loop);

/* Upper bound (in ns) of the bucket containing quantile q (0..1) of the
 * histogram; 0 if empty. */
uint64_t myco_rt_hist_quantile(const uint64_t hist[MYCO_RT_HIST_BUCKETS],
			       double q);

typedef struct myco_co_stats {
	uint64_t cpu_ns;          /* time on CPU while this coroutine ran
	                             (monotonic clock between switch in and
	                             out; includes time the thread was
	                             preempted by the kernel)                */
	uint64_t switches;        /* times switched in                     */
	uint64_t jobs;            /* edf jobs released                     */
	uint64_t jobs_merged;     /* sporadic releases merged              */
	uint64_t deadline_misses; /* edf                                   */
	uint64_t overruns;        /* edf jobs over budget                  */
	uint64_t max_job_ns;      /* edf: longest job CPU time             */
} myco_co_stats_t;

/* Snapshot the counters of one coroutine.  Loop thread of co. */
int myco_co_stats(const myco_co_t *co, myco_co_stats_t *st);

/* Call fn for every live coroutine of loop (not for ones being freed).
 * fn must not spawn, join, or cancel.  Loop thread. */
void myco_loop_foreach_co(myco_loop_t *loop,
			  void (*fn)(myco_co_t *co, void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_RT_H */
