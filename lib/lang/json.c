/*
 * json.c: the checked model as one JSON document (`myco check --dump-json`),
 * for tools written in other languages.  Indices refer to the arrays of the
 * same document, exactly as in include/myco/lang.h; units are ns and bytes.
 * Not for: parsing JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "lang_int.h"

static void pos(FILE *f, myco_pos_t p)
{
	fputs("\"pos\":{\"file\":", f);
	myco__json_str(f, p.file ? p.file : "");
	fprintf(f, ",\"line\":%u,\"col\":%u}", p.line, p.col);
}

static void idx(FILE *f, uint32_t v)
{
	if (v == MYCO_LANG_NONE)
		fputs("null", f);
	else
		fprintf(f, "%u", v);
}

static void idxs(FILE *f, const uint32_t *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%u", i ? "," : "", v[i]);
	fputc(']', f);
}

static void strs(FILE *f, const char *const *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		myco__json_str(f, v[i]);
	}
	fputc(']', f);
}

/* A field's JSON constraints (only when it has some):
 * "constraints":{"required":true,"min":1,"max":5,"min_len":1,"pattern":"..."} */
static void constraints(FILE *f, const myco_field_t *x)
{
	const char *sep = "";
	fputs(",\"constraints\":{", f);
	if (x->json & MYCO_FIELD_REQUIRED) {
		fputs("\"required\":true", f);
		sep = ",";
	}
	if (x->json & MYCO_FIELD_NULLABLE) {
		fprintf(f, "%s\"nullable\":true", sep);
		sep = ",";
	}
	if (x->json & MYCO_FIELD_MIN) {
		fprintf(f, "%s\"min\":%.17g", sep, x->min);
		sep = ",";
	}
	if (x->json & MYCO_FIELD_MAX) {
		fprintf(f, "%s\"max\":%.17g", sep, x->max);
		sep = ",";
	}
	if (x->json & MYCO_FIELD_MIN_LEN) {
		fprintf(f, "%s\"min_len\":%u", sep, x->min_len);
		sep = ",";
	}
	if (x->json & MYCO_FIELD_PATTERN) {
		fprintf(f, "%s\"pattern\":", sep);
		myco__json_str(f, x->pattern);
	}
	fputc('}', f);
}

static void services(FILE *f, const myco_system_t *sys)
{
	fputs("],\n\"services\":[", f);
	for (size_t i = 0; i < sys->nservices; i++) {
		const myco_service_t *s = &sys->services[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, s->name);
		fputs(",\"server\":", f);
		idx(f, s->server);
		fputs(",\"prefix\":", f);
		if (s->prefix)
			myco__json_str(f, s->prefix);
		else
			fputs("null", f);
		fputs(",\"cors\":", f);
		strs(f, s->origins, s->norigins);
		fprintf(f, ",\"max_body\":%" PRIu64 ",\"routes\":[", s->max_body);
		for (size_t j = 0; j < s->nroutes; j++) {
			const myco_route_t *r = &s->routes[j];
			fprintf(f, "%s\n  {\"method\":\"%s\",\"path\":", j ? "," : "",
				myco_http_method_name(r->method));
			myco__json_str(f, r->path);
			fputs(",\"handler\":", f);
			myco__json_str(f, r->handler);
			fputs(",\"params\":[", f);
			for (size_t k = 0; k < r->nparams; k++) {
				const myco_route_param_t *p = &r->params[k];
				fprintf(f, "%s{\"name\":", k ? "," : "");
				myco__json_str(f, p->name);
				fprintf(f, ",\"type\":\"%s\",\"length\":%u,\"enum\":",
					p->rest ? "path" : myco_ftype_name(p->type), p->length);
				idx(f, p->enum_type);
				fputc('}', f);
			}
			fputs("],\"query\":", f);
			idx(f, r->query);
			fputs(",\"request\":", f);
			idx(f, r->request);
			fputs(",\"response\":", f);
			idx(f, r->response);
			fprintf(f, ",\"status\":%u,", r->status ? r->status : 200);
			pos(f, r->pos);
			fputc('}', f);
		}
		fputs("],", f);
		pos(f, s->pos);
		fputc('}', f);
	}
}

