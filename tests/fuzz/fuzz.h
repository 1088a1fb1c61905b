/*
 * Helpers shared by the libFuzzer harnesses: reading parameters off the
 * front of an input, chunk plans, and the check that turns a broken
 * invariant into a crash libFuzzer records.
 */
#ifndef FTPA_FUZZ_H
#define FTPA_FUZZ_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* An invariant the API promises; abort() makes it a finding. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* The input, read from the front. Reads past the end give zeros. */
struct fuzz_in {
	const uint8_t	*p;
	size_t		 len;
};

static inline uint8_t
fuzz_u8(struct fuzz_in *in)
{
	uint8_t	 v;

	if (in->len == 0)
		return 0;
	v = in->p[0];
	in->p++;
	in->len--;
	return v;
}

static inline uint64_t
fuzz_u64(struct fuzz_in *in, int bytes)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < bytes; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

/*
 * A chunk plan: the sizes in which a stream is handed to a parser. The
 * plan's bytes come from the input, so the fuzzer chooses where the
 * splits fall; size k is (plan[k % n] + 1) * scale, and no plan means
 * one chunk. A harness that repeats its payload scales the sizes with it,
 * so that the number of chunks stays near the payload's length.
 */
struct fuzz_chunks {
	const uint8_t	*plan;
	size_t		 n;
	size_t		 next;
	size_t		 scale;		/* sizes times this; 0 counts as 1 */
};

/* Takes a plan of (first byte & mask) sizes off the input. */
static inline void
fuzz_chunks_take(struct fuzz_chunks *c, struct fuzz_in *in, uint8_t mask)
{
	size_t	 n = fuzz_u8(in) & mask;

	if (n > in->len)
		n = in->len;
	c->plan = in->p;
	c->n = n;
	c->next = 0;
	c->scale = 1;
	in->p += n;
	in->len -= n;
}

/* The size of the next chunk, at most left (and at least 1 if left > 0). */
static inline size_t
fuzz_chunks_next(struct fuzz_chunks *c, size_t left)
{
	size_t	 sz;

	if (c->n == 0)
		return left;
	sz = ((size_t)c->plan[c->next++ % c->n] + 1) *
	    (c->scale > 0 ? c->scale : 1);
	return sz < left ? sz : left;
}

/* An exact-size heap copy, so ASan sees a read one byte past the end. */
static inline char *
fuzz_dup(const void *p, size_t len)
{
	char	*s;

	if ((s = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(s, p, len);
	return s;
}

/* The same, NUL-terminated (and so one byte longer). */
static inline char *
fuzz_strndup(const void *p, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* Descriptors a harness checks for leaks: below this. */
#define FUZZ_FDS_MAX	1024

/* Marks the open descriptors in set (when not NULL); returns the first
 * open one not in known (when not NULL), or -1. */
static inline int
fuzz_fd_scan(bool set[FUZZ_FDS_MAX], const bool known[FUZZ_FDS_MAX])
{
	DIR		*d;
	struct dirent	*e;
	int		 fd, extra = -1;

	if (set != NULL)
		memset(set, 0, FUZZ_FDS_MAX * sizeof(set[0]));
	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    (fd = atoi(e->d_name)) == dirfd(d) || fd >= FUZZ_FDS_MAX)
			continue;
		if (set != NULL)
			set[fd] = true;
		if (known != NULL && !known[fd] && extra == -1)
			extra = fd;
	}
	closedir(d);
	return extra;
}

#endif
