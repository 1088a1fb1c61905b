/*
 * ftpctl: trees. mirror, get -r and put -r are one transfer.tree each
 * (libftpagent's ftpagent_tree): the agent walks and compares, the
 * library does the local side beneath the directory opened here. This
 * file parses the options, draws the tree's progress line and reports
 * the outcome: the failures on stderr, a summary with --json (with the
 * plan of a dry run). A glob target of get is a tree too: its
 * directory, the files that match, none below. --background leaves the
 * tree to a follower of the library's (ftpagent_tree_background).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpctl.h"

#define GLOBS_MAX	64

struct tree_cmd {
	struct ftpagent_tree_opts o;
	const char	*include[GLOBS_MAX + 1];
	const char	*exclude[GLOBS_MAX + 1];
	size_t		 ninclude, nexclude;
	struct target	 t;
	bool		 parsed;
	char		*root;		/* the remote root, when not t.path */
	bool		 glob;		/* root's files that match a glob */
	bool		 bg;		/* --background */
	json_t		*plan;		/* --json of a dry run: its items */
	char		*display;
	char		*session;
	const char	*local;		/* the local directory */
	int		 dirfd;
	struct ftpagent_tree res;
	/* the progress line */
	bool		 bar;
	struct output_progress progress;
	char		 label[64];
};

static void
tree_cmd_clear(struct tree_cmd *x)
{
	if (x->parsed)
		target_clear(&x->t);
	free(x->display);
	free(x->root);
	json_decref(x->plan);
	free(x->session);
	if (x->dirfd != -1)
		close(x->dirfd);
	ftpagent_tree_clear(&x->res);
}

static bool
on_progress(void *arg, const struct ftpagent_tree *t)
{
	struct tree_cmd *x = arg;

	if (interrupted)
		return false;
	if (!x->bar)
		return true;
	snprintf(x->label, sizeof(x->label), "%lld/%lld%s files",
	    (long long)t->files, (long long)t->files_total, t->walking ?
	    "+" : "");
	output_progress_rate(&x->progress, t->job.bytes, t->walking ? -1 :
	    t->job.total, t->job.rate);
	return true;
}

/* The remote root of the tree. */
static const char *
tree_root(const struct tree_cmd *x)
{
	return x->root != NULL ? x->root : x->t.path;
}

/* A dry run prints its plan, one action a line; with --json it goes
 * into the summary. */
static void
on_item(void *arg, const struct ftpagent_tree_item *it)
{
	struct tree_cmd *x = arg;
	json_t *o;

	if (x->plan == NULL) {
		printf("%s ", it->action);
		output_text(stdout, it->path);
		putchar('\n');
		return;
	}
	o = json_pack("{s:s, s:o}", "action", it->action, "path",
	    ftpa_bytes_json(it->path));
	if (o != NULL && it->size >= 0)
		json_object_set_new(o, "size", json_integer(it->size));
	if (o != NULL && *it->error_kind != '\0')
		json_object_set_new(o, "error", json_pack("{s:s, s:s}", "kind",
		    it->error_kind, "message", it->error_message));
	if (o == NULL || json_array_append_new(x->plan, o) == -1)
		output_warnx("out of memory");
}

static json_t *
summary_json(const struct tree_cmd *x)
{
	const struct ftpagent_tree *t = &x->res;
	json_t *fails = json_array(), *f, *doc;
	size_t i;

	for (i = 0; fails != NULL && i < t->n_failures; i++) {
		f = json_pack("{s:o, s:s, s:s}", "path",
		    ftpa_bytes_json(t->failures[i].path), "kind",
		    t->failures[i].error_kind, "message",
		    t->failures[i].error_message);
		if (f == NULL || json_array_append_new(fails, f) == -1) {
			json_decref(fails);
			return NULL;
		}
	}
	doc = json_pack("{s:s?, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:b, s:o}", "job", t->job.id, "state",
	    ftpagent_job_state_name(t->job.state), "remote",
	    ftpa_bytes_json(tree_root(x)), "local", ftpa_bytes_json(x->local),
	    "files", (json_int_t)t->files, "files_total",
	    (json_int_t)t->files_total, "dirs", (json_int_t)t->dirs,
	    "skipped", (json_int_t)t->skipped, "deleted",
	    (json_int_t)t->deleted, "failed", (json_int_t)t->failed, "bytes",
	    (json_int_t)t->job.bytes, "dry_run", t->dry_run, "failures", fails);
	if (doc != NULL && x->plan != NULL)
		json_object_set(doc, "items", x->plan);
	return doc;
}

