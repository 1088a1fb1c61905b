#!/usr/bin/python3
"""ftpctl's progress bar in a real terminal (tmux): drawn on stderr with
percent, rate and ETA while a download runs, erased at the end; never
when stderr is a file. Needs tmux (Debian package tmux); skipped
without it."""
import inspect
import os
import re
import shlex
import shutil
import subprocess
import time

import ftpa

PASSWORD = "Pw-tty-4711"
MIB = 1 << 20
# "NN% ... X.Y MiB/s  ETA m:ss", as cli/output.c draws it
BAR = re.compile(r"\d+%.*\[?.*\d+(\.\d)? ?[KMG]?i?B/s\s+ETA \d+:\d\d")


class Tmux:
    """A private tmux server (its own socket) with one 120x20 pane."""

    def __init__(self, test, script):
        self.sock = os.path.join(test.tmpdir(), "tmux.sock")
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null",
                        "new-session", "-d", "-x", "120", "-y", "20",
                        "sh " + shlex.quote(script)], check=True,
                       stdin=subprocess.DEVNULL)
        test.addCleanup(self.stop)

    def capture(self):
        r = subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return r.stdout.decode("utf-8", "replace")

    def stop(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class ProgressTtyTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        if shutil.which("tmux") is None:
            self.skipTest("tmux is not installed (Debian package tmux)")
        kw = {}
        self.slow = "rate" in inspect.signature(
            self.start_pyftpd).parameters
        if self.slow:
            kw["rate"] = 4 * MIB
        self.srv = self.start_pyftpd(user="user", password=PASSWORD, **kw)
        self.agent = self.start_agent()
        self.ok(self.ftpctl(self.agent, "open", "s", self.srv.url(),
                            password=PASSWORD), "open")
        self.work = self.tmpdir()
        path = os.path.join(self.srv.home, "big.bin")
        if self.slow:       # about 3 s at 4 MiB/s
            self.digest = ftpa.make_file(path, 12 * MIB)
        else:               # long enough unthrottled
            with open(path, "wb") as f:
                f.write(os.urandom(MIB))
                os.truncate(f.fileno(), 1024 * MIB)
            self.digest = ftpa.sha256_file(path)

    def script(self, *commands):
        """A shell script running ftpctl commands in the pane, then
        printing "DONE rc=N" and staying (so the pane can be read)."""
        path = os.path.join(self.work, "run.sh")
        ctl = "%s -S %s" % (shlex.quote(ftpa.FTPCTL),
                            shlex.quote(self.agent.sock))
        with open(path, "w") as f:
            f.write("cd %s\n" % shlex.quote(self.work))
            f.write("export HOME=%s\n" % shlex.quote(self.work))
            for c in commands:
                f.write(c.replace("FTPCTL", ctl) + "\n")
            f.write("echo DONE rc=$?\nexec sleep 600\n")
        return path

    def watch(self, tmux, timeout=120):
        """Captures the pane until DONE; returns (the first capture that
        showed a bar or None, the final capture)."""
        bar = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = tmux.capture()
            if bar is None and BAR.search(text):
                bar = text
            if "DONE rc=" in text:
                return bar, text
            time.sleep(0.05)
        self.fail("no end in %ds; the pane:\n%s" % (timeout, tmux.capture()))

    def assert_bar_then_cleared(self, bar, final, label):
        self.assertIsNotNone(bar, "no progress bar seen; at the end:\n"
                             + final)
        line = [l for l in bar.splitlines() if BAR.search(l)][0]
        self.assertIn(label, line)
        self.assertLessEqual(len(line), 120)
        self.assertIn("DONE rc=0", final)
        # erased: no trace of the bar is left on the screen
        self.assertNotIn("ETA", final)
        self.assertNotRegex(final, r"\d+%")
        self.assertEqual(ftpa.sha256_file(os.path.join(self.work,
                                                       "big.bin")),
                         self.digest)

    def test_foreground_get_draws_and_clears(self):
        tmux = Tmux(self, self.script("FTPCTL get s:/big.bin big.bin"))
        bar, final = self.watch(tmux)
        self.assert_bar_then_cleared(bar, final, "big.bin")

    def test_wait_draws_the_same_bar(self):
        tmux = Tmux(self, self.script(
            "job=$(FTPCTL get --background s:/big.bin big.bin) || exit 9",
            "FTPCTL wait \"$job\""))
        bar, final = self.watch(tmux)
        self.assert_bar_then_cleared(bar, final, "big.bin")

    def test_no_bar_when_stderr_is_a_file(self):
        err = os.path.join(self.work, "stderr.txt")
        tmux = Tmux(self, self.script(
            "FTPCTL get s:/big.bin big.bin 2>%s" % shlex.quote(err)))
        bar, final = self.watch(tmux)
        self.assertIsNone(bar, final)
        self.assertIn("DONE rc=0", final)
        with open(err, "rb") as f:
            text = f.read()
        self.assertNotIn(b"\r", text)
        self.assertNotIn(b"ETA", text)
        self.assertNotIn(b"\033[K", text)
        self.assertEqual(text, b"")

    def test_no_bar_with_quiet(self):
        tmux = Tmux(self, self.script("FTPCTL -q get s:/big.bin big.bin"))
        bar, final = self.watch(tmux)
        self.assertIsNone(bar, final)
        self.assertIn("DONE rc=0", final)


if __name__ == "__main__":
    ftpa.main()
