#!/usr/bin/python3
"""Issue 4 against real servers: the file system methods, resume, ASCII,
active and passive mode, IPv4 and IPv6; every result compared with what
the server's disk shows.

pyftpdlib offers MLSD/MLST and MFMT; vsftpd (root only) offers LIST only,
no MLST (fs.stat falls back to SIZE/MDTM, then the parent's LIST, then CWD) and sets times with the
two-argument MDTM (mdtm_write=YES). vsftpd stores TYPE A uploads as they
arrive (ascii_upload_enable=NO), so its disk shows the bytes on the wire;
pyftpdlib turns CRLF into LF on ASCII uploads and LF into CRLF (without
doubling an existing CRLF) on ASCII downloads.
"""
import os
import re
import socket
import time

import ftpa
from ftpmock import payload

MIB = 1 << 20
T_OLD = 1700000000          # 2023-11-14 22:13:20 UTC


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def crlf(data):
    """What an ASCII upload puts on the wire: LF becomes CRLF, an existing
    CRLF stays."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


class FsBase:
    """The tests; subclasses say which server."""

    LISTING = None          # fs.list's "source"

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.agent.rpc(timeout=60)
        self.addCleanup(self.rpc.close)
        self.work = self.tmpdir()

    # ---- helpers ---------------------------------------------------------

    def server(self, host="127.0.0.1"):
        raise NotImplementedError

    def ascii_disk(self, wire):
        """What the server's disk holds after an ASCII upload of wire."""
        raise NotImplementedError

    def open(self, srv, passive=True, **params):
        p = {"url": srv.url("/"), "password": srv.password,
             "passive": passive}
        p.update(params)
        return self.rpc.call("session.open", p, timeout=30)["session"]

    def call(self, method, **params):
        return self.rpc.call(method, params, timeout=60)

    def error(self, method, kinds=None, **params):
        """Calls method, which must fail; returns the error object."""
        rep = self.rpc.call_raw(method, params, timeout=60)
        self.assertIn("error", rep, "%s %r: expected an error, got %r"
                      % (method, params, rep))
        err = rep["error"]
        kind = (err.get("data") or {}).get("kind")
        if kinds is not None:
            self.assertIn(kind, kinds, err)
        if kind in ftpa.KIND_CODES:
            self.assertEqual(err["code"], ftpa.KIND_CODES[kind], err)
        return err

    def disk(self, srv, rel):
        return os.path.join(srv.home, rel)

    def write_disk(self, srv, rel, data):
        """A file made on the server's disk, owned like its home (vsftpd
        runs as the test user)."""
        path = self.disk(srv, rel)
        with open(path, "wb") as f:
            f.write(data)
        st = os.stat(srv.home)
        os.chown(path, st.st_uid, st.st_gid)
        return path

    def read_disk(self, srv, rel):
        with open(self.disk(srv, rel), "rb") as f:
            return f.read()

    def put_data(self, sid, path, data, **params):
        p = {"session": sid, "path": path, "data": ftpa.b64(data)}
        p.update(params)
        job = self.rpc.call("transfer.put", p, timeout=60)
        self.assertEqual(job["state"], "done", job)
        return job

    def get_data(self, sid, path, **params):
        p = {"session": sid, "path": path, "inline": True}
        p.update(params)
        job = self.rpc.call("transfer.get", p, timeout=60)
        self.assertEqual(job["state"], "done", job)
        return ftpa.unb64(job.get("data", "")), job

    def fd_call(self, method, local, flags, params, raw=False):
        fd = os.open(local, flags, 0o600)
        try:
            p = dict(params, fd=0)
            if raw:
                return self.rpc.call_raw(method, p, fds=[fd], timeout=60)
            return self.rpc.call(method, p, fds=[fd], timeout=60)
        finally:
            os.close(fd)

    def entries(self, sid, path):
        doc = self.call("fs.list", session=sid, path=path)
        self.assertEqual(doc.get("source"), self.LISTING, doc)
        return {e["name"]: e for e in doc["entries"]}

    def assertMtime(self, got, want, listing=False):
        """MLSD, MLST and MDTM carry seconds; LIST minutes (recent files)
        or days (older ones)."""
        self.assertIsNotNone(got)
        if listing and self.LISTING == "list":
            slack = 60 if abs(time.time() - want) < 86400 * 150 else 86400
            self.assertLessEqual(abs(got - want), slack, (got, want))
        else:
            self.assertEqual(got, want)

    # ---- the file system ---------------------------------------------------

    def test_tree(self):
        """mkdir -p, mkdir of an existing directory, list, stat, rmdir,
        remove and remove -r, against the disk."""
        srv = self.server()
        sid = self.open(srv)
        self.assertEqual(self.call("fs.mkdir", session=sid, path="a/b/c",
                                   parents=True), {})
        self.assertTrue(os.path.isdir(self.disk(srv, "a/b/c")))
        # like mkdir -p: the existing directories along the path are fine
        self.assertEqual(self.call("fs.mkdir", session=sid, path="/a/b/c",
                                   parents=True), {})
        self.assertEqual(self.call("fs.mkdir", session=sid, path="a/b/d",
                                   parents=True), {})
        # without parents an existing directory is an error (the server's
        # 550; the contract names no kind for it beyond not_found/ftp)
        self.error("fs.mkdir", ("exists", "ftp", "not_found"),
                   session=sid, path="a/b")
        # and a missing parent too
        self.error("fs.mkdir", ("not_found", "ftp"), session=sid,
                   path="x/y/z")
        self.assertFalse(os.path.exists(self.disk(srv, "x")))
        self.assertEqual(self.call("fs.mkdir", session=sid, path="e"), {})
        self.assertTrue(os.path.isdir(self.disk(srv, "e")))

        files = {"a/f1": payload(1234, 1), "a/b/f2": payload(0, 2),
                 "a/b/c/f3": payload(70000, 3)}
        for path, data in files.items():
            self.put_data(sid, path, data)
            self.assertEqual(self.read_disk(srv, path), data)

        # the listing matches the disk
        for d in ("", "a", "a/b", "a/b/c"):
            ents = self.entries(sid, d)
            want = sorted(os.listdir(self.disk(srv, d)))
            self.assertEqual(sorted(ents), want, d)
            for name, e in ents.items():
                st = os.lstat(os.path.join(self.disk(srv, d), name))
                if os.path.isdir(os.path.join(self.disk(srv, d), name)):
                    self.assertEqual(e["type"], "dir", e)
                else:
                    self.assertEqual(e["type"], "file", e)
                    self.assertEqual(e["size"], st.st_size, e)
                    self.assertMtime(e["mtime"], int(st.st_mtime), True)
                if e.get("perm") is not None:
                    self.assertEqual(e["perm"], st.st_mode & 0o7777, e)

        # stat: a file and a directory (vsftpd: SIZE, MDTM, CWD)
        st = os.stat(self.disk(srv, "a/b/c/f3"))
        e = self.call("fs.stat", session=sid, path="a/b/c/f3")
        self.assertEqual(e["name"], "f3")
        self.assertEqual(e["type"], "file", e)
        self.assertEqual(e["size"], 70000, e)
        self.assertMtime(e["mtime"], int(st.st_mtime))
        e = self.call("fs.stat", session=sid, path="/a/b/f2")
        self.assertEqual((e["name"], e["type"], e["size"]), ("f2", "file", 0))
        e = self.call("fs.stat", session=sid, path="a/b")
        self.assertEqual((e["name"], e["type"]), ("b", "dir"), e)
        st = os.stat(self.disk(srv, "a/b"))
        # MLST has the facts; without it the parent's listing does
        self.assertEqual(e["perm"], st.st_mode & 0o7777, e)
        self.assertMtime(e["mtime"], int(st.st_mtime), True)
        e = self.call("fs.stat", session=sid, path="/a")
        self.assertEqual((e["name"], e["type"]), ("a", "dir"), e)
        self.error("fs.stat", ("not_found",), session=sid, path="a/nope")

        # rmdir of an empty directory; of a full one: error
        self.assertEqual(self.call("fs.rmdir", session=sid, path="e"), {})
        self.assertFalse(os.path.exists(self.disk(srv, "e")))
        self.error("fs.rmdir", session=sid, path="a/b")
        self.assertTrue(os.path.isdir(self.disk(srv, "a/b")))
        # remove: a file; a directory without recursive is an error
        self.assertEqual(self.call("fs.remove", session=sid,
                                   path="a/b/f2"), {})
        self.assertFalse(os.path.exists(self.disk(srv, "a/b/f2")))
        self.error("fs.remove", ("not_found",), session=sid, path="a/b/f2")
        self.error("fs.remove", session=sid, path="a/b")
        self.assertTrue(os.path.isfile(self.disk(srv, "a/b/c/f3")))
        # recursive: the whole tree, depth first
        self.assertEqual(self.call("fs.remove", session=sid, path="a",
                                   recursive=True), {})
        self.assertFalse(os.path.exists(self.disk(srv, "a")))
        self.assertEqual(os.listdir(srv.home), [])
        self.assertEqual(self.entries(sid, ""), {})

    def test_rename(self):
        srv = self.server()
        sid = self.open(srv)
        self.call("fs.mkdir", session=sid, path="d/sub", parents=True)
        data = payload(5000, 4)
        self.put_data(sid, "d/f", data)
        self.assertEqual(self.call("fs.rename", session=sid, **{
            "from": "d/f", "to": "/d/sub/g"}), {})
        self.assertFalse(os.path.exists(self.disk(srv, "d/f")))
        self.assertEqual(self.read_disk(srv, "d/sub/g"), data)
        # a directory
        self.assertEqual(self.call("fs.rename", session=sid, **{
            "from": "d/sub", "to": "d/moved"}), {})
        self.assertEqual(self.read_disk(srv, "d/moved/g"), data)
        self.assertEqual(sorted(self.entries(sid, "d")), ["moved"])
        # RNFR of nothing: not_found, and nothing changes
        self.error("fs.rename", ("not_found",), session=sid,
                   **{"from": "d/nope", "to": "d/x"})
        self.assertEqual(sorted(os.listdir(self.disk(srv, "d"))), ["moved"])

    def test_chmod(self):
        srv = self.server()
        sid = self.open(srv)
        self.put_data(sid, "f", b"mode\n")
        self.call("fs.mkdir", session=sid, path="dir")
        path = self.disk(srv, "f")
        self.assertEqual(self.call("fs.chmod", session=sid, path="f",
                                   mode=0o600), {})
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o600)
        self.assertEqual(self.call("fs.chmod", session=sid, path="/f",
                                   mode="0640"), {})
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o640)
        self.assertEqual(self.call("fs.chmod", session=sid, path="dir",
                                   mode=0o711), {})
        self.assertEqual(os.stat(self.disk(srv, "dir")).st_mode & 0o7777,
                         0o711)
        e = self.entries(sid, "")
        if e["f"].get("perm") is not None:
            self.assertEqual(e["f"]["perm"], 0o640)
        self.error("fs.chmod", ("not_found", "ftp"), session=sid,
                   path="nope", mode=0o644)
        self.error("fs.chmod", ("params",), session=sid, path="f",
                   mode="rwx")

    def test_set_mtime(self):
        srv = self.server()
        sid = self.open(srv)
        self.put_data(sid, "f", b"time\n")
        self.assertEqual(self.call("fs.set_mtime", session=sid, path="f",
                                   mtime=T_OLD), {})
        self.assertEqual(int(os.stat(self.disk(srv, "f")).st_mtime), T_OLD)
        e = self.call("fs.stat", session=sid, path="f")
        self.assertEqual(e["mtime"], T_OLD, e)
        self.assertMtime(self.entries(sid, "")["f"]["mtime"], T_OLD, True)
        self.assertEqual(self.call("fs.set_mtime", session=sid, path="/f",
                                   mtime=T_OLD + 3601), {})
        self.assertEqual(int(os.stat(self.disk(srv, "f")).st_mtime),
                         T_OLD + 3601)
        self.error("fs.set_mtime", session=sid, path="nope", mtime=T_OLD)

    def test_quote(self):
        srv = self.server()
        sid = self.open(srv)
        r = self.call("ftp.quote", session=sid, command="NOOP")
        self.assertEqual(r["code"], 200, r)
        r = self.call("ftp.quote", session=sid, command="SYST")
        self.assertEqual(r["code"], 215, r)
        self.assertIn("UNIX", r["text"])
        # a refusal by the server is a result
        r = self.call("ftp.quote", session=sid, command="XYZZY")
        self.assertGreaterEqual(r["code"], 500, r)
        # commands that open data connections or change managed state
        for cmd in ("LIST", "list", "CWD x", "cwd x", "RETR f", "PASV", "QUIT",
                    "REST 10", "USER someone"):
            with self.subTest(command=cmd):
                self.error("ftp.quote", ("params",), session=sid,
                           command=cmd)
        # the session still works, in its login directory
        r = self.call("ftp.quote", session=sid, command="PWD")
        self.assertEqual(r["code"], 257, r)
        self.assertEqual(self.entries(sid, ""), {})

    # ---- transfers, active and passive, IPv4 and IPv6 ------------------------

    def combos(self):
        hosts = ["127.0.0.1"]
        if ipv6_loopback():
            hosts.append("::1")
        for host in hosts:
            srv = self.server(host)
            for passive in (True, False):
                yield srv, host, passive

    def test_transfers(self):
        for srv, host, passive in self.combos():
            with self.subTest(host=host, passive=passive):
                mark = self.agent.log_size()
                sid = self.open(srv, passive=passive)
                self.check_transfers(srv, sid, "p" if passive else "a")
                verbs = set(c.split()[0].upper()
                            for c in self.agent.commands(mark))
                if passive:
                    self.assertTrue(verbs & {"EPSV", "PASV"}, verbs)
                    self.assertFalse(verbs & {"EPRT", "PORT"}, verbs)
                else:
                    self.assertTrue(verbs & {"EPRT", "PORT"}, verbs)
                    self.assertFalse(verbs & {"EPSV", "PASV"}, verbs)
                if ":" in host:
                    self.assertNotIn("PORT", verbs)
                    self.assertNotIn("PASV", verbs)

    def sent(self, mark):
        """Commands the agent sent since mark (agent.log_size())."""
        return self.agent.commands(mark)

    def assertSent(self, mark, *expected):
        """The commands in expected were sent in this order (others may
        come between them); an expected item ending in a space matches a
        prefix."""
        cmds = self.sent(mark)
        i = 0
        for c in cmds:
            if i < len(expected) and (c.upper() == expected[i].upper() or (
                    expected[i].endswith(" ")
                    and c.upper().startswith(expected[i].upper()))):
                i += 1
        self.assertEqual(i, len(expected), "expected %r in order, the agent "
                         "sent %r" % (expected, cmds))
        return cmds

    def assertNotSent(self, mark, *verbs):
        cmds = self.sent(mark)
        bad = [c for c in cmds if c.split()[0].upper() in verbs]
        self.assertFalse(bad, "sent %r: %r" % (bad, cmds))

    def check_transfers(self, srv, sid, tag):
        size = 300000 + (7 if tag == "a" else 0)
        data = payload(size, 30)
        local = os.path.join(self.work, "src-" + tag)
        with open(local, "wb") as f:
            f.write(data)

        # binary both ways, with fds
        job = self.fd_call("transfer.put", local, os.O_RDONLY,
                           {"session": sid, "path": "bin-" + tag})
        self.assertEqual(job["bytes"], size, job)
        self.assertEqual(self.read_disk(srv, "bin-" + tag), data)
        out = os.path.join(self.work, "out-" + tag)
        job = self.fd_call("transfer.get", out,
                           os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                           {"session": sid, "path": "bin-" + tag})
        self.assertEqual(job["state"], "done", job)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)

        # resume an interrupted download: the local file has the start
        part = os.path.join(self.work, "part-" + tag)
        with open(part, "wb") as f:
            f.write(data[:100000])
        m = self.agent.log_size()
        job = self.fd_call("transfer.get", part, os.O_RDWR,
                           {"session": sid, "path": "bin-" + tag,
                            "offset": 100000})
        self.assertEqual(job["state"], "done", job)
        with open(part, "rb") as f:
            self.assertEqual(ftpa.sha256_bytes(f.read()),
                             ftpa.sha256_bytes(data))
        self.assertSent(m, "SIZE ", "REST 100000", "RETR ")
        # inline, from an offset: only the rest comes
        got, job = self.get_data(sid, "bin-" + tag, offset=size - 1000)
        self.assertEqual(got, data[-1000:])

        # already complete: success, nothing moved, the file unchanged
        m = self.agent.log_size()
        job = self.fd_call("transfer.get", part, os.O_RDWR,
                           {"session": sid, "path": "bin-" + tag,
                            "offset": size})
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["bytes"], 0, job)
        self.assertEqual(os.path.getsize(part), size)
        # beyond the size: an error (kind ftp), the file unchanged
        rep = self.fd_call("transfer.get", part, os.O_RDWR,
                           {"session": sid, "path": "bin-" + tag,
                            "offset": size + 1}, raw=True)
        err = self.assertRpcError(rep, ftpa.KIND_CODES["ftp"], "ftp")
        self.assertEqual(os.path.getsize(part), size)
        with open(part, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertTrue(err["message"], err)
        self.assertNotSent(m, "RETR", "REST")

        # resume an interrupted upload: REST + STOR from the offset
        self.write_disk(srv, "up-" + tag, data[:123456])
        m = self.agent.log_size()
        job = self.fd_call("transfer.put", local, os.O_RDONLY,
                           {"session": sid, "path": "up-" + tag,
                            "offset": 123456})
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(ftpa.sha256_bytes(self.read_disk(srv, "up-" + tag)),
                         ftpa.sha256_bytes(data))
        self.assertSent(m, "REST 123456", "STOR ")
        self.assertNotSent(m, "APPE")
        # append (APPE)
        self.write_disk(srv, "app-" + tag, b"head\n")
        m = self.agent.log_size()
        self.put_data(sid, "app-" + tag, b"tail\n", append=True)
        self.assertSent(m, "APPE ")
        self.assertNotSent(m, "STOR", "REST")
        self.assertEqual(self.read_disk(srv, "app-" + tag), b"head\ntail\n")
        self.put_data(sid, "app-" + tag, data[:50000], append=True)
        self.assertEqual(self.read_disk(srv, "app-" + tag),
                         b"head\ntail\n" + data[:50000])

        # ASCII upload (TEST-CASES 30): LF to CRLF, an existing CRLF kept,
        # also when its CR ends one read and its LF starts the next
        text = (b"a\nb\r\nc\nlone\rcr\n" + b"0123456\r\n" * 40000
                + b"x\n" * 40000 + b"end\n")
        m = self.agent.log_size()
        job = self.put_data(sid, "asc-" + tag, text, type="ascii")
        self.assertSent(m, "TYPE A", "STOR ")
        self.assertEqual(self.read_disk(srv, "asc-" + tag),
                         self.ascii_disk(crlf(text)))
        small = self.put_data(sid, "asc2-" + tag, b"a\nb\r\nc\n",
                              type="ascii")
        self.assertEqual(self.read_disk(srv, "asc2-" + tag),
                         self.ascii_disk(b"a\r\nb\r\nc\r\n"), small)
        # ASCII download: CRLF to LF (split across reads too), a lone CR
        # stays
        disk = (b"l1\r\nl2\r\n\r\nlone\rcr\r\n" + b"abcdefg\r\n" * 100000
                + b"tail\r\n")
        self.write_disk(srv, "dn-" + tag, disk)
        got, job = self.get_data(sid, "dn-" + tag, type="ascii")
        self.assertEqual(ftpa.sha256_bytes(got),
                         ftpa.sha256_bytes(disk.replace(b"\r\n", b"\n")))
        dest = os.path.join(self.work, "asc-out-" + tag)
        self.fd_call("transfer.get", dest,
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     {"session": sid, "path": "dn-" + tag, "type": "ascii"})
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), disk.replace(b"\r\n", b"\n"))
        # binary again afterwards: TYPE I is back, nothing converted
        m = self.agent.log_size()
        got, job = self.get_data(sid, "dn-" + tag)
        self.assertEqual(got, disk)
        self.assertSent(m, "TYPE I", "RETR ")

        # a listing over this data connection mode
        ents = self.entries(sid, "")
        self.assertEqual(ents["bin-" + tag]["size"], size)


