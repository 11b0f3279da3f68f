/*
 * wheel.c: hierarchical timing wheel for the loop's timers, sleeps and
 * timeouts.  8 levels of 64 slots; a tick is 1024 ns, so level L slots are
 * 64^L ticks wide and the wheel spans 2^48 ticks (~9 years); later expiries
 * wait on a far list and are re-filed as time advances.
 * Not for: cross-thread use (one wheel per loop, loop thread only).
 *
 * Invariant: a node at level L > 0 agrees with now_tick in every bit above
 * 6(L+1), and its 6-bit index at level L is strictly greater than now's
 * index there.  Nodes whose expiry lies beyond the current top-level span
 * (bits above 48 differ) wait on a "far" list until now enters the next
 * span.  So the start of the first occupied slot above now's index
 * at each level is a lower bound of its nodes' expiries, and the minimum
 * over levels is the next time anything can expire.  Advancing jumps
 * straight to that slot start (no per-tick work), re-files ("cascades")
 * the nodes of a higher-level slot, or fires a level-0 slot.  Expiry ticks
 * are rounded up, so nothing fires early; at most one tick late.
 * myco__wheel_next_ns() returns the exact next expiry (its tick) rather
 * than the slot start, so a sleeping loop wakes once per timer.
 */
#include <stddef.h>
#include <stdint.h>

#include "rt_int.h"

#define WBITS 6
#define WMASK ((uint64_t)MYCO__WHEEL_SLOTS - 1)
#define WMAX_TICK ((uint64_t)1 << (WBITS * MYCO__WHEEL_LEVELS))
#define DUE_LEVEL 0xff
#define FAR_LEVEL 0xfe
#define SPAN_BITS (WBITS * MYCO__WHEEL_LEVELS)

static void list_push(myco__tnode_t **head, myco__tnode_t *n)
{
	n->prev = NULL;
	n->next = *head;
	if (*head)
		(*head)->prev = n;
	*head = n;
}

