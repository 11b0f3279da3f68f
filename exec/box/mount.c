/*
 * exec/box/mount.c: the file-system view of a partition, built in the
 * spawned child inside its new mount namespace (views described in box.h):
 * MINIMAL stages a tmpfs root (over the namespace's private /tmp), binds the
 * plan's entries into it read-only (declared rw paths writable), adds /proc,
 * /dev nodes and /tmp, then pivot_root()s into it; HOST_RO makes the host
 * tree read-only and re-binds the rw paths; NONE only makes mounts private.
 * Runs between clone and exec: raw syscalls, no allocation, no stdio.
 * Not for: deciding the entries (spawn.c builds the plan in the parent).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box_int.h"

#define STAGE "/tmp"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct box_mount_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

static int set_attr(const char *path, uint64_t set, uint64_t clr)
{
	struct box_mount_attr a = { .attr_set = set, .attr_clr = clr };

	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &a,
		    sizeof(a)) < 0)
		return -errno;
	return 0;
}

/* Read-only, recursively; falls back to a plain remount of the top. */
static int make_ro(const char *path, bool dev)
{
	int rc = set_attr(path, MOUNT_ATTR_RDONLY | (dev ? 0 : MOUNT_ATTR_NOSUID),
			  0);

	if (rc == -ENOSYS &&
	    mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY |
		  (dev ? 0 : MS_NOSUID), NULL) == 0)
		rc = 0;
	return rc;
}

