/*
 * ftp://, ftpes:// and ftps:// URLs. Everything decoded here ends up in
 * FTP commands, so control bytes are refused in every component, raw or
 * percent-encoded: "%0d%0aDELE x" must never reach the
 * server as a second command.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

enum url_part {
	PART_USER,
	PART_PASSWORD,
	PART_HOST,
	PART_PATH,
	PART_LAST
};

enum decode_result {
	DECODE_OK,
	DECODE_BAD_ESCAPE,
	DECODE_CONTROL,
	DECODE_NOMEM,
	DECODE_LAST
};

static const char *const decode_errors[PART_LAST][DECODE_LAST] = {
	[PART_USER] = { NULL,
		"bad percent-escape in user name",
		"control character in user name",
		"out of memory" },
	[PART_PASSWORD] = { NULL,
		"bad percent-escape in password",
		"control character in password",
		"out of memory" },
	[PART_HOST] = { NULL,
		"bad percent-escape in host",
		"control character in host",
		"out of memory" },
	[PART_PATH] = { NULL,
		"bad percent-escape in path",
		"control character in path",
		"out of memory" },
};

static const struct {
	const char		*name;
	size_t			 len;
	enum ftp_tls_mode	 tls;
	uint16_t		 port;
} schemes[] = {
	{ "ftp://",	6,	FTP_TLS_NONE,		21 },
	{ "ftpes://",	8,	FTP_TLS_EXPLICIT,	21 },
	{ "ftps://",	7,	FTP_TLS_IMPLICIT,	990 },
};

static const char *const tls_mode_names[] = {
	[FTP_TLS_NONE]		= "none",
	[FTP_TLS_EXPLICIT]	= "explicit",
	[FTP_TLS_IMPLICIT]	= "implicit",
};

#define NSCHEMES	(sizeof(schemes) / sizeof(schemes[0]))
#define NTLSMODES	(sizeof(tls_mode_names) / sizeof(tls_mode_names[0]))

static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into a new NUL-terminated string. */
static enum decode_result
decode(const char *s, size_t len, char **out)
{
	char *d;
	size_t i, j;
	int hi, lo;
	unsigned char c;

	*out = NULL;
	if ((d = malloc(len + 1)) == NULL)
		return DECODE_NOMEM;
	for (i = j = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 ||
			    (hi = hexval((unsigned char)s[i + 1])) == -1 ||
			    (lo = hexval((unsigned char)s[i + 2])) == -1) {
				free(d);
				return DECODE_BAD_ESCAPE;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (is_control(c)) {
			free(d);
			return DECODE_CONTROL;
		}
		d[j++] = (char)c;
	}
	d[j] = '\0';
	*out = d;
	return DECODE_OK;
}

static int
decode_part(enum url_part part, const char *s, size_t len, char **out,
    const char **err)
{
	enum decode_result r;

	if ((r = decode(s, len, out)) != DECODE_OK) {
		*err = decode_errors[part][r];
		return -1;
	}
	return 0;
}

/* A host name (or IPv4 address) after decoding: letters, digits, '-', '.',
 * '_', '~' and UTF-8 bytes of an internationalised name. */
static int
valid_hostname(const char *h)
{
	const unsigned char *p;

	for (p = (const unsigned char *)h; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~' || *p >= 0x80)
			continue;
		return 0;
	}
	return 1;
}

/*
 * "[v6]" with an optional RFC 6874 zone, "[fe80::1%25eth0]". Stored as
 * getaddrinfo() wants it: without brackets, the zone after a plain '%'.
 */
