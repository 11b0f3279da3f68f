/*
 * trace_int.h: the trace-ring and metrics region layouts (the shared-memory
 * ABI, docs/trace-abi.md) and what the modules of lib/trace share.
 *
 * Everything in these structs lives in memory a partition can write: the
 * reader (the executive's collector) copies the geometry once after
 * validating it and checks every index, length and id it reads afterwards.
 * Not for: the public API (include/myco/trace.h).
 */
#ifndef MYCO_TRACE_INT_H
#define MYCO_TRACE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/trace.h"

#define TR_CL 64u
#define TR_MAGIC  UINT64_C(0x314352544f43594d)  /* "MYCOTRC1" little endian */
#define MET_MAGIC UINT64_C(0x3154454d4f43594d)  /* "MYCOMET1" little endian */
#define TR_VERSION  1u
#define MET_VERSION 1u
#define TR_FEAT_KNOWN  0u
#define MET_FEAT_KNOWN 0u

#define TR_MAX_RINGS 256u
#define TR_MIN_DEPTH 16u
#define TR_MAX_DEPTH (1u << 20)
#define TR_TEXT      40u        /* text bytes per event (a[] + str[]) */
#define TR_STR       16u
#define TR_BUSY      (UINT64_C(1) << 63)   /* e_seq: being written */

typedef _Atomic uint64_t tr_au64;
typedef _Atomic uint32_t tr_au32;

/*
 * Region header, 2 lines at offset 0.
 * Line 0 (t_*): geometry, written once by the owner before the fd is handed
 *   out; readers validate it and keep a private copy, writers read it once
 *   at attach.  Line 1: t_check (FNV-1a of line 0, owner, once) and
 *   t_enable (the enable word: categories + log level; written by the owner
 *   at any time with relaxed stores, read by writers on every tracepoint).
 *   A stale t_enable only means a few events more or fewer.
 */
struct tr_hdr {
	uint64_t t_magic;
	uint32_t t_version;
	uint32_t t_features;
	uint32_t t_nrings;
	uint32_t t_depth;
	uint32_t t_policy;      /* default of the rings; each ring has its own */
	uint32_t t_clock;       /* myco_trace_clock_t */
	uint64_t t_size;
	uint64_t t_tsc_hz;      /* TSC ticks per second (clock TSC) */
	uint64_t t_tsc0;        /* TSC reading at ... */
	uint64_t t_ns0;         /* ... this CLOCK_MONOTONIC ns */
	/* line 1 */
	uint32_t t_check;
	tr_au32  t_enable;
	uint8_t  t_pad[TR_CL - 8];
};

/*
 * Ring header, 2 lines per ring at offset 128 + 128 * i.
 * Line 0, writer side:
 *   r_head    next position to write.  Single-writer ring: plain (relaxed)
 *             load by its one writer, release store after the event(s) are
 *             complete.  Shared ring: writers claim positions with
 *             fetch_add (overwrite) or CAS (drop-newest).  Readers load it
 *             with acquire.
 *   r_dropped events a drop-newest ring refused (relaxed; fetch_add when
 *             shared).
 *   r_claim   thread id of the writer that owns the ring (CAS 0 -> tid by
 *             the claiming writer, store 0 on thread exit); unused when
 *             shared.
 *   r_shared  1 = multi-writer ring (owner, once).
 *   r_policy  myco_trace_policy_t (owner, once).
 * Line 1, reader side:
 *   r_tail    the reader's position (release store after it copied the
 *             events); drop-newest writers load it (acquire) to see space.
 *   r_lost    events the reader found overwritten (reader, relaxed).
 */
struct tr_ring {
	tr_au64  r_head;
	tr_au64  r_dropped;
	tr_au32  r_claim;
	uint32_t r_shared;
	uint32_t r_policy;
	uint8_t  r_pad0[TR_CL - 28];
	tr_au64  r_tail;
	tr_au64  r_lost;
	uint8_t  r_pad1[TR_CL - 16];
};

/*
 * Event, one line.  e_seq is the seqlock: the writer stores
 * TR_BUSY | (pos + 1) (relaxed; on the shared ring a CAS from an older
 * lap's published value, so two writers never fill one slot at once),
 * issues a release fence, writes the other fields (relaxed atomic stores:
 * plain movs), then stores pos + 1 with release.  A reader loads e_seq
 * (acquire), copies, issues an acquire fence, reloads e_seq: the copy is
 * good only if both loads equal pos + 1.  Payload: three u64 arguments and
 * a 16-byte string, or (log records, e_id LOG/CONT) 40 bytes of text.
 * e_len: string bytes (<= 16), or the whole log record's text length
 * (head event only).  e_level: log level (LOG only).
 */
