/*
 * libftpagent: who gives a background download its name, and the
 * detached process that followers are (fa_detach, also a background
 * tree's, tree.c).
 *
 * A background download into LOCAL goes to LOCAL.part. An agent of the
 * caller's own uid renames it itself when the job is done: the library
 * passes the directory and the two names (transfer.get "rename") and
 * leaves no process behind. A system agent never renames a user's file
 * (the kernel would check the rename against the agent's rights, not
 * the user's), an older agent does not know how (rpc.info's "features"
 * says which, once per connection), and no agent renames a segmented
 * download (transfer.get takes "rename" without "segments" only). Then
 * a detached process of ours (the follower) renames the file when the
 * job has ended. While it lives, the follower holds a lock on a file
 * named for the agent and the job; ftpagent_job_wait_file takes that
 * lock after the job's end, so the rename is done when it returns.
 */
#include <config.h>

#include <sys/file.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpagent_priv.h"
#include "bytename.h"

#define FOLLOW_WAIT_MS		30000	/* default wait for a rename */
#define FOLLOW_POLL_MS		20
#define JOB_ID_MAX		64

/* ---- the agent names the file ------------------------------------------ */

bool
fa_info_feature(const json_t *info, const char *feature)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(info, "features"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    feature) == 0)
			return true;
	return false;
}

json_t *
fa_rename_param(const struct localdest *d, bool had_part, int *dir_fd)
{
	const char *slash = strrchr(d->path, '/'), *name, *part;
	char *dir;
	json_t *o;

	*dir_fd = -1;
	name = slash != NULL ? slash + 1 : d->path;
	part = d->part + (name - d->path);
	/* the agent takes no CR or LF in a name (and needs one) */
	if (*name == '\0' || strpbrk(d->part, "\r\n") != NULL)
		return NULL;
	if (slash == NULL)
		dir = strdup(".");
	else
		dir = strndup(d->path, slash == d->path ? 1 :
		    (size_t)(slash - d->path));
	if (dir == NULL)
		return NULL;
	/* a path is all it takes: the kernel checks the rename against
	 * the agent's credentials, which are ours */
	*dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (*dir_fd == -1)
		return NULL;
	o = json_pack("{s:i,s:o,s:o,s:b}", "dir_fd", 1, "from",
	    ftpa_bytes_json(part), "to", ftpa_bytes_json(name), "remove_empty",
	    !had_part);
	if (o == NULL) {
		close(*dir_fd);
		*dir_fd = -1;
	}
	return o;
}

/* ---- the follower -------------------------------------------------------- */

/* FNV-1a, to name an agent's socket path in a file name. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* Job ids as the agent makes them: 1-64 of A-Z a-z 0-9 . _ - (so that
 * one can be part of a file name). */