static void list_unlink(myco__tnode_t **head, myco__tnode_t *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

void myco__wheel_init(myco__wheel_t *w, uint64_t now_ns)
{
	*w = (myco__wheel_t){0};
	w->now_tick = now_ns >> MYCO__WHEEL_SHIFT;
}

static void file_node(myco__wheel_t *w, myco__tnode_t *n)
{
	uint64_t t = (n->expire_ns >> MYCO__WHEEL_SHIFT) +
		     ((n->expire_ns & ((1u << MYCO__WHEEL_SHIFT) - 1)) != 0);
	if (n->expire_ns > UINT64_MAX - 1024)
		t = UINT64_MAX >> MYCO__WHEEL_SHIFT;
	if (t <= w->now_tick) {
		n->level = DUE_LEVEL;
		list_push(&w->due, n);
		return;
	}
	/* Beyond the current top-level span (bits above 48 differ from
	 * now's): keep on the far list, re-filed when now enters the next
	 * span. */
	uint64_t diff = t ^ w->now_tick;
	unsigned hb = 63u - (unsigned)__builtin_clzll(diff);
	unsigned level = hb / WBITS;
	if (level >= MYCO__WHEEL_LEVELS) {
		n->level = FAR_LEVEL;
		list_push(&w->far, n);
		return;
	}
	unsigned slot = (unsigned)((t >> (WBITS * level)) & WMASK);
	n->level = (uint8_t)level;
	n->slot = (uint8_t)slot;
	list_push(&w->slots[level][slot], n);
	w->occupied[level] |= (uint64_t)1 << slot;
}

void myco__wheel_add(myco__wheel_t *w, myco__tnode_t *n, uint64_t expire_ns)
{
	if (n->armed)
		myco__wheel_del(w, n);
	n->expire_ns = expire_ns;
	n->armed = true;
	w->count++;
	file_node(w, n);
}

void myco__wheel_del(myco__wheel_t *w, myco__tnode_t *n)
{
	if (!n->armed)
		return;
	if (n->level == DUE_LEVEL) {
		list_unlink(&w->due, n);
	} else if (n->level == FAR_LEVEL) {
		list_unlink(&w->far, n);
	} else {
		myco__tnode_t **head = &w->slots[n->level][n->slot];
		list_unlink(head, n);
		if (!*head)
			w->occupied[n->level] &= ~((uint64_t)1 << n->slot);
	}
	n->armed = false;
	w->count--;
}

/* First occupied slot start (in ticks) over all levels; UINT64_MAX if none.
 * *lvl / *slot say where. */
static uint64_t next_slot(const myco__wheel_t *w, unsigned *lvl,
			  unsigned *slot)
{
	uint64_t best = UINT64_MAX;
	if (w->far) {
		/* start of the next top-level span */
		best = ((w->now_tick >> SPAN_BITS) + 1) << SPAN_BITS;
		*lvl = FAR_LEVEL;
		*slot = 0;
	}
	for (unsigned L = 0; L < MYCO__WHEEL_LEVELS; L++) {
		if (!w->occupied[L])
			continue;
		unsigned idx = (unsigned)((w->now_tick >> (WBITS * L)) & WMASK);
		uint64_t mask = idx == 63 ? 0 :
			w->occupied[L] & (~(uint64_t)0 << (idx + 1));
		if (!mask)
			continue; /* cannot happen (invariant); skip */
		unsigned s = (unsigned)__builtin_ctzll(mask);
		unsigned shift = WBITS * (L + 1);
		uint64_t base = shift >= 64 ? 0 :
			(w->now_tick >> shift) << shift;
		uint64_t start = base | ((uint64_t)s << (WBITS * L));
		if (start < best) {
			best = start;
			*lvl = L;
			*slot = s;
		}
	}
	return best;
}

/* Longest slot list myco__wheel_next_ns() walks for the exact expiry. */
#define NEXT_WALK_MAX 32

uint64_t myco__wheel_next_ns(const myco__wheel_t *w)
{
	unsigned L, s;
	if (w->due)
		return 0;
	uint64_t t = next_slot(w, &L, &s);
	if (t == UINT64_MAX)
		return UINT64_MAX;
	if (L == FAR_LEVEL || L == 0)
		return t << MYCO__WHEEL_SHIFT; /* level 0: exact to a tick */
	/* Above level 0 the slot start is only a lower bound (a level-1
	 * slot is 64 ticks, 65 us, wide): a loop sleeping until it would
	 * wake early, cascade and sleep again, two wake-ups per period for
	 * a periodic task.  Lower levels hold only earlier expiries, so the
	 * earliest node of this slot is the next expiry: return it, rounded
	 * up to its tick as file_node() files it. */
	uint64_t min = UINT64_MAX;
	unsigned walked = 0;
	for (const myco__tnode_t *n = w->slots[L][s]; n; n = n->next) {
		if (++walked > NEXT_WALK_MAX)
			return t << MYCO__WHEEL_SHIFT;
		if (n->expire_ns < min)
			min = n->expire_ns;
	}
	if (min == UINT64_MAX || min > UINT64_MAX - 1024)
		return t << MYCO__WHEEL_SHIFT;
	uint64_t tick = (min >> MYCO__WHEEL_SHIFT) +
			((min & ((1u << MYCO__WHEEL_SHIFT) - 1)) != 0);
	return tick > t ? tick << MYCO__WHEEL_SHIFT : t << MYCO__WHEEL_SHIFT;
}

/* Fire the due list; fire callbacks may add or remove nodes. */
static unsigned fire_due(myco__wheel_t *w)
{
	unsigned n = 0;
	while (w->due) {
		myco__tnode_t *t = w->due;
		list_unlink(&w->due, t);
		t->armed = false;
		w->count--;
		n++;
		t->fire(t);
	}
	return n;
}

unsigned myco__wheel_advance(myco__wheel_t *w, uint64_t now_ns)
{
	uint64_t target = now_ns >> MYCO__WHEEL_SHIFT;
	unsigned fired = fire_due(w);

	for (;;) {
		unsigned L = 0, s = 0;
		uint64_t start = next_slot(w, &L, &s);
		if (start == UINT64_MAX || start > target)
			break;
		w->now_tick = start;
		myco__tnode_t *list;
		if (L == FAR_LEVEL) {
			list = w->far;
			w->far = NULL;
		} else {
			list = w->slots[L][s];
			w->slots[L][s] = NULL;
			w->occupied[L] &= ~((uint64_t)1 << s);
		}
		/* Re-file every node: at level 0 they are all due now; above,
		 * they move to a lower level (or become due). */
		while (list) {
			myco__tnode_t *n = list;
			list = n->next;
			n->next = n->prev = NULL;
			file_node(w, n);
		}
		fired += fire_due(w);
	}
	if (target > w->now_tick)
		w->now_tick = target;
	return fired;
}
