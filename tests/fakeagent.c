/*
 * The fake agent of tests/check_async*.c (see fakeagent.h): requests
 * read off the agent's end with their descriptors, replies and
 * notifications written to it, the library driven as an event loop
 * would, and what its callbacks were given.
 */
#include <config.h>	/* _GNU_SOURCE: vasprintf */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fakeagent.h"

#define LINE_MAX_FAKE	(1024 * 1024)

struct ftpagent *a;
int agent = -1;
pid_t child = -1;
int seq;
struct rec recs[NRECS];
struct evs evs;

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A file of its own, already unlinked. */
int
temp_file(const char *content)
{
	char path[] = "/tmp/check_async.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	if (content != NULL)
		ck_assert_int_eq(write(fd, content, strlen(content)),
		    (ssize_t)strlen(content));
	return fd;
}

/* ---- the fake agent: requests in ----------------------------------------- */

/* What the requests read by agent_req hold, released by req_clear or,
 * when a test stops at a failed assertion, by the teardown (so that a
 * leak check sees only the library's). */
#define HELD_MAX	64
static json_t *held[HELD_MAX];

void
req_clear(struct req *r)
{
	int i;

	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	for (i = 0; i < HELD_MAX; i++)
		if (held[i] == r->msg && r->msg != NULL) {
			held[i] = NULL;
			break;
		}
	json_decref(r->msg);
	memset(r, 0, sizeof(*r));
}

static void
held_add(struct req *r)
{
	int i;

	for (i = 0; i < HELD_MAX; i++)
		if (held[i] == NULL) {
			held[i] = json_incref(r->msg);
			json_decref(r->msg);	/* one reference, 2 names */
			return;
		}
}

static void
held_clear(void)
{
	int i;

	for (i = 0; i < HELD_MAX; i++) {
		json_decref(held[i]);
		held[i] = NULL;
	}
}

/*
 * One byte of a request line into *ch, by itself, with the descriptors
 * that came with it; len bytes of the line came before it. False with
 * r->why set on timeout, EOF or lost descriptors.
 */
static bool
recv_byte(int fd, struct req *r, char *ch, size_t len, int64_t deadline,
    int timeout_ms)
{
	union {
		char		buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr	align;
	} cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	struct pollfd p;
	size_t n, i;
	ssize_t got;

	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = ch;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (!(got == -1 && (errno == EAGAIN || errno == EINTR)))
			break;
		p.fd = fd;
		p.events = POLLIN;
		if (now_ms() >= deadline ||
		    poll(&p, 1, (int)(deadline - now_ms())) == 0) {
			snprintf(r->why, sizeof(r->why), "no request within "
			    "%d ms (%zu bytes of a line)", timeout_ms, len);
			return false;
		}
	}
	if (got <= 0) {
		snprintf(r->why, sizeof(r->why), "%s after %zu bytes",
		    got == 0 ? "EOF" : strerror(errno), len);
		return false;
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		snprintf(r->why, sizeof(r->why), "MSG_CTRUNC");
		return false;
	}
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (r->fd_at == (size_t)-1)
			r->fd_at = len;
		for (i = 0; i < n && r->nfds < 16; i++)
			memcpy(&r->fds[r->nfds++], CMSG_DATA(c) +
			    i * sizeof(int), sizeof(int));
	}
	return true;
}

/* A whole line into r: a JSON-RPC 2.0 request with an integer id. */
static bool
parse_req(struct req *r, const char *line)
{
	json_t *v;

	if ((r->msg = json_loads(line, 0, NULL)) == NULL ||
	    !json_is_object(r->msg)) {
		snprintf(r->why, sizeof(r->why), "not a JSON object: %.80s",
		    line);
		return false;
	}
	v = json_object_get(r->msg, "id");
	r->method = json_string_value(json_object_get(r->msg, "method"));
	r->params = json_object_get(r->msg, "params");
	if (!json_is_integer(v) || r->method == NULL ||
	    !json_is_string(json_object_get(r->msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(r->msg, "jsonrpc")),
	    "2.0") != 0) {
		snprintf(r->why, sizeof(r->why), "not a request: %.80s", line);
		return false;
	}
	r->id = json_integer_value(v);
	return true;
}

/*
 * Reads one request line off fd, one byte per recvmsg so that the
 * descriptors show at the very byte they were attached to (the kernel
 * hands them over with the first byte of the sendmsg that carried
 * them). False with r->why set on timeout, EOF or a bad line; usable in
 * a forked child (no Check calls).
 */
