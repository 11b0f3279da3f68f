/*
 * metrics.c: metrics regions: creation, a process's registration of
 * counters, gauges and histograms, the reader's validated snapshot, and the
 * Prometheus text exposition of one metric.
 * Not for: trace rings (write.c, read.c), serving HTTP (the executive).
 * Layout: docs/trace-abi.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "myco_int.h"
#include "trace_int.h"

static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;
static struct met_hdr *m_region;   /* attached region, never unmapped */
static size_t m_size;

static uint32_t met_desc_off(void) { return sizeof(struct met_hdr); }
static uint64_t met_cells_off(uint32_t nmetrics)
{
	return met_desc_off() + (uint64_t)nmetrics * sizeof(struct met_desc);
}
static uint64_t met_size(uint32_t nmetrics, uint32_t ncells)
{
	return (met_cells_off(nmetrics) + (uint64_t)ncells * 8 + 4095) & ~UINT64_C(4095);
}

int myco__met_hdr_ok(const struct met_hdr *h, size_t size)
{
	if (size < sizeof *h || h->m_magic != MET_MAGIC)
		return -EPROTO;
	if (h->m_version != MET_VERSION)
		return -MYCO_EVERSION;
	if (h->m_features & ~MET_FEAT_KNOWN)
		return -EPROTO;
	if (h->m_check != myco__trace_fnv(h, offsetof(struct met_hdr, m_check)))
		return -EPROTO;
	if (h->m_nmetrics < 1 || h->m_nmetrics > 65536 || h->m_ncells < 8 ||
	    h->m_ncells > (1u << 24) || h->m_ncells % 8)
		return -EPROTO;
	if (h->m_desc_off != met_desc_off() ||
	    h->m_cells_off != met_cells_off(h->m_nmetrics) ||
	    h->m_size != met_size(h->m_nmetrics, h->m_ncells) || h->m_size != size)
		return -EPROTO;
	return 0;
}

int myco_metrics_create(uint32_t nmetrics, uint32_t ncells, const char *name, int *fd)
{
	struct met_hdr *h;
	uint64_t size;
	int rc, f;

	if (!nmetrics)
		nmetrics = 256;
	if (!ncells)
		ncells = 16384;
	ncells = (ncells + 7) & ~7u;
	if (nmetrics > 65536 || ncells > (1u << 24))
		return -EINVAL;
	size = met_size(nmetrics, ncells);
	rc = myco__trace_seal_memfd(name ? name : "myco-metrics", size, &f);
	if (rc < 0)
		return rc;
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		close(f);
		return rc;
	}
	h->m_magic = MET_MAGIC;
	h->m_version = MET_VERSION;
	h->m_nmetrics = nmetrics;
	h->m_ncells = ncells;
	h->m_size = size;
	h->m_desc_off = met_desc_off();
	h->m_cells_off = (uint32_t)met_cells_off(nmetrics);
	h->m_check = myco__trace_fnv(h, offsetof(struct met_hdr, m_check));
	munmap(h, size);
	*fd = f;
	return 0;
}

int myco_metrics_attach(int fd)
{
	void *base;
	size_t size;
	int rc = myco__trace_map(fd, 1, &base, &size);

	if (rc < 0)
		return rc;
	rc = myco__met_hdr_ok(base, size);
	if (rc < 0) {
		munmap(base, size);
		return rc;
	}
	pthread_mutex_lock(&m_lock);
	m_region = base;
	m_size = size;
	pthread_mutex_unlock(&m_lock);
	return 0;
}

int myco__metric_name_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* k="v"(,k="v")*; keys [a-zA-Z_][a-zA-Z0-9_]*, not "partition", not
 * starting "__"; values without ", \ or control bytes. */
int myco__metric_labels_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1), i = 0;

	if (n > max)
		return 0;
	while (i < n) {
		size_t k = i;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				 s[i] == '_' || (i > k && s[i] >= '0' && s[i] <= '9')))
			i++;
		if (i == k || (i - k == 9 && !memcmp(s + k, "partition", 9)) ||
		    (i - k >= 2 && s[k] == '_' && s[k + 1] == '_'))
			return 0;
		if (i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
			return 0;
		i += 2;
		while (i < n && s[i] != '"') {
			if (s[i] == '\\' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return 0;
			i++;
		}
		if (i >= n)
			return 0;
		i++;
		if (i < n) {
			if (s[i] != ',' || i + 1 >= n)
				return 0;
			i++;
		}
	}
	return 1;
}

/* Process-private cells for metrics that have no region: kept on a list
 * for the life of the process (handles never expire).  Called locked. */
struct priv_cells {
	struct priv_cells *next;
	uint64_t cells[];
};
static struct priv_cells *m_private;

static int private_cells(uint32_t kind, myco_metric_t *out)
{
	struct priv_cells *p = calloc(1, sizeof *p + met_cells_for(kind) * sizeof(uint64_t));

	if (!p)
		return -ENOMEM;
	p->next = m_private;
	m_private = p;
	out->m_cells = p->cells;
	out->m_kind = kind;
	return 0;
}

