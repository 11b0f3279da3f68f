/* test_common.c: unit tests for myco/common.h (error strings, version). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "myco/common.h"

static void test_strerror_errno(void **state)
{
	(void)state;
	assert_string_equal(myco_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(myco_strerror(ENOENT), strerror(ENOENT));
}

static void test_strerror_myco(void **state)
{
	(void)state;
	assert_non_null(strstr(myco_strerror(-MYCO_EBROKEN), "broken"));
	assert_string_equal(myco_strerror(-(MYCO_ERR_BASE + 99)), "unknown Myco error");
	assert_string_equal(myco_strerror(0), "success");
}

static void test_version(void **state)
{
	(void)state;
	assert_string_equal(myco_version(), "0.1.0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_errno),
		cmocka_unit_test(test_strerror_myco),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
