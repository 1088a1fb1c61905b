/*
 * Unit tests for the listing parsers (protocol/ftp_list.c). Lines are
 * copied to exact-size heap buffers without a NUL so that ASan and
 * valgrind catch any read past len.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <check.h>

#include "ftp_list.h"

Suite	*ftp_list_suite(void);

#define NOW_2024_03_15	((time_t)1710504000)	/* 2024-03-15 12:00:00 UTC */

static char *
span_copy(const char *s, size_t len)
{
	char	*p = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, len);
	return p;
}

static enum ftp_list_result
unix_line(const char *line, time_t now, struct ftp_entry *e)
{
	size_t			 len = strlen(line);
	char			*p = span_copy(line, len);
	enum ftp_list_result	 r;

	r = ftp_list_parse_unix(p, len, now, e);
	free(p);
	return r;
}

static enum ftp_list_result
mlsd_line(const char *line, struct ftp_entry *e)
{
	size_t			 len = strlen(line);
	char			*p = span_copy(line, len);
	enum ftp_list_result	 r;

	r = ftp_list_parse_mlsd(p, len, e);
	free(p);
	return r;
}

static void
check_entry(const struct ftp_entry *e, enum ftp_entry_type type,
    const char *name, int64_t size, int64_t mtime, int perm,
    const char *target)
{
	ck_assert_int_eq(e->type, type);
	ck_assert_ptr_nonnull(e->name);
	ck_assert_str_eq(e->name, name);
	ck_assert_int_eq(e->size, size);
	ck_assert_int_eq(e->mtime, mtime);
	ck_assert_int_eq(e->perm, perm);
	if (target == NULL)
		ck_assert_ptr_null(e->target);
	else {
		ck_assert_ptr_nonnull(e->target);
		ck_assert_str_eq(e->target, target);
	}
}

static void
unix_ok(const char *line, time_t now, enum ftp_entry_type type,
    const char *name, int64_t size, int64_t mtime, int perm,
    const char *target)
{
	struct ftp_entry	 e;

	ck_assert_msg(unix_line(line, now, &e) == FTP_LIST_ENTRY,
	    "not an entry: %s", line);
	check_entry(&e, type, name, size, mtime, perm, target);
	ftp_entry_clear(&e);
	ck_assert_ptr_null(e.name);
	ck_assert_ptr_null(e.target);
}

