/*
 * Unit tests for the listing parsers (protocol/ftp_list.c): DOS (IIS)
 * and EPLF lines. DOS dates with a 12- or 24-hour clock and two- or
 * four-digit years, sizes with thousands' commas, and what is refused
 * (kept raw in a listing); EPLF's facts in any order, bad values
 * dropped, and what is refused. Lines are copied to exact-size heap
 * buffers without a NUL, as in check_ftp_list.c. Its tests belong to
 * the "core" test case, added by ftp_list_dos_eplf_tests().
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ftp_list.h"
#include "check_ftp_list.h"

/* ---- DOS / IIS ---------------------------------------------------------- */

static enum ftp_list_result
dos_line(const char *line, struct ftp_entry *e)
{
	size_t			 len = strlen(line);
	char			*p = span_copy(line, len);
	enum ftp_list_result	 r;

	r = ftp_list_parse_dos(p, len, e);
	free(p);
	return r;
}

static void
dos_ok(const char *line, enum ftp_entry_type type, const char *name,
    int64_t size, int64_t mtime)
{
	struct ftp_entry	 e;

	ck_assert_msg(dos_line(line, &e) == FTP_LIST_ENTRY, "not an entry: %s",
	    line);
	check_entry(&e, type, name, size, mtime, -1, NULL);
	ck_assert_ptr_null(e.raw);
	ftp_entry_clear(&e);
}

START_TEST(dos_times)
{
	/* 12:xxAM is 00:xx, 12:xxPM is 12:xx */
	dos_ok("01-05-24  12:00AM  <DIR>  midnight", FTP_ENTRY_DIR, "midnight",
	    -1, 1704412800);
	dos_ok("01-05-24  12:59PM  1  noon", FTP_ENTRY_FILE, "noon", 1,
	    1704459540);
	dos_ok("01-05-24  01:00PM  1  one", FTP_ENTRY_FILE, "one", 1,
	    1704459600);
	dos_ok("01-05-24  11:59 PM  1  apart", FTP_ENTRY_FILE, "apart", 1,
	    1704499140);
	dos_ok("01-05-24  11:59pm  1  lower", FTP_ENTRY_FILE, "lower", 1,
	    1704499140);
	dos_ok("01-05-24  9:07:30AM  1  secs", FTP_ENTRY_FILE, "secs", 1,
	    1704445650);
	/* 24-hour clock, 4-digit year */
	dos_ok("01-05-2024  00:00  0  zero", FTP_ENTRY_FILE, "zero", 0,
	    1704412800);
	dos_ok("01-05-2024  23:59  0  late", FTP_ENTRY_FILE, "late", 0,
	    1704499140);
	/* 2-digit years: 70-99 are 19xx, 00-69 20xx */
	dos_ok("01-05-70  12:00AM  <DIR>  y70", FTP_ENTRY_DIR, "y70", -1,
	    345600);
	dos_ok("01-05-69  12:00AM  <DIR>  y69", FTP_ENTRY_DIR, "y69", -1,
	    3124569600LL);
	dos_ok("01-05-00  12:00AM  <DIR>  y00", FTP_ENTRY_DIR, "y00", -1,
	    947030400);
	/* sizes, names */
	dos_ok("01-05-24  12:00AM  1,234  comma", FTP_ENTRY_FILE, "comma", 1234,
	    1704412800);
	dos_ok("01-05-24  12:00AM  999  small", FTP_ENTRY_FILE, "small", 999,
	    1704412800);
	dos_ok("01-05-24  12:00AM  9,223,372,036,854,775,807  max",
	    FTP_ENTRY_FILE, "max", INT64_MAX, 1704412800);
	dos_ok("01-05-24  12:00AM  <dir>  Lower Dir ", FTP_ENTRY_DIR,
	    "Lower Dir ", -1, 1704412800);
	dos_ok("01-05-24  12:00AM  5  a  b\r", FTP_ENTRY_FILE, "a  b", 5,
	    1704412800);
	dos_ok("01-05-24  12:00AM  5  <DIR>", FTP_ENTRY_FILE, "<DIR>", 5,
	    1704412800);
}
END_TEST

