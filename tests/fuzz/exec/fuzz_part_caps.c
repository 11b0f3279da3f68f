/*
 * fuzz_part_caps.c: libFuzzer harness for libmyco's MYCO_CAPS manifest
 * parser (lib/part): any bytes, as the environment string would be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "part_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	int n = myco__part_parse_caps(s);
	if (n > 128)
		abort();        /* never more entries than the table holds */
	free(s);
	return 0;
}
