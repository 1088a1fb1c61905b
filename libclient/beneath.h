/*
 * beneath: paths that the agent names below a directory the caller
 * chose, checked and resolved so that nothing outside it is reached.
 * A path is relative, its components separated by '/', each non-empty
 * and neither "." nor ".."; "" is the directory itself. Resolution
 * never follows a symbolic link, at any component: openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or, where the kernel lacks it,
 * one openat(O_NOFOLLOW | O_DIRECTORY) per component. No I/O beyond
 * those lookups; no JSON.
 */
#ifndef FTPAGENT_BENEATH_H
#define FTPAGENT_BENEATH_H

#include <stddef.h>

enum beneath_mode {
	BENEATH_AUTO,		/* openat2, else the walk */
	BENEATH_WALK,		/* the walk only (tests) */
};

/* 0 when path (len bytes, no NUL among them) is a valid relative path,
 * else EINVAL (ENAMETOOLONG past PATH_MAX or a component past NAME_MAX). */
int	fa_beneath_check(const char *path, size_t len);

/*
 * Opens the directory rel (checked; "" is root itself) beneath root with
 * oflags (O_PATH or O_RDONLY; O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC are
 * added). Returns the descriptor, or -1 with errno: ELOOP, ENOTDIR or
 * EXDEV where a symbolic link or an escape was refused.
 */
int	fa_beneath_open_dir(int root, const char *rel, int oflags,
	    enum beneath_mode mode);

#endif
