#!/usr/bin/python3
"""A pyftpdlib server for tests and the demo.

    pyftpd_server.py --user U --password P --home DIR [--host 127.0.0.1]
                     [--port N] [--passive-ports LO-HI]
                     [--tls none|explicit|implicit --cert PEM --key PEM
                      [--tls-version 1.2|1.3]]
                     [--rate BYTES_PER_S] [--events FILE] [--byte-names]

Prints "ready PORT" on stdout once it listens (PORT is the real port, useful
with --port 0). Serves MLSD/MLST as pyftpdlib does. The password is read
from --password or, to keep it out of ps, from $PYFTPD_PASSWORD. With
--log, $PYFTPD_DEBUG set logs pyftpdlib's debug lines too (every command
and the data channels' TLS steps).

TLS (python3-openssl): explicit is pyftpdlib's TLS_FTPHandler (AUTH TLS,
PBSZ, PROT; TLS required on control and data connections). Implicit wraps
every accepted control connection in TLS before the greeting (pyftpdlib
has no implicit mode of its own); AUTH is then refused with 503, PBSZ and
PROT work as usual. --tls-version pins the protocol version (default: any
of TLS 1.2 and 1.3).

--rate N limits every data connection to N bytes/s each way (pyftpdlib's
ThrottledDTPHandler; plain FTP only): slow transfers for tests that
cancel, kill or watch them. --port N with a fixed N lets a test restart
the server on the same port (the listening socket has SO_REUSEADDR).

--byte-names serves names that are not UTF-8 as the disk has them
(pyftpdlib's unicode_errors "surrogateescape" instead of "replace", which
sends U+FFFD and cannot open such a file again).

--events FILE writes JSON lines as things happen, flushed at once:
  {"t": epoch, "ev": "connect", "count": N, "peer": [ip, port]}
  {"t": epoch, "ev": "disconnect", "count": N, "peer": [ip, port]}
        (count: control connections open after this event)
  {"t": epoch, "ev": "cmd", "line": "REST 1024", "peer": [ip, port]}
        (every command received; PASS's argument is masked)
  {"t": epoch, "ev": "file_sent" | "incomplete_sent" | "file_received" |
        "incomplete_received", "path": FILE}
"""
import argparse
import json
import logging
import os
import sys
import time

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class Events:
    """The --events log, and the count of open control connections."""

    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8")
        self.count = 0

    def __call__(self, ev, **kw):
        rec = {"t": round(time.time(), 4), "ev": ev}
        rec.update(kw)
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()


def with_events(handler, events):
    """A subclass of handler that writes to events (an Events)."""

    class Logged(handler):
        _ev_counted = False

        def _ev_peer(self):
            try:
                return list(self.socket.getpeername()[:2])
            except (OSError, AttributeError):
                return None

        def handle(self):
            self._ev_counted = True
            events.count += 1
            events("connect", count=events.count, peer=self._ev_peer())
            handler.handle(self)

        def close(self):
            if self._ev_counted:
                self._ev_counted = False
                events.count -= 1
                events("disconnect", count=events.count,
                       peer=[self.remote_ip, self.remote_port])
            handler.close(self)

        def pre_process_command(self, line, cmd, arg):
            shown = "PASS ******" if cmd.upper() == "PASS" else line
            events("cmd", line=shown,
                   peer=[self.remote_ip, self.remote_port])
            return handler.pre_process_command(self, line, cmd, arg)

        def on_file_sent(self, file):
            events("file_sent", path=file)

        def on_incomplete_file_sent(self, file):
            events("incomplete_sent", path=file)

        def on_file_received(self, file):
            events("file_received", path=file)

        def on_incomplete_file_received(self, file):
            events("incomplete_received", path=file)

    return Logged


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
    ap.add_argument("--rate", type=int,
                    help="bytes/s per data connection (plain FTP only)")
    ap.add_argument("--events", help="JSON-lines event log (see above)")
    ap.add_argument("--byte-names", action="store_true",
                    help="names that are not UTF-8 sent as bytes")
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
    if a.rate:
        if a.tls != "none":
            ap.error("--rate works with --tls none only")
        from pyftpdlib.handlers import ThrottledDTPHandler

        class Throttled(ThrottledDTPHandler):
            """Paced smoothly (pyftpdlib's own throttle sends a second's
            worth at once, then sleeps up to 2 s): no more than rate * t
            bytes after t seconds, in chunks of at most rate / 16."""
            read_limit = a.rate
            write_limit = a.rate

            def __init__(self, sock, cmd_channel):
                ThrottledDTPHandler.__init__(self, sock, cmd_channel)
                small = max(1024, a.rate // 16)
                self.ac_in_buffer_size = min(self.ac_in_buffer_size, small)
                self.ac_out_buffer_size = min(self.ac_out_buffer_size, small)
                self._pace_t0 = None
                self._pace_bytes = 0

            def _throttle_bandwidth(self, len_chunk, max_speed):
                now = time.monotonic()
                if self._pace_t0 is None:
                    self._pace_t0 = now
                self._pace_bytes += len_chunk
                sleepfor = self._pace_t0 + self._pace_bytes / max_speed - now
                if sleepfor <= 0.002:
                    return

                def unsleep():
                    self.add_channel(events=self.ioloop.READ if self.receive
                                     else self.ioloop.WRITE)
                self.del_channel()
                self._cancel_throttler()
                self._throttler = self.ioloop.call_later(
                    sleepfor, unsleep, _errback=self.handle_error)
        handler.dtp_handler = Throttled
    if a.events:
        handler = with_events(handler, Events(a.events))
    if a.byte_names:
        handler.unicode_errors = "surrogateescape"
    handler.authorizer = auth
    handler.banner = "pyftpdlib test server ready."
    if a.passive_ports:
        lo, hi = (int(x) for x in a.passive_ports.split("-"))
        handler.passive_ports = range(lo, hi + 1)
    if a.log:
        logging.basicConfig(filename=a.log, level=logging.DEBUG if os.environ.get("PYFTPD_DEBUG") else logging.INFO)
    else:
        logging.basicConfig(level=logging.CRITICAL)
    server = FTPServer((a.host, a.port), handler)
    print("ready", server.socket.getsockname()[1], flush=True)
    server.serve_forever(handle_exit=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
