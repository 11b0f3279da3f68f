/*
 * exec/box/seccomp.c: the seccomp allowlist generated from a partition's
 * declarations (libseccomp, exported to a BPF program in the parent so the
 * child only has to load it), and the violation side: reading a user
 * notification, naming the syscall, answering deny or kill.
 * The policy itself is described in box.h ("Seccomp policy").
 * Not for: loading the filter (the child does it in spawn.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "box_int.h"

/* Always allowed: startup, memory, already-visible files, time, threads. */
static const char *const base_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "open", "openat", "close",
	"close_range", "fstat", "stat", "lstat", "newfstatat", "statx",
	"statfs", "fstatfs", "lseek", "getdents", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "fcntl", "dup",
	"dup2", "dup3", "pipe", "pipe2", "memfd_create", "ftruncate", "fsync",
	"fdatasync", "flock", "getcwd", "chdir", "fchdir", "umask",
	"fadvise64", "sendfile", "splice", "tee",
	"mmap", "mprotect", "munmap", "mremap", "madvise", "brk", "msync",
	"mincore", "mlock", "mlock2", "munlock", "mlockall", "munlockall",
	"membarrier",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "eventfd", "eventfd2", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6", "getitimer",
	"setitimer", "alarm", "timer_create", "timer_settime",
	"timer_gettime", "timer_getoverrun", "timer_delete",
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack",
	"signalfd", "signalfd4", "pause", "restart_syscall",
	"kill", "tgkill", "tkill",
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid",
	"getegid", "getgroups", "getresuid", "getresgid", "getpgrp",
	"getpgid", "getsid", "capget",
	"getrandom", "uname", "sched_yield", "sched_getaffinity",
	"sched_getparam", "sched_getscheduler", "sched_getattr",
	"sched_get_priority_max", "sched_get_priority_min", "getpriority",
	"getrusage", "getcpu", "sysinfo", "times", "getrlimit",
	"exit", "exit_group", "execve", "wait4", "waitid", "arch_prctl",
};

/* Changing the file tree: only with a rw path. */
static const char *const rw_calls[] = {
	"unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
	"mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "chmod",
	"fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown",
	"truncate", "utimensat", "utimes", "futimesat", "mknod", "mknodat",
	"fallocate", "sync_file_range",
};

/* Using sockets it was given: with net or ports. */
static const char *const sock_use_calls[] = {
	"accept", "accept4", "recvfrom", "recvmsg", "recvmmsg", "sendto",
	"sendmsg", "sendmmsg", "getsockopt", "setsockopt", "getsockname",
	"getpeername", "shutdown",
};

/* Creating sockets: with net only. */
static const char *const sock_new_calls[] = {
	"socket", "socketpair", "bind", "listen", "connect",
};

/* The names being built without allow rules (spec->trap_syscalls). */
static __thread const char *const *trap_names;
static __thread size_t ntrap_names;

static bool trapped(const char *name)
{
	for (size_t i = 0; i < ntrap_names; i++)
		if (trap_names[i] && !strcmp(trap_names[i], name))
			return true;
	return false;
}

static int allow_list(scmp_filter_ctx ctx, const char *const *names,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (trapped(names[i]))
			continue;

		if (nr == __NR_SCMP_ERROR)
			continue;               /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One argument comparison, every field set (clang's
 * -Wmissing-field-initializers rejects the SCMP_Ax() macros). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op,
				   scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c;

	memset(&c, 0, sizeof(c));
	c.arg = arg;
	c.op = op;
	c.datum_a = a;
	c.datum_b = b;
	return c;
}

static int add_conditional(scmp_filter_ctx ctx)
{
	static const unsigned long ioctls[] = {
		TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX,
	};
	static const int prctls[] = {
		PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_GET_SECCOMP,
		PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS, PR_GET_TIMERSLACK,
		PR_SET_TIMERSLACK, PR_GET_PDEATHSIG,
	};
	int rc;

	/* threads only: fork and vfork-style clones are violations */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD));
	if (rc < 0)
		return rc;
	/* clone3 takes its flags in memory: ENOSYS makes glibc use clone */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		return rc;
	/* prlimit64 to read limits only (new_limit == NULL) */
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
			      arg_cmp(2, SCMP_CMP_EQ, 0, 0));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < NELEM(ioctls); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      arg_cmp(1, SCMP_CMP_EQ, ioctls[i], 0));
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < NELEM(prctls); i++) {
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				      arg_cmp(0, SCMP_CMP_EQ,
					      (scmp_datum_t)prctls[i], 0));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* io_uring: its operations are not seen by seccomp, so a partition never
 * creates a ring (io_uring_setup is a violation): it uses the rings the
 * executive made restricted (uring.c) and handed over.  Entering and
 * registering on them unless MYCO__BOX_F_NO_IO_URING. */
