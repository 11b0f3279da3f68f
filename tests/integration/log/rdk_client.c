/*
 * rdk_client.c: a small librdkafka (Debian 2.0.2) client the myco-log
 * integration tests drive: it produces deterministic messages (key, value,
 * two headers, timestamp, all derived from the message number) and
 * verifies what a consumer reads back byte for byte.
 *
 *   rdk_client produce BROKER TOPIC N [--idempotent] [--acked FILE]
 *                      [--timeout-ms MS] [--from I] [--batch MSGS]
 *                      [-X librdkafka.property=value]...
 *   rdk_client verify  BROKER TOPIC N [--acked FILE] [--exact] [--ordered]
 *                      [--from I]
 *
 * produce: sends messages FROM..FROM+N-1, waits for every delivery report;
 *   with --acked, appends each acknowledged number to FILE as it arrives
 *   (flushed, so it survives the broker being killed).  Exit 0 if all were
 *   acknowledged.
 * verify: reads every partition from the beginning to its end; every
 *   message must match its expected bytes; no number may appear twice.
 *   --exact: FROM..FROM+N-1 all present; --acked: every number in FILE
 *   present; --ordered: numbers increase within a partition.
 * Not for: benchmarking (bench/log has its own load generator).
 */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TS_BASE 1700000000000LL

static void mkvalue(long i, char *buf, size_t *len)
{
	size_t n = 20 + (size_t)(i * 7919 % 200), k;
	uint32_t x = (uint32_t)i * 2654435761u;
	for (k = 0; k < n; k++) {
		x = x * 1103515245u + 12345u;
		buf[k] = (char)(x >> 24);
	}
	*len = n;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static FILE *acked_fp;
static long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		failed++;
		return;
	}
	delivered++;
	if (acked_fp) {
		fprintf(acked_fp, "%ld\n", (long)(intptr_t)m->_private);
		fflush(acked_fp);
	}
}

static rd_kafka_conf_t *base_conf(const char *broker)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", broker, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "broker.address.family", "v4", err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		exit(2);
	}
	if (getenv("RDK_DEBUG") &&
	    rd_kafka_conf_set(c, "debug", getenv("RDK_DEBUG"), err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		exit(2);
	}
	return c;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err))) {
		fprintf(stderr, "conf %s: %s\n", k, err);
		exit(2);
	}
}

static const char *batch_msgs = "10000";
static const char *xconf[16];   /* "key=value" from -X */
static int nxconf;

static int produce(const char *broker, const char *topic, long n, long from,
		   bool idem, const char *acked, int timeout_ms)
{
	char err[256], key[32], val[256], tmo[32];
	rd_kafka_conf_t *c = base_conf(broker);
	rd_kafka_t *rk;
	long i;
	size_t vl;
	int64_t deadline;

	snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
	set(c, "acks", "all");
	set(c, "linger.ms", "5");
	set(c, "batch.num.messages", batch_msgs);
	set(c, "message.timeout.ms", tmo);
	set(c, "enable.idempotence", idem ? "true" : "false");
	for (int k = 0; k < nxconf; k++) {
		char kv[256], *eq;
		snprintf(kv, sizeof(kv), "%s", xconf[k]);
		eq = strchr(kv, '=');
		if (!eq) {
			fprintf(stderr, "bad -X %s\n", kv);
			return 2;
		}
		*eq = 0;
		set(c, kv, eq + 1);
	}
	rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	if (acked && !(acked_fp = fopen(acked, "a"))) {
		perror(acked);
		return 2;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "producer: %s\n", err);
		return 2;
	}
	deadline = now_ms() + timeout_ms + 10000;
	for (i = from; i < from + n; i++) {
		char hv[24];
		rd_kafka_resp_err_t e;
		snprintf(key, sizeof(key), "k%ld", i);
		snprintf(hv, sizeof(hv), "%ld", i);
		mkvalue(i, val, &vl);
		for (;;) {
			e = rd_kafka_producev(rk,
				RD_KAFKA_V_TOPIC(topic),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE(val, vl),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_TIMESTAMP(TS_BASE + i),
				RD_KAFKA_V_HEADER("num", hv, -1),
				RD_KAFKA_V_HEADER("bin", "\0\1\2", 3),
				RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
				RD_KAFKA_V_END);
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
				break;
			rd_kafka_poll(rk, 10);
			if (now_ms() > deadline)
				break;
		}
		if (e) {
			fprintf(stderr, "produce %ld: %s\n", i, rd_kafka_err2str(e));
			break;
		}
		rd_kafka_poll(rk, 0);
	}
	while (rd_kafka_outq_len(rk) > 0 && now_ms() < deadline)
		rd_kafka_poll(rk, 50);
	fprintf(stderr, "produce: %ld delivered, %ld failed of %ld\n", delivered, failed, n);
	rd_kafka_destroy(rk);
	if (acked_fp)
		fclose(acked_fp);
	return delivered == n ? 0 : 1;
}

