/*
 * libftpagent public API over the conn transport core.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent.h"
#include "conn.h"
#include "bytename.h"
#include "ftpa_error.h"
#include "localdest.h"
#include "wire.h"

#define DEFAULT_TIMEOUT_MS	60000
#define SYSTEM_SOCKET		"/run/ftpd-agent/ftpd-agent.sock"
#define USER_SOCKET_NAME	"ftpd-agent.sock"
#define AUTOSTART_WAIT_MS	3000
#define AUTOSTART_POLL_MS	50
#define CANCEL_TIMEOUT_MS	1000

struct ftpagent {
	struct conn	 conn;
	char		*path;
	int		 timeout_ms;
	enum ftpagent_error err;
	char		*errmsg;	/* NULL: see err_fallback */
	char		*errkind;	/* NULL: the table name of err */
	char		*errdata;
	int		 ftp_code;
	bool		 subscribed;	/* keep notifications for next_event */
};

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

static void
reset_error(struct ftpagent *a)
{
	free(a->errmsg);
	free(a->errkind);
	free(a->errdata);
	a->errmsg = a->errkind = a->errdata = NULL;
	a->err = FTPAGENT_OK;
	a->ftp_code = 0;
}

static void set_error(struct ftpagent *, enum ftpagent_error,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
set_error(struct ftpagent *a, enum ftpagent_error e, const char *fmt, ...)
{
	va_list ap;
	int n;

	reset_error(a);
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
static const char *
errstr(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static void
set_local_error(struct ftpagent *a, const char *what, const char *file, int e)
{
	char eb[128];

	set_error(a, FTPAGENT_ERR_LOCAL_IO, "%s %s: %s", what, file,
	    errstr(e, eb, sizeof(eb)));
}

static void
set_conn_error(struct ftpagent *a, enum conn_status st, const char *method)
{
	char eb[128];

	if (st == CONN_TIMEOUT && conn_is_open(&a->conn)) {
		set_error(a, FTPAGENT_ERR_TIMEOUT,
		    "%s: no reply from the agent within %d ms", method,
		    a->timeout_ms);
		return;
	}
	if (st == CONN_NOMEM && conn_is_open(&a->conn)) {
		set_error(a, FTPAGENT_ERR_NOMEM, "%s: out of memory", method);
		return;
	}
	switch (st) {
	case CONN_TIMEOUT:
		set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: timed out writing to the agent", method);
		break;
	case CONN_CLOSED:
		set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent closed the connection", method);
		break;
	case CONN_IO:
		set_error(a, FTPAGENT_ERR_AGENT, "%s: agent connection: %s",
		    method, errstr(a->conn.err, eb, sizeof(eb)));
		break;
	case CONN_BADMSG:
		set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent sent an invalid message", method);
		break;
	case CONN_TOOBIG:
		set_error(a, FTPAGENT_ERR_AGENT,
		    "%s: the agent sent an over-long message", method);
		break;
	default:
		set_error(a, FTPAGENT_ERR_AGENT, "%s: connection lost", method);
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
static enum ftpagent_error
lib_error(enum ftpa_err k)
{
	return (unsigned)k < FTPA_ERR_LAST ? wire_errors[k] : FTPAGENT_ERR_RPC;
}

static void
set_reply_error(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct wire_error we;
	json_t *data;

	wire_error_read(m->error, &we);
	set_error(a, lib_error(we.kind), "%s", we.message);
	if (we.kind_name != NULL)
		a->errkind = strdup(we.kind_name);
	a->ftp_code = we.ftp_code;
	if ((data = json_object_get(m->error, "data")) != NULL)
		a->errdata = dump_json(data);
}

/* Whether the sticky error is the agent's own reply of kind e (not this
 * library's, such as a timeout waiting for that reply). */
static bool
agent_said(const struct ftpagent *a, enum ftpagent_error e)
{
	return a->err == e && a->errkind != NULL;
}

/* ---- connection ---------------------------------------------------------- */

static int
effective_timeout(int timeout_ms)
{
	return timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

static struct ftpagent *
agent_new(int timeout_ms)
{
	struct ftpagent *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	conn_init(&a->conn);
	a->timeout_ms = effective_timeout(timeout_ms);
	return a;
}

static bool
set_path(struct ftpagent *a, const char *path)
{
	char *p;

	if ((p = strdup(path)) == NULL)
		return false;
	free(a->path);
	a->path = p;
	return true;
}

/* Returns a malloc'd path of an executable ftpd-agent, or NULL. */
static char *
find_agent_bin(void)
{
	const char *env = getenv("FTPD_AGENT_BIN"), *p, *end;
	char *cand;
	size_t n;

	if (env != NULL && *env != '\0')
		return strdup(env);
	p = getenv("PATH");
	if (p == NULL || *p == '\0')
		p = "/usr/local/bin:/usr/bin:/bin";
	for (;;) {
		end = strchr(p, ':');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0) {
			if ((cand = strdup("./ftpd-agent")) == NULL)
				return NULL;
		} else if (asprintf(&cand, "%.*s/ftpd-agent", (int)n, p) < 0)
			return NULL;
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (end == NULL)
			break;
		p = end + 1;
	}
#ifdef SBINDIR
	if (asprintf(&cand, "%s/ftpd-agent", SBINDIR) < 0)
		return NULL;
	if (access(cand, X_OK) == 0)
		return cand;
	free(cand);
#endif
	return NULL;
}

/* In the grandchild: only async-signal-safe calls from here on. */
static void
exec_agent(char *const argv[], int maxfd)
{
	sigset_t all;
	int fd;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
		for (fd = 3; fd < maxfd; fd++)
			close(fd);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Starts "ftpd-agent --user -S path", detached: double fork and setsid so
 * that neither a zombie nor a controlling terminal stays with the caller.
 */
static bool
autostart(struct ftpagent *a, const char *path)
{
	char *bin, *argv[5];
	pid_t pid;
	long maxfd;
	int status;

	if ((bin = find_agent_bin()) == NULL) {
		set_error(a, FTPAGENT_ERR_AGENT,
		    "no agent answers on %s and ftpd-agent was not found "
		    "(set $FTPD_AGENT_BIN or $PATH)", path);
		return false;
	}
	argv[0] = bin;
	argv[1] = (char *)"--user";
	argv[2] = (char *)"-S";
	argv[3] = (char *)path;
	argv[4] = NULL;
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;

	pid = fork();
	if (pid == -1) {
		char eb[128];

		set_error(a, FTPAGENT_ERR_AGENT, "cannot start ftpd-agent: %s",
		    errstr(errno, eb, sizeof(eb)));
		free(bin);
		return false;
	}
	if (pid == 0) {
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid == -1 ? 1 : 0);
		exec_agent(argv, (int)maxfd);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	free(bin);
	return true;
}

static bool
try_connect(struct ftpagent *a, const char *path, int timeout_ms)
{
	if (!set_path(a, path))
		return false;
	return conn_connect(&a->conn, path, timeout_ms) == CONN_OK;
}

static void
set_connect_error(struct ftpagent *a)
{
	char eb[128];

	set_error(a, FTPAGENT_ERR_AGENT, "cannot connect to the agent at %s: %s",
	    a->path != NULL ? a->path : "(none)",
	    errstr(a->conn.err, eb, sizeof(eb)));
}

static void
connect_with_autostart(struct ftpagent *a, const char *path, int ctimeout)
{
	int64_t deadline;

	if (!autostart(a, path))
		return;
	deadline = conn_now_ms() + AUTOSTART_WAIT_MS;
	for (;;) {
		if (try_connect(a, path, ctimeout))
			return;
		if (a->path == NULL || conn_now_ms() >= deadline)
			break;
		(void)poll(NULL, 0, AUTOSTART_POLL_MS);
	}
	if (a->path == NULL)
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else
		set_connect_error(a);
}

struct ftpagent *
ftpagent_connect_opts(const char *socket_path, unsigned flags, int timeout_ms)
{
	struct ftpagent *a;
	const char *env, *xdg;
	char *user = NULL;
	bool autost = (flags & FTPAGENT_AUTOSTART) != 0;
	int ctimeout;

	if ((a = agent_new(timeout_ms)) == NULL)
		return NULL;
	ctimeout = a->timeout_ms;

	if (socket_path == NULL && (env = getenv("FTPAGENT_SOCKET")) != NULL &&
	    *env != '\0')
		socket_path = env;
	if (socket_path != NULL) {
		if (*socket_path == '\0') {
			set_error(a, FTPAGENT_ERR_ARGUMENT, "empty socket path");
			return a;
		}
		if (try_connect(a, socket_path, ctimeout))
			return a;
		if (a->path == NULL)
			goto nomem;
		if (autost && strcmp(socket_path, SYSTEM_SOCKET) != 0)
			connect_with_autostart(a, socket_path, ctimeout);
		else
			set_connect_error(a);
		return a;
	}

	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && *xdg == '/') {
		if (asprintf(&user, "%s/%s", xdg, USER_SOCKET_NAME) < 0)
			goto nomem;
		if (try_connect(a, user, ctimeout)) {
			free(user);
			return a;
		}
	}
	if (try_connect(a, SYSTEM_SOCKET, ctimeout)) {
		free(user);
		return a;
	}
	if (a->path == NULL) {
		free(user);
		goto nomem;
	}
	/* Nothing answers: start the user's own agent, like gpg does. */
	if (autost && user != NULL)
		connect_with_autostart(a, user, ctimeout);
	else
		set_connect_error(a);
	free(user);
	return a;
nomem:
	set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	return a;
}

struct ftpagent *
ftpagent_connect(const char *socket_path)
{
	return ftpagent_connect_opts(socket_path, 0, 0);
}

void
ftpagent_free(struct ftpagent *a)
{
	if (a == NULL)
		return;
	conn_close(&a->conn);
	conn_notes_clear(&a->conn);
	ndjson_free(&a->conn.in);
	reset_error(a);
	free(a->path);
	free(a);
}

void
ftpagent_set_timeout(struct ftpagent *a, int timeout_ms)
{
	if (a != NULL)
		a->timeout_ms = effective_timeout(timeout_ms);
}

const char *
ftpagent_socket_path(const struct ftpagent *a)
{
	if (a == NULL || a->path == NULL)
		return "";
	return a->path;
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
	reset_error(a);
	return true;
}

/* ---- calls --------------------------------------------------------------- */

/* State of a transfer while its reply is awaited. */
struct xfer {
	struct ftpagent	*a;
	const struct ftpagent_xfer_opts *opts;
	const char	*session;
	const char	*direction;	/* "get" / "put" */
	json_t		*path;		/* the wire form */
	char		*job;		/* id learnt from job.progress */
	bool		 cancelled;
	enum conn_status cancel_st;	/* why sending job.cancel failed */
};

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
static bool
usable(struct ftpagent *a)
{
	if (a->err != FTPAGENT_OK)
		return false;
	if (!conn_is_open(&a->conn)) {
		set_error(a, FTPAGENT_ERR_AGENT, "not connected to the agent");
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
static bool
rpc_wait(struct ftpagent *a, const char *method, json_t *params,
    const int *fds, size_t nfds, struct xfer *x, int wait_ms, json_t **result)
{
	struct jsonrpc_msg m;
	struct waiting w;
	enum conn_status st;
	json_int_t id;

	if (result != NULL)
		*result = NULL;
	if (!usable(a)) {
		json_decref(params);
		return false;
	}
	if (params == NULL) {
		set_error(a, FTPAGENT_ERR_NOMEM, "%s: out of memory", method);
		return false;
	}
	st = conn_request(&a->conn, method, params, fds, nfds,
	    conn_now_ms() + a->timeout_ms, &id);
	if (st != CONN_OK) {
		set_conn_error(a, st, method);
		return false;
	}
	w.a = a;
	w.x = x;
	st = conn_wait(&a->conn, id, wait_ms, call_notify, &w, &m);
	if (st == CONN_ABORTED) {
		set_conn_error(a, x->cancel_st, "job.cancel");
		return false;
	}
	if (st != CONN_OK) {
		/* Do not let a stuck job write into the caller's fd forever. */
		if (st == CONN_TIMEOUT && x != NULL && x->job != NULL &&
		    !x->cancelled && conn_is_open(&a->conn))
			send_cancel(a, x, CANCEL_TIMEOUT_MS);
		set_conn_error(a, st, method);
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

static bool
rpc(struct ftpagent *a, const char *method, json_t *params, const int *fds,
    size_t nfds, struct xfer *x, json_t **result)
{
	return rpc_wait(a, method, params, fds, nfds, x, a->timeout_ms,
	    result);
}

static void
set_bad_reply(struct ftpagent *a, const char *method)
{
	set_error(a, FTPAGENT_ERR_RPC, "%s: unexpected reply from the agent",
	    method);
}

static bool
check_args(struct ftpagent *a, const char *session, const char *path)
{
	if (a == NULL)
		return false;
	if (a->err != FTPAGENT_OK)
		return false;
	if (session == NULL || path == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "%s is NULL",
		    session == NULL ? "session" : "path");
		return false;
	}
	return true;
}

/* Calls a method whose result is {} and whose params are built by the
 * caller. */
static bool
rpc_void(struct ftpagent *a, const char *method, json_t *params)
{
	json_t *res;

	if (!rpc(a, method, params, NULL, 0, NULL, &res))
		return false;
	json_decref(res);
	return true;
}

/* ---- sessions -------------------------------------------------------------- */

static const char *
tls_name(enum ftpagent_tls t)
{
	switch (t) {
	case FTPAGENT_TLS_NONE:
		return "none";
	case FTPAGENT_TLS_EXPLICIT:
		return "explicit";
	case FTPAGENT_TLS_IMPLICIT:
		return "implicit";
	default:
		return NULL;
	}
}

/*
 * The CA file goes to the agent as an open descriptor, read here with
 * the caller's rights: a system agent must not open paths for its
 * callers. Returns the fd, or -1 with the error set.
 */
static int
open_ca_file(struct ftpagent *a, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		set_local_error(a, "cannot open the CA file", path, errno);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		set_local_error(a, "cannot stat the CA file", path, errno);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(a, FTPAGENT_ERR_LOCAL_IO,
		    "the CA file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

bool
ftpagent_open(struct ftpagent *a, const char *url,
    const struct ftpagent_open_opts *opts, char **session)
{
	json_t *p, *res;
	const char *id, *tls;
	int r = 0, cafd = -1;
	bool ok;

	if (session != NULL)
		*session = NULL;
	if (!check_args(a, "", url))
		return false;
	if (opts != NULL && opts->tls != FTPAGENT_TLS_DEFAULT &&
	    tls_name(opts->tls) == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid TLS mode %d",
		    (int)opts->tls);
		return false;
	}
	if ((p = json_pack("{s:s}", "url", url)) == NULL) {
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	if (opts != NULL) {
		if (opts->name != NULL)
			r |= json_object_set_new(p, "name",
			    json_string(opts->name));
		if (opts->password != NULL)
			r |= json_object_set_new(p, "password",
			    json_string(opts->password));
		if ((tls = tls_name(opts->tls)) != NULL)
			r |= json_object_set_new(p, "tls", json_string(tls));
		if (opts->insecure)
			r |= json_object_set_new(p, "verify", json_false());
		if (opts->ca_file != NULL)
			r |= json_object_set_new(p, "ca_fd", json_integer(0));
		if (opts->active)
			r |= json_object_set_new(p, "passive", json_false());
		if (opts->max_connections > 0)
			r |= json_object_set_new(p, "max_connections",
			    json_integer(opts->max_connections));
		if (opts->reuse)
			r |= json_object_set_new(p, "reuse", json_true());
		if (opts->list_tz != NULL)
			r |= json_object_set_new(p, "list_tz",
			    json_string(opts->list_tz));
	}
	if (r != 0) {
		/* json_string refuses invalid UTF-8; say which, not what. */
		json_decref(p);
		set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "session.open: an option is not valid UTF-8");
		return false;
	}
	if (opts != NULL && opts->ca_file != NULL &&
	    (cafd = open_ca_file(a, opts->ca_file)) == -1) {
		json_decref(p);
		return false;
	}
	ok = rpc(a, "session.open", p, &cafd, cafd != -1, NULL, &res);
	if (cafd != -1)
		close(cafd);
	if (!ok)
		return false;
	id = json_string_value(json_object_get(res, "session"));
	if (id == NULL) {
		json_decref(res);
		set_bad_reply(a, "session.open");
		return false;
	}
	if (session != NULL && (*session = strdup(id)) == NULL) {
		json_decref(res);
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	json_decref(res);
	return true;
}

bool
ftpagent_close(struct ftpagent *a, const char *session)
{
	if (!check_args(a, session, ""))
		return false;
	return rpc_void(a, "session.close",
	    json_pack("{s:s}", "session", session));
}

/* ---- file system ------------------------------------------------------------ */

/*
 * Names are bytes to the caller and to the server; on the wire the bytes
 * that are not UTF-8 travel escaped (protocol/bytename.h).
 * ftpa_bytes_json gives the wire form (NULL only when out of memory, which
 * json_pack then reports); bytes_dup the caller's form of a string from a
 * reply.
 */
static char *
bytes_dup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) != NULL)
		ftpa_bytes_unescape(d, strlen(d));
	return d;
}

/* 0, -1 when o is not an entry, -2 when out of memory. */
static int
parse_entry(const json_t *o, struct ftpagent_entry *e)
{
	struct ftp_entry	w;
	int			r;

	memset(e, 0, sizeof(*e));
	if ((r = wire_entry_read(o, &w)) != 0)
		return r;
	/* the same members: the strings move over */
	e->name = w.name;
	e->type = w.type == FTP_ENTRY_FILE ? FTPAGENT_FILE :
	    w.type == FTP_ENTRY_DIR ? FTPAGENT_DIR :
	    w.type == FTP_ENTRY_LINK ? FTPAGENT_LINK : FTPAGENT_OTHER;
	e->size = w.size;
	e->mtime = w.mtime;
	e->perm = w.perm;
	e->target = w.target;
	e->raw = w.raw;
	return 0;
}

void
ftpagent_entry_clear(struct ftpagent_entry *e)
{
	if (e == NULL)
		return;
	free(e->name);
	free(e->target);
	free(e->raw);
	e->name = e->target = e->raw = NULL;
}

void
ftpagent_entries_free(struct ftpagent_entry *e, size_t n)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < n; i++)
		ftpagent_entry_clear(&e[i]);
	free(e);
}

/*
 * Parses the array arr of a reply to method into a new array of
 * elements of size bytes each (*out NULL when empty), with parse (0,
 * -1: not what it should be, -2: out of memory) and clear. False with
 * the error set.
 */
static bool
parse_array(struct ftpagent *a, const char *method, const json_t *arr,
    size_t size, int (*parse)(const json_t *, void *),
    void (*clear)(void *), void **out, size_t *n)
{
	char *els = NULL;
	size_t i, j, count;
	int r;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		set_bad_reply(a, method);
		return false;
	}
	count = json_array_size(arr);
	if (count > 0 && (els = calloc(count, size)) == NULL) {
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	for (i = 0; i < count; i++) {
		if ((r = parse(json_array_get(arr, i), els + i * size)) == 0)
			continue;
		for (j = 0; j < i; j++)
			clear(els + j * size);
		free(els);
		if (r == -2)
			set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		else
			set_bad_reply(a, method);
		return false;
	}
	*out = els;
	*n = count;
	return true;
}

static int
parse_entry_cb(const json_t *o, void *e)
{
	return parse_entry(o, e);
}

static void
clear_entry_cb(void *e)
{
	ftpagent_entry_clear(e);
}

bool
ftpagent_list(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry **entries, size_t *n)
{
	struct ftpagent_entry *es = NULL;
	json_t *res, *arr;
	size_t count;
	bool ok;

	if (entries != NULL)
		*entries = NULL;
	if (n != NULL)
		*n = 0;
	if (path == NULL)
		path = "";
	if (!check_args(a, session, path))
		return false;
	if (entries == NULL || n == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.list: no result pointer");
		return false;
	}
	if (!rpc(a, "fs.list", json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), NULL, 0, NULL, &res))
		return false;
	arr = json_is_array(res) ? res : json_object_get(res, "entries");
	ok = parse_array(a, "fs.list", arr, sizeof(*es), parse_entry_cb,
	    clear_entry_cb, (void **)&es, &count);
	json_decref(res);
	if (ok) {
		*entries = es;
		*n = count;
	}
	return ok;
}

bool
ftpagent_stat(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry *entry)
{
	json_t *res;
	int r;

	if (entry != NULL)
		memset(entry, 0, sizeof(*entry));
	if (!check_args(a, session, path))
		return false;
	if (entry == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.stat: no result pointer");
		return false;
	}
	if (!rpc(a, "fs.stat", json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), NULL, 0, NULL, &res))
		return false;
	r = parse_entry(res, entry);
	json_decref(res);
	if (r == -2)
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (r != 0)
		set_bad_reply(a, "fs.stat");
	return r == 0;
}

bool
ftpagent_mkdir(struct ftpagent *a, const char *session, const char *path,
    bool parents)
{
	if (!check_args(a, session, path))
		return false;
	return rpc_void(a, "fs.mkdir", json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "parents", parents));
}

bool
ftpagent_remove(struct ftpagent *a, const char *session, const char *path,
    bool recursive)
{
	if (!check_args(a, session, path))
		return false;
	return rpc_void(a, "fs.remove", json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "recursive", recursive));
}

bool
ftpagent_rmdir(struct ftpagent *a, const char *session, const char *path)
{
	if (!check_args(a, session, path))
		return false;
	return rpc_void(a, "fs.rmdir", json_pack("{s:s,s:o}", "session",
	    session, "path", ftpa_bytes_json(path)));
}

bool
ftpagent_rename(struct ftpagent *a, const char *session, const char *from,
    const char *to)
{
	if (!check_args(a, session, from) || !check_args(a, session, to))
		return false;
	return rpc_void(a, "fs.rename", json_pack("{s:s,s:o,s:o}", "session",
	    session, "from", ftpa_bytes_json(from), "to", ftpa_bytes_json(to)));
}

bool
ftpagent_chmod(struct ftpagent *a, const char *session, const char *path,
    int mode)
{
	if (!check_args(a, session, path))
		return false;
	if (mode < 0 || mode > 07777) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.chmod: invalid mode %#o",
		    (unsigned)mode);
		return false;
	}
	return rpc_void(a, "fs.chmod", json_pack("{s:s,s:o,s:i}", "session",
	    session, "path", ftpa_bytes_json(path), "mode", mode));
}

