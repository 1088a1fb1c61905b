#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "output.h"

#define SIX_MONTHS	(365.2425 * 24 * 3600 / 2)
#define REDRAW_EVERY	0.1	/* seconds */
#define LINE_MAX_COLS	256

/* Escape what goes to stdout, to stderr; the escape_buf flags. */
static bool	esc_out, esc_err;
static unsigned	esc_flags;

/* Does the locale name a UTF-8 charset? Asked of the C library, then of
 * the name itself when the C library does not know the locale. The
 * locale is put back: nothing else in ftpctl depends on it. */
static bool
locale_utf8(void)
{
	const char *cur, *env = NULL, *names[] = { "LC_ALL", "LC_CTYPE",
	    "LANG" };
	char *saved;
	size_t i;
	bool utf8 = false;

	if ((cur = setlocale(LC_CTYPE, NULL)) == NULL ||
	    (saved = strdup(cur)) == NULL)
		return true;
	if (setlocale(LC_CTYPE, "") != NULL)
		utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	else {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if ((env = getenv(names[i])) != NULL && *env != '\0')
				break;
		utf8 = env != NULL && (strcasestr(env, "utf-8") != NULL ||
		    strcasestr(env, "utf8") != NULL);
	}
	setlocale(LC_CTYPE, saved);
	free(saved);
	return utf8;
}

void
output_setup(void)
{
	bool out = isatty(STDOUT_FILENO), err = isatty(STDERR_FILENO);

	output_escape_set(out, err, (out || err) && !locale_utf8() ?
	    ESCAPE_ASCII : 0);
}

void
output_escape_set(bool out_tty, bool err_tty, unsigned flags)
{
	esc_out = out_tty;
	esc_err = err_tty;
	esc_flags = flags & ESCAPE_ASCII;
}

static bool
escaping(FILE *fp)
{
	return (fp == stdout && esc_out) || (fp == stderr && esc_err);
}

/* Writes s (escaped with flags when fp is a terminal); returns the
 * length written. */
static int
text_out(FILE *fp, const char *s, unsigned flags, bool write)
{
	char buf[1024], *big = NULL;
	size_t len, n;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (!escaping(fp) || !escape_needed(s, len, esc_flags | flags)) {
		if (write)
			fputs(s, fp);
		return (int)len;
	}
	n = escape_buf(buf, sizeof(buf), s, len, esc_flags | flags);
	if (write && n >= sizeof(buf) && (big = malloc(n + 1)) != NULL)
		escape_buf(big, n + 1, s, len, esc_flags | flags);
	/* out of memory: the escaped form cut short is still safe */
	if (write)
		fputs(big != NULL ? big : buf, fp);
	free(big);
	return (int)n;
}

void
output_text(FILE *fp, const char *s)
{
	text_out(fp, s, 0, true);
}

void
output_lines(FILE *fp, const char *s)
{
	text_out(fp, s, ESCAPE_KEEP_NL, true);
}

void
output_field(FILE *fp, const char *s, int width)
{
	int n = text_out(fp, s, 0, true);

	if (width > n)
		fprintf(fp, "%*s", width - n, "");
}

int
output_text_len(FILE *fp, const char *s)
{
	return text_out(fp, s, 0, false);
}

void
output_json(FILE *fp, const char *json)
{
	char *e = NULL;

	if (escaping(fp) && (e = escape_json(json, esc_flags)) == NULL) {
		fputs("{\"error\":{\"kind\":\"nomem\",\"message\":"
		    "\"out of memory\"}}\n", fp);
		return;
	}
	fputs(e != NULL ? e : json, fp);
	fputc('\n', fp);
	free(e);
}

static void __attribute__((format(printf, 2, 0)))
vwarn_impl(bool with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char *msg = NULL, *full = NULL;

	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	if (msg != NULL && with_errno &&
	    asprintf(&full, "%s: %s", msg, strerror(saved)) == -1)
		full = NULL;
	fputs("ftpctl: ", stderr);
	if (msg == NULL || (with_errno && full == NULL))
		fputs("out of memory", stderr);
	else
		output_lines(stderr, with_errno ? full : msg);
	fputc('\n', stderr);
	free(full);
	free(msg);
	errno = saved;
}

