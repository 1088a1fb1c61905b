/*
 * ftpctl: jobs, wait and cancel.
 */
#include "config.h"

#include <sys/stat.h>

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bytename.h"
#include "ftpctl.h"
#include "localdest.h"
#include "wire.h"

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

/* ---- jobs ---------------------------------------------------------------- */

#define JOBS_RECENT	10	/* finished jobs "jobs" shows without --all */

/* What "jobs" shows: a job passes when it passes every filter given. */
struct jobs_filter {
	bool		running;	/* queued or running */
	bool		failed;
	bool		since_set;
	double		since;		/* still going then, or started after */
	bool		all;		/* no cut of the finished ones */
};

struct job_row {
	json_t		*o;		/* the agent's object */
	struct wire_job	 w;		/* borrowed from o */
};

static const char *
obj_id(const json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "job"));

	return s != NULL ? s : "";
}

/* j2 before j10: shorter ids first, then in byte order. */
static int
row_cmp(const void *a, const void *b)
{
	const char *ia = obj_id(((const struct job_row *)a)->o);
	const char *ib = obj_id(((const struct job_row *)b)->o);
	size_t la = strlen(ia), lb = strlen(ib);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ia, ib);
}

static bool
row_ended(const struct job_row *r)
{
	return r->w.state == WIRE_JOB_DONE || r->w.state == WIRE_JOB_FAILED ||
	    r->w.state == WIRE_JOB_CANCELLED;
}

static bool
row_passes(const struct job_row *r, const struct jobs_filter *f)
{
	if (f->running && row_ended(r))
		return false;
	if (f->failed && r->w.state != WIRE_JOB_FAILED)
		return false;
	/* what was still going at that time, or began after it */
	if (f->since_set && row_ended(r) && r->w.ended >= 0 &&
	    r->w.ended < f->since)
		return false;
	return true;
}

/*
 * --since TIME: "30s", "10m", "2h", "1d" ago, or a time as "touch -d"
 * takes it (UTC). 0, or -1 with *err.
 */
static int
parse_since(const char *arg, double *t, const char **err)
{
	char *end;
	double n;
	int64_t abs_t;

	n = strtod(arg, &end);
	if (end != arg && n >= 0 && end[0] != '\0' && end[1] == '\0' &&
	    strchr("smhd", end[0]) != NULL && *arg != '@') {
		n *= end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ?
		    3600 : 86400;
		*t = (double)time(NULL) - n;
		return 0;
	}
	if (target_parse_time(arg, &abs_t, err) == -1) {
		*err = "TIME is 30s, 10m, 2h, 1d (ago), @EPOCH, YYYY-MM-DD "
		    "or YYYY-MM-DDTHH:MM[:SS][Z]";
		return -1;
	}
	*t = (double)abs_t;
	return 0;
}

/* The agent's jobs, read and sorted; false after reporting. */
static bool
fetch_rows(struct ctl *c, json_t **arr, struct job_row **rows, size_t *n,
    int *status)
{
	char *text = NULL;
	size_t i, k;

	*rows = NULL;
	*n = 0;
	if (!ftpagent_call(c->fa, "job.list", NULL, &text)) {
		*status = fail(c, NULL);
		return false;
	}
	*arr = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_array(*arr)) {
		json_decref(*arr);
		*status = cmd_error(c, EXIT_AGENT, "protocol",
		    "job.list: the agent's answer is no array");
		return false;
	}
	if ((*rows = calloc(json_array_size(*arr) + 1, sizeof(**rows))) ==
	    NULL) {
		json_decref(*arr);
		*status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
		    "out of memory");
		return false;
	}
	for (i = k = 0; i < json_array_size(*arr); i++) {
		(*rows)[k].o = json_array_get(*arr, i);
		if (wire_job_read((*rows)[k].o, &(*rows)[k].w) == 0)
			k++;
	}
	*n = k;
	qsort(*rows, k, sizeof(**rows), row_cmp);
	return true;
}

/* A wire-form name as its bytes, escaped for the terminal. */
static void
print_name(const char *wire)
{
	char *s;

	if (wire == NULL || (s = strdup(wire)) == NULL) {
		fputs(wire != NULL ? wire : "-", stdout);
		return;
	}
	ftpa_bytes_unescape(s, strlen(s));
	output_text(stdout, s);
	free(s);
}

