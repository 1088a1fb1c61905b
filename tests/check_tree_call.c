/*
 * Trees against the fake agent (see check_tree_local.c): the request's
 * params, progress and items handed to their callbacks, the outcome
 * taken from the reply (a failed tree's failures included), a progress
 * callback that cancels, bad arguments, the inactivity timeout that the
 * agent's progress and requests restart, and the blocking face serving
 * a forked agent.
 */
#include <config.h>	/* _GNU_SOURCE: vasprintf */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "check_tree.h"

/* ---- 5. the tree itself: params, progress, items, outcome -------------- */

struct seen {
	int		 progress;
	int64_t		 files, files_total, dirs, skipped;
	bool		 walking;
	char		 job[16];
	bool		 stop;
	int		 items;
	char		 action[16];
	char		 path[64];
	int64_t		 size;
	enum ftpagent_error item_error;
	char		 item_kind[16];
};

static bool
on_tree_progress(void *arg, const struct ftpagent_tree *t)
{
	struct seen *s = arg;

	s->progress++;
	s->files = t->files;
	s->files_total = t->files_total;
	s->dirs = t->dirs;
	s->skipped = t->skipped;
	s->walking = t->walking;
	copy_str(s->job, sizeof(s->job), t->job.id);
	return !s->stop;
}

static void
on_tree_item(void *arg, const struct ftpagent_tree_item *it)
{
	struct seen *s = arg;

	s->items++;
	copy_str(s->action, sizeof(s->action), it->action);
	copy_str(s->path, sizeof(s->path), it->path);
	s->size = it->size;
	s->item_error = it->error;
	copy_str(s->item_kind, sizeof(s->item_kind), it->error_kind);
}

static json_t *
param(const struct req *q, const char *key)
{
	return json_object_get(q->params, key);
}

START_TEST(test_tree_params_progress_items)
{
	static const char *const inc[] = { "*.gz", "caf\xe9*", NULL };
	static const char *const exc[] = { "tmp", NULL };
	struct ftpagent_tree_opts o;
	struct seen seen;
	struct req q;
	uint64_t id;

	memset(&seen, 0, sizeof(seen));
	memset(&o, 0, sizeof(o));
	o.compare = FTPAGENT_COMPARE_ALL;
	o.flags = FTPAGENT_TREE_DELETE | FTPAGENT_TREE_NEWER_ONLY |
	    FTPAGENT_TREE_NO_TIMES | FTPAGENT_TREE_PERMS |
	    FTPAGENT_TREE_NO_CONTINUE | FTPAGENT_TREE_MAX_DEPTH;
	o.include = inc;
	o.exclude = exc;
	o.max_depth = 0;
	o.parallel = 2;
	o.progress = on_tree_progress;
	o.item = on_tree_item;
	o.arg = &seen;
	id = ftpagent_send_tree(a, "s1", "/r/caf\xe9", rootfd, &o, on_reply,
	    &recs[0]);
	ck_assert_uint_ne(id, 0);
	flush();
	agent_req(&q, "transfer.tree", 0);
	rid = q.id;
	ck_assert_str_eq(param_str(&q, "session"), "s1");
	ck_assert_str_eq(param_str(&q, "direction"), "get");
	ck_assert_str_eq(param_str(&q, "path"), "/r/caf\xef\x9f\xa9");
	ck_assert_str_eq(param_str(&q, "compare"), "all");
	ck_assert(json_is_true(param(&q, "delete")));
	ck_assert(json_is_true(param(&q, "newer_only")));
	ck_assert(json_is_false(param(&q, "times")));
	ck_assert(json_is_true(param(&q, "perms")));
	ck_assert(json_is_false(param(&q, "continue")));
	ck_assert(json_is_true(param(&q, "items")));
	ck_assert(json_is_true(param(&q, "progress")));
	ck_assert(param(&q, "dry_run") == NULL);
	ck_assert_int_eq(json_integer_value(param(&q, "max_depth")), 0);
	ck_assert_int_eq(json_integer_value(param(&q, "parallel")), 2);
	ck_assert_uint_eq(json_array_size(param(&q, "include")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(param(&q,
	    "include"), 1)), "caf\xef\x9f\xa9*");
	ck_assert_str_eq(json_string_value(json_array_get(param(&q,
	    "exclude"), 0)), "tmp");
	req_clear(&q);

	agent_notify("job.progress", tree_job(NULL, "running", rid));
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"tree.item\",\"params\":"
	    "{\"job\":\"j1\",\"request\":%lld,\"action\":\"failed\",\"path\":"
	    "\"a/caf\\uf7e9\",\"size\":10,\"error\":{\"code\":-32000,"
	    "\"message\":\"550 no\",\"data\":{\"kind\":\"ftp\"}}}}\n",
	    (long long)rid);
	/* another request's items are not this tree's */
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"tree.item\",\"params\":"
	    "{\"job\":\"j7\",\"request\":%lld,\"action\":\"get\",\"path\":"
	    "\"zzz\"}}\n", (long long)rid + 50);
	ck_assert(drain());
	ck_assert_int_eq(seen.progress, 1);
	ck_assert_int_eq(seen.files, 1);
	ck_assert_int_eq(seen.files_total, 3);
	ck_assert_int_eq(seen.dirs, 2);
	ck_assert_int_eq(seen.skipped, 4);
	ck_assert(seen.walking);
	ck_assert_str_eq(seen.job, "j1");
	ck_assert_int_eq(seen.items, 1);
	ck_assert_str_eq(seen.action, "failed");
	ck_assert_str_eq(seen.path, "a/caf\xe9");
	ck_assert_int_eq(seen.size, 10);
	ck_assert_int_eq(seen.item_error, FTPAGENT_ERR_FTP);
	ck_assert_str_eq(seen.item_kind, "ftp");
	ck_assert_int_eq(recs[0].runs, 0);

	recs[0].leave = true;	/* the tree is taken below, not by on_reply */
	finish_tree("{\"files\":3,\"files_total\":3,\"dirs\":2,\"skipped\":4,"
	    "\"deleted\":1,\"failed\":0,\"walking\":false,\"dry_run\":false,"
	    "\"failures\":[]}");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
}
END_TEST

