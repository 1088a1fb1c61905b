#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/sendfile.h>
#include <netinet/in.h>

#include "ftp.h"
#include "ftp_list.h"
#include "ftp_parse.h"
#include "ftp_reply.h"
#include "io.h"
#include "log.h"
#include "resolver.h"
#include "tls.h"
#include "util.h"

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
#define PUT_DRAIN_WAIT	5.0	/* for the server's close_notify after an upload */
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

static const char *ftp_state_names[FTP_S_LAST] = {
	"new", "resolving", "connecting", "tls", "greeting", "login", "setup",
	"ready", "busy", "quit", "closed",
};

/* How a transfer moves its bytes (chosen in data_open). */
enum xfer_mode {
	XM_COPY,	/* read/write through xbuf: TLS, ASCII, memory, sockets */
	XM_SPLICE,	/* download: socket -> pipe -> local fd, in the kernel */
	XM_SENDFILE,	/* upload: regular file -> socket, in the kernel */
};

typedef void (*reply_fn)(struct ftp_conn *, int code, const char *text);
typedef void (*step_fn)(struct ftp_conn *);

struct ftp_conn {
	struct ftp_params *p;		/* the session's; epsv_off is shared */
	enum ftp_state	 state;
	ftp_conn_cb	 cb;
	void		*arg;
	bool		 dead;

	struct resolve	*res;
	struct addrinfo	*ai_list;
	struct addrinfo	*ai_cur;
	struct io	*io;
	struct ftp_reply_reader rr;
	reply_fn	 on_reply;
	step_fn		 then;
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
	bool		 data_tls_ready;
	bool		 data_tls_due;	/* no 1xx within DATA_TLS_WAIT: the
					   handshake goes without it */
	bool		 xfer_sent;	/* the transfer command is out: a
					   download reads its data from then on */
	bool		 data_truncated;
	bool		 data_draining;	/* upload sent; reading to the peer's end */
	/* ASCII conversion state across reads */
	char		*abuf;
	bool		 cr_pending;	/* download: a CR ended the last read */
	char		 last_byte;	/* upload: the last byte read */

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
	ev_timer	 tls_wait_timer; /* DATA_TLS_WAIT */
	int		 noop_out;	/* their replies still to come */
};

static void conn_drop(struct ftp_conn *, enum ftpa_err, int, const char *,
    const char *, ...) __attribute__((format(printf, 5, 6)));
static void op_fail(struct ftp_conn *, enum ftpa_err, int, const char *,
    const char *, ...) __attribute__((format(printf, 5, 6)));
static void send_cmd(struct ftp_conn *, reply_fn, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void data_io_cb(struct io *, enum io_event, void *);
static void ready_cb(struct ev_loop *, ev_timer *, int);
static void ka_cb(struct ev_loop *, ev_timer *, int);
static void yield_cb(struct ev_loop *, ev_timer *, int);
static void ctrl_start_tls(struct ftp_conn *);
static void ctrl_tls_ready(struct ftp_conn *);
static void put_maybe_start(struct ftp_conn *);
static void put_drain_start(struct ftp_conn *);
static void data_start_tls(struct ftp_conn *);
static void data_tls_wait_cb(struct ev_loop *, ev_timer *, int);
static bool data_tls_may_start(const struct ftp_conn *);
static void put_drain(struct ftp_conn *);
static void put_data_done(struct ftp_conn *);
static void op_complete(struct ftp_conn *, struct ftp_op *);
static void xfer_pump(struct ftp_conn *);
static void xfer_maybe_finish(struct ftp_conn *);

/* ---- errors ---------------------------------------------------------- */

void
op_error_set(struct op_error *e, enum ftpa_err kind, int code, const char *text,
    const char *fmt, ...)
{
	va_list	ap;

	op_error_clear(e);
	e->kind = kind;
	e->ftp_code = code;
	e->ftp_text = text ? xstrdup(text) : NULL;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void
op_error_clear(struct op_error *e)
{
	free(e->ftp_text);
	memset(e, 0, sizeof(*e));
}

void
op_error_copy(struct op_error *dst, const struct op_error *src)
{
	op_error_clear(dst);
	*dst = *src;
	dst->ftp_text = src->ftp_text ? xstrdup(src->ftp_text) : NULL;
}

json_t *
op_error_json(const struct op_error *e)
{
	json_t	*data = json_pack("{s:s}", "kind", ftpa_err_name(e->kind));

	if (e->ftp_code) {
		json_object_set_new(data, "ftp_code", json_integer(e->ftp_code));
		json_object_set_new(data, "ftp_text",
		    json_text(e->ftp_text ? e->ftp_text : ""));
	}
	return json_pack("{s:i,s:o,s:o}", "code", ftpa_err_code(e->kind),
	    "message", json_text(e->msg), "data", data);
}

/* ---- operations --------------------------------------------------------- */

static const char *op_kind_names[OP_KIND_LAST] = {
	"login", "list", "stat", "get", "put", "quote", "command",
};

const char *
ftp_op_kind_name(enum op_kind k)
{
	return k < OP_KIND_LAST ? op_kind_names[k] : "?";
}

struct ftp_op *
ftp_op_new(enum op_kind kind, const char *path)
{
	struct ftp_op	*op = xcalloc(1, sizeof(*op));

	op->kind = kind;
	op->path = xstrdup(path ? path : "");
	op->total = -1;
	op->lfd.fd = -1;
	return op;
}

void
ftp_op_free(struct ftp_op *op)
{
	if (op == NULL)
		return;
	free(op->path);
	free(op->cmd2);
	free(op->final_text);
	free(op->nodir_text);
	localfd_close(&op->lfd);
	op_error_clear(&op->err);
	if (op->result)
		json_decref(op->result);
	free(op);
}

/* ---- state ------------------------------------------------------------ */

const char *
ftp_conn_state_name(const struct ftp_conn *c)
{
	return ftp_state_names[c->state];
}

static void
set_state(struct ftp_conn *c, enum ftp_state s)
{
	if (c->state == s)
		return;
	log_debug("%s: %s:%u %s -> %s", __func__, c->p->host, c->p->port,
	    ftp_state_names[c->state], ftp_state_names[s]);
	c->state = s;
}

bool
ftp_conn_idle(const struct ftp_conn *c)
{
	return !c->dead && c->state == FTP_S_READY;
}

bool
ftp_conn_alive(const struct ftp_conn *c)
{
	return !c->dead && c->state != FTP_S_CLOSED && c->state != FTP_S_QUIT;
}

struct ftp_conn *
ftp_conn_new(struct ftp_params *p, ftp_conn_cb cb, void *arg)
{
	struct ftp_conn	*c = xcalloc(1, sizeof(*c));

	c->p = p;
	c->cb = cb;
	c->arg = arg;
	ftp_reply_init(&c->rr);
	ev_init(&c->lw, NULL);
	ev_init(&c->quit_timer, NULL);
	ev_init(&c->ka_timer, ka_cb);
	c->ka_timer.data = c;
	ev_init(&c->ready_timer, ready_cb);
	c->ready_timer.data = c;
	ev_init(&c->yield_timer, yield_cb);
	c->yield_timer.data = c;
	ev_init(&c->tls_wait_timer, data_tls_wait_cb);
	c->tls_wait_timer.data = c;
	c->tls_reuse = -1;
	c->lsn_fd = -1;
	c->zp[0] = c->zp[1] = -1;
	return c;
}

static void
local_watch_stop(struct ftp_conn *c)
{
	if (ev_is_active(&c->lw))
		ev_io_stop(main_loop, &c->lw);
}

static void
listener_close(struct ftp_conn *c)
{
	if (c->lsn_fd == -1)
		return;
	ev_io_stop(main_loop, &c->lsn_w);
	ev_timer_stop(main_loop, &c->lsn_timer);
	close(c->lsn_fd);
	c->lsn_fd = -1;
}

static unsigned	xfer_active;	/* transfers with a data connection open */

static size_t
xfer_budget(void)
{
	size_t	b = XFER_BUDGET / (xfer_active > 0 ? xfer_active : 1);

	return b < XFER_SLICE ? XFER_SLICE : b;
}

static void
zpipe_close(struct ftp_conn *c)
{
	if (c->zp[0] != -1) {
		close(c->zp[0]);
		close(c->zp[1]);
	}
	c->zp[0] = c->zp[1] = -1;
	c->zfill = c->zcap = 0;
}

static bool
zpipe_open(struct ftp_conn *c)
{
	int	sz;

	if (pipe2(c->zp, O_NONBLOCK | O_CLOEXEC) == -1) {
		c->zp[0] = c->zp[1] = -1;
		return false;
	}
	/* larger is fewer system calls; the per-user pipe quota may say no */
	if ((sz = fcntl(c->zp[1], F_SETPIPE_SZ, ZPIPE_SIZE)) == -1)
		sz = fcntl(c->zp[1], F_GETPIPE_SZ);
	c->zcap = sz > 0 && sz < ZPIPE_SIZE ? (size_t)sz : ZPIPE_SIZE;
	c->zfill = 0;
	return true;
}

/*
 * The kernel moves the bytes where both ends allow it: plain downloads
 * into files and pipes (splice through a pipe of ours), plain uploads from
 * regular files (sendfile). TLS and ASCII need the bytes in our hands.
 */
static void
xfer_choose_mode(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	zpipe_close(c);
	c->xmode = XM_COPY;
	if (c->p->tls != FTP_TLS_NONE || op->ascii)
		return;
	if (op->kind == OP_GET && localfd_splice_sink(&op->lfd) && zpipe_open(c))
		c->xmode = XM_SPLICE;
	else if (op->kind == OP_PUT && localfd_sendfile_source(&op->lfd))
		c->xmode = XM_SENDFILE;
}

static void
data_close(struct ftp_conn *c)
{
	/* bytes received but never written do not count: a retry resumes
	 * at what the local file really has */
	if (c->op != NULL && c->op->kind == OP_GET && !c->op->ascii &&
	    c->xlen > c->xoff)
		c->op->bytes -= (int64_t)(c->xlen - c->xoff);
	local_watch_stop(c);
	listener_close(c);
	ev_timer_stop(main_loop, &c->yield_timer);
	ev_timer_stop(main_loop, &c->tls_wait_timer);
	if (c->data) {
		io_free(c->data);
		c->data = NULL;
	}
	free(c->xbuf);
	c->xbuf = NULL;
	zpipe_close(c);
	if (c->xcounted) {
		xfer_active--;
		c->xcounted = false;
	}
	c->xmode = XM_COPY;
	free(c->abuf);
	c->abuf = NULL;
	c->cr_pending = false;
	c->last_byte = 0;
	c->xlen = c->xoff = 0;
	c->data_tls_ready = false;
	c->data_tls_due = false;
	c->data_truncated = false;
	c->data_draining = false;
}

const char *
ftp_conn_tls_version(const struct ftp_conn *c)
{
	return c->tls_version[0] ? c->tls_version : NULL;
}

int
ftp_conn_tls_reuse(const struct ftp_conn *c)
{
	return c->tls_reuse;
}

static void
conn_release(void *p)
{
	struct ftp_conn	*c = p;

	ftp_reply_free(&c->rr);
	tls_sessions_clear(&c->tls_sess);
	free(c->welcome);
	free(c->system);
	free(c->home);
	ftp_feat_free(c->feat);
	if (c->ai_list)
		freeaddrinfo(c->ai_list);
	free(c);
}

void
ftp_conn_free(struct ftp_conn *c)
{
	struct ftp_op	*op;

	if (c == NULL || c->dead)
		return;
	c->dead = true;
	listener_close(c);
	/* whoever waits on what ran here must hear of it */
	if ((op = c->op ? c->op : c->login) != NULL) {
		op->failed = true;
		op_error_set(&op->err, FTPA_ERR_CANCELLED, 0, NULL,
		    "connection closed");
		op_complete(c, op);
	}
	data_close(c);
	ev_timer_stop(main_loop, &c->ka_timer);
	ev_timer_stop(main_loop, &c->quit_timer);
	ev_timer_stop(main_loop, &c->ready_timer);
	if (c->res)
		resolve_cancel(c->res);
	c->res = NULL;
	if (c->io)
		io_free(c->io);
	c->io = NULL;
	defer_free(conn_release, c);
}

/* Completes the running op (or login) and hands it back to its owner. */
static void
op_complete(struct ftp_conn *c, struct ftp_op *op)
{
	if (op == c->op) {
		c->op = NULL;
		ev_timer_stop(main_loop, &c->ka_timer);
	}
	if (op == c->login)
		c->login = NULL;
	op->conn = NULL;
	log_debug("%s: %s %s%s%s", __func__, ftp_op_kind_name(op->kind),
	    op->path, op->failed ? ": " : "", op->failed ? op->err.msg : "");
	op->done(op, op->arg);
}

/* The connection is unusable: fail what runs on it, close, tell the owner. */
static void
conn_drop(struct ftp_conn *c, enum ftpa_err kind, int code, const char *text,
    const char *fmt, ...)
{
	struct ftp_op	*op;
	va_list		 ap;
	char		 msg[256];

	if (c->dead || c->state == FTP_S_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->state != FTP_S_QUIT)
		log_debug("%s:%u: connection dropped: %s", c->p->host, c->p->port, msg);
	set_state(c, FTP_S_CLOSED);
	data_close(c);
	ev_timer_stop(main_loop, &c->ka_timer);
	ev_timer_stop(main_loop, &c->quit_timer);
	ev_timer_stop(main_loop, &c->ready_timer);
	if (c->io) {
		io_free(c->io);
		c->io = NULL;
	}
	op = c->op ? c->op : c->login;
	if (op != NULL) {
		op->failed = true;
		op_error_set(&op->err, kind, code, text, "%s", msg);
		op_complete(c, op);
		if (c->dead)
			return;
	}
	c->cb(c, FTP_CONN_CLOSED, c->arg);
}

static void
ready_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	if (!c->dead && c->state == FTP_S_READY)
		c->cb(c, FTP_CONN_READY, c->arg);
}

/*
 * The owner hears of an idle connection from the loop, not from inside
 * the reply that ended the op: replies still buffered behind it must not
 * be taken as answers to the owner's next command.
 */
static void
announce_ready(struct ftp_conn *c)
{
	if (c->dead || c->state != FTP_S_READY)
		return;
	ev_timer_set(&c->ready_timer, 0., 0.);
	ev_timer_start(main_loop, &c->ready_timer);
}

/* The op failed but the connection is in a known state and stays usable. */
static void
op_fail(struct ftp_conn *c, enum ftpa_err kind, int code, const char *text,
    const char *fmt, ...)
{
	struct ftp_op	*op = c->op;
	va_list		 ap;
	char		 msg[256];

	if (c->on_reply != NULL) {
		/* a reply is still owed: the connection's state is unknown */
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		conn_drop(c, kind, code, text, "%s", msg);
		return;
	}
	data_close(c);
	if (op == NULL)
		return;
	op->failed = true;
	op_error_clear(&op->err);
	op->err.kind = kind;
	op->err.ftp_code = code;
	op->err.ftp_text = text ? xstrdup(text) : NULL;
	va_start(ap, fmt);
	vsnprintf(op->err.msg, sizeof(op->err.msg), fmt, ap);
	va_end(ap);
	set_state(c, FTP_S_READY);
	op_complete(c, op);
	announce_ready(c);
}

static bool list_single_done(struct ftp_conn *);

static void
op_succeed(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	if (c->on_reply != NULL) {
		conn_drop(c, FTPA_ERR_PROTOCOL, 0, NULL,
		    "operation ended with a reply still owed");
		return;
	}
	if (op != NULL && op->list_single && list_single_done(c))
		return;
	data_close(c);
	set_state(c, FTP_S_READY);
	if (op != NULL)
		op_complete(c, op);
	announce_ready(c);
}

/* First line of a reply, for messages. */
static const char *
first_line(const char *text, char *buf, size_t len)
{
	size_t	n = strcspn(text, "\n");

	if (n >= len)
		n = len - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return buf;
}

/* ---- control connection ------------------------------------------------ */

static void
send_cmd(struct ftp_conn *c, reply_fn fn, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	if (strncmp(line, "PASS ", 5) == 0)
		log_debug("-> PASS ****");
	else
		log_debug("-> %s", line);
	io_printf(c->io, "%s\r\n", line);
	free(line);
	c->on_reply = fn;
	io_set_timeout(c->io, c->p->reply_timeout);
}

static void greeting_reply(struct ftp_conn *, int, const char *);
static void xfer_reply(struct ftp_conn *, int, const char *);

/*
 * TEST-CASES 29: a long transfer sends NOOP on its control connection so
 * that nothing on the way (or the server) takes it for dead. Servers
 * answer during the transfer or only after its final reply; either way
 * the replies are counted off here and never taken for another's.
 */
static void
ka_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	if (c->dead || c->io == NULL || c->op == NULL || c->op->final_seen ||
	    c->noop_out >= 16)
		return;
	log_debug("-> NOOP (keepalive)");
	io_printf(c->io, "NOOP\r\n");
	c->noop_out++;
}

