/*
 * ftpctl: command line client of ftpd-agent (SPEC "ftpctl").
 * Each command is one function taking its own argv; main only parses the
 * global options, connects lazily and maps errors to exit codes.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpagent.h"
#include "localdest.h"
#include "netrc.h"
#include "output.h"
#include "relay.h"
#include "target.h"
#include "url.h"
#include "wire.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_AGENT = 3,
	EXIT_CONNECT = 4,
	EXIT_NOT_FOUND = 5,
	EXIT_LOCAL_IO = 6,
	EXIT_TIMEOUT = 7,
	EXIT_CANCELLED = 8,
};

#define STDIN_MAX	(16 * 1024 * 1024)
#define WAIT_POLL_MS	500	/* wait: ask for the job's state when no
				   event came for this long */
#define FOLLOWER_WAIT_MS 30000	/* wait: for a follower's rename */
#define DEFAULT_TIMEOUT_MS 60000 /* the library's, when no -t */

struct ctl {
	const char	*socket;	/* NULL: the library's default lookup */
	bool		 json;
	bool		 quiet;
	bool		 autostart;
	int		 timeout_ms;	/* 0: the library's default */
	struct ftpagent	*fa;		/* connected on first use */
};

struct command {
	const char	*name;
	int		(*run)(struct ctl *, const struct command *, int, char **);
	const char	*usage;
};

static volatile sig_atomic_t interrupted;

/* ---- errors and output --------------------------------------------------- */

