/*
 * test_chan_procs.c: lib/chan across real processes (fork; children attach
 * from the inherited capability fds, as partitions do):
 *   - SPSC stress, 10 million messages: FIFO, no loss, no duplicate,
 *     payload checksums; MPSC with 4 producer processes;
 *   - kill -9 of a producer mid-stream and of a consumer mid-batch: the
 *     replacement continues with no lost or torn message;
 *   - a hostile process scribbling over the region while we work: only
 *     clean errors, no crash, no hang.
 * Counts are scaled down under sanitizers (MYCO_SANITIZED).
 */
#include <errno.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"
#include "../../../lib/chan/chan_int.h"

#ifdef MYCO_SANITIZED
#define SCALE 20u
#else
#define SCALE 1u
#endif

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t idx,
                       myco_chan_t **out)
{
	myco_chan_attach_opts_t opts = { .spin = 500, .flags = 0 };
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, idx, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	return myco_chan_attach(fds, (size_t)n, role, idx, &opts, out);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= UINT64_C(0x9e3779b97f4a7c15);
	x ^= x >> 29;
	return x;
}

/* 32-byte message: lane, id, checksum(lane,id), checksum of the first three */
struct m32 {
	uint64_t lane, id, sum, sum2;
};

static void fill32(struct m32 *m, uint64_t lane, uint64_t id)
{
	m->lane = lane;
	m->id = id;
	m->sum = mix(id * 31 + lane);
	m->sum2 = m->lane ^ m->id ^ m->sum;
}

static int check32(const struct m32 *m)
{
	return m->sum == mix(m->id * 31 + m->lane) && m->sum2 == (m->lane ^ m->id ^ m->sum);
}

static void child_producer(myco_chan_owner_t *o, uint32_t lane, uint64_t n)
{
	myco_chan_t *p;
	struct m32 b[16];
	struct iovec iov[16];
	uint64_t i = 0;
	int k;

	if (attach_role(o, MYCO_CHAN_PRODUCER, lane, &p))
		_exit(2);
	while (i < n) {
		int cnt = n - i >= 16 && (i & 1) ? 16 : 1, r;

		for (k = 0; k < cnt; k++) {
			fill32(&b[k], lane, i + (uint64_t)k);
			iov[k].iov_base = &b[k];
			iov[k].iov_len = sizeof(b[k]);
		}
		r = cnt == 1 ? (myco_chan_send(p, &b[0], sizeof(b[0])) == 0 ? 1 : -1)
		             : myco_chan_send_batch(p, iov, (size_t)cnt);
		if (r <= 0)
			_exit(3);
		i += (uint64_t)r;
	}
	myco_chan_close(p);
	_exit(0);
}

static void run_stress(uint32_t producers, uint64_t per)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *q;
	myco_chan_msg_t ms[64];
	pid_t pid[8];
	uint64_t next[8] = {0}, total = 0, sum = 0;
	uint32_t k;
	int st;

	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = sizeof(struct m32);
	c.depth = 4096;
	c.producers = producers;
	c.block_timeout_ns = 30000000000LL;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	for (k = 0; k < producers; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0)
			child_producer(o, k, per);
	}
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
	while (total < per * producers) {
		int n = myco_chan_recv_batch(q, ms, 64, 30000000000LL), i;

		assert_true(n > 0);
		for (i = 0; i < n; i++) {
			const struct m32 *m = ms[i].data;

			assert_int_equal(ms[i].len, sizeof(*m));
			assert_true(check32(m));
			assert_int_equal(m->lane, ms[i].lane);
			assert_int_equal(m->id, next[m->lane]);      /* FIFO, no loss, no dup */
			assert_int_equal(ms[i].seq, m->id + 1);
			next[m->lane]++;
			sum += m->id;
		}
		assert_int_equal(myco_chan_done_all(q), 0);
		total += (uint64_t)n;
	}
	for (k = 0; k < producers; k++) {
		assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(next[k], per);
	}
	assert_int_equal(sum, producers * (per * (per - 1) / 2));
	assert_int_equal(myco_chan_recv(q, ms, 0), -EAGAIN);
	assert_false(myco_chan_broken(q));
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

static void test_spsc_10m(void **state)
{
	(void)state;
	run_stress(1, 10000000u / SCALE);
}

static void test_mpsc_4(void **state)
{
	(void)state;
	run_stress(4, 1000000u / SCALE);
}

/* ---- crash: producer ---- */

#define BIGMSG 4096

