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

/* Subscribed, or the transfer's own caller that asked for progress. */
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
	json_t		*params;
	char		**owed;
	size_t		  n;

	if (c->ev == NULL || c->ev->n_owed == 0)
		return;
	owed = c->ev->owed;
	n = c->ev->n_owed;
	c->ev->owed = NULL;
	c->ev->n_owed = 0;
	for (size_t i = 0; i < n; i++) {
		if ((j = job_lookup(owed[i])) != NULL && j->state == JOB_RUNNING) {
			params = job_json(j);
			client_notify(c, wire_notification(WIRE_JOB_PROGRESS,
			    params));
			json_decref(params);
		}
	}
	ids_free(owed, n);
}

struct job_notice {
	struct job	*job;
	const char	*method;
	json_t		*params;	/* built for the first client that
					   takes it: most events have none */
	bool		 progress;
};

static void
job_notice_one(struct client *c, void *arg)
{
	struct job_notice	*n = arg;

	if (!job_wanted(c, n->job, n->progress))
		return;
	if (n->progress && progress_owed(c, n->job))
		return;
	if (n->params == NULL)
		n->params = job_json(n->job);
	client_notify(c, wire_notification(n->method, n->params));
}

void
events_job(struct job *j, const char *method, bool progress)
{
	struct job_notice	n = { j, method, NULL, progress };

	control_each(job_notice_one, &n);
	if (n.params != NULL)
		json_decref(n.params);
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
