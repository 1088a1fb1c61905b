/*
 * Transfer commands: TYPE, SIZE and REST before RETR, STOR or APPE (and
 * the LIST or MLSD of a listing), their 1xx and final replies, and when a
 * transfer has succeeded (the data's end and a 2xx, the size expected).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>

#include "ftp_cmd.h"
#include "ftp_parse.h"
#include "log.h"
#include "localfd.h"
#include "ftp_priv.h"
#include "util.h"

/* ---- transfers (get, put, list) --------------------------------------- */

/* Success needs both the end of the data and a final 2xx, in either order. */
void
xfer_maybe_finish(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	int64_t		 expect;

	if (op == NULL || !op->data_eof || !op->final_seen)
		return;
	/* we closed a range's data connection: whatever the server says of
	 * that (426, 451, 226), the range is here */
	if (op->range_done) {
		op_succeed(c);
		return;
	}
	if (xfer_failing(c)) {
		xfer_fail_final(c);
		return;
	}
	if (c->data_truncated) {
		op->cut_short = true;
		op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL,
		    "the TLS data connection ended without close_notify: the "
		    "transfer may be truncated");
		return;
	}
	if (op->stat_listing) {
		stat_list_finish(c);
		return;
	}
	if (op->kind == OP_LIST) {
		list_finish(c);
		return;
	}
	/* in ASCII the byte counts of the two ends differ */
	if (op->kind == OP_GET && op->total >= 0 && !op->ascii) {
		expect = op->total - op->offset;
		if (expect >= 0 && op->bytes != expect) {
			op->cut_short = op->bytes < expect;
			op_fail(c, FTPA_ERR_PROTOCOL, 0, NULL,
			    "partial transfer: received %" PRId64 " of %" PRId64
			    " bytes", op->bytes, expect);
			return;
		}
	}
	op_succeed(c);
}

static enum ftpa_err
xfer_error_kind(struct ftp_op *op, int code, const char *text)
{
	if (op->kind == OP_PUT)
		return FTPA_ERR_FTP;
	if (code == 550 || (code == 450 && ftp_says_missing(text)))
		return FTPA_ERR_NOT_FOUND;
	return FTPA_ERR_FTP;
}

bool
xfer_failing(const struct ftp_conn *c)
{
	return c->op != NULL && c->op->final_seen && c->op->final_code / 100 != 2;
}

static void
xfer_fail(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];

	first_line(text, line, sizeof(line));
	if (code == 552)
		op_fail(c, FTPA_ERR_FTP, code, text, "server storage full: %d %s",
		    code, line);
	else
		op_fail(c, xfer_error_kind(op, code, text), code, text, "%s %s: %d %s",
		    ftp_op_kind_name(op->kind), op->path, code, line);
}

void
xfer_fail_final(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;
	char		*text = op->final_text;

	op->final_text = NULL;
	xfer_fail(c, op->final_code, text ? text : "");
	free(text);
}

/*
 * A download refused mid-way (426, 451): the reply and the data's end
 * race on two connections, and the reply may come first. What the server
 * sent is still read, so that a retry resumes after it instead of
 * starting over; the data gets DRAIN_WAIT to end.
 */
static bool
xfer_fail_after_data(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;

	if (op->kind != OP_GET || !op->prelim_seen || c->data == NULL ||
	    c->dstate != DATA_READY)
		return false;
	log_debug("%d before the end of the data: reading what came first",
	    code);
	op->final_seen = true;
	op->final_code = code;
	free(op->final_text);
	op->final_text = xstrdup(text);
	io_set_timeout(c->data, data_idle_timeout(c));
	return true;
}

void
xfer_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	char		 line[200];
	int64_t		 sz;

	first_line(text, line, sizeof(line));
	if (code / 100 == 1) {
		op->prelim_seen = true;
		ka_start(c);
		/* the data connection has its own idle timeout meanwhile;
		 * once it is gone, the final reply keeps its deadline */
		if (c->data != NULL)
			io_set_timeout(c->io, 0);
		/* after REST servers disagree on what the 150 size means */
		if (op->kind == OP_GET && op->offset == 0 && !op->ascii &&
		    ftp_parse_150_size(text, &sz) == 0) {
			/* it agrees with SIZE: later downloads save that
			 * round trip (one per file in a loop of small ones) */
			if (op->total == sz && !c->p->size_in_150) {
				log_debug("the 150 reply gives the size: no SIZE "
				    "before downloads from now on");
				c->p->size_in_150 = true;
			}
			if (op->total < 0)
				op->total = sz;
		}
		ev_timer_stop(loop_get(), &c->tls_wait_timer);
		if (data_tls_may_start(c)) {
			data_start_tls(c);
			return;
		}
		put_maybe_start(c);
		return;
	}
	if (code / 100 == 2) {
		op->final_seen = true;
		op->final_code = code;
		/* while draining after close_notify everything has been sent */
		if (op->kind == OP_PUT && !op->data_eof &&
		    c->dstate != DATA_DRAINING) {
			conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
			    "the server ended the upload before all data was sent: %d %s",
			    code, line);
			return;
		}
		/* in active mode the accept may still be on its way */
		if (!op->data_eof && c->data == NULL && c->lsn_fd == -1) {
			conn_drop(c, FTPA_ERR_PROTOCOL, code, text,
			    "transfer reply without a data connection");
			return;
		}
		xfer_maybe_finish(c);
		return;
	}
	/* MLSD of a file or of nothing: ls shows a file's entry */
	if (op->kind == OP_LIST && c->has_mlst && !op->prelim_seen &&
	    !op->list_single && code / 100 == 5 && op->path[0] != '\0') {
		list_not_dir(c, code, text);
		return;
	}
	if (op->range_done) {
		op->final_seen = true;
		op->final_code = code;
		xfer_maybe_finish(c);
		return;
	}
	if (xfer_fail_after_data(c, code, text))
		return;
	/* the server gave up mid-transfer; its data channel is gone too
	 * (op_fail closes ours) */
	xfer_fail(c, code, text);
}

