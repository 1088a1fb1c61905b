/*
 * What the FTP engine's files share (ftp.c, ftp_login.c, ftp_data.c,
 * ftp_pump.c, ftp_xfer.c, ftp_dir.c): the connection, its limits, and
 * the functions one file calls in another. Not for the rest of the
 * daemon: ftp.h is.
 */
#ifndef FTPA_FTP_PRIV_H
#define FTPA_FTP_PRIV_H

#include <stdbool.h>
#include <sys/socket.h>

#include <ev.h>

#include "ftp.h"
#include "ftp_ascii.h"
#include "ftp_reply.h"
#include "io.h"
#include "resolver.h"
#include "tls.h"

#define XBUF_SIZE	(256 * 1024)
#define ZPIPE_SIZE	(256 * 1024)	/* the splice pipe, when the kernel allows */
/* what a splice left in the pipe fits in xbuf when falling back to copying */
_Static_assert(ZPIPE_SIZE <= XBUF_SIZE, "the splice pipe outgrows xbuf");
/*
 * Fair sharing: an event moves at most XFER_BUDGET divided among the
 * transfers under way, but never less than XFER_SLICE. The event loop thus
 * comes back to the RPC socket after a bounded amount of work, whatever the
 * number and speed of transfers.
 */
#define XFER_BUDGET	(1024 * 1024)
#define XFER_SLICE	(8 * 1024)
#define LISTING_MAX	(64 * 1024 * 1024)
#define LIST_ENTRIES_MAX 1000000
#define QUIT_WAIT	2.0
#define DRAIN_WAIT	5.0	/* for the server's close_notify after an upload,
				   or a failed download's last bytes */
#define DATA_TLS_WAIT	1.0	/* for the 1xx before a data TLS handshake */

enum ftp_state {
	FTP_S_NEW,
	FTP_S_RESOLVING,
	FTP_S_CONNECTING,
	FTP_S_TLS,
	FTP_S_GREETING,
	FTP_S_LOGIN,
	FTP_S_SETUP,
	FTP_S_READY,
	FTP_S_BUSY,
	FTP_S_QUIT,
	FTP_S_CLOSED,
	FTP_S_LAST
};

/* How a transfer moves its bytes (chosen in data_open). */
enum xfer_mode {
	XM_COPY,	/* read/write through xbuf: TLS, ASCII, memory, sockets */
	XM_SPLICE,	/* download: socket -> pipe -> local fd, in the kernel */
	XM_SENDFILE,	/* upload: regular file -> socket, in the kernel */
};

/* The steps of a login (ftp_login.c), in the order they normally come. */
enum login_step {
	LOGIN_GREETING,		/* the server's 220 (no command) */
	LOGIN_AUTH,		/* AUTH TLS */
	LOGIN_USER,
	LOGIN_PASS,
	LOGIN_PBSZ,		/* PBSZ 0, then PROT P: under TLS */
	LOGIN_PROT,
	LOGIN_FEAT,
	LOGIN_OPTS_MLST,	/* when FEAT names MLST */
	LOGIN_OPTS_UTF8,	/* when FEAT names UTF8 */
	LOGIN_PWD,		/* the login directory */
	LOGIN_SYST,
	LOGIN_TYPE,		/* TYPE I */
	LOGIN_STEP_LAST
};

/*
 * The command exchanges of an operation (and of its end: ABOR, QUIT),
 * one at a time: op_send enters a step by sending its command, and the
 * step's reply goes to the handler named in the table of ftp.c.
 */
enum op_step {
	STEP_NONE,
	STEP_HOME,		/* CWD back to the login directory */
	STEP_TYPE,		/* TYPE A or I */
	STEP_SIZE,		/* get: the size (a resume is checked against it) */
	STEP_PUT_SIZE,		/* put, tried again: what the server has */
	STEP_EPSV,		/* passive data connection */
	STEP_PASV,
	STEP_EPRT,		/* active data connection */
	STEP_PORT,
	STEP_REST,		/* the offset to resume at */
	STEP_XFER,		/* RETR, STOR, APPE, LIST, MLSD: 1xx, then 2xx */
	STEP_LIST_CWD,		/* fs.list without MLSD: into the directory */
	STEP_MLST,		/* fs.stat */
	STEP_STAT_SIZE,		/* fs.stat without MLST: SIZE, MDTM, ... */
	STEP_STAT_MDTM,
	STEP_STAT_PARENT,	/* ... into the parent, to list it, ... */
	STEP_STAT_CWD,		/* ... or a directory if it can be entered */
	STEP_CMD,		/* a plain command (RNFR of a rename) */
	STEP_CMD2,		/* RNTO */
	STEP_QUOTE,		/* ftp.quote */
	STEP_ABOR,		/* a transfer cancelled */
	STEP_QUIT,
	STEP_LAST
};

