/*
 * check.c: from a source file to the checked model: the entry points
 * (myco_lang_load_file/_buffer), the checker's context and the model's
 * lifetime (builders copied into one arena, name tables for the lookups),
 * and the names of the model's enums.  The steps themselves are in
 * import.c, lower.c, lower_part.c, layout.c and verify.c (check.h).
 * Every error is reported; a statement that failed to parse is skipped
 * quietly so that one typo does not cascade.  Not for: syntax (parse.c),
 * output formats (json.c, gen.c, graph.c, fmt.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MYCO__LOAD_TOO_BIG 0x80000000u   /* internal flag of load() */

typedef struct sys_internal {
	myco__arena_t arena;
	myco__htab_t hmsg, hchan, hpart, hgroup, henum, hsvc;
} sys_internal_t;

/* Name lists for "did you mean". */
int myco__name_lists(ctx_t *c)
{
	c->nmsg = calloc(c->nmsgs + 1, sizeof(char *));
	c->nchan = calloc(c->nchans + 1, sizeof(char *));
	c->npart = calloc(c->nparts + 1, sizeof(char *));
	c->ngroup = calloc(c->ngroups + 1, sizeof(char *));
	c->ntype = calloc(c->nmsgs + c->nenums + 1, sizeof(char *));
	if (!c->nmsg || !c->nchan || !c->npart || !c->ngroup || !c->ntype)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmsgs; i++)
		c->ntype[i] = c->msgs[i].m.name;
	for (size_t i = 0; i < c->nenums; i++)
		c->ntype[c->nmsgs + i] = c->enums[i].e.name;
	for (size_t i = 0; i < c->nmsgs; i++)
		c->nmsg[i] = c->msgs[i].m.name;
	for (size_t i = 0; i < c->nchans; i++)
		c->nchan[i] = c->chans[i].c.name;
	for (size_t i = 0; i < c->nparts; i++)
		c->npart[i] = c->parts[i].p.name;
	for (size_t i = 0; i < c->ngroups; i++)
		c->ngroup[i] = c->groups[i].g.name;
	return 0;
}

/* Copy builders into the model arena. */
static int finalise(ctx_t *c)
{
	myco_system_t *sys = c->sys;
	myco__arena_t *a = &c->ma;
	myco_msgtype_t *mv = myco__arena_alloc(a, c->nmsgs * sizeof(*mv) + 1);
	myco_channel_t *cv = myco__arena_alloc(a, c->nchans * sizeof(*cv) + 1);
	myco_partition_t *pv = myco__arena_alloc(a, c->nparts * sizeof(*pv) + 1);
	myco_group_t *gv = myco__arena_alloc(a, c->ngroups * sizeof(*gv) + 1);
	if (!mv || !cv || !pv || !gv)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmsgs; i++) {
		bmsg_t *b = &c->msgs[i];
		myco_field_t *f = myco__arena_alloc(a, b->nf * sizeof(*f) + 1);
		if (!f)
			return -ENOMEM;
		if (b->nf)
			memcpy(f, b->f, b->nf * sizeof(*f));
		mv[i] = b->m;
		mv[i].fields = f;
		mv[i].nfields = b->nf;
	}
	for (size_t i = 0; i < c->nchans; i++) {
		bchan_t *b = &c->chans[i];
		uint32_t *s = myco__arena_alloc(a, b->nsnd * 4 + 1);
		uint32_t *r = myco__arena_alloc(a, b->nrcv * 4 + 1);
		uint32_t *k = myco__arena_alloc(a, b->ncli * 4 + 1);
		if (!s || !r || !k)
			return -ENOMEM;
		if (b->nsnd)
			memcpy(s, b->snd, b->nsnd * 4);
		if (b->nrcv)
			memcpy(r, b->rcv, b->nrcv * 4);
		if (b->ncli)
			memcpy(k, b->cli, b->ncli * 4);
		cv[i] = b->c;
		cv[i].senders = s;
		cv[i].nsenders = b->nsnd;
		cv[i].receivers = r;
		cv[i].nreceivers = b->nrcv;
		cv[i].clients = k;
		cv[i].nclients = b->ncli;
	}
	for (size_t i = 0; i < c->nparts; i++) {
		bpart_t *b = &c->parts[i];
		myco_end_t *e = myco__arena_alloc(a, b->nends * sizeof(*e) + 1);
		if (!e)
			return -ENOMEM;
		if (b->nends)
			memcpy(e, b->ends, b->nends * sizeof(*e));
		pv[i] = b->p;
		pv[i].ends = e;
		pv[i].nends = b->nends;
	}
	for (size_t i = 0; i < c->ngroups; i++)
		gv[i] = c->groups[i].g;
	myco_service_t *sv = myco__arena_alloc(a, c->nsvcs * sizeof(*sv) + 1);
	if (!sv)
		return -ENOMEM;
	for (size_t i = 0; i < c->nsvcs; i++) {
		bservice_t *b = &c->svcs[i];
		myco_route_t *r = myco__arena_alloc(a, b->nroutes * sizeof(*r) + 1);
		const char **o = myco__arena_alloc(a, b->norigins * sizeof(*o) + 1);
		if (!r || !o)
			return -ENOMEM;
		for (size_t j = 0; j < b->nroutes; j++)
			r[j] = b->routes[j].r;
		if (b->norigins)
			memcpy(o, b->origins, b->norigins * sizeof(*o));
		sv[i] = b->s;
		sv[i].routes = r;
		sv[i].nroutes = b->nroutes;
		sv[i].origins = o;
		sv[i].norigins = b->norigins;
	}
	sys->services = sv;
	sys->nservices = c->nsvcs;
	myco_enum_t *ev = myco__arena_alloc(a, c->nenums * sizeof(*ev) + 1);
	if (!ev)
		return -ENOMEM;
	for (size_t i = 0; i < c->nenums; i++) {
		benum_t *b = &c->enums[i];
		myco_enum_value_t *v = myco__arena_alloc(a, b->nv * sizeof(*v) + 1);
		if (!v)
			return -ENOMEM;
		if (b->nv)
			memcpy(v, b->v, b->nv * sizeof(*v));
		ev[i] = b->e;
		ev[i].values = v;
		ev[i].nvalues = b->nv;
	}
	sys->enums = ev;
	sys->nenums = c->nenums;
	sys->msgs = mv;
	sys->nmsgs = c->nmsgs;
	sys->channels = cv;
	sys->nchannels = c->nchans;
	sys->partitions = pv;
	sys->npartitions = c->nparts;
	sys->groups = gv;
	sys->ngroups = c->ngroups;
	sys->schedule = c->sched;
	return 0;
}

