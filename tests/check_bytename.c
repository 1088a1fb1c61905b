/* Unit tests for protocol/bytename.c */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <jansson.h>

#include "bytename.h"

Suite *bytename_suite(void);

static char *
esc(const char *s, size_t len, size_t *n)
{
	char *e = ftpa_bytes_escape(s, len, n);

	ck_assert_ptr_nonnull(e);
	return e;
}

/* Encoding then decoding gives the bytes back, and the encoded form is a
 * string jansson accepts as UTF-8. */
static void
round_trip(const char *s, size_t len)
{
	size_t	 n, m;
	char	*e = esc(s, len, &n);
	json_t	*j;

	ck_assert_uint_eq(strlen(e), n);
	j = json_stringn(e, n);
	ck_assert_msg(j != NULL, "escape of %zu bytes is not valid UTF-8", len);
	json_decref(j);
	m = ftpa_bytes_unescape(e, n);
	ck_assert_uint_eq(m, len);
	ck_assert_mem_eq(e, s, len);
	ck_assert_int_eq(e[m], '\0');
	free(e);
}

START_TEST(test_plain_untouched)
{
	const char *names[] = { "", "a.txt", "dir with spaces",
	    "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80",
	    "\xef\xbf\xbd", "\xef\x9d\xbf" /* U+F77F, just below */,
	    "\xef\xa0\x80" /* U+F800, just above */ };
	size_t n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *e = esc(names[i], strlen(names[i]), &n);

		ck_assert_msg(ftpa_bytes_plain(names[i], strlen(names[i])),
		    "name %zu", i);
		ck_assert_str_eq(e, names[i]);
		ck_assert_int_eq(ftpa_bytes_escaped(e), 0);
		free(e);
	}
}
END_TEST

START_TEST(test_invalid_bytes)
{
	size_t	 n;
	char	*e;

	/* Latin-1 e-acute: 0xE9 -> U+F7E9 = EF 9F A9 */
	e = esc("caf\xe9", 4, &n);
	ck_assert_str_eq(e, "caf\xef\x9f\xa9");
	ck_assert(ftpa_bytes_escaped(e));
	free(e);
	/* a lone continuation byte and a truncated sequence */
	e = esc("\x80" "a\xc3", 3, &n);
	ck_assert_str_eq(e, "\xef\x9e\x80" "a" "\xef\x9f\x83");
	free(e);
	/* overlong '/' and a surrogate are not UTF-8 either */
	e = esc("\xc0\xaf", 2, &n);
	ck_assert_str_eq(e, "\xef\x9f\x80\xef\x9e\xaf");
	free(e);
	ck_assert(!ftpa_bytes_plain("\xed\xa0\x80", 3));
	ck_assert(!ftpa_bytes_plain("\xf5\x80\x80\x80", 4));
}
END_TEST

START_TEST(test_real_escape_chars_escaped)
{
	size_t	 n;
	char	*e;

	/* U+F7A9 in a real name is EF 9E A9; each byte is escaped */
	ck_assert(!ftpa_bytes_plain("\xef\x9e\xa9", 3));
	e = esc("\xef\x9e\xa9", 3, &n);
	ck_assert_str_eq(e, "\xef\x9f\xaf" "\xef\x9e\x9e" "\xef\x9e\xa9");
	ck_assert_uint_eq(n, 9);
	free(e);
}
END_TEST

START_TEST(test_round_trips)
{
	char buf[512];

	round_trip("caf\xe9", 4);
	round_trip("\xef\x9e\xa9\xef\x9f\xbf", 6);
	round_trip("a\xff\xfe\xc3\xa9\xe2\x82", 7);
	/* every byte value but NUL, alone and in pairs */
	for (int b = 1; b < 256; b++) {
		buf[0] = (char)b;
		round_trip(buf, 1);
		for (int c = 1; c < 256; c += 7) {
			buf[1] = (char)c;
			round_trip(buf, 2);
		}
	}
	/* pseudo-random byte strings */
	srand(7);
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(rand() % 40);

		for (size_t k = 0; k < len; k++)
			buf[k] = (char)(1 + rand() % 255);
		round_trip(buf, len);
	}
}
END_TEST

START_TEST(test_unescape_leaves_others)
{
	char s[] = "plain \xc3\xa9 \xef\xbf\xbd";
	size_t n = ftpa_bytes_unescape(s, strlen(s));

	ck_assert_uint_eq(n, strlen("plain \xc3\xa9 \xef\xbf\xbd"));
	ck_assert_str_eq(s, "plain \xc3\xa9 \xef\xbf\xbd");
}
END_TEST

START_TEST(test_utf8_seq_bounds)
{
	/* a sequence cut off by the length is not valid */
	ck_assert_uint_eq(ftpa_utf8_seq((const unsigned char *)"\xc3\xa9", 1), 0);
	ck_assert_uint_eq(ftpa_utf8_seq((const unsigned char *)"\xc3\xa9", 2), 2);
	ck_assert_uint_eq(ftpa_utf8_seq((const unsigned char *)"a", 0), 0);
	ck_assert_uint_eq(ftpa_utf8_seq(
	    (const unsigned char *)"\xf4\x90\x80\x80", 4), 0);	/* > U+10FFFF */
}
END_TEST

Suite *
bytename_suite(void)
{
	Suite *s = suite_create("bytename");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plain_untouched);
	tcase_add_test(tc, test_invalid_bytes);
	tcase_add_test(tc, test_real_escape_chars_escaped);
	tcase_add_test(tc, test_round_trips);
	tcase_add_test(tc, test_unescape_leaves_others);
	tcase_add_test(tc, test_utf8_seq_bounds);
	suite_add_tcase(s, tc);
	return s;
}
