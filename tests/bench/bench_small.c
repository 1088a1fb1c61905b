/*
 * bench_small: transfers through libftpagent, as a C program would do
 * them.
 *
 *	bench_small -S SOCK small [-n COUNT] [-C CA] URL REMOTE_DIR LOCAL_DIR
 *	    opens one session, then (timed) downloads REMOTE_DIR/f000 ...
 *	    into LOCAL_DIR/f000 ... one after the other with ftpagent_get_fd
 *	bench_small -S SOCK load [-n COUNT] [-C CA] URL REMOTE KEEP_FILE
 *	    opens COUNT sessions and starts COUNT background downloads of
 *	    REMOTE, each into a pipe that this program drains: the first
 *	    into KEEP_FILE (to be checked), the others into /dev/null, so
 *	    that long downloads take no memory. Prints "running" once every
 *	    one is under way, then waits for them and checks their sizes.
 *
 * The password comes from $BENCH_PASSWORD. Results go to stdout as
 * key=value pairs; errors to stderr, exit 1.
 */
#define _GNU_SOURCE		/* pipe2, splice, F_SETPIPE_SZ */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpagent.h"
#include "bench.h"

#define MAX_FILES	100000
#define TIMEOUT_MS	120000
#define POLL_MS		20		/* load: job list every 20 ms */
#define PIPE_SIZE	(1 << 20)

static void __attribute__((noreturn))
die_fa(const struct ftpagent *fa, const char *what)
{
	die("%s: %s [%s] (ftp %d)", what, ftpagent_error_message(fa),
	    ftpagent_error_kind(fa), ftpagent_ftp_code(fa));
}

static struct ftpagent *
connect_agent(const char *sock)
{
	struct ftpagent	*fa;

	fa = ftpagent_connect_opts(sock, 0, TIMEOUT_MS);
	if (fa == NULL || ftpagent_error(fa) != FTPAGENT_OK)
		die_fa(fa, sock);
	return fa;
}

static char *
open_session(struct ftpagent *fa, const char *url, const char *ca_file)
{
	struct ftpagent_open_opts	 oo;
	char				*session;

	memset(&oo, 0, sizeof(oo));
	oo.password = getenv("BENCH_PASSWORD");
	oo.ca_file = ca_file;
	if (!ftpagent_open(fa, url, &oo, &session))
		die_fa(fa, url);
	return session;
}

static int
cmd_small(const char *sock, unsigned count, const char *ca_file,
    const char *url, const char *rdir, const char *ldir)
{
	struct ftpagent	*fa;
	char		*session, remote[4096], local[4096];
	double		 t0, t;
	unsigned	 i;
	int		 fd;

	fa = connect_agent(sock);
	session = open_session(fa, url, ca_file);
	t0 = now(CLOCK_MONOTONIC);
	for (i = 0; i < count; i++) {
		snprintf(remote, sizeof(remote), "%s/f%03u", rdir, i);
		snprintf(local, sizeof(local), "%s/f%03u", ldir, i);
		fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd == -1)
			die("%s: %s", local, strerror(errno));
		if (!ftpagent_get_fd(fa, session, remote, fd, NULL, NULL))
			die_fa(fa, remote);
		close(fd);
	}
	t = now(CLOCK_MONOTONIC) - t0;
	printf("files=%u seconds=%.4f rate=%.1f\n", count, t, count / t);
	if (!ftpagent_close(fa, session))
		die_fa(fa, "close");
	free(session);
	ftpagent_free(fa);
	return 0;
}

/* The index of id in ids[0..n-1], or -1. */
static int
find_job(char **ids, unsigned n, const char *id)
{
	unsigned	i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return (int)i;
	return -1;
}

static bool
job_final(enum ftpagent_job_state s)
{
	return s == FTPAGENT_JOB_DONE || s == FTPAGENT_JOB_FAILED ||
	    s == FTPAGENT_JOB_CANCELLED;
}

