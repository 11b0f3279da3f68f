/*
 * broker.c: myco-log's broker core lifetime: open the store and the group
 * coordinator, run the timers (parked fetches, groups, async appends
 * completed), forget a closed connection's parked requests, close.
 * Requests enter through dispatch.c.  Not for: API handlers, storage
 * formats (store/), connection handling (net_rt.c).
 *
 * Each shard's state runs on its loop thread.  The store's callbacks
 * (append durable, high watermark moved) may run on the store's sync thread
 * or on another shard's thread: they only queue work under the shard's mu,
 * set flags and poke the shard's wakefd; its loop picks it up in
 * myco__lb_tick().
 */
#include "log_int.h"
#include "net.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

int myco__lb_wakefd(myco__lb_t *lb)
{
	return myco__lb_here(lb)->wakefd;
}

void myco__lb_poke(myco__lshard_t *sh)
{
	uint64_t one = 1;
	ssize_t n = write(sh->wakefd, &one, sizeof(one));
	(void)n;                /* a full counter: the loop wakes anyway */
}

myco__lshard_t *myco__lb_here(myco__lb_t *lb)
{
	unsigned i = lb->net.here ? lb->net.here(lb->net.arg) : 0;
	return &lb->sh[i < lb->nsh ? i : 0];
}

unsigned myco__lb_owner(const myco__lb_t *lb, const char *topic, int32_t part)
{
	uint32_t h = 2166136261u;     /* FNV-1a of the name, then the index */

	if (lb->nsh <= 1)
		return 0;
	for (const unsigned char *p = (const unsigned char *)topic; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (unsigned)((h + (uint32_t)part) % lb->nsh);
}

int myco__lb_post(myco__lb_t *lb, unsigned i, void (*fn)(void *), void *arg)
{
	if (!lb->net.post || lb->nsh <= 1) {
		fn(arg);
		return 0;
	}
	return lb->net.post(lb->net.arg, i, fn, arg);
}

void myco__lb_attach(myco__lb_t *lb, unsigned i)
{
	if (i < lb->nsh) {
		lb->sh[i].thread = pthread_self();
		lb->sh[i].attached = true;
	}
}

static void on_hw(void *arg, const char *topic, int32_t partition, int64_t hw)
{
	myco__lb_t *lb = arg;
	pthread_t self = pthread_self();
	(void)topic;
	(void)partition;
	(void)hw;
	/* Every shard with parked fetches looks again (a fetch may wait for
	 * partitions of several shards).  On a shard's own thread the
	 * Produce handler rechecks itself once it is done (myco__lh_produce);
	 * from other threads the eventfd makes that loop run the tick that
	 * does it.  One write per burst: the flag stays set until consumed.
	 * A fetch counts itself in `parked` before it looks at the offsets,
	 * so a move it did not see finds it counted here. */
	for (unsigned i = 0; i < lb->nsh; i++) {
		myco__lshard_t *sh = &lb->sh[i];
		if (atomic_load(&sh->parked) == 0)
			continue;
		if (atomic_exchange(&sh->hw_moved, 1) == 0 &&
		    !(sh->attached && pthread_equal(self, sh->thread)))
			myco__lb_poke(sh);
	}
}

static int shard_init(myco__lb_t *lb, unsigned i)
{
	myco__lshard_t *sh = &lb->sh[i];

	sh->lb = lb;
	sh->idx = i;
	pthread_mutex_init(&sh->mu, NULL);
	sh->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return sh->wakefd < 0 ? -errno : 0;
}

int myco__lb_shards(myco__lb_t *lb, unsigned n, const myco__lnet_ops_t *ops)
{
	int rc;

	if (n < 1 || n > MYCO_LOG_SHARDS_MAX)
		return -EINVAL;
	for (unsigned i = lb->nsh; i < n; i++) {
		rc = shard_init(lb, i);
		if (rc < 0)
			return rc;
		lb->nsh = i + 1;
	}
	lb->net = *ops;
	return 0;
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

void myco__lb_conn_closed_on(myco__lb_t *lb, unsigned i, myco__lc_t *c)
{
	myco__lshard_t *sh = &lb->sh[i < lb->nsh ? i : 0];

	myco__lfetch_conn_closed(lb, sh, c);
	myco__lproduce_conn_closed(lb, sh, c);
	if (sh->idx == 0)
		myco__lgroups_conn_closed(lb->groups, c);
}

void myco__lb_conn_closed(myco__lb_t *lb, myco__lc_t *c)
{
	myco__lb_conn_closed_on(lb, myco__lb_here(lb)->idx, c);
}

int myco__lb_tick(myco__lb_t *lb)
{
	int64_t now = myco__lnow_ms(), next = now + 1000, fnext;
	myco__lshard_t *sh = myco__lb_here(lb);
	uint64_t junk;
	bool moved;
	int gnext;

	if (read(sh->wakefd, &junk, sizeof(junk)) < 0) {
		/* EAGAIN: nothing queued by other threads */
	}
	myco__lproduce_drain(lb, sh);
	moved = atomic_exchange(&sh->hw_moved, 0) != 0;
	fnext = myco__lfetch_recheck(lb, moved, now);
	if (fnext < next)
		next = fnext;
	if (sh->idx != 0)
		return next > now ? (int)(next - now) : 0;
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
	rc = shard_init(lb, 0);
	lb->nsh = 1;
	if (rc < 0)
		goto fail;
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
	if (lb->sh[0].wakefd >= 0)
		close(lb->sh[0].wakefd);
	pthread_mutex_destroy(&lb->sh[0].mu);
	free(lb);
	return rc;
}

void myco__lb_close(myco__lb_t *lb)
{
	if (!lb)
		return;
	for (unsigned i = 0; i < lb->nsh; i++)
		myco__lfetch_free_all(lb, &lb->sh[i]);
	/* mls_close completes outstanding async appends (their callbacks run
	 * and queue completions), so free waiting produces afterwards.  The
	 * loops are gone: no shard answers anything any more. */
	mls_close(lb->st);
	lb->net = (myco__lnet_ops_t){ 0 };
	for (unsigned i = 0; i < lb->nsh; i++)
		myco__lproduce_drain(lb, &lb->sh[i]);
	for (unsigned i = 0; i < lb->nsh; i++)
		myco__lproduce_free_all(lb, &lb->sh[i]);
	myco__lgroups_free(lb->groups);
	myco__ltxns_free(lb->txns);
	for (unsigned i = 0; i < lb->nsh; i++) {
		close(lb->sh[i].wakefd);
		pthread_mutex_destroy(&lb->sh[i].mu);
	}
	free(lb);
}
