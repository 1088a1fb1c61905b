/*
 * The scripted FTP server of the session harness: every byte it sends
 * comes from the input (README.md, "The session harness"). It is driven
 * by fuzz_session.c between rounds of the engine's event loop, with
 * non-blocking sockets and no events of its own.
 *
 * TLS: when the engine runs FTPS, the server speaks TLS too (a
 * self-signed certificate; the engine does not verify): on the control
 * connection after a 234 to AUTH TLS, or from the first byte for "ftps";
 * on data connections once PROT P was asked for. "notls" keeps it plain,
 * to feed the engine's handshake whatever the script says.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util.h"
#include "fuzz.h"
#include "fuzz_session.h"

#define PEERS_MAX	8
#define HEADER_MAX	200
#define CMDLINE_MAX	512

int	__wrap_connect(int, const struct sockaddr *, socklen_t);
int	__real_connect(int, const struct sockaddr *, socklen_t);

static const struct {
	const char	*word;
	unsigned	 flag;
} flag_words[] = {
	{ "active", F_ACTIVE }, { "noepsv", F_NOEPSV }, { "resume", F_RESUME },
	{ "ascii", F_ASCII }, { "append", F_APPEND }, { "ftpes", F_TLS },
	{ "size150", F_SIZE150 }, { "file", F_FILE }, { "cancel", F_CANCEL },
	{ "keepalive", F_KEEPALIVE }, { "timeout", F_TIMEOUT },
	{ "restart", F_RESTART }, { "ftps", F_IMPLICIT }, { "early", F_EARLY },
	{ "notls", F_NOTLS }, { "truncate", F_TRUNCATE },
};

static const char *const op_words[C_LAST] = {
	"login", "list", "stat", "get", "put", "quote", "rename", "delete",
};

/* One socket of the server side and what is still to be written on it. */
struct peer {
	int		 fd;
	SSL		*ssl;
	struct buf	 out;
	bool		 tls_next;	/* TLS starts once out is written */
	bool		 armed;		/* data: may send (the transfer command
					   came, or "early") */
	bool		 shut;		/* data: its end sent after the chunk */
};

struct server {
	struct peer	 ctrl;
	bool		 ctrl_seen;	/* the control connection came */
	bool		 engine_connected;
	struct peer	 data[PEERS_MAX];
	char		 line[CMDLINE_MAX];
	size_t		 line_len;
	unsigned	 active_port;	/* to connect to, 0: none */
	bool		 prot_p;	/* data connections speak TLS */
	int		 cancels;	/* data connections for "cancel" */
};

struct script		 sc;
bool			 verbose;
long			 cur_round;

static struct server	 srv;
static int		 ctrl_lsn = -1, data_lsn = -1;
static struct sockaddr_in data_addr;
static SSL_CTX		*tls_ctx;

