/*
 * Transport core of libftpagent; see conn.h.
 */
#include <config.h>

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#define CONN_READ_CHUNK	65536

struct conn_note {
	struct jsonrpc_msg msg;		/* holds a reference to its root */
	char		*key;		/* NULL: never replaced */
	struct conn_note *next;
};

void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ndjson_init(&c->in, CONN_MAX_MSG);
}

int64_t
conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, for poll(); 0 when passed. */
static int
remaining(int64_t deadline)
{
	int64_t left = deadline - conn_now_ms();

	if (left <= 0)
		return 0;
	if (left > 0x7fffffff)
		return 0x7fffffff;
	return (int)left;
}

/* Waits for events on fd until deadline: 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, remaining(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int
make_socket(const char *path, struct sockaddr_un *sun)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(sun->sun_path)) {
		errno = len == 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len + 1);
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* Returns a connected non-blocking socket or -1 with errno set. A Unix
 * socket's connect() never returns EINPROGRESS; EAGAIN means the
 * listener's backlog is full, so retry until the deadline. */
static int
connect_path(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	int64_t deadline = conn_now_ms() + timeout_ms;
	int fd, saved;

	fd = make_socket(path, &sun);
	if (fd == -1)
		return -1;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			int soerr = 0;
			socklen_t sl = sizeof(soerr);

			if (wait_fd(fd, POLLOUT, deadline) <= 0) {
				errno = ETIMEDOUT;
				break;
			}
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &sl) == -1)
				break;
			if (soerr == 0)
				return fd;
			errno = soerr;
			break;
		}
		if (errno != EAGAIN)
			break;
		if (remaining(deadline) == 0) {
			errno = ETIMEDOUT;
			break;
		}
		(void)poll(NULL, 0, 10);
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

enum conn_status
conn_connect(struct conn *c, const char *path, int timeout_ms)
{
	conn_close(c);
	c->fd = connect_path(path, timeout_ms);
	if (c->fd == -1) {
		c->err = errno;
		return CONN_IO;
	}
	return CONN_OK;
}

enum conn_status
conn_adopt(struct conn *c, int fd)
{
	int fl, type;
	socklen_t sl = sizeof(type);

	conn_close(c);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &sl) == -1 ||
	    type != SOCK_STREAM || (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		c->err = errno == 0 || type != SOCK_STREAM ? ENOTSOCK : errno;
		close(fd);
		return CONN_IO;
	}
	c->fd = fd;
	return CONN_OK;
}

bool
conn_probe(const char *path, int timeout_ms)
{
	int fd = connect_path(path, timeout_ms);

	if (fd == -1)
		return false;
	close(fd);
	return true;
}

/* Closes the duplicates of the marks not sent and forgets the queue. */
static void
out_drop(struct conn *c)
{
	size_t i, k;

	for (i = c->mhead; i < c->mtail; i++)
		for (k = 0; k < c->marks[i].nfds; k++)
			close(c->marks[i].fds[k]);
	c->mhead = c->mtail = 0;
	c->osent += c->otail - c->ohead;
	c->ohead = c->otail = 0;
}

/* The socket goes; what was read stays, to be dispatched. */
static void
shut(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	out_drop(c);
}

void
conn_close(struct conn *c)
{
	shut(c);
	/* Whatever was buffered belonged to the old stream. */
	ndjson_free(&c->in);
	ndjson_init(&c->in, CONN_MAX_MSG);
}

void
conn_free(struct conn *c)
{
	conn_close(c);
	conn_notes_clear(c);
	ndjson_free(&c->in);
	free(c->obuf);
	free(c->marks);
	c->obuf = NULL;
	c->marks = NULL;
	c->ocap = c->mcap = 0;
}

