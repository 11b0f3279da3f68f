/* test_broker.c: unit tests for myco-log's broker core (svc/log/broker.c,
 * group.c) against the real store in a temp dir.  The connection interface
 * (myco__lc_*) is implemented here: a "connection" records the response,
 * file ranges included (read back with pread), so every handler can be
 * driven request by request without sockets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_int.h"
#include "store.h"

/* ---- fake connections --------------------------------------------------- */

struct myco__lc {
	int answered, aborted, noreply;
	uint8_t *resp;
	size_t len;
	size_t nfiles;        /* file ranges in the last answer */
};

void myco__lc_send(myco__lc_t *c, myco__kwr_t *w)
{
	size_t pos = 0, out = 0, i;
	c->len = myco__kwr_total(w);
	c->nfiles = w->nfiles;
	free(c->resp);
	c->resp = malloc(c->len + 1);
	assert_non_null(c->resp);
	for (i = 0; i <= w->nfiles; i++) {
		size_t end = i < w->nfiles ? w->files[i].at : w->len;
		memcpy(c->resp + out, w->buf + pos, end - pos);
		out += end - pos;
		pos = end;
		if (i < w->nfiles) {
			ssize_t n = pread(w->files[i].fd, c->resp + out, w->files[i].len,
					  w->files[i].off);
			assert_int_equal(n, (ssize_t)w->files[i].len);
			out += w->files[i].len;
		}
	}
	assert_int_equal(out, c->len);
	myco__kwr_free(w);
	c->answered++;
}

void myco__lc_noreply(myco__lc_t *c)
{
	c->noreply++;
	c->answered++;
}

void myco__lc_abort(myco__lc_t *c)
{
	c->aborted++;
	c->answered++;
}

const char *myco__lc_peer(const myco__lc_t *c)
{
	(void)c;
	return "/127.0.0.1";
}

void **myco__lc_session(myco__lc_t *c)
{
	static void *session;   /* no SASL in these tests: stays NULL */
	(void)c;
	return &session;
}

/* ---- fixture ------------------------------------------------------------ */

static char dir[64];
static myco__lb_t *lb;

static int setup_fsync(int mode)
{
	myco__lcfg_t cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(dir, sizeof(dir), "/tmp/myco-log-unit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	cfg.host = "127.0.0.1";
	cfg.port = 9092;
	cfg.data_dir = dir;
	cfg.fsync_mode = mode;
	cfg.auto_create = true;
	cfg.default_partitions = 1;
	cfg.group_initial_delay_ms = 0;
	return myco__lb_open(&cfg, &lb);
}

static int setup(void **state)
{
	(void)state;
	return setup_fsync(MLS_FSYNC_NEVER);
}

static int setup_always(void **state)
{
	(void)state;
	return setup_fsync(MLS_FSYNC_ALWAYS);
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	myco__lb_close(lb);
	lb = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- request building --------------------------------------------------- */

static void req_begin(myco__kwr_t *w, int16_t key, int16_t ver, int32_t corr, bool flex)
{
	myco__kwr_init(w);
	(void)myco__kwr_reserve_i32(w);
	myco__kwr_i16(w, key);
	myco__kwr_i16(w, ver);
	myco__kwr_i32(w, corr);
	myco__kwr_str(w, false, "unit");
	myco__kwr_tags(w, flex);
}

/* Send w on c; returns the broker's return code.  Frees w. */
static int call(myco__lc_t *c, myco__kwr_t *w)
{
	int rc;
	c->answered = c->aborted = c->noreply = 0;
	rc = myco__lb_request(lb, c, w->buf + 4, w->len - 4);
	myco__kwr_free(w);
	return rc;
}

/* Reader over c's response body (after size and correlation id). */
static myco__krd_t resp(myco__lc_t *c, int32_t corr, bool flex)
{
	myco__krd_t r;
	/* fsync=always answers after the store's sync thread: run the tick */
	for (int i = 0; i < 2000 && !c->answered; i++) {
		(void)myco__lb_tick(lb);
		if (!c->answered)
			usleep(1000);
	}
	assert_true(c->answered);
	assert_false(c->aborted);
	assert_non_null(c->resp);
	myco__krd_init(&r, c->resp, c->len);
	assert_int_equal(myco__krd_i32(&r), (int32_t)c->len - 4);
	assert_int_equal(myco__krd_i32(&r), corr);
	myco__krd_tags(&r, flex);
	return r;
}

static bool kstreq(myco__kstr_t s, const char *z)
{
	return s.p && (size_t)s.len == strlen(z) && !memcmp(s.p, z, (size_t)s.len);
}

/* A RecordBatch v2 with n records "k<i>" -> "value-<i>"; returns its size. */
static size_t make_batch(uint8_t *out, size_t cap, int n, int64_t ts, int64_t pid,
			 int32_t seq)
{
	myco__kwr_t w;
	size_t len;
	int i;

	myco__kwr_init(&w);
	myco__kwr_i64(&w, 0);
	myco__kwr_i32(&w, 0);            /* length, patched */
	myco__kwr_i32(&w, 0);            /* leader epoch */
	myco__kwr_i8(&w, 2);
	myco__kwr_i32(&w, 0);            /* crc, patched */
	myco__kwr_i16(&w, 0);
	myco__kwr_i32(&w, n - 1);
	myco__kwr_i64(&w, ts);
	myco__kwr_i64(&w, ts + n - 1);
	myco__kwr_i64(&w, pid);
	myco__kwr_i16(&w, pid >= 0 ? 0 : -1);
	myco__kwr_i32(&w, seq);
	myco__kwr_i32(&w, n);
	for (i = 0; i < n; i++) {
		char k[16], v[32];
		int kl = snprintf(k, sizeof(k), "k%d", i);
		int vl = snprintf(v, sizeof(v), "value-%d", i);
		size_t body = 1 + myco__kvarint_size(i, true) + myco__kvarint_size(i, true) +
			      myco__kvarint_size(kl, true) + (size_t)kl +
			      myco__kvarint_size(vl, true) + (size_t)vl + 1;
		myco__kwr_varint(&w, (int32_t)body);
		myco__kwr_i8(&w, 0);
		myco__kwr_varlong(&w, i);
		myco__kwr_varint(&w, i);
		myco__kwr_varint(&w, kl);
		myco__kwr_raw(&w, k, (size_t)kl);
		myco__kwr_varint(&w, vl);
		myco__kwr_raw(&w, v, (size_t)vl);
		myco__kwr_varint(&w, 0);
	}
	assert_int_equal(w.err, 0);
	len = w.len;
	myco__kwr_patch_i32(&w, 8, (int32_t)(len - 12));
	myco__kwr_patch_i32(&w, 17, (int32_t)mls_crc32c(0, w.buf + 21, len - 21));
	assert_true(len <= cap);
	memcpy(out, w.buf, len);
	myco__kwr_free(&w);
	return len;
}

/* Metadata v1 for topic: auto-creates it (as a client's first request). */
static void ensure_topic(const char *topic)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	req_begin(&w, KAPI_METADATA, 1, 99, false);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, topic);
	assert_int_equal(call(&c, &w), 0);
	assert_true(c.answered);
	free(c.resp);
}

