/*
 * libftpagent: what the agent asks of a call in flight. A tree
 * (transfer.tree) makes the agent a client of ours for the local side:
 * it sends requests (local.*) naming the tree's request id in
 * params.request, and notices (tree.item) the same way. Each request is
 * given to the op of the call it names, which fills an answer; every
 * other request gets a JSON-RPC error. Never silence: the agent waits
 * for an answer to each.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "wire.h"

/* Notices that belong to the call they name, never to subscribers. */
static const char *const call_notices[] = { "tree.item", NULL };

void
fa_answer_init(struct fa_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	ans->fd = -1;
}

void
fa_answer_clear(struct fa_answer *ans)
{
	json_decref(ans->result);
	if (ans->fd != -1 && !ans->fd_lent)
		close(ans->fd);
	fa_answer_init(ans);
}

void
fa_answer_error(struct fa_answer *ans, enum ftpa_err k, int code,
    const char *rpc_kind, const char *fmt, ...)
{
	va_list ap;

	json_decref(ans->result);
	ans->result = NULL;
	if (ans->fd != -1 && !ans->fd_lent)
		close(ans->fd);
	ans->fd = -1;
	ans->fd_lent = false;
	ans->code = k != FTPA_ERR_NONE ? ftpa_err_code(k) : code;
	ans->kind = k != FTPA_ERR_NONE ? ftpa_err_name(k) : rpc_kind;
	va_start(ap, fmt);
	(void)vsnprintf(ans->message, sizeof(ans->message), fmt, ap);
	va_end(ap);
}

/* Queues the answer to the request with id (borrowed). Out of memory
 * loses it: the agent's step then times out. */
static void
answer_send(struct ftpagent *a, json_t *id, struct fa_answer *ans)
{
	json_t *msg, *data;
	char *buf;
	size_t len;

	if (ans->result != NULL) {
		msg = jsonrpc_response(id, ans->result);
		ans->result = NULL;
	} else {
		data = json_pack("{s:s}", "kind", ans->kind != NULL ?
		    ans->kind : "internal");
		msg = jsonrpc_error(id, ans->code != 0 ? ans->code :
		    JSONRPC_INTERNAL_ERROR, ans->message, data);
	}
	if (msg != NULL && (buf = jsonrpc_dump(msg, &len)) != NULL) {
		(void)conn_queue(&a->conn, buf, len, &ans->fd,
		    ans->fd != -1 ? 1 : 0);
		free(buf);
	}
	json_decref(msg);
	fa_answer_clear(ans);
}

/* The call a message of the agent names in params.request, or NULL. */
static struct fa_call *
named_call(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	json_t *req;

	if (!json_is_object(m->params))
		return NULL;
	req = json_object_get(m->params, WIRE_JOB_REQUEST);
	if (!json_is_integer(req))
		return NULL;
	return fa_call_find(a, json_integer_value(req));
}

void
fa_serve_request(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct fa_answer ans;
	struct fa_call *c;

	fa_answer_init(&ans);
	if (m->method_len != strlen(m->method))
		fa_answer_error(&ans, FTPA_ERR_NONE, JSONRPC_METHOD_NOT_FOUND,
		    "method", "unknown method");
	else if ((c = named_call(a, m)) == NULL)
		fa_answer_error(&ans, FTPA_ERR_NONE, JSONRPC_METHOD_NOT_FOUND,
		    "method", "%.64s: no call of this connection to serve",
		    m->method);
	else if (c->op->serve == NULL)
		fa_answer_error(&ans, FTPA_ERR_NONE, JSONRPC_METHOD_NOT_FOUND,
		    "method", "%.64s: not served for %s", m->method,
		    c->op->name);
	else {
		/* the agent is at work for the call */
		fa_call_touch(a, c);
		c->op->serve(a, c, m->method, m->params, &ans);
	}
	answer_send(a, m->id, &ans);
}

bool
fa_serve_notice(struct ftpagent *a, const struct jsonrpc_msg *m)
{
	struct fa_call *c;
	size_t i;

	for (i = 0; call_notices[i] != NULL; i++)
		if (strcmp(m->method, call_notices[i]) == 0)
			break;
	if (call_notices[i] == NULL)
		return false;
	if ((c = named_call(a, m)) == NULL || c->op->notice == NULL)
		return true;
	fa_call_touch(a, c);
	a->depth++;
	c->op->notice(a, c, m->method, m->params);
	a->depth--;
	return true;
}