static const char *
recv_line(int fd, struct req *r, int timeout_ms)
{
	static char line[LINE_MAX_FAKE];
	int64_t deadline = now_ms() + timeout_ms;
	size_t len = 0;
	char ch;

	memset(r, 0, sizeof(*r));
	r->fd_at = (size_t)-1;
	for (;;) {
		if (!recv_byte(fd, r, &ch, len, deadline, timeout_ms))
			return NULL;
		if (ch == '\n')
			break;
		if (len == sizeof(line) - 1) {
			snprintf(r->why, sizeof(r->why), "line too long");
			return NULL;
		}
		line[len++] = ch;
	}
	line[len] = '\0';
	return line;
}

bool
fake_recv_req(int fd, struct req *r, int timeout_ms)
{
	const char *line = recv_line(fd, r, timeout_ms);

	return line != NULL && parse_req(r, line);
}

/* A response line (an answer of the library to the agent's request):
 * any JSON object, its descriptors with it. */
bool
fake_recv_answer(int fd, struct req *r, int timeout_ms)
{
	const char *line = recv_line(fd, r, timeout_ms);

	if (line == NULL)
		return false;
	if ((r->msg = json_loads(line, 0, NULL)) == NULL ||
	    !json_is_object(r->msg)) {
		snprintf(r->why, sizeof(r->why), "not a JSON object: %.80s",
		    line);
		return false;
	}
	return true;
}

/* Writes all of buf, waiting at most timeout_ms for room. */
bool
fake_send(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	const char *p = buf;
	struct pollfd pf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return false;
		pf.fd = fd;
		pf.events = POLLOUT;
		if (now_ms() >= deadline ||
		    poll(&pf, 1, (int)(deadline - now_ms())) == 0)
			return false;
	}
	return true;
}

/* What agent_req and agent_req_info read: ok, a method's request (any
 * when method is NULL) with nfds fds at its first byte. */
static void
req_expect(struct req *r, bool ok, const char *method, int nfds)
{
	if (r->msg != NULL)
		held_add(r);
	ck_assert_msg(ok, "agent: %s", r->why);
	if (method != NULL)
		ck_assert_str_eq(r->method, method);
	ck_assert_msg(r->nfds == nfds, "%s came with %d fds, not %d",
	    r->method, r->nfds, nfds);
	if (nfds > 0)
		ck_assert_msg(r->fd_at == 0, "%s: the fds came with byte %zu "
		    "of its line, not its first", r->method, r->fd_at);
}

/* The next request, which must be a method's and carry nfds fds at its
 * first byte. */
void
agent_req(struct req *r, const char *method, int nfds)
{
	bool ok = fake_recv_req(agent, r, WAIT_MS);

	req_expect(r, ok, method, nfds);
}

/* The next request, as agent_req; an rpc.info before it is answered
 * first, its features the JSON array features. */
void
agent_req_info(struct req *r, const char *method, int nfds,
    const char *features)
{
	bool ok = fake_recv_req(agent, r, WAIT_MS);
	char res[512];

	if (ok && strcmp(r->method, "rpc.info") == 0 && r->nfds == 0) {
		snprintf(res, sizeof(res), "{\"features\":%s}", features);
		agent_result(r->id, res);
		req_clear(r);
		ck_assert(drain());
		flush();
		ok = fake_recv_req(agent, r, WAIT_MS);
	}
	req_expect(r, ok, method, nfds);
}

/* The library's answer to the agent's request with string id: a result,
 * or an error when code is not 0, with nfds fds at its first byte. */
void
agent_answer(struct req *r, const char *id, int code, int nfds)
{
	bool ok = fake_recv_answer(agent, r, WAIT_MS);
	json_t *e;
	char *dump;

	if (r->msg != NULL)
		held_add(r);
	ck_assert_msg(ok, "agent: %s", r->why);
	dump = json_dumps(r->msg, JSON_COMPACT);
	ck_assert_msg(json_is_string(json_object_get(r->msg, "id")) &&
	    strcmp(json_string_value(json_object_get(r->msg, "id")), id) == 0,
	    "answer to %s: %s", id, dump);
	e = json_object_get(r->msg, "error");
	if (code == 0)
		ck_assert_msg(json_is_object(json_object_get(r->msg, "result")),
		    "answer to %s is no result: %s", id, dump);
	else
		ck_assert_msg(json_integer_value(json_object_get(e, "code")) ==
		    code, "answer to %s is not error %d: %s", id, code, dump);
	free(dump);
	ck_assert_msg(r->nfds == nfds, "answer to %s came with %d fds, not %d",
	    id, r->nfds, nfds);
	if (nfds > 0)
		ck_assert_msg(r->fd_at == 0, "answer to %s: the fds came with "
		    "byte %zu of its line, not its first", id, r->fd_at);
}

