/*
 * segrecord.h: the record of the ranges written into, and read from, the
 * end of the local file.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <unistd.h>

#include "segrecord.h"

int
segrec_write(int fd, const struct segrec *rec)
{
	unsigned char	buf[SEGREC_SIZE];
	ssize_t		n;

	segrec_encode(rec, buf);
	n = pwrite(fd, buf, sizeof(buf), rec->size);
	if (n == (ssize_t)sizeof(buf))
		return 0;
	if (n >= 0)
		errno = ENOSPC;
	return -1;
}

int
segrec_read(int fd, int64_t size, int64_t mtime, struct segrec *rec,
    const char **why)
{
	unsigned char	buf[SEGREC_SIZE];
	struct stat	st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != size + SEGREC_SIZE) {
		*why = "the file is not a segmented download's part of this "
		    "size";
		return -1;
	}
	if (pread(fd, buf, sizeof(buf), size) != (ssize_t)sizeof(buf)) {
		*why = "the record cannot be read";
		return -1;
	}
	if (segrec_decode(buf, rec, why) == -1)
		return -1;
	if (rec->size != size || rec->mtime != mtime) {
		*why = "the record is for another file (size or time differ)";
		return -1;
	}
	return 0;
}
