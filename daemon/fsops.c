#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsops.h"
#include "ftp.h"
#include "log.h"
#include "rpc.h"
#include "session.h"
#include "util.h"

enum fs_kind { FS_MKDIR, FS_SIMPLE, FS_REMOVE, FS_MTIME };

/*
 * The step in flight: its end is read by what it is, never from the text
 * of the command it sent.
 */
enum fs_step {
	FS_STEP_NONE,
	FS_STEP_CMD,		/* the one command of rmdir, rename, chmod */
	FS_STEP_MKD,		/* mkdir: MKD of the path (or its next part) */
	FS_STEP_MKD_STAT,	/* mkdir -p: is what is there a directory? */
	FS_STEP_DELE,		/* remove: DELE of the path or of an entry */
	FS_STEP_LIST,		/* remove -r: a directory's listing */
	FS_STEP_RMD,		/* remove -r: RMD of a directory emptied */
	FS_STEP_MFMT,		/* set_mtime */
	FS_STEP_MDTM,		/* set_mtime, the older two-argument MDTM */
	FS_STEP_PROBE,		/* a bare 550: does the path exist? */
	FS_STEP_LAST
};

static const char *fs_step_names[FS_STEP_LAST] = {
	"none", "cmd", "mkd", "mkd_stat", "dele", "list", "rmd", "mfmt",
	"mdtm", "probe",
};

struct frame {
	char		*dir;
	struct ftp_entry *entries;	/* what the listing of dir found */
	size_t		 n;
	size_t		 idx;
};

struct fsop {
	enum fs_kind	 kind;
	struct rpc_call	*call;		/* NULL once the client left */
	fsops_cb	 cb;		/* or this, for the agent's own use */
	void		*cb_arg;
	struct session	*sess;
	char		*path;
	/* mkdir -p: the components done so far */
	size_t		 done_len;
	bool		 parents;
	/* remove */
	bool		 recursive;
	struct frame	 stack[FSOPS_MAX_DEPTH];
	int		 depth;
	char		*entry;		/* the entry in flight below path */
	size_t		 seen;
	/* set_mtime */
	int64_t		 mtime;
	enum fs_step	 step;
	/* a generic 550: stat tells "missing" from "refused" */
	struct op_error	 err;
};

static void fs_step_done(struct ftp_op *, void *);

static void
fs_free(struct fsop *f)
{
	for (int i = 0; i < f->depth; i++) {
		free(f->stack[i].dir);
		ftp_entries_free(f->stack[i].entries, f->stack[i].n);
	}
	op_error_clear(&f->err);
	free(f->entry);
	free(f->path);
	free(f);
}

static void
fs_gone(struct rpc_call *call, void *arg)
{
	struct fsop	*f = arg;

	f->call = NULL;
}

static void
fs_finish_ok(struct fsop *f)
{
	if (f->call)
		rpc_reply(f->call, json_object());
	else if (f->cb)
		f->cb(NULL, f->cb_arg);
	fs_free(f);
}

/* An error of an entry below the path (remove -r) names that entry in
 * data.path: the path alone would blame the whole tree. */
static void
fs_finish_err(struct fsop *f, const struct op_error *e)
{
	json_t	*extra = NULL;

	if (f->entry != NULL)
		extra = json_pack("{s:o}", "path", json_text(f->entry));
	if (f->call)
		rpc_fail_op(f->call, e, extra);
	else
		json_decref(extra);
	if (f->call == NULL && f->cb)
		f->cb(e, f->cb_arg);
	fs_free(f);
}

static struct fsop *
fs_alloc(enum fs_kind kind, struct session *s, const char *path)
{
	struct fsop	*f = xcalloc(1, sizeof(*f));

	f->kind = kind;
	f->sess = s;
	f->path = xstrdup(path);
	return f;
}

/* An fsop that answers call. */
static struct fsop *
fs_new(enum fs_kind kind, struct rpc_call *call, struct session *s,
    const char *path)
{
	struct fsop	*f = fs_alloc(kind, s, path);

	f->call = call;
	rpc_defer(call);
	call->on_gone = fs_gone;
	call->gone_arg = f;
	return f;
}

/* An fsop that calls cb. */
static struct fsop *
fs_new_cb(enum fs_kind kind, struct session *s, const char *path,
    fsops_cb cb, void *arg)
{
	struct fsop	*f = fs_alloc(kind, s, path);

	f->cb = cb;
	f->cb_arg = arg;
	return f;
}

