/*
 * exec/box/cgroup.c: cgroups behind one small interface.  v2 when
 * /sys/fs/cgroup is a cgroup2 mount (one hierarchy, controllers enabled
 * through subtree_control), else the v1 controller mounts found in
 * /proc/self/mountinfo (and the hybrid cgroup2 mount for freezing when no v1
 * freezer is mounted).  Partition cgroups live under the caller's own cgroup
 * of each hierarchy: <base>/myco/<system>/<partition>/<instance>.  Also:
 * accounting (myco__box_stats), destroy and stale cleanup.
 * Not for: deciding what to apply (spawn.c) or when to freeze (frame.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "box_int.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct hier {
	char mount[256];        /* mount point, "" = not mounted */
	char own[512];          /* caller's cgroup in it, "/..." */
	bool v2;
};

static struct {
	bool v2;                            /* unified only */
	struct hier h[MYCO__CG_NCTL];       /* per controller (copies) */
} cg;
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

static const char *const ctl_names[MYCO__CG_NCTL] = {
	[MYCO__CG_MEMORY] = "memory", [MYCO__CG_CPU] = "cpu",
	[MYCO__CG_CPUACCT] = "cpuacct", [MYCO__CG_CPUSET] = "cpuset",
	[MYCO__CG_PIDS] = "pids", [MYCO__CG_FREEZER] = "freezer",
};

const char *myco__cg_ctl_name(enum myco__cg_ctl ctl)
{
	return (unsigned)ctl < MYCO__CG_NCTL ? ctl_names[ctl] : "?";
}

/* Is word w in the comma-separated list s? */
static bool in_list(const char *s, const char *w)
{
	size_t n = strlen(w);

	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (l == n && !strncmp(s, w, n))
			return true;
		s = e ? e + 1 : NULL;
	}
	return false;
}

/* The caller's cgroup path in a hierarchy: v1 by controller, v2 by "". */
static void own_cgroup(const char *ctl, char *out, size_t cap)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");

	myco__s_cpy(out, cap, "/");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = '\0';
		if ((nl = strchr(c2 + 1, '\n')))
			*nl = '\0';
		if ((ctl[0] == '\0' && c1[1] == '\0') ||
		    (ctl[0] != '\0' && in_list(c1 + 1, ctl))) {
			myco__s_cpy(out, cap, c2 + 1);
			break;
		}
	}
	fclose(f);
}

static int read_file(const char *dir, const char *file, char *buf,
		     size_t cap);

static void detect_hier(void);

/* MYCO_BOX_CGROUP_BASE="/..." puts every partition cgroup under that path
 * of each hierarchy instead of under the caller's own cgroup. */
static void detect(void)
{
	const char *base = getenv("MYCO_BOX_CGROUP_BASE");

	detect_hier();
	if (!base || base[0] != '/' || strstr(base, ".."))
		return;
	for (int i = 0; i < MYCO__CG_NCTL; i++)
		myco__s_cpy(cg.h[i].own, sizeof(cg.h[i].own), base);
}

