/*
 * libftpagent: finding the agent's socket, starting a user agent when
 * none answers, connecting and closing.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent_priv.h"

#define SYSTEM_SOCKET		"/run/ftpd-agent/ftpd-agent.sock"
#define USER_SOCKET_NAME	"ftpd-agent.sock"
#define AUTOSTART_WAIT_MS	3000
#define AUTOSTART_POLL_MS	50

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
		fa_set_error(a, FTPAGENT_ERR_AGENT,
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

		fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot start ftpd-agent: %s",
		    fa_errstr(errno, eb, sizeof(eb)));
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

	fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot connect to the agent at %s: %s",
	    a->path != NULL ? a->path : "(none)",
	    fa_errstr(a->conn.err, eb, sizeof(eb)));
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
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
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
			fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "empty socket path");
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
	if (conn_is_open(&a->conn) && conn_queued(&a->conn) > 0)
		(void)conn_flush(&a->conn);
	a->freeing = true;
	fa_calls_cancel_all(a, "the connection was freed");
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

const char *
ftpagent_socket_path(const struct ftpagent *a)
{
	if (a == NULL || a->path == NULL)
		return "";
	return a->path;
}