struct load {
	unsigned	  n;
	char		**sessions;
	char		**ids;
	int		 *fds;		/* read ends of the pipes, -1 at EOF */
	long long	 *got;		/* bytes drained from each */
	struct pollfd	 *pfds;
	int		  devnull;
	int		  keep;		/* where pipe 0's bytes go */
};

/*
 * Drains what the agent has written into the pipes: pipe 0 into the file
 * kept for the checksum, the others into /dev/null, with splice, so the
 * drain costs next to nothing. Waits at most timeout_ms for data; returns
 * how many pipes are still open.
 */
static unsigned
drain(struct load *l, int timeout_ms)
{
	unsigned	i, open_pipes = 0;
	ssize_t		n;

	for (i = 0; i < l->n; i++) {
		l->pfds[i].fd = l->fds[i];
		l->pfds[i].events = POLLIN;
		l->pfds[i].revents = 0;
	}
	if (poll(l->pfds, l->n, timeout_ms) == -1 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (i = 0; i < l->n; i++) {
		if (l->fds[i] == -1)
			continue;
		for (;;) {
			n = splice(l->fds[i], NULL, i == 0 ? l->keep :
			    l->devnull, NULL, PIPE_SIZE, SPLICE_F_NONBLOCK);
			if (n > 0) {
				l->got[i] += n;
				continue;
			}
			if (n == 0) {
				close(l->fds[i]);
				l->fds[i] = -1;
			} else if (errno != EAGAIN && errno != EINTR)
				die("splice: %s", strerror(errno));
			break;
		}
		if (l->fds[i] != -1)
			open_pipes++;
	}
	return open_pipes;
}

/* Polls the job list until each job is running with bytes moved, or over;
 * returns how many were over already. */
static unsigned
wait_running(struct ftpagent *fa, struct load *l)
{
	struct ftpagent_job	*jobs;
	size_t			 njobs, j;
	double			 deadline;
	unsigned		 going, over;

	deadline = now(CLOCK_MONOTONIC) + TIMEOUT_MS / 1000.0;
	for (;;) {
		if (!ftpagent_job_list(fa, &jobs, &njobs))
			die_fa(fa, "job.list");
		going = over = 0;
		for (j = 0; j < njobs; j++) {
			if (find_job(l->ids, l->n, jobs[j].id) == -1)
				continue;
			if (job_final(jobs[j].state))
				over++;
			else if (jobs[j].state == FTPAGENT_JOB_RUNNING &&
			    jobs[j].bytes > 0)
				going++;
		}
		ftpagent_jobs_free(jobs, njobs);
		if (going + over == l->n)
			return over;
		if (now(CLOCK_MONOTONIC) > deadline)
			die("only %u of %u jobs got under way", going + over,
			    l->n);
		drain(l, POLL_MS);
	}
}

static int
cmd_load(const char *sock, unsigned count, const char *ca_file,
    const char *url, const char *remote, const char *keep_path)
{
	struct ftpagent		*fa;
	struct ftpagent_job	 job;
	struct load		 l;
	double			 t0, deadline, first_end = 0, last_end = 0;
	long long		 bytes = 0, size = -1;
	unsigned		 i, early, bad = 0;
	int			 p[2];

	memset(&l, 0, sizeof(l));
	l.n = count;
	if ((l.sessions = calloc(count, sizeof(*l.sessions))) == NULL ||
	    (l.ids = calloc(count, sizeof(*l.ids))) == NULL ||
	    (l.fds = calloc(count, sizeof(*l.fds))) == NULL ||
	    (l.got = calloc(count, sizeof(*l.got))) == NULL ||
	    (l.pfds = calloc(count, sizeof(*l.pfds))) == NULL)
		die("out of memory");
	if ((l.devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		die("/dev/null: %s", strerror(errno));
	l.keep = open(keep_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (l.keep == -1)
		die("%s: %s", keep_path, strerror(errno));
	fa = connect_agent(sock);
	for (i = 0; i < count; i++)
		l.sessions[i] = open_session(fa, url, ca_file);
	t0 = now(CLOCK_REALTIME);
	for (i = 0; i < count; i++) {
		if (pipe2(p, O_CLOEXEC) == -1)
			die("pipe: %s", strerror(errno));
		/* fewer wake-ups; a smaller pipe is fine too */
		(void)fcntl(p[1], F_SETPIPE_SZ, PIPE_SIZE);
		if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
			die("fcntl: %s", strerror(errno));
		if (!ftpagent_get_fd_background(fa, l.sessions[i], remote,
		    p[1], NULL, &l.ids[i]))
			die_fa(fa, remote);
		close(p[1]);	/* the agent's copy is the only writer */
		l.fds[i] = p[0];
	}
	early = wait_running(fa, &l);
	printf("running=%u early_end=%u at=%.6f\n", count - early, early,
	    now(CLOCK_REALTIME));
	fflush(stdout);

	deadline = now(CLOCK_MONOTONIC) + TIMEOUT_MS / 1000.0;
	while (drain(&l, POLL_MS) > 0)
		if (now(CLOCK_MONOTONIC) > deadline)
			die("the downloads did not end in %d s",
			    TIMEOUT_MS / 1000);
	for (i = 0; i < count; i++) {
		if (!ftpagent_job_wait(fa, l.ids[i], TIMEOUT_MS, &job))
			die_fa(fa, l.ids[i]);
		if (job.state != FTPAGENT_JOB_DONE) {
			fprintf(stderr, "bench_small: %s: %s: %s\n", l.ids[i],
			    ftpagent_job_state_name(job.state),
			    job.error_message != NULL ? job.error_message : "");
			bad++;
		}
		if (first_end == 0 || job.ended < first_end)
			first_end = job.ended;
		if (job.ended > last_end)
			last_end = job.ended;
		if (size == -1)
			size = job.total;
		bytes += job.bytes;
		ftpagent_job_clear(&job);
		if (l.got[i] != size) {
			fprintf(stderr, "bench_small: pipe %u: %lld bytes, not "
			    "%lld\n", i, l.got[i], size);
			bad++;
		}
	}
	printf("jobs=%u bad=%u bytes=%lld first_end=%.6f last_end=%.6f "
	    "seconds=%.3f rate=%.0f\n", count, bad, bytes, first_end, last_end,
	    last_end - t0, bytes / (last_end - t0));
	for (i = 0; i < count; i++) {
		if (!ftpagent_close(fa, l.sessions[i]))
			die_fa(fa, "close");
		free(l.sessions[i]);
		free(l.ids[i]);
	}
	close(l.keep);
	close(l.devnull);
	free(l.sessions);
	free(l.ids);
	free(l.fds);
	free(l.got);
	free(l.pfds);
	ftpagent_free(fa);
	return bad == 0 ? 0 : 1;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bench_small -S SOCKET small [-n COUNT] [-C CA_FILE] URL "
	    "REMOTE_DIR LOCAL_DIR\n"
	    "       bench_small -S SOCKET load [-n COUNT] [-C CA_FILE] URL "
	    "REMOTE KEEP_FILE\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*sock = NULL, *ca_file = NULL, *cmd;
	unsigned	 count = 200;
	int		 ch;

	while ((ch = getopt(argc, argv, "+S:")) != -1) {
		switch (ch) {
		case 'S':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (sock == NULL || argc < 1)
		usage();
	cmd = argv[0];
	optind = 1;
	while ((ch = getopt(argc, argv, "n:C:")) != -1) {
		switch (ch) {
		case 'n':
			count = number(optarg, 1, MAX_FILES);
			break;
		case 'C':
			ca_file = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 3)
		usage();
	if (strcmp(cmd, "small") == 0)
		return cmd_small(sock, (unsigned)count, ca_file, argv[0],
		    argv[1], argv[2]);
	if (strcmp(cmd, "load") == 0)
		return cmd_load(sock, (unsigned)count, ca_file, argv[0],
		    argv[1], argv[2]);
	usage();
}
