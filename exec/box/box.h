/*
 * exec/box/box.h: the partition box, i.e. the isolation mechanisms the
 * executive applies to every partition process: namespaces, mount view,
 * no_new_privs, capability bounding set, seccomp allowlist, rlimits, cgroup
 * memory / CPU / pids limits, CPU pinning, SCHED_DEADLINE reservations and
 * frame windows (a frame scheduler freezing partitions outside their
 * windows).  Shared-internal API (myco__box_*) of library myco_box_lib; the
 * executive core (the exec/ core files) is its only user.
 * Not for: supervision, standby activation, channels, the control socket
 * (the exec/ core files); libmyco's partition side (lib/part).
 *
 * Contract: this header only grows.  Names, fields and meanings below stay.
 *
 * Threads: everything here may be called from one thread at a time, except
 * the frame scheduler, which runs its own thread once started and is
 * controlled only through the myco__box_frame_* calls (internally locked).
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure, unless its comment says otherwise.
 *
 * ---------------------------------------------------------------------------
 * How a partition is boxed (myco__box_spawn)
 * ---------------------------------------------------------------------------
 * Parent (the caller): creates the cgroups <base>/myco/<system>/<partition>/
 * <instance> in every controller hierarchy (v2 where /sys/fs/cgroup is a
 * cgroup2 mount, else the v1 controller mounts; <base> is the caller's own
 * cgroup in that hierarchy), writes the limits, pre-computes the seccomp BPF
 * program and every string the child needs, then clone3()s the child with
 * CLONE_PIDFD and CLONE_NEWPID|NEWNS|NEWIPC|NEWUTS (+NEWNET unless net).
 * When that is refused (not root) it retries with CLONE_NEWUSER added
 * (an unprivileged user namespace, uid/gid mapped to the caller's), and
 * without namespaces when that is refused too (reported degraded).
 * Child, in this order, before execve(): join the cgroups (except the
 * freezer), hostname := partition name, mount view (below), CPU
 * pinning, SCHED_DEADLINE, pass-through fds, rlimits, no_new_privs, drop the
 * capability bounding set (and, as uid 0, all capabilities), optional
 * setgid/setuid, seccomp filter; then it reports "about to exec", the parent
 * moves it into the freezer cgroup (frame mode; in v2 mode into its one
 * cgroup), acknowledges, and the child execs.
 * So the program starts already boxed: a standby spawned with this call is
 * boxed (cgroups, budget, seccomp) while it waits in myco_init().
 * The child never allocates; it reports each step over a CLOEXEC socket and
 * the parent fills the report.  An exec failure is returned as an error by
 * spawn (the report says which step failed), except in frame mode, where the
 * child may be frozen right after joining the freezer: there spawn returns
 * once the child is about to exec, and an exec failure shows up as exit
 * status 127 of the process.
 *
 * PID 1: with a PID namespace the program is PID 1 of its namespace (no
 * init is inserted unless MYCO__BOX_F_INIT is set).  Consequences, by design:
 *  - SIGKILL (and SIGSTOP) from the executive always reach it; when it dies
 *    the kernel SIGKILLs every other process of the namespace, so `kill -9`
 *    of the pid returned by spawn kills the whole partition.
 *  - Other signals sent from outside (SIGTERM, SIGINT ...) are delivered only
 *    if the program installed a handler for them; the default action does
 *    not apply to a namespace init.  Graceful stop therefore needs a handler
 *    in the program (libmyco installs one) or ends with the SIGKILL timeout.
 *  - Orphaned children of the program re-parent to it; a program that forks
 *    must reap.  The exit status seen by the executive (waitid/pidfd) is the
 *    program's own, so SIGSYS (seccomp kill) and SIGKILL (OOM, see
 *    myco__box_stats) are visible as such.
 * With MYCO__BOX_F_INIT a tiny init (PID 1, no exec, same binary image as
 * the executive) forks the program as PID 2, forwards SIGTERM, SIGINT,
 * SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to it, reaps orphans and exits when the
 * program exits: with the program's exit code, or with 128 + N when the
 * program was killed by signal N (shell convention; the init cannot die by
 * a signal itself).  pid/pidfd then refer to the init.
 *
 * Mount view (mount namespace, MYCO__BOX_VIEW_*): MINIMAL (default) pivots
 * into a fresh tmpfs root holding read-only binds of /usr, /lib, /lib32,
 * /lib64, /bin, /sbin (those that exist), of a short list of /etc files
 * (ld.so.cache, passwd, group, hosts, resolv.conf, localtime, ...; not
 * shadow), of the program's directory
 * and of the directories of its ELF DT_RUNPATH/DT_RPATH ($ORIGIN expanded),
 * of each declared path (rw ones writable), of every extra ro path given
 * (e.g. the directory of a shared libmyco), a fresh /proc for the PID
 * namespace whose /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus and
 * /proc/fs are read-only (uid 0 without capabilities still passes owner
 * checks there), /dev with null, zero, full, random, urandom bound from the
 * host, and a private tmpfs /tmp.  HOST_RO keeps the host tree but
 * read-only, with the declared rw paths writable, the same hardened /proc,
 * the minimal /dev, an empty /run and a private /tmp.  NONE only makes
 * mounts private (a mount namespace without a changed view).
 *
 * ---------------------------------------------------------------------------
 * Seccomp policy and violations
 * ---------------------------------------------------------------------------
 * An allowlist (libseccomp, x86_64 and the native arch) generated from the
 * declarations:
 *  - base: what glibc/ld.so startup and a normal program need: memory
 *    (mmap, mprotect, munmap, mremap, madvise, brk), files on already-visible
 *    paths (openat, read, write, pread/pwrite, readv/writev, close, fstat,
 *    newfstatat, statx, lseek, getdents64, readlink, access, faccessat ...,
 *    fcntl, ioctl, dup*, pipe2, memfd_create, ftruncate, fsync, mmap'able
 *    fds), time and sleep (clock_gettime, clock_nanosleep, nanosleep,
 *    timerfd_*, eventfd2, epoll_*, poll, ppoll, select), futex, signals,
 *    threads (clone with CLONE_THREAD only; clone3 fails with ENOSYS so that
 *    glibc falls back to clone), getpid & co, prctl (PR_SET_NAME/GET_NAME
 *    only), getrandom, uname, rseq, set_robust_list, sched_yield,
 *    sched_getaffinity, exit, exit_group, execve (the program's own exec and
 *    re-exec of a visible binary), kill/tgkill (only processes it can see:
 *    its PID namespace), wait4/waitid, ioctl (TCGETS, TIOCGWINSZ, FIONREAD,
 *    FIONBIO, FIOCLEX, FIONCLEX only), prlimit64 reading only.
 *  - sched_setaffinity, except when the partition is pinned and the cpuset
 *    cgroup could not be applied (then affinity is the only fence): with a
 *    cpuset the kernel intersects any mask with it, so lib/rt's per-core
 *    thread pinning works inside the partition's CPUs.
 *  - io_uring_enter/register, unless MYCO__BOX_F_NO_IO_URING: the runtime
 *    (lib/rt) is built on io_uring.  Never io_uring_setup: seccomp does not
 *    see io_uring operations, so a partition uses only rings the executive
 *    made with myco__box_uring_create() (restricted to the operations its
 *    declarations allow) and handed over.  The operations also run with the
 *    partition's credentials and namespaces.
 *  - files changing the tree (unlink*, rename*, mkdir*, rmdir, link*,
 *    symlink*, chmod*, fchmod*, chown*, truncate, utimensat, mknod*) only
 *    when a rw path is declared.  Path strings are not filtered by seccomp:
 *    the mount view decides what exists and what is writable.
 *  - socket use (accept4, recv*, send*, getsockopt, setsockopt, getsockname,
 *    getpeername, shutdown) with `net` or listening ports (ports arrive as
 *    fds); creating sockets (socket, socketpair, bind, listen, connect) only
 *    with `net`.
 *  - spec->allow_syscalls adds names (unknown names are an error, -EINVAL).
 *  - never: mount, umount2, pivot_root, ptrace, process_vm_*, bpf, perf_*,
 *    kexec*, init/finit/delete_module, reboot, swapon/off, setns, unshare,
 *    keyctl, add_key, userfaultfd, sched_setattr/setscheduler,
 *    setrlimit/prlimit64 with a new limit, personality, fork/vfork and
 *    clone without CLONE_THREAD (so lib/rt's SCHED_DEADLINE EDF mode gets
 *    a violation answered EPERM: the box owns the partition's time).
 * Anything else is a violation.  Action (spec->seccomp_action):
 *  NOTIFY (default): SECCOMP_RET_USER_NOTIF.  The calling thread blocks in
 *    the syscall; spawn hands the listener fd to the caller in
 *    report->seccomp_fd (the executive owns and closes it).  The executive
 *    polls it (POLLIN), calls myco__box_violation_read() which names the
 *    syscall, emits the health event, then MUST answer with
 *    myco__box_violation_respond(): DENY (the syscall fails with the errno
 *    given, default EPERM, the program continues) or KILL (the process is
 *    SIGKILLed; for a PID-namespace init that is the whole partition).  If
 *    the listener fd is closed, pending and future violations fail with
 *    ENOSYS in the program.
 *  ERRNO: the syscall fails with EPERM; not reported (use only in tests).
 *  KILL: SECCOMP_RET_KILL_PROCESS: the process dies with SIGSYS; the
 *    executive sees the signal but not the syscall name.
 *
 * ---------------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------------
 * Budget mode (runtime_ns every period_ns):
 *  - SCHED_DEADLINE (runtime, deadline = period, period) with
 *    SCHED_FLAG_RESET_ON_FORK on the program's main thread, where permitted
 *    (root, not a restricted CPU set: the kernel requires a deadline task's
 *    affinity to cover its whole root domain, so a partition pinned to a
 *    strict subset of the CPUs falls back to the quota).  Deadline tasks
 *    cannot fork without reset-on-fork; with it, threads the program creates
 *    later start as SCHED_OTHER and are NOT under the reservation: they are
 *    held by the cgroup CPU quota below, which is always applied as well.
 *    So the main thread gets a guaranteed reservation and the whole partition
 *    is capped at budget (main thread) + budget (other threads) in the worst
 *    case.  myco__box_deadline_apply() gives another thread its own
 *    reservation (the executive may call it with a tid it learned).
 *  - cgroup CPU quota: v2 cpu.max "runtime period", v1 cpu.cfs_quota_us /
 *    cpu.cfs_period_us (microseconds; the period is clamped to the kernel's
 *    1 ms .. 1 s range and the quota scaled).  Applied on the instance
 *    cgroup; this is the fallback and the backstop for non-deadline threads.
 * Frame mode: a major frame (major_ns) of windows, per core.  The instance
 * joins <base>/myco/<system>/<partition>/<instance> in the freezer hierarchy
 * (v1 freezer, or cgroup.freeze of v2) and the frame scheduler (a thread of
 * the executive driven by an absolute CLOCK_MONOTONIC timerfd, SCHED_FIFO
 * when permitted) freezes the partition cgroup <...>/<partition> outside its
 * windows and thaws it inside them.  Freezing is hierarchical, so every
 * instance of the partition (active, standby, a restarted replacement) is
 * covered without rebinding.  Without a writable freezer, it falls back to
 * SIGSTOP/SIGCONT of the pid it was given (its process group when it leads
 * one, so the box's init and the program under it; rebind it after a
 * restart with myco__box_frame_set_pid()); MYCO_BOX_FRAME_SIGNAL=1 in the
 * environment forces that fallback (for tests and benchmarks).  A process that
 * joins a frozen cgroup is frozen at once, so a standby spawned outside its
 * window does not run.
 *
 * ---------------------------------------------------------------------------
 * Cleanup
 * ---------------------------------------------------------------------------
 * myco__box_destroy() kills whatever is left in an instance's (or a whole
 * partition's) cgroups and removes them.  myco__box_cleanup_stale() does the
 * same for every partition of a system (after its executive was killed with
 * -9), and is also the way to remove the system level at a normal
 * shutdown (after the partitions were destroyed): it finds
 * <base>/myco/<system> in every hierarchy, thaws, SIGKILLs
 * every process listed (v2: cgroup.kill), waits for the cgroups to empty and
 * removes them bottom-up.  Call it only while holding the system's run lock
 * (it does not know whether another executive is alive).  The cgroups are
 * under the caller's own cgroup, so a cleanup from another cgroup (another
 * login session) does not see them, unless MYCO_BOX_CGROUP_BASE (a path
 * relative to every hierarchy root, e.g. "/") gives all of them one base.
 */
