/*
 * registry.c: the service registry.  A service is what a partition
 * declares with `serve NAME;`: a call channel or an HTTP `service` (the
 * language keeps both in one namespace, E021).  Clients never hold an
 * instance: a call client holds the channel region, an HTTP client
 * connects to the listening socket, and both are owned by the executive
 * for the system's life.  So the binding client -> service is fixed, and
 * the registry's one mutable binding is service -> instance, which changes
 * exactly at restart_one() (supervise.c): the dead or quarantined
 * instance's channel ends are recovered (myco_chan_recover) and the
 * standby is activated with one store and FUTEX_WAKE into the same server
 * slot.  That is the atomic switch: before it the slot belongs to the old
 * instance, after it to the new, and requests arriving in between wait in
 * the region (or the socket's backlog).  Requests the old instance had
 * received but not marked done stay in the ring and are handed to the
 * replacement: retried, at least once (clients drop duplicate replies by
 * correlation id); they are counted per switch as `inflight_retried`.
 * A call channel with `inflight fail;` instead has them answered
 * -ECONNRESET by the executive in the server's place before the
 * replacement attaches (myco_chan_owner_fail_calls()): counted as
 * `inflight_failed`; the replacement never sees them.
 * A call client waiting longer than the channel's `timeout` gets
 * -ETIMEDOUT from myco_chan_call(): the clear error when no replacement
 * answers in time.
 * Not for: making the switch (supervise.c), deciding it (heal.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "exec_int.h"
#include "box_glue.h"
#include "heal.h"

struct svc {
	const char *name;
	const char *kind;          /* "call" | "http" */
	uint32_t chan;             /* call: model channel index */
	uint32_t server;           /* partition index */
	pid_t pid;                 /* instance bound now (0 = none yet) */
	uint64_t generation;       /* switches so far + 1 once bound */
	uint64_t switches, retried, failed;
	uint64_t pend_failed;      /* failed at the switch in progress */
	uint64_t pend_handed;      /* left for the replacement at that switch */
	bool fail;                 /* call: `inflight fail;` */
	uint64_t last_switch_ns;
};

struct myco__registry {
	struct svc *v;
	size_t n;
};

int myco__ex_registry_open(struct ex_system *s, struct myco__registry **out)
{
	const myco_system_t *m = s->model;
	struct myco__registry *r = calloc(1, sizeof *r);
	size_t cap = m->nchannels + m->nservices;

	if (!r || !(r->v = calloc(cap ? cap : 1, sizeof *r->v))) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nchannels; i++) {
		if (m->channels[i].kind != MYCO_LANG_CALL)
			continue;
		for (size_t pi = 0; pi < m->npartitions; pi++)
			for (size_t k = 0; k < m->partitions[pi].nends; k++) {
				const myco_end_t *e = &m->partitions[pi].ends[k];
				if (e->channel == i && e->role == MYCO_END_SERVE)
					r->v[r->n++] = (struct svc){ .name = m->channels[i].name,
						.kind = "call", .chan = (uint32_t)i, .server = (uint32_t)pi,
						.fail = m->channels[i].inflight == MYCO_INFLIGHT_FAIL };
			}
	}
	for (size_t i = 0; i < m->nservices; i++)
		if (m->services[i].server < s->nparts)
			r->v[r->n++] = (struct svc){ .name = m->services[i].name, .kind = "http",
				.chan = MYCO_LANG_NONE, .server = m->services[i].server };
	*out = r;
	return 0;
}

void myco__ex_registry_close(struct myco__registry *r)
{
	if (!r)
		return;
	free(r->v);
	free(r);
}

static void bind_first(struct ex_system *s, struct svc *v)
{
	struct ex_part *p = &s->parts[v->server];
	if (!v->generation && p->act.pid && !p->act.standby) {
		v->pid = myco__ex_box_prog(&p->act);
		v->generation = 1;
	}
}

