/*
 * kmsg.h: the Kafka requests myco-log serves, each decoded once, in one
 * pass, into a struct: the dispatcher decodes the body before any handler
 * runs, and handlers read fields, never bytes.  Field names follow the
 * official message definitions (Apache Kafka's
 * clients/src/main/resources/common/message/<Name>Request.json); a field a
 * version does not carry holds its default (noted per field).
 * Not for: meaning (handlers), responses (kproto.h's writer), sockets.
 *
 * Memory: strings and byte fields borrow the request frame (valid while the
 * frame is); arrays come from a myco__karena_t that the caller frees after
 * the handler returns.  A handler that keeps a request beyond the call
 * (a parked Fetch, a Produce waiting for fsync, a parked JoinGroup) copies
 * what it needs.
 *
 * Errors: a decoder returns 0, or -EBADMSG when the body is malformed
 * (short, a bad length, an implausible array count: the reader's checks in
 * kproto.c), or -ENOMEM; the dispatcher then closes the connection, as
 * Kafka does with a request it cannot parse.
 */
#ifndef MYCO_LOG_KMSG_H
#define MYCO_LOG_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kproto.h"

/* ---- arena ------------------------------------------------------------- */

/* Bump allocator for one request's arrays: the first KARENA_INLINE bytes
 * live in the struct itself (no malloc for small requests), the rest in
 * heap chunks freed together by myco__karena_free(). */
#define MYCO__KARENA_INLINE 1024
typedef struct myco__karena {
	size_t used;
	struct myco__kchunk *chunks;
	_Alignas(8) uint8_t inline_buf[MYCO__KARENA_INLINE];
} myco__karena_t;

void myco__karena_init(myco__karena_t *a);
/* n zeroed bytes aligned to 8; NULL when out of memory. */
void *myco__karena_alloc(myco__karena_t *a, size_t n);
void myco__karena_free(myco__karena_t *a);

/* ---- decoded requests -------------------------------------------------- */

/* ApiVersions (v3+: client software name and version). */
typedef struct {
	myco__kstr_t client_software_name, client_software_version;
} myco__kapi_versions_t;

/* Metadata. */
typedef struct {
	int32_t ntopics;               /* -1: all topics (v0: an empty array) */
	myco__kstr_t *topics;          /* names */
	bool allow_auto_topic_creation; /* v4+; true before */
} myco__kmetadata_t;

/* A configuration entry (CreateTopics, AlterConfigs...). */
typedef struct {
	myco__kstr_t name, value;     /* value may be null */
} myco__kconfig_t;

/* CreateTopics. */
typedef struct {
	myco__kstr_t name;
	int32_t num_partitions;       /* -1: from assignments or the default */
	int16_t replication_factor;   /* -1: the default */
	int32_t nassignments;         /* manual assignments given */
	int32_t max_assignment_replicas; /* longest broker list among them */
	int32_t nconfigs;
	myco__kconfig_t *configs;
} myco__kcreatable_topic_t;

typedef struct {
	int32_t ntopics;
	myco__kcreatable_topic_t *topics;
	int32_t timeout_ms;
	bool validate_only;           /* v1+ */
} myco__kcreate_topics_t;

/* InitProducerId. */
typedef struct {
	myco__kstr_t transactional_id; /* null for idempotent producers */
	int32_t transaction_timeout_ms;
	int64_t producer_id;           /* v3+; -1 before */
	int16_t producer_epoch;        /* v3+; -1 before */
} myco__kinit_producer_id_t;

/* ListOffsets. */
typedef struct {
	int32_t partition_index;
	int32_t current_leader_epoch; /* v4+; -1 before */
	int64_t timestamp;
	int32_t max_num_offsets;      /* v0 only; 1 after */
} myco__klist_offsets_partition_t;

typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	myco__klist_offsets_partition_t *partitions;
} myco__klist_offsets_topic_t;

typedef struct {
	int32_t replica_id;
	int8_t isolation_level;       /* v2+; 0 before */
	int32_t ntopics;
	myco__klist_offsets_topic_t *topics;
} myco__klist_offsets_t;

/* Produce.  records points into the (writable) frame: the store appends
 * the batches from there and rewrites their base offset in place. */
