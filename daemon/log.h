/* Daemon logging: stderr, with "<N>" priority prefixes under journald,
 * or a file fd 2 is pointed at. */
#ifndef FTPA_LOG_H
#define FTPA_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* A log file past this is moved to FILE.1 and started again. */
#define LOG_FILE_MAX	(1024 * 1024)

void	log_init(int verbosity, bool prefix);
/* Logs (and fd 2) to path from now on, appended to, its directories made
 * (0700); one older file is kept as path.1. 0, or -1 with errno. */
int	log_open_file(const char *path);
bool	log_to_file(void);
/* Detaching pointed fd 2 at /dev/null: the log goes nowhere. */
void	log_stderr_detached(void);
/* Where the log goes: the file's path, "journal", "stderr", or NULL
 * (nowhere). */
const char *log_where(void);
void	log_setverbose(int verbosity);
/* Messages above this priority (LOG_LVL_*) are not written. */
void	log_setlevel(int level);
int	log_getverbose(void);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));	/* appends strerror(errno) */
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
