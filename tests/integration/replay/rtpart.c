/*
 * rtpart.c: partition programs on the runtime (lib/rt) for the record and
 * replay tests (test_replay.py, case rt), chosen by RMODE:
 *   pipe   one fifo loop.  Coroutine "pipe" receives `in` (Num) with a 2 ms
 *          timeout and forwards seq with a value that mixes in how many
 *          times the loop's 1 ms timer and the "beat" coroutine's sleeps
 *          had run when the message arrived, so the sends depend on the
 *          loop's run order.  After COUNT messages it waits (more timeouts,
 *          ticks, sleeps: conditions, not durations) and prints
 *          "rtpart: RESULT ..." with its counters, then goes on.
 *   group  a group of two loops: loop 0 receives `in` and posts each
 *          message to loop 1, whose coroutine sends it on `out` (the
 *          replay must refuse: cross-loop order is not recorded).
 *   sock   one loop whose coroutine also writes and reads a pipe through
 *          the runtime (myco_write / myco_read) for every message
 *   fd     no runtime: poll(2) on myco_chan_fd() of `in`, then receive and
 *          forward (the replay must refuse: readiness is not recorded)
 *          (the replay must refuse: I/O outside channels).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/common.h"
#include "myco/part.h"
#include "myco/rt.h"

struct num {
	uint64_t seq, value;
};

static myco_chan_t *in, *out;
static uint64_t count, got, ticks, sleeps, timeouts, last_tick_ns;
static int sp[2];
static myco_loop_t *loop1;

static void die(const char *what, int rc)
{
	fprintf(stderr, "rtpart: %s: %s\n", what, myco_strerror(rc));
	exit(1);
}

static void tick(myco_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	ticks++;
	last_tick_ns = myco_now();
}

static int beat(void *arg)
{
	(void)arg;
	for (;;) {
		myco_sleep_ns(20000000);
		sleeps++;
		myco_heartbeat();
	}
	return 0;
}

static int pipe_co(void *arg)
{
	int sock = *(int *)arg;
	int said = 0;

	for (;;) {
		myco_chan_msg_t msg;
		int rc = myco_co_chan_recv(in, &msg, 2000000);
		if (rc == -ETIMEDOUT) {
			timeouts++;
		} else if (rc < 0) {
			die("recv", rc);
		} else {
			struct num m = { 0, 0 };
			memcpy(&m, msg.data, msg.len < sizeof m ? msg.len : sizeof m);
			myco_chan_done(in, &msg);
			if (sock) {
				char b[sizeof m];
				if (myco_write(sp[1], &m, sizeof m, MYCO_FOREVER) != (ssize_t)sizeof m ||
				    myco_read(sp[0], b, sizeof b, MYCO_FOREVER) != (ssize_t)sizeof b)
					die("pipe", -EIO);
			}
			m.value = m.seq * 7 + (ticks << 20) + (sleeps << 40) + timeouts;
			rc = myco_co_chan_send(out, &m, sizeof m, MYCO_FOREVER);
			if (rc < 0)
				die("send", rc);
			got++;
		}
		if (!said && got >= count && timeouts >= 2 && ticks >= 3 && sleeps >= 1) {
			printf("rtpart: RESULT got %llu ticks %llu sleeps %llu timeouts %llu "
			       "last tick %llu\n", (unsigned long long)got,
			       (unsigned long long)ticks, (unsigned long long)sleeps,
			       (unsigned long long)timeouts, (unsigned long long)last_tick_ns);
			fflush(stdout);
			said = 1;
		}
	}
	return 0;
}

/* group: loop 1's side */
static int send_co(void *arg)
{
	struct num *m = arg;
	int rc = myco_co_chan_send(out, m, sizeof *m, MYCO_FOREVER);
	if (rc < 0)
		die("send", rc);
	free(m);
	return 0;
}

static void on_loop1(void *arg)
{
	if (myco_spawn(loop1, NULL, send_co, arg, NULL) < 0)
		free(arg);
}

static int recv_co(void *arg)
{
	(void)arg;
	for (;;) {
		myco_chan_msg_t msg;
		int rc = myco_co_chan_recv(in, &msg, MYCO_FOREVER);
		if (rc < 0)
			die("recv", rc);
		struct num *m = calloc(1, sizeof *m);
		if (!m)
			die("calloc", -ENOMEM);
		memcpy(m, msg.data, msg.len < sizeof *m ? msg.len : sizeof *m);
		myco_chan_done(in, &msg);
		m->value = m->seq * 5;
		if (myco_post(loop1, on_loop1, m) < 0)
			free(m);
	}
	return 0;
}

static void group_init(myco_loop_t *l, unsigned index, void *arg)
{
	(void)arg;
	if (index == 0)
		myco_spawn(l, NULL, recv_co, NULL, &(myco_co_opts_t){ .flags = MYCO_CO_PINNED });
	else
		myco_spawn(l, NULL, beat, NULL, &(myco_co_opts_t){ .flags = MYCO_CO_PINNED });
}

int main(void)
{
	const char *mode = getenv("RMODE") ?: "pipe";
	int rc;

	count = strtoull(getenv("COUNT") ?: "1000", NULL, 10);
	if ((rc = myco_init()) < 0)
		die("init", rc);
	if (myco_chan_open(getenv("IN") ?: "in", &in) < 0 ||
	    myco_chan_open(getenv("OUT") ?: "out", &out) < 0) {
		fprintf(stderr, "rtpart: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	if (!strcmp(mode, "group")) {
		myco_group_t *g;
		myco_group_opts_t go = { .nloops = 2, .no_pin = true,
					 .loop.policy = MYCO_POLICY_FIFO };
		if ((rc = myco_group_create(&g, &go)) < 0)
			die("group", rc);
		loop1 = myco_group_loop(g, 1);
		return myco_group_run(g, group_init, NULL) < 0;
	}
	if (!strcmp(mode, "fd")) {
		for (;;) {
			struct pollfd p = { .fd = myco_chan_fd(in), .events = POLLIN };
			myco_chan_msg_t msg;
			if (myco_chan_arm(in) == 0)
				poll(&p, 1, 100);
			myco_chan_disarm(in);
			myco_heartbeat();
			while (myco_chan_recv(in, &msg, 0) == 0) {
				struct num m = { 0, 0 };
				memcpy(&m, msg.data, msg.len < sizeof m ? msg.len : sizeof m);
				myco_chan_done(in, &msg);
				m.value = m.seq * 11;
				if ((rc = myco_chan_send(out, &m, sizeof m)) < 0)
					die("send", rc);
			}
		}
	}
	int sock = !strcmp(mode, "sock");
	if (sock && pipe2(sp, O_CLOEXEC) < 0)
		die("pipe", -errno);
	myco_loop_t *l;
	myco_timer_t *t;
	if ((rc = myco_loop_create(&l, &(myco_loop_opts_t){ .policy = MYCO_POLICY_FIFO })) < 0)
		die("loop", rc);
	if ((rc = myco_timer_create(l, &t, tick, NULL)) < 0 ||
	    (rc = myco_timer_start(t, 1000000, 1000000)) < 0)
		die("timer", rc);
	if ((rc = myco_spawn(l, NULL, pipe_co, &sock, NULL)) < 0 ||
	    (rc = myco_spawn(l, NULL, beat, NULL, NULL)) < 0)
		die("spawn", rc);
	return myco_loop_run(l) < 0;
}
