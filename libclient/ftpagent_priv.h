/*
 * libftpagent's insides, shared by its files and never installed:
 *
 *   ftpagent.c   sticky errors, one call and its reply, the escape hatch
 *   connect.c    finding, starting and connecting to the agent
 *   fs.c         sessions, listings and the file system methods
 *   transfer.c   transfers: fds, local files with .part, background
 *                jobs and the follower that renames their file
 *   jobs.c       job status, wait, cancel, list; events
 *
 * Internal names start with fa_: ftpctl links the library statically.
 */
#ifndef FTPAGENT_PRIV_H
#define FTPAGENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ftpagent.h"
#include "conn.h"
#include "ftpa_error.h"
#include "localdest.h"

#define DEFAULT_TIMEOUT_MS	60000
#define CANCEL_TIMEOUT_MS	1000

struct ftpagent {
	struct conn	 conn;
	char		*path;
	int		 timeout_ms;
	enum ftpagent_error err;
	char		*errmsg;	/* NULL: see err_fallback */
	char		*errkind;	/* NULL: the table name of err */
	char		*errdata;
	int		 ftp_code;
	bool		 subscribed;	/* keep notifications for next_event */
};

/* State of a transfer while its reply is awaited. */
struct xfer {
	struct ftpagent	*a;
	const struct ftpagent_xfer_opts *opts;
	const char	*session;
	const char	*direction;	/* "get" / "put" */
	json_t		*path;		/* the wire form */
	char		*job;		/* id learnt from job.progress */
	bool		 cancelled;
	enum conn_status cancel_st;	/* why sending job.cancel failed */
};

/* ---- errors (ftpagent.c) ---- */

void	fa_reset_error(struct ftpagent *a);
void	fa_set_error(struct ftpagent *a, enum ftpagent_error e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	fa_set_local_error(struct ftpagent *a, const char *what,
    const char *file, int e);
void	fa_set_conn_error(struct ftpagent *a, enum conn_status st,
    const char *method);
const char	*fa_errstr(int e, char *buf, size_t len);
enum ftpagent_error	fa_lib_error(enum ftpa_err k);
bool	fa_agent_said(const struct ftpagent *a, enum ftpagent_error e);

/* ---- calls (ftpagent.c) ---- */

/* False when an error is pending or the connection is gone. */
bool	fa_usable(struct ftpagent *a);
/* usable, and neither session nor path NULL. */
bool	fa_check_args(struct ftpagent *a, const char *session,
    const char *path);
void	fa_set_bad_reply(struct ftpagent *a, const char *method);
/* Calls method with params (stolen) and fds, waiting wait_ms (restarted
 * by a transfer's progress, x) for the reply; *result a new reference. */
bool	fa_rpc_wait(struct ftpagent *a, const char *method, json_t *params,
    const int *fds, size_t nfds, struct xfer *x, int wait_ms,
    json_t **result);
/* rpc_wait with the connection's timeout. */
bool	fa_rpc(struct ftpagent *a, const char *method, json_t *params,
    const int *fds, size_t nfds, struct xfer *x, json_t **result);
/* A call whose result does not matter. */
bool	fa_rpc_void(struct ftpagent *a, const char *method, json_t *params);

/* ---- replies (fs.c) ---- */

/* A copy of a wire string with its escapes turned back into bytes. */
char	*fa_bytes_dup(const char *s);
/* An array of a reply into elements of size bytes (parse: 0, -1 not
 * what it should be, -2 out of memory). */
bool	fa_parse_array(struct ftpagent *a, const char *method,
    const json_t *arr, size_t size, int (*parse)(const json_t *, void *),
    void (*clear)(void *), void **out, size_t *n);

/* ---- transfers (transfer.c) ---- */

/*
 * One transfer of fd. With job NULL it waits for the end (progress on);
 * else it starts the job in the background and *job receives its id.
 */
bool	fa_transfer(struct ftpagent *a, const char *method,
    const char *direction, const char *session, const char *path, int fd,
    int64_t offset, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result, char **job);
/* job is a place for the job's id. */
bool	fa_job_out_ok(struct ftpagent *a, char **job);
/* A download's local name resolved (localdest.h); a directory, a bad
 * name or a failed lookup is false with the error set. */
bool	fa_local_resolve(struct ftpagent *a, const char *local,
    struct localdest *d);

/* A download into a device, FIFO or socket d, written where it is;
 * with job, in the background. */
bool	fa_get_in_place(struct ftpagent *a, const char *session,
    const char *path, const struct localdest *d, int64_t offset,
    const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result, char **job);

/* A download's LOCAL.part, open for writing. */
struct part {
	int	 fd;
	bool	 had_part;	/* it was there before */
};
/*
 * Opens d's .part for a download at *offset: 0 truncates, > 0 truncates
 * there, < 0 resumes at its size (which *offset then holds), adopting a
 * shorter LOCAL as the .part when there is none. 1: *p open; 0: LOCAL
 * was complete already (result filled, nothing opened); -1: error set.
 */
int	fa_part_open(struct ftpagent *a, const char *session,
    const char *path, const struct localdest *d, int64_t *offset,
    struct ftpagent_xfer_result *result, struct part *p);
/* A download failed: a .part it made and left empty goes. */
void	fa_part_abandon(const struct localdest *d, bool had_part);

/* ---- jobs (jobs.c) ---- */

/* ftpagent_job_wait without waiting for a follower (the follower's own). */
bool	fa_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    struct ftpagent_job *j);

/* ---- background downloads (follow.c) ---- */

/* Waits (at most timeout_ms) for the follower of job, if any, to have
 * put its file in place. */
void	fa_follow_wait(const char *sock, const char *job, int timeout_ms);

#endif
