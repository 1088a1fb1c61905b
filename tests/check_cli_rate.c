/* ftpctl's --limit-rate: RATE read as curl spells it, and shown back. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "output.h"
#include "target.h"

Suite *cli_rate_suite(void);

static int64_t
rate_ok(const char *s)
{
	const char *err = NULL;
	int64_t v = -42;

	ck_assert_msg(target_parse_rate(s, &v, &err) == 0, "%s refused: %s",
	    s, err != NULL ? err : "(no reason)");
	return v;
}

static void
assert_rate_bad(const char *s, const char *why)
{
	const char *err = NULL;
	int64_t v = 42;

	ck_assert_msg(target_parse_rate(s, &v, &err) == -1, "%s accepted", s);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, why) != NULL, "%s: \"%s\" does not say %s",
	    s, err, why);
	ck_assert(v == 42);
}

START_TEST(test_parse_rate)
{
	ck_assert(rate_ok("0") == 0);
	ck_assert(rate_ok("0K") == 0);
	ck_assert(rate_ok("0.0") == 0);
	ck_assert(rate_ok("1") == 1);
	ck_assert(rate_ok("1000") == 1000);
	ck_assert(rate_ok("500K") == 512000);
	ck_assert(rate_ok("500k") == 512000);
	ck_assert(rate_ok("10M") == 10485760);
	ck_assert(rate_ok("10m") == 10485760);
	ck_assert(rate_ok("1.5M") == 1572864);
	ck_assert(rate_ok(".5K") == 512);
	ck_assert(rate_ok("5.") == 5);
	ck_assert(rate_ok("1G") == 1073741824);
	ck_assert(rate_ok("1g") == 1073741824);
	ck_assert(rate_ok("1.999G") == 2146409906);
	ck_assert(rate_ok("2147483647") == TARGET_RATE_MAX);
	ck_assert(rate_ok("0002147483647") == TARGET_RATE_MAX);
	/* a fraction of a byte is dropped */
	ck_assert(rate_ok("0.1K") == 102);
	ck_assert(rate_ok("1.9") == 1);

	assert_rate_bad("", "number");
	assert_rate_bad("K", "number");
	assert_rate_bad(".", "number");
	assert_rate_bad("-1", "negative");
	assert_rate_bad("-0.5M", "negative");
	assert_rate_bad("+5", "number");
	assert_rate_bad(" 5", "number");
	assert_rate_bad("10X", "suffix");
	assert_rate_bad("10KB", "suffix");
	assert_rate_bad("10 K", "suffix");
	assert_rate_bad("1T", "suffix");
	assert_rate_bad("1e3", "suffix");
	assert_rate_bad("0x10", "suffix");
	assert_rate_bad("1.2.3", "suffix");
	assert_rate_bad("5K ", "suffix");
	assert_rate_bad("inf", "number");
	assert_rate_bad("nan", "number");
	assert_rate_bad("2147483648", "at most");
	assert_rate_bad("2G", "at most");
	assert_rate_bad("2097152K", "at most");
	assert_rate_bad("99999999999999999999999999", "at most");
	/* not 0, yet no whole byte: not "no limit" by accident */
	assert_rate_bad("0.5", "at least");
	assert_rate_bad("0.0001K", "at least");
}
END_TEST

START_TEST(test_rate_limit_text)
{
	char b[OUTPUT_RATE_LEN];
	const char *back[] = { "1", "1023", "1K", "500K", "10M", "1.5M",
	    "1G", "1023M" };
	size_t i;

	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 0), "-");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), -1), "-");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1), "1");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1023), "1023");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1024), "1K");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1536), "1.5K");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 524288), "512K");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1048575), "1.0M");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 10485760), "10M");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), 1000000), "976.6K");
	ck_assert_str_eq(output_rate_limit(b, sizeof(b), TARGET_RATE_MAX),
	    "2.0G");
	/* what it prints, --limit-rate reads back as the same number */
	for (i = 0; i < sizeof(back) / sizeof(back[0]); i++)
		ck_assert_str_eq(output_rate_limit(b, sizeof(b),
		    rate_ok(back[i])), back[i]);
}
END_TEST

Suite *
cli_rate_suite(void)
{
	Suite *s = suite_create("cli_rate");
	TCase *tc = tcase_create("rate");

	tcase_add_test(tc, test_parse_rate);
	tcase_add_test(tc, test_rate_limit_text);
	suite_add_tcase(s, tc);
	return s;
}
