/*
 * bench_small: transfers through libftpagent, as a C program would do
 * them.
 *
 *	bench_small -S SOCK small [-n COUNT] [-C CA] URL REMOTE_DIR LOCAL_DIR
 *	    opens one session, then (timed) downloads REMOTE_DIR/f000 ...
 *	    into LOCAL_DIR/f000 ... one after the other with ftpagent_get_fd
 *	bench_small -S SOCK load [-n COUNT] [-C CA] [-H] URL REMOTE LOCAL_DIR
 *	    opens COUNT sessions and starts COUNT background downloads of
 *	    REMOTE into LOCAL_DIR/l000 ...; prints "running" once every one
 *	    is under way, then waits for them and checks their sizes. -H
 *	    punches holes behind the agent in all files but l000, so that
 *	    long downloads to tmpfs take little memory.
 *
 * The password comes from $BENCH_PASSWORD. Results go to stdout as
 * key=value pairs; errors to stderr, exit 1.
 */
#define _GNU_SOURCE		/* fallocate */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpagent.h"

#define MAX_FILES	100000
#define TIMEOUT_MS	120000
#define POLL_NS		20000000L	/* load: job list every 20 ms ... */
#define WAIT_MS		200		/* ... then job.wait this long */
#define KEEP		(4 << 20)	/* load -H: bytes left before holes */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("bench_small: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn))
die_fa(const struct ftpagent *fa, const char *what)
{
	die("%s: %s [%s] (ftp %d)", what, ftpagent_error_message(fa),
	    ftpagent_error_kind(fa), ftpagent_ftp_code(fa));
}

static double
now(clockid_t clock)
{
	struct timespec	ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

/*
 * Frees the tmpfs pages of what the agent has written to fd but the last
 * KEEP bytes or so, so that many long downloads fit in memory; *done is how far
 * holes were punched already. The file keeps its size.
 */
static void
punch(int fd, off_t *done)
{
	struct stat	st;
	off_t		end;

	if (fstat(fd, &st) == -1)
		die("fstat: %s", strerror(errno));
	end = (st.st_size - KEEP) & ~(off_t)0xfffff;
	if (end <= *done)
		return;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, *done,
	    end - *done) == -1)
		die("fallocate: %s", strerror(errno));
	*done = end;
}

struct load {
	unsigned	  n;
	char		**sessions;
	char		**ids;
	int		 *fds;
	off_t		 *punched;
	bool		  holes;	/* punch: all files but the first */
};

static void
punch_all(struct load *l)
{
	unsigned	i;

	if (!l->holes)
		return;
	for (i = 1; i < l->n; i++)
		if (l->fds[i] != -1)
			punch(l->fds[i], &l->punched[i]);
}

/* Polls the job list until each job is running with bytes moved, or over;
 * returns how many were over already. */
static unsigned
wait_running(struct ftpagent *fa, struct load *l)
{
	struct timespec		 pause = { 0, POLL_NS };
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
		punch_all(l);
		nanosleep(&pause, NULL);
	}
}

/* Waits for job i to end (punching holes meanwhile) into *job. */
static void
wait_job(struct ftpagent *fa, struct load *l, unsigned i,
    struct ftpagent_job *job)
{
	double	deadline;

	deadline = now(CLOCK_MONOTONIC) + TIMEOUT_MS / 1000.0;
	while (!ftpagent_job_wait(fa, l->ids[i], WAIT_MS, job)) {
		if (ftpagent_error(fa) != FTPAGENT_ERR_TIMEOUT ||
		    now(CLOCK_MONOTONIC) > deadline)
			die_fa(fa, l->ids[i]);
		if (!ftpagent_clear_error(fa))
			die_fa(fa, l->ids[i]);
		punch_all(l);
	}
}

static int
cmd_load(const char *sock, unsigned count, const char *ca_file,
    const char *url, const char *remote, const char *ldir, bool holes)
{
	struct ftpagent		*fa;
	struct ftpagent_job	 job;
	struct load		 l;
	struct stat		 st;
	char			 local[4096];
	double			 t0, first_end = 0, last_end = 0;
	long long		 bytes = 0, size = -1;
	unsigned		 i, early, bad = 0;

	memset(&l, 0, sizeof(l));
	l.n = count;
	l.holes = holes;
	if ((l.sessions = calloc(count, sizeof(*l.sessions))) == NULL ||
	    (l.ids = calloc(count, sizeof(*l.ids))) == NULL ||
	    (l.fds = calloc(count, sizeof(*l.fds))) == NULL ||
	    (l.punched = calloc(count, sizeof(*l.punched))) == NULL)
		die("out of memory");
	fa = connect_agent(sock);
	for (i = 0; i < count; i++)
		l.sessions[i] = open_session(fa, url, ca_file);
	t0 = now(CLOCK_REALTIME);
	for (i = 0; i < count; i++) {
		snprintf(local, sizeof(local), "%s/l%03u", ldir, i);
		l.fds[i] = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
		if (l.fds[i] == -1)
			die("%s: %s", local, strerror(errno));
		if (!ftpagent_get_fd_background(fa, l.sessions[i], remote,
		    l.fds[i], NULL, &l.ids[i]))
			die_fa(fa, remote);
	}
	early = wait_running(fa, &l);
	printf("running=%u early_end=%u at=%.6f\n", count - early, early,
	    now(CLOCK_REALTIME));
	fflush(stdout);

	for (i = 0; i < count; i++) {
		wait_job(fa, &l, i, &job);
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
		if (fstat(l.fds[i], &st) == -1)
			die("fstat: %s", strerror(errno));
		if (st.st_size != size) {
			fprintf(stderr, "bench_small: l%03u: %lld bytes, not "
			    "%lld\n", i, (long long)st.st_size, size);
			bad++;
		}
		close(l.fds[i]);
		l.fds[i] = -1;
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
	free(l.sessions);
	free(l.ids);
	free(l.fds);
	free(l.punched);
	ftpagent_free(fa);
	return bad == 0 ? 0 : 1;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: bench_small -S SOCKET small [-n COUNT] [-C CA_FILE] URL "
	    "REMOTE_DIR LOCAL_DIR\n"
	    "       bench_small -S SOCKET load [-n COUNT] [-C CA_FILE] [-H] "
	    "URL REMOTE LOCAL_DIR\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*sock = NULL, *ca_file = NULL, *cmd;
	unsigned long	 count = 200;
	char		*end;
	bool		 holes = false;
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
	while ((ch = getopt(argc, argv, "n:C:H")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || count < 1 ||
			    count > MAX_FILES)
				usage();
			break;
		case 'C':
			ca_file = optarg;
			break;
		case 'H':
			holes = true;
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
		    argv[1], argv[2], holes);
	usage();
}
