/*
 * Who hears what: a client's subscriptions (events.subscribe), the job
 * and session notices sent to subscribers, and the coalescing of
 * job.progress for clients that read slowly. job.c and session.c say
 * what happened; this module decides who is told, and when.
 */
#ifndef FTPA_EVENTS_H
#define FTPA_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct client;
struct job;

/* Job ids one connection may subscribe to ("all" has no limit). */
#define EVENTS_MAX_JOBS	4096

/* Hooks the module into the client connections (control.c). */
void	events_init(void);
/* The client is gone: what it subscribed to and was owed goes. */
void	events_forget(struct client *);

/* events.subscribe: every job of the client's uid (root: all jobs),
 * later ones too, and its sessions' states. */
void	events_subscribe_all(struct client *);
/* events.subscribe to one job id (which the caller has checked). */
void	events_subscribe_job(struct client *, const char *id);
/* Job ids the client has subscribed to. */
size_t	events_job_count(const struct client *);

/*
 * A job's news: method is job.progress or job.finished. Progress goes to
 * subscribers and to the client that started the transfer with progress
 * on (job->progress), once per client; the latter's params carry the id
 * of its request (WIRE_JOB_REQUEST), the subscribers' do not. It is
 * coalesced (a client with output still unsent is only noted, and gets
 * the job's state as it is once its output has drained; nothing once
 * the job has ended).
 */
void	events_job(struct job *, const char *method, bool progress);
/* The job was just accepted: its first job.progress, which its caller
 * gets at once, before its reply, even with output unsent (one per
 * request, so these cannot pile up); subscribers' is coalesced. */
void	events_job_accepted(struct job *);
/* A session's new state, for the subscribers to everything of its uid. */
void	events_session_state(const char *id, uid_t uid, const char *state,
	    int connections, int busy);

#endif
