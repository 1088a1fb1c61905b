#!/usr/bin/python3
"""FTPS (issue 3): explicit and implicit TLS against vsftpd, pyftpdlib and
the misbehaving server; TEST-CASES.md 6 and 21-25 (numbers in the names).

Certificates come from ftpa.certs() (a test CA, a server certificate for
localhost/127.0.0.1/::1 signed by it, a self-signed one, an expired one and
one for another host name), made once per run with the openssl CLI.
"""
import ftplib
import hashlib
import json
import os
import re
import time

import ftpa
from ftpmock import payload

MIB = 1 << 20
MOCK_PW = "mockpw"
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
# commands that must never reach a server in the clear once TLS was asked for
SECRETS = ("USER", "PASS")
DATA_CMDS = ("PASV", "EPSV", "PORT", "EPRT", "LIST", "NLST", "MLSD", "RETR",
             "STOR", "APPE")

# What OpenSSL says (X509_verify_cert_error_string) or a paraphrase of it.
WHY_HOST = r"mismatch|does not match|host ?name|wrong host"
WHY_SELF_SIGNED = r"self[- ]signed"
WHY_UNTRUSTED = (r"unable to get local issuer|unknown ca|untrusted|"
                 r"not trusted|issuer|self[- ]signed")
WHY_EXPIRED = r"expired"


def verb(line):
    return line.split(" ", 1)[0].upper()


class TlsTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.certs = ftpa.certs()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=60)
        self.addCleanup(self.rpc.close)

    # ---- helpers ------------------------------------------------------

    def open_raw(self, url, password, timeout=30, **params):
        p = {"url": url, "password": password}
        p.update(params)
        return self.rpc.call_raw("session.open", p, timeout=timeout)

    def open_ok(self, url, password, **params):
        rep = self.open_raw(url, password, **params)
        self.assertIn("result", rep, rep)
        return rep["result"]

    def assertTlsResult(self, res, verified=True, version=None):
        """session.open's result for a TLS session."""
        tls = res.get("tls")
        self.assertIsInstance(tls, dict, res)
        self.assertIn(tls.get("version"), TLS_VERSIONS, res)
        if version:
            self.assertEqual(tls["version"], version, res)
        self.assertIsInstance(tls.get("cipher"), str, res)
        self.assertTrue(tls["cipher"], res)
        self.assertIs(tls.get("verified"), verified, res)
        if verified:
            self.assertFalse(res.get("warning"), res)
        else:
            self.assertIsInstance(res.get("warning"), str, res)
            self.assertTrue(res["warning"], res)

    def assertTlsError(self, rep, why=None, kinds=("tls",)):
        self.assertIn("error", rep, "expected an error, got %r" % (rep,))
        err = rep["error"]
        kind = (err.get("data") or {}).get("kind")
        self.assertIn(kind, kinds, err)
        self.assertEqual(err.get("code"), ftpa.KIND_CODES[kind], err)
        if why:
            self.assertRegex(err.get("message", ""),
                             re.compile(why, re.I), err)
        return err

    def session_entry(self, sid):
        for s in self.rpc.call("session.list"):
            if s["session"] == sid:
                return s
        self.fail("session %s not in session.list" % sid)

    def assertListed(self, sid, mode, version=None, reuse=None):
        s = self.session_entry(sid)
        self.assertEqual(s.get("tls"), mode, s)
        self.assertIn("tls_version", s, s)
        self.assertIn("tls_reuse", s, s)
        if mode == "none":
            self.assertIsNone(s["tls_version"], s)
            self.assertIn(s["tls_reuse"], (None, "no", "unknown"), s)
            return s
        else:
            self.assertIn(s["tls_version"], TLS_VERSIONS, s)
            if version:
                self.assertEqual(s["tls_version"], version, s)
        self.assertIn(s["tls_reuse"], ("yes", "no", "unknown"), s)
        if reuse:
            self.assertEqual(s["tls_reuse"], reuse, s)
        return s

    def put_file(self, sid, local, remote, timeout=300):
        fd = os.open(local, os.O_RDONLY)
        try:
            return self.rpc.call("transfer.put", {"session": sid,
                                                  "path": remote, "fd": 0},
                                 fds=[fd], timeout=timeout)
        finally:
            os.close(fd)

    def get_file(self, sid, remote, local, timeout=300):
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            return self.rpc.call("transfer.get", {"session": sid,
                                                  "path": remote, "fd": 0},
                                 fds=[fd], timeout=timeout)
        finally:
            os.close(fd)

    def assertNothingInClear(self, mock, after=None):
        """No USER/PASS (nor anything after `after`) reached the mock
        outside TLS."""
        clear = [e["line"] for e in mock.events("recv") if not e.get("tls")]
        self.assertFalse([l for l in clear if verb(l) in SECRETS],
                         "sent in the clear: %r" % clear)
        if after is not None:
            idx = [i for i, l in enumerate(clear) if verb(l) == after]
            if idx:
                rest = [l for l in clear[idx[0] + 1:]
                        if verb(l) not in ("QUIT",)]
                self.assertEqual(rest, [], "sent in the clear after %s: %r"
                                 % (after, clear))

    @staticmethod
    def read(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def vsftpd_url(self, srv, scheme="ftpes"):
        return srv.url("/", scheme=scheme)

    # ---- servers: vsftpd, strict (case 23) -------------------------------

    def vsftpd_strict(self, version):
        srv = self.start_vsftpd(tls="explicit", tls_version=version[-3:])
        # the server is as strict as it claims: without session reuse a
        # data connection is refused (522), with it everything works
        probe = ftpa.ftps_client("127.0.0.1", srv.port, srv.user,
                                 srv.password, ca_file=self.certs.ca,
                                 reuse=False)
        try:
            self.assertEqual(probe.tls_info(), version)
            with self.assertRaises((ftplib.Error, OSError)):
                probe.nlst()
        finally:
            probe.close()
        refused = "No SSL session reuse on data channel"
        log = ftpa.wait_until(lambda: refused in self.read(srv.log) and
                              self.read(srv.log), 5, what="vsftpd's 522")
        seen = log.count(refused)

        res = self.open_ok(self.vsftpd_url(srv), srv.password,
                           ca_file=self.certs.ca)
        self.assertTlsResult(res, version=version)
        sid = res["session"]
        sizes = [0, 1, 65536] + [(i * 7919) % 50000 for i in range(3, 50)]
        for i, size in enumerate(sizes):
            data = payload(size, i)
            name = "f%02d" % i
            job = self.rpc.call("transfer.put", {"session": sid,
                                                 "path": name,
                                                 "data": ftpa.b64(data)})
            self.assertEqual(job["state"], "done", (i, job))
            got = self.rpc.call("transfer.get", {"session": sid,
                                                 "path": name,
                                                 "inline": True})
            self.assertEqual(ftpa.unb64(got["data"]), data, "transfer %d" % i)
            names = [e["name"] for e in self.rpc.call(
                "fs.list", {"session": sid, "path": ""})["entries"]]
            self.assertEqual(len(names), i + 1, names)
        for i, size in enumerate(sizes):
            with open(os.path.join(srv.home, "f%02d" % i), "rb") as f:
                self.assertEqual(ftpa.sha256_bytes(f.read()),
                                 ftpa.sha256_bytes(payload(size, i)))
        self.assertListed(sid, "explicit", version, "yes")
        self.assertEqual(self.read(srv.log).count(refused), seen)
        self.assertNotIn(srv.password, self.agent.log_text())
        self.rpc.call("session.close", {"session": sid})

    def test_23_vsftpd_strict_tls12(self):
        self.vsftpd_strict("TLSv1.2")

    def test_23_vsftpd_strict_tls13(self):
        self.vsftpd_strict("TLSv1.3")

    def test_vsftpd_implicit(self):
        srv = self.start_vsftpd(tls="implicit")
        res = self.open_ok(self.vsftpd_url(srv, "ftps"), srv.password,
                           ca_file=self.certs.ca)
        self.assertTlsResult(res)
        sid = res["session"]
        src = os.path.join(self.tmpdir(), "src")
        digest = ftpa.make_file(src, MIB)
        self.assertEqual(self.put_file(sid, src, "up")["state"], "done")
        self.assertEqual(ftpa.sha256_file(os.path.join(srv.home, "up")),
                         digest)
        dst = os.path.join(self.tmpdir(), "dst")
        self.assertEqual(self.get_file(sid, "up", dst)["state"], "done")
        self.assertEqual(ftpa.sha256_file(dst), digest)
        names = [e["name"] for e in self.rpc.call(
            "fs.list", {"session": sid, "path": "/"})["entries"]]
        self.assertEqual(names, ["up"])
        self.assertListed(sid, "implicit", reuse="yes")

    # ---- pyftpdlib ------------------------------------------------------

    def test_pyftpd_explicit_0b_1mib(self):
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                srv = self.start_pyftpd(tls="explicit", tls_version=version)
                res = self.open_ok(srv.url("/", "ftpes"), srv.password,
                                   ca_file=self.certs.ca)
                self.assertTlsResult(res, version="TLSv" + version)
                sid = res["session"]
                d = self.tmpdir()
                for size in (0, MIB):
                    src = os.path.join(d, "src%d" % size)
                    digest = ftpa.make_file(src, size)
                    job = self.put_file(sid, src, "f%d" % size)
                    self.assertEqual((job["state"], job["bytes"]),
                                     ("done", size))
                    self.assertEqual(ftpa.sha256_file(
                        os.path.join(srv.home, "f%d" % size)), digest)
                    dst = os.path.join(d, "dst%d" % size)
                    job = self.get_file(sid, "f%d" % size, dst)
                    self.assertEqual((job["state"], job["bytes"]),
                                     ("done", size))
                    self.assertEqual(ftpa.sha256_file(dst), digest)
                ents = self.rpc.call("fs.list", {"session": sid,
                                                 "path": ""})["entries"]
                self.assertEqual(sorted(e["name"] for e in ents),
                                 ["f0", "f%d" % MIB])
                self.assertListed(sid, "explicit", "TLSv" + version, "yes")
                self.rpc.call("session.close", {"session": sid})

    def test_pyftpd_implicit(self):
        srv = self.start_pyftpd(tls="implicit")
        # by URL scheme, and by the tls parameter on an ftp:// URL
        res = self.open_ok(srv.url("/", "ftps"), srv.password,
                           ca_file=self.certs.ca)
        self.assertTlsResult(res)
        sid = res["session"]
        data = payload(300000, 5)
        self.rpc.call("transfer.put", {"session": sid, "path": "x",
                                       "data": ftpa.b64(data)})
        got = self.rpc.call("transfer.get", {"session": sid, "path": "x",
                                             "inline": True})
        self.assertEqual(ftpa.unb64(got["data"]), data)
        self.assertListed(sid, "implicit", reuse="yes")
        res = self.open_ok(srv.url("/", "ftp"), srv.password, tls="implicit",
                           ca_file=self.certs.ca, name="byparam")
        self.assertTlsResult(res)
        self.assertListed("byparam", "implicit")
        ents = self.rpc.call("fs.list", {"session": "byparam",
                                         "path": ""})["entries"]
        self.assertEqual([e["name"] for e in ents], ["x"])

    # ---- certificates (case 21) ------------------------------------------

    def test_21_verification_failures(self):
        cases = [
            # (certificate, ca_file, why)
            ("wronghost", self.certs.ca, WHY_HOST),
            ("selfsigned", None, WHY_SELF_SIGNED),
            ("selfsigned", self.certs.ca, WHY_SELF_SIGNED),
            ("server", None, WHY_UNTRUSTED),
            ("server", self.certs.other_ca, WHY_UNTRUSTED),
            ("expired", self.certs.ca, WHY_EXPIRED),
        ]
        for cert, ca, why in cases:
            for implicit in (False, True):
                with self.subTest(cert=cert, ca=ca and os.path.basename(ca),
                                  implicit=implicit):
                    mock = self.start_mock(
                        "tls_implicit_ok" if implicit else "tls_ok",
                        cert=cert)
                    params = {"reply_timeout": 10}
                    if ca:
                        params["ca_file"] = ca
                    t0 = time.monotonic()
                    rep = self.open_raw(
                        mock.url("/", "ftps" if implicit else "ftpes"),
                        MOCK_PW, **params)
                    self.assertTlsError(rep, why)
                    self.assertLess(time.monotonic() - t0, 10)
                    # not a word to an unverified server, not even USER
                    got = mock.received()
                    self.assertFalse([l for l in got
                                      if verb(l) in SECRETS], got)
                    self.assertFalse([e for e in mock.events("recv")
                                      if e.get("tls")], mock.events())
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_21_hostname_by_dns_name(self):
        # connecting to "localhost" checks the DNS name of the certificate
        srv = self.start_pyftpd(tls="explicit")
        url = "ftpes://%s@localhost:%d/" % (srv.user, srv.port)
        self.assertTlsResult(self.open_ok(url, srv.password,
                                          ca_file=self.certs.ca))
        bad = self.start_pyftpd(tls="explicit", cert="wronghost")
        url = "ftpes://%s@localhost:%d/" % (bad.user, bad.port)
        self.assertTlsError(self.open_raw(url, bad.password,
                                          ca_file=self.certs.ca), WHY_HOST)

    def test_21_right_ca_file_and_insecure(self):
        srv = self.start_pyftpd(tls="explicit")
        res = self.open_ok(srv.url("/", "ftpes"), srv.password,
                           ca_file=self.certs.ca, name="good")
        self.assertTlsResult(res, verified=True)
        self.assertListed("good", "explicit")
        # verify:false accepts a self-signed, an expired and a wrong-host
        # certificate, and says so
        for cert in ("selfsigned", "expired", "wronghost"):
            with self.subTest(cert=cert):
                s = self.start_pyftpd(tls="explicit", cert=cert)
                res = self.open_ok(s.url("/", "ftpes"), s.password,
                                   verify=False)
                self.assertTlsResult(res, verified=False)
                sid = res["session"]
                data = payload(5000, 21)
                self.rpc.call("transfer.put", {"session": sid, "path": "v",
                                               "data": ftpa.b64(data)})
                got = self.rpc.call("transfer.get", {"session": sid,
                                                     "path": "v",
                                                     "inline": True})
                self.assertEqual(ftpa.unb64(got["data"]), data)

    # ---- refusals (cases 22 and 6) -----------------------------------------

    def test_22_auth_tls_refused(self):
        mock = self.start_mock("tls_auth_refused")
        rep = self.open_raw(mock.url("/", "ftpes"), MOCK_PW,
                            ca_file=self.certs.ca, reply_timeout=5)
        self.assertTlsError(rep)
        got = mock.received()
        self.assertTrue([l for l in got if verb(l) == "AUTH"], got)
        self.assertNothingInClear(mock)
        self.assertEqual(self.rpc.call("session.list"), [])

    def test_22_greeting_230(self):
        mock = self.start_mock("tls_greeting_230")
        rep = self.open_raw(mock.url("/", "ftpes"), MOCK_PW,
                            ca_file=self.certs.ca, reply_timeout=5)
        self.assertTlsError(rep)
        self.assertNothingInClear(mock)
        self.assertFalse([e for e in mock.events("recv")
                          if verb(e["line"]) in DATA_CMDS],
                         mock.received())
        self.assertEqual(self.rpc.call("session.list"), [])

    def test_22_prot_p_refused(self):
        mock = self.start_mock("tls_prot_refused")
        rep = self.open_raw(mock.url("/", "ftpes"), MOCK_PW,
                            ca_file=self.certs.ca, reply_timeout=5)
        if "result" in rep:
            # PROT P may be sent lazily, before the first transfer
            sid = rep["result"]["session"]
            rep = self.rpc.call_raw("fs.list", {"session": sid,
                                                "path": ""}, timeout=30)
        self.assertTlsError(rep)
        got = mock.received()
        self.assertTrue([l for l in got if l.upper() == "PROT P"], got)
        self.assertFalse([l for l in got if verb(l) in DATA_CMDS], got)
        self.assertNothingInClear(mock)
        self.assertFalse(mock.events("data_accept"), mock.events())

    def test_06_starttls_injection(self):
        mock = self.start_mock("tls_injection")
        t0 = time.monotonic()
        rep = self.open_raw(mock.url("/", "ftpes"), MOCK_PW,
                            ca_file=self.certs.ca, reply_timeout=5)
        self.assertTlsError(rep, kinds=("tls", "protocol"))
        self.assertLess(time.monotonic() - t0, 10)
        got = mock.received()
        self.assertFalse([l for l in got if verb(l) in SECRETS], got)
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertEqual(self.rpc.call("agent.ping"), {})

    # ---- close_notify (case 24) ---------------------------------------------

    def test_24_download_and_upload_ok_with_mock(self):
        # the positive side: the mock's own close_notify ends a good
        # download; an upload ends with the agent's close_notify
        mock = self.start_mock("tls_download_ok")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca)["session"]
        got = self.rpc.call("transfer.get", {"session": sid, "path": "/f",
                                             "inline": True})
        self.assertEqual(ftpa.unb64(got["data"]), payload(MIB, 24))
        tls = mock.events("data_tls")
        self.assertEqual(len(tls), 1, mock.events())
        self.assertTrue(tls[0]["reused"], tls)

        mock = self.start_mock("tls_upload_ok")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca)["session"]
        data = payload(3 * MIB + 17, 240)
        src = os.path.join(self.tmpdir(), "src")
        with open(src, "wb") as f:
            f.write(data)
        job = self.put_file(sid, src, "/up")
        self.assertEqual(job["state"], "done")
        rec = mock.events("data_recv")
        self.assertEqual(len(rec), 1, mock.events())
        self.assertEqual(rec[0]["bytes"], len(data))
        self.assertEqual(rec[0]["sha256"], ftpa.sha256_bytes(data))
        self.assertTrue(rec[0]["close_notify"],
                        "the upload ended without close_notify")
        self.assertTrue(mock.events("data_tls")[0]["reused"])

    def test_24_upload_to_slow_reader(self):
        # The mock reads the upload only 0.5 s after the TLS handshake: the
        # agent blocks with the upload in flight, then sends close_notify
        # and closes. Everything, and the close_notify, must arrive (a
        # close with unread bytes in the agent's socket, such as TLS 1.3
        # session tickets, is a RST that throws away the unsent tail).
        mock = self.start_mock("tls_upload_slow_reader")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca)["session"]
        src = os.path.join(self.tmpdir(), "src")
        digest = ftpa.make_file(src, 8 * MIB)
        job = self.put_file(sid, src, "/up", timeout=60)
        self.assertEqual(job["state"], "done")
        rec = mock.events("data_recv")
        self.assertEqual(len(rec), 1, mock.events())
        self.assertEqual(rec[0]["bytes"], 8 * MIB, mock.events())
        self.assertEqual(rec[0]["sha256"], digest)
        self.assertTrue(rec[0]["close_notify"], mock.events())

    def test_24_truncated_download_rpc(self):
        mock = self.start_mock("tls_truncated_download")
        # one attempt: the error itself is the point here
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca, retries=0)["session"]
        rep = self.rpc.call_raw("transfer.get", {"session": sid,
                                                 "path": "/file",
                                                 "inline": True},
                                timeout=30)
        err = self.assertTlsError(rep, r"truncat", kinds=("protocol", "tls"))
        job = err["data"].get("job")
        self.assertIsNotNone(job, err)
        self.assertEqual(job["state"], "failed")
        self.assertEqual(mock.events("data_sent")[0]["bytes"], MIB)
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_24_truncated_download_resumed(self):
        # with retries, the download goes on from where the unconfirmed
        # end left it, and the bytes are the server's
        mock = self.start_mock("tls_truncated_download")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca, retry_delay=0.1)["session"]
        job = self.rpc.call("transfer.get", {"session": sid, "path": "/file",
                                             "inline": True}, timeout=30)
        self.assertEqual((job["state"], job["attempts"]), ("done", 2), job)
        data = ftpa.unb64(job["data"])
        self.assertEqual(len(data), MIB)
        sent = mock.events("data_sent")[0]
        self.assertEqual(hashlib.sha256(data).hexdigest(), sent["sha256"])

    def test_24_truncated_download_ftpctl(self):
        mock = self.start_mock("tls_truncated_download")
        # an agent that tries once: the error itself is the point here
        conf = os.path.join(self.tmpdir(), "once.conf")
        with open(conf, "w") as f:
            f.write("retries = 0\n")
        agent = self.start_agent(extra=["-c", conf])
        self.ok(self.ftpctl(agent, "open", "m", mock.url("/", "ftpes"),
                            "--ca-file", self.certs.ca, password=MOCK_PW))
        dest = os.path.join(self.tmpdir(), "dest")
        with open(dest, "wb") as f:
            f.write(b"the good old file\n")
        r = self.ftpctl(agent, "get", "m:/file", dest)
        self.assertNotIn(r.rc, (0, 2, 3), r)
        self.assertTrue(r.errtext.startswith("ftpctl: "), r)
        self.assertRegex(r.errtext, re.compile("truncat", re.I))
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), b"the good old file\n")
        self.assertTrue(os.path.exists(dest + ".part"),
                        "the .part was not kept for resume")
        self.assertLessEqual(os.path.getsize(dest + ".part"), MIB)

    # ---- a TLS handshake broken by the network ------------------------------
    # A reset under the handshake is a network failure (kind "connect",
    # retried), not a TLS one (kind "tls": certificates and alerts, never
    # retried).

    def test_handshake_reset_on_data_is_retried(self):
        # the first data connection is reset at the agent's ClientHello;
        # the job tries again (a new control connection, EPSV, RETR) and
        # gets the file
        mock = self.start_mock("tls_data_handshake_reset")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca, retry_delay=0.1)["session"]
        rep = self.rpc.call_raw("transfer.get", {"session": sid,
                                                 "path": "/file",
                                                 "inline": True},
                                timeout=30)
        self.assertNotIn("error", rep)
        job = rep["result"]
        self.assertEqual((job["state"], job["attempts"]), ("done", 2), job)
        data = ftpa.unb64(job["data"])
        self.assertEqual(len(data), MIB)
        # two data connections: the one reset (conn 0, no byte sent, no
        # TLS handshake), then the good one (conn 1)
        accepts = mock.events("data_accept")
        self.assertEqual([e["conn"] for e in accepts], [0, 1],
                         mock.events())
        sent = mock.events("data_sent")
        self.assertEqual([(e["conn"], e["bytes"]) for e in sent],
                         [(0, 0), (1, MIB)], sent)
        self.assertEqual(hashlib.sha256(data).hexdigest(), sent[1]["sha256"])
        self.assertEqual(data, payload(MIB, 25))
        self.assertEqual([e["conn"] for e in mock.events("data_tls")], [1],
                         mock.events())
        self.assertNothingInClear(mock)
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_handshake_reset_without_retries_is_connect(self):
        mock = self.start_mock("tls_data_handshake_reset")
        sid = self.open_ok(mock.url("/", "ftpes"), MOCK_PW,
                           ca_file=self.certs.ca, retries=0,
                           retry_delay=0.1)["session"]
        rep = self.rpc.call_raw("transfer.get", {"session": sid,
                                                 "path": "/file",
                                                 "inline": True},
                                timeout=30)
        err = self.assertTlsError(rep, r"TLS handshake", kinds=("connect",))
        job = err["data"].get("job")
        self.assertIsNotNone(job, err)
        self.assertEqual((job["state"], job["attempts"]), ("failed", 1), job)
        # one try: one control connection, one data connection
        self.assertEqual(len(mock.events("accept")), 1, mock.events())
        self.assertEqual(len(mock.events("data_accept")), 1, mock.events())
        self.assertEqual(mock.events("data_tls"), [])
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_data_handshake_before_150(self):
        # the server answers RETR, LIST and STOR only once the data
        # connection's TLS handshake is done (425 after 4 s): the agent
        # starts it without the 1xx after a short wait, then, having
        # learned, at once; every transfer works at the first try
        for scenario, scheme in (("tls_data_handshake_first", "ftpes"),
                                 ("tls_implicit_data_handshake_first",
                                  "ftps")):
            with self.subTest(scenario=scenario):
                self.handshake_first(scenario, scheme)

    def handshake_first(self, scenario, scheme):
        mock = self.start_mock(scenario)
        sid = self.open_ok(mock.url("/", scheme), MOCK_PW,
                           ca_file=self.certs.ca, retries=0)["session"]
        before = self.agent.log_text().count("handshake without it")
        job = self.rpc.call("transfer.get", {"session": sid, "path": "file",
                                             "inline": True}, timeout=30)
        self.assertEqual((job["state"], job["attempts"]), ("done", 1), job)
        self.assertEqual(ftpa.unb64(job["data"]), payload(MIB, 13))
        ls = self.rpc.call("fs.list", {"session": sid, "path": ""},
                           timeout=30)
        self.assertEqual([(e["name"], e["size"]) for e in ls["entries"]],
                         [("file", MIB)], ls)
        up = os.urandom(70000)
        job = self.rpc.call("transfer.put", {"session": sid, "path": "up",
                                             "data": ftpa.b64(up)},
                            timeout=30)
        self.assertEqual(job["state"], "done", job)
        job = self.rpc.call("transfer.get", {"session": sid, "path": "file",
                                             "inline": True}, timeout=30)
        self.assertEqual(ftpa.unb64(job["data"]), payload(MIB, 13))
        got = mock.events("data_recv")
        self.assertEqual([e["sha256"] for e in got],
                         [hashlib.sha256(up).hexdigest()], mock.events())
        # one control connection, four protected data connections that
        # resumed its TLS session, no handshake the server gave up on
        self.assertEqual(len(mock.events("accept")), 1, mock.events())
        self.assertEqual([e["reused"] for e in mock.events("data_tls")],
                         [True] * 4, mock.events())
        self.assertEqual(mock.events("tls_error"), [])
        # only the first transfer waited for a 1xx that did not come
        log = self.agent.log_text()
        self.assertEqual(log.count("starting the data connection's TLS "
                                   "handshake without it"), before + 1, log)
        self.assertNothingInClear(mock)

    def test_data_handshake_after_150_still(self):
        # pyftpdlib closes a data connection that has bytes for it before
        # it took the transfer command: against it the handshake waits
        # for the 150, on every transfer, and never falls back to early
        srv = self.start_pyftpd(tls="explicit")
        with open(os.path.join(srv.home, "f"), "wb") as f:
            f.write(payload(300000, 3))
        sid = self.open_ok(srv.url("/", "ftpes"), srv.password,
                           ca_file=self.certs.ca, retries=0)["session"]
        for _ in range(3):
            job = self.rpc.call("transfer.get", {"session": sid, "path": "f",
                                                 "inline": True}, timeout=30)
            self.assertEqual((job["state"], job["attempts"]), ("done", 1))
            self.assertEqual(ftpa.unb64(job["data"]), payload(300000, 3))
        self.assertNotIn("handshake without it", self.agent.log_text())

    def test_handshake_reset_on_control_is_connect(self):
        # AUTH TLS accepted, then a reset at the agent's ClientHello
        mock = self.start_mock("tls_control_handshake_reset")
        t0 = time.monotonic()
        rep = self.open_raw(mock.url("/", "ftpes"), MOCK_PW,
                            ca_file=self.certs.ca, retry_delay=0.1)
        self.assertTlsError(rep, r"TLS handshake", kinds=("connect",))
        self.assertLess(time.monotonic() - t0, 10)
        got = mock.received()
        self.assertIn("AUTH TLS", got)
        self.assertFalse([l for l in got if verb(l) in SECRETS], got)
        self.assertFalse([e for e in mock.events("recv") if e.get("tls")],
                         mock.events())
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertEqual(self.rpc.call("agent.ping"), {})

    # ---- implicit TLS against a plain port (case 25) ------------------------

    def test_25_implicit_against_plain_port(self):
        mock = self.start_mock("ok")
        for params in ({"url": mock.url("/", "ftps")},
                       {"url": mock.url("/", "ftp"), "tls": "implicit"}):
            with self.subTest(params=params):
                t0 = time.monotonic()
                p = dict(params, password=MOCK_PW)
                rep = self.rpc.call_raw("session.open", p, timeout=30)
                self.assertTlsError(rep, kinds=("tls", "connect"))
                self.assertLess(time.monotonic() - t0, 10)
        got = mock.received()
        self.assertFalse([l for l in got if "PASS" in l.upper()], got)
        self.assertEqual(self.rpc.call("session.list"), [])
        self.assertEqual(self.rpc.call("agent.ping"), {})

    def test_plain_session_has_no_tls(self):
        mock = self.start_mock("ok")
        res = self.open_ok(mock.url("/"), MOCK_PW)
        self.assertIsNone(res.get("tls"), res)
        self.assertFalse(res.get("warning"), res)
        self.assertListed(res["session"], "none")

    # ---- ftpctl end to end ------------------------------------------------

    def test_ftpctl_ftpes_200mib(self):
        srv = self.start_pyftpd(tls="explicit")
        ctl = lambda *a, **kw: self.ftpctl(self.agent, *a, **kw)  # noqa
        url = srv.url("/", "ftpes")
        # without --ca-file the test CA is unknown: exit 4 (connect/TLS)
        r = ctl("open", "bad", url, password=srv.password)
        self.assertEqual(r.rc, 4, r)
        self.assertTrue(r.errtext.startswith("ftpctl: "), r)
        self.assertNotIn(srv.password, r.errtext)
        self.ok(ctl("open", "s", url, "--ca-file", self.certs.ca,
                    password=srv.password))
        d = self.tmpdir()
        big = os.path.join(d, "big")
        digest = ftpa.make_file(big, 200 * MIB)
        self.ok(ctl("put", big, "s:/big"))
        self.assertEqual(ftpa.sha256_file(os.path.join(srv.home, "big")),
                         digest)
        os.unlink(big)
        copy = os.path.join(d, "copy")
        self.ok(ctl("get", "s:/big", copy))
        self.assertEqual(ftpa.sha256_file(copy), digest)
        os.unlink(copy)
        self.ok(ctl("put", "-", "s:/empty", input=b""))
        self.assertEqual(os.path.getsize(os.path.join(srv.home, "empty")), 0)
        r = self.ok(ctl("get", "s:/empty", "-"))
        self.assertEqual(r.out, b"")

        doc = self.ok(ctl("--json", "sessions")).json()
        sess = doc["sessions"] if isinstance(doc, dict) else doc
        self.assertEqual(len(sess), 1, doc)
        s = sess[0]
        self.assertEqual(s["tls"], "explicit", s)
        self.assertIn(s.get("tls_version"), TLS_VERSIONS, s)
        self.assertEqual(s.get("tls_reuse"), "yes", s)
        self.assertTrue(s["url"].startswith("ftpes://"), s)
        table = self.ok(ctl("sessions")).text
        self.assertIn("explicit", table)
        self.assertIn(s["tls_version"], table)
        self.assertNotIn(srv.password, json.dumps(doc) + table)
        self.ok(ctl("close", "s"))
        self.assertNotIn(srv.password, self.agent.log_text())

    def test_ftpctl_tls_options(self):
        srv = self.start_pyftpd(tls="explicit", cert="selfsigned")
        ctl = lambda *a, **kw: self.ftpctl(self.agent, *a, **kw)  # noqa
        # --tls explicit on an ftp:// URL, self-signed: refused, then
        # --insecure
        r = ctl("open", "a", srv.url("/"), "--tls", "explicit",
                password=srv.password)
        self.assertEqual(r.rc, 4, r)
        self.assertRegex(r.errtext, re.compile(WHY_SELF_SIGNED, re.I))
        self.ok(ctl("open", "a", srv.url("/"), "--tls", "explicit",
                    "--insecure", password=srv.password))
        self.ok(ctl("put", "-", "a:/note", input=b"hello over TLS\n"))
        r = self.ok(ctl("get", "a:/note", "-"))
        self.assertEqual(r.out, b"hello over TLS\n")
        doc = self.ok(ctl("--json", "sessions")).json()
        sess = doc["sessions"] if isinstance(doc, dict) else doc
        self.assertEqual([(x["tls"], x["tls_version"] in TLS_VERSIONS)
                          for x in sess], [("explicit", True)])
        # implicit, by --tls and by ftps://
        imp = self.start_pyftpd(tls="implicit")
        self.ok(ctl("open", "b", imp.url("/"), "--tls", "implicit",
                    "--ca-file", self.certs.ca, password=imp.password))
        self.ok(ctl("open", "c", imp.url("/", "ftps"),
                    "--ca-file", self.certs.ca, password=imp.password))
        self.ok(ctl("ls", "b:/"))
        doc = self.ok(ctl("--json", "sessions")).json()
        sess = doc["sessions"] if isinstance(doc, dict) else doc
        modes = {x["session"]: x["tls"] for x in sess}
        self.assertEqual(modes, {"a": "explicit", "b": "implicit",
                                 "c": "implicit"}, doc)
        self.assertIn("implicit", self.ok(ctl("sessions")).text)


if __name__ == "__main__":
    ftpa.main()