void myco__ex_registry_release(struct ex_system *s, struct ex_part *p)
{
	struct myco__registry *r = myco__ex_health_registry(s);

	/* what the replacement will be handed, counted before it runs */
	for (size_t i = 0; r && i < r->n; i++) {
		struct svc *v = &r->v[i];
		myco_chan_stats_t st;
		v->pend_handed = 0;
		if (v->server == p->idx && v->chan != MYCO_LANG_NONE && !v->fail &&
		    s->chan_owners[v->chan] &&
		    myco_chan_owner_stats(s->chan_owners[v->chan], &st) == 0)
			v->pend_handed = st.pending;
	}
	for (size_t k = 0; k < p->m->nends; k++) {
		const myco_end_t *e = &p->m->ends[k];
		const myco_channel_t *c = &s->model->channels[e->channel];
		uint64_t failed = 0, kept = 0;

		if (e->role != MYCO_END_SERVE || c->kind != MYCO_LANG_CALL ||
		    c->inflight != MYCO_INFLIGHT_FAIL || !s->chan_owners[e->channel])
			continue;
		int rc = myco_chan_owner_fail_calls(s->chan_owners[e->channel], -ECONNRESET,
						    &failed, &kept);
		if (rc < 0)
			myco__ex_event(s, p, "chan-recover", -1, -1, "channel %s: failing in-flight "
				       "calls: %s", c->name, myco_strerror(rc));
		for (size_t i = 0; r && i < r->n; i++)
			if (r->v[i].chan == e->channel && r->v[i].server == p->idx) {
				r->v[i].pend_failed = failed;
				r->v[i].pend_handed = kept;
			}
	}
}

void myco__ex_registry_switched(struct ex_system *s, struct ex_part *p, bool standby)
{
	struct myco__registry *r = myco__ex_health_registry(s);
	uint64_t now = myco_now();

	for (size_t i = 0; r && i < r->n; i++) {
		struct svc *v = &r->v[i];
		if (v->server != p->idx)
			continue;
		pid_t old = v->pid;
		uint64_t inflight = v->pend_handed;
		v->pend_handed = 0;
		v->pid = myco__ex_box_prog(&p->act);
		v->generation = v->generation ? v->generation + 1 : 2;   /* the first was 1 */
		v->switches++;
		v->retried += inflight;
		v->failed += v->pend_failed;
		v->last_switch_ns = now;
		char failed[96] = "";
		if (v->fail)
			snprintf(failed, sizeof failed, "%llu in-flight calls failed (ECONNRESET), ",
				 (unsigned long long)v->pend_failed);
		v->pend_failed = 0;
		myco__ex_event(s, p, "switch", -1, -1,
			"service %s: pid %d -> pid %d (generation %llu, %s), %s%llu in-flight %s "
			"handed to the replacement", v->name, (int)old, (int)v->pid,
			(unsigned long long)v->generation, standby ? "standby" : "spawned", failed,
			(unsigned long long)inflight, !strcmp(v->kind, "call") ? "calls" : "requests");
	}
}

json_t *myco__ex_registry_json(struct ex_system *s)
{
	struct myco__registry *r = myco__ex_health_registry(s);
	json_t *a = json_array();

	for (size_t i = 0; a && r && i < r->n; i++) {
		struct svc *v = &r->v[i];
		struct ex_part *p = &s->parts[v->server];
		bind_first(s, v);
		const char *state = p->quar.pid && !p->act.pid ? "quarantined"
				  : p->state == EX_RUNNING ? "serving"
				  : p->state == EX_RESTARTING ? "switching"
				  : myco__ex_state_name(p->state);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:i,s:I,s:s,s:I,s:s,s:I,s:I,s:I}",
			"name", v->name, "kind", v->kind, "partition", p->name,
			"pid", (int)(p->act.pid ? myco__ex_box_prog(&p->act) : 0),
			"generation", (json_int_t)v->generation, "state", state,
			"switches", (json_int_t)v->switches,
			"inflight", !strcmp(v->kind, "call") ? (v->fail ? "fail" : "retry") : "retry",
			"inflight_retried", (json_int_t)v->retried,
			"inflight_failed", (json_int_t)v->failed,
			"last_switch_ns", (json_int_t)v->last_switch_ns));
	}
	return a ? a : json_array();
}
