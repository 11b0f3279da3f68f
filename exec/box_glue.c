/*
 * box_glue.c: the executive core's use of exec/box (see box_glue.h).
 * One executive runs one system, so the few pieces of state here (the
 * frame scheduler, the list of dead instances whose cgroups are still to
 * be removed, the instance counter, the resolved run-as ids) are
 * file-level and touched only from the executive's loop thread.
 * Not for: isolation mechanisms (exec/box/).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "box/box.h"
#include "box_glue.h"
#include "chaos.h"
#include "collect.h"

struct box_inst {
	char instance[32];
	struct box_inst *next;      /* pending-destroy list */
	char part[EX_NAME_MAX];
	unsigned tries;             /* removal passes so far (one per tick) */
};

static struct box_inst *pending;    /* dead instances, cgroups to remove */
static void viol_resume(struct ex_system *s, uint64_t now);
static unsigned inst_counter;
static myco__box_frame_t *frame;
static int *frame_idx;              /* per partition, -1 = not in frame mode */
static uint64_t frame_major;        /* its major frame, ns */
static struct ex_system *log_sys;
static struct ex_part *log_part;
static bool *warned;                /* per partition: degraded warning shown */
/* Per partition, from `user` (resolved in system_init): the ids to run as,
 * (uid_t)-1 / (gid_t)-1 when the partition has no `user`.  Owned here. */
static uid_t *run_uid;
static gid_t *run_gid;

static void box_log(void *arg, const char *line)
{
	(void)arg;
	if (log_sys && log_part && warned && !warned[log_part->idx])
		myco__ex_event(log_sys, log_part, "degraded", -1, -1, "%s", line);
}

static struct myco__part_window *ctl_window(struct ex_inst *in)
{
	return (struct myco__part_window *)((char *)in->ctl + MYCO__PART_WINDOW_OFF);
}

/* The frame scheduler signals IN's pid (the fallback) and publishes each
 * window start in IN's control region (the partition's view of it). */
static void frame_bind(struct ex_part *p, struct ex_inst *in)
{
	myco__box_frame_set_pid(frame, frame_idx[p->idx], in->pid);
	if (!in->ctl)
		return;
	struct myco__part_window *w = ctl_window(in);
	__atomic_store_n(&w->major_ns, frame_major, __ATOMIC_RELAXED);
	myco__box_frame_publish(frame, frame_idx[p->idx], &w->seq, &w->start_ns);
}

int myco__ex_box_urings(struct ex_part *p, int *fds, unsigned max, void *params,
			size_t len, char *detail, size_t dcap)
{
	const myco_partition_t *m = p->m;
	unsigned decl = 0, n = 0, want;
	long cpus = m->core_mask ? __builtin_popcountll(m->core_mask)
				 : sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0;

	if (m->net)
		decl |= MYCO__BOX_URING_NET;
	if (m->nports)
		decl |= MYCO__BOX_URING_PORTS;
	for (size_t i = 0; i < m->npaths; i++)
		if (m->paths[i].rw)
			decl |= MYCO__BOX_URING_RW;
	/* One ring per loop: lib/rt's groups run a loop per CPU; two more for
	 * loops of the program's own (a destroyed loop gives its ring back). */
	want = (unsigned)(cpus > 0 ? cpus : 1) + 2;
	if (want > max)
		want = max;
	while (n < want) {
		rc = myco__box_uring_create(decl, 256, params, len);
		if (rc < 0)
			break;
		fds[n++] = rc;
	}
	if (n == 0) {
		snprintf(detail, dcap, "io_uring_setup: %s (the partition gets no rings)",
			 myco_strerror(rc));
		return rc;
	}
	int w = snprintf(detail, dcap, "%u rings, ", n);
	if (w > 0 && (size_t)w < dcap)
		myco__box_uring_describe(decl, detail + w, dcap - (size_t)w);
	return (int)n;
}

