/*
 * libftpagent's non-blocking face: the same connection and the same
 * operations as <ftpagent.h>, driven by the caller's event loop.
 *
 * Every operation of the blocking API has a send form here,
 * ftpagent_send_<op>: it checks its arguments, queues the request and
 * returns at once with a call id (never 0), or 0 with the connection's
 * sticky error set (bad arguments, not connected, out of memory). The
 * call's callback runs exactly once, from ftpagent_process (or from
 * whatever drives the connection: a blocking call, ftpagent_cancel,
 * ftpagent_free), with the outcome in a struct ftpagent_reply. Any
 * number of calls may be in flight on one connection; the agent answers
 * them in any order.
 *
 * The blocking functions are this core plus a poll() loop: a program may
 * mix both on one connection. A blocking call then also runs the
 * callbacks of other calls whose replies arrive while it waits.
 *
 * Driving a connection:
 *
 *	fd = ftpagent_fd(a);
 *	watch fd for ftpagent_events(a)	(FTPAGENT_READ, FTPAGENT_WRITE)
 *	wake at ftpagent_timeout(a)	(milliseconds, -1: no deadline)
 *	ftpagent_process(a, what_was_ready);	(0 when the timer fired)
 *
 * and after every send, or simply from a watch callback
 * (ftpagent_set_watch), update what is watched. Adapters that do this
 * for libev and GLib are installed next to this header:
 * <ftpagent_libev.h>, <ftpagent_glib.h>.
 *
 * Connecting stays blocking (ftpagent_connect): a Unix socket connects
 * or fails at once; only a full listen queue or FTPAGENT_AUTOSTART make
 * it wait, at most the timeout given.
 *
 * Timeouts: each call has one, the connection's (ftpagent_set_timeout)
 * unless said otherwise. A transfer's is an inactivity timeout that its
 * progress restarts. A call whose timeout passes completes with
 * FTPAGENT_ERR_TIMEOUT (a transfer's job is cancelled on the agent).
 *
 * Since libftpagent.so.1 (LIBFTPAGENT_LT_VERSION 2:0:1).
 */
#ifndef FTPAGENT_ASYNC_H
#define FTPAGENT_ASYNC_H

#include "ftpagent.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the outcome of a call -------------------------------------------- */

/*
 * What a callback receives. On success error is FTPAGENT_OK and the
 * members of the operation are filled; the others are zero (NULL, 0,
 * and -1 for numbers that say "unknown" in <ftpagent.h>).
 *
 * The reply and everything it points to is freed when the callback
 * returns, except what the callback takes: a pointer member it sets to
 * NULL (an array's count with it to 0; for entry and job, it may copy
 * the struct and zero the reply's) is the callback's to free as
 * <ftpagent.h> says (free, ftpagent_entries_free, ftpagent_entry_clear,
 * ftpagent_job_clear, ftpagent_jobs_free).
 */
struct ftpagent_reply {
	uint64_t	 call;		/* the id the send returned */
	/* why it failed; FTPAGENT_OK on success */
	enum ftpagent_error error;
	const char	*error_message;	/* "" on success */
	const char	*error_kind;	/* as ftpagent_error_kind() */
	int		 ftp_code;	/* the server's reply code, or 0 */
	const char	*error_data;	/* as ftpagent_error_data(), or NULL */

	char		*session;	/* send_open: the session id */
	struct ftpagent_entry *entries;	/* send_list */
	size_t		 n_entries;
	struct ftpagent_entry entry;	/* send_stat */
	int		 code;		/* send_quote: the reply code */
	char		*text;		/* send_quote: its text (bytes) */
	struct ftpagent_xfer_result xfer; /* send_get_*, send_put_* */
	char		*job_id;	/* send_*_background; NULL when a
					   resumed download was complete */
	struct ftpagent_job job;	/* send_job_status, send_job_wait */
	struct ftpagent_job *jobs;	/* send_job_list */
	size_t		 n_jobs;
	char		*json;		/* send_call: the result as JSON */
};

typedef void (*ftpagent_reply_cb)(struct ftpagent *, struct ftpagent_reply *,
    void *arg);

/* ---- driving the connection ------------------------------------------- */

