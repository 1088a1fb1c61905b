/*
 * libftpagent: jobs (status, wait, cancel, list) and events.
 */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "wire.h"

/* ---- jobs ------------------------------------------------------------------ */

/* The library's states are the wire's (protocol/wire.h), one up: 0 is
 * FTPAGENT_JOB_UNKNOWN. */
const char *
ftpagent_job_state_name(enum ftpagent_job_state st)
{
	if (st <= FTPAGENT_JOB_UNKNOWN || st > FTPAGENT_JOB_CANCELLED)
		return "unknown";
	return wire_job_state_name((enum wire_job_state)(st - 1));
}

void
ftpagent_job_clear(struct ftpagent_job *j)
{
	if (j == NULL)
		return;
	free(j->id);
	free(j->session);
	free(j->path);
	free(j->error_kind);
	free(j->error_message);
	free(j->ftp_text);
	memset(j, 0, sizeof(*j));
}

void
ftpagent_jobs_free(struct ftpagent_job *jobs, size_t n)
{
	size_t i;

	if (jobs == NULL)
		return;
	for (i = 0; i < n; i++)
		ftpagent_job_clear(&jobs[i]);
	free(jobs);
}

/* A copy of v (bytes when unescape), or NULL; false only when out of
 * memory. */
static bool
str_dup(const char *v, bool unescape, char **out)
{
	*out = NULL;
	if (v == NULL)
		return true;
	*out = unescape ? fa_bytes_dup(v) : strdup(v);
	return *out != NULL;
}

/* 0, -1 when o is not a job object, -2 when out of memory. */
static int
parse_job(const json_t *o, struct ftpagent_job *j)
{
	struct wire_job w;

	memset(j, 0, sizeof(*j));
	if (wire_job_read(o, &w) != 0)
		return -1;
	j->state = (enum ftpagent_job_state)(w.state + 1);
	j->direction = !w.direction_known ? FTPAGENT_XFER_UNKNOWN :
	    w.put ? FTPAGENT_XFER_PUT : FTPAGENT_XFER_GET;
	j->bytes = w.bytes;
	j->total = w.total;
	j->rate = w.rate;
	j->seconds = w.seconds;
	j->eta = w.eta;
	j->started = w.started;
	j->ended = w.ended;
	j->uid = w.uid;
	j->attempts = w.attempts;
	if (!str_dup(w.id, false, &j->id) ||
	    !str_dup(w.session, false, &j->session) ||
	    !str_dup(w.path, true, &j->path))
		goto nomem;
	if (w.err.message != NULL) {
		j->error = fa_lib_error(w.err.kind);
		j->ftp_code = w.err.ftp_code;
		if (!str_dup(w.err.message, false, &j->error_message) ||
		    !str_dup(w.err.kind_name, false, &j->error_kind) ||
		    !str_dup(w.err.ftp_text, true, &j->ftp_text))
			goto nomem;
	}
	return 0;
nomem:
	ftpagent_job_clear(j);
	return -2;
}

static int
parse_job_cb(const json_t *o, void *j)
{
	return parse_job(o, j);
}

static void
clear_job_cb(void *j)
{
	ftpagent_job_clear(j);
}

/* Fills *j from res (released here); false with the error set. */
static bool
job_result(struct ftpagent *a, const char *method, json_t *res,
    struct ftpagent_job *j)
{
	int r = parse_job(res, j);

	json_decref(res);
	if (r == -2)
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (r != 0)
		fa_set_bad_reply(a, method);
	return r == 0;
}

static bool
check_job_args(struct ftpagent *a, const char *id, struct ftpagent_job *j)
{
	if (j != NULL)
		memset(j, 0, sizeof(*j));
	if (!fa_check_args(a, "", id))
		return false;
	if (j == NULL || *id == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "%s",
		    j == NULL ? "no job pointer" : "empty job id");
		return false;
	}
	return true;
}

bool
ftpagent_job_status(struct ftpagent *a, const char *id,
    struct ftpagent_job *j)
{
	json_t *res;

	if (!check_job_args(a, id, j))
		return false;
	if (!fa_rpc(a, "job.status", json_pack("{s:s}", "job", id), NULL, 0,
	    NULL, &res))
		return false;
	return job_result(a, "job.status", res, j);
}