/* The callback takes the tree out of the reply. */
static struct ftpagent_tree taken;
static int taken_ok;

static void
on_tree_reply(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct ftpagent_tree again;

	on_reply(conn, r, arg);
	taken_ok = ftpagent_reply_take_tree(r, &taken);
	/* once only */
	ck_assert(!ftpagent_reply_take_tree(r, &again));
	ck_assert_ptr_null(again.job.id);
}

START_TEST(test_tree_outcome)
{
	struct req q;
	uint64_t id;

	id = start_tree_cb(NULL, on_tree_reply, &recs[0], &q);
	ck_assert_str_eq(param_str(&q, "direction"), "get");
	ck_assert(param(&q, "compare") == NULL);
	ck_assert(param(&q, "max_depth") == NULL);
	ck_assert(param(&q, "items") == NULL);
	req_clear(&q);
	finish_tree("{\"files\":3,\"files_total\":3,\"dirs\":2,\"skipped\":4,"
	    "\"deleted\":1,\"failed\":0,\"walking\":false,\"dry_run\":false,"
	    "\"failures\":[]}");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert(taken_ok);
	ck_assert_str_eq(taken.job.id, "j1");
	ck_assert_int_eq(taken.job.state, FTPAGENT_JOB_DONE);
	ck_assert_int_eq(taken.files, 3);
	ck_assert_int_eq(taken.deleted, 1);
	ck_assert_int_eq(taken.skipped, 4);
	ck_assert(!taken.walking);
	ftpagent_tree_clear(&taken);

	/* a failed tree: the error reply's data.job and its failures */
	id = start_tree_cb(NULL, on_tree_reply, &recs[1], &q);
	req_clear(&q);
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,"
	    "\"message\":\"x/y: 550 no\",\"data\":{\"kind\":\"ftp\","
	    "\"ftp_code\":550,\"ftp_text\":\"no\",\"job\":%s}},\"id\":%lld}\n",
	    tree_job("{\"files\":1,\"files_total\":2,\"failed\":1,"
	    "\"failures\":[{\"path\":\"x/caf\\uf7e9\",\"error\":{\"code\":"
	    "-32000,\"message\":\"550 no\",\"data\":{\"kind\":\"ftp\","
	    "\"ftp_code\":550,\"ftp_text\":\"no\"}}}]}", "failed", -1),
	    (long long)rid);
	ck_assert(drain());
	assert_done(&recs[1], id, FTPAGENT_ERR_FTP);
	ck_assert_int_eq(recs[1].ftp_code, 550);
	ck_assert(taken_ok);
	ck_assert_int_eq(taken.job.state, FTPAGENT_JOB_FAILED);
	ck_assert_int_eq(taken.failed, 1);
	ck_assert_uint_eq(taken.n_failures, 1);
	ck_assert_str_eq(taken.failures[0].path, "x/caf\xe9");
	ck_assert_int_eq(taken.failures[0].error, FTPAGENT_ERR_FTP);
	ck_assert_str_eq(taken.failures[0].error_kind, "ftp");
	ck_assert_int_eq(taken.failures[0].ftp_code, 550);
	ftpagent_tree_clear(&taken);
}
END_TEST

