/* Unit tests for daemon/conf.c: ftpd-agent.conf parsing. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>

#include "conf.h"
#include "log.h"

Suite *conf_suite(void);

static char errbuf[512];

static int
parse(struct agent_conf *c, const char *text)
{
	conf_defaults(c);
	errbuf[0] = '\0';
	return conf_parse(c, "test.conf", text, strlen(text), errbuf,
	    sizeof(errbuf));
}

START_TEST(test_defaults)
{
	struct agent_conf c;

	conf_defaults(&c);
	ck_assert_int_eq(c.max_connections, 4);
	ck_assert(c.keepalive == 60 && c.idle_timeout == 300);
	ck_assert_int_eq(c.retries, 3);
	ck_assert(c.job_retention == 600);
	ck_assert_int_eq(c.tls_min_version, 12);
	ck_assert_int_eq(c.socket_mode, -1);
	ck_assert_ptr_null(c.socket);
	ck_assert_int_eq(c.log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(c.max_message, 1024 * 1024);
}
END_TEST

/* Every key, with a value other than its default. */
START_TEST(test_every_key)
{
	struct agent_conf c;
	const char *text =
	    "# a comment\n"
	    "\n"
	    "socket = /run/x/agent.sock\n"
	    "socket_mode = 0640   # trailing comment\n"
	    "socket_group=ftpusers\n"
	    "max_message = 65536\n"
	    "max_clients = 10\n"
	    "max_clients_per_uid = 5\n"
	    "max_sessions = 20\n"
	    "max_sessions_per_uid = 7\n"
	    "max_jobs = 30\n"
	    "max_jobs_per_uid = 9\n"
	    "max_connections = 8\n"
	    "connect_timeout = 5\n"
	    "reply_timeout = 6.5\n"
	    "data_timeout = 7\n"
	    "keepalive = 0\n"
	    "idle_timeout = 0\n"
	    "retries = 0\n"
	    "retry_delay = 0.25\n"
	    "ca_file = /etc/ssl/corp.pem\n"
	    "tls_min_version = 1.3\n"
	    "job_retention = 3600\n"
	    "\tlog_level\t=\tdebug\t\n";

	ck_assert_msg(parse(&c, text) == 0, "%s", errbuf);
	ck_assert_str_eq(c.socket, "/run/x/agent.sock");
	ck_assert_int_eq(c.socket_mode, 0640);
	ck_assert_str_eq(c.socket_group, "ftpusers");
	ck_assert_uint_eq(c.max_message, 65536);
	ck_assert_uint_eq(c.max_clients, 10);
	ck_assert_uint_eq(c.max_clients_per_uid, 5);
	ck_assert_uint_eq(c.max_sessions, 20);
	ck_assert_uint_eq(c.max_sessions_per_uid, 7);
	ck_assert_uint_eq(c.max_jobs, 30);
	ck_assert_uint_eq(c.max_jobs_per_uid, 9);
	ck_assert_int_eq(c.max_connections, 8);
	ck_assert(c.connect_timeout == 5 && c.reply_timeout == 6.5 &&
	    c.data_timeout == 7);
	ck_assert(c.keepalive == 0 && c.idle_timeout == 0);
	ck_assert_int_eq(c.retries, 0);
	ck_assert(c.retry_delay == 0.25);
	ck_assert_str_eq(c.ca_file, "/etc/ssl/corp.pem");
	ck_assert_int_eq(c.tls_min_version, 13);
	ck_assert(c.job_retention == 3600);
	ck_assert_int_eq(c.log_level, LOG_LVL_DEBUG);
	conf_free(&c);
}
END_TEST

/* Bad files: the error names the file and the line. */
START_TEST(test_errors)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "frobnicate = 1\n", "test.conf:1: unknown key \"frobnicate\"" },
		{ "\n\nretries 3\n", "test.conf:3: expected \"key = value\"" },
		{ "retries = three\n", "test.conf:1: retries must be a number" },
		{ "retries = 2.5\n", "test.conf:1: retries must be a whole number" },
		{ "retries = 101\n", "test.conf:1: retries must be between 0 and 100" },
		{ "max_connections = 0\n", "test.conf:1: max_connections must be between 1 and 16" },
		{ "keepalive = -1\n", "test.conf:1: keepalive must be between" },
		{ "reply_timeout = 0\n", "test.conf:1: reply_timeout must be between" },
		{ "reply_timeout = nan\n", "test.conf:1: reply_timeout must be a number" },
		{ "job_retention = 1e400\n", "test.conf:1: job_retention must be a number" },
		{ "socket = relative.sock\n", "test.conf:1: socket must be an absolute path" },
		{ "socket_mode = 999\n", "test.conf:1: socket_mode must be octal" },
		{ "socket_mode = -1\n", "test.conf:1: socket_mode must be octal" },
		{ "socket_group =\n", "test.conf:1: socket_group is empty" },
		{ "tls_min_version = 1.1\n", "test.conf:1: tls_min_version must be 1.2 or 1.3" },
		{ "log_level = loud\n", "test.conf:1: log_level must be error" },
		{ "max_message = 100\n", "test.conf:1: max_message must be between 4096" },
		{ "retries = 1\n = 2\n", "test.conf:2: unknown key \"\"" },
	};
	struct agent_conf c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(&c, bad[i].text) == -1, "accepted: %s",
		    bad[i].text);
		ck_assert_msg(strncmp(errbuf, bad[i].want, strlen(bad[i].want))
		    == 0, "%s: got \"%s\", want \"%s...\"", bad[i].text, errbuf,
		    bad[i].want);
		conf_free(&c);
	}
}
END_TEST

