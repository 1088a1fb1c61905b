#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "events.h"
#include "log.h"
#include "job.h"
#include "session.h"
#include "util.h"

/* every session, newest first; closing ones until they are destroyed */
static struct session	*sessions;

static const char *session_state_names[SESS_STATE_LAST] = {
	"connecting", "ready", "busy", "closed",
};

static void session_conn_cb(struct ftp_conn *, enum ftp_conn_event, void *);

const char *
session_state_name(enum session_state s)
{
	return s < SESS_STATE_LAST ? session_state_names[s] : "?";
}

static int	ready_conns(const struct session *);
static int	busy_conns(const struct session *);

static void
session_set_state(struct session *s, enum session_state st)
{
	if (s->state == st)
		return;
	log_debug("%s: session %s %s -> %s", __func__, s->id,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
	/* subscribers to everything hear of it */
	events_session_state(s->id, s->uid, session_state_names[st],
	    ready_conns(s), busy_conns(s));
}

static void	sconn_timer_cb(struct ev_loop *, ev_timer *, int);

static void
first_login_done(struct ftp_op *op, void *arg)
{
	struct sconn	*sc = arg;
	struct session	*s = sc->s;

	sc->login = NULL;
	if (!op->failed) {
		sc->ready = true;
		s->opened = true;
		s->facts = op->facts;
		op->facts = NULL;
		log_info("session %s (uid %u) opened: %s@%s:%u", s->id,
		    (unsigned)s->uid, s->p.user, s->p.host, s->p.port);
	}
	s->open_cb(s, op, s->open_arg);
	ftp_op_free(op);
}

static struct sconn *
sconn_new(struct session *s, op_done_cb login_done)
{
	struct sconn	*sc = xcalloc(1, sizeof(*sc));

	sc->s = s;
	sc->login = ftp_op_new(OP_LOGIN, NULL);
	sc->login->done = login_done;
	sc->login->arg = sc;
	ev_init(&sc->timer, sconn_timer_cb);
	sc->timer.data = sc;
	sc->next = s->conns;
	s->conns = sc;
	s->nconns++;
	sc->conn = ftp_conn_new(&s->p, session_conn_cb, sc);
	ftp_conn_start(sc->conn, sc->login);
	return sc;
}

static void session_kick(struct session *);

static void
extra_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session	*s = w->data;

	if (!s->closing)
		session_kick(s);
}

struct session *
session_new(uid_t uid, const char *id, struct ftp_params *p,
    const struct session_opts *o, session_open_cb cb, void *arg)
{
	struct session	*s = xcalloc(1, sizeof(*s));

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->uid = uid;
	s->p = *p;
	memset(p, 0, sizeof(*p));
	s->o = *o;
	s->p.keepalive = o->keepalive;
	if (s->o.max_conns < 1)
		s->o.max_conns = 1;
	if (s->o.max_conns > SESSION_CONNS_MAX)
		s->o.max_conns = SESSION_CONNS_MAX;
	s->open_cb = cb;
	s->open_arg = arg;
	s->last_used = now_mono();
	ev_timer_init(&s->extra_timer, extra_timer_cb, 0., 0.);
	s->extra_timer.data = s;
	s->next = sessions;
	sessions = s;
	session_set_state(s, SESS_CONNECTING);
	sconn_new(s, first_login_done);
	return s;
}

