/*
 * parallel_get_blocking: the job of parallel_get_libev with the blocking
 * API, for comparison: the same arguments, output and exit status, but
 * the downloads run one after the other and the listing after them.
 *
 *	cc -o parallel_get_blocking parallel_get_blocking.c \
 *	    $(pkg-config --cflags --libs libftpagent)
 *	FTP_PASSWORD=secret ./parallel_get_blocking URL OUTDIR REMOTE...
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ftpagent.h>

struct progress {
	long long	 before;	/* bytes of the downloads before */
	int		 file;		/* this one's number, from 1 */
	int		 n;
	bool		 tty;
	bool		 drawn;		/* a progress line is on the terminal */
	double		 shown;
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs inside ftpagent_get_file while the download moves. */
static bool
on_progress(void *arg, int64_t bytes, int64_t total)
{
	struct progress	*p = arg;

	if (now() - p->shown < (p->tty ? 0.1 : 1.0))
		return true;
	p->shown = now();
	p->drawn = p->tty;
	fprintf(stderr, "%sfile %d/%d: %lld of %lld bytes, %lld in all%s",
	    p->tty ? "\r" : "", p->file, p->n, (long long)bytes,
	    (long long)total, p->before + bytes, p->tty ? "" : "\n");
	return true;		/* false would cancel the download */
}

/* Downloads remote into outdir/its base name; false when it failed (the
 * connection's error is cleared, unless the agent is gone). */
static bool
get(struct ftpagent *fa, const char *session, const char *remote,
    const char *outdir, struct progress *p)
{
	struct ftpagent_xfer_opts	 o;
	struct ftpagent_xfer_result	 res;
	const char			*base;
	char				 local[PATH_MAX];
	int				 len;
	bool				 ok;

	base = strrchr(remote, '/');
	base = base != NULL ? base + 1 : remote;
	len = snprintf(local, sizeof(local), "%s/%s", outdir, base);
	if (*base == '\0' || len < 0 || (size_t)len >= sizeof(local)) {
		printf("%s: failed: no file name\n", remote);
		return false;
	}
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.progress_arg = p;
	ok = ftpagent_get_file(fa, session, remote, local, &o, &res);
	if (p->drawn)
		fputc('\n', stderr);	/* off the progress line */
	p->drawn = false;
	if (!ok) {
		printf("%s: failed: %s [%s]\n", remote,
		    ftpagent_error_message(fa), ftpagent_error_kind(fa));
		ftpagent_clear_error(fa);	/* else every call fails */
		return false;
	}
	printf("%s: %lld bytes\n", local, (long long)res.bytes);
	p->before += res.bytes;
	return true;
}

/* Lists the first REMOTE's directory; false when that failed. */
static bool
list(struct ftpagent *fa, const char *session, const char *remote)
{
	struct ftpagent_entry	*entries;
	const char		*slash = strrchr(remote, '/');
	char			 dir[PATH_MAX];
	size_t			 n, len;

	len = slash == NULL ? 0 : slash == remote ? 1 :
	    (size_t)(slash - remote);
	snprintf(dir, sizeof(dir), "%.*s", (int)len, remote);
	if (len == 0)
		strcpy(dir, ".");
	if (!ftpagent_list(fa, session, dir, &entries, &n)) {
		fprintf(stderr, "parallel_get: list %s: %s [%s]\n", dir,
		    ftpagent_error_message(fa), ftpagent_error_kind(fa));
		ftpagent_clear_error(fa);
		return false;
	}
	printf("listing %s: %zu entries\n", dir, n);
	ftpagent_entries_free(entries, n);
	return true;
}

int
main(int argc, char *argv[])
{
	struct ftpagent_open_opts	 oo;
	struct progress			 p;
	struct ftpagent			*fa;
	char				*session;
	int				 i, failed = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: parallel_get_blocking URL OUTDIR "
		    "REMOTE...\n");
		return 2;
	}
	fa = ftpagent_connect(NULL);
	memset(&oo, 0, sizeof(oo));
	oo.password = getenv("FTP_PASSWORD");	/* NULL: the URL's, if any */
	if (fa == NULL || ftpagent_error(fa) != FTPAGENT_OK ||
	    !ftpagent_open(fa, argv[1], &oo, &session)) {
		fprintf(stderr, "parallel_get: %s [%s]\n",
		    ftpagent_error_message(fa), ftpagent_error_kind(fa));
		ftpagent_free(fa);
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.n = argc - 3;
	p.tty = isatty(STDERR_FILENO);
	for (i = 3; i < argc; i++) {
		p.file = i - 2;
		failed += !get(fa, session, argv[i], argv[2], &p);
	}
	failed += !list(fa, session, argv[3]);
	if (!ftpagent_close(fa, session)) {
		fprintf(stderr, "parallel_get: close: %s\n",
		    ftpagent_error_message(fa));
		failed++;
	}
	free(session);
	ftpagent_free(fa);
	return failed == 0 ? 0 : 1;
}
