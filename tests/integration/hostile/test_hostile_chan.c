/*
 * test_hostile_chan.c: a hostile channel endpoint harms only itself.
 * Real processes: the attacker is hostile_peer, exec'd with nothing but
 * the capability fds a partition would get and without capabilities.
 *   - a producer scribbling the header (in the old single read-write
 *     region this left the channel unattachable for everybody);
 *   - a producer forging the messages of another producer's lane (in the
 *     old region it silently replaced them);
 *   - a consumer trying the same on the header and the producers' lanes;
 *   - a producer corrupting its own lane: only its lane goes out of
 *     service, the fault is attributed to it, the owner repairs the lane
 *     after killing it and a replacement delivers again.
 * Not for: the executive's reaction to a hostile partition (the other
 * tests of this folder).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"

static const char *peer_exe;

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t idx,
                       myco_chan_t **out)
{
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, idx, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	return myco_chan_attach(fds, (size_t)n, role, idx, NULL, out);
}

/* Run hostile_peer with the capability of (role, idx) at fds 3.. and
 * nothing else; returns its pid. */
static pid_t spawn_peer(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t idx,
                        const char *what)
{
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, idx, fds, MYCO_CHAN_MAX_FDS);
	pid_t pid;

	assert_true(n > 0);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char nbuf[16], obuf[16];
		int hi[MYCO_CHAN_MAX_FDS], i;
		/* the fd that is the endpoint's own segment: a producer's
		 * lane (fds[2]), the consumer's main segment (fds[1]) */
		int own = role == MYCO_CHAN_PRODUCER ? 2 : 1;

		for (i = 0; i < n; i++)
			hi[i] = fcntl(fds[i], F_DUPFD, 200);
		for (i = 0; i < n; i++)
			if (dup2(hi[i], 3 + i) < 0)
				_exit(2);
		for (i = 3 + n; i < 1024; i++)
			close(i);
		snprintf(nbuf, sizeof(nbuf), "%d", n);
		snprintf(obuf, sizeof(obuf), "%d", own);
		execl(peer_exe, peer_exe, what, nbuf, obuf, (char *)NULL);
		_exit(2);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void mpsc(myco_chan_owner_t **o)
{
	myco_chan_config_t c;

	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.producers = 2;
	c.depth = 64;
	c.msg_size = 64;
	c.block_timeout_ns = 0;
	assert_int_equal(myco_chan_create(&c, o), 0);
}

/* Messages honest producer 0 queued all arrive intact, in order. */
static void expect_honest(myco_chan_t *cons, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		char want[32];
		myco_chan_msg_t m;

		snprintf(want, sizeof(want), "honest-%d", i);
		assert_int_equal(myco_chan_recv(cons, &m, 0), 0);
		assert_int_equal(m.lane, 0);
		assert_int_equal(m.seq, (uint64_t)i + 1);
		assert_int_equal(m.len, strlen(want));
		assert_memory_equal(m.data, want, m.len);
		assert_int_equal(myco_chan_done(cons, &m), 0);
	}
}

static void send_honest(myco_chan_t *p, int from, int to)
{
	int i;

	for (i = from; i < to; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "honest-%d", i);

		assert_int_equal(myco_chan_send(p, buf, (size_t)len), 0);
	}
}

static void test_scribble_header(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_t *p0, *cons, *p1;
	myco_chan_faults_t f;

	(void)state;
	mpsc(&o);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, &p0), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &cons), 0);
	send_honest(p0, 0, 10);
	/* the extra sender goes wild on everything it was given */
	assert_int_equal(wait_exit(spawn_peer(o, MYCO_CHAN_PRODUCER, 1, "header")), 0);
	send_honest(p0, 10, 20);
	expect_honest(cons, 0, 20);
	assert_false(myco_chan_broken(cons));
	assert_false(myco_chan_broken(p0));
	assert_int_equal(myco_chan_owner_faults(o, &f), 0);
	/* the channel is still attachable: a fresh producer 1 works */
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 1, &p1), 0);
	assert_int_equal(myco_chan_send(p1, "late", 4), 0);
	{
		myco_chan_msg_t m;
		assert_int_equal(myco_chan_recv(cons, &m, 0), 0);
		assert_int_equal(m.lane, 1);
		assert_int_equal(myco_chan_done(cons, &m), 0);
	}
	/* and a replacement consumer can attach too */
	myco_chan_close(cons);
	assert_int_equal(myco_chan_recover(o, MYCO_CHAN_CONSUMER, 0), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &cons), 0);
	myco_chan_close(p1);
	myco_chan_close(p0);
	myco_chan_close(cons);
	myco_chan_owner_close(o);
}

