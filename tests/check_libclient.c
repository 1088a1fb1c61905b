/*
 * libftpagent against tests/integ/fakeagent.py, a scripted stand-in for
 * the daemon that speaks the real wire protocol (fds included) and
 * misbehaves on request: timeouts, hang-ups, garbage, out-of-order
 * replies, cancelled and failed transfers, background jobs and the
 * notifications of a subscription.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "ftpagent.h"

Suite *libclient_suite(void);

#define FILE_SIZE	10240		/* fakeagent's "/file" */

static char tmpdir[256];
static char sockpath[300];
static pid_t fake_pid = -1;

static const char *
python(void)
{
	const char *p = getenv("PYTHON3");

	return p != NULL && *p != '\0' ? p : "/usr/bin/python3";
}

static const char *
fake_script(void)
{
	static char path[PATH_MAX];
	const char *src = getenv("FTPA_SRCDIR");

	snprintf(path, sizeof(path), "%s/tests/integ/fakeagent.py",
	    src != NULL && *src != '\0' ? src : ".");
	return path;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
answers(const char *path)
{
	struct sockaddr_un sun;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return false;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return r == 0;
}

static pid_t
start_fake(const char *path)
{
	int64_t deadline;
	pid_t pid;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		execl(python(), python(), fake_script(), "-S", path,
		    (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + 10000;
	while (!answers(path)) {
		ck_assert_msg(now_ms() < deadline, "fakeagent did not start "
		    "(%s %s)", python(), fake_script());
		ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
		poll(NULL, 0, 20);
	}
	return pid;
}

static void
stop_fake(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_libclient.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sockpath, sizeof(sockpath), "%s/agent.sock", tmpdir);
}

static void
remove_tmpdir(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void
setup(void)
{
	make_tmpdir();
	fake_pid = start_fake(sockpath);
}

static void
teardown(void)
{
	stop_fake(fake_pid);
	fake_pid = -1;
	remove_tmpdir();
}

static void
setup_nofake(void)
{
	make_tmpdir();
}

static struct ftpagent *
connect_fake(void)
{
	struct ftpagent *a = ftpagent_connect(sockpath);

	ck_assert_ptr_nonnull(a);
	ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "connect: %s",
	    ftpagent_error_message(a));
	return a;
}

static void
assert_ping(struct ftpagent *a)
{
	char *res = NULL;

	ck_assert_msg(ftpagent_call(a, "agent.ping", NULL, &res), "ping: %s",
	    ftpagent_error_message(a));
	ck_assert_str_eq(res, "{}");
	free(res);
}

/* What the fake received last: {"method", "params", "nfds"[, "received"]}. */
static json_t *
last_request(struct ftpagent *a)
{
	char *res = NULL;
	json_t *j;

	ck_assert_msg(ftpagent_call(a, "test.last_params", NULL, &res),
	    "%s", ftpagent_error_message(a));
	j = json_loads(res, 0, NULL);
	free(res);
	ck_assert_ptr_nonnull(j);
	return j;
}

static json_t *
last_params(struct ftpagent *a, json_t **holder)
{
	*holder = last_request(a);
	return json_object_get(*holder, "params");
}

static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void
assert_file_data(const char *path, size_t expect_len)
{
	size_t len, i;
	char *buf = read_file(path, &len);

	ck_assert_msg(buf != NULL, "%s missing", path);
	ck_assert_uint_eq(len, expect_len);
	for (i = 0; i < len; i++)
		ck_assert_int_eq((unsigned char)buf[i], i % 256);
	free(buf);
}

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

/* ---- sessions and file system ------------------------------------------- */

START_TEST(test_open)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_open_opts o;
	json_t *h, *p;
	char *sid = NULL;

	ck_assert(ftpagent_open(a, "ftp://bob@example.org/", NULL, &sid));
	ck_assert_str_eq(sid, "s1");
	free(sid);
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "url")),
	    "ftp://bob@example.org/");
	ck_assert_int_eq(json_object_size(p), 1);
	json_decref(h);

	memset(&o, 0, sizeof(o));
	o.list_tz = "+02:00";
	ck_assert(ftpagent_open(a, "ftp://bob@example.org/", &o, &sid));
	free(sid);
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "list_tz")),
	    "+02:00");
	ck_assert_int_eq(json_object_size(p), 2);
	json_decref(h);

	memset(&o, 0, sizeof(o));
	o.name = "work";
	o.password = "s3cret";
	o.tls = FTPAGENT_TLS_EXPLICIT;
	o.insecure = true;
	o.active = true;
	o.max_connections = 3;
	o.reuse = true;
	ck_assert(ftpagent_open(a, "ftp://bob@example.org/", &o, &sid));
	ck_assert_str_eq(sid, "work");
	free(sid);
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "work");
	ck_assert_str_eq(json_string_value(json_object_get(p, "password")),
	    "s3cret");
	ck_assert_str_eq(json_string_value(json_object_get(p, "tls")),
	    "explicit");
	ck_assert(json_is_false(json_object_get(p, "verify")));
	ck_assert(json_is_false(json_object_get(p, "passive")));
	ck_assert(json_is_true(json_object_get(p, "reuse")));
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "max_connections")), 3);
	json_decref(h);

	ck_assert(!ftpagent_open(a, "ftp://badauth:s3cret@example.org/", &o,
	    &sid));
	ck_assert_ptr_null(sid);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AUTH);
	ck_assert_int_eq(ftpagent_ftp_code(a), 530);
	ck_assert_ptr_null(strstr(ftpagent_error_message(a), "s3cret"));
	ck_assert(ftpagent_clear_error(a));

	o.tls = (enum ftpagent_tls)42;
	ck_assert(!ftpagent_open(a, "ftp://h/", &o, &sid));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));

	ck_assert(ftpagent_close(a, "work"));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(p, "session")),
	    "work");
	json_decref(h);
	ftpagent_free(a);
}
END_TEST

