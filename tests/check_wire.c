/*
 * Unit tests for protocol/wire.c: what the writers put on the wire the
 * readers give back, names as bytes, and the error and job objects in
 * the shape ftpd-agent-protocol(7) gives them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "wire.h"

Suite	*wire_suite(void);

START_TEST(entry_roundtrip)
{
	struct ftp_entry	e = { 0 }, back;
	json_t			*o;

	e.name = "caf\xe9 menu";		/* Latin-1: not UTF-8 */
	e.type = FTP_ENTRY_LINK;
	e.size = 12;
	e.mtime = 1700000000;
	e.perm = 0755;
	e.target = "t";
	o = wire_entry_json(&e);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "link");
	/* the byte travels escaped (U+F7E9) */
	ck_assert_str_eq(json_string_value(json_object_get(o, "name")),
	    "caf\xef\x9f\xa9 menu");
	ck_assert_ptr_null(json_object_get(o, "raw"));
	ck_assert_int_eq(wire_entry_read(o, &back), 0);
	ck_assert_str_eq(back.name, e.name);
	ck_assert_int_eq(back.type, FTP_ENTRY_LINK);
	ck_assert_int_eq(back.size, 12);
	ck_assert_int_eq(back.mtime, 1700000000);
	ck_assert_int_eq(back.perm, 0755);
	ck_assert_str_eq(back.target, "t");
	ck_assert_ptr_null(back.raw);
	ftp_entry_clear(&back);
	json_decref(o);
}
END_TEST

START_TEST(entry_unknowns)
{
	struct ftp_entry	e = { 0 }, back;
	json_t			*o;

	e.name = "x";
	e.type = FTP_ENTRY_OTHER;
	e.size = -1;
	e.mtime = INT64_MIN;
	e.perm = -1;
	e.raw = "?????????? x";
	o = wire_entry_json(&e);
	ck_assert(json_is_null(json_object_get(o, "size")));
	ck_assert(json_is_null(json_object_get(o, "mtime")));
	ck_assert(json_is_null(json_object_get(o, "perm")));
	ck_assert(json_is_null(json_object_get(o, "target")));
	ck_assert_int_eq(wire_entry_read(o, &back), 0);
	ck_assert_int_eq(back.size, -1);
	ck_assert(back.mtime == INT64_MIN);
	ck_assert_int_eq(back.perm, -1);
	ck_assert_str_eq(back.raw, e.raw);
	ftp_entry_clear(&back);
	json_decref(o);
	/* not an entry; an unknown type reads as other */
	o = json_pack("{s:i}", "name", 3);
	ck_assert_int_eq(wire_entry_read(o, &back), -1);
	json_decref(o);
	o = json_pack("{s:s, s:s}", "name", "a", "type", "socket");
	ck_assert_int_eq(wire_entry_read(o, &back), 0);
	ck_assert_int_eq(back.type, FTP_ENTRY_OTHER);
	ftp_entry_clear(&back);
	json_decref(o);
}
END_TEST

START_TEST(error_object)
{
	struct wire_error	we;
	json_t			*o, *data;

	o = wire_error_json(FTPA_ERR_NOT_FOUND, "gone", 550, "550 No such file");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "code")),
	    -32005);
	data = json_object_get(o, "data");
	ck_assert_str_eq(json_string_value(json_object_get(data, "kind")),
	    "not_found");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "ftp_code")),
	    550);
	wire_error_read(o, &we);
	ck_assert_int_eq(we.kind, FTPA_ERR_NOT_FOUND);
	ck_assert_str_eq(we.kind_name, "not_found");
	ck_assert_str_eq(we.message, "gone");
	ck_assert_int_eq(we.ftp_code, 550);
	ck_assert_str_eq(we.ftp_text, "550 No such file");
	json_decref(o);
	/* no reply: no FTP members; extra data keeps its own */
	data = wire_error_data(FTPA_ERR_LIMIT, 0, NULL,
	    json_pack("{s:i}", "max", 4));
	ck_assert_str_eq(json_string_value(json_object_get(data, "kind")),
	    "limit");
	ck_assert_ptr_null(json_object_get(data, "ftp_code"));
	ck_assert_int_eq(json_integer_value(json_object_get(data, "max")), 4);
	json_decref(data);
	/* a JSON-RPC error: the code says it, the kind stays its own */
	o = json_pack("{s:i, s:s, s:{s:s}}", "code", -32602, "message", "",
	    "data", "kind", "params");
	wire_error_read(o, &we);
	ck_assert_int_eq(we.kind, FTPA_ERR_NONE);
	ck_assert_str_eq(we.kind_name, "params");
	ck_assert_int_eq(we.code, -32602);
	ck_assert_str_eq(we.message, "the agent reported an error");
	json_decref(o);
}
END_TEST