#ifndef MYCO_EXEC_BOX_H
#define MYCO_EXEC_BOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ limits */

#define MYCO__BOX_NAME_MAX    64     /* system, partition, instance names */
#define MYCO__BOX_MAX_FDS     256    /* pass-through fds */
#define MYCO__BOX_MAX_PATHS   64     /* declared + extra paths */
#define MYCO__BOX_MAX_PORTS   64
#define MYCO__BOX_MAX_RLIMITS 16
#define MYCO__BOX_MAX_SYSCALLS 64    /* extra allowed syscall names */
#define MYCO__BOX_DETAIL_MAX  96     /* report detail string, incl. NUL */

/* ------------------------------------------------------------- mechanisms */

/* Every mechanism the report covers, in `myco ps` order. */
enum myco__box_mech {
	MYCO__BOX_PIDNS = 0,    /* PID namespace */
	MYCO__BOX_MOUNTNS,      /* mount namespace (+ the mount view) */
	MYCO__BOX_IPCNS,        /* IPC namespace */
	MYCO__BOX_UTSNS,        /* UTS namespace (hostname = partition) */
	MYCO__BOX_NETNS,        /* network namespace (not requested with net) */
	MYCO__BOX_NO_NEW_PRIVS, /* prctl(PR_SET_NO_NEW_PRIVS) */
	MYCO__BOX_CAPS,         /* capability bounding set dropped */
	MYCO__BOX_SECCOMP,      /* seccomp allowlist */
	MYCO__BOX_CG_MEMORY,    /* cgroup memory limit */
	MYCO__BOX_CG_CPU,       /* cgroup CPU quota */
	MYCO__BOX_CPU_PIN,      /* CPU affinity (+ cpuset cgroup where present) */
	MYCO__BOX_DEADLINE,     /* SCHED_DEADLINE reservation */
	MYCO__BOX_RLIMITS,      /* setrlimit */
	MYCO__BOX_FRAME,        /* frame windows (freezer cgroup or SIGSTOP) */
	MYCO__BOX_MOUNT_VIEW,   /* the restricted file-system view */
	MYCO__BOX_CG_PIDS,      /* cgroup pids limit */
	MYCO__BOX_USERNS,       /* user namespace (only used without root) */
	MYCO__BOX_MECH_COUNT
};

