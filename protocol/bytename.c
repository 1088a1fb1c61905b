#include <jansson.h>

#include "bytename.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ESC_BASE	0xf700u		/* byte b is written as ESC_BASE + b */

size_t
ftpa_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned int	c, need, cp, min;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < need + 1)
		return 0;
	for (unsigned int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

/* An escape character is EF 9E 80..BF or EF 9F 80..BF. */
static bool
is_escape(const unsigned char *s, size_t len)
{
	return len >= 3 && s[0] == 0xef && (s[1] == 0x9e || s[1] == 0x9f) &&
	    (s[2] & 0xc0) == 0x80;
}

bool
ftpa_bytes_plain(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = ftpa_utf8_seq(p + i, len - i)) == 0 ||
		    is_escape(p + i, len - i))
			return false;
		i += n;
	}
	return true;
}

char *
ftpa_bytes_escape(const char *s, size_t len, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned char		*out, *o;
	size_t			 i = 0, n;

	/* at worst every byte becomes three */
	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL)
		return NULL;
	o = out;
	while (i < len) {
		n = p[i] < 0x80 ? 1 : ftpa_utf8_seq(p + i, len - i);
		if (n != 0 && !is_escape(p + i, len - i)) {
			memcpy(o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		/* one offending byte, or each byte of a real U+F780-U+F7FF */
		n = n == 0 ? 1 : n;
		for (size_t k = 0; k < n; k++) {
			unsigned int cp = ESC_BASE + p[i + k];

			*o++ = 0xe0 | (cp >> 12);
			*o++ = 0x80 | ((cp >> 6) & 0x3f);
			*o++ = 0x80 | (cp & 0x3f);
		}
		i += n;
	}
	*o = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(o - out);
	return (char *)out;
}

size_t
ftpa_bytes_unescape(char *s, size_t len)
{
	unsigned char	*p = (unsigned char *)s, *o = p;
	size_t		 i = 0;

	while (i < len) {
		if (is_escape(p + i, len - i)) {
			unsigned int cp = ((p[i] & 0x0fu) << 12) |
			    ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu);

			*o++ = (unsigned char)(cp - ESC_BASE);
			i += 3;
		} else
			*o++ = p[i++];
	}
	*o = '\0';
	return (size_t)(o - p);
}

bool
ftpa_bytes_escaped(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (p[0] == 0xef && (p[1] == 0x9e || p[1] == 0x9f) &&
		    (p[2] & 0xc0) == 0x80)
			return true;
	return false;
}

json_t *
ftpa_bytes_json(const char *s)
{
	char	*e;
	size_t	 n;
	json_t	*j;

	if (s == NULL)
		return json_null();
	n = strlen(s);
	if (ftpa_bytes_plain(s, n))
		return json_stringn(s, n);
	if ((e = ftpa_bytes_escape(s, n, &n)) == NULL)
		return NULL;
	j = json_stringn(e, n);
	free(e);
	return j;
}
