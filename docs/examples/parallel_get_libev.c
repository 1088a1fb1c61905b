/*
 * parallel_get_libev: downloads several files at once through ftpd-agent,
 * all on one connection, from a libev loop in one thread, and lists a
 * directory while they run (what it does: parallel_get.h).
 *
 *	cc -o parallel_get_libev parallel_get_libev.c \
 *	    $(pkg-config --cflags --libs libftpagent) -lev
 *	FTP_PASSWORD=secret ./parallel_get_libev ftp://alice@ftp.example.org/ \
 *	    out /pub/a.iso /pub/b.iso ...
 *
 * The agent is found as ftpagent_connect(NULL) says: $FTPAGENT_SOCKET,
 * else the user's socket, else the system's.
 */
#include <ev.h>

#include <ftpagent_libev.h>

#include "parallel_get.h"

static void
stop(struct job *j)
{
	ev_break(j->loop, EVBREAK_ALL);
}

int
main(int argc, char *argv[])
{
	static struct job	 j;
	struct ftpagent_libev	 w;	/* the adapter's state */

	if (!job_setup(&j, argc, argv)) {
		fprintf(stderr, "usage: parallel_get_libev URL OUTDIR "
		    "REMOTE...\n");
		return 2;
	}
	j.loop = EV_DEFAULT;
	j.stop = stop;
	/* connecting is quick and blocking; nothing after it is */
	j.fa = ftpagent_connect(NULL);
	if (j.fa == NULL || ftpagent_libev_attach(&w, j.fa, j.loop) == -1) {
		fprintf(stderr, "parallel_get: %s\n",
		    ftpagent_error_message(j.fa));
		ftpagent_free(j.fa);
		return 1;
	}
	/* the callbacks do the rest and stop the loop at the end */
	if (job_start(&j, argv[1]))
		ev_run(j.loop, 0);
	ftpagent_libev_detach(&w);
	return job_end(&j);
}
