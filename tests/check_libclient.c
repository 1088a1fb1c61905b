/*
 * libftpagent against tests/integ/fakeagent.py, a scripted stand-in for
 * the daemon that speaks the real wire protocol (fds included) and
 * misbehaves on request: timeouts, hang-ups, garbage, out-of-order
 * replies, cancelled and failed transfers, background jobs and the
 * notifications of a subscription. The fixture is libclient_fixture.c.
 *
 * This file: the basics (connecting, the socket looked up, errors
 * sticky until cleared, timeouts, hang-ups and garbage, calls with
 * descriptors), autostart, and libclient_suite(), which adds the test
 * cases of check_libclient_fs.c (sessions and the file system),
 * check_libclient_transfers.c (foreground transfers) and
 * check_libclient_jobs.c (background jobs and events).
 */
#include <sys/types.h>
#include <sys/stat.h>
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

#include "ftpagent.h"
#include "libclient_fixture.h"
#include "check_libclient.h"

/* ---- basics ------------------------------------------------------------ */

START_TEST(test_version)
{
	ck_assert_ptr_nonnull(ftpagent_version());
	ck_assert_int_gt(strlen(ftpagent_version()), 0);
}
END_TEST

START_TEST(test_ping_and_info)
{
	struct ftpagent *a = connect_fake();
	char *res = NULL;

	ck_assert_str_eq(ftpagent_socket_path(a), sockpath);
	ck_assert_str_eq(ftpagent_error_message(a), "");
	assert_ping(a);
	ck_assert(ftpagent_call(a, "rpc.info", "{}", &res));
	ck_assert_ptr_nonnull(strstr(res, "\"protocol\":1"));
	free(res);
	/* a NULL result pointer is allowed */
	ck_assert(ftpagent_call(a, "agent.ping", NULL, NULL));
	ftpagent_free(a);
	ftpagent_free(NULL);
}
END_TEST

