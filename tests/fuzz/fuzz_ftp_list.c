/*
 * The listing parsers (protocol/ftp_list.c): MLSD, Unix "ls -l", DOS/IIS
 * and EPLF lines, and whole LIST/MLSD buffers.
 *
 * Input: eight bytes for "now" (any time_t), four for the LIST time zone offset (any long), one for the entry
 * limit, then the listing. Every line goes to every line parser as an
 * exact-size copy without a NUL, so a read past the line shows; then the
 * buffer parser reads the whole listing both ways. Checks: results the
 * header promises (name set, type in range, perm 07777 or -1, size -1 or
 * more, raw only on OTHER entries and equal to the name, targets only on
 * links), outputs untouched when a parser does not return an entry, one
 * entry at most per line, and the entry limit.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftp_list.h"
#include "fuzz.h"

static void
check_entry(const struct ftp_entry *e, size_t linelen)
{
	FUZZ_CHECK(e->name != NULL);
	FUZZ_CHECK((unsigned)e->type < FTP_ENTRY_TYPE_LAST);
	FUZZ_CHECK(strcmp(ftp_entry_type_name(e->type), "other") != 0 ||
	    e->type == FTP_ENTRY_OTHER);
	FUZZ_CHECK(e->size >= -1);
	FUZZ_CHECK(e->perm == -1 || (e->perm >= 0 && e->perm <= 07777));
	FUZZ_CHECK(strlen(e->name) <= linelen);
	FUZZ_CHECK(strchr(e->name, '\n') == NULL);
	if (e->raw != NULL) {
		FUZZ_CHECK(e->type == FTP_ENTRY_OTHER);
		FUZZ_CHECK(strcmp(e->raw, e->name) == 0);
	}
	if (e->target != NULL) {
		FUZZ_CHECK(e->type == FTP_ENTRY_LINK);
		FUZZ_CHECK(e->target[0] != '\0');
		FUZZ_CHECK(strlen(e->target) <= linelen);
	}
}

/* A line parser's result: an entry, or *out left as it was. */
static void
check_line_result(enum ftp_list_result r, struct ftp_entry *e, size_t len,
    bool dated)
{
	FUZZ_CHECK(r == FTP_LIST_ENTRY || r == FTP_LIST_SKIP ||
	    r == FTP_LIST_BAD);
	if (r != FTP_LIST_ENTRY) {
		FUZZ_CHECK(e->name == (char *)1 && e->raw == (char *)1 &&
		    e->target == (char *)1 && e->size == -42);
		return;
	}
	check_entry(e, len);
	FUZZ_CHECK(e->raw == NULL);
	FUZZ_CHECK(e->name[0] != '\0');
	FUZZ_CHECK(strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0);
	/* Unix and DOS lines cannot be read without their date */
	if (dated)
		FUZZ_CHECK(e->mtime != INT64_MIN);
	ftp_entry_clear(e);
}

static void
poison(struct ftp_entry *e)
{
	e->name = e->raw = e->target = (char *)1;
	e->size = -42;
}

static void
check_lines(const char *buf, size_t len, time_t now)
{
	struct ftp_entry	 e;
	const char		*line, *nl, *end = buf + len;
	char			*copy;
	size_t			 n;

	for (line = buf; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		n = (size_t)(nl - line);
		copy = fuzz_dup(line, n);
		poison(&e);
		check_line_result(ftp_list_parse_mlsd(copy, n, &e), &e, n,
		    false);
		poison(&e);
		check_line_result(ftp_list_parse_unix(copy, n, now, &e), &e, n,
		    true);
		poison(&e);
		check_line_result(ftp_list_parse_dos(copy, n, &e), &e, n, true);
		poison(&e);
		check_line_result(ftp_list_parse_eplf(copy, n, &e), &e, n,
		    false);
		free(copy);
	}
}

static void
check_buffer(const char *buf, size_t len, bool mlsd, time_t now, long tz,
    size_t max)
{
	struct ftp_entry	*v = (struct ftp_entry *)1;
	size_t			 n = 12345, i, lines = 0;

	for (i = 0; i < len; i++)
		lines += buf[i] == '\n';
	if (len > 0 && buf[len - 1] != '\n')
		lines++;
	if (ftp_list_parse_buffer(buf, len, mlsd, now, tz, max, &v, &n) == -1) {
		FUZZ_CHECK(v == (struct ftp_entry *)1 && n == 12345);
		return;
	}
	FUZZ_CHECK(v != NULL && v != (struct ftp_entry *)1);
	FUZZ_CHECK(n <= max && n <= lines);
	for (i = 0; i < n; i++) {
		check_entry(&v[i], len);
		FUZZ_CHECK(!mlsd || v[i].raw == NULL ||
		    v[i].type == FTP_ENTRY_OTHER);
	}
	ftp_entries_free(v, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	time_t		 now;
	long		 tz;
	size_t		 max;
	char		*buf;

	/* any clock at all (corpus/ftp_list/now-near-max) */
	now = (time_t)fuzz_u64(&in, 8);
	tz = (long)(int32_t)fuzz_u64(&in, 4);
	if (tz & 1)
		tz = tz % 100000;	/* real offsets, mostly */
	max = fuzz_u8(&in);
	max = max == 255 ? SIZE_MAX : max;
	buf = fuzz_dup(in.p, in.len);

	check_lines(buf, in.len, now);
	check_buffer(buf, in.len, true, now, tz, max);
	check_buffer(buf, in.len, false, now, tz, max);
	free(buf);
	return 0;
}
