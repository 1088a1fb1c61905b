#!/usr/bin/python3
"""Segmented downloads (issue 18), over JSON-RPC: transfer.get with
"segments" cuts a file into ranges of at least 1 MiB, each over its own
connection of the session (REST at its start, written at its offset);
the result is byte-identical against pyftpdlib, vsftpd and ftpmock; a
range cut short resumes where it stopped; what cannot be segmented is
refused with a clear error; a cancel stops every range and the session
keeps working. ftpctl's get -n is tested in test_ftpctl_segments.py."""
import os
import time

import ftpa
import ftpmock_tree

MIB = 1 << 20
MOCK_PW = "mockpw"


def starts(size, n):
    """Where each of n ranges of a size-byte file starts."""
    return [size * i // n for i in range(n)]


class SegmentsBase:
    def get(self, rpc, sid, path, segments, out=None, flags=0, **extra):
        """transfer.get of path with segments into a new file out (a
        temporary one by default); the reply and out."""
        out = out or os.path.join(self.tmpdir(), "out.bin")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | flags, 0o600)
        p = {"session": sid, "path": path, "segments": segments, "fd": 0}
        p.update(extra)
        try:
            reply = rpc.call_raw("transfer.get", p, fds=[fd], timeout=120)
        finally:
            os.close(fd)
        return reply, out

    def assertSame(self, out, sha):
        self.assertEqual(ftpa.sha256_file(out), sha)


