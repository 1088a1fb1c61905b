/*
 * libftpagent: trees (transfer.tree). One request, waited for; while it
 * runs the agent reports the tree job's progress (job.progress naming
 * the request, which also keeps the call's inactivity timeout from
 * passing), its actions (tree.item) and asks for the local side
 * (local.*, served by local.c beneath the caller's directory). The
 * reply, or the error reply's data.job, is the tree's final state.
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
#include "local.h"
#include "wire.h"

#define TREE_PARALLEL_MAX	16

struct tree_call {
	struct local_tree lt;
	char		*session;
	json_t		*path;		/* the wire form */
	bool		 put;
	int64_t		 limit_rate;	/* the whole tree's; 0: none */
	ftpagent_tree_progress_cb progress;
	ftpagent_tree_item_cb item;
	void		*arg;
};

/* ---- the tree job ---------------------------------------------------------- */

static void
failures_free(struct ftpagent_tree_failure *f, size_t n)
{
	size_t i;

	for (i = 0; f != NULL && i < n; i++) {
		free(f[i].path);
		free(f[i].error_kind);
		free(f[i].error_message);
	}
	free(f);
}

void
ftpagent_tree_clear(struct ftpagent_tree *t)
{
	if (t == NULL)
		return;
	ftpagent_job_clear(&t->job);
	failures_free(t->failures, t->n_failures);
	memset(t, 0, sizeof(*t));
}

/* The failures of w into t: 0, or -2 when out of memory. */
static int
failures_copy(const struct wire_tree *w, struct ftpagent_tree *t)
{
	const struct wire_tree_failure *wf;
	struct ftpagent_tree_failure *f;
	size_t i;

	if (w->n_failures == 0)
		return 0;
	if ((t->failures = calloc(w->n_failures, sizeof(*f))) == NULL)
		return -2;
	for (i = 0; i < w->n_failures; i++) {
		wf = &w->failures_buf[i];
		f = &t->failures[t->n_failures++];
		f->error = fa_lib_error(wf->err.kind);
		f->ftp_code = wf->err.ftp_code;
		if ((f->path = fa_bytes_dup(wf->path)) == NULL ||
		    (f->error_kind = strdup(fa_kind_name(f->error,
		    wf->err.kind_name))) == NULL ||
		    (f->error_message = strdup(wf->err.message)) == NULL)
			return -2;
	}
	return 0;
}

/* A tree job object into *t (ftpagent_tree_clear): 0, -1 when o is not
 * a job object, -2 when out of memory. */
static int
tree_parse(const json_t *o, struct ftpagent_tree *t)
{
	struct wire_job w;
	int v;

	memset(t, 0, sizeof(*t));
	if ((v = fa_parse_job(o, &t->job)) != 0)
		return v;
	memset(&w, 0, sizeof(w));
	(void)wire_job_read(o, &w);
	t->files = w.tree.files;
	t->files_total = w.tree.files_total;
	t->dirs = w.tree.dirs;
	t->skipped = w.tree.skipped;
	t->deleted = w.tree.deleted;
	t->failed = w.tree.failed;
	t->walking = w.tree.walking;
	t->dry_run = w.tree.dry_run;
	if (failures_copy(&w.tree, t) != 0) {
		ftpagent_tree_clear(t);
		return -2;
	}
	return 0;
}

/* The tree of job object o kept in r for the callback: 0, -1, -2. */
static int
reply_tree(struct fa_reply *r, const json_t *o)
{
	int v;

	if (r->tree == NULL && (r->tree = calloc(1, sizeof(*r->tree))) ==
	    NULL)
		return -2;
	ftpagent_tree_clear(r->tree);
	if ((v = tree_parse(o, r->tree)) != 0) {
		free(r->tree);
		r->tree = NULL;
	}
	return v;
}

