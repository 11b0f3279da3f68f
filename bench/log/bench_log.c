/*
 * bench_log.c: myco-bench-log: myco-log against NATS JetStream (Debian
 * nats-server, file storage) on loopback, same load generator, same run.
 *
 *   myco-bench-log [--quick] [--json] [--myco PATH] [--nats PATH]
 *                  [--baseline PATH] [--replicated-only] [--cores-only]
 *
 * What each side does (exactly):
 * - myco-log (Kafka protocol) is driven through librdkafka (Debian 2.0.2):
 *   producer acks=all, no compression, linger.ms=5 for throughput and 0 for
 *   latency, batches built by librdkafka; consumer: librdkafka, partition 0
 *   assigned at its end, fetch.wait.max.ms=100, fetch.min.bytes=1.
 * - NATS JetStream (nats-server -js -sd TMP) is driven by this program
 *   speaking the NATS text protocol itself (no Debian C client): a stream
 *   with file storage on subjects bench.>; every message is one
 *   "PUB bench.x REPLY" and counts as produced when its JetStream ack
 *   (a {"stream":..,"seq":..} reply) arrives; up to 8192 publishes in flight
 *   (pipelined).  Latency: an ephemeral push consumer (deliver_policy new,
 *   ack_policy none) delivers to a second connection.
 * - Durability: nats-server 2.9.10 cannot be told to fsync per message
 *   (sync_interval came in 2.10); its file store writes each message and
 *   fsyncs on its own timer.  myco-log runs twice: --fsync interval=60000
 *   (a timer like JetStream's) and --fsync always (acknowledged only after
 *   fdatasync: stronger than JetStream).
 * - Producer throughput: N messages of S bytes, median of R repetitions
 *   (min, max shown), systems alternating per repetition.  End-to-end
 *   latency: one message every 1/RATE s for D s, 100-byte messages carrying
 *   their send time (CLOCK_MONOTONIC); latency = receive time - send time.
 *   The latency test runs myco-log twice more with a minimal Kafka client
 *   written here (rows "-raw"), built like the NATS side: one connection
 *   pipelines Produce v3 requests (acks=all, one record per batch) and
 *   drains answers without waiting; another long-polls Fetch v4 (max wait
 *   100 ms) and decodes the batches itself.  librdkafka's own queues and
 *   thread hand-offs are part of the librdkafka rows, not of these.
 * - Before every measured run the bench calls sync(2): on ext4 an fdatasync
 *   also pushes out other files' dirty pages, so without it --fsync always
 *   would pay for the data the other systems left in the page cache.
 * - --baseline PATH adds an earlier myco-log binary (e.g. built from an
 *   older commit) as two more systems, "base-always" and "base-interval",
 *   measured in the same rounds as the others (each repetition runs every
 *   system in turn) with librdkafka, plus ratio lines new / baseline: how
 *   a change is shown not to slow the broker down.
 * - Replicated (the last section): 3 myco-log brokers in cluster mode
 *   (--node-id/--peers, replication on raft, every partition on all 3,
 *   acks=all answered after a raft commit: a majority has it on disk)
 *   against a 3-node JetStream cluster with an R3 stream (file storage),
 *   all on loopback, same clients as above: producer throughput at 100 B
 *   and end-to-end latency, the two systems alternating per repetition.
 * - Cores (section "cores"): two myco-log brokers, --loops 1 and --loops 2
 *   (--fsync interval=60000, topics of 8 partitions, spread over the
 *   loops), two librdkafka producers at once (each its own connection,
 *   acks=all, linger.ms=5, 100 B), brokers alternating per repetition;
 *   the ratio is the throughput from the second core; then librdkafka's
 *   end-to-end latency on each.  --cores-only runs this section alone.
 * Not for: correctness (tests/integration/log).
 */
#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "myco_int.h"

#ifndef MYCO_LOG_BIN
#define MYCO_LOG_BIN "myco-log"
#endif

static bool json, quick;
static char tmpdir[64] = "/tmp/myco-bench-log-XXXXXX";

static uint64_t now_ns(void)
{
	return myco_now();
}

static void stop_servers(void);

/* At exit, also after die(): stop the servers, remove the temp dir. */
static void cleanup(void)
{
	char cmd[128];
	stop_servers();
	if (strcmp(tmpdir + strlen(tmpdir) - 6, "XXXXXX")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "myco-bench-log: could not remove %s\n", tmpdir);
	}
}

static void die(const char *what)
{
	fprintf(stderr, "myco-bench-log: %s\n", what);
	exit(1);
}

/* ---- processes ---------------------------------------------------------- */

typedef struct {
	pid_t pid;
	char addr[64];
	int port;
	const char *name;
} server_t;

static server_t servers[16];
static int nservers;

static void stop_servers(void)
{
	int i;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&mu);
	for (i = 0; i < nservers; i++)
		if (servers[i].pid > 0) {
			kill(servers[i].pid, SIGTERM);
			waitpid(servers[i].pid, NULL, 0);
			servers[i].pid = 0;
		}
	pthread_mutex_unlock(&mu);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		die("no free port");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Start myco-log with --fsync FSYNC and the NULL-terminated extra flags. */
static server_t *start_myco_x(const char *bin, const char *fsync, const char *name,
			      const char *const *extra)
{
	server_t *s = &servers[nservers++];
	char data[128], line[256];
	int pfd[2];
	FILE *f;

	snprintf(data, sizeof(data), "%s/%s", tmpdir, name);
	if (pipe(pfd) < 0)
		die("pipe");
	s->name = name;
	s->pid = fork();
	if (s->pid == 0) {
		const char *argv[24] = { bin, "--listen", "127.0.0.1:0", "--data", data,
					 "--fsync", fsync };
		int a = 7;
		dup2(pfd[1], 1);
		close(pfd[0]);
		for (int j = 0; extra && extra[j] && a < 23; j++)
			argv[a++] = extra[j];
		argv[a] = NULL;
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "myco-log: listening on %63s", s->addr) != 1)
		die("myco-log did not start (use --myco PATH)");
	fclose(f);
	s->port = atoi(strrchr(s->addr, ':') + 1);
	return s;
}

static server_t *start_myco(const char *bin, const char *fsync, const char *name)
{
	return start_myco_x(bin, fsync, name, NULL);
}

