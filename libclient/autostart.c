/*
 * libftpagent: starting a user agent when none answers (like gpg starts
 * gpg-agent), and saying why when that did not work: the command line,
 * how it ended and the end of its log.
 *
 * The caller must not be left with a child: a child of ours runs the
 * agent in a new session and waits for it. "ftpd-agent" (without -f)
 * exits 0 once its detached copy listens, 1 when it could not start;
 * the child sends us that status, or the errno of a failed exec, over a
 * pipe. An agent that stays in the foreground (a wrapper, an old
 * version) never exits; then we stop waiting at the deadline, kill the
 * child, whose own child (the agent) lives on, and reap it.
 */
#include <config.h>

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent_priv.h"

#define AUTOSTART_WAIT_MS	3000
#define AUTOSTART_POLL_MS	50
#define LOG_TAIL_LINES		5
#define LOG_TAIL_BYTES		2048

/* What the child tells us, in this order of importance. */
enum start_report {
	REPORT_NONE,
	REPORT_EXEC_ERRNO,	/* value: the exec's errno */
	REPORT_EXITED,		/* value: the exit status */
	REPORT_SIGNALED,	/* value: the signal */
};

struct report {
	int	what;
	int	value;
};

struct start {
	char		*bin;
	char		*log;		/* NULL: nowhere we know of */
	const char	*path;
	off_t		 log_off;	/* the log's size before the start */
	pid_t		 child;
	int		 rfd;
	struct report	 rep;
};

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

/*
 * The agent's log, where ftpd-agent puts a detached user agent's:
 * $XDG_STATE_HOME/ftpd-agent/agent.log, else ~/.local/state/...; the
 * directories are made (0700) so that the agent's stderr can go there
 * from its first message on. NULL when there is no home to put it in.
 */
static char *
log_path(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[1024], *path, *p;

	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&path, "%s/ftpd-agent/agent.log", xdg) < 0)
			return NULL;
	} else {
		/* cron's env -i has no $HOME; the password file does */
		if ((home == NULL || home[0] != '/') &&
		    getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 &&
		    res != NULL)
			home = pw.pw_dir;
		if (home == NULL || home[0] != '/')
			return NULL;
		if (asprintf(&path, "%s/.local/state/ftpd-agent/agent.log",
		    home) < 0)
			return NULL;
	}
	for (p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		(void)mkdir(path, 0700);
		*p = '/';
	}
	return path;
}

/* An fd >= 3, close-on-exec, so that dup2 onto 0..3 cannot clobber it. */
static int
high_fd(int fd)
{
	int nfd;

	if (fd < 0 || fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* In the grandchild: only async-signal-safe calls from here on. */
static void
exec_agent(char *const argv[], int logfd, int wfd, int maxfd)
{
	struct report r = { REPORT_EXEC_ERRNO, 0 };
	sigset_t all;
	int fd;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(logfd >= 0 ? logfd : fd, 2);
		if (fd > 2)
			close(fd);
	}
	/* the report pipe on 3, closed by a successful exec */
	if (wfd != 3) {
		dup2(wfd, 3);
		fcntl(3, F_SETFD, FD_CLOEXEC);
	}
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
#endif
		for (fd = 4; fd < maxfd; fd++)
			close(fd);
	execv(argv[0], argv);
	r.value = errno;
	(void)write(3, &r, sizeof(r));
	_exit(127);
}

/* In the child: runs the agent in a session of its own, reports its end. */
static void __attribute__((noreturn))
start_child(char *const argv[], int logfd, int wfd, long maxfd)
{
	struct report r = { REPORT_NONE, 0 };
	pid_t pid;
	int status;

	/* a caller that ignores SIGCHLD would have the agent's status
	 * reaped away from us */
	signal(SIGCHLD, SIG_DFL);
	setsid();
	if ((pid = fork()) == 0)
		exec_agent(argv, logfd, wfd, (int)maxfd);
	if (pid == -1) {
		r.what = REPORT_EXEC_ERRNO;
		r.value = errno;
	} else {
		while (waitpid(pid, &status, 0) == -1)
			if (errno != EINTR)
				_exit(1);
		r.what = WIFSIGNALED(status) ? REPORT_SIGNALED : REPORT_EXITED;
		r.value = WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status);
	}
	(void)write(wfd, &r, sizeof(r));
	_exit(0);
}

