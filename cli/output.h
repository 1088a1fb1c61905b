/*
 * ftpctl output: "ftpctl: ..." messages, the text formats of ls/stat
 * and the progress bar. The formatting functions are pure and write
 * into the caller's buffer.
 *
 * Text that comes from a server or the agent (names, link targets,
 * replies, error messages) goes out through output_text and friends, or
 * output_warnx for stderr: on a terminal it is escaped (cli/escape.h),
 * anywhere else written as it is.
 */
#ifndef FTPCTL_OUTPUT_H
#define FTPCTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ftpagent.h"

/*
 * Decides once whether stdout and stderr are terminals, and from the
 * locale (LC_ALL, LC_CTYPE, LANG) whether the terminal takes UTF-8;
 * with another charset every non-ASCII byte is escaped too, as ls shows
 * '?' then. Without a call nothing is escaped.
 */
void	output_setup(void);
/* The same decision made by the caller (unit tests). */
void	output_escape_set(bool out_tty, bool err_tty, unsigned flags);

/* s on fp (stdout or stderr), escaped when fp is a terminal; NULL
 * prints nothing. output_lines keeps the newlines of text of several
 * lines. */
void	output_text(FILE *fp, const char *s);
void	output_lines(FILE *fp, const char *s);
/* output_text, then spaces up to width columns of the printed form. */
void	output_field(FILE *fp, const char *s, int width);
/* The length of s as output_text prints it on fp (0 for NULL). */
int	output_text_len(FILE *fp, const char *s);
/* A JSON document and a newline; on a terminal in the form of
 * escape_json (the same JSON value). */
void	output_json(FILE *fp, const char *json);

/* "ftpctl: <message>\n" on stderr, the message escaped (newlines kept)
 * when stderr is a terminal; output_warn adds ": strerror(errno)". */
void	output_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	output_warn(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* "drwxr-xr-x"; unknown permissions print as '?'. buf holds 11 bytes. */
#define OUTPUT_MODE_LEN	11
void	output_mode_string(char buf[OUTPUT_MODE_LEN],
	    enum ftpagent_entry_type type, int perm);

/*
 * ls -l style date in local time: "Mon DD HH:MM", or "Mon DD  YYYY" when
 * mtime is more than six months before now or in the future. Unknown
 * (INT64_MIN) prints as "?". Returns buf.
 */
#define OUTPUT_DATE_LEN	32
char	*output_date(char *buf, size_t len, int64_t mtime, time_t now);

/* "1023 B", "1.5 KiB", "12.0 MiB", ...; negative: "?". Returns buf. */
#define OUTPUT_BYTES_LEN 32
char	*output_bytes(char *buf, size_t len, int64_t bytes);

/*
 * A rate limit as --limit-rate takes it back: "10M", "512K", "1G" when
 * exact, else one decimal ("1.3M"), plain bytes below 1 KiB; 0 or
 * less: "-". Returns buf.
 */
#define OUTPUT_RATE_LEN	24
char	*output_rate_limit(char *buf, size_t len, int64_t bps);

/* "0:05", "12:34", "1:02:03"; negative: "--:--". Returns buf. */
char	*output_duration(char *buf, size_t len, double seconds);

/*
 * One progress line (no '\r', no newline) of at most width columns
 * (the bar escapes label itself before it calls this):
 * label, a bar and the percentage when total is known, bytes, rate and
 * the ETA when total is known. elapsed is the time since the start.
 */
void	output_progress_line(char *buf, size_t len, int width,
	    const char *label, int64_t bytes, int64_t total, double elapsed);

/*
 * An FTP reply as the server sent it, from its code and its text (lines
 * joined by '\n', without codes): "257 text", or for several lines
 * "211-first\n middle\n211 last". Caller frees with free(); NULL when
 * out of memory.
 */
char	*output_ftp_reply(int code, const char *text);

struct output_progress {
	const char	*label;		/* caller's; shown at the start */
	int		 fd;		/* where to draw (stderr) */
	struct timespec	 start;
	double		 last_draw;	/* seconds since start; < 0: never */
	bool		 drawn;
};

/* Prepares a bar drawn on fd; label must outlive the bar. */
void	output_progress_init(struct output_progress *, int fd,
	    const char *label);
/* An ftpagent_progress_cb: arg is the struct output_progress. Redraws at
 * most ten times a second, and when the transfer completes. */
bool	output_progress_cb(void *arg, int64_t bytes, int64_t total);
/* The same for a job followed from outside (ftpctl wait): rate is the
 * agent's (bytes/s; <= 0 when unknown), since the bar's start says
 * nothing about how fast the job went before. */
void	output_progress_rate(struct output_progress *, int64_t bytes,
	    int64_t total, double rate);
/* Erases the line if anything was drawn. */
void	output_progress_done(struct output_progress *);

#endif
