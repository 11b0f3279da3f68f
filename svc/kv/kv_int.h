/*
 * kv_int.h: what the modules of myco-kv share: byte strings, the hash
 * table, the value types, shards and databases, clients, the command table,
 * the reply writer and the write-ahead log.  Not for: the wire parser
 * (resp.h) or the network layer (net.c).
 *
 * Concurrency in one paragraph: keys are spread over shards by Redis's hash
 * slot (CRC16 of the key or of its {hash tag}, modulo 16384), slot modulo
 * the shard count.  Each shard has its own mutex; a command locks the shards
 * of its keys in ascending order, runs, appends its effect to the WAL, and
 * unlocks.  No coroutine ever yields while it holds a shard lock.  Loops
 * (one per core) own connections, not keys.  Every write also advances the
 * version word of its key (hashed into KV_STRIPES words per shard), which
 * MULTI/EXEC's optimistic commit validates (db.c).
 */
#ifndef MYCO_KV_INT_H
#define MYCO_KV_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp.h"

#define KV_DBS 16
#define KV_SHARDS_MAX 64
#define KV_STRIPES 4096              /* version words per shard */
#define KV_VERSION "7.0.15"          /* the Redis version we answer as */

/* ------------------------------------------------------------------ */
/* Byte strings                                                        */
/* ------------------------------------------------------------------ */

typedef struct ks {
	size_t len, cap;
	char d[];                /* NUL-terminated for convenience */
} ks_t;

ks_t *ks_new(const void *p, size_t len);         /* NULL on OOM */
ks_t *ks_grow(ks_t *s, size_t cap);              /* realloc to >= cap */
void ks_free(ks_t *s);

/* ------------------------------------------------------------------ */
/* Hash table (chained, power-of-two buckets, full rehash on growth).   */
/* SCAN uses Redis's reverse-binary cursor, so a full scan returns every */
/* element present for its whole duration even across resizes.          */
/* ------------------------------------------------------------------ */

typedef struct de {
	struct de *next;
	uint64_t h;
	ks_t *key;
	union {
		void *v;
		double d;
	};
} de_t;

typedef struct dict {
	de_t **t;
	size_t mask;             /* buckets - 1 (0 when t is NULL) */
	size_t n;
} dict_t;

uint64_t kv_hash(const void *p, size_t len);
de_t *dict_find(const dict_t *d, const void *k, size_t kl);
/* Add key (copied); *isnew tells whether it was absent.  NULL on OOM. */
de_t *dict_upsert(dict_t *d, const void *k, size_t kl, bool *isnew);
/* Unlink and return the entry (caller frees key and value), or NULL. */
de_t *dict_unlink(dict_t *d, const void *k, size_t kl);
void dict_free_entry(de_t *e);   /* frees e and its key only */
void dict_clear(dict_t *d, void (*freeval)(void *v));
/* One SCAN step; calls fn for each entry of the visited bucket(s) and
 * returns the next cursor (0 at the end). */
uint64_t dict_scan(const dict_t *d, uint64_t cur, void (*fn)(de_t *e, void *arg),
		   void *arg);
/* A random entry (NULL if empty). */
de_t *dict_random(const dict_t *d);

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

enum { T_STRING, T_LIST, T_HASH, T_SET, T_ZSET };

typedef struct klist {           /* ring buffer of strings */
	ks_t **a;
	size_t cap, head, len;
} klist_t;

typedef struct zent {
	double score;
	ks_t *member;            /* shared with the dict key */
} zent_t;

typedef struct kzset {
	dict_t d;                /* member -> score (e->d) */
	zent_t *a;               /* sorted by (score, member) */
	size_t n, cap;
} kzset_t;

typedef struct kobj {
	uint8_t type;
	/* 1 for the keyspace, +1 while a raft snapshot being written holds
	 * it: a write command copies a held object before changing it
	 * (db_get), and obj_free frees at the last reference. */
	_Atomic uint32_t refs;
	int64_t expire;          /* absolute ms, -1 = none */
	union {
		ks_t *s;
		klist_t *l;
		dict_t *h;       /* field -> ks_t* */
		dict_t *set;     /* member -> (unused) */
		kzset_t *z;
	};
} kobj_t;

kobj_t *obj_new(int type);   /* empty container (string: empty), NULL OOM */
kobj_t *obj_dup(const kobj_t *o);   /* deep copy, NULL on OOM */
void obj_free(void *o);
const char *obj_type_name(int type);

