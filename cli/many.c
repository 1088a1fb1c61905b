/*
 * ftpctl: commands of several targets (get T... DIR, put L... T). Each
 * target runs as it would alone and reports its own failure as it
 * happens; the command goes on with the next one. What it ends with:
 * the exit status of the first failure, a count on stderr, and with
 * --json one document that holds each target's.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "ftpctl.h"

void
many_begin(struct ctl *c, struct many *m)
{
	memset(m, 0, sizeof(*m));
	if (c->json && (m->docs = json_array()) != NULL)
		json_gather(m->docs);
}

bool
many_done(struct many *m, const char *display, int status)
{
	size_t i;
	json_t *d;

	m->n++;
	if (status != EXIT_OK && m->failed++ == 0)
		m->status = status;
	/* what the target printed, named: an error names nothing else */
	for (i = m->ndocs; m->docs != NULL && i < json_array_size(m->docs);
	    i++)
		if ((d = json_array_get(m->docs, i)) != NULL &&
		    json_is_object(d) && display != NULL)
			json_object_set_new(d, "target", json_string(display));
	m->ndocs = m->docs != NULL ? json_array_size(m->docs) : 0;
	/* the agent gone, usage or ^C: the next targets would fare no
	 * better */
	return status != EXIT_AGENT && status != EXIT_USAGE &&
	    status != EXIT_CANCELLED && !interrupted;
}

int
many_end(struct ctl *c, struct many *m)
{
	json_gather(NULL);
	if (m->docs != NULL) {
		emit_json(json_pack("{s:o, s:i, s:i}", "targets", m->docs,
		    "done", m->n - m->failed, "failed", m->failed));
		m->docs = NULL;
	}
	if (m->failed > 0 && m->n > 1)
		output_warnx("%d of %d targets failed", m->failed, m->n);
	return m->failed > 0 ? m->status : EXIT_OK;
}

int
many_dest_dir(struct ctl *c, const char *dir)
{
	size_t n = strlen(dir);
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return EXIT_OK;
		return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s", dir,
		    strerror(ENOTDIR));
	}
	if (errno == ENOENT && n > 0 && dir[n - 1] == '/' &&
	    (mkdir(dir, 0777) == 0 || errno == EEXIST))
		return EXIT_OK;
	return cmd_error(c, EXIT_LOCAL_IO, "local_io", "%s: %s%s", dir,
	    strerror(errno), errno == ENOENT && (n == 0 || dir[n - 1] !=
	    '/') ? " (a directory that is not there yet ends with '/')" : "");
}
