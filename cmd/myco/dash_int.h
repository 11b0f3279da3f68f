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

struct dash_state {
	struct json_t *stat;        /* the parts that never change: layout, edges,
				     * budgets, the frame schedule */
	struct json_t *parts;       /* name -> the partition's live fields */
	struct json_t *chans;       /* name -> the channel's live fields */
	struct json_t *events;      /* the last DASH_EVENTS_KEPT events */
	struct json_t *new_events;  /* events not yet sent in a delta */
	struct json_t *prev_sent;   /* channel name -> (sent, t) for own rates */
	uint64_t tick;              /* deltas produced */
	uint64_t t_ms;              /* CLOCK_MONOTONIC ms of the last poll */
};

/* Build the static part from the model (NULL: no model, no edges) and the
 * first `ps` reply.  0 or -ENOMEM. */
int myco__dash_state_init(struct dash_state *st, const struct myco_system *model,
			  struct json_t *ps);
void myco__dash_state_free(struct dash_state *st);

/* Fold one poll (ps, and top which may be NULL) taken at now_ns into the
 * state; returns the delta against the previous state as a new object
 * ({"t":ms,"parts":{...},"chans":{...},"events":[...]}, only what changed;
 * NULL when nothing did).  *err is set to -ENOMEM on allocation failure. */
struct json_t *myco__dash_state_update(struct dash_state *st, struct json_t *ps,
				       struct json_t *top, uint64_t now_ns, int *err);

/* One event line from the executive ({"seq":..,"kind":..}): kept for new
 * pages and queued for the next delta. */
void myco__dash_state_event(struct dash_state *st, struct json_t *ev);

/* The whole state for a page that connects: a new object. */
struct json_t *myco__dash_state_full(const struct dash_state *st);

#endif /* MYCO_CMD_DASH_INT_H */
