/*
 * myco/chan.h: channels, Myco's zero-copy shared-memory IPC.
 *
 * A channel is one shared region in a sealed memfd plus a few eventfds.  Its
 * owner (the executive, or a test) creates it from a config and hands each
 * endpoint the fds of its capability; an endpoint attaches from those fds with
 * a role and talks through plain loads and stores (no syscall on the fast
 * path; the kernel is entered only to sleep or to wake a peer that said it
 * sleeps).  Kinds: queue (SPSC/MPSC ring of fixed-size slots, three overflow
 * policies, zero-copy loans), sample (latest value with age), call
 * (request/reply with correlation ids and timeouts).
 *
 * Not for: naming or finding channels (the executive does that), framing or
 * typing payloads (the language layer generates typed wrappers).
 * Region layout: docs/chan-abi.md.  Guide: docs/channels.md.
 *
 * Conventions: every function returns 0 (or a count) on success and a
 * negative errno on failure.  -EPROTO means what a peer wrote was found
 * corrupted; from then on the endpoint reads as broken (myco_chan_broken())
 * and every call on it returns -EPROTO, except on the consumer/server side,
 * where only the corrupt lane is put out of service and the others go on.  Timeouts are in nanoseconds:
 * 0 = do not wait, negative = wait forever, positive = relative timeout.
 * Handles are not thread-safe: one thread uses one myco_chan_t at a time
 * (attach twice for two threads where the role allows it).
 */
#ifndef MYCO_CHAN_H
#define MYCO_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Configuration (owner side)                                          */
/* ------------------------------------------------------------------ */

typedef enum myco_chan_kind {
	MYCO_CHAN_QUEUE  = 1,  /* SPSC / MPSC ring of messages */
	MYCO_CHAN_SAMPLE = 2,  /* latest value, one writer, N readers */
	MYCO_CHAN_CALL   = 3,  /* request/reply, one server, N clients */
} myco_chan_kind_t;

typedef enum myco_chan_policy {
	MYCO_CHAN_BLOCK       = 1, /* full: sender waits (up to its timeout) */
	MYCO_CHAN_REJECT      = 2, /* full: send returns -EAGAIN at once */
	MYCO_CHAN_DROP_OLDEST = 3, /* full: the oldest unconsumed message is dropped */
} myco_chan_policy_t;

typedef enum myco_chan_role {
	MYCO_CHAN_PRODUCER = 1, /* queue */
	MYCO_CHAN_CONSUMER = 2, /* queue */
	MYCO_CHAN_WRITER   = 3, /* sample */
	MYCO_CHAN_READER   = 4, /* sample */
	MYCO_CHAN_CLIENT   = 5, /* call */
	MYCO_CHAN_SERVER   = 6, /* call */
} myco_chan_role_t;

/* Attach index meaning "any free producer/reader/client slot". */
#define MYCO_CHAN_ANY UINT32_MAX

/* Limits enforced by myco_chan_create(). */
#define MYCO_CHAN_MAX_MSG     (1u << 20)   /* bytes per slot payload */
#define MYCO_CHAN_MAX_DEPTH   (1u << 20)   /* slots per lane */
#define MYCO_CHAN_MAX_PEERS   64u          /* producers / readers / clients */
#define MYCO_CHAN_MAX_FDS     (3u + 2u * MYCO_CHAN_MAX_PEERS) /* fds in one capability */
/* Owner (uid and gid) of a channel's read-only segments when the channel
 * is created by root: a uid no process of a system may run as (the
 * executive refuses it in `user`), so no partition owns those inodes and
 * none can fchmod one and reopen it writable (docs/chan-abi.md). */
#define MYCO_CHAN_SEGMENT_UID 2147483646u
#define MYCO_CHAN_MAX_REGION  (1ull << 32) /* bytes in one region */

