/*
 * libftpagent's core: the calls in flight on one connection, what the
 * agent sends and where it goes, deadlines, and driving the socket (the
 * blocking face, waiting on it, is sync.c).
 * Every operation, blocking or not, goes through here: an operation
 * (struct fa_op) builds a request with fa_call_start, the core routes
 * its replies and progress back to it, and its callback runs once.
 *
 * Calls live in a hash on the id of the request in flight, and in a
 * list ordered by deadline: calls made with the connection's timeout
 * join at the tail, so keeping the order is cheap.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "wire.h"

#define HASH_MIN	64

struct fa_calls {
	struct fa_call	**bucket;
	size_t		  nbucket;	/* a power of two */
	size_t		  n;
	size_t		  zombies;	/* of n */
	struct fa_call	 *head, *tail;	/* by deadline, earliest first */
};

/* ---- the table ---------------------------------------------------------- */

static size_t
slot(const struct fa_calls *t, json_int_t wire)
{
	uint64_t h = (uint64_t)wire * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> 32) & (t->nbucket - 1);
}

bool
fa_calls_init(struct ftpagent *a)
{
	struct fa_calls *t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->bucket = calloc(HASH_MIN, sizeof(*t->bucket))) == NULL) {
		free(t);
		return false;
	}
	t->nbucket = HASH_MIN;
	a->calls = t;
	return true;
}

