/*
 * spawn.c: partition processes ("instances").  Each instance gets its own
 * control region (a sealed memfd, see myco/part.h) and notify eventfd, the
 * partition's capability fds at the same numbers, stdout/stderr into the
 * partition's log pipe, and its environment (MYCO_CAPS, MYCO_CTL,
 * MYCO_NOTIFY, MYCO_PARTITION, MYCO_POLICY, MYCO_SYSTEM).  The process is
 * created boxed by exec/box when it is built in (myco__box_spawn), else by
 * a plain fork+exec here that still sets PR_SET_PDEATHSIG so a partition
 * never outlives its executive.  A standby is the same process started
 * with its control state PARKED: it waits inside myco_init().
 * Not for: deciding when to spawn (supervise.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_int.h"
#include "collect.h"
#ifdef MYCO_HAVE_BOX
#include "box_glue.h"
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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
			int alive_r)
{
	size_t n = p->m->nenv + 12, k = 0;
	char **env = calloc(n, sizeof(*env));
	if (!env)
		return NULL;
	const char *path = getenv("PATH");
	if (asprintf(&env[k++], "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin") < 0)
		goto fail;
	if (asprintf(&env[k++], "MYCO_SYSTEM=%s", s->name) < 0 ||
	    asprintf(&env[k++], "MYCO_PARTITION=%s", p->name) < 0 ||
	    asprintf(&env[k++], "MYCO_POLICY=%s", p->m->scheduler ? p->m->scheduler : "") < 0 ||
	    asprintf(&env[k++], "MYCO_CTL=%d", in->ctl_fd) < 0 ||
	    asprintf(&env[k++], "MYCO_NOTIFY=%d", in->notify_fd) < 0 ||
	    asprintf(&env[k++], "MYCO_EXEC_FD=%d", alive_r) < 0 ||
	    asprintf(&env[k++], "MYCO_CAPS=%s", p->caps) < 0)
		goto fail;
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

#ifndef MYCO_HAVE_BOX
/* The plain fork+exec path (no box built in). */
static int spawn_plain(struct ex_system *s, struct ex_part *p, struct ex_inst *in,
		       char **env, const int *keep, size_t nkeep)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0 && nul != 0) {
			dup2(nul, 0);
			close(nul);
		}
		dup2(p->out_w, 1);
		dup2(p->out_w, 2);
		syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
		for (size_t i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		if (s->base_dir[0] && chdir(s->base_dir) < 0)
			_exit(127);
		execve(p->program, (char *const *)p->m->argv, env);
		dprintf(2, "myco: exec %s: %s\n", p->program, strerror(errno));
		_exit(127);
	}
	in->pid = pid;
	in->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (in->pidfd < 0)
		return -errno;
	fcntl(in->pidfd, F_SETFD, FD_CLOEXEC);
	in->niso = 0;
	struct ex_iso *iso = &in->iso[in->niso++];
	snprintf(iso->name, sizeof(iso->name), "box");
	snprintf(iso->status, sizeof(iso->status), "degraded");
	snprintf(iso->reason, sizeof(iso->reason), "executive built without exec/box: plain fork+exec");
	return 0;
}
#endif

int myco__ex_inst_spawn(struct ex_system *s, struct ex_part *p,
			struct ex_inst *in, bool standby)
{
	int rc;
	char **env = NULL;
	int keep[EX_MAX_FDS + EX_MAX_PORTS + 4];
	size_t nkeep = 0;

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
	env = env_build(s, p, in, ap[0]);
	if (!env) {
		rc = -ENOMEM;
		goto out;
	}
	in->standby = standby;
	in->t_spawn_ns = myco_now();
#ifdef MYCO_HAVE_BOX
	rc = myco__ex_box_spawn(s, p, in, env, keep, nkeep);
#else
	rc = spawn_plain(s, p, in, env, keep, nkeep);
#endif
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

pid_t myco__ex_inst_prog(struct ex_inst *in)
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

void myco__ex_inst_crash(struct ex_inst *in)
{
	pid_t prog = myco__ex_inst_prog(in);
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
#ifdef MYCO_HAVE_BOX
	myco__ex_box_release(s, in);
#endif
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
