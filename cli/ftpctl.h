/*
 * ftpctl's insides, shared by its files:
 *
 *   ftpctl.c       main, the command table, errors and exit statuses,
 *                  targets and credentials, the progress bar and ^C
 *   cmd_session.c  open, close, sessions, call, ping, version
 *   cmd_fs.c       ls, stat, mkdir, rm, rmdir, mv, chmod, touch, quote
 *   cmd_xfer.c     get, put
 *   cmd_tree.c     mirror, get -r, put -r (trees)
 *   cmd_jobs.c     jobs, wait, cancel
 *   cmd_agent.c    agent status|reload|stop
 *   many.c         what commands of several targets share
 *
 * The work itself is libftpagent's; these files parse arguments and
 * print.
 */
#ifndef FTPCTL_H
#define FTPCTL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "ftpagent.h"
#include "output.h"
#include "target.h"
#include "url.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_AGENT = 3,
	EXIT_CONNECT = 4,
	EXIT_NOT_FOUND = 5,
	EXIT_LOCAL_IO = 6,
	EXIT_TIMEOUT = 7,
	EXIT_CANCELLED = 8,
};

#define STDIN_MAX	(16 * 1024 * 1024)
#define WAIT_POLL_MS	500	/* wait: ask for the job's state when no
				   event came for this long */
#define DEFAULT_TIMEOUT_MS 60000 /* the library's, when no -t */
#define AGENT_CONNECT_TIMEOUT_S	30	/* the agent's defaults (SPEC) */
#define AGENT_REPLY_TIMEOUT_S	60

struct ctl {
	const char	*socket;	/* NULL: the library's default lookup */
	bool		 json;
	bool		 quiet;
	bool		 autostart;
	int		 timeout_ms;	/* 0: the library's default */
	struct ftpagent	*fa;		/* connected on first use */
	bool		 unreached;	/* connecting to the agent failed */
	struct ftpagent_open_opts sopts; /* for sessions URL targets open */
	double		 connect_timeout; /* --connect-timeout; 0: the agent's */
	int64_t		 limit_rate;	/* get/put/mirror --limit-rate; 0: none */
	int		 segments;	/* get -n; 0 or 1: one connection */
	int64_t		 session_limit_rate; /* open --limit-rate; -1: the
					   agent's default */
};

struct command {
	const char	*name;
	int		(*run)(struct ctl *, const struct command *, int, char **);
	const char	*usage;
};

/* set by ^C while a transfer or a wait runs */
extern volatile sig_atomic_t interrupted;

struct creds {
	char	*user;		/* NULL: anonymous */
	char	*password;	/* NULL: none */
};

struct xfer_ui {
	struct ftpagent		*fa;	/* its waits look at interrupted */
	bool			 bar;
	struct output_progress	 progress;
};

/* ---- errors and output (ftpctl.c) ---- */

void	emit_json(json_t *doc);
/* From now on emit_json appends to arr (taking each document), until
 * json_gather(NULL): one --json document for several targets. */
