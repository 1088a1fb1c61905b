/*
 * libftpagent: client for the ftpd-agent daemon. This header is its
 * blocking face; <ftpagent_async.h> is the non-blocking one, on the same
 * connections (the functions here are its calls plus a poll loop).
 *
 * One struct ftpagent is one connection to the agent's Unix socket; use it
 * from one thread at a time. Every function that talks to the agent waits
 * at most the connection's timeout (ftpagent_set_timeout). Functions return
 * true on success; on failure the connection keeps a sticky error, read
 * with ftpagent_error() and friends, until ftpagent_clear_error(). While an
 * error is set, every call fails at once without talking to the agent.
 * The library never prints, never exits and never keeps memory behind the
 * caller's back: whatever it hands out has a documented _free.
 */
#ifndef FTPAGENT_H
#define FTPAGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FTPAGENT_BUILDING) && defined(__GNUC__)
#define FTPAGENT_API __attribute__((visibility("default")))
#else
#define FTPAGENT_API
#endif

struct ftpagent;

enum ftpagent_error {
	FTPAGENT_OK = 0,
	/* the agent's application errors (protocol error kinds) */
	FTPAGENT_ERR_FTP,		/* the server refused; see ftpagent_ftp_code() */
	FTPAGENT_ERR_CONNECT,
	FTPAGENT_ERR_TLS,
	FTPAGENT_ERR_AUTH,
	FTPAGENT_ERR_TIMEOUT,		/* the agent's timeout, or this library's */
	FTPAGENT_ERR_NOT_FOUND,
	FTPAGENT_ERR_EXISTS,
	FTPAGENT_ERR_PERMISSION,
	FTPAGENT_ERR_CANCELLED,
	FTPAGENT_ERR_NO_SESSION,
	FTPAGENT_ERR_NO_JOB,
	FTPAGENT_ERR_LIMIT,
	FTPAGENT_ERR_LOCAL_IO,		/* a local file could not be read or written */
	FTPAGENT_ERR_PROTOCOL,		/* the FTP server broke the protocol */
	/* this side */
	FTPAGENT_ERR_AGENT,		/* cannot reach the agent, or it hung up */
	FTPAGENT_ERR_RPC,		/* JSON-RPC level error (bad params, unknown method) */
	FTPAGENT_ERR_ARGUMENT,		/* the caller passed something invalid */
	FTPAGENT_ERR_NOMEM,
};

/* ---- connection ---------------------------------------------------- */

/*
 * Connects to the agent. socket_path NULL means the default lookup:
 * $FTPAGENT_SOCKET, else $XDG_RUNTIME_DIR/ftpd-agent.sock if that answers,
 * else /run/ftpd-agent/ftpd-agent.sock. Returns NULL only when out of
 * memory (the error functions accept NULL and then report
 * FTPAGENT_ERR_NOMEM); a failed connection returns an object whose sticky
 * error says why (FTPAGENT_ERR_AGENT). Caller frees with ftpagent_free().
 */
FTPAGENT_API struct ftpagent *ftpagent_connect(const char *socket_path);

/* Flags for ftpagent_connect_opts. */
#define FTPAGENT_AUTOSTART	0x1	/* start "ftpd-agent --user -S PATH" when a
					   user socket does not answer */
/*
 * Like ftpagent_connect, with flags and the timeout (ms, <= 0: the
 * default) for connecting and for every later call. With
 * FTPAGENT_AUTOSTART, when the chosen socket is not the system socket and
 * nothing answers on it (default lookup: when neither the user nor the
 * system socket answers and $XDG_RUNTIME_DIR is set), the library starts
 * $FTPD_AGENT_BIN, else "ftpd-agent" from $PATH, detached (no child is
 * left to the caller), with "--log $XDG_STATE_HOME/ftpd-agent/agent.log"
 * (~/.local/state/...), and retries for about 3 seconds. When that agent
 * does not answer, the error message says what was started, how it
 * ended (as soon as it exits) and the last lines of its log.
 */
FTPAGENT_API struct ftpagent *ftpagent_connect_opts(const char *socket_path,
    unsigned flags, int timeout_ms);
/*
 * Takes fd, a connected stream socket to an agent (one end of a
 * socketpair to an agent the caller started, a socket handed over by a
 * service manager), as a connection: it is made non-blocking and closed
 * by ftpagent_free. Returns NULL only when out of memory (fd is then
 * closed); an fd that is not a socket gives FTPAGENT_ERR_AGENT.
 * ftpagent_socket_path() is "" for it (since libftpagent.so.1).
 */
FTPAGENT_API struct ftpagent *ftpagent_connect_fd(int fd);
/* Closes the connection and frees it. NULL is allowed. */
FTPAGENT_API void ftpagent_free(struct ftpagent *);
/* Timeout for every later call, in milliseconds (default 60000; 0: none is
 * not allowed and is taken as the default). For transfers it is an
 * inactivity timeout: it restarts whenever the agent reports progress
 * (at least once a second), so long transfers do not time out. */
