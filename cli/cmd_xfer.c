/*
 * ftpctl: get and put. libftpagent owns the .part, resuming and who
 * renames in the background; here are the options, the terminal and
 * stdin/stdout.
 * Several targets (get T... DIR, put L... T) are each one get or put,
 * into the directory; a get target whose last name is a glob is a tree
 * (cmd_tree.c), or with -n the files it matches, each a get of its own.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpctl.h"
#include "localdest.h"
#include "linkpath.h"
#include "relay.h"

#define SEGMENTS_MAX	16	/* the agent's most for transfer.get */

/*
 * One get or put: what the two commands share. The command fills in
 * the ends (target, local side); xfer_run opens the session and runs
 * the transfer in the foreground, with the bar, or in the background.
 */
struct xfer_cmd {
	bool		 put;
	bool		 cont;		/* -c */
	bool		 bg;		/* --background */
	bool		 recursive;	/* -r: a tree (cmd_tree.c) */
	bool		 std;		/* stdout (get) or stdin (put) */
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result res;
	struct target	 t;
	bool		 parsed;	/* t holds a target */
	char		*display;	/* the target, for messages */
	char		*session;
	char		*remote;	/* the remote file */
	char		*local;		/* the local file, or "-" */
	struct localdest dest;		/* get: what local is */
};

static void
xfer_cmd_clear(struct xfer_cmd *x)
{
	localdest_clear(&x->dest);
	if (x->parsed)
		target_clear(&x->t);
	free(x->display);
	free(x->session);
	free(x->remote);
	free(x->local);
}

/* get -n N: c->segments. 0, or the exit status after reporting. */
static int
segments_option(struct ctl *c, const struct command *cmd, const char *arg)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || n < 1 ||
	    n > SEGMENTS_MAX)
		return usage_error(c, cmd, "-n %s: the number of segments is 1 "
		    "to %d", arg, SEGMENTS_MAX);
	c->segments = (int)n;
	return 0;
}

/* What -n N (above 1) does not go with. 0, or the exit status. */
static int
segments_check(struct ctl *c, const struct command *cmd,
    const struct xfer_cmd *x)
{
	if (x->recursive)
		return usage_error(c, cmd, "-r moves a tree a file per "
		    "connection; -n is for files (or a glob)");
	if (x->o.ascii)
		return usage_error(c, cmd, "-n downloads in binary, without "
		    "--ascii");
	return 0;
}

