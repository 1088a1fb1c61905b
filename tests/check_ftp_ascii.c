/*
 * Unit tests for protocol/ftp_ascii.c: TYPE A conversion in both
 * directions, a CRLF split between spans included.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ftp_ascii.h"

Suite	*ftp_ascii_suite(void);

/* in fed in spans of `step` bytes, towards the network (to_net) or
 * from it; returns what comes out */
static char *
feed(bool to_net, const char *in, size_t step)
{
	struct ftp_ascii	 a = { 0 };
	size_t			 n = strlen(in), m = 0, k;
	char			*out = calloc(1, 2 * n + 2);

	ck_assert_ptr_nonnull(out);
	for (size_t i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		m += to_net ? ftp_ascii_to_net(&a, in + i, k, out + m) :
		    ftp_ascii_from_net(&a, in + i, k, out + m);
	}
	if (!to_net)
		m += ftp_ascii_net_end(&a, out + m);
	out[m] = '\0';
	return out;
}

START_TEST(download)
{
	static const char *wire = "l1\r\nl2\r\n\r\nlone\rcr\r\nlast\r";
	static const char *local = "l1\nl2\n\nlone\rcr\nlast\r";

	/* every way of cutting the wire into spans gives the same */
	for (size_t step = 1; step <= strlen(wire); step++) {
		char	*got = feed(false, wire, step);

		ck_assert_msg(strcmp(got, local) == 0, "step %zu: %s", step, got);
		free(got);
	}
}
END_TEST

START_TEST(upload)
{
	static const char *local = "a\nb\r\nc\r\rd\n\n";
	static const char *wire = "a\r\nb\r\nc\r\rd\r\n\r\n";

	for (size_t step = 1; step <= strlen(local); step++) {
		char	*got = feed(true, local, step);

		ck_assert_msg(strcmp(got, wire) == 0, "step %zu: %s", step, got);
		free(got);
	}
}
END_TEST

START_TEST(end_without_cr)
{
	struct ftp_ascii	a = { 0 };
	char			out[4];

	ck_assert_uint_eq(ftp_ascii_from_net(&a, "x\r", 2, out), 1);
	ck_assert_uint_eq(ftp_ascii_from_net(&a, "\n", 1, out + 1), 1);
	ck_assert_uint_eq(ftp_ascii_net_end(&a, out + 2), 0);
	ck_assert(memcmp(out, "x\n", 2) == 0);
}
END_TEST

Suite *
ftp_ascii_suite(void)
{
	Suite	*s = suite_create("ftp_ascii");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, download);
	tcase_add_test(tc, upload);
	tcase_add_test(tc, end_without_cr);
	suite_add_tcase(s, tc);
	return s;
}
