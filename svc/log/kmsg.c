/*
 * kmsg.c: one-pass decoders of the Kafka requests myco-log serves (see
 * kmsg.h), and the per-request arena their arrays live in.  Each decoder
 * follows the field order of the request's official message definition,
 * version by version; every read goes through kproto.c's bounds-checked
 * reader, and an array count is checked against the bytes left before
 * anything is allocated for it.  Not for: what the fields mean.
 */
#include "kmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------- */

struct myco__kchunk {
	struct myco__kchunk *next;
	_Alignas(8) uint8_t data[];
};

void myco__karena_init(myco__karena_t *a)
{
	a->used = 0;
	a->chunks = NULL;
}

void *myco__karena_alloc(myco__karena_t *a, size_t n)
{
	struct myco__kchunk *c;
	size_t need = (n + 7) & ~(size_t)7;

	if (need < n)
		return NULL;
	if (need <= sizeof(a->inline_buf) - a->used) {
		void *p = a->inline_buf + a->used;
		a->used += need;
		memset(p, 0, n);
		return p;
	}
	if (need > SIZE_MAX - sizeof(*c))
		return NULL;
	c = calloc(1, sizeof(*c) + need);
	if (!c)
		return NULL;
	c->next = a->chunks;
	a->chunks = c;
	return c->data;
}

void myco__karena_free(myco__karena_t *a)
{
	struct myco__kchunk *c, *n;

	for (c = a->chunks; c; c = n) {
		n = c->next;
		free(c);
	}
	a->chunks = NULL;
	a->used = 0;
}

/* An array of n elements of size sz (n > 0), or NULL (sets r->err). */
static void *arr(myco__krd_t *r, myco__karena_t *a, int32_t n, size_t sz)
{
	void *p;

	if (n <= 0 || r->err)
		return NULL;
	p = myco__karena_alloc(a, (size_t)n * sz);
	if (!p)
		r->err = -ENOMEM;
	return p;
}

static int done(myco__krd_t *r)
{
	return r->err ? (r->err == -ENOMEM ? -ENOMEM : -EBADMSG) : 0;
}

/* ---- requests ---------------------------------------------------------- */

