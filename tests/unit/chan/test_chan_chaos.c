/*
 * test_chan_chaos.c: unit tests of the chaos toolkit's channel faults
 * (lib/chan/chaos.c) and the clock skew (lib/common/clock.c), in one
 * process: a fault table in private memory stands in for the control
 * region.  Each fault does what docs/chaos.md says, a seeded run hits the
 * same messages twice, and faults that only hold or copy messages lose
 * none when the receiver dies in the middle (recovery, new consumer).
 * Processes and the executive: tests/integration/chaos.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "myco/chan.h"
#include "myco_int.h"
#include "../../../lib/chan/chan_int.h"
#include "part_abi.h"

static struct myco__part_chaos tbl __attribute__((aligned(64)));

struct fx {
	myco_chan_owner_t *o;
	myco_chan_t *p, *c;
};

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, myco_chan_t **out)
{
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, 0, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	return myco_chan_attach(fds, (size_t)n, role, 0, NULL, out);
}

static int setup(void **state)
{
	static struct fx f;
	myco_chan_config_t cfg;

	memset(&f, 0, sizeof(f));
	memset(&tbl, 0, sizeof(tbl));
	myco__chaos_set_table(&tbl);
	myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
	cfg.msg_size = 16;
	cfg.depth = 64;
	if (myco_chan_create(&cfg, &f.o) || attach_role(f.o, MYCO_CHAN_PRODUCER, &f.p) ||
	    attach_role(f.o, MYCO_CHAN_CONSUMER, &f.c))
		return -1;
	myco__chaos_tag(f.c, "x");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	myco_chan_close(f->p);
	myco_chan_close(f->c);
	myco_chan_owner_close(f->o);
	myco__chaos_set_table(NULL);
	return 0;
}

/* Fault i of the table: kind on channel "x" from now on. */
static void fault(unsigned i, uint32_t kind, uint32_t prob, uint64_t seed,
		  uint64_t arg, uint64_t arg2)
{
	struct myco__chaos_slot *s = &tbl.slot[i];

	s->kind = kind;
	s->chan = myco__chaos_chan_hash("x");
	s->t_start_ns = 0;
	s->t_end_ns = UINT64_MAX;
	s->seed = seed;
	s->prob = prob;
	s->arg_ns = arg;
	s->arg2_ns = arg2;
	__atomic_store_n(&tbl.armed, i + 1, __ATOMIC_RELEASE);
}

static void disarm(void)
{
	__atomic_store_n(&tbl.armed, 0, __ATOMIC_RELEASE);
	memset(tbl.slot, 0, sizeof(tbl.slot));
}

static void send_n(struct fx *f, uint64_t from, uint64_t n)
{
	for (uint64_t v = from; v < from + n; v++)
		assert_int_equal(myco_chan_send(f->p, &v, sizeof(v)), 0);
}

static uint64_t val(const myco_chan_msg_t *m)
{
	uint64_t v;

	memcpy(&v, m->data, sizeof(v));
	return v;
}

static uint64_t done_count(struct fx *f)
{
	myco_chan_stats_t st;

	assert_int_equal(myco_chan_owner_stats(f->o, &st), 0);
	return st.done;
}

static void t_duplicate(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	uint64_t d0 = done_count(f);

	fault(0, MYCO__CHAOS_DUPLICATE, UINT32_MAX, 1, 0, 0);
	send_n(f, 1, 5);
	for (uint64_t v = 1; v <= 5; v++) {
		assert_int_equal(myco_chan_recv(f->c, &m, 0), 0);
		assert_int_equal(val(&m), v);
		assert_false(m.flags & MYCO__CHAN_MSG_CHAOS_DUP);
		assert_int_equal(myco_chan_done(f->c, &m), 0);
		assert_int_equal(myco_chan_recv(f->c, &m, 0), 0);
		assert_int_equal(val(&m), v);               /* the same message again */
		assert_true(m.flags & MYCO__CHAN_MSG_CHAOS_DUP);
		assert_int_equal(myco_chan_done(f->c, &m), 0);
	}
	assert_int_equal(myco_chan_recv(f->c, &m, 0), -EAGAIN);
	assert_int_equal(done_count(f) - d0, 5);
	assert_int_equal(tbl.applied[MYCO__CHAOS_DUPLICATE], 5);
	disarm();
	assert_int_equal(myco_chan_recv(f->c, &m, 0), -EAGAIN);
	assert_null(f->c->chaos);                         /* back on the plain path */
}

/* Drop half, seeded: the same messages are dropped in a second run, and
 * every message is accounted for (received or dropped, all committed). */
