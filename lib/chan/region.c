/*
 * region.c: channel regions - layout, owner side (create, capabilities,
 * recovery, counters) and endpoint attach/close, plus the sleep/wake
 * machinery (futex + eventfd) every kind shares.
 * Not for: the message protocols themselves (queue.c, call.c, sample.c,
 * loan.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan_int.h"

#if defined(__SANITIZE_THREAD__)
#define CHAN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHAN_TSAN 1
#endif
#endif

struct myco_chan_owner {
	struct myco_chan view;   /* owner's own mapping, role 0 */
	int memfd;
	int efd_main;
	int efd_lane[MYCO_CHAN_MAX_PEERS];
};

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

uint64_t myco__chan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int myco__chan_layout(struct chan_geom *g)
{
	uint64_t off, rings = 0, sb = 0, ld = 0, pool = 0;

	if (g->kind < MYCO_CHAN_QUEUE || g->kind > MYCO_CHAN_CALL)
		return -EINVAL;
	if (g->msg_size == 0 || g->msg_size > MYCO_CHAN_MAX_MSG)
		return -EINVAL;
	if (g->nlanes == 0 || g->nlanes > MYCO_CHAN_MAX_PEERS)
		return -EINVAL;
	if (g->policy < MYCO_CHAN_BLOCK || g->policy > MYCO_CHAN_DROP_OLDEST)
		return -EINVAL;
	if (g->depth < 2 || g->depth > MYCO_CHAN_MAX_DEPTH ||
	    (g->depth & (g->depth - 1)) != 0)
		return -EINVAL;
	if (g->kind == MYCO_CHAN_CALL && g->policy == MYCO_CHAN_DROP_OLDEST)
		return -EINVAL;
	if (g->features & ~CHAN_FEAT_KNOWN)
		return -EINVAL;
	if (g->features & CHAN_FEAT_LOANS) {
		if (g->kind != MYCO_CHAN_QUEUE || g->policy == MYCO_CHAN_DROP_OLDEST)
			return -EINVAL;
		if (g->loan_bs == 0 || g->loan_bs % CHAN_CL || g->loan_bs > (1u << 30))
			return -EINVAL;
		if (g->loan_n == 0 || g->loan_n > LD_MAX_BLOCKS)
			return -EINVAL;
	} else if (g->loan_bs || g->loan_n) {
		return -EINVAL;
	}
	g->stride = (uint32_t)round_up((uint64_t)g->msg_size + sizeof(struct chan_slot), CHAN_CL);
	off = sizeof(struct chan_hdr);
	g->lanes_off = off;
	off += (uint64_t)g->nlanes * sizeof(struct chan_lane);
	g->rings_off = off;
	if (g->kind != MYCO_CHAN_SAMPLE)
		rings = (uint64_t)g->nlanes * g->depth * g->stride;
	off += rings;
	g->replies_off = off;
	if (g->kind == MYCO_CHAN_CALL)
		off += rings;
	g->sbuf_off = off;
	g->sbuf_stride = round_up((uint64_t)g->msg_size + sizeof(struct chan_sbuf), CHAN_CL);
	if (g->kind == MYCO_CHAN_SAMPLE)
		sb = CHAN_SBUFS * g->sbuf_stride;
	off += sb;
	g->ldesc_off = off;
	if (g->features & CHAN_FEAT_LOANS) {
		ld = round_up((uint64_t)g->loan_n * 8u, CHAN_CL);
		pool = (uint64_t)g->loan_n * g->loan_bs;
	}
	off += ld;
	if (pool)
		off = round_up(off, 4096);
	g->pool_off = off;
	off += pool;
	g->size = round_up(off, 4096);
	if (g->size > MYCO_CHAN_MAX_REGION)
		return -EINVAL;
	return 0;
}

int myco__chan_corrupt(struct myco_chan *ch)
{
	ch->broken = 1;
	if (ch->hdr)
		atomic_store_explicit(&ch->hdr->broken, 1, memory_order_relaxed);
	return -EPROTO;
}

void myco_chan_config_init(myco_chan_config_t *cfg, myco_chan_kind_t kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->msg_size = 64;
	cfg->depth = 256;
	cfg->policy = MYCO_CHAN_BLOCK;
	cfg->producers = 1;
	cfg->readers = 1;
	cfg->clients = 1;
	cfg->block_timeout_ns = -1;
	cfg->refresh_ns = 0;
	cfg->call_timeout_ns = 1000000000u;
	cfg->spin = 2000;
}

