/*
 * JSON-RPC 2.0 message helpers over jansson. No I/O.
 */
#ifndef FTPA_JSONRPC_H
#define FTPA_JSONRPC_H

#include <stddef.h>
#include <jansson.h>

#define JSONRPC_PARSE_ERROR	 -32700
#define JSONRPC_INVALID_REQUEST	 -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS	 -32602
#define JSONRPC_INTERNAL_ERROR	 -32603

enum jsonrpc_type {
	JSONRPC_REQUEST,	/* method + id */
	JSONRPC_NOTIFICATION,	/* method, no id */
	JSONRPC_RESPONSE,	/* result + id */
	JSONRPC_ERROR,		/* error + id (id may be null) */
};

struct jsonrpc_msg {
	enum jsonrpc_type type;
	json_t		*root;		/* owns everything below */
	json_t		*id;		/* borrowed; NULL for notifications */
	const char	*method;	/* borrowed; requests and notifications */
	size_t		 method_len;	/* its length: a name may hold a NUL */
	json_t		*params;	/* borrowed; object or array, may be NULL */
	json_t		*result;	/* borrowed; responses */
	json_t		*error;		/* borrowed; error responses */
	int		 error_code;	/* error responses */
	const char	*error_message;	/* error responses */
};

/*
 * Parses one message. Returns 0 on success (caller releases with
 * jsonrpc_msg_clear). On failure returns the JSON-RPC error code
 * (JSONRPC_PARSE_ERROR or JSONRPC_INVALID_REQUEST) and sets *errmsg to a
 * static description; if the request's id could be read, *bad_id receives a
 * new reference to it (else NULL), so the caller can answer with that id.
 * Rules: "jsonrpc" must be "2.0"; id must be string, integer or null;
 * params, when present, must be an object or an array.
 */
int	jsonrpc_parse(const char *buf, size_t len, struct jsonrpc_msg *out,
	    const char **errmsg, json_t **bad_id);
void	jsonrpc_msg_clear(struct jsonrpc_msg *);

/* Builders. Arguments marked "stolen" are owned by the result afterwards.
 * Each returns a new reference or NULL on allocation failure. */
json_t	*jsonrpc_request(const char *method, json_t *params /* stolen, may be NULL */,
	    json_int_t id);
json_t	*jsonrpc_notification(const char *method, json_t *params /* stolen */);
json_t	*jsonrpc_response(json_t *id /* borrowed */, json_t *result /* stolen */);
json_t	*jsonrpc_error(json_t *id /* borrowed, NULL -> null */, int code,
	    const char *message, json_t *data /* stolen, may be NULL */);

/*
 * The id of a request of which only the first len bytes are known (the
 * rest was too long to read): a member "id" of the top-level object that
 * comes whole before the bytes end. Returns a new reference to an integer
 * or string, or NULL. jsonrpc_request puts the id before the params.
 */
json_t	*jsonrpc_head_id(const char *buf, size_t len);

/* Serialises compactly with a trailing '\n'. Caller frees with free().
 * *len receives the length including the '\n'. */
char	*jsonrpc_dump(const json_t *msg, size_t *len);

#endif
