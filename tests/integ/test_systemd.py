#!/usr/bin/python3
"""ftpd-agent under systemd's protocols, without systemd as PID 1:

- socket activation (LISTEN_FDS/LISTEN_PID) through systemd-socket-activate:
  the first client gets an answer, and the socket stays systemd's (not
  chmod-ed, not unlinked when the agent stops);
- sd_notify to a NOTIFY_SOCKET the test binds: READY=1 with a STATUS=
  line, STATUS= following the session count, RELOADING=1/READY=1 around
  SIGHUP, STOPPING=1 on SIGTERM;
- the generated units pass systemd-analyze verify (and security);
- SIGTERM during a download: ABOR and QUIT reach the server, exit 0 within
  the grace period, and the .part left behind resumes (get -c) to the
  right file.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import unittest

import ftpa

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or \
    "/usr/bin/systemd-socket-activate"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
SHUTDOWN_GRACE = 3.0        # daemon/main.c
UNIT_DIR = os.path.join(ftpa.BUILDDIR, "systemd")


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def close(self):
        self.sock.close()

    def wait_for(self, pred, timeout, what):
        """Reads datagrams until one satisfies pred; returns it."""
        for m in self.messages:
            if pred(m):
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s from the agent in %gs; got %r"
                                     % (what, timeout, self.messages))
            self.sock.settimeout(left)
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.messages.append(m)
            if pred(m):
                return m


def fields(msg):
    """sd_notify message -> dict of its KEY=VALUE lines."""
    return dict(l.split("=", 1) for l in msg.split("\n") if "=" in l)


class SocketActivationTest(ftpa.TestCase):

    @staticmethod
    def _read(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def setUp(self):
        super().setUp()
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            self.skipTest("systemd-socket-activate is missing "
                          "(Debian package systemd)")

    def test_first_connection_answered_socket_left_alone(self):
        d = self.tmpdir()
        sock = os.path.join(d, "agent.sock")
        log = os.path.join(d, "agent.log")
        env = dict(os.environ, XDG_RUNTIME_DIR=d, HOME=d)
        for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID"):
            env.pop(k, None)
        # -S names the same path: an agent that ignored the inherited fd
        # would find it "in use" or replace it (new inode, mode 0600)
        with open(log, "wb") as lf:
            proc = subprocess.Popen(
                [SOCKET_ACTIVATE, "-l", sock, ftpa.AGENT, "--user", "-f",
                 "-v", "-S", sock],
                stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                env=env, start_new_session=True)
        self.addCleanup(ftpa.stop_process, proc, signal.SIGKILL)
        ftpa.wait_until(lambda: os.path.exists(sock) or proc.poll() is not None,
                        10, what="systemd-socket-activate to listen")
        self.assertIsNone(proc.poll(), self._read(log))
        before = os.stat(sock)
        self.assertNotIn("listening on", self._read(log),
                         "the agent runs before the first connection")

        r = ftpa.Rpc(sock, timeout=15)
        try:
            self.assertEqual(r.call("agent.ping"), {})
            info = r.call("rpc.info")
            self.assertEqual(info["name"], "ftpd-agent")
        finally:
            r.close()
        text = self._read(log)
        self.assertIn("socket activated", text)
        self.assertIn(sock, text)
        after = os.stat(sock)
        self.assertEqual((before.st_ino, before.st_mode),
                         (after.st_ino, after.st_mode),
                         "the agent replaced or chmod-ed the inherited socket")
        # a second client, same agent
        r = ftpa.Rpc(sock, timeout=15)
        try:
            self.assertEqual(r.call("agent.ping"), {})
        finally:
            r.close()

        t0 = time.monotonic()
        rc, killed = ftpa.stop_process(proc, signal.SIGTERM)
        self.assertFalse(killed)
        text = self._read(log)
        self.assertEqual(rc, 0, text)
        self.assertLess(time.monotonic() - t0, SHUTDOWN_GRACE + 2)
        self.assertIn("stopped", text)
        for mark in ftpa.SANITIZER_MARKS:
            self.assertNotIn(mark, text)
        st = os.stat(sock)      # still there: it is systemd's to remove
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_ino, before.st_ino)

    def test_not_for_us(self):
        """LISTEN_PID of another process: not ours, the agent binds its
        own socket."""
        d = self.tmpdir()
        agent = self.start_agent(env={"LISTEN_FDS": "1",
                                      "LISTEN_PID": str(os.getpid())},
                                 sockdir=d)
        self.assertTrue(agent.answers())
        self.assertNotIn("socket activated", agent.log_text())
        self.assertEqual(stat.S_IMODE(os.stat(agent.sock).st_mode), 0o600)


class NotifyTest(ftpa.TestCase):

    def test_ready_status_reload_stopping(self):
        d = self.tmpdir()
        ns = NotifySocket(os.path.join(d, "notify"))
        self.addCleanup(ns.close)
        srv = self.start_pyftpd()
        agent = self.start_agent(env={"NOTIFY_SOCKET": ns.path})

        ready = ns.wait_for(lambda m: "READY=1" in m.split("\n"), 10,
                            "READY=1")
        f = fields(ready)
        self.assertIn("STATUS", f, "READY=1 should come with a STATUS=")
        self.assertRegex(f["STATUS"], r"^0 sessions, 0 jobs running")

        r = agent.rpc()
        self.addCleanup(r.close)
        r.call("session.open", {"url": srv.url(with_password=True),
                                "name": "s1"})
        m = ns.wait_for(lambda m: fields(m).get("STATUS", "")
                        .startswith("1 session,"), 10,
                        "STATUS= with 1 session")
        self.assertNotIn("READY=1", m)
        n = len(ns.messages)
        time.sleep(2.5)             # nothing changed: nothing sent
        self.assertEqual(ns.messages[n:], [])
        self.assertEqual(self._pending(ns), [],
                         "STATUS= repeated although nothing changed")

        r.call("session.close", {"session": "s1"})
        ns.wait_for(lambda m: fields(m).get("STATUS", "")
                    .startswith("0 sessions,") and "READY=1" not in m, 10,
                    "STATUS= back to 0 sessions")

        i = len(ns.messages)
        os.kill(agent.pid, signal.SIGHUP)

        def reloaded():
            new = [m.split("\n") for m in ns.messages[i:]]
            r = [k for k, m in enumerate(new) if "RELOADING=1" in m]
            return r and any("READY=1" in m for m in new[r[0] + 1:])
        try:
            ns.wait_for(lambda m: reloaded(), 10, "RELOADING=1, READY=1")
        except AssertionError:
            self.fail("no RELOADING=1 then READY=1 after SIGHUP: %r"
                      % ns.messages[i:])
        self.assertTrue(agent.answers())

        os.kill(agent.pid, signal.SIGTERM)
        self.assertEqual(agent.proc.wait(10), 0)
        ns.wait_for(lambda m: "STOPPING=1" in m.split("\n"), 5, "STOPPING=1")

    @staticmethod
    def _pending(ns):
        ns.sock.setblocking(False)
        out = []
        try:
            while True:
                out.append(ns.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        ns.messages.extend(out)
        return out


class UnitFilesTest(ftpa.TestCase):

    def _units(self, variant):
        """The built units of one variant, copied with ExecStart pointing at
        the built agent (verify wants an executable there)."""
        src = os.path.join(UNIT_DIR, variant)
        names = ("ftpd-agent.service", "ftpd-agent.socket")
        for n in names:
            if not os.path.exists(os.path.join(src, n)):
                self.fail("%s/%s was not built" % (src, n))
        d = self.tmpdir(0o755)
        for n in names:
            with open(os.path.join(src, n)) as f:
                text = f.read()
            text = re.sub(r"^ExecStart=\S+", "ExecStart=" + ftpa.AGENT, text,
                          flags=re.M)
            with open(os.path.join(d, n), "w") as f:
                f.write(text)
        return d, [os.path.join(d, n) for n in names]

    def _verify(self, variant):
        if not os.access(ANALYZE, os.X_OK):
            self.skipTest("systemd-analyze is missing (Debian package systemd)")
        d, files = self._units(variant)
        cmd = [ANALYZE]
        env = dict(os.environ)
        if variant == "user":
            cmd.append("--user")
            env["XDG_RUNTIME_DIR"] = self.tmpdir()
        # the man pages are not installed while testing the build tree
        cmd += ["verify", "--man=no"] + files
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, cwd=d)
        out = p.stdout.decode("utf-8", "replace")
        ours = [l for l in out.splitlines() if "ftpd-agent" in l]
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual(ours, [], out)
        return d, files

    def _read(self, path):
        with open(path) as f:
            return f.read()

    def test_system_units(self):
        d, (service, sock) = self._verify("system")
        s = self._read(service)
        for line in ("Type=notify", "Restart=on-failure",
                     "ExecReload=/bin/kill -HUP $MAINPID",
                     "RuntimeDirectory=ftpd-agent", "ProtectSystem=strict",
                     "ProtectHome=yes", "NoNewPrivileges=yes",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"):
            self.assertIn("\n" + line + "\n", s)
        self.assertRegex(s, r"\nExecStart=\S+ --system -f\n")
        self.assertRegex(s, r"\n(DynamicUser=yes|User=\S+)\n")
        self.assertNotRegex(s, r"\nPrivateUsers=yes",
                            "PrivateUsers hides the clients' uids")
        k = self._read(sock)
        self.assertIn("\nListenStream=/run/ftpd-agent/ftpd-agent.sock\n", k)
        self.assertIn("\nSocketMode=0660\n", k)
        self.assertNotRegex(s + k, r"@[A-Za-z_]+@", "unsubstituted @VARIABLE@")

        # what systemd-analyze security makes of the hardening
        p = subprocess.run([ANALYZE, "security", "--offline=yes",
                            "--no-pager", service],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           cwd=d)
        out = p.stdout.decode("utf-8", "replace")
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        if p.returncode != 0 and not m:
            return      # an older systemd-analyze without --offline
        self.assertIsNotNone(m, out)
        self.assertLessEqual(float(m.group(1)), 2.0, out)

    def test_user_units(self):
        d, (service, sock) = self._verify("user")
        s = self._read(service)
        self.assertIn("\nType=notify\n", s)
        self.assertRegex(s, r"\nExecStart=\S+ --user -f\n")
        self.assertIn("\nExecReload=/bin/kill -HUP $MAINPID\n", s)
        k = self._read(sock)
        self.assertIn("\nListenStream=%t/ftpd-agent.sock\n", k)
        self.assertIn("\nSocketMode=0600\n", k)


class ShutdownDrainTest(ftpa.TestCase):

    def test_sigterm_during_download(self):
        size = 8 << 20
        home = self.tmpdir(0o755, "ftpa-home-")
        want = ftpa.make_file(os.path.join(home, "big.bin"), size)
        slow = self.start_pyftpd(home=home, rate=512 * 1024, events=True)
        agent = self.start_agent()
        local_dir = self.tmpdir()
        local = os.path.join(local_dir, "big.bin")
        part = local + ".part"

        env = {k: v for k, v in os.environ.items()
               if k not in ("FTPCTL_PASSWORD", "FTPAGENT_SOCKET")}
        env.update(HOME=self._home(), FTPCTL_PASSWORD=slow.password)
        cli = subprocess.Popen([ftpa.FTPCTL, "-S", agent.sock, "-q", "get",
                                slow.url("/big.bin"), local],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, start_new_session=True)
        self._track(cli, "ftpctl")
        ftpa.wait_until(lambda: os.path.exists(part) and
                        os.path.getsize(part) >= 512 * 1024, 30,
                        what="half a megabyte of the download")

        t0 = time.monotonic()
        os.kill(agent.pid, signal.SIGTERM)
        try:
            rc = agent.proc.wait(SHUTDOWN_GRACE + 5)
        except subprocess.TimeoutExpired:
            self.fail("the agent did not exit within %gs of SIGTERM"
                      % (SHUTDOWN_GRACE + 5))
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, agent.log_text()[-3000:])
        self.assertLessEqual(took, SHUTDOWN_GRACE + 1.0,
                             "shutdown took %.1fs" % took)

        out, err = cli.communicate(timeout=30)
        self.assertNotEqual(cli.returncode, 0,
                            "the interrupted get reported success")
        self.assertFalse(os.path.exists(local), "a partial file was renamed")
        self.assertTrue(os.path.exists(part), "the .part is gone")
        have = os.path.getsize(part)
        self.assertGreater(have, 0)
        self.assertLess(have, size)

        # what the server saw: the transfer stopped with ABOR (after its
        # reply the connection closes)
        cmds = slow.commands()
        self.assertTrue("ABOR" in cmds or slow.events("incomplete_sent"),
                        "neither ABOR nor an incomplete send: %r" % cmds)
        self.assertIn("ABOR", cmds, "a running transfer is cancelled with "
                      "ABOR: %r\nagent log:\n%s"
                      % (cmds, agent.log_text()[-3000:]))

        # another agent, the same files through an unthrottled server
        fast = self.start_pyftpd(home=home, events=True)
        agent2 = self.start_agent()
        res = self.ftpctl(agent2, "-q", "get", "-c", fast.url("/big.bin"),
                          local, password=fast.password)
        self.ok(res, "get -c")
        self.assertFalse(os.path.exists(part))
        self.assertEqual(ftpa.sha256_file(local), want)
        rest = [c for c in fast.commands() if c.startswith("REST ")]
        self.assertTrue(rest, "get -c did not resume: %r" % fast.commands())
        self.assertEqual(int(rest[0].split()[1]), have,
                         "resumed from another offset than the .part's size")

    def test_sigterm_quits_idle_sessions(self):
        """SIGTERM: idle sessions are left with QUIT, not a bare close."""
        srv = self.start_pyftpd(events=True)
        agent = self.start_agent()
        r = agent.rpc()
        self.addCleanup(r.close)
        r.call("session.open", {"url": srv.url(with_password=True),
                                "name": "idle"})
        os.kill(agent.pid, signal.SIGTERM)
        self.assertEqual(agent.proc.wait(SHUTDOWN_GRACE + 5), 0)
        ftpa.wait_until(lambda: "QUIT" in srv.commands(), 3,
                        what="QUIT at the server")


if __name__ == "__main__":
    ftpa.main()
