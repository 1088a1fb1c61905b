/*
 * ftpctl: get and put. libftpagent owns the .part, resuming and the
 * background follower; here are the options, the terminal and stdin/stdout.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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
#include "relay.h"

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
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;
	while ((ch = getopt_long(*argc, *argv, ":cr", longopts, NULL)) != -1) {
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
	if (x->recursive && (x->bg || x->o.ascii || x->o.append))
		return usage_error(c, cmd, "-r moves a tree in the foreground, "
		    "in binary, without --append");
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
 * download it writes LOCAL.part (a device or FIFO as it is) and its
 * follower renames the file at the job's end (libftpagent(3)).
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

/* The session, the transfer, the report. */
static int
xfer_run(struct ctl *c, struct xfer_cmd *x)
{
	int status;

	if (x->remote == NULL)
		return cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	if ((status = target_session(c, &x->t, x->display, &x->session)) != 0)
		return status;
	status = x->bg ? xfer_background(c, x) : xfer_foreground(c, x);
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

	x->local = target_get_path(x->t.path, larg, larg != NULL &&
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

int
cmd_get(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct xfer_cmd x;
	const char *larg;
	int status;

	memset(&x, 0, sizeof(x));
	if ((status = xfer_options(c, cmd, &argc, &argv, &x)) != 0)
		return status;
	if (x.recursive)
		return tree_copy(c, cmd, false, argc, argv);
	if (argc < 1 || argc > 2)
		return usage_error(c, cmd, "get takes TARGET and maybe LOCAL");
	larg = argc == 2 ? argv[1] : NULL;
	x.std = larg != NULL && strcmp(larg, "-") == 0;
	if (x.std && x.cont)
		return usage_error(c, cmd, "cannot resume on stdout");
	if (x.std && x.bg)
		return usage_error(c, cmd, "--background writes a file, not "
		    "stdout");
	if ((status = parse_target(c, cmd, argv[0], &x.t, &x.display)) != 0)
		return status;
	x.parsed = true;
	x.remote = strdup(x.t.path);
	if (x.std)
		x.local = strdup("-");
	else if ((status = get_local(c, cmd, &x, larg)) != 0)
		goto out;
	status = x.local != NULL ? xfer_run(c, &x) :
	    cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
out:
	xfer_cmd_clear(&x);
	return status;
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

int
cmd_put(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct xfer_cmd x;
	struct stat st;
	int status;

	memset(&x, 0, sizeof(x));
	x.put = true;
	if ((status = xfer_options(c, cmd, &argc, &argv, &x)) != 0)
		return status;
	if (x.recursive)
		return tree_copy(c, cmd, true, argc, argv);
	if (argc != 2)
		return usage_error(c, cmd, "put takes LOCAL and TARGET");
	x.std = strcmp(argv[0], "-") == 0;
	if (x.std && x.cont)
		return usage_error(c, cmd, "cannot resume from stdin");
	/* a terminal needs our relay, which ends with us */
	if (x.std && x.bg && fstat(STDIN_FILENO, &st) == 0 &&
	    S_ISCHR(st.st_mode))
		return usage_error(c, cmd, "--background cannot read a terminal");
	if ((status = parse_target(c, cmd, argv[1], &x.t, &x.display)) != 0)
		return status;
	x.parsed = true;
	if ((x.local = strdup(argv[0])) == NULL)
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else if ((status = put_ends(c, cmd, &x)) == 0)
		status = xfer_run(c, &x);
	xfer_cmd_clear(&x);
	return status;
}