struct tr_event {
	tr_au64  e_seq;
	uint64_t e_ts;
	uint16_t e_id;
	uint8_t  e_level;
	uint8_t  e_len;
	uint32_t e_tid;
	union {
		struct {
			uint64_t a[3];
			char     str[TR_STR];
		} e_args;
		char e_text[TR_TEXT];
	} e_u;
};

_Static_assert(sizeof(struct tr_hdr) == 2 * TR_CL, "trace header is 2 lines");
_Static_assert(offsetof(struct tr_hdr, t_check) == TR_CL, "geometry is line 0");
_Static_assert(offsetof(struct tr_hdr, t_enable) == TR_CL + 4, "enable word");
_Static_assert(sizeof(struct tr_ring) == 2 * TR_CL, "ring header is 2 lines");
_Static_assert(offsetof(struct tr_ring, r_tail) == TR_CL, "reader line");
_Static_assert(sizeof(struct tr_event) == TR_CL, "an event is one line");
_Static_assert(offsetof(struct tr_event, e_u) == 24, "payload at 24");
_Static_assert(sizeof(tr_au64) == 8 && sizeof(tr_au32) == 4, "lock-free atomics");

/* Layout: pure function of (nrings, depth). */
static inline uint64_t tr_rings_off(void) { return sizeof(struct tr_hdr); }
static inline uint64_t tr_events_off(uint32_t nrings)
{
	return sizeof(struct tr_hdr) + (uint64_t)nrings * sizeof(struct tr_ring);
}
static inline uint64_t tr_size(uint32_t nrings, uint32_t depth)
{
	uint64_t s = tr_events_off(nrings) + (uint64_t)nrings * depth * TR_CL;
	return (s + 4095) & ~UINT64_C(4095);
}

/*
 * Metrics region.
 * Header, 2 lines: line 0 geometry (owner, once; m_check = FNV-1a of it).
 * Line 1: m_ndesc and m_ncells_used, bump allocators claimed by registering
 * writers with fetch_add; readers clamp them to the geometry.
 */
struct met_hdr {
	uint64_t m_magic;
	uint32_t m_version;
	uint32_t m_features;
	uint32_t m_nmetrics;     /* descriptor slots */
	uint32_t m_ncells;       /* 8-byte value cells */
	uint64_t m_size;
	uint32_t m_desc_off;
	uint32_t m_cells_off;
	uint32_t m_check;
	uint8_t  m_pad0[TR_CL - 44];
	tr_au32  m_ndesc;
	tr_au32  m_ncells_used;
	uint8_t  m_pad1[TR_CL - 8];
};

/*
 * Descriptor, 256 bytes.  The registering writer fills everything, then
 * stores d_state = PUBLISHED with release; readers load d_state with
 * acquire and validate the rest (kind, unit, cell range, name and label
 * syntax) before using it.  Values live in cells [d_cell, d_cell + n):
 * counter/gauge n = 1, histogram n = MYCO_HIST_BUCKETS + 1 (buckets, sum).
 * Each metric's cells start on a cache line (d_cell % 8 == 0).
 */
#define MET_EMPTY     0u
#define MET_WRITING   1u
#define MET_PUBLISHED 2u
struct met_desc {
	tr_au32  d_state;
	uint8_t  d_kind;
	uint8_t  d_unit;
	uint16_t d_pad;
	uint32_t d_cell;
	uint32_t d_ncells;
	char     d_name[MYCO_METRIC_NAME_MAX + 1];
	char     d_labels[MYCO_METRIC_LABELS_MAX + 1];
	uint8_t  d_pad1[256 - 16 - 64 - 128];
};
_Static_assert(sizeof(struct met_hdr) == 2 * TR_CL, "metrics header is 2 lines");
_Static_assert(offsetof(struct met_hdr, m_ndesc) == TR_CL, "allocators on line 1");
_Static_assert(sizeof(struct met_desc) == 256, "descriptor is 256 bytes");
_Static_assert(offsetof(struct met_desc, d_name) == 16, "name at 16");

static inline uint32_t met_cells_for(uint32_t kind)
{
	return kind == MYCO_METRIC_HISTOGRAM ? MYCO_HIST_BUCKETS + 1 : 1;
}

uint32_t myco__trace_fnv(const void *p, size_t n);
int myco__trace_seal_memfd(const char *name, uint64_t size, int *fd);
int myco__metric_name_ok(const char *s, size_t max);
int myco__metric_labels_ok(const char *s, size_t max);
int myco__trace_map(int fd, int writable, void **base, size_t *size);
int myco__trace_hdr_ok(const struct tr_hdr *h, size_t size);
int myco__met_hdr_ok(const struct met_hdr *h, size_t size);
uint64_t myco__trace_clock_raw(uint32_t clock);

#endif /* MYCO_TRACE_INT_H */
