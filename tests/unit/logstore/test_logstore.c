/*
 * test_logstore.c: unit tests of the log store (svc/log/store): CRC-32C,
 * batch validation, topics, append/read, roll, retention, indexes and their
 * rebuild, recovery of a torn tail, ListOffsets, idempotent producers
 * (also after reopen), producer ids, group offsets, the directory lock.
 * Each test works in its own temporary directory on the real filesystem.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store_int.h"
#include "mkbatch.h"

/* ---- helpers ----------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}

static char *mktmp(void)
{
	char *d = strdup("/tmp/myco-logstore-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(char *d)
{
	nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static int64_t fake_now = 1000000;
static int64_t clock_fn(void *arg)
{
	(void)arg;
	return fake_now;
}

static mls_config base_cfg(int policy)
{
	mls_config c;
	mls_config_init(&c);
	c.fsync_policy = policy;
	c.fsync_interval_ms = 50;
	c.retention_check_ms = 0;
	c.now_ms = clock_fn;
	return c;
}

static mls_store_t *open_store(const char *dir, int policy)
{
	mls_config c = base_cfg(policy);
	mls_store_t *st = NULL;
	assert_int_equal(mls_open(dir, &c, &st), 0);
	return st;
}

static mls_partition_t *part(mls_store_t *st, const char *t, int i)
{
	mls_partition_t *p = NULL;
	assert_int_equal(mls_partition_get(st, t, i, &p), 0);
	return p;
}

/* Append one batch; returns rc, fills res. */
static int put(mls_partition_t *p, tb_opts *o, mls_append_result *res)
{
	uint8_t *buf = malloc(tb_size(o));
	size_t n = tb_build(buf, o);
	int rc = mls_append(p, buf, n, res);
	free(buf);
	return rc;
}

static int64_t put_simple(mls_partition_t *p, int nrec, size_t vlen, uint8_t fill)
{
	tb_opts o = tb_default();
	mls_append_result r;
	o.nrec = nrec;
	o.value_len = vlen;
	o.fill = fill;
	o.base_ts = fake_now;
	assert_int_equal(put(p, &o, &r), 0);
	return r.base_offset;
}

/* Read everything from `from` and check the batches are back to back,
 * valid, and start at the expected offsets.  Returns the record count. */
static int64_t read_all(mls_partition_t *p, int64_t from)
{
	size_t cap = 4 << 20, len;
	uint8_t *buf = malloc(cap);
	int64_t hw, next = -1, recs = 0;
	for (;;) {
		int rc = mls_read_copy(p, from, cap, buf, cap, &len, &hw);
		assert_int_equal(rc, 0);
		if (len == 0)
			break;
		for (size_t pos = 0; pos < len;) {
			uint32_t bl = (uint32_t)tb_get(buf + pos + 8, 4);
			int64_t base = (int64_t)tb_get(buf + pos, 8);
			int32_t cnt = (int32_t)tb_get(buf + pos + 57, 4);
			assert_int_equal(mls_batch_validate(buf + pos, bl + 12), 0);
			if (next >= 0)
				assert_int_equal(base, next);
			next = base + cnt;
			recs += cnt;
			pos += bl + 12;
		}
		from = next;
	}
	assert_int_equal(from, hw);
	free(buf);
	return recs;
}

static size_t count_ext(const char *dir, const char *ext)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '\\.%s$'", dir, ext);
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	if (fscanf(f, "%zu", &n) != 1)
		n = 0;
	pclose(f);
	return n;
}

/* ---- tests ------------------------------------------------------------- */

static void t_crc32c(void **state)
{
	(void)state;
	assert_int_equal(mls_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(myco__crc32c_sw(0, "123456789", 9), 0xE3069283u);
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n < 300; n += 13)
			assert_int_equal(mls_crc32c(0, buf + off, n),
			                 myco__crc32c_sw(0, buf + off, n));
	/* chaining */
	uint32_t c = mls_crc32c(0, buf, 100);
	assert_int_equal(mls_crc32c(c, buf + 100, 200), mls_crc32c(0, buf, 300));
}

static void t_validate(void **state)
{
	(void)state;
	tb_opts o = tb_default();
	o.nrec = 3;
	uint8_t buf[1024];
	size_t n = tb_build(buf, &o);
	assert_int_equal(mls_batch_validate(buf, n), 0);
	/* every single-byte flip in the CRC-covered range is caught */
	for (size_t i = 21; i < n; i++) {
		buf[i] ^= 0x40;
		assert_int_equal(mls_batch_validate(buf, n), -MYCO_ELOG_CORRUPT);
		buf[i] ^= 0x40;
	}
	buf[16] = 1;
	assert_int_equal(mls_batch_validate(buf, n), -MYCO_ELOG_CORRUPT);
	buf[16] = 2;
	assert_int_equal(mls_batch_validate(buf, n - 1), -MYCO_ELOG_CORRUPT);
	assert_int_equal(mls_batch_validate(buf, 30), -MYCO_ELOG_CORRUPT);
	/* count disagrees with lastOffsetDelta (CRC fixed up) */
	tb_be(buf + 57, 4, 4);
	tb_be(buf + 17, mls_crc32c(0, buf + 21, n - 21), 4);
	assert_int_equal(mls_batch_validate(buf, n), -MYCO_ELOG_INVALID_RECORD);
	/* count and delta agree but records do not */
	tb_be(buf + 23, 3, 4);
	tb_be(buf + 17, mls_crc32c(0, buf + 21, n - 21), 4);
	assert_int_equal(mls_batch_validate(buf, n), -MYCO_ELOG_INVALID_RECORD);
	/* transactional: accepted (t_txn); control batches only from the
	 * broker (mls_append_marker) */
	o.attributes = 0x10;
	n = tb_build(buf, &o);
	assert_int_equal(mls_batch_validate(buf, n), 0);
	o.attributes = 0x30;
	n = tb_build(buf, &o);
	assert_int_equal(mls_batch_validate(buf, n), -MYCO_ELOG_INVALID_RECORD);
	/* compressed batches are opened: plain records labelled gzip are not
	 * a gzip stream (test_codec.c covers compressed batches); without
	 * zlib they are stored unopened */
	o.attributes = 1;
	n = tb_build(buf, &o);
	assert_int_equal(mls_batch_validate(buf, n),
	                 myco__codec_supported(1) ? -MYCO_ELOG_CORRUPT : 0);
}

