/*
 * repl.c: myco-log's replication on canonical raft (Debian libraft, its
 * libuv storage and TCP transport).  Not for: consensus itself (libraft
 * does elections, log matching, commit), Kafka requests (the handlers call
 * the hooks of repl.h), storage formats (store/).
 *
 * Design in one page (docs/log.md, "Replication", for users):
 *  - One raft group over every broker of the cluster (up to three).  Its
 *    log carries three kinds of entry (the format below): the records
 *    section of one partition of a Produce, a topic creation and the
 *    in-sync replica set.  Producer ids need no entry: each broker hands
 *    out its store's ids (never repeated by that data directory) times 4
 *    plus its place in --peers, unique across the cluster.  The raft leader is the
 *    controller and the leader of every partition; every broker is a
 *    replica of every partition (replication factor = cluster size).
 *  - Every broker, the leader included, appends records to its store only
 *    when raft has committed the entry (a majority has it on disk) and
 *    applies it, in log order: offsets, idempotent-producer checks and
 *    duplicates are decided by the same deterministic apply everywhere, so
 *    the stores never diverge and a new leader needs no truncation.  The
 *    leader answers the Produce with what its apply gave.
 *  - The raft log is the write-ahead log: the store runs without fsync
 *    and its topics are dropped at start; raft replays the log into it
 *    (no raft snapshots yet: the log keeps every entry).
 *  - A leader serves only once a barrier of its own term is applied (it
 *    then holds everything earlier leaders committed).  Others answer
 *    NOT_LEADER_OR_FOLLOWER for produce, fetch and list offsets.
 *  - The leader watches its followers (raft's per-follower progress): a
 *    follower is in sync while it was heard from and reached the commit
 *    index of half a lag period ago within the last lag period (2 election
 *    timeouts).  When the set changes the leader commits an ISR entry, so
 *    every broker reports the same set in Metadata.  acks=all is refused
 *    with NOT_ENOUGH_REPLICAS while the set is smaller than
 *    min.insync.replicas, and answered once the entry is committed AND
 *    every in-sync follower has it (raft's match index; a committed entry
 *    waits on a list checked every millisecond), as Kafka answers acks=all
 *    when the whole ISR has the records.  acks=1 is answered at commit.
 *
 * Threads: raft runs on its own thread with a libuv loop (raft_main).
 * Loop threads queue items under r->mu and wake it (uv_async_send);
 * completions run on the raft thread and must only post to their loop.
 */
#include "repl.h"

#include "myco_int.h"

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TICK_MS 10
#define MAGIC 0x31524c4du          /* "MLR1" little-endian */
#define HDR 16

/* ------------------------------------------------------------------ */
/* The entry format                                                    */
/* ------------------------------------------------------------------ */
/*
 * [u32 magic][u8 type][3 x 0][u32 body length][u32 0] body, zero-padded
 * to a multiple of 8; integers little-endian.  Bodies:
 *   RECORDS  u16 topic length, topic, i32 partition, records section
 *   CREATE   u16 topic length, topic, i32 partitions, the topic config:
 *            i64 segment_bytes, segment_ms, retention_bytes,
 *            retention_ms, delete_retention_ms; i32 index_interval_bytes,
 *            max_message_bytes, timestamp_type, cleanup_policy,
 *            compression_type, reserved_
 *   ISR      u32 mask (bit i: the i-th broker of --peers)
 */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

#define CFG_BYTES (5 * 8 + 6 * 4)

static size_t body_size(const myco__lrepl_entry_t *e)
{
	switch (e->type) {
	case LREPL_RECORDS: return 2 + e->topic_len + 4 + e->rec_len;
	case LREPL_CREATE: return 2 + e->topic_len + 4 + CFG_BYTES;
	case LREPL_ISR: return 4;
	default: return 0;
	}
}

size_t myco__lrepl_entry_size(const myco__lrepl_entry_t *e)
{
	return (HDR + body_size(e) + 7) & ~(size_t)7;
}