typedef struct myco_chan_config {
	myco_chan_kind_t kind;
	uint32_t msg_size;     /* max payload bytes of one message (slot size);
	                          for sample: max value size */
	uint32_t depth;        /* queue/call: slots per lane, rounded up to a
	                          power of two (>= 2) */
	myco_chan_policy_t policy; /* queue: overflow policy (default BLOCK);
	                              call requests always REJECT when full */
	uint32_t producers;    /* queue: producer lanes (1 = SPSC, >1 = MPSC) */
	uint32_t readers;      /* sample: reader slots (each gets its own wake fd) */
	uint32_t clients;      /* call: client slots */
	int64_t  block_timeout_ns; /* BLOCK: default send wait (<0 forever) */
	uint64_t refresh_ns;   /* sample: expected refresh period; a value older
	                          than this reads as stale (0 = never stale) */
	uint64_t call_timeout_ns;  /* call: default timeout of myco_chan_call() */
	uint32_t loan_block_size;  /* queue: loan pool block size in bytes
	                              (rounded up to 64), 0 = no loans */
	uint32_t loan_blocks;      /* queue: blocks in each producer's pool (a
	                              producer loans only from its own) */
	uint32_t spin;         /* default bounded spin iterations before sleeping */
	const char *name;      /* memfd name (debugging, /proc); may be NULL.
	                          Not stored; only read during create. */
} myco_chan_config_t;

/* Fill *cfg with defaults for `kind`: msg_size 64, depth 256, policy BLOCK,
 * 1 producer/reader/client, block timeout forever, refresh 0, call timeout
 * 1 s, no loans, spin 2000. */
void myco_chan_config_init(myco_chan_config_t *cfg, myco_chan_kind_t kind);

/* ------------------------------------------------------------------ */
/* Owner side                                                          */
/* ------------------------------------------------------------------ */

typedef struct myco_chan_owner myco_chan_owner_t;

/* Create a channel: its segments (memfds: a header sealed against writes, a
 * main segment written only by the consumer/server/writer, one lane segment
 * per producer/client/reader written only by that endpoint), a read-only
 * twin of every writable segment, and the eventfds it needs (one per
 * sleeping side).  Segments are sealed F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL
 * and their inodes made mode 0400 (owned by 65534 when created as root).
 * Needs /proc (the read-only twins are reopened through /proc/self/fd).
 * All fds are created O_CLOEXEC (and the eventfds EFD_NONBLOCK); the owner
 * keeps them open for the channel's whole life (so the region outlives any
 * endpoint).  Region ABI: docs/chan-abi.md.  On success *out is a new owner handle, freed with
 * myco_chan_owner_close().  Errors: -EINVAL (bad config: zero/oversized sizes,
 * too many peers, loans on a non-queue channel or with DROP_OLDEST), -ENOMEM,
 * -EMFILE and other errno from memfd_create/ftruncate/mmap/eventfd.  On
 * failure nothing is left open. */
int myco_chan_create(const myco_chan_config_t *cfg, myco_chan_owner_t **out);

/* Close every fd and the owner's mapping; endpoints that are attached keep
 * working on their own mapping.  NULL is a no-op. */
void myco_chan_owner_close(myco_chan_owner_t *o);

/* The fds that make up the capability of one endpoint (role, index), written
 * into fds[0..n-1]; returns n, or -ENOSPC if max is too small (need at most
 * MYCO_CHAN_MAX_FDS), -EINVAL for a role/index that this channel does not
 * have.  Least privilege: a producer/client/reader i gets (5 fds) the
 * header, the main segment READ-ONLY, its own lane segment read-write, the
 * main eventfd and its own; the consumer/server/writer gets (3 + 2n fds)
 * the header, the main segment read-write, every lane segment READ-ONLY,
 * the main eventfd and every lane's.  fds[0] is always the header.  The fds still belong to the owner: the
 * caller passes them to a child (inheritance or SCM_RIGHTS) and must not
 * close them.  Index: producer/reader/client slot (0-based); ignored for
 * consumer, writer, server. */
int myco_chan_cap_fds(const myco_chan_owner_t *o, myco_chan_role_t role,
                      uint32_t index, int *fds, size_t max);

/* The header segment's memfd (owned by the owner handle; sealed). */
int myco_chan_owner_memfd(const myco_chan_owner_t *o);

