/*
 * test_chan.c: unit tests of lib/chan, one process, endpoints attached side
 * by side: every kind (queue SPSC/MPSC, sample, call), every overflow policy,
 * the commit model, loans, recovery, event-loop arming and corruption
 * handling.  Threads and processes: test_chan_threads.c and
 * tests/integration/chan.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "myco/chan.h"
#include "../../../lib/chan/chan_int.h"

struct fx {
	myco_chan_owner_t *o;
	myco_chan_t *a;    /* producer / writer / client */
	myco_chan_t *b;    /* consumer / reader / server */
};

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, uint32_t idx,
                       myco_chan_t **out)
{
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, idx, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	return myco_chan_attach(fds, (size_t)n, role, idx, NULL, out);
}

static void mk(struct fx *f, const myco_chan_config_t *cfg)
{
	myco_chan_role_t ra, rb;

	memset(f, 0, sizeof(*f));
	assert_int_equal(myco_chan_create(cfg, &f->o), 0);
	switch (cfg->kind) {
	case MYCO_CHAN_QUEUE:  ra = MYCO_CHAN_PRODUCER; rb = MYCO_CHAN_CONSUMER; break;
	case MYCO_CHAN_SAMPLE: ra = MYCO_CHAN_WRITER;   rb = MYCO_CHAN_READER;   break;
	default:               ra = MYCO_CHAN_CLIENT;   rb = MYCO_CHAN_SERVER;   break;
	}
	assert_int_equal(attach_role(f->o, ra, 0, &f->a), 0);
	assert_int_equal(attach_role(f->o, rb, 0, &f->b), 0);
}

static void rm(struct fx *f)
{
	myco_chan_close(f->a);
	myco_chan_close(f->b);
	myco_chan_owner_close(f->o);
}

static void qcfg(myco_chan_config_t *c, uint32_t depth, myco_chan_policy_t pol)
{
	myco_chan_config_init(c, MYCO_CHAN_QUEUE);
	c->depth = depth;
	c->policy = pol;
	c->spin = 10;
}

static void test_config_errors(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;

	(void)state;
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	c.msg_size = 0;
	assert_int_equal(myco_chan_create(&c, &o), -EINVAL);
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	c.producers = MYCO_CHAN_MAX_PEERS + 1;
	assert_int_equal(myco_chan_create(&c, &o), -EINVAL);
	qcfg(&c, 8, MYCO_CHAN_DROP_OLDEST);
	c.loan_blocks = 4;
	c.loan_block_size = 4096;
	assert_int_equal(myco_chan_create(&c, &o), -EINVAL);
	myco_chan_config_init(&c, MYCO_CHAN_SAMPLE);
	c.loan_blocks = 4;
	c.loan_block_size = 4096;
	assert_int_equal(myco_chan_create(&c, &o), -EINVAL);
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	c.msg_size = MYCO_CHAN_MAX_MSG + 1;
	assert_int_equal(myco_chan_create(&c, &o), -EINVAL);
	assert_null(o);
}

static void test_create_attach(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *p, *p2, *q, *cons;
	int fds[MYCO_CHAN_MAX_FDS], n, seals;

	(void)state;
	qcfg(&c, 6, MYCO_CHAN_BLOCK);   /* rounded up to 8 */
	c.producers = 2;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	seals = fcntl(myco_chan_owner_memfd(o), F_GET_SEALS);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_GROW);
	assert_true(seals & F_SEAL_SEAL);
	assert_true(seals & F_SEAL_WRITE);      /* the header is immutable */
	assert_int_equal(myco_chan_cap_fds(o, MYCO_CHAN_READER, 0, fds, 8), -EINVAL);
	assert_int_equal(myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 2, fds, 8), -EINVAL);
	assert_int_equal(myco_chan_cap_fds(o, MYCO_CHAN_CONSUMER, 0, fds, 2), -ENOSPC);
	n = myco_chan_cap_fds(o, MYCO_CHAN_CONSUMER, 0, fds, MYCO_CHAN_MAX_FDS);
	assert_int_equal(n, 3 + 2 * 2);
	/* the consumer's view of the lanes is read-only, its own segment not */
	assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(fcntl(fds[2], F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fcntl(fds[3], F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(myco_chan_attach(fds, 3, MYCO_CHAN_CONSUMER, 0, NULL, &q), -EINVAL);
	assert_int_equal(myco_chan_attach(fds, 7, MYCO_CHAN_READER, 0, NULL, &q), -EINVAL);
	assert_int_equal(myco_chan_attach(fds, 7, MYCO_CHAN_CONSUMER, 0, NULL, &cons), 0);
	assert_int_equal(myco_chan_attach(fds, 7, MYCO_CHAN_CONSUMER, 0, NULL, &p), -EBUSY);
	n = myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 0, fds, MYCO_CHAN_MAX_FDS);
	assert_int_equal(n, 5);
	assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fcntl(fds[2], F_GETFL) & O_ACCMODE, O_RDWR);
	/* MYCO_CHAN_ANY takes the lane of the segment it was given */
	assert_int_equal(myco_chan_attach(fds, 5, MYCO_CHAN_PRODUCER, MYCO_CHAN_ANY, NULL, &p), 0);
	assert_int_equal(myco_chan_index(p), 0);
	assert_int_equal(myco_chan_attach(fds, 5, MYCO_CHAN_PRODUCER, MYCO_CHAN_ANY, NULL, &q), -EBUSY);
	n = myco_chan_cap_fds(o, MYCO_CHAN_PRODUCER, 1, fds, MYCO_CHAN_MAX_FDS);
	assert_int_equal(myco_chan_attach(fds, 5, MYCO_CHAN_PRODUCER, MYCO_CHAN_ANY, NULL, &p2), 0);
	assert_int_equal(myco_chan_index(p2), 1);
	assert_int_equal(myco_chan_kind(p), MYCO_CHAN_QUEUE);
	assert_int_equal(myco_chan_role(p), MYCO_CHAN_PRODUCER);
	assert_int_equal(myco_chan_msg_size(p), 64);
	myco_chan_close(p);
	myco_chan_close(p2);
	myco_chan_close(cons);
	myco_chan_owner_close(o);
}

