/*
 * Directory listing parsers. Lines are spans (pointer + length), never
 * assumed NUL-terminated, so a listing is parsed in place. Dates go through
 * ftp_parse_time14() so that range checks (month, leap days) and the
 * TZ-independent epoch arithmetic live in one place.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strcasestr */
#endif

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ftp_cmd.h"
#include "ftp_list.h"
#include "ftp_parse.h"

/* tokens looked at before the name; more than any ls -l layout needs */
#define UNIX_TOKENS_MAX		12
/* average Gregorian year, to guess the current year from a time_t */
#define SECS_PER_YEAR		31556952
#define SECS_PER_DAY		86400

struct span {
	const char	*s;
	size_t		 len;
};

static const char *const entry_type_names[FTP_ENTRY_TYPE_LAST] = {
	"file", "dir", "link", "other"
};

const char *
ftp_entry_type_name(enum ftp_entry_type type)
{
	if ((unsigned)type >= FTP_ENTRY_TYPE_LAST)
		return "other";
	return entry_type_names[type];
}

static void
entry_reset(struct ftp_entry *e)
{
	e->name = NULL;
	e->type = FTP_ENTRY_OTHER;
	e->size = -1;
	e->mtime = INT64_MIN;
	e->perm = -1;
	e->target = NULL;
	e->raw = NULL;
	e->unique = 0;
}

void
ftp_entry_clear(struct ftp_entry *e)
{
	free(e->name);
	free(e->target);
	free(e->raw);
	entry_reset(e);
}

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

static bool
all_digits(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

static bool
span_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* Drops a trailing CR/LF: the buffer parser has removed the LF already. */
static size_t
trim_eol(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
		len--;
	return len;
}

static bool
blank(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!is_space(s[i]))
			return false;
	return true;
}

/* Decimal digits into an int64_t; -1 on overflow or non-digit. */
static int
span_int64(const char *s, size_t len, int64_t *val)
{
	int64_t	 v = 0;
	size_t	 i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]) || v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*val = v;
	return 0;
}

