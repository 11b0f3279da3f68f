/*
 * exec/box/spawn.c: myco__box_spawn(): plans the box in the parent (cgroups
 * with their limits, seccomp program, mount view entries, fd layout), clones
 * the child into its namespaces (falling back to a user namespace, then to
 * none, each reported), runs the child's boxing sequence and collects the
 * child's per-step reports over a SOCK_SEQPACKET socket until exec.
 * Also the optional tiny init (MYCO__BOX_F_INIT).
 * The child side (child_*) runs between clone and exec: raw syscalls and
 * the allocation-free helpers only (the parent may have other threads).
 * Not for: the mechanisms' details (cgroup.c, seccomp.c, mount.c, caps.c,
 * sched.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "box_int.h"

#define SPAWN_TIMEOUT_MS 10000

/* --------------------------------------------------------- errno names */

const char *myco__errname(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:       return "ok";
	case EPERM:   return "EPERM";
	case ENOENT:  return "ENOENT";
	case ESRCH:   return "ESRCH";
	case EINTR:   return "EINTR";
	case EIO:     return "EIO";
	case E2BIG:   return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF:   return "EBADF";
	case EAGAIN:  return "EAGAIN";
	case ENOMEM:  return "ENOMEM";
	case EACCES:  return "EACCES";
	case EFAULT:  return "EFAULT";
	case EBUSY:   return "EBUSY";
	case EEXIST:  return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR:  return "EISDIR";
	case EINVAL:  return "EINVAL";
	case EMFILE:  return "EMFILE";
	case ENOSPC:  return "ENOSPC";
	case EROFS:   return "EROFS";
	case ENOSYS:  return "ENOSYS";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EUSERS:  return "EUSERS";
	default:      return "error";
	}
}

/* ---------------------------------------------------------- child side */

void myco__child_item(const struct myco__plan *p, enum myco__box_mech m,
		      enum myco__box_state st, int err, const char *detail)
{
	struct myco__msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = MYCO__MSG_ITEM;
	msg.mech = (int32_t)m;
	msg.state = (int32_t)st;
	msg.err = err;
	myco__s_cpy(msg.detail, sizeof(msg.detail), detail ? detail : "");
	(void)!write(p->sock, &msg, sizeof(msg));
}

static void child_msg(const struct myco__plan *p, int type, int mech,
		      int err, int val)
{
	struct myco__msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.type = type;
	msg.mech = mech;
	msg.err = err;
	msg.val = val;
	(void)!write(p->sock, &msg, sizeof(msg));
}

int myco__child_wait_ack(const struct myco__plan *p)
{
	char c;
	ssize_t n;

	do {
		n = read(p->sock, &c, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -EPIPE;
}

static __attribute__((noreturn)) void child_fatal(const struct myco__plan *p,
						   int mech, int err)
{
	child_msg(p, MYCO__MSG_FATAL, mech, err, 0);
	_exit(127);
}

/* Tiny init (PID 1): forward signals to the program, reap, mirror exit. */
static volatile pid_t init_child;

static void init_forward(int sig)
{
	if (init_child > 0)
		kill(init_child, sig);
}

static __attribute__((noreturn)) void init_main(const struct myco__plan *p,
						 pid_t child)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
				   SIGUSR2 };
	struct sigaction sa;
	int st;

	init_child = child;
	syscall(SYS_close_range, 0u, ~0u, 0u);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = init_forward;
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_NO_NEW_PRIVS))
		(void)syscall(SYS_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0);
	for (int c = 0; c <= p->last_cap; c++)
		syscall(SYS_prctl, 24 /* PR_CAPBSET_DROP */, c, 0, 0, 0);
	for (;;) {
		pid_t w = waitpid(-1, &st, 0);

		if (w == child) {
			if (WIFEXITED(st))
				_exit(WEXITSTATUS(st));
			_exit(128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
		}
		if (w < 0 && errno == ECHILD)
			_exit(0);
	}
}

/* Keep the listed targets, clear their CLOEXEC; everything else becomes
 * CLOEXEC (closed by exec). */
static void child_fds(struct myco__plan *p)
{
	const myco__box_spec_t *s = p->spec;
	int tmp[MYCO__BOX_MAX_FDS];
	int next = 0;

	/* 1. sources that move: to high numbers first (handles swaps) */
	for (size_t i = 0; i < s->nfds; i++) {
		int tgt = s->fds[i].target < 0 ? s->fds[i].fd : s->fds[i].target;

		tmp[i] = -1;
		if (tgt != s->fds[i].fd) {
			tmp[i] = fcntl(s->fds[i].fd, F_DUPFD_CLOEXEC, p->fd_base);
			if (tmp[i] < 0)
				child_fatal(p, -1, -errno);
		}
	}
	/* 2. into place */
	for (size_t i = 0; i < s->nfds; i++) {
		int tgt = s->fds[i].target < 0 ? s->fds[i].fd : s->fds[i].target;

		if (tmp[i] >= 0) {
			if (dup3(tmp[i], tgt, 0) < 0)
				child_fatal(p, -1, -errno);
		} else if (fcntl(tgt, F_SETFD, 0) < 0) {
			child_fatal(p, -1, -errno);
		}
	}
	/* 3. everything else CLOEXEC (targets are sorted) */
	for (int i = 0; i < p->ntargets; i++) {
		if (p->targets[i] > next)
			syscall(SYS_close_range, (unsigned)next,
				(unsigned)p->targets[i] - 1, CLOSE_RANGE_CLOEXEC);
		next = p->targets[i] + 1;
	}
	syscall(SYS_close_range, (unsigned)next, ~0u, CLOSE_RANGE_CLOEXEC);
}