static void produce(myco__lc_t *c, const char *topic, int32_t part, const uint8_t *b,
		    size_t blen, int16_t acks, int16_t ver)
{
	myco__kwr_t w;
	ensure_topic(topic);
	req_begin(&w, KAPI_PRODUCE, ver, 100, false);
	myco__kwr_str(&w, false, NULL);
	myco__kwr_i16(&w, acks);
	myco__kwr_i32(&w, 5000);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, topic);
	myco__kwr_array(&w, false, 1);
	myco__kwr_i32(&w, part);
	myco__kwr_i32(&w, (int32_t)blen);
	myco__kwr_raw(&w, b, blen);
	assert_int_equal(call(c, &w), 0);
}

/* Parse a v3+ produce answer for one partition; returns its error code. */
static int16_t produce_result(myco__lc_t *c, int64_t *base)
{
	myco__krd_t r = resp(c, 100, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_str(&r, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_i32(&r);
	int16_t err = myco__krd_i16(&r);
	*base = myco__krd_i64(&r);
	assert_int_equal(r.err, 0);
	return err;
}

static void fetch_req(myco__lc_t *c, int16_t ver, const char *topic, int64_t off,
		      int32_t max_wait, int32_t min_bytes)
{
	myco__kwr_t w;
	req_begin(&w, KAPI_FETCH, ver, 200, false);
	myco__kwr_i32(&w, -1);
	myco__kwr_i32(&w, max_wait);
	myco__kwr_i32(&w, min_bytes);
	myco__kwr_i32(&w, 1 << 20);
	myco__kwr_i8(&w, 0);
	if (ver >= 7) {
		myco__kwr_i32(&w, 0);
		myco__kwr_i32(&w, -1);
	}
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, topic);
	myco__kwr_array(&w, false, 1);
	myco__kwr_i32(&w, 0);
	if (ver >= 9)
		myco__kwr_i32(&w, -1);
	myco__kwr_i64(&w, off);
	if (ver >= 5)
		myco__kwr_i64(&w, -1);
	myco__kwr_i32(&w, 1 << 20);
	if (ver >= 7)
		myco__kwr_array(&w, false, 0);
	if (ver >= 11)
		myco__kwr_str(&w, false, "");
	assert_int_equal(call(c, &w), 0);
}

/* Parse a fetch answer (one partition): error, hw, records. */
static int16_t fetch_result(myco__lc_t *c, int16_t ver, int64_t *hw, myco__kstr_t *recs)
{
	myco__krd_t r = resp(c, 200, false);
	int16_t err;
	(void)myco__krd_i32(&r);                   /* throttle */
	if (ver >= 7) {
		assert_int_equal(myco__krd_i16(&r), 0);
		(void)myco__krd_i32(&r);
	}
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_str(&r, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 0);
	err = myco__krd_i16(&r);
	*hw = myco__krd_i64(&r);
	(void)myco__krd_i64(&r);
	if (ver >= 5)
		(void)myco__krd_i64(&r);
	assert_int_equal(myco__krd_array(&r, false, 16), -1);
	if (ver >= 11)
		(void)myco__krd_i32(&r);
	*recs = myco__krd_bytes(&r, false);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	return err;
}

/* ---- tests -------------------------------------------------------------- */

static void test_api_versions(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	int32_t n, i;
	bool saw_produce = false;
	(void)state;

	req_begin(&w, KAPI_API_VERSIONS, 0, 1, false);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 1, false);
	assert_int_equal(myco__krd_i16(&r), 0);
	n = myco__krd_array(&r, false, 6);
	assert_int_equal(n, myco__nlapis);
	for (i = 0; i < n; i++) {
		int16_t k = myco__krd_i16(&r), lo = myco__krd_i16(&r), hi = myco__krd_i16(&r);
		if (k == KAPI_PRODUCE) {
			saw_produce = true;
			/* advertised from v0 for librdkafka's compression
			 * check; v0-v2 themselves are refused (test_unsupported) */
			assert_int_equal(lo, 0);
			assert_true(hi >= 7);
		}
	}
	assert_true(saw_produce);
	assert_int_equal(myco__krd_left(&r), 0);

	/* v3: flexible body, but response header v0 (no tags after corr) */
	req_begin(&w, KAPI_API_VERSIONS, 3, 2, true);
	myco__kwr_str(&w, true, "unit");
	myco__kwr_str(&w, true, "1.0");
	myco__kwr_tags(&w, true);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 2, false);
	assert_int_equal(myco__krd_i16(&r), 0);
	n = myco__krd_array(&r, true, 7);
	assert_int_equal(n, myco__nlapis);
	for (i = 0; i < n; i++) {
		(void)myco__krd_i16(&r);
		(void)myco__krd_i16(&r);
		(void)myco__krd_i16(&r);
		myco__krd_tags(&r, true);
	}
	assert_int_equal(myco__krd_i32(&r), 0);
	myco__krd_tags(&r, true);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);

	/* an unknown future version: v0 shape, UNSUPPORTED_VERSION + list */
	req_begin(&w, KAPI_API_VERSIONS, 42, 3, true);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 3, false);
	assert_int_equal(myco__krd_i16(&r), KERR_UNSUPPORTED_VERSION);
	assert_int_equal(myco__krd_array(&r, false, 6), myco__nlapis);
	free(c.resp);
}

static void test_unsupported(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	(void)state;

	req_begin(&w, 1234, 0, 9, false);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 9, false);
	assert_int_equal(myco__krd_i16(&r), KERR_UNSUPPORTED_VERSION);

	/* Produce v2: below our range, answered in v2's shape */
	req_begin(&w, KAPI_PRODUCE, 2, 10, false);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 10, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 0);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_left(&r), 0);

	/* JoinGroup v9 (flexible): header v1, error in place */
	req_begin(&w, KAPI_JOIN_GROUP, 9, 11, true);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 11, true);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_i16(&r), KERR_UNSUPPORTED_VERSION);

	/* a frame too short for a header: the caller must close */
	c.answered = 0;
	uint8_t shorty[2] = { 0x00, 0x03 };
	assert_int_equal(myco__lb_request(lb, &c, shorty, 2), -EBADMSG);
	free(c.resp);
}

