/*
 * dispatch.c: where a Kafka request enters myco-log's broker core: the
 * table of APIs and versions served, the request header, the one decoding
 * of the body into its struct (kmsg.c), and the hand-off to the handler of
 * that API; ApiVersions itself and the answers to versions not served.
 * With several shards (loops) it also routes: coordinator and
 * administration requests run on shard 0, a transactional Produce too,
 * a Fetch on the shard owning its partitions (fetch.c decides); the frame
 * is copied and posted there whole.  Produce splits itself (produce.c);
 * ListOffsets, ApiVersions and SASL run where the connection is.
 * Not for: what an API does (produce.c, fetch.c, metadata.c, group.c) or
 * sockets (net_rt.c).
 */
#include "log_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	{ KAPI_ADD_PARTITIONS_TO_TXN, 0, 3, 3 },
	{ KAPI_ADD_OFFSETS_TO_TXN, 0, 3, 3 },
	{ KAPI_END_TXN, 0, 3, 3 },
	{ KAPI_TXN_OFFSET_COMMIT, 0, 3, 3 },
	/* v0 is listed because librdkafka looks for it before it uses v1;
	 * a v0 handshake (raw SASL frames after it) is refused */
	{ KAPI_SASL_HANDSHAKE, 0, 1, INT16_MAX },
	{ KAPI_SASL_AUTHENTICATE, 0, 2, 2 },
	{ KAPI_DESCRIBE_GROUPS, 0, 5, 5 },
	{ KAPI_LIST_GROUPS, 0, 4, 3 },
	{ KAPI_DELETE_TOPICS, 0, 5, 4 },
	{ KAPI_DELETE_RECORDS, 0, 2, 2 },
	{ KAPI_DESCRIBE_CONFIGS, 0, 4, 4 },
	{ KAPI_ALTER_CONFIGS, 0, 2, 2 },
	{ KAPI_DESCRIBE_LOG_DIRS, 0, 4, 2 },
	{ KAPI_CREATE_PARTITIONS, 0, 3, 2 },
	{ KAPI_DELETE_GROUPS, 0, 2, 2 },
	{ KAPI_INCREMENTAL_ALTER_CONFIGS, 0, 1, 1 },
	{ KAPI_OFFSET_DELETE, 0, 0, INT16_MAX },
	{ KAPI_DESCRIBE_CLUSTER, 0, 0, 0 },
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

