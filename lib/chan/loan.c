/*
 * loan.c: zero-copy payloads from a block pool inside the region.  A
 * producer loans a run of contiguous blocks (CAS free -> loaned on each
 * descriptor), fills it in place and sends a reference (queue.c marks the
 * run sent before publishing); the consumer reads it in place and frees it
 * when the message is done.  Descriptors carry owner lane and generation so
 * the owner can reclaim what a dead endpoint held (region.c).
 * Not for: the ring protocol (queue.c).
 */
#include <errno.h>

#include "chan_int.h"


static au64 *ldesc(const struct myco_chan *ch)
{
	return (au64 *)(ch->base + ch->g.ldesc_off);
}

void myco__chan_loan_free_run(struct myco_chan *ch, uint32_t first, uint32_t run,
                              uint32_t owner, uint32_t gen)
{
	au64 *ld = ldesc(ch);
	uint32_t i;

	if (first >= ch->g.loan_n || run == 0 || run > ch->g.loan_n - first)
		return;
	/* continuation blocks first, the head block (which carries the run
	 * length) last, so a concurrent sweep never sees a head without its
	 * continuation */
	for (i = run; i-- > 0;) {
		uint64_t d = atomic_load_explicit(&ld[first + i], memory_order_acquire);

		if (LD_STATE(d) == LD_FREE || LD_OWNER(d) != owner || LD_GEN(d) != gen ||
		    LD_RUN(d) != (i ? 0 : run))
			continue;    /* someone else freed it, or not ours */
		atomic_compare_exchange_strong_explicit(&ld[first + i], &d,
		                                        LD_MAKE(LD_FREE, 0, 0, gen),
		                                        memory_order_release,
		                                        memory_order_relaxed);
	}
}

int myco__chan_loan_check(struct myco_chan *ch, const struct chan_slot *s,
                          uint32_t lane, uint32_t len, uint32_t *run)
{
	uint32_t first = __atomic_load_n(&s->loan_block, __ATOMIC_RELAXED);
	uint32_t gen = __atomic_load_n(&s->loan_gen, __ATOMIC_RELAXED);
	uint64_t d, cap;

	if (first >= ch->g.loan_n)
		return myco__chan_corrupt(ch);
	d = atomic_load_explicit(&ldesc(ch)[first], memory_order_acquire);
	if (LD_STATE(d) != LD_SENT || LD_OWNER(d) != lane || LD_GEN(d) != gen)
		return myco__chan_corrupt(ch);
	*run = LD_RUN(d);
	if (*run == 0 || *run > ch->g.loan_n - first)
		return myco__chan_corrupt(ch);
	cap = (uint64_t)*run * ch->g.loan_bs;
	if (len > cap)
		return myco__chan_corrupt(ch);
	return 0;
}

int myco_chan_loan(myco_chan_t *ch, size_t size, myco_chan_loan_t *loan)
{
	au64 *ld = ldesc(ch);
	uint32_t n = ch->g.loan_n, run, start, i, scanned;

	loan->data = NULL;
	loan->cap = 0;
	if (ch->role != MYCO_CHAN_PRODUCER)
		return -EPERM;
	if (!(ch->g.features & CHAN_FEAT_LOANS))
		return -ENOTSUP;
	if (ch->broken)
		return -EPROTO;
	if (size == 0)
		size = 1;
	if (size > (uint64_t)n * ch->g.loan_bs)
		return -EMSGSIZE;
	run = (uint32_t)((size + ch->g.loan_bs - 1) / ch->g.loan_bs);
	start = ch->loan_hint % n;
	/* First fit from the hint, wrapping once; each candidate run is taken
	 * block by block with CAS and rolled back on conflict.  Bounded:
	 * every block is examined at most a small constant number of times. */
	for (scanned = 0; scanned < n;) {
		uint32_t first = (start + scanned) % n, got = 0;
		uint32_t gen;

		if (first + run > n) {        /* runs do not wrap */
			scanned += n - first;
			continue;
		}
		{
			uint64_t d0 = atomic_load_explicit(&ld[first], memory_order_relaxed);
			gen = LD_GEN(d0) + 1;
		}
		for (i = 0; i < run; i++) {
			uint64_t d = atomic_load_explicit(&ld[first + i], memory_order_relaxed);

			if (LD_STATE(d) != LD_FREE)
				break;
			if (!atomic_compare_exchange_strong_explicit(
				    &ld[first + i], &d,
				    LD_MAKE(LD_LOANED, ch->index, i ? 0 : run, gen),
				    memory_order_acquire, memory_order_relaxed))
				break;
			got++;
		}
		if (got == run) {
			ch->loan_hint = first + run;
			loan->data = ch->base + ch->g.pool_off + (uint64_t)first * ch->g.loan_bs;
			loan->cap = (size_t)run * ch->g.loan_bs;
			loan->block_ = first;
			loan->nblocks_ = run;
			loan->gen_ = gen;
			return 0;
		}
		/* roll back what we took (head block carries run) */
		for (i = got; i-- > 0;) {
			uint64_t d = LD_MAKE(LD_LOANED, ch->index, i ? 0 : run, gen);
			atomic_compare_exchange_strong_explicit(&ld[first + i], &d,
			                                        LD_MAKE(LD_FREE, 0, 0, gen),
			                                        memory_order_release,
			                                        memory_order_relaxed);
		}
		scanned += got + 1;
	}
	return -ENOBUFS;
}

static int loan_valid(const struct myco_chan *ch, const myco_chan_loan_t *loan)
{
	return loan->data && loan->block_ < ch->g.loan_n && loan->nblocks_ &&
	       loan->nblocks_ <= ch->g.loan_n - loan->block_;
}

int myco_chan_loan_send(myco_chan_t *ch, myco_chan_loan_t *loan, size_t len)
{
	int rc;

	if (ch->role != MYCO_CHAN_PRODUCER)
		return -EPERM;
	if (!loan_valid(ch, loan))
		return -EINVAL;
	if (len > loan->cap)
		return -EMSGSIZE;
	rc = myco__chan_send_loan(ch, loan->block_, loan->nblocks_, loan->gen_, len);
	if (rc == 0) {
		loan->data = NULL;
		loan->cap = 0;
	}
	return rc;
}

int myco_chan_loan_cancel(myco_chan_t *ch, myco_chan_loan_t *loan)
{
	if (ch->role != MYCO_CHAN_PRODUCER)
		return -EPERM;
	if (!loan_valid(ch, loan))
		return -EINVAL;
	myco__chan_loan_free_run(ch, loan->block_, loan->nblocks_, ch->index, loan->gen_);
	loan->data = NULL;
	loan->cap = 0;
	return 0;
}

int myco_chan_loan_release(myco_chan_t *ch, const myco_chan_msg_t *msg)
{
	return myco_chan_done(ch, msg);
}

/* On close: give back every block still loaned (not sent) by our lane. */
void myco__chan_loan_release_mine(struct myco_chan *ch)
{
	au64 *ld = ldesc(ch);
	uint32_t i;

	for (i = 0; i < ch->g.loan_n; i++) {
		uint64_t d = atomic_load_explicit(&ld[i], memory_order_acquire);

		if (LD_STATE(d) == LD_LOANED && LD_OWNER(d) == ch->index && LD_RUN(d))
			myco__chan_loan_free_run(ch, i, LD_RUN(d), ch->index, LD_GEN(d));
	}
}
