/*
 * Connecting and logging in: resolve, connect (each address in turn),
 * TLS on the control connection (explicit or implicit), the greeting,
 * USER/PASS, PBSZ/PROT, FEAT, OPTS, PWD, SYST, TYPE.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ftp_parse.h"
#include "log.h"
#include "util.h"
#include "resolver.h"
#include "tls.h"
#include "ftp_priv.h"

static void login_enter(struct ftp_conn *, enum login_step);

/* ---- TLS on the control connection -------------------------------------- */

void
ctrl_start_tls(struct ftp_conn *c)
{
	char	 err[256];
	SSL	*ssl;

	ssl = tls_new(c->p->tls_ctx, io_fd(c->io), c->p->host, c->p->verify,
	    &c->tls_sess, true, err, sizeof(err));
	if (ssl == NULL) {
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s", err);
		return;
	}
	tls_for_control(ssl);
	set_state(c, FTP_S_TLS);
	io_start_tls(c->io, ssl);
}

void
ctrl_tls_ready(struct ftp_conn *c)
{
	snprintf(c->tls_version, sizeof(c->tls_version), "%s",
	    SSL_get_version(io_ssl(c->io)));
	log_debug("%s:%u: TLS %s %s%s", c->p->host, c->p->port, c->tls_version,
	    SSL_get_cipher_name(io_ssl(c->io)),
	    c->p->verify ? "" : " (certificate not verified)");
	if (c->p->tls == FTP_TLS_IMPLICIT) {
		set_state(c, FTP_S_GREETING);
		io_set_timeout(c->io, c->p->connect_timeout);
		return;
	}
	login_enter(c, LOGIN_USER);
}

void
try_connect(struct ftp_conn *c)
{
	for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
		c->io = io_new(ctrl_io_cb, c, false);
		if (io_connect(c->io, c->ai_cur->ai_addr, c->ai_cur->ai_addrlen,
		    c->p->connect_timeout) == 0) {
			set_state(c, FTP_S_CONNECTING);
			login_start(c);
			return;
		}
		log_debug("connect %s: %s", c->p->host, strerror(errno));
		io_free(c->io);
		c->io = NULL;
	}
	conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "cannot connect to %s port %u",
	    c->p->host, c->p->port);
}

static void
resolved(struct addrinfo *res, const char *error, void *arg)
{
	struct ftp_conn	*c = arg;
	char		 err[256];

	c->res = NULL;
	if (res == NULL) {
		conn_drop(c, FTPA_ERR_CONNECT, 0, NULL, "cannot resolve %s: %s",
		    c->p->host, error);
		return;
	}
	if (c->p->tls != FTP_TLS_NONE && c->p->tls_ctx == NULL &&
	    (c->p->tls_ctx = tls_ctx_new(c->p->verify, c->p->ca_store, err,
	    sizeof(err))) == NULL) {
		freeaddrinfo(res);
		conn_drop(c, FTPA_ERR_TLS, 0, NULL, "%s", err);
		return;
	}
	c->ai_list = c->ai_cur = res;
	try_connect(c);
}

void
ftp_conn_start(struct ftp_conn *c, struct ftp_op *login)
{
	c->login = login;
	login->conn = c;
	set_state(c, FTP_S_RESOLVING);
	c->res = resolve_start(c->p->host, c->p->port, resolved, c);
}

/* ---- login -------------------------------------------------------------- */

/*
 * The login is a sequence of named steps, each one command exchange
 * (the greeting has no command): login_enter sends a step's command,
 * login_reply hands its reply to the step's handler, which enters the
 * next step or drops the connection.
 */
static const char *login_step_names[LOGIN_STEP_LAST] = {
	"greeting", "auth", "user", "pass", "pbsz", "prot", "feat",
	"opts_mlst", "opts_utf8", "pwd", "syst", "type",
};

static void	login_reply(struct ftp_conn *, int, const char *);

