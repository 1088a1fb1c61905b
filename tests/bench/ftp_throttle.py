#!/usr/bin/python3
"""An FTP proxy that caps each data connection's throughput, for figure
P7 of tests/bench/run (tests/bench/segments.sh): a long-distance link
gives each TCP connection a fraction of what the path can carry, which
is what segmented downloads (several data connections) are for.

    ftp_throttle.py --server HOST:PORT --cap BYTES_PER_S --log FILE

Listens on 127.0.0.1 (--listen, port 0 by default: a free one) and
prints its port on standard output once it accepts connections. Each
client's control connection goes to the server as it is, except that the
server's 227 (PASV) and 229 (EPSV) replies are rewritten to announce a
listener of the proxy, on the address the client reached the proxy at;
the data connection the client makes there is forwarded to the server's
real passive port, and capped at --cap bytes/s in each direction by a
token bucket of its own (--cap 0: no cap, to measure the proxy itself).
The control connection is not capped. Active mode (PORT, EPRT) and TLS
(AUTH) are refused: the proxy must read the replies to rewrite them.

The bytes move with splice(2), from socket to pipe to socket, never
through Python, so that one process can forward several capped
connections at once on a small machine. Stops on SIGTERM or SIGINT;
writes one line per connection and data connection to the log.
"""
import argparse
import fcntl
import os
import re
import signal
import socket
import sys
import threading
import time

BACKLOG = 64
LINE_MAX = 8192         # of a control line, either way
ACCEPT_TIMEOUT = 60     # seconds a passive listener waits for the client
BURST_S = 0.05          # the token bucket holds 50 ms of the cap
PIPE_SIZE = 1 << 20     # asked for each relay's pipe (the most by default)

PASV_RE = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV_RE = re.compile(rb"\((.)\1\1(\d+)\1\)")


