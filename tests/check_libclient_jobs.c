/*
 * libclient against tests/integ/fakeagent.py (libclient_fixture.h):
 * background jobs and events. Downloads and uploads left to the agent,
 * job.status, job.list, job.wait (with a timeout, without one, on a
 * cancelled or failed job), and a subscription's events: followed from
 * another connection, kept while calls wait, bounded, waited for, and
 * refused by an agent that has none.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdbool.h>
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

/* ---- jobs and events ------------------------------------------------------ */

/* Starts a background download of path into tmpdir/name; returns the id. */
static char *
start_bg_get(struct ftpagent *a, const char *path, const char *name)
{
	char local[400], *job = NULL;
	int fd;

	snprintf(local, sizeof(local), "%s/%s", tmpdir, name);
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(ftpagent_get_fd_background(a, "s1", path, fd, NULL,
	    &job), "%s", ftpagent_error_message(a));
	/* the agent has its own copy */
	close(fd);
	ck_assert_ptr_nonnull(job);
	return job;
}

START_TEST(test_background_get)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_job j, *js = NULL;
	char local[400], *job, *res = NULL;
	json_t *h, *p;
	size_t n = 0, i;
	bool found = false;

	job = start_bg_get(a, "/file", "bg.bin");
	ck_assert_int_eq(job[0], 'j');
	p = last_params(a, &h);
	ck_assert(json_is_false(json_object_get(p, "wait")));
	ck_assert_ptr_null(json_object_get(p, "progress"));
	ck_assert_int_eq(json_integer_value(json_object_get(h, "nfds")), 1);
	json_decref(h);

	ck_assert_msg(ftpagent_job_wait(a, job, 5000, &j), "%s",
	    ftpagent_error_message(a));
	ck_assert_str_eq(j.id, job);
	ck_assert_int_eq(j.state, FTPAGENT_JOB_DONE);
	ck_assert_str_eq(ftpagent_job_state_name(j.state), "done");
	ck_assert_int_eq(j.direction, FTPAGENT_XFER_GET);
	ck_assert_str_eq(j.session, "s1");
	ck_assert_str_eq(j.path, "/file");
	ck_assert_int_eq(j.bytes, FILE_SIZE);
	ck_assert_int_eq(j.total, FILE_SIZE);
	ck_assert_int_eq(j.attempts, 1);
	ck_assert(j.started > 1e9);
	ck_assert(j.ended >= j.started);
	ck_assert(j.eta < 0);
	ck_assert_int_eq(j.error, FTPAGENT_OK);
	ck_assert_ptr_null(j.error_kind);
	ftpagent_job_clear(&j);
	ftpagent_job_clear(&j);
	snprintf(local, sizeof(local), "%s/bg.bin", tmpdir);
	assert_file_data(local, FILE_SIZE);

	ck_assert(ftpagent_job_status(a, job, &j));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_DONE);
	ftpagent_job_clear(&j);

	ck_assert(ftpagent_job_list(a, &js, &n));
	for (i = 0; i < n; i++)
		if (strcmp(js[i].id, job) == 0)
			found = js[i].state == FTPAGENT_JOB_DONE;
	ck_assert(found);
	ftpagent_jobs_free(js, n);

	/* the NULL job pointer is the caller's mistake */
	ck_assert(!ftpagent_get_fd_background(a, "s1", "/file", 1, NULL,
	    NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_job_status(a, "j99999", &j));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_NO_JOB);
	ck_assert_ptr_null(j.id);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(ftpagent_call(a, "agent.ping", NULL, &res));
	free(res);
	free(job);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_background_put)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_xfer_opts o;
	struct ftpagent_job j;
	char local[400], *job = NULL, buf[5000];
	json_t *h, *p;
	int fd;

	snprintf(local, sizeof(local), "%s/up.bin", tmpdir);
	memset(buf, 'u', sizeof(buf));
	fd = open(local, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	memset(&o, 0, sizeof(o));
	o.offset = 1000;
	ck_assert_msg(ftpagent_put_fd_background(a, "s1", "/up.bin", fd, &o,
	    &job), "%s", ftpagent_error_message(a));
	close(fd);
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "transfer.put");
	ck_assert(json_is_false(json_object_get(p, "wait")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")), 1000);
	json_decref(h);
	ck_assert(ftpagent_job_wait(a, job, 5000, &j));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_DONE);
	ck_assert_int_eq(j.direction, FTPAGENT_XFER_PUT);
	ck_assert_int_eq(j.bytes, 4000);
	ck_assert_int_eq(j.total, -1);
	ftpagent_job_clear(&j);
	free(job);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_job_wait_cancel_fail)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_job j;
	char *job;
	int64_t t0;

	/* not ended in time: a timeout error, the job runs on */
	job = start_bg_get(a, "/slow", "slow.bin");
	t0 = now_ms();
	ck_assert(!ftpagent_job_wait(a, job, 300, &j));
	ck_assert_int_ge(now_ms() - t0, 250);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_TIMEOUT);
	ck_assert_ptr_null(j.id);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(ftpagent_job_status(a, job, &j));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_RUNNING);
	ck_assert_int_eq(j.total, -1);
	ftpagent_job_clear(&j);

	/* a cancelled job is a result of job.wait, not an error */
	ck_assert(ftpagent_job_cancel(a, job));
	ck_assert(ftpagent_job_wait(a, job, 5000, &j));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_CANCELLED);
	ck_assert_int_eq(j.error, FTPAGENT_ERR_CANCELLED);
	ck_assert_str_eq(j.error_kind, "cancelled");
	ftpagent_job_clear(&j);
	free(job);
	ck_assert(!ftpagent_job_cancel(a, "nope"));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_NO_JOB);
	ck_assert(ftpagent_clear_error(a));

	/* a failed one too, with the server's reply */
	job = start_bg_get(a, "/fail", "fail.bin");
	ck_assert(ftpagent_job_wait(a, job, 5000, &j));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_FAILED);
	ck_assert_int_eq(j.error, FTPAGENT_ERR_FTP);
	ck_assert_int_eq(j.ftp_code, 426);
	ck_assert_str_eq(j.error_kind, "ftp");
	ck_assert_str_eq(j.error_message, "426 Connection closed");
	ck_assert_int_eq(j.bytes, 1000);
	ftpagent_job_clear(&j);
	free(job);

	/* no timeout: on through the agent's timeouts (a 1 s job, 450 ms
	 * slices, each with as much again for the reply: room for a loaded
	 * machine) until the end */
	job = start_bg_get(a, "/second", "second.bin");
	ftpagent_set_timeout(a, 450);
	ck_assert_msg(ftpagent_job_wait(a, job, 0, &j), "%s",
	    ftpagent_error_message(a));
	ck_assert_int_eq(j.state, FTPAGENT_JOB_DONE);
	ck_assert_int_eq(j.bytes, FILE_SIZE);
	ftpagent_job_clear(&j);
	free(job);
	ftpagent_free(a);
}
END_TEST

