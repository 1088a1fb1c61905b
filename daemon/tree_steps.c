/*
 * The steps of a tree's items. A directory: its listings (remote, and
 * local.list), then, when the destination lacks it, its making, then the
 * plan that queues its children. A file: local.open, the transfer (a job
 * step, retried as any transfer), then local.commit (get) or MFMT and
 * SITE CHMOD (put). A deletion: local.remove, or DELE/RMD.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytename.h"
#include "fsops.h"
#include "linkpath.h"
#include "log.h"
#include "session.h"
#include "tree_priv.h"
#include "util.h"
#include "wire.h"

static bool
stopping(const struct titem *it)
{
	return it->t->phase == TREE_STOPPING || it->t->phase == TREE_ENDED;
}

/* The common end of a step: true when the item goes on; else it is
 * finished (the tree stops, or the step failed) and must not be
 * touched. */
static bool
step_ok(struct titem *it, const struct op_error *err)
{
	if (stopping(it))
		item_done(it);
	else if (err != NULL)
		item_fail(it, err);
	else
		return true;
	return false;
}

static struct session *
tree_session(const struct titem *it)
{
	struct session	*s = it->t->job->sess;

	return s != NULL && !s->closing ? s : NULL;
}

/* Without its session the tree cannot go on: it ends, and this item
 * with it (do not touch it after). */
static void
session_gone(struct titem *it)
{
	if (stopping(it))
		item_done(it);
	else
		tree_abort(it->t, FTPA_ERR_NO_SESSION, "the session is "
		    "closed");
}

static char *
remote_of(const struct titem *it)
{
	return tree_remote_path(it->t->job->path, it->rel);
}

/* ---- directories: the listings ------------------------------------------------- */

static void dir_listed(struct titem *);

static void remote_list(struct titem *);
static void probe_listed(struct titem *, struct ftp_op *);
static void local_listed(const struct op_error *, json_t *, int *, size_t,
    void *);

static void
remote_listed(struct ftp_op *op, void *arg)
{
	struct titem	*it = arg;
	struct tree	*t = it->t;

	it->list_op = NULL;
	if (stopping(it)) {
		ftp_op_free(op);
		item_done(it);
		return;
	}
	if (op->failed && ftp_op_transient(op) &&
	    ++it->list_tries < TREE_LIST_TRIES && tree_session(it)) {
		ftp_op_free(op);
		remote_list(it);
		return;
	}
	if (op->failed && op->err.kind == FTPA_ERR_NOT_FOUND && t->o.put &&
	    *it->rel == '\0') {
		it->dst_missing = true;		/* made before the plan */
	} else if (op->failed) {
		item_fail(it, &op->err);
		ftp_op_free(op);
		return;
	} else if (it->probe) {
		probe_listed(it, op);
		ftp_op_free(op);
		return;
	} else if (op->list_single) {
		ftp_op_free(op);
		item_failf(it, FTPA_ERR_FTP, "not a directory on the server");
		return;
	} else {
		it->rent = op->res.entries;
		it->nrent = op->res.n_entries;
		it->coarse = !op->res.mlsd;
		op->res.entries = NULL;
		op->res.n_entries = 0;
	}
	ftp_op_free(op);
	if (--it->waiting == 0)
		dir_listed(it);
}

static void
remote_list(struct titem *it)
{
	struct session	*s = tree_session(it);
	char		*path = remote_of(it);

	if (s == NULL) {
		free(path);
		session_gone(it);
		return;
	}
	it->list_op = ftp_op_new(OP_LIST, path);
	free(path);
	it->list_op->done = remote_listed;
	it->list_op->arg = it;
	session_submit(s, it->list_op);
}

/*
 * One page of local.list, read with the wire codec (names as bytes) and
 * added to the item's entries: 1 when more pages follow (it->after is
 * where the next starts), 0 when it was the last, -1 for an answer that
 * is no page or does not move on (a name not after the last page's),
 * -2 past the tree's limit.
 */
