/*
 * libftpagent's non-blocking core (<ftpagent_async.h>) against a fake
 * agent scripted by each test: one end of a socketpair is the
 * connection (ftpagent_connect_fd), the test holds the other and reads
 * the requests off it, descriptors included, and writes the replies
 * byte for byte. One thread drives both ends, so every step is
 * deterministic; only the blocking-face test forks a scripted agent,
 * since a blocking call cannot be driven from the thread it blocks.
 * Every wait is bounded (WAIT_MS): a library that never answers fails
 * the test instead of hanging it.
 */
#include <config.h>	/* _GNU_SOURCE: asprintf */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "ftpagent.h"
#include "ftpagent_async.h"

Suite *async_suite(void);

#define WAIT_MS		5000	/* the longest any step may take */
#define LINE_MAX_FAKE	(1024 * 1024)
#define NRECS		16
#define MANY		10000

static struct ftpagent *a;	/* the connection under test */
static int agent = -1;		/* the fake agent's end */
static pid_t child = -1;	/* the forked agent of test_blocking_face */
static int seq;			/* callbacks run so far, of any kind */

/* test_many_calls: one per call */
struct many {
	uint64_t	 id;
	int		 runs;
	bool		 right;		/* reply->call was id */
};

static struct many *many;
static int many_done;
static char many_why[256];

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own */
}

/* A file of its own, already unlinked. */
static int
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

struct req {
	json_t		*msg;
	json_int_t	 id;
	const char	*method;
	json_t		*params;	/* borrowed from msg */
	int		 fds[16];
	int		 nfds;
	size_t		 fd_at;		/* where in the line fds came */
	char		 why[128];	/* why reading failed */
};

/* What the requests read by agent_req hold, released by req_clear or,
 * when a test stops at a failed assertion, by the teardown (so that a
 * leak check sees only the library's). */
#define HELD_MAX	64
static json_t *held[HELD_MAX];

static void
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
 * Reads one request line off fd, one byte per recvmsg so that the
 * descriptors show at the very byte they were attached to (the kernel
 * hands them over with the first byte of the sendmsg that carried
 * them). False with r->why set on timeout, EOF or a bad line; usable in
 * a forked child (no Check calls).
 */
static bool
fake_recv_req(int fd, struct req *r, int timeout_ms)
{
	static char line[LINE_MAX_FAKE];
	union {
		char		buf[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr	align;
	} cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	struct pollfd p;
	int64_t deadline = now_ms() + timeout_ms;
	size_t len = 0, n, i;
	json_t *v;
	ssize_t got;
	char ch;

	memset(r, 0, sizeof(*r));
	r->fd_at = (size_t)-1;
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = &ch;
		iov.iov_len = 1;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		got = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (got == -1 && (errno == EAGAIN || errno == EINTR)) {
			p.fd = fd;
			p.events = POLLIN;
			if (now_ms() >= deadline ||
			    poll(&p, 1, (int)(deadline - now_ms())) == 0) {
				snprintf(r->why, sizeof(r->why), "no request "
				    "within %d ms (%zu bytes of a line)",
				    timeout_ms, len);
				return false;
			}
			continue;
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
		for (c = CMSG_FIRSTHDR(&msg); c != NULL;
		    c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (r->fd_at == (size_t)-1)
				r->fd_at = len;
			for (i = 0; i < n && r->nfds < 16; i++)
				memcpy(&r->fds[r->nfds++], CMSG_DATA(c) +
				    i * sizeof(int), sizeof(int));
		}
		if (ch == '\n')
			break;
		if (len == sizeof(line) - 1) {
			snprintf(r->why, sizeof(r->why), "line too long");
			return false;
		}
		line[len++] = ch;
	}
	line[len] = '\0';
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

/* Writes all of buf, waiting at most timeout_ms for room. */
static bool
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

/* The next request, which must be a method's and carry nfds fds at its
 * first byte. */
static void
agent_req(struct req *r, const char *method, int nfds)
{
	bool ok = fake_recv_req(agent, r, WAIT_MS);

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

/* Nothing more written by the library within ms. */
static void
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

static const char *
param_str(const struct req *r, const char *name)
{
	const char *s = json_string_value(json_object_get(r->params, name));

	ck_assert_msg(s != NULL, "%s: no string param %s", r->method, name);
	return s;
}

/* ---- the fake agent: replies out ----------------------------------------- */

static void
agent_write(const char *s)
{
	ck_assert_msg(fake_send(agent, s, strlen(s), WAIT_MS),
	    "cannot write to the library: %s", strerror(errno));
}

static void
agent_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
agent_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	agent_write(s);
	free(s);
}

static void
agent_result(json_int_t id, const char *result)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"result\":%s,\"id\":%lld}\n",
	    result, (long long)id);
}

static void
agent_error(json_int_t id, int code, const char *kind, const char *message)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,"
	    "\"message\":\"%s\",\"data\":{\"kind\":\"%s\"}},\"id\":%lld}\n",
	    code, message, kind, (long long)id);
}

static void
agent_notify(const char *method, const char *params)
{
	agent_printf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":%s}\n",
	    method, params);
}

/* A job object; request < 0 leaves "request" out. buf holds 512. */
static const char *
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

static void
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
static void
flush(void)
{
	int i;

	for (i = 0; i < 10000 && (ftpagent_events(a) & FTPAGENT_WRITE); i++)
		ck_assert_msg(ftpagent_process(a, FTPAGENT_WRITE),
		    "process(WRITE): %s", ftpagent_error_message(a));
	ck_assert_msg(!(ftpagent_events(a) & FTPAGENT_WRITE),
	    "requests still queued");
}

static bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Lets the library read all that is there. Returns what the last
 * ftpagent_process said. */
static bool
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
static bool
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
static void
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

struct rec {
	int		 runs;
	int		 seq;		/* its place among callbacks */
	bool		 leave;		/* take nothing: the lib frees */
	uint64_t	 call;
	enum ftpagent_error error;
	char		 message[256];
	char		 kind[64];
	int		 ftp_code;
	char		 data[256];
	struct ftpagent_reply r;	/* what it took; strings it did not
					   take are NULL here */
};

static struct rec recs[NRECS];

static void
copy_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s != NULL ? s : "(null)");
}

/* Records the outcome and takes everything the reply holds, as the
 * header allows. */
static void
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
static void
assert_done(const struct rec *c, uint64_t id, enum ftpagent_error e)
{
	ck_assert_msg(c->runs == 1, "callback of call %llu ran %d times",
	    (unsigned long long)id, c->runs);
	ck_assert_msg(c->call == id, "reply->call %llu, the send said %llu",
	    (unsigned long long)c->call, (unsigned long long)id);
	ck_assert_msg(c->error == e, "call %llu: error %d (%s: %s), not %d",
	    (unsigned long long)id, c->error, c->kind, c->message, e);
}

/* Notifications given to the event callback, taken. */
struct evs {
	int		 n;
	struct ftpagent_event ev[NRECS];
	int		 seq[NRECS];
};

static struct evs evs;

static void
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

/* A transfer's progress callback. */
struct prog {
	int		 runs;
	int64_t		 bytes[NRECS];
	int64_t		 total[NRECS];
	bool		 stop;		/* return false: cancel */
};

static bool
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

static void
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

static void
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
	free(many);
	many = NULL;
}

/* ---- 0. sends: ids, arguments, nothing before a process ------------------ */

