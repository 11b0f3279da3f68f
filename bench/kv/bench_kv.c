/*
 * bench_kv.c: myco-bench-kv: myco-kv against redis-server (Debian 7.0) on
 * loopback, the same load generators, the same run.
 *
 *   myco-bench-kv [--quick] [--json] [--kv PATH] [--reps N]
 *
 * What is measured (exactly):
 * - GET and SET with redis-benchmark (Debian, the one shipped with Redis):
 *   50 clients, pipeline 1 and 16, 3-byte values, random keys out of 100k
 *   (-r 100000); ops/s from its throughput summary and p50/p99/p99.9 from
 *   its latency-by-percentile table (the first percentile line at or above
 *   the quantile).
 * - Twice: memory only (redis-server --save "" --appendonly no; myco-kv
 *   without --dir) and durable (redis-server --appendonly yes --appendfsync
 *   always; myco-kv --dir --appendfsync always: both acknowledge a write
 *   only after fdatasync).
 * - MULTI/EXEC transfers: 16 client threads of this program, each one
 *   connection, each sending MULTI, DECRBY a, INCRBY b, EXEC in one write
 *   and reading the four replies; latency per transaction, transactions
 *   per second; 1000 accounts in both configurations ("transfer"), and 16
 *   accounts memory only ("transfer-hot": most transactions conflict, so
 *   myco-kv's optimistic commit retries).
 * - Systems, alternating in every repetition (A B C A B C ...):
 *   redis (one thread, as Redis runs), myco-kv-1t (--threads 1),
 *   myco-kv-2t (--threads 2).  Throughput: median of the repetitions
 *   (min and max shown); latency percentiles: median of the repetitions'.
 * - The load generator runs on the same 2 cores as the server: absolute
 *   figures are low and noisy; compare within a row.  Each row also shows
 *   the server's CPU time per operation (all its threads, from
 *   /proc/PID/task/../schedstat; for the raft cluster the leader's only),
 *   which depends much less on what else runs on the machine.
 * Not for: correctness (tests/integration/kv).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "myco/common.h"

#ifndef MYCO_KV_BIN
#define MYCO_KV_BIN "myco-kv"
#endif

#define NSYS 3
#define MAXREP 9

static bool opt_json, opt_quick;
static const char *kv_bin = MYCO_KV_BIN;
static int reps = 5;

typedef struct server {
	const char *name;
	pid_t pid;
	int port;
	char dir[64];
} server_t;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		close(fd);
		return -1;
	}
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static int connect_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void start(server_t *s, int sys, bool durable)
{
	char port[16];
	s->port = free_port();
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(s->dir, sizeof(s->dir), "/tmp/kvbench-XXXXXX");
	if (!mkdtemp(s->dir))
		exit(1);
	s->pid = fork();
	if (s->pid == 0) {
		int nul = open("/dev/null", 1);
		dup2(nul, 1);
		dup2(nul, 2);
		if (sys == 0) {
			if (durable)
				execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
				       "--save", "", "--appendonly", "yes", "--appendfsync", "always",
				       "--dir", s->dir, (char *)NULL);
			else
				execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
				       "--save", "", "--appendonly", "no", (char *)NULL);
		} else {
			const char *th = sys == 1 ? "1" : "2";
			if (durable)
				execl(kv_bin, "myco-kv", "--port", port, "--threads", th, "--dir", s->dir,
				      "--appendfsync", "always", (char *)NULL);
			else
				execl(kv_bin, "myco-kv", "--port", port, "--threads", th, (char *)NULL);
		}
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		int fd = connect_port(s->port);
		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(25000);
	}
	fprintf(stderr, "myco-bench-kv: %s did not start\n", s->name);
	exit(1);
}

/* 1 if the node on port answers INFO with raft_ready:1 (the serving
 * raft leader). */
static int raft_ready(int port)
{
	char buf[4096];
	size_t len = 0;
	int fd = connect_port(port);
	if (fd < 0)
		return 0;
	if (write(fd, "INFO replication\r\n", 18) != 18) {
		close(fd);
		return 0;
	}
	while (len < sizeof(buf) - 1) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = 0;
		if (strstr(buf, "raft_peers:"))
			break;
	}
	close(fd);
	buf[len] = 0;
	return strstr(buf, "raft_ready:1\r\n") != NULL;
}

