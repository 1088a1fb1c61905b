#!/usr/bin/python3
"""Trees: transfer.tree and the local side (issue 16; docs/protocol.md,
"Trees: transfer.tree and the local side"). Numbers are TEST-CASES.md's.

The local side is treelocal.LocalSide: a Python client that calls
transfer.tree and serves the agent's local.* requests beneath a root,
recording every request, every tree.item and every path it had to refuse.
What is asserted is what can be seen from outside the agent: the files
on both sides (sha256, mtime), the servers' command logs (pyftpd_server.py
--events, ftpmock's log, the agent's -v log for vsftpd), the requests the
local side got and the tree job the agent reports.

Here: round trips against pyftpdlib and vsftpd, and the options. The
hostile part (local sides that misbehave, ftpmock's hostile servers, bad
params, limits) is test_tree_hostile.py, which takes its helpers from
this file (TreeBase, ServerHelpers, PyftpdServer, the sample tree).
"""
import os
import socket
import stat
import sys
import time

import ftpa
from treelocal import LocalSide, job_of, name_escape, name_unescape, snapshot

MOCK_PW = "mockpw"
MIB = 1 << 20

# the sample tree: relative bytes path -> size (files), or None (dirs)
SAMPLE = [
    (b"a.txt", 1000),
    (b"zero.txt", 0),
    (b"with space.txt", 5000),
    (b"dir one", None),
    (b"dir one/inner file", 70000),
    (b"dir one/sub", None),
    (b"dir one/sub/deep.bin", 300000),
    (b"dir one/sub/empty2", None),
    (b"empty", None),
    (b"nested", None),
    (b"nested/x", None),
    (b"nested/x/y", None),
    (b"nested/x/y/z", None),
    (b"nested/x/y/z/leaf.txt", 10),
    (b"caf\xe9.bin", 123),             # Latin-1, not UTF-8
]
BYTE_NAME = b"caf\xe9.bin"


def note(fmt, *args):
    sys.stderr.write("  [%s]\n" % (fmt % args))


