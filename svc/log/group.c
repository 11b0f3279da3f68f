/*
 * group.c: myco-log's consumer group coordinator (single node: this broker
 * coordinates every group) and the group APIs: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch.
 * Not for: offset storage on disk (the store's mls_group_* functions).
 *
 * The state machine follows Kafka's GroupCoordinator: Empty ->
 * PreparingRebalance (JoinGroups are parked until every known member has
 * rejoined or the rebalance timeout expires; a new group also waits
 * --group-initial-delay so that members starting together land in one
 * generation) -> CompletingRebalance (SyncGroups parked until the leader
 * sends the assignment) -> Stable.  Members that stop heartbeating for
 * their session timeout are removed and the group rebalances; also in the
 * middle of a rebalance (only a member waiting for its JoinGroup or
 * SyncGroup answer counts as alive without heartbeats).  JoinGroup v4+
 * without a member id gets MEMBER_ID_REQUIRED (KIP-394); static members
 * (group.instance.id) take over their old membership when they restart.  Membership
 * lives in memory only (as in Kafka, a broker restart makes members rejoin);
 * committed offsets are durable.
 */
#include "log_int.h"
#include "repl.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { G_EMPTY, G_PREPARING, G_SYNCING, G_STABLE };

typedef struct {
	char *name;
	uint8_t *meta;
	int32_t metalen;
} proto_t;

typedef struct member {
	struct member *next;
	char *id, *instance_id, *client_id, *host;
	int32_t session_timeout, rebalance_timeout;
	proto_t *protos;
	size_t nprotos;
	uint8_t *assign;
	int32_t assignlen;
	int64_t last_hb;
	bool join_waiting, sync_waiting;
	myco__lreq_t join_req, sync_req;  /* conn/corr/ver/flex of parked reqs */
} member_t;

typedef struct group {
	struct group *next;
	myco__lgroups_t *owner;
	char *id;
	int state;
	int32_t generation;
	char *protocol_type, *protocol, *leader;
	member_t *members;
	int64_t deadline;        /* PREPARING: when the rebalance completes */
	int64_t initial_until;   /* new group: wait at least until then */
} group_t;

struct myco__lgroups {
	mls_store_t *st;            /* committed offsets */
	const myco__lcfg_t *cfg;
	group_t *groups;
	uint64_t next_member;
	struct pending *pending;    /* ids handed out with MEMBER_ID_REQUIRED */
	/* a transaction holds an offset not yet decided (require_stable) */
	bool (*txn_pending)(void *arg, const char *group, const char *topic, int32_t part);
	void *txn_pending_arg;
};

void myco__lgroups_set_pending(myco__lgroups_t *g,
			       bool (*fn)(void *arg, const char *group, const char *topic,
					  int32_t part), void *arg)
{
	g->txn_pending = fn;
	g->txn_pending_arg = arg;
}

/* A member id given out with MEMBER_ID_REQUIRED (KIP-394): the client must
 * rejoin with it within its session timeout. */
struct pending {
	struct pending *next;
	char *group, *id;
	int64_t expires;
};

enum { KERR_MEMBER_ID_REQUIRED = 79, KERR_FENCED_INSTANCE_ID = 82 };


static char *kdup(myco__kstr_t s)
{
	char *p;
	if (!s.p || s.len < 0)
		return NULL;
	p = malloc((size_t)s.len + 1);
	if (p) {
		memcpy(p, s.p, (size_t)s.len);
		p[s.len] = 0;
	}
	return p;
}

static bool keq(myco__kstr_t s, const char *z)
{
	return s.p && z && strlen(z) == (size_t)s.len && !memcmp(s.p, z, (size_t)s.len);
}

