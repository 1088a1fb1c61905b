/*
 * Listings and stat, and plain commands: fs.list (MLSD, or CWD then LIST
 * with no argument), fs.stat (MLST, else SIZE and MDTM, else the parent's
 * listing, else CWD), the filter of quoted commands, and one-command
 * operations (mkdir, remove, rename, ...).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ftp_cmd.h"
#include "ftp_list.h"
#include "ftp_parse.h"
#include "log.h"
#include "localfd.h"
#include "util.h"
#include "ftp_priv.h"




/* ---- listings and stat --------------------------------------------------- */

/* The op's one entry (stat, or a listing of one file): a copy of *e,
 * named by the op's path. */
static void
result_entry(struct ftp_op *op, const struct ftp_entry *e)
{
	struct ftp_entry	*r;

	ftp_op_result_clear(&op->res);
	r = xcalloc(1, sizeof(*r));
	*r = *e;
	r->name = xstrdup(ftp_path_base(op->path));
	r->target = e->target != NULL ? xstrdup(e->target) : NULL;
	r->raw = e->raw != NULL ? xstrdup(e->raw) : NULL;
	op->res.entries = r;
	op->res.n_entries = 1;
}

/* A relative path as the server sees it from the login directory, so that
 * a CWD means the same wherever the connection is. */
static char *
path_from_home(const struct ftp_conn *c, const char *path)
{
	char	*abs;

	if (c->home == NULL)
		return xstrdup(path);
	if ((abs = ftp_path_join(c->home, path)) == NULL)
		fatalx("out of memory");
	return abs;
}

/* Sends CWD to path (relative to the login directory). */
static void
send_cwd(struct ftp_conn *c, enum op_step step, const char *path)
{
	char	*abs = path_from_home(c, path);

	op_send(c, step, "CWD %s", abs);
	free(abs);
}

/*
 * Servers that run ls for LIST split its argument at white space and take
 * "-x" words for options ("LIST a b" lists a and b, "LIST -la" the working
 * directory); curl and lftp never send one. Without MLSD, a listing is of
 * the working directory, entered with CWD; the next op goes back first.
 */
void
list_start(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	localfd_close(&op->lfd);
	localfd_open_mem_sink(&op->lfd, LISTING_MAX);
	if (c->has_mlst || op->path[0] == '\0' || c->home == NULL) {
		data_open(c);
		return;
	}
	send_cwd(c, STEP_LIST_CWD, op->path);
}

void
list_cwd_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 2) {
		c->away = true;
		data_open(c);
		return;
	}
	if (code / 100 == 5) {
		list_not_dir(c, code, text);
		return;
	}
	op_fail(c, FTPA_ERR_FTP, code, text, "list %s: %d %s", c->op->path,
	    code, first_line(text, line, sizeof(line)));
}

/*
 * What a listing cannot enter: a file (answered with its one entry, as ls
 * does), nothing (not_found), or a directory refused to us (its error).
 * Found out the way fs.stat finds out.
 */
void
list_not_dir(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;

	data_close(c);
	localfd_close(&op->lfd);
	op->list_single = true;
	op->nodir_code = code;
	free(op->nodir_text);
	op->nodir_text = xstrdup(text);
	if (c->has_mlst)
		op_send(c, STEP_MLST, "MLST %s", op->path);
	else
		with_type(c, 'I');
}

/* fs.list's answer when stat found the entry: true when the op ended. */
bool
list_single_done(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	char		 line[200];
	bool		 dir = op->res.n_entries == 1 &&
	    op->res.entries[0].type == FTP_ENTRY_DIR;

	if (dir && op->nodir_code / 100 == 2) {
		/* an empty listing (list_empty_probe) of a directory there */
		ftp_op_result_clear(&op->res);
		op->list_single = false;
		return false;
	}
	if (dir) {
		ftp_op_result_clear(&op->res);
		op_fail(c, FTPA_ERR_FTP, op->nodir_code, op->nodir_text,
		    "list %s: %d %s", op->path, op->nodir_code,
		    first_line(op->nodir_text, line, sizeof(line)));
		return true;
	}
	op->res.mlsd = c->has_mlst;
	return false;
}

/*
 * ls complaints that came down the data connection ("ls: x: No such file
 * or directory") are no entries. Beside entries of a LIST with no
 * argument they are dropped; a listing of nothing else, or of a LIST
 * with an argument (which ls may have split), is the error it says.
 * Returns true when the op ended.
 */
