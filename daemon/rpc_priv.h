/*
 * What the RPC files share (rpc.c, rpc_params.c, rpc_session.c,
 * rpc_fs.c, rpc_transfer.c): the answering and parameter helpers and the
 * method handlers the table of rpc.c names. The rest of the daemon uses
 * rpc.h.
 */
#ifndef FTPA_RPC_PRIV_H
#define FTPA_RPC_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <jansson.h>

#include "rpc.h"

struct job;
struct session;

#define INLINE_MAX		(16 * 1024 * 1024)	/* inline data, each way */

typedef void (*method_fn)(struct rpc_call *, json_t *params);

/* rpc.c: answering */
void	call_settle(struct rpc_call *call);
void	rpc_verror(struct rpc_call *call, int code, const char *kind,
    json_t *extra, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* rpc_params.c: each answers the call with the error and returns -1 (or
 * NULL) when the parameter is missing or wrong; a required path must not
 * be empty either */
void	params_error(struct rpc_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int	p_str(struct rpc_call *call, json_t *params, const char *key,
    bool required, const char **out);
int	p_path(struct rpc_call *call, json_t *params, const char *key,
    bool required, const char **out);
int	p_bool(struct rpc_call *call, json_t *params, const char *key, bool def,
    bool *out);
int	p_int(struct rpc_call *call, json_t *params, const char *key,
    json_int_t def, json_int_t min, json_int_t max, json_int_t *out);
int	p_num(struct rpc_call *call, json_t *params, const char *key,
    double def, double *out);
int	p_fd(struct rpc_call *call, json_t *params, const char *key);
bool	valid_name(const char *s);
struct session	*p_session(struct rpc_call *call, json_t *params);
struct job	*job_of(const struct rpc_call *call, const char *id);
struct job	*p_job(struct rpc_call *call, json_t *params);

/* the methods: rpc_session.c */
void	m_session_open(struct rpc_call *call, json_t *params);
void	m_session_close(struct rpc_call *call, json_t *params);
void	m_session_list(struct rpc_call *call, json_t *params);

/* rpc_fs.c */
void	m_fs_list(struct rpc_call *call, json_t *params);
void	m_fs_stat(struct rpc_call *call, json_t *params);
void	m_mkdir(struct rpc_call *call, json_t *params);
void	m_rmdir(struct rpc_call *call, json_t *params);
void	m_remove(struct rpc_call *call, json_t *params);
void	m_rename(struct rpc_call *call, json_t *params);
void	m_chmod(struct rpc_call *call, json_t *params);
void	m_set_mtime(struct rpc_call *call, json_t *params);
void	m_quote(struct rpc_call *call, json_t *params);

/* rpc_transfer.c */
void	m_get(struct rpc_call *call, json_t *params);
void	m_put(struct rpc_call *call, json_t *params);
void	m_tree(struct rpc_call *call, json_t *params);
void	m_job_status(struct rpc_call *call, json_t *params);
void	m_job_wait(struct rpc_call *call, json_t *params);
void	m_job_cancel(struct rpc_call *call, json_t *params);
void	m_job_list(struct rpc_call *call, json_t *params);

#endif
