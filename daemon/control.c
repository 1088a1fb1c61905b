#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "jsonrpc.h"
#include "log.h"
#include "rpc.h"

#define READ_CHUNK	65536

static int		 listen_fd = -1;
static bool		 listen_owned;
static char		*listen_path;
static ev_io		 accept_w;
static ev_timer		 accept_pause;
static struct client	*clients;
static size_t		 nclients;
static uint64_t		 client_serial;
static struct control_opts opts;
/*
 * Replies are written once per loop iteration, just before the loop
 * sleeps: no extra trip through epoll for a reply, and every reply a
 * pipelining client's read produced leaves in one send(2). Only what the
 * socket does not take waits for EV_WRITE.
 */
static ev_prepare	 flush_w;
static struct client	*flushq;

static void client_read_cb(struct ev_loop *, ev_io *, int);
static void client_write_cb(struct ev_loop *, ev_io *, int);
static void client_close(struct client *);
static void client_dispatch(struct client *);
static void flush_cb(struct ev_loop *, ev_prepare *, int);

void
control_set_limits(unsigned max_conns, unsigned max_conns_per_uid)
{
	opts.max_conns = max_conns;
	opts.max_conns_per_uid = max_conns_per_uid;
}

size_t
control_count(void)
{
	return nclients;
}

/* Is an agent answering on path? */
static bool
socket_answers(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return false;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return r == 0;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	unsigned	 peruid = 0;
	int		 fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* out of fds: stop accepting for a moment */
			log_warn("accept");
			ev_io_stop(loop, &accept_w);
			ev_timer_start(loop, &accept_pause);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(fd);
		return;
	}
	for (c = clients; c; c = c->next)
		if (c->uid == cred.uid)
			peruid++;
	if (nclients >= opts.max_conns ||
	    (cred.uid != 0 && peruid >= opts.max_conns_per_uid)) {
		/* answer once, so the client sees why, then hang up */
		char	*msg;
		json_t	*e = jsonrpc_error(NULL, -32011, "too many connections",
		    json_pack("{s:s}", "kind", "limit"));

		msg = jsonrpc_dump(e, NULL);
		json_decref(e);
		if (msg && send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("limit reply: %s", strerror(errno));
		free(msg);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->serial = ++client_serial;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->refs = 1;
	ndjson_init(&c->in, opts.max_msg);
	ev_io_init(&c->rw, client_read_cb, fd, EV_READ);
	ev_io_init(&c->ww, client_write_cb, fd, EV_WRITE);
	c->rw.data = c->ww.data = c;
	/* clients before transfers in each loop iteration: the socket stays
	 * responsive however many transfers run */
	ev_set_priority(&c->rw, EV_MAXPRI);
	ev_set_priority(&c->ww, EV_MAXPRI);
	ev_io_start(loop, &c->rw);
	c->next = clients;
	clients = c;
	nclients++;
	log_debug("%s: client %llu uid %u pid %d", __func__,
	    (unsigned long long)c->serial, (unsigned)c->uid, (int)c->pid);
}

static void
accept_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_timer_stop(loop, w);
	if (listen_fd != -1)
		ev_io_start(loop, &accept_w);
}

int
control_listen(const struct control_opts *o)
{
	struct sockaddr_un	sun;
	mode_t			old;

	opts = *o;
	if (o->listen_fd >= 0) {
		listen_fd = o->listen_fd;
		listen_owned = false;
		set_nonblock(listen_fd);
		set_cloexec(listen_fd);
	} else {
		if (strlen(o->path) >= sizeof(sun.sun_path)) {
			log_warnx("socket path too long: %s", o->path);
			return -1;
		}
		if (socket_answers(o->path)) {
			log_warnx("another agent already answers on %s", o->path);
			return -1;
		}
		/* nothing answers: a leftover file from a dead agent */
		if (unlink(o->path) == 0)
			log_info("removed stale socket %s", o->path);
		listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (listen_fd == -1) {
			log_warn("socket");
			return -1;
		}
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o->path);
		/* no window in which the socket has looser permissions */
		old = umask(0777 & ~o->mode);
		if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			umask(old);
			log_warn("bind %s", o->path);
			close(listen_fd);
			listen_fd = -1;
			return -1;
		}
		umask(old);
		if (chmod(o->path, o->mode) == -1)
			log_warn("chmod %s", o->path);
		if (listen(listen_fd, SOMAXCONN) == -1) {
			log_warn("listen");
			return -1;
		}
		listen_owned = true;
		listen_path = xstrdup(o->path);
	}
	ev_io_init(&accept_w, accept_cb, listen_fd, EV_READ);
	ev_set_priority(&accept_w, EV_MAXPRI);
	ev_io_start(main_loop, &accept_w);
	ev_timer_init(&accept_pause, accept_resume_cb, 1.0, 0.);
	if (!ev_is_active(&flush_w)) {
		ev_prepare_init(&flush_w, flush_cb);
		ev_prepare_start(main_loop, &flush_w);
		ev_unref(main_loop);	/* it keeps no loop running */
	}
	return 0;
}

