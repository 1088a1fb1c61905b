/*
 * The pumps: they move a transfer's bytes between the data connection and
 * the local descriptor once the connection is ready (ftp_data.c opens it).
 * The kernel moves them where it can (splice, sendfile); otherwise they go
 * through a buffer of ours (copy; TLS; TYPE A conversion). Every transfer
 * moves a bounded share per event, so that the loop is shared fairly.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/sendfile.h>

#include "ftp_ascii.h"
#include "log.h"
#include "localfd.h"
#include "util.h"
#include "ftp_priv.h"

static void pump_in(struct ftp_conn *c);
static void put_drain(struct ftp_conn *c);
static void pump_out(struct ftp_conn *c);

/* ---- a transfer's resources ------------------------------------------------ */

static void
local_watch_stop(struct ftp_conn *c)
{
	if (ev_is_active(&c->lw))
		ev_io_stop(loop_get(), &c->lw);
}

static unsigned	xfer_active;	/* transfers with a data connection open */

static size_t
xfer_budget(void)
{
	size_t	b = XFER_BUDGET / (xfer_active > 0 ? xfer_active : 1);

	return b < XFER_SLICE ? XFER_SLICE : b;
}

/*
 * Empty splice pipes kept for the next transfers: a tree of small files
 * would otherwise create and close one per file (pipe2, F_SETPIPE_SZ and
 * two closes). Only empty ones are kept, few, and not once transfers
 * pause, so that idle pipes do not hold the user's pipe quota.
 */
#define ZPIPES_KEPT	8
#define ZPIPES_IDLE_S	2.0	/* then the pool is emptied */

static struct zpipe {
	int	fd[2];
	size_t	cap;
}		zpool[ZPIPES_KEPT];
static size_t	zpool_n;
static ev_timer	zpool_timer;

void
ftp_pipes_release(void)
{
	ev_timer_stop(loop_get(), &zpool_timer);
	while (zpool_n > 0) {
		zpool_n--;
		close(zpool[zpool_n].fd[0]);
		close(zpool[zpool_n].fd[1]);
	}
}

static void
zpool_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ftp_pipes_release();
}

static void
zpool_put(int fd[2], size_t cap)
{
	if (zpool_timer.repeat == 0.)
		ev_timer_init(&zpool_timer, zpool_idle_cb, 0., ZPIPES_IDLE_S);
	zpool[zpool_n].fd[0] = fd[0];
	zpool[zpool_n].fd[1] = fd[1];
	zpool[zpool_n++].cap = cap;
	ev_timer_again(loop_get(), &zpool_timer);
}

static void
zpipe_close(struct ftp_conn *c)
{
	if (c->zp[0] != -1) {
		if (c->zfill == 0 && zpool_n < ZPIPES_KEPT)
			zpool_put(c->zp, c->zcap);
		else {
			close(c->zp[0]);
			close(c->zp[1]);
		}
	}
	c->zp[0] = c->zp[1] = -1;
	c->zfill = c->zcap = 0;
}

