/* Unit tests for daemon/tree_plan.c: what a tree decides without I/O. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "linkpath.h"
#include "tree_plan.h"

Suite *tree_plan_suite(void);

/* Names from a hostile listing (TEST-CASES 19) never become a local
 * path component; ordinary odd names do. */
START_TEST(unsafe_names)
{
	char	 longname[TREE_NAME_MAX + 2];
	const char *bad[] = { "", ".", "..", "a/b", "../x", "/etc/passwd",
	    "x\ny", "x\rz", "tab\there", "del\x7f", "bell\a" };
	const char *good[] = { "-rf", "a b", "caf\xe9", "...", ".hidden",
	    "x.part", "\xe2\x82\xac" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ftpa_tree_name_unsafe(bad[i]) != NULL, "%s",
		    bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ftpa_tree_name_unsafe(good[i]) == NULL, "%s",
		    good[i]);
	memset(longname, 'a', sizeof(longname));
	longname[TREE_NAME_MAX] = '\0';
	ck_assert_ptr_null(ftpa_tree_name_unsafe(longname));
	longname[TREE_NAME_MAX] = 'a';
	longname[TREE_NAME_MAX + 1] = '\0';
	ck_assert_ptr_nonnull(ftpa_tree_name_unsafe(longname));
}
END_TEST

START_TEST(globs)
{
	char	*inc[] = { "*.gz", "docs/*.txt", NULL };
	char	*exc[] = { "tmp", "*~", NULL };
	struct tree_opts o = { 0 };

	/* nothing given: everything */
	ck_assert(tree_wanted(&o, "a/b.c", "b.c", false));
	o.include = inc;
	o.exclude = exc;
	ck_assert(tree_wanted(&o, "x/a.gz", "a.gz", false));
	ck_assert(!tree_wanted(&o, "x/a.tar", "a.tar", false));
	/* a glob with a slash is matched against the whole path */
	ck_assert(tree_wanted(&o, "docs/r.txt", "r.txt", false));
	ck_assert(!tree_wanted(&o, "x/docs/r.txt", "r.txt", false));
	/* includes choose files; directories are walked unless excluded */
	ck_assert(tree_wanted(&o, "src", "src", true));
	ck_assert(!tree_wanted(&o, "a/tmp", "tmp", true));
	ck_assert(!tree_wanted(&o, "a/b.gz~", "b.gz~", false));
	/* a leading dot is matched only by a dot */
	ck_assert(!tree_wanted(&o, ".x.gz", ".x.gz", false));
}
END_TEST

static struct ftp_entry
ent(int64_t size, int64_t mtime)
{
	struct ftp_entry e = { .name = "f", .type = FTP_ENTRY_FILE,
	    .size = size, .mtime = mtime, .perm = -1 };

	return e;
}

START_TEST(compare)
{
	struct tree_opts o = { .compare = TREE_CMP_DIFFER };
	struct ftp_entry s = ent(10, 1000000), d;

	ck_assert(tree_should_copy(&o, &s, NULL, false));
	d = ent(10, 1000000);
	ck_assert(!tree_should_copy(&o, &s, &d, false));
	d = ent(11, 1000000);
	ck_assert(tree_should_copy(&o, &s, &d, false));
	d = ent(10, 1000030);
	ck_assert(tree_should_copy(&o, &s, &d, false));
	/* LIST's minutes: 30 s apart is the same time */
	ck_assert(!tree_should_copy(&o, &s, &d, true));
	d = ent(10, 1000000 + 120);
	ck_assert(tree_should_copy(&o, &s, &d, true));
	/* an old file's LIST date is a day at midnight */
	s = ent(10, 86400 * 100);
	d = ent(10, 86400 * 100 + 5000);
	ck_assert(!tree_should_copy(&o, &s, &d, true));
	ck_assert(tree_should_copy(&o, &s, &d, false));
	/* unknown times: the size decides */
	s = ent(10, INT64_MIN);
	d = ent(10, 5);
	ck_assert(!tree_should_copy(&o, &s, &d, false));
	o.compare = TREE_CMP_MISSING;
	d = ent(99, 5);
	ck_assert(!tree_should_copy(&o, &s, &d, false));
	ck_assert(tree_should_copy(&o, &s, NULL, false));
	o.compare = TREE_CMP_ALL;
	d = ent(10, 5);
	ck_assert(tree_should_copy(&o, &s, &d, false));
	/* newer only: an older or equal source stays where it is */
	o.newer_only = true;
	s = ent(10, 2000);
	d = ent(10, 3000);
	ck_assert(!tree_should_copy(&o, &s, &d, false));
	d = ent(10, 1000);
	ck_assert(tree_should_copy(&o, &s, &d, false));
	d = ent(10, INT64_MIN);
	ck_assert(!tree_should_copy(&o, &s, &d, false));
	ck_assert(tree_should_copy(&o, &s, NULL, false));
}
END_TEST

