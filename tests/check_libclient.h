/*
 * The libclient suite (tests/check_libclient) is gathered by
 * libclient_suite() in check_libclient.c from the test cases of each of
 * its files; the fixture they share is libclient_fixture.h.
 */
#ifndef CHECK_LIBCLIENT_H
#define CHECK_LIBCLIENT_H

#include <check.h>

Suite	*libclient_suite(void);

void	 libclient_fs_tcases(Suite *); /* check_libclient_fs.c */
void	 libclient_transfers_tcases(Suite *); /* check_libclient_transfers.c */
void	 libclient_jobs_tcases(Suite *); /* check_libclient_jobs.c */

#endif
