/*
 * test_trace.c: unit tests of lib/trace: events through a ring and back,
 * wrap-around (overwrite-oldest), drops counted (drop-newest), log records
 * spanning several events, categories and levels, a hostile writer
 * scribbling over its ring, the metrics region (registration, values,
 * snapshot validation, Prometheus text) and the category parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "myco/trace.h"
#include "myco_int.h"

#define ENABLE_ALL (MYCO_TRACE_ALL | (MYCO_LOG_DEBUG << MYCO_TRACE_LEVEL_SHIFT))

static int make(uint32_t nrings, uint32_t depth, myco_trace_policy_t pol,
		uint32_t enable)
{
	myco_trace_config_t cfg = { .nrings = nrings, .depth = depth,
				    .policy = pol, .enable = enable };
	int fd = -1;

	assert_int_equal(myco_trace_create(&cfg, &fd), 0);
	assert_int_equal(myco_trace_attach(fd), 0);
	return fd;
}

static size_t drain(myco_trace_reader_t *r, myco_trace_event_t *ev, size_t cap)
{
	size_t n = 0, k;

	while (n < cap && (k = myco_trace_read(r, ev + n, cap - n)) > 0)
		n += k;
	return n;
}

static void test_roundtrip(void **state)
{
	(void)state;
	int fd = make(4, 64, MYCO_TRACE_OVERWRITE, ENABLE_ALL);
	myco_trace_reader_t *r;
	myco_trace_event_t ev[16];
	uint64_t t0 = myco_now();

	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_SEND, 7, 42, (3ull << 32) | 64);
	MYCO_TRACE("batch", 1, 2, 3);
	MYCO_TRACE("tick");
	myco_trace_emit(MYCO_EV_EXEC_SPAWN, 1, 2, 3, "a-very-long-string-cut");
	assert_int_equal(drain(r, ev, 16), 4);
	assert_int_equal(ev[0].id, MYCO_EV_CHAN_SEND);
	assert_int_equal(ev[0].a[0], 7);
	assert_int_equal(ev[0].a[1], 42);
	assert_int_equal(ev[0].a[2], (3ull << 32) | 64);
	assert_int_equal(ev[0].tid, (uint32_t)gettid());
	assert_true(ev[0].ts_ns >= t0 - 1000000 && ev[0].ts_ns <= myco_now() + 1000000);
	assert_int_equal(ev[1].id, MYCO_EV_USER);
	assert_string_equal(ev[1].str, "batch");
	assert_int_equal(ev[1].a[2], 3);
	assert_string_equal(ev[2].str, "tick");
	assert_int_equal(ev[2].a[0], 0);
	assert_string_equal(ev[3].str, "a-very-long-stri");
	for (int i = 1; i < 4; i++) {
		assert_true(ev[i].ts_ns >= ev[i - 1].ts_ns);
		assert_int_equal(ev[i].pos, ev[i - 1].pos + 1);
	}
	assert_int_equal(myco_trace_read(r, ev, 16), 0);
	myco_trace_stats_t st;
	myco_trace_reader_stats(r, &st);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.lost + st.dropped + st.corrupt, 0);
	myco_trace_reader_close(r);
	close(fd);
}

static void test_wraparound(void **state)
{
	(void)state;
	int fd = make(2, 16, MYCO_TRACE_OVERWRITE, ENABLE_ALL);
	myco_trace_reader_t *r;
	myco_trace_event_t ev[64];
	myco_trace_stats_t st;

	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	for (uint64_t i = 0; i < 100; i++)
		myco_trace_emit(MYCO_EV_USER, i, 0, 0, NULL);
	size_t n = drain(r, ev, 64);
	assert_int_equal(n, 16);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ev[i].a[0], 84 + i);       /* the newest 16 */
	myco_trace_reader_stats(r, &st);
	assert_int_equal(st.lost, 84);
	assert_int_equal(st.dropped, 0);
	/* and it continues after the wrap */
	myco_trace_emit(MYCO_EV_USER, 1000, 0, 0, NULL);
	assert_int_equal(drain(r, ev, 64), 1);
	assert_int_equal(ev[0].a[0], 1000);
	assert_int_equal(ev[0].pos, 100);
	myco_trace_reader_close(r);
	close(fd);
}