static int geom_from_config(const myco_chan_config_t *cfg, struct chan_geom *g)
{
	uint32_t d = cfg->depth;

	memset(g, 0, sizeof(*g));
	g->kind = (uint32_t)cfg->kind;
	g->policy = cfg->kind == MYCO_CHAN_QUEUE ? (uint32_t)cfg->policy :
	            cfg->kind == MYCO_CHAN_CALL ? (uint32_t)cfg->policy : MYCO_CHAN_REJECT;
	if (cfg->kind == MYCO_CHAN_CALL && cfg->policy == 0)
		g->policy = MYCO_CHAN_REJECT;
	g->msg_size = cfg->msg_size;
	if (cfg->kind == MYCO_CHAN_SAMPLE) {
		d = 2;
	} else {
		if (d < 2)
			d = 2;
		if (d > MYCO_CHAN_MAX_DEPTH)
			return -EINVAL;
		while (d & (d - 1))
			d = (d | (d - 1)) + 1;
	}
	g->depth = d;
	g->nlanes = cfg->kind == MYCO_CHAN_QUEUE ? cfg->producers :
	            cfg->kind == MYCO_CHAN_SAMPLE ? cfg->readers : cfg->clients;
	if (cfg->loan_blocks || cfg->loan_block_size) {
		if (!cfg->loan_blocks || !cfg->loan_block_size)
			return -EINVAL;
		g->features |= CHAN_FEAT_LOANS;
		g->loan_bs = (uint32_t)round_up(cfg->loan_block_size, CHAN_CL);
		g->loan_n = cfg->loan_blocks;
	}
	g->block_timeout_ns = cfg->block_timeout_ns;
	g->refresh_ns = cfg->refresh_ns;
	g->call_timeout_ns = cfg->call_timeout_ns;
	g->spin = cfg->spin;
	return myco__chan_layout(g);
}

static uint32_t hdr_check(const struct chan_hdr *h)
{
	const uint8_t *p = (const uint8_t *)h;
	uint32_t x = 2166136261u;
	size_t i;

	for (i = 0; i < offsetof(struct chan_hdr, h_check); i++)
		x = (x ^ p[i]) * 16777619u;
	return x;
}

static void hdr_write_geom(struct chan_hdr *h, const struct chan_geom *g)
{
	h->h_magic = CHAN_MAGIC;
	h->h_version = CHAN_VERSION;
	h->h_features = g->features;
	h->h_kind = g->kind;
	h->h_policy = g->policy;
	h->h_msg_size = g->msg_size;
	h->h_stride = g->stride;
	h->h_depth = g->depth;
	h->h_nlanes = g->nlanes;
	h->h_loan_bs = g->loan_bs;
	h->h_loan_n = g->loan_n;
	h->h_size = g->size;
	h->h_block_timeout_ns = g->block_timeout_ns;
	h->h_refresh_ns = g->refresh_ns;
	h->h_call_timeout_ns = g->call_timeout_ns;
	h->h_spin = g->spin;
	h->h_check = hdr_check(h);
}

/* Read and validate the geometry of a mapped header (volatile copy first so
 * a concurrent scribbler cannot change a value between check and use). */
static int hdr_read_geom(const struct chan_hdr *hp, uint64_t fsize, struct chan_geom *g)
{
	struct chan_hdr h;
	struct chan_geom want;
	int rc;

	memcpy(&h, (const void *)hp, offsetof(struct chan_hdr, h_pad1));
	if (h.h_magic != CHAN_MAGIC)
		return -EPROTO;
	if (h.h_version != CHAN_VERSION)
		return -MYCO_EVERSION;
	if (h.h_check != hdr_check(&h))
		return -EPROTO;
	memset(g, 0, sizeof(*g));
	g->kind = h.h_kind;
	g->policy = h.h_policy;
	g->msg_size = h.h_msg_size;
	g->depth = h.h_depth;
	g->nlanes = h.h_nlanes;
	g->features = h.h_features;
	g->loan_bs = h.h_loan_bs;
	g->loan_n = h.h_loan_n;
	g->block_timeout_ns = h.h_block_timeout_ns;
	g->refresh_ns = h.h_refresh_ns;
	g->call_timeout_ns = h.h_call_timeout_ns;
	g->spin = h.h_spin;
	rc = myco__chan_layout(g);
	if (rc)
		return -EPROTO;
	want = *g;
	if (h.h_stride != want.stride || h.h_size != want.size || fsize != want.size)
		return -EPROTO;
	return 0;
}

/* ---------------------------------------------------------------- */
/* Owner                                                             */
/* ---------------------------------------------------------------- */

