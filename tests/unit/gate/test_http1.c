/* test_http1.c: unit tests for myco-gate's HTTP/1.1 parser (svc/gate/http1.c):
 * request and response heads, byte-at-a-time input, pipelining, framing
 * semantics, the chunked decoder, and the bad-input corpus in bad/ (one
 * request per file, escaped, with its exact expected status and reason). */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http1.h"

static const char *bad_dir;

static ssize_t parse(const char *s, myco__h1_msg_t *m)
{
	return myco__h1_parse_request(s, strlen(s), 16384, m);
}

static void test_simple_get(void **state)
{
	myco__h1_msg_t m;
	const char *s = "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\n";
	(void)state;

	assert_int_equal(parse(s, &m), strlen(s));
	assert_int_equal(m.mlen, 3);
	assert_memory_equal(m.method, "GET", 3);
	assert_int_equal(m.tlen, 6);
	assert_memory_equal(m.target, "/a?b=1", 6);
	assert_int_equal(m.minor, 1);
	assert_true(m.keep_alive);
	assert_int_equal(m.content_length, -1);
	assert_false(m.chunked);
	assert_int_equal(m.nhdrs, 2);
	assert_int_equal(m.hdrs[1].vlen, 1);           /* OWS trimmed */
	assert_memory_equal(m.hdrs[1].value, "v", 1);
	assert_int_equal(m.hostlen, 11);
}

static void test_incremental(void **state)
{
	myco__h1_msg_t m;
	const char *s = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc";
	size_t head = strlen(s) - 3, i;
	(void)state;

	for (i = 1; i < head; i++)
		assert_int_equal(myco__h1_parse_request(s, i, 16384, &m), 0);
	assert_int_equal(myco__h1_parse_request(s, head, 16384, &m), head);
	assert_int_equal(m.content_length, 3);
	assert_true(m.expect_continue);
}

static void test_pipelined_and_empty_lines(void **state)
{
	myco__h1_msg_t m;
	const char *s = "\r\nGET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	ssize_t n;
	(void)state;

	n = parse(s, &m);
	assert_true(n > 0 && (size_t)n < strlen(s));
	assert_memory_equal(m.target, "/1", 2);
	assert_int_equal(parse(s + n, &m), strlen(s) - (size_t)n);
	assert_memory_equal(m.target, "/2", 2);
}

static void test_keepalive_rules(void **state)
{
	myco__h1_msg_t m;
	(void)state;

	assert_true(parse("GET / HTTP/1.0\r\n\r\n", &m) > 0);
	assert_false(m.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &m) > 0);
	assert_true(m.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Close\r\n\r\n", &m) > 0);
	assert_false(m.keep_alive);
	assert_true(parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
			  &m) > 0);
	assert_true(m.upgrade);
	assert_true(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &m) > 0);
	assert_true(m.chunked);
}

static void test_response(void **state)
{
	myco__h1_msg_t m;
	const char *s = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
	(void)state;

	assert_int_equal(myco__h1_parse_response(s, strlen(s), 16384, &m), strlen(s) - 2);
	assert_int_equal(m.status, 404);
	assert_int_equal(m.content_length, 2);
	assert_true(m.keep_alive);
	s = "HTTP/1.0 200 OK\r\n\r\n";
	assert_true(myco__h1_parse_response(s, strlen(s), 16384, &m) > 0);
	assert_false(m.keep_alive);
	s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
	assert_true(myco__h1_parse_response(s, strlen(s), 16384, &m) > 0);
	assert_true(m.chunked);
	assert_int_equal(m.content_length, -1);
	assert_false(m.keep_alive);                  /* CL+TE: never reuse */
	s = "HTTP/1.1 20x OK\r\n\r\n";
	assert_int_equal(myco__h1_parse_response(s, strlen(s), 16384, &m), -EPROTO);
	assert_false(myco__h1_resp_has_body(204, false));
	assert_false(myco__h1_resp_has_body(200, true));
	assert_true(myco__h1_resp_has_body(200, false));
}

static void decode_all(const char *in, size_t step, const char *want, size_t want_rest)
{
	char buf[4096], out[4096];
	size_t len = strlen(in), pos = 0, olen = 0;
	myco__h1_chunked_t st;

	memset(&st, 0, sizeof(st));
	memcpy(buf, in, len);
	while (pos < len && !st.done) {
		size_t n = len - pos < step ? len - pos : step, o = 0;
		ssize_t used = myco__h1_chunked_decode(&st, buf + pos, n, &o);
		assert_true(used >= 0);
		memcpy(out + olen, buf + pos, o);
		olen += o;
		pos += (size_t)used;
		if ((size_t)used < n)
			break;
	}
	assert_true(st.done);
	assert_int_equal(olen, strlen(want));
	assert_memory_equal(out, want, olen);
	assert_int_equal(len - pos, want_rest);
}