static char *
span_dup(const char *s, size_t len)
{
	char	*p;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static bool
dot_name(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.');
}

/* Fills *out from parsed pieces; only fails on memory. */
static enum ftp_list_result
entry_fill(struct ftp_entry *out, const struct ftp_entry *e,
    struct span name, struct span target)
{
	char	*n, *t = NULL;

	if ((n = span_dup(name.s, name.len)) == NULL)
		return FTP_LIST_BAD;
	if (target.s != NULL && target.len > 0 &&
	    (t = span_dup(target.s, target.len)) == NULL) {
		free(n);
		return FTP_LIST_BAD;
	}
	*out = *e;
	out->name = n;
	out->target = t;
	return FTP_LIST_ENTRY;
}

/* ---- MLSD ---------------------------------------------------------------- */

static void
mlsd_fact(struct ftp_entry *e, bool *skip, struct span *target,
    const char *key, size_t klen, const char *val, size_t vlen)
{
	static const char slink[] = "OS.unix=slink:";
	int64_t	 v;
	size_t	 i;
	int	 mode;

	if (span_eq(key, klen, "type")) {
		if (span_eq(val, vlen, "file"))
			e->type = FTP_ENTRY_FILE;
		else if (span_eq(val, vlen, "dir"))
			e->type = FTP_ENTRY_DIR;
		else if (span_eq(val, vlen, "cdir") || span_eq(val, vlen, "pdir"))
			*skip = true;
		else if (vlen >= sizeof(slink) - 1 &&
		    strncasecmp(val, slink, sizeof(slink) - 1) == 0) {
			e->type = FTP_ENTRY_LINK;
			target->s = val + sizeof(slink) - 1;
			target->len = vlen - (sizeof(slink) - 1);
		} else if (span_eq(val, vlen, "OS.unix=symlink"))
			e->type = FTP_ENTRY_LINK;
		else
			e->type = FTP_ENTRY_OTHER;
	} else if (span_eq(key, klen, "size") || span_eq(key, klen, "sizd")) {
		if (span_int64(val, vlen, &v) == 0)
			e->size = v;
	} else if (span_eq(key, klen, "modify")) {
		if (ftp_parse_time14(val, vlen, &v) == 0)
			e->mtime = v;
	} else if (span_eq(key, klen, "unique") && vlen > 0) {
		/* FNV-1a: two objects meet only by a 1 in 2^64 chance */
		e->unique = 14695981039346656037ULL;
		for (i = 0; i < vlen; i++)
			e->unique = (e->unique ^ (unsigned char)val[i]) *
			    1099511628211ULL;
		if (e->unique == 0)
			e->unique = 1;
	} else if (span_eq(key, klen, "UNIX.mode")) {
		/* pyftpdlib writes Python's oct(): "0o644" */
		if (vlen > 2 && val[0] == '0' && (val[1] == 'o' || val[1] == 'O')) {
			val += 2;
			vlen -= 2;
		}
		if (vlen == 0 || vlen > 5)
			return;
		for (i = 0, mode = 0; i < vlen; i++) {
			if (val[i] < '0' || val[i] > '7')
				return;
			mode = mode * 8 + (val[i] - '0');
		}
		if (mode <= 07777)
			e->perm = mode;
	}
}

enum ftp_list_result
ftp_list_parse_mlsd(const char *line, size_t len, struct ftp_entry *out)
{
	struct ftp_entry	 e;
	struct span		 name, target = { NULL, 0 };
	const char		*sp, *seg, *end, *eq;
	bool			 skip = false;

	len = trim_eol(line, len);
	if (blank(line, len))
		return FTP_LIST_SKIP;
	if (memchr(line, '\0', len) != NULL)
		return FTP_LIST_BAD;
	/* the name may hold spaces and ';': it starts after the first space */
	if ((sp = memchr(line, ' ', len)) == NULL)
		return FTP_LIST_BAD;
	name.s = sp + 1;
	name.len = len - (size_t)(name.s - line);
	if (name.len == 0)
		return FTP_LIST_BAD;

	entry_reset(&e);
	for (seg = line; seg < sp; seg = end + 1) {
		if ((end = memchr(seg, ';', (size_t)(sp - seg))) == NULL)
			end = sp;
		/* a fact without '=' is malformed; the rest may still help */
		if ((eq = memchr(seg, '=', (size_t)(end - seg))) == NULL)
			continue;
		mlsd_fact(&e, &skip, &target, seg, (size_t)(eq - seg),
		    eq + 1, (size_t)(end - eq - 1));
	}
	if (skip || dot_name(name.s, name.len))
		return FTP_LIST_SKIP;
	if (e.type != FTP_ENTRY_LINK)
		target.s = NULL;
	return entry_fill(out, &e, name, target);
}

/* ---- Unix ls -l ------------------------------------------------------------ */

static enum ftp_entry_type
unix_type(char c)
{
	switch (c) {
	case '-':
		return FTP_ENTRY_FILE;
	case 'd':
		return FTP_ENTRY_DIR;
	case 'l':
		return FTP_ENTRY_LINK;
	case 'c':
	case 'b':
	case 'p':
	case 's':
	case 'D':
		return FTP_ENTRY_OTHER;
	default:
		return FTP_ENTRY_TYPE_LAST;
	}
}

/* "rwxr-xr-x" with s/S/t/T (and 'l', setgid without group x) into bits. */
static int
unix_perm(const char *p)
{
	static const int special[3] = { 04000, 02000, 01000 };
	int	 perm = 0, shift, i;
	char	 x;

	for (i = 0; i < 3; i++) {
		shift = 6 - 3 * i;
		if (p[3 * i] == 'r')
			perm |= 4 << shift;
		else if (p[3 * i] != '-')
			return -1;
		if (p[3 * i + 1] == 'w')
			perm |= 2 << shift;
		else if (p[3 * i + 1] != '-')
			return -1;
		x = p[3 * i + 2];
		if (x == 'x')
			perm |= 1 << shift;
		else if ((x == 's' && i < 2) || (x == 't' && i == 2))
			perm |= (1 << shift) | special[i];
		else if ((x == 'S' && i < 2) || (x == 'T' && i == 2) ||
		    (x == 'l' && i == 1))
			perm |= special[i];
		else if (x != '-')
			return -1;
	}
	return perm;
}

static int
month_number(struct span t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int	 m;

	if (t.len != 3)
		return 0;
	for (m = 0; m < 12; m++)
		if (strncasecmp(t.s, months + 3 * m, 3) == 0)
			return m + 1;
	return 0;
}

/* "H:MM", "HH:MM" or "HH:MM:SS". */
static bool
parse_clock(struct span t, int *hour, int *min, int *sec)
{
	const char	*s = t.s;
	size_t		 h;

	for (h = 0; h < t.len && is_digit(s[h]); h++)
		;
	if (h < 1 || h > 2 || (t.len != h + 3 && t.len != h + 6) ||
	    s[h] != ':' || !all_digits(s + h + 1, 2))
		return false;
	*hour = h == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
	*min = (s[h + 1] - '0') * 10 + (s[h + 2] - '0');
	*sec = 0;
	if (t.len == h + 6) {
		if (s[h + 3] != ':' || !all_digits(s + h + 4, 2))
			return false;
		*sec = (s[h + 4] - '0') * 10 + (s[h + 5] - '0');
	}
	return true;
}

static int
small_number(struct span t, size_t maxdigits)
{
	int	 v = 0;
	size_t	 i;

	if (t.len == 0 || t.len > maxdigits || !all_digits(t.s, t.len))
		return -1;
	for (i = 0; i < t.len; i++)
		v = v * 10 + (t.s[i] - '0');
	return v;
}

static int
make_time(int year, int mon, int day, int hour, int min, int sec,
    int64_t *mtime)
{
	char	 buf[32];

	if (year < 0 || year > 9999 || mon < 1 || mon > 12 || day < 1 ||
	    day > 31 || hour < 0 || hour > 99 || min < 0 || min > 99 ||
	    sec < 0 || sec > 99)
		return -1;
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d",
	    year, mon, day, hour, min, sec);
	return ftp_parse_time14(buf, 14, mtime);
}

