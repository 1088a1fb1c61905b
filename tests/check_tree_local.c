/*
 * Trees (transfer.tree) in libftpagent against the fake agent
 * (fakeagent.h). This file: the agent's requests routed to the tree they
 * name and answered, the local.* operations beneath the tree's directory
 * with hostile paths and symbolic links that must never lead outside
 * it, the good paths doing what docs/protocol.md says (local.list in
 * pages is in check_tree_list.c, its tests in the "local" test case
 * too), and tree_local_suite(), which adds the test cases of
 * check_tree_call.c (the tree's params, progress, items and outcome,
 * its inactivity timeout, and the blocking face serving a forked
 * agent), of check_tree_bg.c (trees in the background) and of
 * check_tree_cache.c (what stays open between requests).
 *
 * Every test works in a directory of its own:
 *
 *	TMP/tree/sub/f		"hello"
 *	TMP/tree/lnk		-> ../outside
 *	TMP/tree/flink		-> ../outside/secret
 *	TMP/outside/secret	"secret", mode 0640, mtime 12345
 */
#include <config.h>	/* _GNU_SOURCE: vasprintf */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"
#include "beneath.h"
#include "check_tree.h"

static char tmp[64];
int rootfd = -1;
json_int_t rid;
int aseq;

/* ---- the directory ----------------------------------------------------- */

void
put_file(const char *rel, const char *content, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "create %s", path);
	ck_assert_int_eq(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

void
put_dir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s", path);
}

static void
put_link(const char *rel, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	ck_assert_msg(symlink(target, path) == 0, "symlink %s", path);
}

/* lstat of TMP/rel: 0, or -1 when it is not there. */
int
stat_at(const char *rel, struct stat *st)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	return lstat(path, st);
}