static int
local_page(struct titem *it, json_t *result)
{
	json_t		*arr = json_object_get(result, "entries"), *e;
	bool		 more = json_is_true(json_object_get(result, "more"));
	const char	*max = NULL;
	size_t		 i, n = json_array_size(arr);
	struct ftp_entry *le;

	if (!json_is_array(arr))
		return -1;
	if (it->nlent + n > TREE_ENTRIES_MAX)
		return -2;
	it->lent = xrealloc(it->lent, (it->nlent + n + 1) * sizeof(*it->lent));
	json_array_foreach(arr, i, e) {
		le = &it->lent[it->nlent];
		if (wire_entry_read(e, le) != 0)
			continue;
		it->nlent++;
		if (it->after != NULL && strcmp(le->name, it->after) <= 0)
			return -1;
		if (max == NULL || strcmp(le->name, max) > 0)
			max = le->name;
	}
	if (!more)
		return 0;
	if (max == NULL)
		return -1;
	free(it->after);
	it->after = xstrdup(max);
	return 1;
}

static void
local_listed(const struct op_error *err, json_t *result, int *fds,
    size_t nfds, void *arg)
{
	struct titem	*it = arg;
	int		 r = 0;

	it->ask = NULL;
	if (stopping(it)) {
		item_done(it);
		return;
	}
	if (err != NULL && err->kind == FTPA_ERR_NOT_FOUND && !it->t->o.put &&
	    *it->rel != '\0')
		it->dst_missing = true;
	else if (err != NULL) {
		item_fail(it, err);
		return;
	} else if ((r = local_page(it, result)) < 0) {
		item_failf(it, r == -2 ? FTPA_ERR_LIMIT : FTPA_ERR_PROTOCOL,
		    r == -2 ? "more than 1,000,000 entries in a directory" :
		    "the client's local.list answer is no page of entries "
		    "after the last");
		return;
	} else if (r == 1) {
		item_ask(it, "local.list", json_pack("{s:o}", "after",
		    ftpa_bytes_json(it->after)), local_listed);
		return;
	}
	if (--it->waiting == 0)
		dir_listed(it);
}

void
dir_start(struct titem *it)
{
	struct tree	*t = it->t;
	bool		 remote = !t->o.put || !it->dst_missing;
	bool		 local = (t->o.put || !it->dst_missing) && !it->probe;

	set_step(it, TS_LIST);
	/* the source is listed, and the destination unless it is known to
	 * lack the directory (it is made after); the remote listing last:
	 * it may fail at once, and then the item is gone */
	it->waiting = remote + local;
	if (local)
		item_ask(it, "local.list", NULL, local_listed);
	if (remote)
		remote_list(it);
}

/* ---- links followed -------------------------------------------------------------- */

static void plan_file(struct tree *, const struct ftp_entry *, const char *,
    int, int64_t);
static void plan_skip(struct tree *, const char *, const char *);

/* A followed link's listing is back: a file (one entry, as ls gives it)
 * is planned as one; a directory is walked as one. */
static void
probe_listed(struct titem *it, struct ftp_op *op)
{
	struct tree	*t = it->t;
	const struct ftp_entry *d = it->dst.name ? &it->dst : NULL;
	struct ftp_entry *e = op->res.entries;

	if (op->list_single) {
		if (op->res.n_entries != 1 || e->type != FTP_ENTRY_FILE)
			plan_skip(t, it->rel, "a link to neither a file nor a "
			    "directory");
		else if (d != NULL && d->type == FTP_ENTRY_DIR) {
			item_failf(it, FTPA_ERR_EXISTS, "a directory is in the "
			    "way");
			return;
		} else if (!tree_should_copy(&t->o, e, d, !op->res.mlsd))
			plan_skip(t, it->rel, "the same on both sides");
		else {
			free(e->name);
			e->name = xstrdup(strrchr(it->rel, '/') ?
			    strrchr(it->rel, '/') + 1 : it->rel);
			plan_file(t, e, it->rel, it->depth,
			    tree_put_resume_at(&t->o, e, d));
		}
		item_done(it);
		return;
	}
	if (it->depth > t->o.max_depth) {
		plan_skip(t, it->rel, "deeper than the depth asked");
		item_done(it);
		return;
	}
	if (d != NULL && d->type != FTP_ENTRY_DIR) {
		item_failf(it, FTPA_ERR_EXISTS, "a file is in the way");
		return;
	}
	it->probe = false;
	it->rent = op->res.entries;
	it->nrent = op->res.n_entries;
	it->coarse = !op->res.mlsd;
	op->res.entries = NULL;
	op->res.n_entries = 0;
	it->dst_missing = d == NULL;
	if (it->dst_missing) {
		dir_listed(it);
		return;
	}
	it->waiting = 1;	/* the local side's listing too */
	item_ask(it, "local.list", NULL, local_listed);
}

/* ---- directories: the plan ------------------------------------------------------ */

static void dir_plan(struct titem *);

