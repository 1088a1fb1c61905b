/*
 * Drives a libftpagent connection from a libev loop. Header only: include
 * it after <ev.h> in the program that owns the loop and link with -lev.
 *
 *	struct ftpagent_libev	 w;
 *
 *	fa = ftpagent_connect(NULL);
 *	if (ftpagent_libev_attach(&w, fa, EV_DEFAULT) == -1)
 *		... (fa is not connected)
 *	ftpagent_send_...(fa, ..., cb, arg);
 *	ev_run(EV_DEFAULT, 0);
 *	ftpagent_libev_detach(&w);	(or skip it, see below)
 *	ftpagent_free(fa);
 *
 * The struct ftpagent_libev is the caller's storage (a local, or a member
 * of the caller's own structure); the adapter allocates nothing. Its one
 * ev_io and one ev_timer follow what the connection asks for, through
 * ftpagent_set_watch: the socket is watched while the connection is open
 * (so ev_run does not return on its own while attached; ev_break when the
 * work is done), and the timer runs while a call has a deadline.
 *
 * Detaching: ftpagent_libev_detach stops both watchers and removes the
 * watch hook; the connection stays usable (drive it some other way).
 * ftpagent_free without detaching first is allowed too: closing the
 * connection tells the adapter to stop watching (events 0), so the loop
 * never sees a freed connection or a closed descriptor; the struct
 * ftpagent_libev is then inert and may go. Never detach after the free.
 * Either may be done from a reply callback.
 *
 * A connection that fails (ftpagent_process returns false, the agent has
 * gone) is closed the same way: the watchers stop, every pending
 * callback has run with FTPAGENT_ERR_AGENT.
 */
#ifndef FTPAGENT_LIBEV_H
#define FTPAGENT_LIBEV_H

#include <ev.h>

#include <ftpagent_async.h>

#if !EV_MULTIPLICITY
#error "<ftpagent_libev.h> needs libev with loop arguments (EV_MULTIPLICITY)"
#endif

/*
 * libev times a timer from the loop's cached time, which a slow callback
 * makes old: a timer can fire before the deadline. The library calls the
 * watch hook after every ftpagent_process, which rearms it; the timer
 * also repeats every RETRY seconds after it first fires, until the hook
 * says what comes next, so that no deadline is ever lost.
 */
#define FTPAGENT_LIBEV_RETRY	0.01

struct ftpagent_libev {
	struct ftpagent	*fa;
	struct ev_loop	*loop;
	ev_io		 io;
	ev_timer	 timer;
};

static inline void
ftpagent_libev_io_cb_(struct ev_loop *loop, ev_io *io, int revents)
{
	struct ftpagent_libev	*w = io->data;
	unsigned		 what = 0;

	(void)loop;
	if (revents & EV_READ)
		what |= FTPAGENT_READ;
	if (revents & EV_WRITE)
		what |= FTPAGENT_WRITE;
	/* w may be gone once this returns: a callback may free it */
	ftpagent_process(w->fa, what);
}

static inline void
ftpagent_libev_timer_cb_(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ftpagent_libev	*w = t->data;

	(void)loop;
	(void)revents;
	ftpagent_process(w->fa, 0);
}

/* The watch hook: makes the watchers say what the connection wants. */
static inline void
ftpagent_libev_watch_(void *arg, int fd, unsigned events, int timeout_ms)
{
	struct ftpagent_libev	*w = arg;
	int			 want = 0, have = 0;

	if (events & FTPAGENT_READ)
		want |= EV_READ;
	if (events & FTPAGENT_WRITE)
		want |= EV_WRITE;
	if (fd == -1)
		want = 0;
	if (ev_is_active(&w->io))
		have = w->io.events & (EV_READ | EV_WRITE);
	if (want != have || fd != w->io.fd) {
		ev_io_stop(w->loop, &w->io);
		if (want != 0) {
			ev_io_set(&w->io, fd, want);
			ev_io_start(w->loop, &w->io);
		}
	}
	ev_timer_stop(w->loop, &w->timer);
	if (want != 0 && timeout_ms >= 0) {
		ev_timer_set(&w->timer, timeout_ms / 1000.0,
		    FTPAGENT_LIBEV_RETRY);
		ev_timer_start(w->loop, &w->timer);
	}
}

/*
 * Attaches fa to loop, with w as the adapter's state (any previous
 * contents are ignored). Returns 0, or -1 when fa is NULL or not
 * connected (nothing is changed then).
 */
static inline int
ftpagent_libev_attach(struct ftpagent_libev *w, struct ftpagent *fa,
    struct ev_loop *loop)
{
	if (fa == NULL || ftpagent_fd(fa) == -1)
		return -1;
	w->fa = fa;
	w->loop = loop;
	ev_io_init(&w->io, ftpagent_libev_io_cb_, -1, 0);
	w->io.data = w;
	ev_timer_init(&w->timer, ftpagent_libev_timer_cb_, 0.0, 0.0);
	w->timer.data = w;
	ftpagent_set_watch(fa, ftpagent_libev_watch_, w);
	ftpagent_libev_watch_(w, ftpagent_fd(fa), ftpagent_events(fa),
	    ftpagent_timeout(fa));
	return 0;
}

/* Stops watching and removes the hook; fa itself is left as it is. */
static inline void
ftpagent_libev_detach(struct ftpagent_libev *w)
{
	ev_io_stop(w->loop, &w->io);
	ev_timer_stop(w->loop, &w->timer);
	ftpagent_set_watch(w->fa, NULL, NULL);
	w->fa = NULL;
}

#endif
