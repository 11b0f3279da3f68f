/*
 * fetch.c: myco-log's Fetch API with long polling: a fetch that finds less
 * than min_bytes is parked until data arrives (a high watermark moves) or
 * max_wait passes.  Small answers are copied; larger ones splice ranges of
 * the segment files (sendfile, the segments pinned until sent).  A fetch
 * runs and parks on one shard (myco__lfetch_route): its partitions' owner
 * when they have one, shard 0 with a fetch session; any shard's append
 * wakes every shard with parked fetches (broker.c on_hw).
 * Not for: storage (store/), the network layer.
 */
#include "log_int.h"
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One partition of a parked Fetch. */
typedef struct {
	char topic[MLS_TOPIC_NAME_MAX + 1];
	int32_t index;
	int64_t offset;
	int32_t max_bytes;
	bool first_of_topic;  /* starts a new topic entry in the response */
	bool skip;            /* incremental fetch: nothing new, left out */
	bool hdr;             /* writes its topic's entry (first not skipped) */
	int32_t tcount;       /* with hdr: partitions of that topic written */
	int32_t sidx;         /* its index in the fetch session, -1 none */
} pfetch_part_t;

typedef struct myco__lpfetch {
	struct myco__lpfetch *next;
	myco__lreq_t req;
	int64_t deadline;
	int32_t min_bytes, max_bytes;
	int8_t isolation;     /* 1: read_committed */
	int32_t sess_id;      /* fetch session (KIP-227), 0: none */
	bool incremental;     /* leave out partitions with nothing new */
	size_t nparts, ntopics;
	pfetch_part_t *parts;
} pfetch_t;

/* ---- fetch sessions (KIP-227) ------------------------------------------- */

#define FSESS_MAX 1000          /* Kafka's max.incremental.fetch.session.cache.slots */
enum { KERR_FETCH_SESSION_ID_NOT_FOUND = 70, KERR_INVALID_FETCH_SESSION_EPOCH = 71 };

/* One partition of a session: what the client asked for last, and what
 * it was last told (an incremental answer leaves out what did not change). */
typedef struct {
	char topic[MLS_TOPIC_NAME_MAX + 1];
	int32_t index;
	int64_t offset;
	int32_t max_bytes;
	int64_t hw, lso, log_start;     /* last sent; -1: never */
} fsess_part_t;

typedef struct myco__lfsess {
	struct myco__lfsess *next;
	int32_t id, epoch;              /* epoch: the next one expected */
	int64_t used;                   /* last use (ms), for eviction */
	fsess_part_t *parts;
	size_t n, cap;
} fsess_t;

static fsess_t *fsess_find(myco__lb_t *lb, int32_t id)
{
	for (fsess_t *s = lb->fsess; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void fsess_drop(myco__lb_t *lb, fsess_t *fs)
{
	for (fsess_t **pp = &lb->fsess; *pp; pp = &(*pp)->next)
		if (*pp == fs) {
			*pp = fs->next;
			lb->nfsess--;
			free(fs->parts);
			free(fs);
			return;
		}
}

static fsess_part_t *fsess_part(fsess_t *fs, const char *topic, int32_t index, bool add)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->parts[i].index == index && !strcmp(fs->parts[i].topic, topic))
			return &fs->parts[i];
	if (!add)
		return NULL;
	if (fs->n == fs->cap) {
		size_t nc = fs->cap ? fs->cap * 2 : 8;
		fsess_part_t *np = realloc(fs->parts, nc * sizeof(*np));
		if (!np)
			return NULL;
		fs->parts = np;
		fs->cap = nc;
	}
	fsess_part_t *sp = &fs->parts[fs->n++];
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->topic, sizeof(sp->topic), "%s", topic);
	sp->index = index;
	sp->hw = sp->lso = sp->log_start = -1;
	return sp;
}

/* A new session (the least recently used one makes room when the cache
 * is full); NULL when out of memory. */
