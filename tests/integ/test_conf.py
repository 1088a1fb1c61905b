#!/usr/bin/python3
"""ftpd-agent.conf: bad files refused at start with file and line, a good
one applied (session defaults, limits, job retention), SIGHUP reloads
what can change and says what needs a restart, a bad file on SIGHUP
keeps the configuration in use."""
import os
import signal
import subprocess

import ftpa


class ConfTest(ftpa.TestCase):
    def write_conf(self, text, path=None):
        path = path or os.path.join(self.tmpdir(), "ftpd-agent.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_agent(self, *args, env=None):
        e = dict(os.environ, XDG_RUNTIME_DIR=self.tmpdir())
        e.update(env or {})
        return subprocess.run([ftpa.AGENT, "--user", "-f"] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              env=e, timeout=20)

    def test_bad_files_refused_with_line(self):
        cases = [
            ("retries = 3\nfrobnicate = yes\n", ":2: unknown key \"frobnicate\""),
            ("# ok\nkeepalive = soon\n", ":2: keepalive must be a number"),
            ("\n\n\nmax_connections = 99\n",
             ":4: max_connections must be between 1 and 16"),
            ("socket_mode 0600\n", ":1: expected \"key = value\""),
        ]
        for text, want in cases:
            path = self.write_conf(text)
            r = self.run_agent("-c", path)
            self.assertEqual(r.returncode, 1, r)
            err = r.stderr.decode()
            self.assertIn(path + want, err)
        r = self.run_agent("-c", "/nonexistent/ftpd-agent.conf")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("/nonexistent/ftpd-agent.conf", r.stderr.decode())

    def test_default_file_under_xdg_config_home(self):
        """--user reads $XDG_CONFIG_HOME/ftpd-agent/ftpd-agent.conf."""
        cfg = self.tmpdir()
        os.mkdir(os.path.join(cfg, "ftpd-agent"))
        self.write_conf("bogus = 1\n",
                        os.path.join(cfg, "ftpd-agent", "ftpd-agent.conf"))
        r = self.run_agent(env={"XDG_CONFIG_HOME": cfg})
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("ftpd-agent.conf:1: unknown key", r.stderr.decode())

    def open_session(self, rpc, srv):
        sid = rpc.call("session.open", {"url": srv.url("/"),
                                        "password": srv.password})["session"]
        return [s for s in rpc.call("session.list")
                if s["session"] == sid][0]

    def test_applied_and_reloaded(self):
        path = self.write_conf("max_connections = 2\njob_retention = 1\n")
        agent = self.start_agent(extra=["-c", path])
        rpc = agent.rpc(timeout=30)
        self.addCleanup(rpc.close)
        srv = self.start_pyftpd()
        with open(os.path.join(srv.home, "f"), "wb") as f:
            f.write(b"x" * 1000)
        s = self.open_session(rpc, srv)
        self.assertEqual(s["max_connections"], 2, s)

        # job_retention 1: a finished job is forgotten after about a second
        job = rpc.call("transfer.get", {"session": s["session"], "path": "f",
                                        "inline": True})
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(rpc.call("job.status", {"job": job["job"]})["job"],
                         job["job"])

        def forgotten():
            rep = rpc.call_raw("job.status", {"job": job["job"]})
            return "error" in rep and rep["error"]["data"]["kind"] == "no_job"
        ftpa.wait_until(forgotten, 10, what="the job to be forgotten")

        # SIGHUP: the new default applies to new sessions; a key that
        # needs a restart is named
        self.write_conf("max_connections = 3\nsocket_mode = 0666\n", path)
        agent.proc.send_signal(signal.SIGHUP)
        ftpa.wait_until(lambda: "reloaded" in agent.log_text(), 10,
                        what="the reload")
        self.assertIn("socket_mode changed: takes effect at the next start",
                      agent.log_text())
        self.assertEqual(os.stat(agent.sock).st_mode & 0o777, 0o600)
        s = self.open_session(rpc, srv)
        self.assertEqual(s["max_connections"], 3, s)

        # a bad file on SIGHUP: logged, the configuration in use stays
        self.write_conf("max_connections = 3\nmax_connections = x\n", path)
        agent.proc.send_signal(signal.SIGHUP)
        ftpa.wait_until(lambda: "configuration in use stays" in
                        agent.log_text(), 10, what="the refusal")
        self.assertIn(path + ":2: max_connections must be a number",
                      agent.log_text())
        s = self.open_session(rpc, srv)
        self.assertEqual(s["max_connections"], 3, s)
        self.assertEqual(rpc.call("agent.ping"), {})

    def test_limits(self):
        """max_sessions counts every user's sessions, root's too."""
        path = self.write_conf("max_sessions = 1\n")
        agent = self.start_agent(extra=["-c", path])
        rpc = agent.rpc(timeout=30)
        self.addCleanup(rpc.close)
        srv = self.start_pyftpd()
        self.open_session(rpc, srv)
        rep = rpc.call_raw("session.open", {"url": srv.url("/"),
                                            "password": srv.password})
        self.assertEqual(rep["error"]["data"]["kind"], "limit", rep)
        self.assertIn("at most 1", rep["error"]["message"])


if __name__ == "__main__":
    ftpa.main()