FTPAGENT_API void ftpagent_set_timeout(struct ftpagent *, int timeout_ms);
/*
 * A flag a signal handler sets (SIGINT's, say), or NULL (the default):
 * while a blocking call waits, it looks at *flag whenever a signal or the
 * agent wakes it and at least every 20 ms; once it is nonzero the call is
 * cancelled as by ftpagent_cancel (a transfer's job on the agent too) and
 * fails with FTPAGENT_ERR_CANCELLED. A download into a local file is
 * then never renamed to its final name. The flag is only read.
 */
FTPAGENT_API void ftpagent_set_interrupt(struct ftpagent *,
    volatile sig_atomic_t *flag);
/*
 * Seconds the agent gives a server to accept the connection of a session
 * opened by a later ftpagent_open on this connection, and as long again
 * for its first words (the implicit TLS handshake, the greeting); 0 (the
 * default): the agent's own. The connection's timeout should allow for
 * them: the agent answers FTPAGENT_ERR_TIMEOUT when they pass.
 */
FTPAGENT_API void ftpagent_set_connect_timeout(struct ftpagent *,
    double seconds);
/*
 * The most bytes per second of each transfer started later on this
 * connection (ftpagent_get_*, ftpagent_put_*, ftpagent_tree*: their
 * background and ftpagent_send_ forms too), for the job alone: a
 * tree's limit is for all its files together. It comes on top of the
 * session's limit (ftpagent_set_session_limit_rate), which the
 * session's transfers share. 0 (the default), or less: no limit of the
 * job's own. The agent takes 1 to 2147483647; for more, the transfer
 * fails with FTPAGENT_ERR_RPC, ftpagent_error_kind() "params". Since
 * LIBFTPAGENT_LT_VERSION 5:0:4 (libftpagent.so.1).
 */
FTPAGENT_API void ftpagent_set_limit_rate(struct ftpagent *,
    int64_t bytes_per_s);
/*
 * The most bytes per second of a session opened by a later ftpagent_open
 * on this connection: all its transfers together, each also held to its
 * own limit. -1 (the default), or less: the agent's default (its
 * configuration's limit_rate); 0: none. The agent takes 0 to 2147483647;
 * for more, ftpagent_open fails with FTPAGENT_ERR_RPC, kind "params".
 * Since 5:0:4.
 */
FTPAGENT_API void ftpagent_set_session_limit_rate(struct ftpagent *,
    int64_t bytes_per_s);
/*
 * Downloads started later on this connection (ftpagent_get_file,
 * ftpagent_get_fd, their background and ftpagent_send_ forms) go in up
 * to n ranges at once, each over a connection of its own, as lftp's
 * pget -n does (transfer.get "segments"): the agent cuts the file into
 * ranges of at least 1 MiB (a smaller file takes fewer, one under
 * 2 MiB), runs at most the session's max_connections of them at once
 * and ends the job when all are done and the file has the remote size.
 * 1 (the default), or less: one connection, as usual. The agent takes
 * 2 to 16; for more, the download fails with FTPAGENT_ERR_RPC, kind
 * "params".
 *
 * Only a binary download into a regular file goes in ranges, from the
 * start or continuing an earlier segmented one: for ftpagent_get_fd a
 * regular file open for writing, not O_APPEND, at offset 0 (written
 * with pwrite from its start, whatever was there, and cut or grown to
 * the remote size; its offset stays); for ftpagent_get_file
 * LOCAL.segments.part. Any other download (at an offset, ASCII, into a
 * pipe, device or FIFO, or resuming with ftpagent_get_fd a file no
 * segmented download left) ignores n and runs on one connection. Trees
 * ignore it too (their files run side by side:
 * ftpagent_tree_opts.parallel).
 *
 * While ranges are missing the file is the remote size plus 512 bytes,
 * the last 512 the agent's record of the ranges (layout in
 * ftpd-agent-protocol(7)); a download that is done cuts it off. One that
 * fails or is cancelled, or whose caller or agent dies, keeps it, and
 * ftpagent_get_file with opts->offset < 0 continues LOCAL.segments.part
 * (transfer.get "resume"): each unfinished range from where the record
 * says it was written to, whole ranges not at all. It does so when
 * LOCAL.segments.part exists and either n > 1 or there is neither
 * LOCAL.part nor LOCAL;
 * with n > 1 and neither LOCAL.part nor LOCAL there, it is a segmented
 * download from the start; otherwise the resume runs on one connection
 * as usual. The file is opened O_RDWR and not truncated. A file of
 * another length, a damaged record, or one for a remote file of another
 * size or modification time makes the agent start over (in n ranges, 2
 * when n <= 1). result->bytes and result->total are then this call's.
 * Such a resume asks rpc.info first (once a connection): with an agent
 * that does not name "transfer.get.segments.resume" among its features
 * (one that would ignore "resume") it fails with FTPAGENT_ERR_RPC, kind
 * "params", and leaves the file as it is.
 *
 * LOCAL.segments.part is never LOCAL.part, which a resume continues from
 * its end: it holds the holes of unfinished ranges. ftpagent_get_fd with
 * opts->offset < 0 continues in ranges (since 7:0:6) an fd a segmented
 * download left (a regular file open O_RDWR, not O_APPEND, that ends
 * with a sound record for the bytes before it; the agent checks it
 * against the remote file as above), and resumes any other on one
 * connection from its size (one a segmented download left but open
 * O_WRONLY cannot be read for its record: it fails as an offset past
 * the remote file's end). ftpagent_get_file, and the follower of a
 * background one (the agent never renames a segmented download), keep
 * the .segments.part of a download that did not finish for a resume,
 * and remove only an empty one the call made, as for a .part.
 * Since 6:0:5.
 */
