/*
 * chan_int.h: the channel region layout (the shared-memory ABI version 2,
 * see docs/chan-abi.md) and what the modules of lib/chan share internally.
 *
 * A channel is several memfds ("segments"), each written by exactly one
 * side: the header (geometry, sealed against writes), the main segment
 * (consumer / server / writer state), and one lane segment per producer /
 * client / reader.  An endpoint maps its own segment read-write and the
 * segments it must read read-only, all into one contiguous reservation, so
 * every address is `base + offset` exactly as with one region.  What a peer
 * can write is untrusted: every index, length, block number and generation
 * read from another side's segment is checked before use.
 * Not for: the public API (include/myco/chan.h).
 */
#ifndef MYCO_CHAN_INT_H
#define MYCO_CHAN_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/chan.h"
#include "myco/trace.h"
#include "myco_int.h"

#define CHAN_CL 64u                          /* cache line */
#define CHAN_PAGE 4096u                      /* segment alignment */
/* Where the header lines of the main and lane segments start: not at a
 * page boundary, where every loan block of every channel starts too (all
 * of them would compete for the same L1 set: the loan round trip measured
 * 12-15% slower with the lines at offset 0). */
#define CHAN_HOT_OFF 512u
#define CHAN_MAGIC UINT64_C(0x314e4843434f594d) /* "MYCOCHN1" little endian */
#define CHAN_VERSION 2u
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
 * Header segment (fds[0] of every capability): one page, the geometry in
 * its first 88 bytes plus a checksum.  Written by the owner with pwrite()
 * before any endpoint exists, then sealed F_SEAL_WRITE: nobody, the owner
 * included, can change it afterwards.  Endpoints read it once on attach
 * (pread, no mapping), validate it, and keep a private copy.
 */
struct chan_hdr {
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
	uint32_t h_loan_n;       /* loan blocks per lane */
	uint64_t h_size;         /* bytes of the whole reservation */
	int64_t  h_block_timeout_ns;
	uint64_t h_refresh_ns;
	uint64_t h_call_timeout_ns;
	uint32_t h_spin;
	uint32_t h_check;        /* FNV-1a of the bytes before it */
};

/*
 * Main segment, written only by the main side (consumer / server / writer)
 * and by the owner's recovery; read-only to lane sides.
 * Line 0: attached (CAS 0->1 by the main side on attach, 0 on close or
 *   owner recovery); broken (main side's own state found corrupt: set by
 *   the owner); c_sleep: the main side's waiting bits (fetch_or/fetch_and
 *   seq_cst), read by lane sides after their index store + seq_cst fence.
 * Line 1: sample state: s_latest (writer, release after the buffer's seq),
 *   s_futex (writer increments when a reader sleeps; readers wait on it);
 *   wakeups: relaxed counter of wakes the main side issued.
 */
struct chan_main {
	au32 attached;
	au32 broken;
	au32 c_sleep;
	uint8_t pad0[CHAN_CL - 12];
	au64 s_latest;
	au64 wakeups;
	au32 s_futex;
	uint8_t pad1[CHAN_CL - 20];
};

/*
 * The main side's per-lane state, in the main segment (2 lines per lane).
 * Line 0: head = messages done (consumer / server; store release after it
 *   finished with the slot, producers load acquire); p_futex: incremented
 *   by the main side to wake lane i's endpoint, which waits on it; lbroken:
 *   the main side found lane i's segment corrupt and stopped reading it
 *   (the owner clears it when it repaired the lane).
 * Line 1 (call): rtail = replies published to lane i (release after the
 *   reply slot is complete); replies / rdropped: relaxed counters.
 */
struct chan_mlane {
	au64 head;
	au32 p_futex;
	au32 lbroken;
	uint8_t pad0[CHAN_CL - 16];
	au64 rtail;
	au64 replies;
	au64 rdropped;
	uint8_t pad1[CHAN_CL - 24];
};