static void ctx_free(ctx_t *c)
{
	for (size_t i = 0; i < c->nmsgs; i++)
		free(c->msgs[i].f);
	for (size_t i = 0; i < c->nenums; i++)
		free(c->enums[i].v);
	free(c->enums);
	free(c->ntype);
	myco__htab_free(&c->henum);
	for (size_t i = 0; i < c->nsvcs; i++) {
		free(c->svcs[i].routes);
		free(c->svcs[i].origins);
	}
	free(c->svcs);
	for (size_t i = 0; i < c->nchaos; i++)
		free(c->chaos[i].f);
	free(c->chaos);
	myco__htab_free(&c->hsvc);
	for (size_t i = 0; i < c->nchans; i++) {
		free(c->chans[i].snd);
		free(c->chans[i].rcv);
		free(c->chans[i].cli);
	}
	for (size_t i = 0; i < c->nparts; i++)
		free(c->parts[i].ends);
	for (size_t i = 0; i < c->nfiles; i++) {
		free(c->files[i].real);
		myco__tree_free(&c->files[i].tree);
	}
	free(c->files);
	free(c->stack);
	free(c->port_owner);
	free(c->shield);
	free(c->msgs);
	free(c->chans);
	free(c->parts);
	free(c->groups);
	free(c->nmsg);
	free(c->nchan);
	free(c->npart);
	free(c->ngroup);
	myco__htab_free(&c->hmsg);
	myco__htab_free(&c->hchan);
	myco__htab_free(&c->hpart);
	myco__htab_free(&c->hgroup);
	myco__arena_free(&c->pa);
}

/* Statements from outside the file (extra: statements of the system
 * block, named extra_name in diagnostics) added to the root's system block
 * before it is checked: `myco chaos run --fault`.  0 or -ENOMEM; syntax
 * errors are reported. */
static int add_extra(ctx_t *c, const char *extra_name, const char *extra, size_t elen)
{
	static const char pre[] = "system _ {\n";
	static const char post[] = "\n}\n";
	size_t n = sizeof(pre) - 1 + elen + sizeof(post) - 1;
	char *txt = myco__arena_alloc(&c->pa, n + 1);
	const char *nm = myco__arena_strdup(&c->ma, extra_name);
	myco__tree_t t;
	myco__stmt_t *s = c->system, **kids;

	if (!txt || !nm)
		return -ENOMEM;
	memcpy(txt, pre, sizeof(pre) - 1);
	memcpy(txt + sizeof(pre) - 1, extra, elen);
	memcpy(txt + sizeof(pre) - 1 + elen, post, sizeof(post));
	if (myco__diags_add_src(c->d, nm, txt, n) < 0)
		return -ENOMEM;
	if (myco__parse(nm, txt, n, &c->pa, c->d, &t))
		return -ENOMEM;
	if (t.ntop != 1 || !t.top[0]->block)
		return 0;               /* reported by the parser */
	kids = myco__arena_alloc(&c->pa, (s->nkids + t.top[0]->nkids + 1) * sizeof(*kids));
	if (!kids)
		return -ENOMEM;
	if (s->nkids)
		memcpy(kids, s->kids, s->nkids * sizeof(*kids));
	if (t.top[0]->nkids)
		memcpy(kids + s->nkids, t.top[0]->kids, t.top[0]->nkids * sizeof(*kids));
	s->kids = kids;
	s->nkids += t.top[0]->nkids;
	return 0;
}