enum myco__box_state {
	MYCO__BOX_NOT_REQUESTED = 0,
	MYCO__BOX_APPLIED,
	MYCO__BOX_DEGRADED,     /* requested but not (fully) applied: see detail */
};

/* Static strings, never NULL ("pid-ns", "mount-ns", ...; "applied",
 * "degraded", "not-requested"). */
const char *myco__box_mech_name(enum myco__box_mech m);
const char *myco__box_state_name(enum myco__box_state s);

/* -------------------------------------------------------------------- spec */

enum myco__box_time_mode {
	MYCO__BOX_TIME_NONE = 0,     /* best effort */
	MYCO__BOX_TIME_BUDGET,       /* runtime_ns every period_ns */
	MYCO__BOX_TIME_FRAME,        /* windows of a frame scheduler */
};

enum myco__box_view {
	MYCO__BOX_VIEW_MINIMAL = 0,  /* default; see the header comment */
	MYCO__BOX_VIEW_HOST_RO,
	MYCO__BOX_VIEW_NONE,
};

enum myco__box_seccomp_action {
	MYCO__BOX_SECCOMP_NOTIFY = 0,  /* default: listener fd to the caller */
	MYCO__BOX_SECCOMP_ERRNO,       /* EPERM, unreported (tests only) */
	MYCO__BOX_SECCOMP_KILL,        /* SIGSYS, syscall not named */
};

