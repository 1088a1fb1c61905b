#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "agent.h"
#include "castore.h"
#include "conf.h"
#include "events.h"
#include "control.h"
#include "job.h"
#include "log.h"
#include "ndjson.h"
#include "resolver.h"
#include "rpc.h"
#include "session.h"
#include "util.h"
#include "worker.h"

#define SYSTEM_SOCKET_DIR	"/run/ftpd-agent"
#define SYSTEM_SOCKET		SYSTEM_SOCKET_DIR "/ftpd-agent.sock"
#define SHUTDOWN_GRACE		3.0
#define SHUTDOWN_ABORT_WAIT	1.5	/* of the grace: for ABOR replies */
#define STATUS_INTERVAL		1.0	/* seconds between STATUS= checks */

static ev_signal	sig_term, sig_int, sig_hup;
static char		*conf_path;		/* the file read, for SIGHUP */
static bool		 conf_given;		/* -c: it must exist */
static int		 verbose_flag;		/* -v given: logging stays debug */
static ev_timer		shutdown_timer;
static ev_timer		shutdown_abort_timer;
static ev_check		shutdown_check;
static bool		shutting_down;
static bool		sessions_closed;	/* shutdown: QUIT sent */
static ev_timer		status_timer;
static char		status_sent[128];
static ev_timer		stop_timer;		/* agent.stop */

/* What the command line asked for. */
struct agent_args {
	bool		 user;
	bool		 foreground;
	const char	*path;		/* -S */
	const char	*log;		/* --log */
	int		 mode;		/* --socket-mode, -1: none */
	int		 verbose;
};

static struct agent_self self;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ftpd-agent [--user | --system] [-S SOCKET] [-c CONFIG] [-f]\n"
	    "                  [-v...] [--socket-mode MODE]\n"
	    "  --user           per-user agent: $XDG_RUNTIME_DIR/ftpd-agent.sock, mode 0600\n"
	    "  --system         system agent: " SYSTEM_SOCKET ", mode 0660\n"
	    "  -S, --socket     listen on this path instead\n"
	    "  -c, --config     configuration file (default: " SYSCONFDIR
	    "/ftpd-agent.conf,\n"
	    "                   --user: ~/.config/ftpd-agent/ftpd-agent.conf)\n"
	    "  -f, --foreground do not detach; log to stderr\n"
	    "  -l, --log FILE   log to FILE (--user, detached: default\n"
	    "                   $XDG_STATE_HOME/ftpd-agent/agent.log)\n"
	    "  -v, --verbose    more logging (debug)\n"
	    "  --socket-mode    permission bits of the socket (octal)\n"
	    "  -V, --version    print the version\n");
}

/* sd_notify(3) by hand: the protocol is documented as stable for this. */
static void
notify(const char *msg)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len) == -1)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

struct job_tally {
	size_t	running;
	size_t	queued;
};

static void
status_count(const struct job *j, void *arg)
{
	struct job_tally	*t = arg;

	if (j->state == JOB_RUNNING)
		t->running++;
	else if (j->state == JOB_QUEUED)
		t->queued++;
}

/* "STATUS=2 sessions, 1 job running, 3 queued" for systemctl status. */
static void
status_format(char *buf, size_t len)
{
	struct job_tally	t = { 0, 0 };
	size_t			nsess = session_count(0, true);

	job_each(status_count, &t);
	snprintf(buf, len, "STATUS=%zu session%s, %zu job%s running, %zu queued",
	    nsess, nsess == 1 ? "" : "s", t.running, t.running == 1 ? "" : "s",
	    t.queued);
}

/*
 * Counts change in many places; rather than hook them all, look once a
 * second and tell systemd only when the line differs (throttled by
 * construction).
 */
static void
status_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	char	buf[sizeof(status_sent)];

	status_format(buf, sizeof(buf));
	if (strcmp(buf, status_sent) == 0)
		return;
	memcpy(status_sent, buf, sizeof(status_sent));
	notify(buf);
}

static void
shutdown_finish(void)
{
	ev_timer_stop(loop_get(), &status_timer);
	ev_signal_stop(loop_get(), &sig_term);
	ev_signal_stop(loop_get(), &sig_int);
	ev_signal_stop(loop_get(), &sig_hup);
	ev_timer_stop(loop_get(), &shutdown_timer);
	ev_timer_stop(loop_get(), &stop_timer);
	ev_timer_stop(loop_get(), &shutdown_abort_timer);
	ev_check_stop(loop_get(), &shutdown_check);
	ev_break(loop_get(), EVBREAK_ALL);
}

static void
shutdown_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_info("shutdown: sessions did not close in time");
	shutdown_finish();
}

