/*
 * libftpagent's non-blocking core (<ftpagent_async.h>) against a fake
 * agent scripted by each test (fakeagent.h): one end of a socketpair is
 * the connection, the test holds the other, reads the requests off it
 * and writes the replies byte for byte.
 *
 * This file: calls and what comes back for them (ids and arguments,
 * replies in any order, split at every byte, notifications between
 * them, a transfer's progress routed to its own call, ten thousand
 * calls at once), and async_suite(), which gathers the test cases of
 * check_async_cancel.c (cancelling calls in flight),
 * check_async_fail.c (hang-ups, freeing, a hostile agent) and
 * check_async_fds_time.c (descriptors, timeouts, the watch hook, the
 * blocking face).
 */
#include <config.h>	/* _GNU_SOURCE: asprintf */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "check_async.h"

#define MANY		10000

/* test_many_calls: one per call */
struct many {
	uint64_t	 id;
	int		 runs;
	bool		 right;		/* reply->call was id */
};

static struct many *many;
static int many_done;
static char many_why[256];

/* ---- 0. sends: ids, arguments, nothing before a process ------------------ */

START_TEST(test_send_ids_and_arguments)
{
	uint64_t c1, c2;

	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	ck_assert_uint_eq(ftpagent_events(a), FTPAGENT_READ);

	c1 = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	c2 = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_msg(c1 != 0 && c2 != 0 && c1 != c2, "ids %llu %llu",
	    (unsigned long long)c1, (unsigned long long)c2);
	ck_assert_uint_eq(ftpagent_pending(a), 2);
	ck_assert(ftpagent_events(a) & FTPAGENT_WRITE);
	ck_assert_int_gt(ftpagent_timeout(a), 0);
	ck_assert_int_le(ftpagent_timeout(a), WAIT_MS);
	ck_assert_int_eq(recs[0].runs + recs[1].runs, 0);

	/* bad arguments: 0 with the sticky error, and no callback */
	ck_assert_uint_eq(ftpagent_send_stat(a, NULL, "/x", on_reply,
	    &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_get_fd(a, "s1", "/f", -1, NULL,
	    on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_chmod(a, "s1", "/x", 010000,
	    on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_call(a, "agent.ping", "not json", NULL,
	    0, on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_int_eq(recs[2].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 2);
}
END_TEST

/* ---- 1. out-of-order replies --------------------------------------------- */

/* What each of test_out_of_order's five callbacks took. */
static void
assert_out_of_order_replies(void)
{
	json_t *j, *want;

	/* fs.stat: the entry */
	ck_assert_str_eq(recs[0].r.entry.name, "file");
	ck_assert_int_eq(recs[0].r.entry.type, FTPAGENT_FILE);
	ck_assert_int_eq(recs[0].r.entry.size, 1234);
	ck_assert_int_eq(recs[0].r.entry.mtime, 1700000000);
	ck_assert_int_eq(recs[0].r.entry.perm, 0644);
	ck_assert_ptr_null(recs[0].r.entry.target);
	ck_assert_str_eq(recs[0].message, "");
	/* fs.list: the entries, names as bytes */
	ck_assert_uint_eq(recs[1].r.n_entries, 2);
	ck_assert_str_eq(recs[1].r.entries[0].name, "a");
	ck_assert_int_eq(recs[1].r.entries[0].type, FTPAGENT_DIR);
	ck_assert_int_eq(recs[1].r.entries[0].size, -1);
	ck_assert(recs[1].r.entries[0].mtime == INT64_MIN);
	ck_assert_int_eq(recs[1].r.entries[0].perm, 0755);
	ck_assert_str_eq(recs[1].r.entries[1].name, "caf\xe9");
	ck_assert_int_eq(recs[1].r.entries[1].type, FTPAGENT_LINK);
	ck_assert_int_eq(recs[1].r.entries[1].size, 7);
	ck_assert_str_eq(recs[1].r.entries[1].target, "a");
	/* ftp.quote: code and text (bytes) */
	ck_assert_int_eq(recs[2].r.code, 214);
	ck_assert_str_eq(recs[2].r.text, "Help \xe9OK");
	/* send_call: the result as JSON */
	ck_assert_ptr_nonnull(recs[3].r.json);
	j = json_loads(recs[3].r.json, 0, NULL);
	want = json_loads("{\"pong\":[1,\"two\"]}", 0, NULL);
	ck_assert_msg(j != NULL && json_equal(j, want), "json %s",
	    recs[3].r.json);
	json_decref(j);
	json_decref(want);
	/* job.status: the job */
	ck_assert_str_eq(recs[4].r.job.id, "j7");
	ck_assert_int_eq(recs[4].r.job.state, FTPAGENT_JOB_RUNNING);
	ck_assert_int_eq(recs[4].r.job.direction, FTPAGENT_XFER_PUT);
	ck_assert_str_eq(recs[4].r.job.session, "s1");
	ck_assert_str_eq(recs[4].r.job.path, "/f");
	ck_assert_int_eq(recs[4].r.job.bytes, 4096);
	ck_assert_int_eq(recs[4].r.job.total, 8192);
	ck_assert_int_eq(recs[4].r.job.uid, 1000);
	/* the members of other operations are empty */
	ck_assert_ptr_null(recs[0].r.entries);
	ck_assert_ptr_null(recs[0].r.json);
	ck_assert_ptr_null(recs[3].r.entry.name);
	ck_assert_ptr_null(recs[4].r.text);
}

START_TEST(test_out_of_order)
{
	struct req q[5];
	uint64_t id[5];
	char b[512];
	int i;

	id[0] = ftpagent_send_stat(a, "s1", "/dir/file", on_reply, &recs[0]);
	id[1] = ftpagent_send_list(a, "s1", "/dir", on_reply, &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "SITE HELP", on_reply, &recs[2]);
	id[3] = ftpagent_send_call(a, "agent.ping", "{\"n\":3}", NULL, 0,
	    on_reply, &recs[3]);
	id[4] = ftpagent_send_job_status(a, "j7", on_reply, &recs[4]);
	for (i = 0; i < 5; i++)
		ck_assert_msg(id[i] != 0, "send %d: %s", i,
		    ftpagent_error_message(a));
	ck_assert_uint_eq(ftpagent_pending(a), 5);
	flush();

	/* the requests, in the order sent, with distinct ids */
	agent_req(&q[0], "fs.stat", 0);
	ck_assert_str_eq(param_str(&q[0], "session"), "s1");
	ck_assert_str_eq(param_str(&q[0], "path"), "/dir/file");
	agent_req(&q[1], "fs.list", 0);
	ck_assert_str_eq(param_str(&q[1], "path"), "/dir");
	agent_req(&q[2], "ftp.quote", 0);
	ck_assert_str_eq(param_str(&q[2], "command"), "SITE HELP");
	agent_req(&q[3], "agent.ping", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(q[3].params, "n")),
	    3);
	agent_req(&q[4], "job.status", 0);
	ck_assert_str_eq(param_str(&q[4], "job"), "j7");
	for (i = 1; i < 5; i++)
		ck_assert_msg(q[i].id != q[i - 1].id, "two requests with id "
		    "%lld", (long long)q[i].id);
	agent_no_req(20);

	/* answered last first, all in one write and then each alone */
	agent_result(q[4].id, job_obj(b, "j7", "running", "put", 4096, 8192,
	    -1));
	agent_result(q[3].id, "{\"pong\":[1,\"two\"]}");
	ck_assert(drain());
	ck_assert_int_eq(recs[4].runs + recs[3].runs, 2);
	ck_assert_int_eq(recs[0].runs + recs[1].runs + recs[2].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 3);
	agent_result(q[2].id, "{\"code\":214,\"text\":\"Help \\uf7e9OK\"}");
	ck_assert(drain());
	agent_result(q[1].id, "{\"entries\":[{\"name\":\"a\",\"type\":\"dir\","
	    "\"size\":null,\"mtime\":null,\"perm\":493,\"target\":null},"
	    "{\"name\":\"caf\\uf7e9\",\"type\":\"link\",\"size\":7,"
	    "\"mtime\":1700000001,\"perm\":null,\"target\":\"a\"}],"
	    "\"source\":\"mlsd\"}");
	agent_result(q[0].id, "{\"name\":\"file\",\"type\":\"file\","
	    "\"size\":1234,\"mtime\":1700000000,\"perm\":420,\"target\":null}");
	ck_assert(drain());

	for (i = 0; i < 5; i++)
		assert_done(&recs[i], id[i], FTPAGENT_OK);
	/* they ran in the order the replies came */
	ck_assert_int_lt(recs[4].seq, recs[3].seq);
	ck_assert_int_lt(recs[3].seq, recs[2].seq);
	ck_assert_int_lt(recs[2].seq, recs[1].seq);
	ck_assert_int_lt(recs[1].seq, recs[0].seq);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	assert_out_of_order_replies();
	for (i = 0; i < 5; i++)
		req_clear(&q[i]);
}
END_TEST

/* An error reply fills the error members of the reply. */
START_TEST(test_error_reply)
{
	struct req q;
	uint64_t id;

	id = ftpagent_send_stat(a, "s1", "/nope", on_reply, &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,"
	    "\"message\":\"No such file\",\"data\":{\"kind\":\"not_found\","
	    "\"ftp_code\":550,\"ftp_text\":\"550 gone\"}},\"id\":%lld}\n",
	    (long long)q.id);
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_NOT_FOUND);
	ck_assert_str_eq(recs[0].kind, "not_found");
	ck_assert_int_eq(recs[0].ftp_code, 550);
	ck_assert_ptr_nonnull(strstr(recs[0].message, "No such file"));
	ck_assert_ptr_nonnull(strstr(recs[0].data, "\"ftp_code\":550"));
	ck_assert_ptr_null(recs[0].r.entry.name);
	/* a failed call is the callback's business, not a sticky error */
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_uint_ne(ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply, &recs[1]), 0);
	req_clear(&q);
}
END_TEST

/* ---- 2. a reply split at every byte -------------------------------------- */

/* Writes s one byte at a time, the library reading after each; *count
 * must stay at before until the last byte and reach before + 1 then. */
static void
write_bytewise(const char *s, const int *count, int before)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(send(agent, s + i, 1, MSG_NOSIGNAL), 1);
		ck_assert_msg(drain(), "process failed at byte %zu: %s", i,
		    ftpagent_error_message(a));
		ck_assert_msg(*count == (i + 1 == n ? before + 1 : before),
		    "after byte %zu of %zu: %d callbacks", i + 1, n, *count);
	}
}

