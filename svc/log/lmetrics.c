/*
 * lmetrics.c: myco-log's broker metrics through the metrics API of
 * myco/trace.h: one requests counter per Kafka API served (label `api`),
 * bytes in and out, the Produce latency histogram, and the lag of every
 * committed consumer-group offset (high watermark minus committed offset,
 * one gauge per group, topic and partition, refreshed once a second).
 * Not for: where the numbers are counted (net_rt.c calls the inline
 * updates), exporting them (the executive).  Catalogue: docs/log.md.
 */
#include "lmetrics.h"

#include "log_int.h"
#include "store.h"

#include "myco/part.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

myco__lm_t myco__lm;

/* Prometheus-style names of the APIs served (Kafka's names, snake case). */
static const struct { int16_t key; const char *name; } api_names[] = {
	{ KAPI_PRODUCE, "produce" }, { KAPI_FETCH, "fetch" },
	{ KAPI_LIST_OFFSETS, "list_offsets" }, { KAPI_METADATA, "metadata" },
	{ KAPI_OFFSET_COMMIT, "offset_commit" }, { KAPI_OFFSET_FETCH, "offset_fetch" },
	{ KAPI_FIND_COORDINATOR, "find_coordinator" }, { KAPI_JOIN_GROUP, "join_group" },
	{ KAPI_HEARTBEAT, "heartbeat" }, { KAPI_LEAVE_GROUP, "leave_group" },
	{ KAPI_SYNC_GROUP, "sync_group" }, { KAPI_DESCRIBE_GROUPS, "describe_groups" },
	{ KAPI_LIST_GROUPS, "list_groups" }, { KAPI_API_VERSIONS, "api_versions" },
	{ KAPI_CREATE_TOPICS, "create_topics" }, { KAPI_DELETE_TOPICS, "delete_topics" },
	{ KAPI_DELETE_RECORDS, "delete_records" }, { KAPI_INIT_PRODUCER_ID, "init_producer_id" },
	{ KAPI_DESCRIBE_CONFIGS, "describe_configs" }, { KAPI_ALTER_CONFIGS, "alter_configs" },
	{ KAPI_DESCRIBE_LOG_DIRS, "describe_log_dirs" },
	{ KAPI_CREATE_PARTITIONS, "create_partitions" }, { KAPI_DELETE_GROUPS, "delete_groups" },
	{ KAPI_INCREMENTAL_ALTER_CONFIGS, "incremental_alter_configs" },
	{ KAPI_OFFSET_DELETE, "offset_delete" }, { KAPI_DESCRIBE_CLUSTER, "describe_cluster" },
};

/* Lag series published so far (registered once each: a metric cannot be
 * unregistered, and the region holds 256). */
#define LAG_MAX 64
static struct lag {
	char labels[MYCO_METRIC_LABELS_MAX + 1];
	myco_metric_t m;
	bool seen;
} lags[LAG_MAX];
static size_t nlags;
static bool lag_on;
static int64_t lag_next;

static void reg(myco_metric_kind_t k, myco_metric_unit_t u, const char *name,
		const char *labels, myco_metric_t *out)
{
	/* -ENOSPC still leaves private cells in *out; -EINVAL cannot happen
	 * for these fixed names, but keep the handle usable regardless */
	if (myco_metric_register(k, u, name, labels, out) < 0 && !out->m_cells)
		(void)myco_metric_register(k, u, name, NULL, out);
}

void myco__lm_init(void)
{
	char l[64];
	size_t i;

	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_log_requests_total", "api=\"unknown\"",
	    &myco__lm.req_other);
	for (i = 0; i < 64; i++)
		myco__lm.req[i] = myco__lm.req_other;
	for (i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++) {
		snprintf(l, sizeof l, "api=\"%s\"", api_names[i].name);
		reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_log_requests_total", l,
		    &myco__lm.req[api_names[i].key]);
	}
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_BYTES, "myco_log_received_bytes_total", NULL,
	    &myco__lm.rx);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_BYTES, "myco_log_sent_bytes_total", NULL, &myco__lm.tx);
	reg(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS, "myco_log_produce_latency_seconds", NULL,
	    &myco__lm.produce_lat);
	lag_on = myco_in_system() == 1;
}

static struct lag *lag_find(const char *labels)
{
	size_t i;

	for (i = 0; i < nlags; i++)
		if (!strcmp(lags[i].labels, labels))
			return &lags[i];
	if (nlags == LAG_MAX)
		return NULL;
	/* a group or topic name that cannot be a label value (", \, control
	 * bytes, too long) gets no series */
	if (myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "myco_log_consumer_group_lag",
				 labels, &lags[nlags].m) < 0)
		return NULL;
	memcpy(lags[nlags].labels, labels, strlen(labels) + 1);   /* <= 127: register checked it */
	return &lags[nlags++];
}

static void lag_group(myco__lb_t *lb, const char *group)
{
	mls_group_offset *offs = NULL;
	size_t n = 0, i;

	if (mls_group_list(lb->st, group, &offs, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		char labels[640];   /* names up to 255 and 249 bytes: over the limit, skipped */
		mls_partition_t *p;
		mls_offsets o;
		struct lag *lg;
		int k;

		if (offs[i].offset < 0 ||
		    mls_partition_get(lb->st, offs[i].topic, offs[i].partition, &p) < 0)
			continue;
		k = mls_partition_offsets(p, &o);
		mls_partition_put(p);
		if (k < 0)
			continue;
		k = snprintf(labels, sizeof labels, "group=\"%.255s\",topic=\"%.249s\",topic_partition=\"%d\"",
			     group, offs[i].topic, (int)offs[i].partition);
		if (k < 0 || (size_t)k > MYCO_METRIC_LABELS_MAX || !(lg = lag_find(labels)))
			continue;
		myco_gauge_set(&lg->m, o.high_watermark > offs[i].offset
				       ? o.high_watermark - offs[i].offset : 0);
		lg->seen = true;
	}
	free(offs);
}

void myco__lm_tick(myco__lb_t *lb)
{
	char **names = NULL;
	size_t n = 0, i;
	int64_t now;

	if (!lag_on)
		return;
	now = myco__lnow_ms();
	if (now < lag_next)
		return;
	lag_next = now + 1000;
	if (mls_group_names(lb->st, &names, &n) < 0)
		return;
	for (i = 0; i < nlags; i++)
		lags[i].seen = false;
	for (i = 0; i < n; i++)
		lag_group(lb, names[i]);
	free(names);
	/* offsets deleted since (DeleteGroups, OffsetDelete): no lag left */
	for (i = 0; i < nlags; i++)
		if (!lags[i].seen)
			myco_gauge_set(&lags[i].m, 0);
}
