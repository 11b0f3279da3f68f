/* test_kproto.c: unit tests for myco-log's wire codec (svc/log/kproto.c):
 * fixed-width and variable-length integers, strings, arrays, tagged fields,
 * overrun handling, file ranges and deferred cleanups in responses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kproto.h"

static void test_ints_roundtrip(void **state)
{
	myco__kwr_t w;
	myco__krd_t r;
	(void)state;

	myco__kwr_init(&w);
	myco__kwr_i8(&w, -5);
	myco__kwr_i16(&w, -12345);
	myco__kwr_i32(&w, INT32_MIN);
	myco__kwr_i64(&w, INT64_MIN + 7);
	myco__kwr_uvarint(&w, 0);
	myco__kwr_uvarint(&w, 300);
	myco__kwr_uvarint(&w, UINT32_MAX);
	myco__kwr_varint(&w, -1);
	myco__kwr_varint(&w, INT32_MIN);
	myco__kwr_varlong(&w, INT64_MAX);
	myco__kwr_varlong(&w, -64);
	assert_int_equal(w.err, 0);
	/* big-endian on the wire */
	assert_int_equal(w.buf[1], 0xcf);
	assert_int_equal(w.buf[2], 0xc7);

	myco__krd_init(&r, w.buf, w.len);
	assert_int_equal(myco__krd_i8(&r), -5);
	assert_int_equal(myco__krd_i16(&r), -12345);
	assert_int_equal(myco__krd_i32(&r), INT32_MIN);
	assert_true(myco__krd_i64(&r) == INT64_MIN + 7);
	assert_int_equal(myco__krd_uvarint(&r), 0);
	assert_int_equal(myco__krd_uvarint(&r), 300);
	assert_true(myco__krd_uvarint(&r) == UINT32_MAX);
	assert_int_equal(myco__krd_varint(&r), -1);
	assert_int_equal(myco__krd_varint(&r), INT32_MIN);
	assert_true(myco__krd_varlong(&r) == INT64_MAX);
	assert_true(myco__krd_varlong(&r) == -64);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_left(&r), 0);
	/* reading past the end sets err and returns zero */
	assert_int_equal(myco__krd_i32(&r), 0);
	assert_int_equal(r.err, -EBADMSG);
	myco__kwr_free(&w);
}

static void test_varint_sizes(void **state)
{
	(void)state;
	assert_int_equal(myco__kvarint_size(0, true), 1);
	assert_int_equal(myco__kvarint_size(-1, true), 1);
	assert_int_equal(myco__kvarint_size(63, true), 1);
	assert_int_equal(myco__kvarint_size(64, true), 2);
	assert_int_equal(myco__kvarint_size(127, false), 1);
	assert_int_equal(myco__kvarint_size(128, false), 2);
	assert_int_equal(myco__kvarint_size(INT64_MIN, true), 10);
}

static void test_bad_varints(void **state)
{
	static const uint8_t too_long[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t too_big[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	static const uint8_t cut[] = { 0x80, 0x80 };
	myco__krd_t r;
	(void)state;

	myco__krd_init(&r, too_long, sizeof(too_long));
	(void)myco__krd_uvarint(&r);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, too_big, sizeof(too_big));
	(void)myco__krd_uvarint(&r);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, cut, sizeof(cut));
	(void)myco__krd_varlong(&r);
	assert_int_equal(r.err, -EBADMSG);
}

static void test_strings(void **state)
{
	myco__kwr_t w;
	myco__krd_t r;
	myco__kstr_t s;
	(void)state;

	myco__kwr_init(&w);
	myco__kwr_str(&w, false, "topic");
	myco__kwr_str(&w, false, NULL);
	myco__kwr_str(&w, true, "flex");
	myco__kwr_str(&w, true, NULL);
	myco__kwr_str(&w, true, "");
	assert_memory_equal(w.buf, "\x00\x05topic\xff\xff\x05" "flex\x00\x01", 15);
	myco__krd_init(&r, w.buf, w.len);
	s = myco__krd_str(&r, false);
	assert_int_equal(s.len, 5);
	assert_memory_equal(s.p, "topic", 5);
	s = myco__krd_str(&r, false);
	assert_null(s.p);
	assert_int_equal(s.len, -1);
	s = myco__krd_str(&r, true);
	assert_int_equal(s.len, 4);
	s = myco__krd_str(&r, true);
	assert_int_equal(s.len, -1);
	s = myco__krd_str(&r, true);
	assert_int_equal(s.len, 0);
	assert_non_null(s.p);
	assert_int_equal(r.err, 0);
	myco__kwr_free(&w);
}

