/*
 * exec.c: `myco run`: load and check the system file, build the running
 * system (partitions, groups, start order, channels, log pipes), take the
 * runtime dir and control socket, then run the single-threaded event loop
 * (signalfd, a 10 ms timerfd tick, pidfds, notify eventfds, log pipes,
 * control connections) until the system is stopped; then release
 * everything so nothing is left behind.
 * Not for: the supervision rules (supervise.c) or the control protocol
 * (control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "exec_int.h"
#include "chaos.h"
#include "dash.h"
#include "collect.h"
#include "health.h"
#include "heal.h"
#include "record.h"
#include "box_glue.h"

#define EX_DEFAULT_MAX_RESTARTS 5
#define EX_DEFAULT_WITHIN_NS    (10ull * 1000000000ull)

/* Does partition a have to wait for b (b receives what a sends, or b
 * serves a's calls)? */
static bool depends_on(const myco_system_t *m, uint32_t a, uint32_t b)
{
	const myco_partition_t *pa = &m->partitions[a];
	for (size_t k = 0; k < pa->nends; k++) {
		const myco_end_t *e = &pa->ends[k];
		const myco_channel_t *c = &m->channels[e->channel];
		if (e->role == MYCO_END_SEND)
			for (size_t r = 0; r < c->nreceivers; r++)
				if (c->receivers[r] == b)
					return true;
		if (e->role == MYCO_END_CALL && c->server == b)
			return true;
	}
	return false;
}

/* Start order: a partition comes after everything it depends on; cycles
 * are broken in declaration order.  Only dependencies on partitions that
 * come earlier are kept (so gating can never deadlock). */
static int build_order(struct ex_system *s)
{
	size_t n = s->nparts;
	bool *placed = calloc(n ? n : 1, sizeof(bool));
	if (!placed)
		return -ENOMEM;
	s->norder = 0;
	while (s->norder < n) {
		bool progress = false;
		for (size_t i = 0; i < n; i++) {
			if (placed[i])
				continue;
			bool ok = true;
			for (size_t j = 0; j < n && ok; j++)
				if (j != i && !placed[j] && depends_on(s->model, (uint32_t)i, (uint32_t)j))
					ok = false;
			if (ok) {
				placed[i] = true;
				s->parts[i].start_rank = (uint32_t)s->norder;
				s->order[s->norder++] = (uint32_t)i;
				progress = true;
			}
		}
		if (!progress) {        /* cycle: take the first unplaced */
			for (size_t i = 0; i < n; i++)
				if (!placed[i]) {
					placed[i] = true;
					s->parts[i].start_rank = (uint32_t)s->norder;
					s->order[s->norder++] = (uint32_t)i;
					break;
				}
		}
	}
	free(placed);
	for (size_t i = 0; i < n; i++) {
		struct ex_part *p = &s->parts[i];
		p->deps = calloc(n ? n : 1, sizeof(uint32_t));
		if (!p->deps)
			return -ENOMEM;
		for (size_t j = 0; j < n; j++)
			if (j != i && s->parts[j].start_rank < p->start_rank &&
			    depends_on(s->model, (uint32_t)i, (uint32_t)j))
				p->deps[p->ndeps++] = (uint32_t)j;
	}
	return 0;
}