static void big_fill(uint8_t *b, uint64_t id, uint64_t gen)
{
	uint64_t i;

	memcpy(b, &id, 8);
	memcpy(b + 8, &gen, 8);
	for (i = 16; i < BIGMSG; i++)
		b[i] = (uint8_t)mix(id + i + gen);
}

static int big_check(const uint8_t *b, uint64_t *id, uint64_t *gen)
{
	uint64_t i;

	memcpy(id, b, 8);
	memcpy(gen, b + 8, 8);
	for (i = 16; i < BIGMSG; i++)
		if (b[i] != (uint8_t)mix(*id + i + *gen))
			return 0;
	return 1;
}

static void big_producer(myco_chan_owner_t *o, uint64_t gen, uint64_t n)
{
	static uint8_t b[BIGMSG];
	myco_chan_t *p;
	uint64_t i;

	if (attach_role(o, MYCO_CHAN_PRODUCER, 0, &p))
		_exit(2);
	for (i = 0; i < n; i++) {
		void *slot;
		/* alternate copy-send and in-place reserve/publish, so a kill
		 * can land in the middle of either */
		big_fill(b, i, gen);
		if (i & 1) {
			if (myco_chan_reserve(p, &slot, -1))
				_exit(3);
			memcpy(slot, b, BIGMSG);
			if (myco_chan_publish(p, BIGMSG))
				_exit(3);
		} else if (myco_chan_send(p, b, BIGMSG)) {
			_exit(3);
		}
	}
	_exit(0);
}