/*
 * The agent names the file it wrote: a download's LOCAL.part (or, in
 * segments, LOCAL.segments.part), which is renamed once the job is done.
 * Show where the file is now.
 */
static char *
local_now(const struct wire_job *j)
{
	static const char *const parts[] = { LOCALDEST_SEGMENTS_PART,
	    LOCALDEST_PART };
	struct stat st;
	char *s;
	size_t n, k;

	if (j->local == NULL || (s = strdup(j->local)) == NULL)
		return NULL;
	n = ftpa_bytes_unescape(s, strlen(s));
	if (j->state != WIRE_JOB_DONE || j->put || lstat(s, &st) == 0)
		return s;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		k = strlen(parts[i]);
		if (n <= k || strcmp(s + n - k, parts[i]) != 0)
			continue;
		s[n - k] = '\0';
		if (lstat(s, &st) == 0)
			return s;
		s[n - k] = '.';
		break;
	}
	return s;
}

static int
name_len(const char *wire)
{
	char *s;
	int n;

	if (wire == NULL || (s = strdup(wire)) == NULL)
		return 1;
	ftpa_bytes_unescape(s, strlen(s));
	n = output_text_len(stdout, s);
	free(s);
	return n;
}

/*
 * Without a filter or --all, the finished jobs shown are the
 * JOBS_RECENT that ended last: after a batch of hundreds the list stays
 * readable. Marks the rows to show; returns how many finished ones are
 * left out.
 */
static size_t
cut_finished(struct job_row *rows, size_t n, bool *show)
{
	size_t i, k, ended = 0, left = 0;
	double *ends, cut;

	for (i = 0; i < n; i++)
		ended += row_ended(&rows[i]);
	if (ended <= JOBS_RECENT || (ends = calloc(ended,
	    sizeof(*ends))) == NULL)
		return 0;
	for (i = k = 0; i < n; i++)
		if (row_ended(&rows[i]))
			ends[k++] = rows[i].w.ended;
	/* the JOBS_RECENT-th latest end */
	for (i = 0; i < JOBS_RECENT; i++)
		for (k = i + 1; k < ended; k++)
			if (ends[k] > ends[i]) {
				cut = ends[i];
				ends[i] = ends[k];
				ends[k] = cut;
			}
	cut = ends[JOBS_RECENT - 1];
	free(ends);
	for (i = k = 0; i < n; i++) {
		if (!show[i] || !row_ended(&rows[i]))
			continue;
		if (rows[i].w.ended < cut || k == JOBS_RECENT) {
			show[i] = false;
			left++;
		} else
			k++;
	}
	return left;
}

static void
print_rows(struct job_row *rows, size_t n, const bool *show, bool quiet)
{
	char b[OUTPUT_BYTES_LEN], t[OUTPUT_BYTES_LEN], r[OUTPUT_BYTES_LEN + 2];
	char lim[OUTPUT_RATE_LEN];
	int wid = 3, pw = 4, w;
	size_t i, shown = 0;

	for (i = 0; i < n; i++) {
		if (!show[i])
			continue;
		shown++;
		if ((w = output_text_len(stdout, rows[i].w.id)) > wid)
			wid = w;
		w = name_len(rows[i].w.session) + 1 + name_len(rows[i].w.path);
		if (w > pw)
			pw = w;
	}
	if (shown > 0 && !quiet)
		printf("%-*s  %-9s  %-3s  %10s  %10s  %12s  %7s  %-*s  %s\n",
		    wid, "JOB", "STATE", "DIR", "BYTES", "TOTAL", "RATE", "LIMIT",
		    pw, "PATH", "LOCAL");
	for (i = 0; i < n; i++) {
		const struct wire_job *j = &rows[i].w;
		char *local;

		if (!show[i])
			continue;
		output_bytes(b, sizeof(b), j->bytes);
		output_bytes(t, sizeof(t), j->total);
		if (j->rate > 0) {
			output_bytes(r, sizeof(r) - 2, (int64_t)j->rate);
			strcat(r, "/s");
		} else
			snprintf(r, sizeof(r), "-");
		output_field(stdout, j->id, wid);
		printf("  %-9s  %-3s  %10s  %10s  %12s  %7s  ",
		    wire_job_state_name(j->state), j->put ? "put" : "get", b,
		    t, r, output_rate_limit(lim, sizeof(lim), j->limit_rate));
		print_name(j->session != NULL ? j->session : "?");
		putchar(':');
		print_name(j->path != NULL ? j->path : "?");
		w = name_len(j->session != NULL ? j->session : "?") + 1 +
		    name_len(j->path != NULL ? j->path : "?");
		printf("%*s  ", pw - w, "");
		if ((local = local_now(j)) != NULL)
			output_text(stdout, local);
		else
			putchar('-');
		free(local);
		putchar('\n');
	}
}

