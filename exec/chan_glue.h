/*
 * chan_glue.h: the executive's narrow view of lib/chan's owner API, in types
 * of its own, so that only chans_owner.c depends on myco/chan.h and the rest
 * of the executive works in the model's terms (myco/lang.h).  Kinds, roles
 * and policies here use chan's numbering; chans.c translates from the model.
 * Not for: endpoints (lib/part).
 */
#ifndef MYCO_EXEC_CHAN_GLUE_H
#define MYCO_EXEC_CHAN_GLUE_H

#include <stddef.h>
#include <stdint.h>

struct myco_chan_owner;

enum ex_ckind { EXC_QUEUE = 1, EXC_SAMPLE = 2, EXC_CALL = 3 };
/* same numbers as myco_chan_role_t */
enum ex_crole { EXR_PRODUCER = 1, EXR_CONSUMER, EXR_WRITER, EXR_READER,
		EXR_CLIENT, EXR_SERVER };
enum ex_cpolicy { EXP_BLOCK = 1, EXP_REJECT, EXP_DROP_OLDEST };

struct ex_chan_spec {
	const char *name;
	enum ex_ckind kind;
	uint32_t msg_size, depth;
	enum ex_cpolicy policy;
	uint32_t producers, readers, clients;
	uint64_t refresh_ns, call_timeout_ns;
};

/* Thin wrappers, same contracts as the myco_chan_* they call. */
int myco__ex_chan_create(const struct ex_chan_spec *sp, struct myco_chan_owner **out);
int myco__ex_chan_cap_fds(const struct myco_chan_owner *o, enum ex_crole role,
			  uint32_t index, int *fds, size_t max);
int myco__ex_chan_recover(struct myco_chan_owner *o, enum ex_crole role, uint32_t index);
void myco__ex_chan_close(struct myco_chan_owner *o);
/* Counters for `myco ps --json`: returns 0 or -errno. */
int myco__ex_chan_counters(const struct myco_chan_owner *o, uint64_t *sent,
			   uint64_t *done, uint64_t *pending, int *broken);

#endif
