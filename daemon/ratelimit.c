/*
 * The token bucket of ratelimit.h. The bucket holds at most a tenth of a
 * second's bytes, so a transfer that waited does not burst past its rate;
 * a read that took more than the bucket had leaves it owing, and the next
 * wait pays that back: over a transfer the rate is exact.
 */
#include "config.h"

#include <stdint.h>

#include "ratelimit.h"

#define RL_BURST_S	0.1	/* the bucket's depth, in seconds of rate */
#define RL_QUANTUM_MIN	512
#define RL_QUANTUM_MAX	(256 * 1024)

void
rl_set(struct ratelimit *rl, int64_t rate, double now)
{
	rl->rate = rate > 0 ? rate : 0;
	rl->tokens = 0;
	rl->last = now;
}

static double
rl_depth(const struct ratelimit *rl)
{
	double	d = (double)rl->rate * RL_BURST_S;

	/* room for at least one quantum, or a slow limit would never wake */
	return d < (double)rl_quantum(rl) ? (double)rl_quantum(rl) : d;
}

int64_t
rl_avail(struct ratelimit *rl, double now)
{
	if (!rl_on(rl))
		return INT64_MAX;
	if (now > rl->last) {
		rl->tokens += (now - rl->last) * (double)rl->rate;
		if (rl->tokens > rl_depth(rl))
			rl->tokens = rl_depth(rl);
		rl->last = now;
	}
	return rl->tokens >= 1 ? (int64_t)rl->tokens : 0;
}

void
rl_take(struct ratelimit *rl, int64_t n)
{
	if (rl_on(rl))
		rl->tokens -= (double)n;
}

int64_t
rl_quantum(const struct ratelimit *rl)
{
	int64_t	q;

	if (!rl_on(rl))
		return 1;
	q = rl->rate / 50;	/* 50 wake-ups a second at most */
	if (q < RL_QUANTUM_MIN)	/* fewer for slow limits, but ten at least */
		q = rl->rate / 10 < RL_QUANTUM_MIN ? rl->rate / 10 :
		    RL_QUANTUM_MIN;
	if (q < 1)
		q = 1;
	if (q > RL_QUANTUM_MAX)
		q = RL_QUANTUM_MAX;
	return q;
}

double
rl_wait(const struct ratelimit *rl, int64_t want)
{
	double	missing;

	if (!rl_on(rl))
		return 0;
	missing = (double)want - rl->tokens;
	/* a little more, so that rounding never leaves it a hair short */
	return missing > 0 ? (missing + 0.001) / (double)rl->rate : 0;
}
