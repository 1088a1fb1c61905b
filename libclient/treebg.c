/*
 * libftpagent: a tree in the background (ftpagent_tree_background).
 *
 * A tree's local side is served by the connection that started it
 * (docs/protocol.md, "Who touches local files"), so a tree that goes on
 * after its caller has returned needs a process that keeps a
 * connection: the follower. The caller opens the follower's connection
 * (its errors are the caller's, as for any call), forks the follower
 * detached (fa_detach: no zombie, none of the caller's other
 * descriptors) and waits on a pipe for the tree's job id. The follower
 * starts the tree with wait:true on that connection and serves its
 * local.* until the tree ends, then exits: it cannot outlive the tree.
 * The agent ends the tree when the follower's connection closes, and
 * the follower ends when the agent closes, goes silent past the
 * connection's timeout (its progress comes every second), or the
 * caller gave up waiting for the id (then it cancels the tree).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent_priv.h"

/* What the follower tells its caller, in one write (under PIPE_BUF). */
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
 * progress. A caller that is gone (EPIPE) has failed: the tree stops. */
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

/* The follower's word: the job id into *job, or its error as a's. */
static bool
report_read(struct ftpagent *a, int fd, char **job)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct tree_report r;
	ssize_t n = 0;
	int pr;

	while ((pr = poll(&p, 1, a->timeout_ms)) == -1 && errno == EINTR)
		;
	if (pr == 0) {
		fa_set_error(a, FTPAGENT_ERR_TIMEOUT, "transfer.tree: no job "
		    "from the agent within %d ms", a->timeout_ms);
		return false;
	}
	while (pr > 0 && (n = read(fd, &r, sizeof(r))) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(r)) {
		fa_set_error(a, FTPAGENT_ERR_CANCELLED, "transfer.tree: the "
		    "tree's follower ended before the agent took the tree");
		return false;
	}
	r.job[sizeof(r.job) - 1] = r.kind[sizeof(r.kind) - 1] =
	    r.message[sizeof(r.message) - 1] = '\0';
	if (r.error != FTPAGENT_OK || r.job[0] == '\0') {
		error_as(a, (enum ftpagent_error)r.error, r.ftp_code, r.kind,
		    r.message);
		return false;
	}
	if ((*job = strdup(r.job)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	return true;
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

bool
ftpagent_tree_background(struct ftpagent *a, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, char **job)
{
	static const struct ftpagent_tree_opts defaults;
	const struct ftpagent_tree_opts *o = opts != NULL ? opts : &defaults;
	struct ftpagent *fa;
	int p[2], keep[3], r;
	bool ok;

	if (a != NULL && job == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no job pointer");
		return false;
	}
	if (job != NULL)
		*job = NULL;
	if (!fa_tree_args(a, session, remote_path, local_dir, o) ||
	    (fa = follower_connect(a)) == NULL)
		return false;
	/* the follower starts the tree: with this connection's limit */
	ftpagent_set_limit_rate(fa, a->limit_rate);
	if (pipe2(p, O_CLOEXEC) == -1) {
		fa_set_local_error(a, "cannot make", "a pipe", errno);
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
	if (r == -1)
		fa_set_local_error(a, "cannot start", "the tree's follower",
		    errno);
	ok = r == 1 && report_read(a, p[0], job);
	close(p[0]);
	return ok;
}
