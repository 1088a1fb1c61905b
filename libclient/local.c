/*
 * libftpagent: local.* for a tree (local.h). Every operation splits its
 * path into a parent directory, opened beneath the tree's root by
 * beneath.c, and a last name, used only with the *at calls that do not
 * follow a symbolic link there (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
 * unlinkat, renameat, mkdirat). Something that is not a regular file is
 * checked with fstatat before it is opened, so a FIFO or a device is
 * never opened, and checked again on the descriptor.
 */
#include <config.h>

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent_priv.h"
#include "bytename.h"
#include "linkpath.h"
#include "local.h"
#include "localcache.h"
#include "wire.h"

#define PART_SUFFIX	".part"

/* A request's path: the wire form (for messages) and the bytes, split
 * into parent and name ("" and "" for the root). */
struct lpath {
	const char	*wire;
	char		*buf;		/* bytes; parent NUL name */
	const char	*parent;
	const char	*name;
	bool		 root;
};

static void
lpath_clear(struct lpath *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/* errno to the answer's error kind. */
static void
answer_errno(struct fa_answer *ans, const char *method, const char *wire,
    int e)
{
	char eb[128];
	enum ftpa_err k;

	switch (e) {
	case ENOENT:
	case ENOTDIR:
		k = FTPA_ERR_NOT_FOUND;
		break;
	case EEXIST:
	case ENOTEMPTY:
	case EISDIR:
		k = FTPA_ERR_EXISTS;
		break;
	case EACCES:
	case EPERM:
	case ELOOP:
	case EXDEV:
	case EROFS:
		k = FTPA_ERR_PERMISSION;
		break;
	default:
		k = FTPA_ERR_LOCAL_IO;
	}
	fa_answer_error(ans, k, 0, NULL, "%s %.200s: %s", method, wire,
	    fa_errstr(e, eb, sizeof(eb)));
}

static void
answer_params(struct fa_answer *ans, const char *method, const char *why)
{
	fa_answer_error(ans, FTPA_ERR_NONE, JSONRPC_INVALID_PARAMS, "params",
	    "%s: %s", method, why);
}

/* params.path into p: false with ans set when it is missing or not a
 * plain relative path. */
static bool
lpath_read(const json_t *params, const char *method, struct lpath *p,
    struct fa_answer *ans)
{
	const json_t *v = json_object_get(params, "path");
	size_t len;
	char *slash;
	int e;

	memset(p, 0, sizeof(*p));
	if (!json_is_string(v)) {
		answer_params(ans, method, "path: not a string");
		return false;
	}
	p->wire = json_string_value(v);
	len = json_string_length(v);
	if (strlen(p->wire) != len || (p->buf = strdup(p->wire)) == NULL) {
		answer_params(ans, method, p->buf == NULL && strlen(p->wire) ==
		    len ? "out of memory" : "path: holds a NUL");
		return false;
	}
	len = ftpa_bytes_unescape(p->buf, len);
	if ((e = fa_beneath_check(p->buf, len)) != 0) {
		answer_params(ans, method, e == ENAMETOOLONG ?
		    "path: too long" : "path: not a relative path of names");
		lpath_clear(p);
		return false;
	}
	p->root = len == 0;
	if ((slash = strrchr(p->buf, '/')) == NULL) {
		p->parent = "";
		p->name = p->buf;
	} else {
		*slash = '\0';
		p->parent = p->buf;
		p->name = slash + 1;
	}
	return true;
}

/* The parent directory of p beneath the tree (O_PATH), or -1 with ans
 * set. */
static int
parent_open(const struct local_tree *t, const char *method,
    const struct lpath *p, struct fa_answer *ans)
{
	int fd;

	if ((fd = fa_beneath_open_dir(t->root, p->parent, O_PATH, t->mode)) ==
	    -1)
		answer_errno(ans, method, p->wire, errno);
	return fd;
}

/* The same, kept open for the next request (localcache.h): borrowed,
 * never closed by the caller. */
static int
kept_parent(struct local_tree *t, const char *method, const struct lpath *p,
    struct fa_answer *ans)
{
	int fd;

	if ((fd = fa_lc_dir(&t->cache, t->root, p->parent, t->mode)) == -1)
		answer_errno(ans, method, p->wire, errno);
	return fd;
}

/* NAME.part into buf: false when it does not fit a name. */
static bool
part_name(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s" PART_SUFFIX, name);

	return n > 0 && (size_t)n < len && (size_t)n <= NAME_MAX;
}

/* ---- local.list ---------------------------------------------------------- */

static json_t *
entry_json(int dfd, const char *name)
{
	struct ftp_entry e;
	struct stat st;
	char target[FTPA_LINK_TARGET_MAX + 1];
	ssize_t len;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return NULL;	/* gone meanwhile */
	memset(&e, 0, sizeof(e));
	e.name = (char *)name;
	e.type = S_ISREG(st.st_mode) ? FTP_ENTRY_FILE :
	    S_ISDIR(st.st_mode) ? FTP_ENTRY_DIR :
	    S_ISLNK(st.st_mode) ? FTP_ENTRY_LINK : FTP_ENTRY_OTHER;
	e.size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	e.mtime = (int64_t)st.st_mtim.tv_sec;
	e.perm = (int)(st.st_mode & 07777);
	if (S_ISLNK(st.st_mode) && (len = readlinkat(dfd, name, target,
	    sizeof(target) - 1)) >= 0) {
		/* so that a tree recreating links compares targets */
		target[len] = '\0';
		e.target = target;
	}
	return wire_entry_json(&e);
}

/* The directory p itself, for reading. */
static int
dir_open(const struct local_tree *t, const char *method,
    const struct lpath *p, struct fa_answer *ans)
{
	int pfd, fd;

	if (p->root) {
		if ((fd = fa_beneath_open_dir(t->root, "", O_RDONLY,
		    t->mode)) == -1)
			answer_errno(ans, method, p->wire, errno);
		return fd;
	}
	if ((pfd = parent_open(t, method, p, ans)) == -1)
		return -1;
	fd = openat(pfd, p->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1)
		answer_errno(ans, method, p->wire, errno);
	close(pfd);
	return fd;
}

/*
 * A directory is answered in pages: the LOCAL_LIST_PAGE names after the
 * agent's "after", in strcmp order. Reading the directory again for
 * every page would cost n/LOCAL_LIST_PAGE reads of all of it (20
 * million entries read, and as many compared, for 100,000 names), so
 * the first page reads it once and sorts its names, and the next pages
 * are taken from that: one read and one sort per listing. Only names
 * are kept; a page's entries are stat'ed when it is served.
 *
 * A listing is kept by its path and the directory's identity (one
 * replaced meanwhile is read anew), for at most LOCAL_LIST_SLOTS
 * directories (a tree lists up to 16 at once) and LOCAL_LIST_BYTES of
 * names, the least recently served dropped first. It goes when its last
 * page is served, when a listing of its path starts again (no "after"),
 * or with the tree. A page of a listing no longer kept reads the
 * directory again: slower, never wrong, since a page is just "the names
 * after this one".
 */
struct listing {
	char		*path;		/* the request's wire path */
	dev_t		 dev;
	ino_t		 ino;
	char		**names;	/* sorted; into buf */
	char		*buf;
	size_t		 n;
	size_t		 bytes;		/* what names and buf hold */
	uint64_t	 used;		/* the clock when last served */
};

struct local_listings {
	struct listing	 slot[LOCAL_LIST_SLOTS];
	size_t		 bytes;
	uint64_t	 clock;
};

static void
listing_clear(struct listing *l)
{
	free(l->path);
	free(l->names);
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

static int
name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* One more name into l's buf, its offset into *offs. 0 or ENOMEM. */
static int
name_add(struct listing *l, size_t **offs, size_t *cap, size_t *len,
    const char *name)
{
	size_t nl = strlen(name) + 1;
	size_t *no;
	char *nb;

	if (l->n == *cap) {
		*cap = *cap == 0 ? 64 : *cap * 2;
		if ((no = reallocarray(*offs, *cap, sizeof(**offs))) == NULL)
			return ENOMEM;
		*offs = no;
	}
	if (*len + nl > l->bytes) {
		l->bytes = (l->bytes == 0 ? 4096 : l->bytes * 2) + nl;
		if ((nb = realloc(l->buf, l->bytes)) == NULL)
			return ENOMEM;
		l->buf = nb;
	}
	memcpy(l->buf + *len, name, nl);
	(*offs)[l->n++] = *len;
	*len += nl;
	return 0;
}

/* Every name of d into l. 0, or an errno (E2BIG: too many). */
static int
names_add(DIR *d, struct listing *l, size_t **offs)
{
	struct dirent *de;
	size_t cap = 0, len = 0;
	int e = 0;

	errno = 0;
	while (e == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (l->n == LOCAL_LIST_MAX)
			return E2BIG;
		e = name_add(l, offs, &cap, &len, de->d_name);
		errno = 0;
	}
	return e != 0 ? e : errno;
}

/* The names of the open directory dfd (kept open), sorted, into l
 * (zeroed). 0, or an errno with l cleared. */
static int
names_read(int dfd, struct listing *l)
{
	size_t *offs = NULL, i;
	int fd, e;
	DIR *d;

	memset(l, 0, sizeof(*l));
	if ((fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3)) == -1)
		return errno;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		return e;
	}
	e = names_add(d, l, &offs);
	closedir(d);
	if (e == 0 && l->n > 0 && (l->names = calloc(l->n,
	    sizeof(*l->names))) == NULL)
		e = ENOMEM;
	for (i = 0; e == 0 && i < l->n; i++)
		l->names[i] = l->buf + offs[i];
	free(offs);
	if (e != 0) {
		listing_clear(l);
		return e;
	}
	if (l->n > 1)	/* an empty directory has no array */
		qsort(l->names, l->n, sizeof(*l->names), name_cmp);
	l->bytes += l->n * sizeof(*l->names);
	return 0;
}

