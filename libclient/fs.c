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

/* ---- sessions -------------------------------------------------------------- */

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

bool
ftpagent_open(struct ftpagent *a, const char *url,
    const struct ftpagent_open_opts *opts, char **session)
{
	json_t *p, *res;
	const char *id, *tls;
	int r = 0, cafd = -1;
	bool ok;

	if (session != NULL)
		*session = NULL;
	if (!fa_check_args(a, "", url))
		return false;
	if (opts != NULL && opts->tls != FTPAGENT_TLS_DEFAULT &&
	    tls_name(opts->tls) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "invalid TLS mode %d",
		    (int)opts->tls);
		return false;
	}
	if ((p = json_pack("{s:s}", "url", url)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	if (opts != NULL) {
		if (opts->name != NULL)
			r |= json_object_set_new(p, "name",
			    json_string(opts->name));
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
	}
	if (r != 0) {
		/* json_string refuses invalid UTF-8; say which, not what. */
		json_decref(p);
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT,
		    "session.open: an option is not valid UTF-8");
		return false;
	}
	if (opts != NULL && opts->ca_file != NULL &&
	    (cafd = open_ca_file(a, opts->ca_file)) == -1) {
		json_decref(p);
		return false;
	}
	ok = fa_rpc(a, "session.open", p, &cafd, cafd != -1, NULL, &res);
	if (cafd != -1)
		close(cafd);
	if (!ok)
		return false;
	id = json_string_value(json_object_get(res, "session"));
	if (id == NULL) {
		json_decref(res);
		fa_set_bad_reply(a, "session.open");
		return false;
	}
	if (session != NULL && (*session = strdup(id)) == NULL) {
		json_decref(res);
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	json_decref(res);
	return true;
}

bool
ftpagent_close(struct ftpagent *a, const char *session)
{
	if (!fa_check_args(a, session, ""))
		return false;
	return fa_rpc_void(a, "session.close",
	    json_pack("{s:s}", "session", session));
}

/* ---- file system ------------------------------------------------------------ */

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
static int
parse_entry(const json_t *o, struct ftpagent_entry *e)
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

/*
 * Parses the array arr of a reply to method into a new array of
 * elements of size bytes each (*out NULL when empty), with parse (0,
 * -1: not what it should be, -2: out of memory) and clear. False with
 * the error set.
 */
bool
fa_parse_array(struct ftpagent *a, const char *method, const json_t *arr,
    size_t size, int (*parse)(const json_t *, void *),
    void (*clear)(void *), void **out, size_t *n)
{
	char *els = NULL;
	size_t i, j, count;
	int r;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		fa_set_bad_reply(a, method);
		return false;
	}
	count = json_array_size(arr);
	if (count > 0 && (els = calloc(count, size)) == NULL) {
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	for (i = 0; i < count; i++) {
		if ((r = parse(json_array_get(arr, i), els + i * size)) == 0)
			continue;
		for (j = 0; j < i; j++)
			clear(els + j * size);
		free(els);
		if (r == -2)
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		else
			fa_set_bad_reply(a, method);
		return false;
	}
	*out = els;
	*n = count;
	return true;
}

static int
parse_entry_cb(const json_t *o, void *e)
{
	return parse_entry(o, e);
}

static void
clear_entry_cb(void *e)
{
	ftpagent_entry_clear(e);
}

bool
ftpagent_list(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry **entries, size_t *n)
{
	struct ftpagent_entry *es = NULL;
	json_t *res, *arr;
	size_t count;
	bool ok;

	if (entries != NULL)
		*entries = NULL;
	if (n != NULL)
		*n = 0;
	if (path == NULL)
		path = "";
	if (!fa_check_args(a, session, path))
		return false;
	if (entries == NULL || n == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.list: no result pointer");
		return false;
	}
	if (!fa_rpc(a, "fs.list", json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), NULL, 0, NULL, &res))
		return false;
	arr = json_is_array(res) ? res : json_object_get(res, "entries");
	ok = fa_parse_array(a, "fs.list", arr, sizeof(*es), parse_entry_cb,
	    clear_entry_cb, (void **)&es, &count);
	json_decref(res);
	if (ok) {
		*entries = es;
		*n = count;
	}
	return ok;
}

