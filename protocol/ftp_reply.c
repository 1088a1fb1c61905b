/*
 * FTP reply reader. Bytes are copied into a fixed line buffer one line at a
 * time, so a peer that never sends a line end costs at most
 * FTP_REPLY_LINE_MAX bytes; complete lines are appended to the reply text,
 * which is capped at FTP_REPLY_TEXT_MAX.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_reply.h"

#define TEXT_INITIAL	256

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Three digits at the start of a line; -1 when there are not. */
static int
line_code(const char *line, size_t len)
{
	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

static enum ftp_reply_status
fail(struct ftp_reply_reader *r, enum ftp_reply_error error)
{
	r->error = error;
	return FTP_REPLY_ERROR;
}

/* Appends one line of text, preceded by '\n' unless it is the first. */
static enum ftp_reply_status
text_append(struct ftp_reply_reader *r, const char *s, size_t len)
{
	size_t	 need, cap;
	char	*p;

	need = r->text_len + len + (r->nlines > 0 ? 1 : 0);
	if (need > FTP_REPLY_TEXT_MAX)
		return fail(r, FTP_REPLY_ERR_TOO_BIG);
	if (need + 1 > r->text_cap) {
		cap = r->text_cap ? r->text_cap : TEXT_INITIAL;
		while (cap < need + 1)
			cap *= 2;
		if (cap > FTP_REPLY_TEXT_MAX + 1)
			cap = FTP_REPLY_TEXT_MAX + 1;
		if ((p = realloc(r->text, cap)) == NULL)
			return fail(r, FTP_REPLY_ERR_NOMEM);
		r->text = p;
		r->text_cap = cap;
	}
	if (r->nlines > 0)
		r->text[r->text_len++] = '\n';
	memcpy(r->text + r->text_len, s, len);
	r->text_len += len;
	r->text[r->text_len] = '\0';
	r->nlines++;
	return FTP_REPLY_AGAIN;
}

/* One complete line, line end removed. */
static enum ftp_reply_status
process_line(struct ftp_reply_reader *r, const char *line, size_t len)
{
	int	 code;

	if (r->nlines >= FTP_REPLY_LINES_MAX)
		return fail(r, FTP_REPLY_ERR_TOO_MANY_LINES);

	code = line_code(line, len);
	if (r->open_code == 0) {
		if (code < 100 || code > 599 ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			return fail(r, FTP_REPLY_ERR_BAD_CODE);
		r->open_code = code;
		r->multi = len > 3 && line[3] == '-';
	} else if (code == -1 || (len > 3 && line[3] != ' ')) {
		/* a line inside a multi-line reply: kept as sent */
		return text_append(r, line, len);
	} else if (code < 100 || code > 599) {
		/* "000 x" would end the reply with a code nobody can act on */
		return fail(r, FTP_REPLY_ERR_BAD_CODE);
	} else
		r->multi = false;

	if (text_append(r, line + (len > 3 ? 4 : 3),
	    len > 3 ? len - 4 : 0) == FTP_REPLY_ERROR)
		return FTP_REPLY_ERROR;
	if (r->multi)
		return FTP_REPLY_AGAIN;
	/* a closing code different from the opening one wins (glftpd) */
	r->code = code;
	r->done = true;
	return FTP_REPLY_OK;
}

void
ftp_reply_init(struct ftp_reply_reader *r)
{
	memset(r, 0, sizeof(*r));
}

void
ftp_reply_free(struct ftp_reply_reader *r)
{
	free(r->text);
	ftp_reply_init(r);
}

enum ftp_reply_status
ftp_reply_parse(struct ftp_reply_reader *r, const char *buf, size_t len,
    size_t *consumed)
{
	enum ftp_reply_status	 st;
	size_t			 i;
	char			 c;

	*consumed = 0;
	if (r->error != FTP_REPLY_ERR_NONE)
		return FTP_REPLY_ERROR;
	if (r->done) {
		/* the previous reply's results die here, as documented */
		r->done = false;
		r->code = 0;
		r->open_code = 0;
		r->multi = false;
		r->nlines = 0;
		r->text_len = 0;
		if (r->text != NULL)
			r->text[0] = '\0';
	}

	for (i = 0; i < len; i++) {
		c = buf[i];
		if (c == '\0') {
			*consumed = i + 1;
			return fail(r, FTP_REPLY_ERR_NUL);
		}
		if (c == '\n') {
			if (r->line_len > 0 && r->line[r->line_len - 1] == '\r')
				r->line_len--;
			st = process_line(r, r->line, r->line_len);
			r->line_len = 0;
			if (st != FTP_REPLY_AGAIN) {
				*consumed = i + 1;
				return st;
			}
			continue;
		}
		/*
		 * One byte past the limit is allowed only if it is the CR of
		 * a CRLF; anything after that proves the line too long.
		 */
		if (r->line_len > FTP_REPLY_LINE_MAX ||
		    (r->line_len == FTP_REPLY_LINE_MAX && c != '\r')) {
			*consumed = i + 1;
			return fail(r, FTP_REPLY_ERR_LINE_TOO_LONG);
		}
		r->line[r->line_len++] = c;
	}
	*consumed = len;
	return FTP_REPLY_AGAIN;
}

const char *
ftp_reply_strerror(enum ftp_reply_error error)
{
	switch (error) {
	case FTP_REPLY_ERR_NONE:
		return "no error";
	case FTP_REPLY_ERR_LINE_TOO_LONG:
		return "reply line too long";
	case FTP_REPLY_ERR_TOO_MANY_LINES:
		return "too many lines in reply";
	case FTP_REPLY_ERR_TOO_BIG:
		return "reply too big";
	case FTP_REPLY_ERR_NUL:
		return "NUL byte in reply";
	case FTP_REPLY_ERR_BAD_CODE:
		return "malformed reply code";
	case FTP_REPLY_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}
