/*
 * One I/O module for FTP control and data connections (after OpenSMTPD's
 * ioev): a non-blocking TCP socket driven by libev that reports events to
 * one callback. Buffered mode collects input that the owner reads with
 * io_peek and consumes with io_drop (control connections); raw mode
 * reports readiness and lets the owner move bytes itself (data
 * connections, so that the data path can splice and sendfile on io_fd).
 * TLS (io_start_tls) is behind the same events. struct io is opaque:
 * only io.c knows its fields.
 */
#ifndef FTPA_IO_H
#define FTPA_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <openssl/ssl.h>

enum io_event {
	IO_CONNECTED,		/* io_connect finished */
	IO_DATAIN,		/* buffered: io_peek has more; raw: readable */
	IO_LOWAT,		/* queued output drained (buffered) / writable (raw) */
	IO_DISCONNECTED,	/* the peer closed (EOF) */
	IO_TIMEOUT,		/* no activity for the set timeout */
	IO_ERROR,		/* io_error says what */
	IO_TLS_READY,		/* io_start_tls's handshake finished */
	IO_EVENT_LAST
};

struct io;
typedef void (*io_cb)(struct io *, enum io_event, void *arg);

const char	*io_event_name(enum io_event);
struct io	*io_new(io_cb, void *arg, bool raw);
/* Stops everything and closes the socket; memory is released from the
 * loop later, so it is safe inside the io's own callback. */
void		 io_free(struct io *);
/* Starts a non-blocking connect; IO_CONNECTED or IO_ERROR/IO_TIMEOUT follow. */
int		 io_connect(struct io *, const struct sockaddr *, socklen_t, double timeout);
/* Takes a connected socket (e.g. accepted). */
void		 io_attach(struct io *, int fd);
void		 io_set_timeout(struct io *, double seconds);	/* 0: none */
void		 io_write(struct io *, const void *, size_t);
void		 io_printf(struct io *, const char *, ...) __attribute__((format(printf, 2, 3)));
void		 io_pause(struct io *);
void		 io_resume(struct io *);
/* Raw mode. io_recv returns bytes read, 0 at EOF, -1 with errno (EAGAIN). */
ssize_t		 io_recv(struct io *, void *, size_t);
ssize_t		 io_send(struct io *, const void *, size_t);
void		 io_set_want_write(struct io *, bool);
/* Progress: re-arms the idle timeout. io_recv/io_send do it; raw-mode
 * owners that move bytes on io_fd themselves (splice, sendfile) call it. */
void		 io_touch(struct io *);
/* Half-close once the output buffer is drained. */
void		 io_shutdown_write(struct io *);
/* Starts a TLS client handshake over the connected socket with ssl
 * (taken); IO_TLS_READY or IO_ERROR (io_tls_failed true) follows. From
 * then on all I/O goes through TLS. */
void		 io_start_tls(struct io *, SSL *);
/* Sends close_notify. 1 sent, 0 retry when writable (IO_LOWAT), -1 error. */
int		 io_tls_close(struct io *);
/* Before io_start_tls of an upload: ssl's records go out gathered
 * (tls_wbio.h), one send(2) per io_send instead of one per record; false
 * when that cannot be set up (the socket BIO stays). */
bool		 io_tls_gather_writes(struct io *, SSL *);
/* The peer's address. */
int		 io_peer(struct io *, struct sockaddr_storage *, socklen_t *);

/* Buffered mode: the input not consumed yet, *len bytes, or NULL (and
 * *len 0) when there is none. Valid until io_drop or the next event. */
const char	*io_peek(const struct io *, size_t *len);
/* Consumes the first n bytes of the input. */
void		 io_drop(struct io *, size_t n);

/* The socket, -1 before io_connect/io_attach and after io_free. */
int		 io_fd(const struct io *);
/* The TLS connection once io_start_tls was called, else NULL. */
SSL		*io_ssl(const struct io *);
/* Why the last IO_ERROR or IO_TIMEOUT came, or why io_recv/io_send
 * failed over TLS; "" before any failure. */
const char	*io_error(const struct io *);
/* The TLS handshake failed on certificates or alerts (not a cut). */
bool		 io_tls_failed(const struct io *);
/* The TLS peer ended without close_notify. */
bool		 io_tls_truncated(const struct io *);

#endif
