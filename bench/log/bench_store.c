/*
 * bench_store.c: myco-logstore-bench, append and read throughput/latency of
 * the log store against the raw file I/O it is built on, in one run,
 * alternating (store, raw, store, raw ...).  Baseline "raw-file": the same
 * batch bytes pwrite()n to one file under a mutex, with fdatasync() after
 * every write when the policy is always (what a naive log does); reads:
 * pread() of the same bytes.  Compressed batches (gzip, lz4, zstd of
 * text-like 100-byte values): the store validates them by decompressing
 * and checking every record; the raw file writes the same compressed
 * bytes; plus the CPU cost of mls_batch_validate alone per codec.  Not
 * part of the tests.
 *
 *   myco-logstore-bench [--quick] [--json] [--dir DIR]
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "myco/common.h"
#include "store.h"
#if defined(MYCO_LOGSTORE_ZLIB) && defined(MYCO_LOGSTORE_LZ4) && \
    defined(MYCO_LOGSTORE_ZSTD)
#define BENCH_CODECS 1
#include "mkzbatch.h"
#endif

static bool json, quick;
static bool textured;   /* values of varied letters (compressible ~2-3x) */
static char root[512];

static uint64_t now_ns(void)
{
	return myco_now();
}

static size_t varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;
	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

static void be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* A batch of nrec records of 100-byte values (as a producer would send). */
static size_t mkbatch(uint8_t *buf, int nrec)
{
	size_t pos = 61;
	for (int i = 0; i < nrec; i++) {
		uint8_t body[32];
		size_t b = 0;
		body[b++] = 0;
		b += varint(body + b, i);
		b += varint(body + b, i);
		b += varint(body + b, -1);
		b += varint(body + b, 100);
		pos += varint(buf + pos, (int64_t)(b + 100 + 1));
		memcpy(buf + pos, body, b);
		pos += b;
		if (textured) {   /* log-line-like: random words and numbers */
			static uint32_t seed = 1;
			static const char *words[] = {
				"GET ", "POST ", "/api/v1/", "user", "order", "id=",
				"status=", "200 ", "404 ", "ms ", "host-", "level=info ",
				"level=warn ", "\"name\":", "\"value\":", ", ",
			};
			for (int k = 0; k < 100;) {
				seed = seed * 1103515245u + 12345u;
				const char *w = (seed >> 28) < 12 ? words[(seed >> 16) % 16]
				                                  : NULL;
				char num[16];
				if (!w) {
					snprintf(num, sizeof(num), "%u ", (seed >> 8) % 100000);
					w = num;
				}
				for (; *w && k < 100; w++)
					buf[pos + k++] = (uint8_t)*w;
			}
		} else {
			memset(buf + pos, 'v', 100);
		}
		pos += 100;
		buf[pos++] = 0;
	}
	memset(buf, 0, 61);
	be(buf + 8, pos - 12, 4);
	be(buf + 12, (uint64_t)-1, 4);
	buf[16] = 2;
	be(buf + 23, (uint64_t)(nrec - 1), 4);
	be(buf + 27, 1700000000000ull, 8);
	be(buf + 35, 1700000000000ull, 8);
	be(buf + 43, (uint64_t)-1, 8);
	be(buf + 51, (uint64_t)-1, 2);
	be(buf + 53, (uint64_t)-1, 4);
	be(buf + 57, (uint64_t)nrec, 4);
	be(buf + 17, mls_crc32c(0, buf + 21, pos - 21), 4);
	return pos;
}

static int rm_cb(const char *p, const struct stat *sb, int fl, struct FTW *f)
{
	(void)sb; (void)fl; (void)f;
	return remove(p);
}