static void test_crash_producer(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *q;
	myco_chan_msg_t m;
	uint64_t rounds, r, seq = 0, id, gen, got_gen0 = 0;
	pid_t pid;
	int st;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = BIGMSG;
	c.depth = 64;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
	rounds = 6;
	for (r = 0; r < rounds; r++) {
		uint64_t next_id = 0, want = 2000 + r * 357;

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			big_producer(o, r, UINT64_MAX / 2);
		/* consume until `want` messages of this generation, then kill
		 * -9 the producer while it is writing (ring never empty) */
		while (next_id < want) {
			assert_int_equal(myco_chan_recv(q, &m, 30000000000LL), 0);
			assert_int_equal(m.seq, ++seq);               /* no gap, no dup */
			assert_int_equal(m.len, BIGMSG);
			assert_true(big_check(m.data, &id, &gen));     /* not torn */
			assert_int_equal(gen, r);
			assert_int_equal(id, next_id);
			next_id++;
			assert_int_equal(myco_chan_done(q, &m), 0);
		}
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(myco_chan_recover(o, MYCO_CHAN_PRODUCER, 0), 0);
		/* drain what the dead one published: all complete, in order */
		while (myco_chan_recv(q, &m, 0) == 0) {
			assert_int_equal(m.seq, ++seq);
			assert_true(big_check(m.data, &id, &gen));
			assert_int_equal(gen, r);
			assert_int_equal(id, next_id);
			next_id++;
			assert_int_equal(myco_chan_done(q, &m), 0);
		}
		got_gen0 += next_id;
	}
	assert_false(myco_chan_broken(q));
	assert_true(got_gen0 > 0);
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

/* ---- crash: consumer mid-batch ---- */

struct progress {
	_Atomic uint64_t committed;   /* seq up to which done_all returned */
	_Atomic uint64_t held;        /* messages received, not done, when paused */
};

/* pause_at: stop holding the batch that reaches it (deterministic rounds).
 * limit: racy rounds; stop (without taking more) once `limit` is committed,
 * so a consumer that runs faster than the parent can kill it does not drain
 * the whole stream and leave the later rounds nothing to replay. */
static void batch_consumer(myco_chan_owner_t *o, struct progress *pg, uint64_t pause_at,
                           uint64_t limit, int wfd)
{
	myco_chan_t *q;
	myco_chan_msg_t ms[16];

	if (attach_role(o, MYCO_CHAN_CONSUMER, 0, &q))
		_exit(2);
	for (;;) {
		int n, i;

		while (limit && atomic_load(&pg->committed) >= limit)
			pause();
		n = myco_chan_recv_batch(q, ms, 16, -1);

		if (n <= 0)
			_exit(3);
		for (i = 0; i < n; i++)
			if (!check32(ms[i].data) || ((const struct m32 *)ms[i].data)->id + 1 != ms[i].seq)
				_exit(4);
		if (pause_at && ms[n - 1].seq >= pause_at) {
			/* mid-batch: received, not done; tell the parent, wait to die */
			atomic_store(&pg->held, (uint64_t)n);
			if (write(wfd, "x", 1) != 1)
				_exit(5);
			for (;;)
				pause();
		}
		if (myco_chan_done_all(q))
			_exit(6);
		atomic_store(&pg->committed, ms[n - 1].seq);
	}
}

static void test_crash_consumer(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *q;
	myco_chan_msg_t m;
	struct progress *pg;
	uint64_t n = 200000u, expect, r;   /* not scaled: the rounds must not run out */
	pid_t prod, cons;
	int st, pfd[2];
	char x;

	(void)state;
	pg = mmap(NULL, sizeof(*pg), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(pg != MAP_FAILED);
	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = sizeof(struct m32);
	c.depth = 256;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	prod = fork();
	assert_true(prod >= 0);
	if (prod == 0)
		child_producer(o, 0, n);
	expect = 1;
	for (r = 0; r < 4; r++) {
		uint64_t first;

		assert_int_equal(pipe(pfd), 0);
		atomic_store(&pg->committed, expect - 1);
		atomic_store(&pg->held, 0);
		if (r < 2) {
			/* deterministic: die holding a batch */
			cons = fork();
			assert_true(cons >= 0);
			if (cons == 0)
				batch_consumer(o, pg, expect + 1000 + r * 77, 0, pfd[1]);
			assert_int_equal(read(pfd[0], &x, 1), 1);
			assert_true(atomic_load(&pg->held) > 0);
		} else {
			/* racy: die wherever it happens to be once it is past a
			 * point (the consumer is running flat out when killed) */
			uint64_t at = expect + 500 + r * 1000;

			cons = fork();
			assert_true(cons >= 0);
			if (cons == 0)
				batch_consumer(o, pg, 0, at + 20000, pfd[1]);
			while (atomic_load(&pg->committed) < at)
				sched_yield();
		}
		kill(cons, SIGKILL);
		assert_int_equal(waitpid(cons, &st, 0), cons);
		close(pfd[0]);
		close(pfd[1]);
		assert_int_equal(myco_chan_recover(o, MYCO_CHAN_CONSUMER, 0), 0);
		/* replacement: first message is right after what was done; the
		 * held batch comes again (at least once); nothing is skipped */
		assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
		{
			int rr = myco_chan_recv(q, &m, 10000000000LL);
			if (rr != 0) {
				myco_chan_stats_t sst;
				myco_chan_stats(q, &sst);
				fail_msg("round %llu: replacement got %d; sent %llu done %llu broken %d committed %llu",
				         (unsigned long long)r, rr, (unsigned long long)sst.sent,
				         (unsigned long long)sst.done, sst.broken,
				         (unsigned long long)atomic_load(&pg->committed));
			}
		}
		first = m.seq;
		assert_true(first >= atomic_load(&pg->committed) + 1);
		assert_true(first <= atomic_load(&pg->committed) + 1 + 16); /* at most one batch done but unrecorded */
		if (r < 2)
			assert_int_equal(first, atomic_load(&pg->committed) + 1);
		assert_true(check32(m.data));
		myco_chan_close(q);    /* not done: the next consumer sees it again */
		assert_int_equal(myco_chan_recover(o, MYCO_CHAN_CONSUMER, 0), 0);
		expect = first;
	}
	/* final consumer drains everything, contiguous to the end */
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
	while (expect <= n) {
		assert_int_equal(myco_chan_recv(q, &m, 30000000000LL), 0);
		assert_int_equal(m.seq, expect);
		assert_true(check32(m.data));
		assert_int_equal(((const struct m32 *)m.data)->id, expect - 1);
		assert_int_equal(myco_chan_done(q, &m), 0);
		expect++;
	}
	assert_int_equal(waitpid(prod, &st, 0), prod);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	myco_chan_close(q);
	myco_chan_owner_close(o);
	munmap(pg, sizeof(*pg));
}

/* ---- DROP_OLDEST under a real race ---- */

static void test_drop_oldest_race(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *q;
	uint64_t n = 2000000u / SCALE, last = 0, accepted = 0, stale = 0, lastid = 0;
	pid_t pid;
	int st;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_QUEUE);
	c.msg_size = sizeof(struct m32);
	c.depth = 8;
	c.policy = MYCO_CHAN_DROP_OLDEST;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_producer(o, 0, n);   /* never blocks: drops instead */
	for (;;) {
		myco_chan_msg_t m;
		struct m32 copy;
		int rc = myco_chan_recv(q, &m, 200000000LL);

		if (rc == -ETIMEDOUT)
			break;                 /* producer finished, ring drained */
		assert_int_equal(rc, 0);
		assert_int_equal(m.len, sizeof(copy));
		memcpy(&copy, m.data, sizeof(copy));   /* read in place ... */
		rc = myco_chan_done(q, &m);            /* ... and only then trust it */
		if (rc == -ESTALE) {
			stale++;
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(check32(&copy));           /* accepted => whole */
		assert_int_equal(copy.id + 1, m.seq);
		assert_true(m.seq > last);             /* FIFO, no duplicate */
		last = m.seq;
		lastid = copy.id;
		accepted++;
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(lastid, n - 1);               /* the newest always arrives */
	assert_false(myco_chan_broken(q));
	print_message("drop_oldest: %llu sent, %llu accepted, %llu overwritten while held\n",
	              (unsigned long long)n, (unsigned long long)accepted,
	              (unsigned long long)stale);
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

/* ---- crash: call server ---- */

static void call_server(myco_chan_owner_t *o, uint64_t die_after)
{
	myco_chan_t *s;
	uint64_t handled = 0;

	if (attach_role(o, MYCO_CHAN_SERVER, 0, &s))
		_exit(2);
	for (;;) {
		myco_chan_msg_t m;
		uint64_t id, rep;

		if (myco_chan_recv(s, &m, -1))
			_exit(3);
		if (m.len != sizeof(id))
			_exit(4);
		memcpy(&id, m.data, sizeof(id));
		rep = mix(id) ^ m.lane;
		myco_chan_reply(s, &m, &rep, sizeof(rep));   /* -EAGAIN: client gone */
		if (die_after && ++handled == die_after)
			for (;;)
				pause();    /* replied, not done: the parent kills us here */
		myco_chan_done(s, &m);
	}
}

static void call_client(myco_chan_owner_t *o, uint32_t idx, uint64_t calls)
{
	myco_chan_t *c;
	uint64_t id;

	if (attach_role(o, MYCO_CHAN_CLIENT, idx, &c))
		_exit(2);
	for (id = 0; id < calls; id++) {
		uint64_t req = ((uint64_t)idx << 32) | id, rep = 0;
		size_t rl = 0;
		int rc, tries = 0;

		/* at-least-once: retry the same logical request on timeout */
		while ((rc = myco_chan_call(c, &req, sizeof(req), &rep, sizeof(rep), &rl,
		                            50000000)) != 0) {
			if (rc != -ETIMEDOUT && rc != -EAGAIN)
				_exit(3);
			if (++tries > 400)
				_exit(4);
			if (rc == -EAGAIN)
				usleep(1000);
		}
		if (rl != sizeof(rep) || rep != (mix(req) ^ idx))
			_exit(5);     /* a reply to another request: wrong */
	}
	_exit(0);
}

static void test_crash_server(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	pid_t cl[2], srv;
	uint64_t calls = 3000u / SCALE;
	int k, r, st;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_CALL);
	c.clients = 2;
	c.depth = 8;
	c.msg_size = 16;
	c.spin = 100;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	for (k = 0; k < 2; k++) {
		cl[k] = fork();
		assert_true(cl[k] >= 0);
		if (cl[k] == 0)
			call_client(o, (uint32_t)k, calls);
	}
	for (r = 0; r < 3; r++) {
		srv = fork();
		assert_true(srv >= 0);
		if (srv == 0)
			call_server(o, 200 + (uint64_t)r * 131);
		/* wait until it is parked (handled its quota) or give it time */
		usleep(100000);
		kill(srv, SIGKILL);
		assert_int_equal(waitpid(srv, &st, 0), srv);
		assert_int_equal(myco_chan_recover(o, MYCO_CHAN_SERVER, 0), 0);
	}
	srv = fork();
	assert_true(srv >= 0);
	if (srv == 0)
		call_server(o, 0);
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(cl[k], &st, 0), cl[k]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("client %d: status %d", k, st);
	}
	kill(srv, SIGKILL);
	waitpid(srv, &st, 0);
	assert_false(myco_chan_owner_broken(o));
	myco_chan_owner_close(o);
}

/* ---- a hostile peer ---- */

/* Scribble over every writable segment (the owner's view, inherited across
 * fork as shared mappings): every peer at once turned hostile.  The header
 * is sealed against writes and is not in reach. */
static void scribbler(myco_chan_owner_t *o, uint64_t seed)
{
	struct myco_chan *v = myco__chan_owner_view(o);
	uint8_t *map = v->base + v->g.main_off;
	uint64_t size = v->g.size - v->g.main_off;
	uint64_t x = seed;

	for (;;) {
		x = mix(x + 1);
		map[x % size] = (uint8_t)(x >> 40);
		if ((x & 0xff) == 0)
			usleep(50);
	}
}

static void test_hostile_peer(void **state)
{
	uint32_t kind;

	(void)state;
	for (kind = MYCO_CHAN_QUEUE; kind <= MYCO_CHAN_CALL; kind++) {
		myco_chan_config_t c;
		myco_chan_owner_t *o;
		myco_chan_t *a = NULL, *b = NULL;
		uint64_t i, errs = 0;
		pid_t pid;
		int st;

		myco_chan_config_init(&c, (myco_chan_kind_t)kind);
		c.msg_size = 40;
		c.depth = 8;
		c.policy = MYCO_CHAN_REJECT;
		c.spin = 10;
		c.call_timeout_ns = 100000;
		if (kind == MYCO_CHAN_QUEUE) {
			c.loan_block_size = 256;
			c.loan_blocks = 16;
		}
		assert_int_equal(myco_chan_create(&c, &o), 0);
		if (kind == MYCO_CHAN_QUEUE) {
			assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, 0, &a), 0);
			assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &b), 0);
		} else if (kind == MYCO_CHAN_SAMPLE) {
			assert_int_equal(attach_role(o, MYCO_CHAN_WRITER, 0, &a), 0);
			assert_int_equal(attach_role(o, MYCO_CHAN_READER, 0, &b), 0);
		} else {
			assert_int_equal(attach_role(o, MYCO_CHAN_CLIENT, 0, &a), 0);
			assert_int_equal(attach_role(o, MYCO_CHAN_SERVER, 0, &b), 0);
		}
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			scribbler(o, kind * 1000 + 7);
		for (i = 0; i < 200000 / SCALE; i++) {
			char buf[64];
			myco_chan_msg_t m;
			myco_chan_sample_info_t info;
			myco_chan_loan_t l;
			size_t rl;
			int rc = 0;

			memset(buf, (int)i, sizeof(buf));
			switch (kind) {
			case MYCO_CHAN_QUEUE:
				if (i % 3 == 0 && myco_chan_loan(a, 300, &l) == 0) {
					memset(l.data, 1, 300);
					rc = myco_chan_loan_send(a, &l, 300);
					if (rc)
						myco_chan_loan_cancel(a, &l);
				} else {
					rc = myco_chan_send(a, buf, 40);
				}
				if (myco_chan_recv(b, &m, 0) == 0) {
					uint8_t x = 0;
					size_t k;
					for (k = 0; k < m.len; k++)   /* touch every byte */
						x ^= ((const uint8_t *)m.data)[k];
					__asm__ __volatile__("" : : "r"(x));
					rc = myco_chan_done(b, &m);
				}
				break;
			case MYCO_CHAN_SAMPLE:
				rc = myco_chan_sample_write(a, buf, 40);
				rc = myco_chan_sample_read(b, buf, sizeof(buf), &info);
				break;
			default:
				rc = myco_chan_call_send(a, buf, 40, NULL);
				if (myco_chan_recv(b, &m, 0) == 0) {
					myco_chan_reply(b, &m, buf, 8);
					rc = myco_chan_done(b, &m);
				}
				rc = myco_chan_call_wait(a, i, buf, sizeof(buf), &rl, 0);
				break;
			}
			if (rc < 0)
				errs++;
			myco_chan_ready(a);
			myco_chan_ready(b);
			if (myco_chan_broken(a) && myco_chan_broken(b))
				break;
		}
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		/* the channel was scribbled on: most likely it is broken by now */
		print_message("kind %u: %llu ops, %llu errors, broken %d/%d\n", kind,
		              (unsigned long long)i, (unsigned long long)errs,
		              myco_chan_broken(a), myco_chan_broken(b));
		myco_chan_close(a);
		myco_chan_close(b);
		myco_chan_owner_close(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spsc_10m),
		cmocka_unit_test(test_mpsc_4),
		cmocka_unit_test(test_crash_producer),
		cmocka_unit_test(test_crash_consumer),
		cmocka_unit_test(test_crash_server),
		cmocka_unit_test(test_drop_oldest_race),
		cmocka_unit_test(test_hostile_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