static void
emit_json(json_t *doc)
{
	char *text;

	if (doc == NULL || (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		json_decref(doc);
		output_warnx("out of memory");
		return;
	}
	json_decref(doc);
	output_json(stdout, text);
	free(text);
}

/* Prints "ftpctl: msg" and, with --json, {"error": {kind, message}}. */
static int __attribute__((format(printf, 4, 5)))
cmd_error(struct ctl *c, int status, const char *kind, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	output_warnx("%s", msg);
	if (c->json)
		emit_json(json_pack("{s:{s:s, s:s}}", "error", "kind", kind,
		    "message", msg));
	return status;
}

static int
usage_error(struct ctl *c, const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
usage_error(struct ctl *c, const struct command *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cmd_error(c, EXIT_USAGE, "usage", "%s", msg);
	if (cmd != NULL)
		fprintf(stderr, "usage: ftpctl %s%s%s\n", cmd->name,
		    *cmd->usage != '\0' ? " " : "", cmd->usage);
	else
		fprintf(stderr, "Try 'ftpctl help'.\n");
	return EXIT_USAGE;
}

/* The exit status for an error and its protocol kind. */
static int
status_of(enum ftpagent_error e, const char *kind)
{
	switch (e) {
	case FTPAGENT_OK:
		return EXIT_OK;
	case FTPAGENT_ERR_CONNECT:
	case FTPAGENT_ERR_TLS:
	case FTPAGENT_ERR_AUTH:
		return EXIT_CONNECT;
	case FTPAGENT_ERR_TIMEOUT:
		return EXIT_TIMEOUT;
	case FTPAGENT_ERR_NOT_FOUND:
		return EXIT_NOT_FOUND;
	case FTPAGENT_ERR_CANCELLED:
		return EXIT_CANCELLED;
	case FTPAGENT_ERR_LOCAL_IO:
		return EXIT_LOCAL_IO;
	case FTPAGENT_ERR_AGENT:
		return EXIT_AGENT;
	case FTPAGENT_ERR_ARGUMENT:
		return EXIT_USAGE;
	case FTPAGENT_ERR_RPC:
		/* Bad params or an unknown method are the caller's fault. */
		if (kind != NULL && (strcmp(kind, "params") == 0 ||
		    strcmp(kind, "method") == 0 || strcmp(kind, "request") == 0))
			return EXIT_USAGE;
		return EXIT_REFUSED;
	default:
		return EXIT_REFUSED;
	}
}

static int
exit_status(struct ftpagent *fa)
{
	return status_of(ftpagent_error(fa), ftpagent_error_kind(fa));
}

/*
 * Reports the connection's sticky error ("ftpctl: ctx: message") and
 * returns the exit status it maps to.
 */
static int
fail(struct ctl *c, const char *ctx)
{
	const char *msg, *kind, *data;
	json_t *err, *jdata;
	int code;

	if (c->fa == NULL)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	msg = ftpagent_error_message(c->fa);
	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (ctx != NULL && ftpagent_error(c->fa) != FTPAGENT_ERR_AGENT)
		output_warnx("%s: %s", ctx, msg);
	else
		output_warnx("%s", msg);
	if (c->json) {
		kind = ftpagent_error_kind(c->fa);
		err = json_pack("{s:s, s:s}", "kind", kind ? kind : "unknown",
		    "message", msg);
		if (err != NULL && (code = ftpagent_ftp_code(c->fa)) > 0)
			json_object_set_new(err, "ftp_code", json_integer(code));
		if (err != NULL && (data = ftpagent_error_data(c->fa)) != NULL &&
		    (jdata = json_loads(data, JSON_DECODE_ANY, NULL)) != NULL)
			json_object_set_new(err, "data", jdata);
		emit_json(err ? json_pack("{s:o}", "error", err) : NULL);
	}
	return exit_status(c->fa);
}

/* Connects on first use; false when the agent cannot be reached. */
static bool
agent(struct ctl *c)
{
	if (c->fa == NULL) {
		c->fa = ftpagent_connect_opts(c->socket,
		    c->autostart ? FTPAGENT_AUTOSTART : 0, c->timeout_ms);
		if (c->fa == NULL)
			return false;
		if (c->timeout_ms > 0)
			ftpagent_set_timeout(c->fa, c->timeout_ms);
	}
	return ftpagent_error(c->fa) == FTPAGENT_OK;
}

static enum ftp_entry_type
wire_type(enum ftpagent_entry_type t)
{
	return t == FTPAGENT_FILE ? FTP_ENTRY_FILE : t == FTPAGENT_DIR ?
	    FTP_ENTRY_DIR : t == FTPAGENT_LINK ? FTP_ENTRY_LINK :
	    FTP_ENTRY_OTHER;
}

/* --json prints what the wire carries: the library's structs go back
 * through the wire codec (protocol/wire.h). */
static json_t *
entry_json(const struct ftpagent_entry *e)
{
	struct ftp_entry w;

	memset(&w, 0, sizeof(w));
	w.name = e->name;
	w.type = wire_type(e->type);
	w.size = e->size;
	w.mtime = e->mtime;
	w.perm = e->perm;
	w.target = e->target;
	w.raw = e->raw;
	return wire_entry_json(&w);
}

/* ---- targets, credentials, sessions ------------------------------------ */

struct creds {
	char	*user;		/* NULL: anonymous */
	char	*password;	/* NULL: none */
};

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
creds_clear(struct creds *cr)
{
	wipe_free(cr->user);
	wipe_free(cr->password);
	cr->user = cr->password = NULL;
}

static bool
dup_into(char **dst, const char *s)
{
	if (s == NULL)
		return true;
	return (*dst = strdup(s)) != NULL;
}

/*
 * User and password for u: the URL's password, else stdin_pw (open
 * --password-stdin), else $FTPCTL_PASSWORD, else ~/.netrc for the host
 * (and the URL's user); the URL's user, else the netrc login, else
 * anonymous. Returns false when out of memory.
 */
static bool
resolve_creds(const struct ftp_url *u, const char *stdin_pw,
    struct creds *cr)
{
	struct netrc_entry ne;
	const char *pw, *err;
	char *path;
	int r;

	memset(cr, 0, sizeof(*cr));
	if (!dup_into(&cr->user, u->user))
		goto nomem;
	if ((pw = u->password) == NULL && (pw = stdin_pw) == NULL)
		pw = getenv("FTPCTL_PASSWORD");
	if (!dup_into(&cr->password, pw))
		goto nomem;
	if (cr->user != NULL && cr->password != NULL)
		return true;
	if ((path = netrc_default_path()) == NULL)
		return true;
	r = netrc_lookup_file(path, u->host, u->user, &ne, &err);
	if (r == -1)
		output_warnx("%s: %s", path, err);
	free(path);
	if (r != 1)
		return true;
	if (cr->user == NULL && ne.login != NULL) {
		cr->user = ne.login;
		ne.login = NULL;
	}
	if (cr->password == NULL && ne.password != NULL) {
		cr->password = ne.password;
		ne.password = NULL;
	}
	netrc_entry_clear(&ne);
	return true;
nomem:
	creds_clear(cr);
	return false;
}

/* A password-free rendering of the target, for messages. */
static char *
target_display(const struct target *t)
{
	char *s;

	if (t->kind == TARGET_URL)
		return ftp_url_format(&t->url, t->url.user, true);
	if (asprintf(&s, "%s:%s", t->session, t->path) == -1)
		return NULL;
	return s;
}

/*
 * The session for t: NAME itself, or for a URL an equal live session of
 * the agent or a new one that stays open. Returns 0 with *session (caller
 * frees), or the exit status after reporting.
 */
static int
target_session(struct ctl *c, const struct target *t, const char *display,
    char **session)
{
	struct ftpagent_open_opts o;
	struct creds cr;
	char *url;
	bool ok;

	*session = NULL;
	if (!agent(c))
		return fail(c, NULL);
	if (t->kind == TARGET_SESSION) {
		if ((*session = strdup(t->session)) == NULL)
			return cmd_error(c, EXIT_REFUSED, "nomem",
			    "out of memory");
		return 0;
	}
	if (!resolve_creds(&t->url, NULL, &cr))
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	if ((url = ftp_url_format(&t->url, cr.user, false)) == NULL) {
		creds_clear(&cr);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	memset(&o, 0, sizeof(o));
	o.password = cr.password;
	o.reuse = true;
	ok = ftpagent_open(c->fa, url, &o, session);
	free(url);
	creds_clear(&cr);
	if (!ok)
		return fail(c, display);
	return 0;
}

/* Parses arg as a target; on success *display is set (caller frees). */
static int
parse_target(struct ctl *c, const struct command *cmd, const char *arg,
    struct target *t, char **display)
{
	const char *err;

	if (target_parse(arg, t, &err) == -1)
		return usage_error(c, cmd, "bad target: %s", err);
	if ((*display = target_display(t)) == NULL) {
		target_clear(t);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	return 0;
}

/* ---- option parsing helpers -------------------------------------------------- */

/* getopt_long's messages would not carry our prefix; this does. */
static int
bad_option(struct ctl *c, const struct command *cmd, int ch, char **argv)
{
	const char *what = argv[optind - 1];

	if (ch == ':')
		return usage_error(c, cmd, "option %s needs an argument", what);
	if (optopt != 0)
		return usage_error(c, cmd, "unknown option -%c", optopt);
	return usage_error(c, cmd, "unknown option %s", what);
}

static void
sigint_handler(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct xfer_ui {
	bool			 bar;
	struct output_progress	 progress;
};

/* Draws the bar when wanted; cancels the transfer after ^C. */
static bool
xfer_progress(void *arg, int64_t bytes, int64_t total)
{
	struct xfer_ui *ui = arg;

	if (interrupted)
		return false;
	if (ui->bar)
		output_progress_cb(&ui->progress, bytes, total);
	return true;
}

/* The first ^C sets interrupted, a second one kills us. */
static void
catch_sigint(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sigint_handler;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

/* Progress bars: on stderr, only when it is a terminal, never with -q. */
static bool
want_bar(const struct ctl *c)
{
	return !c->quiet && isatty(STDERR_FILENO);
}

static void
xfer_begin(struct ctl *c, struct xfer_ui *ui, struct ftpagent_xfer_opts *o,
    const char *label)
{
	memset(ui, 0, sizeof(*ui));
	ui->bar = want_bar(c);
	output_progress_init(&ui->progress, STDERR_FILENO, label);
	o->progress = xfer_progress;
	o->progress_arg = ui;
	/* ^C cancels the job cleanly */
	catch_sigint();
}

static void
xfer_end(struct xfer_ui *ui)
{
	output_progress_done(&ui->progress);
	signal(SIGINT, SIG_DFL);
}

static json_t *
xfer_json(const char *remote, const char *local,
    const struct ftpagent_xfer_result *r)
{
	return json_pack("{s:o, s:o, s:I, s:o, s:f}", "remote", ftpa_bytes_json(remote),
	    "local", ftpa_bytes_json(local), "bytes", (json_int_t)r->bytes,
	    "total", r->total >= 0 ? json_integer(r->total) : json_null(),
	    "seconds", r->seconds);
}

/* Reads all of stdin (at most STDIN_MAX bytes) as a string. */
static char *
read_stdin(size_t max)
{
	char *buf = NULL, *p;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
		}
		n = read(STDIN_FILENO, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
	}
	buf[len] = '\0';
	return buf;
}

/* ---- commands -------------------------------------------------------------- */

static int
cmd_open(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tls", required_argument, NULL, 'T' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "active", no_argument, NULL, 'a' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "list-tz", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpagent_open_opts o;
	struct ftp_url u;
	struct creds cr;
	char *url = NULL, *session = NULL, *line = NULL, *end;
	const char *err;
	bool pw_stdin = false, ok;
	size_t cap = 0;
	ssize_t n;
	long v;
	int ch, mode;

	memset(&o, 0, sizeof(o));
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case 'T':
			if ((mode = ftp_tls_mode_from_name(optarg)) == -1)
				return usage_error(c, cmd,
				    "--tls takes none, explicit or implicit");
			o.tls = mode == FTP_TLS_NONE ? FTPAGENT_TLS_NONE :
			    mode == FTP_TLS_EXPLICIT ? FTPAGENT_TLS_EXPLICIT :
			    FTPAGENT_TLS_IMPLICIT;
			break;
		case 'k':
			o.insecure = true;
			break;
		case 'C':
			o.ca_file = optarg;
			break;
		case 'a':
			o.active = true;
			break;
		case 'm':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    v < 1 || v > 16)
				return usage_error(c, cmd,
				    "--max-connections takes 1-16");
			o.max_connections = (int)v;
			break;
		case 'p':
			pw_stdin = true;
			break;
		case 'z':
			/* the agent checks the zone's spelling */
			o.list_tz = optarg;
			break;
		default:
			return bad_option(c, cmd, ch, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return usage_error(c, cmd, "open takes NAME and URL");
	if (!target_name_valid(argv[0]))
		return usage_error(c, cmd,
		    "bad session name (1-64 of A-Z a-z 0-9 . _ -)");
	if (!ftp_url_is_url(argv[1]))
		return usage_error(c, cmd, "not an ftp://, ftpes:// or ftps:// URL");
	if (ftp_url_parse(argv[1], &u, &err) == -1)
		return usage_error(c, cmd, "bad URL: %s", err);
	if (pw_stdin) {
		if ((n = getline(&line, &cap, stdin)) == -1) {
			ftp_url_clear(&u);
			free(line);
			return cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "--password-stdin: no password on stdin");
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
	}
	ok = resolve_creds(&u, line, &cr);
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (ok)
		url = ftp_url_format(&u, cr.user, false);
	ftp_url_clear(&u);
	if (url == NULL) {
		creds_clear(&cr);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	if (o.insecure && !c->quiet)
		fprintf(stderr, "ftpctl: warning: the server's certificate will "
		    "not be verified (--insecure)\n");
	o.name = argv[0];
	o.password = cr.password;
	/* Opening the same thing twice is not an error. */
	o.reuse = true;
	ok = agent(c) && ftpagent_open(c->fa, url, &o, &session);
	creds_clear(&cr);
	if (!ok) {
		free(url);
		return fail(c, argv[0]);
	}
	if (c->json)
		emit_json(json_pack("{s:s, s:s}", "session", session,
		    "url", url));
	free(url);
	free(session);
	return EXIT_OK;
}

static int
close_url(struct ctl *c, const struct command *cmd, const char *arg)
{
	struct ftp_url u;
	struct creds cr;
	json_t *list, *s, *closed;
	const char *err, *id;
	char *res = NULL, *display, *url = NULL, *params = NULL;
	size_t i;
	int status = EXIT_OK;

	if (ftp_url_parse(arg, &u, &err) == -1)
		return usage_error(c, cmd, "bad URL: %s", err);
	display = ftp_url_format(&u, u.user, false);
	if (display == NULL || !resolve_creds(&u, NULL, &cr)) {
		free(display);
		ftp_url_clear(&u);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	/* the agent says which of its sessions serve the URL */
	if ((url = ftp_url_format(&u, cr.user, false)) != NULL &&
	    (s = json_pack("{s:s}", "url", url)) != NULL) {
		params = json_dumps(s, JSON_COMPACT);
		json_decref(s);
	}
	if (params == NULL) {
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
		goto out;
	}
	if (!agent(c) || !ftpagent_call(c->fa, "session.list", params, &res)) {
		status = fail(c, NULL);
		goto out;
	}
	if ((list = json_loads(res, 0, NULL)) == NULL || !json_is_array(list)) {
		json_decref(list);
		status = cmd_error(c, EXIT_REFUSED, "protocol",
		    "session.list: unexpected reply");
		goto out;
	}
	closed = json_array();
	json_array_foreach(list, i, s) {
		if ((id = json_string_value(json_object_get(s, "session"))) ==
		    NULL)
			continue;
		if (!ftpagent_close(c->fa, id)) {
			json_decref(closed);
			closed = NULL;
			status = fail(c, id);
			break;
		}
		json_array_append_new(closed, json_string(id));
	}
	json_decref(list);
	if (closed != NULL && json_array_size(closed) == 0) {
		json_decref(closed);
		status = cmd_error(c, EXIT_REFUSED, "no_session",
		    "%s: no open session", display);
	} else if (closed != NULL) {
		if (c->json)
			emit_json(json_pack("{s:o}", "closed", closed));
		else
			json_decref(closed);
	}
out:
	free(res);
	free(params);
	free(url);
	free(display);
	creds_clear(&cr);
	ftp_url_clear(&u);
	return status;
}

static int
cmd_close(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	char *name;
	size_t n;
	int status = EXIT_OK;

	if (argc != 2)
		return usage_error(c, cmd, "close takes NAME or URL");
	if (ftp_url_is_url(argv[1]))
		return close_url(c, cmd, argv[1]);
	/* Accept "NAME:" as well, the way targets spell sessions. */
	if ((name = strdup(argv[1])) == NULL)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	n = strlen(name);
	if (n > 0 && name[n - 1] == ':')
		name[n - 1] = '\0';
	if (!target_name_valid(name))
		status = usage_error(c, cmd, "bad session name");
	else if (!agent(c) || !ftpagent_close(c->fa, name))
		status = fail(c, name);
	else if (c->json)
		emit_json(json_pack("{s:[s]}", "closed", name));
	free(name);
	return status;
}

/* A session's connections: "BUSY/MAX", those in use of the most it may
 * open, or the open ones from an agent that tells nothing else. */
static const char *
conns_text(json_t *s, char *buf, size_t len)
{
	json_t *busy = json_object_get(s, "busy");
	json_t *open = json_object_get(s, "connections");
	json_t *max = json_object_get(s, "max_connections");

	if (json_is_integer(max))
		snprintf(buf, len, "%lld/%lld",
		    (long long)json_integer_value(busy),
		    (long long)json_integer_value(max));
	else if (json_is_integer(open))
		snprintf(buf, len, "%lld", (long long)json_integer_value(open));
	else
		snprintf(buf, len, "?");
	return buf;
}

static int
cmd_sessions(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	json_t *list, *s;
	char *res = NULL, idle[32], conns[48];
	const char *v;
	size_t i;
	int wid = 7, wurl = 3, w;

	(void)argv;
	if (argc != 1)
		return usage_error(c, cmd, "sessions takes no arguments");
	if (!agent(c) || !ftpagent_call(c->fa, "session.list", NULL, &res))
		return fail(c, NULL);
	if (c->json) {
		output_json(stdout, res);
		free(res);
		return EXIT_OK;
	}
	list = json_loads(res, 0, NULL);
	free(res);
	if (!json_is_array(list)) {
		json_decref(list);
		return cmd_error(c, EXIT_REFUSED, "protocol",
		    "session.list: unexpected reply");
	}
	json_array_foreach(list, i, s) {
		if ((w = output_text_len(stdout, json_string_value(
		    json_object_get(s, "session")))) > wid)
			wid = w;
		if ((w = output_text_len(stdout, json_string_value(
		    json_object_get(s, "url")))) > wurl)
			wurl = w;
	}
	if (json_array_size(list) > 0 && !c->quiet)
		printf("%-*s  %-*s  %-16s  %-7s  %-10s  %7s  %8s\n", wid,
		    "SESSION", wurl, "URL", "TLS", "REUSE", "STATE", "CONNS",
		    "IDLE");
	json_array_foreach(list, i, s) {
		json_t *idle_j = json_object_get(s, "idle_s");

		output_duration(idle, sizeof(idle), json_is_number(idle_j) ?
		    json_number_value(idle_j) : -1);
		/* the agent's strings, escaped on a terminal like the rest */
		v = json_string_value(json_object_get(s, "session"));
		output_field(stdout, v ? v : "?", wid);
		fputs("  ", stdout);
		v = json_string_value(json_object_get(s, "url"));
		output_field(stdout, v ? v : "?", wurl);
		fputs("  ", stdout);
		v = json_string_value(json_object_get(s, "tls"));
		w = output_text_len(stdout, v ? v : "?");
		output_text(stdout, v ? v : "?");
		if ((v = json_string_value(json_object_get(s, "tls_version"))) !=
		    NULL && *v != '\0') {
			fputc(' ', stdout);
			w += 1 + output_text_len(stdout, v);
			output_text(stdout, v);
		}
		printf("%*s  ", w < 16 ? 16 - w : 0, "");
		v = json_string_value(json_object_get(s, "tls_reuse"));
		output_field(stdout, v ? v : "-", 7);
		fputs("  ", stdout);
		v = json_string_value(json_object_get(s, "state"));
		output_field(stdout, v ? v : "?", 10);
		printf("  %7s  %8s\n", conns_text(s, conns, sizeof(conns)), idle);
	}
	json_decref(list);
	return EXIT_OK;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct ftpagent_entry *ea = a, *eb = b;

	return strcmp(ea->name, eb->name);
}

static void
print_long(const struct ftpagent_entry *e, int size_w, time_t now)
{
	char mode[OUTPUT_MODE_LEN], date[OUTPUT_DATE_LEN];

	/* A line no parser could read is best shown as the server sent it. */
	if (e->type == FTPAGENT_OTHER && e->raw != NULL) {
		output_text(stdout, e->raw);
		putchar('\n');
		return;
	}
	output_mode_string(mode, e->type, e->perm);
	output_date(date, sizeof(date), e->mtime, now);
	if (e->size >= 0)
		printf("%s %*lld %-12s ", mode, size_w, (long long)e->size,
		    date);
	else
		printf("%s %*s %-12s ", mode, size_w, "?", date);
	output_text(stdout, e->name);
	if (e->type == FTPAGENT_LINK && e->target != NULL) {
		fputs(" -> ", stdout);
		output_text(stdout, e->target);
	}
	putchar('\n');
}

static int
cmd_ls(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpagent_entry *ents = NULL;
	struct target t;
	json_t *arr;
	char *display, *session, num[32];
	size_t n = 0, i;
	bool llong = false;
	int ch, status, size_w = 1, w;
	time_t now = time(NULL);

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":l", longopts, NULL)) != -1) {
		if (ch == 'l')
			llong = true;
		else
			return bad_option(c, cmd, ch, argv);
	}
	if (argc - optind != 1)
		return usage_error(c, cmd, "ls takes one TARGET");
	if ((status = parse_target(c, cmd, argv[optind], &t, &display)) != 0)
		return status;
	if ((status = target_session(c, &t, display, &session)) != 0)
		goto out;
	if (!ftpagent_list(c->fa, session, t.path, &ents, &n)) {
		status = fail(c, display);
		free(session);
		goto out;
	}
	free(session);
	/* an empty listing may come back as NULL, which qsort must not get */
	if (n > 1)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	if (c->json) {
		if ((arr = json_array()) != NULL)
			for (i = 0; i < n; i++)
				json_array_append_new(arr, entry_json(&ents[i]));
		emit_json(arr ? json_pack("{s:o}", "entries", arr) : NULL);
	} else if (llong) {
		for (i = 0; i < n; i++) {
			w = snprintf(num, sizeof(num), "%lld",
			    (long long)ents[i].size);
			if (ents[i].size >= 0 && w > size_w)
				size_w = w;
		}
		for (i = 0; i < n; i++)
			print_long(&ents[i], size_w, now);
	} else {
		for (i = 0; i < n; i++) {
			output_text(stdout, ents[i].name);
			putchar('\n');
		}
	}
	ftpagent_entries_free(ents, n);
out:
	free(display);
	target_clear(&t);
	return status;
}

static int
cmd_stat(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_entry e;
	struct target t;
	struct tm tm;
	time_t mt;
	char *display, *session, mode[OUTPUT_MODE_LEN], date[64];
	int status;

	if (argc != 2)
		return usage_error(c, cmd, "stat takes one TARGET");
	if ((status = parse_target(c, cmd, argv[1], &t, &display)) != 0)
		return status;
	if ((status = target_session(c, &t, display, &session)) != 0)
		goto out;
	memset(&e, 0, sizeof(e));
	if (!ftpagent_stat(c->fa, session, t.path, &e)) {
		status = fail(c, display);
		free(session);
		goto out;
	}
	free(session);
	if (c->json)
		emit_json(entry_json(&e));
	else {
		fputs("name: ", stdout);
		output_text(stdout, e.name);
		putchar('\n');
		printf("type: %s\n", ftp_entry_type_name(wire_type(e.type)));
		if (e.size >= 0)
			printf("size: %lld\n", (long long)e.size);
		mt = (time_t)e.mtime;
		if (e.mtime != INT64_MIN && gmtime_r(&mt, &tm) != NULL &&
		    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
			printf("mtime: %s\n", date);
		if (e.perm >= 0) {
			output_mode_string(mode, e.type, e.perm);
			printf("perm: %04o %s\n", (unsigned)e.perm & 07777, mode);
		}
		if (e.target != NULL) {
			fputs("target: ", stdout);
			output_text(stdout, e.target);
			putchar('\n');
		}
	}
	ftpagent_entry_clear(&e);
out:
	free(display);
	target_clear(&t);
	return status;
}

/*
 * get -c on a complete or partial LOCAL without LOCAL.part: a local file
 * as long as the remote one is done (returns 1); a shorter one becomes
 * the .part to resume (returns 0). Other values are exit statuses + 100.
 */
static int
adopt_partial(struct ctl *c, const char *session, const char *path,
    const char *display, const char *local)
{
	struct ftpagent_entry e;
	struct stat st;
	char *part;
	int r = 0;

	if (asprintf(&part, "%s.part", local) == -1)
		return 100 + cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	if (lstat(part, &st) == 0 || errno != ENOENT ||
	    stat(local, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;
	memset(&e, 0, sizeof(e));
	if (!ftpagent_stat(c->fa, session, path, &e)) {
		r = 100 + fail(c, display);
		goto out;
	}
	if (e.size >= 0 && st.st_size >= e.size)
		r = 1;
	else if (rename(local, part) == -1) {
		r = 100 + cmd_error(c, EXIT_LOCAL_IO, "local_io",
		    "%s: %s", local, strerror(errno));
	}
	ftpagent_entry_clear(&e);
out:
	free(part);
	return r;
}

/* ---- background jobs ------------------------------------------------------ */

/*
 * get --background to a file: the agent writes LOCAL.part and never
 * renames a user's file, and ftpctl exits at once, so a detached
 * follower process waits for the job's end and renames LOCAL.part on
 * success (a failure leaves it for get -c). While it lives it holds a
 * lock on a file named for the agent and the job, which "ftpctl wait"
 * takes after the job's end: the rename is done when wait returns.
 */

/* FNV-1a, to name an agent's socket path in a file name. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/*
 * The follower's lock file for job on the agent at sock: next to the
 * socket when that directory is writable, else in $XDG_RUNTIME_DIR.
 * NULL when neither (the rename then goes unannounced) or out of memory.
 */
static char *
follow_lock_path(const char *sock, const char *job)
{
	const char *dir = NULL, *xdg, *slash;
	char *real, *d = NULL, *path = NULL;

	if (!target_name_valid(job))
		return NULL;
	if ((real = realpath(sock, NULL)) == NULL && (real = strdup(sock)) ==
	    NULL)
		return NULL;
	if ((slash = strrchr(real, '/')) == NULL)
		d = strdup(".");
	else
		d = strndup(real, slash == real ? 1 : (size_t)(slash - real));
	if (d != NULL && access(d, W_OK) == 0)
		dir = d;
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && *xdg == '/' &&
	    access(xdg, W_OK) == 0)
		dir = xdg;
	if (dir != NULL && asprintf(&path, "%s/.ftpctl-%016llx-%s.lock", dir,
	    (unsigned long long)fnv1a(real), job) == -1)
		path = NULL;
	free(d);
	free(real);
	return path;
}

/* Waits (a while) until the follower of job, if any, has renamed. */
static void
wait_follower(const char *sock, const char *job)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char *lock = follow_lock_path(sock, job);
	int fd, n;

	if (lock == NULL)
		return;
	if ((fd = open(lock, O_RDONLY | O_CLOEXEC)) != -1) {
		for (n = 0; n < FOLLOWER_WAIT_MS / 20; n++) {
			if (flock(fd, LOCK_SH | LOCK_NB) == 0 ||
			    errno != EWOULDBLOCK)
				break;
			nanosleep(&ts, NULL);
		}
		close(fd);
	}
	free(lock);
}

/* In the detached follower: waits for the job's end, renames on success;
 * a failure before any data came leaves no new empty .part behind.
 * Takes lock (the lock file's path, or NULL). */
static void __attribute__((noreturn))
follow_download(struct ctl *c, const char *job, const char *part,
    const char *local, bool had_part, char *lock)
{
	struct ftpagent *fa;
	struct ftpagent_job j;
	struct stat st;
	char *sock;
	bool done = false;
	int fd;

	sock = strdup(ftpagent_socket_path(c->fa));
	ftpagent_free(c->fa);
	c->fa = NULL;
	if (sock == NULL)
		_exit(1);

	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	fa = ftpagent_connect_opts(sock, 0, c->timeout_ms);
	while (fa != NULL && ftpagent_error(fa) == FTPAGENT_OK) {
		if (ftpagent_job_wait(fa, job, 0, &j)) {
			done = j.state == FTPAGENT_JOB_DONE;
			ftpagent_job_clear(&j);
			break;
		}
		/* only our own patience ran out: ask again */
		if (ftpagent_error(fa) != FTPAGENT_ERR_TIMEOUT ||
		    !ftpagent_clear_error(fa))
			break;
	}
	ftpagent_free(fa);
	free(sock);
	if (done)
		(void)rename(part, local);
	else if (!had_part && stat(part, &st) == 0 && st.st_size == 0)
		unlink(part);
	if (lock != NULL)
		unlink(lock);
	free(lock);
	_exit(0);
}

/*
 * Starts the follower of a background download, detached (double fork,
 * setsid: no zombie, no terminal). The lock is taken here, before
 * ftpctl prints the job id, and kept by the follower's inherited copy.
 */
static bool
spawn_follower(struct ctl *c, const char *job, const char *part,
    const char *local, bool had_part)
{
	const char *sock = ftpagent_socket_path(c->fa);
	char *lock;
	pid_t pid;
	int lockfd = -1, st;

	if ((lock = follow_lock_path(sock, job)) != NULL &&
	    ((lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(lockfd, LOCK_EX) == -1)) {
		free(lock);
		lock = NULL;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		if (lock != NULL)
			unlink(lock);
		free(lock);
		if (lockfd != -1)
			close(lockfd);
		return false;
	}
	if (pid == 0) {
		setsid();
		if ((pid = fork()) != 0) {
			free(lock);
			_exit(pid == -1);
		}
		/* the parent's connection stays the parent's (this only
		 * closes our copy of the socket); sock lives in c->fa */
		follow_download(c, job, part, local, had_part, lock);
	}
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	free(lock);
	if (lockfd != -1)
		close(lockfd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Prints a background job's id (or the --json document). */
static void
print_job_started(struct ctl *c, const char *job, const char *remote,
    const char *local)
{
	if (c->json)
		emit_json(json_pack("{s:s, s:o, s:o}", "job", job, "remote",
		    ftpa_bytes_json(remote), "local", ftpa_bytes_json(local)));
	else {
		output_text(stdout, job);
		putchar('\n');
	}
}

/* Opens a device or FIFO to write in place; -1 after reporting. */
static int
open_in_place(struct ctl *c, const struct localdest *d, int *status)
{
	int fd;

	/* a FIFO waits for its reader as long as for the agent */
	fd = localdest_open(d, c->timeout_ms > 0 ? c->timeout_ms :
	    DEFAULT_TIMEOUT_MS);
	if (fd == -1)
		*status = cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    d->path, errno == ENXIO && S_ISFIFO(d->type) ?
		    "no reader on the FIFO" : strerror(errno));
	return fd;
}

/*
 * get --background to LOCAL: LOCAL.part (resumed with -c, else
 * truncated) is handed to the agent and a follower renames it at the
 * job's end; a device or FIFO is handed over as it is. dest is LOCAL
 * resolved (localdest.h): through symlinks it is the target that is
 * replaced.
 */
static int
get_background(struct ctl *c, const char *session, const char *path,
    const char *display, const char *local, const struct localdest *dest,
    struct ftpagent_xfer_opts *o)
{
	struct stat st;
	const char *part = dest->part;
	char *job = NULL;
	bool had_part;
	int fd, status = EXIT_OK;

	if (dest->kind == LOCALDEST_INPLACE) {
		if ((fd = open_in_place(c, dest, &status)) == -1)
			return status;
		if (!ftpagent_get_fd_background(c->fa, session, path, fd, o,
		    &job)) {
			close(fd);
			return fail(c, display);
		}
		close(fd);
		print_job_started(c, job, path, local);
		free(job);
		return EXIT_OK;
	}
	had_part = lstat(part, &st) == 0;
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (o->offset < 0 ? 0 : O_TRUNC), 0644);
	if (fd == -1)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s", part,
		    strerror(errno));
	if (!ftpagent_get_fd_background(c->fa, session, path, fd, o, &job)) {
		close(fd);
		/* nothing came: no empty .part behind */
		if (!had_part && stat(part, &st) == 0 && st.st_size == 0)
			unlink(part);
		return fail(c, display);
	}
	close(fd);
	if (!spawn_follower(c, job, part, dest->path, had_part)) {
		status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
		    "%s: cannot start the process that renames %s; "
		    "cancelling %s", display, part, job);
		(void)ftpagent_job_cancel(c->fa, job);
	} else
		print_job_started(c, job, path, local);
	free(job);
	return status;
}

static int
cmd_get(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "continue", no_argument, NULL, 'c' },
		{ "ascii", no_argument, NULL, 'A' },
		{ "background", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result res;
	struct xfer_ui ui;
	struct localdest dest;
	struct relay rl;
	struct target t;
	struct stat st;
	const char *err, *larg, *part = NULL;
	char *display, *session = NULL, *local = NULL;
	bool cont = false, bg = false, to_stdout, in_place, had_part, ok;
	int ch, status, r, ofd, pfd;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	memset(&dest, 0, sizeof(dest));
	res.total = -1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":c", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cont = true;
			break;
		case 'A':
			o.ascii = true;
			break;
		case 'B':
			bg = true;
			break;
		default:
			return bad_option(c, cmd, ch, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		return usage_error(c, cmd, "get takes TARGET and maybe LOCAL");
	larg = argc == 2 ? argv[1] : NULL;
	to_stdout = larg != NULL && strcmp(larg, "-") == 0;
	if (to_stdout && cont)
		return usage_error(c, cmd, "cannot resume on stdout");
	if (to_stdout && bg)
		return usage_error(c, cmd, "--background writes a file, not "
		    "stdout");
	if ((status = parse_target(c, cmd, argv[0], &t, &display)) != 0)
		return status;
	if (!to_stdout) {
		local = target_get_path(t.path, larg, larg != NULL &&
		    stat(larg, &st) == 0 && S_ISDIR(st.st_mode), &err);
		if (local == NULL) {
			status = usage_error(c, cmd, "%s: %s (name a LOCAL file)",
			    display, err);
			goto out;
		}
		/* only a regular file (or nothing) is replaced, through
		 * symlinks the target; devices and FIFOs are written to */
		if (localdest_resolve(local, &dest) == -1) {
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "%s: %s", local, strerror(errno));
			goto out;
		}
		if (dest.kind == LOCALDEST_DIR) {
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "%s: %s", local, strerror(EISDIR));
			goto out;
		}
		if (dest.kind == LOCALDEST_INPLACE && cont) {
			status = usage_error(c, cmd, "%s: not a regular file, "
			    "cannot resume", local);
			goto out;
		}
		part = dest.part;
	}
	in_place = dest.kind == LOCALDEST_INPLACE && !to_stdout;
	if ((status = target_session(c, &t, display, &session)) != 0)
		goto out;
	if (cont) {
		r = adopt_partial(c, session, t.path, display, dest.path);
		if (r >= 100) {
			status = r - 100;
			goto out;
		}
		if (r == 1) {
			if (!c->quiet && !c->json)
				output_warnx("%s: already complete", local);
			if (c->json)
				emit_json(xfer_json(t.path, local, &res));
			goto out;
		}
		o.offset = -1;
	}
	if (bg) {
		status = get_background(c, session, t.path, display, local,
		    &dest, &o);
		goto out;
	}
	had_part = part != NULL && lstat(part, &st) == 0;
	ofd = STDOUT_FILENO;
	if (in_place && (ofd = open_in_place(c, &dest, &status)) == -1)
		goto out;
	xfer_begin(c, &ui, &o, to_stdout ? t.path : local);
	/* the data goes to a terminal: a bar there would garble it (curl
	 * does the same) */
	if ((to_stdout || in_place) && isatty(ofd))
		ui.bar = false;
	if (to_stdout || in_place) {
		/* a terminal or other device the agent refuses: relayed */
		if ((pfd = relay_start(&rl, ofd, true)) == -1) {
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "cannot relay to %s: %s", to_stdout ?
			    "the terminal" : local, strerror(errno));
			xfer_end(&ui);
			if (in_place)
				close(ofd);
			goto out;
		}
		ok = ftpagent_get_fd(c->fa, session, t.path, pfd, &o, &res);
		relay_finish(&rl, pfd, ok);
		if (in_place && close(ofd) == -1 && ok) {
			xfer_end(&ui);
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "%s: %s", local, strerror(errno));
			goto out;
		}
	} else
		ok = ftpagent_get_file(c->fa, session, t.path, local, &o, &res);
	xfer_end(&ui);
	/* A failure before any data came leaves no empty .part behind. */
	if (!ok && part != NULL && !had_part && lstat(part, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size == 0)
		unlink(part);
	if (!ok)
		status = fail(c, display);
	else if (c->json && !to_stdout)	/* stdout holds the file */
		emit_json(xfer_json(t.path, local, &res));
out:
	localdest_clear(&dest);
	free(session);
	free(local);
	free(display);
	target_clear(&t);
	return status;
}

/* put --background: the agent gets the open LOCAL (or stdin) and reads
 * it after we are gone. */
static int
put_background(struct ctl *c, const char *session, const char *remote,
    const char *display, const char *local, struct ftpagent_xfer_opts *o)
{
	char *job = NULL;
	bool from_stdin = strcmp(local, "-") == 0, ok;
	int fd = STDIN_FILENO;

	if (!from_stdin && (fd = open(local, O_RDONLY | O_CLOEXEC)) == -1)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s", local,
		    strerror(errno));
	ok = ftpagent_put_fd_background(c->fa, session, remote, fd, o, &job);
	if (!from_stdin)
		close(fd);
	if (!ok)
		return fail(c, display);
	print_job_started(c, job, remote, local);
	free(job);
	return EXIT_OK;
}

static int
cmd_put(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "continue", no_argument, NULL, 'c' },
		{ "append", no_argument, NULL, 'a' },
		{ "ascii", no_argument, NULL, 'A' },
		{ "background", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result res;
	struct xfer_ui ui;
	struct target t;
	struct stat st;
	const char *err, *local;
	char *display, *session = NULL, *remote = NULL;
	bool cont = false, bg = false, from_stdin, ok;
	int ch, fd, status;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	optind = 0;
	while ((ch = getopt_long(argc, argv, ":c", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cont = true;
			break;
		case 'a':
			o.append = true;
			break;
		case 'A':
			o.ascii = true;
			break;
		case 'B':
			bg = true;
			break;
		default:
			return bad_option(c, cmd, ch, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return usage_error(c, cmd, "put takes LOCAL and TARGET");
	local = argv[0];
	from_stdin = strcmp(local, "-") == 0;
	if (from_stdin && cont)
		return usage_error(c, cmd, "cannot resume from stdin");
	/* a terminal needs our relay, which ends with us */
	if (from_stdin && bg && fstat(STDIN_FILENO, &st) == 0 &&
	    S_ISCHR(st.st_mode))
		return usage_error(c, cmd, "--background cannot read a terminal");
	if (cont && o.append)
		return usage_error(c, cmd, "--continue and --append exclude "
		    "each other");
	if ((status = parse_target(c, cmd, argv[1], &t, &display)) != 0)
		return status;
	if (from_stdin) {
		size_t n = strlen(t.path);

		if (n == 0 || t.path[n - 1] == '/') {
			status = usage_error(c, cmd, "%s: name the remote file "
			    "for stdin", display);
			goto out;
		}
		remote = strdup(t.path);
	} else {
		/* Fail on an unreadable LOCAL before anything is opened. */
		if ((fd = open(local, O_RDONLY | O_CLOEXEC)) == -1) {
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "%s: %s", local, strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "%s: %s", local, strerror(EISDIR));
			goto out;
		}
		close(fd);
		if ((remote = target_put_path(t.path, local, &err)) == NULL) {
			status = usage_error(c, cmd, "%s: %s", local, err);
			goto out;
		}
	}
	if (remote == NULL) {
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
		goto out;
	}
	if ((status = target_session(c, &t, display, &session)) != 0)
		goto out;
	if (cont)
		o.offset = -1;
	if (bg) {
		status = put_background(c, session, remote, display, local, &o);
		goto out;
	}
	xfer_begin(c, &ui, &o, from_stdin ? remote : local);
	if (from_stdin) {
		struct relay	rl;
		int		pfd = relay_start(&rl, STDIN_FILENO, false);

		if (pfd == -1) {
			status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "cannot relay from the terminal: %s", strerror(errno));
			xfer_end(&ui);
			goto out;
		}
		ok = ftpagent_put_fd(c->fa, session, remote, pfd, &o, &res);
		relay_finish(&rl, pfd, ok);
	} else
		ok = ftpagent_put_file(c->fa, session, remote, local, &o, &res);
	xfer_end(&ui);
	if (!ok)
		status = fail(c, display);
	else if (c->json)
		emit_json(xfer_json(remote, local, &res));
out:
	free(session);
	free(remote);
	free(display);
	target_clear(&t);
	return status;
}

/* ---- file system commands ------------------------------------------------ */

/* A target resolved to its session. */
struct resolved {
	struct target	 t;
	char		*display;
	char		*session;
	bool		 parsed;
};

static void
resolved_clear(struct resolved *r)
{
	free(r->session);
	free(r->display);
	if (r->parsed)
		target_clear(&r->t);
	memset(r, 0, sizeof(*r));
}

/* Parses arg and finds its session; 0, or the exit status after
 * reporting (nothing to clear then). */
static int
resolve(struct ctl *c, const struct command *cmd, const char *arg,
    struct resolved *r)
{
	int status;

	memset(r, 0, sizeof(*r));
	if ((status = parse_target(c, cmd, arg, &r->t, &r->display)) != 0)
		return status;
	r->parsed = true;
	if ((status = target_session(c, &r->t, r->display, &r->session)) != 0)
		resolved_clear(r);
	return status;
}

/* The end of a command whose result is {}: reports a failure, or prints
 * doc (stolen) with --json. Clears r. */
static int
fs_done(struct ctl *c, struct resolved *r, bool ok, json_t *doc)
{
	int status = EXIT_OK;

	if (!ok) {
		status = fail(c, r->display);
		json_decref(doc);
	} else if (c->json)
		emit_json(doc);
	else
		json_decref(doc);
	resolved_clear(r);
	return status;
}

static int
cmd_mkdir(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "parents", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct resolved r;
	bool parents = false, ok;
	int ch, status;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":p", longopts, NULL)) != -1) {
		if (ch == 'p')
			parents = true;
		else
			return bad_option(c, cmd, ch, argv);
	}
	if (argc - optind != 1)
		return usage_error(c, cmd, "mkdir takes one TARGET");
	if ((status = resolve(c, cmd, argv[optind], &r)) != 0)
		return status;
	ok = ftpagent_mkdir(c->fa, r.session, r.t.path, parents);
	return fs_done(c, &r, ok, json_pack("{s:b, s:o}", "ok", 1, "path",
	    ftpa_bytes_json(r.t.path)));
}