/* Spawn flags. */
#define MYCO__BOX_F_INIT      0x1u  /* insert a tiny init as PID 1 */
#define MYCO__BOX_F_NO_USERNS 0x2u  /* never fall back to a user namespace */
#define MYCO__BOX_F_NO_IO_URING 0x4u /* io_uring_* are violations too */

/* Mechanism request bits (spec.want); myco__box_spec_init() sets all. */
#define MYCO__BOX_WANT(m) (1u << (m))
#define MYCO__BOX_WANT_ALL ((1u << MYCO__BOX_MECH_COUNT) - 1u)

struct myco__box_path {
	const char *path;      /* absolute; borrowed from the caller */
	bool rw;
};

struct myco__box_fd {
	int fd;                /* fd in the caller */
	int target;            /* number in the program; -1 = same as fd */
};

struct myco__box_rlimit {
	int resource;          /* RLIMIT_* */
	uint64_t soft, hard;   /* RLIM_INFINITY allowed */
};

/* Filled by the executive from the checked model.  All pointers are
 * borrowed and must stay valid for the duration of myco__box_spawn() only.
 * Start from myco__box_spec_init() so that fields added later get their
 * defaults. */
typedef struct myco__box_spec {
	const char *system;        /* system name (cgroup path component) */
	const char *partition;     /* partition name (cgroup, hostname) */
	const char *instance;      /* cgroup leaf; NULL = "main".  Standbys and
	                            * replacements use distinct names, e.g. "i3" */
	const char *path;          /* absolute program path for execve */
	const char *const *argv;   /* NULL-terminated; argv[0] required */
	const char *const *envp;   /* NULL-terminated; NULL = empty */
	const char *cwd;           /* NULL = "/" (inside the view) */

	const struct myco__box_fd *fds;   /* pass-through fds (0,1,2 included
	                                   * only if listed); all others closed */
	size_t nfds;

	uint32_t want;             /* MYCO__BOX_WANT() bits: which mechanisms */
	uint32_t flags;            /* MYCO__BOX_F_* */
	bool net;                  /* declared network use: no net ns, sockets */

	const uint16_t *ports;     /* declared listening ports (as fds) */
	size_t nports;
	const struct myco__box_path *paths;   /* declared paths ro/rw */
	size_t npaths;
	const char *const *extra_ro;  /* more ro binds in the MINIMAL view */
	size_t nextra_ro;
	enum myco__box_view view;
	const char *const *allow_syscalls;   /* extra names for the allowlist */
	size_t nallow_syscalls;
	/* Names answered through the listener although allowed (seccomp
	 * NOTIFY only, else -EINVAL): the executive's `slowsys` chaos fault
	 * holds them, then lets them run (MYCO__BOX_CONTINUE).  read, write
	 * and close on fds 64 and above are not trapped (the box's hand-shake
	 * socket is there until execve).  Unknown names are an error
	 * (-EINVAL). */
	const char *const *trap_syscalls;
	size_t ntrap_syscalls;
	enum myco__box_seccomp_action seccomp_action;

	uint64_t memory_max;       /* bytes; 0 = no limit (mechanism not requested) */
	uint64_t pids_max;         /* 0 = no limit */
	uint64_t cpu_mask;         /* bit i = CPU i; 0 = any (pinning not requested) */

	enum myco__box_time_mode time_mode;
	uint64_t runtime_ns;       /* budget mode */
	uint64_t period_ns;        /* budget mode */

	const struct myco__box_rlimit *rlimits;
	size_t nrlimits;

	uid_t uid;                 /* run as (root only); (uid_t)-1 = unchanged */
	gid_t gid;                 /* (gid_t)-1 = unchanged */

	const char *cgroup_base;   /* reserved, must be NULL (-EINVAL).  The
	                            * base is the caller's own cgroup in each
	                            * hierarchy, or MYCO_BOX_CGROUP_BASE from the
	                            * environment (e.g. "/"), the same for
	                            * spawn, stats, destroy and cleanup */

	/* Warning sink for degraded mechanisms: one line each, no newline.
	 * NULL = "myco: box: <system>/<partition>: warning: ..." on stderr. */
	void (*log)(void *arg, const char *line);
	void *log_arg;
} myco__box_spec_t;