void
output_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_impl(false, fmt, ap);
	va_end(ap);
}

void
output_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_impl(true, fmt, ap);
	va_end(ap);
}

void
output_mode_string(char buf[OUTPUT_MODE_LEN], enum ftpagent_entry_type type,
    int perm)
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	switch (type) {
	case FTPAGENT_DIR:
		buf[0] = 'd';
		break;
	case FTPAGENT_FILE:
		buf[0] = '-';
		break;
	case FTPAGENT_LINK:
		buf[0] = 'l';
		break;
	default:
		buf[0] = '?';
		break;
	}
	for (i = 0; i < 9; i++) {
		if (perm < 0)
			buf[i + 1] = '?';
		else
			buf[i + 1] = (perm & (0400 >> i)) ? rwx[i] : '-';
	}
	if (perm >= 0) {
		if (perm & 04000)
			buf[3] = (perm & 0100) ? 's' : 'S';
		if (perm & 02000)
			buf[6] = (perm & 010) ? 's' : 'S';
		if (perm & 01000)
			buf[9] = (perm & 01) ? 't' : 'T';
	}
	buf[10] = '\0';
}

char *
output_date(char *buf, size_t len, int64_t mtime, time_t now)
{
	struct tm tm;
	time_t t = (time_t)mtime;
	size_t n;

	if (mtime == INT64_MIN || localtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}
	if ((double)mtime < (double)now - SIX_MONTHS || mtime > (int64_t)now)
		n = strftime(buf, len, "%b %e  %Y", &tm);
	else
		n = strftime(buf, len, "%b %e %H:%M", &tm);
	if (n == 0)
		snprintf(buf, len, "?");
	return buf;
}

