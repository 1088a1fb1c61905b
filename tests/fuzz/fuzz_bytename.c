/*
 * Byte-safe names (protocol/bytename.c).
 *
 * The input is a name's bytes. Checks: the escaped form is valid UTF-8
 * (by ftpa_utf8_seq and by jansson, an independent decoder) at most three
 * times as long; decoding it gives the original bytes back (the promise
 * that makes the mapping one-to-one); a name ftpa_bytes_plain accepts is
 * left alone; ftpa_bytes_escaped tells the two apart; ftpa_utf8_seq
 * agrees with jansson on what is valid UTF-8; unescaping any input never
 * grows it; and ftpa_bytes_json gives a string that decodes to the name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bytename.h"
#include "fuzz.h"

/* Valid UTF-8 by ftpa_utf8_seq, NUL bytes included. */
static bool
utf8_valid(const char *s, size_t len)
{
	size_t	 i = 0, n;

	while (i < len) {
		if ((n = ftpa_utf8_seq((const unsigned char *)s + i,
		    len - i)) == 0)
			return false;
		FUZZ_CHECK(n <= 4 && n <= len - i);
		i += n;
	}
	return true;
}

/* Valid UTF-8 by jansson, which refuses anything else in a string. */
static bool
jansson_valid(const char *s, size_t len)
{
	json_t	*j;

	if ((j = json_stringn(s, len)) == NULL)
		return false;
	json_decref(j);
	return true;
}

static void
check_escape(const char *name, size_t len)
{
	char	*esc, *dec;
	size_t	 elen = 12345, dlen;
	bool	 plain;

	plain = ftpa_bytes_plain(name, len);
	esc = ftpa_bytes_escape(name, len, &elen);
	FUZZ_CHECK(esc != NULL);
	FUZZ_CHECK(elen <= 3 * len && esc[elen] == '\0');
	FUZZ_CHECK(utf8_valid(esc, elen));
	FUZZ_CHECK(jansson_valid(esc, elen));
	if (plain)
		FUZZ_CHECK(elen == len && memcmp(esc, name, len) == 0);
	if (memchr(name, '\0', len) == NULL) {
		FUZZ_CHECK(strlen(esc) == elen);
		FUZZ_CHECK(ftpa_bytes_escaped(esc) == !plain);
	}
	/* the round trip */
	dec = fuzz_strndup(esc, elen);
	dlen = ftpa_bytes_unescape(dec, elen);
	FUZZ_CHECK(dlen == len && memcmp(dec, name, len) == 0);
	FUZZ_CHECK(dec[dlen] == '\0');
	free(esc);
	/* *outlen is optional */
	esc = ftpa_bytes_escape(name, len, NULL);
	FUZZ_CHECK(esc != NULL && strlen(esc) <= elen);
	free(esc);
	free(dec);
}

/* Any bytes, decoded as if they came from a client. */
static void
check_unescape(const char *name, size_t len)
{
	char	*s = fuzz_strndup(name, len);
	size_t	 n;

	n = ftpa_bytes_unescape(s, len);
	FUZZ_CHECK(n <= len && s[n] == '\0');
	free(s);
}

static void
check_json(const char *name, size_t len)
{
	char		*s = fuzz_strndup(name, len), *dec;
	const char	*v;
	json_t		*j;
	size_t		 n, slen = strlen(s);

	j = ftpa_bytes_json(s);
	FUZZ_CHECK(j != NULL && json_is_string(j));
	v = json_string_value(j);
	n = json_string_length(j);
	dec = fuzz_strndup(v, n);
	FUZZ_CHECK(ftpa_bytes_unescape(dec, n) == slen &&
	    memcmp(dec, s, slen) == 0);
	free(dec);
	json_decref(j);
	j = ftpa_bytes_json(NULL);
	FUZZ_CHECK(json_is_null(j));
	json_decref(j);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*name = fuzz_dup(data, size);

	/* the two decoders agree on what is UTF-8 */
	FUZZ_CHECK(utf8_valid(name, size) == jansson_valid(name, size));
	check_escape(name, size);
	check_unescape(name, size);
	check_json(name, size);
	free(name);
	return 0;
}
