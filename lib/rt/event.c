/*
 * event.c: myco_event_t, a sequence number that coroutines on any loop can
 * wait on and any thread can bump (a futex word for coroutines).
 * Not for: data (it only says "something changed"; re-check your state).
 *
 * Waiters are records on the waiting coroutine's stack, linked under the
 * event's mutex.  notify() bumps the sequence, takes the whole list and
 * marks each record CLAIMED under the mutex, then delivers each one on its
 * own loop (directly if that is the current loop, else through a post node
 * embedded in the record, so delivery cannot fail for lack of memory).  A
 * waiter that times out removes itself if still QUEUED; if it was CLAIMED
 * a delivery is in flight and it waits for it before its record (stack
 * frame) goes away.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "rt_int.h"

enum { EV_QUEUED = 0, EV_CLAIMED = 1, EV_DELIVERED = 2 };

typedef struct evw {
	struct evw *next, *prev;
	myco__wait_t w;
	myco_loop_t *loop;
	myco_event_t *ev;
	atomic_int state;
	myco__post_t post;
} evw_t;

struct myco_event {
	atomic_uint_fast64_t seq;
	pthread_mutex_t mu;
	evw_t *head;
};

int myco_event_create(myco_event_t **out)
{
	if (!out)
		return -EINVAL;
	myco_event_t *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	int rc = pthread_mutex_init(&ev->mu, NULL);
	if (rc) {
		free(ev);
		return -rc;
	}
	*out = ev;
	return 0;
}

void myco_event_destroy(myco_event_t *ev)
{
	if (!ev)
		return;
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

uint64_t myco_event_seq(const myco_event_t *ev)
{
	return atomic_load_explicit(&((myco_event_t *)ev)->seq,
				    memory_order_acquire);
}

static void unlink_locked(myco_event_t *ev, evw_t *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		ev->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* The waiting coroutine is being freed by myco_loop_destroy: take its
 * record (on the stack about to be unmapped) off the event's list.  A
 * delivery already claimed sits in the destroyed loop's post queue and is
 * never run. */
static void abandon(myco__wait_t *w)
{
	evw_t *r = (evw_t *)((char *)w - offsetof(evw_t, w));
	pthread_mutex_lock(&r->ev->mu);
	if (atomic_load(&r->state) == EV_QUEUED)
		unlink_locked(r->ev, r);
	pthread_mutex_unlock(&r->ev->mu);
}

static void deliver(void *arg)
{
	evw_t *r = arg;
	atomic_store(&r->state, EV_DELIVERED);
	myco__wake(&r->w, MYCO__WAKE_SIGNAL);
	/* r may be gone once its coroutine runs; not touched after. */
}

int myco_event_wait(myco_event_t *ev, uint64_t seen, int64_t timeout_ns)
{
	myco_loop_t *l = myco__tls_loop;
	myco_co_t *co = l ? l->cur : NULL;
	if (!co)
		return -EPERM;
	if (!ev)
		return -EINVAL;
	if (co->cancelled)
		return -ECANCELED;
	if (myco_event_seq(ev) != seen)
		return 0;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	evw_t r = { .loop = l, .ev = ev,
		    .w = { .kind = MYCO__WAIT_PLAIN, .on_abandon = abandon } };
	atomic_init(&r.state, EV_QUEUED);
	pthread_mutex_lock(&ev->mu);
	if (atomic_load(&ev->seq) != seen) {
		pthread_mutex_unlock(&ev->mu);
		return 0;
	}
	r.next = ev->head;
	if (ev->head)
		ev->head->prev = &r;
	ev->head = &r;
	pthread_mutex_unlock(&ev->mu);

	int reason = myco__park(&r.w, timeout_ns);
	if (atomic_load(&r.state) == EV_DELIVERED)
		return 0;
	pthread_mutex_lock(&ev->mu);
	if (atomic_load(&r.state) == EV_QUEUED) {
		unlink_locked(ev, &r);
		pthread_mutex_unlock(&ev->mu);
		return reason == MYCO__WAKE_CANCEL ? -ECANCELED : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&ev->mu);
	/* Claimed: a delivery is on its way; wait for it (cannot time out). */
	while (atomic_load(&r.state) != EV_DELIVERED) {
		r.w.reason = MYCO__WAKE_NONE;
		(void)myco__park(&r.w, -1);
	}
	return 0;
}

void myco_event_notify(myco_event_t *ev)
{
	if (!ev)
		return;
	atomic_fetch_add(&ev->seq, 1);
	pthread_mutex_lock(&ev->mu);
	evw_t *list = ev->head;
	ev->head = NULL;
	for (evw_t *r = list; r; r = r->next)
		atomic_store(&r->state, EV_CLAIMED);
	pthread_mutex_unlock(&ev->mu);
	myco_loop_t *cur = myco__tls_loop;
	while (list) {
		evw_t *r = list;
		list = r->next; /* read before delivery: r may vanish after */
		if (r->loop == cur) {
			deliver(r);
		} else {
			r->post.fn = deliver;
			r->post.arg = r;
			myco__post_node(r->loop, &r->post);
		}
	}
}
