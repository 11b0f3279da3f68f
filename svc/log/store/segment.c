/*
 * segment.c: one segment of a partition: the .log file of whole batches,
 * its sparse offset index (.index: 8-byte entries, relative last offset and
 * file position, big-endian, as Kafka) and time index (.timeindex: 12-byte
 * entries, max timestamp so far and its relative offset).  Indexes are kept
 * in memory and written through to their files; the files are a cache that
 * recovery checks and rebuilds.  Not for: locking (partition.c holds the
 * partition mutex around everything here except unref).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

#define SCAN_BUF (1u << 20)
#define MAX_BATCH (256u << 20)   /* anything bigger on disk is corruption */

void myco__seg_path(char *buf, const char *dir, int64_t base, const char *ext)
{
	snprintf(buf, 4096, "%s/%020" PRId64 ".%s", dir, base, ext);
}

/* ---- the fd cache ---------------------------------------------------------
 * Segments with an open fd are on a ring (fdc.mu); the hand walks it when a
 * new fd needs room: a segment in use (pins > 0) or referenced by more than
 * its partition's list (a read, a sync, a compaction) is skipped, one used
 * since the hand last passed gets a second chance.  Closing races with the
 * lock-free fast path of myco__seg_fd_get as in Dekker's algorithm: the
 * user bumps pins then loads fd; the evictor stores fd = -1 then loads
 * pins, and puts fd back if it sees a user (both sequentially consistent:
 * one of them sees the other).
 */
#define FDC_RESERVE_MIN 64

static struct {
	pthread_mutex_t mu;
	mls__segment *hand;      /* the ring, at the hand */
	size_t n, limit;
	int64_t warned;          /* last "out of descriptors" line (s) */
} fdc = { .mu = PTHREAD_MUTEX_INITIALIZER };

static size_t fdc_limit_locked(void)
{
	if (!fdc.limit) {
		struct rlimit rl;
		size_t soft = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			soft = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20) ?
			       (1u << 20) : (size_t)rl.rlim_cur;
		/* a quarter (at least 64) stays for sockets, the data
		 * directory's own files, io_uring and the rest */
		size_t reserve = soft / 4 > FDC_RESERVE_MIN ? soft / 4 : FDC_RESERVE_MIN;
		fdc.limit = soft > 2 * reserve ? soft - reserve : soft / 2;
		if (fdc.limit < 8)
			fdc.limit = 8;
	}
	return fdc.limit;
}

size_t myco__seg_fd_limit(void)
{
	pthread_mutex_lock(&fdc.mu);
	size_t n = fdc_limit_locked();
	pthread_mutex_unlock(&fdc.mu);
	return n;
}

size_t myco__seg_fd_open(void)
{
	pthread_mutex_lock(&fdc.mu);
	size_t n = fdc.n;
	pthread_mutex_unlock(&fdc.mu);
	return n;
}

void myco__seg_fd_set_limit(size_t n)
{
	pthread_mutex_lock(&fdc.mu);
	fdc.limit = n;
	pthread_mutex_unlock(&fdc.mu);
}

static void ring_add(mls__segment *s)
{
	if (!fdc.hand) {
		s->fprev = s->fnext = s;
		fdc.hand = s;
	} else {
		/* just behind the hand: the last to be looked at */
		s->fnext = fdc.hand;
		s->fprev = fdc.hand->fprev;
		s->fprev->fnext = s;
		fdc.hand->fprev = s;
	}
	fdc.n++;
}

static void ring_del(mls__segment *s)
{
	if (s->fnext == s) {
		fdc.hand = NULL;
	} else {
		s->fprev->fnext = s->fnext;
		s->fnext->fprev = s->fprev;
		if (fdc.hand == s)
			fdc.hand = s->fnext;
	}
	s->fprev = s->fnext = NULL;
	fdc.n--;
}

/* Close one idle fd (fdc.mu held).  force: ignore second chances.  True
 * when one was closed. */
static bool fdc_evict_one(bool force)
{
	size_t steps = 2 * fdc.n + 1;

	while (fdc.hand && steps--) {
		mls__segment *v = fdc.hand;
		fdc.hand = v->fnext;
		if (atomic_load(&v->pins) > 0 || atomic_load(&v->refs) > 1)
			continue;
		if (!force && atomic_exchange(&v->used, 0))
			continue;
		int fd = atomic_exchange(&v->fd, -1);
		if (atomic_load(&v->pins) > 0) {
			atomic_store(&v->fd, fd);     /* a user came: keep it */
			continue;
		}
		ring_del(v);
		close(fd);
		return true;
	}
	return false;
}

