/*
 * session.open, session.close, session.list. Opening reads the target,
 * loads a CA file off the loop when there is one, reuses a matching
 * session or makes one and waits for its login.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "castore.h"
#include "conf.h"
#include "ftp.h"
#include "ftp_list.h"
#include "session.h"
#include "url.h"
#include "util.h"
#include "rpc_priv.h"

/* limits and the defaults of session.open: conf.h (ftpd-agent.conf) */

static unsigned long long session_serial;

/* ---- sessions ---------------------------------------------------------------- */

static json_t *
open_result(struct session *s, bool reused)
{
	const struct ftp_login_facts	*f = s->facts;
	json_t				*o, *feat = json_array(), *tls;

	for (char **p = f ? f->feat : NULL; p != NULL && *p != NULL; p++)
		json_array_append_new(feat, json_text(*p));
	tls = f != NULL && f->tls ? json_pack("{s:s,s:s,s:b}", "version",
	    f->tls_version, "cipher", f->tls_cipher, "verified", f->verified) :
	    json_null();
	o = json_pack("{s:s,s:o,s:o,s:o,s:b,s:o}", "session", s->id,
	    "welcome", json_text(f != NULL ? f->welcome : ""),
	    "features", feat, "system", json_text(f != NULL ? f->system : NULL),
	    "reused", reused, "tls", tls);
	if (s->p.tls != FTP_TLS_NONE && !s->p.verify)
		json_object_set_new(o, "warning", json_string(
		    "the server's certificate was not verified: the connection "
		    "is encrypted but its peer is not authenticated"));
	return o;
}

static void
open_done(struct session *s, struct ftp_op *login, void *arg)
{
	struct rpc_call	*call = arg;

	if (login->failed) {
		/* session.close while connecting: say so, not how the
		 * connection went */
		if (call && s->closing)
			rpc_fail(call, FTPA_ERR_CANCELLED, "session %s was closed "
			    "while connecting", s->id);
		else if (call)
			rpc_fail_op(call, &login->err, NULL);
		session_destroy(s);
		return;
	}
	if (call)
		rpc_reply(call, open_result(s, false));
}

static void
open_gone(struct rpc_call *call, void *arg)
{
	struct session	*s = arg;

	/* the session stays: it belongs to the uid, not to this connection */
	s->open_arg = NULL;
}

/* session.open between its parameters and session_new: the CA file, when
 * it has one, is read off the loop first (castore.h). */
struct open_req {
	struct ftp_params	 p;
	struct session_opts	 so;
	char			*name;
	bool			 reuse;
	struct ca_load		*load;
};

static void
open_req_free(struct open_req *r)
{
	free(r->p.host);
	free(r->p.user);
	free(r->p.ca_id);
	X509_STORE_free(r->p.ca_store);
	free_secret(r->p.password);
	free(r->name);
	free(r);
}

static void
open_continue(struct rpc_call *call, struct open_req *r)
{
	const struct agent_conf	*cf = conf_current();
	struct session		*s;
	char			 id[SESSION_ID_MAX + 1];

	if (r->reuse && (s = session_find_equal(call->uid, &r->p, r->name)) !=
	    NULL) {
		rpc_reply(call, open_result(s, true));
		goto done;
	}
	if (r->name != NULL) {
		if (session_find(call->uid, r->name, false) != NULL) {
			rpc_fail(call, FTPA_ERR_EXISTS, "a session named %s is "
			    "already open", r->name);
			goto done;
		}
		snprintf(id, sizeof(id), "%s", r->name);
	} else {
		do
			snprintf(id, sizeof(id), "s%llu", ++session_serial);
		while (session_lookup(id) != NULL);
	}
	if (call->uid != 0 && session_count(call->uid, false) >=
	    cf->max_sessions_per_uid) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many sessions (at most %d per "
		    "user)", cf->max_sessions_per_uid);
		goto done;
	}
	if (session_count(call->uid, true) >= cf->max_sessions) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many sessions (at most %d in "
		    "all)", cf->max_sessions);
		goto done;
	}
	rpc_defer(call);
	s = session_new(call->uid, id, &r->p, &r->so, open_done, call);
	memset(&r->p, 0, sizeof(r->p));		/* the session's now */
	call->on_gone = open_gone;
	call->gone_arg = s;
done:
	open_req_free(r);
}

