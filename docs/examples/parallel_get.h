/*
 * The part of parallel_get_libev.c and parallel_get_glib.c that does not
 * depend on the event loop: the calls, their callbacks, the progress
 * line. The programs supply the loop, attach the connection to it, and
 * say how to stop it (job.stop).
 *
 *	PROGRAM URL OUTDIR REMOTE...
 *
 * opens a session on URL (password from $FTP_PASSWORD, else the URL's),
 * downloads every REMOTE at once into OUTDIR/its base name (written to
 * NAME.part, renamed once complete) and, while they run, lists the first
 * REMOTE's directory. One progress line on stderr; on stdout the
 * listing's size and, at the end, a line per download. Exit status 0
 * when every download and the listing worked.
 */
#ifndef PARALLEL_GET_H
#define PARALLEL_GET_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ftpagent_async.h>

#define MAX_FILES	64

struct download {
	struct job	*job;
	const char	*remote;
	char		 local[PATH_MAX];
	int64_t		 bytes;
	int64_t		 total;		/* -1: not known yet */
	bool		 done;
	char		 error[256];	/* why it failed; "" when it did not */
};

/* What the callbacks share. */
struct job {
	void		*loop;
	void		(*stop)(struct job *);	/* makes the loop return */
	struct ftpagent	*fa;
	char		*session;
	char		 dir[PATH_MAX];	/* the directory to list */
	struct download	 dl[MAX_FILES];
	int		 n;
	int		 pending;	/* calls sent and not answered */
	int		 failed;
	bool		 quit;		/* stopping: send nothing new */
	bool		 tty;		/* progress on a terminal */
	double		 shown;		/* when it was last drawn */
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One line for all downloads: redrawn in place on a terminal (10 times
 * a second at most), else a plain line a second. */
static void
show_progress(struct job *j, bool force)
{
	long long	bytes = 0, total = 0;
	int		i, done = 0;

	if (!force && now() - j->shown < (j->tty ? 0.1 : 1.0))
		return;
	j->shown = now();
	for (i = 0; i < j->n; i++) {
		bytes += j->dl[i].bytes;
		if (j->dl[i].total > 0)
			total += j->dl[i].total;
		done += j->dl[i].done;
	}
	fprintf(stderr, "%s%d/%d files, %lld of %lld bytes%s",
	    j->tty ? "\r" : "", done, j->n, bytes, total, j->tty ? "" : "\n");
}

/* A send failed: the connection's sticky error says why. Stop. */
static void
send_failed(struct job *j, const char *what)
{
	fprintf(stderr, "parallel_get: %s: %s [%s]\n", what,
	    ftpagent_error_message(j->fa), ftpagent_error_kind(j->fa));
	j->failed++;
	j->quit = true;
	j->stop(j);
}

static void
on_closed(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct job	*j = arg;

	if (r->error != FTPAGENT_OK) {
		fprintf(stderr, "parallel_get: close: %s\n", r->error_message);
		j->failed++;
	}
	j->stop(j);
}

/* One call answered; after the last, close the session and stop. */
static void
call_done(struct job *j)
{
	show_progress(j, true);
	if (--j->pending > 0 || j->quit)
		return;
	if (ftpagent_send_close(j->fa, j->session, on_closed, j) == 0)
		send_failed(j, "close");
}

/* Runs from ftpagent_process while the download moves. */
static bool
on_progress(void *arg, int64_t bytes, int64_t total)
{
	struct download	*d = arg;

	d->bytes = bytes;
	d->total = total;
	show_progress(d->job, false);
	return true;		/* false would cancel this download */
}

static void
on_got(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct download	*d = arg;

	d->done = true;
	if (r->error != FTPAGENT_OK) {
		/* the reply is freed after this returns: copy what we keep */
		snprintf(d->error, sizeof(d->error), "%s [%s]",
		    r->error_message, r->error_kind);
		d->job->failed++;
	} else {
		d->bytes = r->xfer.bytes;
		if (d->total < d->bytes)	/* too small for progress */
			d->total = d->bytes;
	}
	call_done(d->job);
}

static void
on_list(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct job	*j = arg;

	if (j->tty)
		fputc('\n', stderr);	/* off the progress line */
	if (r->error != FTPAGENT_OK) {
		fprintf(stderr, "parallel_get: list %s: %s [%s]\n", j->dir,
		    r->error_message, r->error_kind);
		j->failed++;
	} else
		printf("listing %s: %zu entries\n", j->dir, r->n_entries);
	fflush(stdout);
	call_done(j);
}

/* The session is open: start every download, and the listing. */
static void
on_open(struct ftpagent *fa, struct ftpagent_reply *r, void *arg)
{
	struct job			*j = arg;
	struct ftpagent_xfer_opts	 o;
	int				 i;

	if (r->error != FTPAGENT_OK) {
		fprintf(stderr, "parallel_get: open: %s [%s]\n",
		    r->error_message, r->error_kind);
		j->failed++;
		j->stop(j);
		return;
	}
	j->session = r->session;	/* ours now: freed by job_end */
	r->session = NULL;
	for (i = 0; i < j->n; i++) {
		memset(&o, 0, sizeof(o));
		o.progress = on_progress;
		o.progress_arg = &j->dl[i];
		if (ftpagent_send_get_file(fa, j->session, j->dl[i].remote,
		    j->dl[i].local, &o, on_got, &j->dl[i]) == 0) {
			send_failed(j, j->dl[i].remote);
			return;
		}
		j->pending++;
	}
	if (ftpagent_send_list(fa, j->session, j->dir, on_list, j) == 0)
		send_failed(j, "list");
	else
		j->pending++;
}

/* Fills j from the command line; false when it is wrong. */
static bool
job_setup(struct job *j, int argc, char *argv[])
{
	const char	*base;
	size_t		 len;
	int		 i;

	if (argc < 4 || argc - 3 > MAX_FILES)
		return false;
	j->n = argc - 3;
	for (i = 0; i < j->n; i++) {
		j->dl[i].job = j;
		j->dl[i].remote = argv[i + 3];
		j->dl[i].total = -1;
		base = strrchr(argv[i + 3], '/');
		base = base != NULL ? base + 1 : argv[i + 3];
		len = (size_t)snprintf(j->dl[i].local, sizeof(j->dl[i].local),
		    "%s/%s", argv[2], base);
		if (*base == '\0' || len >= sizeof(j->dl[i].local))
			return false;
	}
	base = strrchr(argv[3], '/');
	len = base == NULL ? 0 : base == argv[3] ? 1 : (size_t)(base - argv[3]);
	snprintf(j->dir, sizeof(j->dir), "%.*s", (int)len, argv[3]);
	if (len == 0)
		strcpy(j->dir, ".");
	j->tty = isatty(STDERR_FILENO);
	return true;
}

/* Sends the first call, session.open; the rest follows from callbacks.
 * False when it could not be sent. */
static bool
job_start(struct job *j, const char *url)
{
	struct ftpagent_open_opts	oo;

	memset(&oo, 0, sizeof(oo));
	oo.password = getenv("FTP_PASSWORD");	/* NULL: the URL's, if any */
	if (ftpagent_send_open(j->fa, url, &oo, on_open, j) == 0) {
		send_failed(j, url);
		return false;
	}
	return true;
}

/* Frees the connection (the loop is detached from it already), prints
 * what became of each download, returns the exit status. */
static int
job_end(struct job *j)
{
	int	i;

	/* Calls still pending (after an error) are answered by the free,
	 * with FTPAGENT_ERR_CANCELLED: quit keeps them from sending more. */
	j->quit = true;
	ftpagent_free(j->fa);
	free(j->session);
	if (j->tty && j->shown > 0)
		fputc('\n', stderr);	/* off the progress line */
	for (i = 0; i < j->n; i++) {
		if (j->dl[i].error[0] != '\0')
			printf("%s: failed: %s\n", j->dl[i].remote,
			    j->dl[i].error);
		else if (j->dl[i].done)
			printf("%s: %lld bytes\n", j->dl[i].local,
			    (long long)j->dl[i].bytes);
	}
	return j->failed == 0 ? 0 : 1;
}

#endif