static void test_metadata_create(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	int16_t errs[4];
	int i;
	(void)state;

	/* CreateTopics v2: ok, exists, bad replication, bad name */
	req_begin(&w, KAPI_CREATE_TOPICS, 2, 5, false);
	myco__kwr_array(&w, false, 4);
	const char *names[] = { "ct", "ct", "rf3", "bad/name" };
	const int16_t rfs[] = { 1, 1, 3, -1 };
	for (i = 0; i < 4; i++) {
		myco__kwr_str(&w, false, names[i]);
		myco__kwr_i32(&w, 4);
		myco__kwr_i16(&w, rfs[i]);
		myco__kwr_array(&w, false, 0);
		myco__kwr_array(&w, false, i == 0 ? 1 : 0);
		if (i == 0) {
			myco__kwr_str(&w, false, "retention.ms");
			myco__kwr_str(&w, false, "3600000");
		}
	}
	myco__kwr_i32(&w, 1000);
	myco__kwr_i8(&w, 0);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 5, false);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_array(&r, false, 1), 4);
	for (i = 0; i < 4; i++) {
		assert_true(kstreq(myco__krd_str(&r, false), names[i]));
		errs[i] = myco__krd_i16(&r);
		(void)myco__krd_str(&r, false);
	}
	assert_int_equal(errs[0], 0);
	assert_int_equal(errs[1], KERR_TOPIC_ALREADY_EXISTS);
	assert_int_equal(errs[2], KERR_INVALID_REPLICATION_FACTOR);
	assert_int_equal(errs[3], KERR_INVALID_TOPIC_EXCEPTION);

	/* Metadata v1 for ct (4 partitions) and auto-created "auto" */
	req_begin(&w, KAPI_METADATA, 1, 6, false);
	myco__kwr_array(&w, false, 2);
	myco__kwr_str(&w, false, "ct");
	myco__kwr_str(&w, false, "auto");
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 6, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_true(kstreq(myco__krd_str(&r, false), "127.0.0.1"));
	assert_int_equal(myco__krd_i32(&r), 9092);
	(void)myco__krd_str(&r, false);            /* rack */
	assert_int_equal(myco__krd_i32(&r), 0);    /* controller */
	assert_int_equal(myco__krd_array(&r, false, 1), 2);
	assert_int_equal(myco__krd_i16(&r), 0);
	assert_true(kstreq(myco__krd_str(&r, false), "ct"));
	(void)myco__krd_i8(&r);
	assert_int_equal(myco__krd_array(&r, false, 1), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(myco__krd_i16(&r), 0);
		assert_int_equal(myco__krd_i32(&r), i);
		assert_int_equal(myco__krd_i32(&r), 0);
		assert_int_equal(myco__krd_array(&r, false, 4), 1);
		(void)myco__krd_i32(&r);
		assert_int_equal(myco__krd_array(&r, false, 4), 1);
		(void)myco__krd_i32(&r);
	}
	assert_int_equal(myco__krd_i16(&r), 0);
	assert_true(kstreq(myco__krd_str(&r, false), "auto"));
	assert_int_equal(r.err, 0);

	/* Metadata v4 with auto-creation refused: unknown topic */
	req_begin(&w, KAPI_METADATA, 4, 7, false);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, "nope");
	myco__kwr_i8(&w, 0);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 7, false);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_i32(&r);
	(void)myco__krd_str(&r, false);
	(void)myco__krd_i32(&r);
	(void)myco__krd_str(&r, false);
	(void)myco__krd_str(&r, false);            /* cluster id */
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	assert_int_equal(myco__krd_i16(&r), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	free(c.resp);
}

static void produce_fetch_roundtrip(int16_t fver)
{
	myco__lc_t c = { 0 };
	uint8_t b1[4096], b2[4096];
	size_t l1, l2;
	int64_t base, hw;
	myco__kstr_t recs;

	l1 = make_batch(b1, sizeof(b1), 3, 1700000000000LL, -1, -1);
	l2 = make_batch(b2, sizeof(b2), 2, 1700000000100LL, -1, -1);
	produce(&c, "pf", 0, b1, l1, 1, 3);
	assert_int_equal(produce_result(&c, &base), 0);
	assert_int_equal(base, 0);
	produce(&c, "pf", 0, b2, l2, -1, 7);
	assert_int_equal(produce_result(&c, &base), 0);
	assert_int_equal(base, 3);

	fetch_req(&c, fver, "pf", 0, 0, 1);
	assert_int_equal(fetch_result(&c, fver, &hw, &recs), 0);
	assert_int_equal(hw, 5);
	assert_int_equal(recs.len, (int32_t)(l1 + l2));
	/* byte-identical except the base offset the broker assigned */
	assert_memory_equal(recs.p + 8, b1 + 8, l1 - 8);
	assert_memory_equal(recs.p + l1 + 8, b2 + 8, l2 - 8);
	assert_memory_equal(recs.p + l1, "\0\0\0\0\0\0\0\3", 8);

	/* from offset 4: the batch holding it (base 3) comes back */
	fetch_req(&c, fver, "pf", 4, 0, 1);
	assert_int_equal(fetch_result(&c, fver, &hw, &recs), 0);
	assert_int_equal(recs.len, (int32_t)l2);

	/* out of range */
	fetch_req(&c, fver, "pf", 99, 0, 1);
	assert_int_equal(fetch_result(&c, fver, &hw, &recs), KERR_OFFSET_OUT_OF_RANGE);
	free(c.resp);
}

/* Large answers leave as file ranges (zero-copy), small ones as copies;
 * both carry the same bytes. */
