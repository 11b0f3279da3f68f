/*
 * store_int.h: what the store's modules share: big-endian helpers, the
 * RecordBatch v2 header, segment, partition, producer-state and store
 * structures, and the internal functions between batch.c, producer.c,
 * segment.c, partition.c, groups.c and store.c.  Not part of the API (see
 * store.h); nothing here is stable.
 */
#ifndef MYCO_SVC_LOG_STORE_INT_H
#define MYCO_SVC_LOG_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "myco_int.h"
#include "store.h"

/* ---- byte order -------------------------------------------------------- */
static inline uint16_t mls__be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t mls__be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t mls__be64(const uint8_t *p)
{
	return ((uint64_t)mls__be32(p) << 32) | mls__be32(p + 4);
}
static inline void mls__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v;
}
static inline void mls__put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void mls__put64(uint8_t *p, uint64_t v)
{
	mls__put32(p, (uint32_t)(v >> 32)); mls__put32(p + 4, (uint32_t)v);
}

/* pwrite(2) all n bytes at off, retrying on EINTR and short counts.
 * Returns 0, -EIO if the file takes nothing, or -errno. */
int myco__pwrite_full(int fd, const void *buf, size_t n, off_t off);

/* Table-driven CRC-32C, always the portable path (tests compare it with the
 * SSE4.2 path used by mls_crc32c()). */
uint32_t myco__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* ---- RecordBatch v2 ---------------------------------------------------- */
#define MLS_BATCH_HDR 61        /* bytes up to and including recordCount */
#define MLS_LOG_OVERHEAD 12     /* baseOffset + batchLength */
#define MLS_BATCH_CRC_START 21  /* CRC-32C covers attributes .. end */
#define MLS_OFF_LENGTH 8
#define MLS_OFF_EPOCH 12
#define MLS_OFF_MAGIC 16
#define MLS_OFF_CRC 17
#define MLS_OFF_ATTR 21
#define MLS_OFF_LAST_DELTA 23
#define MLS_OFF_BASE_TS 27
#define MLS_OFF_MAX_TS 35
#define MLS_OFF_PID 43
#define MLS_OFF_PEPOCH 51
#define MLS_OFF_BASE_SEQ 53
#define MLS_OFF_COUNT 57

/* Offsets read from segment files beyond this are corruption (keeps all
 * offset arithmetic far from overflow). */
#define MLS_MAX_STORED_OFFSET (INT64_MAX / 4)

#define MLS_ATTR_COMPRESSION 0x07
#define MLS_ATTR_LOG_APPEND_TIME 0x08
#define MLS_ATTR_TRANSACTIONAL 0x10
#define MLS_ATTR_CONTROL 0x20

/* Decode the 61-byte header at p (avail bytes readable) without checking the
 * CRC.  Checks magic and that batchLength covers the header.  Returns 0,
 * -MYCO_ELOG_CORRUPT, or -EAGAIN when avail < 61. */
int myco__batch_header(const uint8_t *p, size_t avail, mls_batch_header *b);

/* Full validation of one whole batch of exactly len bytes: header, CRC,
 * count vs lastOffsetDelta, record framing when uncompressed. */
int myco__batch_check(const uint8_t *p, size_t len, mls_batch_header *b);

/* myco__batch_check() plus what an append refuses: control batches (only
 * the broker writes them, mls_append_marker).  mls_append's one decoding of the
 * header. */
int myco__batch_accept(const uint8_t *p, size_t len, mls_batch_header *b);

/* First record in a batch whose timestamp >= ts: its offset delta, or -1
 * (none); compressed batches are decompressed to find it (0 when their
 * codec is not built in). */
int32_t myco__batch_find_ts(const uint8_t *p, size_t len, int64_t ts,
                            int64_t *found_ts);

/* ---- compressed records (decompress.c) -------------------------------- */
#define MLS_CODEC_NONE 0
#define MLS_CODEC_GZIP 1
#define MLS_CODEC_SNAPPY 2
#define MLS_CODEC_LZ4 3
#define MLS_CODEC_ZSTD 4
/* Decompressed records section larger than this: refused as corrupt (a
 * decompression bomb). */
#define MLS_MAX_RECORDS_BYTES (64u << 20)
/* Largest zstd window a frame may ask for (2^24 = 16 MiB). */
#define MLS_ZSTD_WINDOW_LOG_MAX 24

/* True when this build opens batches of that codec (none included). */
bool myco__codec_supported(int codec);

/* Receives decompressed bytes; nonzero stops and is returned. */
typedef int (*mls__out_fn)(void *arg, const uint8_t *p, size_t n);

