/*
 * What tree.c (the items, the queues, the scheduler, the public face)
 * and tree_steps.c (each step of an item: listings, the plan, a file's
 * open, transfer and commit, deletions) share. Nothing else sees it.
 */
#ifndef FTPA_TREE_PRIV_H
#define FTPA_TREE_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "ask.h"
#include "ftp.h"
#include "job.h"
#include "tree.h"

#define TREE_ASK_TIMEOUT	30.0	/* seconds for the client to answer */
#define TREE_LIST_TRIES		3	/* a listing lost to the network */

enum titem_kind { TI_DIR, TI_FILE, TI_LINK, TI_DELETE };

/* The step an item is in; one at a time, each named. */
enum titem_step {
	TS_QUEUED,
	TS_LIST,	/* dir: its listings, remote and local */
	TS_MKDIR,	/* dir: making it on the destination */
	TS_OPEN,	/* file: local.open */
	TS_READY,	/* file: opened, waiting for a transfer slot */
	TS_XFER,	/* file: the transfer (a job step) */
	TS_COMMIT,	/* file, get: local.commit */
	TS_MTIME,	/* file, put: MFMT */
	TS_CHMOD,	/* file, put: SITE CHMOD */
	TS_DELETE,	/* delete: local.remove, or DELE/RMD */
	TS_LINK,	/* link: local.symlink */
	TS_LAST
};

enum tree_phase {
	TREE_IDLE,	/* not started */
	TREE_RUN,	/* walking and transferring */
	TREE_DELETE,	/* removing what the source lacks */
	TREE_STOPPING,	/* cancelled: waiting for what runs */
	TREE_ENDED,
	TREE_PHASE_LAST
};

struct tree;

/* A directory's ancestors by their MLSD "unique" facts (those known):
 * a directory that is its own ancestor is a loop (a server that shows
 * a link to a parent as a directory). Shared by reference. */
struct tchain {
	uint64_t	 unique;
	struct tchain	*up;
	int		 refs;
};

struct titem {
	struct tree	*t;
	enum titem_kind	 kind;
	enum titem_step	 step;
	char		*rel;		/* below the root (bytes); "" the root */
	int		 depth;
	struct ftp_entry src;		/* file: the source's entry; delete:
					   what is removed */
	bool		 dst_missing;	/* dir: the destination has none */
	bool		 probe;		/* dir: a link followed, which may be
					   a file (its listing says) */
	int		 links;		/* links followed on its path */
	struct tchain	*chain;		/* dir: itself and its ancestors */
	struct ftp_entry dst;		/* probe: the destination's entry of
					   that name (name NULL: none) */
	/* dir: the listings */
	int		 waiting;	/* listings not back yet */
	struct ftp_op	*list_op;
	int		 list_tries;
	struct ftp_entry *rent, *lent;	/* remote, local */
	size_t		 nrent, nlent;
	bool		 coarse;	/* remote times from LIST */
	char		*after;		/* local.list: the next page's start */
	/* what runs */
	struct ask	*ask;
	struct fsop	*fsop;
	struct job	*xfer;
	struct job_hooks hooks;
	int		 fd;		/* local.open's, until the step takes it */
	int64_t		 local_size;	/* ... and the size it gave */
	int64_t		 offset;	/* put: where an upload goes on
					   (tree_put_resume_at) */
	int64_t		 bytes;		/* the step's bytes so far */
	struct titem	*next;
};

struct tq {
	struct titem	*head, *tail;
	size_t		 n;
};

struct tree {
	struct tree_opts o;
	struct job	*job;
	struct client	*client;	/* serves the local side */
	json_t		*request_id;
	enum tree_phase	 phase;
	struct tq	 dirs, fileq, deletes;
	struct titem	*active;	/* items with a step in flight */
	int		 nactive, nactive_dirs;
	bool		 kicking, kick_again;
	/* counts */
	int64_t		 files, files_total, ndirs, skipped, deleted, failed;
	int64_t		 entries;
	int64_t		 bytes_done, bytes_total;
	struct wire_tree_failure failures[WIRE_TREE_FAILURES_MAX];
	size_t		 nfailures;
	struct op_error	 first_err;
	struct op_error	 stop_err;	/* why it was cancelled */
	struct tree	*next;
};

/* tree.c */
struct titem	*item_new(struct tree *, enum titem_kind, const char *rel,
		    int depth);
void		 item_done(struct titem *);
void		 tree_failure(struct tree *, const char *rel,
		    const struct op_error *);
void		 item_fail(struct titem *, const struct op_error *);
void		 item_failf(struct titem *, enum ftpa_err, const char *msg);
void		 item_ask(struct titem *, const char *method, json_t *extra,
		    ask_cb);
void		 set_step(struct titem *, enum titem_step);
void		 tq_push(struct tq *, struct titem *);
void		 tree_item(struct tree *, const char *action, const char *rel,
		    int64_t size, const struct op_error *);
void		 tree_progress(struct tree *);
struct tchain	*tchain_push(struct tchain *up, uint64_t unique);
bool		 tchain_has(const struct tchain *, uint64_t unique);
void		 tree_abort(struct tree *, enum ftpa_err, const char *msg);
void		 tree_kick(struct tree *);

/* tree_steps.c */
void		 dir_start(struct titem *);
void		 file_start(struct titem *);
void		 file_go(struct titem *);
void		 delete_start(struct titem *);
void		 link_start(struct titem *);
/* Stops what the item runs; true when it ended now (forgotten). */
bool		 item_stop(struct titem *);

#endif