static void t_drop_seeded(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	char got[2][40];

	for (int run = 0; run < 2; run++) {
		uint64_t d0 = done_count(f), n = 0;

		memset(got[run], 0, sizeof(got[run]));
		tbl.applied[MYCO__CHAOS_DROP] = 0;
		fault(0, MYCO__CHAOS_DROP, UINT32_MAX / 2, 42, 0, 0);
		send_n(f, 0, 40);
		while (myco_chan_recv(f->c, &m, 0) == 0) {
			uint64_t v = val(&m);

			assert_true(v < 40);
			got[run][v] = 1;
			n++;
			assert_int_equal(myco_chan_done(f->c, &m), 0);
		}
		assert_int_equal(n + tbl.applied[MYCO__CHAOS_DROP], 40);
		assert_true(n > 5 && n < 35);
		assert_int_equal(done_count(f) - d0, 40);
		disarm();
		/* the seed decides by (lane, seq): start the second run at the
		 * same sequence numbers with a fresh channel */
		if (run == 0) {
			myco_chan_config_t cfg;

			myco_chan_close(f->p);
			myco_chan_close(f->c);
			myco_chan_owner_close(f->o);
			myco_chan_config_init(&cfg, MYCO_CHAN_QUEUE);
			cfg.msg_size = 16;
			cfg.depth = 64;
			assert_int_equal(myco_chan_create(&cfg, &f->o), 0);
			assert_int_equal(attach_role(f->o, MYCO_CHAN_PRODUCER, &f->p), 0);
			assert_int_equal(attach_role(f->o, MYCO_CHAN_CONSUMER, &f->c), 0);
			myco__chaos_tag(f->c, "x");
		}
	}
	assert_memory_equal(got[0], got[1], sizeof(got[0]));
}

/* Reorder every message: 2 1 4 3; done of the later one does not commit
 * the earlier one that was not handed out yet. */
static void t_reorder(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m1, m2;
	uint64_t d0 = done_count(f);

	fault(0, MYCO__CHAOS_REORDER, UINT32_MAX, 7, 0, 0);
	send_n(f, 1, 4);
	for (uint64_t v = 1; v <= 3; v += 2) {
		assert_int_equal(myco_chan_recv(f->c, &m2, 0), 0);
		assert_int_equal(val(&m2), v + 1);
		assert_int_equal(myco_chan_done(f->c, &m2), 0);
		assert_int_equal(done_count(f) - d0, v - 1);     /* v still owed */
		assert_int_equal(myco_chan_recv(f->c, &m1, 0), 0);
		assert_int_equal(val(&m1), v);
		assert_int_equal(myco_chan_done(f->c, &m1), 0);
		assert_int_equal(done_count(f) - d0, v + 1);
	}
	disarm();
}

static void t_delay(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	uint64_t t0;

	fault(0, MYCO__CHAOS_DELAY, UINT32_MAX, 3, 30000000ull, 1000000ull);
	send_n(f, 9, 1);
	t0 = myco__now_raw();
	assert_int_equal(myco_chan_recv(f->c, &m, 0), -EAGAIN);   /* held */
	assert_int_equal(myco_chan_ready(f->c), 1);                /* event loops look again */
	assert_int_equal(myco_chan_recv(f->c, &m, -1), 0);
	assert_true(myco__now_raw() - t0 >= 30000000ull);
	assert_int_equal(val(&m), 9);
	assert_int_equal(myco_chan_done(f->c, &m), 0);
	disarm();
}

/* The receiver dies while the fault layer holds messages (delay, reorder)
 * and after it handed one out undone: a new consumer gets every one. */
static void t_crash_keeps_all(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	uint64_t want = 1;

	fault(0, MYCO__CHAOS_REORDER, UINT32_MAX, 5, 0, 0);
	fault(1, MYCO__CHAOS_DELAY, UINT32_MAX / 2, 5, 5000000000ull, 0);
	send_n(f, 1, 6);
	(void)myco_chan_recv(f->c, &m, 0);        /* maybe one, never done */
	myco_chan_close(f->c);                    /* "kill -9" */
	assert_int_equal(myco_chan_recover(f->o, MYCO_CHAN_CONSUMER, 0), 0);
	disarm();
	assert_int_equal(attach_role(f->o, MYCO_CHAN_CONSUMER, &f->c), 0);
	myco__chaos_tag(f->c, "x");
	while (myco_chan_recv(f->c, &m, 0) == 0) {
		assert_int_equal(val(&m), want++);
		assert_int_equal(myco_chan_done(f->c, &m), 0);
	}
	assert_int_equal(want, 7);
}

