#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "conf.h"
#include "control.h"
#include "events.h"
#include "job.h"
#include "log.h"
#include "rpc.h"
#include "session.h"
#include "segget.h"
#include "tree.h"
#include "util.h"
#include "wire.h"

#define PROGRESS_MIN_INTERVAL	0.2
#define PROGRESS_HEARTBEAT	1.0

static struct job	*jobs;	/* newest first */
static unsigned long long job_serial;

const char *
job_state_name(enum job_state s)
{
	return wire_job_state_name((enum wire_job_state)s);
}

/* Every change of a job's state goes through here, and is logged. */
static void
job_set_state(struct job *j, enum job_state s)
{
	if (j->state == s)
		return;
	log_debug("job %s: %s -> %s", j->id, job_state_name(j->state),
	    job_state_name(s));
	j->state = s;
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

/* The smoothed rate: a moving average over about three seconds. */
static void
rate_update(struct job *j)
{
	double	now = now_mono(), dt = now - j->rate_t, inst, w;

	if (j->rate_t == 0 || j->bytes < j->rate_bytes) {
		j->rate_t = now;
		j->rate_bytes = j->bytes;
		return;
	}
	if (dt < 0.1)
		return;
	inst = (double)(j->bytes - j->rate_bytes) / dt;
	w = dt / 3.0 > 1.0 ? 1.0 : dt / 3.0;
	j->rate = j->rate == 0 ? inst : j->rate + (inst - j->rate) * w;
	j->rate_t = now;
	j->rate_bytes = j->bytes;
}

json_t *
job_json(const struct job *j)
{
	struct wire_job	w;
	double		el = job_elapsed(j);
	json_t		*o;

	memset(&w, 0, sizeof(w));
	w.id = j->id;
	w.state = (int)j->state;
	w.put = j->put;
	w.session = j->session_id;
	w.path = j->path;
	w.local = j->local;
	w.bytes = j->bytes;
	w.total = j->total;
	if (job_finished(j) || j->rate == 0)
		w.rate = el > 0 ? (double)j->bytes / el : 0.0;
	else
		w.rate = j->rate;
	w.seconds = el;
	w.eta = !job_finished(j) && j->total >= 0 && w.rate > 0 &&
	    j->total >= j->bytes ? (double)(j->total - j->bytes) / w.rate : -1;
	w.started = j->real_start > 0 ? j->real_start : -1;
	w.ended = j->real_end > 0 ? j->real_end : -1;
	w.uid = (long)j->uid;
	w.attempts = j->attempts;
	w.limit_rate = j->rl.rate;
	if (j->tree != NULL) {
		tree_wire(j->tree, &w.tree);
		if (w.tree.walking)
			w.eta = -1;	/* the total still grows */
	}
	if (j->state == JOB_FAILED || j->state == JOB_CANCELLED) {
		w.err.kind = j->err.kind;
		w.err.message = j->err.msg;
		w.err.ftp_code = j->err.ftp_code;
		w.err.ftp_text = j->err.ftp_text;
	}
	if ((o = wire_job_json(&w)) == NULL)
		fatalx("out of memory");
	return o;
}

static void progress_send(struct job *, bool);

static void
hb_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	progress_send(w->data, false);
}

static void
job_free(struct job *j)
{
	struct job	**pp;

	if (j->tree)
		tree_free(j->tree);
	segget_free(j->segs);
	ev_timer_stop(loop_get(), &j->expire);
	ev_timer_stop(loop_get(), &j->hb);
	ev_timer_stop(loop_get(), &j->retry);
	for (pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j->session_id);
	free(j->path);
	free(j->local);
	free(j->data);
	op_error_clear(&j->err);
	free(j);
}

static void
expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	job_free(w->data);
}

/*
 * Finished jobs are kept for job_retention seconds, and at most
 * job_retention_max of them per uid: a batch of thousands must not keep
 * thousands, nor make a listing of them. The ones that ended first go,
 * from the loop as an expiry does: a caller may be walking the list.
 */
