/*
 * store.h: the myco-log storage engine (library myco_logstore).
 *
 * Topics of partitions, each partition a directory of segment files holding
 * Kafka RecordBatch v2 bytes exactly as producers sent them (plus the
 * assigned base offset), with sparse offset and time indexes; crash recovery;
 * idempotent-producer sequence checks; producer id allocation; consumer group
 * offsets.  docs/log-storage.md describes the on-disk formats and the
 * durability semantics.
 *
 * Not for: the Kafka wire protocol, compression, consumer-group membership
 * (the broker in svc/log does those).  The store never decompresses records.
 *
 * Conventions
 * - Every function returns 0 (or a count) on success and a negative errno or
 *   a negated MYCO_ELOG_* code (below) on failure.  Codes the
 *   broker maps to Kafka errors:
 *     -MYCO_ELOG_CORRUPT        CORRUPT_MESSAGE (bad CRC, length, magic)
 *     -MYCO_ELOG_INVALID_RECORD INVALID_RECORD (bad record count / layout)
 *     -MYCO_ELOG_TOO_LARGE      MESSAGE_TOO_LARGE
 *     -MYCO_ELOG_OUT_OF_ORDER   OUT_OF_ORDER_SEQUENCE_NUMBER
 *     -MYCO_ELOG_FENCED         INVALID_PRODUCER_EPOCH
 *     -MYCO_ELOG_OFFSET_RANGE   OFFSET_OUT_OF_RANGE
 *     -MYCO_ELOG_NO_TOPIC       UNKNOWN_TOPIC_OR_PARTITION
 *     -MYCO_ELOG_TOPIC_EXISTS   TOPIC_ALREADY_EXISTS
 *     -MYCO_ELOG_BAD_TOPIC      INVALID_TOPIC_EXCEPTION
 *     -EINVAL                   INVALID_REQUEST / INVALID_PARTITIONS / INVALID_CONFIG
 *     -ENOSPC, -EIO, -EDQUOT, -EFBIG  KAFKA_STORAGE_ERROR
 *     -EBUSY (mls_open)         data directory locked by another process
 * - Threading: every function may be called from any thread, concurrently.
 *   One mutex per partition serialises appends to that partition; reads take
 *   it only briefly.  fsync runs on the store's own sync thread (group
 *   commit: one fdatasync covers every append waiting on that partition).
 *   Callbacks (mls_append_cb, mls_config.on_hw) run on the sync thread or on
 *   the appending thread, never with a store lock held; they must not call
 *   mls_close() and should return quickly.
 * - Ownership: handles (mls_store_t, mls_partition_t) are opaque; a
 *   partition handle is reference counted (mls_partition_get/put).  Memory a
 *   function hands out says who frees it next to the function.
 */
#ifndef MYCO_SVC_LOG_STORE_H
#define MYCO_SVC_LOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Store error codes, returned negated (myco_strerror() knows the range
 * by number only).  Reserved 10520-10539 in myco/common.h. */
enum {
	MYCO_ELOG_CORRUPT = MYCO_ERR_BASE + 520,      /* batch CRC/length/magic bad */
	MYCO_ELOG_INVALID_RECORD = MYCO_ERR_BASE + 521, /* record framing/count bad */
	MYCO_ELOG_TOO_LARGE = MYCO_ERR_BASE + 522,    /* batch over max.message.bytes */
	MYCO_ELOG_OUT_OF_ORDER = MYCO_ERR_BASE + 523, /* producer sequence gap */
	MYCO_ELOG_FENCED = MYCO_ERR_BASE + 524,       /* stale producer epoch */
	MYCO_ELOG_OFFSET_RANGE = MYCO_ERR_BASE + 525, /* offset outside the log */
	MYCO_ELOG_NO_TOPIC = MYCO_ERR_BASE + 526,     /* unknown topic/partition */
	MYCO_ELOG_TOPIC_EXISTS = MYCO_ERR_BASE + 527, /* topic already exists */
	MYCO_ELOG_BAD_TOPIC = MYCO_ERR_BASE + 528,    /* invalid topic name */
};

/* ---- configuration ----------------------------------------------------- */

