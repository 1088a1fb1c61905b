/*
 * The segmented download of segget.h: the stat, the ranges (new, or
 * continued from the record an earlier run left, protocol/segrec.h), the
 * record kept up to date, and the parent job's progress and end.
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
#include "segrecord.h"
#include "session.h"
#include "util.h"

/* The record is rewritten at most this often (seconds) while ranges
 * run, and at once when one ends. */
#define SEGREC_INTERVAL	0.5

struct segment {
	struct segget	*sg;
	struct job	*xfer;		/* while it runs */
	int64_t		 start, end;	/* the range */
	int64_t		 from;		/* where this run began it */
	int64_t		 bytes;		/* since from, of the running job */
	int64_t		 held;		/* of bytes, not yet in the file */
	bool		 ended;
	bool		 whole;		/* written to its end */
	struct job_hooks hooks;
};

struct segget {
	struct job	*job;
	int		 fd;
	int		 want;		/* ranges asked for */
	int		 n;		/* ranges made */
	bool		 resume;	/* continue what the record says */
	bool		 recorded;	/* the file ends with a record */
	bool		 record_failed;	/* a write of it failed (logged) */
	double		 recorded_at;	/* its last write (now_mono) */
	int64_t		 size, mtime;	/* the remote file's */
	int64_t		 resumed;	/* bytes an earlier run wrote */
	int64_t		 bytes_done;	/* this run's, of the ranges that
					   ended */
	struct ftp_op	*stat;		/* the size, asked first */
	bool		 stopping;
	bool		 failed;
	struct op_error	 err;		/* the first failure */
	struct segment	 seg[SEGMENTS_MAX];
};