static const char *const uring_calls[] = {
	"io_uring_enter", "io_uring_register",
};

int myco__box_seccomp_build(const myco__box_spec_t *spec, unsigned opts,
			    struct sock_fprog *prog, char *bad, size_t badcap)
{
	scmp_filter_ctx ctx = NULL;
	uint32_t def;
	bool rw = false;
	int rc, mfd = -1;
	struct stat st;
	void *buf = NULL;

	memset(prog, 0, sizeof(*prog));
	switch (spec->seccomp_action) {
	case MYCO__BOX_SECCOMP_ERRNO: def = SCMP_ACT_ERRNO(EPERM); break;
	case MYCO__BOX_SECCOMP_KILL:  def = SCMP_ACT_KILL_PROCESS; break;
	default:                      def = SCMP_ACT_NOTIFY; break;
	}
	ctx = seccomp_init(def);
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				   SCMP_ACT_KILL_PROCESS)) < 0)
		goto out;
	for (size_t i = 0; i < spec->npaths; i++)
		rw |= spec->paths[i].rw;
	/* Trapped calls are left out of the allow rules: the default action
	 * (NOTIFY) sends them to the listener like a violation. */
	if (spec->ntrap_syscalls && spec->seccomp_action != MYCO__BOX_SECCOMP_NOTIFY) {
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < spec->ntrap_syscalls; i++) {
		const char *name = spec->trap_syscalls[i];
		int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;

		if (nr == __NR_SCMP_ERROR) {
			if (bad)
				snprintf(bad, badcap, "%s", name ? name : "(null)");
			rc = -EINVAL;
			goto out;
		}
		/* The box's own hand-shake between the filter and execve reads,
		 * writes and closes its socket, which lives at fd 64 or above
		 * (spawn.c, fd_base): those stay allowed, or the child would
		 * wait on the executive that waits on it. */
		if (!strcmp(name, "read") || !strcmp(name, "write") || !strcmp(name, "close")) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      arg_cmp(0, SCMP_CMP_GE, 64, 0));
			if (rc < 0)
				goto out;
		}
	}
	trap_names = spec->trap_syscalls;
	ntrap_names = spec->ntrap_syscalls;
	if ((rc = allow_list(ctx, base_calls, NELEM(base_calls))) < 0 ||
	    (rc = add_conditional(ctx)) < 0)
		goto out;
	if (rw && (rc = allow_list(ctx, rw_calls, NELEM(rw_calls))) < 0)
		goto out;
	if (!(spec->flags & MYCO__BOX_F_NO_IO_URING) &&
	    (rc = allow_list(ctx, uring_calls, NELEM(uring_calls))) < 0)
		goto out;
	if (opts & MYCO__SC_AFFINITY) {
		static const char *const aff[] = { "sched_setaffinity" };

		if ((rc = allow_list(ctx, aff, 1)) < 0)
			goto out;
	}
	if ((spec->net || spec->nports) &&
	    (rc = allow_list(ctx, sock_use_calls, NELEM(sock_use_calls))) < 0)
		goto out;
	if (spec->net &&
	    (rc = allow_list(ctx, sock_new_calls, NELEM(sock_new_calls))) < 0)
		goto out;
	for (size_t i = 0; i < spec->nallow_syscalls; i++) {
		const char *name = spec->allow_syscalls[i];
		int nr = name ? seccomp_syscall_resolve_name(name)
			      : __NR_SCMP_ERROR;

		if (nr == __NR_SCMP_ERROR) {
			if (bad)
				snprintf(bad, badcap, "%s", name ? name : "(null)");
			rc = -EINVAL;
			goto out;
		}
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			goto out;
	}

	/* Export to memory: the child must not allocate. */
	mfd = memfd_create("myco-seccomp", MFD_CLOEXEC);
	if (mfd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = seccomp_export_bpf(ctx, mfd)) < 0)
		goto out;
	if (fstat(mfd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > 0xffff) {
		rc = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(mfd, buf, (size_t)st.st_size, 0) != st.st_size) {
		rc = -EIO;
		goto out;
	}
	prog->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	prog->filter = buf;   /* owned by prog: myco__box_seccomp_free() */
	buf = NULL;
	rc = 0;
out:
	trap_names = NULL;
	ntrap_names = 0;
	free(buf);
	if (mfd >= 0)
		close(mfd);
	if (ctx)
		seccomp_release(ctx);
	return rc;
}

void myco__box_seccomp_free(struct sock_fprog *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

/* ------------------------------------------------------------- violations */

const char *myco__box_syscall_name(int nr)
{
	static __thread char name[32];
	char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (!s)
		return NULL;
	snprintf(name, sizeof(name), "%s", s);
	free(s);
	return name;
}

static int notif_sizes(struct seccomp_notif_sizes *sz)
{
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, sz) < 0)
		return -errno;
	return 0;
}

