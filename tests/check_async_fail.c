/*
 * The async core against the fake agent (fakeagent.h) when things go
 * wrong: the agent hangs up (with calls pending, mid-reply, before the
 * requests are written), the connection is freed with calls pending or
 * from a callback, and a hostile agent sends unknown ids, results of
 * the wrong shape, invalid JSON, no JSON-RPC, and a line that never
 * ends.
 */
#include <config.h>	/* _GNU_SOURCE: asprintf */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "fakeagent.h"
#include "check_async.h"

/* ---- 6. the agent hangs up ----------------------------------------------- */

static void
assert_failed_connection(void)
{
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ck_assert_uint_eq(ftpagent_events(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert(!ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply, &recs[NRECS - 1]), 0);
	ck_assert_int_eq(recs[NRECS - 1].runs, 0);
	ck_assert(!ftpagent_process(a, FTPAGENT_READ | FTPAGENT_WRITE));
}

START_TEST(test_hangup_with_calls_pending)
{
	struct req q[3];
	uint64_t id[3];
	int i;

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	id[1] = ftpagent_send_list(a, "s1", "/", on_reply, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[2]);
	flush();
	for (i = 0; i < 3; i++)
		agent_req(&q[i], NULL, 0);
	close(agent);
	agent = -1;
	ck_assert(!drain());
	for (i = 0; i < 3; i++) {
		assert_done(&recs[i], id[i], FTPAGENT_ERR_AGENT);
		req_clear(&q[i]);
	}
	assert_failed_connection();
}
END_TEST

START_TEST(test_hangup_mid_reply)
{
	struct req q[2];
	uint64_t id[2];
	char *line;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "fs.stat", 0);
	/* a whole reply, half of the next, then EOF, all before the
	 * library reads: what came whole still counts */
	agent_result(q[0].id, "{}");
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":"
	    "{\"name\":\"a\",\"type\":\"file\"},\"id\":%lld}\n",
	    (long long)q[1].id), 0);
	ck_assert(fake_send(agent, line, strlen(line) / 2, WAIT_MS));
	free(line);
	close(agent);
	agent = -1;
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * The agent answers and hangs up while the library has a new request
 * queued: the reply that came is still the call's outcome (a caller
 * told "agent gone" may repeat an fs.remove that was done).
 */
START_TEST(test_hangup_after_reply_with_output_queued)
{
	struct req q;
	uint64_t id[2];

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	agent_result(q.id, "{\"name\":\"a\",\"type\":\"file\"}");
	close(agent);
	agent = -1;
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert(ftpagent_events(a) & FTPAGENT_WRITE);
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q);
}
END_TEST

/* Whole replies, exactly 64 KiB of them, then EOF: they still count. */
START_TEST(test_hangup_after_64k)
{
	static char line[65536 + 1];
	struct req q[2];
	uint64_t id[2];
	int n, pad;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%lld,"
	    "\"result\":{\"pad\":\"", (long long)q[0].id);
	pad = 65536 - n - 4;
	memset(line + n, 'x', (size_t)pad);
	memcpy(line + n + pad, "\"}}\n", 4);
	ck_assert_uint_eq(strlen(line), 65536);
	ck_assert(fake_send(agent, line, 65536, WAIT_MS));
	close(agent);
	agent = -1;
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* The agent gone before the requests are written: no SIGPIPE. */
START_TEST(test_hangup_before_write)
{
	uint64_t id[2];

	signal(SIGPIPE, SIG_DFL);
	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[1]);
	close(agent);
	agent = -1;
	ck_assert(!ftpagent_process(a, FTPAGENT_WRITE) || !drain());
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
}
END_TEST

/* ftpagent_free runs what is pending, once each. */
START_TEST(test_free_with_calls_pending)
{
	uint64_t id[2];
	int fd = temp_file(NULL);

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_get_fd(a, "s1", "/f", fd, NULL, on_reply,
	    &recs[1]);
	close(fd);
	flush();
	ftpagent_free(a);
	a = NULL;
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert(recs[0].call == id[0] && recs[1].call == id[1]);
	ck_assert_int_ne(recs[0].error, FTPAGENT_OK);
	ck_assert_int_ne(recs[1].error, FTPAGENT_OK);
}
END_TEST

