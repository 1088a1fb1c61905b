/*
 * libftpagent: transfers of fds and local files, waited for or started
 * in the background. One operation for all of them, in named steps:
 *
 *   XFER_INFO         a background download into LOCAL.part asks, once
 *                     a connection, whether the agent renames it
 *                     (rpc.info; follow.c), a continued segmented one
 *                     whether the agent can continue it
 *   XFER_STAT_REMOTE  an upload resuming asks the server's size first
 *   XFER_STAT_ADOPT   a download resuming onto LOCAL without LOCAL.part
 *                     asks the remote size: a LOCAL as long is complete,
 *                     a shorter one becomes the .part, a longer one is
 *                     an error (it is not a part of the remote file)
 *   XFER_TRANSFER     transfer.get / transfer.put itself
 *   XFER_STAT_DIR     a download the server refused (550, not found):
 *                     a directory there fails as "is a directory"
 *
 * and an end that closes what it opened, renames LOCAL.part onto LOCAL
 * (or leaves that to the agent, or starts the follower that will), or
 * removes a .part it made that stayed empty (one with data stays for a
 * resume: a segmented one's LOCAL.segments.part with the agent's record
 * of its ranges). The caller's progress
 * callback hears the finished transfer once more when the agent's last
 * notice came before its end.
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
#include "wire.h"

enum xfer_step {
	XFER_INFO,
	XFER_STAT_REMOTE,
	XFER_STAT_ADOPT,
	XFER_TRANSFER,
	XFER_STAT_DIR,
};

enum xfer_local {
	LOCAL_FD,		/* the caller's descriptor */
	LOCAL_PART,		/* LOCAL.part, renamed at the end */
	LOCAL_IN_PLACE,		/* a device or FIFO, written as it is */
};

struct xfer {
	enum xfer_step	 step;
	enum xfer_step	 after_info;	/* XFER_INFO: the step that follows */
	enum xfer_local	 local;
	bool		 put;
	bool		 background;
	char		*session;
	json_t		*path;		/* the wire form */
	int		 fd;		/* ours, closed at the end; or -1 */
	int64_t		 offset;
	int64_t		 limit_rate;	/* 0: none of its own */
	int		 segments;	/* > 1: in ranges ("segments") */
	bool		 seg_resume;	/* ... continuing LOCAL.segments.part
					   or an fd a segmented download
					   left ("resume") */
	bool		 ascii, append, rest_restart;
	struct localdest d;		/* LOCAL_PART, LOCAL_IN_PLACE */
	bool		 had_part;	/* LOCAL.part was there before */
	bool		 complete;	/* LOCAL was complete: nothing moved */
	bool		 agent_names;	/* background: the agent renames */
	struct fa_reply	 refused;	/* XFER_STAT_DIR: the transfer's error */
	ftpagent_progress_cb progress;	/* the caller's */
	void		*progress_arg;
	int64_t		 told_bytes, told_total;	/* its last report */
};

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	if (x->fd != -1)
		close(x->fd);
	fa_reply_clear(&x->refused);
	free(x->session);
	json_decref(x->path);
	localdest_clear(&x->d);
	free(x);
}

static struct xfer *
xfer_new(const char *session, const char *path, bool put,
    const struct ftpagent_xfer_opts *opts)
{
	struct xfer *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->fd = -1;
	x->put = put;
	x->told_bytes = -1;
	if (opts != NULL) {
		x->offset = opts->offset;
		x->ascii = opts->ascii;
		x->append = opts->append && put;
		x->rest_restart = opts->rest_restart;
	}
	if ((x->session = strdup(session)) == NULL ||
	    (x->path = ftpa_bytes_json(path)) == NULL) {
		xfer_free(x);
		return NULL;
	}
	return x;
}

