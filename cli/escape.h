/*
 * Text that is safe to show on a terminal. A server names its files as it
 * likes, and a name holding ESC ] 0 ; ... BEL or ESC [ 2 J would retitle
 * the window or clear the screen of whoever lists it. So
 * what ftpctl prints to a terminal passes through here first, and the
 * control characters come out as C escapes, the way GNU ls -b shows them.
 * Pure functions: whether the output is a terminal is output.c's business.
 */
#ifndef FTPCTL_ESCAPE_H
#define FTPCTL_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#define ESCAPE_ASCII	0x1	/* also every byte >= 0x80: for a terminal
				   whose charset is not UTF-8 */
#define ESCAPE_KEEP_NL	0x2	/* leave '\n' alone: text of several lines
				   (a multi-line FTP reply) */

/*
 * Escapes len bytes at s into dst (dstlen bytes, always NUL-terminated
 * when dstlen > 0, cut short like snprintf) and returns the length of the
 * whole escaped form, so a result >= dstlen means it did not fit.
 *
 * Escaped: the C0 controls (0x00-0x1f) and DEL (0x7f); the C1 controls
 * U+0080-U+009F in their UTF-8 form (C2 80 - C2 9F), which UTF-8
 * terminals obey as well; every byte that is not part of a valid UTF-8
 * sequence (stray continuation bytes, overlong forms, surrogates, cut
 * sequences, F5-FF); with ESCAPE_ASCII every byte >= 0x80; and the
 * backslash, so that the escaped form reads back one way only. The form
 * is C's: \a \b \t \n \v \f \r, \\ for the backslash, and \ooo (three
 * octal digits) for any other escaped byte: ESC is \033, DEL \177,
 * U+009B \302\233, a lone byte 0xff \377. Everything else, printable
 * UTF-8 included, is copied as it is.
 */
size_t	escape_buf(char *dst, size_t dstlen, const char *s, size_t len,
	    unsigned flags);

/* True when escape_buf would change the len bytes at s. */
bool	escape_needed(const char *s, size_t len, unsigned flags);

/* The escaped form of the NUL-terminated s, from malloc (caller frees);
 * NULL when out of memory. */
char	*escape_str(const char *s, unsigned flags);

/*
 * JSON text for a terminal, meaning the same JSON: DEL and the UTF-8
 * forms of U+0080-U+009F (which can only stand inside strings) become
 * \u007f and \u0080-\u009f; with ESCAPE_ASCII every non-ASCII character
 * becomes \uXXXX (a surrogate pair above U+FFFF); a byte that is not
 * valid UTF-8, which JSON cannot hold, becomes \ufffd; a raw C0 control
 * other than tab, newline and return becomes \u00XX. From malloc (caller
 * frees); NULL when out of memory.
 */
char	*escape_json(const char *json, unsigned flags);

#endif
