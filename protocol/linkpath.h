/*
 * Names and link targets in trees, by their text alone (no I/O). A
 * server's name becomes a local path component only when it is one
 * name (ftpa_tree_name_unsafe), whoever lists it: the agent's trees and
 * ftpctl's segmented globs. A tree that recreates a server's links keeps
 * only those that stay in the tree, so that nothing it makes points
 * outside the directory the user chose; both the agent (planning) and
 * libftpagent (local.symlink) check it.
 */
#ifndef FTPA_LINKPATH_H
#define FTPA_LINKPATH_H

#include <stdbool.h>

#define FTPA_LINK_TARGET_MAX	1024	/* bytes of a target kept */
#define FTPA_TREE_NAME_MAX	250	/* bytes of a name: NAME.part fits
					   in NAME_MAX */

/*
 * True when target, the target of a link at path link (relative to a
 * root, components separated by "/"), is relative and, read from the
 * link's directory, never goes above the root ("a/l" -> "../b" stays,
 * "a/l" -> "../../b" leaves); also false for an empty target, one
 * longer than FTPA_LINK_TARGET_MAX or holding a control character.
 */
bool	ftpa_link_target_inside(const char *link, const char *target);

/* NULL when name can be one component of a local path: not empty, not
 * "." or "..", no "/", no control character, at most FTPA_TREE_NAME_MAX
 * bytes; else why not (static). */
const char *ftpa_tree_name_unsafe(const char *name);

#endif