/* Three raft nodes on loopback; returns the index of the leader. */
static int start_raft3(server_t n[3])
{
	char peers[256], port[16], id[4];
	int rport[3], i, tries;

	for (i = 0; i < 3; i++) {
		n[i].name = "myco-kv-raft3";
		n[i].port = free_port();
		rport[i] = free_port();
		snprintf(n[i].dir, sizeof(n[i].dir), "/tmp/kvbench-XXXXXX");
		if (!mkdtemp(n[i].dir))
			exit(1);
	}
	snprintf(peers, sizeof(peers), "1=127.0.0.1:%d:%d,2=127.0.0.1:%d:%d,3=127.0.0.1:%d:%d",
		 n[0].port, rport[0], n[1].port, rport[1], n[2].port, rport[2]);
	for (i = 0; i < 3; i++) {
		snprintf(port, sizeof(port), "%d", n[i].port);
		snprintf(id, sizeof(id), "%d", i + 1);
		n[i].pid = fork();
		if (n[i].pid == 0) {
			int nul = open("/dev/null", 1);
			dup2(nul, 1);
			dup2(nul, 2);
			execl(kv_bin, "myco-kv", "--port", port, "--threads", "1", "--dir", n[i].dir,
			      "--raft-id", id, "--raft-peers", peers, (char *)NULL);
			_exit(127);
		}
	}
	for (tries = 0; tries < 2000; tries++) {
		for (i = 0; i < 3; i++)
			if (raft_ready(n[i].port))
				return i;
		usleep(10000);
	}
	fprintf(stderr, "myco-bench-kv: the raft cluster elected no leader\n");
	exit(1);
}

static void stop(server_t *s)
{
	char cmd[128];
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "myco-bench-kv: could not remove %s\n", s->dir);
}

typedef struct result {
	double ops, p50, p99, p999;   /* ops/s, microseconds */
	double count;                 /* operations in the run */
	double cpu_us;                /* server CPU time per operation */
} result_t;

/* CPU time the server has used so far (every thread, from
 * /proc/PID/task/TID/schedstat: nanoseconds on a CPU).  On a loaded
 * machine this, not ops/s, is the load-independent cost of a request. */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[96];
	DIR *d;
	struct dirent *de;
	uint64_t sum = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned long long ns;
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.32s/schedstat", (int)pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* Run fn's measurement and add the server's CPU time per operation. */
#define WITH_CPU(sv, res, call)                                                        \
	({                                                                             \
		uint64_t c0_ = proc_cpu_ns((sv)->pid);                                 \
		int rc_ = (call);                                                      \
		uint64_t c1_ = proc_cpu_ns((sv)->pid);                                 \
		(res)->cpu_us = (res)->count > 0 ? (double)(c1_ - c0_) / 1e3 / (res)->count : 0; \
		rc_;                                                                   \
	})

/* Run redis-benchmark for one test; parse the throughput and the
 * latency-by-percentile table. */
static int run_rb(int port, const char *test, int pipeline, long n, result_t *r)
{
	char cmd[512], line[512];
	FILE *f;
	bool in_pct = false;
	double want[3] = { 50.0, 99.0, 99.9 }, *out[3] = { &r->p50, &r->p99, &r->p999 };
	int got = 0;

	memset(r, 0, sizeof(*r));
	r->count = (double)n;
	snprintf(cmd, sizeof(cmd),
		 "redis-benchmark -h 127.0.0.1 -p %d -t %s -n %ld -c 50 -P %d -r 100000 2>/dev/null",
		 port, test, n, pipeline);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, '\r');
		double pct, ms;
		if (p)
			memmove(line, p + 1, strlen(p + 1) + 1);
		if (strstr(line, "Latency by percentile distribution")) {
			in_pct = true;
			continue;
		}
		if (in_pct && sscanf(line, "%lf%% <= %lf milliseconds", &pct, &ms) == 2) {
			while (got < 3 && pct >= want[got]) {
				*out[got] = ms * 1000.0;
				got++;
			}
			continue;
		}
		if (in_pct && line[0] == '\n')
			in_pct = false;
		if (sscanf(line, " throughput summary: %lf requests per second", &r->ops) == 1)
			continue;
	}
	pclose(f);
	return r->ops > 0 && got == 3 ? 0 : -1;
}