static void
mkdir_done_remote(const struct op_error *err, void *arg)
{
	struct titem	*it = arg;

	it->fsop = NULL;
	if (step_ok(it, err))
		dir_plan(it);
}

static void
mkdir_done_local(const struct op_error *err, json_t *result, int *fds,
    size_t nfds, void *arg)
{
	mkdir_done_remote(err, arg);
}

/* Both listings are in: make the destination's directory if it lacks
 * one, then plan. */
static void
dir_listed(struct titem *it)
{
	struct tree	*t = it->t;
	struct session	*s;
	char		*path;

	t->ndirs++;
	t->entries += it->nrent + it->nlent;
	if (t->entries > TREE_ENTRIES_MAX) {
		item_done(it);
		tree_abort(t, FTPA_ERR_LIMIT, "more than 1,000,000 entries in "
		    "the tree");
		return;
	}
	tree_entries_sort(it->rent, &it->nrent);
	tree_entries_sort(it->lent, &it->nlent);
	if (!it->dst_missing || t->o.dry_run) {
		if (it->dst_missing)
			tree_item(t, "mkdir", it->rel, -1, NULL);
		dir_plan(it);
		return;
	}
	set_step(it, TS_MKDIR);
	if (!t->o.put) {
		item_ask(it, "local.mkdir", NULL, mkdir_done_local);
		return;
	}
	if ((s = tree_session(it)) == NULL) {
		session_gone(it);
		return;
	}
	path = remote_of(it);
	it->fsop = fsops_mkdir_cb(s, path, *it->rel == '\0', mkdir_done_remote,
	    it);
	free(path);
}

static void
plan_skip(struct tree *t, const char *rel, const char *why)
{
	t->skipped++;
	log_debug("tree %s: %s skipped: %s", t->job->id, rel, why);
	tree_item(t, "skip", rel, -1, NULL);
}

/* A delete for what the destination has and the source lacks. */
static void
plan_delete(struct tree *t, const struct ftp_entry *d, const char *rel,
    int depth)
{
	struct titem	*it;

	if (!t->o.delete || ftpa_tree_name_unsafe(d->name) != NULL ||
	    !tree_wanted(&t->o, rel, d->name, d->type == FTP_ENTRY_DIR))
		return;
	if (t->o.dry_run) {
		tree_item(t, "delete", rel, d->size, NULL);
		return;
	}
	it = item_new(t, TI_DELETE, rel, depth);
	it->src.type = d->type;
	tq_push(&t->deletes, it);
}

/* Why s cannot be transferred over d, or NULL. */
static const char *
plan_conflict(const struct titem *dir, const struct ftp_entry *s,
    const struct ftp_entry *d)
{
	bool	isdir = s->type == FTP_ENTRY_DIR;

	if (d != NULL && (d->type == FTP_ENTRY_DIR) != isdir)
		return isdir ? "a file is in the way" :
		    "a directory is in the way";
	if (!dir->t->o.put && !isdir &&
	    tree_part_clash(s->name, dir->rent, dir->nrent))
		return "its name is where the file without .part is written "
		    "while it downloads";
	return NULL;
}

/* A file to transfer: queued, or only reported in a dry run. */
static void
plan_file(struct tree *t, const struct ftp_entry *s, const char *rel,
    int depth, int64_t resume_at)
{
	struct titem	*it;

	t->files_total++;
	if (s->size > 0)
		t->bytes_total += s->size;
	if (t->o.dry_run) {
		tree_item(t, t->o.put ? "put" : "get", rel, s->size, NULL);
		return;
	}
	it = item_new(t, TI_FILE, rel, depth);
	it->src = *s;
	it->src.name = xstrdup(s->name);
	it->src.target = it->src.raw = NULL;
	it->offset = resume_at;
	tq_push(&t->fileq, it);
}

/* A link made again beside the files (symlinks: recreate): only one
 * whose target stays in the tree, and not over what is no link. */
