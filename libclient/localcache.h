/*
 * localcache: what a tree's local side keeps open between the agent's
 * requests, so that a small file costs few system calls: the parent
 * directories opened last (O_PATH, resolved beneath the root by
 * beneath.h) and the NAME.part files handed out by local.open, until
 * their local.commit. Both are bounded; an entry pushed out is closed,
 * and the next request that needs it opens it again as if it had never
 * been kept. No JSON, no I/O beyond open and close.
 */
#ifndef FTPAGENT_LOCALCACHE_H
#define FTPAGENT_LOCALCACHE_H

#include <stdbool.h>

#include "beneath.h"

#define LOCAL_DIRS_KEPT		8	/* parent directories */
#define LOCAL_PARTS_KEPT	64	/* open .part files (a tree has at
					   most 16 files in flight, and
					   their commits) */

struct local_cache;

/*
 * The directory rel (bytes, checked by the caller) beneath root, kept in
 * *cp (allocated on first use): a descriptor the caller borrows and
 * never closes, valid until the next call here. -1 with errno as
 * fa_beneath_open_dir sets it.
 */
int	fa_lc_dir(struct local_cache **cp, int root, const char *rel,
	    enum beneath_mode mode);

/* Closes the kept directories: a removal may have taken one away. */
void	fa_lc_dirs_forget(struct local_cache *c);

/* fd kept as the open .part of path, replacing (and closing) an older
 * one: the cache owns it from now on, and the caller may only borrow it
 * until the next call here. false (out of memory): not kept, still the
 * caller's. */
bool	fa_lc_part_keep(struct local_cache **cp, const char *path, int fd);

/* The kept .part of path, taken out: the caller closes it. -1: none. */
int	fa_lc_part_take(struct local_cache *c, const char *path);

/* Closes and frees everything kept; c may be NULL. */
void	fa_lc_free(struct local_cache *c);

#endif