static void
retention_trim(uid_t uid)
{
	unsigned	 max = conf_current()->job_retention_max, n = 0;
	struct job	*j, *oldest;

	for (j = jobs; j; j = j->next)
		if (j->uid == uid && job_finished(j) && j->hooks == NULL &&
		    !j->evicted)
			n++;
	while (max > 0 && n > max) {
		oldest = NULL;
		for (j = jobs; j; j = j->next)
			if (j->uid == uid && job_finished(j) &&
			    j->hooks == NULL && !j->evicted && (oldest == NULL ||
			    j->t_end <= oldest->t_end))
				oldest = j;
		if (oldest == NULL)
			break;
		log_debug("job %s: forgotten (more than %u finished jobs of "
		    "uid %u)", oldest->id, max, (unsigned)uid);
		oldest->evicted = true;
		ev_timer_stop(loop_get(), &oldest->expire);
		ev_timer_set(&oldest->expire, 0., 0.);
		ev_timer_start(loop_get(), &oldest->expire);
		n--;
	}
}

/*
 * The local file of a job, for its owner's listing: where the passed
 * descriptor leads (/proc follows renames); NULL for a pipe, a socket or
 * inline data.
 */
static char *
fd_name(int fd)
{
	char	proc[64], buf[4096];
	ssize_t	n;

	if (fd < 0)
		return NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if ((n = readlink(proc, buf, sizeof(buf) - 1)) <= 0 || buf[0] != '/')
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static char *
local_name(const struct localfd *lfd)
{
	if (lfd->kind == LFD_MEMORY || lfd->kind == LFD_NONE)
		return NULL;
	return fd_name(lfd->fd);
}

/*
 * A job.progress now, and the heartbeat restarted: queued jobs (waiting
 * for a connection, or between attempts) get it as running ones do, so a
 * caller's inactivity timeout holds. first: the one sent on acceptance.
 */
static void
progress_send(struct job *j, bool first)
{
	if (job_finished(j))
		return;
	if (j->hooks != NULL) {		/* a tree's step: the tree tells */
		/* at every move, not throttled: segget.c's record counts on
		 * seeing each op->held */
		j->hooks->progress(j, j->hooks->arg);
		return;
	}
	if (j->state == JOB_RUNNING)
		rate_update(j);
	if (first)
		events_job_accepted(j);
	else
		events_job(j, WIRE_JOB_PROGRESS, true);
	j->last_progress = now_mono();
	ev_timer_again(loop_get(), &j->hb);
}

/*
 * The job's bytes: this attempt's, and what earlier attempts left in
 * place, which is how far the offset has moved past the one asked for
 * (a download's REST, an upload's SIZE); nothing after a restart.
 */
static void
job_account(struct job *j, struct ftp_op *op)
{
	j->bytes = op->bytes + (op->restarted ? 0 : op->offset - j->offset0);
	if (op->total >= 0)
		j->total = op->total;
}

static void
op_progress(struct ftp_op *op, void *arg)
{
	struct job	*j = arg;
	bool		 started = j->state == JOB_QUEUED;

	if (started)
		job_set_state(j, JOB_RUNNING);
	job_account(j, op);
	if (started || now_mono() - j->last_progress >= PROGRESS_MIN_INTERVAL)
		progress_send(j, false);
}

static void
waiter_free(struct job_waiter *w)
{
	ev_timer_stop(loop_get(), &w->timer);
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

/* ---- retries ------------------------------------------------------------------ */

/* Another attempt: a network failure (ftp_op_transient), retries left. */
static bool
job_retryable(const struct job *j, const struct ftp_op *op)
{
	if (!op->failed || j->sess == NULL || j->sess->closing ||
	    j->attempts > j->max_retries)
		return false;
	/* a download cut short resumes where it stopped */
	return ftp_op_transient(op) ||
	    (op->err.kind == FTPA_ERR_PROTOCOL && op->cut_short);
}

/*
 * Readies op for the next attempt: a binary download goes on from what
 * the local side has (REST); anything else starts over when its local
 * side can be rewound. False when neither is possible.
 */
static bool
job_rearm(struct job *j, struct ftp_op *op)
{
	if (!j->put && !op->ascii) {
		op->offset += op->bytes;
		/* a server that cannot REST: start over if that loses nothing
		 * the caller had */
		if (j->offset0 == 0 && (op->lfd.kind == LFD_FILE ||
		    op->lfd.kind == LFD_MEMORY))
			op->rest_restart = true;
	} else if (j->put && !op->ascii && !op->append && j->offset0 == 0 &&
	    (op->lfd.kind == LFD_FILE || op->lfd.kind == LFD_MEMORY)) {
		/* the engine asks SIZE and goes on from there (REST), or
		 * starts over when the server cannot */
		op->put_resume = true;
		op->rest_restart = true;
	} else if (op->offset != 0 || op->append ||
	    localfd_rewind(&op->lfd, !j->put) == -1)
		return false;
	op->bytes = 0;
	op->restarted = false;
	op->failed = false;
	op_error_clear(&op->err);
	ftp_op_result_clear(&op->res);
	return true;
}

static void job_end(struct job *, struct ftp_op *);
static void job_settle(struct job *, struct ftp_op *);

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;
	struct ftp_op	*op = j->op;

	ev_timer_stop(loop, w);
	if (j->sess == NULL || j->sess->closing) {
		/* the session went away while we waited: the last error stands */
		op->failed = true;
		op_error_copy(&op->err, &j->err);
		job_settle(j, op);
		return;
	}
	j->attempts++;
	session_submit(j->sess, op);
}

static bool
job_retry(struct job *j, struct ftp_op *op)
{
	double	delay;

	if (!job_retryable(j, op))
		return false;
	op_error_copy(&j->err, &op->err);
	if (!job_rearm(j, op))
		return false;
	delay = j->retry_delay;
	for (int i = 1; i < j->attempts && delay < JOB_RETRY_MAX_DELAY; i++)
		delay *= 2;
	if (delay > JOB_RETRY_MAX_DELAY)
		delay = JOB_RETRY_MAX_DELAY;
	log_info("job %s: attempt %d failed: %s; retrying in %.3g s from byte "
	    "%" PRId64, j->id, j->attempts, j->err.msg, delay, op->offset);
	job_set_state(j, JOB_QUEUED);
	job_account(j, op);
	ev_timer_init(&j->retry, retry_cb, delay, 0.);
	j->retry.data = j;
	ev_timer_start(loop_get(), &j->retry);
	/* the backoff (up to a minute) has its heartbeat too */
	progress_send(j, false);
	return true;
}

/* ---- the end ------------------------------------------------------------------- */

/* The caller's file has its name (or is left as it was): the end. */
static void
named_cb(void *arg)
{
	struct job	*j = arg;
	struct ftp_op	*op = j->op;
	const char	*why;

	if (!op->failed && (why = localfd_name_error(&op->lfd)) != NULL) {
		op->failed = true;
		op_error_set(&op->err, FTPA_ERR_LOCAL_IO, 0, NULL, "%s", why);
	}
	job_end(j, op);
}

/* The op's last attempt is over: a download the agent renames
 * (transfer.get "rename") ends once the file has its name, so that
 * waiters find it in place. */
static void
job_settle(struct job *j, struct ftp_op *op)
{
	ev_timer_stop(loop_get(), &j->retry);	/* no attempt after this */
	if (!localfd_name_finish(&op->lfd, !op->failed, named_cb, j))
		job_end(j, op);
}

static void
op_done(struct ftp_op *op, void *arg)
{
	struct job	*j = arg;

	if (op->failed && op->err.kind != FTPA_ERR_CANCELLED && job_retry(j, op))
		return;
	job_settle(j, op);
}

/* What every job does at its end, after its state is set: heartbeat
 * stopped, the caller told, the waiters answered, kept for a while. */
static void
job_conclude(struct job *j)
{
	struct job_waiter	*w, *next;

	ev_timer_stop(loop_get(), &j->hb);
	if (j->progress) {
		client_unref(j->progress);
		j->progress = NULL;
	}
	if (j->progress_id) {
		json_decref(j->progress_id);
		j->progress_id = NULL;
	}
	events_job(j, WIRE_JOB_FINISHED, false);
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
	/* kept for job.status and job.wait, then forgotten */
	ev_timer_init(&j->expire, expire_cb, conf_current()->job_retention,
	    0.);
	j->expire.data = j;
	ev_timer_start(loop_get(), &j->expire);
	if (j->hooks == NULL)
		retention_trim(j->uid);
}

static void
job_end(struct job *j, struct ftp_op *op)
{
	char	*local;

	ev_timer_stop(loop_get(), &j->retry);
	job_account(j, op);
	/* a download the agent renamed: its file's name now */
	if (j->local != NULL && (local = local_name(&op->lfd)) != NULL) {
		free(j->local);
		j->local = local;
	}
	j->t_end = now_mono();
	j->real_end = now_real();
	if (j->t_start == 0)
		j->t_start = j->t_end;
	if (!op->failed)
		job_set_state(j, JOB_DONE);
	else if (op->err.kind == FTPA_ERR_CANCELLED)
		job_set_state(j, JOB_CANCELLED);
	else
		job_set_state(j, JOB_FAILED);
	op_error_copy(&j->err, &op->err);
	if (!j->put && op->lfd.kind == LFD_MEMORY && j->state == JOB_DONE) {
		j->data = op->lfd.mem;
		j->data_len = op->lfd.mem_len;
		op->lfd.mem = NULL;
	}
	if (j->put)
		rpc_count_out(j->bytes);
	else
		rpc_count_in(j->bytes);
	(j->hooks ? log_debug : log_info)("job %s %s %s %s: %s, %" PRId64
	    " bytes in %.3f s (%.0f B/s)%s%s", j->id, j->put ? "put" : "get",
	    j->session_id, j->path, job_state_name(j->state), j->bytes,
	    j->t_end - j->t_start, j->t_end > j->t_start ?
	    j->bytes / (j->t_end - j->t_start) : 0.0, op->failed ? ": " : "",
	    op->failed ? j->err.msg : "");
	j->op = NULL;
	ftp_op_free(op);
	if (j->hooks != NULL) {		/* a tree's step: the tree takes over */
		j->hooks->end(j, j->hooks->arg);
		job_free(j);
		return;
	}
	job_conclude(j);
}

static struct job *
job_alloc(uid_t uid, struct session *s, const char *path, bool put)
{
	struct job	*j = xcalloc(1, sizeof(*j));

	snprintf(j->id, sizeof(j->id), "j%llu", ++job_serial);
	j->uid = uid;
	j->put = put;
	j->sess = s;
	j->session_id = xstrdup(s->id);
	j->path = xstrdup(path);
	j->total = -1;
	j->state = JOB_QUEUED;
	ev_timer_init(&j->hb, hb_cb, 0., PROGRESS_HEARTBEAT);
	j->hb.data = j;
	ev_init(&j->retry, retry_cb);
	j->retry.data = j;
	j->max_retries = s->o.retries;
	j->retry_delay = s->o.retry_delay;
	j->next = jobs;
	jobs = j;
	return j;
}

void
job_set_limit(struct job *j, int64_t rate)
{
	rl_set(&j->rl, rate, now_mono());
	if (j->op != NULL)
		j->op->rl = rl_on(&j->rl) ? &j->rl : NULL;
}

static struct job *
job_of_op(uid_t uid, struct session *s, struct ftp_op *op, bool put)
{
	struct job	*j = job_alloc(uid, s, op->path, put);

	j->offset0 = op->offset;
	j->op = op;
	op->done = op_done;
	op->progress = op_progress;
	op->arg = j;
	return j;
}

struct job *
job_new(uid_t uid, struct session *s, struct ftp_op *op, bool put)
{
	struct job	*j = job_of_op(uid, s, op, put);

	j->local = local_name(&op->lfd);
	return j;
}

/* A tree's file: hidden, so its local name (a readlink at its start and
 * its end) is never shown and not read. */
struct job *
job_new_step(uid_t uid, struct session *s, struct ftp_op *op, bool put,
    const struct job_hooks *hooks)
{
	struct job	*j = job_of_op(uid, s, op, put);

	j->hooks = hooks;
	return j;
}

struct job *
job_new_tree(uid_t uid, struct session *s, const char *path, bool put,
    struct tree *t)
{
	struct job	*j = job_alloc(uid, s, path, put);

	j->tree = t;
	tree_attach(t, j);
	return j;
}

struct job *
job_new_segmented(uid_t uid, struct session *s, const char *path,
    struct segget *sg)
{
	struct job	*j = job_alloc(uid, s, path, false);

	j->segs = sg;
	j->local = fd_name(segget_fd(sg));
	segget_attach(sg, j);
	return j;
}

void
job_tree_progress(struct job *j, bool started)
{
	if (job_finished(j))
		return;
	if (started && j->state == JOB_QUEUED)
		job_set_state(j, JOB_RUNNING);
	else if (now_mono() - j->last_progress < PROGRESS_MIN_INTERVAL)
		return;
	progress_send(j, false);
}

void
job_tree_end(struct job *j, enum job_state state, const struct op_error *err)
{
	if (job_finished(j))
		return;
	j->t_end = now_mono();
	j->real_end = now_real();
	job_set_state(j, state);
	if (err != NULL)
		op_error_copy(&j->err, err);
	log_info("job %s %s %s %s %s: %s, %" PRId64 " bytes in %.3f s%s%s",
	    j->id, j->segs ? "segmented" : "tree", j->put ? "put" : "get",
	    j->session_id, j->path,
	    job_state_name(j->state), j->bytes, j->t_end - j->t_start,
	    err ? ": " : "", err ? err->msg : "");
	job_conclude(j);
}

void
job_start(struct job *j)
{
	j->t_start = now_mono();
	j->real_start = now_real();
	j->attempts = 1;
	if (j->hooks == NULL)
		/* before the op can move a byte or end: the caller learns
		 * the job id first, and its reply comes after this */
		progress_send(j, true);
	if (j->tree)
		tree_start(j->tree);
	else if (j->segs)
		segget_start(j->segs);
	else
		session_submit(j->sess, j->op);
}

struct job *
job_lookup(const char *id)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->hooks == NULL && strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

void
job_each(void (*fn)(const struct job *, void *), void *arg)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->hooks == NULL)
			fn(j, arg);
}

