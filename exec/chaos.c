/*
 * chaos.c: the executive's chaos engine (docs/chaos.md; contract in
 * chaos.h).  One experiment at a time: its faults are checked against the
 * system, then
 *   - channel faults and SLOW/FDLEAK become slots of the fault table in
 *     the control region of every process of the target partitions
 *     (active, standby, every replacement: myco__ex_chaos_inst), with
 *     absolute windows, so libmyco applies them without the executive;
 *   - clock skew is the table's skew word, set and cleared on the tick;
 *   - kill, hang, CPU hog, memory leak and budget starvation are done
 *     here on the 10 ms tick: SIGKILL through supervision's own kill path,
 *     SIGSTOP/SIGCONT, helper processes placed in the partition's cgroups
 *     (so what they burn is charged to the partition), cgroup CPU quota.
 * Every firing draws from the fault's seed (splitmix64 of seed and firing
 * number), so the same experiment fires the same way.
 * Also here: the experiment's JSON form, the parser of the control
 * request (untrusted input; fuzzed by tests/fuzz/exec/fuzz_chaos_req.c).
 * Not for: the receive-path hook (lib/chan/chaos.c), the CLI and the
 * verdict (cmd/myco/chaos_cmd.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "chaos.h"
#include "exec_int.h"
#include "box/box.h"
#include "box_glue.h"
#include "collect.h"

/* ---- kinds ------------------------------------------------------------- */

static const struct { uint32_t kind; const char *name; } kinds[] = {
	{ MYCO__CHAOS_DROP, "drop" },       { MYCO__CHAOS_DELAY, "delay" },
	{ MYCO__CHAOS_DUPLICATE, "duplicate" }, { MYCO__CHAOS_REORDER, "reorder" },
	{ MYCO__CHAOS_CORRUPT, "corrupt" }, { MYCO__CHAOS_BANDWIDTH, "bandwidth" },
	{ MYCO__CHAOS_STALL, "stall" },     { MYCO__CHAOS_SLOW, "slow" },
	{ MYCO__CHAOS_FDLEAK, "fdleak" },   { MYCO__CHAOS_KILL, "kill" },
	{ MYCO__CHAOS_HANG, "hang" },       { MYCO__CHAOS_HOG, "hog" },
	{ MYCO__CHAOS_LEAK, "leak" },       { MYCO__CHAOS_SKEW, "skew" },
	{ MYCO__CHAOS_STARVE, "starve" },   { MYCO__CHAOS_SLOWSYS, "slowsys" },
};

const char *myco__chaos_kind_name(uint32_t kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == kind)
			return kinds[i].name;
	return "?";
}

int myco__chaos_kind_parse(const char *word)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, word))
			return (int)kinds[i].kind;
	return -EINVAL;
}

int myco__chaos_kind_is_chan(uint32_t kind)
{
	return kind >= MYCO__CHAOS_DROP && kind <= MYCO__CHAOS_STALL;
}

/* ---- JSON form ----------------------------------------------------------- */

#define ERRF(...) do { if (cap) snprintf(err, cap, __VA_ARGS__); return -EINVAL; } while (0)

static int get_u64(const json_t *o, const char *key, uint64_t *out, char *err, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		ERRF("'%s' must be a whole number >= 0", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= MYCO__CHAOS_NAME_MAX)
		return 0;
	if (!strcmp(s, "*"))
		return 1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* 10 minutes of 10 ms ticks: every duration and time is bounded by a day. */
#define T_MAX (86400ull * 1000000000ull)

int myco__chaos_from_json(const json_t *req, struct myco__chaos_exp *e,
			  char *err, size_t cap)
{
	const json_t *fl, *v;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(req))
		ERRF("the experiment must be a JSON object");
	v = json_object_get(req, "experiment");
	if (v) {
		if (!json_is_string(v) || !name_ok(json_string_value(v)) ||
		    !strcmp(json_string_value(v), "*"))
			ERRF("'experiment' must be 1..63 letters, digits, '_' or '-'");
		snprintf(e->name, sizeof(e->name), "%s", json_string_value(v));
	} else {
		snprintf(e->name, sizeof(e->name), "cli");
	}
	if (get_u64(req, "seed", &e->seed, err, cap) ||
	    get_u64(req, "duration_ns", &e->duration_ns, err, cap))
		return -EINVAL;
	if (e->duration_ns > T_MAX)
		ERRF("'duration_ns' is more than a day");
	fl = json_object_get(req, "faults");
	if (!json_is_array(fl) || json_array_size(fl) == 0)
		ERRF("'faults' must be a non-empty array");
	if (json_array_size(fl) > MYCO__CHAOS_MAX_FAULTS)
		ERRF("at most %u faults in one experiment", MYCO__CHAOS_MAX_FAULTS);
	for (i = 0; i < json_array_size(fl); i++) {
		const json_t *o = json_array_get(fl, i), *k, *t, *p, *a;
		struct myco__chaos_fault *f = &e->f[i];
		int kind;

		if (!json_is_object(o))
			ERRF("fault %zu: not an object", i + 1);
		k = json_object_get(o, "kind");
		t = json_object_get(o, "target");
		if (!json_is_string(k) || (kind = myco__chaos_kind_parse(json_string_value(k))) < 0)
			ERRF("fault %zu: 'kind' must be one of drop, delay, duplicate, reorder, "
			     "corrupt, bandwidth, stall, slow, fdleak, kill, hang, hog, leak, "
			     "skew, starve, slowsys", i + 1);
		f->kind = (uint32_t)kind;
		if (!json_is_string(t) || !name_ok(json_string_value(t)))
			ERRF("fault %zu: 'target' must be a partition or channel name, or \"*\"", i + 1);
		snprintf(f->target, sizeof(f->target), "%s", json_string_value(t));
		if (get_u64(o, "at_ns", &f->at_ns, err, cap) ||
		    get_u64(o, "for_ns", &f->for_ns, err, cap) ||
		    get_u64(o, "every_ns", &f->every_ns, err, cap) ||
		    get_u64(o, "seed", &f->seed, err, cap) ||
		    get_u64(o, "arg2", &f->arg2, err, cap))
			return -EINVAL;
		if (f->at_ns > T_MAX || f->for_ns > T_MAX || f->every_ns > T_MAX || f->arg2 > T_MAX)
			ERRF("fault %zu: a time is more than a day", i + 1);
		if (f->every_ns && f->every_ns < 10000000ull)
			ERRF("fault %zu: 'every_ns' below 10 ms (the executive's tick)", i + 1);
		p = json_object_get(o, "prob");
		if (p) {
			double d;

			if (!json_is_number(p))
				ERRF("fault %zu: 'prob' must be a number in [0, 1]", i + 1);
			d = json_number_value(p);
			if (!(d >= 0.0 && d <= 1.0))
				ERRF("fault %zu: 'prob' must be a number in [0, 1]", i + 1);
			f->prob = d >= 1.0 ? UINT32_MAX : (uint32_t)(d * 4294967295.0);
		} else {
			f->prob = UINT32_MAX;
		}
		const json_t *rp = json_object_get(o, "replies");
		if (rp && !json_is_boolean(rp))
			ERRF("fault %zu: 'replies' must be true or false", i + 1);
		if (json_is_true(rp)) {
			if (f->kind != MYCO__CHAOS_DROP && f->kind != MYCO__CHAOS_DELAY &&
			    f->kind != MYCO__CHAOS_CORRUPT && f->kind != MYCO__CHAOS_STALL)
				ERRF("fault %zu: replies take drop, delay, corrupt and stall", i + 1);
			f->flags |= MYCO__CHAOS_F_REPLIES;
		}
		a = json_object_get(o, "arg");
		if (a) {
			if (!json_is_integer(a))
				ERRF("fault %zu: 'arg' must be a whole number", i + 1);
			f->arg = (int64_t)json_integer_value(a);
		}
		switch (f->kind) {
		case MYCO__CHAOS_SKEW:
			if (f->arg < -(int64_t)T_MAX || f->arg > (int64_t)T_MAX)
				ERRF("fault %zu: skew of more than a day", i + 1);
			break;
		case MYCO__CHAOS_HOG: case MYCO__CHAOS_STARVE:
			if (f->arg < 1 || f->arg > 100)
				ERRF("fault %zu: %s takes a percentage 1..100", i + 1,
				     myco__chaos_kind_name(f->kind));
			break;
		case MYCO__CHAOS_CORRUPT:
			if (f->arg < 0 || f->arg > 64)
				ERRF("fault %zu: corrupt flips 1..64 bits", i + 1);
			break;
		default:
			if (f->arg < 0)
				ERRF("fault %zu: 'arg' must be >= 0", i + 1);
			break;
		}
		if (f->kind == MYCO__CHAOS_BANDWIDTH && f->arg == 0)
			ERRF("fault %zu: bandwidth needs a rate in bytes per second", i + 1);
		if (f->kind == MYCO__CHAOS_LEAK && f->arg == 0)
			ERRF("fault %zu: leak needs a rate in bytes per second", i + 1);
		if (f->kind == MYCO__CHAOS_SLOWSYS) {
			unsigned nk = 0;

			while (myco_chaos_syscall_name(nk))
				nk++;
			if (f->arg <= 0 || f->arg > 10000000000ll)
				ERRF("fault %zu: slowsys takes a delay of 1 ns .. 10 s", i + 1);
			if (!f->arg2 || (nk < 64 && f->arg2 >> nk))
				ERRF("fault %zu: slowsys needs its system calls in 'arg2' "
				     "(bit i: the i-th of docs/chaos.md)", i + 1);
			if (!strcmp(f->target, "*"))
				ERRF("fault %zu: slowsys names its partition", i + 1);
		}
		if (f->kind == MYCO__CHAOS_FDLEAK && f->arg == 0)
			ERRF("fault %zu: fdleak needs a rate in fds per second", i + 1);
		if (myco__chaos_kind_is_chan(f->kind) && !strcmp(f->target, "*"))
			ERRF("fault %zu: a channel fault names its channel", i + 1);
	}
	e->nfaults = (uint32_t)i;
	return 0;
}