/* The CA file travels as a descriptor the library opened (ca_fd), never
 * as a path the agent would open with its own rights. */
START_TEST(test_open_ca_fd)
{
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
	    "-----END CERTIFICATE-----\n";
	struct ftpagent *a = connect_fake();
	struct ftpagent_open_opts o;
	char ca[400], dir[400], *sid = NULL;
	json_t *h, *p;
	int fd;

	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	fd = open(ca, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	close(fd);

	memset(&o, 0, sizeof(o));
	o.name = "sec";
	o.tls = FTPAGENT_TLS_EXPLICIT;
	o.ca_file = ca;
	ck_assert_msg(ftpagent_open(a, "ftpes://bob@example.org/", &o, &sid),
	    "%s", ftpagent_error_message(a));
	ck_assert_str_eq(sid, "sec");
	free(sid);
	h = last_request(a);
	p = json_object_get(h, "params");
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "session.open");
	ck_assert_ptr_null(json_object_get(p, "ca_file"));
	ck_assert(json_is_integer(json_object_get(p, "ca_fd")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "ca_fd")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(h, "nfds")), 1);
	/* the descriptor is the file: the fake read it */
	ck_assert_str_eq(json_string_value(json_object_get(h, "ca_data")),
	    pem);
	json_decref(h);

	/* a relative path is the caller's, not the agent's */
	ck_assert_int_eq(chdir(tmpdir), 0);
	o.ca_file = "ca.pem";
	ck_assert_msg(ftpagent_open(a, "ftpes://bob@example.org/", &o, &sid),
	    "%s", ftpagent_error_message(a));
	free(sid);
	h = last_request(a);
	ck_assert_str_eq(json_string_value(json_object_get(h, "ca_data")),
	    pem);
	json_decref(h);

	/* not a regular file, or not there: a local error naming the path,
	 * and nothing sent (the fake's last request is still the open
	 * above: ftpagent_close would show) */
	ck_assert(ftpagent_close(a, "sec"));
	snprintf(dir, sizeof(dir), "%s/cadir", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	o.ca_file = dir;
	ck_assert(!ftpagent_open(a, "ftpes://bob@example.org/", &o, &sid));
	ck_assert_ptr_null(sid);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_LOCAL_IO);
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a), dir));
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a),
	    "not a regular file"));
	ck_assert(ftpagent_clear_error(a));
	o.ca_file = "/dev/null";
	ck_assert(!ftpagent_open(a, "ftpes://bob@example.org/", &o, &sid));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_LOCAL_IO);
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a), "/dev/null"));
	ck_assert(ftpagent_clear_error(a));
	o.ca_file = "/nonexistent/ca.pem";
	ck_assert(!ftpagent_open(a, "ftpes://bob@example.org/", &o, &sid));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_LOCAL_IO);
	ck_assert_ptr_nonnull(strstr(ftpagent_error_message(a),
	    "/nonexistent/ca.pem"));
	ck_assert(ftpagent_clear_error(a));
	h = last_request(a);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "session.close");
	json_decref(h);
	ftpagent_free(a);
}
END_TEST

