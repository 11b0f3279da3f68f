/*
 * test_rt_server.c: integration test of a multi-loop TCP server as the
 * broker builds it: a group of loops (one per CPU, pinned), one
 * SO_REUSEPORT listener per loop, a coroutine per connection with
 * length-prefixed request/response and timeouts, a shared event that a
 * "publish" request notifies and "wait" requests long-poll on (across
 * loops), and a clean group stop.  Clients are plain blocking sockets on
 * separate threads (the real thing a broker sees), not the runtime.
 * Exit status 0 on success; prints what failed otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "myco/rt.h"

#define SEC 1000000000ll
#ifdef MYCO_SANITIZED
#define NCLIENT 4
#define NREQ 200
#else
#define NCLIENT 8
#define NREQ 2000
#endif

static myco_group_t *g_group;
static uint16_t g_port;
static myco_event_t *g_ev;
static atomic_uint_fast64_t g_published;
static atomic_int g_conns[64];
static atomic_int g_fail;

/* request: u32 len, u8 op ('E' echo, 'P' publish, 'W' wait), payload */
static int conn_co(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned idx = myco_loop_index(myco_loop_current());
	atomic_fetch_add(&g_conns[idx], 1);
	for (;;) {
		uint32_t len;
		ssize_t n = myco_recv(fd, &len, 4, MSG_WAITALL, 30 * SEC);
		if (n != 4)
			break;
		len = ntohl(len);
		if (len < 1 || len > 4096)
			break;
		char buf[4100];
		size_t got = 0;
		while (got < len) {
			n = myco_recv(fd, buf + got, len - got, 0, 30 * SEC);
			if (n <= 0)
				goto out;
			got += (size_t)n;
		}
		if (buf[0] == 'P') {
			atomic_fetch_add(&g_published, 1);
			myco_event_notify(g_ev);
		} else if (buf[0] == 'W') {
			/* long-poll until something was published after the
			 * value the client saw */
			uint64_t want = 0;
			memcpy(&want, buf + 1, sizeof(want));
			for (;;) {
				uint64_t s = myco_event_seq(g_ev);
				if (atomic_load(&g_published) >= want)
					break;
				if (myco_event_wait(g_ev, s, 10 * SEC) != 0)
					goto out;
			}
		}
		uint32_t hdr = htonl(len);
		struct iovec iov[2] = { { &hdr, 4 }, { buf, len } };
		if (myco_writev_all(fd, iov, 2, 30 * SEC) != (ssize_t)(4 + len))
			break;
	}
out:
	close(fd);
	return 0;
}

static int acceptor_co(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int c = myco_accept(lfd, NULL, NULL, SOCK_CLOEXEC, MYCO_FOREVER);
		if (c < 0)
			break; /* cancelled at stop */
		int one = 1;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (myco_spawn(myco_loop_current(), NULL, conn_co,
			       (void *)(intptr_t)c, NULL) < 0)
			close(c);
	}
	close(lfd);
	return 0;
}

static void loop_init(myco_loop_t *l, unsigned idx, void *arg)
{
	(void)idx;
	(void)arg;
	int lfd = myco_tcp_listen("127.0.0.1", g_port, 128, true);
	if (lfd < 0) {
		fprintf(stderr, "listen: %s\n", myco_strerror(lfd));
		atomic_store(&g_fail, 1);
		return;
	}
	myco_spawn(l, NULL, acceptor_co, (void *)(intptr_t)lfd, NULL);
}

static int connect_plain(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(g_port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = 0; i < 100; i++) {
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		usleep(10000);
	}
	close(fd);
	return -1;
}

static int roundtrip(int fd, const char *req, uint32_t len, char *rep)
{
	uint32_t hdr = htonl(len);
	if (send(fd, &hdr, 4, MSG_NOSIGNAL) != 4 ||
	    send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	uint32_t rl;
	if (recv(fd, &rl, 4, MSG_WAITALL) != 4 || ntohl(rl) != len)
		return -1;
	if (recv(fd, rep, len, MSG_WAITALL) != (ssize_t)len)
		return -1;
	return 0;
}

static void *client(void *arg)
{
	long id = (long)arg;
	int fd = connect_plain();
	if (fd < 0)
		return (void *)1;
	char req[256], rep[256];
	for (int i = 0; i < NREQ; i++) {
		int len = snprintf(req, sizeof(req), "E client %ld req %d", id, i);
		if (roundtrip(fd, req, (uint32_t)len, rep) || memcmp(req, rep, (size_t)len)) {
			close(fd);
			return (void *)2;
		}
	}
	close(fd);
	return NULL;
}

static void *waiter(void *arg)
{
	(void)arg;
	int fd = connect_plain();
	if (fd < 0)
		return (void *)1;
	char req[9] = { 'W' }, rep[9];
	uint64_t want = 3;
	memcpy(req + 1, &want, 8);
	void *rc = roundtrip(fd, req, 9, rep) ? (void *)3 : NULL;
	close(fd);
	return rc;
}

int main(void)
{
	/* pick a free port, then let every loop bind it with SO_REUSEPORT */
	int probe = myco_tcp_listen("127.0.0.1", 0, 1, true);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	getsockname(probe, (struct sockaddr *)&a, &al);
	g_port = ntohs(a.sin_port);
	close(probe);

	if (myco_event_create(&g_ev) || myco_group_create(&g_group, NULL)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	unsigned nl = myco_group_size(g_group);
	if (myco_group_start(g_group, loop_init, NULL)) {
		fprintf(stderr, "start failed\n");
		return 1;
	}
	int failed = 0;
	pthread_t w[4], c[NCLIENT];
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, waiter, NULL);
	for (long i = 0; i < NCLIENT; i++)
		pthread_create(&c[i], NULL, client, (void *)i);
	for (int i = 0; i < NCLIENT; i++) {
		void *r;
		pthread_join(c[i], &r);
		if (r) {
			fprintf(stderr, "client %d failed (%ld)\n", i, (long)r);
			failed = 1;
		}
	}
	/* three publishes release the long-polling waiters */
	int pf = connect_plain();
	char rep[4];
	for (int i = 0; i < 3; i++)
		if (pf < 0 || roundtrip(pf, "P", 1, rep))
			failed = 1;
	if (pf >= 0)
		close(pf);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(w[i], &r);
		if (r) {
			fprintf(stderr, "waiter %d failed (%ld)\n", i, (long)r);
			failed = 1;
		}
	}
	myco_group_stop(g_group);
	if (myco_group_join(g_group) != 0)
		failed = 1;
	int total = 0;
	for (unsigned i = 0; i < nl; i++) {
		myco_loop_stats_t st;
		myco_loop_stats(myco_group_loop(g_group, i), &st);
		printf("loop %u: connections %d switches %llu sleeps %llu\n", i,
		       atomic_load(&g_conns[i]),
		       (unsigned long long)st.switches,
		       (unsigned long long)st.sleeps);
		total += atomic_load(&g_conns[i]);
	}
	if (total != NCLIENT + 4 + 1) {
		fprintf(stderr, "expected %d connections, saw %d\n", NCLIENT + 5, total);
		failed = 1;
	}
	myco_group_destroy(g_group);
	myco_event_destroy(g_ev);
	if (atomic_load(&g_fail))
		failed = 1;
	printf(failed ? "FAIL\n" : "OK\n");
	return failed;
}