static void protos_free(member_t *m)
{
	size_t i;
	for (i = 0; i < m->nprotos; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	free(m->protos);
	m->protos = NULL;
	m->nprotos = 0;
}

static void member_free(member_t *m)
{
	protos_free(m);
	free(m->id);
	free(m->instance_id);
	free(m->client_id);
	free(m->host);
	free(m->assign);
	free(m);
}

static void group_free(group_t *g)
{
	member_t *m, *n;
	for (m = g->members; m; m = n) {
		n = m->next;
		member_free(m);
	}
	free(g->id);
	free(g->protocol_type);
	free(g->protocol);
	free(g->leader);
	free(g);
}

int myco__lgroups_new(mls_store_t *st, const myco__lcfg_t *cfg, myco__lgroups_t **out)
{
	myco__lgroups_t *gs = calloc(1, sizeof(*gs));
	if (!gs)
		return -ENOMEM;
	gs->st = st;
	gs->cfg = cfg;
	*out = gs;
	return 0;
}

void myco__lgroups_free(myco__lgroups_t *gs)
{
	group_t *g, *n;
	if (!gs)
		return;
	for (g = gs->groups; g; g = n) {
		n = g->next;
		group_free(g);
	}
	for (struct pending *pd = gs->pending, *pn; pd; pd = pn) {
		pn = pd->next;
		free(pd->group);
		free(pd->id);
		free(pd);
	}
	free(gs);
}

static group_t *group_find(myco__lgroups_t *gs, myco__kstr_t id)
{
	group_t *g;
	for (g = gs->groups; g; g = g->next)
		if (keq(id, g->id))
			return g;
	return NULL;
}

static member_t *member_find(group_t *g, myco__kstr_t id)
{
	member_t *m;
	if (!g)
		return NULL;
	for (m = g->members; m; m = m->next)
		if (keq(id, m->id))
			return m;
	return NULL;
}

static size_t nmembers(const group_t *g)
{
	size_t n = 0;
	const member_t *m;
	for (m = g->members; m; m = m->next)
		n++;
	return n;
}

/* ---- responses ---------------------------------------------------------- */

static void join_reply_id(group_t *g, member_t *m, myco__lreq_t *req, int16_t err,
			  const char *id);

static void join_reply(group_t *g, member_t *m, myco__lreq_t *req, int16_t err)
{
	join_reply_id(g, m, req, err, NULL);
}

static void join_reply_id(group_t *g, member_t *m, myco__lreq_t *req, int16_t err,
			  const char *id)
{
	int16_t v = req->ver;
	bool f = req->flex;
	myco__kwr_t w;
	const proto_t *pr;
	member_t *o;
	bool leader = !err && g && g->leader && m && !strcmp(g->leader, m->id);

	myco__lresp_begin(&w, req);
	if (v >= 2)
		myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_i32(&w, err ? -1 : g->generation);
	myco__kwr_str(&w, f, err ? "" : g->protocol);
	myco__kwr_str(&w, f, err ? "" : g->leader);
	myco__kwr_str(&w, f, id ? id : m && m->id ? m->id : "");
	if (!leader) {
		myco__kwr_array(&w, f, 0);
	} else {
		myco__kwr_array(&w, f, (int32_t)nmembers(g));
		for (o = g->members; o; o = o->next) {
			size_t i;
			pr = NULL;
			for (i = 0; i < o->nprotos; i++)
				if (!strcmp(o->protos[i].name, g->protocol))
					pr = &o->protos[i];
			myco__kwr_str(&w, f, o->id);
			if (v >= 5)
				myco__kwr_str(&w, f, o->instance_id);
			myco__kwr_bytes(&w, f, pr ? pr->meta : NULL, pr ? pr->metalen : 0);
			myco__kwr_tags(&w, f);
		}
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

static void sync_reply(myco__lreq_t *req, int16_t err, const uint8_t *a, int32_t alen)
{
	myco__kwr_t w;
	bool f = req->flex;

	myco__lresp_begin(&w, req);
	if (req->ver >= 1)
		myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	if (err)
		alen = 0;
	myco__kwr_bytes(&w, f, a, alen);
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

static void simple_reply(myco__lreq_t *req, int16_t err)
{
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	if (req->ver >= 1)
		myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	myco__kwr_tags(&w, req->flex);
	myco__lresp_send(req, &w);
}

/* ---- state machine ------------------------------------------------------ */

static void cancel_syncs(group_t *g, int16_t err)
{
	member_t *m;
	for (m = g->members; m; m = m->next)
		if (m->sync_waiting) {
			m->sync_waiting = false;
			sync_reply(&m->sync_req, err, NULL, 0);
		}
}

static void start_rebalance(group_t *g, int64_t now, int initial_delay)
{
	member_t *m;
	int32_t rt = 0;

	if (g->state == G_PREPARING)
		return;
	cancel_syncs(g, KERR_REBALANCE_IN_PROGRESS);
	for (m = g->members; m; m = m->next)
		if (m->rebalance_timeout > rt)
			rt = m->rebalance_timeout;
	if (g->state == G_EMPTY)
		g->initial_until = now + (initial_delay < rt ? initial_delay : rt);
	else
		g->initial_until = now;
	g->deadline = now + rt;
	g->state = G_PREPARING;
}

static void remove_member(group_t *g, member_t *m)
{
	member_t **pp = &g->members;
	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp)
		*pp = m->next;
	if (m->join_waiting)
		join_reply(g, m, &m->join_req, KERR_UNKNOWN_MEMBER_ID);
	if (m->sync_waiting)
		sync_reply(&m->sync_req, KERR_UNKNOWN_MEMBER_ID, NULL, 0);
	if (g->leader && !strcmp(g->leader, m->id)) {
		free(g->leader);
		g->leader = NULL;
	}
	member_free(m);
}

static void complete_join(group_t *g)
{
	member_t *m, *n, *first;
	size_t i;

	/* Members that did not rejoin in time are out. */
	for (m = g->members; m; m = n) {
		n = m->next;
		if (!m->join_waiting)
			remove_member(g, m);
	}
	g->generation++;
	if (!g->members) {
		g->state = G_EMPTY;
		free(g->protocol);
		g->protocol = NULL;
		return;
	}
	first = g->members;
	if (!g->leader || !member_find(g, (myco__kstr_t){ (const uint8_t *)g->leader,
							  (int32_t)strlen(g->leader) })) {
		free(g->leader);
		g->leader = strdup(first->id);
	}
	/* Protocol: the leader's first choice that every member supports. */
	free(g->protocol);
	g->protocol = NULL;
	for (m = g->members; m && strcmp(m->id, g->leader ? g->leader : ""); m = m->next)
		;
	if (!m)
		m = first;
	for (i = 0; i < m->nprotos && !g->protocol; i++) {
		member_t *o;
		bool all = true;
		for (o = g->members; o && all; o = o->next) {
			size_t j;
			bool has = false;
			for (j = 0; j < o->nprotos; j++)
				if (!strcmp(o->protos[j].name, m->protos[i].name))
					has = true;
			all = has;
		}
		if (all)
			g->protocol = strdup(m->protos[i].name);
	}
	if (!g->protocol || !g->leader) {
		/* Cannot happen: joins are checked for a common protocol. */
		for (m = g->members; m; m = n) {
			n = m->next;
			remove_member(g, m);
		}
		g->state = G_EMPTY;
		return;
	}
	g->state = G_SYNCING;
	if (g->owner->cfg->verbose)
		fprintf(stderr, "myco-log: group %s: generation %d, %zu members, leader %s, protocol %s\n",
			g->id, g->generation, nmembers(g), g->leader, g->protocol);
	for (m = g->members; m; m = m->next) {
		free(m->assign);
		m->assign = NULL;
		m->assignlen = 0;
		m->last_hb = myco__lnow_ms();
		m->join_waiting = false;
		join_reply(g, m, &m->join_req, 0);
	}
}

static void maybe_complete(group_t *g, int64_t now)
{
	member_t *m;

	if (g->state != G_PREPARING)
		return;
	if (now < g->deadline) {
		if (now < g->initial_until)
			return;
		for (m = g->members; m; m = m->next)
			if (!m->join_waiting)
				return;
	}
	complete_join(g);
}

int myco__lgroups_tick(myco__lgroups_t *gs, int64_t now)
{
	group_t *g;
	int64_t next = now + 1000;

	for (g = gs->groups; g; g = g->next) {
		member_t *m, *n;
		bool lost = false;

		for (m = g->members; m; m = n) {
			n = m->next;
			/* a member waiting for its JoinGroup or SyncGroup answer
			 * is alive; any other that has not been heard of for its
			 * session timeout is gone, also in the middle of a
			 * rebalance (a dead member or an abandoned JoinGroup must
			 * not hold the group for the rebalance timeout) */
			if (m->join_waiting || m->sync_waiting)
				continue;
			if (now - m->last_hb > m->session_timeout) {
				if (gs->cfg->verbose)
					fprintf(stderr, "myco-log: group %s: member %s expired\n",
						g->id, m->id);
				remove_member(g, m);
				lost = true;
			}
		}
		if (lost) {
			if (!g->members)
				g->state = G_EMPTY;
			else if (g->state != G_PREPARING)
				start_rebalance(g, now, 0);
		}
		maybe_complete(g, now);
		if (g->state == G_PREPARING) {
			int64_t t = now < g->initial_until ? g->initial_until : g->deadline;
			if (t < next)
				next = t;
		}
		for (m = g->members; m; m = m->next)
			if (!m->join_waiting && !m->sync_waiting &&
			    m->last_hb + m->session_timeout < next)
				next = m->last_hb + m->session_timeout;
	}
	for (struct pending **pp = &gs->pending; *pp;) {
		struct pending *pd = *pp;
		if (now > pd->expires) {
			*pp = pd->next;
			free(pd->group);
			free(pd->id);
			free(pd);
		} else {
			if (pd->expires < next)
				next = pd->expires;
			pp = &pd->next;
		}
	}
	if (next < now)
		next = now;
	return (int)(next - now);
}

void myco__lgroups_conn_closed(myco__lgroups_t *gs, myco__lc_t *c)
{
	group_t *g;
	member_t *m;

	for (g = gs->groups; g; g = g->next)
		for (m = g->members; m; m = m->next) {
			if (m->join_waiting && m->join_req.conn == c)
				m->join_waiting = false;
			if (m->sync_waiting && m->sync_req.conn == c)
				m->sync_waiting = false;
		}
}

/* ---- handlers ----------------------------------------------------------- */

void myco__lh_find_coordinator(myco__lgroups_t *gs, myco__lreq_t *req,
			       const myco__kfind_coordinator_t *m)
{
	int16_t err = 0;
	myco__kwr_t w;
	bool f = req->flex;
	const myco__lcfg_t *cfg = gs->cfg;

	int32_t node = 0;
	const char *host = cfg->host;
	int port = cfg->port;

	/* This broker coordinates every group and every transaction; in
	 * cluster mode the raft leader does (groups are not replicated). */
	if (m->key_type != 0 && m->key_type != 1)
		err = KERR_INVALID_REQUEST;
	if (!err && cfg->repl) {
		size_t n, k;
		const myco__peer_t *peers = myco__lrepl_peers(cfg->repl, &n);
		node = myco__lrepl_leader(cfg->repl);
		err = KERR_COORDINATOR_NOT_AVAILABLE;
		for (k = 0; k < n; k++)
			if ((int32_t)peers[k].id == node) {
				host = peers[k].host;
				port = (int)peers[k].port;
				err = 0;
			}
	}
	myco__lresp_begin(&w, req);
	if (req->ver >= 1)
		myco__kwr_i32(&w, 0);
	myco__kwr_i16(&w, err);
	if (req->ver >= 1)
		myco__kwr_str(&w, f, err == KERR_INVALID_REQUEST ? "unknown coordinator key type" :
				     err ? "no leader elected" : NULL);
	myco__kwr_i32(&w, err ? -1 : node);
	myco__kwr_str(&w, f, err ? "" : host);
	myco__kwr_i32(&w, err ? -1 : port);
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* A new member id: client id, a counter, the clock. */
static void make_id(myco__lgroups_t *gs, const myco__lreq_t *req, int64_t now, char id[160])
{
	int cl = req->client_id.len > 0 ? req->client_id.len : 0;
	if (cl > 64)
		cl = 64;
	snprintf(id, 160, "%.*s-%llu-%llx", cl, cl ? (const char *)req->client_id.p : "",
		 (unsigned long long)++gs->next_member, (unsigned long long)now);
}

static void kstr_copy_id(myco__kstr_t s, char id[160])
{
	size_t l = s.len > 0 ? (size_t)s.len : 0;
	if (l > 159)
		l = 159;
	memcpy(id, s.p, l);
	id[l] = 0;
}

/* Was id handed out for group gid with MEMBER_ID_REQUIRED?  Consumes it. */
static bool pending_take(myco__lgroups_t *gs, myco__kstr_t gid, myco__kstr_t id)
{
	for (struct pending **pp = &gs->pending; *pp; pp = &(*pp)->next) {
		struct pending *pd = *pp;
		if (keq(gid, pd->group) && keq(id, pd->id)) {
			*pp = pd->next;
			free(pd->group);
			free(pd->id);
			free(pd);
			return true;
		}
	}
	return false;
}

static member_t *instance_find(group_t *g, myco__kstr_t iid)
{
	for (member_t *m = g ? g->members : NULL; m; m = m->next)
		if (m->instance_id && keq(iid, m->instance_id))
			return m;
	return NULL;
}

/* A request naming a static instance whose membership another member id
 * took over is fenced (Kafka's FENCED_INSTANCE_ID). */
static bool fenced(group_t *g, myco__kstr_t iid, myco__kstr_t mid)
{
	member_t *o;
	if (!iid.p || iid.len <= 0 || !(o = instance_find(g, iid)))
		return false;
	return !keq(mid, o->id);
}

void myco__lh_join_group(myco__lgroups_t *gs, myco__lreq_t *req, const myco__kjoin_group_t *jg)
{
	myco__kstr_t gid = jg->group_id, mid = jg->member_id, ptype = jg->protocol_type;
	int32_t st = jg->session_timeout_ms, rt = jg->rebalance_timeout_ms, np = jg->nprotocols, i;
	group_t *g;
	member_t *m;
	int64_t now = myco__lnow_ms();
	int16_t err = 0;
	char newid[160];
	bool static_id = jg->group_instance_id.p && jg->group_instance_id.len > 0;

	if (!gid.p || gid.len <= 0 || gid.len > 255)
		err = KERR_INVALID_GROUP_ID;
	else if (st < 1000 || st > 3600000)
		err = KERR_INVALID_SESSION_TIMEOUT;
	else if (np <= 0 || !ptype.p || ptype.len <= 0)
		err = KERR_INCONSISTENT_GROUP_PROTOCOL;
	if (err) {
		join_reply(NULL, NULL, req, err);
		return;
	}
	g = group_find(gs, gid);
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g || !(g->id = kdup(gid))) {
			free(g);
			join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		g->state = G_EMPTY;
		g->owner = gs;
		g->next = gs->groups;
		gs->groups = g;
	}
	if (g->members && g->protocol_type && !keq(ptype, g->protocol_type)) {
		join_reply(NULL, NULL, req, KERR_INCONSISTENT_GROUP_PROTOCOL);
		return;
	}
	m = NULL;
	make_id(gs, req, now, newid);
	if (mid.len > 0) {
		m = member_find(g, mid);
		if (m && static_id && m->instance_id && !keq(jg->group_instance_id, m->instance_id)) {
			join_reply(NULL, NULL, req, KERR_FENCED_INSTANCE_ID);
			return;
		}
		if (!m && !pending_take(gs, gid, mid)) {
			join_reply(NULL, NULL, req, static_id ? KERR_FENCED_INSTANCE_ID
							      : KERR_UNKNOWN_MEMBER_ID);
			return;
		}
		if (!m)                        /* the id MEMBER_ID_REQUIRED gave */
			kstr_copy_id(mid, newid);
	} else if (static_id) {
		/* a static member back (a restarted process): it takes over
		 * its old membership under a new id; the old id is fenced */
		member_t *old = instance_find(g, jg->group_instance_id);
		if (old) {
			char *nid = strdup(newid);
			if (!nid) {
				join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
				return;
			}
			if (old->join_waiting) {
				old->join_waiting = false;
				join_reply(NULL, NULL, &old->join_req, KERR_FENCED_INSTANCE_ID);
			}
			if (old->sync_waiting) {
				old->sync_waiting = false;
				sync_reply(&old->sync_req, KERR_FENCED_INSTANCE_ID, NULL, 0);
			}
			if (g->leader && !strcmp(g->leader, old->id)) {
				free(g->leader);
				g->leader = strdup(nid);
			}
			free(old->id);
			old->id = nid;
			old->last_hb = now;
			if (gs->cfg->verbose)
				fprintf(stderr, "myco-log: group %s: static member %s rejoined as %s\n",
					g->id, old->instance_id, nid);
			if (g->state == G_STABLE && g->leader && strcmp(g->leader, nid)) {
				/* no rebalance: its assignment is still valid
				 * (SyncGroup hands it back) */
				join_reply(g, old, req, 0);
				return;
			}
			m = old;
		}
	} else if (req->ver >= 4) {
		/* KIP-394: hand out the id first; the member joins with it */
		struct pending *pd = calloc(1, sizeof(*pd));
		if (pd && (pd->group = kdup(gid)) && (pd->id = strdup(newid))) {
			pd->expires = now + st;
			pd->next = gs->pending;
			gs->pending = pd;
			join_reply_id(NULL, NULL, req, KERR_MEMBER_ID_REQUIRED, newid);
		} else {
			if (pd) {
				free(pd->group);
				free(pd);
			}
			join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
		}
		return;
	}
	/* Every current member must support one of the offered protocols. */
	if (g->members) {
		member_t *o;
		bool common = false;
		for (i = 0; i < np && !common; i++) {
			myco__kstr_t pn = jg->protocols[i].name;
			bool all = true;
			for (o = g->members; o && all; o = o->next) {
				size_t j;
				bool has = false;
				if (o == m)
					continue;
				for (j = 0; j < o->nprotos; j++)
					if (keq(pn, o->protos[j].name))
						has = true;
				all = has;
			}
			common = all;
		}
		if (!common) {
			join_reply(NULL, NULL, req, KERR_INCONSISTENT_GROUP_PROTOCOL);
			return;
		}
	}
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m || !(m->id = strdup(newid))) {
			free(m);
			join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		m->client_id = kdup(req->client_id);
		m->host = strdup(myco__lc_peer(req->conn));
		m->instance_id = kdup(jg->group_instance_id);
		/* append: the oldest member stays first (leader choice) */
		member_t **pp = &g->members;
		while (*pp)
			pp = &(*pp)->next;
		*pp = m;
	}
	if (!g->protocol_type || !keq(ptype, g->protocol_type)) {
		free(g->protocol_type);
		g->protocol_type = kdup(ptype);
	}
	m->session_timeout = st;
	m->rebalance_timeout = rt > 0 ? rt : st;
	m->last_hb = now;
	protos_free(m);
	m->protos = calloc((size_t)np, sizeof(*m->protos));
	if (!m->protos) {
		remove_member(g, m);
		join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
		return;
	}
	for (i = 0; i < np; i++) {
		myco__kstr_t md = jg->protocols[i].metadata;
		m->protos[i].name = kdup(jg->protocols[i].name);
		m->protos[i].metalen = md.len > 0 ? md.len : 0;
		m->protos[i].meta = malloc(md.len > 0 ? (size_t)md.len : 1);
		if (!m->protos[i].name || !m->protos[i].meta) {
			m->nprotos = (size_t)i + 1;
			remove_member(g, m);
			join_reply(NULL, NULL, req, KERR_UNKNOWN_SERVER_ERROR);
			return;
		}
		if (md.len > 0)
			memcpy(m->protos[i].meta, md.p, (size_t)md.len);
		m->nprotos = (size_t)i + 1;
	}
	if (gs->cfg->verbose)
		fprintf(stderr, "myco-log: group %s: join from %s (state %d, generation %d)\n",
			g->id, m->id, g->state, g->generation);
	if (m->join_waiting)                   /* a second join replaces it */
		join_reply(NULL, m, &m->join_req, KERR_REBALANCE_IN_PROGRESS);
	m->join_waiting = true;
	m->join_req = *req;
	start_rebalance(g, now, gs->cfg->group_initial_delay_ms);
	maybe_complete(g, now);
}

static int16_t check_member(group_t *g, member_t *m, int32_t gen)
{
	if (!g || !m)
		return KERR_UNKNOWN_MEMBER_ID;
	if (gen != g->generation)
		return KERR_ILLEGAL_GENERATION;
	if (g->state == G_PREPARING)
		return KERR_REBALANCE_IN_PROGRESS;
	return 0;
}

void myco__lh_sync_group(myco__lgroups_t *gs, myco__lreq_t *req, const myco__ksync_group_t *sg)
{
	int32_t i;
	group_t *g;
	member_t *m, *o;
	int16_t err;

	g = group_find(gs, sg->group_id);
	m = member_find(g, sg->member_id);
	err = fenced(g, sg->group_instance_id, sg->member_id) ? KERR_FENCED_INSTANCE_ID
							      : check_member(g, m, sg->generation_id);
	if (err) {
		sync_reply(req, err, NULL, 0);
		return;
	}
	if (g->state == G_STABLE) {
		sync_reply(req, 0, m->assign, m->assignlen);
		return;
	}
	/* G_SYNCING */
	if (m->sync_waiting)
		sync_reply(&m->sync_req, KERR_REBALANCE_IN_PROGRESS, NULL, 0);
	m->sync_waiting = true;
	m->sync_req = *req;
	m->last_hb = myco__lnow_ms();
	if (!g->leader || strcmp(g->leader, m->id))
		return;
	for (i = 0; i < sg->nassignments; i++) {
		myco__kstr_t a = sg->assignments[i].assignment;
		o = member_find(g, sg->assignments[i].member_id);
		if (!o || a.len <= 0)
			continue;
		free(o->assign);
		o->assign = malloc((size_t)a.len);
		o->assignlen = o->assign ? a.len : 0;
		if (o->assign)
			memcpy(o->assign, a.p, (size_t)a.len);
	}
	g->state = G_STABLE;
	if (gs->cfg->verbose)
		fprintf(stderr, "myco-log: group %s: generation %d stable, %d assignments from %s\n",
			g->id, g->generation, sg->nassignments, m->id);
	for (o = g->members; o; o = o->next) {
		o->last_hb = myco__lnow_ms();
		if (o->sync_waiting) {
			o->sync_waiting = false;
			sync_reply(&o->sync_req, 0, o->assign, o->assignlen);
		}
	}
}

void myco__lh_heartbeat(myco__lgroups_t *gs, myco__lreq_t *req, const myco__kheartbeat_t *hb)
{
	group_t *g = group_find(gs, hb->group_id);
	member_t *m = member_find(g, hb->member_id);

	if (fenced(g, hb->group_instance_id, hb->member_id)) {
		simple_reply(req, KERR_FENCED_INSTANCE_ID);
		return;
	}
	if (m)
		m->last_hb = myco__lnow_ms();
	simple_reply(req, check_member(g, m, hb->generation_id));
}

void myco__lh_leave_group(myco__lgroups_t *gs, myco__lreq_t *req, const myco__kleave_group_t *lg)
{
	group_t *g = group_find(gs, lg->group_id);
	member_t *m = member_find(g, lg->member_id);

	if (!m) {
		simple_reply(req, KERR_UNKNOWN_MEMBER_ID);
		return;
	}
	if (gs->cfg->verbose)
		fprintf(stderr, "myco-log: group %s: %s leaves (generation %d)\n", g->id, m->id,
			g->generation);
	remove_member(g, m);
	if (g->members) {
		int64_t now = myco__lnow_ms();
		if (g->state != G_PREPARING)
			start_rebalance(g, now, 0);
		maybe_complete(g, now);
	} else {
		g->state = G_EMPTY;
	}
	simple_reply(req, 0);
}

void myco__lh_offset_commit(myco__lgroups_t *gs, myco__lreq_t *req,
			    const myco__koffset_commit_t *oc)
{
	int16_t v = req->ver;
	bool f = req->flex;
	myco__kstr_t gid = oc->group_id, mid = oc->member_id;
	int32_t gen = oc->generation_id, i, j;
	size_t total = oc->npartitions_total, k;
	int16_t gerr = 0, serr = 0;
	mls_group_offset *offs = NULL;
	char *names = NULL, *gname = NULL;
	int16_t *perr = NULL;
	size_t nvalid = 0;
	myco__kwr_t w;
	group_t *g;

	if (!gid.p || gid.len <= 0 || gid.len > 255) {
		gerr = KERR_INVALID_GROUP_ID;
	} else if (gen >= 0 || mid.len > 0) {
		/* As Kafka: members of the current generation may commit while
		 * a rebalance is being prepared (consumers commit what they have
		 * processed when their partitions are revoked); only between
		 * JoinGroup and SyncGroup is the answer REBALANCE_IN_PROGRESS. */
		member_t *m;
		g = group_find(gs, gid);
		m = member_find(g, mid);
		if (!g || !m)
			gerr = KERR_UNKNOWN_MEMBER_ID;
		else if (gen != g->generation)
			gerr = KERR_ILLEGAL_GENERATION;
		else if (g->state == G_SYNCING)
			gerr = KERR_REBALANCE_IN_PROGRESS;
		else
			m->last_hb = myco__lnow_ms();
	} else {
		g = group_find(gs, gid);
		if (g && g->members)
			gerr = KERR_UNKNOWN_MEMBER_ID;  /* simple commit into a live group */
	}
	/* Collect every offset and store them in one durable write. */
	if (!gerr && total) {
		offs = calloc(total, sizeof(*offs));
		names = malloc((size_t)oc->ntopics * (MLS_TOPIC_NAME_MAX + 1) + 1);
		perr = calloc(total, sizeof(*perr));
		gname = kdup(gid);
		if (!offs || !names || !perr || !gname)
			serr = KERR_UNKNOWN_SERVER_ERROR;
	}
	if (!gerr && !serr && total) {
		k = 0;
		for (i = 0; i < oc->ntopics; i++) {
			const myco__koffset_commit_topic_t *t = &oc->topics[i];
			char *nm = names + (size_t)i * (MLS_TOPIC_NAME_MAX + 1);
			bool ok = myco__ltopic_name(t->name, nm);
			for (j = 0; j < t->npartitions; j++, k++) {
				const myco__koffset_commit_partition_t *p = &t->partitions[j];
				mls_partition_t *part = NULL;
				myco__kstr_t md = p->committed_metadata;
				/* as Kafka: offsets of partitions that do not exist
				 * are refused, the others kept */
				if (!ok || mls_partition_get(gs->st, nm, p->partition_index, &part) < 0) {
					perr[k] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
					continue;
				}
				mls_partition_put(part);
				if (md.len > 4096) {
					perr[k] = KERR_OFFSET_METADATA_TOO_LARGE;
					continue;
				}
				offs[nvalid].topic = nm;
				offs[nvalid].partition = p->partition_index;
				offs[nvalid].offset = p->committed_offset;
				offs[nvalid].leader_epoch = p->committed_leader_epoch;
				/* kept byte for byte, NULs included */
				offs[nvalid].metadata = md.p && md.len > 0 ? (const char *)md.p : "";
				offs[nvalid].metadata_len = md.len > 0 ? (size_t)md.len : 0;
				nvalid++;
			}
		}
		if (nvalid && mls_group_commit(gs->st, gname, offs, nvalid) < 0)
			serr = KERR_UNKNOWN_SERVER_ERROR;
	}
	if (gs->cfg->verbose)
		fprintf(stderr, "myco-log: group %.*s: commit of %zu offsets by %.*s generation %d: "
			"error %d\n", gid.len > 0 ? (int)gid.len : 0,
			gid.len > 0 ? (const char *)gid.p : "", total,
			mid.len > 0 ? (int)mid.len : 0, mid.len > 0 ? (const char *)mid.p : "",
			gen, gerr ? gerr : serr);
	myco__lresp_begin(&w, req);
	if (v >= 3)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, oc->ntopics < 0 ? 0 : oc->ntopics);
	k = 0;
	for (i = 0; i < oc->ntopics; i++) {
		const myco__koffset_commit_topic_t *t = &oc->topics[i];
		myco__kwr_strn(&w, f, t->name.p, t->name.len < 0 ? 0 : t->name.len);
		myco__kwr_array(&w, f, t->npartitions);
		for (j = 0; j < t->npartitions; j++, k++) {
			myco__kwr_i32(&w, t->partitions[j].partition_index);
			myco__kwr_i16(&w, gerr ? gerr : perr && perr[k] ? perr[k] : serr);
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
	free(perr);
	free(offs);
	free(names);
	free(gname);
}

static void fetch_entry(myco__kwr_t *w, int16_t v, bool f, int32_t part,
			int64_t off, int32_t epoch, const char *md, size_t mdlen, int16_t err)
{
	myco__kwr_i32(w, part);
	myco__kwr_i64(w, off);
	if (v >= 5)
		myco__kwr_i32(w, epoch);
	myco__kwr_strn(w, f, md ? md : "", md ? (int32_t)mdlen : 0);
	myco__kwr_i16(w, err);
	myco__kwr_tags(w, f);
}

void myco__lh_offset_fetch(myco__lgroups_t *gs, myco__lreq_t *req,
			   const myco__koffset_fetch_t *of)
{
	int16_t v = req->ver;
	bool f = req->flex;
	int32_t i, j;
	char *gname;
	myco__kwr_t w;
	int16_t gerr = 0;
	mls_store_t *st = gs->st;

	gname = kdup(of->group_id);
	if (!gname || !gname[0])
		gerr = KERR_INVALID_GROUP_ID;
	myco__lresp_begin(&w, req);
	if (v >= 3)
		myco__kwr_i32(&w, 0);
	if (of->ntopics < 0) {
		mls_group_offset *all = NULL;
		size_t n = 0, a, b;
		if (!gerr && mls_group_list(st, gname, &all, &n) < 0)
			n = 0;
		/* count topics (list is sorted by topic) */
		int32_t ntop = 0;
		for (a = 0; a < n; a++)
			if (a == 0 || strcmp(all[a].topic, all[a - 1].topic))
				ntop++;
		myco__kwr_array(&w, f, ntop);
		for (a = 0; a < n; a = b) {
			for (b = a + 1; b < n && !strcmp(all[b].topic, all[a].topic); b++)
				;
			myco__kwr_str(&w, f, all[a].topic);
			myco__kwr_array(&w, f, (int32_t)(b - a));
			for (size_t c = a; c < b; c++)
				fetch_entry(&w, v, f, all[c].partition, all[c].offset,
					    all[c].leader_epoch, all[c].metadata,
					    all[c].metadata_len, 0);
			myco__kwr_tags(&w, f);
		}
		free(all);
	} else {
		mls_group_offset *all = NULL;
		size_t nall = 0;
		int16_t lerr = 0;
		if (!gerr && mls_group_list(st, gname, &all, &nall) < 0)
			lerr = KERR_UNKNOWN_SERVER_ERROR;
		myco__kwr_array(&w, f, of->ntopics);
		for (i = 0; i < of->ntopics; i++) {
			const myco__koffset_fetch_topic_t *t = &of->topics[i];
			char name[MLS_TOPIC_NAME_MAX + 1];
			myco__kstr_t s = t->name;
			bool ok = s.p && s.len > 0 && s.len <= MLS_TOPIC_NAME_MAX;
			if (ok) {
				memcpy(name, s.p, (size_t)s.len);
				name[s.len] = 0;
			}
			myco__kwr_strn(&w, f, s.p, s.len < 0 ? 0 : s.len);
			myco__kwr_array(&w, f, t->npartitions < 0 ? 0 : t->npartitions);
			for (j = 0; j < t->npartitions; j++) {
				int32_t part = t->partition_indexes[j];
				const mls_group_offset *e = NULL;
				int16_t perr = lerr ? lerr : gerr;
				/* the group's offsets are sorted by topic, partition */
				for (size_t a = 0; ok && a < nall && !e; a++)
					if (all[a].partition == part && !strcmp(all[a].topic, name))
						e = &all[a];
				/* KIP-447: a consumer that asks for stable offsets
				 * waits while a transaction holds one undecided */
				if (!perr && ok && of->require_stable && gs->txn_pending &&
				    gs->txn_pending(gs->txn_pending_arg, gname, name, part))
					perr = KERR_UNSTABLE_OFFSET_COMMIT;
				fetch_entry(&w, v, f, part, e ? e->offset : -1,
					    e ? e->leader_epoch : -1, e ? e->metadata : NULL,
					    e ? e->metadata_len : 0, perr);
			}
			myco__kwr_tags(&w, f);
		}
		free(all);
	}
	if (v >= 2)
		myco__kwr_i16(&w, gerr);
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
	free(gname);
}

/* ---- group administration ---------------------------------------------- */

static const char *state_name(const group_t *g)
{
	if (!g)
		return "Empty";
	switch (g->state) {
	case G_PREPARING: return "PreparingRebalance";
	case G_SYNCING: return "CompletingRebalance";
	case G_STABLE: return "Stable";
	default: return "Empty";
	}
}

static bool names_has(const myco__knames_t *n, const char *s)
{
	for (int32_t i = 0; i < n->n; i++)
		if (keq(n->names[i], s))
			return true;
	return false;
}

void myco__lh_list_groups(myco__lgroups_t *gs, myco__lreq_t *req, const myco__klist_groups_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	char **stored = NULL;
	size_t nstored = 0, i;
	int32_t n = 0;
	group_t *g;
	myco__kwr_t w;

	/* groups the coordinator knows (members, or a generation) and groups
	 * that only have committed offsets (Empty, as in Kafka) */
	if (mls_group_names(gs->st, &stored, &nstored) < 0)
		nstored = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			myco__lresp_begin(&w, req);
			if (v >= 1)
				myco__kwr_i32(&w, 0);
			myco__kwr_i16(&w, 0);
			myco__kwr_array(&w, f, n);
		}
		for (g = gs->groups; g; g = g->next) {
			if (m->states_filter.n > 0 && !names_has(&m->states_filter, state_name(g)))
				continue;
			if (pass == 0) {
				n++;
				continue;
			}
			myco__kwr_str(&w, f, g->id);
			myco__kwr_str(&w, f, g->protocol_type ? g->protocol_type : "");
			if (v >= 4)
				myco__kwr_str(&w, f, state_name(g));
			myco__kwr_tags(&w, f);
		}
		for (i = 0; i < nstored; i++) {
			myco__kstr_t id = { (const uint8_t *)stored[i], (int32_t)strlen(stored[i]) };
			if (group_find(gs, id))
				continue;
			if (m->states_filter.n > 0 && !names_has(&m->states_filter, "Empty"))
				continue;
			if (pass == 0) {
				n++;
				continue;
			}
			myco__kwr_str(&w, f, stored[i]);
			myco__kwr_str(&w, f, "consumer");
			if (v >= 4)
				myco__kwr_str(&w, f, "Empty");
			myco__kwr_tags(&w, f);
		}
	}
	free(stored);
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* True when the group has committed offsets in the store. */
static bool has_offsets(myco__lgroups_t *gs, const char *id)
{
	mls_group_offset *all = NULL;
	size_t n = 0;

	if (mls_group_list(gs->st, id, &all, &n) < 0)
		return false;
	free(all);
	return n > 0;
}

void myco__lh_describe_groups(myco__lgroups_t *gs, myco__lreq_t *req,
			      const myco__kdescribe_groups_t *m)
{
	int16_t v = req->ver;
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	if (v >= 1)
		myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->groups.n < 0 ? 0 : m->groups.n);
	for (int32_t i = 0; i < m->groups.n; i++) {
		myco__kstr_t id = m->groups.names[i];
		group_t *g = group_find(gs, id);
		char *name = kdup(id);
		bool stable = g && g->state == G_STABLE;
		const char *state = g ? state_name(g) : name && has_offsets(gs, name) ? "Empty" : "Dead";
		int32_t nm = 0;
		member_t *o;

		myco__kwr_i16(&w, id.p && id.len > 0 ? 0 : KERR_INVALID_GROUP_ID);
		myco__kwr_strn(&w, f, id.p, id.len < 0 ? 0 : id.len);
		myco__kwr_str(&w, f, state);
		myco__kwr_str(&w, f, g && g->protocol_type ? g->protocol_type :
				     !strcmp(state, "Empty") ? "consumer" : "");
		myco__kwr_str(&w, f, g && g->protocol && g->state != G_PREPARING ? g->protocol : "");
		for (o = g ? g->members : NULL; o; o = o->next)
			nm++;
		myco__kwr_array(&w, f, nm);
		for (o = g ? g->members : NULL; o; o = o->next) {
			const proto_t *pr = NULL;
			for (size_t k = 0; g->protocol && k < o->nprotos; k++)
				if (!strcmp(o->protos[k].name, g->protocol))
					pr = &o->protos[k];
			myco__kwr_str(&w, f, o->id);
			if (v >= 4)
				myco__kwr_str(&w, f, o->instance_id);
			myco__kwr_str(&w, f, o->client_id ? o->client_id : "");
			myco__kwr_str(&w, f, o->host ? o->host : "");
			/* metadata and assignment: only when Stable, as Kafka */
			myco__kwr_bytes(&w, f, stable && pr ? pr->meta : NULL,
					stable && pr ? pr->metalen : 0);
			myco__kwr_bytes(&w, f, stable ? o->assign : NULL,
					stable && o->assign ? o->assignlen : 0);
			myco__kwr_tags(&w, f);
		}
		if (v >= 3)
			myco__kwr_i32(&w, INT32_MIN);
		myco__kwr_tags(&w, f);
		free(name);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

void myco__lh_delete_groups(myco__lgroups_t *gs, myco__lreq_t *req,
			    const myco__kdelete_groups_t *m)
{
	bool f = req->flex;
	myco__kwr_t w;

	myco__lresp_begin(&w, req);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, m->groups_names.n < 0 ? 0 : m->groups_names.n);
	for (int32_t i = 0; i < m->groups_names.n; i++) {
		myco__kstr_t id = m->groups_names.names[i];
		group_t *g = group_find(gs, id);
		char *name = kdup(id);
		int16_t err = 0;

		if (!name || !name[0] || strlen(name) > 255) {
			err = KERR_INVALID_GROUP_ID;
		} else if (g && g->members) {
			err = KERR_NON_EMPTY_GROUP;
		} else if (!g && !has_offsets(gs, name)) {
			err = KERR_GROUP_ID_NOT_FOUND;
		} else if (mls_group_delete(gs->st, name) < 0) {
			err = KERR_UNKNOWN_SERVER_ERROR;
		} else if (g) {
			group_t **pp = &gs->groups;
			while (*pp != g)
				pp = &(*pp)->next;
			*pp = g->next;
			group_free(g);
		}
		if (!err && gs->cfg->verbose)
			fprintf(stderr, "myco-log: group %s deleted\n", name);
		myco__kwr_strn(&w, f, id.p, id.len < 0 ? 0 : id.len);
		myco__kwr_i16(&w, err);
		myco__kwr_tags(&w, f);
		free(name);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
}

/* Does a member's consumer-protocol subscription (version, topics, ...)
 * name topic t?  Unreadable metadata counts as subscribed (the safe
 * answer for OffsetDelete). */
static bool subscribed(const member_t *o, const char *protocol, myco__kstr_t t)
{
	for (size_t k = 0; k < o->nprotos; k++) {
		myco__krd_t r;
		int32_t n;
		if (strcmp(o->protos[k].name, protocol))
			continue;
		myco__krd_init(&r, o->protos[k].meta, (size_t)o->protos[k].metalen);
		(void)myco__krd_i16(&r);                 /* version */
		n = myco__krd_array(&r, false, 2);
		for (int32_t i = 0; i < n && !r.err; i++) {
			myco__kstr_t s = myco__krd_str(&r, false);
			if (!r.err && s.len == t.len && s.len >= 0 &&
			    !memcmp(s.p, t.p, (size_t)s.len))
				return true;
		}
		return r.err != 0;
	}
	return false;
}

void myco__lh_offset_delete(myco__lgroups_t *gs, myco__lreq_t *req,
			    const myco__koffset_delete_t *m)
{
	bool f = req->flex;
	group_t *g = group_find(gs, m->group_id);
	char *name = kdup(m->group_id);
	int16_t gerr = 0;
	myco__kwr_t w;

	if (!name || !name[0] || strlen(name) > 255)
		gerr = KERR_INVALID_GROUP_ID;
	else if (!(g && g->members) && !has_offsets(gs, name))
		gerr = KERR_GROUP_ID_NOT_FOUND;
	myco__lresp_begin(&w, req);
	myco__kwr_i16(&w, gerr);
	myco__kwr_i32(&w, 0);
	myco__kwr_array(&w, f, gerr ? 0 : m->ntopics);
	for (int32_t i = 0; !gerr && i < m->ntopics; i++) {
		const myco__ktopic_parts_t *t = &m->topics[i];
		char topic[MLS_TOPIC_NAME_MAX + 1];
		bool ok = myco__ltopic_name(t->name, topic);
		bool busy = false;

		/* a consuming member still subscribed keeps its offsets */
		if (g && g->members && g->state == G_STABLE && g->protocol &&
		    g->protocol_type && !strcmp(g->protocol_type, "consumer"))
			for (member_t *o = g->members; o && !busy; o = o->next)
				busy = subscribed(o, g->protocol, t->name);
		myco__kwr_strn(&w, f, t->name.p, t->name.len < 0 ? 0 : t->name.len);
		myco__kwr_array(&w, f, t->npartitions);
		for (int32_t j = 0; j < t->npartitions; j++) {
			int32_t part = t->partitions[j].partition_index;
			mls_partition_t *p = NULL;
			int16_t err = 0;
			if (!ok || mls_partition_get(gs->st, topic, part, &p) < 0)
				err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
			else if (busy)
				err = KERR_GROUP_SUBSCRIBED_TO_TOPIC;
			else if (mls_group_delete_offset(gs->st, name, topic, part) < 0)
				err = KERR_UNKNOWN_SERVER_ERROR;
			if (p)
				mls_partition_put(p);
			myco__kwr_i32(&w, part);
			myco__kwr_i16(&w, err);
			myco__kwr_tags(&w, f);
		}
		myco__kwr_tags(&w, f);
	}
	myco__kwr_tags(&w, f);
	myco__lresp_send(req, &w);
	free(name);
}