enum mls_fsync_policy {
	MLS_FSYNC_ALWAYS = 0,   /* append acknowledged only after fdatasync */
	MLS_FSYNC_INTERVAL = 1, /* sync thread fdatasyncs every interval_ms */
	MLS_FSYNC_NEVER = 2,    /* leave it to the kernel (and mls_close) */
};

enum mls_timestamp_type {
	MLS_TS_CREATE_TIME = 0,     /* keep the producer's timestamps */
	MLS_TS_LOG_APPEND_TIME = 1, /* broker time overrides (Kafka semantics) */
};

#define MLS_TOPIC_NAME_MAX 249
#define MLS_PARTITIONS_MAX 10000

/* Per-topic settings, Kafka's names in brackets.  -1 means unlimited where
 * noted.  mls_topic_config_init() fills Kafka's defaults. */
typedef struct mls_topic_config {
	int64_t segment_bytes;        /* roll at this size [segment.bytes] 1 GiB */
	int64_t segment_ms;           /* roll when the segment's first batch is
	                               * older [segment.ms] 7 days; -1 never */
	int64_t retention_bytes;      /* per partition [retention.bytes] -1 */
	int64_t retention_ms;         /* [retention.ms] 7 days; -1 unlimited */
	int32_t index_interval_bytes; /* [index.interval.bytes] 4096 */
	int32_t max_message_bytes;    /* largest batch [max.message.bytes] 1048588 */
	int32_t timestamp_type;       /* enum mls_timestamp_type */
	int32_t cleanup_policy;       /* enum mls_cleanup_policy bits
	                               * [cleanup.policy] delete */
	int32_t compression_type;     /* [compression.type] kept for the
	                               * broker to report: 0 producer,
	                               * 1 uncompressed, 2 gzip, 3 snappy, 4 lz4,
	                               * 5 zstd; batches are always stored as
	                               * the producer compressed them */
	int32_t reserved_;            /* zero */
	int64_t delete_retention_ms;  /* compaction keeps a tombstone while
	                               * its segment's newest record is younger
	                               * [delete.retention.ms] 1 day */
} mls_topic_config;

/* cleanup.policy: "delete" (retention removes old segments), "compact"
 * (the cleaner keeps the latest record of each key, mls_compact_run), or
 * both ("compact,delete"). */
enum mls_cleanup_policy {
	MLS_CLEANUP_DELETE = 1,
	MLS_CLEANUP_COMPACT = 2,
};

typedef struct mls_config {
	int fsync_policy;             /* enum mls_fsync_policy; default ALWAYS */
	int fsync_interval_ms;        /* for MLS_FSYNC_INTERVAL; default 1000 */
	int64_t retention_check_ms;   /* sync thread runs retention this often;
	                               * default 300000; 0 = only when
	                               * mls_retention_run() is called */
	mls_topic_config topic_defaults; /* for topics created with cfg NULL */
	/* Called when a partition's high watermark advances (data became
	 * readable), e.g. to wake long-polling fetches.  May be NULL. */
	void (*on_hw)(void *arg, const char *topic, int32_t partition, int64_t hw);
	void *on_hw_arg;
	/* Clock in milliseconds since the epoch (tests); NULL = CLOCK_REALTIME. */
	int64_t (*now_ms)(void *arg);
	void *now_arg;
} mls_config;

/* Fill Kafka's defaults (see the field comments). */
void mls_config_init(mls_config *cfg);
void mls_topic_config_init(mls_topic_config *tc);

/* ---- store ------------------------------------------------------------- */

typedef struct mls_store mls_store_t;
typedef struct mls_partition mls_partition_t;

/* Open (creating if needed) the data directory `dir`, take its lock file
 * (DIR/.lock, flock; -EBUSY if another process holds it), load topics and
 * recover every partition: validate the tail of the log, truncate a torn or
 * corrupt tail, rebuild missing or damaged indexes, rebuild producer state,
 * compact the group offsets file.  cfg NULL = defaults; it is copied.
 * On success *out is the store; release it with mls_close(). */
int mls_open(const char *dir, const mls_config *cfg, mls_store_t **out);

/* Stop the sync thread, fsync everything, close all files, free the store.
 * Partition handles still held become invalid.  NULL is a no-op. */
void mls_close(mls_store_t *st);