/*
 * "Mon DD HH:MM" has no year: take the most recent year in which the date
 * is not more than a day after now (a day of slack for clock skew and time
 * zones, as ls itself shows the year only for dates six months away).
 */
static int
recent_time(time_t now, int mon, int day, int hour, int min, int sec,
    int64_t *mtime)
{
	int64_t	 guess, t, limit;
	int	 y;

	guess = 1970 + (int64_t)now / SECS_PER_YEAR;
	if (guess < 1)
		guess = 1;
	if (guess > 9998)
		guess = 9998;
	/* a "now" near the largest time_t must not overflow */
	limit = (int64_t)now > INT64_MAX - SECS_PER_DAY ? INT64_MAX :
	    (int64_t)now + SECS_PER_DAY;
	/* a few years back so that Feb 29 finds a leap year */
	for (y = (int)guess + 1; y >= (int)guess - 8 && y >= 0; y--)
		if (make_time(y, mon, day, hour, min, sec, &t) == 0 &&
		    t <= limit) {
			*mtime = t;
			return 0;
		}
	return -1;
}

/* Where the date starts: "Mon DD HH:MM|YYYY" or "YYYY-MM-DD HH:MM". */
static int
unix_date(const struct span *t, size_t n, size_t i, time_t now,
    int64_t *mtime, size_t *last)
{
	int	 mon, day, year, hour = 0, min = 0, sec = 0;

	if ((mon = month_number(t[i])) != 0) {
		if (i + 2 >= n || (day = small_number(t[i + 1], 2)) < 1)
			return -1;
		*last = i + 2;
		if ((year = small_number(t[i + 2], 4)) >= 0) {
			if (t[i + 2].len != 4)
				return -1;
			return make_time(year, mon, day, 0, 0, 0, mtime);
		}
		if (!parse_clock(t[i + 2], &hour, &min, &sec))
			return -1;
		return recent_time(now, mon, day, hour, min, sec, mtime);
	}
	/* ls --time-style=long-iso, used by some servers */
	if (t[i].len == 10 && t[i].s[4] == '-' && t[i].s[7] == '-' &&
	    i + 1 < n && all_digits(t[i].s, 4) && all_digits(t[i].s + 5, 2) &&
	    all_digits(t[i].s + 8, 2) && parse_clock(t[i + 1], &hour, &min, &sec)) {
		year = small_number((struct span){ t[i].s, 4 }, 4);
		mon = small_number((struct span){ t[i].s + 5, 2 }, 2);
		day = small_number((struct span){ t[i].s + 8, 2 }, 2);
		*last = i + 1;
		return make_time(year, mon, day, hour, min, sec, mtime);
	}
	return -1;
}

