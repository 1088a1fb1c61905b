/*
 * Byte-safe names on a UTF-8 wire.
 *
 * FTP names are bytes; JSON strings are Unicode. A name that is not valid
 * UTF-8 crosses the wire with each offending byte b (0x80-0xff) written as
 * the private-use character U+F700+b (U+F780-U+F7FF). A real name that
 * already contains a character of that range has that character's bytes
 * escaped the same way, so the mapping is one-to-one: decoding what was
 * encoded gives the original bytes back, and a client that sends a name
 * back unchanged addresses the same file. Valid UTF-8 outside the range
 * is left alone, so ordinary names are untouched.
 */
#ifndef FTPA_BYTENAME_H
#define FTPA_BYTENAME_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (of at most len bytes), 0 when
 * the bytes there are not one. */
size_t	ftpa_utf8_seq(const unsigned char *s, size_t len);

/* True when s needs no escaping: valid UTF-8 without U+F780-U+F7FF. */
bool	ftpa_bytes_plain(const char *s, size_t len);

/* The wire form of len bytes at s: a NUL-terminated, valid UTF-8 string
 * from malloc (NULL only when out of memory). *outlen, when not NULL,
 * gets its length. */
char	*ftpa_bytes_escape(const char *s, size_t len, size_t *outlen);

/* Decodes the wire form in place: every U+F780-U+F7FF becomes its byte.
 * Returns the new length; s stays NUL-terminated. Never grows. */
size_t	ftpa_bytes_unescape(char *s, size_t len);

/* The wire form of the NUL-terminated s as a JSON string (json_null()
 * for NULL); NULL only when out of memory. */
struct json_t;
struct json_t	*ftpa_bytes_json(const char *s);

/* True when the NUL-terminated s holds an escape (needs unescaping). */
bool	ftpa_bytes_escaped(const char *s);

#endif