START_TEST(test_send_ids_and_arguments)
{
	uint64_t c1, c2;

	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	ck_assert_uint_eq(ftpagent_events(a), FTPAGENT_READ);

	c1 = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	c2 = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_msg(c1 != 0 && c2 != 0 && c1 != c2, "ids %llu %llu",
	    (unsigned long long)c1, (unsigned long long)c2);
	ck_assert_uint_eq(ftpagent_pending(a), 2);
	ck_assert(ftpagent_events(a) & FTPAGENT_WRITE);
	ck_assert_int_gt(ftpagent_timeout(a), 0);
	ck_assert_int_le(ftpagent_timeout(a), WAIT_MS);
	ck_assert_int_eq(recs[0].runs + recs[1].runs, 0);

	/* bad arguments: 0 with the sticky error, and no callback */
	ck_assert_uint_eq(ftpagent_send_stat(a, NULL, "/x", on_reply,
	    &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_get_fd(a, "s1", "/f", -1, NULL,
	    on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_chmod(a, "s1", "/x", 010000,
	    on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_call(a, "agent.ping", "not json", NULL,
	    0, on_reply, &recs[2]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	ck_assert_int_eq(recs[2].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 2);
}
END_TEST

/* ---- 1. out-of-order replies --------------------------------------------- */

START_TEST(test_out_of_order)
{
	struct req q[5];
	uint64_t id[5];
	json_t *j, *want;
	char b[512];
	int i;

	id[0] = ftpagent_send_stat(a, "s1", "/dir/file", on_reply, &recs[0]);
	id[1] = ftpagent_send_list(a, "s1", "/dir", on_reply, &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "SITE HELP", on_reply, &recs[2]);
	id[3] = ftpagent_send_call(a, "agent.ping", "{\"n\":3}", NULL, 0,
	    on_reply, &recs[3]);
	id[4] = ftpagent_send_job_status(a, "j7", on_reply, &recs[4]);
	for (i = 0; i < 5; i++)
		ck_assert_msg(id[i] != 0, "send %d: %s", i,
		    ftpagent_error_message(a));
	ck_assert_uint_eq(ftpagent_pending(a), 5);
	flush();

	/* the requests, in the order sent, with distinct ids */
	agent_req(&q[0], "fs.stat", 0);
	ck_assert_str_eq(param_str(&q[0], "session"), "s1");
	ck_assert_str_eq(param_str(&q[0], "path"), "/dir/file");
	agent_req(&q[1], "fs.list", 0);
	ck_assert_str_eq(param_str(&q[1], "path"), "/dir");
	agent_req(&q[2], "ftp.quote", 0);
	ck_assert_str_eq(param_str(&q[2], "command"), "SITE HELP");
	agent_req(&q[3], "agent.ping", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(q[3].params, "n")),
	    3);
	agent_req(&q[4], "job.status", 0);
	ck_assert_str_eq(param_str(&q[4], "job"), "j7");
	for (i = 1; i < 5; i++)
		ck_assert_msg(q[i].id != q[i - 1].id, "two requests with id "
		    "%lld", (long long)q[i].id);
	agent_no_req(20);

	/* answered last first, all in one write and then each alone */
	agent_result(q[4].id, job_obj(b, "j7", "running", "put", 4096, 8192,
	    -1));
	agent_result(q[3].id, "{\"pong\":[1,\"two\"]}");
	ck_assert(drain());
	ck_assert_int_eq(recs[4].runs + recs[3].runs, 2);
	ck_assert_int_eq(recs[0].runs + recs[1].runs + recs[2].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 3);
	agent_result(q[2].id, "{\"code\":214,\"text\":\"Help \\uf7e9OK\"}");
	ck_assert(drain());
	agent_result(q[1].id, "{\"entries\":[{\"name\":\"a\",\"type\":\"dir\","
	    "\"size\":null,\"mtime\":null,\"perm\":493,\"target\":null},"
	    "{\"name\":\"caf\\uf7e9\",\"type\":\"link\",\"size\":7,"
	    "\"mtime\":1700000001,\"perm\":null,\"target\":\"a\"}],"
	    "\"source\":\"mlsd\"}");
	agent_result(q[0].id, "{\"name\":\"file\",\"type\":\"file\","
	    "\"size\":1234,\"mtime\":1700000000,\"perm\":420,\"target\":null}");
	ck_assert(drain());

	for (i = 0; i < 5; i++)
		assert_done(&recs[i], id[i], FTPAGENT_OK);
	/* they ran in the order the replies came */
	ck_assert_int_lt(recs[4].seq, recs[3].seq);
	ck_assert_int_lt(recs[3].seq, recs[2].seq);
	ck_assert_int_lt(recs[2].seq, recs[1].seq);
	ck_assert_int_lt(recs[1].seq, recs[0].seq);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* fs.stat: the entry */
	ck_assert_str_eq(recs[0].r.entry.name, "file");
	ck_assert_int_eq(recs[0].r.entry.type, FTPAGENT_FILE);
	ck_assert_int_eq(recs[0].r.entry.size, 1234);
	ck_assert_int_eq(recs[0].r.entry.mtime, 1700000000);
	ck_assert_int_eq(recs[0].r.entry.perm, 0644);
	ck_assert_ptr_null(recs[0].r.entry.target);
	ck_assert_str_eq(recs[0].message, "");
	/* fs.list: the entries, names as bytes */
	ck_assert_uint_eq(recs[1].r.n_entries, 2);
	ck_assert_str_eq(recs[1].r.entries[0].name, "a");
	ck_assert_int_eq(recs[1].r.entries[0].type, FTPAGENT_DIR);
	ck_assert_int_eq(recs[1].r.entries[0].size, -1);
	ck_assert(recs[1].r.entries[0].mtime == INT64_MIN);
	ck_assert_int_eq(recs[1].r.entries[0].perm, 0755);
	ck_assert_str_eq(recs[1].r.entries[1].name, "caf\xe9");
	ck_assert_int_eq(recs[1].r.entries[1].type, FTPAGENT_LINK);
	ck_assert_int_eq(recs[1].r.entries[1].size, 7);
	ck_assert_str_eq(recs[1].r.entries[1].target, "a");
	/* ftp.quote: code and text (bytes) */
	ck_assert_int_eq(recs[2].r.code, 214);
	ck_assert_str_eq(recs[2].r.text, "Help \xe9OK");
	/* send_call: the result as JSON */
	ck_assert_ptr_nonnull(recs[3].r.json);
	j = json_loads(recs[3].r.json, 0, NULL);
	want = json_loads("{\"pong\":[1,\"two\"]}", 0, NULL);
	ck_assert_msg(j != NULL && json_equal(j, want), "json %s",
	    recs[3].r.json);
	json_decref(j);
	json_decref(want);
	/* job.status: the job */
	ck_assert_str_eq(recs[4].r.job.id, "j7");
	ck_assert_int_eq(recs[4].r.job.state, FTPAGENT_JOB_RUNNING);
	ck_assert_int_eq(recs[4].r.job.direction, FTPAGENT_XFER_PUT);
	ck_assert_str_eq(recs[4].r.job.session, "s1");
	ck_assert_str_eq(recs[4].r.job.path, "/f");
	ck_assert_int_eq(recs[4].r.job.bytes, 4096);
	ck_assert_int_eq(recs[4].r.job.total, 8192);
	ck_assert_int_eq(recs[4].r.job.uid, 1000);
	/* the members of other operations are empty */
	ck_assert_ptr_null(recs[0].r.entries);
	ck_assert_ptr_null(recs[0].r.json);
	ck_assert_ptr_null(recs[3].r.entry.name);
	ck_assert_ptr_null(recs[4].r.text);
	for (i = 0; i < 5; i++)
		req_clear(&q[i]);
}
END_TEST

/* An error reply fills the error members of the reply. */
START_TEST(test_error_reply)
{
	struct req q;
	uint64_t id;

	id = ftpagent_send_stat(a, "s1", "/nope", on_reply, &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	agent_printf("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,"
	    "\"message\":\"No such file\",\"data\":{\"kind\":\"not_found\","
	    "\"ftp_code\":550,\"ftp_text\":\"550 gone\"}},\"id\":%lld}\n",
	    (long long)q.id);
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_ERR_NOT_FOUND);
	ck_assert_str_eq(recs[0].kind, "not_found");
	ck_assert_int_eq(recs[0].ftp_code, 550);
	ck_assert_ptr_nonnull(strstr(recs[0].message, "No such file"));
	ck_assert_ptr_nonnull(strstr(recs[0].data, "\"ftp_code\":550"));
	ck_assert_ptr_null(recs[0].r.entry.name);
	/* a failed call is the callback's business, not a sticky error */
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_uint_ne(ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply, &recs[1]), 0);
	req_clear(&q);
}
END_TEST

/* ---- 2. a reply split at every byte -------------------------------------- */

/* Writes s one byte at a time, the library reading after each; *count
 * must stay at before until the last byte and reach before + 1 then. */
static void
write_bytewise(const char *s, const int *count, int before)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++) {
		ck_assert_int_eq(send(agent, s + i, 1, MSG_NOSIGNAL), 1);
		ck_assert_msg(drain(), "process failed at byte %zu: %s", i,
		    ftpagent_error_message(a));
		ck_assert_msg(*count == (i + 1 == n ? before + 1 : before),
		    "after byte %zu of %zu: %d callbacks", i + 1, n, *count);
	}
}

START_TEST(test_split_reply)
{
	struct req q;
	uint64_t id;
	char *line;

	id = ftpagent_send_stat(a, "s1", "/d/\xc3\xa9t\xc3\xa9", on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	ck_assert_str_eq(param_str(&q, "path"), "/d/\xc3\xa9t\xc3\xa9");
	/* raw UTF-8 and escapes, cut inside both */
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":"
	    "{\"name\":\"\xc3\xa9t\xc3\xa9\\u00e9\\uf7ff\",\"type\":\"file\","
	    "\"size\":1,\"mtime\":null,\"perm\":null,\"target\":null},"
	    "\"id\":%lld}\n", (long long)q.id), 0);
	write_bytewise(line, &recs[0].runs, 0);
	free(line);
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.entry.name,
	    "\xc3\xa9t\xc3\xa9\xc3\xa9\xff");
	ck_assert_int_eq(recs[0].r.entry.size, 1);
	req_clear(&q);
}
END_TEST

