/*
 * JSON-RPC 2.0 messages over jansson. Batches are not supported: the
 * protocol has no use for them, and refusing them keeps one request per
 * line, which is what the fd-passing rules assume.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

/* Strings with an embedded NUL are accepted so that the daemon can refuse
 * them with a precise error rather than a parse error. */
#define JSONRPC_LOAD_FLAGS	(JSON_DECODE_ANY | JSON_ALLOW_NUL)

static int
valid_id(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

static int
fail(struct jsonrpc_msg *out, json_t *root, const char **errmsg,
    const char *msg, json_t *id, json_t **bad_id)
{
	if (errmsg != NULL)
		*errmsg = msg;
	if (bad_id != NULL && id != NULL && valid_id(id))
		*bad_id = json_incref(id);
	json_decref(root);
	memset(out, 0, sizeof(*out));
	return JSONRPC_INVALID_REQUEST;
}

/* A request or a notification: NULL, or why it is invalid. */
static const char *
read_call(json_t *root, int has_id, struct jsonrpc_msg *out)
{
	json_t *method = json_object_get(root, "method"), *v;

	if (!json_is_string(method))
		return "Invalid Request: method must be a string";
	if (json_object_get(root, "result") != NULL ||
	    json_object_get(root, "error") != NULL)
		return "Invalid Request: both method and result or error";
	v = json_object_get(root, "params");
	if (v != NULL && !json_is_object(v) && !json_is_array(v))
		return "Invalid Request: params must be an object or an array";
	out->type = has_id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
	out->method = json_string_value(method);
	out->method_len = json_string_length(method);
	out->params = v;
	return NULL;
}

/* A response (result or error): NULL, or why it is invalid. */
static const char *
read_response(json_t *root, int has_id, struct jsonrpc_msg *out)
{
	json_t *result = json_object_get(root, "result");
	json_t *error = json_object_get(root, "error"), *code, *message;

	if (result != NULL && error != NULL)
		return "Invalid Request: both result and error";
	if (!has_id)
		return "Invalid Request: response without id";
	if (result != NULL) {
		out->type = JSONRPC_RESPONSE;
		out->result = result;
		return NULL;
	}
	code = json_object_get(error, "code");
	message = json_object_get(error, "message");
	if (!json_is_object(error) || !json_is_integer(code) ||
	    !json_is_string(message))
		return "Invalid Request: malformed error object";
	if (json_integer_value(code) < -2147483647 - 1 ||
	    json_integer_value(code) > 2147483647)
		return "Invalid Request: error code out of range";
	out->type = JSONRPC_ERROR;
	out->error = error;
	out->error_code = (int)json_integer_value(code);
	out->error_message = json_string_value(message);
	return NULL;
}

int
jsonrpc_parse(const char *buf, size_t len, struct jsonrpc_msg *out,
    const char **errmsg, json_t **bad_id)
{
	json_error_t jerr;
	json_t *root, *id, *v;
	const char *why;
	int has_id;

	memset(out, 0, sizeof(*out));
	if (bad_id != NULL)
		*bad_id = NULL;
	if (errmsg != NULL)
		*errmsg = NULL;

	if ((root = json_loadb(buf, len, JSONRPC_LOAD_FLAGS, &jerr)) == NULL) {
		if (errmsg != NULL)
			*errmsg = "Parse error";
		return JSONRPC_PARSE_ERROR;
	}
	if (json_is_array(root))
		return fail(out, root, errmsg,
		    "Invalid Request: batches are not supported", NULL, NULL);
	if (!json_is_object(root))
		return fail(out, root, errmsg,
		    "Invalid Request: not an object", NULL, NULL);

	/* Read the id first so that every later refusal can echo it. */
	id = json_object_get(root, "id");
	has_id = id != NULL;

	v = json_object_get(root, "jsonrpc");
	if (v == NULL)
		return fail(out, root, errmsg,
		    "Invalid Request: missing \"jsonrpc\"", id, bad_id);
	if (!json_is_string(v) || json_string_length(v) != 3 ||
	    strcmp(json_string_value(v), "2.0") != 0)
		return fail(out, root, errmsg,
		    "Invalid Request: \"jsonrpc\" must be \"2.0\"", id, bad_id);
	if (has_id && !valid_id(id))
		return fail(out, root, errmsg,
		    "Invalid Request: id must be a string, an integer or null",
		    NULL, NULL);

	if (json_object_get(root, "method") != NULL)
		why = read_call(root, has_id, out);
	else if (json_object_get(root, "result") != NULL ||
	    json_object_get(root, "error") != NULL)
		why = read_response(root, has_id, out);
	else
		why = "Invalid Request: no method, result or error";
	if (why != NULL)
		return fail(out, root, errmsg, why, id, bad_id);

	out->root = root;
	out->id = has_id ? id : NULL;
	return 0;
}

void
jsonrpc_msg_clear(struct jsonrpc_msg *msg)
{
	if (msg == NULL)
		return;
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* {"jsonrpc":"2.0"}, the start of every message. */
static json_t *
envelope(void)
{
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "jsonrpc", json_string("2.0")) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
jsonrpc_request(const char *method, json_t *params, json_int_t id)
{
	json_t *o;

	/* the id before the params: a request too long for the agent is
	 * answered with its id, which the agent finds in its first bytes */
	if ((o = envelope()) == NULL || method == NULL ||
	    json_object_set_new(o, "method", json_string(method)) == -1 ||
	    json_object_set_new(o, "id", json_integer(id)) == -1)
		goto fail;
	if (params != NULL) {
		/* set_new steals params even when it fails. */
		json_t *p = params;

		params = NULL;
		if (json_object_set_new(o, "params", p) == -1)
			goto fail;
	}
	return o;
fail:
	json_decref(params);
	json_decref(o);
	return NULL;
}

json_t *
jsonrpc_notification(const char *method, json_t *params)
{
	json_t *o;

	if ((o = envelope()) == NULL || method == NULL ||
	    json_object_set_new(o, "method", json_string(method)) == -1)
		goto fail;
	if (params != NULL) {
		json_t *p = params;

		params = NULL;
		if (json_object_set_new(o, "params", p) == -1)
			goto fail;
	}
	return o;
fail:
	json_decref(params);
	json_decref(o);
	return NULL;
}

json_t *
jsonrpc_response(json_t *id, json_t *result)
{
	json_t *o;

	/* A NULL result is a failed allocation upstream: pass it on. */
	if (result == NULL)
		return NULL;
	if ((o = envelope()) == NULL) {
		json_decref(result);
		return NULL;
	}
	if (json_object_set(o, "id", id != NULL ? id : json_null()) == -1 ||
	    json_object_set_new(o, "result", result) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The message may quote text from elsewhere (a server's reply, a file
 * name) that is not UTF-8, which jansson refuses: replace such bytes
 * rather than lose the whole error. */
static json_t *
message_string(const char *s)
{
	json_t *j;
	char *copy;
	size_t i;

	if (s == NULL)
		s = "";
	if ((j = json_string(s)) != NULL)
		return j;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] >= 0x80)
			copy[i] = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *
jsonrpc_error(json_t *id, int code, const char *message, json_t *data)
{
	json_t *o = NULL, *e;

	if ((e = json_object()) == NULL ||
	    json_object_set_new(e, "code", json_integer(code)) == -1 ||
	    json_object_set_new(e, "message", message_string(message)) == -1)
		goto fail;
	if (data != NULL) {
		json_t *d = data;

		data = NULL;
		if (json_object_set_new(e, "data", d) == -1)
			goto fail;
	}
	if ((o = envelope()) == NULL ||
	    json_object_set(o, "id", id != NULL ? id : json_null()) == -1)
		goto fail;
	if (json_object_set_new(o, "error", e) == -1) {
		e = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(data);
	json_decref(e);
	json_decref(o);
	return NULL;
}

char *
jsonrpc_dump(const json_t *msg, size_t *len)
{
	size_t n, m;
	char *s;

	/* json_dumpb rather than json_dumps, so that the caller's free()
	 * matches our malloc() whatever allocator jansson was given. */
	if (msg == NULL || (n = json_dumpb(msg, NULL, 0, JSON_COMPACT)) == 0)
		return NULL;
	if ((s = malloc(n + 2)) == NULL)
		return NULL;
	if ((m = json_dumpb(msg, s, n, JSON_COMPACT)) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\n';
	s[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return s;
}

/* Past the string whose opening quote is at i: the index after its
 * closing quote, or len when it does not end within the bytes. */
static size_t
head_string_end(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (b[i] == '\\')
			i++;
		else if (b[i] == '"')
			return i + 1;
	}
	return len;
}

/* Past the value that starts at i: the index after it, or len when it
 * may go on beyond the bytes (a scalar is complete only once followed). */
static size_t
head_value_end(const char *b, size_t len, size_t i)
{
	size_t depth = 0;

	if (i < len && b[i] == '"')
		return head_string_end(b, len, i);
	if (i < len && b[i] != '{' && b[i] != '[') {
		while (i < len && b[i] != '\0' &&
		    strchr(",}] \t\r\n", b[i]) == NULL)
			i++;
		return i;
	}
	for (; i < len; i++) {
		if (b[i] == '"') {
			/* a container ends after its strings */
			if ((i = head_string_end(b, len, i)) >= len)
				return len;
			i--;
		} else if (b[i] == '{' || b[i] == '[')
			depth++;
		else if ((b[i] == '}' || b[i] == ']') && --depth == 0)
			return i + 1;
	}
	return len;
}

static size_t
head_ws(const char *b, size_t len, size_t i)
{
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' ||
	    b[i] == '\n'))
		i++;
	return i;
}

json_t *
jsonrpc_head_id(const char *b, size_t len)
{
	size_t	i, k, v, end;
	json_t	*id;

	i = head_ws(b, len, 0);
	if (i >= len || b[i] != '{')
		return NULL;
	for (;;) {
		i = head_ws(b, len, i + 1);
		if (i >= len || b[i] != '"')
			return NULL;
		k = i;
		i = head_ws(b, len, head_string_end(b, len, k));
		if (i >= len || b[i] != ':')
			return NULL;
		v = head_ws(b, len, i + 1);
		if ((end = head_value_end(b, len, v)) >= len)
			return NULL;
		if (i > k && memcmp(b + k, "\"id\"", 4) == 0 &&
		    head_ws(b, len, k + 4) == i) {
			id = json_loadb(b + v, end - v, JSON_DECODE_ANY, NULL);
			if (json_is_integer(id) || json_is_string(id))
				return id;
			json_decref(id);
			return NULL;
		}
		i = head_ws(b, len, end);
		if (i >= len || b[i] != ',')
			return NULL;
	}
}