/* Decompress the n bytes at in with codec, streaming, handing out every
 * piece of output.  0 when the whole input was one or more complete
 * streams; -MYCO_ELOG_CORRUPT (bad or truncated stream, trailing bytes,
 * more than MLS_MAX_RECORDS_BYTES out); -ENOMEM; -EOPNOTSUPP when the codec
 * is not built in (snappy always); or out's nonzero value. */
int myco__decompress(int codec, const uint8_t *in, size_t n, mls__out_fn out,
                     void *arg);

/* Tests: run the streaming record parser used for compressed batches over
 * the records of an uncompressed batch, fed in pieces of `piece` bytes.
 * Same result as myco__batch_check's record check: 0 or
 * -MYCO_ELOG_INVALID_RECORD. */
int myco__batch_records_pieces(const uint8_t *p, size_t len, size_t piece);

/* ---- producer state (producer.c) -------------------------------------- */
#define MLS_PRODUCER_BATCHES 5   /* Kafka's NUM_BATCHES_TO_RETAIN */

typedef struct mls__pbatch {
	int32_t first_seq, last_seq;
	int64_t first_off, last_off;
	int64_t ts;
} mls__pbatch;

typedef struct mls__pentry {
	int64_t pid;
	int16_t epoch;
	int n;                   /* batches in b[], oldest first */
	mls__pbatch b[MLS_PRODUCER_BATCHES];
	struct mls__pentry *next;
} mls__pentry;

typedef struct mls__pstate {
	mls__pentry **buckets;
	size_t nbuckets, count;
} mls__pstate;

void myco__pstate_init(mls__pstate *ps);
void myco__pstate_clear(mls__pstate *ps);
/* Kafka's checks for a batch about to be appended.  0 = new batch, 1 =
 * duplicate (*dup = the original's offsets), or -MYCO_ELOG_FENCED /
 * -MYCO_ELOG_OUT_OF_ORDER. */
int myco__pstate_check(mls__pstate *ps, const mls_batch_header *b, mls__pbatch *dup);
/* Record an appended batch (also used by recovery). -ENOMEM. */
int myco__pstate_update(mls__pstate *ps, const mls_batch_header *b, int64_t base,
                        int64_t ts);
int32_t myco__seq_add(int32_t seq, int32_t delta);
/* Forget producers whose last batch is before log_start (Kafka's
 * truncateHead after retention). */
void myco__pstate_truncate_head(mls__pstate *ps, int64_t log_start);
/* Snapshot file: serialise to / load from a file (whole-file CRC). */
int myco__pstate_save(const mls__pstate *ps, const char *path, int64_t offset);
int myco__pstate_load(mls__pstate *ps, const char *path, int64_t *offset);

/* ---- segments ---------------------------------------------------------- */
typedef struct mls__ientry { uint32_t rel; uint32_t pos; } mls__ientry;
typedef struct mls__tentry { int64_t ts; uint32_t rel; } mls__tentry;

typedef struct mls__segment {
	int64_t base;            /* base offset, the file name */
	atomic_int fd;           /* the .log file, -1 while the fd cache has
	                          * it closed: use myco__seg_fd_get/put (index
	                          * files: opened when written or read, never
	                          * kept open) */
	atomic_int pins;         /* users of fd right now (fd cache) */
	atomic_int used;         /* used since the cache's hand passed */
	struct mls__segment *fprev, *fnext; /* the cache's ring (its mutex) */
	int64_t size;            /* bytes of whole valid batches written */
	int64_t visible;         /* bytes readable (<= size) */
	int64_t next_offset;     /* offset after its last batch */
	int64_t max_ts;          /* largest batch maxTimestamp, -1 none */
	int64_t max_ts_offset;   /* last offset of that batch */
	int64_t roll_ts;         /* first batch's maxTimestamp (time roll) */
	int64_t created_ms;      /* clock when created or opened */
	int64_t last_idx_pos;    /* position of the last offset-index entry */
	int64_t bytes_since_idx;
	mls__ientry *idx; size_t idx_n, idx_cap;
	mls__tentry *tidx; size_t tidx_n, tidx_cap;
	atomic_int refs;         /* the partition's list holds one */
	bool deleted;            /* files unlinked; close on last unref */
	char *dir;               /* partition directory (not owned) */
} mls__segment;

void myco__seg_unref(mls__segment *s);