static int
jobs_options(struct ctl *c, const struct command *cmd, int argc,
    char **argv, struct jobs_filter *f)
{
	static const struct option longopts[] = {
		{ "running", no_argument, NULL, 'r' },
		{ "failed", no_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *err;
	int ch;

	memset(f, 0, sizeof(*f));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:a", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			f->running = true;
			break;
		case 'f':
			f->failed = true;
			break;
		case 's':
			if (parse_since(optarg, &f->since, &err) == -1)
				return usage_error(c, cmd, "--since %s: %s",
				    optarg, err);
			f->since_set = true;
			break;
		case 'a':
			f->all = true;
			break;
		default:
			return bad_option(c, cmd, ch, argv);
		}
	}
	if (optind != argc)
		return usage_error(c, cmd, "jobs takes no arguments");
	return -1;
}

int
cmd_jobs(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	struct jobs_filter f;
	struct job_row *rows;
	json_t *arr, *out;
	size_t n, i, left;
	bool *show;
	int status;

	if ((status = jobs_options(c, cmd, argc, argv, &f)) != -1)
		return status;
	if (!agent(c))
		return fail(c, NULL);
	if (!fetch_rows(c, &arr, &rows, &n, &status))
		return status;
	if ((show = calloc(n + 1, sizeof(*show))) == NULL ||
	    (out = json_array()) == NULL) {
		free(show);
		free(rows);
		json_decref(arr);
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "out of memory");
	}
	for (i = 0; i < n; i++)
		if ((show[i] = row_passes(&rows[i], &f)) && c->json)
			json_array_append(out, rows[i].o);
	if (c->json) {
		emit_json(out);
	} else {
		json_decref(out);
		left = f.all || f.running || f.failed || f.since_set ? 0 :
		    cut_finished(rows, n, show);
		print_rows(rows, n, show, c->quiet);
		if (left > 0 && !c->quiet)
			printf("... and %zu more finished job%s (ftpctl jobs "
			    "--all)\n", left, left == 1 ? "" : "s");
	}
	free(show);
	free(rows);
	json_decref(arr);
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

/*
 * The job as the agent describes it (what the library's struct has no
 * room for, such as "local", too); from the struct when that fails.
 */
static json_t *
job_wire(struct ctl *c, const char *job, const struct ftpagent_job *j)
{
	json_t *params = json_pack("{s:s}", "job", job), *o = NULL;
	char *ptext = params ? json_dumps(params, JSON_COMPACT) : NULL;
	char *res = NULL;

	json_decref(params);
	if (ptext != NULL && ftpagent_call(c->fa, "job.status", ptext, &res))
		o = json_loads(res, 0, NULL);
	else
		(void)ftpagent_clear_error(c->fa);
	free(ptext);
	free(res);
	if (json_is_object(o))
		return o;
	json_decref(o);
	return job_json(j);
}

/*
 * Several jobs end in the worst way any of them did: a failure (the
 * first one's status, in the order waited for) over a cancel (8) over
 * done (0).
 */
static int
worse(int so_far, int st)
{
	if (so_far != EXIT_OK && so_far != EXIT_CANCELLED)
		return so_far;
	if (st != EXIT_OK && st != EXIT_CANCELLED)
		return st;
	return so_far == EXIT_CANCELLED || st == EXIT_CANCELLED ?
	    EXIT_CANCELLED : EXIT_OK;
}

