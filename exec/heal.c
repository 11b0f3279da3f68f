/*
 * heal.c: healing by policy.  The health model (health.c) reports a sick
 * partition with its evidence; the partition's `heal` statement says what
 * to do (heal.h): restart from the pristine standby (the supervision
 * path: its channel ends are recovered and the parked standby activated,
 * so nothing that was not done is lost), quarantine (the process is
 * frozen with SIGSTOP, taken out of routing once every thread is stopped,
 * replaced, kept for inspection and killed after a hold), shed (the
 * control region's shed flag, read by myco_shedding(), until healthy
 * again), escalate (every member of its supervision group restarted,
 * counted in the group's intensity like crashes).  Rate limits and
 * hysteresis: at most one action per partition within MYCO__HEAL_GAP_NS,
 * and more than `limit N per T` heals turn the next one into an
 * escalation, so healing cannot flap.  Every action is a "heal" event
 * naming its evidence.
 * Not for: deciding who is sick (health.c), service bookkeeping
 * (registry.c), the restart mechanics themselves (supervise.c).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "exec_int.h"
#include "box_glue.h"
#include "health.h"
#include "heal.h"

#define HEAL_HIST 64u

struct hstate {
	uint64_t t[HEAL_HIST];         /* heal times (ring) */
	uint32_t n;                    /* heals so far */
	uint64_t last_ns;
	bool shedding;
	int shed_sig;                  /* the signal that made it shed */
	/* quarantine in progress: SIGSTOP sent to pid, waiting for every
	 * thread to stop */
	pid_t q_pid;
	uint64_t q_since, q_crash;
	uint64_t q_release_at;         /* the quarantined process is killed then */
};

struct myco__heal {
	struct hstate *st;
	size_t n;
};

static struct hstate *st_of(struct ex_system *s, const struct ex_part *p)
{
	struct myco__heal *h = myco__ex_health_heal(s);
	return h ? &h->st[p->idx] : NULL;
}

int myco__ex_heal_open(struct ex_system *s, struct myco__heal **out)
{
	struct myco__heal *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->st = calloc(s->nparts ? s->nparts : 1, sizeof *h->st);
	h->n = s->nparts;
	if (!h->st) {
		free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void myco__ex_heal_close(struct ex_system *s, struct myco__heal *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n && i < s->nparts; i++)
		if (s->parts[i].quar.pid)
			myco__ex_inst_release(s, &s->parts[i].quar, true);
	free(h->st);
	free(h);
}

uint32_t myco__ex_heal_count(struct ex_system *s, const struct ex_part *p)
{
	struct hstate *st = st_of(s, p);
	return st ? st->n : 0;
}

static uint32_t heals_within(const struct hstate *st, uint64_t now, uint64_t win)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < st->n && i < HEAL_HIST; i++)
		if (now - st->t[i] <= win)
			k++;
	return k;
}

static void note(struct hstate *st, uint64_t now)
{
	st->t[st->n++ % HEAL_HIST] = now;
	st->last_ns = now;
}

/* The restart path of supervise.c, as for a hung partition: SIGKILL now,
 * the death brings in the standby. */
static void crash(struct ex_part *p, uint64_t now)
{
	p->kill_injected = true;
	p->t_crash_ns = now;
	myco__ex_inst_crash(&p->act);
}

static void set_shed(struct ex_part *p, uint32_t v)
{
	if (p->act.ctl)
		atomic_store_explicit((_Atomic uint32_t *)&p->act.ctl->shed, v,
				      memory_order_relaxed);
}

static void escalate(struct ex_system *s, struct ex_part *p, uint64_t now)
{
	struct ex_group *g = &s->groups[p->group];
	for (size_t k = 0; k < g->nmembers; k++) {
		struct ex_part *q = &s->parts[g->members[k]];
		if (q->act.pid && (q->state == EX_RUNNING || q->state == EX_STARTING))
			crash(q, now);
	}
}