static fsess_t *fsess_new(myco__lb_t *lb)
{
	fsess_t *fs;

	if (lb->nfsess >= FSESS_MAX) {
		fsess_t *old = lb->fsess;
		for (fsess_t *s = lb->fsess; s; s = s->next)
			if (s->used < old->used)
				old = s;
		fsess_drop(lb, old);
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	do
		lb->fsess_next = lb->fsess_next >= INT32_MAX - 1 ? 1 : lb->fsess_next + 1;
	while (fsess_find(lb, lb->fsess_next));
	fs->id = lb->fsess_next;
	fs->epoch = 1;
	fs->next = lb->fsess;
	lb->fsess = fs;
	lb->nfsess++;
	return fs;
}

static void release_read(void *arg)
{
	mls_read_release(arg);
	free(arg);
}

/* Records up to this size are copied into the answer; larger ones are
 * spliced from the segment files (zero-copy). */
#define COPY_MAX 16384

/* Append the records length and the bytes of rd's ranges to w (pread).
 * Returns false, leaving w as it was, if a range cannot be read whole. */
static bool copy_ranges(myco__kwr_t *w, const mls_read_set *rd, bool f)
{
	uint8_t tmp[COPY_MAX];
	size_t k, got = 0;

	for (k = 0; k < rd->n; k++) {
		ssize_t n;
		if (rd->ranges[k].length > sizeof(tmp) - got)
			return false;
		n = pread(rd->ranges[k].fd, tmp + got, rd->ranges[k].length,
			  rd->ranges[k].file_offset);
		if (n != (ssize_t)rd->ranges[k].length)
			return false;
		got += (size_t)n;
	}
	if (f)
		myco__kwr_uvarint(w, (uint32_t)got + 1);
	else
		myco__kwr_i32(w, (int32_t)got);
	myco__kwr_raw(w, tmp, got);
	return true;
}

/* Build (or just size, when w is NULL) a fetch response. Returns the bytes
 * of records it found; *errs counts partitions answered with an error. */
static size_t fetch_eval(myco__lb_t *lb, pfetch_t *pf, myco__kwr_t *w, int *errs)
{
	int16_t v = pf->req.ver;
	bool f = pf->req.flex;
	size_t i, total = 0;
	size_t budget = pf->max_bytes > 0 ? (size_t)pf->max_bytes : 0;

	fsess_t *fs = NULL;
	bool open_topic = false;

	*errs = 0;
	if (w) {
		int32_t nt = 0;
		fs = pf->sess_id ? fsess_find(lb, pf->sess_id) : NULL;
		/* which partitions go in: all, or (incremental) those with
		 * records to read, an error, or offsets the client was not told */
		for (i = 0; i < pf->nparts; i++) {
			pfetch_part_t *fp = &pf->parts[i];
			fsess_part_t *sp = fs && fp->sidx >= 0 && (size_t)fp->sidx < fs->n
					   ? &fs->parts[fp->sidx] : NULL;
			fp->skip = false;
			if (pf->incremental && sp) {
				mls_partition_t *p = NULL;
				mls_offsets o;
				if (mls_partition_get(lb->st, fp->topic, fp->index, &p) == 0) {
					(void)mls_partition_offsets(p, &o);
					mls_partition_put(p);
					fp->skip = o.high_watermark == sp->hw && o.last_stable == sp->lso &&
						   o.log_start == sp->log_start && fp->offset >= o.log_start &&
						   fp->offset <= o.high_watermark &&
						   (pf->isolation == 1 ? o.last_stable : o.high_watermark) <=
						   fp->offset;
				}
			}
		}
		for (i = 0; i < pf->nparts; i++) {
			size_t j;
			pf->parts[i].hdr = false;
			if (!pf->parts[i].first_of_topic)
				continue;
			int32_t cnt = 0;
			size_t first = SIZE_MAX;
			for (j = i; j < pf->nparts && (j == i || !pf->parts[j].first_of_topic); j++)
				if (!pf->parts[j].skip) {
					if (first == SIZE_MAX)
						first = j;
					cnt++;
				}
			if (first != SIZE_MAX) {
				pf->parts[first].hdr = true;
				pf->parts[first].tcount = cnt;
				nt++;
			}
		}
		myco__kwr_i32(w, 0);                   /* throttle */
		if (v >= 7) {
			myco__kwr_i16(w, 0);
			myco__kwr_i32(w, fs ? fs->id : 0);
		}
		myco__kwr_array(w, f, nt);
	}
	for (i = 0; i < pf->nparts; i++) {
		pfetch_part_t *fp = &pf->parts[i];
		mls_partition_t *p = NULL;
		mls_read_set *rd = NULL;
		mls_offsets offs = { -1, -1, -1, 0, 0, -1 };
		mls_aborted_txn *ab = NULL;
		size_t want, nab = 0;
		bool committed = pf->isolation == 1;
		bool pinned = false;
		int rc;

		if (w && fp->skip)
			continue;
		if (w && fp->hdr) {
			if (open_topic)
				myco__kwr_tags(w, f);  /* end of previous topic */
			open_topic = true;
			myco__kwr_str(w, f, fp->topic);
			myco__kwr_array(w, f, fp->tcount);
		}
		if (!w && pf->min_bytes <= 1) {
			/* Sizing for the usual min_bytes 1: the offsets say enough,
			 * no need to read (this runs for every parked fetch after
			 * every append). */
			rc = lb->cfg.repl && !myco__lrepl_serving(lb->cfg.repl) ?
			     MYCO__LREPL_NOT_LEADER :
			     mls_partition_get(lb->st, fp->topic, fp->index, &p);
			if (rc == 0) {
				rc = mls_partition_offsets(p, &offs);
				mls_partition_put(p);
			}
			if (rc < 0 || fp->offset < offs.log_start || fp->offset > offs.high_watermark)
				(*errs)++;
			else if ((committed ? offs.last_stable : offs.high_watermark) > fp->offset)
				return total + 1;
			continue;
		}
		rc = lb->cfg.repl && !myco__lrepl_serving(lb->cfg.repl) ?
		     MYCO__LREPL_NOT_LEADER : mls_partition_get(lb->st, fp->topic, fp->index, &p);
		if (rc == 0) {
			want = fp->max_bytes > 0 ? (size_t)fp->max_bytes : 0;
			if (want > budget)
				want = budget;
			/* Kafka returns at least one batch even past max_bytes
			 * when nothing has been returned yet. */
			if (want == 0 && total == 0)
				want = 1;
			rd = calloc(1, sizeof(*rd));
			if (!rd) {
				rc = -ENOMEM;
			} else if (want == 0) {
				/* budget spent: only report the offsets */
				rc = mls_partition_offsets(p, &offs);
				rd->high_watermark = offs.high_watermark;
				rd->log_start = offs.log_start;
				rd->last_stable = offs.last_stable;
			} else if (committed) {
				rc = mls_read_committed(p, fp->offset, want, total != 0, rd);
				pinned = rc == 0;
			} else {
				/* KIP-74: only the first data of the response may
				 * exceed the limits (one whole batch, so that a
				 * consumer always progresses); after it, the
				 * response's and the partition's max bytes are
				 * hard limits */
				rc = total == 0 ? mls_read(p, fp->offset, want, rd)
						: mls_read_within(p, fp->offset, want, rd);
				pinned = rc == 0;
			}
			/* read_committed: the aborted transactions the consumer
			 * must skip in what it reads here */
			if (rc == 0 && committed && w && rd->total > 0 &&
			    mls_aborted_txns(p, fp->offset, rd->last_stable, &ab, &nab) < 0) {
				if (pinned)
					mls_read_release(rd);
				pinned = false;
				rc = -ENOMEM;
			}
			mls_partition_put(p);
		}
		if (rc < 0) {
			(*errs)++;
			free(rd);
			rd = NULL;
		} else {
			total += rd->total;
			budget = budget > rd->total ? budget - rd->total : 0;
		}
		if (!w) {
			if (pinned)
				mls_read_release(rd);
			free(rd);
			continue;
		}
		if (fs && fp->sidx >= 0 && (size_t)fp->sidx < fs->n && rd) {
			fsess_part_t *sp = &fs->parts[fp->sidx];
			sp->hw = rd->high_watermark;
			sp->lso = rd->last_stable;
			sp->log_start = rd->log_start;
		}
		myco__kwr_i32(w, fp->index);
		myco__kwr_i16(w, myco__lkerr(rc));
		myco__kwr_i64(w, rd ? rd->high_watermark : -1);
		myco__kwr_i64(w, rd ? rd->last_stable : -1);
		if (v >= 5)
			myco__kwr_i64(w, rd ? rd->log_start : -1);
		if (committed && rd) {
			myco__kwr_array(w, f, (int32_t)nab);
			for (size_t a = 0; a < nab; a++) {
				myco__kwr_i64(w, ab[a].producer_id);
				myco__kwr_i64(w, ab[a].first_offset);
				myco__kwr_tags(w, f);
			}
		} else {
			myco__kwr_array(w, f, -1);     /* aborted txns: null */
		}
		free(ab);
		if (v >= 11)
			myco__kwr_i32(w, -1);          /* preferred replica */
		if (rd && rd->total > 0 && rd->total <= COPY_MAX && copy_ranges(w, rd, f)) {
			/* small: copied into the answer (one send beats a splice
			 * through a pipe for a few KiB) */
			mls_read_release(rd);
			free(rd);
		} else if (rd && rd->total > 0) {
			size_t k;
			if (f)
				myco__kwr_uvarint(w, (uint32_t)rd->total + 1);
			else
				myco__kwr_i32(w, (int32_t)rd->total);
			for (k = 0; k < rd->n; k++)
				myco__kwr_file(w, rd->ranges[k].fd, rd->ranges[k].file_offset,
					       rd->ranges[k].length);
			myco__kwr_defer(w, release_read, rd);
		} else {
			if (f)
				myco__kwr_uvarint(w, 1);
			else
				myco__kwr_i32(w, 0);
			if (pinned)
				mls_read_release(rd);
			free(rd);
		}
		myco__kwr_tags(w, f);
	}
	if (w) {
		if (open_topic)
			myco__kwr_tags(w, f);
		myco__kwr_tags(w, f);
	}
	return total;
}

static void pfetch_free(pfetch_t *pf)
{
	free(pf->parts);
	free(pf);
}

static void fetch_respond(myco__lb_t *lb, pfetch_t *pf)
{
	myco__kwr_t w;
	int errs;

	myco__lresp_begin(&w, &pf->req);
	(void)fetch_eval(lb, pf, &w, &errs);
	myco__lresp_send(&pf->req, &w);
}

static int part_cmp(const void *a, const void *b)
{
	const pfetch_part_t *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->sidx > y->sidx) - (x->sidx < y->sidx);
}

