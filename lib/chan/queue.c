/*
 * queue.c: the ring protocol shared by queue channels (producer/consumer)
 * and call channels (client requests, server replies): claim a slot under
 * the overflow policy, publish with a release store of tail, hand messages
 * out in place, commit with `done`, and the call request/reply layer.
 * Not for: sample channels (sample.c) or the loan pool (loan.c).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "chan_int.h"

#define SH_LD(f) __atomic_load_n(&(f), __ATOMIC_RELAXED)
#define SH_ST(f, v) __atomic_store_n(&(f), (v), __ATOMIC_RELAXED)
#define DROP_TRIES 256   /* bound on CAS retries against a racing peer */

static bool is_drop(const struct myco_chan *ch)
{
	return ch->g.policy == MYCO_CHAN_DROP_OLDEST;
}

static bool is_sender(const struct myco_chan *ch)
{
	return ch->role == MYCO_CHAN_PRODUCER || ch->role == MYCO_CHAN_CLIENT;
}

static bool is_receiver(const struct myco_chan *ch)
{
	return ch->role == MYCO_CHAN_CONSUMER || ch->role == MYCO_CHAN_SERVER;
}

static uint64_t lanes_all(const struct myco_chan *ch)
{
	return ch->g.nlanes == 64 ? UINT64_MAX : (UINT64_C(1) << ch->g.nlanes) - 1;
}

/* ---------------------------------------------------------------- */
/* Sending side                                                      */
/* ---------------------------------------------------------------- */

/* Reload the consumer's head of our lane (main segment, read-only to us);
 * validate it against our own tail.  Under DROP_OLDEST the effective head
 * is the larger of it and our own dhead. */
static int load_head(struct myco_chan *ch)
{
	uint64_t h = atomic_load_explicit(&chan_mlane(ch, ch->index)->head,
	                                  memory_order_acquire);

	if (h > ch->tail)
		return myco__chan_corrupt(ch);
	if (h < ch->dhead)
		h = ch->dhead;
	if (ch->tail - h > ch->g.depth || h < ch->head_cache)
		return myco__chan_corrupt(ch);
	ch->head_cache = h;
	return 0;
}

int myco__chan_ready_space(struct myco_chan *ch)
{
	int rc;

	if (ch->broken)
		return -EPROTO;
	if (is_drop(ch) || ch->tail - ch->head_cache < ch->g.depth)
		return 1;
	rc = load_head(ch);
	if (rc)
		return rc;
	return ch->tail - ch->head_cache < ch->g.depth;
}

/* Make room for `want` messages (want <= depth) under the policy.  Returns
 * the number of free slots (>= 1) or a negative errno. */
static int claim(struct myco_chan *ch, uint32_t want, int64_t timeout_ns)
{
	struct chan_lane *l = chan_lane(ch, ch->index);
	uint64_t free;
	int rc;

	if (ch->broken)
		return -EPROTO;
	if (ch->reserved)
		return -EBUSY;
	free = ch->g.depth - (ch->tail - ch->head_cache);
	if (free >= want)
		return (int)(want);
	if ((rc = load_head(ch)) != 0)
		return rc;
	free = ch->g.depth - (ch->tail - ch->head_cache);
	if (free >= want || (free > 0 && !is_drop(ch)))
		return (int)(free < want ? free : want);
	if (is_drop(ch)) {
		/* Drop the oldest messages until `want` fit: the effective head
		 * must reach tail + want - depth.  We cannot write the
		 * consumer's head (read-only to us): we publish our own dhead
		 * (release, before any slot below it is rewritten); the
		 * consumer's effective head is max(head, dhead). */
		uint64_t need = ch->tail + want - ch->g.depth;

		if (ch->head_cache < need) {
			atomic_store_explicit(&l->dhead, need, memory_order_release);
			atomic_fetch_add_explicit(&l->dropped, need - ch->head_cache,
			                          memory_order_relaxed);
			ch->dhead = ch->head_cache = need;
			MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_OVERFLOW, ch->trace_id, ch->tail,
				(uint64_t)ch->index << 32 | MYCO_CHAN_DROP_OLDEST);
		}
		return (int)want;
	}
	if (ch->g.policy == MYCO_CHAN_REJECT || timeout_ns == 0) {
		atomic_fetch_add_explicit(&l->rejected, 1, memory_order_relaxed);
		MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_OVERFLOW, ch->trace_id, ch->tail,
			(uint64_t)ch->index << 32 | MYCO_CHAN_REJECT);
		return -EAGAIN;
	}
	rc = myco__chan_wait_for(ch, myco__chan_ready_space, timeout_ns);
	if (rc < 0) {
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			atomic_fetch_add_explicit(&l->rejected, 1, memory_order_relaxed);
		return rc;
	}
	free = ch->g.depth - (ch->tail - ch->head_cache);
	return (int)(free < want ? free : want);
}

