/*
 * read.c: the reader side of trace rings (the collector, `myco trace`,
 * tests).  Everything in the region is distrusted: the geometry is copied
 * once after validation, each ring's head is checked against the reader's
 * own tail, each event is copied under its seqlock and then validated.
 * Work per call is bounded by the geometry; the reader never waits.
 * Not for: writing (write.c).  Layout: docs/trace-abi.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "myco_int.h"
#include "trace_int.h"

struct rstate {
	uint64_t tail;          /* our position: never read back from the region */
	uint64_t last_head;
	uint64_t stall_pos;     /* shared ring: unpublished position seen last pass */
	int stalled;
	uint64_t lost;
};

struct myco_trace_reader {
	uint8_t *base;
	size_t size;
	int mapped;
	uint32_t nrings, depth, clock;
	uint64_t tsc_hz, tsc0, ns0;
	uint32_t next;          /* ring to start the next pass with */
	struct tr_ring *rings;
	struct tr_event *events;
	struct rstate *rs;
	myco_trace_stats_t st;
};

static int reader_init(void *mem, size_t size, int mapped, myco_trace_reader_t **out)
{
	const struct tr_hdr *h = mem;
	myco_trace_reader_t *r;
	int rc;

	/* copy the header first: validate the copy, not the live memory */
	struct tr_hdr hc;
	if (size < sizeof hc)
		return -EPROTO;
	memcpy(&hc, h, offsetof(struct tr_hdr, t_enable));
	rc = myco__trace_hdr_ok(&hc, size);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->rs = calloc(hc.t_nrings, sizeof *r->rs);
	if (!r->rs) {
		free(r);
		return -ENOMEM;
	}
	r->base = mem;
	r->size = size;
	r->mapped = mapped;
	r->nrings = hc.t_nrings;
	r->depth = hc.t_depth;
	r->clock = hc.t_clock;
	r->tsc_hz = hc.t_tsc_hz;
	r->tsc0 = hc.t_tsc0;
	r->ns0 = hc.t_ns0;
	r->rings = (struct tr_ring *)(r->base + tr_rings_off());
	r->events = (struct tr_event *)(r->base + tr_events_off(r->nrings));
	/* start at the rings' current tails: what an earlier reader consumed
	 * stays consumed (a restarted collector does not replay) */
	for (uint32_t i = 0; i < r->nrings; i++) {
		uint64_t t = atomic_load_explicit(&r->rings[i].r_tail, memory_order_relaxed);
		uint64_t hd = atomic_load_explicit(&r->rings[i].r_head, memory_order_acquire);
		if (t > hd)
			t = hd;
		r->rs[i].tail = t;
		r->rs[i].last_head = t;
	}
	*out = r;
	return 0;
}

int myco_trace_reader_open(int fd, myco_trace_reader_t **out)
{
	void *base;
	size_t size;
	int rc = myco__trace_map(fd, 1, &base, &size);

	if (rc < 0)
		return rc;
	rc = reader_init(base, size, 1, out);
	if (rc < 0)
		munmap(base, size);
	return rc;
}

int myco_trace_reader_open_mem(void *mem, size_t size, myco_trace_reader_t **out)
{
	return reader_init(mem, size, 0, out);
}

void myco_trace_reader_close(myco_trace_reader_t *r)
{
	if (!r)
		return;
	if (r->mapped)
		munmap(r->base, r->size);
	free(r->rs);
	free(r);
}

uint32_t myco_trace_reader_nrings(const myco_trace_reader_t *r)
{
	return r->nrings;
}

void myco_trace_reader_release_claims(myco_trace_reader_t *r)
{
	for (uint32_t i = 0; i < r->nrings; i++)
		atomic_store_explicit(&r->rings[i].r_claim, 0, memory_order_relaxed);
}

