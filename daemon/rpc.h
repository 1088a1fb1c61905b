/*
 * JSON-RPC method dispatch. A call is answered at once or kept pending
 * (transfers, session.open, job.wait) and answered later; a pending call
 * whose client went away is told through on_gone and its reply dropped.
 */
#ifndef FTPA_RPC_H
#define FTPA_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "ftpa_error.h"

struct budget;
struct client;
struct session;
struct op_error;

struct rpc_call {
	struct client	*client;	/* NULL once the client is gone */
	json_t		*id;
	uid_t		 uid;
	int		*fds;		/* only while the method runs: take with */
	size_t		 nfds;		/* fds[i] = -1; the rest is closed after */
	bool		 fds_dropped;	/* some were refused (budget.h) */
	bool		 heavy;		/* builds a big reply (budget.h): set
					   before rpc_defer */
	bool		 pending;
	struct session	*session;	/* methods with M_SESSION: the one named,
					   the caller's; only while the handler
					   runs (it may close later) */
	struct budget	*budget;	/* its uid's, while pending */
	void		(*on_gone)(struct rpc_call *, void *arg);
	void		*gone_arg;
	struct rpc_call	*next;		/* the client's pending calls */
};

void	 rpc_init(void);
/* One message from a client, with the fds that came with it (taken);
 * fds_dropped: more came, and were refused. */
void	 rpc_handle(struct client *, char *line, size_t len, int *fds,
	    size_t nfds, bool fds_dropped);
/* The client is gone: pending calls are orphaned. */
void	 rpc_client_gone(struct client *);
/* Keeps the call for a later answer; it counts as running for its client
 * and uid until it ends (budget.h). */
void	 rpc_defer(struct rpc_call *);
/* Answer and free the call. */
void	 rpc_reply(struct rpc_call *, json_t *result /* stolen */);
void	 rpc_error(struct rpc_call *, int code, const char *kind,
	    json_t *extra /* stolen, may be NULL */, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
void	 rpc_fail(struct rpc_call *, enum ftpa_err, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 rpc_fail_op(struct rpc_call *, const struct op_error *,
	    json_t *extra /* stolen, may be NULL */);
/* agent.stats: the bytes a finished job moved, down (in) or up (out). */
void	 rpc_count_in(unsigned long long);
void	 rpc_count_out(unsigned long long);

#endif
