#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ask.h"
#include "bytename.h"
#include "control.h"
#include "fsops.h"
#include "jsonrpc.h"
#include "job.h"
#include "log.h"
#include "session.h"
#include "tree_priv.h"
#include "util.h"
#include "wire.h"

static const char *step_names[TS_LAST] = {
	"queued", "list", "mkdir", "open", "ready", "xfer", "commit", "mtime",
	"chmod", "delete", "link",
};

static const char *phase_names[TREE_PHASE_LAST] = {
	"idle", "run", "delete", "stopping", "ended",
};

static struct tree	*trees;


/* ---- items and queues ------------------------------------------------------ */

void
set_step(struct titem *it, enum titem_step s)
{
	log_debug("tree %s: %s %s -> %s", it->t->job->id, it->rel,
	    step_names[it->step], step_names[s]);
	it->step = s;
}

static void
set_phase(struct tree *t, enum tree_phase p)
{
	log_debug("tree %s: %s -> %s", t->job->id, phase_names[t->phase],
	    phase_names[p]);
	t->phase = p;
}

struct titem *
item_new(struct tree *t, enum titem_kind kind, const char *rel, int depth)
{
	struct titem	*it = xcalloc(1, sizeof(*it));

	it->t = t;
	it->kind = kind;
	it->rel = xstrdup(rel);
	it->depth = depth;
	it->fd = -1;
	it->src.size = -1;
	it->src.mtime = INT64_MIN;
	it->src.perm = -1;
	return it;
}

struct tchain *
tchain_push(struct tchain *up, uint64_t unique)
{
	struct tchain	*c;

	if (unique == 0) {
		if (up != NULL)
			up->refs++;
		return up;
	}
	c = xcalloc(1, sizeof(*c));
	c->unique = unique;
	c->up = up;
	c->refs = 1;
	if (up != NULL)
		up->refs++;
	return c;
}

bool
tchain_has(const struct tchain *c, uint64_t unique)
{
	for (; unique != 0 && c != NULL; c = c->up)
		if (c->unique == unique)
			return true;
	return false;
}

static void
tchain_unref(struct tchain *c)
{
	struct tchain	*up;

	for (; c != NULL && --c->refs == 0; c = up) {
		up = c->up;
		free(c);
	}
}

static void
item_free(struct titem *it)
{
	if (it->fd != -1)
		close(it->fd);
	free(it->rel);
	free(it->after);
	ftp_entry_clear(&it->src);
	ftp_entry_clear(&it->dst);
	tchain_unref(it->chain);
	ftp_entries_free(it->rent, it->nrent);
	ftp_entries_free(it->lent, it->nlent);
	free(it);
}

void
tq_push(struct tq *q, struct titem *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
}

static struct titem *
tq_pop(struct tq *q)
{
	struct titem	*it = q->head;

	if (it == NULL)
		return NULL;
	if ((q->head = it->next) == NULL)
		q->tail = NULL;
	q->n--;
	it->next = NULL;
	return it;
}

static void
tq_free(struct tq *q)
{
	struct titem	*it;

	while ((it = tq_pop(q)) != NULL)
		item_free(it);
}

static void
active_add(struct titem *it)
{
	it->next = it->t->active;
	it->t->active = it;
	it->t->nactive++;
	if (it->kind == TI_DIR)
		it->t->nactive_dirs++;
}

static void
list_orphan(struct ftp_op *op, void *arg)
{
	ftp_op_free(op);
}

/* The item's work is over: off the active list, freed, the tree goes on. */
void
item_done(struct titem *it)
{
	struct tree	*t = it->t;
	struct titem	**pp;

	/* what still runs for it ends without it */
	if (it->ask)
		ask_forget(it->ask);
	if (it->fsop)
		fsops_forget(it->fsop);
	if (it->list_op) {
		it->list_op->done = list_orphan;
		it->list_op->arg = NULL;
	}
	for (pp = &t->active; *pp; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			break;
		}
	t->nactive--;
	if (it->kind == TI_DIR)
		t->nactive_dirs--;
	item_free(it);
	tree_kick(t);
}

/* ---- what the caller hears ---------------------------------------------------- */

static json_t *
base_params(const struct tree *t, const char *rel)
{
	json_t	*p = json_pack("{s:s, s:o}", "job", t->job->id, "path",
	    ftpa_bytes_json(rel));

	if (p == NULL)
		fatalx("out of memory");
	if (t->request_id)
		json_object_set(p, WIRE_JOB_REQUEST, t->request_id);
	return p;
}

void
tree_item(struct tree *t, const char *action, const char *rel, int64_t size,
    const struct op_error *err)
{
	json_t	*p;

	if (!t->o.items || t->client == NULL)
		return;
	p = base_params(t, rel);
	json_object_set_new(p, "action", json_string(action));
	json_object_set_new(p, "size", size >= 0 ? json_integer(size) :
	    json_null());
	if (err)
		json_object_set_new(p, "error", wire_error_json(err->kind,
		    err->msg, err->ftp_code, err->ftp_text));
	client_notify(t->client, jsonrpc_notification("tree.item", p));
}