int myco__ex_box_spawn(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
		       char **env, const int *keep, size_t nkeep)
{
	myco__box_spec_t sp;
	myco__box_report_t rep;
	struct myco__box_fd fds[EX_MAX_FDS + EX_MAX_PORTS + 8 + MYCO__URING_MAX];
	struct myco__box_path paths[MYCO__BOX_MAX_PATHS];
	size_t nf = 0;
	int rc, nul = -1;
	struct box_inst *bi = calloc(1, sizeof(*bi));
	const myco_partition_t *m = p->m;

	if (!bi)
		return -ENOMEM;
	snprintf(bi->instance, sizeof(bi->instance), "i%u", ++inst_counter);
	snprintf(bi->part, sizeof(bi->part), "%s", p->name);
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0)
		fds[nf++] = (struct myco__box_fd){ nul, 0 };
	fds[nf++] = (struct myco__box_fd){ p->out_w, 1 };
	fds[nf++] = (struct myco__box_fd){ p->out_w, 2 };
	for (size_t i = 0; i < nkeep && nf < sizeof(fds) / sizeof(fds[0]); i++)
		fds[nf++] = (struct myco__box_fd){ keep[i], -1 };

	myco__box_spec_init(&sp);
	sp.system = s->box_name;
	sp.partition = p->name;
	sp.instance = bi->instance;
	sp.path = p->program;
	sp.argv = m->argv;
	sp.envp = (const char *const *)env;
	sp.fds = fds;
	sp.nfds = nf;
	sp.net = m->net;
	sp.ports = m->ports;
	sp.nports = m->nports;
	size_t np = m->npaths < MYCO__BOX_MAX_PATHS ? m->npaths : MYCO__BOX_MAX_PATHS;
	for (size_t i = 0; i < np; i++)
		paths[i] = (struct myco__box_path){ m->paths[i].path, m->paths[i].rw };
	sp.paths = paths;
	sp.npaths = np;
	sp.memory_max = m->memory_bytes;
	/* Every partition gets a pids limit (threads count): `pids N;` or the
	 * default.  It is per instance (each has its own cgroup), so a thread
	 * bomb in the active instance cannot take its standby's slots. */
	sp.pids_max = m->pids_max ? m->pids_max : MYCO_LANG_PIDS_DEFAULT;
	sp.cpu_mask = m->core_mask;
	if (m->mode == MYCO_MODE_BUDGET) {
		sp.time_mode = MYCO__BOX_TIME_BUDGET;
		sp.runtime_ns = m->runtime_ns;
		sp.period_ns = m->period_ns;
		/* A parked standby must not hold a SCHED_DEADLINE reservation
		 * (admission control would count every budget twice): it gets
		 * the cgroup quota now and its reservation when activated. */
		if (in->standby)
			sp.want &= ~MYCO__BOX_WANT(MYCO__BOX_DEADLINE);
	} else if (m->mode == MYCO_MODE_FRAME) {
		sp.time_mode = MYCO__BOX_TIME_FRAME;
	}
	/* `slowsys` chaos faults of the system file: their calls go through
	 * the listener (exec/chaos.c answers them, late while a fault is on) */
	const char *traps[64];
	sp.ntrap_syscalls = myco__ex_chaos_traps(s, p, traps, 64);
	sp.trap_syscalls = traps;
#ifdef MYCO_SANITIZED
	/* Sanitizer runtimes in the partition programs set resource limits and
	 * may change the personality at start-up: allow that in sanitizer
	 * builds only (the plain build keeps the strict allowlist). */
	static const char *const san_calls[] = { "prlimit64", "setrlimit", "personality" };
	sp.allow_syscalls = san_calls;
	sp.nallow_syscalls = sizeof(san_calls) / sizeof(san_calls[0]);
