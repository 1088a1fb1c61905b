/*
 * ftpctl targets: "ftp[es|s]://[user@]host[:port]/path" or "NAME:PATH",
 * and the local/remote name helpers that go with them. No I/O here.
 */
#ifndef FTPCTL_TARGET_H
#define FTPCTL_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "url.h"

enum target_kind {
	TARGET_URL,		/* a URL: the session comes from session.open */
	TARGET_SESSION,		/* NAME:PATH: NAME is the session id */
};

struct target {
	enum target_kind kind;
	char		*session;	/* TARGET_SESSION: the name */
	const char	*path;		/* remote path, never NULL; points into
					   url.path or owned by the target */
	struct ftp_url	 url;		/* TARGET_URL only */
	char		*path_buf;	/* owned storage for path */
};

#define TARGET_NAME_MAX	64

/*
 * Parses s. Returns 0, or -1 with *err set to a static English reason;
 * on failure nothing needs freeing. Release with target_clear.
 */
int	 target_parse(const char *s, struct target *t, const char **err);
void	 target_clear(struct target *);
/* True when name is 1-64 chars of [A-Za-z0-9._-]. */
bool	 target_name_valid(const char *name);

/*
 * The last component of a remote path, for use as a local file name:
 * trailing slashes are ignored; "", ".", ".." and names that would still
 * hold a '/' are refused. Caller frees the result with free(); NULL
 * with *err set when there is no usable name.
 */
char	*target_local_name(const char *remote_path, const char **err);

/*
 * The remote path for "put LOCAL PATH": when PATH is empty or ends with
 * '/', LOCAL's last component is appended. Caller frees with free();
 * NULL with *err set when LOCAL has no usable name.
 */
char	*target_put_path(const char *remote_path, const char *local,
	    const char **err);

/*
 * The local path for "get REMOTE LOCAL": when LOCAL is NULL the remote
 * name; when LOCAL ends with '/' or is_dir is true, LOCAL/remote-name.
 * Caller frees with free(); NULL with *err set.
 */
char	*target_get_path(const char *remote_path, const char *local,
	    bool is_dir, const char **err);

/*
 * A get of the files that match a glob: when the last name of
 * remote_path holds a glob character (*, ? or [), *dir gets the
 * directory to list (malloc'd: "/" for "/x*", "." for a name alone;
 * caller frees) and *glob the last name (into remote_path), and true is
 * returned. Glob characters in other names are plain characters. False
 * (and *dir NULL) when the last name holds none, or out of memory (then
 * *glob is NULL too).
 */
bool	 target_glob_split(const char *remote_path, char **dir,
	    const char **glob);

/*
 * Where the password of URL s is, so that the caller can blank it in
 * its argv (ps shows argv): true with *off and *len when s has
 * "user:password@" in its authority.
 */
bool	 target_password_span(const char *s, size_t *off, size_t *len);

/*
 * The destination of "mv TARGET NEWPATH" on t's session: a plain path as
 * it is; the path of "NAME:PATH" when NAME is t's session; the path of a
 * URL that names t's scheme, host, port and user (a URL without a user
 * goes with any). Caller frees with free(); NULL with *err set when
 * newpath names another session (or is a bad URL). A path with a colon
 * in its first component reads as NAME:PATH: spell it "./a:b".
 */
char	*target_rename_path(const struct target *t, const char *newpath,
	    const char **err);

/*
 * True when path is the login directory or above it ("", "/", ".",
 * "..", "./", "/./.." and the like): what "rm -r" must never get.
 */
bool	 target_path_is_top(const char *path);

/*
 * Permission bits in octal ("644", "0644", "4755"): 1-5 octal digits,
 * at most 07777. Returns 0 with *mode, or -1.
 */
int	 target_parse_mode(const char *s, int *mode);

/*
 * A time for "touch -d", always UTC: "@EPOCH", "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS][Z]" or "YYYY-MM-DD HH:MM[:SS][Z]", from
 * 1970-01-01 to 9999-12-31T23:59:59. Returns 0 with *t (seconds since
 * the epoch), or -1 with *err set to a static English reason.
 */
int	 target_parse_time(const char *s, int64_t *t, const char **err);

/* The most --limit-rate takes: the agent's limit_rate is at most this. */
#define TARGET_RATE_MAX	INT64_C(2147483647)

/*
 * A rate for --limit-rate, as curl spells it: a decimal number, maybe
 * with a fraction ("1.5"), and an optional suffix K, M or G (either
 * case; powers of 1024), in bytes per second; "0": no limit. A fraction
 * of a byte is dropped; a rate that is not 0 but comes to less than one
 * byte per second, or more than TARGET_RATE_MAX, is refused. Returns 0
 * with *bps, or -1 with *err set to a static English reason.
 */
int	 target_parse_rate(const char *s, int64_t *bps, const char **err);

#endif