bool
ftpagent_set_mtime(struct ftpagent *a, const char *session, const char *path,
    int64_t mtime)
{
	if (!check_args(a, session, path))
		return false;
	return rpc_void(a, "fs.set_mtime", json_pack("{s:s,s:o,s:I}",
	    "session", session, "path", ftpa_bytes_json(path), "mtime", (json_int_t)mtime));
}

bool
ftpagent_quote(struct ftpagent *a, const char *session, const char *command,
    int *code, char **text)
{
	json_t *res, *c;
	const char *t;

	if (code != NULL)
		*code = 0;
	if (text != NULL)
		*text = NULL;
	if (!check_args(a, session, command))
		return false;
	if (!rpc(a, "ftp.quote", json_pack("{s:s,s:o}", "session", session,
	    "command", ftpa_bytes_json(command)), NULL, 0, NULL, &res))
		return false;
	c = json_object_get(res, "code");
	t = json_string_value(json_object_get(res, "text"));
	if (!json_is_integer(c)) {
		json_decref(res);
		set_bad_reply(a, "ftp.quote");
		return false;
	}
	if (code != NULL)
		*code = (int)json_integer_value(c);
	if (text != NULL && (*text = bytes_dup(t != NULL ? t : "")) == NULL) {
		json_decref(res);
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	json_decref(res);
	return true;
}

/* ---- transfers ---------------------------------------------------------- */

static void
fill_result(struct ftpagent_xfer_result *r, const json_t *job, int64_t t0)
{
	json_t *v;
	double rate = 0;

	v = json_object_get(job, "bytes");
	r->bytes = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
	v = json_object_get(job, "total");
	r->total = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
	v = json_object_get(job, "rate");
	if (json_is_number(v))
		rate = json_number_value(v);
	if (rate > 0 && r->bytes > 0)
		r->seconds = (double)r->bytes / rate;
	else
		r->seconds = (double)(conn_now_ms() - t0) / 1000.0;
}

/*
 * One transfer of fd. With job NULL it waits for the end (progress on);
 * else it starts the job in the background and *job receives its id.
 */
static bool
transfer(struct ftpagent *a, const char *method, const char *direction,
    const char *session, const char *path, int fd, int64_t offset,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	struct xfer x;
	json_t *p, *res;
	const char *id;
	int64_t t0;
	int r = 0;
	bool ok;

	if (job == NULL)
		p = json_pack("{s:s,s:o,s:i,s:b}", "session", session, "path",
		    ftpa_bytes_json(path), "fd", 0, "progress", 1);
	else
		p = json_pack("{s:s,s:o,s:i,s:b}", "session", session, "path",
		    ftpa_bytes_json(path), "fd", 0, "wait", 0);
	if (p != NULL && offset > 0)
		r |= json_object_set_new(p, "offset", json_integer(offset));
	if (p != NULL && opts != NULL && opts->ascii)
		r |= json_object_set_new(p, "type", json_string("ascii"));
	if (p != NULL && opts != NULL && opts->append &&
	    strcmp(direction, "put") == 0)
		r |= json_object_set_new(p, "append", json_true());
	if (p != NULL && opts != NULL && opts->rest_restart)
		r |= json_object_set_new(p, "rest_fallback",
		    json_string("restart"));
	if (r != 0) {
		json_decref(p);
		p = NULL;
	}

	if (job != NULL) {
		if (!rpc(a, method, p, &fd, 1, NULL, &res))
			return false;
		if ((id = json_string_value(json_object_get(res, "job"))) ==
		    NULL) {
			json_decref(res);
			set_bad_reply(a, method);
			return false;
		}
		*job = strdup(id);
		json_decref(res);
		if (*job == NULL) {
			set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
			return false;
		}
		return true;
	}

	memset(&x, 0, sizeof(x));
	x.a = a;
	x.opts = opts;
	x.session = session;
	x.direction = direction;
	x.path = json_incref(json_object_get(p, "path"));
	t0 = conn_now_ms();
	ok = rpc(a, method, p, &fd, 1, &x, &res);
	free(x.job);
	json_decref(x.path);
	if (!ok)
		return false;
	if (result != NULL)
		fill_result(result, res, t0);
	json_decref(res);
	return true;
}

/* Resolves opts->offset < 0 ("resume") against a regular file's size. */
static bool
local_resume_offset(struct ftpagent *a, int fd, int64_t *offset)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		set_local_error(a, "cannot stat", "fd", errno);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "cannot resume: the fd is not a regular file");
		return false;
	}
	*offset = st.st_size;
	return true;
}

