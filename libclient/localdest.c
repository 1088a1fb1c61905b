#include <config.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "localdest.h"

#define FIFO_POLL_MS	20

/* The contents of the symbolic link path, from malloc. */
static char *
read_link(const char *path)
{
	size_t cap = 256;
	ssize_t n;
	char *buf;

	for (;;) {
		if ((buf = malloc(cap)) == NULL)
			return NULL;
		if ((n = readlink(path, buf, cap)) == -1) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			return buf;
		}
		free(buf);
		if (cap > SIZE_MAX / 2) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		cap *= 2;
	}
}

/* Where the link at link, holding dest, points: a relative dest is
 * taken from the link's directory. */
static char *
link_target(const char *link, const char *dest)
{
	const char *slash = strrchr(link, '/');
	char *s;

	if (dest[0] == '/' || slash == NULL)
		return strdup(dest);
	if (asprintf(&s, "%.*s/%s", (int)(slash - link), link, dest) == -1)
		return NULL;
	return s;
}

void
localdest_clear(struct localdest *d)
{
	free(d->path);
	free(d->part);
	memset(d, 0, sizeof(*d));
}

/* d->part: d->path + suffix. 0, or -1 with errno ENOMEM (d unchanged). */
static int
part_name(struct localdest *d, const char *suffix)
{
	char *part;

	if (asprintf(&part, "%s%s", d->path, suffix) == -1) {
		errno = ENOMEM;
		return -1;
	}
	free(d->part);
	d->part = part;
	return 0;
}

int
localdest_resolve(const char *local, struct localdest *d)
{
	struct stat st;
	char *cur, *dest, *next;
	int hops = 0, e;

	memset(d, 0, sizeof(*d));
	/* The kernel's own resolution tells what is at the end; /proc's
	 * magic links (/dev/stdout) are followed only that way. */
	if (stat(local, &st) == 0) {
		d->type = st.st_mode & S_IFMT;
		if (!S_ISREG(st.st_mode)) {
			d->kind = S_ISDIR(st.st_mode) ? LOCALDEST_DIR :
			    LOCALDEST_INPLACE;
			if ((d->path = strdup(local)) == NULL)
				return -1;
			return 0;
		}
	} else if (errno != ENOENT)
		return -1;

	/* a regular file or nothing: the name at the end of the chain */
	if ((cur = strdup(local)) == NULL)
		return -1;
	for (;;) {
		if (lstat(cur, &st) == -1) {
			if (errno == ENOENT)
				break;
			goto fail;
		}
		if (!S_ISLNK(st.st_mode))
			break;
		if (++hops > LOCALDEST_MAX_LINKS) {
			errno = ELOOP;
			goto fail;
		}
		if ((dest = read_link(cur)) == NULL)
			goto fail;
		next = link_target(cur, dest);
		free(dest);
		if (next == NULL)
			goto fail;
		free(cur);
		cur = next;
	}
	d->kind = LOCALDEST_FILE;
	d->path = cur;
	if (part_name(d, LOCALDEST_PART) == -1) {
		localdest_clear(d);
		errno = ENOMEM;
		return -1;
	}
	return 0;
fail:
	e = errno;
	free(cur);
	errno = e;
	return -1;
}

int
localdest_part_segmented(struct localdest *d)
{
	return part_name(d, LOCALDEST_SEGMENTS_PART);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
localdest_open(const struct localdest *d, int timeout_ms)
{
	const int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int fd, fl, e;

	if (d->path == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!S_ISFIFO(d->type))
		fd = open(d->path, flags);
	else {
		/* open(2) would wait for a reader forever; this waits until
		 * the deadline */
		while ((fd = open(d->path, flags | O_NONBLOCK)) == -1 &&
		    errno == ENXIO && now_ms() < deadline)
			poll(NULL, 0, FIFO_POLL_MS);
		if (fd != -1 && ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1))
			goto fail;
	}
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	/* written in place without truncation, a regular file would keep
	 * its old tail: it must take the .part way, so start again */
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		errno = EAGAIN;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}
