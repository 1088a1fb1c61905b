/*
 * libftpagent: the blocking twins of the transfers of transfer.c. Each
 * starts the non-blocking call with fa_sync_cb and drives the
 * connection until its reply (fa_sync_wait): the same code path as an
 * event loop's caller, waited for.
 */
#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "ftpagent_priv.h"

static bool
sync_xfer(struct ftpagent *a, uint64_t id, struct fa_sync *s,
    struct ftpagent_xfer_result *result)
{
	bool ok = fa_sync_wait(a, id, s);

	if (ok && result != NULL)
		*result = s->r.xfer;
	fa_sync_clear(s);
	return ok;
}

/* A background start needs somewhere to put the job id. */
static bool
job_out_ok(struct ftpagent *a, char **job)
{
	if (job != NULL)
		*job = NULL;
	if (a != NULL && a->err == FTPAGENT_OK && job == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no job pointer");
		return false;
	}
	return true;
}

static bool
sync_job(struct ftpagent *a, uint64_t id, struct fa_sync *s, char **job)
{
	bool ok = fa_sync_wait(a, id, s);

	if (ok) {
		*job = s->r.job_id;
		s->r.job_id = NULL;
	}
	fa_sync_clear(s);
	return ok;
}

bool
ftpagent_get_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	struct fa_sync s = { 0 };

	return sync_xfer(a, ftpagent_send_get_fd(a, session, path, fd, opts,
	    fa_sync_cb, &s), &s, result);
}

bool
ftpagent_put_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	struct fa_sync s = { 0 };

	return sync_xfer(a, ftpagent_send_put_fd(a, session, path, fd, opts,
	    fa_sync_cb, &s), &s, result);
}

bool
ftpagent_get_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	struct fa_sync s = { 0 };

	if (result != NULL)
		result->already_complete = false;
	/* blocking, a FIFO may wait for its reader */
	return sync_xfer(a, fa_send_get_file(a, session, path, local, opts,
	    false, a != NULL ? a->timeout_ms : 0, fa_sync_cb, &s), &s, result);
}

bool
ftpagent_put_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	struct fa_sync s = { 0 };

	return sync_xfer(a, ftpagent_send_put_file(a, session, path, local,
	    opts, fa_sync_cb, &s), &s, result);
}

bool
ftpagent_get_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	struct fa_sync s = { 0 };

	return job_out_ok(a, job) && sync_job(a,
	    ftpagent_send_get_fd_background(a, session, path, fd, opts,
	    fa_sync_cb, &s), &s, job);
}

bool
ftpagent_put_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	struct fa_sync s = { 0 };

	return job_out_ok(a, job) && sync_job(a,
	    ftpagent_send_put_fd_background(a, session, path, fd, opts,
	    fa_sync_cb, &s), &s, job);
}

bool
ftpagent_get_file_background(struct ftpagent *a, const char *session,
    const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, char **job)
{
	struct fa_sync s = { 0 };

	return job_out_ok(a, job) && sync_job(a, fa_send_get_file(a, session,
	    path, local, opts, true, a != NULL ? a->timeout_ms : 0, fa_sync_cb,
	    &s), &s, job);
}

bool
ftpagent_put_file_background(struct ftpagent *a, const char *session,
    const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, char **job)
{
	struct fa_sync s = { 0 };

	return job_out_ok(a, job) && sync_job(a,
	    ftpagent_send_put_file_background(a, session, path, local, opts,
	    fa_sync_cb, &s), &s, job);
}
