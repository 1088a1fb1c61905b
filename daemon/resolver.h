/*
 * Name resolution off the event loop: getaddrinfo runs on a worker
 * thread (worker.h). Numeric addresses are looked up at once, without a
 * thread, and still answered from the loop.
 */
#ifndef FTPA_RESOLVER_H
#define FTPA_RESOLVER_H

#include <netdb.h>
#include <ev.h>

struct resolve;
/* res is owned by the callee after the call (freeaddrinfo); error is a
 * gai_strerror text when res is NULL. */
typedef void (*resolve_cb)(struct addrinfo *res, const char *error, void *arg);

/* Also starts worker.h's delivery. */
void		 resolver_init(struct ev_loop *);
/* Starts a lookup; the callback runs later from the loop, never inside
 * this call. Returns a handle for resolve_cancel. */
struct resolve	*resolve_start(const char *host, unsigned short port, resolve_cb, void *arg);
/* The callback will not run; the worker's result is dropped. */
void		 resolve_cancel(struct resolve *);

#endif