typedef struct {
	int32_t index;
	myco__kstr_t records;         /* null records: p NULL */
} myco__kproduce_partition_t;

typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	myco__kproduce_partition_t *partitions;
} myco__kproduce_topic_t;

typedef struct {
	myco__kstr_t transactional_id;
	int16_t acks;
	int32_t timeout_ms;
	int32_t ntopics;
	myco__kproduce_topic_t *topics;
	size_t npartitions_total;     /* sum over topics */
} myco__kproduce_t;

/* A topic and partition indexes (AddPartitionsToTxn, Fetch's forgotten
 * topics). */
typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	int32_t *partitions;
} myco__ktxn_topic_t;

/* Fetch. */
typedef struct {
	int32_t partition;
	int32_t current_leader_epoch; /* v9+; -1 before */
	int64_t fetch_offset;
	int64_t log_start_offset;     /* v5+; -1 before */
	int32_t partition_max_bytes;
} myco__kfetch_partition_t;

typedef struct {
	myco__kstr_t topic;
	int32_t npartitions;
	myco__kfetch_partition_t *partitions;
} myco__kfetch_topic_t;

typedef struct {
	int32_t replica_id;
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;            /* v3+; INT32_MAX before */
	int8_t isolation_level;       /* v4+ */
	int32_t session_id, session_epoch; /* v7+; 0, -1 before */
	int32_t ntopics;
	myco__kfetch_topic_t *topics;
	size_t npartitions_total;
	int32_t nforgotten;           /* v7+: forgotten topics (fetch sessions) */
	myco__ktxn_topic_t *forgotten; /* their names and partitions */
	myco__kstr_t rack_id;         /* v11+ */
} myco__kfetch_t;

/* FindCoordinator (v0-v3: one key). */

typedef struct {
	myco__kstr_t key;
	int8_t key_type;              /* v1+: 0 group, 1 transaction */
} myco__kfind_coordinator_t;

/* JoinGroup. */
typedef struct {
	myco__kstr_t name;
	myco__kstr_t metadata;
} myco__kjoin_protocol_t;

typedef struct {
	myco__kstr_t group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms; /* v1+; = session timeout before */
	myco__kstr_t member_id;
	myco__kstr_t group_instance_id; /* v5+; null before */
	myco__kstr_t protocol_type;
	int32_t nprotocols;
	myco__kjoin_protocol_t *protocols;
} myco__kjoin_group_t;

/* SyncGroup. */
typedef struct {
	myco__kstr_t member_id;
	myco__kstr_t assignment;
} myco__ksync_assignment_t;

typedef struct {
	myco__kstr_t group_id;
	int32_t generation_id;
	myco__kstr_t member_id;
	myco__kstr_t group_instance_id; /* v3+ */
	myco__kstr_t protocol_type, protocol_name; /* v5+ */
	int32_t nassignments;
	myco__ksync_assignment_t *assignments;
} myco__ksync_group_t;

/* Heartbeat. */
typedef struct {
	myco__kstr_t group_id;
	int32_t generation_id;
	myco__kstr_t member_id;
	myco__kstr_t group_instance_id; /* v3+ */
} myco__kheartbeat_t;

/* LeaveGroup (v0-v2: one member). */
typedef struct {
	myco__kstr_t group_id;
	myco__kstr_t member_id;
} myco__kleave_group_t;

/* OffsetCommit. */
typedef struct {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v6+; -1 before */
	myco__kstr_t committed_metadata; /* nullable */
} myco__koffset_commit_partition_t;

typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	myco__koffset_commit_partition_t *partitions;
} myco__koffset_commit_topic_t;

typedef struct {
	myco__kstr_t group_id;
	int32_t generation_id;        /* v1+; -1 before */
	myco__kstr_t member_id;       /* v1+; null before */
	myco__kstr_t group_instance_id; /* v7+ */
	int32_t ntopics;
	myco__koffset_commit_topic_t *topics;
	size_t npartitions_total;
} myco__koffset_commit_t;

/* OffsetFetch (v0-v7: one group). */
typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	int32_t *partition_indexes;
} myco__koffset_fetch_topic_t;