static void
plan_link(struct titem *dir, const struct ftp_entry *s,
    const struct ftp_entry *d, const char *rel)
{
	struct tree	*t = dir->t;
	struct titem	*it;
	struct op_error	 e = { 0 };

	if (s->target == NULL || !ftpa_link_target_inside(rel, s->target))
		plan_skip(t, rel, "a link whose target is not in the tree");
	else if (d != NULL && d->type != FTP_ENTRY_LINK) {
		op_error_set(&e, FTPA_ERR_EXISTS, 0, NULL, "%s is in the way",
		    d->type == FTP_ENTRY_DIR ? "a directory" : "a file");
		tree_failure(t, rel, &e);
		op_error_clear(&e);
	} else if (d != NULL && d->target != NULL &&
	    strcmp(d->target, s->target) == 0)
		plan_skip(t, rel, "the same on both sides");
	else {
		t->files_total++;
		if (t->o.dry_run) {
			tree_item(t, "link", rel, -1, NULL);
			return;
		}
		it = item_new(t, TI_LINK, rel, dir->depth + 1);
		it->src.target = xstrdup(s->target);
		tq_push(&t->fileq, it);
	}
}

/* A link to follow: its listing will say whether it is a directory. */
static void
plan_probe(struct titem *dir, const struct ftp_entry *s,
    const struct ftp_entry *d, const char *rel)
{
	struct titem	*it = item_new(dir->t, TI_DIR, rel, dir->depth + 1);

	it->probe = true;
	it->links = dir->links + 1;
	it->chain = tchain_push(dir->chain, 0);
	if (d != NULL) {
		it->dst = *d;
		it->dst.name = xstrdup(d->name);
		it->dst.target = it->dst.raw = NULL;
	}
	tq_push(&dir->t->dirs, it);
}

/* One entry of the source (s), with the destination's of that name (d,
 * or NULL). */
static void
plan_entry(struct titem *dir, const struct ftp_entry *s,
    const struct ftp_entry *d, const char *rel)
{
	struct tree	*t = dir->t;
	struct titem	*it;
	struct op_error	 e = { 0 };
	const char	*why;
	bool		 isdir = s->type == FTP_ENTRY_DIR;

	if ((why = ftpa_tree_name_unsafe(s->name)) != NULL)
		plan_skip(t, rel, why);
	else if (s->type == FTP_ENTRY_LINK && t->o.recreate)
		plan_link(dir, s, d, rel);
	else if (s->type == FTP_ENTRY_LINK && (!t->o.follow ||
	    dir->links >= TREE_LINKS_MAX))
		plan_skip(t, rel, "a symbolic link");
	else if (s->type == FTP_ENTRY_LINK)
		plan_probe(dir, s, d, rel);
	else if (s->type != FTP_ENTRY_FILE && !isdir)
		plan_skip(t, rel, "neither a file nor a directory");
	else if (!tree_wanted(&t->o, rel, s->name, isdir))
		plan_skip(t, rel, "excluded");
	else if (strlen(rel) > TREE_PATH_MAX)
		plan_skip(t, rel, "a path too long");
	else if (isdir && dir->depth >= t->o.max_depth)
		plan_skip(t, rel, "deeper than the depth asked");
	else if ((why = plan_conflict(dir, s, d)) != NULL) {
		op_error_set(&e, FTPA_ERR_EXISTS, 0, NULL, "%s", why);
		tree_failure(t, rel, &e);
		op_error_clear(&e);
	} else if (isdir && tchain_has(dir->chain, s->unique))
		plan_skip(t, rel, "a directory inside itself");
	else if (isdir) {
		it = item_new(t, TI_DIR, rel, dir->depth + 1);
		it->dst_missing = d == NULL;
		it->links = dir->links;
		it->chain = tchain_push(dir->chain, s->unique);
		tq_push(&t->dirs, it);
	} else if (!tree_should_copy(&t->o, s, d, dir->coarse))
		plan_skip(t, rel, "the same on both sides");
	else
		plan_file(t, s, rel, dir->depth + 1,
		    tree_put_resume_at(&t->o, s, d));
}

/* Merges the two sorted listings: each source entry with its match. */
static void
dir_plan(struct titem *it)
{
	struct tree	*t = it->t;
	struct ftp_entry *src = t->o.put ? it->lent : it->rent;
	struct ftp_entry *dst = t->o.put ? it->rent : it->lent;
	size_t		 ns = t->o.put ? it->nlent : it->nrent;
	size_t		 nd = t->o.put ? it->nrent : it->nlent;
	size_t		 i = 0, k = 0;
	char		*rel;
	int		 c;

	while (i < ns || k < nd) {
		c = i == ns ? 1 : k == nd ? -1 : strcmp(src[i].name,
		    dst[k].name);
		rel = tree_join(it->rel, c <= 0 ? src[i].name : dst[k].name);
		if (c > 0)
			plan_delete(t, &dst[k++], rel, it->depth + 1);
		else {
			plan_entry(it, &src[i], c == 0 ? &dst[k] : NULL, rel);
			i++;
			k += c == 0;
		}
		free(rel);
	}
	item_done(it);
}