bool
ftpagent_stat(struct ftpagent *a, const char *session, const char *path,
    struct ftpagent_entry *entry)
{
	json_t *res;
	int r;

	if (entry != NULL)
		memset(entry, 0, sizeof(*entry));
	if (!fa_check_args(a, session, path))
		return false;
	if (entry == NULL) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.stat: no result pointer");
		return false;
	}
	if (!fa_rpc(a, "fs.stat", json_pack("{s:s,s:o}", "session", session,
	    "path", ftpa_bytes_json(path)), NULL, 0, NULL, &res))
		return false;
	r = parse_entry(res, entry);
	json_decref(res);
	if (r == -2)
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
	else if (r != 0)
		fa_set_bad_reply(a, "fs.stat");
	return r == 0;
}

bool
ftpagent_mkdir(struct ftpagent *a, const char *session, const char *path,
    bool parents)
{
	if (!fa_check_args(a, session, path))
		return false;
	return fa_rpc_void(a, "fs.mkdir", json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "parents", parents));
}

bool
ftpagent_remove(struct ftpagent *a, const char *session, const char *path,
    bool recursive)
{
	if (!fa_check_args(a, session, path))
		return false;
	return fa_rpc_void(a, "fs.remove", json_pack("{s:s,s:o,s:b}", "session",
	    session, "path", ftpa_bytes_json(path), "recursive", recursive));
}

bool
ftpagent_rmdir(struct ftpagent *a, const char *session, const char *path)
{
	if (!fa_check_args(a, session, path))
		return false;
	return fa_rpc_void(a, "fs.rmdir", json_pack("{s:s,s:o}", "session",
	    session, "path", ftpa_bytes_json(path)));
}

bool
ftpagent_rename(struct ftpagent *a, const char *session, const char *from,
    const char *to)
{
	if (!fa_check_args(a, session, from) || !fa_check_args(a, session, to))
		return false;
	return fa_rpc_void(a, "fs.rename", json_pack("{s:s,s:o,s:o}", "session",
	    session, "from", ftpa_bytes_json(from), "to", ftpa_bytes_json(to)));
}

bool
ftpagent_chmod(struct ftpagent *a, const char *session, const char *path,
    int mode)
{
	if (!fa_check_args(a, session, path))
		return false;
	if (mode < 0 || mode > 07777) {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "fs.chmod: invalid mode %#o",
		    (unsigned)mode);
		return false;
	}
	return fa_rpc_void(a, "fs.chmod", json_pack("{s:s,s:o,s:i}", "session",
	    session, "path", ftpa_bytes_json(path), "mode", mode));
}

bool
ftpagent_set_mtime(struct ftpagent *a, const char *session, const char *path,
    int64_t mtime)
{
	if (!fa_check_args(a, session, path))
		return false;
	return fa_rpc_void(a, "fs.set_mtime", json_pack("{s:s,s:o,s:I}",
	    "session", session, "path", ftpa_bytes_json(path), "mtime", (json_int_t)mtime));
}

bool
ftpagent_quote(struct ftpagent *a, const char *session, const char *command,
    int *code, char **text)
{
	json_t *res, *c;
	const char *t;

	if (code != NULL)
		*code = 0;
	if (text != NULL)
		*text = NULL;
	if (!fa_check_args(a, session, command))
		return false;
	if (!fa_rpc(a, "ftp.quote", json_pack("{s:s,s:o}", "session", session,
	    "command", ftpa_bytes_json(command)), NULL, 0, NULL, &res))
		return false;
	c = json_object_get(res, "code");
	t = json_string_value(json_object_get(res, "text"));
	if (!json_is_integer(c)) {
		json_decref(res);
		fa_set_bad_reply(a, "ftp.quote");
		return false;
	}
	if (code != NULL)
		*code = (int)json_integer_value(c);
	if (text != NULL && (*text = fa_bytes_dup(t != NULL ? t : "")) == NULL) {
		json_decref(res);
		fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		return false;
	}
	json_decref(res);
	return true;
}