static int
cmd_rm(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "recursive", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct resolved r;
	struct target t;
	const char *err;
	bool recursive = false, ok;
	int ch, status;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":rR", longopts, NULL)) != -1) {
		if (ch == 'r' || ch == 'R')
			recursive = true;
		else
			return bad_option(c, cmd, ch, argv);
	}
	if (argc - optind != 1)
		return usage_error(c, cmd, "rm takes one TARGET");
	/* Before any session is opened: never the whole login directory. */
	if (target_parse(argv[optind], &t, &err) == 0) {
		ok = !target_path_is_top(t.path);
		target_clear(&t);
		if (!ok)
			return usage_error(c, cmd, "%s: refusing to remove the "
			    "login directory or one above it", argv[optind]);
	}
	if ((status = resolve(c, cmd, argv[optind], &r)) != 0)
		return status;
	ok = ftpagent_remove(c->fa, r.session, r.t.path, recursive);
	return fs_done(c, &r, ok, json_pack("{s:b, s:o}", "ok", 1, "path",
	    ftpa_bytes_json(r.t.path)));
}

static int
cmd_rmdir(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct resolved r;
	int status;
	bool ok;

	if (argc != 2)
		return usage_error(c, cmd, "rmdir takes one TARGET");
	if ((status = resolve(c, cmd, argv[1], &r)) != 0)
		return status;
	ok = ftpagent_rmdir(c->fa, r.session, r.t.path);
	return fs_done(c, &r, ok, json_pack("{s:b, s:o}", "ok", 1, "path",
	    ftpa_bytes_json(r.t.path)));
}