/* Defaults: want = MYCO__BOX_WANT_ALL, view MINIMAL, seccomp NOTIFY, uid/gid
 * unchanged, everything else zero/NULL. */
void myco__box_spec_init(myco__box_spec_t *spec);

/* ------------------------------------------------------------------ report */

struct myco__box_item {
	uint8_t state;                      /* enum myco__box_state */
	int err;                            /* negative errno when degraded, else 0 */
	char detail[MYCO__BOX_DETAIL_MAX];  /* why degraded, or what was applied
	                                     * ("256 MiB", "cpu 0-1", "via user
	                                     * namespace", "quota 20000/100000 us") */
};

typedef struct myco__box_report {
	struct myco__box_item m[MYCO__BOX_MECH_COUNT];
	int seccomp_fd;            /* NOTIFY listener, or -1.  Owned by the
	                            * caller from a successful spawn on: close it */
	bool root;                 /* spawned with CAP_SYS_ADMIN */
	bool cgroup_v2;            /* which interface was used */
	char cgroup[256];          /* relative instance path, e.g.
	                            * "myco/sys/part/main" (empty if none) */
	int failed_step;           /* on spawn error: the enum myco__box_mech (or
	                            * -1 for exec/clone) that failed */
} myco__box_report_t;

/* Number of mechanisms in the report in state DEGRADED. */
int myco__box_report_degraded(const myco__box_report_t *r);

/* Human text, one line per mechanism: "pid-ns  applied  <detail>".  Writes
 * at most cap bytes (NUL-terminated); returns the length it needed (like
 * snprintf). */
int myco__box_report_format(const myco__box_report_t *r, char *buf,
			    size_t cap);

/* JSON object {"pid-ns":{"state":"applied","detail":"..."}, ...}, same
 * return convention as myco__box_report_format(). */
int myco__box_report_json(const myco__box_report_t *r, char *buf, size_t cap);

/* ------------------------------------------------------------------- spawn */

/* Create the boxed process and exec spec->path in it.
 * On success: 0, *pid (in the caller's PID namespace) and *pidfd
 * (CLOEXEC, owned by the caller) are set, the report is filled (and a
 * warning logged per DEGRADED mechanism), report->seccomp_fd is the
 * listener (NOTIFY) or -1.  The process may be frozen (frame mode).
 * On failure: a negative errno, no process remains (it was killed and
 * reaped), report->failed_step says where, cgroups created for this
 * instance are removed, *pid = 0, *pidfd = -1, report->seccomp_fd = -1.
 * Errors: -EINVAL (bad spec, unknown extra syscall name), -ENOMEM, the errno
 * of clone3/execve, or of a mechanism the caller made mandatory (none: every
 * mechanism degrades rather than fails, except exec).
 * Thread-safety: may be called while the frame scheduler thread runs. */
int myco__box_spawn(const myco__box_spec_t *spec, myco__box_report_t *report,
		    pid_t *pid, int *pidfd);

