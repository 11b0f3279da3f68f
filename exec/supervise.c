/*
 * supervise.c: the supervision state machine.  Starts partitions in
 * dependency order with readiness gating, reacts to exits (restart types
 * permanent/transient/temporary, group strategies one_for_one, one_for_all,
 * rest_for_one, restart intensity then escalation), detects hung partitions
 * from missed heartbeats, activates pre-spawned standbys for fast restart
 * and re-arms a new standby in the background, and runs the reverse-order
 * system stop.  Everything runs on the executive's single loop thread.
 * Not for: how processes are made (spawn.c) or the event loop (exec.c).
 */
#include <errno.h>
#include <signal.h>
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_int.h"
#include "collect.h"
#include "record.h"
#include "box_glue.h"
#include "heal.h"

const char *myco__ex_state_name(enum ex_state st)
{
	static const char *const n[] = { "waiting", "starting", "running", "restarting",
					 "stopping", "stopped", "exited", "failed" };
	return (unsigned)st < sizeof(n) / sizeof(n[0]) ? n[st] : "?";
}

struct ex_part *myco__ex_find(struct ex_system *s, const char *name)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (!strcmp(s->parts[i].name, name))
			return &s->parts[i];
	return NULL;
}

static uint64_t ctl_load64(const uint64_t *p)
{
	return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_acquire);
}

static bool wants_standby(const struct ex_system *s, const struct ex_part *p)
{
	return !s->opt.no_standby && p->m->restart != MYCO_RESTART_TEMPORARY;
}

static void hb_reset(struct ex_part *p, uint64_t now)
{
	p->hb_last = p->act.ctl ? ctl_load64(&p->act.ctl->heartbeat) : 0;
	p->hb_seen_ns = now;
}

static int start_part(struct ex_system *s, struct ex_part *p)
{
	uint64_t now = myco_now();
	int rc = myco__ex_inst_spawn(s, p, &p->act, false);
	if (rc < 0) {
		/* A partition that cannot even be spawned (missing program, bad
		 * spec) is a configuration error: fail the whole system loudly. */
		p->state = EX_FAILED;
		myco__ex_event(s, p, "start-failed", -1, -1, "%s: %s", p->program, myco_strerror(rc));
		if (!s->stopping) {
			s->exit_code = 1;
			snprintf(s->final_report, sizeof(s->final_report),
				 "partition %s could not be started (%.300s: %s); stopping the system",
				 p->name, p->program, myco_strerror(rc));
			myco__ex_stop_all(s, "start failure");
		}
		return rc;
	}
	p->state = p->m->ready ? EX_STARTING : EX_RUNNING;
	p->ready_deadline_ns = now + s->opt.ready_timeout_ns;
	p->t_run_ns = now;
	p->restart_at_ns = 0;
	hb_reset(p, now);
	p->want_standby = wants_standby(s, p);
	myco__ex_event(s, p, "start", -1, -1, "pid %d%s", (int)p->act.pid,
		       p->m->ready ? ", waiting for ready" : "");
	return 0;
}

static bool dep_satisfied(const struct ex_part *d)
{
	return d->state == EX_RUNNING || d->state == EX_EXITED;
}

void myco__ex_start_ready(struct ex_system *s)
{
	if (s->stopping)
		return;
	for (size_t k = 0; k < s->norder; k++) {
		struct ex_part *p = &s->parts[s->order[k]];
		if (p->state != EX_WAITING)
			continue;
		bool ok = true;
		for (size_t d = 0; d < p->ndeps; d++)
			if (!dep_satisfied(&s->parts[p->deps[d]]))
				ok = false;
		if (ok)
			start_part(s, p);
	}
}

/* Describe how a process ended; returns true when it was abnormal. */
static bool describe_exit(const siginfo_t *si, char *buf, size_t cap)
{
	if (si->si_code == CLD_EXITED) {
		snprintf(buf, cap, "exited with status %d", si->si_status);
		return si->si_status != 0;
	}
	if (si->si_status == 0) {
		snprintf(buf, cap, "ended (status unknown: reaped elsewhere)");
		return true;
	}
	snprintf(buf, cap, "killed by signal %d (%s)%s", si->si_status,
		 sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status) : "?",
		 si->si_code == CLD_DUMPED ? ", core dumped" : "");
	return true;
}

static void retire_standby(struct ex_system *s, struct ex_part *p)
{
	p->want_standby = false;
	if (p->sb.pid)
		myco__ex_inst_release(s, &p->sb, true);
}

