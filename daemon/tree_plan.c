#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "tree_plan.h"
#include "util.h"

static const char *compare_names[TREE_CMP_LAST] = {
	"differ", "missing", "all",
};

static void
strv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void
tree_opts_clear(struct tree_opts *o)
{
	strv_free(o->include);
	strv_free(o->exclude);
	o->include = o->exclude = NULL;
}

int
tree_compare_from_name(const char *s)
{
	for (int i = 0; s != NULL && i < TREE_CMP_LAST; i++)
		if (strcmp(s, compare_names[i]) == 0)
			return i;
	return -1;
}

/* A glob with a "/" is matched against the whole path below the root,
 * one without against the name, as rsync and lftp do. */
static bool
glob_match(char **globs, const char *rel, const char *name)
{
	for (char **g = globs; g && *g; g++) {
		if (strchr(*g, '/') != NULL ?
		    fnmatch(*g, rel, FNM_PATHNAME | FNM_PERIOD) == 0 :
		    fnmatch(*g, name, FNM_PERIOD) == 0)
			return true;
	}
	return false;
}

bool
tree_wanted(const struct tree_opts *o, const char *rel, const char *name,
    bool dir)
{
	if (glob_match(o->exclude, rel, name))
		return false;
	/* includes choose files; directories are walked to find them */
	if (dir || o->include == NULL || o->include[0] == NULL)
		return true;
	return glob_match(o->include, rel, name);
}

/* LIST gives minutes, and only a day for files older than six months
 * (then the time reads midnight). */
static bool
same_time(int64_t a, int64_t b, bool coarse)
{
	int64_t	d = a > b ? a - b : b - a;

	if (!coarse)
		return d == 0;
	if (d < 60)
		return true;
	return d < 86400 && (a % 86400 == 0 || b % 86400 == 0);
}

static bool
times_known(const struct ftp_entry *a, const struct ftp_entry *b)
{
	return a->mtime != INT64_MIN && b->mtime != INT64_MIN;
}

bool
tree_should_copy(const struct tree_opts *o, const struct ftp_entry *src,
    const struct ftp_entry *dst, bool coarse)
{
	if (dst == NULL)
		return true;
	if (o->newer_only && (!times_known(src, dst) ||
	    same_time(src->mtime, dst->mtime, coarse) ||
	    src->mtime < dst->mtime))
		return false;
	switch (o->compare) {
	case TREE_CMP_ALL:
		return true;
	case TREE_CMP_MISSING:
		return false;
	case TREE_CMP_DIFFER:
	default:
		if (src->size >= 0 && dst->size >= 0 && src->size != dst->size)
			return true;
		return times_known(src, dst) &&
		    !same_time(src->mtime, dst->mtime, coarse);
	}
}

int64_t
tree_put_resume_at(const struct tree_opts *o, const struct ftp_entry *src,
    const struct ftp_entry *dst)
{
	/* LIST floors the server's time (to the minute, or the day): a
	 * floored time not before src's is a real one not before it */
	if (!o->put || !o->cont || dst == NULL ||
	    dst->type != FTP_ENTRY_FILE || src->type != FTP_ENTRY_FILE ||
	    dst->size <= 0 || src->size <= dst->size ||
	    !times_known(src, dst) || dst->mtime < src->mtime)
		return 0;
	return dst->size;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ftp_entry *)a)->name,
	    ((const struct ftp_entry *)b)->name);
}

void
tree_entries_sort(struct ftp_entry *e, size_t *n)
{
	size_t	i, k = 0;

	if (*n == 0)
		return;
	qsort(e, *n, sizeof(*e), entry_cmp);
	for (i = 0; i < *n; i++) {
		if (k > 0 && strcmp(e[k - 1].name, e[i].name) == 0) {
			ftp_entry_clear(&e[i]);
			continue;
		}
		if (k != i)
			e[k] = e[i];
		k++;
	}
	*n = k;
}

bool
tree_part_clash(const char *name, const struct ftp_entry *e, size_t n)
{
	size_t	 len = strlen(name), lo = 0, hi = n, mid;
	int	 c;
	char	*stem;

	if (len <= 5 || strcmp(name + len - 5, ".part") != 0)
		return false;
	stem = xstrdup(name);
	stem[len - 5] = '\0';
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(stem, e[mid].name)) == 0)
			break;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	free(stem);
	return lo < hi;
}

char *
tree_join(const char *dir, const char *name)
{
	if (*dir == '\0')
		return xstrdup(name);
	return xasprintf("%s/%s", dir, name);
}

char *
tree_remote_path(const char *root, const char *rel)
{
	size_t	len = strlen(root);

	while (len > 1 && root[len - 1] == '/')
		len--;
	if (*rel == '\0')
		return xasprintf("%.*s", (int)len, root);
	if (len == 0)
		return xstrdup(rel);
	if (len == 1 && root[0] == '/')
		return xasprintf("/%s", rel);
	return xasprintf("%.*s/%s", (int)len, root, rel);
}
