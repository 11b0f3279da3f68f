/*
 * fuzz_driver.c: runs the libFuzzer harness tests/fuzz/chan/fuzz_region.c
 * without libFuzzer: the seed corpus files given on the command line, then
 * a fixed number of pseudo-random inputs from a fixed seed, so the plain and
 * ASan/UBSan test suites exercise the hostile-peer paths on every run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	static uint8_t buf[4096];
	uint64_t x = 0x243f6a8885a308d3u;
	unsigned iters = 4000, i;
	int k;

#ifdef MYCO_SANITIZED
	iters = 800;
#endif
	for (k = 1; k < argc; k++) {
		FILE *f = fopen(argv[k], "rb");
		size_t n;

		if (!f) {
			perror(argv[k]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	for (i = 0; i < iters; i++) {
		size_t n = 2 + (size_t)(x % 900), j;

		for (j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = (uint8_t)x;
		}
		/* mostly well-formed operations, fewer scribbles: bias ops away
		 * from 0..3 for half of the inputs */
		if (i & 1)
			for (j = 2; j < n; j += 3)
				if (buf[j] % 20 < 4 && (buf[j] & 0x40))
					buf[j] = (uint8_t)(4 + buf[j] % 16);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("fuzz_driver: %d corpus files, %u random inputs, no failure\n", argc - 1, iters);
	return 0;
}
