/*
 * The token bucket of daemon/ratelimit.c on a simulated clock: a reader
 * that takes what the bucket allows and otherwise sleeps for as long as
 * rl_wait says moves rate × time within 1%, never wakes for nothing, and
 * a read larger than the bucket is paid back by the next wait.
 */
#include <config.h>

#include <stdint.h>

#include <check.h>

#include "ratelimit.h"

Suite	*ratelimit_suite(void);

/*
 * A reader under rl for `secs` simulated seconds, reading at most `chunk`
 * bytes a turn. Returns the bytes moved; *wakeups counts the turns and
 * *idle the turns that moved nothing.
 */
static int64_t
simulate(struct ratelimit *rl, double secs, int64_t chunk, int *wakeups,
    int *idle)
{
	double	now = 0, w;
	int64_t	moved = 0, n;

	rl_set(rl, rl->rate, now);
	*wakeups = *idle = 0;
	while (now < secs) {
		(*wakeups)++;
		n = rl_avail(rl, now);
		if (n < rl_quantum(rl)) {
			w = rl_wait(rl, rl_quantum(rl));
			ck_assert_msg(w > 0, "a wait of nothing at %g s", now);
			now += w;
			(*idle)++;
			continue;
		}
		if (n > chunk)
			n = chunk;
		rl_take(rl, n);
		moved += n;
	}
	return moved;
}

START_TEST(test_rate_is_kept)
{
	static const int64_t rates[] = { 100, 1000, 65536, 1000000, 10485760,
	    RATE_MAX };
	struct ratelimit rl = { 0 };
	int64_t	moved, want;
	int	wakeups, idle;

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		rl.rate = rates[i];
		moved = simulate(&rl, 10.0, 256 * 1024, &wakeups, &idle);
		want = rates[i] * 10;
		ck_assert_msg(moved >= want * 0.99 && moved <= want * 1.01 +
		    rl_quantum(&rl), "rate %lld: %lld bytes in 10 s",
		    (long long)rates[i], (long long)moved);
		/* every wait is for a whole quantum: no wake-up for less */
		ck_assert_msg(idle <= moved / rl_quantum(&rl) + 10,
		    "rate %lld: %d waits", (long long)rates[i], idle);
		/* and no more than 50 a second below the largest quantum */
		if (rates[i] <= 50 * 256 * 1024)
			ck_assert_msg(idle <= 10 * 50 + 10, "rate %lld: %d "
			    "waits", (long long)rates[i], idle);
	}
}
END_TEST

START_TEST(test_debt_is_paid)
{
	struct ratelimit rl = { 0 };

	rl_set(&rl, 1000, 0);
	ck_assert_int_eq(rl_avail(&rl, 0), 0);
	/* 1 s of tokens, but the bucket holds one quantum at most */
	ck_assert_int_eq(rl_avail(&rl, 1.0), rl_quantum(&rl));
	/* a TLS record larger than what was there: owed */
	rl_take(&rl, 16384);
	ck_assert_int_eq(rl_avail(&rl, 1.0), 0);
	ck_assert(rl_wait(&rl, rl_quantum(&rl)) >= (16384.0 - 512) / 1000);
	ck_assert_int_eq(rl_avail(&rl, 1.0 + 15.0), 0);
	ck_assert_int_gt(rl_avail(&rl, 1.0 + 16.4), 0);
}
END_TEST

START_TEST(test_no_limit)
{
	struct ratelimit rl = { 0 };

	rl_set(&rl, 0, 5);
	ck_assert(!rl_on(&rl));
	ck_assert(!rl_on(NULL));
	ck_assert(rl_avail(&rl, 6) == INT64_MAX);
	rl_take(&rl, 1 << 30);
	ck_assert(rl_avail(&rl, 6) == INT64_MAX);
	ck_assert(rl_wait(&rl, 1 << 20) == 0);
	/* negative rates are none */
	rl_set(&rl, -5, 0);
	ck_assert(!rl_on(&rl));
}
END_TEST

START_TEST(test_clock_going_back)
{
	struct ratelimit rl = { 0 };

	rl_set(&rl, 1000000, 10);
	ck_assert_int_gt(rl_avail(&rl, 10.05), 0);
	/* an earlier time adds nothing and takes nothing */
	ck_assert_int_eq(rl_avail(&rl, 3), rl_avail(&rl, 10.05));
	/* the bucket's depth: a tenth of a second */
	ck_assert_int_eq(rl_avail(&rl, 1000), 100000);
}
END_TEST

Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rate_is_kept);
	tcase_add_test(tc, test_debt_is_paid);
	tcase_add_test(tc, test_no_limit);
	tcase_add_test(tc, test_clock_going_back);
	suite_add_tcase(s, tc);
	return s;
}
