/*
 * The segmented download of segget.h: the stat, the ranges, and the
 * parent job's progress and end.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ftp.h"
#include "job.h"
#include "log.h"
#include "segget.h"
#include "session.h"
#include "util.h"

struct segment {
	struct segget	*sg;
	struct job	*xfer;		/* while it runs */
	int64_t		 start, end;
	int64_t		 bytes;		/* of the running attempt's job */
	bool		 ended;
	struct job_hooks hooks;
};

struct segget {
	struct job	*job;
	int		 fd;
	int		 want;		/* ranges asked for */
	int		 n;		/* ranges made */
	int64_t		 size;
	int64_t		 bytes_done;	/* of the ranges that ended */
	struct ftp_op	*stat;		/* the size, asked first */
	bool		 stopping;
	bool		 failed;
	struct op_error	 err;		/* the first failure */
	struct segment	 seg[SEGMENTS_MAX];
};

struct segget *
segget_new(int fd, int n)
{
	struct segget	*sg = xcalloc(1, sizeof(*sg));

	sg->fd = fd;
	sg->want = n < 1 ? 1 : n > SEGMENTS_MAX ? SEGMENTS_MAX : n;
	return sg;
}

int
segget_fd(const struct segget *sg)
{
	return sg->fd;
}

void
segget_attach(struct segget *sg, struct job *j)
{
	sg->job = j;
}

void
segget_free(struct segget *sg)
{
	if (sg == NULL)
		return;
	if (sg->fd != -1)
		close(sg->fd);
	op_error_clear(&sg->err);
	free(sg);
}

static bool
all_ended(const struct segget *sg)
{
	for (int i = 0; i < sg->n; i++)
		if (!sg->seg[i].ended)
			return false;
	return sg->stat == NULL;
}

/* Every range has ended (or none was made): so does the parent. */
static void
segget_end(struct segget *sg)
{
	struct stat	st;
	struct op_error	e = { 0 };

	if (sg->failed) {
		job_tree_end(sg->job, sg->err.kind == FTPA_ERR_CANCELLED ?
		    JOB_CANCELLED : JOB_FAILED, &sg->err);
		return;
	}
	if (fstat(sg->fd, &st) == -1 || st.st_size != sg->size) {
		op_error_set(&e, FTPA_ERR_PROTOCOL, 0, NULL, "the file has %jd "
		    "bytes where the server said %" PRId64, (intmax_t)
		    st.st_size, sg->size);
		job_tree_end(sg->job, JOB_FAILED, &e);
		op_error_clear(&e);
		return;
	}
	sg->job->bytes = sg->size;
	job_tree_end(sg->job, JOB_DONE, NULL);
}

/* The first failure (a cancel is one) is the job's; every range stops. */
static void
stop(struct segget *sg, const struct op_error *err)
{
	if (!sg->failed) {
		sg->failed = true;
		op_error_copy(&sg->err, err);
	}
	if (sg->stopping)
		return;
	sg->stopping = true;
	if (sg->stat != NULL && sg->job->sess != NULL)
		session_cancel_op(sg->job->sess, sg->stat);
	for (int i = 0; i < sg->n; i++)
		if (sg->seg[i].xfer != NULL)
			job_cancel(sg->seg[i].xfer);
}

static void
seg_progress(struct job *x, void *arg)
{
	struct segment	*s = arg;
	struct segget	*sg = s->sg;
	int64_t		 sum = sg->bytes_done;

	s->bytes = x->bytes;
	for (int i = 0; i < sg->n; i++)
		if (!sg->seg[i].ended)
			sum += sg->seg[i].bytes;
	sg->job->bytes = sum;
	job_tree_progress(sg->job, true);
}

static void
seg_end(struct job *x, void *arg)
{
	struct segment	*s = arg;
	struct segget	*sg = s->sg;

	s->xfer = NULL;
	s->ended = true;
	sg->bytes_done += x->bytes;
	if (x->state != JOB_DONE)
		stop(sg, &x->err);
	else
		log_debug("job %s: range %" PRId64 "-%" PRId64 " done",
		    sg->job->id, s->start, s->end);
	if (all_ended(sg))
		segget_end(sg);
}