#endif
	/* MYCO_EXEC_BOX_INIT=1: a tiny init as PID 1 keeps the namespaces
	 * alive when the program dies, so the program's death is a plain
	 * process exit.  Measured on the shared 2-core machine it made restarts
	 * slower (the init's namespace teardown then competes with the standby
	 * for the CPU), so it is off by default; see docs/executive.md. */
	const char *wi = getenv("MYCO_EXEC_BOX_INIT");
	if (wi && !strcmp(wi, "1"))
		sp.flags |= MYCO__BOX_F_INIT;
	/* Run as: only root can switch users.  Without root the box runs the
	 * partition in a user namespace as the executive's own uid; asking it
	 * to switch would fail the spawn, so the switch is left out and
	 * reported below as a degraded "run-as" mechanism (and an event). */
	bool run_as = run_uid && run_uid[p->idx] != (uid_t)-1;
	/* (already being that user needs no switch) */
	bool can_switch = geteuid() == 0 ||
			  (run_as && run_uid[p->idx] == geteuid() && run_gid[p->idx] == getegid());
	if (run_as && can_switch && geteuid() == 0) {
		sp.uid = run_uid[p->idx];
		sp.gid = run_gid[p->idx];
	}
	sp.log = box_log;
	log_sys = s;
	log_part = p;
	memset(&rep, 0, sizeof(rep));
	rep.seccomp_fd = -1;
	rc = myco__box_spawn(&sp, &rep, &in->pid, &in->pidfd);
	if (rc >= 0 && run_as && !can_switch && warned && !warned[p->idx])
		myco__ex_event(s, p, "degraded", -1, -1,
			       "run-as: not root, cannot switch to uid %u gid %u: runs as uid %u "
			       "(the executive's)", (unsigned)run_uid[p->idx],
			       (unsigned)run_gid[p->idx], (unsigned)geteuid());
	if (warned)
		warned[p->idx] = true;
	log_part = NULL;
	if (nul >= 0)
		close(nul);
	if (rc < 0) {
		char as[96] = "";
		if (run_as && sp.uid != (uid_t)-1 && (rc == -EACCES || rc == -EPERM))
			snprintf(as, sizeof(as), " (runs as uid %u gid %u: the program must be "
				 "executable by them)", (unsigned)sp.uid, (unsigned)sp.gid);
		myco__ex_event(s, p, "spawn-failed", -1, -1, "%s: %s (step %s)%s", p->program,
			       myco_strerror(rc),
			       rep.failed_step >= 0 && rep.failed_step < MYCO__BOX_MECH_COUNT ?
			       myco__box_mech_name((enum myco__box_mech)rep.failed_step) : "clone/exec",
			       as);
		free(bi);
		in->pid = 0;
		in->pidfd = -1;
		return rc;
	}
	in->box = bi;
	in->has_init = (sp.flags & MYCO__BOX_F_INIT) != 0;
	in->seccomp_fd = rep.seccomp_fd;
	in->niso = 0;
	for (int k = 0; k < MYCO__BOX_MECH_COUNT && in->niso < EX_MAX_ISO; k++) {
		struct ex_iso *iso = &in->iso[in->niso++];
		snprintf(iso->name, sizeof(iso->name), "%s", myco__box_mech_name((enum myco__box_mech)k));
		snprintf(iso->status, sizeof(iso->status), "%s",
			 myco__box_state_name((enum myco__box_state)rep.m[k].state));
		snprintf(iso->reason, sizeof(iso->reason), "%s", rep.m[k].detail);
	}
	if (in->niso < EX_MAX_ISO) {
		struct ex_iso *iso = &in->iso[in->niso++];
		snprintf(iso->name, sizeof(iso->name), "run-as");
		if (!run_as) {
			snprintf(iso->status, sizeof(iso->status), "not-requested");
			snprintf(iso->reason, sizeof(iso->reason), "uid %u (the executive's)",
				 (unsigned)geteuid());
		} else if (can_switch) {
			snprintf(iso->status, sizeof(iso->status), "applied");
			snprintf(iso->reason, sizeof(iso->reason), "uid %u gid %u%s",
				 (unsigned)run_uid[p->idx], (unsigned)run_gid[p->idx],
				 geteuid() == 0 ? ", no supplementary groups"
						: " (the executive's own, no switch needed)");
		} else {
			snprintf(iso->status, sizeof(iso->status), "degraded");
			snprintf(iso->reason, sizeof(iso->reason),
				 "not root: runs as uid %u, not uid %u gid %u", (unsigned)geteuid(),
				 (unsigned)run_uid[p->idx], (unsigned)run_gid[p->idx]);
		}
	}
	if (in->niso < EX_MAX_ISO) {
		struct ex_iso *iso = &in->iso[in->niso++];
		snprintf(iso->name, sizeof(iso->name), "io-uring");
		snprintf(iso->status, sizeof(iso->status), "%s",
			 in->uring_ok ? "applied" : "degraded");
		snprintf(iso->reason, sizeof(iso->reason), "%s", in->uring_detail);
	}
	if (frame && frame_idx && frame_idx[p->idx] >= 0 && !in->standby)
		frame_bind(p, in);
	if (!in->standby)
		myco__ex_cache_apply(s, p, in);
	return 0;
}

