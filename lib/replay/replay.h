/*
 * replay.h: record and replay, shared-internal (never installed).  Three
 * users, one vocabulary:
 *   - the partition side of libmyco (lib/replay/rec.c): records what a
 *     partition receives through libmyco into a shared-memory ring that the
 *     executive owns (capability `record/ring:FD`), and in replay mode
 *     (environment MYCO_REPLAY=LOG) serves the partition's channels, clock
 *     and random numbers from a log instead;
 *   - the executive (exec/record.c): creates the rings, drains them on the
 *     collector's tick into the log (lib/replay/log.c), keeps the last
 *     window on a crash;
 *   - `myco replay` (cmd/myco/replay_cmds.c): loads a log and runs the
 *     partition's program against it.
 * The ring ABI and the log format are docs/replay-format.md; the guide is
 * docs/replay.md.
 *
 * The lib/chan hook (lib/chan/hook.c, the only place): every public channel
 * operation that moves data is a wrapper
 *     if (__builtin_expect(ch->rec != NULL, 0)) return ch->rec->OP(ch, ...);
 *     return myco__chan_OP_raw(ch, ...);
 * so a channel that is not recorded costs one load of a field of the
 * handle and one predictable branch.  ch->rec is set only by lib/replay
 * (myco__rec_bind()).  The clock and random hooks are the same shape
 * (lib/common/clock.c: myco__clock_hook, myco__random_hook).
 */
#ifndef MYCO_REPLAY_H
#define MYCO_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "myco/chan.h"

/* ---- record types (ring and log share the bodies; docs/replay-format.md) */

enum myco__rec_type {
	MYCO__REC_PAD = 0,      /* ring only: skip to the end of the ring */
	MYCO__REC_START = 1,    /* start-up inputs: exe, cwd, argv, environment */
	MYCO__REC_OPEN = 2,     /* myco_chan_open(): name, role, index, kind, msg_size, rc */
	MYCO__REC_RECV = 3,     /* a receive: rc, lane, seq, receive time, payload */
	MYCO__REC_SEND = 4,     /* a send / publish / call request / reply: rc, len, hash, payload */
	MYCO__REC_REPLY = 5,    /* a call reply the client received: rc, corr, payload */
	MYCO__REC_CLOCK = 6,    /* myco_now() as the partition saw it */
	MYCO__REC_RANDOM = 7,   /* myco_random() */
	MYCO__REC_SAMPLE = 8,   /* myco_chan_sample_read(): rc, seq, age, value */
	MYCO__REC_DONE = 9,     /* myco_chan_done() that did not return 0: rc */
	MYCO__REC_GAP = 10,     /* log only: the executive lost records here (overrun count) */
	MYCO__REC_CRASH = 11,   /* log only: how the process ended (signal, status) */
	MYCO__REC_WAKE = 12,    /* the runtime woke a coroutine or fired a timer (lib/rt) */
	MYCO__REC_CWAIT = 13,   /* myco_co_chan_wait() returned (lib/rt): rc */
	MYCO__REC_JOIN = 14,    /* log only: recording was turned on while the process ran;
				 * what follows before its first input answers inputs
				 * that were not recorded (body: value 0) */
	MYCO__REC_NTYPES
};

/* Bytes of a sent payload kept in a SEND record beyond its hash (the
 * divergence report shows them; the comparison uses length + hash + these),
 * and the 256-byte blocks after them whose own hashes it keeps (log
 * version 2: a difference is placed to the byte in the first 256, to the
 * block up to 16.25 KiB, beyond that only by the whole payload's hash). */
#define MYCO__REC_SEND_KEEP 256u
#define MYCO__REC_SEND_BLOCKS 64u

/* ---- the operations the lib/chan hook forwards to ----------------------- */

struct myco__rec_ops {
	int (*send)(myco_chan_t *ch, const void *buf, size_t len, int64_t timeout_ns);
	int (*send_batch)(myco_chan_t *ch, const struct iovec *msgs, size_t n);
	int (*reserve)(myco_chan_t *ch, void **slot, int64_t timeout_ns);
	int (*publish)(myco_chan_t *ch, size_t len);
	int (*recv)(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t timeout_ns);
	int (*recv_batch)(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max,
			  int64_t timeout_ns);
	int (*done)(myco_chan_t *ch, const myco_chan_msg_t *msg);
	int (*done_all)(myco_chan_t *ch);
	int (*reply)(myco_chan_t *ch, const myco_chan_msg_t *req, const void *buf,
		     size_t len);
	int (*call_wait)(myco_chan_t *ch, uint64_t corr, void *rep, size_t rep_cap,
			 size_t *rep_len, int64_t timeout_ns);
	int (*sample_write)(myco_chan_t *ch, const void *buf, size_t len);
	int (*sample_read)(myco_chan_t *ch, void *buf, size_t cap,
			   myco_chan_sample_info_t *info);
	void (*close)(myco_chan_t *ch);
	/* replay mode only (NULL when recording): the program used the handle
	 * in a way the log cannot serve (its fd, readiness, a wait of its
	 * own); ends the replay as not replayable, saying WHAT */
	void (*not_served)(const char *what) __attribute__((noreturn));
};