/* lists */
int list_push(klist_t *l, ks_t *s, bool left);       /* 0 / -ENOMEM */
ks_t *list_pop(klist_t *l, bool left);
ks_t *list_at(const klist_t *l, size_t i);
void list_set(klist_t *l, size_t i, ks_t *s);
int list_insert(klist_t *l, size_t i, ks_t *s);     /* before index i */
void list_remove(klist_t *l, size_t i);

/* sorted sets */
size_t zset_rank(const kzset_t *z, double score, const ks_t *m);
int zset_insert(kzset_t *z, double score, ks_t *m); /* m owned by dict */
void zset_remove_at(kzset_t *z, size_t i);
int zcmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2);

/* ------------------------------------------------------------------ */
/* Shards, databases, server                                           */
/* ------------------------------------------------------------------ */

typedef struct kv_client kv_client_t;
typedef struct kv_srv kv_srv_t;

typedef struct watcher {          /* one client watching one key */
	struct watcher *next;
	kv_client_t *c;
} watcher_t;

typedef struct kv_shard {
	pthread_mutex_t mu;
	dict_t db[KV_DBS];        /* key -> kobj_t* */
	dict_t watch[KV_DBS];     /* key -> watcher_t* list */
	size_t nexpires[KV_DBS];
	uint64_t exp_cursor[KV_DBS];
	/* Version words: even = free, odd = locked by a committing EXEC
	 * (which holds mu); every change to a key adds 2 to its word. */
	_Atomic uint64_t *ver;
	char pad[64];
} kv_shard_t;

typedef struct kv_wal kv_wal_t;
typedef struct kv_raft kv_raft_t;

enum { FSYNC_ALWAYS, FSYNC_EVERYSEC, FSYNC_NO };

struct kv_srv {
	unsigned nshards;
	kv_shard_t *shards;
	kv_wal_t *wal;            /* NULL: no persistence (or raft) */
	kv_raft_t *raft;          /* replication (raft.c); NULL standalone */
	int appendfsync;
	char *dir;
	unsigned port;
	uint64_t start_ms;
	_Atomic uint64_t next_client_id;
	_Atomic uint64_t stat_commands, stat_conns, stat_expired, stat_keyspace_hits,
		stat_keyspace_misses;
	/* MULTI/EXEC: optimistic commits, conflicts retried, EXECs run under
	 * shard locks (keyless commands or too many retries), WATCH aborts */
	_Atomic uint64_t stat_tx_commits, stat_tx_retries, stat_tx_locked,
		stat_tx_watch_aborts;
	_Atomic int nclients;
	_Atomic int nblocked;
	/* pub/sub registry */
	pthread_mutex_t ps_mu;
	dict_t ps_channels;       /* channel -> watcher_t* list */
	watcher_t *ps_patterns;   /* pattern subscribers (pattern in sub list) */
	struct kv_psub *psubs;
	/* list pushes wake blocked BLPOP/BRPOP clients */
	void *push_ev;            /* myco_event_t * (NULL in unit tests) */
	_Atomic uint64_t push_seq;
	bool replaying;           /* WAL replay: no logging, no clients */
	_Atomic bool wal_error;   /* MISCONF: refuse writes */
	_Atomic int wal_err;      /* the errno behind wal_error (positive) */
	int64_t snap_threshold;   /* WAL bytes that trigger a snapshot */
	int loglevel;
};

struct kv_psub {                  /* pattern subscription */
	struct kv_psub *next;
	kv_client_t *c;
	ks_t *pat;
};

/* ------------------------------------------------------------------ */
/* Reply buffer and writer (RESP2 or RESP3 per client)                 */
/* ------------------------------------------------------------------ */

typedef struct kbuf {
	char *p;
	size_t len, cap;
	bool oom;
} kbuf_t;

void kbuf_put(kbuf_t *b, const void *p, size_t n);
void kbuf_free(kbuf_t *b);

/* ------------------------------------------------------------------ */
/* Clients                                                             */
/* ------------------------------------------------------------------ */

typedef struct kcmd kcmd_t;

typedef struct qcmd {             /* a command queued by MULTI */
	const kcmd_t *cmd;
	int argc;
	ks_t **argv;
} qcmd_t;

typedef struct wkey {             /* a WATCHed key */
	int db;
	ks_t *key;
	bool expired;             /* already expired when watched */
} wkey_t;

