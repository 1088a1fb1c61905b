/* Unit tests for protocol/url.c */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "url.h"

Suite *url_suite(void);

/* One accepted URL and every field it must give. NULL user/password mean
 * absent. */
static const struct good {
	const char		*in;
	enum ftp_tls_mode	 tls;
	const char		*user;
	const char		*password;
	const char		*host;
	unsigned		 port;
	bool			 port_given;
	const char		*path;
} good[] = {
	{ "ftp://h", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "" },
	{ "ftp://h/", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "" },
	{ "ftpes://h", FTP_TLS_EXPLICIT, NULL, NULL, "h", 21, false, "" },
	{ "ftps://h", FTP_TLS_IMPLICIT, NULL, NULL, "h", 990, false, "" },
	{ "FTP://Example.COM/x", FTP_TLS_NONE, NULL, NULL, "Example.COM", 21,
	    false, "x" },
	{ "FtPeS://h", FTP_TLS_EXPLICIT, NULL, NULL, "h", 21, false, "" },
	{ "FTPS://h:2990/", FTP_TLS_IMPLICIT, NULL, NULL, "h", 2990, true, "" },
	{ "ftp://h/a/b", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "a/b" },
	{ "ftp://h//etc", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "/etc" },
	{ "ftp://h/%2Fetc", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "/etc" },
	{ "ftp://h/%2fetc/x", FTP_TLS_NONE, NULL, NULL, "h", 21, false,
	    "/etc/x" },
	{ "ftp://h/dir/", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "dir/" },
	{ "ftp://u@h", FTP_TLS_NONE, "u", NULL, "h", 21, false, "" },
	{ "ftp://u:p@h:2121/f", FTP_TLS_NONE, "u", "p", "h", 2121, true, "f" },
	{ "ftp://u:@h", FTP_TLS_NONE, "u", "", "h", 21, false, "" },
	{ "ftp://me%40example.com:s3cret@h/", FTP_TLS_NONE,
	    "me@example.com", "s3cret", "h", 21, false, "" },
	/* The last '@' ends the user info. */
	{ "ftp://me@example.com:p@ss@h/", FTP_TLS_NONE,
	    "me@example.com", "p@ss", "h", 21, false, "" },
	/* The first ':' ends the user name; the password keeps the rest. */
	{ "ftp://u:a:b:c@h", FTP_TLS_NONE, "u", "a:b:c", "h", 21, false, "" },
	{ "ftp://u:a%3Ab@h", FTP_TLS_NONE, "u", "a:b", "h", 21, false, "" },
	{ "ftp://u%3Ax:p@h", FTP_TLS_NONE, "u:x", "p", "h", 21, false, "" },
	{ "ftp://u:p%2Fq%3F%23@h", FTP_TLS_NONE, "u", "p/q?#", "h", 21, false,
	    "" },
	{ "ftp://[::1]:2121/x", FTP_TLS_NONE, NULL, NULL, "::1", 2121, true,
	    "x" },
	{ "ftp://[::1]", FTP_TLS_NONE, NULL, NULL, "::1", 21, false, "" },
	{ "ftps://u:p@[2001:db8::1]/", FTP_TLS_IMPLICIT, "u", "p",
	    "2001:db8::1", 990, false, "" },
	{ "ftp://[::ffff:127.0.0.1]:21", FTP_TLS_NONE, NULL, NULL,
	    "::ffff:127.0.0.1", 21, true, "" },
	{ "ftp://[fe80::1%25eth0]/", FTP_TLS_NONE, NULL, NULL, "fe80::1%eth0",
	    21, false, "" },
	{ "ftp://127.0.0.1:1/", FTP_TLS_NONE, NULL, NULL, "127.0.0.1", 1, true,
	    "" },
	{ "ftp://h:65535", FTP_TLS_NONE, NULL, NULL, "h", 65535, true, "" },
	{ "ftp://h:0021", FTP_TLS_NONE, NULL, NULL, "h", 21, true, "" },
	{ "ftp://my-host_1.example.org", FTP_TLS_NONE, NULL, NULL,
	    "my-host_1.example.org", 21, false, "" },
	{ "ftp://%68ost", FTP_TLS_NONE, NULL, NULL, "host", 21, false, "" },
	/* Spaces and UTF-8, encoded or raw. */
	{ "ftp://h/my%20file.txt", FTP_TLS_NONE, NULL, NULL, "h", 21, false,
	    "my file.txt" },
	{ "ftp://h/my file.txt", FTP_TLS_NONE, NULL, NULL, "h", 21, false,
	    "my file.txt" },
	{ "ftp://h/caf%C3%A9/%E2%82%AC", FTP_TLS_NONE, NULL, NULL, "h", 21,
	    false, "caf\xc3\xa9/\xe2\x82\xac" },
	{ "ftp://h/caf\xc3\xa9", FTP_TLS_NONE, NULL, NULL, "h", 21, false,
	    "caf\xc3\xa9" },
	{ "ftp://j%C3%BCrgen:p%C3%A4ss@h", FTP_TLS_NONE, "j\xc3\xbcrgen",
	    "p\xc3\xa4ss", "h", 21, false, "" },
	{ "ftp://h/%25", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "%" },
	{ "ftp://h/a%3Bb", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "a;b" },
	{ "ftp://h/a;b", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "a;b" },
	{ "ftp://h/%3Ftype%23", FTP_TLS_NONE, NULL, NULL, "h", 21, false,
	    "?type#" },
	{ "ftp://h/a:b@c", FTP_TLS_NONE, NULL, NULL, "h", 21, false, "a:b@c" },
};