static void test_spsc_basic(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m, m2;
	myco_chan_stats_t st;
	struct fx f;
	char big[65] = {0};
	uint32_t i, v;

	(void)state;
	qcfg(&c, 8, MYCO_CHAN_REJECT);
	mk(&f, &c);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EAGAIN);
	assert_int_equal(myco_chan_send(f.a, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(myco_chan_send(f.b, "x", 1), -EPERM);
	assert_int_equal(myco_chan_recv(f.a, &m, 0), -EPERM);
	for (i = 0; i < 8; i++)
		assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), -EAGAIN);
	assert_int_equal(myco_chan_ready(f.a), 0);
	assert_int_equal(myco_chan_ready(f.b), 1);
	/* in place, FIFO, seq 1.. */
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.len, 4);
	memcpy(&v, m.data, 4);
	assert_int_equal(v, 0);
	assert_int_equal(m.seq, 1);
	/* a second recv before done hands out the next message */
	assert_int_equal(myco_chan_recv(f.b, &m2, 0), 0);
	assert_int_equal(m2.seq, 2);
	/* not done: still full */
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), -EAGAIN);
	assert_int_equal(myco_chan_done(f.b, &m2), 0);   /* commits 1 and 2 */
	assert_int_equal(myco_chan_done(f.b, &m), -EINVAL);
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	for (i = 2; i < 9; i++) {
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
		memcpy(&v, m.data, 4);
		assert_int_equal(v, i);
		assert_int_equal(m.seq, i + 1);
		assert_int_equal(myco_chan_done(f.b, &m), 0);
	}
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EAGAIN);
	assert_int_equal(myco_chan_stats(f.b, &st), 0);
	assert_int_equal(st.sent, 9);
	assert_int_equal(st.done, 9);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.attached, 2);
	assert_int_equal(st.broken, 0);
	rm(&f);
}

static void test_block_timeout(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m;
	struct fx f;
	int i;

	(void)state;
	qcfg(&c, 2, MYCO_CHAN_BLOCK);
	c.block_timeout_ns = 2000000;   /* 2 ms */
	mk(&f, &c);
	for (i = 0; i < 2; i++)
		assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), -ETIMEDOUT);
	assert_int_equal(myco_chan_send_timeout(f.a, &i, sizeof(i), 0), -EAGAIN);
	assert_int_equal(myco_chan_recv(f.b, &m, 1000000), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 1000000), -ETIMEDOUT);
	rm(&f);
}

