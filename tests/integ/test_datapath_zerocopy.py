#!/usr/bin/python3
"""The zero-copy data path: plain FTP moves bytes without copying them
through user space.

ZeroCopyTest (needs /usr/bin/strace and ptrace): strace is
attached to the running agent around one 32 MiB plain download into a
regular file and one 32 MiB plain upload from a regular file. The
download must move its bytes with splice(2) (socket -> pipe -> file, so at
least twice the size) while read/recv* return less than 1 MiB in all; the
upload must move them with sendfile(2) (or splice) while write/send*
send less than 1 MiB. An FTPS download, by contrast, must not splice and
is still byte exact.

SlowTransferTest: a spliced download and a sendfile upload that last
longer than the data connection's idle timeout still finish.

What the data path tests share is in datapath_common.py.
"""
import collections
import os
import re
import signal
import subprocess
import sys

import ftpa

from datapath_common import MIB, DataTestCase, data_of, read_file

STRACE = "/usr/bin/strace"


# ---- slow zero-copy transfers and the idle timeout -------------------------

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
