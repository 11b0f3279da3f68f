/*
 * partition.c: one topic-partition: its list of segments, append (validate,
 * idempotent-producer rules, roll, write, index), read as (fd, offset,
 * length) ranges, ListOffsets, retention, the durable high watermark, and
 * recovery on open.  Every field of struct mls_partition is guarded by
 * p->mu; fdatasync runs without it (myco__part_sync).  Not for: topic
 * metadata or the sync thread (store.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

static mls__segment *active(mls_partition_t *p)
{
	return p->segs[p->nsegs - 1];
}

static int segs_push(mls_partition_t *p, mls__segment *s)
{
	if (p->nsegs == p->segs_cap) {
		size_t nc = p->segs_cap ? p->segs_cap * 2 : 8;
		mls__segment **n = realloc(p->segs, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->segs = n;
		p->segs_cap = nc;
	}
	p->segs[p->nsegs++] = s;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int (*myco__logstore_fsync_fault)(int fd);

static int do_fdatasync(int fd)
{
	int r;
	if (myco__logstore_fsync_fault) {
		r = myco__logstore_fsync_fault(fd);
		if (r < 0)
			return r;
	}
	do
		r = fdatasync(fd);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

/* ftruncate / fdatasync of a segment's .log file through the fd cache. */
static int seg_ftruncate(mls__segment *s, int64_t len)
{
	int fd = myco__seg_fd_get(s), rc;

	if (fd < 0)
		return fd;
	rc = ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
	myco__seg_fd_put(s);
	return rc;
}

static int seg_fdatasync(mls__segment *s)
{
	int fd = myco__seg_fd_get(s), rc;

	if (fd < 0)
		return fd;
	rc = do_fdatasync(fd);
	myco__seg_fd_put(s);
	return rc;
}

/* ---- producer state rebuild ------------------------------------------- */

static int ps_apply(void *arg, const mls_batch_header *b, int64_t pos,
                    const uint8_t *data, size_t len)
{
	(void)pos; (void)data; (void)len;
	return myco__pstate_update(arg, b, b->base_offset, b->max_ts);
}

/* Rebuild p->ps from the newest usable snapshot plus a walk of the
 * segments after it (Kafka's approach).  Called with p->mu held. */
static int pstate_rebuild(mls_partition_t *p)
{
	size_t from = 0;
	int rc = 0;

	myco__pstate_clear(&p->ps);
	for (size_t i = p->nsegs; i-- > 0;) {
		char path[4096];
		int64_t off;
		myco__seg_path(path, p->dir, p->segs[i]->base, "snapshot");
		if (access(path, F_OK) != 0)
			continue;
		rc = myco__pstate_load(&p->ps, path, &off);
		if (rc == 0 && off == p->segs[i]->base) {
			from = i;
			goto walk;
		}
		myco__pstate_clear(&p->ps);
		rc = 0;
	}
	from = 0;
walk:
	for (size_t i = from; i < p->nsegs; i++) {
		rc = myco__seg_walk(p->segs[i], ps_apply, &p->ps);
		if (rc < 0)
			break;
	}
	return rc;
}

/* ---- log start checkpoint (mls_delete_records) --------------------------- */

#define LOG_START_FILE "log-start"

/* The log start kept in DIR/log-start ("%lld\n" then "crc %08x\n"), or -1
 * when there is none or it is damaged (the first segment's base rules). */
static int64_t log_start_load(mls_partition_t *p)
{
	char path[4096], buf[96];
	long long v;
	unsigned crc;
	ssize_t n;
	char *c;
	int fd;

	snprintf(path, sizeof(path), "%s/" LOG_START_FILE, p->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	c = strstr(buf, "crc ");
	if (!c || sscanf(c, "crc %x", &crc) != 1 ||
	    crc != mls_crc32c(0, buf, (size_t)(c - buf)) ||
	    sscanf(buf, "%lld\n", &v) != 1 || v < 0 || v > MLS_MAX_STORED_OFFSET)
		return -1;
	return (int64_t)v;
}

/* Write DIR/log-start atomically (tmp, fsync, rename, fsync dir). */
static int log_start_save(mls_partition_t *p, int64_t v)
{
	char path[4096], tmp[4200], buf[96];
	int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)v);
	int fd, rc;

	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "crc %08x\n",
	              mls_crc32c(0, buf, (size_t)n));
	snprintf(path, sizeof(path), "%s/" LOG_START_FILE, p->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = myco__write_full(fd, buf, (size_t)n);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		myco__fsync_dir(p->dir);
	else
		unlink(tmp);
	return rc;
}