START_TEST(test_split_reply)
{
	struct req q;
	uint64_t id;
	char *line;

	id = ftpagent_send_stat(a, "s1", "/d/\xc3\xa9t\xc3\xa9", on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	ck_assert_str_eq(param_str(&q, "path"), "/d/\xc3\xa9t\xc3\xa9");
	/* raw UTF-8 and escapes, cut inside both */
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":"
	    "{\"name\":\"\xc3\xa9t\xc3\xa9\\u00e9\\uf7ff\",\"type\":\"file\","
	    "\"size\":1,\"mtime\":null,\"perm\":null,\"target\":null},"
	    "\"id\":%lld}\n", (long long)q.id), 0);
	write_bytewise(line, &recs[0].runs, 0);
	free(line);
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.entry.name,
	    "\xc3\xa9t\xc3\xa9\xc3\xa9\xff");
	ck_assert_int_eq(recs[0].r.entry.size, 1);
	req_clear(&q);
}
END_TEST

START_TEST(test_split_notification_then_reply)
{
	struct req q;
	uint64_t sub, id;
	char b[512], *line;

	sub = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	ck_assert_uint_ne(sub, 0);
	ftpagent_set_event_cb(a, on_event, &evs);
	flush();
	agent_req(&q, "events.subscribe", 0);
	agent_result(q.id, "{}");
	req_clear(&q);
	ck_assert(drain());
	assert_done(&recs[0], sub, FTPAGENT_OK);

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q, "agent.ping", 0);
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"job.finished\",\"params\":%s}\n", job_obj(b, "j3", "done",
	    "get", 10, 10, -1)), 0);
	write_bytewise(line, &evs.n, 0);
	free(line);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":{},"
	    "\"id\":%lld}\n", (long long)q.id), 0);
	write_bytewise(line, &recs[1].runs, 0);
	free(line);
	ck_assert_int_eq(evs.n, 1);
	ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(evs.ev[0].job.id, "j3");
	ck_assert_int_eq(evs.ev[0].job.state, FTPAGENT_JOB_DONE);
	assert_done(&recs[1], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.json, "{}");
	req_clear(&q);
}
END_TEST