static void
ka_start(struct ftp_conn *c)
{
	if (c->p->keepalive <= 0 || ev_is_active(&c->ka_timer))
		return;
	ev_timer_set(&c->ka_timer, c->p->keepalive, c->p->keepalive);
	ev_timer_start(main_loop, &c->ka_timer);
}

static void
handle_reply(struct ftp_conn *c, int code, const char *text)
{
	reply_fn	fn;
	char		line[200];

	log_debug("<- %d %s", code, first_line(text, line, sizeof(line)));
	if (code == 421) {
		conn_drop(c, FTPA_ERR_CONNECT, code, text,
		    "server closed the connection: 421 %s", line);
		return;
	}
	if (c->noop_out > 0) {
		/* during the transfer only a 200 is a NOOP's; after its final
		 * reply the next ones are, whatever they say */
		bool in_xfer = c->on_reply == xfer_reply && c->op != NULL &&
		    !c->op->final_seen;

		if (!in_xfer || code == 200) {
			c->noop_out--;
			log_debug("(the reply to a keepalive NOOP)");
			return;
		}
	}
	fn = c->on_reply;
	if (fn == NULL) {
		log_debug("%s:%u: unexpected reply %d ignored", c->p->host,
		    c->p->port, code);
		return;
	}
	/* only the greeting and transfer commands have preliminary replies */
	if (code < 200 && fn != greeting_reply && fn != xfer_reply) {
		conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
		    "unexpected preliminary reply %d %s", code, line);
		return;
	}
	if (code >= 200) {
		c->on_reply = NULL;
		io_set_timeout(c->io, 0);
	}
	fn(c, code, text);
}

static void
read_replies(struct ftp_conn *c)
{
	enum ftp_reply_status	st;
	size_t			used;

	while (!c->dead && c->io != NULL && buf_used(&c->io->in) > 0) {
		st = ftp_reply_parse(&c->rr, c->io->in.data + c->io->in.off,
		    buf_used(&c->io->in), &used);
		buf_drop(&c->io->in, used);
		if (st == FTP_REPLY_AGAIN)
			break;
		if (st == FTP_REPLY_ERROR) {
			conn_drop(c, FTPA_ERR_PROTOCOL, 0, NULL,
			    "malformed reply from server: %s",
			    ftp_reply_strerror(c->rr.error));
			return;
		}
		handle_reply(c, c->rr.code, c->rr.text);
	}
}

static void try_connect(struct ftp_conn *);

static void
ctrl_io_cb(struct io *io, enum io_event ev, void *arg)
{
	struct ftp_conn	*c = arg;

	switch (ev) {
	case IO_CONNECTED:
		io_peer(io, &c->peer, &c->peerlen);
		io_set_timeout(io, c->p->reply_timeout);
		if (c->p->tls == FTP_TLS_IMPLICIT)
			ctrl_start_tls(c);	/* TLS from the first byte */
		else
			set_state(c, FTP_S_GREETING);
		break;
	case IO_TLS_READY:
		ctrl_tls_ready(c);
		break;
	case IO_DATAIN:
		read_replies(c);
		break;
	case IO_LOWAT:
		break;
	case IO_DISCONNECTED:
		if (c->state == FTP_S_QUIT)
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "closed after QUIT");
		else if (c->state == FTP_S_TLS)
			/* a network failure, retried like any other (io.c) */
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
			    "the server closed the connection during the TLS handshake");
		else
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
			    "the server closed the control connection");
		break;
	case IO_TIMEOUT:
		if (c->state == FTP_S_CONNECTING) {
			log_debug("connect to %s:%u: %s", c->p->host, c->p->port,
			    io->error);
			c->ai_cur = c->ai_cur->ai_next;
			if (c->ai_cur != NULL) {
				io_free(c->io);
				c->io = NULL;
				try_connect(c);
			} else
				conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
				    "connect to %s port %u timed out",
				    c->p->host, c->p->port);
		} else if (c->state == FTP_S_TLS)
			conn_drop(c, FTPA_ERR_TLS, 0, NULL,
			    "TLS handshake timed out after %.0f s (is this a TLS port?)",
			    c->p->reply_timeout);
		else
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "no reply from the server within %.0f s",
			    c->p->reply_timeout);
		break;
	case IO_ERROR:
		if (io->tls_failed) {
			conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s", io->error);
			break;
		}
		if (c->state == FTP_S_CONNECTING) {
			c->ai_cur = c->ai_cur->ai_next;
			if (c->ai_cur != NULL) {
				io_free(c->io);
				c->io = NULL;
				try_connect(c);
			} else
				conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
				    "cannot connect to %s port %u: %s",
				    c->p->host, c->p->port, io->error);
		} else
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
			    "control connection: %s", io->error);
		break;
	default:
		break;
	}
}