/* Take the SCHED_DEADLINE reservation from thread tid (back to
 * SCHED_OTHER): when the partition runs more threads than the one holding
 * the reservation, only the cgroup quota caps them all (a deadline task is
 * not throttled by it).  -errno of sched_setattr. */
int myco__box_deadline_drop(pid_t tid);
/* Threads of process pid (caller's namespace) from /proc, or -errno. */
int myco__box_threads(pid_t pid);

/* io_uring for a partition (uring.c).  decl: what it declared, bits below.
 * Creates one ring of `entries` SQEs (a CQ 4x that) disabled, registers
 * restrictions (operations: always I/O on held fds, timers, poll, cancel,
 * openat, statx...; with RW tree changes; with PORTS or NET sending,
 * receiving, accept, shutdown; with NET socket and connect; nothing else,
 * and no register operation beyond those on its own files and buffers),
 * enables it.  params (params_len == sizeof(struct io_uring_params))
 * receives what io_uring_setup returned.  Returns the fd (CLOEXEC, owned by
 * the caller) or -errno. */
#define MYCO__BOX_URING_NET   0x1u   /* `net` */
#define MYCO__BOX_URING_PORTS 0x2u   /* listening ports handed over */
#define MYCO__BOX_URING_RW    0x4u   /* a rw path */
int myco__box_uring_create(unsigned decl, unsigned entries, void *params,
			   size_t params_len);
/* One line for `myco ps`: what the rings of decl allow. */
int myco__box_uring_describe(unsigned decl, char *buf, size_t cap);

/* Give thread tid (caller's namespace) its own SCHED_DEADLINE reservation
 * (reset-on-fork).  -EPERM/-EBUSY/-EINVAL from the kernel as is. */
int myco__box_deadline_apply(pid_t tid, uint64_t runtime_ns,
			     uint64_t period_ns);

/* Admission of a system's SCHED_DEADLINE reservations before anything
 * starts, as the kernel will do it one sched_setattr() at a time: the sum
 * of runtime/period over all deadline tasks of the root domain must stay
 * within sched_rt_runtime_us / sched_rt_period_us of every CPU in it. */
struct myco__box_resv {
	const char *name;
	uint64_t runtime_ns, period_ns;
};

struct myco__box_dl_host {
	long rt_runtime_us;     /* kernel.sched_rt_runtime_us (-1: no limit) */
	long rt_period_us;      /* kernel.sched_rt_period_us */
	unsigned ncpus;         /* CPUs the reservations may use */
	uint64_t online_mask;   /* which ones (CPUs 0-63) */
};

/* The host's figures: /proc/sys/kernel and the caller's CPU affinity. */
int myco__box_dl_host(struct myco__box_dl_host *h);

/* 0 if the n reservations fit h, -MYCO_EADMISSION if not; either way msg
 * (NUL-terminated, truncated to cap) shows the arithmetic: one line per
 * reservation, then the sum against the limit. */
int myco__box_dl_admit(const struct myco__box_resv *r, size_t n,
		       const struct myco__box_dl_host *h, char *msg, size_t cap);

/* ---------------------------------------------------------- shielded cores */

/* What a shield (or its restore) did, one line per mechanism: tasks, irqs,
 * workqueues, timers, tick, rcu (the last two need boot parameters). */
#define MYCO__SHIELD_ITEMS 12
struct myco__box_shield_item {
	char name[16];
	uint8_t state;          /* enum myco__box_state: applied or degraded */
	char detail[200];
};
struct myco__box_shield_report {
	size_t n;
	struct myco__box_shield_item items[MYCO__SHIELD_ITEMS];
};

/* Shield the CPUs of mask (a subset of the online CPUs, leaving at least
 * one): narrow every other thread's affinity (except the processes in
 * keep, e.g. the system's own partitions), steer IRQs and unbound work
 * queues off, set kernel.timer_migration 0.  Each change is appended to
 * state_path (created, O_EXCL: -EEXIST if a shield was not restored)
 * before it is made.  0, or -EINVAL/-ERANGE/-EDOM for a bad mask, -errno
 * for the state file; the mechanisms themselves degrade into rep. */
int myco__box_shield_apply(const char *state_path, uint64_t mask, const pid_t *keep,
			   size_t nkeep, struct myco__box_shield_report *rep);

/* Undo what state_path records, where nothing changed it since (a thread
 * whose affinity someone else set is left alone), then remove the file.
 * Used at stop, and at the next start after kill -9.  0, -ENOENT if there
 * is no state, -EPROTO for a file without its header (kept). */
int myco__box_shield_restore(const char *state_path, struct myco__box_shield_report *rep);

/* Tests: prefix for the /proc/irq, /proc/sys, /sys paths, and (sid > 0)
 * touch only the tasks of that session, not the whole machine. */
