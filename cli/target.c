#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftp_parse.h"
#include "target.h"


bool
target_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = name[i];

		if (i >= TARGET_NAME_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

int
target_parse(const char *s, struct target *t, const char **err)
{
	const char *colon;

	memset(t, 0, sizeof(*t));
	if (ftp_url_is_url(s)) {
		if (ftp_url_parse(s, &t->url, err) == -1)
			return -1;
		t->kind = TARGET_URL;
		t->path = t->url.path;
		return 0;
	}
	if ((colon = strchr(s, ':')) == NULL) {
		*err = "not a URL or NAME:PATH";
		return -1;
	}
	if ((t->session = strndup(s, colon - s)) == NULL ||
	    (t->path_buf = strdup(colon + 1)) == NULL) {
		free(t->session);
		t->session = NULL;
		*err = "out of memory";
		return -1;
	}
	if (!target_name_valid(t->session)) {
		target_clear(t);
		*err = "bad session name (1-64 of A-Z a-z 0-9 . _ -)";
		return -1;
	}
	t->kind = TARGET_SESSION;
	t->path = t->path_buf;
	return 0;
}

void
target_clear(struct target *t)
{
	if (t->kind == TARGET_URL)
		ftp_url_clear(&t->url);
	free(t->session);
	free(t->path_buf);
	memset(t, 0, sizeof(*t));
}

/* The last component of path, ignoring trailing slashes; sets *n. */
static const char *
last_component(const char *path, size_t *n)
{
	size_t end = strlen(path), start;

	while (end > 0 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*n = end - start;
	return path + start;
}

static char *
usable_name(const char *path, const char **err)
{
	const char *name;
	size_t n;
	char *s;

	name = last_component(path, &n);
	if (n == 0 || (n == 1 && name[0] == '.') ||
	    (n == 2 && name[0] == '.' && name[1] == '.')) {
		*err = "no usable file name";
		return NULL;
	}
	if ((s = strndup(name, n)) == NULL)
		*err = "out of memory";
	return s;
}

char *
target_local_name(const char *remote_path, const char **err)
{
	return usable_name(remote_path, err);
}

static char *
join(const char *dir, const char *name, const char **err)
{
	size_t dl = strlen(dir);
	bool slash = dl > 0 && dir[dl - 1] != '/';
	char *s;

	if ((s = malloc(dl + slash + strlen(name) + 1)) == NULL) {
		*err = "out of memory";
		return NULL;
	}
	memcpy(s, dir, dl);
	if (slash)
		s[dl] = '/';
	strcpy(s + dl + slash, name);
	return s;
}

char *
target_put_path(const char *remote_path, const char *local, const char **err)
{
	size_t n = strlen(remote_path);
	char *name, *s;

	if (n > 0 && remote_path[n - 1] != '/') {
		if ((s = strdup(remote_path)) == NULL)
			*err = "out of memory";
		return s;
	}
	if ((name = usable_name(local, err)) == NULL)
		return NULL;
	s = join(remote_path, name, err);
	free(name);
	return s;
}

char *
target_get_path(const char *remote_path, const char *local, bool is_dir,
    const char **err)
{
	size_t n;
	char *name, *s;

	if (local != NULL) {
		n = strlen(local);
		if (n == 0) {
			*err = "empty local file name";
			return NULL;
		}
		if (!is_dir && local[n - 1] != '/') {
			if ((s = strdup(local)) == NULL)
				*err = "out of memory";
			return s;
		}
	}
	if ((name = usable_name(remote_path, err)) == NULL)
		return NULL;
	if (local == NULL)
		return name;
	s = join(local, name, err);
	free(name);
	return s;
}

bool
target_glob_split(const char *remote_path, char **dir, const char **glob)
{
	const char *slash = strrchr(remote_path, '/');
	const char *last = slash != NULL ? slash + 1 : remote_path;

	*dir = NULL;
	*glob = NULL;
	if (last[strcspn(last, "*?[")] == '\0')
		return false;
	if (slash == NULL)
		*dir = strdup(".");
	else
		*dir = strndup(remote_path, slash == remote_path ? 1 :
		    (size_t)(slash - remote_path));
	if (*dir == NULL)
		return false;
	*glob = last;
	return true;
}

bool
target_password_span(const char *s, size_t *off, size_t *len)
{
	const char *auth, *end, *at, *colon;

	if (!ftp_url_is_url(s) || (auth = strstr(s, "://")) == NULL)
		return false;
	auth += 3;
	end = auth + strcspn(auth, "/");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return false;
	if ((colon = memchr(auth, ':', at - auth)) == NULL)
		return false;
	*off = colon + 1 - s;
	*len = at - (colon + 1);
	return true;
}

/* Equal strings, or both NULL. */
static bool
same_opt(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

char *
target_rename_path(const struct target *t, const char *newpath,
    const char **err)
{
	struct target n;
	const char *perr;
	char *s;
	bool same;

	if (ftp_url_is_url(newpath)) {
		if (target_parse(newpath, &n, &perr) == -1) {
			*err = perr;
			return NULL;
		}
		same = t->kind == TARGET_URL && n.url.tls == t->url.tls &&
		    n.url.port == t->url.port &&
		    strcasecmp(n.url.host, t->url.host) == 0 &&
		    (n.url.user == NULL || same_opt(n.url.user, t->url.user));
		s = same ? strdup(n.path) : NULL;
		target_clear(&n);
		if (!same)
			*err = "NEWPATH names another session";
		else if (s == NULL)
			*err = "out of memory";
		return s;
	}
	if (target_parse(newpath, &n, &perr) == 0) {
		same = t->kind == TARGET_SESSION &&
		    strcmp(n.session, t->session) == 0;
		s = same ? strdup(n.path) : NULL;
		target_clear(&n);
		if (!same) {
			*err = "NEWPATH names another session (write "
			    "./NAME:PATH for a name with a colon)";
			return NULL;
		}
	} else
		s = strdup(newpath);
	if (s == NULL)
		*err = "out of memory";
	return s;
}

bool
target_path_is_top(const char *path)
{
	return path[strspn(path, "/.")] == '\0';
}

int
target_parse_mode(const char *s, int *mode)
{
	size_t i;
	int v = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 5 || s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (s[i] - '0');
	}
	if (i == 0 || v > 07777)
		return -1;
	*mode = v;
	return 0;
}

/* Exactly n decimal digits at *s; advances *s. -1 when not. */
static int
digits(const char **s, int n)
{
	int v = 0;

	for (; n > 0; n--, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v;
}

#define TIME_MAX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */

int
target_parse_time(const char *s, int64_t *t, const char **err)
{
	const char *p = s;
	int64_t v = 0;
	int y, mo, d, h = 0, mi = 0, sec = 0;

	if (*p == '@') {
		if (*++p == '\0') {
			*err = "no seconds after '@'";
			return -1;
		}
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				*err = "@EPOCH takes digits: seconds since "
				    "1970";
				return -1;
			}
			v = v * 10 + (*p - '0');
			if (v > TIME_MAX) {
				*err = "time out of range";
				return -1;
			}
		}
		*t = v;
		return 0;
	}
	*err = "not @EPOCH, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z]";
	if ((y = digits(&p, 4)) == -1 || *p++ != '-' ||
	    (mo = digits(&p, 2)) == -1 || *p++ != '-' ||
	    (d = digits(&p, 2)) == -1)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) == -1 || *p++ != ':' ||
		    (mi = digits(&p, 2)) == -1)
			return -1;
		if (*p == ':') {
			p++;
			if ((sec = digits(&p, 2)) == -1)
				return -1;
		}
		if (*p == 'Z' || *p == 'z')
			p++;
	}
	if (*p != '\0')
		return -1;
	if (y < 1970) {
		*err = "time before 1970";
		return -1;
	}
	if (sec > 59 || ftp_time_from_parts(y, mo, d, h, mi, sec, t) == -1) {
		*err = "no such date or time";
		return -1;
	}
	return 0;
}