/*
 * Lane segment i, written only by lane i's endpoint (producer / client /
 * reader) and by the owner's recovery; read-only to the main side; other
 * lanes get no access at all.  4 lines, then the lane's request ring, then
 * (loans) its block descriptors and its page-aligned block pool.  Lines are
 * grouped in 128-byte pairs by who touches them on the fast path (CPUs
 * fetch adjacent lines together): lines 0-1 only the lane side writes,
 * lines 2-3 the main side reads after every commit; the ring starts on a
 * pair boundary.
 * Line 0: tail = messages published (release after the slot is complete);
 *   rejected / dropped: relaxed counters; dhead (DROP_OLDEST): the producer
 *   dropped every message below it (release, before it rewrites a slot).
 *   The consumer spins on this line: nothing else may be written here on
 *   the fast path.
 * Line 1: rhead (call) = replies consumed by the client (release); lgen:
 *   the lane's loan generation counter (monotonic; off the tail's line).
 * Line 2: attached (CAS 0->1 on attach, 0 on close / recovery); p_sleep:
 *   the lane side's waiting bits (read by the main side after its index
 *   store + seq_cst fence); broken: the lane side found the main segment
 *   corrupt; c_futex: incremented by this lane's endpoint to wake the main
 *   side, which waits on every lane's c_futex (futex_waitv); wakeups:
 *   relaxed counter; index: the lane number (owner, for MYCO_CHAN_ANY).
 * Line 3: padding.
 */
