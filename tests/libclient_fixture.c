/*
 * The fixture of tests/check_libclient (libclient_fixture.h): a
 * directory of its own for each test, tests/integ/fakeagent.py started
 * on a socket in it, and what the tests ask of the fake and of the
 * files it wrote.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

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
#include "libclient_fixture.h"

char tmpdir[256];
char sockpath[300];
static pid_t fake_pid = -1;

const char *
python(void)
{
	const char *p = getenv("PYTHON3");

	return p != NULL && *p != '\0' ? p : "/usr/bin/python3";
}

const char *
fake_script(void)
{
	static char path[PATH_MAX];
	const char *src = getenv("FTPA_SRCDIR");

	snprintf(path, sizeof(path), "%s/tests/integ/fakeagent.py",
	    src != NULL && *src != '\0' ? src : ".");
	return path;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
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

pid_t
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

void
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

void
remove_tmpdir(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

void
setup(void)
{
	make_tmpdir();
	fake_pid = start_fake(sockpath);
}

void
teardown(void)
{
	stop_fake(fake_pid);
	fake_pid = -1;
	remove_tmpdir();
}

void
setup_nofake(void)
{
	make_tmpdir();
}

TCase *
libclient_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return tc;
}

struct ftpagent *
connect_fake(void)
{
	struct ftpagent *a = ftpagent_connect(sockpath);

	ck_assert_ptr_nonnull(a);
	ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "connect: %s",
	    ftpagent_error_message(a));
	return a;
}

void
assert_ping(struct ftpagent *a)
{
	char *res = NULL;

	ck_assert_msg(ftpagent_call(a, "agent.ping", NULL, &res), "ping: %s",
	    ftpagent_error_message(a));
	ck_assert_str_eq(res, "{}");
	free(res);
}

/* What the fake received last: {"method", "params", "nfds"[, "received"]}. */
json_t *
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

json_t *
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

void
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