int myco__chaos_from_model(const myco_chaos_t *m, struct myco__chaos_exp *e,
			   char *err, size_t cap)
{
	memset(e, 0, sizeof(*e));
	if (m->nfaults > MYCO__CHAOS_MAX_FAULTS || m->nfaults == 0)
		ERRF("experiment %s: 1 to %u faults", m->name, MYCO__CHAOS_MAX_FAULTS);
	snprintf(e->name, sizeof(e->name), "%s", m->name);
	e->seed = m->seed;
	e->duration_ns = m->duration_ns;
	for (size_t i = 0; i < m->nfaults; i++) {
		const myco_chaos_fault_t *mf = &m->faults[i];
		struct myco__chaos_fault *f = &e->f[i];
		int kind = myco__chaos_kind_parse(mf->kind);

		if (kind < 0)
			ERRF("experiment %s: unknown fault kind %s", m->name, mf->kind);
		f->kind = (uint32_t)kind;
		snprintf(f->target, sizeof(f->target), "%s", mf->target);
		f->at_ns = mf->at_ns;
		f->for_ns = mf->for_ns;
		f->every_ns = mf->every_ns;
		f->prob = mf->probability >= 1.0 ? UINT32_MAX
			: (uint32_t)(mf->probability * 4294967295.0);
		f->seed = mf->seed;
		f->arg = mf->arg;
		f->arg2 = mf->arg2;
		f->flags = mf->replies ? MYCO__CHAOS_F_REPLIES : 0;
	}
	e->nfaults = (uint32_t)m->nfaults;
	return 0;
}

json_t *myco__chaos_to_json(const struct myco__chaos_exp *e)
{
	json_t *o = json_pack("{s:s,s:I,s:I}", "experiment", e->name, "seed", (json_int_t)e->seed,
			      "duration_ns", (json_int_t)e->duration_ns);
	json_t *fl = json_array();

	if (!o || !fl) {
		json_decref(o);
		json_decref(fl);
		return NULL;
	}
	for (uint32_t i = 0; i < e->nfaults; i++) {
		const struct myco__chaos_fault *f = &e->f[i];
		json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:f,s:I,s:I,s:I}",
				      "kind", myco__chaos_kind_name(f->kind), "target", f->target,
				      "at_ns", (json_int_t)f->at_ns, "for_ns", (json_int_t)f->for_ns,
				      "every_ns", (json_int_t)f->every_ns,
				      "prob", f->prob == UINT32_MAX ? 1.0 : f->prob / 4294967295.0,
				      "seed", (json_int_t)f->seed, "arg", (json_int_t)f->arg,
				      "arg2", (json_int_t)f->arg2);
		if (j && (f->flags & MYCO__CHAOS_F_REPLIES))
			json_object_set_new(j, "replies", json_true());
		if (!j || json_array_append_new(fl, j) < 0) {
			json_decref(o);
			json_decref(fl);
			return NULL;
		}
	}
	json_object_set_new(o, "faults", fl);
	return o;
}

/* ---- the engine ---------------------------------------------------------- */

/* A helper process (hog, leak) in a partition's cgroups. */
struct helper {
	pid_t pid;
	pid_t placed_for;               /* instance pid whose cgroups it joined */
};

struct runf {
	struct myco__chaos_fault f;
	uint64_t seed;                  /* effective */
	uint64_t t_on, t_off;           /* absolute (raw clock); t_off 0 = never */
	uint64_t next_fire;             /* KILL/HANG: next firing, 0 = done */
	uint64_t nfire;                 /* firings so far */
	uint32_t chan;                  /* channel faults: model index */
	uint32_t part;                  /* partition faults: index, UINT32_MAX = "*" */
	bool on;                        /* executive-side fault in effect */
	/* HANG */
	pid_t hung_pid;
	uint32_t hung_part;
	uint64_t resume_at;
	/* HOG / LEAK */
	struct helper h;
	/* STARVE */
	char quota_file[640];
	char quota_old[64];
	pid_t starved_for;
};

