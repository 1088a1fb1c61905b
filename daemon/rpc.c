/*
 * JSON-RPC dispatch: a request from a client becomes a call, the method
 * table names its handler, and the call is answered (at once or later,
 * rpc_defer); the agent's own methods (rpc.info, agent.*) and
 * events.subscribe. The other methods are in rpc_session.c, rpc_fs.c and
 * rpc_transfer.c; their parameter checks in rpc_params.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ask.h"
#include "budget.h"
#include "control.h"
#include "events.h"
#include "ftp.h"
#include "job.h"
#include "jsonrpc.h"
#include "log.h"
#include "rpc.h"
#include "session.h"
#include "tree.h"
#include "util.h"
#include "wire.h"
#include "rpc_priv.h"

/* agent.stats */
static unsigned long long rpc_bytes_in, rpc_bytes_out;
static double rpc_started;
static double rpc_started_real;

/* What a method needs, checked once by the dispatcher. */
enum method_flag {
	M_SESSION = 1 << 0,	/* "session" names one of the caller's: the
				   handler finds it in call->session */
	M_FDS = 1 << 1,		/* may take passed descriptors; other methods
				   have them closed before they run */
};

struct method {
	const char	*name;
	method_fn	 fn;
	unsigned	 flags;
};

static const struct method methods[];

/* ---- answering ----------------------------------------------------------- */

/* No longer pending: off its client's list, no longer counted. */
void
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

void
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
	json_t	*data;

	if ((data = wire_error_data(e->kind, e->ftp_code, e->ftp_text,
	    extra)) == NULL)
		fatalx("out of memory");
	rpc_error(call, ftpa_err_code(e->kind), ftpa_err_name(e->kind), data,
	    "%s", e->msg);
}

/* ---- agent ------------------------------------------------------------------ */

static void
m_rpc_info(struct rpc_call *call, json_t *params)
{
	json_t	*names = json_array(), *features = json_array();

	for (const struct method *m = methods; m->name; m++)
		json_array_append_new(names, json_string(m->name));
	/* what this caller may use: the agent renames only its own user's
	 * files (transfer.get "rename", rpc_transfer.c) */
	if (call->uid == geteuid())
		json_array_append_new(features,
		    json_string("transfer.get.rename"));
	json_array_append_new(features, json_string("transfer.get.segments"));
	json_array_append_new(features,
	    json_string("transfer.get.segments.resume"));
	json_array_append_new(features, json_string("limit_rate"));
	rpc_reply(call, json_pack("{s:s,s:s,s:i,s:o,s:o}", "name", "ftpd-agent",
	    "version", PACKAGE_VERSION, "protocol", 1, "methods", names,
	    "features", features));
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

/*
 * Where the agent is, what it runs and where it logs: what a user needs
 * to find it, and nothing another user could not see in ps or /run.
 */
static void
m_status(struct rpc_call *call, json_t *params)
{
	const struct agent_self	*me = agent_self();
	const char		*log = log_where();
	bool			 all = call->uid == 0;

	rpc_reply(call, json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:b,s:o,s:o,s:b,"
	    "s:f,s:f,s:I,s:I,s:I}",
	    "name", "ftpd-agent", "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(), "uid", (json_int_t)getuid(),
	    "mode", me->user ? "user" : "system",
	    "socket", me->socket != NULL ? me->socket : "",
	    "socket_activated", me->activated,
	    "log", log != NULL ? json_string(log) : json_null(),
	    "config", me->config != NULL ? json_string(me->config) :
	    json_null(),
	    "config_found", me->config_found,
	    "started", rpc_started_real,
	    "uptime_s", now_mono() - rpc_started,
	    "sessions", (json_int_t)session_count(call->uid, all),
	    "jobs", (json_int_t)job_count(call->uid, all, false),
	    "jobs_active", (json_int_t)job_count(call->uid, all, true)));
}

/* A shared agent is stopped or reconfigured by its owner or root only. */
static bool
may_manage(struct rpc_call *call, const char *what)
{
	if (call->uid == 0 || call->uid == getuid())
		return true;
	rpc_fail(call, FTPA_ERR_PERMISSION, "only root and the agent's user "
	    "(uid %u) may %s it", (unsigned)getuid(), what);
	return false;
}

