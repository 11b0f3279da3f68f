/*
 * txn.c: myco-log's transaction coordinator (exactly-once producers):
 * InitProducerId with a transactional id (producer id per transactional
 * id, epoch bumped on every init: the previous instance is fenced),
 * AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn, the
 * transaction timeout, and the coordinator's state log DATA/txn_state that
 * survives kill -9.
 *
 * A transaction goes Empty -> Ongoing (first AddPartitions/AddOffsets) ->
 * PrepareCommit/PrepareAbort (EndTxn, or the timeout: abort) ->
 * CompleteCommit/CompleteAbort.  Every state change is written to the
 * state log (fdatasync'd with --fsync always) before it is answered.  The
 * Prepare record is the decision: then a marker (control batch) is
 * appended to every partition of the transaction; once all markers are
 * readable (each partition's high watermark is past its marker) the
 * offsets given by TxnOffsetCommit are committed to their groups (on
 * commit) and Complete is written.  After a crash a Prepare state found in
 * the log is finished the same way (markers written again: a second
 * marker for a closed transaction changes nothing), an Ongoing one is
 * aborted when its timeout passes.
 *
 * Not for: partition transaction state (store/txnstate.c: last stable
 * offset, aborted transactions), Produce and Fetch (produce.c, fetch.c).
 * Everything runs on the broker's loop thread.
 */
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "myco_int.h"

enum { TX_EMPTY, TX_ONGOING, TX_PREPARE_COMMIT, TX_PREPARE_ABORT, TX_COMPLETE_COMMIT,
       TX_COMPLETE_ABORT, TX_DEAD };

enum {
	KERR_INVALID_TXN_STATE = 48, KERR_INVALID_PRODUCER_ID_MAPPING = 49,
	KERR_INVALID_TRANSACTION_TIMEOUT = 50, KERR_CONCURRENT_TRANSACTIONS = 51,
	KERR_OPERATION_NOT_ATTEMPTED = 55,
};

#define TXN_MAX_TIMEOUT_MS 900000      /* Kafka's transaction.max.timeout.ms */
#define TXN_FILE "txn_state"
#define TXN_MAGIC "MLSTXN01"
#define MARKER_NONE (-2)

typedef struct {
	char *topic;
	int32_t partition;
	int64_t marker;                 /* offset of its marker, -1 not written,
	                                 * MARKER_NONE none needed */
} tpart_t;

typedef struct {
	char *group, *topic, *metadata;
	int32_t partition, leader_epoch, mdlen;
	int64_t offset;
} toff_t;

typedef struct txn {
	struct txn *next;
	char *id;
	int64_t pid;
	int16_t epoch;
	int32_t timeout_ms;
	int state;
	int64_t started;                /* monotonic ms, Ongoing since */
	tpart_t *parts; size_t nparts;
	char **groups; size_t ngroups;
	toff_t *offs; size_t noffs;
} txn_t;

struct myco__ltxns {
	mls_store_t *st;
	const myco__lcfg_t *cfg;
	txn_t *txns;
	int fd;                         /* DATA/txn_state, O_APPEND */
	size_t nrecords;                /* records written since the last rewrite */
};

static char *kdup(myco__kstr_t s)
{
	size_t l = s.len > 0 ? (size_t)s.len : 0;
	char *p = malloc(l + 1);
	if (p) {
		if (l)
			memcpy(p, s.p, l);
		p[l] = 0;
	}
	return p;
}

static bool keq(myco__kstr_t s, const char *c)
{
	size_t l = strlen(c);
	return s.p && s.len >= 0 && (size_t)s.len == l && memcmp(s.p, c, l) == 0;
}

static void txn_clear_lists(txn_t *t)
{
	for (size_t i = 0; i < t->nparts; i++)
		free(t->parts[i].topic);
	for (size_t i = 0; i < t->ngroups; i++)
		free(t->groups[i]);
	for (size_t i = 0; i < t->noffs; i++) {
		free(t->offs[i].group);
		free(t->offs[i].topic);
		free(t->offs[i].metadata);
	}
	free(t->parts);
	free(t->groups);
	free(t->offs);
	t->parts = NULL;
	t->groups = NULL;
	t->offs = NULL;
	t->nparts = t->ngroups = t->noffs = 0;
}

