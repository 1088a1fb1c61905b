/*
 * The agent itself as main.c runs it: what agent.status reports, and the
 * SIGHUP and SIGTERM that agent.reload and agent.stop stand for.
 */
#ifndef FTPA_AGENT_H
#define FTPA_AGENT_H

#include <stdbool.h>
#include <stddef.h>

struct agent_self {
	const char	*socket;	/* the path listened on */
	bool		 user;		/* --user, else --system */
	bool		 activated;	/* the socket came from systemd */
	const char	*config;	/* the file read at start and reload;
					   NULL: none */
	bool		 config_found;	/* it existed when last read */
};

const struct agent_self *agent_self(void);
/* What SIGHUP does: the configuration read again. 0, or -1 with the
 * reason in err (the configuration in use stays). */
int	agent_reload(char *err, size_t errlen);
/* What SIGTERM does, from the loop's next turn, so that the reply of
 * the call asking for it is written first. */
void	agent_stop(void);

#endif
