#!/usr/bin/python3
"""The agent as a service: a second agent on a socket that answers is
refused, the log carries <N> priorities under journald and plain lines
otherwise, one line per session open/close and per transfer end (bytes
and rate), and never a password."""
import os
import re
import subprocess

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


if __name__ == "__main__":
    ftpa.main()
