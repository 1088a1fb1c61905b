/*
 * Drives <ftpagent_libev.h> and <ftpagent_glib.h> for
 * tests/integ/test_adapters.py:
 *
 *	libclient_loops SOCKET SILENT_URL libev|glib detach|free
 *
 * With a 400 ms call timeout, sends agent.ping; its callback takes 300
 * ms (so libev's cached time is that old) and then sends session.open to
 * SILENT_URL (a server that never greets: the call must end with
 * FTPAGENT_ERR_TIMEOUT) and another agent.ping (answered first; its
 * deadline is the later one, so the open's stays the earliest, and the
 * adapter hears of no change then). Once both are answered, the connection
 * is detached and freed (detach), or freed from the last callback
 * without detaching (free): the loop must then have nothing left to
 * watch. Prints "ok open=KIND ping=KIND ms=ELAPSED" or "error ...";
 * gives up after 5 s ("hung").
 */
#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ftpagent_libev.h"
#ifdef WITH_GLIB		/* configure found GLib */
#include "ftpagent_glib.h"
#endif

struct run {
	struct ftpagent	*fa;
	const char	*url;
	bool		 free_in_cb;
	int		 answered;
	bool		 freed;
	char		 open_kind[32], ping_kind[32];
};

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *
kind(const struct ftpagent_reply *r)
{
	return r->error == FTPAGENT_OK ? "ok" : r->error_kind;
}

static void
answered(struct run *r)
{
	if (++r->answered == 2 && r->free_in_cb) {
		ftpagent_free(r->fa);	/* no detach: the close stops it */
		r->freed = true;
	}
}

static void
on_open(struct ftpagent *fa, struct ftpagent_reply *rep, void *arg)
{
	struct run	*r = arg;

	snprintf(r->open_kind, sizeof(r->open_kind), "%s", kind(rep));
	answered(r);
}

static void
on_ping(struct ftpagent *fa, struct ftpagent_reply *rep, void *arg)
{
	struct run	*r = arg;

	snprintf(r->ping_kind, sizeof(r->ping_kind), "%s", kind(rep));
	answered(r);
}

static void
on_kick(struct ftpagent *fa, struct ftpagent_reply *rep, void *arg)
{
	struct run	*r = arg;

	usleep(300000);		/* a slow callback: the loop's time is old */
	if (ftpagent_send_open(fa, r->url, NULL, on_open, r) == 0 ||
	    ftpagent_send_call(fa, "agent.ping", NULL, NULL, 0, on_ping,
	    r) == 0) {
		printf("error send %s\n", ftpagent_error_message(fa));
		exit(1);
	}
}

static void
kick(struct run *r)
{
	if (ftpagent_send_call(r->fa, "agent.ping", NULL, NULL, 0, on_kick,
	    r) == 0) {
		printf("error send %s\n", ftpagent_error_message(r->fa));
		exit(1);
	}
}

static void
on_guard(struct ev_loop *loop, ev_timer *t, int revents)
{
	puts("error hung");
	exit(1);
}

/* Returns false when the loop still had something to watch at the end. */
static bool
run_libev(struct run *r)
{
	struct ev_loop		*loop = EV_DEFAULT;
	struct ftpagent_libev	 w;
	ev_timer		 guard;

	if (ftpagent_libev_attach(&w, r->fa, loop) == -1)
		return false;
	kick(r);
	ev_timer_init(&guard, on_guard, 5.0, 0.0);
	ev_timer_start(loop, &guard);
	while (r->answered < 2)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	if (!r->freed)
		ftpagent_libev_detach(&w);
	/* nothing may be left active: ev_run returns at once */
	ev_run(loop, EVRUN_NOWAIT);
	return ev_pending_count(loop) == 0 && !ev_is_active(&w.io) &&
	    !ev_is_active(&w.timer);
}

#ifdef WITH_GLIB
static gboolean
on_glib_guard(gpointer data)
{
	puts("error hung");
	exit(1);
}

static bool
run_glib(struct run *r)
{
	struct ftpagent_glib	g;
	guint			guard;

	if (ftpagent_glib_attach(&g, r->fa, NULL) == -1)
		return false;
	kick(r);
	guard = g_timeout_add(5000, on_glib_guard, NULL);
	while (r->answered < 2)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(guard);
	if (!r->freed)
		ftpagent_glib_detach(&g);
	return g.source == NULL && !g_main_context_pending(NULL);
}
#endif

int
main(int argc, char *argv[])
{
	struct run	 r;
	double		 t0;
	bool		 clean;

	if (argc != 5) {
		fprintf(stderr, "usage: libclient_loops SOCKET SILENT_URL "
		    "libev|glib detach|free\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.free_in_cb = strcmp(argv[4], "free") == 0;
	r.url = argv[2];
	r.fa = ftpagent_connect(argv[1]);
	if (r.fa == NULL || ftpagent_error(r.fa) != FTPAGENT_OK) {
		printf("error %s\n", ftpagent_error_message(r.fa));
		return 1;
	}
	ftpagent_set_timeout(r.fa, 400);
	t0 = now();
	if (strcmp(argv[3], "libev") == 0)
		clean = run_libev(&r);
#ifdef WITH_GLIB
	else if (strcmp(argv[3], "glib") == 0)
		clean = run_glib(&r);
#endif
	else {
		printf("error no %s here\n", argv[3]);
		return 77;
	}
	if (!r.freed)
		ftpagent_free(r.fa);
	if (!clean) {
		printf("error still-watching open=%s ping=%s\n", r.open_kind,
		    r.ping_kind);
		return 1;
	}
	printf("ok open=%s ping=%s ms=%.0f\n", r.open_kind, r.ping_kind,
	    (now() - t0) * 1000);
	return 0;
}
