/*
 * sample.c: sample channels, a latest-value port.  One writer, up to
 * MYCO_CHAN_MAX_PEERS readers.  The writer never blocks: it rotates over
 * CHAN_SBUFS seqlocked buffers and publishes the write number in s_latest;
 * a reader copies the latest buffer and re-checks its seqlock, retrying a
 * bounded number of times, so it never returns a torn value.
 * Not for: queues (queue.c).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "chan_int.h"
#include "../replay/replay.h"

#define SAMPLE_TRIES 64

static struct chan_sbuf *sbuf(const struct myco_chan *ch, uint64_t w)
{
	return (struct chan_sbuf *)(ch->base + ch->g.sbuf_off +
	                            (w % CHAN_SBUFS) * ch->g.sbuf_stride);
}

int myco__chan_sample_write_raw(myco_chan_t *ch, const void *buf, size_t len)
{
	struct chan_sbuf *b;
	uint64_t w;

	if (ch->role != MYCO_CHAN_WRITER)
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	if (len > ch->g.msg_size)
		return -EMSGSIZE;
	w = ++ch->wseq;
	b = sbuf(ch, w);
	atomic_store_explicit(&b->seq, 2 * w - 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&b->ts_ns, myco__now_raw(), memory_order_relaxed);
	atomic_store_explicit(&b->len, (uint32_t)len, memory_order_relaxed);
	if (len)
		myco__chan_copy_in(b + 1, buf, len);
	atomic_store_explicit(&b->seq, 2 * w, memory_order_release);
	atomic_store_explicit(&ch->m->s_latest, w, memory_order_release);
	myco__chan_wake_readers(ch);
	return 0;
}

int myco__chan_ready_sample(struct myco_chan *ch)
{
	if (ch->broken)
		return -EPROTO;
	return atomic_load_explicit(&ch->m->s_latest, memory_order_acquire) > ch->last_seq;
}

int myco__chan_sample_read_raw(myco_chan_t *ch, void *buf, size_t cap,
                          myco_chan_sample_info_t *info)
{
	myco_chan_sample_info_t tmp;
	int tries;

	if (!info)
		info = &tmp;
	memset(info, 0, sizeof(*info));
	if (MYCO__REC_REPLAYED(ch))
		ch->rec->not_served("waits for a sample (myco_chan_sample_wait)");
	if (ch->role != MYCO_CHAN_READER)
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	for (tries = 0; tries < SAMPLE_TRIES; tries++) {
		uint64_t w = atomic_load_explicit(&ch->m->s_latest, memory_order_acquire);
		struct chan_sbuf *b;
		uint64_t s1, s2, ts, now;
		uint32_t len;

		if (w == 0)
			return -ENODATA;
		if (w < ch->last_seq)
			return myco__chan_corrupt(ch);   /* went backwards */
		b = sbuf(ch, w);
		s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
		if (s1 != 2 * w) {
			/* newer writes to this buffer (odd or even) are legal,
			 * anything older than write w is not */
			if (s1 < 2 * w - 1)
				return myco__chan_corrupt(ch);
			continue;
		}
		len = atomic_load_explicit(&b->len, memory_order_relaxed);
		ts = atomic_load_explicit(&b->ts_ns, memory_order_relaxed);
		if (len > ch->g.msg_size) {
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&b->seq, memory_order_relaxed) != s1)
				continue;
			return myco__chan_corrupt(ch);
		}
		if (len > cap) {
			info->len = len;
			return -EMSGSIZE;
		}
		if (len)
			myco__chan_copy_out(buf, b + 1, len);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&b->seq, memory_order_relaxed);
		if (s2 != s1)
			continue;
		now = myco__now_raw();
		info->len = len;
		info->seq = w;
		info->age_ns = now > ts ? now - ts : 0;
		info->stale = ch->g.refresh_ns && info->age_ns > ch->g.refresh_ns;
		ch->last_seq = w;
		/* chaos: one load of the partition's `armed` word (or the
		 * endpoint's fault state) */
		if (__builtin_expect(((uintptr_t)ch->chaos |
				      __atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED)) != 0, 0))
			return myco__chaos_sample(ch, buf, cap, info);
		return 0;
	}
	return -EBUSY;
}

int myco_chan_sample_wait(myco_chan_t *ch, uint64_t last_seq, int64_t timeout_ns)
{
	uint64_t saved;
	int rc;

	if (ch->role != MYCO_CHAN_READER)
		return -EPERM;
	if (ch->broken)
		return -EPROTO;
	/* chaos: no new value is seen while a stall lasts */
	if (__builtin_expect(__atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED) != 0, 0)) {
		uint64_t end = myco__chaos_stall_end(ch), now = myco__now_raw();

		if (end > now) {
			uint64_t d = end - now;
			if (timeout_ns == 0)
				return -EAGAIN;
			if (timeout_ns > 0 && (uint64_t)timeout_ns < d)
				d = (uint64_t)timeout_ns;
			struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
			clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
			if (timeout_ns > 0 && (uint64_t)timeout_ns <= end - now)
				return -ETIMEDOUT;
			timeout_ns = timeout_ns > 0 ? timeout_ns - (int64_t)(end - now) : timeout_ns;
		}
	}
	saved = ch->last_seq;
	ch->last_seq = last_seq;
	rc = myco__chan_wait_for(ch, myco__chan_ready_sample, timeout_ns);
	ch->last_seq = saved;
	return rc < 0 ? rc : 0;
}
