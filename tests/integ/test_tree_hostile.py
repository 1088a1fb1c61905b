#!/usr/bin/python3
"""Trees, the hostile part (issue 16; docs/protocol.md, "Trees" and
"Hostile names and limits"). Numbers are TEST-CASES.md's.

  PyftpdLocalSideTest  a local side (treelocal.LocalSide) that misbehaves
                       against pyftpdlib: it closes mid-tree, never
                       answers, answers with errors, wrong descriptors or
                       hostile names; bad transfer.tree params; a
                       missing root; 10,000 files.
  MockTreeTest         ftpmock's tree_* scenarios (tests/ftpmock_tree.py):
                       hostile names, loops, 200 levels, a listing that
                       fails, a file that fails.

The helpers (TreeBase, the sample tree, the pyftpdlib server) are
test_tree.py's; see its docstring for what is asserted and how.
"""
import os
import time

import ftpa
import ftpmock_tree
import test_tree as tt
import treelocal
from test_tree import MOCK_PW, note
from treelocal import LocalSide, job_of, snapshot


class PyftpdLocalSideTest(tt.PyftpdServer, tt.ServerHelpers, tt.TreeBase):
    """pyftpdlib, and a local side or a caller that misbehaves."""


    def test_caller_closes_mid_tree(self):
        """[31] The connection that started the tree closes: the job is
        cancelled, and the agent serves the next tree."""
        srv = self.server(rate=200000)
        src, _ = self.sample_on_server(srv, entries=[
            (b"f%02d.bin" % i, 100000) for i in range(12)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        caller = self.client()
        side = LocalSide(dst, close_on=("local.open", 3))
        reply = side.tree(caller, {"session": sid, "direction": "get",
                                   "path": "/src", "parallel": 2},
                          timeout=60)
        self.assertIsNone(reply)
        self.assertTrue(side.closed)
        self.assertIsNotNone(side.job)
        other = self.client()

        def cancelled():
            j = other.call("job.status", {"job": side.job})
            self.assertNotEqual(j["state"], "done", j)
            return j["state"] == "cancelled" and j
        ftpa.wait_until(cancelled, 20, what="the tree to be cancelled")
        self.assertEqual(other.call("agent.ping"), {})
        # what was written stays: whole files, and prefixes as NAME.part
        for rel, (kind, size, _, sha) in snapshot(dst).items():
            self.assertEqual(kind, "file", rel)
            if rel.endswith(b".part"):
                with open(os.path.join(src, rel[:-5]), "rb") as f:
                    head = f.read(size)
                self.assertEqual(ftpa.sha256_bytes(head), sha, rel)
            else:
                self.assertEqual(ftpa.sha256_file(os.path.join(src, rel)),
                                 sha, rel)
        # it does not go on transferring
        time.sleep(1.5)
        n = len([e for e in srv.events() if e["ev"] == "file_sent"])
        time.sleep(1.5)
        self.assertEqual(len([e for e in srv.events()
                              if e["ev"] == "file_sent"]), n)
        dst2 = self.tmpdir()
        reply, side2 = self.tree(sid, "get", "/src", dst2, rpc=other)
        self.assertTreeJob(reply, "done")
        self.assertSameTree(src, dst2)

    def test_caller_closes_with_a_request_pending(self):
        """The caller closes while the agent waits for its answer to
        local.open: the job is cancelled at once (not after the 30 s of
        the answer), and the same files can be fetched again."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"b.txt", 200)])
        sid = self.sid(srv)
        caller = self.client()
        dst = self.tmpdir()
        side = LocalSide(dst, never={"local.open"})
        side.start(caller, {"session": sid, "direction": "get",
                            "path": "/src"})
        side.serve(lambda: "local.open" in side.methods(), 30,
                   what="a local.open")
        time.sleep(0.5)
        side.close()
        t0 = time.monotonic()
        other = self.client()
        ftpa.wait_until(lambda: other.call("job.status", {"job": side.job})
                        ["state"] == "cancelled", 10,
                        what="the tree to be cancelled")
        self.assertLess(time.monotonic() - t0, 10)
        reply, _ = self.tree(sid, "get", "/src", dst, rpc=other)
        self.assertTreeJob(reply, "done")
        self.assertSameTree(src, dst)

    def test_local_open_never_answered(self):
        """A local side that never answers local.open for one file: that
        file fails (kind timeout) after about 30 s, the others arrive."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"slow.txt", 200), (b"b.txt", 300)])
        sid = self.sid(srv)
        dst = self.tmpdir()

        def hook(method, params):
            if method == "local.open" and params.get("path") == "slow.txt":
                return ("never",)
        t0 = time.monotonic()
        reply, side = self.tree(sid, "get", "/src", dst,
                                side=LocalSide(dst, hook=hook), timeout=90,
                                idle=70)
        took = time.monotonic() - t0
        job = self.assertTreeJob(reply, "failed")
        note("tree with an unanswered local.open ended after %.1f s", took)
        self.assertLess(took, 60)
        self.assertGreater(took, 20)
        t = job["tree"]
        self.assertEqual(t["failed"], 1, t)
        self.assertEqual(t["failures"][0]["path"], "slow.txt", t)
        self.assertEqual(t["failures"][0]["error"]["data"]["kind"],
                         "timeout", t)
        for n in ("a.txt", "b.txt"):
            self.assertEqual(ftpa.sha256_file(os.path.join(dst, n)),
                             ftpa.sha256_file(os.path.join(src, n.encode())))
        self.assertFalse(os.path.exists(os.path.join(dst, "slow.txt")))

    def test_local_errors_fail_that_file(self):
        """local.commit answered with an error, local.open slowly, and a
        method the client does not serve: each fails only its own step."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"denied.txt", 200), (b"late.txt", 300)])
        sid = self.sid(srv)
        dst = self.tmpdir()

        def hook(method, params):
            if method == "local.commit" and params["path"] == "denied.txt":
                return ("error", "permission")
            if method == "local.open" and params["path"] == "late.txt":
                return ("delay", 3)
        reply, side = self.tree(sid, "get", "/src", dst,
                                side=LocalSide(dst, hook=hook))
        job = self.assertTreeJob(reply, "failed")
        t = job["tree"]
        self.assertEqual(t["failed"], 1, t)
        self.assertEqual(t["failures"][0]["path"], "denied.txt", t)
        self.assertEqual(t["failures"][0]["error"]["data"]["kind"],
                         "permission", t)
        self.assertEqual(job["error"]["data"]["kind"], "permission", job)
        for n in ("a.txt", "late.txt"):
            self.assertEqual(ftpa.sha256_file(os.path.join(dst, n)),
                             ftpa.sha256_file(os.path.join(src, n.encode())))
        self.assertFalse(os.path.exists(os.path.join(dst, "denied.txt")))

    def test_unserved_method_is_local_io(self):
        srv = self.server()
        self.sample_on_server(srv, entries=[(b"a.txt", 100)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        side = LocalSide(dst, unserved={"local.commit"})
        reply, _ = self.tree(sid, "get", "/src", dst, side=side)
        job = self.assertTreeJob(reply, "failed")
        self.assertEqual(job["tree"]["failures"][0]["error"]["data"]["kind"],
                         "local_io", job)

    def test_bad_params(self):
        srv = self.server()
        sid = self.sid(srv)
        base = {"session": sid, "direction": "get", "path": "/"}
        # (parallel 0 is taken for the default by the agent, although
        # protocol.md says 1-16: not asserted either way)
        for bad in ({"direction": "sideways"}, {"direction": None},
                    {"path": None}, {"compare": "sometimes"},
                    {"parallel": 17}, {"parallel": -1},
                    {"max_depth": -1}, {"max_depth": 129},
                    {"include": "*.gz"}, {"exclude": [1]},
                    {"include": ["x"] * 65}, {"symlinks": "copy"},
                    {"direction": "put", "symlinks": "follow"},
                    {"path": "a\r\nDELE x"}):
            p = dict(base, **bad)
            p = {k: v for k, v in p.items() if v is not None}
            with self.subTest(bad=bad):
                # served, so that a call taken by mistake ends
                r = LocalSide(self.tmpdir()).tree(self.rpc, p, timeout=30)
                self.assertRpcError(r, ftpa.E_PARAMS)
        r = LocalSide(self.tmpdir()).tree(
            self.rpc, dict(base, session="nope"), timeout=30)
        self.assertRpcError(r, kind="no_session")

    def test_hostile_local_names(self):
        """Names in local.list are checked as the server's are: a
        local side listing ../victim, /etc/passwd, a/b, .., "", a NUL or a
        newline gets no request naming them, on get with delete (nothing
        removed through them) and on put (nothing stored under them)."""
        bad = ["../victim", "/etc/passwd", "a/b", "..", ".", "",
               "x\ny", "nul\u0000x", "tab\tx", "L" * 300]

        def add_bad(result):
            for n in bad:
                result["entries"].append({"name": n, "type": "file",
                                          "size": 5, "mtime": 0,
                                          "perm": 420, "target": None})
            result["entries"].append({"name": "..", "type": "dir",
                                      "size": None, "mtime": 0, "perm": 493,
                                      "target": None})
            return result

        def hook(method, params):
            if method == "local.list" and params["path"] == "":
                return ("edit", add_bad)
        srv = self.server()
        src, sample = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"d", None), (b"d/b.txt", 200)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/src", dst, delete=True,
                                side=LocalSide(dst, hook=hook))
        job_of(reply)
        self.assertCleanSide(side)
        self.assertSameTree(src, dst)
        for p in side.paths():
            self.assertIsNone(treelocal.check_path(p, True), p)
        # put: the bad names are not stored
        st = os.stat(srv.home)
        os.mkdir(self.remote(srv, "up"))
        os.chown(self.remote(srv, "up"), st.st_uid, st.st_gid)
        mark = self.mark(srv)
        reply, side = self.tree(sid, "put", "/up", dst,
                                side=LocalSide(dst, hook=hook))
        job_of(reply)
        self.assertCleanSide(side)
        self.assertSameTree(dst, self.remote(srv, "up"))
        self.assertEqual(sorted(os.listdir(srv.home)), ["src", "up"])
        stored = [c for c in self.commands_since(srv, mark)
                  if c.upper().startswith(("STOR", "APPE", "MKD", "DELE",
                                           "RMD", "RNFR", "RNTO", "SITE"))]
        for c in stored:
            arg = c.split(" ", 1)[1]
            self.assertNotIn("..", arg.split("/"), c)
            self.assertFalse(arg.startswith("/etc"), c)
            self.assertNotIn("victim", arg, c)

    def test_misbehaving_local_answers(self):
        """local.open answered without a descriptor, with one of the
        wrong access or an O_PATH one, with a result that is not one;
        stray answers (unknown id, a second answer) with descriptors:
        that file fails (or the stray is ignored), the rest arrives, the
        agent holds no descriptor more than before."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"a.txt", 100), (b"victim.txt", 200), (b"b.txt", 300)])
        sid = self.sid(srv, max_connections=1)
        warm = self.tmpdir()
        reply, _ = self.tree(sid, "get", "/src", warm)
        self.assertTreeJob(reply, "done")
        fd_dir = "/proc/%d/fd" % self.agent.pid
        time.sleep(0.3)
        base = len(os.listdir(fd_dir))
        scratch_dir = self.tmpdir()
        scratch = None

        def ro():
            return os.open(scratch, os.O_RDONLY)

        def wo():
            return os.open(scratch, os.O_WRONLY)

        def opath():
            return os.open(scratch, os.O_PATH)

        def stray(side, how):
            def send(mid):
                fd = ro()
                msg = ('{"jsonrpc":"2.0","id":"%s","result":{"fd":0,'
                       '"size":0}}\n' % mid).encode()
                try:
                    side.rpc.send_raw(msg, [fd])
                finally:
                    os.close(fd)
            if how == "unknown":
                send("a99999")
                return None
            return ("ok", send)     # then a second answer to the same id

        cases = [
            # (name, direction, hook outcome maker, failing?)
            ("no fd", "get", lambda s: ("result", {"fd": 0, "size": 0}),
             True),
            ("read-only fd", "get",
             lambda s: ("result", {"fd": 0, "size": 0}, [ro()]), True),
            ("O_PATH fd", "get",
             lambda s: ("result", {"fd": 0, "size": 0}, [opath()]), True),
            ("fd index 3", "get",
             lambda s: ("result", {"fd": 3, "size": 0}, [wo()]), True),
            ("not a result", "get", lambda s: ("result", "yes"), True),
            ("no size", "get", lambda s: ("result", {"fd": 0}, [wo()]),
             None),
            ("write-only fd to read", "put",
             lambda s: ("result", {"fd": 0, "size": 7}, [wo()]), True),
            ("O_PATH fd to read", "put",
             lambda s: ("result", {"fd": 0, "size": 7}, [opath()]), True),
            ("unknown id", "get", lambda s: stray(s, "unknown"), False),
            ("answered twice", "get", lambda s: stray(s, "twice"), False),
        ]
        st = os.stat(srv.home)
        for name, direction, outcome, failing in cases:
            with self.subTest(case=name):
                box = {}
                scratch = os.path.join(scratch_dir, "s%d" % len(os.listdir(
                    scratch_dir)))
                with open(scratch, "wb") as f:
                    f.write(b"scratch")

                def hook(method, params):
                    if (method == "local.open"
                            and params["path"] == "victim.txt"):
                        return outcome(box["side"])
                if direction == "get":
                    root, path = self.tmpdir(), "/src"
                else:
                    root = warm
                    path = "/up-%d" % cases.index((name, direction, outcome,
                                                   failing))
                    os.mkdir(self.remote(srv, path[1:]))
                    os.chown(self.remote(srv, path[1:]), st.st_uid,
                             st.st_gid)
                side = box["side"] = LocalSide(root, hook=hook)
                reply, _ = self.tree(sid, direction, path, root, side=side,
                                     timeout=60)
                job = job_of(reply)
                self.assertIsNotNone(job, reply)
                self.assertIn(job["state"], ("done", "failed"), job)
                t = job["tree"]
                if failing:
                    self.assertEqual(job["state"], "failed", job)
                    self.assertEqual(t["failed"], 1, t)
                    self.assertEqual(t["failures"][0]["path"], "victim.txt")
                elif failing is False:
                    self.assertEqual(job["state"], "done", job)
                there = (root if direction == "get"
                         else self.remote(srv, path[1:]))
                for n in (b"a.txt", b"b.txt"):
                    self.assertEqual(ftpa.sha256_file(os.path.join(
                        os.fsencode(there), n)),
                        ftpa.sha256_file(os.path.join(src, n)), n)
                if failing:
                    with open(scratch, "rb") as f:
                        self.assertEqual(f.read(), b"scratch", "written "
                                         "through a descriptor it must "
                                         "refuse")
                self.assertEqual(self.rpc.call("agent.ping"), {})
                ftpa.wait_until(lambda: len(os.listdir(fd_dir)) <= base, 5,
                                what="the agent's descriptors back to %d "
                                "(now %d)" % (base, len(os.listdir(fd_dir))))

    def test_conflicting_types(self):
        """A remote file where a local directory is, and a remote
        directory where a local file is: those fail, nothing local is
        replaced or removed, the rest arrives."""
        srv = self.server()
        src, _ = self.sample_on_server(srv, entries=[
            (b"x", 100), (b"d", None), (b"d/f.txt", 10), (b"ok.txt", 5)])
        sid = self.sid(srv)
        dst = self.tmpdir()
        os.makedirs(os.path.join(dst, "x"))
        with open(os.path.join(dst, "x", "keep.txt"), "wb") as f:
            f.write(b"keep")
        with open(os.path.join(dst, "d"), "wb") as f:
            f.write(b"a file")
        reply, side = self.tree(sid, "get", "/src", dst, timeout=60)
        job = self.assertTreeJob(reply, "failed")
        self.assertCleanSide(side)
        self.assertGreaterEqual(job["tree"]["failed"], 1, job)
        with open(os.path.join(dst, "x", "keep.txt"), "rb") as f:
            self.assertEqual(f.read(), b"keep")
        with open(os.path.join(dst, "d"), "rb") as f:
            self.assertEqual(f.read(), b"a file")
        self.assertEqual(ftpa.sha256_file(os.path.join(dst, "ok.txt")),
                         ftpa.sha256_file(os.path.join(src, b"ok.txt")))

    def test_missing_root(self):
        srv = self.server()
        sid = self.sid(srv)
        dst = self.tmpdir()
        reply, side = self.tree(sid, "get", "/nope", dst, timeout=30)
        self.assertRpcError(reply, kind="not_found")
        self.assertNotIn("local.open", side.methods())
        self.assertEqual(os.listdir(dst), [])

    # -- many files
    def test_ten_thousand_files(self):
        """10,000 small files in 20 directories, parallel 4: all of them
        arrive (not a timing test; it should take well under 60 s)."""
        srv = self.server(passive_count=200)
        root = self.remote(srv, "many")
        want = {}
        for d in range(20):
            dd = os.path.join(root, b"d%02d" % d)
            os.makedirs(dd)
            for i in range(500):
                data = b"%d/%d\n" % (d, i) * (1 + i % 7)
                with open(os.path.join(dd, b"f%03d" % i), "wb") as f:
                    f.write(data)
                want[b"d%02d/f%03d" % (d, i)] = data
        sid = self.sid(srv, max_connections=4)
        dst = self.tmpdir()
        t0 = time.monotonic()
        reply, side = self.tree(sid, "get", "/many", dst, parallel=4,
                                timeout=300, idle=60)
        took = time.monotonic() - t0
        note("10,000 files in %.1f s", took)
        job = self.assertTreeJob(reply, "done")
        self.assertEqual(job["tree"]["files"], 10000, job)
        self.assertEqual(job["tree"]["failed"], 0, job)
        self.assertCleanSide(side)
        got = {}
        for rel, v in snapshot(dst).items():
            if v[0] == "file":
                got[rel] = v[3]
        self.assertEqual(set(got), set(want))
        for rel, data in want.items():
            self.assertEqual(got[rel], ftpa.sha256_bytes(data), rel)
        self.assertLessEqual(srv.max_connections(), 4)



class MockTreeTest(tt.TreeBase):
    """ftpmock's tree_* scenarios (ftpmock_tree.py): LIST only."""

    def mock_sid(self, scenario, rpc=None, **opts):
        mock = self.start_mock(scenario)
        p = {"url": mock.url("/"), "password": MOCK_PW, "retry_delay": 0.2}
        p.update(opts)
        return mock, (rpc or self.rpc).call("session.open", p,
                                            timeout=30)["session"]

    def assertContained(self, outer, root, canary, canary_data):
        """Nothing but root and the canary beside root; the canary
        untouched; nothing beneath root is a link or names a path out."""
        self.assertEqual(sorted(os.listdir(outer)),
                         sorted([os.path.basename(root),
                                 os.path.basename(canary)]))
        with open(canary, "rb") as f:
            self.assertEqual(f.read(), canary_data)
        real = os.path.realpath(root)
        for rel, (kind, _, _, _) in snapshot(root).items():
            self.assertNotEqual(kind, "link", rel)
            p = os.path.realpath(os.path.join(os.fsencode(root), rel))
            self.assertTrue(p.startswith(os.fsencode(real) + b"/"), rel)

    def hostile_run(self, scenario, timeout=180):
        mock, sid = self.mock_sid(scenario, max_connections=2)
        outer = self.tmpdir()
        root = os.path.join(outer, "root")
        os.mkdir(root)
        canary = os.path.join(outer, "canary.txt")
        with open(canary, "wb") as f:
            f.write(b"canary")
        passwd = ftpa.sha256_file("/etc/passwd")
        t0 = time.monotonic()
        reply, side = self.tree(sid, "get", "/", root, items=True,
                                timeout=timeout, idle=60)
        note("%s: %.1f s, %d requests, job %s", scenario,
             time.monotonic() - t0, len(side.requests),
             (job_of(reply) or {}).get("tree"))
        job = job_of(reply)
        self.assertIsInstance(job, dict, reply)
        self.assertIn(job["state"], ("done", "failed"), job)
        self.assertIsInstance(job.get("tree"), dict, job)
        self.assertCleanSide(side)
        for p in side.paths():
            self.assertIsNone(treelocal.check_path(p, True), p)
        self.assertContained(outer, root, canary, b"canary")
        self.assertEqual(ftpa.sha256_file("/etc/passwd"), passwd)
        # the agent serves another client afterwards
        other = self.client()
        self.assertEqual(other.call("agent.ping"), {})
        return mock, sid, root, side, job

    def test_19_hostile_names(self):
        """[19] ../x, /etc/passwd, a/b, -rf, ., .., "", CR/LF, control
        characters, NUL, Latin-1, 300 bytes: never a path out of the
        root, no hang, a summary; the plain names arrive."""
        mock, sid, root, side, job = self.hostile_run("tree_hostile")
        for rel, size in ftpmock_tree.HOSTILE_PLAIN.items():
            p = os.path.join(os.fsencode(root), rel)
            self.assertTrue(os.path.isfile(p), rel)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), ftpmock_tree.file_bytes(
                    os.path.basename(rel), size), rel)
        # no component made of a hostile name's pieces
        for rel in snapshot(root):
            for c in rel.split(b"/"):
                self.assertNotIn(c, (b"", b".", b".."), rel)
                self.assertNotIn(b"\x00", c)
        t = job["tree"]
        # unsafe names are skipped and counted, each with a "skip" item
        self.assertGreaterEqual(t["skipped"], 10, t)
        skips = [it for it in side.items if it.get("action") == "skip"]
        self.assertEqual(len(skips), t["skipped"], skips)
        # good.txt is listed twice: fetched once
        retr = [e["text"] for e in mock.events("mark")
                if e["text"].startswith("retr /good.txt")]
        self.assertEqual(len(retr), 1, retr)
        # the DELE smuggled in a name never reached the server
        self.assertNotIn("DELE good.txt", mock.received())
        self.assertFalse([l for l in mock.received()
                          if l.upper().startswith(("DELE", "RMD", "STOR"))])
        # and another tree from a new connection works
        other = self.client()
        root2 = self.tmpdir()
        reply, side2 = self.tree(sid, "get", "/sub", root2, rpc=other)
        self.assertIsNotNone(job_of(reply), reply)
        with open(os.path.join(root2, "inner.txt"), "rb") as f:
            self.assertEqual(f.read(), ftpmock_tree.file_bytes(
                b"inner.txt", 31))

    def test_19_loops(self):
        """A directory listing itself as its own subdirectory, and one
        whose subdirectory lists the parent: the walk ends (max_depth,
        128 by default), nothing leaves the root."""
        mock, sid, root, side, job = self.hostile_run("tree_loops")
        depth = max(rel.count(b"/") for rel in snapshot(root))
        self.assertLessEqual(depth, 130, "deeper than max_depth")
        with open(os.path.join(root, "ok.txt"), "rb") as f:
            self.assertEqual(f.read(), ftpmock_tree.file_bytes(b"ok.txt", 7))
        self.assertTrue(os.path.isfile(os.path.join(root, "loop", "f.txt")))

    def test_19_loops_max_depth(self):
        mock, sid = self.mock_sid("tree_loops")
        root = self.tmpdir()
        reply, side = self.tree(sid, "get", "/", root, max_depth=3)
        self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertTrue(os.path.isfile(os.path.join(
            root, "loop", "loop", "loop", "f.txt")))
        self.assertFalse(os.path.exists(os.path.join(
            root, "loop", "loop", "loop", "loop")))
        lists = [e for e in mock.events("mark")
                 if e["text"].startswith("list ")]
        self.assertLessEqual(len(lists), 1 + 2 * 4, lists)

    def test_19_deep(self):
        """200 levels: the walk stops at max_depth, no hang, the levels it
        took are complete."""
        mock, sid, root, side, job = self.hostile_run("tree_deep")
        for depth in (0, 1, 50, 100):
            p = os.path.join(root, *(["d"] * depth), "f%d.txt" % depth)
            with open(p, "rb") as f:
                self.assertEqual(f.read(), ftpmock_tree.file_bytes(
                    b"f%d.txt" % depth, depth + 1), depth)
        depth = max(rel.count(b"/") for rel in snapshot(root))
        self.assertLessEqual(depth, 130)

    def test_listing_retried(self):
        """A listing lost to a transient failure (425, twice) is tried
        again: the tree completes."""
        mock, sid = self.mock_sid("tree_flaky_list")
        root = self.tmpdir()
        reply, side = self.tree(sid, "get", "/", root, timeout=60)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertEqual(job["tree"]["files"], 3, job)
        for rel, size in ((b"a.bin", 1000), (b"flaky/b.bin", 2000),
                          (b"flaky/deeper/c.bin", 3000)):
            with open(os.path.join(os.fsencode(root), rel), "rb") as fh:
                self.assertEqual(fh.read(), ftpmock_tree.file_bytes(
                    os.path.basename(rel), size), rel)
        refused = [e for e in mock.events("mark")
                   if e["text"].startswith("list refused")]
        self.assertEqual(len(refused), 2, refused)

    def test_failing_file_does_not_stop_the_tree(self):
        """One RETR refused (550), one cut short once (retried, resumed
        with REST): the job fails with tree.failed 1 naming the refused
        file; every other file arrives whole; delete: true deletes
        nothing since a transfer failed."""
        mock, sid = self.mock_sid("tree_retr_fail")
        root = self.tmpdir()
        with open(os.path.join(root, "stale.txt"), "wb") as f:
            f.write(b"not on the server")
        reply, side = self.tree(sid, "get", "/", root, delete=True,
                                items=True)
        job = self.assertTreeJob(reply, "failed")
        self.assertCleanSide(side)
        t = job["tree"]
        self.assertEqual(t["failed"], 1, t)
        self.assertEqual(len(t["failures"]), 1, t)
        f = t["failures"][0]
        self.assertEqual(f["path"], "denied.bin", f)
        self.assertIn(f["error"]["data"]["kind"], ("not_found", "ftp",
                                                   "permission"), f)
        self.assertEqual(f["error"]["data"].get("ftp_code"), 550, f)
        self.assertEqual(job["error"]["data"]["kind"],
                         f["error"]["data"]["kind"], job)
        self.assertEqual(t["files"], 4, t)
        for rel, size in ((b"ok1.bin", 10000), (b"ok2.bin", 20000),
                          (b"flaky.bin", 300000), (b"sub/ok3.bin", 30000)):
            with open(os.path.join(os.fsencode(root), rel), "rb") as fh:
                self.assertEqual(fh.read(), ftpmock_tree.file_bytes(
                    os.path.basename(rel), size), rel)
        self.assertTrue(os.path.isdir(os.path.join(root, "sub", "empty")))
        self.assertFalse(os.path.exists(os.path.join(root, "denied.bin")))
        # flaky.bin: dropped once, then resumed where it stopped
        retr = [e["text"] for e in mock.events("mark")
                if e["text"].startswith("retr /flaky.bin")]
        self.assertEqual(len(retr), 2, retr)
        rest = [l for l in mock.received() if l.upper().startswith("REST ")
                and l != "REST 0"]
        self.assertTrue(rest, "the retry did not resume")
        # no deletion after a failure
        self.assertTrue(os.path.exists(os.path.join(root, "stale.txt")))
        self.assertNotIn("local.remove", side.methods())
        self.assertEqual(t["deleted"], 0, t)
        failed = [it for it in side.items if it.get("action") == "failed"]
        self.assertEqual([it["path"] for it in failed], ["denied.bin"])
        self.assertIn("error", failed[0])

    def test_failure_reply_before_the_data(self):
        """A 426 that overtakes its data (two connections, no order
        between them): the bytes that come after it are still written,
        and the retry resumes after them (REST 80000), not from zero."""
        mock, sid = self.mock_sid("tree_reply_first")
        root = self.tmpdir()
        reply, side = self.tree(sid, "get", "/", root)
        job = self.assertTreeJob(reply, "done")
        self.assertCleanSide(side)
        self.assertEqual(job["tree"]["files"], 2, job)
        for rel, size in ((b"early.bin", 200000), (b"ok.bin", 5000)):
            with open(os.path.join(os.fsencode(root), rel), "rb") as fh:
                self.assertEqual(fh.read(), ftpmock_tree.file_bytes(
                    rel, size), rel)
        retr = [e["text"] for e in mock.events("mark")
                if e["text"].startswith("retr /early.bin")]
        self.assertEqual(len(retr), 2, retr)
        rest = [l for l in mock.received() if l.upper().startswith("REST ")]
        self.assertEqual(rest, ["REST 80000"])


if __name__ == "__main__":
    ftpa.main()