static void test_drop_oldest(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m, held;
	myco_chan_stats_t st;
	struct fx f;
	uint32_t i, v, buf;
	int n;

	(void)state;
	qcfg(&c, 4, MYCO_CHAN_DROP_OLDEST);
	mk(&f, &c);
	for (i = 0; i < 10; i++)
		assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	/* 0..5 dropped; 6..9 remain, seq shows the gap */
	for (i = 6; i < 10; i++) {
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
		memcpy(&v, m.data, 4);
		assert_int_equal(v, i);
		assert_int_equal(m.seq, i + 1);
		assert_int_equal(myco_chan_done(f.b, &m), 0);
	}
	myco_chan_stats(f.b, &st);
	assert_int_equal(st.dropped, 6);
	/* a held message overwritten while held: done says -ESTALE */
	assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_recv(f.b, &held, 0), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(myco_chan_send(f.a, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_done(f.b, &held), -ESTALE);
	/* copying receive skips what was overwritten and gets the newest 4 */
	for (i = 1; i < 5; i++) {
		n = myco_chan_recv_copy(f.b, &buf, sizeof(buf), &m, 0);
		assert_int_equal(n, 4);
		assert_int_equal(buf, i);
	}
	assert_int_equal(myco_chan_recv_copy(f.b, &buf, sizeof(buf), &m, 0), -EAGAIN);
	assert_false(myco_chan_broken(f.b));
	rm(&f);
}

static void test_batch_and_reserve(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t ms[16];
	struct iovec iov[12];
	uint32_t vals[12], i, v;
	struct fx f;
	void *slot;
	int n;

	(void)state;
	qcfg(&c, 8, MYCO_CHAN_REJECT);
	mk(&f, &c);
	for (i = 0; i < 12; i++) {
		vals[i] = i * 7;
		iov[i].iov_base = &vals[i];
		iov[i].iov_len = sizeof(vals[i]);
	}
	assert_int_equal(myco_chan_send_batch(f.a, iov, 12), 8);
	assert_int_equal(myco_chan_send_batch(f.a, iov, 12), -EAGAIN);
	n = myco_chan_recv_batch(f.b, ms, 16, 0);
	assert_int_equal(n, 8);
	for (i = 0; i < 8; i++) {
		memcpy(&v, ms[i].data, 4);
		assert_int_equal(v, i * 7);
	}
	assert_int_equal(myco_chan_done_all(f.b), 0);
	assert_int_equal(myco_chan_reserve(f.a, &slot, 0), 0);
	assert_int_equal(myco_chan_send(f.a, "x", 1), -EBUSY);
	memcpy(slot, "hello", 5);
	assert_int_equal(myco_chan_publish(f.a, 5), 0);
	assert_int_equal(myco_chan_publish(f.a, 5), -EINVAL);
	assert_int_equal(myco_chan_recv(f.b, &ms[0], 0), 0);
	assert_int_equal(ms[0].len, 5);
	assert_memory_equal(ms[0].data, "hello", 5);
	assert_int_equal(ms[0].seq, 9);
	assert_int_equal(myco_chan_done(f.b, &ms[0]), 0);
	/* a too-long message ends the batch: the ones before it are sent and
	 * counted, nothing after it; too long first: -EMSGSIZE, nothing sent */
	{
		static char big[MYCO_CHAN_MAX_MSG + 1];

		iov[2].iov_base = big;
		iov[2].iov_len = (size_t)c.msg_size + 1;
		assert_int_equal(myco_chan_send_batch(f.a, iov, 4), 2);
		assert_int_equal(myco_chan_send_batch(f.a, &iov[2], 2), -EMSGSIZE);
		n = myco_chan_recv_batch(f.b, ms, 16, 0);
		assert_int_equal(n, 2);
		for (i = 0; i < 2; i++) {
			memcpy(&v, ms[i].data, 4);
			assert_int_equal(v, i * 7);
			assert_int_equal(ms[i].seq, 10 + i);
		}
		assert_int_equal(myco_chan_done_all(f.b), 0);
		assert_int_equal(myco_chan_recv_batch(f.b, ms, 16, 0), -EAGAIN);
	}
	rm(&f);
}

static void test_mpsc_lanes(void **state)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o;
	myco_chan_t *p[3], *q;
	myco_chan_msg_t m;
	uint32_t i, k, v, next[3] = {0, 0, 0}, got = 0;

	(void)state;
	qcfg(&c, 16, MYCO_CHAN_REJECT);
	c.producers = 3;
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CONSUMER, 0, &q), 0);
	for (k = 0; k < 3; k++)
		assert_int_equal(attach_role(o, MYCO_CHAN_PRODUCER, k, &p[k]), 0);
	for (i = 0; i < 10; i++)
		for (k = 0; k < 3; k++) {
			v = k * 1000 + i;
			assert_int_equal(myco_chan_send(p[k], &v, 4), 0);
		}
	while (myco_chan_recv(q, &m, 0) == 0) {
		memcpy(&v, m.data, 4);
		assert_int_equal(v / 1000, m.lane);
		assert_int_equal(v % 1000, next[m.lane]);   /* FIFO per lane */
		assert_int_equal(m.seq, next[m.lane] + 1);
		next[m.lane]++;
		got++;
		assert_int_equal(myco_chan_done(q, &m), 0);
	}
	assert_int_equal(got, 30);
	for (k = 0; k < 3; k++)
		myco_chan_close(p[k]);
	myco_chan_close(q);
	myco_chan_owner_close(o);
}

