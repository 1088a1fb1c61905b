/*
 * ftpctl: command line client of ftpd-agent (SPEC "ftpctl").
 * Each command is one function taking its own argv; main only parses the
 * global options, connects lazily and maps errors to exit codes.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpctl.h"
#include "netrc.h"

volatile sig_atomic_t interrupted;

/* ---- errors and output --------------------------------------------------- */

/* Where emit_json puts documents while a command of several targets
 * gathers them into its one (NULL: stdout). */
static json_t *gathered;

void
json_gather(json_t *arr)
{
	gathered = arr;
}

void
emit_json(json_t *doc)
{
	char *text;

	if (doc != NULL && gathered != NULL) {
		if (json_array_append_new(gathered, doc) == -1)
			output_warnx("out of memory");
		return;
	}
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
int __attribute__((format(printf, 4, 5)))
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

int
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
int
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

int
exit_status(struct ftpagent *fa)
{
	return status_of(ftpagent_error(fa), ftpagent_error_kind(fa));
}

static bool
no_runtime_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	return xdg == NULL || *xdg != '/';
}

/*
 * Reports the connection's sticky error ("ftpctl: ctx: message") and
 * returns the exit status it maps to.
 */
int
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
	/* the library's message names its ways; this one is ours */
	if (c->unreached && c->socket == NULL && no_runtime_dir())
		output_warnx("or name the socket with ftpctl -S SOCKET");
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
bool
agent(struct ctl *c)
{
	if (c->fa == NULL) {
		c->fa = ftpagent_connect_opts(c->socket,
		    c->autostart ? FTPAGENT_AUTOSTART : 0, c->timeout_ms);
		if (c->fa == NULL)
			return false;
		c->unreached = ftpagent_error(c->fa) != FTPAGENT_OK;
		if (c->timeout_ms > 0)
			ftpagent_set_timeout(c->fa, c->timeout_ms);
		/* the commands read their options before they connect */
		ftpagent_set_limit_rate(c->fa, c->limit_rate);
		ftpagent_set_segments(c->fa, c->segments);
	}
	return ftpagent_error(c->fa) == FTPAGENT_OK;
}

/* ---- targets, credentials, sessions ------------------------------------ */

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
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
bool
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
int
target_session(struct ctl *c, const struct target *t, const char *display,
    char **session)
{
	struct ftpagent_open_opts o;
	struct creds cr;
	char *url;
	int status;

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
	/* the command's session options (--tls ...), for opening and for
	 * the choice of a live session alike */
	o = c->sopts;
	o.password = cr.password;
	o.reuse = true;
	status = open_session(c, url, &cr, t->url.host, &o, display, session);
	free(url);
	creds_clear(&cr);
	return status;
}

/* Parses arg as a target; on success *display is set (caller frees). */
int
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
int
bad_option(struct ctl *c, const struct command *cmd, int ch, char **argv)
{
	const char *what = argv[optind - 1];

	if (ch == ':')
		return usage_error(c, cmd, "option %s needs an argument", what);
	if (optopt != 0)
		return usage_error(c, cmd, "unknown option -%c", optopt);
	return usage_error(c, cmd, "unknown option %s", what);
}

int
limit_rate_option(struct ctl *c, const struct command *cmd, const char *arg,
    int64_t *bps)
{
	const char *err;

	if (target_parse_rate(arg, bps, &err) == -1)
		return usage_error(c, cmd, "--limit-rate %s: %s", arg, err);
	return 0;
}

static void
sigint_handler(int sig)
{
	(void)sig;
	interrupted = 1;
}

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
void
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
bool
want_bar(const struct ctl *c)
{
	return !c->quiet && isatty(STDERR_FILENO);
}

void
xfer_begin(struct ctl *c, struct xfer_ui *ui, struct ftpagent_xfer_opts *o,
    const char *label)
{
	memset(ui, 0, sizeof(*ui));
	ui->bar = want_bar(c);
	output_progress_init(&ui->progress, STDERR_FILENO, label);
	o->progress = xfer_progress;
	o->progress_arg = ui;
	/* ^C cancels the job cleanly, at once: the library's waits look at
	 * the flag, not only the progress reports (one each 200 ms) */
	catch_sigint();
	ui->fa = c->fa;
	ftpagent_set_interrupt(ui->fa, &interrupted);
}

