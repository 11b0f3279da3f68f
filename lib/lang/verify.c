/*
 * verify.c: the checks that need the whole system lowered: every channel's
 * ends (a queue has one receiver, a sample channel one writer, a call
 * channel one server; missing senders and clients are warnings), cycles of
 * blocking calls, frame-mode partitions without a window, CPU utilisation
 * per core and in total against the machine, and the sum of memory limits.
 * Also the host resources: the metrics and dashboard ports against the
 * partitions' ports and each other,
 * shielded cores against the machine.
 * Not for: checks of one statement (its handler does them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void myco__check_channels(ctx_t *c)
{
	for (size_t pi = 0; pi < c->nparts; pi++) {
		bpart_t *bp = &c->parts[pi];
		for (size_t e = 0; e < bp->nends; e++) {
			bchan_t *b = &c->chans[bp->ends[e].channel];
			myco_pos_t pos = bp->ends[e].pos;
			uint32_t u = (uint32_t)pi;
			switch (bp->ends[e].role) {
			case MYCO_END_SEND:
				if (b->nsnd < 2)
					b->snd_pos[b->nsnd] = pos;
				if (MYCO__PUSH(b->snd, b->nsnd, b->csnd, u))
					c->oom = true;
				break;
			case MYCO_END_RECV:
				if (b->nrcv < 2)
					b->rcv_pos[b->nrcv] = pos;
				if (MYCO__PUSH(b->rcv, b->nrcv, b->crcv, u))
					c->oom = true;
				break;
			case MYCO_END_CALL:
				if (MYCO__PUSH(b->cli, b->ncli, b->ccli, u))
					c->oom = true;
				break;
			case MYCO_END_SERVE:
				if (b->nserve < 2)
					b->serve_pos[b->nserve] = pos;
				if (b->nserve == 0)
					b->c.server = u;
				b->nserve++;
				break;
			}
		}
	}
	for (size_t i = 0; i < c->nchans; i++) {
		bchan_t *b = &c->chans[i];
		myco_channel_t *ch = &b->c;
		uint32_t nl = (uint32_t)strlen(ch->name);
		char h[300];
		if (b->bad || b->unsure)
			continue;
		if (ch->kind == MYCO_LANG_QUEUE) {
			if (b->nrcv == 0) {
				snprintf(h, sizeof(h), "add `recv %s;` to the partition that consumes it", ch->name);
				ERR(c, "E051", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "queue `%s` has no receiver", ch->name);
			} else if (b->nrcv > 1) {
				snprintf(h, sizeof(h), "`%s` already receives it (line %u); a queue has one consumer, "
					 "use a sample channel or one queue per consumer",
					 c->parts[b->rcv[0]].p.name, b->rcv_pos[0].line);
				ERR(c, "E052", b->rcv_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "queue `%s` has %zu receivers", ch->name, b->nrcv);
			} else {
				ch->receiver = b->rcv[0];
			}
		} else if (ch->kind == MYCO_LANG_SAMPLE) {
			if (b->nsnd > 1) {
				snprintf(h, sizeof(h), "`%s` already writes it (line %u); a sample channel has one writer",
					 c->parts[b->snd[0]].p.name, b->snd_pos[0].line);
				ERR(c, "E056", b->snd_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "sample channel `%s` has %zu writers", ch->name, b->nsnd);
			}
			if (b->nrcv == 0) {
				snprintf(h, sizeof(h), "add `recv %s;` to a partition that reads it", ch->name);
				ERR(c, "E058", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "sample channel `%s` has no reader", ch->name);
			}
		} else {
			if (b->nserve == 0) {
				snprintf(h, sizeof(h), "add `serve %s;` to the partition that answers it", ch->name);
				ERR(c, "E054", ch->pos, nl, myco__arena_strdup(&c->pa, h),
				    "call channel `%s` has no server", ch->name);
			} else if (b->nserve > 1) {
				snprintf(h, sizeof(h), "`%s` already serves it (line %u); a call channel has one server",
					 c->parts[ch->server].p.name, b->serve_pos[0].line);
				ERR(c, "E055", b->serve_pos[1], nl, myco__arena_strdup(&c->pa, h),
				    "call channel `%s` has %u servers", ch->name, b->nserve);
			}
			if (b->ncli == 0)
				WARN(c, "W001", ch->pos, nl, "add `call NAME;` to a client partition, or remove it",
				     "call channel `%s` has no client", ch->name);
		}
		if (ch->kind != MYCO_LANG_CALL && b->nsnd == 0) {
			snprintf(h, sizeof(h), "add `send %s;` to the partition that produces it", ch->name);
			WARN(c, "W001", ch->pos, nl, myco__arena_strdup(&c->pa, h),
			     "channel `%s` has no sender", ch->name);
		}
	}
}

/* Cycles in the "calls" graph (client -> server), iterative DFS. */
void myco__check_call_cycles(ctx_t *c)
{
	size_t n = c->nparts;
	uint8_t *color = calloc(n, 1);
	size_t *stk = malloc((n + 1) * sizeof(*stk));
	size_t *eit = malloc((n + 1) * sizeof(*eit));
	uint32_t *parent = malloc((n + 1) * sizeof(*parent));
	myco_pos_t *via = malloc((n + 1) * sizeof(*via));
	int reported = 0;
	if (!color || !stk || !eit || !parent || !via) {
		c->oom = true;
		goto out;
	}
	for (size_t root = 0; root < n && reported < 10; root++) {
		if (color[root])
			continue;
		size_t sp = 0;
		stk[sp] = root;
		eit[sp] = 0;
		color[root] = 1;
		while (sp != (size_t)-1) {
			size_t u = stk[sp];
			bpart_t *bp = &c->parts[u];
			bool pushed = false;
			while (eit[sp] < bp->nends) {
				myco_end_t *e = &bp->ends[eit[sp]++];
				if (e->role != MYCO_END_CALL)
					continue;
				uint32_t v = c->chans[e->channel].c.server;
				if (v == MYCO_LANG_NONE || c->chans[e->channel].bad)
					continue;
				via[sp] = e->pos;
				if (color[v] == 1) {
					/* cycle: stack from v to u, then v */
					char chain[512] = "";
					size_t from = 0;
					for (size_t j = 0; j <= sp; j++)
						if (stk[j] == v)
							from = j;
					for (size_t j = from; j <= sp; j++) {
						strncat(chain, c->parts[stk[j]].p.name, sizeof(chain) - strlen(chain) - 1);
						strncat(chain, " -> ", sizeof(chain) - strlen(chain) - 1);
					}
					strncat(chain, c->parts[v].p.name, sizeof(chain) - strlen(chain) - 1);
					ERR(c, "E070", e->pos, (uint32_t)strlen(c->chans[e->channel].c.name),
					    "a cycle of blocking calls can deadlock; break it with a queue",
					    "calls form a cycle: %s", chain);
					reported++;
					continue;
				}
				if (color[v] == 0) {
					color[v] = 1;
					sp++;
					stk[sp] = v;
					eit[sp] = 0;
					pushed = true;
					break;
				}
			}
			if (!pushed) {
				color[u] = 2;
				sp--;
			}
		}
	}
out:
	free(color);
	free(stk);
	free(eit);
	free(parent);
	free(via);
}

