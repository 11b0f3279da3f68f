/*
 * fuzz_metrics_http.c: libFuzzer harness for the executive's HTTP request
 * parsers (exec/metrics_http.c: myco__ex_http_parse for GET/HEAD and
 * myco__ex_http_request, which the dashboard's actions use for POST): any
 * bytes, fed whole and in every split a slow client could produce, must
 * give "need more", a request with a bounded NUL-terminated path (and a
 * head length within the input, a Content-Length of at most 9 digits), or
 * an error; never a crash or a read past the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	int head = -1;
	/* a private copy of exactly SIZE bytes: ASan sees any over-read */
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	/* known-good requests must parse, with or without header lines */
	static const char *const good[] = {
		"GET /metrics HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /metrics HTTP/1.1\n\n",
	};
	for (size_t g = 0; g < sizeof good / sizeof good[0]; g++)
		if (myco__ex_http_parse(good[g], strlen(good[g]), 4096, &head, path,
					sizeof path) != 1 || path[0] != '/')
			abort();
	memcpy(buf, data, size);
	static const char *const bad[] = {
		"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length : 1\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"POST /a HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"POST /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
	};
	struct myco__ex_http_req r;
	for (size_t g = 0; g < sizeof bad / sizeof bad[0]; g++)
		if (myco__ex_http_request(bad[g], strlen(bad[g]), 4096, &r) != -EINVAL)
			abort();
	static const char post[] = "POST /api/action HTTP/1.1\r\nContent-Length: 2\r\n"
				   "Authorization: Bearer abc\r\n\r\n{}";
	if (myco__ex_http_request(post, sizeof post - 1, 4096, &r) != 1 ||
	    r.method != MYCO__HTTP_POST || r.content_length != 2 || strcmp(r.bearer, "abc") ||
	    r.head_len != sizeof post - 3)
		abort();
	for (size_t cut = 0; cut <= size; cut += 1 + cut / 4) {
		int rq = myco__ex_http_request(buf, cut, 4096, &r);
		if (rq == 1) {
			if (r.head_len > cut || strlen(r.path) >= sizeof r.path ||
			    strlen(r.bearer) >= sizeof r.bearer || r.content_length > 999999999 ||
			    r.content_length < -1)
				abort();
		} else if (rq != 0 && rq != -EINVAL && rq != -E2BIG) {
			abort();
		}
		int rc = myco__ex_http_parse(buf, cut, 4096, &head, path, sizeof path);
		if (rc == 1) {
			if (strlen(path) >= sizeof path || (head != 0 && head != 1))
				abort();
		} else if (rc != 0 && rc != -EINVAL && rc != -E2BIG) {
			abort();
		}
	}
	free(buf);
	return 0;
}
