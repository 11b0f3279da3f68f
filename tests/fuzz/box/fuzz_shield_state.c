/*
 * fuzz_shield_state.c: libFuzzer harness for the shielded-cores state file
 * records (exec/box/shield.c, myco__box_shield_parse_line) and CPU lists
 * (myco__box_cpulist_parse_mask): any bytes, line by line; a record that
 * parses must be self-consistent (non-zero masks, known kind), and a CPU
 * list that parses must format back to a list that parses to the same mask.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct myco__box_shield_rec r;
		if (myco__box_shield_parse_line(line, &r) == 0) {
			if (r.kind < MYCO__SHIELD_REC_HEADER || r.kind > MYCO__SHIELD_REC_TIMER)
				abort();
			if (r.kind == MYCO__SHIELD_REC_TASK && (!r.orig || !r.set || !r.n))
				abort();
			if ((r.kind == MYCO__SHIELD_REC_IRQ || r.kind == MYCO__SHIELD_REC_WQ) && !r.orig)
				abort();
		}
		uint64_t m, m2;
		if (myco__box_cpulist_parse_mask(line, &m) == 0) {
			char out[256];
			myco__box_cpulist_format(m, out, sizeof(out));
			if (myco__box_cpulist_parse_mask(out, &m2) != 0 || m2 != m)
				abort();
		}
	}
	free(buf);
	return 0;
}
