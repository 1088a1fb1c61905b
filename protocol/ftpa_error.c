/*
 * Application error kinds. The names and codes are wire protocol: the
 * table order fixes the codes, so entries are only ever appended.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <string.h>

#include "ftpa_error.h"

#define FTPA_ERR_CODE_BASE	-32000

static const char *const ftpa_err_names[FTPA_ERR_LAST] = {
	[FTPA_ERR_NONE]		= "none",
	[FTPA_ERR_FTP]		= "ftp",
	[FTPA_ERR_CONNECT]	= "connect",
	[FTPA_ERR_TLS]		= "tls",
	[FTPA_ERR_AUTH]		= "auth",
	[FTPA_ERR_TIMEOUT]	= "timeout",
	[FTPA_ERR_NOT_FOUND]	= "not_found",
	[FTPA_ERR_EXISTS]	= "exists",
	[FTPA_ERR_PERMISSION]	= "permission",
	[FTPA_ERR_CANCELLED]	= "cancelled",
	[FTPA_ERR_NO_SESSION]	= "no_session",
	[FTPA_ERR_NO_JOB]	= "no_job",
	[FTPA_ERR_LIMIT]	= "limit",
	[FTPA_ERR_LOCAL_IO]	= "local_io",
	[FTPA_ERR_PROTOCOL]	= "protocol",
};

const char *
ftpa_err_name(enum ftpa_err kind)
{
	/* Cast so that a negative value from a bad cast is out of range. */
	if ((unsigned int)kind >= FTPA_ERR_LAST)
		return NULL;
	return ftpa_err_names[kind];
}

int
ftpa_err_code(enum ftpa_err kind)
{
	if (kind == FTPA_ERR_NONE || (unsigned int)kind >= FTPA_ERR_LAST)
		return 0;
	return FTPA_ERR_CODE_BASE - ((int)kind - 1);
}

enum ftpa_err
ftpa_err_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return FTPA_ERR_NONE;
	for (i = FTPA_ERR_NONE + 1; i < FTPA_ERR_LAST; i++)
		if (strcmp(name, ftpa_err_names[i]) == 0)
			return (enum ftpa_err)i;
	return FTPA_ERR_NONE;
}

enum ftpa_err
ftpa_err_from_code(int code)
{
	int kind;

	if (code > FTPA_ERR_CODE_BASE ||
	    code <= FTPA_ERR_CODE_BASE - (FTPA_ERR_LAST - 1))
		return FTPA_ERR_NONE;
	kind = FTPA_ERR_CODE_BASE - code + 1;
	return (enum ftpa_err)kind;
}