/* ---- MULTI/EXEC transfers with our own client threads ---- */

#define TX_THREADS 16
#define ACCTS 1000
#define HOT_ACCTS 16

static int tx_accts = ACCTS;      /* accounts of the running transfer row */

typedef struct txw {
	int port;
	uint64_t until;
	unsigned seed;
	uint32_t *lat;   /* microseconds */
	size_t n, cap;
	int err;
} txw_t;

static int read_replies(int fd, char *buf, size_t cap, int want)
{
	size_t len = 0;
	int seen = 0;
	/* Count top-level replies: MULTI +OK, +QUEUED x2, EXEC *2 :x :y, so 7
	 * lines in all (or *-1 / error lines). */
	while (seen < want) {
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k <= 0)
			return -1;
		for (ssize_t i = 0; i < k; i++)
			if (buf[len + i] == '\n')
				seen++;
		len += (size_t)k;
		if (len + 1 >= cap)
			len = 0;
	}
	return 0;
}

static void *tx_thread(void *arg)
{
	txw_t *w = arg;
	int fd = connect_port(w->port);
	char req[256], buf[4096];

	if (fd < 0) {
		w->err = 1;
		return NULL;
	}
	while (myco_now() < w->until) {
		int a = (int)(rand_r(&w->seed) % (unsigned)tx_accts);
		int b = (int)(rand_r(&w->seed) % (unsigned)tx_accts);
		char ka[16], kb[16];
		int la = snprintf(ka, sizeof(ka), "acct:%d", a), lb = snprintf(kb, sizeof(kb), "acct:%d", b);
		int n = snprintf(req, sizeof(req),
				 "*1\r\n$5\r\nMULTI\r\n*3\r\n$6\r\nDECRBY\r\n$%d\r\n%s\r\n$1\r\n1\r\n"
				 "*3\r\n$6\r\nINCRBY\r\n$%d\r\n%s\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n",
				 la, ka, lb, kb);
		uint64_t t0 = myco_now();
		if (write(fd, req, (size_t)n) != n || read_replies(fd, buf, sizeof(buf), 6) < 0) {
			w->err = 1;
			break;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 65536;
			w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
			if (!w->lat)
				exit(1);
		}
		w->lat[w->n++] = (uint32_t)((myco_now() - t0) / 1000);
	}
	close(fd);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int run_tx(int port, double secs, result_t *r)
{
	pthread_t th[TX_THREADS];
	txw_t w[TX_THREADS];
	uint32_t *all;
	size_t n = 0;
	uint64_t t0, until;
	int i, fd = connect_port(port);
	char buf[256];

	/* accounts */
	if (fd < 0)
		return -1;
	for (i = 0; i < tx_accts; i++) {
		int l = snprintf(buf, sizeof(buf), "SET acct:%d 1000000\r\n", i);
		if (write(fd, buf, (size_t)l) != l || read_replies(fd, buf, sizeof(buf), 1) < 0)
			return -1;
	}
	close(fd);
	t0 = myco_now();
	until = t0 + (uint64_t)(secs * 1e9);
	for (i = 0; i < TX_THREADS; i++) {
		w[i] = (txw_t){ .port = port, .until = until, .seed = (unsigned)i + 1 };
		pthread_create(&th[i], NULL, tx_thread, &w[i]);
	}
	for (i = 0; i < TX_THREADS; i++) {
		pthread_join(th[i], NULL);
		n += w[i].n;
	}
	all = malloc((n ? n : 1) * sizeof(*all));
	n = 0;
	for (i = 0; i < TX_THREADS; i++) {
		memcpy(all + n, w[i].lat, w[i].n * sizeof(*all));
		n += w[i].n;
		free(w[i].lat);
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	memset(r, 0, sizeof(*r));
	r->count = (double)n;
	if (n) {
		r->ops = (double)n / ((double)(myco_now() - t0) / 1e9);
		r->p50 = all[(size_t)(n * 0.5)];
		r->p99 = all[(size_t)(n * 0.99)];
		r->p999 = all[(size_t)(n * 0.999)];
	}
	free(all);
	return n ? 0 : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
	double t[MAXREP];
	memcpy(t, v, (size_t)n * sizeof(*v));
	qsort(t, (size_t)n, sizeof(*t), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static const char *sysname_std[NSYS] = { "redis", "myco-kv-1t", "myco-kv-2t" };
static const char *sysname_repl[NSYS] = { "redis", "myco-kv-1t", "myco-kv-raft3" };
static const char **sysname = sysname_std;

static void report(const char *bench, const char *mode, int pipeline, result_t res[NSYS][MAXREP])
{
	double ops[NSYS][MAXREP], p[3][NSYS][MAXREP], m[NSYS], mn[NSYS], mx[NSYS];
	double cpu[NSYS][MAXREP];
	int s, i;

	for (s = 0; s < NSYS; s++) {
		for (i = 0; i < reps; i++) {
			ops[s][i] = res[s][i].ops;
			p[0][s][i] = res[s][i].p50;
			p[1][s][i] = res[s][i].p99;
			p[2][s][i] = res[s][i].p999;
			cpu[s][i] = res[s][i].cpu_us;
		}
		m[s] = med(ops[s], reps);
		mn[s] = mx[s] = ops[s][0];
		for (i = 1; i < reps; i++) {
			if (ops[s][i] < mn[s])
				mn[s] = ops[s][i];
			if (ops[s][i] > mx[s])
				mx[s] = ops[s][i];
		}
	}
	for (s = 0; s < NSYS; s++) {
		double q50 = med(p[0][s], reps), q99 = med(p[1][s], reps), q999 = med(p[2][s], reps);
		double cu = med(cpu[s], reps);
		if (opt_json) {
			const char *mt[] = { "throughput", "p50", "p99", "p999", "cpu_per_op" };
			double v[] = { m[s], q50, q99, q999, cu };
			for (i = 0; i < 5; i++)
				printf("{\"bench\":\"kv.%s\",\"system\":\"%s\",\"metric\":\"%s\",\"value\":%.2f,"
				       "\"unit\":\"%s\",\"pipeline\":%d,\"clients\":%d,\"fsync\":\"%s\","
				       "\"reps\":%d}\n",
				       bench, sysname[s], mt[i], v[i], i ? "us" : "ops/s", pipeline,
				       strncmp(bench, "transfer", 8) ? 50 : TX_THREADS, mode, reps);
			if (s > 0)
				printf("{\"bench\":\"kv.%s\",\"system\":\"%s\",\"metric\":\"ratio\","
				       "\"value\":%.3f,\"unit\":\"x redis throughput\",\"pipeline\":%d,"
				       "\"fsync\":\"%s\"}\n", bench, sysname[s], m[s] / m[0], pipeline, mode);
		} else {
			printf("%-12s %-6s P%-3d %-11s %10.0f ops/s (min %8.0f max %8.0f) x%.2f  "
			       "p50 %7.0f us  p99 %7.0f us  p99.9 %7.0f us  cpu %5.2f us/op\n",
			       bench, mode, pipeline, sysname[s], m[s], mn[s], mx[s], m[s] / m[0],
			       q50, q99, q999, cu);
		}
	}
	fflush(stdout);
}

static void setup_line(void)
{
	struct utsname u;
	char model[600] = "?", line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "model name", 10)) {
				char *c = strchr(line, ':');
				snprintf(model, sizeof(model), "%s", c ? c + 2 : line);
				model[strcspn(model, "\n")] = 0;
				break;
			}
		fclose(f);
	}
	uname(&u);
	f = popen("redis-server --version", "r");
	line[0] = 0;
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		pclose(f);
	}
	line[strcspn(line, "\n")] = 0;
	if (opt_json)
		printf("{\"bench\":\"kv.setup\",\"cpu\":\"%s\",\"kernel\":\"%s\",\"cpus\":%ld,"
		       "\"baseline\":\"%s\",\"reps\":%d}\n", model, u.release,
		       sysconf(_SC_NPROCESSORS_ONLN), line, reps);
	else
		printf("setup: %s, %ld CPUs, Linux %s; %s; redis-benchmark -c 50 -r 100000, 3-byte "
		       "values; transfers: %d threads x 1 connection; %d repetitions, systems "
		       "alternating; load generator on the same CPUs; replicated: 3 myco-kv raft "
		       "nodes on loopback, --threads 1 each\n",
		       model, sysconf(_SC_NPROCESSORS_ONLN), u.release, line, TX_THREADS, reps);
}