static void test_drop_newest(void **state)
{
	(void)state;
	int fd = make(2, 16, MYCO_TRACE_DROP_NEW, ENABLE_ALL);
	myco_trace_reader_t *r;
	myco_trace_event_t ev[64];
	myco_trace_stats_t st;

	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	for (uint64_t i = 0; i < 100; i++)
		myco_trace_emit(MYCO_EV_USER, i, 0, 0, NULL);
	size_t n = drain(r, ev, 64);
	assert_int_equal(n, 16);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ev[i].a[0], i);            /* the oldest 16 */
	myco_trace_reader_stats(r, &st);
	assert_int_equal(st.dropped, 84);
	assert_int_equal(st.lost, 0);
	/* space again once read */
	myco_trace_emit(MYCO_EV_USER, 500, 0, 0, NULL);
	assert_int_equal(drain(r, ev, 64), 1);
	assert_int_equal(ev[0].a[0], 500);
	myco_trace_reader_close(r);
	close(fd);
}

static void test_log_and_levels(void **state)
{
	(void)state;
	int fd = make(2, 64, MYCO_TRACE_OVERWRITE,
		      MYCO_TRACE_LOG | (MYCO_LOG_INFO << MYCO_TRACE_LEVEL_SHIFT));
	myco_trace_reader_t *r;
	myco_trace_event_t ev[16];
	char longmsg[400];

	memset(longmsg, 'x', sizeof longmsg - 1);
	longmsg[sizeof longmsg - 1] = 0;
	for (int i = 0; i < 26; i++)
		longmsg[i * 10] = (char)('a' + i);
	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	MYCO_LOG_INFO("hello %d", 42);
	MYCO_LOG_DEBUG("not recorded %d", 1);    /* above the level */
	MYCO_TRACE("off");                        /* user category off */
	MYCO_TP(MYCO_TRACE_CHAN, MYCO_EV_CHAN_SEND, 1, 2, 3);
	MYCO_LOG_ERROR("%s", longmsg);            /* cut at 255, 7 events */
	MYCO_LOG_WARN("%s", "exactly-forty-bytes-of-text-0123456789ab");
	assert_int_equal(drain(r, ev, 16), 3);
	assert_int_equal(ev[0].id, MYCO_EV_LOG);
	assert_int_equal(ev[0].level, MYCO_LOG_INFO);
	assert_string_equal(ev[0].str, "hello 42");
	assert_int_equal(ev[1].level, MYCO_LOG_ERROR);
	assert_int_equal(ev[1].len, MYCO_LOG_MAX);
	assert_int_equal(strlen(ev[1].str), MYCO_LOG_MAX);
	assert_memory_equal(ev[1].str, longmsg, MYCO_LOG_MAX);
	assert_string_equal(ev[2].str, "exactly-forty-bytes-of-text-0123456789ab");
	assert_int_equal(ev[2].pos, ev[1].pos + 7);
	/* switching at run time */
	assert_int_equal(myco_trace_set_enable(fd, MYCO_TRACE_USER), 0);
	uint32_t en = 0;
	assert_int_equal(myco_trace_get_enable(fd, &en), 0);
	assert_int_equal(en, MYCO_TRACE_USER);
	MYCO_LOG_ERROR("now off");
	MYCO_TRACE("on", 5);
	assert_int_equal(drain(r, ev, 16), 1);
	assert_string_equal(ev[0].str, "on");
	myco_trace_reader_close(r);
	close(fd);
}

/* A hostile writer: the region as the reader sees it is scribbled with
 * random bytes, head indices jump forwards and backwards, slots carry
 * garbage.  The reader must return, bounded, with everything it delivers
 * valid, and count what it skipped. */
static void test_hostile_scribble(void **state)
{
	(void)state;
	int fd = make(3, 32, MYCO_TRACE_OVERWRITE, ENABLE_ALL);
	size_t size = (size_t)lseek(fd, 0, SEEK_END);
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	myco_trace_reader_t *r;
	myco_trace_event_t ev[128];
	uint64_t x = 88172645463325252ull;
	myco_trace_stats_t st;

	assert_ptr_not_equal(m, MAP_FAILED);
	assert_int_equal(myco_trace_reader_open(fd, &r), 0);
	for (int round = 0; round < 2000; round++) {
		for (int k = 0; k < 8; k++)
			myco_trace_emit(MYCO_EV_USER, (uint64_t)k, 0, 0, "ok");
		for (int k = 0; k < 4; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			size_t off = 128 + (size_t)(x % (size - 128 - 8));
			if (x & 1)
				memcpy(m + off, &x, 8);          /* a word */
			else
				m[off] = (uint8_t)(x >> 8);      /* a byte */
		}
		if (round % 97 == 0) {                   /* head far ahead / behind */
			uint64_t h = (round & 1) ? UINT64_MAX - 5 : 3;
			memcpy(m + 128, &h, 8);
		}
		size_t n = myco_trace_read(r, ev, 128);
		for (size_t i = 0; i < n; i++) {
			assert_non_null(myco_trace_ev_name(ev[i].id));
			assert_true(strlen(ev[i].str) <= MYCO_LOG_MAX);
		}
	}
	myco_trace_reader_stats(r, &st);
	assert_true(st.corrupt > 0);
	assert_true(st.events > 0);
	/* a bad header is refused on open */
	m[0] ^= 1;
	myco_trace_reader_t *r2;
	assert_int_equal(myco_trace_reader_open(fd, &r2), -EPROTO);
	m[0] ^= 1;
	m[offsetof(struct { uint64_t a; uint32_t v; }, v)] = 9;   /* version */
	assert_int_equal(myco_trace_reader_open(fd, &r2), -MYCO_EVERSION);
	myco_trace_reader_close(r);
	munmap(m, size);
	close(fd);
}

