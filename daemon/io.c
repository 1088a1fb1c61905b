#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ev.h>
#include <openssl/err.h>

#include "io.h"
#include "log.h"
#include "tls.h"
#include "tls_wbio.h"
#include "util.h"

#define IO_READ_CHUNK	16384

/* Opaque outside this file: io.h's functions are the only way in. */
struct io {
	int		 fd;
	io_cb		 cb;
	void		*arg;
	bool		 raw;
	bool		 connecting;
	bool		 dead;
	bool		 eof;
	bool		 want_write;	/* raw mode: report IO_LOWAT when writable */
	bool		 paused;
	bool		 shut_wr_pending;
	/* TLS */
	SSL		*ssl;
	bool		 tls_handshake;		/* under way */
	bool		 tls_hs_want_write;
	bool		 tls_rd_wants_write;	/* SSL_read said WANT_WRITE */
	bool		 tls_wr_wants_read;	/* SSL_write said WANT_READ */
	bool		 tls_failed;		/* the handshake failed */
	bool		 tls_truncated;		/* EOF without close_notify */
	bool		 tls_close_sent;	/* our close_notify is written */
	bool		 rd_deferred;		/* io_tls_recv met an end or an
						   error after data: */
	ssize_t		 rd_deferred_r;		/* ... the next call's result */
	int		 rd_deferred_errno;
	BIO		*wbio;			/* tls_wbio.h's, when in use
						   (the SSL's) */
	char		 error[256];
	double		 timeout;
	struct buf	 in;
	struct buf	 out;
	ev_io		 rw;
	ev_io		 ww;
	ev_timer	 tw;
};

static const char *io_event_names[IO_EVENT_LAST] = {
	"CONNECTED", "DATAIN", "LOWAT", "DISCONNECTED", "TIMEOUT", "ERROR",
	"TLS_READY",
};

const char *
io_event_name(enum io_event ev)
{
	return ev < IO_EVENT_LAST ? io_event_names[ev] : "?";
}

static void io_read_cb(struct ev_loop *, ev_io *, int);
static void io_write_cb(struct ev_loop *, ev_io *, int);
static void io_timer_cb(struct ev_loop *, ev_timer *, int);

struct io *
io_new(io_cb cb, void *arg, bool raw)
{
	struct io	*io = xcalloc(1, sizeof(*io));

	io->fd = -1;
	io->cb = cb;
	io->arg = arg;
	io->raw = raw;
	ev_init(&io->rw, io_read_cb);
	ev_init(&io->ww, io_write_cb);
	ev_init(&io->tw, io_timer_cb);
	io->rw.data = io->ww.data = io->tw.data = io;
	return io;
}

static void
io_release(void *p)
{
	struct io	*io = p;

	buf_free(&io->in);
	buf_free(&io->out);
	if (io->ssl)
		SSL_free(io->ssl);
	free(io);
}

static void
io_stop(struct io *io)
{
	ev_io_stop(loop_get(), &io->rw);
	ev_io_stop(loop_get(), &io->ww);
	ev_timer_stop(loop_get(), &io->tw);
}

void
io_free(struct io *io)
{
	if (io == NULL || io->dead)
		return;
	io->dead = true;
	io_stop(io);
	if (io->fd != -1)
		close(io->fd);
	io->fd = -1;
	defer_free(io_release, io);
}

static void
io_fire(struct io *io, enum io_event ev)
{
	if (!io->dead)
		io->cb(io, ev, io->arg);
}

static void __attribute__((format(printf, 3, 4)))
io_fail(struct io *io, enum io_event ev, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(io->error, sizeof(io->error), fmt, ap);
	va_end(ap);
	io_stop(io);
	io_fire(io, ev);
}

void
io_touch(struct io *io)
{
	if (io->timeout > 0) {
		io->tw.repeat = io->timeout;
		ev_timer_again(loop_get(), &io->tw);
	}
}

void
io_set_timeout(struct io *io, double secs)
{
	io->timeout = secs;
	if (secs > 0) {
		io->tw.repeat = secs;
		ev_timer_again(loop_get(), &io->tw);
	} else
		ev_timer_stop(loop_get(), &io->tw);
}

