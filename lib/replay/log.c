/*
 * log.c: the executive's side of the record ring (create, validate, drain:
 * the ring is untrusted input) and the replay log (rlog.h): segment files
 * of checksummed frames, capped by size and age, each segment starting with
 * the run's prologue (START and OPEN) so that any window left by the caps
 * replays on its own; and the one reader.  Format: docs/replay-format.md.
 * Not for: recording inside the partition (rec.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "myco/common.h"
#include "myco_int.h"
#include "rec_abi.h"
#include "replay.h"
#include "rlog.h"

uint32_t myco__rec_fnv32(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* ---- ring, executive side ---------------------------------------------- */

struct myco__ring_rd {
	struct myco__ring_hdr *hdr;
	uint8_t *data;
	uint64_t cap, size;
	uint64_t tail;              /* ours: never read back from the ring */
	struct myco__ring_counts c;
	uint8_t *copy;              /* one record's copy (cap / 4 bytes max) */
};

int myco__ring_create(uint64_t cap, const char *name, int *fd)
{
	struct myco__ring_hdr h;
	int f;

	if (cap < MYCO__RING_MIN || cap > MYCO__RING_MAX || (cap & (cap - 1)))
		return -EINVAL;
	f = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0)
		return -errno;
	memset(&h, 0, sizeof h);
	h.magic = MYCO__RING_MAGIC;
	h.version = MYCO__RING_VERSION;
	h.size = MYCO__RING_DATA_OFF + cap;
	h.cap = cap;
	h.check = myco__rec_fnv32(&h, offsetof(struct myco__ring_hdr, check));
	if (ftruncate(f, (off_t)h.size) < 0 || pwrite(f, &h, sizeof h, 0) != (ssize_t)sizeof h ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(f);
		return e;
	}
	*fd = f;
	return 0;
}

int myco__ring_open(int fd, struct myco__ring_rd **out)
{
	struct myco__ring_hdr h;
	struct stat sb;
	int seals = fcntl(fd, F_GET_SEALS);

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.magic != MYCO__RING_MAGIC)
		return -EPROTO;
	if (h.version != MYCO__RING_VERSION)
		return -MYCO_EVERSION;
	if (h.features || h.check != myco__rec_fnv32(&h, offsetof(struct myco__ring_hdr, check)) ||
	    h.cap < MYCO__RING_MIN || h.cap > MYCO__RING_MAX || (h.cap & (h.cap - 1)) ||
	    h.size != MYCO__RING_DATA_OFF + h.cap || (uint64_t)sb.st_size != h.size)
		return -EPROTO;
	struct myco__ring_rd *rd = calloc(1, sizeof *rd);
	if (!rd)
		return -ENOMEM;
	rd->copy = malloc(h.cap / 4);
	void *m = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED || !rd->copy) {
		int e = m == MAP_FAILED ? -errno : -ENOMEM;
		if (m != MAP_FAILED)
			munmap(m, h.size);
		free(rd->copy);
		free(rd);
		return e;
	}
	rd->hdr = m;
	rd->data = (uint8_t *)m + MYCO__RING_DATA_OFF;
	rd->cap = h.cap;
	rd->size = h.size;
	rd->tail = atomic_load_explicit(&rd->hdr->head, memory_order_acquire);
	atomic_store_explicit(&rd->hdr->tail, rd->tail, memory_order_release);
	*out = rd;
	return 0;
}

void myco__ring_close(struct myco__ring_rd *rd)
{
	if (!rd)
		return;
	munmap(rd->hdr, rd->size);
	free(rd->copy);
	free(rd);
}

void myco__ring_enable(struct myco__ring_rd *rd, int on)
{
	atomic_store_explicit(&rd->hdr->enable, on ? MYCO__RING_ON : MYCO__RING_OFF,
			      memory_order_relaxed);
}

void myco__ring_counts(const struct myco__ring_rd *rd, struct myco__ring_counts *c)
{
	*c = rd->c;
	c->overruns = atomic_load_explicit(&rd->hdr->overruns, memory_order_relaxed);
}

/* Give up on what is between our tail and the writers' head. */
static void resync(struct myco__ring_rd *rd, uint64_t head)
{
	rd->c.corrupt++;
	rd->tail = head;
}