/* Each failed file on stderr; the status of the first. */
static int
report_failures(struct ctl *c, const struct tree_cmd *x)
{
	const struct ftpagent_tree *t = &x->res;
	size_t i;

	for (i = 0; i < t->n_failures; i++)
		output_warnx("%s%s%s: %s", tree_root(x), *tree_root(x) != '\0' &&
		    tree_root(x)[strlen(tree_root(x)) - 1] == '/' ? "" : "/",
		    t->failures[i].path,
		    t->failures[i].error_message);
	if (t->failed > (int64_t)t->n_failures)
		output_warnx("%s: %lld more files failed", x->display,
		    (long long)(t->failed - (int64_t)t->n_failures));
	output_warnx("%s: %lld of %lld files failed", x->display,
	    (long long)t->failed, (long long)t->files_total);
	return status_of(t->failures[0].error, t->failures[0].error_kind);
}

/* The tree's error on stderr; with --json in the document too, unless
 * the summary was that document (one per command). */
static int
tree_failed(struct ctl *c, struct tree_cmd *x)
{
	bool json = c->json;
	int status;

	if (x->res.job.id != NULL)
		c->json = false;
	status = fail(c, x->display);
	c->json = json;
	return status;
}

/* --background: the job id, once the library's follower has the tree. */
static int
tree_background(struct ctl *c, struct tree_cmd *x)
{
	char *job = NULL;

	if (!ftpagent_tree_background(c->fa, x->session, tree_root(x),
	    x->dirfd, &x->o, &job))
		return fail(c, x->display);
	if (c->json)
		emit_json(json_pack("{s:s, s:o, s:o}", "job", job, "remote",
		    ftpa_bytes_json(tree_root(x)), "local",
		    ftpa_bytes_json(x->local)));
	else {
		output_text(stdout, job);
		putchar('\n');
	}
	free(job);
	return EXIT_OK;
}

/* The tree in the foreground: its bar, its plan, its outcome. */
static int
tree_foreground(struct ctl *c, struct tree_cmd *x)
{
	bool ok;

	x->o.progress = on_progress;
	x->o.arg = x;
	if ((x->o.flags & FTPAGENT_TREE_DRY_RUN) && (c->json || !c->quiet)) {
		x->o.item = on_item;
		if (c->json && (x->plan = json_array()) == NULL)
			return cmd_error(c, EXIT_REFUSED, "nomem",
			    "out of memory");
	}
	x->bar = want_bar(c);
	output_progress_init(&x->progress, STDERR_FILENO, x->label);
	catch_sigint();
	ok = ftpagent_tree(c->fa, x->session, tree_root(x), x->dirfd, &x->o,
	    &x->res);
	output_progress_done(&x->progress);
	signal(SIGINT, SIG_DFL);
	/* a glob that matches nothing is an error, as in a shell */
	if (ok && x->glob && x->res.files_total == 0)
		return cmd_error(c, EXIT_NOT_FOUND, "not_found", "%s: no match",
		    x->display);
	if (c->json && x->res.job.id != NULL)
		emit_json(summary_json(x));
	if (ok)
		return EXIT_OK;
	if (x->res.n_failures > 0)
		return report_failures(c, x);
	return tree_failed(c, x);
}

static int
tree_run(struct ctl *c, struct tree_cmd *x)
{
	int status;

	if ((status = target_session(c, &x->t, x->display, &x->session)) != 0)
		return status;
	x->o.include = x->ninclude > 0 ? x->include : NULL;
	x->o.exclude = x->nexclude > 0 ? x->exclude : NULL;
	return x->bg ? tree_background(c, x) : tree_foreground(c, x);
}

/* The local directory: made when a download needs it, then opened. */
/*
 * An empty directory that is nowhere: what a dry run compares with when
 * its local directory is not there, since a dry run makes nothing. Made
 * private and removed at once; its descriptor lists as empty.
 */
static int
gone_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	int fd = -1, e;

	if (asprintf(&path, "%s/ftpctl-dry.XXXXXX", tmp != NULL &&
	    *tmp == '/' ? tmp : "/tmp") == -1)
		return -1;
	if (mkdtemp(path) != NULL) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = errno;
		(void)rmdir(path);
		errno = e;
	}
	free(path);
	return fd;
}

