/*
 * myco/trace.h: tracing, logging and metrics in shared memory.
 *
 * A partition writes trace events and log records into rings and updates
 * counters, gauges and histograms in a metrics region.  Both are memfds that
 * the executive creates and owns (they outlive the partition, like channel
 * regions) and hands over as capabilities; the executive's collector drains
 * the rings and snapshots the metrics without ever blocking a writer.  The
 * write side is plain loads and stores: no lock, no syscall.  A disabled
 * tracepoint costs one load and one predictable branch.
 *
 * Three parts:
 *   1. Writing (partitions, libmyco itself): MYCO_TRACE(), myco_log*(),
 *      myco_metric_*(), the built-in tracepoint ids and categories.
 *   2. Owning (the executive, tests, benchmarks): creating regions,
 *      switching categories, attaching a process to its regions.
 *   3. Reading (the collector, `myco trace`, tests): draining rings into
 *      decoded events, snapshotting metrics, rendering Prometheus text.
 * Byte layout and concurrency contract: docs/trace-abi.md.  Event and metric
 * catalogue, Prometheus/Perfetto usage: docs/observability.md.
 *
 * Not for: where the output goes (the collector and the `myco` command
 * decide), naming partitions or channels (labels are added by the reader).
 * Conventions: functions return 0 (or a count) or a negative errno.  The
 * write side never fails loudly: an event that does not fit is counted as
 * dropped, a metric update without a region goes to process-private memory.
 */
#ifndef MYCO_TRACE_H
#define MYCO_TRACE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Categories and the enable word                                      */
/* ------------------------------------------------------------------ */

/* Category bits of the enable word (bits 0..15).  `myco trace on chan,rt`
 * sets them at run time; names in myco_trace_cat_name(). */
enum {
	MYCO_TRACE_CHAN  = 1u << 0,   /* "chan": channel send/receive/wait/... */
	MYCO_TRACE_RT    = 1u << 1,   /* "rt": loop iterations, coroutines, steal */
	MYCO_TRACE_SCHED = 1u << 2,   /* "sched": EDF release/start/end/miss */
	MYCO_TRACE_EXEC  = 1u << 3,   /* "exec": executive events */
	MYCO_TRACE_USER  = 1u << 4,   /* "user": MYCO_TRACE() from partitions */
	MYCO_TRACE_LOG   = 1u << 5,   /* "log": myco_log() records */
	MYCO_TRACE_ALL   = 0x3fu,
};
#define MYCO_TRACE_NCATS 6u

/* Log levels (bits 24..27 of the enable word hold the most verbose level
 * recorded; records above it are skipped before formatting). */
enum {
	MYCO_LOG_ERROR = 1,
	MYCO_LOG_WARN  = 2,
	MYCO_LOG_INFO  = 3,
	MYCO_LOG_DEBUG = 4,
};
#define MYCO_TRACE_LEVEL_SHIFT 24u
#define MYCO_TRACE_LEVEL_MASK  (0xfu << MYCO_TRACE_LEVEL_SHIFT)

/* The enable word of this process (used by the inline tests below; not
 * for direct use).  Points at a process-private zero word
 * until myco_trace_attach() binds the process to a trace region, then at
 * the region's enable word, which the executive may change at any time. */
extern const uint32_t *myco_trace_enable_word;   /* accessed with __atomic builtins */

/* 1 when any category in CATS is on.  One relaxed load of the pointer, one
 * of the word, one test: the whole cost of a disabled tracepoint. */
static inline int myco_trace_on(uint32_t cats)
{
	const uint32_t *w = __atomic_load_n(&myco_trace_enable_word, __ATOMIC_RELAXED);
	return __builtin_expect((__atomic_load_n(w, __ATOMIC_RELAXED) & cats) != 0, 0);
}

/* ------------------------------------------------------------------ */
/* Event ids                                                           */
/* ------------------------------------------------------------------ */

/* Built-in tracepoints.  Arguments a0..a2 are listed per id; `str` is the
 * optional short string (at most 16 bytes).  The catalogue with meanings is
 * in docs/observability.md.  Ids are stable across versions (ABI). */
