/*
 * market.c: the market policy.  Task classes (coroutine names) declared
 * with myco_market_bid() hold credits and bid, every period, for the
 * period's time slots of their loop; the auction is proportional share
 * (docs/scheduling.md states the mechanism, its equilibrium and what
 * misreporting gains):
 *   - each period a class earns `income` credits (kept up to 4 periods'
 *     worth: no hoarding), and if it has ready work it bids
 *       bid = min(credits, base_bid * urgency)
 *     where urgency is 1 for a best-effort class and, for a class with a
 *     relative deadline D, D / max(slack, D / 16) (1 <= urgency <= 16),
 *     slack being the time left to the deadline of its oldest ready
 *     coroutine (ready time + D): a deadline class bids more as its
 *     deadline nears;
 *   - the S = period / slot slots go to the bidders in proportion to their
 *     bids (largest remainder for the rounding), each pays its bid
 *     (all-pay, Kelly's mechanism); the price of a slot is sum(bids) / S;
 *   - the scheduler runs, among classes with ready work, the one with the
 *     most unused allocated time (ties: the higher bid); when no class
 *     with ready work has time left, the highest bidder with ready work
 *     runs (work conserving), then undeclared coroutines (class -1).
 * Coroutines are cooperative: a class overruns its slots until its
 * coroutine yields, and the overrun is charged against the period.
 * Every auction also publishes the market in the process's metrics region
 * (lib/trace; the executive exports it with partition="..."):
 * myco_market_price{loop} (credits per slot), myco_market_bid{loop,class},
 * myco_market_credits{loop,class}, myco_market_slots_total{loop,class}.
 * Not for: the outer reservation of the partition (the executive), edf.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "myco/trace.h"
#include "rt_int.h"

static int market_get(myco_loop_t *l, myco__market_t **out);

void myco__market_auction(myco__mkt_class_t *c, unsigned n, unsigned slots,
			  uint64_t slot_ns, uint64_t now)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		myco__mkt_class_t *k = &c[i];
		/* income accumulates up to 4 periods' worth (credits given
		 * above that at declaration are kept, not cut) */
		uint64_t cap = 4 * k->income;
		if (k->credits < cap)
			k->credits = k->credits + k->income > cap ?
				     cap : k->credits + k->income;
		k->bid = 0;
		k->slots = 0;
		k->used_ns = 0;
		if (!k->ready)
			continue;
		uint64_t urg = 16; /* fixed point, 16 = 1.0 */
		if (k->deadline_ns) {
			uint64_t dl = k->oldest_ready_ns + k->deadline_ns;
			uint64_t slack = dl > now ? dl - now : 0;
			uint64_t floor = k->deadline_ns / 16;
			if (slack < floor)
				slack = floor;
			if (slack == 0)
				slack = 1;
			urg = 16 * k->deadline_ns / slack;
			if (urg < 16)
				urg = 16;
			if (urg > 256)
				urg = 256;
		}
		uint64_t b = k->base_bid * urg / 16;
		if (b > k->credits)
			b = k->credits;
		k->bid = b;
		sum += b;
	}
	if (!sum)
		return;
	/* proportional share, largest remainder */
	unsigned given = 0;
	uint64_t rem[MYCO__MKT_CLASSES];
	for (unsigned i = 0; i < n; i++) {
		unsigned __int128 x = (unsigned __int128)c[i].bid * slots;
		c[i].slots = (unsigned)(x / sum);
		rem[i] = (uint64_t)(x % sum);
		given += c[i].slots;
	}
	while (given < slots) {
		unsigned best = n;
		for (unsigned i = 0; i < n; i++)
			if (c[i].bid && (best == n || rem[i] > rem[best] ||
					 (rem[i] == rem[best] && c[i].bid > c[best].bid)))
				best = i;
		if (best == n)
			break;
		c[best].slots++;
		rem[best] = 0;
		given++;
	}
	for (unsigned i = 0; i < n; i++) {
		c[i].credits -= c[i].bid;
		c[i].alloc_ns = c[i].slots * slot_ns;
		c[i].total_slots += c[i].slots;
		c[i].total_paid += c[i].bid;
	}
}

