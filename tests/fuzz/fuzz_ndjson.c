/*
 * The NDJSON framer (protocol/ndjson.c).
 *
 * Input: one byte (low three bits: the message limit from a table; next
 * three: the payload repeated 2^n times, so that the buffer grows past the
 * point where it shrinks again), one byte saying after which chunks the
 * messages are pulled (bit k % 8 for chunk k; always at the end), a chunk
 * plan (fuzz.h), then the stream. Each chunk is an exact-size copy.
 *
 * The reference is the stream split on '\n' by hand: the framer must give
 * exactly its messages, NUL-terminated, up to the first one longer than
 * the limit (complete or not), and then NDJSON_TOOBIG for good; without
 * one, NDJSON_AGAIN with the unterminated tail as ndjson_pending.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "fuzz.h"

#define STREAM_MAX	(200 * 1024)

struct ref {
	const char	*s;
	size_t		 len;
	size_t		 pos;		/* start of the next message */
	size_t		 clean;		/* no '\n' in [pos, clean) */
	size_t		 max;
};

/*
 * The next message of the stream by hand: 1 and its span, 0 at an
 * unterminated tail that fits (the framer waits), -1 at a message over
 * the limit (the framer gives up).
 */
static int
ref_next(struct ref *r, size_t *off, size_t *len)
{
	const char	*nl;
	size_t		 n;

	nl = memchr(r->s + r->pos, '\n', r->len - r->pos);
	n = nl != NULL ? (size_t)(nl - (r->s + r->pos)) : r->len - r->pos;
	if (n > r->max)
		return -1;
	if (nl == NULL)
		return 0;
	*off = r->pos;
	*len = n;
	r->pos += n + 1;
	return 1;
}

/* Pulls every message the framer has; false once it said TOOBIG. */
static bool
drain(struct ndjson *nj, struct ref *r, size_t fed)
{
	enum ndjson_status	 st;
	char			*line;
	size_t			 len, off, rlen;
	int			 want;

	for (;;) {
		st = ndjson_next(nj, &line, &len);
		if (st == NDJSON_LINE) {
			FUZZ_CHECK(ref_next(r, &off, &rlen) == 1);
			FUZZ_CHECK(len == rlen && len <= r->max);
			FUZZ_CHECK(line[len] == '\0');
			FUZZ_CHECK(memcmp(line, r->s + off, len) == 0);
			continue;
		}
		if (st == NDJSON_AGAIN) {
			FUZZ_CHECK(ndjson_pending(nj) == fed - r->pos);
			FUZZ_CHECK(fed - r->pos <= r->max);
			/* nothing complete is left within what was fed */
			if (r->clean < r->pos)
				r->clean = r->pos;
			FUZZ_CHECK(memchr(r->s + r->clean, '\n',
			    fed - r->clean) == NULL);
			r->clean = fed;
			return true;
		}
		FUZZ_CHECK(st == NDJSON_TOOBIG);
		want = ref_next(r, &off, &rlen);
		FUZZ_CHECK(want == -1);
		FUZZ_CHECK(ndjson_next(nj, &line, &len) == NDJSON_TOOBIG);
		FUZZ_CHECK(ndjson_feed(nj, "x\n", 2) == -1);
		return false;
	}
}

static char *
make_stream(const uint8_t *p, size_t len, unsigned reps, size_t *outlen)
{
	char	*s;
	size_t	 i;

	while (reps > 1 && len * reps > STREAM_MAX)
		reps /= 2;
	*outlen = len * reps;
	if ((s = malloc(*outlen > 0 ? *outlen : 1)) == NULL)
		abort();
	for (i = 0; i < reps && len > 0; i++)
		memcpy(s + i * len, p, len);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 limits[8] = { 0, 1, 2, 3, 16, 100, 4096,
	    70 * 1024 };
	struct fuzz_in		 in = { data, size };
	struct fuzz_chunks	 plan;
	struct ndjson		 nj;
	struct ref		 r;
	uint8_t			 hdr, pulls;
	size_t			 len, fed = 0, n, k = 0;
	char			*stream, *chunk;
	bool			 alive = true;
	int			 rc;

	hdr = fuzz_u8(&in);
	pulls = fuzz_u8(&in);
	fuzz_chunks_take(&plan, &in, 0x0f);
	stream = make_stream(in.p, in.len, 1u << ((hdr >> 3) & 7), &len);
	if (in.len > 0)
		plan.scale = len / in.len;

	ndjson_init(&nj, limits[hdr & 7]);
	FUZZ_CHECK(nj.max == (limits[hdr & 7] ? limits[hdr & 7] :
	    NDJSON_DEFAULT_MAX));
	memset(&r, 0, sizeof(r));
	r.s = stream;
	r.len = len;
	r.max = nj.max;

	while (alive && fed < len) {
		n = fuzz_chunks_next(&plan, len - fed);
		chunk = fuzz_dup(stream + fed, n);
		rc = ndjson_feed(&nj, chunk, n);
		free(chunk);
		fed += n;
		FUZZ_CHECK(rc == 0 || rc == -1);
		if (rc == -1 || (pulls >> (k++ % 8) & 1))
			alive = drain(&nj, &r, fed);
		FUZZ_CHECK(!alive || rc == 0);
	}
	if (alive)
		drain(&nj, &r, fed);
	ndjson_free(&nj);
	FUZZ_CHECK(nj.buf == NULL && nj.max == r.max);
	free(stream);
	return 0;
}
