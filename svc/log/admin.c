/*
 * admin.c: myco-log's administration APIs for topics and the cluster:
 * DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs and
 * IncrementalAlterConfigs (topic configs the store applies: retention,
 * segment size and age, cleanup.policy, max.message.bytes,
 * message.timestamp.type), DeleteRecords, DescribeCluster,
 * DescribeLogDirs; and the one table of topic configs CreateTopics also
 * uses.  Group administration is in group.c.
 * Not for: storage (store/), the data path.
 */
#include "log_int.h"
#include "repl.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/* ---- topic configs ----------------------------------------------------- */

/* DescribeConfigs' ConfigType and ConfigSource values. */
enum { CT_BOOLEAN = 1, CT_STRING = 2, CT_INT = 3, CT_LONG = 5, CT_DOUBLE = 6, CT_LIST = 7 };
enum { CS_TOPIC = 1, CS_STATIC_BROKER = 4, CS_DEFAULT = 5 };

/* Topic configs that the store keeps (described and altered). */
enum {
	F_SEGMENT_BYTES, F_SEGMENT_MS, F_RETENTION_BYTES, F_RETENTION_MS,
	F_INDEX_INTERVAL, F_MAX_MESSAGE, F_TS_TYPE, F_CLEANUP, F_COMPRESSION,
	F_DELETE_RETENTION,
};

static const struct kept_cfg {
	const char *name;
	int field, type;
	const char *doc;
} kept[] = {
	{ "cleanup.policy", F_CLEANUP, CT_LIST,
	  "delete: retention removes old segments; compact: the cleaner keeps the latest "
	  "record of each key" },
	{ "compression.type", F_COMPRESSION, CT_STRING,
	  "kept and reported; batches are stored as the producer compressed them" },
	{ "delete.retention.ms", F_DELETE_RETENTION, CT_LONG,
	  "compaction keeps a tombstone this long after its segment's newest record" },
	{ "index.interval.bytes", F_INDEX_INTERVAL, CT_INT, "bytes between offset index entries" },
	{ "max.message.bytes", F_MAX_MESSAGE, CT_INT, "largest record batch accepted" },
	{ "message.timestamp.type", F_TS_TYPE, CT_STRING, "CreateTime or LogAppendTime" },
	{ "retention.bytes", F_RETENTION_BYTES, CT_LONG, "bytes kept per partition (-1 unlimited)" },
	{ "retention.ms", F_RETENTION_MS, CT_LONG, "age of the newest record of a segment before it goes" },
	{ "segment.bytes", F_SEGMENT_BYTES, CT_INT, "segment file size that starts a new one" },
	{ "segment.ms", F_SEGMENT_MS, CT_LONG, "segment age that starts a new one" },
};
#define NKEPT (sizeof(kept) / sizeof(kept[0]))

/* Topic configs Kafka knows that myco-log accepts (value type checked) but
 * does not act on: one node, no replicas, compaction without its tuning knobs, fsync set
 * by the broker's own --fsync. */
static const struct { const char *name; int type; } accepted[] = {
	{ "file.delete.delay.ms", CT_LONG },
	{ "flush.messages", CT_LONG }, { "flush.ms", CT_LONG },
	{ "follower.replication.throttled.replicas", CT_LIST },
	{ "leader.replication.throttled.replicas", CT_LIST },
	{ "local.retention.bytes", CT_LONG }, { "local.retention.ms", CT_LONG },
	{ "max.compaction.lag.ms", CT_LONG }, { "message.downconversion.enable", CT_BOOLEAN },
	{ "message.format.version", CT_STRING },
	{ "message.timestamp.difference.max.ms", CT_LONG },
	{ "message.timestamp.before.max.ms", CT_LONG },
	{ "message.timestamp.after.max.ms", CT_LONG },
	{ "min.cleanable.dirty.ratio", CT_DOUBLE }, { "min.compaction.lag.ms", CT_LONG },
	{ "min.insync.replicas", CT_INT }, { "preallocate", CT_BOOLEAN },
	{ "remote.storage.enable", CT_BOOLEAN }, { "segment.index.bytes", CT_INT },
	{ "segment.jitter.ms", CT_LONG }, { "unclean.leader.election.enable", CT_BOOLEAN },
};

