/*
 * ~/.netrc lookup (the ftp(1) format): "machine NAME", "default",
 * "login", "password", "account", "macdef NAME" (body up to an empty
 * line, skipped), tokens separated by white space, double-quoted tokens
 * with backslash escapes, '#' comments where a keyword is expected.
 */
#ifndef FTPCTL_NETRC_H
#define FTPCTL_NETRC_H

#include <stddef.h>

#define NETRC_MAX_SIZE	(1024 * 1024)

struct netrc_entry {
	char	*login;		/* NULL when the entry has none */
	char	*password;	/* NULL when the entry has none */
};

/*
 * Finds the credentials for host in the netrc text buf (len bytes): the
 * first "machine" entry whose name equals host (case-insensitive) and,
 * when user is not NULL, whose login is user or absent; failing that the
 * "default" entry under the same login rule. Returns 1 and fills *out
 * (release with netrc_entry_clear), 0 when nothing matches, -1 with *err
 * set to a static English reason when the text is malformed.
 */
int	 netrc_lookup_buf(const char *buf, size_t len, const char *host,
	    const char *user, struct netrc_entry *out, const char **err);
/* Same, reading the file path; a missing file is 0 (nothing matches). */
int	 netrc_lookup_file(const char *path, const char *host,
	    const char *user, struct netrc_entry *out, const char **err);
/* $NETRC, else $HOME/.netrc, else the passwd entry's home; caller frees
 * with free(). NULL when no home is known or out of memory. */
char	*netrc_default_path(void);
/* Frees the strings (wiping the password) and resets the entry. */
void	 netrc_entry_clear(struct netrc_entry *);

#endif
