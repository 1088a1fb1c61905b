/*
 * libftpagent's non-blocking core (libclient/core.c, conn.c and the
 * operations over them) against an agent whose every byte comes from the
 * input: the library gets one end of a socketpair (ftpagent_connect_fd),
 * the harness plays the agent on the other.
 *
 * The harness starts a mix of calls, then writes the stream to its end in
 * chunks, with ftpagent_process between them, reading (and checking)
 * what the library writes so that the socket never fills; then it hangs
 * up and processes until no call is pending. The connection's timeout is
 * an hour, so no deadline ever fires: only the agent's bytes and the
 * hang-up end calls. Nothing else on the machine is touched: downloads go
 * to /dev/null or a memfd, uploads come from a memfd, no local file
 * names are used (the background-file functions, which fork, never run).
 *
 * Input: five parameter bytes, a chunk plan (fuzz.h), the stream.
 *
 *   byte 0      calls 0-7 of the table below (bit k: call k)
 *   byte 1      bits 0-3: calls 8-11; bit 4: an event callback (else
 *               notifications are kept); bit 5: transfers in the
 *               background; bit 6: resume (an upload asks fs.stat first);
 *               bit 7: job.wait until the job ends (else 1 s)
 *   byte 2      bits 0-2: a progress callback on transfers (0: none, 7:
 *               never stops, n: returns false on its nth call); bit 3:
 *               download into /dev/null (else a memfd); bit 4: subscribe
 *               to j1 and j2 (else all); bit 5: the first callback sends
 *               job.status "j9"; bit 6: cancel (byte 3), and every
 *               callback cancels its own call once more; bit 7: free the
 *               connection inside a callback (byte 4)
 *   byte 3      cancel call (high nibble + 1) after chunk (low nibble; 15:
 *               inside the first callback)
 *   byte 4      free the connection inside callback number (low nibble +
 *               1), reply and event callbacks counted together; bit 4:
 *               the agent hangs up right after writing its last chunk,
 *               before the library has read it; bit 5: 70 agent.ping
 *               calls more (ids 13-82 with all twelve); bit 6: deadlines
 *               matter (below)
 *
 * The library's clock (conn_now_ms, wrapped at link time) is the
 * harness's: it stands still, so that no deadline passes, unless
 * deadlines matter: then the connection's timeout is a second and the
 * clock moves 300 ms before each chunk is read, so that a call the
 * agent leaves alone for four chunks times out. Either way a run does
 * the same every time.
 *
 * Without an event callback, kept notifications are taken with
 * ftpagent_next_event after each chunk (unless a callback may free the
 * connection: a blocking function's caller still holds it).
 *
 * The calls, started in this order, get the JSON-RPC ids 1, 2, ... of
 * the requests they send (a resumed upload's transfer.put, sent after
 * its fs.stat's reply, gets the next free id then):
 *
 *    0 session.open  "ftp://fuzz@127.0.0.1/"
 *    1 fs.stat       s1 /pub/f.txt
 *    2 fs.list       s1 /pub
 *    3 ftp.quote     s1 "SITE HELP"
 *    4 agent.ping    (ftpagent_send_call)
 *    5 job.status    j1
 *    6 job.list
 *    7 job.wait      j1
 *    8 events.subscribe
 *    9 transfer.get  s1 /pub/f.txt, into /dev/null or a memfd
 *   10 transfer.put  s1 /up.txt, from a memfd (fs.stat first: resume)
 *   11 session.close s1
 *
 * Checks: every send returns the next id; every callback runs exactly
 * once, with its own call's id (and a send that failed never has its
 * callback run); a success carries its operation's members, sane
 * (arrays where counts say, strings that end, counts and codes in their
 * documented ranges, JSON that parses), and only those; a failure has
 * its kind's name (the agent's data.kind only for a JSON-RPC level
 * error, as ftpagent_error_kind says), a message and no results; events
 * and progress hold sane values,
 * progress comes only while its call is in flight and never after it
 * said stop; ftpagent_cancel says true exactly when the callback had not
 * run, and runs it (inside its own callback a call is no longer in
 * flight); what the library writes is one JSON-RPC request per
 * line with ids counting up by one; after the hang-up nothing is pending
 * and the sticky error is FTPAGENT_ERR_AGENT; after ftpagent_free no
 * descriptor stays open; ASan, UBSan and LSan the rest.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpagent.h"
#include "ftpagent_async.h"
#include "jsonrpc.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int64_t	__wrap_conn_now_ms(void);

#define TIMEOUT_MS	(3600 * 1000)	/* no deadline ever fires */
#define TIMEOUT_SHORT	1000		/* when deadlines matter */
#define CLOCK_STEP	300		/* per chunk, when they do */
#define CLOCK_START	INT64_C(1000000000)
#define MANY		70
#define HANGUP_ROUNDS	8
#define CALLS_MAX	128
#define OUT_MAX		(64 * 1024)	/* a request the library writes */

