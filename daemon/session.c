#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "job.h"
#include "session.h"
#include "util.h"

struct session	*sessions;

static const char *session_state_names[SESS_STATE_LAST] = {
	"connecting", "ready", "busy", "closed",
};

static void session_conn_cb(struct ftp_conn *, enum ftp_conn_event, void *);
static void session_kick(struct session *);

const char *
session_state_name(enum session_state s)
{
	return s < SESS_STATE_LAST ? session_state_names[s] : "?";
}

static void
session_set_state(struct session *s, enum session_state st)
{
	if (s->state == st)
		return;
	log_debug("%s: session %s %s -> %s", __func__, s->id,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
}

static void
first_login_done(struct ftp_op *op, void *arg)
{
	struct session	*s = arg;

	if (!op->failed) {
		json_t	*v;

		s->opened = true;
		if ((v = json_object_get(op->result, "welcome")) && json_is_string(v))
			s->welcome = xstrdup(json_string_value(v));
		if ((v = json_object_get(op->result, "system")) && json_is_string(v))
			s->system = xstrdup(json_string_value(v));
		s->features = json_incref(json_object_get(op->result, "features"));
		s->tls = json_incref(json_object_get(op->result, "tls"));
		log_info("session %s (uid %u) opened: %s@%s:%u", s->id,
		    (unsigned)s->uid, s->p.user, s->p.host, s->p.port);
	}
	s->open_cb(s, op, s->open_arg);
	ftp_op_free(op);
}

struct session *
session_new(uid_t uid, const char *id, struct ftp_params *p,
    session_open_cb cb, void *arg)
{
	struct session	*s = xcalloc(1, sizeof(*s));
	struct ftp_op	*login = ftp_op_new(OP_LOGIN, NULL);

	snprintf(s->id, sizeof(s->id), "%s", id);
	s->uid = uid;
	s->p = *p;
	memset(p, 0, sizeof(*p));
	s->open_cb = cb;
	s->open_arg = arg;
	s->last_used = now_mono();
	s->next = sessions;
	sessions = s;
	session_set_state(s, SESS_CONNECTING);
	login->done = first_login_done;
	login->arg = s;
	s->conn = ftp_conn_new(&s->p, session_conn_cb, s);
	ftp_conn_start(s->conn, login);
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
	return p->ca_file == NULL || streq(s->p.ca_file, p->ca_file);
}

struct session *
session_find_equal(uid_t uid, const struct ftp_params *p)
{
	for (struct session *s = sessions; s; s = s->next) {
		if (s->closing || !s->opened || s->uid != uid)
			continue;
		if (strcasecmp(s->p.host, p->host) == 0 && s->p.port == p->port &&
		    streq(s->p.user, p->user) && streq(s->p.password, p->password) &&
		    s->p.tls == p->tls && s->p.passive == p->passive &&
		    verified_enough(s, p))
			return s;
	}
	return NULL;
}

/* Ends every queued op with err; their owners hear of it at once. */
static void
session_fail_queue(struct session *s, const struct op_error *err)
{
	struct ftp_op	*q;

	while ((q = s->q_head) != NULL) {
		s->q_head = q->next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		q->next = NULL;
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

static void
relogin_done(struct ftp_op *op, void *arg)
{
	struct session	*s = arg;

	s->relogin = NULL;
	if (op->failed) {
		/* the queued operations cannot run: fail them with the reason */
		log_warnx("session %s: reconnect failed: %s", s->id, op->err.msg);
		session_fail_queue(s, &op->err);
	}
	ftp_op_free(op);
}

static void
session_connect(struct session *s)
{
	s->relogin = ftp_op_new(OP_LOGIN, NULL);
	s->relogin->done = relogin_done;
	s->relogin->arg = s;
	s->conn = ftp_conn_new(&s->p, session_conn_cb, s);
	session_set_state(s, SESS_CONNECTING);
	ftp_conn_start(s->conn, s->relogin);
}

/* Runs the next queued op if the connection is free; reconnects if needed. */
static void
session_kick(struct session *s)
{
	struct ftp_op	*op;

	if (s->closing || !s->opened)
		return;
	if (s->conn == NULL) {
		if (s->q_head != NULL)
			session_connect(s);
		return;
	}
	if (!ftp_conn_idle(s->conn))
		return;
	if ((op = s->q_head) == NULL) {
		session_set_state(s, SESS_READY);
		return;
	}
	s->q_head = op->next;
	if (s->q_head == NULL)
		s->q_tail = NULL;
	op->next = NULL;
	s->last_used = now_mono();
	session_set_state(s, SESS_BUSY);
	ftp_conn_run(s->conn, op);
}

static void
session_conn_cb(struct ftp_conn *c, enum ftp_conn_event ev, void *arg)
{
	struct session	*s = arg;

	switch (ev) {
	case FTP_CONN_READY:
		s->last_used = now_mono();
		session_kick(s);
		break;
	case FTP_CONN_CLOSED:
		if (s->conn == c) {
			ftp_conn_free(c);
			s->conn = NULL;
		}
		if (s->closing) {
			session_destroy(s);
			return;
		}
		session_set_state(s, SESS_READY);
		session_kick(s);
		break;
	}
}

void
session_submit(struct session *s, struct ftp_op *op)
{
	op->next = NULL;
	if (s->q_tail)
		s->q_tail->next = op;
	else
		s->q_head = op;
	s->q_tail = op;
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
		op->next = NULL;
		op->failed = true;
		op_error_set(&op->err, FTPA_ERR_CANCELLED, 0, NULL, "cancelled");
		op->done(op, op->arg);
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
	free(s->welcome);
	free(s->system);
	if (s->features)
		json_decref(s->features);
	if (s->tls)
		json_decref(s->tls);
	free(s->p.ca_file);
	if (s->p.tls_ctx)
		SSL_CTX_free(s->p.tls_ctx);
	free(s);
}

void
session_destroy(struct session *s)
{
	struct session	**pp;

	for (pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->closing = true;
	session_set_state(s, SESS_CLOSED);
	job_session_gone(s);
	session_cancel_queue(s);
	if (s->conn) {
		struct ftp_conn	*c = s->conn;

		s->conn = NULL;
		ftp_conn_free(c);
	}
	defer_free(session_release, s);
}

void
session_close(struct session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	log_info("session %s (uid %u) closed", s->id, (unsigned)s->uid);
	session_cancel_queue(s);
	if (s->conn != NULL && ftp_conn_alive(s->conn))
		ftp_conn_quit(s->conn);		/* CLOSED event destroys it */
	else
		session_destroy(s);
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
	char	 port[8] = "";
	char	*url;
	bool	 v6 = strchr(s->p.host, ':') != NULL;
	json_t	*o;

	if (s->p.port != (s->p.tls == FTP_TLS_IMPLICIT ? 990 : 21))
		snprintf(port, sizeof(port), ":%u", s->p.port);
	/* the password is never part of what we show */
	url = xasprintf("%s://%s@%s%s%s%s/",
	    s->p.tls == FTP_TLS_NONE ? "ftp" :
	    s->p.tls == FTP_TLS_EXPLICIT ? "ftpes" : "ftps",
	    s->p.user, v6 ? "[" : "", s->p.host, v6 ? "]" : "", port);
	/* user and host come from a percent-decoded URL: any bytes at all */
	o = json_pack("{s:s,s:o,s:o,s:o,s:s,s:s,s:i,s:i,s:f,s:i}",
	    "session", s->id, "url", json_text(url), "host", json_text(s->p.host),
	    "user", json_text(s->p.user),
	    "tls", ftp_tls_mode_name(s->p.tls),
	    "state", session_state_name(s->state),
	    "port", s->p.port,
	    "connections", s->conn != NULL && ftp_conn_alive(s->conn) ? 1 : 0,
	    "idle_s", s->state == SESS_BUSY ? 0.0 : now_mono() - s->last_used,
	    "uid", (int)s->uid);
	free(url);
	if (s->conn != NULL && ftp_conn_tls_version(s->conn) != NULL) {
		int	r = ftp_conn_tls_reuse(s->conn);

		json_object_set_new(o, "tls_version",
		    json_string(ftp_conn_tls_version(s->conn)));
		json_object_set_new(o, "tls_reuse", json_string(
		    r == 1 ? "yes" : r == 0 ? "no" : "unknown"));
	} else {
		json_object_set_new(o, "tls_version", json_null());
		json_object_set_new(o, "tls_reuse", json_null());
	}
	return o;
}
