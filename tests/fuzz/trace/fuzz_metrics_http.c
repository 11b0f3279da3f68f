/*
 * fuzz_metrics_http.c: libFuzzer harness for the executive's HTTP request
 * parser (exec/metrics_http.c, myco__ex_http_parse): any bytes, fed whole
 * and in every split a slow client could produce, must give "need more",
 * a request with a bounded NUL-terminated path, or an error; never a
 * crash or a read past the input.
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
	for (size_t cut = 0; cut <= size; cut += 1 + cut / 4) {
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