static bool
zpipe_open(struct ftp_conn *c)
{
	int	sz;

	c->zfill = 0;
	if (zpool_n > 0) {
		zpool_n--;
		c->zp[0] = zpool[zpool_n].fd[0];
		c->zp[1] = zpool[zpool_n].fd[1];
		c->zcap = zpool[zpool_n].cap;
		return true;
	}
	if (pipe2(c->zp, O_NONBLOCK | O_CLOEXEC) == -1) {
		c->zp[0] = c->zp[1] = -1;
		return false;
	}
	/* larger is fewer system calls; the per-user pipe quota may say no */
	if ((sz = fcntl(c->zp[1], F_SETPIPE_SZ, ZPIPE_SIZE)) == -1)
		sz = fcntl(c->zp[1], F_GETPIPE_SZ);
	c->zcap = sz > 0 && sz < ZPIPE_SIZE ? (size_t)sz : ZPIPE_SIZE;
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

/* A data connection opens for the running op: how its bytes will move,
 * and one more transfer sharing the loop. */
void
pump_prepare(struct ftp_conn *c)
{
	c->xlen = c->xoff = 0;
	xfer_choose_mode(c);
	if (!c->xcounted) {
		c->xcounted = true;
		xfer_active++;
	}
}

/* The data connection closes: what the pumps held goes. */
void
pump_release(struct ftp_conn *c)
{
	/* bytes received but never written do not count: a retry resumes
	 * at what the local file really has */
	if (c->op != NULL && c->op->kind == OP_GET && !c->op->ascii &&
	    c->xlen > c->xoff)
		c->op->bytes -= (int64_t)(c->xlen - c->xoff);
	if (c->op != NULL)
		c->op->held = 0;
	local_watch_stop(c);
	ev_timer_stop(loop_get(), &c->yield_timer);
	ev_timer_stop(loop_get(), &c->rate_timer);
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
}

/* ---- the pumps ------------------------------------------------------------ */

static void
local_ready_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ftp_conn	*c = w->data;

	local_watch_stop(c);
	if (c->data) {
		io_set_timeout(c->data, data_idle_timeout(c));
		if (c->op && c->op->kind == OP_PUT)
			io_set_want_write(c->data, true);
		else
			io_resume(c->data);
	}
	pump_run(c);
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
	ev_io_start(loop_get(), &c->lw);
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
	rl_take(op->rl, n);
	rl_take(&c->p->rl, n);
	*budget -= (size_t)n < *budget ? (size_t)n : *budget;
	if (op->progress)
		op->progress(op, op->arg);
	return !c->dead && c->op == op && *budget > 0;
}

/* ---- rate limits (ratelimit.h) -------------------------------------------- */

void
rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ftp_conn	*c = w->data;

	if (c->op == NULL || c->data == NULL)
		return;
	if (c->op->kind == OP_PUT)
		io_set_want_write(c->data, true);
	else
		io_resume(c->data);
	pump_run(c);
}

/*
 * Whether the running op may move bytes now, under its job's limit and
 * its session's; c->rate_cap says how many. When it may not, its data
 * connection rests until every bucket holds a quantum.
 */
static bool
rate_allows(struct ftp_conn *c)
{
	struct ratelimit *rls[2] = { c->op->rl, &c->p->rl };
	double		 now, wait = 0, w;
	int64_t		 avail, cap = INT64_MAX;

	c->rate_cap = INT64_MAX;	/* no limit: no clock read either */
	if (!rl_on(rls[0]) && !rl_on(rls[1]))
		return true;
	now = now_mono();
	for (size_t i = 0; i < 2; i++) {
		if (!rl_on(rls[i]))
			continue;
		avail = rl_avail(rls[i], now);
		if (avail < rl_quantum(rls[i]) &&
		    (w = rl_wait(rls[i], rl_quantum(rls[i]))) > wait)
			wait = w;
		if (avail < cap)
			cap = avail;
	}
	c->rate_cap = cap;
	if (wait <= 0)
		return true;
	if (c->op->kind == OP_PUT)
		io_set_want_write(c->data, false);
	else
		io_pause(c->data);
	if (!ev_is_active(&c->rate_timer)) {
		ev_timer_set(&c->rate_timer, wait, 0.);
		ev_timer_start(loop_get(), &c->rate_timer);
	}
	return false;
}

/* What one turn of a pump may move: its share, within its limits
 * (rate_allows's c->rate_cap). */
static size_t
pump_budget(const struct ftp_conn *c)
{
	size_t	b = xfer_budget();

	return (uint64_t)c->rate_cap < b ? (size_t)c->rate_cap : b;
}

/* One read's length: under a limit, no more than it allows. */
static size_t
pump_chunk(const struct ftp_conn *c, size_t budget, size_t max)
{
	return c->rate_cap != INT64_MAX && budget < max ? budget : max;
}

/* Goes on in the next loop iteration, after the other watchers had theirs. */
static void
xfer_yield(struct ftp_conn *c)
{
	ev_timer_set(&c->yield_timer, 0., 0.);
	ev_timer_start(loop_get(), &c->yield_timer);
}

void
yield_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	pump_run(w->data);
}

/* The download's data connection is done with: the final reply ends it. */
static void
get_data_closed(struct ftp_conn *c)
{
	io_free(c->data);
	c->data = NULL;
	data_set_state(c, DATA_NONE);
	/* the final reply may still be on its way: bounded wait */
	if (!c->op->final_seen && c->io)
		io_set_timeout(c->io, c->p->reply_timeout);
	xfer_maybe_finish(c);
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
	get_data_closed(c);
}

