/*
 * The local end of a transfer: an fd passed by the client, or a memory
 * buffer for inline data. The daemon must never block on it: regular
 * files are read and written at their shared file position (page-cache
 * speed; a resume seeks to the offset first), pipes and FIFOs are read
 * and written with RWF_NOWAIT (the client shares O_NONBLOCK and could
 * clear it under us; it is still set for the transfer and restored at
 * close, for splice and older kernels), sockets use MSG_DONTWAIT. Only the access
 * the descriptor carries is used: O_PATH descriptors and descriptors
 * opened for the other direction are refused, and nothing is ever
 * reopened with the agent's own privileges.
 */
#ifndef FTPA_LOCALFD_H
#define FTPA_LOCALFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum localfd_kind { LFD_NONE, LFD_FILE, LFD_STREAM, LFD_SOCKET, LFD_MEMORY };

struct localfd_name;

struct localfd {
	enum localfd_kind kind;
	bool		 restore;	/* put restore_fl back on the client's
					   description at close */
	bool		 regular;	/* LFD_FILE: a regular file */
	bool		 append;	/* opened O_APPEND */
	bool		 no_nowait;	/* LFD_STREAM: no RWF_NOWAIT here */
	bool		 positional;	/* LFD_FILE: written at pos (pwrite), the
					   description's position untouched */
	int64_t		 pos;
	int		 restore_fl;
	int		 fd;		/* the fd we use (may be a reopened one) */
	/* LFD_MEMORY */
	char		*mem;
	size_t		 mem_len;
	size_t		 mem_cap;
	size_t		 mem_max;
	size_t		 mem_pos;
	/* a download the agent names at its end (localfd_name_set) */
	struct localfd_name *name;
};

/*
 * Takes ownership of fd. for_write: the transfer writes into it (a
 * download). offset: regular files only, where to start. Returns 0, or -1
 * with *err set to a static reason (fd closed).
 */
int	 localfd_open(struct localfd *, int fd, bool for_write, int64_t offset,
	    const char **err);
/* A regular file written from pos on with pwrite(2) (and splice at an
 * offset): several transfers can share it, one range each. -1 when the
 * file is no regular one. */
int	 localfd_positional(struct localfd *, int64_t pos);
/* splice(2) of up to n bytes from pipe_fd into it (at pos when
 * positional). */
ssize_t	 localfd_splice_in(struct localfd *, int pipe_fd, size_t n,
	    unsigned flags);
/* Memory sink (max bytes) or source (takes ownership of data). */
void	 localfd_open_mem_sink(struct localfd *, size_t max);
void	 localfd_open_mem_source(struct localfd *, char *data, size_t len);
/* -1 with errno EAGAIN when it would block (then watch localfd_pollfd). */
ssize_t	 localfd_write(struct localfd *, const void *, size_t);
ssize_t	 localfd_read(struct localfd *, void *, size_t);
/*
 * The zero-copy data path: whether splice(2) may write into the fd (files
 * not opened O_APPEND, /dev/null, pipes), and whether sendfile(2) may read
 * from it (regular files). Others use localfd_read/localfd_write.
 */
bool	 localfd_splice_sink(const struct localfd *);
bool	 localfd_sendfile_source(const struct localfd *);
/* fd to watch for readiness, or -1 when it never blocks. */
int	 localfd_pollfd(const struct localfd *);
/* Size of a regular file source, -1 otherwise. */
int64_t	 localfd_size(const struct localfd *);
/* Back to the start (a restart): regular files only; truncate for a
 * download. 0, or -1 when the fd cannot go back. */
int	 localfd_rewind(struct localfd *, bool truncate);
/* To byte off of a regular file or memory source (an upload that resumes).
 * 0, or -1 when the fd cannot seek or off is past its end. */
int	 localfd_seek(struct localfd *, int64_t off);
void	 localfd_close(struct localfd *);

/*
 * transfer.get "rename": the download's fd is NAME.part in the caller's
 * directory dir_fd; when the job is done the agent renames it to NAME,
 * when it fails an empty one is removed (remove_empty). Only for a
 * caller of the agent's own uid (rpc_transfer.c): the kernel checks a
 * rename against the agent's credentials, whatever the descriptor. The
 * names are single components, part being name + ".part". Takes dir_fd
 * (closed with the localfd). 0, or with *err a static reason -1 (the
 * names) or -2 (the descriptors); dir_fd is closed then.
 */
int	 localfd_name_set(struct localfd *, int dir_fd, const char *part,
	    const char *name, bool remove_empty, const char **err);
/*
 * The end of such a download (ok: it is done): the rename, or the
 * removal of an empty .part, each only when the name still leads to the
 * file written, on a worker thread (a slow file system must not stall
 * the loop); then done(arg) from the loop. False, done never called,
 * when there is nothing to do (no name set).
 */
bool	 localfd_name_finish(struct localfd *, bool ok, void (*done)(void *),
	    void *arg);
/* Between localfd_name_finish and its done: the fd is the thread's. */
bool	 localfd_name_busy(const struct localfd *);
/* After done: NULL, or why the file did not get its name (held until
 * localfd_close). */
const char *localfd_name_error(const struct localfd *);

#endif