/* Open path with room made first (fdc.mu held).  An fd or -errno. */
static int fdc_open_locked(const char *path, int flags)
{
	int fd, tries = 0;

	if (fdc.n >= fdc_limit_locked())
		(void)fdc_evict_one(false);
	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC | flags, 0644);
		if (fd >= 0)
			return fd;
		if ((errno != EMFILE && errno != ENFILE) || tries++ >= 64 ||
		    !fdc_evict_one(true))
			break;
	}
	fd = -errno;
	if (fd == -EMFILE || fd == -ENFILE) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec != fdc.warned) {
			fdc.warned = ts.tv_sec;
			fprintf(stderr, "myco-log: out of file descriptors opening %s (%zu segment "
				"files open, all in use; cache limit %zu): raise ulimit -n\n",
				path, fdc.n, fdc.limit);
		}
	}
	return fd;
}

int myco__seg_fd_get(const mls__segment *cs)
{
	mls__segment *s = (mls__segment *)cs;  /* only its atomics and the ring */
	int fd;

	atomic_fetch_add(&s->pins, 1);
	fd = atomic_load(&s->fd);
	if (fd >= 0) {
		atomic_store_explicit(&s->used, 1, memory_order_relaxed);
		return fd;
	}
	pthread_mutex_lock(&fdc.mu);
	fd = atomic_load(&s->fd);
	if (fd < 0) {
		char path[4096];
		myco__seg_path(path, s->dir, s->base, "log");
		fd = fdc_open_locked(path, 0);
		if (fd >= 0) {
			atomic_store(&s->fd, fd);
			ring_add(s);
		}
	}
	pthread_mutex_unlock(&fdc.mu);
	if (fd < 0)
		atomic_fetch_sub(&s->pins, 1);
	else
		atomic_store_explicit(&s->used, 1, memory_order_relaxed);
	return fd;
}

void myco__seg_fd_put(const mls__segment *cs)
{
	atomic_fetch_sub(&((mls__segment *)cs)->pins, 1);
}

static void seg_free(mls__segment *s)
{
	if (atomic_load(&s->fd) >= 0) {
		pthread_mutex_lock(&fdc.mu);
		ring_del(s);
		close(atomic_load(&s->fd));
		pthread_mutex_unlock(&fdc.mu);
	}
	free(s->idx);
	free(s->tidx);
	free(s);
}

void myco__seg_unref(mls__segment *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		seg_free(s);
}

