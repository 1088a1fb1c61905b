/*
 * libftpagent: sessions, listings and the file system methods.
 */
#include <config.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "bytename.h"
#include "wire.h"

/* ---- sessions ----------------------------------------------------------- */

static const char *
tls_name(enum ftpagent_tls t)
{
	switch (t) {
	case FTPAGENT_TLS_NONE:
		return "none";
	case FTPAGENT_TLS_EXPLICIT:
		return "explicit";
	case FTPAGENT_TLS_IMPLICIT:
		return "implicit";
	default:
		return NULL;
	}
}

/*
 * The CA file goes to the agent as an open descriptor, read here with
 * the caller's rights: a system agent must not open paths for its
 * callers. Returns the fd, or -1 with the error set.
 */
static int
open_ca_file(struct ftpagent *a, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		fa_set_local_error(a, "cannot open the CA file", path, errno);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		fa_set_local_error(a, "cannot stat the CA file", path, errno);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fa_set_error(a, FTPAGENT_ERR_LOCAL_IO,
		    "the CA file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* session.open's params from url and opts, or NULL with the error set. */
static json_t *
open_params(struct ftpagent *a, const char *url,
    const struct ftpagent_open_opts *opts)
{
	const char *tls;
	json_t *p;
	int r = 0;

	if ((p = json_pack("{s:s}", "url", url)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "session.open: the URL is not valid UTF-8");
		return NULL;
	}
	if ((a->connect_timeout > 0 && json_object_set_new(p,
	    "connect_timeout", json_real(a->connect_timeout)) != 0) ||
	    (a->session_limit_rate >= 0 && json_object_set_new(p,
	    "limit_rate", json_integer(a->session_limit_rate)) != 0)) {
		json_decref(p);
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (opts == NULL)
		return p;
	if (opts->name != NULL)
		r |= json_object_set_new(p, "name", json_string(opts->name));
	if (opts->password != NULL)
		r |= json_object_set_new(p, "password",
		    json_string(opts->password));
	if ((tls = tls_name(opts->tls)) != NULL)
		r |= json_object_set_new(p, "tls", json_string(tls));
	if (opts->insecure)
		r |= json_object_set_new(p, "verify", json_false());
	if (opts->ca_file != NULL)
		r |= json_object_set_new(p, "ca_fd", json_integer(0));
	if (opts->active)
		r |= json_object_set_new(p, "passive", json_false());
	if (opts->max_connections > 0)
		r |= json_object_set_new(p, "max_connections",
		    json_integer(opts->max_connections));
	if (opts->reuse)
		r |= json_object_set_new(p, "reuse", json_true());
	if (opts->list_tz != NULL)
		r |= json_object_set_new(p, "list_tz",
		    json_string(opts->list_tz));
	if (r != 0) {
		/* json_string refuses invalid UTF-8; say which, not what. */
		json_decref(p);
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "session.open: an option is not valid UTF-8");
		return NULL;
	}
	return p;
}

static int
open_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	const char *id = json_string_value(json_object_get(res, "session"));

	if (id == NULL)
		return -1;
	return (r->pub.session = strdup(id)) != NULL ? FA_DONE : -2;
}

static const struct fa_op op_open = {
	.name = "session.open", .result = open_result,
};

uint64_t
ftpagent_send_open(struct ftpagent *a, const char *url,
    const struct ftpagent_open_opts *opts, ftpagent_reply_cb cb, void *arg)
{
	json_t *p;
	int cafd = -1;
	uint64_t id;

	if (!fa_check_args(a, "", url))
		return 0;
	if (opts != NULL && opts->tls != FTPAGENT_TLS_DEFAULT &&
	    tls_name(opts->tls) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid TLS mode %d",
		    (int)opts->tls);
		return 0;
	}
	if ((p = open_params(a, url, opts)) == NULL)
		return 0;
	if (opts != NULL && opts->ca_file != NULL &&
	    (cafd = open_ca_file(a, opts->ca_file)) == -1) {
		json_decref(p);
		return 0;
	}
	/* the queue holds its own copy of the CA file's descriptor */
	id = fa_call_start(a, fa_call_new(a, &op_open, cb, arg),
	    "session.open", p, &cafd, cafd != -1);
	if (cafd != -1)
		close(cafd);
	return id;
}