void
control_shutdown(void)
{
	ev_io_stop(main_loop, &accept_w);
	ev_timer_stop(main_loop, &accept_pause);
	if (listen_fd != -1)
		close(listen_fd);
	listen_fd = -1;
	if (listen_owned && listen_path)
		unlink(listen_path);
	free(listen_path);
	listen_path = NULL;
}

void
control_close_all(void)
{
	struct client	*c, *next;

	for (c = clients; c; c = next) {
		next = c->next;
		client_close(c);
	}
}

void
client_ref(struct client *c)
{
	c->refs++;
}

static void
client_release(void *p)
{
	struct client	*c = p;

	ndjson_free(&c->in);
	buf_free(&c->out);
	for (size_t i = 0; i < c->n_ev_jobs; i++)
		free(c->ev_jobs[i]);
	free(c->ev_jobs);
	for (size_t i = 0; i < c->n_owed; i++)
		free(c->owed[i]);
	free(c->owed);
	free(c);
}

void
client_unref(struct client *c)
{
	if (--c->refs == 0)
		defer_free(client_release, c);
}

static void
fdgroups_close(struct client *c, uint64_t before)
{
	struct fdgroup	**pp = &c->fdq, *g;

	while ((g = *pp) != NULL) {
		if (g->offset < before) {
			for (size_t i = 0; i < g->nfds; i++)
				if (g->fds[i] != -1)
					close(g->fds[i]);
			*pp = g->next;
			free(g);
		} else
			pp = &g->next;
	}
}

static void
client_close(struct client *c)
{
	struct client	**pp;

	if (c->dead)
		return;
	c->dead = true;
	log_debug("%s: client %llu", __func__, (unsigned long long)c->serial);
	ev_io_stop(main_loop, &c->rw);
	ev_io_stop(main_loop, &c->ww);
	close(c->fd);
	c->fd = -1;
	fdgroups_close(c, UINT64_MAX);
	for (pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			nclients--;
			break;
		}
	rpc_client_gone(c);
	client_unref(c);
}

bool
client_congested(const struct client *c)
{
	return buf_used(&c->out) > CLIENT_OUT_HIGHWATER;
}

static void
client_queue_flush(struct client *c)
{
	if (c->flush_queued)
		return;
	c->flush_queued = true;
	client_ref(c);
	c->flush_next = flushq;
	flushq = c;
}

/* Writes what is queued now, unless EV_WRITE already waits for room. */
static void
client_flush(struct client *c)
{
	if (!c->dead && buf_used(&c->out) > 0 && !ev_is_active(&c->ww))
		client_write_cb(main_loop, &c->ww, EV_WRITE);
}

static void
flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct client	*c;

	/* a write may dispatch held-back requests, which queue again */
	while ((c = flushq) != NULL) {
		flushq = c->flush_next;
		c->flush_queued = false;
		client_flush(c);
		client_unref(c);
	}
}

static void
client_update(struct client *c)
{
	if (c->dead)
		return;
	if (buf_used(&c->out) == 0)
		ev_io_stop(main_loop, &c->ww);
	else if (!ev_is_active(&c->ww))
		client_queue_flush(c);
	/* backpressure: a client that does not read its replies stops being read */
	if (!c->closing && !client_congested(c))
		ev_io_start(main_loop, &c->rw);
	else
		ev_io_stop(main_loop, &c->rw);
}

void
client_send(struct client *c, json_t *msg)
{
	char	*s;
	size_t	 len;

	if (c->dead) {
		json_decref(msg);
		return;
	}
	s = jsonrpc_dump(msg, &len);
	json_decref(msg);
	if (s == NULL) {
		log_warnx("cannot serialise a reply");
		return;
	}
	buf_append(&c->out, s, len);
	free(s);
	client_update(c);
}