static int
cmd_mv(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct resolved r;
	struct target t;
	const char *err;
	char *to, *dst;
	size_t n;
	int status;
	bool ok;

	if (argc != 3)
		return usage_error(c, cmd, "mv takes TARGET and NEWPATH");
	if (target_parse(argv[1], &t, &err) == -1)
		return usage_error(c, cmd, "bad target: %s", err);
	to = target_rename_path(&t, argv[2], &err);
	/* "dir/" (or "") keeps the name, like put */
	if (to != NULL && ((n = strlen(to)) == 0 || to[n - 1] == '/')) {
		dst = target_put_path(to, t.path, &err);
		free(to);
		to = dst;
	}
	target_clear(&t);
	if (to == NULL)
		return usage_error(c, cmd, "%s: %s", argv[2], err);
	if ((status = resolve(c, cmd, argv[1], &r)) != 0) {
		free(to);
		return status;
	}
	ok = ftpagent_rename(c->fa, r.session, r.t.path, to);
	status = fs_done(c, &r, ok, json_pack("{s:b, s:o, s:o}", "ok", 1,
	    "from", ftpa_bytes_json(r.t.path), "to", ftpa_bytes_json(to)));
	free(to);
	return status;
}

static int
cmd_chmod(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct resolved r;
	int mode, status;
	bool ok;

	if (argc != 3)
		return usage_error(c, cmd, "chmod takes MODE and TARGET");
	if (target_parse_mode(argv[1], &mode) == -1)
		return usage_error(c, cmd, "%s: MODE must be octal, like 644 "
		    "or 0755", argv[1]);
	if ((status = resolve(c, cmd, argv[2], &r)) != 0)
		return status;
	ok = ftpagent_chmod(c->fa, r.session, r.t.path, mode);
	return fs_done(c, &r, ok, json_pack("{s:b, s:o, s:i}", "ok", 1,
	    "path", ftpa_bytes_json(r.t.path), "mode", mode));
}

