#!/usr/bin/python3
"""The data path: every kind of local fd a transfer can be given, byte
exact, and proof that plain FTP moves bytes without copying them through
user space.

Correctness (plain FTP against vsftpd, root only, and pyftpdlib): files of
awkward sizes (0, 1, 65535, 65537, 1 MiB + 17, 20 MiB + 3 random bytes)
downloaded into a new regular file, an O_APPEND file that holds data, a
file positioned after what it holds (the shared file position, as cat
uses it), a file with "offset" (REST), a pipe whose reader is slow (the
pipe fills; the agent must wait without blocking others or losing bytes),
a Unix socketpair end and /dev/null; uploaded from a regular file (from
its current position, with "offset" and with "append"), a pipe fed in
slow bursts, a socketpair end and inline data. Then FTPS (explicit TLS,
vsftpd strict and pyftpdlib) into and from regular files, ASCII mode with
mixed LF/CRLF text, active mode, local errors mid-file (ENOSPC on a
1 MiB tmpfs, a pipe or socket reader that quits: EPIPE), a data
connection cut mid-file (tests/ftpmock.py: RST, close + 426, short of
SIZE), and 8 concurrent 20 MiB downloads while agent.ping keeps
answering from another connection.

Zero-copy (ZeroCopyTest, needs /usr/bin/strace and ptrace): strace is
attached to the running agent around one 32 MiB plain download into a
regular file and one 32 MiB plain upload from a regular file. The
download must move its bytes with splice(2) (socket -> pipe -> file, so at
least twice the size) while read/recv* return less than 1 MiB in all; the
upload must move them with sendfile(2) (or splice) while write/send*
send less than 1 MiB. An FTPS download, by contrast, must not splice and
is still byte exact.

test_new_get_into_dev_null is new behaviour: /dev/null is accepted as a
download destination (other character devices, terminals first, stay
refused: test_get_refuses_other_char_devices).
"""
import collections
import fcntl
import hashlib
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import threading
import time

import ftpa
import ftpmock
from ftpmock import payload

KIB = 1024
MIB = 1 << 20
BIG = 20 * MIB + 3
SIZES = (0, 1, 65535, 65537, MIB + 17, BIG)
INLINE_SIZES = (0, 1, 65535, 65537, MIB + 17)
TLS_SIZES = (0, 1, 65537, MIB + 17, BIG)
XFER_TIMEOUT = 600          # generous: slow readers, strace, ASan builds
PING_LIMIT = 5.0            # an agent.ping must answer within this
STRACE = "/usr/bin/strace"

_DATA = {}


def data_of(size):
    """The deterministic random content of a test file of size bytes."""
    if size not in _DATA:
        _DATA[size] = payload(size, 7000 + size % 9973)
    return _DATA[size]