class PyftpdFsTest(FsBase, ftpa.TestCase):
    LISTING = "mlsd"

    def server(self, host="127.0.0.1"):
        return self.start_pyftpd(host=host)

    def ascii_disk(self, wire):
        return wire.replace(b"\r\n", b"\n")     # pyftpdlib on POSIX

    # ---- ftpctl, once each ---------------------------------------------------

    def ctl(self, *args, **kw):
        return self.ftpctl(self.agent, *args, **kw)

    def need_ctl(self, command):
        r = self.ctl("help")
        listed = re.search(r"^\s+%s\b" % re.escape(command), r.text + r.errtext,
                           re.M)
        if not listed:
            self.skipTest("ftpctl command not yet available: %s" % command)

    def ctl_session(self):
        srv = self.server()
        self.ok(self.ctl("open", "s", srv.url("/"), password=srv.password))
        return srv

    def test_ftpctl_mkdir_p(self):
        self.need_ctl("mkdir")
        srv = self.ctl_session()
        self.ok(self.ctl("mkdir", "-p", "s:/t/x/y"))
        self.assertTrue(os.path.isdir(self.disk(srv, "t/x/y")))
        self.ok(self.ctl("mkdir", "-p", "s:/t/x/y"))
        self.assertNotEqual(self.ctl("mkdir", "s:/t/x").rc, 0)
        self.ok(self.ctl("mkdir", "s:/t/z"))
        self.assertTrue(os.path.isdir(self.disk(srv, "t/z")))

    def test_ftpctl_rm_r_rmdir(self):
        self.need_ctl("rm")
        self.need_ctl("rmdir")
        srv = self.ctl_session()
        os.makedirs(self.disk(srv, "t/x/y"))
        os.mkdir(self.disk(srv, "t/empty"))
        self.write_disk(srv, "t/x/f", b"1")
        self.write_disk(srv, "t/x/y/g", b"2")
        self.write_disk(srv, "t/h", b"3")
        self.ok(self.ctl("rm", "s:/t/h"))
        self.assertFalse(os.path.exists(self.disk(srv, "t/h")))
        self.ok(self.ctl("rmdir", "s:/t/empty"))
        self.assertFalse(os.path.exists(self.disk(srv, "t/empty")))
        self.assertNotEqual(self.ctl("rm", "s:/t").rc, 0)
        self.assertTrue(os.path.exists(self.disk(srv, "t/x/y/g")))
        self.ok(self.ctl("rm", "-r", "s:/t"))
        self.assertFalse(os.path.exists(self.disk(srv, "t")))

    def test_ftpctl_mv(self):
        self.need_ctl("mv")
        srv = self.ctl_session()
        self.write_disk(srv, "old", b"moved\n")
        self.ok(self.ctl("mv", "s:/old", "s:/new"))
        self.assertFalse(os.path.exists(self.disk(srv, "old")))
        self.assertEqual(self.read_disk(srv, "new"), b"moved\n")

    def test_ftpctl_chmod(self):
        self.need_ctl("chmod")
        srv = self.ctl_session()
        self.write_disk(srv, "f", b"x")
        self.ok(self.ctl("chmod", "600", "s:/f"))
        self.assertEqual(os.stat(self.disk(srv, "f")).st_mode & 0o7777, 0o600)

    def test_ftpctl_touch_d(self):
        self.need_ctl("touch")
        srv = self.ctl_session()
        self.write_disk(srv, "f", b"x")
        self.ok(self.ctl("touch", "-d", "2023-11-14T22:13:20Z", "s:/f"))
        self.assertEqual(int(os.stat(self.disk(srv, "f")).st_mtime), T_OLD)

    def test_ftpctl_quote(self):
        self.need_ctl("quote")
        self.ctl_session()
        r = self.ok(self.ctl("quote", "s", "SYST"))
        self.assertIn("215", r.text)
        r = self.ctl("quote", "s", "LIST")
        self.assertNotEqual(r.rc, 0, r)


