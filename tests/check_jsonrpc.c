/* Unit tests for protocol/jsonrpc.c */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "jsonrpc.h"

Suite *jsonrpc_suite(void);

static int
parse(const char *s, struct jsonrpc_msg *m, const char **errmsg,
    json_t **bad_id)
{
	return jsonrpc_parse(s, strlen(s), m, errmsg, bad_id);
}

/* Expects `s` to be refused with `code`; returns the recovered id. */
static json_t *
refused(const char *s, int code)
{
	struct jsonrpc_msg m;
	const char *errmsg = NULL;
	json_t *bad_id = (json_t *)1;

	ck_assert_int_eq(parse(s, &m, &errmsg, &bad_id), code);
	ck_assert_ptr_nonnull(errmsg);
	ck_assert_ptr_null(m.root);
	return bad_id;
}

START_TEST(test_request)
{
	struct jsonrpc_msg m;
	const char *errmsg;
	json_t *bad_id;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"fs.list\","
	    "\"params\":{\"session\":\"s1\"},\"id\":7}", &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_REQUEST);
	ck_assert_str_eq(m.method, "fs.list");
	ck_assert(json_is_integer(m.id));
	ck_assert_int_eq(json_integer_value(m.id), 7);
	ck_assert(json_is_object(m.params));
	ck_assert_str_eq(json_string_value(json_object_get(m.params,
	    "session")), "s1");
	ck_assert_ptr_null(bad_id);
	jsonrpc_msg_clear(&m);
	ck_assert_ptr_null(m.root);

	/* String id, array params, no params, null id. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\","
	    "\"params\":[1,2],\"id\":\"x\"}", &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_REQUEST);
	ck_assert_str_eq(json_string_value(m.id), "x");
	ck_assert(json_is_array(m.params));
	jsonrpc_msg_clear(&m);

	ck_assert_int_eq(parse(" {\"id\":null,\"method\":\"agent.ping\","
	    "\"jsonrpc\":\"2.0\"} \r\n", &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_REQUEST);
	ck_assert(json_is_null(m.id));
	ck_assert_ptr_null(m.params);
	jsonrpc_msg_clear(&m);
}
END_TEST

START_TEST(test_notification)
{
	struct jsonrpc_msg m;
	const char *errmsg;
	json_t *bad_id;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"job.progress\","
	    "\"params\":{\"job\":\"j1\"}}", &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_NOTIFICATION);
	ck_assert_ptr_null(m.id);
	ck_assert_str_eq(m.method, "job.progress");
	ck_assert(json_is_object(m.params));
	jsonrpc_msg_clear(&m);
}
END_TEST

START_TEST(test_response)
{
	struct jsonrpc_msg m;
	const char *errmsg;
	json_t *bad_id;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":3}",
	    &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_RESPONSE);
	ck_assert_int_eq(json_integer_value(m.id), 3);
	ck_assert(json_is_object(m.result));
	jsonrpc_msg_clear(&m);

	/* A null result is still a result. */
	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":3}",
	    &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_RESPONSE);
	ck_assert(json_is_null(m.result));
	jsonrpc_msg_clear(&m);
}
END_TEST