/* ---- TLS on the control connection -------------------------------------- */

static void user_reply(struct ftp_conn *, int, const char *);

static void
ctrl_start_tls(struct ftp_conn *c)
{
	char	 err[256];
	SSL	*ssl;

	ssl = tls_new(c->p->tls_ctx, c->io->fd, c->p->host, c->p->verify,
	    &c->tls_sess, true, err, sizeof(err));
	if (ssl == NULL) {
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s", err);
		return;
	}
	tls_for_control(ssl);
	set_state(c, FTP_S_TLS);
	io_start_tls(c->io, ssl);
}

static void
ctrl_tls_ready(struct ftp_conn *c)
{
	snprintf(c->tls_version, sizeof(c->tls_version), "%s",
	    SSL_get_version(c->io->ssl));
	log_debug("%s:%u: TLS %s %s%s", c->p->host, c->p->port, c->tls_version,
	    SSL_get_cipher_name(c->io->ssl),
	    c->p->verify ? "" : " (certificate not verified)");
	if (c->p->tls == FTP_TLS_IMPLICIT) {
		set_state(c, FTP_S_GREETING);
		io_set_timeout(c->io, c->p->reply_timeout);
		return;
	}
	set_state(c, FTP_S_LOGIN);
	send_cmd(c, user_reply, "USER %s", c->p->user);
}

static void
auth_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code != 234) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server refused AUTH TLS: %d %s (TLS was asked for; "
		    "not continuing in cleartext)", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	/* anything behind the 234 was sent before TLS: an injection */
	if (buf_used(&c->io->in) > 0) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server sent data after accepting AUTH TLS "
		    "(possible STARTTLS injection)");
		return;
	}
	ctrl_start_tls(c);
}

static void
try_connect(struct ftp_conn *c)
{
	for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
		c->io = io_new(ctrl_io_cb, c, false);
		if (io_connect(c->io, c->ai_cur->ai_addr, c->ai_cur->ai_addrlen,
		    c->p->connect_timeout) == 0) {
			set_state(c, FTP_S_CONNECTING);
			c->on_reply = greeting_reply;
			return;
		}
		log_debug("connect %s: %s", c->p->host, strerror(errno));
		io_free(c->io);
		c->io = NULL;
	}
	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "cannot connect to %s port %u",
	    c->p->host, c->p->port);
}

static void
resolved(struct addrinfo *res, const char *error, void *arg)
{
	struct ftp_conn	*c = arg;
	char		 err[256];

	c->res = NULL;
	if (res == NULL) {
		conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "cannot resolve %s: %s",
		    c->p->host, error);
		return;
	}
	if (c->p->tls != FTP_TLS_NONE && c->p->tls_ctx == NULL &&
	    (c->p->tls_ctx = tls_ctx_new(c->p->verify, c->p->ca_store, err,
	    sizeof(err))) == NULL) {
		freeaddrinfo(res);
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s", err);
		return;
	}
	c->ai_list = c->ai_cur = res;
	try_connect(c);
}

void
ftp_conn_start(struct ftp_conn *c, struct ftp_op *login)
{
	c->login = login;
	login->conn = c;
	set_state(c, FTP_S_RESOLVING);
	c->res = resolve_start(c->p->host, c->p->port, resolved, c);
}

/* ---- login -------------------------------------------------------------- */

static void login_done(struct ftp_conn *);
static void feat_reply(struct ftp_conn *, int, const char *);

static void
type_login_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code / 100 == 2)
		c->cur_type = 'I';
	login_done(c);
}

static void
syst_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code == 215) {
		char	line[200];

		c->system = xstrdup(first_line(text, line, sizeof(line)));
	}
	send_cmd(c, type_login_reply, "TYPE I");
}

static void
pwd_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code == 257)
		c->home = ftp_parse_pwd(text);
	send_cmd(c, syst_reply, "SYST");
}

static void
opts_utf8_reply(struct ftp_conn *c, int code, const char *text)
{
	/* 200 or 202 alike; a refusal changes nothing we rely on */
	send_cmd(c, pwd_reply, "PWD");
}

static void
after_opts_mlst(struct ftp_conn *c)
{
	if (ftp_feat_has(c->feat, "UTF8"))
		send_cmd(c, opts_utf8_reply, "OPTS UTF8 ON");
	else
		send_cmd(c, pwd_reply, "PWD");
}

static void
opts_mlst_reply(struct ftp_conn *c, int code, const char *text)
{
	after_opts_mlst(c);
}

static void
feat_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code == 211 && ftp_parse_feat(text, &c->feat) >= 0) {
		c->has_mlst = ftp_feat_has(c->feat, "MLST");
		if (c->has_mlst) {
			/* ask for the facts entries are made of (RFC 3659 7.9) */
			send_cmd(c, opts_mlst_reply,
			    "OPTS MLST type;size;modify;UNIX.mode;");
			return;
		}
	}
	after_opts_mlst(c);
}

static void
prot_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server refused to protect data connections (PROT P): "
		    "%d %s", code, first_line(text, line, sizeof(line)));
		return;
	}
	send_cmd(c, feat_reply, "FEAT");
}

static void
pbsz_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		conn_drop(c, FTPA_ERR_TLS, code, text, "PBSZ 0 refused: %d %s",
		    code, first_line(text, line, sizeof(line)));
		return;
	}
	send_cmd(c, prot_reply, "PROT P");
}

static void
logged_in(struct ftp_conn *c)
{
	set_state(c, FTP_S_SETUP);
	if (c->p->tls != FTP_TLS_NONE)
		send_cmd(c, pbsz_reply, "PBSZ 0");	/* RFC 4217 9 */
	else
		send_cmd(c, feat_reply, "FEAT");
}

static void
pass_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code == 230 || code == 202) {
		logged_in(c);
		return;
	}
	if (code == 332) {
		conn_drop(c, FTPA_ERR_AUTH, code, text,
		    "login refused: the server wants an account (ACCT)");
		return;
	}
	conn_drop(c, FTPA_ERR_AUTH, code, text, "login refused: %d %s", code,
	    first_line(text, line, sizeof(line)));
}

static void
user_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code == 230) {
		logged_in(c);
		return;
	}
	if (code == 331) {
		send_cmd(c, pass_reply, "PASS %s",
		    c->p->password ? c->p->password : "");
		return;
	}
	conn_drop(c, FTPA_ERR_AUTH, code, text, "login refused: %d %s", code,
	    first_line(text, line, sizeof(line)));
}

static void
greeting_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 1)
		return;		/* 120: ready in a while */
	if (code == 230 && c->p->tls == FTP_TLS_EXPLICIT) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server logged us in before TLS (230 greeting); "
		    "not continuing in cleartext");
		return;
	}
	if (code != 220) {
		conn_drop(c, FTPA_ERR_CONNECT, code, text,
		    "the server refused the connection: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	c->welcome = xstrdup(text);
	if (c->p->tls == FTP_TLS_EXPLICIT) {
		send_cmd(c, auth_reply, "AUTH TLS");
		return;
	}
	set_state(c, FTP_S_LOGIN);
	send_cmd(c, user_reply, "USER %s", c->p->user);
}

static void
login_done(struct ftp_conn *c)
{
	struct ftp_op	*op = c->login;
	json_t		*feat = json_array();

	for (char **f = c->feat; f && *f; f++)
		json_array_append_new(feat, json_text(*f));
	set_state(c, FTP_S_READY);
	if (op != NULL) {
		op->result = json_pack("{s:o,s:o,s:o,s:o}", "welcome",
		    json_text(c->welcome ? c->welcome : ""), "features", feat,
		    "system", json_text(c->system), "home", json_text(c->home));
		if (c->io && c->io->ssl)
			json_object_set_new(op->result, "tls", json_pack(
			    "{s:s,s:s,s:b}", "version", c->tls_version,
			    "cipher", SSL_get_cipher_name(c->io->ssl),
			    "verified", c->p->verify));
		else
			json_object_set_new(op->result, "tls", json_null());
		op_complete(c, op);
		if (c->dead)
			return;
	} else
		json_decref(feat);
	announce_ready(c);
}

/* ---- data connections ------------------------------------------------------ */

static void
data_connect(struct ftp_conn *c, uint16_t port)
{
	struct sockaddr_storage	ss = c->peer;

	/* The PASV address is ignored: connect to the control peer (TEST-CASES 11). */
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	c->data = io_new(data_io_cb, c, true);
	if (io_connect(c->data, (struct sockaddr *)&ss, c->peerlen,
	    c->p->connect_timeout) == -1) {
		conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
		    "cannot open the data connection: %s", strerror(errno));
		return;
	}
}

static void
pasv_reply(struct ftp_conn *c, int code, const char *text)
{
	uint8_t		addr[4];
	uint16_t	port;
	char		line[200];

	if (code != 227) {
		op_fail(c, FTPA_ERR_FTP, code, text, "PASV refused: %d %s",
		    code, first_line(text, line, sizeof(line)));
		return;
	}
	if (ftp_parse_pasv(text, addr, &port) == -1) {
		conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
		    "malformed PASV reply: %s", first_line(text, line, sizeof(line)));
		return;
	}
	data_connect(c, port);
}

