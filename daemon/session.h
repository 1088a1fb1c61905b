/*
 * Sessions: a logged-in FTP account owned by one uid, with up to
 * max_conns control connections and a queue of operations; each
 * operation runs on the first free connection, and connections are
 * opened (and logged in with the same settings) while operations wait.
 * Idle connections send NOOP every keepalive seconds and are closed
 * after idle_timeout; a connection that dies is reopened on demand.
 */
#ifndef FTPA_SESSION_H
#define FTPA_SESSION_H

#include <stdbool.h>
#include <sys/types.h>
#include <ev.h>
#include <jansson.h>

#include "ftp.h"

#define SESSION_ID_MAX	64

enum session_state {
	SESS_CONNECTING,
	SESS_READY,
	SESS_BUSY,
	SESS_CLOSED,
	SESS_STATE_LAST
};

#define SESSION_CONNS_MAX	16

struct session;
typedef void (*session_open_cb)(struct session *, struct ftp_op *login, void *arg);

/* Settings of a session beyond how to log in. */
struct session_opts {
	int		 max_conns;	/* 1..SESSION_CONNS_MAX */
	double		 keepalive;	/* NOOP interval, 0: none */
	double		 idle_timeout;	/* close idle connections, 0: never */
	int		 retries;	/* transfer retries on network errors */
	double		 retry_delay;	/* first backoff, doubled each time */
};

/* One control connection of a session. */
struct sconn {
	struct session	*s;
	struct ftp_conn	*conn;
	struct ftp_op	*login;		/* while logging in */
	struct ftp_op	*noop;		/* keepalive NOOP in flight */
	bool		 after_noop;	/* the next READY ends a NOOP */
	bool		 quitting;	/* session_close dealt with it */
	bool		 ready;		/* logged in */
	double		 idle_since;	/* end of the last operation */
	ev_timer	 timer;		/* keepalive and idle timeout */
	struct sconn	*next;
};

struct session {
	char		 id[SESSION_ID_MAX + 1];
	uid_t		 uid;
	struct ftp_params p;
	enum session_state state;
	struct ftp_login_facts *facts;	/* what the first login learned */
	struct session_opts o;
	struct sconn	*conns;
	int		 nconns;
	int		 cap;		/* connections the server accepted at
					   most; 0: no refusal seen */
	double		 extra_backoff;	/* after an extra connection failed on
					   the network: the pause before the
					   next one (doubles), 0: none */
	double		 extra_after;	/* no extra connection before this */
	ev_timer	 extra_timer;	/* ops wait for its end: kicks again */
	struct ftp_op	*q_head;
	struct ftp_op	*q_tail;
	size_t		 queued;
	double		 last_used;
	bool		 opened;	/* the first login succeeded */
	bool		 closing;
	bool		 destroyed;
	session_open_cb	 open_cb;
	void		*open_arg;
	struct session	*next;
};

/* Takes ownership of p's strings. Starts connecting; open_cb runs once the
 * first login has succeeded or failed (never inside this call). On failure
 * the callback must call session_destroy. */
struct session	*session_new(uid_t, const char *id, struct ftp_params *,
		    const struct session_opts *, session_open_cb, void *arg);
struct session	*session_lookup(const char *id);
/* uid's session named id (not closing); with root_any, for root (uid 0),
 * another uid's when root has none of that name. NULL when none. */
struct session	*session_find(uid_t, const char *id, bool root_any);
/* Calls fn for every session not closing, newest first; fn must not
 * open or close sessions. */
void		 session_each(void (*fn)(const struct session *, void *),
		    void *arg);
/* True while any session exists, closing ones included. */
bool		 session_any(void);
/* A logged-in session of this uid (named id, unless NULL) with the same
 * server, port, user, TLS mode and data connection mode, verified at
 * least as strictly, and the same password unless the request has none. */
struct session	*session_find_equal(uid_t, const struct ftp_params *,
		    const char *id);
/* Queues op; its done callback runs when it ends. */
void		 session_submit(struct session *, struct ftp_op *);
/* Cancels a queued or running op; its done callback runs (cancelled). */
void		 session_cancel_op(struct session *, struct ftp_op *);
/* Fails queued ops, QUITs, and frees the session. */
void		 session_close(struct session *);
void		 session_destroy(struct session *);
size_t		 session_count(uid_t, bool all);
json_t		*session_json(const struct session *);
const char	*session_state_name(enum session_state);
/* True while a connection waits for the reply to its ABOR or QUIT. */
bool		 session_winding_down(void);
/* QUIT every session (shutdown). */
void		 session_close_all(void);

#endif