static void test_bad_config(void **state)
{
	(void)state;
	int fd;
	myco_trace_config_t c1 = { .nrings = 300 }, c2 = { .depth = 100 },
			    c3 = { .depth = 8 }, c4 = { .policy = 7 };

	assert_int_equal(myco_trace_create(&c1, &fd), -EINVAL);
	assert_int_equal(myco_trace_create(&c2, &fd), -EINVAL);
	assert_int_equal(myco_trace_create(&c3, &fd), -EINVAL);
	assert_int_equal(myco_trace_create(&c4, &fd), -EINVAL);
	/* an unsealed memfd is refused */
	int u = memfd_create("x", MFD_CLOEXEC);
	assert_true(u >= 0);
	assert_int_equal(ftruncate(u, 8192), 0);
	myco_trace_reader_t *r;
	assert_int_equal(myco_trace_reader_open(u, &r), -EPROTO);
	assert_int_equal(myco_trace_attach(u), -EPROTO);
	close(u);
}

/* ---- metrics ---- */

struct collect { myco_metric_sample_t s[16]; int n; };

static int collect_fn(const myco_metric_sample_t *s, void *arg)
{
	struct collect *c = arg;
	if (c->n < 16)
		c->s[c->n++] = *s;
	return 0;
}

static void test_metrics(void **state)
{
	(void)state;
	int fd;
	myco_metric_t c, c2, g, h, bad;

	assert_int_equal(myco_metrics_create(8, 256, "t", &fd), 0);
	assert_int_equal(myco_metrics_attach(fd), 0);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE,
					      "req_total", "api=\"produce\"", &c), 0);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, MYCO_UNIT_NONE,
					      "req_total", "api=\"produce\"", &c2), 0);
	assert_ptr_equal(c.m_cells, c2.m_cells);          /* same metric */
	assert_int_equal(myco_metric_register(MYCO_METRIC_GAUGE, MYCO_UNIT_BYTES,
					      "depth_bytes", NULL, &g), 0);
	assert_int_equal(myco_metric_register(MYCO_METRIC_HISTOGRAM, MYCO_UNIT_SECONDS,
					      "lat_seconds", "a=\"1\",b=\"x y\"", &h), 0);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, 0, "9bad", NULL, &bad), -EINVAL);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, 0, "ok", "partition=\"x\"", &bad), -EINVAL);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, 0, "ok", "a=\"x", &bad), -EINVAL);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, 0, "ok", "a=\"x\",", &bad), -EINVAL);
	assert_int_equal(myco_metric_register(MYCO_METRIC_COUNTER, 0, "ok", "a=\"x\\\"\"", &bad), -EINVAL);
	myco_counter_add(&c, 5);
	myco_counter_add(&c2, 2);
	myco_gauge_set(&g, -12);
	myco_hist_observe(&h, 0);
	myco_hist_observe(&h, 1000);          /* bucket 10: [512, 1024) */
	myco_hist_observe(&h, 1024);          /* bucket 11 */
	assert_int_equal(myco_hist_bucket(1), 1);
	assert_int_equal(myco_hist_bucket(UINT64_MAX), 64);

	size_t size = (size_t)lseek(fd, 0, SEEK_END);
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct collect col = { .n = 0 };
	uint64_t nbad = 0;
	assert_int_equal(myco_metrics_snapshot(m, size, collect_fn, &col, &nbad), 3);
	assert_int_equal(nbad, 0);
	assert_string_equal(col.s[0].name, "req_total");
	assert_int_equal(col.s[0].value, 7);
	assert_int_equal((int64_t)col.s[1].value, -12);
	assert_int_equal(col.s[2].count, 3);
	assert_int_equal(col.s[2].buckets[10], 1);
	assert_int_equal(col.s[2].sum, 2024);

	char buf[8192];
	size_t len = 0;
	assert_int_equal(myco_metrics_prom(&col.s[0], "partition=\"p\"", 1, buf, &len, sizeof buf), 0);
	assert_string_equal(buf, "# TYPE req_total counter\n"
			    "req_total{partition=\"p\",api=\"produce\"} 7\n");
	len = 0;
	assert_int_equal(myco_metrics_prom(&col.s[1], NULL, 0, buf, &len, sizeof buf), 0);
	assert_string_equal(buf, "depth_bytes -12\n");
	len = 0;
	assert_int_equal(myco_metrics_prom(&col.s[2], "partition=\"p\"", 1, buf, &len, sizeof buf), 0);
	assert_non_null(strstr(buf, "# TYPE lat_seconds histogram\n"));
	assert_non_null(strstr(buf, "lat_seconds_bucket{partition=\"p\",a=\"1\",b=\"x y\",le=\"0\"} 1\n"));
	assert_non_null(strstr(buf, "le=\"1.023e-06\"} 2\n"));
	assert_non_null(strstr(buf, "le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(buf, "lat_seconds_sum{partition=\"p\",a=\"1\",b=\"x y\"} 2.024e-06\n"));
	assert_non_null(strstr(buf, "lat_seconds_count{partition=\"p\",a=\"1\",b=\"x y\"} 3\n"));
	len = 0;
	assert_int_equal(myco_metrics_prom(&col.s[2], NULL, 1, buf, &len, 64), -ENOSPC);
	assert_int_equal(len, 0);

	/* scribbled descriptors are skipped and counted, never trusted */
	struct collect col2 = { .n = 0 };
	m[128 + 8] = 0xff;              /* desc 0: d_cell far out of range */
	m[128 + 256 + 16] = '-';        /* desc 1: bad name */
	nbad = 0;
	assert_int_equal(myco_metrics_snapshot(m, size, collect_fn, &col2, &nbad), 1);
	assert_int_equal(nbad, 2);
	/* a bad header is refused */
	m[4] ^= 1;
	assert_int_equal(myco_metrics_snapshot(m, size, collect_fn, &col2, NULL), -EPROTO);
	m[4] ^= 1;

	/* full region: private cells, -ENOSPC, updates harmless */
	myco_metric_t more;
	int rc = 0;
	for (int i = 0; i < 8 && rc == 0; i++) {
		char name[16];
		snprintf(name, sizeof name, "m%d", i);
		rc = myco_metric_register(MYCO_METRIC_HISTOGRAM, 0, name, NULL, &more);
	}
	assert_int_equal(rc, -ENOSPC);
	myco_hist_observe(&more, 5);
	munmap(m, size);
	close(fd);
}

