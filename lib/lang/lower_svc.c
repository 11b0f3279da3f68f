/*
 * lower_svc.c: services, the HTTP APIs of a system:
 *
 *     service notes {
 *         prefix "/api";                    // mount point (optional)
 *         cors "*";                         // CORS origins (optional)
 *         max_body 64 KiB;                  // request body limit (optional)
 *         route GET "/notes/{id:u64}" get_note { response Note; }
 *         route POST "/notes" create_note { request Note; response Note; status 201; }
 *     }
 *
 * served by the partition that declares `serve notes;`.  A route's path has
 * literal segments and typed parameters `{name:type}` (a scalar, `string`,
 * `string[N]`, an enum, or `path` for the rest of the path); its query
 * string, body and answer are message types of the system, whose fields may
 * carry JSON constraints (layout.c).  Checked here: path syntax (E075),
 * unknown types (E020), routes that would match the same requests (E074),
 * one server per service (E076), query types the query string can carry
 * (E078).  `myco gen` turns the result into include/myco/api.h tables.
 * Not for: serving HTTP (svc/gate).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char *const method_names[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
	"OPTIONS" };

const char *myco_http_method_name(myco_http_method_t m)
{
	return (unsigned)m < 7 ? method_names[m] : "?";
}

/* ------------------------------------------------------------ declaration */

/* `service name { ... }`: pass 1 registers the name. */
void myco__lower_service_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco__arg_t *a = myco__decl_open(l);
	if (!a || !myco__decl_block(l))
		return;
	bservice_t b = { 0 };
	b.st = x;
	b.bad = x->bad;
	b.s.name = myco__astr(c, a->text);
	b.s.pos = a->pos;
	b.s.server = MYCO_LANG_NONE;
	if (myco__reg_name(c, &c->hsvc, c->nsvcs, a, "service"))
		return;
	if (MYCO__PUSH(c->svcs, c->nsvcs, c->csvcs, b))
		c->oom = true;
}

/* ------------------------------------------------------------------ paths */

static bool is_ident(const char *s, size_t n)
{
	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Characters of a literal path segment: RFC 3986 pchar (unreserved,
 * sub-delims, ':' and '@') and '%' of percent-encoding. */
static bool pchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("-._~!$&'()*+,;=:@%", ch);
}

static void path_error(ctx_t *c, broute_t *br, const char *hint, const char *fmt, const char *arg)
{
	myco__arg_t *a = br->path_a;
	char msg[300];
	snprintf(msg, sizeof(msg), fmt, arg);
	ERR(c, "E075", a->pos, a->len, hint, "invalid route path \"%s\": %s", a->text, msg);
	br->bad = true;
}

#define TYPE_HINT "parameter types: u8..u64, i8..i64, f32, f64, bool, string, string[N], an enum, path"

/* The type of `{name:type}`; false (reported) when unknown. */
static bool param_type(ctx_t *c, broute_t *br, const char *t, myco_route_param_t *p)
{
	p->enum_type = MYCO_LANG_NONE;
	if (!strcmp(t, "path")) {
		p->type = MYCO_FT_STRING;
		p->rest = true;
		p->length = 1024;
		return true;
	}
	if (!strncmp(t, "string", 6) && (t[6] == 0 || t[6] == '[')) {
		p->type = MYCO_FT_STRING;
		p->length = 64;
		if (t[6] == '[') {
			char *end;
			unsigned long n = strtoul(t + 7, &end, 10);
			if (end == t + 7 || strcmp(end, "]") || n < 1 || n > 65536) {
				path_error(c, br, "a string parameter's capacity is 1 to 65536 bytes",
					   "bad string capacity in `%s`", t);
				return false;
			}
			p->length = (uint32_t)n;
		}
		return true;
	}
	for (int i = 0; i <= MYCO_FT_BOOL; i++)
		if (!strcmp(t, myco__ftype_names[i])) {
			p->type = (myco_ftype_t)i;
			return true;
		}
	uint32_t ei = myco__htab_get(&c->henum, t);
	if (ei != MYCO_LANG_NONE) {
		p->type = MYCO_FT_ENUM;
		p->enum_type = ei;
		return true;
	}
	static const char *const names[] = { "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
		"f32", "f64", "bool", "string", "path" };
	/* what other route languages call them */
	static const char *const other[][2] = { { "int", "i64" }, { "integer", "i64" },
		{ "uint", "u64" }, { "long", "i64" }, { "float", "f64" }, { "double", "f64" },
		{ "number", "f64" }, { "str", "string" }, { "boolean", "bool" } };
	const char *best = myco__closest(t, names, 13);
	for (size_t i = 0; !best && i < sizeof(other) / sizeof(other[0]); i++)
		if (!strcmp(t, other[i][0]))
			best = other[i][1];
	char h[200];
	if (best)
		snprintf(h, sizeof(h), "did you mean `%s`?", best);
	else
		snprintf(h, sizeof(h), TYPE_HINT);
	path_error(c, br, myco__arena_strdup(&c->pa, h), "unknown parameter type `%s`", t);
	return false;
}