int myco_chan_create(const myco_chan_config_t *cfg, myco_chan_owner_t **out)
{
	struct myco_chan_owner *o = NULL;
	struct chan_geom g;
	void *base = MAP_FAILED;
	uint32_t i;
	int rc;

	*out = NULL;
	if (!cfg)
		return -EINVAL;
	rc = geom_from_config(cfg, &g);
	if (rc)
		return rc;
	o = calloc(1, sizeof(*o));    /* freed by myco_chan_owner_close() */
	if (!o)
		return -ENOMEM;
	o->memfd = -1;
	o->efd_main = -1;
	for (i = 0; i < MYCO_CHAN_MAX_PEERS; i++)
		o->efd_lane[i] = -1;
	o->view.efd_self = o->view.efd_main = -1;
	o->memfd = memfd_create(cfg->name ? cfg->name : "myco-chan",
	                        MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (o->memfd < 0) {
		rc = -errno;
		goto out;
	}
	if (ftruncate(o->memfd, (off_t)g.size) < 0) {
		rc = -errno;
		goto out;
	}
	if (fcntl(o->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		goto out;
	}
	base = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, o->memfd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	/* The memfd is zero-filled: all indices 0, all loan blocks free
	 * (gen 0), no sleepers.  Write the geometry last. */
	hdr_write_geom(base, &g);
	o->efd_main = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->efd_main < 0) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < g.nlanes; i++) {
		o->efd_lane[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (o->efd_lane[i] < 0) {
			rc = -errno;
			goto out;
		}
	}
	o->view.g = g;
	o->view.map_size = g.size;
	o->view.base = base;
	o->view.hdr = base;
	o->view.efd_main = o->efd_main;
	o->view.efd_lane = o->efd_lane;
	base = MAP_FAILED;
	*out = o;
	o = NULL;
	rc = 0;
out:
	if (base != MAP_FAILED)
		munmap(base, g.size);
	if (o) {
		o->view.base = NULL;
		myco_chan_owner_close(o);
	}
	return rc;
}

void myco_chan_owner_close(myco_chan_owner_t *o)
{
	uint32_t i;

	if (!o)
		return;
	if (o->view.base)
		munmap(o->view.base, o->view.map_size);
	if (o->memfd >= 0)
		close(o->memfd);
	if (o->efd_main >= 0)
		close(o->efd_main);
	for (i = 0; i < MYCO_CHAN_MAX_PEERS; i++)
		if (o->efd_lane[i] >= 0)
			close(o->efd_lane[i]);
	free(o);
}

int myco_chan_owner_memfd(const myco_chan_owner_t *o)
{
	return o->memfd;
}

static bool role_fits(uint32_t kind, myco_chan_role_t role, bool *lane_role)
{
	switch (role) {
	case MYCO_CHAN_PRODUCER: *lane_role = true;  return kind == MYCO_CHAN_QUEUE;
	case MYCO_CHAN_CONSUMER: *lane_role = false; return kind == MYCO_CHAN_QUEUE;
	case MYCO_CHAN_READER:   *lane_role = true;  return kind == MYCO_CHAN_SAMPLE;
	case MYCO_CHAN_WRITER:   *lane_role = false; return kind == MYCO_CHAN_SAMPLE;
	case MYCO_CHAN_CLIENT:   *lane_role = true;  return kind == MYCO_CHAN_CALL;
	case MYCO_CHAN_SERVER:   *lane_role = false; return kind == MYCO_CHAN_CALL;
	}
	*lane_role = false;
	return false;
}

int myco_chan_cap_fds(const myco_chan_owner_t *o, myco_chan_role_t role,
                      uint32_t index, int *fds, size_t max)
{
	bool lane_role;
	size_t n = 0;
	uint32_t i;

	if (!role_fits(o->view.g.kind, role, &lane_role))
		return -EINVAL;
	if (lane_role) {
		if (index >= o->view.g.nlanes)
			return -EINVAL;
		if (max < 3)
			return -ENOSPC;
		fds[n++] = o->memfd;
		fds[n++] = o->efd_main;
		fds[n++] = o->efd_lane[index];
		return (int)n;
	}
	if (max < 2u + o->view.g.nlanes)
		return -ENOSPC;
	fds[n++] = o->memfd;
	fds[n++] = o->efd_main;
	for (i = 0; i < o->view.g.nlanes; i++)
		fds[n++] = o->efd_lane[i];
	return (int)n;
}

static void stats_fill(const struct myco_chan *v, myco_chan_stats_t *st)
{
	const struct chan_geom *g = &v->g;
	uint32_t i;

	memset(st, 0, sizeof(*st));
	st->broken = atomic_load_explicit(&v->hdr->broken, memory_order_relaxed) != 0 ||
	             v->broken;
	st->wakeups = atomic_load_explicit(&v->hdr->wakeups, memory_order_relaxed);
	if (atomic_load_explicit(&v->hdr->attached, memory_order_relaxed))
		st->attached++;
	for (i = 0; i < g->nlanes; i++) {
		struct chan_lane *l = chan_lane(v, i);
		uint64_t t = atomic_load_explicit(&l->tail, memory_order_relaxed);
		uint64_t h = atomic_load_explicit(&l->head, memory_order_relaxed);

		if (atomic_load_explicit(&l->attached, memory_order_relaxed))
			st->attached++;
		if (g->kind == MYCO_CHAN_SAMPLE)
			continue;
		st->sent += t;
		st->done += h;
		st->pending += t >= h ? t - h : 0;
		st->rejected += atomic_load_explicit(&l->rejected, memory_order_relaxed);
		st->dropped += atomic_load_explicit(&l->dropped, memory_order_relaxed);
		st->replies += atomic_load_explicit(&l->replies, memory_order_relaxed);
		st->dropped += atomic_load_explicit(&l->rdropped, memory_order_relaxed);
	}
	if (g->kind == MYCO_CHAN_SAMPLE)
		st->sent = atomic_load_explicit(&v->hdr->s_latest, memory_order_relaxed);
	if (g->features & CHAN_FEAT_LOANS) {
		au64 *ld = (au64 *)(v->base + g->ldesc_off);
		for (i = 0; i < g->loan_n; i++)
			if (LD_STATE(atomic_load_explicit(&ld[i], memory_order_relaxed)) != LD_FREE)
				st->loans_in_use++;
	}
}

int myco_chan_owner_stats(const myco_chan_owner_t *o, myco_chan_stats_t *st)
{
	struct chan_geom g;

	if (hdr_read_geom(o->view.hdr, o->view.g.size, &g) != 0) {
		memset(st, 0, sizeof(*st));
		st->broken = 1;
		atomic_store_explicit(&o->view.hdr->broken, 1, memory_order_relaxed);
		return -EPROTO;
	}
	stats_fill(&o->view, st);
	return 0;
}

int myco_chan_owner_broken(const myco_chan_owner_t *o)
{
	struct chan_geom g;

	if (hdr_read_geom(o->view.hdr, o->view.g.size, &g) != 0)
		return 1;
	return atomic_load_explicit(&o->view.hdr->broken, memory_order_relaxed) != 0;
}

/* Is loan block `first` referenced by a message of lane in [head, tail]
 * (tail inclusive: a producer writes the slot before marking blocks sent)? */
static bool loan_referenced(struct myco_chan *v, uint32_t lane, uint32_t first)
{
	struct chan_lane *l = chan_lane(v, lane);
	uint64_t h = atomic_load_explicit(&l->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
	uint64_t p;

	if (t < h || t - h > v->g.depth)
		return true; /* corrupt: keep, never free what might be in use */
	for (p = h; p <= t && p - h < v->g.depth; p++) {
		struct chan_slot *s = chan_slot(v, lane, p);
		if (atomic_load_explicit(&s->seq, memory_order_acquire) == p + 1 &&
		    (__atomic_load_n(&s->flags, __ATOMIC_RELAXED) & MYCO_CHAN_MSG_LOAN) &&
		    __atomic_load_n(&s->loan_block, __ATOMIC_RELAXED) == first)
			return true;
	}
	return false;
}

/* Free loaned blocks of `lane` (all = every lane) and sent runs no ring
 * references.  Only for dead endpoints (see myco_chan_recover()). */
static void loan_sweep(struct myco_chan *v, uint32_t lane, bool all)
{
	au64 *ld = (au64 *)(v->base + v->g.ldesc_off);
	uint32_t i;

	for (i = 0; i < v->g.loan_n; i++) {
		uint64_t d = atomic_load_explicit(&ld[i], memory_order_acquire);
		uint32_t st = LD_STATE(d), own = LD_OWNER(d), run = LD_RUN(d);

		if (st == LD_FREE || run == 0 || own >= v->g.nlanes)
			continue;
		if (!all && own != lane)
			continue;
		if (st == LD_LOANED && !all) {
			myco__chan_loan_free_run(v, i, run, own, LD_GEN(d));
		} else if (st == LD_SENT && !loan_referenced(v, own, i)) {
			myco__chan_loan_free_run(v, i, run, own, LD_GEN(d));
		}
	}
}

int myco_chan_recover(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t index)
{
	struct myco_chan *v = &o->view;
	struct chan_geom g;
	bool lane_role;
	uint32_t i;

	if (!role_fits(v->g.kind, role, &lane_role))
		return -EINVAL;
	if (lane_role && index >= v->g.nlanes)
		return -EINVAL;
	if (hdr_read_geom(v->hdr, v->g.size, &g) != 0)
		return myco__chan_corrupt(v);
	if (lane_role) {
		struct chan_lane *l = chan_lane(v, index);

		atomic_store_explicit(&l->p_sleep, 0, memory_order_seq_cst);
		if (role == MYCO_CHAN_READER) {
			atomic_fetch_and_explicit(&v->hdr->r_sleep, ~(UINT64_C(1) << index),
			                          memory_order_seq_cst);
			atomic_fetch_and_explicit(&v->hdr->r_efd, ~(UINT64_C(1) << index),
			                          memory_order_seq_cst);
		}
		if (v->g.features & CHAN_FEAT_LOANS)
			loan_sweep(v, index, false);
		atomic_store_explicit(&l->attached, 0, memory_order_release);
		/* let the main side re-check (e.g. a consumer waiting on us) */
		myco__chan_wake_main(v);
	} else {
		atomic_store_explicit(&v->hdr->c_sleep, 0, memory_order_seq_cst);
		if (v->g.features & CHAN_FEAT_LOANS)
			loan_sweep(v, 0, true);
		atomic_store_explicit(&v->hdr->attached, 0, memory_order_release);
		for (i = 0; i < v->g.nlanes; i++)
			myco__chan_wake_lane(v, i);
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Endpoints                                                         */
/* ---------------------------------------------------------------- */

static int dup_fd(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return r < 0 ? -errno : r;
}

static void chan_free(struct myco_chan *ch)
{
	uint32_t i;

	if (ch->base)
		munmap(ch->base, ch->map_size);
	if (ch->efd_self >= 0 && ch->efd_self != ch->efd_main)
		close(ch->efd_self);
	if (ch->efd_main >= 0)
		close(ch->efd_main);
	if (ch->efd_lane) {
		for (i = 0; i < ch->g.nlanes; i++)
			if (ch->efd_lane[i] >= 0)
				close(ch->efd_lane[i]);
		free(ch->efd_lane);
	}
	free(ch->rpos);
	free(ch->chead);
	free(ch->tail_cache);
	free(ch->lref);
	free(ch->rtail);
	free(ch);
}

/* Main-side state from the region: per-lane indices, validated. */
static int attach_main(struct myco_chan *ch)
{
	uint32_t n = ch->g.nlanes, i;

	if (ch->g.kind == MYCO_CHAN_SAMPLE) {
		ch->wseq = atomic_load_explicit(&ch->hdr->s_latest, memory_order_acquire);
		return 0;
	}
	ch->rpos = calloc(n, sizeof(uint64_t));
	ch->chead = calloc(n, sizeof(uint64_t));
	ch->tail_cache = calloc(n, sizeof(uint64_t));
	if (!ch->rpos || !ch->chead || !ch->tail_cache)
		return -ENOMEM;
	if (ch->g.features & CHAN_FEAT_LOANS) {
		ch->lref = calloc((size_t)n * ch->g.depth, sizeof(uint64_t));
		if (!ch->lref)
			return -ENOMEM;
	}
	if (ch->g.kind == MYCO_CHAN_CALL) {
		ch->rtail = calloc(n, sizeof(uint64_t));
		if (!ch->rtail)
			return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct chan_lane *l = chan_lane(ch, i);
		uint64_t h = atomic_load_explicit(&l->head, memory_order_acquire);
		uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);

		if (t < h || t - h > ch->g.depth)
			return -EPROTO;
		ch->rpos[i] = ch->chead[i] = h;
		ch->tail_cache[i] = t;
		if (ch->rtail) {
			uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
			uint64_t rt = atomic_load_explicit(&l->rtail, memory_order_acquire);

			if (rt < rh || rt - rh > ch->g.depth)
				return -EPROTO;
			ch->rtail[i] = rt;
		}
	}
	return 0;
}

static int attach_lane(struct myco_chan *ch)
{
	struct chan_lane *l = chan_lane(ch, ch->index);

	if (ch->g.kind == MYCO_CHAN_SAMPLE) {
		ch->last_seq = 0;
		return 0;
	}
	ch->head_cache = atomic_load_explicit(&l->head, memory_order_acquire);
	ch->tail = atomic_load_explicit(&l->tail, memory_order_acquire);
	if (ch->tail < ch->head_cache || ch->tail - ch->head_cache > ch->g.depth)
		return -EPROTO;
	if (ch->g.kind == MYCO_CHAN_CALL) {
		uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
		uint64_t rt = atomic_load_explicit(&l->rtail, memory_order_acquire);

		if (rt < rh || rt - rh > ch->g.depth)
			return -EPROTO;
		ch->rhead = rh;
	}
	return 0;
}

int myco_chan_attach(const int *fds, size_t nfds, myco_chan_role_t role,
                     uint32_t index, const myco_chan_attach_opts_t *opts,
                     myco_chan_t **out)
{
	struct myco_chan *ch = NULL;
	struct stat sb;
	void *base;
	bool lane_role = false, claimed = false;
	int seals, rc;
	uint32_t i;

	*out = NULL;
	if (!fds || nfds < 2)
		return -EINVAL;
	if (fstat(fds[0], &sb) < 0)
		return -errno;
	seals = fcntl(fds[0], F_GET_SEALS);
	if (seals < 0)
		return -errno;
	/* Without these seals a peer could shrink the file under our mapping
	 * (SIGBUS) or grow it past what we validated. */
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	if (sb.st_size < (off_t)sizeof(struct chan_hdr) ||
	    (uint64_t)sb.st_size > MYCO_CHAN_MAX_REGION)
		return -EPROTO;
	ch = calloc(1, sizeof(*ch));     /* freed by myco_chan_close() */
	if (!ch)
		return -ENOMEM;
	ch->efd_self = ch->efd_main = -1;
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (base == MAP_FAILED) {
		free(ch);
		return -errno;
	}
	ch->base = base;
	ch->hdr = base;
	ch->map_size = (size_t)sb.st_size;
	rc = hdr_read_geom(ch->hdr, (uint64_t)sb.st_size, &ch->g);
	if (rc)
		goto out;
	if (!role_fits(ch->g.kind, role, &lane_role)) {
		rc = -EINVAL;
		goto out;
	}
	ch->role = role;
	ch->spin = opts && opts->spin != UINT32_MAX ? opts->spin : ch->g.spin;
	if (atomic_load_explicit(&ch->hdr->broken, memory_order_relaxed)) {
		ch->broken = 1;
	}
	if (lane_role) {
		if (nfds != 3) {
			rc = -EINVAL;
			goto out;
		}
		if (index == MYCO_CHAN_ANY) {
			for (i = 0; i < ch->g.nlanes; i++) {
				uint32_t z = 0;
				if (atomic_compare_exchange_strong(&chan_lane(ch, i)->attached, &z, 1))
					break;
			}
			if (i == ch->g.nlanes) {
				rc = -EBUSY;
				goto out;
			}
			index = i;
		} else {
			uint32_t z = 0;
			if (index >= ch->g.nlanes) {
				rc = -EINVAL;
				goto out;
			}
			if (!atomic_compare_exchange_strong(&chan_lane(ch, index)->attached, &z, 1)) {
				rc = -EBUSY;
				goto out;
			}
		}
		claimed = true;
		ch->index = index;
		rc = attach_lane(ch);
		if (rc)
			goto out;
		if ((rc = dup_fd(fds[1])) < 0)
			goto out;
		ch->efd_main = rc;
		if ((rc = dup_fd(fds[2])) < 0)
			goto out;
		ch->efd_self = rc;
	} else {
		uint32_t z = 0;

		if (nfds != 2u + ch->g.nlanes) {
			rc = -EINVAL;
			goto out;
		}
		if (!atomic_compare_exchange_strong(&ch->hdr->attached, &z, 1)) {
			rc = -EBUSY;
			goto out;
		}
		claimed = true;
		ch->index = 0;
		rc = attach_main(ch);
		if (rc)
			goto out;
		ch->efd_lane = malloc(ch->g.nlanes * sizeof(int));
		if (!ch->efd_lane) {
			rc = -ENOMEM;
			goto out;
		}
		for (i = 0; i < ch->g.nlanes; i++)
			ch->efd_lane[i] = -1;
		if ((rc = dup_fd(fds[1])) < 0)
			goto out;
		ch->efd_main = ch->efd_self = rc;
		for (i = 0; i < ch->g.nlanes; i++) {
			if ((rc = dup_fd(fds[2 + i])) < 0)
				goto out;
			ch->efd_lane[i] = rc;
		}
	}
	*out = ch;
	return 0;
out:
	/* we hold the slot: give it back */
	if (claimed) {
		if (lane_role)
			atomic_store(&chan_lane(ch, ch->index)->attached, 0);
		else
			atomic_store(&ch->hdr->attached, 0);
	}
	chan_free(ch);
	return rc;
}

void myco_chan_close(myco_chan_t *ch)
{
	bool lane_role;

	if (!ch)
		return;
	role_fits(ch->g.kind, ch->role, &lane_role);
	if (ch->g.features & CHAN_FEAT_LOANS && ch->role == MYCO_CHAN_PRODUCER)
		myco__chan_loan_release_mine(ch);
	if (lane_role) {
		struct chan_lane *l = chan_lane(ch, ch->index);
		atomic_store(&l->p_sleep, 0);
		if (ch->role == MYCO_CHAN_READER) {
			atomic_fetch_and(&ch->hdr->r_sleep, ~(UINT64_C(1) << ch->index));
			atomic_fetch_and(&ch->hdr->r_efd, ~(UINT64_C(1) << ch->index));
		}
		atomic_store(&l->attached, 0);
	} else {
		atomic_store(&ch->hdr->c_sleep, 0);
		atomic_store(&ch->hdr->attached, 0);
	}
	chan_free(ch);
}

myco_chan_kind_t myco_chan_kind(const myco_chan_t *ch) { return (myco_chan_kind_t)ch->g.kind; }
myco_chan_role_t myco_chan_role(const myco_chan_t *ch) { return ch->role; }
uint32_t myco_chan_index(const myco_chan_t *ch) { return ch->index; }
size_t myco_chan_msg_size(const myco_chan_t *ch) { return ch->g.msg_size; }
void myco_chan_set_spin(myco_chan_t *ch, uint32_t spin) { ch->spin = spin; }

int myco_chan_broken(const myco_chan_t *ch)
{
	return ch->broken ||
	       atomic_load_explicit(&ch->hdr->broken, memory_order_relaxed) != 0;
}

int myco_chan_stats(const myco_chan_t *ch, myco_chan_stats_t *st)
{
	stats_fill(ch, st);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Sleeping and waking                                               */
/* ---------------------------------------------------------------- */

static long futex_wait(au32 *addr, uint32_t val, const struct timespec *rel)
{
	return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, val, rel, NULL, 0);
}

static void futex_wake(au32 *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	if (fd < 0)
		return;
	r = write(fd, &one, sizeof(one));
	(void)r; /* EAGAIN only when the counter is saturated: still readable */
}

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t r;

	if (fd < 0)
		return;
	r = read(fd, &v, sizeof(v));
	(void)r;
}

static void wake(struct myco_chan *ch, au32 *flags, au32 *fut, int efd)
{
	uint32_t f;

	atomic_thread_fence(memory_order_seq_cst);
	f = atomic_load_explicit(flags, memory_order_relaxed);
	if (!f)
		return;
	atomic_fetch_add_explicit(&ch->hdr->wakeups, 1, memory_order_relaxed);
	if (f & CHAN_SLEEP_FUTEX) {
		atomic_fetch_add_explicit(fut, 1, memory_order_seq_cst);
		futex_wake(fut);
	}
	if (f & CHAN_SLEEP_EFD)
		efd_signal(efd);
}

void myco__chan_wake_main(struct myco_chan *ch)
{
	wake(ch, &ch->hdr->c_sleep, &ch->hdr->c_futex, ch->efd_main);
}

void myco__chan_wake_lane(struct myco_chan *ch, uint32_t lane)
{
	struct chan_lane *l = chan_lane(ch, lane);
	int efd = ch->efd_lane ? ch->efd_lane[lane] : ch->efd_self;

	wake(ch, &l->p_sleep, &l->p_futex, efd);
}

void myco__chan_wake_readers(struct myco_chan *ch)
{
	uint64_t s, e;
	uint32_t i;

	atomic_thread_fence(memory_order_seq_cst);
	s = atomic_load_explicit(&ch->hdr->r_sleep, memory_order_relaxed);
	e = atomic_load_explicit(&ch->hdr->r_efd, memory_order_relaxed);
	if (!(s | e))
		return;
	atomic_fetch_add_explicit(&ch->hdr->wakeups, 1, memory_order_relaxed);
	if (s) {
		atomic_fetch_add_explicit(&ch->hdr->s_futex, 1, memory_order_seq_cst);
		futex_wake(&ch->hdr->s_futex);
	}
	for (i = 0; e && i < ch->g.nlanes; i++)
		if ((e >> i) & 1u)
			efd_signal(ch->efd_lane ? ch->efd_lane[i] : -1);
}

/* The flag word, futex word and bit this endpoint sleeps with. */
static void sleep_words(struct myco_chan *ch, au32 **flags, au32 **fut)
{
	bool lane_role;

	role_fits(ch->g.kind, ch->role, &lane_role);
	if (lane_role) {
		*flags = &chan_lane(ch, ch->index)->p_sleep;
		*fut = &chan_lane(ch, ch->index)->p_futex;
	} else {
		*flags = &ch->hdr->c_sleep;
		*fut = &ch->hdr->c_futex;
	}
}

static void sleep_set(struct myco_chan *ch, uint32_t bit, au32 **fut)
{
	au32 *flags;

	if (ch->role == MYCO_CHAN_READER) {
		*fut = &ch->hdr->s_futex;
		atomic_fetch_or_explicit(bit == CHAN_SLEEP_FUTEX ? &ch->hdr->r_sleep : &ch->hdr->r_efd,
		                         UINT64_C(1) << ch->index, memory_order_seq_cst);
		return;
	}
	sleep_words(ch, &flags, fut);
	atomic_fetch_or_explicit(flags, bit, memory_order_seq_cst);
}

static void sleep_clear(struct myco_chan *ch, uint32_t bit)
{
	au32 *flags, *fut;

	if (ch->role == MYCO_CHAN_READER) {
		atomic_fetch_and_explicit(bit == CHAN_SLEEP_FUTEX ? &ch->hdr->r_sleep : &ch->hdr->r_efd,
		                          ~(UINT64_C(1) << ch->index), memory_order_seq_cst);
		return;
	}
	sleep_words(ch, &flags, &fut);
	atomic_fetch_and_explicit(flags, ~bit, memory_order_seq_cst);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

int myco__chan_wait_for(struct myco_chan *ch, int (*ready)(struct myco_chan *),
                        int64_t timeout_ns)
{
	uint64_t deadline = 0;
	uint32_t i;
	int r;

	r = ready(ch);
	if (r)
		return r;
	if (timeout_ns == 0)
		return -EAGAIN;
	for (i = 0; i < ch->spin; i++) {
		cpu_relax();
		r = ready(ch);
		if (r)
			return r;
	}
	if (timeout_ns > 0)
		deadline = myco__chan_now_ns() + (uint64_t)timeout_ns;
	for (;;) {
		struct timespec ts, *tp = NULL;
		au32 *fut;
		uint32_t v;

		sleep_set(ch, CHAN_SLEEP_FUTEX, &fut);
		v = atomic_load_explicit(fut, memory_order_seq_cst);
		r = ready(ch);
		if (r) {
			sleep_clear(ch, CHAN_SLEEP_FUTEX);
			return r;
		}
		if (deadline) {
			uint64_t now = myco__chan_now_ns();
			if (now >= deadline) {
				sleep_clear(ch, CHAN_SLEEP_FUTEX);
				return -ETIMEDOUT;
			}
			ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
			ts.tv_nsec = (long)((deadline - now) % 1000000000u);
			tp = &ts;
		}
		futex_wait(fut, v, tp);
		sleep_clear(ch, CHAN_SLEEP_FUTEX);
		r = ready(ch);
		if (r)
			return r;
	}
}

static int ready_for_role(struct myco_chan *ch)
{
	switch (ch->role) {
	case MYCO_CHAN_CONSUMER:
	case MYCO_CHAN_SERVER:
		return myco__chan_ready_recv(ch);
	case MYCO_CHAN_PRODUCER:
		return myco__chan_ready_space(ch);
	case MYCO_CHAN_CLIENT:
		return myco__chan_ready_reply(ch);
	case MYCO_CHAN_READER:
		return myco__chan_ready_sample(ch);
	case MYCO_CHAN_WRITER:
		return 1;
	}
	return -EINVAL;
}

int myco_chan_fd(const myco_chan_t *ch)
{
	return ch->efd_self;
}

int myco_chan_ready(myco_chan_t *ch)
{
	if (myco_chan_broken(ch))
		return -EPROTO;
	return ready_for_role(ch);
}

int myco_chan_arm(myco_chan_t *ch)
{
	au32 *fut;
	int r;

	if (myco_chan_broken(ch))
		return -EPROTO;
	efd_drain(ch->efd_self);
	sleep_set(ch, CHAN_SLEEP_EFD, &fut);
	ch->sleep_armed = CHAN_SLEEP_EFD;
	r = ready_for_role(ch);
	return r < 0 ? r : (r ? 1 : 0);
}

int myco_chan_disarm(myco_chan_t *ch)
{
	if (ch->sleep_armed) {
		sleep_clear(ch, CHAN_SLEEP_EFD);
		ch->sleep_armed = 0;
	}
	return 0;
}

int myco_chan_wait(myco_chan_t *ch, int64_t timeout_ns)
{
	int r;

	if (myco_chan_broken(ch))
		return -EPROTO;
	r = myco__chan_wait_for(ch, ready_for_role, timeout_ns);
	return r > 0 ? 0 : r;
}

/* ---------------------------------------------------------------- */
/* Racy copies                                                       */
/* ---------------------------------------------------------------- */

void myco__chan_copy_out(void *dst, const void *shm, size_t n)
{
#ifdef CHAN_TSAN
	const uint8_t *s = shm;
	uint8_t *d = dst;
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
#else
	memcpy(dst, shm, n);
#endif
}

void myco__chan_copy_in(void *shm, const void *src, size_t n)
{
#ifdef CHAN_TSAN
	const uint8_t *s = src;
	uint8_t *d = shm;
	size_t i;

	for (i = 0; i < n; i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
#else
	memcpy(shm, src, n);
#endif
}