/* ---- the loop's market --------------------------------------------------- */

struct myco__market {
	myco__mkt_class_t cls[MYCO__MKT_CLASSES];
	unsigned n;
	myco_co_t *qh[MYCO__MKT_CLASSES + 1], *qt[MYCO__MKT_CLASSES + 1];
	size_t qlen[MYCO__MKT_CLASSES + 1]; /* last: undeclared */
	uint64_t period_ns, slot_ns, period_end;
	unsigned slots;
	uint64_t auctions, auction_ns_total, auction_ns_max;
	uint64_t price; /* sum of bids / slots, last auction */
	/* published metrics (registered at the first auction after a class
	 * appears, on the loop thread: the loop index is known by then) */
	bool met_price;
	myco_metric_t m_price;
	struct {
		bool on;
		myco_metric_t bid, credits, slots;
	} met[MYCO__MKT_CLASSES];
};

static void publish(const myco_loop_t *l, myco__market_t *m)
{
	char lab[MYCO_METRIC_LABELS_MAX + 1];
	if (!m->met_price) {
		snprintf(lab, sizeof lab, "loop=\"%u\"", l->index);
		(void)myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE, "myco_market_price",
					   lab, &m->m_price);
		m->met_price = true;
	}
	myco_gauge_set(&m->m_price, (int64_t)m->price);
	for (unsigned i = 0; i < m->n; i++) {
		const myco__mkt_class_t *k = &m->cls[i];
		if (!m->met[i].on) {
			snprintf(lab, sizeof lab, "loop=\"%u\",class=\"%s\"", l->index, k->name);
			(void)myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE,
						   "myco_market_bid", lab, &m->met[i].bid);
			(void)myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_NONE,
						   "myco_market_credits", lab, &m->met[i].credits);
			(void)myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE,
						   "myco_market_slots_total", lab, &m->met[i].slots);
			m->met[i].on = true;
		}
		myco_gauge_set(&m->met[i].bid, (int64_t)k->bid);
		myco_gauge_set(&m->met[i].credits, (int64_t)k->credits);
		myco_counter_add(&m->met[i].slots, k->slots);
	}
}

int myco__market_new(myco_loop_t *l)
{
	myco__market_t *m;
	return market_get(l, &m);
}

static int market_get(myco_loop_t *l, myco__market_t **out)
{
	if (!l->mkt) {
		myco__market_t *m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->period_ns = l->opts.market_period_ns ? l->opts.market_period_ns
							: 10000000;
		m->slot_ns = l->opts.market_slot_ns ? l->opts.market_slot_ns
						    : 250000;
		if (m->slot_ns > m->period_ns)
			m->slot_ns = m->period_ns;
		m->slots = (unsigned)(m->period_ns / m->slot_ns);
		l->mkt = m;
	}
	*out = l->mkt;
	return 0;
}

int myco_market_bid(myco_loop_t *loop, const myco_bid_t *b)
{
	if (!loop || !b || !b->task_class || !*b->task_class ||
	    strlen(b->task_class) >= 32 || loop->policy != MYCO_POLICY_MARKET)
		return -EINVAL;
	myco__market_t *m;
	int rc = market_get(loop, &m);
	if (rc < 0)
		return rc;
	unsigned i;
	for (i = 0; i < m->n; i++)
		if (!strcmp(m->cls[i].name, b->task_class))
			break;
	if (i == m->n) {
		if (m->n >= MYCO__MKT_CLASSES)
			return -ENOSPC;
		m->n++;
		memset(&m->cls[i], 0, sizeof(m->cls[i]));
		snprintf(m->cls[i].name, sizeof m->cls[i].name, "%s",
			 b->task_class);
		m->cls[i].credits = b->income;
	}
	m->cls[i].income = b->income;
	m->cls[i].base_bid = b->bid;
	m->cls[i].deadline_ns = b->deadline_ns;
	/* coroutines resolved against the old table are looked up again */
	for (myco_co_t *co = loop->all; co; co = co->all_next)
		co->mkt_cls = -2;
	return 0;
}

