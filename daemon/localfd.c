#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "localfd.h"
#include "util.h"

/* The access a passed descriptor carries, checked; NULL when fine. */
static const char *
localfd_check_access(int fl, bool for_write)
{
	int	acc = fl & O_ACCMODE;

	/* a path, not an open file: it carries no access to use */
	if (fl & O_PATH)
		return "the passed file descriptor is an O_PATH descriptor; "
		    "pass one opened for reading or writing";
	if (for_write ? acc == O_RDONLY : acc == O_WRONLY)
		return for_write ?
		    "the passed file descriptor is not open for writing" :
		    "the passed file descriptor is not open for reading";
	return NULL;
}

/*
 * A pipe (FIFO), never reopened (through /proc or otherwise): a new open
 * would be done with the agent's privileges, not with the access the
 * client's descriptor carries. The client's own description is made
 * non-blocking for the transfer and put back as it was at the end.
 */
static const char *
localfd_open_fifo(struct localfd *lf, int fd, int fl)
{
	if (!(fl & O_NONBLOCK)) {
		if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			return "cannot make the passed pipe non-blocking";
		lf->restore = true;
		lf->restore_fl = fl;
	}
	lf->kind = LFD_STREAM;
	return NULL;
}

/* A regular file or a block device: used at its shared file position, as
 * cat would (output after what the shell already wrote, O_APPEND
 * honoured); only a resume moves it. */
static const char *
localfd_open_file(struct localfd *lf, int fd, const struct stat *st,
    int64_t offset)
{
	if (offset < 0)
		return "negative offset";
	if (offset > 0 && lseek(fd, offset, SEEK_SET) == -1)
		return "cannot seek in the passed file";
	lf->kind = LFD_FILE;
	lf->regular = S_ISREG(st->st_mode);
	return NULL;
}

int
localfd_open(struct localfd *lf, int fd, bool for_write, int64_t offset,
    const char **err)
{
	struct stat	st;
	int		fl;

	memset(lf, 0, sizeof(*lf));
	lf->fd = -1;
	if (fstat(fd, &st) == -1 || (fl = fcntl(fd, F_GETFL)) == -1)
		*err = "cannot inspect the passed file descriptor";
	else if ((*err = localfd_check_access(fl, for_write)) != NULL)
		;
	else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
	    minor(st.st_rdev) == 3 && for_write)
		lf->kind = LFD_FILE;	/* /dev/null never blocks: to count */
	else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		*err = localfd_open_file(lf, fd, &st, offset);
	else if (S_ISSOCK(st.st_mode))
		lf->kind = LFD_SOCKET;
	else if (S_ISCHR(st.st_mode))
		/* reopening a terminal or device through /proc would open the
		 * daemon's own tty or a new pty: not what the client passed */
		*err = "terminals and devices cannot be passed; pass a pipe or "
		    "a file";
	else if (S_ISFIFO(st.st_mode))
		*err = localfd_open_fifo(lf, fd, fl);
	else
		*err = "unsupported kind of file descriptor";
	if (*err != NULL) {
		close(fd);
		lf->kind = LFD_NONE;
		return -1;
	}
	lf->append = (fl & O_APPEND) != 0;
	lf->fd = fd;
	return 0;
}

void
localfd_open_mem_sink(struct localfd *lf, size_t max)
{
	memset(lf, 0, sizeof(*lf));
	lf->fd = -1;
	lf->kind = LFD_MEMORY;
	lf->mem_max = max;
}

void
localfd_open_mem_source(struct localfd *lf, char *data, size_t len)
{
	memset(lf, 0, sizeof(*lf));
	lf->fd = -1;
	lf->kind = LFD_MEMORY;
	lf->mem = data;
	lf->mem_len = lf->mem_cap = lf->mem_max = len;
}

/* A pipe's read or write that never blocks, even when the client has
 * cleared O_NONBLOCK on the description it shares with us; kernels
 * without RWF_NOWAIT for pipes (before 5.x) rely on O_NONBLOCK. */
static ssize_t
stream_io(struct localfd *lf, struct iovec *iov, bool out)
{
	ssize_t	n;

	if (!lf->no_nowait) {
		n = out ? pwritev2(lf->fd, iov, 1, -1, RWF_NOWAIT) :
		    preadv2(lf->fd, iov, 1, -1, RWF_NOWAIT);
		if (n != -1 || errno != EOPNOTSUPP)
			return n;
		lf->no_nowait = true;
	}
	return out ? write(lf->fd, iov->iov_base, iov->iov_len) :
	    read(lf->fd, iov->iov_base, iov->iov_len);
}

