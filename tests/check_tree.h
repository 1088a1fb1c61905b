/*
 * The tree suite (tests/check_tree_local) is gathered by tree_local_suite()
 * in check_tree_local.c, which also holds the fixture and the fake
 * agent's side of local.* that check_tree_call.c and check_tree_list.c
 * use.
 */
#ifndef CHECK_TREE_H
#define CHECK_TREE_H

#include <sys/stat.h>

#include <check.h>
#include <jansson.h>

#include "fakeagent.h"

extern int rootfd;		/* TMP/tree, O_PATH */
extern json_int_t rid;		/* the transfer.tree request's id */
extern int aseq;		/* the agent's own request ids */

Suite	*tree_local_suite(void);
void	 tree_call_tcases(Suite *);	/* check_tree_call.c */
void	 tree_bg_tcases(Suite *);	/* check_tree_bg.c */
void	 tree_cache_tcases(Suite *);	/* check_tree_cache.c */
void	 tree_list_tests(TCase *);	/* check_tree_list.c, into "local" */

void	 tree_setup(void);
void	 tree_teardown(void);
const char *tree_tmp(void);	/* TMP */
int	 stat_at(const char *rel, struct stat *st);
char	*slurp(const char *rel);
void	 put_file(const char *rel, const char *content, mode_t mode);
void	 put_dir(const char *rel);
int	 count_entries(const char *rel);	/* in TMP/rel, . and .. not */
void	 assert_outside_intact(void);

uint64_t start_tree_cb(const struct ftpagent_tree_opts *o, ftpagent_reply_cb cb,
	    struct rec *rc, struct req *q);
uint64_t start_tree(const struct ftpagent_tree_opts *o, struct rec *rc);
const char *ask_for(json_int_t req, const char *method, const char *params);
void	 ask(const char *method, const char *params, int code, int nfds,
	    struct req *ans);
void	 ask1(const char *method, const char *params, int code);
int	 ask_fails(const char *method, const char *params);
const char *tree_job(const char *tree, const char *state, json_int_t req);
void	 finish_tree(const char *tree);

#endif