int myco_metric_register(myco_metric_kind_t kind, myco_metric_unit_t unit,
			 const char *name, const char *labels, myco_metric_t *out)
{
	struct met_hdr *h;
	struct met_desc *d;
	uint32_t nd, need, cell, i;
	int rc = 0;

	if (!labels)
		labels = "";
	if (kind < MYCO_METRIC_COUNTER || kind > MYCO_METRIC_HISTOGRAM ||
	    unit > MYCO_UNIT_BYTES || !name ||
	    !myco__metric_name_ok(name, MYCO_METRIC_NAME_MAX) ||
	    !myco__metric_labels_ok(labels, MYCO_METRIC_LABELS_MAX))
		return -EINVAL;
	pthread_mutex_lock(&m_lock);
	h = m_region;
	if (!h) {
		rc = private_cells(kind, out);
		goto out;
	}
	d = (struct met_desc *)((char *)h + h->m_desc_off);
	need = met_cells_for(kind);
	/* same metric registered before (by us or a predecessor)? */
	nd = atomic_load_explicit(&h->m_ndesc, memory_order_relaxed);
	if (nd > h->m_nmetrics)
		nd = h->m_nmetrics;
	for (i = 0; i < nd; i++) {
		if (atomic_load_explicit(&d[i].d_state, memory_order_acquire) != MET_PUBLISHED ||
		    d[i].d_kind != kind || strncmp(d[i].d_name, name, sizeof d[i].d_name) ||
		    strncmp(d[i].d_labels, labels, sizeof d[i].d_labels))
			continue;
		if (d[i].d_ncells != need || (uint64_t)d[i].d_cell + need > h->m_ncells)
			continue;   /* scribbled: do not trust its cells */
		out->m_cells = (uint64_t *)((char *)h + h->m_cells_off) + d[i].d_cell;
		out->m_kind = kind;
		goto out;
	}
	i = atomic_fetch_add_explicit(&h->m_ndesc, 1, memory_order_relaxed);
	uint32_t alloc = (need + 7) & ~7u;
	cell = atomic_fetch_add_explicit(&h->m_ncells_used, alloc, memory_order_relaxed);
	if (i >= h->m_nmetrics || (uint64_t)cell + alloc > h->m_ncells || cell % 8) {
		rc = private_cells(kind, out);
		if (rc == 0)
			rc = -ENOSPC;
		goto out;
	}
	atomic_store_explicit(&d[i].d_state, MET_WRITING, memory_order_relaxed);
	d[i].d_kind = (uint8_t)kind;
	d[i].d_unit = (uint8_t)unit;
	d[i].d_cell = cell;
	d[i].d_ncells = need;
	memset(d[i].d_name, 0, sizeof d[i].d_name);
	memset(d[i].d_labels, 0, sizeof d[i].d_labels);
	memcpy(d[i].d_name, name, strlen(name));
	memcpy(d[i].d_labels, labels, strlen(labels));
	out->m_cells = (uint64_t *)((char *)h + h->m_cells_off) + cell;
	out->m_kind = kind;
	atomic_store_explicit(&d[i].d_state, MET_PUBLISHED, memory_order_release);
out:
	pthread_mutex_unlock(&m_lock);
	return rc;
}

int myco_metrics_snapshot(const void *mem, size_t size,
			  int (*fn)(const myco_metric_sample_t *s, void *arg),
			  void *arg, uint64_t *bad)
{
	const struct met_hdr *h = mem;
	struct met_hdr hc;
	myco_metric_sample_t s;
	int rc, count = 0;

	if (size < sizeof hc)
		return -EPROTO;
	memcpy(&hc, h, offsetof(struct met_hdr, m_ndesc));
	rc = myco__met_hdr_ok(&hc, size);
	if (rc < 0)
		return rc;
	const struct met_desc *d = (const struct met_desc *)((const char *)mem + hc.m_desc_off);
	_Atomic uint64_t *cells = (_Atomic uint64_t *)((char *)mem + hc.m_cells_off);
	uint32_t nd = atomic_load_explicit(&((struct met_hdr *)mem)->m_ndesc,
					   memory_order_relaxed);
	if (nd > hc.m_nmetrics)
		nd = hc.m_nmetrics;
	for (uint32_t i = 0; i < nd; i++) {
		struct met_desc dc;
		if (atomic_load_explicit(&((struct met_desc *)d)[i].d_state,
					 memory_order_acquire) != MET_PUBLISHED)
			continue;
		memcpy(&dc, &d[i], sizeof dc);
		dc.d_name[sizeof dc.d_name - 1] = 0;
		dc.d_labels[sizeof dc.d_labels - 1] = 0;
		if (dc.d_kind < MYCO_METRIC_COUNTER || dc.d_kind > MYCO_METRIC_HISTOGRAM ||
		    dc.d_unit > MYCO_UNIT_BYTES || dc.d_ncells != met_cells_for(dc.d_kind) ||
		    dc.d_cell % 8 || (uint64_t)dc.d_cell + dc.d_ncells > hc.m_ncells ||
		    !myco__metric_name_ok(dc.d_name, MYCO_METRIC_NAME_MAX) ||
		    !myco__metric_labels_ok(dc.d_labels, MYCO_METRIC_LABELS_MAX)) {
			if (bad)
				(*bad)++;
			continue;
		}
		memset(&s, 0, sizeof s);
		memcpy(s.name, dc.d_name, sizeof s.name);
		memcpy(s.labels, dc.d_labels, sizeof s.labels);
		s.kind = dc.d_kind;
		s.unit = dc.d_unit;
		if (dc.d_kind == MYCO_METRIC_HISTOGRAM) {
			for (uint32_t b = 0; b < MYCO_HIST_BUCKETS; b++) {
				s.buckets[b] = atomic_load_explicit(&cells[dc.d_cell + b],
								    memory_order_relaxed);
				s.count += s.buckets[b];
			}
			s.sum = atomic_load_explicit(&cells[dc.d_cell + MYCO_HIST_BUCKETS],
						     memory_order_relaxed);
		} else {
			s.value = atomic_load_explicit(&cells[dc.d_cell], memory_order_relaxed);
		}
		rc = fn(&s, arg);
		if (rc < 0)
			return rc;
		count++;
	}
	return count;
}

