/*
 * exec/box/box_int.h: what the files of the box library share: the cgroup
 * interface (cgroup.c, v1 and v2 behind one set of calls), the seccomp
 * program builder (seccomp.c), scheduling helpers (sched.c), the spawn plan
 * that the child executes without allocating (spawn.c, mount.c, caps.c) and
 * report helpers (report.c).
 * Not for: the executive (it includes box.h only).
 */
#ifndef MYCO_EXEC_BOX_INT_H
#define MYCO_EXEC_BOX_INT_H

#include <linux/filter.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "box.h"

/* ------------------------------------------------------------------ report */

/* Set one report item; fmt may be NULL (empty detail). */
void myco__box_item_set(myco__box_report_t *r, enum myco__box_mech m,
			enum myco__box_state st, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Log one warning line per DEGRADED item through spec->log or stderr. */
void myco__box_report_log(const myco__box_spec_t *spec,
			  const myco__box_report_t *r);

/* ------------------------------------------------------------------ cgroup */

/* Controllers the box uses. */
enum myco__cg_ctl {
	MYCO__CG_MEMORY = 0,
	MYCO__CG_CPU,
	MYCO__CG_CPUACCT,       /* v2: part of cpu */
	MYCO__CG_CPUSET,
	MYCO__CG_PIDS,
	MYCO__CG_FREEZER,       /* v2: cgroup.freeze, always there */
	MYCO__CG_NCTL
};

#define MYCO__CG_PATH_MAX 1024

/* Absolute directory of rel (e.g. "myco/sys/part/inst") in the hierarchy
 * holding ctl, under base (NULL = the caller's own cgroup there).  Returns
 * the length, -ENOENT if that controller is not mounted, -ENAMETOOLONG. */
int myco__cg_dir(enum myco__cg_ctl ctl, const char *base, const char *rel,
		 char *out, size_t cap);

/* True when /sys/fs/cgroup is a cgroup2 mount (one hierarchy). */
bool myco__cg_is_v2(void);

/* Name of the controller in messages ("memory", ...). */
const char *myco__cg_ctl_name(enum myco__cg_ctl ctl);

/* Create dir and its missing parents below the hierarchy root of ctl (v1
 * cpuset: copies cpuset.cpus/mems into new levels; v2: enables the
 * controller in the parents' subtree_control).  0 or -errno. */
int myco__cg_mkdir(enum myco__cg_ctl ctl, const char *dir);

/* Write a string to dir/file. 0 or -errno. */
int myco__cg_write(const char *dir, const char *file, const char *val);

/* Read an unsigned number from dir/file (first number in it, or the value
 * after "key " when key != NULL).  0 or -errno. */
int myco__cg_read_u64(const char *dir, const char *file, const char *key,
		      uint64_t *out);

/* Kill every process in dir and below, thaw, wait for it to empty (bounded)
 * and rmdir bottom-up.  Returns the number of processes signalled or
 * -errno (-EBUSY if it did not empty). */
int myco__cg_kill_remove(const char *dir, bool v2);

/* CFS quota for runtime/period: period clamped to the kernel range,
 * quota >= 1 ms (v1) scaled accordingly.  Pure, unit-tested. */
void myco__cg_quota(uint64_t runtime_ns, uint64_t period_ns,
		    uint64_t *quota_us, uint64_t *period_us);

/* Format a CPU mask as a cpuset list "0-1,3".  Pure, unit-tested. */
int myco__cg_cpulist(uint64_t mask, char *out, size_t cap);

/* ----------------------------------------------------------------- seccomp */

/* Build the allowlist for a spec as a BPF program.  *prog->filter is
 * malloc()ed; free with myco__box_seccomp_free().  -EINVAL for an unknown
 * name in spec->allow_syscalls (name copied to bad, if given).
 * opts: MYCO__SC_* below. */
#define MYCO__SC_AFFINITY 0x1u   /* sched_setaffinity is safe (cpuset bounds it) */
int myco__box_seccomp_build(const myco__box_spec_t *spec, unsigned opts,
			    struct sock_fprog *prog, char *bad, size_t badcap);
void myco__box_seccomp_free(struct sock_fprog *prog);

/* ------------------------------------------------------------------- sched */

/* Raw sched_setattr() for SCHED_DEADLINE (reset-on-fork). */
int myco__box_sched_deadline(pid_t tid, uint64_t runtime_ns,
			     uint64_t deadline_ns, uint64_t period_ns);

/* Mask of online CPUs (bit i = CPU i < 64). */
uint64_t myco__box_online_mask(void);

/* -------------------------------------------------------------- spawn plan */

#define MYCO__PLAN_MAX_BINDS (MYCO__BOX_MAX_PATHS + 16)

enum myco__bind_kind {
	MYCO__BIND = 0,         /* bind src at dst (ro unless rw) */
	MYCO__BIND_TMPFS,       /* tmpfs at dst with opts */
	MYCO__BIND_PROC,        /* fresh procfs at dst */
	MYCO__BIND_SYMLINK,     /* symlink dst -> src (merged /usr links) */
};

struct myco__plan_bind {
	int kind;               /* enum myco__bind_kind */
	char src[512];          /* host path, or symlink target */
	char dst[512];          /* path inside the view */
	char opts[64];          /* tmpfs options */
	bool rw;
	bool optional;          /* missing source is fine */
	bool dev;               /* device node: keep dev access */
	int fd;                 /* O_PATH fd, opened in the child */
};

/* Everything the child needs, computed by the parent: the child only reads
 * it and makes syscalls. */
struct myco__plan {
	const myco__box_spec_t *spec;
	uint32_t want;                  /* effective requests */
	bool root;
	bool userns;                    /* child is in a new user namespace */
	int sock;                       /* child end of the report socket */
	int cg_procs[MYCO__CG_NCTL];    /* cgroup.procs fds to join, or -1 */
	bool deadline;                  /* try SCHED_DEADLINE */
	bool pin;
	uint64_t cpu_mask;
	char pin_detail[MYCO__BOX_DETAIL_MAX];
	char seccomp_detail[MYCO__BOX_DETAIL_MAX];
	unsigned clone_flags;           /* namespaces the child got */
	bool init;                      /* MYCO__BOX_F_INIT */
	bool v2_late_join;              /* parent moves the child at EXEC */
	int last_cap;
	struct sock_fprog seccomp;      /* empty: no seccomp */
	bool seccomp_notify;
	/* mount view */
	enum myco__box_view view;
	bool view_on;
	struct myco__plan_bind binds[MYCO__PLAN_MAX_BINDS];
	int nbinds;
	char cwd[512];
	char hostname[MYCO__BOX_NAME_MAX];
	/* fds: kept targets, sorted ascending */
	int fd_base;                   /* internal fds are moved >= this */
	int ntargets;
	int targets[MYCO__BOX_MAX_FDS];
	const char *const *argv;
	const char *const *envp;
};

/* Child -> parent messages on the report socket (SOCK_SEQPACKET). */
enum myco__msg_type {
	MYCO__MSG_ITEM = 1,     /* mech, state, err, detail */
	MYCO__MSG_SECCOMP_FD,   /* val = listener fd number; waits for ack */
	MYCO__MSG_EXEC,         /* about to exec; waits for ack */
	MYCO__MSG_FATAL,        /* mech (or -1), err: spawn failed */
};

struct myco__msg {
	int32_t type;
	int32_t mech;
	int32_t state;
	int32_t err;
	int32_t val;
	char detail[MYCO__BOX_DETAIL_MAX];
};

/* Child-side helpers (spawn.c); no allocation, raw syscalls only. */
void myco__child_item(const struct myco__plan *p, enum myco__box_mech m,
		      enum myco__box_state st, int err, const char *detail);
int myco__child_wait_ack(const struct myco__plan *p);

/* mount.c: build the mount view inside the child's mount namespace.
 * Reports its own items; returns 0 or -errno only for fatal errors
 * (cwd missing). */
int myco__child_mount_view(struct myco__plan *p);

/* caps.c: rlimits, no_new_privs, capabilities, uid/gid.  Report items. */
void myco__child_rlimits(const struct myco__plan *p);
int myco__child_privs(const struct myco__plan *p);

/* elf.c: the program's DT_RUNPATH (else DT_RPATH) string, unexpanded.
 * Returns its length, 0 if none (or not an ELF64 LE file), -errno. */
int myco__box_elf_runpath(const char *path, char *out, size_t cap);

/* Short errno name ("EPERM"), static; async-signal-safe. */
const char *myco__errname(int err);

/* Small async-signal-safe string helpers. */
size_t myco__s_cpy(char *dst, size_t cap, const char *src);
size_t myco__s_cat(char *dst, size_t cap, const char *src);
size_t myco__s_catu(char *dst, size_t cap, uint64_t v);

#endif /* MYCO_EXEC_BOX_INT_H */
