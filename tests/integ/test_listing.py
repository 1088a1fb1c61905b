#!/usr/bin/python3
"""Listings the same on every server (issue 13).

Servers that run /bin/ls for LIST split its argument at white space and
take "-x" words for options: "LIST dir with space" lists "dir", "with"
and "space" and sends ls's complaints down the data connection, then 226.
The agent lists a directory by entering it (CWD, then LIST with no
argument, as curl and lftp do) and goes back to the login directory
before the next operation; error text is never taken for entries; ls of
a missing path is not_found, and ls of a file its one entry, on every
server. ftpmock's "bsd_ls" scenario (tests/ftpmock_fs.py) is such a
server, "whole_ls" one that takes the argument whole; vsftpd and
pyftpdlib (MLSD) are checked for the same answers.
"""
import os

import ftpa
from ftpmock import payload
from ftpmock_scenarios import BSD_TREE, login, PASV_AUTO

EXIT_NOT_FOUND = 5


def names(listing):
    return sorted((e["name"], e["type"]) for e in listing["entries"])


def tree_names(node):
    return sorted((k, "dir" if isinstance(v, dict) else "file")
                  for k, v in node.items())


class ListingMixin:
    """The answers every server must give for BSD_TREE; subclasses say
    how the tree is served (server(), and whether it is MLSD)."""

    SOURCE = "list"

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=60)
        self.addCleanup(self.rpc.close)
        self.srv = self.server()
        self.sid = self.rpc.call("session.open", {
            "url": self.srv.url("/"), "password": self.srv.password},
            timeout=30)["session"]

    def file_bytes(self, path, size):
        """What the server holds in BSD_TREE's file at path."""
        return payload(size, len("/" + path))

    def ls(self, path):
        return self.rpc.call("fs.list", {"session": self.sid, "path": path},
                             timeout=30)

    def ls_error(self, path):
        rep = self.rpc.call_raw("fs.list", {"session": self.sid,
                                            "path": path}, timeout=30)
        self.assertIn("error", rep, "fs.list %r: %r" % (path, rep))
        return rep["error"]

    def test_dir_with_spaces(self):
        got = self.ls("dir with space")
        self.assertEqual(names(got), tree_names(BSD_TREE["dir with space"]),
                         got)
        self.assertEqual(got["source"], self.SOURCE)
        got = self.ls("dir with space/sub dir")
        self.assertEqual(names(got), [("deep.bin", "file")], got)
        self.assertEqual(names(self.ls("/dir with space/sub dir")),
                         [("deep.bin", "file")])

    def test_dash_name_is_no_option(self):
        self.assertEqual(names(self.ls("-la")), [("dash.txt", "file")])

    def test_back_home_between_ops(self):
        # a listing elsewhere, then relative paths: the login directory
        self.ls("dir with space/sub dir")
        self.assertEqual(names(self.ls("")), tree_names(BSD_TREE))
        self.ls("dir with space")
        job = self.rpc.call("transfer.get", {
            "session": self.sid, "path": "dir with space/inner.txt",
            "inline": True}, timeout=30)
        self.assertEqual(ftpa.unb64(job["data"]), self.file_bytes(
            "dir with space/inner.txt", 7))
        st = self.rpc.call("fs.stat", {"session": self.sid,
                                       "path": "dir with space/sub dir"},
                           timeout=30)
        self.assertEqual((st["name"], st["type"]), ("sub dir", "dir"), st)
        self.assertEqual(names(self.ls("")), tree_names(BSD_TREE))

    def test_missing_is_not_found(self):
        for path in ("nope", "dir with space/nope", "no such dir/x",
                     "with space"):
            with self.subTest(path=path):
                err = self.ls_error(path)
                self.assertEqual(err["data"]["kind"], "not_found", err)
        # and the session goes on
        self.assertEqual(names(self.ls("")), tree_names(BSD_TREE))

    def test_file_is_its_entry(self):
        got = self.ls("plain.txt")
        self.assertEqual([(e["name"], e["type"], e["size"])
                          for e in got["entries"]],
                         [("plain.txt", "file", 12)], got)
        got = self.ls("dir with space/inner.txt")
        self.assertEqual([(e["name"], e["size"]) for e in got["entries"]],
                         [("inner.txt", 7)], got)

    def test_empty_dir(self):
        self.assertEqual(self.ls("empty dir")["entries"], [])

    def test_ftpctl(self):
        res = self.ftpctl(self.agent, "ls", self.sid + ":/dir with space")
        self.ok(res)
        self.assertEqual(sorted(res.out.decode().splitlines()),
                         ["inner.txt", "sub dir"], res)
        res = self.ftpctl(self.agent, "ls", self.sid + ":nope")
        self.assertEqual(res.rc, EXIT_NOT_FOUND, res)
        self.assertIn(b"nope", res.err)
        self.assertEqual(res.out, b"")


