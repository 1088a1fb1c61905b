/*
 * libftpagent: subscriptions and the notifications they bring, to the
 * event callback or kept for ftpagent_next_event.
 */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "wire.h"

/* Whether the connection kept notifications before this subscription. */
struct subscribe {
	bool	 was;
};

static int
subscribe_error(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct subscribe *s = c->state;

	a->subscribed = s->was;
	return FA_DONE;
}

static const struct fa_op op_subscribe = {
	.name = "events.subscribe", .error = subscribe_error,
};

/* The jobs member of events.subscribe, or NULL with the error set. */
static json_t *
subscribe_which(struct ftpagent *a, const char *const *jobs)
{
	json_t *which;
	size_t i;

	if (jobs == NULL)
		which = json_string("all");
	else if ((which = json_array()) != NULL) {
		for (i = 0; jobs[i] != NULL; i++) {
			if (json_array_append_new(which,
			    json_string(jobs[i])) == -1) {
				json_decref(which);
				fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
				    "events.subscribe: a job id is not UTF-8");
				return NULL;
			}
		}
	}
	if (which == NULL)
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	return which;
}

uint64_t
ftpagent_send_subscribe(struct ftpagent *a, const char *const *jobs,
    ftpagent_reply_cb cb, void *arg)
{
	struct subscribe *s;
	struct fa_call *c;
	json_t *which;
	uint64_t id;

	if (!fa_check_args(a, "", ""))
		return 0;
	if ((which = subscribe_which(a, jobs)) == NULL)
		return 0;
	if ((c = fa_call_new(a, &op_subscribe, cb, arg)) == NULL ||
	    (s = calloc(1, sizeof(*s))) == NULL) {
		json_decref(which);
		if (c != NULL)
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		fa_call_drop(a, c);
		return 0;
	}
	c->state = s;
	/* notifications may come before the reply: they are the caller's
	 * already */
	s->was = a->subscribed;
	a->subscribed = true;
	if ((id = fa_call_start(a, c, "events.subscribe",
	    json_pack("{s:o}", "jobs", which), NULL, 0)) == 0)
		a->subscribed = s->was;
	return id;
}

bool
ftpagent_subscribe(struct ftpagent *a, const char *const *jobs)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_subscribe(a, jobs, fa_sync_cb,
	    &s), &s);
}

void
ftpagent_event_clear(struct ftpagent_event *ev)
{
	if (ev == NULL)
		return;
	ftpagent_job_clear(&ev->job);
	free(ev->session);
	free(ev->state);
	memset(ev, 0, sizeof(*ev));
}

static int
int_or_minus1(const json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > INT_MAX)
		return -1;
	return (int)json_integer_value(v);
}

/* A copy of string member name of o, or NULL; false when out of memory. */
static bool
member_dup(const json_t *o, const char *name, char **out)
{
	const char *v = json_string_value(json_object_get(o, name));

	*out = v != NULL ? strdup(v) : NULL;
	return v == NULL || *out != NULL;
}

/* 1 with *ev filled, 0 for a notification to skip, -2 when out of
 * memory. */
static int
parse_event(const struct jsonrpc_msg *m, struct ftpagent_event *ev)
{
	const json_t *p = m->params;
	int r;

	memset(ev, 0, sizeof(*ev));
	if (strcmp(m->method, WIRE_JOB_PROGRESS) == 0 ||
	    strcmp(m->method, WIRE_JOB_FINISHED) == 0) {
		if ((r = fa_parse_job(p, &ev->job)) != 0)
			return r == -2 ? -2 : 0;
		ev->type = strcmp(m->method, WIRE_JOB_PROGRESS) == 0 ?
		    FTPAGENT_EVENT_JOB_PROGRESS : FTPAGENT_EVENT_JOB_FINISHED;
		return 1;
	}
	if (strcmp(m->method, WIRE_SESSION_STATE) != 0 ||
	    !json_is_string(json_object_get(p, "session")))
		return 0;
	ev->type = FTPAGENT_EVENT_SESSION_STATE;
	ev->connections = int_or_minus1(p, "connections");
	ev->busy = int_or_minus1(p, "busy");
	if (!member_dup(p, "session", &ev->session) ||
	    !member_dup(p, "state", &ev->state)) {
		ftpagent_event_clear(ev);
		return -2;
	}
	return 1;
}

void
fa_event_deliver(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct ftpagent_event ev;

	/* out of memory loses the event, not the connection */
	if (parse_event(m, &ev) != 1)
		return;
	a->depth++;
	a->event_cb(a, &ev, a->event_arg);
	a->depth--;
	ftpagent_event_clear(&ev);
}

void
ftpagent_set_event_cb(struct ftpagent *a, ftpagent_event_cb cb, void *arg)
{
	if (a == NULL)
		return;
	a->event_cb = cb;
	a->event_arg = arg;
}

bool
ftpagent_next_event(struct ftpagent *a, struct ftpagent_event *ev,
    int timeout_ms)
{
	struct jsonrpc_msg m;
	int64_t deadline, left = 0;
	bool polled = false;
	int r;

	if (ev != NULL)
		memset(ev, 0, sizeof(*ev));
	if (a == NULL || !fa_usable(a))
		return false;
	if (ev == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no event pointer");
		return false;
	}
	deadline = conn_now_ms() + (timeout_ms < 0 ? a->timeout_ms :
	    timeout_ms);
	for (;;) {
		while (conn_note_pop(&a->conn, &m)) {
			r = parse_event(&m, ev);
			jsonrpc_msg_clear(&m);
			if (r == 1)
				return true;
			if (r == -2) {
				fa_set_error(a, FTPAGENT_ERR_NOMEM,
				    "out of memory");
				return false;
			}
		}
		if (a->err != FTPAGENT_OK ||
		    (polled && deadline <= conn_now_ms()))
			return false;
		left = deadline - conn_now_ms();
		(void)fa_poll_once(a, left <= 0 ? 0 : left > INT_MAX ?
		    INT_MAX : (int)left);
		polled = true;
	}
}
