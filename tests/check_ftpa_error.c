/* Unit tests for protocol/ftpa_error.c */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <check.h>

#include "ftpa_error.h"

Suite *ftpa_error_suite(void);

/* The wire protocol's table (docs/protocol.md), written out again so that
 * a reordering of the enum or the name table shows up here. */
static const struct {
	enum ftpa_err	 kind;
	const char	*name;
	int		 code;
} wire[] = {
	{ FTPA_ERR_FTP,		"ftp",		-32000 },
	{ FTPA_ERR_CONNECT,	"connect",	-32001 },
	{ FTPA_ERR_TLS,		"tls",		-32002 },
	{ FTPA_ERR_AUTH,	"auth",		-32003 },
	{ FTPA_ERR_TIMEOUT,	"timeout",	-32004 },
	{ FTPA_ERR_NOT_FOUND,	"not_found",	-32005 },
	{ FTPA_ERR_EXISTS,	"exists",	-32006 },
	{ FTPA_ERR_PERMISSION,	"permission",	-32007 },
	{ FTPA_ERR_CANCELLED,	"cancelled",	-32008 },
	{ FTPA_ERR_NO_SESSION,	"no_session",	-32009 },
	{ FTPA_ERR_NO_JOB,	"no_job",	-32010 },
	{ FTPA_ERR_LIMIT,	"limit",	-32011 },
	{ FTPA_ERR_LOCAL_IO,	"local_io",	-32012 },
	{ FTPA_ERR_PROTOCOL,	"protocol",	-32013 },
};

#define NWIRE	(sizeof(wire) / sizeof(wire[0]))

START_TEST(test_table)
{
	size_t i;

	ck_assert_uint_eq(NWIRE, FTPA_ERR_LAST - 1);
	for (i = 0; i < NWIRE; i++) {
		ck_assert_int_eq(wire[i].kind, (int)i + 1);
		ck_assert_str_eq(ftpa_err_name(wire[i].kind), wire[i].name);
		ck_assert_int_eq(ftpa_err_code(wire[i].kind), wire[i].code);
		ck_assert_int_eq(ftpa_err_from_name(wire[i].name), wire[i].kind);
		ck_assert_int_eq(ftpa_err_from_code(wire[i].code), wire[i].kind);
	}
}
END_TEST

START_TEST(test_round_trip_all)
{
	int k;

	for (k = FTPA_ERR_FTP; k < FTPA_ERR_LAST; k++) {
		ck_assert_ptr_nonnull(ftpa_err_name((enum ftpa_err)k));
		ck_assert_int_eq(ftpa_err_from_name(ftpa_err_name(
		    (enum ftpa_err)k)), k);
		ck_assert_int_eq(ftpa_err_from_code(ftpa_err_code(
		    (enum ftpa_err)k)), k);
		ck_assert_int_eq(ftpa_err_code((enum ftpa_err)k), -32000 - (k - 1));
	}
}
END_TEST

START_TEST(test_stable_numbers)
{
	ck_assert_int_eq(ftpa_err_code(FTPA_ERR_FTP), -32000);
	ck_assert_int_eq(ftpa_err_code(FTPA_ERR_PROTOCOL), -32013);
	ck_assert_int_eq(FTPA_ERR_LAST, 15);
}
END_TEST

START_TEST(test_none)
{
	ck_assert_str_eq(ftpa_err_name(FTPA_ERR_NONE), "none");
	ck_assert_int_eq(ftpa_err_code(FTPA_ERR_NONE), 0);
	/* "none" is not an error kind anyone can send. */
	ck_assert_int_eq(ftpa_err_from_name("none"), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(0), FTPA_ERR_NONE);
}
END_TEST

START_TEST(test_out_of_range)
{
	ck_assert_ptr_null(ftpa_err_name(FTPA_ERR_LAST));
	ck_assert_ptr_null(ftpa_err_name((enum ftpa_err)100));
	ck_assert_ptr_null(ftpa_err_name((enum ftpa_err)-1));
	ck_assert_int_eq(ftpa_err_code(FTPA_ERR_LAST), 0);
	ck_assert_int_eq(ftpa_err_code((enum ftpa_err)-1), 0);

	ck_assert_int_eq(ftpa_err_from_code(-31999), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(-32014), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(-32700), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(-32600), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(1), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_code(-2147483647 - 1), FTPA_ERR_NONE);

	ck_assert_int_eq(ftpa_err_from_name(NULL), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_name(""), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_name("FTP"), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_name("ftp "), FTPA_ERR_NONE);
	ck_assert_int_eq(ftpa_err_from_name("parse"), FTPA_ERR_NONE);
}
END_TEST

Suite *
ftpa_error_suite(void)
{
	Suite *s = suite_create("ftpa_error");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_round_trip_all);
	tcase_add_test(tc, test_stable_numbers);
	tcase_add_test(tc, test_none);
	tcase_add_test(tc, test_out_of_range);
	suite_add_tcase(s, tc);
	return s;
}
