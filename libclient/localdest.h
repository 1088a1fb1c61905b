/*
 * localdest: what a download to a local name may do to what is there.
 *
 * The atomic write (data into NAME.part, renamed onto NAME at the end)
 * is for regular files and for names that do not exist yet. Renaming
 * onto anything else would destroy it: /dev/null would become a regular
 * file, a FIFO's reader would wait forever, a symbolic link would lose
 * its target. So a symbolic link is followed (every link of a chain, by
 * hand, as the .part must go next to the file it replaces); a device,
 * FIFO or socket is opened and written in place; a directory is left to
 * the caller. Used by ftpagent_get_file and by ftpctl get, which also
 * needs the names for get -c and get --background. Never prints.
 */
#ifndef FTPAGENT_LOCALDEST_H
#define FTPAGENT_LOCALDEST_H

#include <sys/types.h>

enum localdest_kind {
	LOCALDEST_FILE,		/* a regular file or nothing yet: .part */
	LOCALDEST_INPLACE,	/* a device, FIFO or socket: written as it is */
	LOCALDEST_DIR,		/* a directory (also through links) */
};

/* The suffixes of the file a download goes to before its rename. */
#define LOCALDEST_PART		".part"
#define LOCALDEST_SEGMENTS_PART	".segments.part"

/* Symbolic links followed before giving up with ELOOP, as the kernel. */
#define LOCALDEST_MAX_LINKS	40

struct localdest {
	enum localdest_kind kind;
	/* LOCALDEST_FILE: the name to replace: the local name, or for a
	 * symbolic link the name at the end of its chain (which need not
	 * exist: a dangling link names the file to create). Otherwise the
	 * local name as given. */
	char		*path;
	char		*part;		/* LOCALDEST_FILE: path +
					   LOCALDEST_PART (or
					   LOCALDEST_SEGMENTS_PART) */
	mode_t		 type;		/* S_IFMT bits of what is there; 0
					   when nothing is */
};

/*
 * Looks at local and fills *d (release with localdest_clear). Returns 0,
 * or -1 with errno: ELOOP (a chain of more than LOCALDEST_MAX_LINKS
 * links, or a loop), ENOMEM, or what stat(2) or readlink(2) said other
 * than ENOENT (EACCES, ENOTDIR, ...). Nothing is created or changed.
 */
int	localdest_resolve(const char *local, struct localdest *d);
void	localdest_clear(struct localdest *d);

/*
 * A segmented download's ranges arrive out of order, so its file is no
 * prefix of the remote one until it is whole: it goes to path +
 * LOCALDEST_SEGMENTS_PART instead, a name that resuming (-c, which
 * continues path + LOCALDEST_PART from its end) never takes for a
 * prefix: a resume continues it in the agent's ranges, from the record
 * of them the agent keeps at its end (transfer.get "resume").
 * Returns 0, or -1 with errno ENOMEM (d unchanged).
 */
int	localdest_part_segmented(struct localdest *d);

/*
 * Opens a LOCALDEST_INPLACE destination to write in place: O_WRONLY,
 * close-on-exec, no controlling terminal, never O_CREAT nor O_TRUNC. A
 * FIFO waits for a reader at most timeout_ms (then ENXIO) and the
 * descriptor returned blocks as usual. Returns the fd, or -1 with errno:
 * ENXIO for a socket (open(2) cannot open one) or a FIFO nobody reads,
 * EAGAIN when a regular file or a directory has taken the name since
 * localdest_resolve.
 */
int	localdest_open(const struct localdest *d, int timeout_ms);

#endif
