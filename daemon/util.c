#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bytename.h"
#include "log.h"
#include "util.h"

static struct ev_loop *main_loop;

void
loop_set(struct ev_loop *loop)
{
	main_loop = loop;
}

struct ev_loop *
loop_get(void)
{
	return main_loop;
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void	*p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		fatalx("out of memory");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	return s;
}

void
free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		/* compact before growing: consumers drop from the front */
		if (b->off > 0) {
			memmove(b->data, b->data + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			size_t	cap = b->cap ? b->cap : 4096;

			while (cap < b->len + n)
				cap *= 2;
			b->data = xrealloc(b->data, cap);
			b->cap = cap;
		}
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_drop(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
set_cloexec(int fd)
{
	int	fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

double
now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double
now_real(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct deferred {
	void		(*fn)(void *);
	void		*arg;
	struct deferred	*next;
};

static struct deferred	*defer_head;
static ev_prepare	 defer_watcher;

static void
defer_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	defer_run();
}

void
defer_init(struct ev_loop *loop)
{
	ev_prepare_init(&defer_watcher, defer_cb);
	ev_prepare_start(loop, &defer_watcher);
	ev_unref(loop);		/* the reaper alone must not keep the loop alive */
}

void
defer_free(void (*fn)(void *), void *arg)
{
	struct deferred	*d = xmalloc(sizeof(*d));

	d->fn = fn;
	d->arg = arg;
	d->next = defer_head;
	defer_head = d;
}

void
defer_run(void)
{
	/* freeing may defer more; loop until the list stays empty */
	while (defer_head != NULL) {
		struct deferred	*d = defer_head;

		defer_head = NULL;
		while (d != NULL) {
			struct deferred	*next = d->next;

			d->fn(d->arg);
			free(d);
			d = next;
		}
	}
}

json_t *
json_text(const char *s)
{
	json_t	*j;

	if ((j = ftpa_bytes_json(s)) == NULL)
		fatalx("out of memory");
	return j;
}
