/*
 * The wire codec (protocol/wire.c).
 *
 * The input is JSON text; its value, and each member of an object, is
 * read as an entry, a job and an error object. Checks: an entry read,
 * written and read again is the same entry, bytes and all; a job read
 * and written (its strings decoded to bytes first, as the library does)
 * is a fixed point: reading and writing that again gives the same
 * object; what is read is in range (states, attempts, reply codes 0 or
 * 100-599) and an error always has a message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bytename.h"
#include "fuzz.h"
#include "wire.h"

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
check_entry(const json_t *v)
{
	struct ftp_entry	 e, back;
	json_t			*o;

	if (wire_entry_read(v, &e) != 0)
		return;
	FUZZ_CHECK(e.name != NULL && e.type < FTP_ENTRY_TYPE_LAST);
	FUZZ_CHECK(e.size >= -1 && e.perm >= -1);
	o = wire_entry_json(&e);
	FUZZ_CHECK(o != NULL);
	FUZZ_CHECK(wire_entry_read(o, &back) == 0);
	FUZZ_CHECK(str_eq(e.name, back.name) && e.type == back.type &&
	    e.size == back.size && e.mtime == back.mtime &&
	    e.perm == back.perm && str_eq(e.target, back.target) &&
	    str_eq(e.raw, back.raw));
	ftp_entry_clear(&back);
	ftp_entry_clear(&e);
	json_decref(o);
}

/* A wire string as the bytes it stands for (NULL stays NULL). */
static char *
bytes_of(const char *s)
{
	char	*d;

	if (s == NULL)
		return NULL;
	d = fuzz_strndup(s, strlen(s));
	ftpa_bytes_unescape(d, strlen(d));
	return d;
}

/* Writes w with its wire-form strings decoded to bytes first. */
static json_t *
job_write(const struct wire_job *w)
{
	struct wire_job	 b = *w;
	char		*path = bytes_of(w->path), *msg = bytes_of(w->err.message);
	char		*text = bytes_of(w->err.ftp_text);
	json_t		*o;

	b.path = path;
	b.err.message = msg;
	b.err.ftp_text = text;
	o = wire_job_json(&b);
	free(path);
	free(msg);
	free(text);
	return o;
}

static void
check_job(const json_t *v)
{
	struct wire_job	 w;
	json_t		*o1, *o2;

	if (wire_job_read(v, &w) != 0)
		return;
	FUZZ_CHECK(w.id != NULL && w.state >= -1 &&
	    w.state < WIRE_JOB_STATE_LAST && w.attempts >= 0);
	if (w.err.message != NULL)
		FUZZ_CHECK(w.err.ftp_code == 0 ||
		    (w.err.ftp_code >= 100 && w.err.ftp_code <= 599));
	o1 = job_write(&w);
	FUZZ_CHECK(o1 != NULL);
	FUZZ_CHECK(wire_job_read(o1, &w) == 0);
	o2 = job_write(&w);
	FUZZ_CHECK(o2 != NULL && json_equal(o1, o2));
	json_decref(o1);
	json_decref(o2);
}

static void
check_error(const json_t *v)
{
	struct wire_error	 we;

	if (!json_is_object(v))
		return;
	wire_error_read(v, &we);
	FUZZ_CHECK(we.message != NULL && *we.message != '\0');
	FUZZ_CHECK(we.kind < FTPA_ERR_LAST);
	FUZZ_CHECK(we.ftp_code == 0 ||
	    (we.ftp_code >= 100 && we.ftp_code <= 599));
}

static void
check_value(const json_t *v)
{
	check_entry(v);
	check_job(v);
	check_error(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t		*root, *v;
	const char	*key;

	root = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, NULL);
	if (root == NULL)
		return 0;
	check_value(root);
	if (json_is_object(root))
		json_object_foreach(root, key, v)
			check_value(v);
	json_decref(root);
	return 0;
}
