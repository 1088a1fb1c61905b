/*
 * What the agent sends and what replies say, without a connection: the
 * filter of quoted commands, "this reply says the path is missing", and
 * the path arithmetic of listings and stat.
 */
#ifndef FTPA_FTP_CMD_H
#define FTPA_FTP_CMD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * NULL when a raw command (ftp.quote) may be sent, else why not (static
 * text): commands that open a data connection, change the TLS layer or
 * move the state the agent relies on (working directory, restart
 * offset, login), control characters, a leading space.
 */
const char	*ftp_quote_refusal(const char *command);

/* Whether a reply's text says that what it names does not exist: 550
 * covers "no such file" as well as "not empty" or "permission denied",
 * and only the words tell them apart. */
bool		 ftp_says_missing(const char *text);

/* The last component of path: "a/b" -> "b", "b" -> "b"; a path ending in
 * '/' is its own base ("a/b/" -> "a/b/"). Points into path. */
const char	*ftp_path_base(const char *path);
/* Whether path names an entry of a directory that can be listed: not
 * "", "/", ".", "..", nor a path ending in '/'. */
bool		 ftp_path_has_parent(const char *path);
/* How many leading bytes of path name its parent (for paths
 * ftp_path_has_parent accepts): "a/b" -> 1 ("a"), "/b" -> 1 ("/"),
 * "b" -> 0 ("", the working directory). */
size_t		 ftp_path_parent_len(const char *path);
/* path relative to dir ("" and an absolute path stay as they are; dir is
 * returned for ""), joined with one '/'. malloc'd; NULL when out of
 * memory. */
char		*ftp_path_join(const char *dir, const char *path);

#endif
