/*
 * graph.c: Graphviz dot of a system (`myco graph`): partitions are boxes
 * (grouped into clusters by supervision group), channels are edges from
 * sender to receiver (queue: solid, sample: dashed, call: client -> server,
 * bold).  Not for: rendering (the `dot` binary does that for --svg).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "lang_int.h"

static void node(FILE *f, const myco_partition_t *p, unsigned ind)
{
	fprintf(f, "%*s\"%s\" [label=\"%s\\n", ind, "", p->name, p->name);
	if (p->mode == MYCO_MODE_BUDGET)
		fprintf(f, "budget %" PRIu64 "/%" PRIu64 " us", p->runtime_ns / 1000,
			p->period_ns / 1000);
	else if (p->mode == MYCO_MODE_FRAME)
		fputs("frame", f);
	else
		fputs("best effort", f);
	fputs("\"];\n", f);
}

int myco_lang_graph_dot(const myco_system_t *sys, FILE *f)
{
	if (!sys || !f)
		return -EINVAL;
	fprintf(f, "digraph \"%s\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans\"];\n"
		"  edge [fontname=\"sans\", fontsize=10];\n", sys->name);
	for (size_t g = 0; g < sys->ngroups; g++) {
		const myco_group_t *gr = &sys->groups[g];
		fprintf(f, "  subgraph \"cluster_%s\" {\n    label=\"%s (%s)\";\n    style=rounded;\n",
			gr->name, gr->name, myco_strategy_name(gr->strategy));
		for (size_t i = 0; i < gr->nmembers; i++)
			node(f, &sys->partitions[gr->members[i]], 4);
		fputs("  }\n", f);
	}
	for (size_t i = 0; i < sys->npartitions; i++)
		if (sys->partitions[i].group == MYCO_LANG_NONE)
			node(f, &sys->partitions[i], 2);
	for (size_t i = 0; i < sys->nchannels; i++) {
		const myco_channel_t *c = &sys->channels[i];
		if (c->kind == MYCO_LANG_CALL) {
			if (c->server == MYCO_LANG_NONE)
				continue;
			for (size_t k = 0; k < c->nclients; k++)
				fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s\\n%s -> %s\", style=bold];\n",
					sys->partitions[c->clients[k]].name,
					sys->partitions[c->server].name, c->name,
					sys->msgs[c->request].name, sys->msgs[c->reply].name);
			continue;
		}
		for (size_t s = 0; s < c->nsenders; s++)
			for (size_t r = 0; r < c->nreceivers; r++)
				fprintf(f, "  \"%s\" -> \"%s\" [label=\"%s\\n%s %s\"%s];\n",
					sys->partitions[c->senders[s]].name,
					sys->partitions[c->receivers[r]].name, c->name,
					myco_lang_chan_kind_name(c->kind), sys->msgs[c->msg].name,
					c->kind == MYCO_LANG_SAMPLE ? ", style=dashed" : "");
	}
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}