/* A data connection's progress (ftp_data.c). */
enum data_state {
	DATA_NONE,		/* none (or the one used is finished) */
	DATA_LISTENING,		/* active mode: our listener awaits the server */
	DATA_CONNECTING,	/* passive mode: connect() under way */
	DATA_OPEN,		/* connected; under TLS, the handshake waits */
	DATA_HANDSHAKE,		/* the TLS handshake is under way */
	DATA_READY,		/* bytes move */
	DATA_DRAINING,		/* an upload is sent: reading to the server's end */
	DATA_STATE_LAST
};

typedef void (*reply_fn)(struct ftp_conn *, int code, const char *text);

struct ftp_conn {
	struct ftp_params *p;		/* the session's; epsv_off is shared */
	enum ftp_state	 state;
	enum login_step	 lstep;		/* in resolving .. setup */
	ftp_conn_cb	 cb;
	void		*arg;
	bool		 dead;

	struct resolve	*res;
	struct addrinfo	*ai_list;
	struct addrinfo	*ai_cur;
	struct io	*io;
	struct ftp_reply_reader rr;
	reply_fn	 on_reply;
	enum op_step	 step;		/* busy: the command exchange under way */
	struct sockaddr_storage peer;
	socklen_t	 peerlen;

	char		*welcome;
	char		*system;
	char		*home;
	bool		 away;		/* a CWD left the login directory: the
					   next op goes back first */
	char		**feat;
	bool		 has_mlst;
	char		 cur_type;

	/* TLS */
	struct tls_sessions tls_sess;
	char		 tls_version[16];
	int		 tls_reuse;	/* 1 yes, 0 no, -1 unknown */
	enum data_state	 dstate;
	bool		 data_tls_due;	/* no 1xx within DATA_TLS_WAIT: the
					   handshake goes without it */
	bool		 data_truncated;
	/* ASCII conversion state across reads */
	char		*abuf;
	struct ftp_ascii ascii;

	struct ftp_op	*op;
	struct ftp_op	*login;

	/* data connection of the running op */
	struct io	*data;
	int		 lsn_fd;	/* active mode: our listener, or -1 */
	ev_io		 lsn_w;
	ev_timer	 lsn_timer;
	enum xfer_mode	 xmode;
	bool		 xcounted;	/* in xfer_active */
	char		*xbuf;		/* XM_COPY */
	size_t		 xlen;
	size_t		 xoff;
	int		 zp[2];		/* XM_SPLICE: the pipe */
	size_t		 zfill;		/* bytes in it */
	size_t		 zcap;		/* its capacity */
	ev_io		 lw;		/* local fd readiness */
	ev_timer	 quit_timer;
	ev_timer	 ready_timer;
	ev_timer	 ka_timer;	/* NOOPs during a transfer */
	ev_timer	 yield_timer;	/* a transfer goes on next iteration */
	ev_timer	 rate_timer;	/* a limited transfer waits for its rate */
	int64_t		 rate_cap;	/* what its limits allow this turn */
	ev_timer	 tls_wait_timer; /* DATA_TLS_WAIT */
	int		 noop_out;	/* their replies still to come */
};