void myco__lrepl_entry_encode(const myco__lrepl_entry_t *e, uint8_t *buf)
{
	size_t body = body_size(e), total = myco__lrepl_entry_size(e);
	uint8_t *p = buf + HDR;
	const mls_topic_config *tc = &e->tc;

	memset(buf, 0, total);
	put32(buf, MAGIC);
	buf[4] = (uint8_t)e->type;
	put32(buf + 8, (uint32_t)body);
	if (e->type == LREPL_RECORDS || e->type == LREPL_CREATE) {
		p[0] = (uint8_t)e->topic_len;
		p[1] = (uint8_t)(e->topic_len >> 8);
		memcpy(p + 2, e->topic, e->topic_len);
		p += 2 + e->topic_len;
		put32(p, (uint32_t)(e->type == LREPL_RECORDS ? e->partition : e->partitions));
		p += 4;
	}
	if (e->type == LREPL_RECORDS) {
		memcpy(p, e->rec, e->rec_len);
	} else if (e->type == LREPL_CREATE) {
		const int64_t l[5] = { tc->segment_bytes, tc->segment_ms, tc->retention_bytes,
				       tc->retention_ms, tc->delete_retention_ms };
		const int32_t s[6] = { tc->index_interval_bytes, tc->max_message_bytes,
				       tc->timestamp_type, tc->cleanup_policy,
				       tc->compression_type, tc->reserved_ };
		for (int i = 0; i < 5; i++, p += 8)
			put64(p, (uint64_t)l[i]);
		for (int i = 0; i < 6; i++, p += 4)
			put32(p, (uint32_t)s[i]);
	} else if (e->type == LREPL_ISR) {
		put32(p, e->isr_mask);
	}
}

int myco__lrepl_entry_decode(const void *vp, size_t n, myco__lrepl_entry_t *e)
{
	const uint8_t *b = vp, *p;
	size_t body, i, need;

	memset(e, 0, sizeof(*e));
	if (n < HDR || n % 8 || get32(b) != MAGIC || b[5] || b[6] || b[7] || get32(b + 12))
		return -EBADMSG;
	body = get32(b + 8);
	if (body > n - HDR || n - HDR - body >= 8)
		return -EBADMSG;
	for (i = HDR + body; i < n; i++)
		if (b[i])
			return -EBADMSG;
	e->type = b[4];
	p = b + HDR;
	switch (e->type) {
	case LREPL_RECORDS:
	case LREPL_CREATE:
		if (body < 6)
			return -EBADMSG;
		e->topic_len = (size_t)p[0] | (size_t)p[1] << 8;
		if (e->topic_len == 0 || e->topic_len > MLS_TOPIC_NAME_MAX ||
		    body < 6 + e->topic_len || memchr(p + 2, 0, e->topic_len))
			return -EBADMSG;
		e->topic = (const char *)p + 2;
		need = 6 + e->topic_len;
		if (e->type == LREPL_RECORDS) {
			e->partition = (int32_t)get32(p + 2 + e->topic_len);
			e->rec = p + need;
			e->rec_len = body - need;
			if (e->partition < 0 || e->rec_len == 0)
				return -EBADMSG;
		} else {
			const uint8_t *c = p + need;
			mls_topic_config *tc = &e->tc;
			e->partitions = (int32_t)get32(p + 2 + e->topic_len);
			if (body != need + CFG_BYTES || e->partitions < 1 ||
			    e->partitions > MLS_PARTITIONS_MAX)
				return -EBADMSG;
			tc->segment_bytes = (int64_t)get64(c);
			tc->segment_ms = (int64_t)get64(c + 8);
			tc->retention_bytes = (int64_t)get64(c + 16);
			tc->retention_ms = (int64_t)get64(c + 24);
			tc->delete_retention_ms = (int64_t)get64(c + 32);
			tc->index_interval_bytes = (int32_t)get32(c + 40);
			tc->max_message_bytes = (int32_t)get32(c + 44);
			tc->timestamp_type = (int32_t)get32(c + 48);
			tc->cleanup_policy = (int32_t)get32(c + 52);
			tc->compression_type = (int32_t)get32(c + 56);
			tc->reserved_ = (int32_t)get32(c + 60);
		}
		return 0;
	case LREPL_ISR:
		if (body != 4)
			return -EBADMSG;
		e->isr_mask = get32(p);
		return e->isr_mask ? 0 : -EBADMSG;
	default:
		return -EBADMSG;
	}
}

