/* Unit tests for the FTP reply reader (protocol/ftp_reply.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ftp_reply.h"

Suite	*ftp_reply_suite(void);

#define MAX_REPLIES	8

/* What a whole input produced: the replies, then how it stopped. */
struct outcome {
	size_t			 nreplies;
	int			 code[MAX_REPLIES];
	char			*text[MAX_REPLIES];
	size_t			 nlines[MAX_REPLIES];
	enum ftp_reply_status	 last;		/* AGAIN or ERROR */
	enum ftp_reply_error	 error;
	size_t			 used;		/* bytes consumed in total */
	size_t			 text_cap;	/* reader's text buffer at the end */
};

static void
outcome_free(struct outcome *o)
{
	size_t	 i;

	for (i = 0; i < o->nreplies; i++)
		free(o->text[i]);
}

/*
 * Feeds in chunks of `chunk` bytes, each copied to an exact-size heap
 * buffer so that ASan and valgrind see any read past the chunk.
 */
static void
run(const char *in, size_t len, size_t chunk, struct outcome *o)
{
	struct ftp_reply_reader	 r;
	enum ftp_reply_status	 st = FTP_REPLY_AGAIN;
	size_t			 off, n, pos, consumed;
	char			*copy;

	memset(o, 0, sizeof(*o));
	ftp_reply_init(&r);
	for (off = 0; off < len && st != FTP_REPLY_ERROR; off += n) {
		n = len - off < chunk ? len - off : chunk;
		copy = malloc(n);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, in + off, n);
		for (pos = 0; pos < n;) {
			st = ftp_reply_parse(&r, copy + pos, n - pos, &consumed);
			ck_assert_uint_le(consumed, n - pos);
			pos += consumed;
			o->used += consumed;
			if (st == FTP_REPLY_ERROR)
				break;
			if (st == FTP_REPLY_AGAIN) {
				ck_assert_uint_eq(pos, n);
				break;
			}
			ck_assert_uint_gt(consumed, 0);
			ck_assert_uint_lt(o->nreplies, MAX_REPLIES);
			ck_assert_ptr_nonnull(r.text);
			ck_assert_uint_eq(strlen(r.text), r.text_len);
			o->code[o->nreplies] = r.code;
			o->text[o->nreplies] = strdup(r.text);
			o->nlines[o->nreplies] = r.nlines;
			o->nreplies++;
			st = FTP_REPLY_AGAIN;
		}
		free(copy);
	}
	o->last = st;
	o->error = r.error;
	o->text_cap = r.text_cap;
	if (st == FTP_REPLY_ERROR) {
		/* the error sticks */
		ck_assert_int_eq(ftp_reply_parse(&r, "200 x\r\n", 7, &consumed),
		    FTP_REPLY_ERROR);
		ck_assert_uint_eq(consumed, 0);
	}
	ftp_reply_free(&r);
}

/* Whole and byte at a time must agree (TEST-CASES 5). */
static void
run_both(const char *in, size_t len, struct outcome *o)
{
	struct outcome	 b;
	size_t		 i;

	run(in, len, SIZE_MAX, o);
	run(in, len, 1, &b);
	ck_assert_uint_eq(o->nreplies, b.nreplies);
	for (i = 0; i < o->nreplies; i++) {
		ck_assert_int_eq(o->code[i], b.code[i]);
		ck_assert_str_eq(o->text[i], b.text[i]);
		ck_assert_uint_eq(o->nlines[i], b.nlines[i]);
	}
	ck_assert_int_eq(o->last, b.last);
	ck_assert_int_eq(o->error, b.error);
	ck_assert_uint_eq(o->used, b.used);
	outcome_free(&b);
}

static void
expect_one(const char *in, int code, const char *text, size_t nlines)
{
	struct outcome	 o;

	run_both(in, strlen(in), &o);
	ck_assert_uint_eq(o.nreplies, 1);
	ck_assert_int_eq(o.code[0], code);
	ck_assert_str_eq(o.text[0], text);
	ck_assert_uint_eq(o.nlines[0], nlines);
	ck_assert_int_eq(o.last, FTP_REPLY_AGAIN);
	ck_assert_uint_eq(o.used, strlen(in));
	outcome_free(&o);
}