static bool
check_xfer_args(struct ftpagent *a, const char *session, const char *path,
    int fd)
{
	if (!check_args(a, session, path))
		return false;
	if (fd < 0) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid fd %d", fd);
		return false;
	}
	return true;
}

/* A background start needs somewhere to put the job id. */
static bool
job_out_ok(struct ftpagent *a, char **job)
{
	if (job != NULL)
		*job = NULL;
	if (a != NULL && a->err == FTPAGENT_OK && job == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "no job pointer");
		return false;
	}
	return true;
}

static bool
get_fd(struct ftpagent *a, const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	int64_t offset = opts != NULL ? opts->offset : 0;

	if (!check_xfer_args(a, session, path, fd))
		return false;
	if (offset < 0 && !local_resume_offset(a, fd, &offset))
		return false;
	return transfer(a, "transfer.get", "get", session, path, fd, offset,
	    opts, result, job);
}

bool
ftpagent_get_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	return get_fd(a, session, path, fd, opts, result, NULL);
}

bool
ftpagent_get_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	if (!job_out_ok(a, job))
		return false;
	return get_fd(a, session, path, fd, opts, NULL, job);
}

/* get_file into a device, FIFO or socket: written where it is. */
static bool
get_in_place(struct ftpagent *a, const char *session, const char *path,
    const struct localdest *d, int64_t offset,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result)
{
	int fd;
	bool ok;

	if (offset < 0) {
		set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "cannot resume into %s: not a regular file", d->path);
		return false;
	}
	if ((fd = localdest_open(d, a->timeout_ms)) == -1) {
		set_local_error(a, "cannot open", d->path, errno);
		return false;
	}
	ok = transfer(a, "transfer.get", "get", session, path, fd, offset,
	    opts, result, NULL);
	if (close(fd) == -1 && ok) {
		set_local_error(a, "cannot write", d->path, errno);
		ok = false;
	}
	return ok;
}