static int seg_alloc(const char *dir, int64_t base, int64_t now, int flags,
                     mls__segment **out)
{
	char path[4096];
	int rc = 0, fd;
	mls__segment *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	atomic_init(&s->fd, -1);
	atomic_init(&s->pins, 0);
	atomic_init(&s->used, 1);
	s->base = base;
	s->next_offset = base;
	s->max_ts = -1;
	s->max_ts_offset = -1;
	s->roll_ts = -1;
	s->created_ms = now;
	s->last_idx_pos = -1;
	s->dir = (char *)dir;
	atomic_init(&s->refs, 1);
	myco__seg_path(path, dir, base, "log");
	pthread_mutex_lock(&fdc.mu);
	fd = fdc_open_locked(path, flags);
	if (fd >= 0) {
		atomic_store(&s->fd, fd);
		ring_add(s);
	}
	pthread_mutex_unlock(&fdc.mu);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	/* The index files are not kept open (one fd per segment, not
	 * three): they are written whole when the segment rolls or closes
	 * and read once when it is opened.  A new segment starts without. */
	if (flags & O_TRUNC) {
		myco__seg_path(path, dir, base, "index");
		unlink(path);
		myco__seg_path(path, dir, base, "timeindex");
		unlink(path);
	}
out:
	if (rc < 0) {
		seg_free(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

int myco__seg_create(const char *dir, int64_t base, int64_t now,
                     mls__segment **out)
{
	int rc = seg_alloc(dir, base, now, O_CREAT | O_TRUNC, out);
	if (rc < 0) {
		char path[4096];
		static const char *const ext[] = { "log", "index", "timeindex" };
		for (int i = 0; i < 3; i++) {
			myco__seg_path(path, dir, base, ext[i]);
			unlink(path);
		}
	}
	return rc;
}

int myco__seg_open(const char *dir, int64_t base, int64_t now,
                   mls__segment **out)
{
	return seg_alloc(dir, base, now, 0, out);
}

void myco__seg_unlink(mls__segment *s)
{
	char path[4096];
	static const char *const ext[] = { "log", "index", "timeindex", "snapshot" };
	for (int i = 0; i < 4; i++) {
		myco__seg_path(path, s->dir, s->base, ext[i]);
		unlink(path);
	}
	s->deleted = true;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*arr, nc * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = nc;
	return 0;
}

int myco__pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

void myco__seg_index_add(mls__segment *s, const mls_batch_header *b, int64_t base,
                         int64_t pos, size_t len, int32_t interval)
{
	int64_t last = base + b->last_delta;

	if (b->max_ts > s->max_ts) {
		s->max_ts = b->max_ts;
		s->max_ts_offset = last;
	}
	if (s->roll_ts < 0 && b->max_ts >= 0)
		s->roll_ts = b->max_ts;
	if (s->bytes_since_idx > interval &&
	    last - s->base <= UINT32_MAX && pos <= UINT32_MAX) {
		if (grow((void **)&s->idx, &s->idx_cap, s->idx_n + 1,
		         sizeof(*s->idx)) == 0) {
			s->idx[s->idx_n].rel = (uint32_t)(last - s->base);
			s->idx[s->idx_n].pos = (uint32_t)pos;
			s->idx_n++;
			s->last_idx_pos = pos;
		}
		if (s->max_ts >= 0 &&
		    (s->tidx_n == 0 || s->max_ts > s->tidx[s->tidx_n - 1].ts) &&
		    grow((void **)&s->tidx, &s->tidx_cap, s->tidx_n + 1,
		         sizeof(*s->tidx)) == 0) {
			s->tidx[s->tidx_n].ts = s->max_ts;
			s->tidx[s->tidx_n].rel = (uint32_t)(s->max_ts_offset - s->base);
			s->tidx_n++;
		}
		s->bytes_since_idx = 0;
	}
	s->bytes_since_idx += (int64_t)len;
	s->next_offset = last + 1;
}

/* Replace one index file of s with n bytes (a cache: errors are
 * reported, recovery rebuilds a bad one). */
static int index_file_write(const mls__segment *s, const char *ext, const void *buf,
                            size_t n)
{
	char path[4096];
	int fd, rc;

	if (s->deleted)
		return 0;
	myco__seg_path(path, s->dir, s->base, ext);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = myco__pwrite_full(fd, buf, n, 0);
	close(fd);
	return rc;
}

static ssize_t read_file(int fd, uint8_t **out);

/* Read one index file of s whole into *out (malloc'd).  Bytes read, or < 0. */
static ssize_t index_file_read(const mls__segment *s, const char *ext, uint8_t **out)
{
	char path[4096];
	ssize_t n;
	int fd;

	*out = NULL;
	myco__seg_path(path, s->dir, s->base, ext);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read_file(fd, out);
	close(fd);
	return n;
}

int myco__seg_write_index(mls__segment *s)
{
	size_t n1 = s->idx_n * 8, n2 = s->tidx_n * 12;
	uint8_t *buf = malloc((n1 > n2 ? n1 : n2) + 12);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < s->idx_n; i++) {
		mls__put32(buf + i * 8, s->idx[i].rel);
		mls__put32(buf + i * 8 + 4, s->idx[i].pos);
	}
	int rc = index_file_write(s, "index", buf, n1);
	for (size_t i = 0; i < s->tidx_n; i++) {
		mls__put64(buf + i * 12, (uint64_t)s->tidx[i].ts);
		mls__put32(buf + i * 12 + 8, s->tidx[i].rel);
	}
	int rc2 = index_file_write(s, "timeindex", buf, n2);
	free(buf);
	return rc < 0 ? rc : rc2;
}

int myco__seg_read_hdr(const mls__segment *s, int64_t pos, int64_t end,
                       mls_batch_header *b)
{
	uint8_t h[MLS_BATCH_HDR];
	ssize_t r;

	if (pos + MLS_BATCH_HDR > end)
		return -MYCO_ELOG_CORRUPT;
	int fd = myco__seg_fd_get(s);
	if (fd < 0)
		return fd;
	do
		r = pread(fd, h, sizeof(h), pos);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		r = -errno;
	myco__seg_fd_put(s);
	if (r < 0)
		return (int)r;
	if (r != sizeof(h))
		return -MYCO_ELOG_CORRUPT;
	int rc = myco__batch_header(h, sizeof(h), b);
	if (rc < 0)
		return rc == -EAGAIN ? -MYCO_ELOG_CORRUPT : rc;
	if (pos + b->length + MLS_LOG_OVERHEAD > end ||
	    b->base_offset < 0 || b->base_offset > MLS_MAX_STORED_OFFSET)
		return -MYCO_ELOG_CORRUPT;
	return 0;
}

static int seg_scan_fd(mls__segment *s, int fd, bool full, int32_t interval,
                       int64_t limit, mls__scan_fn fn, void *arg);

int myco__seg_scan(mls__segment *s, bool full, int32_t interval,
                   int64_t limit, mls__scan_fn fn, void *arg)
{
	int fd = myco__seg_fd_get(s), rc;

	if (fd < 0)
		return fd;
	rc = seg_scan_fd(s, fd, full, interval, limit, fn, arg);
	myco__seg_fd_put(s);
	return rc;
}

static int seg_scan_fd(mls__segment *s, int fd, bool full, int32_t interval,
                       int64_t limit, mls__scan_fn fn, void *arg)
{
	struct stat stt;
	uint8_t *buf = NULL;
	size_t cap = SCAN_BUF, have = 0;
	int64_t bufpos = 0, pos = 0, end;
	int rc = 0;

	if (fstat(fd, &stt) < 0)
		return -errno;
	end = stt.st_size;
	if (limit >= 0 && limit < end)
		end = limit;
	s->idx_n = s->tidx_n = 0;
	s->bytes_since_idx = 0;
	s->max_ts = s->max_ts_offset = s->roll_ts = -1;
	s->next_offset = s->base;
	s->last_idx_pos = -1;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	while (pos < end) {
		mls_batch_header b;
		size_t total;
		if (pos + MLS_BATCH_HDR > bufpos + (int64_t)have || pos < bufpos) {
			ssize_t r = pread(fd, buf, cap, pos);
			if (r < 0) {
				rc = errno == EINTR ? 0 : -errno;
				if (rc)
					goto out;
				continue;
			}
			bufpos = pos;
			have = (size_t)r;
		}
		const uint8_t *p = buf + (pos - bufpos);
		size_t avail = have - (size_t)(pos - bufpos);
		if (myco__batch_header(p, avail, &b) < 0) {
			rc = 1;
			break;
		}
		total = (size_t)b.length + MLS_LOG_OVERHEAD;
		if (total > MAX_BATCH || pos + (int64_t)total > end ||
		    b.base_offset < s->next_offset ||
		    b.base_offset > MLS_MAX_STORED_OFFSET) {
			rc = 1;
			break;
		}
		if (full || fn) {
			if (total > avail) {
				if (total > cap) {
					uint8_t *nb = realloc(buf, total);
					if (!nb) {
						rc = -ENOMEM;
						goto out;
					}
					buf = nb;
					cap = total;
				}
				ssize_t r = pread(fd, buf, cap, pos);
				if (r < 0) {
					rc = -errno;
					goto out;
				}
				bufpos = pos;
				have = (size_t)r;
				p = buf;
				avail = have;
				if (total > avail) {
					rc = 1;
					break;
				}
			}
			if (full && myco__batch_check(p, total, &b) < 0) {
				rc = 1;
				break;
			}
		}
		if (fn) {
			int r = fn(arg, &b, pos, p, total);
			if (r < 0) {
				rc = r;
				goto out;
			}
		}
		myco__seg_index_add(s, &b, b.base_offset, pos, total, interval);
		pos += (int64_t)total;
	}
	if (rc == 0 && pos < (int64_t)stt.st_size && limit < 0)
		rc = 1;
out:
	s->size = s->visible = pos;
	free(buf);
	return rc;
}

struct walk_arg { mls__scan_fn fn; void *arg; };

int myco__seg_walk(mls__segment *s, mls__scan_fn fn, void *arg)
{
	int64_t pos = 0;
	while (pos < s->visible) {
		mls_batch_header b;
		int rc = myco__seg_read_hdr(s, pos, s->visible, &b);
		if (rc < 0)
			return rc;
		rc = fn(arg, &b, pos, NULL, (size_t)b.length + MLS_LOG_OVERHEAD);
		if (rc < 0)
			return rc;
		pos += b.length + MLS_LOG_OVERHEAD;
	}
	return 0;
}

static ssize_t read_file(int fd, uint8_t **out)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (1 << 30))
		return -MYCO_ELOG_CORRUPT;
	*out = malloc((size_t)st.st_size + 1);
	if (!*out)
		return -ENOMEM;
	ssize_t r = pread(fd, *out, (size_t)st.st_size, 0);
	if (r != st.st_size) {
		free(*out);
		*out = NULL;
		return -MYCO_ELOG_CORRUPT;
	}
	return r;
}

