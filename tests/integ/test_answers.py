#!/usr/bin/python3
"""Issue 17, part B: answers that were wrong. Opening a name again with a
later session to the same server; rm -r of a tree with names that are not
UTF-8, and which entry a failure names; get -c of a local file longer
than the remote one; get of a directory; ls of a missing directory on
every server: vsftpd, pyftpdlib, and ftpmock refusing PWD, which gets
LIST with the path and answers a missing one as vsftpd does, 226 and
nothing. (libftpagent's side of get: test_libclient.py.)"""
import os

import ftpa
from ftpmock_scenarios import login, PASV_AUTO

PASSWORD = "Pw-answers-17"
EXIT_NOT_FOUND = 5
EXIT_LOCAL_IO = 6


class Base:
    """The tests run against each server; subclasses say which."""

    def setUp(self):
        super().setUp()
        self.srv = self.server()
        self.agent = self.start_agent()
        self.work = self.tmpdir()

    def server(self):
        raise NotImplementedError

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def open_s(self, name="s"):
        self.ok(self.ctl("open", name, self.srv.url("/"),
                         password=self.srv.password), "open " + name)

    def disk(self, rel):
        return os.path.join(self.srv.home.encode(), rel)

    def make(self, rels, dirs=()):
        """Files (rel paths, bytes) holding b"x", after dirs, owned like
        the server's home (vsftpd runs as the test user)."""
        st = os.stat(self.srv.home)
        for d in dirs:
            os.makedirs(self.disk(d), exist_ok=True)
        for rel in rels:
            with open(self.disk(rel), "wb") as f:
                f.write(b"x")
        for top, ds, fs in os.walk(self.srv.home.encode()):
            for n in ds + fs:
                os.chown(os.path.join(top, n), st.st_uid, st.st_gid)

    # ---- item 1: open NAME again ------------------------------------------

    def test_open_again_with_a_later_equal_session(self):
        self.open_s("s1")
        self.open_s("s2")
        # s2, the newer session to the same server, must not hide s1
        self.open_s("s1")
        doc = self.ok(self.ctl("--json", "sessions")).json()
        sess = doc["sessions"] if isinstance(doc, dict) else doc
        self.assertEqual(sorted(s["session"] for s in sess), ["s1", "s2"])
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        rep = rpc.call("session.open", {"url": self.srv.url("/"),
                                        "password": self.srv.password,
                                        "name": "s1", "reuse": True})
        self.assertEqual(rep["session"], "s1")
        self.assertTrue(rep["reused"], rep)

    # ---- item 2: rm -r with names that are not UTF-8 ----------------------

    def test_rm_r_non_utf8_names(self):
        """Where the server can name them (vsftpd, pyftpdlib with byte
        names), entries that are not UTF-8 go, in a directory of such a
        name too."""
        if not self.BYTE_NAMES:
            self.skipTest("this server cannot name such files")
        self.make((b"t/caf\xe9", b"t/ok", b"t/d\xff/x\xfe", b"t/sub/y\x80"),
                  dirs=(b"t/d\xff", b"t/sub"))
        self.open_s()
        self.ok(self.ctl("rm", "-r", "s:/t"))
        self.assertFalse(os.path.exists(self.disk(b"t")))

    def test_rm_r_names_the_failed_entry(self):
        """A failure below the target names the entry, not the tree."""
        self.make((b"t/a", b"t/sub/keep"), dirs=(b"t", b"t/sub"))
        os.chmod(self.disk(b"t/sub"), 0o555)     # keep cannot go
        self.addCleanup(os.chmod, self.disk(b"t/sub"), 0o755)
        if os.geteuid() == 0 and self.ROOT_IGNORES_MODES:
            self.skipTest("the server runs as root: modes do not stop it")
        self.open_s()
        r = self.ctl("rm", "-r", "s:/t")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn(b"ftpctl: s:/t/sub/keep: ", r.err)
        self.assertTrue(os.path.exists(self.disk(b"t/sub/keep")))
        r = self.ctl("--json", "rm", "-r", "s:/t")
        self.assertEqual(r.json()["error"]["data"]["path"], "/t/sub/keep")

    # ---- item 3: get -c of a local file longer than the remote one ---------

    def test_get_c_local_longer_is_an_error(self):
        self.make((b"f",))                          # b"x"
        self.open_s()
        local = os.path.join(self.work, "f")
        with open(local, "wb") as f:
            f.write(b"longer than that")
        before = os.stat(local)
        r = self.ctl("get", "-c", "s:/f", local)
        self.assertEqual(r.rc, EXIT_LOCAL_IO, r)
        self.assertIn(b"longer", r.err)
        self.assertNotIn(b"already complete", r.err)
        with open(local, "rb") as f:
            self.assertEqual(f.read(), b"longer than that")
        after = os.stat(local)
        self.assertEqual((after.st_ino, after.st_mtime_ns),
                         (before.st_ino, before.st_mtime_ns))
        self.assertEqual(os.listdir(self.work), ["f"])
        r = self.ctl("get", "--background", "-c", "s:/f", local)
        self.assertEqual(r.rc, EXIT_LOCAL_IO, r)
        self.assertEqual(os.listdir(self.work), ["f"])
        # as long as the remote file: complete, as before
        with open(local, "wb") as f:
            f.write(b"x")
        r = self.ok(self.ctl("get", "-c", "s:/f", local))
        self.assertIn(b"already complete", r.err)

    # ---- item 5: ls of a missing directory ----------------------------------

    def test_ls_missing_is_not_found(self):
        self.make((b"d/f",), dirs=(b"empty", b"d"))
        self.open_s()
        for path in ("s:/missing", "s:missing", "s:/d/missing",
                     "s:/missing/x"):
            with self.subTest(path=path):
                r = self.ctl("ls", path)
                self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
                self.assertEqual(r.out, b"")
                r = self.ctl("--json", "ls", path)
                self.assertEqual(r.json()["error"]["kind"], "not_found", r)
        for path in ("s:/empty", "s:empty", "s:/empty/"):
            with self.subTest(path=path):
                r = self.ok(self.ctl("ls", path))
                self.assertEqual(r.out, b"")
        self.assertEqual(self.ok(self.ctl("ls", "s:/d")).out, b"f\n")

    # ---- item 6: get of a directory -------------------------------------------

    def test_get_of_a_directory(self):
        self.make((b"d/f",), dirs=(b"d",))
        self.open_s()
        for args in (("s:/d", os.path.join(self.work, "d")), ("s:/d",),
                     ("s:/d", self.work)):
            with self.subTest(args=args):
                r = self.ftpctl(self.agent, "get", *args, cwd=self.work)
                self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
                self.assertEqual(r.err, b"ftpctl: s:/d: is a directory "
                                 b"(use get -r)\n")
                self.assertEqual(os.listdir(self.work), [])
        r = self.ctl("--json", "get", "s:/d", os.path.join(self.work, "x"))
        self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
        self.assertEqual(r.json()["error"]["kind"], "not_found")
        # a missing file is still the server's word
        r = self.ctl("get", "s:/nope", os.path.join(self.work, "x"))
        self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
        self.assertNotIn(b"directory (use", r.err)
        self.assertEqual(os.listdir(self.work), [])