/* Which watchers should run, from the state. One place decides it. */
static void
io_update(struct io *io)
{
	bool	rd, wr;

	if (io->dead || io->fd == -1)
		return;
	if (io->connecting) {
		rd = false;
		wr = true;
	} else if (io->tls_handshake) {
		rd = !io->tls_hs_want_write;
		wr = io->tls_hs_want_write;
	} else {
		rd = (!io->paused && !io->eof) || io->tls_wr_wants_read;
		wr = buf_used(&io->out) > 0 || (io->raw && io->want_write) ||
		    io->tls_rd_wants_write;
	}
	if (rd && !ev_is_active(&io->rw))
		ev_io_start(loop_get(), &io->rw);
	else if (!rd && ev_is_active(&io->rw))
		ev_io_stop(loop_get(), &io->rw);
	if (wr && !ev_is_active(&io->ww))
		ev_io_start(loop_get(), &io->ww);
	else if (!wr && ev_is_active(&io->ww))
		ev_io_stop(loop_get(), &io->ww);
}

int
io_connect(struct io *io, const struct sockaddr *sa, socklen_t salen, double timeout)
{
	int	fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS) {
		int	saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	io->fd = fd;
	io->connecting = true;
	ev_io_set(&io->rw, fd, EV_READ);
	ev_io_set(&io->ww, fd, EV_WRITE);
	io_set_timeout(io, timeout);
	io_update(io);
	return 0;
}

void
io_attach(struct io *io, int fd)
{
	int	one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	io->fd = fd;
	ev_io_set(&io->rw, fd, EV_READ);
	ev_io_set(&io->ww, fd, EV_WRITE);
	io_update(io);
}

static void
io_connected(struct io *io)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		io_fail(io, IO_ERROR, "connect: %s", strerror(err));
		return;
	}
	io->connecting = false;
	io_touch(io);
	io_update(io);
	io_fire(io, IO_CONNECTED);
}

static void io_handshake(struct io *);
static void io_tls_read_buffered(struct io *);

static void
io_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct io	*io = w->data;
	char		 tmp[IO_READ_CHUNK];
	ssize_t		 n;

	if (io->tls_handshake) {
		io_handshake(io);
		return;
	}
	if (io->tls_wr_wants_read) {
		/* the pending SSL_write can go on now */
		io->tls_wr_wants_read = false;
		io_update(io);
		if (io->raw)
			io_fire(io, IO_LOWAT);
		else
			io_write_cb(loop, &io->ww, EV_WRITE);
		return;
	}
	if (io->ssl && !io->raw) {
		io_tls_read_buffered(io);
		return;
	}
	if (io->raw) {
		/* readiness alone is no progress: io_recv re-arms the timer */
		io_fire(io, IO_DATAIN);
		return;
	}
	n = read(io->fd, tmp, sizeof(tmp));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		io_fail(io, IO_ERROR, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		io->eof = true;
		io_stop(io);
		io_fire(io, IO_DISCONNECTED);
		return;
	}
	/* buffered (control) connections have a deadline per command: a
	 * server trickling bytes does not extend it */
	buf_append(&io->in, tmp, n);
	io_fire(io, IO_DATAIN);
	if (buf_used(&io->in) == 0)
		buf_free(&io->in);
}

