/*
 * libftpagent: sticky errors, one call and its reply, the escape hatch
 * (see ftpagent_priv.h for the other files).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "wire.h"

/* Indexed by enum ftpagent_error. */
static const char *const err_names[] = {
	[FTPAGENT_OK] = "",
	[FTPAGENT_ERR_FTP] = "ftp",
	[FTPAGENT_ERR_CONNECT] = "connect",
	[FTPAGENT_ERR_TLS] = "tls",
	[FTPAGENT_ERR_AUTH] = "auth",
	[FTPAGENT_ERR_TIMEOUT] = "timeout",
	[FTPAGENT_ERR_NOT_FOUND] = "not_found",
	[FTPAGENT_ERR_EXISTS] = "exists",
	[FTPAGENT_ERR_PERMISSION] = "permission",
	[FTPAGENT_ERR_CANCELLED] = "cancelled",
	[FTPAGENT_ERR_NO_SESSION] = "no_session",
	[FTPAGENT_ERR_NO_JOB] = "no_job",
	[FTPAGENT_ERR_LIMIT] = "limit",
	[FTPAGENT_ERR_LOCAL_IO] = "local_io",
	[FTPAGENT_ERR_PROTOCOL] = "protocol",
	[FTPAGENT_ERR_AGENT] = "agent",
	[FTPAGENT_ERR_RPC] = "rpc",
	[FTPAGENT_ERR_ARGUMENT] = "argument",
	[FTPAGENT_ERR_NOMEM] = "nomem",
};

/* Indexed by enum ftpa_err (the wire's kinds). */
static const enum ftpagent_error wire_errors[FTPA_ERR_LAST] = {
	[FTPA_ERR_NONE] = FTPAGENT_ERR_RPC,
	[FTPA_ERR_FTP] = FTPAGENT_ERR_FTP,
	[FTPA_ERR_CONNECT] = FTPAGENT_ERR_CONNECT,
	[FTPA_ERR_TLS] = FTPAGENT_ERR_TLS,
	[FTPA_ERR_AUTH] = FTPAGENT_ERR_AUTH,
	[FTPA_ERR_TIMEOUT] = FTPAGENT_ERR_TIMEOUT,
	[FTPA_ERR_NOT_FOUND] = FTPAGENT_ERR_NOT_FOUND,
	[FTPA_ERR_EXISTS] = FTPAGENT_ERR_EXISTS,
	[FTPA_ERR_PERMISSION] = FTPAGENT_ERR_PERMISSION,
	[FTPA_ERR_CANCELLED] = FTPAGENT_ERR_CANCELLED,
	[FTPA_ERR_NO_SESSION] = FTPAGENT_ERR_NO_SESSION,
	[FTPA_ERR_NO_JOB] = FTPAGENT_ERR_NO_JOB,
	[FTPA_ERR_LIMIT] = FTPAGENT_ERR_LIMIT,
	[FTPA_ERR_LOCAL_IO] = FTPAGENT_ERR_LOCAL_IO,
	[FTPA_ERR_PROTOCOL] = FTPAGENT_ERR_PROTOCOL,
};

/* ---- errors ------------------------------------------------------------ */

void
fa_reset_error(struct ftpagent *a)
{
	free(a->errmsg);
	free(a->errkind);
	free(a->errdata);
	a->errmsg = a->errkind = a->errdata = NULL;
	a->err = FTPAGENT_OK;
	a->ftp_code = 0;
}

void
fa_set_error(struct ftpagent *a, enum ftpagent_error e, const char *fmt, ...)
{
	va_list ap;
	int n;

	fa_reset_error(a);
	a->err = e;
	va_start(ap, fmt);
	n = vasprintf(&a->errmsg, fmt, ap);
	va_end(ap);
	if (n < 0)
		a->errmsg = NULL;
	/* A dead connection stays dead: make that visible and final. */
	if (e == FTPAGENT_ERR_AGENT)
		conn_close(&a->conn);
}

