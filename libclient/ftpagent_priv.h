/*
 * libftpagent's insides, shared by its files and never installed:
 *
 *   core.c       calls in flight, routing what the agent sends, deadlines,
 *                driving the socket; the blocking face's wait
 *   conn.c       the transport: framing, the output queue with fds
 *   ftpagent.c   sticky errors, the escape hatch (call)
 *   connect.c    finding and connecting to the agent
 *   autostart.c  starting a user agent when none answers
 *   fs.c         sessions, listings and the file system methods
 *   transfer.c   transfers of fds and local files, with .part
 *   follow.c     who renames a background download: the agent, or
 *                the follower
 *   jobs.c       job status, wait, cancel, list
 *   events.c     subscriptions and notifications
 *   serve.c      what the agent asks of a call: its requests answered,
 *                its notices (tree.item) handed over
 *   tree.c       trees (transfer.tree) and their local side
 *   treebg.c     a tree in the background: its follower process
 *   local.c      local.* beneath a tree's directory (local.h)
 *
 * Each operation is written once, as its send form (ftpagent_async.h):
 * an struct fa_op says what its replies mean. The blocking function is
 * that send, fa_sync_wait, and the results taken out of the reply.
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
#include "ftpagent_async.h"
#include "conn.h"
#include "ftpa_error.h"
#include "localdest.h"

#define DEFAULT_TIMEOUT_MS	60000

struct fa_call;
struct fa_calls;

/* What the agent said about a feature: not asked yet, or no, yes. */
enum fa_ask {
	FA_ASK_UNKNOWN,
	FA_ASK_NO,
	FA_ASK_YES,
};

struct ftpagent {
	struct conn	 conn;
	char		*path;
	int		 timeout_ms;
	double		 connect_timeout; /* session.open's; 0: none sent */
	int64_t		 session_limit_rate; /* session.open's limit_rate;
					   -1: none sent */
	int64_t		 limit_rate;	/* of transfers started; 0: none sent */
	int		 segments;	/* of downloads into files started;
					   0: none sent */
	enum ftpagent_error err;
	char		*errmsg;	/* NULL: the table name of err */
	char		*errkind;	/* NULL: the table name of err */
	char		*errdata;
	int		 ftp_code;
	bool		 subscribed;	/* notifications are the caller's */
	bool		 names_requests; /* a job.progress had "request" */
	enum fa_ask	 renames;	/* the agent names a background
					   download's file (follow.c) */
	enum fa_ask	 seg_resumes;	/* ... continues a segmented one */
	/* the core (core.c) */
	struct fa_calls	*calls;
	json_int_t	 next_id;
	ftpagent_watch_cb watch;
	void		*watch_arg;
	unsigned	 watched;	/* events last told to watch */
	int64_t		 watched_deadline;
	ftpagent_event_cb event_cb;
	void		*event_arg;
	int		 depth;		/* callbacks running */
	bool		 freeing;	/* ftpagent_free ran inside one */
	volatile sig_atomic_t *interrupt; /* ftpagent_set_interrupt's flag */
};

/*
 * A reply being built, and the strings behind its const members (pub
 * first: a callback's struct ftpagent_reply * is one of these). kind is
 * set only when the agent named the error (fa_agent_said).
 */
struct fa_reply {
	struct ftpagent_reply pub;
	char		*msg;
	char		*kind;
	char		*data;
	struct ftpagent_tree *tree;	/* send_tree (ftpagent_reply_take_tree) */
};

/*
 * The answer to a request of the agent (serve.c): a result, with at most
 * one descriptor (ours: closed once queued), or an error.
 */
struct fa_answer {
	json_t		*result;	/* NULL: an error */
	int		 fd;		/* -1: none */
	bool		 fd_lent;	/* fd is someone else's: not closed */
	int		 code;		/* the error's JSON-RPC code */
	const char	*kind;		/* the error's data.kind (static) */
	char		 message[256];
};

/*
 * What an operation does with its replies (one per operation, static).
 * A multi-step operation keeps its named step in its state and sends
 * the next request with fa_call_next.
 */