static void
io_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct io	*io = w->data;
	ssize_t		 n;

	if (io->connecting) {
		io_connected(io);
		return;
	}
	if (io->tls_handshake) {
		io_handshake(io);
		return;
	}
	if (io->tls_rd_wants_write) {
		io->tls_rd_wants_write = false;
		io_update(io);
		if (io->raw)
			io_fire(io, IO_DATAIN);
		else
			io_tls_read_buffered(io);
		return;
	}
	if (buf_used(&io->out) > 0 && io->ssl) {
		n = io_send(io, io->out.data + io->out.off, buf_used(&io->out));
		if (n == -1) {
			if (errno == EAGAIN)
				return;
			io_fail(io, IO_ERROR, "TLS write: %s", io->error[0] ?
			    io->error : strerror(errno));
			return;
		}
		buf_drop(&io->out, n);
		if (buf_used(&io->out) > 0)
			return;
		buf_free(&io->out);	/* idle sessions keep no buffers */
		io_update(io);
		io_fire(io, IO_LOWAT);
		return;
	}
	if (buf_used(&io->out) > 0) {
		n = send(io->fd, io->out.data + io->out.off, buf_used(&io->out),
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			io_fail(io, IO_ERROR, "write: %s", strerror(errno));
			return;
		}
		io_touch(io);
		buf_drop(&io->out, n);
		if (buf_used(&io->out) > 0)
			return;
		buf_free(&io->out);
		if (io->shut_wr_pending) {
			io->shut_wr_pending = false;
			shutdown(io->fd, SHUT_WR);
		}
		io_update(io);
		io_fire(io, IO_LOWAT);
		return;
	}
	if (io->raw && io->want_write)
		io_fire(io, IO_LOWAT);
	else
		io_update(io);
}

static void
io_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct io	*io = w->data;

	ev_timer_stop(loop, w);
	snprintf(io->error, sizeof(io->error), "timed out after %.0f s",
	    io->timeout);
	io_fire(io, IO_TIMEOUT);
}

/*
 * A plain connection with nothing queued sends at once: a command costs
 * one send(2), not a write watcher started and stopped around it (two
 * epoll_ctl and a loop turn). What the socket does not take, and any
 * error, is left to the watcher, which reports it as before. IO_LOWAT
 * comes only after queued output drains.
 */
void
io_write(struct io *io, const void *p, size_t n)
{
	ssize_t	sent;

	if (io->dead)
		return;
	if (io->ssl == NULL && !io->raw && !io->connecting && io->fd != -1 &&
	    buf_used(&io->out) == 0 && !io->shut_wr_pending) {
		sent = send(io->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent > 0) {
			io_touch(io);
			p = (const char *)p + sent;
			n -= (size_t)sent;
		}
		if (n == 0)
			return;
	}
	buf_append(&io->out, p, n);
	io_update(io);
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	io_write(io, s, n);
	free(s);
}

void
io_pause(struct io *io)
{
	io->paused = true;
	io_update(io);
}

void
io_resume(struct io *io)
{
	io->paused = false;
	io_update(io);
}

/* Maps an SSL_read/SSL_write result to the socket conventions. */
static ssize_t
io_tls_result(struct io *io, int r, bool reading)
{
	int		err = SSL_get_error(io->ssl, r);
	unsigned long	e;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		if (!reading) {
			io->tls_wr_wants_read = true;
			io_update(io);
		}
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (reading) {
			io->tls_rd_wants_write = true;
			io_update(io);
		}
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify: a clean end */
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		if (reading && ERR_peek_error() == 0 && errno == 0) {
			io->tls_truncated = true;
			return 0;
		}
		if (errno != 0) {
			int	saved = errno;

			snprintf(io->error, sizeof(io->error), "%s", strerror(saved));
			ERR_clear_error();
			errno = saved;
			return -1;
		}
		break;
	case SSL_ERROR_SSL:
		e = ERR_peek_error();
		if (reading && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			io->tls_truncated = true;
			return 0;
		}
		break;
	}
	if ((e = ERR_get_error()) != 0) {
		char	tmp[200];

		ERR_error_string_n(e, tmp, sizeof(tmp));
		snprintf(io->error, sizeof(io->error), "TLS error: %s", tmp);
	} else
		snprintf(io->error, sizeof(io->error), "TLS error %d", err);
	ERR_clear_error();
	errno = EPROTO;
	return -1;
}

/*
 * SSL_read gives one record (16 KiB at most) a call: the records already
 * read ahead fill the caller's buffer too, so that its write takes many
 * at once. An error or the end met after some data is kept for the next
 * call (the error queue is the thread's: it is read now).
 */