/* Copy a payload into a slot: a fixed 64-byte copy is a few vector moves
 * the compiler inlines, a variable one is a libc call (the batched 64-byte
 * path spent a fifth of its instructions in that call). */
static inline void payload_in(void *dst, const void *src, size_t len)
{
	if (len == 64)
		memcpy(dst, src, 64);
	else if (len)
		memcpy(dst, src, len);
}

/* Write one message into the slot at position pos (not yet published). */
static void slot_write(struct myco_chan *ch, uint64_t pos, const void *buf, size_t len,
                       uint32_t flags, uint32_t lblock, uint32_t lgen)
{
	struct chan_slot *s = chan_slot(ch, ch->index, pos);

	if (is_drop(ch)) {
		/* seqlock: a consumer holding this slot sees seq change; the
		 * release store also publishes our head CAS to whoever reads 0 */
		atomic_store_explicit(&s->seq, 0, memory_order_release);
		atomic_thread_fence(memory_order_release);
		if (len)
			myco__chan_copy_in(s + 1, buf, len);
	} else if (buf) {
		payload_in(s + 1, buf, len);
	}
	SH_ST(s->len, (uint32_t)len);
	SH_ST(s->flags, flags);
	SH_ST(s->corr, ch->g.kind == MYCO_CHAN_CALL ? pos + 1 : 0);
	SH_ST(s->loan_block, lblock);
	SH_ST(s->loan_gen, lgen);
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

/* Write n messages of a BLOCK/REJECT ring at positions tail .. tail+n-1 (all
 * claimed, not yet published): the loop of slot_write() without its
 * per-message policy tests and slot address arithmetic.  Same stores, same
 * order per slot (header fields relaxed, then seq release); the caller
 * publishes tail once for the whole batch. */
static void slots_write_batch(struct myco_chan *ch, const struct iovec *msgs, size_t n)
{
	uint8_t *ring = chan_ring(ch, ch->index);
	uint64_t mask = ch->g.depth - 1, stride = ch->g.stride, pos = ch->tail;
	uint64_t cmask = ch->g.kind == MYCO_CHAN_CALL ? UINT64_MAX : 0;
	size_t i;

	for (i = 0; i < n; i++, pos++) {
		struct chan_slot *s = (struct chan_slot *)(ring + (pos & mask) * stride);
		size_t len = msgs[i].iov_len;

		payload_in(s + 1, msgs[i].iov_base, len);
		SH_ST(s->len, (uint32_t)len);
		SH_ST(s->flags, 0u);
		SH_ST(s->corr, (pos + 1) & cmask);
		SH_ST(s->loan_block, 0u);
		SH_ST(s->loan_gen, 0u);
		atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	}
	ch->tail = pos;
}

static void publish(struct myco_chan *ch)
{
	atomic_store_explicit(&chan_lane(ch, ch->index)->tail, ch->tail, memory_order_release);
	myco__chan_wake_main(ch, ch->index);
}

/* One chan.send event for a published batch: its last message number and
 * the bytes of all of it (tracing on only). */
static void trace_batch(struct myco_chan *ch, const struct iovec *msgs, size_t n)
{
	uint64_t bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += msgs[i].iov_len;
	myco_trace_emit(MYCO_EV_CHAN_SEND, ch->trace_id, ch->tail,
			(uint64_t)ch->index << 32 | (bytes & 0xffffffffu), NULL);
}

/* chan.recv events for a batch handed out (tracing on only): one per run of
 * messages from one lane, naming its last message and the run's bytes, so
 * a large batch costs one event, not one per message. */
static void trace_recv(struct myco_chan *ch, const myco_chan_msg_t *m, int n)
{
	uint64_t bytes = 0;

	for (int i = 0; i < n; i++) {
		bytes += m[i].len;
		if (i + 1 < n && m[i + 1].lane == m[i].lane)
			continue;
		myco_trace_emit(MYCO_EV_CHAN_RECV, ch->trace_id, m[i].seq,
				(uint64_t)m[i].lane << 32 | (bytes & 0xffffffffu), NULL);
		bytes = 0;
	}
}

int myco__chan_send_raw(myco_chan_t *ch, const void *buf, size_t len, int64_t timeout_ns)
{
	int rc;

	if (!is_sender(ch))
		return -EPERM;
	if (len > ch->g.msg_size)
		return -EMSGSIZE;
	rc = claim(ch, 1, timeout_ns);
	if (rc < 0)
		return rc;
	slot_write(ch, ch->tail, buf, len, 0, 0, 0);
	ch->tail++;
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_SEND, ch->trace_id, ch->tail,
		(uint64_t)ch->index << 32 | len);
	publish(ch);
	return 0;
}

