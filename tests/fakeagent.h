/*
 * The fake agent of tests/check_async*.c: what a test needs to play the
 * agent against libftpagent's non-blocking core. setup() makes a
 * socketpair, gives one end to ftpagent_connect_fd (the connection `a`)
 * and leaves the other (`agent`) to the test, which reads the requests
 * off it, descriptors included (agent_req), and writes the replies and
 * notifications byte for byte (agent_result, agent_notify, ...). One
 * thread drives both ends (flush, drain, run_until), so every step is
 * deterministic. The callbacks record what they were given (recs, evs,
 * struct prog) and take what a reply holds, as the header allows.
 *
 * Every wait is bounded by WAIT_MS: a library that never answers fails
 * the test instead of hanging it. teardown() releases everything a test
 * that stopped at a failed assertion left (for CK_FORK=no under a leak
 * checker), and kills a forked agent (`child`) if a test started one.
 */
#ifndef FAKEAGENT_H
#define FAKEAGENT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ftpagent.h"
#include "ftpagent_async.h"

#define WAIT_MS		5000	/* the longest any step may take */
#define NRECS		16

extern struct ftpagent *a;	/* the connection under test */
extern int agent;		/* the fake agent's end */
extern pid_t child;		/* a forked agent, killed by teardown */
extern int seq;			/* callbacks run so far, of any kind */

void	setup(void);
void	teardown(void);

int64_t	now_ms(void);
int	temp_file(const char *content);	/* already unlinked */

/* ---- requests in --------------------------------------------------------- */

struct req {
	json_t		*msg;
	json_int_t	 id;
	const char	*method;
	json_t		*params;	/* borrowed from msg */
	int		 fds[16];
	int		 nfds;
	size_t		 fd_at;		/* where in the line fds came */
	char		 why[128];	/* why reading failed */
};

/* No Check calls: usable in a forked agent. */
bool	fake_recv_req(int fd, struct req *r, int timeout_ms);
bool	fake_send(int fd, const void *buf, size_t len, int timeout_ms);
bool	fake_recv_answer(int fd, struct req *r, int timeout_ms);
bool	fake_printf(int fd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

void	agent_req(struct req *r, const char *method, int nfds);
void	agent_req_info(struct req *r, const char *method, int nfds,
	    const char *features);
void	agent_no_req(int ms);
void	agent_answer(struct req *r, const char *id, int code, int nfds);
void	req_clear(struct req *r);
const char *param_str(const struct req *r, const char *name);

/* ---- replies and notifications out --------------------------------------- */

void	agent_write(const char *s);
void	agent_printf(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	agent_result(json_int_t id, const char *result);
void	agent_error(json_int_t id, int code, const char *kind,
	    const char *message);
void	agent_notify(const char *method, const char *params);
const char *job_obj(char *buf, const char *job, const char *state,
	    const char *dir, long long bytes, long long total,
	    json_int_t request);
void	agent_progress(const char *job, long long bytes, long long total,
	    json_int_t request);

/* ---- driving the library ------------------------------------------------- */

void	flush(void);
bool	readable(int fd);
bool	drain(void);
bool	run_until(const int *count, int want, int ms);
void	agent_expect_job_cancel(const char *job);

/* ---- what the callbacks saw ---------------------------------------------- */

struct rec {
	int		 runs;
	int		 seq;		/* its place among callbacks */
	bool		 leave;		/* take nothing: the lib frees */
	uint64_t	 call;
	enum ftpagent_error error;
	char		 message[256];
	char		 kind[64];
	int		 ftp_code;
	char		 data[256];
	struct ftpagent_reply r;	/* what it took; strings it did not
					   take are NULL here */
};

extern struct rec recs[NRECS];

void	on_reply(struct ftpagent *conn, struct ftpagent_reply *r, void *arg);
void	assert_done(const struct rec *c, uint64_t id, enum ftpagent_error e);
void	copy_str(char *dst, size_t len, const char *s);

/* Notifications given to the event callback, taken. */
struct evs {
	int		 n;
	struct ftpagent_event ev[NRECS];
	int		 seq[NRECS];
};

extern struct evs evs;

void	on_event(struct ftpagent *conn, struct ftpagent_event *ev, void *arg);

/* A transfer's progress callback. */
struct prog {
	int		 runs;
	int64_t		 bytes[NRECS];
	int64_t		 total[NRECS];
	bool		 stop;		/* return false: cancel */
};

bool	on_progress(void *arg, int64_t bytes, int64_t total);

#endif