static server_t *start_nats(const char *bin)
{
	server_t *s = &servers[nservers++];
	char sd[128], ps[16];
	int i, fd;

	snprintf(sd, sizeof(sd), "%s/nats", tmpdir);
	s->port = free_port();
	snprintf(ps, sizeof(ps), "%d", s->port);
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
	s->name = "nats";
	s->pid = fork();
	if (s->pid == 0) {
		int dn = open("/dev/null", O_WRONLY);
		dup2(dn, 1);
		dup2(dn, 2);
		execl(bin, bin, "-a", "127.0.0.1", "-p", ps, "-js", "-sd", sd, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		fd = tcp_connect(s->port);
		if (fd >= 0) {
			close(fd);
			return s;
		}
		usleep(50000);
	}
	die("nats-server did not start (use --nats PATH)");
	return NULL;
}

/* ---- a minimal NATS client ---------------------------------------------- */

typedef struct {
	int fd;
	char *buf;
	size_t len, cap;
	char *out;
	size_t olen, ocap;
} nats_t;

static void n_flush(nats_t *n)
{
	if (myco__write_full(n->fd, n->out, n->olen) < 0)
		die("nats write");
	n->olen = 0;
}

static void n_put(nats_t *n, const void *p, size_t l)
{
	if (n->ocap - n->olen < l) {
		n_flush(n);
		if (n->ocap < l) {
			n->out = realloc(n->out, l);
			n->ocap = l;
		}
	}
	memcpy(n->out + n->olen, p, l);
	n->olen += l;
}

/* Read what is there (waiting up to ms).  0 on timeout, 1 on data. */
static int n_fill(nats_t *n, int ms)
{
	struct pollfd p = { n->fd, POLLIN, 0 };
	ssize_t r;
	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (n->cap - n->len < 65536) {
		n->cap = n->cap * 2 + 65536;
		n->buf = realloc(n->buf, n->cap);
	}
	r = read(n->fd, n->buf + n->len, n->cap - n->len);
	if (r <= 0)
		die("nats connection closed");
	n->len += (size_t)r;
	return 1;
}

/* Take one protocol item.  Returns 1 and the payload of a MSG, 0 if more
 * bytes are needed.  PING is answered; +OK/PONG/INFO skipped. */
static int n_next(nats_t *n, const char **pl, size_t *plen, char *subj, size_t subjcap)
{
	for (;;) {
		char *eol = memmem(n->buf, n->len, "\r\n", 2);
		size_t ll;
		if (!eol)
			return 0;
		ll = (size_t)(eol - n->buf) + 2;
		if (!strncmp(n->buf, "MSG ", 4)) {
			char s[256], sid[32], a3[256], a4[32];
			int k;
			size_t bl;
			char line[600];
			memcpy(line, n->buf, ll - 2 < sizeof(line) - 1 ? ll - 2 : sizeof(line) - 1);
			line[ll - 2 < sizeof(line) - 1 ? ll - 2 : sizeof(line) - 1] = 0;
			k = sscanf(line, "MSG %255s %31s %255s %31s", s, sid, a3, a4);
			bl = (size_t)atol(k == 4 ? a4 : a3);
			if (n->len < ll + bl + 2)
				return 0;
			*pl = n->buf + ll;
			*plen = bl;
			if (subj) {
				size_t sl = strlen(s);
				if (sl >= subjcap)
					sl = subjcap - 1;
				memcpy(subj, s, sl);
				subj[sl] = 0;
			}
			/* the caller consumes it with n_drop() after use */
			return (int)(ll + bl + 2);
		}
		if (!strncmp(n->buf, "PING", 4)) {
			n_put(n, "PONG\r\n", 6);
			n_flush(n);
		} else if (!strncmp(n->buf, "-ERR", 4)) {
			fprintf(stderr, "nats: %.*s\n", (int)ll, n->buf);
			die("nats error");
		}
		memmove(n->buf, n->buf + ll, n->len - ll);
		n->len -= ll;
	}
}

static void n_drop(nats_t *n, int used)
{
	memmove(n->buf, n->buf + used, n->len - (size_t)used);
	n->len -= (size_t)used;
}

static void n_connect(nats_t *n, int port)
{
	static const char c[] = "CONNECT {\"verbose\":false,\"pedantic\":false,"
				"\"headers\":false,\"name\":\"myco-bench-log\"}\r\nPING\r\n";
	memset(n, 0, sizeof(*n));
	n->fd = tcp_connect(port);
	if (n->fd < 0)
		die("nats connect");
	n->ocap = 1 << 16;
	n->out = malloc(n->ocap);
	n_put(n, c, sizeof(c) - 1);
	n_flush(n);
	while (!memmem(n->buf ? n->buf : "", n->len, "PONG\r\n", 6))
		if (!n_fill(n, 5000))
			die("nats: no PONG");
	n->len = 0;
}

/* Request/reply on the JetStream API; fails on an error answer. */
static void n_request(nats_t *n, const char *subj, const char *body)
{
	char hdr[256];
	const char *pl;
	size_t pll;
	int used;
	int l = snprintf(hdr, sizeof(hdr), "SUB _INBOX.api 99\r\nPUB %s _INBOX.api %zu\r\n",
			 subj, strlen(body));
	n_put(n, hdr, (size_t)l);
	n_put(n, body, strlen(body));
	n_put(n, "\r\nUNSUB 99 1\r\n", 14);
	n_flush(n);
	for (;;) {
		used = n_next(n, &pl, &pll, NULL, 0);
		if (used > 0)
			break;
		if (!n_fill(n, 5000))
			die("nats: no API answer");
	}
	if (memmem(pl, pll, "\"error\"", 7)) {
		fprintf(stderr, "nats api %s: %.*s\n", subj, (int)pll, pl);
		die("jetstream api error");
	}
	n_drop(n, used);
}

static void n_close(nats_t *n)
{
	close(n->fd);
	free(n->buf);
	free(n->out);
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double q)
{
	size_t i;
	if (!n)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void emit(const char *bench, const char *system, const char *metric, double value,
		 const char *unit, int size, const char *extra)
{
	if (json)
		printf("{\"bench\":\"%s\",\"system\":\"%s\",\"metric\":\"%s\",\"value\":%.1f,"
		       "\"unit\":\"%s\",\"size\":%d%s}\n", bench, system, metric, value, unit,
		       size, extra ? extra : "");
}

/* ---- producer throughput ------------------------------------------------ */

static atomic_long rk_delivered, rk_failed;

static void rk_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
	(void)rk;
	(void)op;
	if (m->err)
		atomic_fetch_add(&rk_failed, 1);
	else
		atomic_fetch_add(&rk_delivered, 1);
}

static rd_kafka_t *rk_producer(const char *addr, const char *linger)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;
	if (rd_kafka_conf_set(c, "bootstrap.servers", addr, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "acks", "all", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "linger.ms", linger, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "compression.codec", "none", err, sizeof(err)))
		die(err);
	rd_kafka_conf_set_dr_msg_cb(c, rk_dr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk)
		die(err);
	return rk;
}

/* Seconds to get n messages of size sz acknowledged by myco-log. */
static double tput_kafka(const char *addr, long n, int sz, const char *topic)
{
	rd_kafka_t *rk = rk_producer(addr, "5");
	char *val = malloc((size_t)sz);
	uint64_t t0, t1;
	long i;

	memset(val, 'x', (size_t)sz);
	/* warm up: metadata and connection */
	rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(val, (size_t)sz),
			  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	rd_kafka_flush(rk, 10000);
	atomic_store(&rk_delivered, 0);
	atomic_store(&rk_failed, 0);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
					 RD_KAFKA_V_VALUE(val, (size_t)sz),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 1);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	while (atomic_load(&rk_delivered) + atomic_load(&rk_failed) < n)
		rd_kafka_poll(rk, 1);
	t1 = now_ns();
	if (atomic_load(&rk_failed))
		die("myco-log: deliveries failed");
	rd_kafka_destroy(rk);
	free(val);
	return (double)(t1 - t0) / 1e9;
}

/* Seconds to get n messages of size sz acknowledged by myco-log from an
 * idempotent producer (per_txn 0) or a transactional one committing every
 * per_txn messages (begin, produce, commit_transaction, which waits for
 * every delivery and the EndTxn answer). */
static double tput_txn(const char *addr, long n, int sz, const char *topic, int per_txn, int id)
{
	char err[256], tid[64];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_error_t *e;
	rd_kafka_t *rk;
	char *val = malloc((size_t)sz);
	uint64_t t0, t1;
	long i = 0;

	snprintf(tid, sizeof(tid), "bench-txn-%d", id);
	if (rd_kafka_conf_set(c, "bootstrap.servers", addr, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "compression.codec", "none", err, sizeof(err)) ||
	    (per_txn && rd_kafka_conf_set(c, "transactional.id", tid, err, sizeof(err))))
		die(err);
	rd_kafka_conf_set_dr_msg_cb(c, rk_dr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk)
		die(err);
	memset(val, 'x', (size_t)sz);
	if (per_txn && (e = rd_kafka_init_transactions(rk, 30000)))
		die(rd_kafka_error_string(e));
	/* warm up (not timed): metadata, connections, the coordinator, and
	 * for transactions one whole transaction */
	if (per_txn && (e = rd_kafka_begin_transaction(rk)))
		die(rd_kafka_error_string(e));
	rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(val, (size_t)sz),
			  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (per_txn && (e = rd_kafka_commit_transaction(rk, 60000)))
		die(rd_kafka_error_string(e));
	rd_kafka_flush(rk, 10000);
	atomic_store(&rk_delivered, 0);
	atomic_store(&rk_failed, 0);
	t0 = now_ns();
	while (i < n) {
		long end = per_txn ? i + per_txn : n;
		if (end > n)
			end = n;
		if (per_txn && (e = rd_kafka_begin_transaction(rk)))
			die(rd_kafka_error_string(e));
		for (; i < end; i++) {
			while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
						 RD_KAFKA_V_VALUE(val, (size_t)sz),
						 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 1);
			if ((i & 1023) == 0)
				rd_kafka_poll(rk, 0);
		}
		if (per_txn && (e = rd_kafka_commit_transaction(rk, 60000)))
			die(rd_kafka_error_string(e));
	}
	while (atomic_load(&rk_delivered) + atomic_load(&rk_failed) < n)
		rd_kafka_poll(rk, 1);
	t1 = now_ns();
	if (atomic_load(&rk_failed))
		die("myco-log: deliveries failed");
	rd_kafka_destroy(rk);
	free(val);
	return (double)(t1 - t0) / 1e9;
}