int myco_chan_send(myco_chan_t *ch, const void *buf, size_t len)
{
	return myco_chan_send_timeout(ch, buf, len, ch->g.block_timeout_ns);
}

int myco__chan_send_batch_raw(myco_chan_t *ch, const struct iovec *msgs, size_t n)
{
	uint32_t want;
	size_t i;
	int rc;

	if (!is_sender(ch))
		return -EPERM;
	if (n == 0)
		return -EINVAL;
	/* Send the messages before the first one that is too long (the
	 * return value says how many went; the caller retries from there). */
	for (i = 0; i < n; i++)
		if (msgs[i].iov_len > ch->g.msg_size)
			break;
	if (i == 0)
		return -EMSGSIZE;
	n = i;
	want = n > ch->g.depth ? ch->g.depth : (uint32_t)n;
	rc = claim(ch, want, ch->g.block_timeout_ns);
	if (rc < 0)
		return rc;
	if (!is_drop(ch)) {
		slots_write_batch(ch, msgs, (size_t)rc);
	} else {
		for (i = 0; i < (size_t)rc; i++) {
			slot_write(ch, ch->tail, msgs[i].iov_base, msgs[i].iov_len, 0, 0, 0);
			ch->tail++;
		}
	}
	if (myco_trace_on(MYCO_TRACE_CHAN))
		trace_batch(ch, msgs, (size_t)rc);
	publish(ch);   /* one release store of tail (and one wake check) per batch */
	return rc;
}

int myco__chan_reserve_raw(myco_chan_t *ch, void **slot, int64_t timeout_ns)
{
	struct chan_slot *s;
	int rc;

	*slot = NULL;
	if (!is_sender(ch))
		return -EPERM;
	rc = claim(ch, 1, timeout_ns);
	if (rc < 0)
		return rc;
	s = chan_slot(ch, ch->index, ch->tail);
	if (is_drop(ch)) {
		atomic_store_explicit(&s->seq, 0, memory_order_release);
		atomic_thread_fence(memory_order_release);
	}
	ch->reserved = 1;
	*slot = s + 1;
	return 0;
}

int myco__chan_publish_raw(myco_chan_t *ch, size_t len)
{
	if (!ch->reserved)
		return -EINVAL;
	if (len > ch->g.msg_size)
		return -EMSGSIZE;
	ch->reserved = 0;
	if (ch->broken)
		return -EPROTO;
	slot_write(ch, ch->tail, NULL, len, 0, 0, 0);
	ch->tail++;
	publish(ch);
	return 0;
}

/* Used by loan.c: claim, write a loan reference, mark blocks sent, publish. */
int myco__chan_send_loan(struct myco_chan *ch, uint32_t first, uint32_t run,
                         uint32_t gen, size_t len)
{
	au64 *ld = chan_ldesc(ch, ch->index);
	uint32_t i;
	int rc;

	rc = claim(ch, 1, ch->g.block_timeout_ns);
	if (rc < 0)
		return rc;
	slot_write(ch, ch->tail, NULL, len, MYCO_CHAN_MSG_LOAN, first, gen);
	/* Our own descriptors (nobody else writes them but the owner's
	 * recovery after our death): loaned -> sent, published by the
	 * release store of tail. */
	for (i = 0; i < run; i++) {
		uint64_t d = atomic_load_explicit(&ld[first + i], memory_order_relaxed);

		if (d != LD_MAKE(LD_LOANED, ch->index, i ? 0 : run, gen))
			return myco__chan_corrupt(ch);
		atomic_store_explicit(&ld[first + i],
		                      LD_MAKE(LD_SENT, ch->index, i ? 0 : run, gen),
		                      memory_order_relaxed);
	}
	ch->tail++;
	publish(ch);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Receiving side                                                    */
/* ---------------------------------------------------------------- */

/* Load lane's tail and validate it against our committed head. */
static int load_tail(struct myco_chan *ch, uint32_t lane, uint64_t *tail)
{
	struct chan_lane *l = chan_lane(ch, lane);
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);

	if (is_drop(ch)) {
		/* The producer drops by moving its dhead; the effective head is
		 * h = max(dhead, our committed head).  Read tail (t1), dhead,
		 * tail again (t): when dhead was read the true tail was in
		 * [t1, t], so dhead <= t and t1 <= h + depth, whatever happened
		 * in between (checking t - h <= depth instead reports
		 * corruption falsely: found by lib/chan/verify/chan_drop.pml).
		 * Positions below max(h, t - depth) are dropped: skip them. */
		uint64_t t1 = t;
		uint64_t h = atomic_load_explicit(&l->dhead, memory_order_acquire);

		t = atomic_load_explicit(&l->tail, memory_order_acquire);
		if (h > t)
			return myco__chan_lane_corrupt(ch, lane);
		if (h < ch->chead[lane])
			h = ch->chead[lane];
		if (t1 > h + ch->g.depth)
			return myco__chan_lane_corrupt(ch, lane);
		if (ch->rpos[lane] < h)
			ch->rpos[lane] = h;
		if (t > ch->g.depth && ch->rpos[lane] < t - ch->g.depth)
			ch->rpos[lane] = t - ch->g.depth;
		ch->chead[lane] = h;
	} else if (t < ch->chead[lane] || t - ch->chead[lane] > ch->g.depth) {
		return myco__chan_lane_corrupt(ch, lane);
	}
	if (t < ch->tail_cache[lane])
		return myco__chan_lane_corrupt(ch, lane);   /* tail never goes back */
	ch->tail_cache[lane] = t;
	*tail = t;
	return 0;
}

