/*
 * conn: libftpagent's transport core. One connection to the agent's Unix
 * socket: NDJSON framing in, JSON-RPC requests (with SCM_RIGHTS fds) out,
 * replies matched by id. The socket is always non-blocking; the blocking
 * API waits with poll() against a deadline, so the same core can later
 * serve a non-blocking face (ftpagent_fd/_events/_process).
 */
#ifndef FTPAGENT_CONN_H
#define FTPAGENT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ndjson.h"
#include "jsonrpc.h"

#define CONN_MAX_FDS	4
/* Replies may be much larger than the 1 MiB requests (inline transfers
 * return up to 16 MiB as base64). */
#define CONN_MAX_MSG	(32 * 1024 * 1024)

enum conn_status {
	CONN_OK = 0,
	CONN_TIMEOUT,	/* the deadline passed; the stream is still in sync
			   unless conn_is_open() says otherwise */
	CONN_CLOSED,	/* the agent hung up */
	CONN_IO,	/* a socket call failed; conn.err holds errno */
	CONN_BADMSG,	/* the agent sent something that is not JSON-RPC */
	CONN_TOOBIG,	/* a message exceeds CONN_MAX_MSG */
	CONN_NOMEM,
	CONN_ABORTED,	/* the notification callback asked to stop */
};

/* Notifications kept for the caller, oldest first. */
#define CONN_NOTES_MAX	4096
struct conn_note;

struct conn {
	int		 fd;		/* -1 when closed */
	struct ndjson	 in;
	json_int_t	 next_id;
	int		 err;		/* errno behind CONN_IO */
	struct conn_note *notes;	/* oldest first */
	struct conn_note *notes_tail;
	size_t		 nnotes;
};

/* Callback for notifications that arrive while conn_wait waits. Returns
 * CONN_NOTIFY_IGNORE, CONN_NOTIFY_ACTIVE (restarts the inactivity timer)
 * or CONN_NOTIFY_ABORT (conn_wait returns CONN_ABORTED). */
#define CONN_NOTIFY_IGNORE	0
#define CONN_NOTIFY_ACTIVE	1
#define CONN_NOTIFY_ABORT	(-1)
typedef int (*conn_notify_cb)(void *arg, const struct jsonrpc_msg *);

void		 conn_init(struct conn *);
/* Connects to path, waiting at most timeout_ms. On failure conn.err holds
 * errno (ENAMETOOLONG when path does not fit sun_path). */
enum conn_status	conn_connect(struct conn *, const char *path,
    int timeout_ms);
/* True when something accepts connections on path. */
bool		 conn_probe(const char *path, int timeout_ms);
void		 conn_close(struct conn *);
bool		 conn_is_open(const struct conn *);
int		 conn_fd(const struct conn *);

/* Milliseconds on the monotonic clock. */
int64_t		 conn_now_ms(void);

/*
 * Sends len bytes, with nfds (<= CONN_MAX_FDS) descriptors attached to the
 * first byte. Handles partial writes and EINTR; waits for POLLOUT until
 * deadline (conn_now_ms() based). A failure after part of the message went
 * out closes the connection, since the stream is out of sync.
 */
enum conn_status	conn_send(struct conn *, const char *buf, size_t len,
		    const int *fds, size_t nfds, int64_t deadline);
/* Builds and sends a request with the next id, stored in *id. params is
 * stolen (may be NULL). */
enum conn_status	conn_request(struct conn *, const char *method,
		    json_t *params, const int *fds, size_t nfds,
		    int64_t deadline, json_int_t *id);

/* Reads what the socket holds into the framer, waiting until deadline for
 * at least one byte. */
enum conn_status	conn_read(struct conn *, int64_t deadline);
/* Pulls one buffered message. Returns CONN_OK with *have set when *out
 * holds one (release with jsonrpc_msg_clear), CONN_OK with *have false
 * when more input is needed. Framing or parse failures close the
 * connection. */
enum conn_status	conn_next(struct conn *, struct jsonrpc_msg *out,
    bool *have);

/*
 * Waits for the response (result or error) to request id, handing
 * notifications to cb (may be NULL) and dropping responses to other ids
 * (late replies of calls that timed out, job.cancel replies). An error
 * reply with a null id is taken as the answer: the agent could not parse
 * what we sent. timeout_ms is an inactivity timeout: it restarts whenever
 * cb returns CONN_NOTIFY_ACTIVE.
 */
enum conn_status	conn_wait(struct conn *, json_int_t id, int timeout_ms,
		    conn_notify_cb cb, void *arg, struct jsonrpc_msg *out);

/*
 * Keeps a copy of notification m for conn_next_note. With key not NULL, a
 * kept notification of the same method and key is replaced where it
 * stands (the latest state wins, the order of the others is kept). When
 * CONN_NOTES_MAX are kept already, the oldest keyed one goes, else the
 * oldest. Returns CONN_OK or CONN_NOMEM.
 */
enum conn_status	conn_note_keep(struct conn *,
    const struct jsonrpc_msg *m, const char *key);
/* Drops every kept notification. */
void		 conn_notes_clear(struct conn *);
/*
 * The next notification: a kept one, else one read from the socket
 * until deadline (replies are dropped: they belong to calls that gave
 * up). CONN_TIMEOUT when none came; *out then holds nothing.
 */
enum conn_status	conn_next_note(struct conn *, int64_t deadline,
		    struct jsonrpc_msg *out);

#endif
