/*
 * Unit tests for the reply payload parsers (protocol/ftp_parse.c). Inputs
 * are copied to exact-size heap buffers so that ASan and valgrind catch a
 * read past the NUL (or past len for ftp_parse_time14).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ftp_parse.h"

Suite	*ftp_parse_suite(void);

static char *
exact(const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p = malloc(n);

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	return p;
}

/* ---- PASV ---------------------------------------------------------------- */

static int
pasv(const char *text, uint8_t addr[4], uint16_t *port)
{
	char	*t = exact(text);
	int	 rc = ftp_parse_pasv(t, addr, port);

	free(t);
	return rc;
}

static void
pasv_ok(const char *text, uint8_t a, uint8_t b, uint8_t c, uint8_t d,
    uint16_t port)
{
	uint8_t		 addr[4] = { 0, 0, 0, 0 };
	uint16_t	 p = 0;

	ck_assert_msg(pasv(text, addr, &p) == 0, "refused: %s", text);
	ck_assert_uint_eq(addr[0], a);
	ck_assert_uint_eq(addr[1], b);
	ck_assert_uint_eq(addr[2], c);
	ck_assert_uint_eq(addr[3], d);
	ck_assert_uint_eq(p, port);
}

static void
pasv_bad(const char *text)
{
	uint8_t		 addr[4] = { 9, 9, 9, 9 };
	uint16_t	 p = 7;

	ck_assert_msg(pasv(text, addr, &p) == -1, "accepted: %s", text);
	/* outputs untouched on failure */
	ck_assert_uint_eq(addr[0], 9);
	ck_assert_uint_eq(addr[3], 9);
	ck_assert_uint_eq(p, 7);
}

START_TEST(pasv_valid)
{
	pasv_ok("Entering Passive Mode (192,168,1,2,4,210)",
	    192, 168, 1, 2, 4 * 256 + 210);
	pasv_ok("Entering Passive Mode 10,0,0,1,0,21", 10, 0, 0, 1, 21);
	pasv_ok("=127,0,0,1,255,255", 127, 0, 0, 1, 65535);
	pasv_ok("(0,0,0,0,0,1)", 0, 0, 0, 0, 1);
	pasv_ok("Mode (192, 168, 1, 2, 4, 210).", 192, 168, 1, 2, 1234);
	pasv_ok("(010,000,001,002,004,210)", 10, 0, 1, 2, 1234);
	/* numbers before the run that do not make six are skipped */
	pasv_ok("Mode 2 (1,2,3,4,5,6)", 1, 2, 3, 4, 5 * 256 + 6);
}
END_TEST

/* 227 replies with octets past 255, port 0 or too few numbers: refused */
START_TEST(pasv_invalid)
{
	pasv_bad("Entering Passive Mode (256,168,1,2,4,210)");
	pasv_bad("Entering Passive Mode (192,168,1,2,256,1)");
	pasv_bad("Entering Passive Mode (192,168,1,2,4,999)");
	pasv_bad("Entering Passive Mode (192,168,1,2,0,0)");
	pasv_bad("Entering Passive Mode (192,168,1,2,4)");
	pasv_bad("Entering Passive Mode (192,168,1,2)");
	pasv_bad("Entering Passive Mode");
	pasv_bad("");
	pasv_bad("(1,2,3,4,5,,6)");
	pasv_bad("(1,2,3,4,5)x(6)");
	pasv_bad("(1,2,3,4,5,a)");
	/* an overlong run must not wrap around to a small number */
	pasv_bad("(1,2,3,4,5,18446744073709551617)");
	pasv_bad("(1,2,3,4,5,99999999999999999999999999999999999999)");
	pasv_bad("(4294967297,2,3,4,5,6)");
}
END_TEST

/* ---- EPSV ---------------------------------------------------------------- */

static int
epsv(const char *text, uint16_t *port)
{
	char	*t = exact(text);
	int	 rc = ftp_parse_epsv(t, port);

	free(t);
	return rc;
}

