/*
 * log_int.h: what the modules of myco-log share: the broker state, the
 * request context handed to API handlers, the connection interface the
 * network layer implements, Kafka error codes and API keys.
 * Not for: the wire codec (kproto.h) or storage (store/store.h).
 *
 * Threading: the broker core is single-threaded; every function here runs
 * on the broker's one loop thread.  The network layer hands each request
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

#include "kproto.h"

/* Kafka API keys served. */
enum {
	KAPI_PRODUCE = 0, KAPI_FETCH = 1, KAPI_LIST_OFFSETS = 2, KAPI_METADATA = 3,
	KAPI_OFFSET_COMMIT = 8, KAPI_OFFSET_FETCH = 9, KAPI_FIND_COORDINATOR = 10,
	KAPI_JOIN_GROUP = 11, KAPI_HEARTBEAT = 12, KAPI_LEAVE_GROUP = 13,
	KAPI_SYNC_GROUP = 14, KAPI_API_VERSIONS = 18, KAPI_CREATE_TOPICS = 19,
	KAPI_INIT_PRODUCER_ID = 22,
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
	KERR_KAFKA_STORAGE_ERROR = 56, KERR_UNKNOWN_PRODUCER_ID = 59,
	KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, KERR_INVALID_RECORD = 87,
	KERR_GROUP_ID_NOT_FOUND = 69,
};

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
} myco__lcfg_t;

typedef struct myco__lb myco__lb_t;
typedef struct myco__lgroups myco__lgroups_t;

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
/* The connection is going away: forget parked requests on it. */
void myco__lb_conn_closed(myco__lb_t *lb, myco__lc_t *c);
/* Run timers (fetch deadlines, group timeouts, fsync interval).  Returns
 * ms until the next deadline (<= 1000). */
int myco__lb_tick(myco__lb_t *lb);
int64_t myco__lnow_ms(void);

/* Response helpers: start a response (header for req) in w. */
void myco__lresp_begin(myco__kwr_t *w, const myco__lreq_t *req);
/* Answer with w and free it; on writer error, close the connection. */
void myco__lresp_send(const myco__lreq_t *req, myco__kwr_t *w);
/* Answer an unsupported version/API with an error in the closest shape. */
void myco__lresp_unsupported(myco__lb_t *lb, const myco__lreq_t *req);

/* Group coordinator (group.c). */
int myco__lgroups_new(myco__lb_t *lb, myco__lgroups_t **out);
void myco__lgroups_free(myco__lgroups_t *g);
void myco__lgroups_conn_closed(myco__lgroups_t *g, myco__lc_t *c);
int myco__lgroups_tick(myco__lgroups_t *g, int64_t now);
void myco__lh_find_coordinator(myco__lb_t *lb, myco__lreq_t *req);
void myco__lh_join_group(myco__lgroups_t *g, myco__lreq_t *req);
void myco__lh_sync_group(myco__lgroups_t *g, myco__lreq_t *req);
void myco__lh_heartbeat(myco__lgroups_t *g, myco__lreq_t *req);
void myco__lh_leave_group(myco__lgroups_t *g, myco__lreq_t *req);
void myco__lh_offset_commit(myco__lb_t *lb, myco__lgroups_t *g, myco__lreq_t *req);
void myco__lh_offset_fetch(myco__lb_t *lb, myco__lgroups_t *g, myco__lreq_t *req);

const myco__lcfg_t *myco__lb_cfg(const myco__lb_t *lb);

#endif /* MYCO_LOG_INT_H */
