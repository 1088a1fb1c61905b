/*
 * conn: libftpagent's transport. One connection to the agent's Unix
 * socket, never blocking once connected: NDJSON framing in; out, a queue
 * of requests where each message carries its descriptors (SCM_RIGHTS)
 * to its first byte. Nothing here waits: core.c decides when to write,
 * read and sleep.
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
	CONN_TIMEOUT,	/* connecting took too long */
	CONN_CLOSED,	/* the agent hung up */
	CONN_IO,	/* a socket call failed; conn.err holds errno */
	CONN_BADMSG,	/* the agent sent something that is not JSON-RPC */
	CONN_TOOBIG,	/* a message exceeds CONN_MAX_MSG */
	CONN_NOMEM,
};

/* A queued message that carries descriptors (duplicates of the
 * caller's, closed once sent). Offsets count the stream's bytes. */
struct conn_mark {
	uint64_t	 start, end;
	int		 fds[CONN_MAX_FDS];
	size_t		 nfds;
};

/* Notifications kept for the caller, oldest first. */
#define CONN_NOTES_MAX	4096
struct conn_note;

struct conn {
	int		 fd;		/* -1 when closed */
	int		 err;		/* errno behind CONN_IO */
	struct ndjson	 in;
	/* out: bytes [ohead, otail) of obuf; obuf[ohead] is byte osent of
	 * the stream */
	char		*obuf;
	size_t		 ohead, otail, ocap;
	uint64_t	 osent;
	struct conn_mark *marks;	/* marks[mhead..mtail), in order */
	size_t		 mhead, mtail, mcap;
	struct conn_note *notes;	/* oldest first */
	struct conn_note *notes_tail;
	size_t		 nnotes;
};

void		 conn_init(struct conn *);
/* Connects to path, waiting at most timeout_ms (only a full listen
 * queue makes it wait). On failure conn.err holds errno (ENAMETOOLONG
 * when path does not fit sun_path). */
enum conn_status	conn_connect(struct conn *, const char *path,
    int timeout_ms);
/* Takes fd, a connected socket, making it non-blocking. */
enum conn_status	conn_adopt(struct conn *, int fd);
/* True when something accepts connections on path. */
bool		 conn_probe(const char *path, int timeout_ms);
/* Closes the socket and drops what was queued either way. */
void		 conn_close(struct conn *);
/* Frees everything, kept notifications too. */
void		 conn_free(struct conn *);
bool		 conn_is_open(const struct conn *);
int		 conn_fd(const struct conn *);

/* Milliseconds on the monotonic clock. */
int64_t		 conn_now_ms(void);

/*
 * Queues len bytes (one whole message), with nfds (<= CONN_MAX_FDS)
 * descriptors to go with its first byte: duplicated here, so the caller
 * keeps its own. Writes nothing.
 */
enum conn_status	conn_queue(struct conn *, const char *buf, size_t len,
    const int *fds, size_t nfds);
/* Bytes queued and not yet written. */
size_t		 conn_queued(const struct conn *);
/* Writes what the socket takes now. A failure closes the connection. */
enum conn_status	conn_flush(struct conn *);
/* Reads what the socket holds now (up to a bound, so that one busy
 * connection cannot keep its caller forever) into the framer. On a
 * hang-up or an error the socket is closed, and the messages read
 * before it stay for conn_next. */
enum conn_status	conn_fill(struct conn *);
/*
 * Pulls one buffered message: CONN_OK with *have set when *out holds
 * one (release with jsonrpc_msg_clear), CONN_OK with *have false when
 * more input is needed. Framing or parse failures close the connection.
 * Requests from the agent (a tree's local.*) come out too: the core
 * answers every one.
 */
enum conn_status	conn_next(struct conn *, struct jsonrpc_msg *out,
    bool *have);

/*
 * Keeps a copy of notification m for conn_note_pop. With key not NULL,
 * a kept notification of the same method and key is replaced where it
 * stands (the latest state wins, the order of the others is kept). When
 * CONN_NOTES_MAX are kept already, the oldest keyed one goes, else the
 * oldest. Returns CONN_OK or CONN_NOMEM.
 */
enum conn_status	conn_note_keep(struct conn *,
    const struct jsonrpc_msg *m, const char *key);
/* The oldest kept notification into *out: false when none. */
bool		 conn_note_pop(struct conn *, struct jsonrpc_msg *out);
/* Drops every kept notification. */
void		 conn_notes_clear(struct conn *);

#endif