int myco__seg_load_index(mls__segment *s, int64_t next_base, int32_t interval)
{
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	int rc = -MYCO_ELOG_CORRUPT;
	int fd = myco__seg_fd_get(s);

	if (fd < 0)
		return fd;
	n = fstat(fd, &st) < 0 ? -errno : 0;
	myco__seg_fd_put(s);
	if (n < 0)
		return (int)n;
	s->idx_n = s->tidx_n = 0;
	n = index_file_read(s, "index", &buf);
	if (n < 0 || n % 8)
		goto out;
	if (grow((void **)&s->idx, &s->idx_cap, (size_t)n / 8 + 1, sizeof(*s->idx)))
		goto out;
	for (ssize_t i = 0; i < n / 8; i++) {
		s->idx[i].rel = mls__be32(buf + i * 8);
		s->idx[i].pos = mls__be32(buf + i * 8 + 4);
		if (s->idx[i].pos >= st.st_size ||
		    (i && (s->idx[i].rel <= s->idx[i - 1].rel ||
		           s->idx[i].pos <= s->idx[i - 1].pos)) ||
		    s->base + s->idx[i].rel >= next_base)
			goto out;
	}
	s->idx_n = (size_t)n / 8;
	/* an empty index for a segment far larger than the interval means the
	 * file was lost */
	for (int64_t pos = 0; s->idx_n == 0 && pos < st.st_size;) {
		/* no entry is right only if no batch but the first starts past
		 * the interval (that is when append adds the first entry) */
		mls_batch_header b;
		if (pos > interval ||
		    myco__seg_read_hdr(s, pos, st.st_size, &b) < 0)
			goto out;
		pos += b.length + MLS_LOG_OVERHEAD;
	}
	free(buf);
	buf = NULL;
	n = index_file_read(s, "timeindex", &buf);
	if (n <= 0 || n % 12)   /* a closed segment always has one entry */
		goto out;
	if (grow((void **)&s->tidx, &s->tidx_cap, (size_t)n / 12 + 1, sizeof(*s->tidx)))
		goto out;
	for (ssize_t i = 0; i < n / 12; i++) {
		s->tidx[i].ts = (int64_t)mls__be64(buf + i * 12);
		s->tidx[i].rel = mls__be32(buf + i * 12 + 8);
		if ((i && (s->tidx[i].ts < s->tidx[i - 1].ts ||
		           s->tidx[i].rel < s->tidx[i - 1].rel)) ||
		    s->base + s->tidx[i].rel >= next_base)
			goto out;
	}
	s->tidx_n = (size_t)n / 12;
	/* the last offset entry must point at the batch it names */
	if (s->idx_n) {
		mls_batch_header b;
		mls__ientry *e = &s->idx[s->idx_n - 1];
		if (myco__seg_read_hdr(s, e->pos, st.st_size, &b) < 0 ||
		    b.base_offset + b.last_delta != s->base + e->rel)
			goto out;
		s->last_idx_pos = e->pos;
	}
	s->size = s->visible = st.st_size;
	s->next_offset = next_base;
	s->max_ts = s->tidx[s->tidx_n - 1].ts;
	s->max_ts_offset = s->base + s->tidx[s->tidx_n - 1].rel;
	rc = 0;
out:
	if (rc < 0)
		s->idx_n = s->tidx_n = 0;
	free(buf);
	return rc;
}

int64_t myco__seg_lookup(const mls__segment *s, int64_t offset)
{
	size_t lo = 0, hi = s->idx_n;
	if (offset < s->base)
		return 0;
	/* largest entry with base+rel <= offset */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->base + s->idx[mid].rel <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? s->idx[lo - 1].pos : 0;
}