static const char *const codecs[] = { "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd" };

static bool parse_ll(const char *s, long long *out)
{
	char *end;
	if (!*s)
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && !*end;
}

/* A value of a type, as Kafka's ConfigDef parses it. */
static bool type_ok(int type, const char *s)
{
	long long x;
	char *end;

	switch (type) {
	case CT_BOOLEAN:
		return !strcasecmp(s, "true") || !strcasecmp(s, "false");
	case CT_INT:
		return parse_ll(s, &x) && x >= INT32_MIN && x <= INT32_MAX;
	case CT_LONG:
		return parse_ll(s, &x);
	case CT_DOUBLE:
		errno = 0;
		(void)strtod(s, &end);
		return *s && !errno && !*end;
	default:
		return true;
	}
}

/* cleanup.policy: a list of "delete" and "compact" (either order). */
static int cleanup_parse(const char *s)
{
	int bits = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");
		while (n && p[0] == ' ')
			p++, n--;
		size_t m = n;
		while (m && p[m - 1] == ' ')
			m--;
		if (m == 6 && !strncmp(p, "delete", 6))
			bits |= MLS_CLEANUP_DELETE;
		else if (m == 7 && !strncmp(p, "compact", 7))
			bits |= MLS_CLEANUP_COMPACT;
		else
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return bits ? bits : -1;
}

static const char *cleanup_text(int bits)
{
	switch (bits) {
	case MLS_CLEANUP_COMPACT: return "compact";
	case MLS_CLEANUP_DELETE | MLS_CLEANUP_COMPACT: return "compact,delete";
	default: return "delete";
	}
}

int myco__ltopic_config_set(mls_topic_config *tc, const char *k, myco__kstr_t val,
			    const char **why)
{
	char buf[256];
	long long x;
	size_t i;

	*why = NULL;
	if (!val.p || val.len < 0 || val.len >= (int32_t)sizeof(buf)) {
		*why = "missing or too long value";
		return -EINVAL;
	}
	memcpy(buf, val.p, (size_t)val.len);
	buf[val.len] = 0;
	for (i = 0; i < NKEPT && strcmp(kept[i].name, k); i++)
		;
	if (i == NKEPT) {
		for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
			if (!strcmp(accepted[i].name, k)) {
				if (!type_ok(accepted[i].type, buf)) {
					*why = "value of the wrong type";
					return -EINVAL;
				}
				return 0;
			}
		*why = "unknown topic config";
		return -ENOENT;
	}
	switch (kept[i].field) {
	case F_CLEANUP: {
		int b = cleanup_parse(buf);
		if (b < 0) {
			*why = "cleanup.policy must be delete, compact or both";
			return -EINVAL;
		}
		tc->cleanup_policy = b;
		return 0;
	}
	case F_COMPRESSION:
		for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++)
			if (!strcmp(codecs[c], buf)) {
				tc->compression_type = (int32_t)c;
				return 0;
			}
		*why = "compression.type must be producer, uncompressed, gzip, snappy, lz4 or zstd";
		return -EINVAL;
	case F_TS_TYPE:
		if (!strcmp(buf, "CreateTime"))
			tc->timestamp_type = MLS_TS_CREATE_TIME;
		else if (!strcmp(buf, "LogAppendTime"))
			tc->timestamp_type = MLS_TS_LOG_APPEND_TIME;
		else {
			*why = "message.timestamp.type must be CreateTime or LogAppendTime";
			return -EINVAL;
		}
		return 0;
	default:
		break;
	}
	if (!parse_ll(buf, &x)) {
		*why = "not a number";
		return -EINVAL;
	}
	switch (kept[i].field) {
	case F_SEGMENT_BYTES:
		if (x < 14 || x > INT32_MAX)
			break;
		tc->segment_bytes = x < 1024 ? 1024 : x;  /* the store's floor */
		return 0;
	case F_SEGMENT_MS:
		if (x < 1)
			break;
		tc->segment_ms = x;
		return 0;
	case F_RETENTION_BYTES:
		if (x < -1)
			break;
		tc->retention_bytes = x;
		return 0;
	case F_RETENTION_MS:
		if (x < -1)
			break;
		tc->retention_ms = x;
		return 0;
	case F_DELETE_RETENTION:
		if (x < 0)
			break;
		tc->delete_retention_ms = x;
		return 0;
	case F_MAX_MESSAGE:
		if (x < 0 || x > INT32_MAX)
			break;
		tc->max_message_bytes = x < 61 ? 61 : (int32_t)x;
		return 0;
	case F_INDEX_INTERVAL:
		if (x < 0 || x > INT32_MAX)
			break;
		tc->index_interval_bytes = (int32_t)x;
		return 0;
	}
	*why = "value out of range";
	return -EINVAL;
}