class PyftpdSegmentsTest(SegmentsBase, ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.pyftpd_session(events=True)

    def remote(self, name, size):
        return ftpa.make_file(os.path.join(self.srv.home, name), size)

    def rests(self):
        return [int(l.split()[1]) for l in self.srv.commands()
                if l.upper().startswith("REST ")]

    def test_four_ranges(self):
        size = 9 * MIB + 12345
        sha = self.remote("big.bin", size)
        reply, out = self.get(self.rpc, self.sid, "/big.bin", 4)
        self.assertNotIn("error", reply, reply)
        job = reply["result"]
        self.assertEqual(job["state"], "done", job)
        self.assertEqual((job["bytes"], job["total"]), (size, size), job)
        self.assertSame(out, sha)
        # ranges 2..4 start with REST at their offset (the first needs
        # none); four RETRs, from up to four connections
        self.assertEqual(sorted(self.rests()), starts(size, 4)[1:])
        self.assertEqual(len([l for l in self.srv.commands()
                              if l.upper().startswith("RETR")]), 4)
        self.assertGreaterEqual(self.srv.max_connections(), 2)

    def test_small_files_have_fewer_ranges(self):
        for size, n in ((500 * 1024, 1), (2 * MIB + 512 * 1024, 2),
                        (0, 1)):
            before = len(self.rests())
            sha = self.remote("f%d" % size, size)
            retrs = len([l for l in self.srv.commands()
                         if l.upper().startswith("RETR")])
            reply, out = self.get(self.rpc, self.sid, "/f%d" % size, 8)
            self.assertEqual(reply["result"]["state"], "done", reply)
            self.assertSame(out, sha)
            # a file of no bytes is there once the size is known
            self.assertEqual(len([l for l in self.srv.commands()
                                  if l.upper().startswith("RETR")]) - retrs,
                             n if size else 0, size)
            self.assertEqual(sorted(self.rests()[before:]),
                             starts(size, n)[1:], size)

    def test_a_longer_local_file_is_cut_to_size(self):
        size = 3 * MIB
        sha = self.remote("three.bin", size)
        out = os.path.join(self.tmpdir(), "old.bin")
        with open(out, "wb") as f:
            f.write(b"x" * (5 * MIB))
        reply, out = self.get(self.rpc, self.sid, "/three.bin", 3, out=out)
        self.assertEqual(reply["result"]["state"], "done", reply)
        self.assertSame(out, sha)

    def test_refused(self):
        """What cannot be segmented: a clear params error, no job."""
        self.remote("r.bin", 2 * MIB)
        d = self.tmpdir()
        for n, extra, flags, why in (
                (4, {"offset": 10}, 0, "offset"),
                (4, {"type": "ascii"}, 0, "ascii"),
                (4, {"rename": {"dir_fd": 0, "from": "a.part", "to": "a"}},
                 0, "rename"),
                (4, {}, os.O_APPEND, "O_APPEND"),
                (17, {}, 0, "16"),
                (0, {}, 0, "16"),
                ("4", {}, 0, "16")):
            reply, _ = self.get(self.rpc, self.sid, "/r.bin", n,
                                out=os.path.join(d, "o"), flags=flags,
                                **extra)
            self.assertRpcError(reply, -32602)
            self.assertIn(why, reply["error"]["message"], extra)
        # inline, a pipe, an upload
        reply = self.rpc.call_raw("transfer.get", {
            "session": self.sid, "path": "/r.bin", "segments": 2,
            "inline": True})
        self.assertRpcError(reply, -32602)
        r, w = os.pipe()
        try:
            reply = self.rpc.call_raw("transfer.get", {
                "session": self.sid, "path": "/r.bin", "segments": 2,
                "fd": 0}, fds=[w])
        finally:
            os.close(r)
            os.close(w)
        self.assertRpcError(reply, -32602)
        self.assertIn("regular file", reply["error"]["message"])
        fd = os.open(os.path.join(d, "src"), os.O_RDWR | os.O_CREAT)
        try:
            reply = self.rpc.call_raw("transfer.put", {
                "session": self.sid, "path": "/up.bin", "segments": 2,
                "fd": 0}, fds=[fd])
        finally:
            os.close(fd)
        self.assertRpcError(reply, -32602)
        self.assertEqual(self.rpc.call("job.list", {}), [])
        self.rpc.call("agent.ping", {})

    def test_missing_and_directory(self):
        os.mkdir(os.path.join(self.srv.home, "adir"))
        reply, out = self.get(self.rpc, self.sid, "/nothing.bin", 4)
        self.assertRpcError(reply, kind="not_found")
        reply, out = self.get(self.rpc, self.sid, "/adir", 4)
        self.assertIn("error", reply, reply)
        self.assertIn(reply["error"]["data"]["kind"], ("not_found", "ftp"))
        self.assertEqual(os.path.getsize(out), 0)

    def test_limit_rate_is_for_all_ranges(self):
        size = 4 * MIB
        sha = self.remote("lim.bin", size)
        rate = 2 * MIB
        t0 = time.monotonic()
        reply, out = self.get(self.rpc, self.sid, "/lim.bin", 4,
                              limit_rate=rate)
        took = time.monotonic() - t0
        self.assertEqual(reply["result"]["state"], "done", reply)
        self.assertEqual(reply["result"]["limit_rate"], rate)
        self.assertSame(out, sha)
        # the ranges share the job's bucket: never faster than it
        self.assertGreaterEqual(took, 0.95 * size / rate)


class SlowPyftpdSegmentsTest(SegmentsBase, ftpa.TestCase):
    def test_cancel_stops_every_range(self):
        srv = self.start_pyftpd(rate=256 * 1024, events=True)
        agent = self.start_agent()
        rpc = agent.rpc()
        sid = rpc.call("session.open", {"url": srv.url(
            with_password=True)})["session"]
        ftpa.make_file(os.path.join(srv.home, "slow.bin"), 8 * MIB)
        reply, out = self.get(rpc, sid, "/slow.bin", 4, wait=False)
        job = reply["result"]["job"]
        ftpa.wait_until(lambda: rpc.call("job.status", {"job": job})[
            "bytes"] > 256 * 1024, 30, what="the ranges to start")
        rpc.call("job.cancel", {"job": job})
        st = rpc.call("job.wait", {"job": job, "timeout": 30}, timeout=40)
        self.assertEqual(st["state"], "cancelled", st)
        self.assertEqual(st["error"]["data"]["kind"], "cancelled", st)
        # no range keeps running: the session is idle again and serves
        ftpa.wait_until(lambda: rpc.call("session.list", {})[0]["busy"] == 0,
                        15, what="the ranges to stop")
        ftpa.make_file(os.path.join(srv.home, "small.bin"), 1000)
        r = rpc.call("transfer.get", {"session": sid, "path": "/small.bin",
                                      "inline": True}, timeout=30)
        self.assertEqual(len(ftpa.unb64(r["data"])), 1000)


class VsftpdSegmentsTest(SegmentsBase, ftpa.TestCase):
    def test_four_ranges(self):
        srv = self.start_vsftpd()
        agent = self.start_agent()
        rpc = agent.rpc()
        sid = rpc.call("session.open", {"url": srv.url("/"),
                                        "password": srv.password})["session"]
        size = 6 * MIB + 7
        sha = ftpa.make_file(os.path.join(srv.home, "v.bin"), size)
        os.chmod(os.path.join(srv.home, "v.bin"), 0o644)
        reply, out = self.get(rpc, sid, "/v.bin", 4)
        self.assertEqual(reply["result"]["state"], "done", reply)
        self.assertSame(out, sha)
        # four ranges, the agent's log says, and every command answered
        self.assertIn("in 4 ranges", agent.log_text())


class VsftpdTlsSegmentsTest(SegmentsBase, ftpa.TestCase):
    def test_connections_work_after_ranges(self):
        """FTPS against vsftpd, which wants every data connection to
        resume the control connection's TLS session (single-use TLS 1.3
        tickets): a range ends by closing its data connection early, and
        the ticket that connection brought must stay good for the next
        transfer on the same control connection (close_notify first)."""
        srv = self.start_vsftpd(tls="explicit")
        agent = self.start_agent()
        rpc = agent.rpc()
        sid = rpc.call("session.open", {
            "url": srv.url("/", scheme="ftpes"), "password": srv.password,
            "ca_file": ftpa.certs().ca})["session"]
        size = 6 * MIB + 7
        sha = ftpa.make_file(os.path.join(srv.home, "t.bin"), size)
        small = ftpa.make_file(os.path.join(srv.home, "small.bin"), 70000)
        for name in ("t.bin", "small.bin"):
            os.chmod(os.path.join(srv.home, name), 0o644)
        reply, out = self.get(rpc, sid, "/t.bin", 4)
        self.assertEqual(reply.get("result", {}).get("state"), "done",
                         reply)
        self.assertSame(out, sha)
        # then every connection of the session again, at once, twice
        d = self.tmpdir()
        for rnd in range(2):
            jobs = []
            for i in range(4):
                fd = os.open(os.path.join(d, "s%d%d" % (rnd, i)),
                             os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    jobs.append(rpc.call("transfer.get", {
                        "session": sid, "path": "/small.bin", "fd": 0,
                        "wait": False}, fds=[fd])["job"])
                finally:
                    os.close(fd)
            for job in jobs:
                st = rpc.call("job.wait", {"job": job, "timeout": 30},
                              timeout=40)
                self.assertEqual(st["state"], "done", st)
            for i in range(4):
                self.assertSame(os.path.join(d, "s%d%d" % (rnd, i)), small)
        self.assertNotIn("session NOT resumed", agent.log_text())


class MockSegmentsTest(SegmentsBase, ftpa.TestCase):
    def test_impossible_size(self):
        """A server that says 2^63 - 1 bytes: refused as too large
        (limit), the local file untouched, the session serving."""
        mock = self.start_mock("size_max")
        agent = self.start_agent()
        rpc = agent.rpc()
        sid = rpc.call("session.open", {"url": mock.url("/"),
                                        "password": MOCK_PW})["session"]
        out = os.path.join(self.tmpdir(), "huge.bin")
        with open(out, "wb") as f:
            f.write(b"kept")
        reply, out = self.get(rpc, sid, "/huge.bin", 4, out=out)
        self.assertRpcError(reply, kind="limit")
        self.assertIn("9223372036854775807", reply["error"]["message"])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"kept")
        self.assertEqual(rpc.call("session.list", {})[0]["session"], sid)
        rpc.call("agent.ping", {})

    def test_cut_short_range_resumes(self):
        """The first RETR is dropped after 300,000 bytes: that range
        retries with REST at its start + 300,000; the file is whole."""
        mock = self.start_mock("segments_flaky")
        agent = self.start_agent()
        rpc = agent.rpc()
        sid = rpc.call("session.open", {
            "url": mock.url("/"), "password": MOCK_PW,
            "retry_delay": 0.2})["session"]
        size = 4 * MIB
        reply, out = self.get(rpc, sid, "/big.bin", 4)
        self.assertEqual(reply["result"]["state"], "done", reply)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), ftpmock_tree.file_bytes(
                b"big.bin", size))
        rests = sorted(int(l.split()[1]) for l in mock.received()
                       if l.upper().startswith("REST "))
        dropped = [e for e in mock.events("mark")
                   if e["text"] == "dropped the data connection"]
        self.assertEqual(len(dropped), 1)
        # the four starts (REST 0 or none for the first), and one resume
        # into whichever range was dropped, after what had come of its
        # 300,000 bytes (a reset drops what the sender still held)
        resumed = [r for r in rests if r not in starts(size, 4)]
        self.assertEqual(len(resumed), 1, rests)
        self.assertTrue([s for s in starts(size, 4)
                         if s < resumed[0] <= s + 300000], rests)


if __name__ == "__main__":
    ftpa.main()