static bool
list_drop_errors(struct ftp_conn *c, struct ftp_entry *ents, size_t *n)
{
	size_t	 kept = 0, errors = 0;
	bool	 missing = false, miss;
	char	 first[200] = "";

	for (size_t i = 0; i < *n; i++) {
		if (ents[i].raw == NULL ||
		    !ftp_list_error_line(ents[i].raw, &miss)) {
			ents[kept++] = ents[i];
			continue;
		}
		if (errors++ == 0)
			snprintf(first, sizeof(first), "%s", ents[i].raw);
		missing = missing || miss;
		ftp_entry_clear(&ents[i]);
	}
	*n = kept;
	if (errors == 0)
		return false;
	if (kept > 0 && (c->away || c->op->path[0] == '\0')) {
		log_warnx("%s:%u: list %s: %zu error line(s) dropped: %s",
		    c->p->host, c->p->port, c->op->path, errors, first);
		return false;
	}
	ftp_entries_free(ents, kept);
	op_fail(c, missing ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, 0, NULL,
	    "list %s: %s", c->op->path, first);
	return true;
}

/*
 * A LIST of a path (not of the directory CWD entered: the login directory
 * is unknown) that came back empty: servers answer one of a missing path
 * with 226 and nothing (vsftpd). Stat's way tells an empty directory
 * from nothing; the 226 is the "nodir" reply. True when probing.
 */
static bool
list_empty_probe(struct ftp_conn *c, size_t n)
{
	struct ftp_op	*op = c->op;

	if (n > 0 || c->has_mlst || c->away || op->list_single ||
	    !ftp_path_has_parent(op->path))
		return false;
	log_debug("%s:%u: list %s: empty, is it there?", c->p->host,
	    c->p->port, op->path);
	list_not_dir(c, op->final_code, "an empty listing");
	return true;
}

void
list_finish(struct ftp_conn *c)
{
	struct ftp_op		*op = c->op;
	struct ftp_entry	*ents;
	size_t			 n;

	if (ftp_list_parse_buffer(op->lfd.mem ? op->lfd.mem : "", op->lfd.mem_len,
	    c->has_mlst, time(NULL), c->p->list_tz, LIST_ENTRIES_MAX, &ents,
	    &n) == -1) {
		op_fail(c, FTPA_ERR_LIMIT, 0, NULL, "directory listing too large");
		return;
	}
	if (!c->has_mlst && list_drop_errors(c, ents, &n))
		return;
	if (list_empty_probe(c, n)) {
		ftp_entries_free(ents, n);
		return;
	}
	ftp_op_result_clear(&op->res);
	op->res.entries = ents;
	op->res.n_entries = n;
	op->res.mlsd = c->has_mlst;
	op_succeed(c);
}


static void
stat_result(struct ftp_conn *c, enum ftp_entry_type type, int64_t size,
    int64_t mtime)
{
	struct ftp_entry	e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.size = size;
	e.mtime = mtime;
	e.perm = -1;
	result_entry(c->op, &e);
	op_succeed(c);
}

void
cwd_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 2) {
		c->away = true;
		stat_result(c, FTP_ENTRY_DIR, -1, INT64_MIN);
		return;
	}
	op_fail(c, FTPA_ERR_NOT_FOUND, code, text, "%s: %d %s", c->op->path,
	    code, first_line(text, line, sizeof(line)));
}

/* Not in a listing: a directory if we can enter it (the next op comes
 * back). A listing's CWD has been refused already. */
static void
stat_by_cwd(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];

	if (op->list_single && !c->has_mlst) {
		op_fail(c, FTPA_ERR_NOT_FOUND, op->nodir_code, op->nodir_text,
		    "list %s: no such file or directory (%d %s)", op->path,
		    op->nodir_code, first_line(op->nodir_text, line,
		    sizeof(line)));
		return;
	}
	if (c->home == NULL) {
		op_fail(c, code == 550 ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, code,
		    text, "%s: %d %s", op->path, code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	send_cwd(c, STEP_STAT_CWD, op->path);
}

/*
 * Without MLST, and when SIZE or MDTM could not tell: the entry in the
 * parent's LIST, which also gives permissions, links and directories.
 * code and text, the reply that sent us here, name the error when there
 * is no parent to list and no way to enter the path.
 */
void
stat_parent_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code / 100 != 2) {
		/* no parent, no entry in it */
		c->op->stat_listing = false;
		stat_by_cwd(c, code, text);
		return;
	}
	c->away = true;
	data_open(c);
}

static void
stat_by_list(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		*parent;

	if (!ftp_path_has_parent(op->path)) {
		if (op->total >= 0)
			stat_result(c, FTP_ENTRY_FILE, op->total, INT64_MIN);
		else
			stat_by_cwd(c, code, text);
		return;
	}
	op->stat_listing = true;
	op->prelim_seen = op->final_seen = op->data_eof = false;
	localfd_close(&op->lfd);
	localfd_open_mem_sink(&op->lfd, LISTING_MAX);
	if (c->home == NULL) {
		data_open(c);	/* LIST parent, as it is */
		return;
	}
	parent = xstrndup(op->path, ftp_path_parent_len(op->path));
	send_cwd(c, STEP_STAT_PARENT, parent);
	free(parent);
}