/* `slowsys`: the set of system calls trapped per partition (from the
 * system file, fixed at start), the calls held and what was slowed. */
struct slow_hold {
	uint64_t due, id;
	int fd;
	uint32_t part;
	pid_t inst;                     /* the instance whose listener fd is */
};
static struct {
	uint64_t *mask;                 /* per partition; NULL until first use */
	size_t nmask;
	struct slow_hold *v;
	size_t n, cap;
	int tfd;                        /* timer of the earliest due, -1 none */
	uint64_t *slowed;               /* per partition, this experiment */
} slow = { .tfd = -1 };

struct ex_chaos {
	struct myco__chaos_exp e;
	struct runf *rf;                /* e.nfaults */
	uint64_t t0, t_end;             /* raw clock */
	bool running;
	uint64_t kills, hangs;
	char end_reason[64];
	/* per partition: its table (written into every instance) */
	struct myco__chaos_slot (*tab)[MYCO__CHAOS_SLOTS];
	uint32_t *ntab;
	int64_t *skew;
};

static uint64_t raw_now(void)
{
	return myco__now_raw();
}

static uint64_t trap_mask(struct ex_system *s, uint32_t pi)
{
	if (!slow.mask) {
		slow.mask = calloc(s->nparts ? s->nparts : 1, sizeof(*slow.mask));
		slow.slowed = calloc(s->nparts ? s->nparts : 1, sizeof(*slow.slowed));
		if (!slow.mask || !slow.slowed) {
			free(slow.mask);
			free(slow.slowed);
			slow.mask = slow.slowed = NULL;
			return 0;
		}
		slow.nmask = s->nparts;
		for (size_t c = 0; c < s->model->nchaos; c++)
			for (size_t k = 0; k < s->model->chaos[c].nfaults; k++) {
				const myco_chaos_fault_t *f = &s->model->chaos[c].faults[k];

				if (strcmp(f->kind, "slowsys"))
					continue;
				for (size_t i = 0; i < s->nparts; i++)
					if (!strcmp(s->parts[i].name, f->target))
						slow.mask[i] |= f->arg2;
			}
	}
	return pi < slow.nmask ? slow.mask[pi] : 0;
}

size_t myco__ex_chaos_traps(struct ex_system *s, const struct ex_part *p,
			    const char **names, size_t max)
{
	uint64_t m = trap_mask(s, p->idx);
	size_t n = 0;

	for (unsigned i = 0; i < 64 && n < max; i++)
		if (((m >> i) & 1u) && myco_chaos_syscall_name(i))
			names[n++] = myco_chaos_syscall_name(i);
	return n;
}

static int slow_answer(struct ex_system *s, const struct slow_hold *h)
{
	struct ex_part *p = h->part < s->nparts ? &s->parts[h->part] : NULL;
	struct ex_inst *c[3];
	struct myco__box_violation v = { .id = h->id };

	if (!p)
		return -ENOENT;
	c[0] = &p->act;
	c[1] = &p->sb;
	c[2] = &p->dying;
	for (int k = 0; k < 3; k++)
		if (c[k]->pid == h->inst && c[k]->seccomp_fd == h->fd && h->fd >= 0)
			return myco__box_violation_respond(h->fd, &v, MYCO__BOX_CONTINUE, 0);
	return -ENOENT;          /* the instance is gone: so is its call */
}

static void slow_arm(struct ex_system *s)
{
	uint64_t first = UINT64_MAX, now = raw_now();
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	for (size_t i = 0; i < slow.n; i++)
		if (slow.v[i].due < first)
			first = slow.v[i].due;
	if (slow.tfd < 0) {
		if (!slow.n)
			return;
		slow.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (slow.tfd < 0 ||
		    myco__ex_epoll_add(s, slow.tfd, EX_TAG(EXT_CHAOS, 0, slow.tfd)) < 0) {
			if (slow.tfd >= 0)
				close(slow.tfd);
			slow.tfd = -1;
			return;        /* answered on the next tick instead */
		}
	}
	if (first != UINT64_MAX) {
		uint64_t d = first > now ? first - now : 1;
		its.it_value.tv_sec = (time_t)(d / 1000000000u);
		its.it_value.tv_nsec = (long)(d % 1000000000u);
	}
	timerfd_settime(slow.tfd, 0, &its, NULL);
}

void myco__ex_chaos_due(struct ex_system *s)
{
	uint64_t x, now = raw_now();
	size_t k = 0;

	if (slow.tfd >= 0 && read(slow.tfd, &x, sizeof(x)) < 0) {
		/* nothing: look anyway */
	}
	for (size_t i = 0; i < slow.n; i++) {
		if (slow.v[i].due <= now || s->stopping)
			(void)slow_answer(s, &slow.v[i]);
		else
			slow.v[k++] = slow.v[i];
	}
	slow.n = k;
	slow_arm(s);
}

int myco__ex_chaos_syscall(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			   const struct myco__box_violation *v)
{
	struct ex_chaos *x = s->chaos;
	uint64_t m = trap_mask(s, p->idx), now, delay = 0;
	unsigned bit;

	if (!m)
		return 0;
	for (bit = 0; bit < 64; bit++)
		if (((m >> bit) & 1u) && myco_chaos_syscall_name(bit) &&
		    !strcmp(myco_chaos_syscall_name(bit), v->name))
			break;
	if (bit == 64)
		return 0;                /* not trapped: a violation */
	now = raw_now();
	for (uint32_t i = 0; x && x->running && i < x->e.nfaults; i++) {
		struct runf *r = &x->rf[i];
		uint64_t roll;

		if (r->f.kind != MYCO__CHAOS_SLOWSYS || r->part != p->idx ||
		    !((r->f.arg2 >> bit) & 1u) || now < r->t_on ||
		    (r->t_off && now >= r->t_off) || (x->t_end && now >= x->t_end))
			continue;
		roll = myco__chaos_mix(r->seed ^ (r->nfire + 1));
		r->nfire++;
		if (r->f.prob != UINT32_MAX && (uint32_t)(roll >> 32) >= r->f.prob)
			continue;
		if ((uint64_t)r->f.arg > delay)
			delay = (uint64_t)r->f.arg;
	}
	/* a bounded hold: past 4096 held calls the rest run at once */
	if (delay && slow.n < 4096) {
		if (slow.n == slow.cap) {
			size_t nc = slow.cap ? slow.cap * 2 : 64;
			struct slow_hold *nv = realloc(slow.v, nc * sizeof(*nv));
			if (!nv)
				goto now;
			slow.v = nv;
			slow.cap = nc;
		}
		slow.v[slow.n++] = (struct slow_hold){ .due = now + delay, .id = v->id,
			.fd = in->seccomp_fd, .part = p->idx, .inst = in->pid };
		if (slow.slowed && p->idx < slow.nmask)
			slow.slowed[p->idx]++;
		slow_arm(s);
		return 1;
	}
now:
	(void)myco__box_violation_respond(in->seccomp_fd, v, MYCO__BOX_CONTINUE, 0);
	return 1;
}