FTPAGENT_API void ftpagent_set_segments(struct ftpagent *, int n);
/* The path this connection uses, "" when none (valid until
 * ftpagent_free). */
FTPAGENT_API const char *ftpagent_socket_path(const struct ftpagent *);

/* ---- sticky errors ------------------------------------------------- */

FTPAGENT_API enum ftpagent_error ftpagent_error(const struct ftpagent *);
/* Human-readable message, "" when no error. Valid until the error is
 * cleared or ftpagent_free. Never contains a password. */
FTPAGENT_API const char *ftpagent_error_message(const struct ftpagent *);
/* The FTP reply code behind the error (e.g. 550), or 0. */
FTPAGENT_API int ftpagent_ftp_code(const struct ftpagent *);
/* The protocol name of the error kind: "ftp", "not_found", ..., "agent";
 * for FTPAGENT_ERR_RPC the agent's data.kind ("params", "method", ...)
 * when it gave one, else "rpc"; "" when no error. */
FTPAGENT_API const char *ftpagent_error_kind(const struct ftpagent *);
/* Clears the error. Returns false when the connection itself is broken
 * (FTPAGENT_ERR_AGENT): such a connection cannot be revived; free it. */
FTPAGENT_API bool ftpagent_clear_error(struct ftpagent *);

/* ---- sessions -------------------------------------------------------- */

enum ftpagent_tls {
	FTPAGENT_TLS_DEFAULT = 0,	/* from the URL scheme */
	FTPAGENT_TLS_NONE,
	FTPAGENT_TLS_EXPLICIT,
	FTPAGENT_TLS_IMPLICIT,
};

struct ftpagent_open_opts {
	const char	*name;		/* session name; NULL: the agent picks an id */
	const char	*password;	/* overrides the URL's; NULL: none */
	enum ftpagent_tls tls;
	bool		 insecure;	/* do not verify the server certificate */
	const char	*ca_file;	/* PEM CA certificates to trust as well:
					   opened here with the caller's rights
					   and passed to the agent as a
					   descriptor (ca_fd), never as a path;
					   not openable or not a regular file:
					   FTPAGENT_ERR_LOCAL_IO, nothing sent */
	bool		 active;	/* active mode instead of passive */
	int		 max_connections; /* 0: agent default */
	bool		 reuse;		/* return an equal live session if any */
	const char	*list_tz;	/* zone of LIST dates: "UTC", "+HH:MM",
					   "-HH:MM"; NULL: UTC */
	/* (the caller allocates it: it never grows, for programs built
	 * against an older header; ftpagent_set_connect_timeout) */
};

/*
 * Opens (logs in) a session. url is "ftp://[user[:pass]@]host[:port]/".
 * opts may be NULL. On success *session receives the session id (caller
 * frees with free()).
 */
FTPAGENT_API bool ftpagent_open(struct ftpagent *, const char *url,
    const struct ftpagent_open_opts *opts, char **session);
/* Sends QUIT and forgets the session. */
FTPAGENT_API bool ftpagent_close(struct ftpagent *, const char *session);

/* ---- file system ----------------------------------------------------- */

/*
 * Paths and names are byte strings, exactly as the server has them: a
 * name that is not valid UTF-8 comes back with its own bytes and can be
 * passed back as it is. (On the wire such bytes travel escaped; the
 * library does the escaping both ways. ftpagent_call does not.)
 */

enum ftpagent_entry_type {
	FTPAGENT_FILE,
	FTPAGENT_DIR,
	FTPAGENT_LINK,
	FTPAGENT_OTHER,
};

struct ftpagent_entry {
	char		*name;
	enum ftpagent_entry_type type;
	int64_t		 size;		/* -1: unknown */
	int64_t		 mtime;		/* seconds since the epoch; INT64_MIN: unknown */
	int		 perm;		/* permission bits; -1: unknown */
	char		*target;	/* symlink target or NULL */
	char		*raw;		/* the line as the server sent it, for
					   entries no parser could read; or NULL */
};

