/*
 * produce.c: myco-log's Produce API: each partition's records section is
 * cut into RecordBatches (the store tells their size) and appended straight
 * from the request frame; with fsync policy "always" the answer waits for
 * the store's group commit (asynchronous appends completed on the store's
 * sync thread, handed back to the appending shard through its done list).
 * In cluster mode each partition's records section goes through raft
 * instead (repl.h) and the answer waits for its commit, handed back the
 * same way.  With several loops each partition is appended to on its
 * owning shard only: the partitions of a request owned by other shards are
 * copied into one "share" per shard, posted there, appended there, and
 * their results posted back; the request's own shard answers when every
 * share is back.  A transactional Produce runs whole on shard 0
 * (dispatch.c), where its coordinator is, so its check and its appends
 * are one step.
 * Not for: batch validation or storage (store/), reading (fetch.c).
 */
#include "log_int.h"
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One partition of a Produce request. */
typedef struct {
	myco__kstr_t topic;
	int32_t index;
	int16_t err;
	int64_t base, lat, lso;
	int pending;          /* async appends not yet durable */
} pprod_part_t;

/* A Produce request waiting for fsync (policy ALWAYS) or for its shares;
 * or a share: the partitions of a request that another shard owns. */
typedef struct myco__lpprod {
	struct myco__lpprod *next;
	myco__lb_t *lb;
	myco__lshard_t *sh;   /* where it waits (its appends complete there) */
	myco__lreq_t req;     /* req.conn NULL once the connection closed */
	int acks;
	int pending;          /* async appends and shares not yet back */
	size_t nparts;
	pprod_part_t *parts;
	uint8_t *frame;       /* copies of the topic names (parts point here);
	                       * a share: names and records */
	struct myco__lpprod *parent; /* a share: the request it belongs to */
	size_t *pidx;         /* a share: each part's index in parent->parts */
	uint8_t **recs;       /* a share: each part's records (in frame) */
	size_t *rlen;
} pprod_t;

/* One async append completion handed from the sync thread. */
typedef struct myco__lacomp {
	struct myco__lacomp *next;
	pprod_t *pp;
	size_t part;
	int rc;
	bool repl;            /* a replicated entry: res says what it gave */
	myco__lrepl_res_t res;
} acomp_t;

static void pprod_free(pprod_t *pp)
{
	free(pp->parts);
	free(pp->frame);
	free(pp->pidx);
	free(pp->recs);
	free(pp->rlen);
	free(pp);
}

static void pprod_done(pprod_t *pp);

