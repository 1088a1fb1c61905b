/*
 * NDJSON framer: splits a byte stream into '\n'-terminated messages.
 * Sans-IO: the caller feeds bytes it read, then pulls complete lines.
 */
#ifndef FTPA_NDJSON_H
#define FTPA_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#define NDJSON_DEFAULT_MAX (1024 * 1024)

/* How much of an over-long message ndjson_next shows (NDJSON_SKIPPED),
 * enough for the start of a request: its "jsonrpc", "method" and "id". */
#define NDJSON_HEAD		256
/* Over-long messages reported by neither side yet; more is a flood and
 * ends the stream. */
#define NDJSON_MAX_SKIPS	64

enum ndjson_status {
	NDJSON_LINE,	/* *line and *len hold one message (without '\n', NUL-terminated) */
	NDJSON_AGAIN,	/* no complete message buffered; feed more */
	NDJSON_TOOBIG,	/* a message exceeds the limit; the stream is unusable */
	NDJSON_SKIPPED,	/* resync mode: a message over the limit was dropped
			 * here, the rest follows; *line and *len hold its first
			 * bytes (at most NDJSON_HEAD, NUL-terminated) */
};

/* Where a dropped message sat among the kept bytes, and how it began. */
struct ndjson_skip {
	uint64_t	 at;		/* offset in the kept stream */
	size_t		 headlen;
	char		 head[NDJSON_HEAD + 1];
};

struct ndjson {
	char	*buf;
	size_t	 start;		/* first unconsumed byte */
	size_t	 len;		/* bytes used in buf */
	size_t	 cap;
	size_t	 max;		/* maximum message length, '\n' excluded */
	size_t	 scanned;	/* bytes after start already known to hold no '\n' */
	int	 toobig;
	/* resync mode (ndjson_set_resync) */
	int	 resync;
	int	 skipping;	/* dropping the rest of an over-long message */
	int	 last_dropped;	/* the last byte fed was dropped */
	uint64_t unkept;	/* see ndjson_unkept */
	uint64_t off;		/* offset of buf[start] in the kept stream */
	struct ndjson_skip *skips;	/* FIFO of nskips, not yet reported */
	size_t	 nskips;
	char	 head[NDJSON_HEAD + 1];	/* the one ndjson_next reported */
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

/*
 * Resync mode, for a server that answers an over-long message and goes
 * on: such a message is dropped up to and including its '\n', without
 * being buffered, and ndjson_next reports it in its place, after the
 * messages before it, as NDJSON_SKIPPED. ndjson_feed then fails only when
 * out of memory or when more than NDJSON_MAX_SKIPS wait to be reported.
 */
void	ndjson_set_resync(struct ndjson *);
/* Whether ndjson_next may have something to return: bytes or a skip. */
int	ndjson_waiting(const struct ndjson *);
/* Over-long messages dropped but not yet reported by ndjson_next. */
size_t	ndjson_skips(const struct ndjson *);
/* Whether the last byte of the last ndjson_feed was dropped, being part of
 * an over-long message. */
int	ndjson_last_dropped(const struct ndjson *);
/* The offset in the kept stream from which the last ndjson_feed dropped
 * bytes that earlier feeds had kept (the start of an over-long message),
 * or UINT64_MAX. */
uint64_t	ndjson_unkept(const struct ndjson *);

#endif