/* Owner-side recovery after the endpoint (role, index) died: frees the loan
 * blocks it held (loaned, not yet sent), clears its "sleeping" flags, wakes
 * its peers so they re-check, and marks its slot detached so a replacement
 * can attach.  Repair: a lane segment that is out of service or whose
 * indices are insane is reset to the consumer's committed head (the
 * messages it held are dropped) and handed back to the main side; a main
 * segment whose indices contradict the lanes is reset so that every message
 * not known done is delivered again.  Messages it sent stay queued; for a consumer/server, messages
 * it received but did not mark done stay in the ring and will be delivered
 * to the replacement.  Call only when the endpoint is known dead (waited for),
 * never while it runs.  Returns 0, -EINVAL for a bad role/index, -EPROTO if
 * the region is corrupted. */
int myco_chan_recover(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t index);

/* Call channels, owner side, while no server is attached (after
 * myco_chan_recover() of the dead or frozen server, before a replacement
 * attaches): answer every pending request with the error err (a negative
 * errno, -4095..-1) and mark it done, so that the next server does not see
 * it.  A request the dead server already answered is only marked done (one
 * server answers a lane in order, so it is one whose correlation id is at
 * most that of the lane's last reply).  A client whose reply ring is full
 * keeps its remaining requests queued for the next server.  *failed (may be
 * NULL) gets the number of error answers, *kept the requests left queued.
 * Returns 0; -EINVAL (not a call channel, or err out of range); -EBUSY (a
 * server is attached). */
int myco_chan_owner_fail_calls(myco_chan_owner_t *o, int err, uint64_t *failed,
                               uint64_t *kept);

/* Per-channel counters, aggregated over lanes.  Read racily (each field is
 * an atomic load; the set is not a snapshot). */
typedef struct myco_chan_stats {
	uint64_t sent;        /* messages published (queue/call requests) or
	                         values written (sample) */
	uint64_t done;        /* messages marked done by the receiver */
	uint64_t pending;     /* sent - done, summed over lanes */
	uint64_t dropped;     /* DROP_OLDEST drops */
	uint64_t rejected;    /* sends refused because full (REJECT, timeouts) */
	uint64_t wakeups;     /* futex/eventfd wakes issued */
	uint64_t replies;     /* call: replies published */
	uint32_t loans_in_use;/* loan blocks not free */
	uint32_t attached;    /* endpoints currently attached */
	int broken;           /* 1 if the region was found corrupted */
} myco_chan_stats_t;

/* Fill *st from the owner's mapping.  Returns 0, or -EPROTO when the region
 * header fails validation (then st->broken = 1 and the rest is zero). */
int myco_chan_owner_stats(const myco_chan_owner_t *o, myco_chan_stats_t *st);

/* Who broke the channel.  Each side can only write its own segment, so a
 * corruption is attributed: the main side reports a lane whose segment it
 * found corrupt (and stops reading that lane; the others keep working); a
 * lane side reports a corrupt main segment, which the owner confirms with
 * its own check (an unfounded report counts against the reporter). */
typedef struct myco_chan_faults {
	uint64_t lanes;    /* bit i: producer/client/reader i is at fault */
	uint64_t reports;  /* bit i: lane i's endpoint reported the main side */
	int main;          /* the consumer/server/writer is at fault */
} myco_chan_faults_t;

/* Fill *f; returns 1 if any endpoint is at fault, 0 if none.  Racy reads
 * of the segments (no syscall); cheap enough for a supervision tick.  The
 * cure: stop the faulty endpoint, then myco_chan_recover() repairs its
 * segment from the owner's geometry and a replacement can attach. */
int myco_chan_owner_faults(const myco_chan_owner_t *o, myco_chan_faults_t *f);

/* 1 if any endpoint is at fault (myco_chan_owner_faults()), 0 if not. */
int myco_chan_owner_broken(const myco_chan_owner_t *o);

/* ------------------------------------------------------------------ */
/* Endpoint side                                                       */
/* ------------------------------------------------------------------ */

typedef struct myco_chan myco_chan_t;

typedef struct myco_chan_attach_opts {
	uint32_t spin;   /* bounded spin iterations before sleeping;
	                    UINT32_MAX = use the channel's configured default */
	int flags;       /* reserved, 0 */
} myco_chan_attach_opts_t;