static void
open_ca_loaded(X509_STORE *store, const char *id, const char *err, void *arg)
{
	struct rpc_call	*call = arg;
	struct open_req	*r = call->gone_arg;

	r->load = NULL;
	call->on_gone = NULL;
	call->gone_arg = NULL;
	if (err != NULL) {
		rpc_fail(call, FTPA_ERR_LOCAL_IO, "cannot use the CA file: %s", err);
		open_req_free(r);
		return;
	}
	X509_STORE_up_ref(store);
	r->p.ca_store = store;
	r->p.ca_id = xstrdup(id);
	/* pending again, as a login, or answered now */
	call_settle(call);
	open_continue(call, r);
}

static void
open_ca_gone(struct rpc_call *call, void *arg)
{
	struct open_req	*r = arg;

	castore_cancel(r->load);
	open_req_free(r);
}

/*
 * The session's own CA file: a passed descriptor ("ca_fd"), or a path,
 * read only for the agent's own uid and root: a shared agent must not
 * read what the caller could not read itself. 0: loading (the call is
 * pending) or nothing to load; -1: answered.
 */
static int
open_ca(struct rpc_call *call, json_t *params, struct open_req *r,
    const char *path)
{
	int	fd;

	if ((fd = p_fd(call, params, "ca_fd")) == -1)
		return -1;
	if (fd >= 0 && path != NULL) {
		close(fd);
		params_error(call, "give \"ca_file\" or \"ca_fd\", not both");
		return -1;
	}
	if (fd < 0 && path == NULL)
		return 0;
	if (r->p.tls == FTP_TLS_NONE || !r->p.verify) {
		/* nothing will be verified with it */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (path != NULL && call->uid != 0 && call->uid != geteuid()) {
		rpc_fail(call, FTPA_ERR_PERMISSION, "a CA file path is read only for "
		    "the agent's own user; pass the file as a descriptor "
		    "(\"ca_fd\")");
		return -1;
	}
	if ((r->load = castore_load(call->uid, path, fd, open_ca_loaded,
	    call)) == NULL) {
		rpc_fail(call, FTPA_ERR_LIMIT, "too many CA files being read (at "
		    "most %d per user)", CASTORE_LOADS_PER_UID);
		return -1;
	}
	rpc_defer(call);
	call->on_gone = open_ca_gone;
	call->gone_arg = r;
	return 0;
}

/* session.open's connection parameters into r->p: 0, or -1 answered. */
static int
open_target(struct rpc_call *call, json_t *params, struct open_req *r)
{
	const char	*url, *host, *user, *password, *tls, *err;
	struct ftp_url	 u;
	json_int_t	 port;
	int		 mode;

	memset(&u, 0, sizeof(u));
	if (p_str(call, params, "url", false, &url) == -1 ||
	    p_str(call, params, "host", false, &host) == -1 ||
	    p_str(call, params, "user", false, &user) == -1 ||
	    p_str(call, params, "password", false, &password) == -1 ||
	    p_str(call, params, "tls", false, &tls) == -1 ||
	    p_int(call, params, "port", 0, 1, 65535, &port) == -1)
		return -1;
	if ((url == NULL) == (host == NULL)) {
		params_error(call, "give either \"url\" or \"host\"");
		return -1;
	}
	if (url != NULL) {
		if (ftp_url_parse(url, &u, &err) == -1) {
			params_error(call, "bad URL: %s", err);
			return -1;
		}
		r->p.host = u.host;
		r->p.port = port ? port : u.port;
		r->p.user = u.user;
		r->p.password = u.password;
		r->p.tls = u.tls;
		free(u.path);
	} else {
		r->p.host = xstrdup(host);
		r->p.port = port ? port : 21;
		r->p.user = user ? xstrdup(user) : NULL;
	}
	if (password != NULL) {
		free_secret(r->p.password);
		r->p.password = xstrdup(password);
	}
	if (tls != NULL) {
		if ((mode = ftp_tls_mode_from_name(tls)) == -1) {
			params_error(call, "parameter \"tls\" must be none, explicit "
			    "or implicit");
			return -1;
		}
		r->p.tls = mode;
		if (url == NULL && !port && mode == FTP_TLS_IMPLICIT)
			r->p.port = 990;
	}
	if (r->p.user == NULL || r->p.user[0] == '\0') {
		free(r->p.user);
		r->p.user = xstrdup("anonymous");
		if (r->p.password == NULL)
			r->p.password = xstrdup("ftpd-agent@");
	}
	return 0;
}

/*
 * The options whose defaults ftpd-agent.conf sets (conf_session_opt),
 * into the session's parameters. Integers keep to the file's range;
 * seconds may be any non-negative number (zero timeouts are refused by
 * the caller).
 */
static int
open_conf_opts(struct rpc_call *call, json_t *params, struct open_req *r)
{
	struct agent_conf	 o;
	struct conf_session_opt	 k;
	json_int_t		 n;

	memset(&o, 0, sizeof(o));
	for (size_t i = 0; conf_session_opt(i, &o, &k); i++) {
		if (!k.integer) {
			if (p_num(call, params, k.name, *k.d, k.d) == -1)
				return -1;
		} else if (p_int(call, params, k.name, *k.i, (json_int_t)k.min,
		    (json_int_t)k.max, &n) == -1)
			return -1;
		else
			*k.i = (int)n;
	}
	r->p.connect_timeout = o.connect_timeout;
	r->p.reply_timeout = o.reply_timeout;
	r->p.data_timeout = o.data_timeout;
	r->so.max_conns = o.max_connections;
	r->so.retries = o.retries;
	r->so.keepalive = o.keepalive;
	r->so.idle_timeout = o.idle_timeout;
	r->so.retry_delay = o.retry_delay;
	rl_set(&r->p.rl, o.limit_rate, now_mono());
	return 0;
}

void
m_session_open(struct rpc_call *call, json_t *params)
{
	const char	*name, *ca_file, *list_tz;
	long		 tz = 0;
	struct open_req	*r = xcalloc(1, sizeof(*r));
	bool		 passive, verify;

	if (p_str(call, params, "name", false, &name) == -1 ||
	    p_str(call, params, "ca_file", false, &ca_file) == -1 ||
	    p_str(call, params, "list_tz", false, &list_tz) == -1 ||
	    p_bool(call, params, "passive", true, &passive) == -1 ||
	    p_bool(call, params, "verify", true, &verify) == -1 ||
	    p_bool(call, params, "reuse", false, &r->reuse) == -1 ||
	    open_conf_opts(call, params, r) == -1)
		goto fail;
	if (list_tz != NULL && (tz = ftp_list_parse_tz(list_tz)) == LONG_MIN) {
		params_error(call, "parameter \"list_tz\" must be UTC, +HH:MM or "
		    "-HH:MM");
		goto fail;
	}
	if (r->p.connect_timeout <= 0 || r->p.reply_timeout <= 0 ||
	    r->p.data_timeout <= 0) {
		params_error(call, "timeouts must be greater than zero");
		goto fail;
	}
	if (name != NULL && !valid_name(name)) {
		params_error(call, "parameter \"name\" must be 1-64 characters of "
		    "A-Z a-z 0-9 . _ -");
		goto fail;
	}
	r->name = name ? xstrdup(name) : NULL;
	if (open_target(call, params, r) == -1)
		goto fail;
	r->p.passive = passive;
	r->p.verify = verify;
	r->p.list_tz = tz;
	if (open_ca(call, params, r, ca_file) == -1)
		goto fail;
	if (r->load == NULL)
		open_continue(call, r);
	return;
fail:
	open_req_free(r);
}

void
m_session_close(struct rpc_call *call, json_t *params)
{
	struct session	*s;

	s = call->session;
	session_close(s);
	rpc_reply(call, json_object());
}

/* Does s serve u: the same server (scheme, host, port) and user? The
 * URL's password and path do not matter. */
static bool
session_serves(const struct session *s, const struct ftp_url *u)
{
	const char	*user = u->user != NULL && u->user[0] != '\0' ? u->user :
	    "anonymous";

	return s->p.tls == u->tls && s->p.port == u->port &&
	    strcasecmp(s->p.host, u->host) == 0 && strcmp(s->p.user, user) == 0;
}

struct list_arg {
	uid_t			 uid;
	const struct ftp_url	*url;	/* NULL: every session */
	json_t			*arr;
};

static void
list_one(const struct session *s, void *arg)
{
	struct list_arg	*la = arg;

	if ((s->uid == la->uid || la->uid == 0) &&
	    (la->url == NULL || session_serves(s, la->url)))
		json_array_append_new(la->arr, session_json(s));
}

void
m_session_list(struct rpc_call *call, json_t *params)
{
	struct list_arg	 la = { call->uid, NULL, NULL };
	struct ftp_url	 u;
	const char	*url, *err;

	if (p_str(call, params, "url", false, &url) == -1)
		return;
	if (url != NULL && ftp_url_parse(url, &u, &err) == -1) {
		params_error(call, "parameter \"url\": %s", err);
		return;
	}
	la.url = url != NULL ? &u : NULL;
	la.arr = json_array();
	session_each(list_one, &la);
	if (url != NULL)
		ftp_url_clear(&u);
	rpc_reply(call, la.arr);
}