static __attribute__((noreturn)) void child_main(struct myco__plan *p)
{
	const myco__box_spec_t *s = p->spec;
	struct sigaction sa;
	sigset_t none;
	int rc;

	/* 0. internal fds above every target so the fd layout cannot hit them */
	rc = fcntl(p->sock, F_DUPFD_CLOEXEC, p->fd_base);
	if (rc < 0)
		_exit(127);
	p->sock = rc;
	for (int i = 0; i < MYCO__CG_NCTL; i++) {
		if (p->cg_procs[i] < 0)
			continue;
		p->cg_procs[i] = fcntl(p->cg_procs[i], F_DUPFD_CLOEXEC,
				       p->fd_base);
	}

	/* 1. clean signal state: nothing blocked, nothing ignored */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL)
			sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (p->userns && myco__child_wait_ack(p) < 0)
		_exit(127);
	setsid();

	/* 2. cgroups (the freezer is joined by the parent at exec time) */
	for (int i = 0; i < MYCO__CG_NCTL; i++) {
		static const int mech_of[MYCO__CG_NCTL] = {
			[MYCO__CG_MEMORY] = MYCO__BOX_CG_MEMORY,
			[MYCO__CG_CPU] = MYCO__BOX_CG_CPU,
			[MYCO__CG_CPUACCT] = -1,
			[MYCO__CG_CPUSET] = MYCO__BOX_CPU_PIN,
			[MYCO__CG_PIDS] = MYCO__BOX_CG_PIDS,
			[MYCO__CG_FREEZER] = -1,
		};

		if (p->cg_procs[i] < 0)
			continue;
		if (write(p->cg_procs[i], "0", 1) != 1 && mech_of[i] >= 0) {
			char d[MYCO__BOX_DETAIL_MAX] = "joining the cgroup: ";

			myco__s_cat(d, sizeof(d), myco__errname(-errno));
			myco__child_item(p, (enum myco__box_mech)mech_of[i],
					 MYCO__BOX_DEGRADED, -errno, d);
		}
		close(p->cg_procs[i]);
	}

	/* 3. hostname */
	if ((p->clone_flags & CLONE_NEWUTS) &&
	    sethostname(p->hostname, strlen(p->hostname)) < 0)
		myco__child_item(p, MYCO__BOX_UTSNS, MYCO__BOX_DEGRADED, -errno,
				 "sethostname failed");

	/* 4. mount view, then the working directory inside it */
	myco__child_mount_view(p);
	if (chdir(p->cwd) < 0)
		child_fatal(p, MYCO__BOX_MOUNT_VIEW, -errno);

	/* 5. pinning */
	if (p->pin) {
		cpu_set_t set;

		CPU_ZERO(&set);
		for (int i = 0; i < 64; i++)
			if (p->cpu_mask >> i & 1)
				CPU_SET(i, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == 0)
			myco__child_item(p, MYCO__BOX_CPU_PIN, MYCO__BOX_APPLIED,
					 0, p->pin_detail);
		else
			myco__child_item(p, MYCO__BOX_CPU_PIN, MYCO__BOX_DEGRADED,
					 -errno, "sched_setaffinity failed");
	}

	/* 6. optional init: PID 1 stays behind, the program is its child */
	if (p->init) {
		pid_t c = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);

		if (c < 0)
			child_fatal(p, -1, -errno);
		if (c > 0)
			init_main(p, c);
	}

	/* 7. SCHED_DEADLINE for the program's main thread */
	if (p->deadline) {
		rc = myco__box_sched_deadline(0, s->runtime_ns, s->period_ns,
					      s->period_ns);
		if (rc == 0) {
			myco__child_item(p, MYCO__BOX_DEADLINE, MYCO__BOX_APPLIED,
					 0, "main thread; a second thread drops it (the quota caps all)");
		} else {
			char d[MYCO__BOX_DETAIL_MAX] = "sched_setattr: ";

			myco__s_cat(d, sizeof(d), myco__errname(rc));
			myco__s_cat(d, sizeof(d),
				    rc == -EBUSY ? " (admission: no bandwidth left)"
						 : "; cgroup quota only");
			myco__child_item(p, MYCO__BOX_DEADLINE, MYCO__BOX_DEGRADED,
					 rc, d);
		}
	}

	/* 8. fds, then rlimits (a low RLIMIT_NOFILE must not stop the fd
	 * moves above), privileges */
	child_fds(p);
	myco__child_rlimits(p);
	rc = myco__child_privs(p);
	if (rc < 0)
		child_fatal(p, MYCO__BOX_CAPS, rc);

	/* 9. seccomp, last: from here only read/write/close/execve */
	if (p->seccomp.len) {
		unsigned flags = p->seccomp_notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER
						   : 0;

		rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags,
				  &p->seccomp);
		if (rc < 0) {
			char d[MYCO__BOX_DETAIL_MAX] = "seccomp(): ";
			int err = -errno;

			myco__s_cat(d, sizeof(d), myco__errname(err));
			if (err == -EACCES)
				myco__s_cat(d, sizeof(d),
					    " (needs no_new_privs or root)");
			myco__child_item(p, MYCO__BOX_SECCOMP, MYCO__BOX_DEGRADED,
					 err, d);
		} else {
			if (p->seccomp_notify) {
				child_msg(p, MYCO__MSG_SECCOMP_FD, 0, 0, rc);
				if (myco__child_wait_ack(p) < 0)
					_exit(127);
				close(rc);
			}
			myco__child_item(p, MYCO__BOX_SECCOMP, MYCO__BOX_APPLIED,
					 0, p->seccomp_detail);
		}
	}

	/* 10. exec */
	child_msg(p, MYCO__MSG_EXEC, 0, 0, 0);
	if (myco__child_wait_ack(p) < 0)
		_exit(127);
	execve(s->path, (char *const *)s->argv,
	       (char *const *)(s->envp ? s->envp : (const char *const[]){ NULL }));
	child_fatal(p, -1, -errno);
}

