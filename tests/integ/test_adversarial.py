#!/usr/bin/python3
"""Adversarial cases of TEST-CASES.md played in full through the agent:
12 (malformed 227/229, EPSV fallback, never active mode), 18 (CR, LF, NUL
refused before anything reaches a server), 19 (hostile names in a
recursive remove), 32 (hostile JSON-RPC clients, 1,000 connections at
once), 33 and 44 (another uid's sessions and jobs), and the ftpmock
scenarios no other test plays (4, 5, 7, 10, 16)."""
import json
import os
import posixpath
import resource
import select
import selectors
import socket
import threading
import time

import ftpa
import ftpmock
from ftpmock import payload

MOCK_PW = "mockpw"
PROTOCOL = ftpa.KIND_CODES["protocol"]
BAD_STRINGS = ("a\rb", "a\nb", "a\r\nDELE /x", "a\x00b", "\r", "\n")


class AdvTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=30)
        self.addCleanup(self.rpc.close)

    # -- helpers
    def open(self, mock, **opts):
        p = {"url": mock.url("/"), "password": MOCK_PW, "retries": 0}
        p.update(opts)
        rep = self.rpc.call_raw("session.open", p, timeout=30)
        self.assertIn("result", rep, rep)
        return rep["result"]["session"]

    def get_inline(self, sid, path, timeout=30, **params):
        p = {"session": sid, "path": path, "inline": True}
        p.update(params)
        return self.rpc.call_raw("transfer.get", p, timeout=timeout)

    @staticmethod
    def verbs(mock):
        return [l.split(" ", 1)[0].upper() for l in mock.received()]

    def assertNoActiveMode(self, mock):
        """TEST-CASES 12: never a silent fall back to active mode."""
        self.assertFalse({"PORT", "EPRT"} & set(self.verbs(mock)),
                         mock.received())
        self.assertEqual(mock.events("data_connect"), [])

    def assertServing(self, sid=None):
        """The agent still answers; a session still works (reconnecting
        if its connection was dropped)."""
        self.assertEqual(self.rpc.call("agent.ping"), {})
        if sid is not None:
            res = self.rpc.call("ftp.quote", {"session": sid,
                                              "command": "NOOP"}, timeout=20)
            self.assertEqual(res["code"], 200, res)

    def assertProtocolError(self, rep, words=()):
        err = self.assertRpcError(rep, PROTOCOL, "protocol")
        for w in words:
            self.assertIn(w, err["message"], err)
        return err

    # ---- 12: the data connection ----------------------------------------

    def test_12_malformed_227(self):
        """227 with an octet > 255, port 0, five numbers: a protocol error
        (after the EPSV refusal the scenarios give), nothing connected,
        no PORT/EPRT, the session goes on."""
        for scenario in ("pasv_octet", "pasv_port0", "pasv_short"):
            with self.subTest(scenario=scenario):
                mock = self.start_mock(scenario)
                sid = self.open(mock)
                t0 = time.monotonic()
                rep = self.get_inline(sid, "/file")
                err = self.assertProtocolError(rep, ("PASV",))
                self.assertIn("malformed", err["message"].lower(), err)
                self.assertEqual(err["data"].get("ftp_code"), 227, err)
                self.assertEqual(err["data"]["job"]["state"], "failed", err)
                self.assertLess(time.monotonic() - t0, 10)
                v = self.verbs(mock)
                self.assertLess(v.index("EPSV"), v.index("PASV"), v)
                self.assertNotIn("RETR", v)
                # a listing meets the same reply: the same clean error
                rep = self.rpc.call_raw("fs.list", {"session": sid,
                                                    "path": "/"}, timeout=30)
                self.assertProtocolError(rep, ("PASV",))
                self.assertEqual(mock.events("data_accept"), [])
                self.assertNoActiveMode(mock)
                self.assertServing(sid)

    def test_12_malformed_229(self):
        """229 with a port > 65535, port 0, no port, garbage, mixed
        delimiters: a protocol error (a PASV after it, should the agent
        try one, gets a 227 naming port 0), nothing connected, no
        PORT/EPRT, the session goes on."""
        for scenario in ("epsv_bad_port", "epsv_noport", "epsv_garbage",
                         "epsv_port0", "epsv_delims"):
            with self.subTest(scenario=scenario):
                mock = self.start_mock(scenario)
                sid = self.open(mock)
                t0 = time.monotonic()
                rep = self.get_inline(sid, "/file")
                err = self.assertProtocolError(rep, ("EPSV",))
                self.assertIn("malformed", err["message"].lower(), err)
                self.assertEqual(err["data"].get("ftp_code"), 229, err)
                self.assertLess(time.monotonic() - t0, 10)
                self.assertNotIn("RETR", self.verbs(mock))
                self.assertEqual(mock.events("data_accept"), [])
                self.assertNoActiveMode(mock)
                self.assertServing(sid)

    def test_12_epsv_refused_falls_back_and_remembers(self):
        """EPSV answered 500: PASV, and on the same session no EPSV is
        ever sent again (three downloads, one EPSV in all)."""
        mock = self.start_mock("epsv_refused")
        sid = self.open(mock)
        for seed in (121, 122, 123):
            rep = self.get_inline(sid, "/f%d" % seed)
            self.assertIn("result", rep, rep)
            self.assertEqual(ftpa.unb64(rep["result"]["data"]),
                             payload(1000, seed))
        v = self.verbs(mock)
        self.assertEqual(v.count("EPSV"), 1, mock.received())
        self.assertEqual(v.count("PASV"), 3, mock.received())
        self.assertLess(v.index("EPSV"), v.index("PASV"))
        self.assertEqual(len(mock.events("data_accept")), 3)
        self.assertNoActiveMode(mock)

    def test_12_passive_refused_no_active_fallback(self):
        """EPSV and PASV both refused: an error, never PORT or EPRT (the
        mock would accept them)."""
        mock = self.start_mock("passive_refused")
        sid = self.open(mock)
        rep = self.get_inline(sid, "/file")
        err = self.assertRpcError(rep)
        self.assertEqual(err["data"]["job"]["state"], "failed", err)
        self.assertEqual(err["data"].get("kind"), "ftp", err)
        self.assertEqual(err["data"].get("ftp_code"), 500, err)
        rep = self.rpc.call_raw("fs.list", {"session": sid, "path": "/"},
                                timeout=30)
        self.assertRpcError(rep)
        rep = self.rpc.call_raw("transfer.put", {
            "session": sid, "path": "/up", "data": ftpa.b64(b"x" * 100)},
            timeout=30)
        self.assertRpcError(rep)
        self.assertIn("PASV", self.verbs(mock))
        self.assertNotIn("RETR", self.verbs(mock))
        self.assertNotIn("STOR", self.verbs(mock))
        self.assertNoActiveMode(mock)
        self.assertServing(sid)

    # ---- 18: CR, LF, NUL never reach a server ------------------------------

    def assertNothingSent(self, mock, before, accepts=None):
        time.sleep(0.3)
        self.assertEqual(mock.received()[len(before):], [],
                         "sent to the server after a refused call")
        if accepts is not None:
            self.assertEqual(len(mock.events("accept")), accepts)

    def test_18_paths_and_quote(self):
        mock = self.start_mock("ok")
        sid = self.open(mock)
        before = mock.received()
        accepts = len(mock.events("accept"))
        for bad in BAD_STRINGS:
            cases = [
                ("fs.list", {"session": sid, "path": bad}),
                ("fs.list", {"session": sid, "path": "/dir/" + bad}),
                ("fs.stat", {"session": sid, "path": bad}),
                ("fs.mkdir", {"session": sid, "path": bad, "parents": True}),
                ("fs.mkdir", {"session": sid, "path": "/ok/" + bad}),
                ("fs.remove", {"session": sid, "path": bad,
                               "recursive": True}),
                ("fs.rmdir", {"session": sid, "path": bad}),
                ("fs.rename", {"session": sid, "from": bad, "to": "/ok"}),
                ("fs.rename", {"session": sid, "from": "/ok", "to": bad}),
                ("fs.chmod", {"session": sid, "path": bad, "mode": 0o644}),
                ("fs.set_mtime", {"session": sid, "path": bad,
                                  "mtime": 1700000000}),
                ("ftp.quote", {"session": sid, "command": "NOOP" + bad}),
                ("ftp.quote", {"session": sid, "command": "SITE " + bad}),
                ("transfer.get", {"session": sid, "path": bad,
                                  "inline": True}),
                ("transfer.put", {"session": sid, "path": bad,
                                  "data": ftpa.b64(b"x")}),
                ("transfer.put", {"session": sid, "path": "/u" + bad,
                                  "data": ftpa.b64(b"x"), "append": True}),
            ]
            for method, params in cases:
                with self.subTest(method=method, params=params):
                    rep = self.rpc.call_raw(method, params)
                    err = self.assertRpcError(rep, ftpa.E_PARAMS, "params")
                    self.assertNotIn("job", err.get("data") or {})
        # a download into an fd: refused as well, and the fd not kept
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        os.set_blocking(r, False)
        try:
            rep = self.rpc.call_raw("transfer.get", {
                "session": sid, "path": "a\r\nDELE /x", "fd": 0}, fds=[w])
        finally:
            os.close(w)
        self.assertRpcError(rep, ftpa.E_PARAMS, "params")

        def eof():
            try:
                return os.read(r, 1) == b""
            except BlockingIOError:
                return False     # the agent still holds the write end
        ftpa.wait_until(eof, 5, what="the agent to close the refused "
                        "call's fd")
        self.assertNothingSent(mock, before, accepts)
        # the private-use escapes of non-UTF-8 bytes only stand for bytes
        # 0x80-0xff: U+F70D U+F70A are characters, never a CR LF
        rep = self.rpc.call_raw("fs.stat", {"session": sid,
                                            "path": "/a\uf70d\uf70aDELE x"})
        self.assertFalse([l for l in mock.received()
                          if "\r" in l or l.upper().startswith("DELE")],
                         mock.received())
        self.assertServing(sid)

    def test_18_session_open(self):
        """user, password, host, name, in the url form (raw is refused
        by JSON-RPC parameter checks, percent-encoded by the URL parser)
        and in the host/port/user/password form: refused before the
        agent even connects."""
        mock = self.start_mock("ok")
        port = mock.port
        url = "ftp://%s@127.0.0.1:%d/"
        cases = []
        for enc in ("%0d", "%0a", "%0d%0a", "%00", "%0D%0A", "%0A"):
            cases += [
                {"url": url % ("test" + enc + "PASS%20x", port),
                 "password": MOCK_PW},
                {"url": url % ("test:pw" + enc + "DELE%20x", port)},
                {"url": url % ("test", port) + "a" + enc + "DELE%20x",
                 "password": MOCK_PW},
            ]
        for bad in BAD_STRINGS:
            cases += [
                {"url": url % ("test", port), "password": MOCK_PW + bad},
                {"url": url % ("test", port), "password": MOCK_PW,
                 "name": "n" + bad},
                {"url": url % ("test" + bad, port), "password": MOCK_PW},
                {"url": url % ("test", port) + bad, "password": MOCK_PW},
                {"host": "127.0.0.1", "port": port, "user": "test" + bad,
                 "password": MOCK_PW},
                {"host": "127.0.0.1", "port": port, "user": "test",
                 "password": MOCK_PW + bad},
                {"host": "127.0.0.1" + bad, "port": port, "user": "test",
                 "password": MOCK_PW},
                {"host": "127.0.0.1", "port": port, "user": bad,
                 "password": MOCK_PW},
                {"url": url % ("test", port), "user": "test" + bad,
                 "password": MOCK_PW},
                {"url": url % ("test", port), "password": MOCK_PW,
                 "ca_file": "/etc/ssl/x" + bad},
            ]
        for params in cases:
            with self.subTest(params=params):
                rep = self.rpc.call_raw("session.open", params, timeout=20)
                self.assertRpcError(rep, ftpa.E_PARAMS, "params")
        time.sleep(0.3)
        self.assertEqual(mock.events("accept"), [])
        self.assertEqual(self.rpc.call("session.list"), [])
        # ftpctl refuses such URLs too, before a session is opened
        for target in ("ftp://test@127.0.0.1:%d/a%%0d%%0aDELE%%20x" % port,
                       "ftp://test%%0d%%0aX@127.0.0.1:%d/" % port,
                       "ftp://test@127.0.0.1:%d/a%%00b" % port):
            with self.subTest(target=target):
                r = self.ftpctl(self.agent, "ls", target, password=MOCK_PW)
                self.assertNotEqual(r.rc, 0, r)
        time.sleep(0.3)
        self.assertEqual(mock.events("accept"), [])

    # ---- 19: hostile names in a recursive remove ---------------------------

    def hostile_remove(self, scenario):
        mock = self.start_mock(scenario)
        sid = self.open(mock)
        before = len(mock.received())
        rep = self.rpc.call_raw("fs.remove", {"session": sid,
                                              "path": "/victim",
                                              "recursive": True}, timeout=30)
        sent = mock.received()[before:]
        # the hostile entries cannot be removed: the call fails (refused,
        # or the final RMD says the directory is not empty)
        self.assertRpcError(rep)
        self.assertFalse([l for l in sent if "\r" in l or "\x00" in l
                          or "\n" in l], sent)
        inside = ("/victim/-rf", "/victim/good.txt", "/victim/link",
                  "/victim/evil", "/victim/sub/x")
        for line in sent:
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "CWD" and arg == "/":
                continue        # back to the login directory
            if verb in ("DELE", "RMD", "CWD", "XCWD", "XRMD", "MKD", "RNFR",
                        "RNTO", "SITE", "STOR", "APPE", "CDUP", "XCUP",
                        "SMNT"):
                with self.subTest(command=line):
                    self.assertNotIn(verb, ("CDUP", "XCUP", "SMNT", "MKD",
                                            "STOR", "APPE", "SITE", "RNFR",
                                            "RNTO"))
                    self.assertTrue(arg == "/victim"
                                    or arg.startswith("/victim/"), line)
                    self.assertEqual(posixpath.normpath(arg), arg, line)
                    self.assertFalse({"..", "."} & set(arg.split("/")), line)
            if verb == "DELE":
                self.assertIn(arg, ("/victim",) + inside, line)
            if verb in ("RMD", "XRMD"):
                self.assertIn(arg, ("/victim", "/victim/sub"), line)
            if verb in ("LIST", "NLST", "MLSD", "STAT"):
                # never into a symlink or a name that leaves the tree
                self.assertIn(arg, ("/victim", "/victim/sub", "/", ""), line)
        self.assertServing(sid)
        return sent

    def test_19_hostile_names_list(self):
        self.hostile_remove("hostile_list")

    def test_19_hostile_names_mlsd(self):
        sent = self.hostile_remove("hostile_mlsd")
        self.assertIn("MLSD /victim", sent)

    # ---- ftpmock scenarios no other test plays -----------------------------

    def assertOpenRefused(self, scenario, kind="protocol"):
        mock = self.start_mock(scenario)
        t0 = time.monotonic()
        rep = self.rpc.call_raw("session.open", {
            "url": mock.url("/"), "password": MOCK_PW, "retries": 0},
            timeout=20)
        err = self.assertRpcError(rep, ftpa.KIND_CODES[kind], kind)
        self.assertLess(time.monotonic() - t0, 10)
        # a broken greeting: neither the user name nor the password is sent
        self.assertEqual(mock.received(), [])
        self.assertEqual(self.rpc.call("session.list"), [])
        return err

    def test_04_nul_in_reply_refused(self):
        err = self.assertOpenRefused("nul_in_reply")
        self.assertIn("NUL", err["message"], err)
        self.assertServing()

    def test_07_bad_reply_codes(self):
        for scenario in ("bad_code", "code_600"):
            with self.subTest(scenario=scenario):
                self.assertOpenRefused(scenario)
        self.assertServing()

    def test_04_lf_only_accepted(self):
        mock = self.start_mock("lf_only")
        rep = self.rpc.call_raw("session.open", {
            "url": mock.url("/"), "password": MOCK_PW, "retries": 0})
        self.assertIn("result", rep, rep)
        self.assertEqual(rep["result"]["welcome"], "LF only\nready")
        self.assertEqual(rep["result"]["system"], "UNIX Type: L8")
        self.assertIn("PASS " + MOCK_PW, mock.received())
        self.assertServing(rep["result"]["session"])

    def test_05_byte_at_a_time_same_as_one_read(self):
        slow = self.start_mock("byte_at_a_time")
        rep = self.rpc.call_raw("session.open", {
            "url": slow.url("/"), "password": MOCK_PW, "retries": 0},
            timeout=30)
        self.assertIn("result", rep, rep)
        # the same greeting and replies, each in one write
        steps = ftpmock.SCENARIOS["byte_at_a_time"]()
        for st in steps:
            st.pop("chunk", None)
            st.pop("delay", None)
        fast = self.start_mock(script={"steps": steps})
        rep2 = self.rpc.call_raw("session.open", {
            "url": fast.url("/"), "password": MOCK_PW, "retries": 0})
        self.assertIn("result", rep2, rep2)
        for k in ("welcome", "features", "system"):
            self.assertEqual(rep["result"][k], rep2["result"][k], k)
        self.assertEqual(rep["result"]["welcome"],
                         "slow\n 220 greeting\nready")
        self.assertEqual(slow.received(), fast.received())
        self.assertServing(rep["result"]["session"])

    def test_10_bad_size_replies(self):
        """213 12ab, 213 above 2^63: refused as a protocol error (the
        server broke the protocol; it did not say no), never a size."""
        for scenario in ("size_garbage", "size_huge"):
            with self.subTest(scenario=scenario):
                mock = self.start_mock(scenario)
                sid = self.open(mock)
                rep = self.rpc.call_raw("fs.stat", {"session": sid,
                                                    "path": "/file"},
                                        timeout=20)
                self.assertIn("SIZE /file", mock.received())
                self.assertNotIn("result", rep, rep)
                self.assertProtocolError(rep)
                # a download never takes it for the size either (the
                # scenario has no data connection to give)
                rep = self.get_inline(sid, "/file")
                err = self.assertRpcError(rep)
                self.assertIsNone(err["data"]["job"]["total"], err)
                self.assertServing(sid)

    def test_16_stall_times_out_and_recovers(self):
        mock = self.start_mock("stall")
        sid = self.open(mock, data_timeout=2, reply_timeout=5)
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/big")
        err = self.assertRpcError(rep, ftpa.KIND_CODES["timeout"], "timeout")
        took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        self.assertLess(took, 2 + 6)
        self.assertEqual(err["data"]["job"]["state"], "failed")
        self.assertEqual(err["data"]["job"]["bytes"], 4096, err)
        self.assertEqual(mock.events("data_sent")[0]["bytes"], 4096)
        # recovered with ABOR or dropped: the session answers in step
        t0 = time.monotonic()
        res = self.rpc.call("ftp.quote", {"session": sid, "command": "NOOP"},
                            timeout=20)
        self.assertEqual((res["code"], res["text"]), (200, "NOOP ok."), res)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertServing()