/* ftp.c */
void	set_state(struct ftp_conn *c, enum ftp_state s);
void	op_complete(struct ftp_conn *c, struct ftp_op *op);
/* The connection is unusable: what runs on it fails, it closes. */
void	conn_drop(struct ftp_conn *c, enum ftpa_err kind, int code,
    const char *text, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void	announce_ready(struct ftp_conn *c);
/* The op failed; the connection stays usable (unless a reply is owed). */
void	op_fail(struct ftp_conn *c, enum ftpa_err kind, int code,
    const char *text, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void	op_succeed(struct ftp_conn *c);
const char	*first_line(const char *text, char *buf, size_t len);
/* Enters an op's step: sends its command; op_reply takes the reply. */
void	op_send(struct ftp_conn *c, enum op_step step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether the reply awaited is a transfer command's (1xx allowed). */
bool	op_in_xfer(const struct ftp_conn *c);
/* Sends a command; fn takes its reply. */
void	send_cmd(struct ftp_conn *c, reply_fn fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void	ka_start(struct ftp_conn *c);
void	ctrl_io_cb(struct io *io, enum io_event ev, void *arg);

/* ftp_login.c */
void	ctrl_start_tls(struct ftp_conn *c);
void	ctrl_tls_ready(struct ftp_conn *c);
void	try_connect(struct ftp_conn *c);
/* Expects the greeting on a new connection. */
void	login_start(struct ftp_conn *c);
/* Whether the reply awaited may be preliminary (the greeting's 120). */
bool	login_takes_prelim(const struct ftp_conn *c);

/* ftp_data.c */
void	data_set_state(struct ftp_conn *c, enum data_state s);
/* The data connection's idle timeout now: data_timeout, or DRAIN_WAIT at
 * most while it only drains (after an upload, or a failure reply). */
double	data_idle_timeout(const struct ftp_conn *c);
/* The data connection broke (why): the server's failure reply, when one
 * came before (xfer_failing), is the op's end; else the connection is
 * dropped. */
void	data_broke(struct ftp_conn *c, enum ftpa_err kind, const char *why);
void	listener_close(struct ftp_conn *c);
void	data_close(struct ftp_conn *c);
/* A data connection for the running op; xfer_data_ready follows. */
void	data_open(struct ftp_conn *c);
void	epsv_reply(struct ftp_conn *c, int code, const char *text);
void	pasv_reply(struct ftp_conn *c, int code, const char *text);
void	eprt_reply(struct ftp_conn *c, int code, const char *text);
void	port_reply(struct ftp_conn *c, int code, const char *text);
void	data_start_tls(struct ftp_conn *c);
bool	data_tls_may_start(const struct ftp_conn *c);
void	data_tls_wait_cb(struct ev_loop *loop, ev_timer *w, int revents);
void	data_tls_arm(struct ftp_conn *c);
void	put_maybe_start(struct ftp_conn *c);

/* ftp_pump.c */
/* Before a data connection opens: how the bytes will move. */
void	pump_prepare(struct ftp_conn *c);
/* When it closes: frees the buffers and the splice pipe. */
void	pump_release(struct ftp_conn *c);
/* Moves a bounded share of the running op's bytes, when it may. */
void	pump_run(struct ftp_conn *c);
/* The upload's data connection is done: the file is complete. */
void	put_data_done(struct ftp_conn *c);
void	yield_cb(struct ev_loop *loop, ev_timer *w, int revents);
void	rate_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* ftp_xfer.c */
void	xfer_maybe_finish(struct ftp_conn *c);
/* A download's failure reply came before the end of its data: the data
 * is read to its end (DRAIN_WAIT at most), then the op fails. */
bool	xfer_failing(const struct ftp_conn *c);
/* The op fails with that reply now (the data ended, broke or stalled). */
void	xfer_fail_final(struct ftp_conn *c);
void	xfer_reply(struct ftp_conn *c, int code, const char *text);
void	retr_send(struct ftp_conn *c);
/* TYPE as the op needs it, then on with the op (op_typed). */
void	with_type(struct ftp_conn *c, char want);
void	xfer_data_ready(struct ftp_conn *c);
void	type_reply(struct ftp_conn *c, int code, const char *text);
void	size_reply(struct ftp_conn *c, int code, const char *text);
void	put_size_reply(struct ftp_conn *c, int code, const char *text);
void	rest_reply(struct ftp_conn *c, int code, const char *text);
void	get_typed(struct ftp_conn *c);
/* TYPE as the op needs it (with_type): the op goes on by its kind. */
void	op_typed(struct ftp_conn *c);
void	put_typed(struct ftp_conn *c);

/* ftp_dir.c */
void	list_start(struct ftp_conn *c);
void	list_not_dir(struct ftp_conn *c, int code, const char *text);
bool	list_single_done(struct ftp_conn *c);
void	list_finish(struct ftp_conn *c);
void	stat_list_finish(struct ftp_conn *c);
void	stat_by_size(struct ftp_conn *c);
void	mlst_reply(struct ftp_conn *c, int code, const char *text);
void	list_cwd_reply(struct ftp_conn *c, int code, const char *text);
void	stat_size_reply(struct ftp_conn *c, int code, const char *text);
void	mdtm_reply(struct ftp_conn *c, int code, const char *text);
void	stat_parent_reply(struct ftp_conn *c, int code, const char *text);
void	cwd_reply(struct ftp_conn *c, int code, const char *text);
void	cmd_reply(struct ftp_conn *c, int code, const char *text);
void	quote_reply(struct ftp_conn *c, int code, const char *text);

#endif
