/*
 * Tree jobs (transfer.tree): a remote directory tree and a local one
 * compared and made equal in one direction, as one job. The walk lists
 * each directory once, on both sides; the files move as steps of the job
 * (job_new_step), up to the tree's parallelism. The agent never touches
 * the local tree itself: it asks the connection that started the tree
 * (ask.c, local.* in docs/protocol.md), which opens, creates and removes
 * beneath the directory its caller chose.
 */
#ifndef FTPA_TREE_H
#define FTPA_TREE_H

#include <jansson.h>

#include "tree_plan.h"
#include "wire.h"

struct client;
struct job;
struct session;
struct tree;

/* A tree for the job to come: opts are taken (cleared), request_id is
 * the transfer.tree call's id (a reference is kept; NULL: none). */
struct tree	*tree_new(struct client *, json_t *request_id,
		    struct tree_opts *opts);
/* The job that runs it (job_new_tree calls this). */
void		 tree_attach(struct tree *, struct job *);
/* Starts the walk (job_start). */
void		 tree_start(struct tree *);
/* Stops: nothing new starts, what runs is cancelled, the job ends
 * cancelled with why once nothing runs. */
void		 tree_cancel(struct tree *, const char *why);
void		 tree_free(struct tree *);
/* The tree member of the job object. */
void		 tree_wire(const struct tree *, struct wire_tree *);
/* The connection is gone: its trees are cancelled. */
void		 tree_client_gone(struct client *);

#endif
