/*
 * ftpd-agent.conf: "key = value" lines, '#' starts a comment. Every key,
 * its type and range is in the table of conf.c; ftpd-agent.conf(5)
 * describes them. Unknown keys and bad values are errors naming the file
 * and line. The parser is pure (no I/O beyond reading the file, no
 * logging), so the unit suite can drive it.
 */
#ifndef FTPA_CONF_H
#define FTPA_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct agent_conf {
	/* the socket (read at start; a change needs a restart) */
	char		*socket;		/* NULL: the mode's default */
	int		 socket_mode;		/* -1: the mode's default */
	char		*socket_group;		/* NULL: "ftpd-agent" if it exists
						   (system mode) */
	size_t		 max_message;		/* bytes of one JSON message */
	/* limits */
	unsigned	 max_clients;		/* client connections, all users */
	unsigned	 max_clients_per_uid;
	unsigned	 max_sessions;
	unsigned	 max_sessions_per_uid;
	unsigned	 max_jobs;		/* queued or running */
	unsigned	 max_jobs_per_uid;
	/* defaults of session.open */
	int		 max_connections;	/* per session */
	double		 connect_timeout;
	double		 reply_timeout;
	double		 data_timeout;
	double		 keepalive;
	double		 idle_timeout;
	int		 retries;
	double		 retry_delay;
	int		 limit_rate;		/* bytes/s a session moves at most, 0: any */
	char		*ca_file;		/* NULL: the system store only */
	int		 tls_min_version;	/* 12 or 13 */
	/* jobs and logging */
	double		 job_retention;		/* seconds a finished job is kept */
	unsigned	 job_retention_max;	/* finished jobs kept per uid */
	int		 log_level;		/* LOG_LVL_* of log.h */
};

/* The settings in force, read-only; all zero until the first
 * conf_install. The pointer stays valid; what it points to changes at
 * each install. */
const struct agent_conf	*conf_current(void);
/* Makes *c the settings in force, taking its strings (*c is left
 * zeroed), and frees the ones it replaces. NULL: frees them (at exit). */
void	conf_install(struct agent_conf *c);
/* A reload: conf_install(next), except that the keys read only at start
 * keep the values in force; conf_keep_restart_keys lists in buf those the
 * file changed. */
void	conf_install_reload(struct agent_conf *next, char *buf, size_t len);

/* A session.open option that is a key of the file too (connect_timeout,
 * retries, ...): the value in force is its default. */
struct conf_session_opt {
	const char	*name;
	bool		 integer;	/* an int (i), else seconds (d) */
	double		 min, max;	/* the file's range */
	int		*i;		/* where the value goes */
	double		*d;
};
/* The n-th session.open option (from 0), its field in *c set to the value
 * in force; false past the last. Their order is the order in which
 * session.open checks them. */
bool	conf_session_opt(size_t n, struct agent_conf *c,
	    struct conf_session_opt *o);

void	conf_defaults(struct agent_conf *);
void	conf_free(struct agent_conf *);
/* Parses text (len bytes) over the values already in *c. name is the
 * file's name for messages. 0, or -1 with "name:line: reason" in err. */
int	conf_parse(struct agent_conf *c, const char *name, const char *text,
	    size_t len, char *err, size_t errlen);
/* Defaults, then the file. A missing file is an error only when
 * must_exist. 0, or -1 with the reason in err. */
int	conf_load(struct agent_conf *c, const char *path, bool must_exist,
	    char *err, size_t errlen);
/* A reload: the keys read only at start (the socket) keep in *next the
 * values of *cur (which gives up their strings); those whose values the
 * file changed are listed, comma-separated, in buf ("" when none). */
void	conf_keep_restart_keys(struct agent_conf *next, struct agent_conf *cur,
	    char *buf, size_t len);

#endif
