/*
 * Whole FTP sessions: the daemon's FTP engine (daemon/ftp*.c over io.c,
 * localfd.c, resolver.c, tls.c, on a libev loop), from the greeting to
 * QUIT, against a server whose every byte comes from the input (the
 * script: README.md, "The session harness"; the server: fuzz_server.c).
 *
 * The loop and the server take turns. connect(2) is wrapped at link time
 * (-Wl,--wrap=connect): the engine's first connection goes to the
 * server's control listener, every later one (passive data connections,
 * whatever port the input named) to its data listener, so nothing else
 * on the machine is reached.
 *
 * Checks: the session ends (the engine reports FTP_CONN_CLOSED) once the
 * server has closed everything, within a bound of loop rounds; login and
 * operation complete exactly once, with what their kind promises; no
 * descriptor stays open afterwards; ASan, UBSan and LSan the rest.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "ftp.h"
#include "localfd.h"
#include "log.h"
#include "resolver.h"
#include "util.h"
#include "fuzz.h"
#include "fuzz_session.h"

#define IDLE_ROUNDS	4	/* loop rounds without I/O: the engine waits */
#define ROUNDS_MAX	200000	/* then the session is taken to hang */
#define PUT_LEN		5000
/* Descriptors open before a session: libFuzzer's symbolizer may open
 * pipes between sessions, so the set is taken anew each time. */

int	LLVMFuzzerInitialize(int *, char ***);

/* The daemon is linked without main.c: agent.* of rpc.c never runs here,
 * but its calls into main.c must resolve. */
const struct agent_self *
agent_self(void)
{
	static const struct agent_self self = { .socket = "" };

	return &self;
}

int
agent_reload(char *err, size_t errlen)
{
	snprintf(err, errlen, "not in the fuzz harness");
	return -1;
}

void
agent_stop(void)
{
}

enum phase { PH_LOGIN, PH_OP, PH_QUIT };

struct engine {
	struct ftp_params p;
	struct ftp_conn	*c;
	struct ftp_op	*login;
	struct ftp_op	*op;
	enum phase	 phase;
	int		 login_done;	/* completions seen */
	int		 op_done;
	bool		 op_started;
	bool		 closed;
};

static struct engine	 eng;
static uint16_t		 ctrl_port;
static bool		 fds_before[FUZZ_FDS_MAX];
static char		 put_data[PUT_LEN];

/* ---- the engine side ----------------------------------------------------- */

static void
op_done(struct ftp_op *op, void *arg)
{
	FUZZ_CHECK(op->conn == NULL);
	if (op == eng.login)
		FUZZ_CHECK(++eng.login_done == 1);
	else
		FUZZ_CHECK(op == eng.op && ++eng.op_done == 1);
	if (op->failed) {
		FUZZ_CHECK(op->err.kind != FTPA_ERR_NONE && op->err.msg[0]);
		return;
	}
	FUZZ_CHECK(op->err.kind == FTPA_ERR_NONE);
	if (op->kind == OP_LOGIN)
		FUZZ_CHECK(op->facts != NULL && op->facts->welcome != NULL);
	/* the typed result each kind promises (struct ftp_op_result) */
	if (op->kind == OP_STAT)
		FUZZ_CHECK(op->res.n_entries == 1 &&
		    op->res.entries[0].name != NULL);
	if (op->kind == OP_LIST)
		for (size_t i = 0; i < op->res.n_entries; i++)
			FUZZ_CHECK(op->res.entries[i].name != NULL);
	if (op->kind == OP_QUOTE || op->kind == OP_CMD)
		FUZZ_CHECK(op->res.text != NULL && op->res.code >= 100);
	if (op->kind == OP_GET && !op->ascii && op->total >= op->offset)
		FUZZ_CHECK(op->bytes == op->total - op->offset);
	/* what was counted is what the caller has, restarts included
	 * (corpus/session/early-data-restart) */
	if (op->kind == OP_GET && !op->ascii && op->lfd.kind == LFD_MEMORY)
		FUZZ_CHECK(op->lfd.mem_len == (size_t)op->bytes);
}

