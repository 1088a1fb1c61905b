#!/usr/bin/python3
"""The soak test's FTP server: pyftpdlib behind the fault proxy.

    server.py --home DIR --port N --passive-ports LO-HI
              [--masquerade 127.0.0.2] [--tls none|explicit|implicit
              --cert PEM --key PEM] [--lenient]

The password is read from $SOAK_PASSWORD (user "soak"). It listens on
127.0.0.1:N (SO_REUSEADDR, so a restart after SIGKILL gets the same port),
passive data ports come from LO-HI on 127.0.0.1, and PASV replies name the
masquerade address, where the proxy listens on the same ports. Prints
"ready PORT" once it listens.

Unlike stock pyftpdlib, an upload whose data connection ends abnormally is
answered 426, not 226: a TCP reset, or for TLS an end without close_notify
(what vsftpd does with strict_ssl_read_eof), or before the TLS handshake
was complete on the server's side. Stock pyftpdlib takes all of these
for the end of the file, so a connection cut by the network after the
client had handed over its last bytes leaves a short file that the server
calls complete, which no FTP client can notice. --lenient keeps the stock
behaviour, to show exactly that.
"""
import argparse
import errno
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.ioloop import RetryError
from pyftpdlib.servers import FTPServer

RESET_ERRNOS = (errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT,
                errno.EPIPE, errno.ENOTCONN, errno.ESHUTDOWN)
RETRY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


def strict_dtp(base, tls):
    """base (a DTP handler class) answering 426 to an upload that ended
    with a reset, or with TLS, without close_notify."""

    class Strict(base):
        _soak_abnormal = False

        if not tls:
            def recv(self, buffer_size):
                try:
                    data = self.socket.recv(buffer_size)
                except OSError as err:
                    if err.errno in RETRY_ERRNOS:
                        raise RetryError
                    if err.errno in RESET_ERRNOS:
                        self._soak_abnormal = True
                        self.handle_close()
                        return b""
                    raise
                if not data:
                    self.handle_close()
                return data

        def close(self):
            if not self._closed and self.receive and self.file_obj is not None:
                abnormal = self._soak_abnormal
                if tls:
                    # no close_notify, or not even a finished handshake
                    from OpenSSL import SSL
                    try:
                        got = (self._ssl_established and
                               self.socket.get_shutdown() &
                               SSL.RECEIVED_SHUTDOWN)
                    except Exception:       # noqa: BLE001  (any state)
                        got = False
                    abnormal = abnormal or not got
                if abnormal and self.transfer_finished:
                    self.transfer_finished = False
                    self._resp = ("426 Data connection ended abnormally; "
                                  "transfer aborted.", logging.warning)
            base.close(self)

    return Strict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--passive-ports", required=True)
    ap.add_argument("--masquerade")
    ap.add_argument("--tls", choices=("none", "explicit", "implicit"),
                    default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lenient", action="store_true")
    ap.add_argument("--log")
    a = ap.parse_args()
    password = os.environ.get("SOAK_PASSWORD")
    if not password:
        ap.error("no $SOAK_PASSWORD")

    auth = DummyAuthorizer()
    auth.add_user("soak", password, a.home, perm="elradfmwMT")
    handler = FTPHandler
    dtp = DTPHandler
    if a.tls != "none":
        from OpenSSL import SSL
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
        handler = TLS_FTPHandler
        dtp = TLS_DTPHandler
        if a.tls == "implicit":
            class Implicit(TLS_FTPHandler):
                def handle(self):
                    self.secure_connection(self.ssl_context)

                def handle_ssl_established(self):
                    TLS_FTPHandler.handle(self)

                def ftp_AUTH(self, line):
                    self.respond("503 Already using TLS.")
            handler = Implicit
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.use_certificate_chain_file(a.cert)
        ctx.use_privatekey_file(a.key)
        ctx.set_options(SSL.OP_NO_COMPRESSION)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        handler.certfile = a.cert
        handler.keyfile = a.key
        handler.ssl_context = ctx
        handler.tls_control_required = True
        handler.tls_data_required = True
    if not a.lenient:
        dtp = strict_dtp(dtp, a.tls != "none")
    handler.dtp_handler = dtp
    handler.authorizer = auth
    handler.banner = "soak server ready."
    handler.max_login_attempts = 100
    handler.permit_foreign_addresses = False
    lo, hi = (int(x) for x in a.passive_ports.split("-"))
    handler.passive_ports = range(lo, hi + 1)
    if a.masquerade:
        handler.masquerade_address = a.masquerade
    logging.basicConfig(filename=a.log, level=logging.WARNING if a.log
                        else logging.CRITICAL)
    server = FTPServer(("127.0.0.1", a.port), handler)
    server.max_cons = 0
    server.max_cons_per_ip = 0
    print("ready", server.socket.getsockname()[1], flush=True)
    server.serve_forever(handle_exit=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