static int build_system(struct ex_system *s)
{
	const myco_system_t *m = s->model;
	char real[PATH_MAX];
	int rc = 0;

	snprintf(s->name, sizeof(s->name), "%s", m->name);
	if (!realpath(s->opt.file, real))
		return -errno;
	snprintf(s->base_dir, sizeof(s->base_dir), "%s", dirname(real));
	s->nparts = m->npartitions;
	s->nchans = m->nchannels;
	s->ngroups = m->ngroups + 1;
	s->parts = calloc(s->nparts ? s->nparts : 1, sizeof(*s->parts));
	s->chan_owners = calloc(s->nchans ? s->nchans : 1, sizeof(*s->chan_owners));
	s->groups = calloc(s->ngroups, sizeof(*s->groups));
	s->order = calloc(s->nparts ? s->nparts : 1, sizeof(uint32_t));
	s->ev = calloc(EX_EVENT_RING, sizeof(*s->ev));
	if (!s->parts || !s->chan_owners || !s->groups || !s->order || !s->ev)
		return -ENOMEM;
	for (size_t g = 0; g < s->ngroups; g++) {
		struct ex_group *eg = &s->groups[g];
		eg->members = calloc(s->nparts ? s->nparts : 1, sizeof(uint32_t));
		if (!eg->members)
			return -ENOMEM;
		if (g < m->ngroups) {
			eg->m = &m->groups[g];
			snprintf(eg->name, sizeof(eg->name), "%s", eg->m->name);
			eg->strategy = eg->m->strategy;
			eg->max_restarts = eg->m->max_restarts;
			eg->within_ns = eg->m->within_ns;
			for (size_t k = 0; k < eg->m->nmembers; k++)
				eg->members[eg->nmembers++] = eg->m->members[k];
		} else {
			snprintf(eg->name, sizeof(eg->name), "(default)");
			eg->strategy = MYCO_ONE_FOR_ONE;
			eg->max_restarts = EX_DEFAULT_MAX_RESTARTS;
			eg->within_ns = EX_DEFAULT_WITHIN_NS;
		}
		eg->hist = calloc((size_t)eg->max_restarts + 1, sizeof(uint64_t));
		if (!eg->hist)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		const myco_partition_t *mp = &m->partitions[i];
		p->idx = (uint32_t)i;
		p->m = mp;
		myco__ex_inst_init(&p->act);
		myco__ex_inst_init(&p->sb);
		myco__ex_inst_init(&p->dying);
		myco__ex_inst_init(&p->quar);
		p->out_r = p->out_w = -1;
		snprintf(p->name, sizeof(p->name), "%s", mp->name);
		if (mp->program[0] == '/')
			snprintf(p->program, sizeof(p->program), "%s", mp->program);
		else if (snprintf(p->program, sizeof(p->program), "%s/%s", s->base_dir,
				  mp->program) >= (int)sizeof(p->program))
			return -ENAMETOOLONG;
		if (mp->group != MYCO_LANG_NONE && mp->group < m->ngroups) {
			p->group = mp->group;
		} else {
			struct ex_group *dg = &s->groups[s->ngroups - 1];
			p->group = (uint32_t)(s->ngroups - 1);
			dg->members[dg->nmembers++] = (uint32_t)i;
		}
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) < 0)
			return -errno;
		p->out_r = pfd[0];
		p->out_w = pfd[1];
		fcntl(p->out_r, F_SETFL, O_NONBLOCK);
	}
	rc = build_order(s);
	return rc;
}

static void free_system(struct ex_system *s)
{
	for (size_t i = 0; s->parts && i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		if (p->out_r >= 0)
			close(p->out_r);
		if (p->out_w >= 0)
			close(p->out_w);
		free(p->log);
		free(p->pev);
		free(p->deps);
	}
	for (size_t g = 0; s->groups && g < s->ngroups; g++) {
		free(s->groups[g].members);
		free(s->groups[g].hist);
	}
	free(s->parts);
	free(s->chan_owners);
	free(s->groups);
	free(s->order);
	free(s->ev);
	if (s->model)
		myco_system_free(s->model);
}

