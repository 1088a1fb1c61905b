/*
 * libftpagent: transfers of fds and local files.
 */
#include <config.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "bytename.h"

/* ---- transfers ---------------------------------------------------------- */

static void
fill_result(struct ftpagent_xfer_result *r, const json_t *job, int64_t t0)
{
	json_t *v;
	double rate = 0;

	v = json_object_get(job, "bytes");
	r->bytes = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	v = json_object_get(job, "total");
	r->total = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
	v = json_object_get(job, "rate");
	if (json_is_number(v))
		rate = json_number_value(v);
	if (rate > 0 && r->bytes > 0)
		r->seconds = (double)r->bytes / rate;
	else
		r->seconds = (double)(conn_now_ms() - t0) / 1000.0;
}

/*
 * One transfer of fd. With job NULL it waits for the end (progress on);
 * else it starts the job in the background and *job receives its id.
 */
bool
fa_transfer(struct ftpagent *a, const char *method, const char *direction,
    const char *session, const char *path, int fd, int64_t offset,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	struct xfer x;
	json_t *p, *res;
	const char *id;
	int64_t t0;
	int r = 0;
	bool ok;

	if (job == NULL)
		p = json_pack("{s:s,s:o,s:i,s:b}", "session", session, "path",
		    ftpa_bytes_json(path), "fd", 0, "progress", 1);
	else
		p = json_pack("{s:s,s:o,s:i,s:b}", "session", session, "path",
		    ftpa_bytes_json(path), "fd", 0, "wait", 0);
	if (p != NULL && offset > 0)
		r |= json_object_set_new(p, "offset", json_integer(offset));
	if (p != NULL && opts != NULL && opts->ascii)
		r |= json_object_set_new(p, "type", json_string("ascii"));
	if (p != NULL && opts != NULL && opts->append &&
	    strcmp(direction, "put") == 0)
		r |= json_object_set_new(p, "append", json_true());
	if (p != NULL && opts != NULL && opts->rest_restart)
		r |= json_object_set_new(p, "rest_fallback",
		    json_string("restart"));
	if (r != 0) {
		json_decref(p);
		p = NULL;
	}

	if (job != NULL) {
		if (!fa_rpc(a, method, p, &fd, 1, NULL, &res))
			return false;
		if ((id = json_string_value(json_object_get(res, "job"))) ==
		    NULL) {
			json_decref(res);
			fa_set_bad_reply(a, method);
			return false;
		}
		*job = strdup(id);
		json_decref(res);
		if (*job == NULL) {
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
			return false;
		}
		return true;
	}

	memset(&x, 0, sizeof(x));
	x.a = a;
	x.opts = opts;
	x.session = session;
	x.direction = direction;
	x.path = json_incref(json_object_get(p, "path"));
	t0 = conn_now_ms();
	ok = fa_rpc(a, method, p, &fd, 1, &x, &res);
	free(x.job);
	json_decref(x.path);
	if (!ok)
		return false;
	if (result != NULL)
		fill_result(result, res, t0);
	json_decref(res);
	return true;
}

/* Resolves opts->offset < 0 ("resume") against a regular file's size. */
static bool
local_resume_offset(struct ftpagent *a, int fd, int64_t *offset)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		fa_set_local_error(a, "cannot stat", "fd", errno);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "cannot resume: the fd is not a regular file");
		return false;
	}
	*offset = st.st_size;
	return true;
}

static bool
check_xfer_args(struct ftpagent *a, const char *session, const char *path,
    int fd)
{
	if (!fa_check_args(a, session, path))
		return false;
	if (fd < 0) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid fd %d", fd);
		return false;
	}
	return true;
}

/* A background start needs somewhere to put the job id. */
bool
fa_job_out_ok(struct ftpagent *a, char **job)
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
get_fd(struct ftpagent *a, const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	int64_t offset = opts != NULL ? opts->offset : 0;

	if (!check_xfer_args(a, session, path, fd))
		return false;
	if (offset < 0 && !local_resume_offset(a, fd, &offset))
		return false;
	return fa_transfer(a, "transfer.get", "get", session, path, fd, offset,
	    opts, result, job);
}

bool
ftpagent_get_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	return get_fd(a, session, path, fd, opts, result, NULL);
}

bool
ftpagent_get_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	if (!fa_job_out_ok(a, job))
		return false;
	return get_fd(a, session, path, fd, opts, NULL, job);
}

bool
fa_get_in_place(struct ftpagent *a, const char *session, const char *path,
    const struct localdest *d, int64_t offset,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	int fd;
	bool ok;

	if (offset < 0) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "cannot resume into %s: not a regular file", d->path);
		return false;
	}
	if ((fd = localdest_open(d, a->timeout_ms)) == -1) {
		fa_set_local_error(a, "cannot open", d->path, errno);
		return false;
	}
	ok = fa_transfer(a, "transfer.get", "get", session, path, fd, offset,
	    opts, result, job);
	/* a job has its own copy: only a finished write can fail here */
	if (close(fd) == -1 && ok && job == NULL) {
		fa_set_local_error(a, "cannot write", d->path, errno);
		ok = false;
	}
	return ok;
}

