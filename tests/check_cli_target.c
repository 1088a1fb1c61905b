/* ftpctl's pure helpers: targets, local/remote names, output formats,
 * terminal escapes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "escape.h"
#include "output.h"
#include "target.h"

Suite *cli_target_suite(void);

START_TEST(test_parse_url)
{
	struct target t;
	const char *err = NULL;

	ck_assert_int_eq(target_parse("ftp://bob:secret@example.org/a/b.txt",
	    &t, &err), 0);
	ck_assert_int_eq(t.kind, TARGET_URL);
	ck_assert_ptr_null(t.session);
	ck_assert_str_eq(t.path, "a/b.txt");
	ck_assert_str_eq(t.url.user, "bob");
	ck_assert_str_eq(t.url.password, "secret");
	ck_assert_str_eq(t.url.host, "example.org");
	ck_assert_int_eq(t.url.port, 21);
	target_clear(&t);

	ck_assert_int_eq(target_parse("ftps://h:2121//etc/x", &t, &err), 0);
	ck_assert_int_eq(t.url.tls, FTP_TLS_IMPLICIT);
	ck_assert_str_eq(t.path, "/etc/x");
	ck_assert_int_eq(t.url.port, 2121);
	target_clear(&t);

	ck_assert_int_eq(target_parse("FTPES://h", &t, &err), 0);
	ck_assert_int_eq(t.url.tls, FTP_TLS_EXPLICIT);
	ck_assert_str_eq(t.path, "");
	target_clear(&t);
}
END_TEST

START_TEST(test_parse_session)
{
	struct target t;
	const char *err = NULL;

	ck_assert_int_eq(target_parse("mirror:pub/file.iso", &t, &err), 0);
	ck_assert_int_eq(t.kind, TARGET_SESSION);
	ck_assert_str_eq(t.session, "mirror");
	ck_assert_str_eq(t.path, "pub/file.iso");
	target_clear(&t);

	/* Only the first colon separates; the path keeps the rest. */
	ck_assert_int_eq(target_parse("a.b_c-9:/x:y", &t, &err), 0);
	ck_assert_str_eq(t.session, "a.b_c-9");
	ck_assert_str_eq(t.path, "/x:y");
	target_clear(&t);

	ck_assert_int_eq(target_parse("s:", &t, &err), 0);
	ck_assert_str_eq(t.path, "");
	target_clear(&t);
}
END_TEST