bool
ftpagent_get_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	int64_t offset = opts != NULL ? opts->offset : 0;
	struct localdest d;
	const char *part;
	int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	bool ok = false;

	if (!check_args(a, session, path))
		return false;
	if (local == NULL || *local == '\0') {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return false;
	}
	if (!usable(a))
		return false;
	if (localdest_resolve(local, &d) == -1) {
		if (errno == ENOMEM)
			set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		else
			set_local_error(a, "cannot look up", local, errno);
		return false;
	}
	if (d.kind == LOCALDEST_DIR) {
		set_local_error(a, "cannot write to", local, EISDIR);
		goto out;
	}
	if (d.kind == LOCALDEST_INPLACE) {
		ok = get_in_place(a, session, path, &d, offset, opts, result);
		goto out;
	}
	/* the .part next to the file it replaces, through any symlinks */
	part = d.part;
	if (offset == 0)
		flags |= O_TRUNC;
	if ((fd = open(part, flags, 0644)) == -1) {
		set_local_error(a, "cannot open", part, errno);
		goto out;
	}
	if (offset < 0) {
		if (!local_resume_offset(a, fd, &offset))
			goto fail;
	} else if (offset > 0 && ftruncate(fd, offset) == -1) {
		set_local_error(a, "cannot truncate", part, errno);
		goto fail;
	}
	ok = transfer(a, "transfer.get", "get", session, path, fd, offset,
	    opts, result, NULL);
	if (close(fd) == -1 && ok) {
		set_local_error(a, "cannot write", part, errno);
		ok = false;
	}
	if (ok && rename(part, d.path) == -1) {
		set_local_error(a, "cannot rename to", d.path, errno);
		ok = false;
	}