/* Lists a directory. *entries is an array of *n entries; caller frees with
 * ftpagent_entries_free(*entries, *n). */
FTPAGENT_API bool ftpagent_list(struct ftpagent *, const char *session,
    const char *path, struct ftpagent_entry **entries, size_t *n);
FTPAGENT_API void ftpagent_entries_free(struct ftpagent_entry *, size_t n);
/* Information on one path. Caller frees the contents with
 * ftpagent_entry_clear(entry). */
FTPAGENT_API bool ftpagent_stat(struct ftpagent *, const char *session,
    const char *path, struct ftpagent_entry *entry);
FTPAGENT_API void ftpagent_entry_clear(struct ftpagent_entry *);
FTPAGENT_API bool ftpagent_mkdir(struct ftpagent *, const char *session,
    const char *path, bool parents);
FTPAGENT_API bool ftpagent_remove(struct ftpagent *, const char *session,
    const char *path, bool recursive);
FTPAGENT_API bool ftpagent_rmdir(struct ftpagent *, const char *session,
    const char *path);
FTPAGENT_API bool ftpagent_rename(struct ftpagent *, const char *session,
    const char *from, const char *to);
/* SITE CHMOD: mode holds permission bits (e.g. 0644). */
FTPAGENT_API bool ftpagent_chmod(struct ftpagent *, const char *session,
    const char *path, int mode);
/* Sets the modification time (seconds since the epoch, UTC): MFMT, else
 * the two-argument MDTM. */
FTPAGENT_API bool ftpagent_set_mtime(struct ftpagent *, const char *session,
    const char *path, int64_t mtime);
/* Sends a raw command. *code receives the reply code and, when text is not
 * NULL, *text the reply text (caller frees with free()). */
FTPAGENT_API bool ftpagent_quote(struct ftpagent *, const char *session,
    const char *command, int *code, char **text);

/* ---- transfers --------------------------------------------------------- */

/* Called during a transfer with the bytes moved so far and the total
 * (-1 when unknown), and once at a successful end with the result's
 * bytes and total (unless the last call said the same). Return false to
 * cancel the transfer: the library sends job.cancel and the call fails
 * with FTPAGENT_ERR_CANCELLED, even when the agent's reply says the
 * transfer completed first (a download then stays in LOCAL.part, a
 * segmented one in LOCAL.segments.part); the callback is not called
 * again. */
typedef bool (*ftpagent_progress_cb)(void *arg, int64_t bytes, int64_t total);

struct ftpagent_xfer_opts {
	int64_t		 offset;	/* resume at this byte (REST) */
	bool		 append;	/* put: APPE instead of STOR */
	bool		 ascii;		/* TYPE A instead of TYPE I */
	bool		 rest_restart;	/* REST refused: restart from zero
					   instead of failing */
	ftpagent_progress_cb progress;	/* may be NULL */
	void		*progress_arg;
};

/* Result of a finished transfer, filled when the caller passes one. */
struct ftpagent_xfer_result {
	int64_t		 bytes;		/* bytes moved by this transfer */
	int64_t		 total;		/* size of the remote file or -1 (a
					   continued segmented download:
					   what was left of it) */
	double		 seconds;
	bool		 already_complete; /* get_file resuming: the local
					   file was complete, nothing moved
					   (since libftpagent.so.1) */
};

/*
 * Downloads path into fd (passed to the agent; the caller keeps its own
 * copy and closes it). The data is written at the fd's current position
 * (regular files: at offset opts->offset when resuming; opts->offset < 0
 * resumes at the regular file's size, or continues in ranges a file a
 * segmented download left: see ftpagent_set_segments). opts and result
 * may be NULL.
 */
FTPAGENT_API bool ftpagent_get_fd(struct ftpagent *, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result);
/*
 * Downloads path into the local file local, atomically: data goes to
 * "local.part", which is renamed to local on success and left in place on
 * failure (a .part this call made and nothing was written to is removed).
 * With opts->offset < 0 an existing "local.part" is resumed from its
 * size, or a "local.segments.part" continued in its ranges (see
 * ftpagent_set_segments); without either, an existing regular local is
 * taken as the part (renamed to local.part and resumed), or, when it is
 * as long as the remote file, left alone with result->already_complete
 * set; a longer one is not a part of it: FTPAGENT_ERR_LOCAL_IO, left
 * alone. Without resuming, local.part is truncated first.
 *
 * Only a regular file or a name that does not exist yet is replaced so.
 * A symbolic link is followed link by link (at most 40): the file at the
 * end of the chain is replaced, its .part made next to it, and the links
 * stay; a dangling link names the file to create. A device, FIFO or
 * socket is opened for writing where it is (no O_CREAT, no O_TRUNC, no
 * .part; a FIFO waits for its reader at most the connection's timeout; a
 * socket cannot be opened, ENXIO; the agent refuses terminals and devices
 * other than /dev/null) and cannot be resumed (FTPAGENT_ERR_ARGUMENT). A
 * directory fails with FTPAGENT_ERR_LOCAL_IO before anything is sent.
 * A remote directory fails with FTPAGENT_ERR_NOT_FOUND, the message
 * "get PATH: is a directory" and ftpagent_error_data()
 * {"kind":"not_found","type":"dir"} (as every waited download does).
 */
