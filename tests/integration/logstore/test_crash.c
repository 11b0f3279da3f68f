/*
 * test_crash.c: a forked writer appends batches with fsync ALWAYS and
 * reports each acknowledged offset through a pipe; the parent kills it
 * with SIGKILL at a random moment, over and over, and after every kill
 * reopens the store: every acknowledged batch must be there byte for byte,
 * every stored batch valid and contiguous, and the log still appendable.
 * A second writer process uses mls_append_async at the same time on
 * another partition (group commit path).  What kill -9 cannot show: loss
 * of the page cache (power failure); docs/log-storage.md says how fsync
 * covers that.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#ifdef MYCO_SANITIZED
#define ROUNDS 20
#else
#define ROUNDS 60
#endif
#define MAX_ACKS 200000

struct ack { int32_t part; int32_t round; int32_t i; int32_t pad; int64_t off; };

static tb_opts batch_opts(int round, int i)
{
	tb_opts o = tb_default();
	o.nrec = 1 + (i % 4);
	o.value_len = 50 + (size_t)((round * 131 + i * 17) % 900);
	o.fill = (uint8_t)(round * 7 + i);
	o.base_ts = 1700000000000LL + round * 100000 + i;
	o.pid = 5000 + round;   /* a new producer per round */
	o.epoch = 0;
	o.seq = 0;
	for (int k = 0; k < i; k++)
		o.seq += 1 + (k % 4);
	return o;
}

static int open_retry(const char *dir, mls_config *c, mls_store_t **st)
{
	int rc;
	for (int k = 0; k < 200; k++) {
		rc = mls_open(dir, c, st);
		if (rc != -EBUSY)
			return rc;
		usleep(10000);
	}
	return rc;
}

struct async_ack { int fd; struct ack a; mls_append_result r; };

static void on_durable(void *arg, int rc)
{
	struct async_ack *aa = arg;
	aa->a.off = aa->r.base_offset;   /* filled before cb can run */
	if (rc == 0 && write(aa->fd, &aa->a, sizeof(aa->a)) != sizeof(aa->a))
		_exit(3);
	free(aa);
}

struct wctx { mls_store_t *st; int round, part, fd; };

static void *writer(void *arg)
{
	struct wctx *w = arg;
	mls_partition_t *p;
	if (mls_partition_get(w->st, "crash", w->part, &p) != 0)
		_exit(2);
	for (int i = 0;; i++) {
		tb_opts o = batch_opts(w->round, i);
		uint8_t *buf = malloc(tb_size(&o));
		size_t n = tb_build(buf, &o);
		mls_append_result r;
		struct ack a = { w->part, w->round, i, 0, 0 };
		if (w->part == 0) {
			if (mls_append(p, buf, n, &r) != 0)
				_exit(4);
			a.off = r.base_offset;
			if (write(w->fd, &a, sizeof(a)) != sizeof(a))
				_exit(3);
		} else {
			struct async_ack *aa = malloc(sizeof(*aa));
			aa->fd = w->fd;
			aa->a = a;
			int rc = mls_append_async(p, buf, n, &aa->r, on_durable, aa);
			if (rc < 0)
				_exit(4);
			if (rc == 0)
				on_durable(aa, 0);
			if (i % 64 == 63)
				usleep(100);
		}
		free(buf);
	}
	return NULL;
}

/* The child: one store, a thread per partition (sync and async appends). */
static void child(const char *dir, int round, int fd)
{
	mls_config c;
	mls_store_t *st;
	pthread_t th;
	mls_config_init(&c);
	c.fsync_policy = MLS_FSYNC_ALWAYS;
	if (open_retry(dir, &c, &st) != 0)
		_exit(2);
	struct wctx w0 = { st, round, 0, fd }, w1 = { st, round, 1, fd };
	if (pthread_create(&th, NULL, writer, &w1) != 0)
		_exit(2);
	writer(&w0);
}

struct verify { struct ack *acks; size_t n; size_t found; int part; };

