/* Small daemon helpers: aborting allocators (daemon only), a byte buffer,
 * the clock and deferred destruction. */
#ifndef FTPA_UTIL_H
#define FTPA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <ev.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Overwrites a secret before freeing it. */
void	 free_secret(char *);

struct buf {
	char	*data;
	size_t	 off;	/* first unconsumed byte */
	size_t	 len;	/* end of valid data */
	size_t	 cap;
};
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_drop(struct buf *, size_t);
size_t	 buf_used(const struct buf *);
void	 buf_free(struct buf *);

int	 set_nonblock(int);
int	 set_cloexec(int);
double	 now_mono(void);	/* seconds, monotonic */
double	 now_real(void);	/* seconds since the epoch */

/* A JSON string from server bytes that may not be UTF-8: bytes that are
 * not become escapes (protocol/bytename.h), so a quirky server never loses
 * us a reply and a name sent back unchanged still names the same file. */
struct json_t;
struct json_t	*json_text(const char *);

/* The loop of the daemon: one loop, set once at start, before any
 * watcher is started. */
void		 loop_set(struct ev_loop *);
struct ev_loop	*loop_get(void);

/*
 * Deferred destruction: objects that can die inside their own callback
 * are queued here and freed from an ev_prepare watcher, after every
 * callback of this loop iteration has returned.
 */
void	 defer_init(struct ev_loop *);
void	 defer_free(void (*fn)(void *), void *arg);
void	 defer_run(void);

#endif
