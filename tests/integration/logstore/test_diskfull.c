/*
 * test_diskfull.c: the store on a full disk.  (1) A 1 MiB tmpfs mounted in
 * a private mount namespace (needs root; skipped with 77 otherwise): fill
 * it with a filler file and appends until -ENOSPC; every acknowledged batch
 * must still read back, failed appends leave nothing, group commits fail
 * cleanly; delete the filler and the same store appends again at the next
 * offset; reopen and check everything.  (2) RLIMIT_FSIZE (any user): the
 * same through -EFBIG, then the limit is raised and appends continue.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

struct acked { int64_t off[4096]; int fill[4096]; size_t n; size_t seen; };

static void check_seen(void *arg, int64_t base, const uint8_t *b, size_t len)
{
	struct acked *a = arg;
	(void)len;
	for (size_t i = 0; i < a->n; i++)
		if (a->off[i] == base) {
			/* first value byte after the record header: the fill */
			CHECK(b[len - 2] == (uint8_t)a->fill[i]);
			a->seen++;
		}
}

static int append_one(mls_partition_t *p, int fill, size_t vlen, int64_t *off)
{
	tb_opts o = tb_default();
	o.value_len = vlen;
	o.fill = (uint8_t)fill;
	uint8_t *buf = malloc(tb_size(&o));
	size_t n = tb_build(buf, &o);
	mls_append_result r;
	int rc = mls_append(p, buf, n, &r);
	free(buf);
	if (rc == 0)
		*off = r.base_offset;
	return rc;
}

/* Append until `want_err`; returns the number acknowledged. */
static void fill_up(mls_partition_t *p, struct acked *a, int want_err, size_t vlen)
{
	int rc = 0;
	for (int i = 0; i < 4000; i++) {
		int64_t off;
		rc = append_one(p, i, vlen, &off);
		if (rc < 0)
			break;
		CHECK(a->n < 4096);
		a->off[a->n] = off;
		a->fill[a->n++] = i;
	}
	if (rc != want_err) {
		fprintf(stderr, "append ended with %d (%s), want %d\n", rc,
		        myco_strerror(rc), want_err);
		exit(1);
	}
	/* further appends keep failing cleanly */
	for (int i = 0; i < 5; i++) {
		int64_t off;
		CHECK_RC(append_one(p, 7, vlen, &off), want_err);
	}
}

static void verify(mls_partition_t *p, struct acked *a)
{
	a->seen = 0;
	int64_t end = it_walk(p, check_seen, a);
	CHECK(a->seen == a->n);
	CHECK(end == a->off[a->n - 1] + 1);
}

static int tmpfs_case(void)
{
	char dir[] = "/tmp/myco-logstore-full-XXXXXX", data[256], filler[256];
	CHECK(mkdtemp(dir));
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=1M") < 0) {
		fprintf(stderr, "diskfull: cannot mount a tmpfs (%s): skipped\n",
		        strerror(errno));
		rmdir(dir);
		return 77;
	}
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	mls_config c;
	mls_store_t *st;
	mls_partition_t *p;
	struct acked *a = calloc(1, sizeof(*a));
	mls_config_init(&c);
	CHECK_RC(mls_open(data, &c, &st), 0);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 128 << 10;
	CHECK_RC(mls_topic_create(st, "full", 1, &tc), 0);
	CHECK_RC(mls_partition_get(st, "full", 0, &p), 0);
	/* filler: 300 KiB */
	int fd = open(filler, O_WRONLY | O_CREAT, 0644);
	char blk[4096];
	memset(blk, 'f', sizeof(blk));
	for (int i = 0; i < 75; i++)
		CHECK(write(fd, blk, sizeof(blk)) == sizeof(blk));
	close(fd);

	fill_up(p, a, -ENOSPC, 3000);
	CHECK(a->n > 10);
	verify(p, a);
	mls_group_offset go = { "full", 0, 1, 5, "x", 0 };
	int grc = 0;
	for (int i = 0; i < 2000 && grc == 0; i++)
		grc = mls_group_commit(st, "g", &go, 1);
	CHECK(grc == -ENOSPC);

	/* space returns */
	CHECK(unlink(filler) == 0);
	int64_t off;
	CHECK_RC(append_one(p, 99, 3000, &off), 0);
	CHECK(off == a->off[a->n - 1] + 1);
	a->off[a->n] = off;
	a->fill[a->n++] = 99;
	CHECK_RC(mls_group_commit(st, "g", &go, 1), 0);
	verify(p, a);
	mls_partition_put(p);
	mls_close(st);

	CHECK_RC(mls_open(data, &c, &st), 0);
	CHECK_RC(mls_partition_get(st, "full", 0, &p), 0);
	verify(p, a);
	int64_t goff;
	CHECK_RC(mls_group_fetch(st, "g", "full", 0, &goff, NULL, NULL), 0);
	CHECK(goff == 5);
	mls_partition_put(p);
	mls_close(st);
	printf("diskfull tmpfs: %zu batches acknowledged before ENOSPC, all kept; appendable after\n",
	       a->n - 1);
	free(a);
	umount(dir);
	rmdir(dir);
	return 0;
}

static int fsize_case(void)
{
	char dir[] = "/tmp/myco-logstore-fsize-XXXXXX";
	struct rlimit old, lim;
	mls_config c;
	mls_store_t *st;
	mls_partition_t *p;
	struct acked *a = calloc(1, sizeof(*a));
	CHECK(mkdtemp(dir));
	signal(SIGXFSZ, SIG_IGN);
	mls_config_init(&c);
	CHECK_RC(mls_open(dir, &c, &st), 0);
	CHECK_RC(mls_topic_create(st, "fs", 1, NULL), 0);
	CHECK_RC(mls_partition_get(st, "fs", 0, &p), 0);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 200 << 10;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	fill_up(p, a, -EFBIG, 1000);
	verify(p, a);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	int64_t off;
	CHECK_RC(append_one(p, 98, 1000, &off), 0);
	CHECK(off == a->off[a->n - 1] + 1);
	a->off[a->n] = off;
	a->fill[a->n++] = 98;
	verify(p, a);
	mls_partition_put(p);
	mls_close(st);
	CHECK_RC(mls_open(dir, &c, &st), 0);
	CHECK_RC(mls_partition_get(st, "fs", 0, &p), 0);
	verify(p, a);
	mls_partition_put(p);
	mls_close(st);
	it_rmtree(dir);
	printf("diskfull rlimit: %zu batches acknowledged before EFBIG, all kept; appendable after\n",
	       a->n - 1);
	free(a);
	return 0;
}

int main(void)
{
	int status, rc1, rc2;
	pid_t k = fork();
	CHECK(k >= 0);
	if (k == 0)
		exit(tmpfs_case());
	waitpid(k, &status, 0);
	rc1 = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	k = fork();
	CHECK(k >= 0);
	if (k == 0)
		exit(fsize_case());
	waitpid(k, &status, 0);
	rc2 = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	if (rc1 != 0 && rc1 != 77)
		return 1;
	if (rc2 != 0)
		return 1;
	return 0;
}
