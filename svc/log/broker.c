/*
 * broker.c: myco-log's request dispatch and the data-path Kafka APIs:
 * ApiVersions, Metadata, CreateTopics, Produce, Fetch (long polling),
 * ListOffsets, InitProducerId, plus the "unsupported version" answers.
 * Group APIs live in group.c, sockets in net.c.  Not for: storage formats
 * (store/), connection handling.
 *
 * Everything here runs on the broker's loop thread.  The store's callbacks
 * (append durable, high watermark moved) may run on the store's sync thread:
 * they only queue work under lb->mu and poke lb->wakefd; the loop thread
 * picks it up in myco__lb_tick().
 */
#include "log_int.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

const myco__lapi_t myco__lapis[] = {
	{ KAPI_PRODUCE, 3, 7, 9 },
	{ KAPI_FETCH, 4, 11, 12 },
	{ KAPI_LIST_OFFSETS, 0, 5, 6 },
	{ KAPI_METADATA, 0, 8, 9 },
	{ KAPI_OFFSET_COMMIT, 0, 7, 8 },
	{ KAPI_OFFSET_FETCH, 0, 7, 6 },
	{ KAPI_FIND_COORDINATOR, 0, 2, 3 },
	{ KAPI_JOIN_GROUP, 0, 5, 6 },
	{ KAPI_HEARTBEAT, 0, 3, 4 },
	{ KAPI_LEAVE_GROUP, 0, 2, 4 },
	{ KAPI_SYNC_GROUP, 0, 3, 4 },
	{ KAPI_API_VERSIONS, 0, 3, 3 },
	{ KAPI_CREATE_TOPICS, 0, 4, 5 },
	{ KAPI_INIT_PRODUCER_ID, 0, 4, 2 },
};
const int myco__nlapis = (int)(sizeof(myco__lapis) / sizeof(myco__lapis[0]));

const myco__lapi_t *myco__lapi_find(int16_t key)
{
	int i;
	for (i = 0; i < myco__nlapis; i++)
		if (myco__lapis[i].key == key)
			return &myco__lapis[i];
	return NULL;
}

/* One partition of a Produce request. */
typedef struct {
	myco__kstr_t topic;
	int32_t index;
	int16_t err;
	int64_t base, lat, lso;
	int pending;          /* async appends not yet durable */
} pprod_part_t;

/* A Produce request waiting for fsync (policy ALWAYS). */
typedef struct pprod {
	struct pprod *next;
	myco__lb_t *lb;
	myco__lreq_t req;     /* req.conn NULL once the connection closed */
	int acks;
	int pending;
	size_t nparts;
	pprod_part_t *parts;
	uint8_t *frame;       /* copies of the topic names (parts point here) */
} pprod_t;

/* One async append completion handed from the sync thread. */
typedef struct acomp {
	struct acomp *next;
	pprod_t *pp;
	size_t part;
	int rc;
} acomp_t;

/* One partition of a parked Fetch. */
typedef struct {
	char topic[MLS_TOPIC_NAME_MAX + 1];
	int32_t index;
	int64_t offset;
	int32_t max_bytes;
	bool first_of_topic;  /* starts a new topic entry in the response */
} pfetch_part_t;

typedef struct pfetch {
	struct pfetch *next;
	myco__lreq_t req;
	int64_t deadline;
	int32_t min_bytes, max_bytes;
	size_t nparts, ntopics;
	pfetch_part_t *parts;
} pfetch_t;

struct myco__lb {
	myco__lcfg_t cfg;
	mls_store_t *st;
	myco__lgroups_t *groups;
	pthread_t loop_thread;
	int wakefd;
	pthread_mutex_t mu;      /* guards done list */
	acomp_t *done_head, *done_tail;
	atomic_int hw_moved;
	pprod_t *pprods;         /* waiting produce requests */
	pfetch_t *pfetches;      /* parked fetches */
	long nproduce;           /* produce requests seen (test fault) */
	uint64_t seen[64];       /* --verbose: versions seen per api key */
};

int64_t myco__lnow_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const myco__lcfg_t *myco__lb_cfg(const myco__lb_t *lb)
{
	return &lb->cfg;
}

mls_store_t *myco__lb_store(myco__lb_t *lb);
mls_store_t *myco__lb_store(myco__lb_t *lb)
{
	return lb->st;
}

int myco__lb_wakefd(const myco__lb_t *lb);
int myco__lb_wakefd(const myco__lb_t *lb)
{
	return lb->wakefd;
}

static void poke(myco__lb_t *lb)
{
	uint64_t one = 1;
	ssize_t n = write(lb->wakefd, &one, sizeof(one));
	(void)n;
}

static void on_hw(void *arg, const char *topic, int32_t partition, int64_t hw)
{
	myco__lb_t *lb = arg;
	(void)topic;
	(void)partition;
	(void)hw;
	/* On the loop thread (appends with fsync interval/never run there)
	 * the Produce handler rechecks parked fetches itself once it is done
	 * (h_produce); from the store's sync thread the eventfd makes the
	 * loop run the tick that does it.  One write per burst: the flag
	 * stays set until it is consumed. */
	if (atomic_exchange(&lb->hw_moved, 1) == 0 &&
	    !pthread_equal(pthread_self(), lb->loop_thread))
		poke(lb);
}

/* Map a store error to a Kafka error code. */
static int16_t kerr_of(int rc)
{
	switch (-rc) {
	case 0: return KERR_NONE;
	case MYCO_ELOG_CORRUPT: return KERR_CORRUPT_MESSAGE;
	case MYCO_ELOG_INVALID_RECORD: return KERR_INVALID_RECORD;
	case MYCO_ELOG_TOO_LARGE: return KERR_MESSAGE_TOO_LARGE;
	case MYCO_ELOG_OUT_OF_ORDER: return KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case MYCO_ELOG_FENCED: return KERR_INVALID_PRODUCER_EPOCH;
	case MYCO_ELOG_OFFSET_RANGE: return KERR_OFFSET_OUT_OF_RANGE;
	case MYCO_ELOG_NO_TOPIC: return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	case MYCO_ELOG_TOPIC_EXISTS: return KERR_TOPIC_ALREADY_EXISTS;
	case MYCO_ELOG_BAD_TOPIC: return KERR_INVALID_TOPIC_EXCEPTION;
	case EOPNOTSUPP: return KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	case EINVAL: return KERR_INVALID_REQUEST;
	case ENOSPC: case EIO: case EDQUOT: case EFBIG: case EROFS:
		return KERR_KAFKA_STORAGE_ERROR;
	default: return KERR_UNKNOWN_SERVER_ERROR;
	}
}