enum kind {
	K_OPEN, K_STAT, K_LIST, K_QUOTE, K_CALL, K_JOB_STATUS, K_JOB_LIST,
	K_JOB_WAIT, K_SUBSCRIBE, K_GET, K_PUT, K_CLOSE, K_LAST
};

/* byte 1 */
#define O_EVENTS	0x10
#define O_BACKGROUND	0x20
#define O_RESUME	0x40
#define O_WAIT_END	0x80
/* byte 2 */
#define O_PROGRESS	0x07
#define O_DEVNULL	0x08
#define O_SUB_JOBS	0x10
#define O_REENTER	0x20
#define O_CANCEL	0x40
#define O_FREE		0x80
/* byte 3 */
#define CANCEL_INSIDE	15
/* byte 4 */
#define O_EARLY_HANGUP	0x10
#define O_MANY		0x20
#define O_DEADLINES	0x40

struct call {
	uint64_t	 id;		/* 0: the send failed */
	enum kind	 kind;
	bool		 background;
	int		 ran;		/* callbacks */
	enum ftpagent_error error;	/* the last callback's */
	int		 progress;	/* progress callbacks */
	bool		 stopped;	/* progress said stop */
};

static struct {
	struct ftpagent	*a;
	bool		 freed;		/* ftpagent_free ran in a callback */
	uint8_t		 o1, o2, o4;	/* parameter bytes */
	int		 stop_at;	/* 0, or the call progress stops */
	int		 cancel_at;	/* chunk; CANCEL_INSIDE */
	uint64_t	 cancel_id;
	int		 free_at;	/* callback number */
	int		 depth;		/* callbacks running */
	int64_t		 now;		/* the library's clock */
	int		 fd;		/* the library's end */
	/* what the watch callback was told last */
	int		 watch_fd;
	unsigned	 watch_events;
	int		 watch_timeout;
	int		 callbacks;	/* reply and event callbacks so far */
	bool		 reentered;
	bool		 subscribed;	/* events.subscribe was sent */
	struct call	 calls[CALLS_MAX];
	size_t		 ncalls;
	uint64_t	 next_id;	/* the id the next send must return */
	size_t		 outlen;	/* in out */
	json_int_t	 last_wire;	/* the last request id it wrote */
	bool		 fds_before[FUZZ_FDS_MAX];
} st;

/* What the library wrote: the unterminated tail of its stream. */
static char		 out[OUT_MAX];

static volatile size_t	 sink;
static bool		 verbose;	/* FUZZ_CLIENT_VERBOSE=1 */

static const char *const kind_names[K_LAST] = {
	"session.open", "fs.stat", "fs.list", "ftp.quote", "agent.ping",
	"job.status", "job.list", "job.wait", "events.subscribe",
	"transfer.get", "transfer.put", "session.close",
};

/* ---- checking what the library hands over ------------------------------- */

/* A string that ends (ASan sees a read past the end). */
static void
check_str(const char *s)
{
	if (s != NULL)
		sink += strlen(s);
}

static void
check_json_text(const char *s)
{
	json_error_t	 jerr;
	json_t		*j;

	FUZZ_CHECK(s != NULL);
	/* \u0000 is JSON, if not every reader's */
	j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		fprintf(stderr, "not JSON: %s: %s\n", jerr.text, s);
	FUZZ_CHECK(j != NULL);
	json_decref(j);
}

