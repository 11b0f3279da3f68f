/*
 * raft.c: myco-kv's replication on canonical raft (Debian libraft, its
 * libuv I/O and TCP transport).  Not for: consensus itself (the library
 * does all of it: elections, log matching, commit, snapshots, install),
 * command semantics (db.c), sockets for clients (net.c).
 *
 * Design in one page:
 *  - One raft thread runs a libuv loop with the raft instance; its log
 *    and snapshots live in DIR/raft (raft_uv: every entry on disk before
 *    it counts towards a majority).  DIR/LOCK is flock(2)ed as in
 *    standalone mode.  myco-kv's own WAL is not used: the raft log is the
 *    write-ahead log.
 *  - The leader executes a write on a loop thread exactly as standalone
 *    (shard locks, the deterministic effect recorded as a WAL record),
 *    then hands the record to the raft thread (kv_raft_append) with a
 *    sequence number; the client's reply leaves only when raft has
 *    committed and applied that entry (acknowledged after a majority has
 *    it on disk).  Entries carry this incarnation's random nonce: the
 *    leader's FSM skips its own (already executed), followers replay
 *    them through kv_exec like WAL recovery.
 *  - Reads on the leader wait for a barrier entry appended after they ran
 *    (ReadIndex-style: a quorum confirms that nobody else was leader),
 *    shared by every read that ran before the barrier left the queue.
 *  - A leader answers only once a barrier of its own term is applied
 *    (everything earlier leaders committed is in its state).  Followers
 *    answer data commands with -MOVED <slot> <leader host:port> (Redis
 *    Cluster's redirect), or serve reads locally (stale) after READONLY.
 *  - A leader that loses leadership with executed writes not committed
 *    has a state that may differ from the log: it fails the waiting
 *    clients (their connections close: outcome unknown, as after any
 *    crash), closes raft, empties the keyspace and starts raft again,
 *    which restores the last snapshot and re-applies the log.
 *  - Snapshots: raft asks (every --raft-snapshot-entries entries); under
 *    every shard lock only a reference to each object and a copy of each
 *    key are taken, then the locks go and the keyspace is serialised
 *    (snapshot.kv format) from the references while writes continue: a
 *    write command copies an object a snapshot holds before changing it.
 *    The leader refuses (RAFT_BUSY, retried on the next applies) while a
 *    write it executed is not yet applied, since its state is then ahead
 *    of the index the snapshot would claim.
 */
#include "kv_int.h"
#include "myco_peers.h"

#include "myco/rt.h"
#include "myco_int.h"

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE 8
#define TICK_MS 5

KV_CMD(kv_cmd_exec);

typedef struct item {
	struct item *next;
	struct kv_raft *kr;
	uint64_t seq;             /* 0: the leader's ready barrier */
	uint64_t epoch;           /* ready barrier: the leadership it is for */
	uint64_t gen;             /* write: the state generation it ran in */
	bool write;
	char *rec;                /* write: the WAL record (malloc) */
	size_t rlen;
	struct raft_buffer buf;   /* write: the entry (raft_malloc) */
	union {
		struct raft_apply a;
		struct raft_barrier b;
	} req;
} item_t;

struct kv_raft {
	kv_srv_t *srv;
	kv_raft_opts_t o;
	myco__peer_t peers[MYCO__PEERS_MAX];
	size_t npeers;
	const myco__peer_t *me;
	char *rdir;
	int dirfd, lockfd;
	myco_event_t *ev;

	/* raft thread only */
	pthread_t th;
	bool th_started;
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick, restart;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	bool up;                  /* raft initialised and not closed */
	bool closing;             /* raft_close in flight */
	bool handles_closed;
	int prev_state;
	uint64_t epoch;
	uint64_t lost_ns;         /* when the last leader was lost (for logs) */
	unsigned busy_run;        /* snapshots refused in a row */
	uint64_t hold_ns;         /* when writes were held for a snapshot */
	bool hold_barrier;        /* the barrier that lets raft retry is out */
	bool ready_inflight;      /* the leader's ready barrier is out */
	uint64_t lead_term;       /* the term this node leads (or led) */
	kv_client_t *applier;
	char errmsg[512];

	/* start-up handshake */
	pthread_mutex_t smu;
	pthread_cond_t scv;
	int start_rc;
	bool start_done;

	/* shared with the loop threads */
	pthread_mutex_t mu;
	item_t *qhead, *qtail;    /* mu */
	uint64_t next_seq;        /* mu: last handed out */
	uint64_t last_write;      /* mu: seq of the last write */
	uint64_t last_write_gen;  /* mu: the generation it ran in */
	bool fence_open;          /* mu: qtail is a barrier still queued */
	_Atomic bool stopping;
	_Atomic int want_rebuild;   /* 0, or the raft error that calls for one */
	_Atomic uint64_t acked, failed;
	_Atomic uint64_t nonce;
	_Atomic uint64_t gen;     /* state generation: +1 at every rebuild */
	_Atomic int role;
	_Atomic bool ready, rebuilding;
	_Atomic bool hold_writes; /* the leader lets its writes drain to snapshot */
	_Atomic uint64_t leader_id, term, commit, applied, last_index;
	_Atomic uint64_t leaderships, rebuilds, snapshots, snap_busy, snap_restores,
		applied_remote, bad_entries, snap_holds;
	/* snapshot time with every shard locked, and formatting after */
	_Atomic uint64_t snap_stop_ns, snap_write_ns;
};

static void notify(kv_raft_t *kr)
{
	myco_event_notify(kr->ev);
}