START_TEST(unix_formats)
{
	time_t	 now = NOW_2024_03_15;

	unix_ok("-rw-r--r--   1 owner group   1234 Jan  5 12:34 name with spaces",
	    now, FTP_ENTRY_FILE, "name with spaces", 1234, 1704458040, 0644, NULL);
	unix_ok("-rw-r--r--   1 owner group   1234 Jan  5  2023 file.txt",
	    now, FTP_ENTRY_FILE, "file.txt", 1234, 1672876800, 0644, NULL);
	unix_ok("drwxr-xr-x   2 1000  1000      4096 Jan  5  2023 dir",
	    now, FTP_ENTRY_DIR, "dir", 4096, 1672876800, 0755, NULL);
	/* no group column */
	unix_ok("-rw-r--r-- 1 ftp 1234 Jan 5 2023 x",
	    now, FTP_ENTRY_FILE, "x", 1234, 1672876800, 0644, NULL);
	unix_ok("-rw-r--r-- 1 ftp 0 Jan 5 12:34 a b",
	    now, FTP_ENTRY_FILE, "a b", 0, 1704458040, 0644, NULL);
	/* owner and group that look like dates are not taken for one */
	unix_ok("-rw-r--r-- 1 Jan 5 1234 Jan 5 2023 odd",
	    now, FTP_ENTRY_FILE, "odd", 1234, 1672876800, 0644, NULL);
	unix_ok("lrwxrwxrwx 1 u g 7 Jan 5 2023 link -> target",
	    now, FTP_ENTRY_LINK, "link", 7, 1672876800, 0777, "target");
	unix_ok("lrwxrwxrwx 1 u g 7 Jan 5 2023 a -> b -> c",
	    now, FTP_ENTRY_LINK, "a", 7, 1672876800, 0777, "b -> c");
	unix_ok("lrwxrwxrwx 1 u g 7 Jan 5 2023 nolink",
	    now, FTP_ENTRY_LINK, "nolink", 7, 1672876800, 0777, NULL);
	/* " -> " in a regular file's name is part of the name */
	unix_ok("-rw-r--r-- 1 u g 7 Jan 5 2023 a -> b",
	    now, FTP_ENTRY_FILE, "a -> b", 7, 1672876800, 0644, NULL);
	unix_ok("crw-rw-rw- 1 root root 1, 3 Jan 5 2023 null",
	    now, FTP_ENTRY_OTHER, "null", -1, 1672876800, 0666, NULL);
	unix_ok("brw-rw---- 1 root disk 8,   0 Jan 5 2023 sda",
	    now, FTP_ENTRY_OTHER, "sda", -1, 1672876800, 0660, NULL);
	unix_ok("crw-rw-rw- 1 root root 1,3 Jan 5 2023 null",
	    now, FTP_ENTRY_OTHER, "null", -1, 1672876800, 0666, NULL);
	unix_ok("prw-r--r-- 1 u g 0 Jan 5 2023 fifo",
	    now, FTP_ENTRY_OTHER, "fifo", 0, 1672876800, 0644, NULL);
	/* setuid, setgid, sticky, with and without x */
	unix_ok("-rwsr-sr-t 1 u g 1 Jan 5 2023 s",
	    now, FTP_ENTRY_FILE, "s", 1, 1672876800, 07755, NULL);
	unix_ok("-rwSr-Sr-T 1 u g 1 Jan 5 2023 S",
	    now, FTP_ENTRY_FILE, "S", 1, 1672876800, 07644, NULL);
	unix_ok("drwxrwxrwt 1 u g 1 Jan 5 2023 tmp",
	    now, FTP_ENTRY_DIR, "tmp", 1, 1672876800, 01777, NULL);
	unix_ok("----------   1 u g 1 Jan 5 2023 none",
	    now, FTP_ENTRY_FILE, "none", 1, 1672876800, 0, NULL);
	/* ACL and SELinux markers */
	unix_ok("-rw-r--r--+ 1 u g 1 Jan 5 2023 acl",
	    now, FTP_ENTRY_FILE, "acl", 1, 1672876800, 0644, NULL);
	unix_ok("-rw-r--r--. 1 u g 1 Jan 5 2023 selinux",
	    now, FTP_ENTRY_FILE, "selinux", 1, 1672876800, 0644, NULL);
	/* long-iso dates, seconds, CR before the (removed) LF */
	unix_ok("-rw-r--r-- 1 u g 10 2023-01-05 12:34 iso",
	    now, FTP_ENTRY_FILE, "iso", 10, 1672922040, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 10 Jan 5 12:34:56 secs",
	    now, FTP_ENTRY_FILE, "secs", 10, 1704458096, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 10 jan 05 2023 crlf\r",
	    now, FTP_ENTRY_FILE, "crlf", 10, 1672876800, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 9223372036854775807 Jan 5 2023 huge",
	    now, FTP_ENTRY_FILE, "huge", INT64_MAX, 1672876800, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 1 Jan 5 2023 trailing space ",
	    now, FTP_ENTRY_FILE, "trailing space ", 1, 1672876800, 0644, NULL);
}
END_TEST

/* "Mon DD HH:MM": the year puts the date at most a day after now */
START_TEST(unix_year_choice)
{
	time_t	 now = NOW_2024_03_15;

	unix_ok("-rw-r--r-- 1 u g 1 Mar 16 10:00 tomorrow",
	    now, FTP_ENTRY_FILE, "tomorrow", 1, 1710583200, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 1 Mar 17 10:00 past",
	    now, FTP_ENTRY_FILE, "past", 1, 1679047200, 0644, NULL);
	unix_ok("-rw-r--r-- 1 u g 1 Feb 29 10:00 leap",
	    now, FTP_ENTRY_FILE, "leap", 1, 1709200800, 0644, NULL);
	/* from 2023, Feb 29 is four years back */
	unix_ok("-rw-r--r-- 1 u g 1 Feb 29 10:00 leap",
	    (time_t)1678881600, FTP_ENTRY_FILE, "leap", 1, 1582970400, 0644,
	    NULL);
	/* new year's day: December belongs to last year */
	unix_ok("-rw-r--r-- 1 u g 1 Dec 31 23:59 nye",
	    (time_t)1704067200, FTP_ENTRY_FILE, "nye", 1, 1704067140, 0644,
	    NULL);
}
END_TEST

