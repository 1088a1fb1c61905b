/*
 * A write BIO for TLS uploads. OpenSSL's socket BIO makes one write(2)
 * per record, 16 KiB at most; this one gathers the records of an
 * SSL_write in a buffer and sends them with one send(2) (kTLS would let
 * the kernel do this, but this kernel has no "tls" ULP; this is the
 * fallback, and the only path). Reads keep the socket BIO.
 *
 * Whatever the buffer holds must be sent before the socket is shut or
 * closed: tls_wbio_flush until it says all is out.
 */
#ifndef FTPA_TLS_WBIO_H
#define FTPA_TLS_WBIO_H

#include <openssl/bio.h>

#define TLS_WBIO_SIZE	(128 * 1024)

/* A BIO writing to fd (never closed by it), or NULL (out of memory). */
BIO	*tls_wbio_new(int fd);
/* Whether b is one of these. */
int	 tls_wbio_is(BIO *b);
/* Sends what it holds: 1 all of it, 0 some is left (the socket is full:
 * try again when writable), -1 an error (errno). */
int	 tls_wbio_flush(BIO *);
/* Bytes it holds, not yet sent. */
size_t	 tls_wbio_pending(BIO *);

#endif