static void max_store(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

static uint64_t new_nonce(void)
{
	uint64_t n = 0;
	while (n == 0)
		if (getrandom(&n, sizeof(n), 0) != sizeof(n))
			n = myco_now() ^ ((uint64_t)getpid() << 32);
	return n;
}

/* ------------------------------------------------------------------ */
/* The state machine (raft thread)                                     */
/* ------------------------------------------------------------------ */

static void flush_keyspace(kv_raft_t *kr)
{
	kv_arg_t av[1] = { { "FLUSHALL", 8 } };
	kr->applier->r.len = 0;
	kv_exec(kr->applier, 1, av);
	kr->applier->r.len = 0;
}

int kv_raft_entry_apply(kv_srv_t *srv, kv_client_t *c, const void *buf, size_t blen,
			uint64_t own_nonce)
{
	const char *p = buf;
	uint64_t nonce;
	uint32_t rl;
	size_t off = NONCE, i;
	long bad = 0;
	int rc = 0;

	if (blen < NONCE + KV_REC_HDR)
		return -EBADMSG;
	memcpy(&nonce, p, NONCE);
	if (nonce == own_nonce)
		return 1;        /* executed here when it was appended */
	/* [nonce] then records, zero-padded to 8 bytes: the records' own
	 * lengths say where they end, and fewer than 8 zeros may follow. */
	while (blen - off >= KV_REC_HDR) {
		memcpy(&rl, p + off, 4);
		if (rl > blen - off - KV_REC_HDR)
			return -EBADMSG;
		off += KV_REC_HDR + rl;
	}
	if (blen - off >= 8)
		return -EBADMSG;
	for (i = off; i < blen; i++)
		if (p[i])
			return -EBADMSG;
	if (kv_replay_records(srv, c, p + NONCE, off - NONCE, &bad) != off - NONCE)
		rc = -EBADMSG;
	c->r.len = 0;
	return rc;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	kv_raft_t *kr = fsm->data;
	int rc;

	*result = NULL;
	rc = kv_raft_entry_apply(kr->srv, kr->applier, buf->base, buf->len,
				 atomic_load(&kr->nonce));
	if (rc < 0) {
		if (atomic_fetch_add(&kr->bad_entries, 1) < 10)
			fprintf(stderr, "myco-kv: raft: a damaged entry of %zu bytes (bad length "
				"or CRC); skipped\n", buf->len);
	} else if (rc == 0) {
		atomic_fetch_add(&kr->applied_remote, 1);
	}
	return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	kv_raft_t *kr = fsm->data;
	kv_srv_t *srv = kr->srv;
	kbuf_t out = { 0 };
	kv_pins_t *pins;
	uint64_t t0;
	bool busy;
	int rc;

	kv_lock_all(srv);
	pthread_mutex_lock(&kr->mu);
	/* a write that ran in this state and is not applied yet (writes of
	 * an earlier generation went with the state a rebuild threw away;
	 * a failed write of this one means a rebuild is due) */
	busy = atomic_load(&kr->want_rebuild) != 0 ||
	       (kr->last_write > atomic_load(&kr->acked) &&
		kr->last_write_gen == atomic_load(&kr->gen));
	pthread_mutex_unlock(&kr->mu);
	if (busy) {
		kv_unlock_all(srv);
		atomic_fetch_add(&kr->snap_busy, 1);
		/* Under a steady write load there is always a write in
		 * flight: after a few refusals, new writes wait (briefly, see
		 * hold_check) until the ones in flight are applied. */
		if (++kr->busy_run >= 4 && !atomic_load(&kr->hold_writes)) {
			kr->hold_ns = myco_now();
			atomic_fetch_add(&kr->snap_holds, 1);
			atomic_store(&kr->hold_writes, true);
		}
		return RAFT_BUSY;
	}
	kr->busy_run = 0;
	/* Under the locks only a reference to every object and a copy of
	 * every key; formatting runs after, while writes go on (a write
	 * command copies an object a snapshot holds before changing it). */
	t0 = myco_now();
	pins = kv_snapshot_pin(srv);
	kv_unlock_all(srv);
	atomic_fetch_add(&kr->snap_stop_ns, myco_now() - t0);
	t0 = myco_now();
	rc = pins ? kv_snapshot_write(pins, raft_last_applied(&kr->raft), &out) : -ENOMEM;
	atomic_fetch_add(&kr->snap_write_ns, myco_now() - t0);
	if (atomic_load(&kr->hold_writes)) {
		atomic_store(&kr->hold_writes, false);
		notify(kr);
	}
	if (rc < 0)
		return RAFT_NOMEM;
	*bufs = raft_malloc(sizeof(**bufs));
	if (!*bufs) {
		kbuf_free(&out);
		return RAFT_NOMEM;
	}
	(*bufs)[0].len = (out.len + 7) & ~(size_t)7;     /* 8-byte multiple */
	(*bufs)[0].base = raft_calloc(1, (*bufs)[0].len);
	if (!(*bufs)[0].base) {
		raft_free(*bufs);
		kbuf_free(&out);
		return RAFT_NOMEM;
	}
	memcpy((*bufs)[0].base, out.p, out.len);
	kbuf_free(&out);
	*n_bufs = 1;
	atomic_fetch_add(&kr->snapshots, 1);
	return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	kv_raft_t *kr = fsm->data;
	int rc;

	flush_keyspace(kr);
	rc = kv_snapshot_load(kr->srv, kr->applier, buf->base, buf->len);
	kr->applier->r.len = 0;
	if (rc < 0) {
		fprintf(stderr, "myco-kv: raft: snapshot of %zu bytes is not loadable: %s\n",
			buf->len, myco_strerror(rc));
		return RAFT_MALFORMED;
	}
	raft_free(buf->base);
	atomic_fetch_add(&kr->snap_restores, 1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests (raft thread)                                              */
/* ------------------------------------------------------------------ */

static void start_rebuild(kv_raft_t *kr, const char *why);

static void item_done(item_t *it, int status)
{
	kv_raft_t *kr = it->kr;

	if (status == 0) {
		max_store(&kr->acked, it->seq);
	} else {
		max_store(&kr->failed, it->seq);
		if (it->write && !atomic_load(&kr->stopping)) {
			/* Not from inside raft's own call stack: next turn. */
			atomic_store(&kr->want_rebuild, status);
			uv_async_send(&kr->wake);
		}
	}
	notify(kr);
	free(it);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)result;
	item_done(req->data, status);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	item_done(req->data, status);
}

static void ready_cb(struct raft_barrier *req, int status)
{
	item_t *it = req->data;
	kv_raft_t *kr = it->kr;

	kr->ready_inflight = false;
	if (status == 0 && it->epoch == kr->epoch && kr->up &&
	    raft_state(&kr->raft) == RAFT_LEADER && kr->raft.current_term == kr->lead_term) {
		atomic_store(&kr->ready, true);
		fprintf(stderr, "myco-kv: raft: node %llu leads term %llu and serves\n",
			(unsigned long long)kr->me->id,
			(unsigned long long)kr->raft.current_term);
		notify(kr);
	}
	/* else watch() sends another while this node still leads */
	free(it);
}

static void fail_item(kv_raft_t *kr, item_t *it, int status)
{
	(void)kr;
	free(it->rec);
	it->rec = NULL;
	item_done(it, status);
}

#define BATCH_MAX (4u << 20)     /* bytes of records in one entry */

/* Submit the writes from *itp on (consecutive, the same generation) as
 * one entry: [nonce] records, zero-padded to 8 bytes.  One request for
 * the last of them: raft applies in order, so its commit acknowledges
 * every earlier sequence number, and its failure fails them all. */
static item_t *submit_writes(kv_raft_t *kr, item_t *it)
{
	uint64_t nonce = atomic_load(&kr->nonce), gen = atomic_load(&kr->gen);
	item_t *end = it->next, *last = it, *x, *next;
	size_t total = NONCE + it->rlen, off;
	char *b;
	int rv;

	if (it->gen != gen) {
		/* ran in a state that a rebuild has thrown away */
		fail_item(kr, it, RAFT_NOTLEADER);
		return end;
	}
	while (end && end->write && end->gen == gen && total + end->rlen <= BATCH_MAX + NONCE) {
		total += end->rlen;
		last = end;
		end = end->next;
	}
	total = (total + 7) & ~(size_t)7;
	b = raft_malloc(total);
	if (b) {
		memcpy(b, &nonce, NONCE);
		off = NONCE;
		for (x = it; x != end; x = x->next) {
			memcpy(b + off, x->rec, x->rlen);
			off += x->rlen;
		}
		memset(b + off, 0, total - off);
	}
	for (x = it; x != last; x = next) {
		next = x->next;
		free(x->rec);
		free(x);
	}
	free(last->rec);
	last->rec = NULL;
	if (!b) {
		item_done(last, RAFT_NOMEM);
		return end;
	}
	last->buf.base = b;
	last->buf.len = total;
	last->req.a.data = last;
	/* raft copies the buffer descriptors into its log entries: a local
	 * array of one (gcc -O2 with -fsanitize=thread took &last->buf for an
	 * 8-byte region and refused the build) */
	struct raft_buffer one[1] = { last->buf };
	rv = raft_apply(&kr->raft, &last->req.a, one, 1, apply_cb);
	if (rv != 0) {
		raft_free(b);
		item_done(last, rv);
	}
	return end;
}

static void drain(kv_raft_t *kr)
{
	item_t *it, *next;
	int rv;

	pthread_mutex_lock(&kr->mu);
	it = kr->qhead;
	kr->qhead = kr->qtail = NULL;
	kr->fence_open = false;
	pthread_mutex_unlock(&kr->mu);
	while (it) {
		if (!kr->up || atomic_load(&kr->rebuilding)) {
			next = it->next;
			fail_item(kr, it, RAFT_NOTLEADER);
			it = next;
		} else if (it->write) {
			it = submit_writes(kr, it);
		} else {
			next = it->next;
			it->req.b.data = it;
			rv = raft_barrier(&kr->raft, &it->req.b, barrier_cb);
			if (rv != 0)
				item_done(it, rv);
			it = next;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Setting raft up, watching it, rebuilding (raft thread)              */
/* ------------------------------------------------------------------ */

static void close_handles(kv_raft_t *kr)
{
	if (kr->handles_closed)
		return;
	kr->handles_closed = true;
	uv_close((uv_handle_t *)&kr->wake, NULL);
	uv_close((uv_handle_t *)&kr->tick, NULL);
	uv_close((uv_handle_t *)&kr->restart, NULL);
}

static void failed_cb(struct raft *r)
{
	kv_raft_t *kr = r->data;
	kr->closing = false;
	raft_uv_close(&kr->io);
	raft_uv_tcp_close(&kr->transport);
	if (atomic_load(&kr->stopping))
		close_handles(kr);
}

static int raft_setup(kv_raft_t *kr)
{
	struct raft_configuration conf;
	size_t i;
	int rv;

	kr->fsm = (struct raft_fsm){ .version = 1, .data = kr, .apply = fsm_apply,
				     .snapshot = fsm_snapshot, .restore = fsm_restore };
	if ((rv = raft_uv_tcp_init(&kr->transport, &kr->loop)) != 0) {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "raft transport: %s", raft_strerror(rv));
		return -EIO;
	}
	if ((rv = raft_uv_init(&kr->io, &kr->loop, kr->rdir, &kr->transport)) != 0) {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "raft storage %s: %s", kr->rdir,
			 kr->io.errmsg[0] ? kr->io.errmsg : raft_strerror(rv));
		raft_uv_tcp_close(&kr->transport);
		return -EIO;
	}
	kr->raft.data = kr;
	if ((rv = raft_init(&kr->raft, &kr->io, &kr->fsm, kr->me->id, kr->me->raft_addr)) != 0) {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "raft_init: %s", raft_strerror(rv));
		raft_uv_close(&kr->io);
		raft_uv_tcp_close(&kr->transport);
		return -EIO;
	}
	kr->raft.data = kr;
	raft_configuration_init(&conf);
	for (i = 0; i < kr->npeers; i++) {
		rv = raft_configuration_add(&conf, kr->peers[i].id, kr->peers[i].raft_addr,
					    RAFT_VOTER);
		if (rv != 0)
			break;
	}
	if (rv == 0)
		rv = raft_bootstrap(&kr->raft, &conf);   /* first start only */
	raft_configuration_close(&conf);
	if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "raft_bootstrap: %s",
			 raft_errmsg(&kr->raft)[0] ? raft_errmsg(&kr->raft) : raft_strerror(rv));
		goto fail;
	}
	raft_set_election_timeout(&kr->raft, kr->o.election_ms);
	raft_set_heartbeat_timeout(&kr->raft, kr->o.heartbeat_ms);
	raft_set_pre_vote(&kr->raft, true);
	raft_set_snapshot_threshold(&kr->raft, kr->o.snapshot_entries);
	raft_set_snapshot_trailing(&kr->raft, kr->o.snapshot_trailing);
	if ((rv = raft_start(&kr->raft)) != 0) {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "raft_start: %s",
			 raft_errmsg(&kr->raft)[0] ? raft_errmsg(&kr->raft) : raft_strerror(rv));
		goto fail;
	}
	kr->up = true;
	kr->prev_state = -1;
	kr->ready_inflight = false;   /* requests of a closed raft are gone */
	kr->hold_barrier = false;
	return 0;
