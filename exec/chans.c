/*
 * chans.c: the executive's channels.  Creates one region per channel of the
 * model (the executive keeps the owner handles, so regions outlive every
 * partition), works out which capability fds each partition gets and
 * writes its MYCO_CAPS manifest, and recovers a dead partition's endpoints
 * before its replacement attaches.
 *
 * Manifest format (parsed by lib/part): entries separated by ';', each
 *   NAME ':' ROLE ':' INDEX ':' FD { ',' FD }
 * with ROLE the myco_chan_role_t number and the fds at the numbers the
 * partition sees them.  Only channels the partition declared appear.
 * Not for: the region format (lib/chan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_int.h"
#include "chan_glue.h"

static uint32_t pos_in(const uint32_t *list, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == v)
			return (uint32_t)i;
	return 0;
}

/* Role and slot index of partition pi's end e on channel c. */
static void end_role(const myco_channel_t *c, const myco_end_t *e, uint32_t pi,
		     enum ex_crole *role, uint32_t *index)
{
	*index = 0;
	switch (c->kind) {
	case MYCO_LANG_QUEUE:
		if (e->role == MYCO_END_SEND) {
			*role = EXR_PRODUCER;
			*index = pos_in(c->senders, c->nsenders, pi);
		} else {
			*role = EXR_CONSUMER;
		}
		break;
	case MYCO_LANG_SAMPLE:
		if (e->role == MYCO_END_SEND) {
			*role = EXR_WRITER;
		} else {
			*role = EXR_READER;
			*index = pos_in(c->receivers, c->nreceivers, pi);
		}
		break;
	default:
		if (e->role == MYCO_END_SERVE) {
			*role = EXR_SERVER;
		} else {
			*role = EXR_CLIENT;
			*index = pos_in(c->clients, c->nclients, pi);
		}
		break;
	}
}

int myco__ex_chans_create(struct ex_system *s)
{
	int rc = 0;

	for (size_t i = 0; i < s->nchans; i++) {
		const myco_channel_t *c = s->chans[i].m;
		struct ex_chan_spec sp = { .name = c->name };
		switch (c->kind) {
		case MYCO_LANG_QUEUE:
			sp.kind = EXC_QUEUE;
			sp.msg_size = c->msg_size;
			sp.depth = c->depth;
			sp.policy = c->overflow == MYCO_OVERFLOW_REJECT ? EXP_REJECT :
				    c->overflow == MYCO_OVERFLOW_DROP_OLDEST ? EXP_DROP_OLDEST :
				    EXP_BLOCK;
			sp.producers = (uint32_t)c->nsenders;
			break;
		case MYCO_LANG_SAMPLE:
			sp.kind = EXC_SAMPLE;
			sp.msg_size = c->msg_size;
			sp.policy = EXP_BLOCK;
			sp.readers = (uint32_t)c->nreceivers;
			sp.refresh_ns = c->refresh_ns;
			break;
		default:
			sp.kind = EXC_CALL;
			sp.msg_size = c->request_size > c->reply_size ? c->request_size : c->reply_size;
			sp.depth = c->depth;
			sp.policy = EXP_REJECT;
			sp.clients = (uint32_t)c->nclients;
			sp.call_timeout_ns = c->timeout_ns;
			break;
		}
		if (sp.msg_size == 0)
			sp.msg_size = 8;
		rc = myco__ex_chan_create(&sp, &s->chans[i].owner);
		if (rc < 0) {
			myco__ex_event(s, NULL, "error", -1, -1,
				       "channel %s: create failed: %s", c->name, myco_strerror(rc));
			goto out;
		}
	}
	/* Per partition: fds and manifest. */
	for (size_t pi = 0; pi < s->nparts; pi++) {
		struct ex_part *p = &s->parts[pi];
		size_t used = 0;
		p->nfds = 0;
		p->caps[0] = 0;
		for (size_t k = 0; k < p->m->nends; k++) {
			const myco_end_t *e = &p->m->ends[k];
			const myco_channel_t *c = &s->model->channels[e->channel];
			enum ex_crole role;
			uint32_t index;
			int fds[EX_MAX_FDS];
			end_role(c, e, (uint32_t)pi, &role, &index);
			int n = myco__ex_chan_cap_fds(s->chans[e->channel].owner, role, index,
						      fds, EX_MAX_FDS);
			if (n < 0) {
				rc = n;
				myco__ex_event(s, p, "error", -1, -1, "channel %s: capability: %s",
					       c->name, myco_strerror(rc));
				goto out;
			}
			if (p->nfds + (size_t)n > EX_MAX_FDS) {
				rc = -E2BIG;
				goto out;
			}
			int w = snprintf(p->caps + used, sizeof(p->caps) - used, "%s%s:%d:%u:",
					 used ? ";" : "", c->name, (int)role, index);
			if (w < 0 || (size_t)w >= sizeof(p->caps) - used) {
				rc = -E2BIG;
				goto out;
			}
			used += (size_t)w;
			for (int f = 0; f < n; f++) {
				p->fds[p->nfds++] = fds[f];
				w = snprintf(p->caps + used, sizeof(p->caps) - used, "%s%d",
					     f ? "," : "", fds[f]);
				if (w < 0 || (size_t)w >= sizeof(p->caps) - used) {
					rc = -E2BIG;
					goto out;
				}
				used += (size_t)w;
			}
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
		enum ex_crole role;
		uint32_t index;
		end_role(c, e, p->idx, &role, &index);
		if (!s->chans[e->channel].owner)
			continue;
		int r = myco__ex_chan_recover(s->chans[e->channel].owner, role, index);
		if (r < 0) {
			myco__ex_event(s, p, "chan-recover", -1, -1, "channel %s: %s",
				       c->name, myco_strerror(r));
			rc = r;
		}
	}
	return rc;
}

void myco__ex_chans_destroy(struct ex_system *s)
{
	for (size_t i = 0; i < s->nchans; i++) {
		if (s->chans[i].owner)
			myco__ex_chan_close(s->chans[i].owner);
		s->chans[i].owner = NULL;
	}
}