static void
lists_drop(struct local_listings *ls, struct listing *l)
{
	ls->bytes -= l->bytes;
	listing_clear(l);
}

/* The kept listing of path in directory st, or NULL. Another of path
 * (the directory was replaced) is dropped. */
static struct listing *
lists_find(struct local_listings *ls, const char *path, const struct stat *st)
{
	size_t i;

	for (i = 0; ls != NULL && i < LOCAL_LIST_SLOTS; i++) {
		if (ls->slot[i].path == NULL ||
		    strcmp(ls->slot[i].path, path) != 0)
			continue;
		if (ls->slot[i].dev == st->st_dev &&
		    ls->slot[i].ino == st->st_ino)
			return &ls->slot[i];
		lists_drop(ls, &ls->slot[i]);
	}
	return NULL;
}

/* A free slot for bytes more, made by dropping the least recently
 * served listings; NULL when bytes alone are too many. */
static struct listing *
lists_room(struct local_listings *ls, size_t bytes)
{
	struct listing *lru;
	size_t i;

	if (bytes > LOCAL_LIST_BYTES)
		return NULL;
	for (;;) {
		lru = NULL;
		for (i = 0; i < LOCAL_LIST_SLOTS; i++)
			if (ls->slot[i].path == NULL) {
				if (ls->bytes + bytes <= LOCAL_LIST_BYTES)
					return &ls->slot[i];
			} else if (lru == NULL || ls->slot[i].used < lru->used)
				lru = &ls->slot[i];
		if (lru == NULL)
			return NULL;
		lists_drop(ls, lru);
	}
}

