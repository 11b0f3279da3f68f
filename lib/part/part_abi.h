/*
 * part_abi.h: the executive <-> libmyco ABI, private to the project (never
 * installed): the per-process control region, the environment a partition
 * is started with, and the capability manifest (MYCO_CAPS) with its one
 * writer and one parser (caps.c).  Described in docs/part-abi.md.
 * Users: lib/part (the partition side), exec/ (the executive side), lib/rt
 * (timing counters), bench/restart, bench/rt and the tests.
 * Not for: the public partition API (myco/part.h), channel regions
 * (lib/chan, docs/chan-abi.md).
 */
#ifndef MYCO_PART_ABI_H
#define MYCO_PART_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/chan.h"

/* ---------------------------------------------------------------------
 * Environment of a partition process (set by exec/spawn.c, read by
 * myco_init()).  Fd numbers are decimal, as the partition sees them.
 * --------------------------------------------------------------------- */
#define MYCO__ENV_CAPS      "MYCO_CAPS"       /* the manifest below */
#define MYCO__ENV_CTL       "MYCO_CTL"        /* control region memfd */
#define MYCO__ENV_NOTIFY    "MYCO_NOTIFY"     /* eventfd partition -> executive */
#define MYCO__ENV_EXEC_FD   "MYCO_EXEC_FD"    /* read end of the "executive alive" pipe */
#define MYCO__ENV_PARTITION "MYCO_PARTITION"  /* partition name */
#define MYCO__ENV_POLICY    "MYCO_POLICY"     /* scheduler policy name */
#define MYCO__ENV_BIDS      "MYCO_BIDS"       /* market bids (lib/rt/market.c) */
#define MYCO__ENV_SYSTEM    "MYCO_SYSTEM"     /* system name */

/* ---------------------------------------------------------------------
 * Capability manifest (MYCO_CAPS).  Grammar (docs/part-abi.md):
 *
 *   manifest = [ entry { ";" entry } [ ";" ] ]
 *   entry    = channel | port | trace | uring | loans
 *   channel  = NAME ":" ROLE ":" INDEX ":" FD { "," FD }
 *   port     = "tcp/" PORT ":" FD
 *   trace    = ( "trace/ring" | "trace/metrics" ) ":" FD
 *   uring    = "uring/rings:" FD { "," FD }
 *   loans    = "loans/region:" FD
 *
 * NAME: 1..63 bytes, none of ':' ';' ',' '/' (the language's identifiers
 * fit); ROLE: the myco_chan_role_t number (1..6); INDEX: the producer,
 * reader or client slot (decimal, 0 for single-ended roles); FD: a decimal
 * fd number as the partition sees it; a channel end carries as many fds as
 * lib/chan's myco_chan_cap_fds() gave for it (1..MYCO_CHAN_MAX_FDS: the
 * sealed header, the main segment, one lane per producer/client/reader...)
 * in that order, and myco_chan_attach() gets them in the same order.
 * PORT: 1..65535.  trace: this partition's trace ring and metrics region
 * (exec/collect.c; lib/trace attaches them).  record/ring: the record ring
 * (exec/record.c; lib/replay attaches it).  uring: io_uring instances
 * the executive created for this process, restricted to the operations
 * its declarations allow (exec/box/uring.c), 1..MYCO__URING_MAX of them;
 * their geometry is in the control region (MYCO__PART_URING_OFF) and
 * lib/rt maps them instead of creating rings (a partition may not call
 * io_uring_setup).  loans: the elastic partition's core-loan region
 * (exec/loans.c; a myco_rt_loans_t, myco/rt.h), which lib/rt's first
 * group attaches.  Entries with a '/' are the
 * executive's own resources: no channel name can take that form.  Numbers
 * are plain decimal digits (no sign, no space).
 * --------------------------------------------------------------------- */
#define MYCO__CAP_NAME_MAX 64           /* NAME bytes + NUL */