#define FTPAGENT_READ	0x1
#define FTPAGENT_WRITE	0x2

/* The connection's socket, or -1 when it is closed. It is non-blocking;
 * read and write it only through this library. */
FTPAGENT_API int ftpagent_fd(const struct ftpagent *);
/* What to wait for now: FTPAGENT_READ while open, | FTPAGENT_WRITE while
 * requests wait to be written. 0 once closed. */
FTPAGENT_API unsigned ftpagent_events(const struct ftpagent *);
/* Milliseconds until the earliest call deadline (0: passed already), or
 * -1 when none is in flight (nor a cancelled transfer whose job id is
 * awaited, to cancel it on the agent). */
FTPAGENT_API int ftpagent_timeout(const struct ftpagent *);
/*
 * Does the work the socket is ready for (revents: FTPAGENT_READ,
 * FTPAGENT_WRITE, both, or 0 for none): writes what is queued, reads
 * and dispatches what has come, runs the callbacks of completed calls,
 * of notifications, and of calls whose deadline has passed. Never
 * blocks. Returns false once the connection has failed: the sticky
 * error is FTPAGENT_ERR_AGENT and every pending callback has run with
 * it.
 */
FTPAGENT_API bool ftpagent_process(struct ftpagent *, unsigned revents);
/* Calls in flight (sent, callback not yet run). */
FTPAGENT_API size_t ftpagent_pending(const struct ftpagent *);

/*
 * Called whenever what ftpagent_events() or ftpagent_timeout() answer
 * may have changed: at once when set, after every ftpagent_process,
 * after a send or a cancel that changed them, and with events 0 (stop
 * watching fd) when the connection closes or is freed. timeout_ms is
 * relative to now, -1 for none (a cancelled transfer waiting to cancel
 * its job on the agent has a deadline too). An adapter's hook; NULL
 * removes it. It must not call back into the library.
 */
typedef void (*ftpagent_watch_cb)(void *arg, int fd, unsigned events,
    int timeout_ms);
FTPAGENT_API void ftpagent_set_watch(struct ftpagent *, ftpagent_watch_cb,
    void *arg);

/*
 * Notifications (after a subscription) go to cb, the event freed after
 * it returns (except what it takes, as for replies). Without a callback
 * they are kept for ftpagent_next_event. NULL goes back to keeping.
 */
typedef void (*ftpagent_event_cb)(struct ftpagent *, struct ftpagent_event *,
    void *arg);
FTPAGENT_API void ftpagent_set_event_cb(struct ftpagent *, ftpagent_event_cb,
    void *arg);

/*
 * Cancels a call in flight: its callback runs now, with
 * FTPAGENT_ERR_CANCELLED, and its reply, when it comes, is dropped. A
 * transfer's job is cancelled on the agent too (once its id is known):
 * a download keeps what it wrote. False when no such call is in flight
 * (its callback has run already).
 */
FTPAGENT_API bool ftpagent_cancel(struct ftpagent *, uint64_t call);

/* ---- operations: each as its blocking twin in <ftpagent.h> ------------- */

