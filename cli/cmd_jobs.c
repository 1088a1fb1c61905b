/*
 * ftpctl: jobs, wait and cancel.
 */
#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ftpctl.h"
#include "wire.h"

static const char *
dir_name(enum ftpagent_xfer_dir d)
{
	return d == FTPAGENT_XFER_GET ? "get" : d == FTPAGENT_XFER_PUT ? "put" :
	    "?";
}

static json_t *
job_json(const struct ftpagent_job *j)
{
	struct wire_job w;

	memset(&w, 0, sizeof(w));
	w.id = j->id;
	w.state = (int)j->state - 1;	/* the library counts from UNKNOWN */
	w.put = j->direction == FTPAGENT_XFER_PUT;
	w.session = j->session;
	w.path = j->path;
	w.bytes = j->bytes;
	w.total = j->total;
	w.rate = j->rate;
	w.seconds = j->seconds;
	w.eta = j->eta;
	w.started = j->started;
	w.ended = j->ended;
	w.uid = j->uid;
	w.attempts = j->attempts;
	if (j->error_message != NULL) {
		w.err.kind = ftpa_err_from_name(j->error_kind);
		w.err.message = j->error_message;
		w.err.ftp_code = j->ftp_code;
		w.err.ftp_text = j->ftp_text;
	}
	return wire_job_json(&w);
}

static bool
job_ended(const struct ftpagent_job *j)
{
	return j->state == FTPAGENT_JOB_DONE ||
	    j->state == FTPAGENT_JOB_FAILED ||
	    j->state == FTPAGENT_JOB_CANCELLED;
}

/* j2 before j10: shorter ids first, then in byte order. */
static int
job_cmp(const void *a, const void *b)
{
	const struct ftpagent_job *ja = a, *jb = b;
	size_t la = strlen(ja->id), lb = strlen(jb->id);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ja->id, jb->id);
}

static const char *
obj_id(const json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "job"));

	return s != NULL ? s : "";
}

static int
obj_cmp(const void *a, const void *b)
{
	const char *ia = obj_id(*(json_t *const *)a);
	const char *ib = obj_id(*(json_t *const *)b);
	size_t la = strlen(ia), lb = strlen(ib);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ia, ib);
}

/*
 * jobs --json: the agent's job objects as it sends them, sorted, so that
 * what the library's struct has no room for (a tree job's "tree") is
 * there too.
 */
static int
jobs_json(struct ctl *c)
{
	char *text = NULL;
	json_t *arr, *out, **v;
	size_t i, n;

	if (!ftpagent_call(c->fa, "job.list", NULL, &text))
		return fail(c, NULL);
	arr = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return cmd_error(c, EXIT_AGENT, "protocol",
		    "job.list: the agent's answer is no array");
	}
	n = json_array_size(arr);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL ||
	    (out = json_array()) == NULL) {
		free(v);
		json_decref(arr);
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "out of memory");
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), obj_cmp);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(arr);
	emit_json(out);
	return EXIT_OK;
}

int
cmd_jobs(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_job *js = NULL;
	char b[OUTPUT_BYTES_LEN], t[OUTPUT_BYTES_LEN], r[OUTPUT_BYTES_LEN + 2];
	size_t n = 0, i;
	int wid = 3, w;

	(void)argv;
	if (argc != 1)
		return usage_error(c, cmd, "jobs takes no arguments");
	if (!agent(c))
		return fail(c, NULL);
	if (c->json)
		return jobs_json(c);
	if (!ftpagent_job_list(c->fa, &js, &n))
		return fail(c, NULL);
	if (n > 1)
		qsort(js, n, sizeof(*js), job_cmp);
	for (i = 0; i < n; i++)
		if ((w = output_text_len(stdout, js[i].id)) > wid)
			wid = w;
	if (n > 0 && !c->quiet)
		printf("%-*s  %-9s  %-3s  %10s  %10s  %12s  %s\n", wid, "JOB",
		    "STATE", "DIR", "BYTES", "TOTAL", "RATE", "PATH");
	for (i = 0; i < n; i++) {
		output_bytes(b, sizeof(b), js[i].bytes);
		output_bytes(t, sizeof(t), js[i].total);
		if (js[i].rate > 0) {
			output_bytes(r, sizeof(r) - 2, (int64_t)js[i].rate);
			strcat(r, "/s");
		} else
			snprintf(r, sizeof(r), "-");
		output_field(stdout, js[i].id, wid);
		printf("  %-9s  %-3s  %10s  %10s  %12s  ",
		    ftpagent_job_state_name(js[i].state),
		    dir_name(js[i].direction), b, t, r);
		output_text(stdout, js[i].session != NULL ? js[i].session :
		    "?");
		putchar(':');
		output_text(stdout, js[i].path != NULL ? js[i].path : "?");
		putchar('\n');
	}
	ftpagent_jobs_free(js, n);
	return EXIT_OK;
}

