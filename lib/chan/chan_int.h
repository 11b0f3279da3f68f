/*
 * chan_int.h: the channel region layout (the shared-memory ABI, see
 * docs/chan-abi.md) and what the modules of lib/chan share internally.
 *
 * Everything in `struct chan_hdr`, `struct chan_lane`, `struct chan_slot`,
 * `struct chan_sbuf` and the loan descriptors lives in shared memory and is
 * untrusted: endpoints copy the geometry once on attach (after validating it)
 * and check every index, length and offset read afterwards.
 * Not for: the public API (include/myco/chan.h).
 */
#ifndef MYCO_CHAN_INT_H
#define MYCO_CHAN_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/chan.h"

#define CHAN_CL 64u                          /* cache line */
#define CHAN_MAGIC UINT64_C(0x314e4843434f594d) /* "MYCOCHN1" little endian */
#define CHAN_VERSION 1u
#define CHAN_FEAT_LOANS  0x1u
#define CHAN_FEAT_KNOWN  (CHAN_FEAT_LOANS)
#define CHAN_SBUFS 4u                        /* sample buffers (seqlock ring) */

/* Sleep flag bits (c_sleep, p_sleep): set by the side that waits, read by the
 * side that wakes after a seq_cst fence (Dekker pairing with the index
 * store/load of the waiter). */
#define CHAN_SLEEP_FUTEX 0x1u
#define CHAN_SLEEP_EFD   0x2u

typedef _Atomic uint64_t au64;
typedef _Atomic uint32_t au32;

/*
 * Region header: 5 cache lines at offset 0.
 * Lines 0-1 (h_*): written once by the owner before any endpoint exists;
 *   endpoints read it on attach only, validate it against the memfd size and
 *   the recomputed layout, and keep a private copy.
 * Line 2: `broken` - any side may set it to 1 (relaxed; advisory: each
 *   endpoint also keeps a private sticky flag).  `attached` - owner and
 *   main-side endpoint write (CAS 0->1 on attach, store 0 on close/recover).
 * Line 3: the main side's waiting state (consumer / server; writer unused):
 *   c_sleep written by the main side (fetch_or/fetch_and, seq_cst), read by
 *   lane sides after their index store + seq_cst fence; c_futex incremented
 *   by whoever wakes, waited on by the main side.  wakeups: relaxed counter.
 * Line 4: sample state.  s_latest: writer stores the number of the latest
 *   complete write (release) after the buffer's seq (pairs with the reader's
 *   acquire).  r_sleep / r_efd: bit i set by reader i when sleeping / armed
 *   (fetch_or seq_cst), read by the writer after s_latest + seq_cst fence.
 *   s_futex: incremented by the writer, waited on by readers.
 */
struct chan_hdr {
	/* lines 0-1: geometry, immutable */
	uint64_t h_magic;
	uint32_t h_version;
	uint32_t h_features;
	uint32_t h_kind;
	uint32_t h_policy;
	uint32_t h_msg_size;
	uint32_t h_stride;       /* slot stride: 32 + msg_size rounded to 64 */
	uint32_t h_depth;        /* slots per ring, power of two */
	uint32_t h_nlanes;       /* producers / clients / readers */
	uint32_t h_loan_bs;      /* loan block size (multiple of 64) */
	uint32_t h_loan_n;       /* loan blocks */
	uint64_t h_size;         /* region bytes (== memfd size) */
	int64_t  h_block_timeout_ns;
	uint64_t h_refresh_ns;
	uint64_t h_call_timeout_ns;
	uint32_t h_spin;
	uint32_t h_check;        /* FNV-1a of the bytes before it: catches a
	                            scribbled header on attach */
	uint8_t  h_pad1[2 * CHAN_CL - 88];
	/* line 2 */
	au32 broken;
	au32 attached;
	uint8_t pad1[CHAN_CL - 8];
	/* line 3 */
	au32 c_sleep;
	au32 c_futex;
	au64 wakeups;
	uint8_t pad2[CHAN_CL - 16];
	/* line 4 */
	au64 s_latest;
	au64 r_sleep;
	au64 r_efd;
	au32 s_futex;
	uint8_t pad3[CHAN_CL - 28];
};

/*
 * One lane per producer (queue), client (call) or reader (sample): 6 lines.
 * Line 0, producer/client writes: tail = number of messages published
 *   (store release after the slot is written; the consumer loads acquire).
 *   rejected/dropped: relaxed counters.  In DROP_OLDEST the producer also
 *   CASes `head` (line 2) to drop the oldest message.
 * Line 1, producer/client/reader's waiting state: attached (CAS 0->1 on
 *   attach, 0 on close/recover), p_sleep (fetch_or/fetch_and seq_cst by the
 *   lane side; read by the main side after its index store + seq_cst fence),
 *   p_futex (incremented by the waker, waited on by the lane side).
 * Line 2, consumer/server writes: head = messages done (store release after
 *   the consumer finished reading the slot; producers load acquire before
 *   reusing a slot).  DROP_OLDEST: CAS by both sides, never decreases.
 * Line 3, server writes (call): rtail = replies published (release).
 *   replies/rdropped: relaxed counters.
 * Line 4, client writes (call): rhead = replies consumed (release).
 */
