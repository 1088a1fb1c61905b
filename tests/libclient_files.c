/*
 * Drives libftpagent's local-file calls for tests/integ/test_libclient.py:
 *
 *	libclient_files SOCKET SESSION get REMOTE LOCAL [resume]
 *	libclient_files SOCKET SESSION get-progress REMOTE LOCAL [resume]
 *	libclient_files SOCKET SESSION get-bg REMOTE LOCAL [resume]
 *	libclient_files SOCKET SESSION put-bg LOCAL REMOTE
 *	libclient_files SOCKET SESSION get-fd REMOTE LOCAL [resume]
 *
 * Prints one line "ok KEY=VALUE ..." or "error KIND MESSAGE", and for the
 * background calls waits for the job with ftpagent_job_wait. get-progress
 * adds what its progress callback saw: how many calls, the last bytes
 * and total. get-fd opens LOCAL for reading and writing (made if it is
 * not there, never cut) and downloads into it with ftpagent_get_fd, in
 * $LIBCLIENT_SEGMENTS ranges when that is set.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpagent.h"

static int
failed(struct ftpagent *fa)
{
	printf("error %s %s\n", ftpagent_error_kind(fa),
	    ftpagent_error_message(fa));
	return 1;
}

/* Waits for job and prints its end. */
static int
wait_job(struct ftpagent *fa, const char *job)
{
	struct ftpagent_job j;

	if (!ftpagent_job_wait(fa, job, 0, &j))
		return failed(fa);
	printf("ok job=%s state=%s bytes=%lld\n", job,
	    ftpagent_job_state_name(j.state), (long long)j.bytes);
	ftpagent_job_clear(&j);
	return 0;
}

struct seen {
	int		calls;
	int64_t		bytes, total;
};

static bool
on_progress(void *arg, int64_t bytes, int64_t total)
{
	struct seen *s = arg;

	s->calls++;
	s->bytes = bytes;
	s->total = total;
	return true;
}

static int
get_fd(struct ftpagent *fa, const char *session, const char *from,
    const char *to, const struct ftpagent_xfer_opts *o)
{
	struct ftpagent_xfer_result r;
	const char *n = getenv("LIBCLIENT_SEGMENTS");
	bool ok;
	int fd;

	if ((fd = open(to, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		perror(to);
		return 2;
	}
	if (n != NULL)
		ftpagent_set_segments(fa, atoi(n));
	ok = ftpagent_get_fd(fa, session, from, fd, o, &r);
	close(fd);
	if (!ok)
		return failed(fa);
	printf("ok bytes=%lld total=%lld\n", (long long)r.bytes,
	    (long long)r.total);
	return 0;
}

static int
run(struct ftpagent *fa, const char *session, const char *op,
    const char *from, const char *to, bool resume)
{
	struct ftpagent_xfer_opts o;
	struct ftpagent_xfer_result r;
	struct seen seen = { 0, -1, -1 };
	char *job = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.offset = resume ? -1 : 0;
	if (strcmp(op, "get-progress") == 0) {
		o.progress = on_progress;
		o.progress_arg = &seen;
		if (!ftpagent_get_file(fa, session, from, to, &o, &r))
			return failed(fa);
		printf("ok bytes=%lld total=%lld calls=%d last_bytes=%lld "
		    "last_total=%lld\n", (long long)r.bytes,
		    (long long)r.total, seen.calls, (long long)seen.bytes,
		    (long long)seen.total);
		return 0;
	}
	if (strcmp(op, "get-fd") == 0)
		return get_fd(fa, session, from, to, &o);
	if (strcmp(op, "get") == 0) {
		if (!ftpagent_get_file(fa, session, from, to, &o, &r))
			return failed(fa);
		printf("ok bytes=%lld total=%lld complete=%d\n",
		    (long long)r.bytes, (long long)r.total, r.already_complete);
		return 0;
	}
	if (strcmp(op, "get-bg") == 0) {
		if (!ftpagent_get_file_background(fa, session, from, to, &o,
		    &job))
			return failed(fa);
		if (job == NULL) {
			printf("ok complete=1\n");
			return 0;
		}
	} else if (strcmp(op, "put-bg") == 0) {
		if (!ftpagent_put_file_background(fa, session, to, from, &o,
		    &job))
			return failed(fa);
	} else {
		fprintf(stderr, "libclient_files: unknown operation %s\n", op);
		return 2;
	}
	rc = wait_job(fa, job);
	free(job);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct ftpagent *fa;
	int rc;

	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: libclient_files SOCKET SESSION OP FROM "
		    "TO [resume]\n");
		return 2;
	}
	if ((fa = ftpagent_connect(argv[1])) == NULL)
		return 3;
	if (ftpagent_error(fa) != FTPAGENT_OK)
		rc = failed(fa);
	else
		rc = run(fa, argv[2], argv[3], argv[4], argv[5], argc == 7 &&
		    strcmp(argv[6], "resume") == 0);
	ftpagent_free(fa);
	return rc;
}