/* The size column before the date; devices show "major, minor" instead. */
static bool
unix_size(const struct span *t, size_t i, bool device, int64_t *size)
{
	const struct span	*s = &t[i - 1];

	if (device) {
		*size = -1;
		if (all_digits(s->s, s->len))
			return t[i - 2].len > 0 && t[i - 2].s[t[i - 2].len - 1] == ',';
		/* "1,3" in one column */
		return s->len >= 3 && memchr(s->s, ',', s->len) != NULL;
	}
	return span_int64(s->s, s->len, size) == 0;
}

/* Splits p..end at blanks into at most UNIX_TOKENS_MAX spans of t;
 * returns how many. */
static size_t
unix_tokens(const char *p, const char *end, struct span *t)
{
	size_t	n = 0;

	while (n < UNIX_TOKENS_MAX) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		t[n].s = p;
		while (p < end && !is_space(*p))
			p++;
		t[n].len = (size_t)(p - t[n].s);
		n++;
	}
	return n;
}

/* "name -> target" of a symbolic link: the first " -> " after the
 * name's first byte splits them. */
static void
link_split(struct span *name, struct span *target)
{
	const char	*end = name->s + name->len, *arrow;

	for (arrow = name->s; arrow + 4 <= end; arrow++)
		if (memcmp(arrow, " -> ", 4) == 0)
			break;
	if (arrow + 4 <= end && arrow > name->s) {
		target->s = arrow + 4;
		target->len = (size_t)(end - target->s);
		name->len = (size_t)(arrow - name->s);
	}
}

enum ftp_list_result
ftp_list_parse_unix(const char *line, size_t len, time_t now,
    struct ftp_entry *out)
{
	struct span		 t[UNIX_TOKENS_MAX];
	struct span		 name, target = { NULL, 0 };
	struct ftp_entry	 e;
	const char		*p, *end;
	size_t			 n, i, last, pos;
	bool			 device;

	len = trim_eol(line, len);
	if (blank(line, len))
		return FTP_LIST_SKIP;
	if (len >= 6 && strncasecmp(line, "total", 5) == 0 && is_space(line[5]))
		return FTP_LIST_SKIP;
	if (len < 11 || memchr(line, '\0', len) != NULL)
		return FTP_LIST_BAD;

	entry_reset(&e);
	if ((e.type = unix_type(line[0])) == FTP_ENTRY_TYPE_LAST ||
	    (e.perm = unix_perm(line + 1)) == -1)
		return FTP_LIST_BAD;
	device = line[0] == 'c' || line[0] == 'b';
	pos = 10;
	/* ACL '+', SELinux context '.', macOS extended attributes '@' */
	if (line[pos] == '+' || line[pos] == '.' || line[pos] == '@')
		pos++;
	if (pos >= len || !is_space(line[pos]))
		return FTP_LIST_BAD;

	end = line + len;
	n = unix_tokens(line + pos, end, t);

	/*
	 * The date is found by shape rather than by column, since the group
	 * column is missing on some servers: the first date preceded by a
	 * size and at least links and owner.
	 */
	for (i = 2; i < n; i++) {
		if (device && i < 3)
			continue;
		if (unix_date(t, n, i, now, &e.mtime, &last) == 0 &&
		    unix_size(t, i, device, &e.size))
			break;
	}
	if (i >= n)
		return FTP_LIST_BAD;

	/*
	 * The name is the rest of the line after the date's last column.
	 * Servers pad that column inconsistently, so all blanks are skipped
	 * (as curl and FileZilla do): a name's own leading blanks are lost.
	 */
	p = t[last].s + t[last].len;
	while (p < end && is_space(*p))
		p++;
	if (p == end)
		return FTP_LIST_BAD;
	name.s = p;
	name.len = (size_t)(end - p);
	if (e.type == FTP_ENTRY_LINK)
		link_split(&name, &target);
	if (dot_name(name.s, name.len))
		return FTP_LIST_SKIP;
	return entry_fill(out, &e, name, target);
}

/* ---- DOS / IIS ------------------------------------------------------------ */

/* The first blank-delimited token at or after *p; false at the end. */
static bool
next_token(const char **p, const char *end, struct span *t)
{
	const char	*s = *p;

	while (s < end && is_space(*s))
		s++;
	if (s == end)
		return false;
	t->s = s;
	while (s < end && !is_space(*s))
		s++;
	t->len = (size_t)(s - t->s);
	*p = s;
	return true;
}