void
tree_progress(struct tree *t)
{
	int64_t	 active = 0;

	for (struct titem *it = t->active; it; it = it->next)
		active += it->bytes;
	t->job->bytes = t->bytes_done + active;
	t->job->total = t->bytes_total;
	job_tree_progress(t->job, false);
}

void
tree_failure(struct tree *t, const char *rel, const struct op_error *e)
{
	struct wire_tree_failure *f;

	t->failed++;
	if (t->first_err.kind == FTPA_ERR_NONE)
		op_error_copy(&t->first_err, e);
	tree_item(t, "failed", rel, -1, e);
	log_info("tree %s: %s: %s", t->job->id, rel, e->msg);
	if (t->nfailures == WIRE_TREE_FAILURES_MAX)
		return;
	f = &t->failures[t->nfailures++];
	f->path = xstrdup(rel);
	f->err.kind = e->kind;
	f->err.message = xstrdup(e->msg);
	f->err.ftp_code = e->ftp_code;
	f->err.ftp_text = e->ftp_text ? xstrdup(e->ftp_text) : NULL;
}

void
item_fail(struct titem *it, const struct op_error *e)
{
	struct tree	*t = it->t;

	if (t->phase == TREE_STOPPING || t->phase == TREE_ENDED) {
		item_done(it);
		return;
	}
	if (it->kind == TI_DIR && *it->rel == '\0') {
		/* no root, no tree: its error is the tree's (the item ends
		 * with the others) */
		op_error_copy(&t->stop_err, e);
		tree_cancel(t, e->msg);
		return;
	}
	tree_failure(t, it->rel, e);
	item_done(it);
}

void
item_failf(struct titem *it, enum ftpa_err kind, const char *msg)
{
	struct op_error	e = { 0 };

	op_error_set(&e, kind, 0, NULL, "%s", msg);
	item_fail(it, &e);
	op_error_clear(&e);
}

/* ---- asking the client ---------------------------------------------------------- */

void
item_ask(struct titem *it, const char *method, json_t *extra, ask_cb cb)
{
	json_t	*p = base_params(it->t, it->rel);

	if (extra) {
		json_object_update(p, extra);
		json_decref(extra);
	}
	it->ask = ask_send(it->t->client, method, p, TREE_ASK_TIMEOUT, cb, it);
}


/* ---- the scheduler ------------------------------------------------------------- */

static void
tree_end(struct tree *t)
{
	enum job_state	 state;
	struct op_error	 e = { 0 };
	const struct op_error *err = NULL;

	if (t->phase == TREE_ENDED)
		return;
	set_phase(t, TREE_ENDED);
	tree_progress(t);
	if (t->stop_err.kind != FTPA_ERR_NONE) {
		state = t->stop_err.kind == FTPA_ERR_CANCELLED ? JOB_CANCELLED :
		    JOB_FAILED;
		err = &t->stop_err;
	} else if (t->failed > 0) {
		state = JOB_FAILED;
		op_error_set(&e, t->first_err.kind, t->first_err.ftp_code,
		    t->first_err.ftp_text, "%" PRId64 " failed in the tree; the "
		    "first: %s", t->failed, t->first_err.msg);
		err = &e;
	} else
		state = JOB_DONE;
	if (t->client) {
		client_unref(t->client);
		t->client = NULL;
	}
	job_tree_end(t->job, state, err);
	op_error_clear(&e);
}

/* Whether the item's step keeps a connection of the session busy: only
 * those count against "parallel"; a file's local.open (and its wait for
 * a slot) and local.commit run beside them, so that a connection never
 * waits for the client between two files. */
static bool
uses_server(const struct titem *it)
{
	return it->step != TS_OPEN && it->step != TS_READY &&
	    it->step != TS_COMMIT && it->step != TS_LINK;
}

static void
item_start(struct tree *t, struct titem *it)
{
	active_add(it);
	if (it->kind == TI_DIR)
		dir_start(it);
	else if (it->kind == TI_FILE)
		file_start(it);
	else if (it->kind == TI_LINK)
		link_start(it);
	else
		delete_start(it);
}

/* Starts the next item or step; false when none may start. */
static bool
tree_start_one(struct tree *t)
{
	struct titem	*it, *ready = NULL;
	int		 server = 0, ahead = 0, par = t->o.parallel;

	for (it = t->active; it; it = it->next) {
		if (uses_server(it))
			server++;
		else if (it->step != TS_COMMIT)
			ahead++;
		if (it->step == TS_READY)
			ready = it;
	}
	if (server < par && ready != NULL) {
		file_go(ready);
		return true;
	}
	if (t->phase == TREE_DELETE)
		it = server < par ? tq_pop(&t->deletes) : NULL;
	/* directories first while few are listed, so totals are known
	 * early, but never all the slots: files keep moving */
	else if (server < par && t->dirs.n > 0 && (t->fileq.n == 0 ||
	    ahead >= par || t->nactive_dirs < (par + 1) / 2))
		it = tq_pop(&t->dirs);
	else if (ahead < par)
		it = tq_pop(&t->fileq);
	else
		it = NULL;
	if (it == NULL)
		return false;
	item_start(t, it);
	return true;
}