static void
conn_cb(struct ftp_conn *c, enum ftp_conn_event ev, void *arg)
{
	if (ev == FTP_CONN_CLOSED) {
		eng.closed = true;
		return;
	}
	FUZZ_CHECK(ftp_conn_idle(c));
	switch (eng.phase) {
	case PH_LOGIN:
		FUZZ_CHECK(eng.login_done == 1 && !eng.login->failed);
		eng.phase = PH_OP;
		if (eng.op != NULL) {
			eng.op_started = true;
			ftp_conn_run(c, eng.op);
			break;
		}
		/* FALLTHROUGH */
	case PH_OP:
		eng.phase = PH_QUIT;
		ftp_conn_quit(c);
		break;
	case PH_QUIT:
		break;
	}
}

/* A local file the engine can splice into or sendfile from. */
static int
memfd_with(const char *data, size_t len)
{
	int	 fd;

	if ((fd = memfd_create("fuzz-session", MFD_CLOEXEC)) == -1)
		abort();
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static struct ftp_op *
transfer_op(enum op_kind kind, const char *path)
{
	struct ftp_op	*op = ftp_op_new(kind, path);
	const char	*err;
	char		*copy;

	op->ascii = (sc.flags & F_ASCII) != 0;
	op->rest_restart = (sc.flags & F_RESTART) != 0;
	if (kind == OP_GET) {
		op->offset = sc.flags & F_RESUME ? 3 : 0;
		if (sc.flags & F_FILE) {
			if (localfd_open(&op->lfd, memfd_with(NULL, 0), true,
			    op->offset, &err) == -1)
				abort();
		} else
			localfd_open_mem_sink(&op->lfd, 1024 * 1024);
		return op;
	}
	op->append = (sc.flags & F_APPEND) != 0;
	op->put_resume = (sc.flags & F_RESUME) != 0;
	if (sc.flags & F_FILE) {
		if (localfd_open(&op->lfd, memfd_with(put_data, PUT_LEN), false,
		    0, &err) == -1)
			abort();
	} else {
		copy = fuzz_dup(put_data, PUT_LEN);
		localfd_open_mem_source(&op->lfd, copy, PUT_LEN);
	}
	return op;
}

static struct ftp_op *
make_op(void)
{
	struct ftp_op	*op = NULL;

	switch (sc.op) {
	case C_LOGIN:
		return NULL;
	case C_LIST:
		op = ftp_op_new(OP_LIST, sc.flags & F_RESUME ? "" : "pub");
		break;
	case C_STAT:
		op = ftp_op_new(OP_STAT, sc.flags & F_RESUME ? "f.txt" :
		    "pub/f.txt");
		break;
	case C_GET:
		op = transfer_op(OP_GET, "f.txt");
		break;
	case C_PUT:
		op = transfer_op(OP_PUT, "up.txt");
		break;
	case C_QUOTE:
		op = ftp_op_new(OP_QUOTE, "SITE HELP");
		break;
	case C_RENAME:
		op = ftp_op_new(OP_CMD, "RNFR a");
		op->cmd2 = xstrdup("RNTO b");
		break;
	case C_DELETE:
		op = ftp_op_new(OP_CMD, "DELE a");
		op->notfound_550 = true;
		break;
	default:
		abort();
	}
	return op;
}

static void
engine_start(void)
{
	double		 t = sc.flags & F_TIMEOUT ? 0.001 : 60;
	static char	 host[] = "127.0.0.1", user[] = "anonymous";
	static char	 pass[] = "fuzz@";

	memset(&eng, 0, sizeof(eng));
	eng.p.host = host;
	eng.p.port = ctrl_port;
	eng.p.user = user;
	eng.p.password = pass;
	eng.p.tls = sc.flags & F_IMPLICIT ? FTP_TLS_IMPLICIT :
	    sc.flags & F_TLS ? FTP_TLS_EXPLICIT : FTP_TLS_NONE;
	eng.p.verify = false;
	eng.p.passive = (sc.flags & F_ACTIVE) == 0;
	eng.p.epsv_off = (sc.flags & F_NOEPSV) != 0;
	eng.p.size_in_150 = (sc.flags & F_SIZE150) != 0;
	eng.p.keepalive = sc.flags & F_KEEPALIVE ? 0.0005 : 0;
	eng.p.connect_timeout = eng.p.reply_timeout = eng.p.data_timeout = t;
	eng.op = make_op();
	if (eng.op != NULL) {
		eng.op->done = op_done;
		eng.op->arg = &eng;
	}
	eng.login = ftp_op_new(OP_LOGIN, NULL);
	eng.login->done = op_done;
	eng.login->arg = &eng;
	eng.c = ftp_conn_new(&eng.p, conn_cb, &eng);
	ftp_conn_start(eng.c, eng.login);
}

/* ---- one session --------------------------------------------------------- */

/* Names the descriptors open now, when one was left behind. */
static void
fd_dump(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[64], target[256];
	ssize_t		 n;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
			n = 0;
		target[n] = '\0';
		fprintf(stderr, "fd %s: %s\n", e->d_name, target);
	}
	closedir(d);
}