static void
login_enter(struct ftp_conn *c, enum login_step step)
{
	log_debug("%s:%u: login %s -> %s", c->p->host, c->p->port,
	    login_step_names[c->lstep], login_step_names[step]);
	c->lstep = step;
	switch (step) {
	case LOGIN_AUTH:
		send_cmd(c, login_reply, "AUTH TLS");
		break;
	case LOGIN_USER:
		set_state(c, FTP_S_LOGIN);
		send_cmd(c, login_reply, "USER %s", c->p->user);
		break;
	case LOGIN_PASS:
		send_cmd(c, login_reply, "PASS %s",
		    c->p->password ? c->p->password : "");
		break;
	case LOGIN_PBSZ:
		send_cmd(c, login_reply, "PBSZ 0");	/* RFC 4217 9 */
		break;
	case LOGIN_PROT:
		send_cmd(c, login_reply, "PROT P");
		break;
	case LOGIN_FEAT:
		send_cmd(c, login_reply, "FEAT");
		break;
	case LOGIN_OPTS_MLST:
		/* ask for the facts entries are made of (RFC 3659 7.9) */
		send_cmd(c, login_reply, "OPTS MLST type;size;modify;UNIX.mode;unique;");
		break;
	case LOGIN_OPTS_UTF8:
		send_cmd(c, login_reply, "OPTS UTF8 ON");
		break;
	case LOGIN_PWD:
		send_cmd(c, login_reply, "PWD");
		break;
	case LOGIN_SYST:
		send_cmd(c, login_reply, "SYST");
		break;
	case LOGIN_TYPE:
		send_cmd(c, login_reply, "TYPE I");
		break;
	default:
		conn_drop(c, FTPA_ERR_PROTOCOL, 0, NULL, "bad login step");
		break;
	}
}

bool
login_takes_prelim(const struct ftp_conn *c)
{
	/* 120: ready in a while */
	return c->on_reply == login_reply && c->lstep == LOGIN_GREETING;
}

/* Logged in: the data channel's protection (TLS), then the features. */
static void
logged_in(struct ftp_conn *c)
{
	set_state(c, FTP_S_SETUP);
	login_enter(c, c->p->tls != FTP_TLS_NONE ? LOGIN_PBSZ : LOGIN_FEAT);
}

static void
greeting_done(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 1)
		return;		/* 120: ready in a while */
	if (code == 230 && c->p->tls == FTP_TLS_EXPLICIT) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server logged us in before TLS (230 greeting); "
		    "not continuing in cleartext");
		return;
	}
	if (code != 220) {
		conn_drop(c, FTPA_ERR_CONNECT, code, text,
		    "the server refused the connection: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	c->welcome = xstrdup(text);
	login_enter(c, c->p->tls == FTP_TLS_EXPLICIT ? LOGIN_AUTH : LOGIN_USER);
}

static void
auth_done(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];
	size_t	left;

	if (code != 234) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server refused AUTH TLS: %d %s (TLS was asked for; "
		    "not continuing in cleartext)", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	/* anything behind the 234 was sent before TLS: an injection */
	if (io_peek(c->io, &left) != NULL) {
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server sent data after accepting AUTH TLS "
		    "(possible STARTTLS injection)");
		return;
	}
	ctrl_start_tls(c);	/* USER follows in ctrl_tls_ready */
}

static void
user_done(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code == 230)
		logged_in(c);
	else if (code == 331)
		login_enter(c, LOGIN_PASS);
	else
		conn_drop(c, FTPA_ERR_AUTH, code, text, "login refused: %d %s",
		    code, first_line(text, line, sizeof(line)));
}

static void
pass_done(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code == 230 || code == 202)
		logged_in(c);
	else if (code == 332)
		conn_drop(c, FTPA_ERR_AUTH, code, text,
		    "login refused: the server wants an account (ACCT)");
	else
		conn_drop(c, FTPA_ERR_AUTH, code, text, "login refused: %d %s",
		    code, first_line(text, line, sizeof(line)));
}