/* Refused URLs, each with a word its error must contain. */
static const struct bad {
	const char	*in;
	const char	*why;
} bad[] = {
	{ "", "URL" },
	{ "h", "URL" },
	{ "ftp:/h", "URL" },
	{ "ftp:h", "URL" },
	{ "http://h/", "scheme" },
	{ "sftp://h/", "scheme" },
	{ "ftpx://h/", "scheme" },
	{ "ftp://", "empty host" },
	{ "ftp:///etc", "empty host" },
	{ "ftp://u@", "empty host" },
	{ "ftp://u:p@/x", "empty host" },
	{ "ftp://:21/", "empty host" },
	{ "ftp://[]/", "empty host" },
	{ "ftp://@h", "user" },
	{ "ftp://:p@h", "user" },
	/* Ports. */
	{ "ftp://h:0", "port" },
	{ "ftp://h:00", "port" },
	{ "ftp://h:65536", "port" },
	{ "ftp://h:99999999999999999999999", "port" },
	{ "ftp://h:", "port" },
	{ "ftp://h:/x", "port" },
	{ "ftp://h:21a", "port" },
	{ "ftp://h:-1", "port" },
	{ "ftp://h:+21", "port" },
	{ "ftp://h: 21", "port" },
	{ "ftp://h:0x15", "port" },
	{ "ftp://[::1]:", "port" },
	{ "ftp://[::1]:0", "port" },
	/* IPv6. */
	{ "ftp://[::1", "unclosed" },
	{ "ftp://[::1/x]", "unclosed" },
	{ "ftp://[::1]x", "after ']'" },
	{ "ftp://[::1]]", "after ']'" },
	{ "ftp://[h]/", "IPv6" },
	{ "ftp://[1.2.3.4]/", "IPv6" },
	{ "ftp://[::1%eth0]/", "IPv6" },
	{ "ftp://[::1%25]/", "IPv6" },
	{ "ftp://::1/", "bracket" },
	{ "ftp://h]/", "host" },
	/* Host characters. */
	{ "ftp://h h/", "host" },
	{ "ftp://h%2Fx/", "host" },
	{ "ftp://h%3A21/", "host" },
	{ "ftp://h\\x/", "host" },
	/* Escapes. */
	{ "ftp://h/%", "escape" },
	{ "ftp://h/%4", "escape" },
	{ "ftp://h/%zz", "escape" },
	{ "ftp://h/%%41", "escape" },
	{ "ftp://u%g0@h", "escape" },
	{ "ftp://u:%@h", "escape" },
	{ "ftp://h%/", "escape" },
	/* Query, fragment, type suffix. */
	{ "ftp://h/a?b", "?" },
	{ "ftp://h?x", "?" },
	{ "ftp://h/a#b", "#" },
	{ "ftp://u:p?x@h/", "?" },
	{ "ftp://h/file;type=i", "type" },
	{ "ftp://h/dir;TYPE=d", "type" },
};