/* The options of get (put too with put set). 0, or the exit status. */
static int
xfer_options(struct ctl *c, const struct command *cmd, int *argc,
    char ***argv, struct xfer_cmd *x)
{
	static const struct option longopts[] = {
		{ "continue", no_argument, NULL, 'c' },
		{ "append", no_argument, NULL, 'a' },
		{ "ascii", no_argument, NULL, 'A' },
		{ "background", no_argument, NULL, 'B' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "limit-rate", required_argument, NULL, 'l' },
		{ "segments", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, status;

	optind = 0;
	while ((ch = getopt_long(*argc, *argv, ":crn:", longopts, NULL)) !=
	    -1) {
		if (ch == 'c')
			x->cont = true;
		else if (ch == 'r')
			x->recursive = true;
		else if (ch == 'a' && x->put)
			x->o.append = true;
		else if (ch == 'A')
			x->o.ascii = true;
		else if (ch == 'B')
			x->bg = true;
		else if (ch == 'l') {
			if ((status = limit_rate_option(c, cmd, optarg,
			    &c->limit_rate)) != 0)
				return status;
		} else if (ch == 'n' && !x->put) {
			if ((status = segments_option(c, cmd, optarg)) != 0)
				return status;
		} else if (ch == 'n')
			return usage_error(c, cmd, "-n (--segments) is for "
			    "get: an upload goes over one connection");
		else {
			if (ch == 'a')		/* get has no --append */
				optopt = 0;
			return bad_option(c, cmd, ch == 'a' ? '?' : ch, *argv);
		}
	}
	*argc -= optind;
	*argv += optind;
	if (x->cont && x->o.append)
		return usage_error(c, cmd, "--continue and --append exclude "
		    "each other");
	if (x->recursive && (x->o.ascii || x->o.append))
		return usage_error(c, cmd, "-r moves a tree in binary, without "
		    "--append");
	if (c->segments > 1 && (status = segments_check(c, cmd, x)) != 0)
		return status;
	if (x->cont)
		x->o.offset = -1;
	return 0;
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
 * --background: the library hands the local file to the agent; for a
 * download it writes LOCAL.part (a device or FIFO as it is), which the
 * agent renames at the job's end, or, when the agent does not (a system
 * agent), the library's follower (libftpagent(3)).
 */
static int
xfer_background(struct ctl *c, struct xfer_cmd *x)
{
	char *job = NULL;
	bool ok;

	if (!x->put)
		ok = ftpagent_get_file_background(c->fa, x->session, x->remote,
		    x->local, &x->o, &job);
	else if (x->std)
		ok = ftpagent_put_fd_background(c->fa, x->session, x->remote,
		    STDIN_FILENO, &x->o, &job);
	else
		ok = ftpagent_put_file_background(c->fa, x->session, x->remote,
		    x->local, &x->o, &job);
	if (!ok)
		return -1;
	if (job == NULL) {		/* get -c: nothing was missing */
		x->res.total = -1;
		x->res.already_complete = true;
		return EXIT_OK;
	}
	print_job_started(c, job, x->remote, x->local);
	free(job);
	return EXIT_OK;
}

/* A terminal, or (get) a device the agent refuses, goes through a relay
 * of ours: stdin for put, stdout or LOCAL in place for get. */
static int
xfer_relayed(struct ctl *c, struct xfer_cmd *x, struct xfer_ui *ui)
{
	struct relay rl;
	int fd = x->put ? STDIN_FILENO : STDOUT_FILENO, pfd, status = EXIT_OK;
	bool ok;

	if (!x->put && !x->std && (fd = open_in_place(c, &x->dest, &status)) ==
	    -1)
		return status;
	/* data for a terminal: a bar there would garble it (curl does the
	 * same) */
	if (!x->put && isatty(fd))
		ui->bar = false;
	if ((pfd = relay_start(&rl, fd, !x->put)) == -1) {
		status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
		    "cannot relay %s %s: %s", x->put ? "from" : "to", x->std ?
		    "the terminal" : x->local, strerror(errno));
		if (fd != STDIN_FILENO && fd != STDOUT_FILENO)
			close(fd);
		return status;
	}
	if (x->put)
		ok = ftpagent_put_fd(c->fa, x->session, x->remote, pfd, &x->o,
		    &x->res);
	else
		ok = ftpagent_get_fd(c->fa, x->session, x->remote, pfd, &x->o,
		    &x->res);
	relay_finish(&rl, pfd, ok);
	if (fd != STDIN_FILENO && fd != STDOUT_FILENO && close(fd) == -1 && ok)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(errno));
	return ok ? EXIT_OK : -1;
}

/* In the foreground, with the bar: local files are the library's own
 * (.part, resume, rename); the rest is relayed. */
static int
xfer_foreground(struct ctl *c, struct xfer_cmd *x)
{
	struct xfer_ui ui;
	bool relayed = x->std || (!x->put && x->dest.kind == LOCALDEST_INPLACE);
	int status;

	xfer_begin(c, &ui, &x->o, x->std ? x->remote : x->local);
	if (relayed)
		status = xfer_relayed(c, x, &ui);
	else if (x->put)
		status = ftpagent_put_file(c->fa, x->session, x->remote,
		    x->local, &x->o, &x->res) ? EXIT_OK : -1;
	else
		status = ftpagent_get_file(c->fa, x->session, x->remote,
		    x->local, &x->o, &x->res) ? EXIT_OK : -1;
	xfer_end(&ui);
	return status;
}

/* Did the download fail on a directory (the library's data.type)? */
static bool
refused_dir(struct ctl *c)
{
	const char *data = ftpagent_error_data(c->fa);
	json_t *j;
	bool dir;

	if (ftpagent_error(c->fa) != FTPAGENT_ERR_NOT_FOUND || data == NULL ||
	    (j = json_loads(data, 0, NULL)) == NULL)
		return false;
	dir = json_is_string(json_object_get(j, "type")) &&
	    strcmp(json_string_value(json_object_get(j, "type")), "dir") == 0;
	json_decref(j);
	return dir;
}