void myco__check_time_and_memory(ctx_t *c, const myco_system_t *sys)
{
	double util[64] = { 0 };
	uint32_t last[64];
	double free_util = 0;
	uint64_t memsum = 0;
	bool memover = false;
	for (int i = 0; i < 64; i++)
		last[i] = MYCO_LANG_NONE;
	/* frame windows occupy their core for duration / major */
	for (size_t i = 0; i < c->sched.ncores; i++) {
		const myco_core_sched_t *cs = &c->sched.cores[i];
		for (size_t j = 0; j < cs->nwindows; j++)
			util[cs->core] += (double)cs->windows[j].duration_ns / (double)c->sched.major_ns;
	}
	for (size_t pi = 0; pi < c->nparts; pi++) {
		bpart_t *bp = &c->parts[pi];
		myco_partition_t *p = &bp->p;
		if (p->mode == MYCO_MODE_FRAME && !bp->has_window && !bp->bad) {
			ERR(c, "E063", bp->mode_pos, 5,
			    c->sched_st ? "give it a window in the schedule" : "add a schedule block with its windows",
			    "frame-mode partition `%s` has no window", p->name);
		}
		if (p->mode == MYCO_MODE_BUDGET) {
			double u = (double)p->runtime_ns / (double)p->period_ns;
			if (!p->ncores) {
				free_util += u;
			} else {
				for (size_t k = 0; k < p->ncores; k++) {
					uint32_t core = p->cores[k];
					double before = util[core];
					util[core] += u;
					if (before <= 1.0 + 1e-9 && util[core] > 1.0 + 1e-9) {
						char h[300];
						snprintf(h, sizeof(h), "the budgets (runtime/period) and frame windows on core %u add "
							 "up to more than 100%%; lower a budget or move a partition", core);
						ERR(c, "E061", bp->mode_pos, 6, myco__arena_strdup(&c->pa, h),
						    "core %u is over-committed: utilisation %.2f with `%s`", core,
						    util[core], p->name);
					}
					last[core] = (uint32_t)pi;
				}
			}
		}
		if (p->memory_bytes) {
			if (__builtin_add_overflow(memsum, p->memory_bytes, &memsum))
				memsum = UINT64_MAX;
			if (sys->machine_memory && memsum > sys->machine_memory && !memover &&
			    p->memory_bytes <= sys->machine_memory) {
				memover = true;
				ERR(c, "E068", bp->mem_pos, 1,
				    "the partitions' memory limits together exceed the machine; lower some",
				    "total partition memory exceeds the machine's memory (reached at `%s`)", p->name);
			}
		}
	}
	double total = free_util;
	for (int i = 0; i < 64; i++)
		total += util[i];
	if (sys->machine_cores && total > sys->machine_cores + 1e-9 && c->nparts) {
		myco_pos_t p = c->system->pos;
		ERR(c, "E061", p, 6, "lower budgets, or declare more cores in the machine block",
		    "total CPU utilisation %.2f exceeds the machine's %u cores", total, sys->machine_cores);
	}
	(void)last;
}

