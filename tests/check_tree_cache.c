/*
 * Trees in libftpagent: what the local side keeps open between the
 * agent's requests (libclient/localcache.h), against the fake agent of
 * check_tree_local.c. Keeping the parent directory and the .part open
 * must change nothing the agent can see: more files in flight than are
 * kept, a directory removed (and made again) between a file's open and
 * its commit, and a local.remove between two files.
 */
#include <config.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "localcache.h"
#include "check_tree.h"

/* local.open of rel for writing; writes content through the fd. */
static void
open_write(const char *rel, const char *content)
{
	struct req ans;
	char params[256];
	size_t n = strlen(content);

	snprintf(params, sizeof(params), "\"path\":\"%s\",\"write\":true",
	    rel);
	ask("local.open", params, 0, 1, &ans);
	ck_assert_int_eq(write(ans.fds[0], content, n), (ssize_t)n);
	req_clear(&ans);
}

static void
commit(const char *rel, long long mtime)
{
	char params[256];

	snprintf(params, sizeof(params), "\"path\":\"%s\",\"mtime\":%lld",
	    rel, mtime);
	ask1("local.commit", params, 0);
}

/* The shell command cmd (rm -rf, mkdir) on TMP/tree/rel. */
static void
tmp_cmd(const char *what, const char *rel)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "%s '%s/tree/%s'", what, tree_tmp(), rel);
	ck_assert_int_eq(system(cmd), 0);
}

/* More files open at once than are kept: each still commits, with its
 * bytes and its time, and no .part is left. */
START_TEST(test_more_files_than_kept)
{
	enum { N = LOCAL_PARTS_KEPT + 9 };
	char rel[64], content[64], path[64];
	struct stat st;
	int i;

	start_tree(NULL, &recs[0]);
	ask1("local.mkdir", "\"path\":\"many\"", 0);
	for (i = 0; i < N; i++) {
		snprintf(rel, sizeof(rel), "%s/f%03d", i % 2 ? "many" : "sub",
		    i);
		snprintf(content, sizeof(content), "file %d", i);
		open_write(rel, content);
	}
	for (i = N - 1; i >= 0; i--) {
		snprintf(rel, sizeof(rel), "%s/f%03d", i % 2 ? "many" : "sub",
		    i);
		commit(rel, 1000000 + i);
	}
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "tree/%s/f%03d", i % 2 ? "many" :
		    "sub", i);
		snprintf(content, sizeof(content), "file %d", i);
		ck_assert_int_eq(stat_at(path, &st), 0);
		ck_assert_int_eq(st.st_mtime, 1000000 + i);
		ck_assert_str_eq(slurp(path), content);
		strcat(path, ".part");
		ck_assert_int_eq(stat_at(path, &st), -1);
	}
}
END_TEST

/* The directory removed between open and commit: the commit fails (the
 * file is not there to report), and once the directory is made again
 * files land in the new one, not in the one kept open. */
START_TEST(test_directory_removed_and_made_again)
{
	struct stat st;

	start_tree(NULL, &recs[0]);
	ask1("local.mkdir", "\"path\":\"d\"", 0);
	open_write("d/a", "first");
	tmp_cmd("rm -rf", "d");
	ck_assert_int_eq(ask_fails("local.commit", "\"path\":\"d/a\""),
	    -32005);
	ck_assert_int_eq(stat_at("tree/d", &st), -1);

	tmp_cmd("mkdir", "d");
	open_write("d/b", "second");
	ck_assert_str_eq(slurp("tree/d/b.part"), "second");
	commit("d/b", 2000000);
	ck_assert_str_eq(slurp("tree/d/b"), "second");
	ck_assert_int_eq(stat_at("tree/d/b", &st), 0);
	ck_assert_int_eq(st.st_mtime, 2000000);

	/* the same between open and commit: the .part went with it */
	open_write("d/c", "third");
	tmp_cmd("rm -rf", "d");
	tmp_cmd("mkdir", "d");
	ck_assert_int_eq(ask_fails("local.commit", "\"path\":\"d/c\""),
	    -32005);
	ck_assert_int_eq(stat_at("tree/d/c", &st), -1);
}
END_TEST

/* local.remove of a directory kept open, then made again by the agent. */
START_TEST(test_remove_then_mkdir)
{
	start_tree(NULL, &recs[0]);
	ask1("local.mkdir", "\"path\":\"e\"", 0);
	open_write("e/x", "x");
	commit("e/x", 3000000);
	ask1("local.remove", "\"path\":\"e\",\"recursive\":true", 0);
	ask1("local.mkdir", "\"path\":\"e\"", 0);
	open_write("e/y", "y");
	commit("e/y", 3000001);
	ck_assert_str_eq(slurp("tree/e/y"), "y");
}
END_TEST

void
tree_cache_tcases(Suite *s)
{
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_more_files_than_kept);
	tcase_add_test(tc, test_directory_removed_and_made_again);
	tcase_add_test(tc, test_remove_then_mkdir);
	suite_add_tcase(s, tc);
}