void myco__lrepl_apply_records(mls_store_t *st, const myco__lrepl_entry_t *e,
			       myco__lrepl_res_t *res)
{
	char name[MLS_TOPIC_NAME_MAX + 1];
	mls_partition_t *p = NULL;
	uint8_t *copy = NULL;
	size_t off = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	res->base = res->lat = res->lso = -1;
	memcpy(name, e->topic, e->topic_len);
	name[e->topic_len] = 0;
	if ((rc = mls_partition_get(st, name, e->partition, &p)) < 0) {
		res->rc = rc;
		return;
	}
	/* the store rewrites a batch in place (base offset, log append
	 * time): never in raft's own buffer, which it may still send */
	copy = malloc(e->rec_len);
	if (!copy) {
		res->rc = -ENOMEM;
		mls_partition_put(p);
		return;
	}
	memcpy(copy, e->rec, e->rec_len);
	while (off < e->rec_len) {
		mls_append_result ar;
		long bsz = mls_batch_size(copy + off, e->rec_len - off);
		if (bsz < 0 || (size_t)bsz > e->rec_len - off) {
			rc = -MYCO_ELOG_CORRUPT;
			break;
		}
		if ((rc = mls_append(p, copy + off, (size_t)bsz, &ar)) < 0)
			break;
		if (res->nbatches++ == 0) {
			res->base = ar.base_offset;
			res->lat = ar.log_append_time;
		}
		res->ndup += ar.duplicate;
		res->lso = ar.log_start_offset;
		off += (size_t)bsz;
	}
	res->rc = rc < 0 ? rc : 0;
	free(copy);
	mls_partition_put(p);
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
	int rc;
	myco__lrepl_res_t res;
} lresult_t;

typedef struct item {
	struct item *next;
	myco__lrepl_t *r;
	struct raft_buffer buf;         /* the entry (raft_malloc) */
	void (*cb)(void *arg, int rc);  /* raft thread */
	void *arg;
	myco__lrepl_res_t *res;         /* RECORDS: filled before cb */
	int kind;                       /* 0 entry, 1 ready barrier, 2 ISR */
	bool all_isr;                   /* acks=all: answer once every in-sync
	                                 * replica has it, not just a majority */
	int rc;                         /* all_isr: what the apply gave */
	raft_index index;               /* all_isr: the entry */
	uint64_t epoch;
	union {
		struct raft_apply a;
		struct raft_barrier b;
	} req;
} item_t;

struct myco__lrepl {
	mls_store_t *st;
	myco__lrepl_opts_t o;
	myco__peer_t peers[MYCO__PEERS_MAX];
	size_t npeers, me;
	char *rdir;

	/* raft thread only */
	pthread_t th;
	bool th_started;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	uv_timer_t isr_timer;           /* runs while isr_wait is not empty */
	item_t *isr_wait, *isr_wait_tail; /* committed acks=all entries waiting
	                                 * for the rest of the in-sync set */
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	bool up, closing, handles_closed;
	int prev_state;
	uint64_t lead_term, epoch;
	bool ready_inflight, isr_inflight;
	uint64_t seen[MYCO__PEERS_MAX], caught[MYCO__PEERS_MAX];  /* ms */
	raft_index commit_old, commit_new;
	uint64_t sample_ms;
	lresult_t last;                 /* what the last apply gave */
	char errmsg[512];

	/* start-up handshake */
	pthread_mutex_t smu;
	pthread_cond_t scv;
	int start_rc;
	bool start_done;

	/* shared */
	pthread_mutex_t mu;
	item_t *qhead, *qtail;          /* mu */
	_Atomic bool stopping, ready;
	_Atomic uint64_t leader_id, term;
	_Atomic uint64_t leaderless_ms;  /* since when no leader is known (0: one is) */
	_Atomic uint32_t isr_mask;      /* as applied */
	_Atomic uint64_t bad_entries, applied;
};

static uint64_t now_ms(void)
{
	return myco_now() / 1000000u;
}

static int peer_index(const myco__lrepl_t *r, uint64_t id)
{
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].id == id)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* The state machine (raft thread)                                     */
/* ------------------------------------------------------------------ */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	myco__lrepl_t *r = fsm->data;
	myco__lrepl_entry_t e;
	char name[MLS_TOPIC_NAME_MAX + 1];
	int rc;

	memset(&r->last, 0, sizeof(r->last));
	*result = &r->last;
	atomic_fetch_add(&r->applied, 1);
	if ((rc = myco__lrepl_entry_decode(buf->base, buf->len, &e)) < 0) {
		if (atomic_fetch_add(&r->bad_entries, 1) < 10)
			fprintf(stderr, "myco-log: raft: a damaged entry of %zu bytes; skipped\n",
				buf->len);
		r->last.rc = rc;
		return 0;
	}
	switch (e.type) {
	case LREPL_RECORDS:
		myco__lrepl_apply_records(r->st, &e, &r->last.res);
		break;
	case LREPL_CREATE:
		memcpy(name, e.topic, e.topic_len);
		name[e.topic_len] = 0;
		r->last.rc = mls_topic_create(r->st, name, e.partitions, &e.tc);
		if (r->last.rc == 0 && r->o.verbose)
			fprintf(stderr, "myco-log: created topic %s (%d partitions, replicated)\n",
				name, e.partitions);
		break;
	case LREPL_ISR:
		if (atomic_exchange(&r->isr_mask, e.isr_mask) != e.isr_mask)
			fprintf(stderr, "myco-log: in-sync replicas now 0x%x (%d of %zu)\n",
				e.isr_mask, __builtin_popcount(e.isr_mask), r->npeers);
		break;
	}
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	(void)fsm;
	(void)bufs;
	(void)n;
	return RAFT_BUSY;           /* no snapshots: the log keeps every entry */
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	(void)fsm;
	(void)buf;
	return RAFT_MALFORMED;      /* none are ever taken */
}

