/*
 * Segmented downloads: one file over several data connections of its
 * session, as lftp's pget -n does. The file's size is asked first (a
 * stat), the file is cut into ranges of at least SEGMENT_MIN, and each
 * range is a hidden step job (job.h's hooks) that downloads with REST at
 * its start and writes with pwrite at its offset, stopping at its end; a
 * range retries from where it stopped, as any download. The parent job
 * ends when every range has: done when all are, and the file then has
 * the size the server gave.
 *
 * While ranges are missing, the file ends with a record of them
 * (protocol/segrec.h), kept up to date as they run and left in place when the
 * download fails or is cancelled; a later download of the same remote
 * file (size and time) into that file with resume set continues each
 * range from where it was written to. The end of the download cuts the
 * record off.
 */
#ifndef FTPA_SEGGET_H
#define FTPA_SEGGET_H

#include <stdbool.h>
#include <stdint.h>

#include "segrec.h"

#define SEGMENTS_MAX	16
#define SEGMENT_MIN	(1024 * 1024)
/* The largest file: its record must fit after it in an off_t. */
#define SEGGET_SIZE_MAX	(INT64_MAX - SEGREC_SIZE)

_Static_assert(SEGMENTS_MAX == SEGREC_MAX_RANGES,
    "a record holds every range, and a record's ranges fit");

struct job;
struct segget;

/* For fd (a regular file, taken; it is written with pwrite and resized
 * to the file's size), in up to n ranges; with resume, in the ranges of
 * the record at its end when it has one for this remote file. */
struct segget	*segget_new(int fd, int n, bool resume);
/* Its parent job: the job's path and session are the download's. */
void		 segget_attach(struct segget *, struct job *);
void		 segget_start(struct segget *);
/* The local file's descriptor (for its name). */
int		 segget_fd(const struct segget *);
/* Stops every range; the parent ends cancelled once they have. */
void		 segget_cancel(struct segget *, const char *why);
void		 segget_free(struct segget *);

#endif