/* Bring in p's replacement: recover its channel ends, activate the standby
 * (or spawn one when none is parked), and schedule a new standby. */
static void restart_one(struct ex_system *s, struct ex_part *p, uint64_t t_crash)
{
	uint64_t now;
	bool used_standby = false;

	if (p->act.pid)
		myco__ex_inst_release(s, &p->act, true);
	myco__ex_chans_recover(s, p);
	myco__ex_registry_release(s, p);
	myco__ex_collect_exited(s, p);
	now = myco_now();
	if (p->sb.pid && p->sb.ctl) {
		p->act = p->sb;
		myco__ex_inst_init(&p->sb);
		myco__ex_inst_activate(&p->act, now);
		myco__ex_collect_event(s, p, "standby", (int64_t)(myco_now() - now));
		myco__ex_box_activated(s, p, &p->act);
		used_standby = true;
	} else {
		int rc = myco__ex_inst_spawn(s, p, &p->act, false);
		if (rc < 0) {
			p->state = EX_FAILED;
			myco__ex_event(s, p, "restart-failed", -1, -1, "%s", myco_strerror(rc));
			if (!s->stopping) {
				s->escalated = true;
				s->exit_code = 3;
				snprintf(s->final_report, sizeof(s->final_report),
					 "escalation: partition %s could not be restarted (%s); "
					 "stopping the system", p->name, myco_strerror(rc));
				myco__ex_stop_all(s, "restart failure");
			}
			return;
		}
	}
	p->restarts++;
	p->t_run_ns = now;
	p->restart_at_ns = 0;
	p->t_crash_ns = t_crash;
	p->restart_pending_times = true;
	p->state = p->m->ready ? EX_STARTING : EX_RUNNING;
	p->ready_deadline_ns = now + s->opt.ready_timeout_ns;
	hb_reset(p, now);
	p->want_standby = wants_standby(s, p);
	myco__ex_event(s, p, "restart", -1, -1, "#%u: %s, pid %d", p->restarts,
		       used_standby ? "standby activated" : "spawned (no standby parked)",
		       (int)p->act.pid);
	myco__ex_registry_switched(s, p, used_standby);
	/* The replacement may already have reported (it runs on another core). */
	myco__ex_on_notify(s, p, &p->act);
}

/* Restart p by its group's strategy (p is EX_RESTARTING, its process gone). */
static void restart_group(struct ex_system *s, struct ex_part *p, uint64_t t_crash)
{
	struct ex_group *g = &s->groups[p->group];
	if (g->strategy == MYCO_ONE_FOR_ONE || g->nmembers <= 1) {
		restart_one(s, p, t_crash);
		return;
	}
	/* one_for_all: every member; rest_for_one: p and the members after it. */
	size_t from = 0;
	if (g->strategy == MYCO_REST_FOR_ONE)
		for (size_t k = 0; k < g->nmembers; k++)
			if (g->members[k] == p->idx)
				from = k;
	for (size_t k = from; k < g->nmembers; k++) {
		struct ex_part *q = &s->parts[g->members[k]];
		if (q == p || !q->act.pid)
			continue;
		myco__ex_event(s, q, "group-stop", -1, -1, "%s of group %s after %s failed",
			       myco_strategy_name(g->strategy), g->name, p->name);
		myco__ex_inst_release(s, &q->act, true);
		q->state = EX_RESTARTING;
	}
	for (size_t k = from; k < g->nmembers; k++) {
		struct ex_part *q = &s->parts[g->members[k]];
		if (q->state == EX_RESTARTING)
			restart_one(s, q, t_crash);
	}
}

void myco__ex_replace(struct ex_system *s, struct ex_part *p, uint64_t t_crash)
{
	p->state = EX_RESTARTING;
	restart_group(s, p, t_crash);
}

static void escalate(struct ex_system *s, struct ex_group *g, struct ex_part *p)
{
	s->escalated = true;
	s->exit_code = 3;
	snprintf(s->final_report, sizeof(s->final_report),
		 "escalation: group %s had more than %u restarts within %.3f s "
		 "(last failure: partition %s, %s); stopping the system",
		 g->name, g->max_restarts, (double)g->within_ns / 1e9, p->name, p->last_exit);
	myco__ex_event(s, p, "escalate", -1, -1, "%s", s->final_report);
	myco__ex_stop_all(s, "escalation");
}

