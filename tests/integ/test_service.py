#!/usr/bin/python3
"""The agent as a service: a second agent on a socket that answers is
refused, the log carries <N> priorities under journald and plain lines
otherwise, one line per session open/close and per transfer end (bytes
and rate), and never a password. ftpctl agent status|reload|stop, and
who may reload or stop a shared agent (issue 17)."""
import json
import os
import re
import subprocess
import time

import ftpa

PASSWORD = "Service-Pw-77"


class ServiceTest(ftpa.TestCase):
    def test_second_agent_refused(self):
        agent = self.start_agent()
        e = dict(os.environ, XDG_RUNTIME_DIR=self.tmpdir())
        p = subprocess.run([ftpa.AGENT, "--user", "-f", "-S", agent.sock],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=e, timeout=20)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"another agent already answers", p.stderr)
        # the first one is untouched, socket and all
        r = agent.rpc()
        self.addCleanup(r.close)
        self.assertEqual(r.call("agent.ping"), {})

    def session_and_transfer(self, agent):
        srv = self.start_pyftpd(password=PASSWORD)
        with open(os.path.join(srv.home, "f"), "wb") as f:
            f.write(os.urandom(100000))
        r = agent.rpc()
        self.addCleanup(r.close)
        sid = r.call("session.open", {"url": srv.url("/"),
                                      "password": PASSWORD})["session"]
        job = r.call("transfer.get", {"session": sid, "path": "f",
                                      "inline": True})
        self.assertEqual(job["state"], "done", job)
        r.call("session.close", {"session": sid})
        return sid, job

    def test_log_lines(self):
        agent = self.start_agent()
        sid, job = self.session_and_transfer(agent)
        text = agent.log_text()
        self.assertRegex(text, r"ftpd-agent: session %s \(uid \d+\) opened"
                         % sid)
        self.assertRegex(text, r"ftpd-agent: session %s \(uid \d+\) closed"
                         % sid)
        self.assertRegex(text, r"ftpd-agent: job %s get %s f: done, 100000 "
                         r"bytes in [0-9.]+ s \([0-9]+ B/s\)"
                         % (job["job"], sid))
        self.assertNotIn(PASSWORD, text)

    def test_journal_priorities(self):
        agent = self.start_agent(env={"JOURNAL_STREAM": "8:12345"})
        self.session_and_transfer(agent)
        lines = [l for l in agent.log_text().splitlines() if l]
        self.assertTrue(lines)
        for l in lines:
            self.assertRegex(l, r"^<[0-7]>", l)
        self.assertTrue(any(re.match(r"^<6>session .* opened", l)
                            for l in lines), lines)
        self.assertTrue(any(l.startswith("<7>") for l in lines), lines)


    # -- ftpctl agent status|reload|stop (issue 17)
    def conf_agent(self, text="", **kw):
        conf = os.path.join(self.tmpdir(), "agent.conf")
        with open(conf, "w") as f:
            f.write(text)
        return conf, self.start_agent(extra=["-c", conf], **kw)

    def test_agent_status(self):
        conf, agent = self.conf_agent("job_retention = 60\n")
        r = self.ok(self.ftpctl(agent, "agent", "status"))
        self.assertIn("pid:      %d\n" % agent.pid, r.text)
        self.assertIn("socket:   %s\n" % agent.sock, r.text)
        self.assertIn("config:   %s\n" % conf, r.text)
        # the harness runs it in the foreground: it logs to stderr
        self.assertIn("log:      stderr\n", r.text)
        self.assertRegex(r.text, r"uptime:   \d+s")
        self.assertRegex(r.text, r"version:  \d")
        doc = self.ok(self.ftpctl(agent, "--json", "agent", "status")).json()
        self.assertEqual(doc["pid"], agent.pid)
        self.assertEqual(doc["socket"], agent.sock)
        self.assertEqual(doc["config"], conf)
        self.assertTrue(doc["config_found"])
        self.assertEqual(doc["mode"], "user")
        self.assertEqual(doc["log"], "stderr")
        self.assertGreaterEqual(doc["uptime_s"], 0)
        self.assertAlmostEqual(doc["started"], time.time(), delta=60)
        # under systemd the journal has it
        agent = self.start_agent(env={"JOURNAL_STREAM": "8:12345"})
        doc = self.ok(self.ftpctl(agent, "--json", "agent", "status")).json()
        self.assertEqual(doc["log"], "journal")

    def test_agent_reload(self):
        conf, agent = self.conf_agent("job_retention = 60\n")
        r = self.ok(self.ftpctl(agent, "agent", "reload"))
        self.assertEqual(r.text, "reloaded %s\n" % conf)
        ftpa.wait_until(lambda: "%s reloaded" % conf in agent.log_text(), 10,
                        what="the reload in the log")
        doc = self.ok(self.ftpctl(agent, "--json", "agent", "reload")).json()
        self.assertEqual(doc, {"reloaded": True, "config": conf})
        # a broken file is reported, and the one in use stays
        with open(conf, "w") as f:
            f.write("no_such_key = 1\n")
        r = self.ftpctl(agent, "agent", "reload")
        self.assertEqual(r.rc, 6, r)
        self.assertIn("no_such_key", r.errtext)
        self.assertTrue(r.errtext.startswith("ftpctl: "), r)
        self.ok(self.ftpctl(agent, "ping"))

    def test_agent_stop(self):
        agent = self.start_agent()
        t0 = time.monotonic()
        r = self.ok(self.ftpctl(agent, "agent", "stop"))
        self.assertEqual(r.text, "ftpd-agent (pid %d) stopped\n"
                         % agent.pid)
        # ftpctl returned once the agent was gone, cleanly
        self.assertEqual(agent.proc.wait(5), 0)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertFalse(os.path.exists(agent.sock))
        # no agent: status says so and starts none
        r = self.ftpctl(agent, "agent", "status")
        self.assertEqual(r.rc, 3, r)
        self.assertFalse(os.path.exists(agent.sock))
        r = self.ftpctl(agent, "--json", "agent", "stop")
        self.assertEqual(r.rc, 3, r)
        self.assertEqual(r.json()["error"]["kind"], "agent")
        self.assertFalse(os.path.exists(agent.sock))
        agent = self.start_agent()
        doc = self.ok(self.ftpctl(agent, "--json", "agent", "stop")).json()
        self.assertEqual(doc, {"stopped": True, "pid": agent.pid})
        self.assertEqual(agent.proc.wait(5), 0)
        # two stops in one breath: both answered, one clean shutdown
        agent = self.start_agent()
        r = agent.rpc()
        self.addCleanup(r.close)
        r.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"agent.stop"}\n'
                   b'{"jsonrpc":"2.0","id":2,"method":"agent.stop"}\n')
        for i in (1, 2):
            self.assertEqual(r.wait_reply(i, 10)["result"],
                             {"pid": agent.pid})
        self.assertEqual(agent.proc.wait(5), 0)

    def test_agent_usage(self):
        agent = self.start_agent()
        for args in ([], ["restart"], ["status", "x"]):
            r = self.ftpctl(agent, "agent", *args)
            self.assertEqual(r.rc, 2, r)
            self.assertIn("usage: ftpctl agent status|reload|stop", r.errtext)

    def test_agent_manage_other_uid(self):
        """A shared agent: another uid may ask for its status, but only
        the agent's own uid and root may reload or stop it."""
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another uid")
        agent = self.start_agent(socket_mode=0o666,
                                 sockdir=self.tmpdir(0o755))
        st = self.ftpctl(agent, "--json", "agent", "status", user="nobody")
        self.assertEqual(self.ok(st).json()["pid"], agent.pid)
        for verb in ("reload", "stop"):
            r = self.ftpctl(agent, "--json", "agent", verb, user="nobody")
            self.assertEqual(r.rc, 1, r)
            self.assertEqual(r.json()["error"]["kind"], "permission", r)
            self.assertIn("only root and the agent's user", r.errtext)
        self.ok(self.ftpctl(agent, "ping"))
        self.assertIsNone(agent.proc.poll())


    # -- autostart: where it logs, and why it failed (issue 17)
    def autostart_env(self):
        state = self.tmpdir()
        return state, {"FTPD_AGENT_BIN": ftpa.AGENT, "XDG_STATE_HOME": state}

    def stop_by_socket(self, sock):
        """Cleanup: the autostarted agent (not our child) stopped."""
        def stop():
            if os.path.exists(sock):
                self.ftpctl(sock, "--no-autostart", "agent", "stop")
        self.addCleanup(stop)

    def test_autostart_failure_says_why(self):
        state, env = self.autostart_env()
        sock = os.path.join(self.tmpdir(), "no-such-dir", "agent.sock")
        log = os.path.join(state, "ftpd-agent", "agent.log")
        t0 = time.monotonic()
        r = self.ftpctl(sock, "ping", env=env)
        self.assertEqual(r.rc, 3, r)
        # it did not sit out the 3 s: the agent said it failed
        self.assertLess(time.monotonic() - t0, 2.5)
        err = r.errtext
        self.assertIn("started '%s --user -S %s --log %s'" % (ftpa.AGENT,
                      sock, log), err)
        self.assertIn("exited with status 1", err)
        self.assertIn("its log %s ends:" % log, err)
        self.assertIn("bind %s: No such file or directory" % sock, err)
        # a program that cannot run at all
        env["FTPD_AGENT_BIN"] = os.path.join(state, "missing-agent")
        r = self.ftpctl(sock, "ping", env=env)
        self.assertEqual(r.rc, 3, r)
        self.assertIn("missing-agent --user -S %s" % sock, r.errtext)
        self.assertIn("could not be run: No such file or directory",
                      r.errtext)

    def test_autostart_logs_to_state_dir(self):
        state, env = self.autostart_env()
        sock = os.path.join(self.tmpdir(), "agent.sock")
        log = os.path.join(state, "ftpd-agent", "agent.log")
        # a big old log is moved aside, not grown without end
        os.makedirs(os.path.dirname(log))
        with open(log, "wb") as f:
            f.write(b"old line\n" * 200000)
        old_size = os.path.getsize(log)
        self.stop_by_socket(sock)
        self.ok(self.ftpctl(sock, "ping", env=env))
        doc = self.ok(self.ftpctl(sock, "--json", "agent", "status")).json()
        self.assertEqual(doc["log"], log)
        self.assertEqual(os.path.getsize(log + ".1"), old_size)
        with open(log) as f:
            text = f.read()
        self.assertRegex(text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d{4} "
                         r"ftpd-agent: listening on %s" % re.escape(sock))
        self.assertLess(len(text), 4096)
        self.assertEqual(os.stat(log).st_mode & 0o777, 0o600)

    def test_log_file_rotates_while_running(self):
        """--log FILE: past 1 MiB the file becomes FILE.1 and starts
        again, while the agent runs, not only at its start."""
        d = self.tmpdir()
        log = os.path.join(d, "sub", "agent.log")
        os.makedirs(os.path.dirname(log))
        # room for the start (about 160 bytes: the listening line and a
        # readiness check's client lines, more under load) but not for
        # the 20 calls below (about 130 bytes each)
        with open(log, "wb") as f:
            f.write(b"x" * (1024 * 1024 - 1000) + b"\n")
        agent = self.start_agent(extra=["--log", log])
        self.assertFalse(os.path.exists(log + ".1"))
        doc = self.ok(self.ftpctl(agent, "--json", "agent", "status")).json()
        self.assertEqual(doc["log"], log)
        # -v: every call is logged; a few are past the bound
        for _ in range(20):
            self.ok(self.ftpctl(agent, "ping"))
        ftpa.wait_until(lambda: os.path.exists(log + ".1"), 10,
                        what="the log to be rotated")
        self.assertLess(os.path.getsize(log), 64 * 1024)
        self.assertGreater(os.path.getsize(log + ".1"), 1024 * 1024)
        self.ok(self.ftpctl(agent, "ping"))
        with open(log) as f:
            self.assertIn("ftpd-agent: ", f.read())

    def test_no_runtime_dir_hint(self):
        """Under cron (env -i) there is no XDG_RUNTIME_DIR: the message
        says how to point ftpctl at an agent."""
        if os.path.exists("/run/ftpd-agent/ftpd-agent.sock"):
            self.skipTest("a system agent may answer here")
        p = subprocess.run([ftpa.FTPCTL, "ping"], capture_output=True,
                           env={"PATH": os.environ.get("PATH", "/usr/bin")},
                           timeout=30)
        self.assertEqual(p.returncode, 3, p)
        err = p.stderr.decode()
        self.assertIn("$XDG_RUNTIME_DIR is not set", err)
        self.assertIn("$FTPAGENT_SOCKET", err)
        self.assertIn("ftpctl -S SOCKET", err)
        self.assertIn("XDG_RUNTIME_DIR=/run/user/%d" % os.getuid(), err)
        for line in err.splitlines():
            self.assertTrue(line.startswith("ftpctl: "), err)


if __name__ == "__main__":
    ftpa.main()
