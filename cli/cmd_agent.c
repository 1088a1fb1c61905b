/*
 * ftpctl agent status|reload|stop: the agent itself. None of them starts
 * an agent: asking a stopped agent for its status or to stop must not
 * leave one running.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpctl.h"

#define STOP_WAIT_MS	10000	/* the agent's grace is 3 s */
#define STOP_POLL_MS	50

enum agent_verb {
	AGENT_STATUS,
	AGENT_RELOAD,
	AGENT_STOP,
	AGENT_VERB_LAST
};

static const char *const verb_names[AGENT_VERB_LAST] = {
	[AGENT_STATUS] = "status",
	[AGENT_RELOAD] = "reload",
	[AGENT_STOP] = "stop",
};

/* Calls method; its result as JSON, or NULL after reporting. */
static json_t *
agent_call(struct ctl *c, const char *method, int *status)
{
	char *res = NULL;
	json_t *o;

	if (!agent(c) || !ftpagent_call(c->fa, method, NULL, &res)) {
		*status = fail(c, NULL);
		return NULL;
	}
	o = json_loads(res, 0, NULL);
	free(res);
	if (!json_is_object(o)) {
		json_decref(o);
		*status = cmd_error(c, EXIT_AGENT, "protocol",
		    "%s: the agent's answer is no object", method);
		return NULL;
	}
	return o;
}

static const char *
str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_number_value(json_object_get(o, key));
}

static void
print_uptime(double secs)
{
	long long s = secs > 0 ? (long long)secs : 0;

	if (s >= 86400)
		printf("%lldd ", s / 86400);
	if (s >= 3600)
		printf("%lldh ", s / 3600 % 24);
	if (s >= 60)
		printf("%lldm ", s / 60 % 60);
	printf("%llds", s % 60);
}

static void
print_status(const json_t *o)
{
	json_t *log = json_object_get(o, "log");
	double started = json_number_value(json_object_get(o, "started"));
	time_t t = (time_t)started;
	struct tm tm;
	char when[64] = "";

	if (started > 0 && localtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), " (since %Y-%m-%d %H:%M:%S)",
		    &tm);
	printf("pid:      %lld\n", num(o, "pid"));
	printf("version:  %s\n", str(o, "version", "?"));
	printf("mode:     %s (uid %lld)%s\n", str(o, "mode", "?"),
	    num(o, "uid"), json_is_true(json_object_get(o,
	    "socket_activated")) ? ", socket activated" : "");
	printf("uptime:   ");
	print_uptime(json_number_value(json_object_get(o, "uptime_s")));
	printf("%s\n", when);
	printf("socket:   ");
	output_text(stdout, str(o, "socket", "?"));
	printf("\nlog:      ");
	if (json_is_string(log))
		output_text(stdout, json_string_value(log));
	else
		printf("none (detached without a log file)");
	printf("\nconfig:   ");
	if (json_is_string(json_object_get(o, "config"))) {
		output_text(stdout, str(o, "config", "?"));
		if (!json_is_true(json_object_get(o, "config_found")))
			printf(" (not found: defaults in use)");
	} else
		printf("none (defaults in use)");
	printf("\nsessions: %lld\n", num(o, "sessions"));
	printf("jobs:     %lld (%lld queued or running)\n", num(o, "jobs"),
	    num(o, "jobs_active"));
}

/* A zombie is gone for us: its parent (a test harness, a supervisor)
 * reaps it when it likes. */
static bool
is_zombie(long long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold anything, the state follows
	 * its last ')' */
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z';
}

/*
 * The agent answers the stop before it winds down: wait until its
 * process is gone (it is ours or we are root, so kill(0) may ask), for
 * scripts that start another one next.
 */
static bool
wait_gone(long long pid, int timeout_ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno == ESRCH) ||
		    is_zombie(pid))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms)
			return false;
		(void)poll(NULL, 0, STOP_POLL_MS);
	}
}

static int
agent_stop(struct ctl *c, json_t *o)
{
	long long pid = num(o, "pid");
	int wait_ms = c->timeout_ms > 0 ? c->timeout_ms : STOP_WAIT_MS;

	/* our connection is one the agent closes as it goes */
	ftpagent_free(c->fa);
	c->fa = NULL;
	if (!wait_gone(pid, wait_ms))
		return cmd_error(c, EXIT_TIMEOUT, "timeout", "the agent (pid "
		    "%lld) is still running %d s after it was asked to stop",
		    pid, wait_ms / 1000);
	if (c->json)
		emit_json(json_pack("{s:b, s:I}", "stopped", 1, "pid",
		    (json_int_t)pid));
	else if (!c->quiet)
		printf("ftpd-agent (pid %lld) stopped\n", pid);
	return EXIT_OK;
}

int
cmd_agent(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	static const char *const methods[AGENT_VERB_LAST] = {
		[AGENT_STATUS] = "agent.status",
		[AGENT_RELOAD] = "agent.reload",
		[AGENT_STOP] = "agent.stop",
	};
	enum agent_verb v;
	json_t *o;
	int status = EXIT_OK;

	if (argc != 2)
		return usage_error(c, cmd, "agent takes one of status, reload, "
		    "stop");
	for (v = 0; v < AGENT_VERB_LAST; v++)
		if (strcmp(argv[1], verb_names[v]) == 0)
			break;
	if (v == AGENT_VERB_LAST)
		return usage_error(c, cmd, "unknown agent command '%s'",
		    argv[1]);
	c->autostart = false;
	if ((o = agent_call(c, methods[v], &status)) == NULL)
		return status;
	switch (v) {
	case AGENT_STATUS:
		if (c->json)
			emit_json(json_incref(o));
		else
			print_status(o);
		break;
	case AGENT_RELOAD:
		if (c->json)
			emit_json(json_pack("{s:b, s:O}", "reloaded", 1,
			    "config", json_object_get(o, "config") ?
			    json_object_get(o, "config") : json_null()));
		else if (!c->quiet && json_is_string(json_object_get(o,
		    "config"))) {
			printf("reloaded ");
			output_text(stdout, str(o, "config", "?"));
			putchar('\n');
		} else if (!c->quiet)
			printf("reloaded (no configuration file)\n");
		break;
	default:
		status = agent_stop(c, o);
		break;
	}
	json_decref(o);
	return status;
}