START_TEST(dos_bad)
{
	static const char *const bad[] = {
		"13-05-24  12:00AM  <DIR>  month13",
		"00-05-24  12:00AM  <DIR>  month0",
		"01-32-24  12:00AM  <DIR>  day32",
		"01-00-24  12:00AM  <DIR>  day0",
		"02-30-24  12:00AM  <DIR>  feb30",
		"02-29-23  12:00AM  <DIR>  notleap",
		"01-05-24  13:00PM  <DIR>  h13pm",
		"01-05-24  00:30AM  <DIR>  h0am",
		"01-05-24  24:00  <DIR>  h24",
		"01-05-24  12:60PM  <DIR>  m60",
		"01-05-24  12:00XM  <DIR>  xm",
		"01-05-24  12:00  AMX  1  ampm",
		"01-05-24  12:00AM  1,23  comma",
		"01-05-24  12:00AM  12,3456  comma",
		"01-05-24  12:00AM  1,,234  comma",
		"01-05-24  12:00AM  1,23,456  comma",
		"01-05-24  12:00AM  1234,567  comma",
		"01-05-24  12:00AM  ,123  comma",
		"01-05-24  12:00AM  123,  comma",
		"01-05-24  12:00AM  12a  size",
		"01-05-24  12:00AM  -1  size",
		"01-05-24  12:00AM  99999999999999999999  size",
		"01-05-24  12:00AM  <DIR>",
		"01-05-24  12:00AM  <DIR>   ",
		"01-05-24  12:00AM  <DIR  x",
		"01-05-24  12:00AM",
		"01-05-24",
		"1-05-24  12:00AM  <DIR>  short",
		"01/05/24  12:00AM  <DIR>  slash",
		"01-05-024  12:00AM  <DIR>  year3",
		"01-05-20245  12:00AM  <DIR>  year5",
		"0a-05-24  12:00AM  <DIR>  digit",
		" 01-05-24  12:00AM  <DIR>  indent",
		"-rw-r--r-- 1 u g 12 Jan 5 2023 unix",
		"+/,\teplf",
	};
	struct ftp_entry	*v;
	struct ftp_entry	 e;
	size_t			 i, n, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(dos_line(bad[i], &e) == FTP_LIST_BAD,
		    "not refused: %s", bad[i]);
		if (bad[i][0] < '0' || bad[i][0] > '9')
			continue;
		/* no other parser takes it: kept raw */
		len = strlen(bad[i]);
		ck_assert_int_eq(parse_buffer(bad[i], len, false, 10, &v, &n),
		    0);
		ck_assert_uint_eq(n, 1);
		check_entry(&v[0], FTP_ENTRY_OTHER, bad[i], -1, INT64_MIN, -1,
		    NULL);
		ck_assert_ptr_nonnull(v[0].raw);
		ftp_entries_free(v, n);
	}
	ck_assert_int_eq(ftp_list_parse_dos("01-05-24 12:00AM 1 a\0b", 22, &e),
	    FTP_LIST_BAD);
	ck_assert_int_eq(dos_line("01-05-24  12:00AM  <DIR>  ..", &e),
	    FTP_LIST_SKIP);
	ck_assert_int_eq(dos_line("  \r", &e), FTP_LIST_SKIP);
	ck_assert_int_eq(dos_line("", &e), FTP_LIST_SKIP);
}
END_TEST

/* ---- EPLF ------------------------------------------------------------------ */

static enum ftp_list_result
eplf_line(const char *line, struct ftp_entry *e)
{
	size_t			 len = strlen(line);
	char			*p = span_copy(line, len);
	enum ftp_list_result	 r;

	r = ftp_list_parse_eplf(p, len, e);
	free(p);
	return r;
}

static void
eplf_ok(const char *line, enum ftp_entry_type type, const char *name,
    int64_t size, int64_t mtime, int perm)
{
	struct ftp_entry	 e;

	ck_assert_msg(eplf_line(line, &e) == FTP_LIST_ENTRY,
	    "not an entry: %s", line);
	check_entry(&e, type, name, size, mtime, perm, NULL);
	ck_assert_ptr_null(e.raw);
	ftp_entry_clear(&e);
}

START_TEST(eplf_facts)
{
	/* no facts: nothing known, not even the type */
	eplf_ok("+\tbare", FTP_ENTRY_OTHER, "bare", -1, INT64_MIN, -1);
	eplf_ok("+,,,\tcommas", FTP_ENTRY_OTHER, "commas", -1, INT64_MIN, -1);
	/* a directory one can also retrieve is a directory */
	eplf_ok("+r,/\tboth", FTP_ENTRY_DIR, "both", -1, INT64_MIN, -1);
	/* no trailing comma, facts in any order, unknown ones ignored */
	eplf_ok("+s5,x1,r,up4755,m0\tsuid", FTP_ENTRY_FILE, "suid", 5, 0,
	    04755);
	eplf_ok("+r,s9223372036854775807\tmax", FTP_ENTRY_FILE, "max",
	    INT64_MAX, INT64_MIN, -1);
	/* bad values are dropped, the entry stays */
	eplf_ok("+r,s12a,m-1,up,up8,up12345,sx\tbadvals", FTP_ENTRY_FILE,
	    "badvals", -1, INT64_MIN, -1);
	eplf_ok("+r,s99999999999999999999,m99999999999999999999\toverflow",
	    FTP_ENTRY_FILE, "overflow", -1, INT64_MIN, -1);
	/* the name is everything after the first TAB */
	eplf_ok("+r\ta\tb c \r", FTP_ENTRY_FILE, "a\tb c ", -1, INT64_MIN, -1);
	eplf_ok("+r\t ", FTP_ENTRY_FILE, " ", -1, INT64_MIN, -1);
}
END_TEST

START_TEST(eplf_bad)
{
	static const char *const bad[] = {
		"+r,s1",
		"+r,s1\t",
		"r,s1\tnoplus",
		" +r\tindent",
		"-rw-r--r-- 1 u g 12 Jan 5 2023 unix",
		"01-05-24  12:00AM  <DIR>  dos",
	};
	struct ftp_entry	 e;
	size_t			 i, len;
	char			*p;
	const char		*line = "+i8388621.48598,m824253270,r,s612,up644,\tREADME";

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(eplf_line(bad[i], &e) == FTP_LIST_BAD,
		    "not refused: %s", bad[i]);
	ck_assert_int_eq(ftp_list_parse_eplf("+r\ta\0b", 6, &e), FTP_LIST_BAD);
	ck_assert_int_eq(eplf_line("+/\t.", &e), FTP_LIST_SKIP);
	ck_assert_int_eq(eplf_line("+/\t..", &e), FTP_LIST_SKIP);
	ck_assert_int_eq(eplf_line("", &e), FTP_LIST_SKIP);
	for (len = 0; len <= strlen(line); len++) {
		p = span_copy(line, len);
		if (ftp_list_parse_eplf(p, len, &e) == FTP_LIST_ENTRY)
			ftp_entry_clear(&e);
		free(p);
	}
}
END_TEST

/* After server_listings, in the "core" test case of ftp_list_suite(). */
void
ftp_list_dos_eplf_tests(TCase *tc)
{
	tcase_add_test(tc, dos_times);
	tcase_add_test(tc, dos_bad);
	tcase_add_test(tc, eplf_facts);
	tcase_add_test(tc, eplf_bad);
}