/* ---- cores: several producers at once against --loops 1 and 2 -------- */

static size_t latency_run(bool kafka, server_t *s, double rate, double dur_s, double **out);
static void rk_create_topic(const char *boot, const char *topic);

/* CPU seconds (user + system) a process has used so far, from /proc. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct {
	const char *addr, *topic;
	long n;
	int sz;
	rd_kafka_t *rk;
	atomic_long done, failed;
	pthread_barrier_t *go;
	uint64_t t_end;
} mprod_t;

static void mp_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *op)
{
	mprod_t *x = op;
	(void)rk;
	if (m->err)
		atomic_fetch_add(&x->failed, 1);
	else
		atomic_fetch_add(&x->done, 1);
}

static void *mp_run(void *arg)
{
	mprod_t *x = arg;
	char *val = malloc((size_t)x->sz);

	memset(val, 'x', (size_t)x->sz);
	pthread_barrier_wait(x->go);
	for (long i = 0; i < x->n; i++) {
		while (rd_kafka_producev(x->rk, RD_KAFKA_V_TOPIC(x->topic),
					 RD_KAFKA_V_VALUE(val, (size_t)x->sz),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(x->rk, 1);
		if ((i & 1023) == 0)
			rd_kafka_poll(x->rk, 0);
	}
	while (atomic_load(&x->done) + atomic_load(&x->failed) < x->n)
		rd_kafka_poll(x->rk, 1);
	x->t_end = now_ns();
	free(val);
	return NULL;
}

/* Seconds for np producers (each its own connection, librdkafka, acks=all,
 * linger 5 ms) to get n messages each of size sz acknowledged, all started
 * together; the topic's partitions spread over the broker's loops. */
static double tput_cores(const char *addr, int np, long n, int sz, const char *topic)
{
	mprod_t x[8];
	pthread_t th[8];
	pthread_barrier_t go;
	uint64_t t0, t1 = 0;
	char *val = malloc((size_t)sz);

	memset(val, 'x', (size_t)sz);
	pthread_barrier_init(&go, NULL, (unsigned)np + 1);
	for (int i = 0; i < np; i++) {
		char err[256];
		rd_kafka_conf_t *c = rd_kafka_conf_new();
		memset(&x[i], 0, sizeof(x[i]));
		x[i].addr = addr;
		x[i].topic = topic;
		x[i].n = n;
		x[i].sz = sz;
		x[i].go = &go;
		if (rd_kafka_conf_set(c, "bootstrap.servers", addr, err, sizeof(err)) ||
		    rd_kafka_conf_set(c, "acks", "all", err, sizeof(err)) ||
		    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err)) ||
		    rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", err,
				      sizeof(err)) ||
		    rd_kafka_conf_set(c, "compression.codec", "none", err, sizeof(err)))
			die(err);
		rd_kafka_conf_set_dr_msg_cb(c, mp_dr);
		rd_kafka_conf_set_opaque(c, &x[i]);
		if (!(x[i].rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err))))
			die(err);
		/* warm up: metadata and connection, not timed */
		rd_kafka_producev(x[i].rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(val, (size_t)sz),
				  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		rd_kafka_flush(x[i].rk, 10000);
		atomic_store(&x[i].done, 0);
		atomic_store(&x[i].failed, 0);
		pthread_create(&th[i], NULL, mp_run, &x[i]);
	}
	t0 = now_ns();
	pthread_barrier_wait(&go);
	for (int i = 0; i < np; i++) {
		pthread_join(th[i], NULL);
		if (atomic_load(&x[i].failed))
			die("myco-log: deliveries failed");
		if (x[i].t_end > t1)
			t1 = x[i].t_end;
		rd_kafka_destroy(x[i].rk);
	}
	pthread_barrier_destroy(&go);
	free(val);
	return (double)(t1 - t0) / 1e9;
}

/* Throughput from 1 to 2 loops (the broker's --loops), brokers alternating
 * per repetition (A B A B), and librdkafka's end-to-end latency on each. */
static void bench_cores(const char *bin, int reps, double rate, double dur)
{
	static const char *const x1[] = { "--loops", "1", "--partitions", "8", NULL };
	static const char *const x2[] = { "--loops", "2", "--partitions", "8", NULL };
	server_t *b[2];
	const char *bn[2] = { "myco-log-loops1", "myco-log-loops2" };
	int np = 2, sz = 100;
	long n = quick ? 100000 : 400000;
	double secs[2][8], med[2], cpu[2] = { 0, 0 };

	b[0] = start_myco_x(bin, "interval=60000", "myco-loops1", x1);
	b[1] = start_myco_x(bin, "interval=60000", "myco-loops2", x2);
	if (!json)
		printf("\n%-24s %-18s %12s %10s %22s\n", "cores (2 producers)", "system",
		       "msg/s", "MB/s", "msg/s min..max");
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < 2; k++) {
			double c0;
			sync();
			c0 = proc_cpu_s(b[k]->pid);
			secs[k][r] = tput_cores(b[k]->addr, np, n / np, sz, "cores");
			cpu[k] += proc_cpu_s(b[k]->pid) - c0;
		}
	for (int k = 0; k < 2; k++) {
		char extra[160];
		double lo, hi, mps;
		qsort(secs[k], (size_t)reps, sizeof(double), cmp_d);
		med[k] = secs[k][reps / 2];
		mps = (double)n / med[k];
		lo = (double)n / secs[k][reps - 1];
		hi = (double)n / secs[k][0];
		snprintf(extra, sizeof(extra), ",\"messages\":%ld,\"reps\":%d,\"min\":%.1f,"
			 "\"max\":%.1f,\"producers\":%d,\"partitions\":8", n, reps, lo, hi, np);
		emit("log.cores", bn[k], "throughput", mps, "msg/s", sz, extra);
		/* the broker's own CPU time per million messages, over all runs */
		emit("log.cores", bn[k], "cpu", cpu[k] / ((double)n * reps / 1e6), "s/M msg", sz, NULL);
		if (!json)
			printf("%-24s %-18s %12.0f %10.1f %10.0f..%-10.0f  broker CPU %.2f s per M msg\n",
			       k == 0 ? "100 B, 8 partitions" : "", bn[k], mps, mps * sz / 1e6, lo, hi,
			       cpu[k] / ((double)n * reps / 1e6));
	}
	emit("log.cores", "loops2/loops1", "ratio", med[0] / med[1], "x", sz, NULL);
	if (!json)
		printf("%-24s %-18s %11.2fx (2 loops / 1 loop; aim 1.8x)\n", "", "scaling",
		       med[0] / med[1]);
	if (!json)
		printf("\n%-24s %-22s %9s %9s %9s %9s %8s\n", "e2e latency (us), cores",
		       "system", "p50", "p99", "p99.9", "max", "samples");
	for (int k = 0; k < 2; k++) {
		double *lat;
		size_t cnt;
		char extra[128];
		rk_create_topic(b[k]->addr, "lat");   /* one partition (the others have 8) */
		sync();
		cnt = latency_run(true, b[k], rate, dur, &lat);
		qsort(lat, cnt, sizeof(double), cmp_d);
		snprintf(extra, sizeof(extra), ",\"rate\":%.0f,\"samples\":%zu,\"client\":\"librdkafka\"",
			 rate, cnt);
		emit("log.e2e", bn[k], "p50", pct(lat, cnt, 0.5), "us", 100, extra);
		emit("log.e2e", bn[k], "p99", pct(lat, cnt, 0.99), "us", 100, extra);
		emit("log.e2e", bn[k], "p999", pct(lat, cnt, 0.999), "us", 100, extra);
		if (!json)
			printf("%-24s %-22s %9.0f %9.0f %9.0f %9.0f %8zu\n", "", bn[k],
			       pct(lat, cnt, 0.5), pct(lat, cnt, 0.99), pct(lat, cnt, 0.999),
			       cnt ? lat[cnt - 1] : 0, cnt);
		free(lat);
	}
}

