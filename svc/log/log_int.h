/*
 * log_int.h: what the modules of myco-log share: the broker state, the
 * request context handed to API handlers, the connection interface the
 * network layer implements, Kafka error codes and API keys, and the
 * handlers of each file.  Not for: the wire codec (kproto.h), decoded
 * requests (kmsg.h) or storage (store/store.h).
 *
 * The modules, each calling only downwards:
 *   net_rt.c    sockets; hands each frame to myco__lb_request()
 *   dispatch.c  request header, decode of the body (kmsg.c), routing,
 *               ApiVersions, answers for unsupported versions
 *   produce.c   Produce; metadata.c Metadata, CreateTopics, ListOffsets,
 *               InitProducerId; fetch.c Fetch (long polling); group.c the
 *               group coordinator and its APIs
 *   broker.c    broker lifetime, timers, cross-thread completions
 *   repl.c      cluster mode: replication on raft (repl.h); the handlers
 *               call its hooks when cfg.repl is set
 *   reply.c     response framing, error mapping, names (used by all)
 *
 * Threading: the broker runs on one or more runtime loops (--loops), each
 * with a shard (myco__lshard_t) of its own: the requests parked there
 * (Produce waiting for fsync, long-polling Fetch) and the completions the
 * store hands back to it.  A partition belongs to one shard
 * (myco__lb_owner): ordinary Produce appends to it run there only.  The
 * coordinator state (groups, transactions, fetch sessions, topic
 * administration) lives on shard 0, the home shard: dispatch.c forwards
 * such requests there whole.  Handlers may answer a request from any
 * shard; the network layer carries the answer back to the connection's
 * loop.  Without a network layer (unit tests, fuzzing) there is one shard
 * and everything runs on the caller's thread.  The network layer hands each request
 * over with its own myco__lc_t handle (a "request slot"); a handler may park
 * a request (JoinGroup, SyncGroup, long-poll Fetch, Produce waiting for
 * fsync) and answer it later through that handle.  Answers leave in request
 * order.  Only Produce requests overlap on one connection (net_rt.c);
 * anything else runs alone, as in Kafka, which mutes a channel until it has
 * answered.  myco__lb_conn_closed() is called for every unanswered handle
 * when its connection goes away.
 */
#ifndef MYCO_LOG_INT_H
#define MYCO_LOG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>
#include <stdatomic.h>

#include "kmsg.h"
#include "kproto.h"
#include "store.h"

/* Kafka API keys served. */
enum {
	KAPI_PRODUCE = 0, KAPI_FETCH = 1, KAPI_LIST_OFFSETS = 2, KAPI_METADATA = 3,
	KAPI_OFFSET_COMMIT = 8, KAPI_OFFSET_FETCH = 9, KAPI_FIND_COORDINATOR = 10,
	KAPI_JOIN_GROUP = 11, KAPI_HEARTBEAT = 12, KAPI_LEAVE_GROUP = 13,
	KAPI_SYNC_GROUP = 14, KAPI_DESCRIBE_GROUPS = 15, KAPI_LIST_GROUPS = 16,
	KAPI_API_VERSIONS = 18, KAPI_CREATE_TOPICS = 19, KAPI_DELETE_TOPICS = 20,
	KAPI_DELETE_RECORDS = 21, KAPI_INIT_PRODUCER_ID = 22,
	KAPI_ADD_PARTITIONS_TO_TXN = 24, KAPI_ADD_OFFSETS_TO_TXN = 25, KAPI_END_TXN = 26,
	KAPI_TXN_OFFSET_COMMIT = 28, KAPI_SASL_HANDSHAKE = 17, KAPI_SASL_AUTHENTICATE = 36,
	KAPI_DESCRIBE_CONFIGS = 32, KAPI_ALTER_CONFIGS = 33,
	KAPI_DESCRIBE_LOG_DIRS = 35, KAPI_CREATE_PARTITIONS = 37,
	KAPI_DELETE_GROUPS = 42, KAPI_INCREMENTAL_ALTER_CONFIGS = 44,
	KAPI_OFFSET_DELETE = 47, KAPI_DESCRIBE_CLUSTER = 60,
};

