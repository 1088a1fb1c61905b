/*
 * The ftp_list suite (tests/check_ftp_list) is gathered by
 * ftp_list_suite() in check_ftp_list.c, which also holds the helpers
 * that check_ftp_list_servers.c and check_ftp_list_dos_eplf.c use. Its
 * one test case, "core", takes their tests where they stood in it.
 */
#ifndef CHECK_FTP_LIST_H
#define CHECK_FTP_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <check.h>

#include "ftp_list.h"

#define NOW_2024_03_15	((time_t)1710504000)	/* 2024-03-15 12:00:00 UTC */

Suite	*ftp_list_suite(void);
void	 ftp_list_servers_tests(TCase *);	/* check_ftp_list_servers.c */
void	 ftp_list_dos_eplf_tests(TCase *);	/* check_ftp_list_dos_eplf.c */

/* A heap copy of len bytes of s, without a NUL; the caller frees it. */
char	*span_copy(const char *s, size_t len);
/* e is the entry described; raw text, if any, only on type other, as
 * its name. */
void	 check_entry(const struct ftp_entry *e, enum ftp_entry_type type,
	    const char *name, int64_t size, int64_t mtime, int perm,
	    const char *target);
/* ftp_list_parse_buffer on a copy of buf (span_copy), now being
 * NOW_2024_03_15 and the server's zone tz seconds east of UTC. */
int	 parse_buffer_tz(const char *buf, size_t len, bool mlsd, long tz,
	    size_t max, struct ftp_entry **out, size_t *n);
int	 parse_buffer(const char *buf, size_t len, bool mlsd, size_t max,
	    struct ftp_entry **out, size_t *n);	/* tz 0 */

#endif