def sha(b):
    return ftpa.sha256_bytes(b)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def crlf(data):
    """What an ASCII upload puts on the wire: LF becomes CRLF, an existing
    CRLF stays."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def ascii_text():
    """About 600 KB of text with LF and CRLF line ends mixed, lone CRs
    (never followed by LF), empty lines, and no final line end."""
    rnd = random.Random(30)
    out = [b"first\nsecond\r\n\r\n\nlone\rcr\n"]
    n = 0
    while n < 600000:
        line = bytes(rnd.choice(b"abcdefghij klmnopqrstuvwxyz0123456789")
                     for _ in range(rnd.randrange(0, 120)))
        if rnd.random() < 0.05:
            line += b"\rz"
        end = rnd.choice((b"\n", b"\r\n", b"\r\n", b"\n", b"\n"))
        out.append(line + end)
        n += len(line) + len(end)
    out.append(b"last line without end")
    return b"".join(out)


def fionread(fd):
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, "little")


# ---- threads on the other end of pipes and sockets ------------------------

class Drain(threading.Thread):
    """Reads fd to EOF after `go` is set; sha256 and count of the bytes.
    slow: 4 KiB every 2 ms during the first 512 KiB and again for 256 KiB
    at every 8 MiB, big reads otherwise (the pipe fills, empties, fills)."""

    def __init__(self, fd, go, slow=False, keep=False, limit=None):
        threading.Thread.__init__(self, daemon=True)
        self.fd, self.go, self.slow, self.limit = fd, go, slow, limit
        self.h = hashlib.sha256()
        self.chunks = [] if keep else None
        self.count = 0
        self.error = None
        self.slow_reads = 0

    def is_slow(self):
        n = self.count
        return self.slow and (n < 512 * KIB or
                              (n >= 8 * MIB and n % (8 * MIB) < 256 * KIB))

    def run(self):
        try:
            if not self.go.wait(300):
                raise RuntimeError("never told to start")
            while True:
                if self.is_slow():
                    b = os.read(self.fd, 4 * KIB)
                    self.slow_reads += 1
                    time.sleep(0.002)
                else:
                    b = os.read(self.fd, MIB)
                if not b:
                    break
                if self.limit is not None and self.count >= self.limit:
                    break               # and close: the writer gets EPIPE
                self.h.update(b)
                if self.chunks is not None:
                    self.chunks.append(b)
                self.count += len(b)
        except BaseException as e:     # reported by the test
            self.error = e
        finally:
            os.close(self.fd)


class Feed(threading.Thread):
    """Writes data to fd after `go` is set, then closes it (the agent's
    EOF). slow: 1000-byte writes with 2 ms pauses during the first 256 KiB,
    then bursts of 256 KiB with 5 ms pauses between them."""

    def __init__(self, fd, data, go, slow=False):
        threading.Thread.__init__(self, daemon=True)
        self.fd, self.data, self.go, self.slow = fd, data, go, slow
        self.error = None

    def run(self):
        view = memoryview(self.data)
        off = 0
        try:
            if not self.go.wait(300):
                raise RuntimeError("never told to start")
            while off < len(view):
                if self.slow and off < 256 * KIB:
                    off += os.write(self.fd, view[off:off + 1000])
                    time.sleep(0.002)
                elif self.slow:
                    end = min(len(view), off + 256 * KIB)
                    while off < end:
                        off += os.write(self.fd, view[off:end])
                    time.sleep(0.005)
                else:
                    off += os.write(self.fd, view[off:off + MIB])
        except BaseException as e:
            self.error = e
        finally:
            os.close(self.fd)


class Pinger(threading.Thread):
    """agent.ping on its own connection every 2 ms until stopped; the
    (start, latency) of each, and what went wrong."""

    def __init__(self, sock):
        threading.Thread.__init__(self, daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.latencies = []
        self.errors = []

    def run(self):
        try:
            rpc = ftpa.Rpc(self.sock, PING_LIMIT)
        except OSError as e:
            self.errors.append("connect: %s" % e)
            return
        try:
            while not self.stop.is_set():
                t0 = time.monotonic()
                try:
                    rep = rpc.call_raw("agent.ping", timeout=PING_LIMIT)
                except (OSError, EOFError, ValueError) as e:
                    self.errors.append("agent.ping: %r after %.2f s"
                                       % (e, time.monotonic() - t0))
                    return
                self.latencies.append((t0, time.monotonic() - t0))
                if rep.get("result") != {}:
                    self.errors.append("agent.ping answered %r" % (rep,))
                self.stop.wait(0.002)
        finally:
            rpc.close()


# ---- the common part ----------------------------------------------------------

class DataTestCase(ftpa.TestCase):
    """An agent whose messages may be large (inline data), and helpers."""

    conf_extra = ""     # more lines for the agent's configuration

    def setUp(self):
        super().setUp()
        conf = os.path.join(self.tmpdir(), "ftpd-agent.conf")
        with open(conf, "w") as f:
            f.write("max_message = %d\n" % (32 * MIB) + self.conf_extra)
        self.agent = self.start_agent(extra=["-c", conf])
        self.rpc = self.agent.rpc(timeout=XFER_TIMEOUT)
        self.addCleanup(self.rpc.close)
        self.work = self.tmpdir()

    # -- servers and sessions

    def any_server(self, tls=None):
        """vsftpd when we are root, else pyftpdlib."""
        if ftpa.vsftpd_available():
            return self.start_vsftpd(tls=tls)
        return self.start_pyftpd(tls=tls or "none")

    def open(self, srv, scheme="ftp", **params):
        p = {"url": srv.url("/", scheme=scheme), "password": srv.password}
        if scheme != "ftp":
            p["ca_file"] = ftpa.certs().ca
        p.update(params)
        return self.rpc.call("session.open", p, timeout=60)["session"]

    def write_remote(self, srv, name, data):
        """A file on the server's disk, owned like its home (vsftpd runs
        as the test user and must be able to write it)."""
        path = os.path.join(srv.home, name)
        with open(path, "wb") as f:
            f.write(data)
        st = os.stat(srv.home)
        os.chown(path, st.st_uid, st.st_gid)
        os.chmod(path, 0o644)
        return path

    def read_remote(self, srv, name):
        return read_file(os.path.join(srv.home, name))

    # -- RPC

    def reply_waiting(self):
        """A reply (or anything) came from the agent on self.rpc."""
        return b"\n" in self.rpc.buf or bool(
            select.select([self.rpc.sock], [], [], 0)[0])

    def xfer(self, method, sid, path, fd=None, close=True, during=None,
             timeout=XFER_TIMEOUT, **params):
        """Sends a transfer with fd (closing our copy once sent unless
        close is False), runs during() while it runs, returns the raw
        reply."""
        p = dict(params, session=sid, path=path)
        fds = ()
        if fd is not None:
            p["fd"] = 0
            fds = [fd]
        try:
            rid = self.rpc.send(method, p, fds=fds)
        finally:
            if fd is not None and close:
                os.close(fd)
        if during is not None:
            during()
        return self.rpc.wait_reply(rid, timeout)

    def done(self, rep, what, size=None):
        """rep is a finished transfer's reply: its job, state done, and
        bytes == size when given."""
        self.assertIn("result", rep, "%s: expected success, got %r"
                      % (what, rep))
        job = rep["result"]
        self.assertEqual(job.get("state"), "done", "%s: %r" % (what, job))
        if size is not None:
            self.assertEqual(job.get("bytes"), size, "%s: %r" % (what, job))
        return job

    def failed(self, rep, what):
        """rep is a transfer's error reply; returns the error object."""
        self.assertIn("error", rep, "%s: expected an error, got %r"
                      % (what, rep))
        err = rep["error"]
        kind = (err.get("data") or {}).get("kind")
        self.assertNotIn(kind, (None, "params", "no_session"), err)
        self.assertEqual(err.get("code"), ftpa.KIND_CODES[kind], err)
        self.assertTrue(err.get("message"), err)
        return err

    def ping_ok(self, what):
        """agent.ping on a new connection answers within PING_LIMIT s;
        returns the latency."""
        t0 = time.monotonic()
        try:
            r = self.agent.rpc(timeout=PING_LIMIT)
            try:
                rep = r.call_raw("agent.ping", timeout=PING_LIMIT)
            finally:
                r.close()
        except (OSError, EOFError) as e:
            self.fail("agent.ping did not answer within %g s %s: %r"
                      % (PING_LIMIT, what, e))
        self.assertEqual(rep.get("result"), {}, rep)
        return time.monotonic() - t0

    def join(self, thread, what):
        thread.join(XFER_TIMEOUT)
        self.assertFalse(thread.is_alive(), "%s: the thread on the other "
                         "end never finished" % what)
        self.assertIsNone(thread.error, "%s: %r" % (what, thread.error))

    def get_to_file(self, sid, remote, size, what, flags=0, timeout=None):
        """A download into a new regular file; checks it byte for byte."""
        dest = os.path.join(self.work, "new-%s" % what.replace("/", "_"))
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags,
                     0o600)
        rep = self.xfer("transfer.get", sid, remote, fd,
                        timeout=timeout or XFER_TIMEOUT)
        self.done(rep, what, size)
        self.assertEqual(os.path.getsize(dest), size, what)
        self.assertEqual(ftpa.sha256_file(dest), sha(data_of(size)), what)
        return dest


