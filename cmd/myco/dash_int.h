/*
 * dash_int.h: what the parts of `myco dash` share: the web assets compiled into
 * the binary (generated from dash/ by dash/embed.py at build time), and the
 * state builder (dash_state.c) that turns the executive's `ps`, `top` and
 * event replies into the page's state and its deltas.
 * Not for: the HTTP server and the command line (dash_cmds.c), the page
 * itself (dash/app.js).
 */
#ifndef MYCO_CMD_DASH_INT_H
#define MYCO_CMD_DASH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct myco_system;  /* myco_system_t */

struct myco__dash_asset {
	const char *path;           /* "/", "/app.js", "/app.css" */
	const char *type;           /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct myco__dash_asset myco__dash_assets[];
extern const size_t myco__dash_nassets;

/* Events kept for a page that connects (the most recent ones). */
#define DASH_EVENTS_KEPT 300u

/* The previous figures of one partition, one channel: compared as numbers
 * at every poll (dash_state.c); HAVE has a bit per field already sent. */
struct dash_part {
	char *name, *qname;         /* qname: as a JSON string */
	struct json_t *pj[6];       /* ps's last_exit, standby_parked, isolation,
				     * record, and the iso summary, c2r_ns */
	uint64_t have;
	bool folded;                /* ps's fields taken once */
	char state[24], health[24];
	int64_t pid, restarts, rss, misses;
	double cpu, buse, msgs;
};

struct dash_chan {
	char *name, *qname;
	struct json_t *pj[2];       /* ps's done, broken */
	uint64_t have;
	bool folded;
	int64_t sent, pending, ovf, lat;
	double rate;
	int64_t prev_sent;          /* for a rate without a collector */
	uint64_t prev_t;
};

struct dash_state {
	struct json_t *stat;        /* the parts that never change: layout, edges,
				     * budgets, the frame schedule */
	struct json_t *events;      /* the last DASH_EVENTS_KEPT events */
	struct json_t *new_events;  /* events not yet sent in a delta */
	struct json_t *ps_seen;     /* the ps reply folded last (held) */
	struct dash_part *part;     /* per partition, in the static "order" */
	struct dash_chan *chan;     /* per channel, in "chan_order" */
	size_t nparts, nchans;
	uint64_t tick;              /* deltas produced */
	uint64_t t_ms;              /* CLOCK_MONOTONIC ms of the last poll */
};

/* Build the static part from the model (NULL: no model, no edges) and the
 * first `ps` reply.  0 or -ENOMEM. */
int myco__dash_state_init(struct dash_state *st, const struct myco_system *model,
			  struct json_t *ps);
void myco__dash_state_free(struct dash_state *st);

/* Fold one poll (ps, and top which may be NULL) taken at now_ns into the
 * state.  top is the executive's {"cmd":"top","form":"rows"} reply: rows in
 * ps's order (exec/collect.c); rows whose count differs from ps's are not
 * used.  A ps reply is folded in full only when it is a new one (another
 * pointer); the same ps again costs nothing but top's numbers.  Returns
 * the delta against the previous state as JSON text, written directly
 * (malloc'd, its length in *len when len is not NULL):
 * {"t":ms,"tick":N,"parts":{NAME:{changed fields}},"chans":{...},
 *  "events":[...]} plus "frame_clock" when it changed; NULL when nothing
 * did, or with *err = -ENOMEM on allocation failure. */
char *myco__dash_state_update(struct dash_state *st, struct json_t *ps, struct json_t *top,
			      uint64_t now_ns, size_t *len, int *err);

/* One event line from the executive ({"seq":..,"kind":..}): kept for new
 * pages and queued for the next delta. */
void myco__dash_state_event(struct dash_state *st, struct json_t *ev);

/* The whole state for a page that connects: a new object. */
struct json_t *myco__dash_state_full(const struct dash_state *st);

#endif /* MYCO_CMD_DASH_INT_H */