static struct ack *find_ack(struct verify *v, int64_t off)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->acks[i].part == v->part && v->acks[i].off == off)
			return &v->acks[i];
	return NULL;
}

static void check_batch(void *arg, int64_t base, const uint8_t *b, size_t len)
{
	struct verify *v = arg;
	struct ack *a = find_ack(v, base);
	if (!a)
		return;   /* written but never acknowledged: allowed */
	tb_opts o = batch_opts(a->round, a->i);
	uint8_t *exp = malloc(tb_size(&o));
	size_t n = tb_build(exp, &o);
	CHECK(n == len);
	CHECK(memcmp(exp + 8, b + 8, n - 8) == 0);
	free(exp);
	v->found++;
}

int main(void)
{
	char dir[] = "/tmp/myco-logstore-crash-XXXXXX";
	struct ack *acks = calloc(MAX_ACKS, sizeof(*acks));
	size_t nacks = 0;
	mls_store_t *st;
	mls_config c;
	CHECK(acks && mkdtemp(dir));
	unsigned seed = getenv("LOGSTORE_SEED") ? (unsigned)atoi(getenv("LOGSTORE_SEED"))
	                : (unsigned)time(NULL) ^ (unsigned)getpid();
	printf("crash: seed %u (LOGSTORE_SEED to repeat)\n", seed);
	fflush(stdout);
	srand(seed);
	mls_config_init(&c);
	CHECK_RC(mls_open(dir, &c, &st), 0);
	mls_topic_config tc;
	mls_topic_config_init(&tc);
	tc.segment_bytes = 64 << 10;  /* rolls happen under the kills */
	tc.index_interval_bytes = 1024;
	CHECK_RC(mls_topic_create(st, "crash", 2, &tc), 0);
	mls_close(st);

	for (int round = 0; round < ROUNDS; round++) {
		int pfd[2];
		pid_t kid;
		CHECK(pipe(pfd) == 0);
		kid = fork();
		CHECK(kid >= 0);
		if (kid == 0) {
			close(pfd[0]);
			child(dir, round, pfd[1]);
			_exit(0);
		}
		close(pfd[1]);
		/* wait for a random number of acks, then a random pause */
		int want = 1 + rand() % 150;
		struct ack a;
		int got = 0;
		while (got < want && read(pfd[0], &a, sizeof(a)) == sizeof(a)) {
			CHECK(nacks < MAX_ACKS);
			acks[nacks++] = a;
			got++;
		}
		usleep((useconds_t)(rand() % 3000));
		kill(kid, SIGKILL);
		int status;
		waitpid(kid, &status, 0);
		CHECK(WIFSIGNALED(status));
		while (read(pfd[0], &a, sizeof(a)) == sizeof(a)) {
			CHECK(nacks < MAX_ACKS);
			acks[nacks++] = a;
		}
		close(pfd[0]);

		CHECK_RC(open_retry(dir, &c, &st), 0);
		for (int part_idx = 0; part_idx < 2; part_idx++) {
			mls_partition_t *p;
			struct verify v = { acks, nacks, 0, part_idx };
			size_t expect = 0;
			CHECK_RC(mls_partition_get(st, "crash", part_idx, &p), 0);
			it_walk(p, check_batch, &v);
			for (size_t i = 0; i < nacks; i++)
				expect += acks[i].part == part_idx;
			if (v.found != expect) {
				fprintf(stderr, "round %d part %d: %zu of %zu acknowledged batches found\n",
				        round, part_idx, v.found, expect);
				return 1;
			}
			/* still appendable */
			tb_opts o = tb_default();
			uint8_t buf[512];
			size_t n = tb_build(buf, &o);
			mls_append_result r;
			CHECK_RC(mls_append(p, buf, n, &r), 0);
			mls_partition_put(p);
		}
		mls_close(st);
	}
	printf("crash: %d kill -9 rounds, %zu acknowledged batches all present\n",
	       ROUNDS, nacks);
	it_rmtree(dir);
	free(acks);
	return 0;
}