void
retr_send(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	/* downloads read from now on (under TLS, once it is up) */
	if (op->kind != OP_PUT && c->dstate == DATA_READY)
		io_resume(c->data);

	if (op->kind == OP_GET)
		op_send(c, STEP_XFER, "RETR %s", op->path);
	else if (op->kind == OP_PUT)
		op_send(c, STEP_XFER, "%s %s", op->append ? "APPE" : "STOR",
		    op->path);
	else if (c->away)
		/* a listing's CWD entered the directory (only those leave
		 * the login directory within an op) */
		op_send(c, STEP_XFER, "LIST");
	else if (op->stat_listing) {
		/* stat's last resort: the parent's LIST (never MLSD here) */
		char	*parent = xstrndup(op->path,
		    ftp_path_parent_len(op->path));

		op_send(c, STEP_XFER, parent[0] ? "LIST %s" : "LIST%s", parent);
		free(parent);
	} else if (c->has_mlst)
		op_send(c, STEP_XFER, op->path[0] ? "MLSD %s" : "MLSD%s", op->path);
	else
		op_send(c, STEP_XFER, op->path[0] ? "LIST %s" : "LIST%s", op->path);
	data_tls_arm(c);
}

void
rest_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code != 350) {
		if (c->op->rest_restart && localfd_rewind(&c->op->lfd,
		    c->op->kind == OP_GET) == 0) {
			/* asked for: start over from the first byte */
			log_debug("REST refused; restarting %s from zero",
			    c->op->path);
			c->op->offset = 0;
			c->op->bytes = 0;
			c->op->restarted = true;
			retr_send(c);
			return;
		}
		op_fail(c, FTPA_ERR_FTP, code, text,
		    "the server cannot resume (REST refused): %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	retr_send(c);
}

/* The data connection is up (passive) or announced (active). */
void
xfer_data_ready(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	if (op->offset > 0 && !op->append)
		op_send(c, STEP_REST, "REST %" PRId64, op->offset);
	else
		retr_send(c);
}

void
size_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	int64_t		 sz;

	if (code == 213 && ftp_parse_size(text, &sz) == 0)
		op->total = sz;
	/* a resume is checked against the size first: past the end is an error */
	if (op->offset > 0 && op->total >= 0 && !op->ascii) {
		if (op->offset > op->total) {
			op_fail(c, FTPA_ERR_FTP, 0, NULL, "cannot resume %s at byte "
			    "%" PRId64 ": the file has only %" PRId64 " bytes",
			    op->path, op->offset, op->total);
			return;
		}
		if (op->offset == op->total) {
			op_succeed(c);		/* complete already: nothing to move */
			return;
		}
	}
	data_open(c);
}

void
type_reply(struct ftp_conn *c, int code, const char *text)
{
	char	line[200];

	if (code / 100 != 2) {
		op_fail(c, FTPA_ERR_FTP, code, text, "TYPE refused: %d %s", code,
		    first_line(text, line, sizeof(line)));
		return;
	}
	c->cur_type = c->op->ascii ? 'A' : 'I';
	op_typed(c);
}

void
with_type(struct ftp_conn *c, char want)
{
	if (c->cur_type == want) {
		op_typed(c);
		return;
	}
	op_send(c, STEP_TYPE, "TYPE %c", want);
}

void
get_typed(struct ftp_conn *c)
{
	struct ftp_op	*op = c->op;

	/* the size is needed first only to check a resume */
	if (c->p->size_in_150 && op->offset == 0 && !op->ascii) {
		data_open(c);
		return;
	}
	op_send(c, STEP_SIZE, "SIZE %s", op->path);
}

/* An upload tried again goes on from what the server has, if it says. */
void
put_size_reply(struct ftp_conn *c, int code, const char *text)
{
	struct ftp_op	*op = c->op;
	int64_t		 sz;

	op->put_resume = false;
	if (code == 213 && ftp_parse_size(text, &sz) == 0 && sz > 0 &&
	    localfd_seek(&op->lfd, sz) == 0) {
		log_debug("resuming the upload of %s at byte %" PRId64,
		    op->path, sz);
		op->offset = sz;
	} else if (localfd_rewind(&op->lfd, false) == 0)
		op->offset = 0;
	else {
		op_fail(c, FTPA_ERR_LOCAL_IO, 0, NULL, "cannot go back in the "
		    "local file to retry the upload");
		return;
	}
	data_open(c);
}

void
put_typed(struct ftp_conn *c)
{
	if (c->op->put_resume) {
		op_send(c, STEP_PUT_SIZE, "SIZE %s", c->op->path);
		return;
	}
	data_open(c);
}