/* ftpagent_free from inside a callback: the rest end, nothing runs on a
 * freed connection. */
static void
on_reply_free(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct rec *c = arg;

	c->runs++;
	c->call = r->call;
	c->error = r->error;
	ftpagent_free(conn);
	a = NULL;
}

static void
on_reply_count(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct rec *c = arg;

	c->runs++;
	c->call = r->call;
	c->error = r->error;
}

START_TEST(test_free_inside_callback)
{
	struct ftpagent *conn = a;
	struct req q[3];
	uint64_t id[3];

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_free, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_count, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_count, &recs[2]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "agent.ping", 0);
	agent_result(q[0].id, "{}");
	agent_result(q[1].id, "{}");
	agent_progress("j1", 1, 2, q[2].id);
	ck_assert(!ftpagent_process(conn, FTPAGENT_READ));
	ck_assert_ptr_null(a);
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	/* the others end once, whatever the reason */
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert_int_eq(recs[2].runs, 1);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

/* ---- 10. a hostile agent ------------------------------------------------- */

START_TEST(test_unknown_and_duplicate_ids)
{
	struct req q;
	uint64_t id;

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id + 1000, "{\"stray\":1}");
	agent_printf("{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":\"%lld\"}\n",
	    (long long)q.id);
	agent_error(q.id + 1001, -32000, "ftp", "stray error");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 0);
	agent_result(q.id, "{\"n\":1}");
	agent_result(q.id, "{\"n\":2}");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.json, "{\"n\":1}");
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	req_clear(&q);
}
END_TEST

/* Results of the wrong shape: the call fails, the connection stays. */
START_TEST(test_wrong_result_types)
{
	struct req q[5];
	uint64_t id[5];
	int i;

	for (i = 0; i < 5; i++)
		recs[i].leave = true;
	id[0] = ftpagent_send_list(a, "s1", "/", on_reply, &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[2]);
	id[3] = ftpagent_send_job_list(a, on_reply, &recs[3]);
	id[4] = ftpagent_send_list(a, "s1", "/b", on_reply, &recs[4]);
	flush();
	for (i = 0; i < 5; i++)
		agent_req(&q[i], NULL, 0);
	agent_result(q[0].id, "42");
	agent_result(q[1].id, "\"file\"");
	agent_result(q[2].id, "{\"code\":\"200\",\"text\":\"ok\"}");
	agent_result(q[3].id, "{\"jobs\":1}");
	/* an array with one entry that is not an entry */
	agent_result(q[4].id, "{\"entries\":[{\"name\":\"ok\"},{\"size\":1}]}");
	ck_assert(drain());
	for (i = 0; i < 5; i++) {
		assert_done(&recs[i], id[i], FTPAGENT_ERR_RPC);
		ck_assert_msg(strstr(recs[i].message, "unexpected reply") !=
		    NULL, "message: %s", recs[i].message);
		req_clear(&q[i]);
	}
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
}
END_TEST

/* Values no agent may send: a reply code outside 100-599, an empty
 * error kind, a negative byte count. */
START_TEST(test_out_of_range_values)
{
	struct req q[3];
	uint64_t id[3];
	int fd = temp_file("");
	int i;

	/* recs[2] takes its results: xfer is read off its copy */
	recs[0].leave = recs[1].leave = true;
	id[0] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	id[2] = ftpagent_send_get_fd(a, "s1", "/f", fd, NULL, on_reply,
	    &recs[2]);
	close(fd);
	flush();
	agent_req(&q[0], "ftp.quote", 0);
	agent_req(&q[1], "fs.stat", 0);
	agent_req(&q[2], "transfer.get", 1);
	agent_result(q[0].id, "{\"code\":7,\"text\":\"x\"}");
	agent_printf("{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":"
	    "-32004,\"message\":\"m\",\"data\":{\"kind\":\"\"}}}\n",
	    (long long)q[1].id);
	agent_result(q[2].id, "{\"job\":\"j1\",\"state\":\"done\","
	    "\"bytes\":-1,\"total\":-9}");
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_ERR_RPC);
	ck_assert_ptr_nonnull(strstr(recs[0].message, "unexpected reply"));
	ck_assert_int_ne(recs[1].error, FTPAGENT_OK);
	ck_assert_str_ne(recs[1].kind, "");
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	ck_assert_int_eq(recs[2].r.xfer.bytes, 0);
	ck_assert_int_eq(recs[2].r.xfer.total, -1);
	for (i = 0; i < 3; i++)
		req_clear(&q[i]);
}
END_TEST