static void
epsv_reply(struct ftp_conn *c, int code, const char *text)
{
	uint16_t	port;
	char		line[200];

	if (code == 229) {
		if (ftp_parse_epsv(text, &port) == -1) {
			conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
			    "malformed EPSV reply: %s",
			    first_line(text, line, sizeof(line)));
			return;
		}
		data_connect(c, port);
		return;
	}
	if (code / 100 == 5 && c->peer.ss_family == AF_INET) {
		/* remembered for the session, across reconnects */
		c->p->epsv_off = true;
		send_cmd(c, pasv_reply, "PASV");
		return;
	}
	op_fail(c, FTPA_ERR_FTP, code, text, "EPSV refused: %d %s", code,
	    first_line(text, line, sizeof(line)));
}

/* Opens a data connection; c->then runs once it is connected. */
/* ---- active mode ------------------------------------------------------------ */

static bool
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

static void
lsn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ftp_conn		*c = w->data;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	int			 fd;

	fd = accept4(c->lsn_fd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	/* only the server may connect (TEST-CASES 13) */
	if (!same_host(&ss, &c->peer)) {
		log_warnx("%s:%u: data connection from another address refused",
		    c->p->host, c->p->port);
		close(fd);
		return;
	}
	listener_close(c);
	c->data = io_new(data_io_cb, c, true);
	io_attach(c->data, fd);
	io_set_timeout(c->data, c->p->data_timeout);
	if (c->op->kind == OP_PUT)
		io_pause(c->data);
	if (c->op->prelim_seen)
		io_set_timeout(c->io, 0);
	if (data_tls_may_start(c)) {
		data_start_tls(c);
		return;
	}
	put_maybe_start(c);
}

static void
lsn_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL, "the server did not open the "
	    "data connection within %.0f s (active mode)", c->p->connect_timeout);
}

static void
port_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];
	step_fn	then;

	if (code / 100 != 2) {
		op_fail(c, FTPA_ERR_FTP, code, text, "PORT refused: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	/* the transfer command goes now; the server connects after it */
	then = c->then;
	c->then = NULL;
	then(c);
}

static void
send_port(struct ftp_conn *c, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const unsigned char		*a = (const unsigned char *)&sin->sin_addr;
	unsigned			 port = ntohs(sin->sin_port);

	send_cmd(c, port_reply, "PORT %u,%u,%u,%u,%u,%u", a[0], a[1], a[2], a[3],
	    port >> 8, port & 0xff);
}

static void
eprt_reply(struct ftp_conn *c, int code, const char *text)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (code / 100 != 2 && (code == 500 || code == 502) &&
	    c->peer.ss_family == AF_INET &&
	    getsockname(c->lsn_fd, (struct sockaddr *)&ss, &len) == 0) {
		send_port(c, &ss);
		return;
	}
	port_reply(c, code, text);
}

static void
active_open(struct ftp_conn *c)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	char			host[INET6_ADDRSTRLEN];
	int			fd;

	/* listen where the control connection reaches the server from */
	if (getsockname(c->io->fd, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 || listen(fd, 1) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		goto fail;
	}
	c->lsn_fd = fd;
	ev_io_init(&c->lsn_w, lsn_cb, fd, EV_READ);
	c->lsn_w.data = c;
	ev_io_start(main_loop, &c->lsn_w);
	ev_timer_init(&c->lsn_timer, lsn_timeout_cb, c->p->connect_timeout, 0.);
	c->lsn_timer.data = c;
	ev_timer_start(main_loop, &c->lsn_timer);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, sizeof(host));
	send_cmd(c, eprt_reply, "EPRT |%d|%s|%u|", ss.ss_family == AF_INET ? 1 : 2,
	    host, ss.ss_family == AF_INET ?
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return;
fail:
	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
	    "cannot listen for the data connection: %s", strerror(errno));
}

static void
data_open(struct ftp_conn *c, step_fn then)
{
	c->then = then;
	c->xlen = c->xoff = 0;
	c->xfer_sent = false;
	xfer_choose_mode(c);
	if (!c->xcounted) {
		c->xcounted = true;
		xfer_active++;
	}
	if (!c->p->passive) {
		active_open(c);
		return;
	}
	if (c->p->epsv_off)
		send_cmd(c, pasv_reply, "PASV");
	else
		send_cmd(c, epsv_reply, "EPSV");
}

static void
local_ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ftp_conn	*c = w->data;

	local_watch_stop(c);
	if (c->data) {
		io_set_timeout(c->data, c->p->data_timeout);
		if (c->op && c->op->kind == OP_PUT)
			io_set_want_write(c->data, true);
		else
			io_resume(c->data);
	}
	xfer_pump(c);
}

static void
local_wait(struct ftp_conn *c, int events)
{
	int	fd = localfd_pollfd(&c->op->lfd);

	/* the user's side may be slow (a pager, tail -f): not the server's fault */
	if (c->data)
		io_set_timeout(c->data, 0);
	local_watch_stop(c);
	ev_io_set(&c->lw, fd, events);
	ev_set_cb(&c->lw, local_ready_cb);
	c->lw.data = c;
	ev_io_start(main_loop, &c->lw);
}

/*
 * TYPE A (TEST-CASES 30). Downloads: CRLF becomes LF, also when the CR
 * ends one read and the LF starts the next; a lone CR stays.
 */
static void
ascii_from_net(struct ftp_conn *c)
{
	char	*in = c->xbuf, *out, *tmp;
	size_t	 i, m = 0;

	if (c->abuf == NULL)
		c->abuf = xmalloc(XBUF_SIZE + 1);
	out = c->abuf;
	for (i = 0; i < c->xlen; i++) {
		if (c->cr_pending) {
			c->cr_pending = false;
			if (in[i] != '\n')
				out[m++] = '\r';
		}
		if (in[i] == '\r')
			c->cr_pending = true;
		else
			out[m++] = in[i];
	}
	tmp = c->xbuf;
	c->xbuf = c->abuf;
	c->abuf = tmp;
	c->xlen = m;
}

/* Uploads: LF becomes CRLF, an existing CRLF is left alone. n bytes read
 * into xbuf (at most XBUF_SIZE / 2), converted into it. */
static void
ascii_to_net(struct ftp_conn *c, size_t n)
{
	char	*in = c->xbuf, *out, *tmp;
	size_t	 i, m = 0;

	if (c->abuf == NULL)
		c->abuf = xmalloc(XBUF_SIZE + 1);
	out = c->abuf;
	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && c->last_byte != '\r')
			out[m++] = '\r';
		out[m++] = in[i];
		c->last_byte = in[i];
	}
	tmp = c->xbuf;
	c->xbuf = c->abuf;
	c->abuf = tmp;
	c->xlen = m;
}

/* The copy loop's buffer, made when a transfer first copies. */
static void
xbuf_alloc(struct ftp_conn *c)
{
	if (c->xbuf == NULL)
		c->xbuf = xmalloc(XBUF_SIZE);
}

/* Counts n bytes moved; false when the op ended or the budget is spent. */
static bool
xfer_moved(struct ftp_conn *c, struct ftp_op *op, ssize_t n, size_t *budget)
{
	op->bytes += n;
	*budget -= (size_t)n < *budget ? (size_t)n : *budget;
	if (op->progress)
		op->progress(op, op->arg);
	return !c->dead && c->op == op && *budget > 0;
}

/* Goes on in the next loop iteration, after the other watchers had theirs. */
static void
xfer_yield(struct ftp_conn *c)
{
	ev_timer_set(&c->yield_timer, 0., 0.);
	ev_timer_start(main_loop, &c->yield_timer);
}

static void xfer_pump(struct ftp_conn *);

static void
yield_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	xfer_pump(w->data);
}

/* The server ended the download's data connection. */
static void
get_data_eof(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	op->data_eof = true;
	/* a TLS data stream must end with close_notify; we answer with
	 * ours, or servers drop the session (and the ticket they just
	 * issued) as unclean */
	c->data_truncated = c->data->tls_truncated;
	if (c->data->ssl != NULL && !c->data_truncated)
		(void)io_tls_close(c->data);
	io_free(c->data);
	c->data = NULL;
	/* the final reply may still be on its way: bounded wait */
	if (!op->final_seen && c->io)
		io_set_timeout(c->io, c->p->reply_timeout);
	xfer_maybe_finish(c);
}

static void
local_write_failed(struct ftp_conn *c, int err)
{
	struct ftp_op	*op = c->op;

	if ((op->kind == OP_LIST || op->kind == OP_STAT) && err == EFBIG)
		conn_drop(c, FTPA_ERR_LIMIT, 0, NULL,
		    "directory listing larger than %d MiB", LISTING_MAX >> 20);
	else if (err == EFBIG && op->lfd.kind == LFD_MEMORY)
		conn_drop(c, FTPA_ERR_LIMIT, 0, NULL,
		    "file larger than the %zu MiB allowed inline",
		    op->lfd.mem_max >> 20);
	else
		conn_drop(c, FTPA_ERR_LOCAL_IO, 0, NULL,
		    "cannot write the local file: %s", strerror(err));
}

static void pump_in(struct ftp_conn *);

/*
 * The local fd refused splice (a file system without it): what the pipe
 * holds goes through xbuf, and so does the rest of the transfer.
 */
static void
splice_fall_back(struct ftp_conn *c)
{
	ssize_t	n;

	log_debug("splice refused by the local file (%s): copying instead",
	    strerror(errno));
	xbuf_alloc(c);		/* holds what the pipe holds: zcap <= XBUF_SIZE */
	c->xlen = c->xoff = 0;
	while (c->zfill > 0) {
		n = read(c->zp[0], c->xbuf + c->xlen, c->zfill);
		if (n <= 0)
			break;
		c->xlen += n;
		c->zfill -= n;
	}
	/* received but not yet written: counted as the copy loop counts */
	c->op->bytes += c->xlen;
	if (c->zfill > 0) {
		conn_drop(c, FTPA_ERR_LOCAL_IO, 0, NULL,
		    "cannot move buffered data to the local file");
		return;
	}
	zpipe_close(c);
	c->xmode = XM_COPY;
	pump_in(c);
}

/*
 * Download, XM_SPLICE: socket -> our pipe -> local fd. The pipe is filled
 * only when empty, so EAGAIN names its side: reading, the socket has
 * nothing; writing, the local reader is slow. EOF finds the pipe empty.
 */