/* Split br's path into segments and typed parameters (model arena). */
static void parse_path(ctx_t *c, broute_t *br)
{
	myco__arg_t *a = br->path_a;
	const char *s = a->text;
	size_t len = strlen(s);
	myco_route_seg_t segs[64];
	myco_route_param_t params[64];
	size_t nsegs = 0, nparams = 0;
	char buf[256];
	if (len != a->textlen || s[0] != '/') {
		path_error(c, br, "write it like \"/users/{id:u64}\"", "%s", "a path starts with /");
		return;
	}
	if (len == 1)
		goto done;   /* the root path */
	for (const char *p = s + 1;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!n) {
			path_error(c, br, "remove the doubled or trailing `/`", "%s", "empty segment");
			return;
		}
		if (nsegs == 64 || n >= sizeof(buf)) {
			path_error(c, br, "at most 64 segments of at most 255 bytes", "%s", "too long");
			return;
		}
		if (nsegs && !segs[nsegs - 1].literal && params[segs[nsegs - 1].param].rest) {
			path_error(c, br, "the rest of the path goes last", "%s",
				   "a `path` parameter must be the last segment");
			return;
		}
		memcpy(buf, p, n);
		buf[n] = 0;
		myco_route_seg_t sg = { NULL, 0 };
		if (buf[0] == '{') {
			char *colon = strchr(buf, ':');
			if (buf[n - 1] != '}') {
				path_error(c, br, "a parameter is a whole segment: /{name:type}",
					   "`%s` is not a parameter", buf);
				return;
			}
			buf[n - 1] = 0;
			if (!colon) {
				path_error(c, br, "give its type, as in {id:u64}",
					   "parameter `%s` has no type", buf + 1);
				return;
			}
			*colon = 0;
			const char *name = buf + 1;
			if (!is_ident(name, strlen(name)) || myco__is_c_keyword(name)) {
				path_error(c, br, "parameter names become C identifiers: letters, digits, _",
					   "bad parameter name `%s`", name);
				return;
			}
			for (size_t i = 0; i < nparams; i++)
				if (!strcmp(params[i].name, name)) {
					path_error(c, br, "name each parameter once",
						   "parameter `%s` appears twice", name);
					return;
				}
			myco_route_param_t pr = { 0 };
			if (!param_type(c, br, colon + 1, &pr))
				return;
			pr.name = myco__astr(c, name);
			sg.param = (uint32_t)nparams;
			params[nparams++] = pr;
		} else {
			for (size_t i = 0; i < n; i++)
				if (!pchar((unsigned char)buf[i])) {
					char ch[2] = { buf[i], 0 };
					path_error(c, br,
						   buf[i] == '?' ? "declare the query string with `query Type;`"
								 : "literal segments use letters, digits and -._~!$&'()*+,;=:@%",
						   "character `%s` in a literal segment", ch);
					return;
				}
			sg.literal = myco__astr(c, buf);
		}
		segs[nsegs++] = sg;
		if (!e)
			break;
		p = e + 1;
	}
