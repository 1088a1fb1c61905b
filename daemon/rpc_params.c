/*
 * Parameter checks shared by the methods: every one answers the call with
 * an "invalid params" error (or no_session, no_job) and returns -1 or
 * NULL when the parameter is wrong, so that a handler just returns.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "bytename.h"
#include "job.h"
#include "jsonrpc.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "rpc_priv.h"

void
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
int
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
int
p_path(struct rpc_call *call, json_t *params, const char *key, bool required,
    const char **out)
{
	json_t	*v;
	char	*raw;
	size_t	 n;

	if (p_str(call, params, key, required, out) == -1)
		return -1;
	if (required && (*out)[0] == '\0') {
		params_error(call, "parameter \"%s\" must not be empty", key);
		return -1;
	}
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

int
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

int
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

int
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
int
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

bool
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
struct session *
p_session(struct rpc_call *call, json_t *params)
{
	const char	*id;
	struct session	*s;

	if (p_str(call, params, "session", true, &id) == -1)
		return NULL;
	if ((s = session_find(call->uid, id, true)) != NULL)
		return s;
	rpc_fail(call, FTPA_ERR_NO_SESSION, "no session %s", id);
	return NULL;
}

/* A job of the caller's (any job for root), or NULL: as with sessions,
 * another uid's job is one that does not exist. */
struct job *
job_of(const struct rpc_call *call, const char *id)
{
	struct job	*j = job_lookup(id);

	if (j == NULL || (j->uid != call->uid && call->uid != 0))
		return NULL;
	return j;
}

struct job *
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

/* The session and a non-empty path, or NULL after an error reply. */

