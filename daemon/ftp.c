/*
 * The FTP engine's core: operations and their errors, a connection's
 * life (state, drop, free), the control connection's commands and
 * replies, running an operation (after a return to the login directory),
 * cancel and QUIT. Connecting and login are in ftp_login.c, data
 * connections in ftp_data.c and their pumps in ftp_pump.c, transfer
 * commands in ftp_xfer.c, listings, stat and plain commands in
 * ftp_dir.c; what they share is in ftp_priv.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ftp_parse.h"
#include "log.h"
#include "localfd.h"
#include "util.h"
#include "resolver.h"
#include "tls.h"
#include "ftp_priv.h"

static const char *ftp_state_names[FTP_S_LAST] = {
	"new", "resolving", "connecting", "tls", "greeting", "login", "setup",
	"ready", "busy", "quit", "closed",
};

static void ready_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void ka_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void op_start(struct ftp_conn *c);
static void send_vcmd(struct ftp_conn *, reply_fn, const char *, va_list)
    __attribute__((format(printf, 3, 0)));
static void quit_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void quit_reply(struct ftp_conn *c, int code, const char *text);

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

/* ---- operations --------------------------------------------------------- */

bool
ftp_op_transient(const struct ftp_op *op)
{
	switch (op->err.kind) {
	case FTPA_ERR_CONNECT:
	case FTPA_ERR_TIMEOUT:
		return true;
	case FTPA_ERR_FTP:
		return op->err.ftp_code / 100 == 4;
	default:
		return false;
	}
}

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
	op->end = -1;
	op->lfd.fd = -1;
	return op;
}

void
ftp_login_facts_free(struct ftp_login_facts *f)
{
	if (f == NULL)
		return;
	free(f->welcome);
	free(f->system);
	free(f->home);
	ftp_feat_free(f->feat);
	free(f);
}

void
ftp_op_result_clear(struct ftp_op_result *r)
{
	ftp_entries_free(r->entries, r->n_entries);
	free(r->text);
	memset(r, 0, sizeof(*r));
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
	ftp_op_result_clear(&op->res);
	ftp_login_facts_free(op->facts);
	free(op);
}

/* ---- state ------------------------------------------------------------ */

const char *
ftp_conn_state_name(const struct ftp_conn *c)
{
	return ftp_state_names[c->state];
}

void
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
	ev_init(&c->rate_timer, rate_cb);
	c->rate_timer.data = c;
	c->rate_cap = INT64_MAX;
	ev_init(&c->tls_wait_timer, data_tls_wait_cb);
	c->tls_wait_timer.data = c;
	c->tls_reuse = -1;
	c->lsn_fd = -1;
	c->zp[0] = c->zp[1] = -1;
	return c;
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
	ev_timer_stop(loop_get(), &c->ka_timer);
	ev_timer_stop(loop_get(), &c->quit_timer);
	ev_timer_stop(loop_get(), &c->ready_timer);
	if (c->res)
		resolve_cancel(c->res);
	c->res = NULL;
	if (c->io)
		io_free(c->io);
	c->io = NULL;
	defer_free(conn_release, c);
}

/* Completes the running op (or login) and hands it back to its owner. */
void
op_complete(struct ftp_conn *c, struct ftp_op *op)
{
	if (op == c->op) {
		c->op = NULL;
		ev_timer_stop(loop_get(), &c->ka_timer);
	}
	if (op == c->login)
		c->login = NULL;
	op->conn = NULL;
	log_debug("%s: %s %s%s%s", __func__, ftp_op_kind_name(op->kind),
	    op->path, op->failed ? ": " : "", op->failed ? op->err.msg : "");
	op->done(op, op->arg);
}

/* The connection is unusable: fail what runs on it, close, tell the owner. */
void
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
	ev_timer_stop(loop_get(), &c->ka_timer);
	ev_timer_stop(loop_get(), &c->quit_timer);
	ev_timer_stop(loop_get(), &c->ready_timer);
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
void
announce_ready(struct ftp_conn *c)
{
	if (c->dead || c->state != FTP_S_READY)
		return;
	ev_timer_set(&c->ready_timer, 0., 0.);
	ev_timer_start(loop_get(), &c->ready_timer);
}