static void
expect_error(const char *in, size_t len, enum ftp_reply_error error)
{
	struct outcome	 o;

	run_both(in, len, &o);
	ck_assert_uint_eq(o.nreplies, 0);
	ck_assert_int_eq(o.last, FTP_REPLY_ERROR);
	ck_assert_int_eq(o.error, error);
	outcome_free(&o);
}

START_TEST(single_line)
{
	expect_one("200 Command okay.\r\n", 200, "Command okay.", 1);
	expect_one("331 Password required\n", 331, "Password required", 1);
	expect_one("200\r\n", 200, "", 1);
	expect_one("200 \r\n", 200, "", 1);
	expect_one("599 x\r\n", 599, "x", 1);
	expect_one("100 x\r\n", 100, "x", 1);
	/* a lone CR inside a line is text, only CRLF ends it */
	expect_one("200 a\rb\r\n", 200, "a\rb", 1);
}
END_TEST

START_TEST(multi_line_feat)
{
	expect_one("211-Features:\r\n MDTM\r\n211 End\r\n", 211,
	    "Features:\n MDTM\nEnd", 3);
	expect_one("211-Features:\r\n MDTM\r\n211\r\n", 211,
	    "Features:\n MDTM\n", 3);
	expect_one("211-\r\n211 \r\n", 211, "\n", 2);
}
END_TEST

/* TEST-CASES 1 */
START_TEST(multi_line_middle_lines)
{
	expect_one("220-Welcome\r\n"
	    "2023 was a good year\r\n"
	    "12 files\r\n"
	    "200-other code\r\n"
	    "\r\n"
	    "22\r\n"
	    "220-still going\r\n"
	    " 220 indented\r\n"
	    "220x not a close\r\n"
	    "220 Ready\r\n",
	    220,
	    "Welcome\n2023 was a good year\n12 files\n200-other code\n\n22\n"
	    "220-still going\n 220 indented\n220x not a close\nReady", 10);
}
END_TEST

/* TEST-CASES 2 */
START_TEST(multi_line_glftpd_close)
{
	struct outcome	 o;
	const char	*in = "230-Welcome to glFTPd\r\n"
	    "230- stats\r\n"
	    "200 Done.\r\n"
	    "250 next\r\n";

	run_both(in, strlen(in), &o);
	ck_assert_uint_eq(o.nreplies, 2);
	ck_assert_int_eq(o.code[0], 200);
	/* middle lines are kept as sent, their "230-" included */
	ck_assert_str_eq(o.text[0], "Welcome to glFTPd\n230- stats\nDone.");
	ck_assert_int_eq(o.code[1], 250);
	ck_assert_str_eq(o.text[1], "next");
	ck_assert_int_eq(o.last, FTP_REPLY_AGAIN);
	outcome_free(&o);
}
END_TEST

START_TEST(multi_line_bad_closing_code)
{
	const char	*in = "211-x\r\n000 y\r\n";

	expect_error(in, strlen(in), FTP_REPLY_ERR_BAD_CODE);
}
END_TEST

START_TEST(several_replies_in_one_buffer)
{
	struct ftp_reply_reader	 r;
	const char		*in = "220 hi\r\n331 pass\r\n230-a\r\n230 b\r\n22";
	size_t			 consumed, off = 0, len = strlen(in);

	ftp_reply_init(&r);
	ck_assert_int_eq(ftp_reply_parse(&r, in, len, &consumed), FTP_REPLY_OK);
	ck_assert_uint_eq(consumed, 8);
	ck_assert_int_eq(r.code, 220);
	ck_assert_str_eq(r.text, "hi");
	off += consumed;
	ck_assert_int_eq(ftp_reply_parse(&r, in + off, len - off, &consumed),
	    FTP_REPLY_OK);
	ck_assert_uint_eq(consumed, 10);
	ck_assert_int_eq(r.code, 331);
	ck_assert_str_eq(r.text, "pass");
	ck_assert_uint_eq(r.nlines, 1);
	off += consumed;
	ck_assert_int_eq(ftp_reply_parse(&r, in + off, len - off, &consumed),
	    FTP_REPLY_OK);
	ck_assert_uint_eq(consumed, 14);
	ck_assert_int_eq(r.code, 230);
	ck_assert_str_eq(r.text, "a\nb");
	ck_assert_uint_eq(r.nlines, 2);
	off += consumed;
	ck_assert_int_eq(ftp_reply_parse(&r, in + off, len - off, &consumed),
	    FTP_REPLY_AGAIN);
	ck_assert_uint_eq(consumed, 2);
	ck_assert_int_eq(ftp_reply_parse(&r, "0 ok\n", 5, &consumed),
	    FTP_REPLY_OK);
	ck_assert_int_eq(r.code, 220);
	ck_assert_str_eq(r.text, "ok");
	/* nothing to read is not an error */
	ck_assert_int_eq(ftp_reply_parse(&r, "", 0, &consumed), FTP_REPLY_AGAIN);
	ck_assert_uint_eq(consumed, 0);
	ftp_reply_free(&r);
}
END_TEST

