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

const char *
fa_conn_text(enum conn_status st, int err, char *buf, size_t len)
{
	char eb[128];

	switch (st) {
	case CONN_TIMEOUT:
		return "timed out connecting to the agent";
	case CONN_CLOSED:
		return "the agent closed the connection";
	case CONN_IO:
		snprintf(buf, len, "agent connection: %s",
		    fa_errstr(err, eb, sizeof(eb)));
		return buf;
	case CONN_BADMSG:
		return "the agent sent an invalid message";
	case CONN_TOOBIG:
		return "the agent sent an over-long message";
	case CONN_NOMEM:
		return "out of memory";
	default:
		return "connection lost";
	}
}

void
fa_set_conn_error(struct ftpagent *a, enum conn_status st, const char *method)
{
	char buf[192];

	if (st == CONN_NOMEM && conn_is_open(&a->conn)) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "%s: out of memory", method);
		return;
	}
	fa_set_error(a, FTPAGENT_ERR_AGENT, "%s: %s", method,
	    fa_conn_text(st, a->conn.err, buf, sizeof(buf)));
}

char *
fa_dump_json(const json_t *v)
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

void
fa_set_reply_sticky(struct ftpagent *a, enum ftpagent_error e, const char *msg,
    const char *kind, int ftp_code, const char *data)
{
	fa_set_error(a, e, "%s", msg != NULL ? msg : fa_error_name(e));
	if (kind != NULL)
		a->errkind = strdup(kind);
	a->ftp_code = ftp_code;
	if (data != NULL)
		a->errdata = strdup(data);
}

const char *
fa_kind_name(enum ftpagent_error e, const char *kind)
{
	if (e == FTPAGENT_ERR_RPC && kind != NULL && *kind != '\0')
		return kind;
	return fa_error_name(e);
}

const char *
fa_error_name(enum ftpagent_error e)
{
	if ((unsigned)e >= sizeof(err_names) / sizeof(err_names[0]))
		return "rpc";
	return err_names[e];
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

/* ---- checks ------------------------------------------------------------ */

/* Fails at once when an error is pending or the connection is gone. */
bool
fa_usable(struct ftpagent *a)
{
	if (a == NULL || a->err != FTPAGENT_OK)
		return false;
	if (a->freeing) {
		fa_set_error(a, FTPAGENT_ERR_AGENT, "the connection is being freed");
		return false;
	}
	if (!conn_is_open(&a->conn)) {
		fa_set_error(a, FTPAGENT_ERR_AGENT, "not connected to the agent");
		return false;
	}
	return true;
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

/* ---- escape hatch ------------------------------------------------------ */

static int
call_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	return (r->pub.json = fa_dump_json(res)) != NULL ? FA_DONE : -2;
}

static const struct fa_op op_call = { .name = "call", .result = call_result };

/* params_json as params, or NULL with the error set. */
static json_t *
call_params(struct ftpagent *a, const char *params_json)
{
	json_error_t jerr;
	json_t *p;

	if (params_json == NULL) {
		if ((p = json_object()) == NULL)
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return p;
	}
	p = json_loads(params_json, 0, &jerr);
	if (p == NULL || !(json_is_object(p) || json_is_array(p))) {
		json_decref(p);
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "params are not a JSON object or array: %s",
		    p == NULL ? jerr.text : "wrong type");
		return NULL;
	}
	return p;
}

uint64_t
ftpagent_send_call(struct ftpagent *a, const char *method,
    const char *params_json, const int *fds, size_t nfds,
    ftpagent_reply_cb cb, void *arg)
{
	json_t *p;
	size_t i;

	if (a == NULL || a->err != FTPAGENT_OK)
		return 0;
	if (method == NULL || *method == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no method");
		return 0;
	}
	if (nfds > CONN_MAX_FDS || (nfds > 0 && fds == NULL)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "at most %d fds per call", CONN_MAX_FDS);
		return 0;
	}
	for (i = 0; i < nfds; i++) {
		if (fds[i] < 0) {
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid fd %d",
			    fds[i]);
			return 0;
		}
	}
	if ((p = call_params(a, params_json)) == NULL)
		return 0;
	return fa_call_start(a, fa_call_new(a, &op_call, cb, arg), method, p,
	    fds, nfds);
}

bool
ftpagent_call_fds(struct ftpagent *a, const char *method,
    const char *params_json, const int *fds, size_t nfds, char **result_json)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (result_json != NULL)
		*result_json = NULL;
	ok = fa_sync_wait(a, ftpagent_send_call(a, method, params_json, fds,
	    nfds, fa_sync_cb, &s), &s);
	if (ok && result_json != NULL) {
		*result_json = s.r.json;
		s.r.json = NULL;
	}
	fa_sync_clear(&s);
	return ok;
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
