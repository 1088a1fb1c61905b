/*
 * Trees against the fake agent (see check_tree_local.c): local.list in
 * pages. 500 entries a page in strcmp order, resumed after the last
 * name of the page before, whatever that name is; pages of two
 * directories in between, a directory that changes or is replaced
 * while it is paged, after values that are no name or lead outside,
 * and 100,000 entries as the most a listing holds. Its tests belong to
 * the "local" test case, added by tree_list_tests().
 */
#include <config.h>	/* _GNU_SOURCE: asprintf */

#include <sys/types.h>
#include <sys/socket.h>
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

#include "fakeagent.h"
#include "check_tree.h"

/* ---- 3b. local.list in pages ------------------------------------------- */

/* TMP/rel; valid until the next call. */
static const char *
path_of(const char *rel)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", tree_tmp(), rel);
	return path;
}

/* dir with n empty files PREFIX%05d, made out of order. */
static void
many_files(const char *dir, int n, const char *prefix)
{
	char name[64];
	int i, dfd, fd;

	put_dir(dir);
	dfd = open(path_of(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%05d", prefix,
		    (int)((long long)i * 7919 % n));
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		ck_assert_msg(fd >= 0, "create %s", name);
		close(fd);
	}
	close(dfd);
}

struct names {
	char	**v;
	size_t	 n;
};

static void
names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

/*
 * The answer to the agent's request id, read off the agent's end a line
 * at a time (fakeagent's reader takes a byte per recvmsg, to see where
 * descriptors come: too slow for 200 pages, and a page brings none).
 */
static json_t *
recv_page(const char *id)
{
	static char buf[1024 * 1024 + 1];
	struct pollfd pf = { .fd = agent, .events = POLLIN };
	char *nl = NULL;
	json_t *msg;
	ssize_t n = 0;

	while (nl == NULL) {
		ck_assert_msg(poll(&pf, 1, WAIT_MS) == 1, "no answer to %s", id);
		n = recv(agent, buf, sizeof(buf) - 1, MSG_PEEK | MSG_DONTWAIT);
		ck_assert_int_gt(n, 0);
		nl = memchr(buf, '\n', (size_t)n);
		if (nl == NULL)
			flush();
	}
	n = recv(agent, buf, (size_t)(nl - buf + 1), MSG_DONTWAIT);
	ck_assert_int_eq(n, nl - buf + 1);
	*nl = '\0';
	msg = json_loads(buf, 0, NULL);
	ck_assert_msg(json_is_object(msg) && json_is_string(json_object_get(
	    msg, "id")) && strcmp(json_string_value(json_object_get(msg,
	    "id")), id) == 0, "no answer to %s: %.200s", id, buf);
	return msg;
}

/*
 * One page of path after after (JSON text; NULL: none): its names
 * appended to ns, their count returned, *more set. The answer must be a
 * page: an array of at most 500 entries and a boolean more.
 */
static size_t
list_page(const char *path, const char *after, struct names *ns, bool *more)
{
	json_t *msg, *res, *entries, *e;
	char *params;
	size_t i, got;

	ck_assert_int_ge(asprintf(&params, "\"path\":\"%s\"%s%s", path,
	    after != NULL ? ",\"after\":" : "", after != NULL ? after : ""), 0);
	msg = recv_page(ask_for(rid, "local.list", params));
	free(params);
	res = json_object_get(msg, "result");
	entries = json_object_get(res, "entries");
	ck_assert_msg(json_is_array(entries), "not a page: %s",
	    json_string_value(json_object_get(json_object_get(msg, "error"),
	    "message")));
	ck_assert(json_is_boolean(json_object_get(res, "more")));
	*more = json_is_true(json_object_get(res, "more"));
	got = json_array_size(entries);
	ck_assert_uint_le(got, 500);
	ns->v = realloc(ns->v, (ns->n + got + 1) * sizeof(*ns->v));
	ck_assert_ptr_nonnull(ns->v);
	json_array_foreach(entries, i, e)
		ns->v[ns->n++] = strdup(json_string_value(json_object_get(e,
		    "name")));
	json_decref(msg);
	return got;
}

/* Every page of path, as the agent asks for them: the page count. */
static int
list_all(const char *path, struct names *ns)
{
	char after[64];
	bool more = true;
	int pages = 0;

	while (more) {
		if (ns->n > 0)
			snprintf(after, sizeof(after), "\"%s\"",
			    ns->v[ns->n - 1]);
		(void)list_page(path, ns->n > 0 ? after : NULL, ns, &more);
		pages++;
	}
	return pages;
}