/* --------------------------------------------------------- parent side */

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= MYCO__BOX_NAME_MAX || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == '\n' || *s == ' ')
			return false;
	return true;
}

static int validate(const myco__box_spec_t *s)
{
	if (!name_ok(s->system) || !name_ok(s->partition) ||
	    (s->instance && !name_ok(s->instance)))
		return -EINVAL;
	if (!s->path || s->path[0] != '/' || !s->argv || !s->argv[0])
		return -EINVAL;
	if (s->nfds > MYCO__BOX_MAX_FDS || (s->nfds && !s->fds) ||
	    s->npaths + s->nextra_ro > MYCO__BOX_MAX_PATHS ||
	    s->nrlimits > MYCO__BOX_MAX_RLIMITS ||
	    s->nallow_syscalls > MYCO__BOX_MAX_SYSCALLS)
		return -EINVAL;
	for (size_t i = 0; i < s->nfds; i++) {
		int ti = s->fds[i].target < 0 ? s->fds[i].fd : s->fds[i].target;

		if (s->fds[i].fd < 0 || ti < 0 || fcntl(s->fds[i].fd, F_GETFD) < 0)
			return -EBADF;
		for (size_t j = 0; j < i; j++) {
			int tj = s->fds[j].target < 0 ? s->fds[j].fd
						      : s->fds[j].target;
			if (ti == tj)
				return -EINVAL;
		}
	}
	for (size_t i = 0; i < s->npaths; i++)
		if (!s->paths[i].path || s->paths[i].path[0] != '/' ||
		    strlen(s->paths[i].path) >= 500)
			return -EINVAL;
	for (size_t i = 0; i < s->nextra_ro; i++)
		if (!s->extra_ro[i] || s->extra_ro[i][0] != '/' ||
		    strlen(s->extra_ro[i]) >= 500)
			return -EINVAL;
	if (s->time_mode == MYCO__BOX_TIME_BUDGET &&
	    (!s->runtime_ns || !s->period_ns || s->runtime_ns > s->period_ns))
		return -EINVAL;
	if (s->cwd && (s->cwd[0] != '/' || strlen(s->cwd) >= 500))
		return -EINVAL;
	if (s->cgroup_base)
		return -EINVAL;         /* reserved: see MYCO_BOX_CGROUP_BASE */
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int cmp_bind(const void *a, const void *b)
{
	const struct myco__plan_bind *x = a, *y = b;
	size_t lx = strlen(x->dst), ly = strlen(y->dst);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->dst, y->dst);
}

static void add_bind(struct myco__plan *p, int kind, const char *src,
		     const char *dst, bool rw, bool optional, const char *opts)
{
	struct myco__plan_bind *b;

	if (p->nbinds >= MYCO__PLAN_MAX_BINDS)
		return;
	/* a path bound twice: the later (declared) one wins for rw */
	for (int i = 0; i < p->nbinds; i++) {
		if (!strcmp(p->binds[i].dst, dst)) {
			p->binds[i].rw |= rw;
			return;
		}
	}
	b = &p->binds[p->nbinds++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->fd = -1;
	myco__s_cpy(b->src, sizeof(b->src), src ? src : "");
	myco__s_cpy(b->dst, sizeof(b->dst), dst);
	myco__s_cpy(b->opts, sizeof(b->opts), opts ? opts : "");
	b->rw = rw;
	b->optional = optional;
	b->dev = !strncmp(dst, "/dev/", 5);
}

/* A host path in the view: replicate a symlink (merged /usr, /etc/localtime
 * -> /usr/share/zoneinfo/...), bind a directory or a file read-only. */
static void add_host_path(struct myco__plan *p, const char *path)
{
	struct stat st;
	char target[512];
	ssize_t n;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		add_bind(p, MYCO__BIND_SYMLINK, target, path, false, true, NULL);
	} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
		add_bind(p, MYCO__BIND, path, path, false, true, NULL);
	}
}

/* The program's run path directories ($ORIGIN expanded), read-only and
 * optional: where its shared libraries (e.g. libmyco.so in a build tree)
 * come from. */