int main(int argc, char **argv)
{
	static result_t res[NSYS][MAXREP];
	server_t srv[NSYS];
	int i, s, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			opt_json = true;
		else if (!strcmp(argv[i], "--quick"))
			opt_quick = true;
		else if (!strcmp(argv[i], "--kv") && i + 1 < argc)
			kv_bin = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: myco-bench-kv [--quick] [--json] [--kv PATH] [--reps N]\n");
			return 2;
		}
	}
	if (opt_quick && reps == 5)
		reps = 3;
	if (reps < 1 || reps > MAXREP)
		reps = 3;
	signal(SIGPIPE, SIG_IGN);
	setup_line();
	for (int durable = 0; durable < 2; durable++) {
		const char *mode = durable ? "always" : "memory";
		for (s = 0; s < NSYS; s++) {
			srv[s].name = sysname[s];
			start(&srv[s], s, durable);
		}
		for (int pl = 1; pl <= 16; pl += 15) {
			long n = (opt_quick ? 5000 : 20000) * (pl == 16 ? 5 : 1);
			if (durable && pl == 1)
				n /= 4;   /* every SET waits for its own fdatasync */
			for (int t = 0; t < 2; t++) {
				const char *test = t ? "get" : "set";
				for (r = 0; r < reps; r++)
					for (s = 0; s < NSYS; s++)
						if (WITH_CPU(&srv[s], &res[s][r],
							     run_rb(srv[s].port, test, pl, n, &res[s][r])) < 0)
							fprintf(stderr, "myco-bench-kv: redis-benchmark failed on %s\n",
								sysname[s]);
				report(test, mode, pl, res);
			}
		}
		/* transfers over 1000 accounts, and (memory only) over 16
		 * hot accounts, where transactions conflict */
		for (int hot = 0; hot <= !durable; hot++) {
			tx_accts = hot ? HOT_ACCTS : ACCTS;
			for (r = 0; r < reps; r++)
				for (s = 0; s < NSYS; s++)
					if (WITH_CPU(&srv[s], &res[s][r],
						     run_tx(srv[s].port, opt_quick ? 1.0 : 2.0, &res[s][r])) < 0)
						fprintf(stderr, "myco-bench-kv: transfers failed on %s\n",
							sysname[s]);
			report(hot ? "transfer-hot" : "transfer", mode, 1, res);
		}
		for (s = 0; s < NSYS; s++)
			stop(&srv[s]);
	}
	{
		/* Replicated SET: one-node durable servers against a 3-node
		 * raft cluster's leader. */
		server_t nodes[3];
		int leader;
		sysname = sysname_repl;
		for (s = 0; s < 2; s++) {
			srv[s].name = sysname[s];
			start(&srv[s], s, true);
		}
		leader = start_raft3(nodes);
		srv[2] = nodes[leader];
		for (int pl = 1; pl <= 16; pl += 15) {
			long n = (opt_quick ? 5000 : 20000) * (pl == 16 ? 5 : 1) / (pl == 1 ? 4 : 1);
			for (r = 0; r < reps; r++)
				for (s = 0; s < NSYS; s++)
					if (WITH_CPU(&srv[s], &res[s][r],
						     run_rb(srv[s].port, "set", pl, n, &res[s][r])) < 0)
						fprintf(stderr, "myco-bench-kv: redis-benchmark failed on %s\n",
							sysname[s]);
			report("set", "repl", pl, res);
		}
		for (s = 0; s < 2; s++)
			stop(&srv[s]);
		for (i = 0; i < 3; i++)
			stop(&nodes[i]);
	}
	return 0;
}
