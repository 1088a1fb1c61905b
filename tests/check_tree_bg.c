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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
	BG_CANCEL,		/* progress, then a job.cancel of either
				   connection */
	BG_CANCEL_LATE,		/* progress, then the caller's job.cancel */
};

#define send_line(fd, ...) do {					\
	if (!fake_printf((fd), __VA_ARGS__)) {				\
		fprintf(stderr, "fake agent, line %d: %s\n", __LINE__,	\
		    strerror(errno));					\
		_exit(10);						\
	}								\
} while (0)

/* The connection has closed within ms, after what it sent last (a
 * job.cancel of a tree given up): EOF, or a reset when it closed with
 * an answer of ours unread (the caller's to its job.cancel). */
static bool
closed_within(int fd, int ms)
{
	int64_t end = now_ms() + ms;
	struct req r;

	while (now_ms() < end)
		if (!fake_recv_req(fd, &r, (int)(end - now_ms()))) {
			if (strstr(r.why, "EOF") != NULL ||
			    strstr(r.why, strerror(ECONNRESET)) != NULL)
				return true;
			break;
		}
	fprintf(stderr, "fake agent: connection %d not closed: %s\n", fd,
	    now_ms() < end ? r.why : "in time");
	return false;
}

/* Which of two connections sends a job.cancel of j7 first (answered), or
 * -1 when none does within WAIT_MS. One that closes meanwhile (a caller
 * that has nothing to send) is left to the other. */
static int
cancel_from(int one, int two)
{
	struct pollfd p[2] = { { .fd = one, .events = POLLIN },
	    { .fd = two, .events = POLLIN } };
	int64_t end = now_ms() + WAIT_MS;
	struct req r;
	int i, fd;

	while (now_ms() < end) {
		if (poll(p, 2, (int)(end - now_ms())) <= 0)
			return -1;
		i = p[0].revents ? 0 : 1;
		fd = p[i].fd;
		if (!fake_recv_req(fd, &r, WAIT_MS)) {
			if (strstr(r.why, "EOF") == NULL)
				return -1;
			p[i].fd = -1;	/* closed: poll ignores it now */
			continue;
		}
		if (strcmp(r.method, "job.cancel") != 0 ||
		    !json_is_string(json_object_get(r.params, "job")) ||
		    strcmp(json_string_value(json_object_get(r.params,
		    "job")), "j7") != 0)
			return -1;
		/* answered, though nobody waits for it: a caller may be
		 * gone */
		(void)fake_printf(fd, "{\"jsonrpc\":\"2.0\",\"result\":{},"
		    "\"id\":%lld}\n", (long long)r.id);
		return fd;
	}
	return -1;
}

/* The forked agent on listening socket ls: the caller's connection,
 * then the follower's, which it plays script on, then it waits for the
 * caller to close its connection (whose calls may look at it until they
 * end). No Check calls. */
static void __attribute__((noreturn))
bg_agent(int ls, enum bg_script script)
{
	struct req q, r;
	json_int_t id;
	int caller, fd, from;

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
		_exit(closed_within(fd, WAIT_MS) && closed_within(caller,
		    WAIT_MS) ? 0 : 3);
	}
	send_line(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"job.progress\","
	    "\"params\":{\"job\":\"j7\",\"request\":%lld,\"state\":\"running\","
	    "\"direction\":\"get\",\"session\":\"s1\",\"path\":\"/r\","
	    "\"bytes\":0,\"total\":0,\"tree\":{\"walking\":true}}}\n",
	    (long long)id);
	if (script == BG_CANCEL || script == BG_CANCEL_LATE) {
		/* the caller gave up: the follower cancels the tree when it
		 * finds nobody to tell the id, the caller when the id had
		 * come already */
		if ((from = cancel_from(fd, caller)) == -1)
			_exit(7);
		if (script == BG_CANCEL_LATE && from != caller)
			_exit(9);
		send_line(fd, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32008,"
		    "\"message\":\"cancelled\",\"data\":{\"kind\":"
		    "\"cancelled\"}},\"id\":%lld}\n", (long long)id);
		_exit(closed_within(fd, WAIT_MS) && closed_within(caller,
		    WAIT_MS) ? 0 : 8);
	}
	if (script == BG_SILENT)	/* the follower's timeout is 1 s */
		_exit(closed_within(fd, 4000) && closed_within(caller,
		    WAIT_MS) ? 0 : 4);
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
	_exit(closed_within(fd, WAIT_MS) && closed_within(caller, WAIT_MS) ?
	    0 : 6);
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
	ftpagent_free(ca);	/* the fake agent waits for that */
	p = waitpid(-1, &status, WNOHANG);
	ck_assert_msg(p == 0 || p == child, "a child %d left over", (int)p);
	if (p == 0)
		ck_assert_int_eq(waitpid(child, &status, 0), child);
	child = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the fake agent failed (%d)", WEXITSTATUS(status));
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

/* What the callback of ftpagent_send_tree_background heard. */
struct bg_rec {
	bool		 done;
	enum ftpagent_error error;
	char		*job;
	char		 kind[32];
};

static void
bg_cb(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct bg_rec *rec = arg;

	(void)fa;
	rec->done = true;
	rec->error = r->error;
	rec->job = r->job_id;
	r->job_id = NULL;
	snprintf(rec->kind, sizeof(rec->kind), "%s", r->error_kind);
}

/* The send form's start: the call pending, no callback yet. */
static uint64_t
bg_send(struct ftpagent *ca, struct bg_rec *rec)
{
	uint64_t id;

	id = ftpagent_send_tree_background(ca, "s1", "/r", rootfd, &bg_opts,
	    bg_cb, rec);
	ck_assert_msg(id != 0, "%s", ftpagent_error_message(ca));
	ck_assert(!rec->done);
	ck_assert_int_eq(ftpagent_pending(ca), 1);
	return id;
}