done:;
	myco_route_seg_t *sv = myco__arena_alloc(&c->ma, nsegs * sizeof(*sv) + 1);
	myco_route_param_t *pv = myco__arena_alloc(&c->ma, nparams * sizeof(*pv) + 1);
	if (!sv || !pv) {
		c->oom = true;
		return;
	}
	if (nsegs)
		memcpy(sv, segs, nsegs * sizeof(*sv));
	if (nparams)
		memcpy(pv, params, nparams * sizeof(*pv));
	br->r.segs = sv;
	br->r.nsegs = nsegs;
	br->r.params = pv;
	br->r.nparams = nparams;
}

/* ----------------------------------------------------------------- routes */

/* `route METHOD "PATH" handler [{ query Q; request R; response S; status N; }]` */
void myco__lower_svc_route(myco__lower_t *l)
{
	ctx_t *c = l->c;
	bservice_t *b = l->bs;
	cur_t *k = &l->k;
	broute_t br = { 0 };
	br.r.pos = l->x->pos;
	br.r.query = br.r.request = br.r.response = MYCO_LANG_NONE;
	myco__arg_t *ma = myco__peek(k);
	if (ma && ma->kind == MYCO__A_IDENT) {
		/* `get`: methods are case-sensitive (RFC 9110) */
		char up[16];
		size_t n = strlen(ma->text);
		for (size_t i = 0; i < n && i < sizeof(up) - 1; i++)
			up[i] = (char)(ma->text[i] >= 'a' && ma->text[i] <= 'z' ? ma->text[i] - 32 : ma->text[i]);
		up[n < sizeof(up) - 1 ? n : sizeof(up) - 1] = 0;
		for (size_t i = 0; i < 7 && n < sizeof(up); i++)
			if (strcmp(ma->text, up) && !strcmp(up, method_names[i])) {
				char h[64];
				snprintf(h, sizeof(h), "methods are upper case: `%s`", method_names[i]);
				ERR(c, "E011", ma->pos, ma->len, myco__arena_strdup(&c->pa, h),
				    "unknown HTTP method `%s`", ma->text);
				return;
			}
	}
	int m = myco__want_choice(k, "HTTP method", method_names, 7);
	if (m < 0)
		return;
	br.r.method = (myco_http_method_t)m;
	br.path_a = myco__want_str(k, "the path in quotes, e.g. \"/users/{id:u64}\"");
	if (!br.path_a)
		return;
	myco__arg_t *h = myco__want_ident(k, "the handler's name");
	if (!h || !myco__args_done(k))
		return;
	if (myco__is_c_keyword(h->text)) {
		ERR(c, "E045", h->pos, h->len, "handlers are C functions; pick another name",
		    "`%s` is a reserved word", h->text);
		return;
	}
	if (myco__htab_get(&c->hmsg, h->text) != MYCO_LANG_NONE ||
	    myco__htab_get(&c->henum, h->text) != MYCO_LANG_NONE) {
		ERR(c, "E021", h->pos, h->len, "the handler and the type share the C name space; "
		    "rename the handler", "handler `%s` has the name of a type", h->text);
		return;
	}
	br.r.handler = myco__astr(c, h->text);
	br.r.path = myco__astr(c, br.path_a->text);
	parse_path(c, &br);
	if (br.bad) {
		b->bad = true;
		return;
	}
	if (l->x->block) {
		myco__lower_t r = { .c = c, .bs = b, .br = &br };
		myco__lower_block(&r, l->x, MYCO__B_ROUTE, NULL, &br.bad);
	}
	if (br.bad)
		b->bad = true;
	if (MYCO__PUSH(b->routes, b->nroutes, b->croutes, br))
		c->oom = true;
}