/* GNU strerror_r (AC_USE_SYSTEM_EXTENSIONS): thread-safe. */
const char *
fa_errstr(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

void
fa_set_local_error(struct ftpagent *a, const char *what, const char *file, int e)
{
	char eb[128];

	fa_set_error(a, FTPAGENT_ERR_LOCAL_IO, "%s %s: %s", what, file,
	    fa_errstr(e, eb, sizeof(eb)));
}

void
fa_set_conn_error(struct ftpagent *a, enum conn_status st, const char *method)
{
	char eb[128];

	if (st == CONN_TIMEOUT && conn_is_open(&a->conn)) {
		fa_set_error(a, FTPAGENT_ERR_TIMEOUT,
		    "%s: no reply from the agent within %d ms", method,
		    a->timeout_ms);
		return;
	}
	if (st == CONN_NOMEM && conn_is_open(&a->conn)) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "%s: out of memory", method);
		return;
	}
	switch (st) {
	case CONN_TIMEOUT:
		fa_set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: timed out writing to the agent", method);
		break;
	case CONN_CLOSED:
		fa_set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent closed the connection", method);
		break;
	case CONN_IO:
		fa_set_error(a, FTPAGENT_ERR_AGENT, "%s: agent connection: %s",
		    method, fa_errstr(a->conn.err, eb, sizeof(eb)));
		break;
	case CONN_BADMSG:
		fa_set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent sent an invalid message", method);
		break;
	case CONN_TOOBIG:
		fa_set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent sent an over-long message", method);
		break;
	default:
		fa_set_error(a, FTPAGENT_ERR_AGENT, "%s: connection lost", method);
		break;
	}
}