static uint32_t find_chan(struct ex_system *s, const char *name)
{
	for (size_t i = 0; i < s->model->nchannels; i++)
		if (!strcmp(s->model->channels[i].name, name))
			return (uint32_t)i;
	return UINT32_MAX;
}

/* The (first) partition a fault of channel c acts in: queue: its
 * receiver, call: the server (replies: its first client), sample: its
 * first reader; UINT32_MAX when there is none. */
static uint32_t chan_receiver(const myco_channel_t *c, uint32_t flags)
{
	if (c->kind == MYCO_LANG_QUEUE)
		return c->receiver;
	if (c->kind == MYCO_LANG_CALL && (flags & MYCO__CHAOS_F_REPLIES))
		return c->nclients ? c->clients[0] : UINT32_MAX;
	if (c->kind == MYCO_LANG_CALL)
		return c->server;
	return c->nreceivers ? c->receivers[0] : UINT32_MAX;
}

/* Does channel fault f of channel c act in partition pi?  Every reader of
 * a sample channel, every client for replies, else the one receiver. */
static bool chan_in(const myco_channel_t *c, uint32_t flags, uint32_t pi)
{
	const uint32_t *v = NULL;
	size_t n = 0;

	if (c->kind == MYCO_LANG_SAMPLE) {
		v = c->receivers;
		n = c->nreceivers;
	} else if (c->kind == MYCO_LANG_CALL && (flags & MYCO__CHAOS_F_REPLIES)) {
		v = c->clients;
		n = c->nclients;
	} else {
		return chan_receiver(c, flags) == pi;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i] == pi)
			return true;
	return false;
}