static bool
start(struct ftpagent *a, struct start *s)
{
	char *argv[7], eb[128];
	struct stat st;
	int p[2], logfd = -1, e;
	long maxfd = sysconf(_SC_OPEN_MAX);

	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	argv[0] = s->bin;
	argv[1] = (char *)"--user";
	argv[2] = (char *)"-S";
	argv[3] = (char *)s->path;
	argv[4] = s->log != NULL ? (char *)"--log" : NULL;
	argv[5] = s->log;
	argv[6] = NULL;
	if (s->log != NULL) {
		logfd = high_fd(open(s->log, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOCTTY, 0600));
		if (logfd >= 0 && fstat(logfd, &st) == 0)
			s->log_off = st.st_size;
	}
	if (pipe2(p, O_CLOEXEC) == -1 || (p[0] = high_fd(p[0])) == -1 ||
	    (p[1] = high_fd(p[1])) == -1) {
		e = errno;
		if (logfd >= 0)
			close(logfd);
		fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot start %s: %s",
		    s->bin, fa_errstr(e, eb, sizeof(eb)));
		return false;
	}
	s->child = fork();
	if (s->child == 0)
		start_child(argv, logfd, p[1], maxfd);
	e = errno;
	close(p[1]);
	if (logfd >= 0)
		close(logfd);
	if (s->child == -1) {
		close(p[0]);
		fa_set_error(a, FTPAGENT_ERR_AGENT, "cannot start %s: %s",
		    s->bin, fa_errstr(e, eb, sizeof(eb)));
		return false;
	}
	s->rfd = p[0];
	return true;
}

/* Takes the child's report when there is one; false while none came. */
static bool
read_report(struct start *s, int wait_ms)
{
	struct pollfd pfd = { .fd = s->rfd, .events = POLLIN };
	struct report r;
	ssize_t n;

	if (s->rfd < 0 || poll(&pfd, 1, wait_ms) <= 0)
		return false;
	n = read(s->rfd, &r, sizeof(r));
	if (n != (ssize_t)sizeof(r)) {
		/* gone without a word: nothing more to learn */
		close(s->rfd);
		s->rfd = -1;
		return false;
	}
	/* the exec's errno comes before the child's "exited 127" */
	if (s->rep.what == REPORT_NONE)
		s->rep = r;
	return true;
}

