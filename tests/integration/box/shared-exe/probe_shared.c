/* tests/integration/box/shared-exe/probe_shared.c: a boxed program that
 * needs a shared library from another directory (its run path); prints
 * "answer=42" only if the dynamic loader found it inside the mount view. */
#include <stdio.h>

int box_probe_lib_answer(void);

int main(void)
{
	printf("answer=%d\n", box_probe_lib_answer());
	return 0;
}
