/*
 * The record of a segmented download's ranges, kept in the local file
 * itself so that a later run can continue what an earlier one left (as
 * lftp's pget keeps a status file beside the data, but in one file the
 * caller already hands over). While ranges are missing the file is the
 * remote size plus SEGREC_SIZE bytes: the data at its offsets, then the
 * record, which says for the remote file (size, and mtime where the
 * server tells one) where each range starts, how far it is known to be
 * written, and where it ends. The download's end cuts the file to the
 * remote size, which removes the record.
 *
 * The record is fixed-size binary, little-endian, with a checksum; one
 * that fails any check is no record (the download then starts over).
 * It never claims more than was written (the caller's duty: segget.c
 * writes it after the data, and lags what is still in memory).
 *
 * This is the codec, shared: the agent writes and reads the record
 * (daemon/segrecord.c), libftpagent looks for one at the end of an fd
 * it is asked to resume into.
 */
#ifndef FTPA_SEGREC_H
#define FTPA_SEGREC_H

#include <stdint.h>

#define SEGREC_SIZE		512
#define SEGREC_MAX_RANGES	16

struct segrec_range {
	int64_t	start, done, end;	/* done: written from start up to */
};

struct segrec {
	int64_t			size;	/* the remote file's */
	int64_t			mtime;	/* INT64_MIN: the server told none */
	int			n;
	struct segrec_range	r[SEGREC_MAX_RANGES];
};

/* The record's bytes (rec must be well-formed: segrec_check). */
void	segrec_encode(const struct segrec *rec, unsigned char *buf);
/* Reads buf (SEGREC_SIZE bytes) into *rec. 0, or -1 with *why. */
int	segrec_decode(const unsigned char *buf, struct segrec *rec,
	    const char **why);
/* Whether the ranges tile [0, size) in order with start <= done <= end:
 * NULL, or why not. */
const char *segrec_check(const struct segrec *rec);

#endif
