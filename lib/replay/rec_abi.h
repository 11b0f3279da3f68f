/*
 * rec_abi.h: the record ring (shared memory between a partition and the
 * executive) and the replay log file, byte for byte.  Shared-internal; the
 * prose is docs/replay-format.md.  Little-endian, same machine.
 * Not for: the API (replay.h).
 */
#ifndef MYCO_REC_ABI_H
#define MYCO_REC_ABI_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- record ring (memfd owned by the executive, sealed SHRINK|GROW|SEAL) */

#define MYCO__RING_MAGIC   0x314345524f43594dull   /* "MYCOREC1" */
#define MYCO__RING_VERSION 1u
#define MYCO__RING_DATA_OFF 4096u
#define MYCO__RING_MIN     (64u * 1024u)            /* data bytes, power of two */
#define MYCO__RING_MAX     (1u << 30)

/* ring `enable` values (executive-written) */
#define MYCO__RING_OFF   0u     /* write START and OPEN only */
#define MYCO__RING_ON    1u     /* write everything */

struct myco__ring_hdr {
	/* line 0: geometry, owner-written once, then only read */
	uint64_t magic;
	uint32_t version;
	uint32_t features;          /* 0 */
	uint64_t size;              /* memfd size = DATA_OFF + cap */
	uint64_t cap;               /* data bytes, power of two */
	uint32_t check;             /* FNV-1a of the 32 bytes before it */
	uint32_t pad0;
	uint8_t pad1[24];
	/* line 1: partition-written */
	_Atomic uint64_t head;      /* bytes claimed (CAS by writers) */
	_Atomic uint64_t overruns;  /* records refused: the ring was full */
	_Atomic uint64_t records;   /* records committed */
	_Atomic uint32_t pid;       /* writer's pid (in its namespace) */
	uint8_t pad2[36];
	/* line 2: executive-written */
	_Atomic uint64_t tail;      /* bytes the executive has consumed (release) */
	_Atomic uint32_t enable;    /* MYCO__RING_OFF / _ON (relaxed) */
	uint8_t pad3[52];
};
_Static_assert(sizeof(struct myco__ring_hdr) == 192, "ring header: 3 lines");
_Static_assert(offsetof(struct myco__ring_hdr, head) == 64, "partition line");
_Static_assert(offsetof(struct myco__ring_hdr, tail) == 128, "executive line");

/* A record in the ring: 16-byte aligned, never split at the ring's end (a
 * PAD record fills the rest).  `commit` is stored last with release:
 * pos + 1 when complete (pos = the record's byte position). */
struct myco__ring_rec {
	_Atomic uint64_t commit;
	uint32_t size;              /* bytes including this header (the slot: rounded up to 16) */
	uint16_t type;              /* enum myco__rec_type */
	uint16_t chan;              /* channel number (OPEN order, from 1), 0 none */
};
_Static_assert(sizeof(struct myco__ring_rec) == 16, "ring record header");

/* ---- bodies (identical in ring and log) -------------------------------- */

struct myco__rb_open {          /* + name (NUL-terminated) */
	uint32_t role, index, kind, msg_size;
	int32_t rc;
	uint32_t name_len;          /* without the NUL */
};
struct myco__rb_recv {          /* + payload */
	int32_t rc;
	uint32_t lane;
	uint64_t seq;
	uint64_t t_ns;              /* myco_now() at the receive */
	uint32_t len;               /* payload bytes (all of them) */
	uint32_t flags;             /* 1 = loan (payload was a loan block) */
};
struct myco__rb_send {          /* + min(len, MYCO__REC_SEND_KEEP) payload bytes */
	int32_t rc;
	uint32_t len;
	uint64_t hash;              /* myco__rec_hash() of all len bytes */
};
struct myco__rb_reply {         /* + payload */
	int32_t rc;
	uint32_t len;
	uint64_t corr;
};
struct myco__rb_sample {        /* + value */
	int32_t rc;
	uint32_t len;
	uint64_t seq, age_ns;
};
struct myco__rb_value {         /* CLOCK, RANDOM, DONE (rc in value), GAP (count) */
	uint64_t v;
};
struct myco__rb_start {         /* + argc + envc + 2 NUL-terminated strings (exe, cwd, argv..., env...) */
	uint32_t argc, envc;
	uint32_t bytes;             /* of the strings */
	uint32_t pid;
};
struct myco__rb_wake {          /* WAKE (log version 2): the runtime woke something */
	uint16_t kind;              /* enum myco__rt_wake (replay.h) */
	uint16_t loop;              /* the loop's index in its group, 0 standalone */
	uint32_t serial;            /* coroutine or timer: creation order on the loop, from 1 */
	uint64_t picks;             /* coroutines the loop had switched in before it */
};
struct myco__rb_cwait {         /* CHANNEL WAIT (log version 2): myco_co_chan_wait()'s result */
	int32_t rc;
	uint32_t serial;            /* the waiting coroutine */
};
struct myco__rb_crash {
	int32_t sig;                /* 0 if it exited */
	int32_t status;
	uint64_t t_realtime_ns;
};

/* ---- log file (segments of a directory) -------------------------------- */

#define MYCO__LOG_MAGIC   0x314c50524f43594dull   /* "MYCORPL1" */
#define MYCO__LOG_VERSION 2u       /* written; read: 1 (no WAKE / CHANNEL WAIT records) and 2 */
#define MYCO__LOG_VERSION_MIN 1u

struct myco__log_seg_hdr {      /* at offset 0 of every segment file */
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;          /* 64 */
	uint64_t segno;             /* 1, 2, ... within the log */
	uint64_t first_index;       /* index of the first non-prologue record */
	uint64_t t_created_ns;      /* CLOCK_REALTIME */
	uint32_t prologue;          /* records at the head of the segment that repeat START and OPEN */
	uint32_t flags;             /* 0 */
	char partition[12];         /* first bytes of the name, NUL-padded (informative) */
	uint32_t check;             /* FNV-1a of the 60 bytes before it */
};
_Static_assert(sizeof(struct myco__log_seg_hdr) == 64, "segment header");

struct myco__log_frame {        /* before every record body in a segment */
	uint32_t check;             /* FNV-1a of the rest of the frame header and the body */
	uint32_t len;               /* body bytes */
	uint16_t type;
	uint16_t chan;
	uint32_t zero;              /* 0 */
};
_Static_assert(sizeof(struct myco__log_frame) == 16, "frame header");

#define MYCO__LOG_BODY_MAX (16u << 20)    /* a record body larger than this is corrupt */

#endif /* MYCO_REC_ABI_H */
