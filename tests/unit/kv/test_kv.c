/*
 * test_kv.c: unit tests of myco-kv's core without sockets: the RESP parser
 * (incremental parsing, Redis's integer rules, the bad-input corpus in
 * bad/ with each file's exact expected error), glob matching, the SCAN
 * cursor across table growth, commands through kv_exec, WATCH and
 * MULTI/EXEC across shards, the WAL (append, replay, torn tail cut), a
 * threaded transfer test (run under TSan), and raft snapshots taken by
 * reference while writers run (copy on write; under TSan too).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kv_int.h"
#include "myco_peers.h"

#ifndef BAD_DIR
#define BAD_DIR "bad"
#endif

/* Run one command given as words; returns the reply (static buffer). */
static const char *run(kv_client_t *c, const char *line)
{
	static _Thread_local char out[8192];
	kv_arg_t av[32];
	char tmp[1024];
	int n = 0;
	char *p, *save = NULL;

	snprintf(tmp, sizeof(tmp), "%s", line);
	for (p = strtok_r(tmp, " ", &save); p && n < 32; p = strtok_r(NULL, " ", &save)) {
		av[n].p = p;
		av[n].len = strlen(p);
		n++;
	}
	c->r.len = 0;
	kv_exec(c, n, av);
	n = (int)(c->r.len < sizeof(out) - 1 ? c->r.len : sizeof(out) - 1);
	memcpy(out, c->r.p, (size_t)n);
	out[n] = 0;
	return out;
}

static void test_resp_incremental(void **state)
{
	const char *in = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\r\nl\r\n*1\r\n$4\r\nPING\r\n";
	size_t len = strlen(in), cut;
	kv_req_t req = { 0 };
	const char *err;
	(void)state;

	/* every prefix is "need more" until the first request is whole */
	for (cut = 0; cut < 31; cut++)
		assert_int_equal(resp_parse(in, cut, &req, &err), 0);
	assert_int_equal(resp_parse(in, len, &req, &err), 31);
	assert_int_equal(req.argc, 3);
	assert_int_equal(req.argv[2].len, 5);
	assert_memory_equal(req.argv[2].p, "he\r\nl", 5);
	assert_int_equal(resp_parse(in + 31, len - 31, &req, &err), (int)(len - 31));
	assert_int_equal(req.argc, 1);
	/* inline with quotes and escapes */
	{
		const char *l = "SET a \"x\\x41\\n\" 'b\\'c'\r\n";
		assert_int_equal(resp_parse(l, strlen(l), &req, &err), (int)strlen(l));
	}
	assert_int_equal(req.argc, 4);
	assert_int_equal(req.argv[2].len, 3);
	assert_memory_equal(req.argv[2].p, "xA\n", 3);
	assert_memory_equal(req.argv[3].p, "b'c", 3);
	/* empty line and *0 are skipped (argc 0) */
	assert_int_equal(resp_parse("\r\n", 2, &req, &err), 2);
	assert_int_equal(req.argc, 0);
	assert_int_equal(resp_parse("*0\r\n", 4, &req, &err), 4);
	assert_int_equal(req.argc, 0);
	resp_req_free(&req);
}