static void test_chunked_good(void **state)
{
	const char *in = "5\r\nhello\r\n6;ext=1;x\r\n world\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nNEXT";
	size_t step;
	(void)state;

	for (step = 1; step <= strlen(in); step++)
		decode_all(in, step, "hello world0123456789", 4);
}

static void expect_chunk_error(const char *in, const char *why)
{
	char buf[256];
	size_t o;
	myco__h1_chunked_t st;

	memset(&st, 0, sizeof(st));
	memcpy(buf, in, strlen(in));
	assert_int_equal(myco__h1_chunked_decode(&st, buf, strlen(in), &o), -EPROTO);
	assert_string_equal(st.err, why);
}

static void test_chunked_bad(void **state)
{
	(void)state;
	expect_chunk_error("g\r\n", "bad chunk size");
	expect_chunk_error("-1\r\n", "bad chunk size");
	expect_chunk_error("+5\r\nhello\r\n", "bad chunk size");
	expect_chunk_error("0x5\r\n", "bad chunk size");
	expect_chunk_error("1 2\r\n", "bad chunk size");
	expect_chunk_error("1 \r\n", "bad chunk size");
	expect_chunk_error("1000000000000000\r\n", "chunk size too large");
	expect_chunk_error("5\nhello\r\n", "bad chunk size");
	expect_chunk_error("5\r\nhelloX\r\n", "chunk data longer than its size");
	expect_chunk_error("5\r\nhello\rX", "bare CR after chunk data");
	expect_chunk_error("5\r\nhello\r\n0\r\nX: y\rZ", "bare CR in trailer");
	expect_chunk_error("5;a\x01\r\n", "bad chunk extension");
	expect_chunk_error("0\r\n\rX", "bare CR at end of chunked body");
	expect_chunk_error("0\r\n y\r\n\r\n", "malformed trailer field");
}

/* bad/NNN-name.http: the request, escaped (\r \n \t \\ \xHH; real
 * newlines ignored); NNN-name.expected: "STATUS reason". */
static size_t unescape(const char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n')
			continue;
		if (in[i] == '\\' && i + 1 < n) {
			char c = in[++i];
			if (c == 'r')
				out[o++] = '\r';
			else if (c == 'n')
				out[o++] = '\n';
			else if (c == 't')
				out[o++] = '\t';
			else if (c == 'x' && i + 2 < n) {
				char hx[3] = { in[i + 1], in[i + 2], 0 };
				out[o++] = (char)strtol(hx, NULL, 16);
				i += 2;
			} else
				out[o++] = c;
			continue;
		}
		out[o++] = in[i];
	}
	return o;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void test_bad_corpus(void **state)
{
	DIR *d = opendir(bad_dir);
	struct dirent *e;
	unsigned count = 0;
	(void)state;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[1024], got[256];
		size_t n, rn, el;
		char *raw, *req, *exp;
		myco__h1_msg_t m;
		ssize_t rc;
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".http") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", bad_dir, e->d_name);
		raw = slurp(path, &n);
		req = malloc(n + 1);
		rn = unescape(raw, n, req);
		snprintf(path, sizeof(path), "%s/%.*s.expected", bad_dir, (int)(l - 5), e->d_name);
		exp = slurp(path, &el);
		while (el && exp[el - 1] == '\n')
			exp[--el] = '\0';
		rc = myco__h1_parse_request(req, rn, 16384, &m);
		snprintf(got, sizeof(got), "%u %s", m.err_status, m.err ? m.err : "(accepted)");
		if (rc != -EPROTO || strcmp(got, exp) != 0)
			fail_msg("%s: expected \"%s\", got \"%s\" (rc %zd)", e->d_name, exp, got, rc);
		count++;
		free(raw);
		free(req);
		free(exp);
	}
	closedir(d);
	assert_true(count >= 40);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_pipelined_and_empty_lines),
		cmocka_unit_test(test_keepalive_rules),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_chunked_good),
		cmocka_unit_test(test_chunked_bad),
		cmocka_unit_test(test_bad_corpus),
	};
	bad_dir = argc > 1 ? argv[1] : "bad";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