bool
ftpagent_reply_take_tree(struct ftpagent_reply *r, struct ftpagent_tree *t)
{
	/* the callback's reply is the core's struct fa_reply, pub first */
	struct fa_reply *fr = (struct fa_reply *)r;

	if (t == NULL)
		return false;
	memset(t, 0, sizeof(*t));
	if (r == NULL || fr->tree == NULL)
		return false;
	*t = *fr->tree;
	free(fr->tree);
	fr->tree = NULL;
	return true;
}

/* ---- the operation --------------------------------------------------------- */

static int
tree_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	const struct ftpagent_job *j;
	int v;

	if ((v = reply_tree(r, res)) != 0)
		return v;
	j = &r->tree->job;
	/* an agent that answers a failed tree with a result */
	if (j->state == FTPAGENT_JOB_FAILED || j->state ==
	    FTPAGENT_JOB_CANCELLED)
		fa_reply_error(r, j->error != FTPAGENT_OK ? j->error :
		    j->state == FTPAGENT_JOB_CANCELLED ?
		    FTPAGENT_ERR_CANCELLED : FTPAGENT_ERR_FTP, "%s",
		    j->error_message != NULL ? j->error_message : "tree failed");
	return FA_DONE;
}

/* A failed tree's error carries the job: its failures are the caller's. */
static int
tree_error(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	json_t *data, *job;

	if (r->data == NULL || (data = json_loads(r->data, 0, NULL)) == NULL)
		return FA_DONE;
	if (json_is_object(job = json_object_get(data, "job")))
		(void)reply_tree(r, job);
	json_decref(data);
	return FA_DONE;
}

static void
tree_free(struct tree_call *t)
{
	if (t == NULL)
		return;
	if (t->lt.root != -1)
		close(t->lt.root);
	fa_local_tree_clear(&t->lt);
	free(t->session);
	json_decref(t->path);
	free(t);
}

static void
tree_end(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	tree_free(c->state);
	c->state = NULL;
}

/* A job object about a tree like this one (for an agent that does not
 * name the request in its progress). */
static bool
tree_owns(const struct fa_call *c, const json_t *p)
{
	const struct tree_call *t = c->state;

	return t != NULL && json_is_object(json_object_get(p, "tree")) &&
	    fa_job_like(p, t->session, t->put, t->path);
}

/* The caller's callback is the last thing: it may end the call. */
static bool
tree_progress(struct ftpagent *a, struct fa_call *c, const json_t *p)
{
	const struct tree_call *t = c->state;
	struct ftpagent_tree tr;
	bool go;

	if (t == NULL || t->progress == NULL || tree_parse(p, &tr) != 0)
		return true;
	go = t->progress(t->arg, &tr);
	ftpagent_tree_clear(&tr);
	return go;
}

static void
tree_notice(struct ftpagent *a, struct fa_call *c, const char *method,
    const json_t *p)
{
	const struct tree_call *t = c->state;
	struct ftpagent_tree_item it;
	struct wire_error we;
	const char *wpath = json_string_value(json_object_get(p, "path"));
	const json_t *e;
	char *path;

	if (t == NULL || t->item == NULL ||
	    (path = fa_bytes_dup(wpath != NULL ? wpath : "")) == NULL)
		return;
	memset(&it, 0, sizeof(it));
	it.job = json_string_value(json_object_get(p, "job"));
	it.action = json_string_value(json_object_get(p, "action"));
	if (it.job == NULL)
		it.job = c->job != NULL ? c->job : "";
	if (it.action == NULL)
		it.action = "";
	it.path = path;
	it.size = wire_count(json_object_get(p, "size"), -1);
	it.error_kind = it.error_message = "";
	if (json_is_object(e = json_object_get(p, "error"))) {
		wire_error_read(e, &we);
		it.error = fa_lib_error(we.kind);
		it.error_kind = fa_kind_name(it.error, we.kind_name);
		it.error_message = we.message;
	}
	t->item(t->arg, &it);
	free(path);
}

