/*
 * Parsers for single-reply payloads. Every scan stops at the text's NUL;
 * numbers are accumulated with explicit overflow checks (no strtol, whose
 * leading-sign and whitespace rules are too lenient here).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftp_parse.h"

#define PASV_NUMBERS	6

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

static char
to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/*
 * Reads a run of digits starting at *sp into *val, saturating at max + 1
 * so that overlong runs are refused by the caller without overflow.
 * Returns the number of digits read.
 */
static size_t
read_number(const char **sp, unsigned long max, unsigned long *val)
{
	const char	*s = *sp;
	unsigned long	 v = 0;
	size_t		 n = 0;

	while (is_digit(*s)) {
		if (v <= max)
			v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			v = max + 1;
		s++;
		n++;
	}
	*sp = s;
	*val = v;
	return n;
}

/*
 * Tries to read six comma-separated numbers at s. Returns 1 on a
 * well-formed run (values in v, unchecked), 0 when s does not start one.
 */
static int
pasv_run(const char *s, unsigned long v[PASV_NUMBERS])
{
	int	 i;

	for (i = 0; i < PASV_NUMBERS; i++) {
		if (i > 0) {
			while (is_space(*s))
				s++;
			if (*s != ',')
				return 0;
			s++;
			while (is_space(*s))
				s++;
		}
		if (read_number(&s, 255, &v[i]) == 0)
			return 0;
	}
	return 1;
}

int
ftp_parse_pasv(const char *text, uint8_t addr[4], uint16_t *port)
{
	unsigned long	 v[PASV_NUMBERS];
	unsigned long	 p;
	const char	*s;
	int		 i;

	for (s = text; *s != '\0'; s++) {
		if (!is_digit(*s) || (s > text && is_digit(s[-1])))
			continue;
		if (!pasv_run(s, v))
			continue;
		/* the first run counts: a bad one is not skipped over */
		for (i = 0; i < PASV_NUMBERS; i++)
			if (v[i] > 255)
				return -1;
		p = v[4] * 256 + v[5];
		if (p == 0)
			return -1;
		for (i = 0; i < 4; i++)
			addr[i] = (uint8_t)v[i];
		*port = (uint16_t)p;
		return 0;
	}
	return -1;
}

int
ftp_parse_epsv(const char *text, uint16_t *port)
{
	const char	*s;
	unsigned long	 p;
	char		 d;

	for (s = strchr(text, '('); s != NULL; s = strchr(s + 1, '(')) {
		d = s[1];
		/* digits as delimiter would make the port ambiguous */
		if (d < 33 || d > 126 || is_digit(d) || s[2] != d || s[3] != d)
			continue;
		s += 4;
		if (read_number(&s, 65535, &p) == 0 || s[0] != d || s[1] != ')')
			return -1;
		if (p == 0 || p > 65535)
			return -1;
		*port = (uint16_t)p;
		return 0;
	}
	return -1;
}

char *
ftp_parse_pwd(const char *text)
{
	const char	*s, *q;
	char		*path;
	size_t		 n;

	if ((s = strchr(text, '"')) == NULL)
		return NULL;
	s++;
	/* first pass: find the closing quote and the undoubled length */
	for (q = s, n = 0;; q++, n++) {
		if (*q == '\0')
			return NULL;
		if (*q == '"') {
			if (q[1] != '"')
				break;
			q++;
		}
	}
	if (n == 0)
		return NULL;
	if ((path = malloc(n + 1)) == NULL)
		return NULL;
	for (q = s, n = 0;; q++) {
		if (*q == '"') {
			if (q[1] != '"')
				break;
			q++;
		}
		path[n++] = *q;
	}
	path[n] = '\0';
	return path;
}

/* Decimal digits into an int64_t; returns digits read or -1 on overflow. */
static int
read_int64(const char **sp, int64_t *val)
{
	const char	*s = *sp;
	int64_t		 v = 0;
	int		 n = 0;

	while (is_digit(*s)) {
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
		s++;
		n++;
	}
	*sp = s;
	*val = v;
	return n;
}

