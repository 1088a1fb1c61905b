/*
 * NDJSON framer. The buffer holds at most one partial message of up to
 * `max` bytes plus the complete messages of the latest feed: an over-long
 * message is refused as soon as it passes the limit, before its newline
 * arrives, so a peer cannot make us buffer an unbounded line.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

#define NDJSON_MIN_CAP		4096
/* Give back memory once a large message has gone, so that many idle
 * connections do not each keep a megabyte. */
#define NDJSON_SHRINK_CAP	(64 * 1024)

void
ndjson_init(struct ndjson *nj, size_t max)
{
	memset(nj, 0, sizeof(*nj));
	nj->max = max > 0 ? max : NDJSON_DEFAULT_MAX;
}

void
ndjson_free(struct ndjson *nj)
{
	size_t max = nj->max;

	free(nj->buf);
	memset(nj, 0, sizeof(*nj));
	nj->max = max;
}

size_t
ndjson_pending(const struct ndjson *nj)
{
	return nj->len - nj->start;
}

static const char *
last_newline(const char *p, size_t len)
{
	while (len > 0) {
		if (p[len - 1] == '\n')
			return p + len - 1;
		len--;
	}
	return NULL;
}

/* Makes room for `more` bytes after the pending ones, moving them to the
 * front first: lines handed out earlier are invalid after a feed anyway. */
static int
reserve(struct ndjson *nj, size_t more)
{
	size_t pending = nj->len - nj->start, need, cap;
	char *nbuf;

	if (nj->start > 0) {
		if (pending > 0)
			memmove(nj->buf, nj->buf + nj->start, pending);
		nj->start = 0;
		nj->len = pending;
	}
	if (more > SIZE_MAX - pending)
		return -1;
	need = pending + more;

	if (need <= nj->cap) {
		if (nj->cap <= NDJSON_SHRINK_CAP || need > nj->cap / 4)
			return 0;
		/* Shrink; failure to do so is harmless. */
		cap = need < NDJSON_MIN_CAP ? NDJSON_MIN_CAP : need;
		if ((nbuf = realloc(nj->buf, cap)) != NULL) {
			nj->buf = nbuf;
			nj->cap = cap;
		}
		return 0;
	}

	cap = nj->cap > 0 ? nj->cap : NDJSON_MIN_CAP;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	if ((nbuf = realloc(nj->buf, cap)) == NULL)
		return -1;
	nj->buf = nbuf;
	nj->cap = cap;
	return 0;
}

int
ndjson_feed(struct ndjson *nj, const void *data, size_t len)
{
	const char *p = data, *s, *end, *nl, *old;
	size_t keep = len, seg, n, unscanned;
	int known_clean;

	if (nj->toobig)
		return -1;
	if (len == 0)
		return 0;

	/* Length of the partial message already buffered. Only the bytes
	 * next() has not scanned yet can hold a '\n'. */
	unscanned = nj->len - nj->start - nj->scanned;
	old = NULL;
	if (unscanned > 0)
		old = last_newline(nj->buf + nj->start + nj->scanned,
		    unscanned);
	if (old != NULL) {
		seg = nj->len - (size_t)(old - nj->buf) - 1;
		known_clean = 0;
	} else {
		seg = nj->len - nj->start;
		known_clean = 1;
	}

	/* Check every message this feed completes or starts, and keep only
	 * the bytes before the first one over the limit. */
	s = p;
	end = p + len;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		n = (size_t)((nl != NULL ? nl : end) - s);
		if (seg > nj->max || n > nj->max - seg) {
			keep = (size_t)(s - p);
			nj->toobig = 1;
			break;
		}
		if (nl == NULL)
			break;
		seg = 0;
		s = nl + 1;
	}

	if (keep > 0) {
		if (reserve(nj, keep) == -1) {
			nj->toobig = 1;
			return -1;
		}
		/* Saves next() rescanning a long partial message after each
		 * small feed. */
		if (known_clean)
			nj->scanned = nj->len - nj->start;
		memcpy(nj->buf + nj->len, p, keep);
		nj->len += keep;
	}
	return nj->toobig ? -1 : 0;
}

enum ndjson_status
ndjson_next(struct ndjson *nj, char **line, size_t *len)
{
	char *from, *nl;
	size_t n;

	if (nj->len > nj->start) {
		from = nj->buf + nj->start + nj->scanned;
		nl = memchr(from, '\n', nj->len - nj->start - nj->scanned);
		if (nl != NULL) {
			n = (size_t)(nl - (nj->buf + nj->start));
			if (n > nj->max) {
				/* feed() refuses these; kept as a safety net. */
				nj->toobig = 1;
				nj->start = nj->len = nj->scanned = 0;
				return NDJSON_TOOBIG;
			}
			*nl = '\0';
			*line = nj->buf + nj->start;
			*len = n;
			nj->start += n + 1;
			nj->scanned = 0;
			return NDJSON_LINE;
		}
		nj->scanned = nj->len - nj->start;
	}
	if (nj->toobig) {
		/* Nothing more will be read from this stream. */
		nj->start = nj->len = nj->scanned = 0;
		return NDJSON_TOOBIG;
	}
	return NDJSON_AGAIN;
}