void myco__ex_heal_sick(struct ex_system *s, struct ex_part *p,
			const struct ex_evidence *ev0, bool predicted)
{
	struct hstate *st = st_of(s, p);
	uint64_t now = myco_now();
	struct ex_evidence ev = *ev0;
	myco_heal_t act = p->m->heal;

	if (!st || act == MYCO_HEAL_OBSERVE || st->q_pid || p->state != EX_RUNNING ||
	    !p->act.pid || s->stopping)
		return;
	if (st->last_ns && now - st->last_ns < MYCO__HEAL_GAP_NS)
		return;
	if (act == MYCO_HEAL_SHED && st->shedding)
		return;
	if (heals_within(st, now, p->m->heal_within_ns) >= p->m->heal_max) {
		snprintf(ev.action, sizeof ev.action, "escalate");
		char w[120];
		snprintf(w, sizeof w, "more than %u heals within %.0f s: escalating to group %s",
			 p->m->heal_max, (double)p->m->heal_within_ns / 1e9,
			 s->groups[p->group].name);
		myco__ex_health_event(s, p, "heal-limited", &ev, w);
		act = MYCO_HEAL_ESCALATE;
	}
	note(st, now);
	switch (act) {
	case MYCO_HEAL_RESTART:
		snprintf(ev.action, sizeof ev.action, "%s",
			 predicted ? "restart-ahead" : "restart");
		myco__ex_health_event(s, p, "heal", &ev, predicted
				      ? "restart before the limit (standby takes over)"
				      : "restart (standby takes over)");
		crash(p, now);
		break;
	case MYCO_HEAL_QUARANTINE: {
		pid_t pid = myco__ex_box_prog(&p->act);
		snprintf(ev.action, sizeof ev.action, "quarantine");
		myco__ex_health_event(s, p, "heal", &ev, "quarantine (frozen, replaced by the standby)");
		if (pid <= 0 || kill(pid, SIGSTOP) < 0) {
			crash(p, now);
			break;
		}
		st->q_pid = pid;
		st->q_since = now;
		st->q_crash = now;
		break;
	}
	case MYCO_HEAL_SHED:
		snprintf(ev.action, sizeof ev.action, "shed");
		myco__ex_health_event(s, p, "heal", &ev, "shed load (myco_shedding() is 1)");
		st->shedding = true;
		st->shed_sig = myco__hs_parse(ev.signal);
		set_shed(p, 1);
		break;
	case MYCO_HEAL_ESCALATE:
		snprintf(ev.action, sizeof ev.action, "escalate");
		myco__ex_health_event(s, p, "heal", &ev, "escalate: group restarts every member");
		escalate(s, p, now);
		break;
	case MYCO_HEAL_OBSERVE:
		break;
	}
}

int myco__ex_heal_shedding(struct ex_system *s, const struct ex_part *p)
{
	struct hstate *st = st_of(s, p);
	return st && st->shedding ? st->shed_sig : -1;
}

void myco__ex_heal_better(struct ex_system *s, struct ex_part *p)
{
	struct hstate *st = st_of(s, p);
	if (st && st->shedding) {
		st->shedding = false;
		set_shed(p, 0);
		myco__ex_event(s, p, "heal", -1, -1, "healthy again: shedding stops");
	}
}

/* Every thread of pid stopped (state T or t)?  1 yes, 0 not yet, -errno
 * (gone). */
static int all_stopped(pid_t pid)
{
	char path[96], buf[512];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	int rc = 1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.20s/stat", (int)pid, e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *q = strrchr(buf, ')');
		if (!q || (q[2] != 'T' && q[2] != 't')) {
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

void myco__ex_heal_tick(struct ex_system *s)
{
	struct myco__heal *h = myco__ex_health_heal(s);
	uint64_t now = myco_now();

	for (size_t i = 0; h && i < h->n && i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct hstate *st = &h->st[i];

		if (p->quar.pid && (s->stopping || now >= st->q_release_at)) {
			myco__ex_event(s, p, "heal", -1, -1, "quarantined pid %d released (killed)",
				       (int)p->quar.pid);
			myco__ex_inst_release(s, &p->quar, true);
		}
		if (!st->q_pid)
			continue;
		if (s->stopping || p->act.pid == 0 ||
		    myco__ex_box_prog(&p->act) != st->q_pid) {
			st->q_pid = 0;          /* it died meanwhile: the supervisor has it */
			continue;
		}
		int r = all_stopped(st->q_pid);
		if (r == 0 && now - st->q_since < 1000000000ull)
			continue;
		if (r <= 0) {
			/* never stopped within a second (or gone): no quarantine */
			st->q_pid = 0;
			crash(p, now);
			continue;
		}
		/* frozen: out of routing, replaced; kept until the hold ends */
		st->q_pid = 0;
		if (p->quar.pid)
			myco__ex_inst_release(s, &p->quar, true);
		p->quar = p->act;
		myco__ex_inst_init(&p->act);
		st->q_release_at = now + MYCO__QUARANTINE_HOLD_NS;
		myco__ex_event(s, p, "quarantine", -1, -1,
			       "pid %d frozen and out of routing (kept %.0f s for inspection)",
			       (int)p->quar.pid, (double)MYCO__QUARANTINE_HOLD_NS / 1e9);
		myco__ex_replace(s, p, st->q_crash);
	}
}
