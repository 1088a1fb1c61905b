/*
 * The fixture of tests/check_libclient*.c: libftpagent's blocking API
 * against tests/integ/fakeagent.py, a scripted stand-in for the daemon,
 * found under $FTPA_SRCDIR (default: .) and run by $PYTHON3 (default:
 * /usr/bin/python3).
 *
 * setup() makes a directory of its own for the test (tmpdir) and starts
 * the fake on sockpath in it; teardown() kills the fake and removes the
 * directory. setup_nofake() and remove_tmpdir() are the same without
 * the fake, for tests that start their own agent.
 */
#ifndef LIBCLIENT_FIXTURE_H
#define LIBCLIENT_FIXTURE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>
#include <jansson.h>

#include "ftpagent.h"

#define FILE_SIZE	10240		/* fakeagent's "/file" */

extern char tmpdir[256];	/* the test's directory */
extern char sockpath[300];	/* tmpdir/agent.sock, the fake's socket */

void	 setup(void);
void	 teardown(void);
void	 setup_nofake(void);
void	 remove_tmpdir(void);
/* A test case named name, added to s, each of its tests between setup()
 * and teardown() and given 30 s. */
TCase	*libclient_tcase(Suite *s, const char *name);

const char *python(void);	/* the interpreter that runs the fake */
const char *fake_script(void);	/* the path of fakeagent.py */
int64_t	 now_ms(void);		/* CLOCK_MONOTONIC */
bool	 answers(const char *path);	/* something accepts on path */
pid_t	 start_fake(const char *path);	/* once it answers on path */
void	 stop_fake(pid_t pid);

/* A connection to the fake, which must have succeeded. */
struct ftpagent *connect_fake(void);
void	 assert_ping(struct ftpagent *a);
/* What the fake received last: {"method", "params", "nfds"[, "received"]};
 * the caller frees it with json_decref. */
json_t	*last_request(struct ftpagent *a);
/* Its params, borrowed from *holder, which the caller frees. */
json_t	*last_params(struct ftpagent *a, json_t **holder);
/* path holds expect_len bytes, byte i being i % 256 (the fake's data). */
void	 assert_file_data(const char *path, size_t expect_len);

#endif