/* The fd cache (segment.c): a process-wide bound on open segment files,
 * derived from RLIMIT_NOFILE (its soft limit less a reserve for sockets
 * and other files).  A segment's fd is opened on first use and may be
 * closed again by the cache while nobody uses it (clock order: a recently
 * used one gets a second chance).  Every use of s->fd is bracketed:
 *   fd = myco__seg_fd_get(s); ...use fd...; myco__seg_fd_put(s);
 * get returns the fd or a negative errno (-EMFILE: out of descriptors
 * even after closing every idle one; logged).  A read set keeps its
 * segments' fds pinned until mls_read_release().  Any thread. */
int myco__seg_fd_get(const mls__segment *s);
void myco__seg_fd_put(const mls__segment *s);
/* Limit and open count (tests, docs); set_limit 0 = from RLIMIT_NOFILE. */
size_t myco__seg_fd_limit(void);
size_t myco__seg_fd_open(void);
void myco__seg_fd_set_limit(size_t n);
/* Path of a segment file: DIR/<20-digit base>.<ext> into buf[4096]. */
void myco__seg_path(char *buf, const char *dir, int64_t base, const char *ext);
/* Create a fresh empty segment (truncating leftovers), or open an existing
 * one without reading it.  *out has refs 1. */
int myco__seg_create(const char *dir, int64_t base, int64_t now,
                     mls__segment **out);
int myco__seg_open(const char *dir, int64_t base, int64_t now,
                   mls__segment **out);
/* Per-batch visitor for myco__seg_scan: b = decoded header, pos = file
 * position, data = the whole batch (len bytes) or NULL in header mode. */
typedef int (*mls__scan_fn)(void *arg, const mls_batch_header *b, int64_t pos,
                            const uint8_t *data, size_t len);
/* Walk the log from 0 to `limit` bytes (-1 = file size), validating every
 * batch (CRC too when `full`), rebuilding the in-memory indexes with
 * `interval`, stopping at the first invalid or torn batch.  Sets size,
 * visible, next_offset, max_ts, roll_ts.  Returns 0 (scan ended at a valid
 * boundary == file end), 1 (stopped early: tail invalid), or < 0 (I/O). */
int myco__seg_scan(mls__segment *s, bool full, int32_t interval,
                   int64_t limit, mls__scan_fn fn, void *arg);
/* Header-only walk from byte 0 to s->visible calling fn (producer state). */
int myco__seg_walk(mls__segment *s, mls__scan_fn fn, void *arg);
/* Load .index/.timeindex files and check them against the log; 0 when
 * usable (sets size/visible from the file), -MYCO_ELOG_CORRUPT if not. */
int myco__seg_load_index(mls__segment *s, int64_t next_base,
                         int32_t interval);
/* Rewrite both index files from memory. */
int myco__seg_write_index(mls__segment *s);
/* Record one appended batch in the in-memory indexes (written to the
 * index files by myco__seg_write_index at roll and close). */
void myco__seg_index_add(mls__segment *s, const mls_batch_header *b, int64_t base,
                         int64_t pos, size_t len, int32_t interval);
/* Position to start scanning for `offset`: from the offset index. */
int64_t myco__seg_lookup(const mls__segment *s, int64_t offset);
/* Read the header fields of the batch at pos (bounded by end). */
int myco__seg_read_hdr(const mls__segment *s, int64_t pos, int64_t end,
                       mls_batch_header *b);
void myco__seg_unlink(mls__segment *s);

/* ---- partitions -------------------------------------------------------- */
typedef struct mls__waiter {
	int64_t target;          /* durable when hw >= target */
	mls_append_cb cb;
	void *arg;
	struct mls__waiter *next;
} mls__waiter;

/* ---- transactions (txnstate.c) ---------------------------------------- */
typedef struct mls__txn { int64_t pid, first; } mls__txn;       /* ongoing */
typedef struct mls__abort { int64_t pid, first, last; } mls__abort;

#define MLS_MARKER_ABORT 1
#define MLS_MARKER_COMMIT 2
#define MLS_MARKER_BYTES 78      /* a control batch of one marker record */

struct mls_partition {
	struct mls_store *st;
	char *topic;             /* owned */
	int32_t index;
	char *dir;               /* owned: DATA/<topic>-<index> */
	mls_topic_config cfg;
	pthread_mutex_t mu;      /* everything below */
	mls__segment **segs; size_t nsegs, segs_cap;
	int64_t log_start, leo, hw;
	mls__pstate ps;
	mls__txn *txns; size_t ntxns, txns_cap;       /* ongoing transactions */
	mls__abort *aborts; size_t naborts, aborts_cap; /* aborted, by marker */
	bool has_txn;            /* DIR/txn exists: transactional data was written */
	int64_t cleaned_to;      /* compaction: closed segments below it are clean */
	int64_t clean_again;     /* compaction: a kept tombstone expires (clock ms) */
	mls__waiter *waiters, **waiters_tail;
	bool dirty;              /* written since the last sync */
	bool queued;             /* on st->dirty list (st->sync_mu) */
	bool deleted;
	atomic_int refs;         /* topic table holds one */
	struct mls_partition *dirty_next; /* st->sync_mu */
};

