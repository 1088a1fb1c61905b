#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "control.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "session.h"
#include "util.h"

#define PROGRESS_MIN_INTERVAL	0.2
#define PROGRESS_HEARTBEAT	1.0

struct job	*jobs;
static unsigned long long job_serial;

static const char *job_state_names[JOB_STATE_LAST] = {
	"queued", "running", "done", "failed", "cancelled",
};

const char *
job_state_name(enum job_state s)
{
	return s < JOB_STATE_LAST ? job_state_names[s] : "?";
}

bool
job_finished(const struct job *j)
{
	return j->state >= JOB_DONE;
}

static double
job_elapsed(const struct job *j)
{
	if (j->t_start == 0)
		return 0;
	return (j->t_end ? j->t_end : now_mono()) - j->t_start;
}

json_t *
job_json(const struct job *j)
{
	double	el = job_elapsed(j);
	json_t	*o;

	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:f,s:f,s:o}",
	    "job", j->id, "state", job_state_name(j->state),
	    "direction", j->put ? "put" : "get",
	    "session", j->session_id, "path", "",
	    "bytes", (json_int_t)j->bytes,
	    "total", j->total >= 0 ? json_integer(j->total) : json_null(),
	    "rate", el > 0 ? j->bytes / el : 0.0,
	    "seconds", el,
	    "error", j->state == JOB_FAILED || j->state == JOB_CANCELLED ?
	    op_error_json(&j->err) : json_null());
	/* the path as the server spells it, escaped where not UTF-8 */
	json_object_set_new(o, "path", json_text(j->path));
	return o;
}

static void progress_send(struct job *);

static void
hb_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	progress_send(w->data);
}

static void
expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data, **pp;

	ev_timer_stop(loop, w);
	for (pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j->session_id);
	free(j->path);
	free(j->data);
	op_error_clear(&j->err);
	free(j);
}

static void
progress_send(struct job *j)
{
	if (j->progress == NULL)
		return;
	if (j->progress->dead) {
		client_unref(j->progress);
		j->progress = NULL;
		ev_timer_stop(main_loop, &j->hb);
		return;
	}
	/* a slow reader gets the latest state later, never a growing queue */
	if (!client_congested(j->progress))
		client_send(j->progress, json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0",
		    "method", "job.progress", "params", job_json(j)));
	j->last_progress = now_mono();
	ev_timer_again(main_loop, &j->hb);
}

static void
op_progress(struct ftp_op *op, void *arg)
{
	struct job	*j = arg;

	if (j->state == JOB_QUEUED)
		j->state = JOB_RUNNING;
	j->bytes = op->bytes;
	j->total = op->total;
	if (j->progress && now_mono() - j->last_progress >= PROGRESS_MIN_INTERVAL)
		progress_send(j);
}

static void
waiter_free(struct job_waiter *w)
{
	ev_timer_stop(main_loop, &w->timer);
	free(w);
}

static void
waiter_answer(struct job_waiter *w)
{
	struct job	*j = w->job;
	json_t		*res;

	if (w->transfer && j->state != JOB_DONE) {
		rpc_fail_op(w->call, &j->err, json_pack("{s:o}", "job", job_json(j)));
		return;
	}
	res = job_json(j);
	if (w->with_data && j->state == JOB_DONE) {
		size_t	 cap = 4 * ((j->data_len + 2) / 3) + 1;
		char	*b64 = xmalloc(cap);

		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)
		    (j->data ? j->data : ""), (int)j->data_len);
		json_object_set_new(res, "data", json_string(b64));
		free(b64);
	}
	rpc_reply(w->call, res);
}