static void plan_runpath(struct myco__plan *p, const char *prog)
{
	char rp[2048], origin[512], dir[512], *save = NULL, *slash;

	if (myco__box_elf_runpath(prog, rp, sizeof(rp)) <= 0)
		return;
	myco__s_cpy(origin, sizeof(origin), prog);
	slash = strrchr(origin, '/');
	if (slash)
		*slash = '\0';
	for (char *t = strtok_r(rp, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		const char *rest = NULL;

		if (!strncmp(t, "$ORIGIN", 7))
			rest = t + 7;
		else if (!strncmp(t, "${ORIGIN}", 9))
			rest = t + 9;
		if (rest) {
			if (snprintf(dir, sizeof(dir), "%s%s", origin, rest) >=
			    (int)sizeof(dir))
				continue;
		} else if (t[0] == '/') {
			myco__s_cpy(dir, sizeof(dir), t);
		} else {
			continue;               /* relative: resolved against cwd */
		}
		{
			char real[PATH_MAX];

			/* "$ORIGIN/../lib" and the like: bind the real place */
			if (!realpath(dir, real) || strlen(real) >= sizeof(dir))
				continue;       /* missing: nothing to bind */
			add_bind(p, MYCO__BIND, real, real, false, true, NULL);
		}
	}
}

static void plan_view(struct myco__plan *p, const myco__box_spec_t *s)
{
	static const char *const sysdirs[] = {
		"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin",
	};
	/* Not all of /etc: a partition runs as uid 0 without capabilities
	 * unless told otherwise, and uid 0 still owns root-only files such
	 * as /etc/shadow or /etc/ssl/private. */
	static const char *const etc[] = {
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
		"/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf",
		"/etc/services", "/etc/protocols", "/etc/os-release",
		"/etc/mime.types",
	};
	static const char *const devs[] = {
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random",
		"/dev/urandom",
	};
	char dir[512];
	char *slash;

	if (p->view == MYCO__BOX_VIEW_MINIMAL) {
		for (size_t i = 0; i < sizeof(sysdirs) / sizeof(sysdirs[0]); i++)
			add_host_path(p, sysdirs[i]);
		for (size_t i = 0; i < sizeof(etc) / sizeof(etc[0]); i++)
			add_host_path(p, etc[i]);
		if (s->net)             /* TLS clients: public certificates */
			add_host_path(p, "/etc/ssl/certs");
		/* the program's directory */
		myco__s_cpy(dir, sizeof(dir), s->path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			add_bind(p, MYCO__BIND, dir, dir, false, false, NULL);
		}
		for (size_t i = 0; i < s->nextra_ro; i++)
			add_bind(p, MYCO__BIND, s->extra_ro[i], s->extra_ro[i],
				 false, false, NULL);
		plan_runpath(p, s->path);
		add_bind(p, MYCO__BIND_TMPFS, NULL, "/dev", false, false,
			 "mode=0755,size=64k");
		for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
			add_bind(p, MYCO__BIND, devs[i], devs[i], true, true, NULL);
		add_bind(p, MYCO__BIND_TMPFS, NULL, "/tmp", false, false,
			 "mode=1777,size=64m");
		if (p->clone_flags & CLONE_NEWPID)
			add_bind(p, MYCO__BIND_PROC, NULL, "/proc", false, false,
				 NULL);
	}
	if (p->view == MYCO__BOX_VIEW_HOST_RO) {
		/* The host tree is there, but the private /tmp hides a program
		 * (and its run path) that lives under /tmp: keep those visible,
		 * read-only (view_host_ro() binds only what is under /tmp/). */
		myco__s_cpy(dir, sizeof(dir), s->path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			add_bind(p, MYCO__BIND, dir, dir, false, true, NULL);
		}
		plan_runpath(p, s->path);
	}
	for (size_t i = 0; i < s->npaths; i++)
		add_bind(p, MYCO__BIND, s->paths[i].path, s->paths[i].path,
			 s->paths[i].rw, false, NULL);
	qsort(p->binds, (size_t)p->nbinds, sizeof(p->binds[0]), cmp_bind);
}

static int read_last_cap(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 63;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 63;
	return atoi(buf);
}

static const char *const_reason_cg(int rc)
{
	switch (-rc) {
	case EACCES:
	case EPERM:
	case EROFS:  return "not writable (not root?)";
	case ENOENT: return "controller not available";
	case EBUSY:  return "v2: parent has processes (no internal process rule)";
	default:     return "";
	}
}

struct cg_setup {
	char dir[MYCO__CG_NCTL][MYCO__CG_PATH_MAX];
	int made[MYCO__CG_NCTL];     /* 1 = created dir for this ctl */
	char freezer_procs[MYCO__CG_PATH_MAX + 16];
};

/* Create the instance cgroup for ctl; returns 0 and fills cs->dir[ctl]. */
static int cg_make(struct cg_setup *cs, enum myco__cg_ctl ctl,
		   const char *rel)
{
	int rc = myco__cg_dir(ctl, NULL, rel, cs->dir[ctl],
			      sizeof(cs->dir[ctl]));

	if (rc < 0)
		return rc;
	rc = myco__cg_mkdir(ctl, cs->dir[ctl]);
	if (rc == 0)
		cs->made[ctl] = 1;
	return rc;
}

static int open_procs(const char *dir)
{
	char path[MYCO__CG_PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void plan_cgroups(struct myco__plan *p, const myco__box_spec_t *s,
			 myco__box_report_t *r, struct cg_setup *cs,
			 const char *rel)
{
	bool v2 = myco__cg_is_v2();
	const char *ver = v2 ? "v2" : "v1";
	char val[64];
	int rc;

	r->cgroup_v2 = v2;
	for (int i = 0; i < MYCO__CG_NCTL; i++)
		p->cg_procs[i] = -1;

	if (p->want & MYCO__BOX_WANT(MYCO__BOX_CG_MEMORY)) {
		rc = cg_make(cs, MYCO__CG_MEMORY, rel);
		if (rc == 0) {
			snprintf(val, sizeof(val), "%llu",
				 (unsigned long long)s->memory_max);
			if (v2) {
				rc = myco__cg_write(cs->dir[MYCO__CG_MEMORY],
						    "memory.max", val);
				myco__cg_write(cs->dir[MYCO__CG_MEMORY],
					       "memory.swap.max", "0");
			} else {
				rc = myco__cg_write(cs->dir[MYCO__CG_MEMORY],
						    "memory.limit_in_bytes", val);
				/* no swap escape where swap accounting exists */
				myco__cg_write(cs->dir[MYCO__CG_MEMORY],
					       "memory.memsw.limit_in_bytes", val);
			}
		}
		if (rc == 0)
			rc = p->cg_procs[MYCO__CG_MEMORY] =
				open_procs(cs->dir[MYCO__CG_MEMORY]);
		if (rc >= 0)
			myco__box_item_set(r, MYCO__BOX_CG_MEMORY, MYCO__BOX_APPLIED,
					   0, "%llu MiB (cgroup %s)",
					   (unsigned long long)(s->memory_max >> 20),
					   ver);
		else
			myco__box_item_set(r, MYCO__BOX_CG_MEMORY,
					   MYCO__BOX_DEGRADED, rc,
					   "cgroup %s memory: %s %s", ver,
					   myco__errname(rc), const_reason_cg(rc));
	}
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_CG_CPU)) {
		uint64_t q, per;

		myco__cg_quota(s->runtime_ns, s->period_ns, &q, &per);
		rc = cg_make(cs, MYCO__CG_CPU, rel);
		if (rc == 0) {
			if (v2) {
				snprintf(val, sizeof(val), "%llu %llu",
					 (unsigned long long)q,
					 (unsigned long long)per);
				rc = myco__cg_write(cs->dir[MYCO__CG_CPU],
						    "cpu.max", val);
			} else {
				/* quota -1 first: a shorter period must not
				 * conflict with an old quota */
				myco__cg_write(cs->dir[MYCO__CG_CPU],
					       "cpu.cfs_quota_us", "-1");
				snprintf(val, sizeof(val), "%llu",
					 (unsigned long long)per);
				rc = myco__cg_write(cs->dir[MYCO__CG_CPU],
						    "cpu.cfs_period_us", val);
				snprintf(val, sizeof(val), "%llu",
					 (unsigned long long)q);
				if (rc == 0)
					rc = myco__cg_write(cs->dir[MYCO__CG_CPU],
							    "cpu.cfs_quota_us",
							    val);
			}
		}
		if (rc == 0)
			rc = p->cg_procs[MYCO__CG_CPU] =
				open_procs(cs->dir[MYCO__CG_CPU]);
		if (rc >= 0)
			myco__box_item_set(r, MYCO__BOX_CG_CPU, MYCO__BOX_APPLIED,
					   0, "quota %llu/%llu us (cgroup %s)",
					   (unsigned long long)q,
					   (unsigned long long)per, ver);
		else
			myco__box_item_set(r, MYCO__BOX_CG_CPU, MYCO__BOX_DEGRADED,
					   rc, "cgroup %s cpu: %s %s", ver,
					   myco__errname(rc), const_reason_cg(rc));
	}
	/* accounting (not a reported mechanism): v1 cpuacct */
	if (!v2 && cg_make(cs, MYCO__CG_CPUACCT, rel) == 0) {
		rc = open_procs(cs->dir[MYCO__CG_CPUACCT]);
		if (rc >= 0)
			p->cg_procs[MYCO__CG_CPUACCT] = rc;
	}
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_CPU_PIN)) {
		char list[256];

		myco__cg_cpulist(p->cpu_mask, list, sizeof(list));
		rc = cg_make(cs, MYCO__CG_CPUSET, rel);
		if (rc == 0 && !v2)
			rc = myco__cg_write(cs->dir[MYCO__CG_CPUSET],
					    "cpuset.cpus", list);
		else if (rc == 0)
			rc = myco__cg_write(cs->dir[MYCO__CG_CPUSET],
					    "cpuset.cpus", list);
		if (rc == 0)
			rc = p->cg_procs[MYCO__CG_CPUSET] =
				open_procs(cs->dir[MYCO__CG_CPUSET]);
		if (rc >= 0)
			snprintf(p->pin_detail, sizeof(p->pin_detail),
				 "cpus %.48s (affinity + cpuset %s)", list, ver);
		else
			snprintf(p->pin_detail, sizeof(p->pin_detail),
				 "cpus %.40s (affinity only; cpuset: %s)", list,
				 myco__errname(rc));
	}
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_CG_PIDS)) {
		rc = cg_make(cs, MYCO__CG_PIDS, rel);
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)s->pids_max);
		if (rc == 0)
			rc = myco__cg_write(cs->dir[MYCO__CG_PIDS], "pids.max", val);
		if (rc == 0)
			rc = p->cg_procs[MYCO__CG_PIDS] =
				open_procs(cs->dir[MYCO__CG_PIDS]);
		if (rc >= 0)
			myco__box_item_set(r, MYCO__BOX_CG_PIDS, MYCO__BOX_APPLIED,
					   0, "max %llu (cgroup %s)",
					   (unsigned long long)s->pids_max, ver);
		else
			myco__box_item_set(r, MYCO__BOX_CG_PIDS, MYCO__BOX_DEGRADED,
					   rc, "cgroup %s pids: %s %s", ver,
					   myco__errname(rc), const_reason_cg(rc));
	}
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_FRAME)) {
		rc = cg_make(cs, MYCO__CG_FREEZER, rel);
		if (rc == 0) {
			snprintf(cs->freezer_procs, sizeof(cs->freezer_procs),
				 "%s/cgroup.procs", cs->dir[MYCO__CG_FREEZER]);
			if (access(cs->freezer_procs, W_OK) < 0)
				rc = -errno;
		}
		if (rc == 0)
			myco__box_item_set(r, MYCO__BOX_FRAME, MYCO__BOX_APPLIED, 0,
					   "freezer cgroup (%s); windows by the frame scheduler",
					   strstr(cs->dir[MYCO__CG_FREEZER],
						  "/freezer/") ? "v1" : "v2");
		else {
			cs->freezer_procs[0] = '\0';
			myco__box_item_set(r, MYCO__BOX_FRAME, MYCO__BOX_DEGRADED,
					   rc, "freezer: %s %s; SIGSTOP/SIGCONT fallback",
					   myco__errname(rc), const_reason_cg(rc));
		}
	}
	/* v2 frame mode: one hierarchy, so joining early could freeze the
	 * child before it reports; the parent moves it at exec time. */
	if (v2 && (p->want & MYCO__BOX_WANT(MYCO__BOX_FRAME)) &&
	    cs->freezer_procs[0]) {
		for (int i = 0; i < MYCO__CG_NCTL; i++) {
			if (p->cg_procs[i] >= 0) {
				close(p->cg_procs[i]);
				p->cg_procs[i] = -1;
			}
		}
		p->v2_late_join = true;
	}
	for (int i = 0; i < MYCO__CG_NCTL; i++)
		if (cs->made[i])
			snprintf(r->cgroup, sizeof(r->cgroup), "%s", rel);
}

