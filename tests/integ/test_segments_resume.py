#!/usr/bin/python3
"""Segmented downloads continued by a later run (issue 18), over
JSON-RPC: while ranges are missing the agent keeps a record of them at
the end of the file (protocol/segrec.h: the remote size and time, and
per range where it starts, how far it is written, where it ends), and
transfer.get with "segments" and "resume": true goes on from there.

What holds: a record made here by hand (the documented layout) is
followed exactly (REST at each range's written end, whole ranges not
fetched, the written bytes kept as they are); a record for another
remote file (other time or size), a damaged one, or a file of the wrong
length starts over; a download the agent stops (cancel) leaves a record
whose claims the file bears out, and continuing it ends byte-identical,
over plain FTP (splice) and FTPS (copied, where bytes wait in memory)
and against pyftpdlib (MLST) and vsftpd (SIZE and MDTM)."""
import os
import struct
import subprocess

import ftpa

MIB = 1 << 20
REC = 512
MAGIC = b"FTPA-SG1"


def starts(size, n):
    return [size * i // n for i in range(n)]


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def record(size, mtime, ranges):
    """The record's bytes: ranges is [(start, done, end)]."""
    body = MAGIC + struct.pack("<qqI4x", size, mtime, len(ranges))
    for r in ranges:
        body += struct.pack("<qqq", *r)
    body = body.ljust(REC - 8, b"\0")
    return body + struct.pack("<Q", fnv1a(body))


def read_record(path):
    """(size, mtime, [(start, done, end)]) from the end of path; checks
    the magic and the checksum."""
    with open(path, "rb") as f:
        f.seek(-REC, os.SEEK_END)
        rec = f.read(REC)
    assert rec[:8] == MAGIC, rec[:8]
    assert struct.unpack("<Q", rec[-8:])[0] == fnv1a(rec[:-8])
    size, mtime, n = struct.unpack("<qqI", rec[8:28])
    ranges = [struct.unpack("<qqq", rec[32 + 24 * i:56 + 24 * i])
              for i in range(n)]
    return size, mtime, ranges


class ResumeBase:
    """self.srv, self.rpc, self.sid; remote files under srv.home."""

    def remote(self, name, size):
        path = os.path.join(self.srv.home, name)
        sha = ftpa.make_file(path, size)
        os.chmod(path, 0o644)
        with open(path, "rb") as f:
            return sha, f.read()

    def mtime(self, name):
        return int(os.stat(os.path.join(self.srv.home, name)).st_mtime)

    def get(self, path, out, segments=4, **extra):
        fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
        p = {"session": self.sid, "path": path, "segments": segments,
             "fd": 0}
        p.update(extra)
        try:
            return self.rpc.call_raw("transfer.get", p, fds=[fd],
                                     timeout=120)
        finally:
            os.close(fd)

    def partial(self, out, data, mtime, ranges, fill=b"L"):
        """out as a run that wrote ranges [(start, done, end)] of data
        would leave it, except that the written bytes are fill (so that
        what is kept shows), and garbage where nothing was written."""
        with open(out, "wb") as f:
            f.write(b"?" * len(data))
            for start, done, _ in ranges:
                f.seek(start)
                f.write(fill * (done - start))
            f.seek(len(data))
            f.write(record(len(data), mtime, ranges))

    def expected(self, data, ranges, fill=b"L"):
        out = bytearray(data)
        for start, done, _ in ranges:
            out[start:done] = fill * (done - start)
        return bytes(out)

    def commands(self):
        """The FTP commands the agent sent (its log)."""
        return self.agent.commands()

    def rests(self, since):
        return sorted(int(l.split()[1]) for l in self.commands()[since:]
                      if l.upper().startswith("REST "))

    def retrs(self, since):
        return len([l for l in self.commands()[since:]
                    if l.upper().startswith("RETR ")])


class PyftpdResume(ResumeBase, ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.pyftpd_session(events=True)
        self.dir = self.tmpdir()

    def test_follows_the_record(self):
        """Each range goes on at its written end (REST there), a whole
        range is not fetched, and what was written stays as it is."""
        size = 8 * MIB + 333
        _, data = self.remote("r.bin", size)
        s = starts(size, 4) + [size]
        ranges = [(s[0], s[0] + 1000, s[1]),     # partly written
                  (s[1], s[2], s[2]),            # whole
                  (s[2], s[2], s[3]),            # not begun
                  (s[3], s[3] + 777777, s[4])]
        out = os.path.join(self.dir, "r.bin")
        self.partial(out, data, self.mtime("r.bin"), ranges)
        mark = len(self.commands())
        reply = self.get("/r.bin", out, resume=True)
        job = reply.get("result")
        self.assertIsNotNone(job, reply)
        self.assertEqual(job["state"], "done", job)
        written = sum(d - st for st, d, _ in ranges)
        self.assertEqual((job["bytes"], job["total"]),
                         (size - written, size - written), job)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.expected(data, ranges))
        self.assertEqual(self.rests(mark), [s[0] + 1000, s[2],
                                            s[3] + 777777])
        self.assertEqual(self.retrs(mark), 3)
        self.assertIn("written by an earlier run", self.agent.log_text())

    def test_libftpagent_get_fd(self):
        """ftpagent_get_fd resuming a file whose last bytes are a record
        (libclient_files get-fd): continued in the record's ranges, as
        transfer.get "resume" is, without segments asked."""
        size = 4 * MIB + 99
        _, data = self.remote("f.bin", size)
        s = starts(size, 2) + [size]
        ranges = [(s[0], s[0] + 4096, s[1]), (s[1], s[1] + 5, s[2])]
        out = os.path.join(self.dir, "f.bin")
        self.partial(out, data, self.mtime("f.bin"), ranges)
        mark = len(self.commands())
        prog = os.path.join(ftpa.BUILDDIR, "tests", "libclient_files")
        p = subprocess.run([prog, self.agent.sock, self.sid, "get-fd",
                            "/f.bin", out, "resume"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        left = size - 4096 - 5
        self.assertEqual(p.stdout.decode().split(),
                         ["ok", "bytes=%d" % left, "total=%d" % left])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.expected(data, ranges))
        self.assertEqual(self.rests(mark), [s[0] + 4096, s[1] + 5])

    def test_all_written(self):
        """A record of whole ranges (a run stopped before the end): no
        transfer at all; the record is cut off."""
        size = 3 * MIB
        _, data = self.remote("w.bin", size)
        s = starts(size, 3) + [size]
        ranges = [(s[i], s[i + 1], s[i + 1]) for i in range(3)]
        out = os.path.join(self.dir, "w.bin")
        self.partial(out, data, self.mtime("w.bin"), ranges)
        mark = len(self.commands())
        job = self.get("/w.bin", out, resume=True)["result"]
        self.assertEqual((job["state"], job["bytes"]), ("done", 0), job)
        self.assertEqual(os.path.getsize(out), size)
        self.assertEqual(self.retrs(mark), 0)

    def test_no_fitting_record_starts_over(self):
        """Another time, another size, a damaged record, a file of the
        wrong length, no record: the whole file again, in fresh ranges."""
        size = 4 * MIB + 5
        sha, data = self.remote("o.bin", size)
        mt = self.mtime("o.bin")
        s = starts(size, 2) + [size]
        ranges = [(s[0], s[0] + 5000, s[1]), (s[1], s[1] + 5000, s[2])]
        out = os.path.join(self.dir, "o.bin")
        cases = {
            "other time": lambda: self.partial(out, data, mt + 60, ranges),
            "other size": lambda: self.partial(out, data + b"x", mt,
                                               ranges),
            "damaged": lambda: (self.partial(out, data, mt, ranges),
                                flip(out, size + 40)),
            "longer file": lambda: (self.partial(out, data, mt, ranges),
                                    append(out, b"z")),
            "no record": lambda: write(out, b"L" * (size + REC)),
        }
        for what, make in cases.items():
            with self.subTest(what):
                make()
                mark = len(self.commands())
                job = self.get("/o.bin", out, segments=2,
                               resume=True)["result"]
                self.assertEqual(job["state"], "done", job)
                self.assertEqual(job["bytes"], size, job)
                self.assertEqual(ftpa.sha256_file(out), sha)
                self.assertEqual(self.rests(mark), [s[1]])
        self.assertEqual(self.agent.log_text().count("starting over"),
                         len(cases))

    def test_without_resume_starts_over(self):
        """A record is followed only when asked ("resume")."""
        size = 2 * MIB
        sha, data = self.remote("n.bin", size)
        out = os.path.join(self.dir, "n.bin")
        ranges = [(0, MIB, MIB), (MIB, 2 * MIB, 2 * MIB)]
        self.partial(out, data, self.mtime("n.bin"), ranges)
        job = self.get("/n.bin", out, segments=2)["result"]
        self.assertEqual((job["state"], job["bytes"]), ("done", size), job)
        self.assertEqual(ftpa.sha256_file(out), sha)

    def test_resume_refused_alone(self):
        """"resume" is for segmented downloads only: a params error."""
        self.remote("p.bin", 1000)
        out = os.path.join(self.dir, "p.bin")
        for n, method in ((1, "transfer.get"), (2, "transfer.put")):
            fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                reply = self.rpc.call_raw(method, {
                    "session": self.sid, "path": "/p.bin", "fd": 0,
                    "segments": n, "resume": True}, fds=[fd])
            finally:
                os.close(fd)
            self.assertRpcError(reply, -32602)
            self.assertIn("resume", reply["error"]["message"])
        self.assertIn("transfer.get.segments.resume",
                      self.rpc.call("rpc.info", {})["features"])


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x10]))


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