/* "MM-DD-YY" or "MM-DD-YYYY"; 2-digit years 70-99 are 19xx, else 20xx. */
static bool
dos_date(struct span t, int *year, int *mon, int *day)
{
	if ((t.len != 8 && t.len != 10) || t.s[2] != '-' || t.s[5] != '-')
		return false;
	*mon = small_number((struct span){ t.s, 2 }, 2);
	*day = small_number((struct span){ t.s + 3, 2 }, 2);
	*year = small_number((struct span){ t.s + 6, t.len - 6 }, 4);
	if (*mon < 0 || *day < 0 || *year < 0)
		return false;
	if (t.len == 8)
		*year += *year >= 70 ? 1900 : 2000;
	return true;
}

/* "HH:MM" (24-hour), "HH:MMAM"/"HH:MMPM", or the suffix as its own token. */
static bool
dos_time(struct span t, const char **p, const char *end, int *hour,
    int *min, int *sec)
{
	struct span	 ampm = { NULL, 0 };
	const char	*q = *p;
	char		 c;

	if (t.len > 2 && (t.s[t.len - 1] == 'M' || t.s[t.len - 1] == 'm')) {
		ampm.s = t.s + t.len - 2;
		ampm.len = 2;
		t.len -= 2;
	} else if (next_token(&q, end, &ampm) &&
	    (span_eq(ampm.s, ampm.len, "AM") || span_eq(ampm.s, ampm.len, "PM")))
		*p = q;
	else
		ampm.s = NULL;
	if (!parse_clock(t, hour, min, sec))
		return false;
	if (ampm.s == NULL)
		return true;
	c = ampm.s[0];
	if (!span_eq(ampm.s, ampm.len, "AM") && !span_eq(ampm.s, ampm.len, "PM"))
		return false;
	if (*hour < 1 || *hour > 12)
		return false;
	/* 12:xxAM is just after midnight, 12:xxPM just after noon */
	if (*hour == 12)
		*hour = 0;
	if (c == 'P' || c == 'p')
		*hour += 12;
	return true;
}

/* Digits, optionally grouped by thousands: "1234", "1,234", "12,345,678". */
static bool
dos_size(struct span t, int64_t *size)
{
	int64_t	 v = 0;
	size_t	 i, group = 0;
	bool	 first = true;

	if (memchr(t.s, ',', t.len) == NULL)
		return span_int64(t.s, t.len, size) == 0;
	for (i = 0; i < t.len; i++) {
		if (t.s[i] == ',') {
			/* the first group has 1-3 digits, every later one 3 */
			if (group == 0 || group > 3 || (!first && group != 3))
				return false;
			first = false;
			group = 0;
			continue;
		}
		if (!is_digit(t.s[i]) || v > (INT64_MAX - (t.s[i] - '0')) / 10)
			return false;
		v = v * 10 + (t.s[i] - '0');
		group++;
	}
	if (group != 3)
		return false;
	*size = v;
	return true;
}

enum ftp_list_result
ftp_list_parse_dos(const char *line, size_t len, struct ftp_entry *out)
{
	struct ftp_entry	 e;
	struct span		 t, name, none = { NULL, 0 };
	const char		*p, *end;
	int			 year, mon, day, hour, min, sec;

	len = trim_eol(line, len);
	if (blank(line, len))
		return FTP_LIST_SKIP;
	if (memchr(line, '\0', len) != NULL)
		return FTP_LIST_BAD;
	entry_reset(&e);
	p = line;
	end = line + len;
	if (!next_token(&p, end, &t) || t.s != line ||
	    !dos_date(t, &year, &mon, &day))
		return FTP_LIST_BAD;
	if (!next_token(&p, end, &t) ||
	    !dos_time(t, &p, end, &hour, &min, &sec) ||
	    make_time(year, mon, day, hour, min, sec, &e.mtime) == -1)
		return FTP_LIST_BAD;
	if (!next_token(&p, end, &t))
		return FTP_LIST_BAD;
	if (span_eq(t.s, t.len, "<DIR>"))
		e.type = FTP_ENTRY_DIR;
	else if (dos_size(t, &e.size))
		e.type = FTP_ENTRY_FILE;
	else
		return FTP_LIST_BAD;
	/* as for Unix, the padding before the name is not part of it */
	while (p < end && is_space(*p))
		p++;
	if (p == end)
		return FTP_LIST_BAD;
	name.s = p;
	name.len = (size_t)(end - p);
	if (dot_name(name.s, name.len))
		return FTP_LIST_SKIP;
	return entry_fill(out, &e, name, none);
}

