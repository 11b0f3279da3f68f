/*
 * test_io.c: coroutine I/O on loopback TCP and pipes: an echo server with
 * many concurrent clients (accept, recv, send, write_all), readv/writev,
 * timeouts on read/accept/poll, connection refused, cancellation of a
 * blocked recv, large transfers with short writes, pread/pwrite, sendfile
 * (file -> socket through splice) and splice, SIGPIPE-free sends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/rt.h"

#define MS 1000000ll
#define SEC 1000000000ll

#ifdef MYCO_SANITIZED
#define NCLIENTS 20
#define NMSG 20
#else
#define NCLIENTS 64
#define NMSG 100
#endif

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &al);
	return ntohs(a.sin_port);
}

typedef struct {
	int lfd;
	uint16_t port;
	int served;
	int clients_ok;
	int nclients;
} echo_t;

static int echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	for (;;) {
		ssize_t n = myco_recv(fd, buf, sizeof(buf), 0, 10 * SEC);
		if (n <= 0)
			break;
		if (myco_write_all(fd, buf, (size_t)n, 10 * SEC) != n)
			break;
	}
	close(fd);
	return 0;
}

static int echo_server(void *arg)
{
	echo_t *e = arg;
	while (e->served < e->nclients) {
		int c = myco_accept(e->lfd, NULL, NULL, SOCK_CLOEXEC, 10 * SEC);
		if (c < 0)
			return c;
		e->served++;
		if (myco_spawn(myco_loop_current(), NULL, echo_conn,
			       (void *)(intptr_t)c, NULL) < 0)
			close(c);
	}
	return 0;
}

static int echo_client(void *arg)
{
	echo_t *e = arg;
	int fd = myco_tcp_connect("127.0.0.1", e->port, 5 * SEC);
	if (fd < 0)
		return fd;
	int ok = 1;
	for (int i = 0; i < NMSG && ok; i++) {
		char out[64], in[64];
		int len = snprintf(out, sizeof(out), "msg %d from %d", i, fd);
		struct iovec iov[2] = { { out, 4 }, { out + 4, (size_t)len - 4 } };
		if (myco_writev_all(fd, iov, 2, 5 * SEC) != len) {
			ok = 0;
			break;
		}
		size_t got = 0;
		while (got < (size_t)len) {
			struct iovec riov[2] = { { in + got, 1 },
						 { in + got + 1, (size_t)len - got - 1 } };
			ssize_t n = myco_readv(fd, riov, 2, 5 * SEC);
			if (n <= 0) {
				ok = 0;
				break;
			}
			got += (size_t)n;
		}
		if (ok && memcmp(in, out, (size_t)len) != 0)
			ok = 0;
	}
	close(fd);
	e->clients_ok += ok;
	return ok ? 0 : -EIO;
}

static void test_echo_many(void **state)
{
	(void)state;
	echo_t e = { 0 };
	e.nclients = NCLIENTS;
	e.lfd = myco_tcp_listen("127.0.0.1", 0, 128, false);
	assert_true(e.lfd >= 0);
	e.port = port_of(e.lfd);
	myco_loop_t *l;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, NULL, echo_server, &e, NULL), 0);
	for (int i = 0; i < NCLIENTS; i++)
		assert_int_equal(myco_spawn(l, NULL, echo_client, &e, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(e.served, NCLIENTS);
	assert_int_equal(e.clients_ok, NCLIENTS);
	myco_loop_destroy(l);
	close(e.lfd);
}

/* ---- timeouts, refused, cancel --------------------------------------- */

static int timeouts_co(void *arg)
{
	(void)arg;
	int p[2];
	char b;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(myco_read(p[0], &b, 1, 2 * MS), -ETIMEDOUT);
	assert_int_equal(myco_read(p[0], &b, 1, 0), -ETIMEDOUT);
	assert_int_equal(myco_poll(p[0], POLLIN, 1 * MS), -ETIMEDOUT);
	assert_int_equal(write(p[1], "z", 1), 1);
	int rv = myco_poll(p[0], POLLIN, SEC);
	assert_true(rv > 0 && (rv & POLLIN));
	assert_int_equal(myco_read(p[0], &b, 1, 0), 1);
	assert_int_equal(b, 'z');
	int lfd = myco_tcp_listen("127.0.0.1", 0, 4, false);
	assert_true(lfd >= 0);
	assert_int_equal(myco_accept(lfd, NULL, NULL, 0, 2 * MS), -ETIMEDOUT);
	uint16_t port = port_of(lfd);
	close(lfd);
	/* nobody listens any more */
	assert_int_equal(myco_tcp_connect("127.0.0.1", port, SEC), -ECONNREFUSED);
	assert_int_equal(myco_tcp_connect("not-an-address", port, SEC), -EINVAL);
	close(p[0]);
	close(p[1]);
	return 0;
}

static void test_timeouts(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_co_t *c;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &c, timeouts_co, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -1;
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
}

static int blocked_recv(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char b[16];
	return (int)myco_recv(fd, b, sizeof(b), 0, MYCO_FOREVER);
}

