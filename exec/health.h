/*
 * health.h: the executive's health model.  Per partition, signals sampled
 * from telemetry that already exists (the control region's heartbeat, the
 * partition's metrics region, the channel regions' counters, /proc), each
 * watched by online detectors that need no outside training data: a
 * baseline (median and MAD) learned in the first seconds of a run, an
 * EWMA, a one-sided CUSUM for drifts, and a least-squares trend with the
 * predicted time to reach a limit.  Against the partition's SLOs (`slo`
 * statements) the model gives a verdict, healthy / degraded / sick, and the
 * healing policy (`heal` statements, exec/heal.c) acts on sick ones.
 * The detector primitives below are pure (no clock, no I/O) so that they
 * can be tested exactly against synthetic series (tests/unit/exec).
 * Runs on the executive's single thread.
 * Not for: the actions (heal.c), service -> instance bookkeeping
 * (registry.c), reading rings (collect.c).
 *
 * EVENTS (exec/events.c; `myco events`, the control protocol):
 *
 *   kind "health"      a partition's verdict changed.
 *   kind "slo-breach"  an SLO does not hold now (the measured value is on
 *                      the wrong side of its threshold).
 *   kind "slo-ok"      a breached SLO holds again.
 *   kind "heal"        a healing action was taken (restart, restart-ahead,
 *                      quarantine, shed, escalate).
 *   kind "heal-limited" a sick verdict that the rate limit did not let heal
 *                      (the next one is escalated to the group).
 *   kind "switch"      the service registry moved a service to a new
 *                      instance (registry.c).
 *
 * Every such event has a human `detail` and, in JSON, an `evidence` object:
 *
 *   {"signal":"memory","value":61.2,"baseline":3.1,"threshold":75,
 *    "unit":"%","verdict":"sick","action":"restart-ahead",
 *    "predict_s":4.2,"slo":"memory < 75 %"}
 *
 *   signal     one of the names of myco__hs_name(): heartbeat, latency,
 *              queue, stall, memory, cpu, errors, restarts
 *   value      the signal now (EWMA-smoothed for rates; the window's
 *              quantile for latency), in `unit`
 *   baseline   the learned median (same unit; null while learning)
 *   threshold  the SLO's threshold, or the detector's when no SLO names
 *              the signal (baseline + MYCO__HD_K x MAD)
 *   unit       "ms", "%", "msgs", "/s", "count"
 *   verdict    "healthy" | "degraded" | "sick"
 *   action     heal events: restart | restart-ahead | quarantine | shed |
 *              escalate; otherwise absent
 *   predict_s  when a trend predicts the threshold is reached: in how many
 *              seconds; otherwise absent
 *   slo        the SLO as written (normalised), when one is involved
 */
#ifndef MYCO_EXEC_HEALTH_H
#define MYCO_EXEC_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ex_system;
struct ex_part;
struct json_t;

/* ---- detector primitives (pure) ---------------------------------------- */

#define MYCO__HD_LEARN   32u     /* samples of the learned baseline */
#define MYCO__HD_TREND   64u     /* points of the trend fit (a window) */
#define MYCO__HD_K       8.0     /* anomaly: beyond median + K x robust sigma */

/* Baseline: the first MYCO__HD_LEARN samples, then frozen as median and
 * MAD (robust sigma = 1.4826 x MAD, floored so that a flat series does not
 * make every wiggle an anomaly). */
struct myco__hd_base {
	double s[MYCO__HD_LEARN];
	uint32_t n;
	bool ready;
	double median, mad, sigma;
};
void myco__hd_base_add(struct myco__hd_base *b, double x, double sigma_floor);
/* Load a saved baseline (a profile): ready at once. */
void myco__hd_base_set(struct myco__hd_base *b, double median, double mad,
		       double sigma_floor);
/* x beyond median + k sigma (only once ready). */
bool myco__hd_base_high(const struct myco__hd_base *b, double x, double k);

/* EWMA with weight alpha (0 < alpha <= 1) for the new sample. */
struct myco__hd_ewma { double v; bool init; };
double myco__hd_ewma_add(struct myco__hd_ewma *e, double x, double alpha);

/* One-sided (upward) CUSUM on standardised samples:
 *   S = max(0, S + (x - mu) / sigma - k); alarm while S > h. */