/* TEST-CASES 3: a 17 KB line */
START_TEST(line_too_long)
{
	struct outcome	 o;
	size_t		 len = 17 * 1024;
	char		*in;

	in = malloc(len + 2);
	ck_assert_ptr_nonnull(in);
	memcpy(in, "200 ", 4);
	memset(in + 4, 'a', len - 4);
	memcpy(in + len, "\r\n", 2);
	run_both(in, len + 2, &o);
	ck_assert_int_eq(o.last, FTP_REPLY_ERROR);
	ck_assert_int_eq(o.error, FTP_REPLY_ERR_LINE_TOO_LONG);
	/* caught as soon as the limit is passed, not at the line end */
	ck_assert_uint_eq(o.used, FTP_REPLY_LINE_MAX + 1);
	outcome_free(&o);

	/* the same inside a multi-line reply */
	memcpy(in, "211-x\r\n", 7);
	run_both(in, len + 2, &o);
	ck_assert_int_eq(o.error, FTP_REPLY_ERR_LINE_TOO_LONG);
	ck_assert_uint_eq(o.used, 7 + FTP_REPLY_LINE_MAX + 1);
	outcome_free(&o);
	free(in);
}
END_TEST

START_TEST(line_at_limit)
{
	struct outcome	 o;
	char		*in;
	size_t		 len = FTP_REPLY_LINE_MAX;

	in = malloc(len + 3);
	ck_assert_ptr_nonnull(in);
	memcpy(in, "200 ", 4);
	memset(in + 4, 'b', len - 4);

	/* exactly FTP_REPLY_LINE_MAX bytes: fine with CRLF and with LF */
	memcpy(in + len, "\r\n", 2);
	run_both(in, len + 2, &o);
	ck_assert_uint_eq(o.nreplies, 1);
	ck_assert_uint_eq(strlen(o.text[0]), len - 4);
	outcome_free(&o);
	in[len] = '\n';
	run_both(in, len + 1, &o);
	ck_assert_uint_eq(o.nreplies, 1);
	outcome_free(&o);

	/* one byte more is too long, CR or not */
	in[len] = 'b';
	memcpy(in + len + 1, "\r\n", 2);
	expect_error(in, len + 3, FTP_REPLY_ERR_LINE_TOO_LONG);
	in[len] = '\r';
	in[len + 1] = '\r';
	expect_error(in, len + 3, FTP_REPLY_ERR_LINE_TOO_LONG);
	free(in);
}
END_TEST

/* TEST-CASES 3: 64 KB without a line end, memory stays bounded */
START_TEST(no_line_end_bounded)
{
	struct outcome	 o;
	size_t		 len = 64 * 1024;
	char		*in;

	in = malloc(len);
	ck_assert_ptr_nonnull(in);
	memcpy(in, "200 ", 4);
	memset(in + 4, 'z', len - 4);
	run_both(in, len, &o);
	ck_assert_int_eq(o.error, FTP_REPLY_ERR_LINE_TOO_LONG);
	ck_assert_uint_le(o.used, FTP_REPLY_LINE_MAX + 1);
	/* the line never reached the text buffer */
	ck_assert_uint_le(o.text_cap, 1024);
	outcome_free(&o);
	free(in);
}
END_TEST