static void
tree_serve(struct ftpagent *a, struct fa_call *c, const char *method,
    const json_t *params, struct fa_answer *ans)
{
	struct tree_call *t = c->state;
	const char *job = json_string_value(json_object_get(params, "job"));

	if (t == NULL)
		fa_answer_error(ans, FTPA_ERR_CANCELLED, 0, NULL,
		    "%.64s: the tree has ended", method);
	else if (c->job != NULL && job != NULL && strcmp(job, c->job) != 0)
		fa_answer_error(ans, FTPA_ERR_NONE, JSONRPC_INVALID_PARAMS,
		    "params", "%.64s: job %.64s is not this request's %s",
		    method, job, c->job);
	else
		fa_local_serve(&t->lt, method, params, ans);
}

static const struct fa_op op_tree = {
	.name = "transfer.tree", .result = tree_result, .error = tree_error,
	.end = tree_end, .owns = tree_owns, .progress = tree_progress,
	.serve = tree_serve, .notice = tree_notice,
};

/* ---- sending ----------------------------------------------------------------- */

static const char *const compare_names[] = {
	[FTPAGENT_COMPARE_DEFAULT] = NULL,
	[FTPAGENT_COMPARE_DIFFER] = "differ",
	[FTPAGENT_COMPARE_MISSING] = "missing",
	[FTPAGENT_COMPARE_ALL] = "all",
};

/* A NULL-terminated array of globs as a JSON array (wire form). */
static int
set_globs(json_t *p, const char *key, const char *const *globs)
{
	json_t *arr;
	size_t i;

	if (globs == NULL || globs[0] == NULL)
		return 0;
	if ((arr = json_array()) == NULL)
		return -1;
	for (i = 0; globs[i] != NULL; i++)
		if (json_array_append_new(arr, ftpa_bytes_json(globs[i])) ==
		    -1) {
			json_decref(arr);
			return -1;
		}
	return json_object_set_new(p, key, arr);
}

/* The flags that are a boolean param, and the value each sends. */
static const struct {
	unsigned	 flag;
	const char	*key;
	bool		 value;
} tree_flags[] = {
	{ FTPAGENT_TREE_NEWER_ONLY, "newer_only", true },
	{ FTPAGENT_TREE_DELETE, "delete", true },
	{ FTPAGENT_TREE_DRY_RUN, "dry_run", true },
	{ FTPAGENT_TREE_NO_TIMES, "times", false },
	{ FTPAGENT_TREE_PERMS, "perms", true },
	{ FTPAGENT_TREE_NO_CONTINUE, "continue", false },
	{ FTPAGENT_TREE_ITEMS, "items", true },
};