int myco__ring_drain(struct myco__ring_rd *rd, int force,
		     int (*each)(void *arg, uint16_t type, uint16_t chan,
				 const uint8_t *body, uint32_t len),
		     void *arg)
{
	uint64_t head = atomic_load_explicit(&rd->hdr->head, memory_order_acquire);
	int n = 0;

	if (head < rd->tail || head - rd->tail > rd->cap) {
		resync(rd, head);
		goto out;
	}
	while (rd->tail < head) {
		uint64_t off = rd->tail & (rd->cap - 1);
		struct myco__ring_rec *r = (struct myco__ring_rec *)(rd->data + off);
		uint64_t commit = atomic_load_explicit(&r->commit, memory_order_acquire);
		uint32_t size = r->size;
		uint16_t type = r->type, chan = r->chan;
		uint64_t adv = ((uint64_t)size + 15) & ~15ull;

		if (commit != rd->tail + 1) {
			if (force)       /* its writer died mid-record */
				resync(rd, head);
			break;
		}
		if (size < sizeof *r || off + adv > rd->cap ||
		    rd->tail + adv > head || (type != MYCO__REC_PAD && size > rd->cap / 4) ||
		    type >= MYCO__REC_NTYPES || type == MYCO__REC_GAP || type == MYCO__REC_CRASH ||
		    type == MYCO__REC_JOIN) {
			resync(rd, head);
			break;
		}
		if (type != MYCO__REC_PAD) {
			uint32_t len = size - (uint32_t)sizeof *r;
			memcpy(rd->copy, r + 1, len);
			/* the writer may rewrite it once we move the tail, so
			 * the copy is what we hand on; a record rewritten while
			 * we copied fails the commit check below */
			atomic_thread_fence(memory_order_acquire);
			if (atomic_load_explicit(&r->commit, memory_order_relaxed) != rd->tail + 1) {
				resync(rd, head);
				break;
			}
			int rc = each(arg, type, chan, rd->copy, len);
			if (rc < 0)
				return rc;
			rd->c.records++;
			n++;
		}
		rd->tail += adv;
		rd->c.bytes += adv;
	}
out:
	atomic_store_explicit(&rd->hdr->tail, rd->tail, memory_order_release);
	return n;
}

/* ---- log writer -------------------------------------------------------- */

struct pro_rec {
	uint16_t type, chan;
	uint32_t len;
	uint8_t *body;
};

struct myco__rlog_w {
	char dir[PATH_MAX];
	char part[64];
	uint64_t max_bytes, max_age_ns, seg_bytes;
	int fd;                     /* current segment */
	uint64_t segno, first_seg;  /* current, oldest on disk */
	uint64_t seg_size;          /* bytes in the current segment */
	uint64_t disk;              /* bytes of all segments on disk */
	uint64_t index;             /* non-prologue records written */
	uint64_t records, dropped;
	uint8_t *buf;
	size_t nbuf;
	struct pro_rec *pro;        /* the current run's START and OPENs */
	size_t npro, cpro;
	struct { uint64_t segno, bytes, t; } *segs;   /* on disk, oldest first */
	size_t nsegs, csegs;
};

#define WBUF (64u * 1024u)

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void seg_path(const struct myco__rlog_w *w, uint64_t segno, char *out, size_t cap)
{
	snprintf(out, cap, "%s/seg-%08llu.mrl", w->dir, (unsigned long long)segno);
}

int myco__rlog_flush(struct myco__rlog_w *w)
{
	int rc = 0;

	if (w->nbuf && w->fd >= 0)
		rc = myco__write_full(w->fd, w->buf, w->nbuf);
	w->nbuf = 0;
	return rc;
}