struct chan_lane {
	au64 tail;
	au64 rejected;
	au64 dropped;
	uint8_t pad0[CHAN_CL - 24];
	au32 attached;
	au32 p_sleep;
	au32 p_futex;
	uint8_t pad1[CHAN_CL - 12];
	au64 head;
	uint8_t pad2[CHAN_CL - 8];
	au64 rtail;
	au64 replies;
	au64 rdropped;
	uint8_t pad3[CHAN_CL - 24];
	au64 rhead;
	uint8_t pad4[CHAN_CL - 8];
	uint8_t pad5[CHAN_CL];
};

/*
 * A ring slot: 32-byte header then msg_size payload bytes; stride is a
 * multiple of 64.  Written by the ring's producer before it publishes tail
 * (release); read by the consumer after loading tail (acquire).  seq is the
 * message number (position + 1): the consumer checks seq == pos + 1, which
 * catches corruption and (DROP_OLDEST) an overwrite while held: there the
 * producer stores seq = 0, release fence, payload, seq = pos + 1 (release),
 * a seqlock the consumer re-checks in done().
 */
struct chan_slot {
	au64 seq;
	uint32_t len;
	uint32_t flags;         /* MYCO_CHAN_MSG_* */
	uint64_t corr;          /* call: correlation id (request seq) */
	uint32_t loan_block;    /* MSG_LOAN: first block */
	uint32_t loan_gen;      /* MSG_LOAN: generation of the first block */
};

/*
 * Sample buffer: one line of header then the value.  seq = 2w - 1 while
 * write number w is in progress, 2w when complete (seqlock; the writer
 * stores the odd value, release fence, data, then the even value release).
 */
struct chan_sbuf {
	au64 seq;
	au64 ts_ns;
	au32 len;
	uint8_t pad[CHAN_CL - 20];
};

/*
 * Loan block descriptor (one au64 per block), CAS only:
 *   bits 63..62 state (0 free, 1 loaned, 2 sent), 61..54 owner lane,
 *   53..32 run length (first block of a run; 0 = continuation),
 *   31..0 generation (incremented when loaned).
 * loaned: the producer of lane `owner` holds it; sent: referenced by a
 * message of lane `owner` (slot header written before the CAS to sent,
 * which is release; the consumer frees it after moving head).
 */
#define LD_FREE 0u
#define LD_LOANED 1u
#define LD_SENT 2u
#define LD_STATE(d) ((uint32_t)((d) >> 62))
#define LD_OWNER(d) ((uint32_t)(((d) >> 54) & 0xffu))
#define LD_RUN(d) ((uint32_t)(((d) >> 32) & 0x3fffffu))
#define LD_GEN(d) ((uint32_t)(d))
#define LD_MAKE(st, own, run, gen) \
	(((uint64_t)(st) << 62) | ((uint64_t)((own) & 0xffu) << 54) | \
	 ((uint64_t)((run) & 0x3fffffu) << 32) | (uint64_t)(uint32_t)(gen))
#define LD_MAX_BLOCKS 0x3fffffu

_Static_assert(sizeof(struct chan_hdr) == 5 * CHAN_CL, "chan_hdr is 5 lines");
_Static_assert(offsetof(struct chan_hdr, h_pad1) == 88, "geometry is 88 bytes");
_Static_assert(offsetof(struct chan_hdr, broken) == 2 * CHAN_CL, "line 2");
_Static_assert(offsetof(struct chan_hdr, c_sleep) == 3 * CHAN_CL, "line 3");
_Static_assert(offsetof(struct chan_hdr, s_latest) == 4 * CHAN_CL, "line 4");
_Static_assert(sizeof(struct chan_lane) == 6 * CHAN_CL, "chan_lane is 6 lines");
_Static_assert(offsetof(struct chan_lane, attached) == CHAN_CL, "lane line 1");
_Static_assert(offsetof(struct chan_lane, head) == 2 * CHAN_CL, "lane line 2");
_Static_assert(offsetof(struct chan_lane, rtail) == 3 * CHAN_CL, "lane line 3");
_Static_assert(offsetof(struct chan_lane, rhead) == 4 * CHAN_CL, "lane line 4");
_Static_assert(sizeof(struct chan_slot) == 32, "slot header is 32 bytes");
_Static_assert(sizeof(struct chan_sbuf) == CHAN_CL, "sample header is a line");
_Static_assert(sizeof(au64) == 8 && sizeof(au32) == 4, "lock-free atomics");

/* Layout computed from geometry (owner on create, endpoint on attach). */
struct chan_geom {
	uint32_t kind, policy, msg_size, stride, depth, nlanes, loan_bs, loan_n;
	uint32_t features, spin;
	int64_t block_timeout_ns;
	uint64_t refresh_ns, call_timeout_ns;
	uint64_t lanes_off, rings_off, replies_off, sbuf_off, sbuf_stride;
	uint64_t ldesc_off, pool_off, size;
};

