/*
 * The wire codec (wire.h): every protocol object built and read here, so
 * the daemon, the library and ftpctl --json cannot drift apart.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "bytename.h"
#include "jsonrpc.h"
#include "wire.h"

/* ---- entries ------------------------------------------------------------ */

static json_t *
int_or_null(int64_t v, bool known)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

json_t *
wire_entry_json(const struct ftp_entry *e)
{
	json_t	*o;

	o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o}",
	    "name", ftpa_bytes_json(e->name),
	    "type", ftp_entry_type_name(e->type),
	    "size", int_or_null(e->size, e->size >= 0),
	    "mtime", int_or_null(e->mtime, e->mtime != INT64_MIN),
	    "perm", int_or_null(e->perm, e->perm >= 0),
	    "target", ftpa_bytes_json(e->target));
	if (o != NULL && e->raw != NULL &&
	    json_object_set_new(o, "raw", ftpa_bytes_json(e->raw)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum ftp_entry_type
wire_entry_type(const char *name)
{
	int	t;

	for (t = 0; name != NULL && t < FTP_ENTRY_TYPE_LAST; t++)
		if (strcmp(name, ftp_entry_type_name(t)) == 0)
			return t;
	return FTP_ENTRY_OTHER;
}

/* A copy of the string member name, unescaped to bytes; false only when
 * out of memory. */
static bool
bytes_member(const json_t *o, const char *name, char **out)
{
	const char	*v = json_string_value(json_object_get(o, name));

	*out = NULL;
	if (v == NULL)
		return true;
	if ((*out = strdup(v)) == NULL)
		return false;
	ftpa_bytes_unescape(*out, strlen(*out));
	return true;
}

int
wire_entry_read(const json_t *o, struct ftp_entry *e)
{
	json_t	*v;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "name")))
		return -1;
	e->type = wire_entry_type(json_string_value(json_object_get(o,
	    "type")));
	v = json_object_get(o, "size");
	e->size = json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (int64_t)json_integer_value(v) : -1;
	v = json_object_get(o, "mtime");
	e->mtime = json_is_integer(v) ? (int64_t)json_integer_value(v) :
	    INT64_MIN;
	v = json_object_get(o, "perm");
	e->perm = json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= INT_MAX ? (int)json_integer_value(v) : -1;
	if (!bytes_member(o, "name", &e->name) ||
	    !bytes_member(o, "target", &e->target) ||
	    !bytes_member(o, "raw", &e->raw)) {
		ftp_entry_clear(e);
		return -2;
	}
	return 0;
}

/* ---- errors --------------------------------------------------------------- */

json_t *
wire_error_data(enum ftpa_err kind, int ftp_code, const char *ftp_text,
    json_t *extra)
{
	json_t	*data = extra != NULL ? extra : json_object();
	const char *name = ftpa_err_name(kind);

	if (data == NULL)
		return NULL;
	if (json_object_set_new(data, "kind", json_string(name != NULL ? name :
	    "none")) == -1)
		goto fail;
	if (ftp_code != 0 &&
	    (json_object_set_new(data, "ftp_code", json_integer(ftp_code)) ==
	    -1 || json_object_set_new(data, "ftp_text",
	    ftpa_bytes_json(ftp_text != NULL ? ftp_text : "")) == -1))
		goto fail;
	return data;
fail:
	json_decref(data);
	return NULL;
}

json_t *
wire_error_json(enum ftpa_err kind, const char *message, int ftp_code,
    const char *ftp_text)
{
	return json_pack("{s:i, s:o, s:o}", "code", ftpa_err_code(kind),
	    "message", ftpa_bytes_json(message != NULL ? message : ""),
	    "data", wire_error_data(kind, ftp_code, ftp_text, NULL));
}