static ssize_t
io_tls_recv(struct io *io, void *p, size_t n)
{
	size_t	got = 0;
	int	k, e;

	do {
		errno = 0;
		k = SSL_read(io->ssl, (char *)p + got, n - got > INT32_MAX ?
		    INT32_MAX : (int)(n - got));
		if (k > 0)
			got += (size_t)k;
	} while (k > 0 && got < n && SSL_has_pending(io->ssl));
	if (got == 0)
		return io_tls_result(io, k, true);
	if (k <= 0 && (e = SSL_get_error(io->ssl, k)) != SSL_ERROR_WANT_READ &&
	    e != SSL_ERROR_WANT_WRITE) {
		io->rd_deferred_r = io_tls_result(io, k, true);
		io->rd_deferred_errno = errno;
		io->rd_deferred = true;
	}
	return (ssize_t)got;
}

ssize_t
io_recv(struct io *io, void *p, size_t n)
{
	ssize_t	r;

	if (io->ssl && io->rd_deferred) {
		/* what came after the data the last call returned */
		io->rd_deferred = false;
		errno = io->rd_deferred_errno;
		r = io->rd_deferred_r;
	} else if (io->ssl)
		r = io_tls_recv(io, p, n);
	else
		r = recv(io->fd, p, n, MSG_DONTWAIT);

	if (r > 0)
		io_touch(io);
	else if (r == 0) {
		io->eof = true;
		io_update(io);
	}
	return r;
}

/* tls_wbio_flush, with the socket's conventions: 1 all sent, 0 not all
 * (errno EAGAIN; writable is awaited), -1 an error (errno, io->error). */
static int
io_wbio_flush(struct io *io)
{
	int	r = tls_wbio_flush(io->wbio);

	if (r == 0)
		errno = EAGAIN;
	else if (r == -1)
		snprintf(io->error, sizeof(io->error), "%s", strerror(errno));
	return r;
}

/*
 * SSL_write (partial writes on: a record each) until the gathering BIO
 * is nearly full, then one send(2) for all those records; what the
 * socket does not take now goes first next time.
 */