static void
pump_in_splice(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	size_t		 budget = xfer_budget();
	ssize_t		 n;

	while (budget > 0 && c->data != NULL) {
		if (c->zfill > 0) {
			n = splice(c->zp[0], NULL, op->lfd.fd, NULL, c->zfill,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR) {
					io_pause(c->data);
					local_wait(c, EV_WRITE);
					return;
				}
				if (errno == EINVAL || errno == ENOSYS) {
					splice_fall_back(c);
					return;
				}
				local_write_failed(c, errno);
				return;
			}
			c->zfill -= n;
			if (!xfer_moved(c, op, n, &budget))
				return;
			continue;
		}
		n = splice(c->data->fd, NULL, c->zp[1], NULL,
		    c->zcap < budget ? c->zcap : budget,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
			    "data connection: %s", strerror(errno));
			return;
		}
		if (n == 0) {
			get_data_eof(c);
			return;
		}
		io_touch(c->data);
		c->zfill = n;
	}
}

/* Download direction (get, list): data socket -> local sink. */
static void
pump_in(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	size_t		 budget = xfer_budget();
	ssize_t		 n;

	xbuf_alloc(c);
	while (budget > 0 && c->data != NULL) {
		if (c->xoff < c->xlen) {
			n = localfd_write(&op->lfd, c->xbuf + c->xoff,
			    c->xlen - c->xoff);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR) {
					io_pause(c->data);
					local_wait(c, EV_WRITE);
					return;
				}
				local_write_failed(c, errno);
				return;
			}
			c->xoff += n;
			if (c->xoff == c->xlen)
				c->xoff = c->xlen = 0;
			continue;
		}
		n = io_recv(c->data, c->xbuf, XBUF_SIZE);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_drop(c, errno == EPROTO ? FTPA_ERR_TLS : FTPA_ERR_CONNECT,
			    0, NULL, "data connection: %s", c->data->error[0] ?
			    c->data->error : strerror(errno));
			return;
		}
		if (n == 0 && c->cr_pending) {
			/* a lone CR at the very end is data */
			c->cr_pending = false;
			c->xbuf[0] = '\r';
			c->xlen = 1;
			c->xoff = 0;
			continue;
		}
		if (n == 0) {
			get_data_eof(c);
			return;
		}
		c->xlen = n;
		c->xoff = 0;
		if (op->ascii && op->kind == OP_GET)
			ascii_from_net(c);
		if (!xfer_moved(c, op, n, &budget))
			break;
	}
	/* records read ahead wait in OpenSSL, not in the socket */
	if (budget == 0 && !c->dead && c->op == op && c->data != NULL &&
	    c->data->ssl != NULL && SSL_has_pending(c->data->ssl))
		xfer_yield(c);
}

/* The upload's data connection is finished with: the file is complete. */
static void
put_data_done(struct ftp_conn *c)
{
	io_free(c->data);
	c->data = NULL;
	c->data_draining = false;
	c->op->data_eof = true;
	if (c->io)
		io_set_timeout(c->io, c->p->reply_timeout);
	xfer_maybe_finish(c);
}

/*
 * After a TLS upload's close_notify the connection is half-closed and
 * read until the server's own end, for a bounded time. Closing at once
 * would leave the server's session tickets unread, so the kernel answers
 * with a reset that can discard the last unsent data, and the server
 * takes the session (and the ticket the next data connection needs) as
 * unclean.
 */
static void
put_drain_start(struct ftp_conn *c)
{
	c->data_draining = true;
	shutdown(c->data->fd, SHUT_WR);
	io_set_want_write(c->data, false);
	io_set_timeout(c->data, c->p->data_timeout < PUT_DRAIN_WAIT ?
	    c->p->data_timeout : PUT_DRAIN_WAIT);
	io_resume(c->data);
	put_drain(c);
}

static void
put_drain(struct ftp_conn *c)
{
	char	scratch[4096];
	ssize_t	n;

	while ((n = io_recv(c->data, scratch, sizeof(scratch))) > 0)
		;	/* nothing is expected; tickets are taken by OpenSSL */
	if (n == -1 && errno == EAGAIN)
		return;
	/* EOF, close_notify or a reset: the server is done either way */
	put_data_done(c);
}

static void pump_out(struct ftp_conn *);

/*
 * Upload, XM_SENDFILE: regular file -> socket, from the file's own
 * position (where a resume put it).
 */
static void
pump_out_sendfile(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	size_t		 budget = xfer_budget();
	ssize_t		 n;

	while (budget > 0 && c->data != NULL) {
		n = sendfile(c->data->fd, op->lfd.fd, NULL, budget);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == EINVAL || errno == ENOSYS) {
				log_debug("sendfile refused (%s): copying instead",
				    strerror(errno));
				c->xmode = XM_COPY;
				pump_out(c);
				return;
			}
			if (errno == EPIPE || errno == ECONNRESET ||
			    errno == ENOTCONN || errno == ETIMEDOUT)
				conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
				    "data connection: %s", strerror(errno));
			else
				conn_drop(c, FTPA_ERR_LOCAL_IO, 0, NULL,
				    "cannot read the local file: %s",
				    strerror(errno));
			return;
		}
		if (n == 0) {
			op->src_eof = true;
			put_data_done(c);
			return;
		}
		io_touch(c->data);
		if (!xfer_moved(c, op, n, &budget))
			return;
	}
}

/* Upload direction: local source -> data socket. */
static void
pump_out(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	size_t		 budget = xfer_budget();
	ssize_t		 n;

	xbuf_alloc(c);
	while (budget > 0 && c->data != NULL) {
		if (c->xoff == c->xlen) {
			if (op->src_eof) {
				/* all sent: close_notify (TLS), then the end of
				 * the data connection ends the file */
				if (c->data->ssl != NULL) {
					int	r;

					if ((r = io_tls_close(c->data)) == 0)
						return;		/* when writable */
					if (r == -1) {
						conn_drop(c, FTPA_ERR_TLS, 0, NULL,
						    "data connection: cannot send "
						    "close_notify");
						return;
					}
					put_drain_start(c);
					return;
				}
				put_data_done(c);
				return;
			}
			n = localfd_read(&op->lfd, c->xbuf, op->ascii ?
			    XBUF_SIZE / 2 : XBUF_SIZE);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR) {
					io_set_want_write(c->data, false);
					local_wait(c, EV_READ);
					return;
				}
				conn_drop(c, FTPA_ERR_LOCAL_IO, 0, NULL,
				    "cannot read the local file: %s", strerror(errno));
				return;
			}
			if (n == 0) {
				op->src_eof = true;
				continue;
			}
			c->xlen = n;
			c->xoff = 0;
			if (op->ascii)
				ascii_to_net(c, n);
		}
		n = io_send(c->data, c->xbuf + c->xoff, c->xlen - c->xoff);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_drop(c, errno == EPROTO ? FTPA_ERR_TLS : FTPA_ERR_CONNECT,
			    0, NULL, "data connection: %s", c->data->error[0] ?
			    c->data->error : strerror(errno));
			return;
		}
		c->xoff += n;
		if (!xfer_moved(c, op, n, &budget))
			return;
	}
}

static void
xfer_pump(struct ftp_conn *c)
{
	if (c->op == NULL || c->data == NULL)
		return;
	if (c->data->ssl != NULL && !c->data_tls_ready)
		return;
	if (c->data_draining) {
		put_drain(c);
		return;
	}
	if (c->op->kind == OP_PUT) {
		if (!c->op->prelim_seen)
			return;
		if (c->xmode == XM_SENDFILE)
			pump_out_sendfile(c);
		else
			pump_out(c);
	} else if (!c->xfer_sent) {
		/* bytes before RETR (or LIST) are no answer to it: they wait,
		 * and a restart from zero cannot lose them (a fuzzer finding) */
		io_pause(c->data);
	} else if (c->xmode == XM_SPLICE)
		pump_in_splice(c);
	else
		pump_in(c);
}

static void
data_io_cb(struct io *io, enum io_event ev, void *arg)
{
	struct ftp_conn	*c = arg;
	step_fn		 then;

	switch (ev) {
	case IO_CONNECTED:
		then = c->then;
		c->then = NULL;
		/* downloads read as soon as bytes come; uploads only write,
		 * after the 1xx, and never watch for input */
		if (c->op->kind == OP_PUT)
			io_pause(io);
		io_set_timeout(io, c->p->data_timeout);
		then(c);
		break;
	case IO_TLS_READY:
		c->data_tls_ready = true;
		c->tls_reuse = SSL_session_reused(io->ssl) ? 1 : 0;
		log_debug("data connection: TLS %s, session %s",
		    SSL_get_version(io->ssl), c->tls_reuse ? "resumed" : "NOT resumed");
		if (!c->op->prelim_seen && !c->p->data_tls_first) {
			log_debug("%s:%u: the server answers a transfer only "
			    "after the data connection's TLS handshake: the "
			    "handshake starts at once from now on", c->p->host,
			    c->p->port);
			c->p->data_tls_first = true;
		}
		put_maybe_start(c);
		/* bytes that came with the handshake's end are read now */
		if (c->op->kind != OP_PUT)
			xfer_pump(c);
		break;
	case IO_DATAIN:
	case IO_LOWAT:
		xfer_pump(c);
		break;
	case IO_TIMEOUT:
		if (c->data_draining) {
			/* the server's close_notify is not required */
			put_data_done(c);
			break;
		}
		if (c->then != NULL)
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "the data connection did not open within %.0f s",
			    c->p->connect_timeout);
		else
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "the data connection stalled for %.0f s",
			    c->p->data_timeout);
		break;
	case IO_ERROR:
		conn_drop(c, io->tls_failed ? FTPA_ERR_TLS : FTPA_ERR_CONNECT, 0,
		    NULL, "data connection: %s", io->error);
		break;
	case IO_DISCONNECTED:
	default:
		break;
	}
}

/*
 * Data connections are protected (PROT P), resuming the control
 * connection's TLS session. When the handshake starts is a matter of
 * servers: pyftpdlib closes a data connection that has bytes for it
 * before it has taken the transfer command, so the handshake waits for
 * the 1xx, as curl's and ftplib's did; other servers send the 1xx only
 * once the handshake is done, so without a 1xx after DATA_TLS_WAIT the
 * handshake goes anyway, and for a server seen to want it, the session
 * starts it as soon as the command is out (data_tls_first).
 */
static void
data_start_tls(struct ftp_conn *c)
{
	char	 err[256];
	SSL	*ssl;

	/* data connections' tickets count too: servers with single-use
	 * tickets hand out the next one there */
	ssl = tls_new(c->p->tls_ctx, c->data->fd, c->p->host, c->p->verify,
	    &c->tls_sess, true, err, sizeof(err));
	if (ssl == NULL) {
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "data connection: %s", err);
		return;
	}
	tls_for_data(ssl);
	io_start_tls(c->data, ssl);
}