START_TEST(epsv_valid)
{
	uint16_t	 p = 0;

	ck_assert_int_eq(epsv("Entering Extended Passive Mode (|||6446|)", &p), 0);
	ck_assert_uint_eq(p, 6446);
	ck_assert_int_eq(epsv("(!!!1!)", &p), 0);
	ck_assert_uint_eq(p, 1);
	ck_assert_int_eq(epsv("ok (###65535#).", &p), 0);
	ck_assert_uint_eq(p, 65535);
	ck_assert_int_eq(epsv("(a) (|||21|)", &p), 0);
	ck_assert_uint_eq(p, 21);
}
END_TEST

/* malformed 229 replies, or ports past 65535: refused */
START_TEST(epsv_invalid)
{
	static const char *const bad[] = {
		"Entering Extended Passive Mode (|||65536|)",
		"Entering Extended Passive Mode (|||99999999999999999999|)",
		"Entering Extended Passive Mode (|||0|)",
		"Entering Extended Passive Mode (|||-1|)",
		"Entering Extended Passive Mode (||||)",
		"Entering Extended Passive Mode (|||6446)",
		"Entering Extended Passive Mode (|||6446|",
		"Entering Extended Passive Mode (|||6446!)",
		"Entering Extended Passive Mode (|!|6446|)",
		"Entering Extended Passive Mode (||6446|)",
		"Entering Extended Passive Mode (|||6446||)",
		"Entering Extended Passive Mode (|1.2.3.4|6446|)",
		"Entering Extended Passive Mode ( ||6446 )",
		"Entering Extended Passive Mode (111231)",
		"Entering Extended Passive Mode |||6446|",
		"Entering Extended Passive Mode (",
		"(|",
		"(||",
		"(|||",
		"",
	};
	uint16_t	 p = 7;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(epsv(bad[i], &p) == -1, "accepted: %s", bad[i]);
		ck_assert_uint_eq(p, 7);
	}
}
END_TEST

/* ---- PWD ----------------------------------------------------------------- */

static void
pwd_is(const char *text, const char *want)
{
	char	*t = exact(text);
	char	*path = ftp_parse_pwd(t);

	if (want == NULL)
		ck_assert_msg(path == NULL, "accepted: %s", text);
	else {
		ck_assert_msg(path != NULL, "refused: %s", text);
		ck_assert_str_eq(path, want);
	}
	free(path);
	free(t);
}

/* 257 with an unclosed quote, doubled quotes, text before the path */
START_TEST(pwd_variants)
{
	pwd_is("\"/home/user\" is current directory.", "/home/user");
	pwd_is("\"/\"", "/");
	pwd_is("\"/a\"\"b\"", "/a\"b");
	pwd_is("\"/a\"\"b\" is current", "/a\"b");
	pwd_is("\"\"\"\"\"\"\"\"", "\"\"\"");
	pwd_is("\"\"\"\"\"\"\"", NULL);
	pwd_is("\"/dir with space\" created", "/dir with space");
	pwd_is("MKD command successful: \"/x/y\"", "/x/y");
	pwd_is("Current directory is \"C:/Users\".", "C:/Users");
	pwd_is("\"/a\" \"/b\"", "/a");
	/* refused */
	pwd_is("\"/unclosed", NULL);
	pwd_is("\"/a\"\"", NULL);
	pwd_is("\"", NULL);
	pwd_is("\"\"", NULL);
	pwd_is("\"\" is empty", NULL);
	pwd_is("no quote at all", NULL);
	pwd_is("", NULL);
	pwd_is("text \"/a\"\"", NULL);
}
END_TEST

/* ---- SIZE ---------------------------------------------------------------- */

static int
size_of(const char *text, int64_t *size)
{
	char	*t = exact(text);
	int	 rc = ftp_parse_size(t, size);

	free(t);
	return rc;
}