/* partition.c */
/* Tests only: when set, called before every segment fdatasync; a negative
 * return is used as the fdatasync result (fault injection). */
extern int (*myco__logstore_fsync_fault)(int fd);
int myco__part_open(struct mls_store *st, const char *topic, int32_t index,
                    const mls_topic_config *cfg, bool create,
                    mls_partition_t **out);
/* Sync the active segment, advance hw, complete waiters. */
int myco__part_sync(mls_partition_t *p);
int myco__part_retention(mls_partition_t *p, int64_t now);
void myco__part_close(mls_partition_t *p);   /* final sync + close files */
void myco__part_remove_files(mls_partition_t *p);

/* txnstate.c (all with p->mu held) */
/* Create DIR/txn once: the partition holds transactional batches, so
 * opening it rebuilds the transaction lists from every segment. */
int myco__txn_flag(mls_partition_t *p);
/* Track an appended batch: a transactional one opens its producer's
 * transaction; a marker (MLS_MARKER_*, 0 for data) closes it, an abort
 * recording it as aborted.  -ENOMEM. */
int myco__txn_apply(mls_partition_t *p, const mls_batch_header *b, int64_t base, int marker);
/* The last stable offset: the first offset of the oldest ongoing
 * transaction, at most the high watermark. */
int64_t myco__txn_lso(const mls_partition_t *p);
/* The marker type of a control record (the record bytes after the batch
 * header): MLS_MARKER_*, or -1 when it is not a marker. */
int myco__txn_marker_type(const uint8_t *rec, size_t n);
/* Build a control batch of one marker record (base offset 0, CRC set). */
size_t myco__txn_marker_build(uint8_t buf[MLS_MARKER_BYTES], int64_t pid, int16_t epoch,
                              int marker, int32_t coordinator_epoch, int64_t now);
/* Rebuild both lists by a walk of every segment (when DIR/txn exists). */
int myco__txn_rebuild(mls_partition_t *p);
/* Forget aborted transactions whose marker is below the log start. */
void myco__txn_truncate_head(mls_partition_t *p);
void myco__txn_free(mls_partition_t *p);

/* compact.c */
/* Compact p's closed segments (cleanup.policy compact); now: the store's
 * clock.  Returns segments rewritten or < 0.  Never holds p->mu while
 * reading or writing files. */
int myco__part_compact(mls_partition_t *p, int64_t now);
/* Remove what an interrupted compaction left in dir (on open). */
void myco__compact_leftovers(const char *dir);

/* ---- store ------------------------------------------------------------- */
typedef struct mls__topic {
	char name[MLS_TOPIC_NAME_MAX + 1];
	int32_t nparts;
	mls_topic_config cfg;
	mls_partition_t **parts;
} mls__topic;

typedef struct mls__gentry mls__gentry;

struct mls_store {
	char *dir;
	int dir_fd, lock_fd;
	mls_config cfg;
	pthread_mutex_t mu;      /* topics, pid allocation */
	mls__topic **topics; size_t ntopics, topics_cap;
	int64_t pid_next, pid_limit;
	/* sync thread */
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;  /* wakes the sync thread */
	pthread_cond_t done_cv;  /* wakes synchronous appenders */
	mls_partition_t *dirty;  /* partitions with waiters */
	bool stop, thread_started;
	pthread_t thread;
	/* the log cleaner (compact.c): its thread and mls_compact_run take
	 * clean_mu, one compaction at a time */
	pthread_mutex_t clean_mu;
	pthread_cond_t clean_cv;
	bool clean_started;
	pthread_t clean_thread;
	/* group offsets (groups.c), under gmu */
	pthread_mutex_t gmu;
	int gfd;
	int64_t gsize;           /* bytes of valid records in the file */
	mls__gentry **gbuckets; size_t gnbuckets, gcount;
	bool gdirty;
};

int64_t myco__now(struct mls_store *st);
int myco__fsync_dir(const char *dir);
/* Queue p for the sync thread. */
void myco__sync_enqueue(struct mls_store *st, mls_partition_t *p);

int myco__groups_open(struct mls_store *st);
void myco__groups_close(struct mls_store *st);
int myco__groups_sync(struct mls_store *st);

#endif
