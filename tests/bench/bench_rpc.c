/*
 * bench_rpc: the agent's JSON-RPC figures, measured on a raw Unix socket
 * with this program's own NDJSON framing, not through libftpagent, so the
 * figures are the agent's (plus the kernel's) and not the library's.
 *
 *	bench_rpc -S SOCK latency [-n COUNT] [-T SECONDS]
 *	    agent.ping one at a time: median, p99 in microseconds
 *	bench_rpc -S SOCK flood [-c CLIENTS] [-d DEPTH] [-T SECONDS]
 *	    agent.ping from CLIENTS processes, each keeping DEPTH in flight
 *	bench_rpc echo [-n COUNT] [-T SECONDS]
 *	    like latency, against a child process that answers each line
 *	    with a fixed reply over a socket pair: the floor of a round trip
 *	bench_rpc -S SOCK sessions [-n COUNT] [-w WINDOW] URL
 *	    session.open COUNT times (WINDOW at once), password from
 *	    $BENCH_PASSWORD; the sessions stay open
 *
 * Results go to stdout as one line of key=value pairs; errors to stderr,
 * exit 1. Every wait has a timeout (-t, default 60 s).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define READ_CHUNK	65536
#define PING_FMT	"{\"jsonrpc\":\"2.0\",\"method\":\"agent.ping\",\"id\":%u}\n"
#define MAX_CLIENTS	256
#define MAX_DEPTH	4096

struct conn {
	int	 fd;
	char	*buf;		/* bytes read, not yet framed */
	size_t	 len, cap;
};

static int timeout_ms = 60000;

static void
conn_init(struct conn *c, int fd)
{
	struct timeval	tv;

	c->fd = fd;
	/*
	 * Blocking calls with kernel timeouts: a round trip is one send and
	 * one recv here, so that the client adds as little as it can.
	 */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		die("setsockopt: %s", strerror(errno));
	c->cap = READ_CHUNK * 2;
	if ((c->buf = malloc(c->cap)) == NULL)
		die("out of memory");
	c->len = 0;
}

static void
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un	sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: socket path too long", path);
	strcpy(sun.sun_path, path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("%s: %s", path, strerror(errno));
	conn_init(c, c->fd);
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	c->buf = NULL;
}

