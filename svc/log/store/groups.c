/*
 * groups.c: consumer group offsets, stored durably in DATA/group_offsets:
 * an 8-byte header then records [u32 len][u32 crc32c][payload], appended
 * on every commit and compacted (latest value per key only) on open.  A map
 * in memory answers fetch and list.  Guarded by st->gmu.  Not for: group
 * membership or generations (the broker's coordinator).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define G_MAGIC "MLSGOFF1"
#define G_COMMIT 1
#define G_DELETE 2
#define G_DELETE_OFFSET 3      /* one partition's offset (OffsetDelete) */
#define G_MAX_GROUP 255
#define G_MAX_META 4096

struct mls__gentry {
	char *group, *topic, *meta;   /* owned; meta NUL-terminated too */
	size_t metalen;               /* meta's bytes (may hold NULs) */
	int32_t partition, epoch;
	int64_t offset;
	struct mls__gentry *next;
};

static uint64_t ghash(const char *g, const char *t, int32_t part)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *c = g; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *c = t; *c; c++)
		h = (h ^ (uint8_t)*c) * 1099511628211ull;
	return (h ^ (uint32_t)part) * 1099511628211ull;
}

static mls__gentry **gslot(struct mls_store *st, const char *g, const char *t,
                           int32_t part)
{
	mls__gentry **pp = &st->gbuckets[ghash(g, t, part) & (st->gnbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->partition == part && !strcmp((*pp)->group, g) &&
		    !strcmp((*pp)->topic, t))
			break;
	return pp;
}

static void gentry_free(mls__gentry *e)
{
	free(e->group);
	free(e->topic);
	free(e->meta);
	free(e);
}

static int ggrow(struct mls_store *st)
{
	size_t nn = st->gnbuckets ? st->gnbuckets * 2 : 256;
	mls__gentry **nb = calloc(nn, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i], *n; e; e = n) {
			n = e->next;
			size_t h = ghash(e->group, e->topic, e->partition) & (nn - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	free(st->gbuckets);
	st->gbuckets = nb;
	st->gnbuckets = nn;
	return 0;
}

static int gput(struct mls_store *st, const char *g, const char *t,
                int32_t part, int64_t off, int32_t epoch, const char *meta,
                size_t ml)
{
	if (st->gcount + 1 > st->gnbuckets) {
		int rc = ggrow(st);
		if (rc < 0)
			return rc;
	}
	mls__gentry **pp = gslot(st, g, t, part);
	char *m = malloc(ml + 1);
	if (!m)
		return -ENOMEM;
	if (ml)
		memcpy(m, meta, ml);
	m[ml] = 0;
	if (*pp) {
		free((*pp)->meta);
		(*pp)->meta = m;
		(*pp)->metalen = ml;
		(*pp)->offset = off;
		(*pp)->epoch = epoch;
		return 0;
	}
	mls__gentry *e = calloc(1, sizeof(*e));
	if (!e || !(e->group = strdup(g)) || !(e->topic = strdup(t))) {
		free(m);
		if (e)
			gentry_free(e);
		return -ENOMEM;
	}
	e->meta = m;
	e->metalen = ml;
	e->partition = part;
	e->offset = off;
	e->epoch = epoch;
	*pp = e;
	st->gcount++;
	return 0;
}

static void gdel_one(struct mls_store *st, const char *g, const char *t, int32_t part)
{
	mls__gentry **pp = gslot(st, g, t, part);
	if (*pp) {
		mls__gentry *e = *pp;
		*pp = e->next;
		gentry_free(e);
		st->gcount--;
	}
}

static void gdel_group(struct mls_store *st, const char *g)
{
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry **pp = &st->gbuckets[i]; *pp;) {
			if (!strcmp((*pp)->group, g)) {
				mls__gentry *e = *pp;
				*pp = e->next;
				gentry_free(e);
				st->gcount--;
			} else {
				pp = &(*pp)->next;
			}
		}
}

/* Encode one record into buf (NULL = size only).  Returns its size. */
static size_t genc(uint8_t *buf, int type, const char *g, const char *t,
                   int32_t part, int64_t off, int32_t epoch, const char *meta,
                   size_t ml)
{
	size_t gl = strlen(g), tl = t ? strlen(t) : 0;
	size_t pl = 1 + 2 + gl + (type == G_COMMIT ? 2 + tl + 4 + 8 + 4 + 4 + ml :
	                          type == G_DELETE_OFFSET ? 2 + tl + 4 : 0);
	if (buf) {
		uint8_t *p = buf + 8;
		*p++ = (uint8_t)type;
		mls__put16(p, (uint16_t)gl); p += 2;
		memcpy(p, g, gl); p += gl;
		if (type == G_COMMIT) {
			mls__put16(p, (uint16_t)tl); p += 2;
			memcpy(p, t, tl); p += tl;
			mls__put32(p, (uint32_t)part); p += 4;
			mls__put64(p, (uint64_t)off); p += 8;
			mls__put32(p, (uint32_t)epoch); p += 4;
			mls__put32(p, (uint32_t)ml); p += 4;
			if (ml)
				memcpy(p, meta, ml);
		} else if (type == G_DELETE_OFFSET) {
			mls__put16(p, (uint16_t)tl); p += 2;
			memcpy(p, t, tl); p += tl;
			mls__put32(p, (uint32_t)part);
		}
		mls__put32(buf, (uint32_t)pl);
		mls__put32(buf + 4, mls_crc32c(0, buf + 8, pl));
	}
	return 8 + pl;
}

/* Decode records from buf; stops at the first torn/invalid one.  Returns
 * the number of valid bytes. */
static size_t gdecode(struct mls_store *st, const uint8_t *buf, size_t n)
{
	size_t pos = 0;
	char g[G_MAX_GROUP + 1], t[MLS_TOPIC_NAME_MAX + 1];

	while (pos + 8 <= n) {
		uint32_t pl = mls__be32(buf + pos);
		const uint8_t *p = buf + pos + 8, *e;
		if (pl < 3 || pl > n - pos - 8 ||
		    mls_crc32c(0, p, pl) != mls__be32(buf + pos + 4))
			break;
		e = p + pl;
		int type = *p++;
		size_t gl = mls__be16(p); p += 2;
		if (gl > G_MAX_GROUP || (size_t)(e - p) < gl)
			break;
		memcpy(g, p, gl); g[gl] = 0; p += gl;
		if (type == G_DELETE) {
			gdel_group(st, g);
		} else if (type == G_DELETE_OFFSET) {
			if (e - p < 2)
				break;
			size_t tl = mls__be16(p); p += 2;
			if (tl > MLS_TOPIC_NAME_MAX || (size_t)(e - p) != tl + 4)
				break;
			memcpy(t, p, tl); t[tl] = 0; p += tl;
			gdel_one(st, g, t, (int32_t)mls__be32(p));
		} else if (type == G_COMMIT) {
			if (e - p < 2)
				break;
			size_t tl = mls__be16(p); p += 2;
			if (tl > MLS_TOPIC_NAME_MAX || (size_t)(e - p) < tl + 20)
				break;
			memcpy(t, p, tl); t[tl] = 0; p += tl;
			int32_t part = (int32_t)mls__be32(p); p += 4;
			int64_t off = (int64_t)mls__be64(p); p += 8;
			int32_t ep = (int32_t)mls__be32(p); p += 4;
			size_t ml = mls__be32(p); p += 4;
			if (ml > G_MAX_META || (size_t)(e - p) != ml)
				break;
			int rc = gput(st, g, t, part, off, ep, (const char *)p, ml);
			if (rc < 0)
				break;
		} else {
			break;
		}
		pos += 8 + pl;
	}
	return pos;
}

int myco__groups_open(struct mls_store *st)
{
	char path[4096], tmp[4096];
	uint8_t *buf = NULL;
	int fd = -1, rc = 0;
	struct stat sb;

	rc = ggrow(st);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/group_offsets", st->dir);
	snprintf(tmp, sizeof(tmp), "%s/group_offsets.tmp", st->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &sb) < 0) {
			rc = -errno;
			goto out;
		}
		buf = malloc((size_t)sb.st_size + 1);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		if (pread(fd, buf, (size_t)sb.st_size, 0) != sb.st_size) {
			rc = -EIO;
			goto out;
		}
		if (sb.st_size >= 8 && !memcmp(buf, G_MAGIC, 8))
			gdecode(st, buf + 8, (size_t)sb.st_size - 8);
		close(fd);
		fd = -1;
		free(buf);
		buf = NULL;
	} else if (errno != ENOENT) {
		return -errno;
	}
	/* compact: the live entries only, atomically replacing the file */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	size_t total = 8;
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i]; e; e = e->next)
			total += genc(NULL, G_COMMIT, e->group, e->topic, 0, 0, 0, e->meta,
			              e->metalen);
	buf = malloc(total);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(buf, G_MAGIC, 8);
	size_t pos = 8;
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i]; e; e = e->next)
			pos += genc(buf + pos, G_COMMIT, e->group, e->topic,
			            e->partition, e->offset, e->epoch, e->meta, e->metalen);
	rc = myco__write_full(fd, buf, pos);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	fd = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		goto out;
	}
	myco__fsync_dir(st->dir);
	st->gfd = open(path, O_WRONLY | O_CLOEXEC);
	if (st->gfd < 0) {
		rc = -errno;
		goto out;
	}
	st->gsize = (int64_t)pos;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