START_TEST(unix_skip_and_bad)
{
	static const char *const skip[] = {
		"total 12",
		"total 0",
		"",
		"   ",
		"drwxr-xr-x 2 u g 4096 Jan 5 2023 .",
		"drwxr-xr-x 2 u g 4096 Jan 5 2023 ..",
	};
	static const char *const bad[] = {
		"garbage",
		"-rw-r--r--",
		"-rw-r--r-- ",
		"-rw-r--r-- 1 u g 12 Jan 5 2023",
		"-rw-r--r-- 1 u g 12 Jan 5 2023 ",
		"-rw-r--r-- 1 u g 12ab Jan 5 2023 x",
		"-rw-r--r-- 1 u g 99999999999999999999 Jan 5 2023 x",
		"-rw-r--r-- 1 u g 12 Foo 5 2023 x",
		"-rw-r--r-- 1 u g 12 Feb 30 2023 x",
		"-rw-r--r-- 1 u g 12 Jan 32 2023 x",
		"-rw-r--r-- 1 u g 12 Jan 5 24:00 x",
		"-rw-r--r-- 1 u g 12 Jan 5 12:60 x",
		"-rw-r--r-- 1 u g 12 Jan 5 202 x",
		"-rw-r--r-- 1 u g 12 Jan 5 20234 x",
		"xrw-r--r-- 1 u g 12 Jan 5 2023 x",
		"-rwxr-xr-q 1 u g 12 Jan 5 2023 x",
		"-rwtr-xr-x 1 u g 12 Jan 5 2023 x",
		"-rw-r--r--x 1 u g 12 Jan 5 2023 x",
		"01-05-23  12:34PM       <DIR>          dos",
		"-rw-r--r-- 1 u g 12 Jan",
		"-rw-r--r-- 1 u g 12 Jan 5",
		"-rw-r--r-- 1 Jan 5 2023 x",
		"crw-rw-rw- 1 root root 3 Jan 5 2023 nocomma",
	};
	struct ftp_entry	 e;
	size_t			 i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		ck_assert_msg(unix_line(skip[i], NOW_2024_03_15, &e) ==
		    FTP_LIST_SKIP, "not skipped: %s", skip[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(unix_line(bad[i], NOW_2024_03_15, &e) ==
		    FTP_LIST_BAD, "not refused: %s", bad[i]);
}
END_TEST

/* Every prefix of a good line is parsed without reading past it. */
START_TEST(unix_prefixes)
{
	static const char *const lines[] = {
		"lrwxrwxrwx 1 u g 7 Jan 5 12:34 link -> target",
		"crw-rw-rw- 1 root root 1, 3 Jan 5 2023 null",
		"-rw-r--r-- 1 u g 10 2023-01-05 12:34 iso",
	};
	struct ftp_entry	 e;
	size_t			 i, len;
	char			*p;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		for (len = 0; len <= strlen(lines[i]); len++) {
			p = span_copy(lines[i], len);
			if (ftp_list_parse_unix(p, len, NOW_2024_03_15, &e) ==
			    FTP_LIST_ENTRY)
				ftp_entry_clear(&e);
			free(p);
		}
}
END_TEST

static void
mlsd_ok(const char *line, enum ftp_entry_type type, const char *name,
    int64_t size, int64_t mtime, int perm, const char *target)
{
	struct ftp_entry	 e;

	ck_assert_msg(mlsd_line(line, &e) == FTP_LIST_ENTRY,
	    "not an entry: %s", line);
	check_entry(&e, type, name, size, mtime, perm, target);
	ftp_entry_clear(&e);
}

START_TEST(mlsd_facts)
{
	mlsd_ok("type=file;size=1234;modify=20230105123400;UNIX.mode=0644; a.txt",
	    FTP_ENTRY_FILE, "a.txt", 1234, 1672922040, 0644, NULL);
	mlsd_ok("Type=DIR;Sizd=4096;Modify=20230105123400.123;unix.MODE=755; d",
	    FTP_ENTRY_DIR, "d", 4096, 1672922040, 0755, NULL);
	/* names with spaces and ';' */
	mlsd_ok("type=file;size=1; name; with ;semicolons and spaces",
	    FTP_ENTRY_FILE, "name; with ;semicolons and spaces", 1,
	    INT64_MIN, -1, NULL);
	mlsd_ok("type=file;size=1;  leading space",
	    FTP_ENTRY_FILE, " leading space", 1, INT64_MIN, -1, NULL);
	mlsd_ok("type=OS.unix=slink:/etc/target;size=10; link",
	    FTP_ENTRY_LINK, "link", 10, INT64_MIN, -1, "/etc/target");
	mlsd_ok("type=OS.unix=symlink;UNIX.mode=0777; link2",
	    FTP_ENTRY_LINK, "link2", -1, INT64_MIN, 0777, NULL);
	mlsd_ok("type=OS.unix=chr-1/3; null",
	    FTP_ENTRY_OTHER, "null", -1, INT64_MIN, -1, NULL);
	/* no facts at all (MLST with nothing asked) */
	mlsd_ok(" bare", FTP_ENTRY_OTHER, "bare", -1, INT64_MIN, -1, NULL);
	/* bad fact values are dropped, the entry stays */
	mlsd_ok("type=file;size=12ab;modify=20231305000000;UNIX.mode=0899;perm=r; x",
	    FTP_ENTRY_FILE, "x", -1, INT64_MIN, -1, NULL);
	mlsd_ok("type=file;size=1;garbage;=;x=; y\r",
	    FTP_ENTRY_FILE, "y", 1, INT64_MIN, -1, NULL);
	mlsd_ok("type=file;UNIX.mode=4755; suid",
	    FTP_ENTRY_FILE, "suid", -1, INT64_MIN, 04755, NULL);
	/* pyftpdlib's Python-style octal */
	mlsd_ok("modify=20261121221229;size=3;type=file;unix.mode=0o644; py",
	    FTP_ENTRY_FILE, "py", 3, 1795299149, 0644, NULL);
	mlsd_ok("type=file;unix.mode=0o; bad", FTP_ENTRY_FILE, "bad", -1,
	    INT64_MIN, -1, NULL);
}
END_TEST

START_TEST(mlsd_skip_and_bad)
{
	static const char *const skip[] = {
		"type=cdir;modify=20230105123400; /home",
		"type=pdir;modify=20230105123400; ..",
		"TYPE=CDIR; .",
		"type=dir; .",
		"",
		"  ",
	};
	static const char *const bad[] = {
		"type=file;size=1;",
		"type=file;size=1; ",
		"nospace",
	};
	struct ftp_entry	 e;
	size_t			 i, len;
	char			*p;
	const char		*line = "type=OS.unix=slink:/t;size=10;modify=2023"
	    "0105123400; link";

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		ck_assert_msg(mlsd_line(skip[i], &e) == FTP_LIST_SKIP,
		    "not skipped: %s", skip[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(mlsd_line(bad[i], &e) == FTP_LIST_BAD,
		    "not refused: %s", bad[i]);
	ck_assert_int_eq(ftp_list_parse_mlsd("type=file; a\0b", 14, &e),
	    FTP_LIST_BAD);
	/* every prefix, without a NUL */
	for (len = 0; len <= strlen(line); len++) {
		p = span_copy(line, len);
		if (ftp_list_parse_mlsd(p, len, &e) == FTP_LIST_ENTRY)
			ftp_entry_clear(&e);
		free(p);
	}
}
END_TEST

START_TEST(type_names)
{
	ck_assert_str_eq(ftp_entry_type_name(FTP_ENTRY_FILE), "file");
	ck_assert_str_eq(ftp_entry_type_name(FTP_ENTRY_DIR), "dir");
	ck_assert_str_eq(ftp_entry_type_name(FTP_ENTRY_LINK), "link");
	ck_assert_str_eq(ftp_entry_type_name(FTP_ENTRY_OTHER), "other");
	ck_assert_str_eq(ftp_entry_type_name(FTP_ENTRY_TYPE_LAST), "other");
}
END_TEST

static int
parse_buffer(const char *buf, size_t len, bool mlsd, size_t max,
    struct ftp_entry **out, size_t *n)
{
	char	*p = span_copy(buf, len);
	int	 rc;

	rc = ftp_list_parse_buffer(p, len, mlsd, NOW_2024_03_15, 0, max, out, n);
	free(p);
	return rc;
}

START_TEST(buffer_mixed)
{
	const char		*list = "total 12\r\n"
	    "drwxr-xr-x 2 u g 4096 Jan 5 2023 .\r\n"
	    "drwxr-xr-x 2 u g 4096 Jan 5 2023 ..\r\n"
	    "-rw-r--r-- 1 u g 1234 Jan 5 12:34 a file\r\n"
	    "this is garbage\r\n"
	    "\r\n"
	    "lrwxrwxrwx 1 u g 7 Jan 5 2023 l -> t\n"
	    "bin\0ary\r\n"
	    "drwxr-xr-x 2 u g 4096 Jan 5 2023 last";
	size_t			 len = strlen(list) + 1 + strlen("ary\r\n") +
	    strlen("drwxr-xr-x 2 u g 4096 Jan 5 2023 last");
	struct ftp_entry	*v;
	size_t			 n;

	ck_assert_int_eq(parse_buffer(list, len, false, 100, &v, &n), 0);
	ck_assert_uint_eq(n, 5);
	check_entry(&v[0], FTP_ENTRY_FILE, "a file", 1234, 1704458040, 0644,
	    NULL);
	check_entry(&v[1], FTP_ENTRY_OTHER, "this is garbage", -1, INT64_MIN,
	    -1, NULL);
	check_entry(&v[2], FTP_ENTRY_LINK, "l", 7, 1672876800, 0777, "t");
	check_entry(&v[3], FTP_ENTRY_OTHER, "bin?ary", -1, INT64_MIN, -1, NULL);
	check_entry(&v[4], FTP_ENTRY_DIR, "last", 4096, 1672876800, 0755, NULL);
	ftp_entries_free(v, n);

	/* over the limit: refused, nothing to free */
	ck_assert_int_eq(parse_buffer(list, len, false, 4, &v, &n), -1);
	ck_assert_int_eq(parse_buffer(list, len, false, 5, &v, &n), 0);
	ftp_entries_free(v, n);

	/* an empty listing is a valid one */
	ck_assert_int_eq(parse_buffer("", 0, false, 10, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ftp_entries_free(v, n);
	ck_assert_int_eq(parse_buffer("total 0\r\n", 9, false, 0, &v, &n), 0);
	ck_assert_uint_eq(n, 0);
	ftp_entries_free(v, n);
	ftp_entries_free(NULL, 0);
}
END_TEST

START_TEST(buffer_mlsd)
{
	const char		*list =
	    "type=cdir;modify=20230105123400; /x\r\n"
	    "type=pdir;modify=20230105123400; /\r\n"
	    "type=file;size=3;modify=20230105123400; f\r\n"
	    "type=dir;modify=20230105123400; d\r\n"
	    "garbage\r\n";
	struct ftp_entry	*v;
	size_t			 n;

	ck_assert_int_eq(parse_buffer(list, strlen(list), true, 100, &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	check_entry(&v[0], FTP_ENTRY_FILE, "f", 3, 1672922040, -1, NULL);
	check_entry(&v[1], FTP_ENTRY_DIR, "d", -1, 1672922040, -1, NULL);
	check_entry(&v[2], FTP_ENTRY_OTHER, "garbage", -1, INT64_MIN, -1, NULL);
	ftp_entries_free(v, n);
}
END_TEST

/* TEST-CASES 20: 100,000 entries with garbage mixed in */
START_TEST(buffer_huge)
{
	const size_t		 count = 100000;
	struct ftp_entry	*v;
	size_t			 i, n, len = 0, cap = count * 80;
	char			*buf;
	int			 w;

	buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < count; i++) {
		if (i % 1000 == 999)
			w = snprintf(buf + len, cap - len,
			    "\x01\xff garbage line %zu ;;; -> \r\n", i);
		else
			w = snprintf(buf + len, cap - len,
			    "-rw-r--r-- 1 u g %zu Jan  5  2023 file%zu\r\n",
			    i, i);
		ck_assert(w > 0 && (size_t)w < cap - len);
		len += (size_t)w;
	}
	ck_assert_int_eq(parse_buffer(buf, len, false, count, &v, &n), 0);
	ck_assert_uint_eq(n, count);
	for (i = 0; i < count; i++) {
		if (i % 1000 == 999)
			ck_assert_int_eq(v[i].type, FTP_ENTRY_OTHER);
		else {
			ck_assert_int_eq(v[i].type, FTP_ENTRY_FILE);
			ck_assert_int_eq(v[i].size, (int64_t)i);
		}
	}
	ck_assert_str_eq(v[12345].name, "file12345");
	ftp_entries_free(v, n);
	ck_assert_int_eq(parse_buffer(buf, len, false, count - 1, &v, &n), -1);

	/* the same amount of pure garbage, and in MLSD mode */
	memset(buf, '#', len);
	for (i = 50; i < len; i += 50)
		buf[i] = '\n';
	buf[len - 1] = '#';
	ck_assert_int_eq(parse_buffer(buf, len, true, len, &v, &n), 0);
	ck_assert_uint_eq(n, (len - 2) / 50 + 1);
	ftp_entries_free(v, n);
	free(buf);
}
END_TEST

Suite *
ftp_list_suite(void)
{
	Suite	*s = suite_create("ftp_list");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, unix_formats);
	tcase_add_test(tc, unix_year_choice);
	tcase_add_test(tc, unix_skip_and_bad);
	tcase_add_test(tc, unix_prefixes);
	tcase_add_test(tc, mlsd_facts);
	tcase_add_test(tc, mlsd_skip_and_bad);
	tcase_add_test(tc, type_names);
	tcase_add_test(tc, buffer_mixed);
	tcase_add_test(tc, buffer_mlsd);
	tcase_add_test(tc, buffer_huge);
	/* the 100,000-entry listing under valgrind */
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