bool
ftpagent_open(struct ftpagent *a, const char *url,
    const struct ftpagent_open_opts *opts, char **session)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (session != NULL)
		*session = NULL;
	ok = fa_sync_wait(a, ftpagent_send_open(a, url, opts, fa_sync_cb, &s),
	    &s);
	if (ok && session != NULL) {
		*session = s.r.session;
		s.r.session = NULL;
	}
	fa_sync_clear(&s);
	return ok;
}

static const struct fa_op op_close = { .name = "session.close" };

uint64_t
ftpagent_send_close(struct ftpagent *a, const char *session,
    ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, ""))
		return 0;
	return fa_call_start(a, fa_call_new(a, &op_close, cb, arg),
	    "session.close", json_pack("{s:s}", "session", session), NULL, 0);
}

bool
ftpagent_close(struct ftpagent *a, const char *session)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_close(a, session, fa_sync_cb,
	    &s), &s);
}

/* ---- file system -------------------------------------------------------- */

/*
 * Names are bytes to the caller and to the server; on the wire the bytes
 * that are not UTF-8 travel escaped (protocol/bytename.h).
 * ftpa_bytes_json gives the wire form (NULL only when out of memory, which
 * json_pack then reports); bytes_dup the caller's form of a string from a
 * reply.
 */
char *
fa_bytes_dup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) != NULL)
		ftpa_bytes_unescape(d, strlen(d));
	return d;
}

/* 0, -1 when o is not an entry, -2 when out of memory. */
int
fa_parse_entry(const json_t *o, struct ftpagent_entry *e)
{
	struct ftp_entry	w;
	int			r;

	memset(e, 0, sizeof(*e));
	if ((r = wire_entry_read(o, &w)) != 0)
		return r;
	/* the same members: the strings move over */
	e->name = w.name;
	e->type = w.type == FTP_ENTRY_FILE ? FTPAGENT_FILE :
	    w.type == FTP_ENTRY_DIR ? FTPAGENT_DIR :
	    w.type == FTP_ENTRY_LINK ? FTPAGENT_LINK : FTPAGENT_OTHER;
	e->size = w.size;
	e->mtime = w.mtime;
	e->perm = w.perm;
	e->target = w.target;
	e->raw = w.raw;
	return 0;
}

void
ftpagent_entry_clear(struct ftpagent_entry *e)
{
	if (e == NULL)
		return;
	free(e->name);
	free(e->target);
	free(e->raw);
	e->name = e->target = e->raw = NULL;
}

void
ftpagent_entries_free(struct ftpagent_entry *e, size_t n)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < n; i++)
		ftpagent_entry_clear(&e[i]);
	free(e);
}

int
fa_parse_array(const json_t *arr, size_t size,
    int (*parse)(const json_t *, void *), void (*clear)(void *), void **out,
    size_t *n)
{
	char *els = NULL;
	size_t i, j, count;
	int r;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr))
		return -1;
	count = json_array_size(arr);
	if (count > 0 && (els = calloc(count, size)) == NULL)
		return -2;
	for (i = 0; i < count; i++) {
		if ((r = parse(json_array_get(arr, i), els + i * size)) == 0)
			continue;
		for (j = 0; j < i; j++)
			clear(els + j * size);
		free(els);
		return r == -2 ? -2 : -1;
	}
	*out = els;
	*n = count;
	return 0;
}

static int
parse_entry_cb(const json_t *o, void *e)
{
	return fa_parse_entry(o, e);
}