enum myco_trace_id {
	MYCO_EV_NONE = 0,
	/* chan (1..31): a0 = channel id (the inode of the channel's header
	 * memfd: the same in every process), a1 = message number (its lane
	 * position + 1), a2 = lane << 32 | detail */
	MYCO_EV_CHAN_SEND     = 1,    /* detail: payload bytes (a batch: its last
	                                 message number, all its bytes) */
	MYCO_EV_CHAN_RECV     = 2,    /* detail: payload bytes (a batch: one event
	                                 per lane run, its last message, all bytes) */
	MYCO_EV_CHAN_DONE     = 3,    /* detail: 0 */
	MYCO_EV_CHAN_OVERFLOW = 4,    /* detail: policy (2 reject, 3 drop-oldest) */
	MYCO_EV_CHAN_WAIT     = 5,    /* going to sleep; a1 = role, a2 = lane */
	MYCO_EV_CHAN_WAKE     = 6,    /* a1 = 0 woke the receiver, 1 a sender; a2 = lane */
	/* rt (32..63): a0 = loop index */
	MYCO_EV_RT_LOOP       = 32,   /* a1 = tasks ready, a2 = I/O operations in flight */
	MYCO_EV_RT_SWITCH     = 33,   /* a1 = coroutine id, a2 = scheduling latency ns */
	MYCO_EV_RT_PARK       = 34,   /* a1 = coroutine id, a2 = wait kind */
	MYCO_EV_RT_WAKE       = 35,   /* a1 = coroutine id, a2 = wake reason */
	MYCO_EV_RT_STEAL      = 36,   /* a1 = victim loop, a2 = tasks stolen so far */
	/* sched (64..95): a0 = task (coroutine id), a1 = job number,
	 * a2 = the job's absolute deadline (CLOCK_MONOTONIC ns; 0 for START) */
	MYCO_EV_EDF_RELEASE   = 64,
	MYCO_EV_EDF_START     = 65,
	MYCO_EV_EDF_END       = 66,
	MYCO_EV_EDF_OVERRUN   = 67,
	MYCO_EV_EDF_MISS      = 68,
	/* exec (96..127): a0 = partition index, a1 = pid, a2 = detail;
	 * str = the partition's name */
	MYCO_EV_EXEC_SPAWN    = 96,   /* a2 = 1 for a parked standby */
	MYCO_EV_EXEC_READY    = 97,
	MYCO_EV_EXEC_EXIT     = 98,
	MYCO_EV_EXEC_RESTART  = 99,   /* a2 = crash to running ns, or -1 */
	MYCO_EV_EXEC_STANDBY  = 100,  /* standby activated; a2 = activation ns */
	MYCO_EV_EXEC_HB_LATE  = 101,  /* a2 = lateness ns */
	MYCO_EV_EXEC_HB_MISS  = 102,  /* killed as hung */
	MYCO_EV_EXEC_SECCOMP  = 103,
	MYCO_EV_EXEC_OOM      = 104,
	/* user (128..): MYCO_TRACE(); str = the event name */
	MYCO_EV_USER          = 128,
	/* log: str/text = the message, level in the event's level byte */
	MYCO_EV_LOG           = 129,
	MYCO_EV_CONT          = 130,  /* continuation of a log record (internal) */
	MYCO_EV_MAX           = 131,
};

/* Name of a built-in event id ("chan.send", ...) or NULL; static string. */
const char *myco_trace_ev_name(unsigned id);
/* Category bit of an event id (0 for unknown ids). */
uint32_t myco_trace_ev_cat(unsigned id);

/* ------------------------------------------------------------------ */
/* 1. Writing                                                          */
/* ------------------------------------------------------------------ */

/* Record one event with up to three integer arguments and an optional
 * string (first 16 bytes kept; NULL for none) into this thread's ring.
 * Callers test myco_trace_on() first (the macros below do).  Never blocks,
 * never enters the kernel after the thread's first event; an event that
 * does not fit a drop-newest ring is counted in the ring's `dropped`. */
void myco_trace_emit(unsigned id, uint64_t a0, uint64_t a1, uint64_t a2,
		      const char *str);

/* Built-in tracepoint (libmyco and the executive use it): one predictable branch when
 * CAT is off. */