static void txn_free(txn_t *t)
{
	txn_clear_lists(t);
	free(t->id);
	free(t);
}

static txn_t *txn_find(myco__ltxns_t *tx, myco__kstr_t id)
{
	for (txn_t *t = tx->txns; t; t = t->next)
		if (keq(id, t->id))
			return t;
	return NULL;
}

/* ---- the state log ------------------------------------------------------ */

/* One record: the whole state of one transactional id. */
static void encode(myco__kwr_t *w, const txn_t *t)
{
	myco__kwr_str(w, false, t->id);
	myco__kwr_i64(w, t->pid);
	myco__kwr_i16(w, t->epoch);
	myco__kwr_i32(w, t->timeout_ms);
	myco__kwr_i8(w, (int8_t)t->state);
	myco__kwr_i32(w, (int32_t)t->nparts);
	for (size_t i = 0; i < t->nparts; i++) {
		myco__kwr_str(w, false, t->parts[i].topic);
		myco__kwr_i32(w, t->parts[i].partition);
	}
	myco__kwr_i32(w, (int32_t)t->ngroups);
	for (size_t i = 0; i < t->ngroups; i++)
		myco__kwr_str(w, false, t->groups[i]);
	myco__kwr_i32(w, (int32_t)t->noffs);
	for (size_t i = 0; i < t->noffs; i++) {
		const toff_t *o = &t->offs[i];
		myco__kwr_str(w, false, o->group);
		myco__kwr_str(w, false, o->topic);
		myco__kwr_i32(w, o->partition);
		myco__kwr_i64(w, o->offset);
		myco__kwr_i32(w, o->leader_epoch);
		myco__kwr_bytes(w, false, o->metadata, o->mdlen);
	}
}

/* Decode one record into a new txn_t; NULL when malformed or no memory. */
static txn_t *decode(const uint8_t *p, size_t n)
{
	myco__krd_t r;
	txn_t *t = calloc(1, sizeof(*t));
	int32_t k;

	if (!t)
		return NULL;
	myco__krd_init(&r, p, n);
	t->id = kdup(myco__krd_str(&r, false));
	t->pid = myco__krd_i64(&r);
	t->epoch = myco__krd_i16(&r);
	t->timeout_ms = myco__krd_i32(&r);
	t->state = myco__krd_i8(&r);
	k = myco__krd_i32(&r);
	if (r.err || !t->id || !t->id[0] || k < 0 || (size_t)k > myco__krd_left(&r) / 6 ||
	    t->state < TX_EMPTY || t->state > TX_DEAD)
		goto bad;
	if (k && !(t->parts = calloc((size_t)k, sizeof(*t->parts))))
		goto bad;
	for (; t->nparts < (size_t)k && !r.err; t->nparts++) {
		t->parts[t->nparts].topic = kdup(myco__krd_str(&r, false));
		t->parts[t->nparts].partition = myco__krd_i32(&r);
		t->parts[t->nparts].marker = -1;
		if (!t->parts[t->nparts].topic)
			goto bad;
	}
	k = myco__krd_i32(&r);
	if (r.err || k < 0 || (size_t)k > myco__krd_left(&r) / 2)
		goto bad;
	if (k && !(t->groups = calloc((size_t)k, sizeof(*t->groups))))
		goto bad;
	for (; t->ngroups < (size_t)k && !r.err; t->ngroups++)
		if (!(t->groups[t->ngroups] = kdup(myco__krd_str(&r, false))))
			goto bad;
	k = myco__krd_i32(&r);
	if (r.err || k < 0 || (size_t)k > myco__krd_left(&r) / 24)
		goto bad;
	if (k && !(t->offs = calloc((size_t)k, sizeof(*t->offs))))
		goto bad;
	for (; t->noffs < (size_t)k && !r.err; t->noffs++) {
		toff_t *o = &t->offs[t->noffs];
		myco__kstr_t md;
		o->group = kdup(myco__krd_str(&r, false));
		o->topic = kdup(myco__krd_str(&r, false));
		o->partition = myco__krd_i32(&r);
		o->offset = myco__krd_i64(&r);
		o->leader_epoch = myco__krd_i32(&r);
		md = myco__krd_bytes(&r, false);
		o->mdlen = md.len > 0 ? md.len : 0;
		o->metadata = kdup(md);
		if (!o->group || !o->topic || !o->metadata)
			goto bad;
	}
	if (r.err || myco__krd_left(&r) != 0)
		goto bad;
	return t;
bad:
	txn_free(t);
	return NULL;
}