/* ------------------------------------------------------------------ */
/* Requests (raft thread)                                              */
/* ------------------------------------------------------------------ */

static void item_fail(item_t *it)
{
	if (it->buf.base)
		raft_free(it->buf.base);
	if (it->cb)
		it->cb(it->arg, MYCO__LREPL_NOT_LEADER);
	free(it);
}

/* Every in-sync follower has entry idx on disk (raft's match index).  A
 * broker that no longer leads cannot tell: the entry is committed (on a
 * majority), which is what it answers with. */
static bool isr_has(myco__lrepl_t *r, raft_index idx)
{
	uint32_t mask = atomic_load(&r->isr_mask);

	if (!r->up || raft_state(&r->raft) != RAFT_LEADER)
		return true;
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		int k = peer_index(r, r->raft.configuration.servers[i].id);
		if (k >= 0 && (size_t)k != r->me && (mask & (1u << k)) &&
		    r->raft.leader_state.progress[i].match_index < idx)
			return false;
	}
	return true;
}

static void isr_wait_check(myco__lrepl_t *r)
{
	item_t **pp = &r->isr_wait, *it;

	r->isr_wait_tail = NULL;
	while ((it = *pp)) {
		if (isr_has(r, it->index) || atomic_load(&r->stopping)) {
			*pp = it->next;
			if (it->cb)
				it->cb(it->arg, it->rc);
			free(it);
		} else {
			r->isr_wait_tail = it;
			pp = &it->next;
		}
	}
	if (!r->isr_wait)
		uv_timer_stop(&r->isr_timer);
}

static void isr_timer_cb(uv_timer_t *t)
{
	isr_wait_check(t->data);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	item_t *it = req->data;
	myco__lrepl_t *r = it->r;
	const lresult_t *lr = result;
	int rc = MYCO__LREPL_NOT_LEADER;

	if (it->kind == 2)
		r->isr_inflight = false;
	if (status == 0 && lr) {
		if (it->res)
			*it->res = lr->res;
		rc = lr->rc;
		if (it->all_isr && !isr_has(r, req->index)) {
			/* committed on a majority; the answer waits for the
			 * rest of the in-sync set (checked every millisecond) */
			it->rc = rc;
			it->index = req->index;
			it->next = NULL;
			if (r->isr_wait_tail)
				r->isr_wait_tail->next = it;
			else
				r->isr_wait = it;
			r->isr_wait_tail = it;
			if (!uv_is_active((uv_handle_t *)&r->isr_timer))
				uv_timer_start(&r->isr_timer, isr_timer_cb, 1, 1);
			return;
		}
	}
	if (it->cb)
		it->cb(it->arg, rc);
	free(it);
}

static void submit(myco__lrepl_t *r, item_t *it, bool own)
{
	struct raft_buffer one[1];
	int rv;

	if (!r->up || (!own && !atomic_load(&r->ready)) || raft_state(&r->raft) != RAFT_LEADER) {
		item_fail(it);
		return;
	}
	one[0] = it->buf;
	it->req.a.data = it;
	rv = raft_apply(&r->raft, &it->req.a, one, 1, apply_cb);
	if (rv != 0) {
		item_fail(it);
		return;
	}
	it->buf.base = NULL;        /* raft's now */
}

static void drain(myco__lrepl_t *r)
{
	item_t *it, *next;

	pthread_mutex_lock(&r->mu);
	it = r->qhead;
	r->qhead = r->qtail = NULL;
	pthread_mutex_unlock(&r->mu);
	for (; it; it = next) {
		next = it->next;
		if (atomic_load(&r->stopping))
			item_fail(it);
		else
			submit(r, it, false);
	}
}

static void ready_cb(struct raft_barrier *req, int status)
{
	item_t *it = req->data;
	myco__lrepl_t *r = it->r;

	r->ready_inflight = false;
	if (status == 0 && it->epoch == r->epoch && r->up &&
	    raft_state(&r->raft) == RAFT_LEADER && r->raft.current_term == r->lead_term) {
		atomic_store(&r->ready, true);
		fprintf(stderr, "myco-log: raft: node %llu leads term %llu and serves\n",
			(unsigned long long)r->peers[r->me].id,
			(unsigned long long)r->raft.current_term);
	}
	free(it);
}