static void
op_done(struct ftp_op *op, void *arg)
{
	struct job		*j = arg;
	struct job_waiter	*w, *next;

	j->bytes = op->bytes;
	if (op->total >= 0)
		j->total = op->total;
	j->t_end = now_mono();
	if (j->t_start == 0)
		j->t_start = j->t_end;
	if (!op->failed)
		j->state = JOB_DONE;
	else if (op->err.kind == FTPA_ERR_CANCELLED)
		j->state = JOB_CANCELLED;
	else
		j->state = JOB_FAILED;
	op_error_copy(&j->err, &op->err);
	if (!j->put && op->lfd.kind == LFD_MEMORY && j->state == JOB_DONE) {
		j->data = op->lfd.mem;
		j->data_len = op->lfd.mem_len;
		op->lfd.mem = NULL;
	}
	if (j->put)
		rpc_bytes_out += j->bytes;
	else
		rpc_bytes_in += j->bytes;
	log_info("job %s %s %s %s: %s, %" PRId64 " bytes in %.3f s", j->id,
	    j->put ? "put" : "get", j->session_id, j->path,
	    job_state_name(j->state), j->bytes, j->t_end - j->t_start);
	j->op = NULL;
	ftp_op_free(op);

	progress_send(j);
	ev_timer_stop(main_loop, &j->hb);
	if (j->progress) {
		client_unref(j->progress);
		j->progress = NULL;
	}
	for (w = j->waiters, j->waiters = NULL; w; w = next) {
		next = w->next;
		if (w->call) {
			w->call->on_gone = NULL;
			waiter_answer(w);
		}
		waiter_free(w);
	}
	/* inline data is only for the waiting caller */
	free(j->data);
	j->data = NULL;
	ev_timer_init(&j->expire, expire_cb, JOB_RETENTION, 0.);
	j->expire.data = j;
	ev_timer_start(main_loop, &j->expire);
}

struct job *
job_new(uid_t uid, struct session *s, struct ftp_op *op, bool put)
{
	struct job	*j = xcalloc(1, sizeof(*j));

	snprintf(j->id, sizeof(j->id), "j%llu", ++job_serial);
	j->uid = uid;
	j->put = put;
	j->sess = s;
	j->session_id = xstrdup(s->id);
	j->path = xstrdup(op->path);
	j->op = op;
	j->total = -1;
	j->state = JOB_QUEUED;
	op->done = op_done;
	op->progress = op_progress;
	op->arg = j;
	ev_timer_init(&j->hb, hb_cb, 0., PROGRESS_HEARTBEAT);
	j->hb.data = j;
	j->next = jobs;
	jobs = j;
	return j;
}

void
job_start(struct job *j)
{
	j->t_start = now_mono();
	session_submit(j->sess, j->op);
}

struct job *
job_lookup(const char *id)
{
	for (struct job *j = jobs; j; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

void
job_cancel(struct job *j)
{
	if (job_finished(j) || j->op == NULL)
		return;
	if (j->sess)
		session_cancel_op(j->sess, j->op);
}

static void
waiter_gone(struct rpc_call *call, void *arg)
{
	struct job_waiter	*w = arg, **pp;
	struct job		*j = w->job;
	bool			 transfer = w->transfer;

	for (pp = &j->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	waiter_free(w);
	/* the caller of a waiting transfer left: nobody wants the result */
	if (transfer)
		job_cancel(j);
}

static void
waiter_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job_waiter	*w = t->data, **pp;
	struct job		*j = w->job;

	for (pp = &j->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->call->on_gone = NULL;
	rpc_fail(w->call, FTPA_ERR_TIMEOUT, "job %s has not ended after %.3g s",
	    j->id, w->timer.repeat);
	waiter_free(w);
}

void
job_wait(struct job *j, struct rpc_call *call, double timeout, bool with_data,
    bool transfer)
{
	struct job_waiter	*w;

	if (job_finished(j)) {
		struct job_waiter	tmp = { .call = call, .job = j,
		    .with_data = with_data, .transfer = transfer };

		waiter_answer(&tmp);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->call = call;
	w->job = j;
	w->with_data = with_data;
	w->transfer = transfer;
	ev_timer_init(&w->timer, waiter_timeout, timeout, 0.);
	w->timer.repeat = timeout;
	w->timer.data = w;
	if (timeout > 0)
		ev_timer_start(main_loop, &w->timer);
	w->next = j->waiters;
	j->waiters = w;
	call->on_gone = waiter_gone;
	call->gone_arg = w;
	rpc_defer(call);
}

void
job_set_progress(struct job *j, struct client *c)
{
	if (j->progress || job_finished(j))
		return;
	client_ref(c);
	j->progress = c;
	j->last_progress = now_mono();
	ev_timer_again(main_loop, &j->hb);
}

size_t
job_count(uid_t uid, bool all, bool active_only)
{
	size_t	n = 0;

	for (struct job *j = jobs; j; j = j->next)
		if ((all || j->uid == uid) && (!active_only || !job_finished(j)))
			n++;
	return n;
}

void
job_session_gone(struct session *s)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->sess == s)
			j->sess = NULL;
}

void
job_cancel_all(void)
{
	for (struct job *j = jobs; j; j = j->next)
		job_cancel(j);
}
