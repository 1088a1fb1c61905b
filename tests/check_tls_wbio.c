/*
 * daemon/tls_wbio.c, the gathering write BIO of TLS uploads, over a
 * socketpair: records wait in it until a flush or until one does not fit,
 * then leave in one send; a full socket is a retry and loses nothing;
 * BIO_flush says retry until everything is out.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <openssl/bio.h>

#include "tls_wbio.h"

Suite	*tls_wbio_suite(void);

static int	sv[2];

static void
setup(void)
{
	int	small = 4096;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
}

static void
teardown(void)
{
	close(sv[0]);
	close(sv[1]);
}

/* What the peer has received so far, appended to buf at *len. */
static void
drain(char *buf, size_t cap, size_t *len)
{
	ssize_t	n;

	while (*len < cap && (n = recv(sv[1], buf + *len, cap - *len,
	    MSG_DONTWAIT)) > 0)
		*len += (size_t)n;
}

START_TEST(test_gathers_until_flush)
{
	BIO	*b = tls_wbio_new(sv[0]);
	char	 rec[1000], got[4000];
	size_t	 len = 0;

	ck_assert_ptr_nonnull(b);
	ck_assert(tls_wbio_is(b));
	for (int i = 0; i < 3; i++) {
		memset(rec, 'a' + i, sizeof(rec));
		ck_assert_int_eq(BIO_write(b, rec, sizeof(rec)), sizeof(rec));
	}
	/* nothing has left yet */
	drain(got, sizeof(got), &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(tls_wbio_pending(b), 3000);
	ck_assert_int_eq(BIO_ctrl_wpending(b), 3000);
	ck_assert_int_eq(BIO_flush(b), 1);
	ck_assert_uint_eq(tls_wbio_pending(b), 0);
	drain(got, sizeof(got), &len);
	ck_assert_uint_eq(len, 3000);
	ck_assert(got[0] == 'a' && got[1000] == 'b' && got[2999] == 'c');
	BIO_free(b);
}
END_TEST

START_TEST(test_full_socket_loses_nothing)
{
	static char	 out[4 * TLS_WBIO_SIZE], got[4 * TLS_WBIO_SIZE];
	BIO		*b = tls_wbio_new(sv[0]);
	size_t		 sent = 0, len = 0;
	int		 n, retries = 0, r;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 4096);
	/* records of 16 KiB into a socket that takes little at a time */
	while (sent < sizeof(out)) {
		n = BIO_write(b, out + sent, sizeof(out) - sent < 16384 ?
		    (int)(sizeof(out) - sent) : 16384);
		if (n <= 0) {
			ck_assert(BIO_should_retry(b) && BIO_should_write(b));
			retries++;
			drain(got, sizeof(got), &len);	/* the peer reads */
			continue;
		}
		sent += (size_t)n;
	}
	ck_assert_int_gt(retries, 0);
	while ((r = BIO_flush(b)) != 1) {
		ck_assert_int_eq(r, 0);
		ck_assert(BIO_should_retry(b));
		ck_assert_int_eq(tls_wbio_flush(b), 0);
		drain(got, sizeof(got), &len);
	}
	ck_assert_int_eq(tls_wbio_flush(b), 1);
	drain(got, sizeof(got), &len);
	ck_assert_uint_eq(len, sizeof(out));
	ck_assert(memcmp(out, got, sizeof(out)) == 0);
	BIO_free(b);
}
END_TEST

START_TEST(test_peer_gone_is_an_error)
{
	BIO	*b = tls_wbio_new(sv[0]);
	char	 rec[100] = { 0 };

	ck_assert_int_eq(BIO_write(b, rec, sizeof(rec)), sizeof(rec));
	close(sv[1]);
	sv[1] = open("/dev/null", O_RDONLY);	/* for teardown */
	ck_assert_int_eq(tls_wbio_flush(b), -1);
	ck_assert(errno == EPIPE || errno == ECONNRESET);
	ck_assert_int_le(BIO_flush(b), 0);
	ck_assert(!BIO_should_retry(b));
	BIO_free(b);
}
END_TEST

Suite *
tls_wbio_suite(void)
{
	Suite *s = suite_create("tls_wbio");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_gathers_until_flush);
	tcase_add_test(tc, test_full_socket_loses_nothing);
	tcase_add_test(tc, test_peer_gone_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