void myco__groups_close(struct mls_store *st)
{
	if (st->gfd >= 0) {
		fdatasync(st->gfd);
		close(st->gfd);
		st->gfd = -1;
	}
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i], *n; e; e = n) {
			n = e->next;
			gentry_free(e);
		}
	free(st->gbuckets);
	st->gbuckets = NULL;
	st->gnbuckets = st->gcount = 0;
}

int myco__groups_sync(struct mls_store *st)
{
	int rc = 0;
	pthread_mutex_lock(&st->gmu);
	if (st->gdirty && st->gfd >= 0) {
		if (fdatasync(st->gfd) < 0)
			rc = -errno;
		else
			st->gdirty = false;
	}
	pthread_mutex_unlock(&st->gmu);
	return rc;
}

/* Append records (already encoded) and make them durable per policy. */
static int gappend(struct mls_store *st, const uint8_t *buf, size_t n)
{
	int rc;

	if (st->gfd < 0)
		return -EBADF;
	rc = myco__pwrite_full(st->gfd, buf, n, st->gsize);
	if (rc == 0 && st->cfg.fsync_policy == MLS_FSYNC_ALWAYS &&
	    fdatasync(st->gfd) < 0)
		rc = -errno;
	if (rc < 0) {
		/* not acknowledged: cut it off again */
		if (ftruncate(st->gfd, st->gsize) < 0)
			rc = rc ? rc : -errno;
		return rc;
	}
	st->gsize += (int64_t)n;
	if (st->cfg.fsync_policy != MLS_FSYNC_ALWAYS)
		st->gdirty = true;   /* the sync thread or mls_sync covers it */
	return 0;
}