/* Second step of the drain: QUIT on every connection that is logged in. */
static void
shutdown_close_sessions(void)
{
	if (sessions_closed)
		return;
	sessions_closed = true;
	ev_timer_stop(loop_get(), &shutdown_abort_timer);
	session_close_all();
}

static void
shutdown_abort_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_debug("shutdown: ABOR unanswered, closing sessions");
	shutdown_close_sessions();
}

static void
shutdown_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	if (!sessions_closed && !session_winding_down())
		shutdown_close_sessions();
	if (!session_any())
		shutdown_finish();
}

/*
 * SIGTERM: stop accepting, cancel the jobs (a running transfer gets ABOR
 * and its .part stays for a resume), wait a little for the ABOR replies,
 * then QUIT every session; exit when they are closed or SHUTDOWN_GRACE
 * has passed, whichever comes first.
 */
static void
shutdown_start(void)
{
	if (shutting_down) {
		shutdown_finish();	/* second signal: now */
		return;
	}
	shutting_down = true;
	log_info("shutting down");
	ev_timer_stop(loop_get(), &status_timer);
	notify("STOPPING=1\nSTATUS=shutting down");
	control_shutdown();
	job_cancel_all();
	control_close_all();
	ev_timer_init(&shutdown_timer, shutdown_timer_cb, SHUTDOWN_GRACE, 0.);
	ev_timer_start(loop_get(), &shutdown_timer);
	ev_timer_init(&shutdown_abort_timer, shutdown_abort_timer_cb,
	    SHUTDOWN_ABORT_WAIT, 0.);
	ev_timer_start(loop_get(), &shutdown_abort_timer);
	ev_check_init(&shutdown_check, shutdown_check_cb);
	ev_check_start(loop_get(), &shutdown_check);
	if (!session_winding_down())
		shutdown_close_sessions();
	/* nothing to wait for: do not sit out the grace period */
	if (!session_any())
		shutdown_finish();
}

/* What may change while running takes effect now (limits, logging); the
 * rest is read when a session or job starts. */
static void
conf_apply(void)
{
	const struct agent_conf	*cf = conf_current();

	control_set_limits(cf->max_clients, cf->max_clients_per_uid);
	log_setlevel(verbose_flag ? LOG_LVL_DEBUG : cf->log_level);
}

static int
conf_reload(char *err, size_t errlen)
{
	struct agent_conf	 c;
	char			 keys[256];

	if (conf_load(&c, conf_path, conf_given, err, errlen) == -1) {
		log_warnx("SIGHUP: %s; the configuration in use stays", err);
		return -1;
	}
	self.config_found = access(conf_path, F_OK) == 0;
	conf_install_reload(&c, keys, sizeof(keys));
	if (keys[0] != '\0')
		log_warnx("SIGHUP: %s changed: takes effect at the next start",
		    keys);
	conf_apply();
	castore_reload();	/* off the loop; the old store serves meanwhile */
	log_info("SIGHUP: %s reloaded", conf_path);
	return 0;
}

int
agent_reload(char *err, size_t errlen)
{
	int	rc = 0;

	/* systemctl reload returns once READY=1 follows */
	notify("RELOADING=1");
	if (conf_path != NULL)
		rc = conf_reload(err, errlen);
	notify("READY=1");
	return rc;
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	shutdown_start();
}

void
agent_stop(void)
{
	/* a second agent.stop in the same turn: the first one holds */
	if (ev_is_active(&stop_timer) || shutting_down)
		return;
	/* timers run after the loop's prepare step, which writes replies */
	ev_timer_init(&stop_timer, stop_timer_cb, 0., 0.);
	ev_timer_start(loop_get(), &stop_timer);
}

const struct agent_self *
agent_self(void)
{
	return &self;
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	char	err[512];

	if (w->signum == SIGHUP) {
		(void)agent_reload(err, sizeof(err));
		return;
	}
	shutdown_start();
}

/* -c, else the mode's file: SYSCONFDIR or $XDG_CONFIG_HOME (~/.config). */
static char *
default_conf_path(bool user)
{
	const char	*xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (!user)
		return xstrdup(SYSCONFDIR "/ftpd-agent.conf");
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/ftpd-agent/ftpd-agent.conf", xdg);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.config/ftpd-agent/ftpd-agent.conf", home);
	return NULL;
}

/*
 * A detached user agent logs where its user finds it (XDG base
 * directories: state); a system agent has the journal, a foreground one
 * its stderr.
 */
static char *
default_log_path(const struct agent_args *a)
{
	const char	*xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (!a->user || a->foreground || getenv("LISTEN_FDS") != NULL)
		return NULL;
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/ftpd-agent/agent.log", xdg);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.local/state/ftpd-agent/agent.log", home);
	return NULL;
}

