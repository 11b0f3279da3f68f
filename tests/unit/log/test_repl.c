/*
 * test_repl.c: unit tests of myco-log's cluster-mode pieces that need no
 * network: the raft entry format (round trips, and every kind of damaged
 * entry refused), records entries applied to a real store (temp dir) as
 * every replica applies them, and the option checks.  The cluster itself
 * is tested with real clients in tests/integration/log/log_repl_test.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl.h"

static size_t enc(const myco__lrepl_entry_t *e, uint8_t *buf, size_t cap)
{
	size_t n = myco__lrepl_entry_size(e);
	assert_true(n <= cap);
	assert_int_equal(n % 8, 0);
	myco__lrepl_entry_encode(e, buf);
	return n;
}

static void roundtrip(void **state)
{
	uint8_t buf[512], rec[100];
	myco__lrepl_entry_t e = { 0 }, d;
	size_t n;

	(void)state;
	memset(rec, 0x5a, sizeof(rec));
	e = (myco__lrepl_entry_t){ .type = LREPL_RECORDS, .topic = "orders", .topic_len = 6,
				   .partition = 7, .rec = rec, .rec_len = sizeof(rec) };
	n = enc(&e, buf, sizeof(buf));
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), 0);
	assert_int_equal(d.type, LREPL_RECORDS);
	assert_int_equal(d.topic_len, 6);
	assert_memory_equal(d.topic, "orders", 6);
	assert_int_equal(d.partition, 7);
	assert_int_equal(d.rec_len, sizeof(rec));
	assert_memory_equal(d.rec, rec, sizeof(rec));

	e = (myco__lrepl_entry_t){ .type = LREPL_CREATE, .topic = "t", .topic_len = 1,
				   .partitions = 12 };
	mls_topic_config_init(&e.tc);
	e.tc.retention_ms = -1;
	e.tc.cleanup_policy = MLS_CLEANUP_COMPACT;
	n = enc(&e, buf, sizeof(buf));
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), 0);
	assert_int_equal(d.partitions, 12);
	assert_memory_equal(&d.tc, &e.tc, sizeof(e.tc));

	e = (myco__lrepl_entry_t){ .type = LREPL_ISR, .isr_mask = 5 };
	n = enc(&e, buf, sizeof(buf));
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), 0);
	assert_int_equal(d.isr_mask, 5);
}

static void damaged(void **state)
{
	uint8_t buf[512], bad[512], rec[16] = { 1 };
	myco__lrepl_entry_t e = { .type = LREPL_RECORDS, .topic = "t", .topic_len = 1,
				  .partition = 0, .rec = rec, .rec_len = sizeof(rec) }, d;
	size_t n = enc(&e, buf, sizeof(buf)), i;

	(void)state;
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), 0);
	/* every truncation, and one byte more */
	for (i = 0; i < n; i++)
		assert_int_equal(myco__lrepl_entry_decode(buf, i, &d), -EBADMSG);
	memcpy(bad, buf, n);
	memset(bad + n, 0, 8);
	assert_int_equal(myco__lrepl_entry_decode(bad, n + 8, &d), -EBADMSG);
	/* magic, type, reserved bytes, length, padding, topic, partition */
	struct { size_t at; uint8_t v; } flips[] = {
		{ 0, 0x00 }, { 4, 9 }, { 4, 0 }, { 5, 1 }, { 12, 1 }, { 8, 0xff },
		{ 16, 0 }, { 17, 1 }, { 18, 0 }, { 22, 0x80 },
	};
	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, buf, n);
		bad[flips[i].at] = flips[i].v;
		assert_int_equal(myco__lrepl_entry_decode(bad, n, &d), -EBADMSG);
	}
	/* a non-zero padding byte */
	e.rec_len = 15;
	n = enc(&e, buf, sizeof(buf));
	buf[n - 1] = 1;
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), -EBADMSG);
	/* an empty ISR, a create with 0 partitions */
	e = (myco__lrepl_entry_t){ .type = LREPL_ISR, .isr_mask = 0 };
	n = enc(&e, buf, sizeof(buf));
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), -EBADMSG);
	e = (myco__lrepl_entry_t){ .type = LREPL_CREATE, .topic = "t", .topic_len = 1 };
	n = enc(&e, buf, sizeof(buf));
	assert_int_equal(myco__lrepl_entry_decode(buf, n, &d), -EBADMSG);
}

static void apply_to_store(void **state)
{
	char dir[] = "/tmp/test-log-repl-XXXXXX", cmd[64];
	mls_store_t *st;
	mls_config cfg;
	myco__lrepl_res_t res;
	uint8_t junk[70];
	myco__lrepl_entry_t e = { .type = LREPL_RECORDS, .topic = "t", .topic_len = 1,
				  .partition = 0, .rec = junk, .rec_len = sizeof(junk) };

	(void)state;
	assert_non_null(mkdtemp(dir));
	mls_config_init(&cfg);
	cfg.fsync_policy = MLS_FSYNC_NEVER;
	cfg.retention_check_ms = 0;
	assert_int_equal(mls_open(dir, &cfg, &st), 0);
	/* unknown topic, then a corrupt batch: errors, nothing stored */
	memset(junk, 0, sizeof(junk));
	myco__lrepl_apply_records(st, &e, &res);
	assert_int_equal(res.rc, -MYCO_ELOG_NO_TOPIC);
	assert_int_equal(mls_topic_create(st, "t", 1, NULL), 0);
	myco__lrepl_apply_records(st, &e, &res);
	assert_true(res.rc < 0);
	assert_int_equal(res.nbatches, 0);
	e.partition = 3;
	myco__lrepl_apply_records(st, &e, &res);
	assert_int_equal(res.rc, -MYCO_ELOG_NO_TOPIC);
	mls_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void options(void **state)
{
	myco__peer_t peers[MYCO__PEERS_MAX];
	size_t n;
	char err[256];
	myco__lrepl_opts_t o = { .id = 2, .peers = "1=a:1:2,2=b:1:2,3=c:1:2", .min_insync = 2 };

	(void)state;
	assert_int_equal(myco__lrepl_check(&o, peers, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	o.min_insync = 4;
	assert_int_equal(myco__lrepl_check(&o, peers, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--min-insync-replicas 4"));
	o.min_insync = 1;
	o.id = 9;
	assert_int_equal(myco__lrepl_check(&o, peers, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--node-id 9"));
	o.id = 1;
	o.peers = "1=a:1:2,2=b:1:2,3=c:1:2,4=d:1:2";
	assert_int_equal(myco__lrepl_check(&o, peers, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 3"));
	o.peers = "";
	assert_int_equal(myco__lrepl_check(&o, peers, &n, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(damaged),
		cmocka_unit_test(apply_to_store),
		cmocka_unit_test(options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