struct myco__hd_cusum { double s; bool alarm; uint32_t n_alarm; };
bool myco__hd_cusum_add(struct myco__hd_cusum *c, double x, double mu,
			double sigma, double k, double h);
void myco__hd_cusum_reset(struct myco__hd_cusum *c);

/* Least-squares line through the last MYCO__HD_TREND points (t in s). */
struct myco__hd_trend {
	double t[MYCO__HD_TREND], x[MYCO__HD_TREND];
	uint32_t n, pos;
};
void myco__hd_trend_add(struct myco__hd_trend *tr, double t, double x);
void myco__hd_trend_reset(struct myco__hd_trend *tr);
/* Slope (units/s), intercept at t = 0 and r^2 of the fit; -EAGAIN with
 * fewer than `min` points or no spread in t. */
int myco__hd_trend_fit(const struct myco__hd_trend *tr, uint32_t min,
		       double *slope, double *icept, double *r2);
/* The same fit over the newest `last` points only (a drift that began
 * recently: the points since the change). */
int myco__hd_trend_fit_last(const struct myco__hd_trend *tr, uint32_t last,
			    double *slope, double *icept, double *r2);
/* myco__hd_time_to() over the newest `last` points (-1 with fewer). */
double myco__hd_time_to_last(const struct myco__hd_trend *tr, uint32_t last,
			     double min_r2, double now, double limit);
/* Seconds from time `now` until the fitted line reaches `limit`: 0 when
 * the line is already there, -1 when it never will (slope <= 0), the fit
 * is too weak (r^2 < min_r2) or there are fewer than `min` points. */
double myco__hd_time_to(const struct myco__hd_trend *tr, uint32_t min,
			double min_r2, double now, double limit);

/* ---- the model ---------------------------------------------------------- */

enum myco__hs {
	MYCO__HS_HEARTBEAT,  /* heartbeat lateness: ms since the last beat */
	MYCO__HS_LATENCY,    /* per-message processing latency, ms (the
			      * partition's `latency` histogram, a window's
			      * quantile) */
	MYCO__HS_QUEUE,      /* messages waiting in its input channels */
	MYCO__HS_STALL,      /* ms its input has been waiting without any
			      * progress (a livelock that still heartbeats) */
	MYCO__HS_MEMORY,     /* RSS, % of its memory limit (MiB without one) */
	MYCO__HS_CPU,        /* CPU, % of its budget (of one core without) */
	MYCO__HS_ERRORS,     /* errors, % of messages handled (counter
			      * metrics `errors` and `requests`, else beats) */
	MYCO__HS_RESTARTS,   /* restarts within the last minute */
	MYCO__HS_N
};
const char *myco__hs_name(enum myco__hs s);
const char *myco__hs_unit(enum myco__hs s);
/* "latency" -> MYCO__HS_LATENCY; -1 when unknown. */
int myco__hs_parse(const char *name);

enum myco__hv { MYCO__HV_HEALTHY, MYCO__HV_DEGRADED, MYCO__HV_SICK };
const char *myco__hv_name(enum myco__hv v);

/* Create the health model of every partition (after the collector). */
int myco__ex_health_open(struct ex_system *s);
/* From the 10 ms tick: samples and evaluates every partition every
 * MYCO__HEALTH_EVERY ticks; emits the events above and asks heal.c to
 * act.  Never waits. */
void myco__ex_health_tick(struct ex_system *s);
/* p's process was replaced (restart, heal): its trends and CUSUMs start
 * over (the baseline, the partition's profile, is kept). */
void myco__ex_health_replaced(struct ex_system *s, struct ex_part *p);
/* `myco ps` (per partition) and the control command `health`. */
struct json_t *myco__ex_health_json(struct ex_system *s, struct ex_part *p);
const char *myco__ex_health_verdict(struct ex_system *s, const struct ex_part *p);
/* The control command `health`: every partition's signals and baselines
 * ({"ok":true,"partitions":[{name,verdict,signals:{...}}]}); with
 * "save":true also as a profile the next run loads (docs/immune.md). */
struct json_t *myco__ex_health_dispatch(struct ex_system *s, struct json_t *req);
void myco__ex_health_close(struct ex_system *s);

#define MYCO__HEALTH_EVERY 10u   /* ticks (10 ms) between evaluations */

#endif /* MYCO_EXEC_HEALTH_H */