static int load(const char *name, const char *buf, size_t len, unsigned flags,
		const char *extra_name, const char *extra, size_t elen,
		myco_system_t **out, myco_diags_t **diags)
{
	ctx_t c;
	int rc = 0;
	sys_internal_t *in = NULL;
	memset(&c, 0, sizeof(c));
	*out = NULL;
	if (diags)
		*diags = NULL;
	c.flags = flags;
	c.d = myco__diags_new();
	if (!c.d)
		return -ENOMEM;
	c.sys = myco__arena_alloc(&c.ma, sizeof(*c.sys));
	bfile_t f = { 0 };
	f.name = myco__arena_strdup(&c.ma, name ? name : "<input>");
	if (!c.sys || !f.name || MYCO__PUSH(c.files, c.nfiles, c.cfiles, f)) {
		rc = -ENOMEM;
		goto out;
	}
	if (name && !(flags & MYCO_LANG_NO_IMPORTS))
		c.files[0].real = realpath(name, NULL);
	c.sys->path = f.name;
	if (flags & MYCO__LOAD_TOO_BIG) {
		myco_pos_t p = { f.name, 1, 1 };
		ERR(&c, "E015", p, 1, "split the file", "file too large (more than 16 MiB)");
		rc = -MYCO_ESYNTAX;
		goto out;
	}
	rc = myco__load_text(&c, 0, buf, len, true);
	if (rc)
		goto out;
	if (extra && c.system && (rc = add_extra(&c, extra_name ? extra_name : "<extra>",
						   extra, elen)))
		goto out;
	if (!c.system) {
		if (!myco_diags_errors(c.d)) {
			myco_pos_t p = { f.name, 1, 1 };
			ERR(&c, "E095", p, 1, "a system file declares `system name { ... }`",
			    "no system in this file");
		}
		/* still check message types so their errors are reported */
		if (myco__name_lists(&c)) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < c.nenums; i++)
			myco__lower_enum(&c, &c.enums[i]);
		for (size_t i = 0; i < c.nmsgs; i++)
			myco__lower_fields(&c, &c.msgs[i]);
		for (size_t i = 0; i < c.nmsgs; i++)
			myco__layout(&c, (uint32_t)i, 0);
	} else if (!c.d->stopped) {   /* 100 errors already: no more checking */
		rc = myco__lower_system(&c);
		if (rc)
			goto out;
	}
	if (c.oom || c.d->oom) {
		rc = -ENOMEM;
		goto out;
	}
	if (myco_diags_errors(c.d) || c.d->stopped) {
		rc = -MYCO_ESYNTAX;
		goto out;
	}
	rc = finalise(&c);
	if (rc)
		goto out;
	in = calloc(1, sizeof(*in));
	if (!in) {
		rc = -ENOMEM;
		goto out;
	}
	myco_system_t *sys = c.sys;
	for (size_t i = 0; i < sys->nmsgs && !rc; i++)
		rc = myco__htab_put(&in->hmsg, sys->msgs[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->nchannels && !rc; i++)
		rc = myco__htab_put(&in->hchan, sys->channels[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->npartitions && !rc; i++)
		rc = myco__htab_put(&in->hpart, sys->partitions[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->ngroups && !rc; i++)
		rc = myco__htab_put(&in->hgroup, sys->groups[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->nenums && !rc; i++)
		rc = myco__htab_put(&in->henum, sys->enums[i].name, (uint32_t)i, NULL);
	for (size_t i = 0; i < sys->nservices && !rc; i++)
		rc = myco__htab_put(&in->hsvc, sys->services[i].name, (uint32_t)i, NULL);
	if (rc) {
		rc = -ENOMEM;
		goto out;
	}
	in->arena = c.ma;
	c.ma.head = NULL;
	sys->internal_ = in;
	in = NULL;
	*out = sys;
out:
	if (in) {
		myco__htab_free(&in->hmsg);
		myco__htab_free(&in->hchan);
		myco__htab_free(&in->hpart);
		myco__htab_free(&in->hgroup);
		myco__htab_free(&in->henum);
		myco__htab_free(&in->hsvc);
		free(in);
	}
	ctx_free(&c);
	myco__arena_free(&c.ma);
	if (diags)
		*diags = c.d;
	else
		myco_diags_free(c.d);
	return rc;
}

int myco_lang_load_buffer_flags(const char *name, const char *buf, size_t len,
				unsigned flags, myco_system_t **out, myco_diags_t **diags)
{
	return load(name, buf, len, flags, NULL, NULL, 0, out, diags);
}

int myco_lang_load_buffer(const char *name, const char *buf, size_t len,
			  myco_system_t **out, myco_diags_t **diags)
{
	return load(name, buf, len, 0, NULL, NULL, 0, out, diags);
}

int myco_lang_load_file(const char *path, myco_system_t **out, myco_diags_t **diags)
{
	char *buf = NULL;
	size_t len = 0;
	*out = NULL;
	if (diags)
		*diags = NULL;
	int rc = myco__read_file(path, &buf, &len);
	if (rc == -EFBIG) {
		/* report it like any other problem of the input */
		static const char big[] = "";
		rc = load(path, big, 0, MYCO__LOAD_TOO_BIG, NULL, NULL, 0, out, diags);
		return rc;
	}
	if (rc)
		return rc;
	rc = load(path, buf, len, 0, NULL, NULL, 0, out, diags);
	free(buf);
	return rc;
}

int myco_lang_load_file_extra(const char *path, const char *extra_name, const char *extra,
			      size_t extra_len, myco_system_t **out, myco_diags_t **diags)
{
	char *buf = NULL;
	size_t len = 0;
	*out = NULL;
	if (diags)
		*diags = NULL;
	int rc = myco__read_file(path, &buf, &len);
	if (rc)
		return rc;
	rc = load(path, buf, len, 0, extra_name, extra, extra_len, out, diags);
	free(buf);
	return rc;
}

void myco_system_free(myco_system_t *sys)
{
	if (!sys)
		return;
	sys_internal_t *in = sys->internal_;
	if (!in)
		return;
	myco__htab_free(&in->hmsg);
	myco__htab_free(&in->hchan);
	myco__htab_free(&in->hpart);
	myco__htab_free(&in->hgroup);
	myco__htab_free(&in->henum);
	myco__htab_free(&in->hsvc);
	myco__arena_t a = in->arena;
	free(in);
	myco__arena_free(&a);   /* sys itself lives in the arena */
}

static const sys_internal_t *internal(const myco_system_t *sys)
{
	return sys ? sys->internal_ : NULL;
}

uint32_t myco_system_find_msg(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hmsg, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_channel(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hchan, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_partition(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hpart, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_enum(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->henum, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_service(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hsvc, name) : MYCO_LANG_NONE;
}

uint32_t myco_system_find_group(const myco_system_t *sys, const char *name)
{
	const sys_internal_t *in = internal(sys);
	return in && name ? myco__htab_get(&in->hgroup, name) : MYCO_LANG_NONE;
}

const char *myco_lang_chan_kind_name(myco_lang_chan_kind_t k)
{
	return (unsigned)k < 3 ? myco__kind_names[k] : "?";
}

const char *myco_overflow_name(myco_overflow_t o)
{
	return (unsigned)o < 3 ? myco__overflow_names[o] : "?";
}

const char *myco_inflight_name(myco_inflight_t o)
{
	return (unsigned)o < 2 ? myco__inflight_names[o] : "?";
}

const char *myco_mode_name(myco_mode_t m)
{
	static const char *const n[] = { "none", "budget", "frame" };
	return (unsigned)m < 3 ? n[m] : "?";
}

const char *myco_end_role_name(myco_end_role_t r)
{
	return (unsigned)r < 4 ? myco__role_names[r] : "?";
}

const char *myco_restart_name(myco_restart_t r)
{
	return (unsigned)r < 3 ? myco__restart_names[r] : "?";
}

const char *myco_record_name(myco_record_t r)
{
	static const char *const n[] = { "off", "always", "on crash" };
	return (unsigned)r < 3 ? n[r] : "?";
}

const char *myco_strategy_name(myco_strategy_t s)
{
	return (unsigned)s < 3 ? myco__strategy_names[s] : "?";
}

const char *myco_ftype_name(myco_ftype_t t)
{
	if ((unsigned)t < 13)
		return myco__ftype_names[t];
	return t == MYCO_FT_MSG ? "message" : t == MYCO_FT_ENUM ? "enum" : "?";
}