typedef struct {
	myco__kstr_t group_id;
	int32_t ntopics;              /* -1 (v2+): every committed offset */
	myco__koffset_fetch_topic_t *topics;
	bool require_stable;          /* v7+ */
} myco__koffset_fetch_t;


/* ---- admin requests ---------------------------------------------------- */

/* A list of names (DeleteTopics, DescribeGroups, DeleteGroups,
 * ListGroups' states filter). */
typedef struct {
	int32_t n;                    /* -1: null */
	myco__kstr_t *names;
} myco__knames_t;

/* DeleteTopics (v0-v5: names). */
typedef struct {
	myco__knames_t topic_names;
	int32_t timeout_ms;
} myco__kdelete_topics_t;

/* CreatePartitions. */
typedef struct {
	myco__kstr_t name;
	int32_t count;
	int32_t nassignments;         /* -1: null */
	int32_t max_assignment_replicas;
} myco__kcreate_partitions_topic_t;

typedef struct {
	int32_t ntopics;
	myco__kcreate_partitions_topic_t *topics;
	int32_t timeout_ms;
	bool validate_only;
} myco__kcreate_partitions_t;

/* DescribeConfigs. */
typedef struct {
	int8_t resource_type;         /* 2 topic, 4 broker, 8 broker logger */
	myco__kstr_t resource_name;
	myco__knames_t configuration_keys; /* n -1: all */
} myco__kdescribe_configs_resource_t;

typedef struct {
	int32_t nresources;
	myco__kdescribe_configs_resource_t *resources;
	bool include_synonyms;        /* v1+ */
	bool include_documentation;   /* v3+ */
} myco__kdescribe_configs_t;

/* AlterConfigs and IncrementalAlterConfigs (operation: 0 set, 1 delete,
 * 2 append, 3 subtract; always 0 for AlterConfigs). */
typedef struct {
	myco__kstr_t name, value;
	int8_t operation;
} myco__kalter_config_t;

typedef struct {
	int8_t resource_type;
	myco__kstr_t resource_name;
	int32_t nconfigs;
	myco__kalter_config_t *configs;
} myco__kalter_configs_resource_t;

typedef struct {
	int32_t nresources;
	myco__kalter_configs_resource_t *resources;
	bool validate_only;
} myco__kalter_configs_t;

/* ListGroups. */
typedef struct {
	myco__knames_t states_filter; /* v4+; n 0: no filter */
} myco__klist_groups_t;

/* DescribeGroups. */
typedef struct {
	myco__knames_t groups;
	bool include_authorized_operations; /* v3+ */
} myco__kdescribe_groups_t;

/* DeleteGroups. */
typedef struct {
	myco__knames_t groups_names;
} myco__kdelete_groups_t;

/* OffsetDelete and DeleteRecords: topics of partitions (offset: the
 * DeleteRecords target, -1 for OffsetDelete). */
typedef struct {
	int32_t partition_index;
	int64_t offset;
} myco__kpart_offset_t;

typedef struct {
	myco__kstr_t name;
	int32_t npartitions;
	myco__kpart_offset_t *partitions;
} myco__ktopic_parts_t;

typedef struct {
	myco__kstr_t group_id;
	int32_t ntopics;
	myco__ktopic_parts_t *topics;
} myco__koffset_delete_t;

typedef struct {
	int32_t ntopics;
	myco__ktopic_parts_t *topics;
	int32_t timeout_ms;
} myco__kdelete_records_t;

/* DescribeCluster (v0). */
typedef struct {
	bool include_cluster_authorized_operations;
} myco__kdescribe_cluster_t;

/* DescribeLogDirs: topics (partitions as indexes, offset unused); ntopics
 * -1: every topic. */
typedef struct {
	int32_t ntopics;
	myco__ktopic_parts_t *topics;
} myco__kdescribe_log_dirs_t;

/* ---- transactions ------------------------------------------------------ */

/* The producer a transaction request names (all four below). */
typedef struct {
	myco__kstr_t transactional_id;
	int64_t producer_id;
	int16_t producer_epoch;
} myco__ktxn_producer_t;

/* AddPartitionsToTxn (v0-v3: one transaction): topics as myco__ktxn_topic_t. */

typedef struct {
	myco__ktxn_producer_t txn;
	int32_t ntopics;
	myco__ktxn_topic_t *topics;
} myco__kadd_partitions_to_txn_t;

