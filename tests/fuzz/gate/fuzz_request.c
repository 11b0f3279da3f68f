/* fuzz_request.c: libFuzzer harness for myco-gate's HTTP/1.1 parser
 * (svc/gate/http1.c): the input is parsed as a stream of pipelined requests,
 * each body decoded (Content-Length or chunked, in place, fed in pieces of
 * varying size), and the same bytes as a response head.  The parser must
 * never read outside its input, and its answers must be consistent: a
 * complete head has a positive length within the input, an error always
 * carries a status and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	myco__h1_msg_t *m = malloc(sizeof(*m));
	size_t pos = 0;

	if (!buf || !m)
		goto out;
	memcpy(buf, data, size);
	while (pos < size) {
		ssize_t hl = myco__h1_parse_request(buf + pos, size - pos, 4096, m);
		if (hl == 0)
			break;
		if (hl < 0) {
			if (!m->err || m->err_status < 400)
				abort();
			break;
		}
		if ((size_t)hl > size - pos || m->head_len != (size_t)hl)
			abort();
		for (size_t i = 0; i < m->nhdrs; i++)
			if (m->hdrs[i].name < buf + pos || m->hdrs[i].value + m->hdrs[i].vlen > buf + pos + (size_t)hl)
				abort();
		pos += (size_t)hl;
		if (m->chunked) {
			myco__h1_chunked_t st;
			size_t step = (size & 7) + 1;
			memset(&st, 0, sizeof(st));
			while (pos < size && !st.done) {
				size_t n = size - pos < step ? size - pos : step, out = 0;
				ssize_t used = myco__h1_chunked_decode(&st, buf + pos, n, &out);
				if (used < 0) {
					if (!st.err)
						abort();
					goto resp;
				}
				if (out > (size_t)used || (size_t)used > n)
					abort();
				pos += (size_t)used;
			}
			if (!st.done)
				break;
		} else if (m->content_length > 0) {
			if ((uint64_t)m->content_length > size - pos)
				break;
			pos += (size_t)m->content_length;
		}
	}
resp:
	memcpy(buf, data, size);
	if (myco__h1_parse_response(buf, size, 4096, m) < 0 && !m->err)
		abort();
out:
	free(buf);
	free(m);
	return 0;
}