static size_t meta_len(const mls_group_offset *o)
{
	if (!o->metadata)
		return 0;
	return o->metadata_len ? o->metadata_len : strlen(o->metadata);
}

int mls_group_commit(mls_store_t *st, const char *group,
                     const mls_group_offset *offs, size_t n)
{
	size_t total = 0, pos = 0;
	uint8_t *buf;
	int rc = 0;

	if (!group || strlen(group) > G_MAX_GROUP)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!offs[i].topic || strlen(offs[i].topic) > MLS_TOPIC_NAME_MAX ||
		    meta_len(&offs[i]) > G_MAX_META)
			return -EINVAL;
		total += genc(NULL, G_COMMIT, group, offs[i].topic, 0, 0, 0,
		              offs[i].metadata, meta_len(&offs[i]));
	}
	if (n == 0)
		return 0;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		pos += genc(buf + pos, G_COMMIT, group, offs[i].topic,
		            offs[i].partition, offs[i].offset,
		            offs[i].leader_epoch, offs[i].metadata, meta_len(&offs[i]));
	pthread_mutex_lock(&st->gmu);
	rc = gappend(st, buf, pos);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = gput(st, group, offs[i].topic, offs[i].partition,
		          offs[i].offset, offs[i].leader_epoch, offs[i].metadata,
		          meta_len(&offs[i]));
	pthread_mutex_unlock(&st->gmu);
	free(buf);
	return rc;
}

int mls_group_delete(mls_store_t *st, const char *group)
{
	uint8_t buf[8 + 3 + G_MAX_GROUP];
	int rc;

	if (!group || strlen(group) > G_MAX_GROUP)
		return -EINVAL;
	size_t n = genc(buf, G_DELETE, group, NULL, 0, 0, 0, NULL, 0);
	pthread_mutex_lock(&st->gmu);
	rc = gappend(st, buf, n);
	if (rc == 0)
		gdel_group(st, group);
	pthread_mutex_unlock(&st->gmu);
	return rc;
}