/* The protocol names of the error kinds, by enum ftpagent_error. */
static const char *const error_names[] = {
	"", "ftp", "connect", "tls", "auth", "timeout", "not_found", "exists",
	"permission", "cancelled", "no_session", "no_job", "limit",
	"local_io", "protocol", "agent", "rpc", "argument", "nomem",
};
_Static_assert(sizeof(error_names) / sizeof(error_names[0]) ==
    FTPAGENT_ERR_NOMEM + 1, "a name for every error");

/* What ftpagent_error_kind promises: the kind's protocol name, except
 * that a JSON-RPC level error may carry the agent's data.kind. */
static void
check_kind(enum ftpagent_error e, const char *kind)
{
	FUZZ_CHECK(e > FTPAGENT_OK && e <= FTPAGENT_ERR_NOMEM);
	FUZZ_CHECK(kind != NULL && *kind != '\0');
	check_str(kind);
	if (e != FTPAGENT_ERR_RPC)
		FUZZ_CHECK(strcmp(kind, error_names[e]) == 0);
}

static bool
ftp_code_ok(int code)
{
	return code == 0 || (code >= 100 && code <= 599);
}

static void
check_entry(const struct ftpagent_entry *e)
{
	FUZZ_CHECK(e->name != NULL);
	check_str(e->name);
	check_str(e->target);
	check_str(e->raw);
	FUZZ_CHECK(e->type >= FTPAGENT_FILE && e->type <= FTPAGENT_OTHER);
	FUZZ_CHECK(e->size >= -1);
	FUZZ_CHECK(e->perm >= -1);
}

/* A job as <ftpagent.h> describes struct ftpagent_job. */
static void
check_job(const struct ftpagent_job *j)
{
	FUZZ_CHECK(j->id != NULL);
	check_str(j->id);
	check_str(j->session);
	check_str(j->path);
	check_str(j->error_kind);
	check_str(j->error_message);
	check_str(j->ftp_text);
	FUZZ_CHECK(j->state >= FTPAGENT_JOB_UNKNOWN &&
	    j->state <= FTPAGENT_JOB_CANCELLED);
	FUZZ_CHECK(j->direction >= FTPAGENT_XFER_UNKNOWN &&
	    j->direction <= FTPAGENT_XFER_PUT);
	FUZZ_CHECK(j->bytes >= 0);		/* "0 when unknown" */
	FUZZ_CHECK(j->total >= -1);
	FUZZ_CHECK(j->attempts >= 0);
	FUZZ_CHECK(j->uid >= -1);
	FUZZ_CHECK(j->error >= FTPAGENT_OK && j->error <= FTPAGENT_ERR_NOMEM);
	FUZZ_CHECK(ftp_code_ok(j->ftp_code));
	if (j->error == FTPAGENT_OK) {
		FUZZ_CHECK(j->error_kind == NULL && j->error_message == NULL &&
		    j->ftp_text == NULL && j->ftp_code == 0);
		return;
	}
	FUZZ_CHECK(j->error_message != NULL);
	/* the agent may leave the kind out, not contradict the error */
	if (j->error_kind != NULL)
		check_kind(j->error, j->error_kind);
}

static bool
job_empty(const struct ftpagent_job *j)
{
	return j->id == NULL && j->session == NULL && j->path == NULL &&
	    j->error_kind == NULL && j->error_message == NULL &&
	    j->ftp_text == NULL;
}

static bool
entry_empty(const struct ftpagent_entry *e)
{
	return e->name == NULL && e->target == NULL && e->raw == NULL;
}