static void write_table(struct ex_chaos *x, uint32_t pi, struct myco__part_ctl *ctl)
{
	struct myco__part_chaos *t;

	if (!ctl)
		return;
	t = (struct myco__part_chaos *)((char *)ctl + MYCO__PART_CHAOS_OFF);
	__atomic_store_n(&t->armed, 0, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < MYCO__CHAOS_SLOTS; i++) {
		struct myco__chaos_slot *d = &t->slot[i];
		const struct myco__chaos_slot *src;
		uint32_t seq = __atomic_load_n(&d->seq, __ATOMIC_RELAXED);

		if (!x || i >= x->ntab[pi]) {
			if (d->kind == MYCO__CHAOS_NONE)
				continue;
			src = NULL;
		} else {
			src = &x->tab[pi][i];
		}
		__atomic_store_n(&d->seq, (seq | 1u), __ATOMIC_RELAXED);
		/* release stores keep the odd seq before them (no fence: the
		 * ThreadSanitizer build does not model fences) */
		__atomic_store_n(&d->kind, src ? src->kind : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->chan, src ? src->chan : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->t_start_ns, src ? src->t_start_ns : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->t_end_ns, src ? src->t_end_ns : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->seed, src ? src->seed : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->prob, src ? src->prob : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->arg_ns, src ? src->arg_ns : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->arg2_ns, src ? src->arg2_ns : 0u, __ATOMIC_RELEASE);
		__atomic_store_n(&d->seq, (seq | 1u) + 1u, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&t->skew_ns, x ? x->skew[pi] : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->gen, __atomic_load_n(&t->gen, __ATOMIC_RELAXED) + 1u,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&t->armed, x ? x->ntab[pi] : 0u, __ATOMIC_RELEASE);
}

static void write_part(struct ex_system *s, uint32_t pi)
{
	struct ex_chaos *x = s->chaos && s->chaos->running ? s->chaos : NULL;
	struct ex_part *p = &s->parts[pi];

	write_table(x, pi, p->act.ctl);
	write_table(x, pi, p->sb.ctl);
}

void myco__ex_chaos_inst(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	if (s->chaos && s->chaos->running)
		write_table(s->chaos, p->idx, in->ctl);
}

int myco__ex_chaos_start(struct ex_system *s, const struct myco__chaos_exp *e,
			 char *err, size_t cap)
{
	struct ex_chaos *x;
	uint64_t now = raw_now(), end = 0;

	if (s->chaos && s->chaos->running) {
		snprintf(err, cap, "experiment '%s' is running (myco chaos stop)", s->chaos->e.name);
		return -EBUSY;
	}
	if (s->stopping) {
		snprintf(err, cap, "the system is stopping");
		return -ESHUTDOWN;
	}
	if (!e->nfaults || e->nfaults > MYCO__CHAOS_MAX_FAULTS) {
		snprintf(err, cap, "no faults");
		return -EINVAL;
	}
	myco__ex_chaos_free(s);
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->e = *e;
	x->rf = calloc(e->nfaults, sizeof(*x->rf));
	x->tab = calloc(s->nparts ? s->nparts : 1, sizeof(*x->tab));
	x->ntab = calloc(s->nparts ? s->nparts : 1, sizeof(*x->ntab));
	x->skew = calloc(s->nparts ? s->nparts : 1, sizeof(*x->skew));
	if (!x->rf || !x->tab || !x->ntab || !x->skew) {
		free(x->rf); free(x->tab); free(x->ntab); free(x->skew); free(x);
		return -ENOMEM;
	}
	s->chaos = x;
	if (trap_mask(s, 0), slow.slowed)
		memset(slow.slowed, 0, slow.nmask * sizeof(*slow.slowed));
	for (uint32_t i = 0; i < e->nfaults; i++) {
		struct runf *r = &x->rf[i];
		const struct myco__chaos_fault *f = &e->f[i];

		r->f = *f;
		r->seed = f->seed ? f->seed : myco__chaos_mix(e->seed ^ (0x100000000ull * (i + 1)));
		r->t_on = now + f->at_ns;
		r->t_off = f->for_ns ? r->t_on + f->for_ns : 0;
		r->chan = r->part = UINT32_MAX;
		if (myco__chaos_kind_is_chan(f->kind)) {
			r->chan = find_chan(s, f->target);
			if (r->chan == UINT32_MAX) {
				snprintf(err, cap, "fault %u (%s): no channel named '%s'", i + 1,
					 myco__chaos_kind_name(f->kind), f->target);
				goto bad;
			}
			const myco_channel_t *ch = &s->model->channels[r->chan];
			r->part = chan_receiver(ch, f->flags);
			if (r->part == UINT32_MAX || r->part >= s->nparts) {
				snprintf(err, cap, "fault %u (%s): channel '%s' has no partition "
					 "to fault it in", i + 1, myco__chaos_kind_name(f->kind),
					 f->target);
				goto bad;
			}
			if ((ch->kind == MYCO_LANG_SAMPLE || (f->flags & MYCO__CHAOS_F_REPLIES)) &&
			    f->kind != MYCO__CHAOS_DROP && f->kind != MYCO__CHAOS_CORRUPT &&
			    f->kind != MYCO__CHAOS_STALL &&
			    !(f->kind == MYCO__CHAOS_DELAY && (f->flags & MYCO__CHAOS_F_REPLIES))) {
				snprintf(err, cap, "fault %u (%s): %s take drop, %scorrupt and stall",
					 i + 1, myco__chaos_kind_name(f->kind),
					 ch->kind == MYCO_LANG_SAMPLE ? "sample channels" : "replies",
					 ch->kind == MYCO_LANG_SAMPLE ? "" : "delay, ");
				goto bad;
			}
			if ((f->flags & MYCO__CHAOS_F_REPLIES) && ch->kind != MYCO_LANG_CALL) {
				snprintf(err, cap, "fault %u (%s): '%s' is not a call channel: it has "
					 "no replies", i + 1, myco__chaos_kind_name(f->kind), f->target);
				goto bad;
			}
		} else if (strcmp(f->target, "*")) {
			struct ex_part *p = myco__ex_find(s, f->target);

			if (!p) {
				snprintf(err, cap, "fault %u (%s): no partition named '%s'", i + 1,
					 myco__chaos_kind_name(f->kind), f->target);
				goto bad;
			}
			r->part = p->idx;
		} else if (f->kind != MYCO__CHAOS_KILL && f->kind != MYCO__CHAOS_HANG &&
			   f->kind != MYCO__CHAOS_SLOW && f->kind != MYCO__CHAOS_FDLEAK) {
			snprintf(err, cap, "fault %u (%s): target \"*\" is for kill, hang, slow "
				 "and fdleak", i + 1, myco__chaos_kind_name(f->kind));
			goto bad;
		}
		if (f->kind == MYCO__CHAOS_SLOWSYS && r->part != UINT32_MAX) {
			uint64_t have = trap_mask(s, r->part);

			if ((f->arg2 & have) != f->arg2) {
				snprintf(err, cap, "fault %u (slowsys): partition '%s' was not started "
					 "with these system calls trapped (a process's seccomp filter "
					 "is fixed when it starts): declare the fault in a `chaos` "
					 "block of the system file", i + 1, f->target);
				goto bad;
			}
		}
		if (f->kind == MYCO__CHAOS_KILL || f->kind == MYCO__CHAOS_HANG)
			r->next_fire = r->t_on;
		if (f->for_ns && f->at_ns + f->for_ns > end)
			end = f->at_ns + f->for_ns;
		if (!f->for_ns && f->at_ns > end)
			end = f->at_ns;
		/* the table faults: one slot per target partition */
		if (f->kind <= MYCO__CHAOS_FDLEAK) {
			for (uint32_t pi = 0; pi < s->nparts; pi++) {
				struct myco__chaos_slot *sl;

				if (r->chan != UINT32_MAX
				    ? !chan_in(&s->model->channels[r->chan], r->f.flags, pi)
				    : r->part != UINT32_MAX && pi != r->part)
					continue;
				if (x->ntab[pi] >= MYCO__CHAOS_SLOTS) {
					snprintf(err, cap, "partition '%s': more than %u table faults",
						 s->parts[pi].name, MYCO__CHAOS_SLOTS);
					goto bad;
				}
				sl = &x->tab[pi][x->ntab[pi]++];
				memset(sl, 0, sizeof(*sl));
				sl->kind = f->kind;
				sl->chan = r->chan != UINT32_MAX
					? myco__chaos_chan_hash(s->model->channels[r->chan].name) : 0;
				sl->seed = r->seed;
				sl->prob = f->prob;
				sl->arg_ns = (uint64_t)f->arg;
				sl->arg2_ns = f->arg2;
				sl->t_start_ns = r->t_on;
				sl->t_end_ns = r->t_off ? r->t_off : UINT64_MAX;
			}
		}
	}
	x->t0 = now;
	if (e->duration_ns)
		end = e->duration_ns;
	x->t_end = end ? now + end : 0;
	/* open-ended faults end with the experiment */
	for (uint32_t pi = 0; pi < s->nparts && x->t_end; pi++)
		for (uint32_t k = 0; k < x->ntab[pi]; k++)
			if (x->tab[pi][k].t_end_ns > x->t_end)
				x->tab[pi][k].t_end_ns = x->t_end;
	x->running = true;
	for (uint32_t pi = 0; pi < s->nparts; pi++)
		write_part(s, pi);
	myco__ex_event(s, NULL, "chaos-start", -1, -1,
		       "experiment %s: %u faults, seed %" PRIu64 ", %s%.3f s",
		       e->name, e->nfaults, e->seed, x->t_end ? "" : "open-ended, ",
		       x->t_end ? (double)(x->t_end - now) / 1e9 : 0.0);
	for (uint32_t i = 0; i < e->nfaults; i++) {
		const struct runf *r = &x->rf[i];

		if (r->f.kind == MYCO__CHAOS_SLOWSYS) {
			char calls[256] = "";
			for (unsigned b = 0; b < 64; b++)
				if (((r->f.arg2 >> b) & 1u) && myco_chaos_syscall_name(b)) {
					strncat(calls, calls[0] ? ", " : "", sizeof(calls) - strlen(calls) - 1);
					strncat(calls, myco_chaos_syscall_name(b),
						sizeof(calls) - strlen(calls) - 1);
				}
			myco__ex_event(s, &s->parts[r->part], "chaos", -1, -1,
				       "slowsys on %s from +%.3f s: %s held %.3f ms each "
				       "(probability %.4f, seed %" PRIu64 "): seccomp notification, "
				       "answered late by the executive",
				       r->f.target, (double)r->f.at_ns / 1e9, calls,
				       (double)r->f.arg / 1e6,
				       r->f.prob == UINT32_MAX ? 1.0 : r->f.prob / 4294967295.0, r->seed);
		}
		if (r->f.kind <= MYCO__CHAOS_FDLEAK)
			myco__ex_event(s, r->part != UINT32_MAX ? &s->parts[r->part] : NULL,
				       "chaos", -1, -1,
				       "%s on %s%s from +%.3f s%s (probability %.4f, seed %" PRIu64 "): "
				       "in the partition's fault table",
				       myco__chaos_kind_name(r->f.kind), r->f.target,
				       (r->f.flags & MYCO__CHAOS_F_REPLIES) ? " replies (at its clients)"
				       : r->chan != UINT32_MAX &&
					 s->model->channels[r->chan].kind == MYCO_LANG_SAMPLE
				       ? " (at its readers)" : "",
				       (double)r->f.at_ns / 1e9, r->f.for_ns ? " for a while" : "",
				       r->f.prob == UINT32_MAX ? 1.0 : r->f.prob / 4294967295.0, r->seed);
	}
	return 0;
bad:
	s->chaos = NULL;
	free(x->rf); free(x->tab); free(x->ntab); free(x->skew); free(x);
	return -ENOENT;
}

/* ---- helper processes in a partition's cgroups ---------------------------- */

/* Move pid into every cgroup that target_pid is in (v2: its one cgroup; v1:
 * the cpu and memory hierarchies).  0, or -errno (nothing placed). */
static int place_in_cgroups(pid_t pid, pid_t target_pid, char *why, size_t cap)
{
	char path[64], line[512];
	FILE *f;
	int placed = 0, rc = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)target_pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, cap, "cannot read %s", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl, file[1024];
		int fd;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = 0;
		if ((nl = strchr(c2 + 1, '\n')))
			*nl = 0;
		if (!strcmp(c2 + 1, "/"))
			continue;                /* the root: not the partition's */
		if (c1[1] == 0)
			snprintf(file, sizeof(file), "/sys/fs/cgroup%s/cgroup.procs", c2 + 1);
		else if (strstr(c1 + 1, "cpu") || strstr(c1 + 1, "memory"))
			snprintf(file, sizeof(file), "/sys/fs/cgroup/%s%s/cgroup.procs",
				 c1 + 1, c2 + 1);
		else
			continue;
		fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			snprintf(why, cap, "%.120s: %.60s", file, strerror(errno));
			continue;
		}
		char num[24];
		int n = snprintf(num, sizeof(num), "%d", (int)pid);
		if (write(fd, num, (size_t)n) == n)
			placed++;
		else {
			rc = -errno;
			snprintf(why, cap, "%.120s: %.60s", file, strerror(errno));
		}
		close(fd);
	}
	fclose(f);
	if (placed)
		return 0;
	if (rc == -ENOENT)
		snprintf(why, cap, "the partition has no cgroup of its own");
	return rc;
}

