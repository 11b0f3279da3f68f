/*
 * region.c: channel regions - layout, owner side (create the segments and
 * their read-only twins, capabilities, faults, recovery and repair,
 * counters) and endpoint attach/close (one reservation, each segment mapped
 * with only the access its role needs), plus the sleep/wake machinery
 * (futex + eventfd) every kind shares.
 * Not for: the message protocols themselves (queue.c, sample.c, loan.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan_int.h"
#include "../replay/replay.h"
#include "myco_int.h"

#if defined(__SANITIZE_THREAD__)
#define CHAN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHAN_TSAN 1
#endif
#endif

/* Owner of segments and their read-only twins (reopened O_RDONLY through
 * /proc/self/fd: such an fd cannot be mapped PROT_WRITE|MAP_SHARED, nor
 * mprotect()ed to writable, nor written). */
struct myco_chan_owner {
	struct myco_chan view;   /* owner's own mapping (everything read-write
	                            but the sealed header), role 0 */
	int hfd;                 /* header, sealed against writes */
	int mfd, mfd_ro;         /* main segment */
	int lfd[MYCO_CHAN_MAX_PEERS], lfd_ro[MYCO_CHAN_MAX_PEERS];
	int efd_main;
	int efd_lane[MYCO_CHAN_MAX_PEERS];
};

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int myco__chan_layout(struct chan_geom *g)
{
	uint64_t off, rings = 0, lane;

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
	if (g->kind != MYCO_CHAN_SAMPLE)
		rings = (uint64_t)g->depth * g->stride;
	/* main segment */
	g->main_off = CHAN_PAGE;
	off = g->main_off + CHAN_HOT_OFF + sizeof(struct chan_main);
	g->mlanes_off = off;
	off += (uint64_t)g->nlanes * sizeof(struct chan_mlane);
	g->replies_off = off;
	if (g->kind == MYCO_CHAN_CALL)
		off += (uint64_t)g->nlanes * rings;
	g->sbuf_off = off;
	g->sbuf_stride = round_up((uint64_t)g->msg_size + sizeof(struct chan_sbuf), CHAN_CL);
	if (g->kind == MYCO_CHAN_SAMPLE)
		off += CHAN_SBUFS * g->sbuf_stride;
	g->lfree_off = off;
	if (g->features & CHAN_FEAT_LOANS)
		off += round_up((uint64_t)g->nlanes * g->loan_n * 4u, CHAN_CL);
	g->main_size = round_up(off - g->main_off, CHAN_PAGE);
	/* lane segments: header lines, ring, descriptors, pool */
	g->lanes_off = g->main_off + g->main_size;
	g->ring_off = CHAN_HOT_OFF + sizeof(struct chan_lane);
	lane = g->ring_off + rings;
	g->ldesc_off = lane;
	g->pool_off = lane;
	if (g->features & CHAN_FEAT_LOANS) {
		lane += round_up((uint64_t)g->loan_n * 8u, CHAN_CL);
		lane = round_up(lane, CHAN_PAGE);
		g->pool_off = lane;
		lane += (uint64_t)g->loan_n * g->loan_bs;
	}
	g->lane_size = round_up(lane, CHAN_PAGE);
	g->size = g->lanes_off + (uint64_t)g->nlanes * g->lane_size;
	if (g->size > MYCO_CHAN_MAX_REGION)
		return -EINVAL;
	return 0;
}

int myco__chan_corrupt(struct myco_chan *ch)
{
	ch->broken = 1;
	if (ch->base && chan_lane_role(ch->role))
		atomic_store_explicit(&chan_lane(ch, ch->index)->broken, 1, memory_order_relaxed);
	return -EPROTO;
}

int myco__chan_lane_corrupt(struct myco_chan *ch, uint32_t lane)
{
	if (chan_lane_role(ch->role) || ch->role == 0 || lane >= ch->g.nlanes)
		return myco__chan_corrupt(ch);
	ch->lbroken |= UINT64_C(1) << lane;
	atomic_store_explicit(&chan_mlane(ch, lane)->lbroken, 1, memory_order_release);
	return -EPROTO;
}

static uint64_t all_lanes(const struct myco_chan *ch)
{
	return ch->g.nlanes == 64 ? UINT64_MAX : (UINT64_C(1) << ch->g.nlanes) - 1;
}

