/*
 * fuzz_segment.c: libFuzzer harness: arbitrary bytes become a partition's
 * segment file(s) (and optionally its offset index), then the store is
 * opened (recovery: validation, tail truncation, index rebuild, producer
 * state rebuild), read back completely, queried by timestamp and appended
 * to.  Must never crash; with a single segment every batch read back must
 * be valid (recovery keeps only whole, CRC-checked batches).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "mkbatch.h"

static char dir[256], pdir[300];

static void put_file(const char *name, const uint8_t *d, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", pdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		abort();
	if (n && write(fd, d, n) != (ssize_t)n)
		abort();
	close(fd);
}

static mls_config cfg(void)
{
	mls_config c;
	mls_config_init(&c);
	c.fsync_policy = MLS_FSYNC_NEVER;
	c.retention_check_ms = 0;
	return c;
}


static char rm_dir[256];
static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}
static void cleanup(void)
{
	nftw(rm_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/myco-fuzz-logstore-%d", base, (int)getpid());
	snprintf(pdir, sizeof(pdir), "%s/f-0", dir);
	snprintf(rm_dir, sizeof(rm_dir), "%s", dir);
	atexit(cleanup);
	mls_config c = cfg();
	mls_store_t *st;
	if (mls_open(dir, &c, &st) != 0)
		abort();
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.index_interval_bytes = 64;
	if (mls_topic_create(st, "f", 1, &tc) != 0)
		abort();
	mls_close(st);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[400];
	uint8_t mode = size ? data[0] : 0;
	size_t split = size > 2 ? (size_t)data[1] * size / 256 : 0;
	bool single = !(mode & 1);

	if (size)
		data++, size--;
	if (split > size)
		split = size;
	snprintf(cmd, sizeof(cmd), "%s", pdir);
	/* clear the partition directory */
	static const char *const names[] = {
		"00000000000000000000.log", "00000000000000000000.index",
		"00000000000000000000.timeindex", "00000000000000000000.snapshot",
		"00000000000000001000.log", "00000000000000001000.index",
		"00000000000000001000.timeindex", "00000000000000001000.snapshot",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", pdir, names[i]);
		unlink(path);
	}
	if (single) {
		put_file(names[0], data, size);
	} else {
		put_file(names[0], data, split);
		put_file(names[4], data + split, size - split);
		if (mode & 2)
			put_file(names[1], data + split / 2, split - split / 2);
		if (mode & 4)
			put_file(names[2], data, split / 3);
		if (mode & 8)
			put_file(names[7], data + split, size - split);
	}

	mls_config c = cfg();
	mls_store_t *st;
	mls_partition_t *p;
	if (mls_open(dir, &c, &st) != 0)
		abort();   /* recovery must always succeed */
	if (mls_partition_get(st, "f", 0, &p) != 0)
		abort();
	mls_offsets o;
	mls_partition_offsets(p, &o);
	static uint8_t buf[1 << 20];
	int64_t from = o.log_start;
	for (int it = 0; it < 64 && from < o.high_watermark; it++) {
		size_t len;
		int64_t hw;
		int rc = mls_read_copy(p, from, sizeof(buf), buf, sizeof(buf), &len, &hw);
		if (rc < 0 || len == 0)
			break;
		int64_t next = from;
		for (size_t pos = 0; pos + 61 <= len;) {
			uint32_t bl = (uint32_t)tb_get(buf + pos + 8, 4);
			if (bl + 12 > len - pos)
				abort();   /* ranges hold whole batches only */
			if (single && mls_batch_validate(buf + pos, bl + 12) != 0)
				abort();
			next = (int64_t)tb_get(buf + pos, 8) + (int64_t)tb_get(buf + pos + 23, 4) + 1;
			pos += bl + 12;
		}
		if (next <= from)
			break;
		from = next;
	}
	int64_t off, ts;
	mls_list_offset(p, 0, &off, &ts);
	mls_list_offset(p, 1700000000000LL, &off, &ts);
	mls_list_offset(p, MLS_MAX_TIMESTAMP, &off, &ts);
	/* still appendable, at the end */
	tb_opts to = tb_default();
	uint8_t b[256];
	size_t n = tb_build(b, &to);
	mls_append_result r;
	if (mls_append(p, b, n, &r) != 0 || r.base_offset != o.log_end)
		abort();
	mls_partition_put(p);
	mls_close(st);
	return 0;
}
