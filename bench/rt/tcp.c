/*
 * tcp.c: TCP request/response on loopback.  One server thread pinned to
 * CPU A (thread-per-core with one core: the other core runs the load
 * generator), 64-byte requests answered by 64-byte responses, pipelining
 * allowed.  Servers, alternated run by run:
 *   myco   a myco loop: an accept coroutine, one coroutine per connection
 *          with myco_recv / myco_write_all (io_uring underneath);
 *   epoll  the classic thread-per-core baseline: non-blocking sockets,
 *          level-triggered epoll, one read per readiness (again only if it
 *          filled the buffer), write the answers;
 *   libuv  uv_tcp with uv_read_start / uv_write (the libuv echo pattern).
 * The load generator (same for all, CPU B, epoll, busy-polling) measures
 *   - max throughput: 64 connections, closed loop, one request in flight
 *     per connection; requests per second (median of 5 runs, min, max),
 *     server and client CPU time per request and the server thread's busy
 *     fraction (under 100 % the server was not the bottleneck: the CPU
 *     share the machine gave it, or the client, was), and for myco the
 *     loop's counters per request;
 *   - latency at a fixed offered rate (--rate, else half the slowest
 *     system's median maximum in this run) (open loop: requests are due at fixed times
 *     whether or not earlier answers came back, so queueing shows in the
 *     figures; latency = answer time - due time).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "bench.h"
#include "myco/rt.h"
#include "myco_int.h"

#define MSG 64
#define NCONN 64
#define BUFSZ 16384

static int listen_any(uint16_t *port)
{
	int fd = myco_tcp_listen("127.0.0.1", 0, 1024, false);
	if (fd < 0)
		return fd;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	return fd;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- server: myco ----------------------------------------------------------- */

typedef struct server server_t;
struct server {
	int lfd;
	uint16_t port;
	pthread_t th;
	atomic_int ready;
	/* myco */
	myco_loop_t *loop;
	myco_loop_stats_t st;   /* at stop */
	/* epoll */
	int efd;
	/* libuv */
	uv_loop_t uvl;
	uv_tcp_t uvs;
	uv_async_t uva;
};

static int myco_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[BUFSZ];
	size_t have = 0;
	for (;;) {
		ssize_t n = myco_recv(fd, buf + have, sizeof(buf) - have, 0,
				      MYCO_FOREVER);
		if (n <= 0)
			break;
		have += (size_t)n;
		size_t full = have / MSG * MSG;
		if (full) {
			if (myco_write_all(fd, buf, full, MYCO_FOREVER) < 0)
				break;
			memmove(buf, buf + full, have - full);
			have -= full;
		}
	}
	close(fd);
	return 0;
}

static int myco_acceptor(void *arg)
{
	server_t *s = arg;
	for (;;) {
		int c = myco_accept(s->lfd, NULL, NULL, SOCK_CLOEXEC, MYCO_FOREVER);
		if (c < 0)
			return c;
		nodelay(c);
		if (myco_spawn(s->loop, NULL, myco_conn, (void *)(intptr_t)c,
			       NULL) < 0)
			close(c);
	}
}

static void *myco_server(void *arg)
{
	server_t *s = arg;
	pin_cpu(g_opt.cpu_a);
	pthread_setname_np(pthread_self(), "srv-myco"); /* for perf */
	myco_loop_opts_t o = { .keepalive = true, .policy = MYCO_POLICY_FIFO };
	if (myco_loop_create(&s->loop, &o) != 0)
		return NULL;
	myco_spawn(s->loop, NULL, myco_acceptor, s, NULL);
	atomic_store(&s->ready, 1);
	myco_loop_run(s->loop);
	return NULL;
}

static void myco_stop(server_t *s)
{
	myco_loop_stop(s->loop);
	pthread_join(s->th, NULL);
	myco_loop_stats(s->loop, &s->st);
	myco_loop_destroy(s->loop);
}

/* ---- server: epoll -------------------------------------------------------- */

typedef struct {
	int fd;
	size_t have;
	char buf[BUFSZ];
} econn_t;