#define FA_DONE		0	/* the call is complete: r holds its outcome */
#define FA_NEXT		1	/* another request went out for it */
struct fa_op {
	const char	*name;
	/* A result came: fill r and FA_DONE, or FA_NEXT; -1: not what it
	 * should be, -2: out of memory (the core sets the error). NULL: the
	 * result is {} and ignored. */
	int	(*result)(struct ftpagent *, struct fa_call *, json_t *result,
		    struct fa_reply *r);
	/* An error reply came, r holds it: FA_NEXT when the operation goes
	 * on regardless. NULL: the error is the outcome. */
	int	(*error)(struct ftpagent *, struct fa_call *,
		    struct fa_reply *r);
	/* The call ends, however (also when its first send failed, then
	 * without a callback): the last word on r, and the state freed.
	 * NULL: free(state). */
	void	(*end)(struct ftpagent *, struct fa_call *, struct fa_reply *r);
	/* A waited transfer (progress, job cancel): whether job object p
	 * may be its job (progress from an agent that does not say which
	 * request it answers). NULL: not a transfer. */
	bool	(*owns)(const struct fa_call *, const json_t *p);
	/* job.progress of the call's job, in place of c->progress: false
	 * cancels the job. NULL: c->progress. */
	bool	(*progress)(struct ftpagent *, struct fa_call *,
		    const json_t *job);
	/* A request of the agent naming this call in params.request (a
	 * tree's local.*): fill ans, which the core sends. NULL: the call
	 * serves none (-32601). */
	void	(*serve)(struct ftpagent *, struct fa_call *, const char *method,
		    const json_t *params, struct fa_answer *ans);
	/* A notification naming this call other than job.progress
	 * (tree.item). NULL: ignored. */
	void	(*notice)(struct ftpagent *, struct fa_call *,
		    const char *method, const json_t *params);
	/* A call that waits on work of this library's own, not on the
	 * agent (fa_call_local): asked at once and then every FA_POLL_MS,
	 * FA_DONE with r filled, or FA_NEXT to be asked again. NULL: a call
	 * of the agent's. */
	int	(*poll)(struct ftpagent *, struct fa_call *,
		    struct fa_reply *r);
};

#define FA_POLL_MS	5	/* how often fa_call_local's poll is asked */

/* A call in flight. */
struct fa_call {
	uint64_t	 id;		/* the caller's */
	json_int_t	 wire;		/* the request in flight */
	const struct fa_op *op;
	void		*state;		/* the operation's */
	int		 timeout_ms;	/* per request; progress restarts it */
	int64_t		 started;	/* conn_now_ms() at the send */
	/* transfers */
	char		*job;		/* learnt from job.progress */
	ftpagent_progress_cb progress;
	void		*progress_arg;
	bool		 cancelling;	/* progress said stop: job.cancel sent */
	/* the core's */
	ftpagent_reply_cb cb;		/* NULL once it has run */
	void		*cb_arg;
	int64_t		 deadline;
	int64_t		 limit;		/* fa_call_local: when it times out */
	bool		 zombie;	/* callback ran; waits to cancel its job */
	bool		 touched;	/* progress_call's mark */
	struct fa_call	*hnext;		/* hash chain */
	struct fa_call	*prev, *next;	/* by deadline */
};

/* The blocking face's wait for one call (core.c). */
struct fa_sync {
	bool		 done;
	struct ftpagent_reply r;	/* its results, the caller's */
};

/* ---- errors (ftpagent.c) ---- */