static void t_topics(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	char big[300];
	memset(big, 'x', sizeof(big));
	big[249] = 0;
	assert_int_equal(mls_topic_name_check(big), 0);
	big[249] = 'x';
	big[250] = 0;
	assert_int_equal(mls_topic_name_check(big), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check("."), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check(".."), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check(""), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check("a/b"), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check("a b"), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_name_check("Ab.9_-x"), 0);
	assert_int_equal(mls_topic_create(st, "a/b", 1, NULL), -MYCO_ELOG_BAD_TOPIC);
	assert_int_equal(mls_topic_create(st, "t1", 0, NULL), -EINVAL);
	assert_int_equal(mls_topic_create(st, "t1", 3, NULL), 0);
	assert_int_equal(mls_topic_create(st, "t1", 3, NULL), -MYCO_ELOG_TOPIC_EXISTS);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.retention_ms = 1234;
	assert_int_equal(mls_topic_create(st, "a.t-0", 2, &tc), 0);
	assert_int_equal(mls_topic_create(st, "gone", 1, NULL), 0);
	mls_partition_t *p;
	assert_int_equal(mls_partition_get(st, "t1", 3, &p), -MYCO_ELOG_NO_TOPIC);
	assert_int_equal(mls_partition_get(st, "nope", 0, &p), -MYCO_ELOG_NO_TOPIC);
	p = part(st, "gone", 0);
	put_simple(p, 1, 8, 'g');
	assert_int_equal(mls_topic_delete(st, "gone"), 0);
	tb_opts o = tb_default();
	mls_append_result r;
	assert_int_equal(put(p, &o, &r), -MYCO_ELOG_NO_TOPIC);
	mls_partition_put(p);
	assert_int_equal(mls_topic_delete(st, "gone"), -MYCO_ELOG_NO_TOPIC);
	mls_close(st);

	st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_topic_info *ti;
	size_t n;
	assert_int_equal(mls_topic_list(st, &ti, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ti[0].name, "a.t-0");
	assert_int_equal(ti[0].partitions, 2);
	assert_int_equal(ti[0].config.retention_ms, 1234);
	assert_string_equal(ti[1].name, "t1");
	assert_int_equal(ti[1].partitions, 3);
	free(ti);
	mls_topic_info one;
	assert_int_equal(mls_topic_describe(st, "t1", &one), 0);
	assert_int_equal(one.partitions, 3);
	assert_int_equal(mls_topic_describe(st, "gone", &one), -MYCO_ELOG_NO_TOPIC);
	/* re-created after delete: empty */
	assert_int_equal(mls_topic_create(st, "gone", 1, NULL), 0);
	p = part(st, "gone", 0);
	mls_offsets off;
	mls_partition_offsets(p, &off);
	assert_int_equal(off.log_end, 0);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_lock(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER), *st2 = NULL;
	mls_config c = base_cfg(MLS_FSYNC_NEVER);
	assert_int_equal(mls_open(d, &c, &st2), -EBUSY);
	assert_null(st2);
	mls_close(st);
	assert_int_equal(mls_open(d, &c, &st2), 0);
	mls_close(st2);
	rmtree(d);
}

static void t_append_read(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(mls_topic_create(st, "t", 1, NULL), 0);
	mls_partition_t *p = part(st, "t", 0);
	int64_t expect = 0;
	for (int i = 0; i < 50; i++) {
		int64_t b = put_simple(p, 1 + i % 5, 10 + (size_t)i, (uint8_t)i);
		assert_int_equal(b, expect);
		expect += 1 + i % 5;
	}
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_end, expect);
	assert_int_equal(o.high_watermark, expect);
	assert_int_equal(o.log_start, 0);
	assert_int_equal(read_all(p, 0), expect);

	/* from an offset inside a batch: the range starts with that batch */
	mls_read_set rs;
	assert_int_equal(mls_read(p, 4, 1, &rs), 0);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.first_offset, 3);   /* batch 2 holds 3..5 */
	uint8_t hdr[61];
	assert_int_equal(pread(rs.ranges[0].fd, hdr, 61, rs.ranges[0].file_offset), 61);
	assert_int_equal(tb_get(hdr, 8), 3);
	assert_int_equal(rs.ranges[0].length, tb_get(hdr + 8, 4) + 12);
	mls_read_release(&rs);
	/* at the end: nothing; beyond: out of range */
	assert_int_equal(mls_read(p, expect, 100, &rs), 0);
	assert_int_equal(rs.n, 0);
	assert_int_equal(mls_read(p, expect + 1, 100, &rs), -MYCO_ELOG_OFFSET_RANGE);
	assert_int_equal(mls_read(p, -1, 100, &rs), -MYCO_ELOG_OFFSET_RANGE);
	/* copy variant: too small for the first batch */
	uint8_t small[20];
	size_t len;
	assert_int_equal(mls_read_copy(p, 0, 1000, small, sizeof(small), &len, NULL),
	                 -ENOBUFS);
	assert_true(len > sizeof(small));
	/* a corrupt batch is refused and leaves no trace */
	tb_opts to = tb_default();
	uint8_t buf[512];
	size_t n = tb_build(buf, &to);
	buf[n - 1] ^= 1;
	mls_append_result r;
	assert_int_equal(mls_append(p, buf, n, &r), -MYCO_ELOG_CORRUPT);
	/* too large */
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.max_message_bytes = 100;
	assert_int_equal(mls_topic_create(st, "small", 1, &tc), 0);
	mls_partition_t *ps = part(st, "small", 0);
	to.value_len = 200;
	assert_int_equal(put(ps, &to, &r), -MYCO_ELOG_TOO_LARGE);
	mls_partition_put(ps);
	mls_partition_put(p);
	mls_close(st);

	/* reopen: all still there, appends continue */
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "t", 0);
	assert_int_equal(read_all(p, 0), expect);
	assert_int_equal(put_simple(p, 2, 5, 'z'), expect);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_roll_and_index(void **state)
{
	(void)state;
	char *d = mktmp(), pdir[512];
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 8192;
	tc.index_interval_bytes = 256;
	assert_int_equal(mls_topic_create(st, "r", 1, &tc), 0);
	mls_partition_t *p = part(st, "r", 0);
	for (int i = 0; i < 300; i++)
		put_simple(p, 2, 40, (uint8_t)i);
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_end, 600);
	assert_true(o.segments >= 5);
	assert_int_equal(read_all(p, 0), 600);
	/* every offset reads back its own batch (index lookups) */
	for (int64_t off = 0; off < 600; off += 7) {
		mls_read_set rs;
		assert_int_equal(mls_read(p, off, 1, &rs), 0);
		assert_int_equal(rs.first_offset, off & ~1LL);
		mls_read_release(&rs);
	}
	/* reads spanning segments give several ranges */
	mls_read_set rs;
	assert_int_equal(mls_read(p, 0, 30000, &rs), 0);
	assert_true(rs.n >= 2);
	mls_read_release(&rs);
	mls_partition_put(p);
	mls_close(st);

	snprintf(pdir, sizeof(pdir), "%s/r-0", d);
	assert_int_equal(count_ext(pdir, "log"), (size_t)o.segments);
	assert_int_equal(count_ext(pdir, "index"), (size_t)o.segments);
	assert_int_equal(count_ext(pdir, "timeindex"), (size_t)o.segments);
	/* damage indexes of an old segment: remove one, garble another */
	char path[1024];
	snprintf(path, sizeof(path), "%s/00000000000000000000.index", pdir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	off_t isize = sb.st_size;
	assert_true(isize > 0);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/00000000000000000000.timeindex", pdir);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage!", 8), 8);
	close(fd);

	st = open_store(d, MLS_FSYNC_NEVER);
	p = part(st, "r", 0);
	assert_int_equal(read_all(p, 0), 600);
	for (int64_t off = 0; off < 600; off += 5) {
		assert_int_equal(mls_read(p, off, 1, &rs), 0);
		assert_int_equal(rs.first_offset, off & ~1LL);
		mls_read_release(&rs);
	}
	mls_partition_put(p);
	mls_close(st);
	snprintf(path, sizeof(path), "%s/00000000000000000000.index", pdir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, isize);   /* rebuilt identically */
	rmtree(d);
}

