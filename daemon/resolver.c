#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "resolver.h"
#include "util.h"
#include "worker.h"

struct resolve {
	char		*host;
	char		 port[8];
	resolve_cb	 cb;
	void		*arg;
	bool		 cancelled;	/* loop thread only */
	bool		 looked_up;	/* written by the worker */
	int		 gai_err;	/* written by the worker */
	struct addrinfo	*res;		/* written by the worker */
};

static void
resolve_finish(void *p)
{
	struct resolve	*r = p;

	if (!r->looked_up && r->res == NULL && r->gai_err == 0)
		r->gai_err = EAI_SYSTEM;	/* no thread could start */
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

void
resolver_init(struct ev_loop *loop)
{
	worker_init(loop);
}

static void
lookup(void *p)
{
	struct resolve	*r = p;
	struct addrinfo	 hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	r->gai_err = getaddrinfo(r->host, r->port, &hints, &r->res);
	r->looked_up = true;
}

struct resolve *
resolve_start(const char *host, unsigned short port, resolve_cb cb, void *arg)
{
	struct resolve	*r = xcalloc(1, sizeof(*r));
	struct addrinfo	 hints;

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
		r->looked_up = true;
		worker_post(resolve_finish, r);
		return r;
	}
	r->res = NULL;
	worker_run(lookup, resolve_finish, r);
	return r;
}

void
resolve_cancel(struct resolve *r)
{
	if (r != NULL)
		r->cancelled = true;
}