/* Kafka error codes used. */
enum {
	KERR_UNKNOWN_SERVER_ERROR = -1, KERR_NONE = 0,
	KERR_OFFSET_OUT_OF_RANGE = 1, KERR_CORRUPT_MESSAGE = 2,
	KERR_UNKNOWN_TOPIC_OR_PARTITION = 3, KERR_MESSAGE_TOO_LARGE = 10,
	KERR_COORDINATOR_NOT_AVAILABLE = 15, KERR_NOT_COORDINATOR = 16,
	KERR_INVALID_TOPIC_EXCEPTION = 17, KERR_INVALID_REQUIRED_ACKS = 21,
	KERR_ILLEGAL_GENERATION = 22, KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KERR_INVALID_GROUP_ID = 24, KERR_UNKNOWN_MEMBER_ID = 25,
	KERR_INVALID_SESSION_TIMEOUT = 26, KERR_REBALANCE_IN_PROGRESS = 27,
	KERR_UNSUPPORTED_VERSION = 35, KERR_TOPIC_ALREADY_EXISTS = 36,
	KERR_INVALID_PARTITIONS = 37, KERR_INVALID_REPLICATION_FACTOR = 38,
	KERR_INVALID_REQUEST = 42, KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KERR_DUPLICATE_SEQUENCE_NUMBER = 46, KERR_INVALID_PRODUCER_EPOCH = 47,
	KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
	KERR_UNSTABLE_OFFSET_COMMIT = 88,
	KERR_KAFKA_STORAGE_ERROR = 56, KERR_UNKNOWN_PRODUCER_ID = 59,
	KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, KERR_INVALID_RECORD = 87,
	KERR_GROUP_ID_NOT_FOUND = 69, KERR_INVALID_REPLICA_ASSIGNMENT = 39,
	KERR_INVALID_CONFIG = 40, KERR_POLICY_VIOLATION = 44,
	KERR_NON_EMPTY_GROUP = 68, KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
	KERR_TOPIC_DELETION_DISABLED = 73, KERR_OFFSET_METADATA_TOO_LARGE = 12,
	KERR_LEADER_NOT_AVAILABLE = 5, KERR_NOT_LEADER_OR_FOLLOWER = 6,
	KERR_REQUEST_TIMED_OUT = 7, KERR_NOT_ENOUGH_REPLICAS = 19,
	KERR_NOT_CONTROLLER = 41,
};

/* The ConfigResource types of DescribeConfigs/AlterConfigs. */
enum { KRES_TOPIC = 2, KRES_BROKER = 4, KRES_BROKER_LOGGER = 8 };

/* Supported version range of one API. */
typedef struct {
	int16_t key, min, max;
	int16_t flex_from;    /* first flexible version (INT16_MAX: none served) */
} myco__lapi_t;

extern const myco__lapi_t myco__lapis[];
extern const int myco__nlapis;
const myco__lapi_t *myco__lapi_find(int16_t key);

/* A request slot of a connection, owned by the network layer. */
typedef struct myco__lc myco__lc_t;

/* Network layer -> broker side: hand over the response to the request in
 * flight on c (ownership of *w moves: w is left empty), then read the next
 * request.  Safe to call from inside myco__lb_request(). */
void myco__lc_send(myco__lc_t *c, myco__kwr_t *w);
/* The request in flight gets no response (Produce acks=0). */
void myco__lc_noreply(myco__lc_t *c);
/* Peer address as text ("/127.0.0.1"), valid as long as the connection. */
const char *myco__lc_peer(const myco__lc_t *c);
/* Test-only fault: close c right now without answering (the broker calls
 * this for --test-drop-after-append). */
void myco__lc_abort(myco__lc_t *c);
/* The broker's per-connection pointer (SASL state), NULL at first; the
 * network layer calls myco__lb_session_free() on it when the connection
 * is gone. */
