/*
 * NDJSON framer: splits a byte stream into '\n'-terminated messages.
 * Sans-IO: the caller feeds bytes it read, then pulls complete lines.
 */
#ifndef FTPA_NDJSON_H
#define FTPA_NDJSON_H

#include <stddef.h>

#define NDJSON_DEFAULT_MAX (1024 * 1024)

enum ndjson_status {
	NDJSON_LINE,	/* *line and *len hold one message (without '\n', NUL-terminated) */
	NDJSON_AGAIN,	/* no complete message buffered; feed more */
	NDJSON_TOOBIG,	/* a message exceeds the limit; the stream is unusable */
};

struct ndjson {
	char	*buf;
	size_t	 start;		/* first unconsumed byte */
	size_t	 len;		/* bytes used in buf */
	size_t	 cap;
	size_t	 max;		/* maximum message length, '\n' excluded */
	size_t	 scanned;	/* bytes after start already known to hold no '\n' */
	int	 toobig;
};

void	ndjson_init(struct ndjson *, size_t max);
void	ndjson_free(struct ndjson *);
/* Appends bytes. Returns 0, or -1 when out of memory or the limit is passed
 * (ndjson_next then answers NDJSON_TOOBIG). */
int	ndjson_feed(struct ndjson *, const void *buf, size_t len);
/* The returned line stays valid until the next ndjson_feed or ndjson_free.
 * A trailing '\r' is kept (JSON treats it as white space). Empty lines are
 * returned as messages of length 0. */
enum ndjson_status	ndjson_next(struct ndjson *, char **line, size_t *len);
/* Bytes buffered but not yet returned as messages. */
size_t	ndjson_pending(const struct ndjson *);

#endif
