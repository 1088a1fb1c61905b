#!/usr/bin/python3
"""A pyftpdlib server for tests and the demo.

    pyftpd_server.py --user U --password P --home DIR [--host 127.0.0.1]
                     [--port N] [--passive-ports LO-HI]
                     [--tls none|explicit|implicit --cert PEM --key PEM
                      [--tls-version 1.2|1.3]]

Prints "ready PORT" on stdout once it listens (PORT is the real port, useful
with --port 0). Serves MLSD/MLST as pyftpdlib does. The password is read
from --password or, to keep it out of ps, from $PYFTPD_PASSWORD.

TLS (python3-openssl): explicit is pyftpdlib's TLS_FTPHandler (AUTH TLS,
PBSZ, PROT; TLS required on control and data connections). Implicit wraps
every accepted control connection in TLS before the greeting (pyftpdlib
has no implicit mode of its own); AUTH is then refused with 503, PBSZ and
PROT work as usual. --tls-version pins the protocol version (default: any
of TLS 1.2 and 1.3).
"""
import argparse
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default=os.environ.get("PYFTPD_PASSWORD"))
    ap.add_argument("--home", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--passive-ports")
    ap.add_argument("--tls", choices=("none", "explicit", "implicit"),
                    default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls-version", choices=("1.2", "1.3"))
    ap.add_argument("--log", help="pyftpdlib's log file (default: none)")
    a = ap.parse_args()
    if a.password is None:
        ap.error("no password (--password or $PYFTPD_PASSWORD)")

    auth = DummyAuthorizer()
    auth.add_user(a.user, a.password, a.home, perm="elradfmwMT")
    handler = FTPHandler
    if a.tls != "none":
        from pyftpdlib.handlers import TLS_FTPHandler
        if a.tls == "implicit":
            # pyftpdlib has no implicit mode: wrap the control connection
            # right after accept.
            class Implicit(TLS_FTPHandler):
                def handle(self):
                    self.secure_connection(self.ssl_context)

                def handle_ssl_established(self):
                    TLS_FTPHandler.handle(self)

                def ftp_AUTH(self, line):
                    self.respond("503 Already using TLS.")
            handler = Implicit
        else:
            handler = TLS_FTPHandler
        handler.certfile = a.cert
        handler.keyfile = a.key
        from OpenSSL import SSL
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.use_certificate_chain_file(a.cert)
        ctx.use_privatekey_file(a.key or a.cert)
        ctx.set_options(SSL.OP_NO_COMPRESSION)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        if a.tls_version:
            v = (SSL.TLS1_2_VERSION if a.tls_version == "1.2"
                 else SSL.TLS1_3_VERSION)
            ctx.set_min_proto_version(v)
            ctx.set_max_proto_version(v)
        handler.ssl_context = ctx
        handler.tls_control_required = True
        handler.tls_data_required = True
    handler.authorizer = auth
    handler.banner = "pyftpdlib test server ready."
    if a.passive_ports:
        lo, hi = (int(x) for x in a.passive_ports.split("-"))
        handler.passive_ports = range(lo, hi + 1)
    if a.log:
        logging.basicConfig(filename=a.log, level=logging.INFO)
    else:
        logging.basicConfig(level=logging.CRITICAL)
    server = FTPServer((a.host, a.port), handler)
    print("ready", server.socket.getsockname()[1], flush=True)
    server.serve_forever(handle_exit=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