void
xfer_end(struct xfer_ui *ui)
{
	ftpagent_set_interrupt(ui->fa, NULL);
	output_progress_done(&ui->progress);
	signal(SIGINT, SIG_DFL);
}

json_t *
xfer_json(const char *remote, const char *local,
    const struct ftpagent_xfer_result *r)
{
	return json_pack("{s:o, s:o, s:I, s:o, s:f}", "remote", ftpa_bytes_json(remote),
	    "local", ftpa_bytes_json(local), "bytes", (json_int_t)r->bytes,
	    "total", r->total >= 0 ? json_integer(r->total) : json_null(),
	    "seconds", r->seconds);
}

/* Reads all of stdin (at most STDIN_MAX bytes) as a string. */
char *
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
"                [--list-tz UTC|+HH:MM|-HH:MM] [--connect-timeout SECS]\n"
"                [--limit-rate RATE]  (all the session's transfers)\n"
"  close NAME|URL\n"
"  sessions\n"
"  ls [-l] TARGET\n"
"  stat TARGET\n"
"  get [-c|--continue] [--ascii] [--background] [--limit-rate RATE]\n"
"      [-n|--segments N] TARGET [LOCAL|-]\n"
"  get [-c] [--background] [-n N] TARGET... DIR (DIR exists, or ends in /)\n"
"  get [--background] [-n N] 'TARGET/GLOB' [DIR] (a dir's matching files)\n"
"  get -r [--background] TARGET [DIR]\n"
"  put [-c|--continue] [--append] [--ascii] [--background]\n"
"      [--limit-rate RATE] LOCAL|- TARGET\n"
"  put [-c] [--background] LOCAL... TARGET (TARGET a remote directory)\n"
"  put -r [--background] LOCALDIR TARGET\n"
"  mirror [-R] [--delete] [--dry-run] [--newer-only] [--exclude GLOB]...\n"
"         [--include GLOB]... [-P N] [-L|-l] [--perms] [--max-depth N]\n"
"         [--background] [--limit-rate RATE] SRC DST\n"
"  mkdir [-p|--parents] TARGET\n"
"  rm [-r|--recursive] TARGET\n"
"  rmdir TARGET\n"
"  mv TARGET NEWPATH\n"
"  chmod MODE TARGET              (MODE in octal: 644, 0755)\n"
"  touch [-d|--date TIME] TARGET  (TIME in UTC: @EPOCH, YYYY-MM-DD,\n"
"                                 YYYY-MM-DDTHH:MM[:SS][Z]; default: now)\n"
"  quote NAME|URL 'RAW COMMAND'\n"
"  jobs [--running] [--failed] [--since TIME] [--all]\n"
"                                 (TIME: 30s, 10m, 2h, 1d ago, or as touch's)\n"
"  wait JOB... | --all            (exit status: the worst of the jobs)\n"
"  cancel JOB\n"
"  call METHOD [JSON|-]\n"
"  agent status|reload|stop       (never starts an agent)\n"
"  ping\n"
"  version\n"
"\n"
"TARGET is ftp://[user@]host[:port]/path (ftpes:// explicit TLS, ftps://\n"
"implicit TLS) or NAME:PATH for a session opened with 'ftpctl open'.\n"
"A URL target uses a live session that matches it (no password needed)\n"
"or opens one, with the command's --tls, --insecure, --ca-file, --active,\n"
"--list-tz and --connect-timeout.\n"
"RATE is bytes per second, with K, M or G for powers of 1024 (500K, 1.5M;\n"
"0: no limit), one limit for a whole tree or glob (get -r, put -r, mirror).\n"
"get -n N fetches each file in up to N ranges at once (1-16, ranges of at\n"
"least 1 MiB), each over a connection of the session; not with --ascii\n"
"or -r. One that stops leaves LOCAL.segments.part, which get -c continues\n"
"where each range stopped.\n"
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
	    "[--password-stdin] [--list-tz UTC|+HH:MM|-HH:MM] "
	    "[--connect-timeout SECS] [--limit-rate RATE]" },
	{ "close", cmd_close, "NAME|URL" },
	{ "sessions", cmd_sessions, "" },
	{ "ls", cmd_ls, "[-l] TARGET" },
	{ "stat", cmd_stat, "TARGET" },
	{ "get", cmd_get, "[-c|--continue] [--ascii] [--background] "
	    "[--limit-rate RATE] [-n|--segments N] TARGET "
	    "[LOCAL|-]  (--background: print the job id and exit; LOCAL.part "
	    "is renamed to LOCAL when the job is done; -n N: in up to N ranges "
	    "at once, 1 to 16); get TARGET... DIR; "
	    "get 'TARGET/GLOB' [DIR]; get -r [--background] TARGET [DIR]" },
	{ "put", cmd_put, "[-c|--continue] [--append] [--ascii] [--background] "
	    "[--limit-rate RATE] LOCAL|- TARGET; put LOCAL... TARGET; "
	    "put -r [--background] LOCALDIR TARGET" },
	{ "mirror", cmd_mirror, "[-R] [--delete] [--dry-run] [--newer-only] "
	    "[--exclude GLOB]... [--include GLOB]... [-P N] [-L|-l] [--perms] "
	    "[--max-depth N] [--background] [--limit-rate RATE] "
	    "SRC DST  (SRC a TARGET and DST a local directory; with -R the "
	    "other way)" },
	{ "mkdir", cmd_mkdir, "[-p|--parents] TARGET" },
	{ "rm", cmd_rm, "[-r|--recursive] TARGET" },
	{ "rmdir", cmd_rmdir, "TARGET" },
	{ "mv", cmd_mv, "TARGET NEWPATH" },
	{ "chmod", cmd_chmod, "MODE TARGET  (MODE in octal: 644, 0755)" },
	{ "touch", cmd_touch, "[-d|--date TIME] TARGET  (TIME in UTC: @EPOCH, "
	    "YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z]; default: now)" },
	{ "quote", cmd_quote, "NAME|URL 'RAW COMMAND'" },
	{ "jobs", cmd_jobs, "[--running] [--failed] [--since TIME] [--all]  "
	    "(TIME: 30s, 10m, 2h, 1d ago, @EPOCH, YYYY-MM-DD, "
	    "YYYY-MM-DDTHH:MM[:SS][Z])" },
	{ "wait", cmd_wait, "JOB... | --all" },
	{ "cancel", cmd_cancel, "JOB" },
	{ "call", cmd_call, "METHOD [JSON|-]" },
	{ "agent", cmd_agent, "status|reload|stop" },
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

/* --timeout SECS in milliseconds (at most a week), or -1. */
static int
timeout_ms(const char *arg)
{
	char *end;
	double secs;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(secs) ||
	    secs <= 0 || secs > 86400 * 7)
		return -1;
	return (int)(secs * 1000 + 0.999);
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
	int ch, status;

	memset(&c, 0, sizeof(c));
	c.autostart = true;
	c.session_limit_rate = -1;
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
			if ((c.timeout_ms = timeout_ms(optarg)) == -1)
				return usage_error(&c, NULL,
				    "--timeout takes seconds (> 0)");
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
	argc -= optind;
	argv += optind;
	if ((status = url_session_options(&c, cmd, &argc, argv)) != 0)
		return status;
	if (c.sopts.insecure && !c.quiet)
		fprintf(stderr, "ftpctl: warning: a session opened for a URL "
		    "will not verify the server's certificate (--insecure)\n");
	status = cmd->run(&c, cmd, argc, argv);
done:
	ftpagent_free(c.fa);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		output_warn("stdout");
		if (status == EXIT_OK)
			status = EXIT_LOCAL_IO;
	}
	return status;
}
