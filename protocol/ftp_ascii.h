/*
 * TYPE A (ASCII) transfers: the network's CRLF line ends and the local
 * LF, converted a span at a time, a CRLF split between two spans
 * included.
 */
#ifndef FTPA_FTP_ASCII_H
#define FTPA_FTP_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/* One transfer's state; zeroed at its start. */
struct ftp_ascii {
	bool	cr_pending;	/* from the net: a CR ended the last span */
	char	last;		/* to the net: the last byte of the last span */
};

/*
 * From the network: CRLF becomes LF, a lone CR stays. Writes at most n
 * bytes to out (which must not overlap in) and returns how many. A CR at
 * the end of in is held back until the next span (or ftp_ascii_net_end).
 */
size_t	ftp_ascii_from_net(struct ftp_ascii *, const char *in, size_t n,
	    char *out);
/* The data ended: the CR held back, if any, is data. Returns 1 when it
 * wrote it to out, else 0. */
size_t	ftp_ascii_net_end(struct ftp_ascii *, char *out);
/* To the network: LF becomes CRLF, a CRLF stays as it is. out holds 2 * n
 * bytes at least; returns how many it got. */
size_t	ftp_ascii_to_net(struct ftp_ascii *, const char *in, size_t n,
	    char *out);

#endif