/* A buffer of `n` continuation lines after "211-start". */
static char *
many_lines(size_t n, const char *line, const char *close, size_t *lenp)
{
	size_t	 llen = strlen(line), len, i;
	char	*in, *p;

	len = 11 + n * llen + strlen(close);
	in = malloc(len);
	ck_assert_ptr_nonnull(in);
	p = in;
	memcpy(p, "211-start\r\n", 11);
	p += 11;
	for (i = 0; i < n; i++, p += llen)
		memcpy(p, line, llen);
	memcpy(p, close, strlen(close));
	*lenp = len;
	return in;
}

/* TEST-CASES 3: 10,000 continuation lines */
START_TEST(too_many_lines)
{
	struct outcome	 o;
	size_t		 len;
	char		*in;

	in = many_lines(10000, " x\r\n", "211 end\r\n", &len);
	expect_error(in, len, FTP_REPLY_ERR_TOO_MANY_LINES);
	run(in, len, SIZE_MAX, &o);
	/* stopped at the first line over the limit */
	ck_assert_uint_eq(o.used, 11 + (FTP_REPLY_LINES_MAX - 1) * 4 + 4);
	outcome_free(&o);
	free(in);

	/* exactly the limit is fine */
	in = many_lines(FTP_REPLY_LINES_MAX - 2, " x\r\n", "211 end\r\n", &len);
	run_both(in, len, &o);
	ck_assert_uint_eq(o.nreplies, 1);
	ck_assert_uint_eq(o.nlines[0], FTP_REPLY_LINES_MAX);
	outcome_free(&o);
	free(in);
}
END_TEST

START_TEST(too_big)
{
	struct outcome	 o;
	char		 line[4003];
	size_t		 len;
	char		*in;

	memset(line, 'q', 4000);
	memcpy(line + 4000, "\r\n", 3);
	in = many_lines(100, line, "211 end\r\n", &len);
	expect_error(in, len, FTP_REPLY_ERR_TOO_BIG);
	run(in, len, SIZE_MAX, &o);
	ck_assert_uint_le(o.text_cap, FTP_REPLY_TEXT_MAX + 1);
	outcome_free(&o);
	free(in);
}
END_TEST

/* TEST-CASES 4 */
START_TEST(nul_rejected)
{
	expect_error("200 a\0b\r\n", 9, FTP_REPLY_ERR_NUL);
	expect_error("\0", 1, FTP_REPLY_ERR_NUL);
	expect_error("211-a\r\n\0\r\n211 b\r\n", 17, FTP_REPLY_ERR_NUL);
}
END_TEST

START_TEST(lf_only)
{
	expect_one("211-Features:\n MDTM\n211 End\n", 211,
	    "Features:\n MDTM\nEnd", 3);
	expect_one("211-a\r\nb\nc\r\n211 d\n", 211, "a\nb\nc\nd", 4);
}
END_TEST

/* TEST-CASES 5: byte at a time gives what one read gives */
START_TEST(byte_at_a_time)
{
	static const char *const inputs[] = {
		"220 hi\r\n331 pw\r\n",
		"220-a\r\n\r\n220-b\r\n220 c\r\n200\n",
		"150 here (12 bytes)\r\n226 done\r\n421 bye",
		"230-x\n200 y\n5",
		"abc\r\n",
	};
	struct outcome	 whole, o;
	size_t		 i, chunk, len;

	/* run_both compares whole and byte at a time; odd chunks too */
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		len = strlen(inputs[i]);
		run_both(inputs[i], len, &whole);
		for (chunk = 2; chunk < 8; chunk++) {
			run(inputs[i], len, chunk, &o);
			ck_assert_uint_eq(o.nreplies, whole.nreplies);
			ck_assert_uint_eq(o.used, whole.used);
			ck_assert_int_eq(o.error, whole.error);
			outcome_free(&o);
		}
		outcome_free(&whole);
	}
}
END_TEST

