/*
 * ftp://, ftpes:// and ftps:// URL parser (RFC 1738 style, RFC 3986 syntax).
 *
 *   scheme://[user[:password]@]host[:port][/path]
 *
 * host may be an IPv6 literal in brackets ("[::1]"; stored without them).
 * user, password and path are percent-decoded. The path is the part after
 * the '/' that ends the authority, so it is relative to the login
 * directory: "ftp://h/a/b" -> "a/b", "ftp://h//etc" and "ftp://h/%2Fetc"
 * -> "/etc", "ftp://h" and "ftp://h/" -> "".
 * Any byte below 0x20 or 0x7f, raw or percent-encoded, in any component is
 * refused (they would end an FTP command), as are ";type=" suffixes we do not support.
 */
#ifndef FTPA_URL_H
#define FTPA_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ftp_tls_mode {
	FTP_TLS_NONE,		/* ftp://   default port 21 */
	FTP_TLS_EXPLICIT,	/* ftpes:// default port 21, AUTH TLS */
	FTP_TLS_IMPLICIT,	/* ftps://  default port 990 */
};

struct ftp_url {
	enum ftp_tls_mode tls;
	char		*user;		/* NULL when absent */
	char		*password;	/* NULL when absent */
	char		*host;		/* never NULL after success */
	uint16_t	 port;		/* explicit or the scheme's default */
	bool		 port_given;
	char		*path;		/* never NULL after success; may be "" */
};

/* Returns 0, or -1 with *err set to a static English reason. On failure
 * nothing needs freeing. On success release with ftp_url_clear. */
int	ftp_url_parse(const char *s, struct ftp_url *out, const char **err);
void	ftp_url_clear(struct ftp_url *);
/* "none", "explicit", "implicit" and back (-1 when unknown). */
const char	*ftp_tls_mode_name(enum ftp_tls_mode);
int	ftp_tls_mode_from_name(const char *);
/* True when s (of length len) contains CR, LF or NUL: such a string must
 * never reach the server. */
bool	ftp_unsafe_string(const char *s, size_t len);
/* True when s starts with "ftp://", "ftpes://" or "ftps://" (case-insensitive). */
bool	ftp_url_is_url(const char *s);
/*
 * "scheme://[user@]host[:port]/": u's scheme, host and port (the port
 * only when not the scheme's default) with user (NULL: none) in place of
 * u's user, percent-encoded where needed, and never a password. With path
 * true, u's path is appended (for messages). Caller frees with free();
 * NULL when out of memory.
 */
char	*ftp_url_format(const struct ftp_url *u, const char *user, bool path);

#endif