FTPAGENT_API bool ftpagent_get_file(struct ftpagent *, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result);
/*
 * ftpagent_get_file in the background: returns once the agent has taken
 * the job, with *job its id (caller frees with free()), or NULL when
 * resuming found local complete already. The agent writes local.part (a
 * device or FIFO in place) and, for a caller of its own uid, renames it
 * to local when the job is done (or removes a .part the call made that
 * stayed empty): nothing of the caller's runs on. An agent of another
 * uid (system mode) or an older one does not, nor does any for a
 * segmented download (ftpagent_set_segments); then a detached process
 * of this library (a fork of the caller that runs only this library's
 * code and holds none of the caller's other descriptors) waits for the
 * job's end and does it. ftpagent_job_wait and ftpagent_job_wait_file
 * wait for that rename. opts->progress is not used.
 */
FTPAGENT_API bool ftpagent_get_file_background(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, char **job);

/* Uploads from fd: pipes are read from their current position, regular
 * files from opts->offset (the remote resume offset). With opts->offset
 * < 0 the upload resumes after the remote file's current size (0 when it
 * does not exist). */
FTPAGENT_API bool ftpagent_put_fd(struct ftpagent *, const char *session,
    const char *path, int fd, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result);
/* Uploads the local file local. With opts->offset < 0 the upload resumes
 * after the remote file's current size. */
FTPAGENT_API bool ftpagent_put_file(struct ftpagent *, const char *session,
    const char *path, const char *local, const struct ftpagent_xfer_opts *opts,
    struct ftpagent_xfer_result *result);

/*
 * Starts a download into fd in the background (wait:false) and returns at
 * once: *job receives the job id (caller frees with free()). The agent
 * holds its own copy of fd; the job belongs to the caller's uid and runs
 * on when this connection closes. Follow it with ftpagent_job_wait, the
 * other job functions or events. opts as for ftpagent_get_fd (offset < 0
 * resumes at the regular file's size, or continues a segmented
 * download's); opts->progress is not used.
 */
FTPAGENT_API bool ftpagent_get_fd_background(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, char **job);
/* The same for an upload from fd (see ftpagent_put_fd for opts). */
FTPAGENT_API bool ftpagent_put_fd_background(struct ftpagent *,
    const char *session, const char *path, int fd,
    const struct ftpagent_xfer_opts *opts, char **job);
/* The same from the local file local, which the agent reads after the
 * call has returned (see ftpagent_put_file for opts). */
FTPAGENT_API bool ftpagent_put_file_background(struct ftpagent *,
    const char *session, const char *path, const char *local,
    const struct ftpagent_xfer_opts *opts, char **job);

/* ---- jobs ------------------------------------------------------------------ */

/* Every transfer is a job. DONE, FAILED and CANCELLED are final. */
enum ftpagent_job_state {
	FTPAGENT_JOB_UNKNOWN = 0,	/* a state this library does not know */
	FTPAGENT_JOB_QUEUED,
	FTPAGENT_JOB_RUNNING,
	FTPAGENT_JOB_DONE,
	FTPAGENT_JOB_FAILED,
	FTPAGENT_JOB_CANCELLED,
};

enum ftpagent_xfer_dir {
	FTPAGENT_XFER_UNKNOWN = 0,
	FTPAGENT_XFER_GET,
	FTPAGENT_XFER_PUT,
};

/*
 * A job as the agent last described it. Strings are owned by the struct:
 * release them with ftpagent_job_clear (or ftpagent_jobs_free for an
 * array). Unknown numbers are -1 unless said otherwise.
 */
struct ftpagent_job {
	char		*id;		/* "j12" */
	enum ftpagent_job_state state;
	enum ftpagent_xfer_dir direction;
	char		*session;	/* may be NULL */
	char		*path;		/* the remote path (bytes); may be NULL */
	int64_t		 bytes;		/* moved so far (0 when unknown) */
	int64_t		 total;		/* size of the file, or -1 */
	double		 rate;		/* bytes/s: current, the average once
					   finished; 0 when unknown */
	double		 eta;		/* seconds left, or -1 */
	double		 started;	/* epoch seconds, or -1 */
	double		 ended;		/* epoch seconds, or -1 */
	int		 attempts;	/* tries so far; 0 when unknown */
	/* Why a FAILED or CANCELLED job ended; FTPAGENT_OK and NULLs
	 * otherwise. */
	enum ftpagent_error error;
	char		*error_kind;	/* protocol name: "ftp", "cancelled", ... */
	char		*error_message;
	int		 ftp_code;	/* the server's reply code, or 0 */
	char		*ftp_text;	/* the server's reply (bytes), or NULL */
	/* since libftpagent.so.1 */
	double		 seconds;	/* running time so far, the whole
					   time once ended */
	long		 uid;		/* the owner's uid, or -1 */
};

