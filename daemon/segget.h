/*
 * Segmented downloads: one file over several data connections of its
 * session, as lftp's pget -n does. The file's size is asked first (a
 * stat), the file is cut into ranges of at least SEGMENT_MIN, and each
 * range is a hidden step job (job.h's hooks) that downloads with REST at
 * its start and writes with pwrite at its offset, stopping at its end; a
 * range retries from where it stopped, as any download. The parent job
 * ends when every range has: done when all are, and the file then has
 * the size the server gave.
 */
#ifndef FTPA_SEGGET_H
#define FTPA_SEGGET_H

#include <stdint.h>

#define SEGMENTS_MAX	16
#define SEGMENT_MIN	(1024 * 1024)

struct job;
struct segget;

/* For fd (a regular file, taken; it is written with pwrite and resized
 * to the file's size), in up to n ranges. */
struct segget	*segget_new(int fd, int n);
/* Its parent job: the job's path and session are the download's. */
void		 segget_attach(struct segget *, struct job *);
void		 segget_start(struct segget *);
/* The local file's descriptor (for its name). */
int		 segget_fd(const struct segget *);
/* Stops every range; the parent ends cancelled once they have. */
void		 segget_cancel(struct segget *, const char *why);
void		 segget_free(struct segget *);

#endif