/* A progress callback that says stop cancels the tree's job. */
START_TEST(test_tree_progress_cancels)
{
	struct ftpagent_tree_opts o;
	struct seen seen;
	uint64_t id;

	memset(&seen, 0, sizeof(seen));
	memset(&o, 0, sizeof(o));
	seen.stop = true;
	o.progress = on_tree_progress;
	o.arg = &seen;
	id = start_tree(&o, &recs[0]);
	agent_notify("job.progress", tree_job(NULL, "running", rid));
	ck_assert(drain());
	ck_assert_int_eq(seen.progress, 1);
	agent_expect_job_cancel("j1");
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32008,"
	    "\"message\":\"cancelled\",\"data\":{\"kind\":\"cancelled\"}},"
	    "\"id\":%lld}\n", (long long)rid);
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
}
END_TEST

/* Bad arguments fail at once, nothing sent. */
START_TEST(test_tree_arguments)
{
	struct ftpagent_tree_opts o;
	int fd = temp_file(NULL);

	ck_assert_uint_eq(ftpagent_send_tree(a, "s1", "/r", fd, NULL,
	    on_reply, &recs[0]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	close(fd);
	ck_assert_uint_eq(ftpagent_send_tree(a, "s1", "/r", -1, NULL,
	    on_reply, &recs[0]), 0);
	ck_assert(ftpagent_clear_error(a));
	memset(&o, 0, sizeof(o));
	o.parallel = 17;
	ck_assert_uint_eq(ftpagent_send_tree(a, "s1", "/r", rootfd, &o,
	    on_reply, &recs[0]), 0);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_tree(a, NULL, "/r", rootfd, NULL,
	    on_reply, &recs[0]), 0);
	ck_assert(ftpagent_clear_error(a));
	agent_no_req(50);
	ck_assert_int_eq(recs[0].runs, 0);
}
END_TEST

/* ---- 6. the tree never times out while the agent is at work ------------- */

START_TEST(test_tree_inactivity_timeout)
{
	int64_t end;
	uint64_t id;

	ftpagent_set_timeout(a, 300);
	id = start_tree(NULL, &recs[0]);
	/* a second of progress and requests, no reply: no timeout */
	end = now_ms() + 1000;
	while (now_ms() < end) {
		poll(NULL, 0, 100);
		if (aseq % 2 == 0)
			agent_notify("job.progress", tree_job(NULL, "running",
			    rid));
		ask1("local.list", "\"path\":\"sub\"", 0);
		ck_assert(ftpagent_process(a, 0));
		ck_assert_int_eq(recs[0].runs, 0);
	}
	finish_tree("{\"files\":0}");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);

	/* silence: the timeout passes, and the job is cancelled */
	id = start_tree(NULL, &recs[1]);
	agent_notify("job.progress", tree_job(NULL, "running", rid));
	ck_assert(drain());
	ck_assert(run_until(&recs[1].runs, 1, 2000));
	assert_done(&recs[1], id, FTPAGENT_ERR_TIMEOUT);
	agent_expect_job_cancel("j1");
}
END_TEST