/* The next event, which must come within 5 s. */
static void
next_event(struct ftpagent *a, struct ftpagent_event *ev)
{
	ck_assert_msg(ftpagent_next_event(a, ev, 5000), "no event: %s",
	    ftpagent_error_message(a));
}

START_TEST(test_subscribe_follow)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent *b = connect_fake();
	struct ftpagent_event ev;
	char *job;
	json_t *h, *p;
	int64_t last = 0;
	int progress = 0;

	ck_assert(ftpagent_subscribe(a, NULL));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "jobs")), "all");
	json_decref(h);

	/* started by another connection; followed by events alone */
	job = start_bg_get(b, "/file", "follow.bin");
	for (;;) {
		next_event(a, &ev);
		ck_assert_str_eq(ev.job.id, job);
		if (ev.type == FTPAGENT_EVENT_JOB_FINISHED)
			break;
		ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
		ck_assert_int_ge(ev.job.bytes, last);
		last = ev.job.bytes;
		progress++;
		ftpagent_event_clear(&ev);
	}
	ck_assert_int_gt(progress, 1);
	ck_assert_int_eq(last, FILE_SIZE);
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_DONE);
	ck_assert_int_eq(ev.job.bytes, FILE_SIZE);
	ftpagent_event_clear(&ev);
	ftpagent_event_clear(&ev);
	free(job);

	/* nothing more: false, and no error */
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_NONE);

	/* a subscription to named jobs */
	ck_assert(ftpagent_subscribe(b, (const char *const[]){ "j7", "j8",
	    NULL }));
	p = last_params(b, &h);
	ck_assert_int_eq(json_array_size(json_object_get(p, "jobs")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p,
	    "jobs"), 1)), "j8");
	json_decref(h);
	ftpagent_free(b);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_events_during_calls)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_event ev;
	char path[400], *res = NULL;
	int fd;

	ck_assert(ftpagent_subscribe(a, NULL));
	/* seven notifications come before the reply: none is taken for it,
	 * and they are kept */
	ck_assert(ftpagent_call(a, "test.notify_then_reply", NULL, &res));
	ck_assert_str_eq(res, "{\"replied\":true}");
	free(res);
	assert_ping(a);

	/* j90's three progress states: only the latest, where the first
	 * stood */
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(ev.job.id, "j90");
	ck_assert_int_eq(ev.job.bytes, 3);
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_RUNNING);
	ftpagent_event_clear(&ev);
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(ev.session, "s1");
	ck_assert_str_eq(ev.state, "busy");
	ck_assert_int_eq(ev.connections, 2);
	ck_assert_int_eq(ev.busy, 1);
	ftpagent_event_clear(&ev);
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(ev.job.id, "j90");
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_DONE);
	ftpagent_event_clear(&ev);
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(ev.job.id, "j91");
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_QUEUED);
	ck_assert_int_eq(ev.job.direction, FTPAGENT_XFER_PUT);
	ftpagent_event_clear(&ev);
	/* the unknown kind is skipped */
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* a foreground transfer's own progress still reaches its callback,
	 * and the subscriber keeps what came meanwhile, foreign job too */
	snprintf(path, sizeof(path), "%s/fg", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(ftpagent_get_fd(a, "s1", "/file", fd, NULL, NULL));
	close(fd);
	next_event(a, &ev);
	ck_assert_str_eq(ev.job.id, "other");
	ftpagent_event_clear(&ev);
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_int_eq(ev.job.bytes, FILE_SIZE);
	ftpagent_event_clear(&ev);
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ftpagent_free(a);
}
END_TEST