int myco__kdec_api_versions(myco__krd_t *r, int16_t v, bool f, myco__kapi_versions_t *m)
{
	memset(m, 0, sizeof(*m));
	if (v >= 3) {
		m->client_software_name = myco__krd_str(r, f);
		m->client_software_version = myco__krd_str(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_metadata(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			myco__kmetadata_t *m)
{
	int32_t i;

	memset(m, 0, sizeof(*m));
	m->ntopics = myco__krd_array(r, f, 2);
	if (v == 0 && m->ntopics == 0)
		m->ntopics = -1;                       /* v0: empty = all */
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		if (v >= 10) {                         /* topic_id (uuid) */
			(void)myco__krd_i64(r);
			(void)myco__krd_i64(r);
		}
		m->topics[i] = myco__krd_str(r, f);
		myco__krd_tags(r, f);
	}
	m->allow_auto_topic_creation = v >= 4 ? myco__krd_i8(r) != 0 : true;
	if (v >= 8 && v <= 10)
		(void)myco__krd_i8(r);                 /* include cluster ops */
	if (v >= 8)
		(void)myco__krd_i8(r);                 /* include topic ops */
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_create_topics(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			     myco__kcreate_topics_t *m)
{
	int32_t i, j, k;

	memset(m, 0, sizeof(*m));
	m->ntopics = myco__krd_array(r, f, 2 + 4 + 2 + 4 + 4);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__kcreatable_topic_t *t = &m->topics[i];

		t->name = myco__krd_str(r, f);
		t->num_partitions = myco__krd_i32(r);
		t->replication_factor = myco__krd_i16(r);
		t->nassignments = myco__krd_array(r, f, 4);
		for (j = 0; j < t->nassignments && !r->err; j++) {
			int32_t nb;
			(void)myco__krd_i32(r);        /* partition index */
			nb = myco__krd_array(r, f, 4);
			for (k = 0; k < nb && !r->err; k++)
				(void)myco__krd_i32(r); /* broker ids */
			if (nb > t->max_assignment_replicas)
				t->max_assignment_replicas = nb;
			myco__krd_tags(r, f);
		}
		t->nconfigs = myco__krd_array(r, f, 4);
		t->configs = arr(r, a, t->nconfigs, sizeof(*t->configs));
		for (j = 0; j < t->nconfigs && !r->err; j++) {
			t->configs[j].name = myco__krd_str(r, f);
			t->configs[j].value = myco__krd_str(r, f);
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	m->timeout_ms = myco__krd_i32(r);
	if (v >= 1)
		m->validate_only = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_init_producer_id(myco__krd_t *r, int16_t v, bool f,
				myco__kinit_producer_id_t *m)
{
	m->transactional_id = myco__krd_str(r, f);
	m->transaction_timeout_ms = myco__krd_i32(r);
	m->producer_id = -1;
	m->producer_epoch = -1;
	if (v >= 3) {
		m->producer_id = myco__krd_i64(r);
		m->producer_epoch = myco__krd_i16(r);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_list_offsets(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			    myco__klist_offsets_t *m)
{
	int32_t i, j;

	memset(m, 0, sizeof(*m));
	m->replica_id = myco__krd_i32(r);
	if (v >= 2)
		m->isolation_level = myco__krd_i8(r);
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__klist_offsets_topic_t *t = &m->topics[i];

		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 12);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			myco__klist_offsets_partition_t *p = &t->partitions[j];
			p->partition_index = myco__krd_i32(r);
			p->current_leader_epoch = v >= 4 ? myco__krd_i32(r) : -1;
			p->timestamp = myco__krd_i64(r);
			p->max_num_offsets = v == 0 ? myco__krd_i32(r) : 1;
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_produce(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
		       myco__kproduce_t *m)
{
	int32_t i, j;

	(void)v;                                       /* v3..v9: one layout */
	memset(m, 0, sizeof(*m));
	m->transactional_id = myco__krd_str(r, f);
	m->acks = myco__krd_i16(r);
	m->timeout_ms = myco__krd_i32(r);
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__kproduce_topic_t *t = &m->topics[i];

		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 8);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			t->partitions[j].index = myco__krd_i32(r);
			t->partitions[j].records = myco__krd_bytes(r, f);
			myco__krd_tags(r, f);
		}
		if (t->npartitions > 0)
			m->npartitions_total += (size_t)t->npartitions;
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_fetch(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
		     myco__kfetch_t *m)
{
	int32_t i, j, n;

	memset(m, 0, sizeof(*m));
	m->replica_id = myco__krd_i32(r);
	m->max_wait_ms = myco__krd_i32(r);
	m->min_bytes = myco__krd_i32(r);
	m->max_bytes = v >= 3 ? myco__krd_i32(r) : INT32_MAX;
	if (v >= 4)
		m->isolation_level = myco__krd_i8(r);
	m->session_epoch = -1;
	if (v >= 7) {
		m->session_id = myco__krd_i32(r);
		m->session_epoch = myco__krd_i32(r);
	}
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__kfetch_topic_t *t = &m->topics[i];

		t->topic = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 16);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			myco__kfetch_partition_t *p = &t->partitions[j];
			p->partition = myco__krd_i32(r);
			p->current_leader_epoch = v >= 9 ? myco__krd_i32(r) : -1;
			p->fetch_offset = myco__krd_i64(r);
			p->log_start_offset = v >= 5 ? myco__krd_i64(r) : -1;
			p->partition_max_bytes = myco__krd_i32(r);
			myco__krd_tags(r, f);
		}
		if (t->npartitions > 0)
			m->npartitions_total += (size_t)t->npartitions;
		myco__krd_tags(r, f);
	}
	if (v >= 7) {
		m->nforgotten = myco__krd_array(r, f, 6);
		m->forgotten = arr(r, a, m->nforgotten, sizeof(*m->forgotten));
		for (i = 0; i < m->nforgotten && !r->err; i++) {
			m->forgotten[i].name = myco__krd_str(r, f);
			n = myco__krd_array(r, f, 4);
			m->forgotten[i].npartitions = n;
			m->forgotten[i].partitions = arr(r, a, n, sizeof(int32_t));
			for (j = 0; j < n && !r->err; j++)
				m->forgotten[i].partitions[j] = myco__krd_i32(r);
			myco__krd_tags(r, f);
		}
	}
	if (v >= 11)
		m->rack_id = myco__krd_str(r, f);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_find_coordinator(myco__krd_t *r, int16_t v, bool f,
				myco__kfind_coordinator_t *m)
{
	m->key = myco__krd_str(r, f);
	m->key_type = v >= 1 ? myco__krd_i8(r) : 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_join_group(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			  myco__kjoin_group_t *m)
{
	int32_t i;

	memset(m, 0, sizeof(*m));
	m->group_id = myco__krd_str(r, f);
	m->session_timeout_ms = myco__krd_i32(r);
	m->rebalance_timeout_ms = v >= 1 ? myco__krd_i32(r) : m->session_timeout_ms;
	m->member_id = myco__krd_str(r, f);
	m->group_instance_id = (myco__kstr_t){ NULL, -1 };
	if (v >= 5)
		m->group_instance_id = myco__krd_str(r, f);
	m->protocol_type = myco__krd_str(r, f);
	m->nprotocols = myco__krd_array(r, f, 6);
	m->protocols = arr(r, a, m->nprotocols, sizeof(*m->protocols));
	for (i = 0; i < m->nprotocols && !r->err; i++) {
		m->protocols[i].name = myco__krd_str(r, f);
		m->protocols[i].metadata = myco__krd_bytes(r, f);
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_sync_group(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			  myco__ksync_group_t *m)
{
	int32_t i;

	memset(m, 0, sizeof(*m));
	m->group_id = myco__krd_str(r, f);
	m->generation_id = myco__krd_i32(r);
	m->member_id = myco__krd_str(r, f);
	m->group_instance_id = (myco__kstr_t){ NULL, -1 };
	if (v >= 3)
		m->group_instance_id = myco__krd_str(r, f);
	if (v >= 5) {
		m->protocol_type = myco__krd_str(r, f);
		m->protocol_name = myco__krd_str(r, f);
	}
	m->nassignments = myco__krd_array(r, f, 6);
	m->assignments = arr(r, a, m->nassignments, sizeof(*m->assignments));
	for (i = 0; i < m->nassignments && !r->err; i++) {
		m->assignments[i].member_id = myco__krd_str(r, f);
		m->assignments[i].assignment = myco__krd_bytes(r, f);
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_heartbeat(myco__krd_t *r, int16_t v, bool f, myco__kheartbeat_t *m)
{
	m->group_id = myco__krd_str(r, f);
	m->generation_id = myco__krd_i32(r);
	m->member_id = myco__krd_str(r, f);
	m->group_instance_id = (myco__kstr_t){ NULL, -1 };
	if (v >= 3)
		m->group_instance_id = myco__krd_str(r, f);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_leave_group(myco__krd_t *r, int16_t v, bool f, myco__kleave_group_t *m)
{
	(void)v;                                       /* v0..v2: one member */
	m->group_id = myco__krd_str(r, f);
	m->member_id = myco__krd_str(r, f);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_offset_commit(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			     myco__koffset_commit_t *m)
{
	int32_t i, j;

	memset(m, 0, sizeof(*m));
	m->group_id = myco__krd_str(r, f);
	m->generation_id = -1;
	m->member_id = (myco__kstr_t){ NULL, -1 };
	m->group_instance_id = (myco__kstr_t){ NULL, -1 };
	if (v >= 1) {
		m->generation_id = myco__krd_i32(r);
		m->member_id = myco__krd_str(r, f);
	}
	if (v >= 7)
		m->group_instance_id = myco__krd_str(r, f);
	if (v >= 2 && v <= 4)
		(void)myco__krd_i64(r);                /* retention_time_ms */
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__koffset_commit_topic_t *t = &m->topics[i];

		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 14);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			myco__koffset_commit_partition_t *p = &t->partitions[j];
			p->partition_index = myco__krd_i32(r);
			p->committed_offset = myco__krd_i64(r);
			p->committed_leader_epoch = v >= 6 ? myco__krd_i32(r) : -1;
			if (v == 1)
				(void)myco__krd_i64(r); /* commit_timestamp */
			p->committed_metadata = myco__krd_str(r, f);
			myco__krd_tags(r, f);
		}
		if (t->npartitions > 0)
			m->npartitions_total += (size_t)t->npartitions;
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_offset_fetch(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			    myco__koffset_fetch_t *m)
{
	int32_t i, j;

	memset(m, 0, sizeof(*m));
	m->group_id = myco__krd_str(r, f);
	m->ntopics = myco__krd_array(r, f, 6);
	if (m->ntopics < 0 && v < 2 && !r->err)
		r->err = -EBADMSG;                     /* null only from v2 */
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__koffset_fetch_topic_t *t = &m->topics[i];

		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 4);
		t->partition_indexes = arr(r, a, t->npartitions, sizeof(int32_t));
		for (j = 0; j < t->npartitions && !r->err; j++)
			t->partition_indexes[j] = myco__krd_i32(r);
		myco__krd_tags(r, f);
	}
	if (v >= 7)
		m->require_stable = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

/* ---- admin requests ---------------------------------------------------- */

/* An array of strings (null allowed when nullable). */
static void names(myco__krd_t *r, bool f, myco__karena_t *a, bool nullable,
		  myco__knames_t *out)
{
	int32_t i;

	out->n = myco__krd_array(r, f, f ? 1 : 2);
	if (out->n < 0 && !nullable && !r->err)
		r->err = -EBADMSG;
	out->names = arr(r, a, out->n, sizeof(*out->names));
	for (i = 0; i < out->n && !r->err; i++)
		out->names[i] = myco__krd_str(r, f);
}

int myco__kdec_delete_topics(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			     myco__kdelete_topics_t *m)
{
	(void)v;                                       /* v0..v5: names */
	memset(m, 0, sizeof(*m));
	names(r, f, a, false, &m->topic_names);
	m->timeout_ms = myco__krd_i32(r);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_create_partitions(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
				 myco__kcreate_partitions_t *m)
{
	int32_t i, j, k, nb;

	(void)v;
	memset(m, 0, sizeof(*m));
	m->ntopics = myco__krd_array(r, f, 2 + 4 + 4);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__kcreate_partitions_topic_t *t = &m->topics[i];
		t->name = myco__krd_str(r, f);
		t->count = myco__krd_i32(r);
		t->nassignments = myco__krd_array(r, f, 4);
		for (j = 0; j < t->nassignments && !r->err; j++) {
			nb = myco__krd_array(r, f, 4);
			for (k = 0; k < nb && !r->err; k++)
				(void)myco__krd_i32(r); /* broker ids */
			if (nb > t->max_assignment_replicas)
				t->max_assignment_replicas = nb;
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	m->timeout_ms = myco__krd_i32(r);
	m->validate_only = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_describe_configs(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
				myco__kdescribe_configs_t *m)
{
	int32_t i;

	memset(m, 0, sizeof(*m));
	m->nresources = myco__krd_array(r, f, 1 + 2 + 4);
	m->resources = arr(r, a, m->nresources, sizeof(*m->resources));
	for (i = 0; i < m->nresources && !r->err; i++) {
		myco__kdescribe_configs_resource_t *res = &m->resources[i];
		res->resource_type = myco__krd_i8(r);
		res->resource_name = myco__krd_str(r, f);
		names(r, f, a, true, &res->configuration_keys);
		myco__krd_tags(r, f);
	}
	if (v >= 1)
		m->include_synonyms = myco__krd_i8(r) != 0;
	if (v >= 3)
		m->include_documentation = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_alter_configs(myco__krd_t *r, int16_t v, bool f, bool incremental,
			     myco__karena_t *a, myco__kalter_configs_t *m)
{
	int32_t i, j;

	(void)v;
	memset(m, 0, sizeof(*m));
	m->nresources = myco__krd_array(r, f, 1 + 2 + 4);
	m->resources = arr(r, a, m->nresources, sizeof(*m->resources));
	for (i = 0; i < m->nresources && !r->err; i++) {
		myco__kalter_configs_resource_t *res = &m->resources[i];
		res->resource_type = myco__krd_i8(r);
		res->resource_name = myco__krd_str(r, f);
		res->nconfigs = myco__krd_array(r, f, incremental ? 5 : 4);
		res->configs = arr(r, a, res->nconfigs, sizeof(*res->configs));
		for (j = 0; j < res->nconfigs && !r->err; j++) {
			res->configs[j].name = myco__krd_str(r, f);
			if (incremental)
				res->configs[j].operation = myco__krd_i8(r);
			res->configs[j].value = myco__krd_str(r, f);
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	m->validate_only = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_list_groups(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			   myco__klist_groups_t *m)
{
	memset(m, 0, sizeof(*m));
	if (v >= 4)
		names(r, f, a, false, &m->states_filter);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_describe_groups(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			       myco__kdescribe_groups_t *m)
{
	memset(m, 0, sizeof(*m));
	names(r, f, a, false, &m->groups);
	if (v >= 3)
		m->include_authorized_operations = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_delete_groups(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			     myco__kdelete_groups_t *m)
{
	(void)v;
	memset(m, 0, sizeof(*m));
	names(r, f, a, false, &m->groups_names);
	myco__krd_tags(r, f);
	return done(r);
}

/* Topics of partitions; with_offset: each partition carries an int64. */
static void topic_parts(myco__krd_t *r, bool f, myco__karena_t *a, bool with_offset,
			bool nullable, int32_t *ntopics, myco__ktopic_parts_t **topics)
{
	int32_t i, j;

	*ntopics = myco__krd_array(r, f, 2 + 4);
	if (*ntopics < 0 && !nullable && !r->err)
		r->err = -EBADMSG;
	*topics = arr(r, a, *ntopics, sizeof(**topics));
	for (i = 0; i < *ntopics && !r->err; i++) {
		myco__ktopic_parts_t *t = &(*topics)[i];
		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, with_offset ? 12 : 4);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			t->partitions[j].partition_index = myco__krd_i32(r);
			t->partitions[j].offset = with_offset ? myco__krd_i64(r) : -1;
			if (with_offset)
				myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
}

int myco__kdec_offset_delete(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			     myco__koffset_delete_t *m)
{
	int32_t i, j;

	(void)v;
	memset(m, 0, sizeof(*m));
	m->group_id = myco__krd_str(r, f);
	/* partitions are structs {PartitionIndex} (tags of their own when
	 * flexible), unlike DescribeLogDirs' plain int32 array */
	m->ntopics = myco__krd_array(r, f, 2 + 4);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__ktopic_parts_t *t = &m->topics[i];
		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 4);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			t->partitions[j].partition_index = myco__krd_i32(r);
			t->partitions[j].offset = -1;
			myco__krd_tags(r, f);
		}
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_delete_records(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
			      myco__kdelete_records_t *m)
{
	(void)v;
	memset(m, 0, sizeof(*m));
	topic_parts(r, f, a, true, false, &m->ntopics, &m->topics);
	m->timeout_ms = myco__krd_i32(r);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_describe_cluster(myco__krd_t *r, int16_t v, bool f,
				myco__kdescribe_cluster_t *m)
{
	(void)v;
	m->include_cluster_authorized_operations = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_describe_log_dirs(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
				 myco__kdescribe_log_dirs_t *m)
{
	(void)v;
	memset(m, 0, sizeof(*m));
	topic_parts(r, f, a, false, true, &m->ntopics, &m->topics);
	myco__krd_tags(r, f);
	return done(r);
}

/* ---- transactions ------------------------------------------------------ */

static void txn_producer(myco__krd_t *r, bool f, myco__ktxn_producer_t *t)
{
	t->transactional_id = myco__krd_str(r, f);
	t->producer_id = myco__krd_i64(r);
	t->producer_epoch = myco__krd_i16(r);
}

int myco__kdec_add_partitions_to_txn(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
				     myco__kadd_partitions_to_txn_t *m)
{
	int32_t i, j;

	(void)v;
	memset(m, 0, sizeof(*m));
	txn_producer(r, f, &m->txn);
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__ktxn_topic_t *t = &m->topics[i];
		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 4);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++)
			t->partitions[j] = myco__krd_i32(r);
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_add_offsets_to_txn(myco__krd_t *r, int16_t v, bool f,
				  myco__kadd_offsets_to_txn_t *m)
{
	(void)v;
	memset(m, 0, sizeof(*m));
	txn_producer(r, f, &m->txn);
	m->group_id = myco__krd_str(r, f);
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_end_txn(myco__krd_t *r, int16_t v, bool f, myco__kend_txn_t *m)
{
	(void)v;
	memset(m, 0, sizeof(*m));
	txn_producer(r, f, &m->txn);
	m->committed = myco__krd_i8(r) != 0;
	myco__krd_tags(r, f);
	return done(r);
}

int myco__kdec_txn_offset_commit(myco__krd_t *r, int16_t v, bool f, myco__karena_t *a,
				 myco__ktxn_offset_commit_t *m)
{
	int32_t i, j;

	memset(m, 0, sizeof(*m));
	m->txn.transactional_id = myco__krd_str(r, f);
	m->group_id = myco__krd_str(r, f);
	m->txn.producer_id = myco__krd_i64(r);
	m->txn.producer_epoch = myco__krd_i16(r);
	m->generation_id = -1;
	m->member_id = (myco__kstr_t){ NULL, -1 };
	m->group_instance_id = (myco__kstr_t){ NULL, -1 };
	if (v >= 3) {
		m->generation_id = myco__krd_i32(r);
		m->member_id = myco__krd_str(r, f);
		m->group_instance_id = myco__krd_str(r, f);
	}
	m->ntopics = myco__krd_array(r, f, 6);
	m->topics = arr(r, a, m->ntopics, sizeof(*m->topics));
	for (i = 0; i < m->ntopics && !r->err; i++) {
		myco__koffset_commit_topic_t *t = &m->topics[i];
		t->name = myco__krd_str(r, f);
		t->npartitions = myco__krd_array(r, f, 14);
		t->partitions = arr(r, a, t->npartitions, sizeof(*t->partitions));
		for (j = 0; j < t->npartitions && !r->err; j++) {
			myco__koffset_commit_partition_t *p = &t->partitions[j];
			p->partition_index = myco__krd_i32(r);
			p->committed_offset = myco__krd_i64(r);
			p->committed_leader_epoch = v >= 2 ? myco__krd_i32(r) : -1;
			p->committed_metadata = myco__krd_str(r, f);
			myco__krd_tags(r, f);
		}
		if (t->npartitions > 0)
			m->npartitions_total += (size_t)t->npartitions;
		myco__krd_tags(r, f);
	}
	myco__krd_tags(r, f);
	return done(r);
}
