/*
 * Unit tests for the listing parsers (protocol/ftp_list.c). Lines are
 * copied to exact-size heap buffers without a NUL so that ASan and
 * valgrind catch any read past len.
 *
 * This file: the helpers of check_ftp_list.h, Unix and MLSD lines, the
 * names of entry types, whole listings (mixed formats, time zones, the
 * 100,000-entry one), error lines, time zone names, and
 * ftp_list_suite(), whose one test case "core" also holds the tests of
 * check_ftp_list_servers.c (real servers' listings) and
 * check_ftp_list_dos_eplf.c (DOS and EPLF lines).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <check.h>

#include "ftp_list.h"
#include "check_ftp_list.h"

char *
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

void
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
	if (e->raw != NULL) {
		/* only lines no parser could read keep their raw text */
		ck_assert_int_eq(e->type, FTP_ENTRY_OTHER);
		ck_assert_str_eq(e->raw, name);
	}
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

#define L(s) s, strlen(s)

/* MLSD's unique fact: equal for equal values, unknown when absent,
 * and (case-insensitive key) read whatever its place among the facts. */
START_TEST(mlsd_unique)
{
	struct ftp_entry a, b, c, d;

	ck_assert_int_eq(ftp_list_parse_mlsd(L("type=dir;unique=803g1a2; x"),
	    &a), FTP_LIST_ENTRY);
	ck_assert_int_eq(ftp_list_parse_mlsd(L("UNIQUE=803g1a2;type=dir; y"),
	    &b), FTP_LIST_ENTRY);
	ck_assert_int_eq(ftp_list_parse_mlsd(L("type=dir;unique=803g1a3; z"),
	    &c), FTP_LIST_ENTRY);
	ck_assert_int_eq(ftp_list_parse_mlsd(L("type=dir; w"), &d),
	    FTP_LIST_ENTRY);
	ck_assert(a.unique != 0);
	ck_assert(a.unique == b.unique);
	ck_assert(a.unique != c.unique);
	ck_assert(d.unique == 0);
	ftp_entry_clear(&a);
	ftp_entry_clear(&b);
	ftp_entry_clear(&c);
	ftp_entry_clear(&d);
}
END_TEST

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