/* Apply a session request's partitions and forgotten topics to fs.
 * -ENOMEM. */
static int fsess_update(fsess_t *fs, const myco__kfetch_t *m)
{
	int32_t i, j;

	for (i = 0; i < m->ntopics; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		if (!myco__ltopic_name(m->topics[i].topic, name))
			continue;
		for (j = 0; j < m->topics[i].npartitions; j++) {
			const myco__kfetch_partition_t *rp = &m->topics[i].partitions[j];
			fsess_part_t *sp = fsess_part(fs, name, rp->partition, true);
			if (!sp)
				return -ENOMEM;
			sp->offset = rp->fetch_offset;
			sp->max_bytes = rp->partition_max_bytes;
		}
	}
	for (i = 0; i < m->nforgotten; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		if (!myco__ltopic_name(m->forgotten[i].name, name))
			continue;
		for (j = 0; j < m->forgotten[i].npartitions; j++) {
			fsess_part_t *sp = fsess_part(fs, name, m->forgotten[i].partitions[j], false);
			if (sp)
				*sp = fs->parts[--fs->n];
		}
	}
	return 0;
}

/* A Fetch refused as a whole (v7+: a session error). */
static void fetch_refuse(const myco__lreq_t *req, int16_t err)
{
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, req->flex, 0);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

