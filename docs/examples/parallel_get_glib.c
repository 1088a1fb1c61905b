/*
 * parallel_get_glib: parallel_get_libev on a GLib main loop, through
 * <ftpagent_glib.h>: the same arguments, output and exit status (what it
 * does: parallel_get.h).
 *
 *	cc -o parallel_get_glib parallel_get_glib.c \
 *	    $(pkg-config --cflags --libs libftpagent glib-2.0)
 *	FTP_PASSWORD=secret ./parallel_get_glib URL OUTDIR REMOTE...
 */
#include <glib.h>

#include <ftpagent_glib.h>

#include "parallel_get.h"

static void
stop(struct job *j)
{
	g_main_loop_quit(j->loop);
}

int
main(int argc, char *argv[])
{
	static struct job	 j;
	struct ftpagent_glib	 g;	/* the adapter's state */
	int			 status;

	if (!job_setup(&j, argc, argv)) {
		fprintf(stderr, "usage: parallel_get_glib URL OUTDIR "
		    "REMOTE...\n");
		return 2;
	}
	j.fa = ftpagent_connect(NULL);
	/* NULL: the default main context */
	if (j.fa == NULL || ftpagent_glib_attach(&g, j.fa, NULL) == -1) {
		fprintf(stderr, "parallel_get: %s\n",
		    ftpagent_error_message(j.fa));
		ftpagent_free(j.fa);
		return 1;
	}
	j.loop = g_main_loop_new(NULL, FALSE);
	j.stop = stop;
	if (job_start(&j, argv[1]))
		g_main_loop_run(j.loop);
	ftpagent_glib_detach(&g);
	status = job_end(&j);
	g_main_loop_unref(j.loop);
	return status;
}