/* Attach an endpoint from the fds of its capability (as listed by
 * myco_chan_cap_fds(), same order).  The region header is validated and the
 * geometry copied into the handle (never re-read from shared memory).  The
 * fds stay owned by the caller (attach duplicates what it keeps), so the
 * caller may close them afterwards.  index: producer/reader/client slot or
 * MYCO_CHAN_ANY for the first free one.  opts may be NULL.  *out is freed
 * with myco_chan_close().  Errors: -EINVAL (wrong fd count, role not valid
 * for this kind), -EPROTO (header invalid), -MYCO_EVERSION (format version),
 * -EBUSY (slot already attached, or no free slot), -ENOMEM, errno of mmap. */
int myco_chan_attach(const int *fds, size_t nfds, myco_chan_role_t role,
                     uint32_t index, const myco_chan_attach_opts_t *opts,
                     myco_chan_t **out);

/* Detach and free.  Loans still held are released; messages received but not
 * done stay undone (a later consumer gets them again).  NULL is a no-op. */
void myco_chan_close(myco_chan_t *ch);

/* Kind, role and slot index of an attached endpoint; max payload size. */
myco_chan_kind_t myco_chan_kind(const myco_chan_t *ch);
myco_chan_role_t myco_chan_role(const myco_chan_t *ch);
uint32_t myco_chan_index(const myco_chan_t *ch);
size_t myco_chan_msg_size(const myco_chan_t *ch);

/* Change the bounded spin before sleeping (0 = sleep at once). */
void myco_chan_set_spin(myco_chan_t *ch, uint32_t spin);

/* 1 if broken, else 0.  A producer/client/reader is broken when it found
 * the main segment corrupt or the main side put its lane out of service; the
 * consumer/server/writer only when every lane is out of service. */
int myco_chan_broken(const myco_chan_t *ch);

/* Main side: the lanes it found corrupt and no longer reads (bit i), until
 * the owner repairs them; 0 for a lane side. */
uint64_t myco_chan_lanes_out(const myco_chan_t *ch);

/* Counters as seen from this endpoint's mapping. */
int myco_chan_stats(const myco_chan_t *ch, myco_chan_stats_t *st);

/* ---- Messages (queue and call) ---------------------------------- */

/* Message flags (myco_chan_msg_t.flags). */
#define MYCO_CHAN_MSG_LOAN  0x1u  /* payload lives in a loan block */
#define MYCO_CHAN_MSG_REPLY 0x2u  /* call: this is a reply */
#define MYCO_CHAN_MSG_ERROR 0x4u  /* call: an error answer in place of a
                                     reply (myco_chan_owner_fail_calls()) */

/* A received message, handed out IN PLACE.  `data` points into the shared
 * region and stays valid until myco_chan_done() for this message (or a later
 * one of the same lane), or myco_chan_close().  The bytes are untrusted: the
 * peer may change them while you read (copy what you must validate).
 * len is already checked to be <= the slot/loan capacity. */
typedef struct myco_chan_msg {
	const void *data;
	size_t len;
	uint64_t seq;     /* per-lane sequence number, 1, 2, 3 ... (dedupe key
	                     together with lane) */
	uint64_t corr;    /* call: correlation id; 0 otherwise */
	uint32_t lane;    /* producer / client index it came from */
	uint32_t flags;   /* MYCO_CHAN_MSG_* */
	uint64_t pos_;    /* private: ring position */
} myco_chan_msg_t;

/* Producer (queue) or client (call, raw request without waiting): copy one
 * message of len <= msg_size into the next slot and publish it.  Full ring:
 * BLOCK waits up to the configured block_timeout_ns (then -ETIMEDOUT),
 * REJECT returns -EAGAIN, DROP_OLDEST drops the oldest message and
 * succeeds.  Errors: -EMSGSIZE, -EPERM (wrong role), -EPROTO. */
int myco_chan_send(myco_chan_t *ch, const void *buf, size_t len);

/* As myco_chan_send() with an explicit wait for BLOCK (0 = -EAGAIN at once). */
int myco_chan_send_timeout(myco_chan_t *ch, const void *buf, size_t len,
                           int64_t timeout_ns);

/* Send up to n messages (one per iovec) with one publication.  Returns the
 * number sent (>= 1), or a negative errno if none could be sent (same rules
 * as send; BLOCK waits only for the first slot). */
int myco_chan_send_batch(myco_chan_t *ch, const struct iovec *msgs, size_t n);