struct chan_lane {
	au64 tail;
	au64 rejected;
	au64 dropped;
	au64 dhead;
	uint8_t pad0[CHAN_CL - 32];
	au64 rhead;
	au32 lgen;
	uint8_t pad1[CHAN_CL - 12];
	au32 attached;
	au32 p_sleep;
	au32 broken;
	au32 c_futex;
	au64 wakeups;
	au32 index;
	uint8_t pad2[CHAN_CL - 28];
	uint8_t pad3[CHAN_CL];
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
	uint32_t loan_gen;      /* MSG_LOAN: generation of the run */
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
 * Loan block descriptor (one au64 per block of a lane's pool), written only
 * by that lane's producer (and the owner's recovery):
 *   bits 63..62 state (0 free, 1 loaned, 2 sent), 61..54 lane,
 *   53..32 run length (first block of a run; 0 = continuation),
 *   31..0 generation of the run (from the lane's lgen counter).
 * A sent run is given back by the consumer through the main segment:
 * lfree[lane][first] = gen (release, after it moved head past the message);
 * the producer reclaims the run when it reads that value (acquire).
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

_Static_assert(sizeof(struct chan_hdr) == 88, "geometry + check");
_Static_assert(offsetof(struct chan_hdr, h_check) == 84, "checksum after 84 bytes");
_Static_assert(sizeof(struct chan_main) == 2 * CHAN_CL, "chan_main is 2 lines");
_Static_assert(offsetof(struct chan_main, s_latest) == CHAN_CL, "main line 1");
_Static_assert(sizeof(struct chan_mlane) == 2 * CHAN_CL, "chan_mlane is 2 lines");
_Static_assert(offsetof(struct chan_mlane, rtail) == CHAN_CL, "mlane line 1");
_Static_assert(sizeof(struct chan_lane) == 4 * CHAN_CL, "chan_lane is 4 lines");
_Static_assert(offsetof(struct chan_lane, rhead) == CHAN_CL, "lane line 1");
_Static_assert(offsetof(struct chan_lane, attached) == 2 * CHAN_CL, "lane line 2");
_Static_assert(sizeof(struct chan_slot) == 32, "slot header is 32 bytes");
_Static_assert(sizeof(struct chan_sbuf) == CHAN_CL, "sample header is a line");
_Static_assert(sizeof(au64) == 8 && sizeof(au32) == 4, "lock-free atomics");

/* Layout computed from geometry (owner on create, endpoint on attach).
 * Offsets are from the start of the reservation: header segment at 0,
 * main segment at main_off, lane segment i at lanes_off + i * lane_size. */
struct chan_geom {
	uint32_t kind, policy, msg_size, stride, depth, nlanes, loan_bs, loan_n;
	uint32_t features, spin;
	int64_t block_timeout_ns;
	uint64_t refresh_ns, call_timeout_ns;
	/* main segment */
	uint64_t main_off, main_size;   /* struct chan_main at main_off + CHAN_HOT_OFF */
	uint64_t mlanes_off;     /* struct chan_mlane[nlanes] */
	uint64_t replies_off;    /* call: reply rings, nlanes * depth * stride */
	uint64_t sbuf_off, sbuf_stride; /* sample: CHAN_SBUFS buffers */
	uint64_t lfree_off;      /* loans: u32 [nlanes][loan_n] */
	/* lane segments */
	uint64_t lanes_off, lane_size;  /* struct chan_lane at CHAN_HOT_OFF in each */
	uint64_t ring_off;       /* within a lane: request ring, depth * stride */
	uint64_t ldesc_off;      /* within a lane: loan descriptors */
	uint64_t pool_off;       /* within a lane: loan pool (page aligned) */
	uint64_t size;           /* whole reservation */
};

/* Fill g's offsets and size from its geometry fields; -EINVAL if out of
 * range (checked in 64-bit, no overflow). */
int myco__chan_layout(struct chan_geom *g);

/* The endpoint handle (private memory). */
struct myco_chan {
	struct chan_geom g;
	uint8_t *base;            /* reservation of g.size bytes */
	size_t map_size;          /* what we reserved (never from the region) */
	struct chan_main *m;      /* main segment */
	myco_chan_role_t role;
	uint32_t index;           /* lane for producer/client/reader */
	uint32_t spin;
	int broken;               /* sticky local flag (whole endpoint) */
	uint64_t lbroken;         /* main side: lanes found corrupt (bit i) */
	int efd_self;             /* eventfd we are woken through (owned) */
	int efd_main;             /* main side's eventfd (owned) */
	int *efd_lane;            /* per-lane eventfds (main side; owned), or NULL */
	uint32_t sleep_armed;     /* CHAN_SLEEP_EFD if armed */
	/* producer / client (lane `index`) */
	uint64_t tail;            /* next position to publish */
	uint64_t head_cache;      /* last effective head (max(head, dhead)) */
	uint64_t dhead;           /* DROP_OLDEST: what we published in dhead */
	int reserved;             /* reserve() outstanding */
	/* consumer / server: per lane */
	uint64_t *rpos;           /* next position to hand out */
	uint64_t *chead;          /* effective head (our commits, producer drops) */
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
	uint64_t trace_id;        /* header memfd's inode: the channel in trace events */
	/* chaos (chaos.c): the channel's name hash when the partition opened
	 * it by name (0: never faulted), and the fault state while an
	 * experiment touches this endpoint (NULL otherwise: the fast path's
	 * test) */
	uint64_t chaos_tag;
	struct chan_chaos *chaos;
	/* lib/replay: recorder or replayer of this handle (lib/chan/hook.c),
	 * NULL when not recorded; rec_id numbers the channel in records */
	const struct myco__rec_ops *rec;
	uint16_t rec_id;
};

static inline struct chan_lane *chan_lane(const struct myco_chan *ch, uint32_t i)
{
	return (struct chan_lane *)(ch->base + ch->g.lanes_off +
	                            (uint64_t)i * ch->g.lane_size + CHAN_HOT_OFF);
}

static inline struct chan_mlane *chan_mlane(const struct myco_chan *ch, uint32_t i)
{
	return (struct chan_mlane *)(ch->base + ch->g.mlanes_off +
	                             (uint64_t)i * sizeof(struct chan_mlane));
}

static inline uint8_t *chan_lane_seg(const struct myco_chan *ch, uint32_t lane)
{
	return ch->base + ch->g.lanes_off + (uint64_t)lane * ch->g.lane_size;
}

static inline uint8_t *chan_ring(const struct myco_chan *ch, uint32_t lane)
{
	return chan_lane_seg(ch, lane) + ch->g.ring_off;
}

static inline struct chan_slot *chan_slot(const struct myco_chan *ch,
                                          uint32_t lane, uint64_t pos)
{
	return (struct chan_slot *)(chan_ring(ch, lane) +
	                            (pos & (ch->g.depth - 1)) * ch->g.stride);
}

static inline struct chan_slot *chan_rslot(const struct myco_chan *ch,
                                           uint32_t lane, uint64_t pos)
{
	uint64_t i = (uint64_t)lane * ch->g.depth + (pos & (ch->g.depth - 1));
	return (struct chan_slot *)(ch->base + ch->g.replies_off + i * ch->g.stride);
}

static inline au64 *chan_ldesc(const struct myco_chan *ch, uint32_t lane)
{
	return (au64 *)(chan_lane_seg(ch, lane) + ch->g.ldesc_off);
}

static inline uint8_t *chan_pool(const struct myco_chan *ch, uint32_t lane)
{
	return chan_lane_seg(ch, lane) + ch->g.pool_off;
}

static inline au32 *chan_lfree(const struct myco_chan *ch, uint32_t lane)
{
	return (au32 *)(ch->base + ch->g.lfree_off) + (uint64_t)lane * ch->g.loan_n;
}

/* Is this a lane role (producer, client, reader)? */
static inline bool chan_lane_role(myco_chan_role_t r)
{
	return r == MYCO_CHAN_PRODUCER || r == MYCO_CHAN_CLIENT || r == MYCO_CHAN_READER;
}

/* Mark this endpoint broken (privately, and in its own segment for the
 * owner to see) and return -EPROTO.  Used when what another side wrote
 * makes the whole endpoint unusable (a lane side reading the main segment). */
int myco__chan_corrupt(struct myco_chan *ch);

/* Main side: lane `lane` holds corrupt data.  Stop reading it (privately,
 * and in the main segment so the owner sees which lane), return -EPROTO.
 * The other lanes keep working; for a lane side this is myco__chan_corrupt. */
int myco__chan_lane_corrupt(struct myco_chan *ch, uint32_t lane);

/* Main side: is lane `lane` out of service (found corrupt, not repaired)?
 * Re-synchronises the lane from the main segment when the owner repaired
 * it.  Cheap when no lane ever broke (one private test). */
bool myco__chan_lane_out(struct myco_chan *ch, uint32_t lane);

/* Wake helpers: called after the caller's index store; they issue the
 * seq_cst fence themselves, then signal only if the peer said it sleeps.
 * wake_main: from lane side `lane` (its own c_futex). */
void myco__chan_wake_main(struct myco_chan *ch, uint32_t lane);
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
void myco__chan_loan_set_free(struct myco_chan *ch, uint32_t lane, uint32_t first,
                              uint32_t run);
int myco__chan_loan_check(struct myco_chan *ch, const struct chan_slot *s,
                          uint32_t lane, uint32_t len);
void myco__chan_loan_release_mine(struct myco_chan *ch);
bool myco__chan_loan_returned(const struct myco_chan *ch, uint32_t lane,
                              uint32_t first, uint64_t d);
/* queue.c: claim a slot, write a loan reference, mark the run sent, publish. */
int myco__chan_send_loan(struct myco_chan *ch, uint32_t first, uint32_t run,
                         uint32_t gen, size_t len);

/* queue.c, for chaos.c: the receive path without faults (hand out up to
 * max messages, wait as myco_chan_recv_batch), one non-blocking take, and
 * the commit of lane up to position pos (done()). */
int myco__chan_recv_plain(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max,
                          int64_t timeout_ns);
int myco__chan_recv_some(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max);
int myco__chan_commit(struct myco_chan *ch, uint32_t lane, uint64_t pos);

/* Chaos (chaos.c; docs/chaos.md): faults applied at the receiving end.
 * myco__chaos_armed points at the `armed` word of the partition's fault
 * table (lib/part sets it in myco_init()) or at a constant zero.  The
 * receive path enters myco__chaos_recv() only when that word or
 * ch->chaos is non-zero: one predictable branch otherwise. */
extern const uint32_t *myco__chaos_armed;
/* myco__chaos_set_table(), myco__chaos_tag(), myco__chaos_part_faults():
 * declared in lib/part/part_abi.h (what myco_init() calls). */
int myco__chaos_recv(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max,
                     int64_t timeout_ns);
int myco__chaos_done(struct myco_chan *ch, const myco_chan_msg_t *msg, bool all);
/* recv_copy found msg too large for the caller: hand it out again next. */
void myco__chaos_unget(struct myco_chan *ch, const myco_chan_msg_t *msg);
/* 1 when the fault layer holds a message (ready() must say so). */
int myco__chaos_pending(const struct myco_chan *ch);
void myco__chaos_free(struct myco_chan *ch);
/* Client and reader faults (the endpoint's channel tag, the partition's
 * table).  stall_end: the end (raw clock) of a stall in effect, 0 none.
 * reply: the reply to corr was copied into rep: 0 hand it out (maybe
 * corrupted, after a delay), 1 it is dropped (keep waiting), -ETIMEDOUT
 * (the delay outlasts deadline).  sample: a value was read into buf: 0
 * (it, corrupted, or the one read before in its place), -ENODATA or
 * -EMSGSIZE for the one before. */
uint64_t myco__chaos_stall_end(struct myco_chan *ch);
int myco__chaos_reply(struct myco_chan *ch, uint64_t corr, void *rep, size_t len,
		      uint64_t deadline);
int myco__chaos_sample(struct myco_chan *ch, void *buf, size_t cap,
		       myco_chan_sample_info_t *info);
/* A private flag of myco_chan_msg_t.flags: this message is a duplicate the
 * fault layer made (a private copy; done() on it does nothing). */
#define MYCO__CHAN_MSG_CHAOS_DUP 0x80000000u

/* The owner's full read-write view of a channel (tests and fuzzers use it
 * to play a hostile peer).  Valid until myco_chan_owner_close(). */
struct myco_chan *myco__chan_owner_view(myco_chan_owner_t *o);

/* The bodies of the public operations that lib/chan/hook.c wraps (the
 * record/replay hook; lib/replay calls these directly while recording). */
int myco__chan_send_raw(myco_chan_t *ch, const void *buf, size_t len, int64_t timeout_ns);
int myco__chan_send_batch_raw(myco_chan_t *ch, const struct iovec *msgs, size_t n);
int myco__chan_reserve_raw(myco_chan_t *ch, void **slot, int64_t timeout_ns);
int myco__chan_publish_raw(myco_chan_t *ch, size_t len);
int myco__chan_recv_raw(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t timeout_ns);
int myco__chan_recv_batch_raw(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max,
			      int64_t timeout_ns);
int myco__chan_done_raw(myco_chan_t *ch, const myco_chan_msg_t *msg);
int myco__chan_done_all_raw(myco_chan_t *ch);
int myco__chan_reply_raw(myco_chan_t *ch, const myco_chan_msg_t *req, const void *rep,
			 size_t len);
int myco__chan_call_wait_raw(myco_chan_t *ch, uint64_t corr, void *rep, size_t rep_cap,
			     size_t *rep_len, int64_t timeout_ns);
int myco__chan_sample_write_raw(myco_chan_t *ch, const void *buf, size_t len);
int myco__chan_sample_read_raw(myco_chan_t *ch, void *buf, size_t cap,
			       myco_chan_sample_info_t *info);
void myco__chan_close_raw(myco_chan_t *ch);

#endif /* MYCO_CHAN_INT_H */