/* fdatasync every partition now (whatever the policy); completes pending
 * async appends.  Returns 0 or the first error. */
int mls_sync(mls_store_t *st);

/* Apply retention (by size and by time) to every partition now; `now_ms` < 0
 * means the store's clock.  Deletes whole old segments, never the active
 * one.  Returns the number of segments deleted or a negative error. */
int mls_retention_run(mls_store_t *st, int64_t now_ms);

/* Compact every partition of the topics with cleanup.policy compact now
 * (the store's cleaner thread also does, every retention_check_ms): in
 * the closed segments only the latest record of each key stays, at its
 * offset; tombstones go once their segment's newest record is older than
 * delete.retention.ms.  Appends and reads are not held up (files are read
 * and written without the partition lock).  Returns the number of
 * segments rewritten or a negative error.  docs/log-storage.md
 * "Compaction" says what is kept as written. */
int mls_compact_run(mls_store_t *st);

/* ---- topics ------------------------------------------------------------ */

/* Kafka's rules: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
 * Returns 0 or -MYCO_ELOG_BAD_TOPIC. */
int mls_topic_name_check(const char *name);

/* Create topic `name` with `partitions` (1..MLS_PARTITIONS_MAX) partitions;
 * cfg NULL = the store's topic_defaults.  Metadata is on disk (fsynced,
 * atomically renamed) before this returns.  -MYCO_ELOG_TOPIC_EXISTS,
 * -MYCO_ELOG_BAD_TOPIC, -EINVAL (partitions or cfg out of range). */
int mls_topic_create(mls_store_t *st, const char *name, int32_t partitions,
                     const mls_topic_config *cfg);

/* Delete a topic: its metadata is removed durably, then its directories.
 * Handles still held keep working for reads of already-open segments but
 * appends return -MYCO_ELOG_NO_TOPIC. */
int mls_topic_delete(mls_store_t *st, const char *name);

typedef struct mls_topic_info {
	char name[MLS_TOPIC_NAME_MAX + 1];
	int32_t partitions;
	mls_topic_config config;
} mls_topic_info;

/* Change a topic's settings (AlterConfigs): validated like create, made
 * durable (metadata rewritten atomically), then applied to every
 * partition: appends and rolls after the call use the new values, the next
 * retention run the new limits.  -MYCO_ELOG_NO_TOPIC, -EINVAL. */
int mls_topic_alter(mls_store_t *st, const char *name, const mls_topic_config *cfg);

/* Grow a topic to `partitions` partitions (CreatePartitions; Kafka never
 * shrinks).  The new partitions are empty.  -MYCO_ELOG_NO_TOPIC, -EINVAL
 * when partitions is not more than today's or above MLS_PARTITIONS_MAX. */
int mls_topic_add_partitions(mls_store_t *st, const char *name, int32_t partitions);

/* Describe one topic into *out.  -MYCO_ELOG_NO_TOPIC if absent. */
int mls_topic_describe(mls_store_t *st, const char *name, mls_topic_info *out);

/* List all topics, sorted by name.  *out is one malloc'd array of *n entries
 * (NULL when 0); the caller frees it with free(). */
int mls_topic_list(mls_store_t *st, mls_topic_info **out, size_t *n);

/* ---- partitions -------------------------------------------------------- */

/* Look up a partition and take a reference: *out stays valid until
 * mls_partition_put().  -MYCO_ELOG_NO_TOPIC if the topic or partition does
 * not exist. */
int mls_partition_get(mls_store_t *st, const char *topic, int32_t partition,
                      mls_partition_t **out);
void mls_partition_put(mls_partition_t *p);

/* Topic name (valid while the reference is held) and partition index. */
const char *mls_partition_topic(const mls_partition_t *p);
int32_t mls_partition_index(const mls_partition_t *p);

typedef struct mls_offsets {
	int64_t log_start;   /* first offset still stored */
	int64_t high_watermark; /* first offset not yet readable: with fsync
	                         * ALWAYS the end of what is on disk, otherwise
	                         * the log end offset */
	int64_t log_end;     /* next offset to assign */
	int64_t size_bytes;  /* sum of segment sizes */
	int32_t segments;
	int64_t last_stable; /* first offset of the oldest ongoing
	                      * transaction, at most the high watermark:
	                      * what read_committed consumers may read */
} mls_offsets;