/* The caller's event loop, in short: poll() on what the connection asks
 * for, until the callback has run; the longest wait it was told to take
 * while it waited into *longest_ms. */
static void
bg_drive(struct ftpagent *ca, struct bg_rec *rec, int *longest_ms)
{
	int64_t end = now_ms() + WAIT_MS;
	struct pollfd p;
	int t;

	*longest_ms = -1;
	while (!rec->done && now_ms() < end) {
		t = ftpagent_timeout(ca);
		ck_assert_int_ge(t, 0);		/* never "no deadline" */
		if (t > *longest_ms)
			*longest_ms = t;
		p.fd = ftpagent_fd(ca);
		p.events = POLLIN | (ftpagent_events(ca) & FTPAGENT_WRITE ?
		    POLLOUT : 0);
		(void)poll(&p, 1, t);
		(void)ftpagent_process(ca, (p.revents & (POLLIN | POLLHUP) ?
		    FTPAGENT_READ : 0) | (p.revents & POLLOUT ? FTPAGENT_WRITE :
		    0));
	}
	ck_assert(rec->done);
}

/* The non-blocking form: the send returns at once (the call pending, no
 * callback yet); the loop is asked to wake every few milliseconds, never
 * to wait for the agent; the callback has the job id, and the caller's
 * connection is as it was. */
START_TEST(test_send_tree_background)
{
	struct ftpagent *ca = bg_start(BG_TREE, WAIT_MS);
	struct bg_rec rec = { 0 };
	int longest;

	(void)bg_send(ca, &rec);
	bg_drive(ca, &rec, &longest);
	ck_assert_int_eq(rec.error, FTPAGENT_OK);
	ck_assert_str_eq(rec.job, "j7");
	ck_assert_int_le(longest, 5);
	ck_assert_int_eq(ftpagent_pending(ca), 0);
	ck_assert_int_eq(ftpagent_timeout(ca), -1);
	ck_assert_int_eq(ftpagent_error(ca), FTPAGENT_OK);
	free(rec.job);
	bg_end(ca);
}
END_TEST

/* Refused by the agent: the callback has the agent's error; the caller's
 * connection keeps no sticky error (a callback's outcome is its own). */
START_TEST(test_send_tree_background_refused)
{
	struct ftpagent *ca = bg_start(BG_REFUSE, WAIT_MS);
	struct bg_rec rec = { 0 };
	int longest;

	(void)bg_send(ca, &rec);
	bg_drive(ca, &rec, &longest);
	ck_assert_int_eq(rec.error, FTPAGENT_ERR_NO_SESSION);
	ck_assert_str_eq(rec.kind, "no_session");
	ck_assert_ptr_null(rec.job);
	ck_assert_int_eq(ftpagent_error(ca), FTPAGENT_OK);
	bg_end(ca);
}
END_TEST

/* Cancelled at once: the callback says so, and the tree is cancelled at
 * the agent (the fake agent checks the job.cancel): by the follower when
 * it finds nobody to tell the id, or, when it had told it already, by
 * the caller's connection. */
START_TEST(test_send_tree_background_cancel)
{
	struct ftpagent *ca = bg_start(BG_CANCEL, WAIT_MS);
	struct bg_rec rec = { 0 };
	uint64_t id;

	id = bg_send(ca, &rec);
	ck_assert(ftpagent_cancel(ca, id));
	ck_assert(rec.done);
	ck_assert_int_eq(rec.error, FTPAGENT_ERR_CANCELLED);
	ck_assert_int_eq(ftpagent_pending(ca), 0);
	bg_end(ca);
}
END_TEST

/* Cancelled once the follower has told the id (it waits in the socket,
 * unread): the caller's connection cancels the tree. */
START_TEST(test_send_tree_background_cancel_late)
{
	struct ftpagent *ca = bg_start(BG_CANCEL_LATE, WAIT_MS);
	struct bg_rec rec = { 0 };
	uint64_t id;

	id = bg_send(ca, &rec);
	poll(NULL, 0, 1000);	/* the follower reports within this */
	ck_assert(!rec.done);
	ck_assert(ftpagent_cancel(ca, id));
	ck_assert_int_eq(rec.error, FTPAGENT_ERR_CANCELLED);
	/* the job.cancel goes out on the next drive */
	while (ftpagent_events(ca) & FTPAGENT_WRITE)
		(void)ftpagent_process(ca, FTPAGENT_WRITE);
	bg_end(ca);
}
END_TEST

/* The connection freed once the follower has told the id, with the call
 * in flight: the call ends cancelled, and so does the tree (the
 * job.cancel goes out before the connection closes). */
START_TEST(test_send_tree_background_free_late)
{
	struct ftpagent *ca = bg_start(BG_CANCEL_LATE, WAIT_MS);
	struct bg_rec rec = { 0 };

	(void)bg_send(ca, &rec);
	poll(NULL, 0, 1000);	/* the follower reports within this */
	ck_assert(!rec.done);
	bg_end(ca);
	ck_assert(rec.done);
	ck_assert_int_eq(rec.error, FTPAGENT_ERR_CANCELLED);
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
	tcase_add_test(tc, test_send_tree_background);
	tcase_add_test(tc, test_send_tree_background_refused);
	tcase_add_test(tc, test_send_tree_background_cancel);
	tcase_add_test(tc, test_send_tree_background_cancel_late);
	tcase_add_test(tc, test_send_tree_background_free_late);
	suite_add_tcase(s, tc);
}