char *
slurp(const char *rel)
{
	static char buf[256];
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

int
count_entries(const char *rel)
{
	char path[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* outside/ holds only secret, untouched; the links are links still. */
void
assert_outside_intact(void)
{
	struct stat st;

	ck_assert_int_eq(count_entries("outside"), 1);
	ck_assert_int_eq(stat_at("outside/secret", &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(st.st_mtime, 12345);
	ck_assert_str_eq(slurp("outside/secret"), "secret");
}

const char *
tree_tmp(void)
{
	return tmp;
}

void
tree_setup(void)
{
	struct timespec ts[2] = { { 12345, 0 }, { 12345, 0 } };
	char path[256];

	setup();
	snprintf(tmp, sizeof(tmp), "/tmp/check_tree.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	put_dir("tree");
	put_dir("outside");
	put_dir("tree/sub");
	put_file("tree/sub/f", "hello", 0644);
	put_file("outside/secret", "secret", 0640);
	snprintf(path, sizeof(path), "%s/outside/secret", tmp);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	put_link("tree/lnk", "../outside");
	put_link("tree/flink", "../outside/secret");
	snprintf(path, sizeof(path), "%s/tree", tmp);
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(rootfd, 0);
	rid = -1;
	aseq = 0;
}

void
tree_teardown(void)
{
	char cmd[128];

	teardown();
	if (rootfd != -1)
		close(rootfd);
	rootfd = -1;
	if (tmp[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		(void)system(cmd);
	}
	tmp[0] = '\0';
}

/* ---- the agent's side -------------------------------------------------- */

/* Sends transfer.tree of "/r" with o and cb, reads it off the agent's
 * end into *q (req_clear): rid. */
uint64_t
start_tree_cb(const struct ftpagent_tree_opts *o, ftpagent_reply_cb cb,
    struct rec *rc, struct req *q)
{
	uint64_t id;

	id = ftpagent_send_tree(a, "s1", "/r", rootfd, o, cb, rc);
	ck_assert_msg(id != 0, "send_tree: %s", ftpagent_error_message(a));
	flush();
	agent_req(q, "transfer.tree", 0);
	rid = q->id;
	return id;
}

/* The same with on_reply, the request dropped. */
uint64_t
start_tree(const struct ftpagent_tree_opts *o, struct rec *rc)
{
	struct req q;
	uint64_t id = start_tree_cb(o, on_reply, rc, &q);

	req_clear(&q);
	return id;
}

/*
 * The agent asks method with params (JSON members after job and
 * request, may be ""), naming request req; the library reads it and
 * queues its answer. Returns the request's id.
 */
const char *
ask_for(json_int_t req, const char *method, const char *params)
{
	static char id[16];

	snprintf(id, sizeof(id), "a%d", ++aseq);
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":"
	    "{\"job\":\"j1\",\"request\":%lld%s%s},\"id\":\"%s\"}\n", method,
	    (long long)req, *params != '\0' ? "," : "", params, id);
	ck_assert(drain());
	flush();
	return id;
}

/* ask_for the tree; the answer must be code (0: a result) with nfds fds
 * into *ans (req_clear). */
void
ask(const char *method, const char *params, int code, int nfds,
    struct req *ans)
{
	const char *id = ask_for(rid, method, params);

	agent_answer(ans, id, code, nfds);
}

/* ask, the answer dropped. */
void
ask1(const char *method, const char *params, int code)
{
	struct req ans;

	ask(method, params, code, 0, &ans);
	req_clear(&ans);
}

/* An answer that must be an error (any code): its code. */
int
ask_fails(const char *method, const char *params)
{
	const char *id = ask_for(rid, method, params);
	struct req ans;
	json_t *err;
	char *dump;
	int code;

	ck_assert_msg(fake_recv_answer(agent, &ans, WAIT_MS), "%s", ans.why);
	err = json_object_get(ans.msg, "error");
	dump = json_dumps(ans.msg, JSON_COMPACT);
	ck_assert_msg(json_is_object(err) && ans.nfds == 0 &&
	    strcmp(json_string_value(json_object_get(ans.msg, "id")), id) ==
	    0, "%s %s: not refused: %s", method, params, dump);
	free(dump);
	code = (int)json_integer_value(json_object_get(err, "code"));
	ck_assert_int_ne(code, 0);
	req_clear(&ans);
	return code;
}

static json_int_t
result_int(const struct req *ans, const char *key)
{
	json_t *v = json_object_get(json_object_get(ans->msg, "result"), key);

	ck_assert_msg(json_is_integer(v), "no integer %s", key);
	return json_integer_value(v);
}

/*
 * A tree job j1 in state with tree member tree (NULL: a running one),
 * naming request req (< 0: none). Valid until the next call.
 */
const char *
tree_job(const char *tree, const char *state, json_int_t req)
{
	static char *job;
	char b[512];

	free(job);
	job_obj(b, "j1", state, "get", 10, 100, req);
	b[strlen(b) - 1] = '\0';
	ck_assert_int_ge(asprintf(&job, "%s,\"tree\":%s}", b, tree != NULL ?
	    tree : "{\"files\":1,\"files_total\":3,\"dirs\":2,"
	    "\"skipped\":4,\"deleted\":0,\"failed\":0,\"walking\":true,"
	    "\"dry_run\":false,\"failures\":[]}"), 0);
	return job;
}

/* The tree's reply: a done job. */
void
finish_tree(const char *tree)
{
	agent_result(rid, tree_job(tree, "done", -1));
}

/* ---- 1. hostile paths never lead anywhere ------------------------------ */

static const char *const hostile[] = {
	"\"..\"", "\"a/../../x\"", "\"/etc/passwd\"", "\".\"", "\"a//b\"",
	"\"sub/\"", "\"/\"", "\"/sub/f\"", "\"sub/./f\"", "\"a\\u0000b\"",
	"\"sub/f\\u0000x\"", "\"lnk/secret\"", "\"lnk/new\"", "\"lnk/x/y\"",
	"\"sub/../../outside/secret\"", "\"../outside/secret\"", "1", "null",
	"{}",
};

static const char *const how[][2] = {
	{ "local.list", "" },
	{ "local.mkdir", "" },
	{ "local.open", "\"write\":false" },
	{ "local.open", "\"write\":true" },
	{ "local.open", "\"write\":true,\"resume\":true" },
	{ "local.commit", "\"mtime\":1" },
	{ "local.remove", "\"recursive\":true" },
	{ "local.remove", "\"recursive\":false" },
};

START_TEST(test_hostile_paths)
{
	char params[256];
	size_t i, j;

	start_tree(NULL, &recs[0]);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		for (j = 0; j < sizeof(how) / sizeof(how[0]); j++) {
			snprintf(params, sizeof(params), "\"path\":%s%s%s",
			    hostile[i], *how[j][1] != '\0' ? "," : "",
			    how[j][1]);
			(void)ask_fails(how[j][0], params);
		}
	/* no path at all */
	(void)ask_fails("local.list", "\"x\":1");
	/* the root is no file, and is never removed */
	ck_assert_int_eq(ask_fails("local.open", "\"path\":\"\""), -32006);
	(void)ask_fails("local.open", "\"path\":\"\",\"write\":true");
	(void)ask_fails("local.commit", "\"path\":\"\"");
	ck_assert_int_eq(ask_fails("local.remove",
	    "\"path\":\"\",\"recursive\":true"), -32007);
	/* malformed paths are the params' fault */
	ck_assert_int_eq(ask_fails("local.list", "\"path\":\"a/../b\""),
	    -32602);
	ck_assert_int_eq(ask_fails("local.list", "\"path\":\"a\\u0000\""),
	    -32602);
	assert_outside_intact();
	ck_assert_int_eq(count_entries("tree"), 3);	/* sub lnk flink */
	ck_assert_int_eq(count_entries("tree/sub"), 1);
	ck_assert_uint_eq(ftpagent_pending(a), 1);
	finish_tree("{\"files\":0}");
	ck_assert(drain());
	assert_done(&recs[0], recs[0].call, FTPAGENT_OK);
}
END_TEST

/* ---- 2. symbolic links are never followed ------------------------------ */

START_TEST(test_symlinks_not_followed)
{
	struct stat st;

	put_link("tree/evil.part", "../outside/secret");
	put_link("tree/sub/dl", "..");
	start_tree(NULL, &recs[0]);
	/* a link as the last name */
	(void)ask_fails("local.list", "\"path\":\"lnk\"");
	(void)ask_fails("local.open", "\"path\":\"flink\"");
	ck_assert_int_eq(ask_fails("local.mkdir", "\"path\":\"flink\""),
	    -32006);
	ck_assert_int_eq(ask_fails("local.mkdir", "\"path\":\"lnk\""), -32006);
	/* a .part that is a link is neither written nor renamed */
	(void)ask_fails("local.open", "\"path\":\"evil\",\"write\":true");
	(void)ask_fails("local.open",
	    "\"path\":\"evil\",\"write\":true,\"resume\":true");
	(void)ask_fails("local.commit", "\"path\":\"evil\",\"mtime\":99,"
	    "\"perm\":511");
	ck_assert_int_eq(stat_at("tree/evil", &st), -1);
	/* a link as a directory on the way, even one inside the tree */
	(void)ask_fails("local.list", "\"path\":\"sub/dl/sub\"");
	(void)ask_fails("local.open", "\"path\":\"sub/dl/sub/f\"");
	(void)ask_fails("local.mkdir", "\"path\":\"sub/dl/x\"");
	(void)ask_fails("local.remove",
	    "\"path\":\"sub/dl/sub\",\"recursive\":true");
	assert_outside_intact();
	ck_assert_int_eq(stat_at("tree/sub/f", &st), 0);
	/* removing a link removes the link, not what it points to */
	ask1("local.remove", "\"path\":\"lnk\",\"recursive\":true", 0);
	ask1("local.remove", "\"path\":\"flink\",\"recursive\":false", 0);
	ask1("local.remove", "\"path\":\"evil.part\"", 0);
	ck_assert_int_eq(stat_at("tree/lnk", &st), -1);
	ck_assert_int_eq(stat_at("tree/flink", &st), -1);
	assert_outside_intact();
}
END_TEST

/* Both ways of resolving refuse links and escapes; the walk (kernels
 * without openat2) is driven here directly. */
START_TEST(test_beneath_both_ways)
{
	static const char *const bad[] = { "lnk", "lnk/x", "..", "a/../b",
	    "/", "sub//f", ".", "sub/", "/sub", "sub/f" };
	enum beneath_mode m;
	size_t i;
	int fd;

	for (m = BENEATH_AUTO; m <= BENEATH_WALK; m++) {
		fd = fa_beneath_open_dir(rootfd, "sub", O_PATH, m);
		ck_assert_int_ge(fd, 0);
		close(fd);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			fd = fa_beneath_open_dir(rootfd, bad[i], O_PATH, m);
			ck_assert_msg(fd == -1, "%s opened (mode %d)", bad[i],
			    m);
		}
		/* "" is the root itself */
		fd = fa_beneath_open_dir(rootfd, "", O_RDONLY, m);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	ck_assert_int_eq(fa_beneath_check("a/b", 3), 0);
	ck_assert_int_ne(fa_beneath_check("a\0b", 3), 0);
}
END_TEST

/* ---- 3. what good paths do --------------------------------------------- */

static json_t *
entry_named(json_t *entries, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(entries, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")),
		    name) == 0)
			return e;
	ck_abort_msg("no entry %s", name);
	return NULL;
}

START_TEST(test_list)
{
	json_t *entries, *e;
	struct req ans;
	char name[32];
	int i;

	put_dir("tree/many");
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "tree/many/f%04d", i);
		put_file(name, "", 0600);
	}
	start_tree(NULL, &recs[0]);
	ask("local.list", "\"path\":\"\"", 0, 0, &ans);
	entries = json_object_get(json_object_get(ans.msg, "result"),
	    "entries");
	ck_assert_uint_eq(json_array_size(entries), 4);
	ck_assert_str_eq(json_string_value(json_object_get(entry_named(
	    entries, "sub"), "type")), "dir");
	ck_assert_str_eq(json_string_value(json_object_get(entry_named(
	    entries, "lnk"), "type")), "link");
	ck_assert_str_eq(json_string_value(json_object_get(entry_named(
	    entries, "flink"), "type")), "link");
	req_clear(&ans);

	ask("local.list", "\"path\":\"sub\"", 0, 0, &ans);
	entries = json_object_get(json_object_get(ans.msg, "result"),
	    "entries");
	ck_assert_uint_eq(json_array_size(entries), 1);
	e = entry_named(entries, "f");
	ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "file");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "size")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "perm")), 0644);
	ck_assert(json_is_integer(json_object_get(e, "mtime")));
	req_clear(&ans);

	/* a page: the first 500 in strcmp order, more to come */
	ask("local.list", "\"path\":\"many\"", 0, 0, &ans);
	entries = json_object_get(json_object_get(ans.msg, "result"),
	    "entries");
	ck_assert_uint_eq(json_array_size(entries), 500);
	ck_assert(json_is_true(json_object_get(json_object_get(ans.msg,
	    "result"), "more")));
	(void)entry_named(entries, "f0499");
	req_clear(&ans);
	/* one page says it is the last */
	ask("local.list", "\"path\":\"sub\"", 0, 0, &ans);
	ck_assert(json_is_false(json_object_get(json_object_get(ans.msg,
	    "result"), "more")));
	req_clear(&ans);

	ck_assert_int_eq(ask_fails("local.list", "\"path\":\"nothere\""),
	    -32005);
	ck_assert_int_eq(ask_fails("local.list", "\"path\":\"sub/f\""),
	    -32005);
}
END_TEST