/* The text of a kept config's value. */
static void kept_value(const mls_topic_config *tc, int field, char *buf, size_t n)
{
	switch (field) {
	case F_SEGMENT_BYTES: snprintf(buf, n, "%" PRId64, tc->segment_bytes); break;
	case F_SEGMENT_MS: snprintf(buf, n, "%" PRId64, tc->segment_ms); break;
	case F_RETENTION_BYTES: snprintf(buf, n, "%" PRId64, tc->retention_bytes); break;
	case F_RETENTION_MS: snprintf(buf, n, "%" PRId64, tc->retention_ms); break;
	case F_DELETE_RETENTION: snprintf(buf, n, "%" PRId64, tc->delete_retention_ms); break;
	case F_INDEX_INTERVAL: snprintf(buf, n, "%d", tc->index_interval_bytes); break;
	case F_MAX_MESSAGE: snprintf(buf, n, "%d", tc->max_message_bytes); break;
	case F_TS_TYPE:
		snprintf(buf, n, "%s", tc->timestamp_type == MLS_TS_LOG_APPEND_TIME ?
			 "LogAppendTime" : "CreateTime");
		break;
	case F_CLEANUP: snprintf(buf, n, "%s", cleanup_text(tc->cleanup_policy)); break;
	case F_COMPRESSION:
		snprintf(buf, n, "%s", tc->compression_type >= 0 && tc->compression_type <= 5 ?
			 codecs[tc->compression_type] : "producer");
		break;
	default: buf[0] = 0; break;
	}
}

/* ---- helpers ----------------------------------------------------------- */

static void kstr_copy(myco__kstr_t s, char *out, size_t n)
{
	size_t l = s.p && s.len > 0 ? (size_t)s.len : 0;
	if (l >= n)
		l = n - 1;
	if (l)
		memcpy(out, s.p, l);
	out[l] = 0;
}

static bool wanted(const myco__knames_t *keys, const char *name)
{
	if (keys->n < 0)
		return true;
	for (int32_t i = 0; i < keys->n; i++)
		if (keys->names[i].p && (size_t)keys->names[i].len == strlen(name) &&
		    !memcmp(keys->names[i].p, name, strlen(name)))
			return true;
	return false;
}

/* ---- DeleteTopics ------------------------------------------------------ */