/* Nothing more written by the library within ms. */
void
agent_no_req(int ms)
{
	struct pollfd p = { .fd = agent, .events = POLLIN };
	char buf[200];
	ssize_t n;

	if (poll(&p, 1, ms) == 0)
		return;
	n = recv(agent, buf, sizeof(buf) - 1, MSG_PEEK | MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	ck_abort_msg("the library wrote something more: %s", buf);
}

const char *
param_str(const struct req *r, const char *name)
{
	const char *s = json_string_value(json_object_get(r->params, name));

	ck_assert_msg(s != NULL, "%s: no string param %s", r->method, name);
	return s;
}

/* ---- the fake agent: replies out ----------------------------------------- */

void
agent_write(const char *s)
{
	ck_assert_msg(fake_send(agent, s, strlen(s), WAIT_MS),
	    "cannot write to the library: %s", strerror(errno));
}

static bool
fake_vprintf(int fd, const char *fmt, va_list ap)
{
	char *s;
	int n;
	bool ok;

	if ((n = vasprintf(&s, fmt, ap)) < 0)
		return false;
	ok = fake_send(fd, s, (size_t)n, WAIT_MS);
	free(s);
	return ok;
}

/* Writes a formatted message to fd; usable in a forked agent. */
bool
fake_printf(int fd, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = fake_vprintf(fd, fmt, ap);
	va_end(ap);
	return ok;
}

void
agent_printf(const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = fake_vprintf(agent, fmt, ap);
	va_end(ap);
	ck_assert_msg(ok, "cannot write to the library: %s", strerror(errno));
}

void
agent_result(json_int_t id, const char *result)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"result\":%s,\"id\":%lld}\n",
	    result, (long long)id);
}

void
agent_error(json_int_t id, int code, const char *kind, const char *message)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,"
	    "\"message\":\"%s\",\"data\":{\"kind\":\"%s\"}},\"id\":%lld}\n",
	    code, message, kind, (long long)id);
}

void
agent_notify(const char *method, const char *params)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":%s}\n",
	    method, params);
}

/* A job object; request < 0 leaves "request" out. buf holds 512. */
const char *
job_obj(char *buf, const char *job, const char *state, const char *dir,
    long long bytes, long long total, json_int_t request)
{
	char req[48] = "";

	if (request >= 0)
		snprintf(req, sizeof(req), ",\"request\":%lld",
		    (long long)request);
	snprintf(buf, 512, "{\"job\":\"%s\",\"state\":\"%s\",\"direction\":"
	    "\"%s\",\"session\":\"s1\",\"path\":\"/f\",\"uid\":1000,"
	    "\"bytes\":%lld,\"total\":%lld,\"rate\":100.0,\"eta_s\":null,"
	    "\"started\":1700000000.5,\"ended\":null,\"attempts\":1,"
	    "\"error\":null%s}", job, state, dir, bytes, total, req);
	return buf;
}

void
agent_progress(const char *job, long long bytes, long long total,
    json_int_t request)
{
	char b[512];

	agent_notify("job.progress", job_obj(b, job, "running", "get", bytes,
	    total, request));
}

/* ---- driving the library ------------------------------------------------- */

/* Writes what the library has queued (the socket has room in these
 * tests). */
void
flush(void)
{
	int i;

	for (i = 0; i < 10000 && (ftpagent_events(a) & FTPAGENT_WRITE); i++)
		ck_assert_msg(ftpagent_process(a, FTPAGENT_WRITE),
		    "process(WRITE): %s", ftpagent_error_message(a));
	ck_assert_msg(!(ftpagent_events(a) & FTPAGENT_WRITE),
	    "requests still queued");
}

bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Lets the library read all that is there. Returns what the last
 * ftpagent_process said. */
bool
drain(void)
{
	bool ok = true;
	int i;

	if (!readable(ftpagent_fd(a)))
		return ftpagent_process(a, FTPAGENT_READ);
	for (i = 0; i < 100000 && ok && readable(ftpagent_fd(a)); i++)
		ok = ftpagent_process(a, FTPAGENT_READ);
	return ok;
}

/*
 * Runs the connection as an event loop does (poll on ftpagent_fd for
 * ftpagent_events, wake at ftpagent_timeout) until *count reaches want,
 * the connection fails, or ms pass. True when *count got there.
 */
bool
run_until(const int *count, int want, int ms)
{
	int64_t deadline = now_ms() + ms;
	struct pollfd p;
	unsigned ev, rev;
	int t, left;

	while (*count < want && (left = (int)(deadline - now_ms())) > 0) {
		if ((p.fd = ftpagent_fd(a)) == -1)
			break;
		ev = ftpagent_events(a);
		p.events = (ev & FTPAGENT_READ ? POLLIN : 0) |
		    (ev & FTPAGENT_WRITE ? POLLOUT : 0);
		t = ftpagent_timeout(a);
		if (t < 0 || t > left)
			t = left;
		rev = 0;
		if (poll(&p, 1, t) > 0) {
			if (p.revents & (POLLIN | POLLHUP | POLLERR))
				rev |= FTPAGENT_READ;
			if (p.revents & POLLOUT)
				rev |= FTPAGENT_WRITE;
		}
		if (!ftpagent_process(a, rev))
			break;
	}
	return *count >= want;
}

