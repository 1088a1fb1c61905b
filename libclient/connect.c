/*
 * libftpagent: finding the agent's socket, connecting and closing
 * (autostart.c starts a user agent when none answers).
 */
#include <config.h>

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent_priv.h"

#define SYSTEM_SOCKET		"/run/ftpd-agent/ftpd-agent.sock"
#define USER_SOCKET_NAME	"ftpd-agent.sock"

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
	a->next_id = 1;
	a->watched_deadline = -1;
	a->session_limit_rate = -1;
	if (!fa_calls_init(a)) {
		conn_free(&a->conn);
		free(a);
		return NULL;
	}
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

bool
fa_try_connect(struct ftpagent *a, const char *path, int timeout_ms)
{
	if (!set_path(a, path))
		return false;
	return conn_connect(&a->conn, path, timeout_ms) == CONN_OK;
}

static void
set_connect_error(struct ftpagent *a)
{
	char eb[128];

	fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot connect to the agent at %s: %s",
	    a->path != NULL ? a->path : "(none)",
	    fa_errstr(a->conn.err, eb, sizeof(eb)));
}

/*
 * Under cron (env -i) or su there is no $XDG_RUNTIME_DIR: the user's agent
 * is neither looked for nor started, only the system one, which is not
 * there. Say how to name the socket instead.
 */
static void
set_no_runtime_dir_error(struct ftpagent *a)
{
	char eb[128];

	fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot connect to the agent at "
	    "%s: %s; $XDG_RUNTIME_DIR is not set (as under cron or env -i), "
	    "so no user agent was looked for or started: name the agent's "
	    "socket (set $FTPAGENT_SOCKET, e.g. to "
	    "/run/user/%u/" USER_SOCKET_NAME ") or set "
	    "XDG_RUNTIME_DIR=/run/user/%u", a->path != NULL ? a->path : "(none)",
	    fa_errstr(a->conn.err, eb, sizeof(eb)), (unsigned)getuid(),
	    (unsigned)getuid());
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
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "empty socket path");
			return a;
		}
		if (fa_try_connect(a, socket_path, ctimeout))
			return a;
		if (a->path == NULL)
			goto nomem;
		if (autost && strcmp(socket_path, SYSTEM_SOCKET) != 0)
			fa_autostart_connect(a, socket_path, ctimeout);
		else
			set_connect_error(a);
		return a;
	}

	xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && *xdg == '/') {
		if (asprintf(&user, "%s/%s", xdg, USER_SOCKET_NAME) < 0)
			goto nomem;
		if (fa_try_connect(a, user, ctimeout)) {
			free(user);
			return a;
		}
	}
	if (fa_try_connect(a, SYSTEM_SOCKET, ctimeout)) {
		free(user);
		return a;
	}
	if (a->path == NULL) {
		free(user);
		goto nomem;
	}
	/* Nothing answers: start the user's own agent, like gpg does. */
	if (autost && user != NULL)
		fa_autostart_connect(a, user, ctimeout);
	else if (user == NULL)
		set_no_runtime_dir_error(a);
	else
		set_connect_error(a);
	free(user);
	return a;
nomem:
	fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	return a;
}

struct ftpagent *
ftpagent_connect(const char *socket_path)
{
	return ftpagent_connect_opts(socket_path, 0, 0);
}

struct ftpagent *
ftpagent_connect_fd(int fd)
{
	struct ftpagent *a;
	enum conn_status st;

	if ((a = agent_new(0)) == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (fd < 0) {
		fa_set_error(a, FTPAGENT_ERR_AGENT, "invalid fd %d", fd);
		return a;
	}
	if ((st = conn_adopt(&a->conn, fd)) != CONN_OK)
		fa_set_conn_error(a, st, "connect");
	return a;
}

void
fa_free_now(struct ftpagent *a)
{
	conn_free(&a->conn);
	fa_calls_free(a);
	fa_reset_error(a);
	free(a->path);
	free(a);
}

/*
 * Calls in flight end with FTPAGENT_ERR_CANCELLED; what is queued goes
 * out if the socket takes it now (a job.cancel, say). Inside a callback
 * the rest waits until the library is back in control.
 */
void
ftpagent_free(struct ftpagent *a)
{
	if (a == NULL || a->freeing)
		return;
	a->freeing = true;
	fa_calls_cancel_all(a, "the connection was freed");
	/* what is queued goes, with what the calls' ends queued last (the
	 * job.cancel of a background tree whose id had come) */
	if (conn_is_open(&a->conn) && conn_queued(&a->conn) > 0)
		(void)conn_flush(&a->conn);
	conn_close(&a->conn);
	if (a->watch != NULL)
		a->watch(a->watch_arg, -1, 0, -1);
	if (a->depth == 0)
		fa_free_now(a);
}

void
ftpagent_set_watch(struct ftpagent *a, ftpagent_watch_cb cb, void *arg)
{
	if (a == NULL)
		return;
	a->watch = cb;
	a->watch_arg = arg;
	a->watched = (unsigned)-1;
	fa_watch_update(a);
}

void
ftpagent_set_timeout(struct ftpagent *a, int timeout_ms)
{
	if (a != NULL)
		a->timeout_ms = effective_timeout(timeout_ms);
}

void
ftpagent_set_interrupt(struct ftpagent *a, volatile sig_atomic_t *flag)
{
	if (a != NULL)
		a->interrupt = flag;
}

void
ftpagent_set_connect_timeout(struct ftpagent *a, double seconds)
{
	/* NaN and the negative are "the agent's default" too */
	if (a != NULL)
		a->connect_timeout = seconds > 0 ? seconds : 0;
}

void
ftpagent_set_limit_rate(struct ftpagent *a, int64_t bytes_per_s)
{
	if (a != NULL)
		a->limit_rate = bytes_per_s > 0 ? bytes_per_s : 0;
}

void
ftpagent_set_segments(struct ftpagent *a, int n)
{
	if (a != NULL)
		a->segments = n > 1 ? n : 0;
}

void
ftpagent_set_session_limit_rate(struct ftpagent *a, int64_t bytes_per_s)
{
	if (a != NULL)
		a->session_limit_rate = bytes_per_s >= 0 ? bytes_per_s : -1;
}

const char *
ftpagent_socket_path(const struct ftpagent *a)
{
	if (a == NULL || a->path == NULL)
		return "";
	return a->path;
}
