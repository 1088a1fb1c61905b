/*
 * Drives a libftpagent connection from a GLib main loop. Header only:
 * include it in the program that owns the loop and build with
 * $(pkg-config --cflags --libs glib-2.0) (GLib >= 2.36).
 *
 *	struct ftpagent_glib	 g;
 *
 *	fa = ftpagent_connect(NULL);
 *	if (ftpagent_glib_attach(&g, fa, NULL) == -1)
 *		... (fa is not connected)
 *	ftpagent_send_...(fa, ..., cb, arg);
 *	g_main_loop_run(loop);
 *	ftpagent_glib_detach(&g);	(or skip it, see below)
 *	ftpagent_free(fa);
 *
 * The struct ftpagent_glib is the caller's storage; it points to one
 * GSource, attached to the context given (NULL: the default one), that
 * polls the connection's socket for what the connection asks for and
 * wakes at its earliest deadline (its ready time), both kept in step
 * through ftpagent_set_watch.
 *
 * Detaching: ftpagent_glib_detach destroys the source and removes the
 * watch hook; the connection stays usable. ftpagent_free without
 * detaching first is allowed too: closing the connection tells the
 * adapter to stop watching (events 0), which destroys the source, so the
 * loop never sees a freed connection; the struct ftpagent_glib is then
 * inert and may go. Never detach after the free. Either may be done from
 * a reply callback. A connection that fails is closed the same way.
 */
#ifndef FTPAGENT_GLIB_H
#define FTPAGENT_GLIB_H

#include <glib.h>

#include <ftpagent_async.h>

/*
 * The library calls the watch hook after every ftpagent_process and
 * whenever the events or the earliest deadline change: a wake for the
 * socket leaves the ready time alone, and a wake for the ready time moves
 * it RETRY microseconds on (a reached ready time stays reached), in case
 * the deadline has not quite passed; the hook then says what comes next.
 */
#define FTPAGENT_GLIB_RETRY	10000

struct ftpagent_glib {
	struct ftpagent	*fa;
	GSource		*source;	/* NULL once closed or detached */
};

struct ftpagent_glib_source_ {
	GSource		 base;
	struct ftpagent	*fa;
	gpointer	 tag;		/* the socket's poll tag */
	GIOCondition	 cond;		/* what it is polled for */
};

static inline gboolean
ftpagent_glib_dispatch_(GSource *base, GSourceFunc cb, gpointer data)
{
	struct ftpagent_glib_source_	*s = (void *)base;
	GIOCondition			 c;
	gint64				 t = g_source_get_time(base);
	gint64				 rt = g_source_get_ready_time(base);
	unsigned			 what = 0;

	(void)cb;
	(void)data;
	c = g_source_query_unix_fd(base, s->tag);
	if (c & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		what |= FTPAGENT_READ;
	if (c & G_IO_OUT)
		what |= FTPAGENT_WRITE;
	if (rt != -1 && rt <= t)
		g_source_set_ready_time(base, t + FTPAGENT_GLIB_RETRY);
	/* the source may be destroyed in there; GLib holds it until we
	 * return */
	ftpagent_process(s->fa, what);
	return G_SOURCE_CONTINUE;
}

static inline void
ftpagent_glib_drop_(struct ftpagent_glib *g)
{
	if (g->source == NULL)
		return;
	g_source_destroy(g->source);
	g_source_unref(g->source);
	g->source = NULL;
}

/* The watch hook: makes the source say what the connection wants. */
static inline void
ftpagent_glib_watch_(void *arg, int fd, unsigned events, int timeout_ms)
{
	struct ftpagent_glib		*g = arg;
	struct ftpagent_glib_source_	*s;
	GIOCondition			 cond = 0;

	if (g->source == NULL)
		return;
	if (fd == -1 || events == 0) {
		ftpagent_glib_drop_(g);
		return;
	}
	s = (struct ftpagent_glib_source_ *)g->source;
	if (events & FTPAGENT_READ)
		cond |= G_IO_IN;
	if (events & FTPAGENT_WRITE)
		cond |= G_IO_OUT;
	if (cond != s->cond) {
		g_source_modify_unix_fd(g->source, s->tag, cond);
		s->cond = cond;
	}
	g_source_set_ready_time(g->source, timeout_ms < 0 ? -1 :
	    g_get_monotonic_time() + (gint64)timeout_ms * 1000);
}

/*
 * Attaches fa to the GLib main context ctx (NULL: the default), with g
 * as the adapter's state (any previous contents are ignored). Returns 0,
 * or -1 when fa is NULL or not connected (nothing is changed then).
 */
static inline int
ftpagent_glib_attach(struct ftpagent_glib *g, struct ftpagent *fa,
    GMainContext *ctx)
{
	static GSourceFuncs		 funcs = {
		.dispatch = ftpagent_glib_dispatch_,
	};
	struct ftpagent_glib_source_	*s;
	int				 fd;

	if (fa == NULL || (fd = ftpagent_fd(fa)) == -1)
		return -1;
	s = (struct ftpagent_glib_source_ *)g_source_new(&funcs, sizeof(*s));
	g_source_set_name(&s->base, "ftpagent");
	s->fa = fa;
	s->cond = G_IO_IN;
	s->tag = g_source_add_unix_fd(&s->base, fd, s->cond);
	g_source_attach(&s->base, ctx);
	g->fa = fa;
	g->source = &s->base;
	ftpagent_set_watch(fa, ftpagent_glib_watch_, g);
	ftpagent_glib_watch_(g, fd, ftpagent_events(fa), ftpagent_timeout(fa));
	return 0;
}

/* Destroys the source and removes the hook; fa itself is left as it is. */
static inline void
ftpagent_glib_detach(struct ftpagent_glib *g)
{
	ftpagent_set_watch(g->fa, NULL, NULL);
	ftpagent_glib_drop_(g);
	g->fa = NULL;
}

#endif