/* PBSZ 0 and PROT P: data connections protected, or no session. */
static void
protection_done(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 == 2) {
		login_enter(c, c->lstep == LOGIN_PBSZ ? LOGIN_PROT : LOGIN_FEAT);
		return;
	}
	if (c->lstep == LOGIN_PBSZ)
		conn_drop(c, FTPA_ERR_TLS, code, text, "PBSZ 0 refused: %d %s",
		    code, first_line(text, line, sizeof(line)));
	else
		conn_drop(c, FTPA_ERR_TLS, code, text,
		    "the server refused to protect data connections (PROT P): "
		    "%d %s", code, first_line(text, line, sizeof(line)));
}

/* After FEAT (and OPTS MLST): UTF-8 names if offered, then PWD. */
static void
features_done(struct ftp_conn *c)
{
	login_enter(c, ftp_feat_has(c->feat, "UTF8") ? LOGIN_OPTS_UTF8 :
	    LOGIN_PWD);
}

static void
feat_done(struct ftp_conn *c, int code, const char *text)
{
	if (code == 211 && ftp_parse_feat(text, &c->feat) >= 0) {
		c->has_mlst = ftp_feat_has(c->feat, "MLST");
		if (c->has_mlst) {
			login_enter(c, LOGIN_OPTS_MLST);
			return;
		}
	}
	features_done(c);
}

static void
login_done(struct ftp_conn *c)
{
	struct ftp_op		*op = c->login;
	struct ftp_login_facts	*f;
	size_t			 n = 0;

	set_state(c, FTP_S_READY);
	if (op != NULL) {
		f = op->facts = xcalloc(1, sizeof(*f));
		f->welcome = xstrdup(c->welcome ? c->welcome : "");
		f->system = c->system ? xstrdup(c->system) : NULL;
		f->home = c->home ? xstrdup(c->home) : NULL;
		while (c->feat && c->feat[n])
			n++;
		f->feat = xcalloc(n + 1, sizeof(*f->feat));
		for (size_t i = 0; i < n; i++)
			f->feat[i] = xstrdup(c->feat[i]);
		if (c->io && io_ssl(c->io)) {
			f->tls = true;
			snprintf(f->tls_version, sizeof(f->tls_version), "%s",
			    c->tls_version);
			snprintf(f->tls_cipher, sizeof(f->tls_cipher), "%s",
			    SSL_get_cipher_name(io_ssl(c->io)));
			f->verified = c->p->verify;
		}
		op_complete(c, op);
		if (c->dead)
			return;
	}
	announce_ready(c);
}

/* The one place a login reply goes: to the handler of the step. */
static void
login_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	switch (c->lstep) {
	case LOGIN_GREETING:
		greeting_done(c, code, text);
		break;
	case LOGIN_AUTH:
		auth_done(c, code, text);
		break;
	case LOGIN_USER:
		user_done(c, code, text);
		break;
	case LOGIN_PASS:
		pass_done(c, code, text);
		break;
	case LOGIN_PBSZ:
	case LOGIN_PROT:
		protection_done(c, code, text);
		break;
	case LOGIN_FEAT:
		feat_done(c, code, text);
		break;
	case LOGIN_OPTS_MLST:
		features_done(c);	/* a refusal changes nothing */
		break;
	case LOGIN_OPTS_UTF8:
		login_enter(c, LOGIN_PWD);	/* 200 or 202 alike */
		break;
	case LOGIN_PWD:
		if (code == 257)
			c->home = ftp_parse_pwd(text);
		login_enter(c, LOGIN_SYST);
		break;
	case LOGIN_SYST:
		if (code == 215)
			c->system = xstrdup(first_line(text, line,
			    sizeof(line)));
		login_enter(c, LOGIN_TYPE);
		break;
	case LOGIN_TYPE:
		if (code / 100 == 2)
			c->cur_type = 'I';
		login_done(c);
		break;
	default:
		conn_drop(c, FTPA_ERR_PROTOCOL, code, text, "bad login step");
		break;
	}
}

void
login_start(struct ftp_conn *c)
{
	c->lstep = LOGIN_GREETING;
	c->on_reply = login_reply;
}