int myco__chan_ready_recv(struct myco_chan *ch)
{
	uint32_t i;
	uint64_t t;

	if (ch->broken)
		return -EPROTO;
	for (i = 0; i < ch->g.nlanes; i++) {
		if (ch->lbroken && myco__chan_lane_out(ch, i))
			continue;
		if (ch->rpos[i] < ch->tail_cache[i])
			return 1;
		if (load_tail(ch, i, &t))
			continue;      /* that lane is out of service now */
		if (ch->rpos[i] < t)
			return 1;
	}
	if (ch->lbroken && ch->lbroken == lanes_all(ch))
		return -EPROTO;
	return 0;
}

/* Hand out the next message of `lane` if there is one: 1, 0 (none) or
 * -EPROTO. */
static int take(struct myco_chan *ch, uint32_t lane, myco_chan_msg_t *m)
{
	int tries;

	for (tries = 0; tries < DROP_TRIES; tries++) {
		uint64_t pos = ch->rpos[lane], t, seq;
		struct chan_slot *s;
		uint32_t len, flags;
		int rc;

		if (pos >= ch->tail_cache[lane] || is_drop(ch)) {
			rc = load_tail(ch, lane, &t);
			if (rc)
				return rc;
			pos = ch->rpos[lane];
			if (pos >= t)
				return 0;
		}
		s = chan_slot(ch, lane, pos);
		seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		len = SH_LD(s->len);
		flags = SH_LD(s->flags);
		if (seq != pos + 1) {
			/* DROP_OLDEST: the producer moves head past a slot (CAS)
			 * before it touches it (seq = 0, release), so a changed
			 * seq with head still at or before pos is corruption. */
			if (!is_drop(ch))
				return myco__chan_lane_corrupt(ch, lane);
			rc = load_tail(ch, lane, &t);
			if (rc)
				return rc;
			if (ch->rpos[lane] <= pos)
				return myco__chan_lane_corrupt(ch, lane);
			continue;
		}
		if (flags & ~(uint32_t)MYCO_CHAN_MSG_LOAN)
			return myco__chan_lane_corrupt(ch, lane);
		m->seq = seq;
		m->lane = lane;
		m->flags = flags;
		m->corr = ch->g.kind == MYCO_CHAN_CALL ? seq : 0;
		m->pos_ = pos;
		m->len = len;
		if (flags & MYCO_CHAN_MSG_LOAN) {
			uint32_t first = SH_LD(s->loan_block), gen = SH_LD(s->loan_gen);

			if (!(ch->g.features & CHAN_FEAT_LOANS))
				return myco__chan_lane_corrupt(ch, lane);
			rc = myco__chan_loan_check(ch, s, lane, len);
			if (rc)
				return rc;
			m->data = chan_pool(ch, lane) + (uint64_t)first * ch->g.loan_bs;
			ch->lref[(uint64_t)lane * ch->g.depth + (pos & (ch->g.depth - 1))] =
				((uint64_t)gen << 32) | ((uint64_t)first + 1);
		} else {
			if (len > ch->g.msg_size)
				return myco__chan_lane_corrupt(ch, lane);
			m->data = s + 1;
			if (ch->lref)
				ch->lref[(uint64_t)lane * ch->g.depth + (pos & (ch->g.depth - 1))] = 0;
		}
		ch->rpos[lane] = pos + 1;
		return 1;
	}
	return -EAGAIN;
}

/* Hand out up to max messages of `lane` of a BLOCK/REJECT ring: the loop
 * of take() with the tail, the policy and the slot address handled once
 * per run instead of once per message.  Every slot gets the checks take()
 * makes (seq == pos + 1, flags, len <= msg_size); a loan message is handed
 * to take() itself.  Returns the number handed out, 0 (none) or -EPROTO
 * when the first one fails (a later failure returns the count; the channel
 * is broken by then, so the next call fails). */