static void t_corrupt(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	uint64_t v = 0x1111111111111111ull, x;

	fault(0, MYCO__CHAOS_CORRUPT, UINT32_MAX, 11, 3, 0);
	assert_int_equal(myco_chan_send(f->p, &v, sizeof(v)), 0);
	assert_int_equal(myco_chan_recv(f->c, &m, 0), 0);
	x = val(&m) ^ v;
	assert_true(__builtin_popcountll(x) >= 1 && __builtin_popcountll(x) <= 3);
	assert_int_equal(myco_chan_done(f->c, &m), 0);
	assert_int_equal(tbl.applied[MYCO__CHAOS_CORRUPT], 1);
	disarm();
}

static void t_stall_bandwidth(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;
	uint64_t t0 = myco__now_raw();

	fault(0, MYCO__CHAOS_STALL, UINT32_MAX, 1, 0, 0);
	tbl.slot[0].t_end_ns = t0 + 40000000ull;
	send_n(f, 1, 1);
	assert_int_equal(myco_chan_recv(f->c, &m, 0), -EAGAIN);
	assert_int_equal(myco_chan_recv(f->c, &m, -1), 0);
	assert_true(myco__now_raw() >= t0 + 40000000ull);
	assert_int_equal(myco_chan_done(f->c, &m), 0);
	disarm();

	/* 800 bytes a second, 8-byte messages, burst one message: the
	 * fourth is handed out no sooner than 30 ms after the first */
	fault(0, MYCO__CHAOS_BANDWIDTH, UINT32_MAX, 1, 800, 0);
	send_n(f, 1, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(myco_chan_recv(f->c, &m, -1), 0);
		if (i == 0)
			t0 = myco__now_raw();
		assert_int_equal(myco_chan_done(f->c, &m), 0);
	}
	assert_true(myco__now_raw() - t0 >= 29000000ull);
	disarm();
}

static void t_other_channel_untouched(void **state)
{
	struct fx *f = *state;
	myco_chan_msg_t m;

	fault(0, MYCO__CHAOS_DROP, UINT32_MAX, 1, 0, 0);
	tbl.slot[0].chan = myco__chaos_chan_hash("y");
	send_n(f, 1, 3);
	for (uint64_t v = 1; v <= 3; v++) {
		assert_int_equal(myco_chan_recv(f->c, &m, 0), 0);
		assert_int_equal(val(&m), v);
		assert_int_equal(myco_chan_done(f->c, &m), 0);
	}
	disarm();
}

/* Call replies, faulted at the client: a dropped reply never arrives (the
 * call times out), a corrupted one has bits flipped, a delayed one comes
 * no sooner than the delay, a stall holds them until it ends or the call's
 * timeout; a server endpoint of the same channel sees its requests as
 * they are (the faults are the client's). */
static void t_replies(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_config_t cfg;
	myco_chan_t *cl, *sv;
	myco_chan_msg_t m;
	uint64_t rep, corr, t0;
	size_t rl;

	(void)state;
	myco_chan_config_init(&cfg, MYCO_CHAN_CALL);
	cfg.msg_size = 8;
	cfg.depth = 8;
	assert_int_equal(myco_chan_create(&cfg, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_CLIENT, &cl), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_SERVER, &sv), 0);
	myco__chaos_tag(cl, "x");
#define ANSWER(v) do { \
		uint64_t a_ = (v); \
		assert_int_equal(myco_chan_recv(sv, &m, 0), 0); \
		assert_int_equal(myco_chan_reply(sv, &m, &a_, sizeof(a_)), 0); \
		assert_int_equal(myco_chan_done(sv, &m), 0); \
	} while (0)
	/* drop */
	fault(0, MYCO__CHAOS_DROP, UINT32_MAX, 1, 0, 0);
	assert_int_equal(myco_chan_call_send(cl, &corr, 8, &corr), 0);
	ANSWER(11);
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 1000000), -ETIMEDOUT);
	assert_int_equal(myco_chan_ready(cl), 0);        /* it was consumed */
	disarm();
	/* corrupt: one bit */
	fault(0, MYCO__CHAOS_CORRUPT, UINT32_MAX, 2, 1, 0);
	assert_int_equal(myco_chan_call_send(cl, &corr, 8, &corr), 0);
	ANSWER(0);
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 1000000000), 0);
	assert_int_equal(__builtin_popcountll(rep), 1);
	disarm();
	/* delay 20 ms: at least that long (a lower bound) */
	fault(0, MYCO__CHAOS_DELAY, UINT32_MAX, 3, 20000000, 0);
	assert_int_equal(myco_chan_call_send(cl, &corr, 8, &corr), 0);
	ANSWER(33);
	t0 = myco__now_raw();
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 5000000000ll), 0);
	assert_true(myco__now_raw() - t0 >= 20000000u);
	assert_int_equal(rep, 33);
	/* ... longer than the call's timeout: it times out */
	assert_int_equal(myco_chan_call_send(cl, &corr, 8, &corr), 0);
	ANSWER(34);
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 1000000), -ETIMEDOUT);
	disarm();
	/* stall: replies stay in the ring until it ends */
	fault(0, MYCO__CHAOS_STALL, UINT32_MAX, 4, 0, 0);
	assert_int_equal(myco_chan_call_send(cl, &corr, 8, &corr), 0);
	ANSWER(44);
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 2000000), -ETIMEDOUT);
	assert_int_equal(myco_chan_ready(cl), 1);        /* still there */
	disarm();
	assert_int_equal(myco_chan_call_wait(cl, corr, &rep, 8, &rl, 0), 0);
	assert_int_equal(rep, 44);
	assert_true(tbl.applied[MYCO__CHAOS_DROP] >= 1 && tbl.applied[MYCO__CHAOS_CORRUPT] >= 1 &&
		    tbl.applied[MYCO__CHAOS_DELAY] >= 2 && tbl.applied[MYCO__CHAOS_STALL] >= 1);