static void rmtree(const char *d)
{
	nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- one run ----------------------------------------------------------- */

struct run {
	bool raw;
	int policy, threads, nrec, per_thread;
	size_t blen;
	uint8_t *batch;
	mls_partition_t *p;
	int fd;
	off_t off;
	pthread_mutex_t mu;
	uint64_t *lat;   /* per append, thread 0 only */
};

struct targ { struct run *r; int id; };

static void *worker(void *arg)
{
	struct targ *t = arg;
	struct run *r = t->r;
	uint8_t *b = malloc(r->blen);
	for (int i = 0; i < r->per_thread; i++) {
		memcpy(b, r->batch, r->blen);
		uint64_t t0 = now_ns();
		if (r->raw) {
			pthread_mutex_lock(&r->mu);
			if (pwrite(r->fd, b, r->blen, r->off) != (ssize_t)r->blen)
				abort();
			r->off += (off_t)r->blen;
			if (r->policy == MLS_FSYNC_ALWAYS && fdatasync(r->fd) != 0)
				abort();
			pthread_mutex_unlock(&r->mu);
		} else {
			mls_append_result res;
			if (mls_append(r->p, b, r->blen, &res) != 0)
				abort();
		}
		if (t->id == 0 && r->lat)
			r->lat[i] = now_ns() - t0;
	}
	free(b);
	return NULL;
}

/* Returns elapsed seconds. */
static double run_once(struct run *r, int rep)
{
	char dir[700];
	mls_store_t *st = NULL;
	snprintf(dir, sizeof(dir), "%s/%s-%d", root, r->raw ? "raw" : "store", rep);
	mkdir(dir, 0755);
	if (r->raw) {
		char path[800];
		snprintf(path, sizeof(path), "%s/raw.log", dir);
		r->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		r->off = 0;
		pthread_mutex_init(&r->mu, NULL);
	} else {
		mls_config c;
		mls_config_init(&c);
		c.fsync_policy = r->policy;
		if (mls_open(dir, &c, &st) != 0 ||
		    mls_topic_create(st, "bench", 1, NULL) != 0 ||
		    mls_partition_get(st, "bench", 0, &r->p) != 0)
			abort();
	}
	pthread_t th[16];
	struct targ ta[16];
	uint64_t t0 = now_ns();
	for (int i = 0; i < r->threads; i++) {
		ta[i] = (struct targ){ r, i };
		pthread_create(&th[i], NULL, worker, &ta[i]);
	}
	for (int i = 0; i < r->threads; i++)
		pthread_join(th[i], NULL);
	double secs = (double)(now_ns() - t0) / 1e9;
	if (r->raw) {
		close(r->fd);
		pthread_mutex_destroy(&r->mu);
	} else {
		mls_partition_put(r->p);
		mls_close(st);
	}
	rmtree(dir);
	return secs;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int cmp_u(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static const char *pol_name(int p)
{
	return p == MLS_FSYNC_ALWAYS ? "always" : p == MLS_FSYNC_NEVER ? "never" : "interval";
}

static void emit(const char *bench, const char *sys, const char *metric,
                 double v, const char *unit, const struct run *r)
{
	if (json)
		printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\",\"value\":%.1f,"
		       "\"unit\":\"%s\",\"batch_bytes\":%zu,\"records\":%d,\"threads\":%d,\"fsync\":\"%s\"}\n",
		       bench, sys, metric, v, unit, r->blen, r->nrec, r->threads,
		       pol_name(r->policy));
}

static const char *codec_name(int c)
{
	static const char *n[] = { "none", "gzip", "snappy", "lz4", "zstd" };
	return c >= 0 && c <= 4 ? n[c] : "?";
}

/* The batch to append: uncompressed, or its records compressed. */
static size_t mkbatch_codec(uint8_t *batch, size_t cap, int nrec, int codec)
{
	textured = codec != 0;
	size_t blen = mkbatch(batch, nrec);
	textured = false;
	if (codec == 0)
		return blen;
#ifdef BENCH_CODECS
	uint8_t *tmp = malloc(blen);
	if (!tmp)
		abort();
	memcpy(tmp, batch, blen);
	blen = tz_compress(tmp, blen, codec, batch, cap);
	free(tmp);
	if (blen == 0 || mls_batch_validate(batch, blen) != 0)
		abort();
	return blen;
#else
	(void)cap;
	abort();
#endif
}

static void scenario_codec(int policy, int threads, int nrec, int appends,
                           int reps, int codec)
{
	static uint8_t batch[1 << 20];
	struct run rs[2];
	double mbps[2][16];
	uint64_t *lat[2];
	size_t nlat[2] = { 0, 0 };
	size_t blen = mkbatch_codec(batch, sizeof(batch), nrec, codec);

	for (int s = 0; s < 2; s++) {
		lat[s] = calloc((size_t)appends * (size_t)reps, sizeof(uint64_t));
		rs[s] = (struct run){ .raw = s == 1, .policy = policy,
			.threads = threads, .nrec = nrec,
			.per_thread = appends / threads, .blen = blen, .batch = batch };
	}
	for (int rep = 0; rep < reps; rep++)
		for (int s = 0; s < 2; s++) {      /* alternate store, raw */
			struct run *r = &rs[s];
			uint64_t *l = calloc((size_t)r->per_thread, sizeof(uint64_t));
			r->lat = l;
			double secs = run_once(r, rep);
			mbps[s][rep] = (double)blen * r->per_thread * threads / secs / 1e6;
			memcpy(lat[s] + nlat[s], l, (size_t)r->per_thread * sizeof(uint64_t));
			nlat[s] += (size_t)r->per_thread;
			free(l);
			r->lat = NULL;
		}
	const char *sys[2] = { "myco-logstore", "raw-file" };
	char bench[64];
	if (codec)
		snprintf(bench, sizeof(bench), "logstore.append.%s", codec_name(codec));
	else
		snprintf(bench, sizeof(bench), "logstore.append");
	if (!json)
		printf("\nappend, fsync %s, %d thread(s), batch %zu B (%d x 100 B records%s%s), %d appends x %d reps\n"
		       "  %-14s %10s %10s %10s %12s %10s %10s %10s %10s\n",
		       pol_name(policy), threads, blen, nrec,
		       codec ? ", compressed " : "", codec ? codec_name(codec) : "",
		       appends, reps, "system",
		       "MB/s med", "min", "max", "batches/s", "p50 us", "p99 us",
		       "p99.9 us", "max us");
	double med[2];
	for (int s = 0; s < 2; s++) {
		qsort(mbps[s], (size_t)reps, sizeof(double), cmp_d);
		qsort(lat[s], nlat[s], sizeof(uint64_t), cmp_u);
		med[s] = mbps[s][reps / 2];
		double p50 = (double)lat[s][nlat[s] / 2] / 1e3;
		double p99 = (double)lat[s][nlat[s] * 99 / 100] / 1e3;
		double p999 = (double)lat[s][nlat[s] * 999 / 1000] / 1e3;
		double mx = (double)lat[s][nlat[s] - 1] / 1e3;
		if (!json)
			printf("  %-14s %10.1f %10.1f %10.1f %12.0f %10.1f %10.1f %10.1f %10.1f\n",
			       sys[s], med[s], mbps[s][0], mbps[s][reps - 1],
			       med[s] * 1e6 / (double)blen, p50, p99, p999, mx);
		emit(bench, sys[s], "throughput", med[s], "MB/s", &rs[s]);
		emit(bench, sys[s], "p50", p50, "us", &rs[s]);
		emit(bench, sys[s], "p99", p99, "us", &rs[s]);
		emit(bench, sys[s], "p999", p999, "us", &rs[s]);
		emit(bench, sys[s], "max", mx, "us", &rs[s]);
		free(lat[s]);
	}
	if (!json)
		printf("  ratio store/raw throughput: %.2f\n", med[0] / med[1]);
}

static void scenario(int policy, int threads, int nrec, int appends, int reps)
{
	scenario_codec(policy, threads, nrec, appends, reps, 0);
}

/* CPU cost of mls_batch_validate alone (no I/O) per codec, same records. */
static void validate_cost(int nrec, int iters, int reps)
{
	static uint8_t batch[1 << 20];
	static const int codecs[] = { 0, 1, 3, 4 };
	if (!json)
		printf("\nmls_batch_validate alone, %d x 100 B text-like records, %d calls x %d reps\n"
		       "  %-8s %10s %12s %12s %16s\n", nrec, iters, reps, "codec",
		       "batch B", "ns/batch med", "min", "records MB/s med");
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
#ifndef BENCH_CODECS
		if (codecs[c])
			continue;
#endif
		textured = true;
		size_t raw = mkbatch(batch, nrec) - 61;
		textured = false;
		size_t blen = codecs[c] ? mkbatch_codec(batch, sizeof(batch), nrec, codecs[c])
		                        : raw + 61;
		if (codecs[c] == 0) {       /* same text-like values, uncompressed */
			textured = true;
			mkbatch(batch, nrec);
			textured = false;
		}
		double ns[16];
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = now_ns();
			for (int i = 0; i < iters; i++)
				if (mls_batch_validate(batch, blen) != 0)
					abort();
			ns[r] = (double)(now_ns() - t0) / iters;
		}
		qsort(ns, (size_t)reps, sizeof(double), cmp_d);
		double med = ns[reps / 2];
		if (!json)
			printf("  %-8s %10zu %12.0f %12.0f %16.1f\n", codec_name(codecs[c]),
			       blen, med, ns[0], (double)raw / med * 1e3);
		else
			printf("{\"bench\":\"logstore.validate\",\"system\":\"myco-logstore\","
			       "\"metric\":\"ns_per_batch\",\"value\":%.1f,\"unit\":\"ns\","
			       "\"codec\":\"%s\",\"batch_bytes\":%zu,\"records\":%d}\n",
			       med, codec_name(codecs[c]), blen, nrec);
	}
}

