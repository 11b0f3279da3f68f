/*
 * lower_part.c: the statements of a partition (`program`, `args`, `env`,
 * `cores`, `budget`/`frame`, `memory`, `scheduler`, channel ends, `listen`,
 * `path`, `net`, `restart`, `heartbeat`/`misses`, `readiness`, `user`,
 * `pids`, `cache ways`), one
 * handler each, dispatched through the statement table.  Lists are gathered
 * in a part_acc_t and copied into the model arena at the end.  Not for:
 * checks across partitions other than port ownership (verify.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A partition's lists while its block is walked (malloc'd). */
struct part_acc {
	const char **argv;         /* [program placeholder, args..., NULL] */
	size_t nargv, cargv;
	const char **env;
	size_t nenv, cenv;
	uint32_t *cores;
	size_t ncores, ccores;
	uint16_t *ports;
	size_t nports, cports;
	myco_pathres_t *paths;
	size_t npaths, cpaths;
	myco__htab_t envh;         /* variable names given */
	myco__arg_t *misses_a;
	bool has_misses;
};

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A user or group for `user`: a name (identifier or quoted string, resolved
 * by the executive at start-up) or a number 0 .. 4294967294 ((uid_t)-1 is
 * "unchanged" to the kernel).  *name is NULL for a number. */
static bool want_id(cur_t *k, const char *what, const char **name, uint32_t *num)
{
	if (k->failed)
		return false;
	myco__arg_t *a = myco__peek(k);
	if (a && (a->kind == MYCO__A_NUM || a->kind == MYCO__A_QTY)) {
		uint64_t v;
		char w[32];
		snprintf(w, sizeof(w), "%s id", what);
		if (!myco__want_uint(k, w, 0, UINT32_MAX - 1u, &v))
			return false;
		*name = NULL;
		*num = (uint32_t)v;
		return true;
	}
	if (!a || (a->kind != MYCO__A_IDENT && a->kind != MYCO__A_STR)) {
		char w[48];
		snprintf(w, sizeof(w), "a %s name or number", what);
		myco__expected(k, w);
		return false;
	}
	k->i++;
	/* the portable user name set of POSIX (letters, digits, . _ -), not
	 * starting with '-', not all digits, at most 32 bytes (useradd) */
	const char *t = a->text;
	size_t n = strlen(t);
	bool ok = n >= 1 && n <= 32 && t[0] != '-', digits = true;
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char ch = (unsigned char)t[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		digits &= ch >= '0' && ch <= '9';
	}
	if (!ok || digits) {
		k->failed = true;
		ERR(k->c, "E072", a->pos, a->len,
		    digits && ok ? "write a numeric id without quotes"
				 : "names use letters, digits, `.`, `_` and `-` (not first), "
				   "at most 32 bytes",
		    "invalid %s name \"%s\"", what, t);
		return false;
	}
	*name = myco__astr(k->c, t);
	return true;
}


void myco__lower_part_program(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__arg_t *a = myco__want_str(&l->k, "the program path in quotes");
	if (a && myco__want_end(&l->k)) {
		if (!a->textlen) {
			ERR(c, "E032", a->pos, a->len, "give the path of the executable",
			    "empty program path");
		} else {
			l->bp->p.program = myco__astr(c, a->text);
		}
	}
}