int mls_partition_offsets(mls_partition_t *p, mls_offsets *out);

/* ---- append ------------------------------------------------------------ */

/* The 61-byte header of a RecordBatch v2, decoded (big-endian on the wire;
 * offsets are those of Kafka's DefaultRecordBatch). */
typedef struct mls_batch_header {
	int64_t base_offset;
	int32_t length;          /* batchLength: bytes after the length field */
	uint32_t crc;
	int16_t attributes;      /* codec (bits 0-2), log-append time (3),
	                          * transactional (4), control (5) */
	int32_t last_delta;      /* lastOffsetDelta */
	int64_t base_ts;
	int64_t max_ts;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_seq;
	int32_t count;           /* records */
} mls_batch_header;

/* Size in bytes (12 + batchLength) of the RecordBatch v2 that starts at p,
 * of which avail bytes are readable: how a records section of a
 * ProduceRequest is cut into batches.  Returns the size (it may exceed
 * avail: the caller decides), or -MYCO_ELOG_CORRUPT when fewer than 12
 * bytes are readable or the length is below a header's. */
long mls_batch_size(const void *p, size_t avail);

/* Decode the header of the batch at p (avail bytes readable) without
 * checking its CRC or records: who produced it (a transactional Produce
 * is checked against its coordinator before the append).  0,
 * -MYCO_ELOG_CORRUPT, -EAGAIN (fewer than 61 bytes). */
int mls_batch_peek(const void *p, size_t avail, mls_batch_header *out);

typedef struct mls_append_result {
	int64_t base_offset;      /* offset assigned to the batch's first record */
	int64_t last_offset;      /* base_offset + lastOffsetDelta */
	int64_t log_append_time;  /* ms when LOG_APPEND_TIME, else -1 */
	int64_t log_start_offset; /* for the ProduceResponse */
	bool duplicate;           /* idempotent retry: nothing written, offsets
	                           * are those of the original batch */
	mls_batch_header batch;   /* the header as validated (before the store
	                           * rewrote baseOffset); valid when the batch
	                           * passed validation, also for duplicates */
} mls_append_result;

/* Append one RecordBatch v2 (`len` bytes, exactly one batch, as it arrived
 * in a ProduceRequest).  Validates: length, magic 2, CRC-32C (attributes to
 * the end), record count and each record's framing (gzip, lz4 and zstd
 * batches are decompressed for it, streaming, at most 64 MiB out: a bad
 * stream -> -MYCO_ELOG_CORRUPT; snappy is not opened), size <=
 * max_message_bytes, not a control batch.  Rewrites in
 * `batch` IN PLACE: baseOffset (8 bytes at 0) and, for LOG_APPEND_TIME
 * topics, attributes bit 3 + maxTimestamp + CRC.  Idempotent producers
 * (producerId >= 0) are checked as Kafka does: duplicate of one of the last
 * 5 batches -> 0 with res->duplicate; gap -> -MYCO_ELOG_OUT_OF_ORDER;
 * older epoch -> -MYCO_ELOG_FENCED.  A transactional batch (attributes
 * bit 4) opens its producer's transaction on this partition until a
 * marker (mls_append_marker) closes it.
 * Blocks until the batch is durable when the policy is ALWAYS (group commit
 * with concurrent appenders).  On any error nothing of this batch is stored
 * and the partition stays appendable (e.g. after -ENOSPC once space returns).
 */
int mls_append(mls_partition_t *p, void *batch, size_t len,
               mls_append_result *res);

/* Completion of an asynchronous append: rc 0 = durable, < 0 = the sync
 * failed and the batch was removed again (not acknowledged). */
typedef void (*mls_append_cb)(void *arg, int rc);

/* Like mls_append() but never waits for fsync.  Returns < 0: rejected (cb
 * never called); 0: done, durable as the policy requires (cb never called;
 * also for duplicates); 1: written, res filled, cb(arg, rc) will be called
 * exactly once from the sync thread when it is durable or failed.
 * Ordering: cb may run on the sync thread BEFORE this function has
 * returned to the caller; *res is completely written before cb can run, so
 * a res that lives inside `arg` may be read from cb.  Count the pending
 * completion before calling (or have cb only post to your own loop). */