/* ---- files ------------------------------------------------------------------------ */

static void	file_xfer(struct titem *, int fd, int64_t size);

static void
file_opened(const struct op_error *err, json_t *result, int *fds, size_t nfds,
    void *arg)
{
	struct titem	*it = arg;
	json_int_t	 size, idx;

	it->ask = NULL;
	if (!step_ok(it, err))
		return;
	/* "fd" indexes the descriptors that came with the answer */
	idx = json_integer_value(json_object_get(result, "fd"));
	size = json_integer_value(json_object_get(result, "size"));
	if (!json_is_integer(json_object_get(result, "fd")) || idx < 0 ||
	    (size_t)idx >= nfds || fds[idx] == -1 ||
	    !json_is_integer(json_object_get(result, "size")) || size < 0) {
		item_failf(it, FTPA_ERR_PROTOCOL, "the client's local.open "
		    "answer has no descriptor or no size");
		return;
	}
	/* it waits for a transfer slot (tree.c's scheduler) */
	it->fd = fds[idx];
	fds[idx] = -1;
	it->local_size = size;
	set_step(it, TS_READY);
	tree_kick(it->t);
}

void
file_go(struct titem *it)
{
	int	fd = it->fd;

	it->fd = -1;
	file_xfer(it, fd, it->local_size);
}

void
file_start(struct titem *it)
{
	json_t	*extra;

	set_step(it, TS_OPEN);
	extra = json_pack("{s:b, s:b}", "write", !it->t->o.put, "resume",
	    !it->t->o.put && it->t->o.cont);
	item_ask(it, "local.open", extra, file_opened);
}

static void
xfer_progress(struct job *j, void *arg)
{
	struct titem	*it = arg;

	it->bytes = j->bytes;
	tree_progress(it->t);
}

static void	file_after(struct titem *);

static void
xfer_end(struct job *j, void *arg)
{
	struct titem	*it = arg;
	struct tree	*t = it->t;

	/* bytes moved count, also those of a file that failed */
	it->xfer = NULL;
	it->bytes = 0;
	t->bytes_done += j->bytes;
	if (stopping(it))
		item_done(it);
	else if (j->state != JOB_DONE)
		item_fail(it, &j->err);
	else {
		file_after(it);
		/* a commit holds no connection: the next file may start */
		tree_kick(t);
	}
}

/* The transfer itself: a job step on the session, retried as any. */
static void
file_xfer(struct titem *it, int fd, int64_t size)
{
	struct tree	*t = it->t;
	struct session	*s = tree_session(it);
	struct ftp_op	*op;
	const char	*why = NULL;
	char		*path;
	int64_t		 offset = 0;

	if (!t->o.put && size > 0 && (it->src.size < 0 || size <= it->src.size))
		offset = size;		/* NAME.part: go on from there */
	else if (t->o.put && it->offset > 0 && it->offset < size)
		offset = it->offset;	/* what an upload cut short left */
	if (s == NULL) {
		close(fd);
		session_gone(it);
		return;
	}
	path = remote_of(it);
	op = ftp_op_new(t->o.put ? OP_PUT : OP_GET, path);
	free(path);
	op->offset = offset;
	op->rest_restart = true;	/* our own .part: start over if need be */
	/* the tree's limit is for all its files together */
	op->rl = rl_on(&t->job->rl) ? &t->job->rl : NULL;
	if (localfd_open(&op->lfd, fd, !t->o.put, offset, &why) == -1 ||
	    (!t->o.put && offset == 0 && size > 0 &&
	    localfd_rewind(&op->lfd, true) == -1)) {
		ftp_op_free(op);
		item_failf(it, FTPA_ERR_LOCAL_IO, why ? why : "cannot truncate "
		    "the partial file");
		return;
	}
	if (t->o.put)
		it->src.size = size;
	/* what an earlier run moved is not to move: bytes count what this
	 * tree moves */
	if (offset > 0 && t->bytes_total >= offset)
		t->bytes_total -= offset;
	set_step(it, TS_XFER);
	it->hooks.progress = xfer_progress;
	it->hooks.end = xfer_end;
	it->hooks.arg = it;
	it->xfer = job_new_step(t->job->uid, s, op, t->o.put, &it->hooks);
	job_start(it->xfer);
}