static void detect_hier(void)
{
	struct statfs sf;
	char line[2048];
	FILE *f;
	char unified[256] = "";

	const char *root = getenv("MYCO_BOX_CGROUP2");

	memset(&cg, 0, sizeof(cg));
	/* MYCO_BOX_CGROUP2=<cgroup2 mount> forces the one-hierarchy mode
	 * there (tests on a hybrid machine, or a cgroup2 mounted elsewhere) */
	if (!root || !*root || statfs(root, &sf) < 0 ||
	    (unsigned long)sf.f_type != CGROUP2_SUPER_MAGIC)
		root = "/sys/fs/cgroup";
	if (statfs(root, &sf) == 0 &&
	    (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC) {
		char own[512], ctls[512] = "";

		cg.v2 = true;
		own_cgroup("", own, sizeof(own));
		read_file(root, "cgroup.controllers", ctls, sizeof(ctls));
		for (char *c = ctls; *c; c++)
			if (*c == ' ' || *c == '\n')
				*c = ',';
		for (int i = 0; i < MYCO__CG_NCTL; i++) {
			/* cpu.stat and cgroup.freeze are core files: always */
			if (i != MYCO__CG_CPUACCT && i != MYCO__CG_FREEZER &&
			    !in_list(ctls, ctl_names[i]))
				continue;
			myco__s_cpy(cg.h[i].mount, sizeof(cg.h[i].mount), root);
			myco__s_cpy(cg.h[i].own, sizeof(cg.h[i].own), own);
			cg.h[i].v2 = true;
		}
		return;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype src superopts */
		char *sep = strstr(line, " - "), *fields[5], *save = NULL;
		char fstype[64], src[256], sopts[512];
		int n = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 5;
		     t = strtok_r(NULL, " ", &save))
			fields[n++] = t;
		if (n < 5 || sscanf(sep + 3, "%63s %255s %511s", fstype, src,
				    sopts) != 3)
			continue;
		if (!strcmp(fstype, "cgroup2")) {
			myco__s_cpy(unified, sizeof(unified), fields[4]);
			continue;
		}
		if (strcmp(fstype, "cgroup"))
			continue;
		for (int i = 0; i < MYCO__CG_NCTL; i++) {
			if (cg.h[i].mount[0] || !in_list(sopts, ctl_names[i]))
				continue;
			myco__s_cpy(cg.h[i].mount, sizeof(cg.h[i].mount),
				    fields[4]);
			own_cgroup(ctl_names[i], cg.h[i].own,
				   sizeof(cg.h[i].own));
		}
	}
	fclose(f);
	if (!cg.h[MYCO__CG_FREEZER].mount[0] && unified[0]) {
		struct hier *h = &cg.h[MYCO__CG_FREEZER];

		myco__s_cpy(h->mount, sizeof(h->mount), unified);
		own_cgroup("", h->own, sizeof(h->own));
		h->v2 = true;
	}
}

bool myco__cg_is_v2(void)
{
	pthread_once(&cg_once, detect);
	return cg.v2;
}

static const struct hier *hier_of(enum myco__cg_ctl ctl)
{
	pthread_once(&cg_once, detect);
	if ((unsigned)ctl >= MYCO__CG_NCTL || !cg.h[ctl].mount[0])
		return NULL;
	return &cg.h[ctl];
}

int myco__cg_dir(enum myco__cg_ctl ctl, const char *base, const char *rel,
		 char *out, size_t cap)
{
	const struct hier *h = hier_of(ctl);
	int n;

	if (!h)
		return -ENOENT;
	if (!base)
		base = h->own;
	while (*base == '/')
		base++;
	n = snprintf(out, cap, "%s%s%s%s%s", h->mount, *base ? "/" : "", base,
		     rel && *rel ? "/" : "", rel ? rel : "");
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	/* no trailing slash */
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return n;
}

int myco__cg_write(const char *dir, const char *file, const char *val)
{
	char path[MYCO__CG_PATH_MAX];
	int fd, rc = 0;
	size_t len = strlen(val);

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	{
		ssize_t n = write(fd, val, len);

		if (n < 0)
			rc = -errno;
		else if ((size_t)n != len)
			rc = -EIO;
	}
	close(fd);
	return rc;
}

