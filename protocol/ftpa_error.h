/*
 * Application error kinds of the wire protocol (SPEC "Errors"), shared by
 * the daemon and libftpagent. Codes run from -32000 down, in this order;
 * they are part of the protocol and never renumbered.
 */
#ifndef FTPA_ERROR_H
#define FTPA_ERROR_H

enum ftpa_err {
	FTPA_ERR_NONE = 0,
	FTPA_ERR_FTP,		/* -32000 the server said no */
	FTPA_ERR_CONNECT,	/* -32001 */
	FTPA_ERR_TLS,		/* -32002 */
	FTPA_ERR_AUTH,		/* -32003 */
	FTPA_ERR_TIMEOUT,	/* -32004 */
	FTPA_ERR_NOT_FOUND,	/* -32005 */
	FTPA_ERR_EXISTS,	/* -32006 */
	FTPA_ERR_PERMISSION,	/* -32007 another uid's object */
	FTPA_ERR_CANCELLED,	/* -32008 */
	FTPA_ERR_NO_SESSION,	/* -32009 */
	FTPA_ERR_NO_JOB,	/* -32010 */
	FTPA_ERR_LIMIT,		/* -32011 */
	FTPA_ERR_LOCAL_IO,	/* -32012 */
	FTPA_ERR_PROTOCOL,	/* -32013 the server broke the protocol */
	FTPA_ERR_LAST
};

/* "ftp", "connect", ...; "none" for FTPA_ERR_NONE, NULL when out of range. */
const char	*ftpa_err_name(enum ftpa_err);
/* -32000 - (kind - 1); 0 for FTPA_ERR_NONE. */
int		 ftpa_err_code(enum ftpa_err);
/* Inverse of ftpa_err_name; FTPA_ERR_NONE when unknown. */
enum ftpa_err	 ftpa_err_from_name(const char *);
/* Inverse of ftpa_err_code; FTPA_ERR_NONE when not an application code. */
enum ftpa_err	 ftpa_err_from_code(int);

#endif