/* ---- EPLF ------------------------------------------------------------------- */

static void
eplf_fact(struct ftp_entry *e, bool *dir, bool *file, const char *f,
    size_t len)
{
	int64_t	 v;
	size_t	 i;
	int	 mode;

	switch (f[0]) {
	case '/':
		*dir = true;
		break;
	case 'r':
		*file = true;
		break;
	case 's':
		if (span_int64(f + 1, len - 1, &v) == 0)
			e->size = v;
		break;
	case 'm':
		if (span_int64(f + 1, len - 1, &v) == 0)
			e->mtime = v;
		break;
	case 'u':
		if (len < 3 || len > 6 || f[1] != 'p')
			break;
		for (i = 2, mode = 0; i < len; i++) {
			if (f[i] < '0' || f[i] > '7')
				return;
			mode = mode * 8 + (f[i] - '0');
		}
		e->perm = mode;
		break;
	default:
		/* "i" (identity) and facts from later revisions */
		break;
	}
}

enum ftp_list_result
ftp_list_parse_eplf(const char *line, size_t len, struct ftp_entry *out)
{
	struct ftp_entry	 e;
	struct span		 name, none = { NULL, 0 };
	const char		*tab, *seg, *comma;
	bool			 dir = false, file = false;

	len = trim_eol(line, len);
	if (blank(line, len))
		return FTP_LIST_SKIP;
	if (line[0] != '+' || memchr(line, '\0', len) != NULL ||
	    (tab = memchr(line, '\t', len)) == NULL)
		return FTP_LIST_BAD;
	name.s = tab + 1;
	name.len = len - (size_t)(name.s - line);
	if (name.len == 0)
		return FTP_LIST_BAD;

	entry_reset(&e);
	for (seg = line + 1; seg < tab; seg = comma + 1) {
		if ((comma = memchr(seg, ',', (size_t)(tab - seg))) == NULL)
			comma = tab;
		if (comma > seg)
			eplf_fact(&e, &dir, &file, seg, (size_t)(comma - seg));
	}
	if (dir)
		e.type = FTP_ENTRY_DIR;
	else if (file)
		e.type = FTP_ENTRY_FILE;
	if (dot_name(name.s, name.len))
		return FTP_LIST_SKIP;
	return entry_fill(out, &e, name, none);
}

/* ---- whole listings ------------------------------------------------------- */

void
ftp_entries_free(struct ftp_entry *entries, size_t n)
{
	size_t	 i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++)
		ftp_entry_clear(&entries[i]);
	free(entries);
}