static void __attribute__((noreturn))
hang(const char *why, long rounds)
{
	fprintf(stderr, "fuzz_session: %s after %ld loop rounds: engine %s, "
	    "login completed %d, op completed %d, server control %s, %zu data "
	    "connections open, chunks left %zu/%zu\n", why, rounds,
	    ftp_conn_state_name(eng.c), eng.login_done, eng.op_done,
	    server_ctrl_open() ? "open" : "closed", server_data_open(),
	    sc.nctrl - sc.next_ctrl, sc.ndata - sc.next_data);
	abort();
}

/*
 * Runs the loop and the server in turns until the engine reports the
 * connection closed. The server moves on only when nothing else does, so
 * every step it takes either answers the engine or closes something: the
 * session must end within a bounded number of rounds.
 */
static void
session_run(void)
{
	long	 rounds, idle = 0, stuck = 0;

	for (rounds = 0; !eng.closed; rounds++) {
		cur_round = rounds;
		if (rounds > ROUNDS_MAX)
			hang("the session did not end", rounds);
		ev_run(loop_get(), EVRUN_NOWAIT);
		if (eng.closed)
			break;
		if (server_take_cancel() && eng.op != NULL &&
		    eng.op->conn != NULL) {
			ftp_conn_cancel(eng.c, eng.op);
			continue;
		}
		if (server_poll()) {
			idle = 0;
			continue;
		}
		if (++idle < IDLE_ROUNDS)
			continue;
		idle = 0;
		/* all closed: the engine has seen the end of its control
		 * connection, or will in a few rounds */
		if (!server_advance() && ++stuck > 1000)
			hang("the engine missed the end of the control "
			    "connection", rounds);
	}
}

static void
session_end(void)
{
	int	 fd;

	FUZZ_CHECK(eng.login_done == 1);
	FUZZ_CHECK(!eng.op_started || eng.op_done == 1);
	FUZZ_CHECK(!ftp_conn_alive(eng.c) && !ftp_conn_idle(eng.c));
	ftp_conn_free(eng.c);
	server_reset();
	ev_run(loop_get(), EVRUN_NOWAIT);
	defer_run();
	ftp_op_free(eng.login);
	ftp_op_free(eng.op);
	if (eng.p.tls_ctx != NULL)
		SSL_CTX_free(eng.p.tls_ctx);
	ftp_pipes_release();	/* a cache of the engine's, not a leak */
	if ((fd = fuzz_fd_scan(NULL, fds_before)) != -1) {
		fprintf(stderr, "fuzz_session: descriptor %d left open\n", fd);
		fd_dump();
		FUZZ_CHECK(!"no descriptor left open after the session");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	script_parse((const char *)data, size);
	server_reset();
	fuzz_fd_scan(fds_before, NULL);
	engine_start();
	session_run();
	session_end();
	return 0;
}

/* ---- set-up ------------------------------------------------------------------ */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ev_loop	*loop;
	const char	*v;
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		fprintf(stderr, "fuzz_session: no event loop\n");
		exit(1);
	}
	loop_set(loop);
	defer_init(loop);
	resolver_init(loop);
	verbose = (v = getenv("FUZZ_SESSION_VERBOSE")) != NULL && *v == '1';
	if (verbose)
		log_init(1, false);
	else
		log_setlevel(LOG_LVL_ERR);
	ctrl_port = server_init();
	/* text lines of several lengths, CRLF and bare LF */
	for (i = 0; i < PUT_LEN; i++)
		put_data[i] = i % 61 == 60 ? '\n' : i % 97 == 96 ? '\r' :
		    (char)('a' + i % 26);
	ev_run(loop_get(), EVRUN_NOWAIT);
	return 0;
}