int mls_delete_records(mls_partition_t *p, int64_t offset, int64_t *low_watermark)
{
	int rc = 0;
	size_t drop = 0;

	pthread_mutex_lock(&p->mu);
	if (p->deleted) {
		rc = -MYCO_ELOG_NO_TOPIC;
		goto out;
	}
	if (offset == -1)
		offset = p->hw;
	if (offset < 0 || offset > p->hw) {
		rc = -MYCO_ELOG_OFFSET_RANGE;
		goto out;
	}
	if (offset <= p->log_start)
		goto out;
	rc = log_start_save(p, offset);          /* durable first */
	if (rc < 0)
		goto out;
	p->log_start = offset;
	/* whole segments below the new start go (never the active one) */
	while (drop + 1 < p->nsegs && p->segs[drop]->next_offset <= offset)
		drop++;
	for (size_t i = 0; i < drop; i++) {
		myco__seg_unlink(p->segs[i]);
		myco__seg_unref(p->segs[i]);
	}
	if (drop) {
		memmove(&p->segs[0], &p->segs[drop], (p->nsegs - drop) * sizeof(p->segs[0]));
		p->nsegs -= drop;
	}
	myco__pstate_truncate_head(&p->ps, p->log_start);
out:
	if (low_watermark)
		*low_watermark = p->log_start;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* ---- open / recovery --------------------------------------------------- */

int myco__part_open(struct mls_store *st, const char *topic, int32_t index,
                    const mls_topic_config *cfg, bool create,
                    mls_partition_t **out)
{
	mls_partition_t *p = calloc(1, sizeof(*p));
	DIR *d = NULL;
	int64_t *bases = NULL;
	size_t nb = 0, capb = 0;
	int64_t now = myco__now(st);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	p->st = st;
	p->index = index;
	p->cfg = *cfg;
	pthread_mutex_init(&p->mu, NULL);
	myco__pstate_init(&p->ps);
	p->waiters_tail = &p->waiters;
	atomic_init(&p->refs, 1);
	p->topic = strdup(topic);
	if (!p->topic || asprintf(&p->dir, "%s/%s-%d", st->dir, topic, index) < 0) {
		p->dir = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (mkdir(p->dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	p->clean_again = INT64_MAX;
	myco__compact_leftovers(p->dir);
	d = opendir(p->dir);
	if (!d) {
		rc = -errno;
		goto out;
	}
	for (struct dirent *de; (de = readdir(d));) {
		char *end;
		size_t l = strlen(de->d_name);
		if (l == 24 && strcmp(de->d_name + 20, ".log") == 0) {
			long long v = strtoll(de->d_name, &end, 10);
			if (end != de->d_name + 20 || v < 0 ||
			    v > MLS_MAX_STORED_OFFSET)
				continue;
			if (nb == capb) {
				capb = capb ? capb * 2 : 16;
				int64_t *n = realloc(bases, capb * sizeof(*n));
				if (!n) {
					rc = -ENOMEM;
					goto out;
				}
				bases = n;
			}
			bases[nb++] = v;
		} else if (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0) {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	if (nb)
		qsort(bases, nb, sizeof(*bases), cmp_i64);
	for (size_t i = 0; i < nb; i++) {
		mls__segment *s;
		rc = myco__seg_open(p->dir, bases[i], now, &s);
		if (rc < 0)
			goto out;
		rc = segs_push(p, s);
		if (rc < 0) {
			myco__seg_unref(s);
			goto out;
		}
		if (i + 1 < nb) {
			if (myco__seg_load_index(s, bases[i + 1],
			                         p->cfg.index_interval_bytes) < 0) {
				/* missing or damaged indexes: rebuild them */
				rc = myco__seg_scan(s, false, p->cfg.index_interval_bytes,
				                    -1, NULL, NULL);
				if (rc < 0)
					goto out;
				myco__seg_write_index(s);
				rc = 0;
			}
		} else {
			/* the last segment: validate every batch, cut the tail */
			rc = myco__seg_scan(s, true, p->cfg.index_interval_bytes,
			                    -1, NULL, NULL);
			if (rc < 0)
				goto out;
			if (rc == 1) {
				rc = seg_ftruncate(s, s->size);
				if (rc < 0)
					goto out;
				seg_fdatasync(s);
			}
			rc = myco__seg_write_index(s);
			if (rc < 0)
				goto out;
		}
	}
	if (p->nsegs == 0) {
		/* a new partition, or (create false) its directory was lost:
		 * the log starts again at offset 0 */
		mls__segment *s;
		(void)create;
		rc = myco__seg_create(p->dir, 0, now, &s);
		if (rc < 0)
			goto out;
		rc = segs_push(p, s);
		if (rc < 0) {
			myco__seg_unref(s);
			goto out;
		}
		myco__fsync_dir(p->dir);
	}
	/* a segment ending before the next one's base is fine (gap); one
	 * overlapping it means the next base is authoritative */
	for (size_t i = 0; i + 1 < p->nsegs; i++)
		if (p->segs[i]->next_offset > p->segs[i + 1]->base)
			p->segs[i]->next_offset = p->segs[i + 1]->base;
	p->log_start = p->segs[0]->base;
	p->leo = active(p)->next_offset;
	if (p->leo < active(p)->base)
		p->leo = active(p)->base;
	p->hw = p->leo;
	{
		/* a log start moved by mls_delete_records inside a segment */
		int64_t ls = log_start_load(p);
		if (ls > p->log_start && ls <= p->leo)
			p->log_start = ls;
	}
	rc = pstate_rebuild(p);
	if (rc < 0)
		goto out;
	rc = myco__txn_rebuild(p);
	if (rc < 0)
		goto out;
	if (active(p)->roll_ts < 0)
		active(p)->created_ms = now;
out:
	if (d)
		closedir(d);
	free(bases);
	if (rc < 0) {
		myco__part_close(p);
		p = NULL;
	}
	*out = p;
	return rc;
}

/* Free everything (refs reached 0 or open failed). */
static void part_free(mls_partition_t *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		myco__seg_unref(p->segs[i]);
	free(p->segs);
	myco__pstate_clear(&p->ps);
	myco__txn_free(p);
	pthread_mutex_destroy(&p->mu);
	free(p->topic);
	free(p->dir);
	free(p);
}

void myco__part_close(mls_partition_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->nsegs && !p->deleted) {
		mls__segment *s = active(p);
		seg_fdatasync(s);
		myco__seg_write_index(s);
		s->visible = s->size;
		p->hw = p->leo;
	}
	pthread_mutex_unlock(&p->mu);
	mls_partition_put(p);
}

void mls_partition_put(mls_partition_t *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		part_free(p);
}

void myco__part_remove_files(mls_partition_t *p)
{
	pthread_mutex_lock(&p->mu);
	p->deleted = true;
	for (size_t i = 0; i < p->nsegs; i++)
		myco__seg_unlink(p->segs[i]);
	myco__compact_leftovers(p->dir);
	DIR *d = opendir(p->dir);
	if (d) {
		for (struct dirent *de; (de = readdir(d));)
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(p->dir);
	pthread_mutex_unlock(&p->mu);
}

const char *mls_partition_topic(const mls_partition_t *p)
{
	return p->topic;
}

int32_t mls_partition_index(const mls_partition_t *p)
{
	return p->index;
}

int mls_partition_offsets(mls_partition_t *p, mls_offsets *o)
{
	pthread_mutex_lock(&p->mu);
	o->log_start = p->log_start;
	o->high_watermark = p->hw;
	o->log_end = p->leo;
	o->size_bytes = 0;
	for (size_t i = 0; i < p->nsegs; i++)
		o->size_bytes += p->segs[i]->size;
	o->segments = (int32_t)p->nsegs;
	o->last_stable = myco__txn_lso(p);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* ---- append ------------------------------------------------------------ */

/* Roll: make the active segment final and start a new one at p->leo.
 * Called with p->mu held.  On failure the old segment stays active. */
static int roll(mls_partition_t *p, int64_t now)
{
	mls__segment *old = active(p), *s = NULL;
	char path[4096];
	int rc;

	if (p->st->cfg.fsync_policy != MLS_FSYNC_NEVER) {
		rc = seg_fdatasync(old);
		if (rc < 0)
			return rc;
	}
	/* the final time index entry (Kafka does the same at roll) */
	if (old->max_ts >= 0 &&
	    (old->tidx_n == 0 || old->max_ts > old->tidx[old->tidx_n - 1].ts)) {
		mls__tentry *n = realloc(old->tidx, (old->tidx_n + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		old->tidx = n;
		old->tidx_cap = old->tidx_n + 1;
		old->tidx[old->tidx_n].ts = old->max_ts;
		old->tidx[old->tidx_n].rel = (uint32_t)(old->max_ts_offset - old->base);
		old->tidx_n++;
	}
	myco__seg_write_index(old);
	rc = myco__seg_create(p->dir, p->leo, now, &s);
	if (rc < 0)
		return rc;
	myco__seg_path(path, p->dir, p->leo, "snapshot");
	rc = myco__pstate_save(&p->ps, path, p->leo);
	if (rc < 0)
		goto fail;
	rc = segs_push(p, s);
	if (rc < 0)
		goto fail;
	if (p->st->cfg.fsync_policy != MLS_FSYNC_NEVER)
		myco__fsync_dir(p->dir);
	old->visible = old->size;   /* synced above (or policy NEVER) */
	if (p->hw < old->next_offset)
		p->hw = old->next_offset;
	return 0;
fail:
	myco__seg_unlink(s);
	myco__seg_unref(s);
	return rc;
}

/* Tell the hook the high watermark moved.  Two syncs (the sync thread's
 * and a caller's) or two appenders may finish in either order after their
 * locks are released, so report the watermark as it is now, never the one
 * a slower caller saw: the last call always carries the latest value. */
static void notify_hw(mls_partition_t *p, int64_t hw)
{
	if (!p->st->cfg.on_hw)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->hw > hw)
		hw = p->hw;
	pthread_mutex_unlock(&p->mu);
	p->st->cfg.on_hw(p->st->cfg.on_hw_arg, p->topic, p->index, hw);
}

/* Validate, check producer state, write.  Returns 0 (written: *target set
 * when the caller must wait for a sync), 1 duplicate, or < 0.  If w is not
 * NULL and a wait is needed, w is queued on p (ownership passes). */
static int append_locked(mls_partition_t *p, uint8_t *buf, size_t len,
                         const mls_batch_header *b, int marker, mls_append_result *res,
                         mls__waiter *w, bool *queued, int64_t *hw_out)
{
	mls__segment *s;
	mls__pbatch dup;
	int64_t now = myco__now(p->st), base;
	int rc;

	*queued = false;
	*hw_out = -1;
	if (p->deleted)
		return -MYCO_ELOG_NO_TOPIC;
	rc = myco__pstate_check(&p->ps, b, &dup);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		res->base_offset = dup.first_off;
		res->last_offset = dup.last_off;
		res->log_append_time = p->cfg.timestamp_type == MLS_TS_LOG_APPEND_TIME
		                       ? dup.ts : -1;
		res->log_start_offset = p->log_start;
		res->duplicate = true;
		/* durable only once the original is: wait for it like a new one */
		if (p->st->cfg.fsync_policy == MLS_FSYNC_ALWAYS &&
		    p->hw <= dup.last_off && w) {
			w->target = dup.last_off + 1;
			*p->waiters_tail = w;
			p->waiters_tail = &w->next;
			*queued = true;
		}
		return 1;
	}
	if ((b->attributes & MLS_ATTR_TRANSACTIONAL) && b->producer_id >= 0) {
		rc = myco__txn_flag(p);
		if (rc < 0)
			return rc;
	}
	mls_batch_header nb = *b;
	res->log_append_time = -1;
	if (p->cfg.timestamp_type == MLS_TS_LOG_APPEND_TIME ||
	    (b->attributes & MLS_ATTR_LOG_APPEND_TIME)) {
		nb.attributes = (int16_t)(b->attributes | MLS_ATTR_LOG_APPEND_TIME);
		nb.max_ts = now;
		mls__put16(buf + MLS_OFF_ATTR, (uint16_t)nb.attributes);
		mls__put64(buf + MLS_OFF_MAX_TS, (uint64_t)now);
		mls__put32(buf + MLS_OFF_CRC,
		           mls_crc32c(0, buf + MLS_BATCH_CRC_START,
		                      len - MLS_BATCH_CRC_START));
		res->log_append_time = now;
	}
	s = active(p);
	if (s->size > 0) {
		bool by_size = s->size + (int64_t)len > p->cfg.segment_bytes;
		bool by_time = false;
		if (p->cfg.segment_ms >= 0) {
			int64_t waited;
			/* timestamps come from producers: saturate */
			if (__builtin_sub_overflow(s->roll_ts >= 0 ? nb.max_ts : now,
			                           s->roll_ts >= 0 ? s->roll_ts
			                                           : s->created_ms,
			                           &waited))
				waited = nb.max_ts > 0 ? INT64_MAX : INT64_MIN;
			by_time = waited > p->cfg.segment_ms;
		}
		bool by_idx = p->leo + nb.last_delta - s->base > (int64_t)UINT32_MAX - 1;
		if (by_size || by_time || by_idx) {
			rc = roll(p, now);
			if (rc < 0)
				return rc;
			s = active(p);
			if (p->hw > *hw_out)
				*hw_out = p->hw;
		}
	}
	base = p->leo;
	mls__put64(buf, (uint64_t)base);
	int fd = myco__seg_fd_get(s);
	if (fd < 0)
		return fd;
	rc = myco__pwrite_full(fd, buf, len, s->size);
	if (rc < 0) {
		/* nothing of this batch may stay: cut back to the old end */
		if (ftruncate(fd, s->size) < 0 && rc == 0)
			rc = -errno;
		myco__seg_fd_put(s);
		return rc;
	}
	myco__seg_fd_put(s);
	nb.base_offset = base;
	rc = myco__pstate_update(&p->ps, &nb, base, nb.max_ts);
	if (rc == 0)
		rc = myco__txn_apply(p, &nb, base, marker);
	if (rc < 0) {
		int trc = seg_ftruncate(s, s->size);
		if (trc < 0)
			rc = trc;
		pstate_rebuild(p);
		return rc;
	}
	myco__seg_index_add(s, &nb, base, s->size, len, p->cfg.index_interval_bytes);
	s->size += (int64_t)len;
	p->leo = base + nb.last_delta + 1;
	p->dirty = true;
	res->base_offset = base;
	res->last_offset = p->leo - 1;
	res->log_start_offset = p->log_start;
	res->duplicate = false;
	if (p->st->cfg.fsync_policy == MLS_FSYNC_ALWAYS) {
		if (w) {
			w->target = p->leo;
			*p->waiters_tail = w;
			p->waiters_tail = &w->next;
			*queued = true;
		}
	} else {
		s->visible = s->size;
		p->hw = p->leo;
		*hw_out = p->hw;
	}
	return 0;
}

static int append_common(mls_partition_t *p, void *batch, size_t len, int marker,
                         mls_append_result *res, mls_append_cb cb, void *arg)
{
	mls_batch_header b;
	mls__waiter *w = NULL;
	bool queued = false;
	int64_t hw = -1;
	int rc;

	memset(res, 0, sizeof(*res));
	res->base_offset = -1;
	if (len > (size_t)__atomic_load_n(&p->cfg.max_message_bytes, __ATOMIC_RELAXED))
		return -MYCO_ELOG_TOO_LARGE;
	rc = marker ? myco__batch_check(batch, len, &b) : myco__batch_accept(batch, len, &b);
	if (rc < 0)
		return rc;
	res->batch = b;
	if (p->st->cfg.fsync_policy == MLS_FSYNC_ALWAYS) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->cb = cb;
		w->arg = arg;
	}
	pthread_mutex_lock(&p->mu);
	rc = append_locked(p, batch, len, &b, marker, res, w, &queued, &hw);
	pthread_mutex_unlock(&p->mu);
	if (!queued)
		free(w);
	if (hw >= 0)
		notify_hw(p, hw);
	if (rc < 0)
		return rc;
	if (queued) {
		myco__sync_enqueue(p->st, p);
		return 1;
	}
	return 0;
}

int mls_append_async(mls_partition_t *p, void *batch, size_t len,
                     mls_append_result *res, mls_append_cb cb, void *arg)
{
	return append_common(p, batch, len, 0, res, cb, arg);
}

int mls_append_marker(mls_partition_t *p, int64_t pid, int16_t epoch, bool commit,
                      int32_t coordinator_epoch, mls_append_result *res,
                      mls_append_cb cb, void *arg)
{
	uint8_t buf[MLS_MARKER_BYTES];
	int marker = commit ? MLS_MARKER_COMMIT : MLS_MARKER_ABORT;

	myco__txn_marker_build(buf, pid, epoch, marker, coordinator_epoch, myco__now(p->st));
	return append_common(p, buf, sizeof(buf), marker, res, cb, arg);
}

struct sync_wait { struct mls_store *st; int done, rc; };

static void sync_done(void *arg, int rc)
{
	struct sync_wait *sw = arg;
	pthread_mutex_lock(&sw->st->sync_mu);
	sw->done = 1;
	sw->rc = rc;
	pthread_cond_broadcast(&sw->st->done_cv);
	pthread_mutex_unlock(&sw->st->sync_mu);
}

int mls_append(mls_partition_t *p, void *batch, size_t len,
               mls_append_result *res)
{
	struct sync_wait sw = { p->st, 0, 0 };
	int rc = append_common(p, batch, len, 0, res, sync_done, &sw);
	if (rc != 1)
		return rc;
	pthread_mutex_lock(&p->st->sync_mu);
	while (!sw.done)
		pthread_cond_wait(&p->st->done_cv, &p->st->sync_mu);
	pthread_mutex_unlock(&p->st->sync_mu);
	return sw.rc;
}

/* A sync failed with the policy ALWAYS: what is not known durable is cut
 * off, so the log never holds a batch that was not acknowledged as if it
 * were, and appends continue from the high watermark.  p->mu held. */
static void cut_to_durable(mls_partition_t *p)
{
	mls__segment *s = active(p);
	if (s->size > s->visible) {
		if (seg_ftruncate(s, s->visible) < 0)
			return;  /* nothing better to do; next sync retries */
		myco__seg_scan(s, false, p->cfg.index_interval_bytes, s->visible,
		               NULL, NULL);
		myco__seg_write_index(s);
		p->leo = s->next_offset > s->base ? s->next_offset : s->base;
		if (p->hw > p->leo)
			p->hw = p->leo;
		pstate_rebuild(p);
		myco__txn_rebuild(p);
	}
}

int myco__part_sync(mls_partition_t *p)
{
	mls__segment *s;
	mls__waiter *w, *failed = NULL;
	int64_t snap_size, snap_leo, hw = -1;
	bool del;
	int rc;

	pthread_mutex_lock(&p->mu);
	if ((!p->dirty && !p->waiters) || p->nsegs == 0) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	s = active(p);
	atomic_fetch_add(&s->refs, 1);
	snap_size = s->size;
	snap_leo = p->leo;
	w = p->waiters;
	p->waiters = NULL;
	p->waiters_tail = &p->waiters;
	p->dirty = false;
	del = p->deleted;
	pthread_mutex_unlock(&p->mu);

	rc = del ? 0 : seg_fdatasync(s);

	pthread_mutex_lock(&p->mu);
	if (rc == 0) {
		if (s->visible < snap_size)
			s->visible = snap_size;
		if (p->hw < snap_leo) {
			p->hw = snap_leo;
			hw = p->hw;
		}
	} else if (p->st->cfg.fsync_policy == MLS_FSYNC_ALWAYS) {
		cut_to_durable(p);
		failed = p->waiters;
		p->waiters = NULL;
		p->waiters_tail = &p->waiters;
	} else {
		p->dirty = true;
	}
	pthread_mutex_unlock(&p->mu);
	myco__seg_unref(s);
	while (w) {
		mls__waiter *n = w->next;
		if (w->cb)
			w->cb(w->arg, rc);
		free(w);
		w = n;
	}
	while (failed) {
		mls__waiter *n = failed->next;
		if (failed->cb)
			failed->cb(failed->arg, rc);
		free(failed);
		failed = n;
	}
	if (hw >= 0)
		notify_hw(p, hw);
	return rc;
}

/* ---- read -------------------------------------------------------------- */

static size_t seg_find(mls_partition_t *p, int64_t offset)
{
	size_t lo = 0, hi = p->nsegs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->segs[mid]->base <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/* Largest batch boundary in s at or before pos+budget, starting from the
 * boundary `pos` (>= pos; == pos if even the first batch does not fit). */
static int cut_point(mls__segment *s, int64_t pos, int64_t end, int64_t budget,
                     int64_t *cut)
{
	int64_t lim = pos + budget, cur = pos;
	/* jump with the index to the last entry <= lim */
	size_t lo = 0, hi = s->idx_n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((int64_t)s->idx[mid].pos <= lim)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && (int64_t)s->idx[lo - 1].pos > cur)
		cur = s->idx[lo - 1].pos;
	while (cur < end) {
		mls_batch_header b;
		int rc = myco__seg_read_hdr(s, cur, end, &b);
		if (rc < 0)
			return rc;
		int64_t nx = cur + b.length + MLS_LOG_OVERHEAD;
		if (nx > lim)
			break;
		cur = nx;
	}
	*cut = cur;
	return 0;
}

static int read_common(mls_partition_t *p, int64_t offset, size_t max_bytes,
                       bool strict, bool committed, mls_read_set *out);

int mls_read(mls_partition_t *p, int64_t offset, size_t max_bytes,
             mls_read_set *out)
{
	return read_common(p, offset, max_bytes, false, false, out);
}

int mls_read_within(mls_partition_t *p, int64_t offset, size_t max_bytes,
                    mls_read_set *out)
{
	return read_common(p, offset, max_bytes, true, false, out);
}

int mls_read_committed(mls_partition_t *p, int64_t offset, size_t max_bytes,
                       bool strict, mls_read_set *out)
{
	return read_common(p, offset, max_bytes, strict, true, out);
}

/* Position in s of the batch that starts at offset `at` (a transaction's
 * first batch), or end when there is none below end. */
static int batch_pos(mls__segment *s, int64_t at, int64_t end, int64_t *pos)
{
	int64_t cur = myco__seg_lookup(s, at);
	while (cur < end) {
		mls_batch_header b;
		int rc = myco__seg_read_hdr(s, cur, end, &b);
		if (rc < 0)
			return rc;
		if (b.base_offset + b.last_delta >= at)
			break;
		cur += b.length + MLS_LOG_OVERHEAD;
	}
	*pos = cur < end ? cur : end;
	return 0;
}

static int read_common(mls_partition_t *p, int64_t offset, size_t max_bytes,
                       bool strict, bool committed, mls_read_set *out)
{
	size_t lim_seg = SIZE_MAX;
	int64_t lim_pos = 0, lso;
	int rc = 0;
	size_t i;
	int64_t pos, budget = max_bytes > INT64_MAX / 2 ? INT64_MAX / 2
	                                               : (int64_t)max_bytes;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->mu);
	out->high_watermark = p->hw;
	out->log_start = p->log_start;
	out->first_offset = -1;
	out->last_stable = lso = myco__txn_lso(p);
	if (offset < p->log_start || offset > p->hw) {
		rc = -MYCO_ELOG_OFFSET_RANGE;
		goto out;
	}
	if (offset == p->hw || (committed && offset >= lso))
		goto out;
	if (committed && lso < p->hw) {
		/* stop before the batch that opens the oldest transaction */
		lim_seg = seg_find(p, lso);
		rc = batch_pos(p->segs[lim_seg], lso, p->segs[lim_seg]->visible, &lim_pos);
		if (rc < 0)
			goto out;
	}
	i = seg_find(p, offset);
	pos = myco__seg_lookup(p->segs[i], offset);
	/* find the batch holding `offset` */
	for (;;) {
		mls__segment *s = p->segs[i];
		mls_batch_header b;
		if (i > lim_seg || (i == lim_seg && pos >= lim_pos))
			goto out;
		if (pos >= s->visible) {
			if (++i >= p->nsegs)
				goto out;
			pos = 0;
			continue;
		}
		rc = myco__seg_read_hdr(s, pos, s->visible, &b);
		if (rc < 0)
			goto out;
		if (b.base_offset + b.last_delta >= offset) {
			out->first_offset = b.base_offset;
			break;
		}
		pos += b.length + MLS_LOG_OVERHEAD;
	}
	/* collect whole batches */
	while (out->n < MLS_READ_MAX_RANGES && i < p->nsegs && i <= lim_seg) {
		mls__segment *s = p->segs[i];
		int64_t cut, end = i == lim_seg ? lim_pos : s->visible;
		if (pos < end) {
			int64_t left = budget - (int64_t)out->total;
			if (end - pos <= left) {
				cut = end;
			} else {
				rc = cut_point(s, pos, end, left > 0 ? left : 0, &cut);
				if (rc < 0)
					goto out;
				if (cut == pos && out->total == 0 && !strict) {
					mls_batch_header b;  /* first batch always whole */
					rc = myco__seg_read_hdr(s, pos, end, &b);
					if (rc < 0)
						goto out;
					cut = pos + b.length + MLS_LOG_OVERHEAD;
				}
			}
			if (cut > pos) {
				int fd = myco__seg_fd_get(s);  /* pinned until release */
				if (fd < 0) {
					rc = fd;
					goto out;
				}
				atomic_fetch_add(&s->refs, 1);
				out->pins_[out->n] = s;
				out->ranges[out->n].fd = fd;
				out->ranges[out->n].file_offset = pos;
				out->ranges[out->n].length = (size_t)(cut - pos);
				out->total += (size_t)(cut - pos);
				out->n++;
			}
			if (cut < end)
				break;
		}
		if ((int64_t)out->total >= budget)
			break;
		i++;
		pos = 0;
	}
out:
	pthread_mutex_unlock(&p->mu);
	if (rc < 0)
		mls_read_release(out);
	return rc;
}

void mls_read_release(mls_read_set *r)
{
	for (size_t i = 0; i < r->n; i++) {
		myco__seg_fd_put(r->pins_[i]);
		myco__seg_unref(r->pins_[i]);
		r->pins_[i] = NULL;
		r->ranges[i].fd = -1;
	}
	r->n = 0;
	r->total = 0;
}

static int pread_full(int fd, void *buf, size_t n, off_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int mls_read_copy(mls_partition_t *p, int64_t offset, size_t max_bytes,
                  void *buf, size_t cap, size_t *len, int64_t *hw)
{
	mls_read_set r;
	size_t lim = max_bytes < cap ? max_bytes : cap;
	int rc = mls_read(p, offset, lim, &r);
	size_t done = 0;

	*len = 0;
	if (rc < 0)
		return rc;
	if (hw)
		*hw = r.high_watermark;
	if (r.total > cap) {
		/* only the first batch can overflow: report its size */
		*len = r.total;
		rc = -ENOBUFS;
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		rc = pread_full(r.ranges[i].fd, (uint8_t *)buf + done,
		                r.ranges[i].length, r.ranges[i].file_offset);
		if (rc < 0)
			goto out;
		done += r.ranges[i].length;
	}
	*len = done;
out:
	mls_read_release(&r);
	return rc;
}

/* ---- ListOffsets ------------------------------------------------------- */

static int find_in_seg(mls__segment *s, int64_t ts, int64_t *offset,
                       int64_t *ts_out)
{
	int64_t pos = 0;
	uint8_t *buf = NULL;
	int rc = 0;

	/* the last time index entry with a timestamp < ts bounds the scan */
	size_t lo = 0, hi = s->tidx_n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->tidx[mid].ts < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo)
		pos = myco__seg_lookup(s, s->base + s->tidx[lo - 1].rel);
	while (pos < s->visible) {
		mls_batch_header b;
		rc = myco__seg_read_hdr(s, pos, s->visible, &b);
		if (rc < 0)
			goto out;
		size_t total = (size_t)b.length + MLS_LOG_OVERHEAD;
		if (b.max_ts >= ts) {
			int64_t fts;
			buf = malloc(total);
			if (!buf) {
				rc = -ENOMEM;
				goto out;
			}
			int fd = myco__seg_fd_get(s);
			rc = fd < 0 ? fd : pread_full(fd, buf, total, pos);
			if (fd >= 0)
				myco__seg_fd_put(s);
			if (rc < 0)
				goto out;
			int32_t d = myco__batch_find_ts(buf, total, ts, &fts);
			if (d < 0) {
				d = 0;
				fts = b.max_ts;
			}
			*offset = b.base_offset + d;
			*ts_out = fts;
			rc = 1;
			goto out;
		}
		pos += (int64_t)total;
	}
out:
	free(buf);
	return rc;
}

int mls_list_offset(mls_partition_t *p, int64_t timestamp, int64_t *offset,
                    int64_t *ts_out)
{
	int64_t dummy;
	int rc = 0;

	if (!ts_out)
		ts_out = &dummy;
	*offset = -1;
	*ts_out = -1;
	pthread_mutex_lock(&p->mu);
	if (timestamp == MLS_LATEST) {
		*offset = p->hw;
	} else if (timestamp == MLS_EARLIEST) {
		*offset = p->log_start;
	} else if (timestamp == MLS_MAX_TIMESTAMP) {
		for (size_t i = 0; i < p->nsegs; i++) {
			mls__segment *s = p->segs[i];
			if (s->max_ts > *ts_out && s->max_ts_offset < p->hw) {
				*ts_out = s->max_ts;
				*offset = s->max_ts_offset;
			}
		}
	} else if (timestamp >= 0) {
		for (size_t i = 0; i < p->nsegs; i++) {
			if (p->segs[i]->max_ts < timestamp)
				continue;
			rc = find_in_seg(p->segs[i], timestamp, offset, ts_out);
			if (rc != 0)
				break;
		}
		if (rc == 1)
			rc = 0;
		if (*offset >= 0 && *offset < p->log_start)
			*offset = p->log_start;
	} else {
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* ---- retention --------------------------------------------------------- */

int myco__part_retention(mls_partition_t *p, int64_t now)
{
	int deleted = 0;
	int64_t total = 0;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nsegs; i++)
		total += p->segs[i]->size;
	/* cleanup.policy=compact alone: retention keeps everything */
	while (p->nsegs > 1 && !p->deleted &&
	       (p->cfg.cleanup_policy & MLS_CLEANUP_DELETE)) {
		mls__segment *s = p->segs[0];
		bool by_time = p->cfg.retention_ms >= 0 && s->max_ts >= 0 &&
		               now - s->max_ts > p->cfg.retention_ms;
		bool by_size = p->cfg.retention_bytes >= 0 &&
		               total - s->size >= p->cfg.retention_bytes;
		/* never drop data that is not yet readable */
		if (!(by_time || by_size) || s->next_offset > p->hw)
			break;
		total -= s->size;
		memmove(&p->segs[0], &p->segs[1], (p->nsegs - 1) * sizeof(p->segs[0]));
		p->nsegs--;
		if (p->segs[0]->base > p->log_start)
			p->log_start = p->segs[0]->base;
		myco__seg_unlink(s);
		myco__seg_unref(s);
		deleted++;
	}
	if (deleted) {
		myco__pstate_truncate_head(&p->ps, p->log_start);
		myco__txn_truncate_head(p);
	}
	pthread_mutex_unlock(&p->mu);
	return deleted;
}