/* A range's download: REST at its start, pwrite from there; false
 * with *err set when it cannot start. */
static bool
seg_launch(struct segget *sg, struct segment *s, struct op_error *err)
{
	struct ftp_op	*op;
	const char	*why = NULL;
	int		 fd;

	if ((fd = dup(sg->fd)) == -1) {
		op_error_set(err, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot share "
		    "the local file: %s", strerror(errno));
		return false;
	}
	op = ftp_op_new(OP_GET, sg->job->path);
	op->offset = s->start;
	op->end = s->end;
	op->total = sg->size;
	op->rl = rl_on(&sg->job->rl) ? &sg->job->rl : NULL;
	if (localfd_open(&op->lfd, fd, true, 0, &why) == -1 ||
	    localfd_positional(&op->lfd, s->start) == -1) {
		op_error_set(err, FTPA_ERR_LOCAL_IO, 0, NULL, "%s",
		    why ? why : "segments need a regular file");
		ftp_op_free(op);
		return false;
	}
	s->hooks.progress = seg_progress;
	s->hooks.end = seg_end;
	s->hooks.arg = s;
	s->xfer = job_new_step(sg->job->uid, sg->job->sess, op, false,
	    &s->hooks);
	job_start(s->xfer);
	return true;
}

/* The size is known: the ranges, each of SEGMENT_MIN at least. */
static void
seg_plan(struct segget *sg)
{
	struct op_error	e = { 0 };
	int64_t		 n = sg->size / SEGMENT_MIN;

	sg->n = n < 1 ? 1 : n < sg->want ? (int)n : sg->want;
	if (ftruncate(sg->fd, sg->size) == -1) {
		op_error_set(&e, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot size the "
		    "local file: %s", strerror(errno));
		sg->n = 0;
		stop(sg, &e);
		op_error_clear(&e);
		segget_end(sg);
		return;
	}
	for (int i = 0; i < sg->n; i++) {
		sg->seg[i].sg = sg;
		sg->seg[i].start = sg->size * i / sg->n;
		sg->seg[i].end = sg->size * (i + 1) / sg->n;
	}
	log_info("job %s: %" PRId64 " bytes in %d ranges", sg->job->id,
	    sg->size, sg->n);
	for (int i = 0; i < sg->n; i++) {
		if (!sg->stopping && seg_launch(sg, &sg->seg[i], &e))
			continue;
		/* it never starts (the job stops, or it could not start): it
		 * has ended, or the job would wait for it forever */
		sg->seg[i].ended = true;
		if (!sg->stopping)
			stop(sg, &e);
		op_error_clear(&e);
	}
	if (all_ended(sg))
		segget_end(sg);
}

static void
stat_done(struct ftp_op *op, void *arg)
{
	struct segget	*sg = arg;
	struct op_error	 e = { 0 };

	sg->stat = NULL;
	if (op->failed || op->res.n_entries != 1 ||
	    op->res.entries[0].type != FTP_ENTRY_FILE ||
	    op->res.entries[0].size < 0) {
		if (op->failed)
			op_error_copy(&e, &op->err);
		else
			op_error_set(&e, FTPA_ERR_NOT_FOUND, 0, NULL, "%s: not "
			    "a file of known size (segments need one)",
			    sg->job->path);
		ftp_op_free(op);
		stop(sg, &e);
		op_error_clear(&e);
		segget_end(sg);
		return;
	}
	sg->size = op->res.entries[0].size;
	sg->job->total = sg->size;
	ftp_op_free(op);
	if (sg->stopping) {
		segget_end(sg);
		return;
	}
	seg_plan(sg);
}

void
segget_start(struct segget *sg)
{
	sg->stat = ftp_op_new(OP_STAT, sg->job->path);
	sg->stat->done = stat_done;
	sg->stat->arg = sg;
	session_submit(sg->job->sess, sg->stat);
}

void
segget_cancel(struct segget *sg, const char *why)
{
	struct op_error	e = { 0 };

	op_error_set(&e, FTPA_ERR_CANCELLED, 0, NULL, "%s", why);
	stop(sg, &e);
	op_error_clear(&e);
}
