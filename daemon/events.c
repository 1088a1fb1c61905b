/*
 * Subscriptions and notices (events.h). A client's part lives in struct
 * events_sub, hung on the client by the first subscription or progress
 * it is owed; control.c only calls back when the client's output has
 * drained and when the client goes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "util.h"
#include "wire.h"

struct events_sub {
	bool	  all;		/* every job of the uid, and session states */
	char	**jobs;		/* these job ids */
	size_t	  n_jobs;
	char	**owed;		/* job ids whose progress waits for the
				   output to drain */
	size_t	  n_owed;
};

static struct events_sub *
sub_of(struct client *c)
{
	if (c->ev == NULL)
		c->ev = xcalloc(1, sizeof(*c->ev));
	return c->ev;
}

static bool
ids_have(char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

static void
ids_add(char ***ids, size_t *n, const char *id)
{
	if (ids_have(*ids, *n, id))
		return;
	*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
	(*ids)[(*n)++] = xstrdup(id);
}

static void
ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

void
events_forget(struct client *c)
{
	if (c->ev == NULL)
		return;
	ids_free(c->ev->jobs, c->ev->n_jobs);
	ids_free(c->ev->owed, c->ev->n_owed);
	free(c->ev);
	c->ev = NULL;
}

void
events_subscribe_all(struct client *c)
{
	sub_of(c)->all = true;
}

void
events_subscribe_job(struct client *c, const char *id)
{
	struct events_sub	*e = sub_of(c);

	ids_add(&e->jobs, &e->n_jobs, id);
}

size_t
events_job_count(const struct client *c)
{
	return c->ev != NULL ? c->ev->n_jobs : 0;
}

/* ---- jobs ----------------------------------------------------------------- */

/*
 * Subscribed, or the transfer's own caller that asked for progress. One
 * answer per client, so a caller that is subscribed too gets each notice
 * once (the caller's form, with the request id).
 */
static bool
job_wanted(const struct client *c, const struct job *j, bool progress)
{
	if (progress && c == j->progress)
		return true;
	if (c->ev == NULL || (c->uid != 0 && c->uid != j->uid))
		return false;
	return c->ev->all || ids_have(c->ev->jobs, c->ev->n_jobs, j->id);
}

/*
 * The params of a job's notice for c: the job object, plus the id of the
 * request for the caller that asked for progress, so that a client with
 * several transfers in flight knows which is which. *shared is the plain
 * form, built once for everybody else. A new reference.
 */
static json_t *
job_params(const struct client *c, const struct job *j, json_t **shared)
{
	json_t	*p;

	if (c != j->progress || j->progress_id == NULL) {
		if (*shared == NULL)
			*shared = job_json(j);
		return json_incref(*shared);
	}
	p = job_json(j);
	if (json_object_set(p, WIRE_JOB_REQUEST, j->progress_id) == -1)
		fatalx("out of memory");
	return p;
}

static void
job_notify(struct client *c, const struct job *j, const char *method,
    json_t **shared)
{
	json_t	*params = job_params(c, j, shared);

	client_notify(c, wire_notification(method, params));
	json_decref(params);
}

/*
 * Progress is coalesced: while a client still has output waiting, the
 * job is only noted as owed, and once everything has gone out the client
 * gets the job's state as it is then. A reader that falls behind never
 * has a queue of stale states, and one that never reads costs nothing.
 */
static bool
progress_owed(struct client *c, const struct job *j)
{
	struct events_sub	*e;

	if (!client_has_output(c))
		return false;
	e = sub_of(c);
	ids_add(&e->owed, &e->n_owed, j->id);
	return true;
}

/* The client's output has drained: what it is owed goes out now. */
static void
progress_drained(struct client *c)
{
	struct job	*j;
	char		**owed;
	size_t		  n;

	if (c->ev == NULL || c->ev->n_owed == 0)
		return;
	owed = c->ev->owed;
	n = c->ev->n_owed;
	c->ev->owed = NULL;
	c->ev->n_owed = 0;
	for (size_t i = 0; i < n; i++) {
		json_t	*shared = NULL;

		/* an ended job's reply and job.finished are out: nothing
		 * about it may follow them */
		if ((j = job_lookup(owed[i])) != NULL && !job_finished(j))
			job_notify(c, j, WIRE_JOB_PROGRESS, &shared);
		if (shared != NULL)
			json_decref(shared);
	}
	ids_free(owed, n);
}

struct job_notice {
	struct job	*job;
	const char	*method;
	json_t		*params;	/* built for the first client that
					   takes it: most events have none */
	bool		 progress;
	bool		 first;		/* the caller's first is never only
					   noted as owed */
};

static void
job_notice_one(struct client *c, void *arg)
{
	struct job_notice	*n = arg;

	if (!job_wanted(c, n->job, n->progress))
		return;
	if (n->progress && !(n->first && c == n->job->progress) &&
	    progress_owed(c, n->job))
		return;
	job_notify(c, n->job, n->method, &n->params);
}

static void
job_notice(struct job *j, const char *method, bool progress, bool first)
{
	struct job_notice	n = { j, method, NULL, progress, first };

	control_each(job_notice_one, &n);
	if (n.params != NULL)
		json_decref(n.params);
}

void
events_job(struct job *j, const char *method, bool progress)
{
	job_notice(j, method, progress, false);
}

void
events_job_accepted(struct job *j)
{
	job_notice(j, WIRE_JOB_PROGRESS, true, true);
}

/* ---- sessions ------------------------------------------------------------- */

struct state_notice {
	uid_t		 uid;
	json_t		*params;
};

static void
state_notice_one(struct client *c, void *arg)
{
	struct state_notice	*n = arg;

	if (c->ev == NULL || !c->ev->all || (c->uid != 0 && c->uid != n->uid))
		return;
	client_notify(c, wire_notification(WIRE_SESSION_STATE, n->params));
}

void
events_session_state(const char *id, uid_t uid, const char *state,
    int connections, int busy)
{
	struct state_notice	n;

	n.uid = uid;
	n.params = wire_session_state(id, state, connections, busy);
	if (n.params == NULL)
		fatalx("out of memory");
	control_each(state_notice_one, &n);
	json_decref(n.params);
}

void
events_init(void)
{
	control_set_drain_hook(progress_drained);
}