bool myco__chan_lane_out(struct myco_chan *ch, uint32_t lane)
{
	struct chan_mlane *ml = chan_mlane(ch, lane);
	uint64_t h, t;

	if (!((ch->lbroken >> lane) & 1u))
		return false;
	if (atomic_load_explicit(&ml->lbroken, memory_order_acquire))
		return true;
	/* The owner repaired the lane (lane reset to our head, then lbroken
	 * cleared with release): start again from there. */
	h = atomic_load_explicit(&ml->head, memory_order_relaxed);
	t = atomic_load_explicit(&chan_lane(ch, lane)->tail, memory_order_acquire);
	if (t < h || t - h > ch->g.depth) {
		myco__chan_lane_corrupt(ch, lane);
		return true;
	}
	ch->rpos[lane] = ch->chead[lane] = h;
	ch->tail_cache[lane] = t;
	if (ch->rtail)
		ch->rtail[lane] = atomic_load_explicit(&ml->rtail, memory_order_relaxed);
	ch->lbroken &= ~(UINT64_C(1) << lane);
	return false;
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

static void hdr_fill(struct chan_hdr *h, const struct chan_geom *g)
{
	memset(h, 0, sizeof(*h));
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

/* Validate a private copy of the header and derive the layout from it. */
static int hdr_parse(const struct chan_hdr *hp, struct chan_geom *g)
{
	struct chan_hdr h = *hp;

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
	if (myco__chan_layout(g))
		return -EPROTO;
	if (h.h_stride != g->stride || h.h_size != g->size)
		return -EPROTO;
	return 0;
}

/* A segment fd must be a memfd of exactly `size` bytes that cannot shrink
 * or grow (else a peer could truncate it under our mapping: SIGBUS);
 * `extra` seals are required on top (F_SEAL_WRITE for the header). */
static int seg_check(int fd, uint64_t size, int extra)
{
	struct stat sb;
	int seals, want = F_SEAL_SHRINK | F_SEAL_GROW | extra;

	if (fstat(fd, &sb) < 0)
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -EPROTO : -errno;
	if ((seals & want) != want)
		return -EPROTO;
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size)
		return -EPROTO;
	return 0;
}

/* Map segment fd at base + off (inside our reservation). */
static int seg_map(uint8_t *base, uint64_t off, uint64_t size, int fd, bool rw)
{
	void *p = mmap(base + off, size, rw ? PROT_READ | PROT_WRITE : PROT_READ,
	               MAP_SHARED | MAP_FIXED, fd, 0);

	return p == MAP_FAILED ? -errno : 0;
}

static uint8_t *reserve(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_NONE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---------------------------------------------------------------- */
/* Owner                                                             */
/* ---------------------------------------------------------------- */

static int seg_create(const char *name, const char *part, uint64_t size, int *fd)
{
	char nm[64];

	snprintf(nm, sizeof(nm), "%s.%s", name ? name : "myco-chan", part);
	*fd = memfd_create(nm, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0)
		return -errno;
	if (ftruncate(*fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

/* The read-only twin of a segment, then seal it and take write permission
 * off its inode (a holder of the twin that can reach /proc could otherwise
 * reopen it read-write through /proc/self/fd; see docs/chan-abi.md). */
static int seg_finish(int fd, int *ro)
{
	char path[40];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*ro = open(path, O_RDONLY | O_CLOEXEC);
	if (*ro < 0)
		return -errno;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	if (geteuid() == 0 && fchown(fd, MYCO_CHAN_SEGMENT_UID, MYCO_CHAN_SEGMENT_UID) < 0)
		return -errno;
	if (fchmod(fd, 0400) < 0)
		return -errno;
	return 0;
}

int myco_chan_create(const myco_chan_config_t *cfg, myco_chan_owner_t **out)
{
	struct myco_chan_owner *o = NULL;
	struct chan_hdr h;
	struct chan_geom g;
	uint8_t *base = NULL;
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
	o->hfd = o->mfd = o->mfd_ro = o->efd_main = -1;
	for (i = 0; i < MYCO_CHAN_MAX_PEERS; i++)
		o->lfd[i] = o->lfd_ro[i] = o->efd_lane[i] = -1;
	o->view.efd_self = o->view.efd_main = -1;
	o->view.g = g;
	/* Header: written with pwrite (no writable mapping may exist when
	 * F_SEAL_WRITE is added), then sealed for good. */
	if ((rc = seg_create(cfg->name, "hdr", CHAN_PAGE, &o->hfd)) < 0)
		goto out;
	hdr_fill(&h, &g);
	if (pwrite(o->hfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		rc = -EIO;
		goto out;
	}
	if (fcntl(o->hfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	          F_SEAL_SEAL) < 0 ||
	    (geteuid() == 0 && fchown(o->hfd, MYCO_CHAN_SEGMENT_UID, MYCO_CHAN_SEGMENT_UID) < 0) ||
	    fchmod(o->hfd, 0400) < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = seg_create(cfg->name, "main", g.main_size, &o->mfd)) < 0)
		goto out;
	for (i = 0; i < g.nlanes; i++) {
		char part[16];

		snprintf(part, sizeof(part), "lane%u", i);
		if ((rc = seg_create(cfg->name, part, g.lane_size, &o->lfd[i])) < 0)
			goto out;
	}
	/* The owner's view: everything read-write except the header. */
	base = reserve(g.size);
	if (!base) {
		rc = -ENOMEM;
		goto out;
	}
	o->view.base = base;
	o->view.map_size = g.size;
	o->view.m = (struct chan_main *)(base + g.main_off + CHAN_HOT_OFF);
	if ((rc = seg_map(base, 0, CHAN_PAGE, o->hfd, false)) < 0 ||
	    (rc = seg_map(base, g.main_off, g.main_size, o->mfd, true)) < 0)
		goto out;
	for (i = 0; i < g.nlanes; i++) {
		if ((rc = seg_map(base, g.lanes_off + (uint64_t)i * g.lane_size,
		                  g.lane_size, o->lfd[i], true)) < 0)
			goto out;
		/* zero-filled is the valid initial state of everything but the
		 * lane's number */
		atomic_store(&chan_lane(&o->view, i)->index, i);
	}
	if ((rc = seg_finish(o->mfd, &o->mfd_ro)) < 0)
		goto out;
	for (i = 0; i < g.nlanes; i++)
		if ((rc = seg_finish(o->lfd[i], &o->lfd_ro[i])) < 0)
			goto out;
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
	o->view.efd_main = o->efd_main;
	o->view.efd_lane = o->efd_lane;
	*out = o;
	o = NULL;
	rc = 0;
out:
	if (o)
		myco_chan_owner_close(o);
	return rc;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void myco_chan_owner_close(myco_chan_owner_t *o)
{
	uint32_t i;

	if (!o)
		return;
	if (o->view.base)
		munmap(o->view.base, o->view.map_size);
	close_fd(o->hfd);
	close_fd(o->mfd);
	close_fd(o->mfd_ro);
	close_fd(o->efd_main);
	for (i = 0; i < MYCO_CHAN_MAX_PEERS; i++) {
		close_fd(o->lfd[i]);
		close_fd(o->lfd_ro[i]);
		close_fd(o->efd_lane[i]);
	}
	free(o);
}

int myco_chan_owner_memfd(const myco_chan_owner_t *o)
{
	return o->hfd;
}

struct myco_chan *myco__chan_owner_view(myco_chan_owner_t *o)
{
	return &o->view;
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
	uint32_t i, nl = o->view.g.nlanes;

	if (!role_fits(o->view.g.kind, role, &lane_role))
		return -EINVAL;
	if (lane_role) {
		if (index >= nl)
			return -EINVAL;
		if (max < 5)
			return -ENOSPC;
		fds[n++] = o->hfd;
		fds[n++] = o->mfd_ro;
		fds[n++] = o->lfd[index];
		fds[n++] = o->efd_main;
		fds[n++] = o->efd_lane[index];
		return (int)n;
	}
	if (max < 3u + 2u * nl)
		return -ENOSPC;
	fds[n++] = o->hfd;
	fds[n++] = o->mfd;
	for (i = 0; i < nl; i++)
		fds[n++] = o->lfd_ro[i];
	fds[n++] = o->efd_main;
	for (i = 0; i < nl; i++)
		fds[n++] = o->efd_lane[i];
	return (int)n;
}

/* Is loan run `first` of lane `lane` still sent and not given back? */
bool myco__chan_loan_returned(const struct myco_chan *ch, uint32_t lane,
                              uint32_t first, uint64_t d)
{
	return LD_STATE(d) == LD_SENT &&
	       atomic_load_explicit(&chan_lfree(ch, lane)[first], memory_order_acquire) ==
	       LD_GEN(d);
}

static void stats_fill(const struct myco_chan *v, myco_chan_stats_t *st, bool owner)
{
	const struct chan_geom *g = &v->g;
	uint32_t i, b;

	memset(st, 0, sizeof(*st));
	st->broken = v->broken || (v->lbroken && v->lbroken == all_lanes(v)) ||
	             atomic_load_explicit(&v->m->broken, memory_order_relaxed) != 0;
	st->wakeups = atomic_load_explicit(&v->m->wakeups, memory_order_relaxed);
	if (atomic_load_explicit(&v->m->attached, memory_order_relaxed))
		st->attached++;
	for (i = 0; i < g->nlanes; i++) {
		const struct chan_mlane *ml = chan_mlane(v, i);
		const struct chan_lane *l;
		uint64_t t, h, dh;

		if (atomic_load_explicit(&ml->lbroken, memory_order_relaxed)) {
			st->broken |= owner;
			if (owner)
				continue;   /* its counters are garbage: not summed */
		}
		st->replies += atomic_load_explicit(&ml->replies, memory_order_relaxed);
		st->dropped += atomic_load_explicit(&ml->rdropped, memory_order_relaxed);
		if (!owner && chan_lane_role(v->role) && i != v->index)
			continue;   /* not mapped: other lanes are none of our business */
		l = chan_lane(v, i);
		if (atomic_load_explicit(&l->broken, memory_order_relaxed))
			st->broken |= owner;
		st->wakeups += atomic_load_explicit(&l->wakeups, memory_order_relaxed);
		if (atomic_load_explicit(&l->attached, memory_order_relaxed))
			st->attached++;
		if (g->kind == MYCO_CHAN_SAMPLE)
			continue;
		t = atomic_load_explicit(&l->tail, memory_order_relaxed);
		h = atomic_load_explicit(&ml->head, memory_order_relaxed);
		dh = atomic_load_explicit(&l->dhead, memory_order_relaxed);
		if (dh > h && dh <= t)
			h = dh;
		if (t < h || (g->policy != MYCO_CHAN_DROP_OLDEST && t - h > g->depth)) {
			/* a corrupt lane (the consumer may not have looked yet):
			 * say broken rather than print its raw indices */
			st->broken = 1;
			continue;
		}
		st->sent += t;
		st->done += h;
		st->pending += t >= h ? t - h : 0;
		st->rejected += atomic_load_explicit(&l->rejected, memory_order_relaxed);
		st->dropped += atomic_load_explicit(&l->dropped, memory_order_relaxed);
		if (g->features & CHAN_FEAT_LOANS) {
			au64 *ld = chan_ldesc(v, i);
			for (b = 0; b < g->loan_n; b++) {
				uint64_t d = atomic_load_explicit(&ld[b], memory_order_relaxed);
				uint32_t run = LD_RUN(d);

				if (LD_STATE(d) == LD_FREE || run == 0)
					continue;
				if (run > g->loan_n - b)
					run = g->loan_n - b;
				if (!myco__chan_loan_returned(v, i, b, d))
					st->loans_in_use += run;
			}
		}
	}
	if (g->kind == MYCO_CHAN_SAMPLE)
		st->sent = atomic_load_explicit(&v->m->s_latest, memory_order_relaxed);
}

int myco_chan_owner_stats(const myco_chan_owner_t *o, myco_chan_stats_t *st)
{
	stats_fill(&o->view, st, true);
	return st->broken ? -EPROTO : 0;
}

/* The owner's own check of the main segment against the lanes it reads
 * (a lane's word alone does not prove the main side faulty: a hostile lane
 * could claim it).  Lanes the main side put out of service are skipped. */
static bool main_valid(const struct myco_chan *v)
{
	const struct chan_geom *g = &v->g;
	uint32_t i;

	if (atomic_load_explicit(&v->m->broken, memory_order_relaxed))
		return false;
	if (g->kind == MYCO_CHAN_SAMPLE) {
		uint64_t w = atomic_load_explicit(&v->m->s_latest, memory_order_acquire);
		const struct chan_sbuf *b;
		uint64_t s;

		if (w == 0)
			return true;
		b = (const struct chan_sbuf *)(v->base + g->sbuf_off +
		                               (w % CHAN_SBUFS) * g->sbuf_stride);
		s = atomic_load_explicit(&b->seq, memory_order_acquire);
		return s >= 2 * w - 1 &&
		       atomic_load_explicit(&b->len, memory_order_relaxed) <= g->msg_size;
	}
	for (i = 0; i < g->nlanes; i++) {
		const struct chan_mlane *ml = chan_mlane(v, i);
		const struct chan_lane *l = chan_lane(v, i);
		uint64_t h, t;

		if (atomic_load_explicit(&ml->lbroken, memory_order_relaxed))
			continue;
		h = atomic_load_explicit(&ml->head, memory_order_acquire);
		t = atomic_load_explicit(&l->tail, memory_order_acquire);
		if (h > t)
			return false;
		if (g->kind == MYCO_CHAN_CALL) {
			uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_acquire);
			uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);

			if (rt > rh + g->depth)
				return false;
		}
	}
	return true;
}

int myco_chan_owner_faults(const myco_chan_owner_t *o, myco_chan_faults_t *f)
{
	const struct myco_chan *v = &o->view;
	uint64_t reports = 0;
	uint32_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < v->g.nlanes; i++) {
		if (atomic_load_explicit(&chan_mlane(v, i)->lbroken, memory_order_acquire))
			f->lanes |= UINT64_C(1) << i;
		if (atomic_load_explicit(&chan_lane(v, i)->broken, memory_order_acquire))
			reports |= UINT64_C(1) << i;
	}
	if (!main_valid(v))
		f->main = 1;
	else
		f->lanes |= reports;   /* unfounded reports: the reporter is at fault */
	f->reports = reports;
	return f->lanes || f->main ? 1 : 0;
}

int myco_chan_owner_broken(const myco_chan_owner_t *o)
{
	myco_chan_faults_t f;

	return myco_chan_owner_faults(o, &f);
}

/* Is loan block `first` referenced by a message of lane in [head, tail]
 * (tail inclusive: a producer writes the slot before marking blocks sent)? */
static bool loan_referenced(struct myco_chan *v, uint32_t lane, uint32_t first)
{
	struct chan_lane *l = chan_lane(v, lane);
	uint64_t h = atomic_load_explicit(&chan_mlane(v, lane)->head, memory_order_acquire);
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

/* Recovery sweep of lane's pool (only for dead endpoints, see
 * myco_chan_recover()).  dead_producer: its loaned runs go back, and its
 * sent runs no message references (it died between marking them sent and
 * publishing).  Dead consumer: sent runs no message references are given
 * back through lfree (it died between moving head and giving them back). */
static void loan_sweep(struct myco_chan *v, uint32_t lane, bool dead_producer)
{
	au64 *ld = chan_ldesc(v, lane);
	uint32_t i;

	for (i = 0; i < v->g.loan_n; i++) {
		uint64_t d = atomic_load_explicit(&ld[i], memory_order_acquire);
		uint32_t st = LD_STATE(d), run = LD_RUN(d);

		if (st == LD_FREE || run == 0 || run > v->g.loan_n - i)
			continue;
		if (st == LD_LOANED && dead_producer) {
			myco__chan_loan_set_free(v, lane, i, run);
		} else if (st == LD_SENT && !myco__chan_loan_returned(v, lane, i, d) &&
		           !loan_referenced(v, lane, i)) {
			if (dead_producer)
				myco__chan_loan_set_free(v, lane, i, run);
			else
				atomic_store_explicit(&chan_lfree(v, lane)[i], LD_GEN(d),
				                      memory_order_release);
		}
	}
}

/* Lane i's segment after its endpoint died: if it is out of service or its
 * indices are not sane, reset it from the main side's committed state (the
 * messages it held are dropped: they were in a corrupt lane), then give it
 * back to the main side. */
static void lane_repair(struct myco_chan *v, uint32_t i)
{
	struct chan_lane *l = chan_lane(v, i);
	struct chan_mlane *ml = chan_mlane(v, i);
	uint64_t h = atomic_load_explicit(&ml->head, memory_order_acquire);
	uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
	uint64_t dh = atomic_load_explicit(&l->dhead, memory_order_acquire);
	bool bad = atomic_load_explicit(&ml->lbroken, memory_order_acquire) ||
	           atomic_load_explicit(&l->broken, memory_order_acquire);
	uint32_t b;

	if (v->g.kind != MYCO_CHAN_SAMPLE) {
		if (t < h || dh > t ||
		    (v->g.policy != MYCO_CHAN_DROP_OLDEST && t - h > v->g.depth))
			bad = true;
		if (v->g.kind == MYCO_CHAN_CALL) {
			uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
			uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_acquire);
			if (rh > rt)
				bad = true;
		}
	}
	if (atomic_load_explicit(&l->index, memory_order_relaxed) != i)
		bad = true;
	if (!bad)
		return;
	atomic_store_explicit(&l->tail, h, memory_order_relaxed);
	atomic_store_explicit(&l->dhead, h, memory_order_relaxed);
	atomic_store_explicit(&l->rhead,
	                      atomic_load_explicit(&ml->rtail, memory_order_relaxed),
	                      memory_order_relaxed);
	atomic_store_explicit(&l->index, i, memory_order_relaxed);
	if (v->g.features & CHAN_FEAT_LOANS)
		for (b = 0; b < v->g.loan_n; b++)
			atomic_store_explicit(&chan_ldesc(v, i)[b], LD_MAKE(LD_FREE, 0, 0, 0),
			                      memory_order_relaxed);
	atomic_store_explicit(&l->broken, 0, memory_order_relaxed);
	atomic_store_explicit(&ml->lbroken, 0, memory_order_release);
}

/* The main segment after the main side died: indices that contradict the
 * lanes are reset so a replacement gets every message that may not have
 * been handled (at-least-once; duplicates carry the same lane and seq). */
static void main_repair(struct myco_chan *v)
{
	uint32_t i;

	if (v->g.kind != MYCO_CHAN_SAMPLE) {
		for (i = 0; i < v->g.nlanes; i++) {
			struct chan_mlane *ml = chan_mlane(v, i);
			struct chan_lane *l = chan_lane(v, i);
			uint64_t h = atomic_load_explicit(&ml->head, memory_order_acquire);
			uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);

			if (atomic_load_explicit(&ml->lbroken, memory_order_relaxed))
				continue;    /* the lane's repair resets it */
			if (h > t)
				atomic_store_explicit(&ml->head, t > v->g.depth ? t - v->g.depth : 0,
				                      memory_order_release);
			if (v->g.kind == MYCO_CHAN_CALL) {
				uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_relaxed);
				uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_relaxed);
				if (rt < rh || rt - rh > v->g.depth)
					atomic_store_explicit(&ml->rtail, rh, memory_order_release);
			}
		}
	} else if (!main_valid(v)) {
		/* a fresh start for the value; readers validate what follows */
		memset(v->base + v->g.sbuf_off, 0, CHAN_SBUFS * v->g.sbuf_stride);
		atomic_store_explicit(&v->m->s_latest, 0, memory_order_release);
	}
	atomic_store_explicit(&v->m->broken, 0, memory_order_release);
}