/* Record a restart of group g at now; true when the intensity is exceeded. */
bool myco__ex_intensity_record(struct ex_group *g, uint64_t now)
{
	size_t cap = (size_t)g->max_restarts + 1;
	g->hist[g->hist_pos] = now;
	g->hist_pos = (g->hist_pos + 1) % cap;
	if (g->nhist < cap)
		g->nhist++;
	if (g->nhist < cap)
		return false;
	/* hist_pos now indexes the oldest of the last max+1 restarts */
	return now - g->hist[g->hist_pos] <= g->within_ns;
}

static void stop_next(struct ex_system *s);

static void handle_death(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			 const siginfo_t *si, bool early);

void myco__ex_on_exit(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)in->pidfd, &si, WEXITED | WNOHANG) < 0) {
		si.si_code = CLD_KILLED;        /* reaped elsewhere: cause unknown */
		si.si_status = 0;
	} else if (si.si_pid == 0) {
		return;                         /* spurious: not exited yet */
	}
	if (in == &p->dying) {                  /* already handled at its death */
		myco__ex_inst_release(s, in, false);
		return;
	}
	handle_death(s, p, in, &si, false);
}

/* Flags (field 9), thread count (20) and exit code (52) of a /proc stat
 * file ("/proc/PID/stat" or "/proc/PID/task/TID/stat"). */
static int proc_stat_exit(const char *path, unsigned long *flags, int *code, long *nthreads)
{
	char buf[2048];
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *q = strrchr(buf, ')');
	if (!q)
		return -EPROTO;
	int field = 2;
	*flags = 0;
	*code = -1;
	char *save = NULL;
	for (char *t = strtok_r(q + 1, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 9)
			*flags = strtoul(t, NULL, 10);
		else if (field == 20)
			*nthreads = atol(t);
		else if (field == 52)
			*code = atoi(t);
	}
	return *code < 0 ? -EPROTO : 0;
}

#define PF_EXITING_FLAG 0x4u

/* Has every thread of pid entered do_exit (so none runs user code, none
 * can touch a channel again)?  0 yes (and *code = the exit code), -EAGAIN
 * no, or -errno. */
static int proc_exit_state(pid_t pid, int *code)
{
	char path[96];
	unsigned long flags;
	long nthreads = 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int rc = proc_stat_exit(path, &flags, code, &nthreads);
	if (rc < 0)
		return rc;
	if (!(flags & PF_EXITING_FLAG))
		return -EAGAIN;
	if (nthreads <= 1)
		return 0;
	/* the main thread is exiting; make sure the others are too */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		int c;
		long n;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/stat", (int)pid, e->d_name);
		if (proc_stat_exit(path, &flags, &c, &n) == 0 && !(flags & PF_EXITING_FLAG)) {
			rc = -EAGAIN;
			break;
		}
	}
	closedir(d);
	return rc;
}

void myco__ex_on_death(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	int code;
	siginfo_t si;

	/* The process released its files table (so its memory is already
	 * gone) -- or it merely closed the pipe's fd.  PF_EXITING on every
	 * thread tells.  Under the box's init the pipe is held by the program
	 * only: look at it. */
	pid_t who = myco__ex_box_prog(in);
	if (proc_exit_state(who, &code) < 0) {
		/* not confirmed: stop watching the pipe, the pidfd will tell */
		myco__ex_epoll_del(s, in->death_fd);
		close(in->death_fd);
		in->death_fd = -1;
		return;
	}
	memset(&si, 0, sizeof(si));
	if (code & 0x7f) {
		si.si_code = (code & 0x80) ? CLD_DUMPED : CLD_KILLED;
		si.si_status = code & 0x7f;
	} else {
		si.si_code = CLD_EXITED;
		si.si_status = (code >> 8) & 0xff;
	}
	myco__ex_epoll_del(s, in->death_fd);
	close(in->death_fd);
	in->death_fd = -1;
	handle_death(s, p, in, &si, true);
}

