/*
 * The async core against the fake agent (fakeagent.h): cancelling calls
 * in flight, before and after they are written, transfers with their
 * jobs on the agent, and cancels (and sends) from inside callbacks.
 */
#include <config.h>

#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "check_async.h"

/* ---- 5. cancelling calls in flight --------------------------------------- */

START_TEST(test_cancel_call)
{
	struct req q[3], extra;
	uint64_t id[3], id4;
	char b[512];

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[2]);
	flush();
	agent_req(&q[0], "fs.stat", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "ftp.quote", 0);

	ck_assert(ftpagent_cancel(a, id[1]));
	/* at once, not at the next process */
	assert_done(&recs[1], id[1], FTPAGENT_ERR_CANCELLED);
	ck_assert_str_eq(recs[1].kind, "cancelled");
	ck_assert_uint_eq(ftpagent_pending(a), 2);
	ck_assert(!ftpagent_cancel(a, id[1]));
	ck_assert(!ftpagent_cancel(a, id[2] + 1000));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	/* nothing goes to the agent for a call that is no transfer */
	flush();
	agent_no_req(20);

	/* the late reply is dropped; the others complete as usual */
	agent_result(q[2].id, "{\"code\":200,\"text\":\"ok\"}");
	agent_result(q[1].id, "{}");
	agent_result(q[0].id, "{\"name\":\"a\",\"type\":\"dir\"}");
	ck_assert(drain());
	ck_assert_int_eq(recs[1].runs, 1);
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.entry.name, "a");
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	ck_assert_int_eq(recs[2].r.code, 200);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert(!ftpagent_cancel(a, id[0]));	/* done already */

	/* cancelled before it was written: sent or not, it ends once */
	id4 = ftpagent_send_call(a, "agent.ping", "{\"n\":4}", NULL, 0,
	    on_reply, &recs[3]);
	ck_assert(ftpagent_cancel(a, id4));
	assert_done(&recs[3], id4, FTPAGENT_ERR_CANCELLED);
	flush();
	if (readable(agent)) {
		agent_req(&extra, "agent.ping", 0);
		agent_result(extra.id, "{}");
		req_clear(&extra);
		ck_assert(drain());
	}
	ck_assert_int_eq(recs[3].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* the connection is as good as before */
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	id4 = ftpagent_send_job_status(a, "j1", on_reply, &recs[4]);
	ck_assert_uint_ne(id4, 0);
	flush();
	agent_req(&extra, "job.status", 0);
	agent_result(extra.id, job_obj(b, "j1", "queued", "get", 0, -1, -1));
	ck_assert(drain());
	assert_done(&recs[4], id4, FTPAGENT_OK);
	req_clear(&extra);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

START_TEST(test_cancel_transfer)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	id = ftpagent_send_get_fd(a, "s1", "/big", fd, &o, on_reply, &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("j5", 10, 1000, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);

	ck_assert(ftpagent_cancel(a, id));
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	ck_assert(!ftpagent_cancel(a, id));
	agent_expect_job_cancel("j5");

	/* what the agent still says about it goes nowhere */
	agent_progress("j5", 20, 1000, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	req_clear(&q);
}
END_TEST

START_TEST(test_cancel_from_progress)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file("data");

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	p.stop = true;
	id = ftpagent_send_put_fd(a, "s1", "/up", fd, &o, on_reply, &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.put", 1);
	agent_progress("j6", 1, 4, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	agent_expect_job_cancel("j6");

	/* not asked again; the call ends once, cancelled */
	agent_progress("j6", 2, 4, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	agent_no_req(20);
	req_clear(&q);
}
END_TEST

/*
 * A transfer cancelled before any progress named its job: once a
 * progress does, the job is cancelled on the agent ("once its id is
 * known"), so that it stops writing into the caller's file.
 */
START_TEST(test_cancel_transfer_job_learnt_later)
{
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	id = ftpagent_send_get_fd(a, "s1", "/big", fd, NULL, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	ck_assert(ftpagent_cancel(a, id));
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	flush();
	agent_no_req(20);	/* no job id known: nothing to send yet */

	agent_progress("j9", 10, 1000, q.id);
	ck_assert(drain());
	agent_expect_job_cancel("j9");
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* A progress callback that cancels its own call with ftpagent_cancel
 * and then returns false as well. */
static uint64_t self_id;
static bool self_cancelled;

static bool
on_progress_cancel_self(void *arg, int64_t bytes, int64_t total)
{
	struct prog *p = arg;

	p->runs++;
	self_cancelled = ftpagent_cancel(a, self_id);
	return false;
}

START_TEST(test_cancel_inside_progress)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	int fd = temp_file(NULL);

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress_cancel_self;
	o.progress_arg = &p;
	self_id = ftpagent_send_get_fd(a, "s1", "/big", fd, &o, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("j7", 10, 1000, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert(self_cancelled);
	assert_done(&recs[0], self_id, FTPAGENT_ERR_CANCELLED);
	/* one job.cancel, of the right job, and nothing else */
	agent_expect_job_cancel("j7");
	agent_no_req(50);
	agent_progress("j7", 20, 1000, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* A callback that cancels its own call again: it has run, so false. */
static bool nested_cancel;

static void
on_reply_cancel_again(struct ftpagent *conn, struct ftpagent_reply *r,
    void *arg)
{
	on_reply(conn, r, arg);
	nested_cancel = ftpagent_cancel(conn, r->call);
}

START_TEST(test_cancel_again_from_callback)
{
	struct req q[2];
	uint64_t id[2];
	int fd = temp_file(NULL);

	/* a transfer whose job is not known yet, cancelled */
	id[0] = ftpagent_send_get_fd(a, "s1", "/a", fd, NULL,
	    on_reply_cancel_again, &recs[0]);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	nested_cancel = true;
	ck_assert(ftpagent_cancel(a, id[0]));
	assert_done(&recs[0], id[0], FTPAGENT_ERR_CANCELLED);
	ck_assert_msg(!nested_cancel && ftpagent_pending(a) == 0,
	    "a call whose callback runs: cancelled again %d, pending %zu",
	    nested_cancel, ftpagent_pending(a));
	ck_assert(!ftpagent_cancel(a, id[0]));

	/* the same, timed out */
	ftpagent_set_timeout(a, 100);
	id[1] = ftpagent_send_get_fd(a, "s1", "/b", fd, NULL,
	    on_reply_cancel_again, &recs[1]);
	close(fd);
	flush();
	agent_req(&q[1], "transfer.get", 1);
	nested_cancel = true;
	ck_assert(run_until(&recs[1].runs, 1, WAIT_MS));
	assert_done(&recs[1], id[1], FTPAGENT_ERR_TIMEOUT);
	ck_assert_msg(!nested_cancel && ftpagent_pending(a) == 0,
	    "a call whose callback runs: cancelled again %d, pending %zu",
	    nested_cancel, ftpagent_pending(a));
	ck_assert_int_eq(recs[1].runs, 1);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* From a callback the library may be called again: a send, a cancel. */
static uint64_t reentrant_cancel, reentrant_sent;

static void
on_reply_reenter(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	on_reply(conn, r, arg);
	ck_assert(ftpagent_cancel(conn, reentrant_cancel));
	reentrant_sent = ftpagent_send_call(conn, "agent.ping", "{\"n\":9}",
	    NULL, 0, on_reply, &recs[2]);
}

START_TEST(test_reentrant_callback)
{
	struct req q[3];
	uint64_t id[2];

	id[0] = ftpagent_send_call(a, "agent.ping", "{\"n\":0}", NULL, 0,
	    on_reply_reenter, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[1]);
	reentrant_cancel = id[1];
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	/* both replies in one read: the second belongs to a call the
	 * first's callback cancels */
	agent_result(q[0].id, "{}");
	agent_result(q[1].id, "{}");
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_CANCELLED);
	ck_assert_uint_ne(reentrant_sent, 0);
	flush();
	agent_req(&q[2], "agent.ping", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(q[2].params, "n")),
	    9);
	agent_result(q[2].id, "{}");
	ck_assert(drain());
	assert_done(&recs[2], reentrant_sent, FTPAGENT_OK);
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

void
async_cancel_tcases(Suite *s)
{
	TCase *tc = tcase_create("cancel");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cancel_call);
	tcase_add_test(tc, test_cancel_transfer);
	tcase_add_test(tc, test_cancel_from_progress);
	tcase_add_test(tc, test_cancel_transfer_job_learnt_later);
	tcase_add_test(tc, test_cancel_inside_progress);
	tcase_add_test(tc, test_cancel_again_from_callback);
	tcase_add_test(tc, test_reentrant_callback);
	suite_add_tcase(s, tc);
}