char *
output_bytes(char *buf, size_t len, int64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double v;
	size_t u;

	if (bytes < 0) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, len, "%d B", (int)bytes);
		return buf;
	}
	v = (double)bytes / 1024;
	for (u = 0; v >= 1023.95 && u + 1 < sizeof(units) / sizeof(units[0]);
	    u++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

char *
output_rate_limit(char *buf, size_t len, int64_t bps)
{
	static const char units[] = "KMG";
	int64_t unit = 1024;
	size_t u = 0;

	if (bps <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (bps < 1024) {
		snprintf(buf, len, "%lld", (long long)bps);
		return buf;
	}
	/* as output_bytes: 1048575 is "1.0M", not "1024.0K" */
	while (u + 2 < sizeof(units) && (double)bps / (double)unit >=
	    1023.95) {
		unit *= 1024;
		u++;
	}
	if (bps % unit == 0)
		snprintf(buf, len, "%lld%c", (long long)(bps / unit), units[u]);
	else
		snprintf(buf, len, "%.1f%c", (double)bps / (double)unit,
		    units[u]);
	return buf;
}

char *
output_duration(char *buf, size_t len, double seconds)
{
	long s;

	if (seconds < 0 || seconds > 359999999.0) {
		snprintf(buf, len, "--:--");
		return buf;
	}
	s = (long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
	return buf;
}

void
output_progress_line(char *buf, size_t len, int width, const char *label,
    int64_t bytes, int64_t total, double elapsed)
{
	char stats[128], b[OUTPUT_BYTES_LEN], r[OUTPUT_BYTES_LEN], eta[32];
	char bar[LINE_MAX_COLS];
	double rate = elapsed > 0.05 ? (double)bytes / elapsed : -1;
	int room, lw, bw, fill, pct, i;

	if (width > LINE_MAX_COLS - 1)
		width = LINE_MAX_COLS - 1;
	output_bytes(b, sizeof(b), bytes);
	if (rate >= 0)
		output_bytes(r, sizeof(r), (int64_t)rate);
	else
		snprintf(r, sizeof(r), "--");
	if (total > 0) {
		pct = bytes >= total ? 100 : (int)(bytes * 100 / total);
		if (rate > 0)
			output_duration(eta, sizeof(eta),
			    (double)(total > bytes ? total - bytes : 0) / rate);
		else
			output_duration(eta, sizeof(eta), -1);
		snprintf(stats, sizeof(stats), "%3d%% %9s %10s/s  ETA %s", pct,
		    b, r, eta);
	} else {
		pct = -1;
		snprintf(stats, sizeof(stats), "%9s %10s/s", b, r);
	}

	room = width - (int)strlen(stats) - 1;
	lw = (int)strlen(label);
	if (pct >= 0) {
		/* Keep at least a 10-column bar; the label gets the rest. */
		if (lw > room - 13)
			lw = room - 13 > 0 ? room - 13 : 0;
		bw = room - lw - (lw > 0) - 2;
	} else {
		if (lw > room)
			lw = room > 0 ? room : 0;
		bw = 0;
	}
	if (bw < 5)
		bw = 0;
	if (bw > 0) {
		fill = bw * pct / 100;
		for (i = 0; i < bw; i++)
			bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
		if (pct >= 100)
			bar[bw - 1] = '=';
		bar[bw] = '\0';
		snprintf(buf, len, "%.*s%s[%s] %s", lw, label, lw > 0 ? " " : "",
		    bar, stats);
	} else if (lw > 0)
		snprintf(buf, len, "%.*s %s", lw, label, stats);
	else
		snprintf(buf, len, "%s", stats);
}

char *
output_ftp_reply(int code, const char *text)
{
	const char *first_end, *last;
	char *s;
	int n;

	if (text == NULL)
		text = "";
	first_end = strchr(text, '\n');
	if (first_end == NULL)
		n = asprintf(&s, "%d %s", code, text);
	else {
		last = strrchr(text, '\n') + 1;
		n = asprintf(&s, "%d-%.*s%d %s", code,
		    (int)(last - text), text, code, last);
	}
	return n < 0 ? NULL : s;
}

static double
since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

void
output_progress_init(struct output_progress *p, int fd, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->label = label;
	p->last_draw = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

static void
write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

/* Redraws the bar; elapsed is what the rate is computed over. */
static void
progress_draw(struct output_progress *p, int64_t bytes, int64_t total,
    double elapsed)
{
	struct winsize ws;
	char line[LINE_MAX_COLS + 8], label[LINE_MAX_COLS];
	double t = since(&p->start);
	int width = 80;

	if (p->last_draw >= 0 && t - p->last_draw < REDRAW_EVERY &&
	    !(total >= 0 && bytes >= total))
		return;
	p->last_draw = t;
	if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		width = ws.ws_col;
	/* only ever drawn on a terminal: the name escaped, always */
	escape_buf(label, sizeof(label), p->label != NULL ? p->label : "",
	    p->label != NULL ? strlen(p->label) : 0, esc_flags);
	/* The last column would make some terminals wrap. */
	line[0] = '\r';
	output_progress_line(line + 1, sizeof(line) - 1, width - 1, label,
	    bytes, total, elapsed);
	write_all(p->fd, line, strlen(line));
	/* Erase what a longer previous line left behind. */
	write_all(p->fd, "\033[K", 3);
	p->drawn = true;
}

bool
output_progress_cb(void *arg, int64_t bytes, int64_t total)
{
	struct output_progress *p = arg;

	progress_draw(p, bytes, total, since(&p->start));
	return true;
}

void
output_progress_rate(struct output_progress *p, int64_t bytes, int64_t total,
    double rate)
{
	/* output_progress_line takes the rate as bytes over elapsed time */
	progress_draw(p, bytes, total, rate > 0 && bytes > 0 ?
	    (double)bytes / rate : 0);
}

void
output_progress_done(struct output_progress *p)
{
	if (p->drawn)
		write_all(p->fd, "\r\033[K", 4);
	p->drawn = false;
}