/* The members an operation does not fill are zero, NULL or "unknown". */
static void
check_others(const struct ftpagent_reply *r, enum kind k, bool background,
    bool ok)
{
	bool xfer = (k == K_GET || k == K_PUT) && !background;

	if (!ok || k != K_OPEN)
		FUZZ_CHECK(r->session == NULL);
	if (!ok || k != K_LIST)
		FUZZ_CHECK(r->entries == NULL && r->n_entries == 0);
	if (!ok || k != K_STAT)
		FUZZ_CHECK(entry_empty(&r->entry));
	if (ok && k != K_STAT)
		FUZZ_CHECK(r->entry.size == -1 && r->entry.mtime == INT64_MIN &&
		    r->entry.perm == -1);
	if (!ok || k != K_QUOTE)
		FUZZ_CHECK(r->text == NULL);
	if (ok && k != K_QUOTE)
		FUZZ_CHECK(r->code == 0);
	if (ok && !xfer)
		FUZZ_CHECK(r->xfer.bytes == 0 && r->xfer.total == -1 &&
		    r->xfer.seconds == 0 && !r->xfer.already_complete);
	if (!ok || !((k == K_GET || k == K_PUT) && background))
		FUZZ_CHECK(r->job_id == NULL);
	if (!ok || (k != K_JOB_STATUS && k != K_JOB_WAIT))
		FUZZ_CHECK(job_empty(&r->job));
	if (ok && k != K_JOB_STATUS && k != K_JOB_WAIT)
		FUZZ_CHECK(r->job.total == -1 && r->job.bytes == 0);
	if (!ok || k != K_JOB_LIST)
		FUZZ_CHECK(r->jobs == NULL && r->n_jobs == 0);
	if (!ok || k != K_CALL)
		FUZZ_CHECK(r->json == NULL);
}

static void
check_success(const struct ftpagent_reply *r, enum kind k, bool background)
{
	size_t	 i;

	FUZZ_CHECK(r->error_message != NULL && *r->error_message == '\0');
	FUZZ_CHECK(r->error_kind != NULL && *r->error_kind == '\0');
	FUZZ_CHECK(r->error_data == NULL && r->ftp_code == 0);
	switch (k) {
	case K_OPEN:
		FUZZ_CHECK(r->session != NULL);
		check_str(r->session);
		break;
	case K_STAT:
		check_entry(&r->entry);
		break;
	case K_LIST:
		FUZZ_CHECK(r->n_entries == 0 || r->entries != NULL);
		for (i = 0; i < r->n_entries; i++)
			check_entry(&r->entries[i]);
		break;
	case K_QUOTE:
		FUZZ_CHECK(r->text != NULL);
		check_str(r->text);
		FUZZ_CHECK(r->code >= 100 && r->code <= 599);
		break;
	case K_CALL:
		check_json_text(r->json);
		break;
	case K_JOB_STATUS:
	case K_JOB_WAIT:
		check_job(&r->job);
		break;
	case K_JOB_LIST:
		FUZZ_CHECK(r->n_jobs == 0 || r->jobs != NULL);
		for (i = 0; i < r->n_jobs; i++)
			check_job(&r->jobs[i]);
		break;
	case K_GET:
	case K_PUT:
		if (background) {
			FUZZ_CHECK(r->job_id != NULL);
			check_str(r->job_id);
			break;
		}
		FUZZ_CHECK(r->xfer.bytes >= 0);
		FUZZ_CHECK(r->xfer.total >= -1);
		FUZZ_CHECK(r->xfer.seconds >= 0);
		FUZZ_CHECK(!r->xfer.already_complete);
		break;
	case K_SUBSCRIBE:
	case K_CLOSE:
	case K_LAST:
		break;
	}
	check_others(r, k, background, true);
}

static void
check_failure(const struct ftpagent_reply *r, enum kind k, bool background)
{
	check_kind(r->error, r->error_kind);
	FUZZ_CHECK(r->error_message != NULL && *r->error_message != '\0');
	check_str(r->error_message);
	FUZZ_CHECK(ftp_code_ok(r->ftp_code));
	if (r->error_data != NULL)
		check_json_text(r->error_data);
	check_others(r, k, background, false);
}

/* ---- callbacks ---------------------------------------------------------- */

static uint64_t	start_call(enum kind k);

static void	cancel_call(void);

/*
 * What a callback does besides checking: the first may start a call and
 * cancel one; with cancelling on, each cancels its own call once more
 * (false: its callback is running, so it is no longer in flight); one
 * may free the connection.
 */
static void
callback_actions(struct ftpagent *a, uint64_t call)
{
	bool	 first = st.callbacks++ == 0;

	st.depth++;
	if (first && (st.o2 & O_REENTER) && !st.reentered) {
		st.reentered = true;
		(void)start_call(K_JOB_STATUS);
	}
	if (st.o2 & O_CANCEL) {
		if (first && st.cancel_at == CANCEL_INSIDE)
			cancel_call();
		if (call != 0)
			FUZZ_CHECK(!ftpagent_cancel(a, call));
	}
	if ((st.o2 & O_FREE) && st.callbacks == st.free_at && !st.freed) {
		st.freed = true;
		ftpagent_free(a);
	}
	st.depth--;
}