#define NATS_WINDOW 8192

static double tput_nats(int port, long n, int sz)
{
	nats_t c;
	char *val = malloc((size_t)sz), hdr[96];
	long sent = 0, acked = 0;
	uint64_t t0, t1;
	int hl;

	memset(val, 'x', (size_t)sz);
	n_connect(&c, port);
	n_put(&c, "SUB _INBOX.ack 1\r\n", 18);
	n_flush(&c);
	hl = snprintf(hdr, sizeof(hdr), "PUB bench.t%d _INBOX.ack %d\r\n", sz, sz);
	t0 = now_ns();
	while (acked < n) {
		const char *pl;
		size_t pll;
		int used;
		while (sent < n && sent - acked < NATS_WINDOW && c.olen < 60000) {
			n_put(&c, hdr, (size_t)hl);
			n_put(&c, val, (size_t)sz);
			n_put(&c, "\r\n", 2);
			sent++;
		}
		if (c.olen)
			n_flush(&c);
		if (!n_fill(&c, sent - acked >= NATS_WINDOW || sent == n ? 10000 : 0) &&
		    (sent - acked >= NATS_WINDOW || sent == n))
			die("nats: acks stopped");
		while ((used = n_next(&c, &pl, &pll, NULL, 0)) > 0) {
			if (!memmem(pl, pll, "\"seq\"", 5)) {
				fprintf(stderr, "nats ack: %.*s\n", (int)pll, pl);
				die("jetstream rejected a publish");
			}
			acked++;
			n_drop(&c, used);
		}
	}
	t1 = now_ns();
	n_close(&c);
	free(val);
	return (double)(t1 - t0) / 1e9;
}

/* ---- end-to-end latency ------------------------------------------------- */

typedef struct {
	double *lat;          /* microseconds */
	atomic_long n;
	long cap;
	atomic_bool ready, stop;
	const char *addr;
	int port;
	const char *topic;
} latctx_t;

static void record(latctx_t *x, const void *p, size_t l)
{
	uint64_t sent;
	long i;
	if (l < 8)
		return;
	memcpy(&sent, p, 8);
	i = atomic_fetch_add(&x->n, 1);
	if (i < x->cap)
		x->lat[i] = (double)(now_ns() - sent) / 1e3;
}

static void *kafka_consumer(void *arg)
{
	latctx_t *x = arg;
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *tp;
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(c, "bootstrap.servers", x->addr, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "group.id", "bench-lat", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "fetch.wait.max.ms", "100", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "fetch.min.bytes", "1", err, sizeof(err)))
		die(err);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	if (!rk)
		die(err);
	tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, x->topic, 0)->offset = RD_KAFKA_OFFSET_END;
	rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	{
		/* ready once the first (empty) fetch cycle has run */
		uint64_t t = now_ns();
		while (now_ns() - t < 1500000000u) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
			if (m)
				rd_kafka_message_destroy(m);
		}
	}
	atomic_store(&x->ready, true);
	while (!atomic_load(&x->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 20);
		if (!m)
			continue;
		if (!m->err)
			record(x, m->payload, m->len);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return NULL;
}

static void *nats_consumer(void *arg)
{
	latctx_t *x = arg;
	nats_t c;
	n_connect(&c, x->port);
	n_put(&c, "SUB lat.deliver 7\r\n", 19);
	n_flush(&c);
	n_request(&c, "$JS.API.CONSUMER.CREATE.BENCH",
		  "{\"stream_name\":\"BENCH\",\"config\":{\"deliver_subject\":\"lat.deliver\","
		  "\"deliver_policy\":\"new\",\"ack_policy\":\"none\",\"filter_subject\":\"bench.lat\"}}");
	atomic_store(&x->ready, true);
	while (!atomic_load(&x->stop)) {
		const char *pl;
		size_t pll;
		int used;
		char subj[64];
		n_fill(&c, 20);
		while ((used = n_next(&c, &pl, &pll, subj, sizeof(subj))) > 0) {
			if (!strcmp(subj, "bench.lat"))   /* deliveries keep the stream subject */
				record(x, pl, pll);
			n_drop(&c, used);
		}
	}
	n_close(&c);
	return NULL;
}

/* Publish one 100-byte message every period for dur_s; returns samples. */
static size_t latency_run(bool kafka, server_t *s, double rate, double dur_s, double **out)
{
	latctx_t x;
	pthread_t th;
	long total = (long)(rate * dur_s), i;
	uint64_t period = (uint64_t)(1e9 / rate), start;
	char msg[100];
	rd_kafka_t *rk = NULL;
	nats_t pub;
	int hl = 0;
	char hdr[64];

	memset(&x, 0, sizeof(x));
	x.cap = total + 16;
	x.lat = calloc((size_t)x.cap, sizeof(double));
	x.addr = s->addr;
	x.port = s->port;
	x.topic = "lat";
	memset(msg, 'y', sizeof(msg));
	if (kafka) {
		rk = rk_producer(s->addr, "0");
		rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("lat"), RD_KAFKA_V_VALUE("warm", 4),
				  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		rd_kafka_flush(rk, 10000);
		pthread_create(&th, NULL, kafka_consumer, &x);
	} else {
		n_connect(&pub, s->port);
		n_put(&pub, "SUB _INBOX.lack 1\r\n", 19);
		n_flush(&pub);
		hl = snprintf(hdr, sizeof(hdr), "PUB bench.lat _INBOX.lack %zu\r\n", sizeof(msg));
		pthread_create(&th, NULL, nats_consumer, &x);
	}
	while (!atomic_load(&x.ready))
		usleep(1000);
	usleep(200000);
	start = now_ns();
	for (i = 0; i < total; i++) {
		uint64_t due = start + (uint64_t)i * period, t;
		struct timespec ts = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t = now_ns();
		memcpy(msg, &t, 8);
		if (kafka) {
			rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("lat"), RD_KAFKA_V_VALUE(msg, sizeof(msg)),
					  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			rd_kafka_poll(rk, 0);
		} else {
			const char *pl;
			size_t pll;
			int used;
			n_put(&pub, hdr, (size_t)hl);
			n_put(&pub, msg, sizeof(msg));
			n_put(&pub, "\r\n", 2);
			n_flush(&pub);
			n_fill(&pub, 0);          /* drain acks as they come */
			while ((used = n_next(&pub, &pl, &pll, NULL, 0)) > 0)
				n_drop(&pub, used);
		}
	}
	/* let the last messages arrive */
	for (i = 0; i < 200 && atomic_load(&x.n) < total; i++)
		usleep(10000);
	atomic_store(&x.stop, true);
	pthread_join(th, NULL);
	if (kafka) {
		rd_kafka_flush(rk, 5000);
		rd_kafka_destroy(rk);
	} else {
		n_close(&pub);
	}
	*out = x.lat;
	i = atomic_load(&x.n);
	return (size_t)(i < x.cap ? i : x.cap);
}

/* ---- a minimal Kafka client (latency only) ------------------------------
 * The same shape as the NATS side: one connection publishes (Produce v3,
 * acks=all, one RecordBatch of one record per message, answers drained as
 * they come, never waited for), another long-polls (Fetch v4, max wait
 * 100 ms, min bytes 1) and decodes the batches itself. */

static uint32_t crc_tab[256];

static void crc_init(void)
{
	uint32_t i, k, c;
	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[i] = c;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;
	while (n--)
		c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static uint8_t *be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return p + 2; }
static uint8_t *be32(uint8_t *p, uint32_t v) { p = be16(p, (uint16_t)(v >> 16)); return be16(p, (uint16_t)v); }
static uint8_t *be64(uint8_t *p, uint64_t v) { p = be32(p, (uint32_t)(v >> 32)); return be32(p, (uint32_t)v); }
static uint32_t rd32(const uint8_t *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }
static uint64_t rd64(const uint8_t *p) { return ((uint64_t)rd32(p) << 32) | rd32(p + 4); }