/* --log, else the default: fd 2 goes there before anything is logged. */
static void
open_log(const struct agent_args *a)
{
	char	*def = a->log == NULL ? default_log_path(a) : NULL;
	const char *path = a->log != NULL ? a->log : def;

	if (path != NULL && log_open_file(path) == -1)
		fprintf(stderr, "ftpd-agent: log file %s: %s\n", path,
		    strerror(errno));
	free(def);
}

/*
 * sd_listen_fds(3) by hand. The first passed fd must be a listening Unix
 * stream socket; it stays systemd's: the agent never unlinks, chmods or
 * chowns it. Returns the fd, or -1 when nothing was passed to us; *name
 * gets its path for the log (caller frees).
 */
static int
inherited_socket(char **name)
{
	const char		*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_un	 sun;
	socklen_t		 len = sizeof(int);
	int			 fd = 3, n, type = 0, domain = 0, acc = 0;

	*name = NULL;
	n = pid && fds && atol(pid) == (long)getpid() ? atoi(fds) : 0;
	/* not for children, whoever they were meant for */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n < 1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain,
	    &len)) == -1 ||
	    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc,
	    &len)) == -1 ||
	    type != SOCK_STREAM || domain != AF_UNIX || !acc)
		fatalx("LISTEN_FDS: fd 3 is not a listening Unix stream socket "
		    "(ListenStream= with a path in the socket unit)");
	/* one socket is all we use; do not keep the others open */
	for (int i = 1; i < n; i++) {
		log_warnx("LISTEN_FDS: ignoring extra socket fd %d", fd + i);
		close(fd + i);
	}
	len = sizeof(sun);
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0] != '\0')
		*name = xstrndup(sun.sun_path, sizeof(sun.sun_path));
	else
		*name = xstrdup("(inherited socket)");
	return fd;
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Detaches; the parent exits once the child listens (0) or failed (1), so
 * whoever started us knows the socket is ready.
 */
static int
daemonize(void)
{
	int	p[2], nul;
	char	c;
	pid_t	pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 && c == 'R' ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		log_warn("chdir /");
	if ((nul = open("/dev/null", O_RDWR)) != -1) {
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
		if (log_getverbose() < 1 && !log_to_file()) {
			dup2(nul, STDERR_FILENO);
			log_stderr_detached();
		}
		if (nul > STDERR_FILENO)
			close(nul);
	}
	return p[1];
}