static void
reply_cb(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	struct call	*c = arg;

	FUZZ_CHECK(a == st.a);
	FUZZ_CHECK(c >= st.calls && c < st.calls + st.ncalls);
	FUZZ_CHECK(c->id != 0);			/* a failed send's never runs */
	FUZZ_CHECK(r->call == c->id);
	FUZZ_CHECK(++c->ran == 1);
	c->error = r->error;
	if (verbose)
		fprintf(stderr, "call %ju %s%s: %s%s%s\n", (uintmax_t)c->id,
		    kind_names[c->kind], c->background ? " (background)" : "",
		    r->error == FTPAGENT_OK ? "ok" : r->error_kind,
		    r->error == FTPAGENT_OK ? "" : ": ", r->error_message);
	if (r->error == FTPAGENT_OK)
		check_success(r, c->kind, c->background);
	else
		check_failure(r, c->kind, c->background);
	callback_actions(a, c->id);
}

static void
check_event(const struct ftpagent_event *ev)
{
	FUZZ_CHECK(st.subscribed);
	if (verbose)
		fprintf(stderr, "event %d %s\n", (int)ev->type,
		    ev->job.id != NULL ? ev->job.id : ev->session);
	switch (ev->type) {
	case FTPAGENT_EVENT_JOB_PROGRESS:
	case FTPAGENT_EVENT_JOB_FINISHED:
		check_job(&ev->job);
		FUZZ_CHECK(ev->session == NULL && ev->state == NULL);
		break;
	case FTPAGENT_EVENT_SESSION_STATE:
		FUZZ_CHECK(ev->session != NULL);
		check_str(ev->session);
		check_str(ev->state);
		FUZZ_CHECK(ev->connections >= -1 && ev->busy >= -1);
		FUZZ_CHECK(job_empty(&ev->job));
		break;
	default:
		FUZZ_CHECK(!"a known event type");
	}
}

static void
event_cb(struct ftpagent *a, struct ftpagent_event *ev, void *arg)
{
	FUZZ_CHECK(a == st.a && arg == &st);
	check_event(ev);
	callback_actions(a, 0);
}

static bool
progress_cb(void *arg, int64_t bytes, int64_t total)
{
	struct call	*c = arg;

	FUZZ_CHECK(c >= st.calls && c < st.calls + st.ncalls);
	FUZZ_CHECK(c->ran == 0);		/* only while in flight */
	FUZZ_CHECK(!c->stopped);		/* "not called again" */
	FUZZ_CHECK(bytes >= 0);
	FUZZ_CHECK(total >= -1);
	if (verbose)
		fprintf(stderr, "progress %ju: %jd of %jd\n", (uintmax_t)c->id,
		    (intmax_t)bytes, (intmax_t)total);
	if (++c->progress == st.stop_at) {
		c->stopped = true;
		return false;
	}
	return true;
}

/* ---- the clock and the watch -------------------------------------------- */

int64_t
__wrap_conn_now_ms(void)
{
	return st.now;
}

/* An adapter's hook: it may only note what to watch. */
static void
watch_cb(void *arg, int fd, unsigned events, int timeout_ms)
{
	FUZZ_CHECK(arg == &st);
	FUZZ_CHECK((events & ~(unsigned)(FTPAGENT_READ | FTPAGENT_WRITE)) == 0);
	FUZZ_CHECK(fd == st.fd || (fd == -1 && events == 0));
	FUZZ_CHECK(timeout_ms >= -1);
	st.watch_fd = fd;
	st.watch_events = events;
	st.watch_timeout = timeout_ms;
}

/* Once the library is back from a call (not inside a callback: the
 * library is not back yet), the hook knows what is what. */
static void
check_watch(void)
{
	if (st.freed || st.depth > 0)
		return;
	FUZZ_CHECK(st.watch_events == ftpagent_events(st.a));
	FUZZ_CHECK(st.watch_fd == ftpagent_fd(st.a));
	FUZZ_CHECK((st.watch_timeout == -1) == (ftpagent_timeout(st.a) == -1));
}

/* ---- starting calls ----------------------------------------------------- */