static int take_run(struct myco_chan *ch, uint32_t lane, myco_chan_msg_t *m, size_t max)
{
	uint64_t start = ch->rpos[lane], pos = start, t = ch->tail_cache[lane], end;
	uint64_t mask = ch->g.depth - 1, stride = ch->g.stride;
	uint64_t cmask = ch->g.kind == MYCO_CHAN_CALL ? UINT64_MAX : 0;
	uint32_t msg_size = ch->g.msg_size;
	uint64_t *lref = NULL;
	uint8_t *ring;
	int rc = 0;

	if (pos >= t) {
		rc = load_tail(ch, lane, &t);
		if (rc)
			return rc;
		start = pos = ch->rpos[lane];
		if (pos >= t)
			return 0;
	}
	end = t - pos > max ? pos + max : t;
	ring = chan_ring(ch, lane);
	if (ch->lref)
		lref = ch->lref + (uint64_t)lane * ch->g.depth;
	/* locals, not ch->g: the build has -fno-strict-aliasing, so every
	 * store through m would make the compiler reload fields of ch */
	for (; pos < end; pos++, m++) {
		struct chan_slot *s = (struct chan_slot *)(ring + (pos & mask) * stride);
		uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		uint32_t len = SH_LD(s->len), flags = SH_LD(s->flags);

		if (seq != pos + 1 || (flags & ~(uint32_t)MYCO_CHAN_MSG_LOAN)) {
			rc = myco__chan_lane_corrupt(ch, lane);
			break;
		}
		if (flags) {
			/* loan reference: take() validates the blocks */
			ch->rpos[lane] = pos;
			rc = take(ch, lane, m);
			if (rc <= 0) {
				rc = rc ? rc : myco__chan_lane_corrupt(ch, lane);
				break;
			}
			continue;
		}
		if (len > msg_size) {
			rc = myco__chan_lane_corrupt(ch, lane);
			break;
		}
		m->data = s + 1;
		m->len = len;
		m->seq = seq;
		m->corr = seq & cmask;
		m->lane = lane;
		m->flags = 0;
		m->pos_ = pos;
		if (lref)
			lref[pos & mask] = 0;
	}
	ch->rpos[lane] = pos;
	if (pos > start)
		return (int)(pos - start);
	return rc;
}

int myco__chan_recv_some(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max)
{
	uint32_t n = ch->g.nlanes, k;
	size_t got = 0;
	int rc;

	/* Round-robin over lanes, starting after the lane served last; take
	 * as many as wanted from a lane before moving on (batching). */
	for (k = 0; k < n && got < max; k++) {
		uint32_t lane = (ch->rr + k) % n;

		if (ch->lbroken && myco__chan_lane_out(ch, lane))
			continue;
		while (got < max) {
			if (!is_drop(ch)) {
				rc = take_run(ch, lane, &msgs[got], max - got);
				if (rc < 0)
					break;   /* lane out of service; the others go on */
				if (rc == 0)
					break;
				got += (size_t)rc;
				continue;
			}
			rc = take(ch, lane, &msgs[got]);
			if (rc < 0 && rc != -EAGAIN)
				break;
			if (rc <= 0)
				break;
			got++;
		}
	}
	ch->rr = (ch->rr + 1) % n;
	if (!got && ch->lbroken && ch->lbroken == lanes_all(ch))
		return -EPROTO;
	return (int)got;
}

int myco__chan_recv_plain(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max,
                          int64_t timeout_ns)
{
	int rc, spins;

	for (spins = 0;; spins++) {
		rc = myco__chan_recv_some(ch, msgs, max);
		if (rc > 0 && myco_trace_on(MYCO_TRACE_CHAN))
			trace_recv(ch, msgs, rc);
		if (rc != 0 && rc != -EAGAIN)
			return rc;
		if (ch->broken)
			return -EPROTO;
		/* ready but nothing taken can only repeat while a peer keeps
		 * rewriting the ring under us: bounded */
		if (spins > 64)
			return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
		rc = myco__chan_wait_for(ch, myco__chan_ready_recv, timeout_ns);
		if (rc < 0)
			return rc;
	}
}

int myco__chan_recv_batch_raw(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max,
                              int64_t timeout_ns)
{
	if (!is_receiver(ch))
		return -EPERM;
	if (max == 0)
		return -EINVAL;
	if (ch->broken)
		return -EPROTO;
	/* chaos (chaos.c): one load of the partition's `armed` word, one
	 * predictable branch when no experiment touches this process */
	if (__builtin_expect(((uintptr_t)ch->chaos |
			      __atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED)) != 0, 0))
		return myco__chaos_recv(ch, msgs, max, timeout_ns);
	return myco__chan_recv_plain(ch, msgs, max, timeout_ns);
}

