/*
 * libftpagent: what a transfer's local side is, apart from the transfer
 * (transfer.c): a local name resolved, an fd's size to resume at,
 * whether an fd may take a segmented download or holds what one left,
 * and an empty .part a failed download made, removed.
 */
#include <config.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "ftpagent_priv.h"
#include "segrec.h"

/* local as a destination into *d: false with the error set for no name,
 * a lookup that failed, or a directory. */
bool
fa_local_resolve(struct ftpagent *a, const char *local, struct localdest *d)
{
	if (local == NULL || *local == '\0') {
		fa_set_error(a, FTPAGENT_ERR_ARGUMENT, "no local file name");
		return false;
	}
	if (!fa_usable(a))
		return false;
	if (localdest_resolve(local, d) == -1) {
		if (errno == ENOMEM)
			fa_set_error(a, FTPAGENT_ERR_NOMEM, "out of memory");
		else
			fa_set_local_error(a, "cannot look up", local, errno);
		return false;
	}
	if (d->kind == LOCALDEST_DIR) {
		localdest_clear(d);
		fa_set_local_error(a, "cannot write to", local, EISDIR);
		return false;
	}
	return true;
}

/* A regular file's size as the offset to resume at: 0, or errno
 * (EINVAL: not a regular file). */
int
fa_fd_size(int fd, int64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EINVAL;
	*size = st.st_size;
	return 0;
}

/*
 * Whether a download into fd may go in ranges: the agent writes each at
 * its offset from the file's start (pwrite) and sizes the file, so fd
 * must be a regular file open for writing, not O_APPEND, at its start
 * (else what the caller wrote before would be overwritten).
 */
bool
fa_fd_segmentable(int fd)
{
	struct stat st;
	int fl;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (fl = fcntl(fd, F_GETFL)) != -1 && !(fl & O_APPEND) &&
	    (fl & O_ACCMODE) != O_RDONLY && lseek(fd, 0, SEEK_CUR) == 0;
}

/*
 * Whether fd is what a segmented download left: a regular file open for
 * reading and writing (the agent reads the record), not O_APPEND, whose
 * last SEGREC_SIZE bytes are a sound record for the data before them. A
 * plain resume from its size would take the record for data.
 */
bool
fa_fd_has_record(int fd)
{
	unsigned char buf[SEGREC_SIZE];
	struct segrec rec;
	struct stat st;
	const char *why;
	int fl;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= SEGREC_SIZE && (fl = fcntl(fd, F_GETFL)) != -1 &&
	    (fl & O_ACCMODE) == O_RDWR && !(fl & O_APPEND) &&
	    pread(fd, buf, sizeof(buf), st.st_size - SEGREC_SIZE) ==
	    (ssize_t)sizeof(buf) && segrec_decode(buf, &rec, &why) == 0 &&
	    rec.size == st.st_size - SEGREC_SIZE;
}

void
fa_part_abandon(const struct localdest *d, bool had_part)
{
	struct stat st;

	if (!had_part && lstat(d->part, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == 0)
		unlink(d->part);
}
