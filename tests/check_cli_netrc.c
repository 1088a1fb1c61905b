/* ~/.netrc parsing for ftpctl. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "netrc.h"

Suite *cli_netrc_suite(void);

/* Looks up host/user in text; returns the result code. */
static int
look(const char *text, const char *host, const char *user,
    struct netrc_entry *e)
{
	const char *err = NULL;
	int r;

	r = netrc_lookup_buf(text, strlen(text), host, user, e, &err);
	if (r == -1)
		ck_assert_ptr_nonnull(err);
	return r;
}

static void
expect(const char *text, const char *host, const char *user,
    const char *login, const char *password)
{
	struct netrc_entry e;

	ck_assert_int_eq(look(text, host, user, &e), 1);
	if (login == NULL)
		ck_assert_ptr_null(e.login);
	else
		ck_assert_str_eq(e.login, login);
	if (password == NULL)
		ck_assert_ptr_null(e.password);
	else
		ck_assert_str_eq(e.password, password);
	netrc_entry_clear(&e);
	ck_assert_ptr_null(e.login);
	ck_assert_ptr_null(e.password);
}

static const char basic[] =
    "machine a.example login alice password pa\n"
    "machine b.example\n"
    "\tlogin bob\n"
    "\tpassword pb\n"
    "machine b.example login carol password pc\n"
    "default login anonymous password guest@\n";

START_TEST(test_machine)
{
	expect(basic, "a.example", NULL, "alice", "pa");
	expect(basic, "B.Example", NULL, "bob", "pb");
	/* With a user, only an entry for that login matches. */
	expect(basic, "b.example", "carol", "carol", "pc");
	expect(basic, "b.example", "bob", "bob", "pb");
	/* No machine entry for the host or user: the default one. */
	expect(basic, "c.example", NULL, "anonymous", "guest@");
	expect(basic, "a.example", "anonymous", "anonymous", "guest@");
}
END_TEST

START_TEST(test_no_match)
{
	struct netrc_entry e;

	ck_assert_int_eq(look("machine a login x password y\n", "b", NULL,
	    &e), 0);
	ck_assert_ptr_null(e.login);
	ck_assert_int_eq(look("machine a login x password y\n", "a", "z",
	    &e), 0);
	ck_assert_int_eq(look("", "a", NULL, &e), 0);
	ck_assert_int_eq(look("  \n\n\t", "a", NULL, &e), 0);
	/* The default entry is for anyone, but not for another login. */
	ck_assert_int_eq(look("default login x password y", "a", "z", &e), 0);
}
END_TEST

START_TEST(test_partial_entries)
{
	/* An entry without a login gives its password to any user. */
	expect("machine h password only\n", "h", "someone", NULL, "only");
	expect("machine h login l\n", "h", NULL, "l", NULL);
	expect("machine h account acct login l password p", "h", NULL, "l",
	    "p");
	/* Values before any machine belong to nobody. */
	expect("login stray password stray machine h login l password p",
	    "h", NULL, "l", "p");
	/* A later value for the same keyword wins. */
	expect("machine h login a login b password p", "h", NULL, "b", "p");
}
END_TEST

START_TEST(test_default_anywhere)
{
	/* A default entry is only a fallback, even when it comes first. */
	expect("default login d password dp\nmachine h login m password mp\n",
	    "h", NULL, "m", "mp");
	expect("default login d password dp\nmachine h login m password mp\n",
	    "x", NULL, "d", "dp");
	/* The first default wins. */
	expect("default login d1 password p1 default login d2 password p2",
	    "x", NULL, "d1", "p1");
}
END_TEST

START_TEST(test_quoted)
{
	expect("machine h login \"john doe\" password \"p a\\\"ss\\\\w\"\n",
	    "h", NULL, "john doe", "p a\"ss\\w");
	expect("machine \"h\" login u password \"\"\n", "h", NULL, "u", "");
	expect("machine h login u password pa\\ ss\n", "h", NULL, "u",
	    "pa ss");
	/* Quotes inside a plain token are plain characters. */
	expect("machine h login u password a\"b\n", "h", NULL, "u", "a\"b");
}
END_TEST