static void t_roll_by_time(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_ms = 1000;
	assert_int_equal(mls_topic_create(st, "tt", 1, &tc), 0);
	mls_partition_t *p = part(st, "tt", 0);
	fake_now = 5000000;
	put_simple(p, 1, 8, 'a');
	fake_now += 500;
	put_simple(p, 1, 8, 'b');
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.segments, 1);
	fake_now += 1000;
	put_simple(p, 1, 8, 'c');
	mls_partition_offsets(p, &o);
	assert_int_equal(o.segments, 2);
	assert_int_equal(read_all(p, 0), 3);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_retention(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 2048;
	tc.retention_bytes = 6000;
	tc.retention_ms = -1;
	assert_int_equal(mls_topic_create(st, "rs", 1, &tc), 0);
	tc.retention_bytes = -1;
	tc.retention_ms = 10000;
	assert_int_equal(mls_topic_create(st, "rt", 1, &tc), 0);
	mls_partition_t *ps = part(st, "rs", 0), *pt = part(st, "rt", 0);
	fake_now = 10000000;
	for (int i = 0; i < 100; i++) {
		put_simple(ps, 1, 100, 'x');
		put_simple(pt, 1, 100, 'y');
		fake_now += 100;    /* timestamps 10000000 .. 10009900 */
	}
	/* a read pinned across retention keeps its fd readable */
	mls_read_set pin;
	assert_int_equal(mls_read(ps, 0, 100, &pin), 0);
	assert_int_equal(pin.n, 1);

	int del = mls_retention_run(st, fake_now);
	assert_true(del > 0);
	mls_offsets o;
	mls_partition_offsets(ps, &o);
	assert_true(o.size_bytes < 6000 + 2048);
	assert_true(o.size_bytes >= 6000 - 2048);
	assert_true(o.log_start > 0);
	mls_read_set rs;
	assert_int_equal(mls_read(ps, 0, 100, &rs), -MYCO_ELOG_OFFSET_RANGE);
	int64_t e;
	assert_int_equal(mls_list_offset(ps, MLS_EARLIEST, &e, NULL), 0);
	assert_int_equal(e, o.log_start);
	assert_int_equal(read_all(ps, o.log_start), 100 - o.log_start);
	uint8_t hdr[12];
	assert_int_equal(pread(pin.ranges[0].fd, hdr, 12, pin.ranges[0].file_offset), 12);
	assert_int_equal(tb_get(hdr, 8), 0);
	mls_read_release(&pin);

	/* time: nothing older than 10 s yet at fake_now (all within 10 s) */
	mls_partition_offsets(pt, &o);
	assert_int_equal(o.log_start, 0);
	/* 20 s later everything but the active segment goes */
	del = mls_retention_run(st, fake_now + 20000);
	assert_true(del > 0);
	mls_partition_offsets(pt, &o);
	assert_int_equal(o.segments, 1);
	assert_true(o.log_start > 0);
	assert_int_equal(o.log_end, 100);
	mls_partition_put(ps);
	mls_partition_put(pt);
	mls_close(st);
	/* log start survives reopen */
	st = open_store(d, MLS_FSYNC_NEVER);
	pt = part(st, "rt", 0);
	mls_offsets o2;
	mls_partition_offsets(pt, &o2);
	assert_int_equal(o2.log_start, o.log_start);
	assert_int_equal(o2.log_end, 100);
	mls_partition_put(pt);
	mls_close(st);
	rmtree(d);
}

