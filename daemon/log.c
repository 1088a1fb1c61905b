#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int	log_verbose = 0;	/* 0: info, 1+: debug */
static bool	log_prefix;
static int	log_level = LOG_LVL_INFO;

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

static void __attribute__((format(printf, 2, 0)))
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	msg[2048];

	if (pri == LOG_LVL_DEBUG && log_verbose < 1)
		return;
	if (pri > log_level && pri != LOG_LVL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_prefix)
		fprintf(stderr, "<%d>%s%s%s\n", pri, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "ftpd-agent: %s%s%s\n", msg,
		    suffix ? ": " : "", suffix ? suffix : "");
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