static bool
job_id_ok(const char *job)
{
	size_t n = strlen(job);

	if (n == 0 || n > JOB_ID_MAX || strcmp(job, ".") == 0 ||
	    strcmp(job, "..") == 0)
		return false;
	return strspn(job, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/*
 * The follower's lock file for job on the agent at sock: next to the
 * socket when that directory is writable, else in $XDG_RUNTIME_DIR.
 * NULL when neither (the rename then goes unannounced) or out of memory.
 */
static char *
lock_path(const char *sock, const char *job)
{
	const char *dir = NULL, *xdg, *slash;
	char *real, *d = NULL, *path = NULL;

	if (!job_id_ok(job))
		return NULL;
	if ((real = realpath(sock, NULL)) == NULL && (real = strdup(sock)) ==
	    NULL)
		return NULL;
	if ((slash = strrchr(real, '/')) == NULL)
		d = strdup(".");
	else
		d = strndup(real, slash == real ? 1 : (size_t)(slash - real));
	if (d != NULL && access(d, W_OK) == 0)
		dir = d;
	else if ((xdg = getenv("XDG_RUNTIME_DIR")) != NULL && *xdg == '/' &&
	    access(xdg, W_OK) == 0)
		dir = xdg;
	if (dir != NULL && asprintf(&path, "%s/.ftpctl-%016llx-%s.lock", dir,
	    (unsigned long long)fnv1a(real), job) == -1)
		path = NULL;
	free(d);
	free(real);
	return path;
}

void
fa_follow_wait(const char *sock, const char *job, int timeout_ms)
{
	struct timespec ts = { 0, FOLLOW_POLL_MS * 1000 * 1000 };
	char *lock = lock_path(sock, job);
	int fd, n;

	if (lock == NULL)
		return;
	if (timeout_ms <= 0)
		timeout_ms = FOLLOW_WAIT_MS;
	if ((fd = open(lock, O_RDONLY | O_CLOEXEC)) != -1) {
		for (n = 0; n < timeout_ms / FOLLOW_POLL_MS; n++) {
			if (flock(fd, LOCK_SH | LOCK_NB) == 0 ||
			    errno != EWOULDBLOCK)
				break;
			nanosleep(&ts, NULL);
		}
		close(fd);
	}
	free(lock);
}

/* Closes lo .. hi-1 (hi < 0: to the end). */
static void
close_from(int lo, int hi)
{
	int fd;

#ifdef SYS_close_range
	if (lo < hi || hi < 0) {
		if (syscall(SYS_close_range, (unsigned)lo, hi < 0 ? ~0U :
		    (unsigned)hi - 1, 0U) == 0)
			return;
	}
#endif
	for (fd = lo; fd < (hi < 0 ? 65536 : hi); fd++)
		close(fd);
}

/* A follower's own descriptors: keep[0..n-1], /dev/null for the rest of
 * 0-2, nothing else of the caller's. */
static void
fds_only(const int *keep, size_t n)
{
	int sorted[FA_DETACH_KEEP], fd, lo, t;
	size_t i, j;

	for (i = 0; i < n; i++)
		for (sorted[i] = keep[i], j = i; j > 0 &&
		    sorted[j - 1] > sorted[j]; j--) {
			t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		for (lo = STDIN_FILENO; lo <= STDERR_FILENO; lo++) {
			for (i = 0; i < n && keep[i] != lo; i++)
				;
			if (i == n && fd != lo)
				dup2(fd, lo);
		}
		if (fd > STDERR_FILENO)
			close(fd);
	}
	lo = STDERR_FILENO + 1;
	for (i = 0; i < n; i++)
		if (sorted[i] >= lo) {
			close_from(lo, sorted[i]);
			lo = sorted[i] + 1;
		}
	close_from(lo, -1);
}

int
fa_detach(const int *keep, size_t n)
{
	pid_t pid;
	int st = 0;

	if (n > FA_DETACH_KEEP) {
		errno = EINVAL;
		return -1;
	}
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		setsid();
		if ((pid = fork()) != 0)
			_exit(pid == -1);
		/* the caller's descriptors (its connection to the agent
		 * too) stay the caller's: ours are closed here */
		fds_only(keep, n);
		return 0;
	}
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		errno = EAGAIN;
		return -1;
	}
	return 1;
}

/* In the detached follower: waits for the job's end over a connection of
 * its own, renames on success, and leaves no empty new .part. */
static void __attribute__((noreturn))
follow(const char *sock, int timeout_ms, const char *job,
    const struct localdest *d, bool had_part, char *lock)
{
	struct ftpagent *fa;
	struct ftpagent_job j;
	bool done = false;

	fa = ftpagent_connect_opts(sock, 0, timeout_ms);
	while (fa != NULL && ftpagent_error(fa) == FTPAGENT_OK) {
		if (fa_job_wait(fa, job, 0, &j)) {
			done = j.state == FTPAGENT_JOB_DONE;
			ftpagent_job_clear(&j);
			break;
		}
		/* only our own patience ran out: ask again */
		if (ftpagent_error(fa) != FTPAGENT_ERR_TIMEOUT ||
		    !ftpagent_clear_error(fa))
			break;
	}
	ftpagent_free(fa);
	if (done)
		(void)rename(d->part, d->path);
	else
		fa_part_abandon(d, had_part);
	if (lock != NULL)
		unlink(lock);
	_exit(0);
}

/*
 * Starts the follower of a background download, detached (fa_detach).
 * The lock is taken here, before the caller learns the job id, and kept
 * by the follower's inherited copy.
 */
bool
fa_spawn_follower(struct ftpagent *a, const char *job, const struct localdest *d,
    bool had_part)
{
	const char *sock = ftpagent_socket_path(a);
	char *lock;
	int lockfd = -1, r;

	if ((lock = lock_path(sock, job)) != NULL &&
	    ((lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    flock(lockfd, LOCK_EX) == -1)) {
		if (lockfd != -1)
			close(lockfd);
		lockfd = -1;
		free(lock);
		lock = NULL;
	}
	if ((r = fa_detach(&lockfd, lockfd != -1 ? 1 : 0)) == 0)
		follow(sock, a->timeout_ms, job, d, had_part, lock);
	if (r == -1 && lock != NULL)
		unlink(lock);
	free(lock);
	if (lockfd != -1)
		close(lockfd);
	return r == 1;
}

void
ftpagent_job_wait_file(struct ftpagent *a, const char *job, int timeout_ms)
{
	if (a == NULL || job == NULL || *ftpagent_socket_path(a) == '\0')
		return;
	fa_follow_wait(ftpagent_socket_path(a), job, timeout_ms);
}
