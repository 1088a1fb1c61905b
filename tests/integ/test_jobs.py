#!/usr/bin/python3
"""Jobs, events and parallel connections (issue 5; docs/protocol.md, last
section). Numbers are TEST-CASES.md's.

What is asserted is what can be seen from outside the agent: the servers'
connection counts and command logs (pyftpd_server.py --events, ftpmock's
log, /proc/net/tcp for vsftpd), checksums on the servers' disks and of the
local files the agent wrote, and the agent's /proc RSS and fd counts.
"""
import json
import os
import re
import socket
import statistics
import sys
import threading
import time

import ftpa
from ftpmock import PASV_AUTO, login, payload, rest_auto, retr

MIB = 1 << 20
MOCK_PW = "mockpw"


def daemon_limit(name, default):
    """A per-uid limit from daemon/rpc.c (SESSIONS_PER_UID, ...)."""
    try:
        with open(os.path.join(ftpa.SRCDIR, "daemon", "rpc.c")) as f:
            m = re.search(r"#define\s+%s\s+(\d+)" % name, f.read())
        if m:
            return int(m.group(1))
    except OSError:
        pass
    return default


def note(fmt, *args):
    """A line of facts in the test's log (stderr)."""
    sys.stderr.write("  [%s]\n" % (fmt % args))


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def open_w(path):
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


class TcpCounter:
    """Counts established TCP connections whose local port is `port`
    (the server side of control connections) from /proc/net/tcp{,6}, in
    a thread, every `interval` seconds. .max is the most seen at once."""

    def __init__(self, port, interval=0.01):
        self.port = "%04X" % port
        self.interval = interval
        self.max = 0
        self.samples = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def count(self):
        # by the peer's address: /proc/net/tcp is read in pieces while
        # the table changes, and may list one connection twice
        peers = set()
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(path) as f:
                    next(f)
                    for line in f:
                        p = line.split()
                        if p[1].rsplit(":", 1)[1] == self.port and p[3] == "01":
                            peers.add(p[2])
            except OSError:
                pass
        return len(peers)

    def _run(self):
        while not self._stop.is_set():
            n = self.count()
            self.samples.append(n)
            self.max = max(self.max, n)
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)


