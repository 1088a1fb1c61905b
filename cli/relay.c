#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

static void *
relay_main(void *arg)
{
	struct relay	*r = arg;
	char		 buf[65536];
	ssize_t		 n, off, w;

	while ((n = read(r->from, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (off = 0; off < n; off += w)
			if ((w = write(r->to, buf + off, n - off)) == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				goto out;
			}
	}
out:
	/* input: the end of the terminal's data is the end of the upload */
	if (!r->output) {
		int	fd = r->to;

		r->to = -1;	/* before close, a cancellation point */
		close(fd);
	}
	return NULL;
}

int
relay_start(struct relay *r, int fd, bool output)
{
	struct stat	st;
	int		p[2];

	memset(r, 0, sizeof(*r));
	if (fstat(fd, &st) == -1 || !S_ISCHR(st.st_mode))
		return fd;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	r->from = output ? p[0] : fd;
	r->to = output ? fd : p[1];
	r->output = output;
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	r->running = true;
	/* the relay keeps one end of the pipe, the agent gets the other */
	return output ? p[1] : p[0];
}

void
relay_finish(struct relay *r, int passed, bool ok)
{
	if (!r->running)
		return;
	close(passed);
	if (!r->output) {
		/* input from a terminal: nobody reads any more */
		pthread_cancel(r->thread);
		pthread_join(r->thread, NULL);
		if (r->to != -1)
			close(r->to);
	} else {
		/* output: drain what the agent wrote, up to its EOF */
		if (!ok)
			pthread_cancel(r->thread);
		pthread_join(r->thread, NULL);
		close(r->from);
	}
	r->running = false;
}
