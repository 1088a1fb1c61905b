#!/usr/bin/python3
"""The SPEC's check against vsftpd (no MLSD: exercises LIST parsing)."""
import os

import ftpa


def entries_of(doc):
    return doc["entries"] if isinstance(doc, dict) else doc


def sessions_of(doc):
    return doc["sessions"] if isinstance(doc, dict) else doc


class VsftpdTest(ftpa.TestCase):
    def setUp(self):
        super().setUp()
        self.srv = self.start_vsftpd()
        self.agent = self.start_agent()
        self.work = self.tmpdir()

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def test_spec_check(self):
        url = self.srv.url("")      # ftp://ftpatest@127.0.0.1:PORT
        self.ok(self.ctl("open", "s", url, password=self.srv.password))
        self.ok(self.ctl("ls", "s:/"))
        big = os.path.join(self.work, "big")
        digest = ftpa.make_file(big, 64 << 20)
        self.ok(self.ctl("put", big, "s:/x"))
        on_server = os.path.join(self.srv.home, "x")
        self.assertEqual(ftpa.sha256_file(on_server), digest)
        copy = os.path.join(self.work, "copy")
        self.ok(self.ctl("get", "s:/x", copy))
        self.assertEqual(ftpa.sha256_file(copy), digest)
        r = self.ok(self.ctl("--json", "sessions"))
        sess = sessions_of(r.json())
        self.assertEqual(len(sess), 1, r)
        self.assertNotIn(self.srv.password, r.text)
        self.ok(self.ctl("close", "s"))
        self.assertEqual(sessions_of(
            self.ok(self.ctl("--json", "sessions")).json()), [])
        self.assertNotIn(self.srv.password, self.agent.log_text())

    def test_list_parsing(self):
        home = self.srv.home
        uid, gid = os.stat(home).st_uid, os.stat(home).st_gid
        with open(os.path.join(home, "file one.txt"), "wb") as f:
            f.write(b"x" * 1234)
        os.mkdir(os.path.join(home, "dir"))
        os.symlink("file one.txt", os.path.join(home, "lnk"))
        for p in ("file one.txt", "dir"):
            os.chown(os.path.join(home, p), uid, gid)
        os.chmod(os.path.join(home, "file one.txt"), 0o640)
        self.ok(self.ctl("open", "s", self.srv.url("/"),
                         password=self.srv.password))
        doc = self.ok(self.ctl("--json", "ls", "s:/")).json()
        if isinstance(doc, dict) and "source" in doc:
            self.assertEqual(doc["source"], "list")
        rpc = self.agent.rpc()
        self.addCleanup(rpc.close)
        self.assertEqual(rpc.call("fs.list", {"session": "s", "path": "/"})
                         ["source"], "list")
        ents = {e["name"]: e for e in entries_of(doc)}
        self.assertIn("file one.txt", ents)
        f = ents["file one.txt"]
        self.assertEqual(f["type"], "file")
        self.assertEqual(f["size"], 1234)
        self.assertEqual(f["perm"], 0o640)
        self.assertEqual(ents["dir"]["type"], "dir")
        self.assertEqual(ents["lnk"]["type"], "link")
        self.assertEqual(ents["lnk"]["target"], "file one.txt")
        self.assertNotIn(".", ents)
        self.assertNotIn("..", ents)
        r = self.ok(self.ctl("ls", "-l", "s:/"))
        self.assertIn("file one.txt", r.text)
        st = self.ok(self.ctl("--json", "stat", "s:/file one.txt")).json()
        self.assertEqual(st["size"], 1234)
        self.assertEqual(self.ctl("get", "s:/nope",
                                  os.path.join(self.work, "n")).rc, 5)


if __name__ == "__main__":
    ftpa.main()