/* TEST-CASES 6: bytes behind a 234 stay with the caller */
START_TEST(bytes_after_234)
{
	struct ftp_reply_reader	 r;
	const char		 in[] = "234 AUTH TLS OK\r\n\x16\x03\x01\x02";
	size_t			 consumed, len = sizeof(in) - 1;

	ftp_reply_init(&r);
	ck_assert_int_eq(ftp_reply_parse(&r, in, len, &consumed), FTP_REPLY_OK);
	ck_assert_int_eq(r.code, 234);
	ck_assert_uint_eq(consumed, 17);
	ck_assert_uint_lt(consumed, len);
	ftp_reply_free(&r);

	/* byte at a time: the reply ends exactly at its LF */
	ftp_reply_init(&r);
	for (len = 0; len < 16; len++) {
		ck_assert_int_eq(ftp_reply_parse(&r, in + len, 1, &consumed),
		    FTP_REPLY_AGAIN);
		ck_assert_uint_eq(consumed, 1);
	}
	ck_assert_int_eq(ftp_reply_parse(&r, in + 16, 2, &consumed),
	    FTP_REPLY_OK);
	ck_assert_uint_eq(consumed, 1);
	ftp_reply_free(&r);
}
END_TEST

/* TEST-CASES 7 */
START_TEST(bad_code)
{
	static const char *const inputs[] = {
		"abc OK\r\n",
		"600 x\r\n",
		"099 x\r\n",
		"000 x\r\n",
		"999 x\r\n",
		"20 x\r\n",
		"2000 x\r\n",
		"200x\r\n",
		"20\r\n",
		"\r\n",
		" 200 x\r\n",
		"-200 x\r\n",
		"2a0 x\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
		expect_error(inputs[i], strlen(inputs[i]),
		    FTP_REPLY_ERR_BAD_CODE);
}
END_TEST

START_TEST(error_is_sticky_and_free_is_safe)
{
	struct ftp_reply_reader	 r;
	size_t			 consumed;

	ftp_reply_init(&r);
	ftp_reply_free(&r);		/* nothing allocated yet */
	ck_assert_int_eq(ftp_reply_parse(&r, "xyz\r\n200 ok\r\n", 13, &consumed),
	    FTP_REPLY_ERROR);
	ck_assert_uint_eq(consumed, 5);
	ck_assert_int_eq(r.error, FTP_REPLY_ERR_BAD_CODE);
	ck_assert_int_eq(ftp_reply_parse(&r, "200 ok\r\n", 8, &consumed),
	    FTP_REPLY_ERROR);
	ck_assert_uint_eq(consumed, 0);
	ftp_reply_free(&r);
	ftp_reply_free(&r);
	/* free leaves a fresh reader */
	ck_assert_int_eq(ftp_reply_parse(&r, "200 ok\r\n", 8, &consumed),
	    FTP_REPLY_OK);
	ftp_reply_free(&r);
}
END_TEST

START_TEST(strerror_names)
{
	int	 e;

	for (e = FTP_REPLY_ERR_NONE; e <= FTP_REPLY_ERR_NOMEM; e++) {
		ck_assert_ptr_nonnull(ftp_reply_strerror(e));
		ck_assert_str_ne(ftp_reply_strerror(e), "unknown error");
	}
	ck_assert_str_eq(ftp_reply_strerror(FTP_REPLY_ERR_NOMEM + 1),
	    "unknown error");
}
END_TEST

Suite *
ftp_reply_suite(void)
{
	Suite	*s = suite_create("ftp_reply");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, single_line);
	tcase_add_test(tc, multi_line_feat);
	tcase_add_test(tc, multi_line_middle_lines);
	tcase_add_test(tc, multi_line_glftpd_close);
	tcase_add_test(tc, multi_line_bad_closing_code);
	tcase_add_test(tc, several_replies_in_one_buffer);
	tcase_add_test(tc, line_too_long);
	tcase_add_test(tc, line_at_limit);
	tcase_add_test(tc, no_line_end_bounded);
	tcase_add_test(tc, too_many_lines);
	tcase_add_test(tc, too_big);
	tcase_add_test(tc, nul_rejected);
	tcase_add_test(tc, lf_only);
	tcase_add_test(tc, byte_at_a_time);
	tcase_add_test(tc, bytes_after_234);
	tcase_add_test(tc, bad_code);
	tcase_add_test(tc, error_is_sticky_and_free_is_safe);
	tcase_add_test(tc, strerror_names);
	/* byte-at-a-time runs over 64 KB under valgrind take a while */
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