static json_t *
tree_params(const struct tree_call *t, const struct ftpagent_tree_opts *o)
{
	unsigned f = o->flags | (o->item != NULL ? FTPAGENT_TREE_ITEMS : 0);
	json_t *p;
	size_t i;
	int r = 0;

	p = json_pack("{s:s,s:s,s:O,s:b}", "session", t->session,
	    "direction", t->put ? "put" : "get", "path", t->path,
	    "progress", 1);
	if (p == NULL)
		return NULL;
	if (compare_names[o->compare] != NULL)
		r |= json_object_set_new(p, "compare",
		    json_string(compare_names[o->compare]));
	for (i = 0; i < sizeof(tree_flags) / sizeof(tree_flags[0]); i++)
		if (f & tree_flags[i].flag)
			r |= json_object_set_new(p, tree_flags[i].key,
			    json_boolean(tree_flags[i].value));
	if (f & FTPAGENT_TREE_FOLLOW_LINKS)
		r |= json_object_set_new(p, "symlinks", json_string("follow"));
	else if (f & FTPAGENT_TREE_LINKS)
		r |= json_object_set_new(p, "symlinks",
		    json_string("recreate"));
	if ((f & FTPAGENT_TREE_MAX_DEPTH) && o->max_depth >= 0)
		r |= json_object_set_new(p, "max_depth",
		    json_integer(o->max_depth));
	if (o->parallel > 0)
		r |= json_object_set_new(p, "parallel",
		    json_integer(o->parallel));
	if (t->limit_rate > 0)
		r |= json_object_set_new(p, "limit_rate",
		    json_integer(t->limit_rate));
	r |= set_globs(p, "include", o->include);
	r |= set_globs(p, "exclude", o->exclude);
	if (r != 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

bool
fa_tree_args(struct ftpagent *a, const char *session, const char *path,
    int dir, const struct ftpagent_tree_opts *o)
{
	struct stat st;

	if (!fa_check_args(a, session, path))
		return false;
	if (o->compare < FTPAGENT_COMPARE_DEFAULT ||
	    o->compare > FTPAGENT_COMPARE_ALL || o->parallel < 0 ||
	    o->parallel > TREE_PARALLEL_MAX || (o->direction !=
	    FTPAGENT_XFER_UNKNOWN && o->direction != FTPAGENT_XFER_GET &&
	    o->direction != FTPAGENT_XFER_PUT)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid tree options");
		return false;
	}
	if (dir < 0 || fstat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "local_dir: not a directory descriptor");
		return false;
	}
	return fa_usable(a);
}

static struct tree_call *
tree_new(struct ftpagent *a, const char *session, const char *path, int dir,
    const struct ftpagent_tree_opts *o)
{
	struct tree_call *t;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	t->put = o->direction == FTPAGENT_XFER_PUT;
	t->limit_rate = a->limit_rate;
	t->lt.writable = !t->put && !(o->flags & FTPAGENT_TREE_DRY_RUN);
	t->lt.mode = BENEATH_AUTO;
	t->progress = o->progress;
	t->item = o->item;
	t->arg = o->arg;
	if ((t->lt.root = fcntl(dir, F_DUPFD_CLOEXEC, 3)) == -1) {
		fa_set_local_error(a, "cannot duplicate", "local_dir", errno);
		free(t);
		return NULL;
	}
	if ((t->session = strdup(session)) == NULL ||
	    (t->path = ftpa_bytes_json(path)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		tree_free(t);
		return NULL;
	}
	return t;
}

uint64_t
ftpagent_send_tree(struct ftpagent *a, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, ftpagent_reply_cb cb, void *arg)
{
	static const struct ftpagent_tree_opts defaults;
	const struct ftpagent_tree_opts *o = opts != NULL ? opts : &defaults;
	struct tree_call *t;
	struct fa_call *c;

	if (!fa_tree_args(a, session, remote_path, local_dir, o) ||
	    (t = tree_new(a, session, remote_path, local_dir, o)) == NULL)
		return 0;
	if ((c = fa_call_new(a, &op_tree, cb, arg)) == NULL) {
		tree_free(t);
		return 0;
	}
	c->state = t;
	return fa_call_start(a, c, "transfer.tree", tree_params(t, o), NULL,
	    0);
}

/* ---- the blocking twin ------------------------------------------------------ */

struct tree_sync {
	struct fa_sync	 s;
	struct ftpagent_tree *out;
};

static void
tree_sync_cb(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	struct tree_sync *ts = arg;

	if (ts->out != NULL)
		(void)ftpagent_reply_take_tree(r, ts->out);
	fa_sync_cb(a, r, &ts->s);
}

bool
ftpagent_tree(struct ftpagent *a, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, struct ftpagent_tree *result)
{
	struct tree_sync ts;
	bool ok;

	memset(&ts, 0, sizeof(ts));
	ts.out = result;
	if (result != NULL)
		memset(result, 0, sizeof(*result));
	ok = fa_sync_wait(a, ftpagent_send_tree(a, session, remote_path,
	    local_dir, opts, tree_sync_cb, &ts), &ts.s);
	fa_sync_clear(&ts.s);
	return ok;
}
