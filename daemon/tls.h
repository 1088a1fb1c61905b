/*
 * TLS for FTPS client connections (OpenSSL): contexts that verify by
 * default, per-connection SSL objects with host name checks and SNI, and
 * capture of the newest session (TLS 1.2 session, TLS 1.3 ticket) so that
 * data connections can resume the control connection's session, as
 * strict servers (vsftpd require_ssl_reuse) demand.
 */
#ifndef FTPA_TLS_H
#define FTPA_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

/* Holds the newest resumable session seen on any connection using it. */
struct tls_sessions {
	SSL_SESSION	*newest;
};

/* A client context: TLS 1.2 minimum; trusting store (shared, referenced),
 * NULL for the default one (castore.h); verify false skips verification.
 * NULL with *err set on failure. */
SSL_CTX		*tls_ctx_new(bool verify, X509_STORE *store, char *err,
		    size_t errlen);
/* An SSL for fd, checking host (a name or an IP literal) when verifying,
 * sending SNI for names, resuming holder's newest session if any, and,
 * when store is true, storing new sessions in holder. NULL with *err set
 * on failure. */
SSL		*tls_new(SSL_CTX *, int fd, const char *host, bool verify,
		    struct tls_sessions *holder, bool store, char *err,
		    size_t errlen);
/*
 * Buffers by use. A control connection idles most of its life: its
 * buffers go back to the allocator between records (1,000 idle sessions
 * stay small). A data connection keeps one large read buffer for the whole
 * transfer and reads ahead into it: several records per read(2), no
 * allocation per record. Whoever reads a data connection must then come
 * back while SSL_has_pending(), not only when the socket is readable.
 */
void		 tls_for_control(SSL *);
void		 tls_for_data(SSL *);
/* Why a handshake failed, in words: the verification result when it is
 * the cause, else OpenSSL's error queue. */
void		 tls_error(SSL *, char *buf, size_t len);
void		 tls_sessions_clear(struct tls_sessions *);
/* what, then OpenSSL's first queued error if any, into buf; the (thread's)
 * queue is cleared. */
void		 tls_queue_error(char *buf, size_t len, const char *what);
/* For a failed handshake of implicit TLS on a control connection: a
 * hint at explicit TLS when err (tls_error's words) says the server
 * answered in cleartext, as one that greets first does; else "". */
const char	*tls_implicit_hint(const char *err);
/* For a control connection without implicit TLS whose server sent a TLS
 * record instead of a greeting, or nothing: the hint at implicit TLS. */
#define TLS_EXPLICIT_HINT "an implicit-TLS port? use ftps:// or --tls implicit"

#endif