static void t_list_offsets(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 4096;
	tc.index_interval_bytes = 200;
	assert_int_equal(mls_topic_create(st, "lo", 1, &tc), 0);
	mls_partition_t *p = part(st, "lo", 0);
	int64_t off, ts;
	assert_int_equal(mls_list_offset(p, 5, &off, &ts), 0);
	assert_int_equal(off, -1);
	/* batch i: 4 records, timestamps 100000 + 10 i + (0..3) */
	for (int i = 0; i < 200; i++) {
		tb_opts o = tb_default();
		mls_append_result r;
		o.nrec = 4;
		o.base_ts = 100000 + 10 * i;
		assert_int_equal(put(p, &o, &r), 0);
	}
	assert_int_equal(mls_list_offset(p, MLS_EARLIEST, &off, NULL), 0);
	assert_int_equal(off, 0);
	assert_int_equal(mls_list_offset(p, MLS_LATEST, &off, NULL), 0);
	assert_int_equal(off, 800);
	assert_int_equal(mls_list_offset(p, MLS_MAX_TIMESTAMP, &off, &ts), 0);
	assert_int_equal(ts, 100000 + 10 * 199 + 3);
	assert_int_equal(off, 799);
	/* exact record lookups across all segments */
	for (int i = 0; i < 200; i += 3)
		for (int k = 0; k < 4; k++) {
			assert_int_equal(mls_list_offset(p, 100000 + 10 * i + k, &off, &ts), 0);
			assert_int_equal(off, 4 * i + k);
			assert_int_equal(ts, 100000 + 10 * i + k);
		}
	/* between batches: the next batch's first record */
	assert_int_equal(mls_list_offset(p, 100000 + 10 * 50 + 5, &off, &ts), 0);
	assert_int_equal(off, 4 * 51);
	assert_int_equal(mls_list_offset(p, 0, &off, &ts), 0);
	assert_int_equal(off, 0);
	assert_int_equal(mls_list_offset(p, 999999999, &off, &ts), 0);
	assert_int_equal(off, -1);
	mls_partition_put(p);
	mls_close(st);
	/* again after reopen (time indexes loaded from files) */
	st = open_store(d, MLS_FSYNC_NEVER);
	p = part(st, "lo", 0);
	for (int i = 1; i < 200; i += 17) {
		assert_int_equal(mls_list_offset(p, 100000 + 10 * i + 2, &off, &ts), 0);
		assert_int_equal(off, 4 * i + 2);
	}
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_log_append_time(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.timestamp_type = MLS_TS_LOG_APPEND_TIME;
	assert_int_equal(mls_topic_create(st, "lat", 1, &tc), 0);
	mls_partition_t *p = part(st, "lat", 0);
	fake_now = 77777777;
	tb_opts o = tb_default();
	mls_append_result r;
	assert_int_equal(put(p, &o, &r), 0);
	assert_int_equal(r.log_append_time, 77777777);
	uint8_t buf[256];
	size_t len;
	assert_int_equal(mls_read_copy(p, 0, 256, buf, sizeof(buf), &len, NULL), 0);
	assert_int_equal(mls_batch_validate(buf, len), 0);
	assert_int_equal(tb_get(buf + 35, 8), 77777777);
	assert_true(tb_get(buf + 21, 2) & 0x08);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static int append_seq(mls_partition_t *p, int64_t pid, int16_t ep, int32_t seq,
                      int n, mls_append_result *r)
{
	tb_opts o = tb_default();
	o.pid = pid;
	o.epoch = ep;
	o.seq = seq;
	o.nrec = n;
	return put(p, &o, r);
}

static void t_idempotent(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 2048;
	assert_int_equal(mls_topic_create(st, "idem", 1, &tc), 0);
	mls_partition_t *p = part(st, "idem", 0);
	int64_t pid;
	assert_int_equal(mls_producer_id_alloc(st, &pid), 0);
	mls_append_result r;
	/* seq 0..2, 3..4, 5 */
	assert_int_equal(append_seq(p, pid, 0, 0, 3, &r), 0);
	assert_int_equal(r.base_offset, 0);
	assert_false(r.duplicate);
	assert_int_equal(append_seq(p, pid, 0, 3, 2, &r), 0);
	assert_int_equal(r.base_offset, 3);
	assert_int_equal(append_seq(p, pid, 0, 5, 1, &r), 0);
	/* retry of the second batch: same offset, flagged, not stored */
	assert_int_equal(append_seq(p, pid, 0, 3, 2, &r), 0);
	assert_true(r.duplicate);
	assert_int_equal(r.base_offset, 3);
	assert_int_equal(r.last_offset, 4);
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_end, 6);
	/* gap */
	assert_int_equal(append_seq(p, pid, 0, 8, 1, &r), -MYCO_ELOG_OUT_OF_ORDER);
	/* overlapping but not identical range */
	assert_int_equal(append_seq(p, pid, 0, 4, 2, &r), -MYCO_ELOG_OUT_OF_ORDER);
	/* new epoch must start at 0 */
	assert_int_equal(append_seq(p, pid, 1, 6, 1, &r), -MYCO_ELOG_OUT_OF_ORDER);
	assert_int_equal(append_seq(p, pid, 1, 0, 1, &r), 0);
	assert_int_equal(r.base_offset, 6);
	/* old epoch fenced */
	assert_int_equal(append_seq(p, pid, 0, 6, 1, &r), -MYCO_ELOG_FENCED);
	/* only the last 5 batches are remembered */
	for (int i = 1; i <= 6; i++)
		assert_int_equal(append_seq(p, pid, 1, i, 1, &r), 0);
	assert_int_equal(append_seq(p, pid, 1, 6, 1, &r), 0);
	assert_true(r.duplicate);
	assert_int_equal(append_seq(p, pid, 1, 1, 1, &r), -MYCO_ELOG_OUT_OF_ORDER);
	/* a second producer is independent; unknown producers start anywhere */
	assert_int_equal(append_seq(p, pid + 1, 0, 42, 1, &r), 0);
	/* non-idempotent batches are never checked */
	tb_opts to = tb_default();
	assert_int_equal(put(p, &to, &r), 0);
	assert_int_equal(put(p, &to, &r), 0);
	assert_false(r.duplicate);
	/* sequence wrap at INT32_MAX */
	assert_int_equal(append_seq(p, pid + 2, 0, INT32_MAX - 1, 2, &r), 0);
	assert_int_equal(append_seq(p, pid + 2, 0, 0, 1, &r), 0);
	mls_partition_put(p);
	mls_close(st);

	/* after reopen (snapshot + tail walk) the rules still hold */
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "idem", 0);
	assert_int_equal(append_seq(p, pid, 1, 6, 1, &r), 0);
	assert_true(r.duplicate);
	assert_int_equal(append_seq(p, pid, 0, 7, 1, &r), -MYCO_ELOG_FENCED);
	assert_int_equal(append_seq(p, pid, 1, 9, 1, &r), -MYCO_ELOG_OUT_OF_ORDER);
	assert_int_equal(append_seq(p, pid + 1, 0, 43, 1, &r), 0);
	assert_int_equal(append_seq(p, pid, 1, 7, 1, &r), 0);
	assert_false(r.duplicate);
	mls_partition_put(p);
	mls_close(st);

	/* without snapshots (full walk) too */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -f %s/idem-0/*.snapshot", d);
	assert_int_equal(system(cmd), 0);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "idem", 0);
	assert_int_equal(append_seq(p, pid, 1, 7, 1, &r), 0);
	assert_true(r.duplicate);
	assert_int_equal(append_seq(p, pid, 1, 9, 1, &r), -MYCO_ELOG_OUT_OF_ORDER);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

/* Transactions on one partition: the last stable offset, markers, the
 * aborted-transaction list, read_committed reads, fencing of markers, and
 * all of it rebuilt when the store is opened again. */
static void txn_put(mls_partition_t *p, int64_t pid, int16_t epoch, int32_t seq, int nrec,
		    int64_t *base)
{
	tb_opts o = tb_default();
	mls_append_result r;
	o.pid = pid;
	o.epoch = epoch;
	o.seq = seq;
	o.nrec = nrec;
	o.attributes = 0x10;
	assert_int_equal(put(p, &o, &r), 0);
	*base = r.base_offset;
}

static void txn_state_check(mls_partition_t *p, int64_t lso, size_t naborted)
{
	mls_offsets o;
	mls_aborted_txn *a = NULL;
	size_t n = 0;
	assert_int_equal(mls_partition_offsets(p, &o), 0);
	assert_int_equal(o.last_stable, lso);
	assert_int_equal(mls_aborted_txns(p, 0, INT64_MAX, &a, &n), 0);
	assert_int_equal(n, naborted);
	free(a);
}

/* A marker, made durable (mls_append_marker does not wait). */
static int marker(mls_store_t *st, mls_partition_t *p, int64_t pid, int16_t epoch, bool commit,
		  mls_append_result *r)
{
	int rc = mls_append_marker(p, pid, epoch, commit, 0, r, NULL, NULL);
	mls_offsets o;
	(void)st;
	if (rc != 1)
		return rc;
	/* durable once the high watermark passes it (the sync thread) */
	do {
		assert_int_equal(mls_partition_offsets(p, &o), 0);
		if (o.high_watermark <= r->base_offset)
			usleep(1000);
	} while (o.high_watermark <= r->base_offset);
	return 0;
}

static void t_txn(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_partition_t *p;
	mls_append_result r;
	mls_read_set rs;
	mls_aborted_txn *a = NULL;
	size_t n = 0;
	int64_t b1, b2, b3, m1, m2;

	assert_int_equal(mls_topic_create(st, "tx", 1, NULL), 0);
	p = part(st, "tx", 0);
	put_simple(p, 2, 8, 'x');                       /* 0-1: not transactional */
	txn_put(p, 100, 0, 0, 3, &b1);                  /* 2-4: producer 100 opens */
	assert_int_equal(b1, 2);
	txn_put(p, 200, 0, 0, 2, &b2);                  /* 5-6: producer 200 opens */
	txn_state_check(p, 2, 0);
	/* read_committed stops before offset 2, read_uncommitted does not */
	assert_int_equal(mls_read_committed(p, 0, 1 << 20, false, &rs), 0);
	assert_int_equal(rs.last_stable, 2);
	assert_int_equal(rs.n, 1);
	assert_true(rs.total > 0 && rs.total < 200);
	mls_read_release(&rs);
	assert_int_equal(mls_read_committed(p, 2, 1 << 20, false, &rs), 0);
	assert_int_equal(rs.total, 0);
	mls_read_release(&rs);
	/* 100 aborts: its marker closes it, the LSO moves to 200's start */
	assert_int_equal(marker(st, p, 100, 0, false, &r), 0);
	m1 = r.base_offset;
	assert_int_equal(m1, 7);
	txn_state_check(p, 5, 1);
	assert_int_equal(mls_aborted_txns(p, 0, 10, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(a[0].producer_id, 100);
	assert_int_equal(a[0].first_offset, 2);
	assert_int_equal(a[0].last_offset, 7);
	free(a);
	assert_int_equal(mls_aborted_txns(p, 8, 10, &a, &n), 0);
	assert_int_equal(n, 0);
	/* 200 commits: nothing open, the LSO is the high watermark */
	assert_int_equal(marker(st, p, 200, 0, true, &r), 0);
	m2 = r.base_offset;
	assert_int_equal(m2, 8);
	txn_state_check(p, 9, 1);
	/* a marker with an older epoch is fenced; a second one is harmless */
	txn_put(p, 100, 1, 0, 1, &b3);                  /* epoch 1 starts at 0 */
	assert_int_equal(marker(st, p, 100, 0, false, &r),
			 -MYCO_ELOG_FENCED);
	/* a transactional batch of the old epoch is fenced too */
	{
		tb_opts o = tb_default();
		o.pid = 100; o.epoch = 0; o.seq = 3; o.attributes = 0x10;
		assert_int_equal(put(p, &o, &r), -MYCO_ELOG_FENCED);
	}
	txn_state_check(p, b3, 1);
	mls_partition_put(p);
	mls_close(st);

	/* reopened: the open transaction and the aborted one are back */
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "tx", 0);
	txn_state_check(p, b3, 1);
	assert_int_equal(marker(st, p, 100, 1, true, &r), 0);
	assert_int_equal(marker(st, p, 100, 1, true, &r), 0);
	txn_state_check(p, r.base_offset + 1, 1);
	/* every batch and marker has its offset: 2+3+2 records, 2 markers,
	 * 1 record, 2 markers */
	{
		mls_offsets o;
		assert_int_equal(mls_partition_offsets(p, &o), 0);
		assert_int_equal(o.high_watermark, 12);
		assert_int_equal(o.last_stable, 12);
	}
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

/* A batch of n keyed records: key "k<keys[i]>", value "v<vals[i]>" or a
 * tombstone (vals[i] < 0). */
static size_t kbatch(uint8_t *buf, const int *keys, const int *vals, int n, int64_t ts)
{
	size_t pos = 61;
	for (int i = 0; i < n; i++) {
		uint8_t body[64];
		char k[16], v[16];
		size_t b = 0, kl = (size_t)snprintf(k, sizeof(k), "k%d", keys[i]);
		size_t vl = vals[i] < 0 ? 0 : (size_t)snprintf(v, sizeof(v), "v%d", vals[i]);
		body[b++] = 0;
		b += tb_varint(body + b, 0);
		b += tb_varint(body + b, i);
		b += tb_varint(body + b, (int64_t)kl);
		memcpy(body + b, k, kl);
		b += kl;
		b += tb_varint(body + b, vals[i] < 0 ? -1 : (int64_t)vl);
		memcpy(body + b, v, vl);
		b += vl;
		body[b++] = 0;                           /* no headers */
		pos += tb_varint(buf + pos, (int64_t)b);
		memcpy(buf + pos, body, b);
		pos += b;
	}
	memset(buf, 0, 61);
	tb_be(buf + 8, pos - 12, 4);
	tb_be(buf + 12, (uint64_t)-1, 4);
	buf[16] = 2;
	tb_be(buf + 23, (uint64_t)(n - 1), 4);
	tb_be(buf + 27, (uint64_t)ts, 8);
	tb_be(buf + 35, (uint64_t)ts, 8);
	tb_be(buf + 43, (uint64_t)-1, 8);
	tb_be(buf + 51, (uint64_t)-1, 2);
	tb_be(buf + 53, (uint64_t)-1, 4);
	tb_be(buf + 57, (uint64_t)n, 4);
	tb_be(buf + 17, mls_crc32c(0, buf + 21, pos - 21), 4);
	return pos;
}

static int64_t rd_varint(const uint8_t *p, size_t *at)
{
	uint64_t u = 0;
	for (int sh = 0;; sh += 7) {
		uint8_t c = p[(*at)++];
		u |= (uint64_t)(c & 0x7f) << sh;
		if (!(c & 0x80))
			break;
	}
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Every record from the log start: value[offset] = the value number, -1
 * for a tombstone, -2 for no record at that offset; keyof[offset]. */
static void read_keyed(mls_partition_t *p, int *value, int *keyof, int64_t n)
{
	size_t cap = 1 << 20, len;
	uint8_t *buf = malloc(cap);
	int64_t hw, from = 0;
	for (int64_t i = 0; i < n; i++)
		value[i] = keyof[i] = -2;
	for (;;) {
		assert_int_equal(mls_read_copy(p, from, cap, buf, cap, &len, &hw), 0);
		if (len == 0)
			break;
		for (size_t pos = 0; pos < len;) {
			uint32_t bl = (uint32_t)tb_get(buf + pos + 8, 4);
			int64_t base = (int64_t)tb_get(buf + pos, 8);
			int32_t cnt = (int32_t)tb_get(buf + pos + 57, 4);
			int32_t last = (int32_t)tb_get(buf + pos + 23, 4);
			size_t at = pos + 61;
			assert_int_equal(mls_crc32c(0, buf + pos + 21, bl + 12 - 21),
					 (uint32_t)tb_get(buf + pos + 17, 4));
			for (int32_t r = 0; r < cnt; r++) {
				int64_t rl = rd_varint(buf, &at), kl, vl, od;
				size_t end = at + (size_t)rl;
				at++;
				(void)rd_varint(buf, &at);
				od = rd_varint(buf, &at);
				kl = rd_varint(buf, &at);
				assert_true(base + od < n);
				keyof[base + od] = atoi((const char *)buf + at + 1);
				at += (size_t)kl;
				vl = rd_varint(buf, &at);
				value[base + od] = vl < 0 ? -1 : atoi((const char *)buf + at + 1);
				at = end;
			}
			from = base + last + 1;
			pos += bl + 12;
		}
	}
	free(buf);
}

/* Compaction: the latest record of each key stays in the closed segments,
 * at its offset; tombstones go after delete.retention.ms; the result
 * survives a reopen. */
static void t_compact(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_partition_t *p;
	mls_append_result r;
	mls_offsets o;
	enum { NB = 60, PER = 3, N = NB * PER };
	int key[N], val[N], got[N], gotkey[N], latest[8];
	uint8_t buf[1024];
	int64_t active_base;

	mls_topic_config_init(&tc);
	tc.cleanup_policy = MLS_CLEANUP_COMPACT;
	tc.segment_bytes = 1024;
	assert_int_equal(mls_topic_create(st, "cmp", 1, &tc), 0);
	p = part(st, "cmp", 0);
	for (int b = 0; b < NB; b++) {
		int ks[PER], vs[PER];
		for (int i = 0; i < PER; i++) {
			int o = b * PER + i;
			/* key 5 is deleted (a tombstone) at offset 90, never
			 * written again */
			ks[i] = o == 90 ? 5 : (o * 7) % 6;
			if (ks[i] == 5 && o > 90)
				ks[i] = 4;
			vs[i] = o == 90 ? -1 : o;
			key[o] = ks[i];
			val[o] = vs[i];
		}
		size_t n = kbatch(buf, ks, vs, PER, fake_now);
		assert_int_equal(mls_append(p, buf, n, &r), 0);
		assert_int_equal(r.base_offset, b * PER);
	}
	assert_int_equal(mls_partition_offsets(p, &o), 0);
	assert_true(o.segments > 4);
	active_base = p->segs[p->nsegs - 1]->base;
	assert_true(active_base > 90);
	for (int k = 0; k < 8; k++)
		latest[k] = -1;
	for (int i = 0; i < active_base; i++)
		latest[key[i]] = i;
	assert_true(mls_compact_run(st) > 0);
	assert_int_equal(mls_compact_run(st), 0);       /* nothing new to clean */
	for (int round = 0; round < 3; round++) {
		read_keyed(p, got, gotkey, N);
		for (int i = 0; i < N; i++) {
			bool stays = i >= active_base || latest[key[i]] == i;
			if (i == 90 && round > 0)
				stays = false;          /* the tombstone expired */
			if (!stays) {
				assert_int_equal(got[i], -2);
				continue;
			}
			assert_int_equal(gotkey[i], key[i]);
			assert_int_equal(got[i], val[i]);   /* at its own offset */
		}
		assert_int_equal(got[90], round == 0 ? -1 : -2);
		if (round == 0) {
			/* delete.retention.ms 0: the tombstone goes next time */
			tc.delete_retention_ms = 0;
			assert_int_equal(mls_topic_alter(st, "cmp", &tc), 0);
			fake_now += 10;
			assert_true(mls_compact_run(st) > 0);
		} else if (round == 1) {
			/* reopened: the cleaned segments and their indexes load */
			mls_partition_put(p);
			mls_close(st);
			st = open_store(d, MLS_FSYNC_NEVER);
			p = part(st, "cmp", 0);
		}
	}
	/* appends go on after cleaning; offsets keep counting */
	{
		int ks[1] = { 1 }, vs[1] = { 7 };
		size_t n = kbatch(buf, ks, vs, 1, fake_now);
		assert_int_equal(mls_append(p, buf, n, &r), 0);
		assert_int_equal(r.base_offset, N);
	}
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_producer_ids(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	int64_t a, b, c;
	assert_int_equal(mls_producer_id_alloc(st, &a), 0);
	assert_int_equal(mls_producer_id_alloc(st, &b), 0);
	assert_true(b > a);
	mls_close(st);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(mls_producer_id_alloc(st, &c), 0);
	assert_true(c > b);
	mls_close(st);
	rmtree(d);
}

static void t_torn_tail(void **state)
{
	(void)state;
	char *d = mktmp(), path[600];
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(mls_topic_create(st, "torn", 1, NULL), 0);
	mls_partition_t *p = part(st, "torn", 0);
	for (int i = 0; i < 10; i++)
		put_simple(p, 2, 30, 'q');
	mls_partition_put(p);
	mls_close(st);
	snprintf(path, sizeof(path), "%s/torn-0/00000000000000000000.log", d);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	off_t good = sb.st_size;
	/* a half-written batch */
	tb_opts o = tb_default();
	uint8_t buf[512];
	size_t n = tb_build(buf, &o);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, buf, n / 2), (ssize_t)(n / 2));
	close(fd);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "torn", 0);
	mls_offsets off;
	mls_partition_offsets(p, &off);
	assert_int_equal(off.log_end, 20);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, good);
	assert_int_equal(put_simple(p, 1, 5, 'r'), 20);
	mls_partition_put(p);
	mls_close(st);
	/* a whole batch with a bad CRC, then a good one after it: both go */
	assert_int_equal(stat(path, &sb), 0);
	good = sb.st_size;
	n = tb_build(buf, &o);
	buf[n - 3] ^= 0xff;
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	buf[n - 3] ^= 0xff;
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "torn", 0);
	mls_partition_offsets(p, &off);
	assert_int_equal(off.log_end, 21);
	assert_int_equal(read_all(p, 0), 21);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, good);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