int
ftp_parse_size(const char *text, int64_t *size)
{
	const char	*s = text;
	int64_t		 v;

	while (is_space(*s))
		s++;
	if (read_int64(&s, &v) <= 0)
		return -1;
	while (is_space(*s))
		s++;
	if (*s != '\0')
		return -1;
	*size = v;
	return 0;
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): pure arithmetic, so the result does not depend on TZ
 * the way mktime() would, and timegm() is not portable.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits_value(const char *s, size_t n)
{
	int	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int
ftp_parse_time14(const char *s, size_t len, int64_t *mtime)
{
	int	 year, mon, day, hour, min, sec;
	size_t	 i;

	if (len < 14)
		return -1;
	for (i = 0; i < 14; i++)
		if (!is_digit(s[i]))
			return -1;
	/* an optional fraction, ignored: seconds are all we keep */
	if (len > 14) {
		if (s[14] != '.' || len == 15)
			return -1;
		for (i = 15; i < len; i++)
			if (!is_digit(s[i]))
				return -1;
	}
	year = digits_value(s, 4);
	mon = digits_value(s + 4, 2);
	day = digits_value(s + 6, 2);
	hour = digits_value(s + 8, 2);
	min = digits_value(s + 10, 2);
	sec = digits_value(s + 12, 2);
	return ftp_time_from_parts(year, mon, day, hour, min, sec, mtime);
}

int
ftp_time_from_parts(int year, int mon, int day, int hour, int min, int sec,
    int64_t *t)
{
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return -1;
	*t = days_from_civil(year, mon, day) * 86400 +
	    hour * 3600 + min * 60 + sec;
	return 0;
}

int
ftp_parse_mdtm(const char *text, int64_t *mtime)
{
	const char	*s = text;
	size_t		 len;

	while (is_space(*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_space(s[len - 1]))
		len--;
	return ftp_parse_time14(s, len, mtime);
}

int
ftp_parse_150_size(const char *text, int64_t *size)
{
	const char	*s;
	int64_t		 v;

	if ((s = strrchr(text, '(')) == NULL)
		return -1;
	s++;
	while (is_space(*s))
		s++;
	if (read_int64(&s, &v) <= 0 || !is_space(*s))
		return -1;
	while (is_space(*s))
		s++;
	if (strncasecmp(s, "bytes", 5) != 0)
		return -1;
	*size = v;
	return 0;
}

void
ftp_feat_free(char **feat)
{
	size_t	 i;

	if (feat == NULL)
		return;
	for (i = 0; feat[i] != NULL; i++)
		free(feat[i]);
	free(feat);
}

/* One feature line: leading spaces dropped, keyword upper-cased. */
static char *
feat_line(const char *s, size_t len)
{
	char	*f;
	size_t	 i;

	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0 || (f = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(f, s, len);
	f[len] = '\0';
	for (i = 0; i < len && f[i] != ' '; i++)
		f[i] = to_upper(f[i]);
	return f;
}

int
ftp_parse_feat(const char *text, char ***out)
{
	const char	*s, *nl, *end;
	char		**feat;
	size_t		 n = 0, nlines = 1;

	for (s = text; *s != '\0'; s++)
		if (*s == '\n')
			nlines++;
	/* more than enough: the first and the closing line are not features */
	if ((feat = calloc(nlines + 1, sizeof(*feat))) == NULL)
		return -1;
	if ((s = strchr(text, '\n')) != NULL) {
		s++;
		/* the closing line is the last one; anything before is a feature */
		end = strrchr(s - 1, '\n');
		while (s <= end) {
			nl = strchr(s, '\n');
			if (nl - s > 0) {
				if ((feat[n] = feat_line(s, (size_t)(nl - s))) == NULL) {
					/* blank lines are skipped, not errors */
					if (strspn(s, " \t") < (size_t)(nl - s)) {
						ftp_feat_free(feat);
						return -1;
					}
				} else
					n++;
			}
			s = nl + 1;
		}
	}
	*out = feat;
	return (int)n;
}

bool
ftp_feat_has(char *const *feat, const char *keyword)
{
	size_t	 i, klen;

	if (feat == NULL || keyword == NULL)
		return false;
	klen = strlen(keyword);
	for (i = 0; feat[i] != NULL; i++)
		if (strncasecmp(feat[i], keyword, klen) == 0 &&
		    (feat[i][klen] == '\0' || feat[i][klen] == ' '))
			return true;
	return false;
}