static void produce_respond(pprod_t *pp)
{
	myco__lreq_t *req = &pp->req;
	int16_t v = req->ver;
	bool f = req->flex;
	size_t i, j, ntopics = 0;
	myco__kwr_t w;

	if (!req->conn)
		return;
	if (pp->acks == 0) {
		myco__lc_noreply(req->conn);
		return;
	}
	for (i = 0; i < pp->nparts; i++)
		if (i == 0 || pp->parts[i].topic.p != pp->parts[i - 1].topic.p)
			ntopics++;
	myco__lresp_begin(&w, req);
	myco__kwr_array(&w, f, (int32_t)ntopics);
	for (i = 0; i < pp->nparts; i = j) {
		for (j = i + 1; j < pp->nparts && pp->parts[j].topic.p == pp->parts[i].topic.p; j++)
			;
		myco__kwr_strn(&w, f, pp->parts[i].topic.p, pp->parts[i].topic.len);
		myco__kwr_array(&w, f, (int32_t)(j - i));
		for (size_t k = i; k < j; k++) {
			pprod_part_t *pt = &pp->parts[k];
			myco__kwr_i32(&w, pt->index);
			myco__kwr_i16(&w, pt->err);
			myco__kwr_i64(&w, pt->err ? -1 : pt->base);
			if (v >= 2)
				myco__kwr_i64(&w, pt->err ? -1 : pt->lat);
			if (v >= 5)
				myco__kwr_i64(&w, pt->err ? -1 : pt->lso);
			if (v >= 8) {
				myco__kwr_array(&w, f, 0);
				myco__kwr_str(&w, f, NULL);
			}
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_i32(&w, 0);                          /* throttle */
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

static void append_cb(void *arg, int rc)
{
	acomp_t *a = arg;
	myco__lshard_t *sh = a->pp->sh;

	a->rc = rc;
	a->next = NULL;
	pthread_mutex_lock(&sh->mu);
	if (sh->done_tail)
		sh->done_tail->next = a;
	else
		sh->done_head = a;
	sh->done_tail = a;
	pthread_mutex_unlock(&sh->mu);
	myco__lb_poke(sh);
}

/* Copy the topic names of a produce that outlives its frame into
 * pp->frame; parts of one topic keep sharing one pointer (produce_respond
 * groups by pointer).  0 or -ENOMEM. */
static int pprod_keep_names(pprod_t *pp)
{
	size_t i, need = 0, at = 0;
	const uint8_t *prev = NULL;

	for (i = 0; i < pp->nparts; i++)
		if (i == 0 || pp->parts[i].topic.p != pp->parts[i - 1].topic.p)
			need += pp->parts[i].topic.len > 0 ? (size_t)pp->parts[i].topic.len : 0;
	pp->frame = malloc(need ? need : 1);
	if (!pp->frame)
		return -ENOMEM;
	for (i = 0; i < pp->nparts; i++) {
		myco__kstr_t *t = &pp->parts[i].topic;
		if (i > 0 && t->p == prev) {
			*t = pp->parts[i - 1].topic;
			continue;
		}
		prev = t->p;
		if (t->p && t->len > 0) {
			memcpy(pp->frame + at, t->p, (size_t)t->len);
			t->p = pp->frame + at;
			at += (size_t)t->len;
		}
	}
	return 0;
}

static void pprod_unlink(pprod_t *pp)
{
	pprod_t **pp_ = &pp->sh->pprods;
	while (*pp_ && *pp_ != pp)
		pp_ = &(*pp_)->next;
	if (*pp_)
		*pp_ = pp->next;
}

/* Cluster mode: hand the records section to raft; the answer waits for
 * its commit (a majority has it) and, for acks=all, for every in-sync
 * replica. */
static void produce_replicated(myco__lb_t *lb, pprod_t *pp, size_t idx, const char *name,
			       const uint8_t *rec, size_t len)
{
	pprod_part_t *pt = &pp->parts[idx];
	acomp_t *a;
	int rc = myco__lrepl_produce_check(lb->cfg.repl, pp->acks);

	if (rc < 0) {
		pt->err = myco__lkerr(rc);
		return;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		pt->err = KERR_UNKNOWN_SERVER_ERROR;
		return;
	}
	a->pp = pp;
	a->part = idx;
	a->repl = true;
	pt->pending++;
	pp->pending++;
	rc = myco__lrepl_produce(lb->cfg.repl, name, pt->index, rec, len, pp->acks, &a->res,
				 append_cb, a);
	if (rc < 0) {
		pt->pending--;
		pp->pending--;
		free(a);
		pt->err = myco__lkerr(rc);
	}
}

/* Append every batch in records[0..len) to p; fills pt. */
static void produce_partition(myco__lb_t *lb, pprod_t *pp, size_t idx, const char *name,
			      mls_partition_t *p, uint8_t *rec, size_t len)
{
	pprod_part_t *pt = &pp->parts[idx];
	size_t off = 0;
	bool first = true;

	if (len < 61) {
		pt->err = KERR_CORRUPT_MESSAGE;
		return;
	}
	if (lb->cfg.repl) {
		produce_replicated(lb, pp, idx, name, rec, len);
		return;
	}
	while (off < len) {
		mls_append_result res;
		long bsz = mls_batch_size(rec + off, len - off);
		acomp_t *a = NULL;
		int rc;

		if (bsz < 0 || (size_t)bsz > len - off) {
			pt->err = KERR_CORRUPT_MESSAGE;
			return;
		}
		if (lb->cfg.fsync_mode == MLS_FSYNC_ALWAYS) {
			a = calloc(1, sizeof(*a));
			if (!a) {
				pt->err = KERR_UNKNOWN_SERVER_ERROR;
				return;
			}
			a->pp = pp;
			a->part = idx;
			rc = mls_append_async(p, rec + off, (size_t)bsz, &res, append_cb, a);
			if (rc == 1) {
				pt->pending++;
				pp->pending++;
			} else {
				free(a);
			}
		} else {
			rc = mls_append(p, rec + off, (size_t)bsz, &res);
		}
		if (rc < 0) {
			pt->err = myco__lkerr(rc);
			return;
		}
		if (res.duplicate && lb->cfg.verbose)
			fprintf(stderr, "myco-log: duplicate batch (idempotent retry) of %.*s[%d] "
				"from producer %lld epoch %d sequence %d acknowledged at offset "
				"%lld, not stored again\n",
				pt->topic.len > 0 ? (int)pt->topic.len : 0,
				pt->topic.len > 0 ? (const char *)pt->topic.p : "", pt->index,
				(long long)res.batch.producer_id, res.batch.producer_epoch,
				res.batch.base_seq, (long long)res.base_offset);
		if (first) {
			pt->base = res.base_offset;
			pt->lat = res.log_append_time;
			first = false;
		}
		pt->lso = res.log_start_offset;
		off += (size_t)bsz;
	}
}

/* Append one partition of pp (parts[k] filled with its name and index)
 * on the calling shard. */
static void produce_one(myco__lb_t *lb, pprod_t *pp, size_t k, const char *name,
			uint8_t *rec, size_t len, bool has_rec)
{
	pprod_part_t *pt = &pp->parts[k];
	mls_partition_t *p = NULL;
	int rc = mls_partition_get(lb->st, name, pt->index, &p);

	if (rc < 0) {
		pt->err = myco__lkerr(rc);
		return;
	}
	/* the frame is writable (myco__lb_request): records borrow it */
	if (!has_rec)
		pt->err = KERR_CORRUPT_MESSAGE;
	else
		produce_partition(lb, pp, k, name, p, rec, len);
	mls_partition_put(p);
}

/* A share's results back on its request's shard. */
static void share_back(void *arg)
{
	pprod_t *sp = arg, *pp = sp->parent;

	for (size_t i = 0; i < sp->nparts; i++) {
		pprod_part_t *dst = &pp->parts[sp->pidx[i]], *src = &sp->parts[i];
		dst->err = src->err;
		dst->base = src->base;
		dst->lat = src->lat;
		dst->lso = src->lso;
	}
	pprod_free(sp);
	if (--pp->pending == 0) {
		pprod_unlink(pp);
		pprod_done(pp);
	}
}

/* A share on its owning shard: append, then (now or when durable) back. */
static void share_run(void *arg)
{
	pprod_t *sp = arg;
	myco__lb_t *lb = sp->lb;
	myco__lshard_t *sh = myco__lb_here(lb);

	sp->sh = sh;
	for (size_t i = 0; i < sp->nparts; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		pprod_part_t *pt = &sp->parts[i];
		size_t n = pt->topic.len > 0 ? (size_t)pt->topic.len : 0;
		memcpy(name, pt->topic.p, n);
		name[n] = 0;
		produce_one(lb, sp, i, name, sp->recs[i], sp->rlen[i], sp->recs[i] != NULL);
	}
	if (sp->pending == 0) {
		pprod_done(sp);        /* sp is the request's shard's now */
	} else {
		sp->next = sh->pprods;
		sh->pprods = sp;
	}
	if (atomic_exchange(&sh->hw_moved, 0))
		(void)myco__lfetch_recheck(lb, true, myco__lnow_ms());
}

/* Build the share of shard o: the parts of pp owned by it (owner[k] == o),
 * names and records copied.  NULL when out of memory. */
static pprod_t *share_new(myco__lb_t *lb, pprod_t *pp, const unsigned *owner, unsigned o,
			  uint8_t *const *recs, const size_t *rlen)
{
	pprod_t *sp = calloc(1, sizeof(*sp));
	size_t n = 0, bytes = 0, at = 0, i, j = 0;

	if (!sp)
		return NULL;
	for (i = 0; i < pp->nparts; i++)
		if (owner[i] == o) {
			n++;
			bytes += (pp->parts[i].topic.len > 0 ? (size_t)pp->parts[i].topic.len : 0) +
				 (recs[i] ? rlen[i] : 0);
		}
	sp->lb = lb;
	sp->acks = pp->acks;
	sp->parent = pp;
	sp->nparts = n;
	sp->parts = calloc(n, sizeof(*sp->parts));
	sp->pidx = calloc(n, sizeof(*sp->pidx));
	sp->recs = calloc(n, sizeof(*sp->recs));
	sp->rlen = calloc(n, sizeof(*sp->rlen));
	sp->frame = malloc(bytes ? bytes : 1);
	if (!sp->parts || !sp->pidx || !sp->recs || !sp->rlen || !sp->frame) {
		pprod_free(sp);
		return NULL;
	}
	for (i = 0; i < pp->nparts; i++) {
		pprod_part_t *pt;
		size_t tl;
		if (owner[i] != o)
			continue;
		pt = &sp->parts[j];
		*pt = pp->parts[i];
		tl = pt->topic.len > 0 ? (size_t)pt->topic.len : 0;
		memcpy(sp->frame + at, pt->topic.p, tl);
		pt->topic.p = sp->frame + at;
		at += tl;
		if (recs[i]) {
			memcpy(sp->frame + at, recs[i], rlen[i]);
			sp->recs[j] = sp->frame + at;
			sp->rlen[j] = rlen[i];
			at += rlen[i];
		}
		sp->pidx[j++] = i;
	}
	return sp;
}

void myco__lh_produce(myco__lb_t *lb, myco__lreq_t *req, const myco__kproduce_t *m)
{
	int32_t i, j;
	size_t k;
	int16_t acks = m->acks;
	myco__kstr_t txn = m->transactional_id;
	pprod_t *pp = NULL;
	size_t total = m->npartitions_total;
	myco__lshard_t *sh = myco__lb_here(lb);
	unsigned *owner = NULL;
	uint8_t **recs = NULL;
	size_t *rlen = NULL;
	bool remote = false;

	/* Batches are appended straight from the frame (the store rewrites
	 * their base offset in place); only the topic names are copied if the
	 * answer has to wait for fsync (pprod_keep_names), and what other
	 * shards append is copied into their shares. */
	pp = calloc(1, sizeof(*pp));
	if (pp && total) {
		pp->parts = calloc(total, sizeof(*pp->parts));
		owner = calloc(total, sizeof(*owner));
		recs = calloc(total, sizeof(*recs));
		rlen = calloc(total, sizeof(*rlen));
	}
	if (!pp || (total && (!pp->parts || !owner || !recs || !rlen))) {
		if (pp)
			pprod_free(pp);
		free(owner);
		free(recs);
		free(rlen);
		myco__lc_abort(req->conn);
		return;
	}
	pp->lb = lb;
	pp->sh = sh;
	pp->req = *req;
	pp->acks = acks;
	pp->nparts = total;
	atomic_fetch_add(&lb->nproduce, 1);
	k = 0;
	for (i = 0; i < m->ntopics; i++) {
		const myco__kproduce_topic_t *t = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		bool ok = myco__ltopic_name(t->name, name);

		for (j = 0; j < t->npartitions; j++, k++) {
			pprod_part_t *pt = &pp->parts[k];
			myco__kstr_t rec = t->partitions[j].records;

			pt->topic = t->name;
			pt->index = t->partitions[j].index;
			pt->base = pt->lat = pt->lso = -1;
			owner[k] = sh->idx;
			if (acks != 0 && acks != 1 && acks != -1) {
				pt->err = KERR_INVALID_REQUIRED_ACKS;
				continue;
			}
			if (!ok) {
				pt->err = myco__lkerr(-MYCO_ELOG_NO_TOPIC);
				continue;
			}
			if (txn.p && txn.len > 0) {
				/* a transactional producer writes only to the
				 * partitions of its ongoing transaction, and only
				 * while it is the current instance (shard 0: the
				 * coordinator's; appended from here) */
				mls_batch_header bh;
				if (!rec.p || mls_batch_peek(rec.p, (size_t)rec.len, &bh) < 0) {
					pt->err = KERR_CORRUPT_MESSAGE;
					continue;
				}
				pt->err = myco__ltxn_produce_check(lb->txns, txn, bh.producer_id,
								   bh.producer_epoch, name, pt->index);
				if (pt->err)
					continue;
			} else {
				owner[k] = myco__lb_owner(lb, name, pt->index);
			}
			if (owner[k] != sh->idx) {
				/* cast: the frame is writable (myco__lb_request) */
				recs[k] = (uint8_t *)rec.p;
				rlen[k] = rec.p ? (size_t)rec.len : 0;
				remote = true;
				continue;
			}
			produce_one(lb, pp, k, name, (uint8_t *)rec.p,
				    rec.p ? (size_t)rec.len : 0, rec.p != NULL);
		}
	}
	if (remote) {
		/* one share per other shard, posted there; each counts as one
		 * pending completion of pp */
		for (unsigned o = 0; o < lb->nsh; o++) {
			pprod_t *sp;
			bool any = false;
			if (o == sh->idx)
				continue;
			for (k = 0; k < total && !any; k++)
				any = owner[k] == o;
			if (!any)
				continue;
			sp = share_new(lb, pp, owner, o, recs, rlen);
			if (sp) {
				pp->pending++;
				if (myco__lb_post(lb, o, share_run, sp) == 0)
					continue;
				pp->pending--;
				pprod_free(sp);
			}
			for (k = 0; k < total; k++)
				if (owner[k] == o)
					pp->parts[k].err = KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	free(owner);
	free(recs);
	free(rlen);
	if (lb->cfg.test_drop_after_append > 0 &&
	    atomic_load(&lb->nproduce) % lb->cfg.test_drop_after_append == 0) {
		/* Test fault: appended, but the producer never hears of it. */
		fprintf(stderr, "myco-log: test fault: dropping connection after append\n");
		pp->req.conn = NULL;
		myco__lc_abort(req->conn);
	} else if (acks == 0 && pp->pending > 0) {
		/* acks=0: nobody waits for this answer, not even for fsync */
		pp->req.conn = NULL;
		myco__lc_noreply(req->conn);
	}
	if (pp->pending == 0) {
		produce_respond(pp);
		pprod_free(pp);
	} else if (pprod_keep_names(pp) < 0) {
		/* cannot remember the answer: the appends still complete, the
		 * producer retries (idempotent ones get their duplicate answer) */
		pp->req.conn = NULL;
		myco__lc_abort(req->conn);
		pp->next = sh->pprods;
		sh->pprods = pp;
	} else {
		pp->next = sh->pprods;
		sh->pprods = pp;
	}
	/* Data became readable during this request: answer the fetches
	 * waiting for it now, as Kafka completes delayed fetches after an
	 * append (no trip through the eventfd). */
	if (atomic_exchange(&sh->hw_moved, 0))
		(void)myco__lfetch_recheck(lb, true, myco__lnow_ms());
}

/* Every append of pp is durable (or failed): answer, or send a share's
 * results back to its request's shard.  pp is not linked any more. */
static void pprod_done(pprod_t *pp)
{
	if (pp->parent) {
		if (myco__lb_post(pp->lb, pp->parent->sh->idx, share_back, pp) < 0) {
			/* cannot send the results back: the request stays
			 * unanswered until its connection closes (the
			 * producer times out and retries) */
			fprintf(stderr, "myco-log: out of memory: a produce share is lost\n");
			pprod_free(pp);
		}
		return;
	}
	produce_respond(pp);
	pprod_free(pp);
}

void myco__lproduce_drain(myco__lb_t *lb, myco__lshard_t *sh)
{
	acomp_t *a, *next;

	(void)lb;
	pthread_mutex_lock(&sh->mu);
	a = sh->done_head;
	sh->done_head = sh->done_tail = NULL;
	pthread_mutex_unlock(&sh->mu);
	for (; a; a = next) {
		pprod_t *pp = a->pp;
		pprod_part_t *pt = &pp->parts[a->part];
		next = a->next;
		if (a->rc < 0 && !pt->err)
			pt->err = myco__lkerr(a->rc);
		if (a->repl && a->rc == 0) {
			if (a->res.rc < 0 && !pt->err)
				pt->err = myco__lkerr(a->res.rc);
			pt->base = a->res.base;
			pt->lat = a->res.lat;
			pt->lso = a->res.lso;
		}
		pt->pending--;
		if (--pp->pending == 0) {
			pprod_unlink(pp);
			pprod_done(pp);
		}
		free(a);
	}
}

void myco__lproduce_conn_closed(myco__lb_t *lb, myco__lshard_t *sh, myco__lc_t *c)
{
	pprod_t *pr;

	(void)lb;
	for (pr = sh->pprods; pr; pr = pr->next)
		if (pr->req.conn == c)
			pr->req.conn = NULL;   /* appends still complete */
}

void myco__lproduce_free_all(myco__lb_t *lb, myco__lshard_t *sh)
{
	pprod_t *pp, *ppn;

	(void)lb;
	for (pp = sh->pprods; pp; pp = ppn) {
		ppn = pp->next;
		pprod_free(pp);
	}
	sh->pprods = NULL;
}
