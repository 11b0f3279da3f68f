/*
 * chansrc.c: channel endpoints (myco/chan.h) as coroutine event sources:
 * the ring is checked first with myco_chan_ready() (plain loads, no
 * syscall); only when the operation would block is the endpoint armed and
 * its eventfd polled through io_uring while the coroutine yields.
 * Record and replay (docs/replay.md): recording, a channel wait writes its
 * result (and the loop the wake-ups of its polls); replaying, it never
 * touches the channel: it parks while the log's next record is a wake-up
 * and returns the recorded result.
 * Not for: the channel protocol itself (lib/chan).
 */
#include <errno.h>

#include "myco/chan.h"
#include "rt_int.h"
#include "../replay/replay.h"

static bool ch_ready(void *obj)
{
	return myco_chan_ready(obj) != 0; /* 1 ready, <0 broken: let the
					     real call report it */
}

static int ch_arm(void *obj)
{
	return myco_chan_arm(obj);
}

static void ch_disarm(void *obj)
{
	(void)myco_chan_disarm(obj);
}

static int chan_wait(struct myco_chan *ch, myco_loop_t *l, int64_t timeout_ns);

/* Replay: unless the next record is this wait's result (the recorded
 * wait returned at once), park: the log's WAKE records wake us as the
 * recorded polls were woken, until our result is next. */
static int rp_chan_wait(struct myco_chan *ch, myco_loop_t *l)
{
	uint16_t id = myco__rec_chan_id(ch);
	myco_co_t *co = l->cur;

	while (!co->cancelled && !myco__rec_rt_cwait_next(id, co->rec_serial)) {
		myco__wait_t wt = { .kind = MYCO__WAIT_PLAIN };
		(void)myco__park(&wt, -1);
	}
	return myco__rec_rt_cwait_take(id);
}

int myco_co_chan_wait(struct myco_chan *ch, int64_t timeout_ns)
{
	if (!ch)
		return -EINVAL;
	myco_loop_t *l = myco__tls_loop;
	if (!l || !l->cur)
		return -EPERM;
	if (__builtin_expect(myco__rec_rt != 0, 0)) {
		if (myco__rec_rt == 2)
			return rp_chan_wait(ch, l);
		myco_co_t *co = l->cur;
		co->rec_chan_wait = true;
		int r = chan_wait(ch, l, timeout_ns);
		co->rec_chan_wait = false;
		myco__rec_rt_cwait(myco__rec_chan_id(ch), co->rec_serial, r);
		return r;
	}
	return chan_wait(ch, l, timeout_ns);
}

static int chan_wait(struct myco_chan *ch, myco_loop_t *l, int64_t timeout_ns)
{
	int r = myco_chan_ready(ch);
	if (r < 0)
		return r;
	if (r > 0) {
		MYCO__ST_ADD(l, src_fast, 1);
		return 0;
	}
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	r = myco_wait_source(ch_ready, ch_arm, ch_disarm, ch,
			     myco_chan_fd(ch), timeout_ns);
	if (r == 0 && myco_chan_ready(ch) < 0)
		return -EPROTO;
	return r;
}

static uint64_t dl_of(int64_t t)
{
	return t < 0 ? UINT64_MAX : myco_now() + (uint64_t)t;
}

static int64_t left(uint64_t dl, int64_t t)
{
	if (t < 0)
		return MYCO_FOREVER;
	uint64_t now = myco_now();
	return dl > now ? (int64_t)(dl - now) : 0;
}

int myco_co_chan_recv(struct myco_chan *ch, struct myco_chan_msg *msg,
		      int64_t timeout_ns)
{
	uint64_t dl = dl_of(timeout_ns);
	if (!myco__cur())
		return -EPERM;
	for (bool first = true;; first = false) {
		int r = myco_chan_recv(ch, msg, 0);
		if (r != -EAGAIN && r != -ETIMEDOUT) {
			if (first && r >= 0)
				MYCO__ST_ADD(myco__tls_loop, src_fast, 1);
			return r;
		}
		int64_t t = left(dl, timeout_ns);
		if (t == 0)
			return -ETIMEDOUT;
		r = myco_co_chan_wait(ch, t);
		if (r < 0)
			return r;
	}
}

int myco_co_chan_recv_copy(struct myco_chan *ch, void *buf, size_t cap,
			   struct myco_chan_msg *info, int64_t timeout_ns)
{
	uint64_t dl = dl_of(timeout_ns);
	if (!myco__cur())
		return -EPERM;
	for (bool first = true;; first = false) {
		int r = myco_chan_recv_copy(ch, buf, cap, info, 0);
		if (r != -EAGAIN && r != -ETIMEDOUT) {
			if (first && r >= 0)
				MYCO__ST_ADD(myco__tls_loop, src_fast, 1);
			return r;
		}
		int64_t t = left(dl, timeout_ns);
		if (t == 0)
			return -ETIMEDOUT;
		r = myco_co_chan_wait(ch, t);
		if (r < 0)
			return r;
	}
}

int myco_co_chan_send(struct myco_chan *ch, const void *buf, size_t len,
		      int64_t timeout_ns)
{
	uint64_t dl = dl_of(timeout_ns);
	if (!myco__cur())
		return -EPERM;
	for (bool first = true;; first = false) {
		int r = myco_chan_send_timeout(ch, buf, len, 0);
		if (r != -EAGAIN && r != -ETIMEDOUT) {
			if (first && r >= 0)
				MYCO__ST_ADD(myco__tls_loop, src_fast, 1);
			return r;
		}
		int64_t t = left(dl, timeout_ns);
		if (t == 0)
			return timeout_ns == 0 ? -EAGAIN : -ETIMEDOUT;
		r = myco_co_chan_wait(ch, t);
		if (r < 0)
			return r;
	}
}