void **myco__lc_session(myco__lc_t *c);

/* The request being handled. */
typedef struct {
	myco__lc_t *conn;
	int16_t key, ver;
	int32_t corr;
	bool flex;            /* request header v2 / flexible body */
	myco__kstr_t client_id;
	myco__krd_t rd;       /* positioned at the body */
} myco__lreq_t;

/* Broker configuration (from flags/env). */
typedef struct {
	const char *host;     /* advertised host */
	int port;             /* advertised port */
	const char *data_dir;
	int fsync_mode;       /* store's fsync policy value */
	int fsync_interval_ms;
	bool auto_create;
	int default_partitions;
	int64_t segment_bytes;
	int64_t segment_ms;
	int64_t retention_ms;
	int64_t retention_bytes;
	int64_t retention_check_ms; /* 0: the default (60 s) */
	int group_initial_delay_ms;
	int test_drop_after_append; /* test-only: abort the Nth produce after append */
	int verbose;
	struct myco__lrepl *repl;   /* cluster mode (repl.h), else NULL; set
	                             * by main once raft runs */
} myco__lcfg_t;

typedef struct myco__lb myco__lb_t;
typedef struct myco__lgroups myco__lgroups_t;
typedef struct myco__ltxns myco__ltxns_t;
struct myco__lpprod;
struct myco__lpfetch;
struct myco__lfsess;
struct myco__lacomp;

#define MYCO_LOG_SHARDS_MAX 64

/* One loop's share of the broker.  Owned by that loop's thread except
 * where noted. */
typedef struct myco__lshard {
	myco__lb_t *lb;
	unsigned idx;
	pthread_t thread;               /* its loop thread (valid if attached) */
	bool attached;
	int wakefd;                     /* eventfd: other threads queued work */
	pthread_mutex_t mu;             /* guards the done list (any thread) */
	struct myco__lacomp *done_head, *done_tail; /* async appends finished */
	atomic_int hw_moved;            /* a high watermark advanced (any thread) */
	atomic_int parked;              /* fetches parked here (read by any thread) */
	struct myco__lpprod *pprods;    /* Produce requests waiting for fsync */
	struct myco__lpfetch *pfetches; /* parked (long-polling) fetches */
} myco__lshard_t;

/* How the broker reaches other loops: set by the network layer before
 * its loops run (NULL: one shard, everything inline). */
typedef struct {
	void *arg;
	/* Run fn(fnarg) on shard i's loop thread, later (FIFO per sender).
	 * 0 or -ENOMEM. */
	int (*post)(void *arg, unsigned shard, void (*fn)(void *), void *fnarg);
	/* The shard of the calling thread (0 when not a loop thread). */
	unsigned (*here)(void *arg);
	/* Request c is handed to shard i (called on its connection's loop
	 * before the post): a close of its connection is told to shard i. */
	void (*moved)(void *arg, myco__lc_t *c, unsigned shard);
} myco__lnet_ops_t;

/* The broker.  cfg and st are shared read-only by every shard; groups,
 * txns and fsess belong to shard 0. */
struct myco__lb {
	myco__lcfg_t cfg;
	mls_store_t *st;
	myco__lgroups_t *groups;
	myco__ltxns_t *txns;            /* transaction coordinator */
	myco__lnet_ops_t net;
	unsigned nsh;                   /* shards (loops), >= 1 */
	myco__lshard_t sh[MYCO_LOG_SHARDS_MAX];
	struct myco__lfsess *fsess;     /* fetch sessions (KIP-227) */
	size_t nfsess;
	int32_t fsess_next;             /* last session id handed out */
	atomic_long nproduce;           /* produce requests seen (test fault) */
	_Atomic uint64_t seen[64];      /* --verbose: versions seen per api key */
};

/* The shard of the calling thread. */
myco__lshard_t *myco__lb_here(myco__lb_t *lb);
/* The shard owning topic[part] (a hash of both; stable for a run). */
unsigned myco__lb_owner(const myco__lb_t *lb, const char *topic, int32_t part);
/* Run fn(arg) on shard i (inline when there is no network layer or i is
 * the caller's shard and inline is true).  0 or -ENOMEM (fn not run). */