START_TEST(test_list_stat)
{
	struct ftpagent *a = connect_fake();
	struct ftpagent_entry *es = NULL, e;
	size_t n = 0;

	ck_assert(ftpagent_list(a, "s1", NULL, &es, &n));
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(es[0].name, "a.txt");
	ck_assert_int_eq(es[0].type, FTPAGENT_FILE);
	ck_assert_int_eq(es[0].size, 12);
	ck_assert_int_eq(es[0].mtime, 1700000000);
	ck_assert_int_eq(es[0].perm, 0644);
	ck_assert_ptr_null(es[0].target);
	ck_assert_int_eq(es[1].type, FTPAGENT_DIR);
	ck_assert_int_eq(es[1].size, -1);
	ck_assert(es[1].mtime == INT64_MIN);
	ck_assert_int_eq(es[1].perm, -1);
	ck_assert_int_eq(es[2].type, FTPAGENT_LINK);
	ck_assert_str_eq(es[2].target, "a.txt");
	ck_assert_int_eq(es[3].type, FTPAGENT_OTHER);
	ck_assert_int_eq(es[3].size, -1);
	ck_assert_ptr_null(es[3].raw);
	/* an unparsed line: type other, with the line as the server sent it */
	ck_assert_str_eq(es[4].name, "weird");
	ck_assert_int_eq(es[4].type, FTPAGENT_OTHER);
	ck_assert_ptr_null(es[4].target);
	ck_assert_str_eq(es[4].raw, "?????????? weird line");
	ck_assert_ptr_null(es[0].raw);
	ftpagent_entries_free(es, n);

	ck_assert(ftpagent_stat(a, "s1", "/dir/x.bin", &e));
	ck_assert_str_eq(e.name, "x.bin");
	ck_assert_int_eq(e.size, 100);
	ck_assert(e.mtime == INT64_MIN);
	ftpagent_entry_clear(&e);
	ftpagent_entry_clear(&e);

	ck_assert(!ftpagent_stat(a, "s1", "/missing", &e));
	ck_assert_ptr_null(e.name);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_NOT_FOUND);
	ck_assert_int_eq(ftpagent_ftp_code(a), 550);
	ck_assert_str_eq(ftpagent_error_kind(a), "not_found");
	ck_assert(ftpagent_clear_error(a));
	ftpagent_free(a);
}
END_TEST