pid_t myco__ex_box_prog(struct ex_inst *in)
{
	char path[96], buf[256];
	if (!in->has_init || in->prog_pid)
		return in->prog_pid ? in->prog_pid : in->pid;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)in->pid, (int)in->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return in->pid;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		in->prog_pid = (pid_t)atoi(buf);
	}
	return in->prog_pid > 0 ? in->prog_pid : in->pid;
}

void myco__ex_box_release(struct ex_system *s, struct ex_inst *in)
{
	(void)s;
	/* the control region is unmapped next: no more window publications */
	if (frame && in->ctl)
		myco__box_frame_forget(frame, &ctl_window(in)->seq);
	struct box_inst *bi = in->box;
	if (!bi)
		return;
	bi->next = pending;
	pending = bi;
	in->box = NULL;
}

static struct ex_iso *iso_find(struct ex_inst *in, const char *name)
{
	for (size_t i = 0; i < in->niso; i++)
		if (!strcmp(in->iso[i].name, name))
			return &in->iso[i];
	return NULL;
}

/* A budget holds for the whole partition.  The SCHED_DEADLINE reservation
 * is the main thread's alone (threads it creates are SCHED_OTHER) and the
 * cgroup quota throttles only those, so a second thread used to add the
 * quota to the reservation (2x).  As soon as the active instance runs a
 * second thread (its own or an io_uring worker) the reservation is
 * dropped: the quota, the same budget, then caps every thread together.
 * One /proc read per tick per budget partition still holding one. */
static void budget_whole(struct ex_system *s)
{
	const char *dl_name = myco__box_mech_name(MYCO__BOX_DEADLINE);
	const char *cpu_name = myco__box_mech_name(MYCO__BOX_CG_CPU);

	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct ex_inst *in = &p->act;
		struct ex_iso *dl, *cpu;
		int n, rc;

		if (p->m->mode != MYCO_MODE_BUDGET || !in->pid || in->standby ||
		    in->dl_checked)
			continue;
		dl = iso_find(in, dl_name);
		if (!dl || strcmp(dl->status, "applied"))
			continue;
		n = myco__box_threads(myco__ex_box_prog(in));
		if (n <= 1)
			continue;
		in->dl_checked = true;
		cpu = iso_find(in, cpu_name);
		if (!cpu || strcmp(cpu->status, "applied")) {
			myco__ex_event(s, p, "degraded", -1, -1,
				       "budget: %d threads, no cgroup quota to cap them together: "
				       "the reservation holds for the main thread only", n);
			continue;
		}
		rc = myco__box_deadline_drop(myco__ex_box_prog(in));
		snprintf(dl->status, sizeof(dl->status), "%s", rc == 0 ? "degraded" : "applied");
		snprintf(dl->reason, sizeof(dl->reason), "%s%s",
			 rc == 0 ? "dropped: more than one thread, the quota caps them all"
				 : "main thread only; dropping it failed: ",
			 rc == 0 ? "" : myco_strerror(rc));
		myco__ex_event(s, p, "budget", -1, -1,
			       "%d threads: SCHED_DEADLINE reservation %s; the cgroup quota (%s) "
			       "holds the budget for all of them", n,
			       rc == 0 ? "dropped" : "could not be dropped", cpu->reason);
	}
}