void myco__lresp_unsupported(const myco__lreq_t *req)
{
	myco__kwr_t w;
	int16_t v = req->ver;
	bool f = req->flex;
	const int16_t E = KERR_UNSUPPORTED_VERSION;

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
			myco__kwr_bytes(&w, f, NULL, 0); /* empty assignment */
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

static void h_api_versions(const myco__lreq_t *req, int decode_rc)
{
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	api_versions_body(&w, req->ver, decode_rc ? KERR_INVALID_REQUEST : 0);
	myco__lresp_send(req, &w);
}

/* ---- dispatch ---------------------------------------------------------- */

/* ---- routing between shards -------------------------------------------- */

typedef struct {
	myco__lb_t *lb;
	myco__lc_t *conn;
	size_t len;
	uint8_t frame[];
} fwd_t;

static void dispatch(myco__lb_t *lb, myco__lreq_t *req, uint8_t *frame, size_t len,
		     bool routed);

/* Read the request header of frame into req (versions already checked by
 * the shard the request came in on).  0 or -EBADMSG. */
static int req_header(myco__lreq_t *req, myco__lc_t *c, uint8_t *frame, size_t len)
{
	const myco__lapi_t *api;

	memset(req, 0, sizeof(*req));
	myco__krd_init(&req->rd, frame, len);
	req->conn = c;
	req->key = myco__krd_i16(&req->rd);
	req->ver = myco__krd_i16(&req->rd);
	req->corr = myco__krd_i32(&req->rd);
	req->client_id = myco__krd_str(&req->rd, false);
	api = myco__lapi_find(req->key);
	req->flex = api && req->ver >= api->flex_from;
	return req->rd.err ? -EBADMSG : 0;
}

static void fwd_run(void *arg)
{
	fwd_t *f = arg;
	myco__lreq_t req;

	if (req_header(&req, f->conn, f->frame, f->len) == 0) {
		myco__krd_tags(&req.rd, req.flex);
		dispatch(f->lb, &req, f->frame, f->len, true);
	} else {
		myco__lc_abort(f->conn);       /* read once already: cannot happen */
	}
	free(f);
}

/* Hand req to shard `to`: true when it went (the caller is done with it).
 * Out of memory: false, and the caller runs it here. */
static bool forward(myco__lb_t *lb, const myco__lreq_t *req, const uint8_t *frame,
		    size_t len, unsigned to)
{
	fwd_t *f;

	if (lb->nsh <= 1 || to == myco__lb_here(lb)->idx)
		return false;
	f = malloc(sizeof(*f) + len);
	if (!f)
		return false;
	f->lb = lb;
	f->conn = req->conn;
	f->len = len;
	memcpy(f->frame, frame, len);
	if (lb->net.moved)
		lb->net.moved(lb->net.arg, req->conn, to);
	if (myco__lb_post(lb, to, fwd_run, f) < 0) {
		if (lb->net.moved)
			lb->net.moved(lb->net.arg, req->conn, myco__lb_here(lb)->idx);
		free(f);
		return false;
	}
	return true;
}

/* Decode the body of req once, then run its handler.  A body that does not
 * decode closes the connection (ApiVersions answers INVALID_REQUEST, as
 * KIP-511 asks).  frame/len: the whole request, for a hand-over to another
 * shard (not when routed: it is on the right one). */
static void dispatch(myco__lb_t *lb, myco__lreq_t *req, uint8_t *frame, size_t len,
		     bool routed)
{
	myco__karena_t arena;
	myco__krd_t *r = &req->rd;
	int16_t v = req->ver;
	bool f = req->flex;
	int rc;
	union {
		myco__kapi_versions_t api_versions;
		myco__kmetadata_t metadata;
		myco__kcreate_topics_t create_topics;
		myco__kinit_producer_id_t init_producer_id;
		myco__klist_offsets_t list_offsets;
		myco__kproduce_t produce;
		myco__kfetch_t fetch;
		myco__kfind_coordinator_t find_coordinator;
		myco__kjoin_group_t join_group;
		myco__ksync_group_t sync_group;
		myco__kheartbeat_t heartbeat;
		myco__kleave_group_t leave_group;
		myco__koffset_commit_t offset_commit;
		myco__koffset_fetch_t offset_fetch;
		myco__kdelete_topics_t delete_topics;
		myco__kcreate_partitions_t create_partitions;
		myco__kdescribe_configs_t describe_configs;
		myco__kalter_configs_t alter_configs;
		myco__klist_groups_t list_groups;
		myco__kdescribe_groups_t describe_groups;
		myco__kdelete_groups_t delete_groups;
		myco__koffset_delete_t offset_delete;
		myco__kdelete_records_t delete_records;
		myco__kdescribe_cluster_t describe_cluster;
		myco__kdescribe_log_dirs_t describe_log_dirs;
		myco__kadd_partitions_to_txn_t add_partitions_to_txn;
		myco__kadd_offsets_to_txn_t add_offsets_to_txn;
		myco__kend_txn_t end_txn;
		myco__ktxn_offset_commit_t txn_offset_commit;
	} m;

	if (!routed && lb->nsh > 1) {
		switch (req->key) {
		case KAPI_API_VERSIONS: case KAPI_SASL_HANDSHAKE: case KAPI_SASL_AUTHENTICATE:
		case KAPI_PRODUCE: case KAPI_FETCH: case KAPI_LIST_OFFSETS:
			break;
		default:
			/* the coordinator and the topic administration */
			if (forward(lb, req, frame, len, 0))
				return;
			break;
		}
	}
	myco__karena_init(&arena);
	switch (req->key) {
	case KAPI_API_VERSIONS:
		h_api_versions(req, myco__kdec_api_versions(r, v, f, &m.api_versions));
		return;
	case KAPI_METADATA:
		if ((rc = myco__kdec_metadata(r, v, f, &arena, &m.metadata)) == 0)
			myco__lh_metadata(lb, req, &m.metadata);
		break;
	case KAPI_CREATE_TOPICS:
		if ((rc = myco__kdec_create_topics(r, v, f, &arena, &m.create_topics)) == 0)
			myco__lh_create_topics(lb, req, &m.create_topics);
		break;
	case KAPI_INIT_PRODUCER_ID:
		if ((rc = myco__kdec_init_producer_id(r, v, f, &m.init_producer_id)) == 0)
			myco__lh_init_producer_id(lb, req, &m.init_producer_id);
		break;
	case KAPI_LIST_OFFSETS:
		if ((rc = myco__kdec_list_offsets(r, v, f, &arena, &m.list_offsets)) == 0)
			myco__lh_list_offsets(lb, req, &m.list_offsets);
		break;
	case KAPI_PRODUCE:
		if ((rc = myco__kdec_produce(r, v, f, &arena, &m.produce)) < 0)
			break;
		/* transactional: checked and appended next to its coordinator */
		if (!routed && m.produce.transactional_id.len > 0 &&
		    forward(lb, req, frame, len, 0))
			break;
		myco__lh_produce(lb, req, &m.produce);
		break;
	case KAPI_FETCH:
		if ((rc = myco__kdec_fetch(r, v, f, &arena, &m.fetch)) < 0)
			break;
		if (!routed && forward(lb, req, frame, len, myco__lfetch_route(lb, req, &m.fetch)))
			break;
		myco__lh_fetch(lb, req, &m.fetch);
		break;
	case KAPI_FIND_COORDINATOR:
		if ((rc = myco__kdec_find_coordinator(r, v, f, &m.find_coordinator)) == 0)
			myco__lh_find_coordinator(lb->groups, req, &m.find_coordinator);
		break;
	case KAPI_JOIN_GROUP:
		if ((rc = myco__kdec_join_group(r, v, f, &arena, &m.join_group)) == 0)
			myco__lh_join_group(lb->groups, req, &m.join_group);
		break;
	case KAPI_SYNC_GROUP:
		if ((rc = myco__kdec_sync_group(r, v, f, &arena, &m.sync_group)) == 0)
			myco__lh_sync_group(lb->groups, req, &m.sync_group);
		break;
	case KAPI_HEARTBEAT:
		if ((rc = myco__kdec_heartbeat(r, v, f, &m.heartbeat)) == 0)
			myco__lh_heartbeat(lb->groups, req, &m.heartbeat);
		break;
	case KAPI_LEAVE_GROUP:
		if ((rc = myco__kdec_leave_group(r, v, f, &m.leave_group)) == 0)
			myco__lh_leave_group(lb->groups, req, &m.leave_group);
		break;
	case KAPI_OFFSET_COMMIT:
		if ((rc = myco__kdec_offset_commit(r, v, f, &arena, &m.offset_commit)) == 0)
			myco__lh_offset_commit(lb->groups, req, &m.offset_commit);
		break;
	case KAPI_OFFSET_FETCH:
		if ((rc = myco__kdec_offset_fetch(r, v, f, &arena, &m.offset_fetch)) == 0)
			myco__lh_offset_fetch(lb->groups, req, &m.offset_fetch);
		break;
	case KAPI_DELETE_TOPICS:
		if ((rc = myco__kdec_delete_topics(r, v, f, &arena, &m.delete_topics)) == 0)
			myco__lh_delete_topics(lb, req, &m.delete_topics);
		break;
	case KAPI_CREATE_PARTITIONS:
		if ((rc = myco__kdec_create_partitions(r, v, f, &arena, &m.create_partitions)) == 0)
			myco__lh_create_partitions(lb, req, &m.create_partitions);
		break;
	case KAPI_DESCRIBE_CONFIGS:
		if ((rc = myco__kdec_describe_configs(r, v, f, &arena, &m.describe_configs)) == 0)
			myco__lh_describe_configs(lb, req, &m.describe_configs);
		break;
	case KAPI_ALTER_CONFIGS:
	case KAPI_INCREMENTAL_ALTER_CONFIGS:
		if ((rc = myco__kdec_alter_configs(r, v, f, req->key == KAPI_INCREMENTAL_ALTER_CONFIGS,
						   &arena, &m.alter_configs)) == 0)
			myco__lh_alter_configs(lb, req, &m.alter_configs);
		break;
	case KAPI_LIST_GROUPS:
		if ((rc = myco__kdec_list_groups(r, v, f, &arena, &m.list_groups)) == 0)
			myco__lh_list_groups(lb->groups, req, &m.list_groups);
		break;
	case KAPI_DESCRIBE_GROUPS:
		if ((rc = myco__kdec_describe_groups(r, v, f, &arena, &m.describe_groups)) == 0)
			myco__lh_describe_groups(lb->groups, req, &m.describe_groups);
		break;
	case KAPI_DELETE_GROUPS:
		if ((rc = myco__kdec_delete_groups(r, v, f, &arena, &m.delete_groups)) == 0)
			myco__lh_delete_groups(lb->groups, req, &m.delete_groups);
		break;
	case KAPI_OFFSET_DELETE:
		if ((rc = myco__kdec_offset_delete(r, v, f, &arena, &m.offset_delete)) == 0)
			myco__lh_offset_delete(lb->groups, req, &m.offset_delete);
		break;
	case KAPI_DELETE_RECORDS:
		if ((rc = myco__kdec_delete_records(r, v, f, &arena, &m.delete_records)) == 0)
			myco__lh_delete_records(lb, req, &m.delete_records);
		break;
	case KAPI_DESCRIBE_CLUSTER:
		if ((rc = myco__kdec_describe_cluster(r, v, f, &m.describe_cluster)) == 0)
			myco__lh_describe_cluster(lb, req, &m.describe_cluster);
		break;
	case KAPI_DESCRIBE_LOG_DIRS:
		if ((rc = myco__kdec_describe_log_dirs(r, v, f, &arena, &m.describe_log_dirs)) == 0)
			myco__lh_describe_log_dirs(lb, req, &m.describe_log_dirs);
		break;
	case KAPI_ADD_PARTITIONS_TO_TXN:
		if ((rc = myco__kdec_add_partitions_to_txn(r, v, f, &arena,
							   &m.add_partitions_to_txn)) == 0)
			myco__lh_add_partitions_to_txn(lb->txns, req, &m.add_partitions_to_txn);
		break;
	case KAPI_ADD_OFFSETS_TO_TXN:
		if ((rc = myco__kdec_add_offsets_to_txn(r, v, f, &m.add_offsets_to_txn)) == 0)
			myco__lh_add_offsets_to_txn(lb->txns, req, &m.add_offsets_to_txn);
		break;
	case KAPI_END_TXN:
		if ((rc = myco__kdec_end_txn(r, v, f, &m.end_txn)) == 0)
			myco__lh_end_txn(lb->txns, req, &m.end_txn);
		break;
	case KAPI_TXN_OFFSET_COMMIT:
		if ((rc = myco__kdec_txn_offset_commit(r, v, f, &arena, &m.txn_offset_commit)) == 0)
			myco__lh_txn_offset_commit(lb->txns, req, &m.txn_offset_commit);
		break;
	case KAPI_SASL_HANDSHAKE: {
		myco__kstr_t mech = myco__krd_str(r, f);
		myco__krd_tags(r, f);
		if ((rc = r->err ? -EBADMSG : 0) == 0)
			myco__lh_sasl_handshake(lb, req, mech);
		break;
	}
	case KAPI_SASL_AUTHENTICATE: {
		myco__kstr_t auth = myco__krd_bytes(r, f);
		myco__krd_tags(r, f);
		if ((rc = r->err ? -EBADMSG : 0) == 0)
			myco__lh_sasl_authenticate(lb, req, auth);
		break;
	}
	default:
		rc = 0;
		myco__lresp_unsupported(req);
		break;
	}
	if (rc < 0) {
		if (lb->cfg.verbose)
			fprintf(stderr, "myco-log: api %d v%d: malformed request (%s): closing\n",
				req->key, req->ver, rc == -ENOMEM ? "no memory" : "bad body");
		myco__lc_abort(req->conn);
	}
	myco__karena_free(&arena);
}

int myco__lb_request(myco__lb_t *lb, myco__lc_t *c, uint8_t *frame, size_t len)
{
	myco__lreq_t req;
	const myco__lapi_t *api;

	if (myco__lsasl_raw(*(myco__lsasl_t **)myco__lc_session(c))) {
		myco__lsasl_raw_token(lb, c, frame, len);
		return 0;
	}
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
	req.flex = api && req.ver >= api->flex_from;
	if (!api || req.ver < api->min || req.ver > api->max) {
		if (req.key == KAPI_API_VERSIONS)
			req.flex = false;      /* answer in v0 (KIP-511) */
		if (lb->cfg.verbose)
			fprintf(stderr, "myco-log: unsupported api %d v%d\n", req.key, req.ver);
		myco__lresp_unsupported(&req);
		return 0;
	}
	myco__krd_tags(&req.rd, req.flex);             /* request header v2 */
	if (req.rd.err)
		return -EBADMSG;
	/* a SASL listener: nothing but the handshake before authentication
	 * (Kafka closes such a connection too) */
	if (myco__lsasl_enabled() && req.key != KAPI_API_VERSIONS &&
	    req.key != KAPI_SASL_HANDSHAKE && req.key != KAPI_SASL_AUTHENTICATE &&
	    !myco__lsasl_authenticated(*(myco__lsasl_t **)myco__lc_session(c))) {
		fprintf(stderr, "myco-log: %s: api %d before SASL authentication: closing\n",
			myco__lc_peer(c), req.key);
		myco__lc_abort(c);
		return 0;
	}
	if (lb->cfg.verbose && req.key >= 0 && req.key < 64 && req.ver >= 0 && req.ver < 64 &&
	    !(atomic_fetch_or(&lb->seen[req.key], 1ull << req.ver) & (1ull << req.ver))) {
		fprintf(stderr, "myco-log: first use of api %d v%d (client %.*s)\n", req.key,
			req.ver, req.client_id.len > 0 ? (int)req.client_id.len : 0,
			req.client_id.len > 0 ? (const char *)req.client_id.p : "");
	}
	dispatch(lb, &req, frame, len, false);
	return 0;
}