void myco__lower_part_args(myco__lower_t *l)
{
	part_acc_t *pa = l->pa;
	cur_t *k = &l->k;
	bool ok = true;
	do {
		myco__arg_t *a = myco__want_str(k, "an argument in quotes");
		if (!a) {
			ok = false;
			break;
		}
		pa->nargv--;
		if (MYCO__PUSH(pa->argv, pa->nargv, pa->cargv, myco__astr(l->c, a->text)) ||
		    MYCO__PUSH(pa->argv, pa->nargv, pa->cargv, NULL)) {
			l->c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	if (ok)
		myco__want_end(k);
}

void myco__lower_part_env(myco__lower_t *l)
{
	ctx_t *c = l->c;
	part_acc_t *pa = l->pa;
	cur_t *k = &l->k;
	myco__arg_t *n = myco__want_ident(k, "a variable name");
	myco__arg_t *val = NULL;
	if (n && myco__want_punct(k, '='))
		val = myco__want_str(k, "the value in quotes");
	if (!val || !myco__want_end(k))
		return;
	uint32_t old;
	if (myco__htab_put(&pa->envh, n->text, 0, &old) == -EEXIST) {
		ERR(c, "E021", n->pos, n->len, "set each variable once",
		    "duplicate environment variable `%s`", n->text);
		return;
	}
	size_t len = strlen(n->text) + 1 + strlen(val->text) + 1;
	char *e = myco__arena_alloc(&c->ma, len);
	if (!e || MYCO__PUSH(pa->env, pa->nenv, pa->cenv, e)) {
		c->oom = true;
		return;
	}
	snprintf(e, len, "%s=%s", n->text, val->text);
}

void myco__lower_part_cores(myco__lower_t *l)
{
	ctx_t *c = l->c;
	const myco_system_t *sys = c->sys;
	myco_partition_t *p = &l->bp->p;
	part_acc_t *pa = l->pa;
	cur_t *k = &l->k;
	uint64_t v;
	if (k->i + 1 < k->s->nargs && k->s->args[k->i + 1].kind == MYCO__A_PUNCT &&
	    k->s->args[k->i + 1].punct == '.') {
		myco__lower_part_elastic(l);   /* `cores MIN..MAX elastic;` */
		return;
	}
	do {
		myco__arg_t *a = myco__peek(k);
		if (!myco__want_uint(k, "a core number", 0, 63, &v))
			break;
		if (sys->machine_cores && v >= sys->machine_cores) {
			ERR(c, "E066", a->pos, a->len, "the machine block declares fewer cores",
			    "core %llu does not exist on this machine (%u cores)",
			    (unsigned long long)v, sys->machine_cores);
			continue;
		}
		if (p->core_mask & (1ull << v)) {
			ERR(c, "E021", a->pos, a->len, "list each core once",
			    "core %llu listed twice", (unsigned long long)v);
			continue;
		}
		p->core_mask |= 1ull << v;
		if (MYCO__PUSH(pa->cores, pa->ncores, pa->ccores, (uint32_t)v)) {
			c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

void myco__lower_part_budget(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco_partition_t *p = &l->bp->p;
	cur_t *k = &l->k;
	uint64_t v, v2;
	myco__arg_t *ra = myco__peek(k);
	if (!myco__want_qty(k, true, "the budget", &v))
		return;
	if (!myco__want_word(k, "per", "`per`"))
		return;
	myco__arg_t *pa = myco__peek(k);
	if (!myco__want_qty(k, true, "the period", &v2) || !myco__want_end(k))
		return;
	if (p->mode == MYCO_MODE_FRAME) {
		ERR(c, "E063", x->pos, 6, "a partition has either a budget or frame windows",
		    "partition `%s` has both `frame` and `budget`", p->name);
		return;
	}
	if (v == 0 || v2 == 0) {
		myco__arg_t *z = v == 0 ? ra : pa;
		ERR(c, "E062", z->pos, z->len, "budgets and periods are greater than zero",
		    "%s must be greater than zero", v == 0 ? "budget" : "period");
		return;
	}
	if (v > v2) {
		ERR(c, "E060", ra->pos, pa->pos.col + pa->len - ra->pos.col,
		    "the runtime per period cannot exceed the period",
		    "budget %s %s is larger than its period %s %s", ra->text, ra->unit,
		    pa->text, pa->unit);
		return;
	}
	p->mode = MYCO_MODE_BUDGET;
	p->runtime_ns = v;
	p->period_ns = v2;
	l->bp->mode_pos = x->pos;
}

void myco__lower_part_frame(myco__lower_t *l)
{
	myco_partition_t *p = &l->bp->p;
	if (!myco__want_end(&l->k))
		return;
	if (p->mode == MYCO_MODE_BUDGET) {
		ERR(l->c, "E063", l->x->pos, 5, "a partition has either a budget or frame windows",
		    "partition `%s` has both `budget` and `frame`", p->name);
		return;
	}
	p->mode = MYCO_MODE_FRAME;
	l->bp->mode_pos = l->x->pos;
}

void myco__lower_part_memory(myco__lower_t *l)
{
	ctx_t *c = l->c;
	const myco_system_t *sys = c->sys;
	myco_partition_t *p = &l->bp->p;
	cur_t *k = &l->k;
	uint64_t v;
	myco__arg_t *a = myco__peek(k);
	if (!myco__want_qty(k, false, "memory", &v) || !myco__want_end(k))
		return;
	if (v == 0) {
		ERR(c, "E032", a->pos, a->len, "leave `memory` out for no limit",
		    "memory limit must be greater than zero");
		return;
	}
	p->memory_bytes = v;
	l->bp->mem_pos = a->pos;
	if (sys->machine_memory && v > sys->machine_memory)
		ERR(c, "E067", a->pos, a->len, "lower the limit or raise the machine's memory",
		    "partition `%s` asks for %s %s, more than the machine's memory",
		    p->name, a->text, a->unit);
}

void myco__lower_part_scheduler(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__arg_t *a = myco__want_ident(&l->k, "a scheduler policy name");
	if (!a || !myco__want_end(&l->k))
		return;
	/* the runtime's policies (include/myco/rt.h, myco_policy_from_name());
	 * others fail when the partition starts, so say so now */
	static const char *const pol[] = { "fifo", "edf", "steal", "adaptive",
					   "market" };
	bool known = false;
	for (size_t j = 0; j < 5; j++)
		known |= !strcmp(a->text, pol[j]);
	if (!known)
		WARN(c, "W002", a->pos, a->len,
		     myco__mean(c, a->text, pol, 5,
				"the runtime knows fifo, edf, steal, adaptive and market"),
		     "unknown scheduler policy `%s`", a->text);
	l->bp->p.scheduler = myco__astr(c, a->text);
}

/* `send`, `recv`, `call`, `serve` (the role is the table entry's param). */
void myco__lower_part_end(myco__lower_t *l)
{
	ctx_t *c = l->c;
	bpart_t *b = l->bp;
	myco_partition_t *p = &b->p;
	const char *w = l->def->word;
	cur_t *k = &l->k;
	myco_end_role_t role = (myco_end_role_t)l->def->param;
	do {
		myco__arg_t *a = myco__want_ident(k, "a channel name");
		if (!a)
			break;
		uint32_t ci = myco__htab_get(&c->hchan, a->text);
		uint32_t si = role == MYCO_END_SERVE && ci == MYCO_LANG_NONE
			? myco__htab_get(&c->hsvc, a->text) : MYCO_LANG_NONE;
		if (si != MYCO_LANG_NONE) {
			/* `serve NAME;` of a service: this partition answers it */
			bservice_t *sv = &c->svcs[si];
			if (sv->nserve && sv->s.server == (uint32_t)(b - c->parts)) {
				ERR(c, "E021", a->pos, a->len, "list each service once",
				    "partition `%s` already has `%s %s`", p->name, w, a->text);
				continue;
			}
			if (sv->nserve < 2)
				sv->serve_pos[sv->nserve] = a->pos;
			if (!sv->nserve)
				sv->s.server = (uint32_t)(b - c->parts);
			sv->nserve++;
			continue;
		}
		if (ci == MYCO_LANG_NONE) {
			const char *best = myco__closest(a->text, c->nchan, c->nchans);
			ERR(c, "E020", a->pos, a->len,
			    myco__mean(c, a->text, c->nchan, c->nchans, "declare it with `channel`"),
			    "unknown channel `%s`", a->text);
			/* the misspelt channel probably meant `best`: do not
			 * also report its ends as missing */
			if (best)
				c->chans[myco__htab_get(&c->hchan, best)].unsure = true;
			continue;
		}
		bchan_t *ch = &c->chans[ci];
		bool fits = (role == MYCO_END_SEND || role == MYCO_END_RECV)
			    ? ch->c.kind != MYCO_LANG_CALL : ch->c.kind == MYCO_LANG_CALL;
		if (!fits) {
			const char *h = ch->c.kind == MYCO_LANG_CALL
				? "use `call` (client) or `serve` (server) for a call channel"
				: "use `send` or `recv` for queue and sample channels";
			ch->bad = true;   /* no end-count errors on top */
			ERR(c, "E053", a->pos, a->len, h, "`%s` does not fit %s channel `%s`",
			    w, myco__kind_names[ch->c.kind], a->text);
			continue;
		}
		bool dup = false;
		for (size_t e = 0; e < b->nends; e++)
			if (b->ends[e].channel == ci && b->ends[e].role == role)
				dup = true;
		if (dup) {
			ERR(c, "E021", a->pos, a->len, "list each channel end once",
			    "partition `%s` already has `%s %s`", p->name, w, a->text);
			continue;
		}
		myco_end_t e = { ci, role, a->pos };
		if (MYCO__PUSH(b->ends, b->nends, b->cends, e)) {
			c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

void myco__lower_part_listen(myco__lower_t *l)
{
	ctx_t *c = l->c;
	bpart_t *b = l->bp;
	part_acc_t *pa = l->pa;
	cur_t *k = &l->k;
	uint64_t v;
	do {
		myco__arg_t *a = myco__peek(k);
		if (!myco__want_uint(k, "a port number", 1, 65535, &v))
			break;
		if (!c->port_owner)
			c->port_owner = calloc(65536, sizeof(*c->port_owner));
		if (!c->port_owner) {
			c->oom = true;
			return;
		}
		uint32_t self = (uint32_t)(b - c->parts) + 1;
		uint32_t owner = c->port_owner[v];
		if (owner == self) {
			ERR(c, "E021", a->pos, a->len, "list each port once",
			    "port %llu listed twice", (unsigned long long)v);
			continue;
		}
		if (owner) {
			char h[300];
			snprintf(h, sizeof(h), "partition `%s` already listens on it; "
				 "two partitions cannot listen on one port",
				 c->parts[owner - 1].p.name);
			ERR(c, "E071", a->pos, a->len, myco__arena_strdup(&c->pa, h),
			    "port %llu is taken", (unsigned long long)v);
			continue;
		}
		c->port_owner[v] = self;
		if (MYCO__PUSH(pa->ports, pa->nports, pa->cports, (uint16_t)v)) {
			c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

void myco__lower_part_path(myco__lower_t *l)
{
	ctx_t *c = l->c;
	part_acc_t *pa = l->pa;
	cur_t *k = &l->k;
	myco__arg_t *a = myco__want_str(k, "a path in quotes");
	static const char *const rwn[] = { "ro", "rw" };
	int m = a ? myco__want_choice(k, "access mode", rwn, 2) : -1;
	if (m < 0 || !myco__want_end(k))
		return;
	if (a->text[0] != '/') {
		ERR(c, "E032", a->pos, a->len, "write an absolute path starting with /",
		    "path \"%s\" is not absolute", a->text);
		return;
	}
	myco_pathres_t r = { myco__astr(c, a->text), m == 1, a->pos };
	if (MYCO__PUSH(pa->paths, pa->npaths, pa->cpaths, r))
		c->oom = true;
}

void myco__lower_part_net(myco__lower_t *l)
{
	if (myco__want_end(&l->k))
		l->bp->p.net = true;
}

void myco__lower_part_restart(myco__lower_t *l)
{
	int r = myco__want_choice(&l->k, "restart type", myco__restart_names, 3);
	if (r >= 0 && myco__want_end(&l->k))
		l->bp->p.restart = (myco_restart_t)r;
}

void myco__lower_part_heartbeat(myco__lower_t *l)
{
	cur_t *k = &l->k;
	uint64_t v;
	myco__arg_t *a = myco__peek(k);
	if (!myco__want_qty(k, true, "heartbeat", &v) || !myco__want_end(k))
		return;
	if (v == 0)
		ERR(l->c, "E032", a->pos, a->len, "leave `heartbeat` out for none",
		    "heartbeat period must be greater than zero");
	else
		l->bp->p.heartbeat_ns = v;
}

void myco__lower_part_misses(myco__lower_t *l)
{
	uint64_t v;
	l->pa->misses_a = &l->x->args[0];
	if (myco__want_uint(&l->k, "misses", 1, 1000000, &v) && myco__want_end(&l->k)) {
		l->bp->p.misses = (uint32_t)v;
		l->pa->has_misses = true;
	}
}

void myco__lower_part_readiness(myco__lower_t *l)
{
	static const char *const rn[] = { "optional", "required" };
	int r = myco__want_choice(&l->k, "readiness", rn, 2);
	if (r >= 0 && myco__want_end(&l->k))
		l->bp->p.ready = r == 1;
}

void myco__lower_part_user(myco__lower_t *l)
{
	myco_partition_t *p = &l->bp->p;
	cur_t *k = &l->k;
	const char *un = NULL, *gn = NULL;
	uint32_t uid = 0, gid = 0;
	bool grp = false;
	if (!want_id(k, "user", &un, &uid))
		return;
	myco__arg_t *g = myco__peek(k);
	if (g && g->kind == MYCO__A_IDENT && !strcmp(g->text, "group")) {
		k->i++;
		if (!want_id(k, "group", &gn, &gid))
			return;
		grp = true;
	}
	if (!myco__want_end(k))
		return;
	p->run_as = true;
	p->user_name = un;
	p->uid = uid;
	p->run_group = grp;
	p->group_name = gn;
	p->gid = gid;
	p->user_pos = l->x->pos;
}

/* `pids N;`: the cgroup pids limit (absent: MYCO_LANG_PIDS_DEFAULT, applied
 * by the executive). */
void myco__lower_part_pids(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_uint(&l->k, "the pids limit", 1, MYCO_LANG_PIDS_MAX, &v) &&
	    myco__want_end(&l->k))
		l->bp->p.pids_max = (uint32_t)v;
}

/* `cache ways N;`: last-level cache ways through resctrl. */
void myco__lower_part_cache(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_word(&l->k, "ways", "`ways`") &&
	    myco__want_uint(&l->k, "the number of cache ways", 1, 64, &v) && myco__want_end(&l->k))
		l->bp->p.cache_ways = (uint32_t)v;
}

void myco__lower_partition(ctx_t *c, bpart_t *b)
{
	myco_partition_t *p = &b->p;
	part_acc_t pa = { 0 };
	p->group = MYCO_LANG_NONE;
	p->misses = 3;
	if (MYCO__PUSH(pa.argv, pa.nargv, pa.cargv, NULL) ||
	    MYCO__PUSH(pa.argv, pa.nargv, pa.cargv, NULL))
		goto oom;
	myco__lower_t l = { .c = c, .bp = b, .pa = &pa };
	myco__lower_block(&l, b->st, MYCO__B_PARTITION, NULL, &b->bad);
	if (c->oom)
		goto out;
	if (pa.has_misses && !p->heartbeat_ns && pa.misses_a)
		ERR(c, "E023", pa.misses_a->pos, pa.misses_a->len,
		    "add `heartbeat 100 ms;` (or drop `misses`)", "`misses` without a `heartbeat`");
	myco__lower_part_health_done(c, p);
	myco__lower_part_sched_done(c, p);
	if (!p->program && !b->bad)
		ERR(c, "E023", p->pos, (uint32_t)strlen(p->name), "add `program \"./binary\";`",
		    "partition `%s` has no program", p->name);
	/* finalise arrays into the model arena */
	pa.argv[0] = p->program ? p->program : "";
	const char **av = myco__arena_alloc(&c->ma, pa.nargv * sizeof(*av));
	const char **ev = myco__arena_alloc(&c->ma, (pa.nenv + 1) * sizeof(*ev));
	uint32_t *cv = myco__arena_alloc(&c->ma, pa.ncores * sizeof(*cv) + 1);
	uint16_t *pv = myco__arena_alloc(&c->ma, pa.nports * sizeof(*pv) + 1);
	myco_pathres_t *rv = myco__arena_alloc(&c->ma, pa.npaths * sizeof(*rv) + 1);
	if (!av || !ev || !cv || !pv || !rv)
		goto oom;
	memcpy(av, pa.argv, pa.nargv * sizeof(*av));
	if (pa.nenv)
		memcpy(ev, pa.env, pa.nenv * sizeof(*ev));
	if (pa.ncores)
		memcpy(cv, pa.cores, pa.ncores * sizeof(*cv));
	qsort(cv, pa.ncores, sizeof(*cv), u32_cmp);
	if (pa.nports)
		memcpy(pv, pa.ports, pa.nports * sizeof(*pv));
	if (pa.npaths)
		memcpy(rv, pa.paths, pa.npaths * sizeof(*rv));
	p->argc = pa.nargv - 1;   /* argv[0] = program, then args */
	p->argv = av;
	p->env = ev;
	p->nenv = pa.nenv;
	p->cores = cv;
	p->ncores = pa.ncores;
	p->ports = pv;
	p->nports = pa.nports;
	p->paths = rv;
	p->npaths = pa.npaths;
	goto out;
oom:
	c->oom = true;
out:
	free(pa.argv);
	free(pa.env);
	free(pa.cores);
	free(pa.ports);
	free(pa.paths);
	myco__htab_free(&pa.envh);
}

/* `record always|on crash [keep SIZE] [for TIME];` (docs/replay.md). */
void myco__lower_part_record(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco_partition_t *p = &l->bp->p;
	myco__arg_t *a = myco__peek(k), *w0 = &l->x->args[0];
	myco_record_t mode;

	if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "always")) {
		k->i++;
		mode = MYCO_RECORD_ALWAYS;
	} else if (a && a->kind == MYCO__A_IDENT && !strcmp(a->text, "on")) {
		k->i++;
		if (!myco__want_word(k, "crash", "`crash` (record on crash;)"))
			return;
		mode = MYCO_RECORD_CRASH;
	} else {
		ERR(l->c, "E140", a ? a->pos : w0->pos, a ? a->len : w0->len,
		    "write `record always;` or `record on crash;`",
		    "`record` needs a mode: always or on crash");
		return;
	}
	uint64_t bytes = 0, ns = 0;
	for (;;) {
		myco__arg_t *b = myco__peek(k);
		if (!b || b->kind != MYCO__A_IDENT)
			break;
		if (!strcmp(b->text, "keep") && !bytes) {
			k->i++;
			myco__arg_t *q = myco__peek(k);
			if (!myco__want_qty(k, false, "keep", &bytes))
				return;
			if (bytes < MYCO_LANG_RECORD_MIN || bytes > MYCO_LANG_RECORD_MAX) {
				ERR(l->c, "E141", q->pos, q->len, "keep between 1 MiB and 64 GiB",
				    "a record log must keep between 1 MiB and 64 GiB");
				return;
			}
		} else if (!strcmp(b->text, "for") && !ns) {
			k->i++;
			myco__arg_t *q = myco__peek(k);
			if (!myco__want_qty(k, true, "for", &ns))
				return;
			if (ns < 1000000000ull) {
				ERR(l->c, "E141", q->pos, q->len, "keep at least 1 s of log",
				    "a record log must cover at least 1 s");
				return;
			}
		} else {
			break;
		}
	}
	if (!myco__want_end(k))
		return;
	p->record = mode;
	p->record_bytes = bytes;
	p->record_ns = ns;
}