int mls_append_async(mls_partition_t *p, void *batch, size_t len,
                     mls_append_result *res, mls_append_cb cb, void *arg);

/* ---- read -------------------------------------------------------------- */

#define MLS_READ_MAX_RANGES 4

/* One contiguous run of whole batches inside one segment file. */
typedef struct mls_range {
	int fd;             /* segment file; valid until mls_read_release() */
	off_t file_offset;  /* where the first batch starts */
	size_t length;      /* bytes of whole batches */
} mls_range;

typedef struct mls_read_set {
	int64_t high_watermark;
	int64_t log_start;
	int64_t first_offset;   /* base offset of the first batch returned */
	size_t total;           /* sum of lengths */
	int64_t last_stable;    /* the partition's last stable offset */
	size_t n;               /* ranges used */
	mls_range ranges[MLS_READ_MAX_RANGES];
	void *pins_[MLS_READ_MAX_RANGES]; /* internal: segment references */
} mls_read_set;

/* Read whole batches from the batch containing `offset` up to about
 * `max_bytes` (the first batch is returned whole even if larger, as Kafka
 * does, so a consumer always progresses), never beyond the high watermark.
 * offset == high watermark -> 0 ranges.  offset < log start or > high
 * watermark -> -MYCO_ELOG_OFFSET_RANGE.  The fds stay open (segments pinned)
 * until mls_read_release(), even if retention deletes the files meanwhile.
 * Batches in the ranges may start before `offset` (the consumer skips). */
int mls_read(mls_partition_t *p, int64_t offset, size_t max_bytes,
             mls_read_set *out);
void mls_read_release(mls_read_set *r);

/* Like mls_read() but never more than max_bytes: when the first batch is
 * larger, 0 ranges (Kafka returns an oversized batch only as the first
 * data of a whole fetch response, KIP-74). */
int mls_read_within(mls_partition_t *p, int64_t offset, size_t max_bytes,
                    mls_read_set *out);

/* read_committed (Kafka's isolation level 1): like mls_read (strict
 * false) or mls_read_within (strict true) but never at or beyond the last
 * stable offset, so no batch of an ongoing transaction is returned.
 * offset at or beyond it (but within the log) -> 0 ranges. */
int mls_read_committed(mls_partition_t *p, int64_t offset, size_t max_bytes,
                       bool strict, mls_read_set *out);

/* Aborted transactions whose records may lie in [from, to): producer id,
 * first offset, and the offset of the abort marker (Kafka's aborted
 * transaction index, what a read_committed Fetch returns).  *out is one
 * malloc'd array of *n entries (NULL when 0); the caller frees it. */
typedef struct mls_aborted_txn {
	int64_t producer_id, first_offset, last_offset;
} mls_aborted_txn;
int mls_aborted_txns(mls_partition_t *p, int64_t from, int64_t to,
                     mls_aborted_txn **out, size_t *n);

/* Append a transaction marker (a control batch: commit true = COMMIT,
 * false = ABORT) for producer pid at epoch: the producer's transaction on
 * this partition ends there (an abort is recorded as aborted).  Written
 * even when no transaction is open (a coordinator repeating its markers
 * after a crash); an epoch older than the producer's -> -MYCO_ELOG_FENCED.
 * Returns as mls_append_async (cb may be NULL: poll the high watermark to
 * know it is durable); res->base_offset is the marker's offset. */
int mls_append_marker(mls_partition_t *p, int64_t pid, int16_t epoch, bool commit,
                      int32_t coordinator_epoch, mls_append_result *res,
                      mls_append_cb cb, void *arg);

/* Copying variant: whole batches into buf (at most cap bytes; the first
 * batch is NOT returned if it does not fit: -ENOBUFS with *len set to the
 * size needed).  *len = bytes copied; *hw = high watermark (may be NULL). */
int mls_read_copy(mls_partition_t *p, int64_t offset, size_t max_bytes,
                  void *buf, size_t cap, size_t *len, int64_t *hw);