/* The helper: HOG spins pct % of every 10 ms; LEAK touches rate bytes a
 * second more (never freed).  Ends with the executive (PDEATHSIG). */
static void helper_main(uint32_t kind, int64_t arg)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* none of the executive's fds (channels, sockets, pid file) */
	syscall(SYS_close_range, 3u, ~0u, 0u);
	prctl(PR_SET_NAME, kind == MYCO__CHAOS_HOG ? "myco-chaos-hog" : "myco-chaos-leak");
	for (;;) {
		uint64_t t = myco__now_raw();

		if (kind == MYCO__CHAOS_HOG) {
			uint64_t busy = (uint64_t)arg * 100000ull;   /* of 10 ms */
			volatile uint64_t spin = 0;

			while (myco__now_raw() - t < busy)
				spin++;
		} else {
			size_t n = (size_t)((uint64_t)arg / 100u);   /* per 10 ms */
			char *m = n ? mmap(NULL, n, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;

			if (m != MAP_FAILED)
				for (size_t i = 0; i < n; i += 4096)
					m[i] = 1;
		}
		uint64_t used = myco__now_raw() - t;
		if (used < 10000000ull) {
			struct timespec ts = { 0, (long)(10000000ull - used) };
			nanosleep(&ts, NULL);
		}
	}
}

static void helper_stop(struct helper *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	h->pid = 0;
	h->placed_for = 0;
}

/* Start (or re-place after the partition's instance changed) the helper of
 * fault r in partition p. */
static void helper_run(struct ex_system *s, struct runf *r, struct ex_part *p)
{
	pid_t target = p->act.pid ? myco__ex_box_prog(&p->act) : 0;
	char why[200] = "";

	if (!target || r->h.placed_for == target)
		return;
	if (!r->h.pid) {
		pid_t pid = fork();

		if (pid < 0) {
			myco__ex_event(s, p, "chaos", -1, -1, "%s: fork: %s",
				       myco__chaos_kind_name(r->f.kind), strerror(errno));
			return;
		}
		if (pid == 0)
			helper_main(r->f.kind, r->f.arg);
		r->h.pid = pid;
	}
	if (place_in_cgroups(r->h.pid, target, why, sizeof(why)) < 0) {
		/* degrade loudly: it still runs, charged to the executive */
		myco__ex_event(s, p, "chaos", -1, -1,
			       "%s %s: NOT charged to the partition (%s); helper pid %d runs "
			       "outside its box", myco__chaos_kind_name(r->f.kind), p->name, why,
			       (int)r->h.pid);
	} else {
		myco__ex_event(s, p, "chaos", -1, -1,
			       r->f.kind == MYCO__CHAOS_HOG
			       ? "hog: helper pid %d burns %" PRId64 " %% of a core in the cgroups of pid %d"
			       : "leak: helper pid %d grows %" PRId64 " bytes a second in the cgroups of pid %d",
			       (int)r->h.pid, r->f.arg, (int)target);
	}
	r->h.placed_for = target;
}

/* ---- budget starvation: the instance's cgroup CPU quota ------------------ */

/* One line of a small file (a cgroup setting), without its newline. */
static int read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	char *nl;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)cap, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	if ((nl = strchr(buf, '\n')))
		*nl = 0;
	return 0;
}

static int write_setting(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = myco__write_full(fd, v, strlen(v));
	close(fd);
	return rc;
}

static void starve_undo(struct runf *r)
{
	if (r->quota_file[0] && r->quota_old[0])
		(void)write_setting(r->quota_file, r->quota_old);
	r->quota_file[0] = r->quota_old[0] = 0;
	r->starved_for = 0;
}

/* A SCHED_DEADLINE main thread is not under the cgroup quota (the
 * kernel's deadline class ignores cpu.max): say so, the cut starves only
 * its other threads. */
static const char *deadline_note(pid_t pid)
{
	return sched_getscheduler(pid) == 6 /* SCHED_DEADLINE */
	       ? "; its main thread holds a SCHED_DEADLINE reservation, which the quota "
		 "does not cut: only its other threads are starved" : "";
}

