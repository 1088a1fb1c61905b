#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"
#include "worker.h"

struct wjob {
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
	struct wjob	*next;		/* done list, under done_lock */
};

static pthread_mutex_t	 done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 done_cond = PTHREAD_COND_INITIALIZER;
static unsigned		 running;	/* threads not yet done, under done_lock */
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
post(struct wjob *j, bool from_thread)
{
	pthread_mutex_lock(&done_lock);
	j->next = done_head;
	done_head = j;
	if (from_thread && --running == 0)
		pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
	ev_async_send(loop, &done_async);
}

static void *
thread_main(void *p)
{
	struct wjob	*j = p;

	j->work(j->arg);
	post(j, true);
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
	pthread_mutex_lock(&done_lock);
	running++;
	pthread_mutex_unlock(&done_lock);
	started = pthread_create(&t, &attr, thread_main, j) == 0;
	pthread_attr_destroy(&attr);
	if (!started)
		post(j, true);
	return started;
}

void
worker_post(void (*done)(void *), void *arg)
{
	struct wjob	*j = xcalloc(1, sizeof(*j));

	j->done = done;
	j->arg = arg;
	post(j, false);
}

bool
worker_drain(double timeout)
{
	struct timespec	ts;
	bool		ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)timeout;
	ts.tv_nsec += (long)((timeout - (time_t)timeout) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&done_lock);
	while (running > 0 &&
	    pthread_cond_timedwait(&done_cond, &done_lock, &ts) == 0)
		;
	ok = running == 0;
	pthread_mutex_unlock(&done_lock);
	return ok;
}
