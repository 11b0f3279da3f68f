/*
 * test_interop.c: the C half of kafka_interop.py: validate every batch file
 * in IN (as kafka-python built them), append them in name order to a fresh
 * store in STORE, check duplicates of idempotent batches are recognised,
 * check record-exact ListOffsets by timestamp on them (compressed too),
 * then read everything back and write batch k to OUT/<k>.  Exit 0 when all
 * went well.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "store_int.h"

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	CHECK(argc == 4);
	char *names[256];
	size_t nn = 0;
	DIR *d = opendir(argv[1]);
	CHECK(d);
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.' && nn < 256)
			names[nn++] = strdup(de->d_name);
	closedir(d);
	qsort(names, nn, sizeof(names[0]), cmp);

	mls_store_t *st;
	mls_partition_t *p;
	mls_config c;
	mls_config_init(&c);
	CHECK_RC(mls_open(argv[3], &c, &st), 0);
	CHECK_RC(mls_topic_create(st, "interop", 1, NULL), 0);
	CHECK_RC(mls_partition_get(st, "interop", 0, &p), 0);
	for (size_t i = 0; i < nn; i++) {
		char path[4096];
		static uint8_t buf[1 << 20], copy[1 << 20];
		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		FILE *f = fopen(path, "rb");
		CHECK(f);
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		CHECK_RC(mls_batch_validate(buf, n), 0);
		memcpy(copy, buf, n);
		mls_append_result r;
		CHECK_RC(mls_append(p, buf, n, &r), 0);
		CHECK(!r.duplicate);
		if ((int64_t)tb_get(copy + 43, 8) >= 0) {
			/* a retry of an idempotent batch is stored once */
			mls_append_result r2;
			CHECK_RC(mls_append(p, copy, n, &r2), 0);
			CHECK(r2.duplicate && r2.base_offset == r.base_offset);
		}
		/* ListOffsets: the first record of this batch by its timestamp */
		int64_t off, ts, t0 = (int64_t)tb_get(copy + 27, 8);
		CHECK_RC(mls_list_offset(p, t0, &off, &ts), 0);
		CHECK(off == r.base_offset);
		/* record exact, compressed batches too (when this build opens
		 * their codec; else their maxTimestamp) */
		bool opened = myco__codec_supported((int)(tb_get(copy + 21, 2) & 7));
		CHECK(ts == (opened ? t0 : (int64_t)tb_get(copy + 35, 8)));
		if (opened && tb_get(copy + 57, 4) > 1) {
			CHECK_RC(mls_list_offset(p, t0 + 1, &off, &ts), 0);
			CHECK(off == r.base_offset + 1);
		}
	}
	/* read back, one file per batch */
	size_t k = 0;
	int64_t from = 0;
	static uint8_t rb[4 << 20];
	for (;;) {
		size_t len;
		int64_t hw;
		CHECK_RC(mls_read_copy(p, from, sizeof(rb), rb, sizeof(rb), &len, &hw), 0);
		if (!len)
			break;
		for (size_t pos = 0; pos < len; k++) {
			size_t bl = (size_t)tb_get(rb + pos + 8, 4) + 12;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%03zu", argv[2], k);
			FILE *f = fopen(path, "wb");
			CHECK(f && fwrite(rb + pos, 1, bl, f) == bl);
			fclose(f);
			from = (int64_t)tb_get(rb + pos, 8) + (int64_t)tb_get(rb + pos + 57, 4);
			pos += bl;
		}
	}
	CHECK(k == nn);
	mls_partition_put(p);
	mls_close(st);
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	return 0;
}