/* AddOffsetsToTxn. */
typedef struct {
	myco__ktxn_producer_t txn;
	myco__kstr_t group_id;
} myco__kadd_offsets_to_txn_t;

/* EndTxn. */
typedef struct {
	myco__ktxn_producer_t txn;
	bool committed;
} myco__kend_txn_t;

/* TxnOffsetCommit: partitions as in OffsetCommit. */
typedef struct {
	myco__ktxn_producer_t txn;
	myco__kstr_t group_id;
	int32_t generation_id;        /* v3+; -1 before */
	myco__kstr_t member_id;       /* v3+; null before */
	myco__kstr_t group_instance_id; /* v3+; null before */
	int32_t ntopics;
	myco__koffset_commit_topic_t *topics;
	size_t npartitions_total;
} myco__ktxn_offset_commit_t;

/* Decoders: r positioned at the body of a request of version ver (flex:
 * flexible encoding).  Arrays are taken from a.  0, -EBADMSG, -ENOMEM. */
int myco__kdec_api_versions(myco__krd_t *r, int16_t ver, bool flex, myco__kapi_versions_t *m);
int myco__kdec_metadata(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			myco__kmetadata_t *m);
int myco__kdec_create_topics(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			     myco__kcreate_topics_t *m);
int myco__kdec_init_producer_id(myco__krd_t *r, int16_t ver, bool flex,
				myco__kinit_producer_id_t *m);
int myco__kdec_list_offsets(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			    myco__klist_offsets_t *m);
int myco__kdec_produce(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
		       myco__kproduce_t *m);
int myco__kdec_fetch(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
		     myco__kfetch_t *m);
int myco__kdec_find_coordinator(myco__krd_t *r, int16_t ver, bool flex,
				myco__kfind_coordinator_t *m);
int myco__kdec_join_group(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			  myco__kjoin_group_t *m);
int myco__kdec_sync_group(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			  myco__ksync_group_t *m);
int myco__kdec_heartbeat(myco__krd_t *r, int16_t ver, bool flex, myco__kheartbeat_t *m);
int myco__kdec_leave_group(myco__krd_t *r, int16_t ver, bool flex, myco__kleave_group_t *m);
int myco__kdec_offset_commit(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			     myco__koffset_commit_t *m);
int myco__kdec_offset_fetch(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			    myco__koffset_fetch_t *m);

int myco__kdec_delete_topics(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			     myco__kdelete_topics_t *m);
int myco__kdec_create_partitions(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
				 myco__kcreate_partitions_t *m);
int myco__kdec_describe_configs(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
				myco__kdescribe_configs_t *m);
/* incremental: IncrementalAlterConfigs (an operation per config). */
int myco__kdec_alter_configs(myco__krd_t *r, int16_t ver, bool flex, bool incremental,
			     myco__karena_t *a, myco__kalter_configs_t *m);
int myco__kdec_list_groups(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			   myco__klist_groups_t *m);
int myco__kdec_describe_groups(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			       myco__kdescribe_groups_t *m);
int myco__kdec_delete_groups(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			     myco__kdelete_groups_t *m);
int myco__kdec_offset_delete(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			     myco__koffset_delete_t *m);
int myco__kdec_delete_records(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
			      myco__kdelete_records_t *m);
int myco__kdec_describe_cluster(myco__krd_t *r, int16_t ver, bool flex,
				myco__kdescribe_cluster_t *m);
int myco__kdec_describe_log_dirs(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
				 myco__kdescribe_log_dirs_t *m);
int myco__kdec_add_partitions_to_txn(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
				     myco__kadd_partitions_to_txn_t *m);
int myco__kdec_add_offsets_to_txn(myco__krd_t *r, int16_t ver, bool flex,
				  myco__kadd_offsets_to_txn_t *m);
int myco__kdec_end_txn(myco__krd_t *r, int16_t ver, bool flex, myco__kend_txn_t *m);
int myco__kdec_txn_offset_commit(myco__krd_t *r, int16_t ver, bool flex, myco__karena_t *a,
				 myco__ktxn_offset_commit_t *m);

#endif /* MYCO_LOG_KMSG_H */