static void test_fetch_zero_copy(void **state)
{
	myco__lc_t c = { 0 };
	static uint8_t b[3][40000];
	size_t l[3], total = 0;
	int64_t base, hw;
	myco__kstr_t recs;
	int i;
	(void)state;

	for (i = 0; i < 3; i++) {
		l[i] = make_batch(b[i], sizeof(b[i]), 600, 1000 * i, -1, -1);
		assert_true(l[i] > 8192);
		produce(&c, "zc", 0, b[i], l[i], 1, 3);
		assert_int_equal(produce_result(&c, &base), 0);
		total += l[i];
	}
	fetch_req(&c, 4, "zc", 0, 0, 1);
	assert_int_equal(fetch_result(&c, 4, &hw, &recs), 0);
	assert_true(c.nfiles >= 1);
	assert_int_equal(recs.len, (int32_t)total);
	assert_memory_equal(recs.p + l[0] + l[1] + 8, b[2] + 8, l[2] - 8);
	/* a small batch alone is copied into the answer */
	uint8_t small[512];
	size_t sl = make_batch(small, sizeof(small), 2, 5, -1, -1);
	produce(&c, "zc", 0, small, sl, 1, 3);
	assert_int_equal(produce_result(&c, &base), 0);
	fetch_req(&c, 4, "zc", base, 0, 1);
	assert_int_equal(fetch_result(&c, 4, &hw, &recs), 0);
	assert_int_equal(c.nfiles, 0);
	assert_int_equal(recs.len, (int32_t)sl);
	assert_memory_equal(recs.p + 8, small + 8, sl - 8);
	free(c.resp);
}

static void test_produce_fetch_v4(void **state)
{
	(void)state;
	produce_fetch_roundtrip(4);
}

static void test_produce_fetch_v11(void **state)
{
	(void)state;
	produce_fetch_roundtrip(11);
}

static void test_produce_errors(void **state)
{
	myco__lc_t c = { 0 };
	uint8_t b[4096];
	size_t l;
	int64_t base;
	(void)state;

	l = make_batch(b, sizeof(b), 2, 1, -1, -1);
	b[30] ^= 0x40;                             /* corrupt after the CRC */
	produce(&c, "pe", 0, b, l, 1, 3);
	assert_int_equal(produce_result(&c, &base), KERR_CORRUPT_MESSAGE);
	l = make_batch(b, sizeof(b), 2, 1, -1, -1);
	produce(&c, "pe", 7, b, l, 1, 3);          /* no partition 7 */
	assert_int_equal(produce_result(&c, &base), KERR_UNKNOWN_TOPIC_OR_PARTITION);
	produce(&c, "pe", 0, b, 20, 1, 3);         /* cut batch */
	assert_int_equal(produce_result(&c, &base), KERR_CORRUPT_MESSAGE);
	produce(&c, "pe", 0, b, l, 5, 3);          /* acks=5 */
	assert_int_equal(produce_result(&c, &base), KERR_INVALID_REQUIRED_ACKS);
	/* acks=0: stored, no answer */
	produce(&c, "pe", 0, b, l, 0, 3);
	assert_int_equal(c.noreply, 1);
	free(c.resp);
}

static void test_idempotent_duplicate(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	uint8_t b[4096];
	size_t l;
	int64_t pid, base;
	(void)state;

	req_begin(&w, KAPI_INIT_PRODUCER_ID, 1, 30, false);
	myco__kwr_str(&w, false, NULL);
	myco__kwr_i32(&w, 60000);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 30, false);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_i16(&r), 0);
	pid = myco__krd_i64(&r);
	assert_true(pid >= 0);
	assert_int_equal(myco__krd_i16(&r), 0);

	l = make_batch(b, sizeof(b), 4, 1, pid, 0);
	produce(&c, "idem", 0, b, l, -1, 3);
	assert_int_equal(produce_result(&c, &base), 0);
	assert_int_equal(base, 0);
	/* the same batch again (a retry): acknowledged with the same offset */
	l = make_batch(b, sizeof(b), 4, 1, pid, 0);
	produce(&c, "idem", 0, b, l, -1, 3);
	assert_int_equal(produce_result(&c, &base), 0);
	assert_int_equal(base, 0);
	/* a gap in the sequence */
	l = make_batch(b, sizeof(b), 1, 1, pid, 9);
	produce(&c, "idem", 0, b, l, -1, 3);
	assert_int_equal(produce_result(&c, &base), KERR_OUT_OF_ORDER_SEQUENCE_NUMBER);

	free(c.resp);
}

/* InitProducerId for a transactional id: its producer id and epoch. */
static int16_t txn_init(myco__lc_t *c, const char *tid, int32_t timeout, int64_t *pid,
			int16_t *epoch)
{
	myco__kwr_t w;
	myco__krd_t r;
	int16_t err;

	req_begin(&w, KAPI_INIT_PRODUCER_ID, 1, 31, false);
	myco__kwr_str(&w, false, tid);
	myco__kwr_i32(&w, timeout);
	assert_int_equal(call(c, &w), 0);
	r = resp(c, 31, false);
	(void)myco__krd_i32(&r);
	err = myco__krd_i16(&r);
	*pid = myco__krd_i64(&r);
	*epoch = myco__krd_i16(&r);
	return err;
}

/* The producer part of AddPartitionsToTxn, AddOffsetsToTxn, EndTxn. */
static void txn_head(myco__kwr_t *w, int16_t key, int16_t v, int32_t corr, const char *tid,
		     int64_t pid, int16_t epoch)
{
	bool f = v >= 3;
	req_begin(w, key, v, corr, f);
	myco__kwr_str(w, f, tid);
	myco__kwr_i64(w, pid);
	myco__kwr_i16(w, epoch);
}

/* AddPartitionsToTxn of topic[0]: the partition's error. */
static int16_t txn_add_part(myco__lc_t *c, int16_t v, const char *tid, int64_t pid,
			    int16_t epoch, const char *topic)
{
	bool f = v >= 3;
	myco__kwr_t w;
	myco__krd_t r;
	int16_t err;

	txn_head(&w, KAPI_ADD_PARTITIONS_TO_TXN, v, 40, tid, pid, epoch);
	myco__kwr_array(&w, f, 1);
	myco__kwr_str(&w, f, topic);
	myco__kwr_array(&w, f, 1);
	myco__kwr_i32(&w, 0);
	myco__kwr_tags(&w, f);
	myco__kwr_tags(&w, f);
	assert_int_equal(call(c, &w), 0);
	r = resp(c, 40, f);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_array(&r, f, 1), 1);
	assert_true(kstreq(myco__krd_str(&r, f), topic));
	assert_int_equal(myco__krd_array(&r, f, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 0);
	err = myco__krd_i16(&r);
	myco__krd_tags(&r, f);
	myco__krd_tags(&r, f);
	myco__krd_tags(&r, f);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	return err;
}

