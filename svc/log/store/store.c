/*
 * store.c: the data directory: lock file, topic metadata (one small file per
 * topic, written atomically), the topic table and partition lookup, the sync
 * thread (group commit for fsync ALWAYS, the interval policy, periodic
 * retention) and durable producer id allocation.  Not for: segment I/O
 * (partition.c, segment.c) or group offsets (groups.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

#define PID_BLOCK 1000
#define TOPIC_META_VERSION 1

void mls_topic_config_init(mls_topic_config *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->segment_bytes = 1LL << 30;
	tc->segment_ms = 7LL * 24 * 3600 * 1000;
	tc->retention_bytes = -1;
	tc->retention_ms = 7LL * 24 * 3600 * 1000;
	tc->index_interval_bytes = 4096;
	tc->max_message_bytes = 1048588;
	tc->timestamp_type = MLS_TS_CREATE_TIME;
	tc->cleanup_policy = MLS_CLEANUP_DELETE;
	tc->delete_retention_ms = 24LL * 3600 * 1000;
}

void mls_config_init(mls_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fsync_policy = MLS_FSYNC_ALWAYS;
	cfg->fsync_interval_ms = 1000;
	cfg->retention_check_ms = 300000;
	mls_topic_config_init(&cfg->topic_defaults);
}

static int topic_config_check(const mls_topic_config *c)
{
	if (c->segment_bytes < 1024 || c->segment_bytes > INT32_MAX ||
	    c->segment_ms < -1 || c->segment_ms == 0 ||
	    c->retention_bytes < -1 || c->retention_ms < -1 ||
	    c->index_interval_bytes < 0 || c->max_message_bytes < MLS_BATCH_HDR ||
	    (c->timestamp_type != MLS_TS_CREATE_TIME &&
	     c->timestamp_type != MLS_TS_LOG_APPEND_TIME) ||
	    c->cleanup_policy < 1 ||
	    c->cleanup_policy > (MLS_CLEANUP_DELETE | MLS_CLEANUP_COMPACT) ||
	    c->compression_type < 0 || c->compression_type > 5 ||
	    c->delete_retention_ms < 0)
		return -EINVAL;
	return 0;
}

int64_t myco__now(struct mls_store *st)
{
	struct timespec ts;
	if (st->cfg.now_ms)
		return st->cfg.now_ms(st->cfg.now_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int myco__fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int mls_topic_name_check(const char *name)
{
	size_t n;
	if (!name)
		return -MYCO_ELOG_BAD_TOPIC;
	n = strlen(name);
	if (n == 0 || n > MLS_TOPIC_NAME_MAX || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -MYCO_ELOG_BAD_TOPIC;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -MYCO_ELOG_BAD_TOPIC;
	}
	return 0;
}

/* ---- durable small files ---------------------------------------------- */

/* Write `len` bytes to path atomically: tmp file, fsync, rename, fsync
 * the directory. */
