/*
 * rlog.h: the replay log (segment files, docs/replay-format.md) and the
 * executive's side of the record ring: its one writer (exec/record.c), its
 * one reader (replay mode in rec.c, `myco replay`, the fuzz harness), the
 * ring's creation and draining.  Shared-internal.
 * Not for: the partition's recording (rec.c).
 */
#ifndef MYCO_RLOG_H
#define MYCO_RLOG_H

#include <stddef.h>
#include <stdint.h>

/* Exit status of a replayed process whose run diverged from the log. */
#define MYCO__REPLAY_DIVERGED 86

uint32_t myco__rec_fnv32(const void *p, size_t n);

/* ---- ring, executive side ---------------------------------------------- */

struct myco__ring_rd;

/* Create a record ring memfd with CAP data bytes (power of two,
 * MYCO__RING_MIN..MYCO__RING_MAX), sealed.  *fd is O_CLOEXEC. */
int myco__ring_create(uint64_t cap, const char *name, int *fd);
/* Map FD for draining (validates the header; never trusts it later). */
int myco__ring_open(int fd, struct myco__ring_rd **out);
void myco__ring_close(struct myco__ring_rd *rd);
void myco__ring_enable(struct myco__ring_rd *rd, int on);

struct myco__ring_counts {
	uint64_t records;           /* copied out */
	uint64_t bytes;             /* ring bytes consumed */
	uint64_t overruns;          /* the partition's own count */
	uint64_t corrupt;           /* resynchronisations */
};
/* Copy every committed record out in order, calling EACH with its type,
 * channel and body (bounded: at most the ring's size per call); publishes
 * the tail.  FORCE skips an uncommitted record (its writer is dead).
 * Returns records delivered or -errno. */
int myco__ring_drain(struct myco__ring_rd *rd, int force,
		     int (*each)(void *arg, uint16_t type, uint16_t chan,
				 const uint8_t *body, uint32_t len),
		     void *arg);
void myco__ring_counts(const struct myco__ring_rd *rd, struct myco__ring_counts *c);

/* ---- log writer -------------------------------------------------------- */

struct myco__rlog_w;

struct myco__rlog_cfg {
	const char *dir;            /* created if missing */
	const char *partition;
	uint64_t max_bytes;         /* keep at most this much (0 = 64 MiB) */
	uint64_t max_age_ns;        /* and drop segments older (0 = no age cap) */
	uint64_t seg_bytes;         /* segment size (0 = max_bytes / 8, 64 KiB .. 16 MiB) */
};

int myco__rlog_open(const struct myco__rlog_cfg *cfg, struct myco__rlog_w **out);
/* Append one record (START and OPEN also become the prologue that every
 * later segment repeats; a START resets it). */
int myco__rlog_append(struct myco__rlog_w *w, uint16_t type, uint16_t chan,
		      const void *body, uint32_t len);
int myco__rlog_flush(struct myco__rlog_w *w);
/* Copy the segments now on disk into DEST (created) for a crash. */
int myco__rlog_keep(struct myco__rlog_w *w, const char *dest);
/* Bytes on disk, records appended, segments removed by the caps. */
void myco__rlog_stats(const struct myco__rlog_w *w, uint64_t *bytes, uint64_t *records,
		      uint64_t *dropped_segs);
/* Close; REMOVE deletes the segments (a `record on crash` run that ended
 * cleanly). */
void myco__rlog_close(struct myco__rlog_w *w, int remove);

/* ---- log reader -------------------------------------------------------- */

struct myco__rlog_rec {
	uint16_t type, chan;
	uint32_t len;
	const uint8_t *body;        /* inside the loaded buffer, 8-byte aligned */
};

struct myco__rlog {
	struct myco__rlog_rec *recs;
	size_t n;
	size_t run_start;           /* index of the last run's START record */
	uint64_t gaps;              /* records lost between segments or in GAP records */
	int crashed;                /* an END record says the process died of a signal */
	int32_t crash_sig, crash_status;
	uint8_t *buf;
	size_t nsegs;
	uint32_t version;           /* the log format version of its segments (the lowest) */
};

/* Load a log: a directory of segments or one segment file; keeps the
 * records of the last run (from its START).  Errors (with a sentence in
 * ERR): -ENOENT, -EPROTO (truncated, scribbled: bad checksum, bad frame),
 * -MYCO_EVERSION (another format version). */
int myco__rlog_load(const char *path, struct myco__rlog **out, char *err, size_t cap);
/* Parse one segment in memory (the fuzz harness's entry point): calls
 * EACH for every valid record; stops at the first invalid byte with
 * -EPROTO / -MYCO_EVERSION and a sentence in ERR. */
int myco__rlog_parse_seg(const uint8_t *p, size_t n, uint64_t *segno, uint64_t *first_index,
			 uint32_t *prologue,
			 int (*each)(void *arg, uint16_t type, uint16_t chan,
				     const uint8_t *body, uint32_t len),
			 void *arg, char *err, size_t cap);
void myco__rlog_free(struct myco__rlog *l);

#endif /* MYCO_RLOG_H */