/* The in-sync set as the leader sees it now (bit per peer index). */
static uint32_t isr_now(myco__lrepl_t *r, uint64_t now)
{
	uint64_t lag = 2 * (uint64_t)r->o.election_ms;
	uint32_t mask = 1u << r->me;

	if (now - r->sample_ms >= lag / 2) {
		r->commit_old = r->commit_new;
		r->commit_new = r->raft.commit_index;
		r->sample_ms = now;
	}
	for (unsigned i = 0; i < r->raft.configuration.n; i++) {
		const struct raft_server *s = &r->raft.configuration.servers[i];
		const struct raft_progress *pr = &r->raft.leader_state.progress[i];
		int k = peer_index(r, s->id);
		if (k < 0 || (size_t)k == r->me)
			continue;
		if (pr->recent_recv)
			r->seen[k] = now;
		if (pr->match_index >= r->commit_old)
			r->caught[k] = now;
		if (now - r->seen[k] < lag && now - r->caught[k] < lag)
			mask |= 1u << k;
	}
	return mask;
}

static void watch(myco__lrepl_t *r)
{
	raft_id lid = 0;
	const char *laddr = NULL;
	uint64_t now = now_ms();
	int st;

	if (!r->up)
		return;
	st = raft_state(&r->raft);
	raft_leader(&r->raft, &lid, &laddr);
	atomic_store(&r->leader_id, (uint64_t)lid);
	if (lid && (st != RAFT_LEADER || atomic_load(&r->ready)))
		atomic_store(&r->leaderless_ms, 0);
	else if (!atomic_load(&r->leaderless_ms))
		atomic_store(&r->leaderless_ms, now);
	atomic_store(&r->term, r->raft.current_term);
	if (st == RAFT_LEADER &&
	    (r->prev_state != RAFT_LEADER || r->raft.current_term != r->lead_term)) {
		r->epoch++;
		r->lead_term = r->raft.current_term;
		atomic_store(&r->ready, false);
		/* followers get a lag period's grace before they count as out */
		for (size_t i = 0; i < r->npeers; i++)
			r->seen[i] = r->caught[i] = now;
		r->commit_old = r->commit_new = r->raft.commit_index;
		r->sample_ms = now;
	} else if (st != RAFT_LEADER && r->prev_state == RAFT_LEADER) {
		r->epoch++;
		atomic_store(&r->ready, false);
		fprintf(stderr, "myco-log: raft: node %llu no longer leads (term %llu)\n",
			(unsigned long long)r->peers[r->me].id,
			(unsigned long long)r->raft.current_term);
	}
	r->prev_state = st;
	if (r->isr_wait)
		isr_wait_check(r);
	if (st != RAFT_LEADER)
		return;
	if (!atomic_load(&r->ready) && !r->ready_inflight) {
		item_t *it = calloc(1, sizeof(*it));
		if (it) {
			it->r = r;
			it->kind = 1;
			it->epoch = r->epoch;
			it->req.b.data = it;
			if (raft_barrier(&r->raft, &it->req.b, ready_cb) == 0)
				r->ready_inflight = true;
			else
				free(it);
		}
	}
	if (atomic_load(&r->ready)) {
		uint32_t mask = isr_now(r, now);
		if (mask != atomic_load(&r->isr_mask) && !r->isr_inflight) {
			myco__lrepl_entry_t e = { .type = LREPL_ISR, .isr_mask = mask };
			item_t *it = calloc(1, sizeof(*it));
			size_t sz = myco__lrepl_entry_size(&e);
			if (it && (it->buf.base = raft_malloc(sz))) {
				it->r = r;
				it->kind = 2;
				it->buf.len = sz;
				myco__lrepl_entry_encode(&e, it->buf.base);
				r->isr_inflight = true;
				submit(r, it, true);
			} else {
				free(it);
			}
		}
	}
}

static void tick_cb(uv_timer_t *t)
{
	watch(t->data);
}

static void close_handles(myco__lrepl_t *r)
{
	if (r->handles_closed)
		return;
	r->handles_closed = true;
	uv_close((uv_handle_t *)&r->wake, NULL);
	uv_close((uv_handle_t *)&r->tick, NULL);
	uv_close((uv_handle_t *)&r->isr_timer, NULL);
}

static void closed_cb(struct raft *raft)
{
	myco__lrepl_t *r = raft->data;

	r->closing = false;
	raft_uv_close(&r->io);
	raft_uv_tcp_close(&r->transport);
	close_handles(r);
}

