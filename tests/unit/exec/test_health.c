/*
 * test_health.c: the health model's detectors (exec/health_detect.c)
 * against synthetic series with known answers: the learned baseline's
 * median and MAD, EWMA arithmetic, CUSUM that stays quiet on noise and
 * alarms on a drift of known size at a known sample, the least-squares
 * trend and its time to a limit (a leak), and that noise or a step load
 * change does not produce a confident trend.  Exact and deterministic:
 * no clock, no randomness beyond a fixed-seed generator.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"

/* xorshift64*: a fixed sequence in [-1, 1) */
static double noise(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	uint64_t v = *st * 2685821657736338717ull;
	return (double)(v >> 11) / (double)(1ull << 52) - 1.0;
}

static void test_baseline_median_mad(void **state)
{
	(void)state;
	struct myco__hd_base b = { 0 };
	/* 1..32: median 16.5, |x - 16.5| = 0.5 .. 15.5, MAD = 8 */
	for (int i = 1; i <= 32; i++) {
		assert_false(b.ready);
		myco__hd_base_add(&b, i, 0.0);
	}
	assert_true(b.ready);
	assert_true(fabs(b.median - 16.5) < 1e-12);
	assert_true(fabs(b.mad - 8.0) < 1e-12);
	assert_true(fabs(b.sigma - 1.4826 * 8.0) < 1e-12);
	/* frozen: later samples do not move it */
	myco__hd_base_add(&b, 1e9, 0.0);
	assert_true(fabs(b.median - 16.5) < 1e-12);
	assert_false(myco__hd_base_high(&b, 16.5 + 3 * b.sigma, 4.0));
	assert_true(myco__hd_base_high(&b, 16.5 + 5 * b.sigma, 4.0));
}

static void test_baseline_flat_floor(void **state)
{
	(void)state;
	struct myco__hd_base b = { 0 };
	for (int i = 0; i < 32; i++)
		myco__hd_base_add(&b, 5.0, 0.25);
	assert_true(b.ready);
	assert_true(b.mad == 0.0);
	assert_true(b.sigma == 0.25);          /* the floor, not zero */
	assert_false(myco__hd_base_high(&b, 5.0 + 8 * 0.25, 8.0));
	assert_true(myco__hd_base_high(&b, 5.0 + 8 * 0.25 + 0.01, 8.0));
	/* an outlier while learning moves the median by at most one rank */
	struct myco__hd_base c = { 0 };
	for (int i = 0; i < 32; i++)
		myco__hd_base_add(&c, i == 7 ? 1e6 : 10.0, 0.0);
	assert_true(c.median == 10.0 && c.mad == 0.0);
	/* a saved profile is ready at once */
	struct myco__hd_base d = { 0 };
	myco__hd_base_set(&d, 3.0, 1.0, 0.0);
	assert_true(d.ready && fabs(d.sigma - 1.4826) < 1e-12);
	/* NaN is ignored */
	struct myco__hd_base e = { 0 };
	myco__hd_base_add(&e, NAN, 0.0);
	assert_int_equal(e.n, 0);
}

static void test_ewma(void **state)
{
	(void)state;
	struct myco__hd_ewma e = { 0 };
	assert_true(myco__hd_ewma_add(&e, 10.0, 0.5) == 10.0);   /* first sample */
	assert_true(myco__hd_ewma_add(&e, 20.0, 0.5) == 15.0);
	assert_true(myco__hd_ewma_add(&e, 20.0, 0.5) == 17.5);
	assert_true(myco__hd_ewma_add(&e, NAN, 0.5) == 17.5);
}

static void test_cusum_quiet_on_noise(void **state)
{
	(void)state;
	struct myco__hd_cusum c = { 0 };
	uint64_t st = 42;
	/* 10,000 samples of uniform noise in [-1, 1) around mu = 100 with
	 * sigma = 1: k = 0.5, h = 8 never alarms (the standardised mean is 0) */
	for (int i = 0; i < 10000; i++)
		assert_false(myco__hd_cusum_add(&c, 100.0 + noise(&st), 100.0, 1.0, 0.5, 8.0));
}

