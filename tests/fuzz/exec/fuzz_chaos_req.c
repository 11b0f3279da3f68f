/*
 * fuzz_chaos_req.c: libFuzzer harness for the chaos experiment's JSON form
 * (the control request `{"cmd":"chaos","action":"run",...}`, parsed by
 * myco__chaos_from_json in exec/chaos.c): any bytes as JSON; a request the
 * parser accepts must come back unchanged through myco__chaos_to_json and
 * a second parse, and a refused one must say why.  Also driven, over its
 * corpus, by the unit test tests/unit/exec/test_chaos_req.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chaos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct myco__chaos_exp e, e2;
	char err[256];
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL), *back;

	if (!j)
		return 0;
	err[0] = 0;
	if (myco__chaos_from_json(j, &e, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();        /* a refusal names its reason */
		json_decref(j);
		return 0;
	}
	back = myco__chaos_to_json(&e);
	if (!back)
		abort();
	if (myco__chaos_from_json(back, &e2, err, sizeof(err)) < 0)
		abort();        /* what we write, we read */
	/* probabilities travel as doubles: compare everything else exactly */
	for (uint32_t i = 0; i < e.nfaults; i++) {
		int64_t d = (int64_t)e.f[i].prob - (int64_t)e2.f[i].prob;

		if (d < -2 || d > 2)
			abort();
		e2.f[i].prob = e.f[i].prob;
	}
	if (memcmp(&e, &e2, sizeof(e)))
		abort();
	json_decref(back);
	json_decref(j);
	return 0;
}
