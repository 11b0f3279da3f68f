/*
 * metadata.c: myco-log's topic and cluster APIs: Metadata (with automatic
 * topic creation), CreateTopics (with Kafka's topic configs),
 * ListOffsets, InitProducerId.  One node (id 0) leads every partition;
 * in cluster mode (repl.h) the raft leader does, every broker is a
 * replica, topics and producer ids are created through raft.
 * Not for: the data path (produce.c, fetch.c) or groups (group.c).
 */
#include "log_int.h"
#include "repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	const myco__lrepl_t *r = lb->cfg.repl;
	const myco__peer_t *peers = NULL;
	int32_t i, leader = 0, epoch = 0, isr[MYCO__PEERS_MAX] = { 0 };
	size_t k, npeers = 1, nisr = 1;

	if (r) {
		/* every broker is a replica of every partition; the raft
		 * leader leads them all */
		peers = myco__lrepl_peers(r, &npeers);
		leader = myco__lrepl_leader(r);
		epoch = myco__lrepl_epoch(r);
		nisr = myco__lrepl_isr(r, isr, MYCO__PEERS_MAX);
	}
	myco__kwr_i16(w, err);
	myco__kwr_str(w, f, name);
	if (v >= 1)
		myco__kwr_i8(w, 0);                    /* is_internal */
	myco__kwr_array(w, f, nparts);
	for (i = 0; i < nparts; i++) {
		myco__kwr_i16(w, leader < 0 ? KERR_LEADER_NOT_AVAILABLE : 0);
		myco__kwr_i32(w, i);
		myco__kwr_i32(w, leader);              /* single node: us, node 0 */
		if (v >= 7)
			myco__kwr_i32(w, epoch);       /* leader epoch: raft's term */
		myco__kwr_array(w, f, (int32_t)npeers);
		for (k = 0; k < npeers; k++)
			myco__kwr_i32(w, peers ? (int32_t)peers[k].id : 0);
		myco__kwr_array(w, f, (int32_t)nisr);
		for (k = 0; k < nisr; k++)
			myco__kwr_i32(w, isr[k]);
		if (v >= 5)
			myco__kwr_array(w, f, 0);
		myco__kwr_tags(w, f);
	}
	if (v >= 8)
		myco__kwr_i32(w, INT32_MIN);
	myco__kwr_tags(w, f);
}

/* A topic entry with an error and no partitions, echoing the name as sent. */
static void meta_bad_topic(myco__kwr_t *w, int16_t v, bool f, myco__kstr_t s)
{
	myco__kwr_i16(w, KERR_INVALID_TOPIC_EXCEPTION);
	myco__kwr_strn(w, f, s.p, s.len < 0 ? 0 : s.len);
	if (v >= 1)
		myco__kwr_i8(w, 0);
	myco__kwr_array(w, f, 0);
	if (v >= 8)
		myco__kwr_i32(w, INT32_MIN);
	myco__kwr_tags(w, f);
}

