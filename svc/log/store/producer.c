/*
 * producer.c: idempotent-producer state of one partition, as Kafka keeps it
 * (ProducerStateManager): per producer id its epoch and the sequence ranges
 * and offsets of its last 5 batches; the duplicate / out-of-order / fenced
 * rules; snapshot files written at segment roll so that recovery only scans
 * the log after the newest snapshot.  Not for: transactions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

#define PS_MAGIC 0x4d4c5350u  /* "MLSP" */
#define PS_VERSION 1u

void myco__pstate_init(mls__pstate *ps)
{
	memset(ps, 0, sizeof(*ps));
}

void myco__pstate_clear(mls__pstate *ps)
{
	for (size_t i = 0; i < ps->nbuckets; i++) {
		mls__pentry *e = ps->buckets[i];
		while (e) {
			mls__pentry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(ps->buckets);
	memset(ps, 0, sizeof(*ps));
}

static size_t ps_hash(int64_t pid, size_t n)
{
	uint64_t x = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 32) & (n - 1);
}

static mls__pentry *ps_find(const mls__pstate *ps, int64_t pid)
{
	if (!ps->nbuckets)
		return NULL;
	for (mls__pentry *e = ps->buckets[ps_hash(pid, ps->nbuckets)]; e;
	     e = e->next)
		if (e->pid == pid)
			return e;
	return NULL;
}

static int ps_grow(mls__pstate *ps)
{
	size_t nn = ps->nbuckets ? ps->nbuckets * 2 : 64;
	mls__pentry **nb = calloc(nn, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < ps->nbuckets; i++) {
		mls__pentry *e = ps->buckets[i];
		while (e) {
			mls__pentry *n = e->next;
			size_t h = ps_hash(e->pid, nn);
			e->next = nb[h];
			nb[h] = e;
			e = n;
		}
	}
	free(ps->buckets);
	ps->buckets = nb;
	ps->nbuckets = nn;
	return 0;
}

void myco__pstate_truncate_head(mls__pstate *ps, int64_t log_start)
{
	for (size_t i = 0; i < ps->nbuckets; i++)
		for (mls__pentry **pp = &ps->buckets[i]; *pp;) {
			mls__pentry *e = *pp;
			if (e->n > 0 && e->b[e->n - 1].last_off < log_start) {
				*pp = e->next;
				free(e);
				ps->count--;
			} else {
				pp = &e->next;
			}
		}
}

/* Kafka DefaultRecordBatch.incrementSequence. */
int32_t myco__seq_add(int32_t seq, int32_t delta)
{
	if (seq > INT32_MAX - delta)
		return delta - (INT32_MAX - seq) - 1;
	return seq + delta;
}

static bool in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 ||
	       (next == 0 && last == INT32_MAX);
}

int myco__pstate_check(mls__pstate *ps, const mls_batch_header *b, mls__pbatch *dup)
{
	mls__pentry *e;
	int32_t first = b->base_seq;
	int32_t last = myco__seq_add(first, b->last_delta);

	if (b->producer_id < 0)
		return 0;
	e = ps_find(ps, b->producer_id);
	if (!e)
		return 0;   /* unknown producer: any sequence (Kafka) */
	if (b->producer_epoch < e->epoch)
		return -MYCO_ELOG_FENCED;
	if (b->attributes & MLS_ATTR_CONTROL)
		return 0;   /* a marker carries no sequence */
	if (b->producer_epoch == e->epoch) {
		for (int i = 0; i < e->n; i++)
			if (e->b[i].first_seq == first && e->b[i].last_seq == last) {
				*dup = e->b[i];
				return 1;
			}
		int32_t cur = e->n ? e->b[e->n - 1].last_seq : -1;
		if (!in_sequence(cur, first))
			return -MYCO_ELOG_OUT_OF_ORDER;
		return 0;
	}
	/* newer epoch: must start again at 0 */
	if (first != 0)
		return -MYCO_ELOG_OUT_OF_ORDER;
	return 0;
}

int myco__pstate_update(mls__pstate *ps, const mls_batch_header *b, int64_t base,
                        int64_t ts)
{
	mls__pentry *e;

	if (b->producer_id < 0)
		return 0;
	e = ps_find(ps, b->producer_id);
	if (!e) {
		if (ps->count + 1 > ps->nbuckets * 2) {
			int rc = ps_grow(ps);
			if (rc < 0)
				return rc;
		}
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->pid = b->producer_id;
		e->epoch = b->producer_epoch;
		size_t h = ps_hash(e->pid, ps->nbuckets);
		e->next = ps->buckets[h];
		ps->buckets[h] = e;
		ps->count++;
	}
	if (b->producer_epoch != e->epoch) {
		e->epoch = b->producer_epoch;
		e->n = 0;
	}
	if (b->attributes & MLS_ATTR_CONTROL)
		return 0;   /* a marker: only the epoch is kept */
	if (e->n == MLS_PRODUCER_BATCHES) {
		memmove(&e->b[0], &e->b[1], sizeof(e->b[0]) * (MLS_PRODUCER_BATCHES - 1));
		e->n--;
	}
	e->b[e->n].first_seq = b->base_seq;
	e->b[e->n].last_seq = myco__seq_add(b->base_seq, b->last_delta);
	e->b[e->n].first_off = base;
	e->b[e->n].last_off = base + b->last_delta;
	e->b[e->n].ts = ts;
	e->n++;
	return 0;
}

