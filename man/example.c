/*
 * The example of libftpagent(3): downloads one file through ftpd-agent.
 *
 *	cc -o example example.c $(pkg-config --cflags --libs libftpagent)
 *	FTP_PASSWORD=secret ./example ftp://alice@ftp.example.org/ pub/a.txt a.txt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ftpagent.h>

/* Prints what the connection's sticky error says. */
static void
report(const struct ftpagent *fa, const char *what)
{
	fprintf(stderr, "example: %s: %s [%s]", what,
	    ftpagent_error_message(fa), ftpagent_error_kind(fa));
	if (ftpagent_ftp_code(fa) != 0)
		fprintf(stderr, " (server reply %d)", ftpagent_ftp_code(fa));
	fputc('\n', stderr);
}

int
main(int argc, char *argv[])
{
	struct ftpagent_open_opts	 oo;
	struct ftpagent_xfer_result	 res;
	struct ftpagent			*fa;
	char				*session = NULL;
	int				 status = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: example URL REMOTE LOCAL\n");
		return 2;
	}

	/* NULL: $FTPAGENT_SOCKET, else the user's socket, else the system's */
	fa = ftpagent_connect(NULL);
	if (fa == NULL || ftpagent_error(fa) != FTPAGENT_OK) {
		report(fa, "connect");
		goto out;
	}

	memset(&oo, 0, sizeof(oo));
	oo.password = getenv("FTP_PASSWORD");	/* NULL: the URL's, if any */
	if (!ftpagent_open(fa, argv[1], &oo, &session)) {
		report(fa, argv[1]);
		goto out;
	}

	/* The data goes to LOCAL.part, renamed to LOCAL once complete. */
	if (ftpagent_get_file(fa, session, argv[2], argv[3], NULL, &res)) {
		printf("%s: %lld bytes in %.2f s\n", argv[3],
		    (long long)res.bytes, res.seconds);
		status = 0;
	} else {
		report(fa, argv[2]);
		/* A sticky error blocks every call: clear it to go on. */
		if (!ftpagent_clear_error(fa))
			goto out;	/* the agent is gone */
	}

	/* Sessions outlive their programs; this one is not needed again. */
	if (!ftpagent_close(fa, session)) {
		report(fa, "close");
		status = 1;
	}
out:
	free(session);
	ftpagent_free(fa);
	return status;
}
