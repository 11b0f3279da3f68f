/*
 * txnstate.c: the transaction state of one partition, as Kafka keeps it
 * for read_committed consumers: the ongoing transactions (producer id and
 * the offset of its first transactional batch: the smallest is the last
 * stable offset), the aborted transactions (producer id, first offset, the
 * offset of the abort marker), the control batch (commit/abort marker) the
 * broker appends at the end of a transaction, and the rebuild of both
 * lists from the log on open.
 * Not for: the transaction coordinator (svc/log/txn.c), sequence checks
 * (producer.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

#define TXN_FLAG_FILE "txn"

static mls__txn *ongoing_find(mls_partition_t *p, int64_t pid)
{
	for (size_t i = 0; i < p->ntxns; i++)
		if (p->txns[i].pid == pid)
			return &p->txns[i];
	return NULL;
}

int myco__txn_flag(mls_partition_t *p)
{
	char path[4096];
	int fd;

	if (p->has_txn)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", p->dir, TXN_FLAG_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	if (p->st->cfg.fsync_policy != MLS_FSYNC_NEVER)
		myco__fsync_dir(p->dir);
	p->has_txn = true;
	return 0;
}

int myco__txn_apply(mls_partition_t *p, const mls_batch_header *b, int64_t base,
                    int marker)
{
	mls__txn *t;

	if (!(b->attributes & MLS_ATTR_TRANSACTIONAL) || b->producer_id < 0)
		return 0;
	t = ongoing_find(p, b->producer_id);
	if (!(b->attributes & MLS_ATTR_CONTROL)) {
		if (t)
			return 0;
		if (p->ntxns == p->txns_cap) {
			size_t nc = p->txns_cap ? p->txns_cap * 2 : 8;
			mls__txn *n = realloc(p->txns, nc * sizeof(*n));
			if (!n)
				return -ENOMEM;
			p->txns = n;
			p->txns_cap = nc;
		}
		p->txns[p->ntxns].pid = b->producer_id;
		p->txns[p->ntxns].first = base;
		p->ntxns++;
		return 0;
	}
	/* a marker: the transaction of this producer ends here */
	if (!t)
		return 0;   /* nothing open (a marker written again after a crash) */
	if (marker == MLS_MARKER_ABORT) {
		if (p->naborts == p->aborts_cap) {
			size_t nc = p->aborts_cap ? p->aborts_cap * 2 : 8;
			mls__abort *n = realloc(p->aborts, nc * sizeof(*n));
			if (!n)
				return -ENOMEM;
			p->aborts = n;
			p->aborts_cap = nc;
		}
		p->aborts[p->naborts].pid = b->producer_id;
		p->aborts[p->naborts].first = t->first;
		p->aborts[p->naborts].last = base;
		p->naborts++;
	}
	*t = p->txns[--p->ntxns];
	return 0;
}

int64_t myco__txn_lso(const mls_partition_t *p)
{
	int64_t lso = p->hw;
	for (size_t i = 0; i < p->ntxns; i++)
		if (p->txns[i].first < lso)
			lso = p->txns[i].first;
	return lso;
}

/* Read an unsigned varint of the zigzag kind Kafka records use. */
static int rd_varint(const uint8_t *p, size_t n, size_t *at, int64_t *v)
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

int myco__txn_marker_type(const uint8_t *rec, size_t n)
{
	size_t at = 0;
	int64_t len, tsd, offd, klen;

	/* length, attributes, timestampDelta, offsetDelta, keyLength, key */
	if (rd_varint(rec, n, &at, &len) < 0 || at >= n)
		return -1;
	at++;                                   /* attributes */
	if (rd_varint(rec, n, &at, &tsd) < 0 || rd_varint(rec, n, &at, &offd) < 0 ||
	    rd_varint(rec, n, &at, &klen) < 0 || klen < 4 || at + 4 > n)
		return -1;
	if (mls__be16(rec + at) != 0)
		return -1;                      /* key version 0 only */
	switch (mls__be16(rec + at + 2)) {
	case 0: return MLS_MARKER_ABORT;
	case 1: return MLS_MARKER_COMMIT;
	default: return -1;
	}
}