int myco_lang_dump_json(const myco_system_t *sys, FILE *f)
{
	if (!sys || !f)
		return -EINVAL;
	fputs("{\"name\":", f);
	myco__json_str(f, sys->name);
	fputs(",\"path\":", f);
	myco__json_str(f, sys->path ? sys->path : "");
	fprintf(f, ",\"machine\":{\"cores\":%u,\"memory\":%" PRIu64 "},", sys->machine_cores,
		sys->machine_memory);
	/* metrics: null, or {"addr": "127.0.0.1", "port": 9100}; shield: cores */
	fputs("\"metrics\":", f);
	if (sys->metrics_port) {
		fputs("{\"addr\":", f);
		myco__json_str(f, sys->metrics_addr ? sys->metrics_addr : "");
		fprintf(f, ",\"port\":%u},", sys->metrics_port);
	} else {
		fputs("null,", f);
	}
	fputs("\"dashboard\":", f);
	if (sys->dashboard_port) {
		fputs("{\"addr\":", f);
		myco__json_str(f, sys->dashboard_addr ? sys->dashboard_addr : "");
		fprintf(f, ",\"port\":%u,\"actions\":[", sys->dashboard_port);
		static const char *const an[] = { "kill", "restart", "stop", "chaos" };
		for (unsigned i = 0, n = 0; i < 4; i++)
			if (sys->dashboard_actions & (1u << i))
				fprintf(f, "%s\"%s\"", n++ ? "," : "", an[i]);
		fputs("]},", f);
	} else {
		fputs("null,", f);
	}
	fputs("\"shield\":", f);
	idxs(f, sys->shield_cores, sys->nshield);
	fputc(',', f);
	pos(f, sys->pos);
	fputs(",\n\"enums\":[", f);
	for (size_t i = 0; i < sys->nenums; i++) {
		const myco_enum_t *e = &sys->enums[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, e->name);
		fprintf(f, ",\"base\":\"%s\",\"size\":%u,", myco_ftype_name(e->base), e->size);
		pos(f, e->pos);
		fputs(",\"values\":[", f);
		for (size_t j = 0; j < e->nvalues; j++) {
			fprintf(f, "%s{\"name\":", j ? "," : "");
			myco__json_str(f, e->values[j].name);
			fprintf(f, ",\"value\":%" PRIu64 "}", e->values[j].value);
		}
		fputs("]}", f);
	}
	fputs("],\n\"messages\":[", f);
	for (size_t i = 0; i < sys->nmsgs; i++) {
		const myco_msgtype_t *m = &sys->msgs[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, m->name);
		fprintf(f, ",\"size\":%u,\"align\":%u,", m->size, m->align);
		pos(f, m->pos);
		fputs(",\"fields\":[", f);
		for (size_t j = 0; j < m->nfields; j++) {
			const myco_field_t *x = &m->fields[j];
			fprintf(f, "%s{\"name\":", j ? "," : "");
			myco__json_str(f, x->name);
			fprintf(f, ",\"ordinal\":%u,\"type\":\"%s\",\"offset\":%u,\"size\":%u,"
				"\"elem_size\":%u,\"align\":%u,\"array_len\":%u,\"length\":%u,\"msg\":",
				x->ordinal, myco_ftype_name(x->type), x->offset, x->size, x->elem_size,
				x->align, x->array_len, x->length);
			idx(f, x->msg);
			fputs(",\"enum\":", f);
			idx(f, x->enum_type);
			if (x->json)
				constraints(f, x);
			fputc(',', f);
			pos(f, x->pos);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("],\n\"channels\":[", f);
	for (size_t i = 0; i < sys->nchannels; i++) {
		const myco_channel_t *c = &sys->channels[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, c->name);
		fprintf(f, ",\"kind\":\"%s\",\"msg\":", myco_lang_chan_kind_name(c->kind));
		idx(f, c->msg);
		fprintf(f, ",\"msg_size\":%u,\"depth\":%u,\"overflow\":\"%s\",\"refresh_ns\":%" PRIu64
			",\"request\":", c->msg_size, c->depth, myco_overflow_name(c->overflow),
			c->refresh_ns);
		idx(f, c->request);
		fprintf(f, ",\"request_size\":%u,\"reply\":", c->request_size);
		idx(f, c->reply);
		fprintf(f, ",\"reply_size\":%u,\"timeout_ns\":%" PRIu64 ",\"inflight\":\"%s\","
			"\"senders\":", c->reply_size, c->timeout_ns, myco_inflight_name(c->inflight));
		idxs(f, c->senders, c->nsenders);
		fputs(",\"receivers\":", f);
		idxs(f, c->receivers, c->nreceivers);
		fputs(",\"receiver\":", f);
		idx(f, c->receiver);
		fputs(",\"server\":", f);
		idx(f, c->server);
		fputs(",\"clients\":", f);
		idxs(f, c->clients, c->nclients);
		fputc(',', f);
		pos(f, c->pos);
		fputc('}', f);
	}
	fputs("],\n\"partitions\":[", f);
	for (size_t i = 0; i < sys->npartitions; i++) {
		const myco_partition_t *p = &sys->partitions[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, p->name);
		fputs(",\"program\":", f);
		myco__json_str(f, p->program);
		fputs(",\"argv\":", f);
		strs(f, p->argv, p->argc);
		fputs(",\"env\":", f);
		strs(f, p->env, p->nenv);
		fputs(",\"cores\":", f);
		idxs(f, p->cores, p->ncores);
		fprintf(f, ",\"core_mask\":%" PRIu64 ",\"mode\":\"%s\",\"runtime_ns\":%" PRIu64
			",\"period_ns\":%" PRIu64 ",\"memory\":%" PRIu64 ",\"pids_max\":%u"
			",\"cache_ways\":%u,\"scheduler\":", p->core_mask, myco_mode_name(p->mode),
			p->runtime_ns, p->period_ns, p->memory_bytes, p->pids_max, p->cache_ways);
		if (p->scheduler)
			myco__json_str(f, p->scheduler);
		else
			fputs("null", f);
		/* scheduling beyond the reservation (docs/scheduling.md):
		 * "elastic":{min,max} or null, "bids":[{class,bid,income,deadline_ns}] */
		if (p->elastic_max)
			fprintf(f, ",\"elastic\":{\"min\":%u,\"max\":%u}", p->elastic_min,
				p->elastic_max);
		else
			fputs(",\"elastic\":null", f);
		fputs(",\"bids\":[", f);
		for (size_t j = 0; j < p->nbids; j++) {
			fprintf(f, "%s{\"class\":", j ? "," : "");
			myco__json_str(f, p->bids[j].task_class);
			fprintf(f, ",\"bid\":%" PRIu64 ",\"income\":%" PRIu64
				",\"deadline_ns\":%" PRIu64 "}", p->bids[j].bid, p->bids[j].income,
				p->bids[j].deadline_ns);
		}
		fputs("]", f);
		fputs(",\"ends\":[", f);
		for (size_t j = 0; j < p->nends; j++)
			fprintf(f, "%s{\"channel\":%u,\"role\":\"%s\"}", j ? "," : "",
				p->ends[j].channel, myco_end_role_name(p->ends[j].role));
		fputs("],\"ports\":[", f);
		for (size_t j = 0; j < p->nports; j++)
			fprintf(f, "%s%u", j ? "," : "", p->ports[j]);
		fputs("],\"paths\":[", f);
		for (size_t j = 0; j < p->npaths; j++) {
			fprintf(f, "%s{\"path\":", j ? "," : "");
			myco__json_str(f, p->paths[j].path);
			fprintf(f, ",\"rw\":%s}", p->paths[j].rw ? "true" : "false");
		}
		fprintf(f, "],\"net\":%s,\"restart\":\"%s\",\"heartbeat_ns\":%" PRIu64
			",\"misses\":%u,\"ready\":%s,\"group\":", p->net ? "true" : "false",
			myco_restart_name(p->restart), p->heartbeat_ns, p->misses,
			p->ready ? "true" : "false");
		idx(f, p->group);
		/* health: "slos":[{signal,quantile,limit,percent}], "heal":{...} */
		fputs(",\"slos\":[", f);
		for (size_t j = 0; j < p->nslos; j++) {
			static const char *const sn[MYCO_SIG_COUNT] = { "heartbeat", "latency",
				"queue", "stall", "memory", "cpu", "errors", "restarts" };
			const myco_slo_t *o = &p->slos[j];
			fprintf(f, "%s{\"signal\":\"%s\",\"quantile\":%u,\"limit\":%.17g,"
				"\"percent\":%s}", j ? "," : "",
				(unsigned)o->signal < MYCO_SIG_COUNT ? sn[o->signal] : "?",
				o->quantile, o->limit, o->percent ? "true" : "false");
		}
		{
			static const char *const hn[] = { "restart", "quarantine", "shed",
							   "escalate", "observe" };
			fprintf(f, "],\"heal\":{\"action\":\"%s\",\"ahead_ns\":%" PRIu64
				",\"max\":%u,\"within_ns\":%" PRIu64 "}",
				(unsigned)p->heal < 5 ? hn[p->heal] : "?", p->heal_ahead_ns,
				p->heal_max, p->heal_within_ns);
		}
		/* the gateway section, lowered to myco-gate's text, or null */
		fputs(",\"gateway\":", f);
		if (p->gateway)
			myco__json_str(f, p->gateway);
		else
			fputs("null", f);
		/* run as: null, or {"user": name or number, "group": name,
		 * number or null (the user's primary group)} */
		fputs(",\"run_as\":", f);
		if (!p->run_as) {
			fputs("null", f);
		} else {
			fputs("{\"user\":", f);
			if (p->user_name)
				myco__json_str(f, p->user_name);
			else
				fprintf(f, "%u", p->uid);
			fputs(",\"group\":", f);
			if (!p->run_group)
				fputs("null", f);
			else if (p->group_name)
				myco__json_str(f, p->group_name);
			else
				fprintf(f, "%u", p->gid);
			fputc('}', f);
		}
		fputc(',', f);
		pos(f, p->pos);
		fputc('}', f);
	}
	fputs("],\n\"groups\":[", f);
	for (size_t i = 0; i < sys->ngroups; i++) {
		const myco_group_t *g = &sys->groups[i];
		fprintf(f, "%s\n {\"name\":", i ? "," : "");
		myco__json_str(f, g->name);
		fprintf(f, ",\"strategy\":\"%s\",\"max_restarts\":%u,\"within_ns\":%" PRIu64
			",\"members\":", myco_strategy_name(g->strategy), g->max_restarts,
			g->within_ns);
		idxs(f, g->members, g->nmembers);
		fputc(',', f);
		pos(f, g->pos);
		fputc('}', f);
	}
	services(f, sys);
	fprintf(f, "],\n\"schedule\":{\"major_ns\":%" PRIu64 ",\"cores\":[", sys->schedule.major_ns);
	for (size_t i = 0; i < sys->schedule.ncores; i++) {
		const myco_core_sched_t *c = &sys->schedule.cores[i];
		fprintf(f, "%s\n {\"core\":%u,\"windows\":[", i ? "," : "", c->core);
		for (size_t j = 0; j < c->nwindows; j++)
			fprintf(f, "%s{\"offset_ns\":%" PRIu64 ",\"duration_ns\":%" PRIu64
				",\"partition\":%u}", j ? "," : "", c->windows[j].offset_ns,
				c->windows[j].duration_ns, c->windows[j].partition);
		fputs("]}", f);
	}
	fputs("]}}\n", f);
	return ferror(f) ? -EIO : 0;
}
