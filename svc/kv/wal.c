/*
 * wal.c: myco-kv's durability: the write-ahead log with group commit, its
 * replay at start, the data directory lock, and snapshots taken by a
 * forked child (copy-on-write, as Redis does) so that the server never
 * stops to write one.  Not for: what a command does (replay runs the
 * commands through kv_exec like a client).
 *
 * Files in the data directory:
 *   LOCK           flock(2)ed by the running server (a second one fails)
 *   wal.<gen>      records, appended; a new generation starts at each
 *                  snapshot
 *   snapshot.kv    "MYCOKVS1", u64 lsn L, then records rebuilding every key
 *                  as of L; replaces the old one by rename(2)
 * Record: [u32 len][u32 crc32c of the rest][u64 lsn][u32 n] then n times
 * ([u8 db] one command as a RESP array).  A MULTI/EXEC is one record, so it
 * replays whole or not at all.  Recovery loads the snapshot, then replays
 * every wal generation in order, skipping records with lsn <= L, and cuts a
 * torn tail (short or bad CRC) off the last file.
 *
 * Group commit: appenders (loop threads, holding their shard locks) copy
 * the record into one buffer under a mutex and get its lsn; the sync thread
 * swaps the buffer out, writes it with one pwrite, and (appendfsync always)
 * one fdatasync, then publishes written/durable lsn and wakes waiting
 * connections.  A client's replies leave only when the lsn of its last
 * write is durable (always) or written to the kernel (everysec, no), so a
 * kill -9 loses nothing acknowledged in any mode and a power loss nothing
 * under always, up to 1 s under everysec.
 *
 * ENOSPC (or any write error): the partial write is truncated away, the
 * records stay in memory, write commands are refused with MISCONF, and the
 * sync thread retries every 100 ms; what waits for those records keeps
 * waiting, and nothing on disk is ever half a record.
 */
#include "kv_int.h"

#include "myco/rt.h"
#include "myco_int.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HDR KV_REC_HDR
#define SNAP_MAGIC "MYCOKVS1"

struct kv_wal {
	kv_srv_t *srv;
	int dirfd, lockfd, fd;
	uint64_t gen;
	_Atomic int64_t size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	kbuf_t buf;               /* records not yet written (mu) */
	uint64_t next_lsn;        /* last lsn handed out (mu) */
	bool rotate;              /* start a new generation (mu) after ...  */
	size_t rotate_off;        /* ... these many bytes of buf (mu)       */
	_Atomic uint64_t written, durable;
	pthread_t th;
	bool started, stop;
	myco_event_t *ev;
	uint64_t last_sync_ns;
	/* snapshots */
	pid_t child;
	uint64_t child_gen, child_lsn;
	_Atomic int64_t snap_ok_ms;
	_Atomic uint64_t snapshots, snap_fail;
	uint64_t snap_lsn;
	_Atomic uint64_t fsyncs, writes;
};

static int open_gen(kv_wal_t *w, uint64_t gen)
{
	char name[64];
	int fd;
	struct stat st;

	snprintf(name, sizeof(name), "wal.%llu", (unsigned long long)gen);
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->gen = gen;
	w->size = st.st_size;
	fsync(w->dirfd);
	return 0;
}

int kv_wal_open(kv_srv_t *srv, const char *dir, int appendfsync)
{
	kv_wal_t *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->srv = srv;
	w->fd = w->lockfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = kv_dir_lock(dir, &w->dirfd, &w->lockfd)) < 0) {
		free(w);
		return rc;
	}
	if ((rc = myco_event_create(&w->ev)) < 0) {
		close(w->lockfd);
		close(w->dirfd);
		free(w);
		return rc;
	}
	srv->wal = w;
	srv->appendfsync = appendfsync;
	return 0;
}