static void test_resp_ll(void **state)
{
	long long v;
	(void)state;
	assert_int_equal(resp_ll("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(resp_ll("-9223372036854775808", 20, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(resp_ll("9223372036854775807", 19, &v), 0);
	assert_int_equal(resp_ll("9223372036854775808", 19, &v), -EINVAL);
	assert_int_equal(resp_ll("007", 3, &v), -EINVAL);
	assert_int_equal(resp_ll("+1", 2, &v), -EINVAL);
	assert_int_equal(resp_ll("-0", 2, &v), -EINVAL);
	assert_int_equal(resp_ll(" 1", 2, &v), -EINVAL);
	assert_int_equal(resp_ll("-", 1, &v), -EINVAL);
	assert_int_equal(resp_ll("", 0, &v), -EINVAL);
}

/* Every bad/NAME.in gives exactly the error in bad/NAME.err, whether it
 * arrives whole or as a prefix growing byte by byte (never a crash, never
 * a different answer). */
static void test_bad_corpus(void **state)
{
	DIR *d = opendir(BAD_DIR);
	struct dirent *e;
	int cases = 0;
	(void)state;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512], want[256], *in;
		size_t len = strlen(e->d_name), n, cut;
		FILE *f;
		kv_req_t req = { 0 };
		const char *err = NULL;
		int rc = 0;
		struct stat st;

		if (len < 4 || strcmp(e->d_name + len - 3, ".in"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", BAD_DIR, e->d_name);
		assert_int_equal(stat(path, &st), 0);
		in = malloc((size_t)st.st_size);
		f = fopen(path, "rb");
		assert_non_null(f);
		n = fread(in, 1, (size_t)st.st_size, f);
		fclose(f);
		snprintf(path + strlen(path) - 3, 8, ".err");
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(want, sizeof(want), f));
		fclose(f);
		want[strcspn(want, "\n")] = 0;
		for (cut = n > 4096 ? n - 16 : 0; cut <= n; cut++) {
			rc = resp_parse(in, cut, &req, &err);
			if (rc < 0)
				break;
			assert_int_equal(rc, 0);   /* no bad case is ever a request */
		}
		if (rc != -EPROTO || strcmp(err, want)) {
			fprintf(stderr, "%s: got rc %d '%s', want '%s'\n", e->d_name, rc,
				err ? err : "", want);
			fail();
		}
		free(in);
		resp_req_free(&req);
		cases++;
	}
	closedir(d);
	assert_true(cases >= 10);
}

static void test_glob(void **state)
{
	(void)state;
	/* Redis Cluster's slot function: CRC16/XMODEM("123456789") = 0x31C3,
	 * and a {hash tag} alone decides */
	assert_int_equal(kv_slot("123456789", 9), 0x31C3 & 16383);
	assert_int_equal(kv_slot("{user1000}.following", 20), kv_slot("user1000", 8));
	assert_int_equal(kv_slot("foo{}{bar}", 10), kv_slot("foo{}{bar}", 10));
	assert_true(kv_match("*", 1, "abc", 3, false));
	assert_true(kv_match("a?c", 3, "abc", 3, false));
	assert_true(kv_match("h[ae]llo", 8, "hallo", 5, false));
	assert_false(kv_match("h[^e]llo", 8, "hello", 5, false));
	assert_true(kv_match("h[a-b]llo", 9, "hbllo", 5, false));
	assert_true(kv_match("a\\*b", 4, "a*b", 3, false));
	assert_false(kv_match("a\\*b", 4, "axb", 3, false));
	assert_true(kv_match("APPEND*", 7, "appendfsync", 11, true));
	assert_false(kv_match("k*", 2, "x", 1, false));
	assert_true(kv_match("**a", 3, "xxa", 3, false));
}

struct seen {
	char hit[5000];
	int dup;
};

static void mark(de_t *e, void *arg)
{
	struct seen *s = arg;
	int i = atoi(e->key->d);
	if (s->hit[i])
		s->dup++;
	s->hit[i] = 1;
}

static void test_scan_growth(void **state)
{
	dict_t d = { 0 };
	struct seen s;
	uint64_t cur = 0;
	int i, steps = 0;
	char k[16];
	bool isnew;
	(void)state;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "%d", i);
		assert_non_null(dict_upsert(&d, k, strlen(k), &isnew));
	}
	/* grow the table while scanning: every original element is returned */
	do {
		cur = dict_scan(&d, cur, mark, &s);
		if (++steps % 10 == 0 && steps < 200) {
			for (i = 1000 + steps * 20; i < 1000 + steps * 20 + 20; i++) {
				snprintf(k, sizeof(k), "%d", i);
				dict_upsert(&d, k, strlen(k), &isnew);
			}
		}
	} while (cur);
	for (i = 0; i < 1000; i++)
		assert_true(s.hit[i]);
	dict_clear(&d, NULL);
}