static void test_string_overruns(void **state)
{
	static const uint8_t long_len[] = { 0x00, 0x10, 'a', 'b' };
	static const uint8_t neg_len[] = { 0xff, 0xfe, 'a' };
	static const uint8_t neg_bytes[] = { 0x80, 0x00, 0x00, 0x00 };
	static const uint8_t compact_long[] = { 0x7f, 'a' };
	myco__krd_t r;
	(void)state;

	myco__krd_init(&r, long_len, sizeof(long_len));
	assert_null(myco__krd_str(&r, false).p);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, neg_len, sizeof(neg_len));
	(void)myco__krd_str(&r, false);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, neg_bytes, sizeof(neg_bytes));
	(void)myco__krd_bytes(&r, false);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, compact_long, sizeof(compact_long));
	(void)myco__krd_bytes(&r, true);
	assert_int_equal(r.err, -EBADMSG);
}

static void test_arrays(void **state)
{
	static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	static const uint8_t null_arr[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t neg2[] = { 0xff, 0xff, 0xff, 0xfe };
	static const uint8_t two[] = { 0, 0, 0, 2, 0, 1, 0, 2 };
	static const uint8_t compact_null[] = { 0x00 };
	myco__krd_t r;
	(void)state;

	/* a count the remaining bytes cannot hold is rejected before use */
	myco__krd_init(&r, huge, sizeof(huge));
	assert_int_equal(myco__krd_array(&r, false, 4), 0);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, null_arr, sizeof(null_arr));
	assert_int_equal(myco__krd_array(&r, false, 4), -1);
	assert_int_equal(r.err, 0);
	myco__krd_init(&r, neg2, sizeof(neg2));
	(void)myco__krd_array(&r, false, 1);
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, two, sizeof(two));
	assert_int_equal(myco__krd_array(&r, false, 2), 2);
	myco__krd_init(&r, two, sizeof(two));
	(void)myco__krd_array(&r, false, 3);      /* 2 x 3 > 4 bytes left */
	assert_int_equal(r.err, -EBADMSG);
	myco__krd_init(&r, compact_null, sizeof(compact_null));
	assert_int_equal(myco__krd_array(&r, true, 1), -1);
}

static void test_tags(void **state)
{
	static const uint8_t tags[] = { 0x02, 0x00, 0x03, 'a', 'b', 'c', 0x05, 0x00, 0x42 };
	static const uint8_t bad[] = { 0x01, 0x00, 0x09, 'a' };
	myco__krd_t r;
	(void)state;

	myco__krd_init(&r, tags, sizeof(tags));
	myco__krd_tags(&r, true);
	assert_int_equal(r.err, 0);
	assert_int_equal(myco__krd_i8(&r), 0x42);
	myco__krd_init(&r, bad, sizeof(bad));
	myco__krd_tags(&r, true);
	assert_int_equal(r.err, -EBADMSG);
	/* not flexible: nothing consumed */
	myco__krd_init(&r, tags, sizeof(tags));
	myco__krd_tags(&r, false);
	assert_int_equal(r.pos, 0);
}

static int freed;
static void count_free(void *arg)
{
	freed += *(int *)arg;
}

static void test_writer_files_defers(void **state)
{
	myco__kwr_t w;
	int one = 1, ten = 10;
	size_t at;
	(void)state;

	freed = 0;
	myco__kwr_init(&w);
	at = myco__kwr_reserve_i32(&w);
	myco__kwr_i16(&w, 7);
	myco__kwr_file(&w, 3, 100, 4096);
	myco__kwr_file(&w, 4, 0, 10);
	myco__kwr_i8(&w, 1);
	myco__kwr_defer(&w, count_free, &one);
	myco__kwr_defer(&w, count_free, &ten);
	myco__kwr_patch_i32(&w, at, (int32_t)(myco__kwr_total(&w) - 4));
	assert_int_equal(w.nfiles, 2);
	assert_int_equal(w.files[0].at, 6);
	assert_int_equal(w.files[1].at, 6);
	assert_int_equal(myco__kwr_total(&w), 7 + 4096 + 10);
	assert_memory_equal(w.buf, "\x00\x00\x10\x0d", 4);
	myco__kwr_free(&w);
	assert_int_equal(freed, 11);
}

static void test_writer_grows(void **state)
{
	myco__kwr_t w;
	int i;
	(void)state;

	myco__kwr_init(&w);
	for (i = 0; i < 100000; i++)
		myco__kwr_i32(&w, i);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 400000);
	assert_memory_equal(w.buf + 4 * 99999, "\x00\x01\x86\x9f", 4);
	myco__kwr_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints_roundtrip),
		cmocka_unit_test(test_varint_sizes),
		cmocka_unit_test(test_bad_varints),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_string_overruns),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_writer_files_defers),
		cmocka_unit_test(test_writer_grows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