class StoppedThenContinued:
    """A download the agent stops (cancelled, rate-limited so that it is
    midway) leaves a record the file bears out; continuing it ends
    byte-identical and fetches only what the record says is missing."""

    def stop_and_continue(self):
        size = 8 * MIB
        sha, data = self.remote("s.bin", size)
        out = os.path.join(self.tmpdir(), "s.bin")
        reply = self.get("/s.bin", out, wait=False, limit_rate=2 * MIB)
        job = reply["result"]["job"]
        ftpa.wait_until(lambda: self.rpc.call("job.status", {"job": job})[
            "bytes"] > 3 * MIB, 30, what="3 MiB of the ranges")
        self.rpc.call("job.cancel", {"job": job})
        st = self.rpc.call("job.wait", {"job": job, "timeout": 30},
                           timeout=40)
        self.assertEqual(st["state"], "cancelled", st)
        self.assertEqual(os.path.getsize(out), size + REC)
        rsize, _, ranges = read_record(out)
        self.assertEqual(rsize, size)
        self.assertEqual([r[0] for r in ranges], starts(size, 4))
        written = sum(d - s for s, d, _ in ranges)
        # it claims most of what came, and nothing that is not there
        self.assertGreater(written, 2 * MIB, ranges)
        with open(out, "rb") as f:
            for s, d, _ in ranges:
                f.seek(s)
                self.assertEqual(f.read(d - s), data[s:d], (s, d))
        mark = len(self.commands())
        reply = self.get("/s.bin", out, resume=True)
        job = reply.get("result")
        self.assertIsNotNone(job, reply)
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["bytes"], size - written, job)
        self.assertEqual(ftpa.sha256_file(out), sha)
        self.assertEqual(self.rests(mark),
                         sorted(d for s, d, e in ranges if d < e and d > 0))


class PyftpdStopped(StoppedThenContinued, ResumeBase, ftpa.TestCase):
    def test_stop_and_continue(self):
        self.pyftpd_session(events=True)
        self.stop_and_continue()


class VsftpdTlsStopped(StoppedThenContinued, ResumeBase, ftpa.TestCase):
    """FTPS: the bytes are copied through the agent's buffer, and the
    record never counts what still waits there."""

    def test_stop_and_continue(self):
        self.srv = self.start_vsftpd(tls="explicit")
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc()
        self.sid = self.rpc.call("session.open", {
            "url": self.srv.url("/", scheme="ftpes"),
            "password": self.srv.password,
            "ca_file": ftpa.certs().ca})["session"]
        self.stop_and_continue()


if __name__ == "__main__":
    ftpa.main()