/*
 * Follows one job to its end and reports it; the exit status it stands
 * for. *broken when the connection is gone (nothing more can be waited
 * for).
 */
static int
wait_one(struct ctl *c, const char *job, bool *broken)
{
	struct ftpagent_job j;
	int status = EXIT_OK;

	memset(&j, 0, sizeof(j));
	if (!follow_job(c, job, &j)) {
		ftpagent_job_clear(&j);
		if (interrupted) {
			/* the job runs on; we die of the ^C as usual */
			signal(SIGINT, SIG_DFL);
			raise(SIGINT);
		}
		status = fail(c, job);
		*broken = !ftpagent_clear_error(c->fa);
		return status;
	}
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
		emit_json(job_wire(c, job, &j));
	ftpagent_job_clear(&j);
	return status;
}

static int
id_cmp(const void *a, const void *b)
{
	const char *ia = *(char *const *)a, *ib = *(char *const *)b;
	size_t la = strlen(ia), lb = strlen(ib);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(ia, ib);
}

/* wait --all: the caller's own queued and running jobs, oldest first
 * (NULL-terminated, caller frees); NULL after reporting. */
static char **
own_active_jobs(struct ctl *c, int *status)
{
	struct ftpagent_job *js = NULL;
	size_t n = 0, i, k = 0;
	char **ids;

	if (!ftpagent_job_list(c->fa, &js, &n)) {
		*status = fail(c, NULL);
		return NULL;
	}
	if ((ids = calloc(n + 1, sizeof(*ids))) == NULL) {
		ftpagent_jobs_free(js, n);
		*status = cmd_error(c, EXIT_LOCAL_IO, "local_io",
		    "out of memory");
		return NULL;
	}
	/* root sees every uid's jobs: --all means its own */
	for (i = 0; i < n; i++)
		if (!job_ended(&js[i]) && (js[i].uid < 0 ||
		    js[i].uid == (long)getuid()) && js[i].id != NULL) {
			ids[k++] = js[i].id;
			js[i].id = NULL;
		}
	ftpagent_jobs_free(js, n);
	qsort(ids, k, sizeof(*ids), id_cmp);
	return ids;
}

static void
ids_free(char **ids)
{
	for (size_t i = 0; ids != NULL && ids[i] != NULL; i++)
		free(ids[i]);
	free(ids);
}

int
cmd_wait(struct ctl *c, const struct command *cmd, int argc, char **argv)
{
	char **ids = NULL;
	const char *const *list;
	json_t *out = NULL;
	bool all = false, broken = false;
	int status = EXIT_OK, i, n;

	if (argc == 2 && strcmp(argv[1], "--all") == 0)
		all = true;
	else if (argc < 2)
		return usage_error(c, cmd, "wait takes JOB... or --all");
	for (i = 1; !all && i < argc; i++)
		if (argv[i][0] == '-')
			return usage_error(c, cmd, "unknown option %s", argv[i]);
	if (!agent(c))
		return fail(c, NULL);
	if (all && (ids = own_active_jobs(c, &status)) == NULL)
		return status;
	list = all ? (const char *const *)ids : (const char *const *)argv + 1;
	for (n = 0; list[n] != NULL; n++)
		;
	/* one job: its events only; several: all of ours, one call */
	if ((n == 1 && !subscribe_job(c, list[0])) ||
	    (n > 1 && !ftpagent_subscribe(c->fa, NULL) &&
	    !(ftpagent_error(c->fa) == FTPAGENT_ERR_RPC &&
	    strcmp(ftpagent_error_kind(c->fa), "method") == 0 &&
	    ftpagent_clear_error(c->fa)))) {
		ids_free(ids);
		return fail(c, n == 1 ? list[0] : NULL);
	}
	/* several: one array of their objects (and errors) */
	if (c->json && (all || n > 1) && (out = json_array()) != NULL)
		json_gather(out);
	for (i = 0; i < n && !broken; i++)
		status = worse(status, wait_one(c, list[i], &broken));
	signal(SIGINT, SIG_DFL);
	if (out != NULL) {
		json_gather(NULL);
		emit_json(out);
	}
	ids_free(ids);
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
