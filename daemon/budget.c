#include "config.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "budget.h"
#include "util.h"

static struct budget	*budgets;
static size_t		 fds_total;
static size_t		 fds_max = 128;

void
budget_init(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fds_max = rl.rlim_cur / BUDGET_FDS_SHARE;
	if (fds_max < 16)
		fds_max = 16;
}

struct budget *
budget_get(uid_t uid)
{
	struct budget	*b;

	for (b = budgets; b; b = b->next)
		if (b->uid == uid) {
			b->refs++;
			return b;
		}
	b = xcalloc(1, sizeof(*b));
	b->uid = uid;
	b->refs = 1;
	b->next = budgets;
	budgets = b;
	return b;
}

void
budget_put(struct budget *b)
{
	struct budget	**pp;

	if (--b->refs > 0)
		return;
	for (pp = &budgets; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	free(b);
}

static size_t
room(size_t used, size_t max)
{
	return used < max ? max - used : 0;
}

size_t
budget_fd_room(const struct budget *b, size_t client_fds)
{
	size_t	r = room(client_fds, CLIENT_MAX_PENDING_FDS);

	if (r > room(b->fds, UID_MAX_PENDING_FDS))
		r = room(b->fds, UID_MAX_PENDING_FDS);
	if (r > room(fds_total, fds_max))
		r = room(fds_total, fds_max);
	return r;
}

void
budget_fds_add(struct budget *b, size_t n)
{
	b->fds += n;
	fds_total += n;
}

void
budget_fds_sub(struct budget *b, size_t n)
{
	b->fds -= n;
	fds_total -= n;
}

bool
budget_uid_open(const struct budget *b)
{
	return b->heavy < UID_MAX_HEAVY && b->out <= UID_MAX_OUT;
}

size_t
budget_fds_total(void)
{
	return fds_total;
}

size_t
budget_fds_max(void)
{
	return fds_max;
}
