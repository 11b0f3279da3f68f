/* fuzz_upgrade.c: libFuzzer harness for myco-gate's h2c upgrade check
 * (svc/gate/h2.c, myco__h2_upgrade_check): the input is parsed as an
 * HTTP/1.1 request head and, when complete, checked as an `Upgrade: h2c`
 * request, decoding its HTTP2-Settings field (base64url).  An accepted
 * payload must fit the buffer, be whole SETTINGS entries, and be accepted by
 * libnghttp2's server session exactly as the gateway hands it over. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "gate_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	myco__h1_msg_t *m = malloc(sizeof(*m));
	uint8_t set[512];
	size_t sl = (size_t)-1;
	ssize_t hl;
	int rc;

	if (!buf || !m)
		goto out;
	memcpy(buf, data, size);
	hl = myco__h1_parse_request(buf, size, 16384, m);
	if (hl <= 0)
		goto out;
	rc = myco__h2_upgrade_check(m, set, sizeof(set), &sl);
	if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
		abort();
	if (rc == 0) {
		nghttp2_session_callbacks *cb;
		nghttp2_session *s;
		if (sl > sizeof(set) || sl % 6 != 0)
			abort();
		if (nghttp2_session_callbacks_new(&cb) != 0)
			goto out;
		if (nghttp2_session_server_new(&s, cb, NULL) == 0) {
			/* nghttp2 may refuse values (a window above 2^31-1):
			 * the connection then ends; it must not crash */
			(void)nghttp2_session_upgrade2(s, set, sl, 0, NULL);
			nghttp2_session_del(s);
		}
		nghttp2_session_callbacks_del(cb);
	}
out:
	free(buf);
	free(m);
	return 0;
}
