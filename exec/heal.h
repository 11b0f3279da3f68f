/*
 * heal.h: healing (heal.c) and the service registry (registry.c), driven
 * by the health model (health.c), plus the health model's helpers they
 * share.  Everything runs on the executive's single thread.
 * Not for: the detectors and the verdict (health.h).
 */
#ifndef MYCO_EXEC_HEAL_H
#define MYCO_EXEC_HEAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ex_system;
struct ex_part;
struct ex_event;
struct ex_evidence;
struct json_t;
struct myco__heal;
struct myco__registry;

/* ---- heal.c ---------------------------------------------------------------
 * The partition's `heal` policy acts on a sick verdict: restart (the
 * standby takes over; "restart-ahead" when a prediction, not a breach, made
 * it sick), quarantine (SIGSTOP, out of routing, replaced, killed after
 * MYCO__QUARANTINE_HOLD_NS), shed (the control region's shed flag, until
 * healthy again), escalate (every member of its group restarted).  Never
 * twice within MYCO__HEAL_GAP_NS; more than `limit N per T` heals escalate
 * instead (event "heal-limited").  `observe` only reports. */
#define MYCO__HEAL_GAP_NS         (2000ull * 1000000ull)
#define MYCO__QUARANTINE_HOLD_NS  (10000ull * 1000000ull)

int myco__ex_heal_open(struct ex_system *s, struct myco__heal **out);
void myco__ex_heal_close(struct ex_system *s, struct myco__heal *h);
/* p's verdict is sick with this evidence; predicted: no SLO broken yet. */
void myco__ex_heal_sick(struct ex_system *s, struct ex_part *p,
			const struct ex_evidence *ev, bool predicted);
/* Shedding stops: the signal that made p shed has been healthy for a
 * second, or p's verdict is healthy. */
void myco__ex_heal_better(struct ex_system *s, struct ex_part *p);
/* The signal p sheds load for, or -1 when it does not. */
int myco__ex_heal_shedding(struct ex_system *s, const struct ex_part *p);
/* every tick: quarantines in progress, holds that ended */
void myco__ex_heal_tick(struct ex_system *s);
/* heals of p so far (for ps) */
uint32_t myco__ex_heal_count(struct ex_system *s, const struct ex_part *p);

/* ---- registry.c -----------------------------------------------------------
 * Service name (a call channel or an HTTP `service`, both named by the
 * server's `serve NAME;`) -> the partition that serves it -> its active
 * instance, with a generation bumped at every switch. */
int myco__ex_registry_open(struct ex_system *s, struct myco__registry **out);
void myco__ex_registry_close(struct myco__registry *r);
/* p's server ends were recovered, its replacement not yet active
 * (restart_one): the calls in flight on its `inflight fail;` channels are
 * answered -ECONNRESET (myco_chan_owner_fail_calls()). */
void myco__ex_registry_release(struct ex_system *s, struct ex_part *p);
/* p's replacement is active (supervise.c, restart_one): every service p
 * serves now points at it; one "switch" event per service. */
void myco__ex_registry_switched(struct ex_system *s, struct ex_part *p, bool standby);
/* `myco ps` and the `health` command: [{name,kind,partition,pid,
 * generation,state,switches,inflight,inflight_retried,inflight_failed,last_switch_ns}] */
struct json_t *myco__ex_registry_json(struct ex_system *s);

/* ---- health.c helpers ---------------------------------------------------- */
struct myco__heal *myco__ex_health_heal(struct ex_system *s);
struct myco__registry *myco__ex_health_registry(struct ex_system *s);
/* The evidence of p's signal SIG as it is now. */
void myco__ex_health_evidence(struct ex_system *s, const struct ex_part *p, int sig,
			      struct ex_evidence *ev);
/* An event of KIND for p with EV (detail "WHAT: signal value ..."). */
struct ex_event *myco__ex_health_event(struct ex_system *s, struct ex_part *p,
				       const char *kind, const struct ex_evidence *ev,
				       const char *what);
/* Load a saved profile (baselines) from PATH (NULL: nothing). */
int myco__ex_health_profile(struct ex_system *s, const char *path);

#endif /* MYCO_EXEC_HEAL_H */