/* Zero-copy send into the ring slot itself: reserve gives a pointer to the
 * next slot's payload (capacity msg_size), publish makes it visible with
 * length len.  Between the two calls no other send may be made on ch.
 * Reserve follows the overflow policy like send (timeout as in
 * send_timeout).  Returns 0 or a negative errno. */
int myco_chan_reserve(myco_chan_t *ch, void **slot, int64_t timeout_ns);
int myco_chan_publish(myco_chan_t *ch, size_t len);

/* Consumer (queue) or server (call): hand out the next message in place
 * without consuming it.  MPSC lanes are served round-robin; each lane is
 * FIFO.  Returns 0, -EAGAIN (nothing and timeout 0), -ETIMEDOUT, -EPROTO,
 * -EPERM (wrong role).  Calling recv again before done hands out the NEXT
 * message (messages are held until done). */
int myco_chan_recv(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t timeout_ns);

/* Hand out up to max messages in place; returns the count (>= 1) or a
 * negative errno as recv.  Waits only when none is available. */
int myco_chan_recv_batch(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max,
                         int64_t timeout_ns);

/* Mark msg and every earlier message of its lane done: the lane's consumer
 * index moves past it, its slot (and loan block) may be reused, and a
 * replacement consumer will not see it again.  Returns 0; -ESTALE if, under
 * DROP_OLDEST, the message was overwritten while held (what you read may be
 * torn: discard it); -EINVAL if msg is not held; -EPROTO. */
int myco_chan_done(myco_chan_t *ch, const myco_chan_msg_t *msg);

/* Mark every message handed out so far done (all lanes).  Same errors. */
int myco_chan_done_all(myco_chan_t *ch);

/* recv + copy into buf + done, for callers that want a private copy.
 * Returns the message length; -EMSGSIZE (message kept, not done) if cap is
 * too small; otherwise as recv.  *info (may be NULL) gets seq/lane/corr/flags
 * with data = NULL. */
int myco_chan_recv_copy(myco_chan_t *ch, void *buf, size_t cap,
                        myco_chan_msg_t *info, int64_t timeout_ns);

/* ---- Sample ------------------------------------------------------ */

typedef struct myco_chan_sample_info {
	size_t len;       /* bytes of the value */
	uint64_t seq;     /* write number, 1, 2, ...; 0 = never written */
	uint64_t age_ns;  /* now - time of write (CLOCK_MONOTONIC) */
	int stale;        /* 1 if refresh_ns > 0 and age_ns > refresh_ns */
} myco_chan_sample_info_t;

/* Writer: publish a new value (len <= msg_size).  Never blocks; readers that
 * sleep are woken.  Returns 0, -EMSGSIZE, -EPERM, -EPROTO. */
int myco_chan_sample_write(myco_chan_t *ch, const void *buf, size_t len);

/* Reader: copy the latest value into buf (never torn).  Returns 0, -ENODATA
 * (never written), -EMSGSIZE (cap too small; info->len tells the size),
 * -EBUSY (the writer overwrote every buffer during a bounded number of
 * retries), -EPROTO. */
int myco_chan_sample_read(myco_chan_t *ch, void *buf, size_t cap,
                          myco_chan_sample_info_t *info);

/* Reader: wait until a value newer than last_seq exists.  Returns 0,
 * -EAGAIN / -ETIMEDOUT, -EPROTO. */
int myco_chan_sample_wait(myco_chan_t *ch, uint64_t last_seq, int64_t timeout_ns);

/* ---- Call -------------------------------------------------------- */

/* Client: send req, wait for the matching reply and copy it into rep.
 * timeout_ns < 0 uses the configured call_timeout_ns.  Returns 0 with
 * *rep_len set; -ETIMEDOUT (a late reply is discarded when it arrives);
 * -EAGAIN (request ring full); -EMSGSIZE (reply larger than rep_cap: the
 * reply is consumed, *rep_len tells its size); -EPROTO; or the error
 * answer the owner gave in the server's place (myco_chan_owner_fail_calls();
 * *rep_len = 0): the executive answers -ECONNRESET when the server
 * instance that held the request was replaced and the channel's policy is
 * to fail in-flight calls (`inflight fail;`, docs/immune.md): the request
 * may or may not have been handled, and no other answer to it will come. */
