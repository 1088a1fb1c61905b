/*
 * Data connections: passive (EPSV, PASV) and active (EPRT, PORT), their
 * state and their TLS. Once one is ready, the pumps (ftp_pump.c) move
 * the transfer's bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ftp_parse.h"
#include "log.h"
#include "util.h"
#include "tls.h"
#include "ftp_priv.h"

static void data_io_cb(struct io *io, enum io_event ev, void *arg);

/* ---- the data connection's state ------------------------------------------ */

static const char *data_state_names[DATA_STATE_LAST] = {
	"none", "listening", "connecting", "open", "handshake", "ready",
	"draining",
};

/* Every change of the data connection's state goes through here. */
void
data_set_state(struct ftp_conn *c, enum data_state s)
{
	if (c->dstate == s)
		return;
	log_debug("%s:%u: data %s -> %s", c->p->host, c->p->port,
	    data_state_names[c->dstate], data_state_names[s]);
	c->dstate = s;
}

double
data_idle_timeout(const struct ftp_conn *c)
{
	if ((c->dstate == DATA_DRAINING || xfer_failing(c)) &&
	    c->p->data_timeout > DRAIN_WAIT)
		return DRAIN_WAIT;
	return c->p->data_timeout;
}

void
data_broke(struct ftp_conn *c, enum ftpa_err kind, const char *why)
{
	if (xfer_failing(c))
		xfer_fail_final(c);	/* the server's reply says more */
	else
		conn_drop(c, kind, 0, NULL, "data connection: %s", why);
}

/* A connection is up: under TLS the handshake waits for its moment. */
static void
data_connected(struct ftp_conn *c)
{
	data_set_state(c, c->p->tls != FTP_TLS_NONE ? DATA_OPEN : DATA_READY);
}

void
listener_close(struct ftp_conn *c)
{
	if (c->lsn_fd == -1)
		return;
	ev_io_stop(loop_get(), &c->lsn_w);
	ev_timer_stop(loop_get(), &c->lsn_timer);
	close(c->lsn_fd);
	c->lsn_fd = -1;
}

void
data_close(struct ftp_conn *c)
{
	pump_release(c);
	listener_close(c);
	ev_timer_stop(loop_get(), &c->tls_wait_timer);
	if (c->data) {
		io_free(c->data);
		c->data = NULL;
	}
	data_set_state(c, DATA_NONE);
	c->data_tls_due = false;
	c->data_truncated = false;
}

/* ---- data connections ------------------------------------------------------ */

static void
data_connect(struct ftp_conn *c, uint16_t port)
{
	struct sockaddr_storage	ss = c->peer;

	/* The PASV address is ignored: connect to the control peer (a server
	 * behind NAT, or one sending us elsewhere, names the wrong host). */
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
	data_set_state(c, DATA_CONNECTING);
	/* A plain download asks for its bytes while the connection is
	 * still being made: servers accept it after the command, and a
	 * small file saves a turn of the loop (TLS and uploads wait). */
	if (c->p->tls == FTP_TLS_NONE && c->op->kind != OP_PUT)
		xfer_data_ready(c);
}

void
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

void
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
		op_send(c, STEP_PASV, "PASV");
		return;
	}
	op_fail(c, FTPA_ERR_FTP, code, text, "EPSV refused: %d %s", code,
	    first_line(text, line, sizeof(line)));
}

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
	/* only the server may connect: another host could feed us its data */
	if (!same_host(&ss, &c->peer)) {
		log_warnx("%s:%u: data connection from another address refused",
		    c->p->host, c->p->port);
		close(fd);
		return;
	}
	listener_close(c);
	c->data = io_new(data_io_cb, c, true);
	io_attach(c->data, fd);
	data_connected(c);
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

void
port_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		op_fail(c, FTPA_ERR_FTP, code, text, "PORT refused: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	/* the transfer command goes now; the server connects after it */
	xfer_data_ready(c);
}

static void
send_port(struct ftp_conn *c, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	const unsigned char		*a = (const unsigned char *)&sin->sin_addr;
	unsigned			 port = ntohs(sin->sin_port);

	op_send(c, STEP_PORT, "PORT %u,%u,%u,%u,%u,%u", a[0], a[1], a[2], a[3],
	    port >> 8, port & 0xff);
}

