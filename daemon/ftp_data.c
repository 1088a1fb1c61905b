/*
 * Data connections: passive (EPSV, PASV) and active (EPRT, PORT), their
 * TLS, and the pumps that move a transfer's bytes between the data
 * connection and the local descriptor (copy, splice, sendfile; ASCII
 * conversion), sharing the loop fairly between transfers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/sendfile.h>
#include <netinet/in.h>

#include "ftp_ascii.h"
#include "ftp_parse.h"
#include "log.h"
#include "localfd.h"
#include "util.h"
#include "tls.h"
#include "ftp_priv.h"

static void pump_in(struct ftp_conn *c);
static void put_drain(struct ftp_conn *c);
static void pump_out(struct ftp_conn *c);
static void xfer_pump(struct ftp_conn *c);
static void data_io_cb(struct io *io, enum io_event ev, void *arg);

/* ---- a transfer's resources ------------------------------------------------ */

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

/* A connection is up: under TLS the handshake waits for its moment. */
static void
data_connected(struct ftp_conn *c)
{
	data_set_state(c, c->p->tls != FTP_TLS_NONE ? DATA_OPEN : DATA_READY);
}

static void
local_watch_stop(struct ftp_conn *c)
{
	if (ev_is_active(&c->lw))
		ev_io_stop(main_loop, &c->lw);
}

void
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

void
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
	memset(&c->ascii, 0, sizeof(c->ascii));
	c->xlen = c->xoff = 0;
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
	c->xlen = c->xoff = 0;
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
		op_send(c, STEP_PASV, "PASV");
	else
		op_send(c, STEP_EPSV, "EPSV");
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
 * TYPE A downloads: CRLF becomes LF, also when the CR ends one read and
 * the LF starts the next; a lone CR stays (protocol/ftp_ascii.c).
 */
static void
ascii_from_net(struct ftp_conn *c)
{
	char	*tmp;

	if (c->abuf == NULL)
		c->abuf = xmalloc(XBUF_SIZE + 1);
	c->xlen = ftp_ascii_from_net(&c->ascii, c->xbuf, c->xlen, c->abuf);
	tmp = c->xbuf;
	c->xbuf = c->abuf;
	c->abuf = tmp;
}

/* Uploads: LF becomes CRLF, an existing CRLF is left alone. n bytes read
 * into xbuf (at most XBUF_SIZE / 2), converted into it. */
static void
ascii_to_net(struct ftp_conn *c, size_t n)
{
	char	*tmp;

	if (c->abuf == NULL)
		c->abuf = xmalloc(XBUF_SIZE + 1);
	c->xlen = ftp_ascii_to_net(&c->ascii, c->xbuf, n, c->abuf);
	tmp = c->xbuf;
	c->xbuf = c->abuf;
	c->abuf = tmp;
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

void
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
	c->data_truncated = io_tls_truncated(c->data);
	if (io_ssl(c->data) != NULL && !c->data_truncated)
		(void)io_tls_close(c->data);
	io_free(c->data);
	c->data = NULL;
	data_set_state(c, DATA_NONE);
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
		n = splice(io_fd(c->data), NULL, c->zp[1], NULL,
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
			    0, NULL, "data connection: %s", io_error(c->data)[0] ?
			    io_error(c->data) : strerror(errno));
			return;
		}
		if (n == 0 && op->ascii && c->ascii.cr_pending) {
			/* a lone CR at the very end is data */
			c->xlen = ftp_ascii_net_end(&c->ascii, c->xbuf);
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
	    io_ssl(c->data) != NULL && SSL_has_pending(io_ssl(c->data)))
		xfer_yield(c);
}

/* The upload's data connection is finished with: the file is complete. */
static void
put_data_done(struct ftp_conn *c)
{
	io_free(c->data);
	c->data = NULL;
	data_set_state(c, DATA_NONE);
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
	data_set_state(c, DATA_DRAINING);
	shutdown(io_fd(c->data), SHUT_WR);
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
		n = sendfile(io_fd(c->data), op->lfd.fd, NULL, budget);
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
				if (io_ssl(c->data) != NULL) {
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
			    0, NULL, "data connection: %s", io_error(c->data)[0] ?
			    io_error(c->data) : strerror(errno));
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
	if (c->dstate == DATA_DRAINING) {
		put_drain(c);
		return;
	}
	if (c->dstate != DATA_READY) {
		/* no byte before TLS protects them: they wait */
		if (c->dstate == DATA_OPEN)
			io_pause(c->data);
		return;
	}
	if (c->op->kind == OP_PUT) {
		if (!c->op->prelim_seen)
			return;
		if (c->xmode == XM_SENDFILE)
			pump_out_sendfile(c);
		else
			pump_out(c);
	} else if (c->step != STEP_XFER) {
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

	switch (ev) {
	case IO_CONNECTED:
		/* downloads read as soon as bytes come; uploads only write,
		 * after the 1xx, and never watch for input */
		if (c->op->kind == OP_PUT)
			io_pause(io);
		io_set_timeout(io, c->p->data_timeout);
		data_connected(c);
		xfer_data_ready(c);
		break;
	case IO_TLS_READY:
		data_set_state(c, DATA_READY);
		c->tls_reuse = SSL_session_reused(io_ssl(io)) ? 1 : 0;
		log_debug("data connection: TLS %s, session %s",
		    SSL_get_version(io_ssl(io)), c->tls_reuse ? "resumed" : "NOT resumed");
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
			xfer_pump(c);
		}
		break;
	case IO_DATAIN:
	case IO_LOWAT:
		xfer_pump(c);
		break;
	case IO_TIMEOUT:
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
		conn_drop(c, io_tls_failed(io) ? FTPA_ERR_TLS : FTPA_ERR_CONNECT, 0,
		    NULL, "data connection: %s", io_error(io));
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
		ev_timer_start(main_loop, &c->tls_wait_timer);
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
