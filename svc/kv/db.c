/*
 * db.c: the keyspace and the command dispatcher: hash slots and shards,
 * lookups with lazy expiry, WATCH bookkeeping, MULTI/EXEC, the shard locks a
 * command takes, and the WAL record each command leaves.  Not for: what a
 * command does (cmd_*.c), sockets (net.c), files (wal.c).
 *
 * Transactions: optimistic concurrency in the manner of Silo.  Every key
 * has a version word (KV_STRIPES words per shard, the key's hash picks
 * one; a word covers absent keys too, so a read of a missing key is
 * validated like any other).  A word is even when free and odd while a
 * committing EXEC that holds the shard's mutex has it locked; every change
 * to a key, by any command, adds 2 under the shard mutex (kv_touch).
 *
 *  1. Read phase.  EXEC runs the queued commands against private copies:
 *     the first time a command reaches a key (db_dict), the key's shard
 *     mutex is taken just long enough to copy the object and read its
 *     word; later commands of the transaction see the copy, so they read
 *     their own writes.  Writes change only the copies; kv_touch records
 *     the key in the write set.  No lock is held while commands run.
 *  2. Commit.  Lock the mutexes of the write set's shards in ascending
 *     order (the global order), set the lock bit of each written word,
 *     then validate: every word read is unchanged (on a shard we did not
 *     lock: also not locked by another committer), and the WATCH flag is
 *     clear.  With a WAL or raft, validation runs under the log's append
 *     lock and the transaction's record (all its commands, one record) is
 *     appended in the same critical section: log order is then the
 *     serialisation order, so replay and replicas reach the same state.
 *  3. Install.  Move the copies of the write set into the shards, count
 *     the change (version + 2, watchers flagged), clear the lock bits,
 *     unlock.
 *
 * A failed validation discards the copies and replies and runs the
 * transaction again (the client never sees a conflict); a set WATCH flag
 * ends it with a null reply, as Redis does.  After KV_TX_RETRIES
 * conflicts, and for transactions with a command that is not about named
 * keys (FLUSHDB, KEYS, PUBLISH, SELECT...), EXEC falls back to locking the
 * shards of every key it names, in ascending order, and running in place
 * (strict two-phase locking over shards).  Single-key commands never take
 * more than their own shard's mutex.  WATCH is exact: a write to a watched
 * key sets the watcher's flag under that key's shard mutex.
 */
#include "kv_int.h"

#include "myco/rt.h"

#include <assert.h>
#include <sched.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t kv_mstime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CRC16-CCITT (XMODEM), as Redis Cluster's key slots; table-driven (it
 * runs several times per command). */
static uint16_t crc16_tab[256];
static pthread_once_t crc16_once = PTHREAD_ONCE_INIT;

static void crc16_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t crc = (uint16_t)(i << 8);
		for (int j = 0; j < 8; j++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
		crc16_tab[i] = crc;
	}
}

static uint16_t crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	pthread_once(&crc16_once, crc16_init);
	for (i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16_tab[((crc >> 8) ^ (unsigned char)buf[i]) & 0xff]);
	return crc;
}

unsigned kv_slot(const char *k, size_t len)
{
	size_t s, e;
	for (s = 0; s < len; s++)
		if (k[s] == '{')
			break;
	if (s < len) {
		for (e = s + 1; e < len; e++)
			if (k[e] == '}')
				break;
		if (e < len && e != s + 1)
			return crc16(k + s + 1, e - s - 1) & 16383;
	}
	return crc16(k, len) & 16383;
}

static unsigned shard_idx(kv_srv_t *srv, const char *k, size_t len)
{
	return srv->nshards == 1 ? 0 : kv_slot(k, len) % srv->nshards;
}

kv_shard_t *kv_shard_of(kv_srv_t *srv, const char *k, size_t len)
{
	return &srv->shards[shard_idx(srv, k, len)];
}

/* The version word of key k in db, within its shard. */
static unsigned stripe_of(int db, const char *k, size_t len)
{
	uint64_t h = kv_hash(k, len) ^ ((uint64_t)(db + 1) * 0x9e3779b97f4a7c15ull);
	h ^= h >> 29;
	return (unsigned)(h & (KV_STRIPES - 1));
}

void kv_bump_all(kv_shard_t *sh)
{
	unsigned i;
	for (i = 0; i < KV_STRIPES; i++)
		atomic_fetch_add(&sh->ver[i], 2);
}

static dict_t *tx_dict(kv_client_t *c, int db, const char *k, size_t len);

dict_t *db_dict(kv_client_t *c, int db, const char *k, size_t len)
{
	unsigned s;
	if (c->tx)
		return tx_dict(c, db, k, len);
	s = shard_idx(c->srv, k, len);
	assert(kv_replaying(c) || c->shard_locked[s]);
	return &c->srv->shards[s].db[db];
}

void kv_expires_add(kv_client_t *c, int db, const char *k, size_t len, int delta)
{
	if (c->tx)
		return;          /* counted when the copy is installed */
	kv_shard_of(c->srv, k, len)->nexpires[db] += (size_t)(ssize_t)delta;
}

