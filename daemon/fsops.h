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
struct fsop;
struct op_error;

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

/*
 * The same for the agent's own work (trees): cb runs once when the
 * operation ends, with NULL or the error, never inside the call that
 * started it. The handle is valid until then; fsops_forget makes the
 * operation end silently (its owner is going away).
 */
typedef void (*fsops_cb)(const struct op_error *, void *arg);
struct fsop	*fsops_mkdir_cb(struct session *, const char *path, bool parents,
		    fsops_cb, void *arg);
struct fsop	*fsops_remove_cb(struct session *, const char *path,
		    bool recursive, fsops_cb, void *arg);
struct fsop	*fsops_chmod_cb(struct session *, const char *path, int mode,
		    fsops_cb, void *arg);
struct fsop	*fsops_set_mtime_cb(struct session *, const char *path,
		    int64_t mtime, fsops_cb, void *arg);
void		 fsops_forget(struct fsop *);

#endif