/* Copy a wire string into a NUL-terminated topic name; false if too long,
 * null or containing a NUL. */
static bool topic_name(myco__kstr_t s, char out[MLS_TOPIC_NAME_MAX + 1])
{
	if (!s.p || s.len <= 0 || s.len > MLS_TOPIC_NAME_MAX ||
	    memchr(s.p, 0, (size_t)s.len))
		return false;
	memcpy(out, s.p, (size_t)s.len);
	out[s.len] = 0;
	return true;
}

/* ---- responses --------------------------------------------------------- */

void myco__lresp_begin(myco__kwr_t *w, const myco__lreq_t *req)
{
	myco__kwr_init(w);
	(void)myco__kwr_reserve_i32(w);          /* frame size, patched at send */
	myco__kwr_i32(w, req->corr);
	/* ApiVersions always answers with header v0 (KIP-511). */
	if (req->key != KAPI_API_VERSIONS)
		myco__kwr_tags(w, req->flex);
}

void myco__lresp_send(const myco__lreq_t *req, myco__kwr_t *w)
{
	if (!req->conn) {
		myco__kwr_free(w);
		return;
	}
	if (w->err || myco__kwr_total(w) - 4 > INT32_MAX) {
		myco__kwr_free(w);
		myco__lc_abort(req->conn);
		return;
	}
	myco__kwr_patch_i32(w, 0, (int32_t)(myco__kwr_total(w) - 4));
	myco__lc_send(req->conn, w);
}

static bool is_flex(int16_t key, int16_t ver)
{
	static const struct { int16_t key, from; } t[] = {
		{ 0, 9 }, { 1, 12 }, { 2, 6 }, { 3, 9 }, { 8, 8 }, { 9, 6 },
		{ 10, 3 }, { 11, 6 }, { 12, 4 }, { 13, 4 }, { 14, 4 }, { 18, 3 },
		{ 19, 5 }, { 22, 2 },
	};
	size_t i;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].key == key)
			return ver >= t[i].from;
	return false;
}

static void api_versions_body(myco__kwr_t *w, int16_t ver, int16_t err)
{
	bool flex = ver >= 3;
	int i;

	myco__kwr_i16(w, err);
	myco__kwr_array(w, flex, myco__nlapis);
	for (i = 0; i < myco__nlapis; i++) {
		/* Produce is advertised from v0 although v0-v2 are answered
		 * UNSUPPORTED_VERSION (dispatch still checks the real range):
		 * librdkafka <= 2.11 enables gzip, snappy and lz4 only when the
		 * broker lists Produce v0, and would otherwise send those
		 * batches uncompressed.  Apache Kafka 4.0 does the same
		 * (KAFKA-18659).  Clients pick the highest common version. */
		myco__kwr_i16(w, myco__lapis[i].key);
		myco__kwr_i16(w, myco__lapis[i].key == KAPI_PRODUCE ? 0 : myco__lapis[i].min);
		myco__kwr_i16(w, myco__lapis[i].max);
		myco__kwr_tags(w, flex);
	}
	if (ver >= 1)
		myco__kwr_i32(w, 0);
	myco__kwr_tags(w, flex);
}