/* "queued", "running", "done", "failed", "cancelled"; "unknown". Static. */
FTPAGENT_API const char *ftpagent_job_state_name(enum ftpagent_job_state);
/* Frees the strings of *job and zeroes it. NULL is allowed. */
FTPAGENT_API void ftpagent_job_clear(struct ftpagent_job *job);
/* Frees an array from ftpagent_job_list. NULL is allowed. */
FTPAGENT_API void ftpagent_jobs_free(struct ftpagent_job *jobs, size_t n);

/* The job's current state into *job (caller clears with
 * ftpagent_job_clear). FTPAGENT_ERR_NO_JOB when the agent does not know
 * it (or has forgotten it, 10 minutes after it ended). */
FTPAGENT_API bool ftpagent_job_status(struct ftpagent *, const char *job_id,
    struct ftpagent_job *job);
/*
 * Waits until the job has ended and fills *job (caller clears with
 * ftpagent_job_clear). A failed or cancelled job is a success of this
 * call: look at job->state and job->error. timeout_ms > 0: at most that
 * long, then FTPAGENT_ERR_TIMEOUT (the job runs on; clear the error to
 * go on). timeout_ms <= 0: until the job ends, however long, asking the
 * agent again every connection timeout, so a dead agent is still noticed.
 */
FTPAGENT_API bool ftpagent_job_wait(struct ftpagent *, const char *job_id,
    int timeout_ms, struct ftpagent_job *job);
/*
 * For a job of ftpagent_get_file_background (started by any process)
 * that has ended: waits until its file is in place, at most timeout_ms
 * (<= 0: 30 seconds). Returns at once for other jobs and when no
 * follower is known. ftpagent_job_wait does this itself.
 */
FTPAGENT_API void ftpagent_job_wait_file(struct ftpagent *,
    const char *job_id, int timeout_ms);
/* Cancels a queued or running job (ABOR for a running one; a download
 * keeps what it wrote). Cancelling a finished job changes nothing. */
FTPAGENT_API bool ftpagent_job_cancel(struct ftpagent *, const char *job_id);
/* All jobs of the caller's uid (root: all), running and recently ended.
 * *jobs is an array of *n (NULL when 0); caller frees with
 * ftpagent_jobs_free(*jobs, *n). */
FTPAGENT_API bool ftpagent_job_list(struct ftpagent *,
    struct ftpagent_job **jobs, size_t *n);

/* ---- trees (since libftpagent.so.1, LIBFTPAGENT_LT_VERSION 3:0:2) ------------ */

/*
 * A whole directory tree, or the files of one directory that match globs,
 * moved as one job of the agent (transfer.tree). The agent walks the
 * remote side and decides; the local side is done here, by this library,
 * beneath a directory descriptor the caller chose: while the call runs,
 * the agent asks this connection to list, make, open, rename and remove
 * local files, and the library does so with the caller's rights, umask
 * and quota, resolving every path beneath that directory without
 * following a symbolic link or leaving it (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, or O_NOFOLLOW at every component on kernels
 * without it). A path the agent sends that is not a plain relative path
 * is refused. Downloads land as NAME.part and are renamed when complete.
 */

enum ftpagent_tree_compare {
	FTPAGENT_COMPARE_DEFAULT = 0,	/* the agent's: DIFFER */
	FTPAGENT_COMPARE_DIFFER,	/* missing, or size or mtime differ */
	FTPAGENT_COMPARE_MISSING,	/* only files the destination lacks */
	FTPAGENT_COMPARE_ALL,		/* every file */
};

/* Flags of struct ftpagent_tree_opts. */
#define FTPAGENT_TREE_DELETE	0x01	/* remove what the destination has
					   and the source lacks (after the
					   transfers; not when one failed) */
#define FTPAGENT_TREE_DRY_RUN	0x02	/* walk and compare, change nothing
					   (the library then refuses every
					   local request but listing) */
#define FTPAGENT_TREE_NEWER_ONLY 0x04	/* an existing file only when the
					   source is newer */
#define FTPAGENT_TREE_NO_TIMES	0x08	/* do not give files the source's
					   mtime */
#define FTPAGENT_TREE_PERMS	0x10	/* give files the source's permission
					   bits (masked with 0777) */
#define FTPAGENT_TREE_NO_CONTINUE 0x20	/* do not resume a NAME.part left by
					   an earlier run */
#define FTPAGENT_TREE_ITEMS	0x40	/* one item callback per action (set
					   by itself when opts->item is not
					   NULL) */