static json_t *
transfer_params(const struct xfer *x)
{
	json_t *p;
	int r = 0;

	p = json_pack("{s:s,s:O,s:i}", "session", x->session, "path", x->path,
	    "fd", 0);
	if (p == NULL)
		return NULL;
	if (x->background)
		r |= json_object_set_new(p, "wait", json_false());
	else
		r |= json_object_set_new(p, "progress", json_true());
	if (x->offset > 0)
		r |= json_object_set_new(p, "offset", json_integer(x->offset));
	if (x->ascii)
		r |= json_object_set_new(p, "type", json_string("ascii"));
	if (x->append)
		r |= json_object_set_new(p, "append", json_true());
	if (x->rest_restart)
		r |= json_object_set_new(p, "rest_fallback",
		    json_string("restart"));
	if (x->limit_rate > 0)
		r |= json_object_set_new(p, "limit_rate",
		    json_integer(x->limit_rate));
	if (x->segments > 1)
		r |= json_object_set_new(p, "segments",
		    json_integer(x->segments));
	if (x->seg_resume)
		r |= json_object_set_new(p, "resume", json_true());
	if (r != 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static json_t *
stat_params(const struct xfer *x)
{
	return json_pack("{s:s,s:O}", "session", x->session, "path", x->path);
}

static const char *
transfer_method(const struct xfer *x)
{
	return x->put ? "transfer.put" : "transfer.get";
}

/* ---- local files -------------------------------------------------------- */

static void
reply_local_error(struct fa_reply *r, const char *what, const char *file,
    int e)
{
	char eb[128];

	fa_reply_error(r, FTPAGENT_ERR_LOCAL_IO, "%s %s: %s", what, file,
	    fa_errstr(e, eb, sizeof(eb)));
}

/*
 * Opens LOCAL.part for the transfer at x->offset: 0 truncates, > 0
 * truncates there, < 0 resumes at its size. 0, or errno with *what
 * saying which step failed.
 */
static int
part_open(struct xfer *x, const char **what)
{
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_CLOEXEC, e;

	x->had_part = lstat(x->d.part, &st) == 0;
	if (x->seg_resume)	/* the agent reads its record at the end */
		flags = (flags & ~O_WRONLY) | O_RDWR;
	else if (x->offset == 0)
		flags |= O_TRUNC;
	*what = "cannot open";
	if ((x->fd = open(x->d.part, flags, 0644)) == -1)
		return errno;
	e = 0;
	if (x->offset < 0) {
		*what = "cannot resume";
		e = fa_fd_size(x->fd, &x->offset);
	} else if (x->offset > 0 && ftruncate(x->fd, x->offset) == -1) {
		*what = "cannot truncate";
		e = errno;
	}
	if (e != 0) {
		close(x->fd);
		x->fd = -1;
		fa_part_abandon(&x->d, x->had_part);
	}
	return e;
}

/* Resuming onto LOCAL with no LOCAL.part but a regular LOCAL: the
 * remote size decides (XFER_STAT_ADOPT). */
static bool
adopt_needed(const struct xfer *x)
{
	struct stat st;

	return x->offset < 0 && lstat(x->d.part, &st) == -1 &&
	    errno == ENOENT && stat(x->d.path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- the steps ---------------------------------------------------------- */

static void
fill_result(struct ftpagent_xfer_result *res, const json_t *job,
    int64_t started)
{
	json_t *v;
	double rate = 0;

	res->bytes = wire_count(json_object_get(job, "bytes"), 0);
	res->total = wire_count(json_object_get(job, "total"), -1);
	v = json_object_get(job, "rate");
	if (json_is_number(v))
		rate = json_number_value(v);
	if (rate > 0 && res->bytes > 0)
		res->seconds = (double)res->bytes / rate;
	else
		res->seconds = (double)(conn_now_ms() - started) / 1000.0;
}

/*
 * transfer.get's or .put's params and fds: x's fd, and for a background
 * download into LOCAL.part that the agent renames, the directory in
 * fds[1] (closed by the caller once sent; -1: none, the follower's way
 * then). Returns the params (NULL: out of memory); *n the fds to send.
 */
static json_t *
transfer_request(struct ftpagent *a, struct xfer *x, int fds[2], size_t *n)
{
	json_t *p = transfer_params(x), *rn;

	x->step = XFER_TRANSFER;
	fds[0] = x->fd;
	fds[1] = -1;
	/* the agent renames no segmented download: the follower does */
	if (p != NULL && x->background && x->local == LOCAL_PART &&
	    x->segments <= 1 && a->renames == FA_ASK_YES &&
	    (rn = fa_rename_param(&x->d, x->had_part, &fds[1])) != NULL) {
		if (json_object_set_new(p, "rename", rn) == 0)
			x->agent_names = true;
		else {
			close(fds[1]);
			fds[1] = -1;
		}
	}
	*n = x->agent_names ? 2 : 1;
	return p;
}

static int
send_transfer(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct xfer *x = c->state;
	json_t *p;
	size_t n;
	int fds[2], v;

	p = transfer_request(a, x, fds, &n);
	v = fa_call_next(a, c, r, transfer_method(x), p, fds, n);
	if (fds[1] != -1)
		close(fds[1]);
	return v;
}

/* rpc.info said (info NULL: could not say) whether the agent renames,
 * and whether it continues a segmented download: on to the step that
 * was waiting, or, for a continued segmented download the agent cannot
 * continue, an error (the file untouched). */
static int
after_info(struct ftpagent *a, struct fa_call *c, const json_t *info,
    struct fa_reply *r)
{
	struct xfer *x = c->state;

	a->renames = info != NULL && fa_info_feature(info,
	    FA_FEATURE_RENAME) ? FA_ASK_YES : FA_ASK_NO;
	a->seg_resumes = info != NULL && fa_info_feature(info,
	    FA_FEATURE_SEG_RESUME) ? FA_ASK_YES : FA_ASK_NO;
	/* one that would ignore "resume" would start over, or, older
	 * still, write the file from its start and leave the record */
	if (x->seg_resume && a->seg_resumes != FA_ASK_YES) {
		fa_reply_error(r, FTPAGENT_ERR_RPC, "cannot continue the "
		    "segmented download: the agent does not (no %s in "
		    "rpc.info)", FA_FEATURE_SEG_RESUME);
		free(r->kind);
		r->kind = strdup("params");
		return FA_DONE;
	}
	x->step = x->after_info;
	if (x->step == XFER_STAT_ADOPT)
		return fa_call_next(a, c, r, "fs.stat", stat_params(x), NULL,
		    0);
	return send_transfer(a, c, r);
}

/* The remote size is known (-1: unknown): adopt LOCAL as the .part,
 * call it complete, or refuse one longer than the remote file. */
static int
adopt(struct ftpagent *a, struct fa_call *c, int64_t remote,
    struct fa_reply *r)
{
	struct xfer *x = c->state;
	const char *what;
	struct stat st;
	int e;

	if (stat(x->d.path, &st) == 0 && remote >= 0 && st.st_size > remote) {
		/* not a part of the remote file: resuming would corrupt it,
		 * and calling it complete would be a lie; left as it is */
		fa_reply_error(r, FTPAGENT_ERR_LOCAL_IO, "cannot resume %s: it "
		    "is longer (%lld bytes) than the remote file (%lld bytes)",
		    x->d.path, (long long)st.st_size, (long long)remote);
		return FA_DONE;
	}
	if (stat(x->d.path, &st) == 0 && remote >= 0 && st.st_size == remote) {
		x->complete = true;
		r->pub.xfer.bytes = 0;
		r->pub.xfer.total = remote;
		r->pub.xfer.seconds = 0;
		r->pub.xfer.already_complete = true;
		return FA_DONE;
	}
	if (rename(x->d.path, x->d.part) == -1) {
		reply_local_error(r, "cannot rename", x->d.path, errno);
		return FA_DONE;
	}
	if ((e = part_open(x, &what)) != 0) {
		reply_local_error(r, what, x->d.part, e);
		return FA_DONE;
	}
	return send_transfer(a, c, r);
}

/* A download refused: is it a directory? The error stays aside in
 * x->refused meanwhile. */
static int
refused_probe(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct xfer *x = c->state;

	x->refused = *r;
	r->msg = r->kind = r->data = NULL;
	x->step = XFER_STAT_DIR;
	return fa_call_next(a, c, r, "fs.stat", stat_params(x), NULL, 0);
}

/* XFER_STAT_DIR's answer: the transfer's error, or "is a directory"
 * (data.type "dir": ftpctl says how to fetch one). FA_DONE. */
static int
refused_end(struct xfer *x, bool dir, struct fa_reply *r)
{
	char *path;

	free(r->msg);
	free(r->kind);
	free(r->data);
	r->msg = r->kind = r->data = NULL;
	if (!dir) {
		r->pub.error = x->refused.pub.error;
		r->pub.ftp_code = x->refused.pub.ftp_code;
		r->msg = x->refused.msg;
		r->kind = x->refused.kind;
		r->data = x->refused.data;
		x->refused.msg = x->refused.kind = x->refused.data = NULL;
		return FA_DONE;
	}
	path = strdup(json_string_value(x->path));
	if (path != NULL)
		ftpa_bytes_unescape(path, strlen(path));
	fa_reply_error(r, FTPAGENT_ERR_NOT_FOUND, "get %s: is a directory",
	    path != NULL ? path : "");
	free(path);
	r->pub.ftp_code = x->refused.pub.ftp_code;
	r->kind = strdup("not_found");
	r->data = strdup("{\"kind\":\"not_found\",\"type\":\"dir\"}");
	return FA_DONE;
}

/* The caller's progress callback, through this: the last report is
 * known at the end. */
static bool
xfer_progress(void *arg, int64_t bytes, int64_t total)
{
	struct xfer *x = arg;

	x->told_bytes = bytes;
	x->told_total = total;
	return x->progress(x->progress_arg, bytes, total);
}

/* The transfer is done: the callback hears its end, once, unless its
 * last report said the same, or the caller said stop (then it is not
 * called again, and the call is cancelled: xfer_end). Its answer no
 * longer matters. */
static void
progress_end(struct ftpagent *a, struct fa_call *c, struct xfer *x,
    const struct ftpagent_xfer_result *res)
{
	if (x->progress == NULL || c->cancelling || (a->interrupt != NULL &&
	    *a->interrupt) || (x->told_bytes == res->bytes &&
	    x->told_total == res->total))
		return;
	x->told_bytes = res->bytes;
	x->told_total = res->total;
	a->depth++;
	(void)x->progress(x->progress_arg, res->bytes, res->total);
	a->depth--;
}

static int
xfer_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	struct xfer *x = c->state;
	struct ftpagent_entry e;
	const char *id;
	int v;

	if (x->step == XFER_INFO)
		return after_info(a, c, res, r);
	if (x->step != XFER_TRANSFER) {
		if ((v = fa_parse_entry(res, &e)) != 0)
			return v;
		if (x->step == XFER_STAT_DIR)
			v = refused_end(x, e.type == FTPAGENT_DIR, r);
		else if (x->step == XFER_STAT_ADOPT)
			v = adopt(a, c, e.size, r);
		else {
			x->offset = e.size > 0 ? e.size : 0;
			v = send_transfer(a, c, r);
		}
		ftpagent_entry_clear(&e);
		return v;
	}
	if (!x->background) {
		fill_result(&r->pub.xfer, res, c->started);
		progress_end(a, c, x, &r->pub.xfer);
		return FA_DONE;
	}
	if ((id = json_string_value(json_object_get(res, "job"))) == NULL)
		return -1;
	return (r->pub.job_id = strdup(id)) != NULL ? FA_DONE : -2;
}

static int
xfer_error(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct xfer *x = c->state;

	/* an agent that cannot say renames nothing (the follower does) and
	 * continues no segmented download */
	if (x->step == XFER_INFO && r->kind != NULL) {
		fa_reply_clear(r);
		fa_reply_init(r, c);
		return after_info(a, c, NULL, r);
	}
	if (x->step == XFER_STAT_DIR)
		return refused_end(x, false, r);
	/* not there, or not a file: a directory says so plainly */
	if (x->step == XFER_TRANSFER && !x->put && !x->background &&
	    (r->pub.error == FTPAGENT_ERR_NOT_FOUND ||
	    (r->pub.error == FTPAGENT_ERR_FTP && r->pub.ftp_code == 550)))
		return refused_probe(a, c, r);
	/* nothing there yet: an upload resumes from the start */
	if (x->step != XFER_STAT_REMOTE || r->pub.error !=
	    FTPAGENT_ERR_NOT_FOUND || r->kind == NULL)
		return FA_DONE;
	x->offset = 0;
	return send_transfer(a, c, r);
}

/* A background download into LOCAL.part has its job: the follower
 * renames it when the job ends. */
static void
follow_job(struct ftpagent *a, struct xfer *x, struct fa_reply *r)
{
	char *job = r->pub.job_id;

	if (fa_spawn_follower(a, job, &x->d, x->had_part))
		return;
	fa_cancel_job(a, job);
	fa_reply_error(r, FTPAGENT_ERR_LOCAL_IO, "%s: cannot start the "
	    "process that renames %s; %s cancelled", x->d.path, x->d.part, job);
	free(job);
	r->pub.job_id = NULL;
}

static void
xfer_end(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct xfer *x = c->state;
	bool ok = r->pub.error == FTPAGENT_OK;

	if (x == NULL)
		return;
	/* the caller said stop (the progress callback, or the interrupt flag
	 * up while the reply was read): the agent's word that the transfer
	 * completed before the job.cancel came does not undo that (nothing is
	 * renamed) */
	if (ok && !x->background && (c->cancelling || (a->interrupt != NULL &&
	    *a->interrupt))) {
		fa_reply_error(r, FTPAGENT_ERR_CANCELLED, "%s: cancelled",
		    c->op->name);
		ok = false;
	}
	/* a job has its own copy: only a finished write can fail here */
	if (x->fd != -1 && close(x->fd) == -1 && ok && !x->background &&
	    x->local != LOCAL_FD) {
		reply_local_error(r, "cannot write", x->local == LOCAL_PART ?
		    x->d.part : x->d.path, errno);
		ok = false;
	}
	x->fd = -1;
	if (x->local == LOCAL_PART && ok && !x->complete) {
		if (x->background && !x->agent_names)
			follow_job(a, x, r);
		else if (x->background)
			;	/* the agent renames at the job's end */
		else if (rename(x->d.part, x->d.path) == -1)
			reply_local_error(r, "cannot rename to", x->d.path,
			    errno);
		ok = r->pub.error == FTPAGENT_OK;
	}
	/* a failure before any data came leaves no empty .part behind; one
	 * with data stays for a resume (a segmented one's ends with the
	 * agent's record of its ranges) */
	if (x->local == LOCAL_PART && !ok && !x->complete)
		fa_part_abandon(&x->d, x->had_part);
	if (!ok)
		memset(&r->pub.xfer, 0, sizeof(r->pub.xfer));
	xfer_free(x);
	c->state = NULL;
}

bool
fa_job_like(const json_t *p, const char *session, bool put,
    const json_t *path)
{
	const char *s;
	json_t *v;

	s = json_string_value(json_object_get(p, "session"));
	if (s != NULL && strcmp(s, session) != 0)
		return false;
	s = json_string_value(json_object_get(p, "direction"));
	if (s != NULL && strcmp(s, put ? "put" : "get") != 0)
		return false;
	v = json_object_get(p, "path");
	return !json_is_string(v) || json_equal(v, path);
}

static bool
xfer_owns(const struct fa_call *c, const json_t *p)
{
	const struct xfer *x = c->state;

	return x != NULL && x->step == XFER_TRANSFER &&
	    fa_job_like(p, x->session, x->put, x->path);
}

/* One operation, four names for what it says. */
static const struct fa_op op_get = {
	.name = "transfer.get", .result = xfer_result, .error = xfer_error,
	.end = xfer_end, .owns = xfer_owns,
};
static const struct fa_op op_put = {
	.name = "transfer.put", .result = xfer_result, .error = xfer_error,
	.end = xfer_end, .owns = xfer_owns,
};
static const struct fa_op op_get_background = {
	.name = "transfer.get", .result = xfer_result, .error = xfer_error,
	.end = xfer_end,
};
static const struct fa_op op_put_background = {
	.name = "transfer.put", .result = xfer_result, .error = xfer_error,
	.end = xfer_end,
};

/* Starts x (owned by the call from here) at its first step. */
static uint64_t
xfer_start(struct ftpagent *a, struct xfer *x,
    const struct ftpagent_xfer_opts *opts, ftpagent_reply_cb cb, void *arg)
{
	const struct fa_op *op;
	struct fa_call *c;
	json_t *p;
	size_t n;
	int fds[2];
	uint64_t id;

	if (x->background)
		op = x->put ? &op_put_background : &op_get_background;
	else
		op = x->put ? &op_put : &op_get;
	c = fa_call_new(a, op, cb, arg);
	if (c == NULL) {
		xfer_free(x);
		return 0;
	}
	c->state = x;
	if (!x->background && opts != NULL && opts->progress != NULL) {
		x->progress = opts->progress;
		x->progress_arg = opts->progress_arg;
		c->progress = xfer_progress;
		c->progress_arg = x;
	}
	if (x->step == XFER_TRANSFER) {
		p = transfer_request(a, x, fds, &n);
		id = fa_call_start(a, c, transfer_method(x), p, fds, n);
		if (fds[1] != -1)
			close(fds[1]);
		return id;
	}
	if (x->step == XFER_INFO)
		return fa_call_start(a, c, "rpc.info", json_object(), NULL, 0);
	return fa_call_start(a, c, "fs.stat", stat_params(x), NULL, 0);
}

/* ---- fds ---------------------------------------------------------------- */

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
	return fa_usable(a);
}

static struct xfer *
xfer_make(struct ftpagent *a, const char *session, const char *path,
    bool put, bool background, const struct ftpagent_xfer_opts *opts)
{
	struct xfer *x;

	if ((x = xfer_new(session, path, put, opts)) == NULL)
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else {
		x->background = background;
		x->limit_rate = a->limit_rate;
	}
	return x;
}

/* x continues a segmented download in the agent's ranges ("resume"
 * from the record, no offset): in n of them, or 2 without n. */
static void
seg_resume_set(const struct ftpagent *a, struct xfer *x)
{
	x->seg_resume = true;
	x->offset = 0;
	x->segments = a->segments > 1 ? a->segments : 2;
}

/* A continued segmented download asks the agent first (rpc.info, once a
 * connection) whether it can continue one. */
static void
ask_seg_resume(struct ftpagent *a, struct xfer *x)
{
	if (x->seg_resume && a->seg_resumes != FA_ASK_YES) {
		x->after_info = x->step;
		x->step = XFER_INFO;
	}
}

/* A transfer of the caller's fd (a copy of it is ours). */
static uint64_t
send_fd(struct ftpagent *a, const char *session, const char *path, int fd,
    bool put, bool background, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	struct xfer *x;
	int e;

	if (!check_xfer_args(a, session, path, fd) ||
	    (x = xfer_make(a, session, path, put, background, opts)) == NULL)
		return 0;
	if ((x->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		fa_set_local_error(a, "cannot duplicate", "fd", errno);
		xfer_free(x);
		return 0;
	}
	if (!put && x->offset == 0 && !x->ascii && fa_fd_segmentable(x->fd))
		x->segments = a->segments;
	else if (!put && x->offset < 0 && !x->ascii && fa_fd_has_record(x->fd)) {
		/* as get_file's LOCAL.segments.part */
		seg_resume_set(a, x);
	}
	x->step = XFER_TRANSFER;
	if (x->offset < 0 && put)
		x->step = XFER_STAT_REMOTE;
	else if (x->offset < 0 && (e = fa_fd_size(x->fd, &x->offset)) != 0) {
		if (e == EINVAL)
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
			    "cannot resume: the fd is not a regular file");
		else
			fa_set_local_error(a, "cannot stat", "fd", e);
		xfer_free(x);
		return 0;
	}
	ask_seg_resume(a, x);
	return xfer_start(a, x, opts, cb, arg);
}

uint64_t
ftpagent_send_get_fd(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_fd(a, session, path, fd, false, false, opts, cb, arg);
}

uint64_t
ftpagent_send_put_fd(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_fd(a, session, path, fd, true, false, opts, cb, arg);
}

uint64_t
ftpagent_send_get_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_fd(a, session, path, fd, false, true, opts, cb, arg);
}

uint64_t
ftpagent_send_put_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_fd(a, session, path, fd, true, true, opts, cb, arg);
}