static void
hash_grow(struct fa_calls *t)
{
	struct fa_call **nb, **old = t->bucket, *c, *next;
	size_t i, oldn = t->nbucket, s;

	if ((nb = calloc(oldn * 2, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	t->bucket = nb;
	t->nbucket = oldn * 2;
	for (i = 0; i < oldn; i++)
		for (c = old[i]; c != NULL; c = next) {
			next = c->hnext;
			s = slot(t, c->wire);
			c->hnext = nb[s];
			nb[s] = c;
		}
	free(old);
}

static void
hash_add(struct fa_calls *t, struct fa_call *c)
{
	size_t s;

	if (t->n + 1 > t->nbucket)
		hash_grow(t);
	s = slot(t, c->wire);
	c->hnext = t->bucket[s];
	t->bucket[s] = c;
	t->n++;
}

static void
hash_del(struct fa_calls *t, struct fa_call *c)
{
	struct fa_call **pp;

	for (pp = &t->bucket[slot(t, c->wire)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			t->n--;
			return;
		}
}

static struct fa_call *
hash_find(const struct fa_calls *t, json_int_t wire)
{
	struct fa_call *c;

	for (c = t->bucket[slot(t, wire)]; c != NULL; c = c->hnext)
		if (c->wire == wire)
			return c;
	return NULL;
}

static void
list_del(struct fa_calls *t, struct fa_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	c->prev = c->next = NULL;
}

/* Inserts c by its deadline, searching from the tail. */
static void
list_add(struct fa_calls *t, struct fa_call *c)
{
	struct fa_call *p = t->tail;

	while (p != NULL && p->deadline > c->deadline)
		p = p->prev;
	c->prev = p;
	c->next = p != NULL ? p->next : t->head;
	if (c->next != NULL)
		c->next->prev = c;
	else
		t->tail = c;
	if (p != NULL)
		p->next = c;
	else
		t->head = c;
}

static int64_t
deadline_of(const struct fa_call *c)
{
	int64_t now = conn_now_ms();

	return c->timeout_ms > INT64_MAX - now ? INT64_MAX :
	    now + c->timeout_ms;
}

static void
set_deadline(struct ftpagent *a, struct fa_call *c)
{
	list_del(a->calls, c);
	c->deadline = deadline_of(c);
	list_add(a->calls, c);
}

struct fa_call *
fa_call_find(struct ftpagent *a, json_int_t wire)
{
	struct fa_call *c = hash_find(a->calls, wire);

	return c != NULL && !c->zombie ? c : NULL;
}

void
fa_call_touch(struct ftpagent *a, struct fa_call *c)
{
	set_deadline(a, c);
}

static void
call_unlink(struct ftpagent *a, struct fa_call *c)
{
	hash_del(a->calls, c);
	list_del(a->calls, c);
	if (c->zombie)
		a->calls->zombies--;
}

/* ---- watching ----------------------------------------------------------- */

static int64_t
next_deadline(const struct ftpagent *a)
{
	return a->calls->head != NULL ? a->calls->head->deadline : -1;
}

/* Tells the adapter when what is to be watched has changed. */
void
fa_watch_update(struct ftpagent *a)
{
	unsigned ev;
	int64_t dl;

	if (a->watch == NULL)
		return;
	ev = ftpagent_events(a);
	dl = next_deadline(a);
	if (ev == a->watched && dl == a->watched_deadline)
		return;
	a->watched = ev;
	a->watched_deadline = dl;
	a->watch(a->watch_arg, conn_fd(&a->conn), ev, ftpagent_timeout(a));
}

/* ---- replies ------------------------------------------------------------ */

void
fa_reply_error(struct fa_reply *r, enum ftpagent_error e, const char *fmt, ...)
{
	va_list ap;

	free(r->msg);
	r->msg = NULL;
	r->pub.error = e;
	va_start(ap, fmt);
	if (vasprintf(&r->msg, fmt, ap) < 0)
		r->msg = NULL;
	va_end(ap);
}

/* The agent's error reply err into r. */
static void
reply_from_wire(struct fa_reply *r, const json_t *err)
{
	struct wire_error we;
	json_t *data;

	wire_error_read(err, &we);
	fa_reply_error(r, fa_lib_error(we.kind), "%s", we.message);
	/* set: the agent's word (fa_agent_said) */
	r->kind = strdup(fa_kind_name(r->pub.error, we.kind_name));
	r->pub.ftp_code = we.ftp_code;
	if ((data = json_object_get(err, "data")) != NULL)
		r->data = fa_dump_json(data);
}

/* Points the public members at the strings, for the callback. */
static void
reply_publish(struct fa_reply *r)
{
	r->pub.error_message = r->pub.error == FTPAGENT_OK ? "" :
	    r->msg != NULL ? r->msg : fa_error_name(r->pub.error);
	r->pub.error_kind = r->kind != NULL ? r->kind :
	    fa_error_name(r->pub.error);
	r->pub.error_data = r->data;
}

void
fa_reply_clear(struct fa_reply *r)
{
	struct ftpagent_reply *p = &r->pub;

	free(r->msg);
	free(r->kind);
	free(r->data);
	fa_results_free(p);
	ftpagent_tree_clear(r->tree);
	free(r->tree);
	memset(r, 0, sizeof(*r));
}

void
fa_results_free(struct ftpagent_reply *p)
{
	free(p->session);
	ftpagent_entries_free(p->entries, p->n_entries);
	ftpagent_entry_clear(&p->entry);
	free(p->text);
	free(p->job_id);
	ftpagent_job_clear(&p->job);
	ftpagent_jobs_free(p->jobs, p->n_jobs);
	free(p->json);
	memset(p, 0, sizeof(*p));
}

void
fa_reply_init(struct fa_reply *r, const struct fa_call *c)
{
	memset(r, 0, sizeof(*r));
	r->pub.call = c->id;
	r->pub.entry.size = -1;
	r->pub.entry.mtime = INT64_MIN;
	r->pub.entry.perm = -1;
	r->pub.xfer.total = -1;
	r->pub.job.total = -1;
}

static void
call_free(struct fa_call *c)
{
	free(c->job);
	free(c);
}

/* Runs the operation's end and the callback, once. */
static void
call_finish(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	ftpagent_reply_cb cb = c->cb;

	if (c->op->end != NULL)
		c->op->end(a, c, r);
	else
		free(c->state);
	c->state = NULL;
	c->cb = NULL;
	if (cb != NULL) {
		reply_publish(r);
		a->depth++;
		cb(a, &r->pub, c->cb_arg);
		a->depth--;
	}
	fa_reply_clear(r);
}

/* The call is over: out of the table, its callback run. */
static void
call_complete(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	call_unlink(a, c);
	call_finish(a, c, r);
	call_free(c);
}

/* ---- sending ------------------------------------------------------------ */

/* Queues method with params (stolen) under a new id. */
static enum conn_status
queue_request(struct ftpagent *a, const char *method, json_t *params,
    const int *fds, size_t nfds, json_int_t *id)
{
	enum conn_status st;
	json_t *req;
	char *buf;
	size_t len;

	if (params == NULL)
		return CONN_NOMEM;
	*id = a->next_id++;
	if ((req = jsonrpc_request(method, params, *id)) == NULL)
		return CONN_NOMEM;
	buf = jsonrpc_dump(req, &len);
	json_decref(req);
	if (buf == NULL)
		return CONN_NOMEM;
	st = conn_queue(&a->conn, buf, len, fds, nfds);
	free(buf);
	return st;
}

/* job.cancel for a job whose call is gone: its reply is not awaited. */
void
fa_cancel_job(struct ftpagent *a, const char *job)
{
	json_int_t id;

	if (conn_is_open(&a->conn))
		(void)queue_request(a, "job.cancel",
		    json_pack("{s:s}", "job", job), NULL, 0, &id);
}

struct fa_call *
fa_call_new(struct ftpagent *a, const struct fa_op *op, ftpagent_reply_cb cb,
    void *arg)
{
	struct fa_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->op = op;
	c->cb = cb;
	c->cb_arg = arg;
	c->timeout_ms = a->timeout_ms;
	c->started = conn_now_ms();
	return c;
}

/* A call that never went out: its end runs, with the sticky error. */
void
fa_call_drop(struct ftpagent *a, struct fa_call *c)
{
	struct fa_reply r;

	if (c == NULL)
		return;
	fa_reply_init(&r, c);
	fa_reply_error(&r, a->err != FTPAGENT_OK ? a->err :
	    FTPAGENT_ERR_ARGUMENT, "%s", ftpagent_error_message(a));
	c->cb = NULL;
	call_finish(a, c, &r);
	call_free(c);
}

uint64_t
fa_call_start(struct ftpagent *a, struct fa_call *c, const char *method,
    json_t *params, const int *fds, size_t nfds)
{
	enum conn_status st;

	if (c == NULL) {
		json_decref(params);
		return 0;
	}
	if (!fa_usable(a)) {
		json_decref(params);
		fa_call_drop(a, c);
		return 0;
	}
	if ((st = queue_request(a, method, params, fds, nfds, &c->wire)) !=
	    CONN_OK) {
		fa_set_conn_error(a, st, method);
		fa_call_drop(a, c);
		return 0;
	}
	c->id = (uint64_t)c->wire;
	hash_add(a->calls, c);
	c->deadline = deadline_of(c);
	list_add(a->calls, c);
	fa_watch_update(a);
	return c->id;
}

uint64_t
fa_call_local(struct ftpagent *a, struct fa_call *c)
{
	if (c == NULL)
		return 0;
	if (!fa_usable(a)) {
		fa_call_drop(a, c);
		return 0;
	}
	/* an id of the connection's, which no request carries */
	c->wire = a->next_id++;
	c->id = (uint64_t)c->wire;
	c->limit = deadline_of(c);
	hash_add(a->calls, c);
	c->deadline = conn_now_ms();	/* asked at the next process */
	list_add(a->calls, c);
	fa_watch_update(a);
	return c->id;
}

int
fa_call_next(struct ftpagent *a, struct fa_call *c, struct fa_reply *r,
    const char *method, json_t *params, const int *fds, size_t nfds)
{
	enum conn_status st;
	json_int_t id;

	st = queue_request(a, method, params, fds, nfds, &id);
	if (st != CONN_OK) {
		fa_reply_error(r, st == CONN_NOMEM ? FTPAGENT_ERR_NOMEM :
		    FTPAGENT_ERR_AGENT, "%s: cannot send to the agent", method);
		return FA_DONE;
	}
	hash_del(a->calls, c);
	c->wire = id;
	hash_add(a->calls, c);
	set_deadline(a, c);
	return FA_NEXT;
}

/* ---- what comes from the agent ------------------------------------------ */

static void
call_reply(struct ftpagent *a, struct fa_call *c, const struct jsonrpc_msg *m)
{
	struct fa_reply r;
	int v = FA_DONE;

	if (c->zombie) {
		call_unlink(a, c);
		call_free(c);
		return;
	}
	fa_reply_init(&r, c);
	if (m->type == JSONRPC_ERROR) {
		reply_from_wire(&r, m->error);
		if (c->op->error != NULL && c->op->error(a, c, &r) == FA_NEXT) {
			fa_reply_clear(&r);
			return;
		}
	} else if (c->op->result != NULL)
		v = c->op->result(a, c, m->result, &r);
	if (v == FA_NEXT) {
		fa_reply_clear(&r);
		return;
	}
	if (v == -2)
		fa_reply_error(&r, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (v != FA_DONE)
		fa_reply_error(&r, FTPAGENT_ERR_RPC,
		    "%s: unexpected reply from the agent", c->op->name);
	call_complete(a, c, &r);
}

/* The call a reply answers. An error without an id is the agent's word
 * on a request it could not read: the oldest one in flight. */
static struct fa_call *
reply_call(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct fa_call *c, *oldest = NULL;

	if (m->id == NULL || json_is_null(m->id)) {
		if (m->type != JSONRPC_ERROR)
			return NULL;
		for (c = a->calls->head; c != NULL; c = c->next)
			if (!c->zombie && c->op->poll == NULL &&
			    (oldest == NULL || c->wire < oldest->wire))
				oldest = c;
		return oldest;
	}
	if (!json_is_integer(m->id))
		return NULL;
	/* a local call's id was never sent: no reply is its */
	if ((c = hash_find(a->calls, json_integer_value(m->id))) != NULL &&
	    c->op->poll != NULL)
		return NULL;
	return c;
}

/*
 * The transfer a job.progress is about: the one of its request. An agent
 * from before "request" names none: then its job id says, or, when one
 * transfer like it does not know its job yet, that one; but not on a
 * subscribed connection, where the notice may be about any job of the
 * uid. Activity on an ambiguous notice keeps those transfers alive.
 */
static struct fa_call *
progress_call(struct ftpagent *a, const json_t *p, const char *job)
{
	json_t *req = json_object_get(p, "request");
	struct fa_call *c, *found = NULL;
	size_t unknown = 0;

	if (json_is_integer(req)) {
		/* this agent names requests: the others are a subscription's */
		a->names_requests = true;
		c = hash_find(a->calls, json_integer_value(req));
		return c != NULL && c->op->owns != NULL ? c : NULL;
	}
	if (req != NULL || a->names_requests)
		return NULL;
	for (c = a->calls->head; c != NULL; c = c->next) {
		c->touched = false;
		if (c->op->owns == NULL || c->zombie || !c->op->owns(c, p))
			continue;
		if (c->job != NULL && strcmp(c->job, job) == 0)
			return c;
		if (c->job == NULL) {
			c->touched = true;
			if (unknown++ == 0)
				found = c;
		}
	}
	if (unknown == 0 || (unknown == 1 && !a->subscribed))
		return found;
	/* set_deadline moves a call to the tail: marked first, moved now */
	for (c = a->calls->head; c != NULL && unknown > 0; ) {
		if (!c->touched) {
			c = c->next;
			continue;
		}
		c->touched = false;
		unknown--;
		set_deadline(a, c);
		c = a->calls->head;
	}
	return NULL;
}

static void
progress(struct ftpagent *a, const json_t *p)
{
	const char *job = json_string_value(json_object_get(p, "job"));
	struct fa_call *c;
	json_int_t wire;
	int64_t bytes, total;
	bool stop;

	if (job == NULL || (c = progress_call(a, p, job)) == NULL)
		return;
	if (c->job != NULL && strcmp(c->job, job) != 0)
		return;
	if (c->job == NULL && (c->job = strdup(job)) == NULL)
		return;
	if (c->zombie) {
		/* cancelled or timed out before its job was known */
		fa_cancel_job(a, c->job);
		call_unlink(a, c);
		call_free(c);
		return;
	}
	set_deadline(a, c);
	if (c->cancelling || (c->progress == NULL && c->op->progress == NULL))
		return;
	bytes = wire_count(json_object_get(p, "bytes"), 0);
	total = wire_count(json_object_get(p, "total"), -1);
	wire = c->wire;
	a->depth++;
	/* either may end the call: c is not touched after it */
	if (c->op->progress != NULL)
		stop = !c->op->progress(a, c, p);
	else
		stop = !c->progress(c->progress_arg, bytes, total);
	a->depth--;
	/* the callback may have ended the call (ftpagent_cancel) */
	if (stop && !a->freeing && (c = hash_find(a->calls, wire)) != NULL &&
	    !c->zombie && !c->cancelling) {
		c->cancelling = true;
		fa_cancel_job(a, c->job);
	}
}

/* The key under which a kept notification is replaced by a newer one. */
static const char *
note_key(const struct jsonrpc_msg *m)
{
	if (strcmp(m->method, WIRE_JOB_PROGRESS) != 0)
		return NULL;
	return json_string_value(json_object_get(m->params, "job"));
}

static void
notification(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	if (strcmp(m->method, WIRE_JOB_PROGRESS) == 0 &&
	    json_is_object(m->params))
		progress(a, m->params);
	else if (fa_serve_notice(a, m))
		return;		/* the calling connection's own */
	if (!a->subscribed || a->freeing)
		return;
	if (a->event_cb != NULL)
		fa_event_deliver(a, m);
	else
		/* out of memory loses the event, not the connection */
		(void)conn_note_keep(&a->conn, m, note_key(m));
}

static void
dispatch(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct fa_call *c;

	if (m->type == JSONRPC_NOTIFICATION) {
		notification(a, m);
		return;
	}
	if (m->type == JSONRPC_REQUEST) {
		fa_serve_request(a, m);
		return;
	}
	if ((c = reply_call(a, m)) != NULL)
		call_reply(a, c, m);
}

/* ---- failures, deadlines, cancelling ------------------------------------ */

/* The connection is gone: every call ends with why. */
static void
fail_all(struct ftpagent *a, enum conn_status st)
{
	struct fa_call *c;
	struct fa_reply r;
	char buf[192], *why;

	why = strdup(fa_conn_text(st, a->conn.err, buf, sizeof(buf)));
	fa_set_error(a, FTPAGENT_ERR_AGENT, "%s", why != NULL ? why :
	    "connection lost");
	while ((c = a->calls->head) != NULL) {
		call_unlink(a, c);
		if (c->zombie) {
			call_free(c);
			continue;
		}
		fa_reply_init(&r, c);
		/* a local call whose work is done keeps its outcome */
		if (c->op->poll == NULL || c->op->poll(a, c, &r) != FA_DONE) {
			fa_reply_clear(&r);
			fa_reply_init(&r, c);
			fa_reply_error(&r, FTPAGENT_ERR_AGENT, "%s: %s",
			    c->op->name, why != NULL ? why : "connection lost");
		}
		call_finish(a, c, &r);
		call_free(c);
	}
	free(why);
}

/* Ends c now with r, its callback run; a transfer's job is cancelled,
 * or will be once its id comes. */
static void
call_abandon(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	if (c->op->owns == NULL || c->job != NULL) {
		if (c->op->owns != NULL)
			fa_cancel_job(a, c->job);
		call_complete(a, c, r);
		return;
	}
	/* a zombie before its callback runs: a cancel from there finds
	 * nothing to cancel */
	c->zombie = true;
	a->calls->zombies++;
	set_deadline(a, c);
	call_finish(a, c, r);
}

/* A local call's turn (fa_call_local): true when it is settled for now,
 * done or to be asked again; false when its time is up. */
static bool
poll_local(struct ftpagent *a, struct fa_call *c, int64_t now)
{
	struct fa_reply r;

	fa_reply_init(&r, c);
	if (c->op->poll(a, c, &r) == FA_DONE) {
		call_complete(a, c, &r);
		return true;
	}
	fa_reply_clear(&r);
	if (now >= c->limit)
		return false;
	list_del(a->calls, c);
	c->deadline = c->limit - now > FA_POLL_MS ? now + FA_POLL_MS :
	    c->limit;
	list_add(a->calls, c);
	return true;
}

static void
expire(struct ftpagent *a)
{
	int64_t now = conn_now_ms();
	struct fa_call *c;
	struct fa_reply r;

	while ((c = a->calls->head) != NULL && c->deadline <= now) {
		if (c->zombie) {
			call_unlink(a, c);
			call_free(c);
			continue;
		}
		if (c->op->poll != NULL && poll_local(a, c, now))
			continue;
		fa_reply_init(&r, c);
		fa_reply_error(&r, FTPAGENT_ERR_TIMEOUT,
		    "%s: no reply from the agent within %d ms", c->op->name,
		    c->timeout_ms);
		call_abandon(a, c, &r);
	}
}

/*
 * Back from running callbacks: when one freed the connection, it is
 * freed now (the outermost caller does it) and false returned; else the
 * adapter hears what to watch, changed or not (a timer that fired early,
 * as libev's may, is armed again).
 */
static bool
leave(struct ftpagent *a)
{
	if (a->freeing) {
		if (a->depth == 0)
			fa_free_now(a);
		return false;
	}
	a->watched = (unsigned)-1;
	fa_watch_update(a);
	return true;
}

bool
ftpagent_cancel(struct ftpagent *a, uint64_t id)
{
	struct fa_call *c;
	struct fa_reply r;

	if (a == NULL || a->calls == NULL)
		return false;
	for (c = a->calls->head; c != NULL; c = c->next)
		if (c->id == id && !c->zombie)
			break;
	if (c == NULL)
		return false;
	fa_reply_init(&r, c);
	fa_reply_error(&r, FTPAGENT_ERR_CANCELLED, "%s: cancelled",
	    c->op->name);
	a->depth++;
	call_abandon(a, c, &r);
	a->depth--;
	(void)leave(a);
	return true;
}

/* Ends every call with the reason why (ftpagent_free). */
void
fa_calls_cancel_all(struct ftpagent *a, const char *why)
{
	struct fa_call *c;
	struct fa_reply r;

	while (a->calls != NULL && (c = a->calls->head) != NULL) {
		call_unlink(a, c);
		if (!c->zombie) {
			fa_reply_init(&r, c);
			fa_reply_error(&r, FTPAGENT_ERR_CANCELLED, "%s: %s",
			    c->op->name, why);
			call_finish(a, c, &r);
		}
		call_free(c);
	}
}

void
fa_calls_free(struct ftpagent *a)
{
	if (a->calls == NULL)
		return;
	free(a->calls->bucket);
	free(a->calls);
	a->calls = NULL;
}

/* ---- driving ------------------------------------------------------------ */

int
ftpagent_fd(const struct ftpagent *a)
{
	return a == NULL ? -1 : conn_fd(&a->conn);
}

unsigned
ftpagent_events(const struct ftpagent *a)
{
	if (a == NULL || !conn_is_open(&a->conn))
		return 0;
	return FTPAGENT_READ | (conn_queued(&a->conn) > 0 ? FTPAGENT_WRITE : 0);
}

int
ftpagent_timeout(const struct ftpagent *a)
{
	int64_t dl, left;

	if (a == NULL || a->calls == NULL || (dl = next_deadline(a)) == -1)
		return -1;
	left = dl - conn_now_ms();
	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

size_t
ftpagent_pending(const struct ftpagent *a)
{
	if (a == NULL || a->calls == NULL)
		return 0;
	return a->calls->n - a->calls->zombies;
}

/* Reads and dispatches what has come; false once the stream failed. */
static bool
take_input(struct ftpagent *a, bool readable)
{
	enum conn_status st = CONN_OK, rst = CONN_OK;
	struct jsonrpc_msg m;
	bool have;

	if (readable)
		rst = conn_fill(&a->conn);
	/* what came before a hang-up is still the agent's word */
	while (!a->freeing) {
		if ((st = conn_next(&a->conn, &m, &have)) != CONN_OK || !have)
			break;
		dispatch(a, &m);
		jsonrpc_msg_clear(&m);
	}
	if (a->freeing)
		return false;
	if (st == CONN_OK)
		st = rst;
	if (st == CONN_OK && !conn_is_open(&a->conn) && a->err !=
	    FTPAGENT_ERR_AGENT)
		st = CONN_CLOSED;
	if (st != CONN_OK) {
		fail_all(a, st);
		return false;
	}
	return true;
}

bool
ftpagent_process(struct ftpagent *a, unsigned revents)
{
	enum conn_status st;
	bool ok = true;

	if (a == NULL || a->calls == NULL)
		return false;
	a->depth++;
	/* what has come first: a reply that came before a hang-up is the
	 * agent's word, even when writing then fails */
	if (conn_is_open(&a->conn) || ndjson_pending(&a->conn.in) > 0)
		ok = take_input(a, (revents & FTPAGENT_READ) != 0);
	if (!a->freeing)
		expire(a);
	/* what is queued, callbacks' sends too */
	if (!a->freeing && conn_is_open(&a->conn) &&
	    conn_queued(&a->conn) > 0 && (st = conn_flush(&a->conn)) != CONN_OK)
		fail_all(a, st);
	a->depth--;
	if (!leave(a))
		return false;
	return ok && conn_is_open(&a->conn);
}