static int
cmd_touch(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "date", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct resolved r;
	const char *err;
	int64_t mtime = (int64_t)time(NULL);
	int ch, status;
	bool ok;

	optind = 0;
	while ((ch = getopt_long(argc, argv, ":d:", longopts, NULL)) != -1) {
		if (ch != 'd')
			return bad_option(c, cmd, ch, argv);
		if (target_parse_time(optarg, &mtime, &err) == -1)
			return usage_error(c, cmd, "%s: %s", optarg, err);
	}
	if (argc - optind != 1)
		return usage_error(c, cmd, "touch takes one TARGET");
	if ((status = resolve(c, cmd, argv[optind], &r)) != 0)
		return status;
	ok = ftpagent_set_mtime(c->fa, r.session, r.t.path, mtime);
	return fs_done(c, &r, ok, json_pack("{s:b, s:o, s:I}", "ok", 1,
	    "path", ftpa_bytes_json(r.t.path), "mtime", (json_int_t)mtime));
}

/* "CMD ARG ARG" from the words of argv (at least one). */
static char *
join_words(int argc, char **argv)
{
	size_t len = 0;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int
cmd_quote(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct resolved r;
	char *arg, *command, *text = NULL, *line;
	int code = 0, status;

	if (argc < 3)
		return usage_error(c, cmd, "quote takes NAME or URL and a "
		    "COMMAND");
	/* NAME alone names a session, like NAME: */
	if (!ftp_url_is_url(argv[1]) && strchr(argv[1], ':') == NULL) {
		if (asprintf(&arg, "%s:", argv[1]) == -1)
			return cmd_error(c, EXIT_REFUSED, "nomem",
			    "out of memory");
	} else if ((arg = strdup(argv[1])) == NULL)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	if ((command = join_words(argc - 2, argv + 2)) == NULL) {
		free(arg);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	if (*command == '\0' || ftp_unsafe_string(command, strlen(command))) {
		free(arg);
		free(command);
		return usage_error(c, cmd, "COMMAND must be one line of text");
	}
	status = resolve(c, cmd, arg, &r);
	free(arg);
	if (status != 0) {
		free(command);
		return status;
	}
	if (!ftpagent_quote(c->fa, r.session, command, &code, &text)) {
		free(command);
		resolved_clear(&r);
		return fail(c, argv[1]);
	}
	free(command);
	resolved_clear(&r);
	if (c->json)
		emit_json(json_pack("{s:i, s:o}", "code", code, "text",
		    ftpa_bytes_json(text != NULL ? text : "")));
	else if ((line = output_ftp_reply(code, text)) != NULL) {
		output_lines(stdout, line);
		putchar('\n');
		free(line);
	} else
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	free(text);
	/* The server's refusal is the command's failure. */
	if (status == EXIT_OK && code >= 400)
		status = EXIT_REFUSED;
	return status;
}

/* ---- jobs ---------------------------------------------------------------- */

static const char *
dir_name(enum ftpagent_xfer_dir d)
{
	return d == FTPAGENT_XFER_GET ? "get" : d == FTPAGENT_XFER_PUT ? "put" :
	    "?";
}

static json_t *
job_json(const struct ftpagent_job *j)
{
	struct wire_job w;

	memset(&w, 0, sizeof(w));
	w.id = j->id;
	w.state = (int)j->state - 1;	/* the library counts from UNKNOWN */
	w.put = j->direction == FTPAGENT_XFER_PUT;
	w.session = j->session;
	w.path = j->path;
	w.bytes = j->bytes;
	w.total = j->total;
	w.rate = j->rate;
	w.seconds = j->seconds;
	w.eta = j->eta;
	w.started = j->started;
	w.ended = j->ended;
	w.uid = j->uid;
	w.attempts = j->attempts;
	if (j->error_message != NULL) {
		w.err.kind = ftpa_err_from_name(j->error_kind);
		w.err.message = j->error_message;
		w.err.ftp_code = j->ftp_code;
		w.err.ftp_text = j->ftp_text;
	}
	return wire_job_json(&w);
}

static bool
job_ended(const struct ftpagent_job *j)
{
	return j->state == FTPAGENT_JOB_DONE ||
	    j->state == FTPAGENT_JOB_FAILED ||
	    j->state == FTPAGENT_JOB_CANCELLED;
}

/* j2 before j10: shorter ids first, then in byte order. */
static int
job_cmp(const void *a, const void *b)
{
	const struct ftpagent_job *ja = a, *jb = b;
	size_t la = strlen(ja->id), lb = strlen(jb->id);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ja->id, jb->id);
}

static int
cmd_jobs(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_job *js = NULL;
	json_t *arr;
	char b[OUTPUT_BYTES_LEN], t[OUTPUT_BYTES_LEN], r[OUTPUT_BYTES_LEN + 2];
	size_t n = 0, i;
	int wid = 3, w;

	(void)argv;
	if (argc != 1)
		return usage_error(c, cmd, "jobs takes no arguments");
	if (!agent(c) || !ftpagent_job_list(c->fa, &js, &n))
		return fail(c, NULL);
	if (n > 1)
		qsort(js, n, sizeof(*js), job_cmp);
	if (c->json) {
		if ((arr = json_array()) != NULL)
			for (i = 0; i < n; i++)
				json_array_append_new(arr, job_json(&js[i]));
		emit_json(arr);
		ftpagent_jobs_free(js, n);
		return EXIT_OK;
	}
	for (i = 0; i < n; i++)
		if ((w = output_text_len(stdout, js[i].id)) > wid)
			wid = w;
	if (n > 0 && !c->quiet)
		printf("%-*s  %-9s  %-3s  %10s  %10s  %12s  %s\n", wid, "JOB",
		    "STATE", "DIR", "BYTES", "TOTAL", "RATE", "PATH");
	for (i = 0; i < n; i++) {
		output_bytes(b, sizeof(b), js[i].bytes);
		output_bytes(t, sizeof(t), js[i].total);
		if (js[i].rate > 0) {
			output_bytes(r, sizeof(r) - 2, (int64_t)js[i].rate);
			strcat(r, "/s");
		} else
			snprintf(r, sizeof(r), "-");
		output_field(stdout, js[i].id, wid);
		printf("  %-9s  %-3s  %10s  %10s  %12s  ",
		    ftpagent_job_state_name(js[i].state),
		    dir_name(js[i].direction), b, t, r);
		output_text(stdout, js[i].session != NULL ? js[i].session :
		    "?");
		putchar(':');
		output_text(stdout, js[i].path != NULL ? js[i].path : "?");
		putchar('\n');
	}
	ftpagent_jobs_free(js, n);
	return EXIT_OK;
}

/* Subscribes to job's events; false (error reported) unless that worked
 * or the agent is one without events, which wait then polls. */
static bool
subscribe_job(struct ctl *c, const char *job)
{
	const char *jobs[2] = { job, NULL };

	if (ftpagent_subscribe(c->fa, jobs))
		return true;
	return ftpagent_error(c->fa) == FTPAGENT_ERR_RPC &&
	    strcmp(ftpagent_error_kind(c->fa), "method") == 0 &&
	    ftpagent_clear_error(c->fa);
}

/*
 * Follows job until it ends, drawing the bar on a terminal: from its
 * job.progress events, and from job.status whenever none came for
 * WAIT_POLL_MS (an agent without events, or one that went quiet).
 * Returns false with the error set, or when interrupted (^C).
 */
static bool
follow_job(struct ctl *c, const char *job, struct ftpagent_job *j)
{
	struct output_progress prog;
	struct ftpagent_event ev;
	const char *base;
	char label[256];
	bool bar = want_bar(c), ok = true;

	if (!ftpagent_job_status(c->fa, job, j))
		return false;
	/* the remote file's name, as a foreground get shows the local one */
	base = j->path != NULL ? j->path : job;
	if (strrchr(base, '/') != NULL && strrchr(base, '/')[1] != '\0')
		base = strrchr(base, '/') + 1;
	snprintf(label, sizeof(label), "%s", base);
	output_progress_init(&prog, STDERR_FILENO, label);
	catch_sigint();
	while (!job_ended(j) && !interrupted) {
		if (bar)
			output_progress_rate(&prog, j->bytes, j->total, j->rate);
		if (ftpagent_next_event(c->fa, &ev, WAIT_POLL_MS)) {
			if (ev.job.id != NULL && strcmp(ev.job.id, job) == 0) {
				ftpagent_job_clear(j);
				*j = ev.job;
				memset(&ev.job, 0, sizeof(ev.job));
			}
			ftpagent_event_clear(&ev);
			continue;
		}
		if (ftpagent_error(c->fa) != FTPAGENT_OK) {
			ok = false;
			break;
		}
		ftpagent_job_clear(j);
		if (!ftpagent_job_status(c->fa, job, j)) {
			ok = false;
			break;
		}
	}
	output_progress_done(&prog);
	return ok && !interrupted;
}

static int
cmd_wait(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_job j;
	const char *job;
	int status = EXIT_OK;

	if (argc != 2)
		return usage_error(c, cmd, "wait takes one JOB");
	job = argv[1];
	memset(&j, 0, sizeof(j));
	if (!agent(c) || !subscribe_job(c, job))
		return fail(c, job);
	if (!follow_job(c, job, &j)) {
		ftpagent_job_clear(&j);
		if (interrupted) {
			/* the job runs on; we die of the ^C as usual */
			signal(SIGINT, SIG_DFL);
			raise(SIGINT);
		}
		return fail(c, job);
	}
	signal(SIGINT, SIG_DFL);
	/* a get --background's file is renamed once its follower is done */
	if (j.direction == FTPAGENT_XFER_GET)
		wait_follower(ftpagent_socket_path(c->fa), job);
	if (j.state == FTPAGENT_JOB_CANCELLED)
		status = EXIT_CANCELLED;
	else if (j.state != FTPAGENT_JOB_DONE)
		status = status_of(j.error, j.error_kind);
	if (status != EXIT_OK)
		output_warnx("%s: %s", job, j.error_message != NULL ?
		    j.error_message : ftpagent_job_state_name(j.state));
	if (c->json)
		emit_json(job_json(&j));
	ftpagent_job_clear(&j);
	return status;
}

static int
cmd_cancel(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	if (argc != 2)
		return usage_error(c, cmd, "cancel takes one JOB");
	if (!agent(c) || !ftpagent_job_cancel(c->fa, argv[1]))
		return fail(c, argv[1]);
	if (c->json)
		emit_json(json_pack("{s:s, s:b}", "job", argv[1], "cancelled",
		    1));
	return EXIT_OK;
}

static int
cmd_call(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	json_error_t jerr;
	json_t *params = NULL;
	char *buf = NULL, *res = NULL;
	const char *text = NULL;
	int status = EXIT_OK;

	if (argc < 2 || argc > 3)
		return usage_error(c, cmd, "call takes METHOD and maybe JSON");
	if (argc == 3) {
		if (strcmp(argv[2], "-") == 0) {
			if ((buf = read_stdin(STDIN_MAX)) == NULL)
				return cmd_error(c, EXIT_LOCAL_IO, "local_io",
				    "stdin: %s", strerror(errno));
			text = buf;
		} else
			text = argv[2];
		params = json_loads(text, 0, &jerr);
		if (params == NULL || (!json_is_object(params) &&
		    !json_is_array(params))) {
			status = params == NULL ?
			    usage_error(c, cmd, "params: %s", jerr.text) :
			    usage_error(c, cmd, "params must be an object or "
			    "an array");
			goto out;
		}
	}
	if (!agent(c) || !ftpagent_call(c->fa, argv[1], text, &res))
		status = fail(c, argv[1]);
	else
		output_json(stdout, res);
out:
	json_decref(params);
	free(res);
	free(buf);
	return status;
}

static int
cmd_ping(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	char *res = NULL;

	(void)argv;
	if (argc != 1)
		return usage_error(c, cmd, "ping takes no arguments");
	if (!agent(c) || !ftpagent_call(c->fa, "agent.ping", NULL, &res))
		return fail(c, NULL);
	free(res);
	if (c->json)
		emit_json(json_pack("{s:b}", "pong", 1));
	else
		printf("pong\n");
	return EXIT_OK;
}

static int
cmd_version(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	json_t *info = NULL;
	char *res = NULL;
	const char *v;
	int status = EXIT_OK;

	(void)argv;
	if (argc != 1)
		return usage_error(c, cmd, "version takes no arguments");
	if (!agent(c) || !ftpagent_call(c->fa, "rpc.info", NULL, &res)) {
		/* Our own version still goes out; then the error. */
		if (!c->json)
			printf("ftpctl %s\n", PACKAGE_VERSION);
		status = c->fa ? exit_status(c->fa) : EXIT_REFUSED;
		output_warnx("%s", c->fa ? ftpagent_error_message(c->fa) :
		    "out of memory");
	} else
		info = json_loads(res, 0, NULL);
	free(res);
	if (c->json) {
		emit_json(json_pack("{s:s, s:s, s:o}", "ftpctl", PACKAGE_VERSION,
		    "libftpagent", ftpagent_version(),
		    "agent", info != NULL ? info : json_null()));
		return status;
	}
	if (status != EXIT_OK)
		return status;
	printf("ftpctl %s\n", PACKAGE_VERSION);
	printf("libftpagent %s\n", ftpagent_version());
	v = json_string_value(json_object_get(info, "name"));
	output_text(stdout, v != NULL ? v : "ftpd-agent");
	putchar(' ');
	v = json_string_value(json_object_get(info, "version"));
	output_text(stdout, v != NULL ? v : "?");
	printf(" (protocol %lld)\n",
	    (long long)json_integer_value(json_object_get(info, "protocol")));
	json_decref(info);
	return EXIT_OK;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: ftpctl [-S SOCKET] [-j|--json] [-q|--quiet] [-t|--timeout SECS]\n"
"              [--no-autostart] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  open NAME URL [--tls none|explicit|implicit] [--insecure] [--ca-file F]\n"
"                [--active] [--max-connections N] [--password-stdin]\n"
"                [--list-tz UTC|+HH:MM|-HH:MM]\n"
"  close NAME|URL\n"
"  sessions\n"
"  ls [-l] TARGET\n"
"  stat TARGET\n"
"  get [-c|--continue] [--ascii] [--background] TARGET [LOCAL|-]\n"
"  put [-c|--continue] [--append] [--ascii] [--background] LOCAL|- TARGET\n"
"  mkdir [-p|--parents] TARGET\n"
"  rm [-r|--recursive] TARGET\n"
"  rmdir TARGET\n"
"  mv TARGET NEWPATH\n"
"  chmod MODE TARGET              (MODE in octal: 644, 0755)\n"
"  touch [-d|--date TIME] TARGET  (TIME in UTC: @EPOCH, YYYY-MM-DD,\n"
"                                 YYYY-MM-DDTHH:MM[:SS][Z]; default: now)\n"
"  quote NAME|URL 'RAW COMMAND'\n"
"  jobs\n"
"  wait JOB\n"
"  cancel JOB\n"
"  call METHOD [JSON|-]\n"
"  ping\n"
"  version\n"
"\n"
"TARGET is ftp://[user@]host[:port]/path (ftpes:// explicit TLS, ftps://\n"
"implicit TLS) or NAME:PATH for a session opened with 'ftpctl open'.\n"
"NEWPATH is a path on TARGET's session (or NAME:PATH or a URL of it);\n"
"ending in '/' it keeps TARGET's name.\n"
"Passwords come from --password-stdin, $FTPCTL_PASSWORD or ~/.netrc.\n"
"\n"
"get/put --background start the transfer in the agent, print the job id and\n"
"exit; the job runs on. A background get writes LOCAL.part and a detached\n"
"ftpctl process renames it to LOCAL when the job is done (a failed or\n"
"cancelled one leaves LOCAL.part for 'get -c'). 'wait JOB' follows a job\n"
"with a progress bar and exits like the transfer would have (0 done,\n"
"8 cancelled); after a background get it returns once LOCAL is in place.\n");
}

