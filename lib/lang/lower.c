/*
 * lower.c: the system statement.  Pass 1 walks the system's statements
 * through the statement table and registers every name (channels,
 * partitions, groups, message types, enums) so that order does not matter;
 * pass 2 lowers the bodies: message types (layout.c), channels, partitions
 * (lower_part.c), groups and the frame schedule, each statement by its
 * handler here, and services (lower_svc.c); then the whole-system checks
 * (verify.c).  Not for: files and
 * imports (import.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"

/* ------------------------------------------------------- system, pass 1 */

void myco__lower_machine(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *s = l->x;
	if (!myco__args_done(&l->k) || !myco__want_block(c, s, l->def->usage))
		return;
	myco__lower_t m = { .c = c };
	myco__lower_block(&m, s, MYCO__B_MACHINE, NULL, NULL);
}

void myco__lower_channel_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco__arg_t *a = myco__decl_open(l);
	if (!a)
		return;
	int kind = myco__want_choice(&l->k, "channel kind", myco__kind_names, 3);
	if (kind < 0 || !myco__decl_block(l))
		return;
	bchan_t b = { 0 };
	b.st = x;
	b.bad = x->bad;
	b.c.name = myco__astr(c, a->text);
	b.c.pos = a->pos;
	b.c.kind = (myco_lang_chan_kind_t)kind;
	if (myco__reg_name(c, &c->hchan, c->nchans, a, "channel"))
		return;
	if (MYCO__PUSH(c->chans, c->nchans, c->cchans, b))
		c->oom = true;
}

void myco__lower_partition_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco__arg_t *a = myco__decl_open(l);
	if (!a || !myco__decl_block(l))
		return;
	bpart_t b = { 0 };
	b.st = x;
	b.bad = x->bad;
	b.p.name = myco__astr(c, a->text);
	b.p.pos = a->pos;
	b.p.group = MYCO_LANG_NONE;
	if (myco__reg_name(c, &c->hpart, c->nparts, a, "partition"))
		return;
	if (MYCO__PUSH(c->parts, c->nparts, c->cparts, b))
		c->oom = true;
}

void myco__lower_group_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	myco__arg_t *a = myco__decl_open(l);
	if (!a || !myco__decl_block(l))
		return;
	bgroup_t b = { 0 };
	b.st = x;
	b.bad = x->bad;
	b.g.name = myco__astr(c, a->text);
	b.g.pos = a->pos;
	if (myco__reg_name(c, &c->hgroup, c->ngroups, a, "group"))
		return;
	if (MYCO__PUSH(c->groups, c->ngroups, c->cgroups, b))
		c->oom = true;
}

void myco__lower_schedule_decl(myco__lower_t *l)
{
	ctx_t *c = l->c;
	if (c->sched_st) {
		ERR(c, "E022", l->x->pos, 8, "put all cores in one schedule block",
		    "more than one schedule");
		return;
	}
	c->sched_st = l->x;
}

void myco__lower_import_in_system(myco__lower_t *l)
{
	ERR(l->c, "E092", l->x->pos, 6, "put imports at the top of the file, outside the system",
	    "`import` inside a system");
}

/* ------------------------------------------------------ host resources */

/* "ADDR:PORT" or "[V6ADDR]:PORT" with a numeric address: 0, or the reason
 * it is not one. */
static const char *split_hostport(const char *t, char *addr, size_t alen, uint64_t *port)
{
	const char *colon, *a0 = t, *a1;
	if (t[0] == '[') {
		a0 = t + 1;
		a1 = strchr(a0, ']');
		if (!a1)
			return "`[` without `]`";
		colon = a1 + 1;
		if (*colon != ':')
			return "no port";
	} else {
		colon = strrchr(t, ':');
		if (!colon)
			return "no port";
		a1 = colon;
		if (memchr(t, ':', (size_t)(colon - t)))
			return "an IPv6 address goes in brackets, as in \"[::1]:9100\"";
	}
	size_t n = (size_t)(a1 - a0);
	if (!n)
		return "no address";
	if (n >= alen)
		return "not a numeric IPv4 or IPv6 address";
	memcpy(addr, a0, n);
	addr[n] = 0;
	const char *p = colon + 1;
	uint64_t v = 0;
	if (!*p)
		return "no port";
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return "the port is a number from 1 to 65535";
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return "the port is a number from 1 to 65535";
	unsigned char buf[16];
	bool v6 = t[0] == '[';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1)
		return v6 ? "not a numeric IPv6 address" : "not a numeric IPv4 address";
	*port = v;
	return NULL;
}