#undef ANSWER
	myco_chan_close(cl);
	myco_chan_close(sv);
	myco_chan_owner_close(o);
}

/* Sample values, faulted at the reader: a dropped or stalled value is
 * replaced by the one the reader had (older, its age grown), a corrupted
 * one has bits flipped; seeded by the write number. */
static void t_sample(void **state)
{
	myco_chan_owner_t *o;
	myco_chan_config_t cfg;
	myco_chan_t *w, *r;
	myco_chan_sample_info_t in;
	uint64_t v, got;

	(void)state;
	myco_chan_config_init(&cfg, MYCO_CHAN_SAMPLE);
	cfg.msg_size = 8;
	assert_int_equal(myco_chan_create(&cfg, &o), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_WRITER, &w), 0);
	assert_int_equal(attach_role(o, MYCO_CHAN_READER, &r), 0);
	myco__chaos_tag(r, "x");
	/* a stall before any value was read: none to give */
	fault(0, MYCO__CHAOS_STALL, UINT32_MAX, 5, 0, 0);
	v = 1;
	assert_int_equal(myco_chan_sample_write(w, &v, 8), 0);
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), -ENODATA);
	assert_int_equal(myco_chan_sample_wait(r, 0, 1000000), -ETIMEDOUT);
	disarm();
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 1);
	/* stall: the value before, at its seq */
	fault(0, MYCO__CHAOS_STALL, UINT32_MAX, 5, 0, 0);
	v = 2;
	assert_int_equal(myco_chan_sample_write(w, &v, 8), 0);
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 1);
	assert_int_equal(in.seq, 1);
	disarm();
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 2);
	/* drop every write: still the one before */
	fault(0, MYCO__CHAOS_DROP, UINT32_MAX, 6, 0, 0);
	v = 3;
	assert_int_equal(myco_chan_sample_write(w, &v, 8), 0);
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 2);
	disarm();
	/* corrupt: one bit of the value handed out; the next read is clean */
	fault(0, MYCO__CHAOS_CORRUPT, UINT32_MAX, 7, 1, 0);
	v = 0;
	assert_int_equal(myco_chan_sample_write(w, &v, 8), 0);
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(__builtin_popcountll(got), 1);
	disarm();
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 0);
	/* another channel's faults do not touch it */
	fault(0, MYCO__CHAOS_STALL, UINT32_MAX, 5, 0, 0);
	tbl.slot[0].chan = myco__chaos_chan_hash("y");
	v = 9;
	assert_int_equal(myco_chan_sample_write(w, &v, 8), 0);
	assert_int_equal(myco_chan_sample_read(r, &got, 8, &in), 0);
	assert_int_equal(got, 9);
	disarm();
	myco_chan_close(w);
	myco_chan_close(r);
	myco_chan_owner_close(o);
}

static void t_skew(void **state)
{
	(void)state;
	tbl.skew_ns = 5000000000000ll;
	assert_true(myco_now() - myco__now_raw() >= 4999000000000ull);
	tbl.skew_ns = 0;
	uint64_t raw = myco__now_raw(), now = myco_now();
	assert_true(now >= raw && now - raw < 1000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(t_drop_seeded, setup, teardown),
		cmocka_unit_test_setup_teardown(t_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(t_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(t_crash_keeps_all, setup, teardown),
		cmocka_unit_test_setup_teardown(t_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(t_stall_bandwidth, setup, teardown),
		cmocka_unit_test_setup_teardown(t_other_channel_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(t_skew, setup, teardown),
		cmocka_unit_test_setup_teardown(t_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(t_sample, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
