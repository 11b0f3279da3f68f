/*
 * fuzz_part_caps.c: libFuzzer harness for the MYCO_CAPS manifest (lib/part:
 * caps.c's parser and writer, part.c's tables): any bytes, as the
 * environment string would be.  Every manifest the parser accepts is
 * written back entry by entry with the writer and must parse again to the
 * same entries (one grammar, two directions).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "myco/common.h"
#include "myco/part.h"
#include "part_abi.h"
#include "part_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Round trip: the first parse writes each entry into out, the second
 * compares each entry with the first parse's, in order. */
#define RT_MAX 256
static struct myco__cap rt_first[RT_MAX];
static size_t rt_n, rt_i;
static char rt_out[1 << 17];

static int rt_write(const struct myco__cap *c, void *arg)
{
	(void)arg;
	if (rt_n < RT_MAX)
		rt_first[rt_n] = *c;
	rt_n++;
	if (myco__caps_append(rt_out, sizeof(rt_out), c) != 0)
		abort();        /* an entry the parser accepted must be writable */
	return 0;
}

static int rt_check(const struct myco__cap *c, void *arg)
{
	(void)arg;
	if (rt_i < RT_MAX) {
		const struct myco__cap *a = &rt_first[rt_i];
		if (a->kind != c->kind || strcmp(a->name, c->name) || a->role != c->role ||
		    a->index != c->index || a->port != c->port || a->nfds != c->nfds ||
		    memcmp(a->fds, c->fds, c->nfds * sizeof(int)))
			abort();
	}
	rt_i++;
	return 0;
}

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
	rt_out[0] = 0;
	rt_n = rt_i = 0;
	int m = myco__caps_parse(s, rt_write, NULL);
	if (m >= 0 && (myco__caps_parse(rt_out, rt_check, NULL) != m || rt_i != rt_n))
		abort();
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