/* TEST-CASES 18: control bytes, raw or encoded, in every component. */
static const char *const injection[] = {
	"ftp://u\r\nDELE x@h/",
	"ftp://u%0d%0aDELE%20x@h/",
	"ftp://u%0D%0A@h/",
	"ftp://u%00@h/",
	"ftp://u\n@h/",
	"ftp://u\t@h/",
	"ftp://u%7f@h/",
	"ftp://u\x7f@h/",
	"ftp://u:p\r\n@h/",
	"ftp://u:p%0d%0aDELE%20x@h/",
	"ftp://u:p%00@h/",
	"ftp://u:%0a@h/",
	"ftp://u:p\x01@h/",
	"ftp://h\r\n/",
	"ftp://h%0d%0a/",
	"ftp://h%00/",
	"ftp://h%0a.example/",
	"ftp://h\x1b/",
	"ftp://[::1\r]/",
	"ftp://h:21\r\n/",
	"ftp://h/a\r\nDELE b",
	"ftp://h/a%0d%0aDELE%20b",
	"ftp://h/a%0D%0ADELE%20b",
	"ftp://h/a%00b",
	"ftp://h/a%0ab",
	"ftp://h/a%0db",
	"ftp://h/a\nb",
	"ftp://h/a\rb",
	"ftp://h/%1f",
	"ftp://h/%7F",
	"ftp://h/\t",
	"ftp\r://h/",
};

START_TEST(test_good)
{
	const struct good *g = &good[_i];
	struct ftp_url u;
	const char *err = NULL;

	if (ftp_url_parse(g->in, &u, &err) != 0)
		ck_abort_msg("%s refused: %s", g->in, err);
	ck_assert_int_eq(u.tls, g->tls);
	if (g->user == NULL)
		ck_assert_ptr_null(u.user);
	else
		ck_assert_str_eq(u.user, g->user);
	if (g->password == NULL)
		ck_assert_ptr_null(u.password);
	else
		ck_assert_str_eq(u.password, g->password);
	ck_assert_str_eq(u.host, g->host);
	ck_assert_uint_eq(u.port, g->port);
	ck_assert_int_eq(u.port_given, g->port_given);
	ck_assert_str_eq(u.path, g->path);
	ck_assert(ftp_url_is_url(g->in));
	ftp_url_clear(&u);
	ck_assert_ptr_null(u.host);
	ck_assert_ptr_null(u.path);
}
END_TEST

START_TEST(test_bad)
{
	const struct bad *b = &bad[_i];
	struct ftp_url u;
	const char *err = NULL;

	memset(&u, 0x5a, sizeof(u));
	if (ftp_url_parse(b->in, &u, &err) == 0) {
		ftp_url_clear(&u);
		ck_abort_msg("%s accepted", b->in);
	}
	ck_assert_ptr_nonnull(err);
	if (strstr(err, b->why) == NULL)
		ck_abort_msg("%s: error \"%s\" does not mention \"%s\"",
		    b->in, err, b->why);
	/* Nothing to free, nothing left dangling. */
	ck_assert_ptr_null(u.user);
	ck_assert_ptr_null(u.password);
	ck_assert_ptr_null(u.host);
	ck_assert_ptr_null(u.path);
}
END_TEST

