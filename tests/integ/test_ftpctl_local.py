#!/usr/bin/python3
"""What ftpctl does to the local side.

Downloads (ftpctl get and libftpagent's ftpagent_get_file) replace only
regular files and names that do not exist yet, atomically through
NAME.part; through a symbolic link they replace the link's target and the
link stays; devices and FIFOs are written in place and stay what they
are. The tests never touch the machine's /dev/null: they make a node of
their own (root only, as the tests run).

Server-supplied text on a terminal (TEST-CASES 43): file names holding
ESC ] 0 ; ... BEL (window title) and ESC [ 2 J (clear screen) are shown
escaped when stdout is a terminal (tmux), and pass byte for byte through a
pipe and in --json. Needs tmux (Debian package tmux) for those; skipped
without it.
"""
import ctypes
import json
import os
import shlex
import shutil
import stat
import subprocess
import threading
import time

import ftpa

PASSWORD = "Pw-local-4711"
DATA = bytes(range(256)) * 300 + b"tail"        # 76804 bytes

TITLE = "evil\x1b]0;owned\x07title"
CLEAR = "clear\x1b[2Jscreen"
CSI8 = "csi\u009b2Jeight"                        # C1 CSI, UTF-8 C2 9B
ESCAPED = {TITLE: r"evil\033]0;owned\atitle",
           CLEAR: r"clear\033[2Jscreen",
           CSI8: r"csi\302\2332Jeight"}