fail:
	/* Closing needs the loop to run: the caller runs it (start) or
	 * retries later (restart). */
	kr->closing = true;
	raft_close(&kr->raft, failed_cb);
	kr->up = false;
	return -EIO;
}

static void restart_cb(uv_timer_t *t);

static void closed_cb(struct raft *r)
{
	kv_raft_t *kr = r->data;
	kr->closing = false;
	raft_uv_close(&kr->io);
	raft_uv_tcp_close(&kr->transport);
	if (atomic_load(&kr->stopping)) {
		close_handles(kr);
		return;
	}
	/* raft_uv's handles close over the next loop turns: start again a
	 * little later. */
	uv_timer_start(&kr->restart, restart_cb, 100, 0);
}

static void restart_cb(uv_timer_t *t)
{
	kv_raft_t *kr = t->data;

	if (atomic_load(&kr->stopping))
		return;
	flush_keyspace(kr);
	atomic_store(&kr->nonce, new_nonce());
	if (raft_setup(kr) < 0) {
		fprintf(stderr, "myco-kv: raft: restart failed (%s); retrying\n", kr->errmsg);
		uv_timer_start(&kr->restart, restart_cb, 500, 0);
		return;
	}
	atomic_fetch_add(&kr->rebuilds, 1);
	atomic_store(&kr->rebuilding, false);
	fprintf(stderr, "myco-kv: raft: state rebuilt from the snapshot and the log\n");
	notify(kr);
	if (atomic_load(&kr->want_rebuild))
		uv_async_send(&kr->wake);
}

