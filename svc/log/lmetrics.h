/*
 * lmetrics.h: myco-log's broker metrics (requests per API, bytes in and
 * out, produce latency, consumer-group lag) published through the metrics
 * API of myco/trace.h.  Inside a system they land in the partition's
 * metrics region and appear on the executive's /metrics page; standalone
 * they go to process-private cells and nobody exports them.
 * Not for: how the figures are exported (exec/collect.c).  Catalogue:
 * docs/log.md, docs/observability.md.
 */
#ifndef MYCO_LOG_LMETRICS_H
#define MYCO_LOG_LMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "myco/trace.h"

typedef struct myco__lb myco__lb_t;

/* Handles of the fixed metrics.  Until myco__lm_init() they point at a
 * shared sink, so updates are always safe. */
typedef struct {
	myco_metric_t req[64];        /* by API key (keys 0..63); unknown keys: req_other */
	myco_metric_t req_other;
	myco_metric_t rx, tx;         /* bytes of request frames / of answers */
	myco_metric_t produce_lat;    /* Produce: frame complete to answer handed over */
} myco__lm_t;

extern myco__lm_t myco__lm;

/* Register the metrics (after myco_init(), which attaches the region). */
void myco__lm_init(void);

/* One request of API KEY whose frame (size prefix included) was BYTES. */
static inline void myco__lm_request(int16_t key, size_t bytes)
{
	myco_counter_add(key >= 0 && key < 64 ? &myco__lm.req[key] : &myco__lm.req_other, 1);
	myco_counter_add(&myco__lm.rx, bytes);
}

/* Refresh the consumer-group lag gauges (at most once a second; nothing
 * outside a system).  Loop thread. */
void myco__lm_tick(myco__lb_t *lb);

#endif /* MYCO_LOG_LMETRICS_H */