static void
conn_write(struct conn *c, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				die("the agent took no data for %d ms",
				    timeout_ms);
			die("write to the agent: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Reads what is there (waiting for at least one byte); dies on EOF and
 * on timeout. */
static void
conn_fill(struct conn *c)
{
	ssize_t	n;

	if (c->cap - c->len < READ_CHUNK) {
		c->cap *= 2;
		if ((c->buf = realloc(c->buf, c->cap)) == NULL)
			die("out of memory");
	}
	for (;;) {
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0)
			break;
		if (n == 0)
			die("the agent closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			die("no reply from the agent in %d ms", timeout_ms);
		die("read from the agent: %s", strerror(errno));
	}
	c->len += (size_t)n;
}

/*
 * The next complete line, NUL-terminated in place, or NULL when none is
 * buffered. *used counts the bytes consumed so far; conn_compact drops them.
 */
static char *
conn_line(struct conn *c, size_t *used)
{
	char	*start = c->buf + *used, *nl;

	nl = memchr(start, '\n', c->len - *used);
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*used = (size_t)(nl - c->buf) + 1;
	return start;
}

static void
conn_compact(struct conn *c, size_t used)
{
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
}

/* A reply that is not a success: print it and die. */
static void
check_result(const char *line)
{
	if (strstr(line, "\"result\"") == NULL)
		die("unexpected reply: %.300s", line);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n-1], nearest rank. */
static double
quantile(const double *v, size_t n, double q)
{
	size_t	i;

	i = (size_t)(q * (double)n + 0.999999);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/*
 * The floor of a round trip on this machine: a child process that answers
 * every line at once with a fixed reply, over a socket pair. It exits at
 * EOF.
 */
static int
echo_child(void)
{
	static const char	 reply[] =
	    "{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":1}\n";
	char			 buf[READ_CHUNK];
	ssize_t			 n, i;
	int			 sv[2];
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid != 0) {
		close(sv[1]);
		return sv[0];
	}
	close(sv[0]);
	while ((n = read(sv[1], buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			if (buf[i] == '\n' && write(sv[1], reply,
			    sizeof(reply) - 1) != (ssize_t)sizeof(reply) - 1)
				_exit(1);
	_exit(0);
}

/* sock NULL: against echo_child instead of the agent. */
static int
cmd_latency(const char *sock, unsigned count, double max_s)
{
	struct conn	 c;
	double		*us, t0, t1, start, sum = 0;
	char		 req[128], *line;
	unsigned	 i, done = 0;
	size_t		 used;
	int		 len;

	if ((us = calloc(count, sizeof(*us))) == NULL)
		die("out of memory");
	if (sock != NULL)
		conn_open(&c, sock);
	else
		conn_init(&c, echo_child());
	/* a few unmeasured pings: connection set-up, caches */
	for (i = 0; i < 10; i++) {
		len = snprintf(req, sizeof(req), PING_FMT, i);
		conn_write(&c, req, (size_t)len);
		used = 0;
		while ((line = conn_line(&c, &used)) == NULL)
			conn_fill(&c);
		check_result(line);
		conn_compact(&c, used);
	}
	start = now(CLOCK_MONOTONIC);
	for (i = 0; i < count; i++) {
		len = snprintf(req, sizeof(req), PING_FMT, 1000 + i);
		t0 = now(CLOCK_MONOTONIC);
		conn_write(&c, req, (size_t)len);
		used = 0;
		while ((line = conn_line(&c, &used)) == NULL)
			conn_fill(&c);
		t1 = now(CLOCK_MONOTONIC);
		check_result(line);
		conn_compact(&c, used);
		us[done++] = (t1 - t0) * 1e6;
		sum += us[done - 1];
		if (max_s > 0 && t1 - start >= max_s)
			break;
	}
	conn_close(&c);
	qsort(us, done, sizeof(*us), cmp_double);
	printf("count=%u median_us=%.1f p99_us=%.1f p999_us=%.1f mean_us=%.1f "
	    "max_us=%.1f seconds=%.3f end=%.6f\n", done,
	    quantile(us, done, 0.5), quantile(us, done, 0.99),
	    quantile(us, done, 0.999), sum / done, us[done - 1],
	    now(CLOCK_MONOTONIC) - start, now(CLOCK_REALTIME));
	free(us);
	return 0;
}

struct flood_result {
	uint64_t	replies;
	double		seconds;
};

/*
 * One flooding client: keeps depth pings in flight for seconds, then
 * collects the rest. Starts when the parent closes the start pipe.
 */
static void
flood_client(const char *sock, unsigned depth, double seconds, int start_fd,
    int result_fd)
{
	struct flood_result	 r = { 0, 0 };
	struct conn		 c;
	char			*out, *line, b;
	size_t			 outcap, outlen, used;
	unsigned		 inflight = 0, next_id = 1, i, k;
	double			 t0, t;
	bool			 sending = true;

	conn_open(&c, sock);
	outcap = (size_t)depth * 64;
	if ((out = malloc(outcap)) == NULL)
		die("out of memory");
	while (read(start_fd, &b, 1) == -1 && errno == EINTR)
		;
	t0 = now(CLOCK_MONOTONIC);
	outlen = 0;
	for (k = 0; k < depth; k++, next_id++)
		outlen += (size_t)snprintf(out + outlen, outcap - outlen,
		    PING_FMT, next_id);
	conn_write(&c, out, outlen);
	inflight = depth;
	while (inflight > 0) {
		conn_fill(&c);
		used = 0;
		k = 0;
		while ((line = conn_line(&c, &used)) != NULL) {
			check_result(line);
			k++;
		}
		conn_compact(&c, used);
		inflight -= k;
		r.replies += k;
		t = now(CLOCK_MONOTONIC);
		if (sending && t - t0 >= seconds)
			sending = false;
		if (!sending)
			continue;
		/* one more for each reply, in one write */
		outlen = 0;
		for (i = 0; i < k; i++, next_id++)
			outlen += (size_t)snprintf(out + outlen, outcap - outlen,
			    PING_FMT, next_id);
		conn_write(&c, out, outlen);
		inflight += k;
	}
	r.seconds = now(CLOCK_MONOTONIC) - t0;
	conn_close(&c);
	free(out);
	if (write(result_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		die("write result: %s", strerror(errno));
	_exit(0);
}

static int
cmd_flood(const char *sock, unsigned clients, unsigned depth, double seconds)
{
	struct flood_result	 r;
	pid_t			 pids[MAX_CLIENTS];
	uint64_t		 replies = 0;
	double			 wall = 0;
	unsigned		 i, got = 0;
	int			 start[2], res[2], st, status = 0;

	if (pipe(start) == -1 || pipe(res) == -1)
		die("pipe: %s", strerror(errno));
	for (i = 0; i < clients; i++) {
		if ((pids[i] = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			close(start[1]);
			close(res[0]);
			flood_client(sock, depth, seconds, start[0], res[1]);
		}
	}
	close(start[0]);
	close(res[1]);
	usleep(200000);		/* let every client connect */
	close(start[1]);	/* go */
	while (got < clients && read(res[0], &r, sizeof(r)) ==
	    (ssize_t)sizeof(r)) {
		replies += r.replies;
		if (r.seconds > wall)
			wall = r.seconds;
		got++;
	}
	for (i = 0; i < clients; i++) {
		while (waitpid(pids[i], &st, 0) == -1 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			status = 1;
	}
	if (got != clients || status != 0)
		die("%u of %u clients failed", clients - got, clients);
	printf("clients=%u depth=%u pings=%llu seconds=%.3f rate=%.0f\n",
	    clients, depth, (unsigned long long)replies, wall,
	    (double)replies / wall);
	return 0;
}

/* Whether s can go into a JSON string as it is (no escaping needed). */
static bool
json_plain(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

static int
cmd_sessions(const char *sock, unsigned count, unsigned window,
    const char *url)
{
	struct conn	 c;
	const char	*pw = getenv("BENCH_PASSWORD");
	char		 req[4096], *line;
	unsigned	 sent = 0, ok = 0, failed = 0, inflight = 0;
	size_t		 used;
	double		 t0;
	int		 len;

	if (!json_plain(url) || (pw != NULL && !json_plain(pw)))
		die("URL and password must not need JSON escapes");
	conn_open(&c, sock);
	t0 = now(CLOCK_MONOTONIC);
	while (ok + failed < count) {
		while (sent < count && inflight < window) {
			len = snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\","
			    "\"method\":\"session.open\",\"id\":%u,\"params\":"
			    "{\"url\":\"%s\"%s%s%s}}\n", sent + 1, url,
			    pw != NULL ? ",\"password\":\"" : "",
			    pw != NULL ? pw : "", pw != NULL ? "\"" : "");
			if (len < 0 || (size_t)len >= sizeof(req))
				die("URL or password too long");
			conn_write(&c, req, (size_t)len);
			sent++;
			inflight++;
		}
		conn_fill(&c);
		used = 0;
		while ((line = conn_line(&c, &used)) != NULL) {
			inflight--;
			if (strstr(line, "\"result\"") != NULL)
				ok++;
			else if (failed++ < 5)
				fprintf(stderr, "bench_rpc: session.open: "
				    "%.300s\n", line);
		}
		conn_compact(&c, used);
	}
	printf("opened=%u failed=%u seconds=%.3f\n", ok, failed,
	    now(CLOCK_MONOTONIC) - t0);
	conn_close(&c);
	return failed == 0 ? 0 : 1;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bench_rpc -S SOCKET [-t TIMEOUT_S] latency [-n COUNT] "
	    "[-T SECONDS]\n"
	    "       bench_rpc -S SOCKET flood [-c CLIENTS] [-d DEPTH] "
	    "[-T SECONDS]\n"
	    "       bench_rpc -S SOCKET sessions [-n COUNT] [-w WINDOW] URL\n"
	    "       bench_rpc echo [-n COUNT] [-T SECONDS]\n");
	exit(2);
}

static double
seconds(const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= 0))
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	const char	*sock = NULL, *cmd;
	unsigned	 count = 20000, clients = 8, depth = 64, window = 16;
	double		 max_s = 0;
	int		 ch;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "+S:t:")) != -1) {
		switch (ch) {
		case 'S':
			sock = optarg;
			break;
		case 't':
			timeout_ms = (int)(seconds(optarg) * 1000);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (sock == NULL && strcmp(argv[0], "echo") != 0))
		usage();
	cmd = argv[0];
	optind = 1;
	while ((ch = getopt(argc, argv, "n:T:c:d:w:")) != -1) {
		switch (ch) {
		case 'n':
			count = number(optarg, 1, 100000000);
			break;
		case 'T':
			max_s = seconds(optarg);
			break;
		case 'c':
			clients = number(optarg, 1, MAX_CLIENTS);
			break;
		case 'd':
			depth = number(optarg, 1, MAX_DEPTH);
			break;
		case 'w':
			window = number(optarg, 1, MAX_DEPTH);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "latency") == 0 && argc == 0)
		return cmd_latency(sock, count, max_s);
	if (strcmp(cmd, "echo") == 0 && argc == 0)
		return cmd_latency(NULL, count, max_s);
	if (strcmp(cmd, "flood") == 0 && argc == 0)
		return cmd_flood(sock, clients, depth, max_s > 0 ? max_s : 3);
	if (strcmp(cmd, "sessions") == 0 && argc == 1)
		return cmd_sessions(sock, count, window, argv[0]);
	usage();
}