int myco__chan_recv_raw(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t timeout_ns)
{
	int rc = myco__chan_recv_batch_raw(ch, msg, 1, timeout_ns);

	return rc < 0 ? rc : 0;
}

/* Commit lane up to and including position `pos`. */
int myco__chan_commit(struct myco_chan *ch, uint32_t lane, uint64_t pos)
{
	struct chan_mlane *ml = chan_mlane(ch, lane);
	uint64_t from = ch->chead[lane], p;
	int rc = 0;

	if (is_drop(ch)) {
		struct chan_slot *s = chan_slot(ch, lane, pos);

		/* seqlock re-check: was the message overwritten while held? */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->seq, memory_order_relaxed) != pos + 1)
			rc = -ESTALE;
		/* our head only ever grows; the producer's drops are its dhead */
		if (pos + 1 > atomic_load_explicit(&ml->head, memory_order_relaxed))
			atomic_store_explicit(&ml->head, pos + 1, memory_order_release);
		ch->chead[lane] = pos + 1;
		MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_DONE, ch->trace_id, pos + 1, (uint64_t)lane << 32);
		myco__chan_wake_lane(ch, lane);
		return rc;
	}
	atomic_store_explicit(&ml->head, pos + 1, memory_order_release);
	ch->chead[lane] = pos + 1;
	if (ch->lref) {
		/* Runs are given back after head moved (release): the producer
		 * reclaims a run when it reads its generation in lfree.  If we
		 * die in between, the owner's recovery sweep gives back the
		 * sent runs no message references. */
		au32 *lf = chan_lfree(ch, lane);

		for (p = from; p <= pos; p++) {
			uint64_t *r = &ch->lref[(uint64_t)lane * ch->g.depth + (p & (ch->g.depth - 1))];
			if (*r) {
				uint32_t first = (uint32_t)(*r & 0xffffffffu) - 1;
				uint32_t gen = (uint32_t)(*r >> 32);

				if (first < ch->g.loan_n)
					atomic_store_explicit(&lf[first], gen, memory_order_release);
				*r = 0;
			}
		}
	}
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_DONE, ch->trace_id, pos + 1, (uint64_t)lane << 32);
	myco__chan_wake_lane(ch, lane);
	return 0;
}

int myco__chan_done_raw(myco_chan_t *ch, const myco_chan_msg_t *msg)
{
	uint32_t lane = msg->lane;

	if (!is_receiver(ch))
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	if (__builtin_expect(ch->chaos != NULL, 0))
		return myco__chaos_done(ch, msg, false);
	if (lane >= ch->g.nlanes || msg->pos_ >= ch->rpos[lane])
		return -EINVAL;
	if ((ch->lbroken >> lane) & 1u)
		return -EPROTO;    /* its lane went out of service meanwhile */
	if (msg->pos_ < ch->chead[lane])
		return is_drop(ch) ? -ESTALE : -EINVAL;
	return myco__chan_commit(ch, lane, msg->pos_);
}

int myco__chan_done_all_raw(myco_chan_t *ch)
{
	uint32_t i;
	int rc = 0, r;

	if (!is_receiver(ch))
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	if (__builtin_expect(ch->chaos != NULL, 0))
		return myco__chaos_done(ch, NULL, true);
	for (i = 0; i < ch->g.nlanes; i++) {
		if ((ch->lbroken >> i) & 1u)
			continue;
		if (ch->rpos[i] > ch->chead[i]) {
			r = myco__chan_commit(ch, i, ch->rpos[i] - 1);
			if (r && !rc)
				rc = r;
		}
	}
	return rc;
}

int myco_chan_recv_copy(myco_chan_t *ch, void *buf, size_t cap,
                        myco_chan_msg_t *info, int64_t timeout_ns)
{
	myco_chan_msg_t m;
	int rc, tries;

	for (tries = 0; tries < DROP_TRIES; tries++) {
		rc = myco_chan_recv(ch, &m, timeout_ns);
		if (rc)
			return rc;
		if (m.len > cap) {
			if (ch->chaos)
				myco__chaos_unget(ch, &m);
			else
				ch->rpos[m.lane] = m.pos_;   /* keep it: next recv sees it again */
			return -EMSGSIZE;
		}
		myco__chan_copy_out(buf, m.data, m.len);
		rc = myco_chan_done(ch, &m);
		if (rc == -ESTALE)
			continue;        /* overwritten while copying: take the next */
		if (rc)
			return rc;
		if (info) {
			*info = m;
			info->data = NULL;
		}
		return (int)m.len;
	}
	return -EAGAIN;
}

/* ---------------------------------------------------------------- */
/* Call: requests are the ring above; replies go back per client     */
/* ---------------------------------------------------------------- */