/* mkdir -p of path (all components); EEXIST is fine. */
static int mkdir_p(char *path)
{
	for (char *s = path + 1; ; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int err = -errno;

			*s = c;
			return err;
		}
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

/* Create the mount point for b under STAGE: a directory, or an empty file
 * when the source is not a directory. */
static int make_target(const struct myco__plan_bind *b, char *dst, size_t cap)
{
	struct stat st;
	char *slash;
	int rc, fd;

	myco__s_cpy(dst, cap, STAGE);
	myco__s_cat(dst, cap, b->dst);
	if (b->kind != MYCO__BIND || b->fd < 0 || fstat(b->fd, &st) < 0 ||
	    S_ISDIR(st.st_mode))
		return mkdir_p(dst);
	slash = strrchr(dst, '/');
	if (slash && slash != dst) {
		*slash = '\0';
		rc = mkdir_p(dst);
		*slash = '/';
		if (rc < 0)
			return rc;
	}
	fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	close(fd);
	return 0;
}

static void fdpath(int fd, char *out, size_t cap)
{
	myco__s_cpy(out, cap, "/proc/self/fd/");
	myco__s_catu(out, cap, (uint64_t)fd);
}

/* procfs entries that write kernel-global state with owner permissions:
 * uid 0 without capabilities still passes the owner check on them. */
static const char *const proc_ro[] = {
	"sys", "sysrq-trigger", "irq", "bus", "fs",
};

/* Bind those entries of the procfs at dir onto themselves read-only. */
static int harden_proc(const char *dir)
{
	char path[1100];
	int rc;

	for (size_t i = 0; i < sizeof(proc_ro) / sizeof(proc_ro[0]); i++) {
		struct stat st;

		myco__s_cpy(path, sizeof(path), dir);
		myco__s_cat(path, sizeof(path), "/");
		myco__s_cat(path, sizeof(path), proc_ro[i]);
		if (lstat(path, &st) < 0)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		if ((rc = make_ro(path, false)) < 0)
			return rc;
	}
	return 0;
}

static void degrade(struct myco__plan *p, int err, const char *what,
		    const char *path)
{
	char d[MYCO__BOX_DETAIL_MAX];

	myco__s_cpy(d, sizeof(d), what);
	if (path) {
		myco__s_cat(d, sizeof(d), " ");
		myco__s_cat(d, sizeof(d), path);
	}
	myco__s_cat(d, sizeof(d), ": ");
	myco__s_cat(d, sizeof(d), myco__errname(err));
	myco__child_item(p, MYCO__BOX_MOUNT_VIEW, MYCO__BOX_DEGRADED, err, d);
}

static int view_minimal(struct myco__plan *p)
{
	char dst[1100], src[64];
	int rc, missing = 0;

	/* Open every source before the staging tmpfs hides anything. */
	for (int i = 0; i < p->nbinds; i++) {
		struct myco__plan_bind *b = &p->binds[i];

		b->fd = -1;
		if (b->kind != MYCO__BIND)
			continue;
		b->fd = open(b->src, O_PATH | O_CLOEXEC);
		if (b->fd < 0 && !b->optional)
			missing++;
	}
	if (mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=1m") < 0) {
		rc = -errno;
		degrade(p, rc, "tmpfs root", NULL);
		return rc;
	}
	for (int i = 0; i < p->nbinds; i++) {
		struct myco__plan_bind *b = &p->binds[i];

		if (b->kind == MYCO__BIND && b->fd < 0)
			continue;
		if (b->kind == MYCO__BIND_SYMLINK) {
			myco__s_cpy(dst, sizeof(dst), STAGE);
			myco__s_cat(dst, sizeof(dst), b->dst);
			if (symlink(b->src, dst) < 0 && errno != EEXIST) {
				rc = -errno;
				degrade(p, rc, "symlink", b->dst);
				return rc;
			}
			continue;
		}
		if ((rc = make_target(b, dst, sizeof(dst))) < 0) {
			degrade(p, rc, "mount point", b->dst);
			return rc;
		}
		switch (b->kind) {
		case MYCO__BIND:
			fdpath(b->fd, src, sizeof(src));
			if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
				rc = -errno;
				degrade(p, rc, "bind", b->src);
				return rc;
			}
			if (!b->rw && (rc = make_ro(dst, b->dev)) < 0) {
				degrade(p, rc, "read-only", b->src);
				return rc;
			}
			break;
		case MYCO__BIND_TMPFS:
			if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV,
				  b->opts) < 0) {
				rc = -errno;
				degrade(p, rc, "tmpfs", b->dst);
				return rc;
			}
			break;
		case MYCO__BIND_PROC:
			if (mount("proc", dst, "proc",
				  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
				rc = -errno;
				degrade(p, rc, "proc", b->dst);
				return rc;
			}
			break;
		default:
			break;
		}
	}
	if (p->clone_flags & CLONE_NEWPID) {
		if ((rc = harden_proc(STAGE "/proc")) < 0) {
			degrade(p, rc, "read-only", "/proc/sys");
			return rc;
		}
	}
	/* pivot_root(".", "."): the old root ends up on top of the new one
	 * and is detached right away; no put_old directory needed. */
	if (chdir(STAGE) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
		rc = -errno;
		degrade(p, rc, "pivot_root", NULL);
		return rc;
	}
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		rc = -errno;
		degrade(p, rc, "detach old root", NULL);
		return rc;
	}
	/* the staging root itself becomes read-only (non-recursive) */
	mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
	      MS_NODEV, NULL);
	if (missing) {
		myco__s_cpy(dst, sizeof(dst), "minimal root; ");
		myco__s_catu(dst, sizeof(dst), (uint64_t)missing);
		myco__s_cat(dst, sizeof(dst), " declared path(s) missing");
		myco__child_item(p, MYCO__BOX_MOUNT_VIEW, MYCO__BOX_DEGRADED,
				 -ENOENT, dst);
	} else {
		myco__child_item(p, MYCO__BOX_MOUNT_VIEW, MYCO__BOX_APPLIED, 0,
				 "minimal root, declared paths only");
	}
	return 0;
}

/* The host's /dev holds disks a uid-0 process could open (a read-only
 * mount does not stop writes to device nodes): replace it by a tmpfs with
 * the harmless nodes, bound from fds opened before. */
static const char *const dev_nodes[] = {
	"null", "zero", "full", "random", "urandom",
};

static int minimal_dev(const int *fds)
{
	char path[64], src[64];
	int fd;

	if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=0755,size=64k") < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		if (fds[i] < 0)
			continue;
		myco__s_cpy(path, sizeof(path), "/dev/");
		myco__s_cat(path, sizeof(path), dev_nodes[i]);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			return -errno;
		close(fd);
		fdpath(fds[i], src, sizeof(src));
		if (mount(src, path, NULL, MS_BIND, NULL) < 0)
			return -errno;
	}
	return 0;
}

/* A mount point the private /tmp of the host view would hide. */
static bool under_tmp(const char *dst)
{
	return !strncmp(dst, "/tmp/", 5);
}

