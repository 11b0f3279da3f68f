/*
 * runtime.c: the runtime dir of a running system (default /run/myco/<system>
 * as root, $XDG_RUNTIME_DIR/myco/<system> or /tmp/myco-<uid>/<system>
 * otherwise).  It holds exactly two files: exec.pid (the executive's pid and
 * start time) and control.sock.  A pid file whose process is gone means an
 * executive was killed with -9: we clean what it left (its socket, its
 * partitions' cgroups through exec/box) and take over.
 * It also names the system's cgroup level (s->box_name): the system name for
 * the default runtime dir, else the name plus a hash of the runtime dir, so
 * that two executives of one system name in two runtime dirs (two test runs,
 * two users' copies) never clean up or kill each other's partitions.
 * Not for: the socket protocol (control.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec_int.h"
#include "myco_int.h"
#include "box_glue.h"

int myco__exec_default_base(char *out, size_t cap)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	int n;
	if (geteuid() == 0)
		n = snprintf(out, cap, "/run/myco");
	else if (x && x[0] == '/')
		n = snprintf(out, cap, "%s/myco", x);
	else
		n = snprintf(out, cap, "/tmp/myco-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *q = tmp + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*q = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Start time of pid (field 22 of /proc/pid/stat), 0 if gone. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *q = strrchr(buf, ')');
	if (!q)
		return 0;
	unsigned long long v = 0;
	int field = 2;
	for (char *t = strtok(q + 1, " "); t; t = strtok(NULL, " ")) {
		if (++field == 22) {
			v = strtoull(t, NULL, 10);
			break;
		}
	}
	return v;
}

/* The cgroup level of this system (see the header comment). */
static void box_name(struct ex_system *s)
{
	char real[PATH_MAX];
	uint64_t h;

	if (!s->opt.runtime_dir) {
		snprintf(s->box_name, sizeof(s->box_name), "%s", s->name);
		return;
	}
	if (!realpath(s->dir, real))
		snprintf(real, sizeof(real), "%s", s->dir);
	h = myco__fnv1a64(real, strlen(real));
	/* 8 hex digits and a dash: the name part keeps what fits */
	snprintf(s->box_name, sizeof(s->box_name), "%.*s-%08x",
		 (int)(sizeof(s->box_name) - 10), s->name,
		 (unsigned)(h ^ (h >> 32)));
}

int myco__ex_runtime_prepare(struct ex_system *s)
{
	char base[4096], path[4200];
	int rc;

	if (s->opt.runtime_dir) {
		snprintf(s->dir, sizeof(s->dir), "%s", s->opt.runtime_dir);
	} else {
		rc = myco__exec_default_base(base, sizeof(base));
		if (rc < 0)
			return rc;
		if (snprintf(s->dir, sizeof(s->dir), "%s/%s", base, s->name) >= (int)sizeof(s->dir))
			return -ENAMETOOLONG;
	}
	rc = mkdir_p(s->dir, 0700);
	if (rc < 0) {
		fprintf(stderr, "myco run: runtime dir %s: %s\n", s->dir, strerror(-rc));
		return rc;
	}
	box_name(s);
	snprintf(path, sizeof(path), "%s/exec.pid", s->dir);
	FILE *f = fopen(path, "re");
	if (f) {
		int pid = 0;
		unsigned long long st = 0;
		if (fscanf(f, "%d %llu", &pid, &st) < 1)
			pid = 0;
		fclose(f);
		if (pid > 0 && pid != getpid() && proc_start(pid) == st && st != 0) {
			fprintf(stderr, "myco run: system %s is already running (executive pid %d, runtime dir %s)\n",
				s->name, pid, s->dir);
			return -EEXIST;
		}
		myco__ex_event(s, NULL, "stale-cleanup", -1, -1,
			       "executive pid %d of %s is gone: cleaning what it left", pid, s->dir);
		snprintf(path, sizeof(path), "%s/control.sock", s->dir);
		unlink(path);
	}
	myco__ex_box_stale_cleanup(s);
	snprintf(path, sizeof(path), "%s/exec.pid", s->dir);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d %llu\n", (int)getpid(), proc_start(getpid()));
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

void myco__ex_runtime_remove(struct ex_system *s)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/control.sock", s->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/exec.pid", s->dir);
	unlink(path);
	rmdir(s->dir);
	/* the default base (/run/myco ...) too, when no other system uses it */
	if (!s->opt.runtime_dir && myco__exec_default_base(path, sizeof(path)) == 0)
		rmdir(path);
}
