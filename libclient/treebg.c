/*
 * libftpagent: a tree in the background (ftpagent_send_tree_background,
 * and ftpagent_tree_background, its blocking form).
 *
 * A tree's local side is served by the connection that started it
 * (docs/protocol.md, "Who touches local files"), so a tree that goes on
 * after its caller has returned needs a process that keeps a
 * connection: the follower. The caller opens the follower's connection
 * (its errors are the caller's, as for any call), forks the follower
 * detached (fa_detach: no zombie, none of the caller's other
 * descriptors) and learns the tree's job id from a socket pair (one
 * record a report): a call of its own connection that waits on no
 * request (fa_call_local) reads it without blocking every FA_POLL_MS
 * until the follower has written, so
 * an event loop's caller never blocks on it. The follower starts the
 * tree with wait:true on its connection and serves its local.* until
 * the tree ends, then exits: it cannot outlive the tree. The agent ends
 * the tree when the follower's connection closes, and the follower ends
 * when the agent closes, goes silent past the connection's timeout (its
 * progress comes every second), or the caller stopped waiting for the id
 * (the call timed out or was cancelled: its end is shut, the
 * follower's report fails, and the follower cancels the tree).
 */
#include <config.h>

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent_priv.h"

/* What the follower tells its caller, in one record. */
struct tree_report {
	int		 error;		/* FTPAGENT_OK: job holds the id */
	int		 ftp_code;
	char		 job[72];
	char		 kind[32];
	char		 message[512];
};

static bool
report_send(int fd, const struct tree_report *r)
{
	ssize_t n;

	while ((n = write(fd, r, sizeof(*r))) == -1 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(*r);
}

/* In the follower: the job id, to the caller, at the tree's first
 * progress. A caller that is gone (EPIPE, ECONNRESET) has failed: the
 * tree stops. */
static bool
follower_progress(void *arg, const struct ftpagent_tree *t)
{
	int *report = arg;
	struct tree_report r;
	bool ok;

	if (*report == -1 || t->job.id == NULL)
		return true;
	memset(&r, 0, sizeof(r));
	snprintf(r.job, sizeof(r.job), "%s", t->job.id);
	ok = report_send(*report, &r);
	close(*report);
	*report = -1;
	return ok;
}

/* The follower: the tree, served until it ends; what happened to it,
 * when the caller has not heard of it yet. */
static void __attribute__((noreturn))
follow_tree(struct ftpagent *fa, const char *session, const char *path,
    int dir, const struct ftpagent_tree_opts *opts, int report)
{
	struct ftpagent_tree_opts o = *opts;
	struct ftpagent_tree res;
	struct tree_report r;

	signal(SIGPIPE, SIG_IGN);
	/* the caller's callbacks are the caller's, not ours to run */
	o.progress = follower_progress;
	o.item = NULL;
	o.arg = &report;
	o.flags &= ~(unsigned)FTPAGENT_TREE_ITEMS;
	(void)ftpagent_tree(fa, session, path, dir, &o, &res);
	if (report != -1) {
		memset(&r, 0, sizeof(r));
		if (res.job.id != NULL)
			snprintf(r.job, sizeof(r.job), "%s", res.job.id);
		else {
			r.error = ftpagent_error(fa);
			r.ftp_code = ftpagent_ftp_code(fa);
			snprintf(r.kind, sizeof(r.kind), "%s",
			    ftpagent_error_kind(fa));
			snprintf(r.message, sizeof(r.message), "%s",
			    ftpagent_error_message(fa));
		}
		(void)report_send(report, &r);
	}
	_exit(0);
}

/* The follower's word, read without waiting (the socket is non-blocking):
 * FA_NEXT while it has said nothing, else FA_DONE with the job id in r
 * or the follower's error as r's. */
static int
bg_poll(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	int *report = c->state;
	struct tree_report t;
	ssize_t n;

	(void)a;
	while ((n = read(*report, &t, sizeof(t))) == -1 && errno == EINTR)
		;
	if (n == -1 && errno == EAGAIN)
		return FA_NEXT;
	if (n != (ssize_t)sizeof(t)) {
		fa_reply_error(r, FTPAGENT_ERR_CANCELLED, "transfer.tree: the "
		    "tree's follower ended before the agent took the tree");
		return FA_DONE;
	}
	t.job[sizeof(t.job) - 1] = t.kind[sizeof(t.kind) - 1] =
	    t.message[sizeof(t.message) - 1] = '\0';
	if (t.error != FTPAGENT_OK || t.job[0] == '\0') {
		fa_reply_error(r, t.error != FTPAGENT_OK ?
		    (enum ftpagent_error)t.error : FTPAGENT_ERR_AGENT, "%s",
		    t.message);
		r->pub.ftp_code = t.ftp_code;
		if (t.kind[0] != '\0')
			r->kind = strdup(t.kind);
		return FA_DONE;
	}
	if ((r->pub.job_id = strdup(t.job)) == NULL)
		fa_reply_error(r, FTPAGENT_ERR_NOMEM, "out of memory");
	return FA_DONE;
}

/*
 * The call ends: the socket goes. Ended without the job id (cancelled,
 * its time up), it is shut for reading first: from then on the
 * follower's report fails and the follower cancels its tree itself; a
 * report written before is still there to read, and that tree is
 * cancelled here (the job.cancel goes out even when the connection is
 * being freed: ftpagent_free sends what the ends queued). No moment is
 * left between the two, so no cancelled call leaves a tree running that
 * nobody knows of; only a call ended because this connection itself
 * is gone has nothing left to cancel with (the follower's connection,
 * and its tree, go on).
 */
static void
bg_end(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	int *report = c->state;
	struct fa_reply late;

	if (report != NULL && *report != -1) {
		if (r->pub.error != FTPAGENT_OK && r->pub.job_id == NULL) {
			(void)shutdown(*report, SHUT_RD);
			fa_reply_init(&late, c);
			if (bg_poll(a, c, &late) == FA_DONE &&
			    late.pub.job_id != NULL)
				fa_cancel_job(a, late.pub.job_id);
			fa_reply_clear(&late);
		}
		close(*report);
	}
	free(report);
}

static const struct fa_op treebg_op = {
	.name = "transfer.tree",
	.end = bg_end,
	.poll = bg_poll,
};

/* An error of the follower's connection as a's own. Not through
 * FTPAGENT_ERR_AGENT's path, which would close a: a still works. */
static void
error_as(struct ftpagent *a, enum ftpagent_error e, int ftp_code,
    const char *kind, const char *message)
{
	fa_set_reply_sticky(a, FTPAGENT_ERR_RPC, message, *kind != '\0' ?
	    kind : NULL, ftp_code, NULL);
	a->err = e != FTPAGENT_OK ? e : FTPAGENT_ERR_AGENT;
}

/* The follower's connection, or NULL with a's error set. */
static struct ftpagent *
follower_connect(struct ftpagent *a)
{
	struct ftpagent *fa;

	if (*ftpagent_socket_path(a) == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "a background tree "
		    "needs a connection made by socket path");
		return NULL;
	}
	if ((fa = ftpagent_connect_opts(ftpagent_socket_path(a), 0,
	    a->timeout_ms)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (ftpagent_error(fa) != FTPAGENT_OK) {
		error_as(a, ftpagent_error(fa), ftpagent_ftp_code(fa),
		    ftpagent_error_kind(fa), ftpagent_error_message(fa));
		ftpagent_free(fa);
		return NULL;
	}
	return fa;
}

/* Starts the follower with fa, which it takes; *report: the caller's
 * end of the report socket. False with a's error set. */
static bool
follower_start(struct ftpagent *a, struct ftpagent *fa, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *o, int *report)
{
	int p[2], keep[3], r;

	/* the follower starts the tree: with this connection's limit */
	ftpagent_set_limit_rate(fa, a->limit_rate);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) == -1) {
		fa_set_local_error(a, "cannot make", "a socket pair", errno);
		ftpagent_free(fa);
		return false;
	}
	keep[0] = fa->conn.fd;
	keep[1] = local_dir;
	keep[2] = p[1];
	if ((r = fa_detach(keep, 3)) == 0)
		follow_tree(fa, session, remote_path, local_dir, o, p[1]);
	/* ours go; the follower holds its own */
	close(p[1]);
	ftpagent_free(fa);
	if (r == -1 || fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		fa_set_local_error(a, "cannot start", "the tree's follower",
		    errno);
		close(p[0]);
		return false;
	}
	*report = p[0];
	return true;
}

