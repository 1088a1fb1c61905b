/*
 * The async suite (tests/check_async) is gathered by async_suite() in
 * check_async.c from the test cases of each of its files.
 */
#ifndef CHECK_ASYNC_H
#define CHECK_ASYNC_H

#include <check.h>

Suite	*async_suite(void);

void	 async_cancel_tcases(Suite *);		/* check_async_cancel.c */
void	 async_fail_tcases(Suite *);		/* check_async_fail.c */
void	 async_fds_time_tcases(Suite *);	/* check_async_fds_time.c */

#endif
