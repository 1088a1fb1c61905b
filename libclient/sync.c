/*
 * libftpagent's blocking face: a blocking function is its send form
 * with fa_sync_cb as the callback, then fa_sync_wait, which drives the
 * connection with poll() until that call has ended: the very path an
 * event loop's caller takes, waited for. A caller's interrupt flag
 * (ftpagent_set_interrupt) is looked at every FA_INTERRUPT_MS at most.
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
#include <string.h>

#include "ftpagent_priv.h"

#define FA_INTERRUPT_MS	20	/* the longest a blocking wait goes without
				   looking at the interrupt flag */

void
fa_sync_cb(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	/* the core hands its own struct fa_reply, pub first */
	struct fa_reply *fr = (struct fa_reply *)r;
	struct fa_sync *s = arg;

	s->done = true;
	if (r->error != FTPAGENT_OK)
		fa_set_reply_sticky(a, fr->pub.error, fr->msg, fr->kind,
		    fr->pub.ftp_code, fr->data);
	/* the results are the waiting function's now */
	s->r = *r;
	s->r.error_message = s->r.error_kind = s->r.error_data = NULL;
	memset(r, 0, sizeof(*r));
	r->call = s->r.call;
	r->error = s->r.error;
}

void
fa_sync_clear(struct fa_sync *s)
{
	fa_results_free(&s->r);
}

/* Waits at most max_ms (< 0: no limit of its own) for the socket, then
 * processes what came. False when the connection is gone. */
bool
fa_poll_once(struct ftpagent *a, int max_ms)
{
	struct pollfd pfd;
	unsigned ev = ftpagent_events(a), rev = 0;
	int t = ftpagent_timeout(a), n;

	if (ev == 0) {
		(void)ftpagent_process(a, 0);
		return false;
	}
	if (max_ms >= 0 && (t < 0 || t > max_ms))
		t = max_ms;
	/* a signal that came just before poll() does not wake it */
	if (a->interrupt != NULL && (t < 0 || t > FA_INTERRUPT_MS))
		t = FA_INTERRUPT_MS;
	pfd.fd = ftpagent_fd(a);
	pfd.events = (ev & FTPAGENT_READ ? POLLIN : 0) |
	    (ev & FTPAGENT_WRITE ? POLLOUT : 0);
	pfd.revents = 0;
	n = poll(&pfd, 1, t);
	if (n == -1 && errno != EINTR)
		rev = FTPAGENT_READ;	/* let the read say what is wrong */
	else if (n > 0) {
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			rev |= FTPAGENT_READ;
		if (pfd.revents & (POLLOUT | POLLERR))
			rev |= FTPAGENT_WRITE;
	}
	return ftpagent_process(a, rev);
}

/*
 * The caller's flag is up (ftpagent_set_interrupt): the call ends now,
 * cancelled, and what that queued (job.cancel) goes out before the
 * caller, who is probably about to exit, gets control back.
 */
static void
interrupt_call(struct ftpagent *a, uint64_t id)
{
	(void)ftpagent_cancel(a, id);
	if (!a->freeing && conn_is_open(&a->conn) && conn_queued(&a->conn) > 0)
		(void)ftpagent_process(a, 0);
}

bool
fa_sync_wait(struct ftpagent *a, uint64_t id, struct fa_sync *s)
{
	if (id == 0)
		return false;
	/* what the call left queued (a job.cancel) ftpagent_process has
	 * already written, as far as the socket took it */
	while (!s->done && ftpagent_pending(a) > 0) {
		if (a->interrupt != NULL && *a->interrupt) {
			interrupt_call(a, id);
			break;
		}
		(void)fa_poll_once(a, -1);
	}
	if (!s->done) {
		fa_set_error(a, FTPAGENT_ERR_AGENT, "the call was lost");
		return false;
	}
	return s->r.error == FTPAGENT_OK;
}

bool
fa_sync_void(struct ftpagent *a, uint64_t id, struct fa_sync *s)
{
	bool ok = fa_sync_wait(a, id, s);

	fa_sync_clear(s);
	return ok;
}