START_TEST(job_roundtrip)
{
	struct wire_job	j = { 0 }, back;
	json_t		*o, *again;

	j.id = "j7";
	j.state = WIRE_JOB_FAILED;
	j.put = true;
	j.session = "s";
	j.path = "dir/f";
	j.bytes = 10;
	j.total = -1;
	j.rate = 2.5;
	j.seconds = 4;
	j.eta = -1;
	j.started = 1700000000.5;
	j.ended = 1700000004.5;
	j.uid = 1000;
	j.attempts = 2;
	j.err.kind = FTPA_ERR_FTP;
	j.err.message = "552 quota";
	j.err.ftp_code = 552;
	j.err.ftp_text = "552 quota";
	o = wire_job_json(&j);
	ck_assert_str_eq(json_string_value(json_object_get(o, "state")),
	    "failed");
	ck_assert_str_eq(json_string_value(json_object_get(o, "direction")),
	    "put");
	ck_assert(json_is_null(json_object_get(o, "total")));
	ck_assert(json_is_null(json_object_get(o, "eta_s")));
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert_int_eq(back.state, WIRE_JOB_FAILED);
	ck_assert(back.put && back.direction_known);
	ck_assert_int_eq(back.uid, 1000);
	ck_assert_int_eq(back.err.kind, FTPA_ERR_FTP);
	/* what is read writes back to the same object */
	again = wire_job_json(&back);
	ck_assert(json_equal(o, again));
	json_decref(again);
	json_decref(o);
	/* a job that did not fail has no error object */
	j.state = WIRE_JOB_DONE;
	memset(&j.err, 0, sizeof(j.err));
	o = wire_job_json(&j);
	ck_assert(json_is_null(json_object_get(o, "error")));
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert_ptr_null(back.err.message);
	json_decref(o);
	ck_assert_int_eq(wire_job_state_from_name("paused"), -1);
	ck_assert_str_eq(wire_job_state_name(WIRE_JOB_STATE_LAST), "?");
}
END_TEST

/* A count the agent sends negative, or not as an integer, is unknown:
 * no caller sees -1 bytes moved. */
START_TEST(job_negative_counts)
{
	struct wire_job	 back;
	json_t		*o;

	o = json_pack("{s:s,s:s,s:i,s:i}", "job", "j1", "state", "running",
	    "bytes", -1, "total", -9);
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert_int_eq(back.bytes, 0);
	ck_assert_int_eq(back.total, -1);
	json_decref(o);
	o = json_pack("{s:s,s:f,s:s}", "job", "j1", "bytes", 1.5, "total",
	    "x");
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert_int_eq(back.bytes, 0);
	ck_assert_int_eq(back.total, -1);
	json_decref(o);
	o = json_integer(7);
	ck_assert_int_eq(wire_count(o, -1), 7);
	json_decref(o);
}
END_TEST

/* A tree job's member goes out and comes back; a job without one has
 * none; failures past the cap and bad ones are not read. */
