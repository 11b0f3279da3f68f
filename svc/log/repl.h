/*
 * repl.h: myco-log's replication: a cluster of up to three brokers on
 * canonical raft (Debian libraft, its libuv storage and TCP transport).
 * One raft group carries the cluster's metadata (topics, producer ids,
 * the in-sync replica set) and every partition's records; its leader is
 * the controller and the leader of every partition.  docs/log.md
 * ("Replication") describes the design and its guarantees.
 * Not for: consensus itself (libraft), Kafka request handling (the
 * handlers call the hooks below), storage (store/).
 *
 * Threading: raft runs on its own thread (repl.c).  The submit functions
 * are called from the broker's loop threads; their callbacks run on the
 * raft thread.  The queries read atomics and may be called from any
 * thread.
 */
#ifndef MYCO_LOG_REPL_H
#define MYCO_LOG_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>

#include "myco_peers.h"
#include "store.h"

/* The error a handler returns for a partition this broker does not lead
 * (myco__lkerr maps it to NOT_LEADER_OR_FOLLOWER). */
#define MYCO__LREPL_NOT_LEADER (-EREMOTE)
/* Fewer in-sync replicas than min.insync.replicas (NOT_ENOUGH_REPLICAS). */
#define MYCO__LREPL_FEW_REPLICAS (-ENOLINK)
/* An administrative change cluster mode does not replicate yet (delete
 * topics, add partitions, alter configs, delete records): refused with
 * POLICY_VIOLATION rather than applied to one broker only. */
#define MYCO__LREPL_UNREPLICATED (-EPROTONOSUPPORT)
#define MYCO__LREPL_UNREPLICATED_MSG "not replicated in cluster mode yet (docs/log.md)"

typedef struct myco__lrepl myco__lrepl_t;

typedef struct {
	uint64_t id;               /* --node-id: one of the peers' ids */
	const char *peers;         /* --peers: ID=HOST:PORT:RAFTPORT,... */
	const char *dir;           /* data directory (raft in DIR/raft) */
	int min_insync;            /* --min-insync-replicas (default 1) */
	unsigned election_ms;      /* raft election timeout (default 1000) */
	bool verbose;
} myco__lrepl_opts_t;

/* Parse and check the options against each other (no side effect): 0,
 * or -EINVAL with the reason in err.  myco__lrepl_start checks the same. */
int myco__lrepl_check(const myco__lrepl_opts_t *o, myco__peer_t *peers, size_t *npeers,
		      char *err, size_t errlen);
/* Start raft on store st (whose topics are dropped: the raft log holds
 * them and replays them).  0 or -errno with the reason in err. */
int myco__lrepl_start(mls_store_t *st, const myco__lrepl_opts_t *o, myco__lrepl_t **out,
		      char *err, size_t errlen);
void myco__lrepl_stop(myco__lrepl_t *r);

/* ---- queries (any thread) ---- */
/* This broker leads and has applied everything earlier leaders
 * committed: it serves produce, fetch and the controller's APIs. */
bool myco__lrepl_serving(const myco__lrepl_t *r);
/* The leader's node id as far as this broker knows, or -1. */
int32_t myco__lrepl_leader(const myco__lrepl_t *r);
int32_t myco__lrepl_self(const myco__lrepl_t *r);
/* No leader known for over two election timeouts: this broker is cut off
 * from a majority (or there is none).  Its Metadata would only say
 * "no leader", and librdkafka asks the broker it is connected to again and
 * again: such a broker closes the connection instead (metadata.c). */
bool myco__lrepl_cut_off(const myco__lrepl_t *r);
/* The raft term (Metadata's leader epoch). */
int32_t myco__lrepl_epoch(const myco__lrepl_t *r);
/* Every broker of the cluster. */
const myco__peer_t *myco__lrepl_peers(const myco__lrepl_t *r, size_t *n);
/* The in-sync replicas (node ids) as last committed through raft;
 * returns how many (at most cap are written). */
size_t myco__lrepl_isr(const myco__lrepl_t *r, int32_t *ids, size_t cap);
/* 0 when a produce with acks=all may go on (this broker serves and the
 * in-sync replicas are at least min.insync.replicas), else
 * MYCO__LREPL_NOT_LEADER or MYCO__LREPL_FEW_REPLICAS. */
int myco__lrepl_produce_check(const myco__lrepl_t *r, int acks);

/* ---- submissions (loop threads) ---- */
/* What applying a records entry gave (written before cb runs). */
typedef struct {
	int rc;                    /* first error of the batches, or 0 */
	int64_t base, lat, lso;    /* first batch's base offset, its log append
	                            * time, the log start offset */
	int32_t nbatches, ndup;    /* batches applied, idempotent duplicates */
} myco__lrepl_res_t;

/* Replicate the records section of one partition of a Produce (rec is
 * copied).  1: queued, cb(arg, rc) runs once on the raft thread: rc 0 when
 * the entry was committed and applied (res filled) and, for acks -1,
 * every in-sync replica has it; else MYCO__LREPL_NOT_LEADER (outcome
 * unknown: leadership lost).  < 0: refused at once (cb never runs). */
int myco__lrepl_produce(myco__lrepl_t *r, const char *topic, int32_t part, const void *rec,
			size_t len, int acks, myco__lrepl_res_t *res,
			void (*cb)(void *arg, int rc), void *arg);
/* Create a topic through raft and wait (at most timeout_ms) until this
 * broker applied it: 0, or a store error, MYCO__LREPL_NOT_LEADER, or
 * -ETIMEDOUT (the outcome is unknown). */
int myco__lrepl_create_topic(myco__lrepl_t *r, const char *name, int32_t parts,
			     const mls_topic_config *tc, int timeout_ms);
/* Allocate a producer id unique across the cluster (any broker: the
 * store's id, never repeated by its data directory, times 4 plus this
 * broker's place in --peers, 1..3). */
int myco__lrepl_alloc_pid(myco__lrepl_t *r, int64_t *pid);

/* ---- the entry format (fuzzed: tests/fuzz/log/fuzz_repl.c) ---- */
enum { LREPL_RECORDS = 1, LREPL_CREATE = 2, LREPL_ISR = 3 };

typedef struct {
	int type;
	const char *topic;         /* not NUL-terminated: topic_len bytes */
	size_t topic_len;
	int32_t partition;         /* RECORDS */
	const uint8_t *rec;        /* RECORDS: the records section */
	size_t rec_len;
	int32_t partitions;        /* CREATE */
	mls_topic_config tc;       /* CREATE */
	uint32_t isr_mask;         /* ISR: bit i = the i-th peer */
} myco__lrepl_entry_t;

/* Size of the encoded entry e (a multiple of 8). */
size_t myco__lrepl_entry_size(const myco__lrepl_entry_t *e);
/* Encode e into buf (myco__lrepl_entry_size bytes). */
void myco__lrepl_entry_encode(const myco__lrepl_entry_t *e, uint8_t *buf);
/* Decode: 0, or -EBADMSG (bad magic, type, length, padding, topic name
 * length or config value).  Pointers in *e point into p. */
int myco__lrepl_entry_decode(const void *p, size_t n, myco__lrepl_entry_t *e);
/* Apply a RECORDS entry to st as every replica does (the batches in
 * order; a rejected batch stops the rest, as on a single broker). */
void myco__lrepl_apply_records(mls_store_t *st, const myco__lrepl_entry_t *e,
			       myco__lrepl_res_t *res);

#endif /* MYCO_LOG_REPL_H */