int myco_chan_recover(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t index)
{
	struct myco_chan *v = &o->view;
	bool lane_role;
	uint32_t i;

	if (!role_fits(v->g.kind, role, &lane_role))
		return -EINVAL;
	if (lane_role && index >= v->g.nlanes)
		return -EINVAL;
	if (lane_role) {
		struct chan_lane *l = chan_lane(v, index);

		atomic_store_explicit(&l->p_sleep, 0, memory_order_seq_cst);
		if (v->g.features & CHAN_FEAT_LOANS)
			loan_sweep(v, index, true);
		lane_repair(v, index);
		atomic_store_explicit(&l->attached, 0, memory_order_release);
		/* let the main side re-check (e.g. a consumer waiting on us) */
		myco__chan_wake_main(v, index);
	} else {
		atomic_store_explicit(&v->m->c_sleep, 0, memory_order_seq_cst);
		if (v->g.features & CHAN_FEAT_LOANS)
			for (i = 0; i < v->g.nlanes; i++)
				loan_sweep(v, i, false);
		main_repair(v);
		atomic_store_explicit(&v->m->attached, 0, memory_order_release);
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

/* Main-side state from the segments: per-lane indices, validated; a lane
 * that fails is put out of service (the others work). */
static int attach_main(struct myco_chan *ch)
{
	uint32_t n = ch->g.nlanes, i;

	if (ch->g.kind == MYCO_CHAN_SAMPLE) {
		ch->wseq = atomic_load_explicit(&ch->m->s_latest, memory_order_acquire);
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
		struct chan_mlane *ml = chan_mlane(ch, i);
		uint64_t h = atomic_load_explicit(&ml->head, memory_order_acquire);
		uint64_t t = atomic_load_explicit(&l->tail, memory_order_acquire);
		uint64_t dh = atomic_load_explicit(&l->dhead, memory_order_acquire);

		if (atomic_load_explicit(&ml->lbroken, memory_order_acquire)) {
			ch->lbroken |= UINT64_C(1) << i;
			continue;
		}
		if (ch->g.policy == MYCO_CHAN_DROP_OLDEST && dh > h && dh <= t)
			h = dh;
		if (t < h || t - h > ch->g.depth) {
			myco__chan_lane_corrupt(ch, i);
			continue;
		}
		ch->rpos[i] = ch->chead[i] = h;
		ch->tail_cache[i] = t;
		if (ch->rtail) {
			uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
			uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_acquire);

			if (rt < rh || rt - rh > ch->g.depth) {
				myco__chan_lane_corrupt(ch, i);
				continue;
			}
			ch->rtail[i] = rt;
		}
	}
	return 0;
}

static int attach_lane(struct myco_chan *ch)
{
	struct chan_lane *l = chan_lane(ch, ch->index);
	struct chan_mlane *ml = chan_mlane(ch, ch->index);
	uint64_t h, dh;

	if (ch->g.kind == MYCO_CHAN_SAMPLE) {
		ch->last_seq = 0;
		return 0;
	}
	h = atomic_load_explicit(&ml->head, memory_order_acquire);
	ch->tail = atomic_load_explicit(&l->tail, memory_order_acquire);
	dh = atomic_load_explicit(&l->dhead, memory_order_relaxed);
	ch->dhead = dh <= ch->tail ? dh : 0;
	ch->head_cache = h > ch->dhead ? h : ch->dhead;
	if (ch->tail < ch->head_cache || ch->tail - ch->head_cache > ch->g.depth)
		return -EPROTO;
	if (ch->g.kind == MYCO_CHAN_CALL) {
		uint64_t rh = atomic_load_explicit(&l->rhead, memory_order_acquire);
		uint64_t rt = atomic_load_explicit(&ml->rtail, memory_order_acquire);

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
	struct stat st;
	struct chan_hdr h;
	struct chan_geom g;
	bool lane_role = false, claimed = false;
	const int *efds;
	uint32_t i, nl;
	au32 *att;
	int rc;

	*out = NULL;
	if (!fds || nfds < 5)
		return -EINVAL;
	/* The header: sealed against writes, read once into private memory. */
	if ((rc = seg_check(fds[0], CHAN_PAGE, F_SEAL_WRITE)) < 0)
		return rc;
	if (pread(fds[0], &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EPROTO;
	if ((rc = hdr_parse(&h, &g)) < 0)
		return rc;
	if (!role_fits(g.kind, role, &lane_role))
		return -EINVAL;
	nl = g.nlanes;
	if (nfds != (lane_role ? 5u : 3u + 2u * nl))
		return -EINVAL;
	if ((rc = seg_check(fds[1], g.main_size, 0)) < 0)
		return rc;
	for (i = 0; i < (lane_role ? 1u : nl); i++)
		if ((rc = seg_check(fds[2 + i], g.lane_size, 0)) < 0)
			return rc;
	ch = calloc(1, sizeof(*ch));     /* freed by myco_chan_close() */
	if (!ch)
		return -ENOMEM;
	ch->efd_self = ch->efd_main = -1;
	ch->g = g;
	ch->role = role;
	ch->trace_id = fstat(fds[0], &st) == 0 ? (uint64_t)st.st_ino : 0;
	ch->base = reserve(g.size);
	if (!ch->base) {
		free(ch);
		return -ENOMEM;
	}
	ch->map_size = g.size;
	ch->m = (struct chan_main *)(ch->base + g.main_off + CHAN_HOT_OFF);
	ch->spin = opts && opts->spin != UINT32_MAX ? opts->spin : g.spin;
	/* Main segment: writable only for the main side. */
	if ((rc = seg_map(ch->base, g.main_off, g.main_size, fds[1], !lane_role)) < 0)
		goto out;
	if (lane_role) {
		/* Our own lane, writable; no other lane is mapped at all.  The
		 * lane number comes from the caller, or (MYCO_CHAN_ANY) from
		 * the segment the owner numbered. */
		uint32_t z = 0;
		uint32_t li;

		if (index == MYCO_CHAN_ANY) {
			struct chan_lane tmp;

			if (pread(fds[2], &tmp, sizeof(tmp), CHAN_HOT_OFF) != (ssize_t)sizeof(tmp)) {
				rc = -EPROTO;
				goto out;
			}
			index = atomic_load(&tmp.index);
		}
		if (index >= nl) {
			rc = -EINVAL;
			goto out;
		}
		ch->index = li = index;
		if ((rc = seg_map(ch->base, g.lanes_off + (uint64_t)li * g.lane_size,
		                  g.lane_size, fds[2], true)) < 0)
			goto out;
		att = &chan_lane(ch, li)->attached;
		if (!atomic_compare_exchange_strong(att, &z, 1)) {
			rc = -EBUSY;
			goto out;
		}
		claimed = true;
		if ((rc = attach_lane(ch)) < 0) {
			myco__chan_corrupt(ch);
			goto out;
		}
		efds = fds + 3;
		if ((rc = dup_fd(efds[0])) < 0)
			goto out;
		ch->efd_main = rc;
		if ((rc = dup_fd(efds[1])) < 0)
			goto out;
		ch->efd_self = rc;
	} else {
		uint32_t z = 0;

		/* Every lane, read-only. */
		for (i = 0; i < nl; i++)
			if ((rc = seg_map(ch->base, g.lanes_off + (uint64_t)i * g.lane_size,
			                  g.lane_size, fds[2 + i], false)) < 0)
				goto out;
		if (!atomic_compare_exchange_strong(&ch->m->attached, &z, 1)) {
			rc = -EBUSY;
			goto out;
		}
		claimed = true;
		ch->index = 0;
		rc = attach_main(ch);
		if (rc)
			goto out;
		ch->efd_lane = malloc(nl * sizeof(int));
		if (!ch->efd_lane) {
			rc = -ENOMEM;
			goto out;
		}
		for (i = 0; i < nl; i++)
			ch->efd_lane[i] = -1;
		efds = fds + 2 + nl;
		if ((rc = dup_fd(efds[0])) < 0)
			goto out;
		ch->efd_main = ch->efd_self = rc;
		for (i = 0; i < nl; i++) {
			if ((rc = dup_fd(efds[1 + i])) < 0)
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
			atomic_store(&ch->m->attached, 0);
	}
	chan_free(ch);
	return rc;
}

void myco__chan_close_raw(myco_chan_t *ch)
{
	if (!ch)
		return;
	if (ch->g.features & CHAN_FEAT_LOANS && ch->role == MYCO_CHAN_PRODUCER)
		myco__chan_loan_release_mine(ch);
	if (chan_lane_role(ch->role)) {
		struct chan_lane *l = chan_lane(ch, ch->index);
		atomic_store(&l->p_sleep, 0);
		atomic_store(&l->attached, 0);
	} else {
		atomic_store(&ch->m->c_sleep, 0);
		atomic_store(&ch->m->attached, 0);
	}
	myco__chaos_free(ch);
	chan_free(ch);
}

myco_chan_kind_t myco_chan_kind(const myco_chan_t *ch) { return (myco_chan_kind_t)ch->g.kind; }
myco_chan_role_t myco_chan_role(const myco_chan_t *ch) { return ch->role; }
uint32_t myco_chan_index(const myco_chan_t *ch) { return ch->index; }
size_t myco_chan_msg_size(const myco_chan_t *ch) { return ch->g.msg_size; }
void myco_chan_set_spin(myco_chan_t *ch, uint32_t spin) { ch->spin = spin; }

int myco_chan_broken(const myco_chan_t *ch)
{
	uint32_t i;

	if (MYCO__REC_REPLAYED(ch))
		return 0;       /* replayed: the recorded results say what broke */
	if (ch->broken)
		return 1;
	if (chan_lane_role(ch->role))
		return atomic_load_explicit(&chan_mlane(ch, ch->index)->lbroken,
		                            memory_order_relaxed) != 0;
	if (atomic_load_explicit(&ch->m->broken, memory_order_relaxed))
		return 1;
	if (!ch->lbroken || ch->lbroken != all_lanes(ch))
		return 0;
	/* every lane out: broken unless the owner repaired one meanwhile */
	for (i = 0; i < ch->g.nlanes; i++)
		if (!atomic_load_explicit(&chan_mlane(ch, i)->lbroken, memory_order_acquire))
			return 0;
	return 1;
}

uint64_t myco_chan_lanes_out(const myco_chan_t *ch)
{
	return chan_lane_role(ch->role) ? 0 : ch->lbroken;
}

int myco_chan_stats(const myco_chan_t *ch, myco_chan_stats_t *st)
{
	if (MYCO__REC_REPLAYED(ch)) {   /* no ring: nothing to count */
		memset(st, 0, sizeof *st);
		return -EOPNOTSUPP;
	}
	stats_fill(ch, st, false);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Sleeping and waking                                               */
/* ---------------------------------------------------------------- */

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

/* Wake the main side: it sleeps on every lane's c_futex; we bump ours. */
void myco__chan_wake_main(struct myco_chan *ch, uint32_t lane)
{
	struct chan_lane *l = chan_lane(ch, lane);
	uint32_t f;

	atomic_thread_fence(memory_order_seq_cst);
	f = atomic_load_explicit(&ch->m->c_sleep, memory_order_relaxed);
	if (!f)
		return;
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_WAKE, ch->trace_id, 0, lane);
	atomic_fetch_add_explicit(&l->wakeups, 1, memory_order_relaxed);
	if (f & CHAN_SLEEP_FUTEX) {
		atomic_fetch_add_explicit(&l->c_futex, 1, memory_order_seq_cst);
		myco__futex_wake((uint32_t *)&l->c_futex, INT_MAX);
	}
	if (f & CHAN_SLEEP_EFD)
		efd_signal(ch->efd_main);
}

void myco__chan_wake_lane(struct myco_chan *ch, uint32_t lane)
{
	struct chan_mlane *ml = chan_mlane(ch, lane);
	int efd = ch->efd_lane ? ch->efd_lane[lane] : ch->efd_self;
	uint32_t f;

	atomic_thread_fence(memory_order_seq_cst);
	f = atomic_load_explicit(&chan_lane(ch, lane)->p_sleep, memory_order_relaxed);
	if (!f)
		return;
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_WAKE, ch->trace_id, 1, lane);
	atomic_fetch_add_explicit(&ch->m->wakeups, 1, memory_order_relaxed);
	if (f & CHAN_SLEEP_FUTEX) {
		atomic_fetch_add_explicit(&ml->p_futex, 1, memory_order_seq_cst);
		myco__futex_wake((uint32_t *)&ml->p_futex, INT_MAX);
	}
	if (f & CHAN_SLEEP_EFD)
		efd_signal(efd);
}

void myco__chan_wake_readers(struct myco_chan *ch)
{
	uint32_t i, any = 0;

	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < ch->g.nlanes; i++) {
		uint32_t f = atomic_load_explicit(&chan_lane(ch, i)->p_sleep,
		                                  memory_order_relaxed);
		if (!f)
			continue;
		if (!any++)
			atomic_fetch_add_explicit(&ch->m->wakeups, 1, memory_order_relaxed);
		if (f & CHAN_SLEEP_EFD)
			efd_signal(ch->efd_lane ? ch->efd_lane[i] : -1);
		if (f & CHAN_SLEEP_FUTEX)
			any |= 0x100u;
	}
	if (any & 0x100u) {
		atomic_fetch_add_explicit(&ch->m->s_futex, 1, memory_order_seq_cst);
		myco__futex_wake((uint32_t *)&ch->m->s_futex, INT_MAX);
	}
}

/* The flag word this endpoint announces its sleep in (its own segment). */
static au32 *sleep_flags(struct myco_chan *ch)
{
	return chan_lane_role(ch->role) ? &chan_lane(ch, ch->index)->p_sleep
	                                : &ch->m->c_sleep;
}

static void sleep_set(struct myco_chan *ch, uint32_t bit)
{
	atomic_fetch_or_explicit(sleep_flags(ch), bit, memory_order_seq_cst);
}

static void sleep_clear(struct myco_chan *ch, uint32_t bit)
{
	atomic_fetch_and_explicit(sleep_flags(ch), ~bit, memory_order_seq_cst);
}

/* Futex words this endpoint waits on, each written by one waker: a lane
 * side waits on its p_futex (reader: the writer's s_futex), the main side
 * on every lane's c_futex.  Values read after the sleep flag was set. */
static size_t sleep_words(struct myco_chan *ch, struct futex_waitv *w)
{
	uint32_t i, n = 0;
	au32 *a;

	if (chan_lane_role(ch->role)) {
		a = ch->role == MYCO_CHAN_READER ? &ch->m->s_futex
		                                 : &chan_mlane(ch, ch->index)->p_futex;
		w[0].uaddr = (uint64_t)(uintptr_t)a;
		w[0].val = atomic_load_explicit(a, memory_order_seq_cst);
		w[0].flags = FUTEX_32;
		w[0].__reserved = 0;
		return 1;
	}
	for (i = 0; i < ch->g.nlanes; i++) {
		if (ch->lbroken >> i & 1u)
			continue;
		a = &chan_lane(ch, i)->c_futex;
		w[n].uaddr = (uint64_t)(uintptr_t)a;
		w[n].val = atomic_load_explicit(a, memory_order_seq_cst);
		w[n].flags = FUTEX_32;
		w[n].__reserved = 0;
		n++;
	}
	return n;
}

/* Sleep on the words until one changes, a wake, or the absolute deadline
 * (0: none). */
static void sleep_on(struct futex_waitv *w, size_t n, uint64_t deadline)
{
	struct timespec ts;

	if (n == 0) {
		/* every lane out of service: nothing can wake us; nap so the
		 * owner's repair is noticed */
		uint64_t now = myco__now_raw(), t = now + 1000000u;

		if (deadline && deadline < t)
			t = deadline;
		ts.tv_sec = (time_t)((t - now) / 1000000000u);
		ts.tv_nsec = (long)((t - now) % 1000000000u);
		nanosleep(&ts, NULL);
		return;
	}
	if (n == 1) {
		uint64_t now = deadline ? myco__now_raw() : 0;

		myco__futex_wait((uint32_t *)(uintptr_t)w[0].uaddr, (uint32_t)w[0].val,
		                 !deadline ? MYCO__FOREVER_NS : deadline > now ? deadline - now : 0);
		return;
	}
	if (deadline) {
		ts.tv_sec = (time_t)(deadline / 1000000000u);
		ts.tv_nsec = (long)(deadline % 1000000000u);
	}
	syscall(SYS_futex_waitv, w, (unsigned)n, 0u, deadline ? &ts : NULL, CLOCK_MONOTONIC);
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
	struct futex_waitv w[MYCO_CHAN_MAX_PEERS];
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
		deadline = myco__now_raw() + (uint64_t)timeout_ns;
	for (;;) {
		size_t n;

		sleep_set(ch, CHAN_SLEEP_FUTEX);
		n = sleep_words(ch, w);
		r = ready(ch);
		if (r) {
			sleep_clear(ch, CHAN_SLEEP_FUTEX);
			return r;
		}
		if (deadline && myco__now_raw() >= deadline) {
			sleep_clear(ch, CHAN_SLEEP_FUTEX);
			return -ETIMEDOUT;
		}
		MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_WAIT, ch->trace_id, ch->role, ch->index);
		sleep_on(w, n, deadline);
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

/* A replayed handle (docs/replay.md) has no ring and no eventfd: a
 * program that waits on it itself cannot be served from the log. */
#define REPLAYED(ch) MYCO__REC_REPLAYED(ch)

int myco_chan_fd(const myco_chan_t *ch)
{
	if (REPLAYED(ch))
		ch->rec->not_served("polls a channel's fd (myco_chan_fd)");
	return ch->efd_self;
}

int myco_chan_ready(myco_chan_t *ch)
{
	if (REPLAYED(ch))
		ch->rec->not_served("checks a channel's readiness (myco_chan_ready)");
	if (myco_chan_broken(ch))
		return -EPROTO;
	if (__builtin_expect(ch->chaos != NULL, 0) && myco__chaos_pending(ch))
		return 1;
	return ready_for_role(ch);
}

int myco_chan_arm(myco_chan_t *ch)
{
	int r;

	if (REPLAYED(ch))
		ch->rec->not_served("arms a channel's fd (myco_chan_arm)");
	if (myco_chan_broken(ch))
		return -EPROTO;
	efd_drain(ch->efd_self);
	sleep_set(ch, CHAN_SLEEP_EFD);
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

	if (REPLAYED(ch))
		ch->rec->not_served("waits for a channel (myco_chan_wait)");
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
