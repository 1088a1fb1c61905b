/*
 * Daemon logging: to stderr, which is the journal's stream under systemd
 * ("<N>" prefixes), a terminal with -f, or a file (--log, and the default
 * of a detached user agent) that fd 2 is pointed at, so that whatever a
 * library or a crash writes there lands in it too. A file is bounded:
 * past LOG_FILE_MAX it is moved to FILE.1 (one old file kept) and
 * started again, at start and while running.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"

static int	log_verbose = 0;	/* 0: info, 1+: debug */
static bool	log_prefix;
static int	log_level = LOG_LVL_INFO;
static char	*log_file;		/* fd 2 writes to it */
static off_t	 log_file_size;
static bool	 log_stderr_null;	/* detached: fd 2 is /dev/null */

void
log_init(int verbosity, bool prefix)
{
	log_verbose = verbosity;
	log_prefix = prefix;
	log_level = verbosity > 0 ? LOG_LVL_DEBUG : LOG_LVL_INFO;
}

void
log_setverbose(int verbosity)
{
	log_verbose = verbosity;
}

void
log_setlevel(int level)
{
	log_level = level;
	log_verbose = level >= LOG_LVL_DEBUG ? 1 : 0;
}

int
log_getverbose(void)
{
	return log_verbose;
}

/* mkdir -p of path's directory, private to the user (0700). */
static void
mkdir_parents(const char *path)
{
	char	*d = strdup(path), *p;

	if (d == NULL)
		return;
	for (p = strchr(d + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		(void)mkdir(d, 0700);
		*p = '/';
	}
	free(d);
}

/* fd 2 to log_file, appended to; a file past the bound becomes FILE.1. */
static int
log_file_reopen(void)
{
	struct stat	 st;
	char		*old;
	int		 fd;

	if (stat(log_file, &st) == 0 && st.st_size > LOG_FILE_MAX &&
	    asprintf(&old, "%s.1", log_file) != -1) {
		(void)rename(log_file, old);
		free(old);
	}
	fd = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0600);
	if (fd == -1)
		return -1;
	log_file_size = fstat(fd, &st) == 0 ? st.st_size : 0;
	if (fd != STDERR_FILENO) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	return 0;
}

int
log_open_file(const char *path)
{
	free(log_file);
	if ((log_file = strdup(path)) == NULL)
		return -1;
	mkdir_parents(log_file);
	if (log_file_reopen() == -1) {
		free(log_file);
		log_file = NULL;
		return -1;
	}
	log_stderr_null = false;
	return 0;
}

bool
log_to_file(void)
{
	return log_file != NULL;
}

void
log_stderr_detached(void)
{
	if (log_file == NULL)
		log_stderr_null = true;
}

const char *
log_where(void)
{
	if (log_file != NULL)
		return log_file;
	if (log_stderr_null)
		return NULL;
	return log_prefix ? "journal" : "stderr";
}

static void __attribute__((format(printf, 2, 0)))
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char		msg[2048], stamp[40] = "";
	struct tm	tm;
	time_t		now;
	int		n;

	if (pri == LOG_LVL_DEBUG && log_verbose < 1)
		return;
	if (pri > log_level && pri != LOG_LVL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_prefix) {
		fprintf(stderr, "<%d>%s%s%s\n", pri, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
		return;
	}
	/* a file has no journal to date its lines */
	if (log_file != NULL && (now = time(NULL), localtime_r(&now, &tm)))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z ", &tm);
	n = fprintf(stderr, "%sftpd-agent: %s%s%s\n", stamp, msg,
	    suffix ? ": " : "", suffix ? suffix : "");
	if (log_file == NULL || n <= 0)
		return;
	log_file_size += n;
	if (log_file_size > LOG_FILE_MAX && log_file_reopen() == -1) {
		/* cannot start a new one: go on with the old (fd 2 stays) */
		log_file_size = 0;
	}
}

#define LOGFN(name, pri)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	ap;					\
	va_start(ap, fmt);				\
	vlog(pri, fmt, ap, NULL);			\
	va_end(ap);					\
}
LOGFN(log_debug, LOG_LVL_DEBUG)
LOGFN(log_info, LOG_LVL_INFO)
LOGFN(log_warnx, LOG_LVL_WARN)

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