void
wire_error_read(const json_t *error, struct wire_error *we)
{
	json_t	*data, *v;

	memset(we, 0, sizeof(*we));
	data = json_object_get(error, "data");
	v = json_object_get(error, "code");
	we->code = json_is_integer(v) && json_integer_value(v) >= INT_MIN &&
	    json_integer_value(v) <= INT_MAX ? (int)json_integer_value(v) : 0;
	we->kind_name = json_string_value(json_object_get(data, "kind"));
	if (we->kind_name != NULL)
		we->kind = ftpa_err_from_name(we->kind_name);
	if (we->kind == FTPA_ERR_NONE)
		we->kind = ftpa_err_from_code(we->code);
	we->message = json_string_value(json_object_get(error, "message"));
	if (we->message == NULL || *we->message == '\0')
		we->message = "the agent reported an error";
	v = json_object_get(data, "ftp_code");
	/* a reply code, as the reply reader takes them, or none */
	we->ftp_code = json_is_integer(v) && json_integer_value(v) >= 100 &&
	    json_integer_value(v) <= 599 ? (int)json_integer_value(v) : 0;
	we->ftp_text = json_string_value(json_object_get(data, "ftp_text"));
}

/* ---- jobs ------------------------------------------------------------------- */

static const char *const wire_job_state_names[WIRE_JOB_STATE_LAST] = {
	[WIRE_JOB_QUEUED]	= "queued",
	[WIRE_JOB_RUNNING]	= "running",
	[WIRE_JOB_DONE]		= "done",
	[WIRE_JOB_FAILED]	= "failed",
	[WIRE_JOB_CANCELLED]	= "cancelled",
};

const char *
wire_job_state_name(enum wire_job_state s)
{
	return (unsigned)s < WIRE_JOB_STATE_LAST ? wire_job_state_names[s] :
	    "?";
}

int
wire_job_state_from_name(const char *name)
{
	int	s;

	for (s = 0; name != NULL && s < WIRE_JOB_STATE_LAST; s++)
		if (strcmp(name, wire_job_state_names[s]) == 0)
			return s;
	return -1;
}

static json_t *
real_or_null(double v)
{
	return v >= 0 ? json_real(v) : json_null();
}

static json_t *
job_error_json(const struct wire_error *e)
{
	if (e->kind == FTPA_ERR_NONE && e->message == NULL)
		return json_null();
	return wire_error_json(e->kind, e->message, e->ftp_code, e->ftp_text);
}

static json_t *
tree_json(const struct wire_tree *t)
{
	json_t	*fails = json_array(), *o;

	if (fails == NULL)
		return NULL;
	for (size_t i = 0; i < t->n_failures; i++) {
		const struct wire_tree_failure *f = &t->failures[i];

		if (json_array_append_new(fails, json_pack("{s:o, s:o}",
		    "path", ftpa_bytes_json(f->path),
		    "error", job_error_json(&f->err))) == -1) {
			json_decref(fails);
			return NULL;
		}
	}
	o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:o}",
	    "files", (json_int_t)t->files,
	    "files_total", (json_int_t)t->files_total,
	    "dirs", (json_int_t)t->dirs,
	    "skipped", (json_int_t)t->skipped,
	    "deleted", (json_int_t)t->deleted,
	    "failed", (json_int_t)t->failed,
	    "walking", t->walking, "dry_run", t->dry_run,
	    "failures", fails);
	return o;
}

