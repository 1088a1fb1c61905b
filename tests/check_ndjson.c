/* Unit tests for protocol/ndjson.c */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ndjson.h"

Suite *ndjson_suite(void);

#define MAXMSG	16

struct collected {
	char	*msgs[MAXMSG];
	size_t	 lens[MAXMSG];
	int	 n;
	int	 toobig;
};

static void
drain(struct ndjson *nj, struct collected *c)
{
	enum ndjson_status st;
	char *line;
	size_t len;

	while ((st = ndjson_next(nj, &line, &len)) == NDJSON_LINE) {
		ck_assert_int_lt(c->n, MAXMSG);
		ck_assert_uint_eq(strlen(line), len);	/* NUL-terminated */
		c->msgs[c->n] = malloc(len + 1);
		ck_assert_ptr_nonnull(c->msgs[c->n]);
		memcpy(c->msgs[c->n], line, len + 1);
		c->lens[c->n] = len;
		c->n++;
	}
	if (st == NDJSON_TOOBIG)
		c->toobig = 1;
}

static void
collected_free(struct collected *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		free(c->msgs[i]);
	memset(c, 0, sizeof(*c));
}

/* Feeds `in` in pieces of `step` bytes, pulling messages after each. */
static void
run(const char *in, size_t inlen, size_t step, size_t max,
    struct collected *c)
{
	struct ndjson nj;
	size_t off, n;

	memset(c, 0, sizeof(*c));
	ndjson_init(&nj, max);
	for (off = 0; off < inlen; off += n) {
		n = inlen - off < step ? inlen - off : step;
		if (ndjson_feed(&nj, in + off, n) == -1) {
			drain(&nj, c);
			ck_assert_int_eq(c->toobig, 1);
			break;
		}
		drain(&nj, c);
	}
	ndjson_free(&nj);
}

START_TEST(test_whole_vs_bytewise)
{
	static const char in[] =
	    "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":\"x y\"}\npartial";
	struct collected whole, bytes;
	int i;

	run(in, sizeof(in) - 1, sizeof(in), 1024, &whole);
	run(in, sizeof(in) - 1, 1, 1024, &bytes);
	ck_assert_int_eq(whole.n, 4);
	ck_assert_int_eq(bytes.n, whole.n);
	ck_assert_int_eq(whole.toobig, 0);
	ck_assert_int_eq(bytes.toobig, 0);
	for (i = 0; i < whole.n; i++) {
		ck_assert_uint_eq(whole.lens[i], bytes.lens[i]);
		ck_assert_str_eq(whole.msgs[i], bytes.msgs[i]);
	}
	ck_assert_str_eq(whole.msgs[0], "{\"a\":1}");
	ck_assert_str_eq(whole.msgs[1], "{\"b\":2}\r");	/* '\r' kept */
	ck_assert_str_eq(whole.msgs[2], "");
	ck_assert_str_eq(whole.msgs[3], "{\"c\":\"x y\"}");
	collected_free(&whole);
	collected_free(&bytes);
}
END_TEST

START_TEST(test_every_split)
{
	static const char in[] = "one\ntwo\n\nthree\n";
	struct collected c;
	size_t step;

	for (step = 1; step <= sizeof(in); step++) {
		run(in, sizeof(in) - 1, step, 64, &c);
		ck_assert_int_eq(c.n, 4);
		ck_assert_str_eq(c.msgs[0], "one");
		ck_assert_str_eq(c.msgs[1], "two");
		ck_assert_str_eq(c.msgs[2], "");
		ck_assert_str_eq(c.msgs[3], "three");
		collected_free(&c);
	}
}
END_TEST

