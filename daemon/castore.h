/*
 * Trusted CA certificates for FTPS verification, loaded without ever
 * blocking the event loop.
 *
 * The default store (the system bundle plus the configuration's ca_file)
 * is built once at start and again, on a worker thread, on SIGHUP; every
 * session shares it. A session's own CA file comes as a path (only from
 * the agent's own uid or root: the agent must not read what the caller
 * could not) or as a passed descriptor; either is read and parsed on a
 * worker thread, and must be a regular file of at most CASTORE_FILE_MAX
 * bytes: FIFOs, devices and directories are refused, never opened for a
 * blocking read.
 */
#ifndef FTPA_CASTORE_H
#define FTPA_CASTORE_H

#include <stdbool.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#define CASTORE_FILE_MAX	(4 * 1024 * 1024)
/* CA files being read at once, in all and per uid: past them, limit. */
#define CASTORE_LOADS_MAX	16
#define CASTORE_LOADS_PER_UID	2

/* Builds the default store (at start, on the loop thread, before it
 * runs). 0, or -1 with *err set: the configured ca_file is unusable. */
int		 castore_init(char *err, size_t errlen);
/* Rebuilds it off the loop (SIGHUP); sessions opened later use the new
 * one. */
void		 castore_reload(void);
/* The shared default store, NULL when it could not be built (*err says
 * why). Borrowed. */
X509_STORE	*castore_default(const char **err);

struct ca_load;
/*
 * store: a new store, the default one plus the file's certificates (the
 * callee's: it frees it with X509_STORE_free), or NULL with err set. id
 * names the file's content ("sha256:..."), for comparing sessions; valid
 * during the call only.
 */
typedef void (*ca_load_cb)(X509_STORE *store, const char *id,
    const char *err, void *arg);
/* Starts reading a CA file: path != NULL, or fd >= 0 (taken). The callback
 * runs later from the loop, never inside this call. NULL when uid has too
 * many loads under way (fd closed). */
struct ca_load	*castore_load(uid_t, const char *path, int fd, ca_load_cb,
		    void *arg);
/* The callback will not run; the worker's result is dropped. */
void		 castore_cancel(struct ca_load *);

#endif