static void t_groups(void **state)
{
	(void)state;
	char *d = mktmp(), path[600];
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_group_offset in[3] = {
		{ "t1", 0, 5, 100, "meta-a", 0 },
		{ "t1", 1, -1, 200, NULL, 0 },
		{ "t0", 7, 2, 300, "m", 0 },
	};
	assert_int_equal(mls_group_commit(st, "g1", in, 3), 0);
	for (int i = 0; i < 500; i++) {
		mls_group_offset up = { "t1", 0, 6, 1000 + i, "meta-b", 0 };
		assert_int_equal(mls_group_commit(st, "g2", &up, 1), 0);
	}
	int64_t off;
	int32_t ep;
	char *meta;
	assert_int_equal(mls_group_fetch(st, "g1", "t1", 0, &off, &ep, &meta), 0);
	assert_int_equal(off, 100);
	assert_int_equal(ep, 5);
	assert_string_equal(meta, "meta-a");
	free(meta);
	assert_int_equal(mls_group_fetch(st, "g1", "t1", 2, &off, &ep, NULL), -ENOENT);
	assert_int_equal(mls_group_fetch(st, "nog", "t1", 0, &off, &ep, NULL), -ENOENT);
	mls_close(st);
	snprintf(path, sizeof(path), "%s/group_offsets", d);
	struct stat before, after;
	assert_int_equal(stat(path, &before), 0);

	st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(stat(path, &after), 0);
	assert_true(after.st_size < before.st_size / 10);   /* compacted */
	mls_group_offset *v;
	size_t n;
	assert_int_equal(mls_group_list(st, "g1", &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].topic, "t0");
	assert_int_equal(v[0].partition, 7);
	assert_int_equal(v[0].offset, 300);
	assert_string_equal(v[1].topic, "t1");
	assert_int_equal(v[1].partition, 0);
	assert_int_equal(v[2].partition, 1);
	assert_int_equal(v[2].leader_epoch, -1);
	assert_string_equal(v[2].metadata, "");
	free(v);
	assert_int_equal(mls_group_fetch(st, "g2", "t1", 0, &off, &ep, &meta), 0);
	assert_int_equal(off, 1499);
	assert_string_equal(meta, "meta-b");
	free(meta);
	assert_int_equal(mls_group_delete(st, "g1"), 0);
	assert_int_equal(mls_group_list(st, "g1", &v, &n), 0);
	assert_int_equal(n, 0);
	char longmeta[5000];
	memset(longmeta, 'm', sizeof(longmeta) - 1);
	longmeta[sizeof(longmeta) - 1] = 0;
	mls_group_offset bad = { "t", 0, 0, 1, longmeta, 0 };
	assert_int_equal(mls_group_commit(st, "g3", &bad, 1), -EINVAL);
	mls_close(st);
	/* a torn record at the end is dropped, the rest kept */
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\0\0\0\x40junk", 8), 8);
	close(fd);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(mls_group_list(st, "g1", &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mls_group_fetch(st, "g2", "t1", 0, &off, &ep, NULL), 0);
	assert_int_equal(off, 1499);
	mls_close(st);
	rmtree(d);
}

/* Admin operations: configs altered and applied (cleanup.policy compact
 * stops retention, max.message.bytes, durable across reopen), partitions
 * added, DeleteRecords moving the log start inside a segment (kept across
 * reopen), group offsets deleted one by one, group names, metadata kept
 * byte for byte (NULs included). */
static void t_admin(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_NEVER);
	mls_topic_config tc;
	mls_topic_info ti;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 2048;
	tc.retention_bytes = 3000;
	tc.retention_ms = -1;
	assert_int_equal(mls_topic_create(st, "ad", 1, &tc), 0);
	mls_partition_t *p = part(st, "ad", 0);
	fake_now = 20000000;
	for (int i = 0; i < 60; i++)
		put_simple(p, 1, 100, 'a');
	/* compact only: retention keeps everything */
	tc.cleanup_policy = MLS_CLEANUP_COMPACT;
	assert_int_equal(mls_topic_alter(st, "ad", &tc), 0);
	assert_int_equal(mls_retention_run(st, fake_now), 0);
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_start, 0);
	/* back to delete: it applies at once */
	tc.cleanup_policy = MLS_CLEANUP_DELETE | MLS_CLEANUP_COMPACT;
	assert_int_equal(mls_topic_alter(st, "ad", &tc), 0);
	assert_true(mls_retention_run(st, fake_now) > 0);
	mls_partition_offsets(p, &o);
	assert_true(o.log_start > 0);
	/* max.message.bytes applies to the next append */
	tc.max_message_bytes = 100;
	assert_int_equal(mls_topic_alter(st, "ad", &tc), 0);
	tb_opts big = tb_default();
	big.value_len = 200;
	mls_append_result r;
	assert_int_equal(put(p, &big, &r), -MYCO_ELOG_TOO_LARGE);
	tc.max_message_bytes = 1048588;
	tc.compression_type = 4;
	assert_int_equal(mls_topic_alter(st, "ad", &tc), 0);
	tc.cleanup_policy = 0;
	assert_int_equal(mls_topic_alter(st, "ad", &tc), -EINVAL);
	tc.cleanup_policy = MLS_CLEANUP_DELETE;
	assert_int_equal(mls_topic_alter(st, "nope", &tc), -MYCO_ELOG_NO_TOPIC);
	/* DeleteRecords inside the active segment */
	int64_t low;
	assert_int_equal(mls_delete_records(p, 1000, &low), -MYCO_ELOG_OFFSET_RANGE);
	assert_int_equal(mls_delete_records(p, 58, &low), 0);
	assert_int_equal(low, 58);
	mls_read_set rs;
	assert_int_equal(mls_read(p, 57, 100, &rs), -MYCO_ELOG_OFFSET_RANGE);
	assert_int_equal(mls_delete_records(p, 10, &low), 0);   /* below: no-op */
	assert_int_equal(low, 58);
	/* partitions added */
	assert_int_equal(mls_topic_add_partitions(st, "ad", 1), -EINVAL);
	assert_int_equal(mls_topic_add_partitions(st, "ad", 3), 0);
	mls_partition_t *p2 = part(st, "ad", 2);
	assert_int_equal(put_simple(p2, 1, 10, 'z'), 0);
	mls_partition_put(p2);
	/* group offsets: metadata with a NUL, delete one, names */
	mls_group_offset go[2] = {
		{ "ad", 0, -1, 5, "a\0b", 3 },
		{ "ad", 1, -1, 6, NULL, 0 },
	};
	assert_int_equal(mls_group_commit(st, "gz", go, 2), 0);
	assert_int_equal(mls_group_commit(st, "ga", go, 1), 0);
	assert_int_equal(mls_group_delete_offset(st, "gz", "ad", 1), 0);
	assert_int_equal(mls_group_delete_offset(st, "gz", "ad", 9), 0);
	mls_partition_put(p);
	mls_close(st);

	st = open_store(d, MLS_FSYNC_NEVER);
	assert_int_equal(mls_topic_describe(st, "ad", &ti), 0);
	assert_int_equal(ti.partitions, 3);
	assert_int_equal(ti.config.cleanup_policy, MLS_CLEANUP_DELETE | MLS_CLEANUP_COMPACT);
	assert_int_equal(ti.config.compression_type, 4);
	p = part(st, "ad", 0);
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_start, 58);
	assert_int_equal(o.log_end, 60);
	mls_partition_put(p);
	mls_group_offset *v;
	size_t n;
	assert_int_equal(mls_group_list(st, "gz", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].metadata_len, 3);
	assert_memory_equal(v[0].metadata, "a\0b", 3);
	free(v);
	char **names;
	assert_int_equal(mls_group_names(st, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "ga");
	assert_string_equal(names[1], "gz");
	free(names);
	mls_close(st);
	rmtree(d);
}

