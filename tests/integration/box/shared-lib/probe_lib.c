/* tests/integration/box/shared-lib/probe_lib.c: a shared library outside
 * the probe's directory, found only through the probe's run path: the
 * minimal mount view must bind it (exec/box/elf.c). */
int box_probe_lib_answer(void);

int box_probe_lib_answer(void)
{
	return 42;
}
