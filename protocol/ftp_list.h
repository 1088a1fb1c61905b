/*
 * Directory listing parsers: MLSD/MLST facts (RFC 3659) and Unix "ls -l"
 * LIST lines in Unix, DOS/IIS and EPLF formats.
 */
#ifndef FTPA_FTP_LIST_H
#define FTPA_FTP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum ftp_entry_type {
	FTP_ENTRY_FILE,
	FTP_ENTRY_DIR,
	FTP_ENTRY_LINK,
	FTP_ENTRY_OTHER,
	FTP_ENTRY_TYPE_LAST
};

struct ftp_entry {
	char		*name;		/* malloc'd; never NULL after success */
	enum ftp_entry_type type;
	int64_t		 size;		/* -1: unknown */
	int64_t		 mtime;		/* seconds since epoch UTC; INT64_MIN: unknown */
	int		 perm;		/* permission bits 07777; -1: unknown */
	char		*target;	/* symlink target or NULL */
	char		*raw;		/* the line as sent, for entries no parser
					   could read (type OTHER); else NULL */
	uint64_t	 unique;	/* MLSD's "unique" fact, hashed: the same
					   object has the same; 0: unknown */
};

enum ftp_list_result {
	FTP_LIST_ENTRY,		/* *out filled */
	FTP_LIST_SKIP,		/* not an entry: "total N", ".", "..", cdir/pdir, blank */
	FTP_LIST_BAD,		/* unparseable */
};

/* "file", "dir", "link", "other" */
const char	*ftp_entry_type_name(enum ftp_entry_type);
void	ftp_entry_clear(struct ftp_entry *);

/* The line parsers write *out only when they return FTP_LIST_ENTRY (free
 * with ftp_entry_clear); FTP_LIST_BAD also covers running out of memory. */

/* One MLSD line: "fact=value;fact=value; name". Facts are case-insensitive;
 * type=file|dir|cdir|pdir|OS.unix=slink:target, size/sizd, modify,
 * UNIX.mode (octal), unique (RFC 3659 7.5.2, kept as a 64-bit hash). */
enum ftp_list_result	ftp_list_parse_mlsd(const char *line, size_t len,
	    struct ftp_entry *out);
/* One Unix "ls -l" line. now is used to pick the year of "Mon DD HH:MM"
 * dates (the most recent such date not more than a day in the future);
 * times are taken as UTC. Handles "name -> target" for links, device
 * files ("c" and "b" with "major, minor") and names with spaces. */
enum ftp_list_result	ftp_list_parse_unix(const char *line, size_t len,
	    time_t now, struct ftp_entry *out);
/* One DOS/IIS line: "MM-DD-YY  HH:MMAM  <DIR>  name" or with a size,
 * 2- or 4-digit years (2-digit: 70-99 -> 19xx), 12- or 24-hour times. */
enum ftp_list_result	ftp_list_parse_dos(const char *line, size_t len,
	    struct ftp_entry *out);
/* One EPLF line (http://cr.yp.to/ftp/list/eplf.html): "+facts<TAB>name",
 * facts "/" dir, "r" file, "s<size>", "m<mtime>", "up<octal mode>". */
enum ftp_list_result	ftp_list_parse_eplf(const char *line, size_t len,
	    struct ftp_entry *out);

/*
 * A whole listing: splits buf on LF (CR before it dropped), parses every
 * line with the MLSD parser (mlsd true) or, for LIST, with the first of
 * the Unix, DOS/IIS and EPLF parsers that reads it, and collects entries.
 * LIST dates without a zone are taken as tz_offset seconds east of UTC
 * (MLSD times are UTC). Unparseable lines become entries of type OTHER
 * whose name and raw are the line. At most max_entries entries (more:
 * returns -1). On success returns 0 and a malloc'd array in *out, never
 * NULL even when *n is 0 (free with ftp_entries_free); on failure -1 and
 * nothing to free.
 */
int	ftp_list_parse_buffer(const char *buf, size_t len, bool mlsd,
	    time_t now, long tz_offset, size_t max_entries,
	    struct ftp_entry **out, size_t *n);
void	ftp_entries_free(struct ftp_entry *, size_t n);

/*
 * Whether a LIST line no parser could read is an error message rather
 * than an entry: servers that run ls send its complaints down the data
 * connection ("ls: x: No such file or directory", "ls: cannot access
 * 'x': ...", "x: Permission denied"). *missing (when not NULL) tells
 * whether it says the path does not exist.
 */
bool	ftp_list_error_line(const char *line, bool *missing);

/* The zone of LIST dates: "UTC", "Z", "+HH:MM", "-HHMM", "+HH" -> seconds
 * east of UTC; LONG_MIN when it is none of these. */
long	ftp_list_parse_tz(const char *s);

#endif