struct async_ctx { int calls, rc; };
static void async_cb(void *arg, int rc)
{
	struct async_ctx *c = arg;
	__atomic_add_fetch(&c->calls, 1, __ATOMIC_SEQ_CST);
	if (rc)
		c->rc = rc;
}

struct hw_ctx { int64_t last; int calls; };
static void hw_cb(void *arg, const char *t, int32_t part_, int64_t hw)
{
	struct hw_ctx *c = arg;
	(void)t; (void)part_;
	__atomic_store_n(&c->last, hw, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->calls, 1, __ATOMIC_SEQ_CST);
}

static void t_async_and_policies(void **state)
{
	(void)state;
	char *d = mktmp();
	struct hw_ctx hc = { -1, 0 };
	mls_config c = base_cfg(MLS_FSYNC_ALWAYS);
	c.on_hw = hw_cb;
	c.on_hw_arg = &hc;
	mls_store_t *st;
	assert_int_equal(mls_open(d, &c, &st), 0);
	assert_int_equal(mls_topic_create(st, "as", 1, NULL), 0);
	mls_partition_t *p = part(st, "as", 0);
	struct async_ctx ac = { 0, 0 };
	int pending = 0;
	for (int i = 0; i < 20; i++) {
		tb_opts o = tb_default();
		uint8_t buf[256];
		size_t n = tb_build(buf, &o);
		mls_append_result r;
		int rc = mls_append_async(p, buf, n, &r, async_cb, &ac);
		assert_true(rc == 1);
		assert_int_equal(r.base_offset, i);
		pending++;
	}
	assert_int_equal(mls_sync(st), 0);
	/* the sync thread may still be finishing its own round: it calls the
	 * waiters back first and the high-watermark hook after them */
	for (int i = 0; i < 2000 && (__atomic_load_n(&ac.calls, __ATOMIC_SEQ_CST) < pending ||
				     __atomic_load_n(&hc.last, __ATOMIC_SEQ_CST) < 20); i++)
		usleep(1000);
	assert_int_equal(__atomic_load_n(&ac.calls, __ATOMIC_SEQ_CST), pending);
	assert_int_equal(ac.rc, 0);
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.high_watermark, 20);
	assert_int_equal(__atomic_load_n(&hc.last, __ATOMIC_SEQ_CST), 20);
	mls_partition_put(p);
	mls_close(st);

	/* interval and never: hw follows the log end at once */
	int pol[2] = { MLS_FSYNC_INTERVAL, MLS_FSYNC_NEVER };
	for (int k = 0; k < 2; k++) {
		c = base_cfg(pol[k]);
		assert_int_equal(mls_open(d, &c, &st), 0);
		p = part(st, "as", 0);
		tb_opts to = tb_default();
		uint8_t buf[256];
		size_t n = tb_build(buf, &to);
		mls_append_result r;
		assert_int_equal(mls_append_async(p, buf, n, &r, async_cb, &ac), 0);
		mls_partition_offsets(p, &o);
		assert_int_equal(o.high_watermark, o.log_end);
		mls_partition_put(p);
		mls_close(st);
	}
	rmtree(d);
}