/* The last lines the agent wrote to its log, indented, in buf. */
static void
log_tail(const struct start *s, char *buf, size_t len)
{
	char raw[LOG_TAIL_BYTES + 1], *p, *line, *save = NULL;
	off_t off = s->log_off, size;
	ssize_t n;
	int fd, lines = 0;
	size_t used = 0;

	buf[0] = '\0';
	if (s->log == NULL || (fd = open(s->log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	/* a log moved aside at start (agent.log.1) begins anew */
	if (size < off)
		off = 0;
	if (size - off > LOG_TAIL_BYTES)
		off = size - LOG_TAIL_BYTES;
	n = off >= 0 ? pread(fd, raw, LOG_TAIL_BYTES, off) : -1;
	close(fd);
	if (n <= 0)
		return;
	raw[n] = '\0';
	while (n > 0 && raw[n - 1] == '\n')
		raw[--n] = '\0';
	/* back from the end to the start of the LOG_TAIL_LINES-th line */
	for (p = raw + n; p > raw && lines < LOG_TAIL_LINES; p--)
		if (p[-1] == '\n' && ++lines == LOG_TAIL_LINES)
			break;
	for (line = strtok_r(p, "\n", &save); line != NULL && used + 1 < len;
	    line = strtok_r(NULL, "\n", &save)) {
		int w = snprintf(buf + used, len - used, "\n  %s", line);

		if (w < 0)
			break;
		used += (size_t)w < len - used ? (size_t)w : len - used - 1;
	}
}

/* Why the agent we started does not answer, in one message. */
static void
start_error(struct ftpagent *a, const struct start *s)
{
	char cmd[1024], how[256], tail[LOG_TAIL_BYTES + 64], eb[128];
	char logw[1100];

	snprintf(cmd, sizeof(cmd), "%s --user -S %s%s%s", s->bin, s->path,
	    s->log != NULL ? " --log " : "", s->log != NULL ? s->log : "");
	switch (s->rep.what) {
	case REPORT_EXEC_ERRNO:
		snprintf(how, sizeof(how), "could not be run: %s",
		    fa_errstr(s->rep.value, eb, sizeof(eb)));
		break;
	case REPORT_EXITED:
		if (s->rep.value == 0)
			snprintf(how, sizeof(how), "said it listens, yet does "
			    "not answer: %s", fa_errstr(a->conn.err, eb,
			    sizeof(eb)));
		else
			snprintf(how, sizeof(how), "exited with status %d",
			    s->rep.value);
		break;
	case REPORT_SIGNALED:
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
		    s->rep.value, strsignal(s->rep.value));
		break;
	default:
		snprintf(how, sizeof(how), "does not answer after %d s",
		    AUTOSTART_WAIT_MS / 1000);
		break;
	}
	log_tail(s, tail, sizeof(tail));
	if (s->rep.what == REPORT_EXEC_ERRNO)
		logw[0] = '\0';	/* nothing ran that could log */
	else if (s->log == NULL)
		snprintf(logw, sizeof(logw), " (it has no log: no $HOME or "
		    "$XDG_STATE_HOME)");
	else if (tail[0] != '\0')
		snprintf(logw, sizeof(logw), "; its log %s ends:", s->log);
	else
		snprintf(logw, sizeof(logw), "; its log %s says nothing",
		    s->log);
	fa_set_error(a, FTPAGENT_ERR_AGENT, "no agent answered on %s; started "
	    "'%s', which %s%s%s", s->path, cmd, how, logw, tail);
}

/* No child of ours stays behind, whatever state it is in. */
static void
start_reap(struct start *s)
{
	if (s->rfd >= 0)
		close(s->rfd);
	if (s->child > 0) {
		if (waitpid(s->child, NULL, WNOHANG) == 0) {
			kill(s->child, SIGKILL);
			while (waitpid(s->child, NULL, 0) == -1 &&
			    errno == EINTR)
				;
		}
	}
	free(s->bin);
	free(s->log);
}

void
fa_autostart_connect(struct ftpagent *a, const char *path, int ctimeout)
{
	struct start s = { .path = path, .rfd = -1 };
	int64_t deadline;
	bool ok = false;

	if ((s.bin = find_agent_bin()) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_AGENT,
		    "no agent answers on %s and ftpd-agent was not found "
		    "(set $FTPD_AGENT_BIN or $PATH)", path);
		return;
	}
	s.log = log_path();
	if (!start(a, &s)) {
		start_reap(&s);
		return;
	}
	deadline = conn_now_ms() + AUTOSTART_WAIT_MS;
	for (;;) {
		if ((ok = fa_try_connect(a, path, ctimeout)) || a->path == NULL)
			break;
		/* an agent that failed has said so: no need to wait on */
		if ((s.rep.what == REPORT_EXITED && s.rep.value != 0) ||
		    s.rep.what == REPORT_SIGNALED ||
		    s.rep.what == REPORT_EXEC_ERRNO ||
		    conn_now_ms() >= deadline)
			break;
		if (!read_report(&s, AUTOSTART_POLL_MS) && s.rfd < 0)
			(void)poll(NULL, 0, AUTOSTART_POLL_MS);
	}
	if (!ok && a->path == NULL)
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (!ok)
		start_error(a, &s);
	start_reap(&s);
}