/* job.cancel with job id comes next on the agent's end; answered. */
void
agent_expect_job_cancel(const char *job)
{
	struct req c;

	flush();
	agent_req(&c, "job.cancel", 0);
	ck_assert_str_eq(param_str(&c, "job"), job);
	agent_result(c.id, "{}");
	req_clear(&c);
}

/* ---- what the callbacks saw ---------------------------------------------- */

void
copy_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s != NULL ? s : "(null)");
}

/* Records the outcome and takes everything the reply holds, as the
 * header allows. */
void
on_reply(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct rec *c = arg;

	ck_assert_ptr_eq(conn, a);
	c->runs++;
	c->seq = ++seq;
	c->call = r->call;
	c->error = r->error;
	copy_str(c->message, sizeof(c->message), r->error_message);
	copy_str(c->kind, sizeof(c->kind), r->error_kind);
	copy_str(c->data, sizeof(c->data), r->error_data);
	c->ftp_code = r->ftp_code;
	if (c->leave || c->runs > 1)
		return;
	c->r = *r;
	c->r.error_message = c->r.error_kind = c->r.error_data = NULL;
	r->session = NULL;
	r->entries = NULL;
	r->n_entries = 0;
	memset(&r->entry, 0, sizeof(r->entry));
	r->text = NULL;
	r->job_id = NULL;
	memset(&r->job, 0, sizeof(r->job));
	r->jobs = NULL;
	r->n_jobs = 0;
	r->json = NULL;
}

static void
rec_clear(struct rec *c)
{
	free(c->r.session);
	ftpagent_entries_free(c->r.entries, c->r.n_entries);
	ftpagent_entry_clear(&c->r.entry);
	free(c->r.text);
	free(c->r.job_id);
	ftpagent_job_clear(&c->r.job);
	ftpagent_jobs_free(c->r.jobs, c->r.n_jobs);
	free(c->r.json);
	memset(c, 0, sizeof(*c));
}

/* The callback of c ran once, for call id, with error e. */
void
assert_done(const struct rec *c, uint64_t id, enum ftpagent_error e)
{
	ck_assert_msg(c->runs == 1, "callback of call %llu ran %d times",
	    (unsigned long long)id, c->runs);
	ck_assert_msg(c->call == id, "reply->call %llu, the send said %llu",
	    (unsigned long long)c->call, (unsigned long long)id);
	ck_assert_msg(c->error == e, "call %llu: error %d (%s: %s), not %d",
	    (unsigned long long)id, c->error, c->kind, c->message, e);
}

void
on_event(struct ftpagent *conn, struct ftpagent_event *ev, void *arg)
{
	ck_assert_ptr_eq(conn, a);
	ck_assert_ptr_eq(arg, &evs);
	if (evs.n < NRECS) {
		evs.ev[evs.n] = *ev;
		memset(ev, 0, sizeof(*ev));
		evs.seq[evs.n] = ++seq;
	}
	evs.n++;
}

static void
evs_clear(void)
{
	int i;

	for (i = 0; i < evs.n && i < NRECS; i++)
		ftpagent_event_clear(&evs.ev[i]);
	memset(&evs, 0, sizeof(evs));
}

bool
on_progress(void *arg, int64_t bytes, int64_t total)
{
	struct prog *p = arg;

	if (p->runs < NRECS) {
		p->bytes[p->runs] = bytes;
		p->total[p->runs] = total;
	}
	p->runs++;
	return !p->stop;
}

/* ---- fixtures ------------------------------------------------------------ */

void
setup(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	a = ftpagent_connect_fd(sv[0]);
	ck_assert_ptr_nonnull(a);
	ck_assert_msg(ftpagent_error(a) == FTPAGENT_OK, "connect_fd: %s",
	    ftpagent_error_message(a));
	ftpagent_set_timeout(a, WAIT_MS);
	agent = sv[1];
	seq = 0;
	memset(recs, 0, sizeof(recs));
	memset(&evs, 0, sizeof(evs));
}

void
teardown(void)
{
	int i;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	ftpagent_free(a);
	a = NULL;
	if (agent != -1)
		close(agent);
	agent = -1;
	for (i = 0; i < NRECS; i++)
		rec_clear(&recs[i]);
	evs_clear();
	held_clear();
}