/* ns holds exactly PREFIX00000 .. PREFIX(n-1), in that order. */
static void
assert_names(const struct names *ns, const char *prefix, size_t from,
    size_t n)
{
	char want[64];
	size_t i;

	ck_assert_uint_eq(ns->n, n);
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%s%05zu", prefix, from + i);
		ck_assert_str_eq(ns->v[i], want);
	}
}

START_TEST(test_list_pages)
{
	struct names ns = { 0 }, other = { 0 }, one = { 0 };
	bool more;

	many_files("tree/many", 1200, "f");
	many_files("tree/other", 600, "g");
	start_tree(NULL, &recs[0]);
	ck_assert_uint_eq(list_page("many", NULL, &ns, &more), 500);
	ck_assert(more);
	/* another directory's pages in between */
	ck_assert_uint_eq(list_page("other", NULL, &other, &more), 500);
	ck_assert(more);
	ck_assert_uint_eq(list_page("many", "\"f00499\"", &ns, &more), 500);
	ck_assert(more);
	ck_assert_uint_eq(list_page("other", "\"g00499\"", &other, &more), 100);
	ck_assert(!more);
	ck_assert_uint_eq(list_page("many", "\"f00999\"", &ns, &more), 200);
	ck_assert(!more);
	/* in order, nothing lost or repeated */
	assert_names(&ns, "f", 0, 1200);
	assert_names(&other, "g", 0, 600);
	names_free(&ns);
	ck_assert_int_eq(list_all("many", &ns), 3);
	assert_names(&ns, "f", 0, 1200);

	/* after the last name, or past every name: empty, the last */
	ck_assert_uint_eq(list_page("many", "\"f01199\"", &one, &more), 0);
	ck_assert(!more);
	ck_assert_uint_eq(list_page("many", "\"zzz\"", &one, &more), 0);
	ck_assert(!more);
	/* before every name, "" and null: from the first */
	ck_assert_uint_eq(list_page("many", "\"\"", &one, &more), 500);
	ck_assert(more);
	assert_names(&one, "f", 0, 500);
	names_free(&one);
	ck_assert_uint_eq(list_page("many", "\"a\"", &one, &more), 500);
	assert_names(&one, "f", 0, 500);
	names_free(&one);
	ck_assert_uint_eq(list_page("many", "null", &one, &more), 500);
	assert_names(&one, "f", 0, 500);
	names_free(&one);
	/* between two names */
	ck_assert_uint_eq(list_page("many", "\"f00499x\"", &one, &more), 500);
	ck_assert_str_eq(one.v[0], "f00500");
	names_free(&one);
	ck_assert_uint_eq(list_page("many", "\"f01000\"", &one, &more), 199);
	ck_assert(!more);
	ck_assert_str_eq(one.v[0], "f01001");
	names_free(&one);
	names_free(&ns);
	names_free(&other);
}
END_TEST

/* A directory that changes while it is paged: a page never ends early,
 * a first page reads it anew, a replaced directory is read again. */
START_TEST(test_list_pages_change)
{
	struct names ns = { 0 };
	char from[256], name[32];
	bool more;
	int i;

	many_files("tree/many", 1200, "f");
	start_tree(NULL, &recs[0]);
	ck_assert_uint_eq(list_page("many", NULL, &ns, &more), 500);
	/* a listing is the directory its first page read (not read again
	 * for every page): a name made since is in the next listing */
	put_file("tree/many/f00600x", "", 0600);
	ck_assert_uint_eq(list_page("many", "\"f00499\"", &ns, &more), 500);
	ck_assert_str_eq(ns.v[999], "f00999");
	ck_assert(more);
	names_free(&ns);
	ck_assert_uint_eq(list_page("many", NULL, &ns, &more), 500);
	ck_assert_uint_eq(list_page("many", "\"f00499\"", &ns, &more), 500);
	ck_assert_str_eq(ns.v[601], "f00600x");
	ck_assert_int_eq(unlink(path_of("tree/many/f00600x")), 0);
	names_free(&ns);
	ck_assert_uint_eq(list_page("many", NULL, &ns, &more), 500);
	/* the whole next page vanishes: the page goes on after it */
	for (i = 500; i < 1000; i++) {
		snprintf(name, sizeof(name), "tree/many/f%05d", i);
		ck_assert_int_eq(unlink(path_of(name)), 0);
	}
	ck_assert_uint_eq(list_page("many", "\"f00499\"", &ns, &more), 200);
	ck_assert(!more);
	ck_assert_str_eq(ns.v[500], "f01000");
	names_free(&ns);

	/* a first page sees what is there now */
	put_file("tree/many/a-new", "", 0600);
	ck_assert_uint_eq(list_page("many", NULL, &ns, &more), 500);
	ck_assert_str_eq(ns.v[0], "a-new");
	ck_assert(more);
	names_free(&ns);

	/* replaced between two pages: the new one is read */
	snprintf(from, sizeof(from), "%s", path_of("tree/many"));
	ck_assert_int_eq(rename(from, path_of("tree/old")), 0);
	many_files("tree/many", 600, "h");
	ck_assert_uint_eq(list_page("many", "\"f00499\"", &ns, &more), 500);
	ck_assert(more);
	assert_names(&ns, "h", 0, 500);
	names_free(&ns);
}
END_TEST