/* Append one framed record ([u32 len][u32 crc32c][payload], big-endian)
 * to fd; fdatasync'd when sync. */
static int write_record(int fd, const txn_t *t, bool sync)
{
	myco__kwr_t w;
	uint8_t hdr[8];
	int rc;

	myco__kwr_init(&w);
	encode(&w, t);
	if (w.err) {
		myco__kwr_free(&w);
		return -ENOMEM;
	}
	hdr[0] = (uint8_t)(w.len >> 24); hdr[1] = (uint8_t)(w.len >> 16);
	hdr[2] = (uint8_t)(w.len >> 8); hdr[3] = (uint8_t)w.len;
	uint32_t c = mls_crc32c(0, w.buf, w.len);
	hdr[4] = (uint8_t)(c >> 24); hdr[5] = (uint8_t)(c >> 16);
	hdr[6] = (uint8_t)(c >> 8); hdr[7] = (uint8_t)c;
	rc = myco__write_full(fd, hdr, sizeof(hdr));
	if (rc == 0)
		rc = myco__write_full(fd, w.buf, w.len);
	myco__kwr_free(&w);
	if (rc == 0 && sync && fdatasync(fd) < 0)
		rc = -errno;
	return rc;
}

/* Write t's state; sync: fdatasync'd with --fsync always (a Complete
 * record is not: if a crash loses it, the Prepare before it is finished
 * again, and any later synced record makes it durable too). */
static int persist_sync(myco__ltxns_t *tx, const txn_t *t, bool sync)
{
	int rc = write_record(tx->fd, t, sync && tx->cfg->fsync_mode == MLS_FSYNC_ALWAYS);
	if (rc < 0)
		fprintf(stderr, "myco-log: transaction state of %s not written: %s\n", t->id,
			strerror(-rc));
	tx->nrecords++;
	return rc;
}

static int persist(myco__ltxns_t *tx, const txn_t *t)
{
	return persist_sync(tx, t, true);
}

/* Rewrite the state file with one record per transactional id (temporary
 * file, fsync, rename, directory fsync), then keep it open for appends. */