/* The op failed but the connection is in a known state and stays usable. */
void
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

void
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
const char *
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

void
send_cmd(struct ftp_conn *c, reply_fn fn, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	send_vcmd(c, fn, fmt, ap);
	va_end(ap);
}

static void
send_vcmd(struct ftp_conn *c, reply_fn fn, const char *fmt, va_list ap)
{
	char	*line;

	if (vasprintf(&line, fmt, ap) < 0)
		fatalx("out of memory");
	if (strncmp(line, "PASS ", 5) == 0)
		log_debug("-> PASS ****");
	else
		log_debug("-> %s", line);
	io_printf(c->io, "%s\r\n", line);
	free(line);
	c->on_reply = fn;
	io_set_timeout(c->io, c->p->reply_timeout);
}

/*
 * Keepalive: a long transfer sends NOOP on its control connection so
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

void
ka_start(struct ftp_conn *c)
{
	if (c->p->keepalive <= 0 || ev_is_active(&c->ka_timer))
		return;
	ev_timer_set(&c->ka_timer, c->p->keepalive, c->p->keepalive);
	ev_timer_start(loop_get(), &c->ka_timer);
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
		bool in_xfer = op_in_xfer(c) && c->op != NULL &&
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
	if (code < 200 && !login_takes_prelim(c) && !op_in_xfer(c)) {
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
	const char		*p;
	size_t			 len, used;

	while (!c->dead && c->io != NULL &&
	    (p = io_peek(c->io, &len)) != NULL) {
		/* a TLS record (handshake, alert) where a greeting belongs */
		if (c->state == FTP_S_GREETING && c->p->tls !=
		    FTP_TLS_IMPLICIT && len > 0 &&
		    (p[0] == 0x15 || p[0] == 0x16)) {
			conn_drop(c, FTPA_ERR_TLS, 0, NULL, "the server sent TLS "
			    "instead of a greeting (" TLS_EXPLICIT_HINT ")");
			return;
		}
		st = ftp_reply_parse(&c->rr, p, len, &used);
		io_drop(c->io, used);
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

void
ctrl_io_cb(struct io *io, enum io_event ev, void *arg)
{
	struct ftp_conn	*c = arg;

	switch (ev) {
	case IO_CONNECTED:
		io_peer(io, &c->peer, &c->peerlen);
		/* the server's first words (TLS, greeting) are part of
		 * connecting: a port that never answers is a server that
		 * cannot be reached */
		io_set_timeout(io, c->p->connect_timeout);
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
			    io_error(io));
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
			    c->p->tls == FTP_TLS_IMPLICIT ? c->p->connect_timeout :
			    c->p->reply_timeout);
		else if (c->state == FTP_S_GREETING)
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "no greeting from the server within %.0f s%s",
			    c->p->connect_timeout, c->p->tls == FTP_TLS_IMPLICIT ?
			    "" : " (" TLS_EXPLICIT_HINT ")");
		else
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "no reply from the server within %.0f s",
			    c->p->reply_timeout);
		break;
	case IO_ERROR:
		if (io_tls_failed(io)) {
			conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s%s", io_error(io),
			    c->p->tls == FTP_TLS_IMPLICIT && c->state == FTP_S_TLS ?
			    tls_implicit_hint(io_error(io)) : "");
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
				    c->p->host, c->p->port, io_error(io));
		} else
			conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
			    "control connection: %s", io_error(io));
		break;
	default:
		break;
	}
}

/* ---- running operations ---------------------------------------------------- */

static void home_reply(struct ftp_conn *, int, const char *);
static void abor_reply(struct ftp_conn *, int, const char *);