/* The commit model: a replacement consumer sees every message not done. */
static void test_commit_replacement(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m;
	struct fx f;
	uint32_t i, v;

	(void)state;
	qcfg(&c, 16, MYCO_CHAN_BLOCK);
	mk(&f, &c);
	for (i = 0; i < 10; i++)
		assert_int_equal(myco_chan_send(f.a, &i, 4), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
		assert_int_equal(myco_chan_done(f.b, &m), 0);
	}
	for (i = 0; i < 4; i++)            /* received, not done */
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	/* "dies": owner recovers, a replacement attaches */
	myco_chan_close(f.b);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_CONSUMER, 0), 0);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_CONSUMER, 0, &f.b), 0);
	for (i = 3; i < 10; i++) {
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
		memcpy(&v, m.data, 4);
		assert_int_equal(v, i);
		assert_int_equal(m.seq, i + 1);
		assert_int_equal(myco_chan_done(f.b, &m), 0);
	}
	/* a replacement producer continues the sequence */
	myco_chan_close(f.a);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_PRODUCER, 0), 0);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_PRODUCER, 0, &f.a), 0);
	assert_int_equal(myco_chan_send(f.a, &i, 4), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.seq, 11);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_READER, 0), -EINVAL);
	rm(&f);
}

static void test_sample(void **state)
{
	myco_chan_config_t c;
	myco_chan_sample_info_t info;
	myco_chan_owner_t *o;
	myco_chan_t *w, *r1, *r2;
	char buf[64];
	uint64_t i;

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_SAMPLE);
	c.msg_size = 32;
	c.readers = 2;
	c.refresh_ns = 1000000;   /* 1 ms */
	assert_int_equal(myco_chan_create(&c, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_WRITER, 0, &w), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_READER, 0, &r1), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_READER, 1, &r2), 0);
	assert_int_equal(myco_chan_sample_read(r1, buf, sizeof(buf), &info), -ENODATA);
	assert_int_equal(myco_chan_ready(r1), 0);
	assert_int_equal(myco_chan_sample_wait(r1, 0, 0), -EAGAIN);
	for (i = 1; i <= 10; i++)
		assert_int_equal(myco_chan_sample_write(w, &i, sizeof(i)), 0);
	assert_int_equal(myco_chan_ready(r1), 1);
	assert_int_equal(myco_chan_sample_read(r1, buf, sizeof(buf), &info), 0);
	assert_int_equal(info.len, 8);
	assert_int_equal(info.seq, 10);
	assert_memory_equal(buf, &(uint64_t){10}, 8);
	assert_int_equal(myco_chan_ready(r1), 0);
	assert_int_equal(myco_chan_sample_read(r2, buf, 4, &info), -EMSGSIZE);
	assert_int_equal(info.len, 8);
	assert_int_equal(myco_chan_sample_write(w, buf, 33), -EMSGSIZE);
	assert_int_equal(myco_chan_sample_write(r1, buf, 1), -EPERM);
	usleep(3000);
	assert_int_equal(myco_chan_sample_read(r2, buf, sizeof(buf), &info), 0);
	assert_true(info.age_ns >= 1000000);
	assert_int_equal(info.stale, 1);
	assert_int_equal(myco_chan_sample_wait(r1, 10, 1000000), -ETIMEDOUT);
	assert_int_equal(myco_chan_sample_write(w, "z", 1), 0);
	assert_int_equal(myco_chan_sample_wait(r1, 10, 1000000), 0);
	assert_int_equal(myco_chan_sample_read(r1, buf, sizeof(buf), &info), 0);
	assert_int_equal(info.seq, 11);
	assert_int_equal(info.stale, 0);
	/* a replacement writer continues the numbering */
	myco_chan_close(w);
	assert_int_equal(myco_chan_recover(o, MYCO_CHAN_WRITER, 0), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_WRITER, 0, &w), 0);
	assert_int_equal(myco_chan_sample_write(w, "q", 1), 0);
	assert_int_equal(myco_chan_sample_read(r1, buf, sizeof(buf), &info), 0);
	assert_int_equal(info.seq, 12);
	assert_int_equal(buf[0], 'q');
	myco_chan_close(w);
	myco_chan_close(r1);
	myco_chan_close(r2);
	myco_chan_owner_close(o);
}

