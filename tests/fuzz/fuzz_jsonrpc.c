/*
 * JSON-RPC message parsing and building (protocol/jsonrpc.c).
 *
 * The input is one message (an exact-size copy, not NUL-terminated, as
 * the daemon hands over an NDJSON line). Checks: a failure is
 * JSONRPC_PARSE_ERROR or JSONRPC_INVALID_REQUEST with a reason, a zeroed
 * result and, if any, an id of a valid type; a success has the fields its
 * type promises (id of a valid type, method, params object or array,
 * result, error code and message); the message dumped again by
 * jsonrpc_dump is one line that parses to the same message; and the
 * builders, fed what was parsed (or the raw input as an error message,
 * whatever its bytes), make messages that parse back.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonrpc.h"
#include "fuzz.h"

static bool
valid_id(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

static void
check_msg(const struct jsonrpc_msg *m)
{
	FUZZ_CHECK(m->root != NULL && json_is_object(m->root));
	FUZZ_CHECK(m->params == NULL || json_is_object(m->params) ||
	    json_is_array(m->params));
	switch (m->type) {
	case JSONRPC_REQUEST:
		FUZZ_CHECK(m->method != NULL && m->id != NULL);
		FUZZ_CHECK(m->result == NULL && m->error == NULL);
		break;
	case JSONRPC_NOTIFICATION:
		FUZZ_CHECK(m->method != NULL && m->id == NULL);
		FUZZ_CHECK(m->result == NULL && m->error == NULL);
		break;
	case JSONRPC_RESPONSE:
		FUZZ_CHECK(m->result != NULL && m->id != NULL);
		FUZZ_CHECK(m->method == NULL && m->error == NULL);
		break;
	case JSONRPC_ERROR:
		FUZZ_CHECK(m->error != NULL && m->id != NULL);
		FUZZ_CHECK(m->error_message != NULL && m->method == NULL);
		FUZZ_CHECK(json_integer_value(json_object_get(m->error,
		    "code")) == m->error_code);
		break;
	default:
		FUZZ_CHECK(!"a known message type");
	}
	FUZZ_CHECK(m->id == NULL || valid_id(m->id));
}

/* Dumps msg, checks the line and parses it back; *out is the result. */
static void
reparse(const json_t *msg, struct jsonrpc_msg *out)
{
	const char	*err = NULL;
	json_t		*bad = NULL;
	char		*line;
	size_t		 len = 0;

	FUZZ_CHECK(msg != NULL);
	line = jsonrpc_dump(msg, &len);
	FUZZ_CHECK(line != NULL && len > 0);
	FUZZ_CHECK(strlen(line) == len && line[len - 1] == '\n');
	FUZZ_CHECK(memchr(line, '\n', len - 1) == NULL);
	if (jsonrpc_parse(line, len, out, &err, &bad) != 0) {
		fprintf(stderr, "dumped message refused: %s: %s", err, line);
		FUZZ_CHECK(!"a dumped message parses");
	}
	FUZZ_CHECK(bad == NULL);
	check_msg(out);
	free(line);
}

static bool
same_json(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return json_equal(a, b) == 1;
}

static void
check_round_trip(const struct jsonrpc_msg *m)
{
	struct jsonrpc_msg	 m2;

	reparse(m->root, &m2);
	FUZZ_CHECK(m2.type == m->type);
	FUZZ_CHECK(same_json(m2.id, m->id) && same_json(m2.params, m->params));
	FUZZ_CHECK(same_json(m2.result, m->result));
	FUZZ_CHECK(same_json(m2.error, m->error));
	FUZZ_CHECK(m2.error_code == m->error_code);
	if (m->method != NULL)
		FUZZ_CHECK(strcmp(m2.method, m->method) == 0);
	jsonrpc_msg_clear(&m2);
}

/* The builders, from what the message holds. */
static void
check_builders(const struct jsonrpc_msg *m, const char *raw)
{
	struct jsonrpc_msg	 out;
	json_t			*j;
	json_int_t		 id;

	id = json_is_integer(m->id) ? json_integer_value(m->id) : 1;
	if (m->method != NULL) {
		j = jsonrpc_request(m->method, json_deep_copy(m->params), id);
		reparse(j, &out);
		FUZZ_CHECK(out.type == JSONRPC_REQUEST &&
		    json_integer_value(out.id) == id);
		FUZZ_CHECK(strcmp(out.method, m->method) == 0);
		jsonrpc_msg_clear(&out);
		json_decref(j);
		j = jsonrpc_notification(m->method, json_deep_copy(m->params));
		reparse(j, &out);
		FUZZ_CHECK(out.type == JSONRPC_NOTIFICATION);
		jsonrpc_msg_clear(&out);
		json_decref(j);
	}
	j = jsonrpc_response(m->id, m->root ? json_deep_copy(m->root) :
	    json_true());
	reparse(j, &out);
	FUZZ_CHECK(out.type == JSONRPC_RESPONSE);
	FUZZ_CHECK(same_json(out.id, m->id ? m->id : json_null()));
	jsonrpc_msg_clear(&out);
	json_decref(j);
	/* an error message may quote anything, even bytes that are not UTF-8 */
	j = jsonrpc_error(m->id, m->error_code, raw, json_deep_copy(m->params));
	reparse(j, &out);
	FUZZ_CHECK(out.type == JSONRPC_ERROR && out.error_code == m->error_code);
	jsonrpc_msg_clear(&out);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_msg	 m, none;
	const char		*err = (const char *)1;
	json_t			*bad = (json_t *)1;
	char			*buf = fuzz_dup(data, size);
	char			*raw = fuzz_strndup(data, size);
	int			 rc;

	memset(&m, 0xa5, sizeof(m));
	rc = jsonrpc_parse(buf, size, &m, &err, &bad);
	if (rc != 0) {
		memset(&none, 0, sizeof(none));
		FUZZ_CHECK(rc == JSONRPC_PARSE_ERROR ||
		    rc == JSONRPC_INVALID_REQUEST);
		FUZZ_CHECK(err != NULL && err != (const char *)1);
		FUZZ_CHECK(memcmp(&m, &none, sizeof(m)) == 0);
		FUZZ_CHECK(bad == NULL || valid_id(bad));
		/* the refusal can be sent back with that id */
		m.id = bad;
		m.error_code = rc;
		check_builders(&m, err);
		json_decref(bad);
	} else {
		FUZZ_CHECK(err == NULL && bad == NULL);
		check_msg(&m);
		check_round_trip(&m);
		check_builders(&m, raw);
		jsonrpc_msg_clear(&m);
		FUZZ_CHECK(m.root == NULL);
	}
	free(raw);
	free(buf);
	return 0;
}