static void *epoll_server(void *arg)
{
	server_t *s = arg;
	pin_cpu(g_opt.cpu_a);
	pthread_setname_np(pthread_self(), "srv-epoll"); /* for perf */
	int ep = epoll_create1(EPOLL_CLOEXEC);
	fcntl(s->lfd, F_SETFL, O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &ev);
	ev.data.ptr = &s->efd;
	epoll_ctl(ep, EPOLL_CTL_ADD, s->efd, &ev);
	atomic_store(&s->ready, 1);
	struct epoll_event evs[128];
	for (;;) {
		int n = epoll_wait(ep, evs, 128, -1);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->efd)
				goto out;
			if (!p) {
				for (;;) {
					int c = accept4(s->lfd, NULL, NULL,
							SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0)
						break;
					nodelay(c);
					econn_t *e = calloc(1, sizeof(*e));
					e->fd = c;
					struct epoll_event ce = { .events = EPOLLIN,
								  .data.ptr = e };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				}
				continue;
			}
			econn_t *e = p;
			bool dead = false;
			for (;;) {
				size_t room = sizeof(e->buf) - e->have;
				ssize_t r = recv(e->fd, e->buf + e->have, room, 0);
				if (r > 0) {
					e->have += (size_t)r;
					size_t full = e->have / MSG * MSG;
					if (full) {
						if (myco__write_full(e->fd, e->buf, full)) {
							dead = true;
							break;
						}
						memmove(e->buf, e->buf + full, e->have - full);
						e->have -= full;
					}
					/* level-triggered: read again only if the
					 * buffer filled up; otherwise epoll says
					 * when there is more (saves an EAGAIN) */
					if ((size_t)r < room)
						break;
					continue;
				}
				if (r < 0 && errno == EAGAIN)
					break;
				if (r < 0 && errno == EINTR)
					continue;
				dead = true;
				break;
			}
			if (dead) {
				epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
				close(e->fd);
				free(e);
			}
		}
	}
out:
	close(ep);
	return NULL;
}

static void epoll_stop(server_t *s)
{
	uint64_t one = 1;
	(void)!write(s->efd, &one, sizeof(one));
	pthread_join(s->th, NULL);
	close(s->efd);
}

/* ---- server: libuv ---------------------------------------------------------- */

typedef struct {
	uv_tcp_t h;
	size_t have;
	char buf[BUFSZ];
} uconn_t;

typedef struct {
	uv_write_t req;
	char data[];
} uwrite_t;

static void u_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
	(void)sug;
	uconn_t *c = (uconn_t *)h;
	b->base = c->buf + c->have;
	b->len = sizeof(c->buf) - c->have;
}

static void u_closed(uv_handle_t *h)
{
	free(h);
}

static void u_written(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void u_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	uconn_t *c = (uconn_t *)st;
	if (n < 0) {
		uv_close((uv_handle_t *)st, u_closed);
		return;
	}
	c->have += (size_t)n;
	size_t full = c->have / MSG * MSG;
	if (!full)
		return;
	uwrite_t *w = malloc(sizeof(*w) + full);
	memcpy(w->data, c->buf, full);
	uv_buf_t out = uv_buf_init(w->data, (unsigned)full);
	if (uv_write(&w->req, st, &out, 1, u_written) != 0)
		free(w);
	memmove(c->buf, c->buf + full, c->have - full);
	c->have -= full;
}

static void u_conn(uv_stream_t *srv, int status)
{
	if (status < 0)
		return;
	uconn_t *c = calloc(1, sizeof(*c));
	uv_tcp_init(srv->loop, &c->h);
	if (uv_accept(srv, (uv_stream_t *)&c->h) == 0) {
		uv_tcp_nodelay(&c->h, 1);
		uv_read_start((uv_stream_t *)&c->h, u_alloc, u_read);
	} else {
		uv_close((uv_handle_t *)&c->h, u_closed);
	}
}

static void u_walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_TCP && h->data == NULL ? u_closed : NULL);
}

static void u_async(uv_async_t *a)
{
	uv_stop(a->loop);
}

static void *uv_server(void *arg)
{
	server_t *s = arg;
	pin_cpu(g_opt.cpu_a);
	pthread_setname_np(pthread_self(), "srv-libuv"); /* for perf */
	uv_loop_init(&s->uvl);
	uv_tcp_init(&s->uvl, &s->uvs);
	s->uvs.data = s; /* marks the listener: not freed on close */
	uv_tcp_open(&s->uvs, s->lfd);
	uv_listen((uv_stream_t *)&s->uvs, 1024, u_conn);
	uv_async_init(&s->uvl, &s->uva, u_async);
	s->uva.data = s;
	atomic_store(&s->ready, 1);
	uv_run(&s->uvl, UV_RUN_DEFAULT);
	uv_walk(&s->uvl, u_walk_close, NULL);
	uv_run(&s->uvl, UV_RUN_DEFAULT);
	uv_loop_close(&s->uvl);
	return NULL;
}

static void uv_stop_server(server_t *s)
{
	uv_async_send(&s->uva);
	pthread_join(s->th, NULL);
	s->lfd = -1; /* closed by libuv */
}

