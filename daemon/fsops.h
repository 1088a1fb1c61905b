/*
 * File system operations made of several FTP commands, driven above the
 * engine: each step is an operation queued on the session, so the
 * engine stays one command exchange at a time. mkdir with parents,
 * recursive remove (depth first, bounded), rename, chmod, set_mtime
 * (MFMT, else two-argument MDTM).
 */
#ifndef FTPA_FSOPS_H
#define FTPA_FSOPS_H

#include <stdbool.h>
#include <stdint.h>

struct rpc_call;
struct session;

#define FSOPS_MAX_ENTRIES	100000
#define FSOPS_MAX_DEPTH		64

/* Each answers call (deferred) when done; a call whose client went away
 * lets the operation finish and drops the answer. */
void	fsops_mkdir(struct rpc_call *, struct session *, const char *path, bool parents);
void	fsops_rmdir(struct rpc_call *, struct session *, const char *path);
void	fsops_remove(struct rpc_call *, struct session *, const char *path, bool recursive);
void	fsops_rename(struct rpc_call *, struct session *, const char *from, const char *to);
void	fsops_chmod(struct rpc_call *, struct session *, const char *path, int mode);
void	fsops_set_mtime(struct rpc_call *, struct session *, const char *path, int64_t mtime);

#endif