static void wake_cb(uv_async_t *a)
{
	myco__lrepl_t *r = a->data;

	if (atomic_load(&r->stopping)) {
		bool up = r->up;
		uv_timer_stop(&r->tick);
		r->up = false;
		drain(r);
		isr_wait_check(r);      /* not leading any more: all answered */
		atomic_store(&r->ready, false);
		if (up) {
			r->closing = true;
			raft_close(&r->raft, closed_cb);
		} else if (!r->closing) {
			close_handles(r);
		}
		return;
	}
	drain(r);
	watch(r);
}

static int raft_setup(myco__lrepl_t *r)
{
	struct raft_configuration conf;
	int rv = 0;

	r->fsm = (struct raft_fsm){ .version = 1, .data = r, .apply = fsm_apply,
				    .snapshot = fsm_snapshot, .restore = fsm_restore };
	if ((rv = raft_uv_tcp_init(&r->transport, &r->loop)) != 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "raft transport: %s", raft_strerror(rv));
		return -EIO;
	}
	if ((rv = raft_uv_init(&r->io, &r->loop, r->rdir, &r->transport)) != 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "raft storage %s: %s", r->rdir,
			 r->io.errmsg[0] ? r->io.errmsg : raft_strerror(rv));
		raft_uv_tcp_close(&r->transport);
		return -EIO;
	}
	if ((rv = raft_init(&r->raft, &r->io, &r->fsm, r->peers[r->me].id,
			    r->peers[r->me].raft_addr)) != 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "raft_init: %s", raft_strerror(rv));
		raft_uv_close(&r->io);
		raft_uv_tcp_close(&r->transport);
		return -EIO;
	}
	r->raft.data = r;
	raft_configuration_init(&conf);
	for (size_t i = 0; i < r->npeers && rv == 0; i++)
		rv = raft_configuration_add(&conf, r->peers[i].id, r->peers[i].raft_addr,
					    RAFT_VOTER);
	if (rv == 0)
		rv = raft_bootstrap(&r->raft, &conf);     /* first start only */
	raft_configuration_close(&conf);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		snprintf(r->errmsg, sizeof(r->errmsg), "raft_bootstrap: %s",
			 raft_errmsg(&r->raft)[0] ? raft_errmsg(&r->raft) : raft_strerror(rv));
		goto fail;
	}
	raft_set_election_timeout(&r->raft, r->o.election_ms);
	raft_set_heartbeat_timeout(&r->raft, r->o.election_ms / 10 ? r->o.election_ms / 10 : 1);
	raft_set_pre_vote(&r->raft, true);
	raft_set_snapshot_threshold(&r->raft, UINT_MAX);
	if ((rv = raft_start(&r->raft)) != 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "raft_start: %s",
			 raft_errmsg(&r->raft)[0] ? raft_errmsg(&r->raft) : raft_strerror(rv));
		goto fail;
	}
	r->up = true;
	r->prev_state = -1;
	return 0;
fail:
	r->closing = true;
	raft_close(&r->raft, closed_cb);
	return -EIO;
}

