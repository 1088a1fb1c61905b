/*
 * The record of a segmented download's ranges (protocol/segrec.c),
 * which the agent reads from the end of a file a user hands it.
 *
 * The input is cut or padded with zeros to SEGREC_SIZE bytes; its last
 * byte's low bit says whether the checksum is made right first (so that
 * the fuzzer reaches the fields behind it) or left as it came. Checks:
 * a record that is refused says why; one that is taken is well-formed
 * (segrec_check), every range lies within [0, size], and encoding it
 * gives back the record's bytes exactly (nothing in them is ignored).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "segrec.h"

/* The layout's checksum (segrec.c): FNV-1a, 64 bits, of the bytes
 * before it, stored little-endian in the last 8. */
static void
fix_checksum(uint8_t *buf)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < SEGREC_SIZE - 8; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	for (int i = 0; i < 8; i++)
		buf[SEGREC_SIZE - 8 + i] = (uint8_t)(h >> (8 * i));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t		 buf[SEGREC_SIZE], back[SEGREC_SIZE];
	struct segrec	 rec;
	const char	*why = NULL;
	bool		 fix = len > 0 && (data[len - 1] & 1);

	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, len < sizeof(buf) ? len : sizeof(buf));
	if (fix)
		fix_checksum(buf);
	if (segrec_decode(buf, &rec, &why) != 0) {
		FUZZ_CHECK(why != NULL && *why != '\0');
		return 0;
	}
	FUZZ_CHECK(segrec_check(&rec) == NULL);
	FUZZ_CHECK(rec.n >= 1 && rec.n <= SEGREC_MAX_RANGES && rec.size >= 0);
	for (int i = 0; i < rec.n; i++)
		FUZZ_CHECK(rec.r[i].start >= 0 && rec.r[i].start <=
		    rec.r[i].done && rec.r[i].done <= rec.r[i].end &&
		    rec.r[i].end <= rec.size);
	segrec_encode(&rec, back);
	FUZZ_CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	return 0;
}