void myco_trace_reader_stats(const myco_trace_reader_t *r, myco_trace_stats_t *st)
{
	*st = r->st;
	st->dropped = 0;
	for (uint32_t i = 0; i < r->nrings; i++)
		st->dropped += atomic_load_explicit(&r->rings[i].r_dropped,
						    memory_order_relaxed);
}

uint64_t myco_trace_reader_ns(const myco_trace_reader_t *r, uint64_t raw)
{
	if (r->clock != MYCO_CLOCK_TSC)
		return raw;
	if (raw >= r->tsc0)
		return r->ns0 + (uint64_t)((unsigned __int128)(raw - r->tsc0) *
					   1000000000u / r->tsc_hz);
	uint64_t back = (uint64_t)((unsigned __int128)(r->tsc0 - raw) * 1000000000u /
				   r->tsc_hz);
	return back < r->ns0 ? r->ns0 - back : 0;
}

/* Copy the event at POS of ring RI under its seqlock into W[0..7].
 * Returns 0 good, 1 overwritten (seq moved past, or a newer lap is being
 * written), 2 being written, 3 never written or an older lap's event, 4
 * corrupt (seq is no position of this slot). */
static int copy_event(const myco_trace_reader_t *r, uint32_t ri, uint64_t pos,
		      uint64_t w[8])
{
	struct tr_event *e = &r->events[(uint64_t)ri * r->depth + (pos & (r->depth - 1))];
	const uint64_t *src = (const uint64_t *)e;
	uint64_t s1 = atomic_load_explicit(&e->e_seq, memory_order_acquire);

	if (s1 != pos + 1) {
		if (s1 & TR_BUSY)
			return (s1 & ~TR_BUSY) >= pos + 1 ? 1 : 2;
		if (s1 == 0)
			return 3;
		if (s1 > pos + 1)
			return (s1 - pos - 1) % r->depth == 0 ? 1 : 4;
		return (pos + 1 - s1) % r->depth == 0 ? 3 : 4;
	}
	for (int i = 1; i < 8; i++)
		w[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&e->e_seq, memory_order_relaxed) != s1)
		return 1;
	w[0] = s1;
	return 0;
}

/* Shared ring, position POS claimed but not (completely) published: stop
 * this pass; if it is still so on the next pass, skip it as lost (a writer
 * that died or was preempted mid-event cannot stall the reader). */
static int stall(myco_trace_reader_t *r, struct rstate *rs, uint64_t pos)
{
	if (rs->stalled && rs->stall_pos == pos) {
		rs->stalled = 0;
		r->st.lost++;
		rs->lost++;
		rs->tail = pos + 1;
		return 0;
	}
	rs->stalled = 1;
	rs->stall_pos = pos;
	return -1;
}

/* Decode one event (or log record) at rs->tail of ring RI into OUT.
 * Returns 1 delivered, 0 consumed without delivering, -1 stop this ring. */