/* A range's bytes still to come (SIZE_MAX: no range). */
static size_t
range_left(const struct ftp_conn *c)
{
	const struct ftp_op	*op = c->op;
	int64_t			 left;

	if (op->end < 0)
		return SIZE_MAX;
	left = op->end - op->offset - op->bytes;
	return left > 0 ? (size_t)left : 0;
}

/*
 * A range download has all its bytes: its data connection is closed
 * (the server answers 426 or 226, either is its end), and the op ends
 * with the final reply (xfer_maybe_finish).
 */
static void
range_done(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	log_debug("range up to %" PRId64 " complete: closing its data "
	    "connection", op->end);
	op->range_done = true;
	op->data_eof = true;
	/* close_notify before the close: without it a server with
	 * single-use TLS 1.3 tickets (vsftpd) drops the session this
	 * connection brought as unclean, and the next data connection of
	 * this control connection, offering its ticket, gets 522 */
	if (io_ssl(c->data) != NULL)
		(void)io_tls_close(c->data);
	get_data_closed(c);
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
	c->op->held = (int64_t)c->xlen;
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
	size_t		 budget = pump_budget(c);
	size_t		 left;
	ssize_t		 n;

	while (budget > 0 && c->data != NULL) {
		if (c->zfill > 0) {
			n = localfd_splice_in(&op->lfd, c->zp[0], c->zfill,
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
		if ((left = range_left(c)) == 0) {
			range_done(c);
			return;
		}
		left = left < budget ? left : budget;
		n = splice(io_fd(c->data), NULL, c->zp[1], NULL,
		    c->zcap < left ? c->zcap : left,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			data_broke(c, FTPA_ERR_CONNECT, strerror(errno));
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
	size_t		 budget = pump_budget(c);
	size_t		 left;
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
			op->held = (int64_t)(c->xlen - c->xoff);
			continue;
		}
		if ((left = range_left(c)) == 0) {
			range_done(c);
			return;
		}
		left = left < XBUF_SIZE ? left : XBUF_SIZE;
		n = io_recv(c->data, c->xbuf, pump_chunk(c, budget, left));
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			data_broke(c, errno == EPROTO ? FTPA_ERR_TLS :
			    FTPA_ERR_CONNECT, io_error(c->data)[0] ?
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
		op->held = (int64_t)c->xlen;
		if (!xfer_moved(c, op, n, &budget))
			break;
	}
	/* records read ahead wait in OpenSSL, not in the socket */
	if (budget == 0 && !c->dead && c->op == op && c->data != NULL &&
	    io_ssl(c->data) != NULL && SSL_has_pending(io_ssl(c->data)))
		xfer_yield(c);
}

/* The upload's data connection is finished with: the file is complete. */
void
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
	io_set_timeout(c->data, data_idle_timeout(c));
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
	size_t		 budget = pump_budget(c);
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
	size_t		 budget = pump_budget(c);
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
			n = localfd_read(&op->lfd, c->xbuf, pump_chunk(c,
			    budget, op->ascii ? XBUF_SIZE / 2 : XBUF_SIZE));
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
			    0, NULL, "data connection: %s",
			    io_error(c->data)[0] ? io_error(c->data) :
			    strerror(errno));
			return;
		}
		c->xoff += n;
		if (!xfer_moved(c, op, n, &budget))
			return;
	}
}

/* Moves what the op's direction and the data connection's state allow. */
void
pump_run(struct ftp_conn *c)
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
		if (!c->op->prelim_seen || !rate_allows(c))
			return;
		if (c->xmode == XM_SENDFILE)
			pump_out_sendfile(c);
		else
			pump_out(c);
	} else if (c->step != STEP_XFER) {
		/* bytes before RETR (or LIST) are no answer to it: they wait,
		 * and a restart from zero cannot lose them (a fuzzer finding) */
		io_pause(c->data);
	} else if (!rate_allows(c))
		return;
	else if (c->xmode == XM_SPLICE)
		pump_in_splice(c);
	else
		pump_in(c);
}