/* Whether the data connection's TLS handshake may start now. */
static bool
data_tls_may_start(const struct ftp_conn *c)
{
	return c->p->tls != FTP_TLS_NONE && c->op != NULL && c->data != NULL &&
	    c->data->ssl == NULL && c->xfer_sent &&
	    (c->op->prelim_seen || c->data_tls_due || c->p->data_tls_first);
}

static void
data_tls_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	c->data_tls_due = true;
	if (data_tls_may_start(c)) {
		log_debug("%s:%u: no 1xx after %.1f s: starting the data "
		    "connection's TLS handshake without it", c->p->host,
		    c->p->port, DATA_TLS_WAIT);
		data_start_tls(c);
	}
}

/* The transfer command is out: the handshake starts, or waits. */
static void
data_tls_arm(struct ftp_conn *c)
{
	if (c->p->tls == FTP_TLS_NONE)
		return;
	if (data_tls_may_start(c)) {
		data_start_tls(c);
		return;
	}
	if (!c->p->data_tls_first) {
		ev_timer_set(&c->tls_wait_timer, DATA_TLS_WAIT, 0.);
		ev_timer_start(main_loop, &c->tls_wait_timer);
	}
}

/* Uploads start once the server said 1xx and the data channel is ready. */
static void
put_maybe_start(struct ftp_conn *c)
{
	if (c->op == NULL || c->op->kind != OP_PUT || c->data == NULL ||
	    !c->op->prelim_seen)
		return;
	if (c->data->ssl != NULL && !c->data_tls_ready)
		return;
	io_set_want_write(c->data, true);
}

/* ---- transfers (get, put, list) --------------------------------------- */

static void list_finish(struct ftp_conn *);
static void stat_list_finish(struct ftp_conn *);

/* Success needs both the end of the data and a final 2xx (TEST-CASES 14). */
static void
xfer_maybe_finish(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	int64_t		 expect;

	if (op == NULL || !op->data_eof || !op->final_seen)
		return;
	if (c->data_truncated) {
		op->cut_short = true;
		op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL,
		    "the TLS data connection ended without close_notify: the "
		    "transfer may be truncated");
		return;
	}
	if (op->stat_listing) {
		stat_list_finish(c);
		return;
	}
	if (op->kind == OP_LIST) {
		list_finish(c);
		return;
	}
	/* in ASCII the byte counts of the two ends differ */
	if (op->kind == OP_GET && op->total >= 0 && !op->ascii) {
		expect = op->total - op->offset;
		if (expect >= 0 && op->bytes != expect) {
			op->cut_short = op->bytes < expect;
			op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL,
			    "partial transfer: received %" PRId64 " of %" PRId64
			    " bytes", op->bytes, expect);
			return;
		}
	}
	op_succeed(c);
}

static bool says_missing(const char *);
static void list_not_dir(struct ftp_conn *, int, const char *);

static enum ftpa_err
xfer_error_kind(struct ftp_op *op, int code, const char *text)
{
	if (op->kind == OP_PUT)
		return FTPA_ERR_FTP;
	if (code == 550 || (code == 450 && says_missing(text)))
		return FTPA_ERR_NOT_FOUND;
	return FTPA_ERR_FTP;
}

static void
xfer_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];
	int64_t		 sz;

	first_line(text, line, sizeof(line));
	if (code / 100 == 1) {
		op->prelim_seen = true;
		ka_start(c);
		/* the data connection has its own idle timeout meanwhile;
		 * once it is gone, the final reply keeps its deadline */
		if (c->data != NULL)
			io_set_timeout(c->io, 0);
		/* after REST servers disagree on what the 150 size means */
		if (op->kind == OP_GET && op->offset == 0 && !op->ascii &&
		    ftp_parse_150_size(text, &sz) == 0) {
			/* it agrees with SIZE: later downloads save that
			 * round trip (one per file in a loop of small ones) */
			if (op->total == sz && !c->p->size_in_150) {
				log_debug("the 150 reply gives the size: no SIZE "
				    "before downloads from now on");
				c->p->size_in_150 = true;
			}
			if (op->total < 0)
				op->total = sz;
		}
		ev_timer_stop(main_loop, &c->tls_wait_timer);
		if (data_tls_may_start(c)) {
			data_start_tls(c);
			return;
		}
		put_maybe_start(c);
		return;
	}
	if (code / 100 == 2) {
		op->final_seen = true;
		op->final_code = code;
		/* while draining after close_notify everything has been sent */
		if (op->kind == OP_PUT && !op->data_eof && !c->data_draining) {
			conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
			    "the server ended the upload before all data was sent: %d %s",
			    code, line);
			return;
		}
		/* in active mode the accept may still be on its way */
		if (!op->data_eof && c->data == NULL && c->lsn_fd == -1) {
			conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
			    "transfer reply without a data connection");
			return;
		}
		xfer_maybe_finish(c);
		return;
	}
	/* MLSD of a file or of nothing: ls shows a file's entry */
	if (op->kind == OP_LIST && c->has_mlst && !op->prelim_seen &&
	    !op->list_single && code / 100 == 5 && op->path[0] != '\0') {
		list_not_dir(c, code, text);
		return;
	}
	if (op->prelim_seen && c->data != NULL) {
		/* the server gave up mid-transfer; its data channel is gone too */
		data_close(c);
	}
	if (code == 552)
		op_fail(c, FTPA_ERR_FTP, code, text, "server storage full: %d %s",
		    code, line);
	else
		op_fail(c, xfer_error_kind(op, code, text), code, text, "%s %s: %d %s",
		    ftp_op_kind_name(op->kind), op->path, code, line);
}

static const char *path_base(const char *);

/* The directory that holds path: "a/b" -> "a", "/b" -> "/", "b" -> "" (the
 * working directory). Only for paths path_has_parent accepts. */
static char *
path_parent(const char *path)
{
	const char	*base = path_base(path);

	if (base == path)
		return xstrdup("");
	if (base == path + 1)
		return xstrdup("/");
	return xstrndup(path, (size_t)(base - path - 1));
}

/* Whether path names an entry of a directory we can list: not the login
 * directory, the root, "." or "..", nor a path ending in '/'. */
static bool
path_has_parent(const char *path)
{
	const char	*base = path_base(path);

	return base[0] != '\0' && strchr(base, '/') == NULL &&
	    strcmp(base, ".") != 0 && strcmp(base, "..") != 0;
}

static void
retr_send(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	c->xfer_sent = true;
	if (op->kind != OP_PUT && c->data != NULL)
		io_resume(c->data);

	if (op->kind == OP_GET)
		send_cmd(c, xfer_reply, "RETR %s", op->path);
	else if (op->kind == OP_PUT)
		send_cmd(c, xfer_reply, "%s %s", op->append ? "APPE" : "STOR",
		    op->path);
	else if (op->list_cwd)
		send_cmd(c, xfer_reply, "LIST");	/* in the CWD's directory */
	else if (op->stat_listing) {
		/* stat's last resort: the parent's LIST (never MLSD here) */
		char	*parent = path_parent(op->path);

		send_cmd(c, xfer_reply, parent[0] ? "LIST %s" : "LIST%s", parent);
		free(parent);
	} else if (c->has_mlst)
		send_cmd(c, xfer_reply, op->path[0] ? "MLSD %s" : "MLSD%s", op->path);
	else
		send_cmd(c, xfer_reply, op->path[0] ? "LIST %s" : "LIST%s", op->path);
	data_tls_arm(c);
}

static void
rest_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code != 350) {
		if (c->op->rest_restart && localfd_rewind(&c->op->lfd,
		    c->op->kind == OP_GET) == 0) {
			/* asked for: start over from the first byte */
			log_debug("REST refused; restarting %s from zero",
			    c->op->path);
			c->op->offset = 0;
			c->op->bytes = 0;
			c->op->restarted = true;
			retr_send(c);
			return;
		}
		op_fail(c, FTPA_ERR_FTP, code, text,
		    "the server cannot resume (REST refused): %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	retr_send(c);
}

static void
xfer_data_ready(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	if (op->offset > 0 && !op->append)
		send_cmd(c, rest_reply, "REST %" PRId64, op->offset);
	else
		retr_send(c);
}

static void
size_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	int64_t		 sz;

	if (code == 213 && ftp_parse_size(text, &sz) == 0)
		op->total = sz;
	/* a resume is checked against the size first (TEST-CASES 27) */
	if (op->offset > 0 && op->total >= 0 && !op->ascii) {
		if (op->offset > op->total) {
			op_fail(c, FTPA_ERR_FTP, 0, NULL, "cannot resume %s at byte "
			    "%" PRId64 ": the file has only %" PRId64 " bytes",
			    op->path, op->offset, op->total);
			return;
		}
		if (op->offset == op->total) {
			op_succeed(c);		/* complete already: nothing to move */
			return;
		}
	}
	data_open(c, xfer_data_ready);
}

static void
type_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		op_fail(c, FTPA_ERR_FTP, code, text, "TYPE refused: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	c->cur_type = c->op->ascii ? 'A' : 'I';
	c->then(c);
}

static void
with_type(struct ftp_conn *c, char want, step_fn then)
{
	if (c->cur_type == want) {
		then(c);
		return;
	}
	c->then = then;
	send_cmd(c, type_reply, "TYPE %c", want);
}

static void
get_typed(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	/* the size is needed first only to check a resume */
	if (c->p->size_in_150 && op->offset == 0 && !op->ascii) {
		data_open(c, xfer_data_ready);
		return;
	}
	send_cmd(c, size_reply, "SIZE %s", op->path);
}

/* An upload tried again goes on from what the server has, if it says. */
static void
put_size_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	int64_t		 sz;

	op->put_resume = false;
	if (code == 213 && ftp_parse_size(text, &sz) == 0 && sz > 0 &&
	    localfd_seek(&op->lfd, sz) == 0) {
		log_debug("resuming the upload of %s at byte %" PRId64,
		    op->path, sz);
		op->offset = sz;
	} else if (localfd_rewind(&op->lfd, false) == 0)
		op->offset = 0;
	else {
		op_fail(c, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot go back in the "
		    "local file to retry the upload");
		return;
	}
	data_open(c, xfer_data_ready);
}

static void
put_typed(struct ftp_conn *c)
{
	if (c->op->put_resume) {
		send_cmd(c, put_size_reply, "SIZE %s", c->op->path);
		return;
	}
	data_open(c, xfer_data_ready);
}