static int verify(const char *broker, const char *topic, long n, long from,
		  const char *acked, bool exact, bool ordered)
{
	char err[256];
	rd_kafka_conf_t *c = base_conf(broker);
	rd_kafka_t *rk;
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_partition_list_t *tp;
	unsigned char *seen;
	long *last = NULL, bad = 0, dups = 0, got = 0, i;
	int np = 0, eofs = 0, p;
	int64_t deadline = now_ms() + 60000;
	rd_kafka_topic_t *rkt;

	seen = calloc((size_t)(from + n + 1), 1);
	set(c, "group.id", "rdk-client-verify");
	set(c, "enable.auto.commit", "false");
	set(c, "enable.partition.eof", "true");
	set(c, "check.crcs", "true");
	set(c, "auto.offset.reset", "earliest");
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "consumer: %s\n", err);
		return 2;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
	    md->topics[0].err) {
		fprintf(stderr, "verify: no metadata for %s\n", topic);
		return 1;
	}
	np = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	last = calloc((size_t)np, sizeof(*last));
	tp = rd_kafka_topic_partition_list_new(np);
	for (p = 0; p < np; p++) {
		rd_kafka_topic_partition_list_add(tp, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
		last[p] = -1;
	}
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	while (eofs < np && now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		rd_kafka_headers_t *hdrs = NULL;
		const void *hv;
		size_t hl, vl;
		char val[256], key[32], num[24];
		rd_kafka_timestamp_type_t tt;
		int64_t ts;
		long id;

		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			eofs++;
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			fprintf(stderr, "verify: consume error: %s\n", rd_kafka_message_errstr(m));
			bad++;
			rd_kafka_message_destroy(m);
			if (bad > 10)
				break;
			continue;
		}
		got++;
		if (m->key_len < 2 || m->key_len > 20 || ((char *)m->key)[0] != 'k') {
			bad++;
			goto next;
		}
		memcpy(key, m->key, m->key_len);
		key[m->key_len] = 0;
		id = strtol(key + 1, NULL, 10);
		if (id < from || id >= from + n) {
			fprintf(stderr, "verify: unexpected id %ld\n", id);
			bad++;
			goto next;
		}
		mkvalue(id, val, &vl);
		ts = rd_kafka_message_timestamp(m, &tt);
		snprintf(num, sizeof(num), "%ld", id);
		if (m->len != vl || memcmp(m->payload, val, vl) || ts != TS_BASE + id ||
		    tt != RD_KAFKA_TIMESTAMP_CREATE_TIME ||
		    rd_kafka_message_headers(m, &hdrs) || rd_kafka_header_cnt(hdrs) != 2 ||
		    rd_kafka_header_get_last(hdrs, "num", &hv, &hl) || hl != strlen(num) ||
		    memcmp(hv, num, hl) ||
		    rd_kafka_header_get_last(hdrs, "bin", &hv, &hl) || hl != 3 ||
		    memcmp(hv, "\0\1\2", 3)) {
			fprintf(stderr, "verify: message %ld differs\n", id);
			bad++;
			goto next;
		}
		if (seen[id]) {
			dups++;
		}
		seen[id] = 1;
		if (ordered && id <= last[m->partition]) {
			fprintf(stderr, "verify: out of order %ld after %ld\n", id, last[m->partition]);
			bad++;
		}
		last[m->partition] = id;
next:
		rd_kafka_message_destroy(m);
	}
	if (eofs < np) {
		fprintf(stderr, "verify: timed out (%d of %d partitions read)\n", eofs, np);
		bad++;
	}
	if (exact)
		for (i = from; i < from + n; i++)
			if (!seen[i]) {
				if (bad < 20)
					fprintf(stderr, "verify: missing %ld\n", i);
				bad++;
			}
	if (acked) {
		FILE *f = fopen(acked, "r");
		long a, na = 0;
		while (f && fscanf(f, "%ld", &a) == 1) {
			na++;
			if (a < from || a >= from + n || !seen[a]) {
				if (bad < 20)
					fprintf(stderr, "verify: acknowledged %ld missing\n", a);
				bad++;
			}
		}
		if (f)
			fclose(f);
		fprintf(stderr, "verify: %ld acknowledged numbers checked\n", na);
	}
	fprintf(stderr, "verify: %ld messages, %ld bad, %ld duplicates\n", got, bad, dups);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	free(seen);
	free(last);
	return bad || dups ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *acked = NULL;
	bool idem = false, exact = false, ordered = false;
	long from = 0;
	int timeout_ms = 30000, i;

	if (argc < 5) {
		fprintf(stderr, "usage: rdk_client produce|verify BROKER TOPIC N [options]\n");
		return 2;
	}
	for (i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "--idempotent"))
			idem = true;
		else if (!strcmp(argv[i], "--exact"))
			exact = true;
		else if (!strcmp(argv[i], "--ordered"))
			ordered = true;
		else if (!strcmp(argv[i], "--acked") && i + 1 < argc)
			acked = argv[++i];
		else if (!strcmp(argv[i], "-X") && i + 1 < argc && nxconf < 16)
			xconf[nxconf++] = argv[++i];
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch_msgs = argv[++i];
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = atol(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout_ms = atoi(argv[++i]);
		else {
			fprintf(stderr, "rdk_client: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!strcmp(argv[1], "produce"))
		return produce(argv[2], argv[3], atol(argv[4]), from, idem, acked, timeout_ms);
	if (!strcmp(argv[1], "verify"))
		return verify(argv[2], argv[3], atol(argv[4]), from, acked, exact, ordered);
	fprintf(stderr, "rdk_client: unknown mode %s\n", argv[1]);
	return 2;
}
