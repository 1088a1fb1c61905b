/*
 * The FTP reply reader (protocol/ftp_reply.c).
 *
 * Input: one byte whose low three bits repeat the payload 2^n times (so
 * that a small input can reach the 256 KiB reply limit), a chunk plan
 * (see fuzz.h), then the server's byte stream. The stream is read three
 * ways in lockstep: whole, in the fuzzer's chunks, and one byte at a time
 * (short streams); every chunk is an exact-size heap copy. All three must
 * see the same replies and fail at the same byte, and each reply must keep
 * the header's promises (code range, limits, text layout). A model of the
 * rules in ftp_reply.h, written from the header, reads the stream too:
 * same replies, same text, same error at the same byte.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_reply.h"
#include "fuzz.h"

#define STREAM_MAX	(320 * 1024)
#define BYTEWISE_MAX	2048

enum feed_status { FEED_REPLY, FEED_END, FEED_ERROR };

struct feeder {
	struct ftp_reply_reader	 r;
	struct fuzz_chunks	 plan;
	const char		*stream;
	size_t			 len;
	size_t			 used;		/* bytes consumed in total */
	size_t			 fed;		/* bytes handed out as chunks */
	char			*chunk;		/* exact-size copy */
	size_t			 chunk_len;
	size_t			 chunk_pos;
};

static void
feeder_init(struct feeder *f, const char *stream, size_t len,
    const struct fuzz_chunks *plan)
{
	memset(f, 0, sizeof(*f));
	ftp_reply_init(&f->r);
	f->plan = *plan;
	f->stream = stream;
	f->len = len;
}

static void
feeder_free(struct feeder *f)
{
	free(f->chunk);
	ftp_reply_free(&f->r);
}

static void
check_reply(const struct ftp_reply_reader *r)
{
	const char	*line, *nl;
	size_t		 lines = 0;

	FUZZ_CHECK(r->code >= 100 && r->code <= 599);
	FUZZ_CHECK(r->text != NULL);
	FUZZ_CHECK(strlen(r->text) == r->text_len);
	FUZZ_CHECK(r->text_len <= FTP_REPLY_TEXT_MAX);
	FUZZ_CHECK(r->nlines >= 1 && r->nlines <= FTP_REPLY_LINES_MAX);
	for (line = r->text;; line = nl + 1) {
		lines++;
		if ((nl = strchr(line, '\n')) == NULL) {
			FUZZ_CHECK(strlen(line) <= FTP_REPLY_LINE_MAX);
			break;
		}
		FUZZ_CHECK((size_t)(nl - line) <= FTP_REPLY_LINE_MAX);
	}
	FUZZ_CHECK(lines == r->nlines);
}

/* Runs the reader to its next reply, the end of the stream, or an error. */
static enum feed_status
feeder_next(struct feeder *f)
{
	enum ftp_reply_status	 st;
	size_t			 consumed, left;

	for (;;) {
		if (f->chunk_pos == f->chunk_len) {
			if (f->fed == f->len)
				return FEED_END;
			free(f->chunk);
			f->chunk_len = fuzz_chunks_next(&f->plan, f->len - f->fed);
			f->chunk = fuzz_dup(f->stream + f->fed, f->chunk_len);
			f->chunk_pos = 0;
			f->fed += f->chunk_len;
		}
		left = f->chunk_len - f->chunk_pos;
		st = ftp_reply_parse(&f->r, f->chunk + f->chunk_pos, left,
		    &consumed);
		FUZZ_CHECK(consumed <= left);
		f->chunk_pos += consumed;
		f->used += consumed;
		switch (st) {
		case FTP_REPLY_OK:
			FUZZ_CHECK(consumed > 0);
			check_reply(&f->r);
			return FEED_REPLY;
		case FTP_REPLY_AGAIN:
			FUZZ_CHECK(consumed == left);
			break;
		case FTP_REPLY_ERROR:
			FUZZ_CHECK(f->r.error != FTP_REPLY_ERR_NONE);
			FUZZ_CHECK(strcmp(ftp_reply_strerror(f->r.error),
			    "unknown error") != 0);
			/* the error sticks */
			st = ftp_reply_parse(&f->r, "220 x\r\n", 7, &consumed);
			FUZZ_CHECK(st == FTP_REPLY_ERROR && consumed == 0);
			return FEED_ERROR;
		default:
			FUZZ_CHECK(!"unknown status");
		}
	}
}