enum myco__cap_kind {
	MYCO__CAP_CHAN = 1,             /* a channel end */
	MYCO__CAP_PORT = 2,             /* a listening TCP socket */
	MYCO__CAP_TRACE_RING = 3,       /* the partition's trace ring */
	MYCO__CAP_TRACE_METRICS = 4,    /* the partition's metrics region */
	MYCO__CAP_URING = 5,            /* io_uring instances handed over */
	MYCO__CAP_RECORD_RING = 6,      /* the partition's record ring (lib/replay) */
	MYCO__CAP_LOANS = 7,            /* the core-loan region (exec/loans.c) */
};

#define MYCO__URING_MAX 16u             /* rings in one uring entry */

/* One manifest entry. */
struct myco__cap {
	enum myco__cap_kind kind;
	char name[MYCO__CAP_NAME_MAX];  /* CHAN: the channel's name */
	myco_chan_role_t role;          /* CHAN */
	uint32_t index;                 /* CHAN: slot of this end */
	uint16_t port;                  /* PORT */
	int fds[MYCO_CHAN_MAX_FDS];     /* CHAN: 1..MYCO_CHAN_MAX_FDS; URING:
	                                 * 1..MYCO__URING_MAX; others: 1 */
	size_t nfds;
};

/* Append entry c to the manifest in buf (a NUL-terminated string in cap
 * bytes; "" to start).  Returns 0; -EINVAL for an entry the grammar cannot
 * carry (empty or bad NAME, ROLE out of range, no fds or too many, a
 * negative fd, PORT 0); -E2BIG when it does not fit (buf unchanged). */
int myco__caps_append(char *buf, size_t cap, const struct myco__cap *c);

/* Parse manifest s, calling each(entry, arg) for every entry in order (the
 * entry is valid during the call only).  A non-zero return of each stops
 * the parse and is returned.  Returns the number of entries, or -EINVAL at
 * the first malformed entry (the entries before it were delivered).  NULL
 * or "" is an empty manifest. */
int myco__caps_parse(const char *s,
		     int (*each)(const struct myco__cap *c, void *arg), void *arg);

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
	uint32_t shed;                  /* 1: shed load (`heal shed`, exec/heal.c) */
	uint8_t  pad0[64 - 44];
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
_Static_assert(sizeof(struct myco__part_ctl) == 128, "control region ABI");
_Static_assert(offsetof(struct myco__part_ctl, state) == 16, "futex word");
_Static_assert(offsetof(struct myco__part_ctl, t_running_ns) == 64,
	       "partition fields on their own cache line");

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
_Static_assert(sizeof(struct myco__part_task) == 64, "task slot ABI");
_Static_assert(offsetof(struct myco__part_timing, task) == 64, "task table");
_Static_assert(MYCO__PART_TIMING_OFF + sizeof(struct myco__part_timing) <=
	       MYCO__PART_CTL_SIZE, "timing counters fit the control region");

/* ---------------------------------------------------------------------
 * Frame windows as the partition saw them, in the same control region at
 * MYCO__PART_WINDOW_OFF (shared-internal ABI; zero when the partition is
 * not in frame mode or its libmyco predates them).
 * Executive-written (the frame scheduler, exec/box/frame.c), for a
 * frame-mode partition's active instance: before it thaws the partition
 * at a window start it stores the window's scheduled start (absolute
 * CLOCK_MONOTONIC ns: the frame's origin + n x major frame + the window's
 * offset) to start_ns, then increments seq with release.  major_ns is
 * written once before the partition starts.
 * Partition-written (libmyco: myco__part_window_note(), called from
 * myco_heartbeat()): when it loads a seq (acquire) other than the last one
 * it noted, the window opened since its previous check; it records
 * lateness = its clock now - start_ns: how late the window began as the
 * partition saw it (the thaw, the scheduler, and the partition's own time
 * to its next heartbeat).  A partition that calls no heartbeat during a
 * window does not see that window (seen < the executive's windows).
 * hist is a log2 histogram of the lateness in ns (bucket 0: 0 ns; bucket
 * i: [2^(i-1), 2^i); the last bucket everything from 2^30 ns up), the
 * layout of myco_hist_bucket() in myco/trace.h, truncated.  All partition
 * stores are relaxed 64-bit atomics; the executive treats them as
 * untrusted (it clamps, never indexes with them).
 * --------------------------------------------------------------------- */
