/*
 * cmd_server.c: the command table, and the connection and server commands:
 * PING, ECHO, SELECT, HELLO, CLIENT, COMMAND, INFO, CONFIG, TIME, BGSAVE,
 * and pub/sub (SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB).  Not for: data
 * commands (cmd_keys.c, cmd_types.c) or MULTI/EXEC (db.c).
 *
 * Pub/sub delivery: the registry (channel -> subscribers, pattern list) is
 * one mutex, off the data path.  PUBLISH formats the message in each
 * subscriber's protocol and appends it to the subscriber's push buffer
 * under that client's olock, then wakes its connection (any thread).
 * A subscribed client's own replies go through the same buffer, so order
 * is kept: SUBSCRIBE moves what is pending first, then writes its
 * confirmations while it still holds the registry lock.
 */
#include "kv_int.h"

#include "myco/rt.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#define D(n) KV_CMD(n);
D(cmd_get) D(cmd_set) D(cmd_setnx) D(cmd_setex) D(cmd_getset) D(cmd_getdel)
D(cmd_getex) D(cmd_mget) D(cmd_mset) D(cmd_incr) D(cmd_incrby) D(cmd_incrbyfloat)
D(cmd_append) D(cmd_strlen) D(cmd_getrange) D(cmd_setrange) D(cmd_del)
D(cmd_exists) D(cmd_type) D(cmd_expire) D(cmd_ttl) D(cmd_persist) D(cmd_rename)
D(cmd_keys) D(cmd_scan) D(cmd_randomkey) D(cmd_dbsize) D(cmd_flushdb)
D(cmd_push) D(cmd_pop) D(cmd_llen) D(cmd_lrange) D(cmd_lindex) D(cmd_lset)
D(cmd_lrem) D(cmd_ltrim) D(cmd_linsert) D(cmd_lmove) D(cmd_bpop)
D(cmd_hset) D(cmd_hsetnx) D(cmd_hget) D(cmd_hmget) D(cmd_hdel) D(cmd_hlen)
D(cmd_hexists) D(cmd_hstrlen) D(cmd_hgetall) D(cmd_hincrby) D(cmd_hincrbyfloat)
D(cmd_sadd) D(cmd_srem) D(cmd_sismember) D(cmd_scard) D(cmd_smembers) D(cmd_spop)
D(cmd_srandmember) D(cmd_smove) D(cmd_setop)
D(cmd_zadd) D(cmd_zincrby) D(cmd_zscore) D(cmd_zcard) D(cmd_zrank) D(cmd_zrem)
D(cmd_zrange) D(cmd_zrangeold) D(cmd_zcount) D(cmd_zremrange) D(cmd_zpop)
D(cmd_cscan)
D(kv_cmd_watch) D(kv_cmd_unwatch) D(kv_cmd_multi) D(kv_cmd_exec) D(kv_cmd_discard)
static D(cmd_ping) static D(cmd_echo) static D(cmd_select) static D(cmd_hello)
static D(cmd_client) static D(cmd_command) static D(cmd_info) static D(cmd_config)
static D(cmd_time) static D(cmd_quit) static D(cmd_reset) static D(cmd_subscribe)
static D(cmd_unsubscribe) static D(cmd_publish) static D(cmd_pubsub)
static D(cmd_bgsave) static D(cmd_lastsave) static D(cmd_readonly) static D(cmd_cluster)
#undef D

#define W CF_WRITE
#define R CF_READONLY
#define A CF_ALLSHARDS
#define N CF_NOSHARD
#define F CF_FAST
#define M CF_DENYOOM