START_TEST(test_error_response)
{
	struct jsonrpc_msg m;
	const char *errmsg;
	json_t *bad_id;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32700,\"message\":\"Parse error\"}}",
	    &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_ERROR);
	ck_assert(json_is_null(m.id));
	ck_assert_int_eq(m.error_code, JSONRPC_PARSE_ERROR);
	ck_assert_str_eq(m.error_message, "Parse error");
	jsonrpc_msg_clear(&m);

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":"
	    "{\"code\":-32005,\"message\":\"no such file\","
	    "\"data\":{\"kind\":\"not_found\",\"ftp_code\":550}}}",
	    &m, &errmsg, &bad_id), 0);
	ck_assert_int_eq(m.type, JSONRPC_ERROR);
	ck_assert_int_eq(m.error_code, -32005);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(m.error, "data"), "kind")), "not_found");
	jsonrpc_msg_clear(&m);

	/* Malformed error objects. */
	json_decref(refused("{\"jsonrpc\":\"2.0\",\"id\":null,"
	    "\"error\":\"bad\"}", JSONRPC_INVALID_REQUEST));
	json_decref(refused("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":{\"code\":\"x\",\"message\":\"m\"}}",
	    JSONRPC_INVALID_REQUEST));
	json_decref(refused("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":{\"code\":1}}", JSONRPC_INVALID_REQUEST));
	json_decref(refused("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":{\"code\":1,\"message\":\"m\"},\"result\":1}",
	    JSONRPC_INVALID_REQUEST));
	/* A response needs an id. */
	ck_assert_ptr_null(refused("{\"jsonrpc\":\"2.0\",\"result\":1}",
	    JSONRPC_INVALID_REQUEST));
}
END_TEST

START_TEST(test_parse_error)
{
	static const char *const bad[] = {
		"",
		"{",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1} {}",
		"nul",
		"{'jsonrpc':'2.0'}",
		"{\"a\":\"\xff\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(refused(bad[i], JSONRPC_PARSE_ERROR));
}
END_TEST

START_TEST(test_invalid_request)
{
	static const char *const bad[] = {
		"[]",
		"[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}]",
		"1",
		"\"str\"",
		"null",
		"{}",
		"{\"method\":\"a\",\"id\":1}",
		"{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":1}",
		"{\"jsonrpc\":2.0,\"method\":\"a\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":1,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":\"x\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":3,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":null,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1.5}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1.0}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":{}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":[1]}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":true}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"result\":1,\"id\":1}",
	};
	size_t i;
	json_t *id;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = refused(bad[i], JSONRPC_INVALID_REQUEST);
		/* Only the id-bearing, id-valid ones give an id back. */
		if (id != NULL) {
			ck_assert(json_is_integer(id));
			ck_assert_int_eq(json_integer_value(id), 1);
		}
		json_decref(id);
	}
}
END_TEST

START_TEST(test_bad_id_recovered)
{
	json_t *id;

	id = refused("{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":42}",
	    JSONRPC_INVALID_REQUEST);
	ck_assert_ptr_nonnull(id);
	ck_assert_int_eq(json_integer_value(id), 42);
	json_decref(id);

	id = refused("{\"method\":\"a\",\"id\":\"abc\"}",
	    JSONRPC_INVALID_REQUEST);
	ck_assert_ptr_nonnull(id);
	ck_assert_str_eq(json_string_value(id), "abc");
	json_decref(id);

	id = refused("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":\"p\","
	    "\"id\":9}", JSONRPC_INVALID_REQUEST);
	ck_assert_ptr_nonnull(id);
	ck_assert_int_eq(json_integer_value(id), 9);
	json_decref(id);

	/* An id of the wrong type cannot be echoed. */
	ck_assert_ptr_null(refused("{\"jsonrpc\":\"2.0\",\"method\":\"a\","
	    "\"id\":1.5}", JSONRPC_INVALID_REQUEST));
	ck_assert_ptr_null(refused("{\"jsonrpc\":\"1.0\",\"method\":\"a\","
	    "\"id\":{}}", JSONRPC_INVALID_REQUEST));
	/* Nor one from a message that did not parse. */
	ck_assert_ptr_null(refused("{\"jsonrpc\":\"2.0\",\"id\":5,",
	    JSONRPC_PARSE_ERROR));
}
END_TEST

START_TEST(test_null_args)
{
	struct jsonrpc_msg m;

	/* errmsg and bad_id are optional. */
	ck_assert_int_eq(jsonrpc_parse("{", 1, &m, NULL, NULL),
	    JSONRPC_PARSE_ERROR);
	ck_assert_int_eq(jsonrpc_parse("{\"id\":1}", 8, &m, NULL, NULL),
	    JSONRPC_INVALID_REQUEST);
	jsonrpc_msg_clear(NULL);
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char in[] = "{\"jsonrpc\":\"2.0\",\"method\":\"fs.stat\","
	    "\"params\":{\"path\":\"a\\u0000b\"},\"id\":1}";
	struct jsonrpc_msg m;
	const char *errmsg;
	json_t *bad_id, *path;

	ck_assert_int_eq(parse(in, &m, &errmsg, &bad_id), 0);
	path = json_object_get(m.params, "path");
	ck_assert(json_is_string(path));
	/* The daemon spots the NUL by comparing the two lengths. */
	ck_assert_uint_eq(json_string_length(path), 3);
	ck_assert_uint_eq(strlen(json_string_value(path)), 1);
	ck_assert_int_eq(memcmp(json_string_value(path), "a\0b", 3), 0);
	jsonrpc_msg_clear(&m);
}
END_TEST

