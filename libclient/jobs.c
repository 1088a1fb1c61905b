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

/* ---- jobs --------------------------------------------------------------- */

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
int
fa_parse_job(const json_t *o, struct ftpagent_job *j)
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
		    !str_dup(fa_kind_name(j->error, w.err.kind_name), false,
		    &j->error_kind) ||
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
	return fa_parse_job(o, j);
}

static void
clear_job_cb(void *j)
{
	ftpagent_job_clear(j);
}

static int
job_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	return fa_parse_job(res, &r->pub.job);
}

static int
jobs_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	return fa_parse_array(res, sizeof(struct ftpagent_job), parse_job_cb,
	    clear_job_cb, (void **)&r->pub.jobs, &r->pub.n_jobs);
}

static const struct fa_op op_status = {
	.name = "job.status", .result = job_result,
};
static const struct fa_op op_cancel = { .name = "job.cancel" };
static const struct fa_op op_list = {
	.name = "job.list", .result = jobs_result,
};

static bool
check_job_id(struct ftpagent *a, const char *id)
{
	if (!fa_check_args(a, "", id))
		return false;
	if (*id == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "empty job id");
		return false;
	}
	return true;
}

/* The blocking twin of a call that answers a job. */
static bool
sync_job(struct ftpagent *a, uint64_t id, struct fa_sync *s,
    struct ftpagent_job *j)
{
	bool ok = fa_sync_wait(a, id, s);

	if (ok) {
		*j = s->r.job;
		memset(&s->r.job, 0, sizeof(s->r.job));
	}
	fa_sync_clear(s);
	return ok;
}

/* A job pointer for the blocking twins. */
static bool
job_out_ok(struct ftpagent *a, struct ftpagent_job *j)
{
	if (j != NULL)
		memset(j, 0, sizeof(*j));
	if (a != NULL && a->err == FTPAGENT_OK && j == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no job pointer");
		return false;
	}
	return true;
}

uint64_t
ftpagent_send_job_status(struct ftpagent *a, const char *id,
    ftpagent_reply_cb cb, void *arg)
{
	if (!check_job_id(a, id))
		return 0;
	return fa_call_start(a, fa_call_new(a, &op_status, cb, arg),
	    "job.status", json_pack("{s:s}", "job", id), NULL, 0);
}

bool
ftpagent_job_status(struct ftpagent *a, const char *id,
    struct ftpagent_job *j)
{
	struct fa_sync s = { 0 };

	if (!job_out_ok(a, j))
		return false;
	return sync_job(a, ftpagent_send_job_status(a, id, fa_sync_cb, &s), &s,
	    j);
}

/*
 * job.wait: one request per slice of the wait. Our own deadline outlasts
 * the agent's by a connection timeout, so that its answer, not our
 * impatience, ends the call; waiting "until it ends" asks again each
 * time the agent's slice passes.
 */
struct job_wait {
	char	*job;
	int	 timeout_ms;	/* <= 0: until the job ends */
};

static json_t *
wait_params(const struct job_wait *w, int slice)
{
	return json_pack("{s:s,s:f}", "job", w->job, "timeout", slice / 1000.0);
}

static int
wait_slice(struct ftpagent *a, const struct job_wait *w)
{
	return w->timeout_ms > 0 ? w->timeout_ms : a->timeout_ms;
}

static int
wait_error(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct job_wait *w = c->state;

	if (w->timeout_ms > 0 || r->pub.error != FTPAGENT_ERR_TIMEOUT)
		return FA_DONE;
	return fa_call_next(a, c, r, "job.wait",
	    wait_params(w, wait_slice(a, w)), NULL, 0);
}

static void
wait_end(struct ftpagent *a, struct fa_call *c, struct fa_reply *r)
{
	struct job_wait *w = c->state;

	if (w != NULL)
		free(w->job);
	free(w);
}

static const struct fa_op op_wait = {
	.name = "job.wait", .result = job_result, .error = wait_error,
	.end = wait_end,
};

uint64_t
ftpagent_send_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    ftpagent_reply_cb cb, void *arg)
{
	struct job_wait *w;
	struct fa_call *c;
	int slice;

	if (!check_job_id(a, id) || (c = fa_call_new(a, &op_wait, cb, arg)) ==
	    NULL)
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->job = strdup(id)) == NULL) {
		free(w);
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		fa_call_drop(a, c);
		return 0;
	}
	w->timeout_ms = timeout_ms;
	c->state = w;
	slice = wait_slice(a, w);
	c->timeout_ms = slice > INT_MAX - a->timeout_ms ? INT_MAX :
	    slice + a->timeout_ms;
	return fa_call_start(a, c, "job.wait", wait_params(w, slice), NULL, 0);
}

bool
fa_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
    struct ftpagent_job *j)
{
	struct fa_sync s = { 0 };

	if (!job_out_ok(a, j))
		return false;
	return sync_job(a, ftpagent_send_job_wait(a, id, timeout_ms, fa_sync_cb,
	    &s), &s, j);
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

uint64_t
ftpagent_send_job_cancel(struct ftpagent *a, const char *id,
    ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, "", id))
		return 0;
	return fa_call_start(a, fa_call_new(a, &op_cancel, cb, arg),
	    "job.cancel", json_pack("{s:s}", "job", id), NULL, 0);
}

bool
ftpagent_job_cancel(struct ftpagent *a, const char *id)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_job_cancel(a, id, fa_sync_cb,
	    &s), &s);
}

uint64_t
ftpagent_send_job_list(struct ftpagent *a, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, "", ""))
		return 0;
	return fa_call_start(a, fa_call_new(a, &op_list, cb, arg), "job.list",
	    json_object(), NULL, 0);
}

bool
ftpagent_job_list(struct ftpagent *a, struct ftpagent_job **jobs, size_t *n)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (jobs != NULL)
		*jobs = NULL;
	if (n != NULL)
		*n = 0;
	if (a != NULL && a->err == FTPAGENT_OK && (jobs == NULL || n == NULL)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "job.list: no result pointer");
		return false;
	}
	ok = fa_sync_wait(a, ftpagent_send_job_list(a, fa_sync_cb, &s), &s);
	if (ok) {
		*jobs = s.r.jobs;
		*n = s.r.n_jobs;
		s.r.jobs = NULL;
		s.r.n_jobs = 0;
	}
	fa_sync_clear(&s);
	return ok;
}