/* The file is where it belongs. */
static void
file_finished(struct titem *it)
{
	struct tree	*t = it->t;

	t->files++;
	tree_item(t, t->o.put ? "put" : "get", it->rel, it->src.size, NULL);
	item_done(it);
}

static void
committed(const struct op_error *err, json_t *result, int *fds, size_t nfds,
    void *arg)
{
	struct titem	*it = arg;

	it->ask = NULL;
	if (step_ok(it, err))
		file_finished(it);
}

static void put_attrs(struct titem *);

/* MFMT and SITE CHMOD are niceties: a server without them keeps the
 * file, and the tree does not fail for it. */
static void
attr_done(const struct op_error *err, void *arg)
{
	struct titem	*it = arg;

	it->fsop = NULL;
	if (err != NULL)
		log_debug("tree %s: %s: %s not set: %s", it->t->job->id,
		    it->rel, it->step == TS_MTIME ? "time" : "mode", err->msg);
	if (stopping(it))
		item_done(it);
	else
		put_attrs(it);
}

/* After an upload: its time, then its mode, as asked and known. */
static void
put_attrs(struct titem *it)
{
	struct tree	*t = it->t;
	struct session	*s = tree_session(it);
	char		*path;

	if (s != NULL && it->step == TS_XFER && t->o.times &&
	    it->src.mtime != INT64_MIN) {
		set_step(it, TS_MTIME);
		path = remote_of(it);
		it->fsop = fsops_set_mtime_cb(s, path, it->src.mtime, attr_done,
		    it);
		free(path);
	} else if (s != NULL && it->step != TS_CHMOD && t->o.perms &&
	    it->src.perm >= 0) {
		set_step(it, TS_CHMOD);
		path = remote_of(it);
		it->fsop = fsops_chmod_cb(s, path, it->src.perm & 0777,
		    attr_done, it);
		free(path);
	} else
		file_finished(it);
}

static void
file_after(struct titem *it)
{
	struct tree	*t = it->t;
	json_t		*extra;

	if (t->o.put) {
		put_attrs(it);
		return;
	}
	set_step(it, TS_COMMIT);
	extra = json_object();
	if (t->o.times && it->src.mtime != INT64_MIN)
		json_object_set_new(extra, "mtime", json_integer(it->src.mtime));
	if (t->o.perms && it->src.perm >= 0)
		json_object_set_new(extra, "perm", json_integer(it->src.perm &
		    0777));
	item_ask(it, "local.commit", extra, committed);
}

/* ---- deletions ------------------------------------------------------------------ */

static void
deleted_remote(const struct op_error *err, void *arg)
{
	struct titem	*it = arg;

	it->fsop = NULL;
	if (step_ok(it, err)) {
		it->t->deleted++;
		tree_item(it->t, "delete", it->rel, -1, NULL);
		item_done(it);
	}
}

static void
deleted_local(const struct op_error *err, json_t *result, int *fds,
    size_t nfds, void *arg)
{
	struct titem	*it = arg;

	it->ask = NULL;
	deleted_remote(err, arg);
}

void
delete_start(struct titem *it)
{
	bool		 dir = it->src.type == FTP_ENTRY_DIR;
	struct session	*s;
	char		*path;

	set_step(it, TS_DELETE);
	if (!it->t->o.put) {
		item_ask(it, "local.remove", json_pack("{s:b}", "recursive",
		    dir), deleted_local);
		return;
	}
	if ((s = tree_session(it)) == NULL) {
		session_gone(it);
		return;
	}
	path = remote_of(it);
	it->fsop = fsops_remove_cb(s, path, dir, deleted_remote, it);
	free(path);
}

/* ---- stopping ------------------------------------------------------------------- */

bool
item_stop(struct titem *it)
{
	if (it->xfer != NULL) {
		/* its end hook finishes the item, now or soon */
		job_cancel(it->xfer);
		return false;
	}
	return true;		/* item_done lets go of the rest */
}

/* ---- links (symlinks: recreate) ---------------------------------------------- */

static void
linked(const struct op_error *err, json_t *result, int *fds, size_t nfds,
    void *arg)
{
	struct titem	*it = arg;

	it->ask = NULL;
	if (step_ok(it, err)) {
		it->t->files++;
		tree_item(it->t, "link", it->rel, -1, NULL);
		item_done(it);
	}
}

void
link_start(struct titem *it)
{
	set_step(it, TS_LINK);
	item_ask(it, "local.symlink", json_pack("{s:o}", "target",
	    ftpa_bytes_json(it->src.target)), linked);
}
