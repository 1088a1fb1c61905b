#!/usr/bin/python3
"""Jobs and events (issue 5; docs/protocol.md, last section): a transfer
when the server is killed and restarted (TEST-CASES 28: a download
resumes, an upload starts over) or its data connection drops (retries),
cancel (running and queued), the job object and job.wait's timeout, a
client that disconnects mid-call (TEST-CASES 31), events.subscribe and
progress notifications (also to a subscriber that never reads), and the
per-uid limits on sessions and jobs. Numbers are TEST-CASES.md's. A
session's parallel connections, keepalive and idle timeout are
test_connections.py's; the helpers both use are in jobs_common.py.

What is asserted is what can be seen from outside the agent: the servers'
command logs (pyftpd_server.py --events, ftpmock's log), checksums on the
servers' disks and of the local files the agent wrote, and the agent's
/proc RSS and fd counts.
"""
import json
import os
import re
import socket
import statistics
import threading
import time

import ftpa
from ftpmock import PASV_AUTO, login, payload, rest_auto, retr

from jobs_common import (MIB, MOCK_PW, JobsTestCase, note, open_w,
                         proc_fds)


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


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


class JobsTest(JobsTestCase):
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


if __name__ == "__main__":
    ftpa.main()
