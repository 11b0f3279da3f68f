/*
 * test_chaos_req.c: the chaos experiment request (exec/chaos.c,
 * myco__chaos_from_json): each bad input of tests/fuzz/exec/corpus_chaos
 * (bad_*) is refused with its exact reason, each good one is accepted and
 * survives the round trip through myco__chaos_to_json, the kinds' words
 * map both ways, and the fuzz harness runs over the whole corpus.
 */
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
#include <jansson.h>

#include "chaos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *corpus;

static json_t *load(const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", corpus, name);
	return json_load_file(path, JSON_DECODE_ANY, NULL);
}

static void t_bad(void **state)
{
	static const struct { const char *file, *why; } bad[] = {
		{ "bad_empty", "'faults' must be a non-empty array" },
		{ "bad_kind", "fault 1: 'kind' must be one of drop, delay, duplicate, reorder, "
			      "corrupt, bandwidth, stall, slow, fdleak, kill, hang, hog, leak, "
			      "skew, starve, slowsys" },
		{ "bad_slowsys_calls", "fault 1: slowsys needs its system calls in 'arg2' "
				       "(bit i: the i-th of docs/chaos.md)" },
		{ "bad_slowsys_any", "fault 1: slowsys names its partition" },
		{ "bad_chan_any", "fault 1: a channel fault names its channel" },
		{ "bad_prob", "fault 1: 'prob' must be a number in [0, 1]" },
		{ "bad_every", "fault 1: 'every_ns' below 10 ms (the executive's tick)" },
		{ "bad_hog", "fault 1: hog takes a percentage 1..100" },
		{ "bad_target", "fault 1: 'target' must be a partition or channel name, or \"*\"" },
		{ "bad_negative", "'at_ns' must be a whole number >= 0" },
		{ "bad_shape", "'faults' must be a non-empty array" },
		{ "bad_array", "the experiment must be a JSON object" },
		{ "bad_name", "'experiment' must be 1..63 letters, digits, '_' or '-'" },
		{ "bad_bits", "fault 1: corrupt flips 1..64 bits" },
	};
	struct myco__chaos_exp *e = malloc(sizeof(*e));

	(void)state;
	assert_non_null(e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = load(bad[i].file);
		char err[256] = "";

		assert_non_null(j);
		assert_int_equal(myco__chaos_from_json(j, e, err, sizeof(err)), -EINVAL);
		if (strcmp(err, bad[i].why)) {
			fprintf(stderr, "%s: got \"%s\"\n", bad[i].file, err);
			fail();
		}
		json_decref(j);
	}
	free(e);
}

static void t_good(void **state)
{
	static const char *const good[] = { "soak", "hang", "chan", "part", "slowsys" };
	struct myco__chaos_exp *e = malloc(sizeof(*e));
	char err[256];

	(void)state;
	assert_non_null(e);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_t *j = load(good[i]);

		assert_non_null(j);
		assert_int_equal(myco__chaos_from_json(j, e, err, sizeof(err)), 0);
		assert_true(e->nfaults >= 1);
		json_decref(j);
	}
	/* soak: the numbers as written */
	json_t *j = load("soak");
	assert_int_equal(myco__chaos_from_json(j, e, err, sizeof(err)), 0);
	assert_string_equal(e->name, "soak");
	assert_int_equal(e->seed, 42);
	assert_int_equal(e->nfaults, 3);
	assert_int_equal(e->f[0].kind, MYCO__CHAOS_KILL);
	assert_string_equal(e->f[0].target, "*");
	assert_int_equal(e->f[0].every_ns, 100000000);
	assert_int_equal(e->f[0].prob, UINT32_MAX);
	assert_int_equal(e->f[1].kind, MYCO__CHAOS_DELAY);
	assert_int_equal(e->f[1].arg, 1000000);
	assert_int_equal(e->f[1].arg2, 500000);
	json_decref(j);
	free(e);
}

static void t_kinds(void **state)
{
	(void)state;
	for (uint32_t k = 1; k < 32; k++) {
		const char *w = myco__chaos_kind_name(k);

		if (!strcmp(w, "?"))
			continue;
		assert_int_equal(myco__chaos_kind_parse(w), (int)k);
		assert_int_equal(myco__chaos_kind_is_chan(k), k <= MYCO__CHAOS_STALL);
	}
	assert_int_equal(myco__chaos_kind_parse("explode"), -EINVAL);
}

/* The fuzz harness over every corpus file: no abort. */
static void t_corpus(void **state)
{
	DIR *d = opendir(corpus);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[4096], buf[65536];
		FILE *f;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, de->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_bad),
		cmocka_unit_test(t_good),
		cmocka_unit_test(t_kinds),
		cmocka_unit_test(t_corpus),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: test_chaos_req CORPUS_DIR\n");
		return 2;
	}
	corpus = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
