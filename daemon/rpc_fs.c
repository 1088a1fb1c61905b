/*
 * The file system methods (fs.*) and ftp.quote: one operation queued on
 * the session, or several made by fsops.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fsops.h"
#include "ftp.h"
#include "ftp_cmd.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "wire.h"
#include "rpc_priv.h"

/* ---- file system ------------------------------------------------------------ */

static json_t *
entries_json(const struct ftp_op_result *r)
{
	json_t	*arr = json_array();

	if (arr == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < r->n_entries; i++)
		if (json_array_append_new(arr, wire_entry_json(&r->entries[i]))
		    == -1)
			fatalx("out of memory");
	return arr;
}

/* The wire form of what op found. */
static json_t *
op_result_json(const struct ftp_op *op)
{
	const struct ftp_op_result *r = &op->res;
	json_t		*o;

	switch (op->kind) {
	case OP_LIST:
		o = json_pack("{s:o, s:s}", "entries", entries_json(r),
		    "source", r->mlsd ? "mlsd" : "list");
		break;
	case OP_STAT:
		o = r->n_entries == 1 ? wire_entry_json(&r->entries[0]) :
		    json_object();
		break;
	default:
		o = json_pack("{s:i, s:o}", "code", r->code, "text",
		    json_text(r->text != NULL ? r->text : ""));
		break;
	}
	if (o == NULL)
		fatalx("out of memory");
	return o;
}

static void
fs_done(struct ftp_op *op, void *arg)
{
	struct rpc_call	*call = arg;

	if (call != NULL) {
		if (op->failed)
			rpc_fail_op(call, &op->err, NULL);
		else
			rpc_reply(call, op_result_json(op));
	}
	ftp_op_free(op);
}

static void
fs_gone(struct rpc_call *call, void *arg)
{
	struct ftp_op	*op = arg;

	/*
	 * Its result goes nowhere. Not yet started, or a listing (a big reply
	 * being built): cancelled, so that connecting, asking and hanging up
	 * in a loop piles up no work. A short command under way finishes.
	 */
	op->arg = NULL;
	if (op->conn == NULL || op->kind == OP_LIST)
		session_cancel_op(op->session, op);
}

/* Queues an op whose result answers the call. key names its argument. */
static void
fs_op(struct rpc_call *call, json_t *params, enum op_kind kind,
    const char *key, bool required)
{
	const char	*arg, *why;
	struct ftp_op	*op;

	if (p_path(call, params, key, required, &arg) == -1)
		return;
	if (kind == OP_QUOTE && (why = ftp_quote_refusal(arg)) != NULL) {
		params_error(call, "%s", why);
		return;
	}
	op = ftp_op_new(kind, arg);
	op->done = fs_done;
	op->arg = call;
	rpc_defer(call);
	call->on_gone = fs_gone;
	call->gone_arg = op;
	session_submit(call->session, op);
}

void
m_fs_list(struct rpc_call *call, json_t *params)
{
	call->heavy = true;
	fs_op(call, params, OP_LIST, "path", false);
}

void
m_fs_stat(struct rpc_call *call, json_t *params)
{
	fs_op(call, params, OP_STAT, "path", true);
}

void
m_mkdir(struct rpc_call *call, json_t *params)
{
	const char	*path;
	bool		 parents;

	if (p_path(call, params, "path", true, &path) == -1 ||
	    p_bool(call, params, "parents", false, &parents) == -1)
		return;
	fsops_mkdir(call, call->session, path, parents);
}

void
m_rmdir(struct rpc_call *call, json_t *params)
{
	const char	*path;

	if (p_path(call, params, "path", true, &path) == -1)
		return;
	fsops_rmdir(call, call->session, path);
}

void
m_remove(struct rpc_call *call, json_t *params)
{
	const char	*path;
	bool		 recursive;

	if (p_path(call, params, "path", true, &path) == -1 ||
	    p_bool(call, params, "recursive", false, &recursive) == -1)
		return;
	fsops_remove(call, call->session, path, recursive);
}

void
m_rename(struct rpc_call *call, json_t *params)
{
	const char	*from, *to;

	if (p_path(call, params, "from", true, &from) == -1 ||
	    p_path(call, params, "to", true, &to) == -1)
		return;
	fsops_rename(call, call->session, from, to);
}

void
m_chmod(struct rpc_call *call, json_t *params)
{
	const char	*path;
	json_t		*m;
	long		 mode = -1;
	char		*end;

	if (p_path(call, params, "path", true, &path) == -1)
		return;
	m = json_object_get(params, "mode");
	if (json_is_integer(m))
		mode = (long)json_integer_value(m);
	else if (json_is_string(m) && json_string_value(m)[0] != '\0') {
		mode = strtol(json_string_value(m), &end, 8);
		if (*end != '\0')
			mode = -1;
	}
	if (mode < 0 || mode > 07777) {
		params_error(call, "parameter \"mode\" must be permission bits "
		    "(an integer, or an octal string such as \"0644\")");
		return;
	}
	fsops_chmod(call, call->session, path, (int)mode);
}

void
m_set_mtime(struct rpc_call *call, json_t *params)
{
	const char	*path;
	json_int_t	 mtime;

	if (p_path(call, params, "path", true, &path) == -1 ||
	    p_int(call, params, "mtime", -1, 0, 253402300799LL, &mtime) == -1)
		return;
	if (mtime < 0) {
		params_error(call, "missing parameter \"mtime\"");
		return;
	}
	fsops_set_mtime(call, call->session, path, mtime);
}

void
m_quote(struct rpc_call *call, json_t *params)
{
	fs_op(call, params, OP_QUOTE, "command", true);
}
