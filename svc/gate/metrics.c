/*
 * metrics.c: myco-gate's metrics through the metrics API of myco/trace.h:
 * answers by status class, bytes from and to clients, the upstream
 * latency histogram, cache hits and misses, rate-limited requests, bytes
 * spliced from upstreams to clients.  The
 * counting itself is inline at the places that know (server.c, gate.c,
 * proxy.c).  Not for: exporting (the executive's /metrics, exec/collect.c).
 * Catalogue: docs/gate.md.
 */
#include "gate_int.h"

#include <stdio.h>

/* Where updates go before myco__gm_init(): big enough for a histogram. */
static uint64_t gm_sink[MYCO_HIST_BUCKETS + 1];
#define SINK { gm_sink, 0 }

myco__gm_t myco__gm = {
	.code = { SINK, SINK, SINK, SINK, SINK, SINK },
	.rx = SINK, .tx = SINK, .upstream_lat = SINK,
	.cache_hits = SINK, .cache_misses = SINK, .rate_limited = SINK, .spliced = SINK,
};

static void reg(myco_metric_kind_t k, myco_metric_unit_t u, const char *name,
		const char *labels, myco_metric_t *out)
{
	myco_metric_t m;

	/* on -ENOSPC m holds private cells: still better than the sink */
	if (myco_metric_register(k, u, name, labels, &m) == 0 || m.m_cells)
		*out = m;
}

void myco__gm_init(void)
{
	char l[16];
	unsigned i;

	for (i = 1; i <= 5; i++) {
		snprintf(l, sizeof l, "code=\"%uxx\"", i);
		reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_gate_requests_total", l,
		    &myco__gm.code[i]);
	}
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_BYTES, "myco_gate_received_bytes_total", NULL,
	    &myco__gm.rx);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_BYTES, "myco_gate_sent_bytes_total", NULL, &myco__gm.tx);
	reg(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS, "myco_gate_upstream_latency_seconds", NULL,
	    &myco__gm.upstream_lat);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_gate_cache_hits_total", NULL,
	    &myco__gm.cache_hits);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_gate_cache_misses_total", NULL,
	    &myco__gm.cache_misses);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "myco_gate_rate_limited_total", NULL,
	    &myco__gm.rate_limited);
	reg(MYCO_METRIC_COUNTER, MYCO_UNIT_BYTES, "myco_gate_spliced_bytes_total", NULL,
	    &myco__gm.spliced);
}