bool
fa_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    struct ftpagent_job *j)
{
	json_t *res;
	int slice;

	if (!check_job_args(a, id, j))
		return false;
	for (;;) {
		/* Our own wait outlasts the agent's by a connection timeout,
		 * so that its answer, not our impatience, ends the call. */
		slice = timeout_ms > 0 ? timeout_ms : a->timeout_ms;
		if (fa_rpc_wait(a, "job.wait", json_pack("{s:s,s:f}", "job", id,
		    "timeout", slice / 1000.0), NULL, 0, NULL,
		    slice > INT_MAX - a->timeout_ms ? INT_MAX :
		    slice + a->timeout_ms, &res))
			return job_result(a, "job.wait", res, j);
		if (timeout_ms > 0 || !fa_agent_said(a, FTPAGENT_ERR_TIMEOUT))
			return false;
		fa_reset_error(a);
	}
}

bool
ftpagent_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    struct ftpagent_job *j)
{
	if (!fa_job_wait(a, id, timeout_ms, j))
		return false;
	/* a background download's file is in place once the job ended */
	if (j->direction == FTPAGENT_XFER_GET && (j->state ==
	    FTPAGENT_JOB_DONE || j->state == FTPAGENT_JOB_FAILED ||
	    j->state == FTPAGENT_JOB_CANCELLED))
		ftpagent_job_wait_file(a, id, 0);
	return true;
}

bool
ftpagent_job_cancel(struct ftpagent *a, const char *id)
{
	if (!fa_check_args(a, "", id))
		return false;
	return fa_rpc_void(a, "job.cancel", json_pack("{s:s}", "job", id));
}

bool
ftpagent_job_list(struct ftpagent *a, struct ftpagent_job **jobs, size_t *n)
{
	struct ftpagent_job *js = NULL;
	json_t *res;
	size_t count;
	bool ok;

	if (jobs != NULL)
		*jobs = NULL;
	if (n != NULL)
		*n = 0;
	if (!fa_check_args(a, "", ""))
		return false;
	if (jobs == NULL || n == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "job.list: no result pointer");
		return false;
	}
	if (!fa_rpc(a, "job.list", json_object(), NULL, 0, NULL, &res))
		return false;
	ok = fa_parse_array(a, "job.list", res, sizeof(*js), parse_job_cb,
	    clear_job_cb, (void **)&js, &count);
	json_decref(res);
	if (ok) {
		*jobs = js;
		*n = count;
	}
	return ok;
}

/* ---- events ------------------------------------------------------------------ */

bool
ftpagent_subscribe(struct ftpagent *a, const char *const *jobs)
{
	json_t *which, *res;
	bool was;
	size_t i;

	if (!fa_check_args(a, "", ""))
		return false;
	if (jobs == NULL)
		which = json_string("all");
	else if ((which = json_array()) != NULL) {
		for (i = 0; jobs[i] != NULL; i++) {
			if (json_array_append_new(which, json_string(jobs[i])) ==
			    -1) {
				json_decref(which);
				fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
				    "events.subscribe: a job id is not UTF-8");
				return false;
			}
		}
	}
	/* Notifications may come before the reply: keep them already. */
	was = a->subscribed;
	a->subscribed = true;
	if (!fa_rpc(a, "events.subscribe", json_pack("{s:o}", "jobs", which),
	    NULL, 0, NULL, &res)) {
		a->subscribed = was;
		return false;
	}
	json_decref(res);
	return true;
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
		if ((r = parse_job(p, &ev->job)) != 0)
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
	if (!str_dup(json_string_value(json_object_get(p, "session")), false,
	    &ev->session) ||
	    !str_dup(json_string_value(json_object_get(p, "state")), false,
	    &ev->state)) {
		ftpagent_event_clear(ev);
		return -2;
	}
	return 1;
}

bool
ftpagent_next_event(struct ftpagent *a, struct ftpagent_event *ev,
    int timeout_ms)
{
	struct jsonrpc_msg m;
	enum conn_status st;
	int64_t deadline;
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
		st = conn_next_note(&a->conn, deadline, &m);
		if (st == CONN_TIMEOUT && conn_is_open(&a->conn))
			return false;
		if (st != CONN_OK) {
			fa_set_conn_error(a, st, "events");
			return false;
		}
		r = parse_event(&m, ev);
		jsonrpc_msg_clear(&m);
		if (r == 1)
			return true;
		if (r == -2) {
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
			return false;
		}
	}
}