out:
	localdest_clear(&d);
	return ok;
fail:
	close(fd);
	localdest_clear(&d);
	return false;
}

static bool
put_fd(struct ftpagent *a, const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, struct ftpagent_xfer_result *result,
    char **job)
{
	int64_t offset = opts != NULL ? opts->offset : 0;
	struct ftpagent_entry e;

	if (!check_xfer_args(a, session, path, fd))
		return false;
	if (offset < 0) {
		if (ftpagent_stat(a, session, path, &e)) {
			offset = e.size > 0 ? e.size : 0;
			ftpagent_entry_clear(&e);
		} else if (a->err == FTPAGENT_ERR_NOT_FOUND) {
			reset_error(a);
			offset = 0;
		} else
			return false;
	}
	return transfer(a, "transfer.put", "put", session, path, fd, offset,
	    opts, result, job);
}

bool
ftpagent_put_fd(struct ftpagent *a, const char *session, const char *path,
    int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	return put_fd(a, session, path, fd, opts, result, NULL);
}

bool
ftpagent_put_fd_background(struct ftpagent *a, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    char **job)
{
	if (!job_out_ok(a, job))
		return false;
	return put_fd(a, session, path, fd, opts, NULL, job);
}

bool
ftpagent_put_file(struct ftpagent *a, const char *session, const char *path,
    const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result)
{
	int fd;
	bool ok;

	if (!check_args(a, session, path))
		return false;
	if (local == NULL || *local == '\0') {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return false;
	}
	if (!usable(a))
		return false;
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) == -1) {
		set_local_error(a, "cannot open", local, errno);
		return false;
	}
	ok = ftpagent_put_fd(a, session, path, fd, opts, result);
	close(fd);
	return ok;
}

