/*
 * chans.c: the executive's channels.  Creates one region per channel of the
 * model through lib/chan's owner API (the executive keeps the owners, so
 * regions outlive every partition), works out which capability fds each
 * partition gets and writes them into its MYCO_CAPS manifest (lib/part's
 * writer, docs/part-abi.md), and recovers a dead partition's endpoints
 * before its replacement attaches.
 * Not for: the region format (lib/chan), the manifest grammar (lib/part).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco/chan.h"
#include "exec_int.h"

static uint32_t pos_in(const uint32_t *list, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return (uint32_t)i;
	return 0;
}

/* Language vocabulary (myco/lang.h) -> channel library's (myco/chan.h).
 * Indexed by the language's enums; the asserts below break the build when
 * either side gains a value without this table. */
static const myco_chan_kind_t chan_kind_of[] = {
	[MYCO_LANG_QUEUE]  = MYCO_CHAN_QUEUE,
	[MYCO_LANG_SAMPLE] = MYCO_CHAN_SAMPLE,
	[MYCO_LANG_CALL]   = MYCO_CHAN_CALL,
};
static const myco_chan_policy_t chan_policy_of[] = {
	[MYCO_OVERFLOW_BLOCK]       = MYCO_CHAN_BLOCK,
	[MYCO_OVERFLOW_REJECT]      = MYCO_CHAN_REJECT,
	[MYCO_OVERFLOW_DROP_OLDEST] = MYCO_CHAN_DROP_OLDEST,
};
/* [kind][0] the sending/calling end, [kind][1] the receiving/serving end */
static const myco_chan_role_t chan_role_of[][2] = {
	[MYCO_LANG_QUEUE]  = { MYCO_CHAN_PRODUCER, MYCO_CHAN_CONSUMER },
	[MYCO_LANG_SAMPLE] = { MYCO_CHAN_WRITER,   MYCO_CHAN_READER },
	[MYCO_LANG_CALL]   = { MYCO_CHAN_CLIENT,   MYCO_CHAN_SERVER },
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NELEM(chan_kind_of) == MYCO_LANG_CALL + 1 &&
	       NELEM(chan_role_of) == MYCO_LANG_CALL + 1,
	       "every language channel kind maps to a lib/chan kind and roles");
_Static_assert(NELEM(chan_policy_of) == MYCO_OVERFLOW_DROP_OLDEST + 1,
	       "every overflow policy maps to a lib/chan policy");
_Static_assert(MYCO_CHAN_QUEUE && MYCO_CHAN_SAMPLE && MYCO_CHAN_CALL &&
	       MYCO_CHAN_BLOCK && MYCO_CHAN_PRODUCER,
	       "lib/chan's enums start at 1: 0 in a table above means a gap");
_Static_assert(MYCO_CHAN_SERVER == 6 && MYCO_END_SERVE == 3,
	       "roles and ends as this file knows them");

/* The one translation from the model to lib/chan.  With cfg: channel c's
 * region configuration.  With e: the role and slot index of partition pi's
 * end e on c.  Either may be NULL. */
static void chan_from_model(const myco_channel_t *c, myco_chan_config_t *cfg,
			    const myco_end_t *e, uint32_t pi,
			    myco_chan_role_t *role, uint32_t *index)
{
	if (cfg) {
		myco_chan_config_init(cfg, chan_kind_of[c->kind]);
		cfg->name = c->name;
		switch (c->kind) {
		case MYCO_LANG_QUEUE:
			cfg->msg_size = c->msg_size;
			if (c->depth)
				cfg->depth = c->depth < 2 ? 2 : c->depth;
			cfg->policy = chan_policy_of[c->overflow];
			cfg->producers = c->nsenders ? (uint32_t)c->nsenders : 1;
			break;
		case MYCO_LANG_SAMPLE:
			cfg->msg_size = c->msg_size;
			cfg->policy = MYCO_CHAN_BLOCK;
			cfg->readers = c->nreceivers ? (uint32_t)c->nreceivers : 1;
			cfg->refresh_ns = c->refresh_ns;
			break;
		case MYCO_LANG_CALL:
			cfg->msg_size = c->request_size > c->reply_size ?
					c->request_size : c->reply_size;
			if (c->depth)
				cfg->depth = c->depth < 2 ? 2 : c->depth;
			cfg->policy = MYCO_CHAN_REJECT;
			cfg->clients = c->nclients ? (uint32_t)c->nclients : 1;
			if (c->timeout_ns)
				cfg->call_timeout_ns = c->timeout_ns;
			break;
		}
		if (cfg->msg_size == 0)
			cfg->msg_size = 8;
	}
	if (e) {
		bool far = e->role == MYCO_END_RECV || e->role == MYCO_END_SERVE;
		*role = chan_role_of[c->kind][far];
		switch (*role) {
		case MYCO_CHAN_PRODUCER:
			*index = pos_in(c->senders, c->nsenders, pi);
			break;
		case MYCO_CHAN_READER:
			*index = pos_in(c->receivers, c->nreceivers, pi);
			break;
		case MYCO_CHAN_CLIENT:
			*index = pos_in(c->clients, c->nclients, pi);
			break;
		default:
			*index = 0;
			break;
		}
	}
}