class FifoReader(threading.Thread):
    """Reads a FIFO to its end, as a waiting consumer would."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.data, self.error = path, None, None
        self.start()

    def run(self):
        try:
            with open(self.path, "rb") as f:
                self.data = f.read()
        except OSError as e:
            self.error = e

    def result(self, test, timeout=30):
        self.join(timeout)
        test.assertFalse(self.is_alive(), "the FIFO's reader never saw "
                         "the end")
        test.assertIsNone(self.error)
        return self.data


class LocalBase(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start_pyftpd(user="user", password=PASSWORD,
                                     events=True)
        with open(os.path.join(self.srv.home, "data.bin"), "wb") as f:
            f.write(DATA)
        self.agent = self.start_agent()
        self.ok(self.ftpctl(self.agent, "open", "s", self.srv.url(),
                            password=PASSWORD), "open")
        self.work = self.tmpdir()

    def path(self, *names):
        return os.path.join(self.work, *names)

    def get(self, *args):
        return self.ftpctl(self.agent, "get", *args, cwd=self.work)

    def make_null(self, name="null"):
        """A char device node like /dev/null (1, 3), ours to lose."""
        if os.geteuid() != 0:
            self.skipTest("making a device node needs root")
        p = self.path(name)
        os.mknod(p, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        return p

    def assert_null(self, p):
        st = os.lstat(p)
        self.assertTrue(stat.S_ISCHR(st.st_mode), "%s is no longer a "
                        "character device: mode %o" % (p, st.st_mode))
        self.assertEqual(st.st_rdev, os.makedev(1, 3))

    def read(self, p):
        with open(p, "rb") as f:
            return f.read()

    def write(self, p, data):
        with open(p, "wb") as f:
            f.write(data)

    def assert_no_part(self):
        left = [n for n in os.listdir(self.work) if n.endswith(".part")]
        self.assertEqual(left, [], "a .part was left behind")


class FtpctlGetLocalTest(LocalBase):
    def test_device_stays_a_device(self):
        null = self.make_null()
        r = self.ok(self.get("s:/data.bin", null))
        self.assertEqual(r.out, b"")
        self.assert_null(null)
        self.assert_no_part()
        # and through a symlink to it, with --json
        os.symlink("null", self.path("tonull"))
        r = self.ok(self.ftpctl(self.agent, "--json", "get", "s:/data.bin",
                                self.path("tonull")))
        self.assertEqual(r.json()["bytes"], len(DATA))
        self.assertEqual(os.readlink(self.path("tonull")), "null")
        self.assert_null(null)
        self.assert_no_part()

    def test_device_refuses_continue(self):
        null = self.make_null()
        r = self.get("-c", "s:/data.bin", null)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("not a regular file", r.errtext)
        self.assert_null(null)

    def test_fifo_gets_the_bytes(self):
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        reader = FifoReader(fifo)
        self.ok(self.get("s:/data.bin", fifo))
        self.assertEqual(reader.result(self), DATA)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assert_no_part()

    def test_fifo_without_reader_gives_up(self):
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        t0 = time.monotonic()
        r = self.ftpctl(self.agent, "-t", "1", "get", "s:/data.bin", fifo)
        self.assertEqual(r.rc, 6, r)
        self.assertIn("no reader", r.errtext)
        self.assertLess(time.monotonic() - t0, 20)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assert_no_part()

    def test_symlink_replaces_its_target(self):
        self.write(self.path("target.bin"), b"old contents")
        os.symlink("target.bin", self.path("link"))
        self.ok(self.get("s:/data.bin", "link"))
        self.assertTrue(os.path.islink(self.path("link")))
        self.assertEqual(os.readlink(self.path("link")), "target.bin")
        self.assertEqual(self.read(self.path("target.bin")), DATA)
        self.assert_no_part()

    def test_symlink_chain(self):
        os.mkdir(self.path("a"))
        os.mkdir(self.path("b"))
        self.write(self.path("b", "real.bin"), b"x" * 200000)
        # relative links, each from its own directory
        os.symlink("../b/real.bin", self.path("a", "l2"))
        os.symlink(self.path("a", "l2"), self.path("l1"))
        os.symlink("l1", self.path("l0"))
        self.ok(self.get("s:/data.bin", "l0"))
        for name, dest in (("l0", "l1"), ("l1", self.path("a", "l2")),
                           (os.path.join("a", "l2"), "../b/real.bin")):
            self.assertEqual(os.readlink(self.path(name)), dest)
        self.assertEqual(self.read(self.path("b", "real.bin")), DATA)
        for d in (self.work, self.path("a"), self.path("b")):
            self.assertEqual([n for n in os.listdir(d)
                              if n.endswith(".part")], [])

    def test_dangling_symlink_creates_its_target(self):
        os.mkdir(self.path("sub"))
        os.symlink("sub/new.bin", self.path("dangling"))
        self.ok(self.get("s:/data.bin", "dangling"))
        self.assertEqual(os.readlink(self.path("dangling")), "sub/new.bin")
        self.assertTrue(stat.S_ISREG(os.lstat(self.path("sub",
                                                        "new.bin")).st_mode))
        self.assertEqual(self.read(self.path("dangling")), DATA)
        self.assertEqual(os.listdir(self.path("sub")), ["new.bin"])

    def test_symlink_loop_is_an_error(self):
        os.symlink("loop2", self.path("loop1"))
        os.symlink("loop1", self.path("loop2"))
        r = self.get("s:/data.bin", "loop1")
        self.assertEqual(r.rc, 6, r)
        self.assertEqual(os.readlink(self.path("loop1")), "loop2")
        self.assert_no_part()

    def test_continue_through_symlink(self):
        self.write(self.path("target.bin"), DATA[:1000])
        os.symlink("target.bin", self.path("link"))
        self.ok(self.get("-c", "s:/data.bin", "link"))
        self.assertEqual(os.readlink(self.path("link")), "target.bin")
        self.assertEqual(self.read(self.path("target.bin")), DATA)
        self.assert_no_part()

    def test_regular_file_still_atomic(self):
        self.write(self.path("f.bin"), b"old")
        self.ok(self.get("s:/data.bin", "f.bin"))
        self.assertEqual(self.read(self.path("f.bin")), DATA)
        self.assert_no_part()

    def test_directory_gets_the_remote_name(self):
        os.mkdir(self.path("dir"))
        os.symlink("dir", self.path("dirlink"))
        self.ok(self.get("s:/data.bin", "dir"))
        self.assertEqual(self.read(self.path("dir", "data.bin")), DATA)
        self.ok(self.get("s:/data.bin", "dirlink"))
        self.assertTrue(os.path.islink(self.path("dirlink")))
        self.assertEqual(os.listdir(self.path("dir")), ["data.bin"])

    def wait_job(self, out):
        job = out.text.strip()
        self.assertRegex(job, r"^j\d+$")
        self.ok(self.ftpctl(self.agent, "wait", job), "wait")

    def test_background_through_symlink(self):
        self.write(self.path("target.bin"), b"old")
        os.symlink("target.bin", self.path("link"))
        self.wait_job(self.ok(self.get("--background", "s:/data.bin",
                                       "link")))
        self.assertEqual(os.readlink(self.path("link")), "target.bin")
        self.assertEqual(self.read(self.path("target.bin")), DATA)
        self.assert_no_part()

    def test_background_into_fifo_and_device(self):
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        reader = FifoReader(fifo)
        self.wait_job(self.ok(self.get("--background", "s:/data.bin",
                                       fifo)))
        self.assertEqual(reader.result(self), DATA)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        null = self.make_null()
        self.wait_job(self.ok(self.get("--background", "s:/data.bin",
                                       null)))
        self.assert_null(null)
        self.assert_no_part()


class LibGetFileTest(LocalBase):
    """ftpagent_get_file itself, through ctypes."""

    def setUp(self):
        super().setUp()
        path = os.path.join(ftpa.BUILDDIR, ".libs", "libftpagent.so")
        if not os.path.exists(path):
            self.skipTest("no shared libftpagent in the build (%s)" % path)
        lib = ctypes.CDLL(path)
        lib.ftpagent_connect.restype = ctypes.c_void_p
        lib.ftpagent_connect.argtypes = [ctypes.c_char_p]
        lib.ftpagent_free.argtypes = [ctypes.c_void_p]
        lib.ftpagent_get_file.restype = ctypes.c_bool
        lib.ftpagent_get_file.argtypes = [ctypes.c_void_p] + \
            [ctypes.c_char_p] * 3 + [ctypes.c_void_p] * 2
        lib.ftpagent_error_message.restype = ctypes.c_char_p
        lib.ftpagent_error_message.argtypes = [ctypes.c_void_p]
        lib.ftpagent_error_kind.restype = ctypes.c_char_p
        lib.ftpagent_error_kind.argtypes = [ctypes.c_void_p]
        lib.ftpagent_clear_error.restype = ctypes.c_bool
        lib.ftpagent_clear_error.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.fa = lib.ftpagent_connect(self.agent.sock.encode())
        self.assertTrue(self.fa)
        self.addCleanup(lib.ftpagent_free, self.fa)

    def get_file(self, local):
        """(ok, error kind, message) of ftpagent_get_file into local."""
        ok = self.lib.ftpagent_get_file(self.fa, b"s", b"/data.bin",
                                        local.encode(), None, None)
        if ok:
            return True, "", ""
        kind = self.lib.ftpagent_error_kind(self.fa).decode()
        msg = self.lib.ftpagent_error_message(self.fa).decode()
        self.lib.ftpagent_clear_error(self.fa)
        return False, kind, msg

    def test_symlink(self):
        self.write(self.path("target.bin"), b"old contents")
        os.symlink(self.path("target.bin"), self.path("link"))
        self.assertEqual(self.get_file(self.path("link")), (True, "", ""))
        self.assertEqual(os.readlink(self.path("link")),
                         self.path("target.bin"))
        self.assertEqual(self.read(self.path("target.bin")), DATA)
        self.assert_no_part()

    def test_dangling_symlink(self):
        os.symlink("made.bin", self.path("dangling"))
        self.assertEqual(self.get_file(self.path("dangling")),
                         (True, "", ""))
        self.assertTrue(os.path.islink(self.path("dangling")))
        self.assertEqual(self.read(self.path("made.bin")), DATA)
        self.assert_no_part()

    def test_device(self):
        null = self.make_null()
        self.assertEqual(self.get_file(null), (True, "", ""))
        self.assert_null(null)
        os.symlink(null, self.path("tonull"))
        self.assertEqual(self.get_file(self.path("tonull")), (True, "", ""))
        self.assert_null(null)
        self.assertTrue(os.path.islink(self.path("tonull")))
        self.assert_no_part()

    def test_fifo(self):
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        reader = FifoReader(fifo)
        self.assertEqual(self.get_file(fifo), (True, "", ""))
        self.assertEqual(reader.result(self), DATA)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assert_no_part()

    def test_directory_refused_before_the_transfer(self):
        os.mkdir(self.path("dir"))
        ok, kind, msg = self.get_file(self.path("dir"))
        self.assertFalse(ok)
        self.assertEqual(kind, "local_io")
        self.assertIn(self.path("dir"), msg)
        self.assertEqual(os.listdir(self.path("dir")), [])
        self.assert_no_part()
        self.assertFalse([c for c in self.srv.commands()
                          if c.upper().startswith("RETR")])


class Tmux:
    """A private tmux server (its own socket) with one 200x50 pane."""

    def __init__(self, test, script):
        self.sock = os.path.join(test.tmpdir(), "tmux.sock")
        subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null",
                        "new-session", "-d", "-x", "200", "-y", "50",
                        "sh " + shlex.quote(script)], check=True,
                       stdin=subprocess.DEVNULL)
        test.addCleanup(self.stop)

    def capture(self):
        r = subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return r.stdout.decode("utf-8", "replace")

    def title(self):
        r = subprocess.run(["tmux", "-S", self.sock, "display-message",
                            "-p", "#{pane_title}"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return r.stdout.decode("utf-8", "replace").strip()

    def stop(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sh_bytes(s):
    """A shell word that printf turns into the bytes of s (dash has no
    $'...')."""
    return "\"$(printf '%s')\"" % "".join(
        "\\%03o" % b for b in s.encode("utf-8"))


class TmuxCase(ftpa.TestCase):
    """Runs ftpctl commands in a tmux pane against self.agent."""

    def setUp(self):
        super().setUp()
        if shutil.which("tmux") is None:
            self.skipTest("tmux is not installed (Debian package tmux)")
        self.work = self.tmpdir()

    def run_in_tmux(self, *commands):
        """Runs the commands in a pane (a UTF-8 locale), after a line
        that a clear screen would wipe; returns (capture, pane title)."""
        path = os.path.join(self.work, "run.sh")
        ctl = "%s -S %s" % (shlex.quote(ftpa.FTPCTL),
                            shlex.quote(self.agent.sock))
        with open(path, "w") as f:
            f.write("cd %s\n" % shlex.quote(self.work))
            f.write("export HOME=%s LC_ALL=C.UTF-8\n"
                    % shlex.quote(self.work))
            f.write("echo BEFORE-MARK\n")
            for c in commands:
                f.write(c.replace("FTPCTL", ctl) + "\n")
            f.write("echo DONE\nexec sleep 600\n")
        tmux = Tmux(self, path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = tmux.capture()
            if "DONE" in text.split("BEFORE-MARK")[-1]:
                time.sleep(0.2)
                return tmux.capture(), tmux.title()
            time.sleep(0.05)
        self.fail("no end in 60 s; the pane:\n" + tmux.capture())

    def assert_safe(self, text, title):
        self.assertIn("BEFORE-MARK", text, "the screen was cleared:\n"
                      + text)
        self.assertNotIn("owned", title, "the title was set")
        self.assertNotIn("\x1b", text)


class TerminalEscapeTest(TmuxCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start_pyftpd(user="user", password=PASSWORD)
        for name in (TITLE, CLEAR, CSI8):
            with open(os.path.join(self.srv.home, name), "wb") as f:
                f.write(b"payload of " + name.encode("utf-8"))
        self.agent = self.start_agent()
        self.ok(self.ftpctl(self.agent, "open", "s", self.srv.url(),
                            password=PASSWORD), "open")

    def test_ls_on_terminal_is_escaped(self):
        text, title = self.run_in_tmux("FTPCTL ls s:/", "echo ---",
                                       "FTPCTL ls -l s:/", "echo ---",
                                       "FTPCTL stat s:/" + sh_bytes(TITLE))
        self.assert_safe(text, title)
        short, longl, st = text.split("BEFORE-MARK")[1].split("---")
        for name, shown in ESCAPED.items():
            self.assertIn("\n" + shown + "\n", short)
            self.assertRegex(longl, r" %s\n" % shown.replace("\\", r"\\")
                             .replace("[", r"\[").replace("]", r"\]"))
        self.assertIn("name: " + ESCAPED[TITLE], st)

    def test_errors_and_jobs_on_terminal_are_escaped(self):
        text, title = self.run_in_tmux(
            "FTPCTL ls s:/missing" + sh_bytes(CLEAR),
            "j=$(FTPCTL get --background s:/" + sh_bytes(TITLE) +
            " out.bin)", "FTPCTL wait \"$j\"", "FTPCTL jobs")
        self.assert_safe(text, title)
        self.assertIn("ftpctl: s:/missing" + ESCAPED[CLEAR], text)
        self.assertIn("s:/" + ESCAPED[TITLE], text)

    def test_get_to_a_terminal_device(self):
        """LOCAL naming the terminal: written through it (a relay, as the
        agent refuses terminals), and the terminal stays a device."""
        with open(os.path.join(self.srv.home, "plain.txt"), "wb") as f:
            f.write(b"PLAIN-CONTENT-4711\n")
        text, title = self.run_in_tmux(
            "t=$(tty)", "FTPCTL get s:/plain.txt \"$t\"",
            "echo rc=$?", "test -c \"$t\" && echo STILL-A-DEVICE",
            "ls \"$t.part\" 2>/dev/null || echo NO-PART")
        self.assert_safe(text, title)
        self.assertIn("PLAIN-CONTENT-4711\nrc=0\nSTILL-A-DEVICE\nNO-PART",
                      text)

    def test_pipe_and_json_keep_the_bytes(self):
        r = self.ok(self.ftpctl(self.agent, "ls", "s:/"))
        self.assertEqual(sorted(r.out.split(b"\n")[:-1]),
                         sorted(n.encode("utf-8") for n in ESCAPED))
        r = self.ok(self.ftpctl(self.agent, "ls", "-l", "s:/"))
        for name in ESCAPED:
            self.assertIn(b" " + name.encode("utf-8") + b"\n", r.out)
        r = self.ok(self.ftpctl(self.agent, "--json", "ls", "s:/"))
        self.assertEqual(sorted(e["name"] for e in r.json()["entries"]),
                         sorted(ESCAPED))
        # the JSON text itself: ESC as JSON writes it, U+009B raw
        self.assertIn(b"\\u001b]0;owned\\u0007", r.out.lower())
        self.assertIn("\u009b".encode("utf-8"), r.out)
        # od -c of a pipe sees the ESC and BEL bytes
        r = subprocess.run("%s -S %s ls s:/ | od -c" % (
            shlex.quote(ftpa.FTPCTL), shlex.quote(self.agent.sock)),
            shell=True, stdout=subprocess.PIPE, check=True,
            env=dict(os.environ, HOME=self.work))
        self.assertRegex(r.stdout.decode(), r"033\s+\]\s+0\s+;")
        self.assertRegex(r.stdout.decode(), r"033\s+\[\s+2\s+J")
        self.assertRegex(r.stdout.decode(), r"\\a")


class ServerTextTest(TmuxCase):
    """Replies of a scripted server: quote, errors, on a terminal."""

    def test_replies_on_terminal(self):
        steps = ftpa.ftpmock.login() + [{"auto": {
            "SITE": "211-first\x1b]0;owned\x07\r\n"
                    "211 last\x1b[2J\r\n",
            "MKD": "550 Denied\x1b]0;owned\x07 here\r\n"}}]
        mock = self.start_mock(script={"steps": steps})
        agent = self.agent = self.start_agent()
        self.ok(self.ftpctl(agent, "open", "m", mock.url(),
                            password="mockpw"), "open")
        text, title = self.run_in_tmux("FTPCTL quote m SITE X",
                                       "FTPCTL mkdir m:/d")
        self.assert_safe(text, title)
        self.assertIn("211-first\\033]0;owned\\a\n211 last\\033[2J", text)
        self.assertIn("550 Denied\\033]0;owned\\a here", text)
        # the same through a pipe: the server's bytes
        r = self.ftpctl(agent, "quote", "m", "SITE", "X")
        self.assertIn(b"211 last\x1b[2J", r.out)
        r = self.ftpctl(agent, "mkdir", "m:/d")
        self.assertEqual(r.rc, 1, r)
        self.assertIn(b"Denied\x1b]0;owned\x07 here", r.err)


if __name__ == "__main__":
    ftpa.main()
