/*
 * The gathering write BIO of tls_wbio.h. Records go into a buffer; a
 * record that does not fit sends the buffer first. A full buffer on a
 * full socket is a retry (SSL_write says WANT_WRITE, as with the socket
 * BIO). BIO_flush sends everything or says retry.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tls_wbio.h"

struct wbio {
	int		 fd;
	char		*buf;
	size_t		 off;		/* sent up to here */
	size_t		 len;		/* held up to here */
};

static BIO_METHOD	*wbio_method;
static int		 wbio_type;

/* Sends what it can: 1 all, 0 the socket is full, -1 an error. */
static int
wbio_send(struct wbio *w)
{
	ssize_t	n;

	while (w->off < w->len) {
		n = send(w->fd, w->buf + w->off, w->len - w->off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			w->off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	w->off = w->len = 0;
	return 1;
}

static int
wbio_write_ex(BIO *b, const char *data, size_t dlen, size_t *written)
{
	struct wbio	*w = BIO_get_data(b);
	size_t		 room;

	BIO_clear_retry_flags(b);
	if (w->len + dlen > TLS_WBIO_SIZE && w->len > w->off) {
		if (wbio_send(w) == -1)
			return 0;
		if (w->off > 0) {
			memmove(w->buf, w->buf + w->off, w->len - w->off);
			w->len -= w->off;
			w->off = 0;
		}
	} else if (w->len == w->off)
		w->len = w->off = 0;
	room = TLS_WBIO_SIZE - w->len;
	if (room == 0) {
		BIO_set_retry_write(b);
		return 0;
	}
	if (dlen > room)
		dlen = room;	/* the record layer sends the rest later */
	memcpy(w->buf + w->len, data, dlen);
	w->len += dlen;
	*written = dlen;
	return 1;
}

static long
wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct wbio	*w = BIO_get_data(b);
	int		 r;

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		if ((r = wbio_send(w)) == 0)
			BIO_set_retry_write(b);
		return r == 1 ? 1 : 0;
	case BIO_CTRL_WPENDING:
		return (long)(w->len - w->off);
	case BIO_CTRL_PENDING:
		return 0;
	case BIO_CTRL_GET_CLOSE:
		return BIO_NOCLOSE;
	case BIO_CTRL_SET_CLOSE:
		return 1;
	default:
		return 0;
	}
}

static int
wbio_create(BIO *b)
{
	BIO_set_init(b, 0);
	BIO_set_data(b, NULL);
	return 1;
}

static int
wbio_destroy(BIO *b)
{
	struct wbio	*w = BIO_get_data(b);

	if (w != NULL) {
		free(w->buf);
		free(w);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *
wbio_meth(void)
{
	if (wbio_method != NULL)
		return wbio_method;
	wbio_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	wbio_method = BIO_meth_new(wbio_type, "ftpd-agent gathering writer");
	if (wbio_method == NULL ||
	    BIO_meth_set_write_ex(wbio_method, wbio_write_ex) != 1 ||
	    BIO_meth_set_ctrl(wbio_method, wbio_ctrl) != 1 ||
	    BIO_meth_set_create(wbio_method, wbio_create) != 1 ||
	    BIO_meth_set_destroy(wbio_method, wbio_destroy) != 1) {
		BIO_meth_free(wbio_method);
		wbio_method = NULL;
	}
	return wbio_method;
}

BIO *
tls_wbio_new(int fd)
{
	BIO_METHOD	*m = wbio_meth();
	struct wbio	*w;
	BIO		*b;

	if (m == NULL || (b = BIO_new(m)) == NULL)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->buf = malloc(TLS_WBIO_SIZE)) == NULL) {
		free(w);
		BIO_free(b);
		return NULL;
	}
	w->fd = fd;
	BIO_set_data(b, w);
	BIO_set_init(b, 1);
	return b;
}

int
tls_wbio_is(BIO *b)
{
	return b != NULL && wbio_method != NULL &&
	    BIO_method_type(b) == wbio_type;
}

int
tls_wbio_flush(BIO *b)
{
	struct wbio	*w = BIO_get_data(b);

	return w == NULL ? 1 : wbio_send(w);
}

size_t
tls_wbio_pending(BIO *b)
{
	struct wbio	*w = BIO_get_data(b);

	return w == NULL ? 0 : w->len - w->off;
}