/* A handle served from a log (replay mode): the channel calls outside the
 * hook that would touch a ring (readiness, fds, loans, stats) test this
 * and answer for the log or refuse (ch->rec->not_served). */
#define MYCO__REC_REPLAYED(ch) \
	__builtin_expect((ch)->rec != NULL && (ch)->rec->not_served != NULL, 0)

/* ---- the runtime's hooks (lib/rt; docs/replay.md "Programs on the runtime")
 *
 * A program on lib/rt is one thread per loop; what decides its run order
 * beyond the channel records is when the loop woke what.  Recording, the
 * loop writes a WAKE record for every wake-up that comes from outside the
 * program's own code (an io_uring completion, a timer that expired), with
 * the number of coroutines it had switched in so far ("picks"); a channel
 * wait writes its result (CWAIT).  Replaying, the loop never sleeps and
 * never reads the clock for its timers: at each point where the recorded
 * loop could have been woken it performs the WAKE records at the head of
 * the log whose picks match its own; a channel wait parks until the next
 * record is its own CWAIT and then returns the recorded result. */

enum myco__rt_wake {
	MYCO__RTW_CHAN = 1,     /* a coroutine's channel wait was woken (readiness) */
	MYCO__RTW_TIMEOUT = 2,  /* a coroutine's park timed out (sleep, timeout) */
	MYCO__RTW_TIMER = 3,    /* a myco_timer_t callback fired */
	MYCO__RTW_IO = 4,       /* another I/O completion (socket, file): not replayable */
	MYCO__RTW_POST = 5,     /* work posted by another thread ran: not replayable */
};

/* 1 while recording with a ring attached, 2 while replaying, else 0: the
 * runtime's one load and branch. */
extern int myco__rec_rt;

/* Record mode: append a WAKE / CWAIT record (only when the ring is on). */
void myco__rec_rt_wake(unsigned kind, unsigned loop, uint32_t serial, uint64_t picks);
void myco__rec_rt_cwait(uint16_t chan, uint32_t serial, int rc);

/* Replay mode.  The head of the log as a wake: 1 and *W if the next record
 * is a WAKE, 0 otherwise. */
struct myco__rb_wake;
int myco__rec_rt_peek(struct myco__rb_wake *w);
/* Consume the WAKE at the head (after peek returned 1). */
void myco__rec_rt_take_wake(void);
/* 1 if the next record is the CWAIT of coroutine SERIAL on channel CHAN
 * (its wait returns now), 0 if not (it parks: the recorded one did). */
int myco__rec_rt_cwait_next(uint16_t chan, uint32_t serial);
/* The CWAIT record of channel CHAN: its rc (diverges if it is not next). */
int myco__rec_rt_cwait_take(uint16_t chan);
/* The loop has nothing to run and no wake at the head: the log is done
 * (complete) or the replay cannot go on (diverged).  Never returns. */
void myco__rec_rt_stalled(unsigned loop, uint64_t picks) __attribute__((noreturn));
/* The program did something replay cannot reproduce: report "not
 * replayable" with the reason and end the replay (diverged).  Never
 * returns. */
void myco__rec_refuse(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));

/* ---- partition side (lib/replay/rec.c) ---------------------------------- */

/* Record mode: map the ring handed over as `record/ring:FD` and write the
 * START record.  0 or -errno (the partition then runs unrecorded). */
int myco__rec_attach(int fd);

/* Replay mode (MYCO_REPLAY set by `myco replay`): load the log.  0 or
 * -errno with a message in ERR. */
int myco__rec_replay_init(const char *log, char *err, size_t cap);

/* 1 in replay mode. */
int myco__rec_replaying(void);

/* Replay mode: the program made a libmyco call that is not recorded
 * (myco_heartbeat): if every record of the log has been served, the
 * replay is complete (a program that idles after its last input would
 * otherwise never reach the log's end).  Returns if not. */
void myco__rec_replay_idle(void);

/* myco_chan_open() of NAME returned RC and CH (record mode): write the OPEN
 * record and bind CH to the recorder. */
void myco__rec_opened(const char *name, int rc, myco_chan_t *ch);

/* Replay mode: myco_chan_open() of NAME served from the log. */
int myco__rec_replay_open(const char *name, myco_chan_t **out);

/* Bind CH to OPS (NULL unbinds).  Sets the handle's hook pointer and the
 * channel number that records carry. */
void myco__rec_bind(myco_chan_t *ch, const struct myco__rec_ops *ops, uint16_t id);
uint16_t myco__rec_chan_id(const myco_chan_t *ch);

/* The hash in SEND records (log version 2): each 256-byte block hashed
 * eight bytes a step, the block hashes folded.  BLK (may be NULL) gets the
 * hashes of blocks 1 .. MYCO__REC_SEND_BLOCKS (the bytes after the first
 * 256), *NBLK how many. */
uint64_t myco__rec_hash(const void *p, size_t n, uint64_t *blk, unsigned *nblk);

#endif /* MYCO_REPLAY_H */