static void write_pid(const char *procs, pid_t pid)
{
	char buf[24];
	int fd = open(procs, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	(void)!write(fd, buf, strlen(buf));
	close(fd);
}

static int write_map(pid_t pid, const char *file, const char *val)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Receive one message and the sender's pid (translated to our namespace).
 * Returns 1 with a message, 0 on EOF, -errno. */
static int recv_msg(int sock, struct myco__msg *m, pid_t *sender, int timeout)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	ssize_t n;
	int rc;

	do {
		rc = poll(&pfd, 1, timeout);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(*m))
		return -EPROTO;
	*sender = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*sender = uc.pid;
		}
	}
	return 1;
}

static int clone_child(struct myco__plan *p, unsigned long flags, int *pidfd)
{
	struct clone_args args;
	long ret;

	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	p->clone_flags = (unsigned)flags;
	p->userns = (flags & CLONE_NEWUSER) != 0;
	ret = syscall(SYS_clone3, &args, sizeof(args));
	if (ret == 0)
		child_main(p);          /* never returns */
	if (ret < 0)
		return -errno;
	return (int)ret;
}

int myco__box_spawn(const myco__box_spec_t *spec, myco__box_report_t *r,
		    pid_t *pid_out, int *pidfd_out)
{
	static const struct { enum myco__box_mech m; unsigned long flag; } nsmap[] = {
		{ MYCO__BOX_PIDNS, CLONE_NEWPID }, { MYCO__BOX_MOUNTNS, CLONE_NEWNS },
		{ MYCO__BOX_IPCNS, CLONE_NEWIPC }, { MYCO__BOX_UTSNS, CLONE_NEWUTS },
		{ MYCO__BOX_NETNS, CLONE_NEWNET },
	};
	struct myco__plan *p = NULL;
	struct cg_setup *cs = NULL;
	char rel[3 * MYCO__BOX_NAME_MAX + 16], bad[64] = "";
	const char *inst;
	unsigned long nsflags = 0;
	int sv[2] = { -1, -1 }, pidfd = -1, rc, one = 1;
	pid_t pid = 0;
	bool exec_seen = false, fatal = false;
	int clone_err = 0, userns_err = 0;
	unsigned sc_opts = 0;
	int listener_err = 0;

	memset(r, 0, sizeof(*r));
	r->seccomp_fd = -1;
	r->failed_step = -1;
	*pid_out = 0;
	*pidfd_out = -1;
	if ((rc = validate(spec)) < 0)
		goto fail;
	inst = spec->instance ? spec->instance : "main";
	snprintf(rel, sizeof(rel), "myco/%s/%s/%s", spec->system,
		 spec->partition, inst);

	p = calloc(1, sizeof(*p));
	cs = calloc(1, sizeof(*cs));
	if (!p || !cs) {
		rc = -ENOMEM;
		goto fail;
	}
	p->spec = spec;
	for (int i = 0; i < MYCO__CG_NCTL; i++)
		p->cg_procs[i] = -1;
	p->root = geteuid() == 0;
	r->root = p->root;
	p->sock = -1;
	p->last_cap = read_last_cap();
	p->init = spec->flags & MYCO__BOX_F_INIT;
	p->view = spec->view;
	myco__s_cpy(p->hostname, sizeof(p->hostname), spec->partition);
	myco__s_cpy(p->cwd, sizeof(p->cwd), spec->cwd ? spec->cwd : "/");
	p->argv = spec->argv;
	p->envp = spec->envp;

	/* What is requested at all. */
	p->want = spec->want & MYCO__BOX_WANT_ALL;
	p->want &= ~MYCO__BOX_WANT(MYCO__BOX_USERNS);
	if (spec->net)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_NETNS);
	if (!spec->memory_max)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_CG_MEMORY);
	if (!spec->pids_max)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_CG_PIDS);
	if (!spec->cpu_mask)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_CPU_PIN);
	if (spec->time_mode != MYCO__BOX_TIME_BUDGET)
		p->want &= ~(MYCO__BOX_WANT(MYCO__BOX_CG_CPU) |
			     MYCO__BOX_WANT(MYCO__BOX_DEADLINE));
	if (spec->time_mode != MYCO__BOX_TIME_FRAME)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_FRAME);
	if (!spec->nrlimits)
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_RLIMITS);
	if (!(p->want & MYCO__BOX_WANT(MYCO__BOX_MOUNTNS)))
		p->want &= ~MYCO__BOX_WANT(MYCO__BOX_MOUNT_VIEW);
	p->cpu_mask = spec->cpu_mask;
	p->pin = p->want & MYCO__BOX_WANT(MYCO__BOX_CPU_PIN);

	/* Deadline: decided here, applied (or refused) in the child. */
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_DEADLINE)) {
		uint64_t online = myco__box_online_mask();

		if (!p->root) {
			myco__box_item_set(r, MYCO__BOX_DEADLINE, MYCO__BOX_DEGRADED,
					   -EPERM, "not root (needs CAP_SYS_NICE); see cgroup-cpu");
		} else if (spec->cpu_mask && (spec->cpu_mask & online) != online) {
			myco__box_item_set(r, MYCO__BOX_DEADLINE, MYCO__BOX_DEGRADED,
					   -EPERM, "pinned to a CPU subset: a deadline task must span its root domain; cgroup quota only");
		} else {
			p->deadline = true;
			myco__box_item_set(r, MYCO__BOX_DEADLINE, MYCO__BOX_DEGRADED,
					   -ENOEXEC, "not applied");
		}
	}

	/* Cgroups. */
	plan_cgroups(p, spec, r, cs, rel);

	/* Seccomp program (an unknown extra name is the caller's error). */
	if (!p->pin || strstr(p->pin_detail, "+ cpuset"))
		sc_opts |= MYCO__SC_AFFINITY;
	if (p->want & MYCO__BOX_WANT(MYCO__BOX_SECCOMP)) {
		rc = myco__box_seccomp_build(spec, sc_opts, &p->seccomp, bad,
					     sizeof(bad));
		if (rc == -EINVAL && bad[0]) {
			r->failed_step = MYCO__BOX_SECCOMP;
			myco__box_item_set(r, MYCO__BOX_SECCOMP, MYCO__BOX_DEGRADED,
					   rc, "unknown syscall name \"%s\"", bad);
			goto fail;
		}
		if (rc < 0) {
			myco__box_item_set(r, MYCO__BOX_SECCOMP, MYCO__BOX_DEGRADED,
					   rc, "building the filter: %s",
					   myco__errname(rc));
		} else {
			p->seccomp_notify =
				spec->seccomp_action == MYCO__BOX_SECCOMP_NOTIFY;
			snprintf(p->seccomp_detail, sizeof(p->seccomp_detail),
				 "allowlist (%u insns%s%s), violations %s",
				 p->seccomp.len, spec->net ? ", net" : "",
				 spec->nports ? ", ports" : "",
				 spec->seccomp_action == MYCO__BOX_SECCOMP_NOTIFY
				 ? "notify the executive"
				 : spec->seccomp_action == MYCO__BOX_SECCOMP_KILL
				 ? "kill (SIGSYS)" : "fail with EPERM");
			/* until the child says otherwise */
			myco__box_item_set(r, MYCO__BOX_SECCOMP, MYCO__BOX_DEGRADED,
					   -ENOEXEC, "filter not loaded");
		}
	}


	/* Namespaces. */
	for (size_t i = 0; i < sizeof(nsmap) / sizeof(nsmap[0]); i++)
		if (p->want & MYCO__BOX_WANT(nsmap[i].m))
			nsflags |= nsmap[i].flag;

	/* fd layout */
	{
		int maxfd = 2;

		for (size_t i = 0; i < spec->nfds; i++) {
			int t = spec->fds[i].target < 0 ? spec->fds[i].fd
							: spec->fds[i].target;

			p->targets[p->ntargets++] = t;
			if (t > maxfd)
				maxfd = t;
			if (spec->fds[i].fd > maxfd)
				maxfd = spec->fds[i].fd;
		}
		qsort(p->targets, (size_t)p->ntargets, sizeof(int), cmp_int);
		p->fd_base = maxfd + 1 < 64 ? 64 : maxfd + 1;
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	p->sock = sv[1];

	/* Clone: full namespaces, else a user namespace, else none. */
	p->nbinds = 0;
	p->clone_flags = (unsigned)nsflags;
	if (nsflags)
		plan_view(p, spec);
	rc = clone_child(p, nsflags, &pidfd);
	if (rc < 0 && nsflags) {
		clone_err = rc;
		if (!(spec->flags & MYCO__BOX_F_NO_USERNS) && !p->root) {
			rc = clone_child(p, nsflags | CLONE_NEWUSER, &pidfd);
			if (rc < 0)
				userns_err = rc;
		}
		if (rc < 0) {
			p->nbinds = 0;
			rc = clone_child(p, 0, &pidfd);
		}
	}
	if (rc < 0) {
		r->failed_step = -1;
		goto fail;
	}
	pid = rc;
	close(sv[1]);
	sv[1] = -1;

	/* Report the namespaces the child got. */
	for (size_t i = 0; i < sizeof(nsmap) / sizeof(nsmap[0]); i++) {
		if (!(p->want & MYCO__BOX_WANT(nsmap[i].m)))
			continue;
		if (p->clone_flags & nsmap[i].flag)
			myco__box_item_set(r, nsmap[i].m, MYCO__BOX_APPLIED, 0,
					   "%s", p->userns ? "via user namespace" : "");
		else
			myco__box_item_set(r, nsmap[i].m, MYCO__BOX_DEGRADED,
					   clone_err, "clone: %s (needs root%s)",
					   myco__errname(clone_err),
					   (spec->flags & MYCO__BOX_F_NO_USERNS)
					   ? "" : " or user namespaces");
	}
	if (p->userns) {
		char map[64];

		myco__box_item_set(r, MYCO__BOX_USERNS, MYCO__BOX_APPLIED, 0,
				   "uid 0 inside = uid %d outside (not root)",
				   (int)geteuid());
		rc = write_map(pid, "setgroups", "deny");
		snprintf(map, sizeof(map), "0 %d 1\n", (int)geteuid());
		if (rc == 0)
			rc = write_map(pid, "uid_map", map);
		snprintf(map, sizeof(map), "0 %d 1\n", (int)getegid());
		if (rc == 0)
			rc = write_map(pid, "gid_map", map);
		if (rc < 0 || write(sv[0], "g", 1) != 1) {
			rc = rc < 0 ? rc : -EPIPE;
			goto fail;
		}
	} else if (nsflags && !p->clone_flags && !p->root &&
		   !(spec->flags & MYCO__BOX_F_NO_USERNS)) {
		myco__box_item_set(r, MYCO__BOX_USERNS, MYCO__BOX_DEGRADED,
				   userns_err, "user namespace refused: %s",
				   myco__errname(userns_err));
	}
	if ((p->want & MYCO__BOX_WANT(MYCO__BOX_MOUNT_VIEW)) &&
	    !(p->clone_flags & CLONE_NEWNS))
		myco__box_item_set(r, MYCO__BOX_MOUNT_VIEW, MYCO__BOX_DEGRADED,
				   clone_err, "no mount namespace");

	/* Collect the child's reports until exec (EOF) or failure. */
	for (;;) {
		struct myco__msg m;
		pid_t sender = 0;

		rc = recv_msg(sv[0], &m, &sender, SPAWN_TIMEOUT_MS);
		if (rc <= 0)
			break;
		m.detail[sizeof(m.detail) - 1] = '\0';
		switch (m.type) {
		case MYCO__MSG_ITEM:
			myco__box_item_set(r, (enum myco__box_mech)m.mech,
					   (enum myco__box_state)m.state, m.err,
					   "%s", m.detail);
			break;
		case MYCO__MSG_SECCOMP_FD: {
			int pfd = sender > 0 ? (int)syscall(SYS_pidfd_open,
							    sender, 0) : -1;
			int fd = pfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd,
							 m.val, 0) : -1;

			if (fd < 0) {
				/* e.g. Yama ptrace_scope forbids it: the filter
				 * stands, violations fail with ENOSYS unreported */
				listener_err = -errno;
				if (pfd >= 0)
					close(pfd);
			} else {
				close(pfd);
				r->seccomp_fd = fd;
			}
			if (write(sv[0], "a", 1) != 1) {
				rc = -EPIPE;
				goto fail;
			}
			break;
		}
		case MYCO__MSG_EXEC:
			exec_seen = true;
			if (p->v2_late_join) {
				char procs[MYCO__CG_PATH_MAX + 16];

				snprintf(procs, sizeof(procs), "%s",
					 cs->freezer_procs);
				write_pid(procs, sender > 0 ? sender : pid);
				if (p->init && sender > 0 && sender != pid)
					write_pid(procs, pid);
			} else if (cs->freezer_procs[0]) {
				if (p->init && sender > 0 && sender != pid)
					write_pid(cs->freezer_procs, pid);
				write_pid(cs->freezer_procs,
					  sender > 0 ? sender : pid);
			}
			if (write(sv[0], "a", 1) != 1) {
				rc = -EPIPE;
				goto fail;
			}
			break;
		case MYCO__MSG_FATAL:
			fatal = true;
			r->failed_step = m.mech;
			rc = m.err ? m.err : -EIO;
			goto fail;
		default:
			rc = -EPROTO;
			goto fail;
		}
		/* frame mode: the child may be frozen from here on */
		if (exec_seen && cs->freezer_procs[0]) {
			rc = 0;
			break;
		}
	}
	if (rc < 0)
		goto fail;
	if (!exec_seen) {
		/* EOF before the exec step: the child died */
		rc = -ECHILD;
		goto fail;
	}

	if (listener_err)
		myco__box_item_set(r, MYCO__BOX_SECCOMP, MYCO__BOX_DEGRADED,
				   listener_err, "loaded, but listener not passed "
				   "(pidfd_getfd: %s): violations get ENOSYS, "
				   "unreported", myco__errname(listener_err));
	myco__box_report_log(spec, r);
	*pid_out = pid;
	*pidfd_out = pidfd;
	pidfd = -1;
	rc = 0;
	goto out;

fail:
	(void)fatal;
	if (pid > 0) {
		if (pidfd >= 0)
			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		else
			kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (r->seccomp_fd >= 0) {
		close(r->seccomp_fd);
		r->seccomp_fd = -1;
	}
	if (cs && validate(spec) == 0) {
		for (int i = 0; i < MYCO__CG_NCTL; i++) {
			if (cs->made[i]) {
				myco__box_destroy(spec->system, spec->partition,
						  spec->instance ? spec->instance
								 : "main");
				break;
			}
		}
	}
out:
	if (p) {
		for (int i = 0; i < MYCO__CG_NCTL; i++)
			if (p->cg_procs[i] >= 0)
				close(p->cg_procs[i]);
		myco__box_seccomp_free(&p->seccomp);
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (pidfd >= 0)
		close(pidfd);
	free(cs);
	free(p);
	return rc;
}