/* ---- server lifecycle --------------------------------------------------- */

enum { SYS_MYCO, SYS_EPOLL, SYS_UV, NSYS };
static const char *g_sys[NSYS] = { "myco", "epoll", "libuv" };
#define IS_MYCO(k) ((k) == SYS_MYCO)

static int server_start(server_t *s, int sys)
{
	memset(s, 0, sizeof(*s));
	s->lfd = listen_any(&s->port);
	if (s->lfd < 0)
		return s->lfd;
	void *(*fn)(void *) = IS_MYCO(sys) ? myco_server :
			      sys == SYS_EPOLL ? epoll_server : uv_server;
	if (sys == SYS_EPOLL)
		s->efd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&s->th, NULL, fn, s);
	while (!atomic_load(&s->ready))
		usleep(1000);
	return 0;
}

static void server_stop(server_t *s, int sys)
{
	if (IS_MYCO(sys))
		myco_stop(s);
	else if (sys == SYS_EPOLL)
		epoll_stop(s);
	else
		uv_stop_server(s);
	if (s->lfd >= 0)
		close(s->lfd);
}

/* ---- load generator --------------------------------------------------------- */

typedef struct {
	int fd;
	size_t got;         /* bytes of the current answer */
	uint64_t *due;      /* ring of due times of requests in flight */
	size_t head, tail;  /* due[head..tail) */
} cconn_t;

#define DUE_RING 65536

static int connect_all(cconn_t *c, int n, uint16_t port, int ep)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	for (int i = 0; i < n; i++) {
		c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c[i].fd, (struct sockaddr *)&a, sizeof(a)) != 0)
			return -errno;
		nodelay(c[i].fd);
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		c[i].due = calloc(DUE_RING, sizeof(uint64_t));
		c[i].got = c[i].head = c[i].tail = 0;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
	}
	return 0;
}

static void close_all(cconn_t *c, int n)
{
	for (int i = 0; i < n; i++) {
		close(c[i].fd);
		free(c[i].due);
	}
}

static char g_req[MSG];

static int send_req(cconn_t *c, uint64_t due)
{
	if (myco__write_full(c->fd, g_req, MSG) != 0)
		return -1;
	c->due[c->tail++ % DUE_RING] = due;
	return 0;
}

/* Read what arrived on c; for each complete answer call done(due). */
static int drain(cconn_t *c, uint64_t *count, samples_t *lat, bool closed_loop)
{
	char buf[BUFSZ];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->got += (size_t)n;
		while (c->got >= MSG) {
			c->got -= MSG;
			uint64_t due = c->due[c->head++ % DUE_RING];
			(*count)++;
			if (lat)
				samples_add(lat, myco_now() - due);
			if (closed_loop && send_req(c, myco_now()) != 0)
				return -1;
		}
	}
}

/* Closed loop for dur ns: returns answers per second. */
static double run_throughput(uint16_t port, uint64_t dur, pthread_t srv,
			     double *cpu_per_req, double *cli_per_req,
			     double *srv_busy)
{
	struct timespec k0 = { 0 }, k1 = { 0 };
	clockid_t cid;
	struct timespec c0 = { 0 }, c1 = { 0 };
	bool have_cpu = pthread_getcpuclockid(srv, &cid) == 0;
	cconn_t c[NCONN];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	double rate = -1;
	if (connect_all(c, NCONN, port, ep) != 0)
		goto out;
	for (int i = 0; i < NCONN; i++)
		send_req(&c[i], myco_now());
	if (have_cpu)
		clock_gettime(cid, &c0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &k0);
	uint64_t count = 0, t0 = myco_now(), end = t0 + dur;
	struct epoll_event evs[NCONN];
	while (myco_now() < end) {
		int n = epoll_wait(ep, evs, NCONN, 10);
		for (int i = 0; i < n; i++)
			if (drain(&c[evs[i].data.u32], &count, NULL, true) != 0)
				goto out;
	}
	uint64_t wall = myco_now() - t0;
	rate = (double)count * 1e9 / (double)wall;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &k1);
	if (count)
		*cli_per_req = ((double)(k1.tv_sec - k0.tv_sec) * 1e9 +
				(double)(k1.tv_nsec - k0.tv_nsec)) / (double)count;
	if (have_cpu && count) {
		clock_gettime(cid, &c1);
		double ns = (double)(c1.tv_sec - c0.tv_sec) * 1e9 +
			    (double)(c1.tv_nsec - c0.tv_nsec);
		*cpu_per_req = ns / (double)count;
		*srv_busy = ns / (double)wall;
	}
