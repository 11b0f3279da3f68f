/*
 * broker.c: myco-log's broker core lifetime: open the store and the group
 * coordinator, run the timers (parked fetches, groups, async appends
 * completed), forget a closed connection's parked requests, close.
 * Requests enter through dispatch.c.  Not for: API handlers, storage
 * formats (store/), connection handling (net_rt.c).
 *
 * Everything here runs on the broker's loop thread.  The store's callbacks
 * (append durable, high watermark moved) may run on the store's sync thread:
 * they only queue work under lb->mu and poke lb->wakefd; the loop thread
 * picks it up in myco__lb_tick().
 */
#include "log_int.h"
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

int myco__lb_wakefd(const myco__lb_t *lb)
{
	return lb->wakefd;
}

void myco__lb_poke(myco__lb_t *lb)
{
	uint64_t one = 1;
	ssize_t n = write(lb->wakefd, &one, sizeof(one));
	(void)n;                /* a full counter: the loop wakes anyway */
}

static void on_hw(void *arg, const char *topic, int32_t partition, int64_t hw)
{
	myco__lb_t *lb = arg;
	(void)topic;
	(void)partition;
	(void)hw;
	/* On the loop thread (appends with fsync interval/never run there)
	 * the Produce handler rechecks parked fetches itself once it is done
	 * (myco__lh_produce); from the store's sync thread the eventfd makes
	 * the loop run the tick that does it.  One write per burst: the flag
	 * stays set until it is consumed. */
	if (atomic_exchange(&lb->hw_moved, 1) == 0 &&
	    !pthread_equal(pthread_self(), lb->loop_thread))
		myco__lb_poke(lb);
}

void myco__lb_topic_defaults(const myco__lb_t *lb, mls_topic_config *tc)
{
	mls_topic_config_init(tc);
	if (lb->cfg.segment_bytes > 0)
		tc->segment_bytes = lb->cfg.segment_bytes;
	if (lb->cfg.segment_ms != 0)
		tc->segment_ms = lb->cfg.segment_ms;
	if (lb->cfg.retention_ms != 0)
		tc->retention_ms = lb->cfg.retention_ms;
	if (lb->cfg.retention_bytes != 0)
		tc->retention_bytes = lb->cfg.retention_bytes;
}

void myco__lb_session_free(myco__lb_t *lb, void *session)
{
	(void)lb;
	myco__lsasl_free(session);
}

void myco__lb_conn_closed(myco__lb_t *lb, myco__lc_t *c)
{
	myco__lfetch_conn_closed(lb, c);
	myco__lproduce_conn_closed(lb, c);
	myco__lgroups_conn_closed(lb->groups, c);
}

int myco__lb_tick(myco__lb_t *lb)
{
	int64_t now = myco__lnow_ms(), next = now + 1000, fnext;
	uint64_t junk;
	bool moved;
	int gnext;

	if (read(lb->wakefd, &junk, sizeof(junk)) < 0) {
		/* EAGAIN: nothing queued by other threads */
	}
	myco__lproduce_drain(lb);
	moved = atomic_exchange(&lb->hw_moved, 0) != 0;
	fnext = myco__lfetch_recheck(lb, moved, now);
	if (fnext < next)
		next = fnext;
	gnext = myco__lgroups_tick(lb->groups, now);
	if (now + gnext < next)
		next = now + gnext;
	gnext = myco__ltxns_tick(lb->txns, now);
	if (now + gnext < next)
		next = now + gnext;
	return next > now ? (int)(next - now) : 0;
}

int myco__lb_open(const myco__lcfg_t *cfg, myco__lb_t **out)
{
	myco__lb_t *lb;
	mls_config sc;
	int rc;

	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->cfg = *cfg;
	lb->loop_thread = pthread_self();
	pthread_mutex_init(&lb->mu, NULL);
	lb->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lb->wakefd < 0) {
		rc = -errno;
		goto fail;
	}
	mls_config_init(&sc);
	sc.fsync_policy = cfg->fsync_mode;
	if (cfg->fsync_interval_ms > 0)
		sc.fsync_interval_ms = cfg->fsync_interval_ms;
	myco__lb_topic_defaults(lb, &sc.topic_defaults);
	sc.on_hw = on_hw;
	sc.on_hw_arg = lb;
	sc.retention_check_ms = cfg->retention_check_ms > 0 ? cfg->retention_check_ms : 60000;
	rc = mls_open(cfg->data_dir, &sc, &lb->st);
	if (rc < 0)
		goto fail;
	rc = myco__lgroups_new(lb->st, &lb->cfg, &lb->groups);
	if (rc < 0)
		goto fail;
	rc = myco__ltxns_open(lb->st, &lb->cfg, &lb->txns);
	if (rc < 0)
		goto fail;
	myco__lgroups_set_pending(lb->groups, myco__ltxn_offset_pending, lb->txns);
	*out = lb;
	return 0;
fail:
	if (lb->groups)
		myco__lgroups_free(lb->groups);
	if (lb->st)
		mls_close(lb->st);
	if (lb->wakefd >= 0)
		close(lb->wakefd);
	pthread_mutex_destroy(&lb->mu);
	free(lb);
	return rc;
}

void myco__lb_close(myco__lb_t *lb)
{
	if (!lb)
		return;
	myco__lfetch_free_all(lb);
	/* mls_close completes outstanding async appends (their callbacks run
	 * and queue completions), so free waiting produces afterwards. */
	mls_close(lb->st);
	myco__lproduce_drain(lb);
	myco__lproduce_free_all(lb);
	myco__lgroups_free(lb->groups);
	myco__ltxns_free(lb->txns);
	close(lb->wakefd);
	pthread_mutex_destroy(&lb->mu);
	free(lb);
}