void
job_cancel(struct job *j)
{
	if (j->tree != NULL && !job_finished(j)) {
		tree_cancel(j->tree, "cancelled");
		return;
	}
	if (j->segs != NULL) {
		if (!job_finished(j))
			segget_cancel(j->segs, "cancelled");
		return;
	}
	/* nor while its file is being renamed: it has ended but for that */
	if (job_finished(j) || j->op == NULL || localfd_name_busy(&j->op->lfd))
		return;
	if (ev_is_active(&j->retry)) {
		/* between attempts: nothing runs, it just ends */
		j->op->failed = true;
		op_error_set(&j->op->err, FTPA_ERR_CANCELLED, 0, NULL, "cancelled");
		job_settle(j, j->op);
		return;
	}
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
		ev_timer_start(loop_get(), &w->timer);
	w->next = j->waiters;
	j->waiters = w;
	call->on_gone = waiter_gone;
	call->gone_arg = w;
	rpc_defer(call);
}

void
job_set_progress(struct job *j, struct client *c, json_t *request_id)
{
	if (j->progress || job_finished(j))
		return;
	client_ref(c);
	j->progress = c;
	j->progress_id = request_id ? json_incref(request_id) : NULL;
}

size_t
job_count(uid_t uid, bool all, bool active_only)
{
	size_t	n = 0;

	for (struct job *j = jobs; j; j = j->next)
		if (j->hooks == NULL && (all || j->uid == uid) &&
		    (!active_only || !job_finished(j)))
			n++;
	return n;
}

size_t
job_inline_held(uid_t uid)
{
	size_t	n = 0;

	for (struct job *j = jobs; j; j = j->next)
		if (j->uid == uid && j->put && j->op != NULL &&
		    j->op->lfd.kind == LFD_MEMORY)
			n += j->op->lfd.mem_len;
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
	struct job	*j, *next;

	/* a tree's cancel frees its steps, never a job of the list's own:
	 * the next one is found before */
	for (j = jobs; j && j->hooks; j = j->next)
		;
	for (; j; j = next) {
		for (next = j->next; next && next->hooks; next = next->next)
			;
		job_cancel(j);
	}
}