/* `metrics 9100;` / `dashboard 8080;` (loopback) or "ADDR:PORT": the port
 * and numeric address in *port and addr (64 bytes), or false after an
 * error naming WHAT. */
static bool lower_listen(myco__lower_t *l, const char *what, uint64_t *port, char *addr,
			 myco__arg_t **arg, bool more)
{
	ctx_t *c = l->c;
	cur_t *k = &l->k;
	myco__arg_t *a = myco__peek(k);
	char label[48];
	snprintf(addr, 64, "127.0.0.1");
	if (a && a->kind == MYCO__A_STR) {
		k->i++;
		const char *why = strlen(a->text) == a->textlen
			? split_hostport(a->text, addr, 64, port) : "not a numeric IPv4 address";
		if (why) {
			ERR(c, "E073", a->pos, a->len,
			    !strcmp(what, "metrics")
			    ? "write \"ADDR:PORT\" with a numeric address, e.g. \"0.0.0.0:9100\" or "
			      "\"[::1]:9100\", or only the port for loopback"
			    : "write \"ADDR:PORT\" with a numeric address, e.g. \"0.0.0.0:8080\" or "
			      "\"[::1]:8080\", or only the port for loopback",
			    "invalid %s address \"%s\": %s", what, a->text, why);
			return false;
		}
	} else if (a && (a->kind == MYCO__A_NUM || a->kind == MYCO__A_QTY)) {
		snprintf(label, sizeof(label), "the %s port", what);
		if (!myco__want_uint(k, label, 1, 65535, port))
			return false;
	} else {
		myco__expected(k, "a port number or \"ADDR:PORT\"");
		return false;
	}
	if (!more && !myco__want_end(k))
		return false;
	*arg = a;
	return true;
}

/* `metrics 9100;` (loopback) or `metrics "ADDR:PORT";`. */
void myco__lower_metrics(myco__lower_t *l)
{
	ctx_t *c = l->c;
	char addr[64];
	uint64_t port;
	myco__arg_t *a;
	if (!lower_listen(l, "metrics", &port, addr, &a, false))
		return;
	c->sys->metrics_port = (uint16_t)port;
	c->sys->metrics_addr = myco__astr(c, addr);
	c->sys->metrics_pos = l->x->pos;
	c->metrics_arg = a;
}