/* ---- listings and stat --------------------------------------------------- */

static json_t *
entry_json(const struct ftp_entry *e)
{
	json_t	*o = json_object();

	json_object_set_new(o, "name", json_text(e->name));
	json_object_set_new(o, "type", json_string(ftp_entry_type_name(e->type)));
	json_object_set_new(o, "size", e->size >= 0 ? json_integer(e->size) : json_null());
	json_object_set_new(o, "mtime", e->mtime != INT64_MIN ?
	    json_integer(e->mtime) : json_null());
	json_object_set_new(o, "perm", e->perm >= 0 ? json_integer(e->perm) : json_null());
	json_object_set_new(o, "target", json_text(e->target));
	if (e->raw != NULL)
		json_object_set_new(o, "raw", json_text(e->raw));
	return o;
}

/* A relative path as the server sees it from the login directory, so that
 * a CWD means the same wherever the connection is. */
static char *
path_from_home(const struct ftp_conn *c, const char *path)
{
	char	*abs;

	if (path[0] == '/' || c->home == NULL)
		return xstrdup(path);
	if (path[0] == '\0')
		return xstrdup(c->home);
	abs = xasprintf("%s%s%s", c->home,
	    c->home[0] && c->home[strlen(c->home) - 1] == '/' ? "" : "/", path);
	return abs;
}

/* Sends CWD to path (relative to the login directory). */
static void
send_cwd(struct ftp_conn *c, reply_fn fn, const char *path)
{
	char	*abs = path_from_home(c, path);

	send_cmd(c, fn, "CWD %s", abs);
	free(abs);
}

static void list_cwd_reply(struct ftp_conn *, int, const char *);
static void mlst_reply(struct ftp_conn *, int, const char *);
static void stat_by_size(struct ftp_conn *);

/*
 * Servers that run ls for LIST split its argument at white space and take
 * "-x" words for options ("LIST a b" lists a and b, "LIST -la" the working
 * directory); curl and lftp never send one. Without MLSD, a listing is of
 * the working directory, entered with CWD; the next op goes back first.
 */
static void
list_start(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	localfd_close(&op->lfd);
	localfd_open_mem_sink(&op->lfd, LISTING_MAX);
	if (c->has_mlst || op->path[0] == '\0' || c->home == NULL) {
		data_open(c, retr_send);
		return;
	}
	send_cwd(c, list_cwd_reply, op->path);
}

static void
list_cwd_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 2) {
		c->away = true;
		c->op->list_cwd = true;
		data_open(c, retr_send);
		return;
	}
	if (code / 100 == 5) {
		list_not_dir(c, code, text);
		return;
	}
	op_fail(c, FTPA_ERR_FTP, code, text, "list %s: %d %s", c->op->path,
	    code, first_line(text, line, sizeof(line)));
}

/*
 * What a listing cannot enter: a file (answered with its one entry, as ls
 * does), nothing (not_found), or a directory refused to us (its error).
 * Found out the way fs.stat finds out.
 */
static void
list_not_dir(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;

	data_close(c);
	localfd_close(&op->lfd);
	op->list_single = true;
	op->nodir_code = code;
	free(op->nodir_text);
	op->nodir_text = xstrdup(text);
	if (c->has_mlst)
		send_cmd(c, mlst_reply, "MLST %s", op->path);
	else
		with_type(c, 'I', stat_by_size);
}

/* fs.list's answer when stat found the entry: true when the op ended. */
static bool
list_single_done(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	const char	*type;
	char		 line[200];

	type = json_string_value(json_object_get(op->result, "type"));
	if (type != NULL && strcmp(type, "dir") == 0) {
		json_decref(op->result);
		op->result = NULL;
		op_fail(c, FTPA_ERR_FTP, op->nodir_code, op->nodir_text,
		    "list %s: %d %s", op->path, op->nodir_code,
		    first_line(op->nodir_text, line, sizeof(line)));
		return true;
	}
	op->result = json_pack("{s:[o],s:s}", "entries", op->result, "source",
	    c->has_mlst ? "mlsd" : "list");
	return false;
}

/*
 * ls complaints that came down the data connection ("ls: x: No such file
 * or directory") are no entries. Beside entries of a LIST with no
 * argument they are dropped; a listing of nothing else, or of a LIST
 * with an argument (which ls may have split), is the error it says.
 * Returns true when the op ended.
 */
static bool
list_drop_errors(struct ftp_conn *c, struct ftp_entry *ents, size_t *n)
{
	size_t	 kept = 0, errors = 0;
	bool	 missing = false, miss;
	char	 first[200] = "";

	for (size_t i = 0; i < *n; i++) {
		if (ents[i].raw == NULL ||
		    !ftp_list_error_line(ents[i].raw, &miss)) {
			ents[kept++] = ents[i];
			continue;
		}
		if (errors++ == 0)
			snprintf(first, sizeof(first), "%s", ents[i].raw);
		missing = missing || miss;
		ftp_entry_clear(&ents[i]);
	}
	*n = kept;
	if (errors == 0)
		return false;
	if (kept > 0 && (c->op->list_cwd || c->op->path[0] == '\0')) {
		log_warnx("%s:%u: list %s: %zu error line(s) dropped: %s",
		    c->p->host, c->p->port, c->op->path, errors, first);
		return false;
	}
	ftp_entries_free(ents, kept);
	op_fail(c, missing ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, 0, NULL,
	    "list %s: %s", c->op->path, first);
	return true;
}

static void
list_finish(struct ftp_conn *c)
{
	struct ftp_op		*op = c->op;
	struct ftp_entry	*ents;
	size_t			 n;
	json_t			*arr;

	if (ftp_list_parse_buffer(op->lfd.mem ? op->lfd.mem : "", op->lfd.mem_len,
	    c->has_mlst, time(NULL), c->p->list_tz, LIST_ENTRIES_MAX, &ents,
	    &n) == -1) {
		op_fail(c, FTPA_ERR_LIMIT, 0, NULL, "directory listing too large");
		return;
	}
	if (!c->has_mlst && list_drop_errors(c, ents, &n))
		return;
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, entry_json(&ents[i]));
	ftp_entries_free(ents, n);
	op->result = json_pack("{s:o,s:s}", "entries", arr, "source",
	    c->has_mlst ? "mlsd" : "list");
	op_succeed(c);
}

static const char *
path_base(const char *path)
{
	const char	*s = strrchr(path, '/');

	if (s == NULL)
		return path;
	if (s[1] == '\0') {
		/* "a/b/" -> "b/" is unusual; report the whole path */
		return path;
	}
	return s + 1;
}

static void
stat_result(struct ftp_conn *c, enum ftp_entry_type type, int64_t size,
    int64_t mtime)
{
	struct ftp_entry	e;

	memset(&e, 0, sizeof(e));
	e.name = (char *)path_base(c->op->path);
	e.type = type;
	e.size = size;
	e.mtime = mtime;
	e.perm = -1;
	c->op->result = entry_json(&e);
	op_succeed(c);
}

static void
cwd_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 2) {
		c->away = true;
		stat_result(c, FTP_ENTRY_DIR, -1, INT64_MIN);
		return;
	}
	op_fail(c, FTPA_ERR_NOT_FOUND, code, text, "%s: %d %s", c->op->path,
	    code, first_line(text, line, sizeof(line)));
}

/* Not in a listing: a directory if we can enter it (the next op comes
 * back). A listing's CWD has been refused already. */
static void
stat_by_cwd(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];

	if (op->list_single && !c->has_mlst) {
		op_fail(c, FTPA_ERR_NOT_FOUND, op->nodir_code, op->nodir_text,
		    "list %s: no such file or directory (%d %s)", op->path,
		    op->nodir_code, first_line(op->nodir_text, line,
		    sizeof(line)));
		return;
	}
	if (c->home == NULL) {
		op_fail(c, code == 550 ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, code,
		    text, "%s: %d %s", op->path, code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	send_cwd(c, cwd_reply, op->path);
}

/*
 * Without MLST, and when SIZE or MDTM could not tell: the entry in the
 * parent's LIST, which also gives permissions, links and directories.
 * code and text, the reply that sent us here, name the error when there
 * is no parent to list and no way to enter the path.
 */
static void
stat_parent_reply(struct ftp_conn *c, int code, const char *text)
{
	if (code / 100 != 2) {
		/* no parent, no entry in it */
		c->op->stat_listing = false;
		stat_by_cwd(c, code, text);
		return;
	}
	c->away = true;
	c->op->list_cwd = true;
	data_open(c, retr_send);
}

static void
stat_by_list(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		*parent;

	if (!path_has_parent(op->path)) {
		if (op->total >= 0)
			stat_result(c, FTP_ENTRY_FILE, op->total, INT64_MIN);
		else
			stat_by_cwd(c, code, text);
		return;
	}
	op->stat_listing = true;
	op->prelim_seen = op->final_seen = op->data_eof = false;
	localfd_close(&op->lfd);
	localfd_open_mem_sink(&op->lfd, LISTING_MAX);
	if (c->home == NULL) {
		data_open(c, retr_send);	/* LIST parent, as it is */
		return;
	}
	parent = path_parent(op->path);
	send_cwd(c, stat_parent_reply, parent);
	free(parent);
}

static void
stat_list_finish(struct ftp_conn *c)
{
	struct ftp_op		*op = c->op;
	struct ftp_entry	*ents, *hit = NULL;
	const char		*base = path_base(op->path);
	size_t			 n;

	op->stat_listing = false;
	if (ftp_list_parse_buffer(op->lfd.mem ? op->lfd.mem : "", op->lfd.mem_len,
	    false, time(NULL), c->p->list_tz, LIST_ENTRIES_MAX, &ents,
	    &n) == -1) {
		op_fail(c, FTPA_ERR_LIMIT, 0, NULL, "directory listing too large");
		return;
	}
	localfd_close(&op->lfd);
	for (size_t i = 0; i < n && hit == NULL; i++)
		if (ents[i].type != FTP_ENTRY_OTHER && ents[i].name != NULL &&
		    strcmp(ents[i].name, base) == 0)
			hit = &ents[i];
	if (hit != NULL) {
		/* SIZE is exact where a listing may round */
		if (op->total >= 0 && hit->type == FTP_ENTRY_FILE)
			hit->size = op->total;
		op->result = entry_json(hit);
		ftp_entries_free(ents, n);
		op_succeed(c);
		return;
	}
	ftp_entries_free(ents, n);
	if (op->total >= 0) {
		/* a file the listing hides (a dot file, say) */
		stat_result(c, FTP_ENTRY_FILE, op->total, INT64_MIN);
		return;
	}
	stat_by_cwd(c, 550, "550 not in the parent's listing");
}

static void
mdtm_reply(struct ftp_conn *c, int code, const char *text)
{
	int64_t	mtime = INT64_MIN;

	if (code == 213 && ftp_parse_mdtm(text, &mtime) == 0) {
		stat_result(c, FTP_ENTRY_FILE, c->op->total, mtime);
		return;
	}
	if (code / 100 == 4 || code / 100 == 5) {
		/* no MDTM: the listing has a date */
		stat_by_list(c, code, text);
		return;
	}
	stat_result(c, FTP_ENTRY_FILE, c->op->total, INT64_MIN);
}

static void
stat_size_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];
	int64_t	sz;

	if (code == 213 && ftp_parse_size(text, &sz) == 0) {
		c->op->total = sz;
		send_cmd(c, mdtm_reply, "MDTM %s", c->op->path);
		return;
	}
	if (code / 100 == 5) {
		/* a directory, a missing file, or no SIZE at all */
		stat_by_list(c, code, text);
		return;
	}
	/* "213 12ab", a size past 2^63: the server broke the protocol, it did
	 * not say no (TEST-CASES 10) */
	op_fail(c, code == 213 ? FTPA_ERR_PROTOCOL : FTPA_ERR_FTP, code, text,
	    "%s: %s%d %s", c->op->path, code == 213 ? "malformed SIZE reply: " :
	    "", code, first_line(text, line, sizeof(line)));
}