void myco__lh_fetch(myco__lb_t *lb, myco__lreq_t *req, const myco__kfetch_t *m)
{
	int32_t i, j, max_wait = m->max_wait_ms;
	size_t total = m->npartitions_total, k;
	pfetch_t *pf;
	fsess_t *fs = NULL;
	bool incremental = false;
	myco__lshard_t *sh = myco__lb_here(lb);
	int errs;

	/* KIP-227: epoch 0 opens a session (a full fetch), -1 closes one,
	 * a positive epoch continues it with only what changed */
	if (req->ver >= 7 && (m->session_id != 0 || m->session_epoch == 0)) {
		fsess_t *old = m->session_id ? fsess_find(lb, m->session_id) : NULL;
		if (m->session_epoch <= 0) {
			if (old)
				fsess_drop(lb, old);
			if (m->session_epoch == 0)
				fs = fsess_new(lb);    /* NULL: answered sessionless */
		} else if (!old) {
			fetch_refuse(req, KERR_FETCH_SESSION_ID_NOT_FOUND);
			return;
		} else if (old->epoch != m->session_epoch) {
			fetch_refuse(req, KERR_INVALID_FETCH_SESSION_EPOCH);
			return;
		} else {
			fs = old;
			incremental = true;
		}
	}
	if (fs) {
		if (fsess_update(fs, m) < 0) {
			fsess_drop(lb, fs);
			myco__lc_abort(req->conn);
			return;
		}
		fs->used = myco__lnow_ms();
		fs->epoch = incremental ? (fs->epoch == INT32_MAX ? 1 : fs->epoch + 1) : 1;
		total = fs->n;
	}
	pf = calloc(1, sizeof(*pf));
	if (!pf || (total && !(pf->parts = calloc(total, sizeof(*pf->parts))))) {
		if (pf)
			pfetch_free(pf);
		myco__lc_abort(req->conn);
		return;
	}
	pf->min_bytes = m->min_bytes;
	pf->max_bytes = m->max_bytes;
	pf->isolation = m->isolation_level;
	pf->sess_id = fs ? fs->id : 0;
	pf->incremental = incremental;
	if (fs) {
		/* the session's partitions, grouped by topic */
		for (k = 0; k < fs->n; k++) {
			pfetch_part_t *fp = &pf->parts[k];
			memcpy(fp->topic, fs->parts[k].topic, sizeof(fp->topic));
			fp->index = fs->parts[k].index;
			fp->offset = fs->parts[k].offset;
			fp->max_bytes = fs->parts[k].max_bytes;
			fp->sidx = (int32_t)k;
		}
		if (total > 1)
			qsort(pf->parts, total, sizeof(*pf->parts), part_cmp);
		for (k = 0; k < total; k++) {
			pf->parts[k].first_of_topic =
				k == 0 || strcmp(pf->parts[k].topic, pf->parts[k - 1].topic) != 0;
			if (pf->parts[k].first_of_topic)
				pf->ntopics++;
		}
	} else {
		k = 0;
		for (i = 0; i < m->ntopics; i++) {
			const myco__kfetch_topic_t *t = &m->topics[i];
			if (t->npartitions > 0)
				pf->ntopics++;
			for (j = 0; j < t->npartitions; j++, k++) {
				pfetch_part_t *fp = &pf->parts[k];
				if (!myco__ltopic_name(t->topic, fp->topic))
					fp->topic[0] = 0;      /* answered as unknown */
				fp->first_of_topic = j == 0;
				fp->index = t->partitions[j].partition;
				fp->offset = t->partitions[j].fetch_offset;
				fp->max_bytes = t->partitions[j].partition_max_bytes;
				fp->sidx = -1;
			}
		}
	}
	pf->nparts = total;
	pf->req = *req;
	/* rack id is ignored (one broker).  Counted as parked before the
	 * offsets are looked at: an append racing with this look then
	 * wakes this shard (broker.c on_hw). */
	if (max_wait > 0 && pf->min_bytes > 0)
		atomic_fetch_add(&sh->parked, 1);
	if (max_wait <= 0 || pf->min_bytes <= 0 ||
	    fetch_eval(lb, pf, NULL, &errs) >= (size_t)pf->min_bytes || errs) {
		if (max_wait > 0 && pf->min_bytes > 0)
			atomic_fetch_sub(&sh->parked, 1);
		fetch_respond(lb, pf);
		pfetch_free(pf);
		return;
	}
	if (max_wait > 30000)
		max_wait = 30000;
	pf->deadline = myco__lnow_ms() + max_wait;
	pf->next = sh->pfetches;
	sh->pfetches = pf;
}