/* in died (reaped, or early: exiting with its memory gone, not reaped). */
static void handle_death(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			 const siginfo_t *si, bool early)
{
	char how[96];
	uint64_t now = myco_now();

	p->stop_deadline_ns = in == &p->act ? 0 : p->stop_deadline_ns;
	siginfo_t mirrored;
	if (in->has_init && si->si_code == CLD_EXITED && si->si_status > 128 &&
	    si->si_status < 128 + 65) {
		/* the box's init mirrors "killed by N" as exit status 128 + N */
		mirrored = *si;
		mirrored.si_code = CLD_KILLED;
		mirrored.si_status -= 128;
		si = &mirrored;
	}
	bool abnormal = describe_exit(si, how, sizeof(how));
	myco__ex_box_exit_cause(s, p, in, si, how, sizeof(how));
	if (in == &p->sb) {
		myco__ex_event(s, p, "standby-exit", -1, -1, "parked standby pid %d %s",
			       (int)in->pid, how);
		myco__ex_inst_release(s, in, early);     /* early: still to be reaped */
		p->want_standby = !s->stopping && wants_standby(s, p) &&
				  (p->state == EX_RUNNING || p->state == EX_STARTING);
		return;
	}
	uint64_t t_crash = p->kill_injected ? p->t_crash_ns : now;
	p->kill_injected = false;
	snprintf(p->last_exit, sizeof(p->last_exit), "%s", how);
	myco__ex_record_exited(s, p, si, abnormal && !p->kill_operator);
	p->last_exit_real_ns = myco__ex_real();
	int pid = (int)in->pid;
	/* Release the dead process's fds only after its replacement runs:
	 * nothing below needs them, and the restart path is latency-critical. */
	struct ex_inst dead = *in;
	myco__ex_inst_init(in);
	if (early) {        /* keep it until the pidfd says it can be reaped */
		if (p->dying.pid)
			myco__ex_inst_release(s, &p->dying, true);
		p->dying = dead;
		myco__ex_inst_init(&dead);
	}

	if (s->stopping) {
		p->state = EX_STOPPED;
		myco__ex_event(s, p, "stopped", -1, -1, "pid %d %s", pid, how);
		stop_next(s);
		goto out;
	}
	if (p->stop_requested) {
		p->stop_requested = false;
		p->state = EX_STOPPED;
		retire_standby(s, p);
		myco__ex_event(s, p, "stopped", -1, -1, "pid %d %s", pid, how);
		goto out;
	}
	if (t_crash != now)
		myco__ex_event(s, p, "exit", -1, -1, "pid %d %s (%s %.1f us after the kill)",
			       pid, how, early ? "death seen" : "exit reaped",
			       (double)(now - t_crash) / 1e3);
	else
		myco__ex_event(s, p, "exit", -1, -1, "pid %d %s", pid, how);
	bool restart;
	if (p->operator_restart)
		restart = true;
	else if (p->m->restart == MYCO_RESTART_PERMANENT)
		restart = true;
	else if (p->m->restart == MYCO_RESTART_TRANSIENT)
		restart = abnormal;
	else
		restart = false;
	if (!restart) {
		p->state = EX_EXITED;
		retire_standby(s, p);
		myco__ex_event(s, p, "not-restarted", -1, -1, "restart %s",
			       myco_restart_name(p->m->restart));
		myco__ex_start_ready(s);
		goto out;
	}
	struct ex_group *g = &s->groups[p->group];
	bool counted = !p->operator_restart;
	p->operator_restart = false;
	if (counted && myco__ex_intensity_record(g, now)) {
		escalate(s, g, p);
		goto out;
	}
	/* backoff: a counted death after a short run is a quick crash; the
	 * first in a row restarts at once, then 10 ms doubling to 1 s; a
	 * stable run resets.  `myco kill` and `myco restart` do not count. */
	bool op_kill = p->kill_operator;
	p->kill_operator = false;
	if (counted && !op_kill)
		p->quick_crashes = now - p->t_run_ns < EX_BACKOFF_STABLE_NS
				   ? p->quick_crashes + 1 : 1;
	p->backoff_ns = 0;
	if (counted && !op_kill && p->quick_crashes > 1) {
		unsigned sh = p->quick_crashes - 2 < 16 ? p->quick_crashes - 2 : 16;
		p->backoff_ns = EX_BACKOFF_MIN_NS << sh;
		if (p->backoff_ns > EX_BACKOFF_MAX_NS)
			p->backoff_ns = EX_BACKOFF_MAX_NS;
	}
	p->state = EX_RESTARTING;
	if (p->backoff_ns) {
		p->t_crash_ns = t_crash;
		p->restart_at_ns = now + p->backoff_ns;
		myco__ex_event(s, p, "backoff", -1, -1,
			       "restart in %llu ms (%u quick crashes in a row)",
			       (unsigned long long)(p->backoff_ns / 1000000u), p->quick_crashes);
		goto out;
	}
	restart_group(s, p, t_crash);
out:
	if (dead.pid || dead.ctl)
		myco__ex_inst_release(s, &dead, false);
}