static void test_cusum_drift(void **state)
{
	(void)state;
	struct myco__hd_cusum c = { 0 };
	/* a constant shift of 2 sigma: S grows by 1.5 per sample, so it passes
	 * h = 8 at the 6th sample exactly (1.5 x 6 = 9 > 8, 7.5 at the 5th) */
	for (int i = 1; i <= 5; i++)
		assert_false(myco__hd_cusum_add(&c, 102.0, 100.0, 1.0, 0.5, 8.0));
	assert_true(myco__hd_cusum_add(&c, 102.0, 100.0, 1.0, 0.5, 8.0));
	assert_int_equal(c.n_alarm, 1);
	assert_true(myco__hd_cusum_add(&c, 102.0, 100.0, 1.0, 0.5, 8.0));
	assert_int_equal(c.n_alarm, 2);
	/* back to normal: S decays by 0.5 per sample (10.5 -> 8.0, not above h, at the 5th) */
	int n = 0;
	while (myco__hd_cusum_add(&c, 100.0, 100.0, 1.0, 0.5, 8.0))
		n++;
	assert_int_equal(n, 4);
	assert_int_equal(c.n_alarm, 0);
	/* a slow ramp (0.05 sigma per sample) is caught, and never below mu */
	myco__hd_cusum_reset(&c);
	int at = -1;
	for (int i = 0; i < 1000 && at < 0; i++)
		if (myco__hd_cusum_add(&c, 100.0 + 0.05 * i, 100.0, 1.0, 0.5, 8.0))
			at = i;
	/* S_i = sum_{j<=i} (0.05 j - 0.5) once positive (j > 10): first i with
	 * sum_{j=11..i} (0.05 j - 0.5) > 8 is i = 28 (7.65 at 27, 8.55 at 28) */
	assert_int_equal(at, 28);
	/* sigma 0 is refused (no division): nothing changes */
	myco__hd_cusum_reset(&c);
	assert_false(myco__hd_cusum_add(&c, 1e9, 0.0, 0.0, 0.5, 8.0));
}

static void test_trend_exact_line(void **state)
{
	(void)state;
	struct myco__hd_trend tr = { 0 };
	double a, b, r2;
	assert_int_equal(myco__hd_trend_fit(&tr, 2, &a, &b, &r2), -EAGAIN);
	/* a leak of 8 MiB/s from 3 MiB, sampled every 0.1 s */
	for (int i = 0; i < 20; i++)
		myco__hd_trend_add(&tr, i * 0.1, 3.0 + 8.0 * i * 0.1);
	assert_int_equal(myco__hd_trend_fit(&tr, 8, &a, &b, &r2), 0);
	assert_true(fabs(a - 8.0) < 1e-9);
	assert_true(fabs(b - 3.0) < 1e-9);
	assert_true(fabs(r2 - 1.0) < 1e-9);
	/* at t = 1.9 the line is at 18.2; the limit 50 is (50 - 18.2) / 8 s away */
	double tt = myco__hd_time_to(&tr, 8, 0.9, 1.9, 50.0);
	assert_true(fabs(tt - (50.0 - 18.2) / 8.0) < 1e-9);
	assert_true(myco__hd_time_to(&tr, 8, 0.9, 1.9, 10.0) == 0.0);   /* past it */
	assert_true(myco__hd_time_to(&tr, 64, 0.9, 1.9, 50.0) == -1.0); /* too few */
	/* the window keeps the last MYCO__HD_TREND points: a later flat stretch
	 * replaces the slope entirely */
	for (int i = 0; i < (int)MYCO__HD_TREND; i++)
		myco__hd_trend_add(&tr, 10.0 + i * 0.1, 42.0);
	assert_int_equal(myco__hd_trend_fit(&tr, 8, &a, &b, &r2), 0);
	assert_true(fabs(a) < 1e-9);
	assert_true(myco__hd_time_to(&tr, 8, 0.9, 20.0, 50.0) == -1.0);
}