struct kv_client {
	kv_srv_t *srv;
	uint64_t id;
	int db;
	int resp;                 /* 2 or 3 */
	char name[64];
	char addr[64];
	kbuf_t r;                 /* replies of the commands being run */
	/* MULTI */
	bool in_multi, multi_err, in_exec;
	qcmd_t *q;
	int nq, qcap;
	/* WATCH */
	wkey_t *w;
	int nw, wcap;
	_Atomic bool dirty_cas;
	/* WAL: records this client waits for before its replies may leave */
	uint64_t need_lsn;
	kbuf_t txlog;             /* log of the running command or EXEC */
	int txlog_n;
	long dirty;               /* changes made by the running command */
	bool logged;              /* the handler logged its own rewrite */
	const kcmd_t *cur;        /* command running */
	/* blocking pops */
	bool want_block;
	double block_timeout;     /* seconds, 0 = forever */
	/* pub/sub (subscriptions counted; registry holds the lists) */
	dict_t subs;              /* channels */
	dict_t psubs;             /* patterns */
	/* pushed messages (other threads append under olock) */
	pthread_mutex_t olock;
	kbuf_t push;
	void *ev;                 /* myco_event_t * notified on push */
	bool close_after;         /* QUIT or protocol error */
	bool replay;              /* applies logged records (raft apply) */
	bool readonly;            /* READONLY: stale reads on a follower */
	bool shard_locked[KV_SHARDS_MAX];
	bool held_all;            /* caller holds every shard lock (replay) */
	struct kv_tx *tx;         /* optimistic EXEC running (db.c) */
};

kv_client_t *kv_client_new(kv_srv_t *srv);
void kv_client_free(kv_client_t *c);    /* unwatch, unsubscribe, free */

/* Run one command (argv pointing anywhere; copied where kept).  Replies go
 * to c->r; c->need_lsn is raised to the WAL record to wait for. */
void kv_exec(kv_client_t *c, int argc, const kv_arg_t *argv);

/* ------------------------------------------------------------------ */
/* Command table                                                       */
/* ------------------------------------------------------------------ */

enum {
	CF_WRITE = 1u << 0,      /* may modify: logged, refused on MISCONF */
	CF_READONLY = 1u << 1,
	CF_ALLSHARDS = 1u << 2,  /* locks every shard (keyless over data) */
	CF_NOSHARD = 1u << 3,    /* touches no key */
	CF_PUBSUB = 1u << 4,     /* allowed in RESP2 subscribed mode */
	CF_NOMULTI = 1u << 5,    /* runs at once inside MULTI (EXEC, ...) */
	CF_FAST = 1u << 6,
	CF_BLOCKING = 1u << 7,
	CF_ADMIN = 1u << 8,
	CF_DENYOOM = 1u << 9,
	CF_LOADING = 1u << 10,
	CF_STALE = 1u << 11,
};

struct kcmd {
	const char *name;
	void (*fn)(kv_client_t *c, int argc, const kv_arg_t *argv);
	int arity;               /* Redis convention: -N means >= N */
	unsigned flags;
	int first, last, step;   /* key positions (last -1 = last arg, -2 ...) */
	const char *acl;         /* ACL categories shown by COMMAND */
};

const kcmd_t *kv_cmd_lookup(const char *name, size_t len);
extern const kcmd_t kv_cmds[];
extern const size_t kv_ncmds;

/* ------------------------------------------------------------------ */
/* Helpers for command handlers (cmd_*.c)                              */
/* ------------------------------------------------------------------ */

int64_t kv_mstime(void);
unsigned kv_slot(const char *k, size_t len);
kv_shard_t *kv_shard_of(kv_srv_t *srv, const char *k, size_t len);
/* The object at key in c's db, expired keys removed first; NULL if none.
 * lookup_type also replies WRONGTYPE and returns NULL with *wrong set. */