/* ---- local files -------------------------------------------------------- */

/*
 * Whether a resume (x->offset < 0) of a download into a file goes in the
 * agent's ranges (transfer.get "resume") into LOCAL.segments.part: when
 * there is one and segments were asked for, or neither LOCAL.part nor
 * LOCAL is there; and with segments asked for, when there is nothing
 * yet to resume (no LOCAL.part, no LOCAL). The agent continues from its
 * record of the ranges, or starts over when it has none for this remote
 * file.
 */
static bool
segments_resumable(const struct ftpagent *a, const struct xfer *x)
{
	struct stat st;
	char *seg;
	bool seg_there, part_there, local_there;

	if (x->offset >= 0 || x->ascii ||
	    asprintf(&seg, "%s%s", x->d.path, LOCALDEST_SEGMENTS_PART) == -1)
		return false;
	seg_there = lstat(seg, &st) == 0 && S_ISREG(st.st_mode);
	free(seg);
	part_there = lstat(x->d.part, &st) == 0;
	local_there = lstat(x->d.path, &st) == 0;
	/* without -n, a LOCAL.part or a LOCAL (which the remote size may
	 * find complete) is what get -c continues, as ever */
	if (seg_there)
		return a->segments > 1 || (!part_there && !local_there);
	return a->segments > 1 && !part_there && !local_there;
}