int myco__lb_post(myco__lb_t *lb, unsigned i, void (*fn)(void *), void *arg);
/* Split the broker over n shards (before any request; 1..SHARDS_MAX)
 * reached through ops.  0, -EINVAL, -errno (eventfd). */
int myco__lb_shards(myco__lb_t *lb, unsigned n, const myco__lnet_ops_t *ops);
/* The calling thread is shard i's loop thread (network layer, at start). */
void myco__lb_attach(myco__lb_t *lb, unsigned i);

/* Broker lifetime.  myco__lb_open() opens the store in cfg->data_dir;
 * *out is freed by myco__lb_close(). */
int myco__lb_open(const myco__lcfg_t *cfg, myco__lb_t **out);
void myco__lb_close(myco__lb_t *lb);
/* Handle one request frame (without its 4-byte size).  The frame must be
 * writable (Produce batches are appended from it and get their base offset
 * rewritten in place) and need stay valid only during the call.  Returns 0,
 * or -EBADMSG when even the header cannot be read: the caller closes the
 * connection. */
int myco__lb_request(myco__lb_t *lb, myco__lc_t *c, uint8_t *frame, size_t len);
/* The connection is going away: forget parked requests on it.  Called on
 * the shard that handles c (its connection's, or the one it was moved to). */
void myco__lb_conn_closed(myco__lb_t *lb, myco__lc_t *c);
/* The same for shard i, from any thread once the loops have stopped. */
void myco__lb_conn_closed_on(myco__lb_t *lb, unsigned i, myco__lc_t *c);
/* A connection is gone: free its session pointer (myco__lc_session). */
void myco__lb_session_free(myco__lb_t *lb, void *session);

/* ---- sasl.c: SASL (Cyrus libsasl2) ---- */
typedef struct myco__lsasl myco__lsasl_t;
/* Read users (user:password lines) and start SASL with the mechanisms
 * (NULL: PLAIN,SCRAM-SHA-256,SCRAM-SHA-512); from then on every
 * connection must authenticate.  0, -errno, -ENOTSUP without libsasl2. */
int myco__lsasl_setup(const char *users_file, const char *mechs);
bool myco__lsasl_enabled(void);
bool myco__lsasl_authenticated(const myco__lsasl_t *s);
/* After SaslHandshake v0 the client sends bare tokens, not requests. */
bool myco__lsasl_raw(const myco__lsasl_t *s);
void myco__lsasl_raw_token(myco__lb_t *lb, myco__lc_t *conn, const uint8_t *p, size_t len);
void myco__lsasl_free(myco__lsasl_t *s);
void myco__lh_sasl_handshake(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t mechanism);
void myco__lh_sasl_authenticate(myco__lb_t *lb, myco__lreq_t *req, myco__kstr_t auth);
/* Run the calling shard's timers (fetch deadlines, completions; on shard
 * 0 also group and transaction timeouts).  Returns ms until the next
 * deadline (<= 1000). */
int myco__lb_tick(myco__lb_t *lb);
/* Wake shard sh's loop thread (from any thread). */
void myco__lb_poke(myco__lshard_t *sh);
/* Fill tc with the broker's defaults for new topics (flags over Kafka's). */
void myco__lb_topic_defaults(const myco__lb_t *lb, mls_topic_config *tc);

/* ---- reply.c ---- */
/* Monotonic milliseconds (myco_now()). */
int64_t myco__lnow_ms(void);
/* Map a store error (negative errno or -MYCO_ELOG_*) to a Kafka error. */
int16_t myco__lkerr(int rc);
/* A message for the errors whose Kafka code alone would not say what to
 * do (file descriptors, disk full), or NULL. */
const char *myco__lerrmsg(int rc);
/* Copy a wire string into a NUL-terminated topic name; false if too long,
 * null, empty or containing a NUL. */