void
trace(const char *fmt, ...)
{
	va_list	 ap;

	if (!verbose)
		return;
	fprintf(stderr, "server [%ld %.6f]: ", cur_round, now_mono());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the input ------------------------------------------------------------ */

/* "%%\n" or "%%DATA\n" at p (a line start): its length and kind. */
static size_t
separator(const char *p, size_t left, bool *data)
{
	if (left >= 3 && memcmp(p, "%%\n", 3) == 0) {
		*data = false;
		return 3;
	}
	if (left >= 7 && memcmp(p, "%%DATA\n", 7) == 0) {
		*data = true;
		return 7;
	}
	return 0;
}

static void
add_chunk(const char *p, size_t len, bool data)
{
	if (data && sc.ndata < CHUNKS_MAX)
		sc.data[sc.ndata++] = (struct chunk){ p, len };
	else if (!data && sc.nctrl < CHUNKS_MAX)
		sc.ctrl[sc.nctrl++] = (struct chunk){ p, len };
}

static void
parse_header(const char *p, size_t len)
{
	char	 h[HEADER_MAX + 1];
	size_t	 i;

	if (len > HEADER_MAX)
		len = HEADER_MAX;
	memcpy(h, p, len);
	h[len] = '\0';
	sc.op = C_LOGIN;
	for (i = 0; i < C_LAST; i++)
		if (strstr(h, op_words[i]) != NULL)
			sc.op = (enum op_choice)i;
	sc.flags = 0;
	for (i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
		if (strstr(h, flag_words[i].word) != NULL)
			sc.flags |= flag_words[i].flag;
}

void
script_parse(const char *in, size_t len)
{
	const char	*p = in, *end = in + len, *nl, *start;
	size_t		 n;
	bool		 data = false, next_data;

	memset(&sc, 0, sizeof(sc));
	nl = memchr(p, '\n', len);
	parse_header(p, nl != NULL ? (size_t)(nl - p) : len);
	if (nl == NULL)
		return;
	for (start = p = nl + 1; p < end; ) {
		if ((n = separator(p, (size_t)(end - p), &next_data)) > 0) {
			add_chunk(start, (size_t)(p - start), data);
			data = next_data;
			start = p += n;
			continue;
		}
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p = nl + 1;
	}
	add_chunk(start, (size_t)(end - start), data);
}

/* ---- TLS ---------------------------------------------------------------------- */

/* A context with a fresh self-signed P-256 certificate, made once. */
static SSL_CTX *
server_tls_ctx(void)
{
	EVP_PKEY	*key;
	X509		*x;
	X509_NAME	*name;

	if (tls_ctx != NULL)
		return tls_ctx;
	if ((key = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, key, EVP_sha256()) == 0 ||
	    (tls_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate(tls_ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(tls_ctx, key) != 1)
		abort();
	SSL_CTX_set_session_id_context(tls_ctx, (const unsigned char *)"fuzz",
	    4);
	X509_free(x);
	EVP_PKEY_free(key);
	return tls_ctx;
}

/* The engine's OpenSSL calls share this thread's error queue: each call
 * here starts and ends with it empty. */
static void
peer_tls(struct peer *pe)
{
	ERR_clear_error();
	if ((pe->ssl = SSL_new(server_tls_ctx())) == NULL ||
	    SSL_set_fd(pe->ssl, pe->fd) != 1)
		abort();
	SSL_set_accept_state(pe->ssl);
	trace("TLS on fd %d", pe->fd);
}

static uint64_t
tls_traffic(SSL *ssl)
{
	return BIO_number_read(SSL_get_rbio(ssl)) +
	    BIO_number_written(SSL_get_wbio(ssl));
}

/* SSL_read/SSL_write results as recv/send ones: -1 with EAGAIN to wait,
 * -1 with EPIPE for an error, 0 at the end (close_notify or EOF). */
static ssize_t
tls_result(SSL *ssl, int r)
{
	int	 e = SSL_get_error(ssl, r);

	ERR_clear_error();
	if (r > 0)
		return r;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = EPIPE;
	return -1;
}

static ssize_t
peer_send(struct peer *pe, const void *p, size_t n)
{
	if (pe->ssl == NULL)
		return send(pe->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	ERR_clear_error();
	return tls_result(pe->ssl, SSL_write(pe->ssl, p, (int)n));
}

static ssize_t
peer_recv(struct peer *pe, void *p, size_t n)
{
	if (pe->ssl == NULL)
		return recv(pe->fd, p, n, MSG_DONTWAIT);
	ERR_clear_error();
	return tls_result(pe->ssl, SSL_read(pe->ssl, p, (int)n));
}

/* The end of a data stream: close_notify (unless "truncate") once the
 * handshake is done, then FIN. False while the handshake goes on. */
static bool
peer_end(struct peer *pe)
{
	if (pe->ssl != NULL) {
		ERR_clear_error();
		if (!SSL_is_init_finished(pe->ssl) &&
		    SSL_do_handshake(pe->ssl) != 1) {
			ERR_clear_error();
			return false;
		}
		if ((sc.flags & F_TRUNCATE) == 0)
			(void)SSL_shutdown(pe->ssl);
		ERR_clear_error();
	}
	shutdown(pe->fd, SHUT_WR);
	pe->shut = true;
	return true;
}

/* ---- connections ---------------------------------------------------------------- */

/* Each chunk goes out at once, not held back by Nagle's algorithm until
 * the engine's delayed ACK of the one before. */
static void
nodelay(int fd)
{
	int	 one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
peer_close(struct peer *pe)
{
	if (pe->ssl != NULL)
		SSL_free(pe->ssl);
	pe->ssl = NULL;
	if (pe->fd != -1)
		close(pe->fd);
	pe->fd = -1;
	buf_free(&pe->out);
	pe->tls_next = pe->armed = pe->shut = false;
}

/* The next control chunk (NULL when none is left: the server closes). */
static const struct chunk *
ctrl_reply(void)
{
	const struct chunk	*ch;

	if (srv.ctrl.fd == -1)
		return NULL;
	if (sc.next_ctrl == sc.nctrl) {
		trace("no control chunk left: closing");
		peer_close(&srv.ctrl);
		return NULL;
	}
	ch = &sc.ctrl[sc.next_ctrl++];
	trace("control chunk %zu (%zu bytes)", sc.next_ctrl - 1, ch->len);
	/* buf_append(..., 0) on an empty buf is NULL + 0 (reported) */
	if (ch->len > 0)
		buf_append(&srv.ctrl.out, ch->p, ch->len);
	return ch;
}

static void
data_add(int fd)
{
	struct peer		*pe = NULL;
	const struct chunk	*ch;
	size_t			 i;

	for (i = 0; i < PEERS_MAX && pe == NULL; i++)
		if (srv.data[i].fd == -1)
			pe = &srv.data[i];
	if (pe == NULL) {
		close(fd);
		return;
	}
	pe->fd = fd;
	pe->armed = (sc.flags & F_EARLY) != 0;
	nodelay(fd);
	trace("data connection, chunk %zu", sc.next_data);
	if (sc.next_data < sc.ndata) {
		ch = &sc.data[sc.next_data++];
		if (ch->len > 0)
			buf_append(&pe->out, ch->p, ch->len);
	}
	if (srv.prot_p)
		peer_tls(pe);
	if (sc.flags & F_CANCEL)
		srv.cancels++;
}

/* Active mode: the port of the engine's PORT or EPRT, 0 when not one. */
static unsigned
active_port(const char *cmd)
{
	unsigned	 p1, p2, port = 0;
	const char	*s;

	if (strncmp(cmd, "PORT ", 5) == 0 &&
	    sscanf(cmd + 5, "%*u,%*u,%*u,%*u,%u,%u", &p1, &p2) == 2)
		port = p1 * 256 + p2;
	else if (strncmp(cmd, "EPRT |1|", 8) == 0 &&
	    (s = strchr(cmd + 8, '|')) != NULL)
		port = (unsigned)strtoul(s + 1, NULL, 10);
	return port <= 65535 ? port : 0;
}

/* The server opens the data connection, as after a transfer command. */
static void
active_connect(void)
{
	struct sockaddr_in	 sin;
	int			 fd;

	if (srv.active_port == 0)
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)srv.active_port);
	srv.active_port = 0;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (__real_connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    set_nonblock(fd) == -1) {
		trace("active connect: %s", strerror(errno));
		close(fd);
		return;
	}
	data_add(fd);
}

/* A real server writes on a data connection once the transfer command
 * came (with "early", as soon as the connection is there). */
static bool
transfer_command(const char *cmd)
{
	static const char *const verbs[] = { "RETR ", "LIST", "MLSD", "NLST",
	    "STOR ", "APPE ", NULL };

	for (const char *const *v = verbs; *v != NULL; v++)
		if (strncmp(cmd, *v, strlen(*v)) == 0)
			return true;
	return false;
}

static bool
data_arm(void)
{
	bool	 armed = false;
	size_t	 i;

	for (i = 0; i < PEERS_MAX; i++)
		if (srv.data[i].fd != -1 && !srv.data[i].armed) {
			srv.data[i].armed = armed = true;
			trace("data connection %zu armed", i);
		}
	return armed;
}

/* One command line: data connections, TLS, then the next chunk. */
static void
ctrl_command(const char *cmd)
{
	const struct chunk	*ch;
	unsigned		 port;
	bool			 tls = (sc.flags & F_NOTLS) == 0;

	trace("got command %.40s", cmd);
	/* connect when the command after PORT comes, then answer */
	if ((port = active_port(cmd)) != 0)
		srv.active_port = port;
	else
		active_connect();
	if (transfer_command(cmd))
		data_arm();
	if (tls && srv.ctrl.ssl != NULL && strcasecmp(cmd, "PROT P") == 0)
		srv.prot_p = true;
	ch = ctrl_reply();
	if (tls && ch != NULL && srv.ctrl.ssl == NULL &&
	    strcasecmp(cmd, "AUTH TLS") == 0 && ch->len >= 3 &&
	    memcmp(ch->p, "234", 3) == 0)
		srv.ctrl.tls_next = true;
}

/* Command bytes from the engine: one control chunk per line. */
static void
ctrl_input(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (srv.line_len < CMDLINE_MAX - 1)
				srv.line[srv.line_len++] = p[i];
			continue;
		}
		if (srv.line_len > 0 && srv.line[srv.line_len - 1] == '\r')
			srv.line_len--;
		srv.line[srv.line_len] = '\0';
		srv.line_len = 0;
		ctrl_command(srv.line);
	}
}

/* Writes what is queued; a data peer's stream ends after its chunk. */
static bool
peer_flush(struct peer *pe, bool data)
{
	uint64_t	 before = pe->ssl != NULL ? tls_traffic(pe->ssl) : 0;
	ssize_t		 n;
	bool		 moved = false;

	if (data && !pe->armed)
		return false;
	while (pe->fd != -1 && buf_used(&pe->out) > 0) {
		n = peer_send(pe, pe->out.data + pe->out.off, buf_used(&pe->out));
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			peer_close(pe);
			return true;
		}
		buf_drop(&pe->out, (size_t)n);
		moved = true;
	}
	if (pe->fd != -1 && buf_used(&pe->out) == 0) {
		if (pe->tls_next) {
			pe->tls_next = false;
			peer_tls(pe);
			moved = true;
		} else if (data && !pe->shut)
			moved |= peer_end(pe);
	}
	if (pe->ssl != NULL && tls_traffic(pe->ssl) != before)
		moved = true;
	return moved;
}

static bool
peer_read(struct peer *pe, bool ctrl)
{
	char		 tmp[16384];
	uint64_t	 before = pe->ssl != NULL ? tls_traffic(pe->ssl) : 0;
	ssize_t		 n;
	bool		 moved = false;

	while (pe->fd != -1) {
		n = peer_recv(pe, tmp, sizeof(tmp));
		if (n == -1 && errno == EAGAIN)
			break;
		moved = true;
		if (n <= 0) {
			trace("%s connection: %s", ctrl ? "control" : "data",
			    n == 0 ? "end" : strerror(errno));
			/* answer a close_notify with ours */
			if (n == 0 && pe->ssl != NULL) {
				(void)SSL_shutdown(pe->ssl);
				ERR_clear_error();
			}
			peer_close(pe);
			break;
		}
		if (ctrl)
			ctrl_input(tmp, (size_t)n);
	}
	if (pe->fd != -1 && pe->ssl != NULL && tls_traffic(pe->ssl) != before)
		moved = true;
	return moved;
}

static bool
server_accept(void)
{
	int	 fd;
	bool	 moved = false;

	while ((fd = accept4(ctrl_lsn, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		moved = true;
		if (srv.ctrl_seen) {
			close(fd);
			continue;
		}
		srv.ctrl_seen = true;
		srv.ctrl.fd = fd;
		nodelay(fd);
		if ((sc.flags & (F_IMPLICIT | F_NOTLS)) == F_IMPLICIT)
			peer_tls(&srv.ctrl);
		(void)ctrl_reply();	/* the greeting */
	}
	while ((fd = accept4(data_lsn, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		moved = true;
		data_add(fd);
	}
	return moved;
}

bool
server_poll(void)
{
	bool	 moved;
	size_t	 i;

	moved = server_accept();
	moved |= peer_flush(&srv.ctrl, false);
	moved |= peer_read(&srv.ctrl, true);
	for (i = 0; i < PEERS_MAX; i++) {
		moved |= peer_flush(&srv.data[i], true);
		moved |= peer_read(&srv.data[i], false);
	}
	return moved;
}

bool
server_advance(void)
{
	bool	 closed = false;
	size_t	 i;

	if (srv.active_port != 0) {
		active_connect();
		return true;
	}
	if (srv.ctrl.fd != -1 && sc.next_ctrl < sc.nctrl) {
		(void)ctrl_reply();
		return true;
	}
	if (data_arm())
		return true;
	for (i = 0; i < PEERS_MAX; i++)
		if (srv.data[i].fd != -1) {
			trace("idle: closing data connection %zu", i);
			peer_close(&srv.data[i]);
			closed = true;
		}
	if (closed)
		return true;
	if (srv.ctrl.fd != -1) {
		trace("idle: closing the control connection");
		peer_close(&srv.ctrl);
		return true;
	}
	return false;
}

bool
server_take_cancel(void)
{
	if (srv.cancels == 0)
		return false;
	srv.cancels--;
	return true;
}

bool
server_ctrl_open(void)
{
	return srv.ctrl.fd != -1;
}

size_t
server_data_open(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < PEERS_MAX; i++)
		n += srv.data[i].fd != -1;
	return n;
}

void
server_reset(void)
{
	size_t	 i;
	int	 fd;

	peer_close(&srv.ctrl);
	for (i = 0; i < PEERS_MAX; i++)
		peer_close(&srv.data[i]);
	memset(&srv, 0, sizeof(srv));
	srv.ctrl.fd = -1;
	for (i = 0; i < PEERS_MAX; i++)
		srv.data[i].fd = -1;
	/* connections that came after the last session ended */
	while ((fd = accept4(ctrl_lsn, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(fd);
	while ((fd = accept4(data_lsn, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(fd);
}

/*
 * The engine's connections: the first is the control connection and goes
 * where it was asked (the control listener); the others are data
 * connections, sent to the data listener whatever the input said.
 */
int
__wrap_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!srv.engine_connected) {
		srv.engine_connected = true;
		return __real_connect(fd, sa, len);
	}
	return __real_connect(fd, (const struct sockaddr *)&data_addr,
	    sizeof(data_addr));
}

static int
listener(uint16_t *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("fuzz_session: listener");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

uint16_t
server_init(void)
{
	uint16_t	 ctrl_port, data_port;

	ctrl_lsn = listener(&ctrl_port);
	data_lsn = listener(&data_port);
	memset(&data_addr, 0, sizeof(data_addr));
	data_addr.sin_family = AF_INET;
	data_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	data_addr.sin_port = htons(data_port);
	memset(&srv, 0, sizeof(srv));
	srv.ctrl.fd = -1;
	for (size_t i = 0; i < PEERS_MAX; i++)
		srv.data[i].fd = -1;
	return ctrl_port;
}