START_TEST(test_split_notification_then_reply)
{
	struct req q;
	uint64_t sub, id;
	char b[512], *line;

	sub = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	ck_assert_uint_ne(sub, 0);
	ftpagent_set_event_cb(a, on_event, &evs);
	flush();
	agent_req(&q, "events.subscribe", 0);
	agent_result(q.id, "{}");
	req_clear(&q);
	ck_assert(drain());
	assert_done(&recs[0], sub, FTPAGENT_OK);

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q, "agent.ping", 0);
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"job.finished\",\"params\":%s}\n", job_obj(b, "j3", "done",
	    "get", 10, 10, -1)), 0);
	write_bytewise(line, &evs.n, 0);
	free(line);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":{},"
	    "\"id\":%lld}\n", (long long)q.id), 0);
	write_bytewise(line, &recs[1].runs, 0);
	free(line);
	ck_assert_int_eq(evs.n, 1);
	ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(evs.ev[0].job.id, "j3");
	ck_assert_int_eq(evs.ev[0].job.state, FTPAGENT_JOB_DONE);
	assert_done(&recs[1], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.json, "{}");
	req_clear(&q);
}
END_TEST

/* ---- 3. notifications between replies ------------------------------------ */

static const char session_state[] = "{\"session\":\"s1\",\"state\":\"busy\","
    "\"connections\":2,\"busy\":1}";

