/*
 * ftpctl: ls, stat and the file system commands (mkdir, rm, rmdir, mv,
 * chmod, touch, quote).
 */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpctl.h"
#include "wire.h"

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

int
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

int
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

int
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

/*
 * After a failed rm -r: the entry below the target that failed (the
 * agent's data.path), in the target's form, or NULL when the target
 * itself failed. Caller frees.
 */
static char *
failed_entry(struct ctl *c, struct resolved *r)
{
	const char *data = ftpagent_error_data(c->fa);
	json_t *j = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
	const char *p = json_string_value(json_object_get(j, "path"));
	char *path = p ? strdup(p) : NULL, *s = NULL, *saved;

	json_decref(j);
	if (path == NULL)
		return NULL;
	ftpa_bytes_unescape(path, strlen(path));
	if (r->t.kind == TARGET_URL) {
		saved = r->t.url.path;
		r->t.url.path = path;
		s = ftp_url_format(&r->t.url, r->t.url.user, true);
		r->t.url.path = saved;
	} else if (asprintf(&s, "%s:%s", r->t.session, path) == -1)
		s = NULL;
	free(path);
	return s;
}

int
cmd_rm(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "recursive", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct resolved r;
	struct target t;
	const char *err;
	char *entry;
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
	if (!ok && (entry = failed_entry(c, &r)) != NULL) {
		/* name what failed, not the whole tree */
		free(r.display);
		r.display = entry;
	}
	return fs_done(c, &r, ok, json_pack("{s:b, s:o}", "ok", 1, "path",
	    ftpa_bytes_json(r.t.path)));
}

int
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

int
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

int
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

int
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

int
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
