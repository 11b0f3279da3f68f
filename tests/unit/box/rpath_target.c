/* tests/unit/box/rpath_target.c: an empty program linked with a known
 * DT_RUNPATH, read back by test_box_unit (elf.c).  Never run. */
int main(void)
{
	return 0;
}