static int core_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void myco__check_host(ctx_t *c)
{
	myco_system_t *sys = c->sys;
	/* the metrics endpoint needs a port no partition listens on (they
	 * bind every address) */
	uint16_t mp = sys->metrics_port;
	if (mp && c->port_owner && c->port_owner[mp] && c->metrics_arg) {
		char h[300];
		snprintf(h, sizeof(h), "partition `%s` listens on it; the metrics endpoint needs a "
			 "port of its own", c->parts[c->port_owner[mp] - 1].p.name);
		ERR(c, "E071", c->metrics_arg->pos, c->metrics_arg->len,
		    myco__arena_strdup(&c->pa, h), "port %u is taken", mp);
	}
	/* so does the dashboard, and it cannot share the metrics port */
	uint16_t dp = sys->dashboard_port;
	if (dp && c->dashboard_arg && c->port_owner && c->port_owner[dp]) {
		char h[300];
		snprintf(h, sizeof(h), "partition `%s` listens on it; the dashboard needs a "
			 "port of its own", c->parts[c->port_owner[dp] - 1].p.name);
		ERR(c, "E071", c->dashboard_arg->pos, c->dashboard_arg->len,
		    myco__arena_strdup(&c->pa, h), "port %u is taken", dp);
	} else if (dp && dp == mp && c->dashboard_arg) {
		ERR(c, "E071", c->dashboard_arg->pos, c->dashboard_arg->len,
		    "the metrics endpoint listens on it; give the dashboard another port",
		    "port %u is taken", dp);
	}
	/* shielded cores exist, and leave one for everything else */
	uint64_t mask = 0;
	uint32_t *v = myco__arena_alloc(&c->ma, c->nshield * sizeof(*v) + 1);
	size_t n = 0;
	if (!v) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < c->nshield; i++) {
		struct shield_core *s = &c->shield[i];
		if (sys->machine_cores && s->core >= sys->machine_cores) {
			ERR(c, "E066", s->a->pos, s->a->len, "the machine block declares fewer cores",
			    "core %u does not exist on this machine (%u cores)", s->core,
			    sys->machine_cores);
			continue;
		}
		mask |= 1ull << s->core;
		v[n++] = s->core;
	}
	if (sys->machine_cores && n && n == sys->machine_cores && c->shield_st)
		ERR(c, "E069", c->shield_st->pos, 6,
		    "leave at least one core unshielded: the executive and the host's own tasks "
		    "run there", "shielding every core (%u) leaves none for the rest of the host",
		    sys->machine_cores);
	qsort(v, n, sizeof(*v), core_cmp);
	sys->shield_cores = v;
	sys->nshield = n;
	sys->shield_mask = mask;
	if (c->shield_st)
		sys->shield_pos = c->shield_st->pos;
}