static int
open_local(struct ctl *c, struct tree_cmd *x, bool put)
{
	struct stat st;

	if (!put && (x->o.flags & FTPAGENT_TREE_DRY_RUN) &&
	    lstat(x->local, &st) == -1 && errno == ENOENT) {
		if ((x->dirfd = gone_dir()) == -1)
			return cmd_error(c, EXIT_LOCAL_IO, "local_io",
			    "an empty directory to compare with: %s",
			    strerror(errno));
		return 0;
	}
	if (!put && mkdir(x->local, 0777) == -1 && errno != EEXIST)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(errno));
	if ((x->dirfd = open(x->local, O_PATH | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s",
		    x->local, strerror(errno));
	return 0;
}

/* The remote end and the local directory of a tree, then the tree. */
static int
tree_ends(struct ctl *c, const struct command *cmd, struct tree_cmd *x,
    const char *remote, const char *local)
{
	int status;

	x->o.direction = x->o.direction == FTPAGENT_XFER_PUT ?
	    FTPAGENT_XFER_PUT : FTPAGENT_XFER_GET;
	if ((status = parse_target(c, cmd, remote, &x->t, &x->display)) != 0)
		return status;
	x->parsed = true;
	x->local = local;
	if ((status = open_local(c, x, x->o.direction ==
	    FTPAGENT_XFER_PUT)) != 0)
		return status;
	return tree_run(c, x);
}

static void
tree_cmd_init(struct tree_cmd *x)
{
	memset(x, 0, sizeof(*x));
	x->dirfd = -1;
	x->o.max_depth = -1;
}

enum { OPT_DELETE = 256, OPT_DRY_RUN, OPT_NEWER_ONLY, OPT_EXCLUDE,
	OPT_INCLUDE, OPT_BACKGROUND, OPT_PERMS, OPT_MAX_DEPTH,
	OPT_LIMIT_RATE };

static int
add_glob(struct ctl *c, const struct command *cmd, const char **globs,
    size_t *n, const char *g)
{
	if (*n == GLOBS_MAX)
		return usage_error(c, cmd, "at most %d globs", GLOBS_MAX);
	globs[(*n)++] = g;
	globs[*n] = NULL;
	return 0;
}

/* mirror's options into x. 0, or the exit status. */
static int
mirror_options(struct ctl *c, const struct command *cmd, int *argc,
    char ***argv, struct tree_cmd *x)
{
	static const struct option longopts[] = {
		{ "delete", no_argument, NULL, OPT_DELETE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "newer-only", no_argument, NULL, OPT_NEWER_ONLY },
		{ "exclude", required_argument, NULL, OPT_EXCLUDE },
		{ "include", required_argument, NULL, OPT_INCLUDE },
		{ "parallel", required_argument, NULL, 'P' },
		{ "background", no_argument, NULL, OPT_BACKGROUND },
		{ "dereference", no_argument, NULL, 'L' },
		{ "links", no_argument, NULL, 'l' },
		{ "perms", no_argument, NULL, OPT_PERMS },
		{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
		{ "limit-rate", required_argument, NULL, OPT_LIMIT_RATE },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long n;
	int ch, status = 0;

	optind = 0;
	while (status == 0 &&
	    (ch = getopt_long(*argc, *argv, ":RLlP:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'R':
			x->o.direction = FTPAGENT_XFER_PUT;
			break;
		case 'L':
			x->o.flags |= FTPAGENT_TREE_FOLLOW_LINKS;
			break;
		case 'l':
			x->o.flags |= FTPAGENT_TREE_LINKS;
			break;
		case OPT_PERMS:
			x->o.flags |= FTPAGENT_TREE_PERMS;
			break;
		case OPT_MAX_DEPTH:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n < 0 || n > 128)
				return usage_error(c, cmd, "--max-depth takes 0 "
				    "to 128");
			x->o.flags |= FTPAGENT_TREE_MAX_DEPTH;
			x->o.max_depth = (int)n;
			break;
		case OPT_DELETE:
			x->o.flags |= FTPAGENT_TREE_DELETE;
			break;
		case OPT_DRY_RUN:
			x->o.flags |= FTPAGENT_TREE_DRY_RUN;
			break;
		case OPT_BACKGROUND:
			x->bg = true;
			break;
		case OPT_LIMIT_RATE:
			status = limit_rate_option(c, cmd, optarg,
			    &c->limit_rate);
			break;
		case OPT_NEWER_ONLY:
			x->o.flags |= FTPAGENT_TREE_NEWER_ONLY;
			break;
		case OPT_EXCLUDE:
			status = add_glob(c, cmd, x->exclude, &x->nexclude,
			    optarg);
			break;
		case OPT_INCLUDE:
			status = add_glob(c, cmd, x->include, &x->ninclude,
			    optarg);
			break;
		case 'P':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || n < 1 || n > 16)
				return usage_error(c, cmd, "-P takes 1 to 16");
			x->o.parallel = (int)n;
			break;
		default:
			return bad_option(c, cmd, ch, *argv);
		}
	}
	*argc -= optind;
	*argv += optind;
	return status;
}

int
cmd_mirror(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct tree_cmd x;
	bool put;
	int status;

	tree_cmd_init(&x);
	if ((status = mirror_options(c, cmd, &argc, &argv, &x)) != 0)
		return status;
	if (argc != 2)
		return usage_error(c, cmd, "mirror takes SRC and DST");
	put = x.o.direction == FTPAGENT_XFER_PUT;
	if (put && (x.o.flags & (FTPAGENT_TREE_FOLLOW_LINKS |
	    FTPAGENT_TREE_LINKS)))
		return usage_error(c, cmd, "-L and -l are for downloads: a "
		    "local link is never followed, and FTP cannot make one");
	if ((x.o.flags & FTPAGENT_TREE_FOLLOW_LINKS) &&
	    (x.o.flags & FTPAGENT_TREE_LINKS))
		return usage_error(c, cmd, "give -L or -l, not both");
	status = tree_ends(c, cmd, &x, put ? argv[1] : argv[0],
	    put ? argv[0] : argv[1]);
	tree_cmd_clear(&x);
	return status;
}

/* The last name of a remote directory, for get -r without DIR. */
static const char *
remote_base(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	for (s = path + n; s > path && s[-1] != '/'; s--)
		;
	if ((size_t)(path + n - s) >= len || path + n == s ||
	    (path + n - s == 1 && *s == '.') ||
	    (path + n - s == 2 && s[0] == '.' && s[1] == '.'))
		return NULL;
	memcpy(buf, s, (size_t)(path + n - s));
	buf[path + n - s] = '\0';
	return buf;
}

int
tree_copy(struct ctl *c, const struct command *cmd, bool put, bool bg,
    int argc, char **argv)
{
	struct tree_cmd x;
	char base[NAME_MAX + 1];
	const char *local;
	struct target t;
	const char *err;
	int status;

	tree_cmd_init(&x);
	x.o.compare = FTPAGENT_COMPARE_ALL;
	x.bg = bg;
	if (put) {
		if (argc != 2)
			return usage_error(c, cmd, "put -r takes LOCALDIR and "
			    "TARGET");
		x.o.direction = FTPAGENT_XFER_PUT;
		status = tree_ends(c, cmd, &x, argv[1], argv[0]);
		tree_cmd_clear(&x);
		return status;
	}
	if (argc < 1 || argc > 2)
		return usage_error(c, cmd, "get -r takes TARGET and maybe DIR");
	if ((local = argc == 2 ? argv[1] : NULL) == NULL) {
		if (target_parse(argv[0], &t, &err) == -1)
			return usage_error(c, cmd, "%s: %s", argv[0], err);
		local = remote_base(t.path, base, sizeof(base));
		target_clear(&t);
		if (local == NULL)
			return usage_error(c, cmd, "%s: name a local DIR",
			    argv[0]);
	}
	status = tree_ends(c, cmd, &x, argv[0], local);
	tree_cmd_clear(&x);
	return status;
}

int
tree_glob(struct ctl *c, const struct command *cmd, const char *arg,
    const char *dir, bool bg)
{
	struct tree_cmd x;
	const char *glob;
	int status;

	tree_cmd_init(&x);
	x.o.compare = FTPAGENT_COMPARE_ALL;
	x.o.flags = FTPAGENT_TREE_MAX_DEPTH;
	x.o.max_depth = 0;
	x.bg = bg;
	x.glob = true;
	x.o.direction = FTPAGENT_XFER_GET;
	if ((status = parse_target(c, cmd, arg, &x.t, &x.display)) != 0)
		return status;
	x.parsed = true;
	if (!target_glob_split(x.t.path, &x.root, &glob))
		status = cmd_error(c, EXIT_REFUSED, "nomem", "out of memory");
	else {
		x.include[x.ninclude++] = glob;
		x.local = dir;
		if ((status = open_local(c, &x, false)) == 0)
			status = tree_run(c, &x);
	}
	tree_cmd_clear(&x);
	return status;
}
