/*
 * ftpctl's relay: the agent refuses terminals and other devices as local
 * files (it must never block on them), so ftpctl copies between such a
 * descriptor (stdin, stdout, a device named as LOCAL) and a pipe on a
 * thread of its own, and hands the agent the pipe.
 */
#ifndef FTPCTL_RELAY_H
#define FTPCTL_RELAY_H

#include <pthread.h>
#include <stdbool.h>

struct relay {
	pthread_t	 thread;
	int		 from;
	int		 to;
	bool		 output;	/* to the caller's fd, which stays open */
	bool		 running;
};

/*
 * The fd to hand the agent for fd (read from it for an upload, written
 * to with output true): fd itself when it is not a character device,
 * else a pipe end that a thread relays; -1 with errno when the relay
 * cannot start. The caller keeps fd and closes it after relay_finish.
 */
int	relay_start(struct relay *r, int fd, bool output);
/*
 * After the transfer: closes passed (what relay_start returned) and lets
 * the relay end: output is drained to the agent's end of the data (cut
 * short when ok is false), input is abandoned.
 */
void	relay_finish(struct relay *r, int passed, bool ok);

#endif