FTPAGENT_API uint64_t ftpagent_send_open(struct ftpagent *, const char *url,
    const struct ftpagent_open_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_close(struct ftpagent *,
    const char *session, ftpagent_reply_cb, void *arg);

FTPAGENT_API uint64_t ftpagent_send_list(struct ftpagent *,
    const char *session, const char *path, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_stat(struct ftpagent *,
    const char *session, const char *path, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_mkdir(struct ftpagent *,
    const char *session, const char *path, bool parents, ftpagent_reply_cb,
    void *arg);
FTPAGENT_API uint64_t ftpagent_send_remove(struct ftpagent *,
    const char *session, const char *path, bool recursive, ftpagent_reply_cb,
    void *arg);
FTPAGENT_API uint64_t ftpagent_send_rmdir(struct ftpagent *,
    const char *session, const char *path, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_rename(struct ftpagent *,
    const char *session, const char *from, const char *to, ftpagent_reply_cb,
    void *arg);
FTPAGENT_API uint64_t ftpagent_send_chmod(struct ftpagent *,
    const char *session, const char *path, int mode, ftpagent_reply_cb,
    void *arg);
FTPAGENT_API uint64_t ftpagent_send_set_mtime(struct ftpagent *,
    const char *session, const char *path, int64_t mtime, ftpagent_reply_cb,
    void *arg);
FTPAGENT_API uint64_t ftpagent_send_quote(struct ftpagent *,
    const char *session, const char *command, ftpagent_reply_cb, void *arg);

/*
 * Transfers. fd is duplicated when the request is queued: the caller may
 * close its own copy once the send has returned. opts (copied) as in
 * <ftpagent.h>; opts->progress runs from ftpagent_process and may cancel
 * (return false). Local files are opened, made and renamed as the
 * blocking twins do, at the time the steps come: a FIFO to download
 * into must have its reader already (it is opened non-blocking: ENXIO,
 * FTPAGENT_ERR_LOCAL_IO, otherwise).
 */
FTPAGENT_API uint64_t ftpagent_send_get_fd(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_put_fd(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_get_file(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_put_file(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);

/* Background transfers: the reply comes once the agent has taken the
 * job (reply->job_id). */
FTPAGENT_API uint64_t ftpagent_send_get_fd_background(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_put_fd_background(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_get_file_background(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_put_file_background(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb, void *arg);

/* Jobs. send_job_wait's deadline is timeout_ms plus the connection's
 * timeout; timeout_ms <= 0 waits until the job ends, however long. */
FTPAGENT_API uint64_t ftpagent_send_job_status(struct ftpagent *,
    const char *job_id, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_job_wait(struct ftpagent *,
    const char *job_id, int timeout_ms, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_job_cancel(struct ftpagent *,
    const char *job_id, ftpagent_reply_cb, void *arg);
FTPAGENT_API uint64_t ftpagent_send_job_list(struct ftpagent *,
    ftpagent_reply_cb, void *arg);

/* Events: the notifications go to the event callback, else are kept. */
FTPAGENT_API uint64_t ftpagent_send_subscribe(struct ftpagent *,
    const char *const *jobs, ftpagent_reply_cb, void *arg);

/*
 * Trees (since LIBFTPAGENT_LT_VERSION 3:0:2), as ftpagent_tree: the
 * local requests of the agent are served from ftpagent_process while the
 * call is in flight, opts->progress and opts->item run from there too.
 * local_dir is duplicated. The outcome's tree is taken with
 * ftpagent_reply_take_tree from the callback.
 */
FTPAGENT_API uint64_t ftpagent_send_tree(struct ftpagent *,
    const char *session, const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, ftpagent_reply_cb, void *arg);
/*
 * From the callback of ftpagent_send_tree: moves the tree's final state
 * into *tree (caller clears with ftpagent_tree_clear) and returns true;
 * false, with *tree zeroed, when the reply holds none (another call's,
 * taken already, or the agent never took the tree). r must be the
 * callback's own.
 */
FTPAGENT_API bool ftpagent_reply_take_tree(struct ftpagent_reply *r,
    struct ftpagent_tree *tree);
/*
 * ftpagent_tree_background without waiting: the follower process is
 * started here (its connection opened, blocking as any connect), and the
 * call completes once the agent has taken the tree, with reply->job_id,
 * or with why not (as ftpagent_tree_background's error). Meanwhile
 * ftpagent_timeout asks to be woken every few milliseconds (the
 * follower's word comes through a socket this connection looks at then),
 * at most for the connection's timeout. Cancelling the call
 * (ftpagent_cancel), or its timeout, also cancels the tree (the
 * follower does, or this connection when the follower's word had come
 * unread). Since LIBFTPAGENT_LT_VERSION 7:0:6.
 */
FTPAGENT_API uint64_t ftpagent_send_tree_background(struct ftpagent *,
    const char *session, const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, ftpagent_reply_cb, void *arg);

/* Any method; fds (at most 4) are duplicated when queued. */
FTPAGENT_API uint64_t ftpagent_send_call(struct ftpagent *, const char *method,
    const char *params_json, const int *fds, size_t nfds, ftpagent_reply_cb,
    void *arg);

#ifdef __cplusplus
}
#endif
#endif