/* ---- Prometheus text format -------------------------------------------- */

struct pbuf { char *buf; size_t len, cap; int over; };

__attribute__((format(printf, 2, 3)))
static void put(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len)
		b->over = 1;
	else
		b->len += (size_t)n;
}

static void put_labels(struct pbuf *b, const char *extra, const char *labels,
		       const char *le)
{
	int first = 1;

	if (!(extra && *extra) && !*labels && !le)
		return;
	put(b, "{");
	if (extra && *extra) {
		put(b, "%s", extra);
		first = 0;
	}
	if (*labels) {
		put(b, "%s%s", first ? "" : ",", labels);
		first = 0;
	}
	if (le)
		put(b, "%sle=\"%s\"", first ? "" : ",", le);
	put(b, "}");
}

static void put_value(struct pbuf *b, uint64_t v, int is_signed, uint32_t unit)
{
	if (unit == MYCO_UNIT_SECONDS) {
		double d = is_signed ? (double)(int64_t)v : (double)v;
		put(b, " %.9g\n", d / 1e9);
	} else if (is_signed) {
		put(b, " %" PRId64 "\n", (int64_t)v);
	} else {
		put(b, " %" PRIu64 "\n", v);
	}
}

/* Buckets exported: 0..MAX_LE (values up to 2^40 - 1 ns is 18 minutes), +Inf. */
#define MAX_LE 40u

int myco_metrics_prom(const myco_metric_sample_t *s, const char *extra_labels,
		      int with_header, char *buf, size_t *len, size_t cap)
{
	struct pbuf b = { buf, *len, cap, *len >= cap };
	static const char *const types[] = { "", "counter", "gauge", "histogram" };

	if (s->kind < MYCO_METRIC_COUNTER || s->kind > MYCO_METRIC_HISTOGRAM)
		return -EINVAL;
	if (with_header)
		put(&b, "# TYPE %s %s\n", s->name, types[s->kind]);
	if (s->kind != MYCO_METRIC_HISTOGRAM) {
		put(&b, "%s", s->name);
		put_labels(&b, extra_labels, s->labels, NULL);
		put_value(&b, s->value, s->kind == MYCO_METRIC_GAUGE, s->unit);
	} else {
		uint64_t cum = 0;
		char le[40];
		for (uint32_t i = 0; i <= MAX_LE; i++) {
			cum += s->buckets[i];
			uint64_t top = i == 0 ? 0 : (UINT64_C(1) << i) - 1;
			if (s->unit == MYCO_UNIT_SECONDS)
				snprintf(le, sizeof le, "%.9g", (double)top / 1e9);
			else
				snprintf(le, sizeof le, "%" PRIu64, top);
			put(&b, "%s_bucket", s->name);
			put_labels(&b, extra_labels, s->labels, le);
			put(&b, " %" PRIu64 "\n", cum);
		}
		put(&b, "%s_bucket", s->name);
		put_labels(&b, extra_labels, s->labels, "+Inf");
		put(&b, " %" PRIu64 "\n", s->count);
		put(&b, "%s_sum", s->name);
		put_labels(&b, extra_labels, s->labels, NULL);
		put_value(&b, s->sum, 0, s->unit);
		put(&b, "%s_count", s->name);
		put_labels(&b, extra_labels, s->labels, NULL);
		put(&b, " %" PRIu64 "\n", s->count);
	}
	if (b.over)
		return -ENOSPC;
	*len = b.len;
	return 0;
}