START_TEST(test_pending_and_again)
{
	struct ndjson nj;
	char *line;
	size_t len;

	ndjson_init(&nj, 100);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	ck_assert_int_eq(ndjson_feed(&nj, "abc", 3), 0);
	ck_assert_uint_eq(ndjson_pending(&nj), 3);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	ck_assert_int_eq(ndjson_feed(&nj, "d\nef", 4), 0);
	ck_assert_uint_eq(ndjson_pending(&nj), 7);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 4);
	ck_assert_str_eq(line, "abcd");
	ck_assert_uint_eq(ndjson_pending(&nj), 2);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	ck_assert_int_eq(ndjson_feed(&nj, "", 0), 0);
	ck_assert_int_eq(ndjson_feed(&nj, "\n", 1), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "ef");
	ck_assert_uint_eq(ndjson_pending(&nj), 0);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_embedded_nul_kept)
{
	struct ndjson nj;
	char *line;
	size_t len;

	/* The framer is byte-transparent; JSON parsing refuses the NUL. */
	ndjson_init(&nj, 100);
	ck_assert_int_eq(ndjson_feed(&nj, "a\0b\n", 4), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(line, "a\0b", 4), 0);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_exactly_at_limit)
{
	struct ndjson nj;
	char buf[33], *line;
	size_t len;

	memset(buf, 'x', 32);
	buf[32] = '\n';
	ndjson_init(&nj, 32);
	/* 32 bytes without a newline are still acceptable... */
	ck_assert_int_eq(ndjson_feed(&nj, buf, 32), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	/* ...and complete a message of exactly the limit. */
	ck_assert_int_eq(ndjson_feed(&nj, "\n", 1), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 32);
	/* Same in one piece. */
	ck_assert_int_eq(ndjson_feed(&nj, buf, 33), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_limit_plus_one_with_newline)
{
	struct ndjson nj;
	char buf[34], *line;
	size_t len;

	memset(buf, 'x', 33);
	buf[33] = '\n';
	ndjson_init(&nj, 32);
	ck_assert_int_eq(ndjson_feed(&nj, buf, 34), -1);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	/* The stream stays refused. */
	ck_assert_int_eq(ndjson_feed(&nj, "{}\n", 3), -1);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_limit_plus_one_bytewise)
{
	struct ndjson nj;
	char *line;
	size_t len;
	int i;

	ndjson_init(&nj, 32);
	for (i = 0; i < 32; i++) {
		ck_assert_int_eq(ndjson_feed(&nj, "x", 1), 0);
		ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	}
	/* Byte 33 without a newline: refused at once. */
	ck_assert_int_eq(ndjson_feed(&nj, "x", 1), -1);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_messages_before_toobig_delivered)
{
	struct ndjson nj;
	char buf[64], *line;
	size_t len;

	memcpy(buf, "ok\n", 3);
	memset(buf + 3, 'y', 40);
	ndjson_init(&nj, 32);
	ck_assert_int_eq(ndjson_feed(&nj, buf, 43), -1);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "ok");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ck_assert_uint_eq(ndjson_pending(&nj), 0);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_two_mib_without_newline)
{
	struct ndjson nj;
	char *chunk, *line;
	size_t len, fed = 0;
	int r = 0;

	chunk = malloc(65536);
	ck_assert_ptr_nonnull(chunk);
	memset(chunk, 'z', 65536);
	ndjson_init(&nj, NDJSON_DEFAULT_MAX);
	while (fed < 2 * 1024 * 1024) {
		if ((r = ndjson_feed(&nj, chunk, 65536)) == -1)
			break;
		fed += 65536;
		ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	}
	ck_assert_int_eq(r, -1);
	/* Refused at the 17th chunk, with never more than the limit held. */
	ck_assert_uint_eq(fed, NDJSON_DEFAULT_MAX);
	ck_assert_uint_le(nj.len - nj.start, NDJSON_DEFAULT_MAX);
	ck_assert_uint_le(nj.cap, NDJSON_DEFAULT_MAX);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ndjson_free(&nj);

	/* One 2 MiB feed is not copied in either. */
	free(chunk);
	chunk = malloc(2 * 1024 * 1024);
	ck_assert_ptr_nonnull(chunk);
	memset(chunk, 'z', 2 * 1024 * 1024);
	ndjson_init(&nj, NDJSON_DEFAULT_MAX);
	ck_assert_int_eq(ndjson_feed(&nj, chunk, 2 * 1024 * 1024), -1);
	ck_assert_uint_le(nj.cap, NDJSON_DEFAULT_MAX);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ndjson_free(&nj);
	free(chunk);
}
END_TEST

START_TEST(test_bounded_memory)
{
	struct ndjson nj;
	char msg[101], *line;
	size_t len, maxcap = 0;
	int i, got = 0;

	/* Many messages fed in pieces that straddle message boundaries:
	 * the buffer is compacted instead of growing with the stream. */
	memset(msg, 'm', 100);
	msg[100] = '\n';
	ndjson_init(&nj, 200);
	for (i = 0; i < 10000; i++) {
		ck_assert_int_eq(ndjson_feed(&nj, msg, 37), 0);
		ck_assert_int_eq(ndjson_feed(&nj, msg + 37, 64), 0);
		while (ndjson_next(&nj, &line, &len) == NDJSON_LINE) {
			ck_assert_uint_eq(len, 100);
			got++;
		}
		if (nj.cap > maxcap)
			maxcap = nj.cap;
	}
	ck_assert_int_eq(got, 10000);
	ck_assert_uint_le(maxcap, 4096);
	ndjson_free(&nj);
}
END_TEST

START_TEST(test_shrinks_after_big_message)
{
	struct ndjson nj;
	char *big, *line;
	size_t len;

	big = malloc(500001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'b', 500000);
	big[500000] = '\n';
	ndjson_init(&nj, NDJSON_DEFAULT_MAX);
	ck_assert_int_eq(ndjson_feed(&nj, big, 500001), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_uint_eq(len, 500000);
	ck_assert_int_eq(ndjson_feed(&nj, "{}\n", 3), 0);
	ck_assert_uint_le(nj.cap, 64 * 1024);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "{}");
	ndjson_free(&nj);
	free(big);
}
END_TEST

START_TEST(test_many_per_feed)
{
	struct collected c;
	static const char in[] = "1\n2\n3\n4\n5\n6\n7\n8\n";

	run(in, sizeof(in) - 1, sizeof(in), 4, &c);
	ck_assert_int_eq(c.n, 8);
	ck_assert_str_eq(c.msgs[7], "8");
	collected_free(&c);
}
END_TEST

/*
 * Resync mode: feeds `in` in pieces of `step` bytes and writes what next()
 * gave into out, "L:line" and "S:head" joined by '|'.
 */
static void
run_resync(const char *in, size_t step, size_t max, char *out, size_t outsz)
{
	struct ndjson nj;
	enum ndjson_status st;
	size_t off, n, inlen = strlen(in), len;
	char *line;

	out[0] = '\0';
	ndjson_init(&nj, max);
	ndjson_set_resync(&nj);
	for (off = 0; off < inlen; off += n) {
		n = inlen - off < step ? inlen - off : step;
		ck_assert_int_eq(ndjson_feed(&nj, in + off, n), 0);
		while ((st = ndjson_next(&nj, &line, &len)) != NDJSON_AGAIN) {
			ck_assert(st == NDJSON_LINE || st == NDJSON_SKIPPED);
			ck_assert_uint_eq(strlen(line), len);
			if (out[0] != '\0')
				strncat(out, "|", outsz - strlen(out) - 1);
			strncat(out, st == NDJSON_LINE ? "L:" : "S:",
			    outsz - strlen(out) - 1);
			strncat(out, line, outsz - strlen(out) - 1);
		}
		ck_assert(!ndjson_waiting(&nj) || ndjson_pending(&nj) > 0);
	}
	ndjson_free(&nj);
}

/* an over-long message is reported in its place and the stream goes on,
 * however the bytes arrive */
START_TEST(test_resync_goes_on)
{
	static const char in[] = "ok\n"
	    "{\"id\":1,\"x\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"}\n"
	    "next\n"
	    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n"
	    "\n"
	    "last\n";
	static const char want[] = "L:ok|S:{\"id\":1,\"x\":\"yyyyyyyyyyyyyyyy"
	    "yyyy|L:next|S:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz|L:|L:last";
	char out[512];
	size_t step;

	for (step = 1; step <= sizeof(in); step++) {
		run_resync(in, step, 32, out, sizeof(out));
		ck_assert_msg(strcmp(out, want) == 0, "step %zu: %s", step, out);
	}
	/* one byte over the limit is over; at the limit is not */
	run_resync("0123456789\n01234567890\nx\n", 1, 10, out, sizeof(out));
	ck_assert_str_eq(out, "L:0123456789|S:01234567890|L:x");
}
END_TEST