bool myco__ltopic_name(myco__kstr_t s, char out[MLS_TOPIC_NAME_MAX + 1]);

/* Response helpers: start a response (header for req) in w. */
void myco__lresp_begin(myco__kwr_t *w, const myco__lreq_t *req);
/* Answer with w and free it; on writer error, close the connection. */
void myco__lresp_send(const myco__lreq_t *req, myco__kwr_t *w);
/* Answer an unsupported version/API with an error in the closest shape
 * (dispatch.c). */
void myco__lresp_unsupported(const myco__lreq_t *req);

/* ---- handlers: each answers req (now or later) from its decoded body --- */
/* metadata.c */
void myco__lh_metadata(myco__lb_t *lb, myco__lreq_t *req, const myco__kmetadata_t *m);
void myco__lh_create_topics(myco__lb_t *lb, myco__lreq_t *req, const myco__kcreate_topics_t *m);
void myco__lh_init_producer_id(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kinit_producer_id_t *m);
void myco__lh_list_offsets(myco__lb_t *lb, myco__lreq_t *req, const myco__klist_offsets_t *m);
/* produce.c */
void myco__lh_produce(myco__lb_t *lb, myco__lreq_t *req, const myco__kproduce_t *m);
/* Answer the produces whose async appends completed (loop thread). */
void myco__lproduce_drain(myco__lb_t *lb, myco__lshard_t *sh);
/* Free every waiting produce (broker close, after the store closed). */
void myco__lproduce_free_all(myco__lb_t *lb, myco__lshard_t *sh);
/* The connection closed: waiting produces still complete, unanswered. */
void myco__lproduce_conn_closed(myco__lb_t *lb, myco__lshard_t *sh, myco__lc_t *c);
/* admin.c: topic and cluster administration */
void myco__lh_delete_topics(myco__lb_t *lb, myco__lreq_t *req, const myco__kdelete_topics_t *m);
void myco__lh_create_partitions(myco__lb_t *lb, myco__lreq_t *req,
				const myco__kcreate_partitions_t *m);
void myco__lh_describe_configs(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kdescribe_configs_t *m);
void myco__lh_alter_configs(myco__lb_t *lb, myco__lreq_t *req, const myco__kalter_configs_t *m);
void myco__lh_delete_records(myco__lb_t *lb, myco__lreq_t *req,
			     const myco__kdelete_records_t *m);
void myco__lh_describe_cluster(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kdescribe_cluster_t *m);
void myco__lh_describe_log_dirs(myco__lb_t *lb, myco__lreq_t *req,
				const myco__kdescribe_log_dirs_t *m);
/* Apply one topic config (Kafka's name and text value) to tc, checked as
 * Kafka checks it.  0; -EINVAL (bad value: *why says what); -ENOENT (not
 * a topic config Kafka knows).  Keys Kafka knows but myco-log does not
 * act on are accepted (their value checked for its type) and not kept. */
int myco__ltopic_config_set(mls_topic_config *tc, const char *key, myco__kstr_t val,
			    const char **why);
/* fetch.c */
void myco__lh_fetch(myco__lb_t *lb, myco__lreq_t *req, const myco__kfetch_t *m);
/* Answer parked fetches that are due (deadline) or, when data_moved,
 * satisfied.  Returns the earliest remaining deadline (INT64_MAX: none). */
int64_t myco__lfetch_recheck(myco__lb_t *lb, bool data_moved, int64_t now);
void myco__lfetch_conn_closed(myco__lb_t *lb, myco__lshard_t *sh, myco__lc_t *c);
void myco__lfetch_free_all(myco__lb_t *lb, myco__lshard_t *sh);
/* The shard a Fetch should run on: 0 for fetch sessions, else the owner
 * of its partitions when they all have one, else the caller's shard. */
unsigned myco__lfetch_route(myco__lb_t *lb, const myco__lreq_t *req, const myco__kfetch_t *m);

