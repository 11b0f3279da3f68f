/*
 * gen_api.c: the route tables of a system's services in the shape
 * include/myco/api.h defines (the contract with the API framework in
 * svc/gate), appended by `myco gen` to the system's header:
 *
 *   - always: `#include "myco/api.h"`, a prototype per handler, a params
 *     struct per handler with path parameters (<service>_<handler>_params,
 *     what req->params points to), and `extern const myco_api_service_t
 *     <service>_service;`
 *   - in the one .c file that defines MYCO_GEN_<SYSTEM>_API before the
 *     include: the tables themselves (field descriptors of every message a
 *     route reads or answers, with the JSON constraints of their fields,
 *     enums, segments, routes, CORS, the service).
 *
 * Layouts come from the model (offsets of the generated structs, asserted
 * there); params structs use offsetof.  Not for: serving (svc/gate).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_int.h"

static const char *const api_type[] = { "MYCO_API_T_U8", "MYCO_API_T_U16", "MYCO_API_T_U32",
	"MYCO_API_T_U64", "MYCO_API_T_I8", "MYCO_API_T_I16", "MYCO_API_T_I32", "MYCO_API_T_I64",
	"MYCO_API_T_F32", "MYCO_API_T_F64", "MYCO_API_T_BOOL", "MYCO_API_T_BYTES",
	"MYCO_API_T_STRING", "MYCO_API_T_MSG", "MYCO_API_T_ENUM" };
static const char *const api_method[] = { "MYCO_API_GET", "MYCO_API_HEAD", "MYCO_API_POST",
	"MYCO_API_PUT", "MYCO_API_PATCH", "MYCO_API_DELETE", "MYCO_API_OPTIONS" };

static void cstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\%03o", ch);
		else if (ch == '?')
			fputs("\\?", f);   /* no trigraphs */
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void flags(FILE *f, uint32_t json)
{
	static const char *const n[] = { "MYCO_API_F_REQUIRED", "MYCO_API_F_MIN", "MYCO_API_F_MAX",
		"MYCO_API_F_MIN_LEN", "MYCO_API_F_PATTERN", "MYCO_API_F_NULLABLE" };
	const char *sep = "";
	if (!json) {
		fputc('0', f);
		return;
	}
	for (unsigned i = 0; i < 6; i++)
		if (json & (1u << i)) {
			fprintf(f, "%s%s", sep, n[i]);
			sep = " | ";
		}
}

/* An integer bound (whole and non-negative: the language has no minus). */
static int64_t to_i64(double v)
{
	if (v >= 9223372036854775807.0)
		return INT64_MAX;
	return (int64_t)(v + 0.5);
}

static void emit_enum(const myco_enum_t *e, FILE *f)
{
	fprintf(f, "static const char *const myco_api_enum_%s_names[] = {", e->name);
	for (size_t i = 0; i < e->nvalues; i++)
		fprintf(f, "%s \"%s\"", i ? "," : "", e->values[i].name);
	fprintf(f, " };\nstatic const uint64_t myco_api_enum_%s_values[] = {", e->name);
	for (size_t i = 0; i < e->nvalues; i++)
		fprintf(f, "%s %" PRIu64 "u", i ? "," : "", e->values[i].value);
	fprintf(f, " };\nstatic const myco_api_enum_t myco_api_enum_%s = { \"%s\", %u, %zu,\n"
		"\tmyco_api_enum_%s_names, myco_api_enum_%s_values };\n", e->name, e->name, e->size,
		e->nvalues, e->name, e->name);
}

/* The descriptor of message mi, after those of its nested messages and
 * enums (done: 1 = emitted). */
static void emit_msg(const myco_system_t *sys, uint32_t mi, unsigned char *done,
		     unsigned char *edone, FILE *f, unsigned depth)
{
	const myco_msgtype_t *m = &sys->msgs[mi];
	if (done[mi] || depth > 66)
		return;
	done[mi] = 1;
	for (size_t i = 0; i < m->nfields; i++) {
		const myco_field_t *x = &m->fields[i];
		if (x->type == MYCO_FT_MSG)
			emit_msg(sys, x->msg, done, edone, f, depth + 1);
		if (x->type == MYCO_FT_ENUM && !edone[x->enum_type]) {
			edone[x->enum_type] = 1;
			emit_enum(&sys->enums[x->enum_type], f);
		}
	}
	fprintf(f, "static const myco_api_field_t myco_api_fields_%s[] = {\n", m->name);
	for (size_t i = 0; i < m->nfields; i++) {
		const myco_field_t *x = &m->fields[i];
		fprintf(f, "\t{ .name = \"%s\", .type = %s, .offset = %u, .size = %u, .elem_size = %u,\n"
			"\t  .array_len = %u, .length = %u, .flags = ", x->name, api_type[x->type],
			x->offset, x->size, x->elem_size, x->array_len, x->length);
		flags(f, x->json);
		if (x->type == MYCO_FT_MSG)
			fprintf(f, ",\n\t  .msg = &myco_api_msg_%s", sys->msgs[x->msg].name);
		if (x->type == MYCO_FT_ENUM)
			fprintf(f, ",\n\t  .enumt = &myco_api_enum_%s", sys->enums[x->enum_type].name);
		bool flt = x->type == MYCO_FT_F32 || x->type == MYCO_FT_F64;
		if (x->json & MYCO_FIELD_MIN) {
			if (flt)
				fprintf(f, ", .min_num = %.17g", x->min);
			else
				fprintf(f, ", .min_int = %" PRId64, to_i64(x->min));
		}
		if (x->json & MYCO_FIELD_MAX) {
			if (flt)
				fprintf(f, ", .max_num = %.17g", x->max);
			else
				fprintf(f, ", .max_int = %" PRId64, to_i64(x->max));
		}
		if (x->json & MYCO_FIELD_MIN_LEN)
			fprintf(f, ", .min_len = %u", x->min_len);
		if (x->json & MYCO_FIELD_PATTERN) {
			fputs(",\n\t  .pattern = ", f);
			cstr(f, x->pattern);
		}
		fputs(" },\n", f);
	}
	fprintf(f, "};\nstatic const myco_api_msg_t myco_api_msg_%s = { \"%s\", sizeof(%s), "
		"_Alignof(%s),\n\t%zu, myco_api_fields_%s, false };\n\n", m->name, m->name, m->name,
		m->name, m->nfields, m->name);
}

