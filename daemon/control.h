/*
 * The agent's Unix socket: listening, per-client connections, NDJSON
 * framing, fd passing (SCM_RIGHTS) and peer credentials (SO_PEERCRED).
 */
#ifndef FTPA_CONTROL_H
#define FTPA_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <ev.h>

#include "ndjson.h"
#include "util.h"

#define CLIENT_MAX_FDS		4
#define CLIENT_OUT_HIGHWATER	(4 * 1024 * 1024)
#define CLIENT_OUT_HARDCAP	(16 * 1024 * 1024)	/* notifications */
/* A connection with more unread than this when its uid's unread replies
 * pass UID_MAX_OUT (budget.h) is disconnected at its next notification. */
#define CLIENT_OUT_IDLE		(64 * 1024)

struct fdgroup {
	uint64_t	 offset;	/* stream offset of the byte they came with */
	int		 fds[CLIENT_MAX_FDS];
	size_t		 nfds;
	bool		 dropped;	/* some were refused (over budget) */
	struct fdgroup	*next;
};

struct rpc_call;
struct budget;

struct client {
	uint64_t	 serial;
	int		 fd;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	ev_io		 rw;
	ev_io		 ww;
	struct ndjson	 in;
	uint64_t	 in_offset;	/* stream offset of the next message */
	struct buf	 out;
	struct fdgroup	*fdq;
	size_t		 nfds;		/* descriptors held in fdq */
	size_t		 nfdgroups;	/* groups in fdq */
	bool		 fd_flood;	/* more fd-carrying sends than requests */
	struct budget	*b;		/* its uid's holdings */
	unsigned	 ncalls;	/* pending calls (budget.h) */
	unsigned	 nheavy;	/* of which heavy */
	bool		 closing;	/* close once the output is flushed */
	bool		 dead;
	struct events_sub *ev;		/* events.c: subscriptions, progress
					   owed; NULL: none */
	int		 refs;
	bool		 flush_queued;	/* on the list written before the
					   loop sleeps */
	struct client	*flush_next;
	struct rpc_call	*calls;		/* pending asynchronous calls */
	struct client	*next;
};

struct control_opts {
	const char	*path;
	mode_t		 mode;
	int		 listen_fd;	/* >= 0: inherited (socket activation) */
	size_t		 max_msg;
	unsigned	 max_conns_per_uid;
	unsigned	 max_conns;
};

/* Returns 0, or -1 with a message logged (another agent answers, etc.). */
int	 control_listen(const struct control_opts *);
void	 control_shutdown(void);	/* stop accepting, close the socket */
void	 control_close_all(void);	/* close every client connection */
size_t	 control_count(void);
/* New limits on client connections (SIGHUP); existing ones stay. */
void	 control_set_limits(unsigned max_conns, unsigned max_conns_per_uid);
/* Queues one message (consumes msg). Dropped when the client is gone. */
void	 client_send(struct client *, json_t *msg);
bool	 client_congested(const struct client *);
/* Queues a notification (consumes msg). A client whose unread output
 * passes CLIENT_OUT_HARDCAP, or CLIENT_OUT_IDLE while its uid is past
 * UID_MAX_OUT, is disconnected instead: notifications never grow without
 * bound, per connection or per uid. */
void	 client_notify(struct client *, json_t *msg);
/* Whether output is still waiting to be sent. */
bool	 client_has_output(const struct client *);
/* fn runs when a client with events (c->ev) has sent all its output. */
void	 control_set_drain_hook(void (*fn)(struct client *));
/* Calls fn on every connected client. fn must not close clients. */
void	 control_each(void (*fn)(struct client *, void *), void *arg);
/* Pending call accounting (rpc.c): a call that will answer later, and its
 * end. c is NULL when the client is gone. */
void	 control_call_started(struct client *, bool heavy);
void	 control_call_ended(struct client *, struct budget *, bool heavy);
/* Stop reading; close once everything queued has been sent. */
void	 client_close_after_flush(struct client *);
void	 client_ref(struct client *);
void	 client_unref(struct client *);

#endif
