/*
 * libftpagent: the directories and .part files a tree keeps open
 * (localcache.h). A small file of a download costs the agent a
 * local.open and a local.commit; opening the parent beneath the root
 * again for each (openat2 and close), and the .part again to commit it,
 * was most of the system calls of both (issue 16, P6).
 *
 * A kept directory is safe to reuse: if it was removed meanwhile, an
 * entry can no longer be created in it (ENOENT), and a .part in it is
 * gone too, so a commit fails instead of reporting a file that is not
 * there. If it was renamed, the file lands where the directory went, as
 * a write already under way would.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "localcache.h"

struct lc_dir {
	char		*rel;		/* NULL: free */
	int		 fd;
	unsigned long	 used;		/* when, for the one to push out */
};

struct lc_part {
	char		*path;		/* NULL: free */
	int		 fd;
	unsigned long	 used;
};

struct local_cache {
	struct lc_dir	 dirs[LOCAL_DIRS_KEPT];
	struct lc_part	 parts[LOCAL_PARTS_KEPT];
	unsigned long	 clock;
};

static struct local_cache *
lc_get(struct local_cache **cp)
{
	if (*cp == NULL)
		*cp = calloc(1, sizeof(**cp));
	return *cp;
}

static void
dir_drop(struct lc_dir *d)
{
	if (d->rel != NULL) {
		close(d->fd);
		free(d->rel);
	}
	memset(d, 0, sizeof(*d));
}

static void
part_drop(struct lc_part *p)
{
	if (p->path != NULL) {
		close(p->fd);
		free(p->path);
	}
	memset(p, 0, sizeof(*p));
}

int
fa_lc_dir(struct local_cache **cp, int root, const char *rel,
    enum beneath_mode mode)
{
	struct local_cache *c = lc_get(cp);
	struct lc_dir *d, *victim;
	char *copy;
	int fd;
	size_t i;

	if (c != NULL)
		for (i = 0; i < LOCAL_DIRS_KEPT; i++) {
			d = &c->dirs[i];
			if (d->rel != NULL && strcmp(d->rel, rel) == 0) {
				d->used = ++c->clock;
				return d->fd;
			}
		}
	if ((fd = fa_beneath_open_dir(root, rel, O_PATH, mode)) == -1)
		return -1;
	if (c == NULL || (copy = strdup(rel)) == NULL) {
		/* kept nowhere: closed at once, the caller gets ENOMEM */
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	victim = &c->dirs[0];
	for (i = 1; i < LOCAL_DIRS_KEPT; i++)
		if (c->dirs[i].used < victim->used)
			victim = &c->dirs[i];
	dir_drop(victim);
	victim->rel = copy;
	victim->fd = fd;
	victim->used = ++c->clock;
	return fd;
}

void
fa_lc_dirs_forget(struct local_cache *c)
{
	size_t i;

	if (c != NULL)
		for (i = 0; i < LOCAL_DIRS_KEPT; i++)
			dir_drop(&c->dirs[i]);
}

bool
fa_lc_part_keep(struct local_cache **cp, const char *path, int fd)
{
	struct local_cache *c = lc_get(cp);
	struct lc_part *p, *victim = NULL;
	char *copy;
	size_t i;

	if (c == NULL || (copy = strdup(path)) == NULL)
		return false;
	for (i = 0; i < LOCAL_PARTS_KEPT; i++) {
		p = &c->parts[i];
		if (p->path != NULL && strcmp(p->path, path) == 0) {
			victim = p;	/* a file opened again: the new one */
			break;
		}
		if (victim == NULL || p->used < victim->used)
			victim = p;
	}
	part_drop(victim);
	victim->path = copy;
	victim->fd = fd;
	victim->used = ++c->clock;
	return true;
}

int
fa_lc_part_take(struct local_cache *c, const char *path)
{
	struct lc_part *p;
	size_t i;
	int fd;

	if (c == NULL)
		return -1;
	for (i = 0; i < LOCAL_PARTS_KEPT; i++) {
		p = &c->parts[i];
		if (p->path != NULL && strcmp(p->path, path) == 0) {
			fd = p->fd;
			free(p->path);
			memset(p, 0, sizeof(*p));
			return fd;
		}
	}
	return -1;
}

void
fa_lc_free(struct local_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	fa_lc_dirs_forget(c);
	for (i = 0; i < LOCAL_PARTS_KEPT; i++)
		part_drop(&c->parts[i]);
	free(c);
}
