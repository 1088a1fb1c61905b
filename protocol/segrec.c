/*
 * segrec.h's record, its bytes. The layout (SEGREC_SIZE bytes, integers
 * little-endian):
 *
 *   0    8    magic "FTPA-SG1"
 *   8    8    size
 *   16   8    mtime (two's complement; INT64_MIN: none)
 *   24   4    n, 1 to SEGREC_MAX_RANGES
 *   28   4    zero
 *   32   24n  per range: start, done, end
 *   ...       zero up to CSUM_AT
 *   504  8    FNV-1a (64 bits) of bytes 0 to 503
 */
#ifdef HAVE_CONFIG_H		/* the fuzz harness builds it alone */
#include "config.h"
#endif

#include <stdbool.h>
#include <string.h>

#include "segrec.h"

#define MAGIC		"FTPA-SG1"
#define MAGIC_LEN	8
#define RANGES_AT	32
#define RANGE_LEN	24
#define CSUM_AT		(SEGREC_SIZE - 8)

_Static_assert(RANGES_AT + RANGE_LEN * SEGREC_MAX_RANGES <= CSUM_AT,
    "the ranges fit before the checksum");

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
fnv1a(const unsigned char *p, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
segrec_encode(const struct segrec *rec, unsigned char *buf)
{
	unsigned char	*p;

	memset(buf, 0, SEGREC_SIZE);
	memcpy(buf, MAGIC, MAGIC_LEN);
	put64(buf + 8, (uint64_t)rec->size);
	put64(buf + 16, (uint64_t)rec->mtime);
	put64(buf + 24, (uint64_t)(uint32_t)rec->n);	/* and 4 zero bytes */
	for (int i = 0; i < rec->n; i++) {
		p = buf + RANGES_AT + RANGE_LEN * i;
		put64(p, (uint64_t)rec->r[i].start);
		put64(p + 8, (uint64_t)rec->r[i].done);
		put64(p + 16, (uint64_t)rec->r[i].end);
	}
	put64(buf + CSUM_AT, fnv1a(buf, CSUM_AT));
}

const char *
segrec_check(const struct segrec *rec)
{
	const struct segrec_range	*r = rec->r;

	if (rec->n < 1 || rec->n > SEGREC_MAX_RANGES)
		return "a number of ranges out of bounds";
	if (rec->size < 0)
		return "a negative size";
	for (int i = 0; i < rec->n; i++) {
		if (r[i].start != (i == 0 ? 0 : r[i - 1].end))
			return "ranges that do not follow each other";
		if (r[i].start > r[i].done || r[i].done > r[i].end)
			return "a range written outside itself";
	}
	if (r[rec->n - 1].end != rec->size)
		return "ranges that do not end at the size";
	return NULL;
}

/* Whether buf[from, to) is all zero. */
static bool
zero(const unsigned char *buf, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != 0)
			return false;
	return true;
}

int
segrec_decode(const unsigned char *buf, struct segrec *rec,
    const char **why)
{
	uint64_t	n;
	size_t		end;

	memset(rec, 0, sizeof(*rec));
	if (memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
		*why = "no record of ranges";
		return -1;
	}
	if (get64(buf + CSUM_AT) != fnv1a(buf, CSUM_AT)) {
		*why = "a damaged record (checksum)";
		return -1;
	}
	n = get64(buf + 24);
	if (n < 1 || n > SEGREC_MAX_RANGES) {
		*why = "a number of ranges out of bounds";
		return -1;
	}
	rec->size = (int64_t)get64(buf + 8);
	rec->mtime = (int64_t)get64(buf + 16);
	rec->n = (int)n;
	for (int i = 0; i < rec->n; i++) {
		const unsigned char *p = buf + RANGES_AT + RANGE_LEN * i;

		rec->r[i].start = (int64_t)get64(p);
		rec->r[i].done = (int64_t)get64(p + 8);
		rec->r[i].end = (int64_t)get64(p + 16);
	}
	end = RANGES_AT + RANGE_LEN * (size_t)rec->n;
	if (!zero(buf, end, CSUM_AT)) {
		*why = "a record with bytes where none belong";
		return -1;
	}
	return (*why = segrec_check(rec)) == NULL ? 0 : -1;
}