void
stat_list_finish(struct ftp_conn *c)
{
	struct ftp_op		*op = c->op;
	struct ftp_entry	*ents, *hit = NULL;
	const char		*base = ftp_path_base(op->path);
	size_t			 n;

	op->stat_listing = false;
	if (ftp_list_parse_buffer(op->lfd.mem ? op->lfd.mem : "", op->lfd.mem_len,
	    false, time(NULL), c->p->list_tz, LIST_ENTRIES_MAX, &ents,
	    &n) == -1) {
		op_fail(c, FTPA_ERR_LIMIT, 0, NULL, "directory listing too large");
		return;
	}
	localfd_close(&op->lfd);
	for (size_t i = 0; i < n && hit == NULL; i++)
		if (ents[i].type != FTP_ENTRY_OTHER && ents[i].name != NULL &&
		    strcmp(ents[i].name, base) == 0)
			hit = &ents[i];
	if (hit != NULL) {
		/* SIZE is exact where a listing may round */
		if (op->total >= 0 && hit->type == FTP_ENTRY_FILE)
			hit->size = op->total;
		result_entry(op, hit);
		ftp_entries_free(ents, n);
		op_succeed(c);
		return;
	}
	ftp_entries_free(ents, n);
	if (op->total >= 0) {
		/* a file the listing hides (a dot file, say) */
		stat_result(c, FTP_ENTRY_FILE, op->total, INT64_MIN);
		return;
	}
	stat_by_cwd(c, 550, "550 not in the parent's listing");
}

void
mdtm_reply(struct ftp_conn *c, int code, const char *text)
{
	int64_t	mtime = INT64_MIN;

	if (code == 213 && ftp_parse_mdtm(text, &mtime) == 0) {
		stat_result(c, FTP_ENTRY_FILE, c->op->total, mtime);
		return;
	}
	if (code / 100 == 4 || code / 100 == 5) {
		/* no MDTM: the listing has a date */
		stat_by_list(c, code, text);
		return;
	}
	stat_result(c, FTP_ENTRY_FILE, c->op->total, INT64_MIN);
}

void
stat_size_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];
	int64_t	sz;

	if (code == 213 && ftp_parse_size(text, &sz) == 0) {
		c->op->total = sz;
		op_send(c, STEP_STAT_MDTM, "MDTM %s", c->op->path);
		return;
	}
	if (code / 100 == 5) {
		/* a directory, a missing file, or no SIZE at all */
		stat_by_list(c, code, text);
		return;
	}
	/* "213 12ab", a size past 2^63: the server broke the protocol, it did
	 * not say no */
	op_fail(c, code == 213 ? FTPA_ERR_PROTOCOL : FTPA_ERR_FTP, code, text,
	    "%s: %s%d %s", c->op->path, code == 213 ? "malformed SIZE reply: " :
	    "", code, first_line(text, line, sizeof(line)));
}

void
stat_by_size(struct ftp_conn *c)
{
	c->op->total = -1;
	op_send(c, STEP_STAT_SIZE, "SIZE %s", c->op->path);
}

void
mlst_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_entry	 e;
	const char		*line, *nl;
	char			 first[200];

	if (code / 100 != 2) {
		if (code == 550) {
			op_fail(c, FTPA_ERR_NOT_FOUND, code, text, "%s: %d %s",
			    c->op->path, code, first_line(text, first, sizeof(first)));
			return;
		}
		with_type(c, 'I');
		return;
	}
	/* the fact line is the one that starts with a space */
	for (line = text; line != NULL && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (*line != ' ')
			continue;
		memset(&e, 0, sizeof(e));
		if (ftp_list_parse_mlsd(line + 1, nl ? (size_t)(nl - line - 1) :
		    strlen(line + 1), &e) == FTP_LIST_ENTRY) {
			result_entry(c->op, &e);
			ftp_entry_clear(&e);
			op_succeed(c);
			return;
		}
		ftp_entry_clear(&e);
	}
	conn_drop(c, FTPA_ERR_PROTOCOL, code, text, "malformed MLST reply");
}

/* ---- raw commands ------------------------------------------------------------ */



/* One command, or two (RNFR then RNTO): success is a final 2xx. */
void
cmd_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];

	first_line(text, line, sizeof(line));
	if (op->cmd2 != NULL && c->step == STEP_CMD && code / 100 == 3) {
		op_send(c, STEP_CMD2, "%s", op->cmd2);
		return;
	}
	/* tolerance: any 2xx will do (200 where 250 is due, and so on) */
	if (code / 100 == 2 && (op->cmd2 == NULL || c->step == STEP_CMD2)) {
		op->res.code = code;
		op->res.text = xstrdup(text);
		op_succeed(c);
		return;
	}
	op_fail(c, code == 550 && c->step == STEP_CMD && op->notfound_550 &&
	    ftp_says_missing(text) ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, code, text,
	    "%d %s", code, line);
}

void
quote_reply(struct ftp_conn *c, int code, const char *text)
{
	c->op->res.code = code;
	c->op->res.text = xstrdup(text);
	op_succeed(c);
}