static void test_call(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m;
	struct fx f;
	uint64_t c1, c2;
	size_t rl = 0;
	char rep[64];

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_CALL);
	c.depth = 4;
	c.call_timeout_ns = 2000000;
	c.spin = 10;
	mk(&f, &c);
	/* nobody answers: timeout */
	assert_int_equal(myco_chan_call(f.a, "ping", 4, rep, sizeof(rep), &rl, -1), -ETIMEDOUT);
	/* the server answers late: the late reply is discarded by the next call */
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.len, 4);
	assert_int_equal(m.corr, 1);
	assert_int_equal(myco_chan_reply(f.b, &m, "late", 4), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_call_send(f.a, "a", 1, &c1), 0);
	assert_int_equal(myco_chan_call_send(f.a, "bb", 2, &c2), 0);
	assert_int_equal(c1, 2);
	assert_int_equal(c2, 3);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.corr, c1);
	assert_int_equal(myco_chan_reply(f.b, &m, "A", 1), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.corr, c2);
	assert_int_equal(myco_chan_reply(f.b, &m, "BBBB", 4), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_ready(f.a), 1);
	assert_int_equal(myco_chan_call_wait(f.a, c1, rep, sizeof(rep), &rl, 0), 0);
	assert_int_equal(rl, 1);
	assert_int_equal(rep[0], 'A');
	assert_int_equal(myco_chan_call_wait(f.a, c2, rep, 2, &rl, 0), -EMSGSIZE);
	assert_int_equal(rl, 4);
	assert_int_equal(myco_chan_ready(f.a), 0);
	/* requests reject when the ring is full; replies drop when full */
	{
		int i;
		for (i = 0; i < 4; i++)
			assert_int_equal(myco_chan_call_send(f.a, "x", 1, &c1), 0);
		assert_int_equal(myco_chan_call_send(f.a, "x", 1, &c1), -EAGAIN);
		for (i = 0; i < 4; i++) {
			assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
			assert_int_equal(myco_chan_reply(f.b, &m, "r", 1), 0);
		}
		m.lane = 0;
		assert_int_equal(myco_chan_reply(f.b, &m, "r", 1), -EAGAIN);
		m.lane = 7;
		assert_int_equal(myco_chan_reply(f.b, &m, "r", 1), -EINVAL);
		assert_int_equal(myco_chan_done_all(f.b), 0);
	}
	rm(&f);
}

/* A server replaced while calls are in flight: with the fail policy the
 * owner answers every pending request -ECONNRESET in its place (except one
 * the old server already answered) and the replacement sees none; without
 * it (retry) the replacement gets them.  An error answer that is not sane
 * breaks the client. */