#define MYCO_TP(cat, id, a0, a1, a2)                                        \
	do {                                                                 \
		if (myco_trace_on(cat))                                      \
			myco_trace_emit((id), (uint64_t)(a0), (uint64_t)(a1), \
					 (uint64_t)(a2), NULL);              \
	} while (0)

/* A user event from partition code: NAME is a string literal of at most 16
 * characters, followed by zero to three integer arguments:
 *     MYCO_TRACE("batch", n, bytes);
 * Recorded when the "user" category is on. */
#define MYCO_TRACE(name, ...)                                                \
	do {                                                                 \
		if (myco_trace_on(MYCO_TRACE_USER)) {                        \
			static const char myco_tn_[16] = name;              \
			const uint64_t myco_ta_[4] = { 0, __VA_ARGS__ };    \
			myco_trace_emit(MYCO_EV_USER, myco_ta_[1],         \
					 myco_ta_[2], myco_ta_[3], myco_tn_); \
		}                                                            \
	} while (0)

/* Levelled log into the same rings (not stderr).  The message is formatted
 * with vsnprintf and cut at MYCO_LOG_MAX bytes; a record spans one event
 * plus one continuation event per further 40 bytes.  Skipped (formatting
 * included) unless the "log" category is on and LEVEL <= the enabled
 * level. */