static void starve_apply(struct ex_system *s, struct runf *r, struct ex_part *p)
{
	pid_t target = p->act.pid ? myco__ex_box_prog(&p->act) : 0;
	char path[64], line[512], v2[600] = "", v1[600] = "", why[300] = "";
	FILE *f;

	if (!target || r->starved_for == target)
		return;
	starve_undo(r);
	r->starved_for = target;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)target);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = 0;
		if ((nl = strchr(c2 + 1, '\n')))
			*nl = 0;
		if (!strcmp(c2 + 1, "/"))
			continue;
		if (c1[1] == 0)
			snprintf(v2, sizeof(v2), "/sys/fs/cgroup%s/cpu.max", c2 + 1);
		else if (strstr(c1 + 1, "cpu") && !strstr(c1 + 1, "cpuset"))
			snprintf(v1, sizeof(v1), "/sys/fs/cgroup/%s%s", c1 + 1, c2 + 1);
	}
	fclose(f);
	if (v1[0]) {
		char q[600], per[600], old[64], pv[64], nv[64];
		long long quota, period;

		int lq = snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", v1);
		int lp = snprintf(per, sizeof(per), "%s/cpu.cfs_period_us", v1);
		if (lq > 0 && (size_t)lq < sizeof(q) && lp > 0 && (size_t)lp < sizeof(per) &&
		    !read_line(q, old, sizeof(old)) && !read_line(per, pv, sizeof(pv))) {
			quota = atoll(old);
			period = atoll(pv);
			if (quota <= 0)
				quota = period;          /* unlimited: one core */
			snprintf(nv, sizeof(nv), "%lld", quota * r->f.arg / 100 > 1000
				 ? quota * r->f.arg / 100 : 1000);
			if (!write_setting(q, nv)) {
				snprintf(r->quota_file, sizeof(r->quota_file), "%s", q);
				snprintf(r->quota_old, sizeof(r->quota_old), "%s", old);
				myco__ex_event(s, p, "chaos", -1, -1,
					       "starve: CPU quota %s -> %s us per %s us (%" PRId64 " %%)%s",
					       old, nv, pv, r->f.arg, deadline_note(target));
				return;
			}
			snprintf(why, sizeof(why), "%.200s: %.60s", q, strerror(errno));
		}
	} else if (v2[0]) {
		char old[64], nv[64];
		long long quota, period;

		if (!read_line(v2, old, sizeof(old))) {
			if (!strncmp(old, "max", 3)) {
				period = atoll(old + 3);
				quota = period;
			} else {
				quota = atoll(old);
				period = atoll(strchr(old, ' ') ? strchr(old, ' ') + 1 : "100000");
			}
			snprintf(nv, sizeof(nv), "%lld %lld", quota * r->f.arg / 100 > 1000
				 ? quota * r->f.arg / 100 : 1000, period);
			if (!write_setting(v2, nv)) {
				snprintf(r->quota_file, sizeof(r->quota_file), "%s", v2);
				snprintf(r->quota_old, sizeof(r->quota_old), "%s", old);
				myco__ex_event(s, p, "chaos", -1, -1, "starve: cpu.max %s -> %s%s",
					       old, nv, deadline_note(target));
				return;
			}
			snprintf(why, sizeof(why), "%.200s: %.60s", v2, strerror(errno));
		}
	}
	myco__ex_event(s, p, "chaos", -1, -1, "starve %s: NOT applied (%s)", p->name,
		       why[0] ? why : "no CPU cgroup of its own");
}

/* ---- the tick -------------------------------------------------------------- */

/* The partition a "*" firing picks: a running one, from the seed. */
static struct ex_part *pick(struct ex_system *s, uint64_t roll)
{
	uint32_t n = 0, k;

	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i].act.pid && s->parts[i].state == EX_RUNNING)
			n++;
	if (!n)
		return NULL;
	k = (uint32_t)(roll % n);
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i].act.pid && s->parts[i].state == EX_RUNNING && k-- == 0)
			return &s->parts[i];
	return NULL;
}

static void resume(struct ex_system *s, struct runf *r)
{
	if (r->hung_pid) {
		struct ex_part *p = &s->parts[r->hung_part];

		/* only if it is still one of this partition's processes */
		if (myco__ex_box_prog(&p->act) == r->hung_pid || p->act.pid == r->hung_pid)
			kill(r->hung_pid, SIGCONT);
		myco__ex_event(s, p, "chaos", -1, -1, "hang: SIGCONT to pid %d",
			       (int)r->hung_pid);
	}
	r->hung_pid = 0;
	r->resume_at = 0;
}

static void fire(struct ex_system *s, struct ex_chaos *x, struct runf *r, uint64_t now)
{
	uint64_t roll = myco__chaos_mix(r->seed ^ (r->nfire + 1));
	struct ex_part *p;

	r->nfire++;
	if (r->f.prob != UINT32_MAX && (uint32_t)(roll >> 32) >= r->f.prob)
		return;
	p = r->part == UINT32_MAX ? pick(s, myco__chaos_mix(roll)) : &s->parts[r->part];
	if (!p || !p->act.pid)
		return;
	if (r->f.kind == MYCO__CHAOS_KILL) {
		if (myco__ex_kill(s, p) == 0)
			x->kills++;
		return;
	}
	/* HANG */
	if (r->hung_pid)
		resume(s, r);
	pid_t pid = myco__ex_box_prog(&p->act);
	uint64_t len = r->f.arg > 0 ? (uint64_t)r->f.arg
		     : r->f.every_ns ? r->f.every_ns / 2 : r->f.for_ns;

	if (!len)
		len = 1000000000ull;
	if (kill(pid, SIGSTOP) == 0) {
		r->hung_pid = pid;
		r->hung_part = p->idx;
		r->resume_at = now + len;
		x->hangs++;
		myco__ex_event(s, p, "chaos", -1, -1, "hang: SIGSTOP to pid %d for %.3f s",
			       (int)pid, (double)len / 1e9);
	}
}

static void undo(struct ex_system *s, struct runf *r)
{
	if (r->hung_pid)
		resume(s, r);
	if (r->h.pid) {
		helper_stop(&r->h);
		myco__ex_event(s, r->part != UINT32_MAX ? &s->parts[r->part] : NULL, "chaos", -1, -1,
			       "%s on %s ended", myco__chaos_kind_name(r->f.kind), r->f.target);
	}
	if (r->quota_file[0]) {
		starve_undo(r);
		myco__ex_event(s, r->part != UINT32_MAX ? &s->parts[r->part] : NULL, "chaos", -1, -1,
			       "starve on %s ended: quota restored", r->f.target);
	}
	r->starved_for = 0;
	r->on = false;
}

void myco__ex_chaos_tick(struct ex_system *s, uint64_t now_unused)
{
	struct ex_chaos *x = s->chaos;
	uint64_t now = raw_now();
	bool skew_changed = false;

	(void)now_unused;
	if (slow.n && (s->stopping || slow.tfd < 0))
		myco__ex_chaos_due(s);          /* no timer: the tick answers */
	if (!x || !x->running)
		return;
	if (s->stopping) {
		myco__ex_chaos_stop(s, "the system is stopping");
		return;
	}
	for (uint32_t i = 0; i < x->e.nfaults; i++) {
		struct runf *r = &x->rf[i];
		bool in = now >= r->t_on && (!r->t_off || now < r->t_off);

		if (r->resume_at && now >= r->resume_at)
			resume(s, r);
		switch (r->f.kind) {
		case MYCO__CHAOS_KILL:
		case MYCO__CHAOS_HANG:
			/* every firing due, even after a slow tick: bounded */
			for (int k = 0; k < 64 && r->next_fire && now >= r->next_fire; k++) {
				if (r->t_off && r->next_fire >= r->t_off) {
					r->next_fire = 0;
					break;
				}
				fire(s, x, r, now);
				r->next_fire = r->f.every_ns ? r->next_fire + r->f.every_ns : 0;
			}
			break;
		case MYCO__CHAOS_HOG:
		case MYCO__CHAOS_LEAK:
			if (in)
				helper_run(s, r, &s->parts[r->part]);
			else if (r->h.pid)
				undo(s, r);
			break;
		case MYCO__CHAOS_STARVE:
			if (in)
				starve_apply(s, r, &s->parts[r->part]);
			else if (r->quota_file[0])
				undo(s, r);
			break;
		case MYCO__CHAOS_SKEW: {
			int64_t want = in ? r->f.arg : 0;

			if (x->skew[r->part] != want && (in || r->on)) {
				x->skew[r->part] = want;
				skew_changed = true;
				myco__ex_event(s, &s->parts[r->part], "chaos", -1, -1,
					       "skew: myco_now() in %s off by %+.6f s", r->f.target,
					       (double)want / 1e9);
			}
			r->on = in;
			break;
		}
		default:
			break;
		}
	}
	if (skew_changed)
		for (uint32_t pi = 0; pi < s->nparts; pi++)
			write_part(s, pi);
	if (x->t_end && now >= x->t_end)
		myco__ex_chaos_stop(s, "done");
}

