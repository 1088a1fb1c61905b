/*
 * transfer.get, transfer.put and the job methods: the local end (an fd or
 * inline data), the job, and waiting for it.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "budget.h"
#include "bytename.h"
#include "conf.h"
#include "ftp.h"
#include "job.h"
#include "segget.h"
#include "session.h"
#include "tree.h"
#include "util.h"
#include "rpc_priv.h"

/* ---- transfers ----------------------------------------------------------------- */

static int
b64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
	unsigned char	*buf;
	int		 n, pad = 0;

	if (len % 4 != 0)
		return -1;
	buf = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(buf);
		return -1;
	}
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	*out = (char *)buf;
	*outlen = n - pad;
	return 0;
}

/* What transfer.get and transfer.put were asked. */
struct xfer_req {
	bool		 put;
	const char	*path, *type, *data, *fallback;
	json_int_t	 offset, limit, segments;
	bool		 wait, inl, append, progress;
	bool		 resume;	/* get with segments: the record's */
	json_t		*rename;	/* get: {dir_fd, from, to, ...} */
};

/* The parameters, read and checked; -1 when the call was answered. */
static int
transfer_params(struct rpc_call *call, json_t *params, struct xfer_req *r)
{
	json_t	*d = NULL;

	if (p_path(call, params, "path", true, &r->path) == -1 ||
	    p_str(call, params, "type", false, &r->type) == -1 ||
	    p_int(call, params, "offset", 0, 0, INT64_MAX, &r->offset) == -1 ||
	    p_int(call, params, "limit_rate", 0, 0, RATE_MAX, &r->limit) == -1 ||
	    p_int(call, params, "segments", 1, 1, SEGMENTS_MAX,
	    &r->segments) == -1 ||
	    p_bool(call, params, "wait", true, &r->wait) == -1 ||
	    p_bool(call, params, "inline", false, &r->inl) == -1 ||
	    p_bool(call, params, "append", false, &r->append) == -1 ||
	    p_bool(call, params, "progress", false, &r->progress) == -1 ||
	    p_bool(call, params, "resume", false, &r->resume) == -1 ||
	    p_str(call, params, "rest_fallback", false, &r->fallback) == -1)
		return -1;
	if (r->type != NULL && strcmp(r->type, "binary") != 0 &&
	    strcmp(r->type, "ascii") != 0)
		params_error(call, "parameter \"type\" must be binary or ascii");
	else if (r->fallback != NULL && strcmp(r->fallback, "fail") != 0 &&
	    strcmp(r->fallback, "restart") != 0)
		params_error(call, "parameter \"rest_fallback\" must be fail or "
		    "restart");
	else if (!r->put && r->inl && !r->wait)
		params_error(call, "\"inline\": true needs \"wait\": true (the "
		    "data comes back in the reply)");
	else if (r->resume && (r->put || r->segments < 2))
		params_error(call, "\"resume\" continues a segmented download "
		    "(with \"segments\"); a single one resumes at \"offset\"");
	else if (r->put && r->append && r->offset)
		params_error(call, "give \"offset\" or \"append\", not both");
	else if (r->put && (d = json_object_get(params, "data")) != NULL &&
	    !json_is_string(d))
		params_error(call, "parameter \"data\" must be a base64 string");
	else if (r->put && d != NULL &&
	    json_string_length(d) > (INLINE_MAX / 3 + 1) * 4)
		rpc_fail(call, FTPA_ERR_LIMIT, "inline data larger than %d MiB",
		    INLINE_MAX >> 20);
	else {
		r->data = r->put && d != NULL ? json_string_value(d) : NULL;
		r->rename = json_object_get(params, "rename");
		if (json_is_null(r->rename))
			r->rename = NULL;
		return 0;
	}
	return -1;
}

/* A name of "rename": one component in the byte-safe form, no NUL. */
static int
p_name(struct rpc_call *call, json_t *o, const char *key, const char **out)
{
	if (p_path(call, o, key, true, out) == -1)
		return -1;
	if (strlen(*out) != json_string_length(json_object_get(o, key))) {
		params_error(call, "parameter \"rename.%s\" contains NUL", key);
		return -1;
	}
	return 0;
}

/*
 * transfer.get "rename": the agent renames the .part in the caller's
 * directory when the job is done. Only for a caller of the agent's own
 * uid: renameat(2) is checked against the agent's credentials, so a
 * system agent would rename with its rights on another user's behalf
 * (see ftpd-agent-protocol(7)). -1 when the call was answered.
 */
