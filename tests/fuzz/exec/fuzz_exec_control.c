/*
 * fuzz_exec_control.c: libFuzzer harness for the executive's control
 * protocol: any bytes as one request line, dispatched against a small
 * system whose partitions have no processes (so kill/stop/restart take
 * their error paths and `stop --all` completes at once).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "exec_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ex_system sys;

static void setup(void)
{
	static const char src[] =
		"system fz {\n"
		"    message M { v: u64 = 1; }\n"
		"    channel c queue { type M; depth 4; }\n"
		"    partition a { program \"/bin/true\"; send c; }\n"
		"    partition b { program \"/bin/true\"; recv c; }\n"
		"}\n";
	static struct ex_part parts[2];
	static uint32_t members[2] = { 0, 1 };
	static uint64_t hist[6];
	static struct ex_group group = { .strategy = MYCO_ONE_FOR_ONE, .max_restarts = 5,
					 .members = members, .nmembers = 2, .hist = hist };
	static myco_chan_owner_t *chan_owners[1];
	static uint32_t order[2] = { 1, 0 };

	if (myco_lang_load_buffer("fz.myco", src, sizeof(src) - 1, &sys.model, NULL) < 0)
		abort();
	sys.opt.quiet = true;
	strcpy(sys.name, "fz");
	strcpy(group.name, "(default)");
	sys.ev = calloc(EX_EVENT_RING, sizeof(*sys.ev));
	for (int i = 0; i < 2; i++) {
		parts[i].idx = (uint32_t)i;
		parts[i].m = &sys.model->partitions[i];
		strcpy(parts[i].name, parts[i].m->name);
		myco__ex_inst_init(&parts[i].act);
		myco__ex_inst_init(&parts[i].sb);
		myco__ex_inst_init(&parts[i].dying);
		parts[i].out_r = parts[i].out_w = -1;
	}
	sys.parts = parts;
	sys.nparts = 2;
	sys.groups = &group;
	sys.ngroups = 1;
	sys.chan_owners = chan_owners;
	sys.nchans = 1;
	sys.order = order;
	sys.norder = 2;
	sys.epfd = sys.sigfd = sys.tfd = sys.lfd = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!sys.model)
		setup();
	sys.stopping = sys.done = false;
	for (size_t i = 0; i < sys.nparts; i++) {
		sys.parts[i].state = EX_WAITING;
		sys.parts[i].stop_requested = false;
	}
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	struct ex_conn c = { .fd = -1, .mode = EXC_REQ };
	bool keep = false;
	json_t *rep = myco__ex_control_dispatch(&sys, &c, line, &keep);
	if (!rep || !json_is_boolean(json_object_get(rep, "ok")))
		abort();        /* every request gets an answer with "ok" */
	json_decref(rep);
	free(line);
	return 0;
}
