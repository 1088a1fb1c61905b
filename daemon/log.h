/* Daemon logging: stderr, with "<N>" priority prefixes under journald. */
#ifndef FTPA_LOG_H
#define FTPA_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void	log_init(int verbosity, bool prefix);
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