void
client_notify(struct client *c, json_t *msg)
{
	if (c->dead || c->closing) {
		json_decref(msg);
		return;
	}
	if (buf_used(&c->out) > CLIENT_OUT_HARDCAP) {
		json_decref(msg);
		log_warnx("client %llu (uid %u) reads none of its notifications: "
		    "disconnected with %zu bytes unread",
		    (unsigned long long)c->serial, (unsigned)c->uid,
		    buf_used(&c->out));
		/* not now: the caller may be walking the client list; the
		 * shutdown makes the pending write fail, which closes it */
		client_close_after_flush(c);
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	client_send(c, msg);
}

static void	(*drain_hook)(struct client *);

void
control_set_drain_hook(void (*fn)(struct client *))
{
	drain_hook = fn;
}

void
control_each(void (*fn)(struct client *, void *), void *arg)
{
	for (struct client *c = clients; c; c = c->next)
		if (!c->dead)
			fn(c, arg);
}

static void
client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = w->data;
	ssize_t		 n;

	n = send(c->fd, c->out.data + c->out.off, buf_used(&c->out),
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		else
			ev_io_start(main_loop, &c->ww);
		return;
	}
	buf_drop(&c->out, n);
	if (buf_used(&c->out) > 0)
		ev_io_start(main_loop, &c->ww);	/* the rest when it fits */
	if (buf_used(&c->out) == 0 && c->closing) {
		client_close(c);
		return;
	}
	if (buf_used(&c->out) == 0 && c->n_owed > 0 && drain_hook != NULL)
		drain_hook(c);
	client_update(c);
	/* messages held back while the client was not reading its replies */
	if (!c->closing && !client_congested(c) && ndjson_pending(&c->in) > 0)
		client_dispatch(c);
}

void
client_close_after_flush(struct client *c)
{
	if (c->dead)
		return;
	c->closing = true;
	client_update(c);
	if (buf_used(&c->out) == 0)
		client_close(c);
}

/* Closes the connection after a fatal framing error has been answered. */
static void
client_fatal(struct client *c, int code, const char *msg)
{
	client_send(c, jsonrpc_error(NULL, code, msg,
	    json_pack("{s:s}", "kind", "parse")));
	client_close_after_flush(c);
}

static void
client_dispatch(struct client *c)
{
	char			*line;
	size_t			 len;
	enum ndjson_status	 st;

	client_ref(c);
	while (!c->dead && !c->closing && !client_congested(c)) {
		uint64_t	start = c->in_offset;
		int		fds[CLIENT_MAX_FDS];
		size_t		nfds = 0;

		st = ndjson_next(&c->in, &line, &len);
		if (st == NDJSON_AGAIN)
			break;
		if (st == NDJSON_TOOBIG) {
			client_fatal(c, JSONRPC_PARSE_ERROR, "message too large");
			break;
		}
		c->in_offset += len + 1;
		/* fds that came with this message's bytes belong to it */
		for (struct fdgroup *g = c->fdq; g; g = g->next) {
			if (g->offset < start || g->offset >= c->in_offset)
				continue;
			for (size_t i = 0; i < g->nfds && nfds < CLIENT_MAX_FDS; i++) {
				fds[nfds++] = g->fds[i];
				g->fds[i] = -1;
			}
		}
		fdgroups_close(c, c->in_offset);
		if (len == 0 || (len == 1 && line[0] == '\r')) {
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			continue;
		}
		rpc_handle(c, line, len, fds, nfds);
	}
	client_unref(c);
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = w->data;
	char		 buf[READ_CHUNK];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 16)];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;
	uint64_t	 at = c->in_offset + ndjson_pending(&c->in);

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		struct fdgroup	*g, **tail;
		size_t		 nfd;
		int		*fdp;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fdp = (int *)CMSG_DATA(cm);
		g = xcalloc(1, sizeof(*g));
		/*
		 * Linux returns earlier fd-less bytes in the same read and stops
		 * right after the buffer that carried the fds, so they belong
		 * to the message holding the last byte read (clients send a
		 * message's fds with that message's bytes only).
		 */
		g->offset = at + (n > 0 ? (uint64_t)n - 1 : 0);
		for (size_t i = 0; i < nfd; i++) {
			if (g->nfds < CLIENT_MAX_FDS)
				g->fds[g->nfds++] = fdp[i];
			else
				close(fdp[i]);	/* more than a message may carry */
		}
		for (tail = &c->fdq; *tail; tail = &(*tail)->next)
			;
		*tail = g;
	}
	if (msg.msg_flags & MSG_CTRUNC)
		log_debug("client %llu: truncated control data",
		    (unsigned long long)c->serial);
	if (n == 0) {
		/*
		 * The client has sent all it will. Replies already queued
		 * still go out (a half-close, as socat and nc -N do); a call
		 * still pending is a disconnect mid-call and is cancelled
		 * (TEST-CASES 31).
		 */
		if (c->calls == NULL && buf_used(&c->out) > 0)
			client_close_after_flush(c);
		else
			client_close(c);
		return;
	}
	if (ndjson_feed(&c->in, buf, n) == -1) {
		/* complete messages before the oversized one still count */
		client_dispatch(c);
		if (!c->dead && !c->closing)
			client_fatal(c, JSONRPC_PARSE_ERROR, "message too large");
		return;
	}
	client_dispatch(c);
	/* answered now, not after this iteration's transfers had their turn */
	client_flush(c);
}
