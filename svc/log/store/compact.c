/*
 * compact.c: log compaction for topics with cleanup.policy=compact (Kafka's
 * log cleaner): in the closed segments of a partition only the latest
 * record of each key stays, at its original offset; a tombstone (null
 * value) stays while the newest record of its segment is younger than
 * delete.retention.ms, then goes too.
 *
 * How a partition is cleaned (mls_compact_run, or the store's cleaner
 * thread every retention_check_ms):
 *   1. under the partition lock: take references to the closed segments
 *      (never the active one) below the last stable offset;
 *   2. without any lock: read them and map each key to its latest offset;
 *      then write each segment that loses records as a new file in
 *      DIR/cleaning/ (fsync'd) and build its indexes;
 *   3. under the partition lock, for a few renames: put the new files in
 *      place of the old (rename is atomic) and the new segment in the list.
 * Appends (to the active segment) and reads go on during step 2; readers
 * that pinned an old segment keep reading its (unlinked) file.
 *
 * What is kept as written: batches with null keys' records, control
 * batches (transaction markers) and transactional batches (not mapped
 * either: a key's latest committed transactional value does not replace
 * older ones); a compressed batch is dropped when all its records are
 * superseded and otherwise kept whole (it is not recompressed).  An
 * uncompressed batch that loses some records is rebuilt with the others,
 * keeping its base offset, lastOffsetDelta and timestamps (gaps in the
 * record offset deltas, as in Kafka's compacted batches).
 * Not for: retention by time and size (partition.c).
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

#define CLEAN_DIR "cleaning"

/* ---- key map ------------------------------------------------------------- */

typedef struct {
	uint64_t hash;
	uint8_t *key;       /* NULL: free slot */
	size_t len;
	int64_t off;        /* latest offset of the key */
} kslot;

typedef struct {
	kslot *slots;
	size_t cap, n;
} kmap;

static uint64_t khash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;      /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ? h : 1;
}

static kslot *kmap_find(kmap *m, const uint8_t *k, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);
	for (;; i = (i + 1) & (m->cap - 1)) {
		kslot *s = &m->slots[i];
		if (!s->key)
			return s;
		if (s->hash == h && s->len == n && !memcmp(s->key, k, n))
			return s;
	}
}

static int kmap_put(kmap *m, const uint8_t *k, size_t n, int64_t off)
{
	uint64_t h = khash(k, n);
	kslot *s;

	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 1024;
		kslot *ns = calloc(nc, sizeof(*ns)), *old = m->slots;
		size_t oc = m->cap;
		if (!ns)
			return -ENOMEM;
		m->slots = ns;
		m->cap = nc;
		for (size_t i = 0; i < oc; i++)
			if (old[i].key)
				*kmap_find(m, old[i].key, old[i].len, old[i].hash) = old[i];
		free(old);
	}
	s = kmap_find(m, k, n, h);
	if (!s->key) {
		s->key = malloc(n ? n : 1);
		if (!s->key)
			return -ENOMEM;
		memcpy(s->key, k, n);
		s->len = n;
		s->hash = h;
		s->off = off;
		m->n++;
	} else if (off > s->off) {
		s->off = off;
	}
	return 0;
}

static int64_t kmap_get(kmap *m, const uint8_t *k, size_t n)
{
	kslot *s;
	if (!m->cap)
		return -1;
	s = kmap_find(m, k, n, khash(k, n));
	return s->key ? s->off : -1;
}

static void kmap_free(kmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* ---- records ----------------------------------------------------------- */

static int svarint(const uint8_t *p, size_t n, size_t *at, int64_t *v)
{
	uint64_t u = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*at >= n)
			return -1;
		uint8_t c = p[(*at)++];
		u |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return 0;
		}
	}
	return -1;
}

/* One record of a records section. */
typedef struct {
	const uint8_t *start;   /* its length varint */
	size_t size;            /* length varint + body */
	int64_t off_delta;
	const uint8_t *key;     /* NULL: null key */
	size_t keylen;
	bool tombstone;         /* null value */
} rec_t;

