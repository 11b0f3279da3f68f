/*
 * write.c: the writer side of trace rings: binding a process to its trace
 * region, a ring per thread (claimed on the first event), myco_trace_emit()
 * and the levelled log.  Plain loads and stores only; the kernel is entered
 * once per thread (gettid) and never on the event path.
 * Not for: reading rings (read.c).  Layout: docs/trace-abi.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "myco_int.h"
#include "trace_int.h"

/* One binding per myco_trace_attach().  Never unmapped: a thread that still
 * caches an older binding keeps writing into valid memory. */
struct tr_bind {
	struct tr_bind *next;   /* every binding ever made */
	dev_t dev;
	ino_t ino;
	size_t size;
	int linked;
	struct tr_hdr *hdr;
	struct tr_ring *rings;
	struct tr_event *events;
	uint32_t nrings, depth, clock;
	uint32_t gen;
};

static _Atomic(struct tr_bind *) g_bind;
static struct tr_bind *g_all;
static _Atomic uint32_t g_gen;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;

/* Per-thread writer state; `gen` 0 = not bound yet. */
struct tr_tls {
	uint32_t gen;
	uint32_t tid;
	struct tr_ring *ring;
	struct tr_event *ev;
	uint64_t mask;
	uint32_t shared, policy, clock, owned;
};
static __thread struct tr_tls tl;

int myco_trace_attach(int fd)
{
	struct tr_bind *b;
	struct stat st;
	void *base;
	size_t size;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&g_lock);
	for (b = g_all; b; b = b->next)
		if (b->dev == st.st_dev && b->ino == st.st_ino)
			break;
	pthread_mutex_unlock(&g_lock);
	if (b) {
		/* the same region again (its memfd is still open somewhere, so
		 * the inode is not reused): rebind without a new mapping */
		rc = myco__trace_hdr_ok(b->hdr, b->size);
		if (rc < 0)
			return rc;
		goto bind;
	}
	rc = myco__trace_map(fd, 1, &base, &size);
	if (rc < 0)
		return rc;
	rc = myco__trace_hdr_ok(base, size);
	if (rc < 0) {
		munmap(base, size);
		return rc;
	}
	b = calloc(1, sizeof *b);
	if (!b) {
		munmap(base, size);
		return -ENOMEM;
	}
	b->hdr = base;
	b->rings = (struct tr_ring *)((char *)base + tr_rings_off());
	b->nrings = b->hdr->t_nrings;
	b->depth = b->hdr->t_depth;
	b->clock = b->hdr->t_clock;
	b->events = (struct tr_event *)((char *)base + tr_events_off(b->nrings));
	b->dev = st.st_dev;
	b->size = size;
	b->ino = st.st_ino;
bind:
	pthread_mutex_lock(&g_lock);
	if (b->size && !b->linked) {
		b->linked = 1;
		b->next = g_all;
		g_all = b;
	}
	b->gen = atomic_load(&g_gen) + 1;
	atomic_store_explicit(&g_bind, b, memory_order_release);
	atomic_store_explicit(&g_gen, b->gen, memory_order_release);
	__atomic_store_n(&myco_trace_enable_word, (const uint32_t *)&b->hdr->t_enable,
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&g_lock);
	return 0;
}

/* Thread exit: give the ring back so that a later thread can own it. */
static void tls_release(void *arg)
{
	(void)arg;
	if (tl.owned && tl.ring)
		atomic_compare_exchange_strong(&tl.ring->r_claim, &tl.tid, 0);
	tl.owned = 0;
	tl.gen = 0;
}

static void key_init(void)
{
	pthread_key_create(&tls_key, tls_release);
}

