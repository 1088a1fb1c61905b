/*
 * What each uid holds in the agent, so that no local user can take the
 * service away from the others: descriptors received for requests not yet
 * dispatched, calls running, and reply bytes waiting for the client to
 * read them. control.c and rpc.c keep the counts; the limits below say
 * when a connection stops being served until its holdings go down.
 *
 * Worst case per uid: UID_MAX_PENDING_FDS descriptors, UID_MAX_OUT of
 * unread replies plus UID_MAX_HEAVY replies being built (a listing is at
 * most 64 MiB of server text), whatever its number of connections.
 */
#ifndef FTPA_BUDGET_H
#define FTPA_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Descriptors that came with request bytes not yet dispatched. A message
 * carries at most 4; what passes these limits is dropped by the kernel as
 * it is received (MSG_CTRUNC) and the request is refused with "limit". */
#define CLIENT_MAX_PENDING_FDS	32
#define UID_MAX_PENDING_FDS	64
/* In all: the descriptor limit divided by this (a reserve stays free). */
#define BUDGET_FDS_SHARE	8

/* Calls running for one connection: the next request waits (it is not
 * read) until one ends. Heavy calls build big replies: fs.list, inline
 * transfers. */
#define CLIENT_MAX_CALLS	64
#define CLIENT_MAX_HEAVY	4
#define UID_MAX_HEAVY		16
/* Inline upload data ("data") held by a uid's unfinished jobs: a put
 * with wait false holds its data until it has run. */
#define UID_MAX_INLINE		(64u * 1024 * 1024)
/* Unread replies of all of a uid's connections: beyond it, none of them
 * starts new work until the client reads. */
#define UID_MAX_OUT		(64u * 1024 * 1024)

struct budget {
	uid_t		 uid;
	int		 refs;
	unsigned	 conns;		/* client connections */
	unsigned	 fds;		/* pending descriptors */
	unsigned	 heavy;		/* heavy calls running */
	size_t		 out;		/* reply bytes queued */
	struct budget	*next;
};

/* The uid's record, created on first use; every budget_get is matched by
 * a budget_put. */
struct budget	*budget_get(uid_t);
void		 budget_put(struct budget *);
/* Sets the limit in all from the process's descriptor limit. */
void		 budget_init(void);
/* How many more descriptors may be received now for a connection that
 * holds client_fds of them. */
size_t		 budget_fd_room(const struct budget *, size_t client_fds);
void		 budget_fds_add(struct budget *, size_t n);
void		 budget_fds_sub(struct budget *, size_t n);
/* Whether the uid may start more heavy work / queue more replies. */
bool		 budget_uid_open(const struct budget *);
/* For agent.stats and tests. */
size_t		 budget_fds_total(void);
size_t		 budget_fds_max(void);

#endif