static void start_rebuild(kv_raft_t *kr, const char *why)
{
	if (atomic_load(&kr->rebuilding) || atomic_load(&kr->stopping) || !kr->up)
		return;
	atomic_store(&kr->rebuilding, true);
	atomic_store(&kr->ready, false);
	atomic_fetch_add(&kr->gen, 1);
	fprintf(stderr, "myco-kv: raft: writes executed here were not committed (%s); "
		"rebuilding the state from the snapshot and the log\n", why);
	pthread_mutex_lock(&kr->mu);
	max_store(&kr->failed, kr->next_seq);
	pthread_mutex_unlock(&kr->mu);
	notify(kr);
	kr->up = false;
	kr->epoch++;
	uv_timer_stop(&kr->restart);
	kr->closing = true;
	raft_close(&kr->raft, closed_cb);
	/* closed_cb arms the timer; restart_cb runs 100 ms after. */
}

static void hold_cb(struct raft_barrier *req, int status)
{
	item_t *it = req->data;
	(void)status;
	it->kr->hold_barrier = false;
	free(it);
}

/* Writes held for a snapshot: once those in flight are applied, a barrier
 * makes raft apply an entry and so ask for the snapshot again (it asks
 * only after applying).  Never longer than 200 ms, snapshot or not. */
static void hold_check(kv_raft_t *kr)
{
	uint64_t last;
	item_t *it;

	if (!atomic_load(&kr->hold_writes))
		return;
	if (!atomic_load(&kr->ready) || myco_now() - kr->hold_ns > 200 * 1000000ull) {
		kr->busy_run = 0;
		atomic_store(&kr->hold_writes, false);
		notify(kr);
		return;
	}
	pthread_mutex_lock(&kr->mu);
	last = kr->last_write;
	pthread_mutex_unlock(&kr->mu);
	if (kr->hold_barrier || atomic_load(&kr->acked) < last || !(it = calloc(1, sizeof(*it))))
		return;
	it->kr = kr;
	it->req.b.data = it;
	if (raft_barrier(&kr->raft, &it->req.b, hold_cb) == 0)
		kr->hold_barrier = true;
	else
		free(it);
}