START_TEST(test_events_bounded)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_event ev;
	int n = 0;

	ck_assert(ftpagent_subscribe(a, NULL));
	/* 5000 jobs' progress and a session's state while a call waits:
	 * at most 4096 are kept, the oldest progress goes first */
	ck_assert(ftpagent_call(a, "test.flood", "{\"n\":5000}", NULL));
	next_event(a, &ev);
	ck_assert_str_eq(ev.job.id, "f905");
	n++;
	ftpagent_event_clear(&ev);
	while (ftpagent_next_event(a, &ev, 0)) {
		n++;
		if (ev.type == FTPAGENT_EVENT_SESSION_STATE)
			break;
		ftpagent_event_clear(&ev);
	}
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(ev.state, "ready");
	ck_assert_int_eq(ev.connections, -1);
	ftpagent_event_clear(&ev);
	ck_assert_int_eq(n, 4096);
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ftpagent_free(a);
}
END_TEST

START_TEST(test_next_event_waits)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_event ev;
	int64_t t0;

	ck_assert(ftpagent_subscribe(a, NULL));
	t0 = now_ms();
	ck_assert(!ftpagent_next_event(a, &ev, 200));
	ck_assert_int_ge(now_ms() - t0, 190);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* a reply that comes after its call gave up is skipped; the event
	 * after it is read from the socket */
	ftpagent_set_timeout(a, 200);
	ck_assert(!ftpagent_call(a, "test.slow", "{\"delay\":0.4}", NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_TIMEOUT);
	ck_assert(ftpagent_clear_error(a));
	ftpagent_set_timeout(a, 5000);
	ck_assert(ftpagent_call(a, "test.notify_later", "{\"delay\":0.8}",
	    NULL));
	next_event(a, &ev);
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(ev.session, "later");
	ftpagent_event_clear(&ev);

	/* the agent hangs up: an error, not a timeout */
	ck_assert(!ftpagent_call(a, "test.close", NULL, NULL));
	ck_assert(!ftpagent_next_event(a, &ev, 100));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_subscribe_old_agent)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_event ev;

	ck_assert(ftpagent_call(a, "test.no_events", NULL, NULL));
	ck_assert(!ftpagent_subscribe(a, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_RPC);
	ck_assert_str_eq(ftpagent_error_kind(a), "method");
	ck_assert(ftpagent_clear_error(a));
	/* not subscribed: notifications during calls are not kept */
	ck_assert(ftpagent_call(a, "test.notify_then_reply", NULL, NULL));
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ftpagent_free(a);
}
END_TEST

void
libclient_jobs_tcases(Suite *s)
{
	TCase *tc = libclient_tcase(s, "jobs");

	tcase_add_test(tc, test_background_get);
	tcase_add_test(tc, test_background_put);
	tcase_add_test(tc, test_job_wait_cancel_fail);
	tcase_add_test(tc, test_subscribe_follow);
	tcase_add_test(tc, test_events_during_calls);
	tcase_add_test(tc, test_events_bounded);
	tcase_add_test(tc, test_next_event_waits);
	tcase_add_test(tc, test_subscribe_old_agent);
}