static int cancel_io_co(void *arg)
{
	(void)arg;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	myco_co_t *c;
	assert_int_equal(myco_spawn(myco_loop_current(), &c, blocked_recv,
				    (void *)(intptr_t)sv[0], NULL), 0);
	myco_sleep_ns(1 * MS);
	assert_int_equal(myco_cancel(c), 0);
	int r = 0;
	assert_int_equal(myco_join(c, &r, SEC), 0);
	assert_int_equal(r, -ECANCELED);
	/* data sent afterwards is still there for the next reader */
	assert_int_equal(write(sv[1], "abc", 3), 3);
	char b[4];
	assert_int_equal(myco_recv(sv[0], b, sizeof(b), 0, SEC), 3);
	/* peer closed: send gets -EPIPE, not SIGPIPE */
	close(sv[1]);
	ssize_t n = 0;
	for (int i = 0; i < 10 && n >= 0; i++)
		n = myco_send(sv[0], "x", 1, 0, SEC);
	assert_true(n == -EPIPE || n == -ECONNRESET);
	close(sv[0]);
	return 0;
}

static void test_cancel_io(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_co_t *c;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &c, cancel_io_co, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -1;
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
}

/* ---- big transfers, files, sendfile ------------------------------------ */

#define BIG (4u << 20)

static int big_writer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (char)(i * 131 + 7);
	ssize_t n = myco_write_all(fd, buf, BIG, 30 * SEC);
	free(buf);
	shutdown(fd, SHUT_WR);
	return n == (ssize_t)BIG ? 0 : -1;
}

static int big_reader(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[65536];
	size_t total = 0;
	for (;;) {
		ssize_t n = myco_read(fd, buf, sizeof(buf), 30 * SEC);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (char)((total + (size_t)i) * 131 + 7))
				return -2;
		total += (size_t)n;
	}
	return total == BIG ? 0 : -3;
}

static void test_big_transfer(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	myco_loop_t *l;
	myco_co_t *w, *r;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &w, big_writer, (void *)(intptr_t)sv[0], NULL), 0);
	assert_int_equal(myco_spawn(l, &r, big_reader, (void *)(intptr_t)sv[1], NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int rw = -9, rr = -9;
	assert_int_equal(myco_join(w, &rw, 0), 0);
	assert_int_equal(myco_join(r, &rr, 0), 0);
	assert_int_equal(rw, 0);
	assert_int_equal(rr, 0);
	myco_loop_destroy(l);
	close(sv[0]);
	close(sv[1]);
}

typedef struct {
	int lfd;
	int file;
	size_t size;
	int result;
} sf_t;

static int sf_server(void *arg)
{
	sf_t *s = arg;
	int c = myco_accept(s->lfd, NULL, NULL, SOCK_CLOEXEC, 10 * SEC);
	if (c < 0)
		return c;
	off_t off = 1000;
	ssize_t n = myco_sendfile(c, s->file, &off, s->size - 1000, 10 * SEC);
	close(c);
	if (n != (ssize_t)(s->size - 1000) || off != (off_t)s->size)
		return -1;
	return 0;
}

static int sf_client(void *arg)
{
	sf_t *s = arg;
	int fd = myco_tcp_connect("127.0.0.1", port_of(s->lfd), SEC);
	if (fd < 0)
		return fd;
	size_t total = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = myco_recv(fd, buf, sizeof(buf), 0, 10 * SEC);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			size_t pos = 1000 + total + (size_t)i;
			if (buf[i] != (char)(pos % 251)) {
				close(fd);
				return -2;
			}
		}
		total += (size_t)n;
	}
	close(fd);
	return total == s->size - 1000 ? 0 : -3;
}

static int file_co(void *arg)
{
	sf_t *s = arg;
	/* pwrite then pread the file through the ring */
	char *buf = malloc(s->size);
	for (size_t i = 0; i < s->size; i++)
		buf[i] = (char)(i % 251);
	size_t done = 0;
	while (done < s->size) {
		ssize_t n = myco_pwrite(s->file, buf + done, s->size - done,
					(off_t)done, SEC);
		if (n <= 0) {
			free(buf);
			return -1;
		}
		done += (size_t)n;
	}
	if (myco_fsync(s->file, true, 10 * SEC) != 0 ||
	    myco_fsync(s->file, false, 10 * SEC) != 0 ||
	    myco_fsync(-1, true, SEC) != -EBADF) {
		free(buf);
		return -5;
	}
	char chk[100];
	ssize_t n = myco_pread(s->file, chk, sizeof(chk), 5000, SEC);
	int ok = n == 100 && memcmp(chk, buf + 5000, 100) == 0;
	free(buf);
	if (!ok)
		return -2;
	myco_co_t *srv, *cli;
	myco_spawn(myco_loop_current(), &srv, sf_server, s, NULL);
	myco_spawn(myco_loop_current(), &cli, sf_client, s, NULL);
	int r1 = -9, r2 = -9;
	myco_join(srv, &r1, MYCO_FOREVER);
	myco_join(cli, &r2, MYCO_FOREVER);
	return r1 == 0 && r2 == 0 ? 0 : -10 + r1 * 2 + r2;
}

