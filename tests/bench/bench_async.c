/*
 * bench_async: agent.ping through libftpagent, pipelined on one
 * connection with the non-blocking API against one at a time with the
 * blocking one.
 *
 *	bench_async -S SOCK [-n COUNT] [-w WINDOW]
 *
 * Pipelined: COUNT ftpagent_send_call on one connection, at most WINDOW
 * (default 1000; 0: all at once) in flight, driven by a poll() loop over
 * ftpagent_fd, ftpagent_events, ftpagent_timeout and ftpagent_process.
 * Blocking: COUNT ftpagent_call one after the other on another
 * connection, each timed (blocking_median_us, comparable with bench_rpc
 * latency's median on a raw socket). Results go to stdout as one line
 * of key=value pairs; errors to stderr, exit 1. Every call has the
 * library's timeout (-t milliseconds, default 60000).
 */
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpagent_async.h"
#include "bench.h"

#define MAX_CALLS	10000000

struct pipeline {
	unsigned	 sent;
	unsigned	 answered;
	unsigned	 failed;
	char		 error[256];	/* the first failure */
};

static int timeout_ms = 60000;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_async -S SOCK [-n COUNT] [-w WINDOW] "
	    "[-t MS]\n");
	exit(2);
}

static void __attribute__((noreturn))
die_fa(const struct ftpagent *fa, const char *what)
{
	die("%s: %s [%s]", what, ftpagent_error_message(fa),
	    ftpagent_error_kind(fa));
}

static struct ftpagent *
connect_agent(const char *sock)
{
	struct ftpagent	*fa;

	fa = ftpagent_connect_opts(sock, 0, timeout_ms);
	if (fa == NULL || ftpagent_error(fa) != FTPAGENT_OK)
		die_fa(fa, sock);
	return fa;
}

static void
on_pong(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct pipeline	*p = arg;

	p->answered++;
	if (r->error != FTPAGENT_OK && p->failed++ == 0)
		snprintf(p->error, sizeof(p->error), "%s [%s]",
		    r->error_message, r->error_kind);
}

/* One round of the caller's loop: wait for what the connection wants,
 * then let it work. */
static void
drive(struct ftpagent *fa)
{
	struct pollfd	pfd;
	unsigned	ev = ftpagent_events(fa), revents = 0;
	int		n;

	pfd.fd = ftpagent_fd(fa);
	pfd.events = (ev & FTPAGENT_READ ? POLLIN : 0) |
	    (ev & FTPAGENT_WRITE ? POLLOUT : 0);
	n = poll(&pfd, 1, ftpagent_timeout(fa));
	if (n == -1 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (n > 0) {
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			revents |= FTPAGENT_READ;
		if (pfd.revents & POLLOUT)
			revents |= FTPAGENT_WRITE;
	}
	if (!ftpagent_process(fa, revents))
		die_fa(fa, "process");
}

/* Seconds for count pings, at most window in flight (0: no limit). */
static double
pipelined(const char *sock, unsigned count, unsigned window)
{
	struct ftpagent	*fa = connect_agent(sock);
	struct pipeline	 p;
	double		 t0, t;

	memset(&p, 0, sizeof(p));
	t0 = now(CLOCK_MONOTONIC);
	while (p.answered < count) {
		while (p.sent < count &&
		    (window == 0 || p.sent - p.answered < window)) {
			if (ftpagent_send_call(fa, "agent.ping", NULL, NULL, 0,
			    on_pong, &p) == 0)
				die_fa(fa, "send");
			p.sent++;
		}
		drive(fa);
	}
	t = now(CLOCK_MONOTONIC) - t0;
	if (p.failed > 0)
		die("%u of %u pings failed, the first: %s", p.failed, count,
		    p.error);
	if (ftpagent_pending(fa) != 0)
		die("%zu calls still pending", ftpagent_pending(fa));
	ftpagent_free(fa);
	return t;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Seconds for count pings through ftpagent_call, one at a time; the
 * median call in *median_us (P4's figure is a median too). */
static double
blocking(const char *sock, unsigned count, double *median_us)
{
	struct ftpagent	*fa = connect_agent(sock);
	char		*json;
	double		*lat, t0, t1, start;
	unsigned	 i;

	if ((lat = calloc(count, sizeof(*lat))) == NULL)
		die("out of memory");
	start = t0 = now(CLOCK_MONOTONIC);
	for (i = 0; i < count; i++) {
		if (!ftpagent_call(fa, "agent.ping", NULL, &json))
			die_fa(fa, "agent.ping");
		free(json);
		t1 = now(CLOCK_MONOTONIC);
		lat[i] = t1 - t0;
		t0 = t1;
	}
	qsort(lat, count, sizeof(*lat), cmp_double);
	*median_us = lat[count / 2] * 1e6;
	free(lat);
	ftpagent_free(fa);
	return t0 - start;
}

int
main(int argc, char *argv[])
{
	const char	*sock = NULL;
	unsigned	 count = 10000, window = 1000;
	double		 tp, tb, med;
	int		 c;

	while ((c = getopt(argc, argv, "S:n:t:w:")) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'n':
			count = number(optarg, 1, MAX_CALLS);
			break;
		case 't':
			timeout_ms = (int)number(optarg, 1, 3600000);
			break;
		case 'w':
			window = number(optarg, 0, MAX_CALLS);
			break;
		default:
			usage();
		}
	}
	if (sock == NULL || optind != argc)
		usage();
	/* a short warm-up of both, so neither pays for a cold start */
	pipelined(sock, count / 10 + 1, window);
	blocking(sock, count / 100 + 1, &med);
	tp = pipelined(sock, count, window);
	tb = blocking(sock, count, &med);
	printf("calls=%u window=%u pipelined_s=%.4f pipelined_rate=%.0f "
	    "blocking_s=%.4f blocking_rate=%.0f blocking_median_us=%.2f "
	    "ratio=%.2f\n", count, window, tp, count / tp, tb, count / tb,
	    med, tb / tp);
	return 0;
}