static int
memfd_with(const char *data, size_t len)
{
	int	 fd;

	if ((fd = memfd_create("fuzz-client", MFD_CLOEXEC)) == -1)
		abort();
	if (len > 0 && write(fd, data, len) != (ssize_t)len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static uint64_t
start_transfer(struct call *c, struct ftpagent_xfer_opts *xo)
{
	struct ftpagent	*a = st.a;
	uint64_t	 id;
	int		 fd;

	if (c->kind == K_GET) {
		if (st.o2 & O_DEVNULL) {
			fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (fd == -1)
				abort();
			xo->offset = st.o1 & O_RESUME ? 7 : 0;
		} else {
			fd = memfd_with(NULL, 0);
			xo->offset = st.o1 & O_RESUME ? -1 : 0;
		}
		id = (c->background ? ftpagent_send_get_fd_background :
		    ftpagent_send_get_fd)(a, "s1", "/pub/f.txt", fd, xo,
		    reply_cb, c);
	} else {
		fd = memfd_with("hello, agent\n", 13);
		xo->offset = st.o1 & O_RESUME ? -1 : 0;
		id = (c->background ? ftpagent_send_put_fd_background :
		    ftpagent_send_put_fd)(a, "s1", "/up.txt", fd, xo, reply_cb,
		    c);
	}
	/* the library holds its own copy */
	close(fd);
	return id;
}

/* Starts call k; returns its id (0: the send failed). */
static uint64_t
start_call(enum kind k)
{
	static const char *const sub_jobs[] = { "j1", "j2", NULL };
	struct ftpagent		*a = st.a;
	struct ftpagent_xfer_opts xo;
	struct call		*c;
	uint64_t		 id = 0;

	if (st.ncalls == CALLS_MAX)
		return 0;
	c = &st.calls[st.ncalls++];
	memset(c, 0, sizeof(*c));
	c->kind = k;
	memset(&xo, 0, sizeof(xo));
	if ((st.o2 & O_PROGRESS) != 0) {
		xo.progress = progress_cb;
		xo.progress_arg = c;
	}
	switch (k) {
	case K_OPEN:
		id = ftpagent_send_open(a, "ftp://fuzz@127.0.0.1/", NULL,
		    reply_cb, c);
		break;
	case K_STAT:
		id = ftpagent_send_stat(a, "s1", "/pub/f.txt", reply_cb, c);
		break;
	case K_LIST:
		id = ftpagent_send_list(a, "s1", "/pub", reply_cb, c);
		break;
	case K_QUOTE:
		id = ftpagent_send_quote(a, "s1", "SITE HELP", reply_cb, c);
		break;
	case K_CALL:
		id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
		    reply_cb, c);
		break;
	case K_JOB_STATUS:
		id = ftpagent_send_job_status(a, st.reentered ? "j9" : "j1",
		    reply_cb, c);
		break;
	case K_JOB_LIST:
		id = ftpagent_send_job_list(a, reply_cb, c);
		break;
	case K_JOB_WAIT:
		id = ftpagent_send_job_wait(a, "j1", st.o1 & O_WAIT_END ? 0 :
		    1000, reply_cb, c);
		break;
	case K_SUBSCRIBE:
		id = ftpagent_send_subscribe(a, st.o2 & O_SUB_JOBS ? sub_jobs :
		    NULL, reply_cb, c);
		if (id != 0)
			st.subscribed = true;
		break;
	case K_GET:
	case K_PUT:
		c->background = (st.o1 & O_BACKGROUND) != 0;
		id = start_transfer(c, &xo);
		break;
	case K_CLOSE:
		id = ftpagent_send_close(a, "s1", reply_cb, c);
		break;
	case K_LAST:
		abort();
	}
	c->id = id;
	return id;
}

/* ---- the agent's end ---------------------------------------------------- */

/* One line the library wrote: a request with the next id, or an
 * answer to one of the agent's requests (local.* of a tree, or an error
 * for one it does not serve). */
static void
check_request(const char *line, size_t len)
{
	struct jsonrpc_msg	 m;
	const char		*err = NULL;
	json_t			*bad = NULL;

	if (verbose)
		fprintf(stderr, "> %.*s\n", (int)len, line);
	if (jsonrpc_parse(line, len, &m, &err, &bad) != 0) {
		fprintf(stderr, "the library wrote %.*s: %s\n", (int)len, line,
		    err);
		FUZZ_CHECK(!"the library writes JSON-RPC");
	}
	FUZZ_CHECK(bad == NULL);
	if (m.type == JSONRPC_RESPONSE || m.type == JSONRPC_ERROR) {
		FUZZ_CHECK(m.id != NULL);
		jsonrpc_msg_clear(&m);
		return;
	}
	FUZZ_CHECK(m.type == JSONRPC_REQUEST && json_is_integer(m.id));
	FUZZ_CHECK(json_integer_value(m.id) == st.last_wire + 1);
	st.last_wire = json_integer_value(m.id);
	jsonrpc_msg_clear(&m);
}

/* Reads what the library wrote (closing the descriptors that came with
 * it) and checks its lines. */
static void
drain(int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 32)];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	ssize_t		 n;
	size_t		 i, k, nfds, start;
	int		 fds[32];

	for (;;) {
		FUZZ_CHECK(st.outlen < sizeof(out));
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = out + st.outlen;
		iov.iov_len = sizeof(out) - st.outlen;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			break;
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
		    cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
			for (k = 0; k < nfds; k++)
				close(fds[k]);
		}
		FUZZ_CHECK((msg.msg_flags & MSG_CTRUNC) == 0);
		start = 0;
		for (i = st.outlen; i < st.outlen + (size_t)n; i++)
			if (out[i] == '\n') {
				check_request(out + start, i - start);
				start = i + 1;
			}
		st.outlen += (size_t)n;
		memmove(out, out + start, st.outlen - start);
		st.outlen -= start;
	}
}