int kv_srv_init(kv_srv_t *srv, unsigned nshards)
{
	unsigned i;

	if (nshards == 0 || nshards > KV_SHARDS_MAX)
		return -EINVAL;
	srv->nshards = nshards;
	if (posix_memalign((void **)&srv->shards, 64, sizeof(kv_shard_t) * nshards))
		return -ENOMEM;
	memset(srv->shards, 0, sizeof(kv_shard_t) * nshards);
	for (i = 0; i < nshards; i++) {
		pthread_mutex_init(&srv->shards[i].mu, NULL);
		srv->shards[i].ver = calloc(KV_STRIPES, sizeof(*srv->shards[i].ver));
		if (!srv->shards[i].ver) {
			while (i--)
				free(srv->shards[i].ver);
			free(srv->shards);
			srv->shards = NULL;
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&srv->ps_mu, NULL);
	srv->start_ms = (uint64_t)kv_mstime();
	srv->next_client_id = 1;
	return 0;
}

static void free_watchers(void *v)
{
	watcher_t *w = v, *n;
	for (; w; w = n) {
		n = w->next;
		free(w);
	}
}

void kv_srv_fini(kv_srv_t *srv)
{
	unsigned i;
	int d;
	if (!srv->shards)
		return;
	for (i = 0; i < srv->nshards; i++) {
		for (d = 0; d < KV_DBS; d++) {
			dict_clear(&srv->shards[i].db[d], obj_free);
			dict_clear(&srv->shards[i].watch[d], free_watchers);
		}
		pthread_mutex_destroy(&srv->shards[i].mu);
		free(srv->shards[i].ver);
	}
	free(srv->shards);
	srv->shards = NULL;
	dict_clear(&srv->ps_channels, free_watchers);
}

void kv_lock_all(kv_srv_t *srv)
{
	unsigned i;
	for (i = 0; i < srv->nshards; i++)
		pthread_mutex_lock(&srv->shards[i].mu);
}

void kv_unlock_all(kv_srv_t *srv)
{
	unsigned i;
	for (i = srv->nshards; i-- > 0;)
		pthread_mutex_unlock(&srv->shards[i].mu);
}

/* ------------------------------------------------------------------ */
/* Clients                                                             */
/* ------------------------------------------------------------------ */

kv_client_t *kv_client_new(kv_srv_t *srv)
{
	kv_client_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->srv = srv;
	c->id = atomic_fetch_add(&srv->next_client_id, 1);
	c->resp = 2;
	pthread_mutex_init(&c->olock, NULL);
	atomic_fetch_add(&srv->nclients, 1);
	return c;
}

static void unwatch_all(kv_client_t *c);
static void discard_queue(kv_client_t *c);

void kv_client_free(kv_client_t *c)
{
	if (!c)
		return;
	unwatch_all(c);
	discard_queue(c);
	kv_pubsub_drop(c);
	kbuf_free(&c->r);
	kbuf_free(&c->push);
	kbuf_free(&c->txlog);
	free(c->q);
	free(c->w);
	pthread_mutex_destroy(&c->olock);
	atomic_fetch_sub(&c->srv->nclients, 1);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

static void tx_written(kv_client_t *c, int db, const char *k, size_t len);

void kv_touch(kv_client_t *c, int db, const char *k, size_t len)
{
	kv_shard_t *sh;
	de_t *e;
	watcher_t *w;

	if (c->tx) {
		tx_written(c, db, k, len);
		return;
	}
	sh = kv_shard_of(c->srv, k, len);
	atomic_fetch_add(&sh->ver[stripe_of(db, k, len)], 2);
	if (!sh->watch[db].n)
		return;
	e = dict_find(&sh->watch[db], k, len);
	if (!e)
		return;
	for (w = e->v; w; w = w->next)
		atomic_store(&w->c->dirty_cas, true);
}

void kv_modified(kv_client_t *c, const kv_arg_t *key)
{
	kv_touch(c, c->db, key->p, key->len);
	c->dirty++;
}

static void log_append_cmd(kv_client_t *c, int db, int argc, const kv_arg_t *argv)
{
	char tmp[32];
	unsigned char d = (unsigned char)db;
	int i, l;

	if (kv_replaying(c) || (!c->srv->wal && !c->srv->raft))
		return;
	kbuf_put(&c->txlog, &d, 1);
	l = snprintf(tmp, sizeof(tmp), "*%d\r\n", argc);
	kbuf_put(&c->txlog, tmp, (size_t)l);
	for (i = 0; i < argc; i++) {
		l = snprintf(tmp, sizeof(tmp), "$%zu\r\n", argv[i].len);
		kbuf_put(&c->txlog, tmp, (size_t)l);
		kbuf_put(&c->txlog, argv[i].p, argv[i].len);
		kbuf_put(&c->txlog, "\r\n", 2);
	}
	c->txlog_n++;
}

void kv_log(kv_client_t *c, int argc, const kv_arg_t *argv)
{
	log_append_cmd(c, c->db, argc, argv);
	c->logged = true;
}

/* Log "WORD arg arg..." where %s takes a kv_arg_t* and %d a long long:
 * a tiny format so that handlers can write rewrites in one line. */
void kv_log_cmd(kv_client_t *c, const char *fmt, ...)
{
	kv_arg_t av[8];
	char nums[8][32];
	int n = 0;
	va_list ap;
	const char *p = fmt;

	va_start(ap, fmt);
	while (*p && n < 8) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (p[0] == '%' && p[1] == 's') {
			av[n++] = *va_arg(ap, const kv_arg_t *);
			p += 2;
		} else if (p[0] == '%' && p[1] == 'd') {
			int l = snprintf(nums[n], sizeof(nums[n]), "%lld", va_arg(ap, long long));
			av[n].p = nums[n];
			av[n].len = (size_t)l;
			n++;
			p += 2;
		} else {
			const char *s = p;
			while (*p && *p != ' ')
				p++;
			av[n].p = s;
			av[n].len = (size_t)(p - s);
			n++;
		}
	}
	va_end(ap);
	kv_log(c, n, av);
}

static bool expired(kv_client_t *c, const kobj_t *o)
{
	return o->expire >= 0 && !kv_replaying(c) && o->expire <= kv_mstime();
}

/* A replica never deletes an expired key itself (the leader's DEL comes
 * through the log, as Redis replicas wait for the master's): it hides it. */
static bool may_delete_expired(kv_client_t *c)
{
	return !c->srv->raft || kv_raft_may_expire(c->srv);
}

static void delete_expired(kv_client_t *c, dict_t *d, const kv_arg_t *key, int db)
{
	de_t *e = dict_unlink(d, key->p, key->len);
	kv_arg_t av[2] = { { "DEL", 3 }, *key };

	if (!e)
		return;
	kv_expires_add(c, db, key->p, key->len, -1);
	obj_free(e->v);
	dict_free_entry(e);
	log_append_cmd(c, db, 2, av);
	kv_touch(c, db, key->p, key->len);
	atomic_fetch_add(&c->srv->stat_expired, 1);
}

kobj_t *db_get(kv_client_t *c, const kv_arg_t *key)
{
	dict_t *d = db_dict(c, c->db, key->p, key->len);
	de_t *e = dict_find(d, key->p, key->len);
	kobj_t *o;

	if (!e)
		return NULL;
	if (expired(c, e->v)) {
		if (may_delete_expired(c))
			delete_expired(c, d, key, c->db);
		return NULL;
	}
	o = e->v;
	if (c->cur && (c->cur->flags & CF_WRITE) && atomic_load(&o->refs) > 1) {
		/* a snapshot is writing this object: change a copy */
		kobj_t *n;
		while (!(n = obj_dup(o)) && atomic_load(&o->refs) > 1)
			sched_yield();   /* no memory: wait for the snapshot */
		if (n) {
			e->v = n;
			obj_free(o);
			o = n;
		}
	}
	return o;
}

kobj_t *db_get_type(kv_client_t *c, const kv_arg_t *key, int type, bool *wrong)
{
	kobj_t *o = db_get(c, key);
	*wrong = false;
	if (o && o->type != type) {
		*wrong = true;
		r_wrongtype(c);
		return NULL;
	}
	return o;
}

int db_set(kv_client_t *c, const kv_arg_t *key, kobj_t *o)
{
	dict_t *d = db_dict(c, c->db, key->p, key->len);
	bool isnew;
	de_t *e = dict_upsert(d, key->p, key->len, &isnew);

	if (!e)
		return -ENOMEM;
	if (!isnew) {
		kobj_t *old = e->v;
		if (old->expire >= 0)
			kv_expires_add(c, c->db, key->p, key->len, -1);
		obj_free(old);
	}
	e->v = o;
	if (o->expire >= 0)
		kv_expires_add(c, c->db, key->p, key->len, 1);
	kv_modified(c, key);
	return 0;
}

bool db_del(kv_client_t *c, const kv_arg_t *key)
{
	dict_t *d = db_dict(c, c->db, key->p, key->len);
	de_t *e = dict_find(d, key->p, key->len);
	kobj_t *o;

	if (!e)
		return false;
	if (expired(c, e->v)) {
		if (may_delete_expired(c))
			delete_expired(c, d, key, c->db);
		return false;
	}
	e = dict_unlink(d, key->p, key->len);
	o = e->v;
	if (o->expire >= 0)
		kv_expires_add(c, c->db, key->p, key->len, -1);
	obj_free(o);
	dict_free_entry(e);
	kv_modified(c, key);
	return true;
}

void kv_wake_blocked(kv_srv_t *srv)
{
	atomic_fetch_add(&srv->push_seq, 1);
	if (srv->push_ev && atomic_load(&srv->nblocked) > 0)
		myco_event_notify(srv->push_ev);
}

/* ------------------------------------------------------------------ */
/* WATCH                                                               */
/* ------------------------------------------------------------------ */

static void unwatch_all(kv_client_t *c)
{
	int i;
	for (i = 0; i < c->nw; i++) {
		wkey_t *wk = &c->w[i];
		kv_shard_t *sh = kv_shard_of(c->srv, wk->key->d, wk->key->len);
		de_t *e;
		pthread_mutex_lock(&sh->mu);
		e = dict_find(&sh->watch[wk->db], wk->key->d, wk->key->len);
		if (e) {
			watcher_t **pp = (watcher_t **)&e->v, *w;
			for (; (w = *pp); pp = &w->next) {
				if (w->c == c) {
					*pp = w->next;
					free(w);
					break;
				}
			}
			if (!e->v) {
				e = dict_unlink(&sh->watch[wk->db], wk->key->d, wk->key->len);
				dict_free_entry(e);
			}
		}
		pthread_mutex_unlock(&sh->mu);
		ks_free(wk->key);
	}
	c->nw = 0;
	atomic_store(&c->dirty_cas, false);
}

static KV_CMD(cmd_watch)
{
	int i, j;

	if (c->in_multi) {
		r_err(c, "ERR WATCH inside MULTI is not allowed");
		return;
	}
	for (i = 1; i < argc; i++) {
		kv_shard_t *sh = kv_shard_of(c->srv, argv[i].p, argv[i].len);
		watcher_t *w;
		bool isnew, dup = false;
		de_t *e;
		kobj_t *o;
		for (j = 0; j < c->nw; j++)
			if (c->w[j].db == c->db && c->w[j].key->len == argv[i].len &&
			    !memcmp(c->w[j].key->d, argv[i].p, argv[i].len))
				dup = true;
		if (dup)
			continue;
		if (c->nw == c->wcap) {
			int nc = c->wcap ? c->wcap * 2 : 4;
			wkey_t *nw = realloc(c->w, (size_t)nc * sizeof(*nw));
			if (!nw)
				goto oom;
			c->w = nw;
			c->wcap = nc;
		}
		w = calloc(1, sizeof(*w));
		if (!w)
			goto oom;
		w->c = c;
		e = dict_upsert(&sh->watch[c->db], argv[i].p, argv[i].len, &isnew);
		if (!e) {
			free(w);
			goto oom;
		}
		w->next = e->v;
		e->v = w;
		c->w[c->nw].db = c->db;
		c->w[c->nw].key = ks_new(argv[i].p, argv[i].len);
		e = dict_find(&sh->db[c->db], argv[i].p, argv[i].len);
		o = e ? e->v : NULL;
		c->w[c->nw].expired = o && o->expire >= 0 && o->expire <= kv_mstime();
		c->nw++;
	}
	r_ok(c);
	return;
oom:
	r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
}

/* A watched key that was live when watched and has expired since counts
 * as changed (Redis 7). */
static bool watched_expired(kv_client_t *c)
{
	int i;
	int64_t now = kv_mstime();
	for (i = 0; i < c->nw; i++) {
		kv_shard_t *sh;
		de_t *e;
		kobj_t *o;
		if (c->w[i].expired)
			continue;
		sh = kv_shard_of(c->srv, c->w[i].key->d, c->w[i].key->len);
		e = dict_find(&sh->db[c->w[i].db], c->w[i].key->d, c->w[i].key->len);
		o = e ? e->v : NULL;
		if (o && o->expire >= 0 && o->expire <= now)
			return true;
	}
	return false;
}

static KV_CMD(cmd_unwatch)
{
	(void)argc;
	(void)argv;
	if (!c->in_exec)   /* inside EXEC the keys are unwatched already */
		unwatch_all(c);
	r_ok(c);
}

/* ------------------------------------------------------------------ */
/* MULTI / EXEC                                                        */
/* ------------------------------------------------------------------ */

static void discard_queue(kv_client_t *c)
{
	int i, j;
	for (i = 0; i < c->nq; i++) {
		for (j = 0; j < c->q[i].argc; j++)
			ks_free(c->q[i].argv[j]);
		free(c->q[i].argv);
	}
	c->nq = 0;
	c->in_multi = false;
	c->multi_err = false;
}

static KV_CMD(cmd_multi)
{
	(void)argc;
	(void)argv;
	if (c->in_multi) {
		r_err(c, "ERR MULTI calls can not be nested");
		return;
	}
	c->in_multi = true;
	c->multi_err = false;
	r_ok(c);
}

static KV_CMD(cmd_discard)
{
	(void)argc;
	(void)argv;
	if (!c->in_multi) {
		r_err(c, "ERR DISCARD without MULTI");
		return;
	}
	discard_queue(c);
	unwatch_all(c);
	r_ok(c);
}

static int queue_cmd(kv_client_t *c, const kcmd_t *cmd, int argc, const kv_arg_t *argv)
{
	qcmd_t *q;
	int i;

	if (c->nq == c->qcap) {
		int nc = c->qcap ? c->qcap * 2 : 8;
		qcmd_t *nq = realloc(c->q, (size_t)nc * sizeof(*nq));
		if (!nq)
			return -ENOMEM;
		c->q = nq;
		c->qcap = nc;
	}
	q = &c->q[c->nq];
	q->cmd = cmd;
	q->argc = argc;
	q->argv = calloc((size_t)argc, sizeof(*q->argv));
	if (!q->argv)
		return -ENOMEM;
	for (i = 0; i < argc; i++) {
		q->argv[i] = ks_new(argv[i].p, argv[i].len);
		if (!q->argv[i]) {
			while (i--)
				ks_free(q->argv[i]);
			free(q->argv);
			return -ENOMEM;
		}
	}
	c->nq++;
	return 0;
}

/* Mark the shards cmd's keys live in; false if it needs all of them. */
static bool mark_shards(kv_client_t *c, const kcmd_t *cmd, int argc, const kv_arg_t *argv,
			bool *mark)
{
	int first, last, i;

	if (cmd->flags & CF_ALLSHARDS)
		return false;
	if ((cmd->flags & CF_NOSHARD) || cmd->first == 0)
		return true;
	first = cmd->first;
	last = cmd->last < 0 ? argc + cmd->last : cmd->last;
	if (last >= argc)
		last = argc - 1;
	for (i = first; i <= last && i < argc; i += cmd->step ? cmd->step : 1)
		mark[shard_idx(c->srv, argv[i].p, argv[i].len)] = true;
	return true;
}

static void lock_marked(kv_client_t *c, const bool *mark)
{
	unsigned i;
	for (i = 0; i < c->srv->nshards; i++) {
		if (mark[i]) {
			pthread_mutex_lock(&c->srv->shards[i].mu);
			c->shard_locked[i] = true;
		}
	}
}

static void unlock_marked(kv_client_t *c)
{
	unsigned i;
	for (i = c->srv->nshards; i-- > 0;) {
		if (c->shard_locked[i]) {
			c->shard_locked[i] = false;
			pthread_mutex_unlock(&c->srv->shards[i].mu);
		}
	}
}

/* Hand the command's record to the WAL or to raft; under raft a command
 * that read data and wrote nothing waits for a read fence instead. */
static void flush_log(kv_client_t *c, bool data)
{
	if (kv_replaying(c)) {
		/* nothing: replayed records are logged already */
	} else if (c->txlog_n && c->srv->wal) {
		uint64_t lsn = kv_wal_append(c->srv, c->txlog.p, c->txlog.len, c->txlog_n);
		if (lsn > c->need_lsn)
			c->need_lsn = lsn;
	} else if (c->srv->raft && (c->txlog_n || (data && kv_raft_is_leader(c->srv)))) {
		uint64_t seq = c->txlog_n ?
			kv_raft_append(c->srv, c->txlog.p, c->txlog.len, c->txlog_n) :
			kv_raft_fence(c->srv);
		if (seq > c->need_lsn)
			c->need_lsn = seq;
	}
	c->txlog.len = 0;
	c->txlog_n = 0;
	c->txlog.oom = false;
}

/* Run a resolved command with its locks already held. */
static void call(kv_client_t *c, const kcmd_t *cmd, int argc, const kv_arg_t *argv)
{
	long before = c->dirty;
	c->logged = false;
	c->cur = cmd;
	cmd->fn(c, argc, argv);
	if (c->dirty > before && (cmd->flags & CF_WRITE) && !c->logged)
		log_append_cmd(c, c->db, argc, argv);
	atomic_fetch_add(&c->srv->stat_commands, 1);
}

/* EXEC under the shard locks of every key it names (or all shards). */
static void exec_locked(kv_client_t *c)
{
	bool mark[KV_SHARDS_MAX] = { false }, all = false;
	int i, j, nq;
	kv_arg_t av[64], *avp;

	atomic_fetch_add(&c->srv->stat_tx_locked, 1);
	/* Lock every shard the transaction touches, plus those of the
	 * watched keys, in ascending order. */
	for (i = 0; i < c->nq && !all; i++) {
		qcmd_t *q = &c->q[i];
		kv_arg_t qa[64];
		int n = q->argc;
		kv_arg_t *ap = n <= 64 ? qa : malloc((size_t)n * sizeof(*ap));
		if (!ap) {
			all = true;
			break;
		}
		for (j = 0; j < n; j++)
			ap[j] = arg_of(q->argv[j]);
		if (!mark_shards(c, q->cmd, n, ap, mark))
			all = true;
		if (ap != qa)
			free(ap);
	}
	for (i = 0; i < c->nw; i++)
		mark[shard_idx(c->srv, c->w[i].key->d, c->w[i].key->len)] = true;
	if (all)
		for (i = 0; i < (int)c->srv->nshards; i++)
			mark[i] = true;
	lock_marked(c, mark);
	if (atomic_load(&c->dirty_cas) || watched_expired(c)) {
		unlock_marked(c);
		discard_queue(c);
		unwatch_all(c);
		atomic_fetch_add(&c->srv->stat_tx_watch_aborts, 1);
		r_nullarr(c);
		return;
	}
	nq = c->nq;
	c->in_exec = true;
	c->in_multi = false;
	r_arr(c, nq);
	for (i = 0; i < nq; i++) {
		qcmd_t *q = &c->q[i];
		avp = q->argc <= 64 ? av : malloc((size_t)q->argc * sizeof(*avp));
		if (!avp) {
			r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
			continue;
		}
		for (j = 0; j < q->argc; j++)
			avp[j] = arg_of(q->argv[j]);
		call(c, q->cmd, q->argc, avp);
		if (avp != av)
			free(avp);
	}
	c->in_exec = false;
	c->want_block = false;
	flush_log(c, true);
	unlock_marked(c);
	discard_queue(c);
	unwatch_all(c);
}


/* ------------------------------------------------------------------ */
/* Optimistic EXEC (see the top of the file)                           */
/* ------------------------------------------------------------------ */

#define KV_TX_RETRIES 8

typedef struct txkey {            /* a key the transaction reached */
	struct txkey *next;
	uint64_t ver;             /* its word when it was copied */
	unsigned shard, stripe;
	int db;
	bool written, fresh;      /* fresh: entry added to the shard at commit */
	ks_t *key;
} txkey_t;

struct kv_tx {
	dict_t ov[KV_DBS];        /* the private copies (key -> kobj_t*) */
	dict_t keys;              /* db byte + key -> txkey_t* */
	txkey_t *all;
	bool oom, watch_failed;
};

static void tx_free(struct kv_tx *tx)
{
	txkey_t *t, *n;
	int d;
	for (d = 0; d < KV_DBS; d++)
		dict_clear(&tx->ov[d], obj_free);
	dict_clear(&tx->keys, NULL);
	for (t = tx->all; t; t = n) {
		n = t->next;
		ks_free(t->key);
		free(t);
	}
	tx->all = NULL;
}

/* The key's record, copying the key out of its shard the first time. */
static txkey_t *tx_key(kv_client_t *c, int db, const char *k, size_t len)
{
	struct kv_tx *tx = c->tx;
	char sbuf[256], *ck = len < sizeof(sbuf) ? sbuf : malloc(len + 1);
	kv_shard_t *sh;
	kobj_t *o = NULL;
	txkey_t *t;
	bool isnew, present;
	de_t *ke, *e;

	if (!ck)
		goto oom;
	ck[0] = (char)db;
	memcpy(ck + 1, k, len);
	ke = dict_upsert(&tx->keys, ck, len + 1, &isnew);
	if (ck != sbuf)
		free(ck);
	if (!ke)
		goto oom;
	if (!isnew)
		return ke->v;    /* NULL after an earlier OOM: tx->oom is set */
	t = calloc(1, sizeof(*t));
	if (!t || !(t->key = ks_new(k, len))) {
		free(t);
		goto oom;
	}
	ke->v = t;
	t->next = tx->all;
	tx->all = t;
	t->db = db;
	t->shard = shard_idx(c->srv, k, len);
	t->stripe = stripe_of(db, k, len);
	sh = &c->srv->shards[t->shard];
	pthread_mutex_lock(&sh->mu);
	t->ver = atomic_load(&sh->ver[t->stripe]);
	e = dict_find(&sh->db[db], k, len);
	present = e != NULL;
	if (e)
		o = obj_dup(e->v);
	pthread_mutex_unlock(&sh->mu);
	if (present && !o)
		goto oom_keep;
	if (o) {
		e = dict_upsert(&tx->ov[db], k, len, &isnew);
		if (!e) {
			obj_free(o);
			goto oom_keep;
		}
		e->v = o;
	}
	return t;
oom_keep:
	tx->oom = true;
	return t;
oom:
	tx->oom = true;
	return NULL;
}

static dict_t *tx_dict(kv_client_t *c, int db, const char *k, size_t len)
{
	(void)tx_key(c, db, k, len);
	return &c->tx->ov[db];
}

static void tx_written(kv_client_t *c, int db, const char *k, size_t len)
{
	txkey_t *t = tx_key(c, db, k, len);
	if (t)
		t->written = true;
}

/* Validation: the WATCH flag is clear and every word read is unchanged
 * (ours may carry our own lock bit).  Runs with the write set locked. */
static bool tx_valid(void *arg)
{
	kv_client_t *c = arg;
	txkey_t *t;

	if (atomic_load(&c->dirty_cas)) {
		c->tx->watch_failed = true;
		return false;
	}
	for (t = c->tx->all; t; t = t->next) {
		uint64_t v = atomic_load(&c->srv->shards[t->shard].ver[t->stripe]);
		if (c->shard_locked[t->shard])
			v &= ~(uint64_t)1;
		if (v != t->ver)
			return false;
	}
	return true;
}

/* Move the copies of the write set into the shards (all locked). */
static void tx_install(kv_client_t *c, struct kv_tx *tx)
{
	txkey_t *t;

	for (t = tx->all; t; t = t->next) {
		kv_shard_t *sh = &c->srv->shards[t->shard];
		dict_t *d = &sh->db[t->db];
		de_t *ov, *e;
		kobj_t *old;

		if (!t->written)
			continue;
		ov = dict_unlink(&tx->ov[t->db], t->key->d, t->key->len);
		e = dict_find(d, t->key->d, t->key->len);
		old = e ? e->v : NULL;
		if (old && old->expire >= 0)
			sh->nexpires[t->db]--;
		if (ov) {
			kobj_t *o = ov->v;
			e->v = o;        /* present: existing or fresh (tx_commit) */
			if (o->expire >= 0)
				sh->nexpires[t->db]++;
			dict_free_entry(ov);
		} else if (e) {
			e = dict_unlink(d, t->key->d, t->key->len);
			dict_free_entry(e);
		}
		obj_free(old);
		kv_touch(c, t->db, t->key->d, t->key->len);
	}
}

/* 1 committed, 0 conflict (run again), -1 WATCH failed, -ENOMEM. */
static int tx_commit(kv_client_t *c, struct kv_tx *tx)
{
	kv_srv_t *srv = c->srv;
	bool mark[KV_SHARDS_MAX] = { false }, any = false, ok;
	uint64_t seq = 0;
	txkey_t *t;
	int rc;

	for (t = tx->all; t; t = t->next) {
		if (t->written) {
			mark[t->shard] = true;
			any = true;
		}
	}
	lock_marked(c, mark);
	for (t = tx->all; t; t = t->next)
		if (t->written)
			atomic_fetch_or(&srv->shards[t->shard].ver[t->stripe], 1);
	/* room for new keys first, so that installing cannot fail */
	rc = 0;
	for (t = tx->all; t && rc == 0; t = t->next) {
		bool isnew;
		de_t *e;
		if (!t->written || !dict_find(&tx->ov[t->db], t->key->d, t->key->len))
			continue;
		e = dict_upsert(&srv->shards[t->shard].db[t->db], t->key->d, t->key->len, &isnew);
		if (!e)
			rc = -ENOMEM;
		else if (isnew)
			t->fresh = true;
	}
	if (rc < 0) {
		ok = false;
	} else if (!any || kv_replaying(c) || !c->txlog_n) {
		ok = tx_valid(c);
	} else if (srv->wal) {
		seq = kv_wal_append_if(srv, c->txlog.p, c->txlog.len, c->txlog_n, tx_valid, c);
		ok = seq != 0;
	} else if (srv->raft) {
		seq = kv_raft_append_if(srv, c->txlog.p, c->txlog.len, c->txlog_n, tx_valid, c);
		ok = seq != 0;
	} else {
		ok = tx_valid(c);
	}
	if (ok) {
		c->tx = NULL;
		tx_install(c, tx);
		c->tx = tx;
	} else {
		for (t = tx->all; t; t = t->next) {
			if (t->fresh) {
				de_t *e = dict_unlink(&srv->shards[t->shard].db[t->db], t->key->d,
						      t->key->len);
				dict_free_entry(e);
				t->fresh = false;
			}
		}
	}
	for (t = tx->all; t; t = t->next) {
		_Atomic uint64_t *w = &srv->shards[t->shard].ver[t->stripe];
		uint64_t v = atomic_load(w);
		if (t->written && (v & 1))
			atomic_store(w, ok ? v + 1 : v - 1);
	}
	unlock_marked(c);
	if (rc < 0)
		return rc;
	if (!ok)
		return tx->watch_failed ? -1 : 0;
	if (seq > c->need_lsn)
		c->need_lsn = seq;
	if (!any && srv->raft && kv_raft_is_leader(srv)) {
		seq = kv_raft_fence(srv);     /* a read-only transaction */
		if (seq > c->need_lsn)
			c->need_lsn = seq;
	}
	if (any)
		kv_wake_blocked(srv);
	return 1;
}

/* Whether every queued command names its keys (first key > 0). */
static bool tx_optimistic(const kv_client_t *c)
{
	int i;
	for (i = 0; i < c->nq; i++) {
		const kcmd_t *cmd = c->q[i].cmd;
		if ((cmd->flags & (CF_ALLSHARDS | CF_NOSHARD)) || cmd->first <= 0)
			return false;
	}
	return true;
}

/* A watched key that expired since WATCH, each shard locked in turn. */
static bool watched_expired_now(kv_client_t *c)
{
	int i;
	int64_t now = kv_mstime();
	for (i = 0; i < c->nw; i++) {
		kv_shard_t *sh;
		de_t *e;
		kobj_t *o;
		bool exp;
		if (c->w[i].expired)
			continue;
		sh = kv_shard_of(c->srv, c->w[i].key->d, c->w[i].key->len);
		pthread_mutex_lock(&sh->mu);
		e = dict_find(&sh->db[c->w[i].db], c->w[i].key->d, c->w[i].key->len);
		o = e ? e->v : NULL;
		exp = o && o->expire >= 0 && o->expire <= now;
		pthread_mutex_unlock(&sh->mu);
		if (exp)
			return true;
	}
	return false;
}

static void exec_optimistic(kv_client_t *c)
{
	size_t rmark = c->r.len;
	int db0 = c->db, attempt, i, j, rc = 0;
	kv_arg_t av[64], *avp;

	if (atomic_load(&c->dirty_cas) || watched_expired_now(c)) {
		discard_queue(c);
		unwatch_all(c);
		atomic_fetch_add(&c->srv->stat_tx_watch_aborts, 1);
		r_nullarr(c);
		return;
	}
	for (attempt = 0; attempt < KV_TX_RETRIES; attempt++) {
		struct kv_tx tx;
		memset(&tx, 0, sizeof(tx));
		c->r.len = rmark;
		c->txlog.len = 0;
		c->txlog_n = 0;
		c->txlog.oom = false;
		c->db = db0;
		c->tx = &tx;
		c->in_exec = true;
		c->in_multi = false;
		r_arr(c, c->nq);
		for (i = 0; i < c->nq; i++) {
			qcmd_t *q = &c->q[i];
			avp = q->argc <= 64 ? av : malloc((size_t)q->argc * sizeof(*avp));
			if (!avp) {
				tx.oom = true;
				break;
			}
			for (j = 0; j < q->argc; j++)
				avp[j] = arg_of(q->argv[j]);
			call(c, q->cmd, q->argc, avp);
			if (avp != av)
				free(avp);
		}
		c->in_exec = false;
		c->want_block = false;
		rc = tx.oom || c->txlog.oom ? -ENOMEM : tx_commit(c, &tx);
		c->tx = NULL;
		tx_free(&tx);
		if (rc != 0)
			break;
		atomic_fetch_add(&c->srv->stat_tx_retries, 1);
		c->in_multi = true;
	}
	c->txlog.len = 0;
	c->txlog_n = 0;
	c->txlog.oom = false;
	if (rc == 0) {                  /* kept losing: take the locks */
		c->r.len = rmark;
		c->db = db0;
		c->in_multi = true;
		exec_locked(c);
		return;
	}
	if (rc < 0) {
		c->r.len = rmark;
		c->db = db0;
		if (rc == -1) {
			atomic_fetch_add(&c->srv->stat_tx_watch_aborts, 1);
			r_nullarr(c);
		} else {
			r_err(c, "EXECABORT Transaction discarded because of: -OOM command not "
			      "allowed when used memory > 'maxmemory'.");
		}
	} else {
		atomic_fetch_add(&c->srv->stat_tx_commits, 1);
	}
	discard_queue(c);
	unwatch_all(c);
}

static KV_CMD(cmd_exec)
{
	int i;

	(void)argc;
	(void)argv;
	if (!c->in_multi) {
		r_err(c, "ERR EXEC without MULTI");
		return;
	}
	if (c->multi_err) {
		discard_queue(c);
		unwatch_all(c);
		r_err(c, "EXECABORT Transaction discarded because of previous errors.");
		return;
	}
	if (c->srv->wal_error) {
		for (i = 0; i < c->nq; i++) {
			if (c->q[i].cmd->flags & CF_WRITE) {
				discard_queue(c);
				unwatch_all(c);
				r_err(c, "EXECABORT Transaction discarded because of: -MISCONF "
				      "Errors writing to the AOF file: %s",
				      strerrordesc_np(atomic_load(&c->srv->wal_err)));
				return;
			}
		}
	}
	if (tx_optimistic(c) && !kv_replaying(c))
		exec_optimistic(c);
	else
		exec_locked(c);
}

/* ------------------------------------------------------------------ */
/* Dispatcher                                                          */
/* ------------------------------------------------------------------ */

static void unknown_command(kv_client_t *c, int argc, const kv_arg_t *argv)
{
	char args[512];
	size_t al = 0;
	int i;

	args[0] = 0;
	for (i = 1; i < argc && al < 128; i++) {
		int n = snprintf(args + al, sizeof(args) - al, "'%.*s' ",
				 (int)(argv[i].len < 128 - al ? argv[i].len : 128 - al),
				 argv[i].p);
		if (n < 0)
			break;
		al += (size_t)n;
		if (al >= sizeof(args))
			al = sizeof(args) - 1;
	}
	r_err(c, "ERR unknown command '%.*s', with args beginning with: %s",
	      (int)(argv[0].len < 128 ? argv[0].len : 128), argv[0].p, args);
}

KV_CMD(kv_cmd_exec);

void kv_exec(kv_client_t *c, int argc, const kv_arg_t *argv)
{
	const kcmd_t *cmd;
	bool mark[KV_SHARDS_MAX] = { false };

	if (argc <= 0)
		return;
	cmd = kv_cmd_lookup(argv[0].p, argv[0].len);
	if (!cmd) {
		unknown_command(c, argc, argv);
		if (c->in_multi)
			c->multi_err = true;
		return;
	}
	if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
		r_arity(c, cmd->name);
		if (c->in_multi)
			c->multi_err = true;
		return;
	}
	if (c->resp == 2 && (c->subs.n || c->psubs.n) && !(cmd->flags & CF_PUBSUB)) {
		r_err(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
		      "PING / QUIT / RESET are allowed in this context", cmd->name);
		return;
	}
	if (c->srv->raft && kv_raft_gate(c, cmd, argc, argv) < 0) {
		/* redirected or refused: a queued command aborts the
		 * transaction, a refused EXEC ends it */
		if (cmd->fn == kv_cmd_exec) {
			discard_queue(c);
			unwatch_all(c);
		} else if (c->in_multi) {
			c->multi_err = true;
		}
		return;
	}
	if (c->in_multi && !(cmd->flags & CF_NOMULTI)) {
		if (queue_cmd(c, cmd, argc, argv) < 0) {
			r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
			c->multi_err = true;
			return;
		}
		r_simple(c, "QUEUED");
		return;
	}
	if (cmd->fn == kv_cmd_exec) {
		cmd_exec(c, argc, argv);
		atomic_fetch_add(&c->srv->stat_commands, 1);
		return;
	}
	if ((cmd->flags & CF_WRITE) && c->srv->wal_error && !kv_replaying(c)) {
		r_err(c, "MISCONF Errors writing to the AOF file: %s",
		      strerrordesc_np(atomic_load(&c->srv->wal_err)));
		return;
	}
	if (c->held_all) {                /* a replica applying a record */
		call(c, cmd, argc, argv);
		flush_log(c, false);
		return;
	}
	if (!mark_shards(c, cmd, argc, argv, mark))
		memset(mark, 1, sizeof(mark[0]) * c->srv->nshards);
	lock_marked(c, mark);
	call(c, cmd, argc, argv);
	flush_log(c, cmd->flags & (CF_WRITE | CF_READONLY));
	unlock_marked(c);
}

/* Exposed to the command table (cmd_server.c). */
KV_CMD(kv_cmd_watch);
KV_CMD(kv_cmd_watch) { cmd_watch(c, argc, argv); }
KV_CMD(kv_cmd_unwatch);
KV_CMD(kv_cmd_unwatch) { cmd_unwatch(c, argc, argv); }
KV_CMD(kv_cmd_multi);
KV_CMD(kv_cmd_multi) { cmd_multi(c, argc, argv); }
KV_CMD(kv_cmd_exec) { cmd_exec(c, argc, argv); }
KV_CMD(kv_cmd_discard);
KV_CMD(kv_cmd_discard) { cmd_discard(c, argc, argv); }