/* An upload goes on only over what an upload cut short leaves. */
START_TEST(put_resume)
{
	struct tree_opts o = { .put = true, .cont = true };
	struct ftp_entry s = ent(300, 1000000), d = ent(100, 1000000);

	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 100);
	d.mtime = 1000060;			/* written after */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 100);
	ck_assert_int_eq(tree_put_resume_at(&o, &s, NULL), 0);
	d.mtime = 999999;			/* older: another file */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d.mtime = INT64_MIN;			/* unknown */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d = ent(300, 1000000);			/* as long, or longer */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d = ent(301, 1000000);
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d = ent(0, 1000000);			/* empty: nothing to keep */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d = ent(100, 1000000);
	d.type = FTP_ENTRY_DIR;
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	d.type = FTP_ENTRY_FILE;
	o.cont = false;
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
	o.cont = true;
	o.put = false;				/* downloads use NAME.part */
	ck_assert_int_eq(tree_put_resume_at(&o, &s, &d), 0);
}
END_TEST

START_TEST(sort_dedupe)
{
	const char *names[] = { "b", "a", "c", "a", "b", "-x" };
	size_t	 n = 6;
	struct ftp_entry *e = calloc(n, sizeof(*e));

	for (size_t i = 0; i < n; i++) {
		e[i].name = strdup(names[i]);
		e[i].size = (int64_t)i;
	}
	tree_entries_sort(e, &n);
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(e[0].name, "-x");
	ck_assert_str_eq(e[1].name, "a");
	ck_assert_str_eq(e[2].name, "b");
	ck_assert_str_eq(e[3].name, "c");
	ftp_entries_free(e, n);
}
END_TEST

START_TEST(part_clash)
{
	struct ftp_entry e[] = { { .name = "a" }, { .name = "a.part" },
	    { .name = "b.part" }, { .name = "c" } };

	ck_assert(tree_part_clash("a.part", e, 4));
	ck_assert(!tree_part_clash("b.part", e, 4));	/* no "b" */
	ck_assert(!tree_part_clash("a", e, 4));
	ck_assert(!tree_part_clash(".part", e, 4));
	ck_assert(tree_part_clash("c.part", e, 4));
	ck_assert(!tree_part_clash("c.part", e, 0));
}
END_TEST

START_TEST(link_targets)
{
	ck_assert(ftpa_link_target_inside("l", "f"));
	ck_assert(ftpa_link_target_inside("a/l", "../f"));
	ck_assert(ftpa_link_target_inside("a/b/l", "../../c/./d"));
	ck_assert(ftpa_link_target_inside("a/l", "x/../../y"));
	ck_assert(!ftpa_link_target_inside("l", "../f"));
	ck_assert(!ftpa_link_target_inside("a/l", "../../f"));
	ck_assert(!ftpa_link_target_inside("a/l", "x/../../../y"));
	ck_assert(!ftpa_link_target_inside("a/l", "/etc/passwd"));
	ck_assert(!ftpa_link_target_inside("a/l", ""));
	ck_assert(!ftpa_link_target_inside("a/l", "x\ny"));
}
END_TEST

START_TEST(paths)
{
	struct { const char *root, *rel, *want; } t[] = {
		{ "/pub", "a/b", "/pub/a/b" },
		{ "/pub/", "a", "/pub/a" },
		{ "/pub//", "", "/pub" },
		{ "/", "a", "/a" },
		{ "/", "", "/" },
		{ "", "a", "a" },
		{ "", "", "" },
		{ "rel/dir", "x", "rel/dir/x" },
	};
	char	*s;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = tree_remote_path(t[i].root, t[i].rel);
		ck_assert_str_eq(s, t[i].want);
		free(s);
	}
	s = tree_join("", "x");
	ck_assert_str_eq(s, "x");
	free(s);
	s = tree_join("a/b", "x");
	ck_assert_str_eq(s, "a/b/x");
	free(s);
	ck_assert_int_eq(tree_compare_from_name("missing"), TREE_CMP_MISSING);
	ck_assert_int_eq(tree_compare_from_name("nope"), -1);
	ck_assert_int_eq(tree_compare_from_name(NULL), -1);
}
END_TEST

Suite *
tree_plan_suite(void)
{
	Suite	*s = suite_create("tree_plan");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, unsafe_names);
	tcase_add_test(tc, globs);
	tcase_add_test(tc, compare);
	tcase_add_test(tc, put_resume);
	tcase_add_test(tc, sort_dedupe);
	tcase_add_test(tc, part_clash);
	tcase_add_test(tc, link_targets);
	tcase_add_test(tc, paths);
	suite_add_tcase(s, tc);
	return s;
}