static void test_trend_rejects_noise_and_steps(void **state)
{
	(void)state;
	struct myco__hd_trend tr = { 0 };
	uint64_t st = 7;
	/* pure noise around 40: the fit is weak, no time to exhaustion */
	for (int i = 0; i < 64; i++)
		myco__hd_trend_add(&tr, i * 0.1, 40.0 + 5.0 * noise(&st));
	assert_true(myco__hd_time_to(&tr, 16, 0.8, 6.4, 80.0) == -1.0);
	/* a load step (20 -> 30, then flat): r^2 of a line through a step of
	 * two equal halves is 0.75, below 0.8: not a leak */
	myco__hd_trend_reset(&tr);
	for (int i = 0; i < 64; i++)
		myco__hd_trend_add(&tr, i * 0.1, i < 32 ? 20.0 : 30.0);
	double a, b, r2;
	assert_int_equal(myco__hd_trend_fit(&tr, 16, &a, &b, &r2), 0);
	assert_true(fabs(r2 - 0.75) < 0.01);
	assert_true(myco__hd_time_to(&tr, 16, 0.8, 6.4, 80.0) == -1.0);
	/* falling: never */
	myco__hd_trend_reset(&tr);
	for (int i = 0; i < 64; i++)
		myco__hd_trend_add(&tr, i * 0.1, 100.0 - i);
	assert_true(myco__hd_time_to(&tr, 16, 0.8, 6.4, 200.0) == -1.0);
	/* all at one instant: no spread */
	myco__hd_trend_reset(&tr);
	for (int i = 0; i < 8; i++)
		myco__hd_trend_add(&tr, 1.0, i);
	assert_int_equal(myco__hd_trend_fit(&tr, 2, &a, &b, &r2), -EAGAIN);
}

static void test_trend_since_change(void **state)
{
	(void)state;
	struct myco__hd_trend tr = { 0 };
	double a, b, r2;
	/* 58 flat points, then a ramp of 1000 units/s over the newest 6: the
	 * whole window's fit is weak, the newest 6 are an exact line */
	for (int i = 0; i < 58; i++)
		myco__hd_trend_add(&tr, i * 0.1, 0.0);
	for (int i = 1; i <= 6; i++)
		myco__hd_trend_add(&tr, 5.7 + i * 0.1, 100.0 * i);
	assert_int_equal(myco__hd_trend_fit(&tr, 10, &a, &b, &r2), 0);
	assert_true(r2 < 0.8);
	assert_true(myco__hd_time_to(&tr, 10, 0.8, 6.3, 2000.0) == -1.0);
	assert_int_equal(myco__hd_trend_fit_last(&tr, 6, &a, &b, &r2), 0);
	assert_true(fabs(a - 1000.0) < 1e-6 && fabs(r2 - 1.0) < 1e-9);
	/* at t = 6.3 the line is at 600: 1.4 s to 2000 */
	assert_true(fabs(myco__hd_time_to_last(&tr, 6, 0.8, 6.3, 2000.0) - 1.4) < 1e-9);
	/* more points than held: nothing */
	struct myco__hd_trend few = { 0 };
	myco__hd_trend_add(&few, 0, 0);
	myco__hd_trend_add(&few, 1, 1);
	assert_true(myco__hd_time_to_last(&few, 5, 0.8, 1, 10) == -1.0);
	assert_true(fabs(myco__hd_time_to_last(&few, 2, 0.8, 1, 10) - 9.0) < 1e-12);
}

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < MYCO__HS_N; i++)
		assert_int_equal(myco__hs_parse(myco__hs_name((enum myco__hs)i)), i);
	assert_int_equal(myco__hs_parse("nope"), -1);
	assert_string_equal(myco__hv_name(MYCO__HV_SICK), "sick");
	assert_string_equal(myco__hs_unit(MYCO__HS_MEMORY), "%");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_median_mad),
		cmocka_unit_test(test_baseline_flat_floor),
		cmocka_unit_test(test_ewma),
		cmocka_unit_test(test_cusum_quiet_on_noise),
		cmocka_unit_test(test_cusum_drift),
		cmocka_unit_test(test_trend_exact_line),
		cmocka_unit_test(test_trend_rejects_noise_and_steps),
		cmocka_unit_test(test_trend_since_change),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
