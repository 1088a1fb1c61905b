/*
 * The reply payload parsers (protocol/ftp_parse.c): PASV, EPSV, 257 (PWD),
 * SIZE, MDTM, the size in a 150, FEAT, and the calendar arithmetic.
 *
 * Every parser reads the whole input as a NUL-terminated exact-size copy
 * (ftp_parse_time14 a copy without the NUL, as it takes a length). Checks:
 * outputs untouched on failure; values in their promised ranges; what a
 * parser returns, written back in the server's syntax, parses the same;
 * SIZE against strtoull, dates against the C library's timegm/gmtime_r;
 * FEAT entries trimmed, upper-cased and found again by ftp_feat_has.
 */
#define _GNU_SOURCE		/* timegm */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftp_parse.h"
#include "fuzz.h"

static void
check_pasv(const char *text)
{
	uint8_t		 a[4] = { 1, 2, 3, 4 }, b[4];
	uint16_t	 port = 4242, port2;
	char		 buf[64];

	if (ftp_parse_pasv(text, a, &port) == -1) {
		FUZZ_CHECK(a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 4);
		FUZZ_CHECK(port == 4242);
		return;
	}
	FUZZ_CHECK(port != 0);
	snprintf(buf, sizeof(buf), "Entering Passive Mode (%u,%u,%u,%u,%u,%u)",
	    a[0], a[1], a[2], a[3], port >> 8, port & 0xff);
	FUZZ_CHECK(ftp_parse_pasv(buf, b, &port2) == 0);
	FUZZ_CHECK(memcmp(a, b, 4) == 0 && port == port2);
}

static void
check_epsv(const char *text)
{
	uint16_t	 port = 4242, port2;
	char		 buf[64];

	if (ftp_parse_epsv(text, &port) == -1) {
		FUZZ_CHECK(port == 4242);
		return;
	}
	FUZZ_CHECK(port != 0);
	snprintf(buf, sizeof(buf), "Entering Extended Passive Mode (|||%u|)",
	    port);
	FUZZ_CHECK(ftp_parse_epsv(buf, &port2) == 0 && port2 == port);
}

