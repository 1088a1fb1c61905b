#include "config.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "castore.h"
#include "conf.h"
#include "log.h"
#include "tls.h"

static int	holder_idx = -1;

void
tls_queue_error(char *buf, size_t len, const char *what)
{
	unsigned long	e = ERR_get_error();
	char		tmp[256];

	if (e == 0)
		snprintf(buf, len, "%s", what);
	else {
		ERR_error_string_n(e, tmp, sizeof(tmp));
		snprintf(buf, len, "%s: %s", what, tmp);
	}
	ERR_clear_error();
}

/* New sessions (TLS 1.3 tickets arrive after the handshake): keep the newest. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_sessions	*h = SSL_get_ex_data(ssl, holder_idx);

	if (h == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (h->newest)
		SSL_SESSION_free(h->newest);
	h->newest = sess;
	log_debug("tls: new session stored (%s)", SSL_get_version(ssl));
	return 1;	/* we keep the reference */
}

SSL_CTX *
tls_ctx_new(bool verify, X509_STORE *store, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	const char	*why;

	if (holder_idx == -1)
		holder_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_queue_error(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx,
	    conf_current()->tls_min_version >= 13 ? TLS1_3_VERSION :
	    TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* the client side cache is ours (new_session_cb), not OpenSSL's */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	if (verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		/* built off the loop (castore.h), never parsed here */
		if (store == NULL && (store = castore_default(&why)) == NULL) {
			snprintf(err, errlen, "%s", why);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set1_cert_store(ctx, store);
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

static bool
is_ip(const char *host)
{
	unsigned char	buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

SSL *
tls_new(SSL_CTX *ctx, int fd, const char *host, bool verify,
    struct tls_sessions *holder, bool store, char *err, size_t errlen)
{
	SSL	*ssl;
	bool	 ip = is_ip(host);

	if ((ssl = SSL_new(ctx)) == NULL) {
		tls_queue_error(err, errlen, "cannot create a TLS connection");
		return NULL;
	}
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (store)
		SSL_set_ex_data(ssl, holder_idx, holder);
	if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (verify) {
		if (ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    host) != 1)
				goto fail;
		} else {
			if (SSL_set1_host(ssl, host) != 1)
				goto fail;
			/* no wildcard matching of a partial label */
			SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		}
	}
	if (holder && holder->newest && SSL_set_session(ssl, holder->newest) != 1)
		log_debug("tls: cannot offer the stored session");
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	tls_queue_error(err, errlen, "cannot set up the TLS connection");
	SSL_free(ssl);
	return NULL;
}

#define TLS_DATA_READ_BUF	(256 * 1024)

void
tls_for_control(SSL *ssl)
{
	SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
}

void
tls_for_data(SSL *ssl)
{
	SSL_set_default_read_buffer_len(ssl, TLS_DATA_READ_BUF);
	SSL_set_read_ahead(ssl, 1);
}

void
tls_error(SSL *ssl, char *buf, size_t len)
{
	long	v = SSL_get_verify_result(ssl);

	if (v != X509_V_OK) {
		snprintf(buf, len, "certificate verification failed: %s",
		    X509_verify_cert_error_string(v));
		ERR_clear_error();
		return;
	}
	tls_queue_error(buf, len, "TLS handshake failed");
}

void
tls_sessions_clear(struct tls_sessions *h)
{
	if (h->newest)
		SSL_SESSION_free(h->newest);
	h->newest = NULL;
}

const char *
tls_implicit_hint(const char *err)
{
	/* OpenSSL's words for a "220 ..." where a TLS record should be */
	if (strstr(err, "wrong version number") != NULL ||
	    strstr(err, "packet length too long") != NULL ||
	    strstr(err, "unknown protocol") != NULL)
		return " (the server answered in cleartext: an explicit-TLS "
		    "port? use ftpes:// or --tls explicit)";
	return "";
}