static int fail_fsync(int fd)
{
	(void)fd;
	return -EIO;
}

/* A failed fdatasync under fsync always: the append fails, what was not
 * durable is cut off (log, index, producer state), appends go on. */
static void t_fsync_failure(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	assert_int_equal(mls_topic_create(st, "ff", 1, NULL), 0);
	mls_partition_t *p = part(st, "ff", 0);
	mls_append_result r;
	assert_int_equal(append_seq(p, 9, 0, 0, 2, &r), 0);
	assert_int_equal(append_seq(p, 9, 0, 2, 2, &r), 0);
	mls_offsets before;
	mls_partition_offsets(p, &before);
	myco__logstore_fsync_fault = fail_fsync;
	assert_int_equal(append_seq(p, 9, 0, 4, 3, &r), -EIO);
	myco__logstore_fsync_fault = NULL;
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_end, 4);
	assert_int_equal(o.high_watermark, 4);
	assert_int_equal(o.size_bytes, before.size_bytes);
	assert_int_equal(read_all(p, 0), 4);
	/* the failed batch was never stored: its retry is new, not a dup */
	assert_int_equal(append_seq(p, 9, 0, 4, 3, &r), 0);
	assert_false(r.duplicate);
	assert_int_equal(r.base_offset, 4);
	assert_int_equal(append_seq(p, 9, 0, 4, 3, &r), 0);
	assert_true(r.duplicate);
	mls_partition_put(p);
	mls_close(st);
	st = open_store(d, MLS_FSYNC_ALWAYS);
	p = part(st, "ff", 0);
	assert_int_equal(read_all(p, 0), 7);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