static int
transfer_rename(struct rpc_call *call, const struct xfer_req *r,
    struct ftp_op *op)
{
	json_t		*o = r->rename;
	const char	*from, *to, *err;
	bool		 rm;
	int		 dfd, rc;

	if (o == NULL)
		return 0;
	if (!json_is_object(o) || r->put || r->inl)
		params_error(call, "parameter \"rename\" must be an object, and "
		    "only for a download into an fd");
	else if (call->uid != geteuid())
		rpc_fail(call, FTPA_ERR_PERMISSION, "the agent renames files only "
		    "for its own user; rename the .part yourself");
	else if (p_name(call, o, "from", &from) == 0 &&
	    p_name(call, o, "to", &to) == 0 &&
	    p_bool(call, o, "remove_empty", false, &rm) == 0 &&
	    (dfd = p_fd(call, o, "dir_fd")) != -1) {
		if (dfd == -2) {
			params_error(call, "missing parameter \"rename.dir_fd\"");
			return -1;
		}
		if ((rc = localfd_name_set(&op->lfd, dfd, from, to, rm,
		    &err)) == 0)
			return 0;
		if (rc == -1)
			params_error(call, "parameter \"rename\": %s", err);
		else
			rpc_fail(call, FTPA_ERR_LOCAL_IO, "%s", err);
	}
	return -1;
}

/* The agent's and the user's job limits; -1 when the call was answered. */
static int
transfer_admit(struct rpc_call *call)
{
	const struct agent_conf	*cf = conf_current();

	if (call->uid != 0 &&
	    job_count(call->uid, false, true) >= cf->max_jobs_per_uid)
		rpc_fail(call, FTPA_ERR_LIMIT, "too many jobs (at most %d per "
		    "user)", cf->max_jobs_per_uid);
	else if (job_count(call->uid, true, true) >= cf->max_jobs)
		rpc_fail(call, FTPA_ERR_LIMIT, "too many jobs (at most %d in all)",
		    cf->max_jobs);
	else
		return 0;
	return -1;
}

/* The op's local end: the fd, the inline data, or memory for the reply;
 * -1 when the call was answered (fd is taken either way). */
static int
transfer_local(struct rpc_call *call, const struct xfer_req *r, int fd,
    struct ftp_op *op)
{
	const char	*err;
	char		*buf;
	size_t		 len;

	if (fd >= 0) {
		if (localfd_open(&op->lfd, fd, !r->put, r->offset, &err) == 0)
			return 0;
		rpc_fail(call, FTPA_ERR_LOCAL_IO, "%s", err);
		return -1;
	}
	if (!r->put) {
		localfd_open_mem_sink(&op->lfd, INLINE_MAX);
		return 0;
	}
	if (b64_decode(r->data, strlen(r->data), &buf, &len) == -1) {
		params_error(call, "parameter \"data\" is not valid base64");
		return -1;
	}
	if (len + job_inline_held(call->uid) > UID_MAX_INLINE) {
		free(buf);
		rpc_fail(call, FTPA_ERR_LIMIT, "too much inline data waiting in "
		    "unfinished jobs (at most %u MiB per user)",
		    UID_MAX_INLINE >> 20);
		return -1;
	}
	localfd_open_mem_source(&op->lfd, buf, len);
	return 0;
}

/* Why a segmented get cannot be: NULL when it can. */
static const char *
segments_refused(const struct xfer_req *r, int fd)
{
	struct stat	st;
	int		fl;

	if (r->put)
		return "\"segments\" is for downloads";
	if (fd < 0)
		return "\"segments\" needs \"fd\" (a regular file), not "
		    "inline data";
	if (r->offset != 0 || r->rename != NULL ||
	    (r->type != NULL && strcmp(r->type, "binary") != 0))
		return "\"segments\" goes with neither \"offset\", "
		    "\"rename\" nor \"type\": \"ascii\"";
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_APPEND) ||
	    (fl & O_ACCMODE) == O_RDONLY)
		return "\"segments\" needs a regular file open for writing "
		    "(not O_APPEND): each range is written at its offset";
	if (r->resume && (fl & O_ACCMODE) != O_RDWR)
		return "\"resume\" needs the file open for reading too (the "
		    "record of its ranges is read from its end)";
	return NULL;
}