class MockTreeBase(ListingMixin):
    SCENARIO = None

    def server(self):
        self.mock = self.start_mock(self.SCENARIO)
        return self.mock

    def lists(self):
        """The words of every LIST/NLST the mock served."""
        return [e["text"] for e in self.mock.events("mark")
                if e["text"].startswith("list ")]

    def test_list_has_no_argument(self):
        self.ls("dir with space")
        self.ls("")
        self.ls("-la")
        self.assertEqual(self.lists(), ["list ['.']"] * 3)
        cwds = [e["line"] for e in self.mock.events("recv")
                if e["line"].startswith("CWD")]
        self.assertEqual(cwds, ["CWD /dir with space", "CWD /", "CWD /-la"])


class BsdLsTest(MockTreeBase, ftpa.TestCase):
    SCENARIO = "bsd_ls"

    def test_error_text_is_never_entries(self):
        # the login directory unknown (PWD refused): LIST gets the path,
        # ls splits it; what comes back is an error, not entries
        script = login() + [{"auto": PASV_AUTO},
                            {"fs": {"tree": BSD_TREE, "list_split": True,
                                    "pwd": False}}]
        mock = self.start_mock(script=script)
        sid = self.rpc.call("session.open", {
            "url": mock.url("/"), "password": mock.password},
            timeout=30)["session"]
        for path in ("dir with space", "nope"):
            with self.subTest(path=path):
                rep = self.rpc.call_raw("fs.list", {"session": sid,
                                                    "path": path},
                                        timeout=30)
                self.assertIn("error", rep, rep)
                self.assertEqual(rep["error"]["data"]["kind"], "not_found",
                                 rep)
                self.assertIn("No such file or directory",
                              rep["error"]["message"])
        got = self.rpc.call("fs.list", {"session": sid, "path": ""},
                            timeout=30)
        self.assertEqual(names(got), tree_names(BSD_TREE))


class WholeLsTest(MockTreeBase, ftpa.TestCase):
    SCENARIO = "whole_ls"


class VsftpdListingTest(ListingMixin, ftpa.TestCase):
    def server(self):
        srv = self.start_vsftpd()
        make_tree(srv.home, BSD_TREE)
        return srv


class PyftpdListingTest(ListingMixin, ftpa.TestCase):
    SOURCE = "mlsd"

    def server(self):
        srv = self.start_pyftpd()
        make_tree(srv.home, BSD_TREE)
        return srv


def make_tree(root, tree, prefix=""):
    """BSD_TREE on disk, with the bytes the mock would send."""
    for name, node in tree.items():
        path = os.path.join(root, name)
        rel = prefix + "/" + name
        if isinstance(node, dict):
            os.mkdir(path, 0o755)
            make_tree(path, node, rel)
        else:
            with open(path, "wb") as f:
                f.write(payload(node, len(rel)))
            os.chmod(path, 0o644)


if __name__ == "__main__":
    ftpa.main()