static int take(myco_trace_reader_t *r, uint32_t ri, uint64_t head,
		myco_trace_event_t *out)
{
	struct rstate *rs = &r->rs[ri];
	uint64_t pos = rs->tail, w[8];
	int shared = ri == r->nrings - 1;   /* by geometry, not r_shared */
	int c = copy_event(r, ri, pos, w);

	/* shared ring: a writer claimed pos and has not published it yet;
	 * single-writer ring: the position was published (head is past it), so
	 * "being written" means the writer is overwriting it now (lost) and an
	 * older lap's seq is corruption */
	if (!shared && c == 2)
		c = 1;
	if ((c == 2 || c == 3) && shared)
		return stall(r, rs, pos);
	rs->stalled = 0;
	if (c != 0) {
		if (c == 1) {
			r->st.lost++;
			rs->lost++;
		} else {
			r->st.corrupt++;
		}
		rs->tail++;
		return 0;
	}
	unsigned id = (unsigned)(w[2] & 0xffff);
	unsigned level = (unsigned)(w[2] >> 16) & 0xff;
	unsigned len = (unsigned)(w[2] >> 24) & 0xff;
	if (id == MYCO_EV_CONT) {
		/* the rest of a record whose head was lost */
		r->st.lost++;
		rs->lost++;
		rs->tail++;
		return 0;
	}
	if (id == 0 || id >= MYCO_EV_MAX ||
	    !myco_trace_ev_name(id) ||
	    (id != MYCO_EV_LOG && (len > TR_STR || level != 0)) ||
	    (id == MYCO_EV_LOG && (level < MYCO_LOG_ERROR || level > MYCO_LOG_DEBUG))) {
		r->st.corrupt++;
		rs->tail++;
		return 0;
	}
	out->ts_ns = myco_trace_reader_ns(r, w[1]);
	out->pos = pos;
	out->ring = ri;
	out->tid = (uint32_t)(w[2] >> 32);
	out->id = (uint16_t)id;
	out->level = (uint8_t)level;
	out->len = (uint8_t)len;
	if (id != MYCO_EV_LOG) {
		out->a[0] = w[3];
		out->a[1] = w[4];
		out->a[2] = w[5];
		memcpy(out->str, &w[6], len);
		out->str[len] = 0;
		rs->tail++;
		return 1;
	}
	/* a log record: the head event and its continuations, all or nothing */
	uint32_t n = len <= TR_TEXT ? 1 : 1 + (len - TR_TEXT + TR_TEXT - 1) / TR_TEXT;
	if (pos + n > head) {
		/* a single writer publishes the whole record at once */
		if (!shared) {
			r->st.corrupt++;
			rs->tail++;
			return 0;
		}
		return stall(r, rs, pos);
	}
	out->a[0] = out->a[1] = out->a[2] = 0;
	memcpy(out->str, &w[3], TR_TEXT);
	for (uint32_t i = 1; i < n; i++) {
		uint64_t cw[8];
		c = copy_event(r, ri, pos + i, cw);
		if ((c == 2 || c == 3) && shared)
			return stall(r, rs, pos);
		if (!shared && c == 2)
			c = 1;
		if (c != 0 || (cw[2] & 0xffff) != MYCO_EV_CONT) {
			if (c == 1)
				r->st.lost++;
			else
				r->st.corrupt++;
			rs->tail = pos + i;
			return 0;
		}
		memcpy(out->str + i * TR_TEXT, &cw[3], TR_TEXT);
	}
	out->str[len] = 0;
	rs->tail = pos + n;
	return 1;
}

size_t myco_trace_read(myco_trace_reader_t *r, myco_trace_event_t *out, size_t cap)
{
	size_t n = 0;

	for (uint32_t k = 0; k < r->nrings && n < cap; k++) {
		uint32_t ri = (r->next + k) % r->nrings;
		struct rstate *rs = &r->rs[ri];
		struct tr_ring *ring = &r->rings[ri];
		uint64_t head = atomic_load_explicit(&ring->r_head, memory_order_acquire);

		if (head < rs->last_head || head < rs->tail) {
			/* an index went backwards: corruption; resynchronise */
			r->st.corrupt++;
			rs->tail = rs->last_head = head;
			rs->stalled = 0;
			continue;
		}
		rs->last_head = head;
		if (head - rs->tail > r->depth) {
			r->st.lost += head - r->depth - rs->tail;
			rs->lost += head - r->depth - rs->tail;
			rs->tail = head - r->depth;
			rs->stalled = 0;
		}
		for (uint32_t budget = r->depth; budget && rs->tail < head && n < cap;
		     budget--) {
			int t = take(r, ri, head, &out[n]);
			if (t < 0)
				break;
			n += (size_t)t;
		}
		atomic_store_explicit(&ring->r_tail, rs->tail, memory_order_release);
		atomic_store_explicit(&ring->r_lost, rs->lost, memory_order_relaxed);
	}
	r->next = r->nrings ? (r->next + 1) % r->nrings : 0;
	r->st.events += n;
	return n;
}