void myco__box_shield_set_root(const char *root, pid_t scope_sid);

/* One state file record (exported for the fuzz harness and tests). */
enum { MYCO__SHIELD_REC_HEADER = 1, MYCO__SHIELD_REC_TASK, MYCO__SHIELD_REC_IRQ,
       MYCO__SHIELD_REC_WQ, MYCO__SHIELD_REC_TIMER };
struct myco__box_shield_rec {
	int kind;
	unsigned long n;          /* version, pid, irq number, timer value */
	unsigned long long start; /* task start time (clock ticks since boot) */
	uint64_t orig, set;       /* masks */
};
/* 0 or -EINVAL/-EPROTO; never reads beyond the NUL. */
int myco__box_shield_parse_line(const char *line, struct myco__box_shield_rec *r);

/* "0-2,5" <-> bit mask (CPUs 0-63). */
int myco__box_cpulist_parse_mask(const char *s, uint64_t *mask);
void myco__box_cpulist_format(uint64_t mask, char *out, size_t cap);

/* Cache allocation: the partition's processes get `ways` ways of the L3
 * through resctrl group myco-<system>-<part>.  -ENOTSUP (detail says why)
 * where resctrl or CAT is absent: report it as degraded. */
int myco__box_cache_ways(const char *system, const char *part, unsigned ways,
			 const pid_t *pids, size_t npids, char *detail, size_t cap);

/* ------------------------------------------------------------- violations */

enum myco__box_verdict {
	MYCO__BOX_DENY = 0,     /* the syscall fails with the given errno */
	MYCO__BOX_KILL,         /* SIGKILL the offending process */
	MYCO__BOX_CONTINUE,     /* a trapped allowed syscall (trap_syscalls):
				 * let the kernel run it as it is */
};

struct myco__box_violation {
	uint64_t id;            /* seccomp notification id */
	pid_t pid;              /* thread that made the call, caller's pid ns */
	int nr;                 /* syscall number (for arch) */
	uint32_t arch;          /* AUDIT_ARCH_* */
	char name[32];          /* "socket", or "syscall_<nr>" if unknown */
	uint64_t args[6];
	uint64_t ip;
};

/* Read one pending violation from a listener fd.  Never blocks for more
 * than 20 ms: it looks first (POLLIN), and a one-shot timer signal of the
 * calling thread (SIGRTMIN+5, a no-op handler) interrupts a receive whose
 * notification was withdrawn meanwhile.  -ENOENT or -EAGAIN: nothing to
 * read (the thread died before it could be read): ignore it; -EPIPE: every
 * process of the filter is gone (close the listener). */
int myco__box_violation_read(int fd, struct myco__box_violation *v);

/* Answer a violation read from fd.  DENY: the syscall returns -err (err > 0,
 * 0 means EPERM).  KILL: the process is SIGKILLed (checked to still be the
 * one that made the call), then the call is answered.  CONTINUE (only for
 * a syscall of spec->trap_syscalls, which the filter allows anyway): the
 * kernel runs the call as it is (SECCOMP_USER_NOTIF_FLAG_CONTINUE).  -ENOENT if the
 * thread is already gone (harmless). */
int myco__box_violation_respond(int fd, const struct myco__box_violation *v,
				enum myco__box_verdict verdict, int err);

/* Syscall name for a number on the native arch, or NULL.  The string is a
 * per-thread buffer, valid until the next call in the same thread. */
const char *myco__box_syscall_name(int nr);

/* ------------------------------------------------------------ accounting */

struct myco__box_stats {
	uint64_t cpu_ns;          /* CPU time of the cgroup (all instances below) */
	uint64_t memory_bytes;    /* current usage */
	uint64_t memory_peak;     /* high-water mark (0 if unknown) */
	uint64_t oom_kills;       /* processes killed by the memory limit */
	uint64_t nr_throttled;    /* CPU quota periods throttled */
	bool frozen;              /* freezer state (frame mode) */
};

/* Figures of <base>/myco/<system>/<partition>[/<instance>] (instance NULL =
 * the whole partition).  Fields whose controller is absent are 0.  The
 * executive uses oom_kills to tell an OOM kill from another SIGKILL. */
int myco__box_stats(const char *system, const char *partition,
		    const char *instance, struct myco__box_stats *st);

/* ----------------------------------------------------------------- cleanup */

/* Kill what is left in <...>/<system>/<partition>/<instance> (instance NULL
 * = the whole partition, all instances) in every hierarchy, wait until empty
 * (bounded, 2 s) and remove the cgroups.  -ENOENT if nothing existed,
 * -EBUSY if processes would not die. */
int myco__box_destroy(const char *system, const char *partition,
		      const char *instance);