/* `dashboard 8080;` (loopback) or `dashboard "ADDR:PORT";`. */
void myco__lower_dashboard(myco__lower_t *l)
{
	ctx_t *c = l->c;
	char addr[64];
	uint64_t port;
	myco__arg_t *a;
	if (!lower_listen(l, "dashboard", &port, addr, &a, true))
		return;
	c->sys->dashboard_port = (uint16_t)port;
	c->sys->dashboard_addr = myco__astr(c, addr);
	c->sys->dashboard_pos = l->x->pos;
	c->dashboard_arg = a;
	/* `actions kill, restart, stop, chaos` or `actions all` */
	cur_t *k = &l->k;
	myco__arg_t *w = myco__peek(k);
	if (!w || w->kind != MYCO__A_IDENT || strcmp(w->text, "actions")) {
		myco__want_end(k);
		return;
	}
	k->i++;
	static const char *const acts[] = { "kill", "restart", "stop", "chaos", "all" };
	static const uint32_t bits[] = { MYCO_DASH_ACT_KILL, MYCO_DASH_ACT_RESTART,
					 MYCO_DASH_ACT_STOP, MYCO_DASH_ACT_CHAOS,
					 MYCO_DASH_ACT_ALL };
	do {
		w = myco__peek(k);
		size_t i = 0;
		while (w && w->kind == MYCO__A_IDENT && i < 5 && strcmp(w->text, acts[i]))
			i++;
		if (!w || w->kind != MYCO__A_IDENT || i == 5) {
			ERR(c, "E099", w ? w->pos : l->x->pos, w ? w->len : 1,
			    "write one or more of kill, restart, stop, chaos, or all",
			    "unknown dashboard action `%s`",
			    w && w->kind == MYCO__A_IDENT ? w->text : "");
			k->failed = true;
			return;
		}
		k->i++;
		c->sys->dashboard_actions |= bits[i];
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

/* `shield cores N, M;` (checked against the machine in verify.c). */
void myco__lower_shield(myco__lower_t *l)
{
	ctx_t *c = l->c;
	cur_t *k = &l->k;
	uint64_t v, mask = 0;
	c->shield_st = l->x;
	if (!myco__want_word(k, "cores", "`cores`"))
		return;
	do {
		myco__arg_t *a = myco__peek(k);
		if (!myco__want_uint(k, "a core number", 0, 63, &v))
			break;
		if (mask & (1ull << v)) {
			ERR(c, "E021", a->pos, a->len, "list each core once",
			    "core %llu listed twice", (unsigned long long)v);
			continue;
		}
		mask |= 1ull << v;
		struct shield_core sc = { (uint32_t)v, a };
		if (MYCO__PUSH(c->shield, c->nshield, c->cshield, sc)) {
			c->oom = true;
			return;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

/* ---------------------------------------------------------------- machine */

void myco__lower_machine_cores(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_uint(&l->k, "the number of cores", 1, 4096, &v) && myco__want_end(&l->k))
		l->c->sys->machine_cores = (uint32_t)v;
}

void myco__lower_machine_memory(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_qty(&l->k, false, "memory", &v) && myco__want_end(&l->k))
		l->c->sys->machine_memory = v;
}

/* --------------------------------------------------------------- channels */

uint32_t myco__want_msg(cur_t *k, const char *what)
{
	myco__arg_t *a = myco__want_ident(k, what);
	if (!a)
		return MYCO_LANG_NONE;
	uint32_t mi = myco__htab_get(&k->c->hmsg, a->text);
	if (mi == MYCO_LANG_NONE && myco__htab_get(&k->c->henum, a->text) != MYCO_LANG_NONE) {
		k->failed = true;
		ERR(k->c, "E020", a->pos, a->len, "channels carry messages; wrap the enum in a message",
		    "`%s` is an enum, not a message type", a->text);
		return MYCO_LANG_NONE;
	}
	if (mi == MYCO_LANG_NONE) {
		k->failed = true;
		ERR(k->c, "E020", a->pos, a->len,
		    myco__mean(k->c, a->text, k->c->nmsg, k->c->nmsgs, "declare it with `message` or import it"),
		    "unknown message type `%s`", a->text);
	}
	return mi;
}


/* A statement in a channel of a kind it does not apply to (E050); the
 * hint lists what the kind takes, from the table. */
static bool chan_admits(myco__lower_t *l)
{
	myco_channel_t *ch = &l->bc->c;
	unsigned bit = MYCO__S_QUEUE << ch->kind;
	if (l->def->flags & bit)
		return true;
	const char *w[64];
	size_t n = myco__stmt_words(MYCO__B_CHANNEL, w, 64);
	char h[256];
	snprintf(h, sizeof(h), "%s takes:", ch->kind == MYCO_LANG_QUEUE ? "a queue"
			       : ch->kind == MYCO_LANG_SAMPLE ? "a sample channel" : "a call channel");
	bool first = true;
	for (size_t i = 0; i < n && i < 64; i++) {
		const myco__stmt_def_t *d = myco__stmt_find(MYCO__B_CHANNEL, w[i]);
		if (!(d->flags & bit))
			continue;
		strncat(h, first ? " " : ", ", sizeof(h) - strlen(h) - 1);
		strncat(h, w[i], sizeof(h) - strlen(h) - 1);
		first = false;
	}
	ERR(l->c, "E050", l->x->pos, (uint32_t)strlen(l->def->word),
	    myco__arena_strdup(&l->c->pa, h), "`%s` does not apply to a %s channel", l->def->word,
	    myco__kind_names[ch->kind]);
	return false;
}

void myco__lower_chan_type(myco__lower_t *l)
{
	uint32_t mi = myco__want_msg(&l->k, "a message type");
	if (mi != MYCO_LANG_NONE && myco__want_end(&l->k))
		l->bc->c.msg = mi;
	else
		l->bc->bad = true;
}

void myco__lower_chan_depth(myco__lower_t *l)
{
	cur_t *k = &l->k;
	uint64_t v;
	myco__arg_t *a = myco__peek(k);
	if (a && a->kind == MYCO__A_NUM && !strcmp(a->text, "0")) {
		ERR(l->c, "E032", a->pos, a->len, "a queue holds at least one message",
		    "queue depth must be at least 1");
		l->bc->bad = true;
	} else if (myco__want_uint(k, "the queue depth", 1, 1u << 24, &v) && myco__want_end(k)) {
		l->bc->c.depth = (uint32_t)v;
	}
}

void myco__lower_chan_overflow(myco__lower_t *l)
{
	int o = myco__want_choice(&l->k, "overflow policy", myco__overflow_names, 3);
	if (o >= 0 && myco__want_end(&l->k))
		l->bc->c.overflow = (myco_overflow_t)o;
}

void myco__lower_chan_refresh(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_qty(&l->k, true, "refresh", &v) && myco__want_end(&l->k))
		l->bc->c.refresh_ns = v;
}

/* `request` (param 1) and `reply` (param 0). */
void myco__lower_chan_request(myco__lower_t *l)
{
	uint32_t mi = myco__want_msg(&l->k, "a message type");
	if (mi != MYCO_LANG_NONE && myco__want_end(&l->k)) {
		if (l->def->param)
			l->bc->c.request = mi;
		else
			l->bc->c.reply = mi;
	} else {
		l->bc->bad = true;
	}
}

void myco__lower_chan_timeout(myco__lower_t *l)
{
	uint64_t v;
	if (myco__want_qty(&l->k, true, "timeout", &v) && myco__want_end(&l->k))
		l->bc->c.timeout_ns = v;
}

void myco__lower_chan_inflight(myco__lower_t *l)
{
	int o = myco__want_choice(&l->k, "in-flight call policy", myco__inflight_names, 2);
	if (o >= 0 && myco__want_end(&l->k))
		l->bc->c.inflight = (myco_inflight_t)o;
}

static void lower_channel(ctx_t *c, bchan_t *b)
{
	myco_channel_t *ch = &b->c;
	ch->msg = ch->request = ch->reply = ch->receiver = ch->server = MYCO_LANG_NONE;
	ch->depth = 16;
	myco__lower_t l = { .c = c, .bc = b };
	myco__lower_block(&l, b->st, MYCO__B_CHANNEL, chan_admits, &b->bad);
	if (b->bad)
		return;
	uint32_t nl = (uint32_t)strlen(ch->name);
	if (ch->kind != MYCO_LANG_CALL && ch->msg == MYCO_LANG_NONE) {
		ERR(c, "E023", ch->pos, nl, "add `type MessageName;`",
		    "%s channel `%s` has no message type", myco__kind_names[ch->kind], ch->name);
		b->bad = true;
	}
	if (ch->kind == MYCO_LANG_CALL && (ch->request == MYCO_LANG_NONE || ch->reply == MYCO_LANG_NONE)) {
		ERR(c, "E023", ch->pos, nl, "add `request MessageName;` and `reply MessageName;`",
		    "call channel `%s` needs a %s type", ch->name,
		    ch->request == MYCO_LANG_NONE ? "request" : "reply");
		b->bad = true;
	}
}

/* ----------------------------------------------------------------- groups */

void myco__lower_group_strategy(myco__lower_t *l)
{
	int r = myco__want_choice(&l->k, "strategy", myco__strategy_names, 3);
	if (r >= 0 && myco__want_end(&l->k))
		l->bg->g.strategy = (myco_strategy_t)r;
}

void myco__lower_group_restarts(myco__lower_t *l)
{
	cur_t *k = &l->k;
	uint64_t v, v2;
	if (!myco__want_uint(k, "the restart limit", 0, 1000000, &v))
		return;
	if (!myco__want_word(k, "within", "`within`"))
		return;
	myco__arg_t *pa = myco__peek(k);
	if (!myco__want_qty(k, true, "the period", &v2) || !myco__want_end(k))
		return;
	if (v2 == 0) {
		ERR(l->c, "E062", pa->pos, pa->len, "the period is greater than zero",
		    "restart period must be greater than zero");
		return;
	}
	l->bg->g.max_restarts = (uint32_t)v;
	l->bg->g.within_ns = v2;
}

/* A group's members while its block is walked (lower_group copies them
 * into the model). */
struct group_acc {
	uint32_t *v;
	size_t n, cap;
	bool given;
};

void myco__lower_group_members(myco__lower_t *l)
{
	ctx_t *c = l->c;
	bgroup_t *b = l->bg;
	myco_group_t *g = &b->g;
	uint32_t gi = l->gi;
	cur_t *k = &l->k;
	group_acc_t *m = l->ga;
	m->given = true;
	do {
		myco__arg_t *a = myco__want_ident(k, "a partition name");
		if (!a)
			break;
		uint32_t pi = myco__htab_get(&c->hpart, a->text);
		if (pi == MYCO_LANG_NONE) {
			ERR(c, "E020", a->pos, a->len,
			    myco__mean(c, a->text, c->npart, c->nparts, "declare it with `partition`"),
			    "unknown partition `%s` in group `%s`", a->text, g->name);
			b->bad = true;
			continue;
		}
		bpart_t *bp = &c->parts[pi];
		if (bp->p.group == gi) {
			ERR(c, "E021", a->pos, a->len, "list each member once",
			    "partition `%s` is listed twice in group `%s`", a->text, g->name);
			continue;
		}
		if (bp->p.group != MYCO_LANG_NONE) {
			char h[300];
			snprintf(h, sizeof(h), "it is already a member of group `%s`; "
				 "a partition has one supervisor", c->groups[bp->p.group].g.name);
			ERR(c, "E081", a->pos, a->len, myco__arena_strdup(&c->pa, h),
			    "partition `%s` is in two groups", a->text);
			continue;
		}
		bp->p.group = gi;
		if (MYCO__PUSH(m->v, m->n, m->cap, pi)) {
			c->oom = true;
			break;
		}
	} while (myco__at_punct(k, ',') && ++k->i);
	myco__want_end(k);
}

static void lower_group(ctx_t *c, bgroup_t *b, uint32_t gi)
{
	myco_group_t *g = &b->g;
	group_acc_t m = { 0 };
	g->max_restarts = 3;
	g->within_ns = 5000000000ull;
	myco__lower_t l = { .c = c, .bg = b, .ga = &m, .gi = gi };
	myco__lower_block(&l, b->st, MYCO__B_GROUP, NULL, &b->bad);
	if (!m.given && !b->bad)
		ERR(c, "E082", g->pos, (uint32_t)strlen(g->name), "add `members a, b;`",
		    "group `%s` has no members", g->name);
	uint32_t *mv = myco__arena_alloc(&c->ma, m.n * sizeof(*mv) + 1);
	if (!mv)
		c->oom = true;
	else if (m.n)
		memcpy(mv, m.v, m.n * sizeof(*mv));
	g->members = mv;
	g->nmembers = mv ? m.n : 0;
	free(m.v);
}

/* --------------------------------------------------------------- schedule */

typedef struct bwin {
	myco_window_t w;
	uint32_t core;
	uint32_t len;              /* span of the window statement for carets */
} bwin_t;

static int win_cmp(const void *a, const void *b)
{
	const bwin_t *x = a, *y = b;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	if (x->w.offset_ns != y->w.offset_ns)
		return x->w.offset_ns < y->w.offset_ns ? -1 : 1;
	return x->w.pos.line < y->w.pos.line ? -1 : x->w.pos.line > y->w.pos.line;
}


/* The schedule while its block is walked. */
struct sched_acc {
	bwin_t *w;
	size_t nw, cw;
	uint64_t coremask;         /* cores that have a block */
	bool has_major;            /* `major_frame` given (even if invalid) */
};

void myco__lower_sched_major(myco__lower_t *l)
{
	cur_t *k = &l->k;
	myco__arg_t *a = myco__peek(k);
	uint64_t v;
	l->sa->has_major = true;
	if (myco__want_qty(k, true, "major_frame", &v) && myco__want_end(k)) {
		if (v == 0)
			ERR(l->c, "E062", a->pos, a->len, "the major frame is greater than zero",
			    "major frame must be greater than zero");
		else
			l->c->sched.major_ns = v;
	}
}

void myco__lower_sched_core(myco__lower_t *l)
{
	ctx_t *c = l->c;
	myco__stmt_t *x = l->x;
	const myco_system_t *sys = c->sys;
	cur_t *k = &l->k;
	myco__arg_t *ca = myco__peek(k);
	uint64_t core;
	if (!myco__want_uint(k, "a core number", 0, 63, &core))
		return;
	if (!myco__args_done(k) || !myco__want_block(c, x, l->def->usage))
		return;
	if (l->sa->coremask & (1ull << core)) {
		ERR(c, "E022", ca->pos, ca->len, "put all windows of a core in one block",
		    "core %llu appears twice in the schedule", (unsigned long long)core);
		return;
	}
	l->sa->coremask |= 1ull << core;
	if (sys->machine_cores && core >= sys->machine_cores)
		ERR(c, "E066", ca->pos, ca->len, "the machine block declares fewer cores",
		    "core %llu does not exist on this machine (%u cores)",
		    (unsigned long long)core, sys->machine_cores);
	myco__lower_t w = { .c = c, .sa = l->sa, .core = (uint32_t)core };
	myco__lower_block(&w, x, MYCO__B_CORE, NULL, NULL);
}

void myco__lower_core_window(myco__lower_t *l)
{
	ctx_t *c = l->c;
	cur_t *kw2 = &l->k;
	uint64_t core = l->core;
	myco__arg_t *pa = myco__want_ident(kw2, "a partition name");
	if (!pa)
		return;
	if (!myco__want_word(kw2, "at", "`at`"))
		return;
	uint64_t off, dur;
	if (!myco__want_qty(kw2, true, "the offset", &off))
		return;
	if (!myco__want_word(kw2, "for", "`for`"))
		return;
	myco__arg_t *da = myco__peek(kw2);
	if (!myco__want_qty(kw2, true, "the duration", &dur) || !myco__want_end(kw2))
		return;
	if (dur == 0) {
		ERR(c, "E062", da->pos, da->len, "a window lasts longer than zero",
		    "window duration must be greater than zero");
		return;
	}
	uint32_t pi = myco__htab_get(&c->hpart, pa->text);
	if (pi == MYCO_LANG_NONE) {
		ERR(c, "E020", pa->pos, pa->len,
		    myco__mean(c, pa->text, c->npart, c->nparts, "declare it with `partition`"),
		    "unknown partition `%s`", pa->text);
		return;
	}
	bpart_t *bp = &c->parts[pi];
	bp->has_window = true;
	if (bp->p.mode != MYCO_MODE_FRAME && !bp->bad) {
		ERR(c, "E063", pa->pos, pa->len,
		    "add `frame;` to the partition to run it in windows",
		    "partition `%s` is not in frame mode but has a window", pa->text);
		return;
	}
	if (bp->p.ncores && !(bp->p.core_mask & (1ull << core))) {
		ERR(c, "E066", pa->pos, pa->len, "add the core to the partition's `cores`",
		    "partition `%s` gets a window on core %llu but is not allowed on it",
		    pa->text, (unsigned long long)core);
		return;
	}
	bwin_t bw = { { off, dur, pi, pa->pos }, (uint32_t)core,
		      da->pos.line == pa->pos.line ? da->pos.col + da->len - pa->pos.col : pa->len };
	if (MYCO__PUSH(l->sa->w, l->sa->nw, l->sa->cw, bw))
		c->oom = true;
}

static void lower_schedule(ctx_t *c, myco__stmt_t *s)
{
	sched_acc_t acc = { 0 };
	myco_schedule_t *sc = &c->sched;
	sc->pos = s->pos;
	cur_t k0 = myco__cur_of(c, s, myco__stmt_find(MYCO__B_SYSTEM, "schedule")->usage);
	if (!myco__args_done(&k0) ||
	    !myco__want_block(c, s, "schedule { major_frame 20 ms; core 0 { ... } }"))
		return;
	myco__lower_t l = { .c = c, .sa = &acc };
	myco__lower_block(&l, s, MYCO__B_SCHEDULE, NULL, NULL);
	bwin_t *w = acc.w;
	size_t nw = acc.nw;
	if (c->oom)
		goto out;
	if (!sc->major_ns) {
		if (!acc.has_major)
			ERR(c, "E100", s->pos, 8, "add `major_frame 20 ms;`",
			    "schedule has no major frame");
		goto out;
	}
	/* windows: outside the frame, overlaps (sorted per core) */
	if (nw)
		qsort(w, nw, sizeof(*w), win_cmp);
	for (size_t i = 0; i < nw; i++) {
		bwin_t *x = &w[i];
		uint64_t end;
		if (__builtin_add_overflow(x->w.offset_ns, x->w.duration_ns, &end) || end > sc->major_ns) {
			ERR(c, "E064", x->w.pos, x->len, "windows lie within [0, major_frame)",
			    "window of `%s` on core %u ends after the major frame",
			    c->parts[x->w.partition].p.name, x->core);
			continue;
		}
		if (i > 0 && w[i - 1].core == x->core) {
			bwin_t *y = &w[i - 1];
			if (y->w.offset_ns + y->w.duration_ns > x->w.offset_ns &&
			    y->w.offset_ns + y->w.duration_ns <= sc->major_ns) {
				char h[256];
				snprintf(h, sizeof(h), "it overlaps the window of `%s` (line %u)",
					 c->parts[y->w.partition].p.name, y->w.pos.line);
				ERR(c, "E065", x->w.pos, x->len, myco__arena_strdup(&c->pa, h),
				    "windows overlap on core %u", x->core);
			}
		}
	}
	/* model: per core arrays */
	size_t ncores = 0;
	for (size_t i = 0; i < nw; i++)
		if (i == 0 || w[i].core != w[i - 1].core)
			ncores++;
	myco_core_sched_t *cs = myco__arena_alloc(&c->ma, ncores * sizeof(*cs) + 1);
	myco_window_t *wv = myco__arena_alloc(&c->ma, nw * sizeof(*wv) + 1);
	if (!cs || !wv) {
		c->oom = true;
		goto out;
	}
	size_t ci = (size_t)-1;
	for (size_t i = 0; i < nw; i++) {
		if (i == 0 || w[i].core != w[i - 1].core) {
			ci++;
			cs[ci].core = w[i].core;
			cs[ci].windows = &wv[i];
		}
		wv[i] = w[i].w;
		cs[ci].nwindows++;
	}
	sc->cores = cs;
	sc->ncores = ncores;
out:
	free(w);
}

/* ----------------------------------------------------------------- system */

int myco__lower_system(ctx_t *c)
{
	myco__stmt_t *s = c->system;
	myco_system_t *sys = c->sys;
	const char *usage = myco__stmt_find(MYCO__B_FILE, "system")->usage;
	myco__arg_t *na = myco__decl_name(c, s, usage);
	if (na) {
		sys->name = myco__astr(c, na->text);
		sys->pos = na->pos;
		cur_t k = myco__cur_of(c, s, usage);
		k.i = 2;
		if (!myco__args_done(&k))
			return 0;
	}
	if (!myco__want_block(c, s, usage))
		return 0;
	/* pass 1: machine, names of everything */
	myco__lower_t l = { .c = c };
	myco__lower_block(&l, s, MYCO__B_SYSTEM, NULL, NULL);
	if (c->oom)
		return -ENOMEM;
	if (myco__name_lists(c))
		return -ENOMEM;
	/* pass 2: bodies */
	for (size_t i = 0; i < c->nenums; i++)
		myco__lower_enum(c, &c->enums[i]);
	for (size_t i = 0; i < c->nmsgs; i++)
		myco__lower_fields(c, &c->msgs[i]);
	for (size_t i = 0; i < c->nmsgs; i++)
		myco__layout(c, (uint32_t)i, 0);
	for (size_t i = 0; i < c->nchans; i++) {
		lower_channel(c, &c->chans[i]);
		myco_channel_t *ch = &c->chans[i].c;
		if (ch->msg != MYCO_LANG_NONE)
			ch->msg_size = c->msgs[ch->msg].m.size;
		if (ch->request != MYCO_LANG_NONE)
			ch->request_size = c->msgs[ch->request].m.size;
		if (ch->reply != MYCO_LANG_NONE)
			ch->reply_size = c->msgs[ch->reply].m.size;
	}
	for (size_t i = 0; i < c->nparts; i++)
		myco__lower_partition(c, &c->parts[i]);
	for (size_t i = 0; i < c->ngroups; i++)
		lower_group(c, &c->groups[i], (uint32_t)i);
	if (c->sched_st)
		lower_schedule(c, c->sched_st);
	for (size_t i = 0; i < c->nsvcs; i++)
		myco__lower_service(c, &c->svcs[i]);
	myco__lower_chaos_all(c);
	if (c->oom)
		return -ENOMEM;
	myco__check_channels(c);
	myco__check_services(c);
	myco__check_call_cycles(c);
	myco__check_time_and_memory(c, sys);
	myco__check_elastic(c);
	myco__check_host(c);
	return c->oom ? -ENOMEM : 0;
}