/* EndTxn or AddOffsetsToTxn (group non-NULL): the error. */
static int16_t txn_simple(myco__lc_t *c, int16_t key, int16_t v, const char *tid, int64_t pid,
			  int16_t epoch, bool commit, const char *group)
{
	bool f = v >= 3;
	myco__kwr_t w;
	myco__krd_t r;
	int16_t err;

	txn_head(&w, key, v, 41, tid, pid, epoch);
	if (group)
		myco__kwr_str(&w, f, group);
	else
		myco__kwr_i8(&w, commit ? 1 : 0);
	myco__kwr_tags(&w, f);
	assert_int_equal(call(c, &w), 0);
	r = resp(c, 41, f);
	assert_int_equal(myco__krd_i32(&r), 0);
	err = myco__krd_i16(&r);
	myco__krd_tags(&r, f);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	return err;
}

/* TxnOffsetCommit of group/topic[0] at offset: the partition's error. */
static int16_t txn_offsets(myco__lc_t *c, int16_t v, const char *tid, int64_t pid,
			   int16_t epoch, const char *group, const char *topic, int64_t off)
{
	bool f = v >= 3;
	myco__kwr_t w;
	myco__krd_t r;
	int16_t err;

	req_begin(&w, KAPI_TXN_OFFSET_COMMIT, v, 42, f);
	myco__kwr_str(&w, f, tid);
	myco__kwr_str(&w, f, group);
	myco__kwr_i64(&w, pid);
	myco__kwr_i16(&w, epoch);
	if (v >= 3) {
		myco__kwr_i32(&w, -1);
		myco__kwr_str(&w, f, "");
		myco__kwr_str(&w, f, NULL);
	}
	myco__kwr_array(&w, f, 1);
	myco__kwr_str(&w, f, topic);
	myco__kwr_array(&w, f, 1);
	myco__kwr_i32(&w, 0);
	myco__kwr_i64(&w, off);
	if (v >= 2)
		myco__kwr_i32(&w, -1);
	myco__kwr_str(&w, f, "md");
	myco__kwr_tags(&w, f);
	myco__kwr_tags(&w, f);
	myco__kwr_tags(&w, f);
	assert_int_equal(call(c, &w), 0);
	r = resp(c, 42, f);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_array(&r, f, 1), 1);
	(void)myco__krd_str(&r, f);
	assert_int_equal(myco__krd_array(&r, f, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 0);
	err = myco__krd_i16(&r);
	myco__krd_tags(&r, f);
	myco__krd_tags(&r, f);
	myco__krd_tags(&r, f);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	return err;
}

/* The transaction APIs at their oldest and their flexible versions:
 * epochs, fencing, state errors, offsets only on commit, and the state
 * log read back by a new broker on the same directory. */
