/*
 * The record of a segmented download's ranges (protocol/segrec.h) where
 * it lives: at offset size of the local file, right after the data.
 */
#ifndef FTPA_SEGRECORD_H
#define FTPA_SEGRECORD_H

#include <stdint.h>

#include "segrec.h"

/* Writes rec at offset rec->size of fd. 0, or -1 with errno. */
int	segrec_write(int fd, const struct segrec *rec);
/*
 * The record at the end of fd for a remote file of size and mtime: 0
 * with *rec filled, or -1 with *why when there is none that fits (the
 * file is not size + SEGREC_SIZE long, the record is damaged, or it is
 * for a file of another size or time: a different remote file).
 */
int	segrec_read(int fd, int64_t size, int64_t mtime, struct segrec *rec,
	    const char **why);

#endif