/* ---- the model ------------------------------------------------------------- */

struct model {
	const char		*s;
	size_t			 len;
	size_t			 used;
	int			 code;
	char			*text;		/* FTP_REPLY_TEXT_MAX + 1 */
	size_t			 text_len;
	size_t			 nlines;
	enum ftp_reply_error	 error;
};

static int
model_code(const char *l, size_t n)
{
	if (n < 3 || l[0] < '0' || l[0] > '9' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9')
		return -1;
	return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/* Adds a line of text; false when the reply would pass its limit. */
static bool
model_append(struct model *m, const char *p, size_t n)
{
	if (m->text_len + n + (m->nlines > 0) > FTP_REPLY_TEXT_MAX)
		return false;
	if (m->nlines > 0)
		m->text[m->text_len++] = '\n';
	memcpy(m->text + m->text_len, p, n);
	m->text_len += n;
	m->text[m->text_len] = '\0';
	m->nlines++;
	return true;
}

static enum feed_status
model_fail(struct model *m, enum ftp_reply_error error, size_t at)
{
	m->error = error;
	m->used = at + 1;
	return FEED_ERROR;
}

/* One complete line l of n bytes (line end removed): 1 the reply ends,
 * 0 it goes on, -1 error. */
static int
model_line(struct model *m, const char *l, size_t n, int *open, bool *multi)
{
	int	 code = model_code(l, n);

	if (m->nlines >= FTP_REPLY_LINES_MAX) {
		m->error = FTP_REPLY_ERR_TOO_MANY_LINES;
		return -1;
	}
	if (*open == 0) {
		if (code < 100 || code > 599 ||
		    (n > 3 && l[3] != ' ' && l[3] != '-')) {
			m->error = FTP_REPLY_ERR_BAD_CODE;
			return -1;
		}
		*open = code;
		*multi = n > 3 && l[3] == '-';
	} else if (code == -1 || (n > 3 && l[3] != ' ')) {
		/* inside a multi-line reply, kept as sent */
		if (!model_append(m, l, n)) {
			m->error = FTP_REPLY_ERR_TOO_BIG;
			return -1;
		}
		return 0;
	} else if (code < 100 || code > 599) {
		m->error = FTP_REPLY_ERR_BAD_CODE;
		return -1;
	} else
		*multi = false;
	if (!model_append(m, l + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0)) {
		m->error = FTP_REPLY_ERR_TOO_BIG;
		return -1;
	}
	m->code = code;
	return *multi ? 0 : 1;
}

static enum feed_status
model_next(struct model *m)
{
	size_t	 i, start = m->used, n;
	int	 open = 0, r;
	bool	 multi = false;

	m->text_len = m->nlines = 0;
	m->text[0] = '\0';
	for (i = start; i < m->len; i++) {
		if (m->s[i] == '\0')
			return model_fail(m, FTP_REPLY_ERR_NUL, i);
		n = i - start;
		if (m->s[i] != '\n') {
			/* one byte past the limit only for the CR of CRLF */
			if (n > FTP_REPLY_LINE_MAX ||
			    (n == FTP_REPLY_LINE_MAX && m->s[i] != '\r'))
				return model_fail(m, FTP_REPLY_ERR_LINE_TOO_LONG,
				    i);
			continue;
		}
		if (n > 0 && m->s[i - 1] == '\r')
			n--;
		if ((r = model_line(m, m->s + start, n, &open, &multi)) == -1)
			return model_fail(m, m->error, i);
		start = i + 1;
		if (r == 1) {
			m->used = i + 1;
			return FEED_REPLY;
		}
	}
	m->used = m->len;
	return FEED_END;
}

/* ---- the comparisons ------------------------------------------------------- */

static bool
same_reply(const struct ftp_reply_reader *a, const struct ftp_reply_reader *b)
{
	return a->code == b->code && a->nlines == b->nlines &&
	    a->text_len == b->text_len &&
	    memcmp(a->text, b->text, a->text_len) == 0;
}

/* The reader and the model agree on the next step. */
static void
check_model(struct model *m, enum feed_status st, const struct feeder *f)
{
	FUZZ_CHECK(model_next(m) == st);
	FUZZ_CHECK(m->used == f->used);
	if (st == FEED_REPLY) {
		FUZZ_CHECK(m->code == f->r.code && m->nlines == f->r.nlines);
		FUZZ_CHECK(m->text_len == f->r.text_len &&
		    memcmp(m->text, f->r.text, m->text_len) == 0);
	}
	if (st == FEED_ERROR)
		FUZZ_CHECK(m->error == f->r.error);
}

static char *
make_stream(const uint8_t *p, size_t len, unsigned reps, size_t *outlen)
{
	char	*s;
	size_t	 i;

	while (reps > 1 && len * reps > STREAM_MAX)
		reps /= 2;
	*outlen = len * reps;
	if ((s = malloc(*outlen > 0 ? *outlen : 1)) == NULL)
		abort();
	for (i = 0; i < reps && len > 0; i++)
		memcpy(s + i * len, p, len);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 one[1] = { 0 };
	static char		 model_text[FTP_REPLY_TEXT_MAX + 1];
	struct fuzz_in		 in = { data, size };
	struct model		 m;
	struct fuzz_chunks	 whole = { NULL, 0, 0, 1 }, chunks;
	struct fuzz_chunks	 bytewise = { one, 1, 0, 1 };
	struct feeder		 fa, fb, fc;
	enum feed_status	 sa, sb, sc;
	unsigned		 reps;
	char			*stream;
	size_t			 len;
	bool			 use_c;

	reps = 1u << (fuzz_u8(&in) & 7);
	fuzz_chunks_take(&chunks, &in, 0x0f);
	stream = make_stream(in.p, in.len, reps, &len);
	if (in.len > 0)
		chunks.scale = len / in.len;
	use_c = len <= BYTEWISE_MAX;

	feeder_init(&fa, stream, len, &whole);
	feeder_init(&fb, stream, len, &chunks);
	feeder_init(&fc, stream, len, &bytewise);
	memset(&m, 0, sizeof(m));
	m.s = stream;
	m.len = len;
	m.text = model_text;
	do {
		sa = feeder_next(&fa);
		check_model(&m, sa, &fa);
		sb = feeder_next(&fb);
		FUZZ_CHECK(sa == sb);
		FUZZ_CHECK(fa.used == fb.used);
		if (sa == FEED_REPLY)
			FUZZ_CHECK(same_reply(&fa.r, &fb.r));
		if (sa == FEED_ERROR)
			FUZZ_CHECK(fa.r.error == fb.r.error);
		if (use_c) {
			sc = feeder_next(&fc);
			FUZZ_CHECK(sa == sc);
			FUZZ_CHECK(fa.used == fc.used);
			if (sa == FEED_REPLY)
				FUZZ_CHECK(same_reply(&fa.r, &fc.r));
			if (sa == FEED_ERROR)
				FUZZ_CHECK(fa.r.error == fc.r.error);
		}
	} while (sa == FEED_REPLY);
	if (sa == FEED_END)
		FUZZ_CHECK(fa.used == len);
	feeder_free(&fa);
	feeder_free(&fb);
	feeder_free(&fc);
	free(stream);
	return 0;
}