START_TEST(test_parse_bad)
{
	struct target t;
	const char *err = NULL;

	ck_assert_int_eq(target_parse("nocolon", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(target_parse(":path", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(target_parse("bad name:path", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(target_parse("a/b:path", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	/* A URL that does not parse is refused, not taken as NAME:PATH. */
	ck_assert_int_eq(target_parse("ftp://", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(target_parse("ftp://h/a%0d%0aDELE x", &t, &err), -1);
	ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_name_valid)
{
	char name[TARGET_NAME_MAX + 2];

	ck_assert(target_name_valid("a"));
	ck_assert(target_name_valid("Work.site_2-b"));
	ck_assert(!target_name_valid(""));
	ck_assert(!target_name_valid("a b"));
	ck_assert(!target_name_valid("a:b"));
	ck_assert(!target_name_valid("a/b"));
	ck_assert(!target_name_valid("\xc3\xa9"));
	memset(name, 'x', TARGET_NAME_MAX);
	name[TARGET_NAME_MAX] = '\0';
	ck_assert(target_name_valid(name));
	name[TARGET_NAME_MAX] = 'x';
	name[TARGET_NAME_MAX + 1] = '\0';
	ck_assert(!target_name_valid(name));
}
END_TEST

static void
local_ok(const char *remote, const char *want)
{
	const char *err = NULL;
	char *s = target_local_name(remote, &err);

	ck_assert_msg(s != NULL, "%s: %s", remote, err);
	ck_assert_str_eq(s, want);
	free(s);
}

static void
local_bad(const char *remote)
{
	const char *err = NULL;

	ck_assert_ptr_null(target_local_name(remote, &err));
	ck_assert_ptr_nonnull(err);
}

START_TEST(test_local_name)
{
	local_ok("file.txt", "file.txt");
	local_ok("a/b/file.txt", "file.txt");
	local_ok("/abs/file", "file");
	local_ok("dir/", "dir");
	local_ok("dir//", "dir");
	local_ok("a/.hidden", ".hidden");
	local_ok("a/...", "...");
	local_bad("");
	local_bad("/");
	local_bad("///");
	local_bad(".");
	local_bad("..");
	local_bad("a/..");
	local_bad("a/../");
	local_bad("a/.");
}
END_TEST

START_TEST(test_put_path)
{
	const char *err = NULL;
	char *s;

	s = target_put_path("dir/name", "/tmp/x", &err);
	ck_assert_str_eq(s, "dir/name");
	free(s);
	s = target_put_path("dir/", "/tmp/x.tar", &err);
	ck_assert_str_eq(s, "dir/x.tar");
	free(s);
	s = target_put_path("", "x.tar", &err);
	ck_assert_str_eq(s, "x.tar");
	free(s);
	s = target_put_path("/", "../up/x", &err);
	ck_assert_str_eq(s, "/x");
	free(s);
	ck_assert_ptr_null(target_put_path("dir/", "..", &err));
	ck_assert_ptr_null(target_put_path("", "/", &err));
}
END_TEST

START_TEST(test_glob_split)
{
	static const struct {
		const char *path, *dir, *glob;
	} cases[] = {
		{ "/logs/*.gz", "/logs", "*.gz" },
		{ "/*.gz", "/", "*.gz" },
		{ "*.gz", ".", "*.gz" },
		{ "a/b/file?.[ch]", "a/b", "file?.[ch]" },
		{ "/a*/b/c[", "/a*/b", "c[" },
		{ "//x*", "/", "x*" },
		{ "/logs/a\\*b", "/logs", "a\\*b" },
		{ "/logs*/a.gz", NULL, NULL },
		{ "/logs/", NULL, NULL },
		{ "/logs/a.gz", NULL, NULL },
		{ "", NULL, NULL },
	};
	const char *glob;
	char *dir;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(target_glob_split(cases[i].path, &dir, &glob) ==
		    (cases[i].dir != NULL), "%s", cases[i].path);
		if (cases[i].dir == NULL) {
			ck_assert_ptr_null(dir);
			ck_assert_ptr_null(glob);
			continue;
		}
		ck_assert_str_eq(dir, cases[i].dir);
		ck_assert_str_eq(glob, cases[i].glob);
		free(dir);
	}
}
END_TEST

START_TEST(test_get_path)
{
	const char *err = NULL;
	char *s;

	s = target_get_path("pub/a.iso", NULL, false, &err);
	ck_assert_str_eq(s, "a.iso");
	free(s);
	s = target_get_path("pub/a.iso", "out.bin", false, &err);
	ck_assert_str_eq(s, "out.bin");
	free(s);
	s = target_get_path("pub/a.iso", "dl", true, &err);
	ck_assert_str_eq(s, "dl/a.iso");
	free(s);
	s = target_get_path("pub/a.iso", "dl/", false, &err);
	ck_assert_str_eq(s, "dl/a.iso");
	free(s);
	/* An explicit LOCAL needs no usable remote name. */
	s = target_get_path("", "x", false, &err);
	ck_assert_str_eq(s, "x");
	free(s);
	ck_assert_ptr_null(target_get_path("", NULL, false, &err));
	ck_assert_ptr_null(target_get_path("a/..", NULL, false, &err));
	ck_assert_ptr_null(target_get_path("..", "dl/", false, &err));
	ck_assert_ptr_null(target_get_path("x", "", false, &err));
}
END_TEST

START_TEST(test_password_span)
{
	static const char *const none[] = { "ftp://h/a", "ftp://u@h/a:b@c",
	    "mirror:path", "ftp://h:21/", "ftp://u@h" };
	size_t off, len, i;

	ck_assert(target_password_span("ftp://u:secret@h/p", &off, &len));
	ck_assert_int_eq(off, 8);
	ck_assert_int_eq(len, 6);
	/* The last '@' of the authority ends the user info. */
	ck_assert(target_password_span("ftps://u:p@ss@h:990/x@y", &off, &len));
	ck_assert_int_eq(off, 9);
	ck_assert_int_eq(len, 4);
	ck_assert(target_password_span("ftp://u:@h", &off, &len));
	ck_assert_int_eq(len, 0);
	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		ck_assert_msg(!target_password_span(none[i], &off, &len), "%s",
		    none[i]);
}
END_TEST

/* ---- output formats ---- */

START_TEST(test_mode_string)
{
	char m[OUTPUT_MODE_LEN];

	output_mode_string(m, FTPAGENT_DIR, 0755);
	ck_assert_str_eq(m, "drwxr-xr-x");
	output_mode_string(m, FTPAGENT_FILE, 0644);
	ck_assert_str_eq(m, "-rw-r--r--");
	output_mode_string(m, FTPAGENT_LINK, 0777);
	ck_assert_str_eq(m, "lrwxrwxrwx");
	output_mode_string(m, FTPAGENT_OTHER, 0);
	ck_assert_str_eq(m, "?---------");
	output_mode_string(m, FTPAGENT_FILE, -1);
	ck_assert_str_eq(m, "-?????????");
	output_mode_string(m, FTPAGENT_FILE, 04755);
	ck_assert_str_eq(m, "-rwsr-xr-x");
	output_mode_string(m, FTPAGENT_FILE, 02644);
	ck_assert_str_eq(m, "-rw-r-Sr--");
	output_mode_string(m, FTPAGENT_DIR, 01777);
	ck_assert_str_eq(m, "drwxrwxrwt");
	output_mode_string(m, FTPAGENT_DIR, 01776);
	ck_assert_str_eq(m, "drwxrwxrwT");
}
END_TEST

START_TEST(test_date)
{
	char b[OUTPUT_DATE_LEN];
	time_t now = 1700000000;	/* 2023-11-14 22:13:20 UTC */

	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_str_eq(output_date(b, sizeof(b), 1699990000, now),
	    "Nov 14 19:26");
	ck_assert_str_eq(output_date(b, sizeof(b), 1690000000, now),
	    "Jul 22 04:26");
	/* Older than six months: the year instead of the time. */
	ck_assert_str_eq(output_date(b, sizeof(b), 1600000000, now),
	    "Sep 13  2020");
	ck_assert_str_eq(output_date(b, sizeof(b), 1680000000, now),
	    "Mar 28  2023");
	/* In the future, likewise. */
	ck_assert_str_eq(output_date(b, sizeof(b), 1800000000, now),
	    "Jan 15  2027");
	ck_assert_str_eq(output_date(b, sizeof(b), 86400 * 4, now),
	    "Jan  5  1970");
	ck_assert_str_eq(output_date(b, sizeof(b), INT64_MIN, now), "?");
	ck_assert_int_eq(strlen(output_date(b, sizeof(b), 1699990000, now)),
	    12);
	ck_assert_int_eq(strlen(output_date(b, sizeof(b), 1600000000, now)),
	    12);
}
END_TEST

START_TEST(test_bytes)
{
	char b[OUTPUT_BYTES_LEN];

	ck_assert_str_eq(output_bytes(b, sizeof(b), 0), "0 B");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 1023), "1023 B");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 1024), "1.0 KiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 1536), "1.5 KiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 1048575), "1.0 MiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 5 * 1048576), "5.0 MiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), 3LL << 40), "3.0 TiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), INT64_MAX), "8.0 EiB");
	ck_assert_str_eq(output_bytes(b, sizeof(b), -1), "?");
}
END_TEST

START_TEST(test_duration)
{
	char b[32];

	ck_assert_str_eq(output_duration(b, sizeof(b), 0), "0:00");
	ck_assert_str_eq(output_duration(b, sizeof(b), 5.4), "0:05");
	ck_assert_str_eq(output_duration(b, sizeof(b), 754), "12:34");
	ck_assert_str_eq(output_duration(b, sizeof(b), 3723), "1:02:03");
	ck_assert_str_eq(output_duration(b, sizeof(b), -1), "--:--");
	ck_assert_str_eq(output_duration(b, sizeof(b), 1e12), "--:--");
}
END_TEST

START_TEST(test_progress_line)
{
	char b[512];
	int w;

	output_progress_line(b, sizeof(b), 80, "file.iso", 512 * 1024,
	    1024 * 1024, 2.0);
	ck_assert_int_le(strlen(b), 80);
	ck_assert_ptr_nonnull(strstr(b, "file.iso"));
	ck_assert_ptr_nonnull(strstr(b, " 50%"));
	ck_assert_ptr_nonnull(strstr(b, "512.0 KiB"));
	ck_assert_ptr_nonnull(strstr(b, "256.0 KiB/s"));
	ck_assert_ptr_nonnull(strstr(b, "ETA 0:02"));
	ck_assert_ptr_nonnull(strchr(b, '['));

	output_progress_line(b, sizeof(b), 80, "f", 100, 100, 1.0);
	ck_assert_ptr_nonnull(strstr(b, "100%"));
	ck_assert_ptr_nonnull(strstr(b, "ETA 0:00"));
	ck_assert_ptr_null(strchr(b, '>'));

	/* Unknown total: no bar, no percentage, no ETA. */
	output_progress_line(b, sizeof(b), 80, "stream", 2048, -1, 1.0);
	ck_assert_ptr_null(strchr(b, '%'));
	ck_assert_ptr_null(strstr(b, "ETA"));
	ck_assert_ptr_nonnull(strstr(b, "2.0 KiB/s"));

	/* No time yet: no rate. */
	output_progress_line(b, sizeof(b), 80, "x", 10, 100, 0);
	ck_assert_ptr_nonnull(strstr(b, "--:--"));

	/* A long label is cut, whatever the width. */
	for (w = 20; w <= 300; w += 7) {
		output_progress_line(b, sizeof(b), w,
		    "a-very-long-file-name-that-goes-on-and-on-and-on-and-on-"
		    "and-on-and-on-and-on.tar.gz", 123456789, 987654321, 3.5);
		ck_assert_int_le(strlen(b), w < 60 ? 60 : (w > 255 ? 255 : w));
	}
}
END_TEST

/* ---- argument helpers: mv, rm -r, chmod, touch -d ------------------------ */

static char *
rename_path(const char *target, const char *newpath, const char **err)
{
	struct target t;
	const char *perr;
	char *s;

	ck_assert_int_eq(target_parse(target, &t, &perr), 0);
	*err = NULL;
	s = target_rename_path(&t, newpath, err);
	target_clear(&t);
	if (s == NULL)
		ck_assert_ptr_nonnull(*err);
	return s;
}

static void
assert_rename(const char *target, const char *newpath, const char *expect)
{
	const char *err;
	char *s = rename_path(target, newpath, &err);

	if (expect == NULL) {
		ck_assert_msg(s == NULL, "%s %s: got %s", target, newpath, s);
		return;
	}
	ck_assert_msg(s != NULL, "%s %s: %s", target, newpath, err);
	ck_assert_str_eq(s, expect);
	free(s);
}

START_TEST(test_rename_path)
{
	/* plain paths, as they are */
	assert_rename("s:a", "b", "b");
	assert_rename("s:a", "/x/y z", "/x/y z");
	assert_rename("s:a", "", "");
	assert_rename("ftp://h/a", "dir/b", "dir/b");
	assert_rename("s:a", "./o:b", "./o:b");
	assert_rename("s:a", "/o:b", "/o:b");
	assert_rename("s:a", "d/o:b", "d/o:b");
	/* NAME:PATH of the same session */
	assert_rename("s:a", "s:b/c", "b/c");
	assert_rename("s:a", "s:", "");
	/* ... of another one */
	assert_rename("s:a", "other:b", NULL);
	assert_rename("ftp://h/a", "s:b", NULL);
	/* URLs of the same server and user */
	assert_rename("ftp://h/a", "ftp://h/b", "b");
	assert_rename("ftp://bob@H:21/a", "ftp://bob@h//abs/b", "/abs/b");
	assert_rename("ftp://bob@h/a", "ftp://h/b", "b");
	assert_rename("ftp://bob@h/a", "ftp://bob:pw@h/b", "b");
	/* ... or not */
	assert_rename("ftp://bob@h/a", "ftp://eve@h/b", NULL);
	assert_rename("ftp://h/a", "ftp://bob@h/b", NULL);
	assert_rename("ftp://h/a", "ftp://h:2121/b", NULL);
	assert_rename("ftp://h/a", "ftp://g/b", NULL);
	assert_rename("ftp://h/a", "ftpes://h/b", NULL);
	assert_rename("s:a", "ftp://h/b", NULL);
	assert_rename("ftp://h/a", "ftp://", NULL);
}
END_TEST

START_TEST(test_path_is_top)
{
	ck_assert(target_path_is_top(""));
	ck_assert(target_path_is_top("/"));
	ck_assert(target_path_is_top("//"));
	ck_assert(target_path_is_top("."));
	ck_assert(target_path_is_top("./"));
	ck_assert(target_path_is_top(".."));
	ck_assert(target_path_is_top("../.."));
	ck_assert(target_path_is_top("/./../"));
	ck_assert(!target_path_is_top("a"));
	ck_assert(!target_path_is_top("/a"));
	ck_assert(!target_path_is_top("./a/"));
	ck_assert(!target_path_is_top(".hidden"));
	ck_assert(!target_path_is_top("../x"));
}
END_TEST

START_TEST(test_parse_mode)
{
	int m = -1;

	ck_assert_int_eq(target_parse_mode("644", &m), 0);
	ck_assert_int_eq(m, 0644);
	ck_assert_int_eq(target_parse_mode("0644", &m), 0);
	ck_assert_int_eq(m, 0644);
	ck_assert_int_eq(target_parse_mode("4755", &m), 0);
	ck_assert_int_eq(m, 04755);
	ck_assert_int_eq(target_parse_mode("07777", &m), 0);
	ck_assert_int_eq(m, 07777);
	ck_assert_int_eq(target_parse_mode("0", &m), 0);
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(target_parse_mode("7", &m), 0);
	ck_assert_int_eq(m, 07);
	m = 12345;
	ck_assert_int_eq(target_parse_mode("", &m), -1);
	ck_assert_int_eq(target_parse_mode("u+x", &m), -1);
	ck_assert_int_eq(target_parse_mode("a=rw", &m), -1);
	ck_assert_int_eq(target_parse_mode("648", &m), -1);
	ck_assert_int_eq(target_parse_mode("-644", &m), -1);
	ck_assert_int_eq(target_parse_mode("+644", &m), -1);
	ck_assert_int_eq(target_parse_mode(" 644", &m), -1);
	ck_assert_int_eq(target_parse_mode("644 ", &m), -1);
	ck_assert_int_eq(target_parse_mode("0x1a4", &m), -1);
	ck_assert_int_eq(target_parse_mode("17777", &m), -1);
	ck_assert_int_eq(target_parse_mode("000644", &m), -1);
	ck_assert_int_eq(m, 12345);
}
END_TEST

static int64_t
parse_time_ok(const char *s)
{
	const char *err = NULL;
	int64_t t = -1;

	ck_assert_msg(target_parse_time(s, &t, &err) == 0, "%s: %s", s, err);
	return t;
}

static void
assert_time_bad(const char *s)
{
	const char *err = NULL;
	int64_t t = 42;

	ck_assert_msg(target_parse_time(s, &t, &err) == -1, "%s accepted", s);
	ck_assert_ptr_nonnull(err);
	ck_assert(t == 42);
}

START_TEST(test_parse_time)
{
	struct tm tm;
	time_t tt;
	int64_t t;

	ck_assert(parse_time_ok("@0") == 0);
	ck_assert(parse_time_ok("@1700000000") == 1700000000);
	ck_assert(parse_time_ok("@4102444800") == INT64_C(4102444800));
	ck_assert(parse_time_ok("1970-01-01") == 0);
	ck_assert(parse_time_ok("2023-11-14T22:13:20Z") == 1700000000);
	ck_assert(parse_time_ok("2023-11-14T22:13:20") == 1700000000);
	ck_assert(parse_time_ok("2023-11-14 22:13:20") == 1700000000);
	ck_assert(parse_time_ok("2023-11-14 22:13:20Z") == 1700000000);
	ck_assert(parse_time_ok("2023-11-14t22:13:20z") == 1700000000);
	ck_assert(parse_time_ok("2023-11-14T22:13") == 1700000000 - 20);
	ck_assert(parse_time_ok("2023-11-14T22:13Z") == 1700000000 - 20);
	ck_assert(parse_time_ok("2023-11-14") == 1700000000 - 80000);
	/* leap years */
	ck_assert(parse_time_ok("2000-02-29") == 951782400);
	ck_assert(parse_time_ok("2024-02-29T12:00:00Z") == 1709208000);
	ck_assert(parse_time_ok("2100-03-01") == INT64_C(4107542400));
	ck_assert(parse_time_ok("9999-12-31T23:59:59Z") ==
	    INT64_C(253402300799));
	ck_assert(parse_time_ok("@253402300799") == INT64_C(253402300799));

	/* agrees with the C library over a range of days */
	for (t = 0; t < INT64_C(4102444800); t += 86400 * 37 + 3599) {
		char buf[64];

		tt = (time_t)t;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		ck_assert_msg(parse_time_ok(buf) == t, "%s", buf);
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
		ck_assert_msg(parse_time_ok(buf) == t, "%s", buf);
	}

	assert_time_bad("");
	assert_time_bad("@");
	assert_time_bad("@-1");
	assert_time_bad("@12x");
	assert_time_bad("@ 12");
	assert_time_bad("@253402300800");
	assert_time_bad("@99999999999999999999999");
	assert_time_bad("yesterday");
	assert_time_bad("2023-11-14T");
	assert_time_bad("2023-11-14T22");
	assert_time_bad("2023-11-14T22:1");
	assert_time_bad("2023-11-14T22:13:2");
	assert_time_bad("2023-11-14T22:13:20+01:00");
	assert_time_bad("2023-11-14T22:13:20ZZ");
	assert_time_bad("2023-11-14Z");
	assert_time_bad("2023-11-14  22:13");
	assert_time_bad("2023-1-14");
	assert_time_bad("23-11-14");
	assert_time_bad("2023/11/14");
	assert_time_bad("2023-00-10");
	assert_time_bad("2023-13-10");
	assert_time_bad("2023-02-29");
	assert_time_bad("1900-02-29");
	assert_time_bad("2023-04-31");
	assert_time_bad("2023-01-00");
	assert_time_bad("2023-01-01T24:00");
	assert_time_bad("2023-01-01T23:60");
	assert_time_bad("2023-01-01T23:59:60");
	assert_time_bad("1969-12-31T23:59:59Z");
	assert_time_bad("12345-01-01");
}
END_TEST

START_TEST(test_ftp_reply)
{
	char *s;

	s = output_ftp_reply(257, "\"/home\" is the current directory");
	ck_assert_str_eq(s, "257 \"/home\" is the current directory");
	free(s);
	s = output_ftp_reply(211, "Features:\n MDTM\n SIZE\nEnd");
	ck_assert_str_eq(s, "211-Features:\n MDTM\n SIZE\n211 End");
	free(s);
	s = output_ftp_reply(214, "a\nb");
	ck_assert_str_eq(s, "214-a\n214 b");
	free(s);
	s = output_ftp_reply(500, "");
	ck_assert_str_eq(s, "500 ");
	free(s);
	s = output_ftp_reply(200, NULL);
	ck_assert_str_eq(s, "200 ");
	free(s);
}
END_TEST

/* ---- terminal escapes ----------------------------------------------------- */

/* escape_buf of len bytes at s with flags must give want; also checks
 * escape_needed and escape_str agree. */
static void
assert_esc_n(const char *s, size_t len, unsigned flags, const char *want)
{
	char buf[512];
	size_t n;

	n = escape_buf(buf, sizeof(buf), s, len, flags);
	ck_assert_msg(strcmp(buf, want) == 0, "escape of %zu bytes gave "
	    "\"%s\", want \"%s\"", len, buf, want);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(escape_needed(s, len, flags) == (len != n ||
	    memcmp(s, want, len) != 0));
}

static void
assert_esc(const char *s, unsigned flags, const char *want)
{
	char *e;

	assert_esc_n(s, strlen(s), flags, want);
	e = escape_str(s, flags);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e, want);
	free(e);
}

START_TEST(test_escape_controls)
{
	/* what TEST-CASES 43 names: a window title and a screen clear */
	assert_esc("evil\033]0;owned\007name", 0, "evil\\033]0;owned\\aname");
	assert_esc("\033[2Jx", 0, "\\033[2Jx");
	assert_esc("a\033]0;t\007\033[2Jb", 0, "a\\033]0;t\\a\\033[2Jb");
	/* plain names untouched, spaces and quotes too */
	assert_esc("report 2026 (final).pdf", 0, "report 2026 (final).pdf");
	assert_esc("", 0, "");
	assert_esc("~!@#$%^&*()_+{}|:\"<>?`-=[];',./", 0,
	    "~!@#$%^&*()_+{}|:\"<>?`-=[];',./");
	/* C's names where C has one, octal for the rest of C0 and DEL */
	assert_esc("\a\b\t\n\v\f\r", 0, "\\a\\b\\t\\n\\v\\f\\r");
	assert_esc("\001\002\016\037", 0, "\\001\\002\\016\\037");
	assert_esc("del\177", 0, "del\\177");
	assert_esc_n("a\0b", 3, 0, "a\\000b");
	/* the backslash itself, so that the form reads back one way */
	assert_esc("a\\b", 0, "a\\\\b");
	assert_esc("\\033", 0, "\\\\033");
	/* at both ends */
	assert_esc("\033", 0, "\\033");
	assert_esc("\033x\033", 0, "\\033x\\033");
}
END_TEST

START_TEST(test_escape_utf8)
{
	/* printable UTF-8 stays: 2, 3 and 4 byte forms, NBSP (U+00A0) */
	assert_esc("caf\303\251 \342\202\254 \360\237\230\200", 0,
	    "caf\303\251 \342\202\254 \360\237\230\200");
	assert_esc("\302\240", 0, "\302\240");
	/* C1 controls U+0080-U+009F: CSI (U+009B) is ESC [ to a terminal */
	assert_esc("\302\2332J", 0, "\\302\\2332J");
	assert_esc("\302\200\302\237", 0, "\\302\\200\\302\\237");
	/* bytes that are not UTF-8, one by one */
	assert_esc("\377", 0, "\\377");
	assert_esc("a\233[2J", 0, "a\\233[2J");	/* a raw 8-bit CSI */
	assert_esc("\200x", 0, "\\200x");		/* stray continuation */
	assert_esc("\342\202", 0, "\\342\\202");	/* cut short at the end */
	assert_esc("\342\202x", 0, "\\342\\202x");	/* cut short inside */
	assert_esc("\300\257", 0, "\\300\\257");	/* overlong '/' */
	assert_esc("\340\200\257", 0, "\\340\\200\\257");
	assert_esc("\355\240\200", 0, "\\355\\240\\200");	/* surrogate */
	assert_esc("\364\220\200\200", 0, "\\364\\220\\200\\200");
	assert_esc("\370\210\200\200\200", 0,
	    "\\370\\210\\200\\200\\200");
	/* a Latin-1 name: each byte that is not UTF-8 */
	assert_esc("caf\351", 0, "caf\\351");
	/* ESCAPE_ASCII: a terminal that is not UTF-8 gets only ASCII */
	assert_esc("caf\303\251", ESCAPE_ASCII, "caf\\303\\251");
	assert_esc("\360\237\230\200!", ESCAPE_ASCII,
	    "\\360\\237\\230\\200!");
	assert_esc("plain", ESCAPE_ASCII, "plain");
}
END_TEST

START_TEST(test_escape_lines_and_limits)
{
	char buf[8];
	size_t n;

	/* ESCAPE_KEEP_NL: the lines of a reply stay lines, nothing else */
	assert_esc("211-a\n211 b", ESCAPE_KEEP_NL, "211-a\n211 b");
	assert_esc("x\r\ny\033", ESCAPE_KEEP_NL, "x\\r\ny\\033");
	assert_esc("a\nb", 0, "a\\nb");
	/* cut short like snprintf: the full length back, NUL-terminated */
	memset(buf, 'Z', sizeof(buf));
	n = escape_buf(buf, sizeof(buf), "\033\033\033", 3, 0);
	ck_assert_uint_eq(n, 12);
	ck_assert_str_eq(buf, "\\033\\03");
	n = escape_buf(buf, 1, "abc", 3, 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(escape_buf(NULL, 0, "\302\233", 2, 0), 8);
	/* a long name: every byte an escape */
	{
		char in[3000], *e;
		size_t i;

		for (i = 0; i < sizeof(in) - 1; i++)
			in[i] = (i % 2) ? '\033' : '\377';
		in[sizeof(in) - 1] = '\0';
		e = escape_str(in, 0);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(strlen(e), 4 * (sizeof(in) - 1));
		ck_assert(strncmp(e, "\\377\\033\\377", 12) == 0);
		ck_assert(strchr(e, '\033') == NULL);
		free(e);
	}
}
END_TEST

static void
assert_json(const char *in, unsigned flags, const char *want)
{
	char *e = escape_json(in, flags);

	ck_assert_ptr_nonnull(e);
	ck_assert_msg(strcmp(e, want) == 0, "escape_json gave %s, want %s", e,
	    want);
	free(e);
}

START_TEST(test_escape_json)
{
	/* JSON escapes C0 already: nothing to do */
	assert_json("{\"name\":\"a\\u001b]0;t\\u0007\"}", 0,
	    "{\"name\":\"a\\u001b]0;t\\u0007\"}");
	/* DEL and C1 are raw in JSON text; on a terminal, \u escapes */
	assert_json("[\"x\177\",\"\302\2332J\"]", 0,
	    "[\"x\\u007f\",\"\\u009b2J\"]");
	assert_json("\"\302\200\302\237\302\240\"", 0,
	    "\"\\u0080\\u009f\302\240\"");
	/* other UTF-8 stays, unless the terminal is not UTF-8 */
	assert_json("{\"n\":\"caf\303\251\"}", 0, "{\"n\":\"caf\303\251\"}");
	assert_json("{\"n\":\"caf\303\251\"}", ESCAPE_ASCII,
	    "{\"n\":\"caf\\u00e9\"}");
	assert_json("\"\342\202\254\360\237\230\200\"", ESCAPE_ASCII,
	    "\"\\u20ac\\ud83d\\ude00\"");
	/* what JSON cannot hold */
	assert_json("\"\377\"", 0, "\"\\ufffd\"");
	assert_json("\"a\033b\"\n", 0, "\"a\\u001bb\"\n");
	assert_json("", 0, "");
}
END_TEST

/* Reads what a test wrote to path. */
static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_output_on_terminal)
{
	char out[] = "/tmp/check_cli_out.XXXXXX", err[] =
	    "/tmp/check_cli_err.XXXXXX";
	int fo = mkstemp(out), fe = mkstemp(err);

	ck_assert(fo != -1 && fe != -1);
	close(fo);
	close(fe);
	/* a terminal on stdout and stderr, as output_setup would find */
	ck_assert_ptr_nonnull(freopen(out, "w", stdout));
	ck_assert_ptr_nonnull(freopen(err, "w", stderr));
	output_escape_set(true, true, 0);
	output_text(stdout, "n\033[2J");
	putchar('|');
	output_field(stdout, "\007", 5);
	putchar('|');
	output_lines(stdout, "211-a\033\n211 b");
	putchar('|');
	ck_assert_int_eq(output_text_len(stdout, "\033"), 4);
	output_json(stdout, "[\"\302\233\"]");
	output_warnx("s:/x: 550 %s", "no\033]0;t\007\nsecond");
	/* not a terminal: the bytes as they are */
	output_escape_set(false, false, 0);
	output_text(stdout, "n\033[2J");
	output_json(stdout, "[\"\302\233\"]");
	output_warnx("raw \033");
	ck_assert_int_eq(output_text_len(stdout, "\033"), 1);
	fflush(stdout);
	fflush(stderr);
	ck_assert_str_eq(slurp(out), "n\\033[2J|\\a   |211-a\\033\n211 b|"
	    "[\"\\u009b\"]\nn\033[2J[\"\302\233\"]\n");
	ck_assert_str_eq(slurp(err), "ftpctl: s:/x: 550 no\\033]0;t\\a\n"
	    "second\nftpctl: raw \033\n");
	unlink(out);
	unlink(err);
}
END_TEST

START_TEST(test_output_locale)
{
	/* output_setup on files: nothing escaped, whatever the locale */
	char out[] = "/tmp/check_cli_out.XXXXXX";
	int fo = mkstemp(out);

	ck_assert(fo != -1);
	close(fo);
	ck_assert_ptr_nonnull(freopen(out, "w", stdout));
	ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));
	setenv("LC_ALL", "C", 1);
	output_setup();
	output_text(stdout, "caf\303\251\033");
	fflush(stdout);
	ck_assert_str_eq(slurp(out), "caf\303\251\033");
	unlink(out);
}
END_TEST

Suite *
cli_target_suite(void)
{
	Suite *s = suite_create("cli_target");
	TCase *tc;

	tc = tcase_create("target");
	tcase_add_test(tc, test_parse_url);
	tcase_add_test(tc, test_parse_session);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_local_name);
	tcase_add_test(tc, test_put_path);
	tcase_add_test(tc, test_get_path);
	tcase_add_test(tc, test_glob_split);
	tcase_add_test(tc, test_password_span);
	tcase_add_test(tc, test_rename_path);
	tcase_add_test(tc, test_path_is_top);
	tcase_add_test(tc, test_parse_mode);
	tcase_add_test(tc, test_parse_time);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_mode_string);
	tcase_add_test(tc, test_date);
	tcase_add_test(tc, test_bytes);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_progress_line);
	tcase_add_test(tc, test_ftp_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("escape");
	tcase_add_test(tc, test_escape_controls);
	tcase_add_test(tc, test_escape_utf8);
	tcase_add_test(tc, test_escape_lines_and_limits);
	tcase_add_test(tc, test_escape_json);
	tcase_add_test(tc, test_output_on_terminal);
	tcase_add_test(tc, test_output_locale);
	suite_add_tcase(s, tc);
	return s;
}