static ssize_t
io_send_gathered(struct io *io, const char *p, size_t n)
{
	size_t	done = 0;
	int	k = 0;

	/* what an earlier call left goes first, or the socket is full */
	if (tls_wbio_pending(io->wbio) > 0 && io_wbio_flush(io) != 1)
		return -1;
	while (done < n && tls_wbio_pending(io->wbio) + SSL3_RT_MAX_PLAIN_LENGTH +
	    SSL3_RT_MAX_ENCRYPTED_OVERHEAD <= TLS_WBIO_SIZE) {
		errno = 0;
		k = SSL_write(io->ssl, p + done, n - done > INT32_MAX ?
		    INT32_MAX : (int)(n - done));
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	if (done == 0 && k <= 0)
		return io_tls_result(io, k, false);
	if (io_wbio_flush(io) == -1)
		return -1;
	if (done > 0)
		io_touch(io);
	return (ssize_t)done;
}

ssize_t
io_send(struct io *io, const void *p, size_t n)
{
	ssize_t	r;

	if (io->ssl) {
		int	k;

		if (io->wbio != NULL)
			return io_send_gathered(io, p, n);
		errno = 0;
		k = SSL_write(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		r = k > 0 ? k : io_tls_result(io, k, false);
	} else
		r = send(io->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r > 0)
		io_touch(io);
	return r;
}

void
io_set_want_write(struct io *io, bool on)
{
	io->want_write = on;
	io_update(io);
}

void
io_shutdown_write(struct io *io)
{
	if (io->fd == -1)
		return;
	if (buf_used(&io->out) > 0)
		io->shut_wr_pending = true;
	else
		shutdown(io->fd, SHUT_WR);
}

/* ---- TLS ---------------------------------------------------------------- */

static bool
handshake_cut(int err)
{
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return true;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	if (err == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return true;
#endif
	return false;
}

static void
io_handshake(struct io *io)
{
	int	r, err;

	errno = 0;
	ERR_clear_error();	/* what follows is this handshake's alone */
	r = SSL_do_handshake(io->ssl);

	if (r == 1) {
		io->tls_handshake = false;
		io_touch(io);
		io_update(io);
		io_fire(io, IO_TLS_READY);
		return;
	}
	switch ((err = SSL_get_error(io->ssl, r))) {
	case SSL_ERROR_WANT_READ:
		io->tls_hs_want_write = false;
		io_update(io);
		return;
	case SSL_ERROR_WANT_WRITE:
		io->tls_hs_want_write = true;
		io_update(io);
		return;
	default:
		if (handshake_cut(err)) {
			/*
			 * The connection broke under the handshake (a reset,
			 * an EOF): a network failure like any other, worth a
			 * retry; certificates and alerts are TLS failures.
			 */
			snprintf(io->error, sizeof(io->error),
			    "TLS handshake failed: %s", errno ? strerror(errno) :
			    "the server closed the connection");
			ERR_clear_error();
		} else {
			io->tls_failed = true;
			tls_error(io->ssl, io->error, sizeof(io->error));
		}
		io_stop(io);
		io_fire(io, IO_ERROR);
		return;
	}
}

void
io_start_tls(struct io *io, SSL *ssl)
{
	io->ssl = ssl;
	io->tls_handshake = true;
	io->tls_hs_want_write = true;	/* the ClientHello goes first */
	io_handshake(io);
}

static void
io_tls_read_buffered(struct io *io)
{
	char	tmp[IO_READ_CHUNK];
	ssize_t	n;
	bool	got = false;

	for (;;) {
		n = io_recv(io, tmp, sizeof(tmp));
		if (n > 0) {
			buf_append(&io->in, tmp, n);
			got = true;
			continue;
		}
		if (n == -1 && errno == EAGAIN)
			break;
		if (got)
			io_fire(io, IO_DATAIN);
		if (io->dead)
			return;
		if (n == 0) {
			io->eof = true;
			io_stop(io);
			io_fire(io, IO_DISCONNECTED);
		} else
			io_fail(io, IO_ERROR, "%s", io->error);
		return;
	}
	if (got)
		io_fire(io, IO_DATAIN);
	if (buf_used(&io->in) == 0)
		buf_free(&io->in);
}

int
io_tls_close(struct io *io)
{
	int	r;

	if (io->ssl == NULL)
		return 1;
	if (!io->tls_close_sent) {
		r = SSL_shutdown(io->ssl);
		if (r < 0 && SSL_get_error(io->ssl, r) == SSL_ERROR_WANT_WRITE) {
			io_set_want_write(io, true);
			return 0;
		}
		if (r < 0) {
			ERR_clear_error();
			return -1;
		}
		io->tls_close_sent = true;
	}
	/* the gathering BIO's last records, close_notify among them, are
	 * out before anyone shuts or closes the socket */
	if (io->wbio == NULL || (r = io_wbio_flush(io)) == 1)
		return 1;
	if (r == 0)
		io_set_want_write(io, true);
	return r;
}

bool
io_tls_gather_writes(struct io *io, SSL *ssl)
{
	BIO	*b;

	if (io->fd == -1 || (b = tls_wbio_new(io->fd)) == NULL)
		return false;
	SSL_set0_wbio(ssl, b);
	io->wbio = b;
	return true;
}

int
io_peer(struct io *io, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getpeername(io->fd, (struct sockaddr *)ss, len);
}

const char *
io_peek(const struct io *io, size_t *len)
{
	*len = buf_used(&io->in);
	return *len > 0 ? io->in.data + io->in.off : NULL;
}

void
io_drop(struct io *io, size_t n)
{
	buf_drop(&io->in, n);
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

SSL *
io_ssl(const struct io *io)
{
	return io->ssl;
}

const char *
io_error(const struct io *io)
{
	return io->error;
}

bool
io_tls_failed(const struct io *io)
{
	return io->tls_failed;
}

bool
io_tls_truncated(const struct io *io)
{
	return io->tls_truncated;
}
