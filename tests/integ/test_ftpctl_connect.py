#!/usr/bin/python3
"""ftpctl and the agent around connecting: ^C during a get, servers that
do not answer, URL targets and their sessions, TLS modes mixed up
(issue #17)."""
import os
import signal
import socket
import subprocess
import sys
import time

import ftpa
import ftpmock_scenarios as sc

CHUNK = 64 * 1024
SIZE = 32 * CHUNK


def note(fmt, *args):
    """A line of facts in the test's log (stderr)."""
    sys.stderr.write("  [%s]\n" % (fmt % args))


def slow_download(size=SIZE, pause=0.6):
    """Every control connection: login, then one RETR of size bytes in
    64 KiB chunks 20 ms apart; the 226 comes pause seconds after the last
    byte, so a signal after the last byte is still before completion."""
    auto = dict(sc.PASV_AUTO, SIZE="213 %d\r\n" % size,
                MDTM="213 20240102030405\r\n")
    return {"steps": sc.login() + [{"auto": auto}] + [
        {"expect": "RETR", "reply": "150 Sending.\r\n"},
        {"data": size, "seed": 5, "chunk": CHUNK, "chunk_delay": 0.02},
        {"sleep": pause},
        {"send": "226 Transfer complete.\r\n"}]}


def blackhole():
    """A loopback port that drops SYNs: a listener with a backlog of 0
    whose queue is full (its connections are never accepted). Returns
    (port, sockets to keep open)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    keep = [lst]
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        keep.append(s)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
        raise AssertionError("the blackhole port accepted a connection")
    except socket.timeout:
        pass
    finally:
        probe.close()
    return port, keep


class ConnectTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.work = self.tmpdir()

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def spawn(self, *args, password=None):
        env = {k: v for k, v in os.environ.items()
               if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        env["HOME"] = self._home()
        if password is not None:
            env["FTPCTL_PASSWORD"] = password
        proc = subprocess.Popen([ftpa.FTPCTL, "-S", self.agent.sock] +
                                [str(a) for a in args],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env,
                                cwd=self.work)
        self._track(proc, "ftpctl")
        return proc

    def here(self, name):
        return os.path.join(self.work, name)

    # -- ^C during get

    def test_sigint_always_cancels_get(self):
        """SIGINT to a foreground get, at moments from the first bytes to
        after the last one (before the server's 226): exit 8 every time,
        no file under the final name, the agent's job cancelled, few
        bytes written after the signal. Before #17 the signal was only
        seen at the next progress report (one each 200 ms): after the
        last byte none comes, and the get ended with exit 0."""
        mock = self.start_mock(script=slow_download())
        url = mock.url("/")
        fractions = [0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.97, 1.0]
        latencies = []
        for i, frac in enumerate(fractions):
            name = "s%d" % i
            self.ok(self.ctl("open", name, url, password=mock.password))
            local = "f%d.bin" % i
            part = self.here(local + ".part")
            want = max(1, int(SIZE * frac))
            proc = self.spawn("get", "%s:/big%d.bin" % (name, i), local)
            ftpa.wait_until(lambda: os.path.exists(part) and
                            os.path.getsize(part) >= want, 30,
                            interval=0.002, what="%d bytes" % want)
            at_signal = os.path.getsize(part)
            t0 = time.monotonic()
            os.kill(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            latencies.append(time.monotonic() - t0)
            with self.subTest(fraction=frac):
                self.assertEqual(proc.returncode, 8, (frac, out, err))
                self.assertIn(b"cancelled", err)
                self.assertFalse(os.path.exists(self.here(local)))
                # the job is the agent's: cancelled there, not done
                jobs = []

                def cancelled():
                    jobs[:] = self.ok(self.ctl("--json", "jobs")).json()
                    return [j for j in jobs if j.get("session") == name and
                            j.get("state") == "cancelled"]
                ftpa.wait_until(cancelled, 10, what="the job cancelled")
                self.assertFalse([j for j in jobs if j.get("session") == name
                                  and j.get("state") == "done"], jobs)
                time.sleep(0.1)
                after = os.path.getsize(part) - at_signal
                # chunks come 20 ms apart: a few at most after the signal
                self.assertLessEqual(after, 4 * CHUNK, (frac, after))
            self.ok(self.ctl("close", name))
        note("SIGINT to exit (wall clock, including the exit): %s ms",
             ", ".join("%.0f" % (t * 1000) for t in latencies))


    # -- servers that do not answer

    def blackhole_url(self):
        port, keep = blackhole()
        self.addCleanup(lambda: [k.close() for k in keep])
        return "ftp://alice@127.0.0.1:%d/" % port

    def test_unreachable_server_is_not_the_agent(self):
        """open against a port that drops SYNs: the agent answers with a
        timeout of its own (its --connect-timeout), ftpctl's -t is for
        the agent and does not cut that short; no session stays."""
        url = self.blackhole_url()
        t0 = time.monotonic()
        r = self.ctl("-t", "2", "open", "--connect-timeout", "3", "bh", url,
                     password="pw")
        took = time.monotonic() - t0
        self.assertEqual(r.rc, 7, r)
        self.assertNotIn("no reply from the agent", r.errtext)
        self.assertIn("connect to 127.0.0.1 port", r.errtext)
        self.assertIn("timed out", r.errtext)
        self.assertGreater(took, 2.5, r)
        self.assertEqual(self.ok(self.ctl("--json", "sessions")).json(), [])
        # a URL target takes the option too
        r = self.ctl("-t", "2", "ls", "--connect-timeout=1", url + "x",
                     password="pw")
        self.assertEqual(r.rc, 7, r)
        self.assertIn("timed out", r.errtext)

    def test_close_a_session_still_connecting(self):
        """ftpctl close NAME on a session that is still connecting closes
        it at once; the open waiting for it ends."""
        url = self.blackhole_url()
        proc = self.spawn("open", "--connect-timeout", "60", "bh", url,
                          password="pw")

        def connecting():
            doc = self.ok(self.ctl("--json", "sessions")).json()
            return [x for x in doc if x["session"] == "bh" and
                    x["state"] == "connecting"]
        ftpa.wait_until(connecting, 10, what="bh connecting")
        t0 = time.monotonic()
        r = self.ctl("close", "bh", timeout=10)
        self.ok(r)
        out, err = proc.communicate(timeout=10)
        note("close of a connecting session: %.0f ms, open exited %d: %r",
             (time.monotonic() - t0) * 1000, proc.returncode, err)
        self.assertEqual(proc.returncode, 8, err)
        self.assertIn(b"closed while connecting", err)
        self.assertEqual(self.ok(self.ctl("--json", "sessions")).json(), [])

    def test_agent_timeout_is_not_cut_short(self):
        """ftpctl -t 2 open, no --connect-timeout, an agent whose connect
        timeout is 3 s (ftpd-agent.conf): ftpctl waits for the agent's
        own answer about the server instead of blaming the agent after
        2 s (before #17: "no reply from the agent within 2000 ms")."""
        conf = os.path.join(self.tmpdir(), "ftpd-agent.conf")
        with open(conf, "w") as f:
            f.write("connect_timeout = 3\n")
        agent = self.start_agent(extra=["-c", conf])
        mock = self.start_mock(script={"steps": [{"sleep": 30}]})
        r = self.ftpctl(agent, "-t", "2", "open", "m", mock.url(),
                        password="pw")
        self.assertEqual(r.rc, 7, r)
        self.assertNotIn("no reply from the agent", r.errtext)
        self.assertIn("no greeting from the server within 3 s", r.errtext)
        self.assertEqual(self.ok(self.ftpctl(agent, "--json",
                                             "sessions")).json(), [])

    def test_silent_server_names_the_server(self):
        """A server that accepts and never greets: the agent's connect
        timeout covers the greeting and says so, with the hint that the
        port may want implicit TLS."""
        mock = self.start_mock(script={"steps": [{"sleep": 30}]})
        r = self.ctl("-t", "2", "open", "--connect-timeout", "1", "m",
                     mock.url(), password="pw")
        self.assertEqual(r.rc, 7, r)
        self.assertIn("no greeting from the server within 1 s", r.errtext)
        self.assertIn("ftps://", r.errtext)
        self.assertNotIn("no reply from the agent", r.errtext)


    # -- URL targets and the caller's sessions

    def test_url_target_reuses_session_without_password(self):
        """A URL target with no password anywhere uses the caller's live
        session to that user, host, port and security (before #17: a
        new login without a password, and a bare 530)."""
        srv = self.start_pyftpd(user="alice", password="Pw-alice-1")
        self.ok(self.ctl("open", "s", srv.url(), password=srv.password))
        r = self.ctl("ls", srv.url("/"))
        self.ok(r)
        doc = self.ok(self.ctl("--json", "sessions")).json()
        self.assertEqual([x["session"] for x in doc], ["s"], doc)
        # another security is another session: none, and no password
        r = self.ctl("ls", srv.url("/", scheme="ftpes"))
        self.assertEqual(r.rc, 4, r)
        # a wrong password is not waved through by the live session
        r = self.ctl("ls", srv.url("/"), password="wrong-Pw-2")
        self.assertEqual(r.rc, 4, r)

    def test_no_password_anywhere_says_so(self):
        """No session and no password: ftpctl says where a password goes
        instead of passing on the server's 530."""
        srv = self.start_pyftpd(user="alice", password="Pw-alice-1")
        for args in (("ls", srv.url("/")), ("open", "s", srv.url())):
            with self.subTest(args=args):
                r = self.ctl(*args)
                self.assertEqual(r.rc, 4, r)
                self.assertIn("ftpctl: no password for alice@127.0.0.1: set "
                              "FTPCTL_PASSWORD", r.errtext)
        self.assertEqual(self.ok(self.ctl("--json", "sessions")).json(), [])

    def test_url_targets_take_session_options(self):
        """--tls, --ca-file, --insecure, --active and --list-tz on
        commands with URL targets: the session opened for the URL has
        them, and a live session matches only when they agree."""
        srv = self.start_pyftpd(user="alice", password="Pw-alice-1",
                                tls="explicit")
        ca = ftpa.certs().ca
        url = srv.url("/")
        # ftp:// with --tls explicit and the test CA
        r = self.ctl("ls", "--tls", "explicit", "--ca-file", ca, "--active",
                     "--list-tz=+02:00", url, password=srv.password)
        self.ok(r)
        doc = self.ok(self.ctl("--json", "sessions")).json()
        self.assertEqual(len(doc), 1, doc)
        self.assertEqual(doc[0]["tls"], "explicit", doc)
        # the same options, no password: the live session serves it
        r = self.ctl("--json", "ls", "--tls=explicit", "--ca-file", ca,
                     "--active", url)
        self.ok(r)
        # passive now: not that session (and no password for a new one)
        r = self.ctl("ls", "--tls=explicit", "--ca-file", ca, url)
        self.assertEqual(r.rc, 4, r)
        # --insecure warns, verifies nothing, and needs no CA
        r = self.ctl("ls", "--insecure", srv.url("/", scheme="ftpes"),
                     password=srv.password)
        self.ok(r)
        self.assertIn("--insecure", r.errtext)
        r = self.ctl("ls", url, "--tls")
        self.assertEqual(r.rc, 2, r)
        self.assertIn("needs an argument", r.errtext)
        r = self.ctl("ls", "--tls", url)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("--tls takes none, explicit or implicit", r.errtext)

    # -- TLS modes mixed up

    def test_tls_mode_hints(self):
        """ftps:// (implicit) on an explicit-TLS port fails with OpenSSL's
        "wrong version number": the message hints at ftpes://; ftpes://
        on an implicit-TLS port gets no greeting: the hint is ftps://."""
        exp = self.start_pyftpd(user="alice", password="Pw-alice-1",
                                tls="explicit")
        r = self.ctl("open", "a", exp.url(scheme="ftps"),
                     password=exp.password)
        self.assertEqual(r.rc, 4, r)
        self.assertIn("ftpes://", r.errtext)
        imp = self.start_pyftpd(user="alice", password="Pw-alice-1",
                                tls="implicit")
        r = self.ctl("open", "--connect-timeout", "1", "b",
                     imp.url(scheme="ftpes"), password=imp.password)
        self.assertEqual(r.rc, 7, r)
        self.assertIn("no greeting", r.errtext)
        self.assertIn("ftps://", r.errtext)
        # the right schemes work
        self.ok(self.ctl("open", "--insecure", "c", exp.url(scheme="ftpes"),
                         password=exp.password))
        self.ok(self.ctl("open", "--insecure", "d", imp.url(scheme="ftps"),
                         password=imp.password))


if __name__ == "__main__":
    ftpa.main()