#define MYCO_LOG_MAX 255u
void myco_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void myco_vlog(int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static inline int myco_log_on(int level)
{
	const uint32_t *w = __atomic_load_n(&myco_trace_enable_word, __ATOMIC_RELAXED);
	uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
	return __builtin_expect((v & MYCO_TRACE_LOG) != 0 &&
				(uint32_t)level <= ((v & MYCO_TRACE_LEVEL_MASK) >>
						    MYCO_TRACE_LEVEL_SHIFT), 0);
}
#define MYCO_LOG(level, ...)                                                 \
	do {                                                                 \
		if (myco_log_on(level))                                      \
			myco_log((level), __VA_ARGS__);                      \
	} while (0)
#define MYCO_LOG_ERROR(...) MYCO_LOG(MYCO_LOG_ERROR, __VA_ARGS__)
#define MYCO_LOG_WARN(...)  MYCO_LOG(MYCO_LOG_WARN, __VA_ARGS__)
#define MYCO_LOG_INFO(...)  MYCO_LOG(MYCO_LOG_INFO, __VA_ARGS__)
#define MYCO_LOG_DEBUG(...) MYCO_LOG(MYCO_LOG_DEBUG, __VA_ARGS__)

/* Metrics.  A handle names one metric's value cells in the metrics region
 * (or in process-private memory when no region is attached: updates then
 * work but nobody exports them).  Handles stay valid for the life of the
 * process; there is no unregister.  Any thread may update any metric. */
typedef enum myco_metric_kind {
	MYCO_METRIC_COUNTER   = 1,  /* monotonic u64 */
	MYCO_METRIC_GAUGE     = 2,  /* signed i64 */
	MYCO_METRIC_HISTOGRAM = 3,  /* log2 buckets of u64 observations */
} myco_metric_kind_t;

typedef enum myco_metric_unit {
	MYCO_UNIT_NONE    = 0,
	MYCO_UNIT_SECONDS = 1,  /* values are nanoseconds; exported in seconds */
	MYCO_UNIT_BYTES   = 2,
} myco_metric_unit_t;

/* Histogram buckets: bucket 0 counts the value 0, bucket i (1..63) the
 * values in [2^(i-1), 2^i), bucket 64 everything from 2^63 up. */
#define MYCO_HIST_BUCKETS 65u

typedef struct myco_metric {
	uint64_t *m_cells;           /* counter/gauge: [0]; histogram: buckets, then sum;
	                                updated with __atomic builtins only */
	uint32_t m_kind;
} myco_metric_t;

#define MYCO_METRIC_NAME_MAX   63u   /* bytes, [a-zA-Z_:][a-zA-Z0-9_:]* */
#define MYCO_METRIC_LABELS_MAX 127u  /* bytes: k="v",k2="v2" (no \ " or newline in values) */

/* Register a metric.  NAME follows Prometheus conventions and is exported
 * as given (counters should end in _total, units in the name: _seconds,
 * _bytes); LABELS is NULL or `key="value",...`; the reader adds
 * partition="...".  Registering the same NAME and LABELS twice returns the
 * same cells.  Returns 0, -EINVAL for a bad name or labels, -ENOSPC when
 * the region is full (OUT then points at private cells, so updates stay
 * harmless). */
int myco_metric_register(myco_metric_kind_t kind, myco_metric_unit_t unit,
			 const char *name, const char *labels,
			 myco_metric_t *out);

static inline void myco_counter_add(const myco_metric_t *m, uint64_t n)
{
	__atomic_fetch_add(&m->m_cells[0], n, __ATOMIC_RELAXED);
}
static inline void myco_gauge_set(const myco_metric_t *m, int64_t v)
{
	__atomic_store_n(&m->m_cells[0], (uint64_t)v, __ATOMIC_RELAXED);
}
static inline void myco_gauge_add(const myco_metric_t *m, int64_t v)
{
	__atomic_fetch_add(&m->m_cells[0], (uint64_t)v, __ATOMIC_RELAXED);
}
/* Bucket index of V (see MYCO_HIST_BUCKETS). */
static inline unsigned myco_hist_bucket(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}
static inline void myco_hist_observe(const myco_metric_t *m, uint64_t v)
{
	__atomic_fetch_add(&m->m_cells[myco_hist_bucket(v)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->m_cells[MYCO_HIST_BUCKETS], v, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* 2. Owning                                                           */
/* ------------------------------------------------------------------ */

typedef enum myco_trace_policy {
	MYCO_TRACE_OVERWRITE = 1,  /* full: overwrite the oldest event (flight recorder) */
	MYCO_TRACE_DROP_NEW  = 2,  /* full: drop the new event, count it */
} myco_trace_policy_t;

typedef enum myco_trace_clock {
	MYCO_CLOCK_MONO = 1,       /* CLOCK_MONOTONIC ns */
	MYCO_CLOCK_TSC  = 2,       /* rdtsc; the header carries the calibration */
} myco_trace_clock_t;

typedef struct myco_trace_config {
	uint32_t nrings;           /* 1..256; the last ring is shared by threads
	                              beyond the first nrings-1 (multi-writer) */
	uint32_t depth;            /* events per ring, power of two 16..2^20 */
	myco_trace_policy_t policy;
	myco_trace_clock_t clock;  /* 0 = TSC when invariant, else MONO */
	uint32_t enable;           /* initial enable word */
	const char *name;          /* memfd name (debugging), may be NULL */
} myco_trace_config_t;

/* Create a trace region: a sealed memfd, close-on-exec; returns the fd in
 * *fd (the caller owns it).  0, -EINVAL (bad config), or -errno. */
int myco_trace_create(const myco_trace_config_t *cfg, int *fd);

/* Metrics region of NMETRICS descriptors and NCELLS 8-byte value cells
 * (0 = defaults 256 / 8192). */
int myco_metrics_create(uint32_t nmetrics, uint32_t ncells, const char *name,
			int *fd);

/* Bind this process's writers to the trace region FD (mapped shared; the fd
 * is not kept).  Threads claim rings on their first event.  Replaces an
 * earlier binding (old rings stay mapped).  0, -EPROTO (fails validation),
 * -MYCO_EVERSION, -errno. */
int myco_trace_attach(int fd);
/* Bind myco_metric_register() to the metrics region FD.  Metrics registered
 * before stay where they are. */
int myco_metrics_attach(int fd);

/* Release every ring claim of trace region FD (the owner calls it after the
 * partition process using the region exited, so that its replacement's
 * threads get rings of their own again).  0 or -errno. */
int myco_trace_release_claims(int fd);

/* Set / read the enable word of a region (owner side; a mapped region in
 * any process).  Returns 0 or -errno. */
int myco_trace_set_enable(int fd, uint32_t enable);
int myco_trace_get_enable(int fd, uint32_t *enable);

/* Parse "chan,rt,log:debug" / "all" / "none" into enable bits (added to
 * *bits; "log:LEVEL" also sets the level).  0 or -EINVAL with the offending
 * word copied to ERR (may be NULL). */
int myco_trace_parse_cats(const char *s, uint32_t *bits, char *err, size_t errlen);
/* Category name of bit index i ("chan"...), NULL past the end. */
const char *myco_trace_cat_name(unsigned i);

/* ------------------------------------------------------------------ */
/* 3. Reading                                                          */
/* ------------------------------------------------------------------ */

typedef struct myco_trace_event {
	uint64_t ts_ns;            /* CLOCK_MONOTONIC ns (TSC converted) */
	uint64_t pos;              /* position in its ring */
	uint64_t a[3];
	uint32_t ring;             /* ring index = track */
	uint32_t tid;              /* writer's thread id (as the writer claimed) */
	uint16_t id;
	uint8_t  level;            /* log records */
	uint8_t  len;              /* bytes in str */
	char     str[MYCO_LOG_MAX + 1];   /* NUL-terminated */
} myco_trace_event_t;

typedef struct myco_trace_stats {
	uint64_t events;           /* decoded and returned */
	uint64_t lost;             /* overwritten before the reader got them */
	uint64_t dropped;          /* writers' drop-newest counts (sum of rings) */
	uint64_t corrupt;          /* slots or indices that failed validation */
} myco_trace_stats_t;

typedef struct myco_trace_reader myco_trace_reader_t;

/* Open a reader on trace region FD (dup'ed and mapped; the caller keeps
 * FD).  Validates the header; afterwards every index and slot is checked
 * on each read, so a writer scribbling over the region yields `corrupt`
 * counts and skipped events, never a crash or a hang.  Free with
 * myco_trace_reader_close(). */
int myco_trace_reader_open(int fd, myco_trace_reader_t **out);
/* Same on a memory image (tests, fuzzing): MEM stays owned by the caller
 * and must outlive the reader. */
int myco_trace_reader_open_mem(void *mem, size_t size, myco_trace_reader_t **out);
void myco_trace_reader_close(myco_trace_reader_t *r);

/* Move up to CAP new events of all rings into OUT (ring by ring, each in
 * order).  Never waits; the only stores into the region are each ring's
 * r_tail and r_lost (reader-owned).  Returns the count. */
size_t myco_trace_read(myco_trace_reader_t *r, myco_trace_event_t *out, size_t cap);
void myco_trace_reader_stats(const myco_trace_reader_t *r, myco_trace_stats_t *st);
uint32_t myco_trace_reader_nrings(const myco_trace_reader_t *r);
/* myco_trace_release_claims() through the reader's mapping (no syscall):
 * the owner's cheap way when it reads the region anyway. */
void myco_trace_reader_release_claims(myco_trace_reader_t *r);
/* Convert a raw timestamp of this region's clock to CLOCK_MONOTONIC ns. */
uint64_t myco_trace_reader_ns(const myco_trace_reader_t *r, uint64_t raw);

/* One metric as read from a region (copied; strings NUL-terminated and
 * validated). */
typedef struct myco_metric_sample {
	char name[MYCO_METRIC_NAME_MAX + 1];
	char labels[MYCO_METRIC_LABELS_MAX + 1];
	uint32_t kind;             /* myco_metric_kind_t */
	uint32_t unit;             /* myco_metric_unit_t */
	uint64_t value;            /* counter; gauge as int64 bits */
	uint64_t buckets[MYCO_HIST_BUCKETS];
	uint64_t sum;
	uint64_t count;            /* histogram: sum of buckets */
} myco_metric_sample_t;

/* Call FN for each valid published metric in the metrics region at
 * MEM/SIZE (a mapping of a metrics memfd).  Invalid descriptors are
 * skipped and counted in *bad (may be NULL).  Returns the number of metrics
 * passed to FN, -EPROTO for a bad header, or FN's first negative return. */
int myco_metrics_snapshot(const void *mem, size_t size,
			  int (*fn)(const myco_metric_sample_t *s, void *arg),
			  void *arg, uint64_t *bad);

/* Prometheus text exposition of one sample, with EXTRA_LABELS (e.g.
 * `partition="producer"`, may be NULL) put first, into BUF (appended at
 * *len, cap CAP).  Emits # HELP/# TYPE when WITH_HEADER.  Returns 0 or
 * -ENOSPC (nothing appended). */
int myco_metrics_prom(const myco_metric_sample_t *s, const char *extra_labels,
		      int with_header, char *buf, size_t *len, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_TRACE_H */