/* ---- 7. the blocking face serves the agent too -------------------------- */

#define send_line(fd, ...) do {					\
	if (!fake_printf((fd), __VA_ARGS__))				\
		_exit(10);						\
} while (0)

/* The forked agent: makes a directory and a file through the library,
 * then answers the tree. No Check calls in here. */
static void
blocking_tree_agent(int fd)
{
	struct req q, r;
	json_int_t id;

	if (!fake_recv_req(fd, &q, WAIT_MS) ||
	    strcmp(q.method, "transfer.tree") != 0)
		_exit(1);
	id = q.id;
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"local.mkdir\",\"params\":"
	    "{\"job\":\"j1\",\"request\":%lld,\"path\":\"made\"},\"id\":\"a1\"}\n",
	    (long long)id);
	if (!fake_recv_answer(fd, &r, WAIT_MS) ||
	    !json_is_object(json_object_get(r.msg, "result")))
		_exit(2);
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"local.open\",\"params\":"
	    "{\"job\":\"j1\",\"request\":%lld,\"path\":\"made/f\",\"write\":"
	    "true},\"id\":\"a2\"}\n", (long long)id);
	if (!fake_recv_answer(fd, &r, WAIT_MS) || r.nfds != 1 ||
	    write(r.fds[0], "xyz", 3) != 3)
		_exit(3);
	close(r.fds[0]);
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"local.commit\",\"params\":"
	    "{\"job\":\"j1\",\"request\":%lld,\"path\":\"made/f\",\"mtime\":"
	    "1500000000},\"id\":\"a3\"}\n", (long long)id);
	if (!fake_recv_answer(fd, &r, WAIT_MS) ||
	    !json_is_object(json_object_get(r.msg, "result")))
		_exit(4);
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"result\":{\"job\":\"j1\",\"state\":"
	    "\"done\",\"direction\":\"get\",\"session\":\"s1\",\"path\":\"/r\","
	    "\"bytes\":3,\"total\":3,\"tree\":{\"files\":1,\"files_total\":1,"
	    "\"dirs\":2}},\"id\":%lld}\n", (long long)id);
	(void)fake_recv_req(fd, &r, 10000);	/* until EOF */
	_exit(0);
}

START_TEST(test_blocking_tree)
{
	struct ftpagent_tree t;
	struct stat st;
	int status;
	bool ok;

	child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0)
		blocking_tree_agent(agent);
	close(agent);
	agent = -1;
	ok = ftpagent_tree(a, "s1", "/r", rootfd, NULL, &t);
	ck_assert_msg(ok, "tree: %s", ftpagent_error_message(a));
	ck_assert_str_eq(t.job.id, "j1");
	ck_assert_int_eq(t.files, 1);
	ck_assert_int_eq(t.dirs, 2);
	ftpagent_tree_clear(&t);
	ck_assert_str_eq(slurp("tree/made/f"), "xyz");
	ck_assert_int_eq(stat_at("tree/made/f", &st), 0);
	ck_assert_int_eq(st.st_mtime, 1500000000);
	ftpagent_free(a);
	a = NULL;
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	child = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the forked agent failed (%d)", WEXITSTATUS(status));
}
END_TEST

void
tree_call_tcases(Suite *s)
{
	TCase *tc = tcase_create("tree");

	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tree_params_progress_items);
	tcase_add_test(tc, test_tree_outcome);
	tcase_add_test(tc, test_tree_progress_cancels);
	tcase_add_test(tc, test_tree_arguments);
	tcase_add_test(tc, test_tree_inactivity_timeout);
	tcase_add_test(tc, test_blocking_tree);
	suite_add_tcase(s, tc);
}
