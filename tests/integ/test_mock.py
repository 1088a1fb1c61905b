#!/usr/bin/python3
"""Misbehaving servers (tests/ftpmock.py); numbers are TEST-CASES.md's."""
import os
import signal
import time

import ftpa
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
        params = {"url": mock.url("/"), "password": MOCK_PW}
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
            "url": mock.url("/"), "password": MOCK_PW, "reply_timeout": 2})
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
            "url": mock.url("/"), "password": MOCK_PW, "data_timeout": 2})
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


if __name__ == "__main__":
    ftpa.main()
