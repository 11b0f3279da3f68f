/*
 * fuzz_part_caps.c: libFuzzer harness for libmyco's MYCO_CAPS manifest
 * parser (lib/part): any bytes, as the environment string would be; channel
 * entries and listening-socket entries ("tcp/PORT:FD", exec/ports.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "myco/common.h"
#include "myco/part.h"
#include "part_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	if (!inited) {
		/* once, so that myco_listen_*() below do not re-run it (and
		 * replace the table with the environment's, empty here) */
		(void)myco_init();
		inited = 1;
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	int n = myco__part_parse_caps(s);
	if (n > 128 + 64)
		abort();        /* never more entries than the tables hold */
	/* listening-socket entries ("tcp/PORT:FD"): every granted port is
	 * non-zero, unique and found again by myco_listen_fd() */
	uint16_t ports[64];
	size_t np = myco_listen_ports(ports, 64);
	if (n >= 0 && np > (size_t)n)
		abort();
	for (size_t i = 0; n >= 0 && i < np && i < 64; i++) {
		if (ports[i] == 0 || myco_listen_fd(ports[i]) < 0)
			abort();
		for (size_t j = 0; j < i; j++)
			if (ports[j] == ports[i])
				abort();
	}
	free(s);
	return 0;
}
