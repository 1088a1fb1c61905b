#!/usr/bin/python3
"""A small explicit-FTPS server that costs its host little, for the
second pair of figures of tests/bench/ftps.sh: against vsftpd the server
is the limit of an FTPS transfer on a small machine (its TLS runs in a
second process, fed through a socketpair), so that every client looks
alike; against this one the client is.

    ftps_server.py --root DIR --cert PEM --key PEM --user U --password P

Listens on 127.0.0.1 (--port, 0 by default: a free one) and prints its
port on standard output once it accepts connections. One thread per
control connection. What it serves: AUTH TLS, USER/PASS (one account),
PBSZ, PROT P (required before any transfer), TYPE I, PWD, CWD,
SIZE, MDTM, EPSV/PASV, REST, RETR, STOR, FEAT, OPTS, SYST, NOOP, QUIT.
Names are under --root ("/up/x" is ROOT/up/x), relative ones under the
directory CWD chose; no part of a name may start with a dot.
The data connection's TLS is the server's own (no resumption needed).

The data connection's TLS runs over memory BIOs, so that its system
calls are few and large whatever the record size: up to 1 MiB read from
the socket at once and handed to OpenSSL, which decrypts it record by
record; 1 MiB of the file encrypted at once and sent with one sendall.
Stops on SIGTERM.
"""
import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time

CHUNK = 1 << 20
LINE_MAX = 4096
IDLE_S = 120


class TlsData:
    """The server side of a data connection's TLS, over memory BIOs."""

    def __init__(self, sock, tls):
        self.sock = sock
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.tls = tls.wrap_bio(self.inc, self.out, server_side=True)

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(CHUNK)
        if data:
            self.inc.write(data)
        else:
            self.inc.write_eof()

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()

    def sendall(self, view):
        while len(view) > 0:
            n = self.tls.write(view)
            view = view[n:]
        self.flush()

    def recv_into(self, buf):
        """Fills buf with what the records at hand hold; 0 at the end."""
        view, got = memoryview(buf), 0
        while got < len(view):
            try:
                n = self.tls.read(len(view) - got, view[got:])
            except ssl.SSLWantReadError:
                if got:
                    break
                self.fill()
                continue
            except ssl.SSLZeroReturnError:
                break
            if n == 0:
                break
            got += n
        return got

    def close(self):
        try:
            self.tls.unwrap()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        try:
            self.flush()
        except OSError:
            pass
        self.sock.close()