kobj_t *db_get(kv_client_t *c, const kv_arg_t *key);
kobj_t *db_get_type(kv_client_t *c, const kv_arg_t *key, int type, bool *wrong);
int db_set(kv_client_t *c, const kv_arg_t *key, kobj_t *o);   /* replaces */
bool db_del(kv_client_t *c, const kv_arg_t *key);
dict_t *db_dict(kv_client_t *c, int db, const char *k, size_t len);
void kv_touch(kv_client_t *c, int db, const char *k, size_t len);  /* WATCH */
/* A key was changed in place: wake its watchers, count a change. */
void kv_modified(kv_client_t *c, const kv_arg_t *key);
/* Count a key gaining (+1) or losing (-1) an expiry in its shard. */
void kv_expires_add(kv_client_t *c, int db, const char *k, size_t len, int delta);
/* Every key of the shard changed (FLUSHDB); caller holds its lock. */
void kv_bump_all(kv_shard_t *sh);
void kv_wake_blocked(kv_srv_t *srv);
/* Log an explicit command instead of argv (rewrites: EXPIRE -> PEXPIREAT). */
void kv_log(kv_client_t *c, int argc, const kv_arg_t *argv);
void kv_log_cmd(kv_client_t *c, const char *fmt, ...);
bool kv_match(const char *pat, size_t pl, const char *s, size_t sl, bool nocase);

