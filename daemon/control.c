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

#include "budget.h"
#include "control.h"
#include "events.h"
#include "ftpa_error.h"
#include "jsonrpc.h"
#include "log.h"
#include "rpc.h"

#define READ_CHUNK	65536
/* A message carries at most CLIENT_MAX_FDS; a read may bring several. */
#define READ_MAX_FDS	16
#define ACCEPT_PAUSE	1.0	/* seconds without accept() when out of fds */

static int		 listen_fd = -1;
static bool		 listen_owned;
static char		*listen_path;
static dev_t		 listen_dev;	/* the socket file we made */
static ino_t		 listen_ino;
static ev_io		 accept_w;
static ev_timer		 accept_pause;
static int		 reserve_fd = -1;	/* freed to answer when out of fds */
static bool		 fds_exhausted;		/* a pause episode is under way */
static unsigned long	 accept_refused;	/* connections turned away in it */
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
static void client_update(struct client *);
static void client_out_drop(struct client *, size_t);
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

/*
 * Nothing answers on path: a socket there is a leftover of a dead agent
 * and goes. Anything else (a file, a directory, a symlink, even one to a
 * socket) is somebody's and stays: -S names a socket, never a victim.
 */
static int
remove_stale_socket(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("%s exists and is not a socket; not removed (choose "
		    "another path or remove it)", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("cannot remove the stale socket %s", path);
		return -1;
	}
	log_info("removed stale socket %s", path);
	return 0;
}

/* Answers once, so the client sees why, then hangs up. */
static void
refuse_connection(int fd, const char *why)
{
	char	*msg;
	json_t	*e = jsonrpc_error(NULL, -32011, why,
	    json_pack("{s:s}", "kind", "limit"));

	msg = jsonrpc_dump(e, NULL);
	json_decref(e);
	if (msg && send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("limit reply: %s", strerror(errno));
	free(msg);
	close(fd);
}

static void
reserve_open(void)
{
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of descriptors: the reserve one is given up to take the waiting
 * connection and tell it so, then taken back, and accept() pauses (a
 * listening socket stays readable: accepting on would spin). One log line
 * when an episode starts, one when it ends.
 */
static void
accept_exhausted(struct ev_loop *loop, int err)
{
	int	fd;

	if (reserve_fd != -1) {
		close(reserve_fd);
		reserve_fd = -1;
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			refuse_connection(fd, "the agent is out of file descriptors");
			accept_refused++;
		}
		reserve_open();
	}
	if (!fds_exhausted)
		log_warnx("accept: %s: pausing new connections (retried every "
		    "%.0f s)", strerror(err), ACCEPT_PAUSE);
	fds_exhausted = true;
	ev_io_stop(loop, &accept_w);
	/* set each time: a restarted timer keeps what it last had */
	ev_timer_set(&accept_pause, ACCEPT_PAUSE, 0.);
	ev_timer_start(loop, &accept_pause);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c;
	struct budget	*b;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	int		 fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE)
			accept_exhausted(loop, errno);
		return;
	}
	if (fds_exhausted) {
		log_info("accepting connections again (%lu turned away while "
		    "out of descriptors)", accept_refused);
		fds_exhausted = false;
		accept_refused = 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(fd);
		return;
	}
	b = budget_get(cred.uid);
	if (nclients >= opts.max_conns ||
	    (cred.uid != 0 && b->conns >= opts.max_conns_per_uid)) {
		budget_put(b);
		refuse_connection(fd, "too many connections");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->serial = ++client_serial;
	c->fd = fd;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->refs = 1;
	c->b = b;
	b->conns++;
	ndjson_init(&c->in, opts.max_msg);
	/* a request over max_message is answered and skipped, not fatal */
	ndjson_set_resync(&c->in);
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
	struct stat		st;
	mode_t			old;

	opts = *o;
	budget_init();
	reserve_open();
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
		if (remove_stale_socket(o->path) == -1)
			return -1;
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
		if (lstat(o->path, &st) == 0) {
			listen_dev = st.st_dev;
			listen_ino = st.st_ino;
		}
	}
	ev_io_init(&accept_w, accept_cb, listen_fd, EV_READ);
	ev_set_priority(&accept_w, EV_MAXPRI);
	ev_io_start(loop_get(), &accept_w);
	ev_timer_init(&accept_pause, accept_resume_cb, ACCEPT_PAUSE, 0.);
	if (!ev_is_active(&flush_w)) {
		ev_prepare_init(&flush_w, flush_cb);
		ev_prepare_start(loop_get(), &flush_w);
		ev_unref(loop_get());	/* it keeps no loop running */
	}
	return 0;
}