class Log:
    """Lines with a time stamp, written whole (threads share the file)."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def __call__(self, fmt, *args):
        line = "%.3f %s\n" % (time.monotonic() - self.t0, fmt % args)
        with self.lock:
            self.f.write(line)


class Bucket:
    """A token bucket: take(n) waits until n bytes may go at `rate`
    bytes/s, with at most BURST_S seconds of credit saved up."""

    def __init__(self, rate):
        self.rate = rate
        self.burst = max(64 * 1024, int(rate * BURST_S))
        self.tokens = self.burst
        self.last = time.monotonic()

    def chunk(self):
        """How much to move at once: at most the bucket's size."""
        return self.burst

    def take(self, n):
        now = time.monotonic()
        self.tokens = min(self.burst,
                          self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= n
        if self.tokens < 0:
            time.sleep(-self.tokens / self.rate)


class Unlimited:
    def chunk(self):
        return 1 << 20

    def take(self, n):
        pass


def bucket(cap):
    return Bucket(cap) if cap > 0 else Unlimited()


class Relay:
    """One data connection: a thread for each direction, each moving the
    bytes with splice(2) through a pipe of its own, each capped. The
    last direction to end closes both sockets."""

    def __init__(self, log, name, client, server, cap):
        self.log = log
        self.name = name
        self.client = client
        self.server = server
        self.cap = cap
        self.lock = threading.Lock()
        self.running = 2
        self.moved = {}
        self.t0 = time.monotonic()

    def start(self):
        for src, dst, way in ((self.server, self.client, "down"),
                              (self.client, self.server, "up")):
            threading.Thread(target=self.pump, args=(src, dst, way),
                             daemon=True).start()

    def pump(self, src, dst, way):
        moved = 0
        rfd, wfd = os.pipe()
        try:
            size = fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            size = fcntl.fcntl(wfd, fcntl.F_GETPIPE_SZ)
        b = bucket(self.cap)
        chunk = min(size, b.chunk())
        why = "eof"
        try:
            while True:
                n = os.splice(src.fileno(), wfd, chunk)
                if n == 0:
                    break
                left = n
                while left:
                    left -= os.splice(rfd, dst.fileno(), left)
                moved += n
                b.take(n)
            dst.shutdown(socket.SHUT_WR)
        except OSError as e:
            why = e.strerror or str(e)
            # wake the other direction: it sees an error or the end
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            os.close(rfd)
            os.close(wfd)
        self.ended(way, moved, why)

    def ended(self, way, moved, why):
        with self.lock:
            self.moved[way] = (moved, why)
            self.running -= 1
            last = self.running == 0
        if not last:
            return
        self.client.close()
        self.server.close()
        secs = max(time.monotonic() - self.t0, 1e-6)
        down, dwhy = self.moved["down"]
        up, uwhy = self.moved["up"]
        self.log("%s: closed after %.3f s: down %d bytes (%.2f MB/s, %s), "
                 "up %d bytes (%.2f MB/s, %s)", self.name, secs, down,
                 down / secs / 1e6, dwhy, up, up / secs / 1e6, uwhy)


class Control:
    """One client's control connection and the passive listeners it asks
    for. Commands go to the server line by line (PORT, EPRT and AUTH are
    answered here instead); replies come back line by line, 227 and 229
    rewritten."""

    def __init__(self, opt, log, client, n):
        self.opt = opt
        self.log = log
        self.client = client
        self.name = "c%d" % n
        self.ndata = 0
        self.server = None
        self.send_lock = threading.Lock()     # both threads answer the client
        # the address the client reached us at: announced in 227, and
        # where the passive listeners are
        self.local_ip = client.getsockname()[0]

    def run(self):
        try:
            self.server = socket.create_connection(self.opt.server, 30)
            self.server.settimeout(None)
        except OSError as e:
            self.log("%s: cannot reach the server: %s", self.name, e)
            self.reply(b"421 proxy: cannot reach the server\r\n")
            self.client.close()
            return
        self.log("%s: from %s:%d", self.name, *self.client.getpeername()[:2])
        threading.Thread(target=self.commands, daemon=True).start()
        self.replies()

    def reply(self, data):
        with self.send_lock:
            try:
                self.client.sendall(data)
            except OSError:
                pass

    def commands(self):
        f = self.client.makefile("rb", buffering=0)
        try:
            while True:
                line = f.readline(LINE_MAX)
                if not line:
                    break
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb in (b"PORT", b"EPRT"):
                    self.reply(b"502 proxy: passive mode only\r\n")
                elif verb == b"AUTH":
                    self.reply(b"502 proxy: no TLS (the replies must be "
                               b"read)\r\n")
                else:
                    self.server.sendall(line)
        except OSError:
            pass
        try:
            self.server.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def replies(self):
        f = self.server.makefile("rb", buffering=0)
        try:
            while True:
                line = f.readline(LINE_MAX)
                if not line:
                    break
                if line.startswith(b"227 ") or line.startswith(b"229 "):
                    line = self.passive(line)
                self.reply(line)
        except OSError:
            pass
        self.log("%s: closed", self.name)
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def passive(self, line):
        """The reply line rewritten to send the client to a listener of
        ours that forwards to the port the server announced."""
        epsv = line.startswith(b"229 ")
        m = (EPSV_RE if epsv else PASV_RE).search(line)
        if m is None:
            self.log("%s: cannot parse %r", self.name, line)
            return line
        if epsv:
            port = int(m.group(2))
        else:
            port = int(m.group(5)) * 256 + int(m.group(6))
        # like the agent: the server's address is that of the control
        # connection, whatever a 227 says
        target = (self.server.getpeername()[0], port)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((self.local_ip, 0))
        ls.listen(1)
        ls.settimeout(ACCEPT_TIMEOUT)
        mine = ls.getsockname()[1]
        self.ndata += 1
        name = "%s.d%d" % (self.name, self.ndata)
        threading.Thread(target=self.data, args=(ls, name, target),
                         daemon=True).start()
        if epsv:
            new = b"(|||%d|)" % mine
        else:
            new = b"%s,%d,%d" % (self.local_ip.replace(".", ",").encode(),
                                 mine >> 8, mine & 255)
        return line[:m.start()] + new + line[m.end():]

    def data(self, ls, name, target):
        try:
            c, peer = ls.accept()
        except OSError as e:
            self.log("%s: no data connection: %s", name, e)
            return
        finally:
            ls.close()
        c.settimeout(None)
        try:
            s = socket.create_connection(target, 30)
            s.settimeout(None)
        except OSError as e:
            self.log("%s: cannot reach %s:%d: %s", name, *target, e)
            c.close()
            return
        self.log("%s: %s:%d -> %s:%d, cap %d B/s", name, peer[0], peer[1],
                 target[0], target[1], self.opt.cap)
        Relay(self.log, name, c, s, self.opt.cap).start()


def host_port(s):
    host, _, port = s.rpartition(":")
    return (host or "127.0.0.1", int(port))


def rate(s):
    """Bytes/s, with an optional k, M or G (powers of 1000)."""
    mult = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}.get(s[-1:], None)
    return int(float(s[:-1]) * mult) if mult else int(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", type=host_port, required=True,
                    help="the FTP server, HOST:PORT")
    ap.add_argument("--listen", type=host_port, default=("127.0.0.1", 0),
                    help="where to listen (default 127.0.0.1:0, a free "
                    "port)")
    ap.add_argument("--cap", type=rate, required=True,
                    help="bytes/s of each data connection, each way "
                    "(k, M, G: powers of 1000; 0: no cap)")
    ap.add_argument("--log", required=True, help="the log file")
    opt = ap.parse_args()

    log = Log(opt.log)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(opt.listen)
    ls.listen(BACKLOG)

    def stop(signum, frame):
        log("signal %d: stopping", signum)
        # the log is written a line at a time; the threads block in
        # system calls: leave without waiting for them
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = ls.getsockname()[1]
    log("listening on %s:%d for %s:%d, cap %d B/s per data connection",
        opt.listen[0], port, opt.server[0], opt.server[1], opt.cap)
    print(port, flush=True)
    n = 0
    while True:
        try:
            c, _ = ls.accept()
        except InterruptedError:
            continue
        n += 1
        threading.Thread(target=Control(opt, log, c, n).run,
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
