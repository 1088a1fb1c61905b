/*
 * NDJSON framer. The buffer holds at most one partial message of up to
 * `max` bytes plus the complete messages of the latest feed: an over-long
 * message is refused as soon as it passes the limit, before its newline
 * arrives, so a peer cannot make us buffer an unbounded line. In resync
 * mode the rest of that message is dropped as it comes and framing goes on
 * after its '\n'; a skip record keeps its place among the kept bytes.
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
	nj->unkept = UINT64_MAX;
}

void
ndjson_free(struct ndjson *nj)
{
	size_t max = nj->max;
	int resync = nj->resync;

	free(nj->buf);
	free(nj->skips);
	memset(nj, 0, sizeof(*nj));
	nj->max = max;
	nj->resync = resync;
	nj->unkept = UINT64_MAX;
}

void
ndjson_set_resync(struct ndjson *nj)
{
	nj->resync = 1;
}

int
ndjson_waiting(const struct ndjson *nj)
{
	return nj->len > nj->start || nj->nskips > 0;
}

size_t
ndjson_skips(const struct ndjson *nj)
{
	return nj->nskips;
}

int
ndjson_last_dropped(const struct ndjson *nj)
{
	return nj->last_dropped;
}

uint64_t
ndjson_unkept(const struct ndjson *nj)
{
	return nj->unkept;
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

/*
 * The framed part of a feed: keeps the bytes before the first message
 * over the limit. Returns how many, or (size_t)-1 when out of memory.
 * *over says whether such a message starts (or goes on) right after them,
 * *partial how many of its bytes an earlier feed buffered.
 */
static size_t
feed_framed(struct ndjson *nj, const char *p, size_t len, int *over,
    size_t *partial)
{
	const char *s, *end, *nl, *old;
	size_t keep = len, seg, n, unscanned;
	int known_clean;

	*over = 0;
	*partial = 0;
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
			*over = 1;
			*partial = seg;
			break;
		}
		if (nl == NULL)
			break;
		seg = 0;
		s = nl + 1;
	}

	if (keep > 0) {
		if (reserve(nj, keep) == -1)
			return (size_t)-1;
		/* Saves next() rescanning a long partial message after each
		 * small feed. */
		if (known_clean)
			nj->scanned = nj->len - nj->start;
		memcpy(nj->buf + nj->len, p, keep);
		nj->len += keep;
	}
	return keep;
}

/*
 * Resync mode: the message over the limit starts at p, after the partial
 * bytes buffered of it. Those go, and its place and first bytes are
 * recorded for next(). -1 when out of memory or too many wait.
 */
static int
skip_begin(struct ndjson *nj, size_t partial, const char *p, size_t len)
{
	struct ndjson_skip	*sk;
	size_t			 room, n;

	if (nj->nskips >= NDJSON_MAX_SKIPS)
		return -1;
	sk = realloc(nj->skips, (nj->nskips + 1) * sizeof(*sk));
	if (sk == NULL)
		return -1;
	nj->skips = sk;
	sk = &nj->skips[nj->nskips++];
	/* its first max + 1 bytes hold no '\n': nothing of the next one */
	room = nj->max < NDJSON_HEAD ? nj->max + 1 : NDJSON_HEAD;
	n = partial < room ? partial : room;
	memcpy(sk->head, nj->buf + nj->len - partial, n);
	sk->headlen = n;
	n = room - sk->headlen < len ? room - sk->headlen : len;
	memcpy(sk->head + sk->headlen, p, n);
	sk->headlen += n;
	sk->head[sk->headlen] = '\0';

	nj->len -= partial;
	if (nj->scanned > nj->len - nj->start)
		nj->scanned = nj->len - nj->start;
	sk->at = nj->off + (nj->len - nj->start);
	if (partial > 0 && nj->unkept == UINT64_MAX)
		nj->unkept = sk->at;
	nj->skipping = 1;
	return 0;
}

int
ndjson_feed(struct ndjson *nj, const void *data, size_t len)
{
	const char *p = data, *nl;
	size_t took, partial;
	int over;

	nj->unkept = UINT64_MAX;
	if (nj->toobig)
		return -1;
	if (len > 0)
		nj->last_dropped = 0;
	while (len > 0) {
		if (nj->skipping) {
			nl = memchr(p, '\n', len);
			took = nl != NULL ? (size_t)(nl - p) + 1 : len;
			nj->skipping = nl == NULL;
			nj->last_dropped = took == len;
			p += took;
			len -= took;
			continue;
		}
		took = feed_framed(nj, p, len, &over, &partial);
		if (took == (size_t)-1) {
			nj->toobig = 1;
			return -1;
		}
		if (took > 0)
			nj->last_dropped = 0;
		if (!over)
			break;
		p += took;
		len -= took;
		if (!nj->resync || skip_begin(nj, partial, p, len) == -1) {
			nj->toobig = 1;
			return -1;
		}
	}
	return 0;
}

enum ndjson_status
ndjson_next(struct ndjson *nj, char **line, size_t *len)
{
	char *from, *nl;
	size_t n;

	if (nj->nskips > 0 && nj->skips[0].at == nj->off) {
		/* a dropped message's turn, after those before it */
		memcpy(nj->head, nj->skips[0].head, nj->skips[0].headlen + 1);
		*line = nj->head;
		*len = nj->skips[0].headlen;
		nj->nskips--;
		memmove(nj->skips, nj->skips + 1,
		    nj->nskips * sizeof(*nj->skips));
		return NDJSON_SKIPPED;
	}
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
			nj->off += n + 1;
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