/* Replies */
void r_ok(kv_client_t *c);
void r_simple(kv_client_t *c, const char *s);
void r_err(kv_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void r_int(kv_client_t *c, long long v);
void r_bulk(kv_client_t *c, const void *p, size_t n);
void r_cstr(kv_client_t *c, const char *s);
void r_null(kv_client_t *c);
void r_nullarr(kv_client_t *c);
void r_arr(kv_client_t *c, long n);
void r_map(kv_client_t *c, long n);
void r_set(kv_client_t *c, long n);
void r_push(kv_client_t *c, long n);
void r_double(kv_client_t *c, double d);
void r_verbatim(kv_client_t *c, const char *s, size_t n);
void r_bool(kv_client_t *c, bool b);
void r_wrongtype(kv_client_t *c);
void r_syntax(kv_client_t *c);
void r_notint(kv_client_t *c);
void r_notfloat(kv_client_t *c);
void r_arity(kv_client_t *c, const char *name);
void fmt_double(char *buf, size_t cap, double d);  /* Redis's %.17g form */

int arg_ll(const kv_arg_t *a, long long *v);       /* strict, Redis rules */
int arg_double(const kv_arg_t *a, double *v);      /* strict, no NaN */
bool arg_is(const kv_arg_t *a, const char *lit);   /* case-insensitive */
int arg_ll_or_reply(kv_client_t *c, const kv_arg_t *a, long long *v);
int arg_double_or_reply(kv_client_t *c, const kv_arg_t *a, double *v);
kv_arg_t arg_of(const ks_t *s);

/* Per-type command handlers, referenced by the table in cmd.c. */
#define KV_CMD(n) void n(kv_client_t *c, int argc, const kv_arg_t *argv)

/* Pub/sub (cmd_server.c) */
void kv_pubsub_drop(kv_client_t *c);
/* Server-side work (net.c): the periodic active-expire step for a shard. */
void kv_active_expire(kv_srv_t *srv, unsigned shard, int budget);

/* WAL (wal.c).  Records are [u32 len][u32 crc32c][u64 lsn][u32 n] then n x
 * ([u8 db] RESP array).  Append under the shard locks; see wal.c. */
int kv_wal_open(kv_srv_t *srv, const char *dir, int appendfsync);
int kv_wal_replay(kv_srv_t *srv);
int kv_wal_start(kv_srv_t *srv);          /* sync thread */
/* Write out what is buffered and end the sync thread (before the loops
 * whose coroutines wait on its event are destroyed). */
void kv_wal_stop(kv_srv_t *srv);
void kv_wal_close(kv_srv_t *srv);
uint64_t kv_wal_append(kv_srv_t *srv, const void *p, size_t n, int ncmds);
/* The same, but only if check(arg) holds, called under the WAL's lock so
 * that the record's place in the log is the point where check held;
 * returns 0 (nothing appended) when it does not. */
uint64_t kv_wal_append_if(kv_srv_t *srv, const void *p, size_t n, int ncmds,
			  bool (*check)(void *arg), void *arg);
uint64_t kv_wal_durable(kv_srv_t *srv);   /* lsn acknowledged so far */
int kv_wal_bgsave(kv_srv_t *srv);         /* 0 started, -EBUSY, -errno */
void kv_wal_info(kv_srv_t *srv, kbuf_t *b);
void kv_wal_tick(kv_srv_t *srv);          /* reap snapshots, maybe start */

/* Records and snapshots in memory (wal.c), for raft entries: a record
 * is KV_REC_HDR bytes of header then the commands. */
#define KV_REC_HDR 20
void kv_record_hdr(char *hdr, uint64_t lsn, const void *p, size_t n, int ncmds);
/* Apply records buf[0..len) through c; returns the valid prefix length. */
size_t kv_replay_records(kv_srv_t *srv, kv_client_t *c, const char *buf, size_t len,
			 long *bad_cmds);
/* Every key as records (snapshot.kv format) into *out; the caller holds
 * every shard lock. */
int kv_snapshot_mem(kv_srv_t *srv, uint64_t lsn, kbuf_t *out);
/* The same in two steps, so that the locks are held only for the first:
 * kv_snapshot_pin (caller holds every shard lock) takes a reference to
 * every object and copies the keys; kv_snapshot_write (no lock needed)
 * formats them, drops the references and frees the pins. */
typedef struct kv_pins kv_pins_t;
kv_pins_t *kv_snapshot_pin(kv_srv_t *srv);        /* NULL on OOM */
int kv_snapshot_write(kv_pins_t *pins, uint64_t lsn, kbuf_t *out);
void kv_snapshot_unpin(kv_pins_t *pins);
/* Load such a snapshot through c (the caller flushed the keyspace). */
int kv_snapshot_load(kv_srv_t *srv, kv_client_t *c, const char *p, size_t len);
/* mkdir DIR, open it and flock DIR/LOCK (-EBUSY when held elsewhere). */
int kv_dir_lock(const char *dir, int *dirfd, int *lockfd);

/* True while c applies logged records rather than serving a client. */
static inline bool kv_replaying(const kv_client_t *c)
{
	return c->replay || c->srv->replaying;
}

/* Replication (raft.c).  See there for the design. */
typedef struct kv_raft_opts {
	uint64_t id;
	const char *peers;        /* --raft-peers */
	const char *dir;          /* data directory (raft's files in DIR/raft) */
	unsigned election_ms;     /* election timeout (randomised to 2x) */
	unsigned heartbeat_ms;
	unsigned snapshot_entries;
	unsigned snapshot_trailing;
} kv_raft_opts_t;
int kv_raft_start(kv_srv_t *srv, const kv_raft_opts_t *o, char *err, size_t errlen);
void kv_raft_stop(kv_srv_t *srv);
/* The command may run here (0), or its redirect/refusal was replied (-1). */
int kv_raft_gate(kv_client_t *c, const kcmd_t *cmd, int argc, const kv_arg_t *argv);
/* A write's record for replication; returns its sequence number. */
uint64_t kv_raft_append(kv_srv_t *srv, const void *p, size_t n, int ncmds);
/* As kv_wal_append_if, for the raft queue. */
uint64_t kv_raft_append_if(kv_srv_t *srv, const void *p, size_t n, int ncmds,
			   bool (*check)(void *arg), void *arg);
/* A read's fence: the sequence number of a barrier after it. */
uint64_t kv_raft_fence(kv_srv_t *srv);
/* 1 once everything up to seq is committed and applied, -1 if it failed
 * (leadership lost: the outcome is unknown to the client), 0 not yet. */
int kv_raft_status(kv_srv_t *srv, uint64_t seq);
void *kv_raft_event(kv_srv_t *srv);       /* myco_event_t * */
/* Apply one raft entry ([u64 nonce] record, zero-padded to 8 bytes)
 * through c: 0 applied, 1 own entry (skipped), -EBADMSG damaged (bad
 * length, padding or CRC: nothing runs unless its record's CRC holds). */
int kv_raft_entry_apply(kv_srv_t *srv, kv_client_t *c, const void *p, size_t len,
			uint64_t own_nonce);
bool kv_raft_may_expire(kv_srv_t *srv);   /* the ready leader only */
void kv_raft_info(kv_srv_t *srv, kbuf_t *b);
bool kv_raft_is_leader(kv_srv_t *srv);
/* CLUSTER SLOTS|NODES|INFO|MYID|KEYSLOT for Redis Cluster clients. */
void kv_raft_cluster(kv_client_t *c, int argc, const kv_arg_t *argv);

/* Server */
int kv_srv_init(kv_srv_t *srv, unsigned nshards);
void kv_srv_fini(kv_srv_t *srv);
void kv_lock_all(kv_srv_t *srv);
void kv_unlock_all(kv_srv_t *srv);

#endif /* MYCO_KV_INT_H */