static int view_host_ro(struct myco__plan *p)
{
	char dst[1100], src[64];
	int rc, devfd[sizeof(dev_nodes) / sizeof(dev_nodes[0])];

	/* rw sources first: the private /tmp below may hide some of them */
	for (int i = 0; i < p->nbinds; i++) {
		struct myco__plan_bind *b = &p->binds[i];

		b->fd = -1;
		if (b->kind == MYCO__BIND && (b->rw || under_tmp(b->dst)))
			b->fd = open(b->src, O_PATH | O_CLOEXEC);
	}
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		myco__s_cpy(dst, sizeof(dst), "/dev/");
		myco__s_cat(dst, sizeof(dst), dev_nodes[i]);
		devfd[i] = open(dst, O_PATH | O_CLOEXEC);
	}
	if ((rc = make_ro("/", false)) < 0) {
		degrade(p, rc, "read-only", "/");
		return rc;
	}
	if ((rc = minimal_dev(devfd)) < 0) {
		degrade(p, rc, "minimal", "/dev");
		return rc;
	}
	/* host daemons' sockets (/run) are not the partition's business */
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0755,size=64k") < 0 && errno != ENOENT) {
		rc = -errno;
		degrade(p, rc, "tmpfs", "/run");
		return rc;
	}
	if ((p->clone_flags & CLONE_NEWPID) &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0) {
		rc = -errno;
		degrade(p, rc, "proc", NULL);
		return rc;
	}
	if ((rc = harden_proc("/proc")) < 0) {
		degrade(p, rc, "read-only", "/proc/sys");
		return rc;
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777,size=64m") < 0) {
		rc = -errno;
		degrade(p, rc, "tmpfs", "/tmp");
		return rc;
	}
	for (int i = 0; i < p->nbinds; i++) {
		struct myco__plan_bind *b = &p->binds[i];

		if (b->kind != MYCO__BIND || (!b->rw && !under_tmp(b->dst)))
			continue;
		if (b->fd < 0) {
			if (!b->rw && b->optional)
				continue;
			degrade(p, -ENOENT, b->rw ? "rw path" : "ro path", b->src);
			return -ENOENT;
		}
		/* under /tmp the mount point must be made in the new tmpfs */
		myco__s_cpy(dst, sizeof(dst), b->dst);
		if (!strncmp(dst, "/tmp/", 5))
			mkdir_p(dst);
		fdpath(b->fd, src, sizeof(src));
		if (mount(src, b->dst, NULL, MS_BIND | MS_REC, NULL) < 0) {
			rc = -errno;
			degrade(p, rc, "rw bind", b->src);
			return rc;
		}
		rc = b->rw ? set_attr(b->dst, 0, MOUNT_ATTR_RDONLY) :
			     make_ro(b->dst, false);
		if (rc < 0) {
			degrade(p, rc, b->rw ? "rw bind" : "ro bind", b->src);
			return rc;
		}
	}
	myco__child_item(p, MYCO__BOX_MOUNT_VIEW, MYCO__BOX_APPLIED, 0,
			 "host tree read-only, declared rw paths writable");
	return 0;
}

int myco__child_mount_view(struct myco__plan *p)
{
	int rc;

	if (!(p->clone_flags & CLONE_NEWNS)) {
		if (p->want & MYCO__BOX_WANT(MYCO__BOX_MOUNT_VIEW))
			myco__child_item(p, MYCO__BOX_MOUNT_VIEW,
					 MYCO__BOX_DEGRADED, -EPERM,
					 "no mount namespace");
		return 0;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		rc = -errno;
		degrade(p, rc, "private mounts", NULL);
		return 0;
	}
	if (!(p->want & MYCO__BOX_WANT(MYCO__BOX_MOUNT_VIEW)) ||
	    p->view == MYCO__BOX_VIEW_NONE) {
		/* still give a PID namespace its own /proc */
		if ((p->clone_flags & CLONE_NEWPID) &&
		    mount("proc", "/proc", "proc",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
			harden_proc("/proc");
		return 0;
	}
	if (p->view == MYCO__BOX_VIEW_HOST_RO)
		view_host_ro(p);
	else
		view_minimal(p);
	/* A failed view leaves the host tree (private mounts): degraded and
	 * reported, not fatal. */
	return 0;
}