static int class_of(myco__market_t *m, myco_co_t *co)
{
	if (co->mkt_cls == -2) {
		co->mkt_cls = -1;
		for (unsigned i = 0; i < m->n; i++)
			if (!strcmp(m->cls[i].name, co->name)) {
				co->mkt_cls = (int)i;
				break;
			}
	}
	return co->mkt_cls;
}

void myco__market_push(myco_loop_t *l, myco_co_t *co)
{
	myco__market_t *m = l->mkt; /* made with the loop */
	int c = class_of(m, co);
	unsigned q = c < 0 ? MYCO__MKT_CLASSES : (unsigned)c;
	co->rq_next = NULL;
	if (m->qt[q])
		m->qt[q]->rq_next = co;
	else
		m->qh[q] = co;
	m->qt[q] = co;
	m->qlen[q]++;
}

static void auction(myco_loop_t *l, myco__market_t *m, uint64_t now)
{
	for (unsigned i = 0; i < m->n; i++) {
		m->cls[i].ready = m->qlen[i] != 0;
		m->cls[i].oldest_ready_ns = m->qh[i] ? m->qh[i]->ready_ns : now;
	}
	uint64_t t0 = myco_now();
	myco__market_auction(m->cls, m->n, m->slots, m->slot_ns, now);
	uint64_t sum = 0;
	for (unsigned i = 0; i < m->n; i++)
		sum += m->cls[i].bid;
	m->price = m->slots ? sum / m->slots : 0;
	uint64_t d = myco_now() - t0;
	m->auctions++;
	m->auction_ns_total += d;
	if (d > m->auction_ns_max)
		m->auction_ns_max = d;
	publish(l, m);
}

myco_co_t *myco__market_pop(myco_loop_t *l, uint64_t now)
{
	myco__market_t *m = l->mkt;
	if (!m)
		return NULL;
	if (now >= m->period_end) {
		auction(l, m, now);
		/* next boundary on the period grid (missed ones are skipped) */
		uint64_t p = m->period_ns;
		m->period_end = m->period_end && now - m->period_end < p ?
				m->period_end + p : now + p;
	}
	int best = -1;
	int64_t best_left = 0;
	for (unsigned i = 0; i < m->n; i++) {
		if (!m->qlen[i])
			continue;
		int64_t left = (int64_t)m->cls[i].alloc_ns - (int64_t)m->cls[i].used_ns;
		if (left <= 0)
			continue;
		if (best < 0 || left > best_left ||
		    (left == best_left && m->cls[i].bid > m->cls[best].bid)) {
			best = (int)i;
			best_left = left;
		}
	}
	if (best < 0) { /* leftovers: highest bidder with work */
		for (unsigned i = 0; i < m->n; i++)
			if (m->qlen[i] && (best < 0 ||
					   m->cls[i].base_bid > m->cls[best].base_bid))
				best = (int)i;
	}
	unsigned q = best < 0 ? MYCO__MKT_CLASSES : (unsigned)best;
	myco_co_t *co = m->qh[q];
	if (!co)
		return NULL;
	m->qh[q] = co->rq_next;
	if (!m->qh[q])
		m->qt[q] = NULL;
	co->rq_next = NULL;
	m->qlen[q]--;
	return co;
}

void myco__market_charge(myco_loop_t *l, int cls, uint64_t ran_ns)
{
	myco__market_t *m = l->mkt;
	if (!m || cls < 0 || (unsigned)cls >= m->n)
		return;
	m->cls[cls].used_ns += ran_ns;
	m->cls[cls].total_ran_ns += ran_ns;
}

