/*
 * The wire codec: the JSON objects of the protocol (ftpd-agent-protocol(7))
 * written and read in one place, by the daemon, by libftpagent and by
 * ftpctl --json. Entries, jobs, the error object and its data, session
 * state notices and the notification envelope.
 *
 * Writers take C values and return a new json_t (NULL only when out of
 * memory). Readers take a json_t and fill a struct whose strings are
 * borrowed from it (valid while the json_t lives), except wire_entry_read,
 * whose struct ftp_entry owns its strings. Names and server texts are
 * bytes: writers escape them to the wire form of bytename.h, readers of
 * entries give the bytes back; the borrowed strings of wire_job_read stay
 * in wire form (the caller unescapes what it keeps).
 */
#ifndef FTPA_WIRE_H
#define FTPA_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "ftp_list.h"
#include "ftpa_error.h"

/* Notification methods. */
#define WIRE_JOB_PROGRESS	"job.progress"
#define WIRE_JOB_FINISHED	"job.finished"
#define WIRE_SESSION_STATE	"session.state"
/* The member of job.progress params that holds the id of the transfer
 * request which asked for progress; only on the connection that sent it. */
#define WIRE_JOB_REQUEST	"request"

/* ---- entries ------------------------------------------------------------ */

/* {name, type, size, mtime, perm, target[, raw]}; unknowns are null. */
json_t	*wire_entry_json(const struct ftp_entry *);
/* 0 with *e filled (release with ftp_entry_clear), -1 when o is not an
 * entry, -2 when out of memory. An unknown type reads as OTHER. */
int	 wire_entry_read(const json_t *o, struct ftp_entry *e);
/* "file", ... back to the type; FTP_ENTRY_OTHER when unknown. */
enum ftp_entry_type	wire_entry_type(const char *name);

/* ---- errors --------------------------------------------------------------- */

/* What an error object {code, message, data} says. */
struct wire_error {
	enum ftpa_err	 kind;		/* FTPA_ERR_NONE: not an application
					   error (JSON-RPC level, or unknown) */
	const char	*kind_name;	/* data.kind as sent, or NULL */
	int		 code;		/* the JSON-RPC code */
	const char	*message;	/* never NULL */
	int		 ftp_code;	/* the server's reply code, or 0 */
	const char	*ftp_text;	/* its text (wire form), or NULL */
};

/*
 * The data member of an application error: extra (stolen; NULL: a new
 * object) with kind, and ftp_code and ftp_text when ftp_code is not 0.
 */
json_t	*wire_error_data(enum ftpa_err kind, int ftp_code,
	    const char *ftp_text, json_t *extra);
/* A whole error object {code, message, data}, as jobs carry it. */
json_t	*wire_error_json(enum ftpa_err kind, const char *message,
	    int ftp_code, const char *ftp_text);
void	 wire_error_read(const json_t *error, struct wire_error *);

/* ---- jobs ------------------------------------------------------------------- */

enum wire_job_state {
	WIRE_JOB_QUEUED,
	WIRE_JOB_RUNNING,
	WIRE_JOB_DONE,
	WIRE_JOB_FAILED,
	WIRE_JOB_CANCELLED,
	WIRE_JOB_STATE_LAST
};

/* "queued", ...; "?" when out of range. */
const char	*wire_job_state_name(enum wire_job_state);
/* -1 when unknown. */
int	 wire_job_state_from_name(const char *);

/* One failed file of a tree: its path below the root and why. */
struct wire_tree_failure {
	const char	*path;		/* bytes (writer), wire form (reader) */
	struct wire_error err;
};

#define WIRE_TREE_FAILURES_MAX	20	/* listed; the rest only counted */

/* The tree member of a tree job (transfer.tree). Counts unknown: 0. */
struct wire_tree {
	bool		 present;	/* a tree job */
	int64_t		 files;		/* transferred */
	int64_t		 files_total;	/* planned so far */
	int64_t		 dirs;		/* listed */
	int64_t		 skipped;
	int64_t		 deleted;
	int64_t		 failed;
	bool		 walking;	/* the walk goes on */
	bool		 dry_run;
	/* writer: failures[n_failures]; reader: failures_buf[n_failures],
	 * the first ones that read (failures stays NULL: copies of the
	 * struct stay valid) */
	const struct wire_tree_failure *failures;
	size_t		 n_failures;
	struct wire_tree_failure failures_buf[WIRE_TREE_FAILURES_MAX];
};

/* A job object. Unknown numbers are -1 where the comment says so. */
struct wire_job {
	const char	*id;
	int		 state;		/* enum wire_job_state, -1 unknown */
	bool		 put;		/* direction */
	bool		 direction_known;
	const char	*session;	/* NULL: null */
	const char	*path;		/* bytes (writer), wire form (reader) */
	const char	*local;		/* the local file, likewise; NULL:
					   none known (a pipe, inline data) */
	int64_t		 bytes;
	int64_t		 total;		/* -1 */
	double		 rate;		/* bytes/s */
	double		 seconds;	/* running time so far */
	double		 eta;		/* -1 */
	double		 started;	/* epoch seconds, -1 */
	double		 ended;		/* -1 */
	long		 uid;		/* -1 */
	int		 attempts;
	int64_t		 limit_rate;	/* bytes/s of its own limit, 0: none */
	struct wire_error err;		/* err.kind NONE and message NULL: null */
	struct wire_tree tree;		/* tree.present: a tree job */
};

json_t	*wire_job_json(const struct wire_job *);
/* 0 with *j filled (borrowed strings), -1 when o is not a job object. */
int	 wire_job_read(const json_t *o, struct wire_job *j);

/* ---- notifications -------------------------------------------------------- */

/* The params of session.state. */
json_t	*wire_session_state(const char *session, const char *state,
	    int connections, int busy);
/* A notification carrying params (borrowed: the caller keeps its
 * reference, so one params object can go to many clients). */
json_t	*wire_notification(const char *method, json_t *params);

/* A byte count off the wire: v when it is an integer >= 0, else
 * unknown. */
int64_t	wire_count(const json_t *v, int64_t unknown);

#endif