static void test_call_fail_inflight(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m, m2;
	myco_chan_stats_t st;
	struct fx f;
	uint64_t c1, c2, c3, failed = 9, kept = 9;
	size_t rl = 7;
	char rep[64];

	(void)state;
	myco_chan_config_init(&c, MYCO_CHAN_CALL);
	c.depth = 4;
	c.call_timeout_ns = 2000000;
	c.spin = 10;
	mk(&f, &c);
	assert_int_equal(myco_chan_call_send(f.a, "a", 1, &c1), 0);
	assert_int_equal(myco_chan_call_send(f.a, "b", 1, &c2), 0);
	assert_int_equal(myco_chan_call_send(f.a, "c", 1, &c3), 0);
	/* the server answers the first without marking it done, holds the
	 * second, never sees the third, and dies */
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(myco_chan_reply(f.b, &m, "A", 1), 0);
	assert_int_equal(myco_chan_recv(f.b, &m2, 0), 0);
	assert_int_equal(myco_chan_owner_fail_calls(f.o, -ECONNRESET, NULL, NULL), -EBUSY);
	myco_chan_close(f.b);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_SERVER, 0), 0);
	assert_int_equal(myco_chan_owner_fail_calls(f.o, 0, NULL, NULL), -EINVAL);
	assert_int_equal(myco_chan_owner_fail_calls(f.o, -5000, NULL, NULL), -EINVAL);
	assert_int_equal(myco_chan_owner_fail_calls(f.o, -ECONNRESET, &failed, &kept), 0);
	assert_int_equal(failed, 2);
	assert_int_equal(kept, 0);
	assert_int_equal(myco_chan_owner_stats(f.o, &st), 0);
	assert_int_equal(st.pending, 0);
	/* exactly one answer each: the real one, then the two errors */
	assert_int_equal(myco_chan_call_wait(f.a, c1, rep, sizeof(rep), &rl, 0), 0);
	assert_int_equal(rl, 1);
	assert_int_equal(rep[0], 'A');
	assert_int_equal(myco_chan_call_wait(f.a, c2, rep, sizeof(rep), &rl, 0), -ECONNRESET);
	assert_int_equal(rl, 0);
	assert_int_equal(myco_chan_call_wait(f.a, c3, rep, sizeof(rep), &rl, 0), -ECONNRESET);
	assert_int_equal(myco_chan_ready(f.a), 0);
	assert_int_equal(myco_chan_broken(f.a), 0);
	/* a second pass has nothing left to fail */
	assert_int_equal(myco_chan_owner_fail_calls(f.o, -ECONNRESET, &failed, &kept), 0);
	assert_int_equal(failed, 0);
	/* the replacement sees none of them; a new call works */
	assert_int_equal(attach_role(f.o, MYCO_CHAN_SERVER, 0, &f.b), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EAGAIN);
	assert_int_equal(myco_chan_call_send(f.a, "d", 1, &c1), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.corr, c1);
	assert_int_equal(myco_chan_reply(f.b, &m, "D", 1), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_call_wait(f.a, c1, rep, sizeof(rep), &rl, 0), 0);
	assert_int_equal(rep[0], 'D');
	/* retry (no owner answer): the replacement gets the held request */
	assert_int_equal(myco_chan_call_send(f.a, "e", 1, &c2), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	myco_chan_close(f.b);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_SERVER, 0), 0);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_SERVER, 0, &f.b), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.corr, c2);
	assert_int_equal(myco_chan_reply(f.b, &m, "E", 1), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_call_wait(f.a, c2, rep, sizeof(rep), &rl, 0), 0);
	assert_int_equal(rep[0], 'E');
	/* a full reply ring: the owner fails what fits and keeps the rest */
	{
		uint64_t cs[4];
		int i;
		for (i = 0; i < 4; i++)
			assert_int_equal(myco_chan_call_send(f.a, "x", 1, &cs[i]), 0);
		for (i = 0; i < 3; i++) {
			assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
			assert_int_equal(myco_chan_reply(f.b, &m, "r", 1), 0);
			assert_int_equal(myco_chan_done(f.b, &m), 0);
		}
		myco_chan_close(f.b);
		assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_SERVER, 0), 0);
		assert_int_equal(myco_chan_owner_fail_calls(f.o, -ECONNRESET, &failed, &kept), 0);
		assert_int_equal(failed, 1);
		assert_int_equal(kept, 0);
		for (i = 0; i < 3; i++)
			assert_int_equal(myco_chan_call_wait(f.a, cs[i], rep, sizeof(rep), &rl, 0), 0);
		assert_int_equal(myco_chan_call_wait(f.a, cs[3], rep, sizeof(rep), &rl, 0),
				 -ECONNRESET);
		for (i = 0; i < 4; i++)
			assert_int_equal(myco_chan_call_send(f.a, "y", 1, &cs[i]), 0);
		assert_int_equal(attach_role(f.o, MYCO_CHAN_SERVER, 0, &f.b), 0);
		for (i = 0; i < 4; i++) {
			assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
			assert_int_equal(myco_chan_reply(f.b, &m, "r", 1), 0);
			assert_int_equal(myco_chan_done(f.b, &m), 0);
		}
		/* the client read none: its reply ring is full */
		assert_int_equal(myco_chan_call_send(f.a, "z", 1, &c3), 0);
		myco_chan_close(f.b);
		assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_SERVER, 0), 0);
		assert_int_equal(myco_chan_owner_fail_calls(f.o, -ECONNRESET, &failed, &kept), 0);
		assert_int_equal(failed, 0);
		assert_int_equal(kept, 1);
		for (i = 0; i < 4; i++)
			assert_int_equal(myco_chan_call_wait(f.a, cs[i], rep, sizeof(rep), &rl, 0), 0);
		assert_int_equal(attach_role(f.o, MYCO_CHAN_SERVER, 0, &f.b), 0);
		assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
		assert_int_equal(m.corr, c3);
		assert_int_equal(myco_chan_done(f.b, &m), 0);
	}
	/* a forged error answer (a payload with it) breaks the client */
	{
		struct myco_chan *v = myco__chan_owner_view(f.o);
		struct chan_mlane *ml = chan_mlane(v, 0);
		uint64_t rt = atomic_load(&ml->rtail);
		struct chan_slot *sl = chan_rslot(v, 0, rt);

		assert_int_equal(myco_chan_call_send(f.a, "w", 1, &c1), 0);
		sl->len = 1;
		sl->flags = MYCO_CHAN_MSG_REPLY | MYCO_CHAN_MSG_ERROR;
		sl->corr = c1;
		sl->loan_gen = ECONNRESET;
		atomic_store(&sl->seq, rt + 1);
		atomic_store(&ml->rtail, rt + 1);
		assert_int_equal(myco_chan_call_wait(f.a, c1, rep, sizeof(rep), &rl, 0), -EPROTO);
		assert_int_equal(myco_chan_broken(f.a), 1);
	}
	rm(&f);
}