static void test_transactions(void **state)
{
	myco__lc_t c = { 0 };
	int64_t pid, pid2, off = -1;
	int16_t epoch, epoch2;
	mls_store_t *st;
	int v;
	(void)state;

	assert_int_equal(txn_init(&c, "t", 0, &pid, &epoch), 50);  /* bad timeout */
	assert_int_equal(txn_init(&c, "t", 60000, &pid, &epoch), 0);
	assert_int_equal(epoch, 0);
	assert_int_equal(txn_init(&c, "t", 60000, &pid2, &epoch2), 0);
	assert_int_equal(pid2, pid);
	assert_int_equal(epoch2, 1);                               /* fenced 0 */
	epoch = epoch2;
	assert_int_equal(mls_topic_create(lb->st, "tt", 1, NULL), 0);
	for (v = 0; v <= 3; v += 3) {
		/* unknown topic, stale epoch, wrong producer id */
		assert_int_equal(txn_add_part(&c, (int16_t)v, "t", pid, epoch, "nope"),
				 KERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(txn_add_part(&c, (int16_t)v, "t", pid, 0, "tt"),
				 KERR_INVALID_PRODUCER_EPOCH);
		assert_int_equal(txn_add_part(&c, (int16_t)v, "t", pid + 1, epoch, "tt"), 49);
		/* EndTxn without a transaction */
		assert_int_equal(txn_simple(&c, KAPI_END_TXN, (int16_t)v, "t", pid, epoch, true,
					    NULL), 48);
		/* offsets need AddOffsetsToTxn first */
		assert_int_equal(txn_add_part(&c, (int16_t)v, "t", pid, epoch, "tt"), 0);
		assert_int_equal(txn_offsets(&c, (int16_t)v, "t", pid, epoch, "g", "tt", 5), 48);
		assert_int_equal(txn_simple(&c, KAPI_ADD_OFFSETS_TO_TXN, (int16_t)v, "t", pid,
					    epoch, false, "g"), 0);
		assert_int_equal(txn_offsets(&c, (int16_t)v, "t", pid, epoch, "g", "tt", 5 + v), 0);
		/* abort at v0: the offset is not committed; commit at v3: it is */
		assert_int_equal(txn_simple(&c, KAPI_END_TXN, (int16_t)v, "t", pid, epoch, v == 3,
					    NULL), 0);
		/* the marker is durable after the tick (fsync never: at once) */
		(void)myco__lb_tick(lb);
		/* a retried EndTxn of the same decision is fine, the other not */
		assert_int_equal(txn_simple(&c, KAPI_END_TXN, (int16_t)v, "t", pid, epoch, v == 3,
					    NULL), 0);
		assert_int_equal(txn_simple(&c, KAPI_END_TXN, (int16_t)v, "t", pid, epoch, v != 3,
					    NULL), 48);
		off = -1;
		(void)mls_group_fetch(lb->st, "g", "tt", 0, &off, NULL, NULL);
		assert_int_equal(off, v == 3 ? 8 : -1);
	}
	/* an open transaction survives a new broker on the same directory */
	assert_int_equal(txn_add_part(&c, 3, "t", pid, epoch, "tt"), 0);
	{
		myco__lcfg_t cfg = lb->cfg;
		cfg.data_dir = dir;
		myco__lb_close(lb);
		assert_int_equal(myco__lb_open(&cfg, &lb), 0);
	}
	st = lb->st;
	{
		mls_partition_t *p = NULL;
		mls_offsets o;
		assert_int_equal(mls_partition_get(st, "tt", 0, &p), 0);
		assert_int_equal(mls_partition_offsets(p, &o), 0);
		assert_int_equal(o.high_watermark, 2);      /* two markers */
		mls_partition_put(p);
	}
	assert_int_equal(txn_simple(&c, KAPI_END_TXN, 1, "t", pid, epoch, true, NULL), 0);
	(void)myco__lb_tick(lb);
	/* re-initialising bumps the epoch once more; the old one is fenced */
	assert_int_equal(txn_init(&c, "t", 60000, &pid2, &epoch2), 0);
	assert_int_equal(epoch2, epoch + 1);
	assert_int_equal(txn_add_part(&c, 3, "t", pid, epoch, "tt"), KERR_INVALID_PRODUCER_EPOCH);
	free(c.resp);
}

static void test_fetch_long_poll(void **state)
{
	myco__lc_t fc = { 0 }, pc = { 0 };
	uint8_t b[4096];
	size_t l;
	int64_t hw, base;
	myco__kstr_t recs;
	(void)state;

	l = make_batch(b, sizeof(b), 1, 1, -1, -1);
	produce(&pc, "lp", 0, b, l, 1, 3);
	assert_int_equal(produce_result(&pc, &base), 0);
	/* at the end of the log with max wait 10 s: parked */
	fetch_req(&fc, 4, "lp", 1, 10000, 1);
	assert_false(fc.answered);
	(void)myco__lb_tick(lb);
	assert_false(fc.answered);
	/* an append wakes it (the store's high-watermark callback) */
	produce(&pc, "lp", 0, b, l, 1, 3);
	assert_int_equal(produce_result(&pc, &base), 0);
	for (int i = 0; i < 200 && !fc.answered; i++) {
		(void)myco__lb_tick(lb);
		if (!fc.answered)
			usleep(1000);
	}
	assert_int_equal(fetch_result(&fc, 4, &hw, &recs), 0);
	assert_int_equal(hw, 2);
	assert_int_equal(recs.len, (int32_t)l);

	/* nothing arrives: answered empty when max wait expires */
	fetch_req(&fc, 4, "lp", 2, 30, 1);
	assert_false(fc.answered);
	usleep(40000);
	(void)myco__lb_tick(lb);
	assert_int_equal(fetch_result(&fc, 4, &hw, &recs), 0);
	assert_int_equal(recs.len, 0);

	/* a parked fetch whose connection closes is forgotten */
	fetch_req(&fc, 4, "lp", 2, 10000, 1);
	assert_false(fc.answered);
	myco__lb_conn_closed(lb, &fc);
	produce(&pc, "lp", 0, b, l, 1, 3);
	(void)myco__lb_tick(lb);
	assert_false(fc.answered);
	free(fc.resp);
	free(pc.resp);
}

static void test_list_offsets(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	uint8_t b[4096];
	size_t l;
	int64_t base;
	int i;
	(void)state;

	l = make_batch(b, sizeof(b), 5, 1000, -1, -1);
	produce(&c, "lo", 0, b, l, 1, 3);
	assert_int_equal(produce_result(&c, &base), 0);
	for (i = 0; i < 2; i++) {
		int16_t ver = (int16_t)(i == 0 ? 1 : 5);
		req_begin(&w, KAPI_LIST_OFFSETS, ver, 40, false);
		myco__kwr_i32(&w, -1);
		if (ver >= 2)
			myco__kwr_i8(&w, 0);
		myco__kwr_array(&w, false, 1);
		myco__kwr_str(&w, false, "lo");
		myco__kwr_array(&w, false, 2);
		myco__kwr_i32(&w, 0);
		if (ver >= 4)
			myco__kwr_i32(&w, -1);
		myco__kwr_i64(&w, -1);            /* latest */
		myco__kwr_i32(&w, 0);
		if (ver >= 4)
			myco__kwr_i32(&w, -1);
		myco__kwr_i64(&w, -2);            /* earliest */
		assert_int_equal(call(&c, &w), 0);
		r = resp(&c, 40, false);
		if (ver >= 2)
			(void)myco__krd_i32(&r);
		assert_int_equal(myco__krd_array(&r, false, 1), 1);
		(void)myco__krd_str(&r, false);
		assert_int_equal(myco__krd_array(&r, false, 1), 2);
		assert_int_equal(myco__krd_i32(&r), 0);
		assert_int_equal(myco__krd_i16(&r), 0);
		(void)myco__krd_i64(&r);
		assert_int_equal(myco__krd_i64(&r), 5);
		if (ver >= 4)
			(void)myco__krd_i32(&r);
		assert_int_equal(myco__krd_i32(&r), 0);
		assert_int_equal(myco__krd_i16(&r), 0);
		(void)myco__krd_i64(&r);
		assert_int_equal(myco__krd_i64(&r), 0);
		assert_int_equal(r.err, 0);
	}
	/* v0: old-style offsets array */
	req_begin(&w, KAPI_LIST_OFFSETS, 0, 41, false);
	myco__kwr_i32(&w, -1);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, "lo");
	myco__kwr_array(&w, false, 1);
	myco__kwr_i32(&w, 0);
	myco__kwr_i64(&w, -1);
	myco__kwr_i32(&w, 1);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 41, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_str(&r, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_i16(&r), 0);
	assert_int_equal(myco__krd_array(&r, false, 8), 1);
	assert_int_equal(myco__krd_i64(&r), 5);
	free(c.resp);
}

/* ---- groups ------------------------------------------------------------- */

static void join(myco__lc_t *c, const char *member, int32_t corr)
{
	myco__kwr_t w;
	req_begin(&w, KAPI_JOIN_GROUP, 2, corr, false);
	myco__kwr_str(&w, false, "grp");
	myco__kwr_i32(&w, 10000);
	myco__kwr_i32(&w, 10000);
	myco__kwr_str(&w, false, member);
	myco__kwr_str(&w, false, "consumer");
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, "range");
	myco__kwr_i32(&w, 3);
	myco__kwr_raw(&w, "md!", 3);
	assert_int_equal(call(c, &w), 0);
}

/* Parse a JoinGroup v2 answer; copies the member id; returns members. */
static int32_t join_result(myco__lc_t *c, int32_t corr, int16_t *err, int32_t *gen,
			   char *mid, bool *leader)
{
	myco__krd_t r = resp(c, corr, false);
	myco__kstr_t ld, m;
	int32_t n;
	(void)myco__krd_i32(&r);
	*err = myco__krd_i16(&r);
	*gen = myco__krd_i32(&r);
	(void)myco__krd_str(&r, false);
	ld = myco__krd_str(&r, false);
	m = myco__krd_str(&r, false);
	n = myco__krd_array(&r, false, 6);
	assert_int_equal(r.err, 0);
	memcpy(mid, m.p, (size_t)m.len);
	mid[m.len] = 0;
	*leader = ld.len == m.len && m.len > 0 && !memcmp(ld.p, m.p, (size_t)m.len);
	return n;
}

