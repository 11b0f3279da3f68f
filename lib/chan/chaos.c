/*
 * chaos.c: the chaos toolkit's channel faults, applied at the receiving
 * end of a channel (consumer or server) inside libmyco, so partition code
 * is unchanged (docs/chaos.md).  The executive writes the faults into the
 * partition's control region (struct myco__part_chaos, lib/part/part_abi.h);
 * the receive path enters here only while that table is armed or this
 * endpoint still holds fault state, and costs one load and one
 * predictable branch otherwise (queue.c).
 *
 * How it keeps at-least-once delivery: messages are taken from the ring
 * with the plain receive path and held here (never copied out and
 * committed early); the ring's head moves only over positions that the
 * application marked done (or that a DROP fault threw away), in order, so a
 * partition killed while this layer holds messages gets them delivered
 * again to its replacement.  Per lane the layer keeps the window
 * [base, base + 64) of positions handed out by the ring: `dlv` (handed to
 * the application) and `dn` (done) bitmaps; done() marks, the commit
 * follows the run of done positions from base.
 * Also here, without holding anything in the ring: faults on call replies
 * at the client (drop, delay, corrupt, stall in myco_chan_call_wait) and
 * on sample values at the reader (drop, corrupt, stall: the reader is
 * handed the value it had before).
 * Not for: partition faults the executive applies (exec/chaos.c),
 * DROP_OLDEST channels (their producer may overwrite a held message: not
 * faulted).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "chan_int.h"
#include "myco_int.h"
#include "part_abi.h"

#define HOLD   32u      /* messages held at once */
#define COPIES 8u       /* private copies (duplicates, corrupted) at once */
#define WIN    64u      /* positions tracked per lane */

struct held {
	myco_chan_msg_t m;
	uint64_t due;           /* DELAY: not before (raw clock) */
	bool decided;           /* drop / reorder decided */
};

struct copy {
	void *buf;              /* malloc'd, NULL = free slot */
	uint32_t lane;
	uint64_t pos;
	bool dup;
};

struct lanew {
	uint64_t base;          /* first position not committed */
	uint64_t dlv, dn;       /* bit i: position base + i handed out / done */
};

struct chan_chaos {
	struct held held[HOLD];
	uint32_t nheld;
	bool dup_pending;
	myco_chan_msg_t dup;
	struct copy copies[COPIES];
	struct lanew *lw;       /* nlanes */
	double tokens;          /* BANDWIDTH: bytes */
	uint64_t t_tok;
	/* sample reader: the last value handed out unfaulted (what a
	 * dropped or stalled value is replaced by) */
	void *sval;
	myco_chan_sample_info_t sinfo;
	uint64_t s_t;           /* when it was read (raw clock) */
};

static const uint32_t not_armed;
const uint32_t *myco__chaos_armed = &not_armed;
static struct myco__part_chaos *table;

void myco__chaos_set_table(struct myco__part_chaos *t)
{
	table = t;
	myco__chaos_armed = t ? &t->armed : &not_armed;
	myco__clock_skew = t ? &t->skew_ns : myco__clock_skew;
}

void myco__chaos_tag(struct myco_chan *ch, const char *name)
{
	ch->chaos_tag = myco__chaos_chan_hash(name);
}

/* ---- the table ------------------------------------------------------- */

struct active {
	uint32_t kind;
	uint32_t prob;
	uint64_t seed, arg, arg2, t_end;
};

/* The faults of the table active now for channel tag (0: partition faults
 * only).  Slots being rewritten are skipped. */
static unsigned active_faults(uint64_t tag, uint64_t now, struct active *out)
{
	uint32_t n, i;
	unsigned k = 0;

	if (!table)
		return 0;
	n = __atomic_load_n(&table->armed, __ATOMIC_ACQUIRE);
	if (n > MYCO__CHAOS_SLOTS)
		n = MYCO__CHAOS_SLOTS;
	for (i = 0; i < n; i++) {
		struct myco__chaos_slot *s = &table->slot[i];
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		struct active a;
		uint64_t chan, t0;

		if (seq & 1u)
			continue;
		/* acquire loads keep the second read of seq after them (a fence
		 * would do too, but ThreadSanitizer does not model fences) */
		a.kind = __atomic_load_n(&s->kind, __ATOMIC_ACQUIRE);
		chan = __atomic_load_n(&s->chan, __ATOMIC_ACQUIRE);
		t0 = __atomic_load_n(&s->t_start_ns, __ATOMIC_ACQUIRE);
		a.t_end = __atomic_load_n(&s->t_end_ns, __ATOMIC_ACQUIRE);
		a.seed = __atomic_load_n(&s->seed, __ATOMIC_ACQUIRE);
		a.prob = __atomic_load_n(&s->prob, __ATOMIC_ACQUIRE);
		a.arg = __atomic_load_n(&s->arg_ns, __ATOMIC_ACQUIRE);
		a.arg2 = __atomic_load_n(&s->arg2_ns, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq)
			continue;
		if (a.kind == MYCO__CHAOS_NONE || a.kind >= MYCO__CHAOS_KINDS)
			continue;
		if (now < t0 || now >= a.t_end)
			continue;
		if (a.kind <= MYCO__CHAOS_STALL && (!tag || (chan && chan != tag)))
			continue;
		out[k++] = a;
	}
	return k;
}