void myco__ex_box_tick(struct ex_system *s)
{
	struct box_inst **pp = &pending;

	viol_resume(s, myco_now());
	budget_whole(s);
	/* One pass each, never a sleep: the supervision loop must not block
	 * on processes that take their time to die; the rest waits for the
	 * next tick.  At shutdown (s->stopping) the blocking removal. */
	while (*pp) {
		struct box_inst *bi = *pp;
		int rc = s->stopping ? myco__box_destroy(s->box_name, bi->part, bi->instance)
		                     : myco__box_destroy_try(s->box_name, bi->part, bi->instance);

		if (rc == -EBUSY && !s->stopping && ++bi->tries < 60) {
			pp = &bi->next;
			continue;
		}
		if (rc == -EBUSY)
			myco__ex_event(s, NULL, "cgroup", -1, -1,
				       "cgroups of %s/%s still busy: left for the stale cleanup",
				       bi->part, bi->instance);
		*pp = bi->next;
		free(bi);
	}
}

void myco__ex_box_activated(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	if (frame && frame_idx && frame_idx[p->idx] >= 0)
		frame_bind(p, in);
	myco__ex_cache_apply(s, p, in);
	if (p->m->mode != MYCO_MODE_BUDGET)
		return;
	/* the reservation a standby did not hold while parked */
	int rc = myco__box_deadline_apply(myco__ex_box_prog(in), p->m->runtime_ns,
					  p->m->period_ns);
	const char *mech = myco__box_mech_name(MYCO__BOX_DEADLINE);
	for (size_t i = 0; i < in->niso; i++) {
		struct ex_iso *iso = &in->iso[i];
		if (strcmp(iso->name, mech))
			continue;
		snprintf(iso->status, sizeof(iso->status), "%s", rc == 0 ? "applied" : "degraded");
		snprintf(iso->reason, sizeof(iso->reason), "%s%s",
			 rc == 0 ? "main thread, applied at activation" : "at activation: ",
			 rc == 0 ? "" : myco_strerror(rc));
	}
	if (rc < 0)
		myco__ex_event(s, p, "degraded", -1, -1,
			       "sched-deadline at activation: %s (cgroup quota still applies)",
			       myco_strerror(rc));
}

void myco__ex_box_exit_cause(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			     const siginfo_t *si, char *how, size_t cap)
{
	struct box_inst *bi = in->box;
	if (!bi || si->si_code == CLD_EXITED)
		return;
	if (si->si_status == SIGSYS) {
		snprintf(how, cap, "killed by seccomp (SIGSYS)");
		return;
	}
	if (si->si_status == SIGKILL && !p->kill_injected) {
		struct myco__box_stats st;
		if (myco__box_stats(s->box_name, p->name, bi->instance, &st) == 0 && st.oom_kills) {
			snprintf(how, cap, "OOM-killed by the memory limit (SIGKILL, %llu oom kills)",
				 (unsigned long long)st.oom_kills);
			myco__ex_collect_event(s, p, "oom", (int64_t)st.oom_kills);
		}
	}
}

/*
 * Forbidden syscalls, per partition, so that a partition calling one in a
 * loop harms only itself:
 *  - aggregated: a repeat of a syscall already reported (its event still in
 *    the ring) only updates that event's count and last time, no new event
 *    and no log line;
 *  - rate-limited: at most VIOL_EVENTS new events a second per partition,
 *    the rest counted and summed up in one "seccomp-burst" event;
 *  - cost capped: past VIOL_CAP notifications in a second the executive
 *    stops reading the partition's seccomp listener for the rest of that
 *    second.  Its offending threads wait in the kernel meanwhile (their own
 *    time, not the executive's nor another partition's).
 */