void	fa_reset_error(struct ftpagent *a);
void	fa_set_error(struct ftpagent *a, enum ftpagent_error e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	fa_set_local_error(struct ftpagent *a, const char *what,
    const char *file, int e);
void	fa_set_conn_error(struct ftpagent *a, enum conn_status st,
    const char *method);
/* What went wrong with the connection, in words (in buf or static). */
const char	*fa_conn_text(enum conn_status st, int err, char *buf,
    size_t len);
/* The sticky error from a call's outcome; kind NULL: not the agent's. */
void	fa_set_reply_sticky(struct ftpagent *a, enum ftpagent_error e,
    const char *msg, const char *kind, int ftp_code, const char *data);
const char	*fa_errstr(int e, char *buf, size_t len);
/* The kind to report for e when the agent named kind: its own for an
 * RPC error (params, method, ...), else e's. */
const char	*fa_kind_name(enum ftpagent_error e, const char *kind);
/* The protocol name of e ("ftp", ..., "agent"). Static. */
const char	*fa_error_name(enum ftpagent_error e);
enum ftpagent_error	fa_lib_error(enum ftpa_err k);
bool	fa_agent_said(const struct ftpagent *a, enum ftpagent_error e);
/* Compact JSON text of v (free()), or NULL when out of memory. */
char	*fa_dump_json(const json_t *v);

/* False when an error is pending or the connection is gone. */
bool	fa_usable(struct ftpagent *a);
/* usable, and neither session nor path NULL. */
bool	fa_check_args(struct ftpagent *a, const char *session,
    const char *path);

/* ---- the core (core.c) ---- */

bool	fa_calls_init(struct ftpagent *a);
/* Ends every call, callbacks with FTPAGENT_ERR_CANCELLED and why. */
void	fa_calls_cancel_all(struct ftpagent *a, const char *why);
void	fa_calls_free(struct ftpagent *a);
/* connect.c: a connection to path; false (a->path NULL when out of
 * memory) when nothing answers. */
bool	fa_try_connect(struct ftpagent *a, const char *path, int timeout_ms);
/* autostart.c: starts "ftpd-agent --user -S path" and connects, or sets
 * the error that says what was started and how it ended. */
void	fa_autostart_connect(struct ftpagent *a, const char *path,
	    int ctimeout);
/* Frees a for real (connect.c), once no callback runs. */
void	fa_free_now(struct ftpagent *a);
void	fa_watch_update(struct ftpagent *a);

/* A new call of op (NULL with the error set). */
struct fa_call	*fa_call_new(struct ftpagent *a, const struct fa_op *op,
    ftpagent_reply_cb cb, void *arg);
/*
 * Sends c's first request: method with params (stolen; NULL: out of
 * memory) and fds (duplicated). Returns the call id, or 0 with the
 * sticky error set and c gone (its op's end has run, its callback not).
 */
uint64_t	fa_call_start(struct ftpagent *a, struct fa_call *c,
    const char *method, json_t *params, const int *fds, size_t nfds);
/*
 * Starts c, whose op has a poll, without a request: the poll is asked
 * from ftpagent_process until it is done or c's timeout has passed
 * (then FTPAGENT_ERR_TIMEOUT), at most FA_POLL_MS apart (the call's
 * deadline, which ftpagent_timeout reports). Returns the call id, or 0
 * with the sticky error set and c gone.
 */
uint64_t	fa_call_local(struct ftpagent *a, struct fa_call *c);
/* A call that cannot start: its end runs with the sticky error. */
void	fa_call_drop(struct ftpagent *a, struct fa_call *c);
/* From an op's result or error: c's next request. FA_NEXT, or FA_DONE
 * with the error in r. */
int	fa_call_next(struct ftpagent *a, struct fa_call *c, struct fa_reply *r,
    const char *method, json_t *params, const int *fds, size_t nfds);
/* job.cancel whose reply nobody awaits. */
void	fa_cancel_job(struct ftpagent *a, const char *job);
/* The live call whose request in flight has id wire, or NULL. */
struct fa_call	*fa_call_find(struct ftpagent *a, json_int_t wire);
/* The agent is at work for c: its inactivity timeout starts again. */
void	fa_call_touch(struct ftpagent *a, struct fa_call *c);

void	fa_reply_init(struct fa_reply *r, const struct fa_call *c);
void	fa_reply_error(struct fa_reply *r, enum ftpagent_error e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	fa_reply_clear(struct fa_reply *r);
/* Frees what the members of an operation's outcome hold. */
void	fa_results_free(struct ftpagent_reply *p);

/* The blocking face: fa_sync_cb and &sync as a send's callback, then
 * fa_sync_wait(a, the send's id, &sync): true when the call succeeded,
 * else false with the sticky error set. fa_sync_clear in every case. */
void	fa_sync_cb(struct ftpagent *a, struct ftpagent_reply *r, void *arg);
bool	fa_sync_wait(struct ftpagent *a, uint64_t id, struct fa_sync *s);
void	fa_sync_clear(struct fa_sync *s);
/* fa_sync_wait and fa_sync_clear, for calls without results. */
bool	fa_sync_void(struct ftpagent *a, uint64_t id, struct fa_sync *s);
/* One wait on the socket (at most max_ms; < 0: the calls' deadlines
 * only) and what it brought processed. False once closed. */
bool	fa_poll_once(struct ftpagent *a, int max_ms);

/* ---- what the agent asks (serve.c) ---- */

/* A request of the agent, answered (never silence). */
void	fa_serve_request(struct ftpagent *a, const struct jsonrpc_msg *m);
/* A notification naming a call (params.request) to that call's op;
 * true when it was one such. */
bool	fa_serve_notice(struct ftpagent *a, const struct jsonrpc_msg *m);
void	fa_answer_init(struct fa_answer *ans);
/* ans becomes an error of application kind k, or (k FTPA_ERR_NONE) of
 * JSON-RPC code with data.kind rpc_kind. */
void	fa_answer_error(struct fa_answer *ans, enum ftpa_err k, int code,
    const char *rpc_kind, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void	fa_answer_clear(struct fa_answer *ans);

/* ---- replies (fs.c, jobs.c) ---- */

/* A copy of a wire string with its escapes turned back into bytes. */
char	*fa_bytes_dup(const char *s);
/* An array of a reply into elements of size bytes: 0, -1 not what it
 * should be, -2 out of memory (parse answers the same). */
int	fa_parse_array(const json_t *arr, size_t size,
    int (*parse)(const json_t *, void *), void (*clear)(void *),
    void **out, size_t *n);
/* An entry object into *e (ftpagent_entry_clear): 0, -1, -2. */
int	fa_parse_entry(const json_t *o, struct ftpagent_entry *e);
/* A job object into *j: 0, -1, -2. */
int	fa_parse_job(const json_t *o, struct ftpagent_job *j);
/* A notification to the event callback (events.c). */
void	fa_event_deliver(struct ftpagent *a, const struct jsonrpc_msg *m);

/* ---- transfers (transfer.c, follow.c) ---- */

/* A download's local name resolved (localdest.h); a directory, a bad
 * name or a failed lookup is false with the error set. */
bool	fa_local_resolve(struct ftpagent *a, const char *local,
    struct localdest *d);
/* A download failed: a .part it made and left empty goes (one with data
 * stays for a resume, a segmented one's with the agent's record of its
 * ranges). */
void	fa_part_abandon(const struct localdest *d, bool had_part);
/* A regular file's size as the offset to resume at: 0, or errno (EINVAL:
 * not a regular file). */
int	fa_fd_size(int fd, int64_t *size);
/* Whether a download into fd may go in ranges; whether fd holds what a
 * segmented download left (its record at the end). xferlocal.c. */
bool	fa_fd_segmentable(int fd);
bool	fa_fd_has_record(int fd);
/* Whether rpc.info's result names feature among its "features":
 * FA_FEATURE_RENAME, the agent renames a background download's .part for
 * this caller (transfer.get "rename"); FA_FEATURE_SEG_RESUME, it
 * continues a segmented download from its record (transfer.get
 * "resume"). */
#define FA_FEATURE_RENAME	"transfer.get.rename"
#define FA_FEATURE_SEG_RESUME	"transfer.get.segments.resume"
bool	fa_info_feature(const json_t *info, const char *feature);
/* transfer.get's "rename" for d (dir_fd 1, *dir_fd opened for it and
 * the caller's to close), or NULL when d cannot be named so (the
 * follower's way then). */
json_t	*fa_rename_param(const struct localdest *d, bool had_part,
    int *dir_fd);
/* Starts the follower that renames d's .part once job has ended (or
 * abandons it: fa_part_abandon). */
bool	fa_spawn_follower(struct ftpagent *a, const char *job,
    const struct localdest *d, bool had_part);
/* Whether job object p may be about a transfer of session, direction
 * and path (wire form), as far as p says (an op's owns). */
bool	fa_job_like(const json_t *p, const char *session, bool put,
    const json_t *path);
/* get_file and get_file_background, a FIFO waited for fifo_ms. */
uint64_t	fa_send_get_file(struct ftpagent *a, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    bool background, int fifo_ms, ftpagent_reply_cb cb, void *arg);

/* ---- trees (tree.c, treebg.c) ---- */

/* A tree's arguments (send_tree, tree_background): false with the
 * error set. */
bool	fa_tree_args(struct ftpagent *a, const char *session,
    const char *path, int dir, const struct ftpagent_tree_opts *o);

/* ---- jobs (jobs.c) ---- */

/* ftpagent_job_wait without waiting for a follower (the follower's own). */
bool	fa_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    struct ftpagent_job *j);

/* ---- background downloads (follow.c) ---- */

#define FA_DETACH_KEEP	4
/*
 * Forks a detached process (double fork and setsid: no zombie, no
 * terminal) that holds only keep[0..n-1] (n <= FA_DETACH_KEEP) of the
 * caller's descriptors, and /dev/null for the rest of 0-2. Returns 0 in
 * it (which must end with _exit), 1 in the caller once it runs, -1 with
 * errno when it could not be made.
 */
int	fa_detach(const int *keep, size_t n);

/* Waits (at most timeout_ms) for the follower of job, if any, to have
 * put its file in place. */
void	fa_follow_wait(const char *sock, const char *job, int timeout_ms);

#endif