START_TEST(test_macdef)
{
	static const char text[] =
	    "machine h login u password p1\n"
	    "macdef init\n"
	    "machine h login u password evil\n"
	    "cd /pub\n"
	    "\n"
	    "machine g login v password p2\n";
	static const char crlf[] =
	    "macdef init\r\n"
	    "machine g login evil password evil\r\n"
	    "\r\n"
	    "machine g login v password p2\r\n";

	expect(text, "h", NULL, "u", "p1");
	expect(text, "g", NULL, "v", "p2");
	expect(crlf, "g", NULL, "v", "p2");
	/* A macdef running to the end of the file hides the rest. */
	expect("machine g login v password p2 macdef x\nmachine z login z",
	    "g", NULL, "v", "p2");
	{
		struct netrc_entry e;

		ck_assert_int_eq(look("macdef x\nmachine z login z\n", "z",
		    NULL, &e), 0);
	}
}
END_TEST

START_TEST(test_comments)
{
	expect("# my hosts\nmachine h # the box\n login u password #notcomment\n",
	    "h", NULL, "u", "#notcomment");
}
END_TEST

START_TEST(test_malformed)
{
	struct netrc_entry e;

	ck_assert_int_eq(look("machine h login u password \"unterminated",
	    "h", NULL, &e), -1);
	ck_assert_ptr_null(e.login);
	ck_assert_ptr_null(e.password);
	ck_assert_int_eq(look("machine h login", "h", NULL, &e), -1);
	ck_assert_int_eq(look("machine", "h", NULL, &e), -1);
	ck_assert_int_eq(look("machine h bogus x", "h", NULL, &e), -1);
	/* A match before the damage is still found. */
	expect("machine h login u password p\nmachine g login \"x", "h", NULL,
	    "u", "p");
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char text[] = "machine h login u\0x password p";
	struct netrc_entry e;
	const char *err = NULL;

	/* The buffer's length ends the text; a NUL inside is refused
	 * rather than cutting the login short. */
	ck_assert_int_eq(netrc_lookup_buf(text, sizeof(text) - 1, "h", NULL,
	    &e, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(e.login);
	ck_assert_int_eq(netrc_lookup_buf("machine h", 9, "h", NULL, &e, &err),
	    1);
	netrc_entry_clear(&e);
}
END_TEST

START_TEST(test_file)
{
	char path[] = "/tmp/check_cli_netrc.XXXXXX";
	struct netrc_entry e;
	const char *err = NULL;
	char *p;
	FILE *fp;
	int fd;

	ck_assert_int_eq(netrc_lookup_file("/nonexistent/.netrc", "h", NULL,
	    &e, &err), 0);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fputs(basic, fp);
	fclose(fp);
	ck_assert_int_eq(netrc_lookup_file(path, "b.example", "carol", &e,
	    &err), 1);
	ck_assert_str_eq(e.login, "carol");
	ck_assert_str_eq(e.password, "pc");
	netrc_entry_clear(&e);
	/* A directory is refused. */
	ck_assert_int_eq(netrc_lookup_file("/tmp", "h", NULL, &e, &err), -1);
	ck_assert_ptr_nonnull(err);

	setenv("NETRC", path, 1);
	ck_assert_ptr_nonnull(p = netrc_default_path());
	ck_assert_str_eq(p, path);
	free(p);
	unsetenv("NETRC");
	setenv("HOME", "/home/someone", 1);
	ck_assert_ptr_nonnull(p = netrc_default_path());
	ck_assert_str_eq(p, "/home/someone/.netrc");
	free(p);
	unlink(path);
}
END_TEST

Suite *
cli_netrc_suite(void)
{
	Suite *s = suite_create("cli_netrc");
	TCase *tc = tcase_create("netrc");

	tcase_add_test(tc, test_machine);
	tcase_add_test(tc, test_no_match);
	tcase_add_test(tc, test_partial_entries);
	tcase_add_test(tc, test_default_anywhere);
	tcase_add_test(tc, test_quoted);
	tcase_add_test(tc, test_macdef);
	tcase_add_test(tc, test_comments);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_file);
	suite_add_tcase(s, tc);
	return s;
}
