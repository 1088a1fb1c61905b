/*
 * Unit tests for the listing parsers (protocol/ftp_list.c): real
 * servers' listings. Lines as vsftpd, ProFTPD, Pure-FTPd, FileZilla
 * Server, BusyBox, IIS (Unix and DOS style) and an EPLF server send
 * them, each line to its own parser whole and cut at every length, and
 * each listing whole in three time zones and cut at every length. Its
 * tests belong to the "core" test case, added by
 * ftp_list_servers_tests().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <check.h>

#include "ftp_list.h"
#include "check_ftp_list.h"

/* ---- real servers' listings ------------------------------------------------ */

enum sample_parser {
	P_UNIX,
	P_DOS,
	P_EPLF
};

struct sample {
	enum sample_parser	 parser;
	const char		*line;
	enum ftp_list_result	 result;
	enum ftp_entry_type	 type;
	const char		*name;
	int64_t			 size;
	int64_t			 mtime;
	int			 perm;
	const char		*target;
};

#define ENTRY(p, l, t, n, sz, mt, pm, tg) \
	{ p, l, FTP_LIST_ENTRY, FTP_ENTRY_##t, n, sz, mt, pm, tg }
#define SKIP(p, l) \
	{ p, l, FTP_LIST_SKIP, FTP_ENTRY_OTHER, NULL, 0, 0, 0, NULL }

/* all with now = 2024-03-15 12:00 UTC */
static const struct sample vsftpd[] = {
	ENTRY(P_UNIX, "drwxr-xr-x    2 1000     1000         4096 Nov 21 22:08 dir",
	    DIR, "dir", 4096, 1700604480, 0755, NULL),
	ENTRY(P_UNIX, "-rw-r--r--    1 1000     1000            5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0644, NULL),
	ENTRY(P_UNIX, "-rw-r--r--    1 1000     1000      1048576 Nov 21  2022 big file.bin",
	    FILE, "big file.bin", 1048576, 1668988800, 0644, NULL),
	ENTRY(P_UNIX, "lrwxrwxrwx    1 1000     1000            5 Mar 14 09:30 link -> a.txt",
	    LINK, "link", 5, 1710408600, 0777, "a.txt"),
	ENTRY(P_UNIX, "-rw-------    1 0        0               0 Feb 29 23:59 leap",
	    FILE, "leap", 0, 1709251140, 0600, NULL),
};

static const struct sample proftpd[] = {
	SKIP(P_UNIX, "total 16"),
	ENTRY(P_UNIX, "drwxr-xr-x   2 ftp      ftp          4096 Nov 21 22:08 pub",
	    DIR, "pub", 4096, 1700604480, 0755, NULL),
	ENTRY(P_UNIX, "-rw-r--r--   1 ftp      ftp             5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0644, NULL),
	ENTRY(P_UNIX, "-rw-r--r--   1 ftp      ftp      123456789 Jan  1  2020 archive 2020.tar.gz",
	    FILE, "archive 2020.tar.gz", 123456789, 1577836800, 0644, NULL),
	ENTRY(P_UNIX, "drwxr-sr-x   2 ftp      ftp          4096 Dec 31 23:59 setgid dir",
	    DIR, "setgid dir", 4096, 1704067140, 02755, NULL),
	ENTRY(P_UNIX, "lrwxrwxrwx   1 ftp      ftp            19 Mar 15 11:00 latest -> archive 2020.tar.gz",
	    LINK, "latest", 19, 1710500400, 0777, "archive 2020.tar.gz"),
};

static const struct sample pureftpd[] = {
	SKIP(P_UNIX, "drwxr-xr-x    2 1000       1000             4096 Nov 21 22:08 ."),
	SKIP(P_UNIX, "drwxr-xr-x    3 1000       1000             4096 Nov 21 22:08 .."),
	ENTRY(P_UNIX, "-rw-r--r--    1 1000       1000                5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0644, NULL),
	ENTRY(P_UNIX, "-rw-r--r--    1 1000       1000       2147483648 Nov 21  2025 two gig",
	    FILE, "two gig", 2147483648LL, 1763683200, 0644, NULL),
	/* just under a day ahead of now: this year, not last */
	ENTRY(P_UNIX, "-rwxr-xr-x    1 1000       1000              512 Mar 16 11:59 script.sh",
	    FILE, "script.sh", 512, 1710590340, 0755, NULL),
};

static const struct sample filezilla[] = {
	ENTRY(P_UNIX, "-rw-r--r-- 1 ftp ftp            5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0644, NULL),
	ENTRY(P_UNIX, "drwxr-xr-x 1 ftp ftp              0 Jan 01  2024 dir",
	    DIR, "dir", 0, 1704067200, 0755, NULL),
	ENTRY(P_UNIX, "-rw-r--r-- 1 ftp ftp      1234567 Jan 01 00:00 new year",
	    FILE, "new year", 1234567, 1704067200, 0644, NULL),
};

static const struct sample busybox[] = {
	ENTRY(P_UNIX, "-rw-r--r--    1 0        0               5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0644, NULL),
	ENTRY(P_UNIX, "drwxr-xr-x    2 0        0            4096 Nov 21 22:08 sub",
	    DIR, "sub", 4096, 1700604480, 0755, NULL),
	ENTRY(P_UNIX, "crw-rw-rw-    1 0        0          1,   3 Nov 21 22:08 null",
	    OTHER, "null", -1, 1700604480, 0666, NULL),
};

static const struct sample iis_unix[] = {
	ENTRY(P_UNIX, "-rwxrwxrwx   1 owner    group               5 Nov 21 22:08 a.txt",
	    FILE, "a.txt", 5, 1700604480, 0777, NULL),
	ENTRY(P_UNIX, "drwxrwxrwx   1 owner    group               0 Jul  3  2007 Program Files",
	    DIR, "Program Files", 0, 1183420800, 0777, NULL),
};

static const struct sample iis_dos[] = {
	ENTRY(P_DOS, "11-21-23  10:08PM       <DIR>          dir",
	    DIR, "dir", -1, 1700604480, -1, NULL),
	ENTRY(P_DOS, "11-21-23  10:08PM                    5 a.txt",
	    FILE, "a.txt", 5, 1700604480, -1, NULL),
	ENTRY(P_DOS, "01-05-2024  12:05AM            1,234,567 name with spaces.txt",
	    FILE, "name with spaces.txt", 1234567, 1704413100, -1, NULL),
	ENTRY(P_DOS, "01-05-24  12:30PM                 1234 noon",
	    FILE, "noon", 1234, 1704457800, -1, NULL),
	ENTRY(P_DOS, "12-31-99  11:59PM       <DIR>          y2k",
	    DIR, "y2k", -1, 946684740, -1, NULL),
	ENTRY(P_DOS, "03-15-2024 17:45            42 late",
	    FILE, "late", 42, 1710524700, -1, NULL),
	ENTRY(P_DOS, "02-29-24  01:00AM                   10 leap",
	    FILE, "leap", 10, 1709168400, -1, NULL),
	SKIP(P_DOS, "11-21-23  10:08PM       <DIR>          ."),
};

static const struct sample eplf[] = {
	ENTRY(P_EPLF, "+i8388621.29609,m824255902,/,\tdev",
	    DIR, "dev", -1, 824255902, -1, NULL),
	ENTRY(P_EPLF, "+i8388621.44468,m839956783,r,s10376,\tRFCEPLF",
	    FILE, "RFCEPLF", 10376, 839956783, -1, NULL),
	ENTRY(P_EPLF, "+i8388621.48598,m824253270,r,s612,up644,\tREADME",
	    FILE, "README", 612, 824253270, 0644, NULL),
	ENTRY(P_EPLF, "+/,m824255902,\tname with spaces",
	    DIR, "name with spaces", -1, 824255902, -1, NULL),
};

struct server {
	const char		*name;
	const struct sample	*lines;
	size_t			 count;
};

#define SERVER(a)	{ #a, a, sizeof(a) / sizeof(a[0]) }

static const struct server servers[] = {
	SERVER(vsftpd), SERVER(proftpd), SERVER(pureftpd), SERVER(filezilla),
	SERVER(busybox), SERVER(iis_unix), SERVER(iis_dos), SERVER(eplf),
};

static enum ftp_list_result
sample_parse(enum sample_parser parser, const char *line, size_t len,
    struct ftp_entry *e)
{
	switch (parser) {
	case P_UNIX:
		return ftp_list_parse_unix(line, len, NOW_2024_03_15, e);
	case P_DOS:
		return ftp_list_parse_dos(line, len, e);
	default:
		return ftp_list_parse_eplf(line, len, e);
	}
}

static void
sample_check(const struct sample *sm, const struct ftp_entry *e, long tz)
{
	/* LIST dates are local to the server; EPLF's are epoch seconds */
	int64_t	 mtime = sm->mtime - (sm->parser == P_EPLF ? 0 : tz);

	check_entry(e, sm->type, sm->name, sm->size, mtime, sm->perm,
	    sm->target);
	ck_assert_ptr_null(e->raw);
}

/* Each line alone, to its own parser, whole and cut at every length. */
START_TEST(server_lines)
{
	const struct server	*sv = &servers[_i];
	const struct sample	*sm;
	struct ftp_entry	 e;
	enum ftp_list_result	 r;
	size_t			 i, len, cut;
	char			*p;

	for (i = 0; i < sv->count; i++) {
		sm = &sv->lines[i];
		len = strlen(sm->line);
		p = span_copy(sm->line, len);
		r = sample_parse(sm->parser, p, len, &e);
		free(p);
		ck_assert_msg(r == sm->result, "%s: %s: got %d", sv->name,
		    sm->line, (int)r);
		if (r == FTP_LIST_ENTRY) {
			sample_check(sm, &e, 0);
			ftp_entry_clear(&e);
		}
		for (cut = 0; cut < len; cut++) {
			p = span_copy(sm->line, cut);
			if (sample_parse(sm->parser, p, cut, &e) ==
			    FTP_LIST_ENTRY)
				ftp_entry_clear(&e);
			free(p);
		}
	}
}
END_TEST

/* A listing as the server sends it: CRLF, no newline after the last line. */
static char *
server_listing(const struct server *sv, size_t *len)
{
	size_t	 i, n = 0;
	char	*buf;

	for (i = 0; i < sv->count; i++)
		n += strlen(sv->lines[i].line) + 2;
	buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	for (i = 0, n = 0; i < sv->count; i++) {
		memcpy(buf + n, sv->lines[i].line, strlen(sv->lines[i].line));
		n += strlen(sv->lines[i].line);
		if (i + 1 < sv->count) {
			memcpy(buf + n, "\r\n", 2);
			n += 2;
		}
	}
	*len = n;
	return buf;
}

/* The whole listing, in three time zones, and every prefix of it. */
START_TEST(server_listings)
{
	static const long	 zones[] = { 0, 7200, -18000 };
	const struct server	*sv = &servers[_i];
	struct ftp_entry	*v;
	size_t			 i, j, k, n, len, cut;
	char			*buf;

	buf = server_listing(sv, &len);
	for (k = 0; k < sizeof(zones) / sizeof(zones[0]); k++) {
		ck_assert_int_eq(parse_buffer_tz(buf, len, false, zones[k], 100,
		    &v, &n), 0);
		for (i = 0, j = 0; i < sv->count; i++) {
			if (sv->lines[i].result != FTP_LIST_ENTRY)
				continue;
			ck_assert_msg(j < n, "%s: entry %zu missing", sv->name,
			    j);
			sample_check(&sv->lines[i], &v[j], zones[k]);
			j++;
		}
		ck_assert_uint_eq(n, j);
		ftp_entries_free(v, n);
	}
	for (cut = 0; cut < len; cut++) {
		ck_assert_int_eq(parse_buffer(buf, cut, false, 100, &v, &n), 0);
		ftp_entries_free(v, n);
	}
	free(buf);
}
END_TEST

/* After buffer_huge, in the "core" test case of ftp_list_suite(). */
void
ftp_list_servers_tests(TCase *tc)
{
	tcase_add_loop_test(tc, server_lines, 0,
	    sizeof(servers) / sizeof(servers[0]));
	tcase_add_loop_test(tc, server_listings, 0,
	    sizeof(servers) / sizeof(servers[0]));
}
