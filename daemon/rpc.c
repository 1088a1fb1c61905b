#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "budget.h"
#include "bytename.h"
#include "castore.h"
#include "conf.h"
#include "control.h"
#include "fsops.h"
#include "ftp.h"
#include "ftp_cmd.h"
#include "job.h"
#include "jsonrpc.h"
#include "log.h"
#include "rpc.h"
#include "session.h"
#include "url.h"
#include "util.h"

#define INLINE_MAX		(16 * 1024 * 1024)
/* limits and the defaults of session.open: conf.h (ftpd-agent.conf) */

unsigned long long rpc_bytes_in, rpc_bytes_out;
double rpc_started;
static unsigned long long session_serial;

typedef void (*method_fn)(struct rpc_call *, json_t *params);

struct method {
	const char	*name;
	method_fn	 fn;
};

static const struct method methods[];

/* ---- answering ----------------------------------------------------------- */

/* No longer pending: off its client's list, no longer counted. */
static void
call_settle(struct rpc_call *call)
{
	struct rpc_call	**pp;

	if (call->pending && call->client) {
		for (pp = &call->client->calls; *pp; pp = &(*pp)->next)
			if (*pp == call) {
				*pp = call->next;
				break;
			}
	}
	call->pending = false;
	if (call->budget != NULL) {
		control_call_ended(call->client, call->budget, call->heavy);
		budget_put(call->budget);
		call->budget = NULL;
	}
}

static void
call_free(struct rpc_call *call)
{
	call_settle(call);
	if (call->client)
		client_unref(call->client);
	if (call->id)
		json_decref(call->id);
	free(call);
}

void
rpc_defer(struct rpc_call *call)
{
	if (call->pending)
		return;
	call->pending = true;
	if (call->client) {
		call->next = call->client->calls;
		call->client->calls = call;
		call->budget = call->client->b;
		call->budget->refs++;
		control_call_started(call->client, call->heavy);
	}
}

static void
call_send(struct rpc_call *call, json_t *msg)
{
	if (call->client && call->id)
		client_send(call->client, msg);
	else
		json_decref(msg);
	call_free(call);
}

void
rpc_reply(struct rpc_call *call, json_t *result)
{
	if (result == NULL)
		result = json_object();
	call_send(call, jsonrpc_response(call->id ? call->id : json_null(), result));
}

static void
rpc_verror(struct rpc_call *call, int code, const char *kind, json_t *extra,
    const char *fmt, va_list ap)
{
	char	 msg[512];
	json_t	*data = extra ? extra : json_object();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_object_set_new(data, "kind", json_string(kind));
	call_send(call, jsonrpc_error(call->id, code, msg, data));
}

void
rpc_error(struct rpc_call *call, int code, const char *kind, json_t *extra,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	rpc_verror(call, code, kind, extra, fmt, ap);
	va_end(ap);
}

void
rpc_fail(struct rpc_call *call, enum ftpa_err kind, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	rpc_verror(call, ftpa_err_code(kind), ftpa_err_name(kind), NULL, fmt, ap);
	va_end(ap);
}

void
rpc_fail_op(struct rpc_call *call, const struct op_error *e, json_t *extra)
{
	json_t	*data = extra ? extra : json_object();

	if (e->ftp_code) {
		json_object_set_new(data, "ftp_code", json_integer(e->ftp_code));
		json_object_set_new(data, "ftp_text",
		    json_text(e->ftp_text ? e->ftp_text : ""));
	}
	rpc_error(call, ftpa_err_code(e->kind), ftpa_err_name(e->kind), data,
	    "%s", e->msg);
}

