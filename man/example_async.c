/*
 * Lists a directory and stats a file at the same time, on one
 * connection, from a poll() loop; the session is opened with the
 * blocking call, which may be mixed with the send calls.
 *
 *	cc example_async.c -lftpagent
 *	./a.out ftp://user@host/ /pub /pub/file
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include <ftpagent_async.h>

static int pending, failed;

static void
listed(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	size_t i;

	pending--;
	if (r->error != FTPAGENT_OK) {
		fprintf(stderr, "list: %s\n", r->error_message);
		failed = 1;
		return;
	}
	for (i = 0; i < r->n_entries; i++)
		printf("%s\n", r->entries[i].name);
}

static void
statted(struct ftpagent *a, struct ftpagent_reply *r, void *arg)
{
	pending--;
	if (r->error != FTPAGENT_OK) {
		fprintf(stderr, "stat %s: %s\n", (char *)arg, r->error_message);
		failed = 1;
		return;
	}
	printf("%s: %lld bytes\n", (char *)arg, (long long)r->entry.size);
}

/* One turn of the loop: wait for what the connection wants, then
 * let the library do it (and run the callbacks). */
static void
turn(struct ftpagent *a)
{
	unsigned ev = ftpagent_events(a), rev = 0;
	struct pollfd pfd;

	pfd.fd = ftpagent_fd(a);
	pfd.events = (ev & FTPAGENT_READ ? POLLIN : 0) |
	    (ev & FTPAGENT_WRITE ? POLLOUT : 0);
	pfd.revents = 0;
	if (poll(&pfd, 1, ftpagent_timeout(a)) > 0) {
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			rev |= FTPAGENT_READ;
		if (pfd.revents & POLLOUT)
			rev |= FTPAGENT_WRITE;
	}
	ftpagent_process(a, rev);
}

int
main(int argc, char *argv[])
{
	struct ftpagent *a;
	char *s = NULL;

	if (argc != 4) {
		fprintf(stderr, "usage: %s URL DIR FILE\n", argv[0]);
		return 2;
	}
	a = ftpagent_connect(NULL);
	if (a == NULL || !ftpagent_open(a, argv[1], NULL, &s)) {
		fprintf(stderr, "%s\n", ftpagent_error_message(a));
		ftpagent_free(a);
		return 1;
	}
	if (ftpagent_send_list(a, s, argv[2], listed, NULL) == 0 ||
	    ftpagent_send_stat(a, s, argv[3], statted, argv[3]) == 0) {
		fprintf(stderr, "%s\n", ftpagent_error_message(a));
		failed = 1;
	} else
		pending = 2;
	while (pending > 0)
		turn(a);
	(void)ftpagent_close(a, s);
	free(s);
	ftpagent_free(a);
	return failed;
}
