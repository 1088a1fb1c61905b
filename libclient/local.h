/*
 * local: the local side of a tree (docs/protocol.md, "Requests from the
 * agent: local.*"). local.list, local.mkdir, local.open, local.commit and
 * local.remove done beneath the tree's directory descriptor, every path
 * checked and resolved by beneath.h, never following a symbolic link;
 * each answered as a result (with at most one descriptor) or an error of
 * kind not_found, exists, permission, local_io (or params).
 */
#ifndef FTPAGENT_LOCAL_H
#define FTPAGENT_LOCAL_H

#include <stdbool.h>

#include <jansson.h>

#include "beneath.h"

struct fa_answer;
struct local_listings;
struct local_cache;

#define LOCAL_LIST_MAX		100000	/* entries of one directory */
#define LOCAL_LIST_PAGE		500	/* entries of one local.list answer */
#define LOCAL_LIST_SLOTS	16	/* directories whose pages are kept
					   (a tree lists at most 16 at once) */
#define LOCAL_LIST_BYTES	(64 * 1024 * 1024) /* and their names */
#define LOCAL_REMOVE_DEPTH	64	/* levels local.remove descends */
#define LOCAL_REMOVE_MAX	100000	/* entries it removes */

/* What the tree lets the agent do locally. */
struct local_tree {
	int		 root;		/* the tree's directory (ours) */
	bool		 writable;	/* a download, not a dry run */
	enum beneath_mode mode;
	struct local_listings *lists;	/* directories being paged (NULL:
					   none yet); fa_local_tree_clear */
	struct local_cache *cache;	/* what stays open between requests
					   (localcache.h); likewise */
};

/* Serves method (a local.* name) with params; ans filled either way. */
void	fa_local_serve(struct local_tree *t, const char *method,
	    const json_t *params, struct fa_answer *ans);

/* Frees what serving kept (the listings being paged, the directories
 * and files kept open); not root. */
void	fa_local_tree_clear(struct local_tree *t);

#endif