#define FTPAGENT_TREE_MAX_DEPTH	0x80	/* max_depth is set */
#define FTPAGENT_TREE_FOLLOW_LINKS 0x100 /* get: a link on the server is
					   what it points to (a file or a
					   directory), at most 8 on one
					   path; without it links are
					   skipped (since 3:0:2) */
#define FTPAGENT_TREE_LINKS	0x200	/* get: a link on the server is made
					   again here, when its target stays
					   in the tree (since 3:0:2) */

/* One action of a tree (the agent's tree.item), valid during the item
 * callback only. */
struct ftpagent_tree_item {
	const char	*job;		/* the tree's job id */
	const char	*action;	/* "get", "put", "mkdir", "delete",
					   "skip", "failed" */
	const char	*path;		/* below the root (bytes) */
	int64_t		 size;		/* -1: unknown */
	/* "failed": why; FTPAGENT_OK and "" otherwise */
	enum ftpagent_error error;
	const char	*error_kind;
	const char	*error_message;
};

/* A file that failed after its retries. */
struct ftpagent_tree_failure {
	char		*path;		/* below the root (bytes) */
	enum ftpagent_error error;
	char		*error_kind;	/* protocol name: "ftp", ... */
	char		*error_message;
	int		 ftp_code;	/* the server's reply code, or 0 */
};

/*
 * A tree job as the agent last described it. job holds what every job
 * has (id, state, bytes and total summed over the files planned so far,
 * rate, eta -1 until the walk is complete, error: the first failure's);
 * the rest is the tree's. Owned by the struct: release with
 * ftpagent_tree_clear.
 */
struct ftpagent_tree {
	struct ftpagent_job job;
	int64_t		 files;		/* transferred */
	int64_t		 files_total;	/* planned so far */
	int64_t		 dirs;		/* directories listed */
	int64_t		 skipped;	/* equal, excluded or links */
	int64_t		 deleted;
	int64_t		 failed;	/* files that failed */
	bool		 walking;	/* the walk goes on */
	bool		 dry_run;
	/* the first failures (at most 20; failed counts them all) */
	struct ftpagent_tree_failure *failures;
	size_t		 n_failures;
};

/* Frees what *tree holds and zeroes it. NULL is allowed. */
FTPAGENT_API void ftpagent_tree_clear(struct ftpagent_tree *tree);

/* Called with the tree's state at every progress report of the agent (at
 * least once a second while it runs); tree is valid during the call.
 * Return false to cancel the tree (as for ftpagent_progress_cb). */
typedef bool (*ftpagent_tree_progress_cb)(void *arg,
    const struct ftpagent_tree *tree);
/* Called once per action of the tree (planned, for a dry run, or done). */
typedef void (*ftpagent_tree_item_cb)(void *arg,
    const struct ftpagent_tree_item *item);

/* What a tree does; all zero: the agent's defaults. */
struct ftpagent_tree_opts {
	enum ftpagent_xfer_dir direction; /* PUT: upload the local tree;
					   GET or UNKNOWN: download */
	enum ftpagent_tree_compare compare;
	unsigned	 flags;		/* FTPAGENT_TREE_* */
	/* NULL-terminated arrays of fnmatch globs, or NULL: a glob with a
	 * '/' is matched against the path below the root, else against the
	 * name; files are moved only if they match an include (when any is
	 * given) and no exclude; directories matching an exclude are
	 * skipped. Matched by the agent. */
	const char *const *include;
	const char *const *exclude;
	int		 max_depth;	/* with FTPAGENT_TREE_MAX_DEPTH:
					   directory levels below the root
					   (0: only the root's files); else,
					   or < 0: the agent's (unlimited) */
	int		 parallel;	/* files in flight, 1-16; 0: the
					   agent's (min(4, connections)) */
	ftpagent_tree_progress_cb progress; /* may be NULL */
	ftpagent_tree_item_cb item;	/* may be NULL */
	void		*arg;		/* of both */
};

/*
 * Moves the tree at remote_path (a directory on the server) to or from
 * the directory local_dir (a descriptor of a directory the caller opened,
 * O_PATH is enough; it is duplicated, the caller keeps its own). opts may
 * be NULL. Returns true when every file was moved or skipped. When the
 * agent took the tree, *result (may be NULL) receives its final state
 * whether the call succeeds or not: a tree with failed files fails with
 * the first failure's error, and result->failures lists them. Caller
 * clears *result with ftpagent_tree_clear (zeroed first, so clearing is
 * always safe). The connection's timeout is an inactivity timeout here:
 * the agent's progress and requests restart it. The connection serves
 * the tree until it ends; closing it cancels the tree (complete files
 * stay, partial ones as NAME.part, to be resumed).
 */
FTPAGENT_API bool ftpagent_tree(struct ftpagent *, const char *session,
    const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, struct ftpagent_tree *result);