#define VIOL_EVENTS 10u          /* new events per partition per second */
#define VIOL_CAP 2000u           /* notifications answered per partition per second */
#define VIOL_AGG 8               /* syscalls aggregated per partition */
#define VIOL_WINDOW 1000000000ull

struct viol_state {
	uint64_t win_start;       /* start of the current one-second window */
	uint32_t handled;         /* notifications answered in the window */
	uint32_t events;          /* new events in the window */
	uint64_t folded;          /* repeats folded into earlier events (window) */
	uint64_t dropped;         /* over the event rate (window) */
	uint64_t paused_until;    /* cost cap: listener off epoll until then */
	int paused_fd;            /* that listener (-1: none) */
	struct { int nr; uint64_t seq, count, first_ns; } agg[VIOL_AGG];
	unsigned agg_next;
};
static struct viol_state *viol;    /* per partition */

static void viol_window(struct ex_system *s, struct ex_part *p, struct viol_state *vs,
			uint64_t now)
{
	if (now - vs->win_start < VIOL_WINDOW)
		return;
	if (vs->dropped || vs->handled >= VIOL_CAP)
		myco__ex_event(s, p, "seccomp-burst", -1, -1,
			       "%u forbidden syscalls answered in the last window: %llu repeats "
			       "folded into earlier events, %llu not reported (over %u events/s)%s",
			       vs->handled, (unsigned long long)vs->folded,
			       (unsigned long long)vs->dropped, VIOL_EVENTS,
			       vs->handled >= VIOL_CAP ? "; throttled at the cost cap" : "");
	vs->win_start = now;
	vs->handled = vs->events = 0;
	vs->folded = vs->dropped = 0;
}

/* Resume a listener paused by the cost cap (called every tick). */
static void viol_resume(struct ex_system *s, uint64_t now)
{
	for (size_t i = 0; viol && i < s->nparts; i++) {
		struct viol_state *vs = &viol[i];
		struct ex_part *p = &s->parts[i];
		struct ex_inst *c[3] = { &p->act, &p->sb, &p->dying };

		if (vs->paused_fd < 0 || now < vs->paused_until)
			continue;
		for (int k = 0; k < 3; k++)
			if (c[k]->pid && c[k]->seccomp_fd == vs->paused_fd)
				myco__ex_epoll_add(s, vs->paused_fd,
						   EX_TAG(EXT_SECCOMP, p->idx, vs->paused_fd));
		vs->paused_fd = -1;
	}
}

static void viol_report(struct ex_system *s, struct ex_part *p, struct viol_state *vs,
			const struct myco__box_violation *v, uint64_t now)
{
	for (int i = 0; i < VIOL_AGG; i++) {
		struct ex_event *e;

		if (!vs->agg[i].count || vs->agg[i].nr != v->nr)
			continue;
		e = &s->ev[vs->agg[i].seq % EX_EVENT_RING];
		if (e->seq != vs->agg[i].seq || s->ev_seq - e->seq > EX_EVENT_RING)
			break;          /* that event left the ring: report anew */
		vs->agg[i].count++;
		vs->folded++;
		snprintf(e->detail, sizeof(e->detail),
			 "forbidden syscall %s (nr %d): denied with EPERM, %llu times "
			 "(last by pid %d, %.3f s after the first)",
			 v->name, v->nr, (unsigned long long)vs->agg[i].count, (int)v->pid,
			 (double)(now - vs->agg[i].first_ns) / 1e9);
		myco__ex_event_sync(p, e);
		return;
	}
	if (vs->events >= VIOL_EVENTS) {
		vs->dropped++;
		return;
	}
	vs->events++;
	struct ex_event *e = myco__ex_event(s, p, "seccomp", -1, -1,
					    "forbidden syscall %s (nr %d) by pid %d: denied with EPERM",
					    v->name, v->nr, (int)v->pid);
	unsigned k = vs->agg_next++ % VIOL_AGG;
	vs->agg[k].nr = v->nr;
	vs->agg[k].seq = e->seq;
	vs->agg[k].count = 1;
	vs->agg[k].first_ns = now;
}