bool
conn_is_open(const struct conn *c)
{
	return c->fd != -1;
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

/* ---- out ---------------------------------------------------------------- */

/* Room for len more bytes at otail. */
static bool
out_reserve(struct conn *c, size_t len)
{
	size_t cap;
	char *nb;

	if (c->ohead > 0 && (c->ohead == c->otail || c->ohead >= c->ocap / 2)) {
		memmove(c->obuf, c->obuf + c->ohead, c->otail - c->ohead);
		c->otail -= c->ohead;
		c->ohead = 0;
	}
	if (c->ocap - c->otail >= len)
		return true;
	cap = c->ocap > 0 ? c->ocap : 4096;
	while (cap - c->otail < len) {
		if (cap > SIZE_MAX / 2)
			return false;
		cap *= 2;
	}
	if ((nb = realloc(c->obuf, cap)) == NULL)
		return false;
	c->obuf = nb;
	c->ocap = cap;
	return true;
}

static bool
mark_add(struct conn *c, const int *fds, size_t nfds, size_t len)
{
	struct conn_mark *m;
	size_t k;

	if (c->mhead > 0 && c->mhead == c->mtail)
		c->mhead = c->mtail = 0;
	if (c->mtail == c->mcap) {
		size_t cap = c->mcap > 0 ? c->mcap * 2 : 8;

		if (c->mhead > 0) {
			memmove(c->marks, c->marks + c->mhead,
			    (c->mtail - c->mhead) * sizeof(*m));
			c->mtail -= c->mhead;
			c->mhead = 0;
		} else if ((m = realloc(c->marks, cap * sizeof(*m))) == NULL)
			return false;
		else {
			c->marks = m;
			c->mcap = cap;
		}
	}
	m = &c->marks[c->mtail];
	m->start = c->osent + (c->otail - c->ohead);
	m->end = m->start + len;
	m->nfds = 0;
	for (k = 0; k < nfds; k++) {
		if ((m->fds[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 3)) == -1) {
			c->err = errno;
			while (k-- > 0)
				close(m->fds[k]);
			return false;
		}
	}
	m->nfds = nfds;
	c->mtail++;
	return true;
}

enum conn_status
conn_queue(struct conn *c, const char *buf, size_t len, const int *fds,
    size_t nfds)
{
	if (c->fd == -1)
		return CONN_CLOSED;
	if (nfds > CONN_MAX_FDS) {
		c->err = EINVAL;
		return CONN_IO;
	}
	if (!out_reserve(c, len))
		return CONN_NOMEM;
	c->err = 0;
	if (nfds > 0 && !mark_add(c, fds, nfds, len))
		return c->err != 0 ? CONN_IO : CONN_NOMEM;
	memcpy(c->obuf + c->otail, buf, len);
	c->otail += len;
	return CONN_OK;
}

size_t
conn_queued(const struct conn *c)
{
	return c->otail - c->ohead;
}

/* One sendmsg: from the head up to the next message with descriptors,
 * or that message alone with them. >= 0 bytes sent, -1 errno set. */
static ssize_t
send_some(struct conn *c, bool *with_fds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
	} cmsg;
	struct conn_mark *m = c->mhead < c->mtail ? &c->marks[c->mhead] : NULL;
	size_t len = c->otail - c->ohead;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	*with_fds = m != NULL && m->start == c->osent;
	if (*with_fds) {
		len = (size_t)(m->end - m->start);
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * m->nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * m->nfds);
		memcpy(CMSG_DATA(cm), m->fds, sizeof(int) * m->nfds);
	} else if (m != NULL)
		len = (size_t)(m->start - c->osent);
	iov.iov_base = c->obuf + c->ohead;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	return sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