/* The session, the transfer, the report. */
static int
xfer_run(struct ctl *c, struct xfer_cmd *x)
{
	int status;

	if (x->remote == NULL)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	if (x->session == NULL &&
	    (status = target_session(c, &x->t, x->display, &x->session)) != 0)
		return status;
	status = x->bg ? xfer_background(c, x) : xfer_foreground(c, x);
	if (status == -1 && !x->put && refused_dir(c))
		return cmd_error(c, EXIT_NOT_FOUND, "not_found",
		    "%s: is a directory (use get -r)", x->display);
	if (status == -1)
		return fail(c, x->display);
	if (status != EXIT_OK)
		return status;
	if (x->res.already_complete && !c->quiet && !c->json)
		output_warnx("%s: already complete", x->local);
	/* get to stdout: stdout holds the file */
	if (c->json && (!x->bg || x->res.already_complete) &&
	    !(x->std && !x->put))
		emit_json(xfer_json(x->remote, x->local, &x->res));
	return EXIT_OK;
}

/*
 * get's LOCAL: named after the remote file when not given (or a
 * directory), and looked at so that a device or FIFO is written in
 * place. Returns 0, or the exit status after reporting.
 */
static int
get_local(struct ctl *c, const struct command *cmd, struct xfer_cmd *x,
    const char *larg)
{
	struct stat st;
	const char *err;

	x->local = target_get_path(x->remote, larg, larg != NULL &&
	    stat(larg, &st) == 0 && S_ISDIR(st.st_mode), &err);
	if (x->local == NULL)
		return usage_error(c, cmd, "%s: %s (name a LOCAL file)",
		    x->display, err);
	if (localdest_resolve(x->local, &x->dest) == -1)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(errno));
	if (x->dest.kind == LOCALDEST_DIR)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(EISDIR));
	if (x->dest.kind == LOCALDEST_INPLACE && x->cont)
		return usage_error(c, cmd, "%s: not a regular file, cannot "
		    "resume", x->local);
	return 0;
}

/* x's options into y, for one target. */
static void
xfer_cmd_like(struct xfer_cmd *y, const struct xfer_cmd *x)
{
	memset(y, 0, sizeof(*y));
	y->put = x->put;
	y->cont = x->cont;
	y->bg = x->bg;
	y->o = x->o;
}

/* get TARGET arg into larg (NULL: here, under the remote name; a
 * directory: in it; "-": stdout) with opts' options. */
static int
get_one(struct ctl *c, const struct command *cmd, const struct xfer_cmd *opts,
    const char *arg, const char *larg)
{
	struct xfer_cmd x;
	int status;

	xfer_cmd_like(&x, opts);
	x.std = larg != NULL && strcmp(larg, "-") == 0;
	if (x.std && x.cont)
		return usage_error(c, cmd, "cannot resume on stdout");
	if (x.std && x.bg)
		return usage_error(c, cmd, "--background writes a file, not "
		    "stdout");
	if ((status = parse_target(c, cmd, arg, &x.t, &x.display)) != 0)
		return status;
	x.parsed = true;
	if ((x.remote = strdup(x.t.path)) == NULL)
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else if (x.std)
		x.local = strdup("-");
	else
		status = get_local(c, cmd, &x, larg);
	if (status != 0)
		goto out;
	status = x.local != NULL ? xfer_run(c, &x) :
	    cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
out:
	xfer_cmd_clear(&x);
	return status;
}

/* True when target arg's last name is a glob (a bad target is not:
 * parsing it again reports it). */
static bool
arg_is_glob(const char *arg)
{
	struct target t;
	const char *err, *glob;
	char *dir = NULL;
	bool yes;

	if (target_parse(arg, &t, &err) == -1)
		return false;
	yes = target_glob_split(t.path, &dir, &glob);
	free(dir);
	target_clear(&t);
	return yes;
}

/* The target's name for messages, or NULL when it is no target. */
static char *
arg_display(struct ctl *c, const struct command *cmd, const char *arg)
{
	struct target t;
	char *display = NULL;

	if (parse_target(c, cmd, arg, &t, &display) != 0)
		return NULL;
	target_clear(&t);
	return display;
}

/* A file of a glob, for messages: display (the glob's) with name in
 * the glob's place when it ends with it, else with name after it. */
static char *
glob_file_display(const char *display, const char *glob, const char *name)
{
	size_t n = strlen(display), g = strlen(glob);
	char *s;

	if (n >= g && strcmp(display + n - g, glob) == 0) {
		if (asprintf(&s, "%.*s%s", (int)(n - g), display, name) == -1)
			return NULL;
	} else if (asprintf(&s, "%s (%s)", display, name) == -1)
		return NULL;
	return s;
}