/* First route of service s with the same handler (the one that names its
 * params struct). */
static size_t first_of(const myco_service_t *s, size_t j)
{
	for (size_t i = 0; i < j; i++)
		if (!strcmp(s->routes[i].handler, s->routes[j].handler))
			return i;
	return j;
}

/* Prototypes (once per handler name in the whole system), params structs
 * and the extern service declarations. */
static void emit_decls(const myco_system_t *sys, FILE *f)
{
	fputs("/* Handlers: define each in the file that defines the tables. */\n", f);
	for (size_t i = 0; i < sys->nservices; i++) {
		const myco_service_t *s = &sys->services[i];
		for (size_t j = 0; j < s->nroutes; j++) {
			const myco_route_t *r = &s->routes[j];
			bool seen = false;
			for (size_t a = 0; a <= i && !seen; a++)
				for (size_t b = 0; b < (a == i ? j : sys->services[a].nroutes); b++)
					if (!strcmp(sys->services[a].routes[b].handler, r->handler))
						seen = true;
			if (!seen)
				fprintf(f, "int %s(const myco_api_req_t *req, myco_api_resp_t *resp);\n",
					r->handler);
		}
	}
	fputc('\n', f);
	for (size_t i = 0; i < sys->nservices; i++) {
		const myco_service_t *s = &sys->services[i];
		for (size_t j = 0; j < s->nroutes; j++) {
			const myco_route_t *r = &s->routes[j];
			if (!r->nparams || first_of(s, j) != j)
				continue;
			fprintf(f, "/* Path parameters of %s %s (req->params). */\n",
				myco_http_method_name(r->method), r->path);
			fprintf(f, "typedef struct %s_%s_params {\n", s->name, r->handler);
			for (size_t k = 0; k < r->nparams; k++) {
				const myco_route_param_t *p = &r->params[k];
				if (p->type == MYCO_FT_STRING)
					fprintf(f, "\tchar %s[%u];\n", p->name, p->length);
				else if (p->type == MYCO_FT_ENUM)
					fprintf(f, "\t%s %s;\n", sys->enums[p->enum_type].name, p->name);
				else
					fprintf(f, "\t%s %s;\n", myco__gen_ctype(p->type), p->name);
			}
			fprintf(f, "} %s_%s_params;\n\n", s->name, r->handler);
		}
		fprintf(f, "/* Service %s: hand it to myco_api_create(). */\n"
			"extern const myco_api_service_t %s_service;\n\n", s->name, s->name);
	}
}

