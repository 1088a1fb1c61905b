/*
 * Trees in the background (ftpagent_tree_background) against a fake
 * agent forked on a Unix socket of its own: the follower opens the
 * second connection, starts the tree there, hands the job id back,
 * serves the tree's local side, and closes its connection (it has
 * exited) when the tree ends or the agent stays silent; an error before
 * the job is the call's; a connection without a socket path cannot.
 */
#include <config.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "check_tree.h"

enum bg_script {
	BG_TREE,		/* progress, a local.list, the reply */
	BG_SILENT,		/* progress, then nothing */
	BG_REFUSE,		/* an error reply: no_session */
};

#define send_line(fd, ...) do {					\
	if (!fake_printf((fd), __VA_ARGS__))				\
		_exit(10);						\
} while (0)

/* The follower's connection has closed within ms (EOF), after what it
 * sent last (a job.cancel of a tree given up). */
static bool
closed_within(int fd, int ms)
{
	int64_t end = now_ms() + ms;
	struct req r;

	while (now_ms() < end)
		if (!fake_recv_req(fd, &r, (int)(end - now_ms())))
			return strstr(r.why, "EOF") != NULL;
	return false;
}

/* The forked agent on listening socket ls: the caller's connection,
 * then the follower's, which it plays script on. No Check calls. */
static void __attribute__((noreturn))
bg_agent(int ls, enum bg_script script)
{
	struct req q, r;
	json_int_t id;
	int caller, fd;

	if ((caller = accept(ls, NULL, NULL)) == -1 ||
	    (fd = accept(ls, NULL, NULL)) == -1)
		_exit(1);
	if (!fake_recv_req(fd, &q, WAIT_MS) ||
	    strcmp(q.method, "transfer.tree") != 0 ||
	    json_integer_value(json_object_get(q.params, "max_depth")) != 0 ||
	    !json_is_true(json_object_get(q.params, "progress")) ||
	    json_object_get(q.params, "items") != NULL)
		_exit(2);
	id = q.id;
	if (script == BG_REFUSE) {
		send_line(fd, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32009,"
		    "\"message\":\"no session s1\",\"data\":{\"kind\":"
		    "\"no_session\"}},\"id\":%lld}\n", (long long)id);
		_exit(closed_within(fd, WAIT_MS) ? 0 : 3);
	}
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"job.progress\","
	    "\"params\":{\"job\":\"j7\",\"request\":%lld,\"state\":\"running\","
	    "\"direction\":\"get\",\"session\":\"s1\",\"path\":\"/r\","
	    "\"bytes\":0,\"total\":0,\"tree\":{\"walking\":true}}}\n",
	    (long long)id);
	if (script == BG_SILENT)	/* the follower's timeout is 1 s */
		_exit(closed_within(fd, 4000) ? 0 : 4);
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"local.list\",\"params\":"
	    "{\"job\":\"j7\",\"request\":%lld,\"path\":\"sub\"},\"id\":\"a1\"}\n",
	    (long long)id);
	if (!fake_recv_answer(fd, &r, WAIT_MS) || json_array_size(
	    json_object_get(json_object_get(r.msg, "result"), "entries")) != 1)
		_exit(5);
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"result\":{\"job\":\"j7\",\"state\":"
	    "\"done\",\"direction\":\"get\",\"session\":\"s1\",\"path\":\"/r\","
	    "\"bytes\":0,\"total\":0,\"tree\":{\"files\":0}},\"id\":%lld}\n",
	    (long long)id);
	_exit(closed_within(fd, WAIT_MS) ? 0 : 6);
	(void)caller;
}

/* A listening socket at TMP's bg.sock, the fake agent forked on it
 * playing script, and a connection of the caller's to it (timeout_ms). */
static struct ftpagent *
bg_start(enum bg_script script, int timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ftpagent *ca;
	int ls;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "/tmp/check_tree_bg.%d",
	    (int)getpid());
	unlink(sun.sun_path);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ls, 0);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0)
		bg_agent(ls, script);
	close(ls);
	ca = ftpagent_connect_opts(sun.sun_path, 0, timeout_ms);
	ck_assert_ptr_nonnull(ca);
	ck_assert_msg(ftpagent_error(ca) == FTPAGENT_OK, "connect: %s",
	    ftpagent_error_message(ca));
	return ca;
}

/* The fake agent ended well; no other child of ours is left over (the
 * follower's parent has been waited for). */
static void
bg_end(struct ftpagent *ca)
{
	int status;
	pid_t p;

	unlink(ftpagent_socket_path(ca));
	p = waitpid(-1, &status, WNOHANG);
	ck_assert_msg(p == 0 || p == child, "a child %d left over", (int)p);
	if (p == 0)
		ck_assert_int_eq(waitpid(child, &status, 0), child);
	child = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the fake agent failed (%d)", WEXITSTATUS(status));
	ftpagent_free(ca);
}

static const struct ftpagent_tree_opts bg_opts = {
	.flags = FTPAGENT_TREE_MAX_DEPTH | FTPAGENT_TREE_ITEMS,
	.max_depth = 0,
};

START_TEST(test_tree_background)
{
	struct ftpagent *ca = bg_start(BG_TREE, WAIT_MS);
	char *job = NULL;

	ck_assert_msg(ftpagent_tree_background(ca, "s1", "/r", rootfd,
	    &bg_opts, &job), "tree_background: %s", ftpagent_error_message(ca));
	ck_assert_str_eq(job, "j7");
	free(job);
	/* the caller's own connection goes on */
	ck_assert_int_eq(ftpagent_error(ca), FTPAGENT_OK);
	bg_end(ca);
}
END_TEST

/* An agent that goes silent: the follower gives up after the timeout. */
START_TEST(test_tree_background_silent)
{
	struct ftpagent *ca = bg_start(BG_SILENT, 1000);
	char *job = NULL;

	ck_assert(ftpagent_tree_background(ca, "s1", "/r", rootfd, &bg_opts,
	    &job));
	ck_assert_str_eq(job, "j7");
	free(job);
	bg_end(ca);
}
END_TEST

START_TEST(test_tree_background_refused)
{
	struct ftpagent *ca = bg_start(BG_REFUSE, WAIT_MS);
	char *job = (char *)"x";

	ck_assert(!ftpagent_tree_background(ca, "s1", "/r", rootfd, &bg_opts,
	    &job));
	ck_assert_ptr_null(job);
	ck_assert_int_eq(ftpagent_error(ca), FTPAGENT_ERR_NO_SESSION);
	ck_assert_str_eq(ftpagent_error_kind(ca), "no_session");
	ck_assert_str_eq(ftpagent_error_message(ca), "no session s1");
	bg_end(ca);
}
END_TEST

/* Without a socket path there is no second connection to make. */
START_TEST(test_tree_background_args)
{
	char *job = (char *)"x";

	ck_assert(!ftpagent_tree_background(a, "s1", "/r", rootfd, NULL,
	    &job));
	ck_assert_ptr_null(job);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_tree_background(a, "s1", "/r", -1, NULL, &job));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_tree_background(a, "s1", "/r", rootfd, NULL,
	    NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
}
END_TEST

void
tree_bg_tcases(Suite *s)
{
	TCase *tc = tcase_create("background");

	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tree_background);
	tcase_add_test(tc, test_tree_background_silent);
	tcase_add_test(tc, test_tree_background_refused);
	tcase_add_test(tc, test_tree_background_args);
	suite_add_tcase(s, tc);
}
