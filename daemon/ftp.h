/*
 * FTP engine: one control connection and its data connections, driven by
 * io events. A connection logs in, then runs one operation at a time
 * (list, stat, get, put) handed to it by its session. Replies are read by
 * protocol/ftp_reply; every wait has a timeout.
 */
#ifndef FTPA_FTP_H
#define FTPA_FTP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "ftp_list.h"
#include "ftpa_error.h"
#include "localfd.h"
#include "ratelimit.h"
#include "url.h"

struct ftp_params {
	char		*host;
	uint16_t	 port;
	char		*user;
	char		*password;
	enum ftp_tls_mode tls;
	bool		 verify;	/* TLS: check the certificate and host */
	char		*ca_id;		/* TLS: the content of the session's own
					   CA file ("sha256:..."), or NULL */
	X509_STORE	*ca_store;	/* TLS: the default CAs plus that file's
					   (a reference), or NULL: the default */
	bool		 passive;
	long		 list_tz;	/* LIST dates: seconds east of UTC */
	bool		 epsv_off;	/* EPSV was refused: PASV from then on */
	bool		 data_tls_first; /* the server sends its 1xx only after
					   the data connection's TLS handshake */
	bool		 size_in_150;	/* the server's 150 to RETR gave the size
					   SIZE gave: no SIZE before a download
					   from the first byte */
	SSL_CTX		*tls_ctx;	/* made by the first connection, shared:
					   the CA store is loaded once */
	double		 keepalive;	/* NOOP interval during transfers */
	double		 connect_timeout;
	double		 reply_timeout;
	double		 data_timeout;
	struct ratelimit rl;		/* the session's limit, shared by its
					   transfers (rl.rate 0: none) */
};