/* ---- MYCO_BIDS ----------------------------------------------------------- */

static const char *parse_u64(const char *p, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = p;
	while (*p >= '0' && *p <= '9') {
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
		if (p - s > 20)
			return NULL;
	}
	if (p == s)
		return NULL;
	*out = v;
	return p;
}

int myco__market_parse_bids(const char *s, size_t len, myco__bid_parsed_t *out,
			    unsigned *n)
{
	*n = 0;
	const char *p = s, *end = s + len;
	if (len == 0)
		return 0;
	for (;;) {
		if (*n >= MYCO__MKT_CLASSES)
			return -EINVAL;
		myco__bid_parsed_t *b = &out[*n];
		memset(b, 0, sizeof(*b));
		size_t k = 0;
		while (p < end && *p != ':') {
			char c = *p;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
			      c == '.') || k >= 31)
				return -EINVAL;
			b->name[k++] = c;
			p++;
		}
		if (k == 0 || p >= end)
			return -EINVAL;
		p++;
		/* the numbers need a terminator inside [s, end): copy them */
		char num[72];
		size_t m = 0;
		while (p < end && *p != ',' && m < sizeof num - 1)
			num[m++] = *p++;
		if (p < end && *p != ',')
			return -EINVAL;
		num[m] = 0;
		const char *q = num;
		if (!(q = parse_u64(q, 1000000000, &b->bid)) || *q++ != ':' ||
		    !(q = parse_u64(q, 1000000000, &b->income)) || *q++ != ':' ||
		    !(q = parse_u64(q, UINT64_MAX / 2, &b->deadline_ns)) || *q)
			return -EINVAL;
		if (b->bid == 0 || b->income == 0)
			return -EINVAL;
		for (unsigned i = 0; i < *n; i++)
			if (!strcmp(out[i].name, b->name))
				return -EINVAL;
		(*n)++;
		if (p >= end)
			return 0;
		p++; /* ',' */
		if (p >= end)
			return -EINVAL; /* trailing comma */
	}
}

int myco__market_env(myco_loop_t *l)
{
	const char *e = getenv("MYCO_BIDS");
	if (!e || !*e)
		return 0;
	myco__bid_parsed_t b[MYCO__MKT_CLASSES];
	unsigned n;
	int rc = myco__market_parse_bids(e, strlen(e), b, &n);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		rc = myco_market_bid(l, &(myco_bid_t){ b[i].name, b[i].income,
						      b[i].bid, b[i].deadline_ns });
		if (rc < 0)
			return rc;
	}
	return 0;
}

void myco__market_free(myco_loop_t *l)
{
	free(l->mkt);
	l->mkt = NULL;
}

int myco_market_stats(const myco_loop_t *loop, myco_market_stats_t *st)
{
	if (!loop || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	const myco__market_t *m = loop->mkt;
	if (!m)
		return 0;
	st->period_ns = m->period_ns;
	st->slots = m->slots;
	st->auctions = m->auctions;
	st->auction_ns_max = m->auction_ns_max;
	st->auction_ns_mean = m->auctions ? m->auction_ns_total / m->auctions : 0;
	st->price = m->price;
	st->nclasses = m->n;
	for (unsigned i = 0; i < m->n && i < MYCO_MARKET_MAX_CLASSES; i++) {
		const myco__mkt_class_t *k = &m->cls[i];
		snprintf(st->cls[i].name, sizeof st->cls[i].name, "%s", k->name);
		st->cls[i].credits = k->credits;
		st->cls[i].bid = k->bid;
		st->cls[i].slots = k->slots;
		st->cls[i].total_slots = k->total_slots;
		st->cls[i].total_paid = k->total_paid;
		st->cls[i].ran_ns = k->total_ran_ns;
	}
	return 0;
}