/* ---- jobs ------------------------------------------------------------------ */

/* Indexed by enum ftpagent_job_state. */
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
	*out = unescape ? bytes_dup(v) : strdup(v);
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
		j->error = lib_error(w.err.kind);
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
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (r != 0)
		set_bad_reply(a, method);
	return r == 0;
}

static bool
check_job_args(struct ftpagent *a, const char *id, struct ftpagent_job *j)
{
	if (j != NULL)
		memset(j, 0, sizeof(*j));
	if (!check_args(a, "", id))
		return false;
	if (j == NULL || *id == '\0') {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "%s",
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
	if (!rpc(a, "job.status", json_pack("{s:s}", "job", id), NULL, 0,
	    NULL, &res))
		return false;
	return job_result(a, "job.status", res, j);
}

bool
ftpagent_job_wait(struct ftpagent *a, const char *id, int timeout_ms,
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
		if (rpc_wait(a, "job.wait", json_pack("{s:s,s:f}", "job", id,
		    "timeout", slice / 1000.0), NULL, 0, NULL,
		    slice > INT_MAX - a->timeout_ms ? INT_MAX :
		    slice + a->timeout_ms, &res))
			return job_result(a, "job.wait", res, j);
		if (timeout_ms > 0 || !agent_said(a, FTPAGENT_ERR_TIMEOUT))
			return false;
		reset_error(a);
	}
}