static char *
dump_json(const json_t *v)
{
	size_t n;
	char *s;

	/* json_dumpb so that the caller's free() matches our malloc(). */
	n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	if (n == 0 || (s = malloc(n + 1)) == NULL)
		return NULL;
	if (json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* The library's error for the wire's kind k. */
enum ftpagent_error
fa_lib_error(enum ftpa_err k)
{
	return (unsigned)k < FTPA_ERR_LAST ? wire_errors[k] : FTPAGENT_ERR_RPC;
}

static void
set_reply_error(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct wire_error we;
	json_t *data;

	wire_error_read(m->error, &we);
	fa_set_error(a, fa_lib_error(we.kind), "%s", we.message);
	if (we.kind_name != NULL)
		a->errkind = strdup(we.kind_name);
	a->ftp_code = we.ftp_code;
	if ((data = json_object_get(m->error, "data")) != NULL)
		a->errdata = dump_json(data);
}

/* Whether the sticky error is the agent's own reply of kind e (not this
 * library's, such as a timeout waiting for that reply). */
bool
fa_agent_said(const struct ftpagent *a, enum ftpagent_error e)
{
	return a->err == e && a->errkind != NULL;
}

/* ---- sticky errors ----------------------------------------------------- */

enum ftpagent_error
ftpagent_error(const struct ftpagent *a)
{
	return a == NULL ? FTPAGENT_ERR_NOMEM : a->err;
}

const char *
ftpagent_error_message(const struct ftpagent *a)
{
	if (a == NULL)
		return "out of memory";
	if (a->err == FTPAGENT_OK)
		return "";
	if (a->errmsg != NULL)
		return a->errmsg;
	return a->err == FTPAGENT_ERR_NOMEM ? "out of memory" :
	    err_names[a->err];
}

int
ftpagent_ftp_code(const struct ftpagent *a)
{
	return a == NULL ? 0 : a->ftp_code;
}

const char *
ftpagent_error_kind(const struct ftpagent *a)
{
	if (a == NULL)
		return err_names[FTPAGENT_ERR_NOMEM];
	if (a->errkind != NULL)
		return a->errkind;
	return err_names[a->err];
}

const char *
ftpagent_error_data(const struct ftpagent *a)
{
	return a == NULL ? NULL : a->errdata;
}

bool
ftpagent_clear_error(struct ftpagent *a)
{
	if (a == NULL || a->err == FTPAGENT_ERR_AGENT)
		return false;
	fa_reset_error(a);
	return true;
}

/* ---- calls --------------------------------------------------------------- */

static void
send_cancel(struct ftpagent *a, struct xfer *x, int timeout_ms)
{
	json_int_t id;
	json_t *p;

	p = json_pack("{s:s}", "job", x->job);
	if (p == NULL) {
		x->cancel_st = CONN_NOMEM;
		return;
	}
	x->cancel_st = conn_request(&a->conn, "job.cancel", p, NULL, 0,
	    conn_now_ms() + timeout_ms, &id);
}

static int
xfer_notify(void *arg, const struct jsonrpc_msg *m)
{
	struct xfer *x = arg;
	const char *job, *s;
	json_t *p = m->params, *v;
	int64_t bytes, total;

	if (strcmp(m->method, WIRE_JOB_PROGRESS) != 0 || !json_is_object(p))
		return CONN_NOTIFY_IGNORE;
	if ((job = json_string_value(json_object_get(p, "job"))) == NULL)
		return CONN_NOTIFY_IGNORE;
	if (x->job != NULL) {
		if (strcmp(job, x->job) != 0)
			return CONN_NOTIFY_IGNORE;
	} else {
		/* Only our transfer waits on this connection, but a
		 * subscription brings other jobs too. */
		s = json_string_value(json_object_get(p, "session"));
		if (s != NULL && strcmp(s, x->session) != 0)
			return CONN_NOTIFY_IGNORE;
		s = json_string_value(json_object_get(p, "direction"));
		if (s != NULL && strcmp(s, x->direction) != 0)
			return CONN_NOTIFY_IGNORE;
		v = json_object_get(p, "path");
		if (json_is_string(v) && x->path != NULL &&
		    !json_equal(v, x->path))
			return CONN_NOTIFY_IGNORE;
		if ((x->job = strdup(job)) == NULL)
			return CONN_NOTIFY_ACTIVE;
	}
	if (x->cancelled || x->opts == NULL || x->opts->progress == NULL)
		return CONN_NOTIFY_ACTIVE;

	v = json_object_get(p, "bytes");
	bytes = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	v = json_object_get(p, "total");
	total = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
	if (x->opts->progress(x->opts->progress_arg, bytes, total))
		return CONN_NOTIFY_ACTIVE;

	x->cancelled = true;
	send_cancel(x->a, x, x->a->timeout_ms);
	return x->cancel_st == CONN_OK ? CONN_NOTIFY_ACTIVE : CONN_NOTIFY_ABORT;
}

/* Fails at once when an error is pending or the connection is gone. */
bool
fa_usable(struct ftpagent *a)
{
	if (a->err != FTPAGENT_OK)
		return false;
	if (!conn_is_open(&a->conn)) {
		fa_set_error(a, FTPAGENT_ERR_AGENT, "not connected to the agent");
		return false;
	}
	return true;
}

/* The key under which a kept notification is replaced by a newer one. */
static const char *
note_key(const struct jsonrpc_msg *m)
{
	if (strcmp(m->method, WIRE_JOB_PROGRESS) != 0)
		return NULL;
	return json_string_value(json_object_get(m->params, "job"));
}

/* Every notification that arrives while a call waits comes here. */
struct waiting {
	struct ftpagent	*a;
	struct xfer	*x;		/* NULL: not a transfer */
};

static int
call_notify(void *arg, const struct jsonrpc_msg *m)
{
	struct waiting *w = arg;
	int r = CONN_NOTIFY_IGNORE;

	if (w->x != NULL)
		r = xfer_notify(w->x, m);
	/* Out of memory loses the event, not the call. */
	if (w->a->subscribed && r != CONN_NOTIFY_ABORT)
		(void)conn_note_keep(&w->a->conn, m, note_key(m));
	return r;
}

/*
 * Calls method with params (stolen) and fds, waiting wait_ms (restarted
 * by a transfer's progress) for the reply. On success *result (when not
 * NULL) receives a new reference to the result. x is set for transfers.
 */
bool
fa_rpc_wait(struct ftpagent *a, const char *method, json_t *params,
    const int *fds, size_t nfds, struct xfer *x, int wait_ms, json_t **result)
{
	struct jsonrpc_msg m;
	struct waiting w;
	enum conn_status st;
	json_int_t id;

	if (result != NULL)
		*result = NULL;
	if (!fa_usable(a)) {
		json_decref(params);
		return false;
	}
	if (params == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "%s: out of memory", method);
		return false;
	}
	st = conn_request(&a->conn, method, params, fds, nfds,
	    conn_now_ms() + a->timeout_ms, &id);
	if (st != CONN_OK) {
		fa_set_conn_error(a, st, method);
		return false;
	}
	w.a = a;
	w.x = x;
	st = conn_wait(&a->conn, id, wait_ms, call_notify, &w, &m);
	if (st == CONN_ABORTED) {
		fa_set_conn_error(a, x->cancel_st, "job.cancel");
		return false;
	}
	if (st != CONN_OK) {
		/* Do not let a stuck job write into the caller's fd forever. */
		if (st == CONN_TIMEOUT && x != NULL && x->job != NULL &&
		    !x->cancelled && conn_is_open(&a->conn))
			send_cancel(a, x, CANCEL_TIMEOUT_MS);
		fa_set_conn_error(a, st, method);
		return false;
	}
	if (m.type == JSONRPC_ERROR) {
		set_reply_error(a, &m);
		jsonrpc_msg_clear(&m);
		return false;
	}
	if (result != NULL)
		*result = json_incref(m.result);
	jsonrpc_msg_clear(&m);
	return true;
}

bool
fa_rpc(struct ftpagent *a, const char *method, json_t *params, const int *fds,
    size_t nfds, struct xfer *x, json_t **result)
{
	return fa_rpc_wait(a, method, params, fds, nfds, x, a->timeout_ms,
	    result);
}

void
fa_set_bad_reply(struct ftpagent *a, const char *method)
{
	fa_set_error(a, FTPAGENT_ERR_RPC, "%s: unexpected reply from the agent",
	    method);
}

bool
fa_check_args(struct ftpagent *a, const char *session, const char *path)
{
	if (a == NULL)
		return false;
	if (a->err != FTPAGENT_OK)
		return false;
	if (session == NULL || path == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "%s is NULL",
		    session == NULL ? "session" : "path");
		return false;
	}
	return true;
}