int myco__chan_ready_reply(struct myco_chan *ch)
{
	uint64_t rt;

	if (ch->broken)
		return -EPROTO;
	if (ch->role != MYCO_CHAN_CLIENT)
		return 0;
	rt = atomic_load_explicit(&chan_mlane(ch, ch->index)->rtail, memory_order_acquire);
	if (rt < ch->rhead || rt - ch->rhead > ch->g.depth)
		return myco__chan_corrupt(ch);
	return rt > ch->rhead;
}

/* Write one reply to lane's reply ring at position rt and publish it: the
 * server's reply, or an error answer (status = positive errno, no payload)
 * that the owner writes in the server's place while no server is attached.
 * The caller checked that the ring has room. */
static void reply_put(struct myco_chan *ch, uint32_t lane, uint64_t rt, uint64_t corr,
                      const void *rep, size_t len, uint32_t status)
{
	struct chan_mlane *ml = chan_mlane(ch, lane);
	struct chan_slot *s = chan_rslot(ch, lane, rt);

	if (len)
		memcpy(s + 1, rep, len);
	SH_ST(s->len, (uint32_t)len);
	SH_ST(s->flags, (uint32_t)(MYCO_CHAN_MSG_REPLY | (status ? MYCO_CHAN_MSG_ERROR : 0u)));
	SH_ST(s->corr, corr);
	SH_ST(s->loan_block, 0u);
	SH_ST(s->loan_gen, status);
	atomic_store_explicit(&s->seq, rt + 1, memory_order_release);
	atomic_store_explicit(&ml->rtail, rt + 1, memory_order_release);
	atomic_fetch_add_explicit(&ml->replies, 1, memory_order_relaxed);
}