static int rewrite(myco__ltxns_t *tx)
{
	char path[4096], tmp[4200];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", tx->cfg->data_dir, TXN_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = myco__write_full(fd, TXN_MAGIC, 8);
	for (txn_t *t = tx->txns; t && rc == 0; t = t->next)
		rc = write_record(fd, t, false);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	{
		int dfd = open(tx->cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	if (tx->fd >= 0)
		close(tx->fd);
	tx->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	tx->nrecords = 0;
	return tx->fd < 0 ? -errno : 0;
}

/* Load the state file: records up to the first torn or bad one, the last
 * record of each id winning. */
static int load(myco__ltxns_t *tx)
{
	char path[4096];
	uint8_t *buf = NULL;
	off_t sz;
	size_t at = 8;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", tx->cfg->data_dir, TXN_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	sz = lseek(fd, 0, SEEK_END);
	if (sz < 8 || sz > (1 << 30)) {
		close(fd);
		return sz < 8 ? 0 : -EFBIG;
	}
	buf = malloc((size_t)sz);
	if (!buf || pread(fd, buf, (size_t)sz, 0) != sz) {
		rc = buf ? -EIO : -ENOMEM;
		goto out;
	}
	if (memcmp(buf, TXN_MAGIC, 8) != 0) {
		rc = -MYCO_ELOG_CORRUPT;
		goto out;
	}
	while (at + 8 <= (size_t)sz) {
		uint32_t len = (uint32_t)buf[at] << 24 | (uint32_t)buf[at + 1] << 16 |
			       (uint32_t)buf[at + 2] << 8 | buf[at + 3];
		uint32_t crc = (uint32_t)buf[at + 4] << 24 | (uint32_t)buf[at + 5] << 16 |
			       (uint32_t)buf[at + 6] << 8 | buf[at + 7];
		txn_t *t, **pp;
		if (len > (size_t)sz - at - 8 || mls_crc32c(0, buf + at + 8, len) != crc)
			break;          /* torn tail: the write was never answered */
		t = decode(buf + at + 8, len);
		if (!t)
			break;
		at += 8 + len;
		for (pp = &tx->txns; *pp && strcmp((*pp)->id, t->id); pp = &(*pp)->next)
			;
		if (*pp) {
			t->next = (*pp)->next;
			txn_free(*pp);
		}
		*pp = t;
	}
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- markers and completion -------------------------------------------- */

/* Append the decision's marker to every partition that has none yet. */
static void write_markers(myco__ltxns_t *tx, txn_t *t)
{
	bool commit = t->state == TX_PREPARE_COMMIT;

	for (size_t i = 0; i < t->nparts; i++) {
		tpart_t *tp = &t->parts[i];
		mls_partition_t *p = NULL;
		mls_append_result res;
		int rc;

		if (tp->marker != -1)
			continue;
		rc = mls_partition_get(tx->st, tp->topic, tp->partition, &p);
		if (rc < 0) {
			/* the topic was deleted: nothing to close there */
			tp->marker = MARKER_NONE;
			continue;
		}
		rc = mls_append_marker(p, t->pid, t->epoch, commit, 0, &res, NULL, NULL);
		mls_partition_put(p);
		if (rc < 0) {
			if (rc == -MYCO_ELOG_FENCED) {
				tp->marker = MARKER_NONE; /* a newer epoch closed it */
				continue;
			}
			fprintf(stderr, "myco-log: marker for %s[%d] of %s not written: %s "
				"(retried)\n", tp->topic, tp->partition, t->id, myco_strerror(rc));
			continue;
		}
		tp->marker = res.base_offset;
	}
}

/* Prepare*: every marker readable?  Then commit the offsets (on commit)
 * and write Complete. */
static void try_complete(myco__ltxns_t *tx, txn_t *t)
{
	bool commit = t->state == TX_PREPARE_COMMIT;

	if (t->state != TX_PREPARE_COMMIT && t->state != TX_PREPARE_ABORT)
		return;
	write_markers(tx, t);
	for (size_t i = 0; i < t->nparts; i++) {
		tpart_t *tp = &t->parts[i];
		mls_partition_t *p = NULL;
		mls_offsets o;
		if (tp->marker == MARKER_NONE)
			continue;
		if (tp->marker < 0)
			return;
		if (mls_partition_get(tx->st, tp->topic, tp->partition, &p) < 0)
			continue;
		(void)mls_partition_offsets(p, &o);
		mls_partition_put(p);
		if (o.high_watermark <= tp->marker)
			return;
	}
	if (commit) {
		for (size_t i = 0; i < t->noffs; i++) {
			toff_t *o = &t->offs[i];
			mls_group_offset go = { o->topic, o->partition, o->leader_epoch, o->offset,
						o->metadata, (size_t)o->mdlen };
			if (o->mdlen == 0)
				go.metadata = NULL;
			if (mls_group_commit(tx->st, o->group, &go, 1) < 0)
				return;         /* retried on the next tick */
		}
	}
	t->state = commit ? TX_COMPLETE_COMMIT : TX_COMPLETE_ABORT;
	txn_clear_lists(t);
	(void)persist_sync(tx, t, false);
	if (tx->cfg->verbose)
		fprintf(stderr, "myco-log: transaction %s (producer %lld epoch %d) %s\n", t->id,
			(long long)t->pid, t->epoch, commit ? "committed" : "aborted");
}

/* Decide: Ongoing -> Prepare*, written durably, markers appended. */
static int prepare(myco__ltxns_t *tx, txn_t *t, bool commit)
{
	int rc;

	t->state = commit ? TX_PREPARE_COMMIT : TX_PREPARE_ABORT;
	for (size_t i = 0; i < t->nparts; i++)
		t->parts[i].marker = -1;
	rc = persist(tx, t);
	if (rc < 0)
		return rc;
	try_complete(tx, t);
	return 0;
}

/* Abort an Ongoing transaction and fence its producer (epoch + 1), as
 * Kafka does on a timeout or when a new instance initialises. */
static void abort_fencing(myco__ltxns_t *tx, txn_t *t, const char *why)
{
	if (t->epoch < INT16_MAX - 1)
		t->epoch++;
	if (tx->cfg->verbose)
		fprintf(stderr, "myco-log: transaction %s aborted (%s), producer epoch now %d\n",
			t->id, why, t->epoch);
	(void)prepare(tx, t, false);
}

/* ---- lifetime ------------------------------------------------------------ */

int myco__ltxns_open(mls_store_t *st, const myco__lcfg_t *cfg, myco__ltxns_t **out)
{
	myco__ltxns_t *tx = calloc(1, sizeof(*tx));
	int64_t now = myco__lnow_ms();
	int rc;

	if (!tx)
		return -ENOMEM;
	tx->st = st;
	tx->cfg = cfg;
	tx->fd = -1;
	rc = load(tx);
	if (rc == 0)
		rc = rewrite(tx);
	if (rc < 0) {
		myco__ltxns_free(tx);
		return rc;
	}
	for (txn_t *t = tx->txns; t; t = t->next) {
		t->started = now;   /* Ongoing: the timeout runs again */
		try_complete(tx, t); /* Prepare*: finish the decision */
	}
	*out = tx;
	return 0;
}

void myco__ltxns_free(myco__ltxns_t *tx)
{
	if (!tx)
		return;
	while (tx->txns) {
		txn_t *t = tx->txns;
		tx->txns = t->next;
		txn_free(t);
	}
	if (tx->fd >= 0)
		close(tx->fd);
	free(tx);
}

int myco__ltxns_tick(myco__ltxns_t *tx, int64_t now)
{
	int64_t next = 1000;

	for (txn_t *t = tx->txns; t; t = t->next) {
		if (t->state == TX_ONGOING) {
			int64_t left = t->started + t->timeout_ms - now;
			if (left <= 0)
				abort_fencing(tx, t, "transaction timeout");
			else if (left < next)
				next = left;
		}
		if (t->state == TX_PREPARE_COMMIT || t->state == TX_PREPARE_ABORT) {
			try_complete(tx, t);
			if (t->state == TX_PREPARE_COMMIT || t->state == TX_PREPARE_ABORT)
				next = 10;      /* a marker waits for its fsync */
		}
	}
	if (tx->nrecords > 10000)
		(void)rewrite(tx);
	return (int)next;
}

/* ---- checks shared by the handlers ---------------------------------------- */

/* The transaction named by a request, with its producer checked. */
static int16_t txn_check(myco__ltxns_t *tx, const myco__ktxn_producer_t *p, txn_t **out)
{
	txn_t *t = txn_find(tx, p->transactional_id);

	*out = t;
	if (!t || t->pid != p->producer_id)
		return KERR_INVALID_PRODUCER_ID_MAPPING;
	if (p->producer_epoch != t->epoch)
		return KERR_INVALID_PRODUCER_EPOCH;
	try_complete(tx, t);
	if (t->state == TX_PREPARE_COMMIT || t->state == TX_PREPARE_ABORT)
		return KERR_CONCURRENT_TRANSACTIONS;
	return 0;
}

/* Make t Ongoing (a new transaction starts with its first partition or
 * group). */
static void begin(txn_t *t)
{
	if (t->state != TX_ONGOING) {
		txn_clear_lists(t);
		t->state = TX_ONGOING;
		t->started = myco__lnow_ms();
	}
}

static bool has_part(const txn_t *t, const char *topic, int32_t part)
{
	for (size_t i = 0; i < t->nparts; i++)
		if (t->parts[i].partition == part && !strcmp(t->parts[i].topic, topic))
			return true;
	return false;
}

int16_t myco__ltxn_init(myco__ltxns_t *tx, const myco__kinit_producer_id_t *m, int64_t *pid,
			int16_t *epoch)
{
	txn_t *t = txn_find(tx, m->transactional_id);
	bool fresh = false;

	if (m->transaction_timeout_ms <= 0 || m->transaction_timeout_ms > TXN_MAX_TIMEOUT_MS)
		return KERR_INVALID_TRANSACTION_TIMEOUT;
	if (t && m->producer_id >= 0 && (m->producer_id != t->pid || m->producer_epoch != t->epoch))
		return KERR_INVALID_PRODUCER_EPOCH;  /* KIP-360: only the current one */
	if (!t) {
		if (!(t = calloc(1, sizeof(*t))) || !(t->id = kdup(m->transactional_id))) {
			free(t);
			return KERR_UNKNOWN_SERVER_ERROR;
		}
		if (mls_producer_id_alloc(tx->st, &t->pid) < 0) {
			txn_free(t);
			return KERR_UNKNOWN_SERVER_ERROR;
		}
		t->epoch = -1;
		t->state = TX_EMPTY;
		fresh = true;
	} else {
		try_complete(tx, t);
		if (t->state == TX_ONGOING) {
			/* the previous instance's transaction: aborted, and it is
			 * fenced; the new one retries until the markers are in */
			abort_fencing(tx, t, "a new producer instance initialised");
		}
		if (t->state == TX_PREPARE_COMMIT || t->state == TX_PREPARE_ABORT)
			return KERR_CONCURRENT_TRANSACTIONS;
	}
	if (t->epoch >= INT16_MAX - 1) {
		/* epochs exhausted: a new producer id, as Kafka does */
		if (mls_producer_id_alloc(tx->st, &t->pid) < 0)
			return KERR_UNKNOWN_SERVER_ERROR;
		t->epoch = -1;
	}
	t->epoch++;
	t->timeout_ms = m->transaction_timeout_ms;
	if (t->state != TX_EMPTY)
		t->state = TX_EMPTY;
	txn_clear_lists(t);
	if (persist(tx, t) < 0) {
		if (fresh)
			txn_free(t);
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (fresh) {
		t->next = tx->txns;
		tx->txns = t;
	}
	if (tx->cfg->verbose)
		fprintf(stderr, "myco-log: transactional id %s: producer %lld epoch %d\n", t->id,
			(long long)t->pid, t->epoch);
	*pid = t->pid;
	*epoch = t->epoch;
	return 0;
}

int16_t myco__ltxn_produce_check(myco__ltxns_t *tx, myco__kstr_t txn_id, int64_t pid,
				 int16_t epoch, const char *topic, int32_t part)
{
	txn_t *t = txn_find(tx, txn_id);

	if (!t || t->pid != pid)
		return KERR_INVALID_PRODUCER_ID_MAPPING;
	if (epoch != t->epoch)
		return KERR_INVALID_PRODUCER_EPOCH;
	if (t->state != TX_ONGOING || !has_part(t, topic, part))
		return KERR_INVALID_TXN_STATE;
	return 0;
}

bool myco__ltxn_offset_pending(void *arg, const char *group, const char *topic, int32_t part)
{
	myco__ltxns_t *tx = arg;

	for (txn_t *t = tx->txns; t; t = t->next)
		for (size_t i = 0; i < t->noffs; i++)
			if (t->offs[i].partition == part && !strcmp(t->offs[i].group, group) &&
			    !strcmp(t->offs[i].topic, topic))
				return true;
	return false;
}

/* ---- handlers ------------------------------------------------------------ */

void myco__lh_add_partitions_to_txn(myco__ltxns_t *tx, myco__lreq_t *req,
				    const myco__kadd_partitions_to_txn_t *m)
{
	bool f = req->flex;
	txn_t *t;
	int16_t err = txn_check(tx, &m->txn, &t);
	int16_t *perr = NULL;
	size_t total = 0, k;
	bool bad = false, added = false;
	myco__kwr_t w;
	int32_t i, j;

	for (i = 0; i < m->ntopics; i++)
		total += m->topics[i].npartitions > 0 ? (size_t)m->topics[i].npartitions : 0;
	if (total && !(perr = calloc(total, sizeof(*perr)))) {
		myco__lc_abort(req->conn);
		return;
	}
	/* every partition must exist, or none is added (as Kafka) */
	for (i = 0, k = 0; i < m->ntopics; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		bool ok = myco__ltopic_name(m->topics[i].name, name);
		for (j = 0; j < m->topics[i].npartitions; j++, k++) {
			mls_partition_t *p = NULL;
			if (!ok || mls_partition_get(tx->st, name, m->topics[i].partitions[j], &p) < 0) {
				perr[k] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
				bad = true;
			} else {
				mls_partition_put(p);
			}
		}
	}
	if (!err && !bad) {
		begin(t);
		for (i = 0; i < m->ntopics && !err; i++) {
			char name[MLS_TOPIC_NAME_MAX + 1];
			(void)myco__ltopic_name(m->topics[i].name, name);
			for (j = 0; j < m->topics[i].npartitions; j++) {
				int32_t part = m->topics[i].partitions[j];
				tpart_t *n;
				if (has_part(t, name, part))
					continue;
				n = realloc(t->parts, (t->nparts + 1) * sizeof(*n));
				if (!n || !(n[t->nparts].topic = strdup(name))) {
					if (n)
						t->parts = n;
					err = KERR_UNKNOWN_SERVER_ERROR;
					break;
				}
				t->parts = n;
				n[t->nparts].partition = part;
				n[t->nparts].marker = -1;
				t->nparts++;
				added = true;
			}
		}
		if (!err && added && persist(tx, t) < 0)
			err = KERR_UNKNOWN_SERVER_ERROR;
	}
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics);
	for (i = 0, k = 0; i < m->ntopics; i++) {
		const myco__ktxn_topic_t *tt = &m->topics[i];
		myco__kwr_strn(&w, f, tt->name.p, tt->name.len < 0 ? 0 : tt->name.len);
		myco__kwr_array(&w, f, tt->npartitions);
		for (j = 0; j < tt->npartitions; j++, k++) {
			myco__kwr_i32(&w, tt->partitions[j]);
			myco__kwr_i16(&w, err ? err : perr[k] ? perr[k]
					  : bad ? KERR_OPERATION_NOT_ATTEMPTED : 0);
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
	free(perr);
}

void myco__lh_add_offsets_to_txn(myco__ltxns_t *tx, myco__lreq_t *req,
				 const myco__kadd_offsets_to_txn_t *m)
{
	txn_t *t;
	int16_t err = txn_check(tx, &m->txn, &t);
	myco__kwr_t w;

	if (!err && (!m->group_id.p || m->group_id.len <= 0))
		err = KERR_INVALID_GROUP_ID;
	if (!err) {
		bool have = false;
		begin(t);
		for (size_t i = 0; i < t->ngroups && !have; i++)
			have = keq(m->group_id, t->groups[i]);
		if (!have) {
			char **n = realloc(t->groups, (t->ngroups + 1) * sizeof(*n));
			if (!n || !(n[t->ngroups] = kdup(m->group_id))) {
				if (n)
					t->groups = n;
				err = KERR_UNKNOWN_SERVER_ERROR;
			} else {
				t->groups = n;
				t->ngroups++;
				if (persist(tx, t) < 0)
					err = KERR_UNKNOWN_SERVER_ERROR;
			}
		}
	}
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

void myco__lh_txn_offset_commit(myco__ltxns_t *tx, myco__lreq_t *req,
				const myco__ktxn_offset_commit_t *m)
{
	bool f = req->flex;
	txn_t *t;
	int16_t err = txn_check(tx, &m->txn, &t);
	myco__kwr_t w;
	int32_t i, j;

	if (!err) {
		bool have = false;
		for (size_t g = 0; g < t->ngroups && !have; g++)
			have = keq(m->group_id, t->groups[g]);
		if (t->state != TX_ONGOING || !have)
			err = KERR_INVALID_TXN_STATE;  /* AddOffsetsToTxn first */
	}
	for (i = 0; i < m->ntopics && !err; i++) {
		const myco__koffset_commit_topic_t *tt = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		if (!myco__ltopic_name(tt->name, name))
			continue;
		for (j = 0; j < tt->npartitions && !err; j++) {
			const myco__koffset_commit_partition_t *pp = &tt->partitions[j];
			toff_t *o = NULL;
			for (size_t x = 0; x < t->noffs && !o; x++)
				if (t->offs[x].partition == pp->partition_index &&
				    keq(m->group_id, t->offs[x].group) && !strcmp(t->offs[x].topic, name))
					o = &t->offs[x];
			if (!o) {
				toff_t *n = realloc(t->offs, (t->noffs + 1) * sizeof(*n));
				if (!n) {
					err = KERR_UNKNOWN_SERVER_ERROR;
					break;
				}
				t->offs = n;
				o = &n[t->noffs];
				memset(o, 0, sizeof(*o));
				o->group = kdup(m->group_id);
				o->topic = strdup(name);
				o->partition = pp->partition_index;
				t->noffs++;
				if (!o->group || !o->topic) {
					err = KERR_UNKNOWN_SERVER_ERROR;
					break;
				}
			}
			free(o->metadata);
			o->metadata = kdup(pp->committed_metadata);
			o->mdlen = pp->committed_metadata.len > 0 ? pp->committed_metadata.len : 0;
			o->offset = pp->committed_offset;
			o->leader_epoch = pp->committed_leader_epoch;
			if (!o->metadata)
				err = KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	if (!err && persist(tx, t) < 0)
		err = KERR_UNKNOWN_SERVER_ERROR;
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics);
	for (i = 0; i < m->ntopics; i++) {
		const myco__koffset_commit_topic_t *tt = &m->topics[i];
		myco__kwr_strn(&w, f, tt->name.p, tt->name.len < 0 ? 0 : tt->name.len);
		myco__kwr_array(&w, f, tt->npartitions);
		for (j = 0; j < tt->npartitions; j++) {
			myco__kwr_i32(&w, tt->partitions[j].partition_index);
			myco__kwr_i16(&w, err);
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

void myco__lh_end_txn(myco__ltxns_t *tx, myco__lreq_t *req, const myco__kend_txn_t *m)
{
	txn_t *t = txn_find(tx, m->txn.transactional_id);
	int16_t err = 0;
	myco__kwr_t w;

	if (!t || t->pid != m->txn.producer_id)
		err = KERR_INVALID_PRODUCER_ID_MAPPING;
	else if (m->txn.producer_epoch != t->epoch)
		err = KERR_INVALID_PRODUCER_EPOCH;
	if (!err) {
		try_complete(tx, t);
		switch (t->state) {
		case TX_ONGOING:
			if (prepare(tx, t, m->committed) < 0)
				err = KERR_UNKNOWN_SERVER_ERROR;
			break;
		case TX_PREPARE_COMMIT:
			err = m->committed ? KERR_CONCURRENT_TRANSACTIONS : KERR_INVALID_TXN_STATE;
			break;
		case TX_PREPARE_ABORT:
			err = !m->committed ? KERR_CONCURRENT_TRANSACTIONS : KERR_INVALID_TXN_STATE;
			break;
		case TX_COMPLETE_COMMIT:   /* a retry of the one that succeeded */
			err = m->committed ? 0 : KERR_INVALID_TXN_STATE;
			break;
		case TX_COMPLETE_ABORT:
			err = !m->committed ? 0 : KERR_INVALID_TXN_STATE;
			break;
		default:
			err = KERR_INVALID_TXN_STATE;
			break;
		}
	}
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}