/* get of the file name of the remote directory rdir, listed on
 * session, into dir, with opts' options, as get_one; display names the
 * glob. */
static int
glob_file(struct ctl *c, const struct command *cmd,
    const struct xfer_cmd *opts, const char *session, const char *rdir,
    const char *name, const char *dir, const char *display,
    const char *glob)
{
	struct xfer_cmd x;
	int status;

	xfer_cmd_like(&x, opts);
	if (strcmp(rdir, ".") == 0)
		x.remote = strdup(name);
	else if (asprintf(&x.remote, "%s%s%s", rdir, rdir[strlen(rdir) - 1] ==
	    '/' ? "" : "/", name) == -1)
		x.remote = NULL;
	if ((x.session = strdup(session)) == NULL || x.remote == NULL ||
	    (x.display = glob_file_display(display, glob, name)) == NULL)
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else if ((status = get_local(c, cmd, &x, dir)) == 0)
		status = xfer_run(c, &x);
	xfer_cmd_clear(&x);
	return status;
}

/*
 * A glob with -n: the agent's trees move each file over one connection,
 * so the files it matches are listed here, matched as the agent matches
 * a tree's globs (regular files of the directory, a leading dot only by
 * a dot, one name that can be a local one: ftpa_tree_name_unsafe), and
 * each is a get of its own, a job each. Returns the first failure's
 * status; one that the next files would share ends it.
 */
static int
glob_segmented(struct ctl *c, const struct command *cmd,
    const struct xfer_cmd *x, const char *arg, const char *dir)
{
	struct ftpagent_entry *e = NULL;
	struct target t;
	const char *glob;
	char *display, *rdir = NULL, *session = NULL;
	size_t n = 0, i;
	int status, st, first = EXIT_OK, matched = 0;
	bool go = true;

	if ((status = parse_target(c, cmd, arg, &t, &display)) != 0)
		return status;
	if (!target_glob_split(t.path, &rdir, &glob))
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else if ((status = target_session(c, &t, display, &session)) == 0 &&
	    !ftpagent_list(c->fa, session, rdir, &e, &n))
		status = fail(c, display);
	for (i = 0; go && i < n; i++) {
		if (e[i].type != FTPAGENT_FILE ||
		    ftpa_tree_name_unsafe(e[i].name) != NULL ||
		    fnmatch(glob, e[i].name, FNM_PERIOD) != 0)
			continue;
		matched++;
		st = glob_file(c, cmd, x, session, rdir, e[i].name, dir,
		    display, glob);
		if (first == EXIT_OK)
			first = st;
		/* as many_done: the next files would fare no better */
		go = st != EXIT_AGENT && st != EXIT_USAGE &&
		    st != EXIT_CANCELLED && !interrupted;
	}
	if (status == EXIT_OK && matched == 0)
		status = cmd_error(c, EXIT_NOT_FOUND, "not_found", "%s: no "
		    "match", display);
	else if (status == EXIT_OK)
		status = first;
	ftpagent_entries_free(e, n);
	free(session);
	free(rdir);
	free(display);
	target_clear(&t);
	return status;
}

/* get of several targets, or of a glob: each into the directory that
 * the last argument names (here when it is the only one). */
static int
get_many(struct ctl *c, const struct command *cmd, const struct xfer_cmd *x,
    int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[argc - 1] : ".";
	int i, n = argc > 1 ? argc - 1 : 1, status;
	struct many m;
	char *display;
	bool go = true;

	if (strcmp(dir, "-") == 0)
		return usage_error(c, cmd, "several targets or a glob go to a "
		    "directory, not stdout");
	if ((status = many_dest_dir(c, dir)) != 0)
		return status;
	many_begin(c, &m);
	for (i = 0; go && i < n; i++) {
		if ((display = arg_display(c, cmd, argv[i])) == NULL)
			status = EXIT_USAGE;
		else if (arg_is_glob(argv[i]) && x->o.ascii)
			status = usage_error(c, cmd, "%s: a glob is fetched in "
			    "binary", display);
		else if (arg_is_glob(argv[i]) && c->segments > 1)
			status = glob_segmented(c, cmd, x, argv[i], dir);
		else if (arg_is_glob(argv[i]))
			status = tree_glob(c, cmd, argv[i], dir, x->bg);
		else
			status = get_one(c, cmd, x, argv[i], dir);
		go = many_done(&m, display, status);
		free(display);
	}
	return many_end(c, &m);
}