/*
 * ftpagent_tree in the background: returns once the agent has taken the
 * tree, with *job its job id (caller frees with free()); follow it with
 * ftpagent_job_wait, the other job functions or events. The tree's
 * local side needs a connection that lasts as long as the tree, so this
 * call opens a second connection to the agent (the socket this one was
 * made with: not for a connection of ftpagent_connect_fd) and hands it
 * to a detached process of this library (a fork of the caller, without
 * the caller's other descriptors, that runs only this library's code),
 * which starts the tree on it, serves its local side beneath local_dir
 * and exits when the tree ends, when the agent closes, or when the agent
 * stays silent longer than this connection's timeout. Cancelling the
 * job (ftpagent_job_cancel) ends it. Nothing waits for that process
 * (no zombie is left). opts as for ftpagent_tree, but opts->progress
 * and opts->item are not called. When the tree ends before its first
 * progress report, *job is still its id. Takes at most this
 * connection's timeout; a failure to start the tree is this call's
 * error. Its send form: ftpagent_send_tree_background
 * (<ftpagent_async.h>).
 */
FTPAGENT_API bool ftpagent_tree_background(struct ftpagent *,
    const char *session, const char *remote_path, int local_dir,
    const struct ftpagent_tree_opts *opts, char **job);

/* ---- events ---------------------------------------------------------------- */

enum ftpagent_event_type {
	FTPAGENT_EVENT_NONE = 0,
	FTPAGENT_EVENT_JOB_PROGRESS,	/* job holds the job's state */
	FTPAGENT_EVENT_JOB_FINISHED,	/* job holds its final state; once */
	FTPAGENT_EVENT_SESSION_STATE,	/* session, state, connections, busy */
};

/* One notification from the agent. Release with ftpagent_event_clear. */
struct ftpagent_event {
	enum ftpagent_event_type type;
	struct ftpagent_job job;	/* JOB_PROGRESS, JOB_FINISHED */
	char		*session;	/* SESSION_STATE: the session id */
	char		*state;		/* SESSION_STATE: "connecting", "ready",
					   "busy", "closed", ... */
	int		 connections;	/* SESSION_STATE: open control
					   connections, or -1 */
	int		 busy;		/* SESSION_STATE: those running an
					   operation, or -1 */
};

/*
 * Asks the agent for notifications on this connection: about the jobs
 * named in the NULL-terminated array jobs, or with jobs NULL about all
 * jobs of the caller's uid (later ones too) and its sessions' states.
 * Subscribing again adds to the set. From then on notifications that
 * arrive while another call on this connection waits for its reply are
 * kept for ftpagent_next_event, oldest first: a newer job.progress of a
 * job replaces the one still unread (so a slow reader gets the latest
 * state), and at most 4096 are kept (beyond that the oldest unread
 * job.progress, else the oldest event, is dropped). An agent without
 * events answers FTPAGENT_ERR_RPC with ftpagent_error_kind() "method".
 */
FTPAGENT_API bool ftpagent_subscribe(struct ftpagent *,
    const char *const *jobs);
/*
 * The next notification: a kept one, else one read from the agent
 * within timeout_ms (0: only what has arrived already; < 0: the
 * connection's timeout). Returns true with *ev filled (caller clears with
 * ftpagent_event_clear); false with ftpagent_error() == FTPAGENT_OK when
 * none came in time (no error is set then); false with the sticky error
 * set when the connection failed. Replies to calls that gave up earlier
 * are skipped; notifications of kinds this library does not know too.
 */
FTPAGENT_API bool ftpagent_next_event(struct ftpagent *,
    struct ftpagent_event *ev, int timeout_ms);
/* Frees what *ev holds and zeroes it. NULL is allowed. */
FTPAGENT_API void ftpagent_event_clear(struct ftpagent_event *ev);

/* ---- escape hatch ------------------------------------------------------ */

/*
 * Calls any method. params_json is a JSON object or array text, or NULL.
 * On success *result_json receives the result as compact JSON text (caller
 * frees with free()). An error reply sets the sticky error: its code,
 * message and kind from ftpagent_error(), ftpagent_error_message() and
 * ftpagent_error_kind(), and its "data" member (not the whole error
 * object) as JSON text from ftpagent_error_data().
 */
FTPAGENT_API bool ftpagent_call(struct ftpagent *, const char *method,
    const char *params_json, char **result_json);
/* Like ftpagent_call, passing fds (at most 4) with SCM_RIGHTS; params name
 * them by index. */
FTPAGENT_API bool ftpagent_call_fds(struct ftpagent *, const char *method,
    const char *params_json, const int *fds, size_t nfds, char **result_json);
/* The "data" member of the last error reply as JSON text, or NULL. Valid
 * until the error is cleared. */
FTPAGENT_API const char *ftpagent_error_data(const struct ftpagent *);

FTPAGENT_API const char *ftpagent_version(void);

#ifdef __cplusplus
}
#endif
#endif