int kv_dir_lock(const char *dir, int *dirfd, int *lockfd)
{
	int dfd, lfd, rc;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	lfd = openat(dfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(lfd);
		close(dfd);
		return rc;
	}
	*dirfd = dfd;
	*lockfd = lfd;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Replay                                                              */
/* ------------------------------------------------------------------ */

/* Replay the records of buf[0..len); returns the length of the valid
 * prefix.  Records with lsn <= skip are checked but not applied. */
static size_t replay_buf(kv_srv_t *srv, kv_client_t *c, const char *buf, size_t len,
			 uint64_t skip, uint64_t *last_lsn, long *bad_cmds)
{
	size_t off = 0;
	kv_req_t req = { 0 };

	while (off + HDR <= len) {
		uint32_t rl, crc, n, i;
		uint64_t lsn;
		const char *p;
		size_t pos;
		bool hold;

		memcpy(&rl, buf + off, 4);
		memcpy(&crc, buf + off + 4, 4);
		if (rl > len - off - HDR)
			break;
		if (mls_crc32c(0, buf + off + 8, (size_t)rl + 12) != crc)
			break;
		memcpy(&lsn, buf + off + 8, 8);
		memcpy(&n, buf + off + 16, 4);
		p = buf + off + HDR;
		pos = 0;
		/* A replica applies a transaction's record as one step: no
		 * READONLY reader sees part of it. */
		hold = n > 1 && c->replay && lsn > skip;
		if (hold) {
			kv_lock_all(srv);
			c->held_all = true;
		}
		for (i = 0; i < n; i++) {
			const char *err;
			int used;
			if (pos >= rl)
				break;
			c->db = (unsigned char)p[pos] % KV_DBS;
			pos++;
			used = resp_parse(p + pos, rl - pos, &req, &err);
			if (used <= 0)
				break;
			if (lsn > skip) {
				c->r.len = 0;
				kv_exec(c, req.argc, req.argv);
				if (c->r.len && c->r.p[0] == '-')
					(*bad_cmds)++;
			}
			pos += (size_t)used;
		}
		if (hold) {
			c->held_all = false;
			kv_unlock_all(srv);
		}
		if (lsn > *last_lsn)
			*last_lsn = lsn;
		off += HDR + rl;
	}
	resp_req_free(&req);
	return off;
}

size_t kv_replay_records(kv_srv_t *srv, kv_client_t *c, const char *buf, size_t len,
			 long *bad_cmds)
{
	uint64_t last = 0;
	return replay_buf(srv, c, buf, len, 0, &last, bad_cmds);
}

void kv_record_hdr(char *hdr, uint64_t lsn, const void *p, size_t n, int ncmds)
{
	uint32_t len = (uint32_t)n, crc, nc = (uint32_t)ncmds;
	memcpy(hdr + 8, &lsn, 8);
	memcpy(hdr + 16, &nc, 4);
	crc = mls_crc32c(mls_crc32c(0, hdr + 8, 12), p, n);
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &crc, 4);
}

