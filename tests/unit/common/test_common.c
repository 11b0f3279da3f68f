/* test_common.c: unit tests for myco/common.h (error strings, version,
 * clock) and the private foundation lib/common/myco_int.h (full reads and
 * writes over pipes, socketpairs and non-blocking fds; futex wait/wake;
 * the sched_setattr attribute struct). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "myco/common.h"
#include "myco_int.h"

static void test_strerror_errno(void **state)
{
	(void)state;
	assert_string_equal(myco_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(myco_strerror(ENOENT), strerror(ENOENT));
}

static void test_strerror_myco(void **state)
{
	(void)state;
	assert_non_null(strstr(myco_strerror(-MYCO_EBROKEN), "broken"));
	assert_string_equal(myco_strerror(-(MYCO_ERR_BASE + 99)), "unknown Myco error");
	assert_string_equal(myco_strerror(0), "success");
}

static void test_version(void **state)
{
	(void)state;
	assert_string_equal(myco_version(), "0.1.0");
}

static void test_now_monotonic(void **state)
{
	(void)state;
	uint64_t a = myco_now();
	struct timespec ts = { 0, 1000000 };
	nanosleep(&ts, NULL);
	uint64_t b = myco_now();
	assert_true(a > 0);
	assert_true(b >= a + 1000000);
}

/* A writer thread pushes BIG bytes through fd in small pieces so the
 * reader sees short counts; the reader must get all of them in order. */
#define BIG (1u << 20)

struct pump {
	int fd;
	int rc;
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	unsigned char *b = malloc(BIG);

	for (size_t i = 0; i < BIG; i++)
		b[i] = (unsigned char)(i * 7u);
	p->rc = myco__write_full(p->fd, b, BIG);
	free(b);
	return NULL;
}

static void check_full_roundtrip(int rfd, int wfd)
{
	pthread_t t;
	struct pump p = { .fd = wfd, .rc = 1 };
	unsigned char *b = malloc(BIG);

	assert_int_equal(pthread_create(&t, NULL, pump_main, &p), 0);
	assert_int_equal(myco__read_full(rfd, b, BIG), 0);
	pthread_join(t, NULL);
	assert_int_equal(p.rc, 0);
	for (size_t i = 0; i < BIG; i++)
		if (b[i] != (unsigned char)(i * 7u))
			fail_msg("byte %zu differs", i);
	free(b);
}

static void test_full_pipe(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	check_full_roundtrip(p[0], p[1]);
	/* non-blocking both ends: EAGAIN is waited out, not returned */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	check_full_roundtrip(p[0], p[1]);
	close(p[0]);
	close(p[1]);
}

static void test_full_socket(void **state)
{
	int s[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	check_full_roundtrip(s[0], s[1]);
	close(s[0]);
	close(s[1]);
}

static void test_full_eof_and_errors(void **state)
{
	int p[2], s[2];
	char buf[8];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	close(p[1]);
	/* end of file after 3 of 8 bytes: -EPIPE, the 3 bytes are in buf */
	assert_int_equal(myco__read_full(p[0], buf, sizeof(buf)), -EPIPE);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(myco__read_full(p[0], buf, 0), 0);
	close(p[0]);
	assert_int_equal(myco__read_full(-1, buf, 1), -EBADF);
	assert_int_equal(myco__write_full(-1, buf, 1), -EBADF);

	/* a closed socket peer, SIGPIPE ignored: -EPIPE */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	close(s[1]);
	assert_int_equal(myco__write_full(s[0], "x", 1), -EPIPE);
	close(s[0]);
	signal(SIGPIPE, SIG_DFL);
}

static _Atomic uint32_t fut_word;

static void *fut_waker(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 20 * 1000000 };
	nanosleep(&ts, NULL);
	atomic_store(&fut_word, 1);
	myco__futex_wake((uint32_t *)&fut_word, INT_MAX);
	return NULL;
}

static void test_futex(void **state)
{
	pthread_t t;

	(void)state;
	atomic_store(&fut_word, 0);
	/* value differs on entry */
	assert_int_equal(myco__futex_wait((uint32_t *)&fut_word, 5, MYCO__FOREVER_NS),
			 -EAGAIN);
	/* nobody wakes: the (relative) time limit expires */
	uint64_t t0 = myco_now();
	assert_int_equal(myco__futex_wait((uint32_t *)&fut_word, 0, 2000000),
			 -ETIMEDOUT);
	assert_true(myco_now() - t0 >= 2000000);
	/* nobody sleeps: wake returns 0 woken */
	assert_int_equal(myco__futex_wake((uint32_t *)&fut_word, 1), 0);
	/* a thread changes the word and wakes us */
	assert_int_equal(pthread_create(&t, NULL, fut_waker, NULL), 0);
	while (atomic_load(&fut_word) == 0) {
		int r = myco__futex_wait((uint32_t *)&fut_word, 0, MYCO__FOREVER_NS);
		assert_true(r == 0 || r == -EAGAIN || r == -EINTR);
	}
	pthread_join(t, NULL);
}

static void test_sched_attr(void **state)
{
	struct myco__sched_attr a = { .sched_policy = 0 /* SCHED_OTHER */ };

	(void)state;
	/* SCHED_OTHER for ourselves is always allowed and changes nothing */
	assert_int_equal(myco__sched_setattr(0, &a, 0), 0);
	assert_int_equal(a.size, 48);
	/* a bad policy is refused with the kernel's errno */
	a.sched_policy = 77;
	assert_int_equal(myco__sched_setattr(0, &a, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_errno),
		cmocka_unit_test(test_strerror_myco),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_now_monotonic),
		cmocka_unit_test(test_full_pipe),
		cmocka_unit_test(test_full_socket),
		cmocka_unit_test(test_full_eof_and_errors),
		cmocka_unit_test(test_futex),
		cmocka_unit_test(test_sched_attr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