START_TEST(test_length_not_nul)
{
	static const char in[] =
	    "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}GARBAGE";
	struct jsonrpc_msg m;

	/* Only `len` bytes are read; no NUL terminator is needed. */
	ck_assert_int_eq(jsonrpc_parse(in, strlen(in) - 7, &m, NULL, NULL), 0);
	ck_assert_str_eq(m.method, "a");
	jsonrpc_msg_clear(&m);
	ck_assert_int_eq(jsonrpc_parse(in, strlen(in), &m, NULL, NULL),
	    JSONRPC_PARSE_ERROR);
}
END_TEST

START_TEST(test_duplicate_keys_allowed)
{
	struct jsonrpc_msg m;

	ck_assert_int_eq(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\","
	    "\"method\":\"b\",\"id\":1}", &m, NULL, NULL), 0);
	ck_assert_str_eq(m.method, "b");
	jsonrpc_msg_clear(&m);
}
END_TEST

/* Dumps, checks the framing, and parses back. */
static void
round_trip(json_t *msg, struct jsonrpc_msg *m)
{
	size_t len;
	char *s;

	ck_assert_ptr_nonnull(msg);
	s = jsonrpc_dump(msg, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), len);
	ck_assert_int_eq(s[len - 1], '\n');
	ck_assert_ptr_null(memchr(s, '\n', len - 1));
	/* Compact: no blanks after separators. */
	ck_assert_ptr_null(strstr(s, "\": "));
	ck_assert_ptr_null(strstr(s, ", \""));
	ck_assert_int_eq(jsonrpc_parse(s, len, m, NULL, NULL), 0);
	free(s);
	json_decref(msg);
}

START_TEST(test_builders_round_trip)
{
	struct jsonrpc_msg m;
	json_t *id;

	round_trip(jsonrpc_request("session.open",
	    json_pack("{s:s}", "url", "ftp://h/\n"), 12), &m);
	ck_assert_int_eq(m.type, JSONRPC_REQUEST);
	ck_assert_str_eq(m.method, "session.open");
	ck_assert_int_eq(json_integer_value(m.id), 12);
	ck_assert_str_eq(json_string_value(json_object_get(m.params, "url")),
	    "ftp://h/\n");
	jsonrpc_msg_clear(&m);

	round_trip(jsonrpc_request("agent.ping", NULL, 0), &m);
	ck_assert_int_eq(m.type, JSONRPC_REQUEST);
	ck_assert_ptr_null(m.params);
	jsonrpc_msg_clear(&m);

	round_trip(jsonrpc_notification("job.progress",
	    json_pack("{s:s,s:I}", "job", "j1", "bytes", (json_int_t)1 << 40)),
	    &m);
	ck_assert_int_eq(m.type, JSONRPC_NOTIFICATION);
	ck_assert_int_eq(json_integer_value(json_object_get(m.params, "bytes")),
	    (json_int_t)1 << 40);
	jsonrpc_msg_clear(&m);

	id = json_string("abc");
	round_trip(jsonrpc_response(id, json_pack("{s:b}", "ok", 1)), &m);
	ck_assert_int_eq(m.type, JSONRPC_RESPONSE);
	ck_assert_str_eq(json_string_value(m.id), "abc");
	ck_assert(json_is_true(json_object_get(m.result, "ok")));
	jsonrpc_msg_clear(&m);

	round_trip(jsonrpc_error(id, -32005, "not found",
	    json_pack("{s:s}", "kind", "not_found")), &m);
	ck_assert_int_eq(m.type, JSONRPC_ERROR);
	ck_assert_str_eq(json_string_value(m.id), "abc");
	ck_assert_int_eq(m.error_code, -32005);
	ck_assert_str_eq(m.error_message, "not found");
	jsonrpc_msg_clear(&m);
	/* id was borrowed twice: still ours. */
	ck_assert_int_eq(id->refcount, 1);
	json_decref(id);

	round_trip(jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "Parse error",
	    NULL), &m);
	ck_assert_int_eq(m.type, JSONRPC_ERROR);
	ck_assert(json_is_null(m.id));
	ck_assert_ptr_null(json_object_get(m.error, "data"));
	jsonrpc_msg_clear(&m);

	/* A message that is not UTF-8 is made so instead of lost. */
	round_trip(jsonrpc_error(NULL, -32000, "550 caf\xe9", NULL), &m);
	ck_assert_str_eq(m.error_message, "550 caf?");
	jsonrpc_msg_clear(&m);
}
END_TEST

