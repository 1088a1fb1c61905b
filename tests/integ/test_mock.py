#!/usr/bin/python3
"""Misbehaving servers (tests/ftpmock.py); numbers are TEST-CASES.md's."""
import os
import signal
import time

import ftpa
import ftpmock
from ftpmock import payload

MOCK_PW = "mockpw"
MIB = 1 << 20


class MockTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=30)
        self.addCleanup(self.rpc.close)

    def open_raw(self, mock, name=None, timeout=20):
        # one fault, one attempt: retries are tested in test_jobs.py
        params = {"url": mock.url("/"), "password": MOCK_PW, "retries": 0}
        if name:
            params["name"] = name
        return self.rpc.call_raw("session.open", params, timeout=timeout)

    def open(self, mock, name=None):
        rep = self.open_raw(mock, name)
        self.assertIn("result", rep, rep)
        return rep["result"]

    def assertServing(self):
        """The agent still serves: ping, and a good session opens."""
        self.assertEqual(self.rpc.call("agent.ping"), {})
        ok = self.start_mock("ok")
        self.open(ok)

    def test_01_multiline_greeting(self):
        mock = self.start_mock("multiline_greeting")
        res = self.open(mock)
        self.assertIn("2024 was a good year", res["welcome"])
        self.assertIn("ftpmock ready", res["welcome"])
        got = mock.received()
        self.assertTrue(got and got[0].startswith("USER "), got)
        self.assertIn("PASS " + MOCK_PW, got)

    def test_02_glftpd_closing_code(self):
        mock = self.start_mock("glftpd")
        t0 = time.monotonic()
        res = self.open(mock)
        self.assertLess(time.monotonic() - t0, 10)
        # FEAT ended at "214 ...": the replies after it are still in step
        self.assertEqual(res["system"], "UNIX Type: L8")

    def test_02_glftpd_closing_code_quote(self):
        mock = self.start_mock("glftpd")
        sid = self.open(mock)["session"]
        t0 = time.monotonic()
        res = self.rpc.call("ftp.quote", {"session": sid,
                                          "command": "SITE STATUS"},
                            timeout=15)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(res["code"], 211)
        self.assertIn("second line", res["text"])
        # the reply stream is still in step
        res = self.rpc.call("ftp.quote", {"session": sid, "command": "NOOP"})
        self.assertEqual(res["code"], 200)
        self.assertIn("NOOP ok", res["text"])

    def test_03_huge_replies(self):
        for scenario in ("long_line", "long_noeol", "many_lines"):
            with self.subTest(scenario=scenario):
                mock = self.start_mock(scenario)
                t0 = time.monotonic()
                rep = self.open_raw(mock)
                self.assertRpcError(rep, ftpa.KIND_CODES["protocol"],
                                    "protocol")
                self.assertLess(time.monotonic() - t0, 10)
                # a broken greeting: the password is never sent
                self.assertFalse([l for l in mock.received()
                                  if l.upper().startswith("PASS")])
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertServing()

    def test_11_pasv_address_ignored(self):
        mock = self.start_mock("pasv_foreign")
        sid = self.open(mock)["session"]
        res = self.rpc.call("transfer.get", {"session": sid, "path": "/file",
                                             "inline": True}, timeout=30)
        self.assertEqual(res["state"], "done")
        self.assertEqual(ftpa.unb64(res["data"]), payload(100000, 11))
        listen = mock.events("data_listen")
        self.assertEqual(listen[-1]["announced"], "10.0.0.1")
        self.assertEqual(listen[-1]["cmd"], "PASV")
        acc = mock.events("data_accept")
        self.assertEqual(len(acc), 1)
        self.assertEqual(acc[0]["peer"], "127.0.0.1")

    def test_14_150_and_226_together(self):
        mock = self.start_mock("150_226_together")
        sid = self.open(mock)["session"]
        path = os.path.join(self.tmpdir(), "out")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            res = self.rpc.call("transfer.get", {"session": sid,
                                                 "path": "/file", "fd": 0},
                                fds=[fd], timeout=30)
        finally:
            os.close(fd)
        self.assertEqual(res["state"], "done")
        self.assertEqual(res["bytes"], MIB)
        with open(path, "rb") as f:
            self.assertEqual(ftpa.sha256_bytes(f.read()),
                             ftpa.sha256_bytes(payload(MIB, 14)))

    def test_15_short_data_rpc(self):
        mock = self.start_mock("short_data")
        sid = self.open(mock)["session"]
        rep = self.rpc.call_raw("transfer.get", {"session": sid,
                                                 "path": "/file",
                                                 "inline": True}, timeout=30)
        err = self.assertRpcError(rep)
        self.assertNotIn(err["data"]["kind"], ("params", "no_session"))
        job = err["data"].get("job")
        self.assertIsNotNone(job, err)
        self.assertEqual(job["state"], "failed")
        self.assertEqual(mock.events("data_sent")[0]["bytes"], MIB // 2)

    def test_15_short_data_ftpctl(self):
        mock = self.start_mock("short_data")
        r = self.ftpctl(self.agent, "open", "m", mock.url("/"),
                        password=MOCK_PW)
        self.ok(r)
        d = self.tmpdir()
        dest = os.path.join(d, "dest")
        with open(dest, "wb") as f:
            f.write(b"the good old file\n")
        r = self.ftpctl(self.agent, "get", "m:/file", dest)
        self.assertNotIn(r.rc, (0, 2, 3), r)
        self.assertTrue(r.errtext.startswith("ftpctl: "), r)
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), b"the good old file\n")
        self.assertTrue(os.path.exists(dest + ".part"),
                        "the .part was not kept for resume")
        self.assertLessEqual(os.path.getsize(dest + ".part"), MIB // 2)

    def test_18_no_injection(self):
        mock = self.start_mock("ok")
        sid = self.open(mock)["session"]
        for params in ({"session": sid, "path": "a\r\nDELE x"},
                       {"session": sid, "path": "a\nDELE x"},
                       {"session": sid, "path": "a\x00b"}):
            with self.subTest(path=params["path"]):
                rep = self.rpc.call_raw("fs.list", params)
                self.assertRpcError(rep, ftpa.E_PARAMS)
        for path in ("a\r\nDELE x", "a\nDELE x"):
            with self.subTest(path=path):
                rep = self.rpc.call_raw("transfer.get", {
                    "session": sid, "path": path, "inline": True})
                self.assertRpcError(rep, ftpa.E_PARAMS)
        time.sleep(0.2)
        got = mock.received()
        self.assertFalse([l for l in got if "DELE" in l or "\r" in l], got)

    def test_18_no_injection_quote(self):
        mock = self.start_mock("ok")
        sid = self.open(mock)["session"]
        rep = self.rpc.call_raw("ftp.quote", {"session": sid,
                                              "command": "NOOP\r\nDELE x"})
        self.assertRpcError(rep, ftpa.E_PARAMS)
        time.sleep(0.2)
        got = mock.received()
        self.assertFalse([l for l in got if "DELE" in l or "\r" in l], got)

    # ---- regressions (each crashed, hung or spun before its fix) ----

    def test_1xx_to_rest_drops_connection(self):
        # a 150 to REST left a stale reply handler that later ran with
        # no operation and crashed the agent
        mock = self.start_mock("rest_1xx")
        sid = self.open(mock)["session"]
        rep = self.rpc.call_raw("transfer.get", {
            "session": sid, "path": "/f", "inline": True, "offset": 3},
            timeout=20)
        self.assertRpcError(rep, ftpa.KIND_CODES["protocol"], "protocol")
        time.sleep(0.5)          # the late 350 arrives on a dead connection
        self.assertServing()

    def test_1xx_after_data_eof_times_out(self):
        # data closed, then a 150, then silence: the final reply keeps
        # its deadline instead of waiting forever
        mock = self.start_mock("prelim_after_eof")
        rep = self.rpc.call_raw("session.open", {
            "url": mock.url("/"), "password": MOCK_PW, "reply_timeout": 2,
            "retries": 0})
        sid = rep["result"]["session"]
        t0 = time.monotonic()
        rep = self.rpc.call_raw("transfer.get", {
            "session": sid, "path": "/f", "inline": True}, timeout=20)
        self.assertRpcError(rep, ftpa.KIND_CODES["timeout"], "timeout")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertServing()

    def test_upload_to_halfclosed_data_times_out(self):
        # the server half-closes the data connection and stops reading:
        # the upload stalls and the data timeout ends it (the read watcher
        # used to spin and re-arm the timer forever)
        mock = self.start_mock("upload_halfclose")
        rep = self.rpc.call_raw("session.open", {
            "url": mock.url("/"), "password": MOCK_PW, "data_timeout": 2,
            "retries": 0})
        sid = rep["result"]["session"]
        src = os.path.join(self.tmpdir(), "src")
        ftpa.make_file(src, 64 * MIB)
        fd = os.open(src, os.O_RDONLY)
        t0 = time.monotonic()
        cpu0 = self.agent_cpu()
        try:
            rep = self.rpc.call_raw("transfer.put", {
                "session": sid, "path": "/up", "fd": 0}, fds=[fd],
                timeout=30)
        finally:
            os.close(fd)
        self.assertRpcError(rep, ftpa.KIND_CODES["timeout"], "timeout")
        self.assertLess(time.monotonic() - t0, 15)
        # a stalled upload costs the agent next to no CPU
        self.assertLess(self.agent_cpu() - cpu0, 1.5)
        self.assertServing()

    def test_fds_belong_to_their_message(self):
        # a message without fds and one with an fd, read by the agent in
        # one go: the fd belongs to the second
        mock = self.start_mock("download_ok")
        sid = self.open(mock)["session"]
        out = os.path.join(self.tmpdir(), "out")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.kill(self.agent.pid, signal.SIGSTOP)
        try:
            self.rpc.send("agent.ping", id=101)
            self.rpc.send("transfer.get", {"session": sid, "path": "/file",
                                           "fd": 0}, id=102, fds=[fd])
        finally:
            os.kill(self.agent.pid, signal.SIGCONT)
            os.close(fd)
        self.assertIn("result", self.rpc.wait_reply(101, timeout=10))
        rep = self.rpc.wait_reply(102, timeout=30)
        self.assertIn("result", rep, rep)
        self.assertEqual(rep["result"]["state"], "done")
        self.assertGreater(os.path.getsize(out), 0)

    def agent_cpu(self):
        with open("/proc/%d/stat" % self.agent.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_size_from_150(self):
        """Once a server's 150 to RETR has given the size SIZE gave, later
        downloads from the first byte skip SIZE (a round trip per file);
        the 150's size still catches a short file."""
        r150 = "150 Opening BINARY mode data connection for f (1000 bytes).\r\n"
        steps = ftpmock.login() + [
            {"auto": dict(ftpmock.PASV_AUTO, SIZE="213 1000\r\n",
                          REST="350 Restarting.\r\n")}]
        steps += ftpmock.retr({"data": 1000, "seed": 31}, reply_150=r150)
        steps += ftpmock.retr({"data": 1000, "seed": 32}, reply_150=r150)
        steps += ftpmock.retr({"data": 1000, "seed": 33, "limit": 400},
                              reply_150=r150)
        mock = self.start_mock(script={"steps": steps})
        sid = self.open_opts(mock)
        for seed in (31, 32):
            rep = self.get_inline(sid, "/f")
            self.assertIn("result", rep, rep)
            self.assertEqual(ftpa.unb64(rep["result"]["data"]),
                             payload(1000, seed))
        self.assertEqual(self.verbs(mock).count("SIZE"), 1,
                         self.verbs(mock))
        # short of the 150's size, though the server says 226
        rep = self.get_inline(sid, "/f")
        err = self.assertRpcError(rep)
        self.assertEqual(err["data"]["kind"], "protocol", err)
        self.assertEqual(self.verbs(mock).count("SIZE"), 1,
                         self.verbs(mock))
        self.assertServing()

    # ---- issue 4: cases 8, 13, 16, 17, 26, 27, 30 ----

    def open_opts(self, mock, **opts):
        p = {"url": mock.url("/"), "password": MOCK_PW, "retries": 0}
        p.update(opts)
        rep = self.rpc.call_raw("session.open", p, timeout=30)
        self.assertIn("result", rep, rep)
        return rep["result"]["session"]

    def get_inline(self, sid, path, timeout=30, **params):
        p = {"session": sid, "path": path, "inline": True}
        p.update(params)
        return self.rpc.call_raw("transfer.get", p, timeout=timeout)

    def get_fd(self, sid, path, local, timeout=30, **params):
        fd = os.open(local, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            p = {"session": sid, "path": path, "fd": 0}
            p.update(params)
            return self.rpc.call_raw("transfer.get", p, fds=[fd],
                                     timeout=timeout)
        finally:
            os.close(fd)

    def assertFailedTransfer(self, rep, kinds=None):
        err = self.assertRpcError(rep)
        kind = err["data"].get("kind")
        if kinds:
            self.assertIn(kind, kinds, err)
        self.assertEqual(err["code"], ftpa.KIND_CODES[kind], err)
        job = err["data"].get("job")
        self.assertIsNotNone(job, err)
        self.assertEqual(job["state"], "failed", err)
        return err

    def verbs(self, mock):
        return [l.split(" ", 1)[0].upper() for l in mock.received()]

    def assertReconnected(self, mock, sid):
        """The next calls on the session work, on a new connection."""
        e = self.rpc.call("fs.stat", {"session": sid, "path": "/file"},
                          timeout=20)
        self.assertEqual((e["type"], e["size"], e["mtime"]),
                         ("file", 1000, 1704164645), e)
        rep = self.get_inline(sid, "/file")
        self.assertIn("result", rep, rep)
        self.assertEqual(ftpa.unb64(rep["result"]["data"]), payload(1000, 8))
        self.assertEqual(len(mock.events("accept")), 2, mock.events("accept"))

    def test_tolerated_replies(self):
        """Replies real servers send where the RFCs say otherwise: 202 to
        OPTS UTF8, 200 where 250 or 257 is due (DELE, RMD, MKD, RNTO), 250
        instead of 226 at the end of a download, an upload and a listing."""
        ok200 = "200 Command okay.\r\n"
        auto = dict(ftpmock.PASV_AUTO,
                    FEAT="211-Features:\r\n UTF8\r\n EPSV\r\n211 End\r\n",
                    OPTS="202 UTF8 mode is always enabled.\r\n",
                    SIZE="213 300\r\n", DELE=ok200, RMD=ok200, MKD=ok200,
                    RNFR="350 Ready for RNTO.\r\n", RNTO=ok200)
        steps = ftpmock.login() + [{"auto": auto}] + [
            {"expect": "RETR", "reply": "150 Sending.\r\n"},
            {"data": 300, "seed": 3}, {"send": "250 Transfer OK.\r\n"},
            {"expect": "STOR", "reply": "150 Go ahead.\r\n"},
            {"recv_data": True}, {"send": "250 Stored.\r\n"},
            {"expect": "LIST", "reply": "150 Listing.\r\n"},
            {"data": "-rw-r--r-- 1 o g 3 Jan 02  2024 x\r\n"},
            {"send": "250 Listed.\r\n"}]
        mock = self.start_mock(script={"steps": steps})
        sid = self.open(mock)["session"]

        def call(method, **p):
            return self.rpc.call(method, dict(p, session=sid), timeout=20)
        job = call("transfer.get", path="/f", inline=True)
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(ftpa.unb64(job["data"]), payload(300, 3))
        job = call("transfer.put", path="/up", data=ftpa.b64(b"abc"))
        self.assertEqual(job["state"], "done", job)
        names = [e["name"] for e in call("fs.list", path="/")["entries"]]
        self.assertEqual(names, ["x"])
        self.assertEqual(call("fs.remove", path="/x"), {})
        self.assertEqual(call("fs.rmdir", path="/d"), {})
        self.assertEqual(call("fs.mkdir", path="/d"), {})
        self.assertEqual(call("fs.rename", **{"from": "/a", "to": "/b"}), {})
        verbs = self.verbs(mock)
        for v in ("OPTS", "DELE", "RMD", "MKD", "RNFR", "RNTO"):
            self.assertIn(v, verbs)
        self.assertEqual(len(mock.events("accept")), 1)
        self.assertServing()

    def test_stat_from_parent_listing(self):
        """A server without FEAT, MLST, SIZE or MDTM: fs.stat finds the
        entry in the parent's LIST, sent in the parent after a CWD (type,
        size, permissions, date, link target); a name the listing lacks is tried with CWD, then is
        not_found; with SIZE but no MDTM the date comes from the listing
        and the size from SIZE."""
        no = "500 Unknown command.\r\n"
        listing = ("-rw-r--r--   1 owner group     1234 Jan 02  2024 f.txt\r\n"
                   "drwxr-x---   2 owner group     4096 Mar 05  2023 sub\r\n"
                   "lrwxrwxrwx   1 owner group        5 Mar 05  2023 ln -> f.txt"
                   "\r\n")

        def list_dir():
            return [{"expect": "LIST", "reply": "150 Listing.\r\n"},
                    {"data": listing}, {"send": "226 Done.\r\n"}]
        login = ftpmock.login() + [{"auto": dict(
            ftpmock.PASV_AUTO, FEAT=no, SIZE=no, MDTM=no)}]
        steps = login + list_dir() * 4 + [
            {"expect": "CWD", "reply": "550 No such directory.\r\n"},
            {"auto": {"SIZE": "213 1230\r\n"}}] + list_dir()
        mock = self.start_mock(script={"steps": steps})
        sid = self.open(mock)["session"]

        def stat(path):
            return self.rpc.call("fs.stat", {"session": sid, "path": path},
                                 timeout=20)
        self.assertEqual(stat("/dir/f.txt"), {
            "name": "f.txt", "type": "file", "size": 1234,
            "mtime": 1704153600, "perm": 0o644, "target": None})
        e = stat("/dir/sub")
        self.assertEqual((e["type"], e["perm"], e["mtime"]),
                         ("dir", 0o750, 1677974400), e)
        e = stat("/dir/ln")
        self.assertEqual((e["type"], e["target"]), ("link", "f.txt"), e)
        rep = self.rpc.call_raw("fs.stat", {"session": sid,
                                            "path": "/dir/nope"}, timeout=20)
        self.assertRpcError(rep, ftpa.KIND_CODES["not_found"], "not_found")
        e = stat("/dir/f.txt")
        self.assertEqual((e["size"], e["mtime"]), (1230, 1704153600), e)
        # the parent is entered, and listed with no argument (which ls
        # would split at spaces)
        lists = [l for l in mock.received() if l.upper().startswith("LIST")]
        self.assertEqual(lists, ["LIST"] * 5)
        self.assertEqual(mock.received().count("CWD /dir"), 5)
        self.assertIn("CWD /dir/nope", mock.received())
        self.assertServing()

    def test_08_421_at_greeting(self):
        mock = self.start_mock("greeting_421")
        t0 = time.monotonic()
        rep = self.open_raw(mock)
        self.assertRpcError(rep, ftpa.KIND_CODES["connect"], "connect")
        self.assertLess(time.monotonic() - t0, 10)
        self.assertNotIn("PASS", self.verbs(mock))
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertServing()

    def test_08_421_after_command(self):
        mock = self.start_mock("421_after_command")
        sid = self.open(mock)["session"]
        rep = self.rpc.call_raw("fs.stat", {"session": sid, "path": "/file"},
                                timeout=20)
        err = self.assertRpcError(rep)
        self.assertNotIn(err["data"].get("kind"), ("params", "no_session"))
        self.assertReconnected(mock, sid)

    def test_08_421_during_transfer(self):
        mock = self.start_mock("421_transfer")
        sid = self.open(mock)["session"]
        rep = self.get_inline(sid, "/file")
        self.assertFailedTransfer(rep)
        self.assertReconnected(mock, sid)

    def test_08_421_on_idle_connection(self):
        mock = self.start_mock("421_idle")
        sid = self.open(mock)["session"]
        ftpa.wait_until(lambda: mock.events("close"), 10,
                        what="the mock's 421 and close")
        time.sleep(0.3)
        self.assertReconnected(mock, sid)

    def test_13_active_ok(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                mock = self.start_mock("active_ok", host=host)
                sid = self.open_opts(mock, passive=False)
                rep = self.get_inline(sid, "/file")
                self.assertIn("result", rep, rep)
                self.assertEqual(ftpa.unb64(rep["result"]["data"]),
                                 payload(100000, 13))
                conn = mock.events("data_connect")
                self.assertEqual(len(conn), 1, conn)
                self.assertIn(conn[0]["cmd"], ("EPRT", "PORT"))
                self.assertEqual(conn[0]["host"], host)
                self.assertFalse({"EPSV", "PASV"} & set(self.verbs(mock)))

    def test_13_active_foreign_address_refused(self):
        # the "server" connects from 127.0.0.2 and sends a forged file,
        # then says 226: the agent must not take it
        mock = self.start_mock("active_foreign")
        sid = self.open_opts(mock, passive=False, connect_timeout=3)
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/file")
        self.assertFailedTransfer(rep, ("timeout", "connect"))
        self.assertLess(time.monotonic() - t0, 3 + 5)
        self.assertNotIn("result", rep)
        self.assertEqual(mock.events("data_connect")[0]["source"],
                         "127.0.0.2")
        self.assertServing()

    def test_13_active_server_never_connects(self):
        mock = self.start_mock("active_never")
        sid = self.open_opts(mock, passive=False, connect_timeout=2)
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/file")
        self.assertFailedTransfer(rep, ("timeout",))
        took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        self.assertLess(took, 2 + 5)
        self.assertServing()

    def test_13_active_425(self):
        mock = self.start_mock("active_425")
        sid = self.open_opts(mock, passive=False, connect_timeout=5)
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/file")
        err = self.assertFailedTransfer(rep, ("ftp",))
        self.assertEqual(err["data"].get("ftp_code"), 425, err)
        self.assertLess(time.monotonic() - t0, 4)
        res = self.rpc.call("ftp.quote", {"session": sid, "command": "NOOP"},
                            timeout=20)
        self.assertEqual(res["code"], 200, res)

    def test_16_stalled_data_times_out(self):
        mock = self.start_mock("stall_abor")
        sid = self.open_opts(mock, data_timeout=2, reply_timeout=5)
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/big")
        self.assertFailedTransfer(rep, ("timeout",))
        took = time.monotonic() - t0
        self.assertGreater(took, 1.5)
        self.assertLess(took, 2 + 6)
        # recovered with ABOR, or dropped: the next call works either way
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/file2", timeout=20)
        self.assertIn("result", rep, rep)
        self.assertEqual(ftpa.unb64(rep["result"]["data"]), payload(1000, 2))
        self.assertLess(time.monotonic() - t0, 8)

    def cancel_stalled(self, scenario):
        mock = self.start_mock(scenario)
        sid = self.open(mock)["session"]
        out = os.path.join(self.tmpdir(), "out")
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            res = self.rpc.call("transfer.get", {
                "session": sid, "path": "/big", "fd": 0, "wait": False},
                fds=[fd])
        finally:
            os.close(fd)
        job = res["job"]
        ftpa.wait_until(lambda: self.rpc.call("job.status", {"job": job})
                        ["bytes"] >= 4096, 10, what="the first 4 KiB")
        t0 = time.monotonic()
        self.assertEqual(self.rpc.call("job.cancel", {"job": job},
                                       timeout=10), {})
        self.assertLess(time.monotonic() - t0, 3)
        rep = self.rpc.call_raw("job.wait", {"job": job, "timeout": 8},
                                timeout=15)
        self.assertIn("result", rep, rep)
        self.assertEqual(rep["result"]["state"], "cancelled", rep)
        self.assertLess(time.monotonic() - t0, 6)
        # the agent told the server (ABOR, with or without Telnet IP/Synch);
        # a stalled mock reads commands once a second, so give it time
        ftpa.wait_until(lambda: "ABOR" in self.verbs(mock), 5,
                        what="the mock to receive ABOR")
        # the next call works, on this connection or a new one
        t0 = time.monotonic()
        rep = self.get_inline(sid, "/file2", timeout=20)
        self.assertIn("result", rep, rep)
        self.assertEqual(ftpa.unb64(rep["result"]["data"]), payload(1000, 2))
        self.assertLess(time.monotonic() - t0, 10)
        return mock

    def test_26_cancel_abor_426_226(self):
        self.cancel_stalled("abor_426_226")

    def test_26_cancel_abor_226(self):
        self.cancel_stalled("abor_226")

    def test_26_cancel_abor_silent(self):
        mock = self.cancel_stalled("abor_silent")
        # nothing answered the ABOR: that connection is not used again
        self.assertEqual(len(mock.events("accept")), 2)

    def test_17_final_errors(self):
        for scenario, code in (("retr_426", 426), ("retr_451", 451)):
            with self.subTest(scenario=scenario):
                mock = self.start_mock(scenario)
                sid = self.open(mock)["session"]
                rep = self.get_inline(sid, "/file")
                err = self.assertFailedTransfer(rep, ("ftp",))
                self.assertEqual(err["data"].get("ftp_code"), code, err)
        mock = self.start_mock("stor_552")
        sid = self.open(mock)["session"]
        rep = self.rpc.call_raw("transfer.put", {
            "session": sid, "path": "/up", "data": ftpa.b64(b"x" * 5000)},
            timeout=30)
        err = self.assertFailedTransfer(rep, ("ftp",))
        self.assertEqual(err["data"].get("ftp_code"), 552, err)
        self.assertIn("storage full", err["message"].lower(), err)
        self.assertServing()

    def test_27_rest_beyond_size_and_complete(self):
        mock = self.start_mock("rest_1000")
        sid = self.open(mock)["session"]
        local = os.path.join(self.tmpdir(), "f")
        have = payload(1000, 27)
        with open(local, "wb") as f:
            f.write(have)
        rep = self.get_fd(sid, "/f", local, offset=2000)
        err = self.assertFailedTransfer(rep, ("ftp",))
        self.assertTrue(err["message"])
        with open(local, "rb") as f:
            self.assertEqual(f.read(), have)
        self.assertFalse({"REST", "RETR"} & set(self.verbs(mock)))
        rep = self.get_fd(sid, "/f", local, offset=1000)
        self.assertIn("result", rep, rep)
        self.assertEqual(rep["result"]["state"], "done")
        self.assertEqual(rep["result"]["bytes"], 0)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), have)
        self.assertNotIn("RETR", self.verbs(mock))
        self.assertIn("SIZE", self.verbs(mock))

    def test_27_rest_refused(self):
        local = os.path.join(self.tmpdir(), "f")
        junk = b"j" * 1000
        with open(local, "wb") as f:
            f.write(junk)
        mock = self.start_mock("rest_refused")
        sid = self.open(mock)["session"]
        rep = self.get_fd(sid, "/f", local, offset=1000)
        self.assertFailedTransfer(rep, ("ftp",))
        self.assertIn("REST", self.verbs(mock))
        self.assertNotIn("RETR", self.verbs(mock))
        with open(local, "rb") as f:
            self.assertEqual(f.read(), junk)
        rep = self.get_fd(sid, "/f", local, offset=1000,
                          rest_fallback="fail")
        self.assertFailedTransfer(rep, ("ftp",))
        # restart from zero: the regular file is truncated and rewound
        # (here it is longer than the download)
        with open(local, "wb") as f:
            f.write(b"j" * 200000)
        mock = self.start_mock("rest_refused")
        sid = self.open(mock)["session"]
        rep = self.get_fd(sid, "/f", local, offset=50000,
                          rest_fallback="restart")
        self.assertIn("result", rep, rep)
        self.assertEqual(rep["result"]["state"], "done")
        with open(local, "rb") as f:
            self.assertEqual(ftpa.sha256_bytes(f.read()),
                             ftpa.sha256_bytes(payload(100000, 27)))
        v = self.verbs(mock)
        self.assertLess(v.index("REST"), v.index("RETR"), v)

    def test_30_ascii_download_split_cr(self):
        mock = self.start_mock("ascii_download")
        sid = self.open(mock)["session"]
        rep = self.get_inline(sid, "/t.txt", type="ascii")
        self.assertIn("result", rep, rep)
        self.assertEqual(ftpa.unb64(rep["result"]["data"]),
                         ftpmock.ASCII_LOCAL.encode())
        got = mock.received()
        self.assertIn("TYPE A", [l.upper() for l in got])

    def test_30_ascii_upload(self):
        mock = self.start_mock("upload_ok")
        sid = self.open(mock)["session"]
        text = b"a\nb\r\nc\n" + b"0123456\r\n" * 20000 + b"lone\rcr\n"
        rep = self.rpc.call_raw("transfer.put", {
            "session": sid, "path": "/t.txt", "data": ftpa.b64(text),
            "type": "ascii"}, timeout=30)
        self.assertIn("result", rep, rep)
        wire = (b"a\r\nb\r\nc\r\n" + b"0123456\r\n" * 20000
                + b"lone\rcr\r\n")
        recv = mock.events("data_recv")
        self.assertEqual(recv[0]["bytes"], len(wire))
        self.assertEqual(recv[0]["sha256"], ftpa.sha256_bytes(wire))
        got = [l.upper() for l in mock.received()]
        self.assertLess(got.index("TYPE A"), got.index("STOR /T.TXT"), got)

    def test_12_epsv_refusal_remembered_for_the_session(self):
        # EPSV refused on the first connection: after a 421 and a
        # reconnect, the session goes straight to PASV
        login = [{"send": "220 ftpmock ready\r\n"},
                 {"expect": "USER", "reply": "331 Password required.\r\n"},
                 {"expect": "PASS", "reply": "230 Logged in.\r\n"}]
        first = login + [
            {"pasv": True, "epsv": False},
            {"expect": "RETR", "reply": "150 Opening.\r\n"},
            {"data": 1000, "seed": 1},
            {"send": "226 Done.\r\n"},
            {"sleep": 0.2},
            {"send": "421 Timeout.\r\n"},
            {"close": True}]
        second = login + [
            {"pasv": True},
            {"expect": "RETR", "reply": "150 Opening.\r\n"},
            {"data": 1000, "seed": 2},
            {"send": "226 Done.\r\n"}]
        mock = self.start_mock(script={"connections": [first, second]})
        sid = self.open(mock)["session"]
        rep = self.get_inline(sid, "/a")
        self.assertEqual(ftpa.unb64(rep["result"]["data"]), payload(1000, 1))
        ftpa.wait_until(lambda: self.rpc.call("session.list")[0]
                        ["connections"] == 0, 5, what="the 421 to be seen")
        rep = self.get_inline(sid, "/b")
        self.assertIn("result", rep, rep)
        self.assertEqual(ftpa.unb64(rep["result"]["data"]), payload(1000, 2))
        conns = sorted({e["conn"] for e in mock.events("recv")})
        self.assertEqual(len(conns), 2, conns)
        second_cmds = [e["line"].split()[0].upper()
                       for e in mock.events("recv") if e["conn"] == conns[1]]
        self.assertIn("PASV", second_cmds)
        self.assertNotIn("EPSV", second_cmds)


if __name__ == "__main__":
    ftpa.main()