bool
fa_local_resolve(struct ftpagent *a, const char *local, struct localdest *d)
{
	if (local == NULL || *local == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return false;
	}
	if (!fa_usable(a))
		return false;
	if (localdest_resolve(local, d) == -1) {
		if (errno == ENOMEM)
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		else
			fa_set_local_error(a, "cannot look up", local, errno);
		return false;
	}
	if (d->kind == LOCALDEST_DIR) {
		localdest_clear(d);
		fa_set_local_error(a, "cannot write to", local, EISDIR);
		return false;
	}
	return true;
}

/*
 * Resuming onto LOCAL without LOCAL.part: a regular LOCAL at least as
 * long as the remote file is complete (1, result filled); a shorter one
 * becomes the .part to resume (0). -1 with the error set.
 */
static int
adopt_partial(struct ftpagent *a, const char *session, const char *path,
    const struct localdest *d, struct ftpagent_xfer_result *result)
{
	struct ftpagent_entry e;
	struct stat st;
	int r = 0;

	if (lstat(d->part, &st) == 0 || errno != ENOENT ||
	    stat(d->path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (!ftpagent_stat(a, session, path, &e))
		return -1;
	if (e.size >= 0 && st.st_size >= e.size) {
		if (result != NULL) {
			result->bytes = 0;
			result->total = e.size;
			result->seconds = 0;
			result->already_complete = true;
		}
		r = 1;
	} else if (rename(d->path, d->part) == -1) {
		fa_set_local_error(a, "cannot rename", d->path, errno);
		r = -1;
	}
	ftpagent_entry_clear(&e);
	return r;
}

int
fa_part_open(struct ftpagent *a, const char *session, const char *path,
    const struct localdest *d, int64_t *offset,
    struct ftpagent_xfer_result *result, struct part *p)
{
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC, r;

	if (*offset < 0 && (r = adopt_partial(a, session, path, d, result)) != 0)
		return r == 1 ? 0 : -1;
	p->had_part = lstat(d->part, &st) == 0;
	if (*offset == 0)
		flags |= O_TRUNC;
	if ((p->fd = open(d->part, flags, 0644)) == -1) {
		fa_set_local_error(a, "cannot open", d->part, errno);
		return -1;
	}
	if (*offset < 0) {
		if (!local_resume_offset(a, p->fd, offset))
			goto fail;
	} else if (*offset > 0 && ftruncate(p->fd, *offset) == -1) {
		fa_set_local_error(a, "cannot truncate", d->part, errno);
		goto fail;
	}
	return 1;
fail:
	close(p->fd);
	p->fd = -1;
	fa_part_abandon(d, p->had_part);
	return -1;
}

void
fa_part_abandon(const struct localdest *d, bool had_part)
{
	struct stat st;

	if (!had_part && lstat(d->part, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == 0)
		unlink(d->part);
}

bool
ftpagent_get_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	int64_t offset = opts != NULL ? opts->offset : 0;
	struct localdest d;
	struct part p;
	bool ok = false;
	int r;

	if (result != NULL)
		result->already_complete = false;
	if (!fa_check_args(a, session, path) || !fa_local_resolve(a, local, &d))
		return false;
	if (d.kind == LOCALDEST_INPLACE) {
		ok = fa_get_in_place(a, session, path, &d, offset, opts,
		    result, NULL);
		goto out;
	}
	/* the .part next to the file it replaces, through any symlinks */
	if ((r = fa_part_open(a, session, path, &d, &offset, result, &p)) != 1) {
		ok = r == 0;
		goto out;
	}
	ok = fa_transfer(a, "transfer.get", "get", session, path, p.fd, offset,
	    opts, result, NULL);
	if (close(p.fd) == -1 && ok) {
		fa_set_local_error(a, "cannot write", d.part, errno);
		ok = false;
	}
	if (ok && rename(d.part, d.path) == -1) {
		fa_set_local_error(a, "cannot rename to", d.path, errno);
		ok = false;
	}
	/* a failure before any data came leaves no empty .part behind */
	if (!ok)
		fa_part_abandon(&d, p.had_part);
out:
	localdest_clear(&d);
	return ok;
}

static bool
put_fd(struct ftpagent *a, const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	int64_t offset = opts != NULL ? opts->offset : 0;
	struct ftpagent_entry e;

	if (!check_xfer_args(a, session, path, fd))
		return false;
	if (offset < 0) {
		if (ftpagent_stat(a, session, path, &e)) {
			offset = e.size > 0 ? e.size : 0;
			ftpagent_entry_clear(&e);
		} else if (a->err == FTPAGENT_ERR_NOT_FOUND) {
			fa_reset_error(a);
			offset = 0;
		} else
			return false;
	}
	return fa_transfer(a, "transfer.put", "put", session, path, fd, offset,
	    opts, result, job);
}

bool
ftpagent_put_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	return put_fd(a, session, path, fd, opts, result, NULL);
}

bool
ftpagent_put_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	if (!fa_job_out_ok(a, job))
		return false;
	return put_fd(a, session, path, fd, opts, NULL, job);
}

bool
ftpagent_put_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	int fd;
	bool ok;

	if (!fa_check_args(a, session, path))
		return false;
	if (local == NULL || *local == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return false;
	}
	if (!fa_usable(a))
		return false;
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) == -1) {
		fa_set_local_error(a, "cannot open", local, errno);
		return false;
	}
	ok = ftpagent_put_fd(a, session, path, fd, opts, result);
	close(fd);
	return ok;
}