void myco__ex_box_seccomp(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	struct myco__box_violation v;
	struct viol_state *vs = viol ? &viol[p->idx] : NULL;
	uint64_t now;
	int rc = myco__box_violation_read(in->seccomp_fd, &v);
	if (rc == -ENOENT || rc == -EAGAIN)
		return;         /* withdrawn: the calling thread was killed */
	if (rc < 0) {
		/* listener gone (every process of the filter exited) */
		myco__ex_epoll_del(s, in->seccomp_fd);
		if (vs && vs->paused_fd == in->seccomp_fd)
			vs->paused_fd = -1;
		close(in->seccomp_fd);
		in->seccomp_fd = -1;
		return;
	}
	if (myco__ex_chaos_syscall(s, p, in, &v))
		return;         /* a trapped call of a `slowsys` fault, answered */
	myco__box_violation_respond(in->seccomp_fd, &v, MYCO__BOX_DENY, EPERM);
	if (!vs) {
		myco__ex_event(s, p, "seccomp", -1, -1,
			       "forbidden syscall %s (nr %d) by pid %d: denied with EPERM",
			       v.name, v.nr, (int)v.pid);
		return;
	}
	now = myco_now();
	viol_window(s, p, vs, now);
	vs->handled++;
	viol_report(s, p, vs, &v, now);
	if (vs->handled >= VIOL_CAP && vs->paused_fd < 0) {
		myco__ex_epoll_del(s, in->seccomp_fd);
		vs->paused_fd = in->seccomp_fd;
		vs->paused_until = vs->win_start + VIOL_WINDOW;
	}
}

/* Resolve partition p's `user` / `group` (names through the passwd and
 * group databases) into run_uid/run_gid.  0, or -1 after printing a start-up
 * error naming the partition. */
static int resolve_run_as(struct ex_system *s, size_t i)
{
	const myco_partition_t *m = s->parts[i].m;
	const char *pn = s->parts[i].name;
	uid_t uid;
	gid_t gid = (gid_t)-1;
	struct passwd *pw;

	run_uid[i] = (uid_t)-1;
	run_gid[i] = (gid_t)-1;
	if (!m->run_as)
		return 0;
	if (m->user_name) {
		errno = 0;
		pw = getpwnam(m->user_name);
		if (!pw) {
			fprintf(stderr, "myco run: partition '%s': unknown user \"%s\" (%s:%u:%u)%s%s\n",
				pn, m->user_name, s->model->path, m->user_pos.line, m->user_pos.col,
				errno ? ": " : "", errno ? strerror(errno) : "");
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		uid = (uid_t)m->uid;
		/* a number: its passwd entry's primary group if it has one,
		 * else the same number as gid */
		pw = getpwuid(uid);
		gid = pw ? pw->pw_gid : (gid_t)m->uid;
	}
	if (m->run_group) {
		if (m->group_name) {
			errno = 0;
			struct group *gr = getgrnam(m->group_name);
			if (!gr) {
				fprintf(stderr, "myco run: partition '%s': unknown group \"%s\" (%s:%u:%u)%s%s\n",
					pn, m->group_name, s->model->path, m->user_pos.line,
					m->user_pos.col,
					errno ? ": " : "", errno ? strerror(errno) : "");
				return -1;
			}
			gid = gr->gr_gid;
		} else {
			gid = (gid_t)m->gid;
		}
	}
	if (uid == MYCO_CHAN_SEGMENT_UID || gid == MYCO_CHAN_SEGMENT_UID) {
		fprintf(stderr, "myco run: partition '%s': uid/gid %u is reserved: it owns the "
			"channels' read-only segments (%s:%u:%u)\n", pn, MYCO_CHAN_SEGMENT_UID,
			s->model->path, m->user_pos.line, m->user_pos.col);
		return -1;
	}
	run_uid[i] = uid;
	run_gid[i] = gid;
	return 0;
}

int myco__ex_box_system_init(struct ex_system *s)
{
	const myco_system_t *m = s->model;
	size_t n = s->nparts ? s->nparts : 1;
	warned = calloc(n, sizeof(bool));
	frame_idx = calloc(n, sizeof(int));
	run_uid = calloc(n, sizeof(uid_t));
	run_gid = calloc(n, sizeof(gid_t));
	viol = calloc(n, sizeof(*viol));
	for (size_t i = 0; viol && i < n; i++)
		viol[i].paused_fd = -1;
	if (!frame_idx || !warned || !run_uid || !run_gid || !viol) {
		fprintf(stderr, "myco run: %s\n", myco_strerror(-ENOMEM));
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->nparts; i++)
		if (resolve_run_as(s, i) < 0)
			return -EINVAL;
	for (size_t i = 0; i < s->nparts; i++)
		frame_idx[i] = -1;
	if (!m->schedule.major_ns)
		return 0;
	frame_major = m->schedule.major_ns;
	int rc = myco__box_frame_new(s->box_name, m->schedule.major_ns, &frame);
	if (rc < 0) {
		myco__ex_event(s, NULL, "frame", -1, -1, "frame scheduler: %s", myco_strerror(rc));
		frame = NULL;
		return 0;
	}
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i].m->mode == MYCO_MODE_FRAME &&
		    myco__box_frame_add(frame, s->parts[i].name, 0, &frame_idx[i]) < 0)
			frame_idx[i] = -1;
	for (size_t c = 0; c < m->schedule.ncores; c++) {
		const myco_core_sched_t *cs = &m->schedule.cores[c];
		for (size_t w = 0; w < cs->nwindows; w++) {
			const myco_window_t *win = &cs->windows[w];
			if (win->partition < s->nparts && frame_idx[win->partition] >= 0)
				myco__box_frame_window(frame, frame_idx[win->partition], (int)cs->core,
						       win->offset_ns, win->duration_ns);
		}
	}
	rc = myco__box_frame_start(frame);
	myco__ex_event(s, NULL, "frame", -1, -1, "frame scheduler: major frame %.3f ms: %s",
		       (double)m->schedule.major_ns / 1e6, rc < 0 ? myco_strerror(rc) : "started");
	return 0;
}