static void test_file_sendfile(void **state)
{
	(void)state;
	char path[] = "/tmp/myco-rt-test-XXXXXX";
	sf_t s = { 0 };
	s.file = mkstemp(path);
	assert_true(s.file >= 0);
	unlink(path);
	s.size = 3u << 20;
	s.lfd = myco_tcp_listen("127.0.0.1", 0, 4, false);
	assert_true(s.lfd >= 0);
	myco_loop_t *l;
	myco_co_t *c;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &c, file_co, &s, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -99;
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
	close(s.lfd);
	close(s.file);
}

/* ---- pipes: write_all on a non-socket, splice, sendv, named host ------- */

static int pipe_co(void *arg)
{
	(void)arg;
	int p[2], q[2], sv[2];
	if (pipe(p) || pipe(q) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	/* write_all on a pipe: send() fails with ENOTSOCK, write() is used */
	if (myco_write_all(p[1], "hello pipe", 10, SEC) != 10)
		return -2;
	/* splice pipe -> pipe through io_uring */
	if (myco_splice(p[0], -1, q[1], -1, 10, 0, SEC) != 10)
		return -3;
	char b[16] = { 0 };
	if (myco_read(q[0], b, sizeof(b), SEC) != 10 || memcmp(b, "hello pipe", 10))
		return -4;
	/* sendv: gathered, MSG_NOSIGNAL */
	struct iovec iov[3] = { { "ab", 2 }, { "", 0 }, { "cde", 3 } };
	if (myco_sendv(sv[0], iov, 3, SEC) != 5)
		return -5;
	if (myco_recv(sv[1], b, sizeof(b), MSG_WAITALL, SEC) != 5 ||
	    memcmp(b, "abcde", 5))
		return -6;
	/* writev_all with many pieces */
	struct iovec many[64];
	for (int i = 0; i < 64; i++) {
		many[i].iov_base = "x";
		many[i].iov_len = 1;
	}
	if (myco_writev_all(sv[0], many, 64, SEC) != 64)
		return -7;
	if (myco_writev_all(sv[0], many, 65, SEC) != -EINVAL)
		return -8;
	char big[64];
	if (myco_recv(sv[1], big, 64, MSG_WAITALL, SEC) != 64)
		return -9;
	close(p[0]); close(p[1]); close(q[0]); close(q[1]);
	close(sv[0]); close(sv[1]);
	return 0;
}

static void test_pipes_splice_sendv(void **state)
{
	(void)state;
	myco_loop_t *l;
	myco_co_t *c;
	assert_int_equal(myco_loop_create(&l, NULL), 0);
	assert_int_equal(myco_spawn(l, &c, pipe_co, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	int r = -99;
	assert_int_equal(myco_join(c, &r, 0), 0);
	assert_int_equal(r, 0);
	myco_loop_destroy(l);
	int fd = myco_tcp_listen("localhost", 0, 4, true);
	assert_true(fd >= 0);
	close(fd);
}

/* ---- many operations at once: SQ refills, CQ overflow ------------------ */

#ifdef MYCO_SANITIZED
#define NPOLL 300
#else
#define NPOLL 1500
#endif

static int g_pollfd;
static int g_timed_out, g_ready;

static int poller(void *arg)
{
	(void)arg;
	/* all park at once on one pipe (2 SQEs each with the timeout): the
	 * 256-entry SQ is submitted many times within one batch, and the
	 * completions (2 per op) outnumber the CQ, so the kernel's overflow
	 * list must be flushed too */
	int r = myco_poll(g_pollfd, POLLIN, 5 * MS);
	if (r == -ETIMEDOUT)
		g_timed_out++;
	else if (r > 0)
		g_ready++;
	return 0;
}

static void test_many_ops(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	g_pollfd = p[0];
	g_timed_out = g_ready = 0;
	myco_loop_t *l;
	myco_loop_opts_t o = { .stack_size = 16 * 1024 };
	assert_int_equal(myco_loop_create(&l, &o), 0);
	for (int i = 0; i < NPOLL; i++)
		assert_int_equal(myco_spawn(l, NULL, poller, NULL, NULL), 0);
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(g_timed_out + g_ready, NPOLL);
	assert_int_equal(g_timed_out, NPOLL);
	/* and again with data: every poller sees POLLIN */
	assert_int_equal(write(p[1], "x", 1), 1);
	for (int i = 0; i < NPOLL; i++)
		assert_int_equal(myco_spawn(l, NULL, poller, NULL, NULL), 0);
	g_timed_out = g_ready = 0;
	assert_int_equal(myco_loop_run(l), 0);
	assert_int_equal(g_ready, NPOLL);
	myco_loop_stats_t st;
	myco_loop_stats(l, &st);
	assert_int_equal(st.live, 0);
	assert_int_equal(st.io_pending, 0);
	myco_loop_destroy(l);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* prove sends do not raise it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_many),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_cancel_io),
		cmocka_unit_test(test_big_transfer),
		cmocka_unit_test(test_file_sendfile),
		cmocka_unit_test(test_pipes_splice_sendv),
		cmocka_unit_test(test_many_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