START_TEST(test_notifications_to_callback)
{
	struct req q[3];
	uint64_t id[3];
	char b[512];

	id[0] = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	ftpagent_set_event_cb(a, on_event, &evs);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", "{\"n\":2}", NULL, 0,
	    on_reply, &recs[2]);
	flush();
	agent_req(&q[0], "events.subscribe", 0);
	ck_assert_str_eq(param_str(&q[0], "jobs"), "all");
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "agent.ping", 0);

	/* a notification may come before the subscription's reply */
	agent_progress("j1", 100, 1000, -1);
	agent_result(q[0].id, "{}");
	agent_notify("job.finished", job_obj(b, "j2", "failed", "put", 5, -1,
	    -1));
	agent_result(q[2].id, "{}");
	agent_notify("session.state", session_state);
	agent_result(q[1].id, "{}");
	agent_progress("j1", 200, 1000, -1);
	ck_assert(run_until(&evs.n, 4, WAIT_MS));
	ck_assert(drain());

	ck_assert_int_eq(evs.n, 4);
	ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(evs.ev[0].job.id, "j1");
	ck_assert_int_eq(evs.ev[0].job.state, FTPAGENT_JOB_RUNNING);
	ck_assert_int_eq(evs.ev[0].job.bytes, 100);
	ck_assert_int_eq(evs.ev[0].job.total, 1000);
	ck_assert_int_eq(evs.ev[1].type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(evs.ev[1].job.id, "j2");
	ck_assert_int_eq(evs.ev[1].job.state, FTPAGENT_JOB_FAILED);
	ck_assert_int_eq(evs.ev[1].job.direction, FTPAGENT_XFER_PUT);
	ck_assert_int_eq(evs.ev[1].job.total, -1);
	ck_assert_int_eq(evs.ev[2].type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(evs.ev[2].session, "s1");
	ck_assert_str_eq(evs.ev[2].state, "busy");
	ck_assert_int_eq(evs.ev[2].connections, 2);
	ck_assert_int_eq(evs.ev[2].busy, 1);
	ck_assert_int_eq(evs.ev[3].type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_int_eq(evs.ev[3].job.bytes, 200);

	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	/* events and replies ran in the order they came */
	ck_assert_int_lt(evs.seq[0], recs[0].seq);
	ck_assert_int_lt(recs[0].seq, evs.seq[1]);
	ck_assert_int_lt(evs.seq[1], recs[2].seq);
	ck_assert_int_lt(recs[2].seq, evs.seq[2]);
	ck_assert_int_lt(evs.seq[2], recs[1].seq);
	ck_assert_int_lt(recs[1].seq, evs.seq[3]);
	/* given to the callback, so none kept */
	{
		struct ftpagent_event ev;

		ck_assert(!ftpagent_next_event(a, &ev, 0));
		ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	}
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

START_TEST(test_notifications_kept)
{
	struct ftpagent_event ev;
	struct req q[2];
	uint64_t id[2];
	char b[512];

	id[0] = ftpagent_send_subscribe(a, NULL, on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q[0], "events.subscribe", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_notify("session.state", session_state);
	agent_result(q[0].id, "{}");
	agent_progress("j1", 100, 1000, -1);
	agent_notify("job.finished", job_obj(b, "j2", "done", "get", 5, 5,
	    -1));
	agent_result(q[1].id, "{}");
	ck_assert(run_until(&recs[1].runs, 1, WAIT_MS));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);

	ck_assert_msg(ftpagent_next_event(a, &ev, 0), "no event kept: %s",
	    ftpagent_error_message(a));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ck_assert_str_eq(ev.session, "s1");
	ck_assert_int_eq(ev.connections, 2);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_str_eq(ev.job.id, "j1");
	ck_assert_int_eq(ev.job.bytes, 100);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_FINISHED);
	ck_assert_str_eq(ev.job.id, "j2");
	ck_assert_int_eq(ev.job.state, FTPAGENT_JOB_DONE);
	ftpagent_event_clear(&ev);
	ck_assert(!ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);

	/* a newer job.progress replaces the unread one where it stands */
	agent_progress("j4", 1, 10, -1);
	agent_notify("session.state", session_state);
	agent_progress("j4", 7, 10, -1);
	ck_assert(drain());
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_JOB_PROGRESS);
	ck_assert_int_eq(ev.job.bytes, 7);
	ftpagent_event_clear(&ev);
	ck_assert(ftpagent_next_event(a, &ev, 0));
	ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
	ftpagent_event_clear(&ev);
	ck_assert(!ftpagent_next_event(a, &ev, 0));

	/* events kept while no callback was set are not lost when one is */
	agent_notify("session.state", session_state);
	ck_assert(drain());
	ftpagent_set_event_cb(a, on_event, &evs);
	agent_progress("j5", 3, 10, -1);
	ck_assert(drain());
	ck_assert_int_ge(evs.n, 1);
	ck_assert_int_eq(evs.ev[evs.n - 1].type, FTPAGENT_EVENT_JOB_PROGRESS);
	if (evs.n == 1) {
		ck_assert(ftpagent_next_event(a, &ev, 0));
		ck_assert_int_eq(ev.type, FTPAGENT_EVENT_SESSION_STATE);
		ftpagent_event_clear(&ev);
	} else
		ck_assert_int_eq(evs.ev[0].type, FTPAGENT_EVENT_SESSION_STATE);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* ---- 4. transfer progress goes to its own call --------------------------- */

START_TEST(test_progress_routing)
{
	struct ftpagent_xfer_opts o1, o2;
	struct prog p1, p2;
	struct req q[2];
	uint64_t id[2];
	int f1 = temp_file(NULL), f2 = temp_file(NULL);
	char b[512];

	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	o1.progress = o2.progress = on_progress;
	o1.progress_arg = &p1;
	o2.progress_arg = &p2;
	/* the same session and path: only "request" tells them apart */
	id[0] = ftpagent_send_get_fd(a, "s1", "/f", f1, &o1, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_get_fd(a, "s1", "/f", f2, &o2, on_reply,
	    &recs[1]);
	ck_assert(id[0] != 0 && id[1] != 0);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "transfer.get", 1);
	ck_assert(json_is_true(json_object_get(q[0].params, "progress")));
	ck_assert(json_is_true(json_object_get(q[1].params, "progress")));
	ck_assert_int_eq(json_integer_value(json_object_get(q[0].params,
	    "fd")), 0);

	agent_progress("j2", 100, 1000, q[1].id);
	agent_progress("j1", 5, 50, q[0].id);
	agent_progress("j2", 200, 1000, q[1].id);
	ck_assert(drain());
	ck_assert_int_eq(p1.runs, 1);
	ck_assert_int_eq(p1.bytes[0], 5);
	ck_assert_int_eq(p1.total[0], 50);
	ck_assert_int_eq(p2.runs, 2);
	ck_assert_int_eq(p2.bytes[0], 100);
	ck_assert_int_eq(p2.total[0], 1000);
	ck_assert_int_eq(p2.bytes[1], 200);
	ck_assert_int_eq(recs[0].runs + recs[1].runs, 0);

	agent_progress("j1", 50, 50, q[0].id);
	agent_result(q[0].id, job_obj(b, "j1", "done", "get", 50, 50, -1));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	ck_assert_int_eq(recs[0].r.xfer.bytes, 50);
	ck_assert_int_eq(recs[0].r.xfer.total, 50);
	ck_assert_int_eq(p1.runs, 2);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_uint_eq(ftpagent_pending(a), 1);

	agent_result(q[1].id, job_obj(b, "j2", "done", "get", 1000, 1000,
	    -1));
	ck_assert(drain());
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	ck_assert_int_eq(recs[1].r.xfer.bytes, 1000);
	ck_assert_int_eq(p2.runs, 2);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	/* a late progress of a finished transfer goes nowhere */
	agent_progress("j1", 50, 50, q[0].id);
	ck_assert(drain());
	ck_assert_int_eq(p1.runs, 2);
	ck_assert_int_eq(recs[0].runs, 1);
	close(f1);
	close(f2);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * Runs drain() in a forked copy of this process, so that a library that
 * never returns fails the test instead of hanging the suite (CK_FORK=no
 * too). True when the copy returned within ms. The copy consumes what
 * the socket holds.
 */
static bool
drain_returns_within(int ms)
{
	int64_t deadline = now_ms() + ms;
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		(void)drain();
		_exit(0);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return false;
		}
		poll(NULL, 0, 10);
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * A job.progress without "request" (what a subscription brings about
 * other jobs, or an agent from before "request") that could be either
 * of two transfers whose jobs are not known yet.
 */
START_TEST(test_progress_without_request_ambiguous)
{
	struct req q[2];
	int f1 = temp_file(NULL), f2 = temp_file(NULL);

	ck_assert_uint_ne(ftpagent_send_get_fd(a, "s1", "/f", f1, NULL,
	    on_reply, &recs[0]), 0);
	ck_assert_uint_ne(ftpagent_send_get_fd(a, "s1", "/f", f2, NULL,
	    on_reply, &recs[1]), 0);
	close(f1);
	close(f2);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "transfer.get", 1);
	agent_progress("jX", 1, 10, -1);
	ck_assert_msg(drain_returns_within(WAIT_MS), "ftpagent_process did "
	    "not return within %d ms", WAIT_MS);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * Subscribed, a transfer sees another job of the same session and path
 * (another process's download of the same file) before its own first
 * progress: that job is not the transfer's. Its progress callback hears
 * only its own job, and cancelling it cancels its own job, not the
 * other process's.
 */
START_TEST(test_subscription_progress_not_a_transfers)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	ck_assert_uint_ne(ftpagent_send_subscribe(a, NULL, on_reply,
	    &recs[0]), 0);
	ftpagent_set_event_cb(a, on_event, &evs);
	flush();
	agent_req(&q, "events.subscribe", 0);
	agent_result(q.id, "{}");
	req_clear(&q);
	ck_assert(drain());

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	id = ftpagent_send_get_fd(a, "s1", "/f", fd, &o, on_reply, &recs[1]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("jX", 500, 1000, -1);	/* someone else's */
	agent_progress("jM", 0, 1000, q.id);	/* its own */
	ck_assert(drain());
	ck_assert_msg(p.runs == 1 && p.bytes[0] == 0, "the transfer's "
	    "progress callback ran %d times, first with %lld bytes", p.runs,
	    (long long)p.bytes[0]);
	ck_assert(ftpagent_cancel(a, id));
	agent_expect_job_cancel("jM");
	req_clear(&q);
}
END_TEST

/* ---- 5. cancelling calls in flight --------------------------------------- */

START_TEST(test_cancel_call)
{
	struct req q[3], extra;
	uint64_t id[3], id4;
	char b[512];

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[2]);
	flush();
	agent_req(&q[0], "fs.stat", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "ftp.quote", 0);

	ck_assert(ftpagent_cancel(a, id[1]));
	/* at once, not at the next process */
	assert_done(&recs[1], id[1], FTPAGENT_ERR_CANCELLED);
	ck_assert_str_eq(recs[1].kind, "cancelled");
	ck_assert_uint_eq(ftpagent_pending(a), 2);
	ck_assert(!ftpagent_cancel(a, id[1]));
	ck_assert(!ftpagent_cancel(a, id[2] + 1000));
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	/* nothing goes to the agent for a call that is no transfer */
	flush();
	agent_no_req(20);

	/* the late reply is dropped; the others complete as usual */
	agent_result(q[2].id, "{\"code\":200,\"text\":\"ok\"}");
	agent_result(q[1].id, "{}");
	agent_result(q[0].id, "{\"name\":\"a\",\"type\":\"dir\"}");
	ck_assert(drain());
	ck_assert_int_eq(recs[1].runs, 1);
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.entry.name, "a");
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	ck_assert_int_eq(recs[2].r.code, 200);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert(!ftpagent_cancel(a, id[0]));	/* done already */

	/* cancelled before it was written: sent or not, it ends once */
	id4 = ftpagent_send_call(a, "agent.ping", "{\"n\":4}", NULL, 0,
	    on_reply, &recs[3]);
	ck_assert(ftpagent_cancel(a, id4));
	assert_done(&recs[3], id4, FTPAGENT_ERR_CANCELLED);
	flush();
	if (readable(agent)) {
		agent_req(&extra, "agent.ping", 0);
		agent_result(extra.id, "{}");
		req_clear(&extra);
		ck_assert(drain());
	}
	ck_assert_int_eq(recs[3].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* the connection is as good as before */
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	id4 = ftpagent_send_job_status(a, "j1", on_reply, &recs[4]);
	ck_assert_uint_ne(id4, 0);
	flush();
	agent_req(&extra, "job.status", 0);
	agent_result(extra.id, job_obj(b, "j1", "queued", "get", 0, -1, -1));
	ck_assert(drain());
	assert_done(&recs[4], id4, FTPAGENT_OK);
	req_clear(&extra);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

START_TEST(test_cancel_transfer)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	id = ftpagent_send_get_fd(a, "s1", "/big", fd, &o, on_reply, &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("j5", 10, 1000, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);

	ck_assert(ftpagent_cancel(a, id));
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	ck_assert(!ftpagent_cancel(a, id));
	agent_expect_job_cancel("j5");

	/* what the agent still says about it goes nowhere */
	agent_progress("j5", 20, 1000, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	req_clear(&q);
}
END_TEST

START_TEST(test_cancel_from_progress)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	uint64_t id;
	int fd = temp_file("data");

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = &p;
	p.stop = true;
	id = ftpagent_send_put_fd(a, "s1", "/up", fd, &o, on_reply, &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.put", 1);
	agent_progress("j6", 1, 4, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	agent_expect_job_cancel("j6");

	/* not asked again; the call ends once, cancelled */
	agent_progress("j6", 2, 4, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	agent_no_req(20);
	req_clear(&q);
}
END_TEST

/*
 * A transfer cancelled before any progress named its job: once a
 * progress does, the job is cancelled on the agent ("once its id is
 * known"), so that it stops writing into the caller's file.
 */
START_TEST(test_cancel_transfer_job_learnt_later)
{
	struct req q;
	uint64_t id;
	int fd = temp_file(NULL);

	id = ftpagent_send_get_fd(a, "s1", "/big", fd, NULL, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	ck_assert(ftpagent_cancel(a, id));
	assert_done(&recs[0], id, FTPAGENT_ERR_CANCELLED);
	flush();
	agent_no_req(20);	/* no job id known: nothing to send yet */

	agent_progress("j9", 10, 1000, q.id);
	ck_assert(drain());
	agent_expect_job_cancel("j9");
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* A progress callback that cancels its own call with ftpagent_cancel
 * and then returns false as well. */
static uint64_t self_id;
static bool self_cancelled;

static bool
on_progress_cancel_self(void *arg, int64_t bytes, int64_t total)
{
	struct prog *p = arg;

	p->runs++;
	self_cancelled = ftpagent_cancel(a, self_id);
	return false;
}

START_TEST(test_cancel_inside_progress)
{
	struct ftpagent_xfer_opts o;
	struct prog p;
	struct req q;
	int fd = temp_file(NULL);

	memset(&p, 0, sizeof(p));
	memset(&o, 0, sizeof(o));
	o.progress = on_progress_cancel_self;
	o.progress_arg = &p;
	self_id = ftpagent_send_get_fd(a, "s1", "/big", fd, &o, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	agent_progress("j7", 10, 1000, q.id);
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert(self_cancelled);
	assert_done(&recs[0], self_id, FTPAGENT_ERR_CANCELLED);
	/* one job.cancel, of the right job, and nothing else */
	agent_expect_job_cancel("j7");
	agent_no_req(50);
	agent_progress("j7", 20, 1000, q.id);
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(p.runs, 1);
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* A callback that cancels its own call again: it has run, so false. */
static bool nested_cancel;

static void
on_reply_cancel_again(struct ftpagent *conn, struct ftpagent_reply *r,
    void *arg)
{
	on_reply(conn, r, arg);
	nested_cancel = ftpagent_cancel(conn, r->call);
}

START_TEST(test_cancel_again_from_callback)
{
	struct req q[2];
	uint64_t id[2];
	int fd = temp_file(NULL);

	/* a transfer whose job is not known yet, cancelled */
	id[0] = ftpagent_send_get_fd(a, "s1", "/a", fd, NULL,
	    on_reply_cancel_again, &recs[0]);
	flush();
	agent_req(&q[0], "transfer.get", 1);
	nested_cancel = true;
	ck_assert(ftpagent_cancel(a, id[0]));
	assert_done(&recs[0], id[0], FTPAGENT_ERR_CANCELLED);
	ck_assert_msg(!nested_cancel && ftpagent_pending(a) == 0,
	    "a call whose callback runs: cancelled again %d, pending %zu",
	    nested_cancel, ftpagent_pending(a));
	ck_assert(!ftpagent_cancel(a, id[0]));

	/* the same, timed out */
	ftpagent_set_timeout(a, 100);
	id[1] = ftpagent_send_get_fd(a, "s1", "/b", fd, NULL,
	    on_reply_cancel_again, &recs[1]);
	close(fd);
	flush();
	agent_req(&q[1], "transfer.get", 1);
	nested_cancel = true;
	ck_assert(run_until(&recs[1].runs, 1, WAIT_MS));
	assert_done(&recs[1], id[1], FTPAGENT_ERR_TIMEOUT);
	ck_assert_msg(!nested_cancel && ftpagent_pending(a) == 0,
	    "a call whose callback runs: cancelled again %d, pending %zu",
	    nested_cancel, ftpagent_pending(a));
	ck_assert_int_eq(recs[1].runs, 1);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* From a callback the library may be called again: a send, a cancel. */
static uint64_t reentrant_cancel, reentrant_sent;

static void
on_reply_reenter(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	on_reply(conn, r, arg);
	ck_assert(ftpagent_cancel(conn, reentrant_cancel));
	reentrant_sent = ftpagent_send_call(conn, "agent.ping", "{\"n\":9}",
	    NULL, 0, on_reply, &recs[2]);
}

START_TEST(test_reentrant_callback)
{
	struct req q[3];
	uint64_t id[2];

	id[0] = ftpagent_send_call(a, "agent.ping", "{\"n\":0}", NULL, 0,
	    on_reply_reenter, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[1]);
	reentrant_cancel = id[1];
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	/* both replies in one read: the second belongs to a call the
	 * first's callback cancels */
	agent_result(q[0].id, "{}");
	agent_result(q[1].id, "{}");
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_CANCELLED);
	ck_assert_uint_ne(reentrant_sent, 0);
	flush();
	agent_req(&q[2], "agent.ping", 0);
	ck_assert_int_eq(json_integer_value(json_object_get(q[2].params, "n")),
	    9);
	agent_result(q[2].id, "{}");
	ck_assert(drain());
	assert_done(&recs[2], reentrant_sent, FTPAGENT_OK);
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

/* ---- 6. the agent hangs up ----------------------------------------------- */

static void
assert_failed_connection(void)
{
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_AGENT);
	ck_assert_uint_eq(ftpagent_events(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert(!ftpagent_clear_error(a));
	ck_assert_uint_eq(ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply, &recs[NRECS - 1]), 0);
	ck_assert_int_eq(recs[NRECS - 1].runs, 0);
	ck_assert(!ftpagent_process(a, FTPAGENT_READ | FTPAGENT_WRITE));
}

START_TEST(test_hangup_with_calls_pending)
{
	struct req q[3];
	uint64_t id[3];
	int i;

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	id[1] = ftpagent_send_list(a, "s1", "/", on_reply, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[2]);
	flush();
	for (i = 0; i < 3; i++)
		agent_req(&q[i], NULL, 0);
	close(agent);
	agent = -1;
	ck_assert(!drain());
	for (i = 0; i < 3; i++) {
		assert_done(&recs[i], id[i], FTPAGENT_ERR_AGENT);
		req_clear(&q[i]);
	}
	assert_failed_connection();
}
END_TEST

START_TEST(test_hangup_mid_reply)
{
	struct req q[2];
	uint64_t id[2];
	char *line;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "fs.stat", 0);
	/* a whole reply, half of the next, then EOF, all before the
	 * library reads: what came whole still counts */
	agent_result(q[0].id, "{}");
	ck_assert_int_ge(asprintf(&line, "{\"jsonrpc\":\"2.0\",\"result\":"
	    "{\"name\":\"a\",\"type\":\"file\"},\"id\":%lld}\n",
	    (long long)q[1].id), 0);
	ck_assert(fake_send(agent, line, strlen(line) / 2, WAIT_MS));
	free(line);
	close(agent);
	agent = -1;
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/*
 * The agent answers and hangs up while the library has a new request
 * queued: the reply that came is still the call's outcome (a caller
 * told "agent gone" may repeat an fs.remove that was done).
 */
START_TEST(test_hangup_after_reply_with_output_queued)
{
	struct req q;
	uint64_t id[2];

	id[0] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[0]);
	flush();
	agent_req(&q, "fs.stat", 0);
	agent_result(q.id, "{\"name\":\"a\",\"type\":\"file\"}");
	close(agent);
	agent = -1;
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert(ftpagent_events(a) & FTPAGENT_WRITE);
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q);
}
END_TEST

/* Whole replies, exactly 64 KiB of them, then EOF: they still count. */
START_TEST(test_hangup_after_64k)
{
	static char line[65536 + 1];
	struct req q[2];
	uint64_t id[2];
	int n, pad;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%lld,"
	    "\"result\":{\"pad\":\"", (long long)q[0].id);
	pad = 65536 - n - 4;
	memset(line + n, 'x', (size_t)pad);
	memcpy(line + n + pad, "\"}}\n", 4);
	ck_assert_uint_eq(strlen(line), 65536);
	ck_assert(fake_send(agent, line, 65536, WAIT_MS));
	close(agent);
	agent = -1;
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* The agent gone before the requests are written: no SIGPIPE. */
START_TEST(test_hangup_before_write)
{
	uint64_t id[2];

	signal(SIGPIPE, SIG_DFL);
	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[1]);
	close(agent);
	agent = -1;
	ck_assert(!ftpagent_process(a, FTPAGENT_WRITE) || !drain());
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
}
END_TEST

/* ftpagent_free runs what is pending, once each. */
START_TEST(test_free_with_calls_pending)
{
	uint64_t id[2];
	int fd = temp_file(NULL);

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_get_fd(a, "s1", "/f", fd, NULL, on_reply,
	    &recs[1]);
	close(fd);
	flush();
	ftpagent_free(a);
	a = NULL;
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert(recs[0].call == id[0] && recs[1].call == id[1]);
	ck_assert_int_ne(recs[0].error, FTPAGENT_OK);
	ck_assert_int_ne(recs[1].error, FTPAGENT_OK);
}
END_TEST

/* ftpagent_free from inside a callback: the rest end, nothing runs on a
 * freed connection. */
static void
on_reply_free(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct rec *c = arg;

	c->runs++;
	c->call = r->call;
	c->error = r->error;
	ftpagent_free(conn);
	a = NULL;
}

static void
on_reply_count(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct rec *c = arg;

	c->runs++;
	c->call = r->call;
	c->error = r->error;
}

START_TEST(test_free_inside_callback)
{
	struct ftpagent *conn = a;
	struct req q[3];
	uint64_t id[3];

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_free, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_count, &recs[1]);
	id[2] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
	    on_reply_count, &recs[2]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "agent.ping", 0);
	agent_result(q[0].id, "{}");
	agent_result(q[1].id, "{}");
	agent_progress("j1", 1, 2, q[2].id);
	ck_assert(!ftpagent_process(conn, FTPAGENT_READ));
	ck_assert_ptr_null(a);
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	/* the others end once, whatever the reason */
	ck_assert_int_eq(recs[1].runs, 1);
	ck_assert_int_eq(recs[2].runs, 1);
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
}
END_TEST

/* ---- 7. descriptors travel with their own request ------------------------ */

static void
assert_same_file(int got, int orig)
{
	struct stat s1, s2;

	ck_assert_int_eq(fstat(got, &s1), 0);
	ck_assert_int_eq(fstat(orig, &s2), 0);
	ck_assert_msg(s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino,
	    "the fd received is another file");
}

START_TEST(test_fds_with_their_request)
{
	struct stat st;
	struct req q[3];
	uint64_t id[3];
	int fda, fdb, keepa, keepb, base;
	char buf[16], buf2[512];

	base = open_fds();
	fda = temp_file(NULL);
	fdb = temp_file("upload me");
	keepa = dup(fda);	/* to compare with, and to read back */
	keepb = dup(fdb);
	ck_assert_int_eq(lseek(fdb, 0, SEEK_SET), 0);

	id[0] = ftpagent_send_get_fd(a, "s1", "/down", fda, NULL, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	id[2] = ftpagent_send_put_fd(a, "s1", "/up", fdb, NULL, on_reply,
	    &recs[2]);
	ck_assert(id[0] != 0 && id[1] != 0 && id[2] != 0);
	/* the library has its own copies */
	close(fda);
	close(fdb);
	flush();

	agent_req(&q[0], "transfer.get", 1);
	agent_req(&q[1], "agent.ping", 0);
	agent_req(&q[2], "transfer.put", 1);
	ck_assert_str_eq(param_str(&q[0], "path"), "/down");
	ck_assert_str_eq(param_str(&q[2], "path"), "/up");
	ck_assert_int_eq(json_integer_value(json_object_get(q[2].params,
	    "fd")), 0);
	assert_same_file(q[0].fds[0], keepa);
	assert_same_file(q[2].fds[0], keepb);
	/* and they work: the agent writes the download, reads the upload */
	ck_assert_int_eq(write(q[0].fds[0], "got", 3), 3);
	ck_assert_int_eq(fstat(keepa, &st), 0);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_int_eq(read(q[2].fds[0], buf, sizeof(buf)), 9);
	ck_assert_int_eq(memcmp(buf, "upload me", 9), 0);

	agent_result(q[1].id, "{}");
	agent_result(q[2].id, job_obj(buf2, "j2", "done", "put", 9, 9, -1));
	agent_result(q[0].id, job_obj(buf2, "j1", "done", "get", 3, 3, -1));
	ck_assert(drain());
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	assert_done(&recs[2], id[2], FTPAGENT_OK);
	ck_assert_int_eq(recs[2].r.xfer.bytes, 9);

	/* the calls done, the library holds no copy any more */
	req_clear(&q[0]);
	req_clear(&q[1]);
	req_clear(&q[2]);
	close(keepa);
	close(keepb);
	ck_assert_int_eq(open_fds(), base);
}
END_TEST

/* Up to 4 fds with one send_call, each dup'd; more are refused. */
START_TEST(test_call_fds)
{
	int fds[5], i;
	struct req q;
	uint64_t id;

	for (i = 0; i < 5; i++)
		fds[i] = temp_file(NULL);
	ck_assert_uint_eq(ftpagent_send_call(a, "x.y", "{}", fds, 5, on_reply,
	    &recs[0]), 0);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_ERR_ARGUMENT);
	ck_assert(ftpagent_clear_error(a));
	id = ftpagent_send_call(a, "x.y", "{\"fds\":[0,1,2,3]}", fds, 4,
	    on_reply, &recs[0]);
	ck_assert_uint_ne(id, 0);
	for (i = 0; i < 5; i++)
		close(fds[i]);
	flush();
	agent_req(&q, "x.y", 4);
	agent_result(q.id, "[]");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.json, "[]");
	req_clear(&q);
}
END_TEST

/* ---- 8. timeouts --------------------------------------------------------- */

START_TEST(test_timeout)
{
	struct req q;
	int64_t t0;
	uint64_t id;
	int t;

	ftpagent_set_timeout(a, 200);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	t0 = now_ms();
	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	t = ftpagent_timeout(a);
	ck_assert_msg(t > 0 && t <= 200, "timeout %d", t);
	flush();
	agent_req(&q, "agent.ping", 0);

	/* wait as a loop does: until ftpagent_timeout says 0 */
	while ((t = ftpagent_timeout(a)) > 0 && now_ms() - t0 < WAIT_MS)
		poll(NULL, 0, t);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(recs[0].runs, 0);
	ck_assert(ftpagent_process(a, 0));
	assert_done(&recs[0], id, FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_ge(now_ms() - t0, 190);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* the late reply is dropped, the connection goes on */
	agent_result(q.id, "{}");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	req_clear(&q);
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_uint_ne(id, 0);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id, "{}");
	ck_assert(drain());
	assert_done(&recs[1], id, FTPAGENT_OK);
	req_clear(&q);
}
END_TEST

/* The earliest deadline counts; a timed-out call does not take the
 * others with it. */
START_TEST(test_timeout_earliest)
{
	struct req q[2];
	uint64_t id[2];

	ftpagent_set_timeout(a, 300);
	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	poll(NULL, 0, 150);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	ck_assert_int_le(ftpagent_timeout(a), 160);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "agent.ping", 0);
	ck_assert(run_until(&recs[0].runs, 1, WAIT_MS));
	assert_done(&recs[0], id[0], FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_eq(recs[1].runs, 0);
	ck_assert_int_gt(ftpagent_timeout(a), 0);
	agent_result(q[1].id, "{}");
	ck_assert(drain());
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* A transfer's timeout is one of inactivity: progress restarts it; when
 * it passes, the job is cancelled on the agent. */
START_TEST(test_transfer_timeout)
{
	struct req q;
	int64_t t0;
	uint64_t id;
	int fd = temp_file(NULL), i;

	ftpagent_set_timeout(a, 200);
	id = ftpagent_send_get_fd(a, "s1", "/slow", fd, NULL, on_reply,
	    &recs[0]);
	close(fd);
	flush();
	agent_req(&q, "transfer.get", 1);
	t0 = now_ms();
	for (i = 0; i < 6; i++) {	/* 600 ms of steady progress */
		agent_progress("j8", i, 100, q.id);
		ck_assert(!run_until(&recs[0].runs, 1, 100));
	}
	ck_assert_int_eq(recs[0].runs, 0);
	ck_assert(run_until(&recs[0].runs, 1, WAIT_MS));
	assert_done(&recs[0], id, FTPAGENT_ERR_TIMEOUT);
	ck_assert_int_ge(now_ms() - t0, 690);	/* last progress + 200 */
	agent_expect_job_cancel("j8");
	agent_error(q.id, -32008, "cancelled", "cancelled");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* job.wait: the deadline is the wait plus the connection's timeout;
 * waiting "until it ends" asks again each time the agent's slice passes,
 * and ends once, with the job. */
START_TEST(test_job_wait_slices)
{
	struct req q;
	uint64_t id;
	char b[512];
	int t, i;

	ftpagent_set_timeout(a, 200);
	id = ftpagent_send_job_wait(a, "j1", 300, on_reply, &recs[0]);
	t = ftpagent_timeout(a);
	ck_assert_msg(t > 300 && t <= 500, "job.wait deadline in %d ms", t);
	ck_assert(ftpagent_cancel(a, id));
	flush();
	agent_req(&q, "job.wait", 0);
	req_clear(&q);

	id = ftpagent_send_job_wait(a, "j1", 0, on_reply, &recs[1]);
	for (i = 0; i < 3; i++) {
		flush();
		agent_req(&q, "job.wait", 0);
		ck_assert_str_eq(param_str(&q, "job"), "j1");
		agent_error(q.id, -32004, "timeout", "not yet");
		req_clear(&q);
		ck_assert(drain());
		ck_assert_int_eq(recs[1].runs, 0);
	}
	flush();
	agent_req(&q, "job.wait", 0);
	agent_result(q.id, job_obj(b, "j1", "done", "get", 9, 9, -1));
	ck_assert(drain());
	assert_done(&recs[1], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.job.id, "j1");
	ck_assert_int_eq(recs[1].r.job.state, FTPAGENT_JOB_DONE);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	req_clear(&q);
}
END_TEST

/* ---- the watch hook ------------------------------------------------------ */

struct watch {
	int		 calls;
	int		 fd;
	unsigned	 events;
	int		 timeout;
};

static void
on_watch(void *arg, int fd, unsigned events, int timeout_ms)
{
	struct watch *w = arg;

	w->calls++;
	w->fd = fd;
	w->events = events;
	w->timeout = timeout_ms;
}

/* What the hook was told last is what the connection says now. */
static void
assert_watch_current(const struct watch *w)
{
	ck_assert_int_gt(w->calls, 0);
	ck_assert_uint_eq(w->events, ftpagent_events(a));
	ck_assert_int_eq(w->timeout < 0, ftpagent_timeout(a) < 0);
	if (w->events != 0)
		ck_assert_int_eq(w->fd, ftpagent_fd(a));
}

START_TEST(test_watch)
{
	static struct watch w;	/* ftpagent_free may still call it */
	struct req q;

	memset(&w, 0, sizeof(w));
	ftpagent_set_watch(a, on_watch, &w);
	ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply, &recs[0]);
	assert_watch_current(&w);
	ck_assert(w.events & FTPAGENT_WRITE);
	ck_assert_int_gt(w.timeout, 0);
	flush();
	assert_watch_current(&w);
	ck_assert_uint_eq(w.events, FTPAGENT_READ);
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id, "{}");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 1);
	assert_watch_current(&w);
	ck_assert_int_lt(w.timeout, 0);
	req_clear(&q);
	/* a failure: stop watching */
	ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply, &recs[1]);
	flush();
	close(agent);
	agent = -1;
	ck_assert(!drain());
	ck_assert_uint_eq(w.events, 0);
	ck_assert_int_lt(w.timeout, 0);
	ftpagent_set_watch(a, NULL, NULL);
}
END_TEST

/* ---- 9. the blocking face on the same core ------------------------------- */

/*
 * The forked agent: answers the two pings first, waits a little, then
 * answers the fs.stat; exits at EOF or after 10 s. A script that goes
 * wrong just hangs up, which fails the blocking call.
 */
static void
blocking_agent(int fd)
{
	struct req q[3], r;
	char out[1024];
	int i, n;

	for (i = 0; i < 3; i++)
		if (!fake_recv_req(fd, &q[i], WAIT_MS))
			_exit(1);
	if (strcmp(q[0].method, "agent.ping") != 0 ||
	    strcmp(q[1].method, "agent.ping") != 0 ||
	    strcmp(q[2].method, "fs.stat") != 0)
		_exit(2);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":2},\"id\":%lld}\n"
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":1},\"id\":%lld}\n",
	    (long long)q[1].id, (long long)q[0].id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(3);
	poll(NULL, 0, 100);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"name\":\"x\",\"type\":\"file\","
	    "\"size\":77},\"id\":%lld}\n", (long long)q[2].id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(4);
	/* the fourth: a ping sent after the blocking call */
	if (!fake_recv_req(fd, &r, WAIT_MS))
		_exit(5);
	poll(NULL, 0, 50);
	n = snprintf(out, sizeof(out),
	    "{\"jsonrpc\":\"2.0\",\"result\":{\"n\":4},\"id\":%lld}\n",
	    (long long)r.id);
	if (!fake_send(fd, out, (size_t)n, WAIT_MS))
		_exit(6);
	(void)fake_recv_req(fd, &r, 10000);	/* until EOF */
	_exit(0);
}

START_TEST(test_blocking_face)
{
	struct ftpagent_entry e;
	uint64_t id[3];
	bool ok;

	child = fork();
	ck_assert_int_ne(child, -1);
	if (child == 0) {
		blocking_agent(agent);
		_exit(0);
	}
	close(agent);
	agent = -1;

	id[0] = ftpagent_send_call(a, "agent.ping", "{\"n\":1}", NULL, 0,
	    on_reply, &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", "{\"n\":2}", NULL, 0,
	    on_reply, &recs[1]);
	/* the blocking call writes the queued requests and its own */
	ok = ftpagent_stat(a, "s1", "/x", &e);
	ck_assert_msg(ok, "stat: %s", ftpagent_error_message(a));
	ck_assert_str_eq(e.name, "x");
	ck_assert_int_eq(e.size, 77);
	ftpagent_entry_clear(&e);
	/* the replies that came while it waited have run */
	assert_done(&recs[0], id[0], FTPAGENT_OK);
	assert_done(&recs[1], id[1], FTPAGENT_OK);
	ck_assert_str_eq(recs[1].r.json, "{\"n\":2}");
	ck_assert_int_lt(recs[1].seq, recs[0].seq);
	ck_assert_uint_eq(ftpagent_pending(a), 0);

	/* and the async face goes on afterwards */
	id[2] = ftpagent_send_call(a, "agent.ping", "{\"n\":4}", NULL, 0,
	    on_reply, &recs[2]);
	ck_assert(run_until(&recs[2].runs, 1, WAIT_MS));
	assert_done(&recs[2], id[2], FTPAGENT_OK);
}
END_TEST

/* ---- 10. a hostile agent ------------------------------------------------- */

START_TEST(test_unknown_and_duplicate_ids)
{
	struct req q;
	uint64_t id;

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_result(q.id + 1000, "{\"stray\":1}");
	agent_printf("{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":\"%lld\"}\n",
	    (long long)q.id);
	agent_error(q.id + 1001, -32000, "ftp", "stray error");
	ck_assert(drain());
	ck_assert_int_eq(recs[0].runs, 0);
	agent_result(q.id, "{\"n\":1}");
	agent_result(q.id, "{\"n\":2}");
	ck_assert(drain());
	assert_done(&recs[0], id, FTPAGENT_OK);
	ck_assert_str_eq(recs[0].r.json, "{\"n\":1}");
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	req_clear(&q);
}
END_TEST

/* Results of the wrong shape: the call fails, the connection stays. */
START_TEST(test_wrong_result_types)
{
	struct req q[5];
	uint64_t id[5];
	int i;

	for (i = 0; i < 5; i++)
		recs[i].leave = true;
	id[0] = ftpagent_send_list(a, "s1", "/", on_reply, &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	id[2] = ftpagent_send_quote(a, "s1", "NOOP", on_reply, &recs[2]);
	id[3] = ftpagent_send_job_list(a, on_reply, &recs[3]);
	id[4] = ftpagent_send_list(a, "s1", "/b", on_reply, &recs[4]);
	flush();
	for (i = 0; i < 5; i++)
		agent_req(&q[i], NULL, 0);
	agent_result(q[0].id, "42");
	agent_result(q[1].id, "\"file\"");
	agent_result(q[2].id, "{\"code\":\"200\",\"text\":\"ok\"}");
	agent_result(q[3].id, "{\"jobs\":1}");
	/* an array with one entry that is not an entry */
	agent_result(q[4].id, "{\"entries\":[{\"name\":\"ok\"},{\"size\":1}]}");
	ck_assert(drain());
	for (i = 0; i < 5; i++) {
		assert_done(&recs[i], id[i], FTPAGENT_ERR_RPC);
		ck_assert_msg(strstr(recs[i].message, "unexpected reply") !=
		    NULL, "message: %s", recs[i].message);
		req_clear(&q[i]);
	}
	ck_assert_int_eq(ftpagent_error(a), FTPAGENT_OK);
	ck_assert_int_ge(ftpagent_fd(a), 0);
	ck_assert_uint_eq(ftpagent_pending(a), 0);
}
END_TEST

START_TEST(test_invalid_json)
{
	struct req q[2];
	uint64_t id[2];

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_stat(a, "s1", "/a", on_reply, &recs[1]);
	flush();
	agent_req(&q[0], "agent.ping", 0);
	agent_req(&q[1], "fs.stat", 0);
	agent_write("{\"jsonrpc\":\"2.0\",\"result\":{,\"id\":1}\n");
	ck_assert(!drain());
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q[0]);
	req_clear(&q[1]);
}
END_TEST

/* JSON that is no JSON-RPC message (and a NUL byte): failing or
 * skipping it are both fine; crashing or losing a call is not. */
START_TEST(test_not_jsonrpc)
{
	struct req q;
	uint64_t id;
	bool ok;

	id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	flush();
	agent_req(&q, "agent.ping", 0);
	agent_write("[1,2,3]\n42\n{\"jsonrpc\":\"2.0\"}\n{\"jsonrpc\":\"1.0\","
	    "\"result\":{},\"id\":null}\n{\"jsonrpc\":\"2.0\",\"method\":7}\n"
	    "{\"jsonrpc\":\"2.0\",\"method\":\"job.progress\",\"params\":3}\n");
	ok = drain();
	ck_assert_int_eq(recs[0].runs, ok ? 0 : 1);
	if (ok) {
		ck_assert(fake_send(agent, "\0\n", 2, WAIT_MS));
		ok = drain();
	}
	if (ok) {
		agent_result(q.id, "{}");
		ok = drain();
		ck_assert_msg(ok, "%s", ftpagent_error_message(a));
		assert_done(&recs[0], id, FTPAGENT_OK);
	} else {
		assert_done(&recs[0], id, FTPAGENT_ERR_AGENT);
		assert_failed_connection();
	}
	req_clear(&q);
}
END_TEST

START_TEST(test_overlong_line)
{
	static char chunk[64 * 1024];
	const size_t limit = 64u * 1024 * 1024;
	struct req q;
	uint64_t id[2];
	size_t sent = 0;
	ssize_t n;
	bool ok = true;
	int64_t deadline = now_ms() + 60000;

	id[0] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[0]);
	id[1] = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0, on_reply,
	    &recs[1]);
	flush();
	agent_req(&q, "agent.ping", 0);
	req_clear(&q);
	agent_req(&q, "agent.ping", 0);
	agent_write("{\"jsonrpc\":\"2.0\",\"result\":\"");
	memset(chunk, 'x', sizeof(chunk));
	/* a line longer than any the library takes, never ended */
	while (ok && sent < limit && now_ms() < deadline) {
		n = send(agent, chunk, sizeof(chunk), MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else
			ck_assert_msg(n == -1 && errno == EAGAIN,
			    "send: %s after %zu", strerror(errno), sent);
		ok = drain();
	}
	ck_assert_msg(!ok, "%zu bytes without a line end taken", sent);
	assert_done(&recs[0], id[0], FTPAGENT_ERR_AGENT);
	assert_done(&recs[1], id[1], FTPAGENT_ERR_AGENT);
	assert_failed_connection();
	req_clear(&q);
}
END_TEST

/* ---- 11. many calls ------------------------------------------------------ */


static void
on_many(struct ftpagent *conn, struct ftpagent_reply *r, void *arg)
{
	struct many *m = arg;

	(void)conn;
	m->runs++;
	m->right = r->call == m->id && r->error == FTPAGENT_OK &&
	    r->json != NULL && strcmp(r->json, "{}") == 0;
	if (!m->right)
		copy_str(many_why, sizeof(many_why), r->error_message);
	many_done++;
}

START_TEST(test_many_calls)
{
	static char in[256 * 1024], out[200 * 64];
	static json_int_t ids[MANY];
	size_t inlen = 0, outlen;
	int64_t deadline = now_ms() + 120000;
	int nids = 0, i, k, got = 0;
	char *nl, *p;
	json_t *j;
	ssize_t n;

	ck_assert_ptr_nonnull(many = calloc(MANY, sizeof(*many)));
	many_done = 0;
	ftpagent_set_timeout(a, 120000);	/* slow under valgrind */
	for (i = 0; i < MANY; i++) {
		many[i].id = ftpagent_send_call(a, "agent.ping", NULL, NULL, 0,
		    on_many, &many[i]);
		ck_assert_msg(many[i].id != 0, "send %d: %s", i,
		    ftpagent_error_message(a));
	}
	ck_assert_uint_eq(ftpagent_pending(a), MANY);

	/* the agent answers what it has read in batches of up to 200,
	 * last first, while the library is still writing */
	while (many_done < MANY && now_ms() < deadline) {
		if (ftpagent_events(a) & FTPAGENT_WRITE)
			ck_assert(ftpagent_process(a, FTPAGENT_WRITE));
		n = recv(agent, in + inlen, sizeof(in) - inlen - 1,
		    MSG_DONTWAIT);
		ck_assert_msg(n > 0 || (n == -1 && errno == EAGAIN),
		    "agent recv: %s", n == 0 ? "EOF" : strerror(errno));
		if (n > 0)
			inlen += (size_t)n;
		in[inlen] = '\0';
		for (p = in; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			*nl = '\0';
			j = json_loads(p, 0, NULL);
			ck_assert_ptr_nonnull(j);
			ck_assert(json_is_integer(json_object_get(j, "id")));
			ck_assert_int_lt(got, MANY);
			ids[nids++] = json_integer_value(json_object_get(j,
			    "id"));
			json_decref(j);
			got++;
		}
		inlen -= (size_t)(p - in);
		memmove(in, p, inlen);
		ck_assert_uint_lt(inlen, sizeof(in) / 2);	/* no line */
		for (i = 0; i < 4 && nids > 0; i++) {
			outlen = 0;
			for (k = 0; k < 200 && nids > 0; k++)
				outlen += (size_t)snprintf(out + outlen,
				    sizeof(out) - outlen,
				    "{\"jsonrpc\":\"2.0\",\"result\":{},"
				    "\"id\":%lld}\n",
				    (long long)ids[--nids]);
			ck_assert(fake_send(agent, out, outlen, WAIT_MS));
			ck_assert(drain());
		}
		if (n <= 0 && !(ftpagent_events(a) & FTPAGENT_WRITE))
			poll(NULL, 0, 1);
	}
	ck_assert_int_eq(got, MANY);
	ck_assert_int_eq(many_done, MANY);
	for (i = 0; i < MANY; i++) {
		ck_assert_msg(many[i].runs == 1, "call %d ran %d times", i,
		    many[i].runs);
		ck_assert_msg(many[i].right, "call %d: wrong reply (%s)", i,
		    many_why);
	}
	ck_assert_uint_eq(ftpagent_pending(a), 0);
	ck_assert_int_eq(ftpagent_timeout(a), -1);
	free(many);
	many = NULL;
}
END_TEST

Suite *
async_suite(void)
{
	Suite *s = suite_create("async");
	TCase *tc;

	tc = tcase_create("calls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_send_ids_and_arguments);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_error_reply);
	tcase_add_test(tc, test_split_reply);
	tcase_add_test(tc, test_split_notification_then_reply);
	tcase_add_test(tc, test_notifications_to_callback);
	tcase_add_test(tc, test_notifications_kept);
	tcase_add_test(tc, test_progress_routing);
	tcase_add_test(tc, test_progress_without_request_ambiguous);
	tcase_add_test(tc, test_subscription_progress_not_a_transfers);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cancel_call);
	tcase_add_test(tc, test_cancel_transfer);
	tcase_add_test(tc, test_cancel_from_progress);
	tcase_add_test(tc, test_cancel_transfer_job_learnt_later);
	tcase_add_test(tc, test_cancel_inside_progress);
	tcase_add_test(tc, test_cancel_again_from_callback);
	tcase_add_test(tc, test_reentrant_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hangup_with_calls_pending);
	tcase_add_test(tc, test_hangup_mid_reply);
	tcase_add_test(tc, test_hangup_before_write);
	tcase_add_test(tc, test_free_with_calls_pending);
	tcase_add_test(tc, test_free_inside_callback);
	tcase_add_test(tc, test_hangup_after_reply_with_output_queued);
	tcase_add_test(tc, test_hangup_after_64k);
	tcase_add_test(tc, test_unknown_and_duplicate_ids);
	tcase_add_test(tc, test_wrong_result_types);
	tcase_add_test(tc, test_invalid_json);
	tcase_add_test(tc, test_not_jsonrpc);
	tcase_add_test(tc, test_overlong_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("fds, time, blocking");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fds_with_their_request);
	tcase_add_test(tc, test_call_fds);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_earliest);
	tcase_add_test(tc, test_transfer_timeout);
	tcase_add_test(tc, test_job_wait_slices);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_blocking_face);
	suite_add_tcase(s, tc);

	tc = tcase_create("many");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_many_calls);
	suite_add_tcase(s, tc);
	return s;
}
