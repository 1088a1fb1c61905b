#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"
#include "ratelimit.h"

#define CONF_FILE_MAX	(1024 * 1024)

/* the settings in force: conf_current, conf_install */
static struct agent_conf conf;

enum conf_type { T_PATH, T_STR, T_MODE, T_SIZE, T_UINT, T_INT, T_SECS,
	T_TLSVER, T_LOGLEVEL };

enum conf_flag {
	K_RESTART = 1 << 0,	/* only read at start */
	K_SESSION = 1 << 1,	/* a session.open option too, whose default is
				   the value in force: T_INT or T_SECS only */
};

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	double		 min, max;	/* numbers */
	double		 def;		/* numbers; strings default to none */
	unsigned	 flags;
};

#define F(m)	offsetof(struct agent_conf, m)

/*
 * Every key: name, type, field; range, default, flags. The session.open
 * options come in the order session.open checks its parameters.
 */
static const struct conf_key keys[] = {
	{ "socket",		T_PATH,	F(socket),
	    0, 0, 0,			K_RESTART },
	{ "socket_mode",	T_MODE,	F(socket_mode),
	    0, 07777, -1,		K_RESTART },
	{ "socket_group",	T_STR,	F(socket_group),
	    0, 0, 0,			K_RESTART },
	{ "max_message",	T_SIZE,	F(max_message),
	    4096, 64 << 20, 1 << 20,	K_RESTART },
	{ "max_clients",	T_UINT,	F(max_clients),
	    1, 1000000, 4096,		0 },
	{ "max_clients_per_uid", T_UINT, F(max_clients_per_uid),
	    1, 1000000, 1024,		0 },
	{ "max_sessions",	T_UINT,	F(max_sessions),
	    1, 1000000, 2048,		0 },
	{ "max_sessions_per_uid", T_UINT, F(max_sessions_per_uid),
	    1, 1000000, 64,		0 },
	{ "max_jobs",		T_UINT,	F(max_jobs),
	    1, 10000000, 10000,		0 },
	{ "max_jobs_per_uid",	T_UINT,	F(max_jobs_per_uid),
	    1, 10000000, 1000,		0 },
	{ "connect_timeout",	T_SECS,	F(connect_timeout),
	    0.001, 86400, 30,		K_SESSION },
	{ "reply_timeout",	T_SECS,	F(reply_timeout),
	    0.001, 86400, 60,		K_SESSION },
	{ "data_timeout",	T_SECS,	F(data_timeout),
	    0.001, 86400, 60,		K_SESSION },
	{ "max_connections",	T_INT,	F(max_connections),
	    1, 16, 4,			K_SESSION },
	{ "retries",		T_INT,	F(retries),
	    0, 100, 3,			K_SESSION },
	{ "keepalive",		T_SECS,	F(keepalive),
	    0, 86400, 60,		K_SESSION },
	{ "idle_timeout",	T_SECS,	F(idle_timeout),
	    0, 31536000, 300,		K_SESSION },
	{ "retry_delay",	T_SECS,	F(retry_delay),
	    0, 3600, 1,			K_SESSION },
	{ "limit_rate",		T_INT,	F(limit_rate),
	    0, RATE_MAX, 0,		K_SESSION },
	{ "ca_file",		T_PATH,	F(ca_file),
	    0, 0, 0,			0 },
	{ "tls_min_version",	T_TLSVER, F(tls_min_version),
	    0, 0, 12,			0 },
	{ "job_retention",	T_SECS,	F(job_retention),
	    0, 31536000, 600,		0 },
	{ "job_retention_max",	T_UINT,	F(job_retention_max),
	    1, 1000000, 1000,		0 },
	{ "log_level",		T_LOGLEVEL, F(log_level),
	    0, 0, LOG_LVL_INFO,		0 },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/* Stores number d in k's field of c, as the field's type wants it. */
static void
store(struct agent_conf *c, const struct conf_key *k, double d)
{
	void	*p = (char *)c + k->off;

	switch (k->type) {
	case T_PATH:
	case T_STR:
		break;
	case T_SIZE:
		*(size_t *)p = (size_t)d;
		break;
	case T_UINT:
		*(unsigned *)p = (unsigned)d;
		break;
	case T_SECS:
		*(double *)p = d;
		break;
	default:
		*(int *)p = (int)d;
		break;
	}
}

void
conf_defaults(struct agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		store(c, &keys[i], keys[i].def);
}

void
conf_free(struct agent_conf *c)
{
	free(c->socket);
	free(c->socket_group);
	free(c->ca_file);
	c->socket = c->socket_group = c->ca_file = NULL;
}

static int __attribute__((format(printf, 5, 6)))
seterr(char *err, size_t errlen, const char *name, unsigned line,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(err, errlen, "%s:%u: ", name, line);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A whole-string number; false when v is not one. */
static bool
number(const char *v, double *out)
{
	char	*end;

	errno = 0;
	*out = strtod(v, &end);
	return errno == 0 && end != v && *end == '\0' && isfinite(*out) &&
	    !isspace((unsigned char)*v);
}

static int
set_value(struct agent_conf *c, const struct conf_key *k, const char *v,
    const char *name, unsigned line, char *err, size_t errlen)
{
	void	*p = (char *)c + k->off;
	double	 d;
	char	*end;
	long	 l;

	switch (k->type) {
	case T_PATH:
		if (v[0] != '/')
			return seterr(err, errlen, name, line,
			    "%s must be an absolute path", k->name);
		/* FALLTHROUGH */
	case T_STR:
		if (v[0] == '\0')
			return seterr(err, errlen, name, line, "%s is empty",
			    k->name);
		free(*(char **)p);
		if ((*(char **)p = strdup(v)) == NULL)
			return seterr(err, errlen, name, line, "out of memory");
		return 0;
	case T_MODE:
		errno = 0;
		l = strtol(v, &end, 8);
		if (errno != 0 || end == v || *end != '\0' || l < k->min ||
		    l > k->max || v[0] == '-' || v[0] == '+')
			return seterr(err, errlen, name, line, "%s must be octal "
			    "permission bits like 0660, not \"%s\"", k->name, v);
		*(int *)p = (int)l;
		return 0;
	case T_TLSVER:
		if (strcmp(v, "1.2") == 0)
			*(int *)p = 12;
		else if (strcmp(v, "1.3") == 0)
			*(int *)p = 13;
		else
			return seterr(err, errlen, name, line, "%s must be 1.2 "
			    "or 1.3, not \"%s\"", k->name, v);
		return 0;
	case T_LOGLEVEL:
		if (strcmp(v, "error") == 0)
			*(int *)p = LOG_LVL_ERR;
		else if (strcmp(v, "warning") == 0)
			*(int *)p = LOG_LVL_WARN;
		else if (strcmp(v, "info") == 0)
			*(int *)p = LOG_LVL_INFO;
		else if (strcmp(v, "debug") == 0)
			*(int *)p = LOG_LVL_DEBUG;
		else
			return seterr(err, errlen, name, line, "%s must be error, "
			    "warning, info or debug, not \"%s\"", k->name, v);
		return 0;
	default:
		break;
	}
	if (!number(v, &d))
		return seterr(err, errlen, name, line, "%s must be a number, not "
		    "\"%s\"", k->name, v);
	if (k->type != T_SECS && d != floor(d))
		return seterr(err, errlen, name, line, "%s must be a whole "
		    "number, not \"%s\"", k->name, v);
	if (d < k->min || d > k->max)
		return seterr(err, errlen, name, line, "%s must be between %g "
		    "and %g, not %s", k->name, k->min, k->max, v);
	store(c, k, d);
	return 0;
}

static char *
trim(char *s, char *e)
{
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

int
conf_parse(struct agent_conf *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	char		*copy, *line, *next, *eq, *key, *val, *hash;
	unsigned	 lineno = 0;
	size_t		 i;
	int		 rv = 0;

	if (memchr(text, '\0', len) != NULL)
		return seterr(err, errlen, name, 0, "the file holds a NUL byte");
	if ((copy = malloc(len + 1)) == NULL)
		return seterr(err, errlen, name, 0, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line != NULL && rv == 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		key = trim(line, line + strlen(line));
		if (*key == '\0')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			rv = seterr(err, errlen, name, lineno, "expected "
			    "\"key = value\", not \"%s\"", key);
			break;
		}
		val = trim(eq + 1, eq + 1 + strlen(eq + 1));
		key = trim(key, eq);
		for (i = 0; i < NKEYS; i++)
			if (strcmp(keys[i].name, key) == 0)
				break;
		if (i == NKEYS) {
			rv = seterr(err, errlen, name, lineno, "unknown key "
			    "\"%s\"", key);
			break;
		}
		rv = set_value(c, &keys[i], val, name, lineno, err, errlen);
	}
	free(copy);
	return rv;
}

int
conf_load(struct agent_conf *c, const char *path, bool must_exist,
    char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, rv;

	conf_defaults(c);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB",
		    path);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	rv = conf_parse(c, path, buf, got, err, errlen);
	free(buf);
	if (rv == -1)
		conf_free(c);
	return rv;
}

void
conf_keep_restart_keys(struct agent_conf *next, struct agent_conf *cur,
    char *buf, size_t len)
{
	size_t	used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key	*k = &keys[i];
		char			*pn = (char *)next + k->off;
		char			*pc = (char *)cur + k->off;
		size_t			 size;
		bool			 diff;

		if (!(k->flags & K_RESTART))
			continue;
		if (k->type == T_PATH || k->type == T_STR) {
			char	**sn = (char **)pn, **sc = (char **)pc;

			diff = (*sn == NULL || *sc == NULL) ? *sn != *sc :
			    strcmp(*sn, *sc) != 0;
			free(*sn);
			*sn = *sc;
			*sc = NULL;
		} else {
			size = k->type == T_SIZE ? sizeof(size_t) : sizeof(int);
			diff = memcmp(pn, pc, size) != 0;
			memcpy(pn, pc, size);
		}
		if (diff && used + strlen(k->name) + 3 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    used ? ", " : "", k->name);
	}
}

const struct agent_conf *
conf_current(void)
{
	return &conf;
}

void
conf_install(struct agent_conf *c)
{
	conf_free(&conf);
	if (c != NULL) {
		conf = *c;
		memset(c, 0, sizeof(*c));
	}
}

void
conf_install_reload(struct agent_conf *next, char *buf, size_t len)
{
	conf_keep_restart_keys(next, &conf, buf, len);
	conf_install(next);
}

bool
conf_session_opt(size_t n, struct agent_conf *c, struct conf_session_opt *o)
{
	const struct conf_key	*k;
	size_t			 i;

	for (i = 0; i < NKEYS; i++)
		if ((keys[i].flags & K_SESSION) && n-- == 0)
			break;
	if (i == NKEYS)
		return false;
	k = &keys[i];
	memset(o, 0, sizeof(*o));
	o->name = k->name;
	o->integer = k->type == T_INT;
	o->min = k->min;
	o->max = k->max;
	if (o->integer) {
		o->i = (int *)((char *)c + k->off);
		*o->i = *(const int *)((const char *)&conf + k->off);
	} else {
		o->d = (double *)((char *)c + k->off);
		*o->d = *(const double *)((const char *)&conf + k->off);
	}
	return true;
}
