/*
 * libclient against tests/integ/fakeagent.py (libclient_fixture.h):
 * sessions and the remote file system. What session.open carries (the
 * CA file as a descriptor the library opened, never as a path), the
 * entries of fs.list and fs.stat, and the params of mkdir, remove,
 * rmdir, rename, chmod, set_mtime and ftp.quote, with their errors.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
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

void
libclient_fs_tcases(Suite *s)
{
	TCase *tc = libclient_tcase(s, "fs");

	tcase_add_test(tc, test_open);
	tcase_add_test(tc, test_open_ca_fd);
	tcase_add_test(tc, test_list_stat);
	tcase_add_test(tc, test_fs_ops);
}