/* An error as the RPC layer reports it. */
struct op_error {
	enum ftpa_err	 kind;
	int		 ftp_code;	/* 0: none */
	char		*ftp_text;	/* NULL: none */
	char		 msg[256];
};
void	 op_error_set(struct op_error *, enum ftpa_err, int code, const char *text,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void	 op_error_clear(struct op_error *);
void	 op_error_copy(struct op_error *dst, const struct op_error *src);
/* {code, message, data:{kind, ftp_code?, ftp_text?}} */

/*
 * What a list, stat, quote or cmd op found, typed: the RPC layer writes
 * it out with the wire codec (protocol/wire.h). Released by ftp_op_free.
 */
struct ftp_op_result {
	struct ftp_entry *entries;	/* list: the directory's; stat: one */
	size_t		 n_entries;
	bool		 mlsd;		/* list: read from MLSD, else LIST */
	int		 code;		/* quote, cmd: the final reply */
	char		*text;
};
void	ftp_op_result_clear(struct ftp_op_result *);

/* What a login learned: OP_LOGIN's result. */
struct ftp_login_facts {
	char		*welcome;	/* the greeting's text */
	char		*system;	/* SYST's answer, or NULL */
	char		*home;		/* the login directory (PWD), or NULL */
	char		**feat;		/* FEAT's lines (NULL-terminated), or NULL */
	bool		 tls;		/* the control connection is protected */
	char		 tls_version[16];
	char		 tls_cipher[64];
	bool		 verified;	/* ... and its certificate was checked */
};
void	 ftp_login_facts_free(struct ftp_login_facts *);

enum op_kind { OP_LOGIN, OP_LIST, OP_STAT, OP_GET, OP_PUT, OP_QUOTE, OP_CMD,
	OP_KIND_LAST };

struct ftp_op;
typedef void (*op_done_cb)(struct ftp_op *, void *arg);
typedef void (*op_progress_cb)(struct ftp_op *, void *arg);

struct ftp_op {
	enum op_kind	 kind;
	char		*path;
	/* transfers */
	struct localfd	 lfd;
	int64_t		 offset;
	bool		 append;
	bool		 ascii;
	int64_t		 bytes;		/* moved so far */
	int64_t		 held;		/* a download's: of bytes, received
					   but not yet in the local file (the
					   copy loop's buffer) */
	bool		 rest_restart;	/* REST refused: start from zero */
	bool		 restarted;	/* ... which happened */
	bool		 put_resume;	/* an upload's retry: SIZE, then REST
					   at what the server has */
	/* OP_CMD: path is the first command, cmd2 an optional second one sent
	 * after a 3xx (RNFR/RNTO); a 550 to the first is kind not_found when
	 * notfound_550 */
	char		*cmd2;
	bool		 notfound_550;
	int64_t		 total;		/* -1: unknown */
	int64_t		 end;		/* OP_GET of a range: it ends before
					   this offset (-1: the file's end) */
	struct ratelimit *rl;		/* the job's (or tree's) limit, or NULL:
					   it outlives the op */
	/* outcome */
	bool		 failed;
	struct op_error	 err;
	struct ftp_op_result res;	/* list, stat, quote, cmd */
	struct ftp_login_facts *facts;	/* login */
	/* callbacks into the owner (session/job) */
	op_done_cb	 done;
	op_progress_cb	 progress;
	void		*arg;
	/* engine state, private to the engine (daemon/ftp*.c) */
	struct ftp_conn	*conn;
	bool		 prelim_seen;
	bool		 final_seen;
	bool		 data_eof;
	bool		 src_eof;
	bool		 stat_listing;	/* OP_STAT reading the parent's listing */
	bool		 list_single;	/* OP_LIST of what is no directory we can
					   enter: stat's way, one entry */
	int		 nodir_code;	/* ... the reply that said so */
	char		*nodir_text;
	bool		 range_done;	/* the range (end) is all here: the data
					   connection was ours to close */
	bool		 cut_short;	/* failed: the data ended early (a resume
					   may complete it) */
	int		 final_code;
	char		*final_text;
	struct ftp_op	*next;		/* session queue */
	struct session	*session;	/* the one it was submitted to */
};

/* Whether a failed op met a network failure worth another try: the
 * connection lost or refused, a timeout, a 4xx (transient) reply such
 * as 421, 425 or 426. */
bool		 ftp_op_transient(const struct ftp_op *);
/* path is the raw command for OP_QUOTE. */
struct ftp_op	*ftp_op_new(enum op_kind, const char *path);
void		 ftp_op_free(struct ftp_op *);
const char	*ftp_op_kind_name(enum op_kind);

enum ftp_conn_event {
	FTP_CONN_READY,		/* logged in and idle: can take an operation */
	FTP_CONN_CLOSED,	/* gone; free it with ftp_conn_free */
};
struct ftp_conn;
struct session;
typedef void (*ftp_conn_cb)(struct ftp_conn *, enum ftp_conn_event, void *arg);

/* params are borrowed, must outlive the connection and are shared by all
 * the session's connections (a refused EPSV is remembered there). */
struct ftp_conn	*ftp_conn_new(struct ftp_params *, ftp_conn_cb, void *arg);
/* Connects and logs in; login (kind OP_LOGIN) completes with result
 * {welcome, features, system} or an error. */
void		 ftp_conn_start(struct ftp_conn *, struct ftp_op *login);
/* Runs op; the connection must be idle (ftp_conn_idle). */
void		 ftp_conn_run(struct ftp_conn *, struct ftp_op *);
bool		 ftp_conn_idle(const struct ftp_conn *);
/* Closes the empty splice pipes kept for the next transfers at once
 * (they go by themselves 2 s after the last was kept): for a caller
 * that counts its descriptors. */
void		 ftp_pipes_release(void);
bool		 ftp_conn_alive(const struct ftp_conn *);
/* Fails the running op with kind cancelled and drops the connection
 * (the server cannot be trusted to be in a known state). */
void		 ftp_conn_cancel(struct ftp_conn *, struct ftp_op *);
/* Sends QUIT (bounded wait) and closes; FTP_CONN_CLOSED follows. */
void		 ftp_conn_quit(struct ftp_conn *);
/* Immediate close without events; safe in callbacks. */
void		 ftp_conn_free(struct ftp_conn *);
const char	*ftp_conn_state_name(const struct ftp_conn *);
/* TLS facts of a connection: protocol version or NULL when plain, and
 * whether data connections resumed its session (1 yes, 0 no, -1 unknown). */
const char	*ftp_conn_tls_version(const struct ftp_conn *);
int		 ftp_conn_tls_reuse(const struct ftp_conn *);

#endif