static int read_file(int dirfd, const char *name, char **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *b;
	int rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	rc = myco__read_full(fd, b, (size_t)st.st_size);
	close(fd);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = b;
	*len = (size_t)st.st_size;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int kv_wal_replay(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	kv_client_t *c = kv_client_new(srv);
	uint64_t snap_lsn = 0, last = 0, *gens = NULL;
	size_t ngens = 0, cap = 0, i;
	long bad = 0;
	char *b;
	size_t len;
	DIR *d;
	struct dirent *de;
	int rc = 0, dfd;

	if (!c)
		return -ENOMEM;
	atomic_fetch_sub(&srv->nclients, 1);
	srv->replaying = true;
	if (read_file(w->dirfd, "snapshot.kv", &b, &len) == 0) {
		if (len < 16 || memcmp(b, SNAP_MAGIC, 8)) {
			fprintf(stderr, "myco-kv: snapshot.kv is not a snapshot; refusing to start\n");
			free(b);
			rc = -MYCO_EVERSION;
			goto out;
		}
		memcpy(&snap_lsn, b + 8, 8);
		if (replay_buf(srv, c, b + 16, len - 16, 0, &last, &bad) != len - 16) {
			fprintf(stderr, "myco-kv: snapshot.kv is damaged; refusing to start\n");
			free(b);
			rc = -MYCO_EBROKEN;
			goto out;
		}
		free(b);
		w->snap_lsn = snap_lsn;
		last = snap_lsn;
	}
	dfd = dup(w->dirfd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		rc = -errno;
		goto out;
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long long g;
		if (strncmp(de->d_name, "wal.", 4))
			continue;
		g = strtoull(de->d_name + 4, &end, 10);
		if (*end)
			continue;
		if (ngens == cap) {
			uint64_t *ng = realloc(gens, (cap = cap ? cap * 2 : 8) * sizeof(*ng));
			if (!ng) {
				closedir(d);
				rc = -ENOMEM;
				goto out;
			}
			gens = ng;
		}
		gens[ngens++] = g;
	}
	closedir(d);
	if (ngens)
		qsort(gens, ngens, sizeof(*gens), cmp_u64);
	for (i = 0; i < ngens; i++) {
		char name[64];
		size_t good;
		snprintf(name, sizeof(name), "wal.%llu", (unsigned long long)gens[i]);
		if ((rc = read_file(w->dirfd, name, &b, &len)) < 0)
			goto out;
		good = replay_buf(srv, c, b, len, snap_lsn, &last, &bad);
		free(b);
		if (good != len) {
			int fd;
			fprintf(stderr, "myco-kv: %s: cut a torn tail of %zu bytes at offset %zu\n",
				name, len - good, good);
			if (i + 1 != ngens) {
				fprintf(stderr, "myco-kv: %s is damaged before the last log; refusing to start\n",
					name);
				rc = -MYCO_EBROKEN;
				goto out;
			}
			fd = openat(w->dirfd, name, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || ftruncate(fd, (off_t)good) < 0 || fsync(fd) < 0) {
				rc = -errno;
				if (fd >= 0)
					close(fd);
				goto out;
			}
			close(fd);
		}
	}
	w->next_lsn = last;
	w->written = w->durable = last;
	rc = open_gen(w, ngens ? gens[ngens - 1] : 1);
	if (bad)
		fprintf(stderr, "myco-kv: %ld logged commands failed on replay\n", bad);
out:
	free(gens);
	srv->replaying = false;
	atomic_fetch_add(&srv->nclients, 1);
	kv_client_free(c);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Appending and the sync thread                                       */
/* ------------------------------------------------------------------ */

uint64_t kv_wal_append(kv_srv_t *srv, const void *p, size_t n, int ncmds)
{
	return kv_wal_append_if(srv, p, n, ncmds, NULL, NULL);
}

uint64_t kv_wal_append_if(kv_srv_t *srv, const void *p, size_t n, int ncmds,
			  bool (*check)(void *arg), void *arg)
{
	kv_wal_t *w = srv->wal;
	char hdr[HDR];
	uint64_t lsn;

	pthread_mutex_lock(&w->mu);
	if (check && !check(arg)) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	lsn = ++w->next_lsn;
	kv_record_hdr(hdr, lsn, p, n, ncmds);
	kbuf_put(&w->buf, hdr, HDR);
	kbuf_put(&w->buf, p, n);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return lsn;
}

uint64_t kv_wal_durable(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	return srv->appendfsync == FSYNC_ALWAYS ? atomic_load(&w->durable) : atomic_load(&w->written);
}

void *kv_wal_event(kv_srv_t *srv);
void *kv_wal_event(kv_srv_t *srv)
{
	return srv->wal->ev;
}

static void set_error(kv_srv_t *srv, int err)
{
	atomic_store(&srv->wal_err, -err);
	if (!srv->wal_error)
		fprintf(stderr, "myco-kv: WAL write failed: %s; refusing writes until it succeeds\n",
			strerrordesc_np(-err));
	atomic_store(&srv->wal_error, true);
}

/* Write out[0..n) at the end of the current file, then fdatasync if
 * sync.  On failure the file is cut back to where it was.  0 or -errno. */
static int write_out(kv_wal_t *w, const char *p, size_t n, bool sync)
{
	size_t done = 0;
	ssize_t k;
	int err = 0;

	while (done < n) {
		k = pwrite(w->fd, p + done, n - done, w->size + (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			err = k < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)k;
	}
	if (!err && sync) {
		if (fdatasync(w->fd) < 0)
			err = -errno;
		atomic_fetch_add(&w->fsyncs, 1);
	}
	if (err) {
		if (ftruncate(w->fd, w->size) < 0 && err == 0)
			err = -errno;
		return err;
	}
	w->size += (off_t)n;
	return 0;
}

static void *sync_main(void *arg)
{
	kv_wal_t *w = arg;
	kv_srv_t *srv = w->srv;
	kbuf_t out = { 0 };
	sigset_t ss;

	sigfillset(&ss);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	for (;;) {
		uint64_t last;
		bool rot, always;
		size_t cut;
		int err = 0;

		pthread_mutex_lock(&w->mu);
		while (!w->buf.len && !w->rotate && !w->stop) {
			struct timespec ts;
			if (srv->appendfsync == FSYNC_EVERYSEC &&
			    atomic_load(&w->durable) < atomic_load(&w->written)) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 200 * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&w->cv, &w->mu, &ts);
				break;
			}
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (!w->buf.len && !w->rotate && w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		/* swap: the appenders go on into an empty buffer */
		{
			kbuf_t t = out;
			out = w->buf;
			w->buf = t;
			w->buf.len = 0;
		}
		last = w->next_lsn;
		rot = w->rotate;
		cut = rot ? w->rotate_off : out.len;
		pthread_mutex_unlock(&w->mu);
		always = srv->appendfsync == FSYNC_ALWAYS;

		/* Up to the snapshot's cut into the old generation, synced; the
		 * rest into the new one. */
		err = write_out(w, out.p, cut, always || rot);
		if (!err && rot) {
			pthread_mutex_lock(&w->mu);
			err = open_gen(w, w->gen + 1);
			if (!err)
				w->rotate = false;
			pthread_mutex_unlock(&w->mu);
			if (!err && cut < out.len)
				err = write_out(w, out.p + cut, out.len - cut, always);
			if (err)
				cut = out.len;   /* the cut is behind us either way */
		}
		if (err) {
			/* Keep every unwritten record in memory, in front of what
			 * came since, and try again later. */
			size_t keep = rot && !w->rotate ? out.len - cut : out.len;
			const char *from = out.p + (out.len - keep);
			set_error(srv, err);
			pthread_mutex_lock(&w->mu);
			{
				kbuf_t merged = { 0 };
				kbuf_put(&merged, from, keep);
				kbuf_put(&merged, w->buf.p, w->buf.len);
				if (!merged.oom) {
					kbuf_free(&w->buf);
					w->buf = merged;
				} else {
					kbuf_free(&merged);
				}
			}
			pthread_mutex_unlock(&w->mu);
			out.len = 0;
			usleep(100 * 1000);
			continue;
		}
		out.len = 0;
		atomic_fetch_add(&w->writes, 1);
		if (srv->wal_error)
			atomic_store(&srv->wal_error, false);
		atomic_store(&w->written, last);
		if (always) {
			atomic_store(&w->durable, last);
			w->last_sync_ns = myco_now();
		} else if (srv->appendfsync == FSYNC_EVERYSEC &&
			   myco_now() - w->last_sync_ns >= 1000000000ull) {
			if (fdatasync(w->fd) == 0)
				atomic_store(&w->durable, last);
			atomic_fetch_add(&w->fsyncs, 1);
			w->last_sync_ns = myco_now();
		}
		myco_event_notify(w->ev);
	}
	kbuf_free(&out);
	return NULL;
}

int kv_wal_start(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	int rc = pthread_create(&w->th, NULL, sync_main, w);
	if (rc)
		return -rc;
	w->started = true;
	w->last_sync_ns = myco_now();
	return 0;
}

void kv_wal_stop(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	if (!w || !w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->started = false;
}

void kv_wal_close(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	if (!w)
		return;
	kv_wal_stop(srv);
	if (w->fd >= 0) {
		fdatasync(w->fd);
		close(w->fd);
	}
	if (w->child > 0) {
		kill(w->child, SIGKILL);
		waitpid(w->child, NULL, 0);
	}
	kbuf_free(&w->buf);
	if (w->ev)
		myco_event_destroy(w->ev);
	close(w->lockfd);
	close(w->dirfd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	srv->wal = NULL;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                           */
/* ------------------------------------------------------------------ */

typedef struct snapw {
	int fd;
	kbuf_t b;
	kbuf_t rec;
	int nrec;
	uint64_t lsn;
	int err;
} snapw_t;

static void sw_flush(snapw_t *s)
{
	if (s->fd < 0)
		return;          /* kv_snapshot_mem: everything stays in b */
	if (s->b.len && !s->err) {
		int rc = myco__write_full(s->fd, s->b.p, s->b.len);
		if (rc < 0)
			s->err = rc;
	}
	s->b.len = 0;
}

static void sw_cmd_begin(snapw_t *s, int db, int argc)
{
	char tmp[32];
	unsigned char d = (unsigned char)db;
	int l = snprintf(tmp, sizeof(tmp), "*%d\r\n", argc);
	kbuf_put(&s->rec, &d, 1);
	kbuf_put(&s->rec, tmp, (size_t)l);
}

static void sw_arg(snapw_t *s, const void *p, size_t n)
{
	char tmp[32];
	int l = snprintf(tmp, sizeof(tmp), "$%zu\r\n", n);
	kbuf_put(&s->rec, tmp, (size_t)l);
	kbuf_put(&s->rec, p, n);
	kbuf_put(&s->rec, "\r\n", 2);
}

static void sw_cstr(snapw_t *s, const char *p)
{
	sw_arg(s, p, strlen(p));
}

static void sw_end_record(snapw_t *s)
{
	char hdr[HDR];
	if (!s->nrec)
		return;
	kv_record_hdr(hdr, s->lsn, s->rec.p, s->rec.len, s->nrec);
	kbuf_put(&s->b, hdr, HDR);
	kbuf_put(&s->b, s->rec.p, s->rec.len);
	s->rec.len = 0;
	s->nrec = 0;
	if (s->b.len > (1u << 20))
		sw_flush(s);
	if (s->b.oom || s->rec.oom)
		s->err = -ENOMEM;
}

#define CHUNK 512

static void snap_key(snapw_t *s, int db, de_t *e)
{
	kobj_t *o = e->v;
	size_t i, j, n;
	char num[64];
	uint64_t b;

	switch (o->type) {
	case T_STRING:
		sw_cmd_begin(s, db, 3);
		sw_cstr(s, "SET");
		sw_arg(s, e->key->d, e->key->len);
		sw_arg(s, o->s->d, o->s->len);
		s->nrec++;
		break;
	case T_LIST:
		for (i = 0; i < o->l->len; i += CHUNK) {
			n = o->l->len - i < CHUNK ? o->l->len - i : CHUNK;
			sw_cmd_begin(s, db, (int)n + 2);
			sw_cstr(s, "RPUSH");
			sw_arg(s, e->key->d, e->key->len);
			for (j = 0; j < n; j++) {
				ks_t *x = list_at(o->l, i + j);
				sw_arg(s, x->d, x->len);
			}
			s->nrec++;
			sw_end_record(s);
		}
		break;
	case T_HASH:
	case T_SET: {
		dict_t *d = o->type == T_HASH ? o->h : o->set;
		size_t per = o->type == T_HASH ? 2 : 1, cnt = 0;
		kbuf_t args = { 0 };
		snapw_t tmp = { 0 };
		for (b = 0; d->t && b <= d->mask; b++) {
			for (de_t *x = d->t[b]; x; x = x->next) {
				tmp.rec = args;
				sw_arg(&tmp, x->key->d, x->key->len);
				if (per == 2)
					sw_arg(&tmp, ((ks_t *)x->v)->d, ((ks_t *)x->v)->len);
				args = tmp.rec;
				cnt++;
				if (cnt == CHUNK) {
					sw_cmd_begin(s, db, (int)(cnt * per) + 2);
					sw_cstr(s, per == 2 ? "HSET" : "SADD");
					sw_arg(s, e->key->d, e->key->len);
					kbuf_put(&s->rec, args.p, args.len);
					s->nrec++;
					sw_end_record(s);
					args.len = 0;
					cnt = 0;
				}
			}
		}
		if (cnt) {
			sw_cmd_begin(s, db, (int)(cnt * per) + 2);
			sw_cstr(s, per == 2 ? "HSET" : "SADD");
			sw_arg(s, e->key->d, e->key->len);
			kbuf_put(&s->rec, args.p, args.len);
			s->nrec++;
		}
		kbuf_free(&args);
		break;
	}
	case T_ZSET:
		for (i = 0; i < o->z->n; i += CHUNK) {
			n = o->z->n - i < CHUNK ? o->z->n - i : CHUNK;
			sw_cmd_begin(s, db, (int)n * 2 + 2);
			sw_cstr(s, "ZADD");
			sw_arg(s, e->key->d, e->key->len);
			for (j = 0; j < n; j++) {
				fmt_double(num, sizeof(num), o->z->a[i + j].score);
				sw_cstr(s, num);
				sw_arg(s, o->z->a[i + j].member->d, o->z->a[i + j].member->len);
			}
			s->nrec++;
			sw_end_record(s);
		}
		break;
	}
	if (o->expire >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)o->expire);
		sw_cmd_begin(s, db, 3);
		sw_cstr(s, "PEXPIREAT");
		sw_arg(s, e->key->d, e->key->len);
		sw_cstr(s, num);
		s->nrec++;
	}
	sw_end_record(s);
}

static void snap_all(kv_srv_t *srv, snapw_t *s)
{
	unsigned i;
	int db;
	size_t b;

	for (i = 0; i < srv->nshards && !s->err; i++)
		for (db = 0; db < KV_DBS && !s->err; db++) {
			dict_t *d = &srv->shards[i].db[db];
			for (b = 0; d->t && b <= d->mask && !s->err; b++)
				for (de_t *e = d->t[b]; e; e = e->next)
					snap_key(s, db, e);
		}
}

int kv_snapshot_mem(kv_srv_t *srv, uint64_t lsn, kbuf_t *out)
{
	snapw_t s = { .fd = -1, .lsn = lsn };

	kbuf_put(&s.b, SNAP_MAGIC, 8);
	kbuf_put(&s.b, &lsn, 8);
	snap_all(srv, &s);
	kbuf_free(&s.rec);
	if (s.err || s.b.oom) {
		kbuf_free(&s.b);
		return s.err ? s.err : -ENOMEM;
	}
	*out = s.b;
	return 0;
}

struct kv_pins {
	size_t n, cap;
	struct pin {
		kobj_t *o;       /* a reference of ours */
		ks_t *key;       /* a copy */
		int db;
	} *a;
};

void kv_snapshot_unpin(kv_pins_t *pins)
{
	size_t i;
	if (!pins)
		return;
	for (i = 0; i < pins->n; i++) {
		obj_free(pins->a[i].o);
		ks_free(pins->a[i].key);
	}
	free(pins->a);
	free(pins);
}

kv_pins_t *kv_snapshot_pin(kv_srv_t *srv)
{
	kv_pins_t *pins = calloc(1, sizeof(*pins));
	size_t total = 0, b;
	unsigned i;
	int db;

	if (!pins)
		return NULL;
	for (i = 0; i < srv->nshards; i++)
		for (db = 0; db < KV_DBS; db++)
			total += srv->shards[i].db[db].n;
	pins->cap = total ? total : 1;
	pins->a = malloc(pins->cap * sizeof(*pins->a));
	if (!pins->a) {
		free(pins);
		return NULL;
	}
	for (i = 0; i < srv->nshards; i++)
		for (db = 0; db < KV_DBS; db++) {
			dict_t *d = &srv->shards[i].db[db];
			for (b = 0; d->t && b <= d->mask; b++)
				for (de_t *e = d->t[b]; e; e = e->next) {
					struct pin *p = &pins->a[pins->n];
					p->key = ks_new(e->key->d, e->key->len);
					if (!p->key) {
						kv_snapshot_unpin(pins);
						return NULL;
					}
					p->o = e->v;
					p->db = db;
					atomic_fetch_add(&p->o->refs, 1);
					pins->n++;
				}
		}
	return pins;
}

int kv_snapshot_write(kv_pins_t *pins, uint64_t lsn, kbuf_t *out)
{
	snapw_t s = { .fd = -1, .lsn = lsn };
	size_t i;

	kbuf_put(&s.b, SNAP_MAGIC, 8);
	kbuf_put(&s.b, &lsn, 8);
	for (i = 0; i < pins->n && !s.err; i++) {
		de_t e = { .key = pins->a[i].key, .v = pins->a[i].o };
		snap_key(&s, pins->a[i].db, &e);
	}
	kbuf_free(&s.rec);
	kv_snapshot_unpin(pins);
	if (s.err || s.b.oom) {
		kbuf_free(&s.b);
		return s.err ? s.err : -ENOMEM;
	}
	*out = s.b;
	return 0;
}

int kv_snapshot_load(kv_srv_t *srv, kv_client_t *c, const char *p, size_t len)
{
	long bad = 0;

	size_t good, i;

	if (len < 16 || memcmp(p, SNAP_MAGIC, 8))
		return -MYCO_EVERSION;
	good = kv_replay_records(srv, c, p + 16, len - 16, &bad);
	/* raft pads to 8 bytes: up to 7 zero bytes may follow */
	if (len - 16 - good >= 8)
		return -MYCO_EBROKEN;
	for (i = 16 + good; i < len; i++)
		if (p[i])
			return -MYCO_EBROKEN;
	return 0;
}

/* In the child: write every key as of now to snapshot.tmp, then rename. */
static int snap_child(kv_wal_t *w, uint64_t lsn)
{
	kv_srv_t *srv = w->srv;
	snapw_t s = { .lsn = lsn };

	s.fd = openat(w->dirfd, "snapshot.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s.fd < 0)
		return -errno;
	kbuf_put(&s.b, SNAP_MAGIC, 8);
	kbuf_put(&s.b, &lsn, 8);
	snap_all(srv, &s);
	sw_flush(&s);
	if (!s.err && fsync(s.fd) < 0)
		s.err = -errno;
	close(s.fd);
	if (!s.err && renameat(w->dirfd, "snapshot.tmp", w->dirfd, "snapshot.kv") < 0)
		s.err = -errno;
	if (!s.err)
		fsync(w->dirfd);
	if (s.err)
		unlinkat(w->dirfd, "snapshot.tmp", 0);
	return s.err;
}

int kv_wal_bgsave(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	uint64_t lsn, gen;
	pid_t pid;

	if (!w)
		return -ENOTSUP;
	pthread_mutex_lock(&w->mu);
	if (w->child > 0 || w->rotate) {
		pthread_mutex_unlock(&w->mu);
		return -EBUSY;
	}
	pthread_mutex_unlock(&w->mu);
	/* A consistent cut: every shard and the log stand still for fork(). */
	kv_lock_all(srv);
	pthread_mutex_lock(&w->mu);
	lsn = w->next_lsn;
	gen = w->gen;
	w->rotate = true;
	w->rotate_off = w->buf.len;
	pid = fork();
	if (pid == 0) {
		int rc = snap_child(w, lsn);
		_exit(rc < 0 ? 1 : 0);
	}
	if (pid < 0) {
		int e = -errno;
		w->rotate = false;
		pthread_mutex_unlock(&w->mu);
		kv_unlock_all(srv);
		return e;
	}
	w->child = pid;
	w->child_gen = gen;
	w->child_lsn = lsn;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	kv_unlock_all(srv);
	return 0;
}

/* Reap a finished snapshot child; on success remove the wal generations
 * it covers (every record in them has lsn <= the snapshot's). */
void kv_wal_tick(kv_srv_t *srv)
{
	kv_wal_t *w = srv->wal;
	int st;
	pid_t p;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->child <= 0) {
		bool big = srv->snap_threshold > 0 && w->size > srv->snap_threshold &&
			   !w->rotate;
		pthread_mutex_unlock(&w->mu);
		if (big)
			(void)kv_wal_bgsave(srv);
		return;
	}
	if (w->rotate) {   /* the log has not switched files yet */
		pthread_mutex_unlock(&w->mu);
		return;
	}
	p = waitpid(w->child, &st, WNOHANG);
	if (p != w->child) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	w->child = 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		uint64_t g;
		char name[64];
		for (g = w->child_gen; g > 0; g--) {
			snprintf(name, sizeof(name), "wal.%llu", (unsigned long long)g);
			if (unlinkat(w->dirfd, name, 0) < 0 && errno == ENOENT && g < w->child_gen)
				break;
		}
		fsync(w->dirfd);
		w->snap_lsn = w->child_lsn;
		atomic_store(&w->snap_ok_ms, kv_mstime());
		atomic_fetch_add(&w->snapshots, 1);
	} else {
		atomic_fetch_add(&w->snap_fail, 1);
		fprintf(stderr, "myco-kv: snapshot failed; the log is kept\n");
	}
	pthread_mutex_unlock(&w->mu);
}

void kv_wal_info(kv_srv_t *srv, kbuf_t *b)
{
	kv_wal_t *w = srv->wal;
	char tmp[512];
	int n;
	pthread_mutex_lock(&w->mu);
	n = snprintf(tmp, sizeof(tmp),
		     "aof_current_size:%lld\r\nwal_generation:%llu\r\nwal_lsn:%llu\r\n"
		     "wal_written_lsn:%llu\r\nwal_durable_lsn:%llu\r\nwal_writes:%llu\r\n"
		     "wal_fsyncs:%llu\r\nrdb_bgsave_in_progress:%d\r\nsnapshot_lsn:%llu\r\n"
		     "snapshots:%llu\r\nsnapshot_failures:%llu\r\n",
		     (long long)w->size, (unsigned long long)w->gen,
		     (unsigned long long)w->next_lsn, (unsigned long long)w->written,
		     (unsigned long long)w->durable, (unsigned long long)w->writes,
		     (unsigned long long)w->fsyncs, w->child > 0,
		     (unsigned long long)w->snap_lsn, (unsigned long long)w->snapshots,
		     (unsigned long long)w->snap_fail);
	pthread_mutex_unlock(&w->mu);
	kbuf_put(b, tmp, (size_t)n);
}