/* What happens next: start items, move to deleting, or end. Callbacks
 * that end a step come back here; a call from inside runs the loop once
 * more instead of nesting. */
void
tree_kick(struct tree *t)
{
	if (t->kicking) {
		t->kick_again = true;
		return;
	}
	t->kicking = true;
	do {
		t->kick_again = false;
		if (t->phase == TREE_RUN || t->phase == TREE_DELETE)
			while (tree_start_one(t))
				;
		if (t->nactive > 0 || t->dirs.n + t->fileq.n > 0)
			continue;
		if (t->phase == TREE_RUN && t->deletes.n > 0 &&
		    t->failed == 0 && !t->o.dry_run) {
			set_phase(t, TREE_DELETE);
			t->kick_again = true;
		} else if (t->phase == TREE_RUN || t->phase == TREE_DELETE ||
		    t->phase == TREE_STOPPING)
			tree_end(t);
	} while (t->kick_again && t->phase != TREE_ENDED);
	t->kicking = false;
	if (t->phase != TREE_ENDED)
		tree_progress(t);
}

/* ---- the public face ---------------------------------------------------------- */

struct tree *
tree_new(struct client *c, json_t *request_id, struct tree_opts *o)
{
	struct tree	*t = xcalloc(1, sizeof(*t));

	t->o = *o;
	memset(o, 0, sizeof(*o));
	t->client = c;
	client_ref(c);
	t->request_id = request_id ? json_incref(request_id) : NULL;
	t->next = trees;
	trees = t;
	return t;
}

void
tree_attach(struct tree *t, struct job *j)
{
	t->job = j;
}

void
tree_start(struct tree *t)
{
	struct titem	*root = item_new(t, TI_DIR, "", 0);

	set_phase(t, TREE_RUN);
	job_tree_progress(t->job, true);
	tq_push(&t->dirs, root);
	tree_kick(t);
}

/* Ends what runs; items whose step ended at once are done. */
static void
tree_stop_all(struct tree *t)
{
	struct titem	*it, *next;
	bool		 was = t->kicking;

	tq_free(&t->dirs);
	tq_free(&t->fileq);
	tq_free(&t->deletes);
	t->kicking = true;	/* the ends below come back later, once */
	for (it = t->active; it; it = next) {
		next = it->next;
		if (item_stop(it))
			item_done(it);
	}
	t->kicking = was;
}

void
tree_cancel(struct tree *t, const char *why)
{
	if (t->phase == TREE_STOPPING || t->phase == TREE_ENDED)
		return;
	if (t->stop_err.kind == FTPA_ERR_NONE)
		op_error_set(&t->stop_err, FTPA_ERR_CANCELLED, 0, NULL, "%s",
		    why);
	if (t->phase == TREE_IDLE) {
		set_phase(t, TREE_STOPPING);
		tree_end(t);
		return;
	}
	set_phase(t, TREE_STOPPING);
	tree_stop_all(t);
	tree_kick(t);
}

void
tree_abort(struct tree *t, enum ftpa_err kind, const char *msg)
{
	if (t->stop_err.kind == FTPA_ERR_NONE)
		op_error_set(&t->stop_err, kind, 0, NULL, "%s", msg);
	tree_cancel(t, msg);
}

void
tree_free(struct tree *t)
{
	struct tree	**pp;

	for (pp = &trees; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	tq_free(&t->dirs);
	tq_free(&t->fileq);
	tq_free(&t->deletes);
	for (size_t i = 0; i < t->nfailures; i++) {
		free((char *)t->failures[i].path);
		free((char *)t->failures[i].err.message);
		free((char *)t->failures[i].err.ftp_text);
	}
	op_error_clear(&t->first_err);
	op_error_clear(&t->stop_err);
	if (t->client)
		client_unref(t->client);
	if (t->request_id)
		json_decref(t->request_id);
	tree_opts_clear(&t->o);
	free(t);
}

void
tree_wire(const struct tree *t, struct wire_tree *w)
{
	memset(w, 0, sizeof(*w));
	w->present = true;
	w->files = t->files;
	w->files_total = t->files_total;
	w->dirs = t->ndirs;
	w->skipped = t->skipped;
	w->deleted = t->deleted;
	w->failed = t->failed;
	w->walking = t->phase == TREE_RUN &&
	    (t->dirs.n > 0 || t->nactive_dirs > 0);
	w->dry_run = t->o.dry_run;
	w->failures = t->failures;
	w->n_failures = t->nfailures;
}

void
tree_client_gone(struct client *c)
{
	for (struct tree *t = trees; t; t = t->next)
		if (t->client == c)
			tree_cancel(t, "the connection that started the tree "
			    "closed");
}