int64_t myco__lfetch_recheck(myco__lb_t *lb, bool data_moved, int64_t now)
{
	myco__lshard_t *sh = myco__lb_here(lb);
	pfetch_t **pp = &sh->pfetches;
	int64_t next = INT64_MAX;

	while (*pp) {
		pfetch_t *pf = *pp;
		int errs = 0;
		bool go = now >= pf->deadline;

		if (!go && data_moved)
			go = fetch_eval(lb, pf, NULL, &errs) >= (size_t)pf->min_bytes || errs;
		if (go) {
			*pp = pf->next;
			atomic_fetch_sub(&sh->parked, 1);
			fetch_respond(lb, pf);
			pfetch_free(pf);
		} else {
			if (pf->deadline < next)
				next = pf->deadline;
			pp = &pf->next;
		}
	}
	return next;
}

void myco__lfetch_conn_closed(myco__lb_t *lb, myco__lshard_t *sh, myco__lc_t *c)
{
	pfetch_t **pp = &sh->pfetches;

	(void)lb;
	while (*pp) {
		if ((*pp)->req.conn == c) {
			pfetch_t *pf = *pp;
			*pp = pf->next;
			atomic_fetch_sub(&sh->parked, 1);
			pfetch_free(pf);
		} else {
			pp = &(*pp)->next;
		}
	}
}