static void *raft_main(void *arg)
{
	myco__lrepl_t *r = arg;
	sigset_t ss;
	int rc;

	sigfillset(&ss);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	rc = uv_loop_init(&r->loop);
	if (rc != 0) {
		snprintf(r->errmsg, sizeof(r->errmsg), "uv_loop_init: %s", uv_strerror(rc));
		rc = -EIO;
	} else {
		uv_async_init(&r->loop, &r->wake, wake_cb);
		r->wake.data = r;
		uv_timer_init(&r->loop, &r->tick);
		r->tick.data = r;
		uv_timer_init(&r->loop, &r->isr_timer);
		r->isr_timer.data = r;
		rc = raft_setup(r);
		if (rc == 0)
			uv_timer_start(&r->tick, tick_cb, TICK_MS, TICK_MS);
		else if (!r->closing)
			close_handles(r);
	}
	pthread_mutex_lock(&r->smu);
	r->start_rc = rc;
	r->start_done = true;
	pthread_cond_signal(&r->scv);
	pthread_mutex_unlock(&r->smu);
	if (rc == 0 || r->closing || r->handles_closed) {
		uv_run(&r->loop, UV_RUN_DEFAULT);
		uv_loop_close(&r->loop);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Start and stop (main thread)                                        */
/* ------------------------------------------------------------------ */

int myco__lrepl_check(const myco__lrepl_opts_t *o, myco__peer_t *peers, size_t *npeers,
		      char *err, size_t errlen)
{
	int rc;

	if (!o->peers || !o->peers[0] || !o->id) {
		snprintf(err, errlen, "a cluster needs both --node-id and --peers");
		return -EINVAL;
	}
	if ((rc = myco__peers_parse(o->peers, peers, npeers, err, errlen)) < 0)
		return rc;
	if (*npeers > 3) {
		snprintf(err, errlen, "--peers lists %zu brokers; a cluster has at most 3", *npeers);
		return -EINVAL;
	}
	for (size_t i = 0; i < *npeers; i++)
		if (peers[i].id > INT32_MAX) {
			snprintf(err, errlen, "peer %zu: id %llu is not a Kafka node id (1..%d)",
				 i + 1, (unsigned long long)peers[i].id, INT32_MAX);
			return -EINVAL;
		}
	for (size_t i = 0; i < *npeers; i++)
		if (peers[i].id == o->id)
			goto found;
	snprintf(err, errlen, "--node-id %llu is not one of --peers", (unsigned long long)o->id);
	return -EINVAL;
found:
	if (o->min_insync < 1 || (size_t)o->min_insync > *npeers) {
		snprintf(err, errlen, "--min-insync-replicas %d is not 1..%zu (the brokers)",
			 o->min_insync, *npeers);
		return -EINVAL;
	}
	return 0;
}

/* Drop every topic of the store: the raft log replays them. */
static int drop_topics(mls_store_t *st)
{
	mls_topic_info *all = NULL;
	size_t n = 0;
	int rc = mls_topic_list(st, &all, &n);

	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = mls_topic_delete(st, all[i].name);
	free(all);
	return rc < 0 ? rc : 0;
}

int myco__lrepl_start(mls_store_t *st, const myco__lrepl_opts_t *o, myco__lrepl_t **out,
		      char *err, size_t errlen)
{
	myco__lrepl_t *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->st = st;
	r->o = *o;
	if (!r->o.election_ms)
		r->o.election_ms = 1000;
	if ((rc = myco__lrepl_check(o, r->peers, &r->npeers, err, errlen)) < 0)
		goto fail;
	for (size_t i = 0; i < r->npeers; i++)
		if (r->peers[i].id == o->id)
			r->me = i;
	if (asprintf(&r->rdir, "%s/raft", o->dir) < 0) {
		r->rdir = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(r->rdir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", r->rdir, strerror(errno));
		goto fail;
	}
	if ((rc = drop_topics(st)) < 0) {
		snprintf(err, errlen, "dropping the local topics before the raft replay: %s",
			 myco_strerror(rc));
		goto fail;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->smu, NULL);
	pthread_cond_init(&r->scv, NULL);
	if ((rc = -pthread_create(&r->th, NULL, raft_main, r)) < 0)
		goto fail;
	r->th_started = true;
	pthread_mutex_lock(&r->smu);
	while (!r->start_done)
		pthread_cond_wait(&r->scv, &r->smu);
	rc = r->start_rc;
	pthread_mutex_unlock(&r->smu);
	if (rc < 0) {
		snprintf(err, errlen, "%s", r->errmsg);
		pthread_join(r->th, NULL);
		goto fail;
	}
	*out = r;
	return 0;
fail:
	free(r->rdir);
	free(r);
	return rc;
}

void myco__lrepl_stop(myco__lrepl_t *r)
{
	item_t *it;

	if (!r)
		return;
	if (r->th_started) {
		atomic_store(&r->stopping, true);
		uv_async_send(&r->wake);
		pthread_join(r->th, NULL);
	}
	while ((it = r->qhead)) {
		r->qhead = it->next;
		item_fail(it);
	}
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->smu);
	pthread_cond_destroy(&r->scv);
	free(r->rdir);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

bool myco__lrepl_serving(const myco__lrepl_t *r)
{
	return atomic_load(&r->ready);
}

int32_t myco__lrepl_leader(const myco__lrepl_t *r)
{
	uint64_t id = atomic_load(&r->leader_id);

	/* a leader that has not caught up yet is no leader for clients */
	if (id == r->peers[r->me].id && !atomic_load(&r->ready))
		return -1;
	return id ? (int32_t)id : -1;
}

bool myco__lrepl_cut_off(const myco__lrepl_t *r)
{
	uint64_t since = atomic_load(&r->leaderless_ms);
	return since && now_ms() - since > 2 * (uint64_t)r->o.election_ms;
}

int32_t myco__lrepl_self(const myco__lrepl_t *r)
{
	return (int32_t)r->peers[r->me].id;
}

int32_t myco__lrepl_epoch(const myco__lrepl_t *r)
{
	uint64_t t = atomic_load(&r->term);
	return t > INT32_MAX ? INT32_MAX : (int32_t)t;
}

const myco__peer_t *myco__lrepl_peers(const myco__lrepl_t *r, size_t *n)
{
	*n = r->npeers;
	return r->peers;
}

size_t myco__lrepl_isr(const myco__lrepl_t *r, int32_t *ids, size_t cap)
{
	uint32_t mask = atomic_load(&r->isr_mask);
	size_t n = 0;

	for (size_t i = 0; i < r->npeers; i++)
		if (mask & (1u << i)) {
			if (n < cap)
				ids[n] = (int32_t)r->peers[i].id;
			n++;
		}
	return n;
}

int myco__lrepl_produce_check(const myco__lrepl_t *r, int acks)
{
	if (!atomic_load(&r->ready))
		return MYCO__LREPL_NOT_LEADER;
	if (acks == -1 && __builtin_popcount(atomic_load(&r->isr_mask)) < r->o.min_insync)
		return MYCO__LREPL_FEW_REPLICAS;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Submissions (loop threads)                                          */
/* ------------------------------------------------------------------ */

static int enqueue(myco__lrepl_t *r, const myco__lrepl_entry_t *e, myco__lrepl_res_t *res,
		   bool all_isr, void (*cb)(void *, int), void *arg)
{
	item_t *it;
	size_t sz = myco__lrepl_entry_size(e);

	if (!atomic_load(&r->ready))
		return MYCO__LREPL_NOT_LEADER;
	if (!(it = calloc(1, sizeof(*it))))
		return -ENOMEM;
	if (!(it->buf.base = raft_malloc(sz))) {
		free(it);
		return -ENOMEM;
	}
	it->buf.len = sz;
	myco__lrepl_entry_encode(e, it->buf.base);
	it->r = r;
	it->res = res;
	it->all_isr = all_isr;
	it->cb = cb;
	it->arg = arg;
	pthread_mutex_lock(&r->mu);
	if (r->qtail)
		r->qtail->next = it;
	else
		r->qhead = it;
	r->qtail = it;
	pthread_mutex_unlock(&r->mu);
	uv_async_send(&r->wake);
	return 1;
}

int myco__lrepl_produce(myco__lrepl_t *r, const char *topic, int32_t part, const void *rec,
			size_t len, int acks, myco__lrepl_res_t *res,
			void (*cb)(void *arg, int rc), void *arg)
{
	myco__lrepl_entry_t e = { .type = LREPL_RECORDS, .topic = topic,
				  .topic_len = strlen(topic), .partition = part,
				  .rec = rec, .rec_len = len };

	if (len == 0 || len > UINT32_MAX - 4096)
		return -MYCO_ELOG_CORRUPT;
	return enqueue(r, &e, res, acks == -1, cb, arg);
}

/* A loop thread waiting for one entry (topic creation):
 * shared with the raft thread's callback, freed by whoever is last. */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	int rc;
} waiter_t;

static void waiter_put(waiter_t *w)
{
	bool last;
	pthread_mutex_lock(&w->mu);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (last) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

static void waiter_cb(void *arg, int rc)
{
	waiter_t *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->rc = rc;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
}

static int wait_entry(myco__lrepl_t *r, const myco__lrepl_entry_t *e, int timeout_ms)
{
	waiter_t *w = calloc(1, sizeof(*w));
	struct timespec ts;
	int rc;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	w->refs = 2;
	rc = enqueue(r, e, NULL, false, waiter_cb, w);
	if (rc < 0) {
		w->refs = 1;
		waiter_put(w);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	rc = w->done ? w->rc : -ETIMEDOUT;
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
	return rc;
}

int myco__lrepl_create_topic(myco__lrepl_t *r, const char *name, int32_t parts,
			     const mls_topic_config *tc, int timeout_ms)
{
	myco__lrepl_entry_t e = { .type = LREPL_CREATE, .topic = name,
				  .topic_len = strlen(name), .partitions = parts };
	int rc = mls_topic_name_check(name);

	if (rc < 0)
		return rc;
	if (parts < 1 || parts > MLS_PARTITIONS_MAX)
		return -EINVAL;
	if (tc)
		e.tc = *tc;
	else
		mls_topic_config_init(&e.tc);
	return wait_entry(r, &e, timeout_ms);
}

int myco__lrepl_alloc_pid(myco__lrepl_t *r, int64_t *pid)
{
	int64_t local;
	int rc = mls_producer_id_alloc(r->st, &local);

	if (rc < 0)
		return rc;
	if (local > (INT64_MAX >> 2) - 1)
		return -EOVERFLOW;
	*pid = local * 4 + (int64_t)r->me + 1;
	return 0;
}