uint64_t
ftpagent_send_tree_background(struct ftpagent *a, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, ftpagent_reply_cb cb, void *arg)
{
	static const struct ftpagent_tree_opts defaults;
	const struct ftpagent_tree_opts *o = opts != NULL ? opts : &defaults;
	struct ftpagent *fa;
	struct fa_call *c;
	int *report;

	if (!fa_tree_args(a, session, remote_path, local_dir, o) ||
	    (c = fa_call_new(a, &treebg_op, cb, arg)) == NULL)
		return 0;
	if ((report = malloc(sizeof(*report))) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		fa_call_drop(a, c);
		return 0;
	}
	*report = -1;
	c->state = report;
	if ((fa = follower_connect(a)) == NULL ||
	    !follower_start(a, fa, session, remote_path, local_dir, o,
	    report)) {
		fa_call_drop(a, c);
		return 0;
	}
	return fa_call_local(a, c);
}

/* The blocking form's callback: the job id into s->r.job_id, or the
 * follower's error as a's own (error_as). */
static void
bg_sync_cb(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	struct fa_sync *s = arg;

	s->done = true;
	s->r.error = r->error;
	if (r->error == FTPAGENT_OK) {
		s->r.job_id = r->job_id;
		r->job_id = NULL;
		return;
	}
	error_as(a, r->error, r->ftp_code, r->error_kind, r->error_message);
}

bool
ftpagent_tree_background(struct ftpagent *a, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, char **job)
{
	struct fa_sync s = { 0 };

	if (a != NULL && job == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no job pointer");
		return false;
	}
	if (job != NULL)
		*job = NULL;
	if (!fa_sync_wait(a, ftpagent_send_tree_background(a, session,
	    remote_path, local_dir, opts, bg_sync_cb, &s), &s))
		return false;
	*job = s.r.job_id;
	return true;
}