/* `query`, `request`, `response` (param 0, 1, 2). */
void myco__lower_route_msg(myco__lower_t *l)
{
	uint32_t mi = myco__want_msg(&l->k, "a message type");
	if (mi == MYCO_LANG_NONE || !myco__want_end(&l->k)) {
		l->br->bad = true;
		return;
	}
	myco_route_t *r = &l->br->r;
	if (l->def->param == 0) {
		/* a query string holds name=value pairs: scalars, strings, enums */
		const bmsg_t *m = &l->c->msgs[mi];
		for (size_t i = 0; i < m->nf; i++) {
			const myco_field_t *f = &m->f[i];
			if (f->type == MYCO_FT_MSG || f->type == MYCO_FT_BYTES || f->array_len) {
				myco__arg_t *a = &l->x->args[1];
				ERR(l->c, "E078", a->pos, a->len,
				    "query string fields are numbers, bools, strings or enums",
				    "field `%s` of `%s` cannot come from a query string", f->name,
				    m->m.name);
				l->br->bad = true;
				return;
			}
		}
		r->query = mi;
	} else if (l->def->param == 1) {
		r->request = mi;
	} else {
		r->response = mi;
	}
}

void myco__lower_route_status(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_uint(&l->k, "the status code", 100, 599, &v) && myco__want_end(&l->k))
		l->br->r.status = (uint32_t)v;
}

/* --------------------------------------------------------------- settings */

void myco__lower_svc_prefix(myco__lower_t *l)
{
	myco__arg_t *a = myco__want_str(&l->k, "the mount point in quotes, e.g. \"/api\"");
	if (!a || !myco__want_end(&l->k))
		return;
	const char *s = a->text;
	size_t n = strlen(s);
	bool ok = n == a->textlen && s[0] == '/' && (n == 1 || s[n - 1] != '/') && !strstr(s, "//");
	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] == '/' || pchar((unsigned char)s[i]);
	if (!ok) {
		ERR(l->c, "E075", a->pos, a->len, "a prefix is a path like \"/api/v1\", no trailing /",
		    "invalid prefix \"%s\"", s);
		l->bs->bad = true;
		return;
	}
	l->bs->s.prefix = n == 1 ? NULL : myco__astr(l->c, s);
}