/* A clock at the end of time_t: no overflow (UBSan; a fuzzer finding). */
START_TEST(unix_now_at_the_end_of_time)
{
	struct ftp_entry	e;

	memset(&e, 0, sizeof(e));
	(void)unix_line("-rw-r--r-- 1 u g 1 Mar 16 10:00 late", (time_t)INT64_MAX,
	    &e);
	ftp_entry_clear(&e);
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

int
parse_buffer_tz(const char *buf, size_t len, bool mlsd, long tz, size_t max,
    struct ftp_entry **out, size_t *n)
{
	char	*p = span_copy(buf, len);
	int	 rc;

	rc = ftp_list_parse_buffer(p, len, mlsd, NOW_2024_03_15, tz, max, out,
	    n);
	free(p);
	return rc;
}

int
parse_buffer(const char *buf, size_t len, bool mlsd, size_t max,
    struct ftp_entry **out, size_t *n)
{
	return parse_buffer_tz(buf, len, mlsd, 0, max, out, n);
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
	ck_assert_ptr_nonnull(v[1].raw);
	ck_assert_ptr_null(v[0].raw);
	ck_assert_ptr_null(v[2].raw);
	check_entry(&v[2], FTP_ENTRY_LINK, "l", 7, 1672876800, 0777, "t");
	check_entry(&v[3], FTP_ENTRY_OTHER, "bin?ary", -1, INT64_MIN, -1, NULL);
	ck_assert_ptr_nonnull(v[3].raw);
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

/* ---- whole listings: formats, time zones ---------------------------------- */

/* Formats mixed in one listing: each line goes to the parser that reads it. */
START_TEST(buffer_formats)
{
	const char		*list =
	    "-rw-r--r-- 1 u g 5 Nov 21 22:08 unix\r\n"
	    "11-21-23  10:08PM       <DIR>          dos\r\n"
	    "+m824255902,r,s3,\teplf\r\n"
	    "01-05-24 garbage\r\n"
	    "+no tab\r\n"
	    "11-21-2023  22:08                    7 dos24\r\n";
	struct ftp_entry	*v;
	size_t			 n;

	ck_assert_int_eq(parse_buffer_tz(list, strlen(list), false, 3600, 100,
	    &v, &n), 0);
	ck_assert_uint_eq(n, 6);
	check_entry(&v[0], FTP_ENTRY_FILE, "unix", 5, 1700604480 - 3600, 0644,
	    NULL);
	check_entry(&v[1], FTP_ENTRY_DIR, "dos", -1, 1700604480 - 3600, -1,
	    NULL);
	check_entry(&v[2], FTP_ENTRY_FILE, "eplf", 3, 824255902, -1, NULL);
	check_entry(&v[3], FTP_ENTRY_OTHER, "01-05-24 garbage", -1, INT64_MIN,
	    -1, NULL);
	check_entry(&v[4], FTP_ENTRY_OTHER, "+no tab", -1, INT64_MIN, -1, NULL);
	check_entry(&v[5], FTP_ENTRY_FILE, "dos24", 7, 1700604480 - 3600, -1,
	    NULL);
	ck_assert_ptr_null(v[0].raw);
	ck_assert_ptr_null(v[1].raw);
	ck_assert_ptr_null(v[2].raw);
	ck_assert_ptr_nonnull(v[3].raw);
	ck_assert_ptr_nonnull(v[4].raw);
	ck_assert_ptr_null(v[5].raw);
	ftp_entries_free(v, n);
}
END_TEST

/* tz_offset moves LIST dates only: never EPLF's or MLSD's UTC times. */
START_TEST(buffer_tz)
{
	const char		*ls = "-rw-r--r-- 1 u g 1 Jan 5 2023 f\r\n"
	    "-rw-r--r-- 1 u g 1 Jan 5 2023 g\r\n";
	const char		*mlsd = "type=file;modify=20230105000000; f\r\n"
	    "type=file; nodate\r\n";
	const char		*eplf1 = "+r,m1672876800,\tf\r\n+r,\tnodate\r\n";
	const char		*dos = "01-05-23  12:00AM  1  f\r\n";
	struct ftp_entry	*v;
	size_t			 n;

	/* +02:00: the server's midnight was 22:00 UTC the day before */
	ck_assert_int_eq(parse_buffer_tz(ls, strlen(ls), false, 7200, 10,
	    &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].mtime, 1672876800 - 7200);
	ck_assert_int_eq(v[1].mtime, 1672876800 - 7200);
	ftp_entries_free(v, n);
	ck_assert_int_eq(parse_buffer_tz(dos, strlen(dos), false, -18000, 10,
	    &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(v[0].mtime, 1672876800 + 18000);
	ftp_entries_free(v, n);

	ck_assert_int_eq(parse_buffer_tz(eplf1, strlen(eplf1), false, 7200, 10,
	    &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].mtime, 1672876800);
	ck_assert_int_eq(v[1].mtime, INT64_MIN);
	ftp_entries_free(v, n);

	ck_assert_int_eq(parse_buffer_tz(mlsd, strlen(mlsd), true, 7200, 10,
	    &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(v[0].mtime, 1672876800);
	ck_assert_int_eq(v[1].mtime, INT64_MIN);
	ftp_entries_free(v, n);

	/* an absurd offset leaves the date unknown rather than wrapping */
	ck_assert_int_eq(parse_buffer_tz(ls, strlen(ls), false, LONG_MAX,
	    10, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	if (sizeof(long) >= sizeof(int64_t))
		ck_assert_int_eq(v[0].mtime, 1672876800 - (int64_t)LONG_MAX);
	ftp_entries_free(v, n);
	ck_assert_int_eq(parse_buffer_tz(ls, strlen(ls), false, LONG_MIN,
	    10, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	if (sizeof(long) >= sizeof(int64_t))
		ck_assert_int_eq(v[0].mtime, INT64_MIN);
	ftp_entries_free(v, n);
}
END_TEST

START_TEST(error_lines)
{
	static const struct {
		const char	*line;
		bool		 error, missing;
	} cases[] = {
		{ "ls: with: No such file or directory", true, true },
		{ "/bin/ls: /dir: No such file or directory", true, true },
		{ "ls: cannot access 'x y': No such file or directory", true, true },
		{ "ls: cannot open directory 'd': Permission denied", true, false },
		{ "ls: sub: Permission denied", true, false },
		{ "ls: f.txt: Not a directory", true, false },
		{ "x: NOT FOUND", true, true },
		/* what a listing carries and a parser could not read */
		{ "some odd line", false, false },
		{ "dir with space:", false, false },
		{ "", false, false },
	};
	bool	missing;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		missing = !cases[i].missing;
		ck_assert_msg(ftp_list_error_line(cases[i].line, &missing) ==
		    cases[i].error, "%s", cases[i].line);
		ck_assert_msg(missing == cases[i].missing, "%s", cases[i].line);
	}
	ck_assert(ftp_list_error_line("ls: x: No such file or directory", NULL));
}
END_TEST

START_TEST(zones)
{
	ck_assert_int_eq(ftp_list_parse_tz("UTC"), 0);
	ck_assert_int_eq(ftp_list_parse_tz("utc"), 0);
	ck_assert_int_eq(ftp_list_parse_tz("Z"), 0);
	ck_assert_int_eq(ftp_list_parse_tz("+02:00"), 7200);
	ck_assert_int_eq(ftp_list_parse_tz("-0530"), -(5 * 3600 + 30 * 60));
	ck_assert_int_eq(ftp_list_parse_tz("+14"), 14 * 3600);
	ck_assert_int_eq(ftp_list_parse_tz("+15:00"), LONG_MIN);
	ck_assert_int_eq(ftp_list_parse_tz("+01:60"), LONG_MIN);
	ck_assert_int_eq(ftp_list_parse_tz("0200"), LONG_MIN);
	ck_assert_int_eq(ftp_list_parse_tz("+02:00x"), LONG_MIN);
	ck_assert_int_eq(ftp_list_parse_tz(""), LONG_MIN);
	ck_assert_int_eq(ftp_list_parse_tz("CEST"), LONG_MIN);
}
END_TEST

Suite *
ftp_list_suite(void)
{
	Suite	*s = suite_create("ftp_list");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, mlsd_unique);
	tcase_add_test(tc, unix_formats);
	tcase_add_test(tc, unix_year_choice);
	tcase_add_test(tc, unix_now_at_the_end_of_time);
	tcase_add_test(tc, unix_skip_and_bad);
	tcase_add_test(tc, unix_prefixes);
	tcase_add_test(tc, mlsd_facts);
	tcase_add_test(tc, mlsd_skip_and_bad);
	tcase_add_test(tc, type_names);
	tcase_add_test(tc, buffer_mixed);
	tcase_add_test(tc, buffer_mlsd);
	tcase_add_test(tc, buffer_huge);
	ftp_list_servers_tests(tc);
	ftp_list_dos_eplf_tests(tc);
	tcase_add_test(tc, buffer_formats);
	tcase_add_test(tc, buffer_tz);
	tcase_add_test(tc, error_lines);
	tcase_add_test(tc, zones);
	/* the 100,000-entry listing under valgrind */
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