/* The library's turn: what the socket has, then what it wrote (fake
 * -1: the agent has hung up). */
static void
library_turn(int fake)
{
	if (st.freed)
		return;
	(void)ftpagent_process(st.a, FTPAGENT_READ | FTPAGENT_WRITE);
	check_watch();
	if (fake != -1)
		drain(fake);
}

/* The notifications kept without an event callback, as a program that
 * polls for them takes them. */
static void
take_events(void)
{
	struct ftpagent_event	 ev;
	enum ftpagent_error	 e;
	int			 i;

	if (st.freed || !st.subscribed || (st.o1 & O_EVENTS) ||
	    (st.o2 & O_FREE))
		return;
	for (i = 0; i < 64; i++) {
		if (!ftpagent_next_event(st.a, &ev, 0)) {
			/* none, or the connection failed while it looked */
			e = ftpagent_error(st.a);
			FUZZ_CHECK(e == FTPAGENT_OK || e == FTPAGENT_ERR_AGENT);
			FUZZ_CHECK(ev.type == FTPAGENT_EVENT_NONE);
			break;
		}
		check_event(&ev);
		ftpagent_event_clear(&ev);
	}
	check_watch();
}

/* Writes a chunk; false once the library has hung up. */
static bool
agent_write(int fake, const uint8_t *p, size_t len)
{
	ssize_t	 n;
	int	 tries = 0;

	while (len > 0) {
		n = send(fake, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN && ++tries < 64 && !st.freed) {
			library_turn(fake);
			continue;
		}
		return false;
	}
	return true;
}

static void
cancel_call(void)
{
	struct call	*c = NULL;
	size_t		 i;
	bool		 ok;
	int		 ran;

	for (i = 0; i < st.ncalls; i++)
		if (st.calls[i].id == st.cancel_id)
			c = &st.calls[i];
	ran = c != NULL ? c->ran : 1;
	ok = ftpagent_cancel(st.a, st.cancel_id);
	/* true exactly when the callback was still to run, and it has now */
	FUZZ_CHECK(ok == (ran == 0));
	if (ok)
		FUZZ_CHECK(c->ran == 1 && c->error == FTPAGENT_ERR_CANCELLED);
	check_watch();
}