void
fsops_forget(struct fsop *f)
{
	f->cb = NULL;
}

/* Queues one step; its end comes back through fs_step_done. A 550 to a
 * step with notfound may mean "missing" (see fs_probe). */
static void
fs_submit(struct fsop *f, enum fs_step step, enum op_kind kind,
    const char *arg, const char *arg2, bool notfound)
{
	struct ftp_op	*op = ftp_op_new(kind, arg);

	if (arg2 != NULL)
		op->cmd2 = xstrdup(arg2);
	op->notfound_550 = notfound;
	op->done = fs_step_done;
	op->arg = f;
	log_debug("fsop %s: %s -> %s", f->path, fs_step_names[f->step],
	    fs_step_names[step]);
	f->step = step;
	session_submit(f->sess, op);
}

static void
fs_cmd(struct fsop *f, enum fs_step step, bool notfound, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fs_cmd(struct fsop *f, enum fs_step step, bool notfound, const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	fs_submit(f, step, OP_CMD, cmd, NULL, notfound);
	free(cmd);
}

/* ---- mkdir -------------------------------------------------------------- */

/* Length of path up to and including the next component after done_len. */
static size_t
next_prefix(const char *path, size_t from)
{
	size_t	i = from;

	while (path[i] == '/')
		i++;
	while (path[i] != '\0' && path[i] != '/')
		i++;
	return i;
}

static void
mkdir_next(struct fsop *f)
{
	size_t	n = next_prefix(f->path, f->done_len);

	f->done_len = n;
	fs_cmd(f, FS_STEP_MKD, false, "MKD %.*s", (int)n, f->path);
}

static bool
mkdir_last(const struct fsop *f)
{
	size_t	i = f->done_len;

	while (f->path[i] == '/')
		i++;
	return f->path[i] == '\0';
}

/* ---- remove -------------------------------------------------------------- */

static bool
safe_name(const char *n)
{
	/* a server's name never leaves the directory it was listed in */
	return n[0] != '\0' && strchr(n, '/') == NULL && strcmp(n, ".") != 0 &&
	    strcmp(n, "..") != 0;
}

static void
remove_next(struct fsop *f)
{
	struct frame		*fr;
	const struct ftp_entry	*e;
	char			*child;

	if (f->depth == 0) {
		fs_finish_ok(f);
		return;
	}
	fr = &f->stack[f->depth - 1];
	while (fr->idx < fr->n) {
		e = &fr->entries[fr->idx++];
		if (e->name == NULL || !safe_name(e->name) || e->raw != NULL)
			continue;	/* the RMD below then says why */
		child = xasprintf("%s%s%s", fr->dir, fr->dir[0] &&
		    fr->dir[strlen(fr->dir) - 1] != '/' ? "/" : "", e->name);
		free(f->entry);
		f->entry = child;
		if (e->type == FTP_ENTRY_DIR) {
			if (f->depth >= FSOPS_MAX_DEPTH) {
				struct op_error	err = { 0 };

				op_error_set(&err, FTPA_ERR_LIMIT, 0, NULL,
				    "directory tree deeper than %d levels",
				    FSOPS_MAX_DEPTH);
				fs_finish_err(f, &err);
				op_error_clear(&err);
				return;
			}
			fs_submit(f, FS_STEP_LIST, OP_LIST, child, NULL, true);
		} else
			fs_cmd(f, FS_STEP_DELE, true, "DELE %s", child);
		return;
	}
	/* empty now: the directory itself goes */
	free(f->entry);
	f->entry = f->depth > 1 ? xstrdup(fr->dir) : NULL;
	fs_cmd(f, FS_STEP_RMD, true, "RMD %s", fr->dir);
	free(fr->dir);
	ftp_entries_free(fr->entries, fr->n);
	f->depth--;
}

/* Takes the entries of the listing of dir (res is left empty). */
static void
remove_push(struct fsop *f, const char *dir, struct ftp_op_result *res)
{
	struct frame	*fr = &f->stack[f->depth++];

	fr->dir = xstrdup(dir);
	fr->entries = res->entries;
	fr->n = res->n_entries;
	fr->idx = 0;
	f->seen += res->n_entries;
	res->entries = NULL;
	res->n_entries = 0;
}

/* ---- steps ----------------------------------------------------------------- */

/*
 * 550 means "missing" as well as "not empty" or "not allowed", and some
 * servers (vsftpd) do not say which: when the words did not tell, a stat
 * of the object does. True when the probe was started.
 */
static bool
fs_probe(struct fsop *f, const struct ftp_op *op)
{
	if (!op->failed || op->err.ftp_code != 550 ||
	    op->err.kind != FTPA_ERR_FTP || !op->notfound_550 || f->depth > 0)
		return false;
	/* a recursive remove goes on to list a directory DELE refused */
	if (f->kind == FS_REMOVE && f->recursive && f->step == FS_STEP_DELE)
		return false;
	op_error_copy(&f->err, &op->err);
	fs_submit(f, FS_STEP_PROBE, OP_STAT, f->path, NULL, false);
	return true;
}

static void
fs_fail(struct fsop *f, enum ftpa_err kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ends the fsop with an error of the agent's own making. */
static void
fs_fail(struct fsop *f, enum ftpa_err kind, const char *fmt, ...)
{
	struct op_error	 err = { 0 };
	va_list		 ap;
	char		 msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op_error_set(&err, kind, 0, NULL, "%s", msg);
	fs_finish_err(f, &err);
	op_error_clear(&err);
}

/* mkdir: the MKD of a part of the path, or of all of it, is back. */
static void
mkdir_done(struct fsop *f, const struct ftp_op *op)
{
	if (!mkdir_last(f))
		mkdir_next(f);		/* parents that exist answer 550: fine */
	else if (!op->failed)
		fs_finish_ok(f);
	else if (f->parents)		/* fine if it is a directory */
		fs_submit(f, FS_STEP_MKD_STAT, OP_STAT, f->path, NULL, false);
	else
		fs_finish_err(f, &op->err);
}

/* mkdir -p: the path is there; it must be a directory. */
static void
mkdir_stat_done(struct fsop *f, const struct ftp_op *op)
{
	bool	found = !op->failed && op->res.n_entries == 1;

	if (found && op->res.entries[0].type == FTP_ENTRY_DIR)
		fs_finish_ok(f);
	else
		fs_fail(f, FTPA_ERR_EXISTS, "cannot create directory %s: %s",
		    f->path, found ? "a file of that name exists" :
		    "the server refused");
}

/* remove -r: a directory's entries, to remove one at a time. */
static void
list_done(struct fsop *f, struct ftp_op *op)
{
	if (op->failed)
		fs_finish_err(f, &op->err);
	else if (f->seen + op->res.n_entries > FSOPS_MAX_ENTRIES)
		fs_fail(f, FTPA_ERR_LIMIT, "more than %d entries to remove",
		    FSOPS_MAX_ENTRIES);
	else {
		remove_push(f, op->path, &op->res);
		remove_next(f);
	}
}

/* remove: a DELE (or, emptying a tree, an RMD) is back. */
static void
remove_done(struct fsop *f, const struct ftp_op *op)
{
	if (f->step == FS_STEP_DELE && f->depth == 0 && op->failed &&
	    f->recursive)	/* not a file: a directory to empty first */
		fs_submit(f, FS_STEP_LIST, OP_LIST, f->path, NULL, true);
	else if (op->failed)
		fs_finish_err(f, &op->err);
	else
		remove_next(f);
}

/* set_mtime: MFMT is back; without it, the two-argument MDTM. */
static void
mfmt_done(struct fsop *f, const struct ftp_op *op)
{
	struct tm	tm;
	time_t		t = (time_t)f->mtime;

	if (!op->failed)
		fs_finish_ok(f);
	else if (op->err.ftp_code >= 500 && op->err.ftp_code <= 504) {
		gmtime_r(&t, &tm);
		fs_cmd(f, FS_STEP_MDTM, true, "MDTM %04d%02d%02d%02d%02d%02d %s",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, f->path);
	} else
		fs_finish_err(f, &op->err);
}

static void
fs_step_done(struct ftp_op *op, void *arg)
{
	struct fsop	*f = arg;

	if (f->step == FS_STEP_PROBE) {
		if (op->failed && op->err.kind == FTPA_ERR_NOT_FOUND)
			f->err.kind = FTPA_ERR_NOT_FOUND;
		fs_finish_err(f, &f->err);
	} else if (fs_probe(f, op))
		;
	else switch (f->step) {
	case FS_STEP_MKD:
		mkdir_done(f, op);
		break;
	case FS_STEP_MKD_STAT:
		mkdir_stat_done(f, op);
		break;
	case FS_STEP_LIST:
		list_done(f, op);
		break;
	case FS_STEP_DELE:
	case FS_STEP_RMD:
		remove_done(f, op);
		break;
	case FS_STEP_MFMT:
		mfmt_done(f, op);
		break;
	case FS_STEP_CMD:
	case FS_STEP_MDTM:
	default:
		if (op->failed)
			fs_finish_err(f, &op->err);
		else
			fs_finish_ok(f);
		break;
	}
	ftp_op_free(op);
}

/* ---- entry points ------------------------------------------------------------ */

static void
mkdir_start(struct fsop *f, bool parents)
{
	f->parents = parents;
	if (parents) {
		mkdir_next(f);
		return;
	}
	f->done_len = strlen(f->path);	/* one MKD of the whole path */
	fs_cmd(f, FS_STEP_MKD, false, "MKD %s", f->path);
}

static void
remove_start(struct fsop *f, bool recursive)
{
	f->recursive = recursive;
	fs_cmd(f, FS_STEP_DELE, true, "DELE %s", f->path);
}

static void
chmod_start(struct fsop *f, int mode)
{
	fs_cmd(f, FS_STEP_CMD, true, "SITE CHMOD %o %s", (unsigned)mode,
	    f->path);
}

static void
mtime_start(struct fsop *f, int64_t mtime)
{
	struct tm	 tm;
	time_t		 t = (time_t)mtime;

	f->mtime = mtime;
	gmtime_r(&t, &tm);
	fs_cmd(f, FS_STEP_MFMT, true, "MFMT %04d%02d%02d%02d%02d%02d %s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, f->path);
}

void
fsops_mkdir(struct rpc_call *call, struct session *s, const char *path,
    bool parents)
{
	mkdir_start(fs_new(FS_MKDIR, call, s, path), parents);
}

void
fsops_rmdir(struct rpc_call *call, struct session *s, const char *path)
{
	struct fsop	*f = fs_new(FS_SIMPLE, call, s, path);

	fs_cmd(f, FS_STEP_CMD, true, "RMD %s", path);
}

void
fsops_remove(struct rpc_call *call, struct session *s, const char *path,
    bool recursive)
{
	remove_start(fs_new(FS_REMOVE, call, s, path), recursive);
}

void
fsops_rename(struct rpc_call *call, struct session *s, const char *from,
    const char *to)
{
	struct fsop	*f = fs_new(FS_SIMPLE, call, s, from);
	char		*a = xasprintf("RNFR %s", from);
	char		*b = xasprintf("RNTO %s", to);

	fs_submit(f, FS_STEP_CMD, OP_CMD, a, b, true);
	free(a);
	free(b);
}

void
fsops_chmod(struct rpc_call *call, struct session *s, const char *path, int mode)
{
	chmod_start(fs_new(FS_SIMPLE, call, s, path), mode);
}

void
fsops_set_mtime(struct rpc_call *call, struct session *s, const char *path,
    int64_t mtime)
{
	mtime_start(fs_new(FS_MTIME, call, s, path), mtime);
}

struct fsop *
fsops_mkdir_cb(struct session *s, const char *path, bool parents,
    fsops_cb cb, void *arg)
{
	struct fsop	*f = fs_new_cb(FS_MKDIR, s, path, cb, arg);

	mkdir_start(f, parents);
	return f;
}

struct fsop *
fsops_remove_cb(struct session *s, const char *path, bool recursive,
    fsops_cb cb, void *arg)
{
	struct fsop	*f = fs_new_cb(FS_REMOVE, s, path, cb, arg);

	remove_start(f, recursive);
	return f;
}

struct fsop *
fsops_chmod_cb(struct session *s, const char *path, int mode, fsops_cb cb,
    void *arg)
{
	struct fsop	*f = fs_new_cb(FS_SIMPLE, s, path, cb, arg);

	chmod_start(f, mode);
	return f;
}

struct fsop *
fsops_set_mtime_cb(struct session *s, const char *path, int64_t mtime,
    fsops_cb cb, void *arg)
{
	struct fsop	*f = fs_new_cb(FS_MTIME, s, path, cb, arg);

	mtime_start(f, mtime);
	return f;
}
