#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "netrc.h"

struct lexer {
	const char	*buf;
	size_t		 len;
	size_t		 pos;
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Returns 1 with *tok (caller frees), 0 at the end, -1 with *err set. */
static int
next_token(struct lexer *lx, bool keyword, char **tok, const char **err)
{
	const char *b = lx->buf;
	char *s;
	size_t n = 0;

	*tok = NULL;
	for (;;) {
		while (lx->pos < lx->len && is_space(b[lx->pos]))
			lx->pos++;
		if (lx->pos >= lx->len)
			return 0;
		if (!keyword || b[lx->pos] != '#')
			break;
		while (lx->pos < lx->len && b[lx->pos] != '\n')
			lx->pos++;
	}
	/* A token is never longer than what is left of the text. */
	if ((s = malloc(lx->len - lx->pos + 1)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	if (b[lx->pos] == '"') {
		lx->pos++;
		for (;;) {
			if (lx->pos >= lx->len) {
				explicit_bzero(s, n);
				free(s);
				*err = "unterminated quoted token";
				return -1;
			}
			if (b[lx->pos] == '"') {
				lx->pos++;
				break;
			}
			if (b[lx->pos] == '\\' && lx->pos + 1 < lx->len)
				lx->pos++;
			s[n++] = b[lx->pos++];
		}
	} else {
		while (lx->pos < lx->len && !is_space(b[lx->pos])) {
			if (b[lx->pos] == '\\' && lx->pos + 1 < lx->len)
				lx->pos++;
			s[n++] = b[lx->pos++];
		}
	}
	s[n] = '\0';
	*tok = s;
	return 1;
}

/* A macdef body runs from the next line up to an empty line. */
static void
skip_macdef(struct lexer *lx)
{
	const char *p;

	while (lx->pos < lx->len && lx->buf[lx->pos] != '\n')
		lx->pos++;
	if (lx->pos >= lx->len)
		return;
	lx->pos++;
	for (;;) {
		if (lx->pos >= lx->len)
			return;
		if (lx->buf[lx->pos] == '\n' ||
		    (lx->buf[lx->pos] == '\r' && lx->pos + 1 < lx->len &&
		    lx->buf[lx->pos + 1] == '\n'))
			return;
		p = memchr(lx->buf + lx->pos, '\n', lx->len - lx->pos);
		if (p == NULL) {
			lx->pos = lx->len;
			return;
		}
		lx->pos = p - lx->buf + 1;
	}
}

enum entry_kind {
	ENTRY_NONE,		/* before the first machine/default */
	ENTRY_MACHINE,
	ENTRY_DEFAULT,
};

struct entry {
	enum entry_kind	 kind;
	bool		 host_match;
	char		*login;
	char		*password;
};

static void
entry_reset(struct entry *e)
{
	wipe_free(e->login);
	wipe_free(e->password);
	memset(e, 0, sizeof(*e));
}

static bool
entry_matches(const struct entry *e, const char *user)
{
	return user == NULL || e->login == NULL || strcmp(e->login, user) == 0;
}

static void
entry_take(struct entry *e, struct netrc_entry *out)
{
	out->login = e->login;
	out->password = e->password;
	e->login = e->password = NULL;
}

/*
 * Ends the current entry: a matching machine entry is the answer; a
 * matching default entry is kept in *dflt in case no machine matches.
 * Returns true when the search is over.
 */
static bool
entry_end(struct entry *e, const char *user, struct entry *dflt,
    struct netrc_entry *out)
{
	bool done = false;

	if (e->kind == ENTRY_MACHINE && e->host_match &&
	    entry_matches(e, user)) {
		entry_take(e, out);
		done = true;
	} else if (e->kind == ENTRY_DEFAULT && dflt->kind == ENTRY_NONE &&
	    entry_matches(e, user)) {
		*dflt = *e;
		memset(e, 0, sizeof(*e));
	}
	entry_reset(e);
	return done;
}

int
netrc_lookup_buf(const char *buf, size_t len, const char *host,
    const char *user, struct netrc_entry *out, const char **err)
{
	struct lexer lx = { buf, len, 0 };
	struct entry cur, dflt;
	char *tok = NULL, *val = NULL;
	int r, ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&cur, 0, sizeof(cur));
	memset(&dflt, 0, sizeof(dflt));
	/* A NUL would silently cut a login or password short. */
	if (memchr(buf, '\0', len) != NULL) {
		*err = "NUL byte in the file";
		return -1;
	}
	for (;;) {
		if ((r = next_token(&lx, true, &tok, err)) == -1)
			goto done;
		if (r == 0)
			break;
		if (strcmp(tok, "default") == 0) {
			if (entry_end(&cur, user, &dflt, out))
				goto found;
			cur.kind = ENTRY_DEFAULT;
		} else if (strcmp(tok, "macdef") == 0) {
			if ((r = next_token(&lx, false, &val, err)) == -1)
				goto done;
			skip_macdef(&lx);
		} else if (strcmp(tok, "machine") == 0 ||
		    strcmp(tok, "login") == 0 || strcmp(tok, "password") == 0 ||
		    strcmp(tok, "account") == 0) {
			if ((r = next_token(&lx, false, &val, err)) == -1)
				goto done;
			if (r == 0) {
				*err = "keyword without a value";
				goto done;
			}
			if (tok[0] == 'm') {
				if (entry_end(&cur, user, &dflt, out))
					goto found;
				cur.kind = ENTRY_MACHINE;
				cur.host_match = strcasecmp(val, host) == 0;
			} else if (tok[0] == 'l') {
				wipe_free(cur.login);
				cur.login = val;
				val = NULL;
			} else if (tok[0] == 'p') {
				wipe_free(cur.password);
				cur.password = val;
				val = NULL;
			}
		} else {
			*err = "unknown keyword";
			goto done;
		}
		free(tok);
		tok = NULL;
		wipe_free(val);
		val = NULL;
	}
	if (entry_end(&cur, user, &dflt, out))
		goto found;
	if (dflt.kind == ENTRY_DEFAULT) {
		entry_take(&dflt, out);
		goto found;
	}
	ret = 0;
	goto done;
found:
	ret = 1;
done:
	free(tok);
	wipe_free(val);
	entry_reset(&cur);
	entry_reset(&dflt);
	return ret;
}

int
netrc_lookup_file(const char *path, const char *host, const char *user,
    struct netrc_entry *out, const char **err)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		*err = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > NETRC_MAX_SIZE) {
		*err = "not a regular file of at most 1 MiB";
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		*err = "out of memory";
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*err = strerror(errno);
			explicit_bzero(buf, len);
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	ret = netrc_lookup_buf(buf, len, host, user, out, err);
	explicit_bzero(buf, len);
	free(buf);
	return ret;
}

char *
netrc_default_path(void)
{
	const char *home;
	struct passwd *pw;
	char *path;

	if ((home = getenv("NETRC")) != NULL && *home != '\0')
		return strdup(home);
	if ((home = getenv("HOME")) == NULL || *home == '\0') {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	if (asprintf(&path, "%s/.netrc", home) == -1)
		return NULL;
	return path;
}

void
netrc_entry_clear(struct netrc_entry *e)
{
	wipe_free(e->login);
	wipe_free(e->password);
	e->login = e->password = NULL;
}
