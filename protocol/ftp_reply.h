/*
 * FTP reply reader (RFC 959 section 4.2). Sans-IO and bounded.
 *
 * A reply is one line "DDD text" or a multi-line reply that opens with
 * "DDD-text" and ends at the first line that starts with three digits and a
 * space (or is exactly three digits). Lines in between may hold anything
 * (digits, other codes followed by '-', nothing). Like curl, a closing line
 * whose code differs from the opening one still ends the reply (glftpd does
 * this); the reply's code is then the closing line's code, which must also
 * be in 100..599.
 * Lines end in CRLF or a bare LF. A NUL byte, a first line that does not
 * start with a code in 100..599 followed by ' ', '-' or its line end, a line
 * longer than FTP_REPLY_LINE_MAX or a reply of more than FTP_REPLY_LINES_MAX
 * lines or FTP_REPLY_TEXT_MAX bytes is an error, and the reader stays in
 * error.
 */
#ifndef FTPA_FTP_REPLY_H
#define FTPA_FTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define FTP_REPLY_LINE_MAX	4096	/* bytes, line end excluded */
#define FTP_REPLY_LINES_MAX	1000
#define FTP_REPLY_TEXT_MAX	(256 * 1024)

enum ftp_reply_status {
	FTP_REPLY_OK,		/* one reply complete: see reader->code/text */
	FTP_REPLY_AGAIN,	/* all input consumed, reply not complete yet */
	FTP_REPLY_ERROR,	/* see reader->error */
};

enum ftp_reply_error {
	FTP_REPLY_ERR_NONE,
	FTP_REPLY_ERR_LINE_TOO_LONG,
	FTP_REPLY_ERR_TOO_MANY_LINES,
	FTP_REPLY_ERR_TOO_BIG,
	FTP_REPLY_ERR_NUL,
	FTP_REPLY_ERR_BAD_CODE,
	FTP_REPLY_ERR_NOMEM,
};

struct ftp_reply_reader {
	/* result of the last FTP_REPLY_OK; valid until the next parse call */
	int		 code;
	char		*text;		/* NUL-terminated, see below */
	size_t		 text_len;
	size_t		 nlines;
	enum ftp_reply_error error;

	/* private */
	char		 line[FTP_REPLY_LINE_MAX + 2];
	size_t		 line_len;
	int		 open_code;	/* 0: no reply under way */
	bool		 multi;
	bool		 done;
	size_t		 text_cap;
};

/*
 * text: the reply's lines joined by '\n' with line ends removed; the
 * opening line loses its "DDD-" or "DDD ", the closing line of a
 * multi-line reply loses its "DDD " (or "DDD" when nothing follows), the
 * lines in between are kept as sent. E.g. "211-Features:\r\n MDTM\r\n211 End\r\n"
 * gives code 211, text "Features:\n MDTM\nEnd", nlines 3.
 */
void	ftp_reply_init(struct ftp_reply_reader *);
void	ftp_reply_free(struct ftp_reply_reader *);
/*
 * Consumes bytes up to and including the line end of at most one complete
 * reply and returns how many it consumed in *consumed. The caller loops
 * over its buffer; bytes left over after an FTP_REPLY_OK belong to the next
 * reply (their presence after a 234 is how a STARTTLS injection is caught).
 */
enum ftp_reply_status	ftp_reply_parse(struct ftp_reply_reader *,
	    const char *buf, size_t len, size_t *consumed);
const char	*ftp_reply_strerror(enum ftp_reply_error);

#endif