/* Fill g's offsets and size from its geometry fields; -EINVAL if out of
 * range (checked in 64-bit, no overflow). */
int myco__chan_layout(struct chan_geom *g);

/* The endpoint handle (private memory). */
struct myco_chan {
	struct chan_geom g;
	uint8_t *base;            /* mapping of map_size bytes */
	size_t map_size;          /* what we mapped (never from the region) */
	struct chan_hdr *hdr;
	myco_chan_role_t role;
	uint32_t index;           /* lane for producer/client/reader */
	uint32_t spin;
	int broken;               /* sticky local flag */
	int efd_self;             /* eventfd we are woken through (owned) */
	int efd_main;             /* main side's eventfd (owned) */
	int *efd_lane;            /* per-lane eventfds (main side; owned), or NULL */
	uint32_t sleep_armed;     /* CHAN_SLEEP_EFD if armed */
	/* producer / client (lane `index`) */
	uint64_t tail;            /* next position to publish */
	uint64_t head_cache;      /* last head loaded */
	int reserved;             /* reserve() outstanding */
	/* consumer / server: per lane */
	uint64_t *rpos;           /* next position to hand out */
	uint64_t *chead;          /* committed head (our own writes) */
	uint64_t *tail_cache;
	uint32_t rr;              /* round-robin lane cursor */
	uint64_t *lref;           /* loans: per lane per slot: gen << 32 | (first block + 1) */
	/* server: reply rings */
	uint64_t *rtail;
	/* client: reply ring */
	uint64_t rhead;
	/* reader */
	uint64_t last_seq;
	/* writer */
	uint64_t wseq;
	uint32_t loan_hint;
};

static inline struct chan_lane *chan_lane(const struct myco_chan *ch, uint32_t i)
{
	return (struct chan_lane *)(ch->base + ch->g.lanes_off +
	                            (uint64_t)i * sizeof(struct chan_lane));
}

static inline struct chan_slot *chan_slot(const struct myco_chan *ch,
                                          uint32_t lane, uint64_t pos)
{
	uint64_t i = (uint64_t)lane * ch->g.depth + (pos & (ch->g.depth - 1));
	return (struct chan_slot *)(ch->base + ch->g.rings_off + i * ch->g.stride);
}

static inline struct chan_slot *chan_rslot(const struct myco_chan *ch,
                                           uint32_t lane, uint64_t pos)
{
	uint64_t i = (uint64_t)lane * ch->g.depth + (pos & (ch->g.depth - 1));
	return (struct chan_slot *)(ch->base + ch->g.replies_off + i * ch->g.stride);
}

/* Mark broken (locally and in the region) and return -EPROTO. */
int myco__chan_corrupt(struct myco_chan *ch);

/* Wake helpers: called after the caller's index store; they issue the
 * seq_cst fence themselves, then signal only if the peer said it sleeps. */
void myco__chan_wake_main(struct myco_chan *ch);
void myco__chan_wake_lane(struct myco_chan *ch, uint32_t lane);
void myco__chan_wake_readers(struct myco_chan *ch);

/* Wait until ready(ch) != 0 or the timeout.  Returns ready's value (> 0),
 * -EAGAIN (timeout 0), -ETIMEDOUT, or ready's negative error. */
int myco__chan_wait_for(struct myco_chan *ch, int (*ready)(struct myco_chan *),
                        int64_t timeout_ns);

/* Readiness predicates (no syscalls). */
int myco__chan_ready_recv(struct myco_chan *ch);   /* consumer / server */
int myco__chan_ready_space(struct myco_chan *ch);  /* producer / client */
int myco__chan_ready_reply(struct myco_chan *ch);  /* client */
int myco__chan_ready_sample(struct myco_chan *ch); /* reader */

/* Copies to/from shared memory that a peer may write concurrently (seqlock
 * readers, DROP_OLDEST): plain memcpy normally, relaxed atomics under TSan
 * so the intended races are not reported. */
void myco__chan_copy_out(void *dst, const void *shm, size_t n);
void myco__chan_copy_in(void *shm, const void *src, size_t n);

/* Loans (loan.c). */
void myco__chan_loan_free_run(struct myco_chan *ch, uint32_t first, uint32_t run,
                              uint32_t owner, uint32_t gen);
int myco__chan_loan_check(struct myco_chan *ch, const struct chan_slot *s,
                          uint32_t lane, uint32_t len, uint32_t *run);
void myco__chan_loan_release_mine(struct myco_chan *ch);
/* queue.c: claim a slot, write a loan reference, mark the run sent, publish. */
int myco__chan_send_loan(struct myco_chan *ch, uint32_t first, uint32_t run,
                         uint32_t gen, size_t len);

/* Region-level recovery helpers shared by owner.c (operate on a raw view). */
uint64_t myco__chan_now_ns(void);

#endif /* MYCO_CHAN_INT_H */