int myco_chan_call(myco_chan_t *ch, const void *req, size_t req_len,
                   void *rep, size_t rep_cap, size_t *rep_len, int64_t timeout_ns);

/* Client, split form: send a request and get its correlation id ... */
int myco_chan_call_send(myco_chan_t *ch, const void *req, size_t len, uint64_t *corr);
/* ... then wait for the reply to corr (replies to other ids are discarded). */
int myco_chan_call_wait(myco_chan_t *ch, uint64_t corr, void *rep, size_t rep_cap,
                        size_t *rep_len, int64_t timeout_ns);

/* Server: reply to a request obtained with myco_chan_recv() (uses req->lane
 * and req->corr).  Never blocks: if the client's reply ring is full the
 * reply is dropped and -EAGAIN returned.  Does not mark the request done
 * (call myco_chan_done() after replying, so that a replacement server
 * re-handles an unanswered request; clients drop duplicate replies).
 * Returns 0, -EMSGSIZE, -EINVAL (bad lane), -EPROTO. */
int myco_chan_reply(myco_chan_t *ch, const myco_chan_msg_t *req,
                    const void *rep, size_t len);

/* ---- Loans (queue channels created with loan_blocks > 0) --------- */

typedef struct myco_chan_loan {
	void *data;       /* writable payload, cap bytes, inside the region */
	size_t cap;       /* >= requested size (whole blocks) */
	uint32_t block_;  /* private: first block */
	uint32_t nblocks_;/* private */
	uint32_t gen_;    /* private */
} myco_chan_loan_t;

/* Producer: borrow ceil(size / block_size) contiguous blocks from the pool.
 * The loan belongs to this endpoint until sent or cancelled (the owner's
 * myco_chan_recover() frees it if we die).  Returns 0, -ENOBUFS (no run of
 * free blocks large enough), -EMSGSIZE (size larger than the pool),
 * -ENOTSUP (channel has no pool), -EPERM, -EPROTO. */
int myco_chan_loan(myco_chan_t *ch, size_t size, myco_chan_loan_t *loan);

/* Producer: send a reference to the loan with payload length len (<= cap)
 * as one message (policy and timeout as myco_chan_send()).  On success the
 * blocks belong to the channel; on failure they stay loaned to us. */
int myco_chan_loan_send(myco_chan_t *ch, myco_chan_loan_t *loan, size_t len);

/* Producer: give an unsent loan back. */
int myco_chan_loan_cancel(myco_chan_t *ch, myco_chan_loan_t *loan);

/* Consumer: a received message with MYCO_CHAN_MSG_LOAN has data pointing into
 * the loan block (read in place).  Release = done for that message: the
 * blocks return to the pool.  Same returns as myco_chan_done(). */
int myco_chan_loan_release(myco_chan_t *ch, const myco_chan_msg_t *msg);

/* ---- Waiting and event loops ------------------------------------- */

/* The eventfd this endpoint is woken through (owned by ch; do not close).
 * Readable after myco_chan_arm() returned 0 and a peer made progress. */
int myco_chan_fd(const myco_chan_t *ch);

/* Syscall-free check: 1 if the operation this endpoint waits for would not
 * block now (consumer/server: a message is available; producer/client: a
 * slot is free, client: a reply is waiting; reader: a value newer than the
 * last one read), 0 if not, -EPROTO if broken. */
int myco_chan_ready(myco_chan_t *ch);

/* Event loops: arm asks peers to signal myco_chan_fd() on progress, then
 * re-checks.  Returns 1 if already ready (do not sleep; stays armed), 0 if
 * armed and not ready (safe to wait on the fd), or -EPROTO.  Arming drains
 * the eventfd.  Disarm stops the signals (no syscall). */
int myco_chan_arm(myco_chan_t *ch);
int myco_chan_disarm(myco_chan_t *ch);

/* Block (spin, then futex) until myco_chan_ready() or the timeout.  Returns
 * 0 when ready, -ETIMEDOUT / -EAGAIN (timeout 0), -EPROTO. */
int myco_chan_wait(myco_chan_t *ch, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_CHAN_H */