static void watch(kv_raft_t *kr)
{
	raft_id lid = 0;
	const char *laddr = NULL;
	int st;

	if (!kr->up)
		return;
	st = raft_state(&kr->raft);
	raft_leader(&kr->raft, &lid, &laddr);
	atomic_store(&kr->leader_id, (uint64_t)lid);
	atomic_store(&kr->term, kr->raft.current_term);
	atomic_store(&kr->commit, kr->raft.commit_index);
	atomic_store(&kr->applied, raft_last_applied(&kr->raft));
	atomic_store(&kr->last_index, raft_last_index(&kr->raft));
	if (st == RAFT_LEADER &&
	    (kr->prev_state != RAFT_LEADER || kr->raft.current_term != kr->lead_term)) {
		/* a new leadership (also one lost and won again between two
		 * looks): serve once a barrier of this term is applied */
		kr->epoch++;
		kr->lead_term = kr->raft.current_term;
		atomic_store(&kr->ready, false);
		atomic_fetch_add(&kr->leaderships, 1);
	} else if (st != RAFT_LEADER && kr->prev_state == RAFT_LEADER) {
		kr->epoch++;
		atomic_store(&kr->ready, false);
		kr->lost_ns = myco_now();
		fprintf(stderr, "myco-kv: raft: node %llu no longer leads (term %llu)\n",
			(unsigned long long)kr->me->id, (unsigned long long)kr->raft.current_term);
	}
	if (st == RAFT_LEADER && !atomic_load(&kr->ready) && !kr->ready_inflight) {
		item_t *it = calloc(1, sizeof(*it));
		if (it) {
			it->kr = kr;
			it->epoch = kr->epoch;
			it->req.b.data = it;
			if (raft_barrier(&kr->raft, &it->req.b, ready_cb) == 0)
				kr->ready_inflight = true;
			else
				free(it);
		}
	}
	if (st != kr->prev_state) {
		kr->prev_state = st;
		atomic_store(&kr->role, st);
		notify(kr);
	}
	hold_check(kr);
}

static void tick_cb(uv_timer_t *t)
{
	kv_raft_t *kr = t->data;
	watch(kr);
}

static void wake_cb(uv_async_t *a)
{
	kv_raft_t *kr = a->data;

	if (atomic_load(&kr->stopping)) {
		bool up = kr->up;
		uv_timer_stop(&kr->tick);
		uv_timer_stop(&kr->restart);
		kr->up = false;
		drain(kr);
		if (up) {
			kr->closing = true;
			raft_close(&kr->raft, closed_cb);
		} else if (!kr->closing) {
			close_handles(kr);
		}
		/* else the close in flight ends in closed_cb/failed_cb, which
		 * closes the handles */
		return;
	}
	if (!atomic_load(&kr->rebuilding) && kr->up) {
		/* (while a rebuild runs the request waits for its end: a
		 * write that failed then may have run in the new state) */
		int why = atomic_exchange(&kr->want_rebuild, 0);
		if (why)
			start_rebuild(kr, raft_strerror(why));
	}
	drain(kr);
	watch(kr);
}