/* Names that are not UTF-8 travel escaped, both ways. */
START_TEST(test_byte_names)
{
	struct req ans;
	struct stat st;
	json_t *entries;

	start_tree(NULL, &recs[0]);
	ask1("local.mkdir", "\"path\":\"caf\\uf7e9\"", 0);
	ck_assert_int_eq(stat_at("tree/caf\xe9", &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ask("local.list", "\"path\":\"\"", 0, 0, &ans);
	entries = json_object_get(json_object_get(ans.msg, "result"),
	    "entries");
	(void)entry_named(entries, "caf\xef\x9f\xa9");	/* U+F7E9 */
	req_clear(&ans);
}
END_TEST

START_TEST(test_open_write_resume_commit)
{
	struct req ans;
	struct stat st;

	start_tree(NULL, &recs[0]);
	/* a new download: NAME.part, empty, the descriptor attached */
	ask("local.open", "\"path\":\"sub/new\",\"write\":true", 0, 1, &ans);
	ck_assert_int_eq(result_int(&ans, "fd"), 0);
	ck_assert_int_eq(result_int(&ans, "size"), 0);
	ck_assert_int_eq(write(ans.fds[0], "abc", 3), 3);
	req_clear(&ans);
	ck_assert_str_eq(slurp("tree/sub/new.part"), "abc");
	ck_assert_int_eq(stat_at("tree/sub/new", &st), -1);

	/* resumed: as it is, the size where it goes on */
	ask("local.open", "\"path\":\"sub/new\",\"write\":true,\"resume\":true",
	    0, 1, &ans);
	ck_assert_int_eq(result_int(&ans, "size"), 3);
	ck_assert_int_eq(write(ans.fds[0], "de", 2), 2);
	req_clear(&ans);
	ck_assert_str_eq(slurp("tree/sub/new.part"), "abcde");

	/* committed: renamed, its mtime and bits (no set-id from a server) */
	ask1("local.commit", "\"path\":\"sub/new\",\"mtime\":1000000000,"
	    "\"perm\":2541", 0);
	ck_assert_int_eq(stat_at("tree/sub/new.part", &st), -1);
	ck_assert_int_eq(stat_at("tree/sub/new", &st), 0);
	ck_assert_int_eq(st.st_mtime, 1000000000);
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	ck_assert_str_eq(slurp("tree/sub/new"), "abcde");
	ck_assert_int_eq(ask_fails("local.commit", "\"path\":\"sub/new\""),
	    -32005);

	/* without resume an old .part starts over */
	put_file("tree/sub/old.part", "12345", 0644);
	ask("local.open", "\"path\":\"sub/old\",\"write\":true", 0, 1, &ans);
	ck_assert_int_eq(result_int(&ans, "size"), 0);
	req_clear(&ans);
	ck_assert_int_eq(stat_at("tree/sub/old.part", &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	/* commit replaces the file, and without mtime leaves the time */
	put_file("tree/sub/old.part", "new", 0644);
	put_file("tree/sub/old", "older", 0644);
	ask1("local.commit", "\"path\":\"sub/old\"", 0);
	ck_assert_str_eq(slurp("tree/sub/old"), "new");
	/* a FIFO is never opened */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/tree/sub/fifo.part", tmp);
		ck_assert_int_eq(mkfifo(path, 0600), 0);
	}
	ck_assert_int_eq(ask_fails("local.open",
	    "\"path\":\"sub/fifo\",\"write\":true"), -32012);
	/* a .part linked elsewhere is not written through */
	{
		char p1[256], p2[256];

		snprintf(p1, sizeof(p1), "%s/outside/secret", tmp);
		snprintf(p2, sizeof(p2), "%s/tree/hl.part", tmp);
		if (link(p1, p2) == 0) {
			(void)ask_fails("local.open",
			    "\"path\":\"hl\",\"write\":true");
			ck_assert_int_eq(unlink(p2), 0);
		}
	}
	assert_outside_intact();
}
END_TEST

START_TEST(test_open_read)
{
	struct req ans;
	char buf[16];

	start_tree(NULL, &recs[0]);
	ask("local.open", "\"path\":\"sub/f\",\"write\":false", 0, 1, &ans);
	ck_assert_int_eq(result_int(&ans, "size"), 5);
	ck_assert_int_eq(read(ans.fds[0], buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	/* for reading only */
	ck_assert_int_eq(write(ans.fds[0], "x", 1), -1);
	req_clear(&ans);
	ck_assert_int_eq(ask_fails("local.open", "\"path\":\"sub\""), -32012);
	ck_assert_int_eq(ask_fails("local.open", "\"path\":\"sub/none\""),
	    -32005);
}
END_TEST

START_TEST(test_mkdir_remove)
{
	struct stat st;

	start_tree(NULL, &recs[0]);
	ask1("local.mkdir", "\"path\":\"d\"", 0);
	ask1("local.mkdir", "\"path\":\"d\"", 0);	/* there: fine */
	ask1("local.mkdir", "\"path\":\"d/e\"", 0);
	ask1("local.mkdir", "\"path\":\"\"", 0);
	ck_assert_int_eq(stat_at("tree/d/e", &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(ask_fails("local.mkdir", "\"path\":\"sub/f\""),
	    -32006);
	ck_assert_int_eq(ask_fails("local.mkdir", "\"path\":\"no/such\""),
	    -32005);

	put_dir("tree/rm");
	put_dir("tree/rm/a");
	put_dir("tree/rm/a/b");
	put_file("tree/rm/a/b/file", "x", 0644);
	put_link("tree/rm/a/out", "../../../outside");
	put_link("tree/rm/a/sec", "../../../outside/secret");
	ck_assert_int_eq(ask_fails("local.remove", "\"path\":\"rm\""), -32006);
	ask1("local.remove", "\"path\":\"rm\",\"recursive\":true", 0);
	ck_assert_int_eq(stat_at("tree/rm", &st), -1);
	ask1("local.remove", "\"path\":\"sub/f\"", 0);
	ck_assert_int_eq(stat_at("tree/sub/f", &st), -1);
	ck_assert_int_eq(ask_fails("local.remove", "\"path\":\"sub/f\""),
	    -32005);
	assert_outside_intact();
}
END_TEST

/* local.symlink makes a link only when its target stays in the tree,
 * only over nothing or another link. */
START_TEST(test_symlink)
{
	struct stat st;
	char buf[64], path[256];
	ssize_t n;

	start_tree(NULL, &recs[0]);
	put_dir("tree/ln");
	ask1("local.symlink", "\"path\":\"ln/a\",\"target\":\"../sub\"", 0);
	snprintf(path, sizeof(path), "%s/tree/ln/a", tmp);
	n = readlink(path, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 6);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "../sub");
	/* over a link: replaced */
	ask1("local.symlink", "\"path\":\"ln/a\",\"target\":\"b/c\"", 0);
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	ck_assert_str_eq(buf, "b/c");
	/* out of the tree, absolute, or over a file: refused */
	ck_assert_int_eq(ask_fails("local.symlink",
	    "\"path\":\"ln/x\",\"target\":\"../../outside\""), -32007);
	ck_assert_int_eq(ask_fails("local.symlink",
	    "\"path\":\"ln/x\",\"target\":\"/etc/passwd\""), -32007);
	ck_assert_int_eq(ask_fails("local.symlink",
	    "\"path\":\"ln/x\",\"target\":\"\""), -32007);
	ck_assert_int_eq(stat_at("tree/ln/x", &st), -1);
	ck_assert_int_eq(ask_fails("local.symlink",
	    "\"path\":\"sub/f\",\"target\":\"a\""), -32006);
	ck_assert_int_eq(stat_at("tree/sub/f", &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(ask_fails("local.symlink", "\"path\":\"ln/y\""),
	    -32602);
	assert_outside_intact();
}
END_TEST

/* A dry run and an upload change nothing here. */
START_TEST(test_read_only_trees)
{
	struct ftpagent_tree_opts o;
	struct req ans;
	struct stat st;

	memset(&o, 0, sizeof(o));
	o.flags = FTPAGENT_TREE_DRY_RUN;
	start_tree(&o, &recs[0]);
	ck_assert_int_eq(ask_fails("local.mkdir", "\"path\":\"x\""), -32007);
	ck_assert_int_eq(ask_fails("local.open",
	    "\"path\":\"x\",\"write\":true"), -32007);
	ck_assert_int_eq(ask_fails("local.commit", "\"path\":\"sub/f\""),
	    -32007);
	ck_assert_int_eq(ask_fails("local.remove",
	    "\"path\":\"sub\",\"recursive\":true"), -32007);
	ask1("local.list", "\"path\":\"sub\"", 0);
	ck_assert_int_eq(stat_at("tree/sub/f", &st), 0);
	ck_assert_int_eq(stat_at("tree/x", &st), -1);
	ck_assert_int_eq(stat_at("tree/x.part", &st), -1);

	memset(&o, 0, sizeof(o));
	o.direction = FTPAGENT_XFER_PUT;
	start_tree(&o, &recs[1]);
	ck_assert_int_eq(ask_fails("local.open",
	    "\"path\":\"x\",\"write\":true"), -32007);
	ask("local.open", "\"path\":\"sub/f\"", 0, 1, &ans);
	req_clear(&ans);
	ck_assert_int_eq(stat_at("tree/x.part", &st), -1);
}
END_TEST

/* ---- 4. requests that are not a tree's --------------------------------- */

static void
assert_answer_error(const char *id, int code)
{
	struct req ans;

	agent_answer(&ans, id, code, 0);
	req_clear(&ans);
}

START_TEST(test_unknown_requests)
{
	struct req q;
	uint64_t ping;

	start_tree(NULL, &recs[0]);
	/* a method no tree serves */
	assert_answer_error(ask_for(rid, "local.frobnicate", "\"path\":\"\""),
	    -32601);
	/* a request id no call of ours has */
	assert_answer_error(ask_for(rid + 1000, "local.list", "\"path\":\"\""),
	    -32601);
	/* a call that is not a tree */
	ping = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q, "agent.ping", 0);
	assert_answer_error(ask_for(q.id, "local.list", "\"path\":\"\""),
	    -32601);
	/* no request named, and a method that is no local one */
	agent_write("{\"jsonrpc\":\"2.0\",\"method\":\"local.list\","
	    "\"params\":{\"path\":\"\"},\"id\":\"b1\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"x.y\",\"id\":\"b2\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"local.list\",\"params\":[1],"
	    "\"id\":7}\n");
	ck_assert(drain());
	flush();
	assert_answer_error("b1", -32601);
	assert_answer_error("b2", -32601);
	{
		struct req ans;

		ck_assert(fake_recv_answer(agent, &ans, WAIT_MS));
		ck_assert_int_eq(json_integer_value(json_object_get(ans.msg,
		    "id")), 7);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(ans.msg, "error"), "code")), -32601);
		req_clear(&ans);
	}
	/* once the tree's job is known, a request about another job */
	agent_notify("job.progress", tree_job(NULL, "running", rid));
	ck_assert(drain());
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"local.list\",\"params\":"
	    "{\"job\":\"j9\",\"request\":%lld,\"path\":\"\"},\"id\":\"c1\"}\n",
	    (long long)rid);
	ck_assert(drain());
	flush();
	assert_answer_error("c1", -32602);
	/* the calls go on */
	ck_assert_uint_eq(ftpagent_pending(a), 2);
	agent_result(q.id, "{}");
	finish_tree("{\"files\":0}");
	ck_assert(drain());
	assert_done(&recs[0], recs[0].call, FTPAGENT_OK);
	assert_done(&recs[1], ping, FTPAGENT_OK);
	req_clear(&q);
	/* a tree that has ended serves nothing */
	assert_answer_error(ask_for(rid, "local.list", "\"path\":\"\""),
	    -32601);
}
END_TEST

Suite *
tree_local_suite(void)
{
	Suite *s = suite_create("tree_local");
	TCase *tc;

	tc = tcase_create("local");
	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_paths);
	tcase_add_test(tc, test_symlinks_not_followed);
	tcase_add_test(tc, test_beneath_both_ways);
	tcase_add_test(tc, test_list);
	tree_list_tests(tc);
	tcase_add_test(tc, test_byte_names);
	tcase_add_test(tc, test_open_write_resume_commit);
	tcase_add_test(tc, test_open_read);
	tcase_add_test(tc, test_mkdir_remove);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_read_only_trees);
	tcase_add_test(tc, test_unknown_requests);
	suite_add_tcase(s, tc);

	tree_call_tcases(s);
	tree_bg_tcases(s);
	tree_cache_tcases(s);
	return s;
}