static int
parse_ipv6(const char *s, size_t len, char **out, const char **err)
{
	size_t i, addrlen, zonelen = 0;
	int colons = 0;
	const char *zone = NULL;
	char *h;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%')
			break;
		if (c == ':')
			colons++;
		else if (hexval(c) == -1 && c != '.')
			goto bad;
	}
	addrlen = i;
	if (i < len) {
		if (len - i < 4 || strncmp(s + i, "%25", 3) != 0)
			goto bad;
		zone = s + i + 3;
		zonelen = len - i - 3;
		for (i = 0; i < zonelen; i++) {
			unsigned char c = (unsigned char)zone[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			    c == '_' || c == '~'))
				goto bad;
		}
	}
	if (colons < 2 || addrlen > 45)
		goto bad;

	if ((h = malloc(addrlen + (zone != NULL ? zonelen + 1 : 0) + 1)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	memcpy(h, s, addrlen);
	if (zone != NULL) {
		h[addrlen] = '%';
		memcpy(h + addrlen + 1, zone, zonelen);
		h[addrlen + 1 + zonelen] = '\0';
	} else
		h[addrlen] = '\0';
	*out = h;
	return 0;
bad:
	*err = "invalid IPv6 address";
	return -1;
}

static int
parse_port(const char *s, size_t len, uint16_t *port, const char **err)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0) {
		*err = "empty port";
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*err = "port is not a number";
			return -1;
		}
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535) {
			*err = "port out of range (1-65535)";
			return -1;
		}
	}
	if (v == 0) {
		*err = "port out of range (1-65535)";
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* host[:port] or [v6][:port] */
static int
parse_hostport(const char *s, size_t len, struct ftp_url *u, const char **err)
{
	const char *close, *colon, *port = NULL;
	size_t hostlen, portlen = 0;

	if (len > 0 && s[0] == '[') {
		if ((close = memchr(s, ']', len)) == NULL) {
			*err = "unclosed '[' in host";
			return -1;
		}
		hostlen = (size_t)(close - s) - 1;
		if (hostlen == 0) {
			*err = "empty host";
			return -1;
		}
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				*err = "unexpected characters after ']'";
				return -1;
			}
			port = close + 2;
			portlen = len - (size_t)(port - s);
		}
		if (parse_ipv6(s + 1, hostlen, &u->host, err) == -1)
			return -1;
	} else {
		if ((colon = memchr(s, ':', len)) != NULL) {
			if (memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
				*err = "IPv6 address must be in brackets";
				return -1;
			}
			hostlen = (size_t)(colon - s);
			port = colon + 1;
			portlen = len - hostlen - 1;
		} else
			hostlen = len;
		if (hostlen == 0) {
			*err = "empty host";
			return -1;
		}
		if (memchr(s, ']', hostlen) != NULL) {
			*err = "invalid character in host";
			return -1;
		}
		if (decode_part(PART_HOST, s, hostlen, &u->host, err) == -1)
			return -1;
		if (u->host[0] == '\0' || !valid_hostname(u->host)) {
			*err = u->host[0] == '\0' ? "empty host" :
			    "invalid character in host";
			return -1;
		}
	}
	if (port != NULL) {
		if (parse_port(port, portlen, &u->port, err) == -1)
			return -1;
		u->port_given = true;
	}
	return 0;
}

static int
parse_userinfo(const char *s, size_t len, struct ftp_url *u, const char **err)
{
	const char *colon;
	size_t ulen;

	/* The first ':' ends the user name: user names hold no ':', while
	 * a password might if the user forgot to encode it. */
	colon = memchr(s, ':', len);
	ulen = colon != NULL ? (size_t)(colon - s) : len;
	if (ulen == 0) {
		*err = "empty user name";
		return -1;
	}
	if (decode_part(PART_USER, s, ulen, &u->user, err) == -1)
		return -1;
	if (colon != NULL && decode_part(PART_PASSWORD, colon + 1,
	    len - ulen - 1, &u->password, err) == -1)
		return -1;
	return 0;
}

static int
has_type_suffix(const char *path)
{
	const char *p;

	for (p = path; (p = strchr(p, ';')) != NULL; p++)
		if (strncasecmp(p, ";type=", 6) == 0)
			return 1;
	return 0;
}

int
ftp_url_parse(const char *s, struct ftp_url *out, const char **err)
{
	struct ftp_url u;
	const char *rest, *at, *p;
	size_t i, alen;
	const char *dummy;

	if (err == NULL)
		err = &dummy;
	memset(out, 0, sizeof(*out));
	memset(&u, 0, sizeof(u));
	if (s == NULL) {
		*err = "no URL";
		return -1;
	}

	for (i = 0; i < NSCHEMES; i++)
		if (strncasecmp(s, schemes[i].name, schemes[i].len) == 0)
			break;
	if (i == NSCHEMES) {
		*err = strstr(s, "://") != NULL ?
		    "unknown scheme (expected ftp, ftpes or ftps)" :
		    "not a URL (expected ftp://, ftpes:// or ftps://)";
		return -1;
	}
	u.tls = schemes[i].tls;
	u.port = schemes[i].port;
	rest = s + schemes[i].len;

	/* An unencoded '?' or '#' would otherwise silently cut the path (or
	 * the password) short; make the user encode it. */
	if (strchr(rest, '?') != NULL) {
		*err = "query ('?') not supported; encode '?' as %3F";
		return -1;
	}
	if (strchr(rest, '#') != NULL) {
		*err = "fragment ('#') not supported; encode '#' as %23";
		return -1;
	}

	alen = strcspn(rest, "/");
	if (alen == 0) {
		*err = "empty host";
		return -1;
	}

	/* The last '@' ends the user info, so that an unencoded '@' in a
	 * user name or password still works. */
	at = NULL;
	for (p = rest; p < rest + alen; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		if (parse_userinfo(rest, (size_t)(at - rest), &u, err) == -1)
			goto fail;
		if (parse_hostport(at + 1, alen - (size_t)(at - rest) - 1,
		    &u, err) == -1)
			goto fail;
	} else if (parse_hostport(rest, alen, &u, err) == -1)
		goto fail;

	/* The '/' that ends the authority is not part of the path. */
	p = rest + alen;
	if (*p == '/')
		p++;
	if (has_type_suffix(p)) {
		*err = "';type=' in the path is not supported";
		goto fail;
	}
	if (decode_part(PART_PATH, p, strlen(p), &u.path, err) == -1)
		goto fail;

	*out = u;
	return 0;
fail:
	ftp_url_clear(&u);
	return -1;
}