START_TEST(job_tree)
{
	struct wire_tree_failure f[2] = {
		{ "a/caf\xe9", { .kind = FTPA_ERR_NOT_FOUND, .message = "gone",
		    .ftp_code = 550, .ftp_text = "No such file" } },
		{ "b", { .kind = FTPA_ERR_TIMEOUT, .message = "slow" } },
	};
	struct wire_job	 j = { .id = "j3", .state = WIRE_JOB_FAILED,
	    .total = -1, .eta = -1, .started = -1, .ended = -1, .uid = -1 };
	struct wire_job	 back;
	json_t		*o, *arr;

	j.tree = (struct wire_tree){ .present = true, .files = 5,
	    .files_total = 9, .dirs = 3, .skipped = 2, .deleted = 1,
	    .failed = 2, .walking = true, .failures = f, .n_failures = 2 };
	o = wire_job_json(&j);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert(back.tree.present);
	ck_assert_int_eq(back.tree.files, 5);
	ck_assert_int_eq(back.tree.files_total, 9);
	ck_assert_int_eq(back.tree.dirs, 3);
	ck_assert_int_eq(back.tree.skipped, 2);
	ck_assert_int_eq(back.tree.deleted, 1);
	ck_assert_int_eq(back.tree.failed, 2);
	ck_assert(back.tree.walking);
	ck_assert(!back.tree.dry_run);
	ck_assert_int_eq(back.tree.n_failures, 2);
	ck_assert_str_eq(back.tree.failures_buf[0].path, "a/caf\xef\x9f\xa9");
	ck_assert_int_eq(back.tree.failures_buf[0].err.kind,
	    FTPA_ERR_NOT_FOUND);
	ck_assert_int_eq(back.tree.failures_buf[0].err.ftp_code, 550);
	ck_assert_int_eq(back.tree.failures_buf[1].err.kind, FTPA_ERR_TIMEOUT);
	/* past the cap, or without an error object: not read */
	arr = json_object_get(json_object_get(o, "tree"), "failures");
	for (int i = 0; i < WIRE_TREE_FAILURES_MAX; i++)
		json_array_append(arr, json_array_get(arr, 0));
	json_array_insert_new(arr, 0, json_pack("{s:s}", "path", "x"));
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert_int_eq(back.tree.n_failures, WIRE_TREE_FAILURES_MAX);
	ck_assert_str_eq(back.tree.failures_buf[0].path, "a/caf\xef\x9f\xa9");
	json_decref(o);
	j.tree.present = false;
	o = wire_job_json(&j);
	ck_assert_ptr_null(json_object_get(o, "tree"));
	ck_assert_int_eq(wire_job_read(o, &back), 0);
	ck_assert(!back.tree.present);
	json_decref(o);
}
END_TEST

START_TEST(notification)
{
	json_t	*p, *n;

	p = wire_session_state("s", "ready", 2, 1);
	n = wire_notification(WIRE_SESSION_STATE, p);
	ck_assert_str_eq(json_string_value(json_object_get(n, "jsonrpc")),
	    "2.0");
	ck_assert_str_eq(json_string_value(json_object_get(n, "method")),
	    "session.state");
	ck_assert_ptr_null(json_object_get(n, "id"));
	ck_assert_ptr_eq(json_object_get(n, "params"), p);
	json_decref(n);
	/* the caller's reference stays good */
	ck_assert_int_eq(json_integer_value(json_object_get(p, "busy")), 1);
	json_decref(p);
}
END_TEST

Suite *
wire_suite(void)
{
	Suite	*s = suite_create("wire");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, entry_roundtrip);
	tcase_add_test(tc, entry_unknowns);
	tcase_add_test(tc, job_negative_counts);
	tcase_add_test(tc, error_object);
	tcase_add_test(tc, job_roundtrip);
	tcase_add_test(tc, job_tree);
	tcase_add_test(tc, notification);
	suite_add_tcase(s, tc);
	return s;
}
