/*
 * The session harness (fuzz_session.c, the engine's side) and its scripted
 * FTP server (fuzz_server.c). README.md describes the input.
 */
#ifndef FTPA_FUZZ_SESSION_H
#define FTPA_FUZZ_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNKS_MAX	64

/* Header words: the options of a script. */
enum {
	F_ACTIVE	= 1 << 0,
	F_NOEPSV	= 1 << 1,
	F_RESUME	= 1 << 2,
	F_ASCII		= 1 << 3,
	F_APPEND	= 1 << 4,
	F_TLS		= 1 << 5,	/* ftpes: AUTH TLS */
	F_SIZE150	= 1 << 6,
	F_FILE		= 1 << 7,
	F_CANCEL	= 1 << 8,
	F_KEEPALIVE	= 1 << 9,
	F_TIMEOUT	= 1 << 10,
	F_RESTART	= 1 << 11,
	F_IMPLICIT	= 1 << 12,	/* ftps: TLS from the first byte */
	F_EARLY		= 1 << 13,	/* data before the transfer command */
	F_NOTLS		= 1 << 14,	/* the server never speaks TLS */
	F_TRUNCATE	= 1 << 15,	/* TLS data ends without close_notify */
};

enum op_choice { C_LOGIN, C_LIST, C_STAT, C_GET, C_PUT, C_QUOTE, C_RENAME,
	C_DELETE, C_LAST };

struct chunk {
	const char	*p;
	size_t		 len;
};

struct script {
	enum op_choice	 op;
	unsigned	 flags;
	struct chunk	 ctrl[CHUNKS_MAX];
	size_t		 nctrl, next_ctrl;
	struct chunk	 data[CHUNKS_MAX];
	size_t		 ndata, next_data;
};

extern struct script	 sc;
extern bool		 verbose;
extern long		 cur_round;

void	trace(const char *, ...) __attribute__((format(printf, 1, 2)));

void	script_parse(const char *, size_t);

/* Listens on 127.0.0.1; returns the control port. */
uint16_t server_init(void);
/* Closes everything of the last session, and connections that came late. */
void	server_reset(void);
/* One round of the server's I/O: true when anything moved. */
bool	server_poll(void);
/* Nothing moves: the next step (a chunk unasked, data, a close). False
 * when the server has nothing left to do. */
bool	server_advance(void);
/* True once per data connection when the script says "cancel". */
bool	server_take_cancel(void);
/* For messages about a session that does not end. */
bool	server_ctrl_open(void);
size_t	server_data_open(void);

#endif