/* after is compared, never used as a path; what is no name is refused. */
START_TEST(test_list_hostile_after)
{
	static const char *const bad[] = { "1", "true", "{}", "[\"f\"]",
	    "\"a\\u0000b\"", "\"\\u0000\"" };
	struct names ns = { 0 };
	char *params, *longa;
	bool more;
	size_t i;

	many_files("tree/many", 600, "f");
	start_tree(NULL, &recs[0]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_ge(asprintf(&params, "\"path\":\"many\","
		    "\"after\":%s", bad[i]), 0);
		ck_assert_int_eq(ask_fails("local.list", params), -32602);
		free(params);
	}
	ck_assert_uint_eq(list_page("many", "\"../../outside\"", &ns, &more),
	    500);
	ck_assert_uint_eq(list_page("many", "\"/etc/passwd\"", &ns, &more),
	    500);
	/* '/' sorts before '0': right after f00100 */
	ck_assert_uint_eq(list_page("many", "\"f00100/../../x\"", &ns, &more),
	    499);
	ck_assert(!more);
	ck_assert_str_eq(ns.v[1000], "f00101");
	/* escaped bytes (0xff) sort after every ASCII name */
	ck_assert_uint_eq(list_page("many", "\"\\uf7ff\\uf780\"", &ns, &more),
	    0);
	ck_assert(!more);
	longa = malloc(100002);
	ck_assert_ptr_nonnull(longa);
	memset(longa, 'e', 100002);
	longa[0] = '"';
	longa[100000] = '"';
	longa[100001] = '\0';
	ck_assert_uint_eq(list_page("many", longa, &ns, &more), 500);
	free(longa);
	assert_outside_intact();
	ck_assert_int_eq(count_entries("tree/many"), 600);
	names_free(&ns);
}
END_TEST

/*
 * 100,000 entries come in 200 pages; one more is refused. In a tree of
 * its own on a tmpfs where there is one: 100,001 files take seconds to
 * make on a disk, and to remove.
 */
START_TEST(test_list_limit)
{
	char shm[64], cmd[128];
	struct names ns = { 0 };
	int64_t t0;
	int fd;

	snprintf(shm, sizeof(shm), "/dev/shm/check_tree.XXXXXX");
	if (mkdtemp(shm) != NULL) {
		ck_assert_int_eq(symlink(shm, path_of("shm")), 0);
		fd = open(shm, O_PATH | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		close(rootfd);
		rootfd = fd;
	} else
		shm[0] = '\0';
	many_files(shm[0] != '\0' ? "shm/big" : "tree/big", 100000, "b");
	start_tree(NULL, &recs[0]);
	t0 = now_ms();
	ck_assert_int_eq(list_all("big", &ns), 200);
	assert_names(&ns, "b", 0, 100000);
	names_free(&ns);
	/* one read of the directory and one sort, not 200 */
	ck_assert_msg(now_ms() - t0 < 30000, "paging took %lld ms",
	    (long long)(now_ms() - t0));
	many_files(shm[0] != '\0' ? "shm/big/x" : "tree/big/x", 0, "");
	ck_assert_int_eq(ask_fails("local.list", "\"path\":\"big\""), -32012);
	if (shm[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* After test_list, in the "local" test case of tree_local_suite(). */
void
tree_list_tests(TCase *tc)
{
	tcase_add_test(tc, test_list_pages);
	tcase_add_test(tc, test_list_pages_change);
	tcase_add_test(tc, test_list_hostile_after);
	tcase_add_test(tc, test_list_limit);
}