def make_sample(root, byte_names=True, owner=None, entries=SAMPLE):
    """Writes the sample tree beneath root (bytes or str). Files get
    mtimes on whole minutes a few days back (so LIST dates, to the
    minute, say them exactly). Returns {rel: size or None}."""
    root = os.fsencode(root)
    base = (int(time.time()) - 3 * 86400) // 60 * 60
    out = {}
    for i, (rel, size) in enumerate(entries):
        if not byte_names and rel == BYTE_NAME:
            continue
        p = os.path.join(root, rel)
        if size is None:
            os.makedirs(p, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            ftpa.make_file(p, size)
            os.utime(p, (base - i * 60, base - i * 60))
        out[rel] = size
    if owner is not None:
        for rel in [b""] + list(out):
            os.chown(os.path.join(root, rel), owner[0], owner[1])
    return out


def files_of(sample):
    return {r for r, s in sample.items() if s is not None}


def dirs_of(sample):
    return {r for r, s in sample.items() if s is None}


class TreeBase(ftpa.TestCase):
    """An agent, a connection to it, and helpers."""

    def setUp(self):
        super().setUp()
        self.agent = self.start_agent()
        self.rpc = self.client()

    def client(self, timeout=60):
        r = self.agent.rpc(timeout=timeout)
        self.addCleanup(r.close)
        return r

    def sid(self, srv, rpc=None, **opts):
        p = {"url": srv.url("/"), "password": srv.password or MOCK_PW}
        p.update(opts)
        return (rpc or self.rpc).call("session.open", p, timeout=30)["session"]

    def tree(self, sid, direction, path, root, side=None, rpc=None,
             timeout=120, idle=60, **params):
        """transfer.tree served by side (a LocalSide of root by default);
        returns (reply, side)."""
        side = side or LocalSide(root)
        p = {"session": sid, "direction": direction, "path": path}
        p.update(params)
        reply = side.tree(rpc or self.rpc, p, timeout=timeout, idle=idle)
        return reply, side

    def assertTreeJob(self, reply, state):
        """The reply's job object, in state, with a tree member."""
        self.assertIsNotNone(reply, "no reply")
        job = job_of(reply)
        self.assertIsInstance(job, dict, "no job object in %r" % (reply,))
        self.assertEqual(job.get("state"), state, reply)
        if state == "done":
            self.assertIn("result", reply, reply)
        else:
            self.assertIn("error", reply, reply)
        t = job.get("tree")
        self.assertIsInstance(t, dict, "no tree member: %r" % (job,))
        for k in ("files", "files_total", "dirs", "skipped", "deleted",
                  "failed"):
            self.assertIsInstance(t.get(k), int, "tree.%s: %r" % (k, t))
        self.assertIsInstance(t.get("failures"), list, t)
        self.assertFalse(t.get("walking"), t)
        return job

    def assertCleanSide(self, side):
        """The agent kept to the contract with this local side."""
        self.assertEqual(side.refused, [], "paths the agent should never "
                         "have sent")
        self.assertEqual(side.anomalies, [])
        for m in side.methods():
            self.assertIn(m, LocalSide.METHODS)

    def assertSameTree(self, src, dst, times=True, skip=()):
        """Every file and directory of src is in dst, files byte for
        byte (and mtime when times); nothing else is in dst."""
        a = {k: v for k, v in snapshot(src).items() if k not in skip}
        b = snapshot(dst)
        self.assertEqual(sorted(a), sorted(b), "different entries")
        for rel, (kind, size, mtime, sha) in a.items():
            self.assertEqual(b[rel][0], kind, rel)
            if kind == "file":
                self.assertEqual(b[rel][3], sha, "content of %r" % rel)
                if times:
                    self.assertEqual(b[rel][2], mtime, "mtime of %r" % rel)

    def assertNoPart(self, root):
        parts = [r for r in snapshot(root) if r.endswith(b".part")]
        self.assertEqual(parts, [], "NAME.part files left")


class ServerHelpers:
    """Where a server keeps the files a test puts there."""

    byte_names = True       # the server can serve names that are not UTF-8
    times_on_put = True     # uploads keep their mtimes (MFMT / MDTM)

    def remote(self, srv, *rel):
        return os.path.join(os.fsencode(srv.home), *[os.fsencode(r)
                                                     for r in rel])

    def sample_on_server(self, srv, sub="src", entries=SAMPLE):
        root = self.remote(srv, sub)
        st = os.stat(srv.home)
        os.makedirs(root)
        return root, make_sample(root, self.byte_names,
                                 (st.st_uid, st.st_gid), entries)


class ServerTrees(ServerHelpers):
    """Tests that run against a real server; subclasses say which
    (server(), mark(), commands_since())."""

    # -- download
    def test_download_tree(self):
        """Empty directories, spaces, a name that is not UTF-8, nested
        directories: every file byte-identical, mtimes kept, an item for
        each file, no NAME.part left, only checked relative paths."""
        srv = self.server()
        src, sample = self.sample_on_server(srv)
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst, items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertSameTree(src, dst, times=True)
        self.assertNoPart(dst)
        t = job["tree"]
        files = files_of(sample)
        self.assertEqual(t["files"], len(files), t)
        self.assertEqual(t["files_total"], len(files), t)
        self.assertEqual(t["failed"], 0, t)
        self.assertEqual(t["failures"], [], t)
        self.assertEqual(job["direction"], "get")
        self.assertEqual(job["bytes"], sum(s for s in sample.values()
                                           if s), job)
        got = {name_unescape(p) for p, acts in side.item_actions().items()
               if "get" in acts}
        self.assertEqual(got, files, "tree.item get actions")
        for it in side.items:
            self.assertEqual(it.get("job"), job["job"], it)
            self.assertEqual(it.get("request"), side.request_id, it)
        # the non-UTF-8 name travelled in its escaped form
        if self.byte_names:
            self.assertIn(name_escape(BYTE_NAME), side.paths("local.open"))
        # nothing about the job after its reply
        try:
            late = self.rpc.recv(0.5)
        except socket.timeout:
            late = None
        self.assertIsNone(late, "a message after the tree's reply")
        # every file written was opened for writing and committed
        opened = {name_unescape(p["path"]) for m, p in side.requests
                  if m == "local.open" and p.get("write")}
        committed = {name_unescape(p) for p in side.paths("local.commit")}
        self.assertEqual(opened, files)
        self.assertEqual(committed, files)

    def test_second_run_transfers_nothing(self):
        """An unchanged tree: nothing moves, every file is skipped, each
        directory is listed once."""
        srv = self.server()
        src, sample = self.sample_on_server(srv)
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, _ = self.tree(sid, "get", "/src", dst)
        self.assertTreeJob(reply, "done")
        mark = self.mark(srv)
        reply, side = self.tree(sid, "get", "/src", dst, items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        t = job["tree"]
        nfiles = len(files_of(sample))
        self.assertEqual(t["files"], 0, t)
        self.assertEqual(t["skipped"], nfiles, t)
        self.assertEqual(t["failed"], 0, t)
        self.assertEqual(job["bytes"], 0, job)
        cmds = self.commands_since(srv, mark)
        lists = [c for c in cmds
                 if c.split(" ")[0].upper() in ("LIST", "MLSD", "NLST")]
        retrs = [c for c in cmds if c.upper().startswith("RETR")]
        self.assertEqual(retrs, [])
        ndirs = len(dirs_of(sample)) + 1        # and the root
        self.assertEqual(len(lists), ndirs, "one listing per directory: %r"
                         % lists)
        self.assertNotIn("local.open", side.methods())
        self.assertNotIn("local.commit", side.methods())
        skipped = {name_unescape(p) for p, a in side.item_actions().items()
                   if "skip" in a}
        self.assertEqual(skipped, files_of(sample))
        self.assertSameTree(src, dst)

    # -- upload
    def test_put_round_trip(self):
        """A local tree put on the server and fetched elsewhere: the same
        bytes, names and (where the server can set them) mtimes."""
        srv = self.server()
        local = self.tmpdir()
        sample = make_sample(local, self.byte_names)
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        sid = self.sid(srv)
        reply, side = self.tree(sid, "put", "/up", local, items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertEqual(job["direction"], "put")
        self.assertEqual(job["tree"]["files"], len(files_of(sample)))
        # the local side was only read
        for m, p in side.requests:
            self.assertIn(m, ("local.list", "local.open"), (m, p))
            if m == "local.open":
                self.assertIs(p.get("write"), False, p)
        self.assertSameTree(local, self.remote(srv, "up"),
                            times=self.times_on_put)
        back = self.tmpdir()
        reply, side = self.tree(sid, "get", "/up", back)
        self.assertTreeJob(reply, "done")
        self.assertSameTree(local, back, times=self.times_on_put)

    def test_put_second_run_transfers_nothing(self):
        srv = self.server()
        local = self.tmpdir()
        sample = make_sample(local, self.byte_names)
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        sid = self.sid(srv)
        reply, _ = self.tree(sid, "put", "/up", local)
        self.assertTreeJob(reply, "done")
        if not self.times_on_put:
            return
        mark = self.mark(srv)
        reply, side = self.tree(sid, "put", "/up", local)
        job = self.assertTreeJob(reply, "done")
        self.assertEqual(job["tree"]["files"], 0, job)
        self.assertEqual(job["tree"]["skipped"], len(files_of(sample)), job)
        self.assertEqual([c for c in self.commands_since(srv, mark)
                          if c.upper().startswith(("STOR", "APPE"))], [])
        self.assertNotIn("local.open", side.methods())

    def test_put_delete_extra_remote(self):
        """put with delete: what the server has and the local tree lacks
        is removed (files and whole directories), nothing else."""
        srv = self.server()
        local = self.tmpdir()
        make_sample(local, False)
        st = os.stat(srv.home)
        up = self.remote(srv, "up")
        os.mkdir(up)
        os.chown(up, st.st_uid, st.st_gid)
        sid = self.sid(srv)
        reply, _ = self.tree(sid, "put", "/up", local)
        self.assertTreeJob(reply, "done")
        for rel in (b"extra.txt", b"dir one/sub/extra2.txt",
                    b"gone/deeper/f"):
            p = os.path.join(up, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(b"only on the server")
        for d, _, fs in os.walk(up):
            for n in [d] + [os.path.join(d, f) for f in fs]:
                os.chown(n, st.st_uid, st.st_gid)
        reply, side = self.tree(sid, "put", "/up", local, delete=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertGreaterEqual(job["tree"]["deleted"], 3, job)
        self.assertSameTree(local, up, times=self.times_on_put)
        self.assertNotIn("local.remove", side.methods())

    def test_put_skips_local_links(self):
        """Links in a local tree are skipped on upload (symlinks: skip):
        nothing behind them reaches the server."""
        srv = self.server()
        local = self.tmpdir()
        make_sample(local, False, entries=[(b"a.txt", 100)])
        os.symlink("/etc/passwd", os.path.join(local, "passwd"))
        os.symlink("/etc", os.path.join(local, "etc"))
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        sid = self.sid(srv)
        reply, side = self.tree(sid, "put", "/up", local, items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertEqual(sorted(os.listdir(self.remote(srv, "up"))),
                         [b"a.txt"])
        self.assertGreaterEqual(job["tree"]["skipped"], 2, job)
        self.assertEqual(job["tree"]["files"], 1, job)
        for p in side.paths("local.open") + side.paths("local.list"):
            self.assertNotIn(p.split("/")[0], ("passwd", "etc"), p)

    # -- delete
    def test_delete_extra_local_files(self):
        srv = self.server()
        src, sample = self.sample_on_server(srv)
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, _ = self.tree(sid, "get", "/src", dst)
        self.assertTreeJob(reply, "done")
        extra = [b"extra.txt", b"dir one/sub/extra2.txt", b"gone dir"]
        for rel in extra[:2]:
            with open(os.path.join(os.fsencode(dst), rel), "wb") as f:
                f.write(b"not on the server")
        os.makedirs(os.path.join(os.fsencode(dst), b"gone dir/deeper"))
        with open(os.path.join(os.fsencode(dst), b"gone dir/deeper/f"),
                  "wb") as f:
            f.write(b"x")
        reply, side = self.tree(sid, "get", "/src", dst, delete=True,
                                items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertGreaterEqual(job["tree"]["deleted"], len(extra), job)
        for rel in extra:
            self.assertFalse(os.path.lexists(os.path.join(os.fsencode(dst),
                                                          rel)), rel)
        self.assertSameTree(src, dst)
        removed = {name_unescape(p) for p in side.paths("local.remove")}
        self.assertTrue(removed, "no local.remove sent")
        for rel in removed:
            self.assertTrue(any(rel == e or rel.startswith(e + b"/")
                                for e in extra),
                            "removed %r, which the server has" % rel)
        deleted = {name_unescape(p) for p, a in side.item_actions().items()
                   if "delete" in a}
        self.assertTrue(deleted >= set(extra[:2]), deleted)
        for rel in deleted:
            self.assertTrue(any(rel == e or rel.startswith(e + b"/")
                                for e in extra), rel)

    # -- dry run
    def test_dry_run_get(self):
        srv = self.server()
        src, sample = self.sample_on_server(srv)
        sid = self.sid(srv)
        dst = self.tmpdir()
        with open(os.path.join(dst, "extra.txt"), "w") as f:
            f.write("stays")
        before_local, before_remote = snapshot(dst), snapshot(src)
        mark = self.mark(srv)
        reply, side = self.tree(sid, "get", "/src", dst, dry_run=True,
                                items=True, delete=True)
        job = self.assertTreeJob(reply, "done")
        self.assertIs(job["tree"]["dry_run"], True, job)
        self.assertCleanSide(side)
        self.assertEqual(set(side.methods()), {"local.list"})
        self.assertEqual(snapshot(dst), before_local)
        self.assertEqual(snapshot(src), before_remote)
        cmds = self.commands_since(srv, mark)
        self.assertEqual([c for c in cmds if c.upper().startswith(
            ("RETR", "STOR", "DELE", "RMD", "MKD", "RNFR", "APPE"))], [])
        plan = {name_unescape(p) for p, a in side.item_actions().items()
                if "get" in a}
        self.assertEqual(plan, files_of(sample), "the plan's gets")
        planned_del = {name_unescape(p) for p, a
                       in side.item_actions().items() if "delete" in a}
        self.assertEqual(planned_del, {b"extra.txt"})

    def test_dry_run_put(self):
        srv = self.server()
        local = self.tmpdir()
        sample = make_sample(local, self.byte_names)
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        before = snapshot(local)
        mark = self.mark(srv)
        sid = self.sid(srv)
        reply, side = self.tree(sid, "put", "/up", local, dry_run=True,
                                items=True)
        job = self.assertTreeJob(reply, "done")
        self.assertIs(job["tree"]["dry_run"], True, job)
        self.assertEqual(set(side.methods()), {"local.list"})
        self.assertEqual(snapshot(local), before)
        self.assertEqual(os.listdir(self.remote(srv, "up")), [])
        self.assertEqual([c for c in self.commands_since(srv, mark)
                          if c.upper().startswith(("STOR", "MKD", "APPE",
                                                   "DELE", "RMD"))], [])
        plan = {name_unescape(p) for p, a in side.item_actions().items()
                if "put" in a}
        self.assertEqual(plan, files_of(sample))


class PyftpdServer:
    """pyftpdlib with its --events log (byte names served as bytes)."""

    def server(self, **kw):
        return self.start_pyftpd(events=True, byte_names=True, **kw)

    def mark(self, srv):
        return len(srv.commands())

    def commands_since(self, srv, mark):
        time.sleep(0.2)         # the events log is written as it goes
        return srv.commands()[mark:]


class PyftpdTreeTest(PyftpdServer, ServerTrees, TreeBase):
    """pyftpdlib: MLSD, MFMT."""

    def test_put_round_trip(self):
        # pyftpdlib answers MFMT on a name that is not UTF-8 with 501
        # after setting the time: the upload round trip leaves that name
        # out (test_download_tree and vsftpd cover it)
        self.byte_names = False
        ServerTrees.test_put_round_trip(self)

    def test_put_second_run_transfers_nothing(self):
        self.byte_names = False
        ServerTrees.test_put_second_run_transfers_nothing(self)

    def test_dry_run_put(self):
        self.byte_names = False
        ServerTrees.test_dry_run_put(self)

    def test_mfmt_sent_on_put(self):
        """times on upload: MFMT (pyftpdlib has it) for every file."""
        srv = self.server()
        local = self.tmpdir()
        sample = make_sample(local, False)
        os.mkdir(self.remote(srv, "up"))
        sid = self.sid(srv)
        reply, _ = self.tree(sid, "put", "/up", local)
        self.assertTreeJob(reply, "done")
        time.sleep(0.2)
        mfmt = [c for c in srv.commands() if c.upper().startswith("MFMT")]
        self.assertEqual(len(mfmt), len(files_of(sample)), mfmt)

    # -- selection
    def selection(self, **params):
        srv = self.server()
        src, sample = self.sample_on_server(srv, entries=SAMPLE + [
            (b"logs", None), (b"logs/a.gz", 100), (b"logs/b.gz", 200),
            (b"logs/c.txt", 300), (b"logs/old", None),
            (b"logs/old/d.gz", 400), (b"top.gz", 50)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst, items=True,
                                **params)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        snap = snapshot(dst)
        got = {r for r, v in snap.items() if v[0] == "file"}
        for r in got:
            self.assertEqual(snap[r][3],
                             ftpa.sha256_file(os.path.join(src, r)), r)
        return got, job, side, sample

    def test_include(self):
        got, job, _, sample = self.selection(include=["*.gz"])
        self.assertEqual(got, {b"logs/a.gz", b"logs/b.gz", b"logs/old/d.gz",
                               b"top.gz"})
        self.assertEqual(job["tree"]["files"], 4, job)

    def test_include_with_slash(self):
        got, _, _, _ = self.selection(include=["logs/*.gz"])
        # FNM_PATHNAME: "*" does not cross "/", so logs/old/d.gz is out
        self.assertEqual(got, {b"logs/a.gz", b"logs/b.gz"})

    def test_exclude(self):
        got, _, side, sample = self.selection(exclude=["*.gz", "sub"])
        want = {r for r in files_of(sample)
                if not r.endswith(b".gz") and not r.startswith(b"dir one/sub/")}
        self.assertEqual(got, want)
        # an excluded directory is not even walked
        self.assertFalse(any(p.startswith("dir one/sub")
                             for p in side.paths("local.list")),
                         side.paths("local.list"))

    def test_max_depth(self):
        got, _, _, sample = self.selection(max_depth=1)
        want = {r for r in files_of(sample) if r.count(b"/") <= 1}
        self.assertEqual(got, want)
        got, _, _, sample = self.selection(max_depth=0)
        self.assertEqual(got, {r for r in files_of(sample) if b"/" not in r})

    def test_glob_form(self):
        """ftpctl get 's:/logs/*.gz': max_depth 0, include *.gz, compare
        all: the matching files of one directory, every time."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.gz", 100), (b"b.gz", 200), (b"c.txt", 300), (b"old", None),
            (b"old/d.gz", 400)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        for run in (1, 2):
            mark = self.mark(srv)
            reply, side = self.tree(sid, "get", "/src", dst, max_depth=0,
                                    include=["*.gz"], compare="all")
            job = self.assertTreeJob(reply, "done")
            self.assertEqual(job["tree"]["files"], 2, (run, job))
            got = {r for r, v in snapshot(dst).items() if v[0] == "file"}
            self.assertEqual(got, {b"a.gz", b"b.gz"})
            retr = sorted(c for c in self.commands_since(srv, mark)
                          if c.upper().startswith("RETR"))
            self.assertEqual(len(retr), 2, retr)
            lists = [c for c in self.commands_since(srv, mark)
                     if c.upper().startswith(("MLSD", "LIST", "NLST"))]
            self.assertEqual(len(lists), 1, lists)
        self.assertFalse(os.path.exists(os.path.join(dst, "old")))

    def test_compare_missing_and_newer_only(self):
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"same.txt", 100), (b"changed.txt", 200)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, _ = self.tree(sid, "get", "/src", dst)
        self.assertTreeJob(reply, "done")
        # the local copy differs in size, and is newer than the server's
        with open(os.path.join(dst, "changed.txt"), "ab") as f:
            f.write(b"more")
        os.utime(os.path.join(dst, "changed.txt"), (time.time(),
                                                    time.time()))
        local = ftpa.sha256_file(os.path.join(dst, "changed.txt"))
        reply, _ = self.tree(sid, "get", "/src", dst, compare="missing")
        job = self.assertTreeJob(reply, "done")
        self.assertEqual(job["tree"]["files"], 0, job)
        reply, _ = self.tree(sid, "get", "/src", dst, newer_only=True)
        job = self.assertTreeJob(reply, "done")
        self.assertEqual(job["tree"]["files"], 0, job)
        self.assertEqual(ftpa.sha256_file(os.path.join(dst, "changed.txt")),
                         local)
        reply, _ = self.tree(sid, "get", "/src", dst)      # differ
        job = self.assertTreeJob(reply, "done")
        self.assertEqual(job["tree"]["files"], 1, job)
        self.assertSameTree(src, dst)

    # -- continue
    def test_continue_resumes_part(self):
        """A NAME.part left by an earlier run is resumed with REST at its
        size; the final file is whole and the .part gone."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"big.bin", 3 * MIB), (b"small.txt", 10)])
        dst = self.tmpdir()
        with open(os.path.join(src, b"big.bin"), "rb") as f:
            head = f.read(MIB + 12345)
        with open(os.path.join(dst, "big.bin.part"), "wb") as f:
            f.write(head)
        sid = self.sid(srv)
        mark = self.mark(srv)
        reply, side = self.tree(sid, "get", "/src", dst)
        self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        cmds = self.commands_since(srv, mark)
        self.assertIn("REST %d" % len(head), cmds)
        opens = [p for m, p in side.requests if m == "local.open"
                 and p.get("path") == "big.bin"]
        self.assertEqual(len(opens), 1, opens)
        self.assertIs(opens[0].get("resume"), True, opens)
        self.assertSameTree(src, dst)
        self.assertNoPart(dst)
        # continue: false starts over
        with open(os.path.join(dst, "small.txt.part"), "wb") as f:
            f.write(b"0123456789abc")
        os.unlink(os.path.join(dst, "small.txt"))
        reply, side = self.tree(sid, "get", "/src", dst,
                                **{"continue": False})
        self.assertTreeJob(reply, "done")
        opens = [p for m, p in side.requests if m == "local.open"]
        self.assertEqual([p.get("resume") for p in opens], [False])
        self.assertSameTree(src, dst)

    # -- the calling connection
    def test_two_trees_at_once(self):
        """Two trees of one session from two connections at the same
        time: each connection gets only its own job's requests, both
        complete."""
        import threading
        srv = self.server()
        src, _ = self.sample_on_server(srv)
        sid = self.sid(srv)
        out = {}

        def run(k):
            try:
                dst = out[k + "dst"]
                rpc = out[k + "rpc"]
                side = LocalSide(dst)
                out[k] = (side.tree(rpc, {"session": sid, "direction": "get",
                                          "path": "/src", "parallel": 2},
                                    timeout=120), side)
            except BaseException as e:     # reported below
                out[k] = e
        threads = []
        for k in ("one", "two"):
            out[k + "dst"] = self.tmpdir()
            out[k + "rpc"] = self.client()
            threads.append(threading.Thread(target=run, args=(k,)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        jobs = set()
        for k in ("one", "two"):
            self.assertIsInstance(out.get(k), tuple, out.get(k))
            reply, side = out[k]
            job = self.assertTreeJob(reply, "done")
            self.assertCleanSide(side)        # no other job's requests
            jobs.add(job["job"])
            self.assertSameTree(src, out[k + "dst"])
        self.assertEqual(len(jobs), 2)

    def test_progress_and_wait_false(self):
        """wait: false replies {job} at once; the connection keeps serving
        the tree, job.progress carries request, job.wait sees it done."""
        srv = self.server()
        src, sample = self.sample_on_server(srv)
        sid = self.sid(srv)
        dst = self.tmpdir()
        side = LocalSide(dst)
        rid = side.start(self.rpc, {"session": sid, "direction": "get",
                                    "path": "/src", "wait": False,
                                    "progress": True})
        side.serve(lambda: rid in side.replies, 30, what="the {job} reply")
        res = side.replies[rid].get("result")
        self.assertIsInstance(res, dict, side.replies[rid])
        self.assertIsInstance(res.get("job"), str, res)
        job_id = res["job"]
        other = self.client()
        done = {}

        def ended():
            if "j" not in done:
                try:
                    j = other.call("job.wait", {"job": job_id,
                                                "timeout": 0.05})
                    done["j"] = j
                except ftpa.RpcError as e:
                    self.assertEqual(e.kind, "timeout")
            return "j" in done
        # job.wait on another connection while this one serves local.*
        side.serve(ended, 60, what="the tree to end")
        self.assertEqual(done["j"]["state"], "done", done)
        self.assertEqual(done["j"]["tree"]["files"], len(files_of(sample)))
        self.assertSameTree(src, dst)
        self.assertTrue(side.progress, "no job.progress")
        for p in side.progress:
            self.assertEqual(p.get("job"), job_id, p)
            self.assertEqual(p.get("request"), rid, p)
            self.assertIn("tree", p, p)


class VsftpdTreeTest(ServerTrees, TreeBase):
    """vsftpd: LIST only (no MLSD), MDTM, names as the disk has them."""

    def server(self):
        srv = self.start_vsftpd()
        return srv

    def mark(self, srv):
        return self.agent.log_size()

    def test_23_tls_strict_tree(self):
        """[23] A tree over FTPS against vsftpd requiring TLS session
        reuse on data connections, parallel 4, TLS 1.2 and 1.3: every
        data connection accepted, get and put complete."""
        for version in ("1.2", "1.3"):
            with self.subTest(tls=version):
                srv = self.start_vsftpd(tls="explicit", tls_version=version)
                entries = [(b"f%02d.bin" % i, (i * 7919) % 50000)
                           for i in range(40)] + [
                    (b"sub", None), (b"sub/inner.bin", 70000)]
                src, _ = self.sample_on_server(srv, entries=entries)
                sid = self.rpc.call("session.open", {
                    "url": srv.url("/", scheme="ftpes"),
                    "password": srv.password,
                    "ca_file": ftpa.certs().ca}, timeout=30)["session"]
                dst = self.tmpdir()
                reply, side = self.tree(sid, "get", "/src", dst, parallel=4)
                self.assertTreeJob(reply, "done")
                self.assertSameTree(src, dst)
                st = os.stat(srv.home)
                os.mkdir(self.remote(srv, "up"))
                os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
                reply, side = self.tree(sid, "put", "/up", dst, parallel=4)
                self.assertTreeJob(reply, "done")
                self.assertSameTree(dst, self.remote(srv, "up"))
                with open(srv.log, "rb") as f:
                    self.assertNotIn(b"No SSL session reuse", f.read())

    def test_perms(self):
        """perms: true gives downloads the LIST's permission bits; and
        uploads get theirs with SITE CHMOD."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"private.txt", 10), (b"script.sh", 20), (b"plain.txt", 30)])
        os.chmod(os.path.join(src, b"private.txt"), 0o600)
        os.chmod(os.path.join(src, b"script.sh"), 0o755)
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst, perms=True)
        self.assertTreeJob(reply, "done")
        for n, mode in (("private.txt", 0o600), ("script.sh", 0o755),
                        ("plain.txt", 0o644)):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(dst, n))
                                          .st_mode), mode, n)
        commits = {p["path"]: p.get("perm") for m, p in side.requests
                   if m == "local.commit"}
        self.assertEqual(commits.get("private.txt"), 0o600, commits)
        # and back up: SITE CHMOD
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        reply, _ = self.tree(sid, "put", "/up", dst, perms=True)
        self.assertTreeJob(reply, "done")
        for n, mode in (("private.txt", 0o600), ("script.sh", 0o755)):
            self.assertEqual(stat.S_IMODE(os.stat(self.remote(
                srv, "up", n)).st_mode), mode, n)

    def test_symlinks_follow(self):
        """vsftpd's LIST shows links as links: skip (the default) leaves
        them out; follow (get only) fetches what they point to, a file
        or a directory, as real files and directories."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"d", None), (b"d/b.txt", 200)])
        os.symlink("a.txt", os.path.join(src, b"lnk"))
        os.symlink("d", os.path.join(src, b"ldir"))
        os.symlink("missing", os.path.join(src, b"dangling"))
        for n in (b"lnk", b"ldir", b"dangling"):
            os.lchown(os.path.join(src, n), *self.owner(srv))
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst)
        job = self.assertTreeJob(reply, "done")
        self.assertGreaterEqual(job["tree"]["skipped"], 2, job)
        self.assertEqual(sorted(os.listdir(dst)), ["a.txt", "d"])
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst, symlinks="follow")
        job = job_of(reply)
        self.assertIsNotNone(job, reply)
        self.assertCleanSide(side)
        note("symlinks follow: %s, tree %r", job["state"], job["tree"])
        snap = snapshot(dst)
        self.assertEqual(snap[b"lnk"][0], "file", snap)
        self.assertEqual(snap[b"lnk"][3],
                         ftpa.sha256_file(os.path.join(src, b"a.txt")))
        self.assertEqual(snap[b"ldir"][0], "dir", snap)
        self.assertEqual(snap[b"ldir/b.txt"][3],
                         ftpa.sha256_file(os.path.join(src, b"d/b.txt")))
        self.assertNotIn("link", [v[0] for v in snap.values()])

    def owner(self, srv):
        st = os.stat(srv.home)
        return st.st_uid, st.st_gid

    def commands_since(self, srv, mark):
        return self.agent.commands(mark)




if __name__ == "__main__":
    ftpa.main()