static int
cmd_help(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	(void)c;
	(void)cmd;
	(void)argc;
	(void)argv;
	usage(stdout);
	return EXIT_OK;
}

static const struct command commands[] = {
	{ "open", cmd_open, "NAME URL [--tls none|explicit|implicit] "
	    "[--insecure] [--ca-file F] [--active] [--max-connections N] "
	    "[--password-stdin] [--list-tz UTC|+HH:MM|-HH:MM]" },
	{ "close", cmd_close, "NAME|URL" },
	{ "sessions", cmd_sessions, "" },
	{ "ls", cmd_ls, "[-l] TARGET" },
	{ "stat", cmd_stat, "TARGET" },
	{ "get", cmd_get, "[-c|--continue] [--ascii] [--background] TARGET "
	    "[LOCAL|-]  (--background: print the job id and exit; LOCAL.part "
	    "is renamed to LOCAL when the job is done)" },
	{ "put", cmd_put, "[-c|--continue] [--append] [--ascii] [--background] "
	    "LOCAL|- TARGET" },
	{ "mkdir", cmd_mkdir, "[-p|--parents] TARGET" },
	{ "rm", cmd_rm, "[-r|--recursive] TARGET" },
	{ "rmdir", cmd_rmdir, "TARGET" },
	{ "mv", cmd_mv, "TARGET NEWPATH" },
	{ "chmod", cmd_chmod, "MODE TARGET  (MODE in octal: 644, 0755)" },
	{ "touch", cmd_touch, "[-d|--date TIME] TARGET  (TIME in UTC: @EPOCH, "
	    "YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z]; default: now)" },
	{ "quote", cmd_quote, "NAME|URL 'RAW COMMAND'" },
	{ "jobs", cmd_jobs, "" },
	{ "wait", cmd_wait, "JOB" },
	{ "cancel", cmd_cancel, "JOB" },
	{ "call", cmd_call, "METHOD [JSON|-]" },
	{ "ping", cmd_ping, "" },
	{ "version", cmd_version, "" },
	{ "help", cmd_help, "" },
};