out:
	close_all(c, NCONN);
	close(ep);
	return rate;
}

/* Open loop at rate req/s for dur ns; latencies into lat. */
static int run_fixed_rate(uint16_t port, double rate, uint64_t dur,
			  samples_t *lat)
{
	enum { NC = 16 };
	cconn_t c[NC];
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = -1;
	if (connect_all(c, NC, port, ep) != 0)
		goto out;
	uint64_t gap = (uint64_t)(1e9 / rate);
	uint64_t t0 = myco_now() + 1000000, next = t0, end = t0 + dur;
	uint64_t sent = 0, count = 0;
	struct epoll_event evs[NC];
	while (1) {
		uint64_t now = myco_now();
		while (next <= now && next < end) {
			if (send_req(&c[sent % NC], next) != 0)
				goto out;
			sent++;
			next += gap;
		}
		if (next >= end && count >= sent)
			break;
		if (now > end + 5000000000ull)
			goto out; /* answers lost */
		int n = epoll_wait(ep, evs, NC, 0);
		for (int i = 0; i < n; i++)
			if (drain(&c[evs[i].data.u32], &count, lat, false) != 0)
				goto out;
	}
	rc = 0;
out:
	close_all(c, NC);
	close(ep);
	return rc;
}

int bench_tcp(void)
{
	int reps = g_opt.quick ? 3 : 5;
	uint64_t dur = g_opt.quick ? 500000000ull : 1500000000ull;
	double rate = 20000; /* replaced by half the slowest maximum */
	double tput[NSYS][8], cpu[NSYS][8], cli[NSYS][8], busy[NSYS][8];
	double sleeps[NSYS][8] = { { 0 } }, iters[NSYS][8] = { { 0 } };
	samples_t lat[NSYS] = { 0 };
	int fail[NSYS] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	for (int k = 0; k < NSYS; k++)
		if (g_opt.tcp_system && strcmp(g_opt.tcp_system, g_sys[k]))
			fail[k] = 2; /* not selected (--system) */
	memset(g_req, 'r', sizeof(g_req));
	pin_cpu(g_opt.cpu_b);
	pthread_setname_np(pthread_self(), "load-client");
	/* phase 1: max throughput, alternated */
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < NSYS; k++) {
			server_t s;
			if (fail[k] == 2)
				continue;
			if (server_start(&s, k) != 0) {
				fail[k] = 1;
				continue;
			}
			cpu[k][r] = cli[k][r] = busy[k][r] = 0;
			tput[k][r] = run_throughput(s.port, dur, s.th, &cpu[k][r],
						    &cli[k][r], &busy[k][r]);
			if (tput[k][r] < 0)
				fail[k] = 1;
			server_stop(&s, k);
			double n = tput[k][r] * (double)dur / 1e9;
			if (IS_MYCO(k) && n > 0) {
				/* whole server life (connects too): approx */
				sleeps[k][r] = (double)s.st.sleeps / n;
				iters[k][r] = (double)s.st.iterations / n;
			}
		}
	}
	/* phase 2: fixed offered rate = half the slowest system's median
	 * maximum (so that no system is saturated), alternated */
	double slowest = 0;
	for (int k = 0; k < NSYS; k++) {
		double tmp[8];
		memcpy(tmp, tput[k], sizeof(tmp));
		double m = median_d(tmp, (size_t)reps);
		if (!fail[k] && (slowest == 0 || m < slowest))
			slowest = m;
	}
	if (slowest > 0)
		rate = slowest / 2;
	if (g_opt.tcp_rate > 0)
		rate = g_opt.tcp_rate; /* --rate */
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < NSYS; k++) {
			server_t s;
			if (fail[k] == 2)
				continue;
			if (fail[k] || server_start(&s, k) != 0) {
				fail[k] = 1;
				continue;
			}
			if (run_fixed_rate(s.port, rate, dur, &lat[k]) != 0)
				fail[k] = 1;
			server_stop(&s, k);
		}
	}
	cpu_set_t all;
	CPU_ZERO(&all);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);

	table_title("TCP request/response on loopback (64 B / 64 B)");
	table_line("server: 1 thread pinned to CPU %d; load generator on CPU %d; "
		   "%d runs per system, alternated\n\n", g_opt.cpu_a, g_opt.cpu_b, reps);
	table_line("| system | max req/s (median) | min | max | server CPU us/req "
		   "(min-max) | server busy | client CPU us/req | "
		   "p50 us @%.0f/s | p99 us | p99.9 us | samples |\n", rate);
	table_line("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
		   "| ---: | ---: |\n");
	double med[NSYS] = { 0 }, cpu_med[NSYS] = { 0 };
	for (int k = 0; k < NSYS; k++) {
		if (fail[k] == 2)
			continue;
		if (fail[k]) {
			table_line("| %s | failed | | | | | | | | | |\n", g_sys[k]);
			continue;
		}
		double mn = tput[k][0], mx = tput[k][0];
		for (int r = 1; r < reps; r++) {
			if (tput[k][r] < mn) mn = tput[k][r];
			if (tput[k][r] > mx) mx = tput[k][r];
		}
		med[k] = median_d(tput[k], (size_t)reps);
		uint64_t p50 = samples_pct(&lat[k], 0.5);
		uint64_t p99 = samples_pct(&lat[k], 0.99);
		uint64_t p999 = samples_pct(&lat[k], 0.999);
		double cpr = median_d(cpu[k], (size_t)reps);
		double cmn = cpu[k][0], cmx = cpu[k][reps - 1]; /* sorted */
		double clr = median_d(cli[k], (size_t)reps);
		double bsy = median_d(busy[k], (size_t)reps);
		cpu_med[k] = cpr;
		table_line("| %s | %.0f | %.0f | %.0f | %.2f (%.2f-%.2f) | %.0f %% | "
			   "%.2f | %.1f | %.1f | %.1f | %zu |\n",
			   g_sys[k], med[k], mn, mx, cpr / 1e3, cmn / 1e3,
			   cmx / 1e3, bsy * 100, clr / 1e3, p50 / 1e3,
			   p99 / 1e3, p999 / 1e3, lat[k].n);
		char ex[128];
		snprintf(ex, sizeof(ex), ",\"size\":64,\"conns\":%d,\"reps\":%d",
			 NCONN, reps);
		emit("rt.tcp.max", g_sys[k], "throughput", med[k], "req/s", ex);
		emit("rt.tcp.max", g_sys[k], "min", mn, "req/s", ex);
		emit("rt.tcp.max", g_sys[k], "max", mx, "req/s", ex);
		emit("rt.tcp.max", g_sys[k], "cpu_per_req", cpr, "ns", ex);
		emit("rt.tcp.max", g_sys[k], "client_cpu_per_req", clr, "ns", ex);
		emit("rt.tcp.max", g_sys[k], "server_busy", bsy, "fraction", ex);
		snprintf(ex, sizeof(ex), ",\"size\":64,\"rate\":%.0f,\"samples\":%zu",
			 rate, lat[k].n);
		emit("rt.tcp.fixed", g_sys[k], "p50", (double)p50, "ns", ex);
		emit("rt.tcp.fixed", g_sys[k], "p99", (double)p99, "ns", ex);
		emit("rt.tcp.fixed", g_sys[k], "p999", (double)p999, "ns", ex);
		samples_free(&lat[k]);
	}
	for (int k = 0; k < NSYS; k++) {
		if (!IS_MYCO(k) || fail[k])
			continue;
		double sl = median_d(sleeps[k], (size_t)reps);
		double it = median_d(iters[k], (size_t)reps);
		table_line("%s loop per request (max-throughput runs, median): "
			   "%.3f iterations, %.3f blocking io_uring_enter\n",
			   g_sys[k], it, sl);
		char ex[128];
		snprintf(ex, sizeof(ex), ",\"size\":64,\"conns\":%d,\"reps\":%d",
			 NCONN, reps);
		emit("rt.tcp.max", g_sys[k], "loop_sleeps_per_req", sl, "1", ex);
		emit("rt.tcp.max", g_sys[k], "loop_iterations_per_req", it, "1", ex);
	}
	if (med[SYS_MYCO] > 0 && med[SYS_EPOLL] > 0)
		table_line("\nthroughput myco / epoll = %.2fx (aim >= 1), "
			   "myco / libuv = %.2fx\n", med[SYS_MYCO] / med[SYS_EPOLL],
			   med[SYS_UV] > 0 ? med[SYS_MYCO] / med[SYS_UV] : 0);
	if (cpu_med[SYS_MYCO] > 0 && cpu_med[SYS_EPOLL] > 0)
		table_line("server CPU per request myco / epoll = %.2fx, "
			   "myco / libuv = %.2fx (lower is better; less "
			   "sensitive to other load than req/s)\n",
			   cpu_med[SYS_MYCO] / cpu_med[SYS_EPOLL],
			   cpu_med[SYS_UV] > 0 ? cpu_med[SYS_MYCO] / cpu_med[SYS_UV] : 0);
	return 0;
}