static void test_forge_other_lane(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_t *p0, *cons;
	myco_chan_stats_t st;

	(void)state;
	mpsc(&o);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, &p0), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &cons), 0);
	send_honest(p0, 0, 40);     /* queued, not yet consumed */
	assert_int_equal(wait_exit(spawn_peer(o, MYCO_CHAN_PRODUCER, 1, "forge")), 0);
	expect_honest(cons, 0, 40);
	assert_int_equal(myco_chan_owner_stats(o, &st), 0);
	assert_int_equal(st.sent, 40);
	assert_int_equal(st.done, 40);
	myco_chan_close(p0);
	myco_chan_close(cons);
	myco_chan_owner_close(o);
}

/* The consumer may write its own segment, nothing else. */
static void test_consumer_cannot_write_lanes(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_t *p0;
	myco_chan_t *cons;

	(void)state;
	mpsc(&o);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, &p0), 0);
	send_honest(p0, 0, 10);
	assert_int_equal(wait_exit(spawn_peer(o, MYCO_CHAN_CONSUMER, 0, "forge")), 0);
	assert_int_equal(wait_exit(spawn_peer(o, MYCO_CHAN_CONSUMER, 0, "header")), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &cons), 0);
	expect_honest(cons, 0, 10);
	myco_chan_close(p0);
	myco_chan_close(cons);
	myco_chan_owner_close(o);
}

static void test_own_lane(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_t *p0, *p1, *cons;
	myco_chan_faults_t f;
	myco_chan_msg_t m;
	pid_t pid;
	int i;

	(void)state;
	mpsc(&o);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, &p0), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &cons), 0);
	pid = spawn_peer(o, MYCO_CHAN_PRODUCER, 1, "own-lane");
	/* its lane goes bad some time after it starts: poll until the
	 * consumer notices (bounded by the test timeout, not by a clock) */
	for (i = 0;; i++) {
		myco_chan_recv(cons, &m, 0);
		if (myco_chan_lanes_out(cons))
			break;
		usleep(1000);
	}
	assert_int_equal(myco_chan_lanes_out(cons), 2);
	assert_false(myco_chan_broken(cons));
	/* the honest producer is unaffected */
	send_honest(p0, 0, 30);
	expect_honest(cons, 0, 30);
	assert_int_equal(myco_chan_owner_faults(o, &f), 1);
	assert_int_equal(f.lanes, 2);
	assert_int_equal(f.main, 0);
	/* the executive's cure: stop it, repair its lane, replace it */
	kill(pid, SIGKILL);
	assert_int_equal(wait_exit(pid), 128 + SIGKILL);
	assert_int_equal(myco_chan_recover(o, MYCO_CHAN_PRODUCER, 1), 0);
	assert_int_equal(myco_chan_owner_faults(o, &f), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 1, &p1), 0);
	assert_int_equal(myco_chan_send(p1, "replacement", 11), 0);
	assert_int_equal(myco_chan_recv(cons, &m, 0), 0);
	assert_int_equal(m.lane, 1);
	assert_int_equal(m.len, 11);
	assert_memory_equal(m.data, "replacement", 11);
	assert_int_equal(myco_chan_done(cons, &m), 0);
	assert_int_equal(myco_chan_lanes_out(cons), 0);
	send_honest(p0, 30, 31);
	expect_honest(cons, 30, 31);
	myco_chan_close(p0);
	myco_chan_close(p1);
	myco_chan_close(cons);
	myco_chan_owner_close(o);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scribble_header),
		cmocka_unit_test(test_forge_other_lane),
		cmocka_unit_test(test_consumer_cannot_write_lanes),
		cmocka_unit_test(test_own_lane),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s HOSTILE_PEER\n", argv[0]);
		return 2;
	}
	peer_exe = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