class VsftpdTest(Base, ftpa.TestCase):
    BYTE_NAMES = True
    ROOT_IGNORES_MODES = False

    def server(self):
        # the default password: vsftpd's local user is shared by the test
        # files that make check runs at once, and chpasswd is global
        return self.start_vsftpd()


class PyftpdTest(Base, ftpa.TestCase):
    BYTE_NAMES = False
    ROOT_IGNORES_MODES = True

    def server(self):
        return self.start_pyftpd(password=PASSWORD)

    def test_rm_r_non_utf8_unreachable(self):
        """pyftpdlib as it comes sends such a name with "?" in place of
        the byte and cannot open it again: the failure names the entry."""
        self.make((b"t/caf\xe9",), dirs=(b"t",))
        self.open_s()
        r = self.ctl("rm", "-r", "s:/t")
        self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
        self.assertIn(b"ftpctl: s:/t/caf?: ", r.err)


class PyftpdBytesTest(Base, ftpa.TestCase):
    BYTE_NAMES = True
    ROOT_IGNORES_MODES = True

    def server(self):
        return self.start_pyftpd(password=PASSWORD, byte_names=True)


class MockNoPwdTest(ftpa.TestCase):
    """A server that keeps its login directory to itself (PWD refused)
    gets LIST with the path, and answers one of a missing path as vsftpd
    does: 226 and nothing. ls tells that from an empty directory."""

    TREE = {"empty": {}, "d": {"f": 3, "inner empty": {}}, "g": 4}

    def test_ls_missing_is_not_found(self):
        mock = self.start_mock(script=login() + [
            {"auto": PASV_AUTO},
            {"fs": {"tree": self.TREE, "pwd": False,
                    "missing_empty": True}}])
        agent = self.start_agent()
        self.ok(self.ftpctl(agent, "open", "s", mock.url("/"),
                            password=mock.password))
        for path in ("s:missing", "s:/missing", "s:d/missing",
                     "s:/missing/x"):
            with self.subTest(path=path):
                r = self.ftpctl(agent, "ls", path)
                self.assertEqual(r.rc, EXIT_NOT_FOUND, r)
                self.assertEqual(r.out, b"")
        for path in ("s:empty", "s:/empty", "s:d/inner empty", "s:/"):
            with self.subTest(path=path):
                self.assertEqual(self.ok(self.ftpctl(agent, "ls", path)).out,
                                 b"" if path != "s:/" else b"d\nempty\ng\n")
        self.assertEqual(self.ok(self.ftpctl(agent, "ls", "s:d")).out,
                         b"f\ninner empty\n")
        self.assertEqual(self.ok(self.ftpctl(agent, "ls", "s:g")).out,
                         b"g\n")


if __name__ == "__main__":
    ftpa.main()