/* transfer.get with "segments" above 1 (segget.h). */
static void
transfer_segmented(struct rpc_call *call, const struct xfer_req *r, int fd)
{
	const char	*why;
	struct job	*j;

	if ((why = segments_refused(r, fd)) != NULL) {
		if (fd >= 0)
			close(fd);
		params_error(call, "%s", why);
		return;
	}
	if (transfer_admit(call) == -1) {
		close(fd);
		return;
	}
	j = job_new_segmented(call->uid, call->session, r->path,
	    segget_new(fd, (int)r->segments, r->resume));
	job_set_limit(j, r->limit);
	if (r->progress && call->client)
		job_set_progress(j, call->client, call->id);
	job_start(j);
	if (r->wait)
		job_wait(j, call, 0, false, true);
	else
		rpc_reply(call, json_pack("{s:s}", "job", j->id));
}

static void
transfer(struct rpc_call *call, json_t *params, bool put)
{
	struct xfer_req	 r = { .put = put };
	struct ftp_op	*op;
	struct job	*j;
	int		 fd;

	if (transfer_params(call, params, &r) == -1 ||
	    (fd = p_fd(call, params, "fd")) == -1)
		return;
	if (r.segments > 1) {
		transfer_segmented(call, &r, fd);
		return;
	}
	if ((fd >= 0) + (put ? r.data != NULL : r.inl) != 1) {
		if (fd >= 0)
			close(fd);
		params_error(call, put ? "give exactly one of \"fd\" and \"data\"" :
		    "give exactly one of \"fd\" and \"inline\": true");
		return;
	}
	if (transfer_admit(call) == -1) {
		if (fd >= 0)
			close(fd);
		return;
	}
	op = ftp_op_new(put ? OP_PUT : OP_GET, r.path);
	op->offset = r.offset;
	op->append = r.append;
	op->ascii = r.type != NULL && strcmp(r.type, "ascii") == 0;
	op->rest_restart = r.fallback != NULL &&
	    strcmp(r.fallback, "restart") == 0;
	if (transfer_local(call, &r, fd, op) == -1) {
		ftp_op_free(op);
		return;
	}
	if (transfer_rename(call, &r, op) == -1) {
		ftp_op_free(op);
		return;
	}
	call->heavy = r.inl || r.data != NULL;
	j = job_new(call->uid, call->session, op, put);
	job_set_limit(j, r.limit);
	if (r.progress && call->client)
		job_set_progress(j, call->client, call->id);
	job_start(j);
	if (r.wait)
		job_wait(j, call, 0, r.inl && !put, true);
	else
		rpc_reply(call, json_pack("{s:s}", "job", j->id));
}

void
m_get(struct rpc_call *call, json_t *params)
{
	transfer(call, params, false);
}

void
m_put(struct rpc_call *call, json_t *params)
{
	transfer(call, params, true);
}

/* ---- trees ---------------------------------------------------------------------- */

/* An array of globs: NULL-terminated copies in *out (NULL: none). */
static int
p_globs(struct rpc_call *call, json_t *params, const char *key, size_t *n,
    char ***out)
{
	json_t	*v = json_object_get(params, key), *g;
	size_t	 i;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || (*n += json_array_size(v)) > TREE_GLOBS_MAX) {
		params_error(call, "parameter \"%s\" must be an array of at most "
		    "%d globs (strings)", key, TREE_GLOBS_MAX);
		return -1;
	}
	json_array_foreach(v, i, g) {
		if (!json_is_string(g) || json_string_length(g) == 0 ||
		    json_string_length(g) > 1024 ||
		    strlen(json_string_value(g)) != json_string_length(g)) {
			params_error(call, "parameter \"%s\" must hold globs of "
			    "1 to 1024 bytes without NUL", key);
			return -1;
		}
	}
	/* globs match names as bytes: the byte-safe form is undone, as
	 * for paths */
	*out = xcalloc(json_array_size(v) + 1, sizeof(**out));
	json_array_foreach(v, i, g) {
		(*out)[i] = xstrdup(json_string_value(g));
		ftpa_bytes_unescape((*out)[i], strlen((*out)[i]));
	}
	return 0;
}

