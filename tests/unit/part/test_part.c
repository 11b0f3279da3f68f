/*
 * test_part.c: unit tests of libmyco's partition side (lib/part) against
 * real channels and a real control region.  libmyco keeps per-process state
 * (myco_init() runs once), so each scenario runs in a forked child that
 * reports through its exit status and the shared control region.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "myco_int.h"
#include "part_abi.h"

static struct myco__part_ctl *ctl_new(int *fd, uint32_t state)
{
	*fd = memfd_create("test-ctl", 0);
	assert_true(*fd >= 0);
	assert_int_equal(ftruncate(*fd, MYCO__PART_CTL_SIZE), 0);
	struct myco__part_ctl *c = mmap(NULL, MYCO__PART_CTL_SIZE, PROT_READ | PROT_WRITE,
					MAP_SHARED, *fd, 0);
	assert_true(c != MAP_FAILED);
	c->magic = MYCO__PART_CTL_MAGIC;
	c->version = MYCO__PART_CTL_VERSION;
	c->size = MYCO__PART_CTL_SIZE;
	c->state = state;
	return c;
}

static int wait_child(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}


/* A queue channel; the manifest grants its producer end as "out". */
static void make_manifest(myco_chan_owner_t **o, char *caps, size_t cap)
{
	myco_chan_config_t cfg;
	int fds[MYCO_CHAN_MAX_FDS];
	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = 16;
	cfg.depth = 8;
	assert_int_equal(myco_chan_create(&cfg, o), 0);
	int n = myco_chan_cap_fds(*o, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
	assert_true(n > 0);
	struct myco__cap c = { .kind = MYCO__CAP_CHAN, .name = "out",
			       .role = MYCO_CHAN_PRODUCER, .nfds = (size_t)n };
	for (int i = 0; i < n; i++) {
		fcntl(fds[i], F_SETFD, 0);      /* inherited by the child */
		c.fds[i] = fds[i];
	}
	caps[0] = 0;
	assert_int_equal(myco__caps_append(caps, cap, &c), 0);
}

/* myco__caps_parse callback: collect entries into an array. */
struct got {
	struct myco__cap e[8];
	size_t n;
};

static int collect(const struct myco__cap *c, void *arg)
{
	struct got *g = arg;
	if (g->n >= 8)
		return -ENOSPC;
	g->e[g->n++] = *c;
	return 0;
}

/* The one writer and the one parser of the manifest agree, entry for
 * entry, on every kind; the writer refuses what the grammar cannot carry
 * and leaves the buffer as it was when an entry does not fit. */
static void test_caps_writer_parser(void **state)
{
	(void)state;
	char buf[256] = "";
	struct myco__cap in[4] = {
		{ .kind = MYCO__CAP_CHAN, .name = "raw", .role = MYCO_CHAN_CONSUMER,
		  .fds = { 5, 6, 7, 8 }, .nfds = 4 },
		{ .kind = MYCO__CAP_CHAN, .name = "cooked", .role = MYCO_CHAN_PRODUCER,
		  .index = 3, .fds = { 9 }, .nfds = 1 },
		{ .kind = MYCO__CAP_PORT, .port = 8080, .fds = { 13 }, .nfds = 1 },
		{ .kind = MYCO__CAP_TRACE_RING, .fds = { 14 }, .nfds = 1 },
	};
	for (int i = 0; i < 4; i++)
		assert_int_equal(myco__caps_append(buf, sizeof(buf), &in[i]), 0);
	assert_string_equal(buf, "raw:2:0:5,6,7,8;cooked:1:3:9;tcp/8080:13;trace/ring:14");
	struct got g = { .n = 0 };
	assert_int_equal(myco__caps_parse(buf, collect, &g), 4);
	assert_int_equal(g.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g.e[i].kind, in[i].kind);
		assert_string_equal(g.e[i].name, in[i].name);
		assert_int_equal(g.e[i].role, in[i].role);
		assert_int_equal(g.e[i].index, in[i].index);
		assert_int_equal(g.e[i].port, in[i].port);
		assert_int_equal(g.e[i].nfds, in[i].nfds);
		assert_memory_equal(g.e[i].fds, in[i].fds, in[i].nfds * sizeof(int));
	}
	/* empty manifests */
	assert_int_equal(myco__caps_parse(NULL, collect, &g), 0);
	assert_int_equal(myco__caps_parse("", collect, &g), 0);
	/* the callback's verdict stops the parse */
	g.n = 8;
	assert_int_equal(myco__caps_parse(buf, collect, &g), -ENOSPC);

	/* entries the grammar cannot carry */
	struct myco__cap bad[] = {
		{ .kind = MYCO__CAP_CHAN, .name = "", .role = 1, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a:b", .role = 1, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a;b", .role = 1, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "tcp/1", .role = 1, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a", .role = 0, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a", .role = 7, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a", .role = 1, .nfds = 0 },
		{ .kind = MYCO__CAP_CHAN, .name = "a", .role = 1, .nfds = MYCO_CHAN_MAX_FDS + 1 },
		{ .kind = MYCO__CAP_CHAN, .name = "a", .role = 1, .fds = { -1 }, .nfds = 1 },
		{ .kind = MYCO__CAP_PORT, .port = 0, .fds = { 3 }, .nfds = 1 },
		{ .kind = MYCO__CAP_PORT, .port = 80, .fds = { 3, 4 }, .nfds = 2 },
		{ .kind = (enum myco__cap_kind)9, .fds = { 3 }, .nfds = 1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char b[64] = "x:1:0:3";
		assert_int_equal(myco__caps_append(b, sizeof(b), &bad[i]), -EINVAL);
		assert_string_equal(b, "x:1:0:3");
	}
	/* too long: -E2BIG, buffer unchanged */
	char small[16] = "x:1:0:3";
	assert_int_equal(myco__caps_append(small, sizeof(small), &in[0]), -E2BIG);
	assert_string_equal(small, "x:1:0:3");
	struct myco__cap many = { .kind = MYCO__CAP_CHAN, .name = "m", .role = 1,
				  .nfds = MYCO_CHAN_MAX_FDS };
	for (size_t i = 0; i < many.nfds; i++)
		many.fds[i] = 1000 + (int)i;
	char big[1024] = "";
	assert_int_equal(myco__caps_append(big, sizeof(big), &many), 0);
	g.n = 0;
	assert_int_equal(myco__caps_parse(big, collect, &g), 1);
	assert_int_equal(g.e[0].nfds, MYCO_CHAN_MAX_FDS);
	assert_int_equal(g.e[0].fds[MYCO_CHAN_MAX_FDS - 1], 1000 + MYCO_CHAN_MAX_FDS - 1);
	/* one fd more than a capability may carry is malformed */
	size_t k = strlen(big);
	snprintf(big + k, sizeof(big) - k, ",7");
	assert_int_equal(myco__caps_parse(big, collect, &g), -EINVAL);

	/* io_uring rings: 1..MYCO__URING_MAX fds */
	struct myco__cap ur = { .kind = MYCO__CAP_URING, .fds = { 20, 21, 22 }, .nfds = 3 };
	char ub[512] = "tcp/80:3";
	assert_int_equal(myco__caps_append(ub, sizeof(ub), &ur), 0);
	assert_string_equal(ub, "tcp/80:3;uring/rings:20,21,22");
	g.n = 0;
	assert_int_equal(myco__caps_parse(ub, collect, &g), 2);
	assert_int_equal(g.e[1].kind, MYCO__CAP_URING);
	assert_int_equal(g.e[1].nfds, 3);
	assert_int_equal(g.e[1].fds[2], 22);
	ur.nfds = 0;
	assert_int_equal(myco__caps_append(ub, sizeof(ub), &ur), -EINVAL);
	ur.nfds = MYCO__URING_MAX + 1;
	assert_int_equal(myco__caps_append(ub, sizeof(ub), &ur), -EINVAL);
	ur.nfds = MYCO__URING_MAX;
	for (size_t i = 0; i < ur.nfds; i++)
		ur.fds[i] = 30 + (int)i;
	ub[0] = 0;
	assert_int_equal(myco__caps_append(ub, sizeof(ub), &ur), 0);
	g.n = 0;
	assert_int_equal(myco__caps_parse(ub, collect, &g), 1);
	k = strlen(ub);
	snprintf(ub + k, sizeof(ub) - k, ",99");      /* one ring too many */
	assert_int_equal(myco__caps_parse(ub, collect, &g), -EINVAL);

	/* the core-loan region: exactly one fd */
	struct myco__cap lo = { .kind = MYCO__CAP_LOANS, .fds = { 41 }, .nfds = 1 };
	char lb[128] = "tcp/80:3";
	assert_int_equal(myco__caps_append(lb, sizeof(lb), &lo), 0);
	assert_string_equal(lb, "tcp/80:3;loans/region:41");
	g.n = 0;
	assert_int_equal(myco__caps_parse(lb, collect, &g), 2);
	assert_int_equal(g.e[1].kind, MYCO__CAP_LOANS);
	assert_int_equal(g.e[1].nfds, 1);
	assert_int_equal(g.e[1].fds[0], 41);
	lo.nfds = 2;
	assert_int_equal(myco__caps_append(lb, sizeof(lb), &lo), -EINVAL);
}

static void test_open_granted_and_not(void **state)
{
	(void)state;
	myco_chan_owner_t *o;
	char caps[1024];
	make_manifest(&o, caps, sizeof(caps));
	pid_t pid = fork();
	if (pid == 0) {
		setenv("MYCO_CAPS", caps, 1);
		setenv("MYCO_PARTITION", "tester", 1);
		if (myco_init() != 0)
			_exit(10);
		myco_chan_t *ch = NULL, *again = NULL;
		if (myco_chan_open("out", &ch) != 0 || !ch)
			_exit(11);
		if (myco_chan_open("out", &again) != -EALREADY || again != ch)
			_exit(12);
		uint64_t v[2] = { 1, 2 };
		if (myco_chan_send(ch, v, sizeof(v)) != 0)
			_exit(13);
		myco_chan_t *no = (myco_chan_t *)1;
		if (myco_chan_open("secret", &no) != -MYCO_ENOTGRANTED || no != NULL)
			_exit(14);
		const char *msg = myco_part_errmsg();
		if (!strstr(msg, "'secret' is not granted to partition 'tester'") ||
		    !strstr(msg, "granted: out"))
			_exit(15);
		if (strcmp(myco_partition_name(), "tester"))
			_exit(16);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	myco_chan_stats_t st;
	assert_int_equal(myco_chan_owner_stats(o, &st), 0);
	assert_int_equal(st.sent, 1);           /* the child's message is in the region */
	myco_chan_owner_close(o);
}

static void test_bad_manifest(void **state)
{
	(void)state;
	const char *bad[] = { "out", "out:9:0:3", "out:1:0:", "out:1:x:3", "out:1:0:3;;",
			      "tcp/0:3", "tcp/70000:3", "tcp/80", "tcp/80:", "tcp/80:x",
			      "tcp/-1:3", "tcp/80:-3", "tcp/ 80:3", "tcp/80:3;tcp/80:4",
			      "tcp/80:3x", "out:1:0:3;tcp/80:4;;", "out:1:0:3,", "out:1:+1:3",
			      ":1:0:3", "a,b:1:0:3", "out:1:0:3,,4", "out:1:4294967296:3",
			      "out:1:0:2147483648", "trace/ring:", "trace/ring:x",
			      "trace/other:3", "trace/ring:3;;", "uring/rings:", "uring/rings:x",
			      "uring/rings:3,", "uring/rings:3,,4", "uring/ring:3", "uring/rings:-3",
			      "loans/region:", "loans/region:3,4", "loans/region:x", "loans/regions:3",
			      "a123456789012345678901234567890123456789012345678901234567890123:1:0:3",
			      NULL };
	for (int i = 0; bad[i]; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			setenv("MYCO_CAPS", bad[i], 1);
			_exit(myco_init() == -EINVAL ? 0 : 1);
		}
		assert_int_equal(wait_child(pid), 0);
	}
}

static void test_bad_ctl(void **state)
{
	(void)state;
	int fd;
	struct myco__part_ctl *c = ctl_new(&fd, MYCO__CTL_ACTIVE);
	c->magic ^= 1;                          /* scribbled region */
	pid_t pid = fork();
	if (pid == 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", fd);
		setenv("MYCO_CTL", v, 1);
		_exit(myco_init() == -EPROTO ? 0 : 1);
	}
	assert_int_equal(wait_child(pid), 0);
	munmap(c, MYCO__PART_CTL_SIZE);
	close(fd);
}

static void test_standby_parks_then_runs(void **state)
{
	(void)state;
	int fd;
	struct myco__part_ctl *c = ctl_new(&fd, MYCO__CTL_PARKED);
	pid_t pid = fork();
	if (pid == 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", fd);
		setenv("MYCO_CTL", v, 1);
		if (myco_init() != 0)
			_exit(1);
		myco_ready();
		myco_heartbeat();
		myco_heartbeat();
		_exit(0);
	}
	/* it parks: the flag goes up and it does not run */
	uint64_t end = myco_now() + 10000000000ull;
	while (!__atomic_load_n(&c->parked, __ATOMIC_ACQUIRE))
		assert_true(myco_now() < end);
	usleep(20000);
	assert_int_equal(__atomic_load_n(&c->t_running_ns, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	/* activate it */
	c->t_activate_ns = myco_now();
	__atomic_store_n(&c->state, MYCO__CTL_ACTIVE, __ATOMIC_RELEASE);
	myco__futex_wake(&c->state, 1);
	assert_int_equal(wait_child(pid), 0);
	assert_true(c->t_running_ns >= c->t_activate_ns);
	assert_true(c->t_first_ns >= c->t_running_ns);
	assert_int_equal(c->heartbeat, 2);
	assert_int_equal(c->ready, 1);
	assert_int_equal(c->parked, 0);
	munmap(c, MYCO__PART_CTL_SIZE);
	close(fd);
}

static void test_standby_retired(void **state)
{
	(void)state;
	int fd;
	struct myco__part_ctl *c = ctl_new(&fd, MYCO__CTL_PARKED);
	pid_t pid = fork();
	if (pid == 0) {
		char v[16];
		snprintf(v, sizeof(v), "%d", fd);
		setenv("MYCO_CTL", v, 1);
		myco_init();
		_exit(3);               /* must not get here */
	}
	uint64_t end = myco_now() + 10000000000ull;
	while (!__atomic_load_n(&c->parked, __ATOMIC_ACQUIRE))
		assert_true(myco_now() < end);
	__atomic_store_n(&c->state, MYCO__CTL_RETIRE, __ATOMIC_RELEASE);
	myco__futex_wake(&c->state, 1);
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(c->t_running_ns, 0);
	munmap(c, MYCO__PART_CTL_SIZE);
	close(fd);
}

static void test_dies_with_executive(void **state)
{
	(void)state;
	int ap[2];
	assert_int_equal(pipe(ap), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char v[16];
		close(ap[1]);
		snprintf(v, sizeof(v), "%d", ap[0]);
		setenv("MYCO_EXEC_FD", v, 1);
		if (myco_init() != 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(ap[0]);
	usleep(50000);
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);       /* alive while we hold the pipe */
	close(ap[1]);                                           /* "the executive dies" */
	assert_int_equal(wait_child(pid), 137);
}

static void test_outside_a_system(void **state)
{
	(void)state;
	pid_t pid = fork();
	if (pid == 0) {
		unsetenv("MYCO_CTL");
		unsetenv("MYCO_CAPS");
		myco_chan_t *ch;
		if (myco_init() != 0 || myco_ready() != 0)
			_exit(1);
		myco_heartbeat();
		_exit(myco_chan_open("any", &ch) == -MYCO_ENOTGRANTED ? 0 : 2);
	}
	assert_int_equal(wait_child(pid), 0);
}

/* A listening socket granted as "tcp/PORT:FD" next to a channel: the
 * partition finds it by port, accepts on it, and is told clearly about a
 * port it was not granted. */
static void test_listen_fd(void **state)
{
	(void)state;
	myco_chan_owner_t *o;
	char caps[1024];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	unsigned port = ntohs(sa.sin_port);
	make_manifest(&o, caps, sizeof(caps));
	size_t k = strlen(caps);
	snprintf(caps + k, sizeof(caps) - k, ";tcp/%u:%d", port, lfd);
	pid_t pid = fork();
	if (pid == 0) {
		setenv("MYCO_CAPS", caps, 1);
		setenv("MYCO_PARTITION", "server", 1);
		unsetenv("MYCO_CTL");
		if (myco_init() != 0)
			_exit(10);
		if (myco_listen_fd((uint16_t)port) != lfd)
			_exit(11);
		uint16_t ports[4] = { 0 };
		if (myco_listen_ports(ports, 4) != 1 || ports[0] != port)
			_exit(12);
		uint16_t other = (uint16_t)(port == 65535 ? 1 : port + 1);
		if (myco_listen_fd(other) != -MYCO_ENOTGRANTED)
			_exit(13);
		char want[64];
		snprintf(want, sizeof(want), "granted ports: %u)", port);
		if (!strstr(myco_part_errmsg(), "is not granted to partition 'server'") ||
		    !strstr(myco_part_errmsg(), want))
			_exit(14);
		if (myco_in_system() != 0)
			_exit(15);
		myco_chan_t *ch;
		if (myco_chan_open("out", &ch) != 0)     /* the channel still parses */
			_exit(16);
		int c = accept(myco_listen_fd((uint16_t)port), NULL, NULL);
		if (c < 0 || write(c, "hi", 2) != 2)
			_exit(17);
		close(c);
		_exit(0);
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	char buf[4] = { 0 };
	assert_int_equal(read(c, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "hi", 2);
	close(c);
	assert_int_equal(wait_child(pid), 0);
	close(lfd);
	myco_chan_owner_close(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_granted_and_not),
		cmocka_unit_test(test_bad_manifest),
		cmocka_unit_test(test_caps_writer_parser),
		cmocka_unit_test(test_bad_ctl),
		cmocka_unit_test(test_standby_parks_then_runs),
		cmocka_unit_test(test_standby_retired),
		cmocka_unit_test(test_dies_with_executive),
		cmocka_unit_test(test_outside_a_system),
		cmocka_unit_test(test_listen_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
