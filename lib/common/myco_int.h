/*
 * myco_int.h: the private foundation every Myco component shares (in the
 * spirit of SQLite's sqliteInt.h): full reads and writes, futex wait/wake,
 * and sched_setattr(2) with its kernel attribute struct.  The monotonic
 * clock is public: myco_now() in myco/common.h.
 *
 * Private to the project: never installed, never included from a header
 * under include/myco/.  Reach it with `#include "myco_int.h"` from any
 * target that depends on myco_common_dep (every library, exec/, cmd/,
 * svc/, bench/ and tests/ do).  Not for: logging, allocation, anything
 * with state.
 */
#ifndef MYCO_INT_H
#define MYCO_INT_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include "myco/common.h"

/* ---- record and replay hooks ------------------------------------------ */

/* Set by lib/replay while recording or replaying (NULL otherwise):
 * myco_now() / myco_random() pass their raw value through it and return
 * what it returns. */
extern uint64_t (*myco__clock_hook)(uint64_t raw);
extern uint64_t (*myco__random_hook)(uint64_t raw);

/* ---- full reads and writes -------------------------------------------- */

/* Read exactly len bytes from fd into buf, retrying on EINTR and short
 * counts; on a non-blocking fd that has nothing yet, poll(2) for it.
 * Returns 0, -EPIPE when end of file (or a closed peer) comes first (the
 * bytes read so far are in buf), or -errno.  len 0 returns 0 at once. */
int myco__read_full(int fd, void *buf, size_t len);

/* Write exactly len bytes from buf to fd with write(2), retrying on EINTR
 * and short counts; on a non-blocking fd that is full, poll(2) until it
 * drains.  Returns 0 or -errno.  A closed pipe or socket peer raises
 * SIGPIPE as write(2) does; a process that ignores SIGPIPE gets -EPIPE.
 * (One syscall per chunk: no send() probe, so pipes pay nothing extra.) */
int myco__write_full(int fd, const void *buf, size_t len);

/* ---- clock ------------------------------------------------------------ */

/* CLOCK_MONOTONIC in ns without the chaos skew: what myco_now() returns
 * outside an experiment.  For code that must not be fooled by an injected
 * skew (the chaos toolkit's own windows), and libmyco's own deadlines and
 * timestamps: never recorded or replayed (lib/replay records only the
 * partition's own readings). */
uint64_t myco__now_raw(void);
/* What myco_now() adds: a constant zero, or in a partition the skew word
 * of its control region (set by myco_init(); read with a relaxed load). */
extern const int64_t *myco__clock_skew;
/* What myco_now() returns (skew included), but never recorded or replayed:
 * the runtime's own timers, deadlines and latency stamps (lib/rt), whose
 * order a replay reproduces from its wake records instead. */
uint64_t myco__now_unrec(void);
/* CLOCK_MONOTONIC to the kernel's tick (CLOCK_MONOTONIC_COARSE: the same
 * timeline, a few ms of resolution, a fraction of a precise read's cost):
 * stamps where the cost matters more than the resolution (the receive
 * time in a replay log).  Not recorded, no skew. */
uint64_t myco__now_coarse(void);

/* ---- futex ------------------------------------------------------------- */

/* No time limit for myco__futex_wait(). */
#define MYCO__FOREVER_NS UINT64_MAX

/* FNV-1a 64 of N bytes: the project's small non-cryptographic hash (names,
 * keys, checksums of records that a CRC would be overkill for). */
static inline uint64_t myco__fnv1a64(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Sleep while *addr == expected, at most timeout_ns nanoseconds (a
 * RELATIVE time, CLOCK_MONOTONIC; MYCO__FOREVER_NS waits without limit).
 * Shared (not FUTEX_PRIVATE): addr may live in memory mapped by several
 * processes.  Returns 0 when woken (possibly spuriously: callers re-check
 * their condition), -EAGAIN when *addr != expected on entry, -ETIMEDOUT,
 * -EINTR on a signal.  Atomic words are passed with a cast:
 * myco__futex_wait((uint32_t *)&atomic_word, v, t). */
static inline int myco__futex_wait(uint32_t *addr, uint32_t expected,
				   uint64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;

	if (timeout_ns != MYCO__FOREVER_NS) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
		ts.tv_nsec = (long)(timeout_ns % 1000000000u);
		tp = &ts;
	}
	if (syscall(SYS_futex, addr, FUTEX_WAIT, expected, tp, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* Wake up to n sleepers on addr (INT_MAX: all).  Shared, like the wait.
 * Returns the number woken (>= 0) or -errno. */
static inline int myco__futex_wake(uint32_t *addr, int n)
{
	long r = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);

	return r < 0 ? -errno : (int)r;
}

/* ---- sched_setattr(2) -------------------------------------------------- */

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK 0x01
#endif

/* The kernel ABI (include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0);
 * glibc 2.36 does not declare it.  Times in nanoseconds. */
struct myco__sched_attr {
	uint32_t size;           /* sizeof(struct myco__sched_attr) */
	uint32_t sched_policy;   /* SCHED_DEADLINE, SCHED_FIFO, ... */
	uint64_t sched_flags;    /* SCHED_FLAG_* */
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};
_Static_assert(sizeof(struct myco__sched_attr) == 48, "SCHED_ATTR_SIZE_VER0");

/* sched_setattr(2) for thread tid (0: the calling thread).  Fills in
 * attr->size.  Returns 0 or -errno. */
static inline int myco__sched_setattr(pid_t tid, struct myco__sched_attr *attr,
				      unsigned flags)
{
	attr->size = sizeof(*attr);
	if (syscall(SYS_sched_setattr, tid, attr, flags) < 0)
		return -errno;
	return 0;
}

#endif /* MYCO_INT_H */
