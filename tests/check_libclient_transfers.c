/*
 * libclient against tests/integ/fakeagent.py (libclient_fixture.h):
 * foreground transfers. get to a descriptor with its progress, get to
 * a file through NAME.part (resumed, restarted, replaced), put with
 * resume and append, a progress callback that cancels, and the
 * inactivity timeout that the agent's heartbeats restart.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <poll.h>
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

/* ---- transfers ----------------------------------------------------------- */

struct prog {
	int	 calls;
	int64_t	 last_bytes;
	int64_t	 last_total;
	int	 cancel_after;	/* 0: never */
	bool	 saw_foreign;
};

static bool
progress_cb(void *arg, int64_t bytes, int64_t total)
{
	struct prog *p = arg;

	p->calls++;
	if (bytes == 999999)
		p->saw_foreign = true;
	ck_assert_int_ge(bytes, p->last_bytes);
	p->last_bytes = bytes;
	p->last_total = total;
	return p->cancel_after == 0 || p->calls < p->cancel_after;
}

START_TEST(test_get_fd)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result r;
	struct prog pr;
	char path[400];
	json_t *h, *p;
	int fd;

	snprintf(path, sizeof(path), "%s/out", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	memset(&o, 0, sizeof(o));
	memset(&pr, 0, sizeof(pr));
	o.progress = progress_cb;
	o.progress_arg = &pr;
	o.ascii = true;
	ck_assert_msg(ftpagent_get_fd(a, "s1", "/file", fd, &o, &r), "%s",
	    ftpagent_error_message(a));
	close(fd);
	ck_assert_int_eq(r.bytes, FILE_SIZE);
	ck_assert_int_eq(r.total, FILE_SIZE);
	ck_assert(r.seconds >= 0);
	ck_assert_int_eq(pr.calls, 3);
	ck_assert(!pr.saw_foreign);
	ck_assert_int_eq(pr.last_bytes, FILE_SIZE);
	ck_assert_int_eq(pr.last_total, FILE_SIZE);
	assert_file_data(path, FILE_SIZE);

	p = last_params(a, &h);
	ck_assert(json_is_true(json_object_get(p, "progress")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "fd")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(p, "type")),
	    "ascii");
	ck_assert_ptr_null(json_object_get(p, "offset"));
	ck_assert_int_eq(json_integer_value(json_object_get(h, "nfds")), 1);
	json_decref(h);

	/* NULL opts and result */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert(ftpagent_get_fd(a, "s1", "/file", fd, NULL, NULL));
	close(fd);
	assert_file_data(path, FILE_SIZE);

	ck_assert(!ftpagent_get_fd(a, "s1", "/file", -1, NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_get_file_atomic)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result r;
	char local[400], part[410];
	struct stat st;
	json_t *h, *p;
	size_t len;
	char *buf;
	int fd;

	snprintf(local, sizeof(local), "%s/dl.bin", tmpdir);
	snprintf(part, sizeof(part), "%s.part", local);

	/* failure: the .part stays, nothing at local */
	ck_assert(!ftpagent_get_file(a, "s1", "/fail", local, NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_FTP);
	ck_assert_int_eq(ftpagent_ftp_code(a), 426);
	ck_assert_ptr_nonnull(strstr(ftpagent_error_data(a), "\"job\""));
	ck_assert_int_eq(stat(local, &st), -1);
	ck_assert_int_eq(stat(part, &st), 0);
	ck_assert_int_eq(st.st_size, 1000);
	ck_assert(ftpagent_clear_error(a));

	/* resume from the .part's size */
	memset(&o, 0, sizeof(o));
	o.offset = -1;
	ck_assert_msg(ftpagent_get_file(a, "s1", "/file", local, &o, &r),
	    "%s", ftpagent_error_message(a));
	ck_assert_int_eq(r.bytes, FILE_SIZE - 1000);
	p = last_params(a, &h);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")),
	    1000);
	ck_assert_ptr_null(json_object_get(p, "rest_fallback"));
	ck_assert_ptr_null(json_object_get(p, "type"));
	json_decref(h);
	ck_assert_int_eq(stat(part, &st), -1);
	assert_file_data(local, FILE_SIZE);

	/* rest_restart asks the agent to restart when REST is refused */
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	buf = calloc(1, 500);
	ck_assert_int_eq(write(fd, buf, 500), 500);
	free(buf);
	close(fd);
	o.rest_restart = true;
	ck_assert_msg(ftpagent_get_file(a, "s1", "/file", local, &o, &r),
	    "%s", ftpagent_error_message(a));
	p = last_params(a, &h);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")),
	    500);
	ck_assert_str_eq(json_string_value(json_object_get(p,
	    "rest_fallback")), "restart");
	json_decref(h);
	o.rest_restart = false;

	/* a fresh download truncates a stale, longer .part */
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	buf = calloc(1, 20000);
	ck_assert_int_eq(write(fd, buf, 20000), 20000);
	free(buf);
	close(fd);
	ck_assert(ftpagent_get_file(a, "s1", "/file", local, NULL, &r));
	ck_assert_int_eq(r.bytes, FILE_SIZE);
	assert_file_data(local, FILE_SIZE);
	ck_assert_int_eq(stat(part, &st), -1);

	/* the file mode honours the umask */
	umask(077);
	unlink(local);
	ck_assert(ftpagent_get_file(a, "s1", "/file", local, NULL, NULL));
	ck_assert_int_eq(stat(local, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	umask(022);

	/* unwritable destination: local_io, no request sent */
	ck_assert(!ftpagent_get_file(a, "s1", "/file", "/nonexistent/x",
	    NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_LOCAL_IO);
	ck_assert(ftpagent_clear_error(a));
	(void)len;
	ftpagent_free(a);
}
END_TEST

START_TEST(test_put_file)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result r;
	const char *text = "0123456789abcdefghijklmnopqrstuvwxyz"
	    "0123456789abcdefghijklmnopqrstuvwxyz"
	    "0123456789abcdefghijklmnopqrstuvwxyz1234567890";
	char local[400];
	json_t *h, *p;
	int fd;

	ck_assert_uint_eq(strlen(text), 118);
	snprintf(local, sizeof(local), "%s/up.txt", tmpdir);
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(write(fd, text, 118), 118);
	close(fd);

	ck_assert_msg(ftpagent_put_file(a, "s1", "/up.txt", local, NULL, &r),
	    "%s", ftpagent_error_message(a));
	ck_assert_int_eq(r.bytes, 118);
	ck_assert_int_eq(r.total, -1);
	h = last_request(a);
	ck_assert_str_eq(json_string_value(json_object_get(h, "received")),
	    text);
	json_decref(h);

	/* resume after the remote size (the fake says 100) */
	memset(&o, 0, sizeof(o));
	o.offset = -1;
	ck_assert(ftpagent_put_file(a, "s1", "/up.txt", local, &o, &r));
	ck_assert_int_eq(r.bytes, 18);
	h = last_request(a);
	p = json_object_get(h, "params");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")), 100);
	ck_assert_str_eq(json_string_value(json_object_get(h, "received")),
	    text + 100);
	json_decref(h);

	/* resume when the remote file does not exist: from 0, no error */
	ck_assert(ftpagent_put_file(a, "s1", "/up-missing", local, &o, &r));
	ck_assert_int_eq(r.bytes, 118);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* resume when stat fails otherwise: that error */
	ck_assert(!ftpagent_put_file(a, "s1", "/fail", local, &o, &r));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_FTP);
	ck_assert(ftpagent_clear_error(a));

	/* append */
	o.offset = 0;
	o.append = true;
	ck_assert(ftpagent_put_file(a, "s1", "/up.txt", local, &o, NULL));
	p = last_params(a, &h);
	ck_assert(json_is_true(json_object_get(p, "append")));
	ck_assert_ptr_null(json_object_get(p, "rest_fallback"));
	json_decref(h);

	/* ascii and rest_restart on a put */
	o.append = false;
	o.ascii = true;
	o.rest_restart = true;
	o.offset = 100;
	ck_assert(ftpagent_put_file(a, "s1", "/up.txt", local, &o, NULL));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "type")),
	    "ascii");
	ck_assert_str_eq(json_string_value(json_object_get(p,
	    "rest_fallback")), "restart");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "offset")), 100);
	ck_assert_ptr_null(json_object_get(p, "append"));
	json_decref(h);

	ck_assert(!ftpagent_put_file(a, "s1", "/x", "/nonexistent/file",
	    NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_LOCAL_IO);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_cancel)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_xfer_opts o;
	struct prog pr;
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/slow", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	memset(&o, 0, sizeof(o));
	memset(&pr, 0, sizeof(pr));
	pr.cancel_after = 3;
	o.progress = progress_cb;
	o.progress_arg = &pr;
	ck_assert(!ftpagent_get_fd(a, "s1", "/slow", fd, &o, NULL));
	close(fd);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_CANCELLED);
	ck_assert_str_eq(ftpagent_error_kind(a), "cancelled");
	ck_assert_int_eq(pr.calls, 3);
	ck_assert(ftpagent_clear_error(a));
	/* job.cancel's own reply has been skipped */
	assert_ping(a);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_inactivity_timeout)
{
	struct ftpagent *a = connect_fake();
	char path[400], *res = NULL;
	int64_t t0;
	int fd;

	snprintf(path, sizeof(path), "%s/hb", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	/* heartbeats every 200 ms for 1.6 s: a 500 ms timeout restarts */
	ftpagent_set_timeout(a, 500);
	t0 = now_ms();
	ck_assert_msg(ftpagent_get_fd(a, "s1", "/heartbeat", fd, NULL, NULL),
	    "%s", ftpagent_error_message(a));
	ck_assert_int_ge(now_ms() - t0, 1400);

	/* a stalled transfer times out and gets cancelled */
	ftpagent_set_timeout(a, 400);
	ck_assert(!ftpagent_get_fd(a, "s1", "/stall", fd, NULL, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_TIMEOUT);
	ck_assert(ftpagent_clear_error(a));
	close(fd);
	ftpagent_set_timeout(a, 0);	/* back to the default */
	poll(NULL, 0, 200);
	ck_assert(ftpagent_call(a, "test.cancelled", NULL, &res));
	ck_assert_msg(strstr(res, "\"j") != NULL, "not cancelled: %s", res);
	free(res);
	assert_ping(a);
	ftpagent_free(a);
}
END_TEST

void
libclient_transfers_tcases(Suite *s)
{
	TCase *tc = libclient_tcase(s, "transfers");

	tcase_add_test(tc, test_get_fd);
	tcase_add_test(tc, test_get_file_atomic);
	tcase_add_test(tc, test_put_file);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_inactivity_timeout);
}
