#!/usr/bin/python3
"""ftpctl and the agent around connecting: ^C during a get, servers that
do not answer, URL targets and their sessions, TLS modes mixed up
(issue #17)."""
import json
import os
import signal
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


if __name__ == "__main__":
    ftpa.main()