void myco__lfetch_free_all(myco__lb_t *lb, myco__lshard_t *sh)
{
	pfetch_t *pf, *pn;

	if (sh->idx == 0)
		while (lb->fsess)
			fsess_drop(lb, lb->fsess);

	for (pf = sh->pfetches; pf; pf = pn) {
		pn = pf->next;
		pfetch_free(pf);
	}
	sh->pfetches = NULL;
	atomic_store(&sh->parked, 0);
}

unsigned myco__lfetch_route(myco__lb_t *lb, const myco__lreq_t *req, const myco__kfetch_t *m)
{
	unsigned here = myco__lb_here(lb)->idx, o = UINT32_MAX;

	if (lb->nsh <= 1)
		return 0;
	if (req->ver >= 7 && (m->session_id != 0 || m->session_epoch == 0))
		return 0;                      /* sessions live on shard 0 */
	for (int32_t i = 0; i < m->ntopics; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		if (!myco__ltopic_name(m->topics[i].topic, name))
			continue;
		for (int32_t j = 0; j < m->topics[i].npartitions; j++) {
			unsigned w = myco__lb_owner(lb, name, m->topics[i].partitions[j].partition);
			if (o == UINT32_MAX)
				o = w;
			else if (o != w)
				return here;   /* several owners: served where it came in */
		}
	}
	return o == UINT32_MAX ? here : o;
}