void	json_gather(json_t *arr);
int	cmd_error(struct ctl *c, int status, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	usage_error(struct ctl *c, const struct command *cmd, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
int	status_of(enum ftpagent_error e, const char *kind);
int	exit_status(struct ftpagent *fa);
int	fail(struct ctl *c, const char *ctx);
int	bad_option(struct ctl *c, const struct command *cmd, int ch,
    char **argv);
/* --limit-rate RATE into *bps: 0, or the exit status after reporting. */
int	limit_rate_option(struct ctl *c, const struct command *cmd,
    const char *arg, int64_t *bps);
char	*read_stdin(size_t max);

/* ---- the agent, targets and credentials (ftpctl.c) ---- */

bool	agent(struct ctl *c);
bool	resolve_creds(const struct ftp_url *u, const char *stdin_pw,
    struct creds *cr);
void	creds_clear(struct creds *cr);
int	parse_target(struct ctl *c, const struct command *cmd,
    const char *arg, struct target *t, char **display);
int	target_session(struct ctl *c, const struct target *t,
    const char *display, char **session);

/* ---- opening sessions (cmd_session.c) ---- */

/* Takes the session options (--tls, --insecure, --ca-file, --active,
 * --list-tz, --connect-timeout) out of the argv of a command with URL
 * targets into c->sopts: 0, or the exit status after reporting. */
int	url_session_options(struct ctl *c, const struct command *cmd,
    int *argc, char **argv);
/* session.open of url with o, cr the credentials (for messages), waiting
 * as long as the agent may take with the server: 0 with *session, or the
 * exit status after reporting (ctx: the prefix of the agent's error). */
int	open_session(struct ctl *c, const char *url, const struct creds *cr,
    const char *host, const struct ftpagent_open_opts *o, const char *ctx,
    char **session);

/* ---- transfers on the terminal (ftpctl.c) ---- */

void	catch_sigint(void);
bool	want_bar(const struct ctl *c);
void	xfer_begin(struct ctl *c, struct xfer_ui *ui,
    struct ftpagent_xfer_opts *o, const char *label);
void	xfer_end(struct xfer_ui *ui);
json_t	*xfer_json(const char *remote, const char *local,
    const struct ftpagent_xfer_result *r);

/* ---- commands of several targets (many.c) ---- */

struct many {
	int		 n, failed;
	int		 status;	/* the first failure's */
	json_t		*docs;		/* --json: what the targets printed */
	size_t		 ndocs;		/* of them, named already */
};

/* Starts; with --json, gathers what the targets print. */
void	many_begin(struct ctl *c, struct many *m);
/* One target ended with status: false when the next need not run. */
bool	many_done(struct many *m, const char *display, int status);
/* Ends: the --json document, the count of failures; the exit status. */
int	many_end(struct ctl *c, struct many *m);
/* The local directory several targets land in: 0 when it is one, or
 * was made (only when dir ends with '/'); else the status, reported. */
int	many_dest_dir(struct ctl *c, const char *dir);

/* ---- the commands: (struct ctl *, const struct command *, argc, argv) ---- */

/* cmd_session.c */
int	cmd_call(struct ctl *, const struct command *, int, char **);
int	cmd_close(struct ctl *, const struct command *, int, char **);
int	cmd_open(struct ctl *, const struct command *, int, char **);
int	cmd_ping(struct ctl *, const struct command *, int, char **);
int	cmd_sessions(struct ctl *, const struct command *, int, char **);
int	cmd_version(struct ctl *, const struct command *, int, char **);
/* cmd_fs.c */
int	cmd_chmod(struct ctl *, const struct command *, int, char **);
int	cmd_ls(struct ctl *, const struct command *, int, char **);
int	cmd_mkdir(struct ctl *, const struct command *, int, char **);
int	cmd_mv(struct ctl *, const struct command *, int, char **);
int	cmd_quote(struct ctl *, const struct command *, int, char **);
int	cmd_rm(struct ctl *, const struct command *, int, char **);
int	cmd_rmdir(struct ctl *, const struct command *, int, char **);
int	cmd_stat(struct ctl *, const struct command *, int, char **);
int	cmd_touch(struct ctl *, const struct command *, int, char **);
/* cmd_xfer.c */
int	cmd_get(struct ctl *, const struct command *, int, char **);
int	cmd_put(struct ctl *, const struct command *, int, char **);
/* cmd_tree.c */
int	cmd_mirror(struct ctl *, const struct command *, int, char **);
/* get -r (DIR made when missing) and put -r, after get's options */
int	tree_copy(struct ctl *, const struct command *, bool put, bool bg,
    int, char **);
/* get of the files of target arg's directory that match its last name
 * (a glob), straight into the local directory dir (made when missing) */
int	tree_glob(struct ctl *, const struct command *, const char *arg,
    const char *dir, bool bg);
/* cmd_agent.c */
int	cmd_agent(struct ctl *, const struct command *, int, char **);
/* cmd_jobs.c */
int	cmd_cancel(struct ctl *, const struct command *, int, char **);
int	cmd_jobs(struct ctl *, const struct command *, int, char **);
int	cmd_wait(struct ctl *, const struct command *, int, char **);

#endif