static void
clear_entry_cb(void *e)
{
	ftpagent_entry_clear(e);
}

static int
list_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	const json_t *arr = json_is_array(res) ? res :
	    json_object_get(res, "entries");

	return fa_parse_array(arr, sizeof(struct ftpagent_entry),
	    parse_entry_cb, clear_entry_cb, (void **)&r->pub.entries,
	    &r->pub.n_entries);
}

static int
stat_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	return fa_parse_entry(res, &r->pub.entry);
}

static int
quote_result(struct ftpagent *a, struct fa_call *c, json_t *res,
    struct fa_reply *r)
{
	json_t *code = json_object_get(res, "code");
	const char *t = json_string_value(json_object_get(res, "text"));

	/* a reply code is three digits, 100-599 */
	if (!json_is_integer(code) || json_integer_value(code) < 100 ||
	    json_integer_value(code) > 599)
		return -1;
	r->pub.code = (int)json_integer_value(code);
	return (r->pub.text = fa_bytes_dup(t != NULL ? t : "")) != NULL ?
	    FA_DONE : -2;
}

static const struct fa_op op_list = {
	.name = "fs.list", .result = list_result,
};
static const struct fa_op op_stat = {
	.name = "fs.stat", .result = stat_result,
};
static const struct fa_op op_mkdir = { .name = "fs.mkdir" };
static const struct fa_op op_remove = { .name = "fs.remove" };
static const struct fa_op op_rmdir = { .name = "fs.rmdir" };
static const struct fa_op op_rename = { .name = "fs.rename" };
static const struct fa_op op_chmod = { .name = "fs.chmod" };
static const struct fa_op op_set_mtime = { .name = "fs.set_mtime" };
static const struct fa_op op_quote = {
	.name = "ftp.quote", .result = quote_result,
};

/* op's request with params (stolen). */
static uint64_t
send_op(struct ftpagent *a, const struct fa_op *op, json_t *params,
    ftpagent_reply_cb cb, void *arg)
{
	return fa_call_start(a, fa_call_new(a, op, cb, arg), op->name, params,
	    NULL, 0);
}

uint64_t
ftpagent_send_list(struct ftpagent *a, const char *session, const char *path,
    ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path != NULL ? path : ""))
		return 0;
	return send_op(a, &op_list, json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path != NULL ? path : "")), cb, arg);
}

bool
ftpagent_list(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry **entries, size_t *n)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (entries != NULL)
		*entries = NULL;
	if (n != NULL)
		*n = 0;
	if (a != NULL && a->err == FTPAGENT_OK && (entries == NULL ||
	    n == NULL)) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.list: no result pointer");
		return false;
	}
	ok = fa_sync_wait(a, ftpagent_send_list(a, session, path, fa_sync_cb,
	    &s), &s);
	if (ok) {
		*entries = s.r.entries;
		*n = s.r.n_entries;
		s.r.entries = NULL;
		s.r.n_entries = 0;
	}
	fa_sync_clear(&s);
	return ok;
}

uint64_t
ftpagent_send_stat(struct ftpagent *a, const char *session, const char *path,
    ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	return send_op(a, &op_stat, json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), cb, arg);
}

bool
ftpagent_stat(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry *entry)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (entry != NULL)
		memset(entry, 0, sizeof(*entry));
	if (a != NULL && a->err == FTPAGENT_OK && entry == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.stat: no result pointer");
		return false;
	}
	ok = fa_sync_wait(a, ftpagent_send_stat(a, session, path, fa_sync_cb,
	    &s), &s);
	if (ok) {
		*entry = s.r.entry;
		memset(&s.r.entry, 0, sizeof(s.r.entry));
	}
	fa_sync_clear(&s);
	return ok;
}

uint64_t
ftpagent_send_mkdir(struct ftpagent *a, const char *session, const char *path,
    bool parents, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	return send_op(a, &op_mkdir, json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "parents", parents), cb,
	    arg);
}