#define MYCO__PART_WINDOW_OFF  1280u
#define MYCO__PART_WINDOW_HIST 32u

struct myco__part_window {
	/* executive-written */
	uint64_t seq;                   /* windows opened (release) */
	uint64_t start_ns;              /* scheduled start of the latest */
	uint64_t major_ns;              /* major frame */
	uint8_t  pad0[64 - 24];
	/* partition-written, own cache line */
	uint64_t seen_seq;              /* last seq noted */
	uint64_t seen;                  /* windows noted */
	uint64_t late_max_ns;
	uint64_t late_last_ns;
	uint64_t late_sum_ns;
	uint8_t  pad1[64 - 40];
	uint64_t hist[MYCO__PART_WINDOW_HIST];
};
_Static_assert(offsetof(struct myco__part_window, seen_seq) == 64,
	       "partition fields on their own cache line");
_Static_assert(sizeof(struct myco__part_window) == 384, "window ABI");
_Static_assert(MYCO__PART_TIMING_OFF + sizeof(struct myco__part_timing) <=
	       MYCO__PART_WINDOW_OFF, "window after the timing counters");
_Static_assert(MYCO__PART_WINDOW_OFF + sizeof(struct myco__part_window) <=
	       MYCO__PART_CTL_SIZE, "window fits the control region");

/* Partition side: note a window start if one opened since the last call
 * (NOW = myco_now()).  Cheap when none did: one acquire load.  Safe from
 * several threads: the one whose compare-and-swap of seen_seq wins
 * records the window. */