int myco__ex_chaos_stop(struct ex_system *s, const char *why)
{
	struct ex_chaos *x = s->chaos;
	uint64_t applied[16] = { 0 };

	if (!x || !x->running)
		return -ENOENT;
	for (uint32_t i = 0; i < x->e.nfaults; i++)
		undo(s, &x->rf[i]);
	/* what libmyco applied, from the active processes' counters */
	for (size_t pi = 0; pi < s->nparts; pi++) {
		struct myco__part_ctl *c = s->parts[pi].act.ctl;
		const struct myco__part_chaos *t;

		if (!c)
			continue;
		t = (const struct myco__part_chaos *)((const char *)c + MYCO__PART_CHAOS_OFF);
		for (unsigned k = 0; k < 16; k++)
			applied[k] += __atomic_load_n(&t->applied[k], __ATOMIC_RELAXED);
	}
	x->running = false;
	snprintf(x->end_reason, sizeof(x->end_reason), "%s", why);
	/* held system calls run now */
	for (size_t i = 0; i < slow.n; i++)
		slow.v[i].due = 0;
	if (slow.n)
		myco__ex_chaos_due(s);
	uint64_t nslowed = 0;
	for (size_t pi = 0; slow.slowed && pi < slow.nmask; pi++)
		nslowed += slow.slowed[pi];
	for (uint32_t pi = 0; pi < s->nparts; pi++)
		write_part(s, pi);
	myco__ex_event(s, NULL, "chaos-end", -1, -1,
		       "experiment %s %s after %.3f s: %" PRIu64 " kills, %" PRIu64 " hangs; "
		       "active processes applied drop %" PRIu64 ", delay %" PRIu64
		       ", duplicate %" PRIu64 ", reorder %" PRIu64 ", corrupt %" PRIu64
		       ", bandwidth waits %" PRIu64 ", stall waits %" PRIu64 ", slow %" PRIu64
		       ", fds leaked %" PRIu64 "; system calls slowed %" PRIu64,
		       x->e.name, why, (double)(raw_now() - x->t0) / 1e9, x->kills, x->hangs,
		       applied[1], applied[2], applied[3], applied[4], applied[5], applied[6],
		       applied[7], applied[8], applied[9], nslowed);
	return 0;
}

/* The sums of the gauges seq_lost and seq_duplicated over the partitions
 * that export them (their own count of what arrived), or null. */
static json_t *seq_json(struct ex_system *s)
{
	char *text = NULL, *line, *save = NULL;
	int64_t lost = 0, dup = 0;
	int n = 0;

	if (myco__ex_collect_prom(s, &text) < 0 || !text)
		return json_null();
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool l = !strncmp(line, "seq_lost{", 9) || !strncmp(line, "seq_lost ", 9);
		bool d = !strncmp(line, "seq_duplicated{", 15) || !strncmp(line, "seq_duplicated ", 15);
		const char *v = strrchr(line, ' ');

		if ((!l && !d) || !v)
			continue;
		if (l) {
			lost += strtoll(v + 1, NULL, 10);
			n++;
		} else {
			dup += strtoll(v + 1, NULL, 10);
		}
	}
	free(text);
	if (!n)
		return json_null();
	return json_pack("{s:I,s:I,s:i}", "lost", (json_int_t)lost, "duplicated",
			 (json_int_t)dup, "reporters", n);
}

/* What every status carries: the system file (the CLI checks its
 * experiments against it) and how many SLOs it declares. */
static json_t *status_base(struct ex_system *s, json_t *o)
{
	char file[8192];
	const char *b = strrchr(s->model->path, '/');
	size_t nslo = 0;

	if (!o)
		return NULL;
	if (s->model->path[0] == '/')
		snprintf(file, sizeof(file), "%s", s->model->path);
	else
		snprintf(file, sizeof(file), "%s/%s", s->base_dir, b ? b + 1 : s->model->path);
	for (size_t i = 0; i < s->model->npartitions; i++)
		nslo += s->model->partitions[i].nslos;
	json_object_set_new(o, "system_file", json_string(file));
	json_object_set_new(o, "slos", json_integer((json_int_t)nslo));
	return o;
}

json_t *myco__ex_chaos_json(struct ex_system *s)
{
	struct ex_chaos *x = s->chaos;
	json_t *o, *parts;

	if (!x)
		return status_base(s, json_pack("{s:b,s:b,s:o}", "ok", 1, "running", 0,
						"seq", seq_json(s)));
	o = json_pack("{s:b,s:b,s:s,s:I,s:I,s:I,s:I,s:s}", "ok", 1, "running", x->running,
		      "name", x->e.name, "seed", (json_int_t)x->e.seed,
		      "elapsed_ns", (json_int_t)(raw_now() - x->t0),
		      "kills", (json_int_t)x->kills, "hangs", (json_int_t)x->hangs,
		      "end", x->end_reason);
	parts = json_object();
	if (!o || !parts) {
		json_decref(o);
		json_decref(parts);
		return NULL;
	}
	for (size_t pi = 0; pi < s->nparts; pi++) {
		struct myco__part_ctl *c = s->parts[pi].act.ctl;
		const struct myco__part_chaos *t;
		json_t *a;

		if (!c)
			continue;
		t = (const struct myco__part_chaos *)((const char *)c + MYCO__PART_CHAOS_OFF);
		a = json_object();
		for (uint32_t k = 1; k < MYCO__CHAOS_KINDS && a; k++) {
			uint64_t v = __atomic_load_n(&t->applied[k], __ATOMIC_RELAXED);

			if (v)
				json_object_set_new(a, myco__chaos_kind_name(k), json_integer((json_int_t)v));
		}
		if (a && slow.slowed && pi < slow.nmask && slow.slowed[pi])
			json_object_set_new(a, "slowsys", json_integer((json_int_t)slow.slowed[pi]));
		if (a)
			json_object_set_new(parts, s->parts[pi].name, a);
	}
	json_object_set_new(o, "applied", parts);
	json_object_set_new(o, "seq", seq_json(s));
	return status_base(s, o);
}

void myco__ex_chaos_free(struct ex_system *s)
{
	struct ex_chaos *x = s->chaos;

	if (!x)
		return;
	if (x->running)
		myco__ex_chaos_stop(s, "the system is stopping");
	free(x->rf);
	free(x->tab);
	free(x->ntab);
	free(x->skew);
	free(x);
	s->chaos = NULL;
}
