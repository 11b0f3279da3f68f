/*
 * hook.c: the public channel operations that move data, as thin wrappers
 * over their bodies (myco__chan_*_raw in queue.c, sample.c, region.c): the
 * one place where a recorded or replayed handle (ch->rec, set by
 * lib/replay; docs/replay.md) leaves the normal path.  A handle that is
 * not recorded costs one load of ch->rec and one predictable branch.
 * Not for: the channel protocol itself (queue.c), recording (lib/replay).
 */
#include "chan_int.h"
#include "../replay/replay.h"

#define HOOKED(ch) __builtin_expect((ch)->rec != NULL, 0)

int myco_chan_send_timeout(myco_chan_t *ch, const void *buf, size_t len, int64_t timeout_ns)
{
	if (HOOKED(ch))
		return ch->rec->send(ch, buf, len, timeout_ns);
	return myco__chan_send_raw(ch, buf, len, timeout_ns);
}

int myco_chan_send_batch(myco_chan_t *ch, const struct iovec *msgs, size_t n)
{
	if (HOOKED(ch))
		return ch->rec->send_batch(ch, msgs, n);
	return myco__chan_send_batch_raw(ch, msgs, n);
}

int myco_chan_reserve(myco_chan_t *ch, void **slot, int64_t timeout_ns)
{
	if (HOOKED(ch))
		return ch->rec->reserve(ch, slot, timeout_ns);
	return myco__chan_reserve_raw(ch, slot, timeout_ns);
}

int myco_chan_publish(myco_chan_t *ch, size_t len)
{
	if (HOOKED(ch))
		return ch->rec->publish(ch, len);
	return myco__chan_publish_raw(ch, len);
}

int myco_chan_recv(myco_chan_t *ch, myco_chan_msg_t *msg, int64_t timeout_ns)
{
	if (HOOKED(ch))
		return ch->rec->recv(ch, msg, timeout_ns);
	return myco__chan_recv_raw(ch, msg, timeout_ns);
}

int myco_chan_recv_batch(myco_chan_t *ch, myco_chan_msg_t *msgs, size_t max,
			 int64_t timeout_ns)
{
	if (HOOKED(ch))
		return ch->rec->recv_batch(ch, msgs, max, timeout_ns);
	return myco__chan_recv_batch_raw(ch, msgs, max, timeout_ns);
}

int myco_chan_done(myco_chan_t *ch, const myco_chan_msg_t *msg)
{
	if (HOOKED(ch))
		return ch->rec->done(ch, msg);
	return myco__chan_done_raw(ch, msg);
}

int myco_chan_done_all(myco_chan_t *ch)
{
	if (HOOKED(ch))
		return ch->rec->done_all(ch);
	return myco__chan_done_all_raw(ch);
}

int myco_chan_reply(myco_chan_t *ch, const myco_chan_msg_t *req, const void *rep, size_t len)
{
	if (HOOKED(ch))
		return ch->rec->reply(ch, req, rep, len);
	return myco__chan_reply_raw(ch, req, rep, len);
}

int myco_chan_call_wait(myco_chan_t *ch, uint64_t corr, void *rep, size_t rep_cap,
			size_t *rep_len, int64_t timeout_ns)
{
	if (HOOKED(ch))
		return ch->rec->call_wait(ch, corr, rep, rep_cap, rep_len, timeout_ns);
	return myco__chan_call_wait_raw(ch, corr, rep, rep_cap, rep_len, timeout_ns);
}

int myco_chan_sample_write(myco_chan_t *ch, const void *buf, size_t len)
{
	if (HOOKED(ch))
		return ch->rec->sample_write(ch, buf, len);
	return myco__chan_sample_write_raw(ch, buf, len);
}

int myco_chan_sample_read(myco_chan_t *ch, void *buf, size_t cap, myco_chan_sample_info_t *info)
{
	if (HOOKED(ch))
		return ch->rec->sample_read(ch, buf, cap, info);
	return myco__chan_sample_read_raw(ch, buf, cap, info);
}

void myco_chan_close(myco_chan_t *ch)
{
	if (ch && HOOKED(ch)) {
		ch->rec->close(ch);
		return;
	}
	myco__chan_close_raw(ch);
}