/* Group coordinator (group.c): needs only the store and the settings. */
int myco__lgroups_new(mls_store_t *st, const myco__lcfg_t *cfg, myco__lgroups_t **out);
void myco__lgroups_free(myco__lgroups_t *g);
void myco__lgroups_conn_closed(myco__lgroups_t *g, myco__lc_t *c);
int myco__lgroups_tick(myco__lgroups_t *g, int64_t now);
void myco__lh_find_coordinator(myco__lgroups_t *g, myco__lreq_t *req,
			       const myco__kfind_coordinator_t *m);
void myco__lh_join_group(myco__lgroups_t *g, myco__lreq_t *req, const myco__kjoin_group_t *m);
void myco__lh_sync_group(myco__lgroups_t *g, myco__lreq_t *req, const myco__ksync_group_t *m);
void myco__lh_heartbeat(myco__lgroups_t *g, myco__lreq_t *req, const myco__kheartbeat_t *m);
void myco__lh_leave_group(myco__lgroups_t *g, myco__lreq_t *req, const myco__kleave_group_t *m);
void myco__lh_offset_commit(myco__lgroups_t *g, myco__lreq_t *req,
			    const myco__koffset_commit_t *m);
void myco__lh_offset_fetch(myco__lgroups_t *g, myco__lreq_t *req,
			   const myco__koffset_fetch_t *m);
void myco__lh_list_groups(myco__lgroups_t *g, myco__lreq_t *req, const myco__klist_groups_t *m);
void myco__lh_describe_groups(myco__lgroups_t *g, myco__lreq_t *req,
			      const myco__kdescribe_groups_t *m);
void myco__lh_delete_groups(myco__lgroups_t *g, myco__lreq_t *req,
			    const myco__kdelete_groups_t *m);
void myco__lh_offset_delete(myco__lgroups_t *g, myco__lreq_t *req,
			    const myco__koffset_delete_t *m);
/* OffsetFetch with require_stable asks this whether a transaction holds
 * an offset of (group, topic, partition) not yet committed or aborted. */
void myco__lgroups_set_pending(myco__lgroups_t *g,
			       bool (*fn)(void *arg, const char *group, const char *topic,
					  int32_t part), void *arg);

/* Transaction coordinator (txn.c): needs only the store and the settings.
 * Opening loads DATA/txn_state and finishes decided transactions. */
int myco__ltxns_open(mls_store_t *st, const myco__lcfg_t *cfg, myco__ltxns_t **out);
void myco__ltxns_free(myco__ltxns_t *tx);
/* Timeouts and markers waiting for fsync; ms until it wants to run again. */
int myco__ltxns_tick(myco__ltxns_t *tx, int64_t now);
/* InitProducerId with a transactional id: a Kafka error, else *pid and
 * *epoch (the epoch bumped: the previous instance is fenced). */
int16_t myco__ltxn_init(myco__ltxns_t *tx, const myco__kinit_producer_id_t *m, int64_t *pid,
			int16_t *epoch);
/* A transactional Produce to topic[part]: 0 when the producer is the
 * current one and the partition was added to its ongoing transaction. */
int16_t myco__ltxn_produce_check(myco__ltxns_t *tx, myco__kstr_t txn_id, int64_t pid,
				 int16_t epoch, const char *topic, int32_t part);
/* See myco__lgroups_set_pending (arg: the coordinator). */
bool myco__ltxn_offset_pending(void *arg, const char *group, const char *topic, int32_t part);
void myco__lh_add_partitions_to_txn(myco__ltxns_t *tx, myco__lreq_t *req,
				    const myco__kadd_partitions_to_txn_t *m);
void myco__lh_add_offsets_to_txn(myco__ltxns_t *tx, myco__lreq_t *req,
				 const myco__kadd_offsets_to_txn_t *m);
void myco__lh_txn_offset_commit(myco__ltxns_t *tx, myco__lreq_t *req,
				const myco__ktxn_offset_commit_t *m);
void myco__lh_end_txn(myco__ltxns_t *tx, myco__lreq_t *req, const myco__kend_txn_t *m);

#endif /* MYCO_LOG_INT_H */