/* The next record at *at in [p, p+n); 1 when there is none, -1 bad. */
static int rec_next(const uint8_t *p, size_t n, size_t *at, rec_t *r)
{
	size_t i = *at, end;
	int64_t len, tsd, kl, vl;

	if (i >= n)
		return 1;
	r->start = p + i;
	if (svarint(p, n, &i, &len) < 0 || len < 1 || (uint64_t)len > n - i)
		return -1;
	end = i + (size_t)len;
	i++;                                    /* attributes */
	if (svarint(p, end, &i, &tsd) < 0 || svarint(p, end, &i, &r->off_delta) < 0 ||
	    svarint(p, end, &i, &kl) < 0 || kl < -1 || (kl > 0 && (uint64_t)kl > end - i))
		return -1;
	r->key = kl >= 0 ? p + i : NULL;
	r->keylen = kl > 0 ? (size_t)kl : 0;
	if (kl > 0)
		i += (size_t)kl;
	if (svarint(p, end, &i, &vl) < 0 || vl < -1)
		return -1;
	r->tombstone = vl < 0;
	r->size = end - *at;
	*at = end;
	return 0;
}

struct growbuf { uint8_t *p; size_t n, cap; };

static int grow_put(void *arg, const uint8_t *p, size_t n)
{
	struct growbuf *g = arg;
	if (g->n + n > g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 65536;
		while (nc < g->n + n)
			nc *= 2;
		uint8_t *x = realloc(g->p, nc);
		if (!x)
			return -ENOMEM;
		g->p = x;
		g->cap = nc;
	}
	memcpy(g->p + g->n, p, n);
	g->n += n;
	return 0;
}

/* The records section of a batch, decompressed when needed (*tmp holds
 * the bytes then; the caller frees tmp->p).  -1: cannot be opened. */
static int records_of(const uint8_t *b, size_t len, const mls_batch_header *h,
                      struct growbuf *tmp, const uint8_t **rp, size_t *rn)
{
	int codec = h->attributes & MLS_ATTR_COMPRESSION;

	if (codec == MLS_CODEC_NONE) {
		*rp = b + MLS_BATCH_HDR;
		*rn = len - MLS_BATCH_HDR;
		return 0;
	}
	tmp->n = 0;
	if (myco__decompress(codec, b + MLS_BATCH_HDR, len - MLS_BATCH_HDR, grow_put, tmp) < 0)
		return -1;
	*rp = tmp->p;
	*rn = tmp->n;
	return 0;
}

/* ---- reading a segment ---------------------------------------------------- */

/* The whole readable part of a closed segment, malloc'd. */
static int seg_slurp(mls__segment *s, uint8_t **out, size_t *n)
{
	size_t sz = (size_t)s->visible;
	uint8_t *b = malloc(sz ? sz : 1);
	size_t got = 0;

	if (!b)
		return -ENOMEM;
	int fd = myco__seg_fd_get(s);
	if (fd < 0) {
		free(b);
		return fd;
	}
	while (got < sz) {
		ssize_t r = pread(fd, b + got, sz - got, (off_t)got);
		if (r <= 0) {
			int rc = r < 0 ? -errno : -EIO;
			myco__seg_fd_put(s);
			free(b);
			return rc;
		}
		got += (size_t)r;
	}
	myco__seg_fd_put(s);
	*out = b;
	*n = sz;
	return 0;
}

/* Batches that take part: not control, not transactional. */
static bool mapped(const mls_batch_header *h)
{
	return !(h->attributes & (MLS_ATTR_CONTROL | MLS_ATTR_TRANSACTIONAL));
}

static int map_segment(mls__segment *s, int64_t limit, kmap *m, struct growbuf *tmp)
{
	uint8_t *buf;
	size_t n, pos = 0;
	int rc = seg_slurp(s, &buf, &n);

	if (rc < 0)
		return rc;
	while (pos + MLS_BATCH_HDR <= n && rc == 0) {
		mls_batch_header h;
		const uint8_t *rp;
		size_t rn, at = 0;
		rec_t r;
		if (myco__batch_header(buf + pos, n - pos, &h) < 0)
			break;
		size_t blen = (size_t)h.length + MLS_LOG_OVERHEAD;
		if (blen > n - pos || h.base_offset >= limit)
			break;
		if (mapped(&h) && records_of(buf + pos, blen, &h, tmp, &rp, &rn) == 0)
			while (rc == 0 && rec_next(rp, rn, &at, &r) == 0)
				if (r.key)
					rc = kmap_put(m, r.key, r.keylen, h.base_offset + r.off_delta);
		pos += blen;
	}
	free(buf);
	return rc;
}