struct session *
session_lookup(const char *id)
{
	for (struct session *s = sessions; s; s = s->next)
		if (!s->closing && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

struct session *
session_find(uid_t uid, const char *id, bool root_any)
{
	struct session	*other = NULL;

	for (struct session *s = sessions; s; s = s->next) {
		if (s->closing || strcmp(s->id, id) != 0)
			continue;
		if (s->uid == uid)
			return s;
		other = s;
	}
	return root_any && uid == 0 ? other : NULL;
}

void
session_each(void (*fn)(const struct session *, void *), void *arg)
{
	for (struct session *s = sessions; s; s = s->next)
		if (!s->closing)
			fn(s, arg);
}

bool
session_any(void)
{
	return sessions != NULL;
}

static bool
streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * A session serves a request that verifies no more strictly than it was
 * verified: an unverified session never serves a verifying request, and
 * a request naming its own CA file gets a session checked with that file.
 */
static bool
verified_enough(const struct session *s, const struct ftp_params *p)
{
	if (s->p.tls == FTP_TLS_NONE)
		return true;
	if (p->verify && !s->p.verify)
		return false;
	return p->ca_id == NULL || streq(s->p.ca_id, p->ca_id);
}

/*
 * The one rule of reuse (docs/protocol.md "Session reuse"). A request
 * without a password is served by the uid's own logged-in session: the
 * password was given when that one was opened, and sessions are never
 * shared between uids.
 */
struct session *
session_find_equal(uid_t uid, const struct ftp_params *p, const char *id)
{
	for (struct session *s = sessions; s; s = s->next) {
		if (s->closing || !s->opened || s->uid != uid ||
		    (id != NULL && strcmp(s->id, id) != 0))
			continue;
		if (strcasecmp(s->p.host, p->host) == 0 && s->p.port == p->port &&
		    streq(s->p.user, p->user) && (p->password == NULL ||
		    streq(s->p.password, p->password)) &&
		    s->p.tls == p->tls && s->p.passive == p->passive &&
		    verified_enough(s, p))
			return s;
	}
	return NULL;
}

static struct ftp_op *
queue_pop(struct session *s)
{
	struct ftp_op	*q;

	if ((q = s->q_head) == NULL)
		return NULL;
	s->q_head = q->next;
	if (s->q_head == NULL)
		s->q_tail = NULL;
	q->next = NULL;
	s->queued--;
	return q;
}

/* Ends every queued op with err; their owners hear of it at once. */
static void
session_fail_queue(struct session *s, const struct op_error *err)
{
	struct ftp_op	*q;

	while ((q = queue_pop(s)) != NULL) {
		q->failed = true;
		op_error_copy(&q->err, err);
		q->done(q, q->arg);
	}
}

static void
session_cancel_queue(struct session *s)
{
	struct op_error	err = { 0 };

	op_error_set(&err, FTPA_ERR_CANCELLED, 0, NULL, "session closed");
	session_fail_queue(s, &err);
	op_error_clear(&err);
}

static int
ready_conns(const struct session *s)
{
	int	n = 0;

	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		if (sc->ready && ftp_conn_alive(sc->conn))
			n++;
	return n;
}

static int
busy_conns(const struct session *s)
{
	int	n = 0;

	for (struct sconn *sc = s->conns; sc; sc = sc->next)
		if (sc->ready && ftp_conn_alive(sc->conn) &&
		    !ftp_conn_idle(sc->conn) && sc->noop == NULL)
			n++;
	return n;
}

/* Pauses before another extra connection after one failed on the network. */
#define EXTRA_BACKOFF_MIN	0.5
#define EXTRA_BACKOFF_MAX	30.0

static void
relogin_done(struct ftp_op *op, void *arg)
{
	struct sconn	*sc = arg;
	struct session	*s = sc->s;

	sc->login = NULL;
	if (!op->failed) {
		sc->ready = true;
		s->extra_backoff = 0;
		ftp_op_free(op);
		return;
	}
	if (ready_conns(s) > 0) {
		/*
		 * The others work. A server that said no (421 "too many
		 * connections", 530 and the like) will not take one more: do
		 * with what we have. A network failure (a reset, a timeout)
		 * says nothing about the server's limit: the next op tries
		 * again.
		 */
		if (op->err.ftp_code != 0 || op->err.kind == FTPA_ERR_FTP ||
		    op->err.kind == FTPA_ERR_AUTH) {
			s->cap = ready_conns(s);
			log_info("session %s: server refused connection %d (%s); "
			    "using %d", s->id, s->nconns, op->err.msg, s->cap);
		} else {
			/* not at once again: a server that resets every
			 * extra connection would get a storm of them */
			if (now_mono() >= s->extra_after) {
				/* once a round: its siblings fail alike */
				s->extra_backoff = s->extra_backoff == 0 ?
				    EXTRA_BACKOFF_MIN : s->extra_backoff * 2;
				if (s->extra_backoff > EXTRA_BACKOFF_MAX)
					s->extra_backoff = EXTRA_BACKOFF_MAX;
				s->extra_after = now_mono() + s->extra_backoff;
			}
			log_info("session %s: extra connection failed: %s; next "
			    "try in %.1f s at the earliest", s->id, op->err.msg,
			    s->extra_backoff);
		}
	} else {
		/* the queued operations cannot run: fail them with the reason */
		log_warnx("session %s: reconnect failed: %s", s->id, op->err.msg);
		session_fail_queue(s, &op->err);
	}
	ftp_op_free(op);
}

static int
conn_limit(const struct session *s)
{
	return s->cap > 0 && s->cap < s->o.max_conns ? s->cap : s->o.max_conns;
}

static void
session_update_state(struct session *s)
{
	int	busy, ready;

	ready = ready_conns(s);
	busy = busy_conns(s);
	if (busy > 0 || s->q_head != NULL)
		session_set_state(s, ready == 0 && busy == 0 ?
		    SESS_CONNECTING : SESS_BUSY);
	else
		session_set_state(s, SESS_READY);
}

/* (Re)arms the connection's timer for its next keepalive or idle close. */
static void
sconn_arm(struct sconn *sc)
{
	struct session	*s = sc->s;
	double		 now = now_mono(), at = 0;

	ev_timer_stop(loop_get(), &sc->timer);
	if (!sc->ready || sc->conn == NULL || !ftp_conn_idle(sc->conn))
		return;
	if (s->o.idle_timeout > 0)
		at = sc->idle_since + s->o.idle_timeout;
	if (s->o.keepalive > 0 && (at == 0 || now + s->o.keepalive < at))
		at = now + s->o.keepalive;
	if (at == 0)
		return;
	ev_timer_set(&sc->timer, at > now ? at - now : 0.001, 0.);
	ev_timer_start(loop_get(), &sc->timer);
}

static void
noop_done(struct ftp_op *op, void *arg)
{
	struct sconn	*sc = arg;

	sc->noop = NULL;
	sc->after_noop = true;
	ftp_op_free(op);
}

static void
sconn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sconn	*sc = w->data;
	struct session	*s = sc->s;

	if (sc->conn == NULL || !ftp_conn_idle(sc->conn) || s->closing)
		return;
	if (s->o.idle_timeout > 0 &&
	    now_mono() - sc->idle_since >= s->o.idle_timeout - 0.001) {
		log_debug("session %s: closing a connection idle for %.0f s",
		    s->id, now_mono() - sc->idle_since);
		ftp_conn_quit(sc->conn);	/* the CLOSED event removes it */
		return;
	}
	sc->noop = ftp_op_new(OP_CMD, "NOOP");
	sc->noop->done = noop_done;
	sc->noop->arg = sc;
	ftp_conn_run(sc->conn, sc->noop);
}

/*
 * Hands queued ops to idle connections, opens connections while ops wait
 * (up to the limit), and keeps the timers of idle ones.
 */
static void
session_kick(struct session *s)
{
	struct ftp_op	*op;
	struct sconn	*sc;
	int		 logging_in;

	if (s->closing || !s->opened)
		return;
again:
	for (sc = s->conns; sc && s->q_head; sc = sc->next) {
		if (!sc->ready || sc->conn == NULL || !ftp_conn_idle(sc->conn))
			continue;
		op = queue_pop(s);
		ev_timer_stop(loop_get(), &sc->timer);
		s->last_used = now_mono();
		/* running may end in callbacks that change the list */
		ftp_conn_run(sc->conn, op);
		if (s->closing)
			return;
		goto again;
	}
	logging_in = 0;
	for (sc = s->conns; sc; sc = sc->next) {
		if (sc->login != NULL)
			logging_in++;
		else if (sc->ready && sc->conn != NULL && ftp_conn_idle(sc->conn))
			sconn_arm(sc);
	}
	while (s->queued > (size_t)logging_in && s->nconns < conn_limit(s)) {
		if (s->nconns > 0 && now_mono() < s->extra_after) {
			/* ops wait for an extra connection: try at the end of
			 * the pause, not only when an op ends */
			if (!ev_is_active(&s->extra_timer)) {
				ev_timer_set(&s->extra_timer,
				    s->extra_after - now_mono(), 0.);
				ev_timer_start(loop_get(), &s->extra_timer);
			}
			break;
		}
		sconn_new(s, relogin_done);
		logging_in++;
	}
	session_update_state(s);
}

/* Removes sc from its session and frees it with its connection. */
static void
sconn_free(struct sconn *sc)
{
	struct session	*s = sc->s;
	struct sconn	**pp;

	for (pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			s->nconns--;
			break;
		}
	ev_timer_stop(loop_get(), &sc->timer);
	if (sc->conn != NULL) {
		struct ftp_conn	*c = sc->conn;

		sc->conn = NULL;
		ftp_conn_free(c);	/* may complete login/noop ops */
	}
	free(sc);
}

static void
session_conn_cb(struct ftp_conn *c, enum ftp_conn_event ev, void *arg)
{
	struct sconn	*sc = arg;
	struct session	*s = sc->s;

	switch (ev) {
	case FTP_CONN_READY:
		/* a keepalive NOOP does not make the connection less idle */
		if (!sc->after_noop) {
			sc->idle_since = now_mono();
			s->last_used = sc->idle_since;
		}
		sc->after_noop = false;
		session_kick(s);
		break;
	case FTP_CONN_CLOSED:
		sconn_free(sc);
		if (s->closing) {
			if (s->conns == NULL)
				session_destroy(s);
			return;
		}
		/* everything closed: the next connections start afresh */
		if (s->conns == NULL) {
			s->cap = 0;
			s->extra_backoff = 0;
			s->extra_after = 0;
		}
		session_kick(s);
		break;
	}
}

void
session_submit(struct session *s, struct ftp_op *op)
{
	op->next = NULL;
	op->session = s;
	if (s->q_tail)
		s->q_tail->next = op;
	else
		s->q_head = op;
	s->q_tail = op;
	s->queued++;
	session_kick(s);
}

void
session_cancel_op(struct session *s, struct ftp_op *op)
{
	struct ftp_op	**pp;

	for (pp = &s->q_head; *pp; pp = &(*pp)->next) {
		if (*pp != op)
			continue;
		*pp = op->next;
		s->q_tail = NULL;
		for (struct ftp_op *q = s->q_head; q; q = q->next)
			s->q_tail = q;
		s->queued--;
		op->next = NULL;
		op->failed = true;
		op_error_set(&op->err, FTPA_ERR_CANCELLED, 0, NULL, "cancelled");
		op->done(op, op->arg);
		session_update_state(s);
		return;
	}
	if (op->conn != NULL)
		ftp_conn_cancel(op->conn, op);
}

static void
session_release(void *p)
{
	struct session	*s = p;

	free(s->p.host);
	free(s->p.user);
	free_secret(s->p.password);
	ftp_login_facts_free(s->facts);
	free(s->p.ca_id);
	X509_STORE_free(s->p.ca_store);
	if (s->p.tls_ctx)
		SSL_CTX_free(s->p.tls_ctx);
	free(s);
}

void
session_destroy(struct session *s)
{
	struct session	**pp;

	/* freeing a connection may end a login whose owner destroys us */
	if (s->destroyed)
		return;
	s->destroyed = true;
	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->closing = true;
	ev_timer_stop(loop_get(), &s->extra_timer);
	session_set_state(s, SESS_CLOSED);
	job_session_gone(s);
	session_cancel_queue(s);
	while (s->conns != NULL)
		sconn_free(s->conns);
	defer_free(session_release, s);
}

void
session_close(struct session *s)
{
	struct sconn	*sc;

	if (s->closing)
		return;
	s->closing = true;
	log_info("session %s (uid %u) closed", s->id, (unsigned)s->uid);
	session_cancel_queue(s);
	/*
	 * Idle logged-in connections get QUIT and go when it is answered (the
	 * CLOSED events free them and, with the last, the session). The rest
	 * go now; each may call back into us, so start over after each.
	 */
again:
	for (sc = s->conns; sc; sc = sc->next) {
		if (sc->quitting)
			continue;
		sc->quitting = true;
		ev_timer_stop(loop_get(), &sc->timer);
		if (sc->ready && sc->conn != NULL && ftp_conn_idle(sc->conn)) {
			ftp_conn_quit(sc->conn);
			continue;
		}
		sconn_free(sc);
		if (s->destroyed)
			return;
		goto again;
	}
	if (s->conns == NULL)
		session_destroy(s);
}

bool
session_winding_down(void)
{
	for (struct session *s = sessions; s; s = s->next)
		for (struct sconn *sc = s->conns; sc; sc = sc->next)
			if (sc->conn != NULL && !ftp_conn_alive(sc->conn))
				return true;
	return false;
}

void
session_close_all(void)
{
	struct session	*s, *next;

	for (s = sessions; s; s = next) {
		next = s->next;
		session_close(s);
	}
}

size_t
session_count(uid_t uid, bool all)
{
	size_t	n = 0;

	for (struct session *s = sessions; s; s = s->next)
		if (!s->closing && (all || s->uid == uid))
			n++;
	return n;
}

json_t *
session_json(const struct session *s)
{
	struct ftp_url	 u;
	struct ftp_conn	*first = NULL;
	char		*url;
	json_t		*o;

	memset(&u, 0, sizeof(u));
	u.tls = s->p.tls;
	u.host = s->p.host;
	u.port = s->p.port;
	/* never the password; percent-encoded, so it parses back */
	if ((url = ftp_url_format(&u, s->p.user, false)) == NULL)
		fatalx("out of memory");
	/* user and host come from a percent-decoded URL: any bytes at all */
	o = json_pack("{s:s,s:o,s:o,s:o,s:s,s:s,s:i,s:i,s:f,s:i}",
	    "session", s->id, "url", json_text(url), "host", json_text(s->p.host),
	    "user", json_text(s->p.user),
	    "tls", ftp_tls_mode_name(s->p.tls),
	    "state", session_state_name(s->state),
	    "port", s->p.port,
	    "connections", ready_conns(s),
	    "idle_s", s->state == SESS_BUSY ? 0.0 : now_mono() - s->last_used,
	    "uid", (int)s->uid);
	free(url);
	for (struct sconn *sc = s->conns; sc && first == NULL; sc = sc->next)
		if (sc->ready && ftp_conn_alive(sc->conn))
			first = sc->conn;
	json_object_set_new(o, "busy", json_integer(busy_conns(s)));
	json_object_set_new(o, "max_connections", json_integer(s->o.max_conns));
	if (rl_on(&s->p.rl))
		json_object_set_new(o, "limit_rate", json_integer(
		    (json_int_t)s->p.rl.rate));
	json_object_set_new(o, "queued", json_integer((json_int_t)s->queued));
	if (first != NULL && ftp_conn_tls_version(first) != NULL) {
		int	r = ftp_conn_tls_reuse(first);

		json_object_set_new(o, "tls_version",
		    json_string(ftp_conn_tls_version(first)));
		json_object_set_new(o, "tls_reuse", json_string(
		    r == 1 ? "yes" : r == 0 ? "no" : "unknown"));
	} else {
		json_object_set_new(o, "tls_version", json_null());
		json_object_set_new(o, "tls_reuse", json_null());
	}
	return o;
}