static void
m_reload(struct rpc_call *call, json_t *params)
{
	char	err[512];

	if (!may_manage(call, "reload"))
		return;
	log_info("reload asked by uid %u", (unsigned)call->uid);
	if (agent_reload(err, sizeof(err)) == -1) {
		rpc_fail(call, FTPA_ERR_LOCAL_IO, "%s; the configuration in "
		    "use stays", err);
		return;
	}
	rpc_reply(call, json_pack("{s:o}", "config", agent_self()->config ?
	    json_string(agent_self()->config) : json_null()));
}

static void
m_stop(struct rpc_call *call, json_t *params)
{
	if (!may_manage(call, "stop"))
		return;
	log_info("stop asked by uid %u", (unsigned)call->uid);
	rpc_reply(call, json_pack("{s:I}", "pid", (json_int_t)getpid()));
	agent_stop();
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
		events_subscribe_all(call->client);
		rpc_reply(call, json_object());
		return;
	}
	if (!json_is_array(v)) {
		params_error(call, "parameter \"jobs\" must be \"all\" or an "
		    "array of job ids");
		return;
	}
	n = json_array_size(v);
	if (events_job_count(call->client) + n > EVENTS_MAX_JOBS) {
		rpc_fail(call, FTPA_ERR_LIMIT, "at most %d subscribed jobs per "
		    "connection (subscribe to \"all\" instead)", EVENTS_MAX_JOBS);
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
		events_subscribe_job(call->client,
		    json_string_value(json_array_get(v, i)));
	rpc_reply(call, json_object());
}

static const struct method methods[] = {
	{ "rpc.info",		m_rpc_info,		0 },
	{ "agent.ping",		m_ping,			0 },
	{ "agent.stats",	m_stats,		0 },
	{ "agent.status",	m_status,		0 },
	{ "agent.reload",	m_reload,		0 },
	{ "agent.stop",		m_stop,			0 },
	{ "session.open",	m_session_open,		M_FDS },
	{ "session.close",	m_session_close,	M_SESSION },
	{ "session.list",	m_session_list,		0 },
	{ "fs.list",		m_fs_list,		M_SESSION },
	{ "fs.stat",		m_fs_stat,		M_SESSION },
	{ "fs.mkdir",		m_mkdir,		M_SESSION },
	{ "fs.rmdir",		m_rmdir,		M_SESSION },
	{ "fs.remove",		m_remove,		M_SESSION },
	{ "fs.rename",		m_rename,		M_SESSION },
	{ "fs.chmod",		m_chmod,		M_SESSION },
	{ "fs.set_mtime",	m_set_mtime,		M_SESSION },
	{ "ftp.quote",		m_quote,		M_SESSION },
	{ "transfer.get",	m_get,			M_SESSION | M_FDS },
	{ "transfer.put",	m_put,			M_SESSION | M_FDS },
	{ "transfer.tree",	m_tree,			M_SESSION },
	{ "job.status",		m_job_status,		0 },
	{ "job.wait",		m_job_wait,		0 },
	{ "job.cancel",		m_job_cancel,		0 },
	{ "job.list",		m_job_list,		0 },
	{ "events.subscribe",	m_events_subscribe,	0 },
	{ NULL, NULL, 0 }
};

/* ---- dispatch ------------------------------------------------------------------ */

/* Descriptors a method did not take (or could not) are closed. */
static void
close_fds(int *fds, size_t nfds)
{
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] != -1) {
			close(fds[i]);
			fds[i] = -1;
		}
}

void
rpc_init(void)
{
	rpc_started = now_mono();
	rpc_started_real = now_real();
}

void
rpc_count_in(unsigned long long n)
{
	rpc_bytes_in += n;
}

void
rpc_count_out(unsigned long long n)
{
	rpc_bytes_out += n;
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
		/* an answer to one of our requests (ask.c), or nothing */
		ask_answer(c, msg.id, msg.result, msg.error, fds, nfds);
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
		struct session	*s;

		if (params == NULL)
			params = empty = json_object();
		if (!(m->flags & M_FDS))
			close_fds(fds, nfds);
		/* the call may be answered and freed inside either */
		if (!(m->flags & M_SESSION))
			m->fn(call, params);
		else if ((s = p_session(call, params)) != NULL) {
			call->session = s;
			m->fn(call, params);
		}
		if (empty)
			json_decref(empty);
	}
	jsonrpc_msg_clear(&msg);
out:
	/* fds the method did not take are closed now, not when it ends */
	close_fds(fds, nfds);
}

void
rpc_client_gone(struct client *c)
{
	struct rpc_call	*call;

	ask_client_gone(c);
	tree_client_gone(c);
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
