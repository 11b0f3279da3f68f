/*
 * fuzz_region.c: libFuzzer harness for lib/chan's distrust of shared memory.
 * The input picks a channel kind and policy, then drives a sequence of
 * operations on a producer/consumer (writer/reader, client/server) pair
 * interleaved with writes of fuzzer-chosen bytes at fuzzer-chosen offsets
 * of the writable segments, i.e. a hostile peer scribbling between our calls
 * (of any side: the harness plays every peer at once).  Every
 * call must return cleanly (0 or a negative errno), every message handed
 * out must lie inside the mapping, and nothing may loop forever.
 * Built as fuzz_chan_region (-Dfuzz=true); tests/unit/chan also links it
 * with a random driver so the plain/ASan test suite runs it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "myco/chan.h"
#include "../../../lib/chan/chan_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const myco_chan_t *ch, const void *p, size_t len)
{
	const uint8_t *b = ch->base, *q = p;

	if (q < b || q > b + ch->g.size || len > (size_t)(b + ch->g.size - q)) {
		fprintf(stderr, "fuzz_region: message outside the mapping\n");
		abort();
	}
	if (len) {   /* touch both ends */
		volatile uint8_t x = q[0];
		x ^= q[len - 1];
		(void)x;
	}
}

static void check_rc(int rc)
{
	if (rc > 0x100000 || rc < -0x100000) {
		fprintf(stderr, "fuzz_region: odd return %d\n", rc);
		abort();
	}
}