static uint8_t *zz(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (u >= 0x80) {
		*p++ = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	*p++ = (uint8_t)u;
	return p;
}

static int64_t unzz(const uint8_t **pp, const uint8_t *end)
{
	uint64_t u = 0;
	int sh = 0;
	while (*pp < end && sh < 64) {
		uint8_t b = *(*pp)++;
		u |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
		sh += 7;
	}
	return 0;
}

static uint8_t *khdr(uint8_t *p, int16_t key, int16_t ver, int32_t corr)
{
	p = be16(p, (uint16_t)key);
	p = be16(p, (uint16_t)ver);
	p = be32(p, (uint32_t)corr);
	p = be16(p, 5);
	memcpy(p, "bench", 5);
	return p + 5;
}

static uint8_t *kstr(uint8_t *p, const char *s)
{
	p = be16(p, (uint16_t)strlen(s));
	memcpy(p, s, strlen(s));
	return p + strlen(s);
}

static void send_all(int fd, const void *b, size_t n)
{
	const uint8_t *p = b;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("raw kafka: send");
		p += w;
		n -= (size_t)w;
	}
}

/* Read one whole answer frame into *buf (grown as needed); its length. */
static size_t recv_frame(int fd, uint8_t **buf, size_t *cap)
{
	uint8_t h[4];
	size_t got = 0, len;
	while (got < 4) {
		ssize_t r = recv(fd, h + got, 4 - got, 0);
		if (r <= 0)
			die("raw kafka: recv");
		got += (size_t)r;
	}
	len = rd32(h);
	if (len > *cap) {
		*buf = realloc(*buf, len);
		*cap = len;
	}
	got = 0;
	while (got < len) {
		ssize_t r = recv(fd, *buf + got, len - got, 0);
		if (r <= 0)
			die("raw kafka: recv");
		got += (size_t)r;
	}
	return len;
}

/* One Produce v3 request carrying one 100-byte record; returns its size. */
static size_t raw_produce_req(uint8_t *out, int32_t corr, const char *topic, const uint8_t *val,
			      size_t vlen)
{
	uint8_t *p = out + 4, *recs, *batch, *crc_at;
	size_t blen;
	int64_t now = (int64_t)time(NULL) * 1000;

	p = khdr(p, 0, 3, corr);
	p = be16(p, 0xffff);                     /* transactional id: null */
	p = be16(p, (uint16_t)-1);               /* acks all */
	p = be32(p, 30000);
	p = be32(p, 1);
	p = kstr(p, topic);
	p = be32(p, 1);
	p = be32(p, 0);
	recs = p;
	p += 4;                                  /* records size */
	batch = p;
	p = be64(p, 0);
	p += 4;                                  /* batch length */
	p = be32(p, 0xffffffffu);                /* leader epoch */
	*p++ = 2;
	crc_at = p;
	p += 4;
	p = be16(p, 0);                          /* attributes */
	p = be32(p, 0);                          /* last offset delta */
	p = be64(p, (uint64_t)now);
	p = be64(p, (uint64_t)now);
	p = be64(p, (uint64_t)-1);               /* producer id */
	p = be16(p, 0xffff);
	p = be32(p, 0xffffffffu);
	p = be32(p, 1);                          /* records */
	{
		uint8_t body[256], *q = body;
		*q++ = 0;                        /* attributes */
		q = zz(q, 0);                    /* timestamp delta */
		q = zz(q, 0);                    /* offset delta */
		q = zz(q, -1);                   /* no key */
		q = zz(q, (int64_t)vlen);
		memcpy(q, val, vlen);
		q += vlen;
		q = zz(q, 0);                    /* no headers */
		p = zz(p, q - body);
		memcpy(p, body, (size_t)(q - body));
		p += q - body;
	}
	blen = (size_t)(p - batch);
	be32(batch + 8, (uint32_t)(blen - 12));
	be32(crc_at, crc32c(crc_at + 4, (size_t)(p - (crc_at + 4))));
	be32(recs, (uint32_t)blen);
	be32(out, (uint32_t)(p - out - 4));
	return (size_t)(p - out);
}

static size_t raw_fetch_req(uint8_t *out, int32_t corr, const char *topic, int64_t off, int wait)
{
	uint8_t *p = khdr(out + 4, 1, 4, corr);
	p = be32(p, 0xffffffffu);
	p = be32(p, (uint32_t)wait);
	p = be32(p, 1);
	p = be32(p, 1 << 20);
	*p++ = 0;
	p = be32(p, 1);
	p = kstr(p, topic);
	p = be32(p, 1);
	p = be32(p, 0);
	p = be64(p, (uint64_t)off);
	p = be32(p, 1 << 20);
	be32(out, (uint32_t)(p - out - 4));
	return (size_t)(p - out);
}

/* Parse a Fetch v4 answer: record values' timestamps go to x; returns the
 * next offset to fetch (or off if nothing new); *hw gets the watermark. */
static int64_t raw_fetch_parse(const uint8_t *b, size_t n, int64_t off, int64_t *hw,
			       void (*cb)(void *, const uint8_t *, size_t), void *arg)
{
	const uint8_t *p = b, *end = b + n;
	uint32_t rlen;
	if (n < 4 + 4 + 4 + 2)
		die("raw kafka: short fetch answer");
	p += 4 + 4 + 4;                          /* corr, throttle, topics */
	p += 2 + ((p[0] << 8) | p[1]);           /* topic name */
	p += 4 + 4;                              /* partitions, index */
	if ((p[0] << 8 | p[1]) != 0)
		die("raw kafka: fetch error");
	p += 2;
	*hw = (int64_t)rd64(p);
	p += 8 + 8;                              /* hw, lso */
	p += 4;                                  /* aborted: null */
	rlen = rd32(p);
	p += 4;
	end = p + rlen < end ? p + rlen : end;
	while (end - p >= 61) {
		int64_t base = (int64_t)rd64(p);
		uint32_t bl = rd32(p + 8);
		const uint8_t *bend = p + 12 + bl, *q;
		int32_t cnt, i;
		if (bend > end)
			break;                         /* partial batch */
		cnt = (int32_t)rd32(p + 57);
		q = p + 61;
		for (i = 0; i < cnt && q < bend; i++) {
			int64_t l = unzz(&q, bend), od, kl, vl;
			const uint8_t *rend = q + l;
			q++;                           /* attributes */
			(void)unzz(&q, rend);
			od = unzz(&q, rend);
			kl = unzz(&q, rend);
			if (kl > 0)
				q += kl;
			vl = unzz(&q, rend);
			if (base + od >= off && vl >= 8 && q + vl <= rend)
				cb(arg, q, (size_t)vl);
			q = rend;
		}
		off = base + (int64_t)rd32(p + 23) + 1 > off ? base + (int64_t)rd32(p + 23) + 1 : off;
		p = bend;
	}
	return off;
}

static void raw_record_cb(void *arg, const uint8_t *v, size_t l)
{
	record(arg, v, l);
}

static void *raw_consumer(void *arg)
{
	latctx_t *x = arg;
	int fd = tcp_connect(x->port);
	uint8_t req[256], *buf = NULL;
	size_t cap = 0, n;
	int64_t off = 0, hw = 0;
	int32_t corr = 1;

	if (fd < 0)
		die("raw kafka: connect");
	/* start at the end: one fetch without waiting tells the watermark */
	send_all(fd, req, raw_fetch_req(req, corr++, x->topic, 0, 0));
	n = recv_frame(fd, &buf, &cap);
	(void)raw_fetch_parse(buf, n, INT64_MAX, &hw, raw_record_cb, x);
	off = hw;
	atomic_store(&x->ready, true);
	while (!atomic_load(&x->stop)) {
		send_all(fd, req, raw_fetch_req(req, corr++, x->topic, off, 100));
		n = recv_frame(fd, &buf, &cap);
		off = raw_fetch_parse(buf, n, off, &hw, raw_record_cb, x);
	}
	close(fd);
	free(buf);
	return NULL;
}