#ifdef MYCO_SANITIZED
#define CONC_N 60
#else
#define CONC_N 300
#endif

struct conc { mls_partition_t *p; int id; int fails; };

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	for (int i = 0; i < CONC_N; i++) {
		tb_opts o = tb_default();
		mls_append_result r;
		o.fill = (uint8_t)c->id;
		o.nrec = 1 + i % 3;
		o.pid = 1000 + c->id;
		o.epoch = 0;
		o.seq = 0;
		for (int k = 0; k < i; k++)
			o.seq += 1 + k % 3;
		if (put(c->p, &o, &r) != 0 || r.duplicate)
			c->fails++;
	}
	return NULL;
}

static void *conc_reader(void *arg)
{
	struct conc *c = arg;
	uint8_t *buf = malloc(1 << 20);
	int64_t from = 0;
	for (int i = 0; i < CONC_N * 4; i++) {
		size_t len;
		int64_t hw;
		if (mls_read_copy(c->p, from, 1 << 20, buf, 1 << 20, &len, &hw) != 0) {
			c->fails++;
			break;
		}
		for (size_t pos = 0; pos < len;) {
			uint32_t bl = (uint32_t)tb_get(buf + pos + 8, 4);
			if (mls_batch_validate(buf + pos, bl + 12) != 0)
				c->fails++;
			from = (int64_t)tb_get(buf + pos, 8) + (int64_t)tb_get(buf + pos + 57, 4);
			pos += bl + 12;
		}
	}
	free(buf);
	return NULL;
}

/* Several threads append to one partition (group commit under fsync
 * ALWAYS) while another reads and retention runs: every append lands once,
 * the log reads back whole. */
static void t_concurrent(void **state)
{
	(void)state;
	char *d = mktmp();
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 16384;
	assert_int_equal(mls_topic_create(st, "c", 1, &tc), 0);
	mls_partition_t *p = part(st, "c", 0);
	pthread_t th[5];
	struct conc cs[5];
	for (int i = 0; i < 5; i++) {
		cs[i] = (struct conc){ p, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL,
		                 i < 4 ? conc_writer : conc_reader, &cs[i]), 0);
	}
	for (int i = 0; i < 20; i++)
		mls_retention_run(st, -1);
	for (int i = 0; i < 5; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(cs[i].fails, 0);
	}
	int64_t per = 0;
	for (int i = 0; i < CONC_N; i++)
		per += 1 + i % 3;
	mls_offsets o;
	mls_partition_offsets(p, &o);
	assert_int_equal(o.log_end, 4 * per);
	assert_int_equal(o.high_watermark, 4 * per);
	assert_int_equal(read_all(p, 0), 4 * per);
	mls_partition_put(p);
	mls_close(st);
	rmtree(d);
}

/* The fd cache with a limit of 8 segment files: threads append to 24
 * partitions of small segments (many files) while another reads them all
 * with pinned ranges; every record lands and reads back, the open count
 * stays near the limit, and the store recovers through the cache. */
#define FDC_PARTS 24
#define FDC_LIMIT 8

struct fdc_arg { mls_store_t *st; int id; int fails; };

static void *fdc_writer(void *arg)
{
	struct fdc_arg *a = arg;
	for (int i = 0; i < CONC_N; i++)
		for (int q = a->id; q < FDC_PARTS; q += 3) {
			mls_partition_t *p = NULL;
			tb_opts o = tb_default();
			mls_append_result r;
			o.nrec = 2;
			o.value_len = 100;
			if (mls_partition_get(a->st, "f", q, &p) != 0 || put(p, &o, &r) != 0)
				a->fails++;
			mls_partition_put(p);
		}
	return NULL;
}

static void *fdc_reader(void *arg)
{
	struct fdc_arg *a = arg;
	for (int i = 0; i < CONC_N / 4; i++)
		for (int q = 0; q < FDC_PARTS; q++) {
			mls_partition_t *p = NULL;
			mls_read_set rs;
			if (mls_partition_get(a->st, "f", q, &p) != 0) {
				a->fails++;
				continue;
			}
			if (mls_read(p, 0, 1 << 16, &rs) == 0) {
				for (size_t k = 0; k < rs.n; k++) {
					uint8_t h[12];
					if (pread(rs.ranges[k].fd, h, sizeof(h),
						  rs.ranges[k].file_offset) != (ssize_t)sizeof(h))
						a->fails++;
				}
				mls_read_release(&rs);
			} else {
				a->fails++;
			}
			mls_partition_put(p);
		}
	return NULL;
}

static void t_fd_cache(void **state)
{
	(void)state;
	char *d = mktmp();
	size_t before = myco__seg_fd_open();
	myco__seg_fd_set_limit(before + FDC_LIMIT);
	mls_store_t *st = open_store(d, MLS_FSYNC_ALWAYS);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 2048;
	assert_int_equal(mls_topic_create(st, "f", FDC_PARTS, &tc), 0);
	assert_true(myco__seg_fd_open() <= before + FDC_LIMIT);
	pthread_t th[4];
	struct fdc_arg as[4];
	for (int i = 0; i < 4; i++) {
		as[i] = (struct fdc_arg){ st, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, i < 3 ? fdc_writer : fdc_reader,
						&as[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(as[i].fails, 0);
	}
	/* evictions can fail only while every open file is in use */
	assert_true(myco__seg_fd_open() <= before + FDC_LIMIT + 4);
	for (int q = 0; q < FDC_PARTS; q++) {
		mls_partition_t *p = part(st, "f", q);
		mls_offsets o;
		mls_partition_offsets(p, &o);
		assert_true(o.segments > 3);          /* more files than the limit */
		assert_int_equal(read_all(p, 0), 2 * CONC_N);
		mls_partition_put(p);
	}
	mls_close(st);
	st = open_store(d, MLS_FSYNC_ALWAYS);      /* recovery through the cache */
	for (int q = 0; q < FDC_PARTS; q++) {
		mls_partition_t *p = part(st, "f", q);
		assert_int_equal(read_all(p, 0), 2 * CONC_N);
		mls_partition_put(p);
	}
	assert_true(myco__seg_fd_open() <= before + FDC_LIMIT + 4);
	mls_close(st);
	assert_int_equal(myco__seg_fd_open(), before);
	myco__seg_fd_set_limit(0);
	rmtree(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_crc32c),
		cmocka_unit_test(t_validate),
		cmocka_unit_test(t_topics),
		cmocka_unit_test(t_lock),
		cmocka_unit_test(t_append_read),
		cmocka_unit_test(t_roll_and_index),
		cmocka_unit_test(t_roll_by_time),
		cmocka_unit_test(t_retention),
		cmocka_unit_test(t_list_offsets),
		cmocka_unit_test(t_log_append_time),
		cmocka_unit_test(t_idempotent),
		cmocka_unit_test(t_txn),
		cmocka_unit_test(t_compact),
		cmocka_unit_test(t_producer_ids),
		cmocka_unit_test(t_torn_tail),
		cmocka_unit_test(t_groups),
		cmocka_unit_test(t_admin),
		cmocka_unit_test(t_async_and_policies),
		cmocka_unit_test(t_concurrent),
		cmocka_unit_test(t_fsync_failure),
		cmocka_unit_test(t_fd_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