START_TEST(test_later_lines_win_and_no_newline)
{
	struct agent_conf c;

	ck_assert(parse(&c, "retries = 1\r\nretries = 2") == 0);
	ck_assert_int_eq(c.retries, 2);
	conf_free(&c);
}
END_TEST

START_TEST(test_load_file)
{
	struct agent_conf c;
	char path[] = "/tmp/check_conf.XXXXXX";
	const char *text = "max_jobs = 12\n";
	int fd = mkstemp(path);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	ck_assert_int_eq(conf_load(&c, path, true, errbuf, sizeof(errbuf)), 0);
	ck_assert_uint_eq(c.max_jobs, 12);
	conf_free(&c);
	unlink(path);
	/* missing: fine unless it must exist */
	ck_assert_int_eq(conf_load(&c, path, false, errbuf, sizeof(errbuf)), 0);
	ck_assert_uint_eq(c.max_jobs, 10000);
	ck_assert_int_eq(conf_load(&c, path, true, errbuf, sizeof(errbuf)), -1);
	ck_assert_ptr_nonnull(strstr(errbuf, "No such file"));
	/* a directory is not a configuration file */
	ck_assert_int_eq(conf_load(&c, "/tmp", true, errbuf, sizeof(errbuf)), -1);
}
END_TEST

START_TEST(test_restart_keys)
{
	struct agent_conf cur, next, again;
	char keys[256];

	ck_assert(parse(&cur, "socket = /a.sock\nretries = 1\n") == 0);
	ck_assert(parse(&next, "socket = /b.sock\nretries = 2\n"
	    "socket_mode = 0600\n") == 0);
	conf_keep_restart_keys(&next, &cur, keys, sizeof(keys));
	ck_assert_str_eq(keys, "socket, socket_mode");
	/* the socket keys keep what is in use; the others take the file's */
	ck_assert_str_eq(next.socket, "/a.sock");
	ck_assert_ptr_null(cur.socket);
	ck_assert_int_eq(next.socket_mode, -1);
	ck_assert_int_eq(next.retries, 2);
	/* nothing changed: nothing named */
	ck_assert(parse(&again, "socket = /a.sock\nretries = 3\n") == 0);
	conf_keep_restart_keys(&again, &next, keys, sizeof(keys));
	ck_assert_str_eq(keys, "");
	ck_assert_str_eq(again.socket, "/a.sock");
	conf_free(&cur);
	conf_free(&next);
	conf_free(&again);
}
END_TEST

/* What main.c does at start and on SIGHUP: the settings in force change
 * through conf_install, and a reload keeps the socket keys. */
START_TEST(test_install)
{
	struct agent_conf c;
	char keys[256];

	ck_assert(parse(&c, "socket = /a.sock\nretries = 1\n") == 0);
	conf_install(&c);
	ck_assert_ptr_null(c.socket);
	ck_assert_str_eq(conf_current()->socket, "/a.sock");
	ck_assert_int_eq(conf_current()->retries, 1);
	ck_assert(parse(&c, "socket = /b.sock\nretries = 2\n") == 0);
	conf_install_reload(&c, keys, sizeof(keys));
	ck_assert_str_eq(keys, "socket");
	ck_assert_str_eq(conf_current()->socket, "/a.sock");
	ck_assert_int_eq(conf_current()->retries, 2);
	conf_install(NULL);
	ck_assert_ptr_null(conf_current()->socket);
}
END_TEST

/* session.open's options come from the key table, in the order
 * session.open checks them, with the values in force as defaults. */
START_TEST(test_session_opts)
{
	static const char *names[] = { "connect_timeout", "reply_timeout",
	    "data_timeout", "max_connections", "retries", "keepalive",
	    "idle_timeout", "retry_delay", "limit_rate" };
	struct agent_conf c, o;
	struct conf_session_opt k;
	size_t i;

	ck_assert(parse(&c, "reply_timeout = 7\nretries = 5\n") == 0);
	conf_install(&c);
	memset(&o, 0, sizeof(o));
	for (i = 0; conf_session_opt(i, &o, &k); i++) {
		ck_assert_uint_lt(i, sizeof(names) / sizeof(names[0]));
		ck_assert_str_eq(k.name, names[i]);
		ck_assert(k.integer == (k.i != NULL));
		ck_assert(k.integer == (k.d == NULL));
	}
	ck_assert_uint_eq(i, sizeof(names) / sizeof(names[0]));
	ck_assert(o.reply_timeout == 7 && o.connect_timeout == 30);
	ck_assert_int_eq(o.retries, 5);
	ck_assert_int_eq(o.max_connections, 4);
	ck_assert(conf_session_opt(3, &o, &k) && k.integer);
	ck_assert(k.min == 1 && k.max == 16);
	conf_install(NULL);
}
END_TEST

Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_later_lines_win_and_no_newline);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_restart_keys);
	tcase_add_test(tc, test_install);
	tcase_add_test(tc, test_session_opts);
	suite_add_tcase(s, tc);
	return s;
}