class JobsTest(ftpa.TestCase):
    def settled_base(self):
        """Before counting the agent's fds: connect() returns before the
        agent accept()s, so wait until it holds exactly self.rpc."""
        ftpa.wait_until(lambda: self.rpc.call("agent.stats")["connections"]
                        == 1, 10, what="the agent to hold one connection")

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.client()

    # ---- helpers -----------------------------------------------------
    def client(self, timeout=60):
        r = self.agent.rpc(timeout=timeout)
        self.addCleanup(r.close)
        return r

    def open(self, srv, rpc=None, password=None, **opts):
        p = {"url": srv.url("/"),
             "password": password or srv.password or MOCK_PW}
        p.update(opts)
        return (rpc or self.rpc).call("session.open", p, timeout=30)

    def sid(self, srv, rpc=None, **opts):
        return self.open(srv, rpc, **opts)["session"]

    def files(self, srv, n, size, prefix="f"):
        """n files of size random bytes in srv's home: {name: sha256}."""
        out = {}
        st = os.stat(srv.home)
        for i in range(n):
            name = "%s%02d.bin" % (prefix, i)
            p = os.path.join(srv.home, name)
            out[name] = ftpa.make_file(p, size)
            os.chown(p, st.st_uid, st.st_gid)
        return out

    def start_nowait(self, method, fd, sid, path, rpc=None, **kw):
        """method (transfer.get/put) wait:false on fd (closed here);
        returns the job id."""
        try:
            p = dict({"session": sid, "path": path, "fd": 0, "wait": False},
                     **kw)
            res = (rpc or self.rpc).call(method, p, fds=[fd])
        finally:
            os.close(fd)
        self.assertIsInstance(res.get("job"), str, res)
        return res["job"]

    def get_nowait(self, sid, path, local, rpc=None, **kw):
        """transfer.get wait:false into local; returns the job id."""
        return self.start_nowait("transfer.get", open_w(local), sid, path,
                                 rpc, **kw)

    def put_nowait(self, sid, path, local, rpc=None, **kw):
        return self.start_nowait("transfer.put", os.open(local, os.O_RDONLY),
                                 sid, path, rpc, **kw)

    def wait_job(self, job, timeout=30, rpc=None):
        """job.wait; the job object once it has ended."""
        res = (rpc or self.rpc).call("job.wait", {"job": job,
                                                 "timeout": timeout},
                                     timeout=timeout + 10)
        self.assertIn(res.get("state"), ("done", "failed", "cancelled"), res)
        return res

    def status(self, job, rpc=None):
        return (rpc or self.rpc).call("job.status", {"job": job})

    def wait_bytes(self, job, n, timeout=20, rpc=None):
        """Waits until the job is running and has moved at least n bytes."""
        def moved():
            j = self.status(job, rpc)
            self.assertNotIn(j["state"], ("done", "failed", "cancelled"),
                             "the job ended too early: %r" % (j,))
            return j["state"] == "running" and j["bytes"] >= n and j
        return ftpa.wait_until(moved, timeout, what="%s to move %d bytes"
                               % (job, n))

    def session_obj(self, sid, rpc=None):
        for s in (rpc or self.rpc).call("session.list"):
            if s["session"] == sid:
                return s
        self.fail("no session %s in session.list" % sid)

    def drain(self, rpc, until, timeout):
        """Reads messages on rpc (notifications and replies) until
        until(msg) is true or timeout; returns [(monotonic, msg)...]."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %gs; %d messages, "
                                     "last %r" % (timeout, len(out),
                                                  out[-1:] or None))
            m = rpc.recv(left)
            if m is None:
                raise AssertionError("the agent closed the connection")
            out.append((time.monotonic(), m))
            if until(m):
                return out

    def mock_verbs(self, mock):
        return [l.split(" ", 1)[0].upper() for l in mock.received()]

    def assertFdsBack(self, baseline, timeout=10):
        """The agent's fd count returns to baseline (or below)."""
        pid = self.agent.pid
        try:
            ftpa.wait_until(lambda: proc_fds(pid) <= baseline, timeout,
                            what="the agent's fds to return to %d"
                                 % baseline)
        except AssertionError:
            self.fail("the agent holds %d fds, %d before: %s" % (
                proc_fds(pid), baseline,
                sorted(os.readlink("/proc/%d/fd/%s" % (pid, f))
                       for f in os.listdir("/proc/%d/fd" % pid))))

    # ---- 1. parallel transfers on one session ------------------------
    def parallel(self, srv, counter_max, size=2 * MIB, n=10, maxc=3):
        """10 downloads (wait:false, then job.wait) and 10 uploads (ten
        pipelined wait:true calls) on one session with max_connections
        maxc; checksums compared. counter_max() tells the most control
        connections the server saw at once."""
        src = self.files(srv, n, size, "dl")
        opts = {}
        if maxc is not None:
            opts["max_connections"] = maxc
        sid = self.sid(srv, **opts)
        d = self.tmpdir()
        jobs = {}
        for name in src:
            jobs[name] = self.get_nowait(sid, name, os.path.join(d, name))
        for name, job in jobs.items():
            j = self.wait_job(job, 60)
            self.assertEqual(j["state"], "done", j)
            self.assertEqual(j["bytes"], size, j)
        for name, sha in src.items():
            self.assertEqual(ftpa.sha256_file(os.path.join(d, name)), sha,
                             name)
        # uploads: ten pipelined wait:true calls, replies in any order
        up = {}
        ids = {}
        for i in range(n):
            local = os.path.join(d, "up%02d.src" % i)
            up["up%02d.bin" % i] = ftpa.make_file(local, size)
            fd = os.open(local, os.O_RDONLY)
            try:
                ids[self.rpc.send("transfer.put", {
                    "session": sid, "path": "up%02d.bin" % i, "fd": 0},
                    fds=[fd])] = "up%02d.bin" % i
            finally:
                os.close(fd)
        for rid, name in ids.items():
            rep = self.rpc.wait_reply(rid, 90)
            self.assertIn("result", rep, rep)
            self.assertEqual(rep["result"]["state"], "done", rep)
        for name, sha in up.items():
            self.assertEqual(ftpa.sha256_file(os.path.join(srv.home, name)),
                             sha, name)
        most = counter_max()
        want = maxc or 4
        note("most control connections at once: %d", most)
        self.assertLessEqual(most, want, "the server saw %d control "
                             "connections at once (max_connections %d)"
                             % (most, want))
        self.assertGreater(most, 1, "the server never saw more than one "
                           "control connection: no parallel connections")
        s = self.session_obj(sid)
        self.assertEqual(s.get("max_connections"), want, s)
        self.assertLessEqual(s.get("connections", 0), want, s)
        return most

    def test_parallel_pyftpd_max3(self):
        srv = self.start_pyftpd(events=True, rate=8 * MIB)
        self.parallel(srv, srv.max_connections)

    def test_parallel_vsftpd_max3(self):
        if not ftpa.vsftpd_available():
            self.skipTest("vsftpd tests need root and /usr/sbin/vsftpd")
        srv = self.start_vsftpd(extra_conf=("local_max_rate=8000000",))
        counter = TcpCounter(srv.port)
        self.addCleanup(counter.stop)
        self.parallel(srv, lambda: counter.max)

    def test_parallel_default_max_connections_is_4(self):
        srv = self.start_pyftpd(events=True, rate=2 * MIB)
        src = self.files(srv, 8, MIB)
        sid = self.sid(srv)
        d = self.tmpdir()
        jobs = [self.get_nowait(sid, name, os.path.join(d, name))
                for name in src]
        for job in jobs:
            self.assertEqual(self.wait_job(job, 60)["state"], "done")
        for name, sha in src.items():
            self.assertEqual(ftpa.sha256_file(os.path.join(d, name)), sha)
        self.assertEqual(srv.max_connections(), 4,
                         "8 queued downloads with the default "
                         "max_connections should use 4 connections")
        self.assertEqual(self.session_obj(sid).get("max_connections"), 4)

    # ---- 2. TEST-CASES 28: server killed and restarted ----------------
    def test_28_server_restart_download_resumes(self):
        size = 4 * MIB
        srv = self.start_pyftpd(events=True, rate=MIB)
        sha = ftpa.make_file(os.path.join(srv.home, "big.bin"), size)
        sid = self.sid(srv, retry_delay=0.5)
        local = os.path.join(self.tmpdir(), "big.bin")
        job = self.get_nowait(sid, "big.bin", local)
        self.wait_bytes(job, MIB)
        srv2 = self.restart_pyftpd(srv)       # SIGKILL, same port
        j = self.wait_job(job, 40)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(j["bytes"], size, j)
        self.assertGreaterEqual(j.get("attempts", 0), 2, j)
        self.assertEqual(ftpa.sha256_file(local), sha)
        rests = [int(l.split()[1]) for l in srv2.commands()
                 if l.upper().startswith("REST ")]
        self.assertTrue(rests and max(rests) >= MIB,
                        "the restarted server got no REST >= 1 MiB: %r"
                        % srv2.commands())
        self.assertIn("RETR big.bin", srv2.commands())

    def test_28_server_restart_upload_starts_over(self):
        size = 4 * MIB
        srv = self.start_pyftpd(events=True, rate=MIB)
        local = os.path.join(self.tmpdir(), "up.bin")
        sha = ftpa.make_file(local, size)
        sid = self.sid(srv, retry_delay=0.5)
        job = self.put_nowait(sid, "up.bin", local)
        self.wait_bytes(job, MIB)
        srv2 = self.restart_pyftpd(srv)
        j = self.wait_job(job, 40)
        self.assertEqual(j["state"], "done", j)
        self.assertGreaterEqual(j.get("attempts", 0), 2, j)
        self.assertEqual(ftpa.sha256_file(os.path.join(srv.home, "up.bin")),
                         sha)
        self.assertTrue(any(l.upper().startswith(("STOR", "APPE"))
                            for l in srv2.commands()), srv2.commands())

    # ---- 3. retry after a dropped data connection (mock) --------------
    def dropped_data_script(self, size):
        """The first RETR sends a quarter of the file, waits, resets the
        data connection and, 0.3 s later, answers 426 (the connection was
        lost: a network error, whatever the reply); every later RETR (on
        this connection or a new one) sends the file from the REST
        offset."""
        broken = [{"expect": "RETR",
                   "reply": "150 Opening BINARY mode data connection.\r\n"},
                  {"data": size, "seed": 3, "limit": size // 4,
                   "chunk": size // 4, "chunk_delay": 0.5, "end": "reset"},
                  {"send": "426 Connection closed; transfer aborted.\r\n",
                   "after": 0.3}]
        good = retr({"data": size, "seed": 3, "rest": True})
        first = login() + [{"auto": rest_auto(size)}] + broken + good
        again = login() + [{"auto": rest_auto(size)}] + good
        return {"connections": [first], "steps": again}

    def test_retry_after_dropped_data_connection_resumes(self):
        size = MIB
        mock = self.start_mock(script=self.dropped_data_script(size))
        sid = self.sid(mock, retry_delay=0.2, max_connections=1)
        local = os.path.join(self.tmpdir(), "f")
        job = self.get_nowait(sid, "/f", local)
        j = self.wait_job(job, 30)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(j["bytes"], size, j)
        self.assertEqual(j.get("attempts"), 2, j)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), payload(size, 3))
        rests = [int(l.split()[1]) for l in mock.received()
                 if l.upper().startswith("REST ")]
        self.assertTrue(rests and rests[-1] > 0,
                        "no REST > 0 before the second RETR: %r"
                        % mock.received())
        self.assertEqual(self.mock_verbs(mock).count("RETR"), 2)

    def test_retry_zero_fails(self):
        size = MIB
        mock = self.start_mock(script=self.dropped_data_script(size))
        sid = self.sid(mock, retries=0, retry_delay=0.2, max_connections=1)
        local = os.path.join(self.tmpdir(), "f")
        job = self.get_nowait(sid, "/f", local)
        j = self.wait_job(job, 30)
        self.assertEqual(j["state"], "failed", j)
        self.assertIsNotNone(j.get("error"), j)
        time.sleep(1)
        self.assertEqual(self.mock_verbs(mock).count("RETR"), 1,
                         mock.received())
        self.assertLessEqual(j.get("attempts", 1), 1, j)

    # ---- 4. cancel ---------------------------------------------------
    def test_cancel_running(self):
        size = 8 * MIB
        srv = self.start_pyftpd(events=True, rate=MIB // 2)
        data_path = os.path.join(srv.home, "big.bin")
        ftpa.make_file(data_path, size)
        sid = self.sid(srv)
        local = os.path.join(self.tmpdir(), "big.bin")
        job = self.get_nowait(sid, "big.bin", local)
        self.wait_bytes(job, 128 * 1024)
        t0 = time.monotonic()
        self.assertEqual(self.rpc.call("job.cancel", {"job": job}), {})
        j = self.wait_job(job, 10)
        self.assertEqual(j["state"], "cancelled", j)
        self.assertLess(time.monotonic() - t0, 6)
        ftpa.wait_until(lambda: "ABOR" in [l.upper() for l in
                                           srv.commands()], 5,
                        what="the server to receive ABOR")
        # the download leaves what it wrote: a prefix of the file
        have = os.path.getsize(local)
        self.assertGreater(have, 0)
        self.assertLess(have, size)
        with open(local, "rb") as a, open(data_path, "rb") as b:
            self.assertEqual(a.read(), b.read(have))
        # the session works on
        self.assertEqual(self.rpc.call("fs.stat", {"session": sid,
                                                   "path": "big.bin"})
                         ["size"], size)

    def test_cancel_queued(self):
        srv = self.start_pyftpd(events=True, rate=MIB // 2)
        ftpa.make_file(os.path.join(srv.home, "big.bin"), 8 * MIB)
        ftpa.make_file(os.path.join(srv.home, "small.bin"), 1000)
        sid = self.sid(srv, max_connections=1)
        d = self.tmpdir()
        first = self.get_nowait(sid, "big.bin", os.path.join(d, "big"))
        self.wait_bytes(first, 1)
        second = self.get_nowait(sid, "small.bin", os.path.join(d, "small"))
        self.assertEqual(self.status(second)["state"], "queued")
        s = self.session_obj(sid)
        self.assertEqual((s.get("max_connections"), s.get("connections"),
                          s.get("busy"), s.get("queued")), (1, 1, 1, 1), s)
        self.assertEqual(self.rpc.call("job.cancel", {"job": second}), {})
        j = self.wait_job(second, 5)
        self.assertEqual(j["state"], "cancelled", j)
        self.assertEqual(self.status(first)["state"], "running")
        jobs = self.rpc.call("job.list")
        # newest first, ended or not (docs/protocol.md, job.list)
        self.assertEqual([x["job"] for x in jobs], [second, first], jobs)
        listed = {x["job"]: x["state"] for x in jobs}
        self.assertEqual(listed.get(second), "cancelled", listed)
        self.assertEqual(listed.get(first), "running", listed)
        self.rpc.call("job.cancel", {"job": first})
        self.assertEqual(self.wait_job(first, 10)["state"], "cancelled")
        time.sleep(0.5)
        self.assertFalse([l for l in srv.commands() if "small.bin" in l],
                         "the cancelled queued job reached the server: %r"
                         % srv.commands())
        self.assertEqual(os.path.getsize(os.path.join(d, "small")), 0)

    def test_job_object_and_wait_timeout(self):
        size = 2 * MIB
        srv = self.start_pyftpd(rate=MIB)
        ftpa.make_file(os.path.join(srv.home, "f.bin"), size)
        sid = self.sid(srv)
        t0 = time.time()
        job = self.get_nowait(sid, "f.bin", os.path.join(self.tmpdir(), "f"))
        self.wait_bytes(job, 1)
        rep = self.rpc.call_raw("job.wait", {"job": job, "timeout": 0.3},
                                timeout=10)
        self.assertRpcError(rep, ftpa.KIND_CODES["timeout"], "timeout")
        j = self.status(job)
        self.assertEqual(j["state"], "running", j)      # it runs on
        for k in ("job", "state", "direction", "session", "path", "uid",
                  "bytes", "total", "rate", "eta_s", "started", "ended",
                  "attempts", "error"):
            self.assertIn(k, j)
        self.assertEqual((j["direction"], j["session"], j["total"],
                          j["uid"], j["ended"], j["error"]),
                         ("get", sid, size, os.geteuid(), None, None), j)
        self.assertGreaterEqual(j["started"], t0 - 1)
        j = self.wait_job(job, 20)
        self.assertEqual((j["state"], j["bytes"], j["attempts"]),
                         ("done", size, 1), j)
        self.assertLessEqual(j["started"], j["ended"])
        self.assertLessEqual(j["ended"], time.time() + 1)
        self.assertGreater(j["ended"] - j["started"], 1.0)
        # finished jobs are kept: status, wait and list still know it
        self.assertEqual(self.status(job)["state"], "done")
        self.assertIn(job, [x["job"] for x in self.rpc.call("job.list")])
        rep = self.rpc.call_raw("job.status", {"job": "j999999"})
        self.assertRpcError(rep, ftpa.KIND_CODES["no_job"], "no_job")

    # ---- 5. TEST-CASES 31: client disconnects mid-call ---------------
    def test_31_disconnect_cancels_wait_true(self):
        size = 8 * MIB
        srv = self.start_pyftpd(events=True, rate=MIB // 2)
        ftpa.make_file(os.path.join(srv.home, "big.bin"), size)
        self.settled_base()
        base = proc_fds(self.agent.pid)
        a = self.agent.rpc(timeout=30)
        try:
            sid = self.sid(srv, rpc=a)
            fd = open_w(os.path.join(self.tmpdir(), "big.bin"))
            try:
                a.send("transfer.get", {"session": sid, "path": "big.bin",
                                        "fd": 0}, fds=[fd])
            finally:
                os.close(fd)

            def running():
                for j in self.rpc.call("job.list"):
                    if (j.get("path") in ("big.bin", "/big.bin")
                            and j["state"] == "running" and j["bytes"] > 0):
                        return j
            job = ftpa.wait_until(running, 15, what="the job to run")["job"]
        finally:
            a.close()
        j = self.wait_job(job, 10)
        self.assertEqual(j["state"], "cancelled", j)
        ftpa.wait_until(
            lambda: ("ABOR" in [l.upper() for l in srv.commands()]
                     or srv.events("incomplete_sent")), 5,
            what="the server to see ABOR or the data connection close")
        self.assertFalse(srv.events("file_sent"), "the transfer went on")
        self.rpc.call("session.close", {"session": sid})
        self.assertFdsBack(base)

    def test_31_disconnect_keeps_wait_false(self):
        size = 3 * MIB
        srv = self.start_pyftpd(events=True, rate=2 * MIB)
        sha = ftpa.make_file(os.path.join(srv.home, "big.bin"), size)
        self.settled_base()
        base = proc_fds(self.agent.pid)
        local = os.path.join(self.tmpdir(), "big.bin")
        a = self.agent.rpc(timeout=30)
        try:
            sid = self.sid(srv, rpc=a)
            job = self.get_nowait(sid, "big.bin", local, rpc=a)
            self.wait_bytes(job, 1, rpc=a)
        finally:
            a.close()
        j = self.wait_job(job, 30)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(ftpa.sha256_file(local), sha)
        # pyftpdlib logs the event after it has sent the 226
        ftpa.wait_until(lambda: srv.events("file_sent"), 5,
                        what="the server's file_sent event")
        self.rpc.call("session.close", {"session": sid})
        self.assertFdsBack(base)

    # ---- 6. events.subscribe ----------------------------------------
    def check_progress_spacing(self, times, what):
        """times: arrival times of one job's job.progress while it ran."""
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(gaps, "%s: fewer than 2 progress notifications"
                        % what)
        # at least once a second (slack for a loaded machine)
        self.assertLess(max(gaps), 2.5, "%s: a %.2fs gap between progress "
                        "notifications: %r" % (what, max(gaps), gaps))
        # at most every 200 ms: allow jitter, but not a stream
        fast = [g for g in gaps if g < 0.15]
        self.assertLessEqual(len(fast), max(2, len(gaps) // 4),
                             "%s: %d of %d gaps under 150 ms: %r"
                             % (what, len(fast), len(gaps), gaps))
        self.assertGreaterEqual(statistics.median(gaps), 0.17, gaps)

    def test_events_progress_and_finished(self):
        size = 3 * MIB
        srv = self.start_pyftpd(rate=MIB)
        ftpa.make_file(os.path.join(srv.home, "f.bin"), size)
        sid = self.sid(srv)
        sub = self.client()
        self.assertEqual(sub.call("events.subscribe", {"jobs": "all"}), {})
        job = self.get_nowait(sid, "f.bin",
                              os.path.join(self.tmpdir(), "f.bin"))
        msgs = self.drain(sub, lambda m: m.get("method") == "job.finished"
                          and m["params"]["job"] == job, 30)
        progress = [(t, m["params"]) for t, m in msgs
                    if m.get("method") == "job.progress"
                    and m["params"].get("job") == job]
        for _, p in progress:
            for k in ("state", "bytes", "total", "rate", "direction",
                      "session"):
                self.assertIn(k, p)
        running = [t for t, p in progress if p["state"] == "running"]
        note("progress gaps: %s", " ".join(
            "%.2f" % (b - a) for a, b in zip(running, running[1:])))
        self.check_progress_spacing(running, "a 3 s download")
        byts = [p["bytes"] for _, p in progress]
        self.assertEqual(byts, sorted(byts), "bytes went backwards")
        fin = msgs[-1][1]["params"]
        self.assertEqual(fin["state"], "done", fin)
        self.assertEqual(fin["bytes"], size, fin)
        # once per job, and nothing after it
        more = []
        try:
            while True:
                m = sub.recv(1.0)
                if m is None:
                    break
                more.append(m)
        except socket.timeout:
            pass
        self.assertFalse([m for m in more
                          if (m.get("params") or {}).get("job") == job],
                         more)

    def test_events_heartbeat_while_stalled(self):
        # 3 x 4 KiB, 3 s apart: no bytes move for seconds, yet progress
        # comes at least once a second (checked with room for a loaded
        # machine, but well under the 3 s a missing heartbeat would show)
        script = login() + [{"auto": rest_auto(12288)}] + retr(
            {"data": 12288, "seed": 6, "chunk": 4096, "chunk_delay": 3.0})
        mock = self.start_mock(script=script)
        sid = self.sid(mock)
        sub = self.client()
        sub.call("events.subscribe", {})
        job = self.get_nowait(sid, "/f", os.path.join(self.tmpdir(), "f"))
        msgs = self.drain(sub, lambda m: m.get("method") == "job.finished"
                          and m["params"]["job"] == job, 30)
        times = [t for t, m in msgs if m.get("method") == "job.progress"
                 and m["params"].get("job") == job
                 and m["params"]["state"] == "running"]
        self.assertGreaterEqual(len(times), 4, msgs)
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertLess(max(gaps), 2.5, gaps)
        self.assertEqual(msgs[-1][1]["params"]["state"], "done")

    def test_events_subscribe_to_some_jobs(self):
        srv = self.start_pyftpd(rate=2 * MIB)
        ftpa.make_file(os.path.join(srv.home, "a.bin"), 2 * MIB)
        ftpa.make_file(os.path.join(srv.home, "b.bin"), 2 * MIB)
        sid = self.sid(srv)
        d = self.tmpdir()
        ja = self.get_nowait(sid, "a.bin", os.path.join(d, "a"))
        jb = self.get_nowait(sid, "b.bin", os.path.join(d, "b"))
        sub = self.client()
        self.assertEqual(sub.call("events.subscribe", {"jobs": [ja]}), {})
        msgs = self.drain(sub, lambda m: m.get("method") == "job.finished"
                          and m["params"]["job"] == ja, 30)
        self.wait_job(jb, 30)
        try:
            while True:
                m = sub.recv(0.5)
                if m is None:
                    break
                msgs.append((0, m))
        except socket.timeout:
            pass
        others = [m for _, m in msgs if "id" not in m
                  and m["params"].get("job") != ja]
        self.assertFalse(others, "notifications for a job not subscribed "
                         "to: %r" % others[:3])
        self.assertEqual(len([1 for _, m in msgs
                              if m.get("method") == "job.finished"]), 1)

    def test_progress_to_the_caller(self):
        """transfer.get with progress:true, on a connection that did not
        subscribe: job.progress for that job before the reply, spaced like
        a subscriber's, and no job.finished (the reply says it)."""
        srv = self.start_pyftpd(rate=MIB)
        ftpa.make_file(os.path.join(srv.home, "p.bin"), 2 * MIB)
        sid = self.sid(srv)
        caller = self.client()
        fd = os.open(os.path.join(self.tmpdir(), "p"),
                     os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            rid = caller.send("transfer.get", {"session": sid,
                                               "path": "p.bin", "fd": 0,
                                               "progress": True}, fds=[fd])
        finally:
            os.close(fd)
        msgs = self.drain(caller, lambda m: m.get("id") == rid, 30)
        self.assertEqual(msgs[-1][1]["result"]["state"], "done", msgs[-1])
        job = msgs[-1][1]["result"]["job"]
        notes = [(t, m) for t, m in msgs[:-1] if "id" not in m]
        self.assertTrue(notes)
        self.assertEqual({m["method"] for _, m in notes}, {"job.progress"})
        self.assertEqual({m["params"]["job"] for _, m in notes}, {job})
        self.check_progress_spacing(
            [t for t, m in notes if m["params"]["state"] == "running"],
            "progress:true")

    def test_events_subscriber_that_never_reads(self):
        # many jobs with progress; one subscriber never reads, another
        # does. The agent's memory stays flat, other clients are served,
        # and when the sleeper catches up it gets every job.finished once
        # and (coalesced) no more than the reader got.
        # 64 jobs at once for ~15 s, about 4 notifications a second each:
        # over 1 MB of notifications, several times what the kernel
        # buffers for a connection that does not read
        n_sess, per, rate = 4, 16, 128 * 1024
        size = 15 * rate
        srv = self.start_pyftpd(rate=rate, passive_count=120)
        ftpa.make_file(os.path.join(srv.home, "f.bin"), size)
        sids = [self.sid(srv, max_connections=per) for _ in range(n_sess)]
        sleeper = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # a small queue in the kernel, so what the agent holds back shows
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.connect(self.agent.sock)
        self.addCleanup(sleeper.close)
        sleeper.sendall(b'{"jsonrpc":"2.0","id":1,"method":"events.subscribe",'
                        b'"params":{"jobs":"all"}}\n')
        reader = self.client()
        reader.call("events.subscribe", {"jobs": "all"})
        got = {"bytes": 0, "finished": set(), "stop": False}

        def read_all():
            while not got["stop"]:
                try:
                    b = reader.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not b:
                    return
                got["bytes"] += len(b)
        reader.sock.settimeout(0.2)
        t = threading.Thread(target=read_all, daemon=True)
        t.start()
        time.sleep(0.3)
        rss0 = proc_rss_kib(self.agent.pid)
        d = self.tmpdir()
        jobs = []
        for i in range(n_sess * per):
            jobs.append(self.get_nowait(sids[i % n_sess], "f.bin",
                                        os.path.join(d, "%d" % i)))
        pinger = self.client(timeout=10)
        worst = 0.0
        rss_max = rss0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            self.assertEqual(pinger.call("agent.ping"), {})
            worst = max(worst, time.monotonic() - t0)
            rss_max = max(rss_max, proc_rss_kib(self.agent.pid))
            states = [j["state"] for j in self.rpc.call("job.list")
                      if j["job"] in jobs]
            if all(s in ("done", "failed", "cancelled") for s in states):
                break
            time.sleep(0.25)
        for job in jobs:
            self.assertEqual(self.wait_job(job, 30)["state"], "done")
        note("ping worst %.3fs, RSS %d -> max %d KiB", worst, rss0, rss_max)
        # a hang, not a speed: the suite runs in parallel on small machines
        self.assertLess(worst, 5.0, "agent.ping took %.2fs while a "
                        "subscriber did not read" % worst)
        self.assertLess(rss_max - rss0, 64 * 1024,
                        "the agent's RSS grew from %d to %d KiB"
                        % (rss0, rss_max))
        time.sleep(0.5)
        got["stop"] = True
        t.join(5)
        # the sleeper catches up: still connected, every job.finished once
        sleeper.settimeout(1.5)
        buf = b""
        total = 0
        finished = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                b = sleeper.recv(65536)
            except socket.timeout:
                break                  # caught up
            if not b:
                break
            total += len(b)
            buf += b
            *lines, buf = buf.split(b"\n")
            for line in lines:
                m = json.loads(line)
                if m.get("method") == "job.finished":
                    j = m["params"]["job"]
                    finished[j] = finished.get(j, 0) + 1
        self.assertEqual(sorted(finished), sorted(jobs),
                         "the sleeping subscriber missed job.finished")
        self.assertEqual(set(finished.values()), {1}, finished)
        self.assertGreater(got["bytes"], 0)
        note("reader got %d bytes, the sleeper %d", got["bytes"], total)
        if got["bytes"] > 3 * 256 * 1024:
            # far more than the kernel holds: coalescing must show
            self.assertLess(total, 0.8 * got["bytes"],
                            "the sleeper got %d bytes, the reader %d: "
                            "old job.progress states were queued for it, "
                            "not coalesced to the latest per job"
                            % (total, got["bytes"]))

    # ---- 7. TEST-CASES 29: NOOP keepalive during a long transfer -----
    def noop_script(self, size, answer):
        auto = dict(rest_auto(size), SITE="214 site reply for the test.\r\n")
        data = {"data": size, "seed": 29, "chunk": 64 * 1024,
                "chunk_delay": 0.06}
        if answer:
            data["answer"] = True
        return login() + [{"auto": auto}] + retr(data)

    def keepalive_transfer(self, answer):
        size = 3 * MIB       # ~3 s
        mock = self.start_mock(script=self.noop_script(size, answer))
        sid = self.sid(mock, keepalive=1, max_connections=1)
        local = os.path.join(self.tmpdir(), "f")
        fd = open_w(local)
        try:
            j = self.rpc.call("transfer.get", {"session": sid, "path": "/f",
                                               "fd": 0}, fds=[fd])
        finally:
            os.close(fd)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(j["bytes"], size, j)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), payload(size, 29))
        # the next operations get their own replies, not a stale 200
        for cmd in ("SITE ONE", "SITE TWO"):
            r = self.rpc.call("ftp.quote", {"session": sid, "command": cmd})
            self.assertEqual(r["code"], 214, r)
        st = self.rpc.call("fs.stat", {"session": sid, "path": "/f"})
        self.assertEqual(st["size"], size, st)
        lines = mock.received()
        upto = lines.index("SITE ONE")
        noops = [l for l in lines[:upto] if l.upper() == "NOOP"]
        self.assertGreaterEqual(len(noops), 1, "no NOOP during a 3 s "
                                "transfer with keepalive 1: %r" % lines)
        self.assertEqual(len(mock.events("accept")), 1,
                         "the connection was dropped")
        return mock

    def test_29_late_noop_replies_vsftpd_like(self):
        mock = self.keepalive_transfer(answer=False)
        # the 200s really came after the 226
        sends = [e for e in mock.events("send")]
        i226 = next(i for i, e in enumerate(sends)
                    if e["text"].startswith("226"))
        self.assertTrue(any(e["text"].startswith("200 NOOP")
                            for e in sends[i226:]), sends)

    def test_29_noop_replies_during_transfer(self):
        mock = self.keepalive_transfer(answer=True)
        marks = [e["text"] for e in mock.events("mark")]
        self.assertIn("answered during data: NOOP", marks)

    def test_29_keepalive_vsftpd(self):
        if not ftpa.vsftpd_available():
            self.skipTest("vsftpd tests need root and /usr/sbin/vsftpd")
        srv = self.start_vsftpd(extra_conf=("local_max_rate=1000000",))
        sha = self.files(srv, 1, 3 * 1000 * 1000, "slow")["slow00.bin"]
        self.files(srv, 1, 12345, "small")
        sid = self.sid(srv, keepalive=1, max_connections=1)
        since = self.agent.log_size()
        local = os.path.join(self.tmpdir(), "f")
        fd = open_w(local)
        try:
            j = self.rpc.call("transfer.get", {"session": sid,
                                               "path": "slow00.bin",
                                               "fd": 0}, fds=[fd])
        finally:
            os.close(fd)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual(ftpa.sha256_file(local), sha)
        sent = self.agent.commands(since)
        self.assertTrue([c for c in sent if c.upper().startswith("NOOP")],
                        "no NOOP during a 3 s transfer: %r" % sent)
        st = self.rpc.call("fs.stat", {"session": sid,
                                       "path": "small00.bin"})
        self.assertEqual(st["size"], 12345, st)
        r = self.rpc.call("ftp.quote", {"session": sid, "command": "PWD"})
        self.assertEqual(r["code"], 257, r)

    # ---- 8. keepalive and idle timeout on idle connections -----------
    def test_idle_keepalive_sends_noop(self):
        mock = self.start_mock(script={"steps": login(), "auto": {
            "SITE": "214 site ok.\r\n"}})
        sid = self.sid(mock, keepalive=1, idle_timeout=0, max_connections=1)
        time.sleep(3.6)
        noops = [l for l in mock.received() if l.upper() == "NOOP"]
        self.assertGreaterEqual(len(noops), 2, mock.received())
        self.assertLessEqual(len(noops), 6, mock.received())
        r = self.rpc.call("ftp.quote", {"session": sid,
                                        "command": "SITE X"})
        self.assertEqual(r["code"], 214, r)
        self.assertEqual(len(mock.events("accept")), 1)
        self.assertNotIn("QUIT", [l.upper() for l in mock.received()])

    def test_idle_timeout_quits_and_reconnects(self):
        listing = ("-rw-r--r--   1 u g   5 Jan 02  2024 f.txt\r\n")
        again = login() + [{"auto": PASV_AUTO},
                           {"expect": "LIST|MLSD|NLST",
                            "reply": "150 Here it comes.\r\n"},
                           {"data": listing},
                           {"send": "226 Done.\r\n"}]
        mock = self.start_mock(script={"connections": [login()],
                                       "steps": again})
        t0 = time.monotonic()
        sid = self.sid(mock, keepalive=1, idle_timeout=2, max_connections=1)
        ftpa.wait_until(lambda: "QUIT" in [l.upper() for l in
                                           mock.received()], 10,
                        what="QUIT after the idle timeout")
        took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        # keepalive NOOPs do not count as use
        self.assertIn("NOOP", [l.upper() for l in mock.received()])
        ids = [s["session"] for s in self.rpc.call("session.list")]
        self.assertIn(sid, ids, "the session must stay")
        res = self.rpc.call("fs.list", {"session": sid, "path": "/"})
        self.assertEqual([e["name"] for e in res["entries"]], ["f.txt"])
        self.assertEqual(len(mock.events("accept")), 2)
        # 9. (421 on an idle connection, then an operation that works via
        # a reconnect: test_mock.py's test_08_421_on_idle_connection)

    # ---- 10. limits --------------------------------------------------
    def limits_agent(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        sockdir = self.tmpdir(0o755)
        return self.start_agent(socket_mode=0o666, sockdir=sockdir)

    def test_limit_sessions_per_uid(self):
        n = daemon_limit("SESSIONS_PER_UID", 64)
        agent = self.limits_agent()
        mock = self.start_mock("ok")
        url = mock.url("/")
        sock = agent.sock

        def child():
            r = ftpa.Rpc(sock, 30)
            try:
                ids = [r.send("session.open", {"url": url,
                                               "password": MOCK_PW,
                                               "max_connections": 1})
                       for _ in range(n)]
                ok = sum("result" in r.wait_reply(i, 30) for i in ids)
                extra = r.call_raw("session.open", {"url": url,
                                                    "password": MOCK_PW})
                return ok, extra
            finally:
                r.close()
        ok, extra = ftpa.run_as("nobody", child, timeout=90)
        self.assertEqual(ok, n)
        self.assertRpcError(extra, ftpa.KIND_CODES["limit"], "limit")
        # another uid (root) is not limited by nobody's sessions
        rpc = agent.rpc()
        self.addCleanup(rpc.close)
        rpc.call("session.open", {"url": url, "password": MOCK_PW})

    def test_limit_jobs_per_uid(self):
        n = daemon_limit("JOBS_PER_UID", 1000)
        agent = self.limits_agent()
        # the first upload never gets its final reply: everything else
        # stays queued behind it
        mock = self.start_mock(script=login() + [
            {"auto": PASV_AUTO},
            {"expect": "STOR", "reply": "150 Ok to send data.\r\n"},
            {"sleep": 60}])
        url = mock.url("/")
        sock = agent.sock

        def child():
            r = ftpa.Rpc(sock, 60)
            try:
                sid = r.call("session.open", {
                    "url": url, "password": MOCK_PW,
                    "max_connections": 1})["session"]
                first = r.call("transfer.put", {"session": sid,
                                                "path": "/first",
                                                "data": "eA==",
                                                "wait": False})
                ids = [r.send("transfer.put", {"session": sid,
                                               "path": "/q%d" % i,
                                               "data": "eA==",
                                               "wait": False})
                       for i in range(n - 1)]
                ok = sum("result" in r.wait_reply(i, 60) for i in ids)
                extra = r.call_raw("transfer.put", {"session": sid,
                                                    "path": "/extra",
                                                    "data": "eA==",
                                                    "wait": False})
                r.call("session.close", {"session": sid})
                return ok + 1, extra, first
            finally:
                r.close()
        ok, extra, first = ftpa.run_as("nobody", child, timeout=120)
        self.assertEqual(ok, n)
        self.assertRpcError(extra, ftpa.KIND_CODES["limit"], "limit")
        self.assertTrue(agent.answers())

    # ---- 11. an extra connection refused: a cap, or try again --------
    # max_connections 3; the 2nd and 3rd control connections (mock
    # connections 1 and 2) fail after REFUSE_AFTER s, once the first
    # batch of 3 pipelined operations has run on the first connection,
    # so the queue is empty when they fail; later connections work.
    # Every SITE is answered SITE_DELAY s late, so each op holds its
    # connection and a batch of 3 wants 3 connections.
    SITE_DELAY = 0.4
    REFUSE_AFTER = 3.5
    REFUSED_LOG = re.compile(r"session (\S+): (server refused connection "
                             r"\d+ .*; using \d+|extra connection failed: .*)")

    def slow_sites(self, n):
        out = []
        for _ in range(n):
            out += [{"expect": "SITE"},
                    {"send": "200 SITE done.\r\n", "after": self.SITE_DELAY}]
        return out

    def extra_refused_script(self, refused, refused3=None):
        """refused: the steps of mock connection 1 (and 2, unless
        refused3 gives those), after the REFUSE_AFTER s sleep."""
        late = [{"sleep": self.REFUSE_AFTER}]
        return {"connections": [login() + self.slow_sites(6),
                                late + refused,
                                late + (refused3 or refused)],
                "steps": login() + self.slow_sites(3)}

    def quote_batch(self, sid, tag, n=3):
        """n ftp.quote SITE calls in one write (the agent queues them
        together); waits for them; returns the commands."""
        cmds = ["SITE %s%d" % (tag, i) for i in range(n)]
        ids, raw = [], b""
        for cmd in cmds:
            rid = self.rpc.next_id
            self.rpc.next_id += 1
            ids.append(rid)
            raw += json.dumps({"jsonrpc": "2.0", "id": rid,
                               "method": "ftp.quote",
                               "params": {"session": sid,
                                          "command": cmd}}).encode() + b"\n"
        self.rpc.send_raw(raw)
        for rid, cmd in zip(ids, cmds):
            rep = self.rpc.wait_reply(rid, 30)
            self.assertIn("result", rep, "%s: %r" % (cmd, rep))
            self.assertEqual(rep["result"]["code"], 200, rep)
        return cmds

    def refused_lines(self, sid):
        return [m.group(2) for m in
                self.REFUSED_LOG.finditer(self.agent.log_text())
                if m.group(1) == sid]

    def conns_of(self, mock, cmds):
        """The mock connections (0-based) that received cmds."""
        return sorted({e["conn"] for e in mock.events("recv")
                       if e["line"] in cmds})

    def run_extra_refused(self, refused, refused3=None):
        """Batch 1 (3 ops), the two extra connections fail, batch 2 (3
        ops). Returns (mock, sid, batch-2 commands, agent log lines)."""
        mock = self.start_mock(script=self.extra_refused_script(refused,
                                                                refused3))
        sid = self.sid(mock, max_connections=3, keepalive=0)
        t0 = time.monotonic()
        first = self.quote_batch(sid, "A")
        took = time.monotonic() - t0
        self.assertLess(took, self.REFUSE_AFTER - 0.5, "batch 1 took %.1fs: "
                        "the test's timing does not hold on this machine"
                        % took)
        self.assertEqual(self.conns_of(mock, first), [0])
        ftpa.wait_until(lambda: len(self.refused_lines(sid)) >= 2,
                        self.REFUSE_AFTER + 10,
                        what="the agent to log both failed extra "
                             "connections")
        accepts = len(mock.events("accept"))
        self.assertEqual(accepts, 3, "before batch 2 (the queue was empty "
                         "when the extra connections failed): %r"
                         % mock.events("accept"))
        second = self.quote_batch(sid, "B")
        time.sleep(0.5)         # late connection attempts show too
        lines = self.refused_lines(sid)
        note("agent: %s", " | ".join(lines))
        note("accepts %d; batch 2 on mock connections %r",
             len(mock.events("accept")), self.conns_of(mock, second))
        return mock, sid, second, lines

    def check_cap_learned(self, mock, sid, second, lines):
        accepts = mock.events("accept")
        self.assertEqual(len(accepts), 3, "the server refused connections "
                         "2 and 3 with a reply, yet the agent connected "
                         "again for the next batch: %d connections in all "
                         "(agent: %r)" % (len(accepts), lines))
        self.assertEqual(self.conns_of(mock, second), [0])
        self.assertTrue(all(l.startswith("server refused connection")
                            for l in lines),
                        "a refusal by reply must teach a cap: %r" % lines)
        self.assertTrue(any(l.endswith("using 1") for l in lines), lines)
        s = self.session_obj(sid)
        self.assertEqual((s.get("connections"), s.get("max_connections")),
                         (1, 3), s)

    def test_extra_connection_refused_421_caps(self):
        # "421 Too many connections" as the greeting (vsftpd's
        # max_per_ip, pure-ftpd, proftpd's MaxClientsPerHost)
        args = self.run_extra_refused([
            {"send": "421 Too many connections (1) from this IP\r\n"},
            {"close": True}])
        self.check_cap_learned(*args)

    def test_extra_connection_refused_530_caps(self):
        # greeted, then the login refused (servers that count per user)
        args = self.run_extra_refused([
            {"send": "220 ftpmock ready\r\n"},
            {"expect": "USER", "reply": "331 Password required.\r\n"},
            {"expect": "PASS",
             "reply": "530 Sorry, the maximum number of clients (1) for "
                      "this user are already connected.\r\n"}])
        self.check_cap_learned(*args)

    def test_extra_connection_reset_no_cap(self):
        # the 2nd control connection is reset, the 3rd closed, before
        # any greeting: the network, not the server's limit. No cap: the
        # next batch opens the extra connections again (and they work).
        mock, sid, second, lines = self.run_extra_refused(
            [{"close": "reset"}], [{"close": True}])
        accepts = len(mock.events("accept"))
        self.assertGreaterEqual(accepts, 4, "the extra connections were "
                                "reset (a network failure), yet the next "
                                "batch of 3 queued operations opened no "
                                "connection: a cap was learned (agent: %r)"
                                % lines)
        self.assertLessEqual(accepts, 5, "more connection attempts than "
                             "max_connections 3 allows: %r"
                             % mock.events("accept"))
        used = self.conns_of(mock, second)
        self.assertGreater(len(used), 1, "batch 2 ran on %r only" % used)
        self.assertTrue(any(c >= 3 for c in used), used)
        s = self.session_obj(sid)
        self.assertEqual(s.get("connections"), accepts - 2, s)
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all(l.startswith("extra connection failed")
                            for l in lines),
                        "a reset is no refusal by the server: %r" % lines)

    def test_extra_connection_reset_no_storm(self):
        # every extra connection is reset while 3 queued operations wait
        # on the first (each takes 1.5 s): trying again is for later
        # operations, not a loop of connects as fast as the server resets
        # them (no cap and no pause would make hundreds a second)
        slow = [{"expect": "SITE"},
                {"send": "200 SITE done.\r\n", "after": 1.5}]
        mock = self.start_mock(script={"connections": [login() + slow * 3],
                                       "steps": [{"close": "reset"}]})
        sid = self.sid(mock, max_connections=3)
        t0 = time.monotonic()
        self.quote_batch(sid, "A")
        took = time.monotonic() - t0
        time.sleep(0.5)
        accepts = len(mock.events("accept"))
        lines = self.refused_lines(sid)
        note("%.1fs, %d connections, %d failures logged", took, accepts,
             len(lines))
        self.assertLessEqual(accepts, 12, "%d control connections in %.1fs "
                             "for 3 operations with max_connections 3 "
                             "(agent: %r...)" % (accepts, took, lines[:3]))
        s = self.session_obj(sid)
        self.assertEqual((s.get("connections"), s.get("queued")), (1, 0), s)


if __name__ == "__main__":
    ftpa.main()