/* The guard's end of the pipe (box.h: the guard cleans up if we are
 * killed; dismissed at a normal shutdown). */
static int guard_ctl = -1;

void myco__ex_box_stale_cleanup(struct ex_system *s)
{
	int n = myco__box_cleanup_stale(s->box_name);
	if (n > 0)
		myco__ex_event(s, NULL, "stale-cleanup", -1, -1,
			       "killed %d leftover process(es) of a previous executive", n);
	if (guard_ctl < 0) {
		n = myco__box_guard_start(s->box_name, &guard_ctl);
		myco__ex_event(s, NULL, "guard", -1, -1,
			       n > 0 ? "guard pid %d: cleans up if the executive dies"
			             : "no guard (%d): partitions may outlive a killed executive", n);
	}
}

void myco__ex_box_system_destroy(struct ex_system *s)
{
	if (frame) {
		myco__box_frame_stop(frame);
		myco__box_frame_free(frame);
		frame = NULL;
	}
	myco__ex_box_tick(s);
	for (size_t i = 0; i < s->nparts; i++)
		myco__box_destroy(s->box_name, s->parts[i].name, NULL);
	myco__box_cleanup_stale(s->box_name);
	myco__box_guard_dismiss(guard_ctl);
	guard_ctl = -1;
	free(frame_idx);
	frame_idx = NULL;
	free(warned);
	warned = NULL;
	free(run_uid);
	run_uid = NULL;
	free(run_gid);
	run_gid = NULL;
	free(viol);
	viol = NULL;
}

int myco__ex_box_frame_stats(struct ex_system *s, struct ex_part *p,
			     struct myco__box_frame_stats *st)
{
	(void)s;
	if (!frame || !frame_idx || frame_idx[p->idx] < 0)
		return -ENOENT;
	return myco__box_frame_stats(frame, frame_idx[p->idx], st);
}
