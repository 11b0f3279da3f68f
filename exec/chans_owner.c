/*
 * chans_owner.c: the only executive file that includes myco/chan.h (see
 * chan_glue.h for why): wrappers over lib/chan's owner API.
 * Not for: deciding which partition gets which end (chans.c).
 */
#include <errno.h>

#include "myco/chan.h"
#include "chan_glue.h"

int myco__ex_chan_create(const struct ex_chan_spec *sp, struct myco_chan_owner **out)
{
	myco_chan_config_t cfg;
	myco_chan_config_init(&cfg, (myco_chan_kind_t)sp->kind);
	cfg.msg_size = sp->msg_size;
	if (sp->depth)
		cfg.depth = sp->depth < 2 ? 2 : sp->depth;
	cfg.policy = (myco_chan_policy_t)sp->policy;
	cfg.producers = sp->producers ? sp->producers : 1;
	cfg.readers = sp->readers ? sp->readers : 1;
	cfg.clients = sp->clients ? sp->clients : 1;
	cfg.refresh_ns = sp->refresh_ns;
	if (sp->call_timeout_ns)
		cfg.call_timeout_ns = sp->call_timeout_ns;
	cfg.name = sp->name;
	return myco_chan_create(&cfg, out);
}

int myco__ex_chan_cap_fds(const struct myco_chan_owner *o, enum ex_crole role,
			  uint32_t index, int *fds, size_t max)
{
	return myco_chan_cap_fds(o, (myco_chan_role_t)role, index, fds, max);
}

int myco__ex_chan_recover(struct myco_chan_owner *o, enum ex_crole role, uint32_t index)
{
	return myco_chan_recover(o, (myco_chan_role_t)role, index);
}

void myco__ex_chan_close(struct myco_chan_owner *o)
{
	myco_chan_owner_close(o);
}

int myco__ex_chan_counters(const struct myco_chan_owner *o, uint64_t *sent,
			   uint64_t *done, uint64_t *pending, int *broken)
{
	myco_chan_stats_t st;
	int rc = myco_chan_owner_stats(o, &st);
	*sent = st.sent;
	*done = st.done;
	*pending = st.pending;
	*broken = st.broken;
	return rc;
}
