/*
 * timer.c: callback timers (myco_timer_t) on a loop's timing wheel.
 * Not for: coroutine sleeps and timeouts (they use wait records, loop.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "rt_int.h"
#include "../replay/replay.h"

struct myco_timer {
	myco__tnode_t tn;       /* first member */
	myco_timer_t *next, *prev; /* the loop's list of timers */
	myco_loop_t *loop;
	myco_timer_cb_t cb;
	void *arg;
	uint64_t repeat;
	bool in_cb, destroy_pending;
	uint32_t rec_serial;    /* record/replay: creation order on the loop */
};

static void timer_fire(myco__tnode_t *tn)
{
	myco_timer_t *t = (myco_timer_t *)tn; /* tn is the first member */
	if (__builtin_expect(myco__rec_rt == 1, 0))
		myco__rec_rt_wake(MYCO__RTW_TIMER, t->loop->index, t->rec_serial,
				  t->loop->rec_picks);
	if (t->repeat)
		myco__wheel_add(&t->loop->wheel, &t->tn,
				t->tn.expire_ns + t->repeat);
	t->in_cb = true;
	t->cb(t, t->arg);
	t->in_cb = false;
	if (t->destroy_pending)
		free(t);
}

int myco_timer_create(myco_loop_t *loop, myco_timer_t **out,
		      myco_timer_cb_t cb, void *arg)
{
	if (!loop || !out || !cb)
		return -EINVAL;
	myco_timer_t *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->tn.fire = timer_fire;
	t->rec_serial = ++loop->rec_ntimer;
	t->next = loop->timers;
	if (loop->timers)
		loop->timers->prev = t;
	loop->timers = t;
	*out = t;
	return 0;
}

int myco__timer_fire_serial(myco_loop_t *l, uint32_t serial)
{
	for (myco_timer_t *t = l->timers; t; t = t->next)
		if (t->rec_serial == serial && t->tn.armed) {
			myco__wheel_del(&l->wheel, &t->tn);
			timer_fire(&t->tn);
			return 0;
		}
	return -ENOENT;
}

static void unlink_timer(myco_timer_t *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else if (t->loop->timers == t)
		t->loop->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

void myco__timers_free(myco_loop_t *l)
{
	while (l->timers) {
		myco_timer_t *t = l->timers;
		unlink_timer(t);
		free(t);
	}
}

int myco_timer_start(myco_timer_t *t, uint64_t after_ns, uint64_t repeat_ns)
{
	if (!t)
		return -EINVAL;
	t->repeat = repeat_ns;
	if (after_ns > (uint64_t)INT64_MAX)
		after_ns = (uint64_t)INT64_MAX; /* ~292 years: never */
	myco__wheel_add(&t->loop->wheel, &t->tn, myco__now_unrec() + after_ns);
	return 0;
}

void myco_timer_stop(myco_timer_t *t)
{
	if (!t)
		return;
	t->repeat = 0;
	myco__wheel_del(&t->loop->wheel, &t->tn);
}

void myco_timer_destroy(myco_timer_t *t)
{
	if (!t)
		return;
	myco_timer_stop(t);
	unlink_timer(t);
	if (t->in_cb) {
		t->destroy_pending = true;
		return;
	}
	free(t);
}

bool myco_timer_active(const myco_timer_t *t)
{
	return t && t->tn.armed;
}