/* Keeps *l (more than one page) for the next pages: the slot that took
 * it, or l itself when it is not kept (the caller clears it). */
static struct listing *
lists_keep(struct local_tree *t, struct listing *l, const char *path,
    const struct stat *st)
{
	struct listing *slot;

	if (l->n <= LOCAL_LIST_PAGE || (t->lists == NULL && (t->lists =
	    calloc(1, sizeof(*t->lists))) == NULL) ||
	    (slot = lists_room(t->lists, l->bytes)) == NULL ||
	    (l->path = strdup(path)) == NULL)
		return l;
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	*slot = *l;
	memset(l, 0, sizeof(*l));
	t->lists->bytes += slot->bytes;
	return slot;
}

void
fa_local_tree_clear(struct local_tree *t)
{
	size_t i;

	fa_lc_free(t->cache);
	t->cache = NULL;
	if (t->lists == NULL)
		return;
	for (i = 0; i < LOCAL_LIST_SLOTS; i++)
		listing_clear(&t->lists->slot[i]);
	free(t->lists);
	t->lists = NULL;
}

/* The first of l's names after after (l->n: none). */
static size_t
names_after(const struct listing *l, const char *after)
{
	size_t lo = 0, hi = l->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(l->names[mid], after) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The page of l after after (NULL: the first) as the answer: entries
 * that vanished meanwhile are left out, never the page's end. *more
 * when names remain. */
static void
page_answer(int dfd, const struct listing *l, const char *after,
    const struct lpath *p, struct fa_answer *ans, bool *more)
{
	size_t i = after != NULL ? names_after(l, after) : 0, n = 0;
	json_t *entries, *o;

	*more = false;
	if ((entries = json_array()) == NULL)
		goto nomem;
	for (; i < l->n && n < LOCAL_LIST_PAGE; i++) {
		errno = 0;
		if ((o = entry_json(dfd, l->names[i])) == NULL) {
			if (errno == ENOMEM)
				goto nomem;
			continue;	/* gone meanwhile */
		}
		if (json_array_append_new(entries, o) == -1)
			goto nomem;
		n++;
	}
	*more = i < l->n;
	if ((ans->result = json_pack("{s:O,s:b}", "entries", entries, "more",
	    *more)) != NULL) {
		json_decref(entries);
		return;
	}
nomem:
	json_decref(entries);
	answer_errno(ans, "local.list", p->wire, ENOMEM);
}

/* params.after, unescaped into *after (NULL when absent: the first
 * page). false with ans set when it is no string of bytes. */
static bool
after_read(const json_t *params, char **after, struct fa_answer *ans)
{
	const json_t *v = json_object_get(params, "after");
	size_t len;

	*after = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v) || (len = json_string_length(v)) !=
	    strlen(json_string_value(v))) {
		answer_params(ans, "local.list", "after: not a name");
		return false;
	}
	if ((*after = strdup(json_string_value(v))) == NULL) {
		answer_errno(ans, "local.list", "after", ENOMEM);
		return false;
	}
	(void)ftpa_bytes_unescape(*after, len);
	return true;
}