/* Does record r (at offset off) stay? */
static bool keep(kmap *m, const rec_t *r, int64_t off, bool drop_tombstones)
{
	if (!r->key)
		return true;
	if (kmap_get(m, r->key, r->keylen) != off)
		return false;              /* a later record of the key exists */
	return !(r->tombstone && drop_tombstones);
}

/* Write the cleaned copy of s into out (a growbuf).  *changed false when
 * every batch stays as it is. */
static int clean_segment(mls__segment *s, kmap *m, bool drop_tombstones, struct growbuf *out,
                         bool *changed, bool *tombstones, struct growbuf *tmp)
{
	uint8_t *buf;
	size_t n, pos = 0;
	int rc = seg_slurp(s, &buf, &n);

	*changed = false;
	*tombstones = false;
	out->n = 0;
	if (rc < 0)
		return rc;
	while (pos + MLS_BATCH_HDR <= n && rc == 0) {
		mls_batch_header h;
		const uint8_t *b = buf + pos, *rp;
		size_t rn, at = 0, kept = 0, total = 0, blen;
		rec_t r;
		if (myco__batch_header(b, n - pos, &h) < 0)
			break;
		blen = (size_t)h.length + MLS_LOG_OVERHEAD;
		if (blen > n - pos)
			break;
		pos += blen;
		if (!mapped(&h) || records_of(b, blen, &h, tmp, &rp, &rn) < 0) {
			rc = grow_put(out, b, blen);
			continue;
		}
		while (rec_next(rp, rn, &at, &r) == 0) {
			total++;
			if (keep(m, &r, h.base_offset + r.off_delta, drop_tombstones)) {
				kept++;
				if (r.tombstone && r.key)
					*tombstones = true;
			}
		}
		if (kept == total) {
			rc = grow_put(out, b, blen);
			continue;
		}
		*changed = true;
		if (kept == 0)
			continue;                       /* the whole batch goes */
		if (h.attributes & MLS_ATTR_COMPRESSION) {
			rc = grow_put(out, b, blen);    /* not recompressed: kept whole */
			continue;
		}
		/* rebuild: the header, then the records that stay */
		size_t start = out->n;
		rc = grow_put(out, b, MLS_BATCH_HDR);
		at = 0;
		while (rc == 0 && rec_next(rp, rn, &at, &r) == 0)
			if (keep(m, &r, h.base_offset + r.off_delta, drop_tombstones))
				rc = grow_put(out, r.start, r.size);
		if (rc < 0)
			break;
		uint8_t *nb = out->p + start;
		size_t nlen = out->n - start;
		mls__put32(nb + MLS_OFF_LENGTH, (uint32_t)(nlen - MLS_LOG_OVERHEAD));
		mls__put32(nb + MLS_OFF_COUNT, (uint32_t)kept);
		mls__put32(nb + MLS_OFF_CRC, mls_crc32c(0, nb + MLS_BATCH_CRC_START,
		                                        nlen - MLS_BATCH_CRC_START));
	}
	free(buf);
	return rc;
}

/* ---- one partition ------------------------------------------------------- */

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;
	if (fd < 0)
		return -errno;
	rc = myco__write_full(fd, p, n);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Swap the cleaned segment ns (files in cdir) in for the segment of the
 * same base.  Returns 0 (swapped: ns belongs to the partition), 1 (that
 * segment is gone: ns dropped), < 0. */