void
ftp_url_clear(struct ftp_url *u)
{
	if (u == NULL)
		return;
	free(u->user);
	if (u->password != NULL) {
		explicit_bzero(u->password, strlen(u->password));
		free(u->password);
	}
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

const char *
ftp_tls_mode_name(enum ftp_tls_mode mode)
{
	if ((unsigned int)mode >= NTLSMODES)
		return NULL;
	return tls_mode_names[mode];
}

int
ftp_tls_mode_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NTLSMODES; i++)
		if (strcmp(name, tls_mode_names[i]) == 0)
			return (int)i;
	return -1;
}

bool
ftp_unsafe_string(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return true;
	return false;
}

bool
ftp_url_is_url(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < NSCHEMES; i++)
		if (strncasecmp(s, schemes[i].name, schemes[i].len) == 0)
			return true;
	return false;
}

/* ---- formatting ---------------------------------------------------------- */

/* RFC 3986 unreserved and sub-delims, plus what extra allows. */
static bool
url_safe(unsigned char c, const char *extra)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL)
		return true;
	return c != '\0' && strchr(extra, c) != NULL;
}

static bool
buf_grow(char **buf, size_t *cap, size_t need)
{
	char *p;
	size_t ncap;

	if (need <= *cap)
		return true;
	ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	if ((p = realloc(*buf, ncap)) == NULL)
		return false;
	*buf = p;
	*cap = ncap;
	return true;
}

static bool
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (!buf_grow(buf, cap, *len + n + 1))
		return false;
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

static bool
buf_add_encoded(char **buf, size_t *len, size_t *cap, const char *s,
    const char *extra)
{
	static const char hex[] = "0123456789ABCDEF";
	char pct[3];

	for (; *s != '\0'; s++) {
		unsigned char c = *s;

		if (url_safe(c, extra)) {
			if (!buf_add(buf, len, cap, s, 1))
				return false;
			continue;
		}
		pct[0] = '%';
		pct[1] = hex[c >> 4];
		pct[2] = hex[c & 0xf];
		if (!buf_add(buf, len, cap, pct, 3))
			return false;
	}
	return true;
}

char *
ftp_url_format(const struct ftp_url *u, const char *user, bool path)
{
	char *buf = NULL, port[16];
	size_t len = 0, cap = 0;
	unsigned defport = u->tls == FTP_TLS_IMPLICIT ? 990 : 21;
	bool ok, v6 = strchr(u->host, ':') != NULL;

	if ((unsigned)u->tls >= NSCHEMES)
		return NULL;
	/* the table is in enum order */
	ok = buf_add(&buf, &len, &cap, schemes[u->tls].name,
	    schemes[u->tls].len);
	if (ok && user != NULL)
		ok = buf_add_encoded(&buf, &len, &cap, user, "") &&
		    buf_add(&buf, &len, &cap, "@", 1);
	if (ok && v6)
		ok = buf_add(&buf, &len, &cap, "[", 1);
	if (ok)
		ok = buf_add_encoded(&buf, &len, &cap, u->host, v6 ? ":" : "");
	if (ok && v6)
		ok = buf_add(&buf, &len, &cap, "]", 1);
	if (ok && u->port != defport) {
		snprintf(port, sizeof(port), ":%u", (unsigned)u->port);
		ok = buf_add(&buf, &len, &cap, port, strlen(port));
	}
	if (ok)
		ok = buf_add(&buf, &len, &cap, "/", 1);
	if (ok && path)
		ok = buf_add_encoded(&buf, &len, &cap, u->path, ":@/");
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}