bool
ftpagent_job_cancel(struct ftpagent *a, const char *id)
{
	if (!check_args(a, "", id))
		return false;
	return rpc_void(a, "job.cancel", json_pack("{s:s}", "job", id));
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
	if (!check_args(a, "", ""))
		return false;
	if (jobs == NULL || n == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "job.list: no result pointer");
		return false;
	}
	if (!rpc(a, "job.list", json_object(), NULL, 0, NULL, &res))
		return false;
	ok = parse_array(a, "job.list", res, sizeof(*js), parse_job_cb,
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

	if (!check_args(a, "", ""))
		return false;
	if (jobs == NULL)
		which = json_string("all");
	else if ((which = json_array()) != NULL) {
		for (i = 0; jobs[i] != NULL; i++) {
			if (json_array_append_new(which, json_string(jobs[i])) ==
			    -1) {
				json_decref(which);
				set_error(a, FTPAGENT_ERR_ARGUMENT,
				    "events.subscribe: a job id is not UTF-8");
				return false;
			}
		}
	}
	/* Notifications may come before the reply: keep them already. */
	was = a->subscribed;
	a->subscribed = true;
	if (!rpc(a, "events.subscribe", json_pack("{s:o}", "jobs", which),
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
	if (a == NULL || !usable(a))
		return false;
	if (ev == NULL) {
		set_error(a, FTPAGENT_ERR_ARGUMENT, "no event pointer");
		return false;
	}
	deadline = conn_now_ms() + (timeout_ms < 0 ? a->timeout_ms :
	    timeout_ms);
	for (;;) {
		st = conn_next_note(&a->conn, deadline, &m);
		if (st == CONN_TIMEOUT && conn_is_open(&a->conn))
			return false;
		if (st != CONN_OK) {
			set_conn_error(a, st, "events");
			return false;
		}
		r = parse_event(&m, ev);
		jsonrpc_msg_clear(&m);
		if (r == 1)
			return true;
		if (r == -2) {
			set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
			return false;
		}
	}
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
		set_error(a, FTPAGENT_ERR_ARGUMENT, "no method");
		return false;
	}
	if (nfds > CONN_MAX_FDS || (nfds > 0 && fds == NULL)) {
		set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "at most %d fds per call", CONN_MAX_FDS);
		return false;
	}
	for (i = 0; i < nfds; i++) {
		if (fds[i] < 0) {
			set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid fd %d",
			    fds[i]);
			return false;
		}
	}
	if (params_json != NULL) {
		p = json_loads(params_json, 0, &jerr);
		if (p == NULL || !(json_is_object(p) || json_is_array(p))) {
			json_decref(p);
			set_error(a, FTPAGENT_ERR_ARGUMENT,
			    "params are not a JSON object or array: %s",
			    p == NULL ? jerr.text : "wrong type");
			return false;
		}
	} else if ((p = json_object()) == NULL) {
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	if (!rpc(a, method, p, fds, nfds, NULL, &res))
		return false;
	if (result_json != NULL && (*result_json = dump_json(res)) == NULL) {
		json_decref(res);
		set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
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
