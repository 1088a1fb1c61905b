#!/usr/bin/python3
"""ftpctl against pyftpdlib (MLSD) through a real agent."""
import json
import os
import select
import subprocess
import time

import ftpa

PASSWORD = "Pw-secret-4711"


def entries_of(doc):
    """fs.list's result, or the bare entries array, as a list."""
    return doc["entries"] if isinstance(doc, dict) else doc


def sessions_of(doc):
    return doc["sessions"] if isinstance(doc, dict) else doc


class PyftpdTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start_pyftpd(user="user", password=PASSWORD)
        self.agent = self.start_agent()
        self.work = self.tmpdir()

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def open_s(self, name="s"):
        self.ok(self.ctl("open", name, self.srv.url(), password=PASSWORD),
                "open")

    def local(self, name):
        return os.path.join(self.work, name)

    def test_open_ls_stat_close(self):
        with open(os.path.join(self.srv.home, "a.txt"), "wb") as f:
            f.write(b"hello")
        os.mkdir(os.path.join(self.srv.home, "sub"))
        self.open_s()

        r = self.ok(self.ctl("ls", "s:/"))
        names = r.text.split()
        self.assertIn("a.txt", names)
        self.assertIn("sub", names)

        r = self.ok(self.ctl("ls", "-l", "s:/"))
        line = [l for l in r.text.splitlines() if l.endswith("a.txt")]
        self.assertEqual(len(line), 1, r)
        self.assertIn("5", line[0].split())

        doc = self.ok(self.ctl("--json", "ls", "s:/")).json()
        ents = {e["name"]: e for e in entries_of(doc)}
        self.assertEqual(ents["a.txt"]["type"], "file")
        self.assertEqual(ents["a.txt"]["size"], 5)
        self.assertEqual(ents["sub"]["type"], "dir")
        if isinstance(doc, dict) and "source" in doc:
            self.assertEqual(doc["source"], "mlsd")
        # the same through the protocol: pyftpdlib has MLSD
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        res = rpc.call("fs.list", {"session": "s", "path": "/"})
        self.assertEqual(res["source"], "mlsd")
        self.assertEqual({e["name"] for e in res["entries"]}, {"a.txt", "sub"})

        r = self.ok(self.ctl("stat", "s:/a.txt"))
        self.assertIn("5", r.text)
        st = self.ok(self.ctl("--json", "stat", "s:/a.txt")).json()
        self.assertEqual(st["name"], "a.txt")
        self.assertEqual(st["size"], 5)
        self.assertEqual(st["type"], "file")

        # relative paths are relative to the login directory
        r = self.ok(self.ctl("ls", "s:sub"))
        self.assertEqual(r.text.strip(), "")

        self.ok(self.ctl("close", "s"))
        r = self.ctl("ls", "s:/")
        self.assertNotEqual(r.rc, 0, r)
        sess = sessions_of(self.ok(self.ctl("--json", "sessions")).json())
        self.assertEqual(sess, [])

    def roundtrip(self, name, size, remote=None):
        src = self.local(name)
        digest = ftpa.make_file(src, size)
        remote = remote or name
        self.ok(self.ctl("put", src, "s:/" + remote), "put %d" % size)
        on_server = os.path.join(self.srv.home, remote)
        self.assertEqual(os.path.getsize(on_server), size)
        self.assertEqual(ftpa.sha256_file(on_server), digest)
        back = self.local(name + ".back")
        self.ok(self.ctl("get", "s:/" + remote, back), "get %d" % size)
        self.assertEqual(ftpa.sha256_file(back), digest)
        self.assertFalse(os.path.exists(back + ".part"))
        return digest

    def test_put_get_sizes(self):
        self.open_s()
        for size in (0, 1, 1 << 20):
            with self.subTest(size=size):
                self.roundtrip("f%d" % size, size)
        # get without LOCAL writes the base name into the current directory
        d = self.tmpdir()
        self.ok(self.ctl("get", "s:/f1", cwd=d))
        self.assertEqual(ftpa.sha256_file(os.path.join(d, "f1")),
                         ftpa.sha256_file(self.local("f1")))

    def test_put_get_200m(self):
        self.open_s()
        self.roundtrip("big", 200 << 20)

    def test_spaces_and_utf8(self):
        self.open_s()
        name = "with space \u00fc\u20ac.bin"
        self.roundtrip(name, 12345)
        self.assertTrue(os.path.exists(os.path.join(self.srv.home, name)))
        r = self.ok(self.ctl("ls", "s:/"))
        self.assertIn(name, r.text.splitlines())

    def test_stdin_stdout(self):
        self.open_s()
        data = os.urandom(300000)
        self.ok(self.ctl("put", "-", "s:/stdin.bin", input=data))
        with open(os.path.join(self.srv.home, "stdin.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        r = self.ok(self.ctl("get", "s:/stdin.bin", "-"))
        self.assertEqual(r.out, data)

    def run_on_pty(self, args, feed=b""):
        """Runs ftpctl with stdin and stdout on a terminal; returns
        (exit status, what it wrote to the terminal)."""
        master, slave = os.openpty()
        env = dict(os.environ, HOME=self._home())
        env.pop("FTPCTL_PASSWORD", None)
        p = subprocess.Popen([ftpa.FTPCTL, "-q", "-S", self.agent.sock] +
                             list(args), stdin=slave, stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        os.close(slave)
        if feed:
            os.write(master, feed)
        out = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:        # EIO: the terminal's last user left
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=30)
        os.close(master)
        return rc, out, p.stderr.read()

    def test_terminal_stdin_stdout(self):
        # the agent never touches a terminal: ftpctl relays through a pipe
        self.open_s()
        rc, out, err = self.run_on_pty(["put", "-", "s:/typed.txt"],
                                       feed=b"typed line\n\x04")
        self.assertEqual(rc, 0, err)
        with open(os.path.join(self.srv.home, "typed.txt"), "rb") as f:
            self.assertEqual(f.read(), b"typed line\n")
        rc, out, err = self.run_on_pty(["get", "s:/typed.txt", "-"])
        self.assertEqual(rc, 0, err)
        self.assertIn(b"typed line", out)

    def test_url_targets_reuse_session(self):
        src = self.local("u.bin")
        digest = ftpa.make_file(src, 1000)
        self.ok(self.ctl("put", src, self.srv.url("/u.bin"),
                         password=PASSWORD))
        r = self.ok(self.ctl("ls", self.srv.url("/"), password=PASSWORD))
        self.assertIn("u.bin", r.text.split())
        out = self.ok(self.ctl("--json", "sessions")).text
        sess = sessions_of(json.loads(out))
        self.assertEqual(len(sess), 1, out)
        self.assertNotIn(PASSWORD, out)
        self.assertIn("127.0.0.1", sess[0]["url"])
        back = self.local("u.back")
        self.ok(self.ctl("get", self.srv.url("/u.bin"), back,
                         password=PASSWORD))
        self.assertEqual(ftpa.sha256_file(back), digest)
        self.assertEqual(len(sessions_of(
            self.ok(self.ctl("--json", "sessions")).json())), 1)
        self.ok(self.ctl("close", self.srv.url("/")))
        self.assertEqual(sessions_of(
            self.ok(self.ctl("--json", "sessions")).json()), [])

    def test_session_list_by_url(self):
        """session.list {"url"} answers which sessions serve a URL: the
        agent matches, ftpctl close URL asks it."""
        self.open_s("s")
        self.open_s("t")

        def served(url):
            r = self.ok(self.ctl("call", "session.list",
                                 json.dumps({"url": url})))
            return sorted(s["session"] for s in r.json())

        self.assertEqual(served(self.srv.url("/any/path")), ["s", "t"])
        other = "ftp://other@127.0.0.1:%d/" % self.srv.port
        self.assertEqual(served(other), [])
        self.assertEqual(served("ftp://127.0.0.1:%d/" % self.srv.port), [])
        self.assertEqual(served("ftpes://user@127.0.0.1:%d/" % self.srv.port),
                         [])
        self.assertEqual(served("ftp://user@127.0.0.1:%d/" %
                                (self.srv.port + 1)), [])
        r = self.ctl("call", "session.list", json.dumps({"url": "http://x/"}))
        self.assertEqual(r.rc, 2, r)      # the agent's params error
        self.assertIn("url", r.errtext)
        self.assertEqual(self.ctl("close", other).rc, 1)
        self.ok(self.ctl("close", self.srv.url("/")))
        self.assertEqual(served(self.srv.url()), [])

    def test_exit_code_not_found(self):
        self.open_s()
        dest = self.local("missing")
        r = self.ctl("get", "s:/no-such-file", dest)
        self.assertEqual(r.rc, 5, r)
        self.assertTrue(r.errtext.startswith("ftpctl: "), r)
        self.assertFalse(os.path.exists(dest))
        self.assertFalse(os.path.exists(dest + ".part"))
        self.assertEqual(self.ctl("stat", "s:/no-such-file").rc, 5)

    def test_exit_code_wrong_password(self):
        r = self.ctl("open", "bad", self.srv.url(), password="wrong-Pw-0815")
        self.assertEqual(r.rc, 4, r)
        self.assertNotIn("wrong-Pw-0815", r.text + r.errtext)
        self.assertNotIn("wrong-Pw-0815", self.agent.log_text())

    def test_exit_code_no_agent(self):
        sock = os.path.join(self.tmpdir(), "nobody-here.sock")
        r = self.ftpctl(sock, "--no-autostart", "ping")
        self.assertEqual(r.rc, 3, r)
        self.assertFalse(os.path.exists(sock))

    def test_exit_code_usage(self):
        for args in ([], ["no-such-command"], ["get"], ["open", "onlyname"],
                     ["ls", "-Z", "s:/"], ["put", "a", "b", "c", "d"]):
            with self.subTest(args=args):
                r = self.ctl(*args)
                self.assertEqual(r.rc, 2, r)
                self.assertEqual(r.out, b"")

    def test_ping_version(self):
        self.ok(self.ctl("ping"))
        r = self.ok(self.ctl("version"))
        self.assertTrue(r.text.strip())

    def test_no_password_anywhere(self):
        self.open_s()
        # a password in the URL works but is never shown
        r = self.ok(self.ctl("open", "t", self.srv.url(with_password=True)))
        self.assertNotIn(PASSWORD, r.text + r.errtext)
        r = self.ok(self.ctl("--json", "sessions"))
        self.assertNotIn(PASSWORD, r.text + r.errtext)
        self.assertEqual(len(sessions_of(r.json())), 2)
        r = self.ok(self.ctl("sessions"))
        self.assertNotIn(PASSWORD, r.text + r.errtext)
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        self.assertNotIn(PASSWORD, json.dumps(rpc.call("session.list")))
        self.ok(self.ctl("close", "t"))
        self.ok(self.ctl("close", "s"))
        self.assertNotIn(PASSWORD, self.agent.log_text())


if __name__ == "__main__":
    ftpa.main()
