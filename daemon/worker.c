#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "util.h"
#include "worker.h"

struct wjob {
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
	struct wjob	*next;		/* done list, under done_lock */
};

static pthread_mutex_t	 done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wjob	*done_head;
static ev_async		 done_async;
static struct ev_loop	*loop;

static void
done_cb(struct ev_loop *l, ev_async *w, int revents)
{
	struct wjob	*j, *next;

	pthread_mutex_lock(&done_lock);
	j = done_head;
	done_head = NULL;
	pthread_mutex_unlock(&done_lock);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j->arg);
		free(j);
	}
}

void
worker_init(struct ev_loop *l)
{
	loop = l;
	ev_async_init(&done_async, done_cb);
	ev_async_start(loop, &done_async);
	ev_unref(loop);		/* it keeps no loop running */
}

static void
post(struct wjob *j)
{
	pthread_mutex_lock(&done_lock);
	j->next = done_head;
	done_head = j;
	pthread_mutex_unlock(&done_lock);
	ev_async_send(loop, &done_async);
}

static void *
thread_main(void *p)
{
	struct wjob	*j = p;

	j->work(j->arg);
	post(j);
	return NULL;
}

int
worker_run(void (*work)(void *), void (*done)(void *), void *arg)
{
	struct wjob	*j = xcalloc(1, sizeof(*j));
	pthread_attr_t	 attr;
	pthread_t	 t;
	int		 started;

	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&t, &attr, thread_main, j) == 0;
	pthread_attr_destroy(&attr);
	if (!started)
		post(j);
	return started;
}

void
worker_post(void (*done)(void *), void *arg)
{
	struct wjob	*j = xcalloc(1, sizeof(*j));

	j->done = done;
	j->arg = arg;
	post(j);
}