/* Slow path: bind this thread to the current region, claiming a ring. */
static int tr_claim(struct tr_tls *t)
{
	struct tr_bind *b = atomic_load_explicit(&g_bind, memory_order_acquire);
	uint32_t i, pick;

	if (!b)
		return -1;
	if (t->owned && t->ring)
		atomic_compare_exchange_strong(&t->ring->r_claim, &t->tid, 0);
	t->owned = 0;
	if (!t->tid)
		t->tid = (uint32_t)gettid();
	pick = b->nrings - 1;                       /* the shared ring */
	for (i = 0; i + 1 < b->nrings; i++) {
		uint32_t z = 0;
		if (atomic_compare_exchange_strong(&b->rings[i].r_claim, &z, t->tid)) {
			pick = i;
			t->owned = 1;
			break;
		}
	}
	pthread_once(&key_once, key_init);
	pthread_setspecific(tls_key, t);
	t->ring = &b->rings[pick];
	t->ev = b->events + (uint64_t)pick * b->depth;
	t->mask = b->depth - 1;
	/* the owner wrote these once; a scribbled value only affects us */
	t->shared = !t->owned;
	t->policy = t->ring->r_policy == MYCO_TRACE_DROP_NEW ? MYCO_TRACE_DROP_NEW
							      : MYCO_TRACE_OVERWRITE;
	t->clock = b->clock;
	t->gen = b->gen;
	return 0;
}

/* Reserve N consecutive positions; returns 0 and the first in *pos, or -1
 * when a drop-newest ring is full (counted). */
static inline int tr_reserve(struct tr_tls *t, uint32_t n, uint64_t *pos)
{
	struct tr_ring *r = t->ring;
	uint64_t h;

	if (!t->shared) {
		h = atomic_load_explicit(&r->r_head, memory_order_relaxed);
		if (t->policy == MYCO_TRACE_DROP_NEW &&
		    h + n - atomic_load_explicit(&r->r_tail, memory_order_acquire) >
			    t->mask + 1)
			goto drop;
		*pos = h;
		return 0;
	}
	if (t->policy == MYCO_TRACE_OVERWRITE) {
		*pos = atomic_fetch_add_explicit(&r->r_head, n, memory_order_relaxed);
		return 0;
	}
	h = atomic_load_explicit(&r->r_head, memory_order_relaxed);
	for (;;) {
		if (h + n - atomic_load_explicit(&r->r_tail, memory_order_acquire) >
		    t->mask + 1)
			goto drop;
		if (atomic_compare_exchange_weak_explicit(&r->r_head, &h, h + n,
							  memory_order_relaxed,
							  memory_order_relaxed))
			break;
	}
	*pos = h;
	return 0;
drop:
	if (t->shared)
		atomic_fetch_add_explicit(&r->r_dropped, n, memory_order_relaxed);
	else
		atomic_store_explicit(&r->r_dropped,
				      atomic_load_explicit(&r->r_dropped,
							   memory_order_relaxed) + n,
				      memory_order_relaxed);
	return -1;
}

/* Write one event at POS: seqlock open, 7 words, seqlock close.  Words are
 * written with relaxed atomic stores (ordinary moves) because a reader may
 * copy the slot concurrently and discards what it copied if e_seq moved.
 * On the shared ring the slot is taken with a CAS from an older lap's
 * published value: if another writer is inside it (a writer preempted for a
 * whole lap) or already wrote a newer lap, the event is dropped instead of
 * mixing two events.  Returns 0 or -1 (dropped, counted). */