class Session:
    def __init__(self, conn, args, tls):
        self.sock = conn
        self.args = args
        self.tls = tls
        self.rfile = conn.makefile("rb")
        self.user = None
        self.logged = False
        self.prot_p = False
        self.rest = 0
        self.pasv = None
        self.cwd = []           # the parts of the directory under root

    def reply(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def run(self):
        self.reply("220 ftps_server ready")
        while True:
            line = self.rfile.readline(LINE_MAX)
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                self.reply("221 bye")
                return
            handler = getattr(self, "cmd_" + verb, None)
            if handler is None:
                self.reply("502 not implemented")
            elif not self.logged and verb not in ("AUTH", "USER", "PASS",
                                                 "FEAT", "SYST", "NOOP"):
                self.reply("530 log in first")
            else:
                handler(arg)

    def cmd_AUTH(self, arg):
        if arg.upper() not in ("TLS", "SSL"):
            self.reply("504 AUTH TLS only")
            return
        self.reply("234 proceed")
        self.sock = self.tls.wrap_socket(self.sock, server_side=True)
        self.rfile = self.sock.makefile("rb")

    def cmd_USER(self, arg):
        if not isinstance(self.sock, ssl.SSLSocket):
            self.reply("530 TLS first")
            return
        self.user = arg
        self.reply("331 password")

    def cmd_PASS(self, arg):
        self.logged = (self.user == self.args.user and
                       arg == self.args.password)
        self.reply("230 in" if self.logged else "530 no")

    def cmd_FEAT(self, arg):
        self.sock.sendall(b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n"
                          b" EPSV\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n"
                          b"211 End\r\n")

    def cmd_SYST(self, arg):
        self.reply("215 UNIX Type: L8")

    def cmd_NOOP(self, arg):
        self.reply("200 ok")

    def cmd_OPTS(self, arg):
        self.reply("200 ok")

    def cmd_PBSZ(self, arg):
        self.reply("200 PBSZ=0")

    def cmd_PROT(self, arg):
        self.prot_p = arg.upper() == "P"
        self.reply("200 ok" if self.prot_p else "536 PROT P only")

    def cmd_TYPE(self, arg):
        self.reply("200 binary" if arg.upper().startswith("I")
                   else "504 TYPE I only")

    def cmd_PWD(self, arg):
        self.reply('257 "/%s"' % "/".join(self.cwd))

    def parts(self, arg):
        """arg's parts under root, or None for a name not allowed."""
        parts = [x for x in arg.split("/") if x]
        if any(x.startswith(".") for x in parts):
            return None
        return parts if arg.startswith("/") else self.cwd + parts

    def cmd_CWD(self, arg):
        parts = self.parts(arg)
        if parts is None or not os.path.isdir(
                os.path.join(self.args.root, *parts)):
            self.reply("550 no such directory")
            return
        self.cwd = parts
        self.reply("250 ok")

    def path(self, arg):
        parts = self.parts(arg)
        if not parts:
            return None
        return os.path.join(self.args.root, *parts)

    def cmd_SIZE(self, arg):
        p = self.path(arg)
        try:
            self.reply("213 %d" % os.stat(p).st_size)
        except (OSError, TypeError):
            self.reply("550 no such file")

    def cmd_MDTM(self, arg):
        p = self.path(arg)
        try:
            t = time.gmtime(os.stat(p).st_mtime)
            self.reply("213 " + time.strftime("%Y%m%d%H%M%S", t))
        except (OSError, TypeError):
            self.reply("550 no such file")

    def cmd_REST(self, arg):
        try:
            self.rest = int(arg)
            self.reply("350 restarting at %d" % self.rest)
        except ValueError:
            self.reply("501 bad offset")

    def listen(self):
        if self.pasv is not None:
            self.pasv.close()
        self.pasv = socket.socket()
        self.pasv.bind(("127.0.0.1", 0))
        self.pasv.listen(1)
        self.pasv.settimeout(IDLE_S)
        return self.pasv.getsockname()[1]

    def cmd_EPSV(self, arg):
        self.reply("229 passive (|||%d|)" % self.listen())

    def cmd_PASV(self, arg):
        port = self.listen()
        self.reply("227 passive (127,0,0,1,%d,%d)" % (port >> 8, port & 255))

    def data_open(self):
        """The data connection, TLS done; None after a reply."""
        if self.pasv is None or not self.prot_p:
            self.reply("425 EPSV and PROT P first")
            return None
        self.reply("150 data")
        conn = None
        try:
            conn, _ = self.pasv.accept()
            conn.settimeout(IDLE_S)
            data = TlsData(conn, self.tls)
            data.handshake()
            return data
        except (OSError, ssl.SSLError) as e:
            if conn is not None:
                conn.close()
            self.reply("425 %s" % e)
            return None
        finally:
            self.pasv.close()
            self.pasv = None

    def cmd_RETR(self, arg):
        self.transfer(arg, upload=False)

    def cmd_STOR(self, arg):
        self.transfer(arg, upload=True)

    def transfer(self, arg, upload):
        """RETR or STOR: the file and the data connection, 1 MiB a call."""
        p, rest, self.rest = self.path(arg), self.rest, 0
        try:
            f = open(p, ("r+b" if rest else "wb") if upload else "rb")
        except (OSError, TypeError):
            self.reply("553 cannot create" if upload else "550 no such file")
            return
        with f:
            if upload:
                f.truncate(rest)
            f.seek(rest)
            data = self.data_open()
            if data is None:
                return
            src, dst = ((data.recv_into, f.write) if upload
                        else (f.readinto, data.sendall))
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            try:
                while True:
                    n = src(buf)
                    if not n:
                        break
                    dst(view[:n])
            except (OSError, ssl.SSLError) as e:
                self.reply("426 %s" % e)
                return
            finally:
                data.close()
        self.reply("226 done")


def serve(conn, args, tls):
    conn.settimeout(IDLE_S)
    try:
        Session(conn, args, tls).run()
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.minimum_version = ssl.TLSVersion.TLSv1_3
    tls.load_cert_chain(args.cert, args.key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, args, tls),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
