#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "resolver.h"
#include "util.h"

struct resolve {
	char		*host;
	char		 port[8];
	resolve_cb	 cb;
	void		*arg;
	bool		 cancelled;	/* loop thread only */
	int		 gai_err;	/* written by the worker */
	struct addrinfo	*res;		/* written by the worker */
	struct resolve	*next;		/* done list, under done_lock */
};

static pthread_mutex_t	 done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct resolve	*done_head;
static ev_async		 done_async;

static void
resolve_finish(struct resolve *r)
{
	if (!r->cancelled) {
		if (r->gai_err == 0)
			r->cb(r->res, NULL, r->arg);
		else
			r->cb(NULL, gai_strerror(r->gai_err), r->arg);
	} else if (r->res != NULL)
		freeaddrinfo(r->res);
	free(r->host);
	free(r);
}

static void
done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct resolve	*r, *next;

	pthread_mutex_lock(&done_lock);
	r = done_head;
	done_head = NULL;
	pthread_mutex_unlock(&done_lock);
	for (; r != NULL; r = next) {
		next = r->next;
		resolve_finish(r);
	}
}

void
resolver_init(struct ev_loop *loop)
{
	ev_async_init(&done_async, done_cb);
	ev_async_start(loop, &done_async);
	ev_unref(loop);
}

static void
post_done(struct resolve *r)
{
	pthread_mutex_lock(&done_lock);
	r->next = done_head;
	done_head = r;
	pthread_mutex_unlock(&done_lock);
	ev_async_send(main_loop, &done_async);
}

static void *
worker(void *p)
{
	struct resolve	*r = p;
	struct addrinfo	 hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	r->gai_err = getaddrinfo(r->host, r->port, &hints, &r->res);
	post_done(r);
	return NULL;
}

struct resolve *
resolve_start(const char *host, unsigned short port, resolve_cb cb, void *arg)
{
	struct resolve	*r = xcalloc(1, sizeof(*r));
	struct addrinfo	 hints;
	pthread_attr_t	 attr;
	pthread_t	 t;

	r->host = xstrdup(host);
	snprintf(r->port, sizeof(r->port), "%u", port);
	r->cb = cb;
	r->arg = arg;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, r->port, &hints, &r->res) == 0) {
		/* no thread needed, but still answer from the loop */
		post_done(r);
		return r;
	}
	r->res = NULL;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, worker, r) != 0) {
		r->gai_err = EAI_SYSTEM;
		post_done(r);
	}
	pthread_attr_destroy(&attr);
	return r;
}

void
resolve_cancel(struct resolve *r)
{
	if (r != NULL)
		r->cancelled = true;
}