void
control_shutdown(void)
{
	struct stat	st;

	ev_io_stop(loop_get(), &accept_w);
	ev_timer_stop(loop_get(), &accept_pause);
	if (listen_fd != -1)
		close(listen_fd);
	listen_fd = -1;
	/* only the socket we made: not what somebody put in its place */
	if (listen_owned && listen_path && lstat(listen_path, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && st.st_dev == listen_dev &&
	    st.st_ino == listen_ino)
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
	budget_put(c->b);
	events_forget(c);
	free(c);
}

void
client_unref(struct client *c)
{
	if (--c->refs == 0)
		defer_free(client_release, c);
}

static void
client_fds_sub(struct client *c, size_t n)
{
	c->nfds -= n;
	budget_fds_sub(c->b, n);
}

static void
fdgroups_close_range(struct client *c, uint64_t from, uint64_t before)
{
	struct fdgroup	**pp = &c->fdq, *g;

	while ((g = *pp) != NULL) {
		if (g->offset >= from && g->offset < before) {
			for (size_t i = 0; i < g->nfds; i++)
				if (g->fds[i] != -1) {
					close(g->fds[i]);
					client_fds_sub(c, 1);
				}
			*pp = g->next;
			free(g);
			c->nfdgroups--;
		} else
			pp = &g->next;
	}
}

static void
fdgroups_close(struct client *c, uint64_t before)
{
	fdgroups_close_range(c, 0, before);
}

static void
client_close(struct client *c)
{
	struct client	**pp;

	if (c->dead)
		return;
	c->dead = true;
	log_debug("%s: client %llu", __func__, (unsigned long long)c->serial);
	ev_io_stop(loop_get(), &c->rw);
	ev_io_stop(loop_get(), &c->ww);
	close(c->fd);
	c->fd = -1;
	fdgroups_close(c, UINT64_MAX);
	c->b->conns--;
	client_out_drop(c, buf_used(&c->out));
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

/*
 * Whether the client's next request may start: it reads its replies,
 * has fewer calls running than its share, and its uid is within its own
 * (budget.h). Otherwise requests wait unread: backpressure, not errors.
 */
static bool
client_may_start(const struct client *c)
{
	return !c->dead && !c->closing && !client_congested(c) &&
	    c->ncalls < CLIENT_MAX_CALLS && c->nheavy < CLIENT_MAX_HEAVY &&
	    budget_uid_open(c->b);
}

/* Every connection of the uid may have work to resume. */
static void
wake_uid(struct budget *b)
{
	for (struct client *c = clients; c; c = c->next)
		if (c->b == b && !c->dead)
			client_update(c);
}

static void
client_out_drop(struct client *c, size_t n)
{
	bool	was_open = budget_uid_open(c->b);

	buf_drop(&c->out, n);
	c->b->out -= n;
	if (!was_open && budget_uid_open(c->b))
		wake_uid(c->b);
}

void
control_call_started(struct client *c, bool heavy)
{
	c->ncalls++;
	if (heavy) {
		c->nheavy++;
		c->b->heavy++;
	}
}

void
control_call_ended(struct client *c, struct budget *b, bool heavy)
{
	bool	was_open = budget_uid_open(b);

	if (heavy)
		b->heavy--;
	if (c != NULL) {
		c->ncalls--;
		if (heavy)
			c->nheavy--;
		if (!c->dead)
			client_update(c);
	}
	if (!was_open && budget_uid_open(b))
		wake_uid(b);
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
		client_write_cb(loop_get(), &c->ww, EV_WRITE);
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
		/* requests held back until a call ended or the uid's
		 * replies were read */
		if (client_may_start(c) && ndjson_waiting(&c->in))
			client_dispatch(c);
		client_unref(c);
	}
}

static void
client_update(struct client *c)
{
	if (c->dead)
		return;
	if (buf_used(&c->out) == 0)
		ev_io_stop(loop_get(), &c->ww);
	else if (!ev_is_active(&c->ww))
		client_queue_flush(c);
	/* backpressure: a client that does not read its replies, or has
	 * its share of calls running, stops being read */
	if (client_may_start(c)) {
		ev_io_start(loop_get(), &c->rw);
		/* held-back requests run before the loop sleeps */
		if (ndjson_waiting(&c->in))
			client_queue_flush(c);
	} else
		ev_io_stop(loop_get(), &c->rw);
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
	c->b->out += len;
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
	/* past the uid's share, a connection that reads nothing is not
	 * given more: per uid too, notifications stay bounded */
	if (buf_used(&c->out) > CLIENT_OUT_HARDCAP ||
	    (c->b->out > UID_MAX_OUT && buf_used(&c->out) > CLIENT_OUT_IDLE)) {
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

bool
client_has_output(const struct client *c)
{
	return buf_used(&c->out) > 0;
}

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
			ev_io_start(loop_get(), &c->ww);
		return;
	}
	client_out_drop(c, n);
	if (buf_used(&c->out) > 0)
		ev_io_start(loop_get(), &c->ww);	/* the rest when it fits */
	if (buf_used(&c->out) == 0 && c->closing) {
		client_close(c);
		return;
	}
	if (buf_used(&c->out) == 0 && c->ev != NULL && drain_hook != NULL)
		drain_hook(c);
	client_update(c);
	/* messages held back while the client was not reading its replies */
	if (client_may_start(c) && ndjson_waiting(&c->in))
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
	log_info("client %llu (uid %u): %s: closing the connection",
	    (unsigned long long)c->serial, (unsigned)c->uid, msg);
	client_send(c, jsonrpc_error(NULL, code, msg,
	    json_pack("{s:s}", "kind", "parse")));
	client_close_after_flush(c);
}

/*
 * A request longer than max_message, dropped by the framer: answered with
 * its id when its first bytes hold one (libftpagent writes the id before
 * the params), else null, and the connection goes on.
 */
static void
client_too_long(struct client *c, const char *head, size_t len)
{
	json_t	*id = jsonrpc_head_id(head, len);
	char	 msg[128];

	log_info("client %llu (uid %u): a request over max_message (%zu "
	    "bytes) skipped", (unsigned long long)c->serial, (unsigned)c->uid,
	    opts.max_msg);
	(void)snprintf(msg, sizeof(msg), "request longer than the message "
	    "limit of %zu bytes (max_message); not read", opts.max_msg);
	client_send(c, jsonrpc_error(id, ftpa_err_code(FTPA_ERR_LIMIT), msg,
	    json_pack("{s:s,s:I}", "kind", "limit", "max_message",
	    (json_int_t)opts.max_msg)));
	json_decref(id);
}

static void
client_dispatch(struct client *c)
{
	char			*line;
	size_t			 len;
	enum ndjson_status	 st;

	client_ref(c);
	while (client_may_start(c)) {
		uint64_t	start = c->in_offset;
		int		fds[CLIENT_MAX_FDS];
		size_t		nfds = 0;
		bool		dropped = false;

		st = ndjson_next(&c->in, &line, &len);
		if (st == NDJSON_AGAIN)
			break;
		if (st == NDJSON_TOOBIG) {
			client_fatal(c, JSONRPC_PARSE_ERROR, "message too large");
			break;
		}
		if (st == NDJSON_SKIPPED) {
			client_too_long(c, line, len);
			continue;
		}
		c->in_offset += len + 1;
		/* fds that came with this message's bytes belong to it */
		for (struct fdgroup *g = c->fdq; g; g = g->next) {
			if (g->offset < start || g->offset >= c->in_offset)
				continue;
			dropped |= g->dropped;
			for (size_t i = 0; i < g->nfds && nfds < CLIENT_MAX_FDS; i++) {
				if (g->fds[i] == -1)
					continue;
				fds[nfds++] = g->fds[i];
				g->fds[i] = -1;
				client_fds_sub(c, 1);
			}
		}
		fdgroups_close(c, c->in_offset);
		if (len == 0 || (len == 1 && line[0] == '\r')) {
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			continue;
		}
		rpc_handle(c, line, len, fds, nfds, dropped);
	}
	client_unref(c);
}

/* Files the descriptors of one SCM_RIGHTS header as a group; those past
 * the budget (room) are closed and the group marked. */
static void
client_take_fds(struct client *c, struct cmsghdr *cm, uint64_t offset,
    size_t *room, bool truncated)
{
	struct fdgroup	*g, **tail;
	size_t		 nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	int		*fdp = (int *)CMSG_DATA(cm);

	/* a client sends a message's fds with it, once: more groups than
	 * the descriptors a connection may hold is a flood, not requests */
	if (c->nfdgroups >= 2 * CLIENT_MAX_PENDING_FDS) {
		for (size_t i = 0; i < nfd; i++)
			close(fdp[i]);
		c->fd_flood = true;
		return;
	}
	c->nfdgroups++;
	g = xcalloc(1, sizeof(*g));
	g->offset = offset;
	g->dropped = truncated;
	for (size_t i = 0; i < nfd; i++) {
		if (g->nfds < CLIENT_MAX_FDS && *room > 0) {
			g->fds[g->nfds++] = fdp[i];
			(*room)--;
			c->nfds++;
			budget_fds_add(c->b, 1);
		} else {
			close(fdp[i]);	/* more than a message may carry */
			g->dropped = true;
		}
	}
	for (tail = &c->fdq; *tail; tail = &(*tail)->next)
		;
	*tail = g;
}

/* Bytes read and framed (ndjson_feed gave fed): every complete message is
 * dispatched, then answered. */
static void
client_fed(struct client *c, int fed)
{
	if (fed == -1) {
		/* complete messages before the failure still count */
		client_dispatch(c);
		if (!c->dead && !c->closing)
			client_fatal(c, JSONRPC_PARSE_ERROR, "too many requests "
			    "over max_message at once");
		return;
	}
	client_dispatch(c);
	/* answered now, not after this iteration's transfers had their turn */
	client_flush(c);
}

/*
 * What one recvmsg brought besides bytes: descriptors, to the message
 * holding the last byte read, or the news that some were refused. at is
 * the stream offset of the last byte (among the bytes kept); drop: that
 * byte was part of a request over max_message, whose descriptors are
 * closed. -1 when the client was closed.
 */
static int
client_take_cmsgs(struct client *c, struct msghdr *msg, uint64_t at,
    size_t room, bool drop)
{
	struct cmsghdr	*cm;
	bool		 cut = (msg->msg_flags & MSG_CTRUNC) != 0;

	for (cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (drop) {
			int	*fdp = (int *)CMSG_DATA(cm);

			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int); i++)
				close(fdp[i]);
		} else
			client_take_fds(c, cm, at, &room, cut);
	}
	if (drop)
		return 0;
	if (cut && CMSG_FIRSTHDR(msg) == NULL) {
		struct cmsghdr	none = { .cmsg_len = CMSG_LEN(0) };

		/* all refused: the message still learns it */
		client_take_fds(c, &none, at, &room, true);
	}
	if (c->fd_flood) {
		client_fatal(c, JSONRPC_PARSE_ERROR, "descriptors sent apart "
		    "from requests");
		return -1;
	}
	if (cut)
		log_debug("client %llu (uid %u): descriptors refused, %zu held "
		    "(budget.h)", (unsigned long long)c->serial,
		    (unsigned)c->uid, c->nfds);
	return 0;
}