START_TEST(test_invalid_json)
{
	struct req q[2];
	uint64_t id[2];

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "fs.stat", 0);
	agent_write("{\"jsonrpc\":\"2.0\",\"result\":{,\"id\":1}\n");
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* JSON that is no JSON-RPC message (and a NUL byte): failing or
 * skipping it are both fine; crashing or losing a call is not. */
START_TEST(test_not_jsonrpc)
{
	struct req q;
	uint64_t id;
	bool ok;

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_write("[1,2,3]\n42\n{\"jsonrpc\":\"2.0\"}\n{\"jsonrpc\":\"1.0\","
	    "\"result\":{},\"id\":null}\n{\"jsonrpc\":\"2.0\",\"method\":7}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"job.progress\",\"params\":3}\n");
	ok = drain();
	ck_assert_int_eq(recs[0].runs, ok ? 0 : 1);
	if (ok) {
		ck_assert(fake_send(agent, "\0\n", 2, WAIT_MS));
		ok = drain();
	}
	if (ok) {
		agent_result(q.id, "{}");
		ok = drain();
		ck_assert_msg(ok, "%s", ftpagent_error_message(a));
		assert_done(&recs[0], id, FTPAGENT_OK);
	} else {
		assert_done(&recs[0], id, FTPAGENT_ERR_AGENT);
		assert_failed_connection();
	}
	req_clear(&q);
}
END_TEST

START_TEST(test_overlong_line)
{
	static char chunk[64 * 1024];
	const size_t limit = 64u * 1024 * 1024;
	struct req q;
	uint64_t id[2];
	size_t sent = 0;
	ssize_t n;
	bool ok = true;
	int64_t deadline = now_ms() + 60000;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q, "agent.ping", 0);
	req_clear(&q);
	agent_req(&q, "agent.ping", 0);
	agent_write("{\"jsonrpc\":\"2.0\",\"result\":\"");
	memset(chunk, 'x', sizeof(chunk));
	/* a line longer than any the library takes, never ended */
	while (ok && sent < limit && now_ms() < deadline) {
		n = send(agent, chunk, sizeof(chunk), MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else
			ck_assert_msg(n == -1 && errno == EAGAIN,
			    "send: %s after %zu", strerror(errno), sent);
		ok = drain();
	}
	ck_assert_msg(!ok, "%zu bytes without a line end taken", sent);
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q);
}
END_TEST

void
async_fail_tcases(Suite *s)
{
	TCase *tc = tcase_create("failures");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hangup_with_calls_pending);
	tcase_add_test(tc, test_hangup_mid_reply);
	tcase_add_test(tc, test_hangup_before_write);
	tcase_add_test(tc, test_free_with_calls_pending);
	tcase_add_test(tc, test_free_inside_callback);
	tcase_add_test(tc, test_hangup_after_reply_with_output_queued);
	tcase_add_test(tc, test_hangup_after_64k);
	tcase_add_test(tc, test_unknown_and_duplicate_ids);
	tcase_add_test(tc, test_wrong_result_types);
	tcase_add_test(tc, test_out_of_range_values);
	tcase_add_test(tc, test_invalid_json);
	tcase_add_test(tc, test_not_jsonrpc);
	tcase_add_test(tc, test_overlong_line);
	suite_add_tcase(s, tc);
}
