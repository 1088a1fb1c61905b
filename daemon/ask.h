/*
 * Requests from the agent to a client (local.* for trees): sent on the
 * client's connection with ids of the agent's own ("a1", "a2", ...),
 * answered by a response line that may carry descriptors. Each has a
 * deadline; a client that goes away fails its requests.
 */
#ifndef FTPA_ASK_H
#define FTPA_ASK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "ftp.h"

struct client;
struct ask;

/*
 * How a request ended: err NULL and result (borrowed) with the fds that
 * came with the answer (taken: the callback must close or keep each one
 * and set it to -1; the rest are closed after it), or err set (a client
 * error reply, the deadline, the client gone) and no result.
 */
typedef void (*ask_cb)(const struct op_error *err, json_t *result, int *fds,
    size_t nfds, void *arg);

/* Sends method with params (stolen) to c; cb runs once, never inside
 * this call. */
struct ask	*ask_send(struct client *c, const char *method, json_t *params,
		    double timeout, ask_cb cb, void *arg);
/* The owner goes away: cb will not run (a late answer is dropped). */
void		 ask_forget(struct ask *);
/* A response from c (rpc.c): true when it answered one of ours. */
bool		 ask_answer(struct client *c, json_t *id, json_t *result,
		    json_t *error, int *fds, size_t nfds);
/* c is gone: its requests fail (kind cancelled). */
void		 ask_client_gone(struct client *c);

#endif