/* ListOffsets.  timestamp MLS_LATEST (-1): high watermark; MLS_EARLIEST
 * (-2): log start; MLS_MAX_TIMESTAMP (-3): the batch with the largest
 * timestamp; >= 0: the first record whose timestamp >= it (record exact,
 * gzip/lz4/zstd batches decompressed for it; the batch's base offset for
 * snappy ones), found through the time index.  *offset = -1 and *ts_out = -1 when none.
 * ts_out may be NULL. */
#define MLS_LATEST (-1)
#define MLS_EARLIEST (-2)
#define MLS_MAX_TIMESTAMP (-3)
int mls_list_offset(mls_partition_t *p, int64_t timestamp, int64_t *offset,
                    int64_t *ts_out);

/* DeleteRecords: make `offset` the partition's log start (-1: the high
 * watermark).  Whole segments below it are deleted; reads below it get
 * -MYCO_ELOG_OFFSET_RANGE from then on, also after a restart (the log
 * start is kept in DIR/log-start, written atomically).  An offset at or
 * below today's log start changes nothing.  *low_watermark (may be NULL)
 * = the log start after the call.  -MYCO_ELOG_OFFSET_RANGE when offset is
 * above the high watermark. */
int mls_delete_records(mls_partition_t *p, int64_t offset, int64_t *low_watermark);

/* ---- producer ids (InitProducerId without transactional id) ------------ */

/* Allocate a new producer id, never handed out before by this data
 * directory (ids are reserved in durable blocks).  Epoch is 0. */
int mls_producer_id_alloc(mls_store_t *st, int64_t *pid);

/* ---- consumer group offsets ------------------------------------------- */

typedef struct mls_group_offset {
	const char *topic;
	int32_t partition;
	int32_t leader_epoch;   /* -1 when unknown */
	int64_t offset;
	const char *metadata;   /* may be NULL (stored as "") */
	size_t metadata_len;    /* its bytes, kept exactly (NULs too); 0 with
	                         * metadata not NULL means strlen(metadata).
	                         * mls_group_list sets it and NUL-terminates. */
} mls_group_offset;

/* Store n offsets for `group` in one write: fdatasync'd before returning
 * with policy ALWAYS, by the sync thread within the interval with
 * INTERVAL, at mls_close/mls_sync with NEVER.  On an error (e.g. -ENOSPC)
 * nothing of it is kept.  Group and topic names up to 255 and 249 bytes,
 * metadata up to 4096 bytes (-EINVAL). */
int mls_group_commit(mls_store_t *st, const char *group,
                     const mls_group_offset *offs, size_t n);

/* Fetch one committed offset.  -ENOENT if none.  *metadata (may be NULL
 * to skip) is malloc'd; the caller frees it. */
int mls_group_fetch(mls_store_t *st, const char *group, const char *topic,
                    int32_t partition, int64_t *offset, int32_t *leader_epoch,
                    char **metadata);

/* All offsets of `group`, sorted by topic then partition.  *out is ONE
 * malloc'd block (entries followed by their strings): free(*out) once.
 * *n = 0 and *out = NULL when the group has none. */
int mls_group_list(mls_store_t *st, const char *group,
                   mls_group_offset **out, size_t *n);

/* Remove every offset of `group` (durably).  0 even if none. */
int mls_group_delete(mls_store_t *st, const char *group);

/* Remove the offset of one partition of `group` (durably; OffsetDelete).
 * 0 even if there was none. */
int mls_group_delete_offset(mls_store_t *st, const char *group, const char *topic,
                            int32_t partition);

/* Names of the groups that have committed offsets, sorted.  *out is ONE
 * malloc'd block (pointers followed by the strings): free(*out) once. */
int mls_group_names(mls_store_t *st, char ***out, size_t *n);

/* ---- helpers shared with the broker and tests ------------------------- */

/* CRC-32C (Castagnoli), as RecordBatch v2 uses: crc = mls_crc32c(0, p, n).
 * Chain calls by passing the previous result. */
uint32_t mls_crc32c(uint32_t crc, const void *buf, size_t len);

/* Validate one RecordBatch v2 without storing it (same checks as append,
 * except size limits).  Returns 0 or a negative code as mls_append. */
int mls_batch_validate(const void *batch, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_SVC_LOG_STORE_H */