static kv_srv_t *new_srv(unsigned shards)
{
	kv_srv_t *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(kv_srv_init(s, shards), 0);
	return s;
}

static void free_srv(kv_srv_t *s)
{
	kv_srv_fini(s);
	free(s);
}

static void test_commands(void **state)
{
	kv_srv_t *s = new_srv(4);
	kv_client_t *c = kv_client_new(s);
	(void)state;

	assert_string_equal(run(c, "SET k v"), "+OK\r\n");
	assert_string_equal(run(c, "GET k"), "$1\r\nv\r\n");
	assert_string_equal(run(c, "get"), "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(run(c, "Nope a b"),
			    "-ERR unknown command 'Nope', with args beginning with: 'a' 'b' \r\n");
	assert_string_equal(run(c, "LPUSH k x"),
			    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	assert_string_equal(run(c, "INCR k"), "-ERR value is not an integer or out of range\r\n");
	assert_string_equal(run(c, "SET n 9223372036854775807"), "+OK\r\n");
	assert_string_equal(run(c, "INCR n"), "-ERR increment or decrement would overflow\r\n");
	assert_string_equal(run(c, "ZADD z 1 a 2 b 3 c"), ":3\r\n");
	assert_string_equal(run(c, "ZRANGE z (1 3 BYSCORE LIMIT 1 1"), "*1\r\n$1\r\nc\r\n");
	assert_string_equal(run(c, "ZREVRANK z a"), ":2\r\n");
	assert_string_equal(run(c, "ZRANK z a"), ":0\r\n");
	assert_string_equal(run(c, "SELECT 16"), "-ERR DB index is out of range\r\n");
	assert_string_equal(run(c, "SELECT 1"), "+OK\r\n");
	assert_string_equal(run(c, "GET k"), "$-1\r\n");
	assert_true(strncmp(run(c, "HELLO 3"), "%7\r\n$6\r\nserver\r\n", 16) == 0);
	assert_string_equal(run(c, "GET k"), "_\r\n");
	assert_string_equal(run(c, "HELLO 4"), "-NOPROTO unsupported protocol version\r\n");
	kv_client_free(c);
	free_srv(s);
}

static void test_watch_exec(void **state)
{
	kv_srv_t *s = new_srv(8);
	kv_client_t *a = kv_client_new(s), *b = kv_client_new(s);
	(void)state;

	/* untouched watched keys: EXEC runs */
	run(a, "SET x 1");
	assert_string_equal(run(a, "WATCH x y"), "+OK\r\n");
	run(a, "MULTI");
	assert_string_equal(run(a, "INCR x"), "+QUEUED\r\n");
	assert_string_equal(run(a, "INCR y"), "+QUEUED\r\n");
	assert_string_equal(run(a, "EXEC"), "*2\r\n:2\r\n:1\r\n");
	/* another client writes a watched key: EXEC aborts */
	run(a, "WATCH x");
	run(b, "SET x 100");
	run(a, "MULTI");
	run(a, "INCR x");
	assert_string_equal(run(a, "EXEC"), "*-1\r\n");
	assert_string_equal(run(a, "GET x"), "$3\r\n100\r\n");
	/* creating a watched key that did not exist aborts too */
	run(a, "WATCH fresh");
	run(b, "SET fresh 1");
	run(a, "MULTI");
	run(a, "GET fresh");
	assert_string_equal(run(a, "EXEC"), "*-1\r\n");
	/* a write to another key on the same shard does not */
	run(a, "WATCH {t}1");
	run(b, "SET {t}2 z");
	run(a, "MULTI");
	run(a, "GET {t}1");
	assert_string_equal(run(a, "EXEC"), "*1\r\n$-1\r\n");
	/* FLUSHDB touches watched keys that exist */
	run(a, "WATCH x");
	run(b, "FLUSHDB");
	run(a, "MULTI");
	run(a, "SET x 1");
	assert_string_equal(run(a, "EXEC"), "*-1\r\n");
	/* queued errors abort the whole transaction */
	run(a, "MULTI");
	run(a, "SET q 1");
	assert_string_equal(run(a, "GET"), "-ERR wrong number of arguments for 'get' command\r\n");
	assert_string_equal(run(a, "EXEC"),
			    "-EXECABORT Transaction discarded because of previous errors.\r\n");
	assert_string_equal(run(a, "GET q"), "$-1\r\n");
	/* runtime errors do not: the rest still runs */
	run(a, "SET s str");
	run(a, "MULTI");
	run(a, "LPUSH s x");
	run(a, "SET after 1");
	assert_string_equal(run(a, "EXEC"),
			    "*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n");
	assert_string_equal(run(a, "EXEC"), "-ERR EXEC without MULTI\r\n");
	assert_string_equal(run(a, "DISCARD"), "-ERR DISCARD without MULTI\r\n");
	run(a, "MULTI");
	assert_string_equal(run(a, "MULTI"), "-ERR MULTI calls can not be nested\r\n");
	assert_string_equal(run(a, "WATCH x"), "-ERR WATCH inside MULTI is not allowed\r\n");
	assert_string_equal(run(a, "DISCARD"), "+OK\r\n");
	kv_client_free(a);
	kv_client_free(b);
	free_srv(s);
}

/* Transfers from several threads over the shard locks: the total never
 * changes and MULTI reads always see it whole. */
#define ACCTS 16
#define START 1000

struct tctx {
	kv_srv_t *s;
	int seed;
	int bad;
	long aborted, done;
};

static long total_of(kv_client_t *c)
{
	char line[64];
	long sum = 0;
	int i;
	const char *r;

	run(c, "MULTI");
	for (i = 0; i < ACCTS; i++) {
		snprintf(line, sizeof(line), "GET a%d", i);
		run(c, line);
	}
	r = run(c, "EXEC");
	for (r = strchr(r, '\n') + 1; *r; r = strchr(r, '\n') + 1) {
		r = strchr(r, '\n') + 1;   /* skip "$len" */
		sum += atol(r);
	}
	return sum;
}

static void *transfer_thread(void *arg)
{
	struct tctx *t = arg;
	kv_client_t *c = kv_client_new(t->s);
	unsigned seed = (unsigned)t->seed;
	int i;

	for (i = 0; i < 3000; i++) {
		int a = rand_r(&seed) % ACCTS, b = rand_r(&seed) % ACCTS, amt = rand_r(&seed) % 10 + 1;
		char l1[64], l2[64], l3[64];
		if (a == b)
			continue;
		snprintf(l1, sizeof(l1), "WATCH a%d a%d", a, b);
		snprintf(l2, sizeof(l2), "DECRBY a%d %d", a, amt);
		snprintf(l3, sizeof(l3), "INCRBY a%d %d", b, amt);
		if (i % 2)
			run(c, l1);
		run(c, "MULTI");
		run(c, l2);
		run(c, l3);
		if (!strcmp(run(c, "EXEC"), "*-1\r\n"))
			t->aborted++;
		else
			t->done++;
		if (i % 50 == 0 && total_of(c) != ACCTS * START)
			t->bad++;
	}
	kv_client_free(c);
	return NULL;
}

static void test_threaded_transfers(void **state)
{
	kv_srv_t *s = new_srv(8);
	kv_client_t *c = kv_client_new(s);
	pthread_t th[4];
	struct tctx t[4];
	char line[64];
	int i;
	(void)state;

	for (i = 0; i < ACCTS; i++) {
		snprintf(line, sizeof(line), "SET a%d %d", i, START);
		run(c, line);
	}
	for (i = 0; i < 4; i++) {
		t[i] = (struct tctx){ .s = s, .seed = i + 1 };
		assert_int_equal(pthread_create(&th[i], NULL, transfer_thread, &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
		assert_true(t[i].done > 0);
	}
	assert_int_equal(total_of(c), ACCTS * START);
	kv_client_free(c);
	free_srv(s);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void test_wal_replay(void **state)
{
	char dir[] = "/tmp/kvwal-XXXXXX";
	kv_srv_t *s;
	kv_client_t *c;
	int fd;
	char path[128];
	struct stat st;
	(void)state;

	assert_non_null(mkdtemp(dir));
	s = new_srv(4);
	assert_int_equal(kv_wal_open(s, dir, FSYNC_ALWAYS), 0);
	assert_int_equal(kv_wal_replay(s), 0);
	assert_int_equal(kv_wal_start(s), 0);
	/* a second open of the same directory is refused */
	{
		kv_srv_t *s2 = new_srv(1);
		assert_int_equal(kv_wal_open(s2, dir, FSYNC_ALWAYS), -EBUSY);
		free_srv(s2);
	}
	c = kv_client_new(s);
	run(c, "SET a 1");
	run(c, "INCRBYFLOAT a 0.5");
	run(c, "RPUSH l x y z");
	run(c, "LPOP l");
	run(c, "SET e v EX 1000");
	run(c, "MULTI");
	run(c, "HSET h f 1");
	run(c, "SADD s m");
	run(c, "EXEC");
	run(c, "SELECT 3");
	run(c, "SET in3 yes");
	kv_client_free(c);
	kv_wal_close(s);
	free_srv(s);

	/* a torn tail (half a record) is cut at replay */
	snprintf(path, sizeof(path), "%s/wal.1", dir);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\x30\0\0\0garbage", 11), 11);
	close(fd);

	s = new_srv(2);   /* a different shard count: keys move, data stays */
	assert_int_equal(kv_wal_open(s, dir, FSYNC_ALWAYS), 0);
	assert_int_equal(kv_wal_replay(s), 0);
	assert_int_equal(stat(path, &st), 0);
	c = kv_client_new(s);
	assert_string_equal(run(c, "GET a"), "$3\r\n1.5\r\n");
	assert_string_equal(run(c, "LRANGE l 0 -1"), "*2\r\n$1\r\ny\r\n$1\r\nz\r\n");
	assert_string_equal(run(c, "HGET h f"), "$1\r\n1\r\n");
	assert_string_equal(run(c, "SISMEMBER s m"), ":1\r\n");
	assert_true(run(c, "TTL e")[1] == '9' || run(c, "TTL e")[1] == '1');
	run(c, "SELECT 3");
	assert_string_equal(run(c, "GET in3"), "$3\r\nyes\r\n");
	kv_client_free(c);
	kv_wal_close(s);
	free_srv(s);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* --raft-peers: good lists and every refusal with its message. */
static void test_peers(void **state)
{
	myco__peer_t p[MYCO__PEERS_MAX];
	char err[256];
	size_t n;
	static const struct { const char *in, *err; } bad[] = {
		{ "", "empty peer list (want ID=HOST:PORT:RAFTPORT,...)" },
		{ "1=h:1:2,", "peer 2: empty (want ID=HOST:PORT:RAFTPORT)" },
		{ "h:1:2", "peer 1: 'h:1:2' has no '=' (want ID=HOST:PORT:RAFTPORT)" },
		{ "0=h:1:2", "peer 1: id '0' is not a number 1..9223372036854775807" },
		{ "01=h:1:2", "peer 1: id '01' is not a number 1..9223372036854775807" },
		{ "1=h:1", "peer 1: 'h:1' is not HOST:PORT:RAFTPORT" },
		{ "1=h:1:2:3", "peer 1: 'h:1:2:3' is not HOST:PORT:RAFTPORT" },
		{ "1=[::1]:1:2", "peer 1: '[::1]:1:2' is not HOST:PORT:RAFTPORT" },
		{ "1=a b:1:2", "peer 1: bad host 'a b' (IPv4 address or name, at most 63 bytes)" },
		{ "1=h:0:2", "peer 1: port '0' is not 1..65535" },
		{ "1=h:1:65536", "peer 1: raft port '65536' is not 1..65535" },
		{ "1=h:1:2,1=g:1:2", "peer 2: id 1 given twice" },
		{ "1=h:1:2,2=h:3:2", "peer 2: raft address h:2 given twice" },
		{ "1=a:1:2,2=b:1:2,3=c:1:2,4=d:1:2,5=e:1:2,6=f:1:2,7=g:1:2,8=h:1:2,9=i:1:2,10=j:1:2",
		  "more than 9 peers" },
	};
	(void)state;

	assert_int_equal(myco__peers_parse("1=10.0.0.1:6379:7379, 2=node-b:6380:7380 ,3=c:1:2", p,
					&n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].id, 1);
	assert_string_equal(p[0].host, "10.0.0.1");
	assert_string_equal(p[0].raft_addr, "10.0.0.1:7379");
	assert_string_equal(p[1].client_addr, "node-b:6380");
	assert_int_equal(p[2].raft_port, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(myco__peers_parse(bad[i].in, p, &n, err, sizeof(err)), -EINVAL);
		assert_int_equal(n, 0);
		assert_string_equal(err, bad[i].err);
	}
}

static int read_bytes(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long l;
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	l = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = malloc((size_t)l + 1);
	*len = fread(*out, 1, (size_t)l, f);
	fclose(f);
	return 0;
}

/* Raft entries and snapshots as the raft thread applies them: the fuzz
 * corpus (ok_* apply, own_nonce is skipped, the rest is refused), entries
 * built here, and a snapshot round trip. */
static void test_raft_entries(void **state)
{
	kv_srv_t *s = new_srv(4), *s2 = new_srv(2);
	kv_client_t *c = kv_client_new(s), *ap = kv_client_new(s), *ap2 = kv_client_new(s2);
	DIR *d = opendir(ENTRY_DIR);
	struct dirent *de;
	char rec[256], ent[512], path[512], *b = NULL;
	const char *cmd = "\0*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2\r\n42\r\n";
	size_t cl = 30, el, len = 0;
	uint64_t nonce = 7;
	kbuf_t snap = { 0 };
	int files = 0;
	(void)state;

	ap->replay = ap2->replay = true;
	assert_non_null(d);
	while ((de = readdir(d))) {
		int rc;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", ENTRY_DIR, de->d_name);
		assert_int_equal(read_bytes(path, &b, &len), 0);
		if (b[0] & 1)
			rc = kv_snapshot_load(s, ap, b + 1, len - 1);
		else
			rc = kv_raft_entry_apply(s, ap, b + 1, len - 1, 1);
		if (!strncmp(de->d_name, "ok_", 3))
			assert_int_equal(rc, 0);
		else if (!strcmp(de->d_name, "own_nonce"))
			assert_int_equal(rc, 1);
		else
			assert_true(rc < 0);
		free(b);
		files++;
	}
	closedir(d);
	assert_true(files >= 10);
	assert_string_equal(run(c, "GET k"), "$1\r\nv\r\n");
	assert_string_equal(run(c, "EXISTS mine"), ":0\r\n");
	assert_string_equal(run(c, "ZSCORE z m"), "$3\r\n1.5\r\n");

	/* built here: [nonce][record], padded to 8 with zeros */
	kv_record_hdr(rec, 5, cmd, cl, 1);
	memcpy(rec + KV_REC_HDR, cmd, cl);
	memcpy(ent, &nonce, 8);
	memcpy(ent + 8, rec, KV_REC_HDR + cl);
	el = (8 + KV_REC_HDR + cl + 7) & ~(size_t)7;
	memset(ent + 8 + KV_REC_HDR + cl, 0, el - (8 + KV_REC_HDR + cl));
	assert_int_equal(kv_raft_entry_apply(s, ap, ent, el, 1), 0);
	assert_string_equal(run(c, "GET x"), "$2\r\n42\r\n");
	assert_int_equal(kv_raft_entry_apply(s, ap, ent, el, 7), 1);    /* own */
	assert_int_equal(kv_raft_entry_apply(s, ap, ent, el + 8, 1), -EBADMSG);
	ent[el - 1] = 1;
	assert_int_equal(kv_raft_entry_apply(s, ap, ent, el, 1), -EBADMSG);
	ent[el - 1] = 0;
	ent[30] ^= 0x20;   /* inside the command: the CRC no longer holds */
	assert_int_equal(kv_raft_entry_apply(s, ap, ent, el, 1), -EBADMSG);

	/* several records in one entry (the leader batches what is queued) */
	{
		const char *c2 = "\0*3\r\n$3\r\nSET\r\n$1\r\ny\r\n$2\r\n43\r\n";
		size_t l1 = KV_REC_HDR + cl, l2 = KV_REC_HDR + 30;
		memcpy(ent, &nonce, 8);
		kv_record_hdr(ent + 8, 6, cmd, cl, 1);
		memcpy(ent + 8 + KV_REC_HDR, cmd, cl);
		kv_record_hdr(ent + 8 + l1, 7, c2, 30, 1);
		memcpy(ent + 8 + l1 + KV_REC_HDR, c2, 30);
		el = (8 + l1 + l2 + 7) & ~(size_t)7;
		memset(ent + 8 + l1 + l2, 0, el - (8 + l1 + l2));
		assert_string_equal(run(c, "DEL x"), ":1\r\n");
		assert_int_equal(kv_raft_entry_apply(s, ap, ent, el, 1), 0);
		assert_string_equal(run(c, "MGET x y"), "*2\r\n$2\r\n42\r\n$2\r\n43\r\n");
		/* a second record cut short is refused */
		assert_int_equal(kv_raft_entry_apply(s, ap, ent, 8 + l1 + l2 - 8, 1), -EBADMSG);
	}

	/* snapshot round trip into another server */
	assert_string_equal(run(c, "EXPIRE x 1000"), ":1\r\n");
	kv_lock_all(s);
	assert_int_equal(kv_snapshot_mem(s, 99, &snap), 0);
	kv_unlock_all(s);
	assert_int_equal(kv_snapshot_load(s2, ap2, snap.p, snap.len), 0);
	{
		kv_client_t *c2 = kv_client_new(s2);
		assert_string_equal(run(c2, "GET x"), "$2\r\n42\r\n");
		assert_string_equal(run(c2, "LRANGE l 0 -1"), run(c, "LRANGE l 0 -1"));
		assert_string_equal(run(c2, "DBSIZE"), run(c, "DBSIZE"));
		assert_true(atoi(run(c2, "TTL x") + 1) > 990);
		kv_client_free(c2);
	}
	assert_true(kv_snapshot_load(s2, ap2, snap.p, snap.len - 1) < 0);
	kbuf_free(&snap);
	kv_client_free(c);
	kv_client_free(ap);
	kv_client_free(ap2);
	free_srv(s);
	free_srv(s2);
}

/* A raft snapshot holds the shard locks only to take references: writes
 * after that change copies, and the snapshot is the state at the pin. */
static kv_srv_t *load_snapshot(kv_pins_t *pins)
{
	kv_srv_t *s2 = new_srv(3);
	kv_client_t *ap = kv_client_new(s2);
	kbuf_t snap = { 0 };

	ap->replay = true;
	assert_int_equal(kv_snapshot_write(pins, 9, &snap), 0);
	assert_int_equal(kv_snapshot_load(s2, ap, snap.p, snap.len), 0);
	kbuf_free(&snap);
	kv_client_free(ap);
	return s2;
}

struct cowctx {
	kv_srv_t *s;
	_Atomic bool stop;
	_Atomic long execs;
};

static void *cow_writer(void *arg)
{
	struct cowctx *x = arg;
	kv_client_t *c = kv_client_new(x->s);
	int i;

	while (!atomic_load(&x->stop)) {
		run(c, "MULTI");
		for (i = 0; i < 8; i++) {
			char l[32];
			snprintf(l, sizeof(l), "INCR n%d", i);
			run(c, l);
		}
		run(c, "EXEC");
		run(c, "RPUSH lst x");
		run(c, "HINCRBY h f 1");
		atomic_fetch_add(&x->execs, 1);
	}
	kv_client_free(c);
	return NULL;
}

static void test_snapshot_cow(void **state)
{
	kv_srv_t *s = new_srv(4), *s2;
	kv_client_t *c = kv_client_new(s), *c2;
	kv_pins_t *pins;
	struct cowctx x = { 0 };
	pthread_t th[2];
	int i, round;
	(void)state;

	run(c, "SET x old");
	run(c, "SET s ab");
	run(c, "RPUSH l a b");
	run(c, "HSET h f v");
	run(c, "SADD st m");
	run(c, "ZADD z 1 m");
	run(c, "SET gone 1");
	kv_lock_all(s);
	pins = kv_snapshot_pin(s);
	kv_unlock_all(s);
	assert_non_null(pins);
	/* writes while the snapshot is pending */
	run(c, "SET x new");
	run(c, "APPEND s zz");
	run(c, "RPUSH l c");
	run(c, "HSET h f2 v2");
	run(c, "SADD st m2");
	run(c, "ZADD z 5 m");
	run(c, "PEXPIRE s 100000");
	run(c, "DEL gone");
	run(c, "MULTI");
	run(c, "INCR x2");
	run(c, "LPOP l");
	run(c, "EXEC");
	s2 = load_snapshot(pins);
	c2 = kv_client_new(s2);
	assert_string_equal(run(c2, "GET x"), "$3\r\nold\r\n");
	assert_string_equal(run(c2, "GET s"), "$2\r\nab\r\n");
	assert_string_equal(run(c2, "TTL s"), ":-1\r\n");
	assert_string_equal(run(c2, "LRANGE l 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
	assert_string_equal(run(c2, "HLEN h"), ":1\r\n");
	assert_string_equal(run(c2, "SCARD st"), ":1\r\n");
	assert_string_equal(run(c2, "ZSCORE z m"), "$1\r\n1\r\n");
	assert_string_equal(run(c2, "GET gone"), "$1\r\n1\r\n");
	assert_string_equal(run(c2, "DBSIZE"), ":7\r\n");
	kv_client_free(c2);
	free_srv(s2);
	/* and the live keyspace has every write */
	assert_string_equal(run(c, "GET x"), "$3\r\nnew\r\n");
	assert_string_equal(run(c, "GET s"), "$4\r\nabzz\r\n");
	assert_string_equal(run(c, "LRANGE l 0 -1"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
	assert_string_equal(run(c, "HLEN h"), ":2\r\n");
	assert_string_equal(run(c, "ZSCORE z m"), "$1\r\n5\r\n");
	assert_string_equal(run(c, "EXISTS gone"), ":0\r\n");

	/* threaded (TSan): transactions and in-place writes while snapshots
	 * are taken and formatted; each is the state at one instant, so the
	 * eight counters one transaction bumps are always equal in it */
	x.s = s;
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, cow_writer, &x), 0);
	while (atomic_load(&x.execs) == 0)
		sched_yield();       /* the writers run (at any load) */
	for (round = 0; round < 40 || atomic_load(&x.execs) < 100; round++) {
		char first[64];
		kv_lock_all(s);
		pins = kv_snapshot_pin(s);
		kv_unlock_all(s);
		assert_non_null(pins);
		s2 = load_snapshot(pins);
		c2 = kv_client_new(s2);
		snprintf(first, sizeof(first), "%s", run(c2, "GET n0"));
		for (i = 1; i < 8; i++) {
			char l[32];
			snprintf(l, sizeof(l), "GET n%d", i);
			assert_string_equal(run(c2, l), first);
		}
		kv_client_free(c2);
		free_srv(s2);
	}
	atomic_store(&x.stop, true);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	kv_client_free(c);
	free_srv(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_incremental),
		cmocka_unit_test(test_resp_ll),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_scan_growth),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_watch_exec),
		cmocka_unit_test(test_threaded_transfers),
		cmocka_unit_test(test_wal_replay),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_raft_entries),
		cmocka_unit_test(test_snapshot_cow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