/* Subscribes to job's events; false (error reported) unless that worked
 * or the agent is one without events, which wait then polls. */
static bool
subscribe_job(struct ctl *c, const char *job)
{
	const char *jobs[2] = { job, NULL };

	if (ftpagent_subscribe(c->fa, jobs))
		return true;
	return ftpagent_error(c->fa) == FTPAGENT_ERR_RPC &&
	    strcmp(ftpagent_error_kind(c->fa), "method") == 0 &&
	    ftpagent_clear_error(c->fa);
}

/*
 * Follows job until it ends, drawing the bar on a terminal: from its
 * job.progress events, and from job.status whenever none came for
 * WAIT_POLL_MS (an agent without events, or one that went quiet).
 * Returns false with the error set, or when interrupted (^C).
 */
static bool
follow_job(struct ctl *c, const char *job, struct ftpagent_job *j)
{
	struct output_progress prog;
	struct ftpagent_event ev;
	const char *base;
	char label[256];
	bool bar = want_bar(c), ok = true;

	if (!ftpagent_job_status(c->fa, job, j))
		return false;
	/* the remote file's name, as a foreground get shows the local one */
	base = j->path != NULL ? j->path : job;
	if (strrchr(base, '/') != NULL && strrchr(base, '/')[1] != '\0')
		base = strrchr(base, '/') + 1;
	snprintf(label, sizeof(label), "%s", base);
	output_progress_init(&prog, STDERR_FILENO, label);
	catch_sigint();
	while (!job_ended(j) && !interrupted) {
		if (bar)
			output_progress_rate(&prog, j->bytes, j->total, j->rate);
		if (ftpagent_next_event(c->fa, &ev, WAIT_POLL_MS)) {
			if (ev.job.id != NULL && strcmp(ev.job.id, job) == 0) {
				ftpagent_job_clear(j);
				*j = ev.job;
				memset(&ev.job, 0, sizeof(ev.job));
			}
			ftpagent_event_clear(&ev);
			continue;
		}
		if (ftpagent_error(c->fa) != FTPAGENT_OK) {
			ok = false;
			break;
		}
		ftpagent_job_clear(j);
		if (!ftpagent_job_status(c->fa, job, j)) {
			ok = false;
			break;
		}
	}
	output_progress_done(&prog);
	return ok && !interrupted;
}

int
cmd_wait(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct ftpagent_job j;
	const char *job;
	int status = EXIT_OK;

	if (argc != 2)
		return usage_error(c, cmd, "wait takes one JOB");
	job = argv[1];
	memset(&j, 0, sizeof(j));
	if (!agent(c) || !subscribe_job(c, job))
		return fail(c, job);
	if (!follow_job(c, job, &j)) {
		ftpagent_job_clear(&j);
		if (interrupted) {
			/* the job runs on; we die of the ^C as usual */
			signal(SIGINT, SIG_DFL);
			raise(SIGINT);
		}
		return fail(c, job);
	}
	signal(SIGINT, SIG_DFL);
	/* a get --background's file is renamed once its follower is done */
	if (j.direction == FTPAGENT_XFER_GET)
		ftpagent_job_wait_file(c->fa, job, 0);
	if (j.state == FTPAGENT_JOB_CANCELLED)
		status = EXIT_CANCELLED;
	else if (j.state != FTPAGENT_JOB_DONE)
		status = status_of(j.error, j.error_kind);
	if (status != EXIT_OK)
		output_warnx("%s: %s", job, j.error_message != NULL ?
		    j.error_message : ftpagent_job_state_name(j.state));
	if (c->json)
		emit_json(job_json(&j));
	ftpagent_job_clear(&j);
	return status;
}

int
cmd_cancel(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	if (argc != 2)
		return usage_error(c, cmd, "cancel takes one JOB");
	if (!agent(c) || !ftpagent_job_cancel(c->fa, argv[1]))
		return fail(c, argv[1]);
	if (c->json)
		emit_json(json_pack("{s:s, s:b}", "job", argv[1], "cancelled",
		    1));
	return EXIT_OK;
}
