/*
 * TYPE A conversion (RFC 959 3.1.1.1): NVT-ASCII lines end in CRLF on
 * the wire, in LF here.
 */
#include "ftp_ascii.h"

size_t
ftp_ascii_from_net(struct ftp_ascii *a, const char *in, size_t n, char *out)
{
	size_t	i, m = 0;

	for (i = 0; i < n; i++) {
		if (a->cr_pending) {
			a->cr_pending = false;
			if (in[i] != '\n')
				out[m++] = '\r';
		}
		if (in[i] == '\r')
			a->cr_pending = true;
		else
			out[m++] = in[i];
	}
	return m;
}

size_t
ftp_ascii_net_end(struct ftp_ascii *a, char *out)
{
	if (!a->cr_pending)
		return 0;
	a->cr_pending = false;
	out[0] = '\r';
	return 1;
}

size_t
ftp_ascii_to_net(struct ftp_ascii *a, const char *in, size_t n, char *out)
{
	size_t	i, m = 0;

	for (i = 0; i < n; i++) {
		if (in[i] == '\n' && a->last != '\r')
			out[m++] = '\r';
		out[m++] = in[i];
		a->last = in[i];
	}
	return m;
}