int myco__ex_chans_create(struct ex_system *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->nchans; i++) {
		const myco_channel_t *c = &s->model->channels[i];
		myco_chan_config_t cfg;

		chan_from_model(c, &cfg, NULL, 0, NULL, NULL);
		rc = myco_chan_create(&cfg, &s->chan_owners[i]);
		if (rc < 0) {
			myco__ex_event(s, NULL, "error", -1, -1,
				       "channel %s: create failed: %s", c->name, myco_strerror(rc));
			goto out;
		}
	}
	/* Per partition: fds and manifest. */
	for (size_t pi = 0; pi < s->nparts; pi++) {
		struct ex_part *p = &s->parts[pi];
		p->nfds = 0;
		p->caps[0] = 0;
		for (size_t k = 0; k < p->m->nends; k++) {
			const myco_end_t *e = &p->m->ends[k];
			const myco_channel_t *c = &s->model->channels[e->channel];
			struct myco__cap cap = { .kind = MYCO__CAP_CHAN };

			chan_from_model(c, NULL, e, (uint32_t)pi, &cap.role, &cap.index);
			int n = myco_chan_cap_fds(s->chan_owners[e->channel], cap.role,
						  cap.index, cap.fds, MYCO_CHAN_MAX_FDS);
			if (n < 0) {
				rc = n;
				myco__ex_event(s, p, "error", -1, -1, "channel %s: capability: %s",
					       c->name, myco_strerror(rc));
				goto out;
			}
			cap.nfds = (size_t)n;
			snprintf(cap.name, sizeof(cap.name), "%s", c->name);
			if (p->nfds + cap.nfds > EX_MAX_FDS) {
				rc = -E2BIG;
				goto out;
			}
			rc = myco__caps_append(p->caps, sizeof(p->caps), &cap);
			if (rc < 0)
				goto out;
			for (size_t f = 0; f < cap.nfds; f++)
				p->fds[p->nfds++] = cap.fds[f];
		}
	}
out:
	return rc;
}

int myco__ex_chans_recover(struct ex_system *s, struct ex_part *p)
{
	int rc = 0;
	for (size_t k = 0; k < p->m->nends; k++) {
		const myco_end_t *e = &p->m->ends[k];
		const myco_channel_t *c = &s->model->channels[e->channel];
		myco_chan_role_t role;
		uint32_t index;

		if (!s->chan_owners[e->channel])
			continue;
		chan_from_model(c, NULL, e, p->idx, &role, &index);
		int r = myco_chan_recover(s->chan_owners[e->channel], role, index);
		if (r < 0) {
			myco__ex_event(s, p, "chan-recover", -1, -1, "channel %s: %s",
				       c->name, myco_strerror(r));
			rc = r;
		}
	}
	return rc;
}

/* Every tick: a channel endpoint that wrote a corrupt segment (found by its
 * peers or by the owner's own check, myco_chan_owner_faults()) is a fault
 * of its partition alone: an event, and the partition is killed and
 * restarted like a hung one; myco__ex_chans_recover() then repairs the
 * segment from the owner's geometry before the replacement attaches. */
void myco__ex_chans_check(struct ex_system *s)
{
	uint64_t now = myco_now();

	for (size_t i = 0; s->chan_owners && i < s->nchans; i++) {
		myco_chan_faults_t f;

		if (!s->chan_owners[i] || myco_chan_owner_faults(s->chan_owners[i], &f) <= 0)
			continue;
		for (size_t pi = 0; pi < s->nparts; pi++) {
			struct ex_part *p = &s->parts[pi];

			for (size_t k = 0; k < p->m->nends; k++) {
				const myco_end_t *e = &p->m->ends[k];
				myco_chan_role_t role;
				uint32_t index;
				bool lane, bad;

				if (e->channel != i)
					continue;
				chan_from_model(&s->model->channels[i], NULL, e, p->idx, &role, &index);
				lane = role == MYCO_CHAN_PRODUCER || role == MYCO_CHAN_CLIENT ||
				       role == MYCO_CHAN_READER;
				bad = lane ? index < 64 && ((f.lanes >> index) & 1u) : f.main != 0;
				if (!bad || !p->act.pid || p->kill_injected || s->stopping)
					continue;
				myco__ex_event(s, p, "chan-fault", -1, -1,
					       "channel %s: %s %u wrote a corrupt %s segment: killing it "
					       "(the channel's other endpoints go on)",
					       s->model->channels[i].name,
					       lane ? "lane endpoint" : "main endpoint", index,
					       lane ? "lane" : "main");
				p->kill_injected = true;
				p->t_crash_ns = now;
				myco__ex_inst_crash(&p->act);
			}
		}
	}
}

void myco__ex_chans_destroy(struct ex_system *s)
{
	for (size_t i = 0; s->chan_owners && i < s->nchans; i++) {
		if (s->chan_owners[i])
			myco_chan_owner_close(s->chan_owners[i]);
		s->chan_owners[i] = NULL;
	}
}
