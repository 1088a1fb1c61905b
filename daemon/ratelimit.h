/*
 * Rate limits: a token bucket per limited job and per limited session,
 * filled by the loop's clock. A transfer moves what every bucket it is
 * under allows, then waits on a timer (never busy) for the next quantum.
 */
#ifndef FTPA_RATELIMIT_H
#define FTPA_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_MAX	2147483647	/* bytes/s: the largest limit taken */

struct ratelimit {
	int64_t		 rate;		/* bytes/s; 0: no limit */
	double		 tokens;	/* bytes that may move now (< 0: owed) */
	double		 last;		/* when tokens was last filled */
};

/* rate 0 turns the limit off; a new rate starts from an empty bucket. */
void	 rl_set(struct ratelimit *, int64_t rate, double now);
static inline bool
rl_on(const struct ratelimit *rl)
{
	return rl != NULL && rl->rate > 0;
}
/* Bytes that may move now (INT64_MAX without a limit). */
int64_t	 rl_avail(struct ratelimit *, double now);
/* n bytes moved: taken from the bucket, which may owe them. */
void	 rl_take(struct ratelimit *, int64_t n);
/* The least worth waiting for: small transfers of many wake-ups are not. */
int64_t	 rl_quantum(const struct ratelimit *);
/* Seconds from now until want bytes may move (0: at once). */
double	 rl_wait(const struct ratelimit *, int64_t want);

#endif