/* An unparseable line, reported raw; NUL would cut it short, so '?'. */
static int
raw_entry(struct ftp_entry *e, const char *line, size_t len)
{
	size_t	 i;

	entry_reset(e);
	if ((e->name = span_dup(line, len)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		if (e->name[i] == '\0')
			e->name[i] = '?';
	if ((e->raw = strdup(e->name)) == NULL) {
		free(e->name);
		e->name = NULL;
		return -1;
	}
	return 0;
}

enum list_parser {
	LIST_UNIX,
	LIST_DOS,
	LIST_EPLF,
	LIST_PARSER_LAST
};

/*
 * LIST output has no format marker, so each line goes to the parsers in
 * turn, the likeliest first: their first characters rarely overlap, and
 * the order only saves work. The first parser that does not refuse the
 * line (an entry or a skip) wins; *which says which one.
 */
static enum ftp_list_result
list_line(const char *line, size_t len, time_t now, struct ftp_entry *out,
    enum list_parser *which)
{
	static const enum list_parser orders[3][LIST_PARSER_LAST] = {
		{ LIST_UNIX, LIST_DOS, LIST_EPLF },
		{ LIST_DOS, LIST_UNIX, LIST_EPLF },
		{ LIST_EPLF, LIST_UNIX, LIST_DOS },
	};
	const enum list_parser	*order = orders[0];
	enum ftp_list_result	 r = FTP_LIST_BAD;
	size_t			 i;

	if (len > 0 && is_digit(line[0]))
		order = orders[1];
	else if (len > 0 && line[0] == '+')
		order = orders[2];
	for (i = 0; i < LIST_PARSER_LAST; i++) {
		*which = order[i];
		switch (order[i]) {
		case LIST_UNIX:
			r = ftp_list_parse_unix(line, len, now, out);
			break;
		case LIST_DOS:
			r = ftp_list_parse_dos(line, len, out);
			break;
		default:
			r = ftp_list_parse_eplf(line, len, out);
			break;
		}
		if (r != FTP_LIST_BAD)
			break;
	}
	return r;
}

/* Local time tz_offset seconds east of UTC to UTC; unknown on overflow. */
static int64_t
shift_time(int64_t t, long tz_offset)
{
	int64_t	 off = tz_offset;

	if (t == INT64_MIN)
		return t;
	if ((off > 0 && t < INT64_MIN + 1 + off) ||
	    (off < 0 && t > INT64_MAX + off))
		return INT64_MIN;
	return t - off;
}

int
ftp_list_parse_buffer(const char *buf, size_t len, bool mlsd, time_t now,
    long tz_offset, size_t max_entries, struct ftp_entry **out, size_t *nout)
{
	struct ftp_entry	*v = NULL, *nv;
	size_t			 n = 0, cap = 0, ncap, llen;
	const char		*line, *nl, *end = buf + len;
	enum ftp_list_result	 r;
	enum list_parser	 which = LIST_PARSER_LAST;

	for (line = buf; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		llen = trim_eol(line, (size_t)(nl - line));
		if (n == cap) {
			ncap = cap ? cap * 2 : 64;
			if (ncap > SIZE_MAX / sizeof(*v) ||
			    (nv = realloc(v, ncap * sizeof(*v))) == NULL)
				goto fail;
			v = nv;
			cap = ncap;
		}
		if (mlsd)
			r = ftp_list_parse_mlsd(line, llen, &v[n]);
		else
			r = list_line(line, llen, now, &v[n], &which);
		if (r == FTP_LIST_SKIP)
			continue;
		if (n >= max_entries) {
			if (r == FTP_LIST_ENTRY)
				ftp_entry_clear(&v[n]);
			goto fail;
		}
		/*
		 * BAD also covers out of memory inside a parser; retrying
		 * the copy here tells the two apart.
		 */
		if (r == FTP_LIST_BAD && raw_entry(&v[n], line, llen) == -1)
			goto fail;
		/* Unix and DOS dates are the server's local time; EPLF's are
		 * epoch seconds, like MLSD's UTC */
		if (!mlsd && r == FTP_LIST_ENTRY &&
		    (which == LIST_UNIX || which == LIST_DOS))
			v[n].mtime = shift_time(v[n].mtime, tz_offset);
		n++;
	}
	if (v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		goto fail;
	*out = v;
	*nout = n;
	return 0;
fail:
	ftp_entries_free(v, n);
	return -1;
}

bool
ftp_list_error_line(const char *line, bool *missing)
{
	static const char *other[] = { "permission denied",
	    "not a directory", "cannot access", "cannot open directory",
	    "input/output error", NULL };
	bool	miss = ftp_says_missing(line), err = false;

	for (const char **w = other; *w && !err; w++)
		err = strcasestr(line, *w) != NULL;
	if (missing != NULL)
		*missing = miss;
	return miss || err;
}

long
ftp_list_parse_tz(const char *s)
{
	int	h, m = 0, sign;
	char	rest;

	if (strcasecmp(s, "UTC") == 0 || strcmp(s, "Z") == 0)
		return 0;
	if (s[0] != '+' && s[0] != '-')
		return LONG_MIN;
	sign = s[0] == '-' ? -1 : 1;
	if (sscanf(s + 1, "%2d:%2d%c", &h, &m, &rest) != 2 &&
	    sscanf(s + 1, "%2d%2d%c", &h, &m, &rest) != 2 &&
	    !(strlen(s) == 3 && sscanf(s + 1, "%2d%c", &h, &rest) == 1))
		return LONG_MIN;
	if (h > 14 || m > 59)
		return LONG_MIN;
	return sign * (h * 3600L + m * 60L);
}