int
cmd_get(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct xfer_cmd x;
	int status;

	memset(&x, 0, sizeof(x));
	if ((status = xfer_options(c, cmd, &argc, &argv, &x)) != 0)
		return status;
	if (x.recursive)
		return tree_copy(c, cmd, false, x.bg, argc, argv);
	if (argc < 1)
		return usage_error(c, cmd, "get takes TARGET... and maybe "
		    "LOCAL or DIR");
	if (argc > 2 || arg_is_glob(argv[0]))
		return get_many(c, cmd, &x, argc, argv);
	return get_one(c, cmd, &x, argv[0], argc == 2 ? argv[1] : NULL);
}

/* put's LOCAL, read before anything is opened, and the remote name. 0,
 * or the exit status after reporting. */
static int
put_ends(struct ctl *c, const struct command *cmd, struct xfer_cmd *x)
{
	struct stat st;
	const char *err;
	size_t n = strlen(x->t.path);
	int fd;

	if (x->std) {
		if (n == 0 || x->t.path[n - 1] == '/')
			return usage_error(c, cmd, "%s: name the remote file "
			    "for stdin", x->display);
		x->remote = strdup(x->t.path);
		return 0;
	}
	if ((fd = open(x->local, O_RDONLY | O_CLOEXEC)) == -1)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(EISDIR));
	}
	close(fd);
	if ((x->remote = target_put_path(x->t.path, x->local, &err)) == NULL &&
	    err != NULL)
		return usage_error(c, cmd, "%s: %s", x->local, err);
	return 0;
}

/* put LOCAL larg to TARGET arg with opts' options. */
static int
put_one(struct ctl *c, const struct command *cmd, const struct xfer_cmd *opts,
    const char *larg, const char *arg)
{
	struct xfer_cmd x;
	struct stat st;
	int status;

	xfer_cmd_like(&x, opts);
	x.std = strcmp(larg, "-") == 0;
	if (x.std && x.cont)
		return usage_error(c, cmd, "cannot resume from stdin");
	/* a terminal needs our relay, which ends with us */
	if (x.std && x.bg && fstat(STDIN_FILENO, &st) == 0 &&
	    S_ISCHR(st.st_mode))
		return usage_error(c, cmd, "--background cannot read a terminal");
	if ((status = parse_target(c, cmd, arg, &x.t, &x.display)) != 0)
		return status;
	x.parsed = true;
	if ((x.local = strdup(larg)) == NULL)
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else if ((status = put_ends(c, cmd, &x)) == 0)
		status = xfer_run(c, &x);
	xfer_cmd_clear(&x);
	return status;
}

/* put of several local files into the remote directory the last
 * argument names (ending with '/' or not). */
static int
put_many(struct ctl *c, const struct command *cmd, const struct xfer_cmd *x,
    int argc, char **argv)
{
	const char *arg = argv[argc - 1];
	size_t len = strlen(arg);
	struct many m;
	char *dir;
	bool go = true;
	int i;

	for (i = 0; i < argc - 1; i++)
		if (strcmp(argv[i], "-") == 0)
			return usage_error(c, cmd, "stdin goes to one TARGET, "
			    "not with other files");
	if (asprintf(&dir, "%s%s", arg, len > 0 && arg[len - 1] == '/' ?
	    "" : "/") == -1)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	many_begin(c, &m);
	for (i = 0; go && i < argc - 1; i++)
		go = many_done(&m, argv[i], put_one(c, cmd, x, argv[i], dir));
	free(dir);
	return many_end(c, &m);
}

int
cmd_put(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct xfer_cmd x;
	int status;

	memset(&x, 0, sizeof(x));
	x.put = true;
	if ((status = xfer_options(c, cmd, &argc, &argv, &x)) != 0)
		return status;
	if (x.recursive)
		return tree_copy(c, cmd, true, x.bg, argc, argv);
	if (argc < 2)
		return usage_error(c, cmd, "put takes LOCAL... and TARGET");
	if (argc > 2)
		return put_many(c, cmd, &x, argc, argv);
	return put_one(c, cmd, &x, argv[0], argv[1]);
}
