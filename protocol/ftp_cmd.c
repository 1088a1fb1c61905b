/*
 * Pure helpers of the FTP engine: the quote filter, missing-path replies,
 * path arithmetic (ftp_cmd.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strcasestr */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftp_cmd.h"

const char *
ftp_quote_refusal(const char *cmd)
{
	static const char *data[] = { "LIST", "NLST", "MLSD", "RETR", "STOR",
	    "STOU", "APPE", "PASV", "EPSV", "PORT", "EPRT", "LPSV", "LPRT", NULL };
	static const char *state[] = { "CWD", "CDUP", "XCWD", "XCUP", "REST",
	    "USER", "PASS", "ACCT", "REIN", "AUTH", "PBSZ", "PROT", "CCC", "ABOR",
	    "QUIT", NULL };
	size_t		n = strcspn(cmd, " ");

	/*
	 * Servers cut the verb at the first space, and some at any
	 * white space: "REST<TAB>5" would move the restart offset under
	 * the agent's feet. No control character is quoted at all.
	 */
	for (const unsigned char *p = (const unsigned char *)cmd; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "control characters (TAB, ESC, ...) cannot be quoted";
	if (n == 0)
		return cmd[0] == '\0' ? "empty command" :
		    "the command must start with its verb, not a space";
	for (const char **p = data; *p; p++)
		if (strlen(*p) == n && strncasecmp(cmd, *p, n) == 0)
			return "commands that open a data connection cannot be "
			    "quoted; use fs.list or transfer.get/put";
	for (const char **p = state; *p; p++)
		if (strlen(*p) == n && strncasecmp(cmd, *p, n) == 0)
			return "this command changes the session state the agent "
			    "manages and cannot be quoted";
	return NULL;
}

bool
ftp_says_missing(const char *text)
{
	static const char *words[] = { "no such", "not found", "not exist",
	    "doesn't exist", "does not exist", "cannot find", "can't find",
	    "not available", NULL };

	for (const char **w = words; *w; w++)
		if (strcasestr(text, *w) != NULL)
			return true;
	return false;
}

const char *
ftp_path_base(const char *path)
{
	const char	*s = strrchr(path, '/');

	if (s == NULL)
		return path;
	if (s[1] == '\0')
		return path;	/* "a/b/": unusual; the whole path */
	return s + 1;
}

bool
ftp_path_has_parent(const char *path)
{
	const char	*base = ftp_path_base(path);

	return base[0] != '\0' && strchr(base, '/') == NULL &&
	    strcmp(base, ".") != 0 && strcmp(base, "..") != 0;
}

size_t
ftp_path_parent_len(const char *path)
{
	const char	*base = ftp_path_base(path);

	if (base == path)
		return 0;
	if (base == path + 1)
		return 1;	/* "/" */
	return (size_t)(base - path - 1);
}

char *
ftp_path_join(const char *dir, const char *path)
{
	size_t	 n = strlen(dir);
	char	*s;

	if (path[0] == '/')
		return strdup(path);
	if (path[0] == '\0')
		return strdup(dir);
	if (asprintf(&s, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/",
	    path) < 0)
		return NULL;
	return s;
}