/* Drain whatever answers have arrived on a publishing connection. */
static void drain(int fd)
{
	uint8_t junk[65536];
	while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

static size_t latency_raw(server_t *s, double rate, double dur_s, double **out)
{
	latctx_t x;
	pthread_t th;
	long total = (long)(rate * dur_s), i;
	uint64_t period = (uint64_t)(1e9 / rate), start;
	uint8_t msg[100], req[512], *buf = NULL;
	size_t cap = 0;
	int fd;

	memset(&x, 0, sizeof(x));
	x.cap = total + 16;
	x.lat = calloc((size_t)x.cap, sizeof(double));
	x.port = s->port;
	x.topic = "latraw";
	memset(msg, 'y', sizeof(msg));
	fd = tcp_connect(s->port);
	if (fd < 0)
		die("raw kafka: connect");
	/* Metadata v1 for the topic: auto-creates it */
	{
		uint8_t *p = khdr(req + 4, 3, 1, 1);
		p = be32(p, 1);
		p = kstr(p, x.topic);
		be32(req, (uint32_t)(p - req - 4));
		send_all(fd, req, (size_t)(p - req));
		(void)recv_frame(fd, &buf, &cap);
	}
	pthread_create(&th, NULL, raw_consumer, &x);
	while (!atomic_load(&x.ready))
		usleep(1000);
	usleep(200000);
	start = now_ns();
	for (i = 0; i < total; i++) {
		uint64_t due = start + (uint64_t)i * period, t;
		struct timespec ts = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t = now_ns();
		memcpy(msg, &t, 8);
		send_all(fd, req, raw_produce_req(req, (int32_t)(i + 2), x.topic, msg, sizeof(msg)));
		drain(fd);
	}
	for (i = 0; i < 200 && atomic_load(&x.n) < total; i++)
		usleep(10000);
	atomic_store(&x.stop, true);
	pthread_join(th, NULL);
	close(fd);
	free(buf);
	*out = x.lat;
	i = atomic_load(&x.n);
	return (size_t)(i < x.cap ? i : x.cap);
}

/* ---- main --------------------------------------------------------------- */

static void print_env(const char *nats_bin)
{
	char line[256], model[256] = "?", ver[128] = "?";
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10)) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	if (f)
		fclose(f);
	snprintf(line, sizeof(line), "%s --version 2>/dev/null", nats_bin);
	f = popen(line, "r");
	if (f && fgets(ver, sizeof(ver), f))
		ver[strcspn(ver, "\n")] = 0;
	if (f)
		pclose(f);
	uname(&u);
	fprintf(json ? stderr : stdout,
		"myco-bench-log: myco-log vs NATS JetStream, loopback, one run\n"
		"cpu: %s (%ld online), kernel %s %s, no pinning\n"
		"clients: librdkafka %s (myco-log); own NATS text-protocol client (%s)\n"
		"durability: myco-log --fsync always | --fsync interval=60000; "
		"JetStream file store, server-timed fsync (2.9.10 has no setting)\n"
		"machine shared and noisy: compare ratios, not absolute figures\n\n",
		model, sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release,
		rd_kafka_version_str(), ver);
}

/* ---- replicated: 3 myco-log brokers against a 3-node JetStream ---------- */

/* Three myco-log brokers in cluster mode on loopback; *boot gets the
 * bootstrap list.  The returned server_t (the first broker) carries the
 * list as its address, for the librdkafka clients. */
