/*
 * Jobs: every transfer is one, owned by the uid that started it. A job
 * wraps the FTP operation, reports progress, answers its waiters when it
 * ends and is kept for a while afterwards so its result can be read.
 */
#ifndef FTPA_JOB_H
#define FTPA_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <ev.h>

#include "ftp.h"
#include "wire.h"

#define JOB_RETRY_MAX_DELAY 60.0

/* The states and their names are the wire's (protocol/wire.h). */
enum job_state {
	JOB_QUEUED = WIRE_JOB_QUEUED,
	JOB_RUNNING = WIRE_JOB_RUNNING,
	JOB_DONE = WIRE_JOB_DONE,
	JOB_FAILED = WIRE_JOB_FAILED,
	JOB_CANCELLED = WIRE_JOB_CANCELLED,
	JOB_STATE_LAST = WIRE_JOB_STATE_LAST
};

struct rpc_call;
struct client;
struct session;
struct tree;
struct job;

/* A tree's file transfers are jobs of their own with these hooks: not
 * listed, no events; progress and the end go to the tree, and the job is
 * freed right after end returns. */
struct job_hooks {
	void	(*progress)(struct job *, void *arg);
	void	(*end)(struct job *, void *arg);
	void	*arg;
};

struct job_waiter {
	struct rpc_call		*call;
	struct job		*job;
	ev_timer		 timer;
	bool			 with_data;	/* inline get: answer with data */
	bool			 transfer;	/* a failure is an error reply */
	struct job_waiter	*next;
};

struct job {
	char		 id[24];
	uid_t		 uid;
	enum job_state	 state;
	bool		 put;
	char		*session_id;
	char		*path;
	char		*local;		/* the local file's path, when the
					   fd is one (for the owner's eyes) */
	struct session	*sess;
	struct ftp_op	*op;		/* while queued or running */
	int64_t		 bytes;
	int64_t		 total;
	int64_t		 offset0;	/* the offset asked for */
	double		 t_start;
	double		 t_end;
	double		 real_start;	/* epoch seconds */
	double		 real_end;
	double		 rate;		/* bytes/s, smoothed */
	double		 rate_t;	/* when rate was last updated */
	int64_t		 rate_bytes;	/* bytes at rate_t */
	int		 attempts;
	int		 max_retries;
	double		 retry_delay;
	ev_timer	 retry;		/* backoff before the next attempt */
	struct ratelimit rl;		/* its own limit (a tree's: for all its
					   files), rl.rate 0: none */
	struct op_error	 err;
	char		*data;		/* inline get result */
	size_t		 data_len;
	struct job_waiter *waiters;
	struct client	*progress;	/* connection that asked for progress */
	json_t		*progress_id;	/* the id of its request; NULL when it
					   sent none */
	ev_timer	 hb;
	double		 last_progress;
	ev_timer	 expire;
	bool		 evicted;	/* past job_retention_max: expires now */
	const struct job_hooks *hooks;	/* a tree's step */
	struct tree	*tree;		/* a tree job (op is NULL), owned */
	struct job	*next;
};

/* op's done/progress callbacks are taken over by the job. */
struct job	*job_new(uid_t, struct session *, struct ftp_op *, bool put);
/* A tree's step (see job_hooks); hooks must outlive it. */
struct job	*job_new_step(uid_t, struct session *, struct ftp_op *, bool put,
		    const struct job_hooks *);
/* A tree job: t is the job's (freed with it); tree.c drives it. */
struct job	*job_new_tree(uid_t, struct session *, const char *path,
		    bool put, struct tree *t);
/* A tree's bytes or counts changed (started: the first step began). */
void		 job_tree_progress(struct job *, bool started);
/* A tree has ended: state and the error that says why (NULL: none). */
void		 job_tree_end(struct job *, enum job_state,
		    const struct op_error *);
/* Sends the first job.progress (queued) and submits the op (a tree:
 * starts it). */
void		 job_start(struct job *);
/* Its own limit, bytes/s (0: none); before job_start. */
void		 job_set_limit(struct job *, int64_t rate);
struct job	*job_lookup(const char *id);
/* Calls fn for every job, finished ones too, newest first; fn must not
 * make or free jobs. */
void		 job_each(void (*fn)(const struct job *, void *),
		    void *arg);
json_t		*job_json(const struct job *);
bool		 job_finished(const struct job *);
void		 job_cancel(struct job *);
/* Answer call when the job ends (or after timeout seconds, if > 0). */
void		 job_wait(struct job *, struct rpc_call *, double timeout,
		    bool with_data, bool transfer);
/* job.progress for the job on c, each carrying the request id (kept;
 * NULL: none); before job_start. */
void		 job_set_progress(struct job *, struct client *,
		    json_t *request_id);
size_t		 job_count(uid_t, bool all, bool active_only);
/* Bytes of inline upload data the uid's unfinished jobs hold. */
size_t		 job_inline_held(uid_t);
const char	*job_state_name(enum job_state);
/* A session goes away: forget the pointers to it. */
void		 job_session_gone(struct session *);
void		 job_cancel_all(void);

#endif