/* The options of transfer.tree; -1 when the call was answered. */
static int
tree_params(struct rpc_call *call, json_t *params, struct tree_opts *o)
{
	const char	*dir, *cmp = NULL, *links = NULL;
	json_int_t	 depth, par;
	size_t		 nglobs = 0;
	int		 c;

	if (p_str(call, params, "direction", true, &dir) == -1 ||
	    p_str(call, params, "compare", false, &cmp) == -1 ||
	    p_str(call, params, "symlinks", false, &links) == -1 ||
	    p_bool(call, params, "newer_only", false, &o->newer_only) == -1 ||
	    p_bool(call, params, "delete", false, &o->delete) == -1 ||
	    p_bool(call, params, "dry_run", false, &o->dry_run) == -1 ||
	    p_bool(call, params, "times", true, &o->times) == -1 ||
	    p_bool(call, params, "perms", false, &o->perms) == -1 ||
	    p_bool(call, params, "continue", true, &o->cont) == -1 ||
	    p_bool(call, params, "items", false, &o->items) == -1 ||
	    p_int(call, params, "max_depth", TREE_DEPTH_MAX, 0, TREE_DEPTH_MAX,
	    &depth) == -1 ||
	    p_int(call, params, "parallel", 0, 0, TREE_PARALLEL_MAX,
	    &par) == -1 ||
	    p_globs(call, params, "include", &nglobs, &o->include) == -1 ||
	    p_globs(call, params, "exclude", &nglobs, &o->exclude) == -1)
		return -1;
	if (strcmp(dir, "get") != 0 && strcmp(dir, "put") != 0)
		params_error(call, "parameter \"direction\" must be get or put");
	else if ((c = cmp ? tree_compare_from_name(cmp) : TREE_CMP_DIFFER) == -1)
		params_error(call, "parameter \"compare\" must be differ, "
		    "missing or all");
	else if (links != NULL && strcmp(links, "skip") != 0 &&
	    strcmp(links, "follow") != 0 && strcmp(links, "recreate") != 0)
		params_error(call, "parameter \"symlinks\" must be skip, "
		    "follow or recreate");
	else if (links != NULL && strcmp(links, "skip") != 0 &&
	    strcmp(dir, "put") == 0)
		params_error(call, "\"symlinks\": \"%s\" is for get: the "
		    "local side never follows a link, and FTP has no command "
		    "that makes one", links);
	else {
		o->put = strcmp(dir, "put") == 0;
		o->follow = links != NULL && strcmp(links, "follow") == 0;
		o->recreate = links != NULL && strcmp(links, "recreate") == 0;
		o->compare = c;
		o->max_depth = (int)depth;
		o->parallel = par > 0 ? (int)par :
		    call->session->o.max_conns < 4 ? call->session->o.max_conns : 4;
		return 0;
	}
	return -1;
}

void
m_tree(struct rpc_call *call, json_t *params)
{
	struct tree_opts o = { 0 };
	const char	*path;
	bool		 wait, progress, put;
	json_int_t	 limit;
	struct tree	*t;
	struct job	*j;

	if (p_path(call, params, "path", true, &path) == -1 ||
	    p_int(call, params, "limit_rate", 0, 0, RATE_MAX, &limit) == -1 ||
	    p_bool(call, params, "wait", true, &wait) == -1 ||
	    p_bool(call, params, "progress", false, &progress) == -1 ||
	    tree_params(call, params, &o) == -1 ||
	    transfer_admit(call) == -1) {
		tree_opts_clear(&o);
		return;
	}
	if (call->client == NULL) {	/* nobody to serve the local side */
		tree_opts_clear(&o);
		rpc_fail(call, FTPA_ERR_CANCELLED, "the caller is gone");
		return;
	}
	put = o.put;
	t = tree_new(call->client, call->id, &o);	/* o is taken */
	j = job_new_tree(call->uid, call->session, path, put, t);
	job_set_limit(j, limit);
	if (progress)
		job_set_progress(j, call->client, call->id);
	job_start(j);
	if (wait)
		job_wait(j, call, 0, false, true);
	else
		rpc_reply(call, json_pack("{s:s}", "job", j->id));
}

/* ---- jobs --------------------------------------------------------------------- */

void
m_job_status(struct rpc_call *call, json_t *params)
{
	struct job	*j;

	if ((j = p_job(call, params)) != NULL)
		rpc_reply(call, job_json(j));
}

void
m_job_wait(struct rpc_call *call, json_t *params)
{
	struct job	*j;
	double		 timeout;

	if ((j = p_job(call, params)) == NULL)
		return;
	if (p_num(call, params, "timeout", 0, &timeout) == -1)
		return;
	job_wait(j, call, timeout, false, false);
}

void
m_job_cancel(struct rpc_call *call, json_t *params)
{
	struct job	*j;

	if ((j = p_job(call, params)) == NULL)
		return;
	job_cancel(j);
	rpc_reply(call, json_object());
}

struct list_arg {
	uid_t	 uid;
	json_t	*arr;
};

static void
list_one(const struct job *j, void *arg)
{
	struct list_arg	*la = arg;

	if (j->uid == la->uid || la->uid == 0)
		json_array_append_new(la->arr, job_json(j));
}

void
m_job_list(struct rpc_call *call, json_t *params)
{
	struct list_arg	la = { call->uid, json_array() };

	job_each(list_one, &la);
	rpc_reply(call, la.arr);
}