static int swap_in(mls_partition_t *p, mls__segment *ns, const char *cdir)
{
	static const char *const exts[3] = { "index", "timeindex", "log" };
	int rc = 1;

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i + 1 < p->nsegs && !p->deleted; i++) {
		mls__segment *old = p->segs[i];
		if (old->base != ns->base)
			continue;
		for (int e = 0; e < 3; e++) {
			char from[4096], to[4096];
			myco__seg_path(from, cdir, ns->base, exts[e]);
			myco__seg_path(to, p->dir, ns->base, exts[e]);
			if (rename(from, to) < 0 && e == 2) {
				rc = -errno;
				goto out;
			}
		}
		ns->dir = p->dir;
		/* an offset gap where the last batches went is fine: the next
		 * segment's base says where the log continues */
		p->segs[i] = ns;
		myco__seg_unref(old);   /* readers holding it keep its file */
		rc = 0;
		break;
	}
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int myco__part_compact(mls_partition_t *p, int64_t now)
{
	mls__segment **segs = NULL;
	size_t nsegs = 0;
	int64_t limit;
	kmap m = { 0 };
	struct growbuf out = { 0 }, tmp = { 0 };
	char cdir[4096];
	int rc = 0, cleaned = 0;
	int64_t again = INT64_MAX;

	mls_topic_config cfg;

	pthread_mutex_lock(&p->mu);
	cfg = p->cfg;                  /* AlterConfigs may change it meanwhile */
	if (!(cfg.cleanup_policy & MLS_CLEANUP_COMPACT)) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	limit = myco__txn_lso(p);
	if (p->segs[p->nsegs - 1]->base < limit)
		limit = p->segs[p->nsegs - 1]->base;
	if (!p->deleted && p->nsegs > 1 && (limit > p->cleaned_to || now >= p->clean_again) &&
	    (segs = calloc(p->nsegs, sizeof(*segs)))) {
		for (size_t i = 0; i + 1 < p->nsegs && p->segs[i]->base < limit; i++) {
			atomic_fetch_add(&p->segs[i]->refs, 1);
			segs[nsegs++] = p->segs[i];
		}
	}
	pthread_mutex_unlock(&p->mu);
	if (!nsegs) {
		free(segs);
		return 0;
	}
	for (size_t i = 0; i < nsegs && rc == 0; i++)
		rc = map_segment(segs[i], limit, &m, &tmp);
	snprintf(cdir, sizeof(cdir), "%s/%s", p->dir, CLEAN_DIR);
	if (rc == 0 && mkdir(cdir, 0755) < 0 && errno != EEXIST)
		rc = -errno;
	for (size_t i = 0; i < nsegs && rc == 0; i++) {
		mls__segment *s = segs[i], *ns = NULL;
		bool changed, tombs;
		int64_t dr = cfg.delete_retention_ms;
		bool drop_tomb = s->max_ts >= 0 && now - s->max_ts > dr;
		char path[4096];

		if (segs[i]->next_offset > limit)
			break;                  /* only whole segments below the limit */
		rc = clean_segment(s, &m, drop_tomb, &out, &changed, &tombs, &tmp);
		if (rc == 0 && tombs && !drop_tomb && s->max_ts >= 0 && s->max_ts + dr + 1 < again)
			again = s->max_ts + dr + 1;    /* clean again when they expire */
		if (rc < 0 || !changed)
			continue;
		myco__seg_path(path, cdir, s->base, "log");
		rc = write_file(path, out.p, out.n);
		if (rc == 0)
			rc = myco__seg_open(cdir, s->base, now, &ns);
		if (rc == 0) {
			rc = myco__seg_scan(ns, false, cfg.index_interval_bytes, -1, NULL, NULL);
			if (rc == 1)
				rc = -MYCO_ELOG_CORRUPT;        /* what we just wrote */
		}
		if (rc == 0) {
			ns->visible = ns->size;
			if (ns->next_offset < s->next_offset)
				ns->next_offset = s->next_offset;
			rc = myco__seg_write_index(ns);
		}
		if (rc == 0) {
			rc = swap_in(p, ns, cdir);
			if (rc == 0)
				cleaned++;
			else
				myco__seg_unref(ns);
			if (rc == 1)
				rc = 0;
		} else if (ns) {
			myco__seg_unref(ns);
		}
		if (rc < 0)
			unlink(path);
	}
	if (rc == 0) {
		myco__fsync_dir(p->dir);
		pthread_mutex_lock(&p->mu);
		p->cleaned_to = limit;
		p->clean_again = again;
		pthread_mutex_unlock(&p->mu);
	}
	for (size_t i = 0; i < nsegs; i++)
		myco__seg_unref(segs[i]);
	free(segs);
	kmap_free(&m);
	free(out.p);
	free(tmp.p);
	return rc < 0 ? rc : cleaned;
}

void myco__compact_leftovers(const char *dir)
{
	char cdir[4096];
	DIR *d;

	/* a crash while cleaning: the files there never replaced anything */
	snprintf(cdir, sizeof(cdir), "%s/%s", dir, CLEAN_DIR);
	d = opendir(cdir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(cdir);
}