static const struct command *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * ps shows our argv: work on copies of URLs that carry a password and
 * blank the password in the originals.
 */
static void
hide_passwords(int argc, char **argv)
{
	size_t off, len;
	char *copy;
	int i;

	for (i = 1; i < argc; i++) {
		if (!target_password_span(argv[i], &off, &len) || len == 0 ||
		    (copy = strdup(argv[i])) == NULL)
			continue;
		memset(argv[i] + off, '*', len);
		argv[i] = copy;
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 't' },
		{ "no-autostart", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c;
	const struct command *cmd;
	char *end;
	double secs;
	int ch, status;

	memset(&c, 0, sizeof(c));
	c.autostart = true;
	c.socket = getenv("FTPAGENT_SOCKET");
	if (c.socket != NULL && *c.socket == '\0')
		c.socket = NULL;
	/* Writing to a closed stdout must be an error (EPIPE), not death. */
	signal(SIGPIPE, SIG_IGN);
	/* a server's names on a terminal: escaped (cli/escape.c) */
	output_setup();

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:S:jqt:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'S':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'q':
			c.quiet = true;
			break;
		case 't':
			errno = 0;
			secs = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !isfinite(secs) || secs <= 0 || secs > 86400 * 7)
				return usage_error(&c, NULL,
				    "--timeout takes seconds (> 0)");
			c.timeout_ms = (int)(secs * 1000 + 0.999);
			break;
		case 'N':
			c.autostart = false;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			cmd = find_command("version");
			optind = argc;
			status = cmd->run(&c, cmd, 1, (char *[]){ "version",
			    NULL });
			goto done;
		default:
			return bad_option(&c, NULL, ch, argv);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	hide_passwords(argc, argv);
	if ((cmd = find_command(argv[optind])) == NULL)
		return usage_error(&c, NULL, "unknown command '%s'",
		    argv[optind]);
	status = cmd->run(&c, cmd, argc - optind, argv + optind);
done:
	ftpagent_free(c.fa);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		output_warn("stdout");
		if (status == EXIT_OK)
			status = EXIT_LOCAL_IO;
	}
	return status;
}