/* The listing of directory dfd for this page: kept, else read (and
 * kept when it has more pages). NULL with ans set. */
static struct listing *
listing_for(struct local_tree *t, int dfd, const struct lpath *p,
    bool first, struct listing *own, struct fa_answer *ans)
{
	struct listing *l;
	struct stat st;
	int e;

	if (fstat(dfd, &st) == -1) {
		answer_errno(ans, "local.list", p->wire, errno);
		return NULL;
	}
	/* a first page always reads: the directory as it is now */
	l = lists_find(t->lists, p->wire, &st);
	if (l != NULL && first)
		lists_drop(t->lists, l);
	else if (l != NULL)
		return l;
	if ((e = names_read(dfd, own)) == E2BIG)
		fa_answer_error(ans, FTPA_ERR_LOCAL_IO, 0, NULL,
		    "local.list %.200s: more than %d entries", p->wire,
		    LOCAL_LIST_MAX);
	else if (e != 0)
		answer_errno(ans, "local.list", p->wire, e);
	return e != 0 ? NULL : lists_keep(t, own, p->wire, &st);
}

static void
local_list(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	struct listing own, *l;
	char *after;
	bool more;
	int fd;

	memset(&own, 0, sizeof(own));
	if (!after_read(params, &after, ans))
		return;
	if ((fd = dir_open(t, "local.list", p, ans)) != -1 &&
	    (l = listing_for(t, fd, p, after == NULL, &own, ans)) != NULL) {
		if (l != &own)
			l->used = ++t->lists->clock;
		page_answer(fd, l, after, p, ans, &more);
		/* the last page served: the listing is done */
		if (l != &own && (!more || ans->result == NULL))
			lists_drop(t->lists, l);
	}
	listing_clear(&own);
	if (fd != -1)
		close(fd);
	free(after);
}

/* ---- local.mkdir --------------------------------------------------------- */

