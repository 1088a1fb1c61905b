/*
 * The URL parser (protocol/url.c).
 *
 * The input is the URL (up to its first NUL). Checks: on failure a reason
 * and a zeroed result; on success a host and a path, a port that is the
 * scheme's default unless given, the TLS mode of the scheme, and no
 * control byte (nor CR, LF) in any component, raw or decoded; and a
 * round trip: the components percent-encoded into a new URL parse back
 * to the same components.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"
#include "fuzz.h"

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static void
check_component(const char *s)
{
	FUZZ_CHECK(!has_control(s));
	FUZZ_CHECK(!ftp_unsafe_string(s, strlen(s)));
}

/* Percent-encodes every byte but letters, digits, "-._~" and keep. */
static char *
encode(char *o, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char	 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL ||
		    (c != '\0' && strchr(keep, c) != NULL))
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	return o;
}

static bool
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_round_trip(const struct ftp_url *u)
{
	static const char *const scheme[] = { "ftp://", "ftpes://", "ftps://" };
	struct ftp_url	 v;
	const char	*err = NULL, *zone;
	char		*url, *o;
	size_t		 need;

	need = 32 + 3 * (strlen(u->host) + strlen(u->path) +
	    (u->user ? strlen(u->user) : 0) +
	    (u->password ? strlen(u->password) : 0));
	if ((url = malloc(need)) == NULL)
		abort();
	o = url + sprintf(url, "%s", scheme[u->tls]);
	if (u->user != NULL) {
		o = encode(o, u->user, "");
		if (u->password != NULL) {
			*o++ = ':';
			o = encode(o, u->password, "");
		}
		*o++ = '@';
	}
	if (strchr(u->host, ':') != NULL) {
		/* IPv6, stored without brackets, its zone after a '%' */
		*o++ = '[';
		if ((zone = strchr(u->host, '%')) != NULL) {
			memcpy(o, u->host, (size_t)(zone - u->host));
			o += zone - u->host;
			o += sprintf(o, "%%25%s", zone + 1);
		} else
			o += sprintf(o, "%s", u->host);
		*o++ = ']';
	} else
		o = encode(o, u->host, "");
	if (u->port_given)
		o += sprintf(o, ":%u", u->port);
	*o++ = '/';
	o = encode(o, u->path, "/");
	*o = '\0';

	if (ftp_url_parse(url, &v, &err) != 0) {
		fprintf(stderr, "round trip refused: %s: %s\n", url, err);
		FUZZ_CHECK(!"the URL made of the components parses");
	}
	FUZZ_CHECK(v.tls == u->tls && v.port == u->port &&
	    v.port_given == u->port_given);
	FUZZ_CHECK(same(v.user, u->user) && same(v.password, u->password));
	FUZZ_CHECK(same(v.host, u->host) && same(v.path, u->path));
	ftp_url_clear(&v);
	free(url);
}

static void
check_url(const char *s)
{
	struct ftp_url	 u;
	const char	*err = NULL;
	int		 rc;

	memset(&u, 0xa5, sizeof(u));
	rc = ftp_url_parse(s, &u, &err);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1 && err != NULL && err[0] != '\0');
		FUZZ_CHECK(u.user == NULL && u.password == NULL &&
		    u.host == NULL && u.path == NULL && u.port == 0);
		return;
	}
	FUZZ_CHECK(ftp_url_is_url(s));
	FUZZ_CHECK(u.host != NULL && u.host[0] != '\0' && u.path != NULL);
	FUZZ_CHECK(u.user == NULL || u.user[0] != '\0');
	FUZZ_CHECK(u.password == NULL || u.user != NULL);
	FUZZ_CHECK(u.port != 0);
	FUZZ_CHECK(u.tls == FTP_TLS_NONE || u.tls == FTP_TLS_EXPLICIT ||
	    u.tls == FTP_TLS_IMPLICIT);
	FUZZ_CHECK(ftp_tls_mode_from_name(ftp_tls_mode_name(u.tls)) ==
	    (int)u.tls);
	if (!u.port_given)
		FUZZ_CHECK(u.port == (u.tls == FTP_TLS_IMPLICIT ? 990 : 21));
	if (strncasecmp(s, "ftps://", 7) == 0)
		FUZZ_CHECK(u.tls == FTP_TLS_IMPLICIT);
	else if (strncasecmp(s, "ftpes://", 8) == 0)
		FUZZ_CHECK(u.tls == FTP_TLS_EXPLICIT);
	else
		FUZZ_CHECK(u.tls == FTP_TLS_NONE);
	check_component(u.host);
	check_component(u.path);
	if (u.user != NULL)
		check_component(u.user);
	if (u.password != NULL)
		check_component(u.password);
	check_round_trip(&u);
	ftp_url_clear(&u);
	FUZZ_CHECK(u.host == NULL && u.path == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = fuzz_strndup(data, size);

	check_url(s);
	(void)ftp_tls_mode_from_name(s);
	free(s);
	return 0;
}