static int16_t simple(myco__lc_t *c, int16_t key, int32_t gen, const char *mid, int32_t corr)
{
	myco__kwr_t w;
	myco__krd_t r;
	req_begin(&w, key, 1, corr, false);
	myco__kwr_str(&w, false, "grp");
	if (key == KAPI_HEARTBEAT)
		myco__kwr_i32(&w, gen);
	myco__kwr_str(&w, false, mid);
	assert_int_equal(call(c, &w), 0);
	r = resp(c, corr, false);
	(void)myco__krd_i32(&r);
	return myco__krd_i16(&r);
}

static void sync_group(myco__lc_t *c, int32_t gen, const char *mid, const char *assign_to,
		       int32_t corr)
{
	myco__kwr_t w;
	req_begin(&w, KAPI_SYNC_GROUP, 1, corr, false);
	myco__kwr_str(&w, false, "grp");
	myco__kwr_i32(&w, gen);
	myco__kwr_str(&w, false, mid);
	if (assign_to) {
		myco__kwr_array(&w, false, 1);
		myco__kwr_str(&w, false, assign_to);
		myco__kwr_i32(&w, 4);
		myco__kwr_raw(&w, "ASGN", 4);
	} else {
		myco__kwr_array(&w, false, 0);
	}
	assert_int_equal(call(c, &w), 0);
}

static void test_group_lifecycle(void **state)
{
	myco__lc_t a = { 0 }, bconn = { 0 };
	char ma[128], mb[128];
	int16_t err;
	int32_t gen, n;
	bool leader;
	myco__krd_t r;
	myco__kstr_t as;
	(void)state;
	assert_int_equal(mls_topic_create(lb->st, "t", 2, NULL), 0);

	/* one member: joins, leads, assigns itself */
	join(&a, "", 50);
	assert_true(a.answered);
	n = join_result(&a, 50, &err, &gen, ma, &leader);
	assert_int_equal(err, 0);
	assert_int_equal(gen, 1);
	assert_true(leader);
	assert_int_equal(n, 1);
	sync_group(&a, gen, ma, ma, 51);
	r = resp(&a, 51, false);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_i16(&r), 0);
	as = myco__krd_bytes(&r, false);
	assert_true(kstreq(as, "ASGN"));
	assert_int_equal(simple(&a, KAPI_HEARTBEAT, gen, ma, 52), 0);
	assert_int_equal(simple(&a, KAPI_HEARTBEAT, gen + 5, ma, 53), KERR_ILLEGAL_GENERATION);
	assert_int_equal(simple(&a, KAPI_HEARTBEAT, gen, "who", 54), KERR_UNKNOWN_MEMBER_ID);

	/* a second member: its join waits for the rebalance */
	join(&bconn, "", 60);
	assert_false(bconn.answered);
	assert_int_equal(simple(&a, KAPI_HEARTBEAT, gen, ma, 55), KERR_REBALANCE_IN_PROGRESS);
	join(&a, ma, 56);                          /* a rejoins: both answered */
	assert_true(a.answered);
	assert_true(bconn.answered);
	n = join_result(&a, 56, &err, &gen, ma, &leader);
	assert_int_equal(err, 0);
	assert_int_equal(gen, 2);
	assert_true(leader);
	assert_int_equal(n, 2);
	n = join_result(&bconn, 60, &err, &gen, mb, &leader);
	assert_false(leader);
	assert_int_equal(n, 0);
	/* follower's sync waits for the leader's */
	sync_group(&bconn, gen, mb, NULL, 61);
	assert_false(bconn.answered);
	sync_group(&a, gen, ma, mb, 57);
	assert_true(bconn.answered);
	r = resp(&bconn, 61, false);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_i16(&r), 0);
	assert_true(kstreq(myco__krd_bytes(&r, false), "ASGN"));

	/* b leaves: a must rejoin */
	assert_int_equal(simple(&bconn, KAPI_LEAVE_GROUP, 0, mb, 62), 0);
	assert_int_equal(simple(&a, KAPI_HEARTBEAT, gen, ma, 58), KERR_REBALANCE_IN_PROGRESS);
	/* ... but may still commit what it processed (as in Kafka) */
	{
		myco__kwr_t w;
		req_begin(&w, KAPI_OFFSET_COMMIT, 2, 59, false);
		myco__kwr_str(&w, false, "grp");
		myco__kwr_i32(&w, gen);
		myco__kwr_str(&w, false, ma);
		myco__kwr_i64(&w, -1);
		myco__kwr_array(&w, false, 1);
		myco__kwr_str(&w, false, "t");
		myco__kwr_array(&w, false, 1);
		myco__kwr_i32(&w, 0);
		myco__kwr_i64(&w, 10);
		myco__kwr_str(&w, false, NULL);
		assert_int_equal(call(&a, &w), 0);
		r = resp(&a, 59, false);
		assert_int_equal(myco__krd_array(&r, false, 1), 1);
		(void)myco__krd_str(&r, false);
		assert_int_equal(myco__krd_array(&r, false, 1), 1);
		(void)myco__krd_i32(&r);
		assert_int_equal(myco__krd_i16(&r), 0);
	}
	free(a.resp);
	free(bconn.resp);
}