START_TEST(test_connect_fails)
{
	struct ftpagent *a = ftpagent_connect("/nonexistent/dir/agent.sock");

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ck_assert_str_eq(ftpagent_error_kind(a), "agent");
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a),
	    "/nonexistent/dir/agent.sock"));
	ck_assert(!ftpagent_clear_error(a));
	ck_assert(!ftpagent_call(a, "agent.ping", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_default_lookup)
{
	struct ftpagent *a;
	char xdgsock[400];
	pid_t pid;

	/* $FTPAGENT_SOCKET wins */
	setenv("FTPAGENT_SOCKET", sockpath, 1);
	a = ftpagent_connect(NULL);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_str_eq(ftpagent_socket_path(a), sockpath);
	assert_ping(a);
	ftpagent_free(a);

	/* then $XDG_RUNTIME_DIR/ftpd-agent.sock when it answers */
	unsetenv("FTPAGENT_SOCKET");
	setenv("XDG_RUNTIME_DIR", tmpdir, 1);
	snprintf(xdgsock, sizeof(xdgsock), "%s/ftpd-agent.sock", tmpdir);
	pid = start_fake(xdgsock);
	a = ftpagent_connect(NULL);
	ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "%s",
	    ftpagent_error_message(a));
	ck_assert_str_eq(ftpagent_socket_path(a), xdgsock);
	assert_ping(a);
	ftpagent_free(a);
	stop_fake(pid);
	unlink(xdgsock);
	unsetenv("XDG_RUNTIME_DIR");

	/* neither: the system socket (not running here) */
	if (!answers("/run/ftpd-agent/ftpd-agent.sock")) {
		a = ftpagent_connect(NULL);
		ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
		ck_assert_str_eq(ftpagent_socket_path(a),
		    "/run/ftpd-agent/ftpd-agent.sock");
		ftpagent_free(a);
	}
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(test_ftp_error_sticky)
{
	struct ftpagent *a = connect_fake();
	char *res = (char *)"untouched";

	ck_assert(!ftpagent_call(a, "test.ftp_error", "{}", &res));
	ck_assert_ptr_null(res);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_FTP);
	ck_assert_int_eq(ftpagent_ftp_code(a), 550);
	ck_assert_str_eq(ftpagent_error_kind(a), "ftp");
	ck_assert_str_eq(ftpagent_error_message(a), "550 Permission denied");
	ck_assert_ptr_nonnull(ftpagent_error_data(a));
	ck_assert_ptr_nonnull(strstr(ftpagent_error_data(a),
	    "\"ftp_code\":550"));

	/* sticky: nothing is sent while the error is set */
	ck_assert(!ftpagent_call(a, "agent.ping", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_FTP);
	ck_assert_int_eq(ftpagent_ftp_code(a), 550);

	ck_assert(ftpagent_clear_error(a));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_eq(ftpagent_ftp_code(a), 0);
	ck_assert_ptr_null(ftpagent_error_data(a));
	ck_assert_str_eq(ftpagent_error_message(a), "");
	assert_ping(a);
	/* the ping above was the first request the fake saw since */
	{
		json_t *j = last_request(a);

		ck_assert_str_eq(json_string_value(json_object_get(j,
		    "method")), "agent.ping");
		json_decref(j);
	}
	ftpagent_free(a);
}
END_TEST

START_TEST(test_rpc_error)
{
	struct ftpagent *a = connect_fake();

	ck_assert(!ftpagent_call(a, "no.such.method", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_RPC);
	ck_assert_str_eq(ftpagent_error_kind(a), "method");
	ck_assert(ftpagent_clear_error(a));

	ck_assert(!ftpagent_call(a, "agent.ping", "{\"x\":", NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_call(a, "agent.ping", "3", NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_call(a, NULL, NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_list(a, NULL, "/", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));

	ck_assert(ftpagent_call(a, "agent.ping", "[]", NULL));
	ftpagent_free(a);
}
END_TEST

START_TEST(test_timeout_and_late_reply)
{
	struct ftpagent *a = connect_fake();
	char *res = NULL;
	int64_t t0, el;

	ftpagent_set_timeout(a, 300);
	t0 = now_ms();
	ck_assert(!ftpagent_call(a, "test.never", NULL, NULL));
	el = now_ms() - t0;
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_TIMEOUT);
	ck_assert_str_eq(ftpagent_error_kind(a), "timeout");
	ck_assert_int_ge(el, 280);
	ck_assert_int_lt(el, 2000);
	ck_assert(ftpagent_clear_error(a));

	/* the reply to test.slow arrives after we gave up; the next call
	 * must skip it and get its own */
	ck_assert(!ftpagent_call(a, "test.slow", "{\"delay\":0.6}", NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_TIMEOUT);
	ck_assert(ftpagent_clear_error(a));
	poll(NULL, 0, 500);
	ftpagent_set_timeout(a, 5000);
	ck_assert(ftpagent_call(a, "test.echo", "{\"mine\":1}", &res));
	ck_assert_str_eq(res, "{\"mine\":1}");
	free(res);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_agent_closes)
{
	struct ftpagent *a = connect_fake();

	ck_assert(!ftpagent_call(a, "test.close", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ck_assert(!ftpagent_clear_error(a));
	ck_assert(!ftpagent_call(a, "agent.ping", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_no_sigpipe)
{
	struct ftpagent *a = connect_fake();

	/* SIGPIPE keeps its default action: without MSG_NOSIGNAL writing to
	 * the closed socket would kill us. */
	signal(SIGPIPE, SIG_DFL);
	ck_assert(ftpagent_call(a, "test.close_after_reply", NULL, NULL));
	poll(NULL, 0, 300);
	ck_assert(!ftpagent_call(a, "agent.ping", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_garbage)
{
	struct ftpagent *a = connect_fake();

	ck_assert(!ftpagent_call(a, "test.garbage", NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_out_of_order)
{
	struct ftpagent *a = connect_fake();
	char *res = NULL;

	ck_assert(ftpagent_call(a, "test.ooo", NULL, &res));
	ck_assert_str_eq(res, "{\"right\":true}");
	free(res);
	assert_ping(a);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_call_fds)
{
	struct ftpagent *a = connect_fake();
	int p1[2], p2[2], fds[5];
	char *res = NULL, c;

	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	fds[0] = p1[1];
	fds[1] = p2[1];
	ck_assert(ftpagent_call_fds(a, "test.fds", "{}", fds, 2, &res));
	ck_assert_str_eq(res, "{\"nfds\":2}");
	free(res);
	ck_assert_int_eq(read(p1[0], &c, 1), 1);
	ck_assert_int_eq(read(p2[0], &c, 1), 1);

	fds[2] = fds[3] = fds[4] = p1[1];
	ck_assert(!ftpagent_call_fds(a, "test.fds", "{}", fds, 5, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(ftpagent_call_fds(a, "test.fds", NULL, fds, 4, &res));
	ck_assert_str_eq(res, "{\"nfds\":4}");
	free(res);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	ftpagent_free(a);
}
END_TEST

/* ---- autostart ------------------------------------------------------------ */

START_TEST(test_autostart)
{
	struct ftpagent *a;
	int64_t t0;
	pid_t w;
	char wrapper[400];
	FILE *f;

	/* a wrapper, so that neither the script's mode nor its #! matter */
	snprintf(wrapper, sizeof(wrapper), "%s/ftpd-agent", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(wrapper, "w"));
	fprintf(f, "#!/bin/sh\nexec '%s' '%s' \"$@\"\n", python(),
	    fake_script());
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(wrapper, 0755), 0);
	setenv("FTPD_AGENT_BIN", wrapper, 1);
	/* the agent's log: not in the home of whoever runs the tests */
	setenv("XDG_STATE_HOME", tmpdir, 1);
	/* without the flag: no agent */
	a = ftpagent_connect_opts(sockpath, 0, 2000);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);

	t0 = now_ms();
	a = ftpagent_connect_opts(sockpath, FTPAGENT_AUTOSTART, 2000);
	ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "%s",
	    ftpagent_error_message(a));
	ck_assert_int_lt(now_ms() - t0, 4000);
	assert_ping(a);
	/* the agent is not our child: no zombie, nothing to reap */
	w = waitpid(-1, NULL, WNOHANG);
	ck_assert_int_eq(w, -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert(ftpagent_call(a, "test.shutdown", NULL, NULL));
	ftpagent_free(a);
	t0 = now_ms();
	while (answers(sockpath) && now_ms() - t0 < 5000)
		poll(NULL, 0, 50);
	ck_assert(!answers(sockpath));

	/* found through $PATH */
	{
		char *oldpath = strdup(getenv("PATH") ? getenv("PATH") : "");

		unsetenv("FTPD_AGENT_BIN");
		setenv("PATH", tmpdir, 1);
		a = ftpagent_connect_opts(sockpath, FTPAGENT_AUTOSTART, 2000);
		setenv("PATH", oldpath, 1);
		free(oldpath);
		ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "%s",
		    ftpagent_error_message(a));
		ck_assert(ftpagent_call(a, "test.shutdown", NULL, NULL));
		ftpagent_free(a);
		t0 = now_ms();
		while (answers(sockpath) && now_ms() - t0 < 5000)
			poll(NULL, 0, 50);
	}

	/* the system socket is never autostarted */
	if (!answers("/run/ftpd-agent/ftpd-agent.sock")) {
		a = ftpagent_connect_opts("/run/ftpd-agent/ftpd-agent.sock",
		    FTPAGENT_AUTOSTART, 1000);
		ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
		ftpagent_free(a);
	}

	/* no binary: a clear error */
	setenv("FTPD_AGENT_BIN", "/nonexistent/ftpd-agent", 1);
	a = ftpagent_connect_opts(sockpath, FTPAGENT_AUTOSTART, 1000);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a),
	    "/nonexistent/ftpd-agent --user -S "));
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a),
	    "could not be run: No such file or directory"));
	ftpagent_free(a);
	unsetenv("FTPD_AGENT_BIN");
}
END_TEST

/* An agent that fails to start: said at once, with its status and the
 * end of its log, and no child left behind. */
START_TEST(test_autostart_failure)
{
	struct ftpagent *a;
	char script[400], log[400];
	const char *msg;
	int64_t t0;
	FILE *f;

	snprintf(script, sizeof(script), "%s/failing-agent", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(script, "w"));
	fprintf(f, "#!/bin/sh\necho \"first line\" >&2\n"
	    "echo \"cannot frobnicate: it broke\" >&2\nexit 3\n");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(script, 0755), 0);
	setenv("FTPD_AGENT_BIN", script, 1);
	setenv("XDG_STATE_HOME", tmpdir, 1);
	snprintf(log, sizeof(log), "%s/ftpd-agent/agent.log", tmpdir);
	t0 = now_ms();
	a = ftpagent_connect_opts(sockpath, FTPAGENT_AUTOSTART, 5000);
	ck_assert_int_lt(now_ms() - t0, 2500);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	msg = ftpagent_error_message(a);
	ck_assert_ptr_nonnull(strstr(msg, script));
	ck_assert_ptr_nonnull(strstr(msg, "exited with status 3"));
	ck_assert_ptr_nonnull(strstr(msg, log));
	ck_assert_ptr_nonnull(strstr(msg, "\n  first line\n  cannot "
	    "frobnicate: it broke"));
	ftpagent_free(a);
	/* the library's own child was reaped */
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	unsetenv("FTPD_AGENT_BIN");
	unsetenv("XDG_STATE_HOME");
}
END_TEST

Suite *
libclient_suite(void)
{
	Suite *s = suite_create("libclient");
	TCase *tc;

	tc = libclient_tcase(s, "basics");
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_ping_and_info);
	tcase_add_test(tc, test_connect_fails);
	tcase_add_test(tc, test_default_lookup);
	tcase_add_test(tc, test_ftp_error_sticky);
	tcase_add_test(tc, test_rpc_error);
	tcase_add_test(tc, test_timeout_and_late_reply);
	tcase_add_test(tc, test_agent_closes);
	tcase_add_test(tc, test_no_sigpipe);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_call_fds);

	libclient_fs_tcases(s);
	libclient_transfers_tcases(s);
	libclient_jobs_tcases(s);

	tc = tcase_create("autostart");
	tcase_add_checked_fixture(tc, setup_nofake, remove_tmpdir);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_autostart);
	tcase_add_test(tc, test_autostart_failure);
	suite_add_tcase(s, tc);
	return s;
}