START_TEST(test_injection)
{
	const char *in = injection[_i];
	struct ftp_url u;
	const char *err = NULL;

	if (ftp_url_parse(in, &u, &err) == 0) {
		ftp_url_clear(&u);
		ck_abort_msg("URL %d with a control byte accepted", _i);
	}
	ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_injection_messages)
{
	struct ftp_url u;
	const char *err;

	ck_assert_int_eq(ftp_url_parse("ftp://u%0d@h", &u, &err), -1);
	ck_assert_str_eq(err, "control character in user name");
	ck_assert_int_eq(ftp_url_parse("ftp://u:%0a@h", &u, &err), -1);
	ck_assert_str_eq(err, "control character in password");
	ck_assert_int_eq(ftp_url_parse("ftp://h%00", &u, &err), -1);
	ck_assert_str_eq(err, "control character in host");
	ck_assert_int_eq(ftp_url_parse("ftp://h/x%0d", &u, &err), -1);
	ck_assert_str_eq(err, "control character in path");
	/* The error never quotes the password. */
	ck_assert_int_eq(ftp_url_parse("ftp://u:secret%0a@h", &u, &err), -1);
	ck_assert_ptr_null(strstr(err, "secret"));
}
END_TEST

START_TEST(test_null_err_ok)
{
	struct ftp_url u;

	ck_assert_int_eq(ftp_url_parse("ftp://h:0", &u, NULL), -1);
	ck_assert_int_eq(ftp_url_parse(NULL, &u, NULL), -1);
	ck_assert_int_eq(ftp_url_parse("ftp://h", &u, NULL), 0);
	ftp_url_clear(&u);
	ftp_url_clear(&u);	/* twice is harmless */
	ftp_url_clear(NULL);
}
END_TEST

START_TEST(test_long_url)
{
	struct ftp_url u;
	const char *err;
	char *s;
	size_t i, n = 100000;

	s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, "ftp://h/", 8);
	for (i = 8; i < n; i += 3)
		memcpy(s + i, "%41", 3);
	s[n - (n - 8) % 3] = '\0';
	ck_assert_int_eq(ftp_url_parse(s, &u, &err), 0);
	ck_assert_uint_eq(strlen(u.path), (n - 8) / 3);
	ftp_url_clear(&u);
	free(s);
}
END_TEST

START_TEST(test_tls_mode_names)
{
	ck_assert_str_eq(ftp_tls_mode_name(FTP_TLS_NONE), "none");
	ck_assert_str_eq(ftp_tls_mode_name(FTP_TLS_EXPLICIT), "explicit");
	ck_assert_str_eq(ftp_tls_mode_name(FTP_TLS_IMPLICIT), "implicit");
	ck_assert_ptr_null(ftp_tls_mode_name((enum ftp_tls_mode)3));
	ck_assert_ptr_null(ftp_tls_mode_name((enum ftp_tls_mode)-1));
	ck_assert_int_eq(ftp_tls_mode_from_name("none"), FTP_TLS_NONE);
	ck_assert_int_eq(ftp_tls_mode_from_name("explicit"), FTP_TLS_EXPLICIT);
	ck_assert_int_eq(ftp_tls_mode_from_name("implicit"), FTP_TLS_IMPLICIT);
	ck_assert_int_eq(ftp_tls_mode_from_name("tls"), -1);
	ck_assert_int_eq(ftp_tls_mode_from_name(""), -1);
	ck_assert_int_eq(ftp_tls_mode_from_name("none "), -1);
	ck_assert_int_eq(ftp_tls_mode_from_name(NULL), -1);
}
END_TEST

START_TEST(test_unsafe_string)
{
	ck_assert(!ftp_unsafe_string("", 0));
	ck_assert(!ftp_unsafe_string(NULL, 0));
	ck_assert(!ftp_unsafe_string("/a b/caf\xc3\xa9", 10));
	ck_assert(ftp_unsafe_string("a\rb", 3));
	ck_assert(ftp_unsafe_string("a\nb", 3));
	ck_assert(ftp_unsafe_string("a\0b", 3));
	ck_assert(ftp_unsafe_string("\n", 1));
	/* Only the first len bytes count. */
	ck_assert(!ftp_unsafe_string("ab\n", 2));
	/* Other control bytes are not injection. */
	ck_assert(!ftp_unsafe_string("a\tb", 3));
}
END_TEST