static void
stat_by_size(struct ftp_conn *c)
{
	c->op->total = -1;
	send_cmd(c, stat_size_reply, "SIZE %s", c->op->path);
}

static void
mlst_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_entry	 e;
	const char		*line, *nl;
	char			 first[200];

	if (code / 100 != 2) {
		if (code == 550) {
			op_fail(c, FTPA_ERR_NOT_FOUND, code, text, "%s: %d %s",
			    c->op->path, code, first_line(text, first, sizeof(first)));
			return;
		}
		with_type(c, 'I', stat_by_size);
		return;
	}
	/* the fact line is the one that starts with a space */
	for (line = text; line != NULL && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (*line != ' ')
			continue;
		memset(&e, 0, sizeof(e));
		if (ftp_list_parse_mlsd(line + 1, nl ? (size_t)(nl - line - 1) :
		    strlen(line + 1), &e) == FTP_LIST_ENTRY) {
			free(e.name);
			e.name = xstrdup(path_base(c->op->path));
			c->op->result = entry_json(&e);
			ftp_entry_clear(&e);
			op_succeed(c);
			return;
		}
		ftp_entry_clear(&e);
	}
	conn_drop(c, FTPA_ERR_PROTOCOL, code, text, "malformed MLST reply");
}

/* ---- raw commands ------------------------------------------------------------ */

/*
 * Commands that need a data connection, change the TLS layer, or move
 * the state the agent relies on (working directory, restart offset,
 * login) are refused: the agent owns those.
 */
const char *
ftp_quote_refusal(const char *cmd)
{
	static const char *data[] = { "LIST", "NLST", "MLSD", "RETR", "STOR",
	    "STOU", "APPE", "PASV", "EPSV", "PORT", "EPRT", "LPSV", "LPRT", NULL };
	static const char *state[] = { "CWD", "CDUP", "XCWD", "XCUP", "REST",
	    "USER", "PASS", "ACCT", "REIN", "AUTH", "PBSZ", "PROT", "CCC", "ABOR",
	    "QUIT", NULL };
	size_t		n = strcspn(cmd, " ");

	/*
	 * Servers cut the verb at the first space, and some at any
	 * white space: "REST<TAB>5" would move the restart offset under
	 * the agent's feet. No control character is quoted at all.
	 */
	for (const unsigned char *p = (const unsigned char *)cmd; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "control characters (TAB, ESC, ...) cannot be quoted";
	if (n == 0)
		return cmd[0] == '\0' ? "empty command" :
		    "the command must start with its verb, not a space";
	for (const char **p = data; *p; p++)
		if (strlen(*p) == n && strncasecmp(cmd, *p, n) == 0)
			return "commands that open a data connection cannot be "
			    "quoted; use fs.list or transfer.get/put";
	for (const char **p = state; *p; p++)
		if (strlen(*p) == n && strncasecmp(cmd, *p, n) == 0)
			return "this command changes the session state the agent "
			    "manages and cannot be quoted";
	return NULL;
}

/*
 * 550 covers "no such file" as well as "not empty" or "permission
 * denied"; only the words tell them apart.
 */
static bool
says_missing(const char *text)
{
	static const char *words[] = { "no such", "not found", "not exist",
	    "doesn't exist", "does not exist", "cannot find", "can't find",
	    "not available", NULL };

	for (const char **w = words; *w; w++)
		if (strcasestr(text, *w) != NULL)
			return true;
	return false;
}

/* One command, or two (RNFR then RNTO): success is a final 2xx. */
static void
cmd_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];

	first_line(text, line, sizeof(line));
	if (op->cmd2 != NULL && op->step == 0 && code / 100 == 3) {
		op->step = 1;
		send_cmd(c, cmd_reply, "%s", op->cmd2);
		return;
	}
	/* tolerance: any 2xx will do (200 where 250 is due, and so on) */
	if (code / 100 == 2 && (op->cmd2 == NULL || op->step == 1)) {
		op->result = json_pack("{s:i,s:o}", "code", code, "text",
		    json_text(text));
		op_succeed(c);
		return;
	}
	op_fail(c, code == 550 && op->step == 0 && op->notfound_550 &&
	    says_missing(text) ? FTPA_ERR_NOT_FOUND : FTPA_ERR_FTP, code, text,
	    "%d %s", code, line);
}

static void
quote_reply(struct ftp_conn *c, int code, const char *text)
{
	c->op->result = json_pack("{s:i,s:o}", "code", code, "text",
	    json_text(text));
	op_succeed(c);
}

/* ---- running operations ---------------------------------------------------- */

static void op_start(struct ftp_conn *);

/* Back in the login directory, where relative paths start. */
static void
home_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
		    "cannot return to the login directory: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	c->away = false;
	op_start(c);
}

void
ftp_conn_run(struct ftp_conn *c, struct ftp_op *op)
{
	c->op = op;
	op->conn = c;
	op->bytes = 0;
	op->prelim_seen = op->final_seen = op->data_eof = op->src_eof = false;
	op->stat_listing = op->list_cwd = op->list_single = false;
	set_state(c, FTP_S_BUSY);
	if (c->away) {
		send_cmd(c, home_reply, "CWD %s", c->home);
		return;
	}
	op_start(c);
}

static void
op_start(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	switch (op->kind) {
	case OP_LIST:
		list_start(c);
		break;
	case OP_STAT:
		if (c->has_mlst)
			send_cmd(c, mlst_reply, op->path[0] ? "MLST %s" : "MLST%s",
			    op->path);
		else
			with_type(c, 'I', stat_by_size);
		break;
	case OP_GET:
		with_type(c, op->ascii ? 'A' : 'I', get_typed);
		break;
	case OP_PUT:
		with_type(c, op->ascii ? 'A' : 'I', put_typed);
		break;
	case OP_CMD:
		op->step = 0;
		send_cmd(c, cmd_reply, "%s", op->path);
		break;
	case OP_QUOTE:
		/* TYPE, MODE and the like may change what we assume */
		if (strncasecmp(op->path, "TYPE", 4) == 0)
			c->cur_type = 0;
		send_cmd(c, quote_reply, "%s", op->path);
		break;
	default:
		op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL, "unknown operation");
		break;
	}
}

static void quit_timer_cb(struct ev_loop *, ev_timer *, int);

static void quit_reply(struct ftp_conn *, int, const char *);

static void
abor_reply(struct ftp_conn *c, int code, const char *text)
{
	/*
	 * 426 then 226, or only 226: either way this connection ends here,
	 * politely: QUIT, closed at its reply (whichever comes) or when the
	 * quit timer already running says so.
	 */
	if (c->io == NULL) {
		conn_drop(c, FTPA_ERR_CANCELLED, 0, NULL, "transfer aborted");
		return;
	}
	send_cmd(c, quit_reply, "QUIT");
}

/*
 * A running transfer is told to stop with ABOR and its data connection
 * closed; the op ends at once as cancelled. Servers answer ABOR in
 * different ways (426 and 226, only 226, nothing), so the connection is
 * not trusted again: it is closed after the first reply or a bounded wait.
 */
void
ftp_conn_cancel(struct ftp_conn *c, struct ftp_op *op)
{
	if (c->op != op && c->login != op)
		return;
	if (c->op == op && c->io != NULL && c->state == FTP_S_BUSY &&
	    (op->kind == OP_GET || op->kind == OP_PUT || op->kind == OP_LIST ||
	    (op->kind == OP_STAT && op->stat_listing)) &&
	    (op->prelim_seen || c->data != NULL)) {
		data_close(c);
		op->failed = true;
		op_error_set(&op->err, FTPA_ERR_CANCELLED, 0, NULL, "cancelled");
		op_complete(c, op);
		if (c->dead)
			return;
		set_state(c, FTP_S_QUIT);
		send_cmd(c, abor_reply, "ABOR");
		ev_timer_init(&c->quit_timer, quit_timer_cb, QUIT_WAIT, 0);
		c->quit_timer.data = c;
		ev_timer_start(main_loop, &c->quit_timer);
		return;
	}
	conn_drop(c, FTPA_ERR_CANCELLED, 0, NULL, "cancelled");
}

static void
quit_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "closed after QUIT");
}

static void
quit_reply(struct ftp_conn *c, int code, const char *text)
{
	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "closed after QUIT");
}

void
ftp_conn_quit(struct ftp_conn *c)
{
	if (c->dead || c->state == FTP_S_CLOSED || c->state == FTP_S_QUIT)
		return;
	if (c->state != FTP_S_READY || c->io == NULL) {
		conn_drop(c, FTPA_ERR_CANCELLED, 0, NULL, "session closed");
		return;
	}
	set_state(c, FTP_S_QUIT);
	send_cmd(c, quit_reply, "QUIT");
	ev_timer_init(&c->quit_timer, quit_timer_cb, QUIT_WAIT, 0);
	c->quit_timer.data = c;
	ev_timer_start(main_loop, &c->quit_timer);
}