class VsftpdFsTest(FsBase, ftpa.TestCase):
    LISTING = "list"

    def server(self, host="127.0.0.1"):
        return self.start_vsftpd(host=host, extra_conf=(
            "chmod_enable=YES", "mdtm_write=YES", "use_localtime=NO",
            "ascii_upload_enable=NO", "ascii_download_enable=NO"))

    def ascii_disk(self, wire):
        return wire                             # stored as it arrived

    def test_list_tz(self):
        """LIST dates are read in the session's list_tz (vsftpd sends UTC
        with use_localtime=NO)."""
        srv = self.server()
        self.write_disk(srv, "f", b"x")
        os.utime(self.disk(srv, "f"), (time.time(), time.time()))
        utc = self.open(srv)
        plus2 = self.open(srv, list_tz="+02:00")
        a = self.entries(utc, "")["f"]["mtime"]
        b = self.entries(plus2, "")["f"]["mtime"]
        self.assertMtime(a, int(os.stat(self.disk(srv, "f")).st_mtime), True)
        self.assertEqual(a - b, 7200, (a, b))

    def test_non_utf8_names(self):
        """vsftpd sends names as the disk has them. Bytes that are not
        UTF-8 come back as U+F700+byte, a real U+F780-U+F7FF is escaped
        byte by byte, and a name sent back as it came names the same file
        (fs.*, transfers, ftpctl with raw bytes in argv and on stdout)."""
        srv = self.server()
        latin1 = b"caf\xe9.txt"               # Latin-1, not UTF-8
        pua = "pua\uf7a9".encode()            # a real escape character
        good = "ok-\u00e9.txt".encode()       # plain UTF-8
        for raw in (latin1, pua, good):
            with open(os.path.join(srv.home.encode(), raw), "wb") as f:
                f.write(b"data of " + raw)
            os.chown(os.path.join(srv.home.encode(), raw),
                     os.stat(srv.home).st_uid, os.stat(srv.home).st_gid)
        wire = {latin1: "caf\uf7e9.txt",
                pua: "pua\uf7ef\uf79e\uf7a9",
                good: "ok-\u00e9.txt"}
        sid = self.open(srv)
        names = self.entries(sid, "")
        self.assertEqual(set(names), set(wire.values()), names)
        for raw, name in wire.items():
            got, job = self.get_data(sid, name)
            self.assertEqual(got, b"data of " + raw)
            self.assertEqual(job["path"], name)
            st = self.call("fs.stat", session=sid, path=name)
            self.assertEqual(st["size"], len(b"data of " + raw), st)
        self.call("fs.rename", session=sid, **{"from": wire[latin1],
                                               "to": "x\uf7e9"})
        self.assertTrue(os.path.exists(os.path.join(srv.home.encode(),
                                                    b"x\xe9")))
        self.put_data(sid, "new\uf7ff", b"up")
        with open(os.path.join(srv.home.encode(), b"new\xff"), "rb") as f:
            self.assertEqual(f.read(), b"up")
        self.call("fs.mkdir", session=sid, path="d\uf780")
        self.assertTrue(os.path.isdir(os.path.join(srv.home.encode(),
                                                   b"d\x80")))
        self.call("fs.remove", session=sid, path="d\uf780", recursive=True)
        self.assertFalse(os.path.exists(os.path.join(srv.home.encode(),
                                                     b"d\x80")))

        # ftpctl: raw bytes on the command line and on stdout
        def ctl(*a, **kw):
            return self.ftpctl(self.agent, *a, **kw)
        self.ok(ctl("open", "s", srv.url("/"), password=srv.password))
        r = self.ok(ctl("ls", "s:/"))
        self.assertIn(b"x\xe9\n", r.out)
        self.assertIn(pua + b"\n", r.out)
        r = self.ok(ctl("--json", "ls", "s:/"))
        self.assertIn("x\uf7e9", [e["name"] for e in r.json()["entries"]])
        out = os.path.join(self.work, "got")
        self.ok(ctl("get", b"s:/x\xe9", out))
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"data of " + latin1)
        self.ok(ctl("rm", b"s:/" + pua))
        self.assertFalse(os.path.exists(os.path.join(srv.home.encode(), pua)))


if __name__ == "__main__":
    ftpa.main()