/* Read everything back: mls_read_copy vs pread of the raw file. */
static void read_scenario(int nrec, int appends, int reps)
{
	static uint8_t batch[1 << 20];
	size_t blen = mkbatch(batch, nrec);
	char dir[700], path[800];
	mls_store_t *st;
	mls_partition_t *p;
	mls_config c;
	mls_config_init(&c);
	c.fsync_policy = MLS_FSYNC_NEVER;
	snprintf(dir, sizeof(dir), "%s/read", root);
	if (mls_open(dir, &c, &st) != 0 || mls_topic_create(st, "r", 1, NULL) != 0 ||
	    mls_partition_get(st, "r", 0, &p) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/raw.log", root);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t *b = malloc(blen);
	for (int i = 0; i < appends; i++) {
		mls_append_result r;
		memcpy(b, batch, blen);
		if (mls_append(p, b, blen, &r) != 0 ||
		    pwrite(fd, batch, blen, (off_t)blen * i) != (ssize_t)blen)
			abort();
	}
	size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	double mb[2][16];
	for (int rep = 0; rep < reps; rep++) {
		for (int s = 0; s < 2; s++) {
			uint64_t t0 = now_ns();
			size_t total = 0;
			if (s == 0) {
				int64_t from = 0;
				for (;;) {
					size_t len;
					int64_t hw;
					if (mls_read_copy(p, from, cap, buf, cap, &len, &hw) != 0)
						abort();
					if (!len)
						break;
					total += len;
					from += (int64_t)(len / blen) * nrec;
				}
			} else {
				off_t off = 0;
				for (;;) {
					ssize_t n = pread(fd, buf, cap - cap % blen, off);
					if (n <= 0)
						break;
					total += (size_t)n;
					off += n;
				}
			}
			mb[s][rep] = (double)total / ((double)(now_ns() - t0) / 1e9) / 1e6;
		}
	}
	const char *sys[2] = { "myco-logstore", "raw-pread" };
	if (!json)
		printf("\nread back %d batches of %zu B (page cache), 1 MiB reads, %d reps\n"
		       "  %-14s %10s %10s %10s\n", appends, blen, reps, "system",
		       "MB/s med", "min", "max");
	struct run r = { .blen = blen, .nrec = nrec, .threads = 1, .policy = MLS_FSYNC_NEVER };
	double med[2];
	for (int s = 0; s < 2; s++) {
		qsort(mb[s], (size_t)reps, sizeof(double), cmp_d);
		med[s] = mb[s][reps / 2];
		if (!json)
			printf("  %-14s %10.0f %10.0f %10.0f\n", sys[s], med[s], mb[s][0],
			       mb[s][reps - 1]);
		emit("logstore.read", sys[s], "throughput", med[s], "MB/s", &r);
	}
	if (!json)
		printf("  ratio store/raw: %.2f\n", med[0] / med[1]);
	free(b);
	free(buf);
	close(fd);
	mls_partition_put(p);
	mls_close(st);
}

int main(int argc, char **argv)
{
	const char *base = "/tmp";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			base = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--json] [--dir DIR]\n", argv[0]);
			return 2;
		}
	}
	snprintf(root, sizeof(root), "%s/myco-logstore-bench-%d", base, (int)getpid());
	if (mkdir(root, 0755) < 0) {
		perror(root);
		return 1;
	}
	struct utsname u;
	uname(&u);
	char cpu[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "model name", 10)) {
				char *c = strchr(line, ':');
				snprintf(cpu, sizeof(cpu), "%.200s", c ? c + 2 : line);
				cpu[strcspn(cpu, "\n")] = 0;
				break;
			}
		fclose(f);
	}
	if (!json)
		printf("myco-logstore-bench: cpu %s, %ld cpus, kernel %s, dir %s, no pinning\n"
		       "baseline raw-file: pwrite of the same bytes to one file under a mutex "
		       "(+ fdatasync per write when fsync always)\n",
		       cpu, sysconf(_SC_NPROCESSORS_ONLN), u.release, base);
	int reps = quick ? 3 : 5;
	int n = quick ? 300 : 1000;
	scenario(MLS_FSYNC_ALWAYS, 1, 10, n, reps);
	scenario(MLS_FSYNC_ALWAYS, 4, 10, n * 2, reps);
	scenario(MLS_FSYNC_NEVER, 1, 10, n * 20, reps);
	scenario(MLS_FSYNC_NEVER, 1, 100, n * 4, reps);
	read_scenario(100, quick ? 1000 : 4000, reps);
#ifdef BENCH_CODECS
	for (int c = 1; c <= 4; c++)
		if (c != 2)
			scenario_codec(MLS_FSYNC_NEVER, 1, 100, n * 4, reps, c);
#endif
	validate_cost(100, quick ? 2000 : 10000, reps);
	rmtree(root);
	return 0;
}