START_TEST(test_resync_last_dropped_and_flood)
{
	struct ndjson nj;
	char buf[64 * 2], *line;
	size_t len;
	int i;

	ndjson_init(&nj, 8);
	ndjson_set_resync(&nj);
	ck_assert_int_eq(ndjson_feed(&nj, "a\nbbbbbbbbbbbb", 14), 0);
	ck_assert_int_eq(ndjson_last_dropped(&nj), 1);
	ck_assert_uint_eq(ndjson_skips(&nj), 1);
	ck_assert_uint_eq(ndjson_pending(&nj), 2);	/* "a\n" only */
	ck_assert_int_eq(ndjson_feed(&nj, "bb\nc", 4), 0);
	ck_assert_int_eq(ndjson_last_dropped(&nj), 0);
	ck_assert_int_eq(ndjson_feed(&nj, "\n", 1), 0);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "a");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_SKIPPED);
	ck_assert_str_eq(line, "bbbbbbbbb");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "c");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_AGAIN);
	ck_assert(!ndjson_waiting(&nj));
	ck_assert_uint_eq(ndjson_unkept(&nj), UINT64_MAX);

	/* bytes kept by one feed and dropped by the next: from where */
	ck_assert_int_eq(ndjson_feed(&nj, "d\neeee", 6), 0);
	ck_assert_uint_eq(ndjson_unkept(&nj), UINT64_MAX);
	ck_assert_int_eq(ndjson_feed(&nj, "eeeee\nf\n", 8), 0);
	ck_assert_uint_eq(ndjson_unkept(&nj), 2 + 2 + 2);	/* a c d: b went */
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "d");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_SKIPPED);
	ck_assert_str_eq(line, "eeeeeeeee");
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_LINE);
	ck_assert_str_eq(line, "f");

	/* skips nobody collects are bounded: then the stream is unusable */
	for (i = 0; i < 64; i++)
		memcpy(buf + 2 * i, "x", 1), buf[2 * i + 1] = 'x';
	for (i = 0; i < NDJSON_MAX_SKIPS; i++) {
		ck_assert_int_eq(ndjson_feed(&nj, buf, 9), 0);
		ck_assert_int_eq(ndjson_feed(&nj, "\n", 1), 0);
	}
	ck_assert_uint_eq(ndjson_skips(&nj), NDJSON_MAX_SKIPS);
	ck_assert_int_eq(ndjson_feed(&nj, buf, 9), -1);
	for (i = 0; i < NDJSON_MAX_SKIPS; i++)
		ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_SKIPPED);
	ck_assert_int_eq(ndjson_next(&nj, &line, &len), NDJSON_TOOBIG);
	ndjson_free(&nj);
}
END_TEST

Suite *
ndjson_suite(void)
{
	Suite *s = suite_create("ndjson");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_whole_vs_bytewise);
	tcase_add_test(tc, test_every_split);
	tcase_add_test(tc, test_pending_and_again);
	tcase_add_test(tc, test_embedded_nul_kept);
	tcase_add_test(tc, test_exactly_at_limit);
	tcase_add_test(tc, test_limit_plus_one_with_newline);
	tcase_add_test(tc, test_limit_plus_one_bytewise);
	tcase_add_test(tc, test_messages_before_toobig_delivered);
	tcase_add_test(tc, test_two_mib_without_newline);
	tcase_add_test(tc, test_bounded_memory);
	tcase_add_test(tc, test_shrinks_after_big_message);
	tcase_add_test(tc, test_many_per_feed);
	tcase_add_test(tc, test_resync_goes_on);
	tcase_add_test(tc, test_resync_last_dropped_and_flood);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
