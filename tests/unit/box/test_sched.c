/*
 * test_sched.c: the admission arithmetic of SCHED_DEADLINE reservations
 * (exec/box/sched.c): a set that fits is admitted, one that does not is
 * refused, and the message shows every term, the sum and the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "myco/common.h"
#include "box_int.h"

static const struct myco__box_dl_host two = { 950000, 1000000, 2, 3 };

static void test_fits(void **state)
{
	(void)state;
	struct myco__box_resv r[] = {
		{ "control", 500000, 1000000 },
		{ "imu", 6500000, 10000000 },
		{ "log", 750000, 1000000 },
	};
	char msg[1024];
	/* 0.5 + 0.65 + 0.75 = 1.9: exactly the limit of 2 CPUs at 95 % */
	assert_int_equal(myco__box_dl_admit(r, 3, &two, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "control"));
	assert_non_null(strstr(msg, "500 us / 1 ms"));
	assert_non_null(strstr(msg, "6.5 ms / 10 ms"));
	assert_non_null(strstr(msg, "= 0.650"));
	assert_non_null(strstr(msg, "= 1.900 <= 0.950 x 2 CPUs = 1.900"));
	assert_non_null(strstr(msg, "sched_rt_runtime_us 950000"));
}

static void test_refused(void **state)
{
	(void)state;
	struct myco__box_resv r[] = {
		{ "a", 700000, 1000000 },
		{ "b", 700000, 1000000 },
		{ "c", 600000, 1000000 },
	};
	char msg[1024];
	assert_int_equal(myco__box_dl_admit(r, 3, &two, msg, sizeof(msg)), -MYCO_EADMISSION);
	assert_non_null(strstr(msg, "= 2.000 > 0.950 x 2 CPUs = 1.900"));
	for (int i = 0; i < 3; i++)
		assert_non_null(strstr(msg, r[i].name));
	/* one CPU: a single 0.96 reservation is over the 95 % */
	struct myco__box_dl_host one = { 950000, 1000000, 1, 1 };
	struct myco__box_resv big = { "big", 960000, 1000000 };
	assert_int_equal(myco__box_dl_admit(&big, 1, &one, msg, sizeof(msg)), -MYCO_EADMISSION);
	assert_non_null(strstr(msg, "0.960 > 0.950 x 1 CPU = 0.950"));
}

static void test_no_limit_and_truncation(void **state)
{
	(void)state;
	struct myco__box_dl_host nolimit = { -1, 1000000, 1, 1 };
	struct myco__box_resv r[] = { { "x", 2000000, 1000000 } };
	char msg[512];
	assert_int_equal(myco__box_dl_admit(r, 1, &nolimit, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "no limit"));
	/* a tiny buffer: still a verdict, a terminated string */
	char small[16];
	assert_int_equal(myco__box_dl_admit(r, 1, &two, small, sizeof(small)), -MYCO_EADMISSION);
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(myco__box_dl_admit(r, 1, &two, small, 0), -22 /* -EINVAL */);
	/* the host's own figures are readable here */
	struct myco__box_dl_host h;
	assert_int_equal(myco__box_dl_host(&h), 0);
	assert_true(h.ncpus >= 1);
	assert_int_equal((unsigned)__builtin_popcountll(h.online_mask), h.ncpus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_no_limit_and_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
