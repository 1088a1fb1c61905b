#!/usr/bin/python3
"""The data path: every kind of local fd a transfer can be given, byte
exact.

Plain FTP against vsftpd, root only, and pyftpdlib: files of
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
1 MiB tmpfs, a pipe or socket reader that quits: EPIPE), and a data
connection cut mid-file (tests/ftpmock.py: RST, close + 426, short of
SIZE).

Many transfers at once are test_datapath_concurrent.py's; the proof that
plain FTP moves bytes without copying them through user space is
test_datapath_zerocopy.py's. What they share is in datapath_common.py.

test_new_get_into_dev_null is new behaviour: /dev/null is accepted as a
download destination (other character devices, terminals first, stay
refused: test_get_refuses_other_char_devices).
"""
import fcntl
import hashlib
import os
import random
import re
import socket
import subprocess
import termios
import threading
import time

import ftpa
import ftpmock
from ftpmock import payload

from datapath_common import (BIG, MIB, DataTestCase, data_of, read_file,
                             sha)

KIB = 1024
SIZES = (0, 1, 65535, 65537, MIB + 17, BIG)
INLINE_SIZES = (0, 1, 65535, 65537, MIB + 17)
TLS_SIZES = (0, 1, 65537, MIB + 17, BIG)


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


if __name__ == "__main__":
    ftpa.main()