ssize_t
localfd_write(struct localfd *lf, const void *p, size_t n)
{
	struct iovec	iov = { (void *)p, n };

	switch (lf->kind) {
	case LFD_FILE:
		return write(lf->fd, p, n);
	case LFD_STREAM:
		/* not O_NONBLOCK alone: the client shares that flag and may
		 * clear it; RWF_NOWAIT holds for this call whatever it does */
		return stream_io(lf, &iov, true);
	case LFD_SOCKET:
		return send(lf->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	case LFD_MEMORY:
		if (lf->mem_len + n > lf->mem_max) {
			errno = EFBIG;
			return -1;
		}
		if (lf->mem_len + n > lf->mem_cap) {
			size_t	cap = lf->mem_cap ? lf->mem_cap : 65536;

			while (cap < lf->mem_len + n)
				cap *= 2;
			lf->mem = xrealloc(lf->mem, cap);
			lf->mem_cap = cap;
		}
		memcpy(lf->mem + lf->mem_len, p, n);
		lf->mem_len += n;
		return n;
	default:
		errno = EBADF;
		return -1;
	}
}

ssize_t
localfd_read(struct localfd *lf, void *p, size_t n)
{
	struct iovec	iov = { p, n };

	switch (lf->kind) {
	case LFD_FILE:
		return read(lf->fd, p, n);
	case LFD_STREAM:
		/* see localfd_write */
		return stream_io(lf, &iov, false);
	case LFD_SOCKET:
		return recv(lf->fd, p, n, MSG_DONTWAIT);
	case LFD_MEMORY:
		if (n > lf->mem_len - lf->mem_pos)
			n = lf->mem_len - lf->mem_pos;
		memcpy(p, lf->mem + lf->mem_pos, n);
		lf->mem_pos += n;
		return n;
	default:
		errno = EBADF;
		return -1;
	}
}

bool
localfd_splice_sink(const struct localfd *lf)
{
	/* splice(2) refuses files opened for appending (EINVAL) */
	return (lf->kind == LFD_FILE && !lf->append) || lf->kind == LFD_STREAM;
}

bool
localfd_sendfile_source(const struct localfd *lf)
{
	return lf->kind == LFD_FILE && lf->regular;
}

int
localfd_pollfd(const struct localfd *lf)
{
	return lf->kind == LFD_STREAM || lf->kind == LFD_SOCKET ? lf->fd : -1;
}

int64_t
localfd_size(const struct localfd *lf)
{
	struct stat	st;

	if (lf->kind == LFD_MEMORY)
		return lf->mem_len;
	if (lf->kind == LFD_FILE && fstat(lf->fd, &st) == 0 && S_ISREG(st.st_mode))
		return st.st_size;
	return -1;
}

int
localfd_rewind(struct localfd *lf, bool truncate)
{
	if (lf->kind == LFD_MEMORY) {
		lf->mem_len = truncate ? 0 : lf->mem_len;
		lf->mem_pos = 0;
		return 0;
	}
	if (lf->kind != LFD_FILE || lseek(lf->fd, 0, SEEK_SET) == -1)
		return -1;
	if (truncate && ftruncate(lf->fd, 0) == -1)
		return -1;
	return 0;
}

int
localfd_seek(struct localfd *lf, int64_t off)
{
	struct stat	st;

	if (off < 0)
		return -1;
	if (lf->kind == LFD_MEMORY) {
		if ((uint64_t)off > lf->mem_len)
			return -1;
		lf->mem_pos = (size_t)off;
		return 0;
	}
	if (lf->kind != LFD_FILE || fstat(lf->fd, &st) == -1 ||
	    off > st.st_size || lseek(lf->fd, off, SEEK_SET) == -1)
		return -1;
	return 0;
}

void
localfd_close(struct localfd *lf)
{
	if (lf->fd != -1) {
		if (lf->restore)
			(void)fcntl(lf->fd, F_SETFL, lf->restore_fl);
		close(lf->fd);
	}
	lf->fd = -1;
	lf->restore = false;
	free(lf->mem);
	lf->mem = NULL;
	lf->kind = LFD_NONE;
}
