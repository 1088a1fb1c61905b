#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "worker.h"

#define PART_SUFFIX	".part"

/* What localfd_name_set keeps for the end of the download. */
struct localfd_name {
	int		 dir_fd;
	int		 fd;		/* the .part: the localfd's, lent */
	char		*part, *name;
	bool		 remove_empty;
	bool		 ok;		/* the download is done: rename */
	bool		 busy;		/* the worker thread has it */
	bool		 ran;		/* the thread ran (else none started) */
	int		 err;		/* the thread's errno; 0: fine */
	const char	*what;		/* the step err is about */
	char		 msg[160];
	void		(*done)(void *);
	void		*arg;
};

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
		if (lf->positional) {
			ssize_t	r = pwrite(lf->fd, p, n, (off_t)lf->pos);

			if (r > 0)
				lf->pos += r;
			return r;
		}
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

int
localfd_positional(struct localfd *lf, int64_t pos)
{
	if (lf->kind != LFD_FILE || !lf->regular || lf->append || pos < 0)
		return -1;
	lf->positional = true;
	lf->pos = pos;
	return 0;
}

ssize_t
localfd_splice_in(struct localfd *lf, int pipe_fd, size_t n, unsigned flags)
{
	loff_t	off = (loff_t)lf->pos;
	ssize_t	r;

	if (!lf->positional)
		return splice(pipe_fd, NULL, lf->fd, NULL, n, flags);
	if ((r = splice(pipe_fd, NULL, lf->fd, &off, n, flags)) > 0)
		lf->pos = (int64_t)off;
	return r;
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
	/* a range of a shared file never starts the file over */
	if (lf->kind != LFD_FILE || lf->positional ||
	    lseek(lf->fd, 0, SEEK_SET) == -1)
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
	if (lf->name != NULL) {
		close(lf->name->dir_fd);
		free(lf->name->part);
		free(lf->name->name);
		free(lf->name);
		lf->name = NULL;
	}
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

/* ---- the name at the end (transfer.get "rename") ------------------------ */

/* One path component: not empty, ".", "..", no slash, no NUL inside. */
static bool
name_ok(const char *s)
{
	return *s != '\0' && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	    strchr(s, '/') == NULL && strlen(s) <= NAME_MAX;
}

int
localfd_name_set(struct localfd *lf, int dir_fd, const char *part,
    const char *name, bool remove_empty, const char **err)
{
	struct localfd_name	*n;
	struct stat		 st;
	size_t			 len = strlen(name);

	*err = NULL;
	if (!name_ok(name) || !name_ok(part))
		*err = "the names must be single path components (no slash, "
		    "not . or ..)";
	else if (strncmp(part, name, len) != 0 ||
	    strcmp(part + len, PART_SUFFIX) != 0)
		*err = "\"from\" must be \"to\" followed by .part";
	if (*err != NULL) {
		close(dir_fd);
		return -1;
	}
	if (lf->kind != LFD_FILE || !lf->regular)
		*err = "a download that the agent renames goes into a "
		    "regular file";
	else if (fstat(dir_fd, &st) == -1 || !S_ISDIR(st.st_mode))
		*err = "the passed directory descriptor is not a directory";
	if (*err != NULL) {
		close(dir_fd);
		return -2;
	}
	n = xcalloc(1, sizeof(*n));
	n->dir_fd = dir_fd;
	n->part = xstrdup(part);
	n->name = xstrdup(name);
	n->remove_empty = remove_empty;
	lf->name = n;
	return 0;
}

/* Whether n->part in its directory is still the file written (the
 * caller may have moved it and put another in its place). */
static bool
name_is_ours(struct localfd_name *n, struct stat *st)
{
	struct stat	mine;

	if (fstat(n->fd, &mine) == -1 || fstatat(n->dir_fd, n->part, st,
	    AT_SYMLINK_NOFOLLOW) == -1) {
		n->err = errno;
		return false;
	}
	if (mine.st_dev != st->st_dev || mine.st_ino != st->st_ino) {
		n->err = ESTALE;
		return false;
	}
	return true;
}

/* On the worker thread: touches only n. */
static void
name_work(void *arg)
{
	struct localfd_name	*n = arg;
	struct stat		 st;

	n->ran = true;
	n->what = "the .part is gone or was replaced";
	if (!name_is_ours(n, &st))
		return;
	if (!n->ok) {
		/* nothing came: no empty file of the caller's is left */
		if (n->remove_empty && S_ISREG(st.st_mode) && st.st_size == 0)
			(void)unlinkat(n->dir_fd, n->part, 0);
		return;
	}
	n->what = "cannot rename the .part to its name";
	if (renameat(n->dir_fd, n->part, n->dir_fd, n->name) == -1)
		n->err = errno;
}

/* Back on the loop. */
static void
name_done(void *arg)
{
	struct localfd_name	*n = arg;

	n->busy = false;
	if (!n->ran) {
		n->err = EAGAIN;
		n->what = "no thread to rename the .part";
	}
	if (n->ok && n->err != 0)
		snprintf(n->msg, sizeof(n->msg), "%s: %s", n->what,
		    n->err == ESTALE ? "another file has its name" :
		    strerror(n->err));
	n->done(n->arg);
}

bool
localfd_name_finish(struct localfd *lf, bool ok, void (*done)(void *),
    void *arg)
{
	struct localfd_name	*n = lf->name;

	if (n == NULL || n->busy)
		return false;
	n->fd = lf->fd;
	n->ok = ok;
	n->busy = true;
	n->done = done;
	n->arg = arg;
	worker_run(name_work, name_done, n);
	return true;
}

bool
localfd_name_busy(const struct localfd *lf)
{
	return lf->name != NULL && lf->name->busy;
}

const char *
localfd_name_error(const struct localfd *lf)
{
	return lf->name != NULL && lf->name->msg[0] != '\0' ? lf->name->msg :
	    NULL;
}