void myco__lh_delete_topics(myco__lb_t *lb, myco__lreq_t *req, const myco__kdelete_topics_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	if (v >= 1)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->topic_names.n < 0 ? 0 : m->topic_names.n);
	for (int32_t i = 0; i < m->topic_names.n; i++) {
		myco__kstr_t s = m->topic_names.names[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		int rc = lb->cfg.repl ? MYCO__LREPL_UNREPLICATED :
			 myco__ltopic_name(s, name) ? mls_topic_delete(lb->st, name)
						    : -MYCO_ELOG_NO_TOPIC;

		if (rc == 0 && lb->cfg.verbose)
			fprintf(stderr, "myco-log: deleted topic %s\n", name);
		myco__kwr_strn(&w, f, s.p, s.len < 0 ? 0 : s.len);
		myco__kwr_i16(&w, myco__lkerr(rc));
		if (v >= 5)
			myco__kwr_str(&w, f, rc < 0 ? (myco__lerrmsg(rc) ? myco__lerrmsg(rc) :
							      myco_strerror(rc)) : NULL);
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- CreatePartitions -------------------------------------------------- */

void myco__lh_create_partitions(myco__lb_t *lb, myco__lreq_t *req,
				const myco__kcreate_partitions_t *m)
{
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics);
	for (int32_t i = 0; i < m->ntopics; i++) {
		const myco__kcreate_partitions_topic_t *t = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		mls_topic_info ti;
		int16_t err = 0;
		const char *msg = NULL;
		int rc;

		if (lb->cfg.repl) {
			err = KERR_POLICY_VIOLATION;
			msg = MYCO__LREPL_UNREPLICATED_MSG;
		} else if (!myco__ltopic_name(t->name, name) ||
		    (rc = mls_topic_describe(lb->st, name, &ti)) < 0) {
			err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
		} else if (t->count <= ti.partitions) {
			err = KERR_INVALID_PARTITIONS;
			msg = t->count == ti.partitions ? "the topic already has that many partitions"
				: "partitions can only be added, never removed";
		} else if (t->count > MLS_PARTITIONS_MAX) {
			err = KERR_INVALID_PARTITIONS;
			msg = "more partitions than a topic may have (10000)";
		} else if (t->nassignments >= 0 &&
			   (t->nassignments != t->count - ti.partitions ||
			    t->max_assignment_replicas > 1)) {
			err = KERR_INVALID_REPLICA_ASSIGNMENT;
			msg = "single-node broker: one replica (broker 0) per new partition";
		} else if (!m->validate_only) {
			rc = mls_topic_add_partitions(lb->st, name, t->count);
			err = myco__lkerr(rc);
			msg = myco__lerrmsg(rc);
			if (rc == 0 && lb->cfg.verbose)
				fprintf(stderr, "myco-log: topic %s now has %d partitions\n",
					name, t->count);
		}
		myco__kwr_strn(&w, f, t->name.p, t->name.len < 0 ? 0 : t->name.len);
		myco__kwr_i16(&w, err);
		myco__kwr_str(&w, f, msg);
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- DescribeConfigs --------------------------------------------------- */

static void config_entry(myco__kwr_t *w, int16_t v, bool f, const char *name,
			 const char *value, bool read_only, int8_t source, int8_t type,
			 const char *doc, bool synonyms, bool docs)
{
	myco__kwr_str(w, f, name);
	myco__kwr_str(w, f, value);
	myco__kwr_i8(w, read_only);
	if (v == 0)
		myco__kwr_i8(w, source == CS_DEFAULT);  /* is_default */
	if (v >= 1)
		myco__kwr_i8(w, source);
	myco__kwr_i8(w, 0);                              /* is_sensitive */
	if (v >= 1) {
		if (synonyms) {
			myco__kwr_array(w, f, 1);
			myco__kwr_str(w, f, name);
			myco__kwr_str(w, f, value);
			myco__kwr_i8(w, source);
			myco__kwr_tags(w, f);
		} else {
			myco__kwr_array(w, f, 0);
		}
	}
	if (v >= 3) {
		myco__kwr_i8(w, type);
		myco__kwr_str(w, f, docs ? doc : NULL);
	}
	myco__kwr_tags(w, f);
}

static void describe_topic(myco__lb_t *lb, myco__kwr_t *w, int16_t v, bool f,
			   const myco__kdescribe_configs_t *m,
			   const myco__kdescribe_configs_resource_t *res)
{
	char name[MLS_TOPIC_NAME_MAX + 1], val[64], dval[64];
	mls_topic_info ti;
	mls_topic_config def;
	int32_t n = 0;
	size_t i;
	int rc = myco__ltopic_name(res->resource_name, name) ?
		 mls_topic_describe(lb->st, name, &ti) : -MYCO_ELOG_NO_TOPIC;

	myco__kwr_i16(w, myco__lkerr(rc));
	myco__kwr_str(w, f, rc < 0 ? "unknown topic" : NULL);
	myco__kwr_i8(w, res->resource_type);
	myco__kwr_strn(w, f, res->resource_name.p,
		       res->resource_name.len < 0 ? 0 : res->resource_name.len);
	if (rc < 0) {
		myco__kwr_array(w, f, 0);
		myco__kwr_tags(w, f);
		return;
	}
	myco__lb_topic_defaults(lb, &def);
	for (i = 0; i < NKEPT; i++)
		if (wanted(&res->configuration_keys, kept[i].name))
			n++;
	myco__kwr_array(w, f, n);
	for (i = 0; i < NKEPT; i++) {
		int8_t src;
		if (!wanted(&res->configuration_keys, kept[i].name))
			continue;
		kept_value(&ti.config, kept[i].field, val, sizeof(val));
		kept_value(&def, kept[i].field, dval, sizeof(dval));
		src = strcmp(val, dval) ? CS_TOPIC : CS_DEFAULT;
		config_entry(w, v, f, kept[i].name, val, false, src, (int8_t)kept[i].type,
			     kept[i].doc, m->include_synonyms, m->include_documentation);
	}
	myco__kwr_tags(w, f);
}

static void describe_broker(myco__lb_t *lb, myco__kwr_t *w, int16_t v, bool f,
			    const myco__kdescribe_configs_t *m,
			    const myco__kdescribe_configs_resource_t *res)
{
	const myco__lcfg_t *c = &lb->cfg;
	mls_topic_config def;
	char vals[10][256];
	const char *names_[10] = {
		"broker.id", "log.dirs", "num.partitions", "auto.create.topics.enable",
		"log.retention.ms", "log.retention.bytes", "log.segment.bytes", "log.roll.ms",
		"message.max.bytes", "advertised.listeners",
	};
	const int8_t types[10] = { CT_INT, CT_STRING, CT_INT, CT_BOOLEAN, CT_LONG, CT_LONG,
				   CT_INT, CT_LONG, CT_INT, CT_STRING };
	char want_name[32];
	int32_t n = 0, i;
	bool ok;

	kstr_copy(res->resource_name, want_name, sizeof(want_name));
	ok = !strcmp(want_name, "0") || !want_name[0];
	myco__kwr_i16(w, ok ? 0 : KERR_INVALID_REQUEST);
	myco__kwr_str(w, f, ok ? NULL : "this broker is node 0");
	myco__kwr_i8(w, res->resource_type);
	myco__kwr_strn(w, f, res->resource_name.p,
		       res->resource_name.len < 0 ? 0 : res->resource_name.len);
	if (!ok) {
		myco__kwr_array(w, f, 0);
		myco__kwr_tags(w, f);
		return;
	}
	myco__lb_topic_defaults(lb, &def);
	snprintf(vals[0], sizeof(vals[0]), "0");
	snprintf(vals[1], sizeof(vals[1]), "%s", c->data_dir ? c->data_dir : "");
	snprintf(vals[2], sizeof(vals[2]), "%d", c->default_partitions);
	snprintf(vals[3], sizeof(vals[3]), "%s", c->auto_create ? "true" : "false");
	snprintf(vals[4], sizeof(vals[4]), "%" PRId64, def.retention_ms);
	snprintf(vals[5], sizeof(vals[5]), "%" PRId64, def.retention_bytes);
	snprintf(vals[6], sizeof(vals[6]), "%" PRId64, def.segment_bytes);
	snprintf(vals[7], sizeof(vals[7]), "%" PRId64, def.segment_ms);
	snprintf(vals[8], sizeof(vals[8]), "%d", def.max_message_bytes);
	snprintf(vals[9], sizeof(vals[9]), "PLAINTEXT://%s:%d", c->host, c->port);
	for (i = 0; i < 10; i++)
		if (wanted(&res->configuration_keys, names_[i]))
			n++;
	myco__kwr_array(w, f, n);
	for (i = 0; i < 10; i++)
		if (wanted(&res->configuration_keys, names_[i]))
			config_entry(w, v, f, names_[i], vals[i], true, CS_STATIC_BROKER,
				     types[i], "set by myco-log's flags",
				     m->include_synonyms, m->include_documentation);
	myco__kwr_tags(w, f);
}

void myco__lh_describe_configs(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kdescribe_configs_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->nresources);
	for (int32_t i = 0; i < m->nresources; i++) {
		const myco__kdescribe_configs_resource_t *res = &m->resources[i];
		if (res->resource_type == KRES_TOPIC) {
			describe_topic(lb, &w, v, f, m, res);
		} else if (res->resource_type == KRES_BROKER) {
			describe_broker(lb, &w, v, f, m, res);
		} else {
			myco__kwr_i16(&w, KERR_INVALID_REQUEST);
			myco__kwr_str(&w, f, "only topic and broker configs are served");
			myco__kwr_i8(&w, res->resource_type);
			myco__kwr_strn(&w, f, res->resource_name.p,
				       res->resource_name.len < 0 ? 0 : res->resource_name.len);
			myco__kwr_array(&w, f, 0);
			myco__kwr_tags(&w, f);
		}
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- AlterConfigs / IncrementalAlterConfigs ---------------------------- */

/* The new config of one topic resource; returns a Kafka error, *msg why. */
static int16_t alter_topic(myco__lb_t *lb, bool incremental, bool validate_only,
			   const myco__kalter_configs_resource_t *res, const char **msg)
{
	char name[MLS_TOPIC_NAME_MAX + 1], key[128];
	mls_topic_info ti;
	mls_topic_config tc, def;
	int rc;

	if (lb->cfg.repl) {
		*msg = MYCO__LREPL_UNREPLICATED_MSG;
		return KERR_POLICY_VIOLATION;
	}

	*msg = NULL;
	if (!myco__ltopic_name(res->resource_name, name) ||
	    mls_topic_describe(lb->st, name, &ti) < 0) {
		*msg = "unknown topic";
		return KERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	myco__lb_topic_defaults(lb, &def);
	/* AlterConfigs replaces the whole set: what is not named reverts to
	 * the default; IncrementalAlterConfigs changes only what it names */
	tc = incremental ? ti.config : def;
	for (int32_t j = 0; j < res->nconfigs; j++) {
		const myco__kalter_config_t *c = &res->configs[j];
		myco__kstr_t val = c->value;
		char cur[64], add[64], out[64];
		size_t k;

		kstr_copy(c->name, key, sizeof(key));
		if (!c->name.p || c->name.len <= 0 || (size_t)c->name.len >= sizeof(key)) {
			*msg = "bad config name";
			return KERR_INVALID_CONFIG;
		}
		switch (c->operation) {
		case 0:                                   /* SET */
			break;
		case 1:                                   /* DELETE: the default */
			for (k = 0; k < NKEPT && strcmp(kept[k].name, key); k++)
				;
			if (k == NKEPT)
				continue;
			kept_value(&def, kept[k].field, out, sizeof(out));
			val = (myco__kstr_t){ (const uint8_t *)out, (int32_t)strlen(out) };
			break;
		case 2: case 3:                           /* APPEND, SUBTRACT */
			if (strcmp(key, "cleanup.policy")) {
				*msg = "APPEND and SUBTRACT apply to list configs only";
				return KERR_INVALID_CONFIG;
			}
			kstr_copy(val, add, sizeof(add));
			{
				int have = tc.cleanup_policy, b = cleanup_parse(add);
				if (b < 0) {
					*msg = "cleanup.policy must be delete, compact or both";
					return KERR_INVALID_CONFIG;
				}
				have = c->operation == 2 ? have | b : have & ~b;
				if (!have) {
					*msg = "cleanup.policy cannot be empty";
					return KERR_INVALID_CONFIG;
				}
				snprintf(cur, sizeof(cur), "%s", cleanup_text(have));
			}
			val = (myco__kstr_t){ (const uint8_t *)cur, (int32_t)strlen(cur) };
			break;
		default:
			*msg = "unknown operation";
			return KERR_INVALID_REQUEST;
		}
		rc = myco__ltopic_config_set(&tc, key, val, msg);
		if (rc < 0)
			return KERR_INVALID_CONFIG;
	}
	if (validate_only)
		return 0;
	rc = mls_topic_alter(lb->st, name, &tc);
	if (rc == -EINVAL) {
		*msg = "value out of range";
		return KERR_INVALID_CONFIG;
	}
	if (rc == 0 && lb->cfg.verbose)
		fprintf(stderr, "myco-log: topic %s: configs altered\n", name);
	return myco__lkerr(rc);
}

void myco__lh_alter_configs(myco__lb_t *lb, myco__lreq_t *req, const myco__kalter_configs_t *m)
{
	bool f = req->flex, incremental = req->key == KAPI_INCREMENTAL_ALTER_CONFIGS;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->nresources);
	for (int32_t i = 0; i < m->nresources; i++) {
		const myco__kalter_configs_resource_t *res = &m->resources[i];
		const char *msg = NULL;
		int16_t err;

		if (res->resource_type == KRES_TOPIC) {
			err = alter_topic(lb, incremental, m->validate_only, res, &msg);
		} else if (res->resource_type == KRES_BROKER) {
			err = KERR_INVALID_REQUEST;
			msg = "broker configs are set by myco-log's flags, not dynamically";
		} else {
			err = KERR_INVALID_REQUEST;
			msg = "only topic configs can be altered";
		}
		myco__kwr_i16(&w, err);
		myco__kwr_str(&w, f, msg);
		myco__kwr_i8(&w, res->resource_type);
		myco__kwr_strn(&w, f, res->resource_name.p,
			       res->resource_name.len < 0 ? 0 : res->resource_name.len);
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- DeleteRecords ----------------------------------------------------- */

void myco__lh_delete_records(myco__lb_t *lb, myco__lreq_t *req,
			     const myco__kdelete_records_t *m)
{
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->ntopics);
	for (int32_t i = 0; i < m->ntopics; i++) {
		const myco__ktopic_parts_t *t = &m->topics[i];
		char name[MLS_TOPIC_NAME_MAX + 1];
		bool ok = myco__ltopic_name(t->name, name);

		myco__kwr_strn(&w, f, t->name.p, t->name.len < 0 ? 0 : t->name.len);
		myco__kwr_array(&w, f, t->npartitions);
		for (int32_t j = 0; j < t->npartitions; j++) {
			mls_partition_t *p = NULL;
			int64_t low = -1;
			int rc = lb->cfg.repl ? MYCO__LREPL_UNREPLICATED :
				 ok ? mls_partition_get(lb->st, name, t->partitions[j].partition_index,
							&p)
				    : -MYCO_ELOG_NO_TOPIC;
			if (rc == 0) {
				rc = mls_delete_records(p, t->partitions[j].offset, &low);
				mls_partition_put(p);
			}
			myco__kwr_i32(&w, t->partitions[j].partition_index);
			myco__kwr_i64(&w, rc == 0 ? low : -1);
			myco__kwr_i16(&w, myco__lkerr(rc));
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* ---- DescribeCluster --------------------------------------------------- */

void myco__lh_describe_cluster(myco__lb_t *lb, myco__lreq_t *req,
			       const myco__kdescribe_cluster_t *m)
{
	myco__kwr_t w;

	(void)m;
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, 0);
	myco__kwr_str(&w, true, NULL);
	myco__kwr_str(&w, true, "myco-log");             /* as Metadata says */
	if (lb->cfg.repl) {
		/* cluster mode: every broker, the raft leader controls */
		size_t n, k;
		const myco__peer_t *peers = myco__lrepl_peers(lb->cfg.repl, &n);
		myco__kwr_i32(&w, myco__lrepl_leader(lb->cfg.repl));
		myco__kwr_array(&w, true, (int32_t)n);
		for (k = 0; k < n; k++) {
			myco__kwr_i32(&w, (int32_t)peers[k].id);
			myco__kwr_str(&w, true, peers[k].host);
			myco__kwr_i32(&w, (int32_t)peers[k].port);
			myco__kwr_str(&w, true, NULL);
			myco__kwr_tags(&w, true);
		}
	} else {
		myco__kwr_i32(&w, 0);                    /* controller: us */
		myco__kwr_array(&w, true, 1);
		myco__kwr_i32(&w, 0);
		myco__kwr_str(&w, true, lb->cfg.host);
		myco__kwr_i32(&w, lb->cfg.port);
		myco__kwr_str(&w, true, NULL);           /* rack */
		myco__kwr_tags(&w, true);
	}
	myco__kwr_i32(&w, INT32_MIN);                    /* authorized ops: none */
	myco__kwr_tags(&w, true);
	myco__lresp_send(req, &w);
}

/* ---- DescribeLogDirs --------------------------------------------------- */

static void log_dir_partition(myco__lb_t *lb, myco__kwr_t *w, bool f, const char *topic,
			      int32_t part)
{
	mls_partition_t *p = NULL;
	mls_offsets o = { 0, 0, 0, 0, 0, 0 };

	if (mls_partition_get(lb->st, topic, part, &p) == 0) {
		(void)mls_partition_offsets(p, &o);
		mls_partition_put(p);
	}
	myco__kwr_i32(w, part);
	myco__kwr_i64(w, o.size_bytes);
	myco__kwr_i64(w, o.log_end - o.high_watermark);  /* not yet durable */
	myco__kwr_i8(w, 0);                              /* is_future_key */
	myco__kwr_tags(w, f);
}

void myco__lh_describe_log_dirs(myco__lb_t *lb, myco__lreq_t *req,
				const myco__kdescribe_log_dirs_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	mls_topic_info *all = NULL;
	size_t cnt = 0;
	char dir[PATH_MAX];
	struct statvfs sv;
	myco__kwr_t w;

	if (!realpath(lb->cfg.data_dir, dir))
		snprintf(dir, sizeof(dir), "%s", lb->cfg.data_dir);
	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	if (v >= 3)
		myco__kwr_i16(&w, 0);
	myco__kwr_array(&w, f, 1);                       /* one log dir */
	myco__kwr_i16(&w, 0);
	myco__kwr_str(&w, f, dir);
	if (m->ntopics < 0) {
		if (mls_topic_list(lb->st, &all, &cnt) < 0)
			cnt = 0;
		myco__kwr_array(&w, f, (int32_t)cnt);
		for (size_t i = 0; i < cnt; i++) {
			myco__kwr_str(&w, f, all[i].name);
			myco__kwr_array(&w, f, all[i].partitions);
			for (int32_t j = 0; j < all[i].partitions; j++)
				log_dir_partition(lb, &w, f, all[i].name, j);
			myco__kwr_tags(&w, f);
		}
		free(all);
	} else {
		/* only the partitions that exist are listed, as Kafka does */
		int32_t n = 0;
		for (int32_t i = 0; i < m->ntopics; i++) {
			char name[MLS_TOPIC_NAME_MAX + 1];
			if (myco__ltopic_name(m->topics[i].name, name) &&
			    mls_topic_describe(lb->st, name, &(mls_topic_info){ 0 }) == 0)
				n++;
		}
		myco__kwr_array(&w, f, n);
		for (int32_t i = 0; i < m->ntopics; i++) {
			const myco__ktopic_parts_t *t = &m->topics[i];
			char name[MLS_TOPIC_NAME_MAX + 1];
			mls_topic_info ti;
			int32_t np = 0;
			if (!myco__ltopic_name(t->name, name) ||
			    mls_topic_describe(lb->st, name, &ti) < 0)
				continue;
			for (int32_t j = 0; j < t->npartitions; j++)
				if (t->partitions[j].partition_index >= 0 &&
				    t->partitions[j].partition_index < ti.partitions)
					np++;
			myco__kwr_str(&w, f, name);
			myco__kwr_array(&w, f, np);
			for (int32_t j = 0; j < t->npartitions; j++)
				if (t->partitions[j].partition_index >= 0 &&
				    t->partitions[j].partition_index < ti.partitions)
					log_dir_partition(lb, &w, f, name,
							  t->partitions[j].partition_index);
			myco__kwr_tags(&w, f);
		}
	}
	if (v >= 4) {
		bool ok = statvfs(dir, &sv) == 0;
		myco__kwr_i64(&w, ok ? (int64_t)(sv.f_blocks * sv.f_frsize) : -1);
		myco__kwr_i64(&w, ok ? (int64_t)(sv.f_bavail * sv.f_frsize) : -1);
	}
	myco__kwr_tags(&w, f);                           /* end of the result */
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}
