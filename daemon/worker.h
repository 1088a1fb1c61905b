/*
 * Work that must not run on the event loop (a blocking getaddrinfo, a
 * file on a slow path): it runs on a short-lived detached thread, and its
 * completion is delivered back on the loop through one ev_async. The
 * thread touches only what its arg gives it.
 */
#ifndef FTPA_WORKER_H
#define FTPA_WORKER_H

#include <stdbool.h>
#include <ev.h>

void	 worker_init(struct ev_loop *);
/* work(arg) on a thread, then done(arg) from the loop, never inside this
 * call. When no thread can be started, done(arg) still comes, with work
 * not run: 0 is returned then; 1 when the thread runs. */
int	 worker_run(void (*work)(void *), void (*done)(void *), void *arg);
/* done(arg) from the loop, without a thread. */
void	 worker_post(void (*done)(void *), void *arg);
/* At exit: waits up to timeout seconds for the threads still working
 * (their results are dropped), so that none runs on into the process's
 * teardown. False when some did not end in time. */
bool	 worker_drain(double timeout);

#endif