/* The same in one pass that never sleeps (for a supervision loop that must
 * not block): -EBUSY while processes are still dying (call again later),
 * 0 when removed, -ENOENT if nothing existed. */
int myco__box_destroy_try(const char *system, const char *partition,
			  const char *instance);

/* Same for every partition of a system, then remove myco/<system> itself.
 * Returns the number of processes killed (>= 0) or a negative errno.
 * See "Cleanup" above for when it is safe. */
int myco__box_cleanup_stale(const char *system);

/* The guard: nothing of a system outlives its executive, frozen or not.
 * myco__box_guard_start() forks a small process (call it before the
 * executive starts any thread: the child uses ordinary libc) that keeps only
 * the read end of a pipe; if the executive dies (kill -9) without dismissing
 * it, the guard runs myco__box_cleanup_stale(system): it thaws the freezer
 * (a frozen task cannot act on SIGKILL, PR_SET_PDEATHSIG included), kills
 * every process of the system's cgroups and removes them.  Returns the
 * guard's pid (> 0) and the executive's end in *ctl, or -errno.
 * myco__box_guard_dismiss(ctl): normal shutdown, after the system's cgroups
 * are gone; the guard exits without touching anything. */
int myco__box_guard_start(const char *system, int *ctl);
void myco__box_guard_dismiss(int ctl);

/* ---------------------------------------------------------- frame schedule */

typedef struct myco__box_frame myco__box_frame_t;

struct myco__box_frame_stats {
	uint64_t frames;          /* major frames completed */
	uint64_t windows;         /* windows opened for this partition */
	uint64_t late;            /* boundaries the thread reached > 1 ms late */
	uint64_t max_late_ns;     /* worst lateness of a boundary */
	bool freezer;             /* true: cgroup freezer, false: SIGSTOP */
	uint64_t origin_ns;       /* CLOCK_MONOTONIC ns of frame 0's start (0: not yet) */
	uint64_t major_ns;        /* the major frame: frame k starts at origin + k * major */
};

/* New frame schedule for a system; *out owned by the caller, release with
 * myco__box_frame_free().  major_ns > 0. */
int myco__box_frame_new(const char *system, uint64_t major_ns,
			myco__box_frame_t **out);

/* Register a partition (its cgroup freezer group is <...>/<system>/<part>,
 * created if missing; pid is used only by the SIGSTOP fallback, 0 = none
 * yet).  *idx receives the partition's index for the calls below.  Before
 * start only. */
int myco__box_frame_add(myco__box_frame_t *fr, const char *partition,
			pid_t pid, int *idx);

/* Add a window [offset_ns, offset_ns + length_ns) on a core for partition
 * idx.  Windows of one core must not overlap (-EINVAL); the window must lie
 * within the major frame.  Before start only. */
int myco__box_frame_window(myco__box_frame_t *fr, int idx, int core,
			   uint64_t offset_ns, uint64_t length_ns);

/* Start the scheduler thread: every registered partition is frozen, then
 * thawed inside its windows, frame after frame, from the next millisecond
 * boundary.  -EALREADY if running. */
int myco__box_frame_start(myco__box_frame_t *fr);

/* Swap the process of partition idx after a restart (SIGSTOP fallback; the
 * freezer needs nothing).  The new pid is stopped at once if the partition
 * is outside its window.  Any time. */
int myco__box_frame_set_pid(myco__box_frame_t *fr, int idx, pid_t pid);

/* Stop the thread and thaw (or SIGCONT) every partition.  Idempotent. */
int myco__box_frame_stop(myco__box_frame_t *fr);

int myco__box_frame_stats(myco__box_frame_t *fr, int idx,
			  struct myco__box_frame_stats *st);

/* Where to publish each window the schedule opens for partition IDX:
 * before the thaw, the window's scheduled start (absolute CLOCK_MONOTONIC
 * ns) is stored to *START_NS, then *SEQ incremented with release (the
 * partition's control region: lib/part/part_abi.h, struct
 * myco__part_window).  Both NULL stops publishing.  The memory must stay
 * mapped until replaced, myco__box_frame_forget() or free.  Returns 0 or
 * -EINVAL. */
int myco__box_frame_publish(myco__box_frame_t *fr, int idx, uint64_t *seq,
			    uint64_t *start_ns);

/* Stop publishing into SEQ (whichever partition it was given for), before
 * the memory is unmapped.  NULL FR or SEQ is fine. */
void myco__box_frame_forget(myco__box_frame_t *fr, const uint64_t *seq);

/* Stop if running and free.  NULL is fine. */
void myco__box_frame_free(myco__box_frame_t *fr);

#ifdef __cplusplus
}
#endif
#endif /* MYCO_EXEC_BOX_H */