class RpcAbuseTest(ftpa.TestCase):
    """TEST-CASES 32: hostile JSON-RPC clients; everyone else is served."""

    N_CONNS = 1000
    FLOOD_METHODS = ("agent.ping", "rpc.info", "session.list")

    def setUp(self):
        super().setUp()
        need = self.N_CONNS + 300
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < need:
            if hard != resource.RLIM_INFINITY and hard < need:
                self.skipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard,
                                                                    need))
            resource.setrlimit(resource.RLIMIT_NOFILE, (need * 2 if
                               hard == resource.RLIM_INFINITY else
                               min(hard, need * 2), hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                            (soft, hard))
        conf = os.path.join(self.tmpdir(), "ftpd-agent.conf")
        with open(conf, "w") as f:
            f.write("max_clients = %d\nmax_clients_per_uid = %d\n"
                    % (self.N_CONNS * 4, self.N_CONNS * 4))
        self.agent = self.start_agent(extra=["-c", conf])
        self.rpc = self.agent.rpc(timeout=20)
        self.addCleanup(self.rpc.close)

    def ping_time(self, rpc):
        t0 = time.monotonic()
        self.assertEqual(rpc.call("agent.ping", timeout=10), {})
        return time.monotonic() - t0

    def connect(self, deadline):
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(self.agent.sock)
                return s
            except (BlockingIOError, InterruptedError):
                s.close()   # a full backlog: retry like a client would
            except OSError:
                s.close()
                raise
            if time.monotonic() > deadline:
                raise AssertionError("could not connect within the deadline")
            time.sleep(0.002)

    def test_32_thousand_connections_all_answered(self):
        pinger = self.agent.rpc(timeout=10)
        self.addCleanup(pinger.close)
        pinger2 = self.agent.rpc(timeout=10)
        self.addCleanup(pinger2.close)
        base = max(self.ping_time(pinger) for _ in range(10))
        limit = max(1.0, 10 * base)
        self.ping_time(pinger2)
        conns0 = self.rpc.call("agent.stats")["connections"]
        during, failures = [], []
        stop = threading.Event()

        def ping_loop():
            while not stop.is_set():
                try:
                    during.append(self.ping_time(pinger))
                except Exception as e:   # reported by the main thread
                    failures.append(repr(e))
                    return
                time.sleep(0.005)
        t = threading.Thread(target=ping_loop)
        t.start()
        conns = []
        try:
            deadline = time.monotonic() + 60
            for _ in range(self.N_CONNS):
                conns.append(self.connect(deadline))
            for i, s in enumerate(conns):
                s.setblocking(True)
                s.sendall(b"".join(json.dumps({
                    "jsonrpc": "2.0", "id": i * 10 + k,
                    "method": m}).encode() + b"\n"
                    for k, m in enumerate(self.FLOOD_METHODS)))
                s.setblocking(False)
            # every request of the flood is queued now: one more client
            mid = self.ping_time(pinger2)
            sel = selectors.DefaultSelector()
            bufs = {}
            for i, s in enumerate(conns):
                sel.register(s, selectors.EVENT_READ, i)
                bufs[i] = b""
            replies = {}
            closed = []
            while len(replies) + len(closed) < len(conns):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for key, _ in sel.select(min(left, 1.0)):
                    i = key.data
                    try:
                        b = key.fileobj.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except ConnectionResetError:
                        b = b""
                    if b:
                        bufs[i] += b
                    if bufs[i].count(b"\n") >= len(self.FLOOD_METHODS):
                        replies[i] = [json.loads(l) for l in
                                      bufs[i].splitlines()]
                        sel.unregister(key.fileobj)
                    elif not b:
                        closed.append(i)
                        sel.unregister(key.fileobj)
            sel.close()
        finally:
            stop.set()
            t.join(30)
            for s in conns:
                s.close()
        self.assertEqual(len(conns), self.N_CONNS)
        self.assertEqual(closed, [], "connections closed without an answer")
        self.assertEqual(len(replies), self.N_CONNS,
                         "%d of %d connections answered"
                         % (len(replies), self.N_CONNS))
        for i, ms in replies.items():
            got = {m["id"]: m for m in ms}
            self.assertEqual(sorted(got), [i * 10 + k for k in
                                           range(len(self.FLOOD_METHODS))])
            self.assertEqual(got[i * 10]["result"], {}, got)
            self.assertEqual(got[i * 10 + 1]["result"]["name"],
                             "ftpd-agent", got)
            self.assertEqual(got[i * 10 + 2]["result"], [], got)
        self.assertEqual(failures, [])
        self.assertGreaterEqual(len(during), 1)
        slow = [round(x, 3) for x in during + [mid] if x > limit]
        self.assertEqual(slow, [], "pings slower than %.2f s during the "
                         "flood (baseline %.4f s, %d pings)"
                         % (limit, base, len(during)))
        ftpa.wait_until(lambda: self.rpc.call("agent.stats")["connections"]
                        == conns0, 20, what="the flood's connections to go "
                        "(%d before)" % conns0)
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_32_trickled_oversized_message(self):
        """A 2 MiB message sent slowly: skipped as it comes and answered
        with kind limit (its id comes first), the connection goes on;
        meanwhile another client's pings keep their usual time."""
        base = max(self.ping_time(self.rpc) for _ in range(5))
        big = self.agent.rpc(timeout=20)
        self.addCleanup(big.close)
        msg = (b'{"jsonrpc":"2.0","method":"agent.ping","id":1,"params":{"x":"'
               + b"a" * (2 << 20) + b'"}}\n')
        times = []
        for i in range(0, len(msg), 64 << 10):
            try:
                big.sock.sendall(msg[i:i + (64 << 10)])
            except (BrokenPipeError, ConnectionResetError):
                break
            times.append(self.ping_time(self.rpc))
        self.assertTrue(times)
        self.assertLess(max(times), max(1.0, 10 * base), times)
        try:
            rep = big.recv()
        except ConnectionResetError:
            self.fail("reset before the error reply was read")
        self.assertIsNotNone(rep, "closed without an error reply")
        self.assertRpcError(rep, -32011, "limit")
        self.assertEqual(rep.get("id"), 1, rep)
        self.assertEqual(big.call("agent.ping"), {})
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def assertFdClosed(self, w, what):
        def broken():
            try:
                os.write(w, b"x")
                return False
            except BrokenPipeError:
                return True
        ftpa.wait_until(broken, 5, what="the agent to close the fd of "
                        + what)

    def test_32_unused_fds_are_closed(self):
        """fds sent with requests that do not use them (any method, an
        unknown one, invalid params, invalid JSON, more than 4 fds): each
        answered, every fd closed, the agent's fd table back where it
        was."""
        # one round trip first: the agent has then accepted this client's
        # connection, which the baseline must count
        self.assertEqual(self.rpc.call("agent.ping"), {})
        nfds0 = len(os.listdir("/proc/%d/fd" % self.agent.pid))
        cases = [
            ("session.list", None, None),
            ("rpc.info", None, None),
            ("no.such_method", {}, ftpa.E_METHOD),
            ("fs.list", {"session": 5}, ftpa.E_PARAMS),
            ("job.status", {"job": "j424242"}, ftpa.KIND_CODES["no_job"]),
            ("agent.ping", None, None),
        ]
        for method, params, code in cases:
            for nfd in (1, 4, 6):
                with self.subTest(method=method, nfd=nfd):
                    pipes = [os.pipe() for _ in range(nfd)]
                    try:
                        rep = self.rpc.call_raw(method, params,
                                                fds=[r for r, _ in pipes])
                    finally:
                        for r, _ in pipes:
                            os.close(r)
                    try:
                        if nfd > 4:      # more than a message may carry
                            self.assertTrue("result" in rep
                                            or "error" in rep, rep)
                        elif code is None:
                            self.assertIn("result", rep, rep)
                        else:
                            self.assertRpcError(rep, code)
                        for _, w in pipes:
                            self.assertFdClosed(w, method)
                    finally:
                        for _, w in pipes:
                            os.close(w)
        # invalid JSON with an fd: -32700, the connection closed, fd too
        bad = self.agent.rpc(timeout=10)
        self.addCleanup(bad.close)
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        try:
            bad.send_raw(b'{"jsonrpc":"2.0","method":"agent.ping",\n',
                         fds=[r])
        finally:
            os.close(r)
        self.assertRpcError(bad.recv(), ftpa.E_PARSE)
        self.assertIsNone(bad.recv())
        self.assertFdClosed(w, "invalid JSON")
        ftpa.wait_until(lambda: len(os.listdir("/proc/%d/fd"
                                               % self.agent.pid)) <= nfds0,
                        10, what="the agent's fd count to go back")

    def test_32_wrong_param_types(self):
        """Wrong types for the parameters test_rpc.py leaves out."""
        mock = self.start_mock("ok")
        sid = self.rpc.call("session.open", {"url": mock.url("/"),
                                             "password": MOCK_PW})["session"]
        # a job that exists (failed: the mock has no data connection)
        job = self.rpc.call_raw("transfer.get", {
            "session": sid, "path": "/a", "inline": True}, timeout=20)
        job = job["error"]["data"]["job"]["job"]
        before = mock.received()
        cases = [
            ("fs.mkdir", {"session": sid, "path": "/a", "parents": "yes"}),
            ("fs.mkdir", {"session": sid, "path": ["/a"]}),
            ("fs.remove", {"session": sid, "path": "/a", "recursive": 1}),
            ("fs.rmdir", {"session": sid, "path": {}}),
            ("fs.rename", {"session": sid, "from": "/a", "to": 7}),
            ("fs.rename", {"session": sid, "from": "/a"}),
            ("fs.chmod", {"session": sid, "path": "/a", "mode": "rwx"}),
            ("fs.chmod", {"session": sid, "path": "/a", "mode": [7]}),
            ("fs.set_mtime", {"session": sid, "path": "/a", "mtime": "now"}),
            ("ftp.quote", {"session": sid, "command": 42}),
            ("ftp.quote", {"session": sid}),
            ("transfer.get", {"session": sid, "path": "/a", "inline": True,
                              "offset": -1}),
            ("transfer.get", {"session": sid, "path": "/a", "inline": True,
                              "offset": "0"}),
            ("transfer.get", {"session": sid, "path": "/a", "inline": True,
                              "type": 1}),
            ("transfer.put", {"session": sid, "path": "/a", "data": 5}),
            ("transfer.put", {"session": sid, "path": "/a",
                              "data": ftpa.b64(b"x"), "append": "yes"}),
            ("job.status", {"job": 3}),
            ("job.wait", {"job": ["j1"]}),
            ("job.wait", {"job": job, "timeout": "soon"}),
            ("job.wait", {"job": job, "timeout": -1}),
            ("job.cancel", {}),
            ("events.subscribe", {"jobs": 5}),
            ("events.subscribe", {"jobs": [1, 2]}),
            ("session.open", {"url": mock.url("/"), "port": "21"}),
            ("session.open", {"url": mock.url("/"), "max_connections": 0}),
            ("session.open", {"url": mock.url("/"), "reuse": "true"}),
            ("session.open", {"url": mock.url("/"), "tls": True}),
        ]
        for method, params in cases:
            with self.subTest(method=method, params=params):
                rep = self.rpc.call_raw(method, params)
                self.assertRpcError(rep, ftpa.E_PARAMS, "params")
        time.sleep(0.3)
        self.assertEqual(mock.received()[len(before):], [])
        self.assertEqual(self.rpc.call("agent.ping"), {})


OTHER = "nobody"


class OtherUidTest(ftpa.TestCase):
    """TEST-CASES 33 and 44: another uid's sessions and jobs cannot be
    listed, used, closed or reused, and an id of another uid gets exactly
    the answer of an id that does not exist."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        self.agent = self.start_agent(socket_mode=0o666,
                                      sockdir=self.tmpdir(0o755))
        self.rpc = self.agent.rpc(timeout=30)
        self.addCleanup(self.rpc.close)

    def as_other(self, calls):
        """Runs [(method, params)...] as OTHER; returns the raw replies."""
        sock = self.agent.sock

        def child():
            r = ftpa.Rpc(sock, 20)
            try:
                return [r.call_raw(m, p, timeout=20) for m, p in calls]
            finally:
                r.close()
        return ftpa.run_as(OTHER, child)

    def assertSameAsMissing(self, rep, real_id, missing, missing_id, kind):
        """rep (for real_id) is exactly the error of missing (for
        missing_id), ids aside."""
        self.assertIn("error", rep, rep)
        self.assertIn("error", missing, missing)

        def norm(reply, i):
            return json.loads(json.dumps(reply["error"]).replace(i, "<ID>"))
        self.assertEqual(missing["error"]["data"]["kind"], kind, missing)
        self.assertEqual(norm(rep, real_id), norm(missing, missing_id),
                         "another uid's %s differs from a missing one" % kind)

    def test_33_sessions_of_another_uid(self):
        mock = self.start_mock("ok")
        sid = self.rpc.call("session.open", {"url": mock.url("/"),
                                             "password": MOCK_PW,
                                             "name": "rootsess"})["session"]
        missing = "nosuchsess"

        def calls(s):
            return [
                ("fs.list", {"session": s, "path": "/"}),
                ("fs.stat", {"session": s, "path": "/f"}),
                ("fs.mkdir", {"session": s, "path": "/d", "parents": True}),
                ("fs.remove", {"session": s, "path": "/d",
                               "recursive": True}),
                ("fs.rmdir", {"session": s, "path": "/d"}),
                ("fs.rename", {"session": s, "from": "/a", "to": "/b"}),
                ("fs.chmod", {"session": s, "path": "/a", "mode": 0o600}),
                ("fs.set_mtime", {"session": s, "path": "/a",
                                  "mtime": 1700000000}),
                ("ftp.quote", {"session": s, "command": "NOOP"}),
                ("transfer.get", {"session": s, "path": "/f",
                                  "inline": True}),
                ("transfer.put", {"session": s, "path": "/f",
                                  "data": ftpa.b64(b"x")}),
                ("session.close", {"session": s}),
            ]
        # and one with an id the agent made up (the other uid may guess)
        sid2 = self.rpc.call("session.open", {"url": mock.url("/"),
                                              "password": MOCK_PW})["session"]
        before = mock.received()
        accepts = len(mock.events("accept"))
        pairs = ((sid, missing), (sid2, sid2[0] + "987654"))
        todo = [("session.list", None), ("agent.stats", None)]
        for real, fake in pairs:
            todo += calls(real) + calls(fake)
        got = self.as_other(todo)
        lst, stats, got = got[0], got[1], got[2:]
        self.assertEqual(lst.get("result"), [], lst)
        self.assertEqual(stats["result"]["sessions"], 0, stats)
        n = len(calls(sid))
        for k, (real, fake) in enumerate(pairs):
            part = got[2 * n * k:2 * n * (k + 1)]
            for (method, _), rep, miss in zip(calls(real), part[:n],
                                              part[n:]):
                with self.subTest(session=real, method=method):
                    self.assertSameAsMissing(rep, real, miss, fake,
                                             "no_session")
        time.sleep(0.3)
        self.assertEqual(mock.received()[len(before):], [])
        self.assertEqual(len(mock.events("accept")), accepts)
        # still open and usable for its owner
        ids = [s["session"] for s in self.rpc.call("session.list")]
        self.assertIn(sid, ids)
        self.assertIn(sid2, ids)
        self.assertEqual(self.rpc.call("ftp.quote", {
            "session": sid, "command": "NOOP"})["code"], 200)

    def test_33_jobs_of_another_uid(self):
        mock = self.start_mock("stall")
        sid = self.rpc.call("session.open", {"url": mock.url("/"),
                                             "password": MOCK_PW})["session"]
        out = os.path.join(self.tmpdir(), "out")
        fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            job = self.rpc.call("transfer.get", {
                "session": sid, "path": "/big", "fd": 0, "wait": False},
                fds=[fd])["job"]
        finally:
            os.close(fd)
        ftpa.wait_until(lambda: self.rpc.call("job.status", {"job": job})
                        ["bytes"] >= 4096, 10, what="the stalled job")
        missing = "j987654"

        def calls(j):
            return [("job.status", {"job": j}),
                    ("job.wait", {"job": j, "timeout": 1}),
                    ("job.cancel", {"job": j}),
                    ("events.subscribe", {"jobs": [j]})]
        mine, theirs = calls(job), calls(missing)
        got = self.as_other([("job.list", None), ("agent.stats", None)]
                            + mine + theirs)
        lst, stats, got = got[0], got[1], got[2:]
        self.assertIn("result", lst, lst)
        self.assertNotIn(job, json.dumps(lst["result"]))
        self.assertEqual(stats["result"]["jobs"], 0, stats)
        n = len(mine)
        for (method, _), rep, miss in zip(mine, got[:n], got[n:]):
            with self.subTest(method=method):
                self.assertSameAsMissing(rep, job, miss, missing, "no_job")
        # untouched: still running for its owner
        st = self.rpc.call("job.status", {"job": job})
        self.assertEqual(st["state"], "running", st)
        self.assertNotIn("ABOR", [l.upper() for l in mock.received()])
        # the other uid subscribed to all events hears nothing of the
        # job's end nor of the session's close; the owner does
        sock, (r, w) = self.agent.sock, os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)

        def child():
            c = ftpa.Rpc(sock, 20)
            try:
                sub = c.call_raw("events.subscribe", {"jobs": "all"})
                os.write(w, b"r")
                notes, deadline = [], time.monotonic() + 4
                while time.monotonic() < deadline:
                    try:
                        m = c.recv(max(0.05, deadline - time.monotonic()))
                    except socket.timeout:
                        break
                    if m is None:
                        break
                    notes.append(m)
                return {"sub": sub, "notes": notes}
            finally:
                c.close()
        heard = []
        t = threading.Thread(target=lambda: heard.append(
            ftpa.run_as(OTHER, child, timeout=30)))
        t.start()
        try:
            self.assertTrue(select.select([r], [], [], 15)[0],
                            "the other uid did not subscribe")
            self.assertEqual(self.rpc.call("events.subscribe",
                                           {"jobs": "all"}), {})
            self.assertEqual(self.rpc.call("job.cancel", {"job": job}), {})
            rep = self.rpc.call_raw("job.wait", {"job": job, "timeout": 10},
                                    timeout=20)
            self.assertEqual(rep["result"]["state"], "cancelled", rep)
            self.assertEqual(self.rpc.call("session.close",
                                           {"session": sid}), {})
        finally:
            t.join(40)
        self.assertEqual(len(heard), 1, "the other uid's client failed")
        self.assertEqual(heard[0]["sub"].get("result"), {}, heard)
        self.assertEqual(heard[0]["notes"], [])
        self.assertIn(job, json.dumps(self.rpc.notifications))

    def test_33_reuse_never_crosses_uids(self):
        mock = self.start_mock("ok")
        url = mock.url("/")
        root = self.rpc.call("session.open", {"url": url,
                                              "password": MOCK_PW,
                                              "reuse": True})
        named = self.rpc.call("session.open", {"url": url,
                                               "password": MOCK_PW,
                                               "name": "shared"})
        self.assertEqual(len(mock.events("accept")), 2)
        a, b, lst = self.as_other([
            ("session.open", {"url": url, "password": MOCK_PW,
                              "reuse": True}),
            ("session.open", {"url": url, "password": MOCK_PW,
                              "reuse": True, "name": "shared"}),
            ("session.list", None)])
        for rep in (a, b):
            self.assertIn("result", rep, rep)
            self.assertFalse(rep["result"].get("reused"), rep)
        self.assertNotEqual(a["result"]["session"], root["session"])
        # its own session of that name, on its own connection
        self.assertEqual(b["result"]["session"], "shared")
        self.assertEqual(len(mock.events("accept")), 4)
        ids = sorted(s["session"] for s in lst["result"])
        self.assertEqual(ids, sorted([a["result"]["session"], "shared"]))
        uid = ftpa.pwd.getpwnam(OTHER).pw_uid
        for s in lst["result"]:
            if "uid" in s:
                self.assertEqual(s["uid"], uid, s)
        # root's sessions are still root's, and reused only by root
        again = self.rpc.call("session.open", {"url": url,
                                               "password": MOCK_PW,
                                               "reuse": True})
        self.assertIn(again["session"], (root["session"], named["session"]))
        self.assertTrue(again.get("reused"), again)
        self.assertEqual(len(mock.events("accept")), 4)


if __name__ == "__main__":
    ftpa.main()