static void
client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client	*c = w->data;
	char		 buf[READ_CHUNK];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * READ_MAX_FDS)];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov;
	ssize_t		 n;
	uint64_t	 at;
	size_t		 room = budget_fd_room(c->b, c->nfds);
	int		 fed = 0;
	bool		 drop;

	/*
	 * Requests held back (client_may_start) are read on, for a client
	 * that writes all its requests before reading, but only so far: at
	 * most a message's worth of bytes, nor past a request over
	 * max_message (each would queue an answer), and never until the
	 * descriptors of the next request would be refused.
	 * control_call_ended and wake_uid start reading again.
	 */
	if (!client_may_start(c) && (ndjson_pending(&c->in) >= opts.max_msg ||
	    ndjson_skips(&c->in) > 0 || room < CLIENT_MAX_FDS)) {
		ev_io_stop(loop, w);
		return;
	}
	/*
	 * Descriptors beyond the budget (per connection, per uid, in all)
	 * are not received at all: the kernel closes what does not fit in
	 * the control buffer and says so with MSG_CTRUNC.
	 */
	if (room > READ_MAX_FDS)
		room = READ_MAX_FDS;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = room > 0 ? cmsg.buf : NULL;
	msg.msg_controllen = room > 0 ? CMSG_SPACE(sizeof(int) * room) : 0;
	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			client_close(c);
		return;
	}
	/*
	 * Linux returns earlier fd-less bytes in the same read and stops
	 * right after the buffer that carried the fds, so they belong to the
	 * message holding the last byte read (clients send a message's fds
	 * with that message's bytes only). The bytes are framed first, as a
	 * request over max_message is dropped as it comes: the last byte
	 * kept is the one before in_offset + pending, and when the last byte
	 * read was dropped, its request's fds go with it.
	 */
	if (n > 0) {
		fed = ndjson_feed(&c->in, buf, (size_t)n);
		/* the start of a request that proved too long had fds */
		fdgroups_close_range(c, ndjson_unkept(&c->in), UINT64_MAX);
	}
	drop = fed == -1 || ndjson_last_dropped(&c->in);
	at = c->in_offset + ndjson_pending(&c->in);
	if (n > 0 && !drop)
		at--;
	if (client_take_cmsgs(c, &msg, at, room, n > 0 && drop) == -1)
		return;
	if (n == 0) {
		/*
		 * The client has sent all it will. Replies already queued
		 * still go out (a half-close, as socat and nc -N do); a call
		 * still pending is a disconnect mid-call and is cancelled.
		 */
		if (c->calls == NULL && buf_used(&c->out) > 0)
			client_close_after_flush(c);
		else
			client_close(c);
		return;
	}
	client_fed(c, fed);
}