static void test_loans(void **state)
{
	myco_chan_config_t c;
	myco_chan_loan_t l1, l2, l3;
	myco_chan_msg_t m;
	myco_chan_stats_t st;
	struct fx f;

	(void)state;
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	c.loan_block_size = 4096;
	c.loan_blocks = 8;
	mk(&f, &c);
	assert_int_equal(myco_chan_loan(f.a, 9 * 4096, &l1), -EMSGSIZE);
	assert_int_equal(myco_chan_loan(f.a, 10000, &l1), 0);   /* 3 blocks */
	assert_int_equal(l1.cap, 3 * 4096);
	memset(l1.data, 0xab, 10000);
	assert_int_equal(myco_chan_loan(f.a, 5 * 4096, &l2), 0);
	assert_int_equal(myco_chan_loan(f.a, 1, &l3), -ENOBUFS);
	assert_int_equal(myco_chan_loan_cancel(f.a, &l2), 0);
	assert_int_equal(myco_chan_loan_send(f.a, &l1, 10000), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 3);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_true(m.flags & MYCO_CHAN_MSG_LOAN);
	assert_int_equal(m.len, 10000);
	assert_int_equal(((const unsigned char *)m.data)[9999], 0xab);
	assert_int_equal(myco_chan_loan_release(f.b, &m), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 0);
	/* a producer that dies holding loans: owner reclaims them */
	assert_int_equal(myco_chan_loan(f.a, 8 * 4096, &l1), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 8);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_PRODUCER, 0), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 0);
	/* (the old handle is stale now; don't use it) */
	myco_chan_close(f.a);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_PRODUCER, 0, &f.a), 0);
	/* sent but not done: survives a consumer replacement */
	assert_int_equal(myco_chan_loan(f.a, 100, &l1), 0);
	memcpy(l1.data, "zero-copy", 9);
	assert_int_equal(myco_chan_loan_send(f.a, &l1, 9), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	myco_chan_close(f.b);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_CONSUMER, 0), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 1);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_CONSUMER, 0, &f.b), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_memory_equal(m.data, "zero-copy", 9);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.loans_in_use, 0);
	/* loans between copied messages in one recv_batch: FIFO, each kind
	 * handed out right, done_all frees the blocks */
	{
		myco_chan_msg_t ms[8];
		int n, k;

		for (k = 0; k < 6; k++) {
			if (k % 2) {
				assert_int_equal(myco_chan_loan(f.a, 4096, &l1), 0);
				memset(l1.data, k, 16);
				assert_int_equal(myco_chan_loan_send(f.a, &l1, 16), 0);
			} else {
				char b[16];

				memset(b, k, sizeof(b));
				assert_int_equal(myco_chan_send(f.a, b, sizeof(b)), 0);
			}
		}
		n = myco_chan_recv_batch(f.b, ms, 8, 0);
		assert_int_equal(n, 6);
		for (k = 0; k < 6; k++) {
			assert_int_equal(!!(ms[k].flags & MYCO_CHAN_MSG_LOAN), k % 2);
			assert_int_equal(ms[k].len, 16);
			assert_int_equal(((const unsigned char *)ms[k].data)[15], k);
			assert_int_equal(ms[k].seq, ms[0].seq + (uint64_t)k);
		}
		myco_chan_owner_stats(f.o, &st);
		assert_int_equal(st.loans_in_use, 3);
		assert_int_equal(myco_chan_done_all(f.b), 0);
		myco_chan_owner_stats(f.o, &st);
		assert_int_equal(st.loans_in_use, 0);
	}
	/* loans on a channel without a pool */
	rm(&f);
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	mk(&f, &c);
	assert_int_equal(myco_chan_loan(f.a, 1, &l1), -ENOTSUP);
	rm(&f);
}