static void *raft_main(void *arg)
{
	kv_raft_t *kr = arg;
	sigset_t ss;
	int rc;

	sigfillset(&ss);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	rc = uv_loop_init(&kr->loop);
	if (rc == 0) {
		uv_async_init(&kr->loop, &kr->wake, wake_cb);
		kr->wake.data = kr;
		uv_timer_init(&kr->loop, &kr->tick);
		kr->tick.data = kr;
		uv_timer_init(&kr->loop, &kr->restart);
		kr->restart.data = kr;
		rc = raft_setup(kr);
		if (rc == 0)
			uv_timer_start(&kr->tick, tick_cb, TICK_MS, TICK_MS);
	} else {
		snprintf(kr->errmsg, sizeof(kr->errmsg), "uv_loop_init: %s", uv_strerror(rc));
		pthread_mutex_lock(&kr->smu);
		kr->start_rc = -EIO;
		kr->start_done = true;
		pthread_cond_signal(&kr->scv);
		pthread_mutex_unlock(&kr->smu);
		return NULL;
	}
	pthread_mutex_lock(&kr->smu);
	kr->start_rc = rc;
	kr->start_done = true;
	pthread_cond_signal(&kr->scv);
	pthread_mutex_unlock(&kr->smu);
	if (rc < 0) {
		/* close what was set up, then leave */
		close_handles(kr);
		uv_run(&kr->loop, UV_RUN_DEFAULT);
		uv_loop_close(&kr->loop);
		return NULL;
	}
	uv_run(&kr->loop, UV_RUN_DEFAULT);
	uv_loop_close(&kr->loop);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Start and stop (main thread)                                        */
/* ------------------------------------------------------------------ */

int kv_raft_start(kv_srv_t *srv, const kv_raft_opts_t *o, char *err, size_t errlen)
{
	kv_raft_t *kr = calloc(1, sizeof(*kr));
	size_t i;
	int rc;

	if (!kr)
		return -ENOMEM;
	kr->srv = srv;
	kr->o = *o;
	kr->dirfd = kr->lockfd = -1;
	if (!kr->o.election_ms)
		kr->o.election_ms = 300;
	if (!kr->o.heartbeat_ms)
		kr->o.heartbeat_ms = kr->o.election_ms / 6 ? kr->o.election_ms / 6 : 1;
	if (!kr->o.snapshot_entries)
		kr->o.snapshot_entries = 8192;
	if (!kr->o.snapshot_trailing)
		kr->o.snapshot_trailing = kr->o.snapshot_entries / 8 ? kr->o.snapshot_entries / 8 : 1;
	if ((rc = myco__peers_parse(o->peers, kr->peers, &kr->npeers, err, errlen)) < 0)
		goto fail;
	for (i = 0; i < kr->npeers; i++)
		if (kr->peers[i].id == o->id)
			kr->me = &kr->peers[i];
	if (!kr->me) {
		snprintf(err, errlen, "--raft-id %llu is not in --raft-peers",
			 (unsigned long long)o->id);
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = kv_dir_lock(o->dir, &kr->dirfd, &kr->lockfd)) < 0) {
		snprintf(err, errlen, rc == -EBUSY ? "data directory %s is locked by another process"
			 : "data directory %s: %s", o->dir, myco_strerror(rc));
		goto fail;
	}
	if (asprintf(&kr->rdir, "%s/raft", o->dir) < 0) {
		kr->rdir = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(kr->rdir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", kr->rdir, strerror(errno));
		goto fail;
	}
	if ((rc = myco_event_create(&kr->ev)) < 0)
		goto fail;
	if (!(kr->applier = kv_client_new(srv))) {
		rc = -ENOMEM;
		goto fail;
	}
	atomic_fetch_sub(&srv->nclients, 1);    /* not a connection */
	kr->applier->replay = true;
	kr->nonce = new_nonce();
	pthread_mutex_init(&kr->mu, NULL);
	pthread_mutex_init(&kr->smu, NULL);
	pthread_cond_init(&kr->scv, NULL);
	srv->raft = kr;
	if ((rc = -pthread_create(&kr->th, NULL, raft_main, kr)) < 0) {
		srv->raft = NULL;
		goto fail;
	}
	kr->th_started = true;
	pthread_mutex_lock(&kr->smu);
	while (!kr->start_done)
		pthread_cond_wait(&kr->scv, &kr->smu);
	rc = kr->start_rc;
	pthread_mutex_unlock(&kr->smu);
	if (rc < 0) {
		snprintf(err, errlen, "%s", kr->errmsg);
		pthread_join(kr->th, NULL);
		srv->raft = NULL;
		goto fail;
	}
	return 0;
fail:
	if (kr->applier) {
		atomic_fetch_add(&srv->nclients, 1);
		kv_client_free(kr->applier);
	}
	if (kr->ev)
		myco_event_destroy(kr->ev);
	if (kr->lockfd >= 0)
		close(kr->lockfd);
	if (kr->dirfd >= 0)
		close(kr->dirfd);
	free(kr->rdir);
	free(kr);
	return rc;
}

void kv_raft_stop(kv_srv_t *srv)
{
	kv_raft_t *kr = srv->raft;
	item_t *it;

	if (!kr)
		return;
	if (kr->th_started) {
		atomic_store(&kr->stopping, true);
		uv_async_send(&kr->wake);
		pthread_join(kr->th, NULL);
		kr->th_started = false;
	}
	while ((it = kr->qhead)) {
		kr->qhead = it->next;
		free(it->rec);
		free(it);
	}
	atomic_fetch_add(&srv->nclients, 1);
	kv_client_free(kr->applier);
	myco_event_destroy(kr->ev);
	close(kr->lockfd);
	close(kr->dirfd);
	free(kr->rdir);
	pthread_mutex_destroy(&kr->mu);
	free(kr);
	srv->raft = NULL;
}

/* ------------------------------------------------------------------ */
/* The loops' side                                                     */
/* ------------------------------------------------------------------ */

static void enqueue_locked(kv_raft_t *kr, item_t *it)
{
	it->next = NULL;
	if (kr->qtail)
		kr->qtail->next = it;
	else
		kr->qhead = it;
	kr->qtail = it;
}

uint64_t kv_raft_append(kv_srv_t *srv, const void *p, size_t n, int ncmds)
{
	return kv_raft_append_if(srv, p, n, ncmds, NULL, NULL);
}

uint64_t kv_raft_append_if(kv_srv_t *srv, const void *p, size_t n, int ncmds,
			   bool (*check)(void *arg), void *arg)
{
	kv_raft_t *kr = srv->raft;
	item_t *it = calloc(1, sizeof(*it));
	char *rec = malloc(KV_REC_HDR + n);
	uint64_t seq;

	pthread_mutex_lock(&kr->mu);
	if (check && !check(arg)) {
		pthread_mutex_unlock(&kr->mu);
		free(it);
		free(rec);
		return 0;
	}
	seq = ++kr->next_seq;
	kr->last_write = seq;
	kr->last_write_gen = atomic_load(&kr->gen);
	if (!it || !rec) {
		/* Executed here but cannot be replicated: fail it and
		 * rebuild the state from the log. */
		pthread_mutex_unlock(&kr->mu);
		free(it);
		free(rec);
		max_store(&kr->failed, seq);
		atomic_store(&kr->want_rebuild, RAFT_NOMEM);
		uv_async_send(&kr->wake);
		return seq;
	}
	kv_record_hdr(rec, seq, p, n, ncmds);
	memcpy(rec + KV_REC_HDR, p, n);
	it->kr = kr;
	it->seq = seq;
	it->write = true;
	it->gen = atomic_load(&kr->gen);
	it->rec = rec;
	it->rlen = KV_REC_HDR + n;
	enqueue_locked(kr, it);
	kr->fence_open = false;
	pthread_mutex_unlock(&kr->mu);
	uv_async_send(&kr->wake);
	return seq;
}

uint64_t kv_raft_fence(kv_srv_t *srv)
{
	kv_raft_t *kr = srv->raft;
	item_t *it;
	uint64_t seq;

	pthread_mutex_lock(&kr->mu);
	if (kr->fence_open && kr->qtail) {
		seq = kr->qtail->seq;
		pthread_mutex_unlock(&kr->mu);
		return seq;
	}
	it = calloc(1, sizeof(*it));
	seq = ++kr->next_seq;
	if (!it) {
		pthread_mutex_unlock(&kr->mu);
		max_store(&kr->failed, seq);
		return seq;
	}
	it->kr = kr;
	it->seq = seq;
	enqueue_locked(kr, it);
	kr->fence_open = true;
	pthread_mutex_unlock(&kr->mu);
	uv_async_send(&kr->wake);
	return seq;
}

int kv_raft_status(kv_srv_t *srv, uint64_t seq)
{
	kv_raft_t *kr = srv->raft;
	/* A failure at or after seq dominates: the entry may or may not have
	 * taken effect, and a read fenced by a failed barrier must not be
	 * answered even if a later barrier succeeds. */
	if (atomic_load(&kr->failed) >= seq)
		return -1;
	if (atomic_load(&kr->acked) >= seq)
		return atomic_load(&kr->failed) >= seq ? -1 : 1;
	return 0;
}

void *kv_raft_event(kv_srv_t *srv)
{
	return srv->raft->ev;
}

bool kv_raft_may_expire(kv_srv_t *srv)
{
	kv_raft_t *kr = srv->raft;
	return !kr || (atomic_load(&kr->ready) && !atomic_load(&kr->rebuilding));
}

bool kv_raft_is_leader(kv_srv_t *srv)
{
	kv_raft_t *kr = srv->raft;
	return kr && atomic_load(&kr->ready) && !atomic_load(&kr->rebuilding);
}

static const myco__peer_t *peer_of(kv_raft_t *kr, uint64_t id)
{
	size_t i;
	for (i = 0; i < kr->npeers; i++)
		if (kr->peers[i].id == id)
			return &kr->peers[i];
	return NULL;
}

int kv_raft_gate(kv_client_t *c, const kcmd_t *cmd, int argc, const kv_arg_t *argv)
{
	kv_raft_t *kr = c->srv->raft;
	bool data = cmd->flags & (CF_WRITE | CF_READONLY);
	bool write = cmd->flags & CF_WRITE;
	const myco__peer_t *lp;
	uint64_t lid;
	unsigned slot = 0;
	int i;

	if (!kr || kv_replaying(c))
		return 0;
	if (cmd->fn == kv_cmd_exec) {
		if (!c->in_multi)
			return 0;
		data = true;
		for (i = 0; i < c->nq; i++)
			if (c->q[i].cmd->flags & CF_WRITE)
				write = true;
	}
	if (!data)
		return 0;
	if (atomic_load(&kr->rebuilding)) {
		r_err(c, "TRYAGAIN this node is rebuilding its state from the raft log");
		return -1;
	}
	if (atomic_load(&kr->ready)) {
		/* a write waits while the leader drains for a snapshot
		 * (bounded by hold_check; no shard lock is held here) */
		while (write && atomic_load(&kr->hold_writes) && myco_loop_current()) {
			uint64_t seq = myco_event_seq(kr->ev);
			if (!atomic_load(&kr->hold_writes))
				break;
			if (myco_event_wait(kr->ev, seq, 10 * 1000000) == -ECANCELED)
				break;
		}
		if (atomic_load(&kr->ready) && !atomic_load(&kr->rebuilding))
			return 0;
	}
	if (!write && c->readonly)
		return 0;     /* READONLY: a stale read here */
	if (cmd->first > 0 && argc > cmd->first)
		slot = kv_slot(argv[cmd->first].p, argv[cmd->first].len);
	lid = atomic_load(&kr->leader_id);
	lp = lid && lid != kr->me->id ? peer_of(kr, lid) : NULL;
	if (lp)
		r_err(c, "MOVED %u %s", slot, lp->client_addr);
	else if (atomic_load(&kr->role) == RAFT_LEADER)
		r_err(c, "TRYAGAIN the new raft leader is applying its log");
	else
		r_err(c, "CLUSTERDOWN The cluster is down (no raft leader)");
	return -1;
}

static void node_id(char *out, size_t cap, uint64_t id)
{
	/* Redis Cluster node ids are 40 hex digits */
	snprintf(out, cap, "%040llx", (unsigned long long)id);
}

static void slot_node(kv_client_t *c, const myco__peer_t *p)
{
	char id[48];
	node_id(id, sizeof(id), p->id);
	r_arr(c, 3);
	r_cstr(c, p->host);
	r_int(c, p->port);
	r_cstr(c, id);
}

void kv_raft_cluster(kv_client_t *c, int argc, const kv_arg_t *argv)
{
	kv_raft_t *kr = c->srv->raft;
	uint64_t lid = atomic_load(&kr->leader_id);
	const myco__peer_t *lp = lid ? peer_of(kr, lid) : NULL;
	char id[48], line[256];
	size_t i;

	if (arg_is(&argv[1], "SLOTS") && argc == 2) {
		if (!lp) {
			r_err(c, "CLUSTERDOWN The cluster is down (no raft leader)");
			return;
		}
		r_arr(c, 1);
		r_arr(c, 2 + (long)kr->npeers);
		r_int(c, 0);
		r_int(c, 16383);
		slot_node(c, lp);
		for (i = 0; i < kr->npeers; i++)
			if (&kr->peers[i] != lp)
				slot_node(c, &kr->peers[i]);
	} else if (arg_is(&argv[1], "NODES") && argc == 2) {
		kbuf_t b = { 0 };
		for (i = 0; i < kr->npeers; i++) {
			const myco__peer_t *p = &kr->peers[i];
			char mid[48];
			int n;
			node_id(id, sizeof(id), p->id);
			node_id(mid, sizeof(mid), lp ? lp->id : 0);
			n = snprintf(line, sizeof(line), "%s %s:%u@%u %s%s %s 0 0 %llu connected%s\n",
				     id, p->host, p->port, p->raft_port, p == kr->me ? "myself," : "",
				     p == lp ? "master" : "slave", p == lp || !lp ? "-" : mid,
				     (unsigned long long)atomic_load(&kr->term),
				     p == lp ? " 0-16383" : "");
			kbuf_put(&b, line, (size_t)n);
		}
		r_bulk(c, b.p ? b.p : "", b.len);
		kbuf_free(&b);
	} else if (arg_is(&argv[1], "INFO") && argc == 2) {
		int n = snprintf(line, sizeof(line),
				 "cluster_state:%s\r\ncluster_slots_assigned:16384\r\n"
				 "cluster_slots_ok:%d\r\ncluster_known_nodes:%zu\r\ncluster_size:1\r\n"
				 "cluster_current_epoch:%llu\r\ncluster_my_epoch:%llu\r\n",
				 lp ? "ok" : "fail", lp ? 16384 : 0, kr->npeers,
				 (unsigned long long)atomic_load(&kr->term),
				 (unsigned long long)atomic_load(&kr->term));
		r_verbatim(c, line, (size_t)n);
	} else if (arg_is(&argv[1], "MYID") && argc == 2) {
		node_id(id, sizeof(id), kr->me->id);
		r_cstr(c, id);
	} else if (arg_is(&argv[1], "KEYSLOT") && argc == 3) {
		r_int(c, kv_slot(argv[2].p, argv[2].len));
	} else {
		r_err(c, "ERR unknown subcommand '%.*s'. Try CLUSTER HELP.",
		      (int)(argv[1].len > 64 ? 64 : argv[1].len), argv[1].p);
	}
}

static const char *state_name(int st)
{
	switch (st) {
	case RAFT_FOLLOWER: return "follower";
	case RAFT_CANDIDATE: return "candidate";
	case RAFT_LEADER: return "leader";
	default: return "unavailable";
	}
}

void kv_raft_info(kv_srv_t *srv, kbuf_t *b)
{
	kv_raft_t *kr = srv->raft;
	char tmp[2048];
	uint64_t lid = atomic_load(&kr->leader_id);
	const myco__peer_t *lp = lid ? peer_of(kr, lid) : NULL;
	bool lead = atomic_load(&kr->ready) && !atomic_load(&kr->rebuilding);
	int n;

	n = snprintf(tmp, sizeof(tmp),
		     "# Replication\r\nrole:%s\r\n%s%s%s"
		     "raft_id:%llu\r\nraft_state:%s\r\nraft_ready:%d\r\nraft_rebuilding:%d\r\n"
		     "raft_leader_id:%llu\r\nraft_leader_addr:%s\r\nraft_term:%llu\r\n"
		     "raft_commit_index:%llu\r\nraft_applied_index:%llu\r\nraft_last_index:%llu\r\n"
		     "raft_acked_seq:%llu\r\nraft_failed_seq:%llu\r\nraft_leaderships:%llu\r\n"
		     "raft_rebuilds:%llu\r\nraft_snapshots:%llu\r\nraft_snapshots_busy:%llu\r\n"
		     "raft_snapshot_restores:%llu\r\nraft_applied_remote:%llu\r\n"
		     "raft_bad_entries:%llu\r\nraft_snapshot_holds:%llu\r\n"
		     "raft_snapshot_locked_us:%llu\r\nraft_snapshot_write_us:%llu\r\n"
		     "raft_peers:%zu\r\n\r\n",
		     lead ? "master" : "slave",
		     lead ? "" : "master_host:", lead ? "" : (lp ? lp->host : "?"),
		     lead ? "" : "\r\n",
		     (unsigned long long)kr->me->id, state_name(atomic_load(&kr->role)),
		     (int)atomic_load(&kr->ready), (int)atomic_load(&kr->rebuilding),
		     (unsigned long long)lid, lp ? lp->client_addr : "",
		     (unsigned long long)atomic_load(&kr->term),
		     (unsigned long long)atomic_load(&kr->commit),
		     (unsigned long long)atomic_load(&kr->applied),
		     (unsigned long long)atomic_load(&kr->last_index),
		     (unsigned long long)atomic_load(&kr->acked),
		     (unsigned long long)atomic_load(&kr->failed),
		     (unsigned long long)atomic_load(&kr->leaderships),
		     (unsigned long long)atomic_load(&kr->rebuilds),
		     (unsigned long long)atomic_load(&kr->snapshots),
		     (unsigned long long)atomic_load(&kr->snap_busy),
		     (unsigned long long)atomic_load(&kr->snap_restores),
		     (unsigned long long)atomic_load(&kr->applied_remote),
		     (unsigned long long)atomic_load(&kr->bad_entries),
		     (unsigned long long)atomic_load(&kr->snap_holds),
		     (unsigned long long)(atomic_load(&kr->snap_stop_ns) / 1000),
		     (unsigned long long)(atomic_load(&kr->snap_write_ns) / 1000), kr->npeers);
	kbuf_put(b, tmp, (size_t)n);
}
