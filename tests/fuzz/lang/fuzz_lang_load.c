/*
 * fuzz_lang_load.c: libFuzzer harness over the language: load from a buffer
 * (lexer, parser, checker; imports disabled so no file is read), print the
 * diagnostics both ways, and when it loads, run every tool on the model; then
 * fmt, and fmt again on its own output, which must be identical
 * (idempotence) and must parse.  Not for: file imports (tests/lang covers).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco/common.h"
#include "myco/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	FILE *null = fopen("/dev/null", "w");
	int rc = myco_lang_load_buffer_flags("fuzz.myco", buf, size, MYCO_LANG_NO_IMPORTS, &sys, &d);
	if ((rc == 0) != (sys != NULL))
		abort();
	if (rc && rc != -MYCO_ESYNTAX)
		abort();
	if (null) {
		myco_diags_print(d, null, true);
		myco_diags_print_json(d, null);
		if (sys) {
			myco_lang_dump_json(sys, null);
			myco_lang_gen_header(sys, null);
			myco_lang_graph_dot(sys, null);
		}
		fclose(null);
	}
	myco_system_free(sys);
	myco_diags_free(d);

	char *o1 = NULL, *o2 = NULL;
	size_t n1 = 0, n2 = 0;
	if (myco_lang_fmt("fuzz.myco", buf, size, &o1, &n1, NULL) == 0) {
		if (myco_lang_fmt("fuzz.myco", o1, n1, &o2, &n2, NULL) != 0)
			abort();
		if (n1 != n2 || memcmp(o1, o2, n1))
			abort();
	}
	free(o1);
	free(o2);
	return 0;
}
