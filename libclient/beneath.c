/*
 * beneath: checking and resolving the agent's relative paths below a
 * directory descriptor (beneath.h).
 */
#include <config.h>

#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "beneath.h"

int
fa_beneath_check(const char *path, size_t len)
{
	size_t i, start = 0, n;

	if (len == 0)
		return 0;
	if (len >= PATH_MAX)
		return ENAMETOOLONG;
	for (i = 0; i <= len; i++) {
		if (i < len && path[i] == '\0')
			return EINVAL;
		if (i < len && path[i] != '/')
			continue;
		n = i - start;
		if (n == 0 || (n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
			return EINVAL;
		if (n > NAME_MAX)
			return ENAMETOOLONG;
		start = i + 1;
	}
	return 0;
}

/* One component at a time, each opened with O_NOFOLLOW | O_DIRECTORY:
 * a symbolic link fails (ENOTDIR), and rel holds no "..". */
static int
walk(int root, const char *rel, int oflags)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *slash;
	int cur = root, next, e;
	size_t len;

	for (;;) {
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > NAME_MAX) {
			e = len == 0 ? EINVAL : ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			e = EINVAL;
			goto fail;
		}
		next = openat(cur, comp, (slash != NULL ? O_PATH : oflags) |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		if (cur != root)
			close(cur);
		if (next == -1) {
			errno = e;
			return -1;
		}
		cur = next;
		if (slash == NULL)
			return cur;
		p = slash + 1;
	}
fail:
	if (cur != root)
		close(cur);
	errno = e;
	return -1;
}

int
fa_beneath_open_dir(int root, const char *rel, int oflags,
    enum beneath_mode mode)
{
	struct open_how how;
	long fd;
	int e;

	if ((e = fa_beneath_check(rel, strlen(rel))) != 0) {
		errno = e;
		return -1;
	}
	if (*rel == '\0')
		return openat(root, ".", oflags | O_DIRECTORY | O_CLOEXEC);
	if (mode == BENEATH_AUTO) {
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(oflags | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		fd = syscall(SYS_openat2, root, rel, &how, sizeof(how));
		/* ENOSYS: before Linux 5.6; EPERM: a seccomp filter that
		 * does not know it. The walk is as safe, only slower. */
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
	}
	return walk(root, rel, oflags);
}