void myco__lh_metadata(myco__lb_t *lb, myco__lreq_t *req, const myco__kmetadata_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex, allow = m->allow_auto_topic_creation;
	int32_t i;
	myco__kwr_t w;

	myco__lrepl_t *r = lb->cfg.repl;

	if (r && myco__lrepl_cut_off(r)) {
		/* cut off from the cluster: the client asks another broker */
		myco__lc_abort(req->conn);
		return;
	}
	myco__lresp_begin(&w, req);
	if (v >= 3)
		myco__kwr_i32(&w, 0);
	if (r) {
		/* cluster mode: every broker of --peers */
		size_t n, k;
		const myco__peer_t *peers = myco__lrepl_peers(r, &n);
		myco__kwr_array(&w, f, (int32_t)n);
		for (k = 0; k < n; k++) {
			myco__kwr_i32(&w, (int32_t)peers[k].id);
			myco__kwr_str(&w, f, peers[k].host);
			myco__kwr_i32(&w, (int32_t)peers[k].port);
			if (v >= 1)
				myco__kwr_str(&w, f, NULL);
			myco__kwr_tags(&w, f);
		}
	} else {
		myco__kwr_array(&w, f, 1);             /* brokers: us */
		myco__kwr_i32(&w, 0);
		myco__kwr_str(&w, f, lb->cfg.host);
		myco__kwr_i32(&w, lb->cfg.port);
		if (v >= 1)
			myco__kwr_str(&w, f, NULL);
		myco__kwr_tags(&w, f);
	}
	if (v >= 2)
		myco__kwr_str(&w, f, "myco-log");
	if (v >= 1)
		myco__kwr_i32(&w, r ? myco__lrepl_leader(r) : 0);   /* controller */
	if (m->ntopics < 0) {
		mls_topic_info *all = NULL;
		size_t cnt = 0, k;
		if (mls_topic_list(lb->st, &all, &cnt) < 0)
			cnt = 0;
		myco__kwr_array(&w, f, (int32_t)cnt);
		for (k = 0; k < cnt; k++)
			meta_topic(lb, &w, v, f, all[k].name, 0, all[k].partitions);
		free(all);
	} else {
		myco__kwr_array(&w, f, m->ntopics);
		for (i = 0; i < m->ntopics; i++) {
			char name[MLS_TOPIC_NAME_MAX + 1];
			mls_topic_info ti;
			int rc;

			if (!myco__ltopic_name(m->topics[i], name)) {
				meta_bad_topic(&w, v, f, m->topics[i]);
				continue;
			}
			rc = mls_topic_describe(lb->st, name, &ti);
			if (rc == -MYCO_ELOG_NO_TOPIC && allow && lb->cfg.auto_create && r) {
				/* cluster mode: the controller creates it through
				 * raft; elsewhere the client asks again */
				mls_topic_config tc;
				myco__lb_topic_defaults(lb, &tc);
				rc = myco__lrepl_serving(r) ?
				     myco__lrepl_create_topic(r, name, lb->cfg.default_partitions,
							      &tc, 5000) : -EAGAIN;
				if (rc == -MYCO_ELOG_TOPIC_EXISTS)
					rc = 0;
				if (rc == 0)
					rc = mls_topic_describe(lb->st, name, &ti);
				if (rc < 0) {
					meta_topic(lb, &w, v, f, name, KERR_LEADER_NOT_AVAILABLE, 0);
					continue;
				}
			} else if (rc == -MYCO_ELOG_NO_TOPIC && allow && lb->cfg.auto_create) {
				rc = create_topic(lb, name, lb->cfg.default_partitions, NULL);
				if (rc == -MYCO_ELOG_TOPIC_EXISTS)
					rc = 0;
				if (rc == 0)
					rc = mls_topic_describe(lb->st, name, &ti);
			}
			if (rc < 0)
				meta_topic(lb, &w, v, f, name, myco__lkerr(rc), 0);
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

void myco__lh_create_topics(myco__lb_t *lb, myco__lreq_t *req, const myco__kcreate_topics_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	int32_t i, j;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	if (v >= 2)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics);
	for (i = 0; i < m->ntopics; i++) {
		const myco__kcreatable_topic_t *t = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		mls_topic_config tc;
		myco__kstr_t s = t->name;
		int32_t parts = t->num_partitions;
		int16_t rf = t->replication_factor;
		int16_t err = 0;
		const char *msg = NULL;
		char rfmsg[128];
		int rc;

		myco__lb_topic_defaults(lb, &tc);
		if (t->nassignments > 0) {
			if (parts == -1)
				parts = t->nassignments;
			if (t->max_assignment_replicas > 1)
				err = KERR_INVALID_REPLICATION_FACTOR;
		}
		for (j = 0; j < t->nconfigs && !err; j++) {
			myco__kstr_t key = t->configs[j].name;
			const char *why;
			char kb[128];
			if (key.len <= 0 || key.len >= (int32_t)sizeof(kb)) {
				err = KERR_INVALID_CONFIG;
				msg = "bad config name";
				break;
			}
			memcpy(kb, key.p, (size_t)key.len);
			kb[key.len] = 0;
			/* a null value leaves the default, as Kafka does */
			if (t->configs[j].value.p &&
			    myco__ltopic_config_set(&tc, kb, t->configs[j].value, &why) < 0) {
				err = KERR_INVALID_CONFIG;
				msg = why;
			}
		}
		if (parts == -1)
			parts = lb->cfg.default_partitions;
		if (!myco__ltopic_name(s, name)) {
			err = KERR_INVALID_TOPIC_EXCEPTION;
			name[0] = 0;
		} else if (!err && lb->cfg.repl) {
			/* cluster mode: the controller creates it through raft;
			 * every broker is a replica */
			size_t n;
			(void)myco__lrepl_peers(lb->cfg.repl, &n);
			if (!myco__lrepl_serving(lb->cfg.repl)) {
				err = KERR_NOT_CONTROLLER;
			} else if (rf != -1 && rf != (int16_t)n) {
				err = KERR_INVALID_REPLICATION_FACTOR;
				snprintf(rfmsg, sizeof(rfmsg), "every broker replicates every "
					 "partition: replication factor must be %zu (the cluster "
					 "size) or -1", n);
				msg = rfmsg;
			} else if (parts < 1 || parts > MLS_PARTITIONS_MAX) {
				err = KERR_INVALID_PARTITIONS;
			} else {
				rc = mls_topic_describe(lb->st, name, &(mls_topic_info){0}) == 0 ?
				     -MYCO_ELOG_TOPIC_EXISTS : mls_topic_name_check(name);
				if (rc == 0 && !m->validate_only)
					rc = myco__lrepl_create_topic(lb->cfg.repl, name, parts, &tc,
								      10000);
				err = myco__lkerr(rc);
				msg = rc == -ETIMEDOUT ? "not committed within 10 s; it may still be"
							 : myco__lerrmsg(rc);
				if (rc == -EINVAL)
					err = KERR_INVALID_CONFIG;
			}
		} else if (!err && (rf > 1 || rf == 0 || rf < -1)) {
			err = KERR_INVALID_REPLICATION_FACTOR;
			msg = "single-node broker: replication factor must be 1";
		} else if (!err && (parts < 1 || parts > MLS_PARTITIONS_MAX)) {
			err = KERR_INVALID_PARTITIONS;
		} else if (!err) {
			if (m->validate_only) {
				rc = mls_topic_name_check(name);
				if (rc == 0 && mls_topic_describe(lb->st, name, &(mls_topic_info){0}) == 0)
					rc = -MYCO_ELOG_TOPIC_EXISTS;
			} else {
				rc = create_topic(lb, name, parts, &tc);
			}
			err = myco__lkerr(rc);
			msg = myco__lerrmsg(rc);
			if (rc == -EINVAL)
				err = KERR_INVALID_CONFIG;
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

void myco__lh_init_producer_id(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kinit_producer_id_t *m)
{
	int64_t pid = -1;
	int16_t err = 0;
	myco__kwr_t w;

	int16_t epoch = 0;

	if (lb->cfg.repl) {
		/* cluster mode: any broker hands out ids unique in the
		 * cluster; transactions are not replicated (docs/log.md) */
		if (m->transactional_id.p && m->transactional_id.len > 0)
			err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		else if (myco__lrepl_alloc_pid(lb->cfg.repl, &pid) < 0)
			err = KERR_UNKNOWN_SERVER_ERROR;
	} else if (m->transactional_id.p && m->transactional_id.len > 0)
		err = myco__ltxn_init(lb->txns, m, &pid, &epoch);
	else if (mls_producer_id_alloc(lb->st, &pid) < 0)
		err = KERR_UNKNOWN_SERVER_ERROR;
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_i64(&w, err ? -1 : pid);
	myco__kwr_i16(&w, err ? -1 : epoch);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

/* ---- ListOffsets ------------------------------------------------------- */

void myco__lh_list_offsets(myco__lb_t *lb, myco__lreq_t *req, const myco__klist_offsets_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	int32_t i, j;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	if (v >= 2)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics < 0 ? 0 : m->ntopics);
	for (i = 0; i < m->ntopics; i++) {
		const myco__klist_offsets_topic_t *t = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		bool ok = myco__ltopic_name(t->name, name);

		myco__kwr_strn(&w, f, t->name.p, t->name.len < 0 ? 0 : t->name.len);
		myco__kwr_array(&w, f, t->npartitions < 0 ? 0 : t->npartitions);
		for (j = 0; j < t->npartitions; j++) {
			const myco__klist_offsets_partition_t *pp = &t->partitions[j];
			int32_t part = pp->partition_index;
			int64_t off = -1, tso = -1;
			mls_partition_t *p = NULL;
			int rc = -MYCO_ELOG_NO_TOPIC;

			if (ok)
				rc = lb->cfg.repl && !myco__lrepl_serving(lb->cfg.repl) ?
				     MYCO__LREPL_NOT_LEADER :
				     mls_partition_get(lb->st, name, part, &p);
			if (rc == 0) {
				rc = mls_list_offset(p, pp->timestamp, &off, &tso);
				if (rc == 0 && pp->timestamp == MLS_LATEST && m->isolation_level == 1) {
					/* read_committed: the last stable offset */
					mls_offsets o;
					rc = mls_partition_offsets(p, &o);
					off = o.last_stable;
				}
				mls_partition_put(p);
			}
			myco__kwr_i32(&w, part);
			myco__kwr_i16(&w, myco__lkerr(rc));
			if (v == 0) {
				/* old style: an array of offsets (at most one here) */
				bool one = rc == 0 && off >= 0 && pp->max_num_offsets > 0;
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