static void
local_mkdir(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	struct stat st;
	int pfd, e = 0;

	if (p->root) {
		ans->result = json_object();
		return;
	}
	if ((pfd = parent_open(t, "local.mkdir", p, ans)) == -1)
		return;
	/* mkdirat never follows a link there: EEXIST */
	if (mkdirat(pfd, p->name, 0777) == -1) {
		e = errno;
		if (e == EEXIST && fstatat(pfd, p->name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			e = 0;
	}
	close(pfd);
	if (e != 0)
		answer_errno(ans, "local.mkdir", p->wire, e);
	else
		ans->result = json_object();
}

/* ---- local.open ---------------------------------------------------------- */

/*
 * name in pfd opened with flags, only if it is (or, creating, becomes) a
 * regular file: never a link (O_NOFOLLOW), a FIFO or a device (refused
 * by fstatat before the open, and by fstat after it). 0 with *fd, *size,
 * or errno (EINVAL: not a regular file).
 */
static int
reg_open(int pfd, const char *name, int flags, int *fd, int64_t *size)
{
	struct stat st;
	int e;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return ELOOP;
		if (!S_ISREG(st.st_mode))
			return EINVAL;
		/* writing a file linked elsewhere writes there too */
		if ((flags & O_ACCMODE) != O_RDONLY && st.st_nlink > 1)
			return EMLINK;
	} else if (errno != ENOENT || !(flags & O_CREAT))
		return errno;
	*fd = openat(pfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0666);
	if (*fd == -1)
		return errno;
	/* O_NONBLOCK stays: a regular file ignores it */
	e = 0;
	if (fstat(*fd, &st) == -1)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	if (e != 0) {
		close(*fd);
		*fd = -1;
		return e;
	}
	*size = (int64_t)st.st_size;
	return 0;
}

static void
local_open(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	bool write = json_is_true(json_object_get(params, "write"));
	bool resume = json_is_true(json_object_get(params, "resume"));
	char part[NAME_MAX + 2];
	int pfd, fd = -1, e, flags, tries;
	int64_t size = 0;

	if (p->root) {
		answer_errno(ans, "local.open", p->wire, EISDIR);
		return;
	}
	if (write && !part_name(p->name, part, sizeof(part))) {
		answer_errno(ans, "local.open", p->wire, ENAMETOOLONG);
		return;
	}
	flags = write ? O_WRONLY | O_CREAT | (resume ? 0 : O_TRUNC) : O_RDONLY;
	for (tries = 0;; tries++) {
		if ((pfd = kept_parent(t, "local.open", p, ans)) == -1)
			return;
		e = reg_open(pfd, write ? part : p->name, flags, &fd, &size);
		if (e != ENOENT || tries > 0)
			break;
		/* the kept directory may be gone (and made again) */
		fa_lc_dirs_forget(t->cache);
	}
	/* a resumed download goes on where the file ends */
	if (e == 0 && write && resume && size > 0 &&
	    lseek(fd, size, SEEK_SET) == -1)
		e = errno;
	if (e == EINVAL) {
		fa_answer_error(ans, FTPA_ERR_LOCAL_IO, 0, NULL, "local.open "
		    "%.200s%s: not a regular file", p->wire, write ?
		    PART_SUFFIX : "");
		return;
	}
	if (e != 0) {
		if (fd != -1)
			close(fd);
		answer_errno(ans, "local.open", p->wire, e);
		return;
	}
	if ((ans->result = json_pack("{s:i,s:I}", "fd", 0, "size",
	    (json_int_t)size)) == NULL) {
		close(fd);
		answer_errno(ans, "local.open", p->wire, ENOMEM);
		return;
	}
	/* a .part stays open for its commit; the answer only lends it */
	ans->fd = fd;
	ans->fd_lent = write && fa_lc_part_keep(&t->cache, p->wire, fd);
}

/* ---- local.commit -------------------------------------------------------- */

/* mtime and perm of a commit: false when present and not numbers. */
static bool
commit_args(const json_t *params, struct timespec ts[2], bool *times,
    int *perm)
{
	const json_t *m = json_object_get(params, "mtime");
	const json_t *pm = json_object_get(params, "perm");

	*times = json_is_integer(m);
	*perm = -1;
	if ((m != NULL && !json_is_null(m) && !*times) ||
	    (pm != NULL && !json_is_null(pm) && !json_is_integer(pm)))
		return false;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = *times ? (time_t)json_integer_value(m) : 0;
	ts[1].tv_nsec = 0;
	/* never set-id bits from a server */
	if (json_is_integer(pm))
		*perm = (int)(json_integer_value(pm) & 0777);
	return true;
}

/* Commits part as name in pfd: its times (ts, unless NULL) and mode
 * (perm, unless < 0) through *fd, opened here when -1, before the final
 * name shows it. 0 or errno. */
static int
commit_in(int pfd, const char *part, const char *name, int *fd,
    const struct timespec *ts, int perm)
{
	int64_t size;
	int e = 0;

	if (*fd == -1 && (e = reg_open(pfd, part, O_RDONLY, fd, &size)) ==
	    EACCES)
		e = reg_open(pfd, part, O_WRONLY, fd, &size);
	if (e == 0 && ts != NULL && futimens(*fd, ts) == -1)
		e = errno;
	if (e == 0 && perm >= 0 && fchmod(*fd, (mode_t)perm) == -1)
		e = errno;
	if (e == 0 && renameat(pfd, part, pfd, name) == -1)
		e = errno;
	return e;
}

static void
local_commit(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	struct timespec ts[2];
	char part[NAME_MAX + 2];
	int pfd, fd, perm, e = 0, tries;
	bool times;

	if (!commit_args(params, ts, &times, &perm)) {
		answer_params(ans, "local.commit", "mtime, perm: not integers");
		return;
	}
	if (p->root || !part_name(p->name, part, sizeof(part))) {
		answer_errno(ans, "local.commit", p->wire, p->root ? EISDIR :
		    ENAMETOOLONG);
		return;
	}
	/* the .part as local.open left it, or opened again */
	fd = fa_lc_part_take(t->cache, p->wire);
	for (tries = 0;; tries++) {
		if ((pfd = kept_parent(t, "local.commit", p, ans)) == -1)
			break;
		e = commit_in(pfd, part, p->name, &fd, times ? ts : NULL, perm);
		if (e != ENOENT || tries > 0)
			break;
		/* the kept directory may be gone (and made again) */
		fa_lc_dirs_forget(t->cache);
	}
	if (fd != -1)
		close(fd);
	if (pfd == -1)
		return;
	if (e == EINVAL)
		fa_answer_error(ans, FTPA_ERR_LOCAL_IO, 0, NULL, "local.commit "
		    "%.200s" PART_SUFFIX ": not a regular file", p->wire);
	else if (e != 0)
		answer_errno(ans, "local.commit", p->wire, e);
	else
		ans->result = json_object();
}

/* ---- local.remove -------------------------------------------------------- */

/* Empties the directory name in pfd, depth first, never following a
 * link (unlinkat removes a link itself). 0, or -1 with errno (E2BIG:
 * too deep or too many). */
static int
empty_dir(int pfd, const char *name, int depth, size_t *n)
{
	struct dirent *de;
	struct stat st;
	int dfd, e = 0;
	DIR *d;

	if (depth >= LOCAL_REMOVE_DEPTH) {
		errno = E2BIG;
		return -1;
	}
	if ((dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((d = fdopendir(dfd)) == NULL) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	while (e == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++*n > LOCAL_REMOVE_MAX)
			e = E2BIG;
		else if (fstatat(dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			e = errno == ENOENT ? 0 : errno;
		else if (S_ISDIR(st.st_mode) && (empty_dir(dfd, de->d_name,
		    depth + 1, n) == -1 || unlinkat(dfd, de->d_name,
		    AT_REMOVEDIR) == -1))
			e = errno;
		else if (!S_ISDIR(st.st_mode) && unlinkat(dfd, de->d_name,
		    0) == -1 && errno != ENOENT)
			e = errno;
	}
	closedir(d);
	errno = e;
	return e == 0 ? 0 : -1;
}

static void
local_remove(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	bool recursive = json_is_true(json_object_get(params, "recursive"));
	struct stat st;
	size_t n = 0;
	int pfd, e = 0;

	if (p->root) {
		fa_answer_error(ans, FTPA_ERR_PERMISSION, 0, NULL, "local.remove "
		    "%.200s: not the tree's root", p->wire);
		return;
	}
	if ((pfd = parent_open(t, "local.remove", p, ans)) == -1)
		return;
	if (fstatat(pfd, p->name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		e = errno;
	else if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(pfd, p->name, 0) == -1)
			e = errno;
	} else if ((recursive && empty_dir(pfd, p->name, 0, &n) == -1) ||
	    unlinkat(pfd, p->name, AT_REMOVEDIR) == -1)
		e = errno;
	close(pfd);
	/* a directory kept open may be gone now */
	fa_lc_dirs_forget(t->cache);
	if (e == E2BIG)
		fa_answer_error(ans, FTPA_ERR_LOCAL_IO, 0, NULL, "local.remove "
		    "%.200s: more than %d levels or %d entries", p->wire,
		    LOCAL_REMOVE_DEPTH, LOCAL_REMOVE_MAX);
	else if (e != 0)
		answer_errno(ans, "local.remove", p->wire, e);
	else
		ans->result = json_object();
}

/* ---- local.symlink --------------------------------------------------------- */

/*
 * A link the server has, made again here: only one whose target stays in
 * the tree (the agent checks too), and only over nothing or over a link.
 */
static void
local_symlink(struct local_tree *t, const json_t *params,
    const struct lpath *p, struct fa_answer *ans)
{
	const json_t *v = json_object_get(params, "target");
	struct stat st;
	char *target;
	int pfd, e = 0;

	if (!json_is_string(v) || json_string_length(v) !=
	    strlen(json_string_value(v))) {
		answer_params(ans, "local.symlink", "target: not a string");
		return;
	}
	if ((target = strdup(json_string_value(v))) == NULL) {
		answer_errno(ans, "local.symlink", p->wire, ENOMEM);
		return;
	}
	(void)ftpa_bytes_unescape(target, strlen(target));
	if (p->root || !ftpa_link_target_inside(p->wire, target)) {
		fa_answer_error(ans, FTPA_ERR_PERMISSION, 0, NULL,
		    "local.symlink %.200s: a target outside the tree", p->wire);
		free(target);
		return;
	}
	if ((pfd = parent_open(t, "local.symlink", p, ans)) == -1) {
		free(target);
		return;
	}
	if (fstatat(pfd, p->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISLNK(st.st_mode))
			e = EEXIST;
		else if (unlinkat(pfd, p->name, 0) == -1)
			e = errno;
	}
	if (e == 0 && symlinkat(target, pfd, p->name) == -1)
		e = errno;
	close(pfd);
	free(target);
	if (e != 0)
		answer_errno(ans, "local.symlink", p->wire, e);
	else
		ans->result = json_object();
}

/* ---- dispatch ------------------------------------------------------------ */

static const struct {
	const char	*method;
	bool		 writes;	/* local.open: when "write" */
	void		(*serve)(struct local_tree *, const json_t *,
			    const struct lpath *, struct fa_answer *);
} local_methods[] = {
	{ "local.list", false, local_list },
	{ "local.mkdir", true, local_mkdir },
	{ "local.open", false, local_open },
	{ "local.commit", true, local_commit },
	{ "local.remove", true, local_remove },
	{ "local.symlink", true, local_symlink },
};

void
fa_local_serve(struct local_tree *t, const char *method,
    const json_t *params, struct fa_answer *ans)
{
	struct lpath p;
	size_t i;

	for (i = 0; i < sizeof(local_methods) / sizeof(local_methods[0]); i++)
		if (strcmp(method, local_methods[i].method) == 0)
			break;
	if (i == sizeof(local_methods) / sizeof(local_methods[0])) {
		fa_answer_error(ans, FTPA_ERR_NONE, JSONRPC_METHOD_NOT_FOUND,
		    "method", "%.64s: unknown method", method);
		return;
	}
	if (!json_is_object(params)) {
		answer_params(ans, method, "params: not an object");
		return;
	}
	/* a dry run, or an upload, changes nothing here */
	if (!t->writable && (local_methods[i].writes ||
	    json_is_true(json_object_get(params, "write")))) {
		fa_answer_error(ans, FTPA_ERR_PERMISSION, 0, NULL,
		    "%s: this tree does not write here", method);
		return;
	}
	if (!lpath_read(params, method, &p, ans))
		return;
	local_methods[i].serve(t, params, &p, ans);
	lpath_clear(&p);
}