# ---- plain FTP, every kind of local fd -------------------------------------

class PlainBase:
    """The tests; subclasses say which server (self.server())."""

    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.sid = self.open(self.srv)
        self._remote = set()

    def server(self):
        raise NotImplementedError

    def ascii_disk(self, wire):
        """What the server's disk holds after an ASCII upload of wire."""
        raise NotImplementedError

    def remote(self, size):
        """The name of a remote file of data_of(size), made on first use."""
        name = "src-%d" % size
        if name not in self._remote:
            self.write_remote(self.srv, name, data_of(size))
            self._remote.add(name)
        return name

    # -- downloads

    def test_get_new_file(self):
        for size in SIZES:
            with self.subTest(size=size):
                self.get_to_file(self.sid, self.remote(size), size,
                                 "get-%d" % size)

    def test_get_append_file(self):
        """O_APPEND, the file holds data: the download lands after it."""
        head = payload(9001, 1)
        for size in SIZES:
            with self.subTest(size=size):
                dest = os.path.join(self.work, "app-%d" % size)
                with open(dest, "wb") as f:
                    f.write(head)
                fd = os.open(dest, os.O_WRONLY | os.O_APPEND)
                rep = self.xfer("transfer.get", self.sid, self.remote(size),
                                fd)
                self.done(rep, "get O_APPEND %d" % size, size)
                got = read_file(dest)
                self.assertEqual(len(got), len(head) + size)
                self.assertEqual(sha(got), sha(head + data_of(size)))

    def test_get_shared_position(self):
        """No O_APPEND, the fd positioned after what the file holds (as a
        shell leaves it): the download is written from there and the
        shared file position ends after it, as cat would leave it."""
        head = payload(5000, 2)
        for size in SIZES:
            with self.subTest(size=size):
                dest = os.path.join(self.work, "pos-%d" % size)
                with open(dest, "wb") as f:
                    f.write(head)
                fd = os.open(dest, os.O_WRONLY)
                try:
                    os.lseek(fd, len(head), os.SEEK_SET)
                    rep = self.xfer("transfer.get", self.sid,
                                    self.remote(size), fd, close=False)
                    self.done(rep, "get at position %d" % size, size)
                    self.assertEqual(os.lseek(fd, 0, os.SEEK_CUR),
                                     len(head) + size,
                                     "the shared file position")
                finally:
                    os.close(fd)
                got = read_file(dest)
                self.assertEqual(len(got), len(head) + size)
                self.assertEqual(sha(got), sha(head + data_of(size)))

    def test_get_resume_offset(self):
        """"offset": REST, the local file holds the first part."""
        for size in SIZES:
            with self.subTest(size=size):
                k = size // 3 if size >= 3 else size
                data = data_of(size)
                dest = os.path.join(self.work, "res-%d" % size)
                with open(dest, "wb") as f:
                    f.write(data[:k])
                mark = self.agent.log_size()
                fd = os.open(dest, os.O_WRONLY)
                rep = self.xfer("transfer.get", self.sid, self.remote(size),
                                fd, offset=k)
                self.done(rep, "get offset %d of %d" % (k, size), size - k)
                got = read_file(dest)
                self.assertEqual(len(got), size)
                self.assertEqual(sha(got), sha(data))
                if 0 < k < size:
                    cmds = self.agent.commands(mark)
                    self.assertIn("REST %d" % k, cmds)

    def test_get_slow_pipe(self):
        """A pipe whose reader starts late and is slow at times: the pipe
        fills, the agent waits for it without blocking anyone (pings are
        answered meanwhile) and loses nothing."""
        for size in SIZES:
            with self.subTest(size=size):
                r, w = os.pipe()
                go = threading.Event()
                drain = Drain(r, go, slow=True)
                drain.start()
                lat = []

                def during():
                    try:
                        if size:
                            ftpa.wait_until(
                                lambda: fionread(r) >= min(size, 32 * KIB)
                                or self.reply_waiting(), 60,
                                what="the agent to fill the pipe")
                        for _ in range(3):
                            lat.append(self.ping_ok("while the agent waits "
                                                    "on a full pipe"))
                    finally:
                        go.set()
                rep = self.xfer("transfer.get", self.sid, self.remote(size),
                                w, during=during)
                self.done(rep, "get into a pipe %d" % size, size)
                self.join(drain, "pipe reader")
                self.assertEqual(drain.count, size)
                self.assertEqual(drain.h.hexdigest(), sha(data_of(size)))
                if size >= 512 * KIB:
                    self.assertGreater(drain.slow_reads, 100)

    def test_get_socketpair(self):
        for size in SIZES:
            with self.subTest(size=size):
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                go = threading.Event()
                drain = Drain(b.detach(), go)
                drain.start()

                def during():
                    try:
                        self.ping_ok("while the socket is not read")
                    finally:
                        go.set()
                rep = self.xfer("transfer.get", self.sid, self.remote(size),
                                a.detach(), during=during)
                self.done(rep, "get into a socketpair %d" % size, size)
                self.join(drain, "socket reader")
                self.assertEqual(drain.count, size)
                self.assertEqual(drain.h.hexdigest(), sha(data_of(size)))

    def test_get_reader_quits(self):
        """The reader of the pipe or socket closes it after 100 KiB: a
        local_io error (no SIGPIPE kills the agent), then the session
        works again."""
        for kind in ("pipe", "socket"):
            with self.subTest(dest=kind):
                if kind == "pipe":
                    r, w = os.pipe()
                else:
                    a, b = socket.socketpair(socket.AF_UNIX,
                                             socket.SOCK_STREAM)
                    r, w = b.detach(), a.detach()
                go = threading.Event()
                go.set()
                drain = Drain(r, go, limit=100 * KIB)
                drain.start()
                rep = self.xfer("transfer.get", self.sid, self.remote(BIG), w)
                self.join(drain, "%s reader" % kind)
                err = self.failed(rep, "get into a %s closed early" % kind)
                self.assertEqual(err["data"]["kind"], "local_io", err)
                self.assertIsNone(self.agent.proc.poll(), "the agent died")
                self.ping_ok("after EPIPE")
                self.get_to_file(self.sid, self.remote(MIB + 17), MIB + 17,
                                 "after EPIPE on a %s" % kind)

    def test_new_get_into_dev_null(self):
        """NEW BEHAVIOUR: /dev/null is a download destination; the job
        reports every byte."""
        for size in SIZES:          # the first failure says it all
            fd = os.open("/dev/null", os.O_WRONLY)
            rep = self.xfer("transfer.get", self.sid, self.remote(size), fd)
            self.done(rep, "get into /dev/null %d" % size, size)
        self.ping_ok("after /dev/null")

    def test_get_refuses_other_char_devices(self):
        """A terminal (and another character device than /dev/null) is
        refused before anything is sent, with a clear local_io error."""
        master, slave = os.openpty()
        self.addCleanup(os.close, master)
        zero = os.open("/dev/zero", os.O_WRONLY)
        for what, fd in (("a pty", slave), ("/dev/zero", zero)):
            with self.subTest(dest=what):
                mark = self.agent.log_size()
                rep = self.xfer("transfer.get", self.sid, self.remote(1), fd)
                self.assertIn("error", rep, "%s: %r" % (what, rep))
                err = rep["error"]
                self.assertEqual((err.get("data") or {}).get("kind"),
                                 "local_io", err)
                self.assertRegex(err.get("message", ""),
                                 re.compile(r"terminal|device", re.I), err)
                self.assertFalse([c for c in self.agent.commands(mark)
                                  if c.upper().startswith("RETR")])
        self.get_to_file(self.sid, self.remote(65537), 65537, "after refusal")

    def test_get_disk_full(self):
        """ENOSPC mid-file (a 1 MiB tmpfs): a local_io error, the agent
        keeps serving and the session works again."""
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        d = self.tmpdir()
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m",
                            "ftpa-full", d], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.skipTest("cannot mount a tmpfs: %s" % p.stdout.decode())
        self.addCleanup(subprocess.run, ["umount", "-l", d],
                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        for flags in (0, os.O_APPEND):
            with self.subTest(append=bool(flags)):
                dest = os.path.join(d, "full-%d" % flags)
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC |
                             flags, 0o600)
                rep = self.xfer("transfer.get", self.sid, self.remote(BIG),
                                fd)
                err = self.failed(rep, "get into a full file system")
                self.assertEqual(err["data"]["kind"], "local_io", err)
                os.unlink(dest)
                self.ping_ok("after ENOSPC")
                self.get_to_file(self.sid, self.remote(MIB + 17), MIB + 17,
                                 "after ENOSPC %d" % flags)

    def test_get_inline(self):
        for size in INLINE_SIZES:
            with self.subTest(size=size):
                rep = self.xfer("transfer.get", self.sid, self.remote(size),
                                inline=True)
                job = self.done(rep, "inline get %d" % size, size)
                self.assertEqual(sha(ftpa.unb64(job.get("data", ""))),
                                 sha(data_of(size)))

    # -- uploads

    def local(self, size, name=None):
        path = os.path.join(self.work, name or "local-%d" % size)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data_of(size))
        return path

    def test_put_file(self):
        for size in SIZES:
            with self.subTest(size=size):
                name = "put-%d" % size
                fd = os.open(self.local(size), os.O_RDONLY)
                rep = self.xfer("transfer.put", self.sid, name, fd)
                self.done(rep, "put %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)))

    def test_put_shared_position(self):
        """The fd positioned inside the file: the upload is what follows
        the position, which ends at the end of the file (as cat)."""
        for size in SIZES:
            with self.subTest(size=size):
                pos = size // 2 + (1 if size > 2 else 0)
                name = "putpos-%d" % size
                fd = os.open(self.local(size), os.O_RDONLY)
                try:
                    os.lseek(fd, pos, os.SEEK_SET)
                    rep = self.xfer("transfer.put", self.sid, name, fd,
                                    close=False)
                    self.done(rep, "put from position %d" % pos, size - pos)
                    self.assertEqual(os.lseek(fd, 0, os.SEEK_CUR), size,
                                     "the shared file position")
                finally:
                    os.close(fd)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)[pos:]))

    def test_put_resume_offset(self):
        """"offset": REST + STOR, the server holds the first part."""
        for size in SIZES:
            with self.subTest(size=size):
                k = size // 3 + (7 if size > 100 else 0)
                data = data_of(size)
                name = "putres-%d" % size
                self.write_remote(self.srv, name, data[:k])
                mark = self.agent.log_size()
                fd = os.open(self.local(size), os.O_RDONLY)
                rep = self.xfer("transfer.put", self.sid, name, fd, offset=k)
                self.done(rep, "put offset %d of %d" % (k, size))
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data))
                if k:
                    cmds = [c.upper() for c in self.agent.commands(mark)]
                    self.assertIn("REST %d" % k, cmds)

    def test_put_append(self):
        head = payload(777, 3)
        for size in SIZES:
            with self.subTest(size=size):
                name = "putapp-%d" % size
                self.write_remote(self.srv, name, head)
                fd = os.open(self.local(size), os.O_RDONLY)
                rep = self.xfer("transfer.put", self.sid, name, fd,
                                append=True)
                self.done(rep, "put append %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(head + data_of(size)))

    def test_put_slow_pipe(self):
        """A pipe fed late, in small writes, then bursts: the agent waits
        on the empty pipe without blocking anyone."""
        for size in SIZES:
            with self.subTest(size=size):
                r, w = os.pipe()
                go = threading.Event()
                feed = Feed(w, data_of(size), go, slow=True)
                feed.start()
                name = "putpipe-%d" % size

                def during():
                    try:
                        for _ in range(3):
                            self.ping_ok("while the agent waits on an "
                                         "empty pipe")
                    finally:
                        go.set()
                rep = self.xfer("transfer.put", self.sid, name, r,
                                during=during)
                self.join(feed, "pipe writer")
                self.done(rep, "put from a pipe %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)))

    def test_put_socketpair(self):
        for size in SIZES:
            with self.subTest(size=size):
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                go = threading.Event()
                feed = Feed(b.detach(), data_of(size), go)
                feed.start()
                name = "putsock-%d" % size

                def during():
                    try:
                        self.ping_ok("while the socket is empty")
                    finally:
                        go.set()
                rep = self.xfer("transfer.put", self.sid, name, a.detach(),
                                during=during)
                self.join(feed, "socket writer")
                self.done(rep, "put from a socketpair %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)))

    def test_put_inline(self):
        for size in INLINE_SIZES:
            with self.subTest(size=size):
                name = "putinl-%d" % size
                rep = self.xfer("transfer.put", self.sid, name,
                                data=ftpa.b64(data_of(size)))
                self.done(rep, "inline put %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)))

    # -- ASCII, active mode

    def test_ascii_get_put_file(self):
        """TYPE A into and from regular files: CRLF -> LF on the way down
        (a lone CR stays), LF -> CRLF (an existing CRLF kept) on the way
        up; exact bytes."""
        text = ascii_text()
        self.write_remote(self.srv, "text", text)
        dest = os.path.join(self.work, "text-down")
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        rep = self.xfer("transfer.get", self.sid, "text", fd, type="ascii")
        self.done(rep, "ASCII get")
        self.assertEqual(read_file(dest), text.replace(b"\r\n", b"\n"))

        src = os.path.join(self.work, "text-up")
        with open(src, "wb") as f:
            f.write(text)
        fd = os.open(src, os.O_RDONLY)
        rep = self.xfer("transfer.put", self.sid, "text-up", fd, type="ascii")
        self.done(rep, "ASCII put")
        self.assertEqual(self.read_remote(self.srv, "text-up"),
                         self.ascii_disk(crlf(text)))
        # binary again: nothing converted
        self.get_to_file(self.sid, self.remote(MIB + 17), MIB + 17,
                         "binary after ascii")

    def test_active_mode(self):
        sid = self.open(self.srv, passive=False)
        for size in (1, MIB + 17, BIG):
            with self.subTest(size=size):
                self.get_to_file(sid, self.remote(size), size,
                                 "active-%d" % size)
                name = "active-put-%d" % size
                fd = os.open(self.local(size), os.O_RDONLY)
                rep = self.xfer("transfer.put", sid, name, fd)
                self.done(rep, "active put %d" % size, size)
                self.assertEqual(sha(self.read_remote(self.srv, name)),
                                 sha(data_of(size)))


class VsftpdPlainTest(PlainBase, DataTestCase):
    def server(self):
        return self.start_vsftpd(extra_conf=("ascii_upload_enable=NO",
                                             "ascii_download_enable=NO"))

    def ascii_disk(self, wire):
        return wire                         # stored as it arrived


class PyftpdPlainTest(PlainBase, DataTestCase):
    def server(self):
        return self.start_pyftpd()

    def ascii_disk(self, wire):
        return wire.replace(b"\r\n", b"\n")     # pyftpdlib on POSIX


# ---- FTPS --------------------------------------------------------------------

class TlsDataTest(DataTestCase):
    """Explicit FTPS into and from regular files: the read/write loop."""

    def check(self, srv):
        sid = self.open(srv, scheme="ftpes")
        for size in TLS_SIZES:
            with self.subTest(size=size):
                data = data_of(size)
                name = "tls-%d" % size
                fd = os.open(self.local(size), os.O_RDONLY)
                rep = self.xfer("transfer.put", sid, name, fd)
                self.done(rep, "FTPS put %d" % size, size)
                self.assertEqual(sha(self.read_remote(srv, name)), sha(data))
                self.get_to_file(sid, name, size, "tls-get-%d" % size)
        # resume and O_APPEND over TLS too
        data = data_of(BIG)
        k = BIG // 3
        dest = os.path.join(self.work, "tls-resume")
        with open(dest, "wb") as f:
            f.write(data[:k])
        fd = os.open(dest, os.O_WRONLY)
        rep = self.xfer("transfer.get", sid, "tls-%d" % BIG, fd, offset=k)
        self.done(rep, "FTPS get offset", BIG - k)
        self.assertEqual(ftpa.sha256_file(dest), sha(data))
        head = b"kept\n"
        dest = os.path.join(self.work, "tls-append")
        with open(dest, "wb") as f:
            f.write(head)
        fd = os.open(dest, os.O_WRONLY | os.O_APPEND)
        rep = self.xfer("transfer.get", sid, "tls-%d" % BIG, fd)
        self.done(rep, "FTPS get O_APPEND", BIG)
        self.assertEqual(ftpa.sha256_file(dest), sha(head + data))

    def local(self, size):
        path = os.path.join(self.work, "local-%d" % size)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data_of(size))
        return path

    def test_vsftpd_explicit_strict(self):
        self.check(self.start_vsftpd(tls="explicit"))

    def test_pyftpd_explicit(self):
        self.check(self.start_pyftpd(tls="explicit"))


# ---- a data connection cut mid-file ------------------------------------------

CUT_SIZE = 8 * MIB
CUT_AT = 3 * MIB + 5


class CutTest(DataTestCase):
    """The server cuts the data connection mid-file (tests/ftpmock.py):
    an error, never a success; what was written is a true prefix; the
    agent keeps serving."""

    def cut_mock(self, end, seed, final, size=None):
        step = {"data": CUT_SIZE, "seed": seed, "limit": CUT_AT, "end": end}
        return self.start_mock(script={"steps": ftpmock.download(
            step, size=size, reply_226=final)})

    def check_cut(self, mock, seed, dest_kind, what):
        sid = self.rpc.call("session.open", {
            "url": mock.url("/"), "password": "mockpw", "retries": 0},
            timeout=60)["session"]
        want = payload(CUT_SIZE, seed)
        if dest_kind == "file":
            dest = os.path.join(self.work, "cut-%s-%s" % (seed, dest_kind))
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            rep = self.xfer("transfer.get", sid, "/file", fd, timeout=120)
            got = read_file(dest)
        else:
            r, w = os.pipe()
            go = threading.Event()
            go.set()
            drain = Drain(r, go, keep=True)
            drain.start()
            rep = self.xfer("transfer.get", sid, "/file", w, timeout=120)
            self.join(drain, "pipe reader")
            got = b"".join(drain.chunks)
        err = self.failed(rep, what)
        job = (err.get("data") or {}).get("job")
        if job is not None:
            self.assertEqual(job.get("state"), "failed", job)
        self.assertLess(len(got), CUT_SIZE, what)
        self.assertLessEqual(len(got), CUT_AT, what)
        self.assertEqual(sha(got), sha(want[:len(got)]),
                         "%s: what was written is not a prefix of the file"
                         % what)
        sent = mock.events("data_sent")
        self.assertTrue(sent, mock.events())
        self.assertEqual(sent[0]["bytes"], CUT_AT, sent)
        return err

    def serving(self):
        self.ping_ok("after a cut data connection")
        self.assertIsInstance(self.rpc.call("session.list"), list)
        ok = self.start_mock(script={"steps": ftpmock.download(
            {"data": MIB + 17, "seed": 9}, size=MIB + 17)})
        sid = self.rpc.call("session.open", {
            "url": ok.url("/"), "password": "mockpw", "retries": 0},
            timeout=60)["session"]
        dest = os.path.join(self.work, "after-cut-%d" % ok.port)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.done(self.xfer("transfer.get", sid, "/file", fd, timeout=120),
                  "a good download after the cut", MIB + 17)
        self.assertEqual(ftpa.sha256_file(dest), sha(payload(MIB + 17, 9)))

    def test_reset_then_226(self):
        """RST on the data connection, then 226: the reset alone must make
        it a failure."""
        for dest in ("file", "pipe"):
            with self.subTest(dest=dest):
                mock = self.cut_mock("reset", 41, "226 Transfer complete.\r\n")
                self.check_cut(mock, 41, dest, "data reset")
        self.serving()

    def test_close_then_426(self):
        for dest in ("file", "pipe"):
            with self.subTest(dest=dest):
                mock = self.cut_mock("close", 42, "426 Connection closed; "
                                     "transfer aborted.\r\n")
                err = self.check_cut(mock, 42, dest, "data closed + 426")
                self.assertEqual(err["data"]["kind"], "ftp", err)
        self.serving()

    def test_short_of_size_then_226(self):
        """SIZE says 8 MiB, the data ends at 3 MiB + 5 with a clean close
        and a 226: a partial-transfer error."""
        for dest in ("file", "pipe"):
            with self.subTest(dest=dest):
                mock = self.cut_mock("close", 43, "226 Transfer complete.\r\n",
                                     size=CUT_SIZE)
                self.check_cut(mock, 43, dest, "data short of SIZE")
        self.serving()


# ---- concurrency ------------------------------------------------------------------

class SlowTransferTest(DataTestCase):
    """A spliced download and a sendfile upload that take three times the
    data connection's idle timeout (pyftpdlib paced at 512 KiB/s,
    data_timeout 1 s) finish: moving bytes outside io_recv/io_send still
    counts as activity."""

    RATE = 512 * 1024
    SIZE = 3 * RATE

    def test_slow_get_and_put(self):
        srv = self.start_pyftpd(rate=self.RATE)
        # no retries: a timeout must not be hidden by a resumed attempt
        sid = self.open(srv, data_timeout=1, retries=0)
        data = data_of(self.SIZE)
        self.write_remote(srv, "slow", data)
        dest = os.path.join(self.work, "slow-down")
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.done(self.xfer("transfer.get", sid, "slow", fd),
                  "slow spliced get", self.SIZE)
        self.assertEqual(read_file(dest), data)
        fd = os.open(dest, os.O_RDONLY)
        self.done(self.xfer("transfer.put", sid, "slow-up", fd),
                  "slow sendfile put", self.SIZE)
        self.assertEqual(self.read_remote(srv, "slow-up"), data)


class ConcurrentTest(DataTestCase):
    """8 downloads of a 20 MiB file at once (two sessions of 4
    connections) into regular files, all byte exact, while agent.ping on
    another connection keeps answering."""

    def run8(self, srv):
        data = data_of(BIG)
        self.write_remote(srv, "big", data)
        sids = [self.open(srv, max_connections=4) for _ in range(2)]
        pinger = Pinger(self.agent.sock)
        pinger.start()
        self.addCleanup(pinger.stop.set)
        ids, dests = [], []
        t0 = time.monotonic()
        for i in range(8):
            dest = os.path.join(self.work, "c%d" % i)
            dests.append(dest)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                ids.append(self.rpc.send("transfer.get", {
                    "session": sids[i % 2], "path": "big", "fd": 0},
                    fds=[fd]))
            finally:
                os.close(fd)
        reps = [self.rpc.wait_reply(i, XFER_TIMEOUT) for i in ids]
        t1 = time.monotonic()
        pinger.stop.set()
        pinger.join(30)
        for i, rep in enumerate(reps):
            self.done(rep, "download %d of 8" % i, BIG)
            self.assertEqual(ftpa.sha256_file(dests[i]), sha(data),
                             "download %d of 8" % i)
        self.assertFalse(pinger.errors, pinger.errors)
        during = [lat for start, lat in pinger.latencies if t0 <= start < t1]
        self.assertTrue(during, "no agent.ping was answered while the "
                        "downloads ran (%.3f s)" % (t1 - t0))
        worst = max(lat for _, lat in pinger.latencies)
        sys.stderr.write("[8 x 20 MiB in %.2f s; %d pings meanwhile, max "
                         "latency %.3f s] " % (t1 - t0, len(during), worst))
        self.assertLess(worst, PING_LIMIT)

    def test_vsftpd(self):
        self.run8(self.start_vsftpd())

    def test_pyftpd(self):
        self.run8(self.start_pyftpd())


class FairShareTest(DataTestCase):
    """100 downloads at once (100 sessions of one connection, vsftpd) into
    /dev/null: each gets a share while they all run (none waits for the
    others to finish), every one ends with all its bytes, and agent.ping
    keeps answering. Shares are checked when the first download ends;
    only loose bounds are asserted (the figures are the benchmark's,
    tests/bench/run P5)."""

    N = 100
    SIZE = 48 * MIB
    conf_extra = "max_sessions_per_uid = 200\n"

    def jobs(self, r):
        res = r.call("job.list", {}, timeout=60)
        return res.get("jobs", res) if isinstance(res, dict) else res

    def test_hundred_transfers_share(self):
        lo, hi = ftpa.free_port_range(2 * self.N)
        srv = self.start_vsftpd(extra_conf=["pasv_min_port=%d" % lo,
                                            "pasv_max_port=%d" % hi,
                                            "max_per_ip=0", "max_clients=0"])
        self.write_remote(srv, "big", data_of(self.SIZE))
        # every connection logged in before (session.open logs in): the
        # shares are the data path's, not the order in which on-demand
        # logins finished on a loaded machine
        sids = [self.open(srv, max_connections=1) for _ in range(self.N)]
        pinger = Pinger(self.agent.sock)
        pinger.start()
        self.addCleanup(pinger.stop.set)
        watch = self.agent.rpc(timeout=60)
        self.addCleanup(watch.close)
        before = {j["job"] for j in self.jobs(watch)}
        # all sent at once (pipelined), so that they start together
        ids = []
        for i in range(self.N):
            fd = os.open("/dev/null", os.O_WRONLY)
            try:
                ids.append(self.rpc.send("transfer.get", {
                    "session": sids[i], "path": "big", "fd": 0,
                    "wait": False}, fds=[fd]))
            finally:
                os.close(fd)
        for i in ids:
            self.assertIn("job", self.rpc.wait_reply(i, 60).get("result", {}))
        sample = None
        deadline = time.monotonic() + XFER_TIMEOUT
        while time.monotonic() < deadline:
            jobs = [j for j in self.jobs(watch) if j["job"] not in before]
            self.assertEqual(len(jobs), self.N, jobs[:3])
            if sample is None and any(
                    j["state"] in ("done", "failed", "cancelled")
                    for j in jobs):
                # the first one ended: had every other one had a share?
                sample = sorted(j.get("bytes", 0) for j in jobs)
            if all(j["state"] in ("done", "failed", "cancelled")
                   for j in jobs):
                break
            time.sleep(0.02)
        else:
            self.fail("the 100 downloads did not end")
        pinger.stop.set()
        pinger.join(30)
        for j in jobs:
            self.assertEqual(j["state"], "done", j)
            self.assertEqual(j.get("bytes"), self.SIZE, j)
        self.assertIsNotNone(sample, "no sample taken")
        sys.stderr.write("[when the first ended: fewest %d, most %d bytes; "
                         "%d pings, "
                         "worst %.3f s] " % (
                             sample[0], sample[-1], len(pinger.latencies),
                             max(l for _, l in pinger.latencies)))
        # each had a share before any finished: none still at zero, none
        # far behind (a transfer that starts late, its server slow to
        # answer EPSV on a loaded machine, is still well past 1 %)
        self.assertGreater(sample[0], 0, sample[:10])
        self.assertGreaterEqual(sample[0], sample[-1] // 100, sample[:10])
        self.assertFalse(pinger.errors, pinger.errors)
        self.assertTrue(pinger.latencies, "no agent.ping answered")
        self.assertLess(max(l for _, l in pinger.latencies), PING_LIMIT)


# ---- zero-copy, seen by strace ---------------------------------------------------

READS = ("read", "readv", "pread64", "preadv", "preadv2", "recvfrom",
         "recvmsg")
WRITES = ("write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto",
          "sendmsg")
ZERO_COPY = ("splice", "sendfile")
ZC_SIZE = 32 * MIB
COPY_LIMIT = MIB

_LINE = re.compile(r"^(?:\d+\s+)?(?:<\.\.\.\s+(\w+)\s+resumed>|(\w+)\()")
_RET = re.compile(r"\)\s+=\s+(-?\d+)")


def parse_strace(path):
    """Sums of the positive return values, and call counts, by syscall."""
    moved, calls = collections.Counter(), collections.Counter()
    with open(path, encoding="latin-1") as f:
        for line in f:
            line = line.rstrip("\n")
            if "<unfinished ...>" in line or line.endswith("= ?"):
                continue
            m = _LINE.match(line)
            rets = _RET.findall(line)
            if not m or not rets:
                continue
            name = m.group(1) or m.group(2)
            ret = int(rets[-1])
            calls[name] += 1
            if ret > 0:
                moved[name] += ret
    return moved, calls


class Strace:
    """strace attached to a running process (and its threads)."""

    def __init__(self, tc, pid):
        self.tc, self.pid = tc, pid
        d = tc.tmpdir()
        self.out = os.path.join(d, "strace.out")
        self.err = os.path.join(d, "strace.err")
        cmd = [STRACE, "-f", "-qq", "-s", "0",
               "-e", "trace=" + ",".join(READS + WRITES + ZERO_COPY),
               "-o", self.out, "-p", str(pid)]
        with open(self.err, "wb") as ef:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=ef, start_new_session=True)
        tc._track(self.proc, "strace")

        def attached():
            if self.proc.poll() is not None:
                with open(self.err, errors="replace") as f:
                    why = f.read().strip()
                tc.skipTest("strace cannot attach to the agent (ptrace not "
                            "permitted here?): %s" % why)
            return self.all_traced()
        ftpa.wait_until(attached, 30, what="strace to attach to the agent")

    def all_traced(self):
        try:
            for t in os.listdir("/proc/%d/task" % self.pid):
                with open("/proc/%d/task/%s/status" % (self.pid, t)) as f:
                    m = re.search(r"^TracerPid:\s+(\d+)", f.read(), re.M)
                if m is None or m.group(1) == "0":
                    return False
            return True
        except FileNotFoundError:
            return False

    def stop(self):
        """Detaches (SIGTERM to strace, by pid); returns (moved, calls)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.tc.fail("strace did not detach within 60 s")
        ftpa.wait_until(lambda: not self.all_traced(), 30,
                        what="the agent to be untraced")
        return parse_strace(self.out)


def summary(moved, calls):
    return ", ".join("%s: %d calls, %d bytes" % (n, calls[n], moved[n])
                     for n in sorted(calls)) or "no calls seen"


class ZeroCopyTest(DataTestCase):
    """Plain FTP downloads splice and uploads sendfile; FTPS does not."""

    def setUp(self):
        if not os.access(STRACE, os.X_OK):
            self.skipTest("%s is missing (Debian package strace)" % STRACE)
        super().setUp()

    @staticmethod
    def remote_file(srv, name, size):
        """A random file of size bytes in the server's home, owned like
        it; returns its sha256."""
        path = os.path.join(srv.home, name)
        digest = ftpa.make_file(path, size)
        st = os.stat(srv.home)
        os.chown(path, st.st_uid, st.st_gid)
        return digest

    def trace(self):
        t = Strace(self, self.agent.pid)
        # the agent is traced and answers (a read and a write it makes)
        self.ping_ok("under strace")
        return t

    def traced_get(self, srv, scheme, name, size):
        """A download of a new random file under strace, checked byte for
        byte; returns the bytes moved by system call and their summary."""
        sid = self.open(srv, scheme=scheme)
        digest = self.remote_file(srv, name, size)
        dest = os.path.join(self.work, name + "-down")
        t = self.trace()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        rep = self.xfer("transfer.get", sid, name, fd)
        moved, calls = t.stop()
        self.done(rep, "%s get under strace" % scheme, size)
        self.assertEqual(ftpa.sha256_file(dest), digest)
        seen = summary(moved, calls)
        sys.stderr.write("[%s] " % seen)
        return moved, seen

    def test_plain_get_splices(self):
        moved, seen = self.traced_get(self.any_server(), "ftp", "zc", ZC_SIZE)
        read = sum(moved[n] for n in READS)
        spliced = moved["splice"]
        self.assertGreaterEqual(read + spliced, ZC_SIZE,
                                "strace did not see the download: " + seen)
        self.assertGreaterEqual(spliced, 2 * ZC_SIZE,
                                "the download was not spliced "
                                "(socket -> pipe -> file): " + seen)
        self.assertLess(read, COPY_LIMIT, "the download went through "
                        "user space: " + seen)

    def test_plain_put_sendfile(self):
        srv = self.any_server()
        sid = self.open(srv)
        src = os.path.join(self.work, "zc-up")
        digest = ftpa.make_file(src, ZC_SIZE)
        t = self.trace()
        fd = os.open(src, os.O_RDONLY)
        rep = self.xfer("transfer.put", sid, "zc-up", fd)
        moved, calls = t.stop()
        self.done(rep, "plain put under strace", ZC_SIZE)
        self.assertEqual(ftpa.sha256_file(os.path.join(srv.home, "zc-up")),
                         digest)
        seen = summary(moved, calls)
        sys.stderr.write("[%s] " % seen)
        written = sum(moved[n] for n in WRITES)
        zc = moved["sendfile"] + moved["splice"]
        self.assertGreaterEqual(written + zc, ZC_SIZE,
                                "strace did not see the upload: " + seen)
        self.assertGreaterEqual(zc, ZC_SIZE, "the upload did not use "
                                "sendfile/splice: " + seen)
        self.assertLess(written, COPY_LIMIT, "the upload went through "
                        "user space: " + seen)

    def test_ftps_get_does_not_splice(self):
        size = 16 * MIB + 3
        moved, seen = self.traced_get(self.any_server(tls="explicit"),
                                      "ftpes", "zc-tls", size)
        self.assertEqual(moved["splice"], 0, "FTPS data cannot be "
                         "spliced: " + seen)
        # TLS records are read into user space and decrypted there
        self.assertGreaterEqual(sum(moved[n] for n in READS), size, seen)
        self.assertGreaterEqual(sum(moved[n] for n in WRITES), size, seen)


if __name__ == "__main__":
    ftpa.main()
