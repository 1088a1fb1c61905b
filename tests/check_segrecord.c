/*
 * protocol/segrec.c and daemon/segrecord.c, the record of a segmented
 * download's ranges at the end of its file: what is written reads back
 * the same; any damaged byte, any ranges that do not tile the file, and
 * any record for another remote file (size, time) or in a file of the
 * wrong length is no record.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "segrecord.h"

Suite	*segrecord_suite(void);

/* size cut into n equal ranges, range i written halfway. */
static struct segrec
sample(int64_t size, int64_t mtime, int n)
{
	struct segrec	rec = { .size = size, .mtime = mtime, .n = n };

	for (int i = 0; i < n; i++) {
		rec.r[i].start = size * i / n;
		rec.r[i].end = size * (i + 1) / n;
		rec.r[i].done = rec.r[i].start +
		    (rec.r[i].end - rec.r[i].start) / 2;
	}
	return rec;
}

/* The layout's checksum (segrec.c's header: FNV-1a, 64 bits, of
 * bytes 0 to 503, stored little-endian at 504), made again after a
 * change so that only the change is judged. */
static void
resum(unsigned char *buf)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < SEGREC_SIZE - 8; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	for (int i = 0; i < 8; i++)
		buf[SEGREC_SIZE - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void
assert_same(const struct segrec *a, const struct segrec *b)
{
	ck_assert_int_eq(a->size, b->size);
	ck_assert_int_eq(a->mtime, b->mtime);
	ck_assert_int_eq(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		ck_assert_int_eq(a->r[i].start, b->r[i].start);
		ck_assert_int_eq(a->r[i].done, b->r[i].done);
		ck_assert_int_eq(a->r[i].end, b->r[i].end);
	}
}

START_TEST(test_round_trip)
{
	const int64_t	 mtimes[] = { INT64_MIN, 0, 1700000000, -1 };
	unsigned char	 buf[SEGREC_SIZE];
	struct segrec	 in, out;
	const char	*why = NULL;

	for (size_t m = 0; m < sizeof(mtimes) / sizeof(mtimes[0]); m++)
		for (int n = 1; n <= SEGREC_MAX_RANGES; n++) {
			in = sample(((int64_t)1 << 40) + 12345, mtimes[m], n);
			ck_assert_ptr_null(segrec_check(&in));
			segrec_encode(&in, buf);
			ck_assert_msg(segrec_decode(buf, &out, &why) == 0,
			    "n %d: %s", n, why);
			assert_same(&in, &out);
		}
	/* a file of no bytes: one empty range */
	in = sample(0, 5, 1);
	segrec_encode(&in, buf);
	ck_assert_int_eq(segrec_decode(buf, &out, &why), 0);
	assert_same(&in, &out);
}
END_TEST

START_TEST(test_every_bit_flip_refused)
{
	unsigned char	 buf[SEGREC_SIZE];
	struct segrec	 in = sample(9 * 1024 * 1024 + 7, 1700000000, 4), out;
	const char	*why;

	segrec_encode(&in, buf);
	for (int bit = 0; bit < SEGREC_SIZE * 8; bit++) {
		buf[bit / 8] ^= (unsigned char)(1 << (bit % 8));
		why = NULL;
		ck_assert_msg(segrec_decode(buf, &out, &why) == -1,
		    "bit %d flipped was taken", bit);
		ck_assert_ptr_nonnull(why);
		buf[bit / 8] ^= (unsigned char)(1 << (bit % 8));
	}
	ck_assert_int_eq(segrec_decode(buf, &out, &why), 0);
}
END_TEST

/* Records with a good checksum whose ranges are wrong. */
START_TEST(test_bad_ranges_refused)
{
	unsigned char	 buf[SEGREC_SIZE];
	struct segrec	 rec, out;
	const char	*why;

	for (int c = 0; c < 8; c++) {
		rec = sample(4000000, 77, 4);
		switch (c) {
		case 0: rec.r[0].start = 1; break;	/* not from 0 */
		case 1: rec.r[2].start++; break;	/* a gap */
		case 2: rec.r[1].end--; rec.r[2].start--;
			rec.r[1].done = rec.r[1].end + 1; break; /* past end */
		case 3: rec.r[3].done = rec.r[3].start - 1; break;
		case 4: rec.r[3].end = rec.size - 1; break; /* short */
		case 5: rec.size = -1; break;
		case 6: rec.n = 0; break;
		case 7: rec.n = SEGREC_MAX_RANGES + 1; break;
		}
		if (rec.n <= SEGREC_MAX_RANGES)
			ck_assert_ptr_nonnull(segrec_check(&rec));
		if (rec.n > SEGREC_MAX_RANGES) {
			/* encode would overrun: n written by hand */
			rec.n = 4;
			segrec_encode(&rec, buf);
			buf[24] = SEGREC_MAX_RANGES + 1;
			resum(buf);
		} else
			segrec_encode(&rec, buf);
		why = NULL;
		ck_assert_msg(segrec_decode(buf, &out, &why) == -1, "case %d",
		    c);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

/* Bytes after the last range, and the 4 after n, must be zero even
 * under a good checksum; the checksum itself is what resum() makes. */
START_TEST(test_stray_bytes_refused)
{
	unsigned char	 buf[SEGREC_SIZE], good[SEGREC_SIZE];
	struct segrec	 rec = sample(3000000, 9, 2), out;
	const int	 at[] = { 28, 31, 32 + 24 * 2, 300, SEGREC_SIZE - 9 };
	const char	*why = NULL;

	segrec_encode(&rec, good);
	memcpy(buf, good, SEGREC_SIZE);
	resum(buf);
	ck_assert_mem_eq(buf, good, SEGREC_SIZE);	/* resum is the format's */
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(buf, good, SEGREC_SIZE);
		buf[at[i]] = 1;
		resum(buf);
		why = NULL;
		ck_assert_msg(segrec_decode(buf, &out, &why) == -1,
		    "a byte at %d taken", at[i]);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

static char	tmpl[64];
static int	fd = -1;

static void
file_setup(void)
{
	strcpy(tmpl, "/tmp/check_segrecord.XXXXXX");
	fd = mkstemp(tmpl);
	ck_assert_int_ne(fd, -1);
	unlink(tmpl);
}

static void
file_teardown(void)
{
	close(fd);
}

START_TEST(test_file_read_back)
{
	struct segrec	 in = sample(3 * 1024 * 1024, 1600000000, 3), out;
	const char	*why = NULL;

	ck_assert_int_eq(ftruncate(fd, in.size + SEGREC_SIZE), 0);
	ck_assert_int_eq(segrec_write(fd, &in), 0);
	ck_assert_msg(segrec_read(fd, in.size, in.mtime, &out, &why) == 0,
	    "%s", why);
	assert_same(&in, &out);
	/* another remote file: other time, other size, no time at all */
	ck_assert_int_eq(segrec_read(fd, in.size, in.mtime + 1, &out, &why),
	    -1);
	ck_assert_int_eq(segrec_read(fd, in.size, INT64_MIN, &out, &why), -1);
	ck_assert_int_eq(segrec_read(fd, in.size - 1, in.mtime, &out, &why),
	    -1);
	/* the file one byte longer or shorter than size + record */
	ck_assert_int_eq(ftruncate(fd, in.size + SEGREC_SIZE + 1), 0);
	ck_assert_int_eq(segrec_read(fd, in.size, in.mtime, &out, &why), -1);
	ck_assert_int_eq(ftruncate(fd, in.size + SEGREC_SIZE - 1), 0);
	ck_assert_int_eq(segrec_read(fd, in.size, in.mtime, &out, &why), -1);
	/* the right length, but zeros where the record was */
	ck_assert_int_eq(ftruncate(fd, in.size), 0);
	ck_assert_int_eq(ftruncate(fd, in.size + SEGREC_SIZE), 0);
	why = NULL;
	ck_assert_int_eq(segrec_read(fd, in.size, in.mtime, &out, &why), -1);
	ck_assert_ptr_nonnull(why);
}
END_TEST

Suite *
segrecord_suite(void)
{
	Suite	*s = suite_create("segrecord");
	TCase	*tc = tcase_create("codec");
	TCase	*tf = tcase_create("file");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_every_bit_flip_refused);
	tcase_add_test(tc, test_bad_ranges_refused);
	tcase_add_test(tc, test_stray_bytes_refused);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, file_setup, file_teardown);
	tcase_add_test(tf, test_file_read_back);
	suite_add_tcase(s, tf);
	return s;
}