static inline void myco__part_window_note(struct myco__part_window *w, uint64_t now)
{
	uint64_t seq = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);
	uint64_t old = __atomic_load_n(&w->seen_seq, __ATOMIC_RELAXED);
	uint64_t start, late, max;
	unsigned b;

	if (seq == old)
		return;
	start = __atomic_load_n(&w->start_ns, __ATOMIC_RELAXED);
	if (__atomic_load_n(&w->seq, __ATOMIC_ACQUIRE) != seq ||
	    !__atomic_compare_exchange_n(&w->seen_seq, &old, seq, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;                 /* a newer window, or another thread */
	late = now > start ? now - start : 0;
	b = late ? 64u - (unsigned)__builtin_clzll(late) : 0u;
	if (b >= MYCO__PART_WINDOW_HIST)
		b = MYCO__PART_WINDOW_HIST - 1;
	__atomic_fetch_add(&w->seen, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->late_last_ns, late, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->late_sum_ns, late, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->hist[b], 1, __ATOMIC_RELAXED);
	max = __atomic_load_n(&w->late_max_ns, __ATOMIC_RELAXED);
	while (late > max &&
	       !__atomic_compare_exchange_n(&w->late_max_ns, &max, late, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* ---------------------------------------------------------------------
* io_uring geometry, in the same control region at MYCO__PART_URING_OFF
 * (shared-internal ABI; zero when no rings were handed over).
 * Executive-written before spawn, read once by myco_init(): every ring in
 * the manifest's uring entry was created with the same parameters, and
 * `params` is the struct io_uring_params io_uring_setup() returned for
 * them (kernel ABI, copied as bytes: sizes, flags, features and the mmap
 * offsets io_uring_queue_mmap() needs).  `size` is sizeof that struct as
 * the executive was built; lib/rt refuses a size other than its own.
 * --------------------------------------------------------------------- */
#define MYCO__PART_URING_OFF    1664u
#define MYCO__PART_URING_PARAMS 120u    /* sizeof(struct io_uring_params) */

struct myco__part_uring {
	uint32_t size;                  /* MYCO__PART_URING_PARAMS, 0 = none */
	uint32_t pad;
	uint8_t  params[MYCO__PART_URING_PARAMS];
};
_Static_assert(MYCO__PART_WINDOW_OFF + sizeof(struct myco__part_window) <=
	       MYCO__PART_URING_OFF, "uring geometry after the windows");
_Static_assert(MYCO__PART_URING_OFF + sizeof(struct myco__part_uring) <=
	       2048u, "uring geometry before the chaos table (MYCO__PART_CHAOS_OFF)");

/* Hand the rings of a partition process to lib/rt (called by myco_init();
 * defined by lib/rt, weak in lib/part).  fds: ring fds; params: the bytes
 * of struct myco__part_uring.params; len: its size field.  lib/rt takes
 * ownership of the fds it accepts.  Returns how many it took. */
unsigned myco__rt_rings_give(const int *fds, unsigned n, const void *params,
			     size_t len);

/* ---------------------------------------------------------------------
 * Chaos: the fault table, in the same control region at
 * MYCO__PART_CHAOS_OFF (shared-internal ABI; docs/chaos.md).  Zero (no
 * fault) unless an experiment runs (exec/chaos.c).
 *
 * Executive-written: `armed`, `skew_ns` and the slots.  A slot is
 * rewritten as a seqlock: seq made odd (relaxed store, release fence),
 * the fields written, seq made even (release).  `armed` is the number of
 * slots in use, stored (release) after the slots: it is the one word the
 * channel fast path loads, so a partition with no fault pays one load and
 * one predictable branch per receive.  A reader loads seq (acquire),
 * copies the slot, fences (acquire) and re-checks seq; an odd or changed
 * seq means "skip this slot now" (it is being rewritten).
 * Partition-written (libmyco, relaxed atomic adds): the counters of what
 * it applied, per kind (`applied[kind]`), on their own cache lines.
 *
 * Channel faults (kinds 1..7) are applied by lib/chan at the RECEIVING
 * end (consumer or server: myco_chan_recv and friends) of the channel
 * whose name hashes to `chan` (myco__chaos_chan_hash(); 0 = every channel
 * of the partition), so the sender sees only backpressure and no
 * message is ever taken from the ring before the receiver's done():
 * a fault that only holds or copies a message (delay, duplicate, reorder,
 * bandwidth, stall) can never lose one, even across kill -9.  Drop and
 * corrupt lose or damage a message by design.
 * Whether a fault hits a message is a pure function of (seed, lane, seq):
 * splitmix64(seed ^ lane << 48 ^ seq) < prob, so a run is reproducible
 * whatever the timing.  prob is out of 2^32 - 1 (UINT32_MAX = always).
 * Times are CLOCK_MONOTONIC ns of the real clock (myco__now_raw()), never
 * the skewed one.  The executive treats the counters as untrusted; the
 * partition treats the slots as untrusted too (kinds and sizes checked,
 * loops bounded): a partition can rewrite its own table (it maps the
 * control region read-write) and so only spare itself the faults.
 * --------------------------------------------------------------------- */
#define MYCO__PART_CHAOS_OFF   2048u
#define MYCO__CHAOS_SLOTS      24u

enum myco__chaos_kind {
	MYCO__CHAOS_NONE      = 0,
	/* channel faults, at the receiving end (lib/chan) */
	MYCO__CHAOS_DROP      = 1,      /* the message is done() unseen: lost */
	MYCO__CHAOS_DELAY     = 2,      /* held arg_ns + [0, arg2_ns) jitter after
					 * the receiver first saw it (FIFO kept) */
	MYCO__CHAOS_DUPLICATE = 3,      /* handed out twice (the second a private
					 * copy with the same seq and lane) */
	MYCO__CHAOS_REORDER   = 4,      /* handed out after the next message of
					 * its lane (done() of the later one is
					 * deferred until the earlier is done) */
	MYCO__CHAOS_CORRUPT   = 5,      /* a private copy with arg_ns bits flipped
					 * (1..64) at positions from the seed */
	MYCO__CHAOS_BANDWIDTH = 6,      /* token bucket: arg_ns bytes per second,
					 * burst one message */
	MYCO__CHAOS_STALL     = 7,      /* nothing is handed out in the window */
	/* partition faults applied by libmyco in the partition */
	MYCO__CHAOS_SLOW      = 8,      /* every libmyco channel call waits arg_ns
					 * first (the program's own syscalls are
					 * not slowed) */
	MYCO__CHAOS_FDLEAK    = 9,      /* arg_ns fds a second opened and never
					 * closed (eventfds), checked per call */
	MYCO__CHAOS_KINDS     = 10,
	/* executive-side partition faults (never in the table; exec/chaos.h):
	 * kill, hang, cpu hog, memory leak, skew (skew_ns), starve */
};

struct myco__chaos_slot {
	uint32_t seq;                   /* seqlock, even = stable */
	uint32_t kind;                  /* enum myco__chaos_kind */
	uint64_t chan;                  /* channel faults: name hash, 0 = any */
	uint64_t t_start_ns;            /* active in [t_start, t_end) */
	uint64_t t_end_ns;
	uint64_t seed;
	uint32_t prob;                  /* per message (per call for SLOW) */
	uint32_t pad;
	uint64_t arg_ns;                /* see the kinds */
	uint64_t arg2_ns;
};

struct myco__part_chaos {
	/* executive-written */
	uint32_t armed;                 /* slots in use (0 = no fault) */
	uint32_t gen;                   /* bumped at each change of the table */
	int64_t  skew_ns;               /* added to myco_now() in the partition */
	uint8_t  pad0[64 - 16];
	/* partition-written, own cache lines */
	uint64_t applied[16];           /* [kind]: messages or calls hit (FDLEAK:
					 * fds opened) */
	struct myco__chaos_slot slot[MYCO__CHAOS_SLOTS];
};
_Static_assert(sizeof(struct myco__chaos_slot) == 64, "chaos slot ABI");
_Static_assert(offsetof(struct myco__part_chaos, applied) == 64,
	       "partition counters on their own cache line");
_Static_assert(offsetof(struct myco__part_chaos, slot) == 192, "chaos slots");
_Static_assert(MYCO__PART_WINDOW_OFF + sizeof(struct myco__part_window) <=
	       MYCO__PART_CHAOS_OFF, "chaos table after the window");
_Static_assert(MYCO__PART_CHAOS_OFF + sizeof(struct myco__part_chaos) <=
	       MYCO__PART_CTL_SIZE, "chaos table fits the control region");

/* FNV-1a 64 of a channel name, never 0 (0 means "every channel"). */
static inline uint64_t myco__chaos_chan_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
	return h ? h : 1;
}

/* The per-message decision and random numbers of a fault: splitmix64. */
static inline uint64_t myco__chaos_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Partition side of the chaos table, defined by lib/chan/chaos.c: set by
 * myco_init() (t: the table in the control region; also points
 * myco__clock_skew at t->skew_ns), the channel name of an endpoint opened
 * by name (faults naming it apply), and the partition faults applied in
 * libmyco calls (SLOW, FDLEAK), called from myco_heartbeat(). */
void myco__chaos_set_table(struct myco__part_chaos *t);
void myco__chaos_tag(myco_chan_t *ch, const char *name);
void myco__chaos_part_faults(void);

/* Where lib/rt adds its counts: set by myco_init() in a partition started
 * by the executive, NULL otherwise (the runtime then counts only in its
 * own loop and task statistics).  Defined by lib/rt. */
extern struct myco__part_timing *myco__rt_timing;

#endif /* MYCO_PART_ABI_H */