int myco__ex_epoll_add(struct ex_system *s, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void myco__ex_epoll_del(struct ex_system *s, int fd)
{
	if (fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void drain_log(struct ex_system *s, struct ex_part *p)
{
	char buf[8192];
	ssize_t n;
	(void)s;
	while ((n = read(p->out_r, buf, sizeof(buf))) > 0)
		myco__ex_log_append(p, buf, (size_t)n);
}

static struct ex_inst *inst_by_fd(struct ex_part *p, int fd, int which)
{
	struct ex_inst *c[3] = { &p->act, &p->sb, &p->dying };
	for (int i = 0; i < 3; i++) {
		int f = which == EXT_PIDFD ? c[i]->pidfd :
			which == EXT_NOTIFY ? c[i]->notify_fd :
			which == EXT_DEATH ? c[i]->death_fd : c[i]->seccomp_fd;
		if (f == fd && c[i]->pid)
			return c[i];
	}
	return NULL;
}

static void handle_signal(struct ex_system *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (s->stopping) {
			myco__ex_event(s, NULL, "system-stop", -1, -1,
				       "second %s: killing everything now", sigabbrev_np((int)si.ssi_signo));
			for (size_t i = 0; i < s->nparts; i++)
				myco__ex_inst_signal(&s->parts[i].act, SIGKILL);
			continue;
		}
		char why[64];
		snprintf(why, sizeof(why), "SIG%s received", sigabbrev_np((int)si.ssi_signo));
		myco__ex_stop_all(s, why);
	}
}

static int loop(struct ex_system *s)
{
	struct epoll_event evs[64];

	while (!s->done) {
		int n = epoll_wait(s->epfd, evs, 64, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t t = evs[i].data.u64;
			unsigned kind = EX_TAG_KIND(t);
			int fd = EX_TAG_FD(t);
			struct ex_part *p = NULL;
			if (kind == EXT_PIDFD || kind == EXT_NOTIFY || kind == EXT_LOG ||
			    kind == EXT_SECCOMP || kind == EXT_DEATH) {
				uint32_t pi = EX_TAG_PART(t);
				if (pi >= s->nparts)
					continue;
				p = &s->parts[pi];
			}
			switch (kind) {
			case EXT_SIG:
				handle_signal(s);
				break;
			case EXT_TIMER: {
				uint64_t x;
				if (read(s->tfd, &x, sizeof(x)) < 0) {
					/* nothing: tick anyway */
				}
				myco__ex_tick(s);
				myco__ex_chaos_tick(s, myco_now());
				myco__ex_collect_tick(s);
				myco__ex_health_tick(s);
				myco__ex_record_tick(s);
				myco__ex_loans_tick(s);
				myco__ex_control_tick(s);
				break;
			}
			case EXT_METRICS:
				myco__ex_http_accept(s);
				break;
			case EXT_CHAOS:
				myco__ex_chaos_due(s);
				break;
			case EXT_HTTP:
				myco__ex_http_io(s, fd, evs[i].events);
				break;
			case EXT_LISTEN:
				myco__ex_control_accept(s);
				break;
			case EXT_CONN:
				for (struct ex_conn *c = s->conns; c; c = c->next)
					if (c->fd == fd) {
						myco__ex_control_io(s, c, evs[i].events);
						break;
					}
				break;
			case EXT_LOG:
				drain_log(s, p);
				break;
			case EXT_PIDFD: {
				struct ex_inst *in = inst_by_fd(p, fd, EXT_PIDFD);
				if (in)
					myco__ex_on_exit(s, p, in);
				else
					myco__ex_epoll_del(s, fd);
				break;
			}
			case EXT_DEATH: {
				struct ex_inst *in = inst_by_fd(p, fd, EXT_DEATH);
				if (in && in != &p->dying)
					myco__ex_on_death(s, p, in);
				else
					myco__ex_epoll_del(s, fd);
				break;
			}
			case EXT_NOTIFY: {
				struct ex_inst *in = inst_by_fd(p, fd, EXT_NOTIFY);
				if (in)
					myco__ex_on_notify(s, p, in);
				else
					myco__ex_epoll_del(s, fd);
				break;
			}
			case EXT_SECCOMP: {
				struct ex_inst *in = inst_by_fd(p, fd, EXT_SECCOMP);
				if (in)
					myco__ex_box_seccomp(s, p, in);
				else
					myco__ex_epoll_del(s, fd);
				break;
			}
			default:
				break;
			}
		}
		myco__ex_control_flush(s);
		fflush(stderr);         /* event lines, written once per loop turn */
	}
	return 0;
}

static int setup_loop(struct ex_system *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->sigfd < 0 || s->epfd < 0 || s->tfd < 0)
		return -errno;
	struct itimerspec its = { .it_interval = { 0, 10 * 1000 * 1000 },
				  .it_value = { 0, 10 * 1000 * 1000 } };
	timerfd_settime(s->tfd, 0, &its, NULL);
	int rc = myco__ex_epoll_add(s, s->sigfd, EX_TAG(EXT_SIG, 0, s->sigfd));
	if (rc == 0)
		rc = myco__ex_epoll_add(s, s->tfd, EX_TAG(EXT_TIMER, 0, s->tfd));
	for (size_t i = 0; rc == 0 && i < s->nparts; i++)
		rc = myco__ex_epoll_add(s, s->parts[i].out_r,
					EX_TAG(EXT_LOG, i, s->parts[i].out_r));
	return rc;
}

int myco__exec_run(const struct myco__exec_opts *opt)
{
	struct ex_system sys, *s = &sys;
	myco_diags_t *diags = NULL;
	int rc;
	bool runtime_taken = false;

	memset(s, 0, sizeof(*s));
	s->opt = *opt;
	s->epfd = s->sigfd = s->tfd = s->lfd = s->spare_fd = -1;
	s->exit_code = 0;
	if (!s->opt.grace_ns)
		s->opt.grace_ns = 3ull * 1000000000ull;
	if (!s->opt.ready_timeout_ns)
		s->opt.ready_timeout_ns = 10ull * 1000000000ull;
	s->t_start_ns = myco_now();
	/* About 14 fds per partition (log pipe, two instances with pidfd,
	 * control region, notify, death and alive pipes, seccomp listener) plus
	 * the channels: take the hard limit, not the default 1024. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Event lines are buffered and written once per loop turn so that a
	 * restart never waits for the terminal. */
	static char errbuf[1 << 16];
	setvbuf(stderr, errbuf, _IOFBF, sizeof(errbuf));

	rc = myco_lang_load_file(opt->file, &s->model, &diags);
	if (diags && (rc < 0 || myco_diags_count(diags)))
		myco_diags_print(diags, stderr, isatty(2));
	myco_diags_free(diags);
	if (rc < 0) {
		if (rc != -MYCO_ESYNTAX)
			fprintf(stderr, "myco run: %s: %s\n", opt->file, myco_strerror(rc));
		s->model = NULL;
		s->exit_code = 1;
		goto out;
	}
	rc = build_system(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	if (myco__ex_admit(s) < 0) {
		s->exit_code = 1;
		goto out;
	}
	rc = setup_loop(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: event loop: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_runtime_prepare(s);
	if (rc < 0) {
		s->exit_code = 1;
		goto out;
	}
	runtime_taken = true;
	myco__ex_shield_start(s);
	if (myco__ex_box_system_init(s) < 0) {
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_chans_create(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: channels: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_ports_open(s);
	if (rc < 0) {
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_loans_open(s);
	if (rc < 0) {
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_collect_open(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: trace and metrics: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_health_open(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: health model: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	myco__ex_health_profile(s, getenv("MYCO_HEALTH_PROFILE"));
	rc = myco__ex_record_open(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: record: %s\n", myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	rc = myco__ex_control_open(s);
	if (rc < 0) {
		fprintf(stderr, "myco run: control socket in %s: %s\n", s->dir, myco_strerror(rc));
		s->exit_code = 1;
		goto out;
	}
	myco__ex_dash_start(s);
	myco__ex_event(s, NULL, "system-start", -1, -1, "system %s: %zu partitions, %zu channels, runtime dir %s",
		       s->name, s->nparts, s->nchans, s->dir);
	myco__ex_start_ready(s);
	rc = loop(s);
	if (rc < 0)
		s->exit_code = 1;
	myco__ex_event(s, NULL, "system-down", -1, -1, "all partitions stopped");
	if (s->final_report[0])
		fprintf(stderr, "myco run: %s\n", s->final_report);
out:
	for (size_t i = 0; s->parts && i < s->nparts; i++) {
		myco__ex_inst_release(s, &s->parts[i].dying, true);
		myco__ex_inst_release(s, &s->parts[i].quar, true);
		myco__ex_inst_release(s, &s->parts[i].sb, true);
		myco__ex_inst_release(s, &s->parts[i].act, true);
	}
	myco__ex_chaos_free(s);
	myco__ex_dash_stop(s);
	myco__ex_control_close(s);
	myco__ex_health_close(s);
	myco__ex_record_close(s);
	myco__ex_collect_close(s);
	myco__ex_loans_close(s);
	myco__ex_chans_destroy(s);
	myco__ex_ports_close(s);
	if (runtime_taken)
		myco__ex_box_system_destroy(s);
	if (runtime_taken)
		myco__ex_shield_stop(s);
	if (runtime_taken)
		myco__ex_runtime_remove(s);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free_system(s);
	fflush(stderr);
	setvbuf(stderr, NULL, _IONBF, 0);
	return s->exit_code;
}