/* ---- 3. notifications between replies ------------------------------------ */

static const char session_state[] = "{\"session\":\"s1\",\"state\":\"busy\","
    "\"connections\":2,\"busy\":1}";

START_TEST(test_notifications_to_callback)
{
	struct req q[3];
	uint64_t id[3];
	char b[512];

	id[0] = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	ftpagent_set_event_cb(a, on_event, &evs);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", "{\"n\":2}", NULL, 0,
	    on_reply, &recs[2]);
	flush();
	agent_req(&q[0], "events.subscribe", 0);
	ck_assert_str_eq(param_str(&q[0], "jobs"), "all");
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "agent.ping", 0);

	/* a notification may come before the subscription's reply */
	agent_progress("j1", 100, 1000, -1);
	agent_result(q[0].id, "{}");
	agent_notify("job.finished", job_obj(b, "j2", "failed", "put", 5, -1,
	    -1));
	agent_result(q[2].id, "{}");
	agent_notify("session.state", session_state);
	agent_result(q[1].id, "{}");
	agent_progress("j1", 200, 1000, -1);
	ck_assert(run_until(&evs.n, 4, WAIT_MS));
	ck_assert(drain());

	ck_assert_int_eq(evs.n, 4);
	ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(evs.ev[0].job.id, "j1");
	ck_assert_int_eq(evs.ev[0].job.state, FTPAGENT_JOB_RUNNING);
	ck_assert_int_eq(evs.ev[0].job.bytes, 100);
	ck_assert_int_eq(evs.ev[0].job.total, 1000);
	ck_assert_int_eq(evs.ev[1].type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(evs.ev[1].job.id, "j2");
	ck_assert_int_eq(evs.ev[1].job.state, FTPAGENT_JOB_FAILED);
	ck_assert_int_eq(evs.ev[1].job.direction, FTPAGENT_XFER_PUT);
	ck_assert_int_eq(evs.ev[1].job.total, -1);
	ck_assert_int_eq(evs.ev[2].type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(evs.ev[2].session, "s1");
	ck_assert_str_eq(evs.ev[2].state, "busy");
	ck_assert_int_eq(evs.ev[2].connections, 2);
	ck_assert_int_eq(evs.ev[2].busy, 1);
	ck_assert_int_eq(evs.ev[3].type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_int_eq(evs.ev[3].job.bytes, 200);

	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	/* events and replies ran in the order they came */
	ck_assert_int_lt(evs.seq[0], recs[0].seq);
	ck_assert_int_lt(recs[0].seq, evs.seq[1]);
	ck_assert_int_lt(evs.seq[1], recs[2].seq);
	ck_assert_int_lt(recs[2].seq, evs.seq[2]);
	ck_assert_int_lt(evs.seq[2], recs[1].seq);
	ck_assert_int_lt(recs[1].seq, evs.seq[3]);
	/* given to the callback, so none kept */
	{
		struct ftpagent_event ev;

		ck_assert(!ftpagent_next_event(a, &ev, 0));
		ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	}
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

START_TEST(test_notifications_kept)
{
	struct ftpagent_event ev;
	struct req q[2];
	uint64_t id[2];
	char b[512];

	id[0] = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q[0], "events.subscribe", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_notify("session.state", session_state);
	agent_result(q[0].id, "{}");
	agent_progress("j1", 100, 1000, -1);
	agent_notify("job.finished", job_obj(b, "j2", "done", "get", 5, 5,
	    -1));
	agent_result(q[1].id, "{}");
	ck_assert(run_until(&recs[1].runs, 1, WAIT_MS));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);

	ck_assert_msg(ftpagent_next_event(a, &ev, 0), "no event kept: %s",
	    ftpagent_error_message(a));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(ev.session, "s1");
	ck_assert_int_eq(ev.connections, 2);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(ev.job.id, "j1");
	ck_assert_int_eq(ev.job.bytes, 100);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(ev.job.id, "j2");
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_DONE);
	ftpagent_event_clear(&ev);
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* a newer job.progress replaces the unread one where it stands */
	agent_progress("j4", 1, 10, -1);
	agent_notify("session.state", session_state);
	agent_progress("j4", 7, 10, -1);
	ck_assert(drain());
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_int_eq(ev.job.bytes, 7);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ftpagent_event_clear(&ev);
	ck_assert(!ftpagent_next_event(a, &ev, 0));

	/* events kept while no callback was set are not lost when one is */
	agent_notify("session.state", session_state);
	ck_assert(drain());
	ftpagent_set_event_cb(a, on_event, &evs);
	agent_progress("j5", 3, 10, -1);
	ck_assert(drain());
	ck_assert_int_ge(evs.n, 1);
	ck_assert_int_eq(evs.ev[evs.n - 1].type, FTPAGENT_EVENT_JOB_PROGRESS);
	if (evs.n == 1) {
		ck_assert(ftpagent_next_event(a, &ev, 0));
		ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
		ftpagent_event_clear(&ev);
	} else
		ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_SESSION_STATE);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* ---- 4. transfer progress goes to its own call --------------------------- */

START_TEST(test_progress_routing)
{
	struct ftpagent_xfer_opts o1, o2;
	struct prog p1, p2;
	struct req q[2];
	uint64_t id[2];
	int f1 = temp_file(NULL), f2 = temp_file(NULL);
	char b[512];

	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	o1.progress = o2.progress = on_progress;
	o1.progress_arg = &p1;
	o2.progress_arg = &p2;
	/* the same session and path: only "request" tells them apart */
	id[0] = ftpagent_send_get_fd(a, "s1", "/f", f1, &o1, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_get_fd(a, "s1", "/f", f2, &o2, on_reply,
	    &recs[1]);
	ck_assert(id[0] != 0 && id[1] != 0);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "transfer.get", 1);
	ck_assert(json_is_true(json_object_get(q[0].params, "progress")));
	ck_assert(json_is_true(json_object_get(q[1].params, "progress")));
	ck_assert_int_eq(json_integer_value(json_object_get(q[0].params,
	    "fd")), 0);

	agent_progress("j2", 100, 1000, q[1].id);
	agent_progress("j1", 5, 50, q[0].id);
	agent_progress("j2", 200, 1000, q[1].id);
	ck_assert(drain());
	ck_assert_int_eq(p1.runs, 1);
	ck_assert_int_eq(p1.bytes[0], 5);
	ck_assert_int_eq(p1.total[0], 50);
	ck_assert_int_eq(p2.runs, 2);
	ck_assert_int_eq(p2.bytes[0], 100);
	ck_assert_int_eq(p2.total[0], 1000);
	ck_assert_int_eq(p2.bytes[1], 200);
	ck_assert_int_eq(recs[0].runs + recs[1].runs, 0);

	agent_progress("j1", 50, 50, q[0].id);
	agent_result(q[0].id, job_obj(b, "j1", "done", "get", 50, 50, -1));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	ck_assert_int_eq(recs[0].r.xfer.bytes, 50);
	ck_assert_int_eq(recs[0].r.xfer.total, 50);
	ck_assert_int_eq(p1.runs, 2);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 1);

	agent_result(q[1].id, job_obj(b, "j2", "done", "get", 1000, 1000,
	    -1));
	ck_assert(drain());
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	ck_assert_int_eq(recs[1].r.xfer.bytes, 1000);
	/* its last notice said 200: the end is heard once more */
	ck_assert_int_eq(p2.runs, 3);
	ck_assert_int_eq(p2.bytes[2], 1000);
	ck_assert_int_eq(p2.total[2], 1000);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	/* a late progress of a finished transfer goes nowhere */
	agent_progress("j1", 50, 50, q[0].id);
	ck_assert(drain());
	ck_assert_int_eq(p1.runs, 2);
	ck_assert_int_eq(recs[0].runs, 1);
	close(f1);
	close(f2);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * Runs drain() in a forked copy of this process, so that a library that
 * never returns fails the test instead of hanging the suite (CK_FORK=no
 * too). True when the copy returned within ms. The copy consumes what
 * the socket holds.
 */
static bool
drain_returns_within(int ms)
{
	int64_t deadline = now_ms() + ms;
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		(void)drain();
		_exit(0);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return false;
		}
		poll(NULL, 0, 10);
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * A job.progress without "request" (what a subscription brings about
 * other jobs, or an agent from before "request") that could be either
 * of two transfers whose jobs are not known yet.
 */
START_TEST(test_progress_without_request_ambiguous)
{
	struct req q[2];
	int f1 = temp_file(NULL), f2 = temp_file(NULL);

	ck_assert_uint_ne(ftpagent_send_get_fd(a, "s1", "/f", f1, NULL,
	    on_reply, &recs[0]), 0);
	ck_assert_uint_ne(ftpagent_send_get_fd(a, "s1", "/f", f2, NULL,
	    on_reply, &recs[1]), 0);
	close(f1);
	close(f2);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "transfer.get", 1);
	agent_progress("jX", 1, 10, -1);
	ck_assert_msg(drain_returns_within(WAIT_MS), "ftpagent_process did "
	    "not return within %d ms", WAIT_MS);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * Subscribed, a transfer sees another job of the same session and path
 * (another process's download of the same file) before its own first
 * progress: that job is not the transfer's. Its progress callback hears
 * only its own job, and cancelling it cancels its own job, not the
 * other process's.
 */
START_TEST(test_subscription_progress_not_a_transfers)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	ck_assert_uint_ne(ftpagent_send_subscribe(a, NULL, on_reply,
	    &recs[0]), 0);
	ftpagent_set_event_cb(a, on_event, &evs);
	flush();
	agent_req(&q, "events.subscribe", 0);
	agent_result(q.id, "{}");
	req_clear(&q);
	ck_assert(drain());

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	id = ftpagent_send_get_fd(a, "s1", "/f", fd, &o, on_reply, &recs[1]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("jX", 500, 1000, -1);	/* someone else's */
	agent_progress("jM", 0, 1000, q.id);	/* its own */
	ck_assert(drain());
	ck_assert_msg(p.runs == 1 && p.bytes[0] == 0, "the transfer's "
	    "progress callback ran %d times, first with %lld bytes", p.runs,
	    (long long)p.bytes[0]);
	ck_assert(ftpagent_cancel(a, id));
	agent_expect_job_cancel("jM");
	req_clear(&q);
}
END_TEST

/* ---- 11. many calls ------------------------------------------------------ */

static void
on_many(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct many *m = arg;

	(void)conn;
	m->runs++;
	m->right = r->call == m->id && r->error == FTPAGENT_OK &&
	    r->json != NULL && strcmp(r->json, "{}") == 0;
	if (!m->right)
		copy_str(many_why, sizeof(many_why), r->error_message);
	many_done++;
}

START_TEST(test_many_calls)
{
	static char in[256 * 1024], out[200 * 64];
	static json_int_t ids[MANY];
	size_t inlen = 0, outlen;
	int64_t deadline = now_ms() + 120000;
	int nids = 0, i, k, got = 0;
	char *nl, *p;
	json_t *j;
	ssize_t n;

	ck_assert_ptr_nonnull(many = calloc(MANY, sizeof(*many)));
	many_done = 0;
	ftpagent_set_timeout(a, 120000);	/* slow under valgrind */
	for (i = 0; i < MANY; i++) {
		many[i].id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
		    on_many, &many[i]);
		ck_assert_msg(many[i].id != 0, "send %d: %s", i,
		    ftpagent_error_message(a));
	}
	ck_assert_uint_eq(ftpagent_pending(a), MANY);

	/* the agent answers what it has read in batches of up to 200,
	 * last first, while the library is still writing */
	while (many_done < MANY && now_ms() < deadline) {
		if (ftpagent_events(a) & FTPAGENT_WRITE)
			ck_assert(ftpagent_process(a, FTPAGENT_WRITE));
		n = recv(agent, in + inlen, sizeof(in) - inlen - 1,
		    MSG_DONTWAIT);
		ck_assert_msg(n > 0 || (n == -1 && errno == EAGAIN),
		    "agent recv: %s", n == 0 ? "EOF" : strerror(errno));
		if (n > 0)
			inlen += (size_t)n;
		in[inlen] = '\0';
		for (p = in; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			*nl = '\0';
			j = json_loads(p, 0, NULL);
			ck_assert_ptr_nonnull(j);
			ck_assert(json_is_integer(json_object_get(j, "id")));
			ck_assert_int_lt(got, MANY);
			ids[nids++] = json_integer_value(json_object_get(j,
			    "id"));
			json_decref(j);
			got++;
		}
		inlen -= (size_t)(p - in);
		memmove(in, p, inlen);
		ck_assert_uint_lt(inlen, sizeof(in) / 2);	/* no line */
		for (i = 0; i < 4 && nids > 0; i++) {
			outlen = 0;
			for (k = 0; k < 200 && nids > 0; k++)
				outlen += (size_t)snprintf(out + outlen,
				    sizeof(out) - outlen,
				    "{\"jsonrpc\":\"2.0\",\"result\":{},"
				    "\"id\":%lld}\n",
				    (long long)ids[--nids]);
			ck_assert(fake_send(agent, out, outlen, WAIT_MS));
			ck_assert(drain());
		}
		if (n <= 0 && !(ftpagent_events(a) & FTPAGENT_WRITE))
			poll(NULL, 0, 1);
	}
	ck_assert_int_eq(got, MANY);
	ck_assert_int_eq(many_done, MANY);
	for (i = 0; i < MANY; i++) {
		ck_assert_msg(many[i].runs == 1, "call %d ran %d times", i,
		    many[i].runs);
		ck_assert_msg(many[i].right, "call %d: wrong reply (%s)", i,
		    many_why);
	}
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	free(many);
	many = NULL;
}
END_TEST

static void
calls_tcase(Suite *s)
{
	TCase *tc = tcase_create("calls");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_send_ids_and_arguments);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_split_reply);
	tcase_add_test(tc, test_split_notification_then_reply);
	tcase_add_test(tc, test_notifications_to_callback);
	tcase_add_test(tc, test_notifications_kept);
	tcase_add_test(tc, test_progress_routing);
	tcase_add_test(tc, test_progress_without_request_ambiguous);
	tcase_add_test(tc, test_subscription_progress_not_a_transfers);
	suite_add_tcase(s, tc);
}

/* many goes after teardown's ftpagent_free, which runs on_many for the
 * calls a failed test left pending. */
static void
many_teardown(void)
{
	teardown();
	free(many);
	many = NULL;
}

static void
many_tcase(Suite *s)
{
	TCase *tc = tcase_create("many");

	tcase_add_checked_fixture(tc, setup, many_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_many_calls);
	suite_add_tcase(s, tc);
}

Suite *
async_suite(void)
{
	Suite *s = suite_create("async");

	calls_tcase(s);
	async_cancel_tcases(s);
	async_fail_tcases(s);
	async_fds_time_tcases(s);
	many_tcase(s);
	return s;
}