static int raw_frame(struct myco__rlog_w *w, uint16_t type, uint16_t chan,
		     const void *body, uint32_t len)
{
	struct myco__log_frame f = { .len = len, .type = type, .chan = chan };
	size_t pad = (8 - (len & 7)) & 7;
	uint32_t h = myco__rec_fnv32((const uint8_t *)&f + 4, sizeof f - 4);
	const uint8_t *b = body;
	for (uint32_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	f.check = h;
	size_t need = sizeof f + len + pad;
	if (w->nbuf + need > WBUF) {
		int rc = myco__rlog_flush(w);
		if (rc < 0)
			return rc;
	}
	if (need > WBUF) {      /* a large record goes straight out */
		static const uint8_t zero[8];
		int rc = myco__write_full(w->fd, &f, sizeof f);
		if (rc == 0)
			rc = myco__write_full(w->fd, body, len);
		if (rc == 0 && pad)
			rc = myco__write_full(w->fd, zero, pad);
		if (rc < 0)
			return rc;
	} else {
		memcpy(w->buf + w->nbuf, &f, sizeof f);
		memcpy(w->buf + w->nbuf + sizeof f, body, len);
		memset(w->buf + w->nbuf + sizeof f + len, 0, pad);
		w->nbuf += need;
	}
	w->seg_size += need;
	w->disk += need;
	return 0;
}

static void drop_oldest(struct myco__rlog_w *w)
{
	char path[PATH_MAX + 32];

	seg_path(w, w->segs[0].segno, path, sizeof path);
	unlink(path);
	w->disk -= w->segs[0].bytes;
	memmove(w->segs, w->segs + 1, (w->nsegs - 1) * sizeof *w->segs);
	w->nsegs--;
	w->dropped++;
}

/* Start segment number segno, with the prologue. */
static int new_segment(struct myco__rlog_w *w)
{
	char path[PATH_MAX + 32];
	int rc;

	if (w->fd >= 0) {
		if ((rc = myco__rlog_flush(w)) < 0)
			return rc;
		close(w->fd);
		w->fd = -1;
		w->segs[w->nsegs - 1].bytes = w->seg_size;
	}
	/* caps: keep the new segment plus what fits; the current one always */
	uint64_t now = realtime_ns();
	while (w->nsegs > 0 && (w->disk + w->seg_bytes > w->max_bytes ||
				(w->max_age_ns && now - w->segs[0].t > w->max_age_ns)))
		drop_oldest(w);
	if (w->nsegs == w->csegs) {
		size_t nc = w->csegs ? w->csegs * 2 : 16;
		void *p = realloc(w->segs, nc * sizeof *w->segs);
		if (!p)
			return -ENOMEM;
		w->segs = p;
		w->csegs = nc;
	}
	w->segno++;
	seg_path(w, w->segno, path, sizeof path);
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (w->fd < 0)
		return -errno;
	w->segs[w->nsegs].segno = w->segno;
	w->segs[w->nsegs].bytes = 0;
	w->segs[w->nsegs].t = now;
	w->nsegs++;
	struct myco__log_seg_hdr h;
	memset(&h, 0, sizeof h);
	h.magic = MYCO__LOG_MAGIC;
	h.version = MYCO__LOG_VERSION;
	h.hdr_size = sizeof h;
	h.segno = w->segno;
	h.first_index = w->index;
	h.t_created_ns = now;
	h.prologue = (uint32_t)w->npro;
	memcpy(h.partition, w->part, strnlen(w->part, sizeof h.partition));
	h.check = myco__rec_fnv32(&h, offsetof(struct myco__log_seg_hdr, check));
	w->seg_size = 0;
	memcpy(w->buf, &h, sizeof h);
	w->nbuf = sizeof h;
	w->seg_size = sizeof h;
	w->disk += sizeof h;
	for (size_t i = 0; i < w->npro; i++)
		if ((rc = raw_frame(w, w->pro[i].type, w->pro[i].chan, w->pro[i].body,
				    w->pro[i].len)) < 0)
			return rc;
	return 0;
}

int myco__rlog_open(const struct myco__rlog_cfg *cfg, struct myco__rlog_w **out)
{
	struct myco__rlog_w *w = calloc(1, sizeof *w);

	if (!w)
		return -ENOMEM;
	snprintf(w->dir, sizeof w->dir, "%s", cfg->dir);
	snprintf(w->part, sizeof w->part, "%s", cfg->partition ? cfg->partition : "");
	w->max_bytes = cfg->max_bytes ? cfg->max_bytes : 64ull << 20;
	w->max_age_ns = cfg->max_age_ns;
	w->seg_bytes = cfg->seg_bytes ? cfg->seg_bytes : w->max_bytes / 8;
	if (w->seg_bytes < 64 * 1024)
		w->seg_bytes = 64 * 1024;
	if (w->seg_bytes > 16u << 20)
		w->seg_bytes = 16u << 20;
	w->fd = -1;
	w->buf = malloc(WBUF);
	if (!w->buf || (mkdir(w->dir, 0750) < 0 && errno != EEXIST)) {
		int e = w->buf ? -errno : -ENOMEM;
		free(w->buf);
		free(w);
		return e;
	}
	/* a previous run's segments in this directory belong to it */
	DIR *d = opendir(w->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		unsigned long long s;
		char tail[8];
		if (sscanf(de->d_name, "seg-%llu.mr%1s", &s, tail) == 2 && s > w->segno)
			w->segno = s;
	}
	if (d)
		closedir(d);
	int rc = new_segment(w);
	if (rc < 0) {
		myco__rlog_close(w, 0);
		return rc;
	}
	*out = w;
	return 0;
}

static int pro_add(struct myco__rlog_w *w, uint16_t type, uint16_t chan, const void *body,
		   uint32_t len)
{
	if (type == MYCO__REC_START) {
		for (size_t i = 0; i < w->npro; i++)
			free(w->pro[i].body);
		w->npro = 0;
	}
	if (w->npro == w->cpro) {
		size_t nc = w->cpro ? w->cpro * 2 : 8;
		void *p = realloc(w->pro, nc * sizeof *w->pro);
		if (!p)
			return -ENOMEM;
		w->pro = p;
		w->cpro = nc;
	}
	uint8_t *b = malloc(len ? len : 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, body, len);
	w->pro[w->npro++] = (struct pro_rec){ type, chan, len, b };
	return 0;
}

int myco__rlog_append(struct myco__rlog_w *w, uint16_t type, uint16_t chan,
		      const void *body, uint32_t len)
{
	int rc;

	if (len > MYCO__LOG_BODY_MAX)
		return -EMSGSIZE;
	if (type == MYCO__REC_START || type == MYCO__REC_OPEN)
		if ((rc = pro_add(w, type, chan, body, len)) < 0)
			return rc;
	if (w->seg_size >= w->seg_bytes && (rc = new_segment(w)) < 0)
		return rc;
	if ((rc = raw_frame(w, type, chan, body, len)) < 0)
		return rc;
	w->index++;
	w->records++;
	return 0;
}

int myco__rlog_keep(struct myco__rlog_w *w, const char *dest)
{
	char from[PATH_MAX + 32], to[PATH_MAX + 32];
	int rc = myco__rlog_flush(w);

	if (rc < 0)
		return rc;
	if (mkdir(dest, 0750) < 0 && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < w->nsegs; i++) {
		seg_path(w, w->segs[i].segno, from, sizeof from);
		snprintf(to, sizeof to, "%s/seg-%08llu.mrl", dest,
			 (unsigned long long)w->segs[i].segno);
		if (link(from, to) == 0)
			continue;
		/* another file system (or no hard links): copy */
		int in = open(from, O_RDONLY | O_CLOEXEC), o;
		if (in < 0)
			return -errno;
		o = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (o < 0) {
			rc = -errno;
			close(in);
			return rc;
		}
		char b[65536];
		ssize_t r;
		while ((r = read(in, b, sizeof b)) > 0)
			if ((rc = myco__write_full(o, b, (size_t)r)) < 0)
				break;
		close(in);
		close(o);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void myco__rlog_stats(const struct myco__rlog_w *w, uint64_t *bytes, uint64_t *records,
		      uint64_t *dropped_segs)
{
	*bytes = w->disk;
	*records = w->records;
	*dropped_segs = w->dropped;
}

void myco__rlog_close(struct myco__rlog_w *w, int remove)
{
	char path[PATH_MAX + 32];

	if (!w)
		return;
	if (w->fd >= 0) {
		(void)myco__rlog_flush(w);
		close(w->fd);
	}
	for (size_t i = 0; remove && i < w->nsegs; i++) {
		seg_path(w, w->segs[i].segno, path, sizeof path);
		unlink(path);
	}
	if (remove)
		rmdir(w->dir);
	for (size_t i = 0; i < w->npro; i++)
		free(w->pro[i].body);
	free(w->pro);
	free(w->segs);
	free(w->buf);
	free(w);
}

/* ---- log reader -------------------------------------------------------- */

static int rerr(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int rerr(char *err, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Minimum body of each record type; bodies shorter are corrupt. */
static uint32_t body_min(uint16_t type)
{
	switch (type) {
	case MYCO__REC_START: return sizeof(struct myco__rb_start);
	case MYCO__REC_OPEN: return sizeof(struct myco__rb_open) + 1;
	case MYCO__REC_RECV: return sizeof(struct myco__rb_recv);
	case MYCO__REC_SEND: return sizeof(struct myco__rb_send);
	case MYCO__REC_REPLY: return sizeof(struct myco__rb_reply);
	case MYCO__REC_SAMPLE: return sizeof(struct myco__rb_sample);
	case MYCO__REC_CLOCK: case MYCO__REC_RANDOM: case MYCO__REC_DONE: case MYCO__REC_GAP:
	case MYCO__REC_JOIN:
		return sizeof(struct myco__rb_value);
	case MYCO__REC_CRASH: return sizeof(struct myco__rb_crash);
	case MYCO__REC_WAKE: return sizeof(struct myco__rb_wake);
	case MYCO__REC_CWAIT: return sizeof(struct myco__rb_cwait);
	default: return UINT32_MAX;
	}
}

/* The body's own consistency (lengths inside it agree with its size). */
static int body_ok(uint32_t version, uint16_t type, const uint8_t *b, uint32_t len)
{
	if (len < body_min(type) || body_min(type) == UINT32_MAX)
		return 0;
	switch (type) {
	case MYCO__REC_OPEN: {
		struct myco__rb_open o;
		memcpy(&o, b, sizeof o);
		return o.name_len + 1 == len - sizeof o && b[len - 1] == 0 &&
		       memchr(b + sizeof o, 0, o.name_len) == NULL;
	}
	case MYCO__REC_RECV: {
		struct myco__rb_recv r;
		memcpy(&r, b, sizeof r);
		return r.len == len - sizeof r;
	}
	case MYCO__REC_SEND: {
		struct myco__rb_send s;
		memcpy(&s, b, sizeof s);
		size_t k = len - sizeof s;
		if (version == 1)
			return k <= MYCO__REC_SEND_KEEP && k <= s.len;
		/* nothing captured, or the first bytes and the block hashes */
		size_t keep = s.len < MYCO__REC_SEND_KEEP ? s.len : MYCO__REC_SEND_KEEP;
		size_t nb = s.len <= MYCO__REC_SEND_KEEP ? 0
			: ((size_t)s.len - 1) / MYCO__REC_SEND_KEEP;
		if (nb > MYCO__REC_SEND_BLOCKS)
			nb = MYCO__REC_SEND_BLOCKS;
		return k == 0 || k == keep + nb * 8;
	}
	case MYCO__REC_REPLY: {
		struct myco__rb_reply r;
		memcpy(&r, b, sizeof r);
		return len - sizeof r <= r.len;
	}
	case MYCO__REC_SAMPLE: {
		struct myco__rb_sample s;
		memcpy(&s, b, sizeof s);
		return len - sizeof s <= s.len;
	}
	case MYCO__REC_START: {
		struct myco__rb_start s;
		memcpy(&s, b, sizeof s);
		size_t nul = 0;
		for (size_t i = sizeof s; i < len; i++)
			nul += b[i] == 0;
		return s.bytes == len - sizeof s && len > sizeof s && b[len - 1] == 0 &&
		       nul == (size_t)s.argc + s.envc + 2;
	}
	case MYCO__REC_WAKE: {
		struct myco__rb_wake w;
		memcpy(&w, b, sizeof w);
		return len == sizeof w && w.kind >= MYCO__RTW_CHAN && w.kind <= MYCO__RTW_POST;
	}
	case MYCO__REC_CWAIT:
		return len == sizeof(struct myco__rb_cwait);
	default:
		return 1;
	}
}

int myco__rlog_parse_seg(const uint8_t *p, size_t n, uint64_t *segno, uint64_t *first_index,
			 uint32_t *prologue,
			 int (*each)(void *arg, uint16_t type, uint16_t chan,
				     const uint8_t *body, uint32_t len),
			 void *arg, char *err, size_t cap)
{
	struct myco__log_seg_hdr h;
	size_t at;
	uint64_t k = 0;

	if (n < sizeof h)
		return rerr(err, cap, -EPROTO, "truncated: %zu bytes, shorter than a segment header", n);
	memcpy(&h, p, sizeof h);
	if (h.magic != MYCO__LOG_MAGIC)
		return rerr(err, cap, -EPROTO, "not a replay log segment (bad magic)");
	if (h.version < MYCO__LOG_VERSION_MIN || h.version > MYCO__LOG_VERSION)
		return rerr(err, cap, -MYCO_EVERSION,
			    "log format version %u; this myco reads versions %u to %u", h.version,
			    MYCO__LOG_VERSION_MIN, MYCO__LOG_VERSION);
	/* version 1 had no runtime records */
	uint16_t ntypes = h.version == 1 ? MYCO__REC_WAKE : MYCO__REC_NTYPES;
	if (h.hdr_size != sizeof h ||
	    h.check != myco__rec_fnv32(&h, offsetof(struct myco__log_seg_hdr, check)))
		return rerr(err, cap, -EPROTO, "segment header fails its checksum");
	*segno = h.segno;
	*first_index = h.first_index;
	*prologue = h.prologue;
	for (at = sizeof h; at < n; k++) {
		struct myco__log_frame f;
		if (n - at < sizeof f)
			return rerr(err, cap, -EPROTO,
				    "truncated at byte %zu (record %llu): a partial frame header",
				    at, (unsigned long long)k);
		memcpy(&f, p + at, sizeof f);
		if (f.len > MYCO__LOG_BODY_MAX || f.zero || f.type == MYCO__REC_PAD ||
		    f.type >= ntypes)
			return rerr(err, cap, -EPROTO,
				    "scribbled at byte %zu (record %llu): impossible frame "
				    "(type %u, length %u)", at, (unsigned long long)k, f.type, f.len);
		size_t pad = (8 - (f.len & 7)) & 7;
		if (n - at - sizeof f < (size_t)f.len + pad)
			return rerr(err, cap, -EPROTO,
				    "truncated (or scribbled) at byte %zu (record %llu): the record "
				    "needs %u bytes, %zu are left", at, (unsigned long long)k, f.len,
				    n - at - sizeof f);
		const uint8_t *b = p + at + sizeof f;
		uint32_t c = myco__rec_fnv32((const uint8_t *)&f + 4, sizeof f - 4);
		for (uint32_t i = 0; i < f.len; i++)
			c = (c ^ b[i]) * 16777619u;
		if (c != f.check)
			return rerr(err, cap, -EPROTO,
				    "scribbled at byte %zu (record %llu): checksum mismatch", at,
				    (unsigned long long)k);
		if (!body_ok(h.version, f.type, b, f.len))
			return rerr(err, cap, -EPROTO,
				    "scribbled at byte %zu (record %llu): a %u record whose "
				    "lengths do not add up", at, (unsigned long long)k, f.type);
		int rc = each(arg, f.type, f.chan, b, f.len);
		if (rc < 0)
			return rc;
		at += sizeof f + f.len + pad;
	}
	return 0;
}

struct load_st {
	struct myco__rlog *l;
	uint32_t prologue;          /* records of this segment's prologue left to skip */
	int skip_prologue;
};

static int add_rec(void *arg, uint16_t type, uint16_t chan, const uint8_t *body, uint32_t len)
{
	struct load_st *st = arg;
	struct myco__rlog *l = st->l;

	if (st->prologue) {
		st->prologue--;
		if (st->skip_prologue)
			return 0;
	}
	struct myco__rlog_rec *p = realloc(l->recs, (l->n + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	l->recs = p;
	p[l->n++] = (struct myco__rlog_rec){ type, chan, len, body };
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void myco__rlog_free(struct myco__rlog *l)
{
	if (!l)
		return;
	free(l->recs);
	free(l->buf);
	free(l);
}

int myco__rlog_load(const char *path, struct myco__rlog **out, char *err, size_t cap)
{
	struct stat sb;
	char **names = NULL;
	size_t nn = 0;
	int rc = 0;

	*out = NULL;
	if (stat(path, &sb) < 0)
		return rerr(err, cap, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d)
			return rerr(err, cap, -errno, "%s: %s", path, strerror(errno));
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".mrl") || strncmp(de->d_name, "seg-", 4))
				continue;
			char **np = realloc(names, (nn + 1) * sizeof *names);
			if (!np || asprintf(&np[nn], "%s/%s", path, de->d_name) < 0) {
				names = np ? np : names;
				rc = -ENOMEM;
				break;
			}
			names = np;
			nn++;
		}
		closedir(d);
		if (rc == 0 && nn == 0)
			rc = rerr(err, cap, -ENOENT, "%s: no log segments (seg-*.mrl) in it", path);
	} else {
		names = malloc(sizeof *names);
		if (!names || !(names[0] = strdup(path)))
			rc = -ENOMEM;
		else
			nn = 1;
	}
	if (rc < 0)
		goto out;
	qsort(names, nn, sizeof *names, seg_cmp);
	/* one buffer for every segment so that record bodies stay put */
	size_t total = 0;
	for (size_t i = 0; i < nn; i++) {
		if (stat(names[i], &sb) < 0) {
			rc = rerr(err, cap, -errno, "%s: %s", names[i], strerror(errno));
			goto out;
		}
		total += ((size_t)sb.st_size + 7) & ~(size_t)7;
	}
	struct myco__rlog *l = calloc(1, sizeof *l);
	if (!l || !(l->buf = malloc(total ? total : 1))) {
		free(l);
		rc = -ENOMEM;
		goto out;
	}
	size_t off = 0;
	uint64_t expect = 0;
	for (size_t i = 0; i < nn; i++) {
		int fd = open(names[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0) {
			rc = rerr(err, cap, -errno, "%s: %s", names[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			myco__rlog_free(l);
			goto out;
		}
		size_t sz = (size_t)sb.st_size;
		rc = myco__read_full(fd, l->buf + off, sz);
		close(fd);
		if (rc < 0) {
			rerr(err, cap, rc, "%s: read: %s", names[i], strerror(-rc));
			myco__rlog_free(l);
			goto out;
		}
		uint64_t segno, first;
		size_t before = l->n;
		struct load_st st = { .l = l, .skip_prologue = i > 0 };
		char e2[256] = "";
		/* the prologue count comes from the header: parse it first */
		if (sz >= sizeof(struct myco__log_seg_hdr)) {
			struct myco__log_seg_hdr h;
			memcpy(&h, l->buf + off, sizeof h);
			st.prologue = h.prologue;
			l->version = h.version;     /* parse_seg checks it */
		}
		uint32_t pro;
		rc = myco__rlog_parse_seg(l->buf + off, sz, &segno, &first, &pro, add_rec, &st,
					  e2, sizeof e2);
		if (rc < 0) {
			rerr(err, cap, rc, "%s: %s", names[i], e2);
			myco__rlog_free(l);
			goto out;
		}
		if (i > 0 && first != expect)
			l->gaps += first > expect ? first - expect : 0;
		size_t added = l->n - before;
		expect = first + (i == 0 ? added - (pro < added ? pro : added) : added);
		off += (sz + 7) & ~(size_t)7;
	}
	l->nsegs = nn;
	/* the last run: from its START */
	l->run_start = 0;
	int have_start = 0;
	for (size_t i = l->n; i-- > 0;)
		if (l->recs[i].type == MYCO__REC_START) {
			l->run_start = i;
			have_start = 1;
			break;
		}
	if (!have_start) {
		rc = rerr(err, cap, -EPROTO, "%s: no START record: not the log of a partition run",
			  path);
		myco__rlog_free(l);
		goto out;
	}
	for (size_t i = l->run_start; i < l->n; i++) {
		if (l->recs[i].type == MYCO__REC_GAP) {
			struct myco__rb_value v;
			memcpy(&v, l->recs[i].body, sizeof v);
			l->gaps += v.v;
		}
		if (l->recs[i].type == MYCO__REC_CRASH) {
			struct myco__rb_crash c;
			memcpy(&c, l->recs[i].body, sizeof c);
			l->crashed = c.sig != 0;
			l->crash_sig = c.sig;
			l->crash_status = c.status;
		}
	}
	*out = l;
	rc = 0;
out:
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return rc;
}