json_t *
wire_job_json(const struct wire_job *j)
{
	json_t	*o, *t;

	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:o, s:f, s:f, s:o,"
	    " s:o, s:o, s:o, s:i, s:o}",
	    "job", j->id,
	    "state", wire_job_state_name(j->state),
	    "direction", j->put ? "put" : "get",
	    "session", j->session != NULL ? json_string(j->session) :
	    json_null(),
	    "path", ftpa_bytes_json(j->path),
	    "bytes", (json_int_t)j->bytes,
	    "total", int_or_null(j->total, j->total >= 0),
	    "rate", j->rate,
	    "seconds", j->seconds,
	    "eta_s", real_or_null(j->eta),
	    "started", real_or_null(j->started),
	    "ended", real_or_null(j->ended),
	    "uid", int_or_null(j->uid, j->uid >= 0),
	    "attempts", j->attempts,
	    "error", job_error_json(&j->err));
	if (o != NULL && (json_object_set_new(o, "local", j->local != NULL ?
	    ftpa_bytes_json(j->local) : json_null()) == -1 ||
	    (j->limit_rate > 0 && json_object_set_new(o, "limit_rate",
	    json_integer((json_int_t)j->limit_rate)) == -1))) {
		json_decref(o);
		return NULL;
	}
	if (o == NULL || !j->tree.present)
		return o;
	if ((t = tree_json(&j->tree)) == NULL ||
	    json_object_set_new(o, "tree", t) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static double
num_or(const json_t *o, const char *name, double dflt)
{
	json_t	*v = json_object_get(o, name);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

int64_t
wire_count(const json_t *v, int64_t unknown)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return unknown;
	return (int64_t)json_integer_value(v);
}

static void
tree_read(const json_t *o, struct wire_tree *t)
{
	const json_t	*fails = json_object_get(o, "failures"), *f, *e;
	size_t		 i;

	t->present = true;
	t->files = wire_count(json_object_get(o, "files"), 0);
	t->files_total = wire_count(json_object_get(o, "files_total"), 0);
	t->dirs = wire_count(json_object_get(o, "dirs"), 0);
	t->skipped = wire_count(json_object_get(o, "skipped"), 0);
	t->deleted = wire_count(json_object_get(o, "deleted"), 0);
	t->failed = wire_count(json_object_get(o, "failed"), 0);
	t->walking = json_is_true(json_object_get(o, "walking"));
	t->dry_run = json_is_true(json_object_get(o, "dry_run"));
	json_array_foreach(fails, i, f) {
		struct wire_tree_failure *tf = &t->failures_buf[t->n_failures];

		if (t->n_failures == WIRE_TREE_FAILURES_MAX)
			break;
		if ((tf->path = json_string_value(json_object_get(f,
		    "path"))) == NULL || !json_is_object(e = json_object_get(f,
		    "error")))
			continue;
		wire_error_read(e, &tf->err);
		t->n_failures++;
	}
}

int
wire_job_read(const json_t *o, struct wire_job *j)
{
	const char	*dir;
	json_t		*v;

	memset(j, 0, sizeof(*j));
	if ((j->id = json_string_value(json_object_get(o, "job"))) == NULL)
		return -1;
	j->state = wire_job_state_from_name(json_string_value(
	    json_object_get(o, "state")));
	dir = json_string_value(json_object_get(o, "direction"));
	j->direction_known = dir != NULL && (strcmp(dir, "get") == 0 ||
	    strcmp(dir, "put") == 0);
	j->put = j->direction_known && strcmp(dir, "put") == 0;
	j->session = json_string_value(json_object_get(o, "session"));
	j->path = json_string_value(json_object_get(o, "path"));
	j->local = json_string_value(json_object_get(o, "local"));
	/* a negative count is no count */
	j->bytes = wire_count(json_object_get(o, "bytes"), 0);
	j->total = wire_count(json_object_get(o, "total"), -1);
	j->rate = num_or(o, "rate", 0);
	j->seconds = num_or(o, "seconds", 0);
	j->eta = num_or(o, "eta_s", -1);
	j->started = num_or(o, "started", -1);
	j->ended = num_or(o, "ended", -1);
	v = json_object_get(o, "uid");
	j->uid = json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= LONG_MAX ? (long)json_integer_value(v) : -1;
	v = json_object_get(o, "attempts");
	j->attempts = json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= INT_MAX ? (int)json_integer_value(v) : 0;
	j->limit_rate = wire_count(json_object_get(o, "limit_rate"), 0);
	if (json_is_object(v = json_object_get(o, "error")))
		wire_error_read(v, &j->err);
	if (json_is_object(v = json_object_get(o, "tree")))
		tree_read(v, &j->tree);
	return 0;
}

/* ---- notifications -------------------------------------------------------- */

json_t *
wire_session_state(const char *session, const char *state, int connections,
    int busy)
{
	return json_pack("{s:s, s:s, s:i, s:i}", "session", session,
	    "state", state, "connections", connections, "busy", busy);
}

json_t *
wire_notification(const char *method, json_t *params)
{
	return jsonrpc_notification(method, json_incref(params));
}