void myco__lresp_unsupported(myco__lb_t *lb, const myco__lreq_t *req)
{
	myco__kwr_t w;
	int16_t v = req->ver;
	bool f = req->flex;
	const int16_t E = KERR_UNSUPPORTED_VERSION;

	(void)lb;
	myco__lresp_begin(&w, req);
	switch (req->key) {
	case KAPI_API_VERSIONS:
		api_versions_body(&w, 0, E);
		break;
	case KAPI_PRODUCE:
		myco__kwr_array(&w, f, 0);
		if (v >= 1)
			myco__kwr_i32(&w, 0);
		break;
	case KAPI_FETCH:
		if (v >= 1)
			myco__kwr_i32(&w, 0);
		if (v >= 7) {
			myco__kwr_i16(&w, E);
			myco__kwr_i32(&w, 0);
		}
		myco__kwr_array(&w, f, 0);
		break;
	case KAPI_LIST_OFFSETS: case KAPI_OFFSET_COMMIT: case KAPI_CREATE_TOPICS:
		if (v >= (req->key == KAPI_OFFSET_COMMIT ? 3 : 2))
			myco__kwr_i32(&w, 0);
		myco__kwr_array(&w, f, 0);
		break;
	case KAPI_METADATA:
		if (v >= 3)
			myco__kwr_i32(&w, 0);
		myco__kwr_array(&w, f, 0);
		if (v >= 2)
			myco__kwr_str(&w, f, NULL);
		if (v >= 1)
			myco__kwr_i32(&w, -1);
		myco__kwr_array(&w, f, 0);
		if (v >= 8 && v <= 10)
			myco__kwr_i32(&w, INT32_MIN);
		break;
	case KAPI_OFFSET_FETCH:
		if (v >= 3)
			myco__kwr_i32(&w, 0);
		myco__kwr_array(&w, f, 0);
		if (v >= 2)
			myco__kwr_i16(&w, E);
		break;
	case KAPI_FIND_COORDINATOR:
		if (v >= 1)
			myco__kwr_i32(&w, 0);
		myco__kwr_i16(&w, E);
		if (v >= 1)
			myco__kwr_str(&w, f, NULL);
		myco__kwr_i32(&w, -1);
		myco__kwr_str(&w, f, "");
		myco__kwr_i32(&w, -1);
		break;
	case KAPI_JOIN_GROUP:
		if (v >= 2)
			myco__kwr_i32(&w, 0);
		myco__kwr_i16(&w, E);
		myco__kwr_i32(&w, -1);
		if (v >= 7)
			myco__kwr_str(&w, f, NULL);
		myco__kwr_str(&w, f, v >= 7 ? NULL : "");
		myco__kwr_str(&w, f, "");
		if (v >= 9)
			myco__kwr_i8(&w, 0);
		myco__kwr_str(&w, f, "");
		myco__kwr_array(&w, f, 0);
		break;
	case KAPI_HEARTBEAT: case KAPI_LEAVE_GROUP: case KAPI_SYNC_GROUP:
	case KAPI_INIT_PRODUCER_ID:
		if (v >= 1 || req->key == KAPI_INIT_PRODUCER_ID)
			myco__kwr_i32(&w, 0);
		myco__kwr_i16(&w, E);
		if (req->key == KAPI_LEAVE_GROUP && v >= 3)
			myco__kwr_array(&w, f, 0);
		if (req->key == KAPI_SYNC_GROUP) {
			if (v >= 5) {
				myco__kwr_str(&w, f, NULL);
				myco__kwr_str(&w, f, NULL);
			}
			myco__kwr_strn(&w, f, "", 0);  /* empty assignment bytes */
			if (!f) {                        /* bytes use an i32 length */
				w.len -= 2;
				myco__kwr_i32(&w, 0);
			}
		}
		if (req->key == KAPI_INIT_PRODUCER_ID) {
			myco__kwr_i64(&w, -1);
			myco__kwr_i16(&w, -1);
		}
		break;
	default:
		/* Unknown API: no shape to follow; the error code alone. */
		myco__kwr_i16(&w, E);
		break;
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- ApiVersions ------------------------------------------------------- */

static void h_api_versions(myco__lreq_t *req)
{
	myco__kwr_t w;

	if (req->ver >= 3) {
		(void)myco__krd_str(&req->rd, true);   /* client_software_name */
		(void)myco__krd_str(&req->rd, true);   /* client_software_version */
		myco__krd_tags(&req->rd, true);
	}
	myco__lresp_begin(&w, req);
	api_versions_body(&w, req->ver, req->rd.err ? KERR_INVALID_REQUEST : 0);
	myco__lresp_send(req, &w);
}

/* ---- Metadata ---------------------------------------------------------- */

static int create_topic(myco__lb_t *lb, const char *name, int32_t parts,
			const mls_topic_config *tc)
{
	int rc = mls_topic_create(lb->st, name, parts, tc);
	if (rc == 0 && lb->cfg.verbose)
		fprintf(stderr, "myco-log: created topic %s (%d partitions)\n", name, parts);
	return rc;
}

static void meta_topic(myco__lb_t *lb, myco__kwr_t *w, int16_t v, bool f,
		       const char *name, int16_t err, int32_t nparts)
{
	int32_t i;

	myco__kwr_i16(w, err);
	myco__kwr_str(w, f, name);
	if (v >= 1)
		myco__kwr_i8(w, 0);                    /* is_internal */
	myco__kwr_array(w, f, nparts);
	for (i = 0; i < nparts; i++) {
		myco__kwr_i16(w, 0);
		myco__kwr_i32(w, i);
		myco__kwr_i32(w, 0);                   /* leader: us, node 0 */
		if (v >= 7)
			myco__kwr_i32(w, 0);           /* leader epoch */
		myco__kwr_array(w, f, 1);
		myco__kwr_i32(w, 0);
		myco__kwr_array(w, f, 1);
		myco__kwr_i32(w, 0);
		if (v >= 5)
			myco__kwr_array(w, f, 0);
		myco__kwr_tags(w, f);
	}
	if (v >= 8)
		myco__kwr_i32(w, INT32_MIN);
	myco__kwr_tags(w, f);
	(void)lb;
}

static void h_metadata(myco__lb_t *lb, myco__lreq_t *req)
{
	myco__krd_t *r = &req->rd;
	int16_t v = req->ver;
	bool f = req->flex, allow = true;
	int32_t n, i;
	size_t topics_at;
	myco__kwr_t w;

	n = myco__krd_array(r, f, 2);
	if (v == 0 && n == 0)
		n = -1;                                /* v0: empty = all */
	topics_at = r->pos;
	for (i = 0; i < n && !r->err; i++) {
		if (v >= 10)
			(void)myco__krd_i64(r), (void)myco__krd_i64(r);
		(void)myco__krd_str(r, f);
		myco__krd_tags(r, f);
	}
	if (v >= 4)
		allow = myco__krd_i8(r) != 0;
	if (r->err) {
		myco__lc_abort(req->conn);
		return;
	}

	myco__lresp_begin(&w, req);
	if (v >= 3)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, 1);                     /* brokers: us */
	myco__kwr_i32(&w, 0);
	myco__kwr_str(&w, f, lb->cfg.host);
	myco__kwr_i32(&w, lb->cfg.port);
	if (v >= 1)
		myco__kwr_str(&w, f, NULL);
	myco__kwr_tags(&w, f);
	if (v >= 2)
		myco__kwr_str(&w, f, "myco-log");
	if (v >= 1)
		myco__kwr_i32(&w, 0);
	if (n < 0) {
		mls_topic_info *all = NULL;
		size_t cnt = 0, k;
		if (mls_topic_list(lb->st, &all, &cnt) < 0)
			cnt = 0;
		myco__kwr_array(&w, f, (int32_t)cnt);
		for (k = 0; k < cnt; k++)
			meta_topic(lb, &w, v, f, all[k].name, 0, all[k].partitions);
		free(all);
	} else {
		myco__kwr_array(&w, f, n);
		r->pos = topics_at;
		for (i = 0; i < n; i++) {
			char name[MLS_TOPIC_NAME_MAX + 1];
			mls_topic_info ti;
			myco__kstr_t s;
			int rc;

			if (v >= 10)
				(void)myco__krd_i64(r), (void)myco__krd_i64(r);
			s = myco__krd_str(r, f);
			myco__krd_tags(r, f);
			if (!topic_name(s, name)) {
				myco__kwr_i16(&w, KERR_INVALID_TOPIC_EXCEPTION);
				myco__kwr_strn(&w, f, s.p, s.len < 0 ? 0 : s.len);
				if (v >= 1)
					myco__kwr_i8(&w, 0);
				myco__kwr_array(&w, f, 0);
				if (v >= 8)
					myco__kwr_i32(&w, INT32_MIN);
				myco__kwr_tags(&w, f);
				continue;
			}
			rc = mls_topic_describe(lb->st, name, &ti);
			if (rc == -MYCO_ELOG_NO_TOPIC && allow && lb->cfg.auto_create) {
				rc = create_topic(lb, name, lb->cfg.default_partitions, NULL);
				if (rc == -MYCO_ELOG_TOPIC_EXISTS)
					rc = 0;
				if (rc == 0)
					rc = mls_topic_describe(lb->st, name, &ti);
			}
			if (rc < 0)
				meta_topic(lb, &w, v, f, name, kerr_of(rc), 0);
			else
				meta_topic(lb, &w, v, f, name, 0, ti.partitions);
		}
	}
	if (v >= 8 && v <= 10)
		myco__kwr_i32(&w, INT32_MIN);
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- CreateTopics ------------------------------------------------------ */

static int topic_config(mls_topic_config *tc, const char *k, myco__kstr_t val)
{
	char buf[32];
	long long x;
	char *end;

	if (!val.p || val.len <= 0 || val.len >= (int32_t)sizeof(buf))
		return -EINVAL;
	memcpy(buf, val.p, (size_t)val.len);
	buf[val.len] = 0;
	if (!strcmp(k, "message.timestamp.type")) {
		if (!strcmp(buf, "CreateTime"))
			tc->timestamp_type = MLS_TS_CREATE_TIME;
		else if (!strcmp(buf, "LogAppendTime"))
			tc->timestamp_type = MLS_TS_LOG_APPEND_TIME;
		else
			return -EINVAL;
		return 0;
	}
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (!strcmp(k, "segment.bytes"))
		tc->segment_bytes = x;
	else if (!strcmp(k, "segment.ms"))
		tc->segment_ms = x;
	else if (!strcmp(k, "retention.ms"))
		tc->retention_ms = x;
	else if (!strcmp(k, "retention.bytes"))
		tc->retention_bytes = x;
	else if (!strcmp(k, "max.message.bytes") && x > 0 && x <= INT32_MAX)
		tc->max_message_bytes = (int32_t)x;
	else if (!strcmp(k, "index.interval.bytes") && x > 0 && x <= INT32_MAX)
		tc->index_interval_bytes = (int32_t)x;
	/* other keys (cleanup.policy, ...) are accepted and ignored */
	return 0;
}

static void default_topic_config(myco__lb_t *lb, mls_topic_config *tc)
{
	mls_topic_config_init(tc);
	if (lb->cfg.segment_bytes > 0)
		tc->segment_bytes = lb->cfg.segment_bytes;
	if (lb->cfg.segment_ms != 0)
		tc->segment_ms = lb->cfg.segment_ms;
	if (lb->cfg.retention_ms != 0)
		tc->retention_ms = lb->cfg.retention_ms;
	if (lb->cfg.retention_bytes != 0)
		tc->retention_bytes = lb->cfg.retention_bytes;
}

static void h_create_topics(myco__lb_t *lb, myco__lreq_t *req)
{
	myco__krd_t *r = &req->rd;
	int16_t v = req->ver;
	bool f = req->flex, validate_only = false;
	int32_t n, i, j, k;
	size_t at;
	myco__kwr_t w;

	/* First pass: check the whole request parses. */
	n = myco__krd_array(r, f, 2 + 4 + 2 + 4 + 4);
	at = r->pos;
	for (i = 0; i < n && !r->err; i++) {
		(void)myco__krd_str(r, f);
		(void)myco__krd_i32(r);
		(void)myco__krd_i16(r);
		k = myco__krd_array(r, f, 4);
		for (j = 0; j < k && !r->err; j++) {
			(void)myco__krd_i32(r);
			int32_t b = myco__krd_array(r, f, 4);
			for (int32_t q = 0; q < b && !r->err; q++)
				(void)myco__krd_i32(r);
			myco__krd_tags(r, f);
		}
		k = myco__krd_array(r, f, 4);
		for (j = 0; j < k && !r->err; j++) {
			(void)myco__krd_str(r, f);
			(void)myco__krd_str(r, f);
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	(void)myco__krd_i32(r);                        /* timeout */
	if (v >= 1)
		validate_only = myco__krd_i8(r) != 0;
	if (r->err) {
		myco__lc_abort(req->conn);
		return;
	}

	myco__lresp_begin(&w, req);
	if (v >= 2)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, n);
	r->pos = at;
	for (i = 0; i < n; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		mls_topic_config tc;
		myco__kstr_t s = myco__krd_str(r, f);
		int32_t parts = myco__krd_i32(r);
		int16_t rf = myco__krd_i16(r);
		int16_t err = 0;
		const char *msg = NULL;
		int rc;

		default_topic_config(lb, &tc);
		k = myco__krd_array(r, f, 4);
		if (k > 0) {
			if (parts == -1)
				parts = k;
			for (j = 0; j < k; j++) {
				(void)myco__krd_i32(r);
				int32_t b = myco__krd_array(r, f, 4);
				for (int32_t q = 0; q < b; q++)
					(void)myco__krd_i32(r);
				if (b > 1 && !err)
					err = KERR_INVALID_REPLICATION_FACTOR;
				myco__krd_tags(r, f);
			}
		}
		k = myco__krd_array(r, f, 4);
		for (j = 0; j < k; j++) {
			myco__kstr_t key = myco__krd_str(r, f);
			myco__kstr_t val = myco__krd_str(r, f);
			char kb[64];
			myco__krd_tags(r, f);
			if (key.len <= 0 || key.len >= (int32_t)sizeof(kb))
				continue;
			memcpy(kb, key.p, (size_t)key.len);
			kb[key.len] = 0;
			if (topic_config(&tc, kb, val) < 0 && !err) {
				err = 40;              /* INVALID_CONFIG */
				msg = "bad config value";
			}
		}
		myco__krd_tags(r, f);
		if (parts == -1)
			parts = lb->cfg.default_partitions;
		if (!topic_name(s, name)) {
			err = KERR_INVALID_TOPIC_EXCEPTION;
			name[0] = 0;
		} else if (!err && (rf > 1 || rf == 0 || rf < -1)) {
			err = KERR_INVALID_REPLICATION_FACTOR;
			msg = "single-node broker: replication factor must be 1";
		} else if (!err && (parts < 1 || parts > MLS_PARTITIONS_MAX)) {
			err = KERR_INVALID_PARTITIONS;
		} else if (!err) {
			if (validate_only) {
				rc = mls_topic_name_check(name);
				if (rc == 0 && mls_topic_describe(lb->st, name, &(mls_topic_info){0}) == 0)
					rc = -MYCO_ELOG_TOPIC_EXISTS;
			} else {
				rc = create_topic(lb, name, parts, &tc);
			}
			err = kerr_of(rc);
			if (rc == -EINVAL)
				err = 40;
		}
		myco__kwr_strn(&w, f, s.p, s.len < 0 ? 0 : s.len);
		myco__kwr_i16(&w, err);
		if (v >= 1)
			myco__kwr_str(&w, f, msg);
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- InitProducerId ---------------------------------------------------- */

static void h_init_producer_id(myco__lb_t *lb, myco__lreq_t *req)
{
	myco__krd_t *r = &req->rd;
	myco__kstr_t txn = myco__krd_str(r, req->flex);
	int64_t pid = -1;
	int16_t err = 0;
	myco__kwr_t w;

	(void)myco__krd_i32(r);
	if (req->ver >= 3) {
		(void)myco__krd_i64(r);
		(void)myco__krd_i16(r);
	}
	myco__krd_tags(r, req->flex);
	if (r->err) {
		myco__lc_abort(req->conn);
		return;
	}
	if (txn.p && txn.len > 0)
		err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED; /* no transactions */
	else if (mls_producer_id_alloc(lb->st, &pid) < 0)
		err = KERR_UNKNOWN_SERVER_ERROR;
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_i64(&w, err ? -1 : pid);
	myco__kwr_i16(&w, err ? -1 : 0);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

/* ---- ListOffsets ------------------------------------------------------- */

static void h_list_offsets(myco__lb_t *lb, myco__lreq_t *req)
{
	myco__krd_t *r = &req->rd;
	int16_t v = req->ver;
	bool f = req->flex;
	int32_t nt, np, i, j;
	size_t at;
	myco__kwr_t w;

	(void)myco__krd_i32(r);                        /* replica id */
	if (v >= 2)
		(void)myco__krd_i8(r);                 /* isolation level */
	nt = myco__krd_array(r, f, 6);
	at = r->pos;
	for (i = 0; i < nt && !r->err; i++) {
		(void)myco__krd_str(r, f);
		np = myco__krd_array(r, f, 12);
		for (j = 0; j < np && !r->err; j++) {
			(void)myco__krd_i32(r);
			if (v >= 4)
				(void)myco__krd_i32(r);
			(void)myco__krd_i64(r);
			if (v == 0)
				(void)myco__krd_i32(r);
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	if (r->err) {
		myco__lc_abort(req->conn);
		return;
	}
	myco__lresp_begin(&w, req);
	if (v >= 2)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, nt < 0 ? 0 : nt);
	r->pos = at;
	for (i = 0; i < nt; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		myco__kstr_t s = myco__krd_str(r, f);
		bool ok = topic_name(s, name);

		myco__kwr_strn(&w, f, s.p, s.len < 0 ? 0 : s.len);
		np = myco__krd_array(r, f, 12);
		myco__kwr_array(&w, f, np < 0 ? 0 : np);
		for (j = 0; j < np; j++) {
			int32_t part = myco__krd_i32(r);
			int64_t ts, off = -1, tso = -1;
			int32_t maxn = 1;
			mls_partition_t *p = NULL;
			int rc = -MYCO_ELOG_NO_TOPIC;

			if (v >= 4)
				(void)myco__krd_i32(r);
			ts = myco__krd_i64(r);
			if (v == 0)
				maxn = myco__krd_i32(r);
			myco__krd_tags(r, f);
			if (ok)
				rc = mls_partition_get(lb->st, name, part, &p);
			if (rc == 0) {
				rc = mls_list_offset(p, ts, &off, &tso);
				mls_partition_put(p);
			}
			myco__kwr_i32(&w, part);
			myco__kwr_i16(&w, kerr_of(rc));
			if (v == 0) {
				/* old style: an array of offsets (at most one here) */
				bool one = rc == 0 && off >= 0 && maxn > 0;
				myco__kwr_array(&w, f, one ? 1 : 0);
				if (one)
					myco__kwr_i64(&w, off);
			} else {
				myco__kwr_i64(&w, rc == 0 ? tso : -1);
				myco__kwr_i64(&w, rc == 0 ? off : -1);
				if (v >= 4)
					myco__kwr_i32(&w, rc == 0 ? 0 : -1);
			}
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- Produce ----------------------------------------------------------- */

static void fetch_recheck(myco__lb_t *lb, bool data_moved, int64_t now);

static void pprod_free(pprod_t *pp)
{
	free(pp->parts);
	free(pp->frame);
	free(pp);
}

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
	myco__lb_t *lb = a->pp->lb;

	a->rc = rc;
	a->next = NULL;
	pthread_mutex_lock(&lb->mu);
	if (lb->done_tail)
		lb->done_tail->next = a;
	else
		lb->done_head = a;
	lb->done_tail = a;
	pthread_mutex_unlock(&lb->mu);
	poke(lb);
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

static void pprod_unlink(myco__lb_t *lb, pprod_t *pp)
{
	pprod_t **pp_ = &lb->pprods;
	while (*pp_ && *pp_ != pp)
		pp_ = &(*pp_)->next;
	if (*pp_)
		*pp_ = pp->next;
}

/* Append every batch in records[0..len) to p; fills pt. */
static void produce_partition(myco__lb_t *lb, pprod_t *pp, size_t idx,
			      mls_partition_t *p, uint8_t *rec, size_t len)
{
	pprod_part_t *pt = &pp->parts[idx];
	size_t off = 0;
	bool first = true;

	if (len < 61) {
		pt->err = KERR_CORRUPT_MESSAGE;
		return;
	}
	while (off < len) {
		mls_append_result res;
		uint32_t blen;
		size_t bsz;
		acomp_t *a = NULL;
		int rc;

		if (len - off < 12) {
			pt->err = KERR_CORRUPT_MESSAGE;
			return;
		}
		blen = ((uint32_t)rec[off + 8] << 24) | ((uint32_t)rec[off + 9] << 16) |
		       ((uint32_t)rec[off + 10] << 8) | rec[off + 11];
		bsz = (size_t)blen + 12;
		if (blen > INT32_MAX || bsz > len - off) {
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
			rc = mls_append_async(p, rec + off, bsz, &res, append_cb, a);
			if (rc == 1) {
				pt->pending++;
				pp->pending++;
			} else {
				free(a);
			}
		} else {
			rc = mls_append(p, rec + off, bsz, &res);
		}
		if (rc < 0) {
			pt->err = kerr_of(rc);
			return;
		}
		if (res.duplicate && lb->cfg.verbose)
			fprintf(stderr, "myco-log: duplicate batch (idempotent retry) of %.*s[%d] "
				"acknowledged at offset %lld, not stored again\n",
				pt->topic.len > 0 ? (int)pt->topic.len : 0,
				pt->topic.len > 0 ? (const char *)pt->topic.p : "", pt->index,
				(long long)res.base_offset);
		if (first) {
			pt->base = res.base_offset;
			pt->lat = res.log_append_time;
			first = false;
		}
		pt->lso = res.log_start_offset;
		off += bsz;
	}
}

static void h_produce(myco__lb_t *lb, myco__lreq_t *req, uint8_t *frame, size_t flen)
{
	myco__krd_t *r = &req->rd;
	bool f = req->flex;
	int32_t nt, np, i, j;
	size_t at, total = 0, k;
	int16_t acks;
	myco__kstr_t txn;
	pprod_t *pp = NULL;

	txn = myco__krd_str(r, f);
	acks = myco__krd_i16(r);
	(void)myco__krd_i32(r);                        /* timeout */
	nt = myco__krd_array(r, f, 6);
	at = r->pos;
	for (i = 0; i < nt && !r->err; i++) {
		(void)myco__krd_str(r, f);
		np = myco__krd_array(r, f, 8);
		for (j = 0; j < np && !r->err; j++) {
			(void)myco__krd_i32(r);
			(void)myco__krd_bytes(r, f);
			myco__krd_tags(r, f);
			total++;
		}
		myco__krd_tags(r, f);
	}
	if (r->err) {
		myco__lc_abort(req->conn);
		return;
	}
	/* Batches are appended straight from the frame (the store rewrites
	 * their base offset in place); only the topic names are copied if the
	 * answer has to wait for fsync (pprod_keep_names). */
	pp = calloc(1, sizeof(*pp));
	if (!pp || (total && !(pp->parts = calloc(total, sizeof(*pp->parts))))) {
		if (pp)
			pprod_free(pp);
		myco__lc_abort(req->conn);
		return;
	}
	pp->lb = lb;
	pp->req = *req;
	pp->acks = acks;
	pp->nparts = total;
	myco__krd_init(r, frame, flen);
	r->pos = at;
	lb->nproduce++;
	k = 0;
	for (i = 0; i < nt; i++) {
		char name[MLS_TOPIC_NAME_MAX + 1];
		myco__kstr_t s = myco__krd_str(r, f);
		bool ok = topic_name(s, name);

		np = myco__krd_array(r, f, 8);
		for (j = 0; j < np; j++, k++) {
			pprod_part_t *pt = &pp->parts[k];
			myco__kstr_t rec;
			mls_partition_t *p = NULL;
			int rc = -MYCO_ELOG_NO_TOPIC;

			pt->topic = s;
			pt->index = myco__krd_i32(r);
			rec = myco__krd_bytes(r, f);
			myco__krd_tags(r, f);
			pt->base = pt->lat = pt->lso = -1;
			if (acks != 0 && acks != 1 && acks != -1) {
				pt->err = KERR_INVALID_REQUIRED_ACKS;
				continue;
			}
			if (txn.p && txn.len > 0) {
				pt->err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
				continue;
			}
			if (ok)
				rc = mls_partition_get(lb->st, name, pt->index, &p);
			if (rc < 0) {
				pt->err = kerr_of(rc);
				continue;
			}
			if (!rec.p)
				pt->err = KERR_CORRUPT_MESSAGE;
			else
				produce_partition(lb, pp, k, p, (uint8_t *)rec.p, (size_t)rec.len);
			mls_partition_put(p);
		}
		myco__krd_tags(r, f);
	}
	if (lb->cfg.test_drop_after_append > 0 &&
	    lb->nproduce % lb->cfg.test_drop_after_append == 0) {
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
		pp->next = lb->pprods;
		lb->pprods = pp;
	} else {
		pp->next = lb->pprods;
		lb->pprods = pp;
	}
	/* Data became readable during this request: answer the fetches
	 * waiting for it now, as Kafka completes delayed fetches after an
	 * append (no trip through the eventfd). */
	if (atomic_exchange(&lb->hw_moved, 0))
		fetch_recheck(lb, true, myco__lnow_ms());
}

static void drain_completions(myco__lb_t *lb)
{
	acomp_t *a, *next;

	pthread_mutex_lock(&lb->mu);
	a = lb->done_head;
	lb->done_head = lb->done_tail = NULL;
	pthread_mutex_unlock(&lb->mu);
	for (; a; a = next) {
		pprod_t *pp = a->pp;
		pprod_part_t *pt = &pp->parts[a->part];
		next = a->next;
		if (a->rc < 0 && !pt->err)
			pt->err = kerr_of(a->rc);
		pt->pending--;
		if (--pp->pending == 0) {
			pprod_unlink(lb, pp);
			produce_respond(pp);
			pprod_free(pp);
		}
		free(a);
	}
}

/* ---- Fetch ------------------------------------------------------------- */

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

	*errs = 0;
	if (w) {
		myco__kwr_i32(w, 0);                   /* throttle */
		if (v >= 7) {
			myco__kwr_i16(w, 0);
			myco__kwr_i32(w, 0);           /* no fetch session */
		}
		myco__kwr_array(w, f, (int32_t)pf->ntopics);
	}
	for (i = 0; i < pf->nparts; i++) {
		pfetch_part_t *fp = &pf->parts[i];
		mls_partition_t *p = NULL;
		mls_read_set *rd = NULL;
		mls_offsets offs = { -1, -1, -1, 0, 0 };
		size_t want;
		bool pinned = false;
		int rc;

		if (w && fp->first_of_topic) {
			size_t n = 1;
			if (i > 0)
				myco__kwr_tags(w, f);  /* end of previous topic */
			while (i + n < pf->nparts && !pf->parts[i + n].first_of_topic)
				n++;
			myco__kwr_str(w, f, fp->topic);
			myco__kwr_array(w, f, (int32_t)n);
		}
		if (!w && pf->min_bytes <= 1) {
			/* Sizing for the usual min_bytes 1: the offsets say enough,
			 * no need to read (this runs for every parked fetch after
			 * every append). */
			rc = mls_partition_get(lb->st, fp->topic, fp->index, &p);
			if (rc == 0) {
				rc = mls_partition_offsets(p, &offs);
				mls_partition_put(p);
			}
			if (rc < 0 || fp->offset < offs.log_start || fp->offset > offs.high_watermark)
				(*errs)++;
			else if (offs.high_watermark > fp->offset)
				return total + 1;
			continue;
		}
		rc = mls_partition_get(lb->st, fp->topic, fp->index, &p);
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
			} else {
				rc = mls_read(p, fp->offset, want, rd);
				pinned = rc == 0;
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
		myco__kwr_i32(w, fp->index);
		myco__kwr_i16(w, kerr_of(rc));
		myco__kwr_i64(w, rd ? rd->high_watermark : -1);
		myco__kwr_i64(w, rd ? rd->high_watermark : -1);   /* LSO */
		if (v >= 5)
			myco__kwr_i64(w, rd ? rd->log_start : -1);
		myco__kwr_array(w, f, -1);             /* aborted txns: null */
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
		if (pf->nparts)
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

static void h_fetch(myco__lb_t *lb, myco__lreq_t *req)
{
	myco__krd_t *r = &req->rd;
	int16_t v = req->ver;
	bool f = req->flex;
	int32_t nt, np, i, j, max_wait;
	size_t at, total = 0, k;
	pfetch_t *pf;
	int errs;

	(void)myco__krd_i32(r);                        /* replica id */
	max_wait = myco__krd_i32(r);
	pf = calloc(1, sizeof(*pf));
	if (!pf) {
		myco__lc_abort(req->conn);
		return;
	}
	pf->min_bytes = myco__krd_i32(r);
	pf->max_bytes = myco__krd_i32(r);              /* v3+ */
	(void)myco__krd_i8(r);                         /* isolation (v4+) */
	if (v >= 7) {
		(void)myco__krd_i32(r);                /* session id */
		(void)myco__krd_i32(r);                /* session epoch */
	}
	nt = myco__krd_array(r, f, 6);
	at = r->pos;
	for (i = 0; i < nt && !r->err; i++) {
		(void)myco__krd_str(r, f);
		np = myco__krd_array(r, f, 16);
		for (j = 0; j < np && !r->err; j++) {
			(void)myco__krd_i32(r);
			if (v >= 9)
				(void)myco__krd_i32(r);
			(void)myco__krd_i64(r);
			if (v >= 5)
				(void)myco__krd_i64(r);
			(void)myco__krd_i32(r);
			myco__krd_tags(r, f);
			total++;
		}
		myco__krd_tags(r, f);
	}
	if (r->err || (total && !(pf->parts = calloc(total, sizeof(*pf->parts))))) {
		pfetch_free(pf);
		myco__lc_abort(req->conn);
		return;
	}
	r->pos = at;
	k = 0;
	for (i = 0; i < nt; i++) {
		myco__kstr_t s = myco__krd_str(r, f);
		np = myco__krd_array(r, f, 16);
		if (np > 0)
			pf->ntopics++;
		for (j = 0; j < np; j++, k++) {
			pfetch_part_t *fp = &pf->parts[k];
			if (!topic_name(s, fp->topic))
				fp->topic[0] = 0;      /* answered as unknown */
			fp->first_of_topic = j == 0;
			fp->index = myco__krd_i32(r);
			if (v >= 9)
				(void)myco__krd_i32(r);
			fp->offset = myco__krd_i64(r);
			if (v >= 5)
				(void)myco__krd_i64(r);
			fp->max_bytes = myco__krd_i32(r);
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	pf->nparts = total;
	pf->req = *req;
	/* forgotten topics / rack id are ignored (no fetch sessions) */
	if (max_wait <= 0 || pf->min_bytes <= 0 ||
	    fetch_eval(lb, pf, NULL, &errs) >= (size_t)pf->min_bytes || errs) {
		fetch_respond(lb, pf);
		pfetch_free(pf);
		return;
	}
	if (max_wait > 30000)
		max_wait = 30000;
	pf->deadline = myco__lnow_ms() + max_wait;
	pf->next = lb->pfetches;
	lb->pfetches = pf;
}

static void fetch_recheck(myco__lb_t *lb, bool data_moved, int64_t now)
{
	pfetch_t **pp = &lb->pfetches;

	while (*pp) {
		pfetch_t *pf = *pp;
		int errs = 0;
		bool go = now >= pf->deadline;

		if (!go && data_moved)
			go = fetch_eval(lb, pf, NULL, &errs) >= (size_t)pf->min_bytes || errs;
		if (go) {
			*pp = pf->next;
			fetch_respond(lb, pf);
			pfetch_free(pf);
		} else {
			pp = &pf->next;
		}
	}
}

/* ---- dispatch ---------------------------------------------------------- */

int myco__lb_request(myco__lb_t *lb, myco__lc_t *c, uint8_t *frame, size_t len)
{
	myco__lreq_t req;
	const myco__lapi_t *api;

	memset(&req, 0, sizeof(req));
	myco__krd_init(&req.rd, frame, len);
	req.conn = c;
	req.key = myco__krd_i16(&req.rd);
	req.ver = myco__krd_i16(&req.rd);
	req.corr = myco__krd_i32(&req.rd);
	req.client_id = myco__krd_str(&req.rd, false);
	if (req.rd.err)
		return -EBADMSG;
	api = myco__lapi_find(req.key);
	req.flex = is_flex(req.key, req.ver);
	if (!api || req.ver < api->min || req.ver > api->max) {
		if (req.key == KAPI_API_VERSIONS)
			req.flex = false;      /* answer in v0 (KIP-511) */
		if (lb->cfg.verbose)
			fprintf(stderr, "myco-log: unsupported api %d v%d\n", req.key, req.ver);
		myco__lresp_unsupported(lb, &req);
		return 0;
	}
	myco__krd_tags(&req.rd, req.flex);             /* request header v2 */
	if (req.rd.err)
		return -EBADMSG;
	if (lb->cfg.verbose && req.key >= 0 && req.key < 64 && req.ver >= 0 && req.ver < 64 &&
	    !(lb->seen[req.key] & (1ull << req.ver))) {
		lb->seen[req.key] |= 1ull << req.ver;
		fprintf(stderr, "myco-log: first use of api %d v%d (client %.*s)\n", req.key,
			req.ver, req.client_id.len > 0 ? (int)req.client_id.len : 0,
			req.client_id.len > 0 ? (const char *)req.client_id.p : "");
	}
	switch (req.key) {
	case KAPI_API_VERSIONS: h_api_versions(&req); break;
	case KAPI_METADATA: h_metadata(lb, &req); break;
	case KAPI_CREATE_TOPICS: h_create_topics(lb, &req); break;
	case KAPI_INIT_PRODUCER_ID: h_init_producer_id(lb, &req); break;
	case KAPI_LIST_OFFSETS: h_list_offsets(lb, &req); break;
	case KAPI_PRODUCE: h_produce(lb, &req, frame, len); break;
	case KAPI_FETCH: h_fetch(lb, &req); break;
	case KAPI_FIND_COORDINATOR: myco__lh_find_coordinator(lb, &req); break;
	case KAPI_JOIN_GROUP: myco__lh_join_group(lb->groups, &req); break;
	case KAPI_SYNC_GROUP: myco__lh_sync_group(lb->groups, &req); break;
	case KAPI_HEARTBEAT: myco__lh_heartbeat(lb->groups, &req); break;
	case KAPI_LEAVE_GROUP: myco__lh_leave_group(lb->groups, &req); break;
	case KAPI_OFFSET_COMMIT: myco__lh_offset_commit(lb, lb->groups, &req); break;
	case KAPI_OFFSET_FETCH: myco__lh_offset_fetch(lb, lb->groups, &req); break;
	default: myco__lresp_unsupported(lb, &req); break;
	}
	return 0;
}

void myco__lb_conn_closed(myco__lb_t *lb, myco__lc_t *c)
{
	pfetch_t **pp = &lb->pfetches;
	pprod_t *pr;

	while (*pp) {
		if ((*pp)->req.conn == c) {
			pfetch_t *pf = *pp;
			*pp = pf->next;
			pfetch_free(pf);
		} else {
			pp = &(*pp)->next;
		}
	}
	for (pr = lb->pprods; pr; pr = pr->next)
		if (pr->req.conn == c)
			pr->req.conn = NULL;   /* appends still complete */
	myco__lgroups_conn_closed(lb->groups, c);
}

int myco__lb_tick(myco__lb_t *lb)
{
	int64_t now = myco__lnow_ms(), next = now + 1000;
	uint64_t junk;
	bool moved;
	pfetch_t *pf;
	int gnext;

	if (read(lb->wakefd, &junk, sizeof(junk)) < 0) {
		/* EAGAIN: nothing queued by other threads */
	}
	drain_completions(lb);
	moved = atomic_exchange(&lb->hw_moved, 0) != 0;
	fetch_recheck(lb, moved, now);
	for (pf = lb->pfetches; pf; pf = pf->next)
		if (pf->deadline < next)
			next = pf->deadline;
	gnext = myco__lgroups_tick(lb->groups, now);
	if (now + gnext < next)
		next = now + gnext;
	return next > now ? (int)(next - now) : 0;
}

int myco__lb_open(const myco__lcfg_t *cfg, myco__lb_t **out)
{
	myco__lb_t *lb;
	mls_config sc;
	int rc;

	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->cfg = *cfg;
	lb->loop_thread = pthread_self();
	pthread_mutex_init(&lb->mu, NULL);
	lb->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lb->wakefd < 0) {
		rc = -errno;
		goto fail;
	}
	mls_config_init(&sc);
	sc.fsync_policy = cfg->fsync_mode;
	if (cfg->fsync_interval_ms > 0)
		sc.fsync_interval_ms = cfg->fsync_interval_ms;
	default_topic_config(lb, &sc.topic_defaults);
	sc.on_hw = on_hw;
	sc.on_hw_arg = lb;
	sc.retention_check_ms = cfg->retention_check_ms > 0 ? cfg->retention_check_ms : 60000;
	rc = mls_open(cfg->data_dir, &sc, &lb->st);
	if (rc < 0)
		goto fail;
	rc = myco__lgroups_new(lb, &lb->groups);
	if (rc < 0)
		goto fail;
	*out = lb;
	return 0;
fail:
	if (lb->st)
		mls_close(lb->st);
	if (lb->wakefd >= 0)
		close(lb->wakefd);
	pthread_mutex_destroy(&lb->mu);
	free(lb);
	return rc;
}

void myco__lb_close(myco__lb_t *lb)
{
	pfetch_t *pf, *pn;
	pprod_t *pp, *ppn;

	if (!lb)
		return;
	for (pf = lb->pfetches; pf; pf = pn) {
		pn = pf->next;
		pfetch_free(pf);
	}
	/* mls_close completes outstanding async appends (their callbacks run
	 * and queue completions), so free waiting produces afterwards. */
	mls_close(lb->st);
	drain_completions(lb);
	for (pp = lb->pprods; pp; pp = ppn) {
		ppn = pp->next;
		pprod_free(pp);
	}
	myco__lgroups_free(lb->groups);
	close(lb->wakefd);
	pthread_mutex_destroy(&lb->mu);
	free(lb);
}