/* A per-thread one-shot timer that sends RECV_SIGNAL to this thread, whose
 * handler does nothing and is installed without SA_RESTART: a blocking
 * system call of this thread returns EINTR after RECV_WAIT_NS.  0 when
 * armed (or disarmed), -errno when no timer can be made. */
#define RECV_SIGNAL  (SIGRTMIN + 5)
#define RECV_WAIT_NS 20000000L

static void recv_interrupt(int sig)
{
	(void)sig;
}

static int recv_watchdog(bool arm)
{
	static __thread timer_t tm;
	static __thread bool have;
	if (!have) {
		struct sigaction sa = { .sa_handler = recv_interrupt };  /* no SA_RESTART */
		struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID,
					.sigev_signo = RECV_SIGNAL };
		sigset_t un;
		sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
		sigemptyset(&sa.sa_mask);
		if (sigaction(RECV_SIGNAL, &sa, NULL) < 0 ||
		    timer_create(CLOCK_MONOTONIC, &sev, &tm) < 0)
			return -errno;
		sigemptyset(&un);
		sigaddset(&un, RECV_SIGNAL);
		pthread_sigmask(SIG_UNBLOCK, &un, NULL);
		have = true;
	}
	struct itimerspec its = { .it_value = { .tv_nsec = arm ? RECV_WAIT_NS : 0 } };
	return timer_settime(tm, 0, &its, NULL) < 0 ? -errno : 0;
}

int myco__box_violation_read(int fd, struct myco__box_violation *v)
{
	struct seccomp_notif_sizes sz;
	struct seccomp_notif *req = NULL;
	char *s;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = notif_sizes(&sz)) < 0)
		goto out;
	/* the kernel's struct may be larger than our header's */
	req = calloc(1, sz.seccomp_notif > sizeof(*req) ? sz.seccomp_notif
							: sizeof(*req));
	if (!req) {
		rc = -ENOMEM;
		goto out;
	}
	/* The receive blocks when nothing is pending, and what epoll reported
	 * can be withdrawn before we get there: the notifying thread was
	 * killed (kernels since 6.6 then block until the next notification or
	 * until every process of the filter is gone).  The supervision loop
	 * must never wait on a partition: look first, and have a one-shot
	 * timer interrupt the receive if it blocks anyway. */
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	if (poll(&pf, 1, 0) < 0) {
		rc = -errno;
		goto out;
	}
	if (!(pf.revents & POLLIN)) {
		rc = pf.revents & (POLLHUP | POLLERR | POLLNVAL) ? -EPIPE : -EAGAIN;
		goto out;
	}
	bool armed = recv_watchdog(true) == 0;
	int ir = ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, req);
	int err = errno;
	if (armed)
		recv_watchdog(false);
	if (ir < 0) {
		rc = err == EINTR ? -EAGAIN : -err;
		goto out;
	}
	v->id = req->id;
	v->pid = (pid_t)req->pid;
	v->nr = req->data.nr;
	v->arch = req->data.arch;
	v->ip = req->data.instruction_pointer;
	for (int i = 0; i < 6; i++)
		v->args[i] = req->data.args[i];
	s = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	if (s) {
		snprintf(v->name, sizeof(v->name), "%s", s);
		free(s);
	} else {
		snprintf(v->name, sizeof(v->name), "syscall_%d", req->data.nr);
	}
	rc = 0;
out:
	free(req);
	return rc;
}

int myco__box_violation_respond(int fd, const struct myco__box_violation *v,
				enum myco__box_verdict verdict, int err)
{
	struct seccomp_notif_sizes sz;
	struct seccomp_notif_resp *resp = NULL;
	uint64_t id = v->id;
	int rc;

	if ((rc = notif_sizes(&sz)) < 0)
		goto out;
	resp = calloc(1, sz.seccomp_notif_resp > sizeof(*resp)
			 ? sz.seccomp_notif_resp : sizeof(*resp));
	if (!resp) {
		rc = -ENOMEM;
		goto out;
	}
	if (verdict == MYCO__BOX_KILL) {
		/* the pid is still the caller while the notification is valid */
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) {
			rc = -errno;
			goto out;
		}
		if (kill(v->pid, SIGKILL) < 0 && errno != ESRCH) {
			rc = -errno;
			goto out;
		}
		err = EPERM;
	}
	if (err <= 0)
		err = EPERM;
	resp->id = v->id;
	resp->val = 0;
	resp->error = -err;
	resp->flags = 0;
	if (verdict == MYCO__BOX_CONTINUE) {
		resp->error = 0;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	}
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) {
		rc = -errno;
		/* a killed caller makes the answer moot */
		if (verdict == MYCO__BOX_KILL && rc == -ENOENT)
			rc = 0;
		goto out;
	}
	rc = 0;
out:
	free(resp);
	return rc;
}
