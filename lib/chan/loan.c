/*
 * loan.c: zero-copy payloads from a block pool.  Each producer has its own
 * pool inside its own lane segment (nobody else can write it): it loans a
 * run of contiguous blocks, fills it in place and sends a reference
 * (queue.c marks the run sent before publishing); the consumer reads it in
 * place and, when the message is done, gives the run back by writing the
 * run's generation into its own segment (lfree); the producer reclaims a
 * run when it sees that generation.  Descriptors are written only by their
 * producer, so no CAS: the owner's recovery reclaims what a dead endpoint
 * held (region.c).
 * Not for: the ring protocol (queue.c).
 */
#include <errno.h>

#include "chan_int.h"
#include "../replay/replay.h"

/* Mark a run of lane's pool free (producer on its own lane; the owner in
 * recovery).  Continuation blocks first, the head block (which carries the
 * run length) last. */
void myco__chan_loan_set_free(struct myco_chan *ch, uint32_t lane, uint32_t first,
                              uint32_t run)
{
	au64 *ld = chan_ldesc(ch, lane);
	uint32_t i;

	if (first >= ch->g.loan_n || run == 0 || run > ch->g.loan_n - first)
		return;
	for (i = run; i-- > 0;) {
		uint64_t d = atomic_load_explicit(&ld[first + i], memory_order_relaxed);

		atomic_store_explicit(&ld[first + i], LD_MAKE(LD_FREE, 0, 0, LD_GEN(d)),
		                      memory_order_relaxed);
	}
}

/* Consumer: is the loan reference in slot s of lane `lane` inside that
 * lane's pool?  The descriptors are not read: the pool belongs to the
 * producer alone, so whatever its descriptors say, a reference can only
 * point at its own bytes (a lie harms its own messages) - and not reading
 * them saves a cache-line transfer per message. */
int myco__chan_loan_check(struct myco_chan *ch, const struct chan_slot *s,
                          uint32_t lane, uint32_t len)
{
	uint32_t first = __atomic_load_n(&s->loan_block, __ATOMIC_RELAXED);

	if (first >= ch->g.loan_n ||
	    len > (uint64_t)(ch->g.loan_n - first) * ch->g.loan_bs)
		return myco__chan_lane_corrupt(ch, lane);
	return 0;
}

int myco_chan_loan(myco_chan_t *ch, size_t size, myco_chan_loan_t *loan)
{
	au64 *ld;
	uint32_t n = ch->g.loan_n, run, start, i, scanned;

	loan->data = NULL;
	loan->cap = 0;
	if (MYCO__REC_REPLAYED(ch))     /* loan sends are not recorded */
		ch->rec->not_served("borrows a loan block (myco_chan_loan)");
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
	ld = chan_ldesc(ch, ch->index);
	run = (uint32_t)((size + ch->g.loan_bs - 1) / ch->g.loan_bs);
	start = ch->loan_hint % n;
	/* First fit from the hint, wrapping once.  A sent run the consumer
	 * gave back (lfree holds its generation) is reclaimed on the way.
	 * Bounded: each block is examined at most twice. */
	for (scanned = 0; scanned < n;) {
		uint32_t first = (start + scanned) % n, got = 0;
		uint32_t gen;

		if (first + run > n) {        /* runs do not wrap */
			scanned += n - first;
			continue;
		}
		for (i = 0; i < run; i++) {
			uint64_t d = atomic_load_explicit(&ld[first + i], memory_order_relaxed);

			if (LD_STATE(d) == LD_SENT && LD_RUN(d) &&
			    myco__chan_loan_returned(ch, ch->index, first + i, d)) {
				myco__chan_loan_set_free(ch, ch->index, first + i, LD_RUN(d));
				d = atomic_load_explicit(&ld[first + i], memory_order_relaxed);
			}
			if (LD_STATE(d) != LD_FREE)
				break;
			got++;
		}
		if (got == run) {
			struct chan_lane *l = chan_lane(ch, ch->index);

			/* a generation never used before by this lane, so a stale
			 * lfree value can never match it */
			gen = atomic_load_explicit(&l->lgen, memory_order_relaxed) + 1;
			atomic_store_explicit(&l->lgen, gen, memory_order_relaxed);
			for (i = run; i-- > 0;)
				atomic_store_explicit(&ld[first + i],
				                      LD_MAKE(LD_LOANED, ch->index, i ? 0 : run, gen),
				                      memory_order_relaxed);
			ch->loan_hint = first + run;
			loan->data = chan_pool(ch, ch->index) + (uint64_t)first * ch->g.loan_bs;
			loan->cap = (size_t)run * ch->g.loan_bs;
			loan->block_ = first;
			loan->nblocks_ = run;
			loan->gen_ = gen;
			return 0;
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
	uint64_t d;

	if (ch->role != MYCO_CHAN_PRODUCER)
		return -EPERM;
	if (!loan_valid(ch, loan))
		return -EINVAL;
	d = atomic_load_explicit(&chan_ldesc(ch, ch->index)[loan->block_], memory_order_relaxed);
	if (LD_STATE(d) == LD_LOANED && LD_GEN(d) == loan->gen_)
		myco__chan_loan_set_free(ch, ch->index, loan->block_, loan->nblocks_);
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
	au64 *ld = chan_ldesc(ch, ch->index);
	uint32_t i;

	for (i = 0; i < ch->g.loan_n; i++) {
		uint64_t d = atomic_load_explicit(&ld[i], memory_order_relaxed);

		if (LD_STATE(d) == LD_LOANED && LD_RUN(d))
			myco__chan_loan_set_free(ch, ch->index, i, LD_RUN(d));
	}
}
