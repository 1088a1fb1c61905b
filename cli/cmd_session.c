/*
 * ftpctl: open, close, sessions, call, ping, version.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ftpctl.h"
#include "wire.h"

#define CONNECT_TIMEOUT_MAX	3600.0

/* The options that shape a session: open's, and those of every command
 * with URL targets (url_session_options); session_option reads them. */
#define SESSION_LONGOPTS \
	{ "tls", required_argument, NULL, 'T' }, \
	{ "insecure", no_argument, NULL, 'k' }, \
	{ "ca-file", required_argument, NULL, 'C' }, \
	{ "active", no_argument, NULL, 'a' }, \
	{ "list-tz", required_argument, NULL, 'z' }, \
	{ "connect-timeout", required_argument, NULL, 'c' }

static const struct option session_longopts[] = {
	SESSION_LONGOPTS,
	{ NULL, 0, NULL, 0 },
};

/* One of session_longopts into *o: 0, or the exit status after
 * reporting. */
static int
session_option(struct ctl *c, const struct command *cmd, int ch,
    const char *arg, struct ftpagent_open_opts *o)
{
	char *end;
	double v;
	int mode;

	switch (ch) {
	case 'T':
		if ((mode = ftp_tls_mode_from_name(arg)) == -1)
			return usage_error(c, cmd,
			    "--tls takes none, explicit or implicit");
		o->tls = mode == FTP_TLS_NONE ? FTPAGENT_TLS_NONE :
		    mode == FTP_TLS_EXPLICIT ? FTPAGENT_TLS_EXPLICIT :
		    FTPAGENT_TLS_IMPLICIT;
		return 0;
	case 'k':
		o->insecure = true;
		return 0;
	case 'C':
		o->ca_file = arg;
		return 0;
	case 'a':
		o->active = true;
		return 0;
	case 'z':
		/* the agent checks the zone's spelling */
		o->list_tz = arg;
		return 0;
	case 'c':
		errno = 0;
		v = strtod(arg, &end);
		if (errno != 0 || end == arg || *end != '\0' || !(v > 0) ||
		    v > CONNECT_TIMEOUT_MAX)
			return usage_error(c, cmd, "--connect-timeout takes "
			    "seconds (> 0, at most %.0f)", CONNECT_TIMEOUT_MAX);
		c->connect_timeout = v;
		return 0;
	default:
		return usage_error(c, cmd, "unknown session option");
	}
}