/* name, handler, arity, flags, first key, last key, step, ACL categories */
const kcmd_t kv_cmds[] = {
	{ "get", cmd_get, 2, R | F, 1, 1, 1, "@read @string @fast" },
	{ "set", cmd_set, -3, W | M, 1, 1, 1, "@write @string @slow" },
	{ "setnx", cmd_setnx, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "setex", cmd_setex, 4, W | M, 1, 1, 1, "@write @string @slow" },
	{ "psetex", cmd_setex, 4, W | M, 1, 1, 1, "@write @string @slow" },
	{ "getset", cmd_getset, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "getdel", cmd_getdel, 2, W | F, 1, 1, 1, "@write @string @fast" },
	{ "getex", cmd_getex, -2, W | F, 1, 1, 1, "@write @string @fast" },
	{ "mget", cmd_mget, -2, R | F, 1, -1, 1, "@read @string @fast" },
	{ "mset", cmd_mset, -3, W | M, 1, -1, 2, "@write @string @slow" },
	{ "msetnx", cmd_mset, -3, W | M, 1, -1, 2, "@write @string @slow" },
	{ "incr", cmd_incr, 2, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "decr", cmd_incr, 2, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "incrby", cmd_incrby, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "decrby", cmd_incrby, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "incrbyfloat", cmd_incrbyfloat, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "append", cmd_append, 3, W | M | F, 1, 1, 1, "@write @string @fast" },
	{ "strlen", cmd_strlen, 2, R | F, 1, 1, 1, "@read @string @fast" },
	{ "getrange", cmd_getrange, 4, R, 1, 1, 1, "@read @string @slow" },
	{ "substr", cmd_getrange, 4, R, 1, 1, 1, "@read @string @slow" },
	{ "setrange", cmd_setrange, 4, W | M, 1, 1, 1, "@write @string @slow" },
	{ "del", cmd_del, -2, W, 1, -1, 1, "@keyspace @write @slow" },
	{ "unlink", cmd_del, -2, W | F, 1, -1, 1, "@keyspace @write @fast" },
	{ "exists", cmd_exists, -2, R | F, 1, -1, 1, "@keyspace @read @fast" },
	{ "type", cmd_type, 2, R | F, 1, 1, 1, "@keyspace @read @fast" },
	{ "expire", cmd_expire, -3, W | F, 1, 1, 1, "@keyspace @write @fast" },
	{ "pexpire", cmd_expire, -3, W | F, 1, 1, 1, "@keyspace @write @fast" },
	{ "expireat", cmd_expire, -3, W | F, 1, 1, 1, "@keyspace @write @fast" },
	{ "pexpireat", cmd_expire, -3, W | F, 1, 1, 1, "@keyspace @write @fast" },
	{ "ttl", cmd_ttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast" },
	{ "pttl", cmd_ttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast" },
	{ "expiretime", cmd_ttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast" },
	{ "pexpiretime", cmd_ttl, 2, R | F, 1, 1, 1, "@keyspace @read @fast" },
	{ "persist", cmd_persist, 2, W | F, 1, 1, 1, "@keyspace @write @fast" },
	{ "rename", cmd_rename, 3, W, 1, 2, 1, "@keyspace @write @slow" },
	{ "renamenx", cmd_rename, 3, W | F, 1, 2, 1, "@keyspace @write @fast" },
	{ "keys", cmd_keys, 2, R | A, 0, 0, 0, "@keyspace @read @slow @dangerous" },
	{ "scan", cmd_scan, -2, R | A, 0, 0, 0, "@keyspace @read @slow" },
	{ "randomkey", cmd_randomkey, 1, R | A, 0, 0, 0, "@keyspace @read @slow" },
	{ "dbsize", cmd_dbsize, 1, R | F | A, 0, 0, 0, "@keyspace @read @fast" },
	{ "flushdb", cmd_flushdb, -1, W | A, 0, 0, 0, "@keyspace @write @slow @dangerous" },
	{ "flushall", cmd_flushdb, -1, W | A, 0, 0, 0, "@keyspace @write @slow @dangerous" },
	{ "lpush", cmd_push, -3, W | M | F, 1, 1, 1, "@write @list @fast" },
	{ "rpush", cmd_push, -3, W | M | F, 1, 1, 1, "@write @list @fast" },
	{ "lpushx", cmd_push, -3, W | M | F, 1, 1, 1, "@write @list @fast" },
	{ "rpushx", cmd_push, -3, W | M | F, 1, 1, 1, "@write @list @fast" },
	{ "lpop", cmd_pop, -2, W | F, 1, 1, 1, "@write @list @fast" },
	{ "rpop", cmd_pop, -2, W | F, 1, 1, 1, "@write @list @fast" },
	{ "llen", cmd_llen, 2, R | F, 1, 1, 1, "@read @list @fast" },
	{ "lrange", cmd_lrange, 4, R, 1, 1, 1, "@read @list @slow" },
	{ "lindex", cmd_lindex, 3, R, 1, 1, 1, "@read @list @slow" },
	{ "lset", cmd_lset, 4, W | M, 1, 1, 1, "@write @list @slow" },
	{ "lrem", cmd_lrem, 4, W, 1, 1, 1, "@write @list @slow" },
	{ "ltrim", cmd_ltrim, 4, W, 1, 1, 1, "@write @list @slow" },
	{ "linsert", cmd_linsert, 5, W | M, 1, 1, 1, "@write @list @slow" },
	{ "lmove", cmd_lmove, 5, W | M, 1, 2, 1, "@write @list @slow" },
	{ "rpoplpush", cmd_lmove, 3, W | M, 1, 2, 1, "@write @list @slow" },
	{ "blpop", cmd_bpop, -3, W | CF_BLOCKING, 1, -2, 1, "@write @list @slow @blocking" },
	{ "brpop", cmd_bpop, -3, W | CF_BLOCKING, 1, -2, 1, "@write @list @slow @blocking" },
	{ "hset", cmd_hset, -4, W | M | F, 1, 1, 1, "@write @hash @fast" },
	{ "hmset", cmd_hset, -4, W | M | F, 1, 1, 1, "@write @hash @fast" },
	{ "hsetnx", cmd_hsetnx, 4, W | M | F, 1, 1, 1, "@write @hash @fast" },
	{ "hget", cmd_hget, 3, R | F, 1, 1, 1, "@read @hash @fast" },
	{ "hmget", cmd_hmget, -3, R | F, 1, 1, 1, "@read @hash @fast" },
	{ "hdel", cmd_hdel, -3, W | F, 1, 1, 1, "@write @hash @fast" },
	{ "hlen", cmd_hlen, 2, R | F, 1, 1, 1, "@read @hash @fast" },
	{ "hexists", cmd_hexists, 3, R | F, 1, 1, 1, "@read @hash @fast" },
	{ "hstrlen", cmd_hstrlen, 3, R | F, 1, 1, 1, "@read @hash @fast" },
	{ "hgetall", cmd_hgetall, 2, R, 1, 1, 1, "@read @hash @slow" },
	{ "hkeys", cmd_hgetall, 2, R, 1, 1, 1, "@read @hash @slow" },
	{ "hvals", cmd_hgetall, 2, R, 1, 1, 1, "@read @hash @slow" },
	{ "hincrby", cmd_hincrby, 4, W | M | F, 1, 1, 1, "@write @hash @fast" },
	{ "hincrbyfloat", cmd_hincrbyfloat, 4, W | M | F, 1, 1, 1, "@write @hash @fast" },
	{ "hscan", cmd_cscan, -3, R, 1, 1, 1, "@read @hash @slow" },
	{ "sadd", cmd_sadd, -3, W | M | F, 1, 1, 1, "@write @set @fast" },
	{ "srem", cmd_srem, -3, W | F, 1, 1, 1, "@write @set @fast" },
	{ "sismember", cmd_sismember, 3, R | F, 1, 1, 1, "@read @set @fast" },
	{ "smismember", cmd_sismember, -3, R | F, 1, 1, 1, "@read @set @fast" },
	{ "scard", cmd_scard, 2, R | F, 1, 1, 1, "@read @set @fast" },
	{ "smembers", cmd_smembers, 2, R, 1, 1, 1, "@read @set @slow" },
	{ "spop", cmd_spop, -2, W | F, 1, 1, 1, "@write @set @fast" },
	{ "srandmember", cmd_srandmember, -2, R, 1, 1, 1, "@read @set @slow" },
	{ "smove", cmd_smove, 4, W | F, 1, 2, 1, "@write @set @fast" },
	{ "sinter", cmd_setop, -2, R, 1, -1, 1, "@read @set @slow" },
	{ "sunion", cmd_setop, -2, R, 1, -1, 1, "@read @set @slow" },
	{ "sdiff", cmd_setop, -2, R, 1, -1, 1, "@read @set @slow" },
	{ "sinterstore", cmd_setop, -3, W | M, 1, -1, 1, "@write @set @slow" },
	{ "sunionstore", cmd_setop, -3, W | M, 1, -1, 1, "@write @set @slow" },
	{ "sdiffstore", cmd_setop, -3, W | M, 1, -1, 1, "@write @set @slow" },
	{ "sscan", cmd_cscan, -3, R, 1, 1, 1, "@read @set @slow" },
	{ "zadd", cmd_zadd, -4, W | M | F, 1, 1, 1, "@write @sortedset @fast" },
	{ "zincrby", cmd_zincrby, 4, W | M | F, 1, 1, 1, "@write @sortedset @fast" },
	{ "zscore", cmd_zscore, 3, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zmscore", cmd_zscore, -3, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zcard", cmd_zcard, 2, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zrank", cmd_zrank, 3, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zrevrank", cmd_zrank, 3, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zrem", cmd_zrem, -3, W | F, 1, 1, 1, "@write @sortedset @fast" },
	{ "zrange", cmd_zrange, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zrevrange", cmd_zrangeold, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zrangebyscore", cmd_zrangeold, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zrevrangebyscore", cmd_zrangeold, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zrangebylex", cmd_zrangeold, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zrevrangebylex", cmd_zrangeold, -4, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "zcount", cmd_zcount, 4, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zlexcount", cmd_zcount, 4, R | F, 1, 1, 1, "@read @sortedset @fast" },
	{ "zremrangebyrank", cmd_zremrange, 4, W, 1, 1, 1, "@write @sortedset @slow" },
	{ "zremrangebyscore", cmd_zremrange, 4, W, 1, 1, 1, "@write @sortedset @slow" },
	{ "zremrangebylex", cmd_zremrange, 4, W, 1, 1, 1, "@write @sortedset @slow" },
	{ "zpopmin", cmd_zpop, -2, W | F, 1, 1, 1, "@write @sortedset @fast" },
	{ "zpopmax", cmd_zpop, -2, W | F, 1, 1, 1, "@write @sortedset @fast" },
	{ "zscan", cmd_cscan, -3, R, 1, 1, 1, "@read @sortedset @slow" },
	{ "watch", kv_cmd_watch, -2, F | CF_NOMULTI, 1, -1, 1, "@transaction @fast" },
	{ "unwatch", kv_cmd_unwatch, 1, N | F, 0, 0, 0, "@transaction @fast" },
	{ "multi", kv_cmd_multi, 1, N | F | CF_NOMULTI, 0, 0, 0, "@transaction @fast" },
	{ "exec", kv_cmd_exec, 1, N | CF_NOMULTI, 0, 0, 0, "@transaction @slow" },
	{ "discard", kv_cmd_discard, 1, N | F | CF_NOMULTI, 0, 0, 0, "@transaction @fast" },
	{ "ping", cmd_ping, -1, N | F | CF_PUBSUB, 0, 0, 0, "@fast @connection" },
	{ "echo", cmd_echo, 2, N | F, 0, 0, 0, "@fast @connection" },
	{ "select", cmd_select, 2, N | F, 0, 0, 0, "@fast @connection" },
	{ "hello", cmd_hello, -1, N | F, 0, 0, 0, "@fast @connection" },
	{ "client", cmd_client, -2, N, 0, 0, 0, "@slow @connection" },
	{ "command", cmd_command, -1, N, 0, 0, 0, "@slow @connection" },
	{ "info", cmd_info, -1, A, 0, 0, 0, "@slow @dangerous" },
	{ "config", cmd_config, -2, N | CF_ADMIN, 0, 0, 0, "@admin @slow @dangerous" },
	{ "time", cmd_time, 1, N | F, 0, 0, 0, "@fast" },
	{ "quit", cmd_quit, -1, N | F | CF_PUBSUB | CF_NOMULTI, 0, 0, 0, "@fast @connection" },
	{ "reset", cmd_reset, 1, N | F | CF_PUBSUB | CF_NOMULTI, 0, 0, 0, "@fast @connection" },
	{ "subscribe", cmd_subscribe, -2, N | CF_PUBSUB, 0, 0, 0, "@pubsub @slow" },
	{ "psubscribe", cmd_subscribe, -2, N | CF_PUBSUB, 0, 0, 0, "@pubsub @slow" },
	{ "unsubscribe", cmd_unsubscribe, -1, N | CF_PUBSUB, 0, 0, 0, "@pubsub @slow" },
	{ "punsubscribe", cmd_unsubscribe, -1, N | CF_PUBSUB, 0, 0, 0, "@pubsub @slow" },
	{ "publish", cmd_publish, 3, N | F, 0, 0, 0, "@pubsub @fast" },
	{ "pubsub", cmd_pubsub, -2, N, 0, 0, 0, "@pubsub @slow" },
	{ "bgsave", cmd_bgsave, -1, N | CF_ADMIN, 0, 0, 0, "@admin @slow @dangerous" },
	{ "bgrewriteaof", cmd_bgsave, 1, N | CF_ADMIN, 0, 0, 0, "@admin @slow @dangerous" },
	{ "lastsave", cmd_lastsave, 1, N | F, 0, 0, 0, "@admin @fast @dangerous" },
	{ "readonly", cmd_readonly, 1, N | F, 0, 0, 0, "@fast @connection" },
	{ "cluster", cmd_cluster, -2, N, 0, 0, 0, "@slow" },
	{ "readwrite", cmd_readonly, 1, N | F, 0, 0, 0, "@fast @connection" },
};
const size_t kv_ncmds = sizeof(kv_cmds) / sizeof(kv_cmds[0]);

#undef W
#undef R
#undef A
#undef N
#undef F
#undef M

/* Command lookup: a fixed open-addressing table built once. */
#define CT_SIZE 512
static const kcmd_t *cmd_tab[CT_SIZE];
static pthread_once_t cmd_once = PTHREAD_ONCE_INIT;

static uint64_t ci_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;
	for (i = 0; i < n; i++)
		h = (h ^ (uint64_t)(p[i] | 32)) * 1099511628211ull;
	return h;
}

static void cmd_build(void)
{
	size_t i;
	for (i = 0; i < kv_ncmds; i++) {
		uint64_t h = ci_hash(kv_cmds[i].name, strlen(kv_cmds[i].name));
		while (cmd_tab[h % CT_SIZE])
			h++;
		cmd_tab[h % CT_SIZE] = &kv_cmds[i];
	}
}

const kcmd_t *kv_cmd_lookup(const char *name, size_t len)
{
	uint64_t h;
	if (len == 0 || len > 32)
		return NULL;
	pthread_once(&cmd_once, cmd_build);
	for (h = ci_hash(name, len);; h++) {
		const kcmd_t *c = cmd_tab[h % CT_SIZE];
		if (!c)
			return NULL;
		if (strlen(c->name) == len && !strncasecmp(c->name, name, len))
			return c;
	}
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */
/* ------------------------------------------------------------------ */

/* READONLY / READWRITE (Redis Cluster's): under raft, READONLY lets this
 * connection read a follower's (possibly stale) data instead of being
 * redirected to the leader.  Standalone, Redis's answer without cluster. */
static KV_CMD(cmd_readonly)
{
	(void)argc;
	if (!c->srv->raft) {
		r_err(c, "ERR This instance has cluster support disabled");
		return;
	}
	c->readonly = argv[0].len == 8 && arg_is(&argv[0], "readonly");
	r_ok(c);
}

/* CLUSTER: under raft, the view a Redis Cluster client needs (one slot
 * range served by the raft leader, the followers as its replicas); see
 * kv_raft_cluster.  Standalone, Redis's answer without cluster. */
static KV_CMD(cmd_cluster)
{
	if (!c->srv->raft) {
		r_err(c, "ERR This instance has cluster support disabled");
		return;
	}
	kv_raft_cluster(c, argc, argv);
}

static KV_CMD(cmd_ping)
{
	if (argc > 2) {
		r_arity(c, "ping");
		return;
	}
	if (c->resp == 2 && (c->subs.n || c->psubs.n)) {
		r_arr(c, 2);
		r_cstr(c, "pong");
		if (argc == 2)
			r_bulk(c, argv[1].p, argv[1].len);
		else
			r_bulk(c, "", 0);
		return;
	}
	if (argc == 2)
		r_bulk(c, argv[1].p, argv[1].len);
	else
		r_simple(c, "PONG");
}

static KV_CMD(cmd_echo)
{
	(void)argc;
	r_bulk(c, argv[1].p, argv[1].len);
}

static KV_CMD(cmd_select)
{
	long long db;
	(void)argc;
	if (arg_ll(&argv[1], &db) < 0) {
		r_notint(c);
		return;
	}
	if (db < 0 || db >= KV_DBS) {
		r_err(c, "ERR DB index is out of range");
		return;
	}
	c->db = (int)db;
	r_ok(c);
}

static KV_CMD(cmd_time)
{
	struct timeval tv;
	char tmp[32];
	(void)argc;
	(void)argv;
	gettimeofday(&tv, NULL);
	r_arr(c, 2);
	snprintf(tmp, sizeof(tmp), "%ld", (long)tv.tv_sec);
	r_cstr(c, tmp);
	snprintf(tmp, sizeof(tmp), "%ld", (long)tv.tv_usec);
	r_cstr(c, tmp);
}

static KV_CMD(cmd_quit)
{
	(void)argc;
	(void)argv;
	r_ok(c);
	c->close_after = true;
}

static void unsubscribe_all(kv_client_t *c, bool patterns, bool reply);

static KV_CMD(cmd_reset)
{
	(void)argc;
	(void)argv;
	kv_exec(c, 1, &(kv_arg_t){ "DISCARD", 7 });
	c->r.len = 0;
	kv_exec(c, 1, &(kv_arg_t){ "UNWATCH", 7 });
	c->r.len = 0;
	unsubscribe_all(c, false, false);
	unsubscribe_all(c, true, false);
	c->db = 0;
	c->resp = 2;
	c->name[0] = 0;
	c->readonly = false;
	r_simple(c, "RESET");
}

static void hello_reply(kv_client_t *c)
{
	r_map(c, 7);
	r_cstr(c, "server");
	r_cstr(c, "redis");
	r_cstr(c, "version");
	r_cstr(c, KV_VERSION);
	r_cstr(c, "proto");
	r_int(c, c->resp);
	r_cstr(c, "id");
	r_int(c, (long long)c->id);
	r_cstr(c, "mode");
	r_cstr(c, "standalone");
	r_cstr(c, "role");
	r_cstr(c, "master");
	r_cstr(c, "modules");
	r_arr(c, 0);
}

static KV_CMD(cmd_hello)
{
	long long ver = c->resp;
	int i;
	const kv_arg_t *name = NULL;

	if (argc >= 2) {
		if (arg_ll(&argv[1], &ver) < 0) {
			r_err(c, "ERR Protocol version is not an integer or out of range");
			return;
		}
		for (i = 2; i < argc; i++) {
			if (arg_is(&argv[i], "AUTH") && i + 2 < argc) {
				i += 2;   /* no ACLs: any credentials are accepted */
			} else if (arg_is(&argv[i], "SETNAME") && i + 1 < argc) {
				name = &argv[++i];
			} else {
				r_err(c, "ERR Syntax error in HELLO option '%.*s'", (int)argv[i].len,
				      argv[i].p);
				return;
			}
		}
		if (ver < 2 || ver > 3) {
			r_err(c, "NOPROTO unsupported protocol version");
			return;
		}
	}
	if (name) {
		size_t k;
		for (k = 0; k < name->len; k++) {
			if (name->p[k] < '!' || name->p[k] > '~') {
				r_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
				return;
			}
		}
		snprintf(c->name, sizeof(c->name), "%.*s", (int)name->len, name->p);
	}
	c->resp = (int)ver;
	hello_reply(c);
}

static KV_CMD(cmd_client)
{
	char tmp[512];
	if (arg_is(&argv[1], "ID") && argc == 2) {
		r_int(c, (long long)c->id);
	} else if (arg_is(&argv[1], "SETNAME") && argc == 3) {
		size_t k;
		for (k = 0; k < argv[2].len; k++) {
			if (argv[2].p[k] < '!' || argv[2].p[k] > '~') {
				r_err(c, "ERR Client names cannot contain spaces, newlines or special characters.");
				return;
			}
		}
		snprintf(c->name, sizeof(c->name), "%.*s", (int)argv[2].len, argv[2].p);
		r_ok(c);
	} else if (arg_is(&argv[1], "GETNAME") && argc == 2) {
		if (c->name[0])
			r_cstr(c, c->name);
		else
			r_null(c);
	} else if ((arg_is(&argv[1], "INFO") && argc == 2) || (arg_is(&argv[1], "LIST") && argc == 2)) {
		int n = snprintf(tmp, sizeof(tmp), "id=%llu addr=%s laddr= fd=0 name=%s db=%d "
				 "sub=%zu psub=%zu multi=%d resp=%d\n",
				 (unsigned long long)c->id, c->addr, c->name, c->db, c->subs.n,
				 c->psubs.n, c->in_multi ? c->nq : -1, c->resp);
		r_verbatim(c, tmp, (size_t)n);
	} else if (arg_is(&argv[1], "SETINFO") && argc == 4) {
		r_ok(c);
	} else if (arg_is(&argv[1], "GETNAME") || arg_is(&argv[1], "ID") ||
		   arg_is(&argv[1], "SETNAME") || arg_is(&argv[1], "INFO") ||
		   arg_is(&argv[1], "LIST") || arg_is(&argv[1], "SETINFO")) {
		char low[32];
		size_t k;
		for (k = 0; k < argv[1].len && k < sizeof(low) - 1; k++)
			low[k] = (char)(argv[1].p[k] | 32);
		low[k] = 0;
		r_err(c, "ERR wrong number of arguments for 'client|%s' command", low);
	} else {
		r_err(c, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.", (int)argv[1].len,
		      argv[1].p);
	}
}

/* One COMMAND entry (Redis 7 shape, RESP2 form):
 * [name, arity, [flags], first, last, step, [categories], [], [], []] */
static void command_entry(kv_client_t *c, const kcmd_t *k)
{
	int nf = 0;
	const char *fl[8];
	const char *p;
	int ncat = 0;

	if (k->flags & CF_WRITE)
		fl[nf++] = "write";
	if (k->flags & CF_READONLY)
		fl[nf++] = "readonly";
	if (k->flags & CF_DENYOOM)
		fl[nf++] = "denyoom";
	if (k->flags & CF_FAST)
		fl[nf++] = "fast";
	if (k->flags & CF_ADMIN)
		fl[nf++] = "admin";
	if (k->flags & CF_PUBSUB)
		fl[nf++] = "pubsub";
	if (k->flags & CF_BLOCKING)
		fl[nf++] = "blocking";
	r_arr(c, 10);
	r_cstr(c, k->name);
	r_int(c, k->arity);
	r_set(c, nf);
	for (int i = 0; i < nf; i++)
		r_simple(c, fl[i]);
	r_int(c, k->first);
	r_int(c, k->last);
	r_int(c, k->step);
	for (p = k->acl; *p; p++)
		if (*p == '@')
			ncat++;
	r_set(c, ncat);
	for (p = k->acl; *p;) {
		const char *e;
		while (*p == ' ')
			p++;
		e = p;
		while (*e && *e != ' ')
			e++;
		if (e > p) {
			kbuf_put(&c->r, "+", 1);
			kbuf_put(&c->r, p, (size_t)(e - p));
			kbuf_put(&c->r, "\r\n", 2);
		}
		p = e;
	}
	r_set(c, 0);
	r_arr(c, 0);
	r_arr(c, 0);
}

static KV_CMD(cmd_command)
{
	size_t i;
	int j;
	if (argc == 1) {
		r_arr(c, (long)kv_ncmds);
		for (i = 0; i < kv_ncmds; i++)
			command_entry(c, &kv_cmds[i]);
	} else if (arg_is(&argv[1], "COUNT") && argc == 2) {
		r_int(c, (long long)kv_ncmds);
	} else if (arg_is(&argv[1], "INFO")) {
		r_arr(c, argc - 2);
		for (j = 2; j < argc; j++) {
			const kcmd_t *k = kv_cmd_lookup(argv[j].p, argv[j].len);
			if (k)
				command_entry(c, k);
			else
				r_nullarr(c);
		}
	} else if (arg_is(&argv[1], "LIST") && argc == 2) {
		r_arr(c, (long)kv_ncmds);
		for (i = 0; i < kv_ncmds; i++)
			r_cstr(c, kv_cmds[i].name);
	} else if (arg_is(&argv[1], "DOCS")) {
		/* No documentation is served: an empty map (clients fall back). */
		r_map(c, 0);
	} else {
		r_err(c, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.", (int)argv[1].len,
		      argv[1].p);
	}
}

/* ------------------------------------------------------------------ */
/* INFO and CONFIG                                                     */
/* ------------------------------------------------------------------ */

static const char *fsync_name(int m)
{
	return m == FSYNC_ALWAYS ? "always" : m == FSYNC_EVERYSEC ? "everysec" : "no";
}

static bool want_section(int argc, const kv_arg_t *argv, const char *name)
{
	int i;
	if (argc < 2)
		return true;
	for (i = 1; i < argc; i++)
		if (arg_is(&argv[i], name) || arg_is(&argv[i], "all") ||
		    arg_is(&argv[i], "everything") || arg_is(&argv[i], "default"))
			return true;
	return false;
}

static void kvf(kbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kvf(kbuf_t *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		kbuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static KV_CMD(cmd_info)
{
	kv_srv_t *s = c->srv;
	kbuf_t b = { 0 };
	struct rusage ru;
	int d;
	unsigned i;

	if (want_section(argc, argv, "server")) {
		uint64_t up = ((uint64_t)kv_mstime() - s->start_ms) / 1000;
		kvf(&b, "# Server\r\nredis_version:%s\r\nredis_mode:%s\r\n"
		    "myco_kv_version:%s\r\nos:Linux\r\narch_bits:64\r\nprocess_id:%d\r\n"
		    "tcp_port:%u\r\nuptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\n"
		    "io_threads_active:0\r\nshards:%u\r\n\r\n",
		    KV_VERSION, s->raft ? "cluster" : "standalone", myco_version(), (int)getpid(),
		    s->port,
		    (unsigned long long)up, (unsigned long long)up / 86400, s->nshards);
	}
	if (want_section(argc, argv, "clients"))
		kvf(&b, "# Clients\r\nconnected_clients:%d\r\nblocked_clients:%d\r\n\r\n",
		    atomic_load(&s->nclients), atomic_load(&s->nblocked));
	if (want_section(argc, argv, "memory")) {
		getrusage(RUSAGE_SELF, &ru);
		kvf(&b, "# Memory\r\nused_memory:%ld\r\nused_memory_rss:%ld\r\nmaxmemory:0\r\n"
		    "maxmemory_policy:noeviction\r\n\r\n", ru.ru_maxrss * 1024L, ru.ru_maxrss * 1024L);
	}
	if (want_section(argc, argv, "persistence")) {
		kvf(&b, "# Persistence\r\nloading:0\r\naof_enabled:%d\r\nappendfsync:%s\r\n"
		    "aof_last_write_status:%s\r\n", s->wal ? 1 : 0, fsync_name(s->appendfsync),
		    s->wal_error ? "err" : "ok");
		if (s->wal)
			kv_wal_info(s, &b);
		kvf(&b, "\r\n");
	}
	if (want_section(argc, argv, "stats"))
		kvf(&b, "# Stats\r\ntotal_connections_received:%llu\r\n"
		    "total_commands_processed:%llu\r\nexpired_keys:%llu\r\n"
		    "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\n"
		    "tx_optimistic_commits:%llu\r\ntx_conflict_retries:%llu\r\n"
		    "tx_locked_execs:%llu\r\ntx_watch_aborts:%llu\r\n\r\n",
		    (unsigned long long)s->stat_conns, (unsigned long long)s->stat_commands,
		    (unsigned long long)s->stat_expired,
		    (unsigned long long)s->stat_keyspace_hits,
		    (unsigned long long)s->stat_keyspace_misses,
		    (unsigned long long)s->stat_tx_commits,
		    (unsigned long long)s->stat_tx_retries,
		    (unsigned long long)s->stat_tx_locked,
		    (unsigned long long)s->stat_tx_watch_aborts);
	if (want_section(argc, argv, "replication")) {
		if (s->raft)
			kv_raft_info(s, &b);
		else
			kvf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
	}
	if (s->raft && want_section(argc, argv, "cluster"))
		kvf(&b, "# Cluster\r\ncluster_enabled:1\r\n\r\n");
	if (want_section(argc, argv, "keyspace")) {
		kvf(&b, "# Keyspace\r\n");
		for (d = 0; d < KV_DBS; d++) {
			size_t keys = 0, exp = 0;
			for (i = 0; i < s->nshards; i++) {
				keys += s->shards[i].db[d].n;
				exp += s->shards[i].nexpires[d];
			}
			if (keys)
				kvf(&b, "db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", d, keys, exp);
		}
	}
	r_verbatim(c, b.p ? b.p : "", b.len);
	kbuf_free(&b);
}

static const char *cfg_names[] = { "appendfsync", "appendonly", "databases", "port", "dir",
				   "save", "maxmemory", "maxmemory-policy", "timeout",
				   "io-threads", "proto-max-bulk-len", "auto-snapshot-bytes",
				   NULL };

static void cfg_value(kv_client_t *c, int i, char *out, size_t cap)
{
	kv_srv_t *s = c->srv;
	switch (i) {
	case 0: snprintf(out, cap, "%s", fsync_name(s->appendfsync)); break;
	case 1: snprintf(out, cap, "%s", s->wal ? "yes" : "no"); break;
	case 2: snprintf(out, cap, "%d", KV_DBS); break;
	case 3: snprintf(out, cap, "%u", s->port); break;
	case 4: snprintf(out, cap, "%s", s->dir ? s->dir : ""); break;
	case 5: snprintf(out, cap, "%s", ""); break;
	case 6: snprintf(out, cap, "0"); break;
	case 7: snprintf(out, cap, "noeviction"); break;
	case 8: snprintf(out, cap, "0"); break;
	case 9: snprintf(out, cap, "%u", s->nshards); break;
	case 10: snprintf(out, cap, "%lld", (long long)RESP_BULK_MAX); break;
	case 11: snprintf(out, cap, "%lld", (long long)s->snap_threshold); break;
	}
}

static KV_CMD(cmd_config)
{
	char val[4096];
	int i, j, n = 0;

	if (arg_is(&argv[1], "GET")) {
		bool hit[32] = { false };
		if (argc < 3) {
			r_err(c, "ERR wrong number of arguments for 'config|get' command");
			return;
		}
		for (j = 2; j < argc; j++)
			for (i = 0; cfg_names[i]; i++)
				if (kv_match(argv[j].p, argv[j].len, cfg_names[i], strlen(cfg_names[i]), true) &&
				    !hit[i]) {
					hit[i] = true;
					n++;
				}
		r_map(c, n);
		for (i = 0; cfg_names[i]; i++) {
			if (!hit[i])
				continue;
			r_cstr(c, cfg_names[i]);
			cfg_value(c, i, val, sizeof(val));
			r_cstr(c, val);
		}
	} else if (arg_is(&argv[1], "SET")) {
		if (argc < 4 || argc % 2) {
			r_err(c, "ERR wrong number of arguments for 'config|set' command");
			return;
		}
		for (j = 2; j < argc; j += 2) {
			if (arg_is(&argv[j], "appendfsync")) {
				int m = arg_is(&argv[j + 1], "always") ? FSYNC_ALWAYS :
					arg_is(&argv[j + 1], "everysec") ? FSYNC_EVERYSEC :
					arg_is(&argv[j + 1], "no") ? FSYNC_NO : -1;
				if (m < 0) {
					r_err(c, "ERR CONFIG SET failed (possibly related to argument "
					      "'appendfsync') - argument(s) must be one of the following: "
					      "always, everysec, no");
					return;
				}
				c->srv->appendfsync = m;
			} else if (arg_is(&argv[j], "auto-snapshot-bytes")) {
				long long v;
				if (arg_ll(&argv[j + 1], &v) < 0 || v < 0) {
					r_err(c, "ERR CONFIG SET failed (possibly related to argument "
					      "'auto-snapshot-bytes') - argument couldn't be parsed into an integer");
					return;
				}
				c->srv->snap_threshold = v;
			} else if (arg_is(&argv[j], "save") || arg_is(&argv[j], "timeout") ||
				   arg_is(&argv[j], "maxmemory-policy")) {
				/* accepted and ignored: what exists here has no such knob */
			} else {
				r_err(c, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
				      (int)argv[j].len, argv[j].p);
				return;
			}
		}
		r_ok(c);
	} else if (arg_is(&argv[1], "RESETSTAT") && argc == 2) {
		c->srv->stat_commands = 0;
		c->srv->stat_keyspace_hits = 0;
		c->srv->stat_keyspace_misses = 0;
		c->srv->stat_expired = 0;
		c->srv->stat_tx_commits = 0;
		c->srv->stat_tx_retries = 0;
		c->srv->stat_tx_locked = 0;
		c->srv->stat_tx_watch_aborts = 0;
		r_ok(c);
	} else {
		r_err(c, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.", (int)argv[1].len,
		      argv[1].p);
	}
}

static KV_CMD(cmd_bgsave)
{
	int rc;
	(void)argc;
	(void)argv;
	if (c->in_exec) {
		/* it would need the shard locks this EXEC holds */
		r_err(c, "ERR BGSAVE is not allowed inside MULTI");
		return;
	}
	if (!c->srv->wal) {
		r_err(c, "ERR persistence is off (start with --dir)");
		return;
	}
	rc = kv_wal_bgsave(c->srv);
	if (rc == -EBUSY)
		r_err(c, "ERR Background save already in progress");
	else if (rc < 0)
		r_err(c, "ERR Background save failed: %s", strerror(-rc));
	else
		r_simple(c, "Background saving started");
}

static KV_CMD(cmd_lastsave)
{
	(void)argc;
	(void)argv;
	r_int(c, (long long)(c->srv->start_ms / 1000));
}

/* ------------------------------------------------------------------ */
/* Pub/sub                                                             */
/* ------------------------------------------------------------------ */

/* Move pending replies into the push buffer (keeps order). */
static void move_pending(kv_client_t *c)
{
	if (!c->r.len)
		return;
	pthread_mutex_lock(&c->olock);
	kbuf_put(&c->push, c->r.p, c->r.len);
	pthread_mutex_unlock(&c->olock);
	c->r.len = 0;
}

/* Write a push frame for client t into its push buffer.  Called with the
 * registry lock held. */
static void deliver(kv_client_t *t, const char *kind, const kv_arg_t *pat, const kv_arg_t *ch,
		    const kv_arg_t *msg)
{
	kv_client_t tmp;
	memset(&tmp, 0, sizeof(tmp));
	tmp.resp = t->resp;
	r_push(&tmp, pat ? 4 : 3);
	r_cstr(&tmp, kind);
	if (pat)
		r_bulk(&tmp, pat->p, pat->len);
	r_bulk(&tmp, ch->p, ch->len);
	r_bulk(&tmp, msg->p, msg->len);
	pthread_mutex_lock(&t->olock);
	kbuf_put(&t->push, tmp.r.p, tmp.r.len);
	pthread_mutex_unlock(&t->olock);
	kbuf_free(&tmp.r);
	if (t->ev)
		myco_event_notify(t->ev);
}

static void sub_reply(kv_client_t *c, const char *kind, const void *p, size_t n, bool null)
{
	r_push(c, 3);
	r_cstr(c, kind);
	if (null)
		r_null(c);
	else
		r_bulk(c, p, n);
	r_int(c, (long long)(c->subs.n + c->psubs.n));
}

static void flush_own(kv_client_t *c)
{
	pthread_mutex_lock(&c->olock);
	kbuf_put(&c->push, c->r.p, c->r.len);
	pthread_mutex_unlock(&c->olock);
	c->r.len = 0;
}

static KV_CMD(cmd_subscribe)
{
	bool pat = (argv[0].p[0] | 32) == 'p';
	kv_srv_t *s = c->srv;
	int i;

	if (c->in_exec) {
		r_err(c, "ERR %s isn't allowed for a DENY BLOCKING client",
		      pat ? "PSUBSCRIBE" : "SUBSCRIBE");
		return;
	}
	move_pending(c);
	pthread_mutex_lock(&s->ps_mu);
	for (i = 1; i < argc; i++) {
		bool isnew;
		de_t *e = dict_upsert(pat ? &c->psubs : &c->subs, argv[i].p, argv[i].len, &isnew);
		if (e && isnew) {
			if (pat) {
				struct kv_psub *ps = calloc(1, sizeof(*ps));
				if (ps) {
					ps->c = c;
					ps->pat = ks_new(argv[i].p, argv[i].len);
					ps->next = s->psubs;
					s->psubs = ps;
				}
			} else {
				watcher_t *w = calloc(1, sizeof(*w));
				de_t *ce = dict_upsert(&s->ps_channels, argv[i].p, argv[i].len, &isnew);
				if (w && ce) {
					w->c = c;
					w->next = ce->v;
					ce->v = w;
				} else {
					free(w);
				}
			}
		}
		sub_reply(c, pat ? "psubscribe" : "subscribe", argv[i].p, argv[i].len, false);
	}
	flush_own(c);
	pthread_mutex_unlock(&s->ps_mu);
}

/* Remove c from one channel or pattern of the registry (ps_mu held). */
static void registry_remove(kv_client_t *c, bool pat, const char *p, size_t n)
{
	kv_srv_t *s = c->srv;
	if (pat) {
		struct kv_psub **pp = &s->psubs, *x;
		for (; (x = *pp); pp = &x->next) {
			if (x->c == c && x->pat->len == n && !memcmp(x->pat->d, p, n)) {
				*pp = x->next;
				ks_free(x->pat);
				free(x);
				return;
			}
		}
	} else {
		de_t *e = dict_find(&s->ps_channels, p, n);
		watcher_t **pp, *w;
		if (!e)
			return;
		for (pp = (watcher_t **)&e->v; (w = *pp); pp = &w->next) {
			if (w->c == c) {
				*pp = w->next;
				free(w);
				break;
			}
		}
		if (!e->v) {
			e = dict_unlink(&s->ps_channels, p, n);
			dict_free_entry(e);
		}
	}
}

static void unsubscribe_all(kv_client_t *c, bool pat, bool reply)
{
	dict_t *d = pat ? &c->psubs : &c->subs;
	const char *kind = pat ? "punsubscribe" : "unsubscribe";
	size_t b;

	pthread_mutex_lock(&c->srv->ps_mu);
	if (d->n == 0 && reply)
		sub_reply(c, kind, NULL, 0, true);
	while (d->n) {
		for (b = 0; d->t && b <= d->mask; b++) {
			de_t *e = d->t[b];
			if (!e)
				continue;
			registry_remove(c, pat, e->key->d, e->key->len);
			e = dict_unlink(d, e->key->d, e->key->len);
			if (reply)
				sub_reply(c, kind, e->key->d, e->key->len, false);
			dict_free_entry(e);
			break;
		}
	}
	if (reply)
		flush_own(c);
	pthread_mutex_unlock(&c->srv->ps_mu);
}

static KV_CMD(cmd_unsubscribe)
{
	bool pat = (argv[0].p[0] | 32) == 'p';
	const char *kind = pat ? "punsubscribe" : "unsubscribe";
	int i;

	move_pending(c);
	if (argc == 1) {
		unsubscribe_all(c, pat, true);
		return;
	}
	pthread_mutex_lock(&c->srv->ps_mu);
	for (i = 1; i < argc; i++) {
		de_t *e = dict_unlink(pat ? &c->psubs : &c->subs, argv[i].p, argv[i].len);
		if (e) {
			registry_remove(c, pat, argv[i].p, argv[i].len);
			dict_free_entry(e);
		}
		sub_reply(c, kind, argv[i].p, argv[i].len, false);
	}
	flush_own(c);
	pthread_mutex_unlock(&c->srv->ps_mu);
}

void kv_pubsub_drop(kv_client_t *c)
{
	if (c->subs.n)
		unsubscribe_all(c, false, false);
	if (c->psubs.n)
		unsubscribe_all(c, true, false);
	dict_clear(&c->subs, NULL);
	dict_clear(&c->psubs, NULL);
}

static KV_CMD(cmd_publish)
{
	kv_srv_t *s = c->srv;
	long long n = 0;
	de_t *e;
	watcher_t *w;
	struct kv_psub *ps;
	(void)argc;

	pthread_mutex_lock(&s->ps_mu);
	e = dict_find(&s->ps_channels, argv[1].p, argv[1].len);
	for (w = e ? e->v : NULL; w; w = w->next, n++)
		deliver(w->c, "message", NULL, &argv[1], &argv[2]);
	for (ps = s->psubs; ps; ps = ps->next) {
		if (kv_match(ps->pat->d, ps->pat->len, argv[1].p, argv[1].len, false)) {
			kv_arg_t pa = arg_of(ps->pat);
			deliver(ps->c, "pmessage", &pa, &argv[1], &argv[2]);
			n++;
		}
	}
	pthread_mutex_unlock(&s->ps_mu);
	r_int(c, n);
}

static KV_CMD(cmd_pubsub)
{
	kv_srv_t *s = c->srv;
	int i;

	pthread_mutex_lock(&s->ps_mu);
	if (arg_is(&argv[1], "CHANNELS") && argc <= 3) {
		size_t b, n = 0;
		kv_client_t tmp;
		memset(&tmp, 0, sizeof(tmp));
		tmp.resp = c->resp;
		for (b = 0; s->ps_channels.t && b <= s->ps_channels.mask; b++) {
			for (de_t *e = s->ps_channels.t[b]; e; e = e->next) {
				if (argc == 3 && !kv_match(argv[2].p, argv[2].len, e->key->d, e->key->len, false))
					continue;
				r_bulk(&tmp, e->key->d, e->key->len);
				n++;
			}
		}
		r_arr(c, (long)n);
		kbuf_put(&c->r, tmp.r.p, tmp.r.len);
		kbuf_free(&tmp.r);
	} else if (arg_is(&argv[1], "NUMSUB")) {
		r_map(c, argc - 2);
		for (i = 2; i < argc; i++) {
			de_t *e = dict_find(&s->ps_channels, argv[i].p, argv[i].len);
			long long n = 0;
			for (watcher_t *w = e ? e->v : NULL; w; w = w->next)
				n++;
			r_bulk(c, argv[i].p, argv[i].len);
			r_int(c, n);
		}
	} else if (arg_is(&argv[1], "NUMPAT") && argc == 2) {
		long long n = 0;
		for (struct kv_psub *ps = s->psubs; ps; ps = ps->next)
			n++;
		r_int(c, n);
	} else {
		r_err(c, "ERR unknown subcommand '%.*s'. Try PUBSUB HELP.", (int)argv[1].len,
		      argv[1].p);
	}
	pthread_mutex_unlock(&s->ps_mu);
}
