/*
 * What a tree transfer decides without doing I/O: which names are safe to
 * use as one local path component, which paths the include and exclude
 * globs let through, whether a file must be transferred, and the paths
 * built from the tree's root. tree.c does the walking and the work.
 */
#ifndef FTPA_TREE_PLAN_H
#define FTPA_TREE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ftp_list.h"
#include "linkpath.h"

#define TREE_DEPTH_MAX		128	/* levels below the root */
#define TREE_PATH_MAX		4000	/* bytes of a path below the root */
#define TREE_NAME_MAX		FTPA_TREE_NAME_MAX	/* linkpath.h */
#define TREE_ENTRIES_MAX	1000000	/* entries listed in one tree */
#define TREE_PARALLEL_MAX	16
#define TREE_GLOBS_MAX		64	/* include + exclude globs */
#define TREE_LINKS_MAX		8	/* links followed on one path */

enum tree_compare {
	TREE_CMP_DIFFER,	/* missing, or size or mtime differs */
	TREE_CMP_MISSING,	/* only what the destination lacks */
	TREE_CMP_ALL,		/* everything */
	TREE_CMP_LAST
};

struct tree_opts {
	bool		 put;		/* local to remote */
	enum tree_compare compare;
	bool		 newer_only;
	bool		 delete;
	bool		 dry_run;
	bool		 times;
	bool		 perms;
	bool		 cont;		/* resume NAME.part */
	bool		 items;		/* tree.item notifications */
	bool		 follow;	/* get: a link is what it points to */
	bool		 recreate;	/* get: a link is made again locally */
	char		**include;	/* NULL-terminated, or NULL */
	char		**exclude;
	int		 max_depth;	/* 0: the root's files only */
	int		 parallel;
};

void	 tree_opts_clear(struct tree_opts *);
/* "differ", ...; -1 when unknown. */
int	 tree_compare_from_name(const char *);

/* Whether the globs let a file (dir false) or a directory through; rel
 * is its path below the root, name its last component. */
bool	 tree_wanted(const struct tree_opts *, const char *rel,
	    const char *name, bool dir);
/*
 * Whether src must be transferred over dst (NULL: the destination has
 * none). coarse: one side's times come from LIST (minutes at best, or a
 * day for old files), so times closer than that are equal.
 */
bool	 tree_should_copy(const struct tree_opts *, const struct ftp_entry *src,
	    const struct ftp_entry *dst, bool coarse);
/*
 * Where an upload of src over dst goes on (0: from the start). Only
 * with continue, over a shorter file of the server's written since src
 * last changed (what an upload cut short leaves); an older or longer one
 * is another file, sent again whole.
 */
int64_t	 tree_put_resume_at(const struct tree_opts *,
	    const struct ftp_entry *src, const struct ftp_entry *dst);
/* Sorts entries by name (bytes) and drops the later of equal names;
 * *n becomes the count kept. */
void	 tree_entries_sort(struct ftp_entry *, size_t *n);
/* Whether a download of name would meet the partial file of another:
 * name is "X.part" and X is in the sorted listing e (both would be
 * written as, or renamed over, X.part). */
bool	 tree_part_clash(const char *name, const struct ftp_entry *e,
	    size_t n);
/* dir/name below the root ("" is the root); malloc'd. */
char	*tree_join(const char *dir, const char *name);
/* The server's path of rel below the remote root root; malloc'd. */
char	*tree_remote_path(const char *root, const char *rel);

#endif
