/* fuzz_conf.c: libFuzzer harness for myco-gate's configuration parser
 * (svc/gate/conf.c): any input either parses into a configuration that is
 * then freed, or fails with a message naming a line; never a crash or a
 * leak (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gate_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco__gate_conf_t *cf = NULL;
	char err[256];
	int rc = myco__conf_parse((const char *)data, size, &cf, err, sizeof(err));

	if (rc == 0) {
		if (!cf)
			abort();
		myco__conf_put(cf);
	} else if (cf || (rc == -MYCO_ESYNTAX && strncmp(err, "line ", 5) != 0)) {
		abort();
	}
	return 0;
}