void myco__lower_svc_cors(myco__lower_t *l)
{
	cur_t *k = &l->k;
	bservice_t *b = l->bs;
	do {
		myco__arg_t *a = myco__want_str(k, "an origin in quotes, e.g. \"https://app.example\"");
		if (!a)
			return;
		const char *s = a->text;
		bool ok = !strcmp(s, "*") || ((!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) &&
					      !strchr(strstr(s, "//") + 2, '/'));
		if (!ok || strlen(s) != a->textlen) {
			ERR(l->c, "E075", a->pos, a->len, "an origin is scheme://host[:port] or \"*\"",
			    "invalid CORS origin \"%s\"", s);
			b->bad = true;
			continue;
		}
		if (MYCO__PUSH(b->origins, b->norigins, b->corigins, myco__astr(l->c, s))) {
			l->c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

void myco__lower_svc_max_body(myco__lower_t *l)
{
	uint64_t v;
	myco__arg_t *a = myco__peek(&l->k);
	if (!myco__want_qty(&l->k, false, "max_body", &v) || !myco__want_end(&l->k))
		return;
	if (v == 0) {
		ERR(l->c, "E032", a->pos, a->len, "leave `max_body` out for the default (1 MiB)",
		    "max_body must be greater than zero");
		return;
	}
	l->bs->s.max_body = v;
}

void myco__lower_service(ctx_t *c, bservice_t *b)
{
	if (myco__htab_get(&c->hchan, b->s.name) != MYCO_LANG_NONE) {
		ERR(c, "E021", b->s.pos, (uint32_t)strlen(b->s.name),
		    "`serve NAME;` names a channel or a service; rename one",
		    "service `%s` has the name of a channel", b->s.name);
		b->bad = true;
	}
	myco__lower_t l = { .c = c, .bs = b };
	myco__lower_block(&l, b->st, MYCO__B_SERVICE, NULL, &b->bad);
}

/* ----------------------------------------------------------------- checks */

/* Routes that the router could not tell apart: same method, same segment
 * list (equal literals, parameters of the same type), as myco_api_create()
 * decides (include/myco/api.h). */
static bool same_shape(const myco_route_t *a, const myco_route_t *b)
{
	if (a->method != b->method || a->nsegs != b->nsegs)
		return false;
	for (size_t i = 0; i < a->nsegs; i++) {
		const myco_route_seg_t *x = &a->segs[i], *y = &b->segs[i];
		if (!x->literal != !y->literal)
			return false;
		if (x->literal && strcmp(x->literal, y->literal))
			return false;
		if (!x->literal) {
			const myco_route_param_t *p = &a->params[x->param], *q = &b->params[y->param];
			if (p->type != q->type || p->rest != q->rest)
				return false;
		}
	}
	return true;
}

static bool same_params(const myco_route_t *a, const myco_route_t *b)
{
	if (a->nparams != b->nparams)
		return false;
	for (size_t i = 0; i < a->nparams; i++) {
		const myco_route_param_t *p = &a->params[i], *q = &b->params[i];
		if (strcmp(p->name, q->name) || p->type != q->type || p->rest != q->rest ||
		    p->length != q->length || p->enum_type != q->enum_type)
			return false;
	}
	return true;
}

void myco__check_services(ctx_t *c)
{
	for (size_t i = 0; i < c->nsvcs; i++) {
		bservice_t *b = &c->svcs[i];
		myco_service_t *s = &b->s;
		uint32_t nl = (uint32_t)strlen(s->name);
		char h[300];
		if (b->nserve == 0 && !b->bad) {
			snprintf(h, sizeof(h), "add `serve %s;` to the partition that answers it", s->name);
			ERR(c, "E076", s->pos, nl, myco__arena_strdup(&c->pa, h),
			    "service `%s` has no server", s->name);
		} else if (b->nserve > 1) {
			snprintf(h, sizeof(h), "`%s` already serves it (line %u); a service has one server",
				 c->parts[s->server].p.name, b->serve_pos[0].line);
			ERR(c, "E076", b->serve_pos[1], nl, myco__arena_strdup(&c->pa, h),
			    "service `%s` has %u servers", s->name, b->nserve);
		}
		for (size_t j = 0; j < b->nroutes; j++) {
			broute_t *r = &b->routes[j];
			if (r->bad)
				continue;
			/* one params struct per handler: its routes agree on it */
			for (size_t k = 0; k < j; k++) {
				broute_t *o = &b->routes[k];
				if (o->bad || strcmp(o->r.handler, r->r.handler))
					continue;
				if (!same_params(&o->r, &r->r)) {
					snprintf(h, sizeof(h), "`%s` handles `%s %s` (line %u) with other path "
						 "parameters; its params struct is shared: give this route its "
						 "own handler", r->r.handler, myco_http_method_name(o->r.method),
						 o->r.path, o->r.pos.line);
					ERR(c, "E021", r->path_a->pos, r->path_a->len,
					    myco__arena_strdup(&c->pa, h),
					    "handler `%s` serves routes with different path parameters",
					    r->r.handler);
					r->bad = true;
				}
				break;
			}
			if (r->bad)
				continue;
			for (size_t k = 0; k < j; k++) {
				broute_t *o = &b->routes[k];
				if (o->bad || !same_shape(&o->r, &r->r))
					continue;
				snprintf(h, sizeof(h), "`%s %s` (line %u) matches the same requests; "
					 "rename a literal or give the parameters different types",
					 myco_http_method_name(o->r.method), o->r.path, o->r.pos.line);
				ERR(c, "E074", r->path_a->pos, r->path_a->len, myco__arena_strdup(&c->pa, h),
				    "route %s %s conflicts with %s %s", myco_http_method_name(r->r.method),
				    r->r.path, myco_http_method_name(o->r.method), o->r.path);
				break;
			}
		}
	}
}
