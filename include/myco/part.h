/*
 * myco/part.h: the partition side of libmyco.  A program started by
 * `myco run` calls myco_init() first, then opens the channels it declared
 * with myco_chan_open(), says myco_ready() when it can serve, and calls
 * myco_heartbeat() from its main loop (at least once per declared heartbeat
 * period, and ideally after each message it handled).
 *
 * The second half of this header is the shared-memory ABI between the
 * executive and libmyco (the per-process control region); partitions never
 * touch it directly.  Not for: channel operations (myco/chan.h).
 */
#ifndef MYCO_PART_H
#define MYCO_PART_H

#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct myco_chan;   /* myco_chan_t, defined by myco/chan.h */

/* Find the capabilities this process was given (environment MYCO_CAPS,
 * MYCO_CTL, MYCO_NOTIFY, MYCO_EXEC_FD, MYCO_PARTITION, MYCO_POLICY).  It
 * installs two signal handlers: SIGTERM (exit 0) when the program has none,
 * so that a graceful stop works even as PID 1 of a namespace, and SIGRTMAX,
 * raised through O_ASYNC on MYCO_EXEC_FD when the executive dies, which
 * exits 137 so that no partition outlives its executive.  A pre-spawned standby blocks
 * here, without using CPU, until the executive activates it; a process that
 * the executive asks to retire while parked exits with status 0 from inside
 * myco_init().  Outside a system (no MYCO_CTL) myco_init() returns 0 and the
 * partition runs unsupervised with whatever MYCO_CAPS names.
 * Returns 0, -EINVAL for a malformed manifest, -EPROTO for a control region
 * that fails validation.  Calling it twice is harmless. */
int myco_init(void);

/* Open channel NAME, which this partition must have declared, attaching as
 * the role it declared.  On success *out is the endpoint (close it with
 * myco_chan_close(); the process exiting is also fine).  Errors:
 * -MYCO_ENOTGRANTED when NAME was not granted to this partition (no fd for it
 * exists in this process), -EALREADY when already open (the first handle is
 * returned in *out too), and whatever the channel attach returns. */
int myco_chan_open(const char *name, struct myco_chan **out);

/* Tell the executive this partition is ready: dependents waiting on it are
 * started.  Cheap (one store and one eventfd write the first time). */
int myco_ready(void);

/* Liveness signal: one atomic increment in the control region, no syscall.
 * Missing the declared number of heartbeat periods gets the partition
 * killed and restarted as hung. */
void myco_heartbeat(void);

/* The listening socket the executive created for declared port PORT
 * (`listen PORT;` in the system file).  Returns the inherited fd (a TCP
 * socket bound to 0.0.0.0:PORT in the executive's network namespace,
 * already listening, blocking, close-on-exec clear) or -MYCO_ENOTGRANTED
 * when PORT was not declared by this partition (myco_part_errmsg() then
 * lists the granted ports), or what myco_init() returns.  The socket
 * belongs to the system, not the process: it lives as long as the system
 * runs and every instance of the partition (standby, replacement) gets the
 * same one, so connections that arrive while the partition is restarting
 * wait in its backlog.  The partition only accepts on it (setting
 * O_NONBLOCK is fine); it must not shut it down.  Without `net`, the
 * partition cannot create, bind or connect sockets of its own (seccomp).
 * Calls myco_init() if needed. */
int myco_listen_fd(uint16_t port);

/* The ports granted to this partition: copies at most cap of them into out
 * (out may be NULL) and returns how many there are (0 outside a system). */
size_t myco_listen_ports(uint16_t *out, size_t cap);

/* 1 when this process runs as a partition of a system (the executive
 * started it: a control region was handed over), else 0.  Calls
 * myco_init() if needed (0 if that fails). */
int myco_in_system(void);

/* This partition's name ("" outside a system); static string. */
const char *myco_partition_name(void);

/* The scheduler policy the system file gave this partition ("" if none). */
const char *myco_part_policy(void);

/* A human-readable explanation of the last error of myco_init(),
 * myco_chan_open() or myco_listen_fd() in this thread's process (e.g. which channels are
 * granted); static buffer, overwritten by the next failure. */
const char *myco_part_errmsg(void);