int myco__chan_reply_raw(myco_chan_t *ch, const myco_chan_msg_t *req,
                    const void *rep, size_t len)
{
	struct chan_mlane *ml;
	uint64_t rh, rt;
	uint32_t lane = req->lane;

	if (ch->role != MYCO_CHAN_SERVER)
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	if (lane >= ch->g.nlanes)
		return -EINVAL;
	if (len > ch->g.msg_size)
		return -EMSGSIZE;
	if ((ch->lbroken >> lane) & 1u)
		return -EPROTO;
	ml = chan_mlane(ch, lane);
	rt = ch->rtail[lane];
	rh = atomic_load_explicit(&chan_lane(ch, lane)->rhead, memory_order_acquire);
	if (rh > rt || rt - rh > ch->g.depth)
		return myco__chan_lane_corrupt(ch, lane);
	if (rt - rh == ch->g.depth) {
		atomic_fetch_add_explicit(&ml->rdropped, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	reply_put(ch, lane, rt, req->corr, rep, len, 0);
	ch->rtail[lane] = rt + 1;
	myco__chan_wake_lane(ch, lane);
	return 0;
}

/* Owner, while no server is attached: answer lane's pending requests with
 * status err and mark them done.  A request the server already answered
 * (its corr is at most the corr of the lane's last reply: one server
 * answers a lane in order) is only marked done.  Stops at a full reply
 * ring or a request slot that is not sane; what remains stays queued. */
static void fail_lane(struct myco_chan *v, uint32_t lane, uint32_t err,
                      uint64_t *failed, uint64_t *kept)
{
	struct chan_mlane *ml = chan_mlane(v, lane);
	struct chan_lane *l = chan_lane(v, lane);
	uint64_t h = atomic_load_explicit(&ml->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
	uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
	uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_acquire);
	uint64_t last = 0, pos;

	if (atomic_load_explicit(&ml->lbroken, memory_order_acquire) ||
	    t < h || t - h > v->g.depth || rh > rt || rt - rh > v->g.depth)
		return;     /* a broken lane: its repair is the owner's recovery */
	if (rt) {
		struct chan_slot *r = chan_rslot(v, lane, rt - 1);
		if (atomic_load_explicit(&r->seq, memory_order_acquire) == rt)
			last = SH_LD(r->corr);
	}
	for (pos = h; pos < t; pos++) {
		struct chan_slot *s = chan_slot(v, lane, pos);
		if (atomic_load_explicit(&s->seq, memory_order_acquire) != pos + 1)
			break;
		if (pos + 1 > last) {
			if (rt - rh == v->g.depth)
				break;
			reply_put(v, lane, rt, pos + 1, NULL, 0, err);
			rt++;
			(*failed)++;
		}
	}
	*kept += t - pos;
	if (pos > h) {
		atomic_store_explicit(&ml->head, pos, memory_order_release);
		myco__chan_wake_lane(v, lane);
	}
}

int myco_chan_owner_fail_calls(myco_chan_owner_t *o, int err, uint64_t *failed,
                               uint64_t *kept)
{
	struct myco_chan *v = myco__chan_owner_view(o);
	uint64_t f = 0, k = 0;
	uint32_t i;

	if (v->g.kind != MYCO_CHAN_CALL || err >= 0 || err < -4095)
		return -EINVAL;
	if (atomic_load_explicit(&v->m->attached, memory_order_acquire))
		return -EBUSY;
	for (i = 0; i < v->g.nlanes; i++)
		fail_lane(v, i, (uint32_t)-err, &f, &k);
	if (failed)
		*failed = f;
	if (kept)
		*kept = k;
	return 0;
}

int myco_chan_call_send(myco_chan_t *ch, const void *req, size_t len, uint64_t *corr)
{
	int rc;

	if (ch->role != MYCO_CHAN_CLIENT)
		return -EPERM;
	rc = myco_chan_send_timeout(ch, req, len, 0);
	if (rc == 0 && corr)
		*corr = ch->tail;      /* corr = seq of the request just sent */
	return rc;
}

int myco__chan_call_wait_raw(myco_chan_t *ch, uint64_t corr, void *rep, size_t rep_cap,
                        size_t *rep_len, int64_t timeout_ns)
{
	struct chan_lane *l;
	uint64_t deadline = 0;
	int rc;

	if (ch->role != MYCO_CHAN_CLIENT)
		return -EPERM;
	if (timeout_ns < 0)
		timeout_ns = (int64_t)ch->g.call_timeout_ns;
	if (timeout_ns > 0)
		deadline = myco__now_raw() + (uint64_t)timeout_ns;
	l = chan_lane(ch, ch->index);
	for (;;) {
		int64_t left = 0;

		/* chaos: a stall of the replies holds them in the ring */
		if (__builtin_expect(__atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED) != 0, 0)) {
			uint64_t end = myco__chaos_stall_end(ch), now = myco__now_raw();

			if (end > now) {
				if (!deadline)
					return -ETIMEDOUT;
				if (deadline <= now)
					return -ETIMEDOUT;
				uint64_t until = end < deadline ? end : deadline;
				struct timespec ts = { (time_t)((until - now) / 1000000000u),
						       (long)((until - now) % 1000000000u) };
				if (until - now > 10000000u)
					ts = (struct timespec){ 0, 10000000 };
				clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
				continue;
			}
		}
		rc = myco__chan_ready_reply(ch);
		if (rc < 0)
			return rc;
		while (rc > 0) {
			struct chan_slot *s = chan_rslot(ch, ch->index, ch->rhead);
			uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
			uint32_t len = SH_LD(s->len);
			uint64_t c = SH_LD(s->corr);

			uint32_t fl = SH_LD(s->flags), st = SH_LD(s->loan_gen);

			if (seq != ch->rhead + 1 || len > ch->g.msg_size ||
			    (fl & ~MYCO_CHAN_MSG_ERROR) != MYCO_CHAN_MSG_REPLY ||
			    ((fl & MYCO_CHAN_MSG_ERROR) && (len || !st || st > 4095)))
				return myco__chan_corrupt(ch);
			if (c > corr)
				return -ETIMEDOUT; /* a later request's reply: ours will not come */
			if (c == corr) {
				if (rep_len)
					*rep_len = len;
				if (len <= rep_cap && len)
					memcpy(rep, s + 1, len);
			}
			ch->rhead++;
			atomic_store_explicit(&l->rhead, ch->rhead, memory_order_release);
			if (c == corr && (fl & MYCO_CHAN_MSG_ERROR))
				return -(int)st;   /* an error answer (the owner's, at a switch) */
			if (c == corr && len <= rep_cap &&
			    __builtin_expect(__atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED) != 0, 0)) {
				int f = myco__chaos_reply(ch, corr, rep, len, deadline);
				if (f == 1)
					goto next;       /* dropped: ours will not come */
				if (f < 0)
					return f;
			}
			if (c == corr)
				return len <= rep_cap ? 0 : -EMSGSIZE;
next:
			rc = myco__chan_ready_reply(ch);
			if (rc < 0)
				return rc;
		}
		if (deadline) {
			uint64_t now = myco__now_raw();
			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int64_t)(deadline - now);
		} else {
			return -ETIMEDOUT;
		}
		rc = myco__chan_wait_for(ch, myco__chan_ready_reply, left);
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			return -ETIMEDOUT;
		if (rc < 0)
			return rc;
	}
}

int myco_chan_call(myco_chan_t *ch, const void *req, size_t req_len,
                   void *rep, size_t rep_cap, size_t *rep_len, int64_t timeout_ns)
{
	uint64_t corr;
	int rc;

	rc = myco_chan_call_send(ch, req, req_len, &corr);
	if (rc)
		return rc;
	return myco_chan_call_wait(ch, corr, rep, rep_cap, rep_len, timeout_ns);
}