static void count(uint32_t kind, uint64_t n)
{
	if (table && kind < 16)
		__atomic_fetch_add(&table->applied[kind], n, __ATOMIC_RELAXED);
}

/* Does fault a hit the message (lane, seq)?  A pure function of the
 * seed: the same run hits the same messages. */
static uint64_t roll(const struct active *a, uint32_t lane, uint64_t seq)
{
	return myco__chaos_mix(a->seed ^ ((uint64_t)a->kind << 56) ^
			       ((uint64_t)lane << 48) ^ seq);
}

static bool hits(const struct active *a, uint32_t lane, uint64_t seq)
{
	if (a->prob == UINT32_MAX)
		return true;
	return (uint32_t)(roll(a, lane, seq) >> 32) < a->prob;
}

static const struct active *find(const struct active *f, unsigned n, uint32_t kind)
{
	for (unsigned i = 0; i < n; i++)
		if (f[i].kind == kind)
			return &f[i];
	return NULL;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

/* ---- partition faults in libmyco calls -------------------------------- */

static uint64_t fd_last_ns;

void myco__chaos_part_faults(void)
{
	struct active f[MYCO__CHAOS_SLOTS];
	uint64_t now = myco__now_raw();
	unsigned n = active_faults(0, now, f);
	const struct active *a;

	if (!n)
		return;
	a = find(f, n, MYCO__CHAOS_SLOW);
	if (a && a->arg && hits(a, 0, now)) {
		sleep_ns(a->arg < 1000000000ull ? a->arg : 1000000000ull);
		count(MYCO__CHAOS_SLOW, 1);
	}
	a = find(f, n, MYCO__CHAOS_FDLEAK);
	if (a && a->arg) {
		uint64_t due, k = 0;

		if (!fd_last_ns)
			fd_last_ns = now;
		due = (now - fd_last_ns) * a->arg / 1000000000ull;
		while (k < due && k < 4096) {
			int fd = eventfd(0, EFD_CLOEXEC);  /* leaked on purpose */

			if (fd < 0)
				break;
			k++;
		}
		if (k) {
			fd_last_ns = now;
			count(MYCO__CHAOS_FDLEAK, k);
		}
	}
}

/* ---- per-endpoint state ------------------------------------------------ */

static struct chan_chaos *state(struct myco_chan *ch)
{
	struct chan_chaos *st;
	uint32_t l;

	if (ch->chaos)
		return ch->chaos;
	for (l = 0; l < ch->g.nlanes; l++)
		if (ch->rpos[l] - ch->chead[l] >= WIN - 1)
			return NULL;     /* the application holds too many: later */
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->lw = calloc(ch->g.nlanes, sizeof(*st->lw));
	if (!st->lw) {
		free(st);
		return NULL;
	}
	for (l = 0; l < ch->g.nlanes; l++) {
		uint64_t out = ch->rpos[l] - ch->chead[l];

		st->lw[l].base = ch->chead[l];
		/* handed out before the experiment: the application holds them */
		st->lw[l].dlv = (1ull << out) - 1;
	}
	ch->chaos = st;
	return st;
}

void myco__chaos_free(struct myco_chan *ch)
{
	struct chan_chaos *st = ch->chaos;

	if (!st)
		return;
	for (unsigned i = 0; i < COPIES; i++)
		free(st->copies[i].buf);
	free(st->lw);
	free(st->sval);
	free(st);
	ch->chaos = NULL;
}

/* Nothing held, no copy out, no done position waiting for an earlier one:
 * the endpoint can go back to the plain path. */
static bool quiet(struct myco_chan *ch, struct chan_chaos *st)
{
	if (st->nheld || st->dup_pending)
		return false;
	for (unsigned i = 0; i < COPIES; i++)
		if (st->copies[i].buf)
			return false;
	for (uint32_t l = 0; l < ch->g.nlanes; l++)
		if (st->lw[l].dn)
			return false;
	return true;
}

int myco__chaos_pending(const struct myco_chan *ch)
{
	const struct chan_chaos *st = ch->chaos;

	return st && (st->nheld || st->dup_pending);
}

static void *copy_make(struct chan_chaos *st, const myco_chan_msg_t *m, bool dup)
{
	for (unsigned i = 0; i < COPIES; i++) {
		struct copy *c = &st->copies[i];

		if (c->buf)
			continue;
		c->buf = malloc(m->len ? m->len : 1);
		if (!c->buf)
			return NULL;
		myco__chan_copy_out(c->buf, m->data, m->len);
		c->lane = m->lane;
		c->pos = m->pos_;
		c->dup = dup;
		return c->buf;
	}
	return NULL;           /* all in use: this message is not faulted */
}

/* Free the copies of lane at positions <= pos (done covers them); for a
 * duplicate's own done, only that copy (data == its buffer). */
static void copies_done(struct chan_chaos *st, uint32_t lane, uint64_t pos,
			const void *dup_data)
{
	for (unsigned i = 0; i < COPIES; i++) {
		struct copy *c = &st->copies[i];

		if (!c->buf)
			continue;
		if (dup_data ? c->buf == dup_data
			     : (c->lane == lane && c->pos <= pos && !c->dup)) {
			free(c->buf);
			c->buf = NULL;
		}
	}
}

/* Commit lane over the run of done positions at its base. */
static int advance(struct myco_chan *ch, struct chan_chaos *st, uint32_t lane)
{
	struct lanew *w = &st->lw[lane];
	unsigned k = 0;

	while (k < 64 && ((w->dn >> k) & 1u))
		k++;
	if (!k)
		return 0;
	w->base += k;
	w->dn = k == 64 ? 0 : w->dn >> k;
	w->dlv = k == 64 ? 0 : w->dlv >> k;
	return myco__chan_commit(ch, lane, w->base - 1);
}

int myco__chaos_done(struct myco_chan *ch, const myco_chan_msg_t *msg, bool all)
{
	struct chan_chaos *st = ch->chaos;
	uint32_t lane, l;
	int rc = 0, r;

	if (all) {
		for (l = 0; l < ch->g.nlanes; l++) {
			if ((ch->lbroken >> l) & 1u)
				continue;
			st->lw[l].dn |= st->lw[l].dlv;
			copies_done(st, l, UINT64_MAX, NULL);
			r = advance(ch, st, l);
			if (r && !rc)
				rc = r;
		}
		for (unsigned i = 0; i < COPIES; i++)
			if (st->copies[i].buf && st->copies[i].dup && !st->dup_pending) {
				free(st->copies[i].buf);
				st->copies[i].buf = NULL;
			}
		return rc;
	}
	lane = msg->lane;
	if (msg->flags & MYCO__CHAN_MSG_CHAOS_DUP) {
		/* the copy, not the ring's message: nothing to commit */
		if (st->dup_pending && st->dup.data == msg->data)
			return -EINVAL;          /* not handed out yet */
		for (unsigned i = 0; i < COPIES; i++)
			if (st->copies[i].buf && st->copies[i].dup &&
			    st->copies[i].buf == msg->data) {
				copies_done(st, lane, 0, msg->data);
				return 0;
			}
		return -EINVAL;
	}
	if (lane >= ch->g.nlanes || msg->pos_ >= ch->rpos[lane])
		return -EINVAL;
	if ((ch->lbroken >> lane) & 1u)
		return -EPROTO;
	{
		struct lanew *w = &st->lw[lane];
		uint64_t rel, mask;

		if (msg->pos_ < w->base)
			return -EINVAL;
		rel = msg->pos_ - w->base;
		if (rel >= 64)
			return -EINVAL;
		if (!((w->dlv >> rel) & 1u))
			return -EINVAL;      /* still held by this layer */
		/* done covers every earlier message of the lane the
		 * application was given (not the ones held back here) */
		mask = rel == 63 ? UINT64_MAX : ((1ull << (rel + 1)) - 1);
		w->dn |= w->dlv & mask;
	}
	copies_done(st, lane, msg->pos_, NULL);
	return advance(ch, st, lane);
}

void myco__chaos_unget(struct myco_chan *ch, const myco_chan_msg_t *msg)
{
	struct chan_chaos *st = ch->chaos;
	uint64_t rel;

	if (msg->flags & MYCO__CHAN_MSG_CHAOS_DUP) {
		st->dup = *msg;
		st->dup_pending = true;
		return;
	}
	rel = msg->pos_ - st->lw[msg->lane].base;
	if (rel < 64)
		st->lw[msg->lane].dlv &= ~(1ull << rel);
	if (st->nheld == HOLD)
		st->nheld--;             /* cannot happen: one was just taken */
	memmove(&st->held[1], &st->held[0], st->nheld * sizeof(st->held[0]));
	st->held[0].m = *msg;
	st->held[0].due = 0;
	st->held[0].decided = true;
	st->nheld++;
}

/* May another message be taken from the ring?  Not when a lane's window
 * is full (it would not fit the bitmaps) or the hold is. */
static bool may_take(struct myco_chan *ch, struct chan_chaos *st)
{
	if (st->nheld >= HOLD)
		return false;
	for (uint32_t l = 0; l < ch->g.nlanes; l++)
		if (ch->rpos[l] - st->lw[l].base >= WIN - 1)
			return false;
	return true;
}

static void flip_bits(const struct active *a, myco_chan_msg_t *m, uint8_t *buf)
{
	uint64_t nbits = (uint64_t)m->len * 8u, r = roll(a, m->lane, m->seq);
	uint64_t k = a->arg ? a->arg : 1;

	if (!nbits)
		return;
	if (k > 64)
		k = 64;
	for (uint64_t i = 0; i < k; i++) {
		uint64_t bit;

		r = myco__chaos_mix(r);
		bit = r % nbits;
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

/* Hand out the next message with the faults of f applied. */
int myco__chaos_recv(struct myco_chan *ch, myco_chan_msg_t *msgs, size_t max,
		     int64_t timeout_ns)
{
	struct active f[MYCO__CHAOS_SLOTS];
	uint64_t t_in = myco__now_raw();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : t_in + (uint64_t)timeout_ns;
	struct chan_chaos *st;
	unsigned nf;
	int rc;

	(void)max;           /* one message per call while faults apply */
	myco__chaos_part_faults();
	for (;;) {
		uint64_t now = myco__now_raw(), wait_until = 0;
		const struct active *a;
		struct held *h;
		myco_chan_msg_t m;

		nf = (ch->chaos_tag && ch->g.policy != MYCO_CHAN_DROP_OLDEST)
			? active_faults(ch->chaos_tag, now, f) : 0;
		if (!ch->chaos) {
			if (!nf)
				return myco__chan_recv_plain(ch, msgs, max, timeout_ns);
			if (!state(ch))          /* no memory: no faults */
				return myco__chan_recv_plain(ch, msgs, max, timeout_ns);
		}
		st = ch->chaos;
		if (!nf && quiet(ch, st)) {
			myco__chaos_free(ch);
			{
				int64_t left = deadline == UINT64_MAX ? -1
					: (int64_t)(deadline > now ? deadline - now : 0);
				return myco__chan_recv_plain(ch, msgs, max, left);
			}
		}
		/* a stall hands out nothing until it ends */
		a = nf ? find(f, nf, MYCO__CHAOS_STALL) : NULL;
		if (a && hits(a, 0, a->seed)) {
			count(MYCO__CHAOS_STALL, 1);
			wait_until = a->t_end;
			goto wait;
		}
		if (st->dup_pending) {
			st->dup_pending = false;
			msgs[0] = st->dup;
			return 1;
		}
		/* take what the ring has, without waiting */
		while (may_take(ch, st)) {
			const struct active *d;

			rc = myco__chan_recv_some(ch, &m, 1);
			if (rc <= 0)
				break;
			h = &st->held[st->nheld++];
			h->m = m;
			h->decided = false;
			h->due = 0;
			d = nf ? find(f, nf, MYCO__CHAOS_DELAY) : NULL;
			if (d && hits(d, m.lane, m.seq)) {
				uint64_t j = d->arg2 ? roll(d, m.lane, m.seq ^ 0x5bd1e995u) % d->arg2 : 0;

				h->due = now + d->arg + j;
				count(MYCO__CHAOS_DELAY, 1);
			}
		}
		if (!st->nheld) {
			if (ch->broken)
				return -EPROTO;
			if (deadline <= now)
				return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
			rc = myco__chan_wait_for(ch, myco__chan_ready_recv,
						 deadline == UINT64_MAX ? -1
						 : (int64_t)(deadline - now));
			if (rc < 0)
				return rc;
			continue;
		}
		h = &st->held[0];
		if (!h->decided) {
			h->decided = true;
			a = nf ? find(f, nf, MYCO__CHAOS_DROP) : NULL;
			if (a && hits(a, h->m.lane, h->m.seq)) {
				struct lanew *w = &st->lw[h->m.lane];
				uint64_t rel = h->m.pos_ - w->base;
				uint32_t lane = h->m.lane;

				if (rel < 64)
					w->dn |= 1ull << rel;
				st->nheld--;
				memmove(&st->held[0], &st->held[1], st->nheld * sizeof(st->held[0]));
				count(MYCO__CHAOS_DROP, 1);
				rc = advance(ch, st, lane);
				if (rc < 0)
					return rc;
				continue;
			}
			a = nf ? find(f, nf, MYCO__CHAOS_REORDER) : NULL;
			if (a && hits(a, h->m.lane, h->m.seq)) {
				for (uint32_t j = 1; j < st->nheld; j++) {
					if (st->held[j].m.lane != h->m.lane)
						continue;
					struct held t = st->held[j];

					/* the later one goes first; the earlier keeps
					 * its place right after it */
					memmove(&st->held[1], &st->held[0], j * sizeof(st->held[0]));
					st->held[0] = t;
					st->held[0].decided = true;
					count(MYCO__CHAOS_REORDER, 1);
					break;
				}
			}
		}
		if (nf && h->due > now) {
			wait_until = h->due;
			goto wait;
		}
		a = nf ? find(f, nf, MYCO__CHAOS_BANDWIDTH) : NULL;
		if (a && a->arg) {
			double rate = (double)a->arg, burst = rate / 100.0;

			if (burst < (double)h->m.len)
				burst = (double)h->m.len;
			if (st->t_tok)
				st->tokens += rate * (double)(now - st->t_tok) / 1e9;
			st->t_tok = now;
			if (st->tokens > burst)
				st->tokens = burst;
			if (st->tokens < (double)h->m.len) {
				count(MYCO__CHAOS_BANDWIDTH, 1);
				wait_until = now + (uint64_t)(((double)h->m.len - st->tokens) / rate * 1e9) + 1;
				goto wait;
			}
			st->tokens -= (double)h->m.len;
		}
		/* hand it out */
		m = h->m;
		st->nheld--;
		memmove(&st->held[0], &st->held[1], st->nheld * sizeof(st->held[0]));
		{
			struct lanew *w = &st->lw[m.lane];
			uint64_t rel = m.pos_ - w->base;

			if (rel < 64)
				w->dlv |= 1ull << rel;
		}
		a = nf ? find(f, nf, MYCO__CHAOS_CORRUPT) : NULL;
		if (a && !(m.flags & MYCO_CHAN_MSG_LOAN) && hits(a, m.lane, m.seq)) {
			uint8_t *c = copy_make(st, &m, false);

			if (c) {
				flip_bits(a, &m, c);
				m.data = c;
				count(MYCO__CHAOS_CORRUPT, 1);
			}
		}
		a = nf ? find(f, nf, MYCO__CHAOS_DUPLICATE) : NULL;
		if (a && hits(a, m.lane, m.seq)) {
			void *c = copy_make(st, &m, true);

			if (c) {
				st->dup = m;
				st->dup.data = c;
				st->dup.flags = (m.flags & ~MYCO_CHAN_MSG_LOAN) |
						MYCO__CHAN_MSG_CHAOS_DUP;
				st->dup_pending = true;
				count(MYCO__CHAOS_DUPLICATE, 1);
			}
		}
		msgs[0] = m;
		return 1;
wait:
		if (deadline <= now)
			return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
		if (wait_until > deadline)
			wait_until = deadline;
		/* re-read the table at least every 10 ms (a fault may end) */
		if (wait_until - now > 10000000ull)
			wait_until = now + 10000000ull;
		sleep_ns(wait_until - now);
	}
}

/* ---- call replies (at the client) and sample values (at the reader) ---- */

/* The end (raw clock) of a stall of this endpoint's channel in effect
 * now, 0 when none. */
uint64_t myco__chaos_stall_end(struct myco_chan *ch)
{
	struct active f[MYCO__CHAOS_SLOTS];
	const struct active *a;
	unsigned n;

	if (!ch->chaos_tag || !__atomic_load_n(myco__chaos_armed, __ATOMIC_RELAXED))
		return 0;
	n = active_faults(ch->chaos_tag, myco__now_raw(), f);
	a = n ? find(f, n, MYCO__CHAOS_STALL) : NULL;
	if (!a)
		return 0;
	count(MYCO__CHAOS_STALL, 1);
	return a->t_end;
}

int myco__chaos_reply(struct myco_chan *ch, uint64_t corr, void *rep, size_t len,
		      uint64_t deadline)
{
	struct active f[MYCO__CHAOS_SLOTS];
	const struct active *a;
	uint64_t now = myco__now_raw();
	unsigned n;

	if (!ch->chaos_tag)
		return 0;
	n = active_faults(ch->chaos_tag, now, f);
	if (!n)
		return 0;
	a = find(f, n, MYCO__CHAOS_DROP);
	if (a && hits(a, ch->index, corr)) {
		count(MYCO__CHAOS_DROP, 1);
		return 1;
	}
	a = find(f, n, MYCO__CHAOS_CORRUPT);
	if (a && len && hits(a, ch->index, corr)) {
		myco_chan_msg_t m = { .len = len, .lane = ch->index, .seq = corr };
		flip_bits(a, &m, rep);
		count(MYCO__CHAOS_CORRUPT, 1);
	}
	a = find(f, n, MYCO__CHAOS_DELAY);
	/* (a wait of 0 is told "no wait": the reply is handed out as it is) */
	if (a && deadline && hits(a, ch->index, corr)) {
		uint64_t d = a->arg + (a->arg2 ? roll(a, ch->index, corr ^ 0x5bd1e995u) % a->arg2 : 0);

		count(MYCO__CHAOS_DELAY, 1);
		if (now + d >= deadline) {
			if (deadline > now)
				sleep_ns(deadline - now);
			return -ETIMEDOUT;
		}
		sleep_ns(d);
	}
	return 0;
}

int myco__chaos_sample(struct myco_chan *ch, void *buf, size_t cap,
		       myco_chan_sample_info_t *info)
{
	struct active f[MYCO__CHAOS_SLOTS];
	const struct active *a;
	struct chan_chaos *st = ch->chaos;
	uint64_t now = myco__now_raw();
	unsigned n = ch->chaos_tag ? active_faults(ch->chaos_tag, now, f) : 0;
	bool hide = false;

	if (!st) {
		/* from the first read of an experiment (armed) on: the value
		 * handed out is kept, for a drop or stall to hand out again */
		st = calloc(1, sizeof(*st));
		if (!st || !(st->sval = malloc(ch->g.msg_size ? ch->g.msg_size : 1))) {
			free(st);
			return 0;        /* not faulted */
		}
		ch->chaos = st;
	}
	if (find(f, n, MYCO__CHAOS_STALL)) {
		count(MYCO__CHAOS_STALL, 1);
		hide = true;
	}
	a = find(f, n, MYCO__CHAOS_DROP);
	if (!hide && a && hits(a, 0, info->seq)) {
		count(MYCO__CHAOS_DROP, 1);
		hide = true;
	}
	if (hide) {
		/* the value the reader had: this one is not seen */
		if (!st->sinfo.seq)
			return -ENODATA;
		if (st->sinfo.len > cap) {
			info->len = st->sinfo.len;
			return -EMSGSIZE;
		}
		memcpy(buf, st->sval, st->sinfo.len);
		*info = st->sinfo;
		info->age_ns += now - st->s_t;
		info->stale = ch->g.refresh_ns && info->age_ns > ch->g.refresh_ns;
		ch->last_seq = st->sinfo.seq;
		return 0;
	}
	if (info->len <= ch->g.msg_size) {
		memcpy(st->sval, buf, info->len);
		st->sinfo = *info;
		st->s_t = now;
	}
	a = find(f, n, MYCO__CHAOS_CORRUPT);
	if (a && info->len && hits(a, 0, info->seq)) {
		myco_chan_msg_t m = { .len = info->len, .lane = 0, .seq = info->seq };
		flip_bits(a, &m, buf);
		count(MYCO__CHAOS_CORRUPT, 1);
	}
	return 0;
}