/* ---- one input ---------------------------------------------------------- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in		 in = { data, size };
	struct fuzz_chunks	 plan;
	struct call		*c;
	unsigned		 mask;
	size_t			 i, chunk, n;
	int			 sv[2], k, fd;
	bool			 open = true;

	memset(&st, 0, sizeof(st));
	mask = fuzz_u8(&in);
	st.o1 = fuzz_u8(&in);
	mask |= (unsigned)(st.o1 & 0x0f) << 8;
	st.o2 = fuzz_u8(&in);
	k = fuzz_u8(&in);
	st.cancel_at = k & 15;
	st.cancel_id = (uint64_t)(k >> 4) + 1;
	st.o4 = fuzz_u8(&in);
	st.free_at = (st.o4 & 15) + 1;
	st.stop_at = (st.o2 & O_PROGRESS) == 7 ? 0 : st.o2 & O_PROGRESS;
	fuzz_chunks_take(&plan, &in, 15);

	fuzz_fd_scan(st.fds_before, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1)
		abort();
	st.now = CLOCK_START;
	st.fd = sv[0];
	st.a = ftpagent_connect_fd(sv[0]);
	FUZZ_CHECK(st.a != NULL && ftpagent_error(st.a) == FTPAGENT_OK);
	ftpagent_set_timeout(st.a, st.o4 & O_DEADLINES ? TIMEOUT_SHORT :
	    TIMEOUT_MS);
	ftpagent_set_watch(st.a, watch_cb, &st);
	if (st.o1 & O_EVENTS)
		ftpagent_set_event_cb(st.a, event_cb, &st);

	/* the ids are the requests', counting from 1 */
	st.next_id = 1;
	for (k = 0; k < K_LAST; k++) {
		if ((mask & 1U << k) == 0)
			continue;
		FUZZ_CHECK(start_call((enum kind)k) == st.next_id);
		st.next_id++;
	}
	for (k = 0; (st.o4 & O_MANY) && k < MANY; k++) {
		FUZZ_CHECK(start_call(K_CALL) == st.next_id);
		st.next_id++;
	}
	FUZZ_CHECK(ftpagent_pending(st.a) == st.ncalls);
	check_watch();
	library_turn(sv[1]);

	for (chunk = 0; in.len > 0 && !st.freed; chunk++) {
		n = fuzz_chunks_next(&plan, in.len);
		if (open && !agent_write(sv[1], in.p, n))
			open = false;
		in.p += n;
		in.len -= n;
		if (in.len == 0 && (st.o4 & O_EARLY_HANGUP)) {
			drain(sv[1]);
			close(sv[1]);
			sv[1] = -1;
		}
		if (st.o4 & O_DEADLINES)
			st.now += CLOCK_STEP;
		library_turn(sv[1]);
		take_events();
		if ((st.o2 & O_CANCEL) && chunk == (size_t)st.cancel_at &&
		    !st.freed)
			cancel_call();
	}

	/* the agent hangs up */
	if (sv[1] != -1)
		close(sv[1]);
	for (k = 0; k < HANGUP_ROUNDS && !st.freed &&
	    ftpagent_pending(st.a) > 0; k++)
		(void)ftpagent_process(st.a, FTPAGENT_READ);
	if (!st.freed) {
		/* a hang-up with nothing in flight is noticed too */
		FUZZ_CHECK(!ftpagent_process(st.a, FTPAGENT_READ));
		if (st.freed)
			goto freed;
		FUZZ_CHECK(ftpagent_pending(st.a) == 0);
		FUZZ_CHECK(ftpagent_error(st.a) == FTPAGENT_ERR_AGENT);
		check_str(ftpagent_error_message(st.a));
		FUZZ_CHECK(ftpagent_events(st.a) == 0);
		FUZZ_CHECK(ftpagent_timeout(st.a) == -1);
		check_watch();
		ftpagent_free(st.a);
		FUZZ_CHECK(st.watch_fd == -1 && st.watch_events == 0);
	}
freed:
	st.a = NULL;
	for (i = 0; i < st.ncalls; i++) {
		c = &st.calls[i];
		FUZZ_CHECK(c->ran == (c->id != 0 ? 1 : 0));
	}
	if ((fd = fuzz_fd_scan(NULL, st.fds_before)) != -1) {
		fprintf(stderr, "fuzz_client: descriptor %d left open\n", fd);
		FUZZ_CHECK(!"no descriptor left open after ftpagent_free");
	}
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*v;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	verbose = (v = getenv("FUZZ_CLIENT_VERBOSE")) != NULL && *v == '1';
	return 0;
}