static void test_cats(void **state)
{
	(void)state;
	uint32_t b = 0;
	char err[16];

	assert_int_equal(myco_trace_parse_cats("chan,rt", &b, err, sizeof err), 0);
	assert_int_equal(b, MYCO_TRACE_CHAN | MYCO_TRACE_RT);
	b = 0;
	assert_int_equal(myco_trace_parse_cats("log:debug,sched", &b, err, sizeof err), 0);
	assert_int_equal(b, MYCO_TRACE_LOG | MYCO_TRACE_SCHED |
			    (MYCO_LOG_DEBUG << MYCO_TRACE_LEVEL_SHIFT));
	b = 0;
	assert_int_equal(myco_trace_parse_cats("all", &b, err, sizeof err), 0);
	assert_int_equal(b, MYCO_TRACE_ALL);
	assert_int_equal(myco_trace_parse_cats("chan,bogus", &b, err, sizeof err), -EINVAL);
	assert_string_equal(err, "bogus");
	assert_int_equal(myco_trace_parse_cats("chan:debug", &b, err, sizeof err), -EINVAL);
	assert_int_equal(myco_trace_parse_cats("log:loud", &b, err, sizeof err), -EINVAL);
	assert_string_equal(myco_trace_cat_name(0), "chan");
	assert_null(myco_trace_cat_name(MYCO_TRACE_NCATS));
	assert_string_equal(myco_trace_ev_name(MYCO_EV_EDF_MISS), "edf.miss");
	assert_int_equal(myco_trace_ev_cat(MYCO_EV_RT_STEAL), MYCO_TRACE_RT);
	assert_null(myco_trace_ev_name(7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_drop_newest),
		cmocka_unit_test(test_log_and_levels),
		cmocka_unit_test(test_hostile_scribble),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_cats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
