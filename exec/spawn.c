/*
 * spawn.c: partition processes ("instances").  Each instance gets its own
 * control region (a sealed memfd, lib/part/part_abi.h, docs/part-abi.md)
 * and notify eventfd, the partition's capability fds at the same numbers,
 * stdout/stderr into the partition's log pipe, and its environment
 * (MYCO__ENV_*: the manifest, the control region, ...).  The process itself
 * is created in its box by box_glue.c (exec/box); calls go one way, from
 * here to box_glue.c to exec/box.  A standby is the same process started
 * with its control state PARKED: it waits inside myco_init().
 * Not for: deciding when to spawn (supervise.c), isolation (box_glue.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_int.h"
#include "chaos.h"
#include "collect.h"
#include "box_glue.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Create the control region of one instance.  On success *fd and *map are
 * owned by the caller (close + munmap MYCO__PART_CTL_SIZE). */
static int ctl_create(int *fd, struct myco__part_ctl **map, bool standby)
{
	int rc, f = memfd_create("myco-ctl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *m = MAP_FAILED;

	if (f < 0)
		return -errno;
	if (ftruncate(f, MYCO__PART_CTL_SIZE) < 0) {
		rc = -errno;
		goto out;
	}
	m = mmap(NULL, MYCO__PART_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (m == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	struct myco__part_ctl *c = m;
	c->magic = MYCO__PART_CTL_MAGIC;
	c->version = MYCO__PART_CTL_VERSION;
	c->size = MYCO__PART_CTL_SIZE;
	c->state = standby ? MYCO__CTL_PARKED : MYCO__CTL_ACTIVE;
	c->t_spawn_ns = myco_now();
	c->t_activate_ns = standby ? 0 : c->t_spawn_ns;
	if (fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		goto out;
	}
	*fd = f;
	*map = c;
	return 0;
out:
	if (m != MAP_FAILED)
		munmap(m, MYCO__PART_CTL_SIZE);
	close(f);
	return rc;
}

/* Build the environment; returns a NULL-terminated malloc'd array of
 * malloc'd strings (free with env_free), or NULL on ENOMEM. */
static char **env_build(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
			int alive_r, const char *caps)
{
	size_t n = p->m->nenv + 12, k = 0;
	char **env = calloc(n, sizeof(*env));
	if (!env)
		return NULL;
	const char *path = getenv("PATH");
	if (asprintf(&env[k++], "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin") < 0)
		goto fail;
	if (asprintf(&env[k++], MYCO__ENV_SYSTEM "=%s", s->name) < 0 ||
	    asprintf(&env[k++], MYCO__ENV_PARTITION "=%s", p->name) < 0 ||
	    asprintf(&env[k++], MYCO__ENV_POLICY "=%s", p->m->scheduler ? p->m->scheduler : "") < 0 ||
	    asprintf(&env[k++], MYCO__ENV_CTL "=%d", in->ctl_fd) < 0 ||
	    asprintf(&env[k++], MYCO__ENV_NOTIFY "=%d", in->notify_fd) < 0 ||
	    asprintf(&env[k++], MYCO__ENV_EXEC_FD "=%d", alive_r) < 0 ||
	    asprintf(&env[k++], MYCO__ENV_CAPS "=%s", caps) < 0)
		goto fail;
	if (p->m->nbids) {
		/* `bid`s for the market policy: CLASS:BID:INCOME:DEADLINE_NS,...
		 * (parsed by lib/rt/market.c) */
		size_t cap = 32 + p->m->nbids * 96, off;
		char *b = malloc(cap);
		if (!b)
			goto fail;
		off = (size_t)snprintf(b, cap, MYCO__ENV_BIDS "=");
		for (size_t i = 0; i < p->m->nbids && off < cap; i++) {
			const myco_bid_decl_t *d = &p->m->bids[i];
			off += (size_t)snprintf(b + off, cap - off, "%s%s:%llu:%llu:%llu",
						i ? "," : "", d->task_class,
						(unsigned long long)d->bid,
						(unsigned long long)d->income,
						(unsigned long long)d->deadline_ns);
		}
		env[k++] = b;
	}
	for (size_t i = 0; i < p->m->nenv; i++)
		if (!(env[k++] = strdup(p->m->env[i])))
			goto fail;
#ifdef MYCO_SANITIZED
	/* LeakSanitizer's exit-time check needs clone(), which the seccomp
	 * allowlist denies: turn it off inside partitions (sanitizer builds). */
	const char *ao = getenv("ASAN_OPTIONS");
	if (asprintf(&env[k++], "ASAN_OPTIONS=%s%sdetect_leaks=0", ao ? ao : "",
		     ao && *ao ? ":" : "") < 0)
		goto fail;
#endif
	return env;
fail:
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
	return NULL;
}

static void env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}


int myco__ex_inst_spawn(struct ex_system *s, struct ex_part *p,
			struct ex_inst *in, bool standby)
{
	int rc;
	char **env = NULL;
	int keep[EX_MAX_FDS + EX_MAX_PORTS + 4 + MYCO__URING_MAX];
	size_t nkeep = 0;
	struct myco__cap ucap = { .kind = MYCO__CAP_URING };
	char caps[sizeof(p->caps) + 16 * MYCO__URING_MAX];

	int dp[2] = { -1, -1 }, ap[2] = { -1, -1 };
	myco__ex_inst_init(in);
	if (pipe2(dp, O_CLOEXEC) < 0 || pipe2(ap, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	in->death_fd = dp[0];
	in->alive_fd = ap[1];
	rc = ctl_create(&in->ctl_fd, &in->ctl, standby);
	if (rc < 0)
		goto out;
	myco__ex_chaos_inst(s, p, in);  /* faults of a running experiment */
	in->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in->notify_fd < 0) {
		rc = -errno;
		goto out;
	}
	for (size_t i = 0; i < p->nfds; i++)
		keep[nkeep++] = p->fds[i];
	for (size_t i = 0; i < p->nlfds; i++)
		keep[nkeep++] = p->lfds[i];
	keep[nkeep++] = in->ctl_fd;
	keep[nkeep++] = in->notify_fd;
	keep[nkeep++] = dp[1];
	keep[nkeep++] = ap[0];
	/* This process's io_uring instances (a partition may not create
	 * rings): restricted to what it declared, listed in its manifest,
	 * their geometry in its control region.  Only the child keeps them. */
	snprintf(caps, sizeof(caps), "%s", p->caps);
	struct myco__part_uring *u = (void *)((char *)in->ctl + MYCO__PART_URING_OFF);
	rc = myco__ex_box_urings(p, ucap.fds, MYCO__URING_MAX, u->params, sizeof(u->params),
				 in->uring_detail, sizeof(in->uring_detail));
	if (rc > 0) {
		ucap.nfds = (size_t)rc;
		if (myco__caps_append(caps, sizeof(caps), &ucap) == 0) {
			u->size = sizeof(u->params);
			in->uring_ok = true;
			for (size_t i = 0; i < ucap.nfds; i++)
				keep[nkeep++] = ucap.fds[i];
		} else {
			snprintf(in->uring_detail, sizeof(in->uring_detail),
				 "manifest full: the partition gets no rings");
		}
	}
	env = env_build(s, p, in, ap[0], caps);
	if (!env) {
		rc = -ENOMEM;
		goto out;
	}
	in->standby = standby;
	in->t_spawn_ns = myco_now();
	rc = myco__ex_box_spawn(s, p, in, env, keep, nkeep);
	if (rc < 0)
		goto out;
	rc = myco__ex_epoll_add(s, in->pidfd, EX_TAG(EXT_PIDFD, p->idx, in->pidfd));
	if (rc == 0)
		rc = myco__ex_epoll_add(s, in->notify_fd, EX_TAG(EXT_NOTIFY, p->idx, in->notify_fd));
	if (rc == 0)
		rc = myco__ex_epoll_add(s, in->death_fd, EX_TAG(EXT_DEATH, p->idx, in->death_fd));
	if (rc == 0 && in->seccomp_fd >= 0)
		rc = myco__ex_epoll_add(s, in->seccomp_fd, EX_TAG(EXT_SECCOMP, p->idx, in->seccomp_fd));
out:
	if (dp[1] >= 0)
		close(dp[1]);       /* only the child holds the write end now */
	if (ap[0] >= 0)
		close(ap[0]);       /* only the child holds the read end now */
	for (size_t i = 0; i < ucap.nfds; i++)
		close(ucap.fds[i]); /* only the child holds the rings */
	env_free(env);
	if (rc < 0)
		myco__ex_inst_release(s, in, true);
	else
		myco__ex_collect_event(s, p, "spawn", standby);
	return rc;
}

void myco__ex_inst_activate(struct ex_inst *in, uint64_t now)
{
	struct myco__part_ctl *c = in->ctl;
	c->t_activate_ns = now;
	c->generation++;
	atomic_store_explicit((_Atomic uint32_t *)&c->state, MYCO__CTL_ACTIVE,
			      memory_order_release);
	myco__futex_wake(&c->state, 1);
	in->standby = false;
}

void myco__ex_inst_crash(struct ex_inst *in)
{
	pid_t prog = myco__ex_box_prog(in);
	if (prog != in->pid && kill(prog, SIGKILL) == 0)
		return;
	myco__ex_inst_signal(in, SIGKILL);
}

void myco__ex_inst_signal(struct ex_inst *in, int sig)
{
	if (in->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, in->pidfd, sig, NULL, 0);
}

void myco__ex_inst_release(struct ex_system *s, struct ex_inst *in, bool kill)
{
	if (in->pidfd >= 0) {
		myco__ex_epoll_del(s, in->pidfd);
		if (kill) {
			siginfo_t si;
			myco__ex_inst_signal(in, SIGKILL);
			while (waitid((idtype_t)P_PIDFD, (id_t)in->pidfd, &si, WEXITED) < 0 &&
			       errno == EINTR)
				;
		}
		close(in->pidfd);
	}
	if (in->notify_fd >= 0) {
		myco__ex_epoll_del(s, in->notify_fd);
		close(in->notify_fd);
	}
	if (in->seccomp_fd >= 0) {
		myco__ex_epoll_del(s, in->seccomp_fd);
		close(in->seccomp_fd);
	}
	if (in->death_fd >= 0) {
		myco__ex_epoll_del(s, in->death_fd);
		close(in->death_fd);
	}
	if (in->alive_fd >= 0)
		close(in->alive_fd);
	myco__ex_box_release(s, in);
	if (in->ctl)
		munmap(in->ctl, MYCO__PART_CTL_SIZE);
	if (in->ctl_fd >= 0)
		close(in->ctl_fd);
	myco__ex_inst_init(in);
}

void myco__ex_inst_init(struct ex_inst *in)
{
	memset(in, 0, sizeof(*in));
	in->pidfd = in->ctl_fd = in->notify_fd = in->seccomp_fd = in->death_fd = -1;
	in->alive_fd = -1;
}