static inline int tr_put(struct tr_tls *t, uint64_t pos, uint64_t ts,
			 uint64_t w2, const uint64_t pay[5])
{
	struct tr_event *e = &t->ev[pos & t->mask];
	uint64_t *w = (uint64_t *)e;

	if (!t->shared) {
		atomic_store_explicit(&e->e_seq, TR_BUSY | (pos + 1), memory_order_relaxed);
	} else {
		uint64_t cur = atomic_load_explicit(&e->e_seq, memory_order_relaxed);
		if ((cur & TR_BUSY) || cur >= pos + 1 ||
		    !atomic_compare_exchange_strong_explicit(&e->e_seq, &cur,
							     TR_BUSY | (pos + 1),
							     memory_order_relaxed,
							     memory_order_relaxed)) {
			atomic_fetch_add_explicit(&t->ring->r_dropped, 1,
						  memory_order_relaxed);
			return -1;
		}
	}
	/* The busy mark must be visible before any word of the new event.  A
	 * release fence does that for free on x86; ThreadSanitizer does not
	 * model fences (gcc refuses them with -fsanitize=thread), so there
	 * each word is a release store instead, which orders the mark before
	 * it just as well. */
#if defined(__SANITIZE_THREAD__)
#define TR_WORD_ORDER __ATOMIC_RELEASE
#else
#define TR_WORD_ORDER __ATOMIC_RELAXED
	atomic_thread_fence(memory_order_release);
#endif
	__atomic_store_n(&w[1], ts, TR_WORD_ORDER);
	__atomic_store_n(&w[2], w2, TR_WORD_ORDER);
	for (int i = 0; i < 5; i++)
		__atomic_store_n(&w[3 + i], pay[i], TR_WORD_ORDER);
#undef TR_WORD_ORDER
	atomic_store_explicit(&e->e_seq, pos + 1, memory_order_release);
	return 0;
}

static inline void tr_commit(struct tr_tls *t, uint64_t pos, uint32_t n)
{
	if (!t->shared)
		atomic_store_explicit(&t->ring->r_head, pos + n, memory_order_release);
}

static inline uint64_t tr_w2(unsigned id, unsigned level, unsigned len, uint32_t tid)
{
	return (uint64_t)(id & 0xffff) | (uint64_t)(level & 0xff) << 16 |
	       (uint64_t)(len & 0xff) << 24 | (uint64_t)tid << 32;
}

void myco_trace_emit(unsigned id, uint64_t a0, uint64_t a1, uint64_t a2,
		     const char *str)
{
	struct tr_tls *t = &tl;
	uint64_t pay[5] = { a0, a1, a2, 0, 0 };
	unsigned len = 0;
	uint64_t pos;

	if (__builtin_expect(t->gen != atomic_load_explicit(&g_gen, memory_order_relaxed), 0) &&
	    tr_claim(t) < 0)
		return;
	if (str) {
		len = (unsigned)strnlen(str, TR_STR);
		memcpy(&pay[3], str, len);
	}
	if (tr_reserve(t, 1, &pos) < 0)
		return;
	tr_put(t, pos, myco__trace_clock_raw(t->clock), tr_w2(id, 0, len, t->tid), pay);
	tr_commit(t, pos, 1);
}

void myco_vlog(int level, const char *fmt, va_list ap)
{
	struct tr_tls *t = &tl;
	char text[MYCO_LOG_MAX + 1 + TR_TEXT];
	uint64_t pos, ts;
	uint32_t n;
	int len;

	if (!myco_log_on(level) || level < MYCO_LOG_ERROR)
		return;
	if (t->gen != atomic_load_explicit(&g_gen, memory_order_relaxed) &&
	    tr_claim(t) < 0)
		return;
	len = vsnprintf(text, MYCO_LOG_MAX + 1, fmt, ap);
	if (len < 0)
		return;
	if (len > (int)MYCO_LOG_MAX)
		len = MYCO_LOG_MAX;
	memset(text + len, 0, sizeof text - (size_t)len);
	n = len <= (int)TR_TEXT ? 1 : 1 + ((uint32_t)len - TR_TEXT + TR_TEXT - 1) / TR_TEXT;
	if (n > t->mask + 1 || tr_reserve(t, n, &pos) < 0)
		return;
	ts = myco__trace_clock_raw(t->clock);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pay[5];
		memcpy(pay, text + i * TR_TEXT, TR_TEXT);
		tr_put(t, pos + i, ts,
		       i == 0 ? tr_w2(MYCO_EV_LOG, (unsigned)level, (unsigned)len, t->tid)
			      : tr_w2(MYCO_EV_CONT, 0, 0, t->tid),
		       pay);
	}
	tr_commit(t, pos, n);
}

void myco_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	myco_vlog(level, fmt, ap);
	va_end(ap);
}