void
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
	if (getsockname(io_fd(c->io), (struct sockaddr *)&ss, &len) == -1)
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
	data_set_state(c, DATA_LISTENING);
	ev_io_init(&c->lsn_w, lsn_cb, fd, EV_READ);
	c->lsn_w.data = c;
	ev_io_start(loop_get(), &c->lsn_w);
	ev_timer_init(&c->lsn_timer, lsn_timeout_cb, c->p->connect_timeout, 0.);
	c->lsn_timer.data = c;
	ev_timer_start(loop_get(), &c->lsn_timer);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
		    sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, sizeof(host));
	op_send(c, STEP_EPRT, "EPRT |%d|%s|%u|", ss.ss_family == AF_INET ? 1 : 2,
	    host, ss.ss_family == AF_INET ?
	    ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return;
fail:
	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL,
	    "cannot listen for the data connection: %s", strerror(errno));
}

void
data_open(struct ftp_conn *c)
{
	pump_prepare(c);
	if (!c->p->passive) {
		active_open(c);
		return;
	}
	if (c->p->epsv_off)
		op_send(c, STEP_PASV, "PASV");
	else
		op_send(c, STEP_EPSV, "EPSV");
}


static void
data_io_cb(struct io *io, enum io_event ev, void *arg)
{
	struct ftp_conn	*c = arg;

	switch (ev) {
	case IO_CONNECTED:
		/* downloads read as soon as bytes come; uploads only write,
		 * after the 1xx, and never watch for input */
		if (c->op->kind == OP_PUT)
			io_pause(io);
		io_set_timeout(io, c->p->data_timeout);
		data_connected(c);
		/* unless the command went already (data_connect) */
		if (c->step != STEP_REST && c->step != STEP_XFER)
			xfer_data_ready(c);
		break;
	case IO_TLS_READY:
		data_set_state(c, DATA_READY);
		c->tls_reuse = SSL_session_reused(io_ssl(io)) ? 1 : 0;
		log_debug("data connection: TLS %s, session %s",
		    SSL_get_version(io_ssl(io)),
		    c->tls_reuse ? "resumed" : "NOT resumed");
		if (!c->op->prelim_seen && !c->p->data_tls_first) {
			log_debug("%s:%u: the server answers a transfer only "
			    "after the data connection's TLS handshake: the "
			    "handshake starts at once from now on", c->p->host,
			    c->p->port);
			c->p->data_tls_first = true;
		}
		put_maybe_start(c);
		/* bytes that came with the handshake's end are read now */
		if (c->op->kind != OP_PUT) {
			io_resume(io);
			pump_run(c);
		}
		break;
	case IO_DATAIN:
	case IO_LOWAT:
		pump_run(c);
		break;
	case IO_TIMEOUT:
		if (xfer_failing(c)) {
			/* the server's failure reply says more */
			xfer_fail_final(c);
			break;
		}
		if (c->dstate == DATA_DRAINING) {
			/* the server's close_notify is not required */
			put_data_done(c);
			break;
		}
		if (c->dstate == DATA_CONNECTING)
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "the data connection did not open within %.0f s",
			    c->p->connect_timeout);
		else
			conn_drop(c, FTPA_ERR_TIMEOUT, 0, NULL,
			    "the data connection stalled for %.0f s",
			    c->p->data_timeout);
		break;
	case IO_ERROR:
		data_broke(c, io_tls_failed(io) ? FTPA_ERR_TLS :
		    FTPA_ERR_CONNECT, io_error(io));
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
void
data_start_tls(struct ftp_conn *c)
{
	char	 err[256];
	SSL	*ssl;

	/* data connections' tickets count too: servers with single-use
	 * tickets hand out the next one there */
	ssl = tls_new(c->p->tls_ctx, io_fd(c->data), c->p->host, c->p->verify,
	    &c->tls_sess, true, err, sizeof(err));
	if (ssl == NULL) {
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "data connection: %s", err);
		return;
	}
	tls_for_data(ssl);
	if (c->op->kind == OP_PUT && !io_tls_gather_writes(c->data, ssl))
		log_debug("data connection: records are sent one by one");
	data_set_state(c, DATA_HANDSHAKE);
	io_start_tls(c->data, ssl);
}

/* Whether the data connection's TLS handshake may start now. */
bool
data_tls_may_start(const struct ftp_conn *c)
{
	return c->op != NULL && c->dstate == DATA_OPEN && c->step == STEP_XFER &&
	    (c->op->prelim_seen || c->data_tls_due || c->p->data_tls_first);
}

void
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
void
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
		ev_timer_start(loop_get(), &c->tls_wait_timer);
	}
}

/* Uploads start once the server said 1xx and the data channel is ready. */
void
put_maybe_start(struct ftp_conn *c)
{
	if (c->op == NULL || c->op->kind != OP_PUT || c->data == NULL ||
	    !c->op->prelim_seen)
		return;
	if (c->dstate != DATA_READY)
		return;
	io_set_want_write(c->data, true);
}