struct segget *
segget_new(int fd, int n, bool resume)
{
	struct segget	*sg = xcalloc(1, sizeof(*sg));

	sg->fd = fd;
	sg->resume = resume;
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

/* ---- the record (segrecord.h) ------------------------------------------------ */

/* How far s is known to be in the file: never what still waits in
 * memory (a record that claimed it would leave a hole after a crash). */
static int64_t
seg_written(const struct segment *s)
{
	int64_t	b = s->bytes - s->held;

	if (s->whole)
		return s->end;
	return s->from + (b > 0 ? b : 0);
}

/* The record at the file's end says where every range is; at most every
 * SEGREC_INTERVAL seconds unless now. A failed write leaves the last
 * one, which claims less: only a later run would redo more. */
static void
record_write(struct segget *sg, bool now)
{
	struct segrec	rec = { .size = sg->size, .mtime = sg->mtime };
	double		t = now_mono();

	if (!sg->recorded || (!now && t - sg->recorded_at < SEGREC_INTERVAL))
		return;
	sg->recorded_at = t;
	rec.n = sg->n;
	for (int i = 0; i < sg->n; i++) {
		rec.r[i].start = sg->seg[i].start;
		rec.r[i].done = seg_written(&sg->seg[i]);
		rec.r[i].end = sg->seg[i].end;
	}
	if (segrec_write(sg->fd, &rec) == -1 && !sg->record_failed) {
		sg->record_failed = true;	/* said once */
		log_warn("job %s: cannot record the ranges", sg->job->id);
	}
}

/* ---- the end ------------------------------------------------------------------ */

/* Every range has ended (or none was made): so does the parent. A
 * failed one leaves its record for a later run to continue from; a
 * whole one loses it (the file is cut to the remote size). */
static void
segget_end(struct segget *sg)
{
	struct stat	st;
	struct op_error	e = { 0 };

	if (sg->failed) {
		record_write(sg, true);
		job_tree_end(sg->job, sg->err.kind == FTPA_ERR_CANCELLED ?
		    JOB_CANCELLED : JOB_FAILED, &sg->err);
		return;
	}
	if (ftruncate(sg->fd, sg->size) == -1)
		op_error_set(&e, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot cut the "
		    "file to its size: %s", strerror(errno));
	else if (fstat(sg->fd, &st) == -1 || st.st_size != sg->size)
		op_error_set(&e, FTPA_ERR_PROTOCOL, 0, NULL, "the file has %jd "
		    "bytes where the server said %" PRId64, (intmax_t)
		    st.st_size, sg->size);
	if (e.kind != FTPA_ERR_NONE) {
		job_tree_end(sg->job, JOB_FAILED, &e);
		op_error_clear(&e);
		return;
	}
	sg->job->bytes = sg->size - sg->resumed;
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

/* ---- the ranges --------------------------------------------------------------- */

static void
seg_progress(struct job *x, void *arg)
{
	struct segment	*s = arg;
	struct segget	*sg = s->sg;
	int64_t		 sum = sg->bytes_done;

	s->bytes = x->bytes;
	s->held = x->op != NULL ? x->op->held : s->held;
	for (int i = 0; i < sg->n; i++)
		if (!sg->seg[i].ended)
			sum += sg->seg[i].bytes;
	sg->job->bytes = sum;
	record_write(sg, false);
	job_tree_progress(sg->job, true);
}

static void
seg_end(struct job *x, void *arg)
{
	struct segment	*s = arg;
	struct segget	*sg = s->sg;

	s->xfer = NULL;
	s->ended = true;
	/* s->held stays: the ended job's bytes may still count what the
	 * copy buffer held (a connection freed before its data closes), and
	 * s->held, taken at every move (a step's progress is not
	 * throttled: job.c progress_send), is at least that */
	s->bytes = x->bytes;
	s->whole = x->state == JOB_DONE;
	sg->bytes_done += x->bytes;
	if (x->state != JOB_DONE)
		stop(sg, &x->err);
	else
		log_debug("job %s: range %" PRId64 "-%" PRId64 " done",
		    sg->job->id, s->start, s->end);
	record_write(sg, true);
	if (all_ended(sg))
		segget_end(sg);
}

/* A range's download: REST where it goes on from, pwrite from there;
 * false with *err set when it cannot start. */
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
	op->offset = s->from;
	op->end = s->end;
	op->total = sg->size;
	op->rl = rl_on(&sg->job->rl) ? &sg->job->rl : NULL;
	if (localfd_open(&op->lfd, fd, true, 0, &why) == -1 ||
	    localfd_positional(&op->lfd, s->from) == -1) {
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

/* Where range i of n of a size-byte file starts: size * i / n, without
 * the product (a size near INT64_MAX would overflow it). */
static int64_t
cut_at(int64_t size, int i, int n)
{
	return size / n * i + size % n * i / n;
}

/* A new download: the ranges, each of SEGMENT_MIN at least, and room
 * for the record after the data. False when the file cannot be sized. */
static bool
seg_cut(struct segget *sg)
{
	struct op_error	e = { 0 };
	int64_t		n = sg->size / SEGMENT_MIN;

	if (ftruncate(sg->fd, sg->size + SEGREC_SIZE) == -1) {
		op_error_set(&e, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot size the "
		    "local file: %s", strerror(errno));
		stop(sg, &e);
		op_error_clear(&e);
		return false;
	}
	sg->n = n < 1 ? 1 : n < sg->want ? (int)n : sg->want;
	for (int i = 0; i < sg->n; i++) {
		sg->seg[i].start = sg->seg[i].from = cut_at(sg->size, i, sg->n);
		sg->seg[i].end = cut_at(sg->size, i + 1, sg->n);
		/* a file of no bytes: nothing to fetch */
		sg->seg[i].whole = sg->seg[i].start == sg->seg[i].end;
	}
	log_info("job %s: %" PRId64 " bytes in %d ranges", sg->job->id,
	    sg->size, sg->n);
	return true;
}

/* A download to continue: the ranges of the record, each from where it
 * was written to. */
static void
seg_adopt(struct segget *sg, const struct segrec *rec)
{
	sg->n = rec->n;
	for (int i = 0; i < sg->n; i++) {
		sg->seg[i].start = rec->r[i].start;
		sg->seg[i].from = rec->r[i].done;
		sg->seg[i].end = rec->r[i].end;
		sg->seg[i].whole = rec->r[i].done == rec->r[i].end;
		sg->resumed += rec->r[i].done - rec->r[i].start;
	}
	log_info("job %s: %" PRId64 " bytes in %d ranges, %" PRId64 " of them "
	    "written by an earlier run", sg->job->id, sg->size, sg->n,
	    sg->resumed);
}

/* The size is known: the ranges, new or continued, and their start. */
static void
seg_plan(struct segget *sg)
{
	struct op_error	 e = { 0 };
	struct segrec	 rec;
	const char	*why = NULL;

	if (sg->resume &&
	    segrec_read(sg->fd, sg->size, sg->mtime, &rec, &why) == 0)
		seg_adopt(sg, &rec);
	else {
		if (sg->resume)
			log_info("job %s: starting over: %s", sg->job->id, why);
		if (!seg_cut(sg)) {
			segget_end(sg);
			return;
		}
	}
	sg->job->total = sg->size - sg->resumed;
	sg->recorded = true;
	record_write(sg, true);
	for (int i = 0; i < sg->n; i++)
		sg->seg[i].sg = sg;
	for (int i = 0; i < sg->n; i++) {
		if (sg->seg[i].whole) {
			sg->seg[i].ended = true;
			continue;
		}
		/* a launched range may end inside seg_launch (seg_end) */
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
	    op->res.entries[0].size < 0 ||
	    op->res.entries[0].size > SEGGET_SIZE_MAX) {
		if (op->failed)
			op_error_copy(&e, &op->err);
		else if (op->res.n_entries == 1 &&
		    op->res.entries[0].size > SEGGET_SIZE_MAX)
			op_error_set(&e, FTPA_ERR_LIMIT, 0, NULL, "%s: the "
			    "server says %" PRId64 " bytes, more than a "
			    "segmented download takes", sg->job->path,
			    op->res.entries[0].size);
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
	sg->mtime = op->res.entries[0].mtime;
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