/* open's options into *o and *pw_stdin. 0, or the exit status. */
static int
open_options(struct ctl *c, const struct command *cmd, int *argc,
    char ***argv, struct ftpagent_open_opts *o, bool *pw_stdin)
{
	static const struct option longopts[] = {
		SESSION_LONGOPTS,
		{ "max-connections", required_argument, NULL, 'm' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "limit-rate", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int ch, status;

	optind = 0;
	while ((ch = getopt_long(*argc, *argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    v < 1 || v > 16)
				return usage_error(c, cmd,
				    "--max-connections takes 1-16");
			o->max_connections = (int)v;
			break;
		case 'p':
			*pw_stdin = true;
			break;
		case 'r':
			if ((status = limit_rate_option(c, cmd, optarg,
			    &c->session_limit_rate)) != 0)
				return status;
			break;
		case 'T': case 'k': case 'C': case 'a': case 'z': case 'c':
			if ((status = session_option(c, cmd, ch, optarg, o)) !=
			    0)
				return status;
			break;
		default:
			return bad_option(c, cmd, ch, *argv);
		}
	}
	*argc -= optind;
	*argv += optind;
	return 0;
}

/* Commands whose operands may be URL targets. */
static const char *const url_commands[] = {
	"ls", "stat", "get", "put", "mirror", "mkdir", "rm", "rmdir", "mv",
	"chmod", "touch", "quote",
};

int
url_session_options(struct ctl *c, const struct command *cmd, int *argc,
    char **argv)
{
	const struct option *lo;
	const char *name, *arg, *eq;
	size_t i, n;
	int in, out, status;
	bool takes = false;

	for (i = 0; i < sizeof(url_commands) / sizeof(url_commands[0]); i++)
		if (strcmp(cmd->name, url_commands[i]) == 0)
			takes = true;
	if (!takes)
		return 0;
	for (in = out = 1; in < *argc; in++) {
		if (strcmp(argv[in], "--") == 0) {
			while (in < *argc)
				argv[out++] = argv[in++];
			break;
		}
		name = argv[in];
		if (strncmp(name, "--", 2) != 0)
			goto keep;
		name += 2;
		n = (eq = strchr(name, '=')) != NULL ? (size_t)(eq - name) :
		    strlen(name);
		for (lo = session_longopts; lo->name != NULL; lo++)
			if (strlen(lo->name) == n && strncmp(lo->name, name, n) ==
			    0)
				break;
		if (lo->name == NULL)
			goto keep;
		arg = NULL;
		if (lo->has_arg == required_argument) {
			if (eq != NULL)
				arg = eq + 1;
			else if (in + 1 < *argc)
				arg = argv[++in];
			else
				return usage_error(c, cmd, "option --%s needs an "
				    "argument", lo->name);
		} else if (eq != NULL)
			return usage_error(c, cmd, "option --%s takes no "
			    "argument", lo->name);
		if ((status = session_option(c, cmd, lo->val, arg, &c->sopts)) !=
		    0)
			return status;
		continue;
keep:
		argv[out++] = argv[in];
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

/* How long ftpctl waits for session.open: the agent's own time to give
 * up on a server that does not answer (connecting, TLS and greeting:
 * twice the connect timeout at most; one reply timeout for a login
 * step) on top of -t, which is for the agent alone. */
static int
open_wait_ms(const struct ctl *c, const struct ftpagent_open_opts *o)
{
	double ms = c->timeout_ms > 0 ? c->timeout_ms : DEFAULT_TIMEOUT_MS;

	ms += 2000.0 * (c->connect_timeout > 0 ? c->connect_timeout :
	    AGENT_CONNECT_TIMEOUT_S);
	ms += 1000.0 * AGENT_REPLY_TIMEOUT_S;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int
open_session(struct ctl *c, const char *url, const struct creds *cr,
    const char *host, const struct ftpagent_open_opts *o, const char *ctx,
    char **session)
{
	bool ok;

	*session = NULL;
	if (!agent(c))
		return fail(c, NULL);
	ftpagent_set_timeout(c->fa, open_wait_ms(c, o));
	ftpagent_set_connect_timeout(c->fa, c->connect_timeout);
	ftpagent_set_session_limit_rate(c->fa, c->session_limit_rate);
	ok = ftpagent_open(c->fa, url, o, session);
	ftpagent_set_timeout(c->fa, c->timeout_ms);
	if (ok)
		return 0;
	/* a login refused for want of a password: say where one goes */
	if (o->password == NULL && cr->user != NULL &&
	    strcmp(cr->user, "anonymous") != 0 &&
	    ftpagent_error(c->fa) == FTPAGENT_ERR_AUTH)
		return cmd_error(c, EXIT_CONNECT, "auth", "no password for "
		    "%s@%s: set FTPCTL_PASSWORD, use ftpctl open "
		    "--password-stdin, or add it to ~/.netrc", cr->user, host);
	return fail(c, ctx);
}

/*
 * The URL to open, with its credentials (the password from stdin, the
 * URL or ~/.netrc) in *cr and the URL to send in *url (no password).
 * 0, or the exit status after reporting.
 */
static int
open_url(struct ctl *c, const struct command *cmd, const char *arg,
    bool pw_stdin, struct creds *cr, char **url)
{
	struct ftp_url u;
	const char *err;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool ok;

	*url = NULL;
	if (!ftp_url_is_url(arg))
		return usage_error(c, cmd, "not an ftp://, ftpes:// or ftps:// URL");
	if (ftp_url_parse(arg, &u, &err) == -1)
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
	ok = resolve_creds(&u, line, cr);
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (ok)
		*url = ftp_url_format(&u, cr->user, false);
	ftp_url_clear(&u);
	if (*url == NULL) {
		if (ok)
			creds_clear(cr);
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	}
	return 0;
}

int
cmd_open(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_open_opts o;
	struct ftp_url u;
	struct creds cr;
	const char *err;
	char *url = NULL, *session = NULL;
	bool pw_stdin = false;
	int status;

	memset(&o, 0, sizeof(o));
	if ((status = open_options(c, cmd, &argc, &argv, &o, &pw_stdin)) != 0)
		return status;
	if (argc != 2)
		return usage_error(c, cmd, "open takes NAME and URL");
	if (!target_name_valid(argv[0]))
		return usage_error(c, cmd,
		    "bad session name (1-64 of A-Z a-z 0-9 . _ -)");
	if ((status = open_url(c, cmd, argv[1], pw_stdin, &cr, &url)) != 0)
		return status;
	if (o.insecure && !c->quiet)
		fprintf(stderr, "ftpctl: warning: the server's certificate will "
		    "not be verified (--insecure)\n");
	o.name = argv[0];
	o.password = cr.password;
	/* Opening the same thing twice is not an error. */
	o.reuse = true;
	if (ftp_url_parse(argv[1], &u, &err) == -1)
		status = usage_error(c, cmd, "bad URL: %s", err);
	else {
		status = open_session(c, url, &cr, u.host, &o, argv[0],
		    &session);
		ftp_url_clear(&u);
	}
	creds_clear(&cr);
	if (status != 0) {
		free(url);
		return status;
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

int
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

int
cmd_sessions(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	json_t *list, *s;
	char *res = NULL, idle[32], conns[48], lim[OUTPUT_RATE_LEN];
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
		printf("%-*s  %-*s  %-16s  %-7s  %-10s  %7s  %7s  %8s\n", wid,
		    "SESSION", wurl, "URL", "TLS", "REUSE", "STATE", "CONNS",
		    "LIMIT", "IDLE");
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
		/* the session's limit, shared by its transfers */
		output_rate_limit(lim, sizeof(lim), wire_count(
		    json_object_get(s, "limit_rate"), 0));
		printf("  %7s  %7s  %8s\n", conns_text(s, conns, sizeof(conns)),
		    lim, idle);
	}
	json_decref(list);
	return EXIT_OK;
}

int
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

int
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

int
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