START_TEST(test_builder_failures)
{
	/* A failed allocation upstream (NULL result) propagates. */
	ck_assert_ptr_null(jsonrpc_response(NULL, NULL));
	ck_assert_ptr_null(jsonrpc_request(NULL, json_object(), 1));
	ck_assert_ptr_null(jsonrpc_notification(NULL, json_object()));
	ck_assert_ptr_null(jsonrpc_dump(NULL, NULL));
}
END_TEST

START_TEST(test_dump_exact)
{
	json_t *msg;
	size_t len;
	char *s;

	msg = jsonrpc_request("a", NULL, 5);
	ck_assert_ptr_nonnull(msg);
	s = jsonrpc_dump(msg, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":5}\n");
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	json_decref(msg);

	/* A NUL inside a string is escaped, so the line stays one line. */
	msg = jsonrpc_response(NULL, json_stringn("a\0b", 3));
	s = jsonrpc_dump(msg, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s, "\"a\\u0000b\""));
	ck_assert_uint_eq(len, strlen(s));
	free(s);
	json_decref(msg);
}
END_TEST

/* the id of a request cut short, as the agent finds it to answer a
 * request over the message limit */
START_TEST(test_head_id)
{
	static const struct {
		const char	*head;
		const char	*want;	/* compact JSON, or NULL: not found */
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"transfer.put\",\"id\":7,"
		  "\"params\":{\"data\":\"QUJD", "7" },
		{ " { \"id\" : \"a b\" , \"params\":[", "\"a b\"" },
		{ "{\"params\":{\"x\":[1,{\"id\":2}],\"s\":\"}\\\"\"},\"id\":-3,",
		  "-3" },
		{ "{\"method\":\"m\",\"id\":12", NULL },	/* 12 or 123? */
		{ "{\"method\":\"m\",\"id\":\"ab", NULL },
		{ "{\"params\":{\"data\":\"QUJD", NULL },
		{ "{\"idx\":1,\"id\":null,\"x\":1", NULL },
		{ "{\"id\":1.5,", NULL },
		{ "{\"id\":{\"a\":1},", NULL },
		{ "[{\"id\":1},", NULL },
		{ "", NULL },
		{ "{\"i", NULL },
	};
	json_t *id;
	char *s;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		id = jsonrpc_head_id(cases[i].head, strlen(cases[i].head));
		if (cases[i].want == NULL) {
			ck_assert_msg(id == NULL, "case %zu", i);
			continue;
		}
		ck_assert_msg(id != NULL, "case %zu", i);
		s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		ck_assert_str_eq(s, cases[i].want);
		free(s);
		json_decref(id);
	}
}
END_TEST

/* jsonrpc_request writes the id before the params, where the agent can
 * find it in a request too long to read */
START_TEST(test_request_id_first)
{
	json_t *msg = jsonrpc_request("m", json_pack("{s:s}", "a", "b"), 9);
	char *s = jsonrpc_dump(msg, NULL);

	ck_assert_str_eq(s, "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":9,"
	    "\"params\":{\"a\":\"b\"}}\n");
	free(s);
	json_decref(msg);
}
END_TEST

Suite *
jsonrpc_suite(void)
{
	Suite *s = suite_create("jsonrpc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_notification);
	tcase_add_test(tc, test_response);
	tcase_add_test(tc, test_error_response);
	tcase_add_test(tc, test_parse_error);
	tcase_add_test(tc, test_invalid_request);
	tcase_add_test(tc, test_bad_id_recovered);
	tcase_add_test(tc, test_null_args);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_length_not_nul);
	tcase_add_test(tc, test_duplicate_keys_allowed);
	tcase_add_test(tc, test_builders_round_trip);
	tcase_add_test(tc, test_builder_failures);
	tcase_add_test(tc, test_dump_exact);
	tcase_add_test(tc, test_head_id);
	tcase_add_test(tc, test_request_id_first);
	suite_add_tcase(s, tc);
	return s;
}