static void test_arm_fd(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m;
	struct pollfd pfd;
	struct fx f;
	int i;

	(void)state;
	qcfg(&c, 4, MYCO_CHAN_REJECT);
	mk(&f, &c);
	pfd.fd = myco_chan_fd(f.b);
	pfd.events = POLLIN;
	assert_int_equal(myco_chan_arm(f.b), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(myco_chan_send(f.a, "x", 1), 0);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(myco_chan_arm(f.b), 1);       /* already ready */
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(myco_chan_arm(f.b), 0);       /* drained, armed */
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(myco_chan_disarm(f.b), 0);
	assert_int_equal(myco_chan_send(f.a, "y", 1), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);         /* disarmed: no signal */
	assert_int_equal(myco_chan_wait(f.b, 0), 0);
	/* producer side: fill, arm for space, consumer frees a slot */
	for (i = 0; i < 3; i++)
		assert_int_equal(myco_chan_send(f.a, "z", 1), 0);
	pfd.fd = myco_chan_fd(f.a);
	assert_int_equal(myco_chan_arm(f.a), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_int_equal(myco_chan_ready(f.a), 1);
	myco_chan_disarm(f.a);
	rm(&f);
}

/* A peer scribbling indices/lengths (played here through the owner's
 * read-write view): clean -EPROTO, the lane out of service, the fault
 * attributed to the lane; repair by recovery, then a replacement works. */
static void test_corruption(void **state)
{
	myco_chan_config_t c;
	myco_chan_msg_t m;
	myco_chan_stats_t st;
	myco_chan_faults_t fl;
	struct myco_chan *v;
	struct fx f;

	(void)state;
	qcfg(&c, 8, MYCO_CHAN_BLOCK);
	mk(&f, &c);
	v = myco__chan_owner_view(f.o);
	atomic_store(&chan_lane(v, 0)->tail, 1000);
	/* before anybody looked: the owner's counters say broken, not 1000 */
	assert_int_equal(myco_chan_owner_stats(f.o, &st), -EPROTO);
	assert_int_equal(st.broken, 1);
	assert_int_equal(st.sent, 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EPROTO);
	assert_true(myco_chan_broken(f.b));      /* its only lane is out */
	assert_int_equal(myco_chan_lanes_out(f.b), 1);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EPROTO);
	assert_int_equal(myco_chan_ready(f.b), -EPROTO);
	assert_int_equal(myco_chan_owner_broken(f.o), 1);
	assert_int_equal(myco_chan_owner_faults(f.o, &fl), 1);
	assert_int_equal(fl.lanes, 1);
	assert_int_equal(fl.main, 0);
	myco_chan_owner_stats(f.o, &st);
	assert_int_equal(st.broken, 1);
	/* the executive stops the producer and repairs its lane */
	myco_chan_close(f.a);
	assert_int_equal(myco_chan_recover(f.o, MYCO_CHAN_PRODUCER, 0), 0);
	assert_int_equal(myco_chan_owner_faults(f.o, &fl), 0);
	assert_int_equal(attach_role(f.o, MYCO_CHAN_PRODUCER, 0, &f.a), 0);
	assert_int_equal(myco_chan_send(f.a, "ok", 2), 0);
	assert_int_equal(myco_chan_recv(f.b, &m, 0), 0);
	assert_int_equal(m.len, 2);
	assert_int_equal(myco_chan_done(f.b, &m), 0);
	assert_false(myco_chan_broken(f.b));
	rm(&f);

	/* bad length in a slot */
	mk(&f, &c);
	v = myco__chan_owner_view(f.o);
	assert_int_equal(myco_chan_send(f.a, "abc", 3), 0);
	chan_slot(v, 0, 0)->len = 9999;
	assert_int_equal(myco_chan_recv(f.b, &m, 0), -EPROTO);
	rm(&f);

	/* bad seq in the third slot of a batch: the batch stops before it
	 * (two valid messages handed out), the lane is out after */
	mk(&f, &c);
	v = myco__chan_owner_view(f.o);
	{
		myco_chan_msg_t ms[8];
		int k;

		for (k = 0; k < 4; k++)
			assert_int_equal(myco_chan_send(f.a, "abcd", 4), 0);
		atomic_store(&chan_slot(v, 0, 2)->seq, 77);
		assert_int_equal(myco_chan_recv_batch(f.b, ms, 8, 0), 2);
		assert_int_equal(ms[0].seq, 1);
		assert_int_equal(ms[1].seq, 2);
		assert_true(myco_chan_broken(f.b));
		assert_int_equal(myco_chan_recv_batch(f.b, ms, 8, 0), -EPROTO);
		assert_int_equal(myco_chan_done(f.b, &ms[0]), -EPROTO);
	}
	rm(&f);

	/* The header cannot be written by anyone, the owner included. */
	mk(&f, &c);
	{
		int fd = myco_chan_owner_memfd(f.o);
		uint8_t x = 0xff;

		assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
		            MAP_FAILED);
		assert_int_equal(pwrite(fd, &x, 1, 0), -1);
		assert_int_equal(errno, EPERM);
	}
	rm(&f);

	/* A forged header (a memfd of the right shape) is refused. */
	mk(&f, &c);
	{
		int fds[MYCO_CHAN_MAX_FDS], n, fake;
		struct chan_hdr h;
		myco_chan_t *x;

		myco_chan_close(f.b);
		f.b = NULL;
		n = myco_chan_cap_fds(f.o, MYCO_CHAN_CONSUMER, 0, fds, MYCO_CHAN_MAX_FDS);
		assert_int_equal(pread(fds[0], &h, sizeof(h), 0), (ssize_t)sizeof(h));
		fake = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		assert_true(fake >= 0);
		assert_int_equal(ftruncate(fake, 4096), 0);
		h.h_magic ^= 0xff;
		assert_int_equal(pwrite(fake, &h, sizeof(h), 0), (ssize_t)sizeof(h));
		/* not sealed against writes: refused before it is even read */
		fds[0] = fake;
		assert_int_equal(myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0, NULL, &x),
		                 -EPROTO);
		assert_int_equal(fcntl(fake, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		                       F_SEAL_WRITE), 0);
		assert_int_equal(myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0, NULL, &x),
		                 -EPROTO);
		close(fake);
		fake = memfd_create("fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		assert_int_equal(ftruncate(fake, 4096), 0);
		h.h_magic ^= 0xff;
		h.h_version = 9;
		assert_int_equal(pwrite(fake, &h, sizeof(h), 0), (ssize_t)sizeof(h));
		assert_int_equal(fcntl(fake, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		                       F_SEAL_WRITE), 0);
		fds[0] = fake;
		assert_int_equal(myco_chan_attach(fds, (size_t)n, MYCO_CHAN_CONSUMER, 0, NULL, &x),
		                 -MYCO_EVERSION);
		close(fake);
	}
	rm(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_create_attach),
		cmocka_unit_test(test_spsc_basic),
		cmocka_unit_test(test_block_timeout),
		cmocka_unit_test(test_drop_oldest),
		cmocka_unit_test(test_batch_and_reserve),
		cmocka_unit_test(test_mpsc_lanes),
		cmocka_unit_test(test_commit_replacement),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_call_fail_inflight),
		cmocka_unit_test(test_loans),
		cmocka_unit_test(test_arm_fd),
		cmocka_unit_test(test_corruption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