/* The 257 path, quoted again as a server would: parses to itself. */
static void
check_pwd(const char *text)
{
	char	*path, *again, *q, *o;

	if ((path = ftp_parse_pwd(text)) == NULL)
		return;
	FUZZ_CHECK(path[0] != '\0');
	FUZZ_CHECK(strlen(path) <= strlen(text));
	if ((q = malloc(strlen(path) * 2 + 32)) == NULL)
		abort();
	o = q;
	*o++ = '"';
	for (const char *s = path; *s; s++) {
		if (*s == '"')
			*o++ = '"';
		*o++ = *s;
	}
	strcpy(o, "\" is the current directory");
	again = ftp_parse_pwd(q);
	FUZZ_CHECK(again != NULL && strcmp(again, path) == 0);
	free(again);
	free(q);
	free(path);
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* SIZE by another route: blanks, digits, blanks, then strtoull. */
static void
check_size(const char *text)
{
	const char		*s = text, *d;
	int64_t			 v = -7;
	unsigned long long	 ref;
	char			*end;
	bool			 ok;
	int			 rc;

	rc = ftp_parse_size(text, &v);
	while (blank(*s))
		s++;
	for (d = s; *d >= '0' && *d <= '9'; d++)
		;
	ok = d > s;
	ref = 0;
	if (ok) {
		errno = 0;
		ref = strtoull(s, &end, 10);
		ok = errno == 0 && end == d && ref <= INT64_MAX;
		while (blank(*d))
			d++;
		ok = ok && *d == '\0';
	}
	FUZZ_CHECK((rc == 0) == ok);
	if (rc == 0)
		FUZZ_CHECK(v >= 0 && (unsigned long long)v == ref);
	else
		FUZZ_CHECK(v == -7);
}

/*
 * Whether a calendar time exists, and its epoch seconds, from the C
 * library: timegm normalises impossible dates, which gmtime_r shows.
 * Leap seconds (sec 60) are checked as second 59 plus one.
 */
static bool
ref_time(int year, int mon, int day, int hour, int min, int sec, int64_t *t)
{
	struct tm	 tm, back;
	time_t		 v;
	int		 s = sec == 60 ? 59 : sec;

	if (year < -100000 || year > 100000)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = s;
	back = tm;
	v = timegm(&tm);
	if (gmtime_r(&v, &tm) == NULL || tm.tm_year != back.tm_year ||
	    tm.tm_mon != back.tm_mon || tm.tm_mday != back.tm_mday ||
	    tm.tm_hour != back.tm_hour || tm.tm_min != back.tm_min ||
	    tm.tm_sec != back.tm_sec)
		return false;
	*t = (int64_t)v + (sec == 60);
	return true;
}

static int
digits(const char *s, int n)
{
	int	 v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* "YYYYMMDDHHMMSS[.f+]" checked by hand, the date by ref_time. */
static bool
ref_time14(const char *s, size_t len, int64_t *t)
{
	size_t	 i;

	if (len < 14)
		return false;
	for (i = 0; i < len; i++) {
		if (i == 14) {
			if (s[i] != '.' || len == 15)
				return false;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return ref_time(digits(s, 4), digits(s + 4, 2), digits(s + 6, 2),
	    digits(s + 8, 2), digits(s + 10, 2), digits(s + 12, 2), t);
}

static void
check_time14(const uint8_t *data, size_t size)
{
	char	*s = fuzz_dup(data, size);
	int64_t	 t = 77, ref = 0;
	int	 rc;

	rc = ftp_parse_time14(s, size, &t);
	FUZZ_CHECK((rc == 0) == ref_time14(s, size, &ref));
	FUZZ_CHECK(rc == 0 ? t == ref : t == 77);
	free(s);
}

static void
check_mdtm(const char *text)
{
	const char	*s = text;
	size_t		 len;
	int64_t		 t = 77, ref = 0;
	int		 rc;

	rc = ftp_parse_mdtm(text, &t);
	while (blank(*s))
		s++;
	len = strlen(s);
	while (len > 0 && blank(s[len - 1]))
		len--;
	FUZZ_CHECK((rc == 0) == ref_time14(s, len, &ref));
	FUZZ_CHECK(rc == 0 ? t == ref : t == 77);
}

static void
check_parts(struct fuzz_in *in)
{
	int	 v[6], i;
	int64_t	 t = 77, ref = 0;
	int	 rc;

	for (i = 0; i < 6; i++) {
		/* small values mostly, any int sometimes */
		v[i] = (int)(int32_t)fuzz_u64(in, 4);
		if ((v[i] & 0x40000000) == 0)
			v[i] %= 10000;
	}
	rc = ftp_time_from_parts(v[0], v[1], v[2], v[3], v[4], v[5], &t);
	if (rc == 0) {
		FUZZ_CHECK(v[1] >= 1 && v[1] <= 12 && v[2] >= 1 && v[2] <= 31 &&
		    v[3] >= 0 && v[3] <= 23 && v[4] >= 0 && v[4] <= 59 &&
		    v[5] >= 0 && v[5] <= 60);
		if (v[0] >= -100000 && v[0] <= 100000) {
			FUZZ_CHECK(ref_time(v[0], v[1], v[2], v[3], v[4], v[5],
			    &ref));
			FUZZ_CHECK(t == ref);
		}
	} else {
		FUZZ_CHECK(t == 77);
		if (v[0] >= -100000 && v[0] <= 100000)
			FUZZ_CHECK(!ref_time(v[0], v[1], v[2], v[3], v[4], v[5],
			    &ref));
	}
}

static void
check_150(const char *text)
{
	int64_t	 v = -7, v2;
	char	 buf[128];

	if (ftp_parse_150_size(text, &v) == -1) {
		FUZZ_CHECK(v == -7);
		return;
	}
	FUZZ_CHECK(v >= 0);
	snprintf(buf, sizeof(buf), "Opening BINARY mode data connection for "
	    "f (%" PRId64 " bytes)", v);
	FUZZ_CHECK(ftp_parse_150_size(buf, &v2) == 0 && v2 == v);
}

static void
check_feat(const char *text)
{
	char	**feat, *kw;
	size_t	 i, n, klen, lines = 1;
	int	 rc;

	for (const char *s = text; *s; s++)
		lines += *s == '\n';
	if ((rc = ftp_parse_feat(text, &feat)) == -1)
		return;
	FUZZ_CHECK(feat != NULL);
	for (n = 0; feat[n] != NULL; n++) {
		const char	*f = feat[n];

		klen = strcspn(f, " ");
		FUZZ_CHECK(f[0] != '\0' && strchr(f, '\n') == NULL);
		FUZZ_CHECK(!blank(f[0]) && !blank(f[strlen(f) - 1]));
		for (i = 0; i < klen; i++)
			FUZZ_CHECK(f[i] < 'a' || f[i] > 'z');
		kw = fuzz_strndup(f, klen);
		FUZZ_CHECK(ftp_feat_has(feat, kw));
		free(kw);
	}
	FUZZ_CHECK((size_t)rc == n);
	/* neither the first line nor the closing one is a feature */
	FUZZ_CHECK(lines < 2 ? n == 0 : n <= lines - 2);
	FUZZ_CHECK(!ftp_feat_has(feat, NULL) && !ftp_feat_has(NULL, "MDTM"));
	ftp_feat_free(feat);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	char		*text = fuzz_strndup(data, size);

	check_pasv(text);
	check_epsv(text);
	check_pwd(text);
	check_size(text);
	check_mdtm(text);
	check_150(text);
	check_feat(text);
	check_time14(data, size);
	check_parts(&in);
	free(text);
	return 0;
}
