#!/usr/bin/python3
"""A session's control connections (issue 5; docs/protocol.md, last
section): parallel transfers on one session, never on more connections
than max_connections (3, and 4 by default); NOOP keepalive during a long
transfer (TEST-CASES 29) and on an idle connection; the idle timeout,
after which the session connects again when used; and an extra
connection that the server refuses (a 421 or a 530 teaches a cap) or
that fails on the network (no cap, and no storm of connects). Numbers
are TEST-CASES.md's. Jobs and events are test_jobs.py's; the helpers
both use are in jobs_common.py.

What is asserted is what can be seen from outside the agent: the servers'
connection counts and command logs (pyftpd_server.py --events, ftpmock's
log, /proc/net/tcp for vsftpd), checksums on the servers' disks and of the
local files the agent wrote, and the agent's log.
"""
import json
import os
import re
import threading
import time

import ftpa
from ftpmock import PASV_AUTO, login, payload, rest_auto, retr

from jobs_common import MIB, JobsTestCase, note, open_w


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


class ConnectionsTest(JobsTestCase):
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