int mls_group_fetch(mls_store_t *st, const char *group, const char *topic,
                    int32_t partition, int64_t *offset, int32_t *leader_epoch,
                    char **metadata)
{
	int rc = 0;
	if (metadata)
		*metadata = NULL;
	pthread_mutex_lock(&st->gmu);
	mls__gentry *e = *gslot(st, group, topic, partition);
	if (!e) {
		rc = -ENOENT;
	} else {
		if (offset)
			*offset = e->offset;
		if (leader_epoch)
			*leader_epoch = e->epoch;
		if (metadata && !(*metadata = malloc(e->metalen + 1)))
			rc = -ENOMEM;
		else if (metadata)
			memcpy(*metadata, e->meta, e->metalen + 1);
	}
	pthread_mutex_unlock(&st->gmu);
	return rc;
}

static int cmp_goff(const void *a, const void *b)
{
	const mls_group_offset *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

int mls_group_list(mls_store_t *st, const char *group, mls_group_offset **out,
                   size_t *n)
{
	size_t cnt = 0, strs = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->gmu);
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i]; e; e = e->next)
			if (!strcmp(e->group, group)) {
				cnt++;
				strs += strlen(e->topic) + e->metalen + 2;
			}
	if (cnt) {
		mls_group_offset *v = malloc(cnt * sizeof(*v) + strs);
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		char *sp = (char *)(v + cnt);
		size_t k = 0;
		for (size_t i = 0; i < st->gnbuckets; i++)
			for (mls__gentry *e = st->gbuckets[i]; e; e = e->next) {
				if (strcmp(e->group, group))
					continue;
				size_t tl = strlen(e->topic) + 1, ml = e->metalen + 1;
				memcpy(sp, e->topic, tl);
				v[k].topic = sp;
				sp += tl;
				memcpy(sp, e->meta, ml);
				v[k].metadata = sp;
				v[k].metadata_len = e->metalen;
				sp += ml;
				v[k].partition = e->partition;
				v[k].offset = e->offset;
				v[k].leader_epoch = e->epoch;
				k++;
			}
		qsort(v, cnt, sizeof(*v), cmp_goff);
		*out = v;
		*n = cnt;
	}
out:
	pthread_mutex_unlock(&st->gmu);
	return rc;
}

int mls_group_delete_offset(mls_store_t *st, const char *group, const char *topic,
                            int32_t partition)
{
	uint8_t buf[8 + 3 + G_MAX_GROUP + 2 + MLS_TOPIC_NAME_MAX + 4];
	int rc;

	if (!group || strlen(group) > G_MAX_GROUP || !topic ||
	    strlen(topic) > MLS_TOPIC_NAME_MAX)
		return -EINVAL;
	pthread_mutex_lock(&st->gmu);
	if (!*gslot(st, group, topic, partition)) {
		pthread_mutex_unlock(&st->gmu);
		return 0;
	}
	size_t n = genc(buf, G_DELETE_OFFSET, group, topic, partition, 0, 0, NULL, 0);
	rc = gappend(st, buf, n);
	if (rc == 0)
		gdel_one(st, group, topic, partition);
	pthread_mutex_unlock(&st->gmu);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mls_group_names(mls_store_t *st, char ***out, size_t *n)
{
	size_t cnt = 0, strs = 0, k = 0, u = 0;
	char **v, *sp;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->gmu);
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i]; e; e = e->next) {
			cnt++;
			strs += strlen(e->group) + 1;
		}
	if (!cnt)
		goto out;
	v = malloc(cnt * sizeof(*v) + strs);
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	sp = (char *)(v + cnt);
	for (size_t i = 0; i < st->gnbuckets; i++)
		for (mls__gentry *e = st->gbuckets[i]; e; e = e->next) {
			size_t l = strlen(e->group) + 1;
			memcpy(sp, e->group, l);
			v[k++] = sp;
			sp += l;
		}
	qsort(v, cnt, sizeof(*v), cmp_str);
	for (k = 0; k < cnt; k++)             /* one entry per group */
		if (k == 0 || strcmp(v[k], v[u - 1]))
			v[u++] = v[k];
	*out = v;
	*n = u;
out:
	pthread_mutex_unlock(&st->gmu);
	return rc;
}
