#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ask.h"
#include "control.h"
#include "jsonrpc.h"
#include "log.h"
#include "util.h"
#include "wire.h"

struct ask {
	char		 id[24];
	struct client	*c;
	char		*method;
	ask_cb		 cb;		/* NULL: forgotten */
	void		*arg;
	ev_timer	 timer;
	ev_idle		 later;		/* a failure found at send time */
	struct op_error	 err;
	struct ask	*prev, *next;
};

static struct ask	*asks;
static unsigned long long ask_serial;

static void
ask_unlink(struct ask *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		asks = k->next;
	if (k->next)
		k->next->prev = k->prev;
	ev_timer_stop(loop_get(), &k->timer);
	ev_idle_stop(loop_get(), &k->later);
	client_unref(k->c);
}

static void
ask_free(struct ask *k)
{
	op_error_clear(&k->err);
	free(k->method);
	free(k);
}

/* Ends k with err (or the result) and frees it. */
static void
ask_end(struct ask *k, const struct op_error *err, json_t *result, int *fds,
    size_t nfds)
{
	ask_unlink(k);
	if (k->cb)
		k->cb(err, result, fds, nfds, k->arg);
	ask_free(k);
}

static void
ask_fail(struct ask *k, enum ftpa_err kind, const char *why)
{
	struct op_error	e = { 0 };

	op_error_set(&e, kind, 0, NULL, "%s (%s)", why, k->method);
	ask_end(k, &e, NULL, NULL, 0);
	op_error_clear(&e);
}

static void
ask_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ask	*k = w->data;

	log_info("client %llu did not answer %s %s in %.3g s",
	    (unsigned long long)k->c->serial, k->method, k->id, w->repeat);
	ask_fail(k, FTPA_ERR_TIMEOUT, "the client did not answer in time");
}

static void
ask_later(struct ev_loop *loop, ev_idle *w, int revents)
{
	ask_fail(w->data, FTPA_ERR_CANCELLED, "the client is gone");
}

struct ask *
ask_send(struct client *c, const char *method, json_t *params, double timeout,
    ask_cb cb, void *arg)
{
	struct ask	*k = xcalloc(1, sizeof(*k));
	json_t		*msg;

	snprintf(k->id, sizeof(k->id), "a%llu", ++ask_serial);
	k->c = c;
	client_ref(c);
	k->method = xstrdup(method);
	k->cb = cb;
	k->arg = arg;
	k->next = asks;
	if (asks)
		asks->prev = k;
	asks = k;
	ev_timer_init(&k->timer, ask_timeout, timeout, 0.);
	k->timer.repeat = timeout;
	k->timer.data = k;
	ev_idle_init(&k->later, ask_later);
	k->later.data = k;
	if (c->dead || c->closing) {
		json_decref(params);
		ev_idle_start(loop_get(), &k->later);
		return k;
	}
	msg = json_pack("{s:s, s:s, s:o, s:s}", "jsonrpc", "2.0", "method",
	    method, "params", params, "id", k->id);
	if (msg == NULL)
		fatalx("out of memory");
	client_send(c, msg);
	ev_timer_start(loop_get(), &k->timer);
	return k;
}

void
ask_forget(struct ask *k)
{
	k->cb = NULL;
}

bool
ask_answer(struct client *c, json_t *id, json_t *result, json_t *error,
    int *fds, size_t nfds)
{
	struct ask	*k;
	const char	*s = json_string_value(id);
	struct wire_error we;
	struct op_error	 e = { 0 };

	if (s == NULL || strlen(s) != json_string_length(id))
		return false;
	for (k = asks; k; k = k->next)
		if (k->c == c && strcmp(k->id, s) == 0)
			break;
	if (k == NULL)
		return false;
	if (result != NULL) {
		ask_end(k, NULL, result, fds, nfds);
		return true;
	}
	wire_error_read(error, &we);
	op_error_set(&e, we.kind != FTPA_ERR_NONE ? we.kind :
	    FTPA_ERR_LOCAL_IO, 0, NULL, "%s", we.message);
	ask_end(k, &e, NULL, NULL, 0);
	op_error_clear(&e);
	return true;
}

void
ask_client_gone(struct client *c)
{
	struct ask	*k, *next;

	for (k = asks; k; k = next) {
		next = k->next;
		if (k->c == c && !ev_is_active(&k->later)) {
			ev_timer_stop(loop_get(), &k->timer);
			ev_idle_start(loop_get(), &k->later);
		}
	}
}