/* Every step of an op: its name (for the log) and its reply's handler. */
static const struct {
	const char	*name;
	reply_fn	 reply;
} op_steps[STEP_LAST] = {
	[STEP_NONE] =		{ "none", NULL },
	[STEP_HOME] =		{ "home", home_reply },
	[STEP_TYPE] =		{ "type", type_reply },
	[STEP_SIZE] =		{ "size", size_reply },
	[STEP_PUT_SIZE] =	{ "put_size", put_size_reply },
	[STEP_EPSV] =		{ "epsv", epsv_reply },
	[STEP_PASV] =		{ "pasv", pasv_reply },
	[STEP_EPRT] =		{ "eprt", eprt_reply },
	[STEP_PORT] =		{ "port", port_reply },
	[STEP_REST] =		{ "rest", rest_reply },
	[STEP_XFER] =		{ "xfer", xfer_reply },
	[STEP_LIST_CWD] =	{ "list_cwd", list_cwd_reply },
	[STEP_MLST] =		{ "mlst", mlst_reply },
	[STEP_STAT_SIZE] =	{ "stat_size", stat_size_reply },
	[STEP_STAT_MDTM] =	{ "stat_mdtm", mdtm_reply },
	[STEP_STAT_PARENT] =	{ "stat_parent", stat_parent_reply },
	[STEP_STAT_CWD] =	{ "stat_cwd", cwd_reply },
	[STEP_CMD] =		{ "cmd", cmd_reply },
	[STEP_CMD2] =		{ "cmd2", cmd_reply },
	[STEP_QUOTE] =		{ "quote", quote_reply },
	[STEP_ABOR] =		{ "abor", abor_reply },
	[STEP_QUIT] =		{ "quit", quit_reply },
};

/* The one place an op's replies go: the handler of the step. */
static void
op_reply(struct ftp_conn *c, int code, const char *text)
{
	if (c->step <= STEP_NONE || c->step >= STEP_LAST) {
		conn_drop(c, FTPA_ERR_PROTOCOL, code, text, "reply %d with no "
		    "command out", code);
		return;
	}
	op_steps[c->step].reply(c, code, text);
}

void
op_send(struct ftp_conn *c, enum op_step step, const char *fmt, ...)
{
	va_list	 ap;

	log_debug("%s:%u: step %s -> %s", c->p->host, c->p->port,
	    op_steps[c->step].name, op_steps[step].name);
	c->step = step;
	va_start(ap, fmt);
	send_vcmd(c, op_reply, fmt, ap);
	va_end(ap);
}

bool
op_in_xfer(const struct ftp_conn *c)
{
	return c->on_reply == op_reply && c->step == STEP_XFER;
}

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
	op->range_done = false;
	op->stat_listing = op->list_single = false;
	set_state(c, FTP_S_BUSY);
	c->step = STEP_NONE;
	if (c->away) {
		op_send(c, STEP_HOME, "CWD %s", c->home);
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
			op_send(c, STEP_MLST, op->path[0] ? "MLST %s" : "MLST%s",
			    op->path);
		else
			with_type(c, 'I');
		break;
	case OP_GET:
	case OP_PUT:
		with_type(c, op->ascii ? 'A' : 'I');
		break;
	case OP_CMD:
		op_send(c, STEP_CMD, "%s", op->path);
		break;
	case OP_QUOTE:
		/* TYPE, MODE and the like may change what we assume */
		if (strncasecmp(op->path, "TYPE", 4) == 0)
			c->cur_type = 0;
		op_send(c, STEP_QUOTE, "%s", op->path);
		break;
	default:
		op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL, "unknown operation");
		break;
	}
}

/* TYPE is as the op needs it: on with the op. */
void
op_typed(struct ftp_conn *c)
{
	switch (c->op->kind) {
	case OP_GET:
		get_typed(c);
		break;
	case OP_PUT:
		put_typed(c);
		break;
	default:
		stat_by_size(c);	/* fs.stat without MLST */
		break;
	}
}

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
	op_send(c, STEP_QUIT, "QUIT");
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
		op_send(c, STEP_ABOR, "ABOR");
		ev_timer_init(&c->quit_timer, quit_timer_cb, QUIT_WAIT, 0);
		c->quit_timer.data = c;
		ev_timer_start(loop_get(), &c->quit_timer);
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
	op_send(c, STEP_QUIT, "QUIT");
	ev_timer_init(&c->quit_timer, quit_timer_cb, QUIT_WAIT, 0);
	c->quit_timer.data = c;
	ev_timer_start(loop_get(), &c->quit_timer);
}