static server_t *start_myco_cluster(const char *bin, char *boot, size_t bootcap)
{
	int kp[3], rp[3], i;
	char peers[256], data[128], listen[64], id[8], line[256];
	server_t *first = NULL;

	for (i = 0; i < 3; i++) {
		kp[i] = free_port();
		rp[i] = free_port();
	}
	snprintf(peers, sizeof(peers), "1=127.0.0.1:%d:%d,2=127.0.0.1:%d:%d,3=127.0.0.1:%d:%d",
		 kp[0], rp[0], kp[1], rp[1], kp[2], rp[2]);
	snprintf(boot, bootcap, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", kp[0], kp[1], kp[2]);
	for (i = 0; i < 3; i++) {
		server_t *s = &servers[nservers++];
		int pfd[2];
		FILE *f;
		snprintf(data, sizeof(data), "%s/repl%d", tmpdir, i + 1);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", kp[i]);
		snprintf(id, sizeof(id), "%d", i + 1);
		if (pipe(pfd) < 0)
			die("pipe");
		s->name = "myco-repl";
		s->pid = fork();
		if (s->pid == 0) {
			int dn = open("/dev/null", O_WRONLY);
			dup2(pfd[1], 1);
			dup2(dn, 2);              /* leadership and ISR lines */
			close(pfd[0]);
			execl(bin, bin, "--listen", listen, "--data", data, "--node-id", id,
			      "--peers", peers, "--min-insync-replicas", "2", (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		f = fdopen(pfd[0], "r");
		if (!f || !fgets(line, sizeof(line), f) || !strstr(line, "listening on"))
			die("myco-log (cluster mode) did not start");
		fclose(f);
		s->port = kp[i];
		snprintf(s->addr, sizeof(s->addr), "%s", boot);
		if (!first)
			first = s;
	}
	return first;
}

/* Create a topic (1 partition, replication factor -1: every broker) on
 * the cluster, retrying while no controller is elected. */
static void rk_create_topic(const char *boot, const char *topic)
{
	char err[256];
	int tries;

	for (tries = 0; tries < 120; tries++) {
		rd_kafka_conf_t *c = rd_kafka_conf_new();
		rd_kafka_t *rk;
		rd_kafka_NewTopic_t *nt;
		rd_kafka_queue_t *q;
		rd_kafka_event_t *ev;
		const rd_kafka_CreateTopics_result_t *res;
		const rd_kafka_topic_result_t **tr;
		size_t n;
		int code = -1;

		if (rd_kafka_conf_set(c, "bootstrap.servers", boot, err, sizeof(err)))
			die(err);
		rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
		if (!rk)
			die(err);
		nt = rd_kafka_NewTopic_new(topic, 1, -1, err, sizeof(err));
		q = rd_kafka_queue_new(rk);
		rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
		ev = rd_kafka_queue_poll(q, 30000);
		res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
		if (res) {
			tr = rd_kafka_CreateTopics_result_topics(res, &n);
			code = n == 1 ? rd_kafka_topic_result_error(tr[0]) : -1;
		}
		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_NewTopic_destroy(nt);
		rd_kafka_queue_destroy(q);
		rd_kafka_destroy(rk);
		if (code == 0 || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			return;
		usleep(250000);
	}
	die("myco-log cluster: topic creation failed");
}

/* Three nats-servers with JetStream clustered over routes; returns the
 * first (clients connect to it). */
static server_t *start_nats_cluster(const char *bin)
{
	int cp[3], i, k;
	char routes[3][160], sd[128], ps[16], cl[64], nm[16];
	server_t *first = NULL;

	for (i = 0; i < 3; i++)
		cp[i] = free_port();
	for (i = 0; i < 3; i++) {
		int o = 0;
		for (k = 0; k < 3; k++)
			if (k != i)
				o += snprintf(routes[i] + o, sizeof(routes[i]) - (size_t)o, "%snats://127.0.0.1:%d",
					      o ? "," : "", cp[k]);
	}
	for (i = 0; i < 3; i++) {
		server_t *s = &servers[nservers++];
		s->port = free_port();
		s->name = "nats-r3";
		snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
		snprintf(sd, sizeof(sd), "%s/nats-r3-%d", tmpdir, i + 1);
		snprintf(ps, sizeof(ps), "%d", s->port);
		snprintf(cl, sizeof(cl), "nats://127.0.0.1:%d", cp[i]);
		snprintf(nm, sizeof(nm), "n%d", i + 1);
		s->pid = fork();
		if (s->pid == 0) {
			int dn = open("/dev/null", O_WRONLY);
			dup2(dn, 1);
			dup2(dn, 2);
			execl(bin, bin, "-a", "127.0.0.1", "-p", ps, "-js", "-sd", sd, "-n", nm,
			      "--cluster_name", "bench", "--cluster", cl, "--routes", routes[i],
			      (char *)NULL);
			_exit(127);
		}
		if (!first)
			first = s;
	}
	for (i = 0; i < 3; i++)
		for (k = 0;; k++) {
			int fd = tcp_connect(servers[nservers - 3 + i].port);
			if (fd >= 0) {
				close(fd);
				break;
			}
			if (k > 100)
				die("nats-server (cluster) did not start");
			usleep(50000);
		}
	/* the R3 stream, once JetStream's meta group has a leader */
	for (k = 0;; k++) {
		nats_t c;
		const char *pl;
		size_t pll;
		int used = 0;
		bool ok;
		static const char body[] =
			"{\"name\":\"BENCH\",\"subjects\":[\"bench.>\"],\"retention\":\"limits\","
			"\"storage\":\"file\",\"num_replicas\":3,\"discard\":\"old\","
			"\"max_msgs\":-1,\"max_bytes\":-1,\"max_msg_size\":-1}";
		char hdr[160];
		int l;
		n_connect(&c, first->port);
		l = snprintf(hdr, sizeof(hdr),
			     "SUB _INBOX.api 99\r\nPUB $JS.API.STREAM.CREATE.BENCH _INBOX.api %zu\r\n",
			     sizeof(body) - 1);
		n_put(&c, hdr, (size_t)l);
		n_put(&c, body, sizeof(body) - 1);
		n_put(&c, "\r\n", 2);
		n_flush(&c);
		while ((used = n_next(&c, &pl, &pll, NULL, 0)) <= 0)
			if (!n_fill(&c, 5000))
				break;
		ok = used > 0 && !memmem(pl, pll, "\"error\"", 7);
		n_close(&c);
		if (ok)
			break;
		if (k > 120)
			die("nats cluster: the R3 stream could not be created");
		usleep(250000);
	}
	return first;
}

static void bench_replicated(const char *myco_bin, const char *nats_bin, int reps)
{
	static const char *rn[2] = { "myco-log-3x-acks-all", "nats-js-r3" };
	char boot[64];
	server_t *sys[2];
	long cnt = quick ? 30000 : 100000;
	double secs[2][8], rate = quick ? 1000 : 2000, dur = quick ? 2 : 5;
	int r, k;

	sys[0] = start_myco_cluster(myco_bin, boot, sizeof(boot));
	rk_create_topic(boot, "repl100");
	rk_create_topic(boot, "lat");
	sys[1] = start_nats_cluster(nats_bin);
	if (!json)
		printf("\n%-24s %-22s %12s %10s %22s\n", "replicated (3 nodes)", "system", "msg/s",
		       "MB/s", "msg/s min..max");
	for (r = 0; r < reps; r++)
		for (k = 0; k < 2; k++)
			secs[k][r] = (sync(), k == 0) ? tput_kafka(boot, cnt, 100, "repl100")
						      : tput_nats(sys[1]->port, cnt, 100);
	for (k = 0; k < 2; k++) {
		double med, lo, hi;
		char extra[128];
		qsort(secs[k], (size_t)reps, sizeof(double), cmp_d);
		med = secs[k][reps / 2];
		lo = (double)cnt / secs[k][reps - 1];
		hi = (double)cnt / secs[k][0];
		snprintf(extra, sizeof(extra), ",\"messages\":%ld,\"reps\":%d,\"min\":%.1f,\"max\":%.1f",
			 cnt, reps, lo, hi);
		emit("log.repl", rn[k], "throughput", (double)cnt / med, "msg/s", 100, extra);
		if (!json)
			printf("%-24s %-22s %12.0f %10.1f %10.0f..%-10.0f\n", k == 0 ? "100 B" : "",
			       rn[k], (double)cnt / med, (double)cnt / med * 100 / 1e6, lo, hi);
	}
	emit("log.repl", "myco-log-3x/nats-js-r3", "ratio", secs[1][reps / 2] / secs[0][reps / 2],
	     "x", 100, NULL);
	if (!json)
		printf("%-24s %-22s %11.2fx (myco-log 3 brokers / JetStream R3)\n", "", "ratio",
		       secs[1][reps / 2] / secs[0][reps / 2]);
	if (!json)
		printf("%-24s %-22s %9s %9s %9s %9s %8s\n", "replicated e2e (us)", "system", "p50",
		       "p99", "p99.9", "max", "samples");
	for (k = 0; k < 2; k++) {
		double *lat;
		size_t n;
		char extra[128];
		sync();
		n = latency_run(k == 0, sys[k], rate, dur, &lat);
		qsort(lat, n, sizeof(double), cmp_d);
		snprintf(extra, sizeof(extra), ",\"rate\":%.0f,\"samples\":%zu", rate, n);
		emit("log.repl.e2e", rn[k], "p50", pct(lat, n, 0.5), "us", 100, extra);
		emit("log.repl.e2e", rn[k], "p99", pct(lat, n, 0.99), "us", 100, extra);
		emit("log.repl.e2e", rn[k], "p999", pct(lat, n, 0.999), "us", 100, extra);
		if (!json)
			printf("%-24s %-22s %9.0f %9.0f %9.0f %9.0f %8zu\n",
			       k == 0 ? (quick ? "100 B @1000/s" : "100 B @2000/s") : "", rn[k],
			       pct(lat, n, 0.5), pct(lat, n, 0.99), pct(lat, n, 0.999),
			       n ? lat[n - 1] : 0, n);
		if ((long)n < (long)(rate * dur) * 99 / 100)
			fprintf(stderr, "myco-bench-log: %s: only %zu of %.0f messages arrived\n",
				rn[k], n, rate * dur);
		free(lat);
	}
}

int main(int argc, char **argv)
{
	const char *myco_bin = MYCO_LOG_BIN, *nats_bin = "/usr/sbin/nats-server";
	const char *base_bin = NULL;
	server_t *sys[5];
	/* systems: 0,1 myco-log; 2 NATS; 3,4 the baseline binary (optional) */
	const char *names[5] = { "myco-log-always", "myco-log-interval", "nats-js",
		"base-always", "base-interval" };
	int sizes[2] = { 100, 1024 }, si, r, k, reps, nsys;
	long counts[2];
	double rate, dur;
	bool repl_only = false, cores_only = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--myco") && i + 1 < argc)
			myco_bin = argv[++i];
		else if (!strcmp(argv[i], "--nats") && i + 1 < argc)
			nats_bin = argv[++i];
		else if (!strcmp(argv[i], "--baseline") && i + 1 < argc)
			base_bin = argv[++i];
		else if (!strcmp(argv[i], "--replicated-only"))
			repl_only = true;
		else if (!strcmp(argv[i], "--cores-only"))
			cores_only = true;
		else {
			fprintf(stderr, "usage: myco-bench-log [--quick] [--json] [--myco PATH] "
				"[--nats PATH] [--baseline PATH] [--replicated-only] [--cores-only]\n");
			return 2;
		}
	}
	nsys = base_bin ? 5 : 3;
	reps = quick ? 3 : 5;
	counts[0] = quick ? 50000 : 200000;
	counts[1] = quick ? 20000 : 50000;
	rate = quick ? 1000 : 2000;
	dur = quick ? 2 : 5;
	if (!mkdtemp(tmpdir))
		die("mkdtemp");
	atexit(cleanup);
	crc_init();
	signal(SIGPIPE, SIG_IGN);
	print_env(nats_bin);
	if (repl_only) {
		bench_replicated(myco_bin, nats_bin, reps);
		return 0;
	}
	if (cores_only) {
		bench_cores(myco_bin, reps, rate, dur);
		return 0;
	}
	if (!json && base_bin)
		printf("baseline: %s\n", base_bin);
	sys[0] = start_myco(myco_bin, "always", "myco-always");
	sys[1] = start_myco(myco_bin, "interval=60000", "myco-interval");
	sys[2] = start_nats(nats_bin);
	if (base_bin) {
		sys[3] = start_myco(base_bin, "always", "base-always");
		sys[4] = start_myco(base_bin, "interval=60000", "base-interval");
	}
	{
		nats_t c;
		n_connect(&c, sys[2]->port);
		n_request(&c, "$JS.API.STREAM.CREATE.BENCH",
			  "{\"name\":\"BENCH\",\"subjects\":[\"bench.>\"],\"retention\":\"limits\","
			  "\"storage\":\"file\",\"num_replicas\":1,\"discard\":\"old\","
			  "\"max_msgs\":-1,\"max_bytes\":-1,\"max_msg_size\":-1}");
		n_close(&c);
	}

	if (!json)
		printf("%-24s %-18s %12s %10s %22s\n", "producer throughput", "system",
		       "msg/s", "MB/s", "msg/s min..max");
	for (si = 0; si < 2; si++) {
		double secs[5][8];
		char topic[32];
		snprintf(topic, sizeof(topic), "tput%d", sizes[si]);
		for (r = 0; r < reps; r++)
			for (k = 0; k < nsys; k++)
				secs[k][r] = (sync(), k != 2) ? tput_kafka(sys[k]->addr, counts[si], sizes[si], topic)
						   : tput_nats(sys[k]->port, counts[si], sizes[si]);
		for (k = 0; k < nsys; k++) {
			double med, mps, lo, hi, mbs;
			char extra[128];
			qsort(secs[k], (size_t)reps, sizeof(double), cmp_d);
			med = secs[k][reps / 2];
			mps = (double)counts[si] / med;
			hi = (double)counts[si] / secs[k][0];
			lo = (double)counts[si] / secs[k][reps - 1];
			mbs = mps * sizes[si] / 1e6;
			snprintf(extra, sizeof(extra), ",\"messages\":%ld,\"reps\":%d,\"min\":%.1f,\"max\":%.1f",
				 counts[si], reps, lo, hi);
			emit("log.produce", names[k], "throughput", mps, "msg/s", sizes[si], extra);
			emit("log.produce", names[k], "throughput", mbs, "MB/s", sizes[si], NULL);
			if (!json)
				printf("%-24s %-18s %12.0f %10.1f %10.0f..%-10.0f\n",
				       k == 0 ? (sizes[si] == 100 ? "100 B" : "1 KiB") : "",
				       names[k], mps, mbs, lo, hi);
		}
		if (!json)
			printf("%-24s %-18s %11.2fx (myco-log-interval / nats-js), %.2fx (always / nats-js)\n",
			       "", "ratio",
			       (double)secs[2][reps / 2] / secs[1][reps / 2],
			       (double)secs[2][reps / 2] / secs[0][reps / 2]);
		if (base_bin) {
			double ra = secs[3][reps / 2] / secs[0][reps / 2];
			double ri = secs[4][reps / 2] / secs[1][reps / 2];
			emit("log.produce", "myco-log-always/base", "ratio", ra, "x", sizes[si], NULL);
			emit("log.produce", "myco-log-interval/base", "ratio", ri, "x", sizes[si], NULL);
			if (!json)
				printf("%-24s %-18s %11.2fx (always / base-always), %.2fx (interval / base-interval)\n",
				       "", "vs baseline", ra, ri);
		}
	}

	{
		/* transactional against idempotent produce, same broker, same
		 * messages, modes alternating per repetition (A B C A B C) */
		static const int per[3] = { 0, 1000, 100 };
		static const char *mname[3] = { "idempotent", "txn-1000", "txn-100" };
		long cnt = quick ? 20000 : 100000;
		int id = 0;
		if (!json)
			printf("\n%-24s %-18s %-12s %12s %22s %8s\n", "txn vs idempotent", "system",
			       "producer", "msg/s", "msg/s min..max", "/idem");
		for (k = 0; k < 2; k++) {
			double secs[3][8], med[3];
			int m;
			for (r = 0; r < reps; r++)
				for (m = 0; m < 3; m++) {
					sync();
					secs[m][r] = tput_txn(sys[k]->addr, cnt, 100, "txbench", per[m],
							      id++);
				}
			for (m = 0; m < 3; m++) {
				char extra[160], sysname[64];
				double lo, hi;
				qsort(secs[m], (size_t)reps, sizeof(double), cmp_d);
				med[m] = secs[m][reps / 2];
				lo = (double)cnt / secs[m][reps - 1];
				hi = (double)cnt / secs[m][0];
				snprintf(sysname, sizeof(sysname), "%s-%s", names[k], mname[m]);
				snprintf(extra, sizeof(extra),
					 ",\"messages\":%ld,\"reps\":%d,\"min\":%.1f,\"max\":%.1f,"
					 "\"per_txn\":%d", cnt, reps, lo, hi, per[m]);
				emit("log.txn", sysname, "throughput", (double)cnt / med[m], "msg/s", 100,
				     extra);
				if (m)
					emit("log.txn", sysname, "ratio", med[0] / med[m], "x", 100, NULL);
				if (!json)
					printf("%-24s %-18s %-12s %12.0f %10.0f..%-10.0f %7.2fx\n",
					       k == 0 && m == 0 ? "100 B" : "", m == 0 ? names[k] : "",
					       mname[m], (double)cnt / med[m], lo, hi, med[0] / med[m]);
			}
		}
	}

	if (!json)
		printf("\n%-24s %-22s %9s %9s %9s %9s %8s\n", "e2e latency (us)", "system",
		       "p50", "p99", "p99.9", "max", "samples");
	{
		/* rows: librdkafka on both brokers, the minimal client on both,
		 * NATS with its minimal client, librdkafka on the baseline */
		static const char *lnames[7] = { "myco-log-always", "myco-log-interval",
			"myco-log-always-raw", "myco-log-interval-raw", "nats-js",
			"base-always", "base-interval" };
		double p99[7] = { 0 };
		int nl = base_bin ? 7 : 5;
		for (k = 0; k < nl; k++) {
			double *lat;
			size_t n;
			char extra[128];
			sync();   /* start each run without other systems' dirty pages */
			if (k < 2)
				n = latency_run(true, sys[k], rate, dur, &lat);
			else if (k < 4)
				n = latency_raw(sys[k - 2], rate, dur, &lat);
			else if (k == 4)
				n = latency_run(false, sys[2], rate, dur, &lat);
			else
				n = latency_run(true, sys[k - 2], rate, dur, &lat);
			qsort(lat, n, sizeof(double), cmp_d);
			snprintf(extra, sizeof(extra), ",\"rate\":%.0f,\"samples\":%zu,\"client\":\"%s\"",
				 rate, n, k < 2 || k > 4 ? "librdkafka" : "minimal");
			p99[k] = pct(lat, n, 0.99);
			emit("log.e2e", lnames[k], "p50", pct(lat, n, 0.5), "us", 100, extra);
			emit("log.e2e", lnames[k], "p99", pct(lat, n, 0.99), "us", 100, extra);
			emit("log.e2e", lnames[k], "p999", pct(lat, n, 0.999), "us", 100, extra);
			emit("log.e2e", lnames[k], "max", n ? lat[n - 1] : 0, "us", 100, extra);
			if (!json)
				printf("%-24s %-22s %9.0f %9.0f %9.0f %9.0f %8zu\n",
				       k == 0 ? (quick ? "100 B @1000/s" : "100 B @2000/s") : "", lnames[k],
				       pct(lat, n, 0.5), pct(lat, n, 0.99), pct(lat, n, 0.999),
				       n ? lat[n - 1] : 0, n);
			if ((long)n < (long)(rate * dur) * 99 / 100)
				fprintf(stderr, "myco-bench-log: %s: only %zu of %.0f messages arrived\n",
					lnames[k], n, rate * dur);
			free(lat);
		}
		if (base_bin && !json)
			printf("%-24s %-22s p99 %.2fx (always / base-always), %.2fx (interval / base-interval)\n",
			       "", "vs baseline", p99[0] / (p99[5] > 0 ? p99[5] : 1),
			       p99[1] / (p99[6] > 0 ? p99[6] : 1));
	}
	bench_cores(myco_bin, reps, rate, dur);
	bench_replicated(myco_bin, nats_bin, reps);
	/* servers stopped and temp dir removed by cleanup() at exit */
	return 0;
}