static int write_atomic(const char *dir, const char *path, const void *data,
                        size_t len)
{
	char tmp[4096];
	int fd, rc = 0;
	const uint8_t *p = data;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = myco__write_full(fd, p, len);
	if (rc < 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	rc = myco__fsync_dir(dir);
out:
	close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void meta_path(char *buf, size_t n, const struct mls_store *st,
                      const char *name)
{
	snprintf(buf, n, "%s/topics/%s.topic", st->dir, name);
}

static int topic_meta_write(struct mls_store *st, const mls__topic *t)
{
	char buf[1024], path[4096], tdir[4096];
	int n = snprintf(buf, sizeof(buf),
		"myco-log-topic %d\nname %s\npartitions %d\nsegment_bytes %" PRId64
		"\nsegment_ms %" PRId64 "\nretention_bytes %" PRId64
		"\nretention_ms %" PRId64 "\nindex_interval_bytes %d\n"
		"max_message_bytes %d\ntimestamp_type %d\ncleanup_policy %d\n"
		"compression_type %d\ndelete_retention_ms %" PRId64 "\n",
		TOPIC_META_VERSION, t->name, t->nparts, t->cfg.segment_bytes,
		t->cfg.segment_ms, t->cfg.retention_bytes, t->cfg.retention_ms,
		t->cfg.index_interval_bytes, t->cfg.max_message_bytes,
		t->cfg.timestamp_type, t->cfg.cleanup_policy, t->cfg.compression_type,
		t->cfg.delete_retention_ms);
	if (n < 0 || (size_t)n + 20 > sizeof(buf))
		return -EINVAL;
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "crc %08x\n",
	              mls_crc32c(0, buf, (size_t)n));
	snprintf(tdir, sizeof(tdir), "%s/topics", st->dir);
	meta_path(path, sizeof(path), st, t->name);
	return write_atomic(tdir, path, buf, (size_t)n);
}

static int topic_meta_read(const char *path, mls__topic *t)
{
	char buf[2048];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int ver = 0;
	unsigned crc = 0;
	char *c;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -MYCO_ELOG_CORRUPT;
	buf[n] = 0;
	c = strstr(buf, "crc ");
	if (!c || sscanf(c, "crc %x", &crc) != 1 ||
	    crc != mls_crc32c(0, buf, (size_t)(c - buf)))
		return -MYCO_ELOG_CORRUPT;
	*c = 0;
	mls_topic_config_init(&t->cfg);
	if (sscanf(buf,
	           "myco-log-topic %d\nname %249s\npartitions %d\n"
	           "segment_bytes %" SCNd64 "\nsegment_ms %" SCNd64
	           "\nretention_bytes %" SCNd64 "\nretention_ms %" SCNd64
	           "\nindex_interval_bytes %d\nmax_message_bytes %d\n"
	           "timestamp_type %d\n",
	           &ver, t->name, &t->nparts, &t->cfg.segment_bytes,
	           &t->cfg.segment_ms, &t->cfg.retention_bytes,
	           &t->cfg.retention_ms, &t->cfg.index_interval_bytes,
	           &t->cfg.max_message_bytes, &t->cfg.timestamp_type) != 10)
		return -MYCO_ELOG_CORRUPT;
	/* added later: absent in files written before (default delete) */
	c = strstr(buf, "\ncleanup_policy ");
	if (c && sscanf(c, "\ncleanup_policy %d", &t->cfg.cleanup_policy) != 1)
		return -MYCO_ELOG_CORRUPT;
	c = strstr(buf, "\ncompression_type ");
	if (c && sscanf(c, "\ncompression_type %d", &t->cfg.compression_type) != 1)
		return -MYCO_ELOG_CORRUPT;
	c = strstr(buf, "\ndelete_retention_ms ");
	if (c && sscanf(c, "\ndelete_retention_ms %" SCNd64, &t->cfg.delete_retention_ms) != 1)
		return -MYCO_ELOG_CORRUPT;
	if (ver != TOPIC_META_VERSION)
		return -MYCO_EVERSION;
	if (mls_topic_name_check(t->name) < 0 || t->nparts < 1 ||
	    t->nparts > MLS_PARTITIONS_MAX || topic_config_check(&t->cfg) < 0)
		return -MYCO_ELOG_CORRUPT;
	return 0;
}

/* ---- topic table (st->mu held) ----------------------------------------- */

static mls__topic *topic_find(struct mls_store *st, const char *name, size_t *idx)
{
	for (size_t i = 0; i < st->ntopics; i++)
		if (!strcmp(st->topics[i]->name, name)) {
			if (idx)
				*idx = i;
			return st->topics[i];
		}
	return NULL;
}

static void topic_free(mls__topic *t, bool close_parts)
{
	if (!t)
		return;
	for (int32_t i = 0; t->parts && i < t->nparts; i++)
		if (t->parts[i]) {
			if (close_parts)
				myco__part_close(t->parts[i]);
			else
				mls_partition_put(t->parts[i]);
		}
	free(t->parts);
	free(t);
}

static int topic_add(struct mls_store *st, mls__topic *t)
{
	if (st->ntopics == st->topics_cap) {
		size_t nc = st->topics_cap ? st->topics_cap * 2 : 16;
		mls__topic **n = realloc(st->topics, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		st->topics = n;
		st->topics_cap = nc;
	}
	st->topics[st->ntopics++] = t;
	return 0;
}

static int topic_open_parts(struct mls_store *st, mls__topic *t, bool create)
{
	t->parts = calloc((size_t)t->nparts, sizeof(*t->parts));
	if (!t->parts)
		return -ENOMEM;
	for (int32_t i = 0; i < t->nparts; i++) {
		int rc = myco__part_open(st, t->name, i, &t->cfg, create,
		                         &t->parts[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int load_topics(struct mls_store *st)
{
	char path[4096];
	DIR *d;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/topics", st->dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	d = opendir(path);
	if (!d)
		return -errno;
	for (struct dirent *de; (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (l < 7 || strcmp(de->d_name + l - 6, ".topic"))
			continue;
		mls__topic *t = calloc(1, sizeof(*t));
		if (!t) {
			rc = -ENOMEM;
			break;
		}
		snprintf(path, sizeof(path), "%s/topics/%s", st->dir, de->d_name);
		rc = topic_meta_read(path, t);
		if (rc == 0)
			rc = topic_open_parts(st, t, false);
		if (rc == 0)
			rc = topic_add(st, t);
		if (rc < 0) {
			topic_free(t, true);
			break;
		}
	}
	closedir(d);
	return rc;
}

/* ---- producer ids ------------------------------------------------------ */

static int pid_load(struct mls_store *st)
{
	char path[4096];
	uint8_t buf[12];
	int fd;

	snprintf(path, sizeof(path), "%s/producer_ids", st->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	st->pid_next = st->pid_limit = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != sizeof(buf) || mls__be32(buf + 8) != mls_crc32c(0, buf, 8))
		return -MYCO_ELOG_CORRUPT;
	st->pid_next = st->pid_limit = (int64_t)mls__be64(buf);
	return st->pid_limit < 0 ? -MYCO_ELOG_CORRUPT : 0;
}

int mls_producer_id_alloc(mls_store_t *st, int64_t *pid)
{
	int rc = 0;
	pthread_mutex_lock(&st->mu);
	if (st->pid_next >= st->pid_limit) {
		char path[4096];
		uint8_t buf[12];
		int64_t lim = st->pid_next + PID_BLOCK;
		mls__put64(buf, (uint64_t)lim);
		mls__put32(buf + 8, mls_crc32c(0, buf, 8));
		snprintf(path, sizeof(path), "%s/producer_ids", st->dir);
		rc = write_atomic(st->dir, path, buf, sizeof(buf));
		if (rc < 0)
			goto out;
		st->pid_limit = lim;
	}
	*pid = st->pid_next++;
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- sync thread ------------------------------------------------------- */

void myco__sync_enqueue(struct mls_store *st, mls_partition_t *p)
{
	pthread_mutex_lock(&st->sync_mu);
	if (!p->queued) {
		p->queued = true;
		atomic_fetch_add(&p->refs, 1);
		p->dirty_next = st->dirty;
		st->dirty = p;
		pthread_cond_signal(&st->sync_cv);
	}
	pthread_mutex_unlock(&st->sync_mu);
}

/* References to every partition (for the interval policy and retention).
 * *out malloc'd; the caller puts each and frees the array. */
static int all_parts(struct mls_store *st, mls_partition_t ***out, size_t *n)
{
	size_t cnt = 0, k = 0;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->ntopics; i++)
		cnt += (size_t)st->topics[i]->nparts;
	*out = calloc(cnt ? cnt : 1, sizeof(**out));
	if (!*out) {
		pthread_mutex_unlock(&st->mu);
		return -ENOMEM;
	}
	for (size_t i = 0; i < st->ntopics; i++)
		for (int32_t j = 0; j < st->topics[i]->nparts; j++) {
			mls_partition_t *p = st->topics[i]->parts[j];
			atomic_fetch_add(&p->refs, 1);
			(*out)[k++] = p;
		}
	pthread_mutex_unlock(&st->mu);
	*n = k;
	return 0;
}

static int sync_all(struct mls_store *st)
{
	mls_partition_t **ps;
	size_t n;
	int rc = all_parts(st, &ps, &n), r;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		r = myco__part_sync(ps[i]);
		if (r < 0 && rc == 0)
			rc = r;
		mls_partition_put(ps[i]);
	}
	free(ps);
	r = myco__groups_sync(st);
	return rc ? rc : r;
}

static int64_t mono_ms(void)
{
	return (int64_t)(myco_now() / 1000000u);
}

static void *sync_thread(void *arg)
{
	struct mls_store *st = arg;
	int64_t next_sync = mono_ms() + st->cfg.fsync_interval_ms;
	int64_t next_ret = st->cfg.retention_check_ms > 0
	                   ? mono_ms() + st->cfg.retention_check_ms : INT64_MAX;

	pthread_mutex_lock(&st->sync_mu);
	for (;;) {
		if (!st->dirty) {
			if (st->stop)
				break;
			int64_t wake = next_ret;
			if (st->cfg.fsync_policy == MLS_FSYNC_INTERVAL && next_sync < wake)
				wake = next_sync;
			if (wake == INT64_MAX) {
				pthread_cond_wait(&st->sync_cv, &st->sync_mu);
			} else {
				struct timespec ts = { (time_t)(wake / 1000),
				                       (long)(wake % 1000) * 1000000 };
				pthread_cond_timedwait(&st->sync_cv, &st->sync_mu, &ts);
			}
		}
		/* take up to 64 queued partitions; dirty_next is only touched
		 * under sync_mu, so a partition may be queued again at once */
		mls_partition_t *batch[64];
		size_t nb = 0;
		while (st->dirty && nb < 64) {
			mls_partition_t *p = st->dirty;
			st->dirty = p->dirty_next;
			p->dirty_next = NULL;
			p->queued = false;
			batch[nb++] = p;
		}
		pthread_mutex_unlock(&st->sync_mu);

		for (size_t i = 0; i < nb; i++) {
			myco__part_sync(batch[i]);
			mls_partition_put(batch[i]);
		}
		int64_t now = mono_ms();
		if (st->cfg.fsync_policy == MLS_FSYNC_INTERVAL && now >= next_sync) {
			sync_all(st);
			next_sync = now + st->cfg.fsync_interval_ms;
		}
		if (now >= next_ret) {
			mls_retention_run(st, -1);
			next_ret = now + st->cfg.retention_check_ms;
		}
		pthread_mutex_lock(&st->sync_mu);
	}
	pthread_mutex_unlock(&st->sync_mu);
	return NULL;
}

/* The log cleaner: compaction runs here, away from the sync thread, so
 * that fsyncs (and the appends waiting for them) never wait for it. */
int mls_compact_run(mls_store_t *st)
{
	mls_partition_t **ps;
	size_t n;
	int total = 0, rc = all_parts(st, &ps, &n);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&st->clean_mu);
	for (size_t i = 0; i < n; i++) {
		int r = myco__part_compact(ps[i], myco__now(st));
		if (r > 0)
			total += r;
		else if (r < 0 && rc == 0)
			rc = r;
		mls_partition_put(ps[i]);
	}
	pthread_mutex_unlock(&st->clean_mu);
	free(ps);
	return rc < 0 ? rc : total;
}

static void *clean_thread(void *arg)
{
	struct mls_store *st = arg;

	pthread_mutex_lock(&st->sync_mu);
	while (!st->stop) {
		int64_t wake = mono_ms() + st->cfg.retention_check_ms;
		struct timespec ts = { (time_t)(wake / 1000), (long)(wake % 1000) * 1000000 };
		pthread_cond_timedwait(&st->clean_cv, &st->sync_mu, &ts);
		if (st->stop)
			break;
		pthread_mutex_unlock(&st->sync_mu);
		int rc = mls_compact_run(st);
		if (rc < 0)
			fprintf(stderr, "myco-logstore: compaction: %s (retried)\n", myco_strerror(rc));
		pthread_mutex_lock(&st->sync_mu);
	}
	pthread_mutex_unlock(&st->sync_mu);
	return NULL;
}

/* ---- open / close ------------------------------------------------------ */

int mls_open(const char *dir, const mls_config *cfg, mls_store_t **out)
{
	struct mls_store *st = calloc(1, sizeof(*st));
	pthread_condattr_t ca;
	char path[4096];
	int rc = 0;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->lock_fd = st->dir_fd = st->gfd = -1;
	if (cfg)
		st->cfg = *cfg;
	else
		mls_config_init(&st->cfg);
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->sync_mu, NULL);
	pthread_mutex_init(&st->gmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->sync_cv, &ca);
	pthread_cond_init(&st->clean_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&st->clean_mu, NULL);
	pthread_cond_init(&st->done_cv, NULL);
	if (st->cfg.fsync_policy < MLS_FSYNC_ALWAYS ||
	    st->cfg.fsync_policy > MLS_FSYNC_NEVER ||
	    (st->cfg.fsync_policy == MLS_FSYNC_INTERVAL &&
	     st->cfg.fsync_interval_ms <= 0) ||
	    st->cfg.retention_check_ms < 0 ||
	    topic_config_check(&st->cfg.topic_defaults) < 0) {
		rc = -EINVAL;
		goto out;
	}
	st->dir = strdup(dir);
	if (!st->dir) {
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/.lock", dir);
	st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (st->lock_fd < 0) {
		rc = -errno;
		goto out;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out;
	}
	rc = pid_load(st);
	if (rc < 0)
		goto out;
	rc = load_topics(st);
	if (rc < 0)
		goto out;
	rc = myco__groups_open(st);
	if (rc < 0)
		goto out;
	rc = -pthread_create(&st->thread, NULL, sync_thread, st);
	if (rc < 0)
		goto out;
	st->thread_started = true;
	if (st->cfg.retention_check_ms > 0) {
		rc = -pthread_create(&st->clean_thread, NULL, clean_thread, st);
		if (rc < 0)
			goto out;
		st->clean_started = true;
	}
	*out = st;
out:
	if (rc < 0)
		mls_close(st);
	return rc;
}

void mls_close(mls_store_t *st)
{
	if (!st)
		return;
	if (st->thread_started) {
		pthread_mutex_lock(&st->sync_mu);
		st->stop = true;
		pthread_cond_signal(&st->sync_cv);
		pthread_cond_signal(&st->clean_cv);
		pthread_mutex_unlock(&st->sync_mu);
		pthread_join(st->thread, NULL);
		if (st->clean_started)
			pthread_join(st->clean_thread, NULL);
	}
	for (size_t i = 0; i < st->ntopics; i++)
		topic_free(st->topics[i], true);
	free(st->topics);
	myco__groups_close(st);
	if (st->lock_fd >= 0)
		close(st->lock_fd);   /* releases the flock */
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->sync_mu);
	pthread_mutex_destroy(&st->gmu);
	pthread_cond_destroy(&st->sync_cv);
	pthread_cond_destroy(&st->clean_cv);
	pthread_mutex_destroy(&st->clean_mu);
	pthread_cond_destroy(&st->done_cv);
	free(st->dir);
	free(st);
}

int mls_sync(mls_store_t *st)
{
	return sync_all(st);
}

int mls_retention_run(mls_store_t *st, int64_t now_ms)
{
	mls_partition_t **ps;
	size_t n;
	int total = 0, rc;

	if (now_ms < 0)
		now_ms = myco__now(st);
	rc = all_parts(st, &ps, &n);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = myco__part_retention(ps[i], now_ms);
		if (rc > 0)
			total += rc;
		mls_partition_put(ps[i]);
	}
	free(ps);
	return total;
}

/* ---- topics API -------------------------------------------------------- */

static void wipe_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(path);
}

int mls_topic_create(mls_store_t *st, const char *name, int32_t partitions,
                     const mls_topic_config *cfg)
{
	mls__topic *t = NULL;
	int rc = mls_topic_name_check(name);

	if (rc < 0)
		return rc;
	if (partitions < 1 || partitions > MLS_PARTITIONS_MAX)
		return -EINVAL;
	if (!cfg)
		cfg = &st->cfg.topic_defaults;
	if (topic_config_check(cfg) < 0)
		return -EINVAL;
	pthread_mutex_lock(&st->mu);
	if (topic_find(st, name, NULL)) {
		rc = -MYCO_ELOG_TOPIC_EXISTS;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->nparts = partitions;
	t->cfg = *cfg;
	/* leftovers of a topic whose deletion was interrupted */
	for (int32_t i = 0; i < partitions; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s-%d", st->dir, name, i);
		wipe_dir(path);
	}
	rc = topic_open_parts(st, t, true);
	if (rc < 0)
		goto out;
	if (st->cfg.fsync_policy != MLS_FSYNC_NEVER)
		myco__fsync_dir(st->dir);
	rc = topic_meta_write(st, t);   /* the commit point */
	if (rc < 0)
		goto out;
	rc = topic_add(st, t);
	if (rc < 0) {
		char path[4096];
		meta_path(path, sizeof(path), st, name);
		unlink(path);
	}
out:
	if (rc < 0 && t) {
		for (int32_t i = 0; t->parts && i < t->nparts; i++)
			if (t->parts[i])
				myco__part_remove_files(t->parts[i]);
		topic_free(t, false);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mls_topic_delete(mls_store_t *st, const char *name)
{
	mls__topic *t;
	size_t idx;
	char path[4096], tdir[4096];
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	t = topic_find(st, name, &idx);
	if (!t) {
		rc = -MYCO_ELOG_NO_TOPIC;
		goto out;
	}
	meta_path(path, sizeof(path), st, name);
	if (unlink(path) < 0) {
		rc = -errno;
		goto out;
	}
	snprintf(tdir, sizeof(tdir), "%s/topics", st->dir);
	myco__fsync_dir(tdir);
	st->topics[idx] = st->topics[--st->ntopics];
	for (int32_t i = 0; i < t->nparts; i++)
		myco__part_remove_files(t->parts[i]);
	topic_free(t, false);
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mls_topic_alter(mls_store_t *st, const char *name, const mls_topic_config *cfg)
{
	mls__topic *t;
	mls_topic_config old;
	int rc;

	if (topic_config_check(cfg) < 0)
		return -EINVAL;
	pthread_mutex_lock(&st->mu);
	t = topic_find(st, name, NULL);
	if (!t) {
		rc = -MYCO_ELOG_NO_TOPIC;
		goto out;
	}
	old = t->cfg;
	t->cfg = *cfg;
	rc = topic_meta_write(st, t);   /* the commit point */
	if (rc < 0) {
		t->cfg = old;
		goto out;
	}
	for (int32_t i = 0; i < t->nparts; i++) {
		mls_partition_t *p = t->parts[i];
		pthread_mutex_lock(&p->mu);
		p->cfg = *cfg;
		p->clean_again = 0;     /* compaction settings may have changed */
		/* read without the lock by the append pre-check */
		__atomic_store_n(&p->cfg.max_message_bytes, cfg->max_message_bytes,
		                 __ATOMIC_RELAXED);
		pthread_mutex_unlock(&p->mu);
	}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mls_topic_add_partitions(mls_store_t *st, const char *name, int32_t partitions)
{
	mls__topic *t;
	mls_partition_t **np;
	int32_t old, i;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	t = topic_find(st, name, NULL);
	if (!t) {
		rc = -MYCO_ELOG_NO_TOPIC;
		goto out;
	}
	old = t->nparts;
	if (partitions <= old || partitions > MLS_PARTITIONS_MAX) {
		rc = -EINVAL;
		goto out;
	}
	np = realloc(t->parts, (size_t)partitions * sizeof(*np));
	if (!np) {
		rc = -ENOMEM;
		goto out;
	}
	t->parts = np;
	for (i = old; i < partitions; i++)
		t->parts[i] = NULL;
	for (i = old; i < partitions && rc == 0; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s-%d", st->dir, name, i);
		wipe_dir(path);          /* leftovers of an interrupted grow */
		rc = myco__part_open(st, t->name, i, &t->cfg, true, &t->parts[i]);
	}
	if (rc == 0) {
		if (st->cfg.fsync_policy != MLS_FSYNC_NEVER)
			myco__fsync_dir(st->dir);
		t->nparts = partitions;
		rc = topic_meta_write(st, t);   /* the commit point */
		if (rc < 0)
			t->nparts = old;
	}
	if (rc < 0)
		for (i = old; i < partitions; i++)
			if (t->parts[i]) {
				myco__part_remove_files(t->parts[i]);
				mls_partition_put(t->parts[i]);
				t->parts[i] = NULL;
			}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mls_topic_describe(mls_store_t *st, const char *name, mls_topic_info *out)
{
	int rc = 0;
	pthread_mutex_lock(&st->mu);
	mls__topic *t = topic_find(st, name, NULL);
	if (!t) {
		rc = -MYCO_ELOG_NO_TOPIC;
	} else {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", t->name);
		out->partitions = t->nparts;
		out->config = t->cfg;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const mls_topic_info *)a)->name,
	              ((const mls_topic_info *)b)->name);
}

int mls_topic_list(mls_store_t *st, mls_topic_info **out, size_t *n)
{
	int rc = 0;
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	if (st->ntopics) {
		*out = calloc(st->ntopics, sizeof(**out));
		if (!*out) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < st->ntopics; i++) {
			snprintf((*out)[i].name, sizeof((*out)[i].name), "%s",
			         st->topics[i]->name);
			(*out)[i].partitions = st->topics[i]->nparts;
			(*out)[i].config = st->topics[i]->cfg;
		}
		*n = st->ntopics;
		qsort(*out, *n, sizeof(**out), cmp_info);
	}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mls_partition_get(mls_store_t *st, const char *topic, int32_t partition,
                      mls_partition_t **out)
{
	int rc = -MYCO_ELOG_NO_TOPIC;
	*out = NULL;
	pthread_mutex_lock(&st->mu);
	mls__topic *t = topic_find(st, topic, NULL);
	if (t && partition >= 0 && partition < t->nparts) {
		*out = t->parts[partition];
		atomic_fetch_add(&(*out)->refs, 1);
		rc = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}