static void test_offsets(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	int ver;
	(void)state;
	/* commits are kept only for partitions that exist (as Kafka) */
	assert_int_equal(mls_topic_create(lb->st, "t", 2, NULL), 0);

	/* simple (group-less) commit, v2 */
	req_begin(&w, KAPI_OFFSET_COMMIT, 2, 70, false);
	myco__kwr_str(&w, false, "og");
	myco__kwr_i32(&w, -1);
	myco__kwr_str(&w, false, "");
	myco__kwr_i64(&w, -1);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, "t");
	myco__kwr_array(&w, false, 2);
	myco__kwr_i32(&w, 0);
	myco__kwr_i64(&w, 42);
	myco__kwr_str(&w, false, "meta");
	myco__kwr_i32(&w, 1);
	myco__kwr_i64(&w, 7);
	myco__kwr_str(&w, false, NULL);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 70, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	(void)myco__krd_str(&r, false);
	assert_int_equal(myco__krd_array(&r, false, 1), 2);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_i16(&r), 0);
	assert_int_equal(myco__krd_i32(&r), 1);
	assert_int_equal(myco__krd_i16(&r), 0);

	for (ver = 1; ver <= 5; ver += 4) {
		req_begin(&w, KAPI_OFFSET_FETCH, (int16_t)ver, 71, false);
		myco__kwr_str(&w, false, "og");
		myco__kwr_array(&w, false, 1);
		myco__kwr_str(&w, false, "t");
		myco__kwr_array(&w, false, 3);
		myco__kwr_i32(&w, 0);
		myco__kwr_i32(&w, 1);
		myco__kwr_i32(&w, 2);
		assert_int_equal(call(&c, &w), 0);
		r = resp(&c, 71, false);
		if (ver >= 3)
			(void)myco__krd_i32(&r);
		assert_int_equal(myco__krd_array(&r, false, 1), 1);
		(void)myco__krd_str(&r, false);
		assert_int_equal(myco__krd_array(&r, false, 1), 3);
		assert_int_equal(myco__krd_i32(&r), 0);
		assert_int_equal(myco__krd_i64(&r), 42);
		if (ver >= 5)
			(void)myco__krd_i32(&r);
		assert_true(kstreq(myco__krd_str(&r, false), "meta"));
		assert_int_equal(myco__krd_i16(&r), 0);
		assert_int_equal(myco__krd_i32(&r), 1);
		assert_int_equal(myco__krd_i64(&r), 7);
		if (ver >= 5)
			(void)myco__krd_i32(&r);
		(void)myco__krd_str(&r, false);
		assert_int_equal(myco__krd_i16(&r), 0);
		assert_int_equal(myco__krd_i32(&r), 2);
		assert_int_equal(myco__krd_i64(&r), -1);   /* none committed */
	}
	/* v2+: null topics = everything of the group */
	req_begin(&w, KAPI_OFFSET_FETCH, 3, 72, false);
	myco__kwr_str(&w, false, "og");
	myco__kwr_array(&w, false, -1);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 72, false);
	(void)myco__krd_i32(&r);
	assert_int_equal(myco__krd_array(&r, false, 1), 1);
	assert_true(kstreq(myco__krd_str(&r, false), "t"));
	assert_int_equal(myco__krd_array(&r, false, 1), 2);
	free(c.resp);
}

/* Flexible versions (compact strings/arrays, tagged fields, request
 * header v2, response header v1) as librdkafka 2.0.2 uses them. */
static void test_flexible(void **state)
{
	myco__lc_t c = { 0 };
	myco__kwr_t w;
	myco__krd_t r;
	int64_t pid;
	(void)state;
	assert_int_equal(mls_topic_create(lb->st, "ft", 4, NULL), 0);

	/* InitProducerId v4 */
	req_begin(&w, KAPI_INIT_PRODUCER_ID, 4, 80, true);
	myco__kwr_str(&w, true, NULL);
	myco__kwr_i32(&w, 60000);
	myco__kwr_i64(&w, -1);
	myco__kwr_i16(&w, -1);
	myco__kwr_uvarint(&w, 1);                  /* one unknown tagged field */
	myco__kwr_uvarint(&w, 7);
	myco__kwr_uvarint(&w, 2);
	myco__kwr_i16(&w, 0);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 80, true);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_i16(&r), 0);
	pid = myco__krd_i64(&r);
	assert_true(pid >= 0);
	assert_int_equal(myco__krd_i16(&r), 0);
	myco__krd_tags(&r, true);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);

	/* OffsetCommit v2 then OffsetFetch v7 (flexible) */
	req_begin(&w, KAPI_OFFSET_COMMIT, 2, 81, false);
	myco__kwr_str(&w, false, "fg");
	myco__kwr_i32(&w, -1);
	myco__kwr_str(&w, false, "");
	myco__kwr_i64(&w, -1);
	myco__kwr_array(&w, false, 1);
	myco__kwr_str(&w, false, "ft");
	myco__kwr_array(&w, false, 1);
	myco__kwr_i32(&w, 3);
	myco__kwr_i64(&w, 1234);
	myco__kwr_str(&w, false, "m");
	assert_int_equal(call(&c, &w), 0);
	(void)resp(&c, 81, false);

	req_begin(&w, KAPI_OFFSET_FETCH, 7, 82, true);
	myco__kwr_str(&w, true, "fg");
	myco__kwr_array(&w, true, 1);
	myco__kwr_str(&w, true, "ft");
	myco__kwr_array(&w, true, 1);
	myco__kwr_i32(&w, 3);
	myco__kwr_tags(&w, true);
	myco__kwr_i8(&w, 1);                       /* require_stable */
	myco__kwr_tags(&w, true);
	assert_int_equal(call(&c, &w), 0);
	r = resp(&c, 82, true);
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(myco__krd_array(&r, true, 1), 1);
	assert_true(kstreq(myco__krd_str(&r, true), "ft"));
	assert_int_equal(myco__krd_array(&r, true, 1), 1);
	assert_int_equal(myco__krd_i32(&r), 3);
	assert_int_equal(myco__krd_i64(&r), 1234);
	assert_int_equal(myco__krd_i32(&r), -1);
	assert_true(kstreq(myco__krd_str(&r, true), "m"));
	assert_int_equal(myco__krd_i16(&r), 0);
	myco__krd_tags(&r, true);
	myco__krd_tags(&r, true);
	assert_int_equal(myco__krd_i16(&r), 0);
	myco__krd_tags(&r, true);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	free(c.resp);
}

/* Every API, every version we serve, every truncation of a request body
 * made of arbitrary bytes: answered or closed, never a crash (ASan/UBSan
 * builds check the memory side). */
static void test_truncations(void **state)
{
	myco__lc_t c = { 0 };
	uint8_t frame[512];
	unsigned seed = 12345;
	int a, v, cut, round;
	(void)state;

	for (a = 0; a < myco__nlapis; a++) {
		for (v = myco__lapis[a].min; v <= myco__lapis[a].max; v++) {
			for (round = 0; round < 3; round++) {
				size_t hl, i;
				frame[0] = (uint8_t)(myco__lapis[a].key >> 8);
				frame[1] = (uint8_t)myco__lapis[a].key;
				frame[2] = 0;
				frame[3] = (uint8_t)v;
				memcpy(frame + 4, "\0\0\0\1\0\0", 6);   /* corr 1, client "" */
				hl = 10;
				for (i = hl; i < sizeof(frame); i++) {
					seed = seed * 1103515245u + 12345u;
					/* mostly small numbers so that counts look plausible */
					frame[i] = (uint8_t)((seed >> 16) % (round == 0 ? 3 : 256));
				}
				for (cut = 0; cut < 64; cut++) {
					c.answered = c.aborted = 0;
					(void)myco__lb_request(lb, &c, frame, hl + (size_t)cut);
					myco__lb_conn_closed(lb, &c);  /* drop anything parked */
				}
			}
		}
	}
	free(c.resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_api_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_produce_fetch_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_produce_fetch_v11, setup_always, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_zero_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_produce_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_long_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flexible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
