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
	c->fd = -1;
	ndjson_init(&c->in, CONN_MAX_MSG);
	c->next_id = 1;
	c->err = 0;
	c->notes = c->notes_tail = NULL;
	c->nnotes = 0;
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

bool
conn_probe(const char *path, int timeout_ms)
{
	int fd = connect_path(path, timeout_ms);

	if (fd == -1)
		return false;
	close(fd);
	return true;
}

void
conn_close(struct conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	/* Whatever was buffered belonged to the old stream. */
	ndjson_free(&c->in);
	ndjson_init(&c->in, CONN_MAX_MSG);
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

enum conn_status
conn_send(struct conn *c, const char *buf, size_t len, const int *fds,
    size_t nfds, int64_t deadline)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
	} cmsg;
	size_t off = 0;
	ssize_t n;
	int r;

	if (c->fd == -1)
		return CONN_CLOSED;
	if (nfds > CONN_MAX_FDS) {
		c->err = EINVAL;
		return CONN_IO;
	}
	while (off < len) {
		struct msghdr msg;
		struct iovec iov;

		memset(&msg, 0, sizeof(msg));
		iov.iov_base = (char *)buf + off;
		iov.iov_len = len - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (off == 0 && nfds > 0) {
			struct cmsghdr *cm;

			memset(&cmsg, 0, sizeof(cmsg));
			msg.msg_control = cmsg.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			r = wait_fd(c->fd, POLLOUT, deadline);
			if (r > 0)
				continue;
			if (r == 0) {
				if (off > 0)
					conn_close(c);
				return CONN_TIMEOUT;
			}
		}
		c->err = n == 0 ? EPIPE : errno;
		conn_close(c);
		return c->err == EPIPE || c->err == ECONNRESET ?
		    CONN_CLOSED : CONN_IO;
	}
	return CONN_OK;
}

enum conn_status
conn_request(struct conn *c, const char *method, json_t *params,
    const int *fds, size_t nfds, int64_t deadline, json_int_t *id)
{
	enum conn_status st;
	json_t *req;
	char *buf;
	size_t len;

	if (c->fd == -1) {
		json_decref(params);
		return CONN_CLOSED;
	}
	*id = c->next_id++;
	req = jsonrpc_request(method, params, *id);
	if (req == NULL)
		return CONN_NOMEM;
	buf = jsonrpc_dump(req, &len);
	json_decref(req);
	if (buf == NULL)
		return CONN_NOMEM;
	st = conn_send(c, buf, len, fds, nfds, deadline);
	free(buf);
	return st;
}

enum conn_status
conn_read(struct conn *c, int64_t deadline)
{
	char buf[CONN_READ_CHUNK];
	ssize_t n;
	int r;

	for (;;) {
		if (c->fd == -1)
			return CONN_CLOSED;
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			/* On overflow (or OOM) the framer keeps the complete
			 * messages before the bad one and then answers
			 * NDJSON_TOOBIG, which conn_next turns into an error. */
			(void)ndjson_feed(&c->in, buf, (size_t)n);
			return CONN_OK;
		}
		if (n == 0) {
			conn_close(c);
			return CONN_CLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->err = errno;
			conn_close(c);
			return c->err == ECONNRESET ? CONN_CLOSED : CONN_IO;
		}
		r = wait_fd(c->fd, POLLIN, deadline);
		if (r == 0)
			return CONN_TIMEOUT;
		if (r < 0) {
			c->err = errno;
			conn_close(c);
			return CONN_IO;
		}
	}
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
		if (out->type == JSONRPC_REQUEST) {
			/* The agent never calls us; nothing sane to do. */
			jsonrpc_msg_clear(out);
			continue;
		}
		*have = true;
		return CONN_OK;
	}
}

static bool
is_reply_to(const struct jsonrpc_msg *m, json_int_t id)
{
	if (m->type != JSONRPC_RESPONSE && m->type != JSONRPC_ERROR)
		return false;
	if (m->id == NULL || json_is_null(m->id))
		return m->type == JSONRPC_ERROR;
	return json_is_integer(m->id) && json_integer_value(m->id) == id;
}

enum conn_status
conn_wait(struct conn *c, json_int_t id, int timeout_ms, conn_notify_cb cb,
    void *arg, struct jsonrpc_msg *out)
{
	int64_t deadline = conn_now_ms() + timeout_ms;
	enum conn_status st;
	bool have;

	for (;;) {
		st = conn_next(c, out, &have);
		if (st != CONN_OK)
			return st;
		if (!have) {
			st = conn_read(c, deadline);
			if (st != CONN_OK)
				return st;
			continue;
		}
		if (is_reply_to(out, id))
			return CONN_OK;
		if (out->type == JSONRPC_NOTIFICATION && cb != NULL) {
			int r = cb(arg, out);

			if (r == CONN_NOTIFY_ACTIVE)
				deadline = conn_now_ms() + timeout_ms;
			else if (r == CONN_NOTIFY_ABORT) {
				jsonrpc_msg_clear(out);
				return CONN_ABORTED;
			}
		}
		jsonrpc_msg_clear(out);
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

enum conn_status
conn_next_note(struct conn *c, int64_t deadline, struct jsonrpc_msg *out)
{
	struct conn_note *n;
	enum conn_status st;
	bool have;

	if ((n = c->notes) != NULL) {
		note_unlink(c, NULL, n);
		*out = n->msg;
		free(n->key);
		free(n);
		return CONN_OK;
	}
	for (;;) {
		st = conn_next(c, out, &have);
		if (st != CONN_OK)
			return st;
		if (have) {
			if (out->type == JSONRPC_NOTIFICATION)
				return CONN_OK;
			jsonrpc_msg_clear(out);
			continue;
		}
		if ((st = conn_read(c, deadline)) != CONN_OK)
			return st;
	}
}