/* Where a download into d goes: written in place, or the .part, now or
 * after the remote size (x->step). False with the error set. */
static bool
get_local(struct ftpagent *a, struct xfer *x, int fifo_ms)
{
	const char *what;
	int e;

	x->step = XFER_TRANSFER;
	if (x->d.kind == LOCALDEST_INPLACE) {
		x->local = LOCAL_IN_PLACE;
		if (x->offset < 0) {
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
			    "cannot resume into %s: not a regular file",
			    x->d.path);
			return false;
		}
		if ((x->fd = localdest_open(&x->d, fifo_ms)) == -1) {
			fa_set_local_error(a, "cannot open", x->d.path, errno);
			return false;
		}
		return true;
	}
	/* the .part next to the file it replaces, through any symlinks */
	x->local = LOCAL_PART;
	if (x->offset == 0 && !x->ascii)
		x->segments = a->segments;
	else if (segments_resumable(a, x))
		seg_resume_set(a, x);
	if (x->segments > 1 && localdest_part_segmented(&x->d) == -1) {
		fa_set_local_error(a, "cannot name the part of", x->d.path,
		    errno);
		return false;
	}
	if (adopt_needed(x))
		x->step = XFER_STAT_ADOPT;
	else if ((e = part_open(x, &what)) != 0) {
		fa_set_local_error(a, what, x->d.part, e);
		return false;
	}
	/* in the background: does the agent rename, or the follower? (not
	 * asked for a segmented download, which the agent never renames) */
	if (x->background && x->segments <= 1 &&
	    a->renames == FA_ASK_UNKNOWN) {
		x->after_info = x->step;
		x->step = XFER_INFO;
	}
	ask_seg_resume(a, x);
	return true;
}