static void emit_service(const myco_system_t *sys, const myco_service_t *s, FILE *f)
{
	for (size_t j = 0; j < s->nroutes; j++) {
		const myco_route_t *r = &s->routes[j];
		if (r->nparams && first_of(s, j) == j) {
			const char *st = s->name, *h = r->handler;
			fprintf(f, "static const myco_api_field_t myco_api_fields_%s_%s_params[] = {\n", st, h);
			for (size_t k = 0; k < r->nparams; k++) {
				const myco_route_param_t *p = &r->params[k];
				fprintf(f, "\t{ .name = \"%s\", .type = %s, .offset = offsetof(%s_%s_params, %s),\n"
					"\t  .size = sizeof(((%s_%s_params *)0)->%s), "
					".elem_size = sizeof(((%s_%s_params *)0)->%s),\n"
					"\t  .length = %u, .flags = MYCO_API_F_REQUIRED",
					p->name, p->rest ? "MYCO_API_T_PATH" : api_type[p->type], st, h, p->name,
					st, h, p->name, st, h, p->name,
					p->type == MYCO_FT_STRING ? p->length : 0);
				if (p->type == MYCO_FT_ENUM)
					fprintf(f, ", .enumt = &myco_api_enum_%s", sys->enums[p->enum_type].name);
				fputs(" },\n", f);
			}
			fprintf(f, "};\nstatic const myco_api_msg_t myco_api_msg_%s_%s_params =\n"
				"\tMYCO_API_MSG(%s_%s_params, myco_api_fields_%s_%s_params);\n", st, h, st, h,
				st, h);
		}
		if (r->nsegs) {
			fprintf(f, "static const myco_api_seg_t myco_api_segs_%s_%zu[] = {", s->name, j);
			for (size_t k = 0; k < r->nsegs; k++) {
				fputs(k ? ", " : " ", f);
				if (r->segs[k].literal) {
					fputs("MYCO_API_LIT(", f);
					cstr(f, r->segs[k].literal);
					fputc(')', f);
				} else {
					fprintf(f, "MYCO_API_PARAM(%u)", r->segs[k].param);
				}
			}
			fputs(" };\n", f);
		}
	}
	fprintf(f, "static const myco_api_route_t myco_api_routes_%s[] = {\n", s->name);
	for (size_t j = 0; j < s->nroutes; j++) {
		const myco_route_t *r = &s->routes[j];
		fprintf(f, "\t{ .method = %s, .pattern = ", api_method[r->method]);
		cstr(f, r->path);
		fprintf(f, ",\n\t  .nsegs = %zu, .segs = ", r->nsegs);
		if (r->nsegs)
			fprintf(f, "myco_api_segs_%s_%zu", s->name, j);
		else
			fputs("NULL", f);
		if (r->nparams)
			fprintf(f, ",\n\t  .params = &myco_api_msg_%s_%s_params", s->name,
				s->routes[first_of(s, j)].handler);
		if (r->query != MYCO_LANG_NONE)
			fprintf(f, ",\n\t  .query = &myco_api_msg_%s", sys->msgs[r->query].name);
		if (r->request != MYCO_LANG_NONE)
			fprintf(f, ",\n\t  .request = &myco_api_msg_%s", sys->msgs[r->request].name);
		if (r->response != MYCO_LANG_NONE)
			fprintf(f, ",\n\t  .response = &myco_api_msg_%s", sys->msgs[r->response].name);
		fprintf(f, ",\n\t  .handler = %s, .name = \"%s\", .status = %u },\n", r->handler,
			r->handler, r->status);
	}
	fputs("};\n", f);
	if (s->norigins) {
		fprintf(f, "static const char *const myco_api_origins_%s[] = {", s->name);
		for (size_t i = 0; i < s->norigins; i++) {
			fputs(i ? ", " : " ", f);
			cstr(f, s->origins[i]);
		}
		fprintf(f, " };\nstatic const myco_api_cors_t myco_api_cors_%s = {\n"
			"\t.norigins = %zu, .origins = myco_api_origins_%s };\n", s->name, s->norigins,
			s->name);
	}
	fprintf(f, "const myco_api_service_t %s_service = {\n\t.abi = MYCO_API_ABI, .name = \"%s\", "
		".prefix = ", s->name, s->name);
	if (s->prefix)
		cstr(f, s->prefix);
	else
		fputs("NULL", f);
	fprintf(f, ",\n\t.nroutes = %zu, .routes = myco_api_routes_%s,\n\t.cors = ", s->nroutes,
		s->name);
	if (s->norigins)
		fprintf(f, "&myco_api_cors_%s", s->name);
	else
		fputs("NULL", f);
	fprintf(f, ", .max_body = %" PRIu64 "u };\n\n", s->max_body);
}

int myco__gen_services(const myco_system_t *sys, FILE *f)
{
	unsigned char *done = calloc(sys->nmsgs + 1, 1);
	unsigned char *edone = calloc(sys->nenums + 1, 1);
	if (!done || !edone) {
		free(done);
		free(edone);
		return -ENOMEM;
	}
	fputs("\n/* Services: the route tables of include/myco/api.h.  In the one .c file\n"
	      " * that defines the handlers, define MYCO_GEN_", f);
	myco__gen_upper(f, sys->name);
	fputs("_API before including this\n * header: the tables are defined there. */\n"
	      "#include \"myco/api.h\"\n\n", f);
	emit_decls(sys, f);
	fputs("#ifdef MYCO_GEN_", f);
	myco__gen_upper(f, sys->name);
	fputs("_API\n", f);
	for (size_t i = 0; i < sys->nservices; i++) {
		const myco_service_t *s = &sys->services[i];
		for (size_t j = 0; j < s->nroutes; j++) {
			const myco_route_t *r = &s->routes[j];
			uint32_t m[3] = { r->query, r->request, r->response };
			for (int k = 0; k < 3; k++)
				if (m[k] != MYCO_LANG_NONE)
					emit_msg(sys, m[k], done, edone, f, 0);
			for (size_t k = 0; k < r->nparams; k++) {
				uint32_t e = r->params[k].enum_type;
				if (r->params[k].type == MYCO_FT_ENUM && !edone[e]) {
					edone[e] = 1;
					emit_enum(&sys->enums[e], f);
				}
			}
		}
	}
	for (size_t i = 0; i < sys->nservices; i++)
		emit_service(sys, &sys->services[i], f);
	fputs("#endif\n", f);
	free(done);
	free(edone);
	return 0;
}