static int read_file(const char *dir, const char *file, char *buf, size_t cap)
{
	char path[MYCO__CG_PATH_MAX];
	int fd;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

int myco__cg_read_u64(const char *dir, const char *file, const char *key,
		      uint64_t *out)
{
	char buf[4096], *p = buf;
	int rc = read_file(dir, file, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	if (key) {
		size_t kl = strlen(key);

		for (p = buf; p && *p; ) {
			if (!strncmp(p, key, kl) && p[kl] == ' ')
				break;
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		if (!p || !*p)
			return -ENOENT;
		p += kl + 1;
	}
	if (!strncmp(p, "max", 3)) {
		*out = UINT64_MAX;
		return 0;
	}
	*out = strtoull(p, NULL, 10);
	return 0;
}

/* Copy a cpuset file from the parent dir if ours is empty (v1). */
static int cpuset_inherit(const char *dir, const char *file)
{
	char parent[MYCO__CG_PATH_MAX], buf[256];
	char *slash;
	int rc;

	rc = read_file(dir, file, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (buf[0] && buf[0] != '\n')
		return 0;
	myco__s_cpy(parent, sizeof(parent), dir);
	slash = strrchr(parent, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	rc = read_file(parent, file, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	return myco__cg_write(dir, file, buf);
}

static int mkdir_walk(const struct hier *h, enum myco__cg_ctl ctl,
		      const char *dir)
{
	char path[MYCO__CG_PATH_MAX];
	size_t ml;
	int rc = 0;

	ml = strlen(h->mount);
	if (strncmp(dir, h->mount, ml) || (dir[ml] != '/' && dir[ml]))
		return -EINVAL;
	if (myco__s_cpy(path, sizeof(path), dir) >= sizeof(path) - 1)
		return -ENAMETOOLONG;
	/* Walk component by component after the mount point. */
	for (size_t i = ml + 1; ; i++) {
		char c = path[i];

		if (c != '/' && c != '\0')
			continue;
		path[i] = '\0';
		if (h->v2 && ctl != MYCO__CG_FREEZER &&
		    ctl != MYCO__CG_CPUACCT) {
			/* enable the controller for the children of the parent */
			char *slash = strrchr(path, '/');
			char add[32];

			*slash = '\0';
			snprintf(add, sizeof(add), "+%s", ctl_names[ctl]);
			if (strlen(path) >= ml)
				rc = myco__cg_write(path, "cgroup.subtree_control",
						    add);
			*slash = '/';
			/* already enabled reads back fine; EBUSY = processes
			 * in an inner node (v2 no-internal-process rule) */
			if (rc < 0 && rc != -ENOENT)
				goto out;
			rc = 0;
		}
		if (mkdir(path, 0755) < 0) {
			if (errno != EEXIST) {
				rc = -errno;
				goto out;
			}
		} else if (!h->v2 && ctl == MYCO__CG_CPUSET) {
			if ((rc = cpuset_inherit(path, "cpuset.cpus")) < 0 ||
			    (rc = cpuset_inherit(path, "cpuset.mems")) < 0)
				goto out;
		}
		if (c == '\0')
			break;
		path[i] = c;
	}
out:
	return rc;
}

int myco__cg_mkdir(enum myco__cg_ctl ctl, const char *dir)
{
	const struct hier *h = hier_of(ctl);
	int rc = -ENOENT;

	if (!h)
		return -ENOENT;
	/* ENOENT: a parent (the shared "myco" level) was removed by another
	 * system's cleanup between two steps; walk again */
	for (int i = 0; i < 5 && rc == -ENOENT; i++)
		rc = mkdir_walk(h, ctl, dir);
	return rc;
}

/* -------------------------------------------------------------- destroy */

/* Visit dir and its sub-cgroups, children first.  fn returns < 0 to stop. */
static int walk_post(const char *dir, int (*fn)(const char *, void *),
		     void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char sub[MYCO__CG_PATH_MAX];

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(sub))
			continue;
		rc = walk_post(sub, fn, arg);
		if (rc < 0)
			break;
	}
	closedir(d);
	if (rc < 0)
		return rc;
	return fn(dir, arg);
}

struct kill_ctx {
	bool v2;
	bool count;             /* first pass: count the processes signalled */
	int killed;
	int left;
};

static int kill_one(const char *dir, void *arg)
{
	struct kill_ctx *k = arg;
	char buf[8192], *p, *save = NULL;

	/* A frozen task handles SIGKILL only once thawed. */
	if (k->v2) {
		myco__cg_write(dir, "cgroup.freeze", "0");
		myco__cg_write(dir, "cgroup.kill", "1");
	} else {
		myco__cg_write(dir, "freezer.state", "THAWED");
	}
	if (read_file(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
		return 0;
	for (p = strtok_r(buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		pid_t pid = (pid_t)strtol(p, NULL, 10);

		if (pid > 1 && kill(pid, SIGKILL) == 0 && k->count)
			k->killed++;
	}
	return 0;
}

static int rmdir_one(const char *dir, void *arg)
{
	struct kill_ctx *k = arg;

	if (rmdir(dir) < 0 && errno != ENOENT)
		k->left++;
	return 0;
}

/* Kill and remove, `tries` passes 5 ms apart (1: one pass, no sleep). */
static int kill_remove_n(const char *dir, bool v2, int tries)
{
	struct kill_ctx k = { .v2 = v2, .count = true };
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct stat st;

	if (stat(dir, &st) < 0)
		return -errno;
	for (int i = 0; i < tries; i++) {
		walk_post(dir, kill_one, &k);
		k.count = false;
		k.left = 0;
		walk_post(dir, rmdir_one, &k);
		if (stat(dir, &st) < 0 && errno == ENOENT)
			return k.killed;
		if (i + 1 < tries)
			nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int myco__cg_kill_remove(const char *dir, bool v2)
{
	return kill_remove_n(dir, v2, 400);       /* 400 x 5 ms = 2 s */
}

/* Every distinct hierarchy dir for rel, deduplicated. */
static int dirs_for(const char *rel, char dirs[][MYCO__CG_PATH_MAX],
		    bool *v2, int max)
{
	int n = 0;

	for (int c = 0; c < MYCO__CG_NCTL && n < max; c++) {
		const struct hier *h = hier_of((enum myco__cg_ctl)c);
		bool dup = false;

		if (!h || myco__cg_dir((enum myco__cg_ctl)c, NULL, rel, dirs[n],
				       MYCO__CG_PATH_MAX) < 0)
			continue;
		for (int j = 0; j < n; j++)
			dup |= !strcmp(dirs[j], dirs[n]);
		if (dup)
			continue;
		v2[n] = h->v2;
		n++;
	}
	return n;
}

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= MYCO__BOX_NAME_MAX || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == '\n')
			return false;
	return true;
}

/* Thaw a cgroup (a write that fails outside the freezer hierarchy). */
static int thaw_one(const char *dir, void *arg)
{
	(void)arg;
	myco__cg_write(dir, "freezer.state", "THAWED");
	myco__cg_write(dir, "cgroup.freeze", "0");
	return 0;
}

static int remove_rel_n(const char *rel, int tries)
{
	char dirs[MYCO__CG_NCTL][MYCO__CG_PATH_MAX];
	bool v2[MYCO__CG_NCTL];
	int n = dirs_for(rel, dirs, v2, MYCO__CG_NCTL);
	int killed = 0, rc = -ENOENT;

	/* Thaw everywhere first: a frozen task acts on SIGKILL only once
	 * thawed, and the freezer is the last hierarchy of the list, so the
	 * others would wait out their whole removal bound for it. */
	for (int i = 0; i < n; i++)
		walk_post(dirs[i], thaw_one, NULL);
	for (int i = 0; i < n; i++) {
		int r = kill_remove_n(dirs[i], v2[i], tries);

		if (r >= 0) {
			killed += r;
			if (rc == -ENOENT)
				rc = 0;
		} else if (r != -ENOENT) {
			rc = r;
		}
	}
	return rc < 0 ? rc : killed;
}

static int remove_rel(const char *rel)
{
	return remove_rel_n(rel, 400);
}

int myco__box_destroy_try(const char *system, const char *partition,
			  const char *instance)
{
	char rel[3 * MYCO__BOX_NAME_MAX + 16];
	int rc;

	if (!name_ok(system) || !name_ok(partition) ||
	    (instance && !name_ok(instance)))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "myco/%s/%s%s%s", system, partition,
		 instance ? "/" : "", instance ? instance : "");
	rc = remove_rel_n(rel, 1);
	return rc < 0 ? rc : 0;
}

int myco__box_destroy(const char *system, const char *partition,
		      const char *instance)
{
	char rel[3 * MYCO__BOX_NAME_MAX + 16];
	int rc;

	if (!name_ok(system) || !name_ok(partition) ||
	    (instance && !name_ok(instance)))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "myco/%s/%s%s%s", system, partition,
		 instance ? "/" : "", instance ? instance : "");
	rc = remove_rel(rel);
	return rc < 0 ? rc : 0;
}

int myco__box_cleanup_stale(const char *system)
{
	char rel[MYCO__BOX_NAME_MAX + 16];
	int rc;

	if (!name_ok(system))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "myco/%s", system);
	rc = remove_rel(rel);
	if (rc == -ENOENT)
		rc = 0;
	/* the shared "myco" level goes when no other system uses it */
	{
		char dirs[MYCO__CG_NCTL][MYCO__CG_PATH_MAX];
		bool v2[MYCO__CG_NCTL];
		int n = dirs_for("myco", dirs, v2, MYCO__CG_NCTL);

		for (int i = 0; i < n; i++)
			rmdir(dirs[i]);
	}
	return rc;
}

/* ------------------------------------------------------------ accounting */

int myco__box_stats(const char *system, const char *partition,
		    const char *instance, struct myco__box_stats *st)
{
	char rel[3 * MYCO__BOX_NAME_MAX + 16], dir[MYCO__CG_PATH_MAX];
	char buf[256];
	bool any = false;
	uint64_t v;

	memset(st, 0, sizeof(*st));
	if (!name_ok(system) || !name_ok(partition) ||
	    (instance && !name_ok(instance)))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "myco/%s/%s%s%s", system, partition,
		 instance ? "/" : "", instance ? instance : "");
	pthread_once(&cg_once, detect);

	if (myco__cg_dir(MYCO__CG_MEMORY, NULL, rel, dir, sizeof(dir)) > 0) {
		if (cg.h[MYCO__CG_MEMORY].v2) {
			any |= myco__cg_read_u64(dir, "memory.current", NULL,
						 &st->memory_bytes) == 0;
			myco__cg_read_u64(dir, "memory.peak", NULL,
					  &st->memory_peak);
			myco__cg_read_u64(dir, "memory.events", "oom_kill",
					  &st->oom_kills);
		} else {
			any |= myco__cg_read_u64(dir, "memory.usage_in_bytes",
						 NULL, &st->memory_bytes) == 0;
			myco__cg_read_u64(dir, "memory.max_usage_in_bytes", NULL,
					  &st->memory_peak);
			myco__cg_read_u64(dir, "memory.oom_control", "oom_kill",
					  &st->oom_kills);
		}
	}
	if (cg.v2 &&
	    myco__cg_dir(MYCO__CG_CPUACCT, NULL, rel, dir, sizeof(dir)) > 0 &&
	    myco__cg_read_u64(dir, "cpu.stat", "usage_usec", &v) == 0) {
		st->cpu_ns = v * 1000;          /* core file, no controller */
		any = true;
	}
	if (myco__cg_dir(MYCO__CG_CPU, NULL, rel, dir, sizeof(dir)) > 0)
		myco__cg_read_u64(dir, "cpu.stat", "nr_throttled",
				  &st->nr_throttled);
	if (!cg.v2 &&
	    myco__cg_dir(MYCO__CG_CPUACCT, NULL, rel, dir, sizeof(dir)) > 0 &&
	    myco__cg_read_u64(dir, "cpuacct.usage", NULL, &v) == 0) {
		st->cpu_ns = v;
		any = true;
	}
	if (myco__cg_dir(MYCO__CG_FREEZER, NULL, rel, dir, sizeof(dir)) > 0) {
		if (cg.h[MYCO__CG_FREEZER].v2) {
			if (myco__cg_read_u64(dir, "cgroup.events", "frozen",
					      &v) == 0) {
				st->frozen = v == 1;
				any = true;
			}
		} else if (read_file(dir, "freezer.state", buf,
				     sizeof(buf)) > 0) {
			st->frozen = !strncmp(buf, "FROZEN", 6);
			any = true;
		}
	}
	return any ? 0 : -ENOENT;
}

/* ------------------------------------------------------------ pure helpers */

void myco__cg_quota(uint64_t runtime_ns, uint64_t period_ns,
		    uint64_t *quota_us, uint64_t *period_us)
{
	uint64_t p = period_ns / 1000, q;

	if (p < 1000)
		p = 1000;
	if (p > 1000000)
		p = 1000000;
	if (!period_ns)
		period_ns = 1;
	q = (uint64_t)((double)runtime_ns * (double)p / (double)period_ns);
	if (q < 1000) {
		/* scale the period up so that the quota reaches 1 ms */
		double ratio = (double)runtime_ns / (double)period_ns;

		if (ratio <= 0)
			ratio = 0.001;
		p = (uint64_t)(1000.0 / ratio + 0.5);
		if (p > 1000000)
			p = 1000000;
		q = (uint64_t)((double)p * ratio + 0.5);
		if (q < 1000)
			q = 1000;
	}
	if (q > p * 64)
		q = p * 64;
	*quota_us = q;
	*period_us = p;
}

int myco__cg_cpulist(uint64_t mask, char *out, size_t cap)
{
	size_t len = 0;
	int n;

	if (cap)
		out[0] = '\0';
	for (int i = 0; i < 64; ) {
		int j = i;

		if (!(mask >> i & 1)) {
			i++;
			continue;
		}
		while (j + 1 < 64 && (mask >> (j + 1) & 1))
			j++;
		if (j == i)
			n = snprintf(out + len, len < cap ? cap - len : 0,
				     "%s%d", len ? "," : "", i);
		else
			n = snprintf(out + len, len < cap ? cap - len : 0,
				     "%s%d-%d", len ? "," : "", i, j);
		if (n < 0 || len + (size_t)n >= cap)
			return -ENAMETOOLONG;
		len += (size_t)n;
		i = j + 1;
	}
	return (int)len;
}