static void
params_error(struct rpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
params_error(struct rpc_call *call, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	rpc_verror(call, JSONRPC_INVALID_PARAMS, "params", NULL, fmt, ap);
	va_end(ap);
}

/* ---- parameters ------------------------------------------------------------ */

/*
 * Each getter returns 0 (value or default stored), or -1 after answering
 * the call with an invalid-params error (the call is then gone).
 */
static int
p_str(struct rpc_call *call, json_t *params, const char *key, bool required,
    const char **out)
{
	json_t	*v = params ? json_object_get(params, key) : NULL;

	if (v == NULL || json_is_null(v)) {
		if (required) {
			params_error(call, "missing parameter \"%s\"", key);
			return -1;
		}
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v)) {
		params_error(call, "parameter \"%s\" must be a string", key);
		return -1;
	}
	/* CR, LF and NUL never reach a server: they would end the command */
	if (ftp_unsafe_string(json_string_value(v), json_string_length(v))) {
		params_error(call, "parameter \"%s\" contains CR, LF or NUL", key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* A remote path or name: p_str, then the byte escapes of names that are not
 * UTF-8 (protocol/bytename.h) decoded back to the server's bytes. */
static int
p_path(struct rpc_call *call, json_t *params, const char *key, bool required,
    const char **out)
{
	json_t	*v;
	char	*raw;
	size_t	 n;

	if (p_str(call, params, key, required, out) == -1)
		return -1;
	if (*out == NULL || !ftpa_bytes_escaped(*out))
		return 0;
	v = json_object_get(params, key);
	raw = xstrdup(*out);
	n = ftpa_bytes_unescape(raw, strlen(raw));
	/* the string keeps its bytes; nothing serialises params again */
	if (json_string_setn_nocheck(v, raw, n) == -1)
		fatalx("out of memory");
	free(raw);
	*out = json_string_value(v);
	return 0;
}

static int
p_bool(struct rpc_call *call, json_t *params, const char *key, bool def, bool *out)
{
	json_t	*v = params ? json_object_get(params, key) : NULL;

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v)) {
		params_error(call, "parameter \"%s\" must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

static int
p_int(struct rpc_call *call, json_t *params, const char *key, json_int_t def,
    json_int_t min, json_int_t max, json_int_t *out)
{
	json_t	*v = params ? json_object_get(params, key) : NULL;

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		params_error(call, "parameter \"%s\" must be an integer from %lld to %lld",
		    key, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int
p_num(struct rpc_call *call, json_t *params, const char *key, double def,
    double *out)
{
	json_t	*v = params ? json_object_get(params, key) : NULL;

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v) || json_number_value(v) < 0) {
		params_error(call, "parameter \"%s\" must be a non-negative number", key);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

/* Takes the fd named by params.key; -2 when absent, -1 after an error reply. */
static int
p_fd(struct rpc_call *call, json_t *params, const char *key)
{
	json_t		*v = json_object_get(params, key);
	json_int_t	 i;
	int		 fd;

	if (v == NULL || json_is_null(v))
		return -2;
	if (!json_is_integer(v)) {
		params_error(call, "parameter \"%s\" must be the index of a passed fd", key);
		return -1;
	}
	i = json_integer_value(v);
	if ((i < 0 || (size_t)i >= call->nfds || call->fds[i] == -1) &&
	    call->fds_dropped) {
		rpc_fail(call, FTPA_ERR_LIMIT, "the descriptors passed with this "
		    "message were refused: too many are held for requests not "
		    "yet complete (at most %d a connection, %d a user)",
		    CLIENT_MAX_PENDING_FDS, UID_MAX_PENDING_FDS);
		return -1;
	}
	if (i < 0 || (size_t)i >= call->nfds || call->fds[i] == -1) {
		params_error(call, "parameter \"%s\": no file descriptor %lld was passed "
		    "with this message", key, (long long)i);
		return -1;
	}
	fd = call->fds[i];
	call->fds[i] = -1;
	return fd;
}

static bool
valid_name(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > SESSION_ID_MAX)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		    ('0' <= *s && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/*
 * The caller's session, or NULL after an error reply. Another uid's
 * session answers exactly as one that does not exist: ids say nothing
 * about other users (root sees every session).
 */
static struct session *
p_session(struct rpc_call *call, json_t *params)
{
	const char	*id;
	struct session	*s, *other = NULL;

	if (p_str(call, params, "session", true, &id) == -1)
		return NULL;
	for (s = sessions; s; s = s->next) {
		if (s->closing || strcmp(s->id, id) != 0)
			continue;
		if (s->uid == call->uid)
			return s;
		other = s;
	}
	if (other != NULL && call->uid == 0)
		return other;
	rpc_fail(call, FTPA_ERR_NO_SESSION, "no session %s", id);
	return NULL;
}

/* A job of the caller's (any job for root), or NULL: as with sessions,
 * another uid's job is one that does not exist. */
static struct job *
job_of(const struct rpc_call *call, const char *id)
{
	struct job	*j = job_lookup(id);

	if (j == NULL || (j->uid != call->uid && call->uid != 0))
		return NULL;
	return j;
}

static struct job *
p_job(struct rpc_call *call, json_t *params)
{
	const char	*id;
	struct job	*j;

	if (p_str(call, params, "job", true, &id) == -1)
		return NULL;
	if ((j = job_of(call, id)) == NULL)
		rpc_fail(call, FTPA_ERR_NO_JOB, "no job %s", id);
	return j;
}

/* ---- agent ------------------------------------------------------------------ */

static void
m_rpc_info(struct rpc_call *call, json_t *params)
{
	json_t	*names = json_array();

	for (const struct method *m = methods; m->name; m++)
		json_array_append_new(names, json_string(m->name));
	rpc_reply(call, json_pack("{s:s,s:s,s:i,s:o}", "name", "ftpd-agent",
	    "version", PACKAGE_VERSION, "protocol", 1, "methods", names));
}

static void
m_ping(struct rpc_call *call, json_t *params)
{
	rpc_reply(call, json_object());
}

static void
m_stats(struct rpc_call *call, json_t *params)
{
	bool	all = call->uid == 0;

	rpc_reply(call, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
	    "connections", (json_int_t)control_count(),
	    "sessions", (json_int_t)session_count(call->uid, all),
	    "jobs", (json_int_t)job_count(call->uid, all, false),
	    "jobs_active", (json_int_t)job_count(call->uid, all, true),
	    "bytes_in", (json_int_t)rpc_bytes_in,
	    "bytes_out", (json_int_t)rpc_bytes_out,
	    "uptime_s", now_mono() - rpc_started));
}

/* ---- sessions ---------------------------------------------------------------- */

/* "UTC", "Z", "+HH:MM", "-HHMM" -> seconds east of UTC; LONG_MIN if bad. */
static long
parse_tz(const char *s)
{
	int	h, m = 0, sign;
	char	rest;

	if (strcasecmp(s, "UTC") == 0 || strcmp(s, "Z") == 0)
		return 0;
	if (s[0] != '+' && s[0] != '-')
		return LONG_MIN;
	sign = s[0] == '-' ? -1 : 1;
	if (sscanf(s + 1, "%2d:%2d%c", &h, &m, &rest) != 2 &&
	    sscanf(s + 1, "%2d%2d%c", &h, &m, &rest) != 2 &&
	    !(strlen(s) == 3 && sscanf(s + 1, "%2d%c", &h, &rest) == 1))
		return LONG_MIN;
	if (h > 14 || m > 59)
		return LONG_MIN;
	return sign * (h * 3600L + m * 60L);
}

static json_t *
open_result(struct session *s, bool reused)
{
	json_t	*o;

	o = json_pack("{s:s,s:o,s:o,s:o,s:b,s:O}", "session", s->id,
	    "welcome", json_text(s->welcome ? s->welcome : ""),
	    "features", s->features ? json_incref(s->features) : json_array(),
	    "system", json_text(s->system), "reused", reused,
	    "tls", s->tls ? s->tls : json_null());
	if (s->p.tls != FTP_TLS_NONE && !s->p.verify)
		json_object_set_new(o, "warning", json_string(
		    "the server's certificate was not verified: the connection "
		    "is encrypted but its peer is not authenticated"));
	return o;
}

static void
open_done(struct session *s, struct ftp_op *login, void *arg)
{
	struct rpc_call	*call = arg;

	if (login->failed) {
		if (call)
			rpc_fail_op(call, &login->err, NULL);
		session_destroy(s);
		return;
	}
	if (call)
		rpc_reply(call, open_result(s, false));
}

static void
open_gone(struct rpc_call *call, void *arg)
{
	struct session	*s = arg;

	/* the session stays: it belongs to the uid, not to this connection */
	s->open_arg = NULL;
}

/* session.open between its parameters and session_new: the CA file, when
 * it has one, is read off the loop first (castore.h). */
struct open_req {
	struct ftp_params	 p;
	struct session_opts	 so;
	char			*name;
	bool			 reuse;
	struct ca_load		*load;
};

static void
open_req_free(struct open_req *r)
{
	free(r->p.host);
	free(r->p.user);
	free(r->p.ca_id);
	X509_STORE_free(r->p.ca_store);
	free_secret(r->p.password);
	free(r->name);
	free(r);
}

static void
open_continue(struct rpc_call *call, struct open_req *r)
{
	struct session	*s;
	char		 id[SESSION_ID_MAX + 1];

	if (r->reuse && (s = session_find_equal(call->uid, &r->p)) != NULL &&
	    (r->name == NULL || strcmp(r->name, s->id) == 0)) {
		rpc_reply(call, open_result(s, true));
		goto done;
	}
	if (r->name != NULL) {
		for (s = sessions; s; s = s->next)
			if (!s->closing && s->uid == call->uid &&
			    strcmp(s->id, r->name) == 0)
				break;
		if (s != NULL) {
			rpc_fail(call, FTPA_ERR_EXISTS, "a session named %s is "
			    "already open", r->name);
			goto done;
		}
		snprintf(id, sizeof(id), "%s", r->name);
	} else {
		do
			snprintf(id, sizeof(id), "s%llu", ++session_serial);
		while (session_lookup(id) != NULL);
	}
	if (call->uid != 0 && session_count(call->uid, false) >=
	    conf.max_sessions_per_uid) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many sessions (at most %d per "
		    "user)", conf.max_sessions_per_uid);
		goto done;
	}
	if (session_count(call->uid, true) >= conf.max_sessions) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many sessions (at most %d in "
		    "all)", conf.max_sessions);
		goto done;
	}
	rpc_defer(call);
	s = session_new(call->uid, id, &r->p, &r->so, open_done, call);
	memset(&r->p, 0, sizeof(r->p));		/* the session's now */
	call->on_gone = open_gone;
	call->gone_arg = s;
done:
	open_req_free(r);
}

static void
open_ca_loaded(X509_STORE *store, const char *id, const char *err, void *arg)
{
	struct rpc_call	*call = arg;
	struct open_req	*r = call->gone_arg;

	r->load = NULL;
	call->on_gone = NULL;
	call->gone_arg = NULL;
	if (err != NULL) {
		rpc_fail(call, FTPA_ERR_LOCAL_IO, "cannot use the CA file: %s", err);
		open_req_free(r);
		return;
	}
	X509_STORE_up_ref(store);
	r->p.ca_store = store;
	r->p.ca_id = xstrdup(id);
	/* pending again, as a login, or answered now */
	call_settle(call);
	open_continue(call, r);
}

static void
open_ca_gone(struct rpc_call *call, void *arg)
{
	struct open_req	*r = arg;

	castore_cancel(r->load);
	open_req_free(r);
}

/*
 * The session's own CA file: a passed descriptor ("ca_fd"), or a path,
 * read only for the agent's own uid and root: a shared agent must not
 * read what the caller could not read itself. 0: loading (the call is
 * pending) or nothing to load; -1: answered.
 */
static int
open_ca(struct rpc_call *call, json_t *params, struct open_req *r,
    const char *path)
{
	int	fd;

	if ((fd = p_fd(call, params, "ca_fd")) == -1)
		return -1;
	if (fd >= 0 && path != NULL) {
		close(fd);
		params_error(call, "give \"ca_file\" or \"ca_fd\", not both");
		return -1;
	}
	if (fd < 0 && path == NULL)
		return 0;
	if (r->p.tls == FTP_TLS_NONE || !r->p.verify) {
		/* nothing will be verified with it */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (path != NULL && call->uid != 0 && call->uid != geteuid()) {
		rpc_fail(call, FTPA_ERR_PERMISSION, "a CA file path is read only for "
		    "the agent's own user; pass the file as a descriptor "
		    "(\"ca_fd\")");
		return -1;
	}
	if ((r->load = castore_load(call->uid, path, fd, open_ca_loaded,
	    call)) == NULL) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many CA files being read (at "
		    "most %d per user)", CASTORE_LOADS_PER_UID);
		return -1;
	}
	rpc_defer(call);
	call->on_gone = open_ca_gone;
	call->gone_arg = r;
	return 0;
}

/* session.open's connection parameters into r->p: 0, or -1 answered. */
static int
open_target(struct rpc_call *call, json_t *params, struct open_req *r)
{
	const char	*url, *host, *user, *password, *tls, *err;
	struct ftp_url	 u;
	json_int_t	 port;
	int		 mode;

	memset(&u, 0, sizeof(u));
	if (p_str(call, params, "url", false, &url) == -1 ||
	    p_str(call, params, "host", false, &host) == -1 ||
	    p_str(call, params, "user", false, &user) == -1 ||
	    p_str(call, params, "password", false, &password) == -1 ||
	    p_str(call, params, "tls", false, &tls) == -1 ||
	    p_int(call, params, "port", 0, 1, 65535, &port) == -1)
		return -1;
	if ((url == NULL) == (host == NULL)) {
		params_error(call, "give either \"url\" or \"host\"");
		return -1;
	}
	if (url != NULL) {
		if (ftp_url_parse(url, &u, &err) == -1) {
			params_error(call, "bad URL: %s", err);
			return -1;
		}
		r->p.host = u.host;
		r->p.port = port ? port : u.port;
		r->p.user = u.user;
		r->p.password = u.password;
		r->p.tls = u.tls;
		free(u.path);
	} else {
		r->p.host = xstrdup(host);
		r->p.port = port ? port : 21;
		r->p.user = user ? xstrdup(user) : NULL;
	}
	if (password != NULL) {
		free_secret(r->p.password);
		r->p.password = xstrdup(password);
	}
	if (tls != NULL) {
		if ((mode = ftp_tls_mode_from_name(tls)) == -1) {
			params_error(call, "parameter \"tls\" must be none, explicit "
			    "or implicit");
			return -1;
		}
		r->p.tls = mode;
		if (url == NULL && !port && mode == FTP_TLS_IMPLICIT)
			r->p.port = 990;
	}
	if (r->p.user == NULL || r->p.user[0] == '\0') {
		free(r->p.user);
		r->p.user = xstrdup("anonymous");
		if (r->p.password == NULL)
			r->p.password = xstrdup("ftpd-agent@");
	}
	return 0;
}

static void
m_session_open(struct rpc_call *call, json_t *params)
{
	const char		*name, *ca_file, *list_tz;
	long			 tz = 0;
	struct open_req		*r = xcalloc(1, sizeof(*r));
	bool			 passive, verify;
	json_int_t		 maxc, retries;

	if (p_str(call, params, "name", false, &name) == -1 ||
	    p_str(call, params, "ca_file", false, &ca_file) == -1 ||
	    p_str(call, params, "list_tz", false, &list_tz) == -1 ||
	    p_bool(call, params, "passive", true, &passive) == -1 ||
	    p_bool(call, params, "verify", true, &verify) == -1 ||
	    p_bool(call, params, "reuse", false, &r->reuse) == -1 ||
	    p_num(call, params, "connect_timeout", conf.connect_timeout,
	    &r->p.connect_timeout) == -1 ||
	    p_num(call, params, "reply_timeout", conf.reply_timeout,
	    &r->p.reply_timeout) == -1 ||
	    p_num(call, params, "data_timeout", conf.data_timeout,
	    &r->p.data_timeout) == -1 ||
	    p_int(call, params, "max_connections", conf.max_connections, 1,
	    SESSION_CONNS_MAX, &maxc) == -1 ||
	    p_int(call, params, "retries", conf.retries, 0, 100, &retries) == -1 ||
	    p_num(call, params, "keepalive", conf.keepalive,
	    &r->so.keepalive) == -1 ||
	    p_num(call, params, "idle_timeout", conf.idle_timeout,
	    &r->so.idle_timeout) == -1 ||
	    p_num(call, params, "retry_delay", conf.retry_delay,
	    &r->so.retry_delay) == -1)
		goto fail;
	r->so.max_conns = (int)maxc;
	r->so.retries = (int)retries;
	if (list_tz != NULL && (tz = parse_tz(list_tz)) == LONG_MIN) {
		params_error(call, "parameter \"list_tz\" must be UTC, +HH:MM or "
		    "-HH:MM");
		goto fail;
	}
	if (r->p.connect_timeout <= 0 || r->p.reply_timeout <= 0 ||
	    r->p.data_timeout <= 0) {
		params_error(call, "timeouts must be greater than zero");
		goto fail;
	}
	if (name != NULL && !valid_name(name)) {
		params_error(call, "parameter \"name\" must be 1-64 characters of "
		    "A-Z a-z 0-9 . _ -");
		goto fail;
	}
	r->name = name ? xstrdup(name) : NULL;
	if (open_target(call, params, r) == -1)
		goto fail;
	r->p.passive = passive;
	r->p.verify = verify;
	r->p.list_tz = tz;
	if (open_ca(call, params, r, ca_file) == -1)
		goto fail;
	if (r->load == NULL)
		open_continue(call, r);
	return;
fail:
	open_req_free(r);
}

static void
m_session_close(struct rpc_call *call, json_t *params)
{
	struct session	*s;

	if ((s = p_session(call, params)) == NULL)
		return;
	session_close(s);
	rpc_reply(call, json_object());
}

static void
m_session_list(struct rpc_call *call, json_t *params)
{
	json_t	*arr = json_array();

	for (struct session *s = sessions; s; s = s->next)
		if (!s->closing && (s->uid == call->uid || call->uid == 0))
			json_array_append_new(arr, session_json(s));
	rpc_reply(call, arr);
}

/* ---- file system ------------------------------------------------------------ */

static void
fs_done(struct ftp_op *op, void *arg)
{
	struct rpc_call	*call = arg;

	if (call != NULL) {
		if (op->failed)
			rpc_fail_op(call, &op->err, NULL);
		else {
			rpc_reply(call, op->result);
			op->result = NULL;
		}
	}
	ftp_op_free(op);
}

static void
fs_gone(struct rpc_call *call, void *arg)
{
	struct ftp_op	*op = arg;

	/*
	 * Its result goes nowhere. Not yet started, or a listing (a big reply
	 * being built): cancelled, so that connecting, asking and hanging up
	 * in a loop piles up no work. A short command under way finishes.
	 */
	op->arg = NULL;
	if (op->conn == NULL || op->kind == OP_LIST)
		session_cancel_op(op->session, op);
}

/* Queues an op whose result answers the call. key names its argument. */
static void
fs_op(struct rpc_call *call, json_t *params, enum op_kind kind,
    const char *key, bool required)
{
	struct session	*s;
	const char	*arg, *why;
	struct ftp_op	*op;

	if ((s = p_session(call, params)) == NULL)
		return;
	if (p_path(call, params, key, required, &arg) == -1)
		return;
	if (required && arg[0] == '\0') {
		params_error(call, "parameter \"%s\" must not be empty", key);
		return;
	}
	if (kind == OP_QUOTE && (why = ftp_quote_refusal(arg)) != NULL) {
		params_error(call, "%s", why);
		return;
	}
	op = ftp_op_new(kind, arg);
	op->done = fs_done;
	op->arg = call;
	rpc_defer(call);
	call->on_gone = fs_gone;
	call->gone_arg = op;
	session_submit(s, op);
}

static void
m_fs_list(struct rpc_call *call, json_t *params)
{
	call->heavy = true;
	fs_op(call, params, OP_LIST, "path", false);
}

static void
m_fs_stat(struct rpc_call *call, json_t *params)
{
	fs_op(call, params, OP_STAT, "path", true);
}

/* The session and a non-empty path, or NULL after an error reply. */
static struct session *
p_session_path(struct rpc_call *call, json_t *params, const char *key,
    const char **path)
{
	struct session	*s;

	if ((s = p_session(call, params)) == NULL)
		return NULL;
	if (p_path(call, params, key, true, path) == -1)
		return NULL;
	if ((*path)[0] == '\0') {
		params_error(call, "parameter \"%s\" must not be empty", key);
		return NULL;
	}
	return s;
}

static void
m_mkdir(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*path;
	bool		 parents;

	if ((s = p_session_path(call, params, "path", &path)) == NULL ||
	    p_bool(call, params, "parents", false, &parents) == -1)
		return;
	fsops_mkdir(call, s, path, parents);
}

static void
m_rmdir(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*path;

	if ((s = p_session_path(call, params, "path", &path)) == NULL)
		return;
	fsops_rmdir(call, s, path);
}

static void
m_remove(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*path;
	bool		 recursive;

	if ((s = p_session_path(call, params, "path", &path)) == NULL ||
	    p_bool(call, params, "recursive", false, &recursive) == -1)
		return;
	fsops_remove(call, s, path, recursive);
}

static void
m_rename(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*from, *to;

	if ((s = p_session_path(call, params, "from", &from)) == NULL ||
	    p_path(call, params, "to", true, &to) == -1)
		return;
	if (to[0] == '\0') {
		params_error(call, "parameter \"to\" must not be empty");
		return;
	}
	fsops_rename(call, s, from, to);
}

static void
m_chmod(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*path;
	json_t		*m;
	long		 mode = -1;
	char		*end;

	if ((s = p_session_path(call, params, "path", &path)) == NULL)
		return;
	m = json_object_get(params, "mode");
	if (json_is_integer(m))
		mode = (long)json_integer_value(m);
	else if (json_is_string(m) && json_string_value(m)[0] != '\0') {
		mode = strtol(json_string_value(m), &end, 8);
		if (*end != '\0')
			mode = -1;
	}
	if (mode < 0 || mode > 07777) {
		params_error(call, "parameter \"mode\" must be permission bits "
		    "(an integer, or an octal string such as \"0644\")");
		return;
	}
	fsops_chmod(call, s, path, (int)mode);
}

static void
m_set_mtime(struct rpc_call *call, json_t *params)
{
	struct session	*s;
	const char	*path;
	json_int_t	 mtime;

	if ((s = p_session_path(call, params, "path", &path)) == NULL ||
	    p_int(call, params, "mtime", -1, 0, 253402300799LL, &mtime) == -1)
		return;
	if (mtime < 0) {
		params_error(call, "missing parameter \"mtime\"");
		return;
	}
	fsops_set_mtime(call, s, path, mtime);
}

static void
m_quote(struct rpc_call *call, json_t *params)
{
	fs_op(call, params, OP_QUOTE, "command", true);
}

/* ---- transfers ----------------------------------------------------------------- */

static int
b64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
	unsigned char	*buf;
	int		 n, pad = 0;

	if (len % 4 != 0)
		return -1;
	buf = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(buf);
		return -1;
	}
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	*out = (char *)buf;
	*outlen = n - pad;
	return 0;
}

static void
transfer(struct rpc_call *call, json_t *params, bool put)
{
	struct session	*s;
	const char	*path, *type, *data, *err, *fallback;
	json_int_t	 offset;
	bool		 wait, inl, append, progress;
	int		 fd = -2;
	struct ftp_op	*op;
	struct job	*j;

	if ((s = p_session(call, params)) == NULL)
		return;
	if (p_path(call, params, "path", true, &path) == -1 ||
	    p_str(call, params, "type", false, &type) == -1 ||
	    p_int(call, params, "offset", 0, 0, INT64_MAX, &offset) == -1 ||
	    p_bool(call, params, "wait", true, &wait) == -1 ||
	    p_bool(call, params, "inline", false, &inl) == -1 ||
	    p_bool(call, params, "append", false, &append) == -1 ||
	    p_bool(call, params, "progress", false, &progress) == -1)
		return;
	if (path[0] == '\0') {
		params_error(call, "parameter \"path\" must not be empty");
		return;
	}
	if (type != NULL && strcmp(type, "binary") != 0 &&
	    strcmp(type, "ascii") != 0) {
		params_error(call, "parameter \"type\" must be binary or ascii");
		return;
	}
	if (p_str(call, params, "rest_fallback", false, &fallback) == -1)
		return;
	if (fallback != NULL && strcmp(fallback, "fail") != 0 &&
	    strcmp(fallback, "restart") != 0) {
		params_error(call, "parameter \"rest_fallback\" must be fail or restart");
		return;
	}
	if (!put && inl && !wait) {
		params_error(call, "\"inline\": true needs \"wait\": true (the data "
		    "comes back in the reply)");
		return;
	}
	if (put && append && offset) {
		params_error(call, "give \"offset\" or \"append\", not both");
		return;
	}
	data = NULL;
	if (put) {
		json_t	*d = json_object_get(params, "data");

		if (d != NULL && !json_is_string(d)) {
			params_error(call, "parameter \"data\" must be a base64 string");
			return;
		}
		if (d != NULL) {
			data = json_string_value(d);
			if (json_string_length(d) > (INLINE_MAX / 3 + 1) * 4) {
				rpc_fail(call, FTPA_ERR_LIMIT, "inline data larger than %d MiB",
				    INLINE_MAX >> 20);
				return;
			}
		}
	}
	if ((fd = p_fd(call, params, "fd")) == -1)
		return;
	if ((fd >= 0) + (put ? data != NULL : inl) != 1) {
		if (fd >= 0)
			close(fd);
		params_error(call, put ? "give exactly one of \"fd\" and \"data\"" :
		    "give exactly one of \"fd\" and \"inline\": true");
		return;
	}
	if (call->uid != 0 && job_count(call->uid, false, true) >= conf.max_jobs_per_uid) {
		if (fd >= 0)
			close(fd);
		rpc_fail(call, FTPA_ERR_LIMIT, "too many jobs (at most %d per user)",
		    conf.max_jobs_per_uid);
		return;
	}
	if (job_count(call->uid, true, true) >= conf.max_jobs) {
		if (fd >= 0)
			close(fd);
		rpc_fail(call, FTPA_ERR_LIMIT, "too many jobs (at most %d in all)",
		    conf.max_jobs);
		return;
	}
	op = ftp_op_new(put ? OP_PUT : OP_GET, path);
	op->offset = offset;
	op->append = append;
	op->ascii = type != NULL && strcmp(type, "ascii") == 0;
	op->rest_restart = fallback != NULL && strcmp(fallback, "restart") == 0;
	if (fd >= 0) {
		if (localfd_open(&op->lfd, fd, !put, offset, &err) == -1) {
			ftp_op_free(op);
			rpc_fail(call, FTPA_ERR_LOCAL_IO, "%s", err);
			return;
		}
	} else if (put) {
		char	*buf;
		size_t	 len;

		if (b64_decode(data, strlen(data), &buf, &len) == -1) {
			ftp_op_free(op);
			params_error(call, "parameter \"data\" is not valid base64");
			return;
		}
		if (len + job_inline_held(call->uid) > UID_MAX_INLINE) {
			free(buf);
			ftp_op_free(op);
			rpc_fail(call, FTPA_ERR_LIMIT, "too much inline data waiting "
			    "in unfinished jobs (at most %u MiB per user)",
			    UID_MAX_INLINE >> 20);
			return;
		}
		localfd_open_mem_source(&op->lfd, buf, len);
	} else
		localfd_open_mem_sink(&op->lfd, INLINE_MAX);

	call->heavy = inl || data != NULL;
	j = job_new(call->uid, s, op, put);
	if (progress && call->client)
		job_set_progress(j, call->client);
	job_start(j);
	if (wait)
		job_wait(j, call, 0, inl && !put, true);
	else
		rpc_reply(call, json_pack("{s:s}", "job", j->id));
}

static void
m_get(struct rpc_call *call, json_t *params)
{
	transfer(call, params, false);
}

static void
m_put(struct rpc_call *call, json_t *params)
{
	transfer(call, params, true);
}

/* ---- jobs --------------------------------------------------------------------- */

static void
m_job_status(struct rpc_call *call, json_t *params)
{
	struct job	*j;

	if ((j = p_job(call, params)) != NULL)
		rpc_reply(call, job_json(j));
}

static void
m_job_wait(struct rpc_call *call, json_t *params)
{
	struct job	*j;
	double		 timeout;

	if ((j = p_job(call, params)) == NULL)
		return;
	if (p_num(call, params, "timeout", 0, &timeout) == -1)
		return;
	job_wait(j, call, timeout, false, false);
}

static void
m_job_cancel(struct rpc_call *call, json_t *params)
{
	struct job	*j;

	if ((j = p_job(call, params)) == NULL)
		return;
	job_cancel(j);
	rpc_reply(call, json_object());
}

static void
m_job_list(struct rpc_call *call, json_t *params)
{
	json_t	*arr = json_array();

	for (struct job *j = jobs; j; j = j->next)
		if (j->uid == call->uid || call->uid == 0)
			json_array_append_new(arr, job_json(j));
	rpc_reply(call, arr);
}

/* ---- events ------------------------------------------------------------------ */

static void
m_events_subscribe(struct rpc_call *call, json_t *params)
{
	json_t		*v = json_object_get(params, "jobs");
	size_t		 i, n;
	struct job	*j;

	if (call->client == NULL) {
		rpc_reply(call, json_object());
		return;
	}
	if (v == NULL || json_is_null(v) ||
	    (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)) {
		job_subscribe(call->client, NULL);
		rpc_reply(call, json_object());
		return;
	}
	if (!json_is_array(v)) {
		params_error(call, "parameter \"jobs\" must be \"all\" or an "
		    "array of job ids");
		return;
	}
	n = json_array_size(v);
	if (call->client->n_ev_jobs + n > JOB_SUBSCRIBE_MAX) {
		rpc_fail(call, FTPA_ERR_LIMIT, "at most %d subscribed jobs per "
		    "connection (subscribe to \"all\" instead)", JOB_SUBSCRIBE_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		json_t		*e = json_array_get(v, i);
		const char	*id = json_string_value(e);

		if (id == NULL || strlen(id) != json_string_length(e)) {
			params_error(call, "parameter \"jobs\" must hold job ids");
			return;
		}
		if ((j = job_of(call, id)) == NULL) {
			rpc_fail(call, FTPA_ERR_NO_JOB, "no job %s", id);
			return;
		}
	}
	for (i = 0; i < n; i++)
		job_subscribe(call->client,
		    json_string_value(json_array_get(v, i)));
	rpc_reply(call, json_object());
}

static const struct method methods[] = {
	{ "rpc.info",		m_rpc_info },
	{ "agent.ping",		m_ping },
	{ "agent.stats",	m_stats },
	{ "session.open",	m_session_open },
	{ "session.close",	m_session_close },
	{ "session.list",	m_session_list },
	{ "fs.list",		m_fs_list },
	{ "fs.stat",		m_fs_stat },
	{ "fs.mkdir",		m_mkdir },
	{ "fs.rmdir",		m_rmdir },
	{ "fs.remove",		m_remove },
	{ "fs.rename",		m_rename },
	{ "fs.chmod",		m_chmod },
	{ "fs.set_mtime",	m_set_mtime },
	{ "ftp.quote",		m_quote },
	{ "transfer.get",	m_get },
	{ "transfer.put",	m_put },
	{ "job.status",		m_job_status },
	{ "job.wait",		m_job_wait },
	{ "job.cancel",		m_job_cancel },
	{ "job.list",		m_job_list },
	{ "events.subscribe",	m_events_subscribe },
	{ NULL, NULL }
};

/* ---- dispatch ------------------------------------------------------------------ */

void
rpc_init(void)
{
	rpc_started = now_mono();
}

void
rpc_handle(struct client *c, char *line, size_t len, int *fds, size_t nfds,
    bool fds_dropped)
{
	struct jsonrpc_msg	 msg;
	struct rpc_call		*call;
	const char		*errmsg;
	json_t			*bad_id = NULL;
	const struct method	*m;
	int			 code;

	call = xcalloc(1, sizeof(*call));
	call->client = c;
	client_ref(c);
	call->uid = c->uid;
	/* the method takes what it uses; the rest is closed below */
	call->fds = fds;
	call->nfds = nfds;
	call->fds_dropped = fds_dropped;

	if ((code = jsonrpc_parse(line, len, &msg, &errmsg, &bad_id)) != 0) {
		call->id = bad_id ? bad_id : json_null();
		if (code == JSONRPC_PARSE_ERROR) {
			/* the stream cannot be trusted after garbage */
			rpc_error(call, code, "parse", NULL, "%s", errmsg);
			client_close_after_flush(c);
			goto out;
		}
		rpc_error(call, code, "request", NULL, "%s", errmsg);
		goto out;
	}
	if (msg.type != JSONRPC_REQUEST && msg.type != JSONRPC_NOTIFICATION) {
		/* replies from a client mean nothing to us */
		jsonrpc_msg_clear(&msg);
		call_free(call);
		goto out;
	}
	call->id = msg.id ? json_incref(msg.id) : NULL;
	/* with the lengths: "agent.ping\u0000junk" is no agent.ping */
	for (m = methods; m->name; m++)
		if (strlen(m->name) == msg.method_len &&
		    memcmp(m->name, msg.method, msg.method_len) == 0)
			break;
	if (m->name == NULL) {
		rpc_error(call, JSONRPC_METHOD_NOT_FOUND, "method", NULL,
		    "unknown method %s", msg.method);
	} else if (msg.params != NULL && !json_is_object(msg.params) &&
	    !(json_is_array(msg.params) && json_array_size(msg.params) == 0)) {
		params_error(call, "params must be an object");
	} else {
		json_t	*params = msg.params && json_is_object(msg.params) ?
		    msg.params : NULL;
		json_t	*empty = NULL;

		if (params == NULL)
			params = empty = json_object();
		/* the call may be answered and freed inside */
		m->fn(call, params);
		if (empty)
			json_decref(empty);
	}
	jsonrpc_msg_clear(&msg);
out:
	/* fds the method did not take are closed now, not when it ends */
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] != -1)
			close(fds[i]);
}

void
rpc_client_gone(struct client *c)
{
	struct rpc_call	*call;

	/* one at a time: an on_gone may answer a sibling call */
	while ((call = c->calls) != NULL) {
		c->calls = call->next;
		call->next = NULL;
		call->pending = false;
		client_unref(call->client);
		call->client = NULL;
		/* on_gone drops every reference to the call */
		if (call->on_gone)
			call->on_gone(call, call->gone_arg);
		call_free(call);
	}
}