static int attach_role(myco_chan_owner_t *o, myco_chan_role_t role, myco_chan_t **out)
{
	myco_chan_attach_opts_t opts = { .spin = 0, .flags = 0 };
	int fds[MYCO_CHAN_MAX_FDS];
	int n = myco_chan_cap_fds(o, role, 0, fds, MYCO_CHAN_MAX_FDS);

	if (n < 0)
		return n;
	n = myco_chan_attach(fds, (size_t)n, role, 0, &opts, out);
	/* Timeouts in the header are the owner's configuration; a peer that
	 * forges them (with a valid header checksum) can stall the channel,
	 * as it could by simply not consuming.  Keep the harness's calls
	 * non-blocking regardless. */
	if (n == 0) {
		(*out)->g.block_timeout_ns = 0;
		(*out)->g.call_timeout_ns = 0;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco_chan_config_t c;
	myco_chan_owner_t *o = NULL;
	myco_chan_t *a = NULL, *b = NULL;
	myco_chan_role_t ra, rb;
	myco_chan_loan_t loan = { 0 };
	myco_chan_msg_t held[8];
	uint8_t *map;
	size_t msz = 0, i, nheld = 0;
	uint8_t buf[256];

	if (size < 2)
		return 0;
	myco_chan_config_init(&c, (myco_chan_kind_t)(1 + data[0] % 3));
	c.policy = (myco_chan_policy_t)(1 + (data[0] / 3) % 3);
	c.depth = 4;
	c.msg_size = 24 + (data[1] & 31);
	c.producers = c.readers = c.clients = 1 + (data[1] >> 6);
	c.block_timeout_ns = 0;
	c.call_timeout_ns = 0;
	c.spin = 0;
	if (c.kind == MYCO_CHAN_CALL && c.policy == MYCO_CHAN_DROP_OLDEST)
		c.policy = MYCO_CHAN_REJECT;
	if (c.kind == MYCO_CHAN_QUEUE && c.policy != MYCO_CHAN_DROP_OLDEST && (data[1] & 32)) {
		c.loan_block_size = 128;
		c.loan_blocks = 6;
	}
	if (myco_chan_create(&c, &o))
		abort();
	ra = c.kind == MYCO_CHAN_QUEUE ? MYCO_CHAN_PRODUCER :
	     c.kind == MYCO_CHAN_SAMPLE ? MYCO_CHAN_WRITER : MYCO_CHAN_CLIENT;
	rb = c.kind == MYCO_CHAN_QUEUE ? MYCO_CHAN_CONSUMER :
	     c.kind == MYCO_CHAN_SAMPLE ? MYCO_CHAN_READER : MYCO_CHAN_SERVER;
	if (attach_role(o, ra, &a) || attach_role(o, rb, &b))
		abort();
	/* The owner's read-write view of every segment but the header (sealed
	 * against writes: nobody can scribble it). */
	{
		struct myco_chan *v = myco__chan_owner_view(o);

		map = v->base + v->g.main_off;
		msz = v->g.size - v->g.main_off;
	}
	memset(buf, 0x5a, sizeof(buf));

	for (i = 2; i + 3 <= size; i += 3) {
		uint8_t op = data[i], x = data[i + 1], y = data[i + 2];
		uint16_t off = (uint16_t)(x | (y << 8));
		myco_chan_msg_t m;
		myco_chan_sample_info_t info;
		myco_chan_stats_t st;
		size_t rl;
		int rc = 0;

		switch (op % 20) {
		case 0: case 1: case 2:       /* scribble: the hostile peer */
			map[off % msz] = (uint8_t)(op ^ y);
			break;
		case 3:                       /* scribble a 64-bit word (index-sized) */
			{
				uint64_t v = (uint64_t)x << (y % 57);
				memcpy(map + ((size_t)off * 8) % (msz - 8), &v, 8);
			}
			break;
		case 4:
			rc = myco_chan_send(a, buf, x % (c.msg_size + 2));
			break;
		case 5:
			{
				struct iovec iov[3] = { { buf, 8 }, { buf, 16 }, { buf, c.msg_size } };
				rc = myco_chan_send_batch(a, iov, 1 + x % 3);
			}
			break;
		case 6:
			rc = myco_chan_recv(b, &m, 0);
			if (rc == 0) {
				check_inside(b, m.data, m.len);
				if (nheld < 8)
					held[nheld++] = m;
			}
			break;
		case 7:
			if (nheld) {
				rc = myco_chan_done(b, &held[x % nheld]);
				nheld = 0;
			}
			break;
		case 8:
			rc = myco_chan_done_all(b);
			nheld = 0;
			break;
		case 9:
			{
				myco_chan_msg_t ms[4];
				int k;
				rc = myco_chan_recv_batch(b, ms, 4, 0);
				for (k = 0; k < rc; k++)
					check_inside(b, ms[k].data, ms[k].len);
				if (rc > 0)
					rc = myco_chan_done_all(b);
				nheld = 0;
			}
			break;
		case 10:
			rc = myco_chan_recv_copy(b, buf, sizeof(buf), &m, 0);
			break;
		case 11:
			rc = myco_chan_sample_write(a, buf, x % (c.msg_size + 1));
			break;
		case 12:
			rc = myco_chan_sample_read(b, buf, sizeof(buf), &info);
			if (rc == 0 && info.len > c.msg_size)
				abort();
			break;
		case 13:
			rc = myco_chan_call_wait(a, x, buf, sizeof(buf), &rl, 0);
			if (rc == 0 && rl > c.msg_size)
				abort();
			break;
		case 14:
			if (nheld)
				rc = myco_chan_reply(b, &held[x % nheld], buf, y % c.msg_size);
			break;
		case 15:
			if (!loan.data) {
				rc = myco_chan_loan(a, 1 + (size_t)off % 700, &loan);
				if (rc == 0) {
					check_inside(a, loan.data, loan.cap);
					memset(loan.data, 0x11, loan.cap);
				}
			} else if (x & 1) {
				rc = myco_chan_loan_send(a, &loan, loan.cap);
				if (rc)
					myco_chan_loan_cancel(a, &loan);
				loan.data = NULL;
			} else {
				rc = myco_chan_loan_cancel(a, &loan);
				loan.data = NULL;
			}
			break;
		case 16:
			rc = myco_chan_ready(a);
			check_rc(rc);
			rc = myco_chan_ready(b);
			break;
		case 17:
			rc = myco_chan_arm(x & 1 ? a : b);
			check_rc(rc);
			rc = myco_chan_disarm(x & 1 ? a : b);
			break;
		case 18:                      /* a side "dies" and is replaced */
			loan.data = NULL;
			nheld = 0;
			if (x & 1) {
				myco_chan_close(a);
				a = NULL;
				myco_chan_recover(o, ra, 0);
				if (attach_role(o, ra, &a))
					goto out;
			} else {
				myco_chan_close(b);
				b = NULL;
				myco_chan_recover(o, rb, 0);
				/* a call server's in-flight calls failed by the owner
				 * (over whatever the peers scribbled) */
				if (rb == MYCO_CHAN_SERVER && (y & 1)) {
					uint64_t nf, nk;
					check_rc(myco_chan_owner_fail_calls(o, -ECONNRESET, &nf, &nk));
				}
				if (attach_role(o, rb, &b))
					goto out;
			}
			break;
		default:
			{
				myco_chan_faults_t fl;
				myco_chan_owner_faults(o, &fl);
			}
			myco_chan_owner_stats(o, &st);
			rc = myco_chan_stats(b, &st);
			break;
		}
		check_rc(rc);
	}
out:
	myco_chan_close(a);
	myco_chan_close(b);
	myco_chan_owner_close(o);
	return 0;
}