START_TEST(test_is_url)
{
	ck_assert(ftp_url_is_url("ftp://h"));
	ck_assert(ftp_url_is_url("ftpes://h"));
	ck_assert(ftp_url_is_url("ftps://h"));
	ck_assert(ftp_url_is_url("FTPS://"));
	ck_assert(ftp_url_is_url("Ftp://x"));
	ck_assert(!ftp_url_is_url("ftp:/h"));
	ck_assert(!ftp_url_is_url("http://h"));
	ck_assert(!ftp_url_is_url("mysession"));
	ck_assert(!ftp_url_is_url("ftp"));
	ck_assert(!ftp_url_is_url(""));
	ck_assert(!ftp_url_is_url(NULL));
}
END_TEST

static char *
url_of(const char *s, const char *user, bool path)
{
	struct ftp_url u;
	const char *err;
	char *r;

	ck_assert_int_eq(ftp_url_parse(s, &u, &err), 0);
	r = ftp_url_format(&u, user, path);
	ftp_url_clear(&u);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(test_format)
{
	char *s;

	/* Never the password; the default port is left out. */
	s = url_of("ftp://bob:secret@h.example:21/a/b", "bob", false);
	ck_assert_str_eq(s, "ftp://bob@h.example/");
	free(s);
	s = url_of("ftp://bob:secret@h.example:21/a/b", "bob", true);
	ck_assert_str_eq(s, "ftp://bob@h.example/a/b");
	ck_assert_ptr_null(strstr(s, "secret"));
	free(s);
	s = url_of("ftps://h:2990/", NULL, false);
	ck_assert_str_eq(s, "ftps://h:2990/");
	free(s);
	s = url_of("ftps://h:21/", NULL, false);
	ck_assert_str_eq(s, "ftps://h:21/");
	free(s);
	s = url_of("ftpes://h/", "u", false);
	ck_assert_str_eq(s, "ftpes://u@h/");
	free(s);
	/* The user is encoded so that it survives a parse. */
	s = url_of("ftp://h/", "me@corp:x/y", false);
	ck_assert_str_eq(s, "ftp://me%40corp%3Ax%2Fy@h/");
	free(s);
	s = url_of("ftp://[::1]:2121/x", NULL, false);
	ck_assert_str_eq(s, "ftp://[::1]:2121/");
	free(s);
	/* An absolute path comes back as "//", as url.h documents. */
	s = url_of("ftp://h//etc/passwd", NULL, true);
	ck_assert_str_eq(s, "ftp://h//etc/passwd");
	free(s);
	s = url_of("ftp://h/a%20b", NULL, true);
	ck_assert_str_eq(s, "ftp://h/a%20b");
	free(s);
}
END_TEST

START_TEST(test_format_roundtrip)
{
	struct ftp_url u;
	const char *err;
	char *s;

	s = url_of("ftp://h:99/", "we:ird@user%", false);
	ck_assert_int_eq(ftp_url_parse(s, &u, &err), 0);
	ck_assert_str_eq(u.user, "we:ird@user%");
	ck_assert_ptr_null(u.password);
	ck_assert_int_eq(u.port, 99);
	ftp_url_clear(&u);
	free(s);
}
END_TEST

Suite *
url_suite(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("parse"), *tc2 = tcase_create("helpers");

	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_loop_test(tc, test_injection, 0,
	    sizeof(injection) / sizeof(injection[0]));
	tcase_add_test(tc, test_injection_messages);
	tcase_add_test(tc, test_null_err_ok);
	tcase_add_test(tc, test_long_url);
	suite_add_tcase(s, tc);

	tcase_add_test(tc2, test_tls_mode_names);
	tcase_add_test(tc2, test_unsafe_string);
	tcase_add_test(tc2, test_is_url);
	tcase_add_test(tc2, test_format);
	tcase_add_test(tc2, test_format_roundtrip);
	suite_add_tcase(s, tc2);
	return s;
}