enum conn_status
conn_flush(struct conn *c)
{
	struct conn_mark *m;
	bool with_fds;
	ssize_t n;
	size_t k;

	while (c->fd != -1 && c->ohead < c->otail) {
		n = send_some(c, &with_fds);
		if (n > 0) {
			if (with_fds) {
				/* the descriptors went with the first byte */
				m = &c->marks[c->mhead++];
				for (k = 0; k < m->nfds; k++)
					close(m->fds[k]);
				m->nfds = 0;
			}
			c->ohead += (size_t)n;
			c->osent += (uint64_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CONN_OK;
		c->err = n == 0 ? EPIPE : errno;
		conn_close(c);
		return c->err == EPIPE || c->err == ECONNRESET ? CONN_CLOSED :
		    CONN_IO;
	}
	if (c->ohead == c->otail)
		c->ohead = c->otail = 0;
	return c->fd == -1 ? CONN_CLOSED : CONN_OK;
}

/* ---- in ------------------------------------------------------------------ */

/* Chunks read per call before the caller gets to run its callbacks. */
#define CONN_FILL_CHUNKS	16

enum conn_status
conn_fill(struct conn *c)
{
	char buf[CONN_READ_CHUNK];
	ssize_t n;
	int i;

	for (i = 0; i < CONN_FILL_CHUNKS; i++) {
		if (c->fd == -1)
			return CONN_CLOSED;
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			/* On overflow (or OOM) the framer keeps the complete
			 * messages before the bad one and then answers
			 * NDJSON_TOOBIG, which conn_next turns into an error. */
			(void)ndjson_feed(&c->in, buf, (size_t)n);
			if ((size_t)n < sizeof(buf))
				return CONN_OK;
			continue;
		}
		if (n == 0) {
			shut(c);
			return CONN_CLOSED;
		}
		if (errno == EINTR) {
			i--;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return CONN_OK;
		c->err = errno;
		shut(c);
		return c->err == ECONNRESET ? CONN_CLOSED : CONN_IO;
	}
	return CONN_OK;
}

enum conn_status
conn_next(struct conn *c, struct jsonrpc_msg *out, bool *have)
{
	const char *errmsg;
	json_t *bad_id;
	char *line;
	size_t len;

	*have = false;
	for (;;) {
		switch (ndjson_next(&c->in, &line, &len)) {
		case NDJSON_AGAIN:
			return CONN_OK;
		case NDJSON_TOOBIG:
		case NDJSON_SKIPPED:	/* not in resync mode: never */
			conn_close(c);
			return CONN_TOOBIG;
		case NDJSON_LINE:
			break;
		}
		if (len == 0 || (len == 1 && line[0] == '\r'))
			continue;
		bad_id = NULL;
		if (jsonrpc_parse(line, len, out, &errmsg, &bad_id) != 0) {
			json_decref(bad_id);
			conn_close(c);
			return CONN_BADMSG;
		}
		*have = true;
		return CONN_OK;
	}
}


/* ---- kept notifications ---------------------------------------------- */

static void
note_free(struct conn_note *n)
{
	jsonrpc_msg_clear(&n->msg);
	free(n->key);
	free(n);
}

/* Unlinks n, whose predecessor is prev (NULL: n is the first). */
static void
note_unlink(struct conn *c, struct conn_note *prev, struct conn_note *n)
{
	if (prev == NULL)
		c->notes = n->next;
	else
		prev->next = n->next;
	if (c->notes_tail == n)
		c->notes_tail = prev;
	c->nnotes--;
}

/* Room for one more: the oldest keyed note goes, else the oldest. */
static void
note_make_room(struct conn *c)
{
	struct conn_note *n, *prev = NULL;

	for (n = c->notes; n != NULL; prev = n, n = n->next)
		if (n->key != NULL)
			break;
	if (n == NULL) {
		prev = NULL;
		n = c->notes;
	}
	note_unlink(c, prev, n);
	note_free(n);
}

enum conn_status
conn_note_keep(struct conn *c, const struct jsonrpc_msg *m, const char *key)
{
	struct conn_note *n;

	if (key != NULL) {
		for (n = c->notes; n != NULL; n = n->next) {
			if (n->key == NULL || strcmp(n->key, key) != 0 ||
			    strcmp(n->msg.method, m->method) != 0)
				continue;
			jsonrpc_msg_clear(&n->msg);
			n->msg = *m;
			json_incref(n->msg.root);
			return CONN_OK;
		}
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return CONN_NOMEM;
	if (key != NULL && (n->key = strdup(key)) == NULL) {
		free(n);
		return CONN_NOMEM;
	}
	if (c->nnotes >= CONN_NOTES_MAX)
		note_make_room(c);
	n->msg = *m;
	json_incref(n->msg.root);
	if (c->notes_tail != NULL)
		c->notes_tail->next = n;
	else
		c->notes = n;
	c->notes_tail = n;
	c->nnotes++;
	return CONN_OK;
}

void
conn_notes_clear(struct conn *c)
{
	struct conn_note *n;

	while ((n = c->notes) != NULL) {
		note_unlink(c, NULL, n);
		note_free(n);
	}
}


bool
conn_note_pop(struct conn *c, struct jsonrpc_msg *out)
{
	struct conn_note *n;

	if ((n = c->notes) == NULL)
		return false;
	note_unlink(c, NULL, n);
	*out = n->msg;
	free(n->key);
	free(n);
	return true;
}