/* ---------------------------------------------------------------------
 * Executive <-> libmyco control region (shared-internal ABI).
 *
 * One region (a sealed 4 KiB memfd, fd number in MYCO_CTL) per partition
 * process, created by the executive before spawn.  Writers:
 *   executive: magic, version, size, state (PARKED->ACTIVE or ->RETIRE),
 *              t_activate_ns
 *   partition: t_running_ns, t_first_ns, heartbeat, ready, pid_in_ns, parked
 * Times are CLOCK_MONOTONIC ns (the same clock in every pid namespace).
 * `state` is a futex word: the standby sleeps in FUTEX_WAIT while it reads
 * PARKED; the executive stores ACTIVE (release) then FUTEX_WAKEs.  The
 * partition loads with acquire, so t_activate_ns written before is visible.
 * The partition's stores are single aligned 64/32-bit atomics; the executive
 * treats every value it reads as untrusted (a time before activation, or
 * in the future, is ignored).  The notify eventfd (MYCO_NOTIFY) is written
 * by the partition after its first ready and first call, so the executive
 * need not poll.
 * --------------------------------------------------------------------- */
#define MYCO__PART_CTL_MAGIC   0x314c54434f43594dULL   /* "MYCOCTL1" LE */
#define MYCO__PART_CTL_VERSION 1u
#define MYCO__PART_CTL_SIZE    4096u

enum {
	MYCO__CTL_PARKED = 0,   /* standby: wait in myco_init() */
	MYCO__CTL_ACTIVE = 1,   /* run */
	MYCO__CTL_RETIRE = 2,   /* standby no longer wanted: exit(0) */
};

struct myco__part_ctl {
	uint64_t magic;
	uint32_t version;
	uint32_t size;
	/* executive-written */
	uint32_t state;                 /* futex word, MYCO__CTL_* */
	uint32_t generation;            /* bumped at each activation */
	uint64_t t_activate_ns;
	uint64_t t_spawn_ns;
	uint8_t  pad0[64 - 40];
	/* partition-written, own cache line */
	uint64_t t_running_ns;          /* myco_init() returned */
	uint64_t t_first_ns;            /* first libmyco call after that */
	uint64_t t_ready_ns;            /* myco_ready() */
	uint64_t heartbeat;             /* myco_heartbeat() counter */
	uint32_t ready;
	int32_t  pid_in_ns;
	uint32_t parked;                /* 1 while waiting for activation */
	uint8_t  pad1[64 - 44];
};
#ifdef __cplusplus
static_assert(sizeof(struct myco__part_ctl) == 128, "control region ABI");
#else
_Static_assert(sizeof(struct myco__part_ctl) == 128, "control region ABI");
_Static_assert(__builtin_offsetof(struct myco__part_ctl, t_running_ns) == 64,
	       "partition fields on their own cache line");
#endif

/* ---------------------------------------------------------------------
 * Timing counters, in the same control region at MYCO__PART_TIMING_OFF
 * (shared-internal ABI; zero when the partition's libmyco predates them).
 * Partition-written only: the runtime (lib/rt, edf policy) adds a job, a
 * deadline miss (job finished after its absolute deadline) or a budget
 * overrun (job used more CPU than its declared runtime) with relaxed
 * atomic adds as they happen; the executive reads them for `myco ps` and
 * the metrics.  A task slot is claimed with an atomic increment of
 * ntasks, its name written, then `used` stored with release: a reader
 * that sees used == 1 (acquire) sees the name.  Tasks beyond
 * MYCO__PART_TASKS count only in the totals (tasks_dropped says how many).
 * The executive treats everything here as untrusted: names are bounded
 * and NUL-terminated by the reader, ntasks is clamped.
 * --------------------------------------------------------------------- */
#define MYCO__PART_TIMING_OFF 128u
#define MYCO__PART_TASKS      16u

struct myco__part_task {
	char name[32];
	uint64_t jobs;
	uint64_t deadline_misses;
	uint64_t overruns;
	uint32_t used;
	uint32_t pad;
};

struct myco__part_timing {
	uint64_t edf_jobs;              /* all edf tasks of the process */
	uint64_t deadline_misses;
	uint64_t overruns;
	uint32_t ntasks;                /* slots claimed (may exceed the table) */
	uint32_t tasks_dropped;
	uint8_t  pad[64 - 32];
	struct myco__part_task task[MYCO__PART_TASKS];
};
#ifdef __cplusplus
static_assert(sizeof(struct myco__part_task) == 64, "task slot ABI");
static_assert(MYCO__PART_TIMING_OFF + sizeof(struct myco__part_timing) <=
	      MYCO__PART_CTL_SIZE, "timing counters fit the control region");
#else
_Static_assert(sizeof(struct myco__part_task) == 64, "task slot ABI");
_Static_assert(MYCO__PART_TIMING_OFF + sizeof(struct myco__part_timing) <=
	       MYCO__PART_CTL_SIZE, "timing counters fit the control region");
#endif

/* Where lib/rt adds its counts: set by myco_init() in a partition started
 * by the executive, NULL otherwise (the runtime then counts only in its
 * own loop and task statistics).  Defined by lib/rt. */
extern struct myco__part_timing *myco__rt_timing;

#ifdef __cplusplus
}
#endif
#endif /* MYCO_PART_H */