/* Snapshot layout (little-endian, host order is fine: same machine format
 * is checked by magic+version): u32 magic, u32 version, i64 offset,
 * u64 count, count * mls__pentry payload (pid, epoch, n, b[5]), u32 crc32c
 * of everything before it. */
struct snap_rec {
	int64_t pid;
	int32_t epoch;
	int32_t n;
	mls__pbatch b[MLS_PRODUCER_BATCHES];
};

int myco__pstate_save(const mls__pstate *ps, const char *path, int64_t offset)
{
	size_t sz = 24 + ps->count * sizeof(struct snap_rec) + 4;
	uint8_t *buf = calloc(1, sz);
	char tmp[4096];
	int fd = -1, rc = 0;
	size_t off = 24;
	uint32_t v;
	uint64_t cnt = ps->count;

	if (!buf)
		return -ENOMEM;
	v = PS_MAGIC; memcpy(buf, &v, 4);
	v = PS_VERSION; memcpy(buf + 4, &v, 4);
	memcpy(buf + 8, &offset, 8);
	memcpy(buf + 16, &cnt, 8);
	for (size_t i = 0; i < ps->nbuckets; i++)
		for (mls__pentry *e = ps->buckets[i]; e; e = e->next) {
			struct snap_rec r;
			memset(&r, 0, sizeof(r));
			r.pid = e->pid;
			r.epoch = e->epoch;
			r.n = e->n;
			memcpy(r.b, e->b, sizeof(r.b));
			memcpy(buf + off, &r, sizeof(r));
			off += sizeof(r);
		}
	v = mls_crc32c(0, buf, off);
	memcpy(buf + off, &v, 4);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = myco__write_full(fd, buf, sz);
	if (rc < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(buf);
	return rc;
}

int myco__pstate_load(mls__pstate *ps, const char *path, int64_t *offset)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	off_t sz;
	int rc = 0;
	uint32_t v, crc;
	uint64_t cnt;

	if (fd < 0)
		return -errno;
	sz = lseek(fd, 0, SEEK_END);
	if (sz < 28 || sz > (1 << 30)) {
		rc = -MYCO_ELOG_CORRUPT;
		goto out;
	}
	buf = malloc((size_t)sz);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)sz, 0) != sz) {
		rc = -MYCO_ELOG_CORRUPT;
		goto out;
	}
	memcpy(&v, buf, 4);
	memcpy(&crc, buf + sz - 4, 4);
	memcpy(&cnt, buf + 16, 8);
	if (v != PS_MAGIC || crc != mls_crc32c(0, buf, (size_t)sz - 4) ||
	    cnt != ((uint64_t)sz - 28) / sizeof(struct snap_rec) ||
	    ((uint64_t)sz - 28) % sizeof(struct snap_rec)) {
		rc = -MYCO_ELOG_CORRUPT;
		goto out;
	}
	memcpy(&v, buf + 4, 4);
	if (v != PS_VERSION) {
		rc = -MYCO_EVERSION;
		goto out;
	}
	memcpy(offset, buf + 8, 8);
	for (uint64_t i = 0; i < cnt; i++) {
		struct snap_rec r;
		memcpy(&r, buf + 24 + i * sizeof(r), sizeof(r));
		if (r.n < 0 || r.n > MLS_PRODUCER_BATCHES) {
			rc = -MYCO_ELOG_CORRUPT;
			goto out;
		}
		for (int k = 0; k < r.n; k++) {
			mls_batch_header b;
			memset(&b, 0, sizeof(b));
			b.producer_id = r.pid;
			b.producer_epoch = (int16_t)r.epoch;
			b.base_seq = r.b[k].first_seq;
			b.last_delta = (int32_t)(r.b[k].last_off - r.b[k].first_off);
			rc = myco__pstate_update(ps, &b, r.b[k].first_off, r.b[k].ts);
			if (rc < 0)
				goto out;
			/* keep the exact stored sequence (wrap-safe) */
		}
		if (r.n == 0) {
			mls_batch_header b;
			memset(&b, 0, sizeof(b));
			b.producer_id = r.pid;
			b.producer_epoch = (int16_t)r.epoch;
			rc = myco__pstate_update(ps, &b, 0, 0);
			if (rc < 0)
				goto out;
			mls__pentry *e = ps_find(ps, r.pid);
			if (e)
				e->n = 0;
		}
	}
out:
	free(buf);
	close(fd);
	return rc;
}
