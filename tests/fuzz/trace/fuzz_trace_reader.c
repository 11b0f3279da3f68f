/*
 * fuzz_trace_reader.c: libFuzzer harness for the trace reader and the
 * metrics snapshot: a hostile partition scribbling over its own trace ring
 * and metrics region while the collector reads them.
 *
 * Input: byte 0 picks the geometry (rings, depth, policy); then a list of
 * 3-byte operations: op, x, y.
 *   op % 8 == 0..2  a well-formed event (emit through the real writer),
 *   op % 8 == 3     a log record of x % 300 bytes,
 *   op % 8 == 4     a scribble: byte at offset (x << 8 | y) * 7 of the trace
 *                   region set to op,
 *   op % 8 == 5     a 64-bit scribble of a ring index (head / tail / seq),
 *   op % 8 == 6     a drain by the reader,
 *   op % 8 == 7     a scribble of the metrics region, then a snapshot.
 * The reader must never crash, hang or read out of bounds (ASan), and every
 * delivered event must pass the reader's own validation (checked here).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "myco/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One region per geometry, created once and restored from its pristine
 * image before every input (attach reuses the binding of a known region). */
struct geo { int fd; uint8_t *map, *pristine; size_t size; };
static struct geo geos[18];
static int met_fd = -1;
static uint8_t *tmap, *mmap_, *mpristine;
static size_t tsize, msize;
static int trace_fd = -1;
static myco_metric_t m_c, m_h;

static int count_fn(const myco_metric_sample_t *s, void *arg)
{
	(void)arg;
	if (!s->name[0] || strlen(s->name) > MYCO_METRIC_NAME_MAX)
		abort();
	char buf[8192];
	size_t len = 0;
	if (myco_metrics_prom(s, "partition=\"p\"", 1, buf, &len, sizeof buf) < 0)
		abort();
	return 0;
}

static void drain(myco_trace_reader_t *r)
{
	static myco_trace_event_t ev[64];
	size_t n;
	int rounds = 0;

	while ((n = myco_trace_read(r, ev, 64)) > 0 && rounds++ < 64)
		for (size_t i = 0; i < n; i++)
			if (!myco_trace_ev_name(ev[i].id) || ev[i].id == MYCO_EV_CONT ||
			    strlen(ev[i].str) > MYCO_LOG_MAX)
				abort();
}

static void setup(uint8_t g)
{
	unsigned k = g % 3u + 3u * (g / 3u % 3u) + 9u * ((g & 0x40) != 0);
	struct geo *G = &geos[k];

	if (!G->map) {
		myco_trace_config_t cfg = {
			.nrings = 1u + g % 3u,
			.depth = 16u << (g / 3u % 3u),
			.policy = (g & 0x40) ? MYCO_TRACE_DROP_NEW : MYCO_TRACE_OVERWRITE,
			.clock = MYCO_CLOCK_MONO,
			.enable = MYCO_TRACE_ALL | (MYCO_LOG_DEBUG << MYCO_TRACE_LEVEL_SHIFT),
		};
		if (myco_trace_create(&cfg, &G->fd) < 0)
			abort();
		G->size = (size_t)lseek(G->fd, 0, SEEK_END);
		G->map = mmap(NULL, G->size, PROT_READ | PROT_WRITE, MAP_SHARED, G->fd, 0);
		G->pristine = malloc(G->size);
		if (G->map == MAP_FAILED || !G->pristine)
			abort();
		memcpy(G->pristine, G->map, G->size);
	}
	memcpy(G->map, G->pristine, G->size);
	if (myco_trace_attach(G->fd) < 0)
		abort();
	trace_fd = G->fd;
	tmap = G->map;
	tsize = G->size;
	if (met_fd < 0) {
		if (myco_metrics_create(16, 512, "fuzz", &met_fd) < 0 ||
		    myco_metrics_attach(met_fd) < 0)
			abort();
		msize = (size_t)lseek(met_fd, 0, SEEK_END);
		mmap_ = mmap(NULL, msize, PROT_READ | PROT_WRITE, MAP_SHARED, met_fd, 0);
		if (mmap_ == MAP_FAILED)
			abort();
		myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE, "c_total", "k=\"v\"", &m_c);
		myco_metric_register(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS, "h_seconds", NULL, &m_h);
		mpristine = malloc(msize);
		if (!mpristine)
			abort();
		memcpy(mpristine, mmap_, msize);
	}
	memcpy(mmap_, mpristine, msize);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco_trace_reader_t *r;
	static const char text[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	if (size < 1)
		return 0;
	setup(data[0]);
	if (myco_trace_reader_open(trace_fd, &r) < 0)
		abort();
	for (size_t i = 1; i + 3 <= size; i += 3) {
		uint8_t op = data[i], x = data[i + 1], y = data[i + 2];
		size_t off;
		switch (op % 8) {
		case 0: case 1: case 2:
			myco_trace_emit(op % 2 ? MYCO_EV_CHAN_SEND : MYCO_EV_USER,
					x, y, op, op % 3 ? "name" : NULL);
			myco_counter_add(&m_c, x);
			myco_hist_observe(&m_h, (uint64_t)x << (y % 40));
			break;
		case 3:
			myco_log(1 + x % 4, "%.*s", (int)(x % 300), text);
			break;
		case 4:
			off = ((size_t)x << 8 | y) * 7 % tsize;
			tmap[off] = op;
			break;
		case 5:
			off = ((size_t)x << 8 | y) * 8 % tsize;
			memcpy(tmap + off, data + i, 3);
			break;
		case 6:
			drain(r);
			break;
		case 7:
			off = ((size_t)x << 8 | y) * 5 % msize;
			mmap_[off] = op;
			myco_metrics_snapshot(mmap_, msize, count_fn, NULL, NULL);
			break;
		}
	}
	drain(r);
	myco_trace_stats_t st;
	myco_trace_reader_stats(r, &st);
	myco_trace_reader_close(r);
	return 0;
}