bool
ftpagent_mkdir(struct ftpagent *a, const char *session, const char *path,
    bool parents)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_mkdir(a, session, path, parents,
	    fa_sync_cb, &s), &s);
}

uint64_t
ftpagent_send_remove(struct ftpagent *a, const char *session,
    const char *path, bool recursive, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	return send_op(a, &op_remove, json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "recursive", recursive), cb,
	    arg);
}

bool
ftpagent_remove(struct ftpagent *a, const char *session, const char *path,
    bool recursive)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_remove(a, session, path, recursive,
	    fa_sync_cb, &s), &s);
}

uint64_t
ftpagent_send_rmdir(struct ftpagent *a, const char *session, const char *path,
    ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	return send_op(a, &op_rmdir, json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), cb, arg);
}

bool
ftpagent_rmdir(struct ftpagent *a, const char *session, const char *path)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_rmdir(a, session, path, fa_sync_cb,
	    &s), &s);
}

uint64_t
ftpagent_send_rename(struct ftpagent *a, const char *session,
    const char *from, const char *to, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, from) || !fa_check_args(a, session, to))
		return 0;
	return send_op(a, &op_rename, json_pack("{s:s,s:o,s:o}", "session",
	    session, "from", ftpa_bytes_json(from), "to", ftpa_bytes_json(to)),
	    cb, arg);
}

bool
ftpagent_rename(struct ftpagent *a, const char *session, const char *from,
    const char *to)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_rename(a, session, from, to,
	    fa_sync_cb, &s), &s);
}

uint64_t
ftpagent_send_chmod(struct ftpagent *a, const char *session, const char *path,
    int mode, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	if (mode < 0 || mode > 07777) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.chmod: invalid mode %#o",
		    (unsigned)mode);
		return 0;
	}
	return send_op(a, &op_chmod, json_pack("{s:s,s:o,s:i}", "session",
	    session, "path", ftpa_bytes_json(path), "mode", mode), cb, arg);
}

bool
ftpagent_chmod(struct ftpagent *a, const char *session, const char *path,
    int mode)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_chmod(a, session, path, mode,
	    fa_sync_cb, &s), &s);
}

uint64_t
ftpagent_send_set_mtime(struct ftpagent *a, const char *session,
    const char *path, int64_t mtime, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, path))
		return 0;
	return send_op(a, &op_set_mtime, json_pack("{s:s,s:o,s:I}", "session",
	    session, "path", ftpa_bytes_json(path), "mtime", (json_int_t)mtime),
	    cb, arg);
}

bool
ftpagent_set_mtime(struct ftpagent *a, const char *session, const char *path,
    int64_t mtime)
{
	struct fa_sync s = { 0 };

	return fa_sync_void(a, ftpagent_send_set_mtime(a, session, path, mtime,
	    fa_sync_cb, &s), &s);
}

uint64_t
ftpagent_send_quote(struct ftpagent *a, const char *session,
    const char *command, ftpagent_reply_cb cb, void *arg)
{
	if (!fa_check_args(a, session, command))
		return 0;
	return send_op(a, &op_quote, json_pack("{s:s,s:o}", "session", session,
	    "command", ftpa_bytes_json(command)), cb, arg);
}

bool
ftpagent_quote(struct ftpagent *a, const char *session, const char *command,
    int *code, char **text)
{
	struct fa_sync s = { 0 };
	bool ok;

	if (code != NULL)
		*code = 0;
	if (text != NULL)
		*text = NULL;
	ok = fa_sync_wait(a, ftpagent_send_quote(a, session, command,
	    fa_sync_cb, &s), &s);
	if (ok) {
		if (code != NULL)
			*code = s.r.code;
		if (text != NULL) {
			*text = s.r.text;
			s.r.text = NULL;
		}
	}
	fa_sync_clear(&s);
	return ok;
}
