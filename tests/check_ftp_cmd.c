/*
 * Unit tests for protocol/ftp_cmd.c: the quote filter, missing-path
 * replies and path arithmetic.
 */
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ftp_cmd.h"

Suite	*ftp_cmd_suite(void);

START_TEST(quote_allowed)
{
	static const char *ok[] = { "SITE CHMOD 644 f", "STAT", "HELP",
	    "NOOP", "MDTM f", "site help", "SYST", "FEAT", "OPTS UTF8 ON",
	    "LISTX", "CWDX", "RESTART", NULL };

	for (const char **p = ok; *p; p++)
		ck_assert_msg(ftp_quote_refusal(*p) == NULL, "%s", *p);
}
END_TEST

START_TEST(quote_refused)
{
	static const char *no[] = { "LIST", "list /", "RETR f", "STOR f",
	    "APPE f", "PASV", "EPSV", "PORT 1,2,3,4,5,6", "EPRT |1|x|1|",
	    "CWD /", "cdup", "REST 5", "USER x", "PASS y", "AUTH TLS",
	    "PBSZ 0", "PROT C", "CCC", "ABOR", "QUIT", "REIN", "MLSD",
	    "NLST", "STOU", NULL };

	for (const char **p = no; *p; p++)
		ck_assert_msg(ftp_quote_refusal(*p) != NULL, "%s", *p);
	/* the verb ends at white space for some servers: none is allowed */
	ck_assert_ptr_nonnull(ftp_quote_refusal("REST\t5"));
	ck_assert_ptr_nonnull(ftp_quote_refusal("SITE x\x1b[2J"));
	ck_assert_ptr_nonnull(ftp_quote_refusal("NOOP\x7f"));
	ck_assert_ptr_nonnull(ftp_quote_refusal(" REST 5"));
	ck_assert_ptr_nonnull(ftp_quote_refusal(""));
}
END_TEST

START_TEST(missing)
{
	ck_assert(ftp_says_missing("No such file or directory."));
	ck_assert(ftp_says_missing("/x: not found"));
	ck_assert(ftp_says_missing("File does not exist"));
	ck_assert(ftp_says_missing("Can't find it"));
	ck_assert(!ftp_says_missing("Directory not empty."));
	ck_assert(!ftp_says_missing("Permission denied."));
	ck_assert(!ftp_says_missing("Failed to change directory."));
	ck_assert(!ftp_says_missing(""));
}
END_TEST

START_TEST(paths)
{
	static const struct {
		const char	*path, *base;
		bool		 has_parent;
		size_t		 parent_len;
	} cases[] = {
		{ "a/b", "b", true, 1 },
		{ "/b", "b", true, 1 },
		{ "b", "b", true, 0 },
		{ "/a/b c/d e", "d e", true, 6 },
		{ "", "", false, 0 },
		{ "/", "/", false, 0 },
		{ "a/b/", "a/b/", false, 0 },
		{ "a/..", "..", false, 1 },
		{ ".", ".", false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char	*p = cases[i].path;

		ck_assert_str_eq(ftp_path_base(p), cases[i].base);
		ck_assert_msg(ftp_path_has_parent(p) == cases[i].has_parent,
		    "%s", p);
		if (cases[i].has_parent)
			ck_assert_uint_eq(ftp_path_parent_len(p),
			    cases[i].parent_len);
	}
}
END_TEST

START_TEST(join)
{
	static const char *cases[][3] = {
		{ "/home/u", "a b", "/home/u/a b" },
		{ "/", "a", "/a" },
		{ "/home/u/", "a/b", "/home/u/a/b" },
		{ "/home/u", "/abs", "/abs" },
		{ "/home/u", "", "/home/u" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char	*s = ftp_path_join(cases[i][0], cases[i][1]);

		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s, cases[i][2]);
		free(s);
	}
}
END_TEST

Suite *
ftp_cmd_suite(void)
{
	Suite	*s = suite_create("ftp_cmd");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, quote_allowed);
	tcase_add_test(tc, quote_refused);
	tcase_add_test(tc, missing);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, join);
	suite_add_tcase(s, tc);
	return s;
}