size_t myco__txn_marker_build(uint8_t buf[MLS_MARKER_BYTES], int64_t pid, int16_t epoch,
                              int marker, int32_t coordinator_epoch, int64_t now)
{
	uint8_t *r = buf + MLS_BATCH_HDR;

	memset(buf, 0, MLS_MARKER_BYTES);
	mls__put32(buf + MLS_OFF_LENGTH, MLS_MARKER_BYTES - MLS_LOG_OVERHEAD);
	buf[MLS_OFF_MAGIC] = 2;
	mls__put16(buf + MLS_OFF_ATTR, MLS_ATTR_TRANSACTIONAL | MLS_ATTR_CONTROL);
	mls__put32(buf + MLS_OFF_LAST_DELTA, 0);
	mls__put64(buf + MLS_OFF_BASE_TS, (uint64_t)now);
	mls__put64(buf + MLS_OFF_MAX_TS, (uint64_t)now);
	mls__put64(buf + MLS_OFF_PID, (uint64_t)pid);
	mls__put16(buf + MLS_OFF_PEPOCH, (uint16_t)epoch);
	mls__put32(buf + MLS_OFF_BASE_SEQ, (uint32_t)-1);
	mls__put32(buf + MLS_OFF_COUNT, 1);
	/* one record: length 16 (zigzag 32), attributes 0, timestamp delta 0,
	 * offset delta 0, key (4 bytes: version 0, type), value (6 bytes:
	 * version 0, coordinator epoch), no headers */
	r[0] = 32;
	r[1] = 0;
	r[2] = 0;
	r[3] = 0;
	r[4] = 8;
	mls__put16(r + 5, 0);
	mls__put16(r + 7, marker == MLS_MARKER_COMMIT ? 1 : 0);
	r[9] = 12;
	mls__put16(r + 10, 0);
	mls__put32(r + 12, (uint32_t)coordinator_epoch);
	r[16] = 0;
	mls__put32(buf + MLS_OFF_CRC, mls_crc32c(0, buf + MLS_BATCH_CRC_START,
	                                         MLS_MARKER_BYTES - MLS_BATCH_CRC_START));
	return MLS_MARKER_BYTES;
}

struct walk_arg {
	mls_partition_t *p;
	mls__segment *s;
};

static int walk_fn(void *arg, const mls_batch_header *b, int64_t pos,
                   const uint8_t *data, size_t len)
{
	struct walk_arg *wa = arg;
	int marker = 0;

	(void)data;
	if (!(b->attributes & MLS_ATTR_TRANSACTIONAL))
		return 0;
	if (b->attributes & MLS_ATTR_CONTROL) {
		uint8_t rec[32];
		size_t n = len - MLS_BATCH_HDR < sizeof(rec) ? len - MLS_BATCH_HDR : sizeof(rec);
		int fd;
		ssize_t r = -1;
		if (len > MLS_BATCH_HDR && (fd = myco__seg_fd_get(wa->s)) >= 0) {
			r = pread(fd, rec, n, pos + MLS_BATCH_HDR);
			myco__seg_fd_put(wa->s);
		}
		if (r != (ssize_t)n)
			return 0;       /* unreadable marker: leave the txn open */
		marker = myco__txn_marker_type(rec, n);
		if (marker < 0)
			return 0;
	}
	return myco__txn_apply(wa->p, b, b->base_offset, marker);
}

int myco__txn_rebuild(mls_partition_t *p)
{
	char path[4096];
	int rc = 0;

	p->ntxns = 0;
	p->naborts = 0;
	snprintf(path, sizeof(path), "%s/%s", p->dir, TXN_FLAG_FILE);
	p->has_txn = access(path, F_OK) == 0;
	if (!p->has_txn)
		return 0;
	/* every segment: a transaction may have started long ago */
	for (size_t i = 0; i < p->nsegs && rc == 0; i++) {
		struct walk_arg wa = { p, p->segs[i] };
		rc = myco__seg_walk(p->segs[i], walk_fn, &wa);
	}
	return rc;
}

void myco__txn_truncate_head(mls_partition_t *p)
{
	size_t k = 0;
	for (size_t i = 0; i < p->naborts; i++)
		if (p->aborts[i].last >= p->log_start)
			p->aborts[k++] = p->aborts[i];
	p->naborts = k;
}

void myco__txn_free(mls_partition_t *p)
{
	free(p->txns);
	free(p->aborts);
	p->txns = NULL;
	p->aborts = NULL;
	p->ntxns = p->txns_cap = p->naborts = p->aborts_cap = 0;
}

/* ---- API ----------------------------------------------------------------- */

int mls_aborted_txns(mls_partition_t *p, int64_t from, int64_t to,
                     mls_aborted_txn **out, size_t *n)
{
	size_t k = 0;
	mls_aborted_txn *a = NULL;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->naborts; i++)
		if (p->aborts[i].last >= from && p->aborts[i].first < to)
			k++;
	if (k) {
		a = malloc(k * sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&p->mu);
			return -ENOMEM;
		}
		k = 0;
		for (size_t i = 0; i < p->naborts; i++)
			if (p->aborts[i].last >= from && p->aborts[i].first < to) {
				a[k].producer_id = p->aborts[i].pid;
				a[k].first_offset = p->aborts[i].first;
				a[k].last_offset = p->aborts[i].last;
				k++;
			}
	}
	pthread_mutex_unlock(&p->mu);
	*out = a;
	*n = k;
	return 0;
}