START_TEST(size_valid)
{
	int64_t	 v = 0;

	ck_assert_int_eq(size_of("12345", &v), 0);
	ck_assert_int_eq(v, 12345);
	ck_assert_int_eq(size_of("0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(size_of("  42  ", &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(size_of("9223372036854775807", &v), 0);
	ck_assert_int_eq(v, INT64_MAX);
	ck_assert_int_eq(size_of("0009223372036854775807", &v), 0);
	ck_assert_int_eq(v, INT64_MAX);
}
END_TEST

/* "213 12ab" and sizes past 2^63: refused, no overflow */
START_TEST(size_invalid)
{
	static const char *const bad[] = {
		"12ab", "ab12", "", "   ", "-1", "+1", "1 2", "1.5", "0x10",
		"9223372036854775808",			/* 2^63 */
		"18446744073709551616",			/* 2^64 wraps to 0 */
		"99999999999999999999999999999",
	};
	int64_t	 v = 7;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(size_of(bad[i], &v) == -1, "accepted: %s", bad[i]);
		ck_assert_int_eq(v, 7);
	}
}
END_TEST

/* ---- MDTM / time14 ------------------------------------------------------- */

static int
mdtm(const char *text, int64_t *t)
{
	char	*s = exact(text);
	int	 rc = ftp_parse_mdtm(s, t);

	free(s);
	return rc;
}

/* time14 takes a span: the copy has no NUL at all */
static int
time14(const char *s, size_t len, int64_t *t)
{
	char	*p = malloc(len ? len : 1);
	int	 rc;

	ck_assert_ptr_nonnull(p);
	memcpy(p, s, len);
	rc = ftp_parse_time14(p, len, t);
	free(p);
	return rc;
}

START_TEST(mdtm_valid)
{
	int64_t	 t = 0;

	ck_assert_int_eq(mdtm("20230105123400", &t), 0);
	ck_assert_int_eq(t, 1672922040);
	ck_assert_int_eq(mdtm("19980615100045.014", &t), 0);
	ck_assert_int_eq(t, 897904845);
	ck_assert_int_eq(mdtm(" 19700101000000 ", &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(mdtm("19691231235959", &t), 0);
	ck_assert_int_eq(t, -1);
	ck_assert_int_eq(mdtm("20240229000000", &t), 0);
	ck_assert_int_eq(t, 1709164800);
	ck_assert_int_eq(mdtm("20000229235960", &t), 0);
	ck_assert_int_eq(t, 951868800);
	ck_assert_int_eq(mdtm("99991231235959", &t), 0);
	ck_assert_int_eq(t, 253402300799LL);
	ck_assert_int_eq(mdtm("16000301000000", &t), 0);
	ck_assert_int_eq(t, -11670912000LL);

	ck_assert_int_eq(time14("20230105123400;size=1", 14, &t), 0);
	ck_assert_int_eq(t, 1672922040);
	ck_assert_int_eq(time14("20230105123400.5", 16, &t), 0);
	ck_assert_int_eq(t, 1672922040);
}
END_TEST

/* bad MDTM dates: refused */
START_TEST(mdtm_invalid)
{
	static const char *const bad[] = {
		"20231305123400",	/* month 13 */
		"20230005123400",	/* month 0 */
		"20230230000000",	/* Feb 30 */
		"20230229000000",	/* not a leap year */
		"19000229000000",	/* century, not a leap year */
		"20230431000000",	/* April 31 */
		"20230100000000",	/* day 0 */
		"20230132000000",	/* day 32 */
		"20230105243400",	/* hour 24 */
		"20230105126000",	/* minute 60 */
		"20230105123461",	/* second 61 */
		"2023010512340",	/* too short */
		"202301051234000",	/* too long */
		"20230105123400.",	/* fraction without digits */
		"20230105123400.1a",
		"20230105123400 x",
		"2023-01-05 12:34",
		"191230105123400",	/* the Y2K "19100" bug */
		"-2023010512340",
		"",
		"   ",
	};
	int64_t	 t = 7;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mdtm(bad[i], &t) == -1, "accepted: %s", bad[i]);
		ck_assert_int_eq(t, 7);
	}
	/* a span cut short is refused, not read past */
	ck_assert_int_eq(time14("20230105123400", 13, &t), -1);
	ck_assert_int_eq(time14("20230105123400", 0, &t), -1);
	ck_assert_int_eq(time14("20230105123400.5", 15, &t), -1);
	ck_assert_int_eq(t, 7);
}
END_TEST

/* ---- 150 size ------------------------------------------------------------- */

static int
size150(const char *text, int64_t *size)
{
	char	*t = exact(text);
	int	 rc = ftp_parse_150_size(t, size);

	free(t);
	return rc;
}

START_TEST(size150_cases)
{
	int64_t	 v = 7;

	ck_assert_int_eq(size150("Opening BINARY mode data connection for x "
	    "(1234 bytes).", &v), 0);
	ck_assert_int_eq(v, 1234);
	ck_assert_int_eq(size150("Opening data connection for a (1).txt "
	    "(99 Bytes)", &v), 0);
	ck_assert_int_eq(v, 99);
	ck_assert_int_eq(size150("for x (5 bytes).txt (0 bytes)", &v), 0);
	ck_assert_int_eq(v, 0);

	v = 7;
	ck_assert_int_eq(size150("Opening BINARY mode data connection for x",
	    &v), -1);
	ck_assert_int_eq(size150("Opening data connection for a (1).txt", &v),
	    -1);
	ck_assert_int_eq(size150("(12ab bytes)", &v), -1);
	ck_assert_int_eq(size150("(bytes)", &v), -1);
	ck_assert_int_eq(size150("(12 byte", &v), -1);
	ck_assert_int_eq(size150("(12", &v), -1);
	ck_assert_int_eq(size150("(", &v), -1);
	ck_assert_int_eq(size150("(99999999999999999999 bytes)", &v), -1);
	ck_assert_int_eq(size150("", &v), -1);
	ck_assert_int_eq(v, 7);
}
END_TEST

/* ---- FEAT ------------------------------------------------------------------- */

START_TEST(feat_list)
{
	char	*t = exact("Features:\n MDTM\n REST STREAM\n mlst type*;size*;\n"
	    " UTF8\n\n   \nsize\nEnd");
	char	**feat = NULL;

	ck_assert_int_eq(ftp_parse_feat(t, &feat), 5);
	ck_assert_str_eq(feat[0], "MDTM");
	ck_assert_str_eq(feat[1], "REST STREAM");
	ck_assert_str_eq(feat[2], "MLST type*;size*;");
	ck_assert_str_eq(feat[3], "UTF8");
	ck_assert_str_eq(feat[4], "SIZE");
	ck_assert_ptr_null(feat[5]);
	ck_assert(ftp_feat_has(feat, "MDTM"));
	ck_assert(ftp_feat_has(feat, "mlst"));
	ck_assert(ftp_feat_has(feat, "REST"));
	ck_assert(ftp_feat_has(feat, "utf8"));
	ck_assert(!ftp_feat_has(feat, "MLS"));
	ck_assert(!ftp_feat_has(feat, "End"));
	ck_assert(!ftp_feat_has(feat, "Features:"));
	ck_assert(!ftp_feat_has(feat, "EPSV"));
	ck_assert(!ftp_feat_has(NULL, "EPSV"));
	ftp_feat_free(feat);
	free(t);
}
END_TEST

START_TEST(feat_empty)
{
	static const char *const texts[] = {
		"No features", "Features:\nEnd", "", "\n",
	};
	char	**feat;
	char	*t;
	size_t	 i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		t = exact(texts[i]);
		feat = NULL;
		ck_assert_int_eq(ftp_parse_feat(t, &feat), 0);
		ck_assert_ptr_nonnull(feat);
		ck_assert_ptr_null(feat[0]);
		ck_assert(!ftp_feat_has(feat, "MDTM"));
		ftp_feat_free(feat);
		free(t);
	}
	ftp_feat_free(NULL);
}
END_TEST

Suite *
ftp_parse_suite(void)
{
	Suite	*s = suite_create("ftp_parse");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, pasv_valid);
	tcase_add_test(tc, pasv_invalid);
	tcase_add_test(tc, epsv_valid);
	tcase_add_test(tc, epsv_invalid);
	tcase_add_test(tc, pwd_variants);
	tcase_add_test(tc, size_valid);
	tcase_add_test(tc, size_invalid);
	tcase_add_test(tc, mdtm_valid);
	tcase_add_test(tc, mdtm_invalid);
	tcase_add_test(tc, size150_cases);
	tcase_add_test(tc, feat_list);
	tcase_add_test(tc, feat_empty);
	suite_add_tcase(s, tc);
	return s;
}
