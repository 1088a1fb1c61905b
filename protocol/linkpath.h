/*
 * Where a symbolic link's target leads, by its text alone (no I/O): a
 * tree that recreates a server's links keeps only those that stay in the
 * tree, so that nothing it makes points outside the directory the user
 * chose. Both the agent (planning) and libftpagent (local.symlink)
 * check it.
 */
#ifndef FTPA_LINKPATH_H
#define FTPA_LINKPATH_H

#include <stdbool.h>

#define FTPA_LINK_TARGET_MAX	1024	/* bytes of a target kept */

/*
 * True when target, the target of a link at path link (relative to a
 * root, components separated by "/"), is relative and, read from the
 * link's directory, never goes above the root ("a/l" -> "../b" stays,
 * "a/l" -> "../../b" leaves); also false for an empty target, one
 * longer than FTPA_LINK_TARGET_MAX or holding a control character.
 */
bool	ftpa_link_target_inside(const char *link, const char *target);

#endif