void myco__ex_on_notify(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	uint64_t v;
	if (in->notify_fd >= 0)
		while (read(in->notify_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			;
	if (in != &p->act || !in->ctl || in->standby)
		return;
	struct myco__part_ctl *c = in->ctl;
	uint64_t act = c->t_activate_ns;
	uint64_t now = myco_now();
	/* untrusted: accept only times in [activation, now] */
	uint64_t tr = ctl_load64(&c->t_running_ns);
	uint64_t tf = ctl_load64(&c->t_first_ns);
	uint32_t ready = atomic_load_explicit((_Atomic uint32_t *)&c->ready, memory_order_acquire);
	if (tr < act || tr > now)
		tr = 0;
	if (tf < act || tf > now)
		tf = 0;
	if (ready && !in->ready_seen) {
		in->ready_seen = true;
		if (p->state == EX_STARTING) {
			p->state = EX_RUNNING;
			myco__ex_event(s, p, "ready", -1, -1, "pid %d ready after %.3f ms",
				       (int)in->pid, (double)(now - act) / 1e6);
			myco__ex_start_ready(s);
		}
	}
	if (p->restart_pending_times && tr && tf && tr >= p->t_crash_ns && tf >= p->t_crash_ns) {
		p->restart_pending_times = false;
		p->last_c2r_ns = tr - p->t_crash_ns;
		p->last_c2f_ns = tf - p->t_crash_ns;
		struct ex_event *e = myco__ex_event(s, p, "restarted", (int64_t)p->last_c2r_ns,
			       (int64_t)p->last_c2f_ns,
			       "crash-to-running %.1f us, crash-to-first-call %.1f us "
			       "(replacement activated %.1f us after the crash)",
			       (double)p->last_c2r_ns / 1e3, (double)p->last_c2f_ns / 1e3,
			       (double)(act - p->t_crash_ns) / 1e3);
		if (act >= p->t_crash_ns)
			e->c2a_ns = (int64_t)(act - p->t_crash_ns);
		myco__ex_event_sync(p, e);
	}
}

void myco__ex_tick(struct ex_system *s)
{
	uint64_t now = myco_now();

	myco__ex_box_tick(s);       /* deferred cgroup removal of dead instances */
	myco__ex_chans_check(s);    /* an endpoint that corrupted a channel */

	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		/* learn the program's pid under the box's init early, so a death
		 * can be confirmed from /proc without waiting for the init */
		if (p->act.has_init && !p->act.prog_pid)
			myco__ex_box_prog(&p->act);
		if (p->sb.has_init && !p->sb.prog_pid)
			myco__ex_box_prog(&p->sb);
		if (p->stop_deadline_ns && now > p->stop_deadline_ns && p->act.pid) {
			myco__ex_event(s, p, "stop-timeout", -1, -1,
				       "no exit %.1f s after SIGTERM: SIGKILL",
				       (double)s->opt.grace_ns / 1e9);
			p->stop_deadline_ns = 0;
			myco__ex_inst_signal(&p->act, SIGKILL);
		}
		if (s->stopping)
			continue;
		if (p->restart_at_ns && now >= p->restart_at_ns && p->state == EX_RESTARTING) {
			p->restart_at_ns = 0;
			restart_group(s, p, p->t_crash_ns);
			continue;
		}
		if (p->want_standby && !p->sb.pid && p->act.pid &&
		    (p->state == EX_RUNNING || p->state == EX_STARTING)) {
			p->want_standby = false;
			int rc = myco__ex_inst_spawn(s, p, &p->sb, true);
			if (rc < 0)
				myco__ex_event(s, p, "standby-failed", -1, -1, "%s", myco_strerror(rc));
		}
		if (!p->act.pid || !p->act.ctl)
			continue;
		if (p->restart_pending_times && now - p->t_crash_ns > 2000000000ull) {
			/* no myco_heartbeat() yet: report what we have */
			uint64_t tr = ctl_load64(&p->act.ctl->t_running_ns);
			p->restart_pending_times = false;
			if (tr >= p->t_crash_ns && tr <= now) {
				p->last_c2r_ns = tr - p->t_crash_ns;
				myco__ex_event(s, p, "restarted", (int64_t)p->last_c2r_ns, -1,
					       "crash-to-running %.1f us (no heartbeat yet)",
					       (double)p->last_c2r_ns / 1e3);
			}
		}
		if (p->state == EX_STARTING && now > p->ready_deadline_ns) {
			myco__ex_event(s, p, "not-ready", -1, -1,
				       "no myco_ready() within %.1f s: killing",
				       (double)s->opt.ready_timeout_ns / 1e9);
			p->ready_deadline_ns = UINT64_MAX;
			p->kill_injected = true;
			p->t_crash_ns = now;
			myco__ex_inst_crash(&p->act);
			continue;
		}
		if (p->m->heartbeat_ns && (p->state == EX_RUNNING || p->state == EX_STARTING)) {
			uint64_t hb = ctl_load64(&p->act.ctl->heartbeat);
			if (hb != p->hb_last) {
				p->hb_last = hb;
				p->hb_seen_ns = now;
			} else if (now - p->hb_seen_ns >
				   p->m->heartbeat_ns * ((uint64_t)p->m->misses + 1)) {
				myco__ex_event(s, p, "hung", -1, -1,
					       "no heartbeat for %.0f ms (period %.0f ms, %u misses allowed): killing",
					       (double)(now - p->hb_seen_ns) / 1e6,
					       (double)p->m->heartbeat_ns / 1e6, p->m->misses);
				p->hb_seen_ns = UINT64_MAX / 2;
				p->kill_injected = true;
				p->t_crash_ns = now;
				myco__ex_inst_crash(&p->act);
			}
		}
	}
}

/* Reverse-order stop: SIGTERM the current partition and wait for its exit
 * (or the graceful timeout, then SIGKILL) before moving to the previous one. */
static void stop_next(struct ex_system *s)
{
	while (s->stop_idx >= 0) {
		struct ex_part *p = &s->parts[s->order[s->stop_idx]];
		if (p->act.pid) {
			if (p->state != EX_STOPPING) {
				p->state = EX_STOPPING;
				p->stop_deadline_ns = myco_now() + s->opt.grace_ns;
				myco__ex_inst_signal(&p->act, SIGTERM);
			}
			return;
		}
		if (p->state != EX_EXITED && p->state != EX_FAILED)
			p->state = EX_STOPPED;
		p->stop_deadline_ns = 0;
		s->stop_idx--;
	}
	s->done = true;
}

void myco__ex_stop_all(struct ex_system *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	myco__ex_event(s, NULL, "system-stop", -1, -1, "%s: stopping in reverse start order", why);
	for (size_t i = 0; i < s->nparts; i++)
		retire_standby(s, &s->parts[i]);
	s->stop_idx = (int)s->norder - 1;
	stop_next(s);
}

int myco__ex_kill(struct ex_system *s, struct ex_part *p)
{
	if (!p->act.pid || s->stopping)
		return -ESRCH;
	p->t_crash_ns = myco_now();
	p->kill_injected = true;
	p->kill_operator = true;
	myco__ex_inst_crash(&p->act);
	myco__ex_event(s, p, "kill", -1, -1, "SIGKILL to pid %d (fault injection)",
		       (int)myco__ex_box_prog(&p->act));
	return 0;
}

int myco__ex_restart(struct ex_system *s, struct ex_part *p)
{
	if (s->stopping)
		return -ESHUTDOWN;
	if (!p->act.pid) {
		if (p->state == EX_WAITING)
			return -EAGAIN;
		myco__ex_event(s, p, "operator-start", -1, -1, "restart requested while %s",
			       myco__ex_state_name(p->state));
		return start_part(s, p);
	}
	p->operator_restart = true;
	p->kill_injected = true;
	p->t_crash_ns = myco_now();
	p->stop_deadline_ns = p->t_crash_ns + s->opt.grace_ns;
	myco__ex_inst_signal(&p->act, SIGTERM);
	myco__ex_event(s, p, "operator-restart", -1, -1, "SIGTERM to pid %d", (int)p->act.pid);
	return 0;
}

int myco__ex_stop_one(struct ex_system *s, struct ex_part *p)
{
	if (p->restart_at_ns && !p->act.pid && !s->stopping) {
		p->restart_at_ns = 0;           /* waiting out a backoff: stays down */
		p->state = EX_STOPPED;
		retire_standby(s, p);
		myco__ex_event(s, p, "operator-stop", -1, -1, "pending restart cancelled");
		return 0;
	}
	if (!p->act.pid || s->stopping)
		return -ESRCH;
	p->stop_requested = true;
	p->state = EX_STOPPING;
	retire_standby(s, p);
	p->stop_deadline_ns = myco_now() + s->opt.grace_ns;
	myco__ex_inst_signal(&p->act, SIGTERM);
	myco__ex_event(s, p, "operator-stop", -1, -1, "SIGTERM to pid %d", (int)p->act.pid);
	return 0;
}
