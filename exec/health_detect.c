/*
 * health_detect.c: the health model's online detectors, pure arithmetic on
 * the samples they are given (no clock, no I/O): the learned baseline
 * (median and MAD), the EWMA, the one-sided CUSUM and the least-squares
 * trend with its predicted time to a limit.  exec/health.c feeds them;
 * tests/unit/exec checks them exactly against synthetic series.
 * Not for: where samples come from or what a verdict is (health.c).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "myco/lang.h"
#include "health.h"

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_of(double *v, uint32_t n)
{
	qsort(v, n, sizeof *v, cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void myco__hd_base_set(struct myco__hd_base *b, double median, double mad,
		       double sigma_floor)
{
	b->median = median;
	b->mad = mad;
	b->sigma = 1.4826 * mad;
	if (b->sigma < sigma_floor)
		b->sigma = sigma_floor;
	b->ready = true;
}

void myco__hd_base_add(struct myco__hd_base *b, double x, double sigma_floor)
{
	double tmp[MYCO__HD_LEARN];

	if (b->ready || !isfinite(x))
		return;
	b->s[b->n++] = x;
	if (b->n < MYCO__HD_LEARN)
		return;
	memcpy(tmp, b->s, sizeof tmp);
	double med = median_of(tmp, b->n);
	for (uint32_t i = 0; i < b->n; i++)
		tmp[i] = fabs(b->s[i] - med);
	myco__hd_base_set(b, med, median_of(tmp, b->n), sigma_floor);
}

bool myco__hd_base_high(const struct myco__hd_base *b, double x, double k)
{
	return b->ready && x > b->median + k * b->sigma;
}

double myco__hd_ewma_add(struct myco__hd_ewma *e, double x, double alpha)
{
	if (!isfinite(x))
		return e->v;
	if (!e->init) {
		e->v = x;
		e->init = true;
	} else {
		e->v += alpha * (x - e->v);
	}
	return e->v;
}

bool myco__hd_cusum_add(struct myco__hd_cusum *c, double x, double mu,
			double sigma, double k, double h)
{
	if (!isfinite(x) || !(sigma > 0))
		return c->alarm;
	c->s += (x - mu) / sigma - k;
	if (c->s < 0)
		c->s = 0;
	c->alarm = c->s > h;
	c->n_alarm = c->alarm ? c->n_alarm + 1 : 0;
	return c->alarm;
}

void myco__hd_cusum_reset(struct myco__hd_cusum *c)
{
	memset(c, 0, sizeof *c);
}

void myco__hd_trend_add(struct myco__hd_trend *tr, double t, double x)
{
	if (!isfinite(t) || !isfinite(x))
		return;
	tr->t[tr->pos] = t;
	tr->x[tr->pos] = x;
	tr->pos = (tr->pos + 1) % MYCO__HD_TREND;
	if (tr->n < MYCO__HD_TREND)
		tr->n++;
}

void myco__hd_trend_reset(struct myco__hd_trend *tr)
{
	memset(tr, 0, sizeof *tr);
}

/* Index of the k-th newest point (k = 0 the newest). */
static uint32_t newest(const struct myco__hd_trend *tr, uint32_t k)
{
	return (tr->pos + MYCO__HD_TREND - 1 - k) % MYCO__HD_TREND;
}

int myco__hd_trend_fit_last(const struct myco__hd_trend *tr, uint32_t last,
			    double *slope, double *icept, double *r2)
{
	double mt = 0, mx = 0, stt = 0, stx = 0, sxx = 0;
	uint32_t n = last < tr->n ? last : tr->n;

	if (n < 2)
		return -EAGAIN;
	for (uint32_t k = 0; k < n; k++) {
		mt += tr->t[newest(tr, k)];
		mx += tr->x[newest(tr, k)];
	}
	mt /= n;
	mx /= n;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = newest(tr, k);
		double dt = tr->t[i] - mt, dx = tr->x[i] - mx;
		stt += dt * dt;
		stx += dt * dx;
		sxx += dx * dx;
	}
	if (!(stt > 0))
		return -EAGAIN;
	*slope = stx / stt;
	*icept = mx - *slope * mt;
	*r2 = sxx > 0 ? stx * stx / (stt * sxx) : 1.0;
	return 0;
}

int myco__hd_trend_fit(const struct myco__hd_trend *tr, uint32_t min,
		       double *slope, double *icept, double *r2)
{
	if (tr->n < 2 || tr->n < min)
		return -EAGAIN;
	return myco__hd_trend_fit_last(tr, tr->n, slope, icept, r2);
}

double myco__hd_time_to_last(const struct myco__hd_trend *tr, uint32_t last,
			     double min_r2, double now, double limit)
{
	double a, b, r2;

	if (tr->n < last || myco__hd_trend_fit_last(tr, last, &a, &b, &r2) < 0 ||
	    r2 < min_r2 || !(a > 0))
		return -1;
	double at = a * now + b;
	if (at >= limit)
		return 0;
	return (limit - at) / a;
}

double myco__hd_time_to(const struct myco__hd_trend *tr, uint32_t min,
			double min_r2, double now, double limit)
{
	double a, b, r2;

	if (myco__hd_trend_fit(tr, min, &a, &b, &r2) < 0 || r2 < min_r2 || !(a > 0))
		return -1;
	double at = a * now + b;
	if (at >= limit)
		return 0;
	return (limit - at) / a;
}

/* ---- names (the lang model's myco_signal_t, same values) ------------------ */

_Static_assert((int)MYCO__HS_LATENCY == (int)MYCO_SIG_LATENCY &&
	       (int)MYCO__HS_RESTARTS == (int)MYCO_SIG_RESTARTS &&
	       (int)MYCO__HS_N == (int)MYCO_SIG_COUNT, "signals as in myco/lang.h");

static const char *const hs_names[MYCO__HS_N] = {
	"heartbeat", "latency", "queue", "stall", "memory", "cpu", "errors", "restarts",
};
static const char *const hs_units[MYCO__HS_N] = {
	"ms", "ms", "msgs", "ms", "%", "%", "%", "count",
};

const char *myco__hs_name(enum myco__hs s)
{
	return (unsigned)s < MYCO__HS_N ? hs_names[s] : "?";
}

const char *myco__hs_unit(enum myco__hs s)
{
	return (unsigned)s < MYCO__HS_N ? hs_units[s] : "?";
}

int myco__hs_parse(const char *name)
{
	for (int i = 0; i < MYCO__HS_N; i++)
		if (!strcmp(name, hs_names[i]))
			return i;
	return -1;
}

const char *myco__hv_name(enum myco__hv v)
{
	static const char *const n[] = { "healthy", "degraded", "sick" };
	return (unsigned)v < 3 ? n[v] : "?";
}