int
target_parse_rate(const char *s, int64_t *bps, const char **err)
{
	static const char suffixes[] = "kmg";
	const char *p = s, *u;
	double whole = 0, frac = 0, scale = 1, v;
	size_t ndig = 0;

	for (; *p >= '0' && *p <= '9'; p++, ndig++)
		if (whole <= 1e12)	/* more is too big anyway */
			whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, ndig++)
			if (scale < 1e12)
				frac += (*p - '0') / (scale *= 10);
	if (*s == '-') {
		*err = "RATE cannot be negative (0: no limit)";
		return -1;
	}
	if (ndig == 0) {
		*err = "RATE is a number of bytes per second, maybe with K, M "
		    "or G (e.g. 500K, 1.5M)";
		return -1;
	}
	v = whole + frac;
	if (*p != '\0') {
		if (p[1] != '\0' || (u = strchr(suffixes,
		    p[0] | 0x20)) == NULL) {
			*err = "the suffix of RATE is K, M or G (powers of "
			    "1024)";
			return -1;
		}
		for (; u >= suffixes; u--)
			v *= 1024;
	}
	if (v > (double)TARGET_RATE_MAX) {
		*err = "RATE is at most 2147483647 bytes per second (2G - 1)";
		return -1;
	}
	if (v > 0 && v < 1) {
		*err = "RATE is at least 1 byte per second (0: no limit)";
		return -1;
	}
	*bps = (int64_t)v;
	return 0;
}
