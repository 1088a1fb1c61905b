#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytename.h"
#include "escape.h"

/* Appends to a buffer that may be too small, counting what would go in. */
struct sink {
	char	*dst;
	size_t	 cap;
	size_t	 len;		/* the whole length, also past cap */
};

static void
put(struct sink *k, const char *s, size_t n)
{
	size_t room;

	if (k->len + 1 < k->cap) {
		room = k->cap - 1 - k->len;
		memcpy(k->dst + k->len, s, n < room ? n : room);
	}
	k->len += n;
}

static void
put_octal(struct sink *k, unsigned char c)
{
	char b[5];

	b[0] = '\\';
	b[1] = '0' + (c >> 6);
	b[2] = '0' + ((c >> 3) & 7);
	b[3] = '0' + (c & 7);
	put(k, b, 4);
}

static void
put_byte(struct sink *k, unsigned char c)
{
	static const char named[] = "\aa\bb\tt\nn\vv\ff\rr";
	const char *p;
	char b[2];

	if (c == '\\') {
		put(k, "\\\\", 2);
		return;
	}
	for (p = named; *p != '\0'; p += 2)
		if ((unsigned char)p[0] == c) {
			b[0] = '\\';
			b[1] = p[1];
			put(k, b, 2);
			return;
		}
	put_octal(k, c);
}

/* The UTF-8 sequence at s is a C1 control (U+0080-U+009F)? */
static bool
is_c1(const unsigned char *s, size_t n)
{
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/* Runs over s; with k NULL only says whether anything needs escaping. */
static bool
escape_run(struct sink *k, const char *s, size_t len, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, j;
	bool changed = false;

	while (i < len) {
		if (p[i] < 0x80) {
			if ((p[i] >= 0x20 && p[i] != 0x7f && p[i] != '\\') ||
			    (p[i] == '\n' && (flags & ESCAPE_KEEP_NL))) {
				if (k != NULL)
					put(k, s + i, 1);
			} else {
				changed = true;
				if (k == NULL)
					return true;
				put_byte(k, p[i]);
			}
			i++;
			continue;
		}
		n = ftpa_utf8_seq(p + i, len - i);
		if (n > 0 && !(flags & ESCAPE_ASCII) && !is_c1(p + i, n)) {
			if (k != NULL)
				put(k, s + i, n);
			i += n;
			continue;
		}
		/* not UTF-8 here: this one byte; else the whole character */
		if (n == 0)
			n = 1;
		changed = true;
		if (k == NULL)
			return true;
		for (j = 0; j < n; j++)
			put_octal(k, p[i + j]);
		i += n;
	}
	return changed;
}

size_t
escape_buf(char *dst, size_t dstlen, const char *s, size_t len,
    unsigned flags)
{
	struct sink k = { dst, dstlen, 0 };

	escape_run(&k, s, len, flags);
	if (dstlen > 0)
		dst[k.len < dstlen ? k.len : dstlen - 1] = '\0';
	return k.len;
}

bool
escape_needed(const char *s, size_t len, unsigned flags)
{
	return escape_run(NULL, s, len, flags);
}

char *
escape_str(const char *s, unsigned flags)
{
	size_t len = strlen(s), n;
	char *out;

	n = escape_buf(NULL, 0, s, len, flags);
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	escape_buf(out, n + 1, s, len, flags);
	return out;
}

static void
put_u(struct sink *k, unsigned cp)
{
	static const char hex[] = "0123456789abcdef";
	char b[6] = { '\\', 'u', hex[(cp >> 12) & 0xf], hex[(cp >> 8) & 0xf],
	    hex[(cp >> 4) & 0xf], hex[cp & 0xf] };

	put(k, b, 6);
}

/* The code point of the valid UTF-8 sequence of n bytes at s. */
static unsigned
utf8_decode(const unsigned char *s, size_t n)
{
	unsigned cp;
	size_t i;

	if (n == 1)
		return s[0];
	cp = s[0] & (0xff >> (n + 1));
	for (i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

char *
escape_json(const char *json, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)json;
	size_t len = strlen(json), i, n;
	struct sink k = { NULL, 0, 0 };
	unsigned cp;
	int pass;

	/* the first pass measures, the second writes */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if ((k.dst = malloc(k.len + 1)) == NULL)
				return NULL;
			k.cap = k.len + 1;
			k.len = 0;
		}
		for (i = 0; i < len; i += n) {
			n = 1;
			if (p[i] < 0x80) {
				if (p[i] == 0x7f || (p[i] < 0x20 &&
				    p[i] != '\t' && p[i] != '\n' && p[i] != '\r'))
					put_u(&k, p[i]);
				else
					put(&k, json + i, 1);
				continue;
			}
			if ((n = ftpa_utf8_seq(p + i, len - i)) == 0) {
				n = 1;
				put_u(&k, 0xfffd);
				continue;
			}
			cp = utf8_decode(p + i, n);
			if (cp >= 0xa0 && !(flags & ESCAPE_ASCII))
				put(&k, json + i, n);
			else if (cp < 0x10000)
				put_u(&k, cp);
			else {
				cp -= 0x10000;
				put_u(&k, 0xd800 + (cp >> 10));
				put_u(&k, 0xdc00 + (cp & 0x3ff));
			}
		}
	}
	k.dst[k.len] = '\0';
	return k.dst;
}