uint64_t
fa_send_get_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts, bool background,
    int fifo_ms, ftpagent_reply_cb cb, void *arg)
{
	struct localdest d;
	struct xfer *x;

	if (!fa_check_args(a, session, path) || !fa_local_resolve(a, local, &d))
		return 0;
	if ((x = xfer_make(a, session, path, false, background, opts)) ==
	    NULL) {
		localdest_clear(&d);
		return 0;
	}
	x->d = d;
	if (!get_local(a, x, fifo_ms)) {
		xfer_free(x);
		return 0;
	}
	return xfer_start(a, x, opts, cb, arg);
}

uint64_t
ftpagent_send_get_file(struct ftpagent *a, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return fa_send_get_file(a, session, path, local, opts, false, 0, cb,
	    arg);
}

uint64_t
ftpagent_send_get_file_background(struct ftpagent *a, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return fa_send_get_file(a, session, path, local, opts, true, 0, cb,
	    arg);
}

/* An upload of the file local. */
static uint64_t
send_put_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, bool background, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	struct stat st;
	uint64_t id;
	int fd;

	if (!fa_check_args(a, session, path))
		return 0;
	if (local == NULL || *local == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return 0;
	}
	if (!fa_usable(a))
		return 0;
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) == -1) {
		fa_set_local_error(a, "cannot open", local, errno);
		return 0;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fa_set_local_error(a, "cannot read", local, EISDIR);
		return 0;
	}
	id = send_fd(a, session, path, fd, true, background, opts, cb, arg);
	close(fd);
	return id;
}

uint64_t
ftpagent_send_put_file(struct ftpagent *a, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_put_file(a, session, path, local, false, opts, cb, arg);
}

uint64_t
ftpagent_send_put_file_background(struct ftpagent *a, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    ftpagent_reply_cb cb, void *arg)
{
	return send_put_file(a, session, path, local, true, opts, cb, arg);
}
