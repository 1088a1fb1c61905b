#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "castore.h"
#include "conf.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

struct ca_load {
	uid_t		 uid;
	char		*path;		/* a session's file by name, or */
	int		 fd;		/* by descriptor; -1 */
	bool		 rebuild;	/* the default store (SIGHUP) */
	ca_load_cb	 cb;
	void		*arg;
	bool		 cancelled;	/* loop thread only */
	/* written by the worker */
	STACK_OF(X509)	*certs;
	X509_STORE	*store;		/* rebuild */
	char		 id[80];
	char		 err[256];
};

static X509_STORE	*default_store;
static bool		 rebuilding;	/* a SIGHUP rebuild runs */
static bool		 rebuild_again;	/* another SIGHUP came meanwhile */
static char		 default_err[256];
static struct ca_load	*loads_by_uid[CASTORE_LOADS_MAX];

/* ---- worker side: no loop, no globals ----------------------------------- */

/* A regular file, whole, at most CASTORE_FILE_MAX bytes. */
static char *
read_regular(int fd, size_t *lenp, char *err, size_t errlen)
{
	struct stat	st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fl;

	if (fstat(fd, &st) == -1 || (fl = fcntl(fd, F_GETFL)) == -1) {
		snprintf(err, errlen, "cannot inspect the CA file: %s",
		    strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the CA file is not a regular file");
		return NULL;
	}
	if ((fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY) {
		snprintf(err, errlen, "the CA file descriptor is not open for "
		    "reading");
		return NULL;
	}
	if (st.st_size > CASTORE_FILE_MAX) {
		snprintf(err, errlen, "the CA file is larger than %d MiB",
		    CASTORE_FILE_MAX >> 20);
		return NULL;
	}
	buf = xmalloc(CASTORE_FILE_MAX + 1);
	/* pread: a passed descriptor's file position stays the client's */
	while (len <= CASTORE_FILE_MAX &&
	    (n = pread(fd, buf + len, CASTORE_FILE_MAX + 1 - len, len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read the CA file: %s",
			    strerror(errno));
			free(buf);
			return NULL;
		}
		len += n;
	}
	if (len > CASTORE_FILE_MAX) {
		snprintf(err, errlen, "the CA file is larger than %d MiB",
		    CASTORE_FILE_MAX >> 20);
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* Opens a path without ever blocking on what is not a regular file: not
 * even opened when stat says it is none (a device's open may act). */
static int
open_regular(const char *path, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return fd;
}

static void
load_file(struct ca_load *l)
{
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0;
	STACK_OF(X509_INFO)	*infos;
	X509_INFO		*xi;
	BIO			*bio;
	char			*buf;
	size_t			 len;
	int			 fd = l->fd;

	if (fd == -1 && (fd = open_regular(l->path, l->err, sizeof(l->err))) == -1)
		return;
	buf = read_regular(fd, &len, l->err, sizeof(l->err));
	close(fd);
	l->fd = -1;
	if (buf == NULL)
		return;
	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	snprintf(l->id, sizeof(l->id), "sha256:");
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(l->id + 7 + 2 * i, 3, "%02x", md[i]);
	bio = BIO_new_mem_buf(buf, (int)len);
	infos = bio ? PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	free(buf);
	if (infos == NULL) {
		tls_queue_error(l->err, sizeof(l->err), "cannot read the CA file");
		return;
	}
	l->certs = sk_X509_new_null();
	while ((xi = sk_X509_INFO_pop(infos)) != NULL) {
		if (xi->x509 != NULL && sk_X509_push(l->certs, xi->x509) > 0)
			xi->x509 = NULL;
		X509_INFO_free(xi);
	}
	sk_X509_INFO_free(infos);
	if (sk_X509_num(l->certs) == 0)
		snprintf(l->err, sizeof(l->err), "no certificate in the CA file");
	ERR_clear_error();
}

/* The system bundle (SSL_CERT_FILE, else OpenSSL's default file: the
 * hashed directory would be read lazily, during handshakes, on the loop)
 * and the configuration's ca_file (l->path). */
static void
build_default(struct ca_load *l)
{
	const char	*sys = getenv(X509_get_default_cert_file_env());

	if (sys == NULL || *sys == '\0')
		sys = X509_get_default_cert_file();
	l->store = X509_STORE_new();
	if (X509_STORE_load_locations(l->store, sys, NULL) != 1)
		ERR_clear_error();	/* no system store: only ca_file */
	if (l->path != NULL &&
	    X509_STORE_load_locations(l->store, l->path, NULL) != 1)
		tls_queue_error(l->err, sizeof(l->err), "cannot load the CA file of "
		    "the configuration (ca_file)");
}

static void
work(void *p)
{
	struct ca_load	*l = p;

	if (l->rebuild)
		build_default(l);
	else
		load_file(l);
	/* this thread's OpenSSL state goes now, not in a destructor that
	 * may still run while the process exits */
	OPENSSL_thread_stop();
}

/* ---- loop side ------------------------------------------------------------ */

/* A new store: the default one's certificates, then certs. */
static X509_STORE *
store_with(STACK_OF(X509) *certs)
{
	X509_STORE		*st = X509_STORE_new();
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(default_store);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509	*x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (x != NULL)
			X509_STORE_add_cert(st, x);
	}
	for (int i = 0; i < sk_X509_num(certs); i++)
		X509_STORE_add_cert(st, sk_X509_value(certs, i));
	ERR_clear_error();	/* duplicates are refused, and harmless */
	return st;
}

static void
load_forget(struct ca_load *l)
{
	for (unsigned i = 0; i < CASTORE_LOADS_MAX; i++)
		if (loads_by_uid[i] == l)
			loads_by_uid[i] = NULL;
}

static void
load_finish(void *p)
{
	struct ca_load	*l = p;
	X509_STORE	*st = NULL;

	load_forget(l);
	if (l->rebuild) {
		rebuilding = false;
		if (l->err[0] != '\0') {
			log_warnx("SIGHUP: %s; the CA store in use stays", l->err);
			X509_STORE_free(l->store);
		} else {
			X509_STORE_free(default_store);
			default_store = l->store;
			default_err[0] = '\0';
		}
	} else if (!l->cancelled) {
		if (l->err[0] == '\0' && default_store == NULL)
			snprintf(l->err, sizeof(l->err), "%s", default_err);
		if (l->err[0] == '\0')
			st = store_with(l->certs);
		l->cb(st, l->id, l->err[0] != '\0' ? l->err : NULL, l->arg);
		X509_STORE_free(st);
	}
	if (l->certs)
		sk_X509_pop_free(l->certs, X509_free);
	if (l->fd != -1)
		close(l->fd);
	free(l->path);
	if (l->rebuild && rebuild_again) {
		/* one at a time, so the newest configuration wins */
		rebuild_again = false;
		castore_reload();
	}
	free(l);
}

static void
start_worker(struct ca_load *l)
{
	if (!worker_run(work, load_finish, l))
		snprintf(l->err, sizeof(l->err), "cannot start a thread to read "
		    "the CA file");
}

int
castore_init(char *err, size_t errlen)
{
	struct ca_load	l;

	memset(&l, 0, sizeof(l));
	l.path = conf_current()->ca_file;
	build_default(&l);
	default_store = l.store;
	if (l.err[0] != '\0') {
		/* sessions that verify are told, as before the loop ran */
		snprintf(default_err, sizeof(default_err), "%s", l.err);
		snprintf(err, errlen, "%s", l.err);
		X509_STORE_free(default_store);
		default_store = NULL;
		return -1;
	}
	return 0;
}

void
castore_reload(void)
{
	struct ca_load	*l;
	const char	*ca = conf_current()->ca_file;

	if (rebuilding) {
		rebuild_again = true;
		return;
	}
	rebuilding = true;
	l = xcalloc(1, sizeof(*l));

	l->fd = -1;
	l->rebuild = true;
	l->path = ca ? xstrdup(ca) : NULL;
	start_worker(l);
}

X509_STORE *
castore_default(const char **err)
{
	*err = default_err;
	return default_store;
}

struct ca_load *
castore_load(uid_t uid, const char *path, int fd, ca_load_cb cb, void *arg)
{
	struct ca_load	*l;
	unsigned	 mine = 0, slot = CASTORE_LOADS_MAX;

	for (unsigned i = 0; i < CASTORE_LOADS_MAX; i++) {
		if (loads_by_uid[i] == NULL)
			slot = i;
		else if (loads_by_uid[i]->uid == uid)
			mine++;
	}
	if (slot == CASTORE_LOADS_MAX || mine >= CASTORE_LOADS_PER_UID) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->uid = uid;
	l->path = path ? xstrdup(path) : NULL;
	l->fd = fd >= 0 ? fd : -1;
	l->cb = cb;
	l->arg = arg;
	loads_by_uid[slot] = l;
	start_worker(l);
	return l;
}

void
castore_cancel(struct ca_load *l)
{
	if (l != NULL)
		l->cancelled = true;
}