/* Calls a method whose result is {} and whose params are built by the
 * caller. */
bool
fa_rpc_void(struct ftpagent *a, const char *method, json_t *params)
{
	json_t *res;

	if (!fa_rpc(a, method, params, NULL, 0, NULL, &res))
		return false;
	json_decref(res);
	return true;
}

/* ---- escape hatch ------------------------------------------------------ */

bool
ftpagent_call_fds(struct ftpagent *a, const char *method,
    const char *params_json, const int *fds, size_t nfds, char **result_json)
{
	json_error_t jerr;
	json_t *p = NULL, *res;
	size_t i;

	if (result_json != NULL)
		*result_json = NULL;
	if (a == NULL || a->err != FTPAGENT_OK)
		return false;
	if (method == NULL || *method == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no method");
		return false;
	}
	if (nfds > CONN_MAX_FDS || (nfds > 0 && fds == NULL)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "at most %d fds per call", CONN_MAX_FDS);
		return false;
	}
	for (i = 0; i < nfds; i++) {
		if (fds[i] < 0) {
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid fd %d",
			    fds[i]);
			return false;
		}
	}
	if (params_json != NULL) {
		p = json_loads(params_json, 0, &jerr);
		if (p == NULL || !(json_is_object(p) || json_is_array(p))) {
			json_decref(p);
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
			    "params are not a JSON object or array: %s",
			    p == NULL ? jerr.text : "wrong type");
			return false;
		}
	} else if ((p = json_object()) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	if (!fa_rpc(a, method, p, fds, nfds, NULL, &res))
		return false;
	if (result_json != NULL && (*result_json = dump_json(res)) == NULL) {
		json_decref(res);
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	json_decref(res);
	return true;
}

bool
ftpagent_call(struct ftpagent *a, const char *method, const char *params_json,
    char **result_json)
{
	return ftpagent_call_fds(a, method, params_json, NULL, 0, result_json);
}

const char *
ftpagent_version(void)
{
	return PACKAGE_VERSION;
}