/* Reads the options; returns -1 to go on, else the exit status. */
static int
parse_args(int argc, char *argv[], struct agent_args *a)
{
	static const struct option longopts[] = {
		{ "user",	no_argument,		NULL, 'u' },
		{ "system",	no_argument,		NULL, 's' },
		{ "socket",	required_argument,	NULL, 'S' },
		{ "config",	required_argument,	NULL, 'c' },
		{ "foreground",	no_argument,		NULL, 'f' },
		{ "log",	required_argument,	NULL, 'l' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "socket-mode", required_argument,	NULL, 'm' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	*end;
	long	 m;
	int	 ch;

	while ((ch = getopt_long(argc, argv, "S:c:fl:vVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
		case 's':
			a->user = ch == 'u';
			break;
		case 'S':
			a->path = optarg;
			break;
		case 'c':
			free(conf_path);
			conf_path = xstrdup(optarg);
			conf_given = true;
			break;
		case 'f':
			a->foreground = true;
			break;
		case 'l':
			a->log = optarg;
			break;
		case 'v':
			verbose_flag = ++a->verbose;
			break;
		case 'V':
			printf("ftpd-agent %s\n", PACKAGE_VERSION);
			return 0;
		case 'm':
			m = strtol(optarg, &end, 8);
			if (*optarg == '\0' || *end != '\0' || m < 0 || m > 0777) {
				fprintf(stderr, "ftpd-agent: bad --socket-mode %s\n", optarg);
				return 2;
			}
			a->mode = (int)m;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/*
 * Where to listen: an inherited socket (systemd), -S, the configuration's
 * socket, or the default of the mode. *owned is what to free at the end.
 */
static void
choose_socket(const struct agent_args *a, struct control_opts *co,
    char **owned)
{
	const struct agent_conf *cf = conf_current();
	const char	*path = a->path ? a->path : cf->socket, *xdg;
	int		 mode = a->mode >= 0 ? a->mode : cf->socket_mode;

	memset(co, 0, sizeof(*co));
	*owned = NULL;
	co->listen_fd = inherited_socket(owned);
	if (co->listen_fd >= 0)
		path = *owned;	/* -S and the socket key do not apply */
	else if (path == NULL && a->user) {
		if ((xdg = getenv("XDG_RUNTIME_DIR")) == NULL || *xdg == '\0')
			fatalx("--user needs $XDG_RUNTIME_DIR or -S SOCKET");
		path = *owned = xasprintf("%s/ftpd-agent.sock", xdg);
	} else if (path == NULL) {
		path = SYSTEM_SOCKET;
		if (mkdir(SYSTEM_SOCKET_DIR, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", SYSTEM_SOCKET_DIR);
	}
	co->path = path;
	co->mode = mode >= 0 ? (mode_t)mode : a->user ? 0600 : 0660;
	co->max_msg = cf->max_message;
	co->max_conns = cf->max_clients;
	co->max_conns_per_uid = cf->max_clients_per_uid;
}

/* The socket's group: socket_group, or ftpd-agent for the system agent. */
static void
socket_chgrp(const struct agent_args *a, const struct control_opts *co)
{
	const char	*group = conf_current()->socket_group;
	const char	*gname = group ? group : "ftpd-agent";
	struct group	*gr;

	if (co->listen_fd >= 0 || (a->user && group == NULL))
		return;
	gr = getgrnam(gname);
	if (gr == NULL && group != NULL)
		log_warnx("socket_group %s: no such group", gname);
	if (gr != NULL && chown(co->path, (uid_t)-1, gr->gr_gid) == -1)
		log_warn("chown %s", co->path);
}

/* Signals, READY=1 and the status for systemd, the ready pipe. */
static void
announce(const struct agent_args *a, const struct control_opts *co,
    int readyfd)
{
	char	ready[sizeof(status_sent) + 16];

	ev_signal_init(&sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sig_int, signal_cb, SIGINT);
	ev_signal_init(&sig_hup, signal_cb, SIGHUP);
	ev_signal_start(loop_get(), &sig_term);
	ev_signal_start(loop_get(), &sig_int);
	ev_signal_start(loop_get(), &sig_hup);
	log_info("listening on %s (%s mode%s)", co->path,
	    a->user ? "user" : "system",
	    co->listen_fd >= 0 ? ", socket activated" : "");
	status_format(status_sent, sizeof(status_sent));
	snprintf(ready, sizeof(ready), "READY=1\n%s", status_sent);
	notify(ready);
	if (getenv("NOTIFY_SOCKET") != NULL) {
		ev_timer_init(&status_timer, status_timer_cb, STATUS_INTERVAL,
		    STATUS_INTERVAL);
		ev_timer_start(loop_get(), &status_timer);
	}
	if (readyfd != -1) {
		if (write(readyfd, "R", 1) != 1)
			log_warn("ready pipe");
		close(readyfd);
	}
}

int
main(int argc, char *argv[])
{
	struct agent_args	 a = { .user = getuid() != 0, .mode = -1 };
	struct control_opts	 co;
	struct agent_conf	 cf;
	char			*owned, err[512];
	int			 rc, readyfd = -1;

	if ((rc = parse_args(argc, argv, &a)) != -1)
		return rc;
	log_init(a.verbose, getenv("JOURNAL_STREAM") != NULL);
	open_log(&a);
	if (conf_path == NULL)
		conf_path = default_conf_path(a.user);
	self.config = conf_path;
	self.config_found = conf_path != NULL && access(conf_path, F_OK) == 0;
	if (conf_path == NULL)
		conf_defaults(&cf);
	else if (conf_load(&cf, conf_path, conf_given, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "ftpd-agent: %s\n", err);
		return 1;
	}
	conf_install(&cf);
	choose_socket(&a, &co, &owned);
	self.socket = co.path;
	self.user = a.user;
	self.activated = co.listen_fd >= 0;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (!a.foreground && co.listen_fd < 0)
		readyfd = daemonize();

	loop_set(EV_DEFAULT);
	defer_init(loop_get());
	resolver_init(loop_get());
	/* verifying sessions are told; the others work */
	if (castore_init(err, sizeof(err)) == -1)
		log_warnx("%s", err);
	rpc_init();
	events_init();
	if (control_listen(&co) == -1)
		return 1;
	conf_apply();
	socket_chgrp(&a, &co);
	announce(&a, &co, readyfd);
	ev_run(loop_get(), 0);

	defer_run();
	if (!worker_drain(2.0)) {
		/* a lookup or a CA file stuck in the kernel: exit without
		 * tearing down what its thread still uses */
		log_info("stopped (a worker thread still blocked)");
		_exit(0);
	}
	log_info("stopped");
	free(owned);
	free(conf_path);
	conf_install(NULL);
	return 0;
}