START_TEST(test_fs_ops)
{
	struct ftpagent *a = connect_fake();
	json_t *h, *p;
	char *text = NULL;
	int code = 0;

	ck_assert(ftpagent_mkdir(a, "s1", "/a/b", true));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.mkdir");
	ck_assert_str_eq(json_string_value(json_object_get(p, "session")),
	    "s1");
	ck_assert(json_is_true(json_object_get(p, "parents")));
	ck_assert_str_eq(json_string_value(json_object_get(p, "path")), "/a/b");
	ck_assert_int_eq(json_object_size(p), 3);
	json_decref(h);
	ck_assert(ftpagent_mkdir(a, "s1", "c", false));
	p = last_params(a, &h);
	ck_assert(json_is_false(json_object_get(p, "parents")));
	json_decref(h);

	ck_assert(ftpagent_remove(a, "s1", "/a", false));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.remove");
	ck_assert(json_is_false(json_object_get(p, "recursive")));
	ck_assert_str_eq(json_string_value(json_object_get(p, "path")), "/a");
	json_decref(h);
	ck_assert(ftpagent_remove(a, "s1", "/a", true));
	p = last_params(a, &h);
	ck_assert(json_is_true(json_object_get(p, "recursive")));
	json_decref(h);

	ck_assert(ftpagent_rmdir(a, "s1", "/a"));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.rmdir");
	ck_assert_str_eq(json_string_value(json_object_get(p, "path")), "/a");
	ck_assert_int_eq(json_object_size(p), 2);
	json_decref(h);

	ck_assert(ftpagent_rename(a, "s1", "/x", "/y"));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.rename");
	ck_assert_str_eq(json_string_value(json_object_get(p, "from")), "/x");
	ck_assert_str_eq(json_string_value(json_object_get(p, "to")), "/y");
	ck_assert_int_eq(json_object_size(p), 3);
	json_decref(h);

	ck_assert(ftpagent_chmod(a, "s1", "/x", 0644));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.chmod");
	ck_assert_str_eq(json_string_value(json_object_get(p, "path")), "/x");
	ck_assert(json_is_integer(json_object_get(p, "mode")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "mode")), 420);
	json_decref(h);
	ck_assert(ftpagent_chmod(a, "s1", "/x", 04755));
	p = last_params(a, &h);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "mode")), 04755);
	json_decref(h);
	ck_assert(!ftpagent_chmod(a, "s1", "/x", 010000));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_chmod(a, "s1", "/x", -1));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));

	ck_assert(ftpagent_set_mtime(a, "s1", "/x", INT64_C(1700000000)));
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "fs.set_mtime");
	ck_assert_str_eq(json_string_value(json_object_get(p, "path")), "/x");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "mtime")),
	    1700000000);
	json_decref(h);
	/* beyond 32 bits */
	ck_assert(ftpagent_set_mtime(a, "s1", "/x", INT64_C(4102444800)));
	p = last_params(a, &h);
	ck_assert(json_integer_value(json_object_get(p, "mtime")) ==
	    INT64_C(4102444800));
	json_decref(h);

	/* not_found from the fs methods */
	ck_assert(!ftpagent_chmod(a, "s1", "/missing", 0600));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_NOT_FOUND);
	ck_assert_int_eq(ftpagent_ftp_code(a), 550);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_rename(a, "s1", "/missing", "/y"));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_NOT_FOUND);
	ck_assert(ftpagent_clear_error(a));
	ck_assert(!ftpagent_set_mtime(a, NULL, "/x", 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));

	ck_assert(ftpagent_quote(a, "s1", "PWD", &code, &text));
	ck_assert_int_eq(code, 257);
	ck_assert_str_eq(text, "\"/home\"");
	free(text);
	p = last_params(a, &h);
	ck_assert_str_eq(json_string_value(json_object_get(h, "method")),
	    "ftp.quote");
	ck_assert_str_eq(json_string_value(json_object_get(p, "command")),
	    "PWD");
	json_decref(h);
	ck_assert(ftpagent_quote(a, "s1", "PWD", &code, NULL));
	/* a refusal is a result, not an error */
	ck_assert(ftpagent_quote(a, "s1", "BOGUS", &code, NULL));
	ck_assert_int_eq(code, 500);
	ck_assert(!ftpagent_quote(a, "s1", "LIST", &code, NULL));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_RPC);
	ck_assert_str_eq(ftpagent_error_kind(a), "params");
	ck_assert(ftpagent_clear_error(a));
	ftpagent_free(a);
}
END_TEST

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

	tc = tcase_create("basics");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
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
	suite_add_tcase(s, tc);

	tc = tcase_create("fs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open);
	tcase_add_test(tc, test_open_ca_fd);
	tcase_add_test(tc, test_list_stat);
	tcase_add_test(tc, test_fs_ops);
	suite_add_tcase(s, tc);

	tc = tcase_create("transfers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_get_fd);
	tcase_add_test(tc, test_get_file_atomic);
	tcase_add_test(tc, test_put_file);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_inactivity_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_background_get);
	tcase_add_test(tc, test_background_put);
	tcase_add_test(tc, test_job_wait_cancel_fail);
	tcase_add_test(tc, test_subscribe_follow);
	tcase_add_test(tc, test_events_during_calls);
	tcase_add_test(tc, test_events_bounded);
	tcase_add_test(tc, test_next_event_waits);
	tcase_add_test(tc, test_subscribe_old_agent);
	suite_add_tcase(s, tc);

	tc = tcase_create("autostart");
	tcase_add_checked_fixture(tc, setup_nofake, remove_tmpdir);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_autostart);
	tcase_add_test(tc, test_autostart_failure);
	suite_add_tcase(s, tc);
	return s;
}